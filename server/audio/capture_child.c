/* The capture child: every PortAudio call of a running tolk-server happens in this process.
 *
 * tolk-server re-executes itself as `tolk-server --capture-child FD PPID DEVICE INPUTS RATE`
 * (device.c spawns it). The child maps the shared memory of capture_shm.h, opens the device,
 * reports OPEN or FAILED there (the parent does all the logging), and then only watches that
 * its parent lives and its stream stays active. It never closes PortAudio: after a JACK server
 * died, PortAudio 19.6 blocks for minutes in close and then asserts, so the parent simply kills
 * the child (SIGKILL) and starts a fresh one.
 *
 * Processes and threads: the child's main thread (tolk_device_child_main) makes the PortAudio
 * calls; PortAudio's callback thread (on_audio) only copies into the ring, bumps atomic counters
 * and stamps the wall time of what it wrote. tolk_device_list runs in the parent's main thread
 * for --list-devices, after which the process exits.
 */
#include "audio/capture_shm.h"
#include "audio/device.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <portaudio.h>

#include "tolk/clock.h"
#include "tolk/error.h"
#include "tolk/log.h"

#define CHILD_WATCH_NS 100000000L /* between checks of the parent and the stream */

/* The child process's state: set up by its main thread before the stream starts. */
static struct {
    struct tolk_capture_shm *shm;
    const char *name;
    int inputs, sample_rate;
    uint64_t sample_bytes;
    PaStream *stream;
} child;

/* ---- PortAudio callback (real time) ---- */

static void ring_write(struct tolk_capture_shm *s, uint64_t pos, const void *src, uint64_t len)
{
    uint64_t offset = pos % s->ring_bytes;
    uint64_t first = s->ring_bytes - offset < len ? s->ring_bytes - offset : len;
    memcpy(s->data + offset, src, first);
    memcpy(s->data, (const unsigned char *)src + first, len - first);
}

static int on_audio(const void *input, void *output, unsigned long frames,
                    const PaStreamCallbackTimeInfo *time, PaStreamCallbackFlags flags, void *arg)
{
    struct tolk_capture_shm *s = arg;
    atomic_fetch_add_explicit(&s->callbacks, 1, memory_order_relaxed);
    if (flags & paInputOverflow)
        atomic_fetch_add_explicit(&s->overruns, 1, memory_order_relaxed);
    if (!input || frames == 0)
        return paContinue;
    uint64_t len = frames * child.sample_bytes;
    uint64_t tail = atomic_load_explicit(&s->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&s->head, memory_order_acquire);
    if (tail - head + len > s->ring_bytes) {
        atomic_fetch_add_explicit(&s->overruns, 1, memory_order_relaxed);
        atomic_store_explicit(&s->flush_until, tail, memory_order_release);
        return paContinue;
    }
    ring_write(s, tail, input, len);
    atomic_store_explicit(&s->tail, tail + len, memory_order_release);
    uint64_t seq = atomic_load_explicit(&s->stamp_seq, memory_order_relaxed);
    /* Release stores: a reader that sees a new value also sees the odd sequence number. */
    atomic_store_explicit(&s->stamp_seq, seq + 1, memory_order_relaxed);
    atomic_store_explicit(&s->stamp_us, tolk_clock_wall_us(), memory_order_release);
    atomic_store_explicit(&s->stamp_bytes, tail + len, memory_order_release);
    atomic_store_explicit(&s->stamp_seq, seq + 2, memory_order_release);
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
 * and libjack prints "cannot connect to server" when no JACK server runs; the parent reports
 * the outcome itself, once. PortAudio already loads both libraries, so their message hooks are
 * looked up rather than linked. PortAudio installs its own (quiet) JACK error hook once it
 * connects. */
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

/* ---- Child: reporting to the parent ---- */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Publishes the problem and exits without closing PortAudio (the OS and JACK clean up). */
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(child.shm->problem, sizeof child.shm->problem, fmt, ap);
    va_end(ap);
    atomic_store_explicit(&child.shm->state, TOLK_CAPTURE_FAILED, memory_order_release);
    _exit(1);
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

/* ---- Child: finding and opening ---- */

static bool parse_index(const char *s, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(s, &end, 10);
    return *s != '\0' && *end == '\0' && errno == 0;
}

static PaDeviceIndex match_name(PaDeviceIndex *too_small)
{
    int count = Pa_GetDeviceCount();
    *too_small = paNoDevice;
    for (PaDeviceIndex i = 0; i < count; i++) {
        const PaDeviceInfo *info = Pa_GetDeviceInfo(i);
        if (!info || !strcasestr(info->name, child.name))
            continue;
        if (info->maxInputChannels >= child.inputs)
            return i;
        if (*too_small == paNoDevice && info->maxInputChannels > 0)
            *too_small = i;
    }
    return paNoDevice;
}

/* Returns the device to open; fails (exits) if there is none. */
static PaDeviceIndex find_device(void)
{
    char inputs[256];
    long index;
    PaDeviceIndex found, too_small = paNoDevice;
    describe_inputs(inputs, sizeof inputs);
    if (strcasecmp(child.name, "default") == 0) {
        found = Pa_GetDefaultInputDevice();
        if (found == paNoDevice)
            fail("there is no default input device (%s)", inputs);
    } else if (parse_index(child.name, &index)) {
        found = index >= 0 && index < Pa_GetDeviceCount() ? (PaDeviceIndex)index : paNoDevice;
        if (found == paNoDevice)
            fail("no device has index %ld (%s)", index, inputs);
    } else {
        found = match_name(&too_small);
        if (found == paNoDevice && too_small == paNoDevice)
            fail("not found (%s)", inputs);
    }
    if (found == paNoDevice)
        found = too_small;
    const PaDeviceInfo *info = Pa_GetDeviceInfo(found);
    if (!info)
        fail("device %d has no information", found);
    if (info->maxInputChannels < child.inputs)
        fail("device %d \"%s\" has %d input channels, the configuration needs %d", found,
             info->name, info->maxInputChannels, child.inputs);
    return found;
}

static void fail_pa(const char *what, PaDeviceIndex index, PaError err)
{
    const PaDeviceInfo *info = Pa_GetDeviceInfo(index);
    const PaHostErrorInfo *host = Pa_GetLastHostErrorInfo();
    bool has_host = err == paUnanticipatedHostError && host && host->errorText;
    fail("cannot %s device %d \"%s\" at %d Hz: %s%s%s", what, index, info ? info->name : "?",
         child.sample_rate, Pa_GetErrorText(err), has_host ? ": " : "",
         has_host ? host->errorText : "");
}

static void describe_stream(PaDeviceIndex index)
{
    const PaDeviceInfo *info = Pa_GetDeviceInfo(index);
    const PaHostApiInfo *api = Pa_GetHostApiInfo(info->hostApi);
    snprintf(child.shm->description, sizeof child.shm->description,
             "device %d \"%s\" (%s), %d of %d inputs at %d Hz, input latency %.1f ms", index,
             info->name, api ? api->name : "?", child.inputs, info->maxInputChannels,
             child.sample_rate, atomic_load(&child.shm->latency_us) / 1000.0);
}

static void open_stream(PaDeviceIndex index)
{
    struct tolk_capture_shm *s = child.shm;
    const PaDeviceInfo *info = Pa_GetDeviceInfo(index);
    PaStreamParameters params = {
        .device = index,
        .channelCount = child.inputs,
        .sampleFormat = paFloat32,
        .suggestedLatency = info->defaultLowInputLatency,
    };
    /* Unspecified: the host's own period (JACK's), so callbacks come steadily; the ring
     * decouples it from the engine's frame size. */
    PaError err = Pa_OpenStream(&child.stream, &params, NULL, child.sample_rate,
                                paFramesPerBufferUnspecified, paNoFlag, on_audio, s);
    if (err != paNoError)
        fail_pa("open", index, err);
    const PaStreamInfo *stream_info = Pa_GetStreamInfo(child.stream);
    atomic_store(&s->latency_us, stream_info ? llround(stream_info->inputLatency * 1e6) : 0);
    atomic_store_explicit(&s->flush_until, atomic_load(&s->tail), memory_order_release);
    describe_stream(index);
    err = Pa_StartStream(child.stream);
    if (err != paNoError)
        fail_pa("start", index, err);
    atomic_store_explicit(&s->state, TOLK_CAPTURE_OPEN, memory_order_release);
}

/* ---- Child: process set-up ---- */

/* Maps the parent's memory from the inherited fd; NULL if it is not what the parent made. */
static struct tolk_capture_shm *map_shared(int fd, int inputs, int sample_rate)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(struct tolk_capture_shm))
        return NULL;
    void *mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (mem == MAP_FAILED)
        return NULL;
    struct tolk_capture_shm *s = mem;
    bool ok = s->magic == TOLK_CAPTURE_MAGIC && s->size == (uint64_t)st.st_size &&
              s->inputs == (uint32_t)inputs && s->sample_rate == (uint32_t)sample_rate &&
              s->ring_bytes > 0 && sizeof *s + s->ring_bytes <= s->size;
    if (!ok)
        munmap(mem, (size_t)st.st_size);
    return ok ? s : NULL;
}

/* Dies with the parent (PDEATHSIG, and the getppid check closes the race with an exit before
 * prctl); drops every fd but stdio and the mapping's. False if the parent is already gone. */
static bool tie_to_parent(pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        return false;
    close_range(TOLK_CAPTURE_FD + 1, ~0U, 0);
    return true;
}

static void sleep_ns(long ns)
{
    struct timespec t = {.tv_sec = 0, .tv_nsec = ns};
    nanosleep(&t, NULL);
}

int tolk_device_child_main(int argc, char **argv)
{
    if (argc != 7)
        return 2;
    int fd = atoi(argv[2]);
    pid_t parent = (pid_t)atol(argv[3]);
    child.name = argv[4];
    child.inputs = atoi(argv[5]);
    child.sample_rate = atoi(argv[6]);
    child.sample_bytes = (uint64_t)child.inputs * sizeof(float);
    if (!tie_to_parent(parent) || child.inputs < 1 || child.sample_rate <= 0)
        return 2;
    child.shm = map_shared(fd, child.inputs, child.sample_rate);
    if (!child.shm)
        return 2;
    PaError err = pa_start();
    if (err != paNoError)
        fail("PortAudio does not start: %s", Pa_GetErrorText(err));
    open_stream(find_device());
    for (;;) {
        sleep_ns(CHILD_WATCH_NS);
        if (getppid() != parent)
            _exit(0);
        if (Pa_IsStreamActive(child.stream) != 1)
            fail("PortAudio stopped it (device removed, or its audio server gone)");
        if (atomic_load_explicit(&child.shm->quit, memory_order_acquire))
            break;
    }
    /* Asked by a parent that saw callbacks coming: closing will not hang (else it kills us). */
    Pa_AbortStream(child.stream);
    Pa_CloseStream(child.stream);
    Pa_Terminate();
    _exit(0);
}

/* ---- --list-devices (the parent's main thread) ---- */

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
