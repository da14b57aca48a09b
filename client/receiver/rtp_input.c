/* RTP/SRTP input: receives the Opus stream an SDP describes on its RTP port (and RTCP on the
 * next one, or muxed), drops and counts malformed datagrams (short, wrong version, wrong
 * payload type, oversized, bad header or Opus TOC), unprotects SRTP/SRTCP with libsrtp2,
 * extends the 16-bit sequence numbers, maps RTP timestamps to the sender's wall clock with its
 * RTCP sender reports, and hands packet records to the play-out.
 *
 * SRTP and the rollover counter: a receiver that joins after the sender's sequence number has
 * wrapped fails authentication on every packet until it knows the rollover count. SRTCP does
 * not have that problem (its index is in the packet), so the sender report's packet count
 * gives it: the extended sequence number is initial + count with the initial number below
 * 2^16, which leaves one candidate congruent with the packet's 16-bit number.
 *
 * Threads: the main thread starts and destroys; the input thread (run) owns the sockets, the
 * SRTP session and everything under "input thread".
 */
#include "rtp_input.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <opus.h>
#include <poll.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tolk/clock.h"
#include "tolk/error.h"
#include "tolk/log.h"
#include "tolk/realtime.h"

#define RATE 48000
#define BUF_WORDS 512 /* 2 KiB, 32-bit aligned for libsrtp: more is an oversized datagram */
#define POLL_MS 200
#define SILENT_US 2000000
#define NTP_UNIX_OFFSET 2208988800LL
#define AUTH_FAILS_BEFORE_ROC 3

struct tolk_rtp_input {
    /* Main thread before the input thread starts; read-only afterwards. */
    struct tolk_rtp_input_config cfg;
    struct tolk_sdp sdp;
    int rtp_fd, rtcp_fd;
    srtp_t srtp; /* then the input thread's */
    bool srtp_inited;
    pthread_t thread;
    bool started;
    atomic_bool stop; /* main thread → input thread */

    /* Input thread. */
    bool have_stream;
    uint32_t ssrc, ext_seq;
    int frame_ms;
    int64_t last_packet_us;
    bool have_sr;
    uint32_t sr_ssrc, sr_rtp_ts, sr_packets;
    int64_t sr_wall_us;
    int auth_fails;
    bool roc_set_for_sr;
    uint32_t buf[BUF_WORDS];
    struct tolk_rx_record rec;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void count(atomic_uint_fast64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- Input thread: RTCP ---- */

static void on_sender_report(struct tolk_rtp_input *in, const uint8_t *p)
{
    uint32_t msw = be32(p + 8), lsw = be32(p + 12);
    in->sr_ssrc = be32(p + 4);
    in->sr_wall_us = ((int64_t)msw - NTP_UNIX_OFFSET) * 1000000 +
                     (int64_t)(((uint64_t)lsw * 1000000) >> 32);
    in->sr_rtp_ts = be32(p + 16);
    in->sr_packets = be32(p + 20);
    in->have_sr = true;
    in->roc_set_for_sr = false;
    count(&in->cfg.state->net.sender_reports);
}

static void on_rtcp(struct tolk_rtp_input *in, uint8_t *p, int n)
{
    if (in->srtp && srtp_unprotect_rtcp(in->srtp, p, &n) != srtp_err_status_ok) {
        count(&in->cfg.state->net.srtp_failures);
        return;
    }
    for (int off = 0; off + 4 <= n;) {
        int len = ((p[off + 2] << 8 | p[off + 3]) + 1) * 4;
        if (p[off] >> 6 != 2 || off + len > n) {
            count(&in->cfg.state->net.malformed);
            return;
        }
        if (p[off + 1] == 200 && len >= 28)
            on_sender_report(in, p + off);
        off += len;
    }
}

/* ---- Input thread: RTP ---- */

/* After repeated authentication failures on a stream the sender reported on: tell libsrtp the
 * rollover count that the report's packet count implies (see the top of this file). */
static void try_rollover(struct tolk_rtp_input *in, const uint8_t *p)
{
    uint32_t ssrc = be32(p + 8);
    if (++in->auth_fails < AUTH_FAILS_BEFORE_ROC || !in->have_sr || in->sr_ssrc != ssrc ||
        in->roc_set_for_sr)
        return;
    int frame = in->frame_ms ? in->frame_ms : in->sdp.ptime_ms ? in->sdp.ptime_ms : 20;
    int64_t sent = (int64_t)in->sr_packets +
                   (int32_t)(be32(p + 4) - in->sr_rtp_ts) / (frame * RATE / 1000);
    uint32_t seq16 = (uint32_t)(p[2] << 8 | p[3]);
    uint64_t ext = (uint64_t)sent + ((seq16 - (uint32_t)sent) & 0xFFFF);
    in->roc_set_for_sr = true;
    if (srtp_set_stream_roc(in->srtp, ssrc, (uint32_t)(ext >> 16)) == srtp_err_status_ok)
        tolk_log_info("SRTP: rollover count %u from the sender report", (unsigned)(ext >> 16));
}

/* Header checks and the payload's place; false for a malformed packet. */
static bool parse_rtp(const uint8_t *p, int n, int *hdr, int *len)
{
    int h = 12 + 4 * (p[0] & 0x0F);
    if (p[0] & 0x10) { /* header extension */
        if (n < h + 4)
            return false;
        h += 4 + 4 * (p[h + 2] << 8 | p[h + 3]);
    }
    int pad = (p[0] & 0x20) ? p[n - 1] : 0;
    *hdr = h;
    *len = n - h - pad;
    return *len > 0 && *len <= TOLK_JITTER_MAX_PACKET;
}

static void new_stream(struct tolk_rtp_input *in, uint32_t ssrc, uint16_t seq, int frame_ms)
{
    if (in->have_stream && ssrc != in->ssrc)
        tolk_log_info("RTP: new stream (SSRC %08x)", (unsigned)ssrc);
    in->have_stream = true;
    in->ssrc = ssrc;
    in->ext_seq = seq;
    in->frame_ms = frame_ms;
    atomic_store(&in->cfg.state->net.frame_ms, frame_ms);
    tolk_rx_push_reset(in->cfg.ring, in->cfg.state, frame_ms);
}

static void deliver(struct tolk_rtp_input *in, const uint8_t *p, int hdr, int len, int frame_ms,
                    int64_t arrival)
{
    uint32_t ssrc = be32(p + 8), ts = be32(p + 4);
    uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
    if (!in->have_stream || ssrc != in->ssrc || frame_ms != in->frame_ms)
        new_stream(in, ssrc, seq, frame_ms);
    uint32_t ext = in->ext_seq + (uint32_t)(int32_t)(int16_t)(seq - (uint16_t)in->ext_seq);
    if ((int32_t)(ext - in->ext_seq) > 0)
        in->ext_seq = ext;
    struct tolk_rx_record *r = &in->rec;
    r->kind = TOLK_RX_PACKET;
    r->flags = 0;
    r->seq = ext;
    r->capture_us = in->have_sr && in->sr_ssrc == ssrc
                        ? in->sr_wall_us + (int64_t)(int32_t)(ts - in->sr_rtp_ts) * 1000000 / RATE
                        : 0;
    r->arrival_us = arrival;
    r->len = (uint16_t)len;
    memcpy(r->data, p + hdr, (size_t)len);
    tolk_rx_push(in->cfg.ring, in->cfg.state, r);
    count(&in->cfg.state->net.packets);
    in->last_packet_us = arrival;
    atomic_store(&in->cfg.state->net.link, TOLK_RX_UP);
}

static void on_rtp(struct tolk_rtp_input *in, uint8_t *p, int n, int64_t arrival)
{
    if (n < 12 || p[0] >> 6 != 2) {
        count(&in->cfg.state->net.malformed);
        return;
    }
    if (p[1] >= 200 && p[1] <= 204) { /* RTCP multiplexed on the RTP port (RFC 5761) */
        on_rtcp(in, p, n);
        return;
    }
    if ((p[1] & 0x7F) != in->sdp.payload_type) {
        count(&in->cfg.state->net.malformed);
        return;
    }
    if (in->srtp && srtp_unprotect(in->srtp, p, &n) != srtp_err_status_ok) {
        count(&in->cfg.state->net.srtp_failures);
        try_rollover(in, p);
        return;
    }
    in->auth_fails = 0;
    int hdr, len;
    int samples = 0;
    if (parse_rtp(p, n, &hdr, &len))
        samples = opus_packet_get_nb_samples(p + hdr, len, RATE);
    if (samples <= 0 || samples % (RATE / 200) != 0) { /* not whole 5 ms: not ours to play */
        count(&in->cfg.state->net.malformed);
        return;
    }
    deliver(in, p, hdr, len, samples * 1000 / RATE, arrival);
}

static void receive(struct tolk_rtp_input *in, int fd, bool rtcp)
{
    uint8_t *p = (uint8_t *)in->buf;
    ssize_t n = recv(fd, p, sizeof in->buf, MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0)
        return;
    if ((size_t)n > sizeof in->buf) { /* truncated: larger than any packet we take */
        count(&in->cfg.state->net.malformed);
        return;
    }
    if (rtcp)
        on_rtcp(in, p, (int)n);
    else
        on_rtp(in, p, (int)n, tolk_clock_mono_ns() / 1000);
}

static void *run(void *arg)
{
    struct tolk_rtp_input *in = arg;
    tolk_realtime_raise(TOLK_RT_RECEIVER_NET); /* best effort: EPERM is fine */
    struct pollfd fds[2] = {{.fd = in->rtp_fd, .events = POLLIN},
                            {.fd = in->rtcp_fd, .events = POLLIN}};
    while (!atomic_load(&in->stop)) {
        if (poll(fds, 2, POLL_MS) > 0) {
            if (fds[0].revents & POLLIN)
                receive(in, in->rtp_fd, false);
            if (fds[1].revents & POLLIN)
                receive(in, in->rtcp_fd, true);
        }
        if (in->last_packet_us && tolk_clock_mono_ns() / 1000 - in->last_packet_us > SILENT_US)
            atomic_store(&in->cfg.state->net.link, TOLK_RX_DOWN);
    }
    return NULL;
}

/* ---- Main thread ---- */

static bool is_multicast(const struct sockaddr *a)
{
    if (a->sa_family == AF_INET)
        return IN_MULTICAST(ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr));
    return IN6_IS_ADDR_MULTICAST(&((const struct sockaddr_in6 *)a)->sin6_addr);
}

static int join(int fd, const struct sockaddr *a)
{
    if (a->sa_family == AF_INET) {
        struct ip_mreq m = {.imr_multiaddr = ((const struct sockaddr_in *)a)->sin_addr,
                            .imr_interface.s_addr = htonl(INADDR_ANY)};
        return setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
    }
    struct ipv6_mreq m = {.ipv6mr_multiaddr = ((const struct sockaddr_in6 *)a)->sin6_addr};
    return setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m);
}

/* A multicast group: bound to the group's own address, so that another group sent to the same
 * port is not taken for ours, with IP_MULTICAST_ALL off for the same reason (Linux otherwise
 * hands a socket every group that any socket of the host joined on its port), and joined on
 * the interface the routing table picks for the group. */
static int bind_group(int fd, const struct addrinfo *group)
{
    int zero = 0;
    if (group->ai_family == AF_INET)
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
#ifdef IPV6_MULTICAST_ALL
    else
        setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof zero);
#endif
    if (bind(fd, group->ai_addr, group->ai_addrlen) != 0 || join(fd, group->ai_addr) != 0)
        return -errno;
    return 0;
}

/* Unicast: the SDP's address if it is one of ours, else any address. */
static int bind_unicast(int fd, const struct addrinfo *own, const struct addrinfo *any)
{
    if (bind(fd, own->ai_addr, own->ai_addrlen) == 0 ||
        bind(fd, any->ai_addr, any->ai_addrlen) == 0)
        return 0;
    return -errno;
}

/* A UDP socket on the SDP's address and port (see bind_group and bind_unicast). */
static int open_port(const struct tolk_sdp *sdp, int port)
{
    struct addrinfo hints = {.ai_family = sdp->ipv6 ? AF_INET6 : AF_INET,
                             .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL, *any = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int fd = -1, one = 1, rcvbuf = 1 << 18;
    if (getaddrinfo(sdp->address, service, &hints, &ai) != 0)
        return -EINVAL;
    hints.ai_flags |= AI_PASSIVE;
    if (getaddrinfo(NULL, service, &hints, &any) != 0)
        goto done;
    fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto done;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int rc = is_multicast(ai->ai_addr) ? bind_group(fd, ai) : bind_unicast(fd, ai, any);
    if (rc < 0) {
        close(fd);
        fd = rc;
    }
done:
    if (ai)
        freeaddrinfo(ai);
    if (any)
        freeaddrinfo(any);
    return fd;
}

static int setup_srtp(struct tolk_rtp_input *in)
{
    if (!in->sdp.has_key)
        return 0;
    if (srtp_init() != srtp_err_status_ok)
        return TOLK_ENET;
    in->srtp_inited = true;
    srtp_policy_t pol;
    memset(&pol, 0, sizeof pol);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
    pol.ssrc.type = ssrc_any_inbound;
    pol.key = in->sdp.key;
    pol.window_size = 1024;
    return srtp_create(&in->srtp, &pol) == srtp_err_status_ok ? 0 : TOLK_ENET;
}

int tolk_rtp_input_start(struct tolk_rtp_input **out, const struct tolk_rtp_input_config *cfg)
{
    *out = NULL;
    struct tolk_rtp_input *in = calloc(1, sizeof *in);
    if (!in)
        return -ENOMEM;
    in->cfg = *cfg;
    in->sdp = *cfg->sdp;
    in->cfg.sdp = &in->sdp;
    in->rtcp_fd = -1;
    int err = 0;
    in->rtp_fd = open_port(&in->sdp, in->sdp.port);
    if (in->rtp_fd >= 0 && in->sdp.rtcp_port != in->sdp.port)
        in->rtcp_fd = open_port(&in->sdp, in->sdp.rtcp_port);
    if (in->rtp_fd < 0 || (in->sdp.rtcp_port != in->sdp.port && in->rtcp_fd < 0)) {
        tolk_log_error("cannot receive on %s ports %d/%d: %s", in->sdp.address, in->sdp.port,
                       in->sdp.rtcp_port, strerror(-(in->rtp_fd < 0 ? in->rtp_fd : in->rtcp_fd)));
        err = TOLK_ENET;
        goto fail;
    }
    err = setup_srtp(in);
    if (err) {
        tolk_log_error("SRTP set-up failed");
        goto fail;
    }
    atomic_store(&cfg->state->net.link, TOLK_RX_LISTENING);
    err = -pthread_create(&in->thread, NULL, run, in);
    if (err)
        goto fail;
    in->started = true;
    tolk_log_info("listening for %s on %s port %d (RTCP %d), payload type %d",
                  in->srtp ? "SRTP" : "RTP", in->sdp.address, in->sdp.port, in->sdp.rtcp_port,
                  in->sdp.payload_type);
    *out = in;
    return 0;
fail:
    tolk_rtp_input_destroy(in);
    return err;
}

void tolk_rtp_input_destroy(struct tolk_rtp_input *in)
{
    if (!in)
        return;
    if (in->started) {
        atomic_store(&in->stop, true);
        pthread_join(in->thread, NULL);
    }
    if (in->rtp_fd >= 0)
        close(in->rtp_fd);
    if (in->rtcp_fd >= 0)
        close(in->rtcp_fd);
    if (in->srtp)
        srtp_dealloc(in->srtp);
    if (in->srtp_inited)
        srtp_shutdown();
    free(in);
}
