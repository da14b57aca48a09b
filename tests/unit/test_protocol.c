/* Unit tests of the listener protocol v1 binary framing (include/tolk/protocol.h): exact
 * big-endian layout, pack/parse round trips, and every kind of malformed message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "tolk/error.h"
#include "tolk/protocol.h"

#define MAX_PACKETS 8

static uint8_t msg[TOLK_FRAME_HEADER_SIZE + MAX_PACKETS * (2 + TOLK_OPUS_MAX_PACKET)];

struct parsed {
    struct tolk_frame_header h;
    const uint8_t *packets[MAX_PACKETS];
    uint16_t lengths[MAX_PACKETS];
    size_t count;
};

static int parse(const uint8_t *m, size_t len, struct parsed *p, size_t max)
{
    memset(p, 0, sizeof *p);
    p->count = 99;
    return tolk_frame_parse(m, len, &p->h, p->packets, p->lengths, max, &p->count);
}

static const struct tolk_frame_header known = {
    .version = TOLK_PROTOCOL_VERSION,
    .flags = TOLK_FLAG_FALLBACK | TOLK_FLAG_DISCONTINUITY,
    .channel = 0x0102,
    .seq = 0x03040506,
    .capture_us = 0x0708090A0B0C0D0EULL,
};

static void test_header_layout(void **state)
{
    uint8_t out[TOLK_FRAME_HEADER_SIZE + 1];
    memset(out, 0xEE, sizeof out);
    tolk_frame_pack_header(out, &known);
    const uint8_t expected[TOLK_FRAME_HEADER_SIZE] = {0x01, 0x03, 0x01, 0x02, 0x03, 0x04,
                                                      0x05, 0x06, 0x07, 0x08, 0x09, 0x0A,
                                                      0x0B, 0x0C, 0x0D, 0x0E};
    assert_memory_equal(out, expected, sizeof expected);
    assert_int_equal(out[TOLK_FRAME_HEADER_SIZE], 0xEE); /* nothing written past the header */

    /* Extreme values keep every bit. */
    struct tolk_frame_header h = {1, 0, 0xFFFF, 0xFFFFFFFFu, 0xFFFFFFFFFFFFFFFFULL};
    tolk_frame_pack_header(out, &h);
    for (int i = 2; i < TOLK_FRAME_HEADER_SIZE; i++)
        assert_int_equal(out[i], 0xFF);
}

static void test_round_trip_one(void **state)
{
    const uint8_t pkt[3] = {0xF8, 0xFF, 0xFE};
    size_t used = TOLK_FRAME_HEADER_SIZE;
    tolk_frame_pack_header(msg, &known);
    assert_int_equal(tolk_frame_append_packet(msg, sizeof msg, &used, pkt, sizeof pkt), 0);
    assert_int_equal(used, TOLK_FRAME_HEADER_SIZE + 2 + 3);
    assert_int_equal(msg[16], 0x00);
    assert_int_equal(msg[17], 0x03);

    struct parsed p;
    assert_int_equal(parse(msg, used, &p, MAX_PACKETS), 0);
    assert_int_equal(p.h.version, known.version);
    assert_int_equal(p.h.flags, known.flags);
    assert_int_equal(p.h.channel, known.channel);
    assert_int_equal(p.h.seq, known.seq);
    assert_int_equal(p.h.capture_us, known.capture_us);
    assert_int_equal(p.count, 1);
    assert_int_equal(p.lengths[0], 3);
    assert_ptr_equal(p.packets[0], msg + 18);
    assert_memory_equal(p.packets[0], pkt, 3);
}

static void test_round_trip_several(void **state)
{
    static uint8_t pkts[4][TOLK_OPUS_MAX_PACKET];
    const size_t lens[4] = {1, TOLK_OPUS_MAX_PACKET, 80, 256};
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < lens[k]; i++)
            pkts[k][i] = (uint8_t)(k * 50 + i * 3);

    struct tolk_frame_header h = {1, 0, 4, 1000, 1700000000000000ULL};
    tolk_frame_pack_header(msg, &h);
    size_t used = TOLK_FRAME_HEADER_SIZE;
    for (int k = 0; k < 4; k++)
        assert_int_equal(tolk_frame_append_packet(msg, sizeof msg, &used, pkts[k], lens[k]), 0);
    assert_int_equal(used, 16 + 4 * 2 + 1 + 1275 + 80 + 256);
    /* The second packet's length prefix, big-endian: 1275 = 0x04FB. */
    assert_int_equal(msg[16 + 3], 0x04);
    assert_int_equal(msg[16 + 4], 0xFB);

    struct parsed p;
    assert_int_equal(parse(msg, used, &p, MAX_PACKETS), 0);
    assert_int_equal(p.h.channel, 4);
    assert_int_equal(p.h.seq, 1000);
    assert_int_equal(p.h.capture_us, 1700000000000000ULL);
    assert_int_equal(p.count, 4);
    for (int k = 0; k < 4; k++) {
        assert_int_equal(p.lengths[k], lens[k]);
        assert_memory_equal(p.packets[k], pkts[k], lens[k]);
    }
    /* Exactly max_packets is fine; one fewer allowed is not. */
    assert_int_equal(parse(msg, used, &p, 4), 0);
    assert_int_equal(parse(msg, used, &p, 3), TOLK_EPROTO);
}

/* A valid message of two packets (5 and 2 bytes) to damage. */
static size_t build_two(void)
{
    const uint8_t a[5] = {1, 2, 3, 4, 5}, b[2] = {6, 7};
    size_t used = TOLK_FRAME_HEADER_SIZE;
    tolk_frame_pack_header(msg, &known);
    assert_int_equal(tolk_frame_append_packet(msg, sizeof msg, &used, a, sizeof a), 0);
    assert_int_equal(tolk_frame_append_packet(msg, sizeof msg, &used, b, sizeof b), 0);
    return used;
}

static void test_malformed(void **state)
{
    struct parsed p;
    size_t len = build_two();
    assert_int_equal(parse(msg, len, &p, MAX_PACKETS), 0);
    assert_int_equal(p.count, 2);

    /* Too short: empty, part of a header, a header with no packet, half a length prefix. */
    assert_int_equal(parse(msg, 0, &p, MAX_PACKETS), TOLK_EPROTO);
    assert_int_equal(parse(msg, 10, &p, MAX_PACKETS), TOLK_EPROTO);
    assert_int_equal(parse(msg, TOLK_FRAME_HEADER_SIZE, &p, MAX_PACKETS), TOLK_EPROTO);
    assert_int_equal(parse(msg, TOLK_FRAME_HEADER_SIZE + 1, &p, MAX_PACKETS), TOLK_EPROTO);
    assert_int_equal(p.count, 0);

    /* Truncated: the last packet or its prefix is cut. */
    for (size_t cut = 1; cut <= 3; cut++)
        assert_int_equal(parse(msg, len - cut, &p, MAX_PACKETS), TOLK_EPROTO);
    assert_int_equal(parse(msg, TOLK_FRAME_HEADER_SIZE + 2 + 4, &p, MAX_PACKETS), TOLK_EPROTO);

    /* Trailing garbage: one byte after the last packet is half a prefix. */
    msg[len] = 0;
    assert_int_equal(parse(msg, len + 1, &p, MAX_PACKETS), TOLK_EPROTO);

    /* More packets than the caller can take. */
    assert_int_equal(parse(msg, len, &p, 1), TOLK_EPROTO);

    /* A zero-length packet. */
    len = build_two();
    msg[16 + 2 + 5] = 0;
    msg[16 + 2 + 5 + 1] = 0;
    assert_int_equal(parse(msg, len, &p, MAX_PACKETS), TOLK_EPROTO);

    /* A length prefix larger than the message. */
    len = build_two();
    msg[16] = 0x01;
    assert_int_equal(parse(msg, len, &p, MAX_PACKETS), TOLK_EPROTO);

    /* Unknown versions. */
    const uint8_t versions[] = {0, 2, 0xFF};
    for (size_t i = 0; i < sizeof versions; i++) {
        len = build_two();
        msg[0] = versions[i];
        assert_int_equal(parse(msg, len, &p, MAX_PACKETS), TOLK_EPROTO);
    }
}

static void test_append_limits(void **state)
{
    static uint8_t big[TOLK_OPUS_MAX_PACKET + 1];
    uint8_t buf[64];
    size_t used = TOLK_FRAME_HEADER_SIZE;

    /* It fits exactly... */
    memset(buf, 0xAA, sizeof buf);
    assert_int_equal(tolk_frame_append_packet(buf, 16 + 2 + 10, &used, big, 10), 0);
    assert_int_equal(used, 28);
    /* ...one byte short: -ENOSPC, nothing written, used unchanged. */
    used = TOLK_FRAME_HEADER_SIZE;
    memset(buf, 0xAA, sizeof buf);
    assert_int_equal(tolk_frame_append_packet(buf, 16 + 2 + 10 - 1, &used, big, 10), -ENOSPC);
    assert_int_equal(used, TOLK_FRAME_HEADER_SIZE);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAA);
    /* A full buffer, and a used beyond cap. */
    used = sizeof buf;
    assert_int_equal(tolk_frame_append_packet(buf, sizeof buf, &used, big, 1), -ENOSPC);
    used = sizeof buf + 1;
    assert_int_equal(tolk_frame_append_packet(buf, sizeof buf, &used, big, 1), -ENOSPC);

    /* Packet sizes: 0 and over the Opus maximum are refused, the maximum is accepted. */
    used = TOLK_FRAME_HEADER_SIZE;
    assert_int_equal(tolk_frame_append_packet(msg, sizeof msg, &used, big, 0), -EINVAL);
    assert_int_equal(tolk_frame_append_packet(msg, sizeof msg, &used, big,
                                              TOLK_OPUS_MAX_PACKET + 1), -EINVAL);
    assert_int_equal(used, TOLK_FRAME_HEADER_SIZE);
    assert_int_equal(tolk_frame_append_packet(msg, sizeof msg, &used, big, TOLK_OPUS_MAX_PACKET),
                     0);
    assert_int_equal(used, TOLK_FRAME_HEADER_SIZE + 2 + TOLK_OPUS_MAX_PACKET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_round_trip_one),
        cmocka_unit_test(test_round_trip_several),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_append_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
