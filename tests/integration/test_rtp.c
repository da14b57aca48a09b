/* integration.rtp: RTP/SRTP streams from tolk-server (issue 6), taken by ffmpeg and by us.
 *
 * Server: floor tone:440 → 127.0.0.1:B (payload type 111), en tone:660 → 127.0.0.1:B+2 (type
 * 101), fr tone:880 → 127.0.0.1:B+4 with SRTP, es tone:550 → [::1]:B+6, de tone:770 → the
 * multicast group 239.255.90.29:B+8 with rtp_ttl = 0; channel it has no stream.
 * 0. Multicast, as measured here: the server sends without IP_MULTICAST_IF, so its packets take
 *    the route to the group (eth0 by the default route, source 192.0.2.2), and the kernel loops
 *    a copy back to members joined on that interface: our join names INADDR_ANY, which picks it
 *    (a join on lo receives nothing). TTL 0 stays on the host only while that interface has a
 *    member, so one socket stays joined until the server stops. Without a route to the group
 *    (connect() gives ENETUNREACH) de is SKIPPED, with the reason on stderr, and the server
 *    must count its failed sends; everything else is still checked.
 * 1. `--sdp` prints each stream's SDP (c= of de is the group with TTL 0) and refuses an unknown
 *    channel and one without rtp, and writes multicast TTLs from a config that is never run.
 * 2. Our own UDP sockets, bound before the server starts (de's to the group's address, joined
 *    with IP_MULTICAST_ALL off so that only their own join counts), take every packet: RTP
 *    version 2, the payload type, one SSRC per stream (all distinct), sequence +1, timestamp +1
 *    frame of 48 kHz samples, the marker on the first packet and only after a jump; the Opus
 *    payloads decode (SRTP ones after libsrtp unprotects them with the key) to the channel's
 *    tone, and with a wrong key every packet fails authentication. Two RTCP sender reports per
 *    stream (SRTCP for fr) with a CNAME, whose NTP time is a capture time just before arrival,
 *    whose RTP timestamp is one we received, whose counts match what came before it, and whose
 *    NTP and RTP clocks advance together.
 * 3. ffmpeg decodes each SDP into a WAV whose tone is checked (sndfile + analysis.h; for de
 *    ffmpeg binds and joins the group itself, after our sockets closed); with a wrong key it
 *    decodes nothing. Without ffmpeg the test exits 77 after step 2, unless
 *    TOLK_REQUIRE_BROWSER=1 (then it fails).
 * 4. The server exits 0 and reports its counters, with no send error (a skipped de: some).
 * Usage: SERVER [FRAME_MS]. Main thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <opus/opus.h>
#include <poll.h>
#include <sndfile.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis.h"
#include "harness.h"

#define STREAMS 5
#define GROUP "239.255.90.29" /* administratively scoped, and sent with TTL 0 */
#define MC 4                  /* de, the multicast stream */
#define MAX_PACKETS 2000
#define MAX_REPORTS 8
#define KEY "zgJfz8XKMbtVUn2ULJDLG9Nws8G49OIRa6HaQ4cQ"       /* 30 bytes, base64 */
#define WRONG_KEY "Jdyf3q4wKRDBrGEVCcgrh11zOs5wa2S3KKgp38ZC" /* another 30 */
#define SRTP_TAG 10
#define NTP_UNIX_OFFSET 2208988800u

struct datagram {
    uint8_t data[1600];
    size_t len;
    int64_t wall_us; /* arrival */
};

struct stream {
    const char *id;
    double hz;
    int pt;
    bool v6, srtp;
    const char *group; /* an IPv4 multicast group we join, or NULL: unicast to loopback */
    char skipped[160]; /* why the group cannot be reached from this host, or "" */
    int port;
    int fd_rtp, fd_rtcp;
    struct datagram *rtp;
    size_t rtp_count;
    struct datagram reports[MAX_REPORTS];
    size_t report_count;
    uint32_t ssrc;
    char sdp_path[512];
};

static struct stream streams[STREAMS] = {
    {.id = "floor", .hz = 440, .pt = 111},
    {.id = "en", .hz = 660, .pt = 101},
    {.id = "fr", .hz = 880, .pt = 111, .srtp = true},
    {.id = "es", .hz = 550, .pt = 111, .v6 = true},
    {.id = "de", .hz = 770, .pt = 111, .group = GROUP},
};

/* A member of GROUP from before the server starts until it stops. Linux drops TTL-0 multicast
 * after the loopback copy only while the egress interface has a member (ip_mc_output); with none
 * it leaves on eth0 with TTL 0. Our RTP sockets close before ffmpeg joins: this spans the gap. */
static int guard_fd = -1;

static const char *server;
static int frame_ms = 20;

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- ports and sockets ---- */

/* A multicast stream's sockets bind the group's address: they take only its datagrams, and
 * only after their own join (without IP_MULTICAST_ALL = 0 guard_fd's join would be enough). */
static int bind_udp(const struct stream *s, int port)
{
    int fd = socket(s->v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int big = 1 << 20, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (s->group && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero) < 0) {
        close(fd);
        return -1;
    }
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s->group)
        inet_pton(AF_INET, s->group, &a4.sin_addr);
    a6.sin6_addr = in6addr_loopback;
    int rc = s->v6 ? bind(fd, (struct sockaddr *)&a6, sizeof a6)
                   : bind(fd, (struct sockaddr *)&a4, sizeof a4);
    if (rc < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void close_sockets(void)
{
    for (int i = 0; i < STREAMS; i++) {
        if (streams[i].fd_rtp >= 0)
            close(streams[i].fd_rtp);
        if (streams[i].fd_rtcp >= 0)
            close(streams[i].fd_rtcp);
        streams[i].fd_rtp = streams[i].fd_rtcp = -1;
    }
}

/* Binds the RTP and RTCP ports of every stream in a block of [lo, hi) where all are free, and
 * keeps them: the server's first packets already find us. */
static void bind_ports(int lo, int hi)
{
    for (int base = lo; base + 2 * STREAMS <= hi; base += 2) {
        bool ok = true;
        for (int i = 0; i < STREAMS; i++) {
            streams[i].port = base + 2 * i;
            streams[i].fd_rtp = ok ? bind_udp(&streams[i], streams[i].port) : -1;
            streams[i].fd_rtcp = ok ? bind_udp(&streams[i], streams[i].port + 1) : -1;
            ok = ok && streams[i].fd_rtp >= 0 && streams[i].fd_rtcp >= 0;
        }
        if (ok)
            return;
        close_sockets();
    }
    TOLK_CHECK(0, "no %d free UDP ports in a row in %d..%d on 127.0.0.1, ::1 and " GROUP,
               2 * STREAMS, lo, hi - 1);
}

/* The join names INADDR_ANY: the kernel takes the interface of the route to the group, the one
 * the server's packets (sent without IP_MULTICAST_IF) leave by, and its loopback copy arrives
 * there (eth0 here, by the default route). A join on lo would receive nothing. */
static int join_group(int fd, const char *group)
{
    struct ip_mreq m = {.imr_interface.s_addr = htonl(INADDR_ANY)};
    inet_pton(AF_INET, group, &m.imr_multiaddr);
    return setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
}

/* Whether the group is reachable: connect() looks up the route as sendto() would (ENETUNREACH
 * without a multicast-capable one). If so, guard_fd joins, else the stream is skipped. */
static void probe_multicast(struct stream *s)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
    inet_pton(AF_INET, s->group, &to.sin_addr);
    guard_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const char *step = "socket";
    if (guard_fd >= 0 && (step = "connect", connect(guard_fd, (struct sockaddr *)&to,
                                                    sizeof to) == 0) &&
        (step = "IP_ADD_MEMBERSHIP", join_group(guard_fd, s->group) == 0))
        return;
    snprintf(s->skipped, sizeof s->skipped, "no multicast route on this host (%s %s: %s)", step,
             s->group, strerror(errno));
    tolk_harness_note("%s: SKIPPED: %s", s->id, s->skipped);
}

static void join_groups(void)
{
    for (int i = 0; i < STREAMS; i++) {
        const struct stream *s = &streams[i];
        if (!s->group || s->skipped[0])
            continue;
        TOLK_CHECK(join_group(s->fd_rtp, s->group) == 0 && join_group(s->fd_rtcp, s->group) == 0,
                   "%s: join %s on INADDR_ANY: %s", s->id, s->group, strerror(errno));
    }
}

/* ---- configuration and SDP ---- */

static void write_config(char *text, size_t len, int http_port)
{
    snprintf(text, len,
             "[server]\nlisten = 127.0.0.1:%d\n[audio]\nframe_ms = %d\n"
             "[channel floor]\nsource = tone:440\nrtp = 127.0.0.1:%d\n"
             "[channel en]\nlang = en\nsource = tone:660\nrtp = 127.0.0.1:%d\n"
             "rtp_payload_type = 101\n"
             "[channel fr]\nname = Français\nlang = fr\nsource = tone:880\n"
             "rtp = 127.0.0.1:%d\nsrtp_key = " KEY "\n"
             "[channel es]\nlang = es\nsource = tone:550\nrtp = [::1]:%d\n"
             "[channel de]\nlang = de\nsource = tone:770\nrtp = " GROUP ":%d\nrtp_ttl = 0\n"
             "[channel it]\nlang = it\nsource = none\n",
             http_port, frame_ms, streams[0].port, streams[1].port, streams[2].port,
             streams[3].port, streams[4].port);
}

static int run_sdp(const char *conf, const char *id, char **out, char **err)
{
    char *argv[] = {(char *)server, "-c", (char *)conf, "--sdp", (char *)id, NULL};
    return tolk_harness_run(argv, NULL, 10000, out, err);
}

static void expect_line(const char *sdp, const char *line, const char *what)
{
    char want[512];
    TOLK_CHECK(snprintf(want, sizeof want, "\n%s\r\n", line) < (int)sizeof want, "line too long");
    TOLK_CHECK(strstr(sdp, want), "SDP of %s lacks the line \"%s\":\n%s", what, line, sdp);
}

static void check_sdp(struct stream *s, const char *sdp)
{
    char line[256];
    TOLK_CHECK(strncmp(sdp, "v=0\r\n", 5) == 0, "SDP of %s does not start with v=0:\n%s", s->id,
               sdp);
    TOLK_CHECK(strstr(sdp, "\no=") && strstr(sdp, "\ns=") && strstr(sdp, "\nt=0 0\r\n"),
               "SDP of %s lacks o=, s= or t=:\n%s", s->id, sdp);
    if (s->group)
        snprintf(line, sizeof line, "c=IN IP4 %s/0", s->group); /* TTL 0 */
    else
        snprintf(line, sizeof line, "c=IN %s", s->v6 ? "IP6 ::1" : "IP4 127.0.0.1");
    expect_line(sdp, line, s->id);
    snprintf(line, sizeof line, "m=audio %d RTP/%s %d", s->port, s->srtp ? "SAVP" : "AVP", s->pt);
    expect_line(sdp, line, s->id);
    snprintf(line, sizeof line, "a=rtpmap:%d opus/48000/2", s->pt);
    expect_line(sdp, line, s->id);
    snprintf(line, sizeof line, "a=fmtp:%d ", s->pt);
    const char *fmtp = strstr(sdp, line);
    TOLK_CHECK(fmtp && strstr(fmtp, "sprop-stereo=0") && strstr(fmtp, "useinbandfec=1"),
               "SDP of %s: no fmtp with sprop-stereo=0 and useinbandfec=1:\n%s", s->id, sdp);
    snprintf(line, sizeof line, "a=ptime:%d", frame_ms);
    expect_line(sdp, line, s->id);
    snprintf(line, sizeof line, "a=rtcp:%d", s->port + 1);
    expect_line(sdp, line, s->id);
    TOLK_CHECK(!strstr(sdp, "a=crypto") == !s->srtp, "SDP of %s: a=crypto %s:\n%s", s->id,
               s->srtp ? "missing" : "on a plain RTP stream", sdp);
    if (s->srtp)
        expect_line(sdp, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY, s->id);
}

static void get_sdps(const char *conf)
{
    for (int i = 0; i < STREAMS; i++) {
        struct stream *s = &streams[i];
        char *out = NULL, *err = NULL, name[64];
        int code = run_sdp(conf, s->id, &out, &err);
        TOLK_CHECK(code == 0 && out, "--sdp %s: exit %d: %s", s->id, code, err ? err : "");
        check_sdp(s, out);
        snprintf(name, sizeof name, "%s.sdp", s->id);
        TOLK_CHECK(tolk_harness_write_file(name, out, s->sdp_path, sizeof s->sdp_path) == 0,
                   "write %s", name);
        free(out);
        free(err);
    }
}

static void check_sdp_refusals(const char *conf)
{
    char *out = NULL, *err = NULL;
    int code = run_sdp(conf, "xx", &out, &err);
    TOLK_CHECK(code == 1 && out && !out[0] && err && strstr(err, "no channel 'xx'"),
               "--sdp xx: exit %d, stdout \"%s\", stderr \"%s\"", code, out, err);
    free(out);
    free(err);
    code = run_sdp(conf, "it", &out, &err);
    TOLK_CHECK(code == 1 && out && !out[0] && err && strstr(err, "it has no RTP stream"),
               "--sdp it (no rtp): exit %d, stdout \"%s\", stderr \"%s\"", code, out, err);
    free(out);
    free(err);
}

/* Multicast groups: never run, only described. */
static void check_multicast_sdp(void)
{
    char conf[512], *out = NULL, *err = NULL;
    TOLK_CHECK(tolk_harness_write_file("multicast.conf",
                                       "[channel floor]\nrtp = 239.255.77.1:5004\nrtp_ttl = 4\n"
                                       "[channel en]\nrtp = [ff15::77]:5006\n",
                                       conf, sizeof conf) == 0, "write multicast.conf");
    int code = run_sdp(conf, "floor", &out, &err);
    TOLK_CHECK(code == 0, "--sdp floor (multicast): exit %d: %s", code, err);
    expect_line(out, "c=IN IP4 239.255.77.1/4", "an IPv4 multicast group");
    free(out);
    free(err);
    code = run_sdp(conf, "en", &out, &err);
    TOLK_CHECK(code == 0, "--sdp en (multicast): exit %d: %s", code, err);
    expect_line(out, "c=IN IP6 ff15::77", "an IPv6 multicast group");
    free(out);
    free(err);
}

/* ---- capture ---- */

static void receive_all(int fd, struct stream *s, bool rtcp)
{
    for (;;) {
        struct datagram *d = rtcp ? (s->report_count < MAX_REPORTS ? &s->reports[s->report_count]
                                                                   : NULL)
                                  : (s->rtp_count < MAX_PACKETS ? &s->rtp[s->rtp_count] : NULL);
        uint8_t spill[1600];
        ssize_t n = recv(fd, d ? d->data : spill, d ? sizeof d->data : sizeof spill, 0);
        if (n < 0)
            return;
        if (!d)
            continue;
        d->len = (size_t)n;
        d->wall_us = wall_us();
        *(rtcp ? &s->report_count : &s->rtp_count) += 1;
    }
}

static bool capture_done(int64_t since_first_us)
{
    for (int i = 0; i < STREAMS; i++)
        if (!streams[i].skipped[0] && (streams[i].report_count < 2 || streams[i].rtp_count == 0))
            return false;
    return since_first_us > 2000000;
}

/* Takes packets until every stream sent two sender reports (one now, one 5 s later), at most
 * 12 s. */
static void capture(void)
{
    struct pollfd pfd[2 * STREAMS];
    for (int i = 0; i < STREAMS; i++) {
        pfd[2 * i] = (struct pollfd){.fd = streams[i].fd_rtp, .events = POLLIN};
        pfd[2 * i + 1] = (struct pollfd){.fd = streams[i].fd_rtcp, .events = POLLIN};
    }
    int64_t start = tolk_harness_now_us(), first = 0;
    while (tolk_harness_now_us() - start < 12000000) {
        poll(pfd, 2 * STREAMS, 100);
        for (int i = 0; i < STREAMS; i++) {
            receive_all(streams[i].fd_rtp, &streams[i], false);
            receive_all(streams[i].fd_rtcp, &streams[i], true);
        }
        if (!first && streams[0].rtp_count > 0)
            first = tolk_harness_now_us();
        if (first && capture_done(tolk_harness_now_us() - first))
            break;
    }
    for (int i = 0; i < STREAMS; i++)
        tolk_harness_note("%s: %zu RTP packets, %zu RTCP packets", streams[i].id,
                          streams[i].rtp_count, streams[i].report_count);
}

/* ---- SRTP, with the libsrtp the server uses, as a receiver would ---- */

static srtp_t srtp_receiver(const char *base64_key)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char key[30];
    unsigned bits = 0, have = 0;
    size_t used = 0;
    for (const char *c = base64_key; *c && used < sizeof key; c++) {
        bits = bits << 6 | (unsigned)(strchr(digits, *c) - digits);
        have += 6;
        if (have >= 8) {
            have -= 8;
            key[used++] = (unsigned char)(bits >> have);
        }
    }
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    policy.ssrc.type = ssrc_any_inbound;
    policy.key = key;
    policy.window_size = 1024;
    srtp_t session = NULL;
    TOLK_CHECK(srtp_create(&session, &policy) == srtp_err_status_ok, "srtp_create");
    return session;
}

/* Unprotects every packet of s in place with the right key, after checking that a receiver with
 * the wrong key authenticates none of them. */
static void unprotect_stream(struct stream *s)
{
    srtp_t right = srtp_receiver(KEY), wrong = srtp_receiver(WRONG_KEY);
    size_t wrong_ok = 0;
    for (size_t k = 0; k < s->rtp_count + s->report_count; k++) {
        bool report = k >= s->rtp_count;
        struct datagram *d = report ? &s->reports[k - s->rtp_count] : &s->rtp[k];
        uint8_t copy[1600];
        int len = (int)d->len;
        memcpy(copy, d->data, d->len);
        srtp_err_status_t st = report ? srtp_unprotect_rtcp(wrong, copy, &len)
                                      : srtp_unprotect(wrong, copy, &len);
        wrong_ok += st == srtp_err_status_ok;
        len = (int)d->len;
        st = report ? srtp_unprotect_rtcp(right, d->data, &len)
                    : srtp_unprotect(right, d->data, &len);
        TOLK_CHECK(st == srtp_err_status_ok, "%s: %s packet %zu does not unprotect with the key "
                   "(libsrtp error %d)", s->id, report ? "SRTCP" : "SRTP", k, (int)st);
        TOLK_CHECK(d->len - (size_t)len == (report ? SRTP_TAG + 4 : SRTP_TAG),
                   "%s: %zu bytes of SRTP trailer, want %d", s->id, d->len - (size_t)len,
                   report ? SRTP_TAG + 4 : SRTP_TAG);
        d->len = (size_t)len;
    }
    TOLK_CHECK(wrong_ok == 0, "%s: %zu packets authenticated with the wrong key", s->id, wrong_ok);
    tolk_harness_note("%s: %zu SRTP and %zu SRTCP packets unprotected; with the wrong key all "
                      "failed", s->id, s->rtp_count, s->report_count);
    srtp_dealloc(right);
    srtp_dealloc(wrong);
}

/* ---- RTP checks ---- */

static void check_header(const struct stream *s, size_t k)
{
    const uint8_t *p = s->rtp[k].data;
    TOLK_CHECK(s->rtp[k].len > 12, "%s packet %zu: %zu bytes", s->id, k, s->rtp[k].len);
    TOLK_CHECK(p[0] == 0x80, "%s packet %zu: first byte 0x%02x, want 0x80 (version 2, no "
               "padding, extension or CSRC)", s->id, k, p[0]);
    TOLK_CHECK((p[1] & 0x7F) == s->pt, "%s packet %zu: payload type %d, want %d", s->id, k,
               p[1] & 0x7F, s->pt);
    TOLK_CHECK(get32(p + 8) == s->ssrc, "%s packet %zu: SSRC %08x, want %08x as before", s->id,
               k, get32(p + 8), s->ssrc);
}

/* Sequence +1, timestamp +1 frame unless marked; the marker only where the timeline jumps. */
static void check_sequence(const struct stream *s)
{
    uint32_t frame = (uint32_t)(48 * frame_ms);
    size_t marked = 0;
    TOLK_CHECK(s->rtp[0].data[1] & 0x80, "%s: the first packet has no marker bit", s->id);
    for (size_t k = 1; k < s->rtp_count; k++) {
        const uint8_t *a = s->rtp[k - 1].data, *b = s->rtp[k].data;
        bool marker = b[1] & 0x80;
        uint32_t step = get32(b + 4) - get32(a + 4);
        TOLK_CHECK(get16(b + 2) == (uint16_t)(get16(a + 2) + 1), "%s packet %zu: seq %u after %u",
                   s->id, k, get16(b + 2), get16(a + 2));
        TOLK_CHECK(marker ? step > frame : step == frame, "%s packet %zu: timestamp +%u%s, want "
                   "+%u%s", s->id, k, step, marker ? " with the marker" : "", frame,
                   marker ? " and more" : "");
        marked += marker;
    }
    tolk_harness_note("%s: SSRC %08x, seq %u.., timestamps +%u, %zu marked jumps", s->id,
                      s->ssrc, get16(s->rtp[0].data + 2), frame, marked);
}

/* The Opus payloads decode to the channel's tone, a -12 dBFS sine (RMS -15 dBFS). */
static void check_tone(const struct stream *s)
{
    int err;
    OpusDecoder *dec = opus_decoder_create(48000, 1, &err);
    TOLK_CHECK(dec, "opus_decoder_create: %d", err);
    size_t cap = s->rtp_count * 48 * (size_t)frame_ms, used = 0;
    float *pcm = malloc(cap * sizeof *pcm);
    TOLK_CHECK(pcm, "out of memory");
    for (size_t k = 0; k < s->rtp_count; k++) {
        int n = opus_decode_float(dec, s->rtp[k].data + 12, (opus_int32)(s->rtp[k].len - 12),
                                  pcm + used, (int)(cap - used), 0);
        TOLK_CHECK(n == 48 * frame_ms, "%s packet %zu: Opus decodes to %d samples", s->id, k, n);
        used += (size_t)n;
    }
    size_t skip = 9600; /* the encoder's start */
    TOLK_CHECK(used > skip + 48000, "%s: only %zu samples", s->id, used);
    double share, hz = tolk_signal_dominant_hz(pcm + skip, used - skip, 48000, 50, 4000, 5, &share);
    double rms = tolk_signal_rms_db(pcm + skip, used - skip);
    tolk_harness_note("%s over RTP: %.0f Hz (%.0f%%), RMS %.1f dBFS", s->id, hz, share * 100, rms);
    TOLK_CHECK(fabs(hz - s->hz) <= 10 && share > 0.5, "%s: %.0f Hz (%.0f%% of the energy), want "
               "%.0f Hz", s->id, hz, share * 100, s->hz);
    TOLK_CHECK(fabs(rms + 15) <= 4, "%s: RMS %.1f dBFS, want about -15", s->id, rms);
    free(pcm);
    opus_decoder_destroy(dec);
}

/* ---- RTCP checks ---- */

struct report {
    int64_t ntp_us; /* as Unix µs */
    uint32_t timestamp, packets, octets;
    int64_t arrival_us;
};

/* A compound packet: SR of our SSRC first, then SDES with a CNAME. */
static struct report parse_report(const struct stream *s, size_t r)
{
    const struct datagram *d = &s->reports[r];
    const uint8_t *p = d->data;
    TOLK_CHECK(d->len >= 28 + 12, "%s report %zu: %zu bytes", s->id, r, d->len);
    TOLK_CHECK(p[0] == 0x80 && p[1] == 200 && get16(p + 2) == 6, "%s report %zu: not a sender "
               "report without blocks (%02x %d len %d)", s->id, r, p[0], p[1], get16(p + 2));
    TOLK_CHECK(get32(p + 4) == s->ssrc, "%s report %zu: SSRC %08x, the stream's is %08x", s->id,
               r, get32(p + 4), s->ssrc);
    const uint8_t *sdes = p + 28;
    TOLK_CHECK((sdes[0] & 0xC0) == 0x80 && sdes[1] == 202 && get32(sdes + 4) == s->ssrc &&
                   sdes[8] == 1 && sdes[9] > 0,
               "%s report %zu: no SDES CNAME after the SR", s->id, r);
    TOLK_CHECK(28 + 4 + 4 * (size_t)get16(sdes + 2) == d->len, "%s report %zu: SDES length %d "
               "does not end the %zu-byte packet", s->id, r, get16(sdes + 2), d->len);
    uint64_t frac = get32(p + 12);
    return (struct report){
        .ntp_us = ((int64_t)get32(p + 8) - NTP_UNIX_OFFSET) * 1000000 +
                  (int64_t)((frac * 1000000) >> 32),
        .timestamp = get32(p + 16), .packets = get32(p + 20), .octets = get32(p + 24),
        .arrival_us = d->wall_us};
}

/* The report describes the last packet sent before it: its timestamp, the packets and payload
 * octets up to it, and (in NTP) when its first sample was captured. Returns that packet's index. */
static size_t check_report(const struct stream *s, size_t r, const struct report *rep)
{
    size_t k = 0, octets = 0;
    while (k < s->rtp_count && get32(s->rtp[k].data + 4) != rep->timestamp)
        k++;
    TOLK_CHECK(k < s->rtp_count, "%s report %zu: RTP timestamp %u is no packet's", s->id, r,
               rep->timestamp);
    for (size_t i = 0; i <= k; i++)
        octets += s->rtp[i].len - 12;
    TOLK_CHECK(rep->packets == k + 1 && rep->octets == octets, "%s report %zu: %u packets, %u "
               "octets; the stream had %zu and %zu up to timestamp %u", s->id, r, rep->packets,
               rep->octets, k + 1, octets, rep->timestamp);
    int64_t age = rep->arrival_us - rep->ntp_us;
    TOLK_CHECK(age > -5000 && age < 1000000, "%s report %zu: capture time %.3f ms before its "
               "arrival, want 0..1000", s->id, r, age / 1000.0);
    return k;
}

static void check_reports(const struct stream *s)
{
    TOLK_CHECK(s->report_count >= 2, "%s: %zu RTCP packets in 12 s, want 2 (one every 5 s)",
               s->id, s->report_count);
    struct report first = parse_report(s, 0), last = first;
    size_t from = check_report(s, 0, &first), to = from;
    for (size_t r = 1; r < s->report_count; r++) {
        last = parse_report(s, r);
        to = check_report(s, r, &last);
    }
    /* Tone frames are captured on a steady grid, which both clocks follow to the microsecond
     * (NTP fractions round); only a stall the engine made up for (a marked jump) may leave up to
     * half a frame between them. */
    size_t jumps = 0;
    for (size_t k = from + 1; k <= to; k++)
        jumps += (s->rtp[k].data[1] & 0x80) != 0;
    double rtp_us = (double)(uint32_t)(last.timestamp - first.timestamp) * 1e6 / 48000;
    double ntp_us = (double)(last.ntp_us - first.ntp_us);
    double tolerance = jumps ? frame_ms * 500 + 1000 : 2;
    tolk_harness_note("%s: sender reports %.6f s apart in NTP, %.6f s in RTP time", s->id,
                      ntp_us / 1e6, rtp_us / 1e6);
    TOLK_CHECK(fabs(ntp_us - rtp_us) <= tolerance, "%s: between two reports the NTP clock "
               "advanced %.0f µs and the RTP clock %.0f µs (%zu marked jumps)", s->id, ntp_us,
               rtp_us, jumps);
}

static void check_streams(void)
{
    for (int i = 0; i < STREAMS; i++) {
        struct stream *s = &streams[i];
        if (s->skipped[0])
            continue;
        TOLK_CHECK(s->rtp_count > 50, "%s: only %zu RTP packets%s", s->id, s->rtp_count,
                   s->group ? " from the multicast group " GROUP : "");
        s->ssrc = get32(s->rtp[0].data + 8);
        for (int j = 0; j < i; j++)
            TOLK_CHECK(streams[j].ssrc != s->ssrc, "%s and %s share SSRC %08x", streams[j].id,
                       s->id, s->ssrc);
        if (s->srtp)
            unprotect_stream(s);
        for (size_t k = 0; k < s->rtp_count; k++)
            check_header(s, k);
        check_sequence(s);
        check_tone(s);
        check_reports(s);
    }
}

/* ---- ffmpeg ---- */

static bool have_ffmpeg(void)
{
    return system("command -v ffmpeg >/dev/null 2>&1") == 0;
}

static struct tolk_child *start_ffmpeg(const char *sdp, const char *wav)
{
    char *argv[] = {"ffmpeg", "-hide_banner", "-nostdin", "-y", "-protocol_whitelist",
                    "file,udp,rtp", "-i", (char *)sdp, "-t", "3", (char *)wav, NULL};
    struct tolk_child *c = NULL;
    int rc = tolk_harness_spawn(&c, "ffmpeg", argv, NULL);
    TOLK_CHECK(rc == 0, "spawn ffmpeg: %s", strerror(-rc));
    return c;
}

/* The WAV ffmpeg wrote holds the tone, at least 2.5 s of it. */
static void check_wav(const struct stream *s, const char *path)
{
    SF_INFO info = {0};
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    TOLK_CHECK(f, "%s: ffmpeg wrote no readable WAV %s: %s", s->id, path, sf_strerror(NULL));
    float *all = malloc((size_t)info.frames * (size_t)info.channels * sizeof *all);
    float *mono = malloc((size_t)info.frames * sizeof *mono);
    TOLK_CHECK(all && mono, "out of memory");
    sf_count_t n = sf_readf_float(f, all, info.frames);
    sf_close(f);
    for (sf_count_t i = 0; i < n; i++)
        mono[i] = all[i * info.channels];
    TOLK_CHECK(info.samplerate == 48000 && n >= 120000, "%s: ffmpeg's WAV has %lld frames at "
               "%d Hz, want 3 s at 48000", s->id, (long long)n, info.samplerate);
    double share, hz = tolk_signal_dominant_hz(mono + 24000, (size_t)n - 24000, 48000, 50, 4000,
                                               5, &share);
    double rms = tolk_signal_rms_db(mono + 24000, (size_t)n - 24000);
    tolk_harness_note("%s via ffmpeg: %.2f s, %d channels, %.0f Hz (%.0f%%), RMS %.1f dBFS",
                      s->id, n / 48000.0, info.channels, hz, share * 100, rms);
    TOLK_CHECK(fabs(hz - s->hz) <= 10 && share > 0.5, "%s via ffmpeg: %.0f Hz (%.0f%%), want "
               "%.0f Hz", s->id, hz, share * 100, s->hz);
    TOLK_CHECK(fabs(rms + 15) <= 4, "%s via ffmpeg: RMS %.1f dBFS, want about -15", s->id, rms);
    free(all);
    free(mono);
}

static void decode_with_ffmpeg(void)
{
    struct tolk_child *ff[STREAMS];
    char wav[STREAMS][512];
    for (int i = 0; i < STREAMS; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.wav", streams[i].id);
        tolk_harness_temp_path(name, wav[i], sizeof wav[i]);
        ff[i] = streams[i].skipped[0] ? NULL : start_ffmpeg(streams[i].sdp_path, wav[i]);
    }
    for (int i = 0; i < STREAMS; i++) {
        if (!ff[i])
            continue;
        int st = -1;
        bool exited = tolk_harness_wait_exit(ff[i], 20000, &st);
        if (!exited)
            tolk_harness_stop(ff[i], 1000, &st);
        TOLK_CHECK(exited && WIFEXITED(st) && WEXITSTATUS(st) == 0, "ffmpeg on %s: %s (status "
                   "0x%x)", streams[i].id, exited ? "failed" : "still running after 20 s", st);
        check_wav(&streams[i], wav[i]);
    }
}

/* With the wrong key in its SDP, ffmpeg authenticates no packet and writes no audio. */
static void wrong_key_with_ffmpeg(const struct stream *s)
{
    char *sdp = tolk_harness_read_file(s->sdp_path), *at = sdp ? strstr(sdp, KEY) : NULL;
    char path[512], wav[512];
    TOLK_CHECK(at, "the key is not in %s", s->sdp_path);
    memcpy(at, WRONG_KEY, strlen(WRONG_KEY));
    TOLK_CHECK(tolk_harness_write_file("wrong-key.sdp", sdp, path, sizeof path) == 0, "write");
    free(sdp);
    tolk_harness_temp_path("wrong-key.wav", wav, sizeof wav);
    struct tolk_child *ff = start_ffmpeg(path, wav);
    int st = -1;
    bool exited = tolk_harness_wait_exit(ff, 4000, &st);
    if (!exited)
        tolk_harness_stop(ff, 2000, &st);
    char *log = tolk_harness_read_file(tolk_harness_err_path(ff));
    SF_INFO info = {0};
    SNDFILE *f = sf_open(wav, SFM_READ, &info);
    if (f)
        sf_close(f);
    tolk_harness_note("%s with a wrong key: ffmpeg %s, %lld frames decoded", s->id,
                      exited ? "exited" : "stopped after 4 s", f ? (long long)info.frames : 0LL);
    TOLK_CHECK(!f || info.frames == 0, "%s: ffmpeg decoded %lld frames with the wrong key", s->id,
               (long long)info.frames);
    TOLK_CHECK(log && strstr(log, "HMAC mismatch"), "%s: ffmpeg did not report failed "
               "authentication with the wrong key:\n%s", s->id, log ? log : "(no log)");
    free(log);
}

/* ---- the server's own account ---- */

static void check_server_counters(struct tolk_child *srv)
{
    char *log = tolk_harness_read_file(tolk_harness_err_path(srv));
    TOLK_CHECK(log, "no server log");
    for (int i = 0; i < STREAMS; i++) {
        char want[64];
        snprintf(want, sizeof want, "RTP: channel %s: ", streams[i].id);
        const char *line = strstr(log, want);
        unsigned long long packets = 0, errors = 1;
        TOLK_CHECK(line && sscanf(line + strlen(want), "%llu packets, %*u bytes, %llu send "
                                  "errors", &packets, &errors) == 2,
                   "the server did not report the counters of %s at exit", streams[i].id);
        /* Skipped: every sendto() to the unreachable group failed, and was counted. */
        bool skipped = streams[i].skipped[0];
        TOLK_CHECK(skipped ? errors > 0 : packets >= streams[i].rtp_count && errors == 0,
                   "%s: server counted %llu packets and %llu send errors; we received %zu%s",
                   streams[i].id, packets, errors, streams[i].rtp_count,
                   skipped ? " (the group is unreachable: want send errors)" : "");
    }
    free(log);
}

int main(int argc, char **argv)
{
    TOLK_CHECK(argc >= 2, "usage: %s SERVER [FRAME_MS]", argv[0]);
    server = argv[1];
    frame_ms = argc > 2 ? atoi(argv[2]) : 20;
    TOLK_CHECK(frame_ms == 10 || frame_ms == 20, "FRAME_MS must be 10 or 20");
    tolk_harness_init("rtp", 80);
    TOLK_CHECK(srtp_init() == srtp_err_status_ok, "srtp_init");
    for (int i = 0; i < STREAMS; i++) {
        streams[i].rtp = calloc(MAX_PACKETS, sizeof *streams[i].rtp);
        TOLK_CHECK(streams[i].rtp, "out of memory");
    }
    probe_multicast(&streams[MC]);
    bind_ports(frame_ms == 20 ? 18700 : 18750, frame_ms == 20 ? 18750 : 18800);
    join_groups();

    int http_port = tolk_harness_free_port();
    char text[2048], conf[512];
    write_config(text, sizeof text, http_port);
    TOLK_CHECK(tolk_harness_write_file("sdp.conf", text, conf, sizeof conf) == 0, "write");
    get_sdps(conf);
    check_sdp_refusals(conf);
    check_multicast_sdp();

    struct tolk_child *srv = tolk_harness_server_start(server, "tolk-server", text, http_port,
                                                       NULL);
    capture();
    close_sockets(); /* ffmpeg takes the ports from here on */
    check_streams();

    bool ffmpeg = have_ffmpeg();
    if (ffmpeg) {
        decode_with_ffmpeg();
        wrong_key_with_ffmpeg(&streams[2]);
    }
    tolk_harness_server_stop(srv);
    if (guard_fd >= 0)
        close(guard_fd);
    check_server_counters(srv);
    for (int i = 0; i < STREAMS; i++)
        free(streams[i].rtp);
    srtp_shutdown();
    if (!ffmpeg) {
        bool required = getenv("TOLK_REQUIRE_BROWSER") && atoi(getenv("TOLK_REQUIRE_BROWSER"));
        fprintf(stderr, "test_rtp: ffmpeg not found (apt-get install ffmpeg)%s\n",
                required ? " and TOLK_REQUIRE_BROWSER=1: failing" : ": skipping its part");
        return required ? 1 : TOLK_SKIP_CODE;
    }
    if (streams[MC].skipped[0])
        fprintf(stderr, "test_rtp: multicast stream %s SKIPPED: %s\n", streams[MC].id,
                streams[MC].skipped);
    tolk_harness_note("RTP and SRTP streams OK at %d ms frames%s", frame_ms,
                      streams[MC].skipped[0] ? " (multicast SKIPPED)" : ", multicast too");
    return 0;
}
