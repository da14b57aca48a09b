/* Jitter buffer of a receiver: Opus packets in by sequence number, one playout decision out per
 * frame, and the steering of the clock-drift resampler.
 *
 * Pure and single-threaded: one thread (the receiver's audio callback) owns a buffer and calls
 * every function but create/destroy; none of them allocates, locks, logs or blocks. Times are
 * passed in (µs, monotonic), so a test can simulate hours in milliseconds.
 *
 * Model. Packets carry consecutive sequence numbers, one Opus frame of frame_ms each. The
 * consumer pulls one decision per frame with tolk_jitter_next(): play this packet, decode the
 * next packet's in-band FEC, conceal (opus_decode with NULL), or silence (not started or
 * refilling). After each output period it calls tolk_jitter_tick() with the decoded samples it
 * still holds. The buffer measures each packet's delay, from its arrival to the output time
 * of its first sample (counted from the start of the consumer's period that plays it: a packet
 * is taken at most one output period before that), and tick() steers, through the ppm it
 * returns for the consumer's resampler, the delay of the fastest packets of the last second onto
 *   target = max(latency_ms, delay spread + output period + 3 ms) + underrun margin,
 * where the delay spread is max - min of the packets' delays over the last 5 s, less what the
 * buffer's own stretching, dropping and resampling changed meanwhile (the jitter as the
 * consumer sees it: a stall that holds up the sender and the consumer alike, as on one JACK
 * graph, cancels out), the output period is learnt from tick(), and the margin grows by
 * a period at each underrun (except in the first 2 s of play) and fades by 3 ms a minute. So
 * the slowest packets still arrive 3 ms before the consumer needs them. Measured against
 * arrival times, not against what is in hand at tick instants, the delay does not jump when
 * the arrivals' phase crosses the consumer's ticks. (The arrival jitter against the sequence
 * schedule decides only when a frame is overdue on a lossy transport.)
 * A packet that comes after its turn is dropped and counted (late). A frame missing at its
 * turn is concealed if a later packet is there (lost: from the next packet's FEC when enabled);
 * if nothing later is there it is an underrun: the play head conceals and waits on the frame
 * (stretching, so a packet that is only late still plays; with fec, a frame overdue by more
 * than the jitter and a frame is taken as lost instead), and refills after 200 ms. A delay
 * more than a frame over the target drops a frame; a jump of the sequence beyond max_ms
 * restarts at the live edge.
 */
#ifndef TOLK_JITTER_H
#define TOLK_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOLK_JITTER_MAX_PACKET 1275 /* RFC 6716: the largest Opus packet */

struct tolk_jitter;

struct tolk_jitter_config {
    int frame_ms;   /* duration of one packet: 2.5 is not supported; 5..60 (10 or 20 here) */
    int latency_ms; /* floor of the target low-water mark, 0..2000 */
    int max_ms;     /* more audio than this in hand restarts at the live edge; 0 = 1000 */
    int sample_rate; /* of the decoded audio, for tolk_jitter_tick()'s pending samples; 0 = 48000 */
    bool fec;       /* the packets may carry in-band FEC (RTP): use it for a lost frame */
};

enum tolk_jitter_action {
    TOLK_JITTER_SILENCE, /* not started, or refilling after a long gap: output silence */
    TOLK_JITTER_PLAY,    /* decode data (the frame due) */
    TOLK_JITTER_FEC,     /* decode data with decode_fec = 1: the next packet's copy of this frame */
    TOLK_JITTER_CONCEAL, /* decode NULL: packet loss concealment */
};

struct tolk_jitter_frame {
    enum tolk_jitter_action action;
    const uint8_t *data; /* PLAY/FEC: valid until the next call on this buffer */
    size_t len;
    uint32_t seq;        /* the frame's sequence number (SILENCE: none) */
    int64_t capture_us;  /* its capture time (0 if unknown, or for a concealed frame with no
                          * neighbour); wall clock of the sender */
    uint8_t flags;       /* the packet's flags (PLAY/FEC), else those of the last packet */
};

struct tolk_jitter_packet {
    uint32_t seq;       /* sequence number; wraps (a 16-bit RTP number must be extended first) */
    int64_t capture_us; /* capture time of its first sample, or 0 if unknown */
    int64_t arrival_us; /* when it arrived, monotonic */
    uint8_t flags;      /* opaque to the buffer, handed back with the frame */
    const uint8_t *data;
    size_t len;         /* 1..TOLK_JITTER_MAX_PACKET */
};

struct tolk_jitter_stats {
    uint64_t received;  /* packets stored */
    uint64_t played;    /* frames decoded from their own packet */
    uint64_t fec;       /* frames recovered from the next packet's FEC */
    uint64_t concealed; /* frames concealed (lost, or waiting on a late packet) */
    uint64_t late;      /* packets that came after their turn, dropped */
    uint64_t duplicate; /* packets already there, dropped */
    uint64_t dropped;   /* frames dropped to shed excess audio in hand */
    uint64_t resets;    /* restarts: tolk_jitter_reset() and jumps to the live edge */
    uint64_t underruns; /* times the play head had nothing to play */
    bool playing;
    double level_ms;    /* audio in hand after the last tick */
    double delay_ms;    /* buffer delay of the fastest packets over the last second */
    double target_ms;   /* the target of delay_ms */
    double jitter_ms;   /* spread of the packets' buffer delays over the last 5 s */
    double ppm;         /* last correction returned by tolk_jitter_tick() */
};

int tolk_jitter_create(struct tolk_jitter **out, const struct tolk_jitter_config *cfg);
void tolk_jitter_destroy(struct tolk_jitter *jb);

/* A new stream (reconnected, another channel, a new SSRC): forgets every packet and the jitter
 * history, keeps the counters; frame_ms may change (5..60, 0 = unchanged). The margin learnt
 * from underruns is kept. Returns -EINVAL for a bad frame_ms. */
int tolk_jitter_reset(struct tolk_jitter *jb, int frame_ms);

/* Stores a packet. Returns 0, -ESTALE if it came after its turn (counted late), -EEXIST for a
 * duplicate, -EINVAL for a bad length. A packet far ahead of the play head restarts the buffer
 * at it (counted in resets). */
int tolk_jitter_put(struct tolk_jitter *jb, const struct tolk_jitter_packet *p);

/* The decision for the next frame; always succeeds. now_us: monotonic, as for arrivals, the
 * start of the consumer's current period; offset: samples of that period's output that come
 * before this frame. */
void tolk_jitter_next(struct tolk_jitter *jb, int64_t now_us, int offset,
                      struct tolk_jitter_frame *out);

/* Once per output period, after it: pending = decoded samples the consumer still holds,
 * consumed = samples it took from the buffer's frames this period. Returns the resampling
 * correction in ppm: positive = consume faster (input rate / output rate = 1 + ppm × 1e-6). */
double tolk_jitter_tick(struct tolk_jitter *jb, int64_t now_us, int pending, int consumed);

void tolk_jitter_get_stats(const struct tolk_jitter *jb, struct tolk_jitter_stats *out);

#endif
