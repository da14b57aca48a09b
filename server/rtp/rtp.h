/* RTP/SRTP egress: standard streams that other tools and larger distribution engines take.
 *
 * Each channel with an `rtp` destination is sent as one RTP stream (RFC 3550) of Opus packets
 * (RFC 7587: one frame per packet, 48 kHz timestamps), with RTCP sender reports on PORT+1 that
 * map a frame's capture time (wall clock, NTP format) to its RTP timestamp, and SRTP/SRTCP
 * (RFC 3711, AES_CM_128_HMAC_SHA1_80 with the channel's `srtp_key`) when a key is set.
 *
 * Threads: create/start/destroy on the main thread. One sender thread reads every streamed
 * channel's packet ring by sequence number (it never writes to it) and owns the sockets and
 * the SRTP sessions. tolk_rtp_wake() is the engine's way in: a non-blocking eventfd write.
 * The counters are atomics that any thread may read. tolk_rtp_sdp() and
 * tolk_rtp_destination() are pure functions of the config, any thread.
 */
#ifndef TOLK_RTP_RTP_H
#define TOLK_RTP_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct tolk_config;
struct tolk_channel_config;
struct tolk_engine;
struct tolk_rtp;

#define TOLK_RTP_CLOCK_RATE 48000 /* RFC 7587: always 48 kHz, whatever the audio bandwidth */
#define TOLK_RTP_SR_INTERVAL_MS 5000 /* between two RTCP sender reports of a stream */

struct tolk_rtp_stats {
    bool enabled;          /* the channel has an rtp destination */
    uint32_t ssrc;         /* the stream's SSRC now (random; a new one after each SRTP wrap) */
    uint64_t packets;      /* RTP packets sent */
    uint64_t bytes;        /* their UDP payload bytes (RTP header and SRTP tag included) */
    uint64_t send_errors;  /* RTP or RTCP packets the kernel refused or SRTP could not protect */
    uint64_t rtcp_packets; /* RTCP compound packets sent */
    uint64_t skipped;      /* frames never sent because the sender fell over a second behind */
};

/* Opens one UDP socket (and SRTP session) per channel with an `rtp` destination. Sets *out to
 * NULL and returns 0 when no channel has one; every function below accepts NULL. cfg and
 * engine must outlive the sender. On failure err names the channel. */
int tolk_rtp_create(struct tolk_rtp **out, const struct tolk_config *cfg,
                    struct tolk_engine *engine, char *err, size_t errlen);
/* Starts the sender thread at the live edge of every ring. */
int tolk_rtp_start(struct tolk_rtp *rtp);
/* Stops the thread (each stream says RTCP BYE) and frees everything. */
void tolk_rtp_destroy(struct tolk_rtp *rtp);

/* Any thread, never blocks: new packets are in the rings. Fits tolk_engine_start()'s hook. */
void tolk_rtp_wake(void *rtp);

/* Any thread: the counters of channel (index in cfg->channels); all zero if it is not streamed. */
void tolk_rtp_stats(const struct tolk_rtp *rtp, int channel, struct tolk_rtp_stats *out);

/* The socket addresses of a channel's RTP and RTCP (port + 1) destination. Returns 0, or
 * -ENOENT if the channel has no rtp destination, -EINVAL if it is not a numeric address. */
int tolk_rtp_destination(const struct tolk_channel_config *ch, struct sockaddr_storage *rtp,
                         struct sockaddr_storage *rtcp, socklen_t *addrlen, bool *multicast);

/* Writes the SDP (RFC 4566) of channel's stream into buf, NUL-terminated, CRLF line ends: what a
 * receiver (ffmpeg, GStreamer, Janus, tolk-receiver) needs to play it. Returns its length,
 * -ENOENT if the channel has no rtp destination, -ENOSPC if buf is too small. */
int tolk_rtp_sdp(const struct tolk_config *cfg, int channel, char *buf, size_t len);

#endif
