/* The PortAudio capture device: one multichannel input, captured in a child process and
 * supervised (see device.h; the child is capture_child.c, the shared memory capture_shm.h).
 *
 * Processes and threads:
 * - The capture child (tolk-server re-executed) makes every PortAudio call; its callback writes
 *   the shared ring and counters. PortAudio 19.6 cannot be closed once a JACK server died under
 *   it, so instead of closing, the parent kills the child (SIGKILL, never waiting on PortAudio)
 *   and starts a fresh one, which scans the devices anew.
 * - The supervisor thread (supervise) owns the child: it spawns it, watches its state and that
 *   callbacks keep coming, reports each change of state once (the child never logs), and after a
 *   failure kills and reaps the child and spawns the next one 3 s later.
 * - The engine thread is the ring's only reader (tolk_device_read_frame).
 * - Any thread may read running, overruns and the latency.
 */
#include "audio/device.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audio/capture_shm.h"
#include "tolk/clock.h"
#include "tolk/error.h"
#include "tolk/log.h"

#define RETRY_NS 3000000000LL    /* between a failure and the next child */
#define WATCH_NS 100000000LL     /* between checks of the child */
#define STALL_MS 500             /* no callback for this long: the device failed */
#define STALL_NS (STALL_MS * 1000000LL)
#define FIRST_CALLBACK_NS 2000000000LL /* grace for the first callback after opening */
#define OPEN_TIMEOUT_S 10        /* a child still opening after this is stuck */
#define OPEN_TIMEOUT_NS (OPEN_TIMEOUT_S * 1000000000LL)
#define QUIT_NS 2000000000LL     /* a closing child that takes longer is killed */
#define RING_MS 200
#define STR_(x) #x
#define STR(x) STR_(x)

extern char **environ;

struct tolk_device {
    /* Read-only after create. */
    char name[128];
    int inputs, sample_rate, frame_samples;
    size_t sample_bytes; /* one interleaved sample of all inputs */
    size_t frame_bytes;
    int shm_fd;
    struct tolk_capture_shm *shm; /* shared with the child; see capture_shm.h for who writes */

    /* Written by the supervisor; read by any thread. */
    atomic_bool running;

    /* Supervisor thread only. */
    pid_t child;             /* 0: none */
    int64_t spawned_ns;      /* monotonic time the child was spawned */
    char last_problem[600];  /* last state reported, so each is logged once */
    bool reported_running;
    uint64_t seen_callbacks;
    int64_t progress_ns;     /* monotonic time the callback count last moved */

    /* stop is guarded by lock; wake interrupts the supervisor's waits. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    pthread_t thread;
};

/* ---- Supervisor: reporting ---- */

static void report_problem(struct tolk_device *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs msg unless it was the last state reported. */
static void report_problem(struct tolk_device *d, const char *fmt, ...)
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
    tolk_log_warn("audio device \"%s\": %s; retrying every %lld s", d->name, msg,
                  RETRY_NS / 1000000000LL);
}

static void report_running(struct tolk_device *d)
{
    if (d->reported_running)
        return;
    d->reported_running = true;
    d->last_problem[0] = '\0';
    tolk_log_info("audio device \"%s\": capturing from %s", d->name, d->shm->description);
}

/* The device is gone; a stream that was delivering is reported as lost, whatever the cause. */
static void report_lost(struct tolk_device *d, const char *why)
{
    bool was_running = atomic_exchange(&d->running, false);
    if (was_running)
        report_problem(d, "lost the stream: %s", why);
    else
        report_problem(d, "%s", why);
}

/* ---- Supervisor: the child process ---- */

/* SIGKILL and reap: the child may be stuck in PortAudio, but it cannot ignore this. */
static void kill_child(struct tolk_device *d)
{
    if (d->child <= 0)
        return;
    kill(d->child, SIGKILL);
    while (waitpid(d->child, NULL, 0) < 0 && errno == EINTR)
        ;
    d->child = 0;
}

/* Shutdown: a child whose stream delivers closes PortAudio itself (a JACK server then sees its
 * client leave, not vanish, and does not stall on it); any other is killed at once. */
static void stop_child(struct tolk_device *d)
{
    if (d->child > 0 && atomic_load(&d->running)) {
        atomic_store_explicit(&d->shm->quit, 1, memory_order_release);
        int64_t deadline = tolk_clock_mono_ns() + QUIT_NS;
        pid_t reaped = 0;
        while (tolk_clock_mono_ns() < deadline && (reaped = waitpid(d->child, NULL, WNOHANG)) == 0)
            tolk_clock_sleep_until(tolk_clock_mono_ns() + 10000000);
        if (reaped == d->child)
            d->child = 0;
    }
    kill_child(d);
}

/* No child runs: undoes what a killed one may have left half-done, and marks all queued audio
 * stale (its capture times could no longer be told once the next stream starts). */
static void repair_shared(struct tolk_device *d)
{
    struct tolk_capture_shm *s = d->shm;
    uint64_t seq = atomic_load(&s->stamp_seq);
    if (seq & 1)
        atomic_store(&s->stamp_seq, seq + 1);
    atomic_store_explicit(&s->flush_until, atomic_load(&s->tail), memory_order_release);
    atomic_store(&s->state, TOLK_CAPTURE_STARTING);
}

static int spawn_child(struct tolk_device *d)
{
    char fd_arg[16], parent_arg[24], inputs_arg[16], rate_arg[16];
    snprintf(fd_arg, sizeof fd_arg, "%d", TOLK_CAPTURE_FD);
    snprintf(parent_arg, sizeof parent_arg, "%ld", (long)getpid());
    snprintf(inputs_arg, sizeof inputs_arg, "%d", d->inputs);
    snprintf(rate_arg, sizeof rate_arg, "%d", d->sample_rate);
    char *argv[] = {"tolk-server", TOLK_DEVICE_CHILD_ARG, fd_arg, parent_arg, d->name,
                    inputs_arg, rate_arg, NULL};
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0)
        return -rc;
    if ((rc = posix_spawnattr_init(&attr)) == 0) {
        /* A clean start: no signal blocked or ignored as in this thread. */
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        rc = posix_spawn_file_actions_adddup2(&actions, d->shm_fd, TOLK_CAPTURE_FD);
        if (rc == 0)
            rc = posix_spawn(&d->child, "/proc/self/exe", &actions, &attr, argv, environ);
        posix_spawnattr_destroy(&attr);
    }
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        d->child = 0;
    return -rc;
}

/* Returns how long to wait before the next step. */
static int64_t start_child(struct tolk_device *d)
{
    repair_shared(d);
    int rc = spawn_child(d);
    if (rc != 0) {
        report_problem(d, "cannot start the capture process: %s", tolk_strerror(rc));
        return RETRY_NS;
    }
    d->spawned_ns = tolk_clock_mono_ns();
    d->seen_callbacks = atomic_load(&d->shm->callbacks);
    d->progress_ns = d->spawned_ns;
    return WATCH_NS;
}

static void describe_exit(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "the capture process died of signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "the capture process exited with status %d", WEXITSTATUS(status));
}

/* The child is open: fine while callbacks keep coming. */
static int64_t watch_stream(struct tolk_device *d, int64_t now)
{
    uint64_t callbacks = atomic_load(&d->shm->callbacks);
    if (callbacks != d->seen_callbacks) {
        d->seen_callbacks = callbacks;
        d->progress_ns = now;
        atomic_store(&d->running, true);
        report_running(d);
        return WATCH_NS;
    }
    bool was_running = atomic_load(&d->running);
    if (now - d->progress_ns < (was_running ? STALL_NS : FIRST_CALLBACK_NS))
        return WATCH_NS;
    kill_child(d);
    if (was_running)
        report_lost(d, "no callback for " STR(STALL_MS) " ms");
    else
        report_lost(d, "opened but delivers no audio");
    return RETRY_NS;
}

static int64_t watch(struct tolk_device *d)
{
    int status = 0;
    pid_t reaped = waitpid(d->child, &status, WNOHANG);
    bool exited = reaped == d->child || (reaped < 0 && errno == ECHILD);
    if (exited)
        d->child = 0;
    int state = atomic_load_explicit(&d->shm->state, memory_order_acquire);
    int64_t now = tolk_clock_mono_ns();
    if (state == TOLK_CAPTURE_FAILED || exited) {
        char why[128];
        describe_exit(status, why, sizeof why);
        kill_child(d);
        report_lost(d, state == TOLK_CAPTURE_FAILED ? d->shm->problem : why);
        return RETRY_NS;
    }
    if (state == TOLK_CAPTURE_OPEN)
        return watch_stream(d, now);
    if (now - d->spawned_ns < OPEN_TIMEOUT_NS)
        return WATCH_NS;
    kill_child(d);
    report_lost(d, "PortAudio did not open the device within " STR(OPEN_TIMEOUT_S) " s");
    return RETRY_NS;
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

/* The child's PR_SET_PDEATHSIG fires when this thread ends, so it must outlive the child. */
static void *supervise(void *arg)
{
    struct tolk_device *d = arg;
    int64_t wait = 0;
    while (!wait_or_stop(d, wait))
        wait = d->child > 0 ? watch(d) : start_child(d);
    stop_child(d);
    atomic_store(&d->running, false);
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

/* The shared memory: a memfd (its fd is never TOLK_CAPTURE_FD itself, so the child's dup2
 * always makes a fresh fd without close-on-exec) holding the header and the ring. */
static int map_shared(struct tolk_device *d, size_t ring_bytes)
{
    size_t size = sizeof(struct tolk_capture_shm) + ring_bytes;
    int fd = memfd_create("tolk-capture", MFD_CLOEXEC);
    if (fd == TOLK_CAPTURE_FD) {
        int moved = fcntl(fd, F_DUPFD_CLOEXEC, TOLK_CAPTURE_FD + 1);
        close(fd);
        fd = moved;
    }
    if (fd < 0)
        return -errno;
    void *mem = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0)
        mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    d->shm_fd = fd;
    d->shm = mem; /* zero-filled: every counter starts at 0, state at STARTING */
    d->shm->magic = TOLK_CAPTURE_MAGIC;
    d->shm->size = size;
    d->shm->ring_bytes = ring_bytes;
    d->shm->inputs = (uint32_t)d->inputs;
    d->shm->sample_rate = (uint32_t)d->sample_rate;
    return 0;
}

static void unmap_shared(struct tolk_device *d)
{
    if (!d->shm)
        return;
    munmap(d->shm, d->shm->size);
    close(d->shm_fd);
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
    int rc = map_shared(d, ring_samples * d->sample_bytes);
    bool synced = rc == 0 && (rc = init_sync(d)) == 0;
    if (synced && (rc = -pthread_create(&d->thread, NULL, supervise, d)) == 0)
        pthread_setname_np(d->thread, "tolk-audio");
    if (rc != 0) {
        if (synced) {
            pthread_cond_destroy(&d->wake);
            pthread_mutex_destroy(&d->lock);
        }
        unmap_shared(d);
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
    pthread_join(device->thread, NULL); /* never blocked: PortAudio runs in the child */
    pthread_cond_destroy(&device->wake);
    pthread_mutex_destroy(&device->lock);
    unmap_shared(device);
    free(device);
}

/* ---- Engine thread: reading ---- */

static void ring_read(struct tolk_capture_shm *s, uint64_t pos, void *dst, uint64_t len)
{
    uint64_t offset = pos % s->ring_bytes;
    uint64_t first = s->ring_bytes - offset < len ? s->ring_bytes - offset : len;
    memcpy(dst, s->data + offset, first);
    memcpy((unsigned char *)dst + first, s->data, len - first);
}

/* Drops content marked stale (from before a new stream, or before an overrun); returns head. */
static uint64_t drop_stale(struct tolk_capture_shm *s)
{
    uint64_t until = atomic_load_explicit(&s->flush_until, memory_order_acquire);
    uint64_t head = atomic_load_explicit(&s->head, memory_order_relaxed);
    if (head >= until)
        return head;
    atomic_store_explicit(&s->head, until, memory_order_release);
    return until;
}

/* The last callback's stamp; false if the callback kept it busy. */
static bool last_stamp(struct tolk_capture_shm *s, int64_t *us, uint64_t *bytes)
{
    for (int tries = 0; tries < 4; tries++) {
        uint64_t seq = atomic_load_explicit(&s->stamp_seq, memory_order_acquire);
        *us = atomic_load_explicit(&s->stamp_us, memory_order_acquire);
        *bytes = atomic_load_explicit(&s->stamp_bytes, memory_order_acquire);
        if (!(seq & 1) && seq == atomic_load_explicit(&s->stamp_seq, memory_order_relaxed))
            return true;
    }
    return false;
}

/* Capture time of the sample at stream position `at`: the time the audio after it reached us
 * (the last callback, or now if the stamp was busy) minus that audio's duration and minus the
 * stream's input latency. */
static int64_t capture_time(struct tolk_device *d, uint64_t at, uint64_t queued)
{
    int64_t until_us;
    uint64_t until_bytes;
    if (!last_stamp(d->shm, &until_us, &until_bytes) || until_bytes < at) {
        until_us = tolk_clock_wall_us();
        until_bytes = at + queued;
    }
    int64_t samples = (int64_t)((until_bytes - at) / d->sample_bytes);
    return until_us - samples * 1000000 / d->sample_rate - atomic_load(&d->shm->latency_us);
}

bool tolk_device_read_frame(struct tolk_device *device, float *out, int64_t *capture_us)
{
    struct tolk_capture_shm *s = device->shm;
    uint64_t head = drop_stale(s);
    uint64_t queued = atomic_load_explicit(&s->tail, memory_order_acquire) - head;
    if (queued < device->frame_bytes)
        return false;
    *capture_us = capture_time(device, head, queued);
    ring_read(s, head, out, device->frame_bytes);
    atomic_store_explicit(&s->head, head + device->frame_bytes, memory_order_release);
    return true;
}

bool tolk_device_running(const struct tolk_device *device)
{
    return device && atomic_load(&((struct tolk_device *)device)->running);
}

uint64_t tolk_device_overruns(const struct tolk_device *device)
{
    return device ? atomic_load(&device->shm->overruns) : 0;
}
