/* Unit tests of the per-channel packet ring (server/engine/packet_ring.h): push and read,
 * -EAGAIN for packets not pushed yet, -ESPIPE for overwritten ones, head, and one writer thread
 * against two reader threads checking that no packet read successfully is ever torn. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "engine/packet_ring.h"
#include "tolk/protocol.h"

/* Packet seq's content is a function of seq alone, so a reader can check what it got. */
static size_t packet_len(uint64_t seq)
{
    return 8 + (size_t)((seq * 7919) % (TOLK_OPUS_MAX_PACKET - 8 + 1));
}

static void make_packet(uint64_t seq, uint8_t *buf, size_t *len)
{
    *len = packet_len(seq);
    memcpy(buf, &seq, 8);
    for (size_t i = 8; i < *len; i++)
        buf[i] = (uint8_t)(seq * 131 + i);
}

static int64_t packet_capture(uint64_t seq)
{
    return 1700000000000000 + (int64_t)seq * 20000;
}

static uint8_t packet_flags(uint64_t seq)
{
    return (uint8_t)(seq & 3);
}

static void push(struct tolk_packet_ring *ring, uint64_t seq)
{
    uint8_t buf[TOLK_OPUS_MAX_PACKET];
    size_t len;
    make_packet(seq, buf, &len);
    tolk_packet_ring_push(ring, packet_capture(seq), packet_flags(seq), buf, len);
}

/* True if data and info are exactly packet seq. */
static bool is_packet(uint64_t seq, const uint8_t *data, const struct tolk_packet_info *info)
{
    uint8_t want[TOLK_OPUS_MAX_PACKET];
    size_t len;
    make_packet(seq, want, &len);
    return info->len == len && info->capture_us == packet_capture(seq) &&
           info->flags == packet_flags(seq) && memcmp(data, want, len) == 0;
}

static void test_create(void **state)
{
    struct tolk_packet_ring *ring = NULL;
    assert_int_equal(tolk_packet_ring_create(&ring, 5), 0);
    assert_non_null(ring);
    assert_int_equal(tolk_packet_ring_slots(ring), 8);
    assert_int_equal(tolk_packet_ring_head(ring), 0);
    tolk_packet_ring_destroy(ring);
    assert_int_equal(tolk_packet_ring_create(&ring, 64), 0);
    assert_int_equal(tolk_packet_ring_slots(ring), 64);
    tolk_packet_ring_destroy(ring);
    tolk_packet_ring_destroy(NULL); /* a no-op */
}

static void test_push_read(void **state)
{
    struct tolk_packet_ring *ring;
    assert_int_equal(tolk_packet_ring_create(&ring, 8), 0);
    uint8_t data[TOLK_OPUS_MAX_PACKET];
    struct tolk_packet_info info;
    assert_int_equal(tolk_packet_ring_read(ring, 0, data, sizeof data, &info), -EAGAIN);

    for (uint64_t seq = 0; seq < 3; seq++)
        push(ring, seq);
    assert_int_equal(tolk_packet_ring_head(ring), 3);
    for (uint64_t seq = 0; seq < 3; seq++) {
        memset(data, 0, sizeof data);
        memset(&info, 0, sizeof info);
        assert_int_equal(tolk_packet_ring_read(ring, seq, data, sizeof data, &info), 0);
        assert_true(is_packet(seq, data, &info));
    }
    /* Reading does not consume: every reader reads the same packet. */
    assert_int_equal(tolk_packet_ring_read(ring, 1, data, sizeof data, &info), 0);
    assert_true(is_packet(1, data, &info));
    assert_false(is_packet(2, data, &info));

    /* Not pushed yet. */
    assert_int_equal(tolk_packet_ring_read(ring, 3, data, sizeof data, &info), -EAGAIN);
    assert_int_equal(tolk_packet_ring_read(ring, 1000, data, sizeof data, &info), -EAGAIN);

    /* The largest packet. */
    uint8_t big[TOLK_OPUS_MAX_PACKET];
    memset(big, 0x5A, sizeof big);
    tolk_packet_ring_push(ring, 42, TOLK_FLAG_FALLBACK, big, sizeof big);
    assert_int_equal(tolk_packet_ring_read(ring, 3, data, sizeof data, &info), 0);
    assert_int_equal(info.len, TOLK_OPUS_MAX_PACKET);
    assert_int_equal(info.capture_us, 42);
    assert_int_equal(info.flags, TOLK_FLAG_FALLBACK);
    assert_memory_equal(data, big, sizeof big);
    tolk_packet_ring_destroy(ring);
}

static void test_overwritten(void **state)
{
    struct tolk_packet_ring *ring;
    assert_int_equal(tolk_packet_ring_create(&ring, 4), 0);
    uint8_t data[TOLK_OPUS_MAX_PACKET];
    struct tolk_packet_info info;
    for (uint64_t seq = 0; seq < 10; seq++)
        push(ring, seq);
    assert_int_equal(tolk_packet_ring_head(ring), 10);
    /* The last 4 are kept; older ones are gone, even though their slot holds a packet. */
    for (uint64_t seq = 0; seq < 6; seq++)
        assert_int_equal(tolk_packet_ring_read(ring, seq, data, sizeof data, &info), -ESPIPE);
    for (uint64_t seq = 6; seq < 10; seq++) {
        assert_int_equal(tolk_packet_ring_read(ring, seq, data, sizeof data, &info), 0);
        assert_true(is_packet(seq, data, &info));
    }
    assert_int_equal(tolk_packet_ring_read(ring, 10, data, sizeof data, &info), -EAGAIN);
    tolk_packet_ring_destroy(ring);
}

#define PUSHES 300000u

struct shared {
    struct tolk_packet_ring *ring;
    atomic_bool done;
};

struct reader {
    struct shared *shared;
    uint64_t good, torn, overwritten, first_torn;
    int bad_rc; /* a result the header does not allow, 0 if none */
};

static void *writer_main(void *arg)
{
    struct shared *s = arg;
    for (uint64_t seq = 0; seq < PUSHES; seq++) {
        push(s->ring, seq);
        if (seq % 32 == 0)
            sched_yield(); /* let the readers keep up often enough to read some */
    }
    atomic_store(&s->done, true);
    return NULL;
}

/* Reads every packet it can in order; on -ESPIPE jumps to a recent one. */
static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct tolk_packet_ring *ring = r->shared->ring;
    uint8_t data[TOLK_OPUS_MAX_PACKET];
    struct tolk_packet_info info;
    uint64_t next = 0;
    while (next < PUSHES) {
        int rc = tolk_packet_ring_read(ring, next, data, sizeof data, &info);
        if (rc == 0) {
            if (is_packet(next, data, &info))
                r->good++;
            else if (r->torn++ == 0)
                r->first_torn = next;
            next++;
        } else if (rc == -ESPIPE) {
            r->overwritten++;
            uint64_t head = tolk_packet_ring_head(ring);
            next = head > next + 3 ? head - 2 : next + 1;
        } else if (rc == -EAGAIN) {
            if (atomic_load(&r->shared->done) && next >= tolk_packet_ring_head(ring))
                break;
            sched_yield();
        } else {
            r->bad_rc = rc; /* cmocka's failures must stay on the main thread */
            break;
        }
    }
    return NULL;
}

/* A small ring makes the writer overwrite slots while readers copy them. */
static void test_concurrent_no_torn_packets(void **state)
{
    struct shared s = {0};
    assert_int_equal(tolk_packet_ring_create(&s.ring, 8), 0);
    atomic_init(&s.done, false);
    struct reader readers[2] = {{.shared = &s}, {.shared = &s}};
    pthread_t w, r[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&r[i], NULL, reader_main, &readers[i]), 0);
    assert_int_equal(pthread_create(&w, NULL, writer_main, &s), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(r[i], NULL);

    assert_int_equal(tolk_packet_ring_head(s.ring), PUSHES);
    for (int i = 0; i < 2; i++) {
        print_message("reader %d: %llu good, %llu overwritten\n", i,
                      (unsigned long long)readers[i].good,
                      (unsigned long long)readers[i].overwritten);
        assert_int_equal(readers[i].bad_rc, 0);
        if (readers[i].torn)
            fail_msg("reader %d got %llu torn packets, the first seq %llu", i,
                     (unsigned long long)readers[i].torn,
                     (unsigned long long)readers[i].first_torn);
        assert_true(readers[i].good > 0);
    }
    tolk_packet_ring_destroy(s.ring);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_push_read),
        cmocka_unit_test(test_overwritten),
        cmocka_unit_test(test_concurrent_no_torn_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
