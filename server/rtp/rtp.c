/* The RTP sender (see rtp.h): one thread that turns every streamed channel's packet ring into
 * an RTP stream with RTCP sender reports.
 *
 * The thread sleeps on an eventfd that the engine's tick writes (tolk_rtp_wake), or at most a
 * frame, then sends, for each stream, every packet pushed since its last turn: one RTP packet
 * per Opus frame. It never waits on the engine and the engine never waits on it: rings are read
 * by sequence number like a listener does, and a stream more than a second behind (or whose next
 * packet was overwritten) skips to the live edge. RTP timestamps advance by a frame's samples per
 * ring sequence number, plus the frames the engine never made (a stall shows as a jump in capture
 * time); the first packet after any gap carries the marker bit. Sockets are non-blocking: a send
 * that fails is counted and dropped, never retried.
 *
 * SRTP streams change SSRC just before their 16-bit sequence number would wrap (BYE for the old
 * one): a receiver that joins late then never has to guess the rollover count (see
 * PLATFORM-NOTES: Janus restarted mid-stream failed on every packet after a wrap).
 *
 * Threads: create/start/destroy on the main thread; struct stream fields belong to the sender
 * thread, except `pub` (atomics, read by any thread through tolk_rtp_stats()).
 */
#include "rtp/rtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "config.h"
#include "engine/engine.h"
#include "rtp/srtp.h"
#include "tolk/clock.h"
#include "tolk/error.h"
#include "tolk/log.h"
#include "tolk/protocol.h"
#include "tolk/realtime.h"

#define RTP_HEADER_SIZE 12
#define RTCP_SR 200
#define RTCP_SDES 202
#define RTCP_BYE 203
#define SDES_CNAME 1
#define PACKET_MAX (RTP_HEADER_SIZE + TOLK_OPUS_MAX_PACKET + TOLK_SRTP_MAX_TRAILER)
#define NTP_UNIX_OFFSET 2208988800u /* seconds from 1900 to 1970 */
#define MAX_STALL_US 10000000       /* a longer jump in capture time is a clock step, not a stall */
#define DSCP_EF (46 << 2)           /* expedited forwarding: what venue switches give to voice */

/* One channel's stream. The sender thread's, except pub. */
struct stream {
    int channel;
    const struct tolk_channel_config *cfg;
    struct tolk_packet_ring *ring;
    int fd;
    struct sockaddr_storage rtp_addr, rtcp_addr;
    socklen_t addr_len;
    struct tolk_srtp *srtp; /* NULL: plain RTP */

    uint32_t ssrc;
    uint16_t seq;           /* RTP sequence number of the next packet */
    bool sent_any;          /* a packet went out with this SSRC */
    uint64_t next;          /* ring sequence number of the next packet to read */
    bool have_last;         /* the fields below describe the last packet sent */
    uint64_t last_ring_seq;
    int64_t last_capture_us;
    uint32_t last_timestamp;
    uint32_t sent_packets, sent_octets; /* of this SSRC, for the sender report */
    int64_t report_due_ns;              /* monotonic */

    struct {
        atomic_uint_fast64_t packets, bytes, send_errors, rtcp_packets, skipped;
        atomic_uint_fast32_t ssrc;
    } pub;
};

struct tolk_rtp {
    const struct tolk_config *cfg;
    int wake_fd; /* eventfd: written by the engine thread, read by the sender */
    pthread_t thread;
    bool thread_started; /* main thread */
    atomic_bool stop;
    int frame_samples;
    int64_t frame_us;
    uint64_t max_behind; /* frames: one second */
    char cname[96];
    int count;
    int stream_of[TOLK_MAX_CHANNELS]; /* channel → index in streams[], -1 = not streamed */
    struct stream streams[TOLK_MAX_CHANNELS];
};

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static uint32_t random32(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v = (uint32_t)tolk_clock_mono_ns() ^ (uint32_t)getpid() * 2654435761u;
    return v;
}

/* ---- addresses ---- */

int tolk_rtp_destination(const struct tolk_channel_config *ch, struct sockaddr_storage *rtp,
                         struct sockaddr_storage *rtcp, socklen_t *addrlen, bool *multicast)
{
    if (!ch->rtp_host[0])
        return -ENOENT;
    memset(rtp, 0, sizeof *rtp);
    struct sockaddr_in *v4 = (struct sockaddr_in *)rtp;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)rtp;
    if (inet_pton(AF_INET, ch->rtp_host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)ch->rtp_port);
        *multicast = IN_MULTICAST(ntohl(v4->sin_addr.s_addr));
        *addrlen = sizeof *v4;
    } else if (inet_pton(AF_INET6, ch->rtp_host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)ch->rtp_port);
        *multicast = IN6_IS_ADDR_MULTICAST(&v6->sin6_addr);
        *addrlen = sizeof *v6;
    } else {
        return -EINVAL;
    }
    *rtcp = *rtp;
    if (rtp->ss_family == AF_INET)
        ((struct sockaddr_in *)rtcp)->sin_port = htons((uint16_t)(ch->rtp_port + 1));
    else
        ((struct sockaddr_in6 *)rtcp)->sin6_port = htons((uint16_t)(ch->rtp_port + 1));
    return 0;
}

/* ---- set-up (main thread) ---- */

/* Multicast scope and DSCP; the TOS is best effort (some networks strip it anyway). */
static int configure_socket(int fd, int family, bool multicast, int ttl)
{
    int tos = DSCP_EF;
    if (family == AF_INET) {
        unsigned char ttl8 = (unsigned char)ttl;
        setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
        if (multicast && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl8, sizeof ttl8) < 0)
            return -errno;
    } else {
        setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
        if (multicast && setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl) < 0)
            return -errno;
    }
    return 0;
}

/* A fresh SSRC (distinct from the other streams'), sequence number and timestamp origin. */
static void new_source(struct tolk_rtp *r, struct stream *s)
{
    bool taken;
    do {
        s->ssrc = random32();
        taken = false;
        for (int i = 0; i < r->count; i++)
            taken = taken || (&r->streams[i] != s && r->streams[i].ssrc == s->ssrc);
    } while (taken);
    s->seq = (uint16_t)(random32() & 0x7FFF); /* below 2^15: a receiver never sees an early wrap */
    s->last_timestamp = random32();
    s->sent_any = false;
    s->sent_packets = 0;
    s->sent_octets = 0;
    s->report_due_ns = 0; /* a sender report right after the first packet */
    atomic_store_explicit(&s->pub.ssrc, s->ssrc, memory_order_relaxed);
}

static int open_stream(struct tolk_rtp *r, struct stream *s, struct tolk_engine *engine,
                       int channel, char *err, size_t errlen)
{
    const struct tolk_channel_config *ch = &r->cfg->channels[channel];
    bool multicast = false;
    s->channel = channel;
    s->cfg = ch;
    s->ring = tolk_engine_packets(engine, channel);
    s->fd = -1;
    int rc = tolk_rtp_destination(ch, &s->rtp_addr, &s->rtcp_addr, &s->addr_len, &multicast);
    if (rc == 0) {
        s->fd = socket(s->rtp_addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        rc = s->fd < 0 ? -errno : configure_socket(s->fd, s->rtp_addr.ss_family, multicast,
                                                   ch->rtp_ttl);
    }
    if (rc == 0 && ch->srtp_key[0])
        rc = tolk_srtp_create(&s->srtp, ch->srtp_key_bytes);
    if (rc < 0) {
        snprintf(err, errlen, "channel %s: rtp %s port %d: %s", ch->id, ch->rtp_host,
                 ch->rtp_port, tolk_strerror(rc));
        return rc;
    }
    new_source(r, s);
    return 0;
}

static void close_stream(struct stream *s)
{
    if (s->fd >= 0)
        close(s->fd);
    tolk_srtp_destroy(s->srtp);
}

static void make_cname(struct tolk_rtp *r)
{
    char host[64] = "";
    if (gethostname(host, sizeof host) < 0 || !host[0])
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(r->cname, sizeof r->cname, "tolk@%s", host);
}

int tolk_rtp_create(struct tolk_rtp **out, const struct tolk_config *cfg,
                    struct tolk_engine *engine, char *err, size_t errlen)
{
    *out = NULL;
    int wanted = 0;
    for (int i = 0; i < cfg->channel_count; i++)
        wanted += cfg->channels[i].rtp_host[0] != '\0';
    if (wanted == 0)
        return 0;
    struct tolk_rtp *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->cfg = cfg;
    r->frame_samples = TOLK_RTP_CLOCK_RATE / 1000 * cfg->frame_ms;
    r->frame_us = cfg->frame_ms * 1000;
    r->max_behind = (uint64_t)(1000 / cfg->frame_ms);
    make_cname(r);
    atomic_init(&r->stop, false);
    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = r->wake_fd < 0 ? -errno : 0;
    if (rc < 0)
        snprintf(err, errlen, "rtp: eventfd: %s", tolk_strerror(rc));
    for (int i = 0; i < cfg->channel_count; i++) {
        r->stream_of[i] = -1;
        if (rc < 0 || !cfg->channels[i].rtp_host[0])
            continue;
        r->stream_of[i] = r->count;
        rc = open_stream(r, &r->streams[r->count++], engine, i, err, errlen);
    }
    if (rc < 0) {
        tolk_rtp_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ---- sending (sender thread) ---- */

static void count_error(struct stream *s, const char *what, int error)
{
    uint64_t n = atomic_fetch_add_explicit(&s->pub.send_errors, 1, memory_order_relaxed) + 1;
    if (n == 1 || n == 100 || n % 10000 == 0) /* the first, then rarely: never a log flood */
        tolk_log_warn("rtp %s: %s to %s port %d failed: %s (%llu so far)", s->cfg->id, what,
                      s->cfg->rtp_host, s->cfg->rtp_port, tolk_strerror(error),
                      (unsigned long long)n);
}

/* Protects (SRTP) and sends one packet; false if it did not go out (counted). */
static bool send_datagram(struct stream *s, uint8_t *pkt, size_t len, bool rtcp)
{
    const char *what = rtcp ? "RTCP" : "RTP";
    int rc = !s->srtp ? 0
             : rtcp   ? tolk_srtp_protect_rtcp(s->srtp, pkt, &len)
                      : tolk_srtp_protect_rtp(s->srtp, pkt, &len);
    if (rc < 0) {
        count_error(s, rtcp ? "SRTCP protect" : "SRTP protect", rc);
        return false;
    }
    const struct sockaddr *to = (const struct sockaddr *)(rtcp ? &s->rtcp_addr : &s->rtp_addr);
    if (sendto(s->fd, pkt, len, MSG_DONTWAIT | MSG_NOSIGNAL, to, s->addr_len) < 0) {
        count_error(s, what, -errno);
        return false;
    }
    if (rtcp) {
        atomic_fetch_add_explicit(&s->pub.rtcp_packets, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&s->pub.packets, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->pub.bytes, len, memory_order_relaxed);
    }
    return true;
}

/* Appends the SDES chunk with our CNAME at buf[at]; returns the new length. */
static size_t put_sdes(const struct tolk_rtp *r, const struct stream *s, uint8_t *buf, size_t at)
{
    size_t cname_len = strlen(r->cname);
    size_t chunk = 4 + 2 + cname_len + 1; /* SSRC, CNAME item, END */
    chunk = (chunk + 3) & ~(size_t)3;
    buf[at] = 0x81; /* V=2, one chunk */
    buf[at + 1] = RTCP_SDES;
    put16(buf + at + 2, (uint32_t)(chunk / 4));
    put32(buf + at + 4, s->ssrc);
    buf[at + 8] = SDES_CNAME;
    buf[at + 9] = (uint8_t)cname_len;
    memcpy(buf + at + 10, r->cname, cname_len);
    memset(buf + at + 10 + cname_len, 0, chunk - 6 - cname_len); /* END and padding */
    return at + 4 + chunk;
}

/* A compound RTCP packet: a sender report that maps the last packet's capture time (wall
 * clock, NTP format) to its RTP timestamp, our CNAME, and BYE when the source leaves. */
static void send_report(const struct tolk_rtp *r, struct stream *s, bool bye)
{
    uint8_t buf[256 + TOLK_SRTP_MAX_TRAILER];
    int64_t us = s->last_capture_us;
    uint32_t ntp_sec = (uint32_t)(us / 1000000 + NTP_UNIX_OFFSET);
    uint32_t ntp_frac = (uint32_t)(((uint64_t)(us % 1000000) << 32) / 1000000);
    buf[0] = 0x80; /* V=2, no report blocks: we receive nothing */
    buf[1] = RTCP_SR;
    put16(buf + 2, 6);
    put32(buf + 4, s->ssrc);
    put32(buf + 8, ntp_sec);
    put32(buf + 12, ntp_frac);
    put32(buf + 16, s->last_timestamp);
    put32(buf + 20, s->sent_packets);
    put32(buf + 24, s->sent_octets);
    size_t len = put_sdes(r, s, buf, 28);
    if (bye) {
        buf[len] = 0x81;
        buf[len + 1] = RTCP_BYE;
        put16(buf + len + 2, 1);
        put32(buf + len + 4, s->ssrc);
        len += 8;
    }
    send_datagram(s, buf, len, true);
}

/* RTP timestamp of the packet at ring sequence seq captured at capture_us: a frame's samples
 * per sequence number since the last packet, plus the frames the engine never made (a gap in
 * capture time). *gap: anything but the next frame on the grid. */
static uint32_t timestamp_of(const struct tolk_rtp *r, const struct stream *s, uint64_t seq,
                             int64_t capture_us, bool *gap)
{
    uint64_t frames = seq - s->last_ring_seq;
    int64_t late = capture_us - (s->last_capture_us + (int64_t)frames * r->frame_us);
    if (late > r->frame_us / 2 && late < MAX_STALL_US)
        frames += (uint64_t)((late + r->frame_us / 2) / r->frame_us);
    *gap = frames != 1;
    return s->last_timestamp + (uint32_t)(frames * (uint64_t)r->frame_samples);
}

/* One RTP packet around the Opus packet that sits at pkt + RTP_HEADER_SIZE. */
static void send_frame(struct tolk_rtp *r, struct stream *s, uint8_t *pkt, uint64_t seq,
                       const struct tolk_packet_info *info)
{
    bool gap = true;
    uint32_t timestamp = s->have_last ? timestamp_of(r, s, seq, info->capture_us, &gap)
                                      : s->last_timestamp;
    if (s->srtp && s->sent_any && s->seq == 0) { /* about to wrap: a new source instead */
        uint32_t old = s->ssrc;
        send_report(r, s, true);
        tolk_srtp_forget(s->srtp, s->ssrc);
        new_source(r, s);
        timestamp = s->last_timestamp;
        tolk_log_info("RTP: channel %s: SSRC %u follows %u (the sequence number wrapped)",
                      s->cfg->id, s->ssrc, old);
    }
    pkt[0] = 0x80; /* V=2, no padding, extension or CSRC */
    pkt[1] = (uint8_t)((gap || !s->sent_any ? 0x80 : 0) | s->cfg->rtp_payload_type);
    put16(pkt + 2, s->seq);
    put32(pkt + 4, timestamp);
    put32(pkt + 8, s->ssrc);
    s->seq++;
    s->sent_any = true;
    s->have_last = true;
    s->last_ring_seq = seq;
    s->last_capture_us = info->capture_us;
    s->last_timestamp = timestamp;
    s->sent_packets++;
    s->sent_octets += info->len;
    send_datagram(s, pkt, RTP_HEADER_SIZE + info->len, false);
}

static void skip_to(struct stream *s, uint64_t seq)
{
    if (seq > s->next)
        atomic_fetch_add_explicit(&s->pub.skipped, seq - s->next, memory_order_relaxed);
    s->next = seq;
}

/* Sends everything the engine pushed since the last turn, from a second behind at most. */
static void pump(struct tolk_rtp *r, struct stream *s)
{
    uint8_t pkt[PACKET_MAX];
    uint64_t head = tolk_packet_ring_head(s->ring);
    bool skipped = false;
    if (head - s->next > r->max_behind)
        skip_to(s, head - 1);
    while (s->next < tolk_packet_ring_head(s->ring)) {
        struct tolk_packet_info info;
        int rc = tolk_packet_ring_read(s->ring, s->next, pkt + RTP_HEADER_SIZE,
                                       TOLK_OPUS_MAX_PACKET, &info);
        if (rc == -ESPIPE && !skipped) { /* overwritten under us: far behind */
            skip_to(s, tolk_packet_ring_head(s->ring) - 1);
            skipped = true;
            continue;
        }
        if (rc < 0)
            break;
        if (info.len > 0)
            send_frame(r, s, pkt, s->next, &info);
        s->next++;
    }
}

static void report_if_due(const struct tolk_rtp *r, struct stream *s, int64_t now_ns)
{
    if (!s->sent_any || now_ns < s->report_due_ns)
        return;
    send_report(r, s, false);
    s->report_due_ns = now_ns + (int64_t)TOLK_RTP_SR_INTERVAL_MS * 1000000;
}

static void *sender_main(void *arg)
{
    struct tolk_rtp *r = arg;
    struct pollfd pfd = {.fd = r->wake_fd, .events = POLLIN};
    int rt = tolk_realtime_raise(TOLK_RT_RTP_SENDER);
    if (rt < 0)
        tolk_log_info("RTP: sender at normal priority, not real-time (%s)", tolk_strerror(rt));
    while (!atomic_load(&r->stop)) {
        uint64_t wakes;
        poll(&pfd, 1, r->cfg->frame_ms); /* a frame at most: works without wake-ups too */
        if (read(r->wake_fd, &wakes, sizeof wakes) < 0 && errno != EAGAIN)
            break;
        int64_t now = tolk_clock_mono_ns();
        for (int i = 0; i < r->count; i++) {
            pump(r, &r->streams[i]);
            report_if_due(r, &r->streams[i], now);
        }
    }
    for (int i = 0; i < r->count; i++)
        if (r->streams[i].sent_any)
            send_report(r, &r->streams[i], true);
    return NULL;
}

/* ---- main thread ---- */

int tolk_rtp_start(struct tolk_rtp *r)
{
    if (!r)
        return 0;
    for (int i = 0; i < r->count; i++) {
        struct stream *s = &r->streams[i];
        s->next = tolk_packet_ring_head(s->ring);
        tolk_log_info("RTP: channel %s to %s%s%s port %d (RTCP %d), %s, payload type %d, "
                      "SSRC %u", s->cfg->id, strchr(s->cfg->rtp_host, ':') ? "[" : "",
                      s->cfg->rtp_host, strchr(s->cfg->rtp_host, ':') ? "]" : "",
                      s->cfg->rtp_port, s->cfg->rtp_port + 1, s->srtp ? "SRTP" : "plain RTP",
                      s->cfg->rtp_payload_type, s->ssrc);
    }
    int rc = pthread_create(&r->thread, NULL, sender_main, r);
    if (rc != 0)
        return -rc;
    r->thread_started = true;
    return 0;
}

void tolk_rtp_wake(void *arg)
{
    struct tolk_rtp *r = arg;
    uint64_t one = 1;
    if (r && write(r->wake_fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is full, the sender has plenty to wake it */
    }
}

void tolk_rtp_destroy(struct tolk_rtp *r)
{
    if (!r)
        return;
    if (r->thread_started) {
        atomic_store(&r->stop, true);
        tolk_rtp_wake(r);
        pthread_join(r->thread, NULL);
    }
    for (int i = 0; i < r->count; i++) {
        struct tolk_rtp_stats st;
        tolk_rtp_stats(r, r->streams[i].channel, &st);
        if (r->thread_started)
            tolk_log_info("RTP: channel %s: %llu packets, %llu bytes, %llu send errors, "
                          "%llu frames skipped", r->streams[i].cfg->id,
                          (unsigned long long)st.packets, (unsigned long long)st.bytes,
                          (unsigned long long)st.send_errors, (unsigned long long)st.skipped);
        close_stream(&r->streams[i]);
    }
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    free(r);
}

void tolk_rtp_stats(const struct tolk_rtp *r, int channel, struct tolk_rtp_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!r || channel < 0 || channel >= r->cfg->channel_count || r->stream_of[channel] < 0)
        return;
    const struct stream *s = &r->streams[r->stream_of[channel]];
    out->enabled = true;
    out->ssrc = (uint32_t)atomic_load_explicit(&s->pub.ssrc, memory_order_relaxed);
    out->packets = atomic_load_explicit(&s->pub.packets, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&s->pub.bytes, memory_order_relaxed);
    out->send_errors = atomic_load_explicit(&s->pub.send_errors, memory_order_relaxed);
    out->rtcp_packets = atomic_load_explicit(&s->pub.rtcp_packets, memory_order_relaxed);
    out->skipped = atomic_load_explicit(&s->pub.skipped, memory_order_relaxed);
}
