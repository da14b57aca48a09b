/* integration.booth: the booth control socket against the real server, heard by a real listener.
 *
 * Booth fr has two desks (tones 1000 and 1500 Hz) producing fr, B channel en; booth en has one
 * desk (2000 Hz) producing en; the floor is 440 Hz. A listener on fr checks, from the decoded
 * audio and the frame flags, every switch the consoles make: mic on within one frame (FALLBACK
 * cleared, `state` live:true, the desk's tone), cough (silence, still live), interlock within a
 * booth, hand-over without a gap, engaged channels across booths, a console that disconnects
 * (its cough key lets go, the routing stays), malformed and out-of-order commands (an error,
 * nothing changes), two consoles of one booth seeing the same state, and the PIN lockout.
 * Usage: SERVER. Main thread only. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "analysis.h"
#include "checks.h"
#include "harness.h"
#include "listen_client.h"
#include "tolk/protocol.h"

#define FRAME_MS 20
#define BOOTH_PROTOCOL "tolk.booth.v1"

static const char config_format[] = "[server]\n"
                                    "listen = 127.0.0.1:%d\n"
                                    "booth_pin = 2222\n"
                                    "[channel floor]\n"
                                    "source = tone:440\n"
                                    "[channel fr]\n"
                                    "[channel en]\n"
                                    "[booth fr]\n"
                                    "desks = tone:1000, tone:1500\n"
                                    "a = fr\n"
                                    "b = en\n"
                                    "pin = 1111\n"
                                    "[booth en]\n"
                                    "desks = tone:2000\n"
                                    "a = en\n";

static int port;
static struct tolk_client *listener; /* on fr */

/* ---- console helpers ---- */

static struct tolk_client *open_console(const char *name)
{
    struct tolk_client *c;
    TOLK_CHECK(tolk_client_open_protocol(&c, name, port, "/booth", BOOTH_PROTOCOL, FRAME_MS) == 0,
               "open %s", name);
    TOLK_CHECK(tolk_client_wait_open(c, 5000), "%s: connect: %s", name, tolk_client_error(c));
    TOLK_CHECK(strcmp(tolk_client_protocol(c), BOOTH_PROTOCOL) == 0, "%s: subprotocol '%s'",
               name, tolk_client_protocol(c));
    return c;
}

static size_t text_count(struct tolk_client *c)
{
    size_t n;
    tolk_client_texts(c, &n);
    return n;
}

static json_t *text_json(struct tolk_client *c, long k)
{
    size_t n;
    return tolk_client_texts(c, &n)[k].json;
}

/* Sends cmd and returns the error reply's code, or NULL when no error came within wait_ms. */
static const char *command(struct tolk_client *c, const char *cmd, int wait_ms)
{
    size_t from = text_count(c);
    TOLK_CHECK(tolk_client_send_text(c, cmd) == 0, "send %s", cmd);
    long k = tolk_client_wait_text(c, from, "error", NULL, wait_ms);
    return k < 0 ? NULL : json_string_value(json_object_get(text_json(c, k), "code"));
}

static void expect_ok(struct tolk_client *c, const char *cmd)
{
    const char *code = command(c, cmd, 300);
    TOLK_CHECK(!code, "%s: %s was refused: %s", tolk_client_name(c), cmd, code);
}

static void expect_refused(struct tolk_client *c, const char *cmd, const char *want)
{
    const char *code = command(c, cmd, 3000);
    TOLK_CHECK(code && strcmp(code, want) == 0, "%s: %s: error %s, want %s", tolk_client_name(c),
               cmd, code ? code : "(none)", want);
}

/* The newest `booth` message at index >= from whose desk `desk` has field == value. */
static bool desk_is(json_t *booth, int desk, const char *field, bool value)
{
    json_t *d = json_array_get(json_object_get(booth, "desks"), (size_t)desk - 1);
    return json_is_boolean(json_object_get(d, field)) &&
           json_is_true(json_object_get(d, field)) == value;
}

static json_t *wait_desk(struct tolk_client *c, int desk, const char *field, bool value)
{
    int64_t deadline = tolk_harness_now_us() + 3000000;
    size_t from = 0;
    while (tolk_harness_now_us() < deadline) {
        long k = tolk_client_wait_text(c, from, "booth", NULL, 100);
        if (k >= 0) {
            if (desk_is(text_json(c, k), desk, field, value))
                return text_json(c, k);
            from = (size_t)k + 1;
        }
    }
    tolk_harness_fail(__FILE__, __LINE__, "booth state", "%s: desk %d %s never became %s",
                      tolk_client_name(c), desk, field, value ? "true" : "false");
}

static json_t *latest(struct tolk_client *c, const char *type)
{
    json_t *found = NULL;
    for (long k = 0; (k = tolk_client_find_text(c, (size_t)k, type, NULL)) >= 0; k++)
        found = text_json(c, k);
    return found;
}

static struct tolk_client *login(const char *name, const char *booth, const char *pin)
{
    struct tolk_client *c = open_console(name);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "{\"type\":\"login\",\"booth\":\"%s\",\"pin\":\"%s\"}", booth, pin);
    TOLK_CHECK(tolk_client_send_text(c, cmd) == 0, "send login");
    TOLK_CHECK(tolk_client_wait_text(c, 0, "welcome", NULL, 3000) >= 0, "%s: no welcome: %s",
               name, tolk_client_find_text(c, 0, "error", NULL) >= 0 ? "refused" : "silence");
    TOLK_CHECK(tolk_client_wait_text(c, 0, "booth", NULL, 3000) >= 0, "%s: no booth state", name);
    return c;
}

/* ---- listener helpers ---- */

static size_t packet_count(void)
{
    size_t n;
    tolk_client_packets(listener, &n);
    return n;
}

/* Services for ms, then checks the audio that came meanwhile: its tone (hz 0 = silence), and
 * that every packet had the expected FALLBACK flag. Returns the first packet index checked. */
static size_t hear(int ms, double hz, bool fallback, const char *what)
{
    size_t from = packet_count();
    tolk_client_service_until(ms, NULL, NULL);
    size_t to = packet_count(), n;
    TOLK_CHECK(to >= from + (size_t)(ms / FRAME_MS) / 2, "%s: only %zu packets in %d ms", what,
               to - from, ms);
    const struct tolk_client_packet *p = tolk_client_packets(listener, &n);
    for (size_t i = from; i < to; i++)
        TOLK_CHECK(((p[i].flags & TOLK_FLAG_FALLBACK) != 0) == fallback,
                   "%s: packet %zu (seq %u) has FALLBACK %s", what, i, p[i].seq,
                   fallback ? "clear" : "set");
    if (hz > 0) {
        tolk_check_tone(listener, from, to, 60, hz, what);
    } else {
        size_t samples;
        const float *pcm = tolk_client_pcm(listener, &samples);
        size_t skip = 3; /* the codec's own tail of the sound before */
        double db = tolk_signal_rms_db(pcm + p[from + skip].pcm_offset,
                                       p[to - 1].pcm_offset - p[from + skip].pcm_offset);
        TOLK_CHECK(db < -50, "%s: expected silence, RMS %.1f dBFS", what, db);
    }
    return from;
}

/* Waits for the first packet without FALLBACK at index >= from (the switch on air). */
static const struct tolk_client_packet *wait_live_packet(size_t from, const char *what)
{
    int64_t deadline = tolk_harness_now_us() + 3000000;
    while (tolk_harness_now_us() < deadline) {
        size_t n;
        const struct tolk_client_packet *p = tolk_client_packets(listener, &n);
        for (size_t i = from; i < n; i++)
            if (!(p[i].flags & TOLK_FLAG_FALLBACK))
                return &p[i];
        tolk_client_service_until(10, NULL, NULL);
    }
    tolk_harness_fail(__FILE__, __LINE__, "live", "%s: no live packet within 3 s", what);
}

/* ---- the scenario ---- */

static void check_mic_on_within_a_frame(struct tolk_client *c1, struct tolk_client *c2)
{
    hear(600, 440, true, "fr before any mic: the floor");
    size_t texts = text_count(listener), from = packet_count();
    struct timespec ts; /* the server stamps frames with the wall clock, which we share */
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wall_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    TOLK_CHECK(tolk_client_send_text(c1, "{\"type\":\"mic\",\"desk\":1,\"on\":true}") == 0, "send");
    const struct tolk_client_packet *first = wait_live_packet(from, "mic on");
    /* The first live frame starts at most one frame after the command left (the tick that
     * follows it); one more frame is allowed for the trip over loopback on a busy machine. */
    int64_t delay_us = first->capture_us - wall_us;
    tolk_harness_note("mic on: first live frame captured %.1f ms after the command was sent",
                      delay_us / 1000.0);
    TOLK_CHECK(delay_us <= 2 * FRAME_MS * 1000, "mic on reached the listeners %.1f ms late",
               delay_us / 1000.0);
    long k = tolk_client_wait_text(listener, texts, "state", "fr", 3000);
    TOLK_CHECK(k >= 0 && json_is_true(json_object_get(text_json(listener, k), "live")),
               "listener: no state live:true after mic on");
    hear(600, 1000, false, "fr with desk 1 on air");
    /* Both consoles of the booth see it. */
    wait_desk(c1, 1, "mic", true);
    wait_desk(c2, 1, "mic", true);
}

static void check_channels_overview(struct tolk_client *c)
{
    tolk_client_service_until(1200, NULL, NULL); /* a periodic `channels` comes every second */
    json_t *list = json_object_get(latest(c, "channels"), "channels");
    json_t *fr = json_array_get(list, 1);
    TOLK_CHECK(fr && strcmp(json_string_value(json_object_get(fr, "id")), "fr") == 0 &&
                   json_is_true(json_object_get(fr, "live")) &&
                   strcmp(json_string_value(json_object_get(fr, "booth")), "fr") == 0 &&
                   json_integer_value(json_object_get(fr, "desk")) == 1 &&
                   json_integer_value(json_object_get(fr, "depth")) == 1 &&
                   json_integer_value(json_object_get(fr, "listeners")) == 1,
               "channels overview for fr is wrong");
    json_t *levels = json_array_get(json_object_get(latest(c, "levels"), "desks"), 0);
    double peak = json_number_value(json_object_get(levels, "peak_dbfs"));
    TOLK_CHECK(peak > -13.5 && peak < -10.5, "desk 1's meter reads %.1f dBFS, want -12", peak);
}

static void check_cough(struct tolk_client *c1, struct tolk_client *c2)
{
    expect_ok(c1, "{\"type\":\"cough\",\"desk\":1,\"on\":true}");
    wait_desk(c2, 1, "cough", true);
    hear(500, 0, false, "cough held: silence, still live");
    expect_ok(c1, "{\"type\":\"cough\",\"desk\":1,\"on\":false}");
    wait_desk(c2, 1, "cough", false);
    hear(500, 1000, false, "cough released");
    /* A console that goes away while holding the key lets it go; its mic stays on. */
    expect_ok(c2, "{\"type\":\"cough\",\"desk\":1,\"on\":true}");
    wait_desk(c1, 1, "cough", true);
    tolk_client_close(c2);
    TOLK_CHECK(tolk_client_wait_closed(c2, 3000), "console 2 did not close");
    wait_desk(c1, 1, "cough", false);
    hear(500, 1000, false, "cough released by a console that left");
}

static void check_interlock_and_handover(struct tolk_client *c1)
{
    size_t from = packet_count();
    expect_ok(c1, "{\"type\":\"mic\",\"desk\":2,\"on\":true}");
    json_t *st = wait_desk(c1, 2, "mic", true);
    TOLK_CHECK(desk_is(st, 1, "mic", false), "desk 2 on: desk 1 should be off");
    hear(600, 1500, false, "partner switched on: desk 2 on air");
    expect_ok(c1, "{\"type\":\"handover\",\"desk\":2,\"action\":\"request\"}");
    wait_desk(c1, 2, "handover", true);
    expect_ok(c1, "{\"type\":\"handover\",\"desk\":1,\"action\":\"accept\"}");
    wait_desk(c1, 1, "mic", true);
    hear(600, 1000, false, "handover accepted: desk 1 on air");
    /* Neither switch let the floor through for a single frame. */
    size_t n;
    const struct tolk_client_packet *p = tolk_client_packets(listener, &n);
    for (size_t i = from; i < n; i++)
        TOLK_CHECK(!(p[i].flags & TOLK_FLAG_FALLBACK), "a switch let the floor through (seq %u)",
                   p[i].seq);
}

static void check_engaged(struct tolk_client *c1, struct tolk_client *en)
{
    expect_ok(en, "{\"type\":\"mic\",\"desk\":1,\"on\":true}");
    wait_desk(en, 1, "mic", true);
    /* fr's desk 2 on its B channel (en) may not take en from booth en. */
    expect_ok(c1, "{\"type\":\"output\",\"desk\":2,\"channel\":\"b\"}");
    expect_refused(c1, "{\"type\":\"mic\",\"desk\":2,\"on\":true}", "engaged");
    /* Nor may desk 1, on air on fr, move to en: it stays on fr. */
    expect_refused(c1, "{\"type\":\"output\",\"desk\":1,\"channel\":\"b\"}", "engaged");
    tolk_client_service_until(300, NULL, NULL);
    json_t *st = latest(c1, "booth");
    TOLK_CHECK(desk_is(st, 2, "mic", false) && desk_is(st, 1, "mic", true),
               "a refused command changed the booth");
    hear(400, 1000, false, "fr unchanged after the refusals");
    json_t *list = json_object_get(latest(c1, "channels"), "channels");
    TOLK_CHECK(strcmp(json_string_value(json_object_get(json_array_get(list, 2), "booth")),
                      "en") == 0, "en should show live from booth en");
}

static void check_bad_commands(struct tolk_client *c1)
{
    tolk_client_service_until(200, NULL, NULL);
    json_t *before = json_deep_copy(latest(c1, "booth"));
    expect_refused(c1, "{\"type\":\"mic\",\"desk\":1", "invalid_json");
    expect_refused(c1, "[1,2]", "invalid_json");
    expect_refused(c1, "{\"desk\":1}", "missing_field");
    expect_refused(c1, "{\"type\":\"launch\"}", "unknown_type");
    expect_refused(c1, "{\"type\":\"mic\",\"on\":false}", "missing_field");
    expect_refused(c1, "{\"type\":\"mic\",\"desk\":\"1\",\"on\":false}", "missing_field");
    expect_refused(c1, "{\"type\":\"mic\",\"desk\":9,\"on\":false}", "bad_desk");
    expect_refused(c1, "{\"type\":\"mic\",\"desk\":1,\"on\":\"off\"}", "missing_field");
    expect_refused(c1, "{\"type\":\"output\",\"desk\":1,\"channel\":\"c\"}", "bad_output");
    expect_refused(c1, "{\"type\":\"relay\",\"desk\":1,\"channel\":\"xx\"}", "unknown_channel");
    expect_refused(c1, "{\"type\":\"handover\",\"desk\":1,\"action\":\"steal\"}", "bad_action");
    expect_refused(c1, "{\"type\":\"call\",\"desk\":1,\"kind\":\"pizza\",\"on\":true}",
                   "bad_kind");
    expect_refused(c1, "{\"type\":\"chat\",\"desk\":1,\"text\":\"\"}", "bad_text");
    expect_refused(c1, "{\"type\":\"login\",\"booth\":\"en\",\"pin\":\"2222\"}",
                   "already_logged_in");
    size_t from = text_count(c1);
    TOLK_CHECK(tolk_client_send_binary(c1, "\x01\x02", 2) == 0, "send binary");
    TOLK_CHECK(tolk_client_wait_text(c1, from, "error", NULL, 3000) >= 0, "binary: no error");
    tolk_client_service_until(300, NULL, NULL);
    TOLK_CHECK(json_equal(json_object_get(before, "desks"),
                          json_object_get(latest(c1, "booth"), "desks")),
               "bad commands changed the booth's state");
    json_decref(before);
    TOLK_CHECK(tolk_client_state(c1) == TOLK_CLIENT_OPEN, "console closed after bad commands");
    hear(400, 1000, false, "fr unchanged after bad commands");
}

static void check_console_gone_keeps_routing(struct tolk_client *c1)
{
    tolk_client_close(c1);
    TOLK_CHECK(tolk_client_wait_closed(c1, 3000), "console 1 did not close");
    hear(800, 1000, false, "console gone: desk 1 stays on air");
}

static void check_pin_lockout(struct tolk_client *en)
{
    struct tolk_client *c = open_console("console-lockout");
    expect_refused(c, "{\"type\":\"mic\",\"desk\":1,\"on\":true}", "not_logged_in");
    expect_refused(c, "{\"type\":\"login\",\"booth\":\"de\",\"pin\":\"1111\"}", "unknown_booth");
    for (int left = 4; left >= 0; left--) {
        size_t from = text_count(c);
        expect_refused(c, "{\"type\":\"login\",\"booth\":\"fr\",\"pin\":\"0000\"}",
                       left ? "bad_pin" : "locked_out");
        json_t *e = text_json(c, tolk_client_find_text(c, from, "error", NULL));
        const char *key = left ? "attempts_left" : "retry_after";
        json_int_t want = left ? left : 60;
        TOLK_CHECK(json_integer_value(json_object_get(e, key)) == want, "%s should be %d",
                   key, (int)want);
    }
    expect_refused(c, "{\"type\":\"login\",\"booth\":\"fr\",\"pin\":\"1111\"}", "locked_out");
    /* A console that is in already keeps working. */
    expect_ok(en, "{\"type\":\"mic\",\"desk\":1,\"on\":false}");
    wait_desk(en, 1, "mic", false);
    tolk_client_close(c);
}

int main(int argc, char **argv)
{
    TOLK_CHECK(argc == 2, "usage: %s TOLK-SERVER", argv[0]);
    tolk_harness_init("booth", 90);
    port = tolk_harness_free_port();
    TOLK_CHECK(port > 0, "no free port");
    char config[1024];
    snprintf(config, sizeof config, config_format, port);
    struct tolk_child *server = tolk_harness_server_start(argv[1], "server", config, port, NULL);

    TOLK_CHECK(tolk_client_init() == 0, "lws client context");
    TOLK_CHECK(tolk_client_open(&listener, "fr-listener", port, "/listen?channel=fr", false,
                                FRAME_MS) == 0, "open listener");
    TOLK_CHECK(tolk_client_wait_open(listener, 5000), "listener: %s", tolk_client_error(listener));
    struct tolk_client *wrong = open_console("console-wrong-pin");
    expect_refused(wrong, "{\"type\":\"login\",\"booth\":\"fr\",\"pin\":\"9\"}", "bad_pin");
    tolk_client_close(wrong);
    /* Without the subprotocol, /booth is no listener's path: refused. */
    struct tolk_client *plain;
    TOLK_CHECK(tolk_client_open(&plain, "booth-no-protocol", port, "/booth", false, FRAME_MS) == 0,
               "open");
    TOLK_CHECK(!tolk_client_wait_open(plain, 3000), "/booth without tolk.booth.v1 was accepted");

    struct tolk_client *c1 = login("console-1", "fr", "1111");
    struct tolk_client *c2 = login("console-2", "fr", "1111");
    struct tolk_client *en = login("console-en", "en", "2222");
    json_t *welcome = text_json(c1, tolk_client_find_text(c1, 0, "welcome", NULL));
    TOLK_CHECK(strcmp(json_string_value(json_object_get(welcome, "a")), "fr") == 0 &&
                   strcmp(json_string_value(json_object_get(welcome, "b")), "en") == 0 &&
                   json_integer_value(json_object_get(welcome, "desks")) == 2 &&
                   json_integer_value(json_object_get(json_object_get(welcome, "limiter"),
                                                      "peak_dbfs")) == -6,
               "welcome is wrong");

    check_mic_on_within_a_frame(c1, c2);
    check_channels_overview(c1);
    check_cough(c1, c2);
    check_interlock_and_handover(c1);
    check_engaged(c1, en);
    check_bad_commands(c1);
    check_console_gone_keeps_routing(c1);
    check_pin_lockout(en);

    tolk_client_close(listener);
    tolk_client_close(en);
    tolk_client_service_until(300, NULL, NULL);
    tolk_client_fini();
    tolk_harness_server_stop(server);
    tolk_check_finish();
    tolk_harness_note("PASS");
    return 0;
}
