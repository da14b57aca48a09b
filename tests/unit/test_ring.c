/* Unit tests of the SPSC byte ring (include/tolk/ring.h, lib/ring.c): basics, capacity
 * rounding, all-or-nothing writes and reads, wrap-around, skip, and a producer and a consumer
 * thread moving millions of bytes of a known sequence in chunks of varying size. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "tolk/ring.h"

/* The byte at stream position i: a hash, so a lost, repeated or reordered chunk shows. */
static uint8_t seq_byte(uint64_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13 ^ i);
}

static void fill_seq(uint8_t *buf, uint64_t start, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = seq_byte(start + i);
}

static void test_create_and_capacity_rounding(void **state)
{
    const size_t asked[] = {1, 2, 3, 100, 128, 129, 4096, 4097};
    const size_t rounded[] = {1, 2, 4, 128, 128, 256, 4096, 8192};
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        struct tolk_ring *ring = NULL;
        assert_int_equal(tolk_ring_create(&ring, asked[i]), 0);
        assert_non_null(ring);
        assert_int_equal(tolk_ring_capacity(ring), rounded[i]);
        assert_int_equal(tolk_ring_writable(ring), rounded[i]);
        assert_int_equal(tolk_ring_readable(ring), 0);
        tolk_ring_destroy(ring);
    }
    struct tolk_ring *ring = (struct tolk_ring *)&ring;
    assert_int_equal(tolk_ring_create(&ring, 0), -EINVAL);
    assert_null(ring);
    tolk_ring_destroy(NULL); /* a no-op */
}

static void test_basics(void **state)
{
    struct tolk_ring *ring;
    assert_int_equal(tolk_ring_create(&ring, 100), 0);
    uint8_t in[64], out[64];
    fill_seq(in, 0, sizeof in);

    assert_int_equal(tolk_ring_write(ring, in, 10), 10);
    assert_int_equal(tolk_ring_readable(ring), 10);
    assert_int_equal(tolk_ring_writable(ring), 118);
    assert_int_equal(tolk_ring_write(ring, in + 10, 54), 54);
    assert_int_equal(tolk_ring_readable(ring), 64);

    memset(out, 0, sizeof out);
    assert_int_equal(tolk_ring_read(ring, out, 20), 20);
    assert_memory_equal(out, in, 20);
    assert_int_equal(tolk_ring_read(ring, out, 44), 44);
    assert_memory_equal(out, in + 20, 44);
    assert_int_equal(tolk_ring_readable(ring), 0);
    assert_int_equal(tolk_ring_writable(ring), 128);

    /* Zero-length transfers move nothing. */
    assert_int_equal(tolk_ring_write(ring, in, 0), 0);
    assert_int_equal(tolk_ring_read(ring, out, 0), 0);
    assert_int_equal(tolk_ring_readable(ring), 0);
    tolk_ring_destroy(ring);
}

static void test_all_or_nothing(void **state)
{
    struct tolk_ring *ring;
    assert_int_equal(tolk_ring_create(&ring, 128), 0);
    uint8_t in[200], out[200];
    fill_seq(in, 0, sizeof in);

    assert_int_equal(tolk_ring_write(ring, in, 100), 100);
    /* 29 bytes do not fit in the 28 left: nothing is written. */
    assert_int_equal(tolk_ring_write(ring, in + 100, 29), 0);
    assert_int_equal(tolk_ring_readable(ring), 100);
    assert_int_equal(tolk_ring_write(ring, in + 100, 28), 28);
    assert_int_equal(tolk_ring_writable(ring), 0);
    assert_int_equal(tolk_ring_write(ring, in, 1), 0);
    /* More than capacity never fits. */
    assert_int_equal(tolk_ring_write(ring, in, 129), 0);

    /* Reading more than is there reads nothing. */
    assert_int_equal(tolk_ring_read(ring, out, 129), 0);
    assert_int_equal(tolk_ring_readable(ring), 128);
    assert_int_equal(tolk_ring_read(ring, out, 128), 128);
    assert_memory_equal(out, in, 128);
    assert_int_equal(tolk_ring_read(ring, out, 1), 0);
    tolk_ring_destroy(ring);
}

static void test_wrap_around(void **state)
{
    struct tolk_ring *ring;
    assert_int_equal(tolk_ring_create(&ring, 16), 0);
    uint8_t in[16], out[16];
    uint64_t written = 0, read = 0;
    /* Record sizes that do not divide 16 make every split point of the buffer occur. */
    for (int round = 0; round < 1000; round++) {
        size_t len = 1 + (size_t)round % 13;
        fill_seq(in, written, len);
        assert_int_equal(tolk_ring_write(ring, in, len), len);
        written += len;
        /* Drained to at most 3 bytes, so the next record (up to 13) always fits. */
        if (tolk_ring_readable(ring) > 3 || round % 3 == 0) {
            size_t n = tolk_ring_readable(ring);
            assert_int_equal(tolk_ring_read(ring, out, n), n);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(out[i], seq_byte(read + i));
            read += n;
        }
    }
    assert_true(written > 1000 * 6);
    tolk_ring_destroy(ring);
}

static void test_skip(void **state)
{
    struct tolk_ring *ring;
    assert_int_equal(tolk_ring_create(&ring, 32), 0);
    uint8_t in[32], out[32];
    fill_seq(in, 0, sizeof in);
    assert_int_equal(tolk_ring_skip(ring, 5), 0); /* nothing to skip */

    assert_int_equal(tolk_ring_write(ring, in, 10), 10);
    assert_int_equal(tolk_ring_skip(ring, 4), 4);
    assert_int_equal(tolk_ring_readable(ring), 6);
    assert_int_equal(tolk_ring_read(ring, out, 3), 3);
    assert_memory_equal(out, in + 4, 3);
    /* Skipping more than is there drops what is there. */
    assert_int_equal(tolk_ring_skip(ring, 100), 3);
    assert_int_equal(tolk_ring_readable(ring), 0);
    assert_int_equal(tolk_ring_writable(ring), 32);

    /* Skip across the wrap point. */
    assert_int_equal(tolk_ring_write(ring, in, 30), 30);
    assert_int_equal(tolk_ring_skip(ring, 25), 25);
    assert_int_equal(tolk_ring_write(ring, in, 20), 20);
    assert_int_equal(tolk_ring_skip(ring, 8), 8);
    assert_int_equal(tolk_ring_read(ring, out, 17), 17);
    assert_memory_equal(out, in + 3, 17);
    tolk_ring_destroy(ring);
}

#define STREAM_BYTES (6u * 1000 * 1000)

struct stream {
    struct tolk_ring *ring;
    uint64_t mismatches;
    uint64_t first_bad; /* position of the first wrong byte */
    uint64_t received;
};

static size_t next_chunk(unsigned *rng, size_t max)
{
    *rng = *rng * 1103515245u + 12345u;
    unsigned r = *rng >> 16;
    /* Mostly mid-size, sometimes single bytes, sometimes large. */
    if (r % 8 == 0)
        return 1;
    return 1 + r % max;
}

static void *producer(void *arg)
{
    struct stream *s = arg;
    uint8_t buf[1024];
    unsigned rng = 1;
    for (uint64_t pos = 0; pos < STREAM_BYTES;) {
        size_t len = next_chunk(&rng, 700);
        if (len > STREAM_BYTES - pos)
            len = STREAM_BYTES - pos;
        fill_seq(buf, pos, len);
        while (tolk_ring_write(s->ring, buf, len) == 0)
            sched_yield();
        pos += len;
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct stream *s = arg;
    uint8_t buf[1024];
    unsigned rng = 7;
    for (uint64_t pos = 0; pos < STREAM_BYTES;) {
        size_t len = next_chunk(&rng, 900);
        if (len > STREAM_BYTES - pos)
            len = STREAM_BYTES - pos;
        while (tolk_ring_read(s->ring, buf, len) == 0)
            sched_yield();
        for (size_t i = 0; i < len; i++) {
            if (buf[i] != seq_byte(pos + i) && s->mismatches++ == 0)
                s->first_bad = pos + i;
        }
        pos += len;
        s->received = pos;
    }
    return NULL;
}

/* Chunks of up to 700 and 900 bytes through 2048 bytes: neither side can block the other. */
static void test_concurrent_stream(void **state)
{
    struct stream s = {0};
    assert_int_equal(tolk_ring_create(&s.ring, 2048), 0);
    pthread_t prod, cons;
    assert_int_equal(pthread_create(&cons, NULL, consumer, &s), 0);
    assert_int_equal(pthread_create(&prod, NULL, producer, &s), 0);
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    if (s.mismatches)
        fail_msg("%llu wrong bytes, the first at %llu", (unsigned long long)s.mismatches,
                 (unsigned long long)s.first_bad);
    assert_int_equal(s.received, STREAM_BYTES);
    assert_int_equal(tolk_ring_readable(s.ring), 0);
    tolk_ring_destroy(s.ring);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_capacity_rounding),
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_wrap_around),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_concurrent_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
