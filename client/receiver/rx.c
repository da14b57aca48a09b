/* Records from the network thread to the audio callback (see receiver.h). The push functions
 * run on the network thread; tolk_rx_state_init on the main thread before threads start. */
#include "receiver.h"

#include <stddef.h>
#include <string.h>

void tolk_rx_state_init(struct tolk_rx_state *s)
{
    memset(s, 0, sizeof *s);
    atomic_store(&s->net.link, TOLK_RX_CONNECTING);
    atomic_store(&s->audio.latency_us, TOLK_RX_UNKNOWN);
    atomic_store(&s->audio.level_cdb, -20000);
}

void tolk_rx_push(struct tolk_ring *ring, struct tolk_rx_state *s, const struct tolk_rx_record *r)
{
    /* Only the used part of data matters, but fixed-size records keep the reader simple. */
    if (tolk_ring_write(ring, r, sizeof *r) != sizeof *r)
        atomic_fetch_add_explicit(&s->net.overflows, 1, memory_order_relaxed);
}

void tolk_rx_push_reset(struct tolk_ring *ring, struct tolk_rx_state *s, int frame_ms)
{
    struct tolk_rx_record r;
    memset(&r, 0, offsetof(struct tolk_rx_record, data));
    r.kind = TOLK_RX_RESET;
    r.frame_ms = frame_ms;
    tolk_rx_push(ring, s, &r);
}
