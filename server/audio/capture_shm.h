/* Private to server/audio: the memory tolk-server shares with its capture child process.
 *
 * Processes and threads:
 * - The parent's supervisor thread (device.c) creates it (a memfd), fills the header, and between
 *   two children (none running) repairs what a killed child may have left half-done.
 * - The capture child (capture_child.c, the same binary re-executed) maps it: its main thread
 *   reports the device's state, its PortAudio callback writes the ring and the counters.
 * - The parent's engine thread is the ring's only reader (head).
 * C11 lock-free atomics on a MAP_SHARED mapping order memory between the processes as between
 * threads. The ring is a byte SPSC queue in data[]: tail counts every byte ever written, head
 * every byte ever read; both only grow, so tail is also the stream position a flush refers to.
 */
#ifndef TOLK_AUDIO_CAPTURE_SHM_H
#define TOLK_AUDIO_CAPTURE_SHM_H

#include <stdatomic.h>
#include <stdint.h>

#define TOLK_CAPTURE_MAGIC 0x746f6c6b63617031ULL /* "tolkcap1" */
#define TOLK_CAPTURE_FD 3                       /* the mapping's fd in the child */

enum tolk_capture_state {
    TOLK_CAPTURE_STARTING, /* the child is initialising PortAudio and opening the device */
    TOLK_CAPTURE_OPEN,     /* the stream started; description and latency_us are set */
    TOLK_CAPTURE_FAILED,   /* problem is set; the child exits */
};

struct tolk_capture_shm {
    /* Written by the parent before the first child; read-only afterwards. */
    uint64_t magic;
    uint64_t size;       /* of the whole mapping */
    uint64_t ring_bytes; /* capacity of data[], a whole number of samples */
    uint32_t inputs;
    uint32_t sample_rate;

    /* The child writes description or problem, then release-stores state; the parent reads
     * them after an acquire load of state. The parent sets STARTING before each spawn. */
    _Atomic int state;
    _Atomic int64_t latency_us; /* the open stream's input latency; read by the engine */
    char description[256];
    char problem[512];
    /* Written by the parent when it shuts down; the child then closes PortAudio and exits, so a
     * JACK server sees its client leave rather than vanish. */
    _Atomic int quit;

    /* Written by the child's callback; read by the parent's supervisor and any thread. */
    _Alignas(64) _Atomic uint64_t callbacks;
    _Atomic uint64_t overruns;
    /* The wall time of the last callback and tail after it, under a sequence lock (odd = being
     * written): they date the newest sample without the jitter of the engine's wake-up. */
    _Atomic uint64_t stamp_seq;
    _Atomic int64_t stamp_us;
    _Atomic uint64_t stamp_bytes;
    /* The engine drops ring content before this stream position: set by the callback when the
     * ring is full, by the child when it opens a stream and by the parent once a child is gone,
     * so the engine resumes with live audio whose capture times can be told. */
    _Atomic uint64_t flush_until;
    _Alignas(64) _Atomic uint64_t tail; /* the child's callback only */
    _Alignas(64) _Atomic uint64_t head; /* the parent's engine thread only */
    _Alignas(64) unsigned char data[];
};

#endif
