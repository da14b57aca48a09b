/* tolk-loadgen's epoll transport (the default): a minimal WebSocket client (RFC 6455) for
 * receive-mostly listeners. One epoll set per worker, one read per readiness, frames parsed in
 * place from a shared read buffer; only a frame split across reads is copied. At 1000 listeners
 * it used about a fifth less CPU than libwebsockets client contexts on libev (41-43 % against
 * 50-52 % of a core), CPU that on a 2-core machine the server under test would otherwise lose
 * (docs/performance.md).
 *
 * Each read also fetches the kernel's receive timestamp (SO_TIMESTAMPNS), so lateness can be given
 * both at the kernel's arrival and at the generator's read; their difference is the generator's
 * own delay. When one read holds several messages they all get the last segment's timestamp.
 *
 * It speaks only what a listener needs: the upgrade handshake (checks 101 and the accept key),
 * unmasked server frames, ping (answered), close (answered, then counted as a server close).
 * A fragmented binary message is counted as a protocol error: tolk sends each audio message as
 * one frame.
 *
 * Threads: tolk_lg_epoll_prepare, _init and _fini run on the main thread; tolk_lg_epoll_main and
 * everything static below on the worker's thread. The main thread wakes a worker only through its
 * eventfd (tolk_lg_epoll_wake).
 */
#include "loadgen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tolk/clock.h"
#include "tolk/error.h"

#define LG_RXBUF (64 * 1024)
#define LG_MAX_HEADERS 4096
#define LG_MAX_FRAME (1024 * 1024)
#define LG_EVENTS 256
#define LG_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum { WS_CONT = 0x0, WS_TEXT = 0x1, WS_BINARY = 0x2, WS_CLOSE = 0x8, WS_PING = 0x9,
       WS_PONG = 0xA };

/* ---- Connections (worker thread) ---- */

static void conn_shut(struct tolk_lg_conn *c)
{
    if (c->fd >= 0)
        close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->partial_len = 0;
}

static void conn_fail(struct tolk_lg_conn *c)
{
    conn_shut(c);
    tolk_lg_conn_on_failed(c);
}

static void conn_drop(struct tolk_lg_conn *c)
{
    conn_shut(c);
    tolk_lg_conn_on_closed(c);
}

/* Sends one small masked control frame (mask key 0: the payload goes as is). */
static void ws_send_control(struct tolk_lg_conn *c, int op, const uint8_t *payload, size_t len)
{
    uint8_t frame[6 + 125];
    if (len > 125)
        len = 125;
    frame[0] = (uint8_t)(0x80 | op);
    frame[1] = (uint8_t)(0x80 | len);
    memset(frame + 2, 0, 4);
    if (len)
        memcpy(frame + 6, payload, len);
    /* A control frame that does not go out shows up as a close by the server. */
    (void)send(c->fd, frame, 6 + len, MSG_NOSIGNAL);
}

static void ws_on_frame(struct tolk_lg_conn *c, bool fin, int op, const uint8_t *p, size_t len)
{
    struct tolk_lg_stats *s = &c->worker->stats;
    switch (op) {
    case WS_BINARY:
        if (fin)
            tolk_lg_account_message(c, p, len, c->worker->rx_read_us, c->worker->rx_kernel_us);
        else
            s->proto_errors++;
        c->frag_op = fin ? 0 : WS_BINARY;
        break;
    case WS_TEXT:
        s->text_messages += fin;
        c->frag_op = fin ? 0 : WS_TEXT;
        break;
    case WS_CONT:
        if (fin && c->frag_op == WS_TEXT)
            s->text_messages++;
        if (fin)
            c->frag_op = 0;
        break;
    case WS_PING:
        ws_send_control(c, WS_PONG, p, len);
        break;
    case WS_CLOSE:
        ws_send_control(c, WS_CLOSE, p, len < 2 ? len : 2);
        conn_drop(c);
        break;
    default:
        break;
    }
}

static uint64_t be_read(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Handles every whole frame in data; returns the bytes used. The connection may be closed. */
static size_t ws_parse(struct tolk_lg_conn *c, const uint8_t *data, size_t len)
{
    size_t pos = 0;
    while (c->fd >= 0 && len - pos >= 2) {
        const uint8_t *f = data + pos;
        uint64_t plen = f[1] & 0x7f;
        size_t hdr = 2;
        if (plen >= 126) {
            int ext = plen == 126 ? 2 : 8;
            if (len - pos < 2 + (size_t)ext)
                break;
            plen = be_read(f + 2, ext);
            hdr += (size_t)ext;
        }
        if ((f[1] & 0x80) || plen > LG_MAX_FRAME) { /* a server must not mask */
            c->worker->stats.proto_errors++;
            conn_drop(c);
            break;
        }
        if (len - pos - hdr < plen)
            break;
        ws_on_frame(c, f[0] & 0x80, f[0] & 0x0f, f + hdr, (size_t)plen);
        pos += hdr + (size_t)plen;
    }
    return pos;
}

/* Feeds received bytes; an incomplete frame at the end is kept for the next read. */
static void ws_feed(struct tolk_lg_conn *c, const uint8_t *data, size_t len)
{
    if (c->partial_len > 0) {
        if (len && tolk_lg_conn_keep(c, data, len) != 0) {
            conn_drop(c);
            return;
        }
        data = c->partial;
        len = c->partial_len;
    }
    size_t used = ws_parse(c, data, len);
    if (c->fd < 0)
        return;
    size_t rest = len - used;
    if (data == c->partial) {
        memmove(c->partial, c->partial + used, rest);
        c->partial_len = (uint32_t)rest;
    } else if (rest && tolk_lg_conn_keep(c, data + used, rest) != 0) {
        conn_drop(c);
    }
}

/* Collects the 101 response; then the connection is open and the rest is WebSocket data. */
static void hs_feed(struct tolk_lg_conn *c, const uint8_t *data, size_t len)
{
    const struct tolk_lg_run *run = c->worker->run;
    if (tolk_lg_conn_keep(c, data, len) != 0 || c->partial_len > LG_MAX_HEADERS) {
        conn_fail(c);
        return;
    }
    uint8_t *end = memmem(c->partial, c->partial_len, "\r\n\r\n", 4);
    if (!end)
        return;
    *end = '\0';
    if (strncmp((char *)c->partial, "HTTP/1.1 101", 12) != 0 ||
        !strstr((char *)c->partial, run->ws_accept)) {
        conn_fail(c);
        return;
    }
    size_t used = (size_t)(end + 4 - c->partial);
    memmove(c->partial, c->partial + used, c->partial_len - used);
    c->partial_len -= (uint32_t)used;
    tolk_lg_conn_on_open(c);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(c->worker->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    if (c->partial_len)
        ws_feed(c, NULL, 0);
}

static void conn_send_upgrade(struct tolk_lg_conn *c)
{
    const struct tolk_lg_run *run = c->worker->run;
    char path[sizeof run->path + 48], req[1024];
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
        conn_fail(c);
        return;
    }
    tolk_lg_conn_path(c, path, sizeof path);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path, run->host, run->port, run->ws_key);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (n >= (int)sizeof req || send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n ||
        epoll_ctl(c->worker->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        conn_fail(c);
        return;
    }
    c->requested = true;
}

/* One read into the worker's buffer; sets the worker's rx_read_us and rx_kernel_us (the receive
 * timestamp of the last segment read, which SO_TIMESTAMPNS asks the kernel for). */
static ssize_t read_timestamped(int fd, struct tolk_lg_worker *w)
{
    char control[CMSG_SPACE(sizeof(struct timespec))];
    struct iovec iov = {.iov_base = w->rxbuf, .iov_len = LG_RXBUF};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control};
    ssize_t n = recvmsg(fd, &m, 0);
    w->rx_read_us = tolk_clock_wall_us();
    w->rx_kernel_us = 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); n > 0 && h; h = CMSG_NXTHDR(&m, h)) {
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(h), sizeof ts);
            w->rx_kernel_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        }
    }
    return n;
}

static void conn_on_event(struct tolk_lg_conn *c)
{
    if (c->state == TOLK_LG_CONNECTING && !c->requested) {
        conn_send_upgrade(c);
        return;
    }
    struct tolk_lg_worker *w = c->worker;
    ssize_t n = read_timestamped(c->fd, w);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (c->state == TOLK_LG_CONNECTING)
            conn_fail(c);
        else
            conn_drop(c);
        return;
    }
    if (c->state == TOLK_LG_CONNECTING)
        hs_feed(c, w->rxbuf, (size_t)n);
    else
        ws_feed(c, w->rxbuf, (size_t)n);
}

static void conn_open(struct tolk_lg_worker *w, struct tolk_lg_conn *c)
{
    const struct tolk_lg_run *run = w->run;
    c->state = TOLK_LG_CONNECTING;
    c->requested = false;
    w->connecting++;
    c->fd = socket(run->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_fail(c);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if ((connect(c->fd, (const struct sockaddr *)&run->addr, run->addr_len) != 0 &&
         errno != EINPROGRESS) ||
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        conn_fail(c);
}

/* ---- The worker's loop (worker thread) ---- */

static int ramp_timeout_ms(struct tolk_lg_worker *w)
{
    if (w->next_to_open >= w->conn_count)
        return -1;
    int64_t now = tolk_clock_mono_ns();
    if (now >= w->next_ramp_ns) {
        for (int quota = tolk_lg_ramp_quota(w); quota > 0; quota--)
            conn_open(w, &w->conns[w->next_to_open++]);
        w->next_ramp_ns = now + (int64_t)TOLK_LG_RAMP_PERIOD_US * 1000;
    }
    return (int)((w->next_ramp_ns - now) / 1000000) + 1;
}

void *tolk_lg_epoll_main(void *worker)
{
    struct tolk_lg_worker *w = worker;
    struct epoll_event ev[LG_EVENTS];
    w->next_ramp_ns = tolk_clock_mono_ns();
    while (!atomic_load(&w->run->stop)) {
        int n = epoll_wait(w->epfd, ev, LG_EVENTS, ramp_timeout_ms(w));
        for (int i = 0; i < n; i++) {
            struct tolk_lg_conn *c = ev[i].data.ptr;
            if (c && c->fd >= 0)
                conn_on_event(c);
        }
    }
    return NULL;
}

/* ---- Setup (main thread) ---- */

/* The one Sec-WebSocket-Key of this run and the accept value it must get back. */
static int make_key(struct tolk_lg_run *run)
{
    unsigned char raw[16], md[EVP_MAX_MD_SIZE];
    char concat[64];
    unsigned int mdlen = 0;
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -EIO;
    lws_b64_encode_string((const char *)raw, sizeof raw, run->ws_key, sizeof run->ws_key);
    int n = snprintf(concat, sizeof concat, "%s%s", run->ws_key, LG_WS_GUID);
    if (!EVP_Digest(concat, (size_t)n, md, &mdlen, EVP_sha1(), NULL))
        return -EIO;
    lws_b64_encode_string((const char *)md, (int)mdlen, run->ws_accept, sizeof run->ws_accept);
    return 0;
}

int tolk_lg_epoll_prepare(struct tolk_lg_run *run)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", run->port);
    if (getaddrinfo(run->host, port, &hints, &res) != 0 || !res)
        return -EHOSTUNREACH;
    memcpy(&run->addr, res->ai_addr, res->ai_addrlen);
    run->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return make_key(run);
}

int tolk_lg_epoll_init(struct tolk_lg_worker *w)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL: the wake-up */
    w->rxbuf = malloc(LG_RXBUF);
    if (!w->rxbuf)
        return -ENOMEM;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->epfd < 0 || w->wakefd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev) != 0)
        return -errno;
    return 0;
}

void tolk_lg_epoll_wake(struct tolk_lg_worker *w)
{
    uint64_t one = 1;
    if (write(w->wakefd, &one, sizeof one) < 0)
        perror("tolk-loadgen: eventfd");
}

void tolk_lg_epoll_fini(struct tolk_lg_worker *w)
{
    for (int k = 0; w->conns && k < w->conn_count; k++)
        conn_shut(&w->conns[k]);
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->wakefd >= 0)
        close(w->wakefd);
    w->epfd = w->wakefd = -1;
    free(w->rxbuf);
    w->rxbuf = NULL;
}
