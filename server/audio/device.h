/* The PortAudio capture device: one multichannel input device, opened and supervised.
 *
 * Threads and processes:
 * - PortAudio's callback, in the capture child process, writes interleaved float frames into a
 *   lock-free ring in memory shared with tolk-server and counts overruns; it never allocates,
 *   locks, logs or blocks.
 * - A supervisor thread (owned here) runs PortAudio in a child process, notices when the device
 *   stops delivering, reports it once, kills the child and starts a fresh one a few seconds later
 *   (re-scanning devices), so a missing or lost device never stops the server: its channels
 *   carry "no signal" meanwhile.
 * - The engine thread is the ring's only reader: tolk_device_read_frame().
 */
#ifndef TOLK_AUDIO_DEVICE_H
#define TOLK_AUDIO_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct tolk_device;

/* name: PortAudio device name substring or index ("default" = the default input).
 * inputs: how many device inputs to capture (the highest input:N used).
 * frame_samples: samples per channel per engine frame (also the PortAudio buffer size).
 * Starts the supervisor; never fails because the device is absent. */
int tolk_device_create(struct tolk_device **out, const char *name, int inputs, int sample_rate,
                       int frame_samples);
void tolk_device_destroy(struct tolk_device *device);

/* Engine thread. If one whole frame is captured, copies it (interleaved, `inputs` floats per
 * sample) into out, sets *capture_us to the wall time of its first sample and returns true. */
bool tolk_device_read_frame(struct tolk_device *device, float *out, int64_t *capture_us);

/* Any thread: true while the stream runs and delivers audio. */
bool tolk_device_running(const struct tolk_device *device);
/* Any thread: frames dropped because the engine did not keep up. */
uint64_t tolk_device_overruns(const struct tolk_device *device);

/* --list-devices: every PortAudio device with input/output channels and default rate. */
int tolk_device_list(FILE *out);

/* The capture child process (capture_child.c): main() hands over when argv[1] is
 * TOLK_DEVICE_CHILD_ARG, before anything else; returns the exit code (normally it never returns:
 * the parent kills it). */
#define TOLK_DEVICE_CHILD_ARG "--capture-child"
int tolk_device_child_main(int argc, char **argv);

#endif
