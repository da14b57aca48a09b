/* The PortAudio capture device: one multichannel input, opened and supervised (see device.h).
 *
 * Threads:
 * - PortAudio's callback (on_audio) only copies into the ring, bumps atomic counters and
 *   stamps the wall time of what it wrote (for capture times).
 * - The supervisor thread (supervise) makes every PortAudio call, Pa_Initialize/Pa_Terminate
 *   included: it opens the device, watches that callbacks keep coming, reports each change of
 *   state once, and retries every 3 s with a fresh Pa_Initialize so devices that appear later
 *   (a JACK server started after us, a USB interface plugged in) are found.
 * - The engine thread is the ring's only reader (tolk_device_read_frame).
 * - Any thread may read running, overruns and the latency.
 */
#include "audio/device.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <portaudio.h>

#include "tolk/clock.h"
#include "tolk/error.h"
#include "tolk/log.h"
#include "tolk/ring.h"

#define RETRY_NS 3000000000LL    /* between attempts to open the device */
#define WATCH_NS 100000000LL     /* between checks of a running stream */
#define STALL_NS 500000000LL     /* no callback for this long: the device failed */
#define FIRST_CALLBACK_NS 2000000000LL /* grace for the first callback after opening */
#define RING_MS 200
#define JOIN_TIMEOUT_S 3 /* destroy gives up on a supervisor stuck in PortAudio */

struct tolk_device {
    /* Read-only after create. */
    char name[128];
    int inputs, sample_rate, frame_samples;
    size_t sample_bytes; /* one interleaved sample of all inputs */
    size_t frame_bytes;
    struct tolk_ring *ring;
    size_t ring_limit; /* bytes the ring may hold (its capacity is rounded up to a power of 2) */

    /* Written by the callback; read by the supervisor and any thread. */
    _Atomic uint64_t callbacks;
    _Atomic uint64_t overruns;
    _Atomic uint64_t bytes_written; /* all bytes ever written to the ring */
    /* Written by the callback, read by the engine under a sequence lock (odd = being written):
     * the wall time of the last callback and bytes_written after it. They date the newest
     * sample without the jitter of the engine's own wake-up. */
    _Atomic uint64_t stamp_seq;
    _Atomic int64_t stamp_us;
    _Atomic uint64_t stamp_bytes;

    /* Written by the supervisor; read by any thread. */
    atomic_bool running;
    _Atomic int64_t latency_us; /* the open stream's input latency */
    /* The engine drops ring content written before this point (a bytes_written value): set by
     * the supervisor when it opens a stream (no callback runs then) and by the callback when
     * the ring is full, so the engine resumes with live audio instead of a stale backlog whose
     * capture times could no longer be told. */
    _Atomic uint64_t flush_until;

    /* Engine thread only. */
    uint64_t bytes_read;

    /* Supervisor thread only. */
    bool pa_initialized;
    PaStream *stream;
    bool jack_stream; /* stream is on PortAudio's JACK host API */
    /* The JACK server under stream went away. PortAudio 19.6 then blocks 10 minutes in
     * Pa_AbortStream/Pa_CloseStream/Pa_Terminate (waiting for a JACK cycle that never comes)
     * and asserts on the dead client afterwards, so the stream and PortAudio are left alone. */
    bool parked;
    char description[256];   /* of the open stream, for the log */
    char last_problem[512];  /* last state reported, so each is logged once */
    bool reported_running;
    uint64_t seen_callbacks;
    int64_t progress_ns;     /* monotonic time the callback count last moved */

    /* stop is guarded by lock; wake interrupts the supervisor's waits. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    pthread_t thread;
};

/* ---- PortAudio callback (real time) ---- */

static int on_audio(const void *input, void *output, unsigned long frames,
                    const PaStreamCallbackTimeInfo *time, PaStreamCallbackFlags flags, void *arg)
{
    struct tolk_device *d = arg;
    atomic_fetch_add_explicit(&d->callbacks, 1, memory_order_relaxed);
    if (flags & paInputOverflow)
        atomic_fetch_add_explicit(&d->overruns, 1, memory_order_relaxed);
    if (!input || frames == 0)
        return paContinue;
    size_t len = frames * d->sample_bytes;
    size_t used = tolk_ring_capacity(d->ring) - tolk_ring_writable(d->ring);
    if (used + len > d->ring_limit || tolk_ring_write(d->ring, input, len) != len) {
        atomic_fetch_add_explicit(&d->overruns, 1, memory_order_relaxed);
        atomic_store_explicit(&d->flush_until,
                              atomic_load_explicit(&d->bytes_written, memory_order_relaxed),
                              memory_order_release);
        return paContinue;
    }
    uint64_t written = atomic_fetch_add_explicit(&d->bytes_written, len, memory_order_release);
    uint64_t seq = atomic_load_explicit(&d->stamp_seq, memory_order_relaxed);
    /* Release stores: a reader that sees a new value also sees the odd sequence number. */
    atomic_store_explicit(&d->stamp_seq, seq + 1, memory_order_relaxed);
    atomic_store_explicit(&d->stamp_us, tolk_clock_wall_us(), memory_order_release);
    atomic_store_explicit(&d->stamp_bytes, written + len, memory_order_release);
    atomic_store_explicit(&d->stamp_seq, seq + 2, memory_order_release);
    return paContinue;
}

/* ---- PortAudio set-up noise ---- */

typedef void (*alsa_error_handler)(const char *file, int line, const char *function, int err,
                                   const char *fmt, ...);

static void alsa_ignore(const char *file, int line, const char *function, int err,
                        const char *fmt, ...)
{
}

static void jack_ignore(const char *msg)
{
}

/* While PortAudio scans, ALSA prints "cannot find card" lines on a machine without sound cards
 * and libjack prints "cannot connect to server" when no JACK server runs; the supervisor
 * reports the outcome itself, once. PortAudio already loads both libraries, so their message
 * hooks are looked up rather than linked. PortAudio installs its own (quiet) JACK error hook
 * once it connects. */
static void scan_quietly(bool quiet)
{
    int (*alsa_set)(alsa_error_handler) =
        (int (*)(alsa_error_handler))dlsym(RTLD_DEFAULT, "snd_lib_error_set_handler");
    if (alsa_set)
        alsa_set(quiet ? alsa_ignore : NULL);
    void (*jack_set)(void (*)(const char *)) =
        (void (*)(void (*)(const char *)))dlsym(RTLD_DEFAULT, "jack_set_error_function");
    if (jack_set && quiet)
        jack_set(jack_ignore);
    void (*jack_info)(void (*)(const char *)) =
        (void (*)(void (*)(const char *)))dlsym(RTLD_DEFAULT, "jack_set_info_function");
    if (jack_info && quiet)
        jack_info(jack_ignore);
}

static PaError pa_start(void)
{
    scan_quietly(true);
    PaError err = Pa_Initialize();
    scan_quietly(false);
    return err;
}

/* ---- Supervisor: reporting ---- */

static void report_problem(struct tolk_device *d, bool retrying, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs msg unless it was the last state reported. */
static void report_problem(struct tolk_device *d, bool retrying, const char *fmt, ...)
{
    char msg[sizeof d->last_problem];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d->reported_running = false;
    if (strcmp(msg, d->last_problem) == 0)
        return;
    snprintf(d->last_problem, sizeof d->last_problem, "%s", msg);
    if (retrying)
        tolk_log_warn("audio device \"%s\": %s; retrying every %lld s", d->name, msg,
                      RETRY_NS / 1000000000LL);
    else
        tolk_log_warn("audio device \"%s\": %s", d->name, msg);
}

static void report_running(struct tolk_device *d)
{
    if (d->reported_running)
        return;
    d->reported_running = true;
    d->last_problem[0] = '\0';
    tolk_log_info("audio device \"%s\": capturing from %s", d->name, d->description);
}

/* Writes `input devices: N "name" (K in), ...`, for messages about a missing device. */
static void describe_inputs(char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "input devices:");
    int count = Pa_GetDeviceCount();
    int listed = 0;
    for (int i = 0; i < count && used < len; i++) {
        const PaDeviceInfo *info = Pa_GetDeviceInfo(i);
        if (!info || info->maxInputChannels <= 0)
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%s %d \"%s\" (%d in)", listed ? "," : "",
                                 i, info->name, info->maxInputChannels);
        listed++;
    }
    if (listed == 0 && used < len)
        snprintf(buf + used, len - used, " none");
}

/* ---- Supervisor: finding and opening ---- */

static bool parse_index(const char *s, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(s, &end, 10);
    return *s != '\0' && *end == '\0' && errno == 0;
}

static PaDeviceIndex match_name(struct tolk_device *d, PaDeviceIndex *too_small)
{
    int count = Pa_GetDeviceCount();
    *too_small = paNoDevice;
    for (PaDeviceIndex i = 0; i < count; i++) {
        const PaDeviceInfo *info = Pa_GetDeviceInfo(i);
        if (!info || !strcasestr(info->name, d->name))
            continue;
        if (info->maxInputChannels >= d->inputs)
            return i;
        if (*too_small == paNoDevice && info->maxInputChannels > 0)
            *too_small = i;
    }
    return paNoDevice;
}

/* Returns the device to open, or paNoDevice after reporting why there is none. */
static PaDeviceIndex find_device(struct tolk_device *d)
{
    char inputs[256];
    long index;
    PaDeviceIndex found = paNoDevice, too_small = paNoDevice;
    describe_inputs(inputs, sizeof inputs);
    if (strcasecmp(d->name, "default") == 0) {
        found = Pa_GetDefaultInputDevice();
        if (found == paNoDevice)
            report_problem(d, true, "there is no default input device (%s)", inputs);
    } else if (parse_index(d->name, &index)) {
        found = index >= 0 && index < Pa_GetDeviceCount() ? (PaDeviceIndex)index : paNoDevice;
        if (found == paNoDevice)
            report_problem(d, true, "no device has index %ld (%s)", index, inputs);
    } else {
        found = match_name(d, &too_small);
        if (found == paNoDevice && too_small == paNoDevice)
            report_problem(d, true, "not found (%s)", inputs);
    }
    if (found == paNoDevice && too_small != paNoDevice)
        found = too_small;
    const PaDeviceInfo *info = found == paNoDevice ? NULL : Pa_GetDeviceInfo(found);
    if (info && info->maxInputChannels < d->inputs) {
        report_problem(d, true, "device %d \"%s\" has %d input channels, the configuration "
                       "needs %d", found, info->name, info->maxInputChannels, d->inputs);
        return paNoDevice;
    }
    return info ? found : paNoDevice;
}

static void report_pa_error(struct tolk_device *d, const char *what, PaDeviceIndex index,
                            PaError err)
{
    const PaDeviceInfo *info = Pa_GetDeviceInfo(index);
    const PaHostErrorInfo *host = Pa_GetLastHostErrorInfo();
    bool has_host = err == paUnanticipatedHostError && host && host->errorText;
    report_problem(d, true, "cannot %s device %d \"%s\" at %d Hz: %s%s%s", what, index,
                   info ? info->name : "?", d->sample_rate, Pa_GetErrorText(err),
                   has_host ? ": " : "", has_host ? host->errorText : "");
}

static void close_stream(struct tolk_device *d)
{
    if (d->stream) {
        Pa_AbortStream(d->stream);
        Pa_CloseStream(d->stream);
        d->stream = NULL;
    }
    atomic_store(&d->running, false);
    if (d->pa_initialized) {
        Pa_Terminate();
        d->pa_initialized = false;
    }
}

static void describe_stream(struct tolk_device *d, PaDeviceIndex index)
{
    const PaDeviceInfo *info = Pa_GetDeviceInfo(index);
    const PaHostApiInfo *api = Pa_GetHostApiInfo(info->hostApi);
    snprintf(d->description, sizeof d->description,
             "device %d \"%s\" (%s), %d of %d inputs at %d Hz, input latency %.1f ms", index,
             info->name, api ? api->name : "?", d->inputs, info->maxInputChannels, d->sample_rate,
             atomic_load(&d->latency_us) / 1000.0);
}

static int open_stream(struct tolk_device *d, PaDeviceIndex index)
{
    const PaDeviceInfo *info = Pa_GetDeviceInfo(index);
    PaStreamParameters params = {
        .device = index,
        .channelCount = d->inputs,
        .sampleFormat = paFloat32,
        .suggestedLatency = info->defaultLowInputLatency,
    };
    /* Unspecified: the host's own period (JACK's), so callbacks come steadily; the ring
     * decouples it from the engine's frame size. */
    PaError err = Pa_OpenStream(&d->stream, &params, NULL, d->sample_rate,
                                paFramesPerBufferUnspecified, paNoFlag, on_audio, d);
    if (err != paNoError) {
        d->stream = NULL;
        report_pa_error(d, "open", index, err);
        return TOLK_EDEVICE;
    }
    const PaStreamInfo *stream_info = Pa_GetStreamInfo(d->stream);
    atomic_store(&d->latency_us, stream_info ? llround(stream_info->inputLatency * 1e6) : 0);
    atomic_store(&d->flush_until, atomic_load_explicit(&d->bytes_written, memory_order_acquire));
    const PaHostApiInfo *api = Pa_GetHostApiInfo(info->hostApi);
    d->jack_stream = api && api->type == paJACK;
    d->seen_callbacks = atomic_load(&d->callbacks);
    d->progress_ns = tolk_clock_mono_ns();
    describe_stream(d, index);
    err = Pa_StartStream(d->stream);
    if (err != paNoError) {
        report_pa_error(d, "start", index, err);
        return TOLK_EDEVICE;
    }
    return 0;
}

static int try_open(struct tolk_device *d)
{
    PaError err = pa_start();
    if (err != paNoError) {
        report_problem(d, true, "PortAudio does not start: %s", Pa_GetErrorText(err));
        return TOLK_EDEVICE;
    }
    d->pa_initialized = true;
    PaDeviceIndex index = find_device(d);
    int rc = index == paNoDevice ? TOLK_EDEVICE : open_stream(d, index);
    if (rc != 0)
        close_stream(d);
    return rc;
}

/* ---- Supervisor: watching ---- */

static void park(struct tolk_device *d)
{
    d->parked = true;
    d->last_problem[0] = '\0';
    tolk_log_error("audio device \"%s\": the JACK server went away; PortAudio cannot reopen JACK "
                   "in a running process: restart tolk-server once JACK runs again", d->name);
}

/* The stream failed; running is already false. A JACK stream is not closed while its server
 * lives: closing waits for the server's next cycle anyway, and if the server died meanwhile
 * PortAudio would assert. So a stalled JACK stream is watched until it resumes or dies. */
static void drop_stream(struct tolk_device *d, bool active, bool was_running)
{
    if (d->jack_stream && !active) {
        park(d);
    } else if (d->jack_stream) {
        /* Audio queued before the stall would get wrong capture times once it resumes. */
        atomic_store(&d->flush_until, atomic_load(&d->bytes_written));
        report_problem(d, false, "the JACK server stopped running us (no callback for %lld ms); "
                       "waiting for it", STALL_NS / 1000000);
    } else {
        if (!active)
            report_problem(d, true, "the stream stopped (device removed or failed)");
        else if (was_running)
            report_problem(d, true, "stopped delivering audio (no callback for %lld ms)",
                           STALL_NS / 1000000);
        else
            report_problem(d, true, "opened but delivers no audio");
        close_stream(d);
    }
}

static int watch(struct tolk_device *d)
{
    uint64_t callbacks = atomic_load(&d->callbacks);
    int64_t now = tolk_clock_mono_ns();
    bool active = Pa_IsStreamActive(d->stream) == 1;
    if (active && callbacks != d->seen_callbacks) {
        d->seen_callbacks = callbacks;
        d->progress_ns = now;
        atomic_store(&d->running, true);
        report_running(d);
        return 0;
    }
    bool was_running = atomic_load(&d->running);
    if (active && now - d->progress_ns < (was_running ? STALL_NS : FIRST_CALLBACK_NS))
        return 0;
    atomic_store(&d->running, false);
    drop_stream(d, active, was_running);
    return d->stream ? 0 : TOLK_EDEVICE;
}

/* Waits up to ns or until destroy asks to stop; returns true to stop. */
static bool wait_or_stop(struct tolk_device *d, int64_t ns)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ns / 1000000000;
    deadline.tv_nsec += ns % 1000000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&d->lock);
    while (!d->stop && pthread_cond_timedwait(&d->wake, &d->lock, &deadline) != ETIMEDOUT)
        ;
    bool stop = d->stop;
    pthread_mutex_unlock(&d->lock);
    return stop;
}

static void *supervise(void *arg)
{
    struct tolk_device *d = arg;
    int64_t wait = 0;
    while (!wait_or_stop(d, wait)) {
        if (d->parked) {
            wait = RETRY_NS;
            continue;
        }
        int rc = d->stream ? watch(d) : try_open(d);
        wait = rc == 0 ? WATCH_NS : RETRY_NS;
    }
    if (!d->parked)
        close_stream(d);
    return NULL;
}

/* ---- Public ---- */

static int init_sync(struct tolk_device *d)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -ENOMEM;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = -pthread_cond_init(&d->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (rc == 0 && (rc = -pthread_mutex_init(&d->lock, NULL)) != 0)
        pthread_cond_destroy(&d->wake);
    return rc;
}

int tolk_device_create(struct tolk_device **out, const char *name, int inputs, int sample_rate,
                       int frame_samples)
{
    *out = NULL;
    if (inputs < 1 || sample_rate <= 0 || frame_samples <= 0)
        return -EINVAL;
    struct tolk_device *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    snprintf(d->name, sizeof d->name, "%s", name && *name ? name : "default");
    d->inputs = inputs;
    d->sample_rate = sample_rate;
    d->frame_samples = frame_samples;
    d->sample_bytes = (size_t)inputs * sizeof(float);
    d->frame_bytes = (size_t)frame_samples * d->sample_bytes;
    size_t ring_samples = (size_t)sample_rate * RING_MS / 1000;
    if (ring_samples < 4 * (size_t)frame_samples)
        ring_samples = 4 * (size_t)frame_samples;
    d->ring_limit = ring_samples * d->sample_bytes;
    int rc = tolk_ring_create(&d->ring, d->ring_limit);
    bool synced = rc == 0 && (rc = init_sync(d)) == 0;
    if (synced && (rc = -pthread_create(&d->thread, NULL, supervise, d)) == 0)
        pthread_setname_np(d->thread, "tolk-audio");
    if (rc != 0) {
        if (synced) {
            pthread_cond_destroy(&d->wake);
            pthread_mutex_destroy(&d->lock);
        }
        tolk_ring_destroy(d->ring);
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void tolk_device_destroy(struct tolk_device *device)
{
    if (!device)
        return;
    pthread_mutex_lock(&device->lock);
    device->stop = true;
    pthread_cond_signal(&device->wake);
    pthread_mutex_unlock(&device->lock);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += JOIN_TIMEOUT_S;
    if (pthread_timedjoin_np(device->thread, NULL, &deadline) != 0) {
        /* Stuck inside PortAudio (a stalled JACK server): leave it and what it uses. */
        tolk_log_error("audio device \"%s\": PortAudio did not close within %d s; leaving it",
                       device->name, JOIN_TIMEOUT_S);
        pthread_detach(device->thread);
        return;
    }
    pthread_cond_destroy(&device->wake);
    pthread_mutex_destroy(&device->lock);
    tolk_ring_destroy(device->ring);
    free(device);
}

/* Engine thread: drops content marked stale (from before a reopen, or before an overrun). */
static void drop_stale(struct tolk_device *d)
{
    uint64_t until = atomic_load_explicit(&d->flush_until, memory_order_acquire);
    if (d->bytes_read < until)
        d->bytes_read += tolk_ring_skip(d->ring, (size_t)(until - d->bytes_read));
}

/* Engine thread: the last callback's stamp; false if the callback kept it busy. */
static bool last_stamp(struct tolk_device *d, int64_t *us, uint64_t *bytes)
{
    for (int tries = 0; tries < 4; tries++) {
        uint64_t seq = atomic_load_explicit(&d->stamp_seq, memory_order_acquire);
        *us = atomic_load_explicit(&d->stamp_us, memory_order_acquire);
        *bytes = atomic_load_explicit(&d->stamp_bytes, memory_order_acquire);
        if (!(seq & 1) && seq == atomic_load_explicit(&d->stamp_seq, memory_order_relaxed))
            return true;
    }
    return false;
}

/* Capture time of the sample at byte position `at`: the time the audio after it reached us
 * (the last callback, or now if the stamp was busy) minus that audio's duration and minus the
 * stream's input latency. */
static int64_t capture_time(struct tolk_device *d, uint64_t at, size_t queued)
{
    int64_t until_us;
    uint64_t until_bytes;
    if (!last_stamp(d, &until_us, &until_bytes) || until_bytes < at) {
        until_us = tolk_clock_wall_us();
        until_bytes = at + queued;
    }
    int64_t samples = (int64_t)((until_bytes - at) / d->sample_bytes);
    return until_us - samples * 1000000 / d->sample_rate - atomic_load(&d->latency_us);
}

bool tolk_device_read_frame(struct tolk_device *device, float *out, int64_t *capture_us)
{
    drop_stale(device);
    size_t queued = tolk_ring_readable(device->ring);
    if (queued < device->frame_bytes)
        return false;
    *capture_us = capture_time(device, device->bytes_read, queued);
    tolk_ring_read(device->ring, out, device->frame_bytes);
    device->bytes_read += device->frame_bytes;
    return true;
}

bool tolk_device_running(const struct tolk_device *device)
{
    return device && atomic_load(&((struct tolk_device *)device)->running);
}

uint64_t tolk_device_overruns(const struct tolk_device *device)
{
    return device ? atomic_load(&((struct tolk_device *)device)->overruns) : 0;
}

static void list_device(FILE *out, PaDeviceIndex i)
{
    const PaDeviceInfo *info = Pa_GetDeviceInfo(i);
    const PaHostApiInfo *api = info ? Pa_GetHostApiInfo(info->hostApi) : NULL;
    if (!info)
        return;
    fprintf(out, "%3d  %-40s %-28s %3d in %3d out  %6.0f Hz%s%s\n", i, info->name,
            api ? api->name : "?", info->maxInputChannels, info->maxOutputChannels,
            info->defaultSampleRate, i == Pa_GetDefaultInputDevice() ? "  (default input)" : "",
            i == Pa_GetDefaultOutputDevice() ? "  (default output)" : "");
}

int tolk_device_list(FILE *out)
{
    PaError err = pa_start();
    if (err != paNoError) {
        tolk_log_error("PortAudio does not start: %s", Pa_GetErrorText(err));
        return TOLK_EDEVICE;
    }
    int count = Pa_GetDeviceCount();
    fprintf(out, "%d audio device%s (%s)\n", count < 0 ? 0 : count,
            count == 1 ? "" : "s", Pa_GetVersionText());
    fprintf(out, "idx  %-40s %-28s inputs outputs  rate\n", "name", "host API");
    for (PaDeviceIndex i = 0; i < count; i++)
        list_device(out, i);
    Pa_Terminate();
    return 0;
}
