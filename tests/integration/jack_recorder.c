/* JACK client of the tests and benchmarks (see jack_recorder.h). process() runs on JACK's
 * process thread; everything else on the caller's thread. */
#include "jack_recorder.h"

#include <errno.h>
#include <jack/jack.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PORTS 4

struct tolk_jack_rec {
    /* Main thread (read-only once active). */
    jack_client_t *client;
    int inputs, outputs;
    size_t capacity;
    jack_port_t *in[MAX_PORTS], *out[MAX_PORTS];
    float *rec[MAX_PORTS], *play[MAX_PORTS];
    /* Process thread writes, any thread reads. */
    atomic_size_t frames;
    atomic_uint xruns;
};

static int process(jack_nframes_t n, void *arg)
{
    struct tolk_jack_rec *r = arg;
    size_t at = atomic_load_explicit(&r->frames, memory_order_relaxed);
    size_t room = at < r->capacity ? r->capacity - at : 0, k = n < room ? n : room;
    for (int i = 0; i < r->inputs; i++) {
        const float *src = jack_port_get_buffer(r->in[i], n);
        memcpy(r->rec[i] + at, src, k * sizeof(float));
    }
    for (int i = 0; i < r->outputs; i++) {
        float *dst = jack_port_get_buffer(r->out[i], n);
        memset(dst, 0, n * sizeof(float));
        memcpy(dst, r->play[i] + at, k * sizeof(float));
    }
    atomic_store_explicit(&r->frames, at + k, memory_order_release);
    return 0;
}

static int on_xrun(void *arg)
{
    struct tolk_jack_rec *r = arg;
    atomic_fetch_add_explicit(&r->xruns, 1, memory_order_relaxed);
    return 0;
}

static int register_ports(struct tolk_jack_rec *r)
{
    char name[16];
    for (int i = 0; i < r->inputs; i++) {
        snprintf(name, sizeof name, "in_%d", i + 1);
        r->in[i] = jack_port_register(r->client, name, JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        r->rec[i] = calloc(r->capacity, sizeof(float));
        if (!r->in[i] || !r->rec[i])
            return -ENOMEM;
    }
    for (int i = 0; i < r->outputs; i++) {
        snprintf(name, sizeof name, "out_%d", i + 1);
        r->out[i] =
            jack_port_register(r->client, name, JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        r->play[i] = calloc(r->capacity, sizeof(float));
        if (!r->out[i] || !r->play[i])
            return -ENOMEM;
    }
    return 0;
}

int tolk_jack_rec_open(struct tolk_jack_rec **out, const char *name, int inputs, int outputs,
                       size_t capacity_frames)
{
    *out = NULL;
    if (inputs < 0 || outputs < 0 || inputs > MAX_PORTS || outputs > MAX_PORTS)
        return -EINVAL;
    struct tolk_jack_rec *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->inputs = inputs;
    r->outputs = outputs;
    r->capacity = capacity_frames;
    jack_status_t status;
    r->client = jack_client_open(name, JackNoStartServer | JackUseExactName, &status);
    int err = r->client ? register_ports(r) : -ECONNREFUSED;
    if (!err && (jack_set_process_callback(r->client, process, r) != 0 ||
                 jack_set_xrun_callback(r->client, on_xrun, r) != 0 ||
                 jack_activate(r->client) != 0))
        err = -EIO;
    if (err) {
        tolk_jack_rec_close(r);
        return err;
    }
    *out = r;
    return 0;
}

void tolk_jack_rec_close(struct tolk_jack_rec *r)
{
    if (!r)
        return;
    if (r->client) {
        jack_deactivate(r->client);
        jack_client_close(r->client);
    }
    for (int i = 0; i < MAX_PORTS; i++) {
        free(r->rec[i]);
        free(r->play[i]);
    }
    free(r);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

bool tolk_jack_rec_wait_port(struct tolk_jack_rec *r, const char *port, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        if (jack_port_by_name(r->client, port))
            return true;
        if (waited >= timeout_ms)
            return false;
        sleep_ms(50);
    }
}

int tolk_jack_rec_connect_in(struct tolk_jack_rec *r, const char *from, int input)
{
    if (input < 1 || input > r->inputs)
        return -EINVAL;
    int rc = jack_connect(r->client, from, jack_port_name(r->in[input - 1]));
    return rc == 0 || rc == EEXIST ? 0 : -EIO;
}

int tolk_jack_rec_connect_out(struct tolk_jack_rec *r, int output, const char *to)
{
    if (output < 1 || output > r->outputs)
        return -EINVAL;
    int rc = jack_connect(r->client, jack_port_name(r->out[output - 1]), to);
    return rc == 0 || rc == EEXIST ? 0 : -EIO;
}

size_t tolk_jack_rec_frames(const struct tolk_jack_rec *r)
{
    return atomic_load_explicit(&r->frames, memory_order_acquire);
}

const float *tolk_jack_rec_input(const struct tolk_jack_rec *r, int input)
{
    return input >= 1 && input <= r->inputs ? r->rec[input - 1] : NULL;
}

float *tolk_jack_rec_output(struct tolk_jack_rec *r, int output)
{
    return output >= 1 && output <= r->outputs ? r->play[output - 1] : NULL;
}

bool tolk_jack_rec_wait_frames(const struct tolk_jack_rec *r, size_t frames, int timeout_ms)
{
    for (int waited = 0;; waited += 10) {
        if (tolk_jack_rec_frames(r) >= frames)
            return true;
        if (waited >= timeout_ms)
            return false;
        sleep_ms(10);
    }
}

int tolk_jack_rec_rate(const struct tolk_jack_rec *r)
{
    return (int)jack_get_sample_rate(r->client);
}

int tolk_jack_rec_period(const struct tolk_jack_rec *r)
{
    return (int)jack_get_buffer_size(r->client);
}

unsigned tolk_jack_rec_xruns(const struct tolk_jack_rec *r)
{
    return atomic_load_explicit(&r->xruns, memory_order_relaxed);
}
