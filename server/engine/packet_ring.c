/* Per-channel packet ring: one writer (the engine thread), readers on any thread.
 *
 * Each slot is guarded by its own sequence word, a seqlock: the writer stores SLOT_BUSY, fills
 * the slot, then stores the packet's sequence number with release. A reader loads the word with
 * acquire, copies, then loads it again after an acquire fence; if either load differs from the
 * sequence it wants, the copy is discarded, so a reader never acts on a torn packet. (The copy
 * itself may race with the writer, as in every seqlock; the second check makes that harmless.)
 */
#include "engine/packet_ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tolk/protocol.h"

#define SLOT_BUSY UINT64_MAX

struct slot {
    atomic_uint_fast64_t seq; /* SLOT_BUSY while the writer fills it */
    int64_t capture_us;
    uint8_t flags;
    uint16_t len;
    uint8_t data[TOLK_OPUS_MAX_PACKET];
};

struct tolk_packet_ring {
    _Alignas(64) atomic_uint_fast64_t head; /* next sequence to push; written by the engine */
    unsigned mask;
    struct slot *slots;
};

int tolk_packet_ring_create(struct tolk_packet_ring **out, unsigned slots)
{
    *out = NULL;
    if (slots < 2 || slots > (1u << 20))
        return -EINVAL;
    unsigned n = 1;
    while (n < slots)
        n <<= 1;

    struct tolk_packet_ring *ring = aligned_alloc(64, sizeof *ring); /* head on its own line */
    if (!ring)
        return -ENOMEM;
    memset(ring, 0, sizeof *ring);
    ring->slots = calloc(n, sizeof *ring->slots);
    if (!ring->slots) {
        free(ring);
        return -ENOMEM;
    }
    ring->mask = n - 1;
    for (unsigned i = 0; i < n; i++)
        atomic_init(&ring->slots[i].seq, SLOT_BUSY);
    atomic_init(&ring->head, 0);
    *out = ring;
    return 0;
}

void tolk_packet_ring_destroy(struct tolk_packet_ring *ring)
{
    if (!ring)
        return;
    free(ring->slots);
    free(ring);
}

unsigned tolk_packet_ring_slots(const struct tolk_packet_ring *ring)
{
    return ring->mask + 1;
}

void tolk_packet_ring_push(struct tolk_packet_ring *ring, int64_t capture_us, uint8_t flags,
                           const uint8_t *data, size_t len)
{
    uint64_t seq = atomic_load_explicit(&ring->head, memory_order_relaxed);
    struct slot *s = &ring->slots[seq & ring->mask];

    atomic_store_explicit(&s->seq, SLOT_BUSY, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    if (len > TOLK_OPUS_MAX_PACKET)
        len = TOLK_OPUS_MAX_PACKET;
    s->capture_us = capture_us;
    s->flags = flags;
    s->len = (uint16_t)len;
    memcpy(s->data, data, len);
    atomic_store_explicit(&s->seq, seq, memory_order_release);
    atomic_store_explicit(&ring->head, seq + 1, memory_order_release);
}

uint64_t tolk_packet_ring_head(const struct tolk_packet_ring *ring)
{
    return atomic_load_explicit(&ring->head, memory_order_acquire);
}

int tolk_packet_ring_read(const struct tolk_packet_ring *ring, uint64_t seq, uint8_t *data,
                          size_t cap, struct tolk_packet_info *info)
{
    uint64_t head = tolk_packet_ring_head(ring);
    if (seq >= head)
        return -EAGAIN;
    if (head - seq > ring->mask + 1)
        return -ESPIPE;

    const struct slot *s = &ring->slots[seq & ring->mask];
    if (atomic_load_explicit(&s->seq, memory_order_acquire) != seq)
        return -ESPIPE;
    struct tolk_packet_info copy = {.capture_us = s->capture_us, .flags = s->flags, .len = s->len};
    if (copy.len > cap)
        copy.len = (uint16_t)cap;
    memcpy(data, s->data, copy.len);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&s->seq, memory_order_relaxed) != seq)
        return -ESPIPE;
    *info = copy;
    return 0;
}
