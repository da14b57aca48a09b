/* The monitor: alarms for the technicians and the listener-count history.
 *
 * Ten times a second it looks at what the engine and the network publish and raises or clears
 * alarms: silence on a live channel for silence_alarm_s, clipping, the input device lost,
 * capture overruns and late engine ticks (the encoder running late) in the last 10 s. Each
 * raise and clear is also an event (control/events.h). Every 10 s it samples the listeners per
 * channel; an hour of samples is kept.
 *
 * Threads: tolk_monitor_tick() runs on the main thread (which otherwise only waits for a stop
 * signal). The readers run on any network thread; one mutex guards the alarm list and the
 * history, and version() changes whenever the alarms do.
 */
#ifndef TOLK_CONTROL_MONITOR_H
#define TOLK_CONTROL_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define TOLK_MONITOR_TICK_MS 100
#define TOLK_HISTORY_INTERVAL_S 10
#define TOLK_HISTORY_POINTS 360 /* an hour */
#define TOLK_MAX_ALARMS (2 * TOLK_MAX_CHANNELS + 3)

struct tolk_engine;
struct tolk_events;
struct tolk_monitor;

struct tolk_alarm {
    char id[48];      /* "silence:fr", "device_lost", ...: stable while it lasts */
    char kind[20];    /* silence, clipping, device_lost, capture_overrun, encoder_late */
    int channel;      /* -1 when not about one channel */
    char text[120];
    int64_t since_ms; /* wall clock */
};

/* listeners(arg, channel): current listener count of a channel (any thread). */
int tolk_monitor_create(struct tolk_monitor **out, const struct tolk_config *cfg,
                        struct tolk_engine *engine, struct tolk_events *events,
                        int (*listeners)(void *arg, int channel), void *arg);
void tolk_monitor_destroy(struct tolk_monitor *monitor);

/* Main thread, every TOLK_MONITOR_TICK_MS. now_ms: monotonic. */
void tolk_monitor_tick(struct tolk_monitor *monitor, int64_t now_ms);

/* Any thread. */
uint32_t tolk_monitor_version(const struct tolk_monitor *monitor);
int tolk_monitor_alarms(struct tolk_monitor *monitor, struct tolk_alarm *out, int max);
/* Copies the history, oldest first: out[channel * TOLK_HISTORY_POINTS + i] for i < *count.
 * *seq gets the number of samples taken since start (it grows by one per sample). */
void tolk_monitor_history(struct tolk_monitor *monitor, uint16_t *out, int *count, uint64_t *seq);

#endif
