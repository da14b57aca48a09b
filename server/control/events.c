/* The event log (events.h): a ring of the last TOLK_EVENTS_KEEP events under one mutex.
 *
 * Threads: any non-real-time thread; every function takes the mutex for a short copy.
 */
#include "control/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tolk/clock.h"
#include "tolk/log.h"

struct tolk_events {
    pthread_mutex_t lock;
    uint64_t last; /* seq of the newest event; guarded by lock */
    struct tolk_event ring[TOLK_EVENTS_KEEP]; /* event seq lives at ring[seq % KEEP] */
};

int tolk_events_create(struct tolk_events **out)
{
    struct tolk_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return -ENOMEM;
    pthread_mutex_init(&ev->lock, NULL);
    *out = ev;
    return 0;
}

void tolk_events_destroy(struct tolk_events *ev)
{
    if (!ev)
        return;
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}

void tolk_events_add(struct tolk_events *ev, const char *kind, const char *booth, int desk,
                     const char *fmt, ...)
{
    struct tolk_event e = {.time_us = tolk_clock_wall_us(), .desk = desk};
    snprintf(e.kind, sizeof e.kind, "%s", kind);
    snprintf(e.booth, sizeof e.booth, "%s", booth ? booth : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.text, sizeof e.text, fmt, ap);
    va_end(ap);
    if (booth && desk > 0)
        tolk_log_info("[%s] booth %s desk %d: %s", kind, booth, desk, e.text);
    else if (booth)
        tolk_log_info("[%s] booth %s: %s", kind, booth, e.text);
    else
        tolk_log_info("[%s] %s", kind, e.text);
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    e.seq = ++ev->last;
    ev->ring[e.seq % TOLK_EVENTS_KEEP] = e;
    pthread_mutex_unlock(&ev->lock);
}

int tolk_events_since(struct tolk_events *ev, uint64_t after, struct tolk_event *out, int max)
{
    int n = 0;
    pthread_mutex_lock(&ev->lock);
    uint64_t oldest = ev->last > TOLK_EVENTS_KEEP ? ev->last - TOLK_EVENTS_KEEP + 1 : 1;
    for (uint64_t seq = after + 1 > oldest ? after + 1 : oldest; seq <= ev->last && n < max; seq++)
        out[n++] = ev->ring[seq % TOLK_EVENTS_KEEP];
    pthread_mutex_unlock(&ev->lock);
    return n;
}

uint64_t tolk_events_last(struct tolk_events *ev)
{
    pthread_mutex_lock(&ev->lock);
    uint64_t last = ev->last;
    pthread_mutex_unlock(&ev->lock);
    return last;
}
