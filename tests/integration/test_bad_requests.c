/* integration.bad_requests: bad and slow clients never disturb a good one.
 *
 * While a victim listener streams en, an attacker sends an unknown channel, invalid JSON, JSON
 * without a type or with an unknown type, a non-object and a binary message (each answered by
 * an error, the socket stays open); another client sends 1 MiB of text (the server closes it
 * with a close code); a raw TCP client sends garbage before any handshake (closed); a raw
 * WebSocket client stalls without reading for longer than max_behind_ms and, once it reads
 * again, gets frames flagged DISCONTINUITY. Throughout, the victim gets every frame, the server
 * stays up and /api/status answers. Usage: SERVER. Main thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checks.h"
#include "harness.h"
#include "listen_client.h"
#include "rawws.h"
#include "tolk/clock.h"
#include "tolk/protocol.h"

#define STALL_MS 5000

/* A high bitrate fills the socket buffers of a stalled client quickly. */
static const char config_format[] = "[server]\n"
                                    "listen = 127.0.0.1:%d\n"
                                    "max_behind_ms = 200\n"
                                    "[audio]\n"
                                    "bitrate = 256000\n"
                                    "[channel floor]\n"
                                    "source = tone:440\n"
                                    "[channel en]\n"
                                    "lang = en\n"
                                    "source = tone:660\n"
                                    "[channel fr]\n"
                                    "lang = fr\n"
                                    "source = tone:880\n";

static int port;
static struct tolk_child *server;

static void check_server_alive(const char *after)
{
    TOLK_CHECK(tolk_harness_alive(server), "the server died after %s", after);
}

/* Sends one bad request and expects an error (with code want_code unless NULL), the socket
 * staying open. */
static void expect_error(struct tolk_client *c, const char *what, const char *want_code)
{
    size_t before, n;
    tolk_client_texts(c, &before);
    int rc;
    if (strcmp(what, "binary") == 0) {
        static const unsigned char junk[] = {1, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9};
        rc = tolk_client_send_binary(c, junk, sizeof junk);
    } else {
        rc = tolk_client_send_text(c, what);
    }
    TOLK_CHECK(rc == 0, "queue %s", what);
    long k = tolk_client_wait_text(c, before, "error", NULL, 3000);
    TOLK_CHECK(k >= 0, "no error message within 3 s after sending %s", what);
    const struct tolk_client_text *t = tolk_client_texts(c, &n);
    const char *code = json_string_value(json_object_get(t[k].json, "code"));
    TOLK_CHECK(code && *code, "error without a code after %s: %s", what, t[k].raw);
    TOLK_CHECK(!want_code || strcmp(code, want_code) == 0, "after %s: error %s, want code %s",
               what, t[k].raw, want_code);
    tolk_harness_note("%s -> %s", what, t[k].raw);
    TOLK_CHECK(tolk_client_state(c) == TOLK_CLIENT_OPEN, "the server closed the socket after %s",
               what);
    check_server_alive(what);
}

static void attack_with_messages(struct tolk_client *a)
{
    TOLK_CHECK(tolk_client_wait_text(a, 0, "hello", NULL, 3000) >= 0, "attacker: no hello");
    expect_error(a, "{\"type\":\"select\",\"channel\":\"xx\"}", "unknown_channel");
    expect_error(a, "{\"type\":\"select\",", "invalid_json");
    expect_error(a, "not json at all", "invalid_json");
    expect_error(a, "{\"channel\":\"en\"}", NULL);
    expect_error(a, "{\"type\":\"dance\"}", NULL);
    expect_error(a, "{\"type\":42}", NULL);
    expect_error(a, "[1,2,3]", NULL);
    expect_error(a, "{\"type\":\"select\"}", NULL);
    expect_error(a, "binary", "binary_not_supported");
    /* Still a working listener. */
    size_t before, n;
    tolk_client_texts(a, &before);
    TOLK_CHECK(tolk_client_select(a, "fr") == 0, "queue select");
    long k = tolk_client_wait_text(a, before, "selected", "fr", 3000);
    TOLK_CHECK(k >= 0, "attacker: select fr after the bad requests got no `selected`");
    size_t from = tolk_client_texts(a, &n)[k].packets_before;
    TOLK_CHECK(tolk_client_wait_packets(a, from + 10, 3000), "attacker: no fr audio");
}

static void attack_with_big_message(void)
{
    struct tolk_client *big;
    TOLK_CHECK(tolk_client_open(&big, "big", port, "/listen", false, 20) == 0, "open");
    TOLK_CHECK(tolk_client_wait_text(big, 0, "hello", NULL, 5000) >= 0, "big: no hello");
    TOLK_CHECK(tolk_client_send_filler(big, 1 << 20) == 0, "queue 1 MiB");
    TOLK_CHECK(tolk_client_wait_closed(big, 10000),
               "the server did not close a client that sent 1 MiB of text within 10 s");
    tolk_harness_note("1 MiB text -> closed with code %d '%s'", tolk_client_close_code(big),
                      tolk_client_close_reason(big));
    TOLK_CHECK(tolk_client_close_code(big) != 0 && tolk_client_close_code(big) != 1005,
               "1 MiB text: the server dropped the connection without a close code");
    check_server_alive("a 1 MiB message");
}

static bool fd_closed(void *arg)
{
    int fd = *(int *)arg;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void attack_with_garbage(void)
{
    int fd = tolk_harness_tcp_connect(port, 2000);
    TOLK_CHECK(fd >= 0, "raw connect: %s", strerror(-fd));
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 7919u >> 3);
    memcpy(junk, "\x16\x03\x01\x02\x00\x01\xff\r\n\r\n", 11);
    TOLK_CHECK(send(fd, junk, sizeof junk, MSG_NOSIGNAL) == (ssize_t)sizeof junk, "send garbage");
    bool closed = tolk_client_service_until(5000, fd_closed, &fd);
    close(fd);
    TOLK_CHECK(closed, "the server kept a connection open 5 s after garbage bytes");
    check_server_alive("garbage bytes");
}

struct slow {
    struct tolk_rawws *ws;
    int frames, discontinuities, closed;
    uint32_t last_seq;
    int64_t skip_age_us; /* how old the first DISCONTINUITY frame was on arrival */
};

/* Reads whatever the stalled client has waiting; true once a DISCONTINUITY came or it closed. */
static bool slow_drain(void *arg)
{
    struct slow *s = arg;
    int op;
    const unsigned char *data;
    size_t len;
    int r;
    while ((r = tolk_rawws_read(s->ws, 0, &op, &data, &len)) == 1) {
        if (op == 0x8) {
            s->closed = 1;
            return true;
        }
        struct tolk_frame_header h;
        const uint8_t *pk[64];
        uint16_t pl[64];
        size_t count;
        if (op != 0x2 || tolk_frame_parse(data, len, &h, pk, pl, 64, &count) != 0)
            continue;
        s->frames++;
        s->last_seq = h.seq;
        if ((h.flags & TOLK_FLAG_DISCONTINUITY) && s->discontinuities++ == 0)
            s->skip_age_us = tolk_clock_wall_us() - (int64_t)h.capture_us;
    }
    if (r < 0)
        s->closed = 1;
    return s->closed || s->discontinuities > 0;
}

static void stall_a_client(void)
{
    struct slow s = {0};
    int rc = tolk_rawws_open(&s.ws, port, "/listen?channel=fr", 2048, 3000);
    TOLK_CHECK(rc == 0, "slow client handshake: %s", strerror(-rc));
    /* Read up to the first audio frame, then stop reading. */
    for (int i = 0; i < 100 && s.frames == 0 && !s.closed; i++) {
        slow_drain(&s);
        tolk_client_service_until(20, NULL, NULL);
    }
    TOLK_CHECK(s.frames > 0, "slow client: no audio before the stall");
    int before = s.frames;
    tolk_harness_note("slow client: stalls for %d ms after %d frames", STALL_MS, before);
    tolk_client_service_until(STALL_MS, NULL, NULL);
    check_server_alive("a stalled client");
    bool done = tolk_client_service_until(5000, slow_drain, &s);
    tolk_harness_note("slow client: %d frames after resuming, %d flagged DISCONTINUITY, %s",
                      s.frames - before, s.discontinuities, s.closed ? "closed" : "open");
    TOLK_CHECK(done, "slow client: neither a DISCONTINUITY nor a close within 5 s of resuming");
    TOLK_CHECK(!s.closed, "slow client: the server closed it instead of skipping to the live "
                          "edge with DISCONTINUITY");
    /* It skipped to the live edge: that frame is fresh, not STALL_MS old. */
    tolk_harness_note("slow client: the DISCONTINUITY frame was %lld ms old",
                      (long long)s.skip_age_us / 1000);
    TOLK_CHECK(s.skip_age_us >= 0 && s.skip_age_us < 1000000,
               "slow client: the DISCONTINUITY frame is %lld ms old, want < 1000 (live edge)",
               (long long)s.skip_age_us / 1000);
    tolk_rawws_close(s.ws);
}

static void check_status_answers(void)
{
    char *body = NULL;
    int code = tolk_harness_http_get(port, "/api/status?token=change-me", 3000, &body);
    TOLK_CHECK(code == 200, "GET /api/status: %d", code);
    json_t *j = json_loads(body, 0, NULL);
    TOLK_CHECK(j != NULL, "/api/status is not JSON: %.200s", body);
    json_decref(j);
    free(body);
}

int main(int argc, char **argv)
{
    TOLK_CHECK(argc == 2, "usage: %s TOLK-SERVER", argv[0]);
    tolk_harness_init("bad_requests", 80);
    port = tolk_harness_free_port();
    TOLK_CHECK(port > 0, "no free port");
    char config[1024];
    snprintf(config, sizeof config, config_format, port);
    server = tolk_harness_server_start(argv[1], "server", config, port, NULL);

    TOLK_CHECK(tolk_client_init() == 0, "lws client context");
    struct tolk_client *victim, *attacker;
    TOLK_CHECK(tolk_client_open(&victim, "victim", port, "/listen?channel=en", true, 20) == 0,
               "open");
    long k = tolk_client_wait_text(victim, 0, "selected", "en", 5000);
    TOLK_CHECK(k >= 0, "victim: no `selected` en");
    size_t n;
    size_t from = tolk_client_texts(victim, &n)[k].packets_before;
    TOLK_CHECK(tolk_client_open(&attacker, "attacker", port, "/listen", false, 20) == 0, "open");

    attack_with_messages(attacker);
    attack_with_big_message();
    attack_with_garbage();
    stall_a_client();
    check_status_answers();

    size_t to;
    tolk_client_packets(victim, &to);
    struct tolk_stream_expect e = {.channel = 1, .frame_ms = 20, .fallback = TOLK_EXPECT_CLEAR,
                                   .allow_first_discontinuity = 1};
    tolk_check_stream(victim, from, to, &e, "victim, whole test");
    tolk_check_tone(victim, to - 30, to, 0, 660, "victim, at the end");
    TOLK_CHECK(tolk_client_state(victim) == TOLK_CLIENT_OPEN, "victim: disconnected");

    tolk_client_close(victim);
    tolk_client_close(attacker);
    TOLK_CHECK(tolk_client_wait_closed(victim, 3000) && tolk_client_wait_closed(attacker, 3000),
               "close did not complete");
    tolk_client_fini();
    tolk_harness_server_stop(server);
    tolk_check_finish();
    tolk_harness_note("PASS");
    return 0;
}
