/* What tolk-receiver's threads share: the packet records that the network thread hands to the
 * audio callback through a lock-free ring (tolk/ring.h, one writer, one reader), and the
 * counters and levels that each thread publishes for the status line and the server report.
 *
 * Threads: the network thread (ws_input.c or rtp_input.c) is the ring's only writer and writes
 * the `net` fields; the PortAudio callback (playout.c) is the ring's only reader and writes the
 * `audio` fields; the main thread reads everything. Fields are relaxed atomics: each is a
 * figure on its own, and the status line may mix figures a few microseconds apart.
 */
#ifndef TOLK_RECEIVER_H
#define TOLK_RECEIVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tolk/jitter.h"
#include "tolk/ring.h"

#define TOLK_RX_RING_RECORDS 512 /* ≥ 5 s of 10 ms frames */
#define TOLK_RX_UNKNOWN INT32_MIN

enum tolk_rx_kind {
    TOLK_RX_PACKET, /* one Opus packet */
    TOLK_RX_RESET,  /* a new stream starts (connect, new SSRC, new frame length): frame_ms */
};

struct tolk_rx_record {
    uint8_t kind;
    uint8_t flags;      /* protocol flags (TOLK_FLAG_FALLBACK, ...) */
    uint16_t len;
    int32_t frame_ms;   /* RESET */
    uint32_t seq;
    int64_t capture_us; /* sender's wall clock; 0 = unknown */
    int64_t arrival_us; /* monotonic */
    uint8_t data[TOLK_JITTER_MAX_PACKET];
};

enum tolk_rx_link { TOLK_RX_CONNECTING, TOLK_RX_UP, TOLK_RX_DOWN, TOLK_RX_LISTENING };

struct tolk_rx_state {
    struct {
        atomic_int link; /* enum tolk_rx_link */
        atomic_int frame_ms;
        atomic_uint_fast64_t packets, malformed, srtp_failures, overflows, reconnects,
            sender_reports;
    } net;
    struct {
        atomic_uint_fast64_t callbacks, underruns, late, concealed, fec, dropped, resets;
        atomic_bool playing, fallback, flags_known;
        atomic_int buffer_us, target_us, jitter_us, latency_us, level_cdb, ppm_x10,
            decode_max_us;
    } audio;
};

/* Network thread: initialises the state's counters (main thread, before any thread starts). */
void tolk_rx_state_init(struct tolk_rx_state *s);
/* Network thread: writes a record; counts an overflow if the ring is full. */
void tolk_rx_push(struct tolk_ring *ring, struct tolk_rx_state *s, const struct tolk_rx_record *r);
/* Network thread: a RESET record. */
void tolk_rx_push_reset(struct tolk_ring *ring, struct tolk_rx_state *s, int frame_ms);

#endif
