/* Play-out: jitter buffer, Opus decoding, drift-compensating resampler and the PortAudio
 * output stream. The PortAudio callback runs all of it (see playout.c for why); the main
 * thread creates, starts, stops and destroys. */
#ifndef TOLK_PLAYOUT_H
#define TOLK_PLAYOUT_H

#include <stdbool.h>
#include <stdio.h>

#include "receiver.h"

struct tolk_playout;

struct tolk_playout_config {
    const char *device;  /* part of an output device's name, or its index; NULL = default */
    int latency_ms;      /* floor of the jitter buffer's target */
    int frame_ms;        /* until the first RESET record says otherwise */
    bool fec;            /* lossy transport (RTP): use in-band FEC, take overdue frames as lost */
    struct tolk_ring *ring;       /* records in (the callback is its only reader) */
    struct tolk_rx_state *state;  /* the `audio` half is written by the callback */
};

/* Opens the device (PortAudio is initialised here). Returns TOLK_EDEVICE with a logged reason
 * when the device is missing or refuses 48 kHz float output. */
int tolk_playout_create(struct tolk_playout **out, const struct tolk_playout_config *cfg);
int tolk_playout_start(struct tolk_playout *p);
/* Stops the stream (waits for the callback to return); idempotent. */
void tolk_playout_stop(struct tolk_playout *p);
void tolk_playout_destroy(struct tolk_playout *p);
/* A one-line description of the open stream, for the log. */
const char *tolk_playout_describe(const struct tolk_playout *p);

/* Prints PortAudio's output devices (initialises and terminates PortAudio). */
int tolk_playout_list_devices(FILE *out);

#endif
