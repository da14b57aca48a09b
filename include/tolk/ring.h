/* A lock-free single-producer single-consumer byte ring.
 *
 * One thread writes, one other thread reads; neither ever blocks, locks or allocates, so the
 * writer may be a real-time audio callback. Writes and reads are all-or-nothing, so a ring of
 * fixed-size records (audio frames) never splits a record. Capacity is rounded up to a power of
 * two. create() and destroy() allocate and must not run while either side is active.
 */
#ifndef TOLK_RING_H
#define TOLK_RING_H

#include <stddef.h>

struct tolk_ring;

int tolk_ring_create(struct tolk_ring **out, size_t capacity);
void tolk_ring_destroy(struct tolk_ring *ring);

size_t tolk_ring_capacity(const struct tolk_ring *ring);
/* Producer side. Returns len if all of data was written, 0 if it did not fit (nothing written). */
size_t tolk_ring_write(struct tolk_ring *ring, const void *data, size_t len);
size_t tolk_ring_writable(const struct tolk_ring *ring);
/* Consumer side. Returns len if len bytes were read, 0 if fewer were available (nothing read). */
size_t tolk_ring_read(struct tolk_ring *ring, void *data, size_t len);
/* Consumer side: drops up to len bytes, returns how many were dropped. */
size_t tolk_ring_skip(struct tolk_ring *ring, size_t len);
size_t tolk_ring_readable(const struct tolk_ring *ring);

#endif
