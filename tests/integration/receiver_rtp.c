/* The tests' RTP/SRTP sender (see receiver_rtp.h). Main thread of the test. */
#include "receiver_rtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <opus.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RATE 48000
#define FRAME 960
#define SRTP_ROOM 64 /* auth tag and SRTCP index */

struct tolk_rtp_sender {
    int fd;
    struct sockaddr_in rtp, rtcp;
    OpusEncoder *enc;
    srtp_t srtp;
    int pt;
    uint16_t seq;
    uint32_t ts0, ssrc;
    uint64_t frames; /* sent so far */
    int64_t t0_wall_us, t0_mono_ns;
    double phase, step;
    uint32_t packets, octets;
};

static int64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int setup_srtp(struct tolk_rtp_sender *s, const uint8_t *key)
{
    static uint8_t key_copy[30];
    memcpy(key_copy, key, 30);
    static bool initialised; /* libsrtp refuses a second srtp_init() */
    if (!initialised && srtp_init() != srtp_err_status_ok)
        return -EIO;
    initialised = true;
    srtp_policy_t pol;
    memset(&pol, 0, sizeof pol);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
    pol.ssrc.type = ssrc_any_outbound;
    pol.key = key_copy;
    pol.window_size = 128;
    return srtp_create(&s->srtp, &pol) == srtp_err_status_ok ? 0 : -EIO;
}

int tolk_rtp_sender_open(struct tolk_rtp_sender **out, int port, int payload_type,
                         const uint8_t *key, double tone_hz)
{
    *out = NULL;
    struct tolk_rtp_sender *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int err = 0;
    s->fd = socket(AF_INET, SOCK_DGRAM, 0);
    s->rtp = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    s->rtcp = s->rtp;
    s->rtcp.sin_port = htons((uint16_t)(port + 1));
    s->enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_VOIP, &err);
    if (s->fd < 0 || !s->enc || (key && setup_srtp(s, key) != 0)) {
        tolk_rtp_sender_close(s);
        return -EIO;
    }
    opus_encoder_ctl(s->enc, OPUS_SET_BITRATE(32000));
    opus_encoder_ctl(s->enc, OPUS_SET_INBAND_FEC(1));
    opus_encoder_ctl(s->enc, OPUS_SET_PACKET_LOSS_PERC(10));
    s->pt = payload_type;
    s->seq = (uint16_t)(rand() & 0x7FFF);
    s->ts0 = (uint32_t)rand();
    s->ssrc = (uint32_t)rand() | 1;
    s->t0_wall_us = now_ns(CLOCK_REALTIME) / 1000;
    s->t0_mono_ns = now_ns(CLOCK_MONOTONIC);
    s->step = 2 * M_PI * tone_hz / RATE;
    *out = s;
    return 0;
}

void tolk_rtp_sender_close(struct tolk_rtp_sender *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->enc)
        opus_encoder_destroy(s->enc);
    if (s->srtp)
        srtp_dealloc(s->srtp);
    free(s);
}

/* The next packet, plain: 12-byte header and one Opus frame. Returns its length. */
static int build(struct tolk_rtp_sender *s, uint8_t *pkt, size_t cap)
{
    float pcm[FRAME];
    for (int i = 0; i < FRAME; i++, s->phase += s->step)
        pcm[i] = (float)(0.251188643 * sin(s->phase));
    s->phase = fmod(s->phase, 2 * M_PI);
    int n = opus_encode_float(s->enc, pcm, FRAME, pkt + 12, (opus_int32)(cap - 12 - SRTP_ROOM));
    if (n <= 0)
        return -EIO;
    pkt[0] = 0x80;
    pkt[1] = (uint8_t)s->pt;
    pkt[2] = (uint8_t)(s->seq >> 8);
    pkt[3] = (uint8_t)s->seq;
    put32(pkt + 4, s->ts0 + (uint32_t)(s->frames * FRAME));
    put32(pkt + 8, s->ssrc);
    s->seq++;
    s->frames++;
    return 12 + n;
}

static int send_to(struct tolk_rtp_sender *s, uint8_t *pkt, int len, bool rtcp)
{
    if (s->srtp) {
        srtp_err_status_t st = rtcp ? srtp_protect_rtcp(s->srtp, pkt, &len)
                                    : srtp_protect(s->srtp, pkt, &len);
        if (st != srtp_err_status_ok)
            return -EIO;
    }
    const struct sockaddr_in *to = rtcp ? &s->rtcp : &s->rtp;
    return sendto(s->fd, pkt, (size_t)len, 0, (const struct sockaddr *)to, sizeof *to) == len ? 0
                                                                                           : -errno;
}

int tolk_rtp_sender_send_frames(struct tolk_rtp_sender *s, int count)
{
    for (int i = 0; i < count; i++) {
        int64_t due = s->t0_mono_ns + (int64_t)s->frames * 20000000;
        struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        uint32_t pkt[400];
        int len = build(s, (uint8_t *)pkt, sizeof pkt);
        if (len < 0)
            return len;
        s->packets++;
        s->octets += (uint32_t)(len - 12);
        int rc = send_to(s, (uint8_t *)pkt, len, false);
        if (rc)
            return rc;
    }
    return 0;
}

int tolk_rtp_sender_send_report(struct tolk_rtp_sender *s)
{
    uint32_t words[32];
    uint8_t *p = (uint8_t *)words;
    int64_t capture_us = s->t0_wall_us + (int64_t)s->frames * 20000;
    uint64_t secs = (uint64_t)(capture_us / 1000000) + 2208988800ULL;
    uint64_t frac = ((uint64_t)(capture_us % 1000000) << 32) / 1000000;
    p[0] = 0x80;
    p[1] = 200;
    p[2] = 0;
    p[3] = 6; /* 7 words */
    put32(p + 4, s->ssrc);
    put32(p + 8, (uint32_t)secs);
    put32(p + 12, (uint32_t)frac);
    put32(p + 16, s->ts0 + (uint32_t)(s->frames * FRAME));
    put32(p + 20, s->packets);
    put32(p + 24, s->octets);
    return send_to(s, p, 28, true);
}

int tolk_rtp_sender_send_raw(struct tolk_rtp_sender *s, const void *data, size_t len)
{
    return sendto(s->fd, data, len, 0, (const struct sockaddr *)&s->rtp, sizeof s->rtp) ==
                   (ssize_t)len
               ? 0
               : -errno;
}

int tolk_rtp_sender_send_with_header(struct tolk_rtp_sender *s, uint8_t b0, uint8_t b1)
{
    uint32_t pkt[400];
    int len = build(s, (uint8_t *)pkt, sizeof pkt);
    if (len < 0)
        return len;
    s->seq--; /* not part of the stream */
    s->frames--;
    ((uint8_t *)pkt)[0] = b0;
    ((uint8_t *)pkt)[1] = b1;
    return tolk_rtp_sender_send_raw(s, pkt, (size_t)len);
}
