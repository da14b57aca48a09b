/* Listener protocol v1 binary framing (see include/tolk/protocol.h). Pure functions. */
#include "tolk/protocol.h"

#include <errno.h>
#include <string.h>

#include "tolk/error.h"

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
    return ((uint32_t)get_be16(p) << 16) | get_be16(p + 2);
}

static uint64_t get_be64(const uint8_t *p)
{
    return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

void tolk_frame_pack_header(uint8_t *out, const struct tolk_frame_header *h)
{
    out[0] = h->version;
    out[1] = h->flags;
    put_be16(out + 2, h->channel);
    put_be32(out + 4, h->seq);
    put_be64(out + 8, h->capture_us);
}

int tolk_frame_append_packet(uint8_t *buf, size_t cap, size_t *used, const uint8_t *pkt, size_t len)
{
    if (len == 0 || len > TOLK_OPUS_MAX_PACKET)
        return -EINVAL;
    if (*used > cap || cap - *used < 2 + len)
        return -ENOSPC;
    put_be16(buf + *used, (uint16_t)len);
    memcpy(buf + *used + 2, pkt, len);
    *used += 2 + len;
    return 0;
}

int tolk_frame_parse(const uint8_t *msg, size_t len, struct tolk_frame_header *h,
                     const uint8_t **packets, uint16_t *lengths, size_t max_packets, size_t *count)
{
    *count = 0;
    if (len < TOLK_FRAME_HEADER_SIZE + 2 || msg[0] != TOLK_PROTOCOL_VERSION)
        return TOLK_EPROTO;
    h->version = msg[0];
    h->flags = msg[1];
    h->channel = get_be16(msg + 2);
    h->seq = get_be32(msg + 4);
    h->capture_us = get_be64(msg + 8);

    size_t pos = TOLK_FRAME_HEADER_SIZE;
    size_t n = 0;
    while (pos < len) {
        if (len - pos < 2 || n == max_packets)
            return TOLK_EPROTO;
        uint16_t plen = get_be16(msg + pos);
        pos += 2;
        if (plen == 0 || plen > len - pos)
            return TOLK_EPROTO;
        packets[n] = msg + pos;
        lengths[n] = plen;
        n++;
        pos += plen;
    }
    *count = n;
    return 0;
}
