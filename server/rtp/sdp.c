/* The SDP (RFC 4566) of a channel's RTP stream, as `tolk-server --sdp CHANNEL` prints it.
 *
 * Declarative SDP: it describes what the server sends, for a receiver that opens it (ffmpeg,
 * GStreamer's sdpdemux, VLC, tolk-receiver) or for an operator who copies its values into a
 * relay's configuration (a Janus streaming mountpoint). Opus per RFC 7587: always
 * opus/48000/2 in a=rtpmap, mono said by sprop-stereo=0. The SSRC is chosen at random when the
 * server starts, so it is not in the SDP: receivers must take any SSRC. A pure function of the
 * configuration; any thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "rtp/rtp.h"

#ifndef TOLK_VERSION
#define TOLK_VERSION "unknown"
#endif

struct text {
    char *buf;
    size_t len, used;
    bool overflow;
};

__attribute__((format(printf, 2, 3)))
static void line(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = t->used < t->len ? vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap) : -1;
    va_end(ap);
    if (n < 0 || (size_t)n + 2 >= t->len - t->used) {
        t->overflow = true;
        t->used = t->len;
        return;
    }
    t->used += (size_t)n;
    memcpy(t->buf + t->used, "\r\n", 3);
    t->used += 2;
}

/* A session id that stays the same for the same channel and destination (FNV-1a), so two
 * runs of --sdp print the same file. */
static unsigned long long session_id(const struct tolk_channel_config *ch)
{
    char key[128];
    snprintf(key, sizeof key, "%s %s %d", ch->id, ch->rtp_host, ch->rtp_port);
    unsigned long long h = 14695981039346656037ull;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h >> 1; /* fits a signed 64-bit parser too */
}

int tolk_rtp_sdp(const struct tolk_config *cfg, int channel, char *buf, size_t len)
{
    if (channel < 0 || channel >= cfg->channel_count)
        return -ENOENT;
    const struct tolk_channel_config *ch = &cfg->channels[channel];
    struct sockaddr_storage rtp, rtcp;
    socklen_t addrlen;
    bool multicast;
    if (tolk_rtp_destination(ch, &rtp, &rtcp, &addrlen, &multicast) < 0)
        return -ENOENT;
    const char *ip = rtp.ss_family == AF_INET6 ? "IP6" : "IP4";
    char ttl[16] = ""; /* RFC 4566: IPv4 multicast carries its TTL; IPv6 has none */
    if (multicast && rtp.ss_family == AF_INET)
        snprintf(ttl, sizeof ttl, "/%d", ch->rtp_ttl);
    int pt = ch->rtp_payload_type;
    struct text t = {.buf = buf, .len = len};
    if (len > 0)
        buf[0] = '\0';

    line(&t, "v=0");
    line(&t, "o=- %llu 1 IN %s %s", session_id(ch), ip,
         rtp.ss_family == AF_INET6 ? "::1" : "127.0.0.1");
    line(&t, "s=%s", ch->name[0] ? ch->name : ch->id);
    line(&t, "i=tolk channel %s%s%s", ch->id, ch->lang[0] ? ", language " : "", ch->lang);
    line(&t, "c=IN %s %s%s", ip, ch->rtp_host, ttl);
    line(&t, "t=0 0");
    line(&t, "a=tool:tolk-server %s", TOLK_VERSION);
    line(&t, "a=recvonly");
    if (ch->lang[0])
        line(&t, "a=lang:%s", ch->lang);
    line(&t, "m=audio %d RTP/%s %d", ch->rtp_port, ch->srtp_key[0] ? "SAVP" : "AVP", pt);
    line(&t, "a=rtpmap:%d opus/%d/2", pt, TOLK_RTP_CLOCK_RATE);
    line(&t, "a=fmtp:%d sprop-stereo=0;stereo=0;useinbandfec=%d;sprop-maxcapturerate=%d", pt,
         cfg->fec ? 1 : 0, cfg->sample_rate);
    line(&t, "a=ptime:%d", cfg->frame_ms);
    line(&t, "a=maxptime:%d", cfg->frame_ms);
    line(&t, "a=rtcp:%d", ch->rtp_port + 1);
    if (ch->srtp_key[0])
        line(&t, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s", ch->srtp_key);
    return t.overflow ? -ENOSPC : (int)t.used;
}
