/* The event log: what happened at the booths and to the audio, with times, for the technicians.
 *
 * Every event is also written to the server log. The log keeps the last TOLK_EVENTS_KEEP events
 * in a ring; each gets a sequence number, so a reader asks for what is newer than the last one it
 * saw and never misses one that is still kept.
 *
 * Threads: any thread except real-time ones (the engine tick, the capture callback) may add or
 * read; a mutex guards the ring (events are rare: a few per minute).
 */
#ifndef TOLK_CONTROL_EVENTS_H
#define TOLK_CONTROL_EVENTS_H

#include <stdint.h>

#include "config.h"

#define TOLK_EVENTS_KEEP 512
#define TOLK_EVENT_TEXT_MAX 200

struct tolk_event {
    uint64_t seq;              /* from 1, +1 per event */
    int64_t time_us;           /* wall clock, µs since the epoch */
    char kind[24];             /* mic, cough, handover, call, chat, login, alarm, control, ... */
    char booth[TOLK_ID_MAX];   /* "" when no booth is involved */
    int desk;                  /* 1-based; 0 when no desk is involved */
    char text[TOLK_EVENT_TEXT_MAX];
};

struct tolk_events;

int tolk_events_create(struct tolk_events **out);
void tolk_events_destroy(struct tolk_events *events);

/* Adds an event and logs it. booth may be NULL. */
void tolk_events_add(struct tolk_events *events, const char *kind, const char *booth, int desk,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Copies up to max events with seq > after, oldest first; returns how many. */
int tolk_events_since(struct tolk_events *events, uint64_t after, struct tolk_event *out, int max);

/* Sequence number of the newest event (0 when none). */
uint64_t tolk_events_last(struct tolk_events *events);

#endif
