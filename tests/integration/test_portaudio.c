/* integration.portaudio: device inputs through PortAudio on a JACK dummy server.
 *
 * A stereo WAV (500 Hz left, 1000 Hz right, -12 dBFS) is played into PortAudio:in_0/in_1 by
 * sndfile-jackplay. tolk-server: device = system, floor = input:1, fr = input:2, en = none.
 * A: jackd first: floor carries 500 Hz, fr 1000 Hz (both live), en 500 Hz flagged FALLBACK.
 * B: tolk-server first, no jackd: floor and fr stream anyway (fr flagged FALLBACK); jackd
 *    starts: the device supervisor opens it within ~10 s and the tones appear, the sequence
 *    never breaking.
 * C: tones flowing, jackd is killed (SIGKILL, a crash): floor and fr keep streaming, flagged
 *    FALLBACK; jackd starts again under the same name and the player is re-plugged: the tones come
 *    back on their channels within ~10 s, the sequence never breaking, and tolk-server logged the
 *    loss and the recovery once each (PortAudio runs in a capture process it replaces).
 * Every JACK server is named tolktest-<pid>-<phase> (JACK_DEFAULT_SERVER) so runs never meet;
 * only processes started here are stopped; the one killed by SIGKILL is restarted under its own
 * name, which frees its slot in JACK's server registry (8 slots, not freed by a crash otherwise).
 * Exits 77 (skip) if jackd can not run here.
 * Usage: SERVER. Main thread only. */
#include <signal.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "checks.h"
#include "harness.h"
#include "listen_client.h"
#include "tolk/protocol.h"

#define FLOOR 0
#define EN 1
#define FR 2

static const char *server;
static char wav[512];
static char env_server[96];
static char *env[] = {env_server, "JACK_NO_START_SERVER=1", NULL};

static const char config_format[] = "[server]\n"
                                    "listen = 127.0.0.1:%d\n"
                                    "[audio]\n"
                                    "device = system\n"
                                    "frame_ms = 20\n"
                                    "[channel floor]\n"
                                    "source = input:1\n"
                                    "[channel en]\n"
                                    "lang = en\n"
                                    "source = none\n"
                                    "[channel fr]\n"
                                    "lang = fr\n"
                                    "source = input:2\n";

static void skip(const char *why, const char *detail)
{
    printf("SKIP: %s%s%s\n", why, detail ? ": " : "", detail ? detail : "");
    exit(TOLK_SKIP_CODE);
}

static bool have(const char *tool)
{
    char *argv[] = {"sh", "-c", "command -v \"$0\" >/dev/null", (char *)tool, NULL};
    return tolk_harness_run(argv, NULL, 5000, NULL, NULL) == 0;
}

/* The WAV must really hold 500 Hz left and 1000 Hz right at -12 dBFS. */
static void make_wav(void)
{
    TOLK_CHECK(tolk_harness_temp_path("tones.wav", wav, sizeof wav) == 0, "path");
    char *argv[] = {"sox", "-n", "-r", "48000", "-c", "2", "-b", "16", wav, "synth", "30",
                    "sine", "500", "sine", "1000", "gain", "-12", NULL};
    char *err = NULL;
    int rc = tolk_harness_run(argv, NULL, 30000, NULL, &err);
    TOLK_CHECK(rc == 0, "sox: exit %d: %s", rc, err);
    free(err);
    SF_INFO info = {0};
    SNDFILE *f = sf_open(wav, SFM_READ, &info);
    TOLK_CHECK(f && info.channels == 2 && info.samplerate == 48000, "%s: %s", wav,
               sf_strerror(f));
    static float frames[24000 * 2], left[24000], right[24000];
    TOLK_CHECK(sf_readf_float(f, frames, 24000) == 24000, "read %s", wav);
    sf_close(f);
    for (int i = 0; i < 24000; i++) {
        left[i] = frames[2 * i];
        right[i] = frames[2 * i + 1];
    }
    double l = tolk_signal_dominant_hz(left, 24000, 48000, 50, 4000, 5, NULL);
    double r = tolk_signal_dominant_hz(right, 24000, 48000, 50, 4000, 5, NULL);
    double lp = tolk_signal_peak_db(left, 24000), rp = tolk_signal_peak_db(right, 24000);
    tolk_harness_note("tones.wav: left %.0f Hz %.1f dBFS, right %.0f Hz %.1f dBFS", l, lp, r, rp);
    TOLK_CHECK(l == 500 && r == 1000 && lp > -12.5 && lp < -11.5 && rp > -12.5 && rp < -11.5,
               "tones.wav is not 500 Hz left / 1000 Hz right at -12 dBFS");
}

static void name_jack(char phase)
{
    snprintf(env_server, sizeof env_server, "JACK_DEFAULT_SERVER=tolktest-%d-%c", (int)getpid(),
             phase);
}

static char jackd_pid_path[512];
static int jackd_pid; /* the running jackd's, 0 when none */

/* A failed check exits with jackd running and the harness then SIGKILLs it, which would leave
 * its name in JACK's server registry for good (8 slots: later runs get "Too many servers").
 * SIGTERM lets it unregister; registered after the harness's exit handler, so it runs first. */
static void stop_jackd_at_exit(void)
{
    tolk_harness_term_and_wait(jackd_pid, 5000);
}

static void note_jackd_pid(void)
{
    char *text = tolk_harness_read_file(jackd_pid_path);
    jackd_pid = text ? atoi(text) : 0;
    free(text);
}

/* Starts jackd and waits until it serves; NULL (with *why) if it can not run here. Its pid goes
 * to jackd_pid_path (a shell that writes its own pid and then becomes jackd), for phase C. */
static struct tolk_child *start_jackd(char **why)
{
    if (!jackd_pid_path[0])
        TOLK_CHECK(tolk_harness_temp_path("jackd.pid", jackd_pid_path, sizeof jackd_pid_path) == 0,
                   "path");
    char *argv[] = {"sh", "-c", "echo $$ >\"$0\" && exec jackd --no-realtime -d dummy -r 48000 -p 480",
                    jackd_pid_path, NULL};
    struct tolk_child *jackd = NULL;
    *why = NULL;
    if (tolk_harness_spawn(&jackd, "jackd", argv, env) != 0)
        return NULL;
    char *wait_argv[] = {"jack_wait", "-w", "-t", "5", NULL};
    int rc = tolk_harness_run(wait_argv, env, 10000, NULL, NULL);
    if (rc == 0 && tolk_harness_alive(jackd)) {
        note_jackd_pid();
        return jackd;
    }
    *why = tolk_harness_read_file(tolk_harness_err_path(jackd));
    tolk_harness_stop(jackd, 3000, NULL);
    return NULL;
}

/* Polls jack_lsp (servicing the clients meanwhile) until it lists port; true if it did. */
static bool wait_port(const char *port, int timeout_ms)
{
    int64_t deadline = tolk_harness_now_us() + (int64_t)timeout_ms * 1000;
    char *argv[] = {"jack_lsp", NULL};
    do {
        char *out = NULL;
        int rc = tolk_harness_run(argv, env, 5000, &out, NULL);
        bool found = false;
        for (char *line = out ? strtok(out, "\n") : NULL; line && rc == 0; line = strtok(NULL, "\n"))
            found |= strcmp(line, port) == 0;
        free(out);
        if (found)
            return true;
        tolk_client_service_until(200, NULL, NULL);
    } while (tolk_harness_now_us() < deadline);
    return false;
}

/* Returns whether from is connected to to now (made now, or already there). */
static bool jack_connect(const char *from, const char *to, char **why)
{
    char *argv[] = {"jack_connect", (char *)from, (char *)to, NULL};
    char *err = NULL;
    int rc = tolk_harness_run(argv, env, 5000, NULL, &err);
    /* A JACK client that comes back can find its connection restored: that is the goal too. */
    bool ok = rc == 0 || (err && strstr(err, "already connected"));
    free(*why);
    *why = err;
    return ok;
}

/* Once tolk-server's PortAudio client is there, plugs the player into its inputs. */
static void plug_player(int timeout_ms)
{
    TOLK_CHECK(wait_port("jackplay:out_2", 10000), "sndfile-jackplay's ports did not appear");
    int64_t t0 = tolk_harness_now_us();
    TOLK_CHECK(wait_port("PortAudio:in_1", timeout_ms),
               "tolk-server's PortAudio client (PortAudio:in_0/in_1) did not appear within %d ms",
               timeout_ms);
    tolk_harness_note("PortAudio:in_1 appeared after %lld ms",
                      (long long)(tolk_harness_now_us() - t0) / 1000);
    /* The capture process can still be replaced right after its ports appear (the supervisor
     * restarts one whose stream brings no callback in time, as under a loaded machine): then
     * the port vanishes and comes back, and the plugging is tried again. */
    char *why = NULL;
    int64_t deadline = tolk_harness_now_us() + (int64_t)timeout_ms * 1000;
    while (!(jack_connect("jackplay:out_1", "PortAudio:in_0", &why) &&
             jack_connect("jackplay:out_2", "PortAudio:in_1", &why))) {
        TOLK_CHECK(tolk_harness_now_us() < deadline, "jack_connect: %s", why ? why : "failed");
        tolk_harness_note("jack_connect failed (%s); waiting for the ports again",
                          why ? why : "?");
        TOLK_CHECK(wait_port("PortAudio:in_1", timeout_ms), "PortAudio:in_1 did not come back");
    }
    free(why);
}

static struct tolk_client *listen_on(int port, const char *id)
{
    char path[64];
    snprintf(path, sizeof path, "/listen?channel=%s", id);
    struct tolk_client *c;
    TOLK_CHECK(tolk_client_open(&c, id, port, path, false, 20) == 0, "open");
    TOLK_CHECK(tolk_client_wait_text(c, 0, "selected", id, 5000) >= 0, "%s: no `selected`", id);
    return c;
}

/* The next 800 ms of c: continuous, flagged as expected, carrying hz. */
static void expect_tone(struct tolk_client *c, int channel, double hz, bool fallback,
                        const char *what)
{
    size_t from;
    tolk_client_packets(c, &from);
    TOLK_CHECK(tolk_client_wait_packets(c, from + 40, 3000), "%s: fewer than 40 packets in 3 s",
               what);
    struct tolk_stream_expect e = {.channel = channel,
                                   .frame_ms = 20,
                                   .fallback = fallback ? TOLK_EXPECT_SET : TOLK_EXPECT_CLEAR};
    tolk_check_stream(c, from, from + 40, &e, what);
    tolk_check_tone(c, from, from + 40, 0, hz, what);
}

static struct tolk_child *start_player(void)
{
    /* exec: the child is the player itself; its progress line (stdout) is of no use. */
    char *argv[] = {"sh", "-c", "exec sndfile-jackplay --loop=0 \"$0\" >/dev/null", wav, NULL};
    struct tolk_child *player;
    TOLK_CHECK(tolk_harness_spawn(&player, "sndfile-jackplay", argv, env) == 0, "spawn player");
    return player;
}

static void stop_all(struct tolk_child *player, struct tolk_child *srv, struct tolk_child *jackd)
{
    tolk_harness_stop(player, 3000, NULL);
    tolk_harness_server_stop(srv);
    int64_t t0 = tolk_harness_now_us();
    int rc = tolk_harness_stop(jackd, 10000, NULL);
    tolk_harness_note("jackd %s after %lld ms", rc == 0 ? "exited" : "was KILLED",
                      (long long)(tolk_harness_now_us() - t0) / 1000);
    jackd_pid = 0;
}

static struct tolk_child *start_server(int port)
{
    char config[1024];
    snprintf(config, sizeof config, config_format, port);
    return tolk_harness_server_start(server, "server", config, port, env);
}

static void phase_a(void)
{
    name_jack('a');
    char *why = NULL;
    struct tolk_child *jackd = start_jackd(&why);
    if (!jackd)
        skip("jackd could not start", why ? why : "jack_wait failed");
    int port = tolk_harness_free_port();
    struct tolk_child *srv = start_server(port);
    struct tolk_child *player = start_player();
    plug_player(10000);
    struct tolk_client *floor = listen_on(port, "floor"), *fr = listen_on(port, "fr"),
                       *en = listen_on(port, "en");
    tolk_client_service_until(300, NULL, NULL); /* past the plug-in transient */
    expect_tone(floor, FLOOR, 500, false, "A: floor = input:1");
    expect_tone(fr, FR, 1000, false, "A: fr = input:2");
    expect_tone(en, EN, 500, true, "A: en = none, carrying the floor");
    tolk_client_fini();
    stop_all(player, srv, jackd);
}

static void phase_b(void)
{
    name_jack('b');
    int port = tolk_harness_free_port();
    struct tolk_child *srv = start_server(port);
    TOLK_CHECK(tolk_client_init() == 0, "lws client context");
    struct tolk_client *floor = listen_on(port, "floor"), *fr = listen_on(port, "fr");
    size_t floor_from, fr_from;
    tolk_client_packets(floor, &floor_from);
    tolk_client_packets(fr, &fr_from);
    TOLK_CHECK(tolk_client_wait_packets(fr, fr_from + 40, 3000) &&
                   tolk_client_wait_packets(floor, floor_from + 40, 3000),
               "B: without a device, floor and fr do not stream");
    struct tolk_stream_expect e = {.channel = FR, .frame_ms = 20, .fallback = TOLK_EXPECT_SET};
    tolk_check_stream(fr, fr_from, fr_from + 40, &e, "B: fr, no device");
    e.channel = FLOOR;
    e.fallback = TOLK_EXPECT_ANY;
    tolk_check_stream(floor, floor_from, floor_from + 40, &e, "B: floor, no device");

    char *why = NULL;
    struct tolk_child *jackd = start_jackd(&why);
    TOLK_CHECK(jackd, "B: jackd did not start (it did in phase A): %s", why ? why : "");
    struct tolk_child *player = start_player();
    plug_player(15000);
    tolk_client_service_until(300, NULL, NULL);
    expect_tone(floor, FLOOR, 500, false, "B: floor once the device came");
    expect_tone(fr, FR, 1000, false, "B: fr once the device came");

    /* Across the device's arrival: every sequence number, no DISCONTINUITY. */
    size_t n;
    tolk_client_packets(fr, &n);
    const struct tolk_client_packet *p = tolk_client_packets(fr, &n);
    for (size_t i = fr_from + 1; i < n; i++)
        TOLK_CHECK(p[i].seq == p[i - 1].seq + 1 && !(p[i].flags & TOLK_FLAG_DISCONTINUITY),
                   "B: fr packet %zu: seq %u after %u, flags %#x", i, p[i].seq, p[i - 1].seq,
                   p[i].flags);
    tolk_client_fini();
    stop_all(player, srv, jackd);
}

/* Every packet of c from `from` on: consecutive sequence numbers, never DISCONTINUITY. */
static void expect_unbroken(struct tolk_client *c, size_t from, const char *what)
{
    size_t n;
    const struct tolk_client_packet *p = tolk_client_packets(c, &n);
    for (size_t i = from + 1; i < n; i++)
        TOLK_CHECK(p[i].seq == p[i - 1].seq + 1 && !(p[i].flags & TOLK_FLAG_DISCONTINUITY),
                   "%s: packet %zu: seq %u after %u, flags %#x", what, i, p[i].seq, p[i - 1].seq,
                   p[i].flags);
}

static int count_lines(const char *text, const char *needle)
{
    int n = 0;
    for (const char *at = text; at && (at = strstr(at, needle)); at += strlen(needle))
        n++;
    return n;
}

/* SIGKILL, like a crash; reaps it through the harness. */
static void crash_jackd(struct tolk_child *jackd)
{
    int pid = jackd_pid;
    jackd_pid = 0;
    TOLK_CHECK(pid > 1 && kill(pid, SIGKILL) == 0, "C: cannot kill jackd (pid %d)", pid);
    TOLK_CHECK(tolk_harness_wait_exit(jackd, 3000, NULL), "C: jackd outlived SIGKILL");
}

static void phase_c(void)
{
    name_jack('c');
    char *why = NULL;
    struct tolk_child *jackd = start_jackd(&why);
    TOLK_CHECK(jackd, "C: jackd did not start (it did in phase A): %s", why ? why : "");
    int port = tolk_harness_free_port();
    struct tolk_child *srv = start_server(port);
    TOLK_CHECK(tolk_client_init() == 0, "lws client context");
    struct tolk_child *player = start_player();
    plug_player(10000);
    struct tolk_client *floor = listen_on(port, "floor"), *fr = listen_on(port, "fr");
    tolk_client_service_until(300, NULL, NULL);
    expect_tone(floor, FLOOR, 500, false, "C: floor before the crash");
    expect_tone(fr, FR, 1000, false, "C: fr before the crash");
    size_t floor_from, fr_from;
    tolk_client_packets(floor, &floor_from);
    tolk_client_packets(fr, &fr_from);

    crash_jackd(jackd);
    tolk_harness_stop(player, 3000, NULL);
    tolk_client_service_until(1500, NULL, NULL); /* past the 500 ms stall detection */
    size_t from;
    tolk_client_packets(fr, &from);
    TOLK_CHECK(tolk_client_wait_packets(fr, from + 40, 3000), "C: fr stopped streaming");
    struct tolk_stream_expect e = {.channel = FR, .frame_ms = 20, .fallback = TOLK_EXPECT_SET};
    tolk_check_stream(fr, from, from + 40, &e, "C: fr while JACK is dead");

    jackd = start_jackd(&why);
    TOLK_CHECK(jackd, "C: jackd did not start again under its name: %s", why ? why : "");
    player = start_player();
    int64_t t0 = tolk_harness_now_us();
    plug_player(10000);
    tolk_client_service_until(300, NULL, NULL);
    expect_tone(floor, FLOOR, 500, false, "C: floor after JACK came back");
    expect_tone(fr, FR, 1000, false, "C: fr after JACK came back");
    tolk_harness_note("C: tones back %lld ms after jackd restarted",
                      (long long)(tolk_harness_now_us() - t0) / 1000);
    expect_unbroken(floor, floor_from, "C: floor across the crash");
    expect_unbroken(fr, fr_from, "C: fr across the crash");

    char *log = tolk_harness_read_file(tolk_harness_err_path(srv));
    int lost = count_lines(log, "lost the stream"), capturing = count_lines(log, "capturing from");
    TOLK_CHECK(lost == 1 && capturing == 2,
               "C: the log has %d \"lost the stream\" (want 1) and %d \"capturing from\" "
               "(want 2: start and recovery)", lost, capturing);
    free(log);
    tolk_client_fini();
    stop_all(player, srv, jackd);
}

int main(int argc, char **argv)
{
    TOLK_CHECK(argc == 2, "usage: %s TOLK-SERVER", argv[0]);
    server = argv[1];
    tolk_harness_init("portaudio", 85);
    atexit(stop_jackd_at_exit);
    const char *tools[] = {"jackd", "jack_wait", "jack_lsp", "jack_connect", "sndfile-jackplay",
                           "sox"};
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        if (!have(tools[i]))
            skip("missing tool", tools[i]);
    make_wav();
    TOLK_CHECK(tolk_client_init() == 0, "lws client context");
    phase_a();
    phase_b();
    phase_c();
    tolk_check_finish();
    tolk_harness_note("PASS");
    return 0;
}
