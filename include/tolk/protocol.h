/* Listener protocol v1: the binary audio frame (see docs/protocol.md).
 *
 * A binary WebSocket message from server to listener is a 16-byte big-endian header followed by
 * one or more Opus packets, each prefixed by its u16 length, consecutive in sequence. These helpers
 * pack and parse it; they are pure functions, safe on any thread.
 */
#ifndef TOLK_PROTOCOL_H
#define TOLK_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define TOLK_PROTOCOL_VERSION 1
#define TOLK_PROTOCOL_SUBPROTOCOL "tolk.listen.v1"
#define TOLK_FRAME_HEADER_SIZE 16
#define TOLK_FLAG_FALLBACK 0x01u      /* carrying the fallback: no live interpreter */
#define TOLK_FLAG_DISCONTINUITY 0x02u /* frames were skipped before this one */
#define TOLK_MAX_CLIENT_MESSAGE 16384 /* larger client messages are refused */
#define TOLK_OPUS_MAX_PACKET 1275     /* RFC 6716: the largest Opus packet */

struct tolk_frame_header {
    uint8_t version;
    uint8_t flags;
    uint16_t channel;    /* index in hello's channel list */
    uint32_t seq;        /* sequence number of the first packet */
    uint64_t capture_us; /* capture time of the first packet's first sample */
};

/* Writes the 16-byte header into out. */
void tolk_frame_pack_header(uint8_t *out, const struct tolk_frame_header *h);

/* Appends one length-prefixed packet at buf[*used]. Returns 0, or -ENOSPC if it does not fit
 * in cap, or -EINVAL if len is 0 or over TOLK_OPUS_MAX_PACKET. */
int tolk_frame_append_packet(uint8_t *buf, size_t cap, size_t *used, const uint8_t *pkt, size_t len);

/* Parses a whole message. On success fills h, points packets[i]/lengths[i] into msg for up to
 * max_packets packets, sets *count and returns 0. Returns TOLK_EPROTO for a short or
 * truncated message, a zero-length packet, an unknown version or more than max_packets packets. */
int tolk_frame_parse(const uint8_t *msg, size_t len, struct tolk_frame_header *h,
                     const uint8_t **packets, uint16_t *lengths, size_t max_packets, size_t *count);

#endif
