/* The monitor (monitor.h): alarm rules and the listener history.
 *
 * Threads: tick() on the main thread owns the rule state (struct rule); `lock` guards what the
 * readers copy (alarms[], history), `version` tells them the alarms changed.
 */
#include "control/monitor.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/events.h"
#include "engine/engine.h"
#include "tolk/clock.h"

#define RECENT_MS 10000       /* overruns and late ticks count for this long */
#define CLIP_CLEAR_MS 3000    /* a clipping alarm clears after this long without a clip */

/* One rule's memory; main thread. */
struct rule {
    bool active;
    int64_t since_ms;  /* monotonic: when the condition began (0 = not now) */
    int64_t last_ms;   /* monotonic: when the condition was last seen */
};

struct tolk_monitor {
    const struct tolk_config *cfg;
    struct tolk_engine *engine;
    struct tolk_events *events;
    int (*listeners)(void *arg, int channel);
    void *listeners_arg;

    /* main thread */
    struct rule silence[TOLK_MAX_CHANNELS], clipping[TOLK_MAX_CHANNELS];
    struct rule device_lost, overrun, late;
    uint64_t last_overruns, last_late_ticks;
    int64_t next_sample_ms;

    /* guarded by lock */
    pthread_mutex_t lock;
    struct tolk_alarm alarms[TOLK_MAX_ALARMS];
    int alarm_count;
    uint16_t history[TOLK_MAX_CHANNELS][TOLK_HISTORY_POINTS]; /* ring */
    uint64_t samples;
    atomic_uint version;
};

int tolk_monitor_create(struct tolk_monitor **out, const struct tolk_config *cfg,
                        struct tolk_engine *engine, struct tolk_events *events,
                        int (*listeners)(void *arg, int channel), void *arg)
{
    struct tolk_monitor *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->cfg = cfg;
    m->engine = engine;
    m->events = events;
    m->listeners = listeners;
    m->listeners_arg = arg;
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return 0;
}

void tolk_monitor_destroy(struct tolk_monitor *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* ---- the alarm list (main thread writes under the lock) ---- */

static void raise_alarm(struct tolk_monitor *m, const char *kind, int channel, const char *text)
{
    pthread_mutex_lock(&m->lock);
    if (m->alarm_count < TOLK_MAX_ALARMS) {
        struct tolk_alarm *a = &m->alarms[m->alarm_count++];
        snprintf(a->kind, sizeof a->kind, "%s", kind);
        snprintf(a->id, sizeof a->id, "%s%s%s", kind, channel >= 0 ? ":" : "",
                 channel >= 0 ? m->cfg->channels[channel].id : "");
        a->channel = channel;
        snprintf(a->text, sizeof a->text, "%s", text);
        a->since_ms = tolk_clock_wall_us() / 1000;
    }
    atomic_fetch_add(&m->version, 1);
    pthread_mutex_unlock(&m->lock);
    tolk_events_add(m->events, "alarm", NULL, 0, "%s", text);
}

static void clear_alarm(struct tolk_monitor *m, const char *kind, int channel)
{
    char text[160] = "";
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->alarm_count; i++) {
        if (strcmp(m->alarms[i].kind, kind) != 0 || m->alarms[i].channel != channel)
            continue;
        snprintf(text, sizeof text, "cleared: %s", m->alarms[i].text);
        m->alarms[i] = m->alarms[--m->alarm_count];
        break;
    }
    atomic_fetch_add(&m->version, 1);
    pthread_mutex_unlock(&m->lock);
    if (text[0])
        tolk_events_add(m->events, "alarm", NULL, 0, "%s", text);
}

/* Raises the alarm once `condition` has held for hold_ms; clears it once it has been false for
 * clear_ms. text is used when raising. */
static void apply_rule(struct tolk_monitor *m, struct rule *r, bool condition, int64_t now,
                       int64_t hold_ms, int64_t clear_ms, const char *kind, int channel,
                       const char *text)
{
    if (condition) {
        r->last_ms = now;
        if (!r->since_ms)
            r->since_ms = now;
    } else {
        r->since_ms = 0;
    }
    if (!r->active && condition && now - r->since_ms >= hold_ms) {
        r->active = true;
        raise_alarm(m, kind, channel, text);
    } else if (r->active && !condition && now - r->last_ms >= clear_ms) {
        r->active = false;
        clear_alarm(m, kind, channel);
    }
}

static void check_channels(struct tolk_monitor *m, int64_t now)
{
    const struct tolk_config *cfg = m->cfg;
    char text[120];
    for (int c = 0; c < cfg->channel_count; c++) {
        struct tolk_channel_status st;
        tolk_engine_channel_status(m->engine, c, &st);
        const char *id = cfg->channels[c].id;
        bool silent = st.live && (!isfinite(st.rms_db) || st.rms_db < cfg->silence_threshold_dbfs);
        snprintf(text, sizeof text, "%s is live but silent (below %d dBFS for %d s)", id,
                 cfg->silence_threshold_dbfs, cfg->silence_alarm_s);
        apply_rule(m, &m->silence[c], silent, now, cfg->silence_alarm_s * 1000LL, 0, "silence", c,
                   text);
        snprintf(text, sizeof text, "%s clips: its input reaches full scale", id);
        apply_rule(m, &m->clipping[c], st.clipped, now, 0, CLIP_CLEAR_MS, "clipping", c, text);
    }
}

/* A counter that grew within the last RECENT_MS. */
static bool grew(uint64_t value, uint64_t *last)
{
    bool more = value > *last;
    *last = value;
    return more;
}

static void check_engine(struct tolk_monitor *m, int64_t now)
{
    struct tolk_engine_stats st;
    tolk_engine_stats(m->engine, &st);
    apply_rule(m, &m->device_lost, st.device_inputs > 0 && !st.device_running, now, 3000, 0,
               "device_lost", -1, "the input device is lost: its channels carry their fallback");
    apply_rule(m, &m->overrun, grew(st.device_overruns, &m->last_overruns), now, 0, RECENT_MS,
               "capture_overrun", -1, "capture overruns: audio from the device was lost");
    apply_rule(m, &m->late, grew(st.late_ticks, &m->last_late_ticks), now, 0, RECENT_MS,
               "encoder_late", -1, "the engine ran late: frames were encoded after their time");
}

static void sample_history(struct tolk_monitor *m, int64_t now)
{
    if (now < m->next_sample_ms)
        return;
    m->next_sample_ms = now + TOLK_HISTORY_INTERVAL_S * 1000;
    pthread_mutex_lock(&m->lock);
    int slot = (int)(m->samples % TOLK_HISTORY_POINTS);
    for (int c = 0; c < m->cfg->channel_count; c++) {
        int n = m->listeners(m->listeners_arg, c);
        m->history[c][slot] = (uint16_t)(n < 0 ? 0 : n > UINT16_MAX ? UINT16_MAX : n);
    }
    m->samples++;
    pthread_mutex_unlock(&m->lock);
}

void tolk_monitor_tick(struct tolk_monitor *m, int64_t now_ms)
{
    check_channels(m, now_ms);
    check_engine(m, now_ms);
    sample_history(m, now_ms);
}

uint32_t tolk_monitor_version(const struct tolk_monitor *m)
{
    return atomic_load(&((struct tolk_monitor *)m)->version);
}

int tolk_monitor_alarms(struct tolk_monitor *m, struct tolk_alarm *out, int max)
{
    pthread_mutex_lock(&m->lock);
    int n = m->alarm_count < max ? m->alarm_count : max;
    memcpy(out, m->alarms, (size_t)n * sizeof *out);
    pthread_mutex_unlock(&m->lock);
    return n;
}

void tolk_monitor_history(struct tolk_monitor *m, uint16_t *out, int *count, uint64_t *seq)
{
    pthread_mutex_lock(&m->lock);
    int n = m->samples < TOLK_HISTORY_POINTS ? (int)m->samples : TOLK_HISTORY_POINTS;
    uint64_t first = m->samples - (uint64_t)n;
    for (int c = 0; c < m->cfg->channel_count; c++)
        for (int i = 0; i < n; i++)
            out[c * TOLK_HISTORY_POINTS + i] = m->history[c][(first + (uint64_t)i) % TOLK_HISTORY_POINTS];
    *count = n;
    *seq = m->samples;
    pthread_mutex_unlock(&m->lock);
}
