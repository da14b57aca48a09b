/* integration.receiver: tolk-receiver playing through PortAudio into a JACK dummy server of
 * the test's own, heard by the test's JACK client (jack_recorder.c) on the receiver's output.
 *
 * A WebSocket: tolk-server with floor = tone:440 and fr = tone:1000; the receiver on fr plays
 *   1000 Hz (not 440); its status line says live, with a plausible latency. tolk-server is
 *   stopped: the output goes silent; started again on the same port: the receiver plays fr
 *   again by itself. SIGINT: it exits 0 and its JACK ports go away.
 * B RTP from an SDP file, packets made by the test (receiver_rtp.c, 800 Hz): 800 Hz plays;
 *   12 malformed datagrams among them (short, version 1, wrong payload type, 3000 bytes) are
 *   counted exactly and change nothing; the RTCP sender report gives a latency.
 * C SRTP (a=crypto): 1200 Hz plays with no failure; a sender with another key (600 Hz) plays
 *   nothing and every one of its packets is counted as an SRTP failure.
 * D tolk-server's own SRTP egress (`rtp`, `srtp_key`, `tolk-server --sdp fr`): 1000 Hz plays.
 * E multicast: tolk-server sends fr (1000 Hz) to 239.255.90.41 and en (660 Hz) to
 *   239.255.90.42, on the same port, with rtp_ttl = 0; the receiver on fr's SDP plays 1000 Hz
 *   and never sees en's stream (no "new stream" in its log), although this host is a member of
 *   en's group too. Members of both groups stay joined for the whole phase: Linux keeps TTL-0
 *   multicast on the host only while the egress interface has a member (test_rtp.c). Without
 *   a route to the groups (no multicast-capable interface) E is skipped, with the reason.
 * Exits 77 (skip) when jackd is missing, unless TOLK_REQUIRE_BROWSER=1 (then it fails).
 * Ports: TOLK_TEST_PORT_BASE (e.g. 18800) gives fixed loopback ports from there; else free ones.
 * Usage: SERVER RECEIVER. Main thread only. */
#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis.h"
#include "harness.h"
#include "jack_recorder.h"
#include "jack_server.h"
#include "receiver_rtp.h"

#define RATE 48000
#define PORT_OUT "tolk-receiver:out_0"

static const char *server_bin, *receiver_bin;
static struct tolk_jack_rec *rec;
static int port_serial;

struct receiver {
    struct tolk_child *child;
    int pid;
};

/* ---- Ports ---- */

static int udp_pair_free(int port)
{
    int ok = 1;
    for (int i = 0; i < 2 && ok; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(port + i)),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
    }
    return ok;
}

/* An even loopback port whose next one is free too (RTP and RTCP). */
static int pick_port(void)
{
    const char *base = getenv("TOLK_TEST_PORT_BASE");
    if (base) {
        while (port_serial < 50) {
            int p = (atoi(base) & ~1) + 2 * port_serial++;
            if (udp_pair_free(p))
                return p;
        }
        TOLK_CHECK(false, "no free port pair from TOLK_TEST_PORT_BASE=%s", base);
    }
    for (int i = 0; i < 100; i++) {
        int p = tolk_harness_free_port() & ~1;
        if (p > 1024 && udp_pair_free(p))
            return p;
    }
    TOLK_CHECK(false, "no free even port pair");
    return -1;
}

/* ---- The receiver ---- */

static struct receiver start_receiver(const char *name, const char *a1, const char *a2,
                                      const char *a3, const char *a4)
{
    char pid_path[512];
    TOLK_CHECK(tolk_harness_temp_path(name, pid_path, sizeof pid_path) == 0, "path");
    unlink(pid_path);
    char *argv[] = {"sh", "-c", "echo $$ >\"$0\" && exec \"$@\"", pid_path, (char *)receiver_bin,
                    "--device", "system", "--latency", "0", (char *)a1, (char *)a2,
                    (char *)a3, (char *)a4, NULL};
    struct receiver r = {0};
    TOLK_CHECK(tolk_harness_spawn(&r.child, name, argv, tolk_jackd_env()) == 0, "spawn %s", name);
    for (int i = 0; i < 50 && r.pid <= 0; i++) {
        char *text = tolk_harness_read_file(pid_path);
        r.pid = text ? atoi(text) : 0;
        free(text);
        if (r.pid <= 0)
            usleep(20000);
    }
    TOLK_CHECK(r.pid > 0, "%s: no pid", name);
    TOLK_CHECK(tolk_jack_rec_wait_port(rec, PORT_OUT, 10000), "%s: no JACK port %s", name,
               PORT_OUT);
    TOLK_CHECK(tolk_jack_rec_connect_in(rec, PORT_OUT, 1) == 0, "connect %s", PORT_OUT);
    return r;
}

/* SIGINT, as Ctrl-C: exit status 0 within 5 s, and its JACK port gone. */
static void interrupt_receiver(struct receiver *r, const char *what)
{
    TOLK_CHECK(kill(r->pid, SIGINT) == 0, "%s: kill", what);
    int status = 0;
    TOLK_CHECK(tolk_harness_wait_exit(r->child, 5000, &status),
               "%s: still running 5 s after SIGINT", what);
    TOLK_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: exit status %#x after SIGINT",
               what, status);
    for (int i = 0; i < 20 && tolk_jack_rec_wait_port(rec, PORT_OUT, 0); i++)
        usleep(50000);
    TOLK_CHECK(!tolk_jack_rec_wait_port(rec, PORT_OUT, 0), "%s: its JACK port outlived it", what);
}

/* A figure from the receiver's last status line (one a second on a pipe); -1 if absent or "-". */
static double status_value(const struct receiver *r, const char *key)
{
    char *text = tolk_harness_read_file(tolk_harness_out_path(r->child));
    char *line = NULL;
    for (char *at = text; at && (at = strstr(at, "status ")); at += 7)
        line = at;
    double v = -1;
    char needle[64];
    snprintf(needle, sizeof needle, " %s=", key);
    char *field = line ? strstr(line, needle) : NULL;
    if (field && field[strlen(needle)] != '-')
        v = strtod(field + strlen(needle), NULL);
    free(text);
    return v;
}

static bool status_is(const struct receiver *r, const char *key_value)
{
    char *text = tolk_harness_read_file(tolk_harness_out_path(r->child));
    char *line = NULL;
    for (char *at = text; at && (at = strstr(at, "status ")); at += 7)
        line = at;
    char *nl = line ? strchr(line, '\n') : NULL;
    if (nl)
        *nl = '\0';
    bool yes = line && strstr(line, key_value);
    free(text);
    return yes;
}

static void wait_status_lines(int seconds)
{
    usleep((useconds_t)seconds * 1000000); /* the receiver prints one a second */
}

/* ---- What the recorder heard ---- */

struct heard {
    double hz, share, rms;
};

static struct heard analyse(size_t from, size_t n)
{
    const float *pcm = tolk_jack_rec_input(rec, 1) + from;
    struct heard h;
    h.hz = tolk_signal_dominant_hz(pcm, n, RATE, 200, 2000, 10, &h.share);
    h.rms = tolk_signal_rms_db(pcm, n);
    return h;
}

static bool is_tone(struct heard h, double hz)
{
    return h.hz >= hz - 10 && h.hz <= hz + 10 && h.share > 0.5 && h.rms > -30;
}

/* Waits up to timeout_ms for 300 ms in a row of hz; returns the ms it took, or -1. */
static int wait_tone(double hz, int timeout_ms)
{
    size_t start = tolk_jack_rec_frames(rec), win = RATE * 3 / 10;
    for (size_t at = start;; at += RATE / 10) {
        if (!tolk_jack_rec_wait_frames(rec, at + win, 2000))
            return -1;
        if (is_tone(analyse(at, win), hz))
            return (int)((at + win - start) * 1000 / RATE);
        if ((at - start) * 1000 / RATE > (size_t)timeout_ms)
            return -1;
    }
}

/* The next ms of output: hz, at a plausible level. */
static void expect_tone(double hz, int ms, const char *what)
{
    size_t from = tolk_jack_rec_frames(rec), n = (size_t)ms * RATE / 1000;
    TOLK_CHECK(tolk_jack_rec_wait_frames(rec, from + n, ms + 3000), "%s: JACK stopped", what);
    struct heard h = analyse(from, n);
    tolk_harness_note("%s: %.0f Hz (share %.2f), %.1f dBFS", what, h.hz, h.share, h.rms);
    TOLK_CHECK(is_tone(h, hz), "%s: heard %.0f Hz (share %.2f) at %.1f dBFS, want %.0f Hz", what,
               h.hz, h.share, h.rms, hz);
}

static void expect_silence(size_t from, size_t n, const char *what)
{
    TOLK_CHECK(tolk_jack_rec_wait_frames(rec, from + n, 5000), "%s: JACK stopped", what);
    struct heard h = analyse(from, n);
    TOLK_CHECK(h.rms < -60, "%s: %.1f dBFS (%.0f Hz), want silence", what, h.rms, h.hz);
}

/* ---- A: WebSocket, server restart, Ctrl-C ---- */

static const char config_ws[] = "[server]\nlisten = 127.0.0.1:%d\n[audio]\nframe_ms = 20\n"
                                "[channel floor]\nsource = tone:440\n"
                                "[channel fr]\nlang = fr\nsource = tone:1000\n";

static void phase_websocket(void)
{
    int port = pick_port();
    char config[512], url[64];
    snprintf(config, sizeof config, config_ws, port);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d", port);
    struct tolk_child *srv = tolk_harness_server_start(server_bin, "server", config, port, NULL);
    struct receiver r = start_receiver("receiver-ws", "--server", url, "--channel", "fr");
    int ms = wait_tone(1000, 5000);
    TOLK_CHECK(ms >= 0, "A: fr (1000 Hz) not heard within 5 s of connecting");
    tolk_harness_note("A: fr heard %d ms after the port was connected", ms);
    expect_tone(1000, 1000, "A: fr over WebSocket");
    wait_status_lines(1);
    double latency = status_value(&r, "latency_ms");
    tolk_harness_note("A: status latency %.1f ms, buffer %.1f ms, underruns %.0f", latency,
                      status_value(&r, "buffer_ms"), status_value(&r, "underruns"));
    TOLK_CHECK(status_is(&r, " state=live ") && status_is(&r, " link=up "),
               "A: the status line does not say live and up");
    TOLK_CHECK(latency > 20 && latency < 1000, "A: latency %.1f ms is not plausible", latency);

    tolk_harness_server_stop(srv);
    size_t stopped = tolk_jack_rec_frames(rec);
    expect_silence(stopped + RATE * 6 / 10, RATE * 8 / 10, "A: server stopped");
    TOLK_CHECK(status_is(&r, " link=down ") || status_is(&r, " link=connecting "),
               "A: the status line does not show the lost link");
    srv = tolk_harness_server_start(server_bin, "server-again", config, port, NULL);
    ms = wait_tone(1000, 10000);
    TOLK_CHECK(ms >= 0, "A: fr not heard within 10 s of the server's restart");
    tolk_harness_note("A: fr back %d ms after tolk-server restarted", ms);
    expect_tone(1000, 500, "A: fr after the restart");
    wait_status_lines(1);
    TOLK_CHECK(status_value(&r, "reconnects") >= 1, "A: no reconnect counted");
    interrupt_receiver(&r, "A: receiver");
    tolk_harness_server_stop(srv);
}

/* ---- B and C: RTP and SRTP made by the test ---- */

static void write_sdp(const char *name, int port, const char *key_b64, char *path, size_t cap)
{
    char text[1024];
    snprintf(text, sizeof text,
             "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=test %s\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio %d RTP/%s 111\r\na=rtpmap:111 opus/48000/2\r\na=ptime:20\r\n%s%s%s",
             name, port, key_b64 ? "SAVP" : "AVP",
             key_b64 ? "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" : "", key_b64 ? key_b64 : "",
             key_b64 ? "\r\n" : "");
    TOLK_CHECK(tolk_harness_write_file(name, text, path, cap) == 0, "write %s", name);
}

static void send_malformed(struct tolk_rtp_sender *s)
{
    static uint8_t huge[3000];
    huge[0] = 0x80;
    huge[1] = 111;
    TOLK_CHECK(tolk_rtp_sender_send_raw(s, "\x80\x6f\x00\x01\x00", 5) == 0, "short");
    TOLK_CHECK(tolk_rtp_sender_send_with_header(s, 0x40, 111) == 0, "version 1");
    TOLK_CHECK(tolk_rtp_sender_send_with_header(s, 0x80, 0) == 0, "payload type 0");
    TOLK_CHECK(tolk_rtp_sender_send_raw(s, huge, sizeof huge) == 0, "huge");
}

static void phase_rtp(void)
{
    int port = pick_port();
    char sdp[512];
    write_sdp("plain.sdp", port, NULL, sdp, sizeof sdp);
    struct receiver r = start_receiver("receiver-rtp", "--sdp", sdp, NULL, NULL);
    struct tolk_rtp_sender *s;
    TOLK_CHECK(tolk_rtp_sender_open(&s, port, 111, NULL, 800) == 0, "sender");
    size_t from = tolk_jack_rec_frames(rec);
    TOLK_CHECK(tolk_rtp_sender_send_report(s) == 0, "report");
    for (int i = 0; i < 3; i++) {
        TOLK_CHECK(tolk_rtp_sender_send_frames(s, 25) == 0, "send");
        send_malformed(s);
    }
    TOLK_CHECK(tolk_rtp_sender_send_report(s) == 0, "report");
    TOLK_CHECK(tolk_rtp_sender_send_frames(s, 75) == 0, "send");
    struct heard h = analyse(from + RATE, RATE); /* second 1..2 of the 3 s sent */
    tolk_harness_note("B: RTP: %.0f Hz (share %.2f), %.1f dBFS", h.hz, h.share, h.rms);
    TOLK_CHECK(is_tone(h, 800), "B: RTP: heard %.0f Hz at %.1f dBFS, want 800 Hz", h.hz, h.rms);
    wait_status_lines(2);
    double bad = status_value(&r, "malformed"), packets = status_value(&r, "packets");
    double latency = status_value(&r, "latency_ms");
    tolk_harness_note("B: %.0f packets, %.0f malformed, latency %.1f ms, concealed %.0f", packets,
                      bad, latency, status_value(&r, "concealed"));
    TOLK_CHECK(bad == 12, "B: %.0f malformed datagrams counted, 12 sent", bad);
    TOLK_CHECK(packets == 150, "B: %.0f packets taken, 150 sent", packets);
    TOLK_CHECK(status_value(&r, "sender_reports") == 2, "B: the sender reports were not taken");
    TOLK_CHECK(latency > 0 && latency < 1000, "B: latency %.1f ms from the sender report", latency);
    tolk_rtp_sender_close(s);
    interrupt_receiver(&r, "B: receiver");
}

static void phase_srtp(void)
{
    int port = pick_port();
    uint8_t key[30], wrong[30];
    for (int i = 0; i < 30; i++) {
        key[i] = (uint8_t)rand();
        wrong[i] = (uint8_t)(key[i] ^ 0x5A);
    }
    char b64[64], sdp[512];
    TOLK_CHECK(lws_b64_encode_string((const char *)key, 30, b64, sizeof b64) == 40, "base64");
    write_sdp("srtp.sdp", port, b64, sdp, sizeof sdp);
    struct receiver r = start_receiver("receiver-srtp", "--sdp", sdp, NULL, NULL);
    struct tolk_rtp_sender *s, *bad;
    TOLK_CHECK(tolk_rtp_sender_open(&s, port, 111, key, 1200) == 0, "sender");
    size_t from = tolk_jack_rec_frames(rec);
    TOLK_CHECK(tolk_rtp_sender_send_report(s) == 0 && tolk_rtp_sender_send_frames(s, 100) == 0,
               "send");
    struct heard h = analyse(from + RATE / 2, RATE);
    tolk_harness_note("C: SRTP: %.0f Hz (share %.2f), %.1f dBFS", h.hz, h.share, h.rms);
    TOLK_CHECK(is_tone(h, 1200), "C: SRTP: heard %.0f Hz at %.1f dBFS, want 1200", h.hz, h.rms);
    tolk_rtp_sender_close(s);
    TOLK_CHECK(tolk_rtp_sender_open(&bad, port, 111, wrong, 600) == 0, "sender");
    from = tolk_jack_rec_frames(rec);
    TOLK_CHECK(tolk_rtp_sender_send_frames(bad, 75) == 0, "send");
    expect_silence(from + RATE * 6 / 10, RATE * 8 / 10, "C: SRTP with the wrong key");
    wait_status_lines(2);
    double failures = status_value(&r, "srtp_failures");
    tolk_harness_note("C: %.0f SRTP failures", failures);
    TOLK_CHECK(failures == 75, "C: %.0f SRTP failures counted, 75 packets had the wrong key",
               failures);
    tolk_rtp_sender_close(bad);
    interrupt_receiver(&r, "C: receiver");
}

/* ---- D: tolk-server's SRTP egress ---- */

static void phase_server_srtp(void)
{
    int http = pick_port(), rtp = pick_port();
    char config[1024], conf_path[512];
    snprintf(config, sizeof config,
             "[server]\nlisten = 127.0.0.1:%d\n[audio]\nframe_ms = 20\n"
             "[channel floor]\nsource = tone:440\n"
             "[channel fr]\nlang = fr\nsource = tone:1000\nrtp = 127.0.0.1:%d\n"
             "srtp_key = WVNJk1hUJkLdMH9GqM3PUv5qAUcZWpVBp8vSRpp6\n",
             http, rtp);
    TOLK_CHECK(tolk_harness_write_file("egress.conf", config, conf_path, sizeof conf_path) == 0,
               "conf");
    char *argv[] = {(char *)server_bin, "-c", conf_path, "--sdp", "fr", NULL};
    char *sdp_text = NULL, *err = NULL, sdp[512];
    int rc = tolk_harness_run(argv, NULL, 10000, &sdp_text, &err);
    TOLK_CHECK(rc == 0 && sdp_text, "D: tolk-server --sdp fr: exit %d: %s", rc, err ? err : "");
    TOLK_CHECK(strstr(sdp_text, "a=crypto:"), "D: the SDP has no a=crypto:\n%s", sdp_text);
    TOLK_CHECK(tolk_harness_write_file("egress.sdp", sdp_text, sdp, sizeof sdp) == 0, "sdp");
    free(sdp_text);
    free(err);
    struct tolk_child *srv = tolk_harness_server_start(server_bin, "server-egress", config, http,
                                                       NULL);
    struct receiver r = start_receiver("receiver-egress", "--sdp", sdp, NULL, NULL);
    int ms = wait_tone(1000, 5000);
    TOLK_CHECK(ms >= 0, "D: fr (1000 Hz) not heard from tolk-server's SRTP within 5 s");
    expect_tone(1000, 1000, "D: fr over tolk-server's SRTP");
    wait_status_lines(1);
    tolk_harness_note("D: latency %.1f ms, SRTP failures %.0f, sender reports %.0f",
                      status_value(&r, "latency_ms"), status_value(&r, "srtp_failures"),
                      status_value(&r, "sender_reports"));
    TOLK_CHECK(status_value(&r, "srtp_failures") == 0, "D: SRTP failures on the server's stream");
    interrupt_receiver(&r, "D: receiver");
    tolk_harness_server_stop(srv);
}

/* ---- E: multicast ---- */

#define GROUP_FR "239.255.90.41"
#define GROUP_EN "239.255.90.42"

/* A socket joined to group on the interface of its route (INADDR_ANY), or -errno when this host
 * has no route to it. */
static int join_guard(const char *group, int port)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, group, &to.sin_addr);
    struct ip_mreq m = {.imr_multiaddr = to.sin_addr, .imr_interface.s_addr = htonl(INADDR_ANY)};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&to, sizeof to) == 0 &&
        setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) == 0)
        return fd;
    int e = -errno;
    if (fd >= 0)
        close(fd);
    return e;
}

static void multicast_sdp(const char *config, char *sdp, size_t cap)
{
    char conf_path[512];
    TOLK_CHECK(tolk_harness_write_file("multicast.conf", config, conf_path, sizeof conf_path) == 0,
               "conf");
    char *argv[] = {(char *)server_bin, "-c", conf_path, "--sdp", "fr", NULL};
    char *text = NULL, *err = NULL;
    int rc = tolk_harness_run(argv, NULL, 10000, &text, &err);
    TOLK_CHECK(rc == 0 && text && strstr(text, "c=IN IP4 " GROUP_FR "/0"),
               "E: tolk-server --sdp fr: exit %d, no c= line of the group:\n%s%s", rc,
               text ? text : "", err ? err : "");
    TOLK_CHECK(tolk_harness_write_file("multicast.sdp", text, sdp, cap) == 0, "sdp");
    free(text);
    free(err);
}

static void phase_multicast(void)
{
    int http = pick_port(), port = pick_port();
    int guard_fr = join_guard(GROUP_FR, port), guard_en = join_guard(GROUP_EN, port);
    if (guard_fr < 0 || guard_en < 0) {
        tolk_harness_note("E: SKIPPED: no multicast route on this host (%s)",
                          strerror(-(guard_fr < 0 ? guard_fr : guard_en)));
        if (guard_fr >= 0)
            close(guard_fr);
        if (guard_en >= 0)
            close(guard_en);
        return;
    }
    char config[1024], sdp[512];
    snprintf(config, sizeof config,
             "[server]\nlisten = 127.0.0.1:%d\n[audio]\nframe_ms = 20\n"
             "[channel floor]\nsource = tone:440\n"
             "[channel fr]\nlang = fr\nsource = tone:1000\nrtp = " GROUP_FR ":%d\nrtp_ttl = 0\n"
             "[channel en]\nlang = en\nsource = tone:660\nrtp = " GROUP_EN ":%d\nrtp_ttl = 0\n",
             http, port, port);
    multicast_sdp(config, sdp, sizeof sdp);
    struct receiver r = start_receiver("receiver-multicast", "--sdp", sdp, NULL, NULL);
    struct tolk_child *srv =
        tolk_harness_server_start(server_bin, "server-multicast", config, http, NULL);
    TOLK_CHECK(wait_tone(1000, 5000) >= 0, "E: fr (1000 Hz) not heard from its group within 5 s");
    expect_tone(1000, 2000, "E: fr from " GROUP_FR ", en on " GROUP_EN " at the same port");
    char *log = tolk_harness_read_file(tolk_harness_err_path(r.child));
    TOLK_CHECK(log && !strstr(log, "new stream"),
               "E: the receiver took another stream for fr's (en's group leaked in):\n%s",
               log ? log : "(no log)");
    free(log);
    interrupt_receiver(&r, "E: receiver");
    tolk_harness_server_stop(srv);
    close(guard_fr);
    close(guard_en);
}

int main(int argc, char **argv)
{
    TOLK_CHECK(argc == 3, "usage: %s TOLK-SERVER TOLK-RECEIVER", argv[0]);
    server_bin = argv[1];
    receiver_bin = argv[2];
    tolk_harness_init("receiver", 100);
    srand((unsigned)getpid());
    const char *require = getenv("TOLK_REQUIRE_BROWSER");
    bool required = require && strcmp(require, "1") == 0;
    if (!tolk_jackd_available()) {
        TOLK_CHECK(!required, "jackd is not installed and TOLK_REQUIRE_BROWSER=1");
        printf("SKIP: jackd is not installed\n");
        return TOLK_SKIP_CODE;
    }
    char name[64], *why = NULL;
    snprintf(name, sizeof name, "tolktest-rcv-%d", (int)getpid());
    if (tolk_jackd_start(name, 480, false, &why) != 0) {
        TOLK_CHECK(!required, "jackd could not start: %s", why ? why : "");
        printf("SKIP: jackd could not start: %s\n", why ? why : "");
        return TOLK_SKIP_CODE;
    }
    TOLK_CHECK(tolk_jack_rec_open(&rec, "tolktest-rec", 1, 0, (size_t)RATE * 75) == 0,
               "JACK client");
    phase_websocket();
    phase_rtp();
    phase_srtp();
    phase_server_srtp();
    phase_multicast();
    tolk_jack_rec_close(rec);
    tolk_jackd_stop();
    tolk_harness_note("PASS");
    return 0;
}
