/* receiver-latency: mouth-to-ear latency through tolk-server and tolk-receiver, on one JACK
 * dummy server of its own.
 *
 *   bench JACK client out_1 ──► tolk-server's PortAudio input 1 (floor = input:1)
 *        → capture → Opus → /listen WebSocket → tolk-receiver (jitter buffer, decode,
 *          resampler) → tolk-receiver:out_0 ──► bench JACK client in_1
 *
 * The bench plays a tone burst (1 kHz, -6 dBFS, 8 ms, 1 ms raised-cosine onset) every 500 ms
 * plus a random 0..19 ms (so bursts fall at every phase of the Opus frames and JACK periods),
 * records the receiver's output in the same process cycle, and times each burst as the
 * distance between the first sample above -20 dBFS in what it played and in what it heard
 * (the same detector on both sides, so its own bias cancels). Both ends are in one JACK graph:
 * the figure is what the two programs add, without a sound card's converters and buffers
 * (a real card adds its input and output buffering, typically 2-3 periods in all).
 *
 * Usage: receiver-latency SERVER RECEIVER [--frame-ms 20|10] [--seconds S] [--warmup S]
 *                         [--latency MS] [--port-base P] [--realtime]
 *                         [--application voip|lowdelay|audio] [--transport ws|rtp]
 *        receiver-latency --jack-only [--seconds S] [--realtime]
 * --realtime runs jackd (and so every JACK client's process thread: the server's capture, the
 * receiver's callback, the bench's) with SCHED_FIFO, as a production audio machine would; the
 * default is --no-realtime, like the tests. --application sets the server's Opus mode
 * (default voip, the server's default; lowdelay has 2.5 ms of look-ahead instead of 6.5).
 * --transport rtp: the receiver plays the server's RTP stream of the floor (`rtp =` on loopback,
 * the SDP from `tolk-server --sdp floor`) instead of listening over WebSocket (the default).
 * --jack-only is the baseline: the same jackd with only the bench's own client for S seconds,
 * no tolk program at all; it prints the JACK xruns of the machine itself.
 * Prints one line of results (and the receiver's underruns during the measured part).
 * Main thread only; the harness (tests/integration) runs and cleans up the children.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "jack_recorder.h"
#include "jack_server.h"

#define RATE 48000
#define BURST_MS 8
#define THRESHOLD 0.1f /* -20 dBFS */
#define SEARCH_MS 400

struct opts {
    const char *server, *receiver, *application;
    bool rtp;       /* --transport rtp */
    bool jack_only; /* --jack-only: the baseline */
    char sdp_path[512];
    int frame_ms, seconds, warmup, latency, port;
    bool realtime;
};

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* First sample at or after from (below to) whose magnitude passes the threshold, or -1. */
static long onset(const float *pcm, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (fabsf(pcm[i]) >= THRESHOLD)
            return (long)i;
    return -1;
}

/* Bursts from warmup on, every 500 ms + 0..19 ms; returns how many, their starts in starts. */
static int schedule(float *out, size_t frames, int warmup_s, size_t *starts, int max)
{
    int n = 0;
    srand(1);
    for (size_t at = (size_t)warmup_s * RATE; n < max; n++) {
        at += RATE / 2 + (size_t)(rand() % 20) * RATE / 1000;
        if (at + RATE > frames)
            break;
        starts[n] = at;
        for (int i = 0; i < BURST_MS * RATE / 1000; i++) {
            double ramp = i < RATE / 1000 ? 0.5 - 0.5 * cos(M_PI * i / (RATE / 1000.0)) : 1.0;
            out[at + (size_t)i] = (float)(0.5 * ramp * sin(2 * M_PI * 1000.0 * i / RATE));
        }
    }
    return n;
}

static double status_value(struct tolk_child *receiver, const char *key)
{
    char *text = tolk_harness_read_file(tolk_harness_out_path(receiver));
    char *line = NULL, needle[64];
    for (char *at = text; at && (at = strstr(at, "status ")); at += 7)
        line = at;
    snprintf(needle, sizeof needle, " %s=", key);
    char *f = line ? strstr(line, needle) : NULL;
    double v = f && f[strlen(needle)] != '-' ? strtod(f + strlen(needle), NULL) : -1;
    free(text);
    return v;
}

/* With --transport rtp, also writes the floor's SDP (from the server itself) to o->sdp_path. */
static struct tolk_child *start_server(struct opts *o)
{
    char config[512], rtp[64] = "", conf_path[512];
    if (o->rtp)
        snprintf(rtp, sizeof rtp, "rtp = 127.0.0.1:%d\n", (o->port + 10) & ~1);
    snprintf(config, sizeof config,
             "[server]\nlisten = 127.0.0.1:%d\n[audio]\ndevice = system\nframe_ms = %d\n"
             "application = %s\n[channel floor]\nsource = input:1\n%s",
             o->port, o->frame_ms, o->application, rtp);
    if (o->rtp) {
        TOLK_CHECK(tolk_harness_write_file("sdp.conf", config, conf_path, sizeof conf_path) == 0,
                   "config for --sdp");
        char *argv[] = {(char *)o->server, "-c", conf_path, "--sdp", "floor", NULL};
        char *sdp = NULL, *err = NULL;
        int rc = tolk_harness_run(argv, NULL, 10000, &sdp, &err);
        TOLK_CHECK(rc == 0 && sdp, "tolk-server --sdp floor: exit %d: %s", rc, err ? err : "");
        TOLK_CHECK(tolk_harness_write_file("floor.sdp", sdp, o->sdp_path, sizeof o->sdp_path) == 0,
                   "SDP file");
        free(sdp);
        free(err);
    }
    return tolk_harness_server_start(o->server, "server", config, o->port, tolk_jackd_env());
}

static struct tolk_child *start_receiver(const struct opts *o)
{
    char url[64], latency[16];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d", o->port);
    snprintf(latency, sizeof latency, "%d", o->latency);
    char *ws[] = {(char *)o->receiver, "--server", url, "--channel", "floor", "--device",
                  "system", "--latency", latency, NULL};
    char *rtp[] = {(char *)o->receiver, "--sdp", (char *)o->sdp_path, "--device", "system",
                   "--latency", latency, NULL};
    char **argv = o->rtp ? rtp : ws;
    struct tolk_child *c;
    TOLK_CHECK(tolk_harness_spawn(&c, "receiver", argv, tolk_jackd_env()) == 0, "receiver");
    return c;
}

static void loadavg(char *buf, size_t cap)
{
    char *text = tolk_harness_read_file("/proc/loadavg");
    snprintf(buf, cap, "%.14s", text ? text : "?");
    free(text);
}

static char receiver_figures[160]; /* the receiver's buffer figures at the end */

static void report(const struct opts *o, const size_t *starts, int n, const float *played,
                   const float *heard, double underruns, double reported, const char *load0,
                   const char *load1, unsigned xruns)
{
    double *lat = calloc((size_t)n, sizeof *lat);
    int got = 0;
    for (int i = 0; i < n; i++) {
        long e = onset(played, starts[i], starts[i] + RATE / 100);
        long h = e < 0 ? -1 : onset(heard, (size_t)e, (size_t)e + SEARCH_MS * RATE / 1000);
        if (h >= 0)
            lat[got++] = (double)(h - e) * 1000.0 / RATE;
    }
    qsort(lat, (size_t)got, sizeof *lat, compare);
    double med = got ? lat[got / 2] : -1, p95 = got ? lat[(int)(got * 0.95)] : -1;
    printf("frame_ms=%d application=%s transport=%s realtime=%d bursts=%d heard=%d median_ms=%.1f p95_ms=%.1f "
           "min_ms=%.1f max_ms=%.1f receiver_reported_ms=%.1f underruns=%.0f jack_xruns=%u "
           "load_before=%s load_after=%s %s\n",
           o->frame_ms, o->application, o->rtp ? "rtp" : "ws", o->realtime, n, got, med, p95, got ? lat[0] : -1,
           got ? lat[got - 1] : -1, reported, underruns, xruns, load0, load1, receiver_figures);
    free(lat);
}

static void run(struct opts *o)
{
    size_t frames = (size_t)(o->warmup + o->seconds + 2) * RATE;
    struct tolk_jack_rec *rec;
    TOLK_CHECK(tolk_jack_rec_open(&rec, "tolkbench", 1, 1, frames) == 0, "JACK client");
    int max = o->seconds * 2 + 2;
    size_t *starts = calloc((size_t)max, sizeof *starts);
    int n = schedule(tolk_jack_rec_output(rec, 1), frames, o->warmup, starts, max);
    struct tolk_child *srv = start_server(o);
    TOLK_CHECK(tolk_jack_rec_wait_port(rec, "PortAudio:in_0", 15000), "no PortAudio:in_0");
    TOLK_CHECK(tolk_jack_rec_connect_out(rec, 1, "PortAudio:in_0") == 0, "connect to server");
    struct tolk_child *rcv = start_receiver(o);
    TOLK_CHECK(tolk_jack_rec_wait_port(rec, "tolk-receiver:out_0", 10000), "no receiver port");
    TOLK_CHECK(tolk_jack_rec_connect_in(rec, "tolk-receiver:out_0", 1) == 0, "connect receiver");
    char load0[32], load1[32];
    TOLK_CHECK(tolk_jack_rec_wait_frames(rec, (size_t)o->warmup * RATE, (o->warmup + 10) * 1000),
               "JACK stalled in the warm-up");
    loadavg(load0, sizeof load0);
    double under0 = status_value(rcv, "underruns");
    unsigned xruns0 = tolk_jack_rec_xruns(rec);
    double reported = 0;
    int samples = 0;
    for (int s = 0; s < o->seconds; s++) { /* the receiver's own figure, once a second */
        TOLK_CHECK(tolk_jack_rec_wait_frames(rec, (size_t)(o->warmup + s + 1) * RATE, 10000),
                   "JACK stalled");
        double v = status_value(rcv, "latency_ms");
        if (v > 0) {
            reported += v;
            samples++;
        }
    }
    TOLK_CHECK(tolk_jack_rec_wait_frames(rec, frames, 10000), "JACK stalled");
    loadavg(load1, sizeof load1);
    double under = status_value(rcv, "underruns") - under0;
    snprintf(receiver_figures, sizeof receiver_figures,
             "rx_buffer_ms=%.1f rx_target_ms=%.1f rx_jitter_ms=%.1f rx_decode_max_us=%.0f",
             status_value(rcv, "buffer_ms"), status_value(rcv, "target_ms"),
             status_value(rcv, "jitter_ms"), status_value(rcv, "decode_max_us"));
    report(o, starts, n, tolk_jack_rec_output(rec, 1), tolk_jack_rec_input(rec, 1), under,
           samples ? reported / samples : -1, load0, load1, tolk_jack_rec_xruns(rec) - xruns0);
    tolk_harness_stop(rcv, 5000, NULL);
    tolk_harness_server_stop(srv);
    tolk_jack_rec_close(rec);
    free(starts);
}

/* The baseline: how often the JACK graph misses its deadline with no tolk program in it. */
static void run_jack_only(const struct opts *o)
{
    size_t frames = (size_t)(o->seconds + 2) * RATE;
    struct tolk_jack_rec *rec;
    TOLK_CHECK(tolk_jack_rec_open(&rec, "tolkbench", 1, 1, frames) == 0, "JACK client");
    TOLK_CHECK(tolk_jack_rec_wait_frames(rec, 2 * RATE, 10000), "JACK stalled");
    char load0[32], load1[32];
    loadavg(load0, sizeof load0);
    unsigned xruns0 = tolk_jack_rec_xruns(rec);
    TOLK_CHECK(tolk_jack_rec_wait_frames(rec, frames, (o->seconds + 10) * 1000), "JACK stalled");
    loadavg(load1, sizeof load1);
    printf("jack_only=1 realtime=%d seconds=%d jack_xruns=%u load_before=%s load_after=%s\n",
           o->realtime, o->seconds, tolk_jack_rec_xruns(rec) - xruns0, load0, load1);
    tolk_jack_rec_close(rec);
}

static void parse(struct opts *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"frame-ms", required_argument, NULL, 'f'}, {"seconds", required_argument, NULL, 's'},
        {"warmup", required_argument, NULL, 'w'},   {"latency", required_argument, NULL, 'l'},
        {"port-base", required_argument, NULL, 'p'}, {"realtime", no_argument, NULL, 'r'},
        {"application", required_argument, NULL, 'a'},
        {"transport", required_argument, NULL, 't'},
        {"jack-only", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
    *o = (struct opts){
        .frame_ms = 20, .seconds = 60, .warmup = 20, .latency = 0, .application = "voip"};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'f': o->frame_ms = atoi(optarg); break;
        case 's': o->seconds = atoi(optarg); break;
        case 'w': o->warmup = atoi(optarg); break;
        case 'l': o->latency = atoi(optarg); break;
        case 'p': o->port = atoi(optarg); break;
        case 'r': o->realtime = true; break;
        case 'a': o->application = optarg; break;
        case 't': o->rtp = strcmp(optarg, "rtp") == 0; break;
        case 'j': o->jack_only = true; break;
        default: exit(2);
        }
    }
    if (o->jack_only && argc == optind && o->seconds >= 5)
        return;
    if (argc - optind != 2 || (o->frame_ms != 10 && o->frame_ms != 20) || o->seconds < 5) {
        fprintf(stderr, "usage: receiver-latency SERVER RECEIVER [--frame-ms 20|10] "
                        "[--seconds S] [--warmup S] [--latency MS] [--port-base P] "
                        "[--realtime] [--application voip|lowdelay|audio] "
                        "[--transport ws|rtp]\n"
                        "       receiver-latency --jack-only [--seconds S] [--realtime]\n");
        exit(2);
    }
    o->server = argv[optind];
    o->receiver = argv[optind + 1];
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(&o, argc, argv);
    tolk_harness_init("receiver-latency", o.warmup + o.seconds + 90);
    if (!o.port)
        o.port = tolk_harness_free_port();
    char name[64], *why = NULL;
    snprintf(name, sizeof name, "tolkbench-%d", (int)getpid());
    TOLK_CHECK(tolk_jackd_available() && tolk_jackd_start(name, 480, o.realtime, &why) == 0,
               "jackd could not start: %s", why ? why : "not installed");
    if (o.jack_only)
        run_jack_only(&o);
    else
        run(&o);
    tolk_jackd_stop();
    return 0;
}
