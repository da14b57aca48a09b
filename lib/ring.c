/* Lock-free SPSC byte ring (see include/tolk/ring.h).
 *
 * Threads: the producer owns `tail`, the consumer owns `head`; each reads the other's index with
 * acquire and publishes its own with release, so the bytes are visible before the index moves.
 * Indices run freely and wrap modulo 2^N; `mask` maps them into the buffer.
 */
#include "tolk/ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tolk_ring {
    _Alignas(64) atomic_size_t head; /* next byte to read: consumer-owned */
    _Alignas(64) atomic_size_t tail; /* next byte to write: producer-owned */
    _Alignas(64) size_t mask;
    uint8_t *data;
};

int tolk_ring_create(struct tolk_ring **out, size_t capacity)
{
    *out = NULL;
    if (capacity == 0 || capacity > (SIZE_MAX >> 2))
        return -EINVAL;
    size_t size = 1;
    while (size < capacity)
        size <<= 1;

    /* aligned_alloc: the indices sit on their own cache lines (no false sharing). */
    struct tolk_ring *ring = aligned_alloc(64, sizeof *ring);
    if (!ring)
        return -ENOMEM;
    memset(ring, 0, sizeof *ring);
    ring->data = malloc(size);
    if (!ring->data) {
        free(ring);
        return -ENOMEM;
    }
    ring->mask = size - 1;
    atomic_init(&ring->head, 0);
    atomic_init(&ring->tail, 0);
    *out = ring;
    return 0;
}

void tolk_ring_destroy(struct tolk_ring *ring)
{
    if (!ring)
        return;
    free(ring->data);
    free(ring);
}

size_t tolk_ring_capacity(const struct tolk_ring *ring)
{
    return ring->mask + 1;
}

size_t tolk_ring_readable(const struct tolk_ring *ring)
{
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    size_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    return tail - head;
}

size_t tolk_ring_writable(const struct tolk_ring *ring)
{
    size_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    return ring->mask + 1 - (tail - head);
}

/* Copies len bytes between the ring at index pos and a flat buffer, in at most two pieces. */
static void copy_out(const struct tolk_ring *ring, size_t pos, uint8_t *dst, size_t len)
{
    size_t offset = pos & ring->mask;
    size_t first = ring->mask + 1 - offset;
    if (first > len)
        first = len;
    memcpy(dst, ring->data + offset, first);
    memcpy(dst + first, ring->data, len - first);
}

static void copy_in(struct tolk_ring *ring, size_t pos, const uint8_t *src, size_t len)
{
    size_t offset = pos & ring->mask;
    size_t first = ring->mask + 1 - offset;
    if (first > len)
        first = len;
    memcpy(ring->data + offset, src, first);
    memcpy(ring->data, src + first, len - first);
}

size_t tolk_ring_write(struct tolk_ring *ring, const void *data, size_t len)
{
    if (len == 0 || tolk_ring_writable(ring) < len)
        return 0;
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    copy_in(ring, tail, data, len);
    atomic_store_explicit(&ring->tail, tail + len, memory_order_release);
    return len;
}

size_t tolk_ring_read(struct tolk_ring *ring, void *data, size_t len)
{
    if (len == 0 || tolk_ring_readable(ring) < len)
        return 0;
    size_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    copy_out(ring, head, data, len);
    atomic_store_explicit(&ring->head, head + len, memory_order_release);
    return len;
}

size_t tolk_ring_skip(struct tolk_ring *ring, size_t len)
{
    size_t available = tolk_ring_readable(ring);
    if (len > available)
        len = available;
    size_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    atomic_store_explicit(&ring->head, head + len, memory_order_release);
    return len;
}
