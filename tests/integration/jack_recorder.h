/* A JACK client for tests and benchmarks: records its input ports into memory and plays
 * prepared buffers on its output ports, sample-aligned, so a test can hear what a program
 * plays through JACK and time what it feeds in.
 *
 * Threads: the main thread opens, connects, reads and closes; JACK's process thread runs the
 * process callback, which only copies (no allocation, no locks). The recording grows in one
 * preallocated buffer per input; `frames` (an atomic) says how much of it is valid, so the main
 * thread reads below it while the process thread writes above it.
 */
#ifndef TOLK_TESTS_JACK_RECORDER_H
#define TOLK_TESTS_JACK_RECORDER_H

#include <stdbool.h>
#include <stddef.h>

struct tolk_jack_rec;

/* Opens client `name` on the JACK server of $JACK_DEFAULT_SERVER (never starting one), with
 * inputs in_1.. and outputs out_1.., room for capacity_frames of recording and playing, and
 * activates it. Returns 0 or a negative code. */
int tolk_jack_rec_open(struct tolk_jack_rec **out, const char *name, int inputs, int outputs,
                       size_t capacity_frames);
void tolk_jack_rec_close(struct tolk_jack_rec *r);

/* Waits up to timeout_ms for a port to exist. */
bool tolk_jack_rec_wait_port(struct tolk_jack_rec *r, const char *port, int timeout_ms);
/* Connects a port of another client to our input (1-based), or our output to another port. */
int tolk_jack_rec_connect_in(struct tolk_jack_rec *r, const char *from, int input);
int tolk_jack_rec_connect_out(struct tolk_jack_rec *r, int output, const char *to);

/* Frames processed so far (recorded on every input, played on every output). */
size_t tolk_jack_rec_frames(const struct tolk_jack_rec *r);
/* The recording of input (1-based): valid below tolk_jack_rec_frames(). */
const float *tolk_jack_rec_input(const struct tolk_jack_rec *r, int input);
/* What output (1-based) plays at each frame: write it ahead of tolk_jack_rec_frames() (or
 * before the first process cycle); it starts zeroed. */
float *tolk_jack_rec_output(struct tolk_jack_rec *r, int output);
/* Waits until at least `frames` frames were processed, or timeout_ms passed; true if so. */
bool tolk_jack_rec_wait_frames(const struct tolk_jack_rec *r, size_t frames, int timeout_ms);
/* Sample rate and period of the server; xruns JACK reported since open. */
int tolk_jack_rec_rate(const struct tolk_jack_rec *r);
int tolk_jack_rec_period(const struct tolk_jack_rec *r);
unsigned tolk_jack_rec_xruns(const struct tolk_jack_rec *r);

#endif
