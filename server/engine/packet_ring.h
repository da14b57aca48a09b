/* Per-channel ring of encoded packets: one writer, any number of readers on any threads.
 *
 * The engine thread pushes one Opus packet per frame; every listener on every network thread
 * reads from it by sequence number without locks. Each slot carries its sequence number as a
 * seqlock: the writer invalidates it, writes, then publishes it; a reader copies and checks the
 * number again, so a packet overwritten during the copy is detected, never delivered torn.
 * Listeners share packets: per listener state is only its next sequence number.
 */
#ifndef TOLK_ENGINE_PACKET_RING_H
#define TOLK_ENGINE_PACKET_RING_H

#include <stddef.h>
#include <stdint.h>

struct tolk_packet_ring;

struct tolk_packet_info {
    int64_t capture_us; /* wall time of the first sample */
    uint8_t flags;      /* TOLK_FLAG_* */
    uint16_t len;
};

/* slots is rounded up to a power of two. Main thread. */
int tolk_packet_ring_create(struct tolk_packet_ring **out, unsigned slots);
void tolk_packet_ring_destroy(struct tolk_packet_ring *ring);
unsigned tolk_packet_ring_slots(const struct tolk_packet_ring *ring);

/* Writer (engine thread) only. len <= TOLK_OPUS_MAX_PACKET. */
void tolk_packet_ring_push(struct tolk_packet_ring *ring, int64_t capture_us, uint8_t flags,
                           const uint8_t *data, size_t len);

/* Any thread: the sequence number the next push will get (= packets pushed so far). */
uint64_t tolk_packet_ring_head(const struct tolk_packet_ring *ring);

/* Any thread: copies packet seq into data (cap >= TOLK_OPUS_MAX_PACKET).
 * Returns 0, -EAGAIN if it is not pushed yet, or -ESPIPE if it was overwritten. */
int tolk_packet_ring_read(const struct tolk_packet_ring *ring, uint64_t seq, uint8_t *data,
                          size_t cap, struct tolk_packet_info *info);

#endif
