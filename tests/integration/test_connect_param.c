/* integration.connect_param: /listen?channel=ID selects at connect.
 *
 * A listener on /listen?channel=fr gets hello, `selected` fr and then only fr's 880 Hz audio,
 * without sending anything. A listener on ?channel=nope gets error unknown_channel, stays
 * connected, and a later select works. Usage: SERVER. Main thread only. */
#include <stdio.h>
#include <string.h>

#include "checks.h"
#include "harness.h"
#include "listen_client.h"

static const char config_format[] = "[server]\n"
                                    "listen = 127.0.0.1:%d\n"
                                    "[channel floor]\n"
                                    "source = tone:440\n"
                                    "[channel en]\n"
                                    "lang = en\n"
                                    "source = tone:660\n"
                                    "[channel fr]\n"
                                    "lang = fr\n"
                                    "source = tone:880\n";

static void check_fr(struct tolk_client *c)
{
    TOLK_CHECK(tolk_client_wait_text(c, 0, "hello", NULL, 3000) >= 0, "fr: no hello");
    json_t *hello = tolk_check_hello(c, 20, 3);
    int fr = tolk_check_hello_index(hello, "fr");
    TOLK_CHECK(fr == 2, "fr should be index 2 in hello");
    long k = tolk_client_wait_text(c, 0, "selected", "fr", 3000);
    TOLK_CHECK(k >= 0, "?channel=fr: no `selected` fr within 3 s");
    TOLK_CHECK(tolk_client_wait_packets(c, 30, 3000), "?channel=fr: fewer than 30 packets in 3 s");
    size_t n;
    const struct tolk_client_text *t = tolk_client_texts(c, &n);
    TOLK_CHECK(tolk_client_find_text(c, 0, "error", NULL) < 0, "?channel=fr: an error came: %s",
               t[tolk_client_find_text(c, 0, "error", NULL)].raw);
    /* Nothing but fr, from the first packet on: no floor audio before the selection. */
    struct tolk_stream_expect e = {.channel = fr, .frame_ms = 20, .fallback = TOLK_EXPECT_CLEAR,
                                   .allow_first_discontinuity = 1};
    tolk_check_stream(c, 0, 30, &e, "?channel=fr");
    TOLK_CHECK(t[k].packets_before == 0, "?channel=fr: %zu packets came before `selected`",
               t[k].packets_before);
    tolk_check_tone(c, 0, 30, 100, 880, "?channel=fr");
}

static void check_unknown(struct tolk_client *c)
{
    long k = tolk_client_wait_text(c, 0, "error", NULL, 3000);
    TOLK_CHECK(k >= 0, "?channel=nope: no error within 3 s");
    size_t n;
    const struct tolk_client_text *t = tolk_client_texts(c, &n);
    const char *code = json_string_value(json_object_get(t[k].json, "code"));
    TOLK_CHECK(code && strcmp(code, "unknown_channel") == 0,
               "?channel=nope: error %s, want code unknown_channel", t[k].raw);
    TOLK_CHECK(json_is_string(json_object_get(t[k].json, "message")),
               "?channel=nope: error without a message: %s", t[k].raw);
    TOLK_CHECK(tolk_client_find_text(c, 0, "hello", NULL) >= 0, "?channel=nope: no hello");
    /* Still connected: a select now works and audio of that channel follows. */
    tolk_client_service_until(300, NULL, NULL);
    TOLK_CHECK(tolk_client_state(c) == TOLK_CLIENT_OPEN,
               "?channel=nope: the server closed the socket (code %d %s)",
               tolk_client_close_code(c), tolk_client_close_reason(c));
    size_t before;
    tolk_client_texts(c, &before);
    TOLK_CHECK(tolk_client_select(c, "en") == 0, "send select");
    k = tolk_client_wait_text(c, before, "selected", "en", 3000);
    TOLK_CHECK(k >= 0, "?channel=nope: select en afterwards got no `selected`");
    size_t from = tolk_client_texts(c, &n)[k].packets_before;
    TOLK_CHECK(tolk_client_wait_packets(c, from + 30, 3000), "?channel=nope then en: no audio");
    struct tolk_stream_expect e = {.channel = 1, .frame_ms = 20, .fallback = TOLK_EXPECT_CLEAR,
                                   .allow_first_discontinuity = 1};
    tolk_check_stream(c, from, from + 30, &e, "?channel=nope then en");
    tolk_check_tone(c, from, from + 30, 100, 660, "?channel=nope then en");
}

int main(int argc, char **argv)
{
    TOLK_CHECK(argc == 2, "usage: %s TOLK-SERVER", argv[0]);
    tolk_harness_init("connect_param", 60);
    int port = tolk_harness_free_port();
    TOLK_CHECK(port > 0, "no free port");
    char config[1024];
    snprintf(config, sizeof config, config_format, port);
    struct tolk_child *server = tolk_harness_server_start(argv[1], "server", config, port, NULL);

    TOLK_CHECK(tolk_client_init() == 0, "lws client context");
    struct tolk_client *fr, *bad;
    TOLK_CHECK(tolk_client_open(&fr, "fr-listener", port, "/listen?channel=fr", false, 20) == 0,
               "open");
    TOLK_CHECK(tolk_client_open(&bad, "nope-listener", port, "/listen?channel=nope", false, 20) == 0,
               "open");
    TOLK_CHECK(tolk_client_wait_open(fr, 5000), "connect: %s", tolk_client_error(fr));
    TOLK_CHECK(tolk_client_wait_open(bad, 5000), "connect: %s", tolk_client_error(bad));
    check_fr(fr);
    check_unknown(bad);

    tolk_client_close(fr);
    tolk_client_close(bad);
    TOLK_CHECK(tolk_client_wait_closed(fr, 3000) && tolk_client_wait_closed(bad, 3000),
               "close did not complete");
    tolk_client_fini();
    tolk_harness_server_stop(server);
    tolk_check_finish();
    tolk_harness_note("PASS");
    return 0;
}
