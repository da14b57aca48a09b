/* The engine: captured audio → meters → router → Opus → packet rings, once per frame.
 *
 * Threads:
 * - main thread: create, start, stop, destroy.
 * - engine thread (engine_main): owns every `struct channel` and `struct desk` field not marked
 *   published, the sources, the encoders and the write side of the packet rings. It never
 *   allocates, locks or logs once the loop runs.
 * - any thread: reads the `published` atomics through tolk_engine_channel_status()/stats(), and
 *   sets which desk is on air with tolk_engine_set_on_air() (one atomic per channel, read at the
 *   start of each tick: a microphone switch reaches the listeners on the next frame).
 *
 * Pacing: while the capture device runs, the device's own clock paces the ticks (a tick per
 * captured frame, so no drift between card and server); otherwise, and whenever the device
 * stalls for more than a frame, the monotonic clock does, so listeners never lose the stream.
 */
#include "engine/engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/device.h"
#include "audio/source.h"
#include "codec/encoder.h"
#include "engine/meter.h"
#include "engine/router.h"
#include "tolk/clock.h"
#include "tolk/error.h"
#include "tolk/log.h"
#include "tolk/protocol.h"
#include "tolk/realtime.h"

#define CLIP_HOLD_MS 1000
#define DEVICE_POLL_NS 1000000 /* 1 ms between looks at the capture ring */

/* on_air values: -1, or a desk index with the muted (cough) bit. */
#define ON_AIR_NONE (-1)
#define ON_AIR_MUTED 0x10000
#define ON_AIR_DESK_MASK 0xffff

struct channel {
    const struct tolk_channel_config *cfg;
    struct tolk_source *source; /* synthetic source, or NULL */
    int input;                  /* 0-based device input, or -1 */
    bool booth_output;          /* a booth's channel A or B: its audio comes from a desk */
    struct tolk_encoder *encoder;
    struct tolk_packet_ring *packets;
    float *pcm;          /* this frame's own input */
    bool live;           /* engine thread's copy of the last routed state */
    int carry;
    int clip_hold;       /* frames left to report a clip */
    atomic_int on_air;   /* written by any thread (tolk_engine_set_on_air), read by the engine */
    atomic_int override; /* enum tolk_override; written by any thread, read by the engine */

    struct { /* published: written by the engine thread, read by any thread */
        atomic_bool live, signal, clipped;
        atomic_int carry;
        atomic_uint state_version;
        _Atomic float peak_db, rms_db;
        atomic_uint_fast64_t frames, bytes;
    } pub;
};

/* A device input's meter (engine thread; published atomics). */
struct input_meter {
    int clip_hold;
    struct {
        atomic_bool clipped;
        _Atomic float peak_db, rms_db;
    } pub;
};

/* An interpreter's microphone. */
struct desk {
    struct tolk_source *source; /* synthetic source, or NULL */
    int input;                  /* 0-based device input, or -1 */
    float *pcm;                 /* this frame */
    bool signal;                /* engine thread: pcm holds audio this frame */
    int clip_hold;

    struct { /* published */
        atomic_bool signal, clipped;
        _Atomic float peak_db, rms_db;
    } pub;
};

struct tolk_engine {
    const struct tolk_config *cfg;
    int count;
    int desk_count;
    struct desk desk[TOLK_MAX_ALL_DESKS];
    int frame_samples;
    int64_t frame_ns;
    struct channel ch[TOLK_MAX_CHANNELS];
    float *silence;

    struct tolk_device *device; /* NULL when no channel uses a device input */
    int device_inputs;
    float *device_frame; /* interleaved, device_inputs floats per sample */
    float *input_pcm;    /* one input de-interleaved, for its meter */
    struct input_meter *inputs; /* device_inputs of them */

    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    void (*hook)(void *arg);
    void *hook_arg;
    int64_t wall_offset_us;  /* engine thread: wall minus monotonic time, µs */
    int64_t device_stamp_us; /* engine thread: capture time of the last device frame */

    struct { /* published */
        atomic_uint_fast64_t ticks, late_ticks, encode_ns, encode_max_ns, stall_frames;
        atomic_int_fast64_t started_us;
    } pub;
};

/* A synthetic source, or a device input (widening the device to reach it). tag: the demo
 * pattern's channel. */
static int open_input(struct tolk_engine *e, const struct tolk_source_spec *spec, int tag,
                      struct tolk_source **source, int *input, char *why, size_t len)
{
    *input = -1;
    if (spec->kind == TOLK_SOURCE_INPUT) {
        *input = spec->input - 1;
        if (spec->input > e->device_inputs)
            e->device_inputs = spec->input;
        return 0;
    }
    if (spec->kind == TOLK_SOURCE_NONE)
        return 0;
    return tolk_source_create(source, spec, tag, why, len);
}

static int create_desks(struct tolk_engine *e, char *err, size_t errlen)
{
    const struct tolk_config *cfg = e->cfg;
    for (int b = 0; b < cfg->booth_count; b++) {
        const struct tolk_booth_config *booth = &cfg->booths[b];
        for (int d = 0; d < booth->desk_count; d++) {
            struct desk *desk = &e->desk[booth->first_desk + d];
            desk->pcm = calloc((size_t)e->frame_samples, sizeof(float));
            if (!desk->pcm)
                return -ENOMEM;
            char why[256] = "";
            int rc = open_input(e, &booth->desks[d], booth->a_index, &desk->source,
                                &desk->input, why, sizeof why);
            if (rc < 0) {
                snprintf(err, errlen, "booth %s desk %d: %s", booth->id, d + 1,
                         why[0] ? why : tolk_strerror(rc));
                return rc;
            }
            atomic_store(&desk->pub.peak_db, TOLK_METER_FLOOR_DB);
            atomic_store(&desk->pub.rms_db, TOLK_METER_FLOOR_DB);
        }
    }
    e->desk_count = cfg->desk_count;
    return 0;
}

static int create_channel(struct tolk_engine *e, int i, char *err, size_t errlen)
{
    const struct tolk_config *cfg = e->cfg;
    struct channel *ch = &e->ch[i];
    ch->cfg = &cfg->channels[i];
    ch->input = -1;
    ch->carry = -2; /* differs from any real route: the first tick publishes the state */
    atomic_init(&ch->on_air, ON_AIR_NONE);
    for (int b = 0; b < cfg->booth_count; b++)
        ch->booth_output |= cfg->booths[b].a_index == i || cfg->booths[b].b_index == i;

    ch->pcm = calloc((size_t)e->frame_samples, sizeof(float));
    if (!ch->pcm)
        return -ENOMEM;

    char why[256] = "";
    int rc = open_input(e, &ch->cfg->source, i, &ch->source, &ch->input, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "channel %s: %s", ch->cfg->id, why[0] ? why : tolk_strerror(rc));
        return rc;
    }

    rc = tolk_encoder_create(&ch->encoder, cfg->sample_rate, e->frame_samples, cfg->bitrate,
                             cfg->complexity, cfg->application, cfg->fec);
    if (rc < 0) {
        snprintf(err, errlen, "channel %s: cannot create the Opus encoder", ch->cfg->id);
        return rc;
    }
    /* Twice the distance a listener may fall behind, so a reader that is just within its bound
     * still finds its packets. */
    unsigned slots = (unsigned)(2 * cfg->max_behind_ms / cfg->frame_ms + 16);
    return tolk_packet_ring_create(&ch->packets, slots);
}

static void publish_route(struct channel *ch, const struct tolk_route *route)
{
    bool live = !route->fallback;
    if (live == ch->live && route->carry == ch->carry)
        return;
    ch->live = live;
    ch->carry = route->carry;
    atomic_store_explicit(&ch->pub.live, live, memory_order_relaxed);
    atomic_store_explicit(&ch->pub.carry, route->carry, memory_order_relaxed);
    atomic_fetch_add_explicit(&ch->pub.state_version, 1, memory_order_release);
}

/* What listeners see before the first tick: synthetic sources live, device inputs without a
 * signal until the device delivers, meters at the floor. */
static void publish_initial_state(struct tolk_engine *e)
{
    bool live[TOLK_MAX_CHANNELS];
    int fallback[TOLK_MAX_CHANNELS];
    struct tolk_route routes[TOLK_MAX_CHANNELS];
    for (int i = 0; i < e->count; i++) {
        live[i] = e->ch[i].source != NULL;
        fallback[i] = e->ch[i].cfg->fallback_index;
        atomic_store(&e->ch[i].pub.peak_db, TOLK_METER_FLOOR_DB);
        atomic_store(&e->ch[i].pub.rms_db, TOLK_METER_FLOOR_DB);
        atomic_store(&e->ch[i].pub.signal, live[i]);
    }
    tolk_router_resolve(e->count, live, fallback, routes);
    for (int i = 0; i < e->count; i++)
        publish_route(&e->ch[i], &routes[i]);
}

int tolk_engine_create(struct tolk_engine **out, const struct tolk_config *cfg, char *err,
                       size_t errlen)
{
    *out = NULL;
    struct tolk_engine *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->cfg = cfg;
    e->count = cfg->channel_count;
    e->frame_samples = cfg->sample_rate / 1000 * cfg->frame_ms;
    e->frame_ns = (int64_t)cfg->frame_ms * 1000000;

    int rc = -ENOMEM;
    e->silence = calloc((size_t)e->frame_samples, sizeof(float));
    if (!e->silence)
        goto fail;
    for (int i = 0; i < e->count; i++) {
        rc = create_channel(e, i, err, errlen);
        if (rc < 0)
            goto fail;
    }
    rc = create_desks(e, err, errlen);
    if (rc < 0)
        goto fail;
    publish_initial_state(e);
    if (e->device_inputs > 0) {
        rc = -ENOMEM;
        e->device_frame = calloc((size_t)e->frame_samples * (size_t)e->device_inputs, sizeof(float));
        e->input_pcm = calloc((size_t)e->frame_samples, sizeof(float));
        e->inputs = calloc((size_t)e->device_inputs, sizeof *e->inputs);
        if (!e->device_frame || !e->input_pcm || !e->inputs)
            goto fail;
        for (int i = 0; i < e->device_inputs; i++) {
            atomic_store(&e->inputs[i].pub.peak_db, TOLK_METER_FLOOR_DB);
            atomic_store(&e->inputs[i].pub.rms_db, TOLK_METER_FLOOR_DB);
        }
    }
    *out = e;
    return 0;

fail:
    if (!err[0])
        snprintf(err, errlen, "%s", tolk_strerror(rc));
    tolk_engine_destroy(e);
    return rc;
}

/* Reads one frame of a source or device input into pcm; returns whether it has a signal. */
static bool gather(struct tolk_engine *e, struct tolk_source *source, int input, float *pcm,
                   bool device_ok)
{
    if (source) {
        tolk_source_read(source, pcm, (size_t)e->frame_samples);
        return true;
    }
    if (input < 0 || !device_ok)
        return false;
    for (int s = 0; s < e->frame_samples; s++)
        pcm[s] = e->device_frame[s * e->device_inputs + input];
    return true;
}

/* A booth channel's audio: the desk on air (silence while its cough key is held). Returns
 * whether the channel is live; a desk without a signal (its input lost) is not. */
static bool gather_booth_channel(struct tolk_engine *e, struct channel *ch)
{
    int on_air = atomic_load_explicit(&ch->on_air, memory_order_acquire);
    if (on_air == ON_AIR_NONE)
        return false;
    const struct desk *desk = &e->desk[on_air & ON_AIR_DESK_MASK];
    if (!desk->signal)
        return false;
    if (on_air & ON_AIR_MUTED)
        memset(ch->pcm, 0, (size_t)e->frame_samples * sizeof(float));
    else
        memcpy(ch->pcm, desk->pcm, (size_t)e->frame_samples * sizeof(float));
    return true;
}

/* Meters one frame; *clip_hold counts down the frames a clip stays reported. */
static void measure(struct tolk_engine *e, const float *pcm, bool signal, int *clip_hold,
                    struct tolk_levels *lv)
{
    *lv = (struct tolk_levels){TOLK_METER_FLOOR_DB, TOLK_METER_FLOOR_DB, false};
    if (signal)
        tolk_meter_measure(pcm, (size_t)e->frame_samples, lv);
    if (lv->clipped)
        *clip_hold = CLIP_HOLD_MS / e->cfg->frame_ms;
    else if (*clip_hold > 0)
        (*clip_hold)--;
}

static void publish_levels(struct tolk_engine *e, struct channel *ch, bool signal)
{
    struct tolk_levels lv;
    measure(e, ch->pcm, signal, &ch->clip_hold, &lv);
    atomic_store_explicit(&ch->pub.peak_db, lv.peak_db, memory_order_relaxed);
    atomic_store_explicit(&ch->pub.rms_db, lv.rms_db, memory_order_relaxed);
    atomic_store_explicit(&ch->pub.clipped, ch->clip_hold > 0, memory_order_relaxed);
    atomic_store_explicit(&ch->pub.signal, signal, memory_order_relaxed);
}

static void gather_desks(struct tolk_engine *e, bool device_ok)
{
    for (int i = 0; i < e->desk_count; i++) {
        struct desk *d = &e->desk[i];
        struct tolk_levels lv;
        d->signal = gather(e, d->source, d->input, d->pcm, device_ok);
        measure(e, d->pcm, d->signal, &d->clip_hold, &lv);
        atomic_store_explicit(&d->pub.peak_db, lv.peak_db, memory_order_relaxed);
        atomic_store_explicit(&d->pub.rms_db, lv.rms_db, memory_order_relaxed);
        atomic_store_explicit(&d->pub.clipped, d->clip_hold > 0, memory_order_relaxed);
        atomic_store_explicit(&d->pub.signal, d->signal, memory_order_relaxed);
    }
}

static void encode_channel(struct tolk_engine *e, struct channel *ch, const struct tolk_route *route,
                           int64_t capture_us)
{
    uint8_t packet[TOLK_OPUS_MAX_PACKET];
    const float *pcm = route->carry >= 0 ? e->ch[route->carry].pcm : e->silence;
    int len = tolk_encoder_encode(ch->encoder, pcm, packet, sizeof packet);
    if (len <= 0)
        return; /* cannot happen with a valid frame size; the sequence simply skips nothing */
    uint8_t flags = route->fallback ? TOLK_FLAG_FALLBACK : 0;
    tolk_packet_ring_push(ch->packets, capture_us, flags, packet, (size_t)len);
    atomic_fetch_add_explicit(&ch->pub.frames, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ch->pub.bytes, (uint64_t)len, memory_order_relaxed);
}

/* A technician's override, applied after routing: forced to its fallback, the channel carries
 * what its fallback carries; muted, it carries silence. Both are flagged FALLBACK. */
static void apply_override(struct tolk_engine *e, int i, struct tolk_route *routes)
{
    int override = atomic_load_explicit(&e->ch[i].override, memory_order_relaxed);
    if (override == TOLK_OVERRIDE_NONE)
        return;
    int fb = e->ch[i].cfg->fallback_index;
    routes[i].fallback = true;
    if (override == TOLK_OVERRIDE_MUTE)
        routes[i].carry = -1;
    else if (routes[i].carry == i) /* it was live: its fallback's route (itself not overridden) */
        routes[i].carry = fb >= 0 ? routes[fb].carry : -1;
}

static void measure_inputs(struct tolk_engine *e, bool device_ok)
{
    for (int in = 0; in < e->device_inputs; in++) {
        struct input_meter *m = &e->inputs[in];
        struct tolk_levels lv;
        if (device_ok)
            for (int s = 0; s < e->frame_samples; s++)
                e->input_pcm[s] = e->device_frame[s * e->device_inputs + in];
        measure(e, e->input_pcm, device_ok, &m->clip_hold, &lv);
        atomic_store_explicit(&m->pub.peak_db, lv.peak_db, memory_order_relaxed);
        atomic_store_explicit(&m->pub.rms_db, lv.rms_db, memory_order_relaxed);
        atomic_store_explicit(&m->pub.clipped, m->clip_hold > 0, memory_order_relaxed);
    }
}

/* One frame through the whole chain. device_ok: e->device_frame holds a fresh frame. */
static void tick(struct tolk_engine *e, int64_t capture_us, bool device_ok)
{
    bool live[TOLK_MAX_CHANNELS];
    int fallback[TOLK_MAX_CHANNELS];
    struct tolk_route routes[TOLK_MAX_CHANNELS];

    measure_inputs(e, device_ok);
    gather_desks(e, device_ok);
    for (int i = 0; i < e->count; i++) {
        struct channel *ch = &e->ch[i];
        live[i] = ch->booth_output ? gather_booth_channel(e, ch)
                                   : gather(e, ch->source, ch->input, ch->pcm, device_ok);
        fallback[i] = ch->cfg->fallback_index;
        publish_levels(e, ch, live[i]);
    }
    tolk_router_resolve(e->count, live, fallback, routes);
    for (int i = 0; i < e->count; i++)
        apply_override(e, i, routes);
    int64_t encode_start = tolk_clock_mono_ns();
    for (int i = 0; i < e->count; i++) {
        encode_channel(e, &e->ch[i], &routes[i], capture_us);
        publish_route(&e->ch[i], &routes[i]);
    }
    uint64_t spent = (uint64_t)(tolk_clock_mono_ns() - encode_start);
    atomic_fetch_add_explicit(&e->pub.encode_ns, spent, memory_order_relaxed);
    if (spent > atomic_load_explicit(&e->pub.encode_max_ns, memory_order_relaxed))
        atomic_store_explicit(&e->pub.encode_max_ns, spent, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->pub.ticks, 1, memory_order_relaxed);
    if (e->hook)
        e->hook(e->hook_arg);
}

/* The device's stamps carry the jitter of when its callback ran: a late callback makes its
 * frames look captured later than they were. Audio samples are evenly spaced, so the stamp of
 * the next frame is predicted as the last one plus a frame; an earlier stamp (a callback that
 * ran on time) is believed at once, a later one only pulls the prediction by 1/256 of the
 * difference, which follows the few ppm of drift between the card and the wall clock without
 * passing on the jitter. A jump of more than 50 ms (a restart, a stepped clock) starts over. */
static int64_t smooth_device_stamp(struct tolk_engine *e, int64_t observed_us)
{
    int64_t predicted = e->device_stamp_us + e->frame_ns / 1000;
    int64_t error = observed_us - predicted;
    if (e->device_stamp_us == 0 || error < 0 || error > 50000)
        e->device_stamp_us = observed_us;
    else
        e->device_stamp_us = predicted + error / 256;
    return e->device_stamp_us;
}

/* Device-paced ticks: one per captured frame. Returns once the device stalls past deadline_ns
 * (the clock then takes over) or the engine stops; *deadline_ns follows the device. */
static void run_device_ticks(struct tolk_engine *e, int64_t *deadline_ns)
{
    while (!atomic_load(&e->stop) && tolk_device_running(e->device)) {
        int64_t capture_us;
        if (tolk_device_read_frame(e->device, e->device_frame, &capture_us)) {
            tick(e, smooth_device_stamp(e, capture_us), true);
            *deadline_ns = tolk_clock_mono_ns() + 2 * e->frame_ns;
            continue;
        }
        int64_t now = tolk_clock_mono_ns();
        if (now >= *deadline_ns)
            return;
        tolk_clock_sleep_until(now + DEVICE_POLL_NS);
    }
}

/* Wall time of a monotonic instant. The offset between the two clocks is re-read each call
 * and followed only when it moves by more than a millisecond (the wall clock was stepped), so
 * the small jitter of reading two clocks does not reach the frame stamps. */
static int64_t mono_to_wall_us(struct tolk_engine *e, int64_t mono_ns)
{
    int64_t offset = tolk_clock_wall_us() - tolk_clock_mono_ns() / 1000;
    if (e->wall_offset_us == 0 || llabs(offset - e->wall_offset_us) > 1000)
        e->wall_offset_us = offset;
    return mono_ns / 1000 + e->wall_offset_us;
}

static void *engine_main(void *arg)
{
    struct tolk_engine *e = arg;
    int rt = tolk_realtime_raise(TOLK_RT_ENGINE); /* before the loop: it may log */
    if (rt < 0)
        tolk_log_info("engine: normal priority, not real-time (%s; see LimitRTPRIO)",
                      tolk_strerror(rt));
    int64_t deadline = tolk_clock_mono_ns() + e->frame_ns;

    while (!atomic_load(&e->stop)) {
        if (e->device && tolk_device_running(e->device)) {
            run_device_ticks(e, &deadline);
            if (atomic_load(&e->stop))
                break;
        }
        tolk_clock_sleep_until(deadline);
        int64_t now = tolk_clock_mono_ns();
        if (now - deadline > e->frame_ns)
            atomic_fetch_add_explicit(&e->pub.late_ticks, 1, memory_order_relaxed);
        /* The frame ends at its deadline, so its first sample is one frame earlier. Stamping
         * from the deadline, not from when the thread woke, keeps the stamps on a steady grid;
         * a late wake-up then shows as lateness at the listener, where it belongs. */
        tick(e, mono_to_wall_us(e, deadline - e->frame_ns), false);
        deadline += e->frame_ns;
        if (now - deadline > 5 * e->frame_ns) { /* after a long stall, don't burst to catch up */
            atomic_fetch_add_explicit(&e->pub.stall_frames,
                                      (uint64_t)((now - deadline) / e->frame_ns),
                                      memory_order_relaxed);
            deadline = now + e->frame_ns;
        }
    }
    return NULL;
}

int tolk_engine_start(struct tolk_engine *e, void (*hook)(void *arg), void *arg)
{
    e->hook = hook;
    e->hook_arg = arg;
    if (e->device_inputs > 0) {
        int rc = tolk_device_create(&e->device, e->cfg->device, e->device_inputs,
                                    e->cfg->sample_rate, e->frame_samples);
        if (rc < 0)
            return rc;
    }
    atomic_store(&e->pub.started_us, tolk_clock_wall_us());
    atomic_store(&e->stop, false);
    int rc = pthread_create(&e->thread, NULL, engine_main, e);
    if (rc != 0)
        return -rc;
    e->thread_started = true;
    return 0;
}

void tolk_engine_stop(struct tolk_engine *e)
{
    if (!e || !e->thread_started)
        return;
    atomic_store(&e->stop, true);
    pthread_join(e->thread, NULL);
    e->thread_started = false;
    tolk_device_destroy(e->device);
    e->device = NULL;
}

void tolk_engine_destroy(struct tolk_engine *e)
{
    if (!e)
        return;
    tolk_engine_stop(e);
    tolk_device_destroy(e->device);
    for (int i = 0; i < e->count; i++) {
        struct channel *ch = &e->ch[i];
        tolk_source_destroy(ch->source);
        tolk_encoder_destroy(ch->encoder);
        tolk_packet_ring_destroy(ch->packets);
        free(ch->pcm);
    }
    for (int i = 0; i < e->desk_count; i++) {
        tolk_source_destroy(e->desk[i].source);
        free(e->desk[i].pcm);
    }
    free(e->device_frame);
    free(e->input_pcm);
    free(e->inputs);
    free(e->silence);
    free(e);
}

const struct tolk_config *tolk_engine_config(const struct tolk_engine *e)
{
    return e->cfg;
}

struct tolk_packet_ring *tolk_engine_packets(struct tolk_engine *e, int channel)
{
    return e->ch[channel].packets;
}

void tolk_engine_channel_status(const struct tolk_engine *e, int channel,
                                struct tolk_channel_status *out)
{
    struct channel *ch = (struct channel *)&e->ch[channel];
    out->state_version = atomic_load_explicit(&ch->pub.state_version, memory_order_acquire);
    out->live = atomic_load_explicit(&ch->pub.live, memory_order_relaxed);
    out->carry = atomic_load_explicit(&ch->pub.carry, memory_order_relaxed);
    out->signal = atomic_load_explicit(&ch->pub.signal, memory_order_relaxed);
    out->peak_db = atomic_load_explicit(&ch->pub.peak_db, memory_order_relaxed);
    out->rms_db = atomic_load_explicit(&ch->pub.rms_db, memory_order_relaxed);
    out->clipped = atomic_load_explicit(&ch->pub.clipped, memory_order_relaxed);
    out->frames = atomic_load_explicit(&ch->pub.frames, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&ch->pub.bytes, memory_order_relaxed);
    out->override = (enum tolk_override)atomic_load_explicit(&ch->override, memory_order_relaxed);
}

void tolk_engine_stats(const struct tolk_engine *e, struct tolk_engine_stats *out)
{
    struct tolk_engine *m = (struct tolk_engine *)e;
    out->device_running = e->device && tolk_device_running(e->device);
    out->device_overruns = e->device ? tolk_device_overruns(e->device) : 0;
    out->ticks = atomic_load_explicit(&m->pub.ticks, memory_order_relaxed);
    out->late_ticks = atomic_load_explicit(&m->pub.late_ticks, memory_order_relaxed);
    out->started_us = atomic_load_explicit(&m->pub.started_us, memory_order_relaxed);
    out->encode_ns = atomic_load_explicit(&m->pub.encode_ns, memory_order_relaxed);
    out->encode_max_ns = atomic_load_explicit(&m->pub.encode_max_ns, memory_order_relaxed);
    out->device_inputs = e->device_inputs;
    out->stall_frames = atomic_load_explicit(&m->pub.stall_frames, memory_order_relaxed);
}

void tolk_engine_desk_status(const struct tolk_engine *e, int desk, struct tolk_desk_status *out)
{
    struct desk *d = (struct desk *)&e->desk[desk];
    out->signal = atomic_load_explicit(&d->pub.signal, memory_order_relaxed);
    out->peak_db = atomic_load_explicit(&d->pub.peak_db, memory_order_relaxed);
    out->rms_db = atomic_load_explicit(&d->pub.rms_db, memory_order_relaxed);
    out->clipped = atomic_load_explicit(&d->pub.clipped, memory_order_relaxed);
}

void tolk_engine_set_on_air(struct tolk_engine *e, int channel, int desk, bool muted)
{
    int value = desk < 0 ? ON_AIR_NONE : (desk & ON_AIR_DESK_MASK) | (muted ? ON_AIR_MUTED : 0);
    atomic_store_explicit(&e->ch[channel].on_air, value, memory_order_release);
}

void tolk_engine_set_override(struct tolk_engine *e, int channel, enum tolk_override override)
{
    atomic_store_explicit(&e->ch[channel].override, (int)override, memory_order_relaxed);
}

void tolk_engine_input_status(const struct tolk_engine *e, int input, struct tolk_input_status *out)
{
    struct input_meter *m = &e->inputs[input];
    out->peak_db = atomic_load_explicit(&m->pub.peak_db, memory_order_relaxed);
    out->rms_db = atomic_load_explicit(&m->pub.rms_db, memory_order_relaxed);
    out->clipped = atomic_load_explicit(&m->pub.clipped, memory_order_relaxed);
}

uint64_t tolk_engine_take_encode_max(struct tolk_engine *e)
{
    return atomic_exchange_explicit(&e->pub.encode_max_ns, 0, memory_order_relaxed);
}
