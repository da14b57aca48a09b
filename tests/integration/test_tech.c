/* integration.tech: the technicians' side against the real server.
 *
 * - Access: /tech, /api/status, /api/qr.svg, /metrics and the /tech WebSocket are refused (401,
 *   no handshake) without the token or with a wrong one, by cookie, header or URL, and the
 *   refusal reveals nothing; with the token they answer. /api/health and /api/booths are public.
 * - Meters: the /tech feed reports a -12 dBFS tone within 0.5 dB (peak -12, RMS -15).
 * - Clipping: a full-scale file source is flagged clipped and raises a clipping alarm.
 * - Silence: a live channel fed silence (an interpreter holding the cough key) raises the silence
 *   alarm after silence_alarm_s, and it clears once sound is back.
 * - /metrics parses strictly as Prometheus text format 0.0.4 (checked line by line here).
 * - Controls: force_fallback and mute reach a listener (FALLBACK, state), chat reaches the booth.
 * Usage: SERVER. Main thread only. */
#include <ctype.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks.h"
#include "harness.h"
#include "listen_client.h"
#include "tolk/protocol.h"

#define TOKEN "s3cret-token"

static const char config_format[] = "[server]\n"
                                    "listen = 127.0.0.1:%d\n"
                                    "tech_token = " TOKEN "\n"
                                    "silence_alarm_s = 2\n"
                                    "[channel floor]\n"
                                    "source = tone:440\n"
                                    "[channel en]\n"
                                    "source = tone:660\n"
                                    "rtp = 127.0.0.1:%d\n"
                                    "[channel fr]\n"
                                    "source = file:%s\n"
                                    "[channel es]\n"
                                    "[booth es]\n"
                                    "desks = tone:1000\n"
                                    "a = es\n";

static int port;

/* ---- helpers ---- */

static void write_clipping_wav(char *path, size_t cap)
{
    TOLK_CHECK(tolk_harness_temp_path("clip.wav", path, cap) == 0, "temp path");
    SF_INFO info = {.samplerate = 48000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    TOLK_CHECK(f, "write %s: %s", path, sf_strerror(NULL));
    static float square[48000];
    for (int i = 0; i < 48000; i++)
        square[i] = (i / 50) % 2 ? 1.0f : -1.0f; /* 480 Hz at full scale */
    TOLK_CHECK(sf_writef_float(f, square, 48000) == 48000, "write samples");
    sf_close(f);
}

/* GET with optional extra header; returns the status, *body malloc'd. */
static int get(const char *path, const char *header, char **body)
{
    int fd = tolk_harness_tcp_connect(port, 3000);
    TOLK_CHECK(fd >= 0, "connect");
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%sConnection: close\r\n\r\n",
                     path, header ? header : "", header ? "\r\n" : "");
    TOLK_CHECK(write(fd, req, (size_t)n) == n, "send");
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    buf[len] = '\0';
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    char *start = strstr(buf, "\r\n\r\n");
    *body = strdup(start ? start + 4 : "");
    free(buf);
    return status;
}

static void expect_status(const char *path, const char *header, int want)
{
    char *body;
    int status = get(path, header, &body);
    TOLK_CHECK(status == want, "GET %s (%s): %d, want %d", path, header ? header : "no header",
               status, want);
    if (want == 401)
        TOLK_CHECK(!strstr(body, "floor") && !strstr(body, TOKEN) && !strstr(body, "660"),
                   "the 401 for %s reveals something: %.200s", path, body);
    free(body);
}

static json_t *latest(struct tolk_client *c, const char *type)
{
    json_t *found = NULL;
    size_t n;
    const struct tolk_client_text *t = tolk_client_texts(c, &n);
    for (long k = 0; (k = tolk_client_find_text(c, (size_t)k, type, NULL)) >= 0; k++)
        found = t[k].json;
    return found;
}

static bool has_alarm(struct tolk_client *c, const char *id)
{
    json_t *list = json_object_get(latest(c, "alarms"), "alarms");
    for (size_t i = 0; i < json_array_size(list); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(list, i), "id")), id) == 0)
            return true;
    return false;
}

static bool wait_alarm(struct tolk_client *c, const char *id, bool present, int ms)
{
    int64_t until = tolk_harness_now_us() + (int64_t)ms * 1000;
    while (tolk_harness_now_us() < until) {
        if (has_alarm(c, id) == present)
            return true;
        tolk_client_service_until(50, NULL, NULL);
    }
    return false;
}

static json_t *channel_meter(struct tolk_client *tech, int index)
{
    return json_array_get(json_object_get(latest(tech, "meters"), "channels"), (size_t)index);
}

/* ---- checks ---- */

static void check_access(void)
{
    const char *protected[] = {"/tech", "/tech/", "/api/status", "/api/qr.svg", "/metrics"};
    for (size_t i = 0; i < sizeof protected / sizeof protected[0]; i++) {
        char path[128];
        expect_status(protected[i], NULL, 401);
        snprintf(path, sizeof path, "%s?token=wrong", protected[i]);
        expect_status(path, NULL, 401);
        expect_status(protected[i], "Authorization: Bearer wrong", 401);
        expect_status(protected[i], "Cookie: tolk_tech=wrong", 401);
        expect_status(protected[i], "Cookie: tolk_tech=" TOKEN "x", 401);
    }
    expect_status("/api/status", "Authorization: Bearer " TOKEN, 200);
    expect_status("/metrics", "Cookie: other=1; tolk_tech=" TOKEN, 200);
    expect_status("/api/qr.svg?channel=fr&token=" TOKEN, NULL, 200);
    expect_status("/api/qr.svg?channel=xx&token=" TOKEN, NULL, 404);
    expect_status("/api/health", NULL, 200);
    expect_status("/api/booths", NULL, 200);
    expect_status("/tech/missing.html", "Cookie: tolk_tech=" TOKEN, 404);
    expect_status("/tech/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "Cookie: tolk_tech=" TOKEN, 404);
    /* A page visit with ?token= sets the cookie and redirects to the address without it. */
    int fd = tolk_harness_tcp_connect(port, 3000);
    const char req[] = "GET /tech?token=" TOKEN " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    TOLK_CHECK(write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1), "send");
    char head[2048] = "";
    ssize_t n = read(fd, head, sizeof head - 1);
    close(fd);
    head[n > 0 ? n : 0] = '\0';
    TOLK_CHECK(strncmp(head, "HTTP/1.1 303", 12) == 0 && strstr(head, "location: /tech\r\n") &&
                   strstr(head, "set-cookie: tolk_tech=" TOKEN "; Path=/; HttpOnly"),
               "?token= on /tech: no redirect with the cookie: %.300s", head);
    /* The socket: refused without the token. */
    struct tolk_client *c;
    TOLK_CHECK(tolk_client_open_protocol(&c, "tech-no-token", port, "/tech", "tolk.tech.v1", 20) == 0,
               "open");
    TOLK_CHECK(!tolk_client_wait_open(c, 3000), "/tech socket accepted without the token");
    TOLK_CHECK(tolk_client_open_protocol(&c, "tech-wrong", port, "/tech?token=nope",
                                         "tolk.tech.v1", 20) == 0, "open");
    TOLK_CHECK(!tolk_client_wait_open(c, 3000), "/tech socket accepted a wrong token");
}

static void check_meters(struct tolk_client *tech)
{
    tolk_client_service_until(1500, NULL, NULL);
    json_t *hello = latest(tech, "hello");
    TOLK_CHECK(hello && json_array_size(json_object_get(hello, "channels")) == 4, "no hello");
    /* Every meters message of the last second: en (a -12 dBFS sine) within 0.5 dB. */
    size_t n, checked = 0;
    const struct tolk_client_text *t = tolk_client_texts(tech, &n);
    for (size_t k = n > 25 ? n - 25 : 0; k < n; k++) {
        if (!t[k].json || strcmp(json_string_value(json_object_get(t[k].json, "type")), "meters"))
            continue;
        json_t *en = json_array_get(json_object_get(t[k].json, "channels"), 1);
        double peak = json_number_value(json_object_get(en, "peak_dbfs"));
        double rms = json_number_value(json_object_get(en, "rms_dbfs"));
        TOLK_CHECK(fabs(peak - -12.0) <= 0.5 && fabs(rms - -15.05) <= 0.5,
                   "en meters read peak %.2f RMS %.2f dBFS; the tone is -12 / -15.05", peak, rms);
        checked++;
    }
    TOLK_CHECK(checked >= 5, "only %zu meters messages in the last 25 texts", checked);
    tolk_harness_note("meters: %zu readings of en within 0.5 dB of -12 dBFS peak, -15 RMS", checked);
    TOLK_CHECK(json_is_true(json_object_get(channel_meter(tech, 2), "clipped")),
               "fr (full scale) is not flagged clipped");
    TOLK_CHECK(wait_alarm(tech, "clipping:fr", true, 3000), "no clipping alarm for fr");
    TOLK_CHECK(!has_alarm(tech, "clipping:en"), "en (at -12 dBFS) has a clipping alarm");
    TOLK_CHECK(latest(tech, "status") && latest(tech, "history") && latest(tech, "events"),
               "status, history or events did not come");
}

static void check_silence_alarm(struct tolk_client *tech)
{
    struct tolk_client *console;
    TOLK_CHECK(tolk_client_open_protocol(&console, "console", port, "/booth", "tolk.booth.v1", 20) == 0,
               "open console");
    TOLK_CHECK(tolk_client_wait_open(console, 3000), "console: %s", tolk_client_error(console));
    tolk_client_send_text(console, "{\"type\":\"login\",\"booth\":\"es\",\"pin\":\"1234\"}");
    TOLK_CHECK(tolk_client_wait_text(console, 0, "welcome", NULL, 3000) >= 0, "no welcome");
    tolk_client_send_text(console, "{\"type\":\"mic\",\"desk\":1,\"on\":true}");
    tolk_client_send_text(console, "{\"type\":\"cough\",\"desk\":1,\"on\":true}");
    int64_t start = tolk_harness_now_us();
    TOLK_CHECK(!wait_alarm(tech, "silence:es", true, 1200), "silence alarm before 2 s");
    TOLK_CHECK(wait_alarm(tech, "silence:es", true, 3000), "no silence alarm on es");
    tolk_harness_note("silence alarm after %.1f s (silence_alarm_s = 2)",
                      (tolk_harness_now_us() - start) / 1e6);
    tolk_client_send_text(console, "{\"type\":\"cough\",\"desk\":1,\"on\":false}");
    TOLK_CHECK(wait_alarm(tech, "silence:es", false, 2000), "silence alarm did not clear");
    /* A line from the technicians reaches the booth. */
    size_t from;
    tolk_client_texts(console, &from);
    tolk_client_send_text(tech, "{\"type\":\"chat\",\"booth\":\"es\",\"text\":\"check your mic\"}");
    int64_t until = tolk_harness_now_us() + 3000000;
    bool got = false;
    while (!got && tolk_harness_now_us() < until) {
        tolk_client_service_until(50, NULL, NULL);
        json_t *chat = json_object_get(latest(console, "booth"), "chat");
        json_t *line = json_array_get(chat, json_array_size(chat) - 1);
        got = line && strcmp(json_string_value(json_object_get(line, "from")), "tech") == 0 &&
              strcmp(json_string_value(json_object_get(line, "text")), "check your mic") == 0;
    }
    TOLK_CHECK(got, "the booth did not get the technicians' chat line");
    tolk_client_close(console);
}

static bool packets_flagged(struct tolk_client *l, size_t from, bool fallback)
{
    size_t n;
    const struct tolk_client_packet *p = tolk_client_packets(l, &n);
    for (size_t i = from; i < n; i++)
        if (((p[i].flags & TOLK_FLAG_FALLBACK) != 0) != fallback)
            return false;
    return n > from + 10;
}

static void check_controls(struct tolk_client *tech)
{
    struct tolk_client *l;
    TOLK_CHECK(tolk_client_open(&l, "en-listener", port, "/listen?channel=en", false, 20) == 0, "open");
    TOLK_CHECK(tolk_client_wait_packets(l, 20, 3000), "en listener: no audio");
    tolk_client_send_text(tech, "{\"type\":\"force_fallback\",\"channel\":\"en\",\"on\":true}");
    TOLK_CHECK(tolk_client_wait_text(l, 0, "state", "en", 3000) >= 0, "no state");
    tolk_client_service_until(500, NULL, NULL);
    size_t from;
    tolk_client_packets(l, &from);
    tolk_client_service_until(500, NULL, NULL);
    TOLK_CHECK(packets_flagged(l, from, true), "forced to fallback, en still sends its own audio");
    tolk_check_tone(l, from, from + 20, 0, 440, "en forced to the floor");
    TOLK_CHECK(json_is_true(json_object_get(channel_meter(tech, 1), "forced")),
               "meters do not show en forced");
    tolk_client_send_text(tech, "{\"type\":\"force_fallback\",\"channel\":\"en\",\"on\":false}");
    tolk_client_service_until(500, NULL, NULL);
    tolk_client_packets(l, &from);
    tolk_client_service_until(500, NULL, NULL);
    TOLK_CHECK(packets_flagged(l, from, false), "en did not come back from the forced fallback");
    tolk_client_send_text(tech, "{\"type\":\"mute\",\"channel\":\"en\",\"on\":true}");
    tolk_client_service_until(500, NULL, NULL);
    tolk_client_packets(l, &from);
    tolk_client_service_until(500, NULL, NULL);
    TOLK_CHECK(packets_flagged(l, from, true), "muted, en is not flagged");
    tolk_client_send_text(tech, "{\"type\":\"mute\",\"channel\":\"en\",\"on\":false}");
    size_t texts;
    tolk_client_texts(tech, &texts);
    tolk_client_send_text(tech, "{\"type\":\"mute\",\"channel\":\"xx\",\"on\":true}");
    long k = tolk_client_wait_text(tech, texts, "error", NULL, 3000);
    TOLK_CHECK(k >= 0, "mute of an unknown channel: no error");
    tolk_client_close(l);
}

/* ---- strict Prometheus text format 0.0.4 ---- */

static bool metric_name(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
            return false;
    return true;
}

/* name{labels} value [timestamp]; returns the name length, or 0 if malformed. */
static size_t check_sample(const char *line, char *series, size_t cap)
{
    size_t n = strcspn(line, "{ ");
    if (!metric_name(line, n))
        return 0;
    const char *p = line + n;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            size_t k = strcspn(p, "=");
            if (!metric_name(p, k) || p[k] != '=' || p[k + 1] != '"')
                return 0;
            p += k + 2;
            while (*p && *p != '"')
                p += *p == '\\' && p[1] ? 2 : 1;
            if (*p++ != '"')
                return 0;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return 0;
        }
        p++;
    }
    snprintf(series, cap, "%.*s", (int)(p - line), line);
    if (*p++ != ' ')
        return 0;
    char *end;
    double v = strtod(p, &end);
    (void)v;
    bool special = strcmp(p, "+Inf") == 0 || strcmp(p, "-Inf") == 0 || strcmp(p, "NaN") == 0;
    if (!special && (end == p || (*end != '\0' && *end != ' ')))
        return 0;
    return n;
}

static void check_metrics(void)
{
    char *body;
    TOLK_CHECK(get("/metrics", "Authorization: Bearer " TOKEN, &body) == 200, "GET /metrics");
    size_t len = strlen(body);
    char *copy = strdup(body); /* strtok below cuts body up */
    TOLK_CHECK(len > 0 && body[len - 1] == '\n', "/metrics does not end with a newline");
    char typed[64][64], seen[512][160];
    int types = 0, series = 0, line_no = 0;
    for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
        line_no++;
        char name[64], kind[32];
        if (strncmp(line, "# TYPE ", 7) == 0) {
            TOLK_CHECK(sscanf(line, "# TYPE %63s %31s", name, kind) == 2 &&
                           metric_name(name, strlen(name)),
                       "/metrics line %d: bad TYPE: %s", line_no, line);
            TOLK_CHECK(!strcmp(kind, "counter") || !strcmp(kind, "gauge") ||
                           !strcmp(kind, "histogram") || !strcmp(kind, "summary") ||
                           !strcmp(kind, "untyped"), "/metrics line %d: type %s", line_no, kind);
            for (int i = 0; i < types; i++)
                TOLK_CHECK(strcmp(typed[i], name), "/metrics: TYPE %s twice", name);
            TOLK_CHECK(types < 64, "too many families");
            snprintf(typed[types++], sizeof typed[0], "%s", name);
            continue;
        }
        if (strncmp(line, "# HELP ", 7) == 0) {
            TOLK_CHECK(sscanf(line, "# HELP %63s", name) == 1 && metric_name(name, strlen(name)),
                       "/metrics line %d: bad HELP: %s", line_no, line);
            continue;
        }
        TOLK_CHECK(line[0] != '#' && line[0] != ' ', "/metrics line %d: stray: %s", line_no, line);
        TOLK_CHECK(series < 512, "too many series");
        size_t n = check_sample(line, seen[series], sizeof seen[0]);
        TOLK_CHECK(n > 0, "/metrics line %d is not a valid sample: %s", line_no, line);
        bool declared = types > 0 && strncmp(line, typed[types - 1], n) == 0 &&
                        strlen(typed[types - 1]) == n;
        TOLK_CHECK(declared, "/metrics line %d: sample outside its TYPE block: %s", line_no, line);
        for (int i = 0; i < series; i++)
            TOLK_CHECK(strcmp(seen[i], seen[series]), "/metrics: series %s twice", seen[series]);
        series++;
    }
    free(body);
    TOLK_CHECK(types >= 10 && series >= 30, "/metrics has only %d families, %d series", types,
               series);
    TOLK_CHECK(strstr(copy, "\ntolk_rtp_packets_total{channel=\"en\"} ") &&
                   !strstr(copy, "tolk_rtp_packets_total{channel=\"fr\"}"),
               "/metrics lacks en's RTP packets (or lists fr, which has no RTP)");
    free(copy);
    tolk_harness_note("/metrics: %d families, %d series, all lines valid", types, series);
}

int main(int argc, char **argv)
{
    TOLK_CHECK(argc == 2, "usage: %s TOLK-SERVER", argv[0]);
    tolk_harness_init("tech", 90);
    port = tolk_harness_free_port();
    TOLK_CHECK(port > 0, "no free port");
    char wav[512], config[2048];
    write_clipping_wav(wav, sizeof wav);
    int rtp_port = tolk_harness_free_port() & ~1; /* RTP goes to an even port; nobody listens */
    snprintf(config, sizeof config, config_format, port, rtp_port, wav);
    struct tolk_child *server = tolk_harness_server_start(argv[1], "server", config, port, NULL);
    TOLK_CHECK(tolk_client_init() == 0, "lws client context");

    check_access();
    struct tolk_client *tech;
    TOLK_CHECK(tolk_client_open_protocol(&tech, "tech", port, "/tech?token=" TOKEN, "tolk.tech.v1",
                                         20) == 0, "open");
    TOLK_CHECK(tolk_client_wait_open(tech, 3000), "/tech socket with the token: %s",
               tolk_client_error(tech));
    check_meters(tech);
    check_silence_alarm(tech);
    check_controls(tech);
    check_metrics();

    tolk_client_close(tech);
    tolk_client_service_until(200, NULL, NULL);
    tolk_client_fini();
    tolk_harness_server_stop(server);
    tolk_harness_note("PASS");
    return 0;
}
