/* integration.status: GET /api/status reports channels, listeners per channel, meters, uptime.
 *
 * Server: floor = tone:440, en = tone:660, fr = tone:880, es = none. With 3 listeners on floor,
 * 2 on fr, 1 on en and none on es, the status must count exactly those (and follow when some
 * leave); the peak of each tone channel is -12 dBFS within 1 dB (the tone source's level);
 * uptime grows. Usage: SERVER. Main thread only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
                                    "source = tone:880\n"
                                    "[channel es]\n"
                                    "lang = es\n"
                                    "source = none\n";

static const char *const ids[] = {"floor", "en", "fr", "es"};
static int port;

static json_t *get_status(void)
{
    char *body = NULL;
    int code = tolk_harness_http_get(port, "/api/status?token=change-me", 3000, &body);
    TOLK_CHECK(code == 200, "GET /api/status: %d", code);
    json_error_t jerr;
    json_t *j = json_loads(body, 0, &jerr);
    TOLK_CHECK(json_is_object(j), "/api/status is not a JSON object (%s): %.300s", jerr.text, body);
    free(body);
    return j;
}

/* The value of key in obj or in one of obj's member objects. */
static json_t *lookup(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v)
        return v;
    const char *k;
    json_t *member;
    json_object_foreach(obj, k, member) {
        if (json_is_object(member) && (v = json_object_get(member, key)))
            return v;
    }
    return NULL;
}

static json_t *status_channel(json_t *status, const char *id)
{
    json_t *list = json_object_get(status, "channels");
    TOLK_CHECK(json_is_array(list), "/api/status has no channels array");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *s = json_string_value(json_object_get(json_array_get(list, i), "id"));
        if (s && strcmp(s, id) == 0)
            return json_array_get(list, i);
    }
    TOLK_CHECK(0, "/api/status lists no channel %s", id);
    return NULL;
}

static long listeners_of(json_t *status, const char *id)
{
    json_t *v = lookup(status_channel(status, id), "listeners");
    TOLK_CHECK(json_is_integer(v), "/api/status channel %s: no integer `listeners`", id);
    return (long)json_integer_value(v);
}

static double uptime_of(json_t *status)
{
    const char *k;
    json_t *v;
    json_object_foreach(status, k, v) {
        if (strncmp(k, "uptime", 6) == 0 && json_is_number(v))
            return json_number_value(v);
    }
    TOLK_CHECK(0, "/api/status has no uptime");
    return 0;
}

static bool counts_match(json_t *status, const long want[4])
{
    for (int i = 0; i < 4; i++)
        if (listeners_of(status, ids[i]) != want[i])
            return false;
    return true;
}

/* Polls the status (servicing the clients meanwhile) until the counts match, then checks them. */
static void expect_listeners(const long want[4])
{
    json_t *s = NULL;
    for (int tries = 0; tries < 30; tries++) {
        json_decref(s);
        s = get_status();
        if (counts_match(s, want))
            break;
        tolk_client_service_until(100, NULL, NULL);
    }
    char *dump = json_dumps(s, JSON_COMPACT);
    for (int i = 0; i < 4; i++)
        TOLK_CHECK(listeners_of(s, ids[i]) == want[i],
                   "/api/status: %ld listeners on %s, want %ld (after 3 s): %s",
                   listeners_of(s, ids[i]), ids[i], want[i], dump);
    json_t *total = json_object_get(s, "listeners");
    TOLK_CHECK(!total || json_integer_value(total) == want[0] + want[1] + want[2] + want[3],
               "/api/status: listeners %lld in all, want the sum of the channels': %s",
               (long long)json_integer_value(total), dump);
    tolk_harness_note("listeners floor/en/fr/es = %ld/%ld/%ld/%ld", want[0], want[1], want[2],
                      want[3]);
    free(dump);
    json_decref(s);
}

static void check_meters(json_t *s)
{
    char *dump = json_dumps(s, JSON_COMPACT);
    for (int i = 0; i < 3; i++) {
        json_t *v = lookup(status_channel(s, ids[i]), "peak_db");
        TOLK_CHECK(json_is_number(v), "/api/status channel %s: no peak_db: %s", ids[i], dump);
        double peak = json_number_value(v);
        tolk_harness_note("%s peak %.2f dBFS", ids[i], peak);
        TOLK_CHECK(fabs(peak - -12.0) <= 1.0, "%s: peak %.2f dBFS, want -12 +- 1 (tone:HZ level)",
                   ids[i], peak);
    }
    free(dump);
}

static struct tolk_client *open_on(const char *id, int n)
{
    char path[64], name[32];
    snprintf(path, sizeof path, "/listen?channel=%s", id);
    snprintf(name, sizeof name, "%s-%d", id, n);
    struct tolk_client *c;
    TOLK_CHECK(tolk_client_open(&c, name, port, path, false, 20) == 0, "open");
    return c;
}

int main(int argc, char **argv)
{
    TOLK_CHECK(argc == 2, "usage: %s TOLK-SERVER", argv[0]);
    tolk_harness_init("status", 60);
    port = tolk_harness_free_port();
    TOLK_CHECK(port > 0, "no free port");
    char config[1024];
    snprintf(config, sizeof config, config_format, port);
    struct tolk_child *server = tolk_harness_server_start(argv[1], "server", config, port, NULL);
    TOLK_CHECK(tolk_client_init() == 0, "lws client context");
    /* Meters and `live` are published by the engine's ticks: let it tick first. */
    tolk_check_engine_running(port, 5000);

    const long none[4] = {0, 0, 0, 0};
    expect_listeners(none);
    json_t *s = get_status();
    double up1 = uptime_of(s);
    check_meters(s);
    json_decref(s);

    struct tolk_client *c[6] = {open_on("floor", 1), open_on("floor", 2), open_on("floor", 3),
                                open_on("fr", 1),    open_on("fr", 2),    open_on("en", 1)};
    const char *chan[6] = {"floor", "floor", "floor", "fr", "fr", "en"};
    for (int i = 0; i < 6; i++)
        TOLK_CHECK(tolk_client_wait_text(c[i], 0, "selected", chan[i], 5000) >= 0,
                   "%s: no `selected`", tolk_client_name(c[i]));
    const long six[4] = {3, 1, 2, 0};
    expect_listeners(six);

    const int leave[3] = {0, 1, 3}; /* two of floor, one of fr */
    for (int i = 0; i < 3; i++)
        tolk_client_close(c[leave[i]]);
    for (int i = 0; i < 3; i++)
        TOLK_CHECK(tolk_client_wait_closed(c[leave[i]], 3000), "close");
    const long three[4] = {1, 1, 1, 0};
    expect_listeners(three);

    tolk_client_service_until(1100, NULL, NULL);
    s = get_status();
    double up2 = uptime_of(s);
    tolk_harness_note("uptime %.3f then %.3f", up1, up2);
    TOLK_CHECK(up1 >= 0 && up2 > up1, "uptime did not grow: %.3f then %.3f", up1, up2);
    check_meters(s);
    json_decref(s);

    tolk_client_fini();
    tolk_harness_server_stop(server);
    tolk_harness_note("PASS");
    return 0;
}
