/* Minimal blocking WebSocket client (see rawws.h). Test main thread only. */
#include "rawws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct tolk_rawws {
    int fd;
    unsigned char *buf; /* received, not yet consumed bytes start at buf + start */
    size_t start, len, cap;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads more bytes into the buffer: 1, 0 on timeout, -EPIPE on EOF, -errno. */
static int fill(struct tolk_rawws *ws, int64_t deadline_ms)
{
    if (ws->start > 0) {
        memmove(ws->buf, ws->buf + ws->start, ws->len - ws->start);
        ws->len -= ws->start;
        ws->start = 0;
    }
    if (ws->len == ws->cap) {
        unsigned char *more = realloc(ws->buf, ws->cap * 2);
        if (!more)
            return -ENOMEM;
        ws->buf = more;
        ws->cap *= 2;
    }
    int64_t left = deadline_ms - mono_ms();
    if (left < 0)
        left = 0;
    struct pollfd p = {.fd = ws->fd, .events = POLLIN};
    int r = poll(&p, 1, (int)left);
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    if (r == 0)
        return 0;
    ssize_t n = recv(ws->fd, ws->buf + ws->len, ws->cap - ws->len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET))
        return -EPIPE;
    if (n < 0)
        return errno == EAGAIN ? 0 : -errno;
    ws->len += (size_t)n;
    return 1;
}

static int handshake(struct tolk_rawws *ws, int port, const char *path, int timeout_ms)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, port);
    if (send(ws->fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return -EIO;
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        unsigned char *end = memmem(ws->buf, ws->len, "\r\n\r\n", 4);
        if (end) {
            ws->start = (size_t)(end - ws->buf) + 4;
            return ws->len >= 12 && memcmp(ws->buf + 9, "101", 3) == 0 ? 0 : -EPROTO;
        }
        int r = fill(ws, deadline);
        if (r < 0)
            return r;
        if (r == 0 && mono_ms() >= deadline)
            return -ETIMEDOUT;
    }
}

int tolk_rawws_open(struct tolk_rawws **out, int port, const char *path, int rcvbuf,
                    int timeout_ms)
{
    struct tolk_rawws *ws = calloc(1, sizeof *ws);
    int rc = ws ? 0 : -ENOMEM;
    if (rc == 0) {
        ws->cap = 65536;
        ws->buf = malloc(ws->cap);
        ws->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        rc = ws->buf && ws->fd >= 0 ? 0 : -ENOMEM;
    }
    if (rc == 0 && rcvbuf > 0)
        setsockopt(ws->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (rc == 0 && connect(ws->fd, (struct sockaddr *)&a, sizeof a) != 0)
        rc = -errno;
    if (rc == 0)
        rc = handshake(ws, port, path, timeout_ms);
    if (rc < 0) {
        tolk_rawws_close(ws);
        return rc;
    }
    *out = ws;
    return 0;
}

void tolk_rawws_close(struct tolk_rawws *ws)
{
    if (!ws)
        return;
    if (ws->fd >= 0)
        close(ws->fd);
    free(ws->buf);
    free(ws);
}

/* Parses one frame at buf + start if complete: 1, or 0 if more bytes are needed. */
static int parse(struct tolk_rawws *ws, int *opcode, const unsigned char **payload, size_t *len)
{
    const unsigned char *p = ws->buf + ws->start;
    size_t avail = ws->len - ws->start, hdr = 2;
    if (avail < 2)
        return 0;
    uint64_t plen = p[1] & 0x7f;
    if (plen == 126)
        hdr = 4;
    else if (plen == 127)
        hdr = 10;
    int masked = (p[1] & 0x80) != 0;
    if (avail < hdr + (masked ? 4 : 0))
        return 0;
    if (plen == 126)
        plen = ((uint64_t)p[2] << 8) | p[3];
    else if (plen == 127) {
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = (plen << 8) | p[2 + i];
    }
    size_t off = hdr + (masked ? 4 : 0);
    if (avail - off < plen)
        return 0;
    unsigned char *data = ws->buf + ws->start + off;
    if (masked)
        for (uint64_t i = 0; i < plen; i++)
            data[i] ^= p[hdr + (i & 3)];
    *opcode = p[0] & 0x0f;
    *payload = data;
    *len = (size_t)plen;
    ws->start += off + (size_t)plen;
    return 1;
}

int tolk_rawws_read(struct tolk_rawws *ws, int timeout_ms, int *opcode,
                    const unsigned char **payload, size_t *len)
{
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        if (parse(ws, opcode, payload, len))
            return 1;
        int r = fill(ws, deadline);
        if (r < 0)
            return r;
        if (r == 0 && mono_ms() >= deadline)
            return 0;
    }
}

int tolk_rawws_send_text(struct tolk_rawws *ws, const char *text)
{
    size_t n = strlen(text);
    if (n > 125)
        return -EMSGSIZE;
    unsigned char frame[2 + 4 + 125];
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    frame[0] = 0x81;
    frame[1] = (unsigned char)(0x80 | n);
    memcpy(frame + 2, mask, 4);
    for (size_t i = 0; i < n; i++)
        frame[6 + i] = (unsigned char)text[i] ^ mask[i & 3];
    return send(ws->fd, frame, 6 + n, MSG_NOSIGNAL) == (ssize_t)(6 + n) ? 0 : -EIO;
}
