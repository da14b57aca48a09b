/* integration.listen_{20,10}ms: one listener walks through every channel on one connection.
 *
 * Server: threads = 2, floor = tone:440, en = tone:660, fr = tone:880, es = none (carries the
 * floor, flagged FALLBACK). Checks hello, then for each channel: `selected`, only that channel's
 * packets after it, seq +1 and capture time +frame_ms per packet, the channel's tone, the
 * FALLBACK flag; the `state` of es; then the frame rate over 5 s. Usage: SERVER FRAME_MS.
 * Runs on the main thread only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "harness.h"
#include "listen_client.h"

struct channel {
    const char *id;
    double hz;
    bool fallback;
};

static const struct channel channels[] = {
    {"floor", 440, false}, {"en", 660, false}, {"fr", 880, false}, {"es", 440, true}};

static const char config_format[] = "[server]\n"
                                    "listen = 127.0.0.1:%d\n"
                                    "threads = 2\n"
                                    "[audio]\n"
                                    "frame_ms = %d\n"
                                    "[channel floor]\n"
                                    "name = Floor\n"
                                    "source = tone:440\n"
                                    "[channel en]\n"
                                    "name = English\n"
                                    "lang = en\n"
                                    "source = tone:660\n"
                                    "fallback = floor\n"
                                    "[channel fr]\n"
                                    "name = Français\n"
                                    "lang = fr\n"
                                    "source = tone:880\n"
                                    "fallback = floor\n"
                                    "[channel es]\n"
                                    "name = Español\n"
                                    "lang = es\n"
                                    "source = none\n"
                                    "fallback = floor\n";

static void check_hello_channels(json_t *hello)
{
    for (size_t i = 0; i < 4; i++) {
        json_t *ch = json_array_get(json_object_get(hello, "channels"), i);
        const char *id = json_string_value(json_object_get(ch, "id"));
        TOLK_CHECK(id && strcmp(id, channels[i].id) == 0, "hello channel %zu is %s, want %s", i,
                   id ? id : "?", channels[i].id);
        char *dump = json_dumps(hello, JSON_COMPACT);
        TOLK_CHECK(json_is_true(json_object_get(ch, "live")) == !channels[i].fallback,
                   "hello channel %s: live should be %s: %s", id,
                   channels[i].fallback ? "false" : "true", dump);
        free(dump);
    }
    const char *name = json_string_value(
        json_object_get(json_array_get(json_object_get(hello, "channels"), 2), "name"));
    TOLK_CHECK(name && strcmp(name, "Français") == 0, "hello: fr name is %s, want Français",
               name ? name : "?");
    const char *lang = json_string_value(
        json_object_get(json_array_get(json_object_get(hello, "channels"), 3), "lang"));
    TOLK_CHECK(lang && strcmp(lang, "es") == 0, "hello: es lang is %s", lang ? lang : "?");
}

/* Selects channel i and checks 600 ms of what follows `selected`. */
static void visit(struct tolk_client *c, int i, int frame_ms)
{
    const struct channel *ch = &channels[i];
    size_t texts_before;
    tolk_client_texts(c, &texts_before);
    TOLK_CHECK(tolk_client_select(c, ch->id) == 0, "send select");
    long k = tolk_client_wait_text(c, texts_before, "selected", ch->id, 3000);
    TOLK_CHECK(k >= 0, "no `selected` for %s within 3 s", ch->id);
    TOLK_CHECK(tolk_client_find_text(c, texts_before, "error", NULL) < 0,
               "an error answered select %s", ch->id);
    size_t n;
    size_t from = tolk_client_texts(c, &n)[k].packets_before;
    size_t want = (size_t)(600 / frame_ms);
    TOLK_CHECK(tolk_client_wait_packets(c, from + want, 3000), "%s: fewer than %zu packets in 3 s",
               ch->id, want);
    struct tolk_stream_expect e = {.channel = i,
                                   .frame_ms = frame_ms,
                                   .fallback = ch->fallback ? TOLK_EXPECT_SET : TOLK_EXPECT_CLEAR,
                                   .allow_first_discontinuity = 1};
    tolk_check_stream(c, from, from + want, &e, ch->id);
    tolk_check_tone(c, from, from + want, 100, ch->hz, ch->id);
}

static void check_es_state(struct tolk_client *c)
{
    long k = tolk_client_wait_text(c, 0, "state", "es", 3000);
    TOLK_CHECK(k >= 0, "no `state` message for es (live:false, fallback:floor) within 3 s");
    size_t n;
    const struct tolk_client_text *t = tolk_client_texts(c, &n);
    json_t *s = t[k].json;
    const char *fb = json_string_value(json_object_get(s, "fallback"));
    TOLK_CHECK(json_is_false(json_object_get(s, "live")) && fb && strcmp(fb, "floor") == 0,
               "state of es: %s, want live:false fallback:floor", t[k].raw);
}

/* Stays on the current channel (es) for 5 s: every packet continuous, 1000/frame_ms per second
 * by capture time and by arrival time (within 2%). */
static void check_rate(struct tolk_client *c, int frame_ms)
{
    size_t from, to;
    /* Let the client drain what queued up while it analysed the previous channel, so a burst
     * of its own making does not start the window. */
    tolk_client_service_until(500, NULL, NULL);
    tolk_client_packets(c, &from);
    tolk_client_service_until(5000, NULL, NULL);
    const struct tolk_client_packet *p = tolk_client_packets(c, &to);
    TOLK_CHECK(to > from + 10, "only %zu packets in 5 s", to - from);
    struct tolk_stream_expect e = {
        .channel = 3, .frame_ms = frame_ms, .fallback = TOLK_EXPECT_SET};
    tolk_check_stream(c, from, to, &e, "es for 5 s");
    double want = 1000.0 / frame_ms;
    double intervals = (double)(to - from - 1);
    double by_capture = intervals * 1e6 / (double)(p[to - 1].capture_us - p[from].capture_us);
    double by_arrival =
        intervals * 1e6 / (double)(p[to - 1].arrival_mono_us - p[from].arrival_mono_us);
    tolk_harness_note("%zu packets in 5 s: %.2f/s by capture time, %.2f/s by arrival (want %.0f)",
                      to - from, by_capture, by_arrival, want);
    TOLK_CHECK(fabs(by_capture - want) <= want * 0.02, "rate by capture time %.2f/s, want %.0f",
               by_capture, want);
    TOLK_CHECK(fabs(by_arrival - want) <= want * 0.02, "rate by arrival time %.2f/s, want %.0f",
               by_arrival, want);
    double count_rate = (double)(to - from) / 5.0;
    TOLK_CHECK(fabs(count_rate - want) <= want * 0.05, "%zu packets in 5 s, want about %.0f",
               to - from, want * 5);
}

int main(int argc, char **argv)
{
    TOLK_CHECK(argc == 3, "usage: %s TOLK-SERVER FRAME_MS", argv[0]);
    int frame_ms = atoi(argv[2]);
    char name[32];
    snprintf(name, sizeof name, "listen_%dms", frame_ms);
    tolk_harness_init(name, 80);

    int port = tolk_harness_free_port();
    TOLK_CHECK(port > 0, "no free port");
    char config[2048];
    snprintf(config, sizeof config, config_format, port, frame_ms);
    struct tolk_child *server = tolk_harness_server_start(argv[1], "server", config, port, NULL);

    TOLK_CHECK(tolk_client_init() == 0, "lws client context");
    /* hello reports `live` as the engine last published it: let it tick first. */
    tolk_check_engine_running(port, 5000);
    struct tolk_client *c;
    TOLK_CHECK(tolk_client_open(&c, "listener", port, "/listen", true, frame_ms) == 0, "open");
    TOLK_CHECK(tolk_client_wait_open(c, 5000), "connect: %s", tolk_client_error(c));
    TOLK_CHECK(strcmp(tolk_client_protocol(c), "tolk.listen.v1") == 0,
               "server answered subprotocol '%s', want tolk.listen.v1", tolk_client_protocol(c));
    TOLK_CHECK(tolk_client_wait_text(c, 0, "hello", NULL, 3000) >= 0, "no hello within 3 s");
    json_t *hello = tolk_check_hello(c, frame_ms, 4);
    check_hello_channels(hello);

    for (int i = 0; i < 4; i++)
        visit(c, i, frame_ms);
    check_es_state(c);
    check_rate(c, frame_ms);
    TOLK_CHECK(tolk_client_bad_packets(c) == 0, "%zu packets did not decode to %d ms",
               tolk_client_bad_packets(c), frame_ms);

    tolk_client_close(c);
    TOLK_CHECK(tolk_client_wait_closed(c, 3000), "close did not complete");
    tolk_client_fini();
    tolk_harness_server_stop(server);
    tolk_check_finish();
    tolk_harness_note("PASS");
    return 0;
}
