/* The /tech WebSocket: the technician dashboard's live feed and controls (tech protocol v1,
 * docs/protocol.md). Needs the technicians' token (net/auth.h), checked before the handshake.
 *
 * Every WRITEABLE sends one message, by priority: hello, a queued error reply, the alarms if they
 * changed, new events (in batches), a booth whose state changed, the listener history (one
 * channel per message at first, then the newest point), the meters (25 a second), the status
 * with the receivers' reports (every second). The engine's tick wakes the service threads,
 * which ask every dashboard for a write; one with nothing due writes nothing.
 *
 * Threads: the service thread of the connection's context; struct tech belongs to it. It reads
 * the engine's atomics and the thread-safe control modules, and walks every context's report
 * table (each under its own lock) once a second.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/booth.h"
#include "control/events.h"
#include "control/monitor.h"
#include "net/auth.h"
#include "net/net.h"
#include "net/net_private.h"
#include "net/rx.h"
#include "tolk/clock.h"

#define METERS_INTERVAL_MS 40
#define STATUS_INTERVAL_MS 1000
#define EVENTS_AT_START 200
#define EVENTS_PER_MESSAGE 40
#define REPORT_MAX_AGE_MS 15000 /* older reports: that receiver stopped reporting */
#define WORST_MAX 10

/* Per connection (lws per-session data); the service thread of its context only. */
struct tech {
    bool established, hello_sent;
    int close_code;
    const char *close_reason;
    struct tolk_net_replies replies;
    struct tolk_rx rx;

    uint32_t alarms_version;
    bool alarms_told;
    uint64_t events_seq; /* last event sent */
    uint32_t booths_version;
    int booths_next;      /* next booth to send while a round is under way, -1 = none */
    int history_next;     /* channels sent of the first history, then channel_count */
    uint64_t history_seq; /* samples covered */
    int64_t meters_due_ms, status_due_ms;
};

size_t tolk_net_tech_session_size(void)
{
    return sizeof(struct tech);
}

static int64_t now_ms(void)
{
    return tolk_clock_mono_ns() / 1000000;
}

static json_t *id_or_null(const struct tolk_config *cfg, int channel)
{
    return channel >= 0 && channel < cfg->channel_count ? json_string(cfg->channels[channel].id)
                                                        : json_null();
}

/* ---- replies ---- */

static int send_reply(struct lws *wsi, struct tech *c, struct tolk_net_thread *t)
{
    struct tolk_net_reply r = tolk_net_next_reply(&c->replies);
    return tolk_net_write_json(wsi, t, tolk_net_error_json(&r));
}

/* ---- hello ---- */

/* insecure: this dashboard's connection is plain http (the token crossed the network). */
static json_t *hello_json(struct tolk_net *net, bool insecure)
{
    const struct tolk_config *cfg = net->cfg;
    struct tolk_engine_stats es;
    tolk_engine_stats(net->engine, &es);
    json_t *channels = json_array(), *booths = json_array();
    for (int i = 0; i < cfg->channel_count; i++) {
        char url[512];
        tolk_net_channel_url(net, cfg->channels[i].id, url, sizeof url);
        json_array_append_new(
            channels, json_pack("{s:s, s:o, s:s, s:s}", "id", cfg->channels[i].id, "name",
                                tolk_net_text_or(cfg->channels[i].name, cfg->channels[i].id),
                                "lang", cfg->channels[i].lang, "url", url));
    }
    for (int b = 0; b < cfg->booth_count; b++) {
        const struct tolk_booth_config *booth = &cfg->booths[b];
        json_array_append_new(booths, json_pack("{s:s, s:o, s:o, s:o, s:i}", "id", booth->id,
                                                "name", tolk_net_text_or(booth->name, booth->id),
                                                "a", id_or_null(cfg, booth->a_index), "b",
                                                id_or_null(cfg, booth->b_index), "desks",
                                                booth->desk_count));
    }
    return json_pack("{s:s, s:i, s:i, s:i, s:s, s:o, s:o, s:i, s:i, s:b}", "type", "hello",
                     "protocol", 1, "frame_ms", cfg->frame_ms, "bitrate", cfg->bitrate,
                     "public_url", net->public_url, "channels", channels, "booths", booths,
                     "inputs", es.device_inputs, "silence_alarm_s", cfg->silence_alarm_s,
                     "insecure", insecure);
}

/* ---- alarms, events, booths, history ---- */

static int send_alarms(struct lws *wsi, struct tech *c, struct tolk_net_thread *t, uint32_t version)
{
    struct tolk_alarm alarms[TOLK_MAX_ALARMS];
    int n = tolk_monitor_alarms(t->net->monitor, alarms, TOLK_MAX_ALARMS);
    json_t *list = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:o, s:s, s:I}", "id", alarms[i].id, "kind", alarms[i].kind,
                            "channel", id_or_null(t->net->cfg, alarms[i].channel), "text",
                            alarms[i].text, "since", (json_int_t)alarms[i].since_ms));
    c->alarms_version = version;
    c->alarms_told = true;
    return tolk_net_write_json(wsi, t, json_pack("{s:s, s:o}", "type", "alarms", "alarms", list));
}

static json_t *event_json(const struct tolk_event *e)
{
    return json_pack("{s:I, s:I, s:s, s:s, s:i, s:o}", "seq", (json_int_t)e->seq, "time",
                     (json_int_t)(e->time_us / 1000), "kind", e->kind, "booth", e->booth, "desk",
                     e->desk, "text", tolk_net_text_or(e->text, "?"));
}

/* Sends up to EVENTS_PER_MESSAGE events newer than the last sent; false if there were none. */
static bool send_events(struct lws *wsi, struct tech *c, struct tolk_net_thread *t, int *rc)
{
    struct tolk_event events[EVENTS_PER_MESSAGE];
    int n = tolk_events_since(t->net->events, c->events_seq, events, EVENTS_PER_MESSAGE);
    if (n == 0)
        return false;
    json_t *list = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(list, event_json(&events[i]));
    c->events_seq = events[n - 1].seq;
    *rc = tolk_net_write_json(wsi, t, json_pack("{s:s, s:o}", "type", "events", "events", list));
    return true;
}

/* One booth per message (a booth's chat alone can be 10 KB). */
static int send_booth(struct lws *wsi, struct tech *c, struct tolk_net_thread *t)
{
    const struct tolk_config *cfg = t->net->cfg;
    struct tolk_booth_state *st = malloc(sizeof *st); /* 10 KB: not on the service stack */
    if (!st)
        return -1;
    int b = c->booths_next++;
    if (c->booths_next >= cfg->booth_count)
        c->booths_next = -1;
    tolk_booths_snapshot(t->net->booths, b, st);
    int rc = tolk_net_write_json(wsi, t, tolk_net_booth_json(cfg, b, st));
    free(st);
    return rc;
}

/* The first history goes one channel per message; then each new sample, all channels at once. */
static bool send_history(struct lws *wsi, struct tech *c, struct tolk_net_thread *t, int *rc)
{
    const struct tolk_config *cfg = t->net->cfg;
    static _Thread_local uint16_t points[TOLK_MAX_CHANNELS * TOLK_HISTORY_POINTS];
    int count;
    uint64_t seq;
    tolk_monitor_history(t->net->monitor, points, &count, &seq);
    bool first_round = c->history_next < cfg->channel_count;
    if (!first_round && seq == c->history_seq)
        return false;
    json_t *msg = json_pack("{s:s, s:i}", "type", "history", "interval_s", TOLK_HISTORY_INTERVAL_S);
    if (first_round) {
        int ch = c->history_next++;
        json_t *list = json_array();
        for (int i = 0; i < count; i++)
            json_array_append_new(list, json_integer(points[ch * TOLK_HISTORY_POINTS + i]));
        json_object_set_new(msg, "channel", json_string(cfg->channels[ch].id));
        json_object_set_new(msg, "points", list);
    } else {
        json_t *newest = json_object();
        for (int ch = 0; ch < cfg->channel_count && count > 0; ch++)
            json_object_set_new(newest, cfg->channels[ch].id,
                                json_integer(points[ch * TOLK_HISTORY_POINTS + count - 1]));
        json_object_set_new(msg, "append", json_true());
        json_object_set_new(msg, "points", newest);
    }
    if (c->history_next >= cfg->channel_count)
        c->history_seq = seq;
    *rc = tolk_net_write_json(wsi, t, msg);
    return true;
}

/* ---- meters and status ---- */

static json_t *channel_meter(struct tolk_net *net, int i, const struct tolk_channel_control *ctl)
{
    const struct tolk_config *cfg = net->cfg;
    struct tolk_channel_status st;
    tolk_engine_channel_status(net->engine, i, &st);
    const struct tolk_channel_control *c = &ctl[i];
    return json_pack("{s:f, s:f, s:b, s:b, s:o, s:o, s:o, s:b, s:b, s:i}", "peak_dbfs",
                     tolk_net_db(st.peak_db), "rms_dbfs", tolk_net_db(st.rms_db), "clipped",
                     st.clipped, "live", st.live, "carrying", id_or_null(cfg, st.carry), "booth",
                     c->booth >= 0 ? json_string(cfg->booths[c->booth].id) : json_null(), "desk",
                     c->booth >= 0 ? json_integer(c->desk + 1) : json_null(), "muted",
                     st.override == TOLK_OVERRIDE_MUTE, "forced",
                     st.override == TOLK_OVERRIDE_FALLBACK, "listeners",
                     tolk_net_listener_count(net, i));
}

static json_t *meters_json(struct tolk_net *net)
{
    const struct tolk_config *cfg = net->cfg;
    struct tolk_channel_control ctl[TOLK_MAX_CHANNELS];
    struct tolk_engine_stats es;
    tolk_booths_channels(net->booths, ctl);
    tolk_engine_stats(net->engine, &es);
    json_t *channels = json_array(), *inputs = json_array(), *desks = json_array();
    for (int i = 0; i < cfg->channel_count; i++)
        json_array_append_new(channels, channel_meter(net, i, ctl));
    for (int i = 0; i < es.device_inputs; i++) {
        struct tolk_input_status in;
        tolk_engine_input_status(net->engine, i, &in);
        json_array_append_new(inputs,
                              json_pack("{s:f, s:f, s:b}", "peak_dbfs", tolk_net_db(in.peak_db),
                                        "rms_dbfs", tolk_net_db(in.rms_db), "clipped", in.clipped));
    }
    for (int b = 0; b < cfg->booth_count; b++) {
        for (int d = 0; d < cfg->booths[b].desk_count; d++) {
            struct tolk_desk_status ds;
            tolk_engine_desk_status(net->engine, cfg->booths[b].first_desk + d, &ds);
            json_array_append_new(desks,
                                  json_pack("{s:s, s:i, s:f, s:f}", "booth", cfg->booths[b].id,
                                            "desk", d + 1, "peak_dbfs", tolk_net_db(ds.peak_db),
                                            "rms_dbfs", tolk_net_db(ds.rms_db)));
        }
    }
    return json_pack("{s:s, s:o, s:o, s:o}", "type", "meters", "channels", channels, "inputs",
                     inputs, "desks", desks);
}

/* The receivers' reports of every context, gathered for one status message. */
struct gathered {
    int count[TOLK_MAX_CHANNELS];
    float *buffer[TOLK_MAX_CHANNELS], *latency[TOLK_MAX_CHANNELS]; /* count[] each */
    uint64_t underruns[TOLK_MAX_CHANNELS];
    json_t *decoders[TOLK_MAX_CHANNELS]; /* {name: count} */
    struct tolk_report worst[WORST_MAX];
    int worst_count;
    int capacity;
};

static bool worse(const struct tolk_report *a, const struct tolk_report *b)
{
    return a->underruns != b->underruns ? a->underruns > b->underruns
                                        : a->latency_ms > b->latency_ms;
}

static void keep_if_worst(struct gathered *g, const struct tolk_report *r)
{
    int at = g->worst_count;
    while (at > 0 && worse(r, &g->worst[at - 1]))
        at--;
    if (at >= WORST_MAX)
        return;
    int n = g->worst_count < WORST_MAX ? g->worst_count : WORST_MAX - 1;
    memmove(&g->worst[at + 1], &g->worst[at], (size_t)(n - at) * sizeof g->worst[0]);
    g->worst[at] = *r;
    if (g->worst_count < WORST_MAX)
        g->worst_count++;
}

static void gather_one(const struct tolk_report *r, void *arg)
{
    struct gathered *g = arg;
    int c = r->channel;
    if (c < 0 || c >= TOLK_MAX_CHANNELS || !g->buffer[c] || g->count[c] >= g->capacity)
        return;
    g->buffer[c][g->count[c]] = r->buffer_ms;
    g->latency[c][g->count[c]++] = r->latency_ms;
    g->underruns[c] += r->underruns;
    const char *name = r->decoder[0] ? r->decoder : "unknown";
    json_t *n = json_object_get(g->decoders[c], name);
    json_object_set_new(g->decoders[c], name, json_integer(json_integer_value(n) + 1));
    keep_if_worst(g, r);
}

static int compare_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Median of the reported (non-negative) values, or null. */
static json_t *median(float *values, int n)
{
    qsort(values, (size_t)n, sizeof *values, compare_float);
    int first = 0;
    while (first < n && values[first] < 0)
        first++;
    return first < n ? json_real(values[first + (n - first) / 2]) : json_null();
}

static json_t *reports_json(struct tolk_net *net, struct gathered *g)
{
    const struct tolk_config *cfg = net->cfg;
    int64_t since = now_ms() - REPORT_MAX_AGE_MS;
    for (int i = 0; i < net->thread_count; i++)
        tolk_reports_collect(&net->threads[i].reports, since, gather_one, g);
    json_t *list = json_array();
    for (int c = 0; c < cfg->channel_count; c++)
        json_array_append_new(list,
                              json_pack("{s:s, s:i, s:o, s:o, s:I, s:O}", "id", cfg->channels[c].id,
                                        "reporting", g->count[c], "buffer_ms_median",
                                        median(g->buffer[c], g->count[c]), "latency_ms_median",
                                        median(g->latency[c], g->count[c]), "underruns",
                                        (json_int_t)g->underruns[c], "decoders", g->decoders[c]));
    return list;
}

static json_t *worst_json(const struct tolk_config *cfg, const struct gathered *g)
{
    json_t *list = json_array();
    for (int i = 0; i < g->worst_count; i++) {
        const struct tolk_report *r = &g->worst[i];
        json_array_append_new(list, json_pack("{s:o, s:s, s:f, s:f, s:I, s:s}", "channel",
                                              id_or_null(cfg, r->channel), "address", r->address,
                                              "latency_ms", (double)r->latency_ms, "buffer_ms",
                                              (double)r->buffer_ms, "underruns",
                                              (json_int_t)r->underruns, "decoder", r->decoder));
    }
    return list;
}

static void gathered_free(struct gathered *g)
{
    for (int c = 0; c < TOLK_MAX_CHANNELS; c++) {
        free(g->buffer[c]);
        free(g->latency[c]);
        json_decref(g->decoders[c]);
    }
    free(g);
}

static json_t *status_json(struct tolk_net *net)
{
    struct tolk_engine_stats es;
    tolk_engine_stats(net->engine, &es);
    struct gathered *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->capacity = net->cfg->max_listeners;
    for (int c = 0; c < net->cfg->channel_count; c++) {
        g->buffer[c] = malloc((size_t)g->capacity * sizeof(float));
        g->latency[c] = malloc((size_t)g->capacity * sizeof(float));
        g->decoders[c] = json_object();
    }
    uint64_t max_ns = tolk_engine_take_encode_max(net->engine);
    double avg_us = es.ticks ? es.encode_ns / 1e3 / (double)es.ticks : 0;
    json_t *reports = reports_json(net, g);
    json_t *msg = json_pack(
        "{s:s, s:{s:b, s:I, s:I, s:I, s:f, s:f}, s:i, s:o, s:o}", "type", "status", "engine",
        "device_running", es.device_running, "device_overruns", (json_int_t)es.device_overruns,
        "ticks", (json_int_t)es.ticks, "late_ticks", (json_int_t)es.late_ticks, "encode_us_avg",
        avg_us, "encode_us_max", max_ns / 1e3, "listeners", atomic_load(&net->listeners), "reports",
        reports, "worst", worst_json(net->cfg, g));
    gathered_free(g);
    return msg;
}

/* ---- the write loop ---- */

/* Sends the most urgent message due; *more tells whether another may be waiting. */
static int send_next(struct lws *wsi, struct tech *c, struct tolk_net_thread *t, bool *more)
{
    struct tolk_net *net = t->net;
    int rc = 0;
    *more = true;
    if (!c->hello_sent) {
        c->hello_sent = true;
        return tolk_net_write_json(wsi, t, hello_json(net, !net->cfg->tls_cert[0]));
    }
    if (c->replies.count > 0)
        return send_reply(wsi, c, t);
    uint32_t alarms = tolk_monitor_version(net->monitor);
    if (!c->alarms_told || alarms != c->alarms_version)
        return send_alarms(wsi, c, t, alarms);
    if (send_events(wsi, c, t, &rc))
        return rc;
    uint32_t booths = tolk_booths_version(net->booths);
    if (c->booths_next < 0 && booths != c->booths_version && net->cfg->booth_count > 0) {
        c->booths_version = booths;
        c->booths_next = 0;
    }
    if (c->booths_next >= 0)
        return send_booth(wsi, c, t);
    if (send_history(wsi, c, t, &rc))
        return rc;
    *more = false;
    int64_t now = now_ms();
    if (now >= c->meters_due_ms) {
        /* On a fixed grid: the ticks that wake us come every frame, not exactly on it. */
        c->meters_due_ms += METERS_INTERVAL_MS;
        if (c->meters_due_ms <= now)
            c->meters_due_ms = now + METERS_INTERVAL_MS;
        return tolk_net_write_json(wsi, t, meters_json(net));
    }
    if (now >= c->status_due_ms) {
        c->status_due_ms = now + STATUS_INTERVAL_MS;
        return tolk_net_write_json(wsi, t, status_json(net));
    }
    return 0;
}

/* ---- commands ---- */

static int channel_arg(struct lws *wsi, struct tech *c, const char *type, json_t *msg,
                       const struct tolk_config *cfg, int *rc)
{
    const char *id = json_string_value(json_object_get(msg, "channel"));
    int channel = id ? tolk_config_channel_index(cfg, id) : -1;
    if (!id)
        *rc = tolk_net_reply_error(wsi, &c->replies, type, "missing_field",
                                   "'channel' (a channel id) is required");
    else if (channel < 0)
        *rc = tolk_net_reply_error(wsi, &c->replies, type, "unknown_channel", "no channel '%.40s'",
                                   id);
    return channel;
}

static int on_override(struct lws *wsi, struct tech *c, struct tolk_net *net, const char *type,
                       json_t *msg)
{
    int rc = 0, channel = channel_arg(wsi, c, type, msg, net->cfg, &rc);
    json_t *on = json_object_get(msg, "on");
    if (channel < 0)
        return rc;
    if (!json_is_boolean(on))
        return tolk_net_reply_error(wsi, &c->replies, type, "missing_field",
                                    "'on' (true or false) is required");
    bool mute = strcmp(type, "mute") == 0;
    struct tolk_channel_status st;
    tolk_engine_channel_status(net->engine, channel, &st);
    enum tolk_override want = json_is_true(on)
                                  ? (mute ? TOLK_OVERRIDE_MUTE : TOLK_OVERRIDE_FALLBACK)
                                  : TOLK_OVERRIDE_NONE;
    if (!json_is_true(on) && st.override != (mute ? TOLK_OVERRIDE_MUTE : TOLK_OVERRIDE_FALLBACK))
        return 0; /* switching off what is not on: nothing to do */
    tolk_engine_set_override(net->engine, channel, want);
    tolk_events_add(net->events, "control", NULL, 0, "technician: %s %s %s",
                    mute ? "mute" : "force fallback", json_is_true(on) ? "on" : "off",
                    net->cfg->channels[channel].id);
    return 0;
}

static int booth_arg(struct lws *wsi, struct tech *c, const char *type, json_t *msg,
                     const struct tolk_config *cfg, int *rc)
{
    const char *id = json_string_value(json_object_get(msg, "booth"));
    int booth = id ? tolk_config_booth_index(cfg, id) : -1;
    if (!id)
        *rc = tolk_net_reply_error(wsi, &c->replies, type, "missing_field",
                                   "'booth' (a booth id) is required");
    else if (booth < 0)
        *rc = tolk_net_reply_error(wsi, &c->replies, type, "unknown_booth", "no booth '%.40s'", id);
    return booth;
}

static int on_chat(struct lws *wsi, struct tech *c, struct tolk_net *net, json_t *msg)
{
    int rc = 0, booth = booth_arg(wsi, c, "chat", msg, net->cfg, &rc);
    const char *text = json_string_value(json_object_get(msg, "text"));
    if (booth < 0)
        return rc;
    if (!text)
        return tolk_net_reply_error(wsi, &c->replies, "chat", "missing_field",
                                    "'text' (a string) is required");
    if (tolk_booths_chat(net->booths, booth, -1, text) < 0)
        return tolk_net_reply_error(wsi, &c->replies, "chat", "bad_text",
                                    "text must be 1 to 500 bytes");
    return 0;
}

static int on_clear_call(struct lws *wsi, struct tech *c, struct tolk_net *net, json_t *msg)
{
    static const char *const kinds[] = {"slow_down", "technician"};
    int rc = 0, booth = booth_arg(wsi, c, "clear_call", msg, net->cfg, &rc);
    json_t *desk = json_object_get(msg, "desk");
    const char *kind = json_string_value(json_object_get(msg, "kind"));
    if (booth < 0)
        return rc;
    int k = kind && strcmp(kind, kinds[0]) == 0 ? 0 : kind && strcmp(kind, kinds[1]) == 0 ? 1 : -1;
    if (k < 0)
        return tolk_net_reply_error(wsi, &c->replies, "clear_call", "bad_kind",
                                    "'kind' must be slow_down or technician");
    if (!json_is_integer(desk) ||
        tolk_booths_call(net->booths, booth, (int)json_integer_value(desk) - 1,
                         (enum tolk_call_kind)k, false) < 0)
        return tolk_net_reply_error(wsi, &c->replies, "clear_call", "bad_desk",
                                    "'desk': a desk of that booth");
    return 0;
}

/* One whole text message (the tolk_net_receive() handler; session is this connection). */
static int handle_message(struct lws *wsi, void *session, const char *text, size_t len)
{
    struct tech *c = session;
    struct tolk_net *net = tolk_net_thread_of(wsi)->net;
    json_t *msg = json_loadb(text, len, 0, NULL);
    const char *type = json_string_value(json_object_get(msg, "type"));
    int rc;
    if (!json_is_object(msg))
        rc = tolk_net_reply_error(wsi, &c->replies, NULL, "invalid_json", "expected a JSON object");
    else if (!type)
        rc = tolk_net_reply_error(wsi, &c->replies, NULL, "missing_field",
                                  "'type' (a string) is required");
    else if (strcmp(type, "force_fallback") == 0 || strcmp(type, "mute") == 0)
        rc = on_override(wsi, c, net, type, msg);
    else if (strcmp(type, "chat") == 0)
        rc = on_chat(wsi, c, net, msg);
    else if (strcmp(type, "clear_call") == 0)
        rc = on_clear_call(wsi, c, net, msg);
    else
        rc = tolk_net_reply_error(wsi, &c->replies, NULL, "unknown_type",
                                  "unknown message type '%.40s'", type);
    json_decref(msg);
    return rc;
}

/* ---- connection life ---- */

/* The path is /tech and the token is there (cookie, header or ?token=). */
static bool admitted(struct lws *wsi)
{
    if (!tolk_net_is_path(wsi, "/tech") ||
        !tolk_net_control_allowed(wsi, tolk_net_thread_of(wsi)->net->cfg))
        return false;
    return tolk_net_auth(wsi, tolk_net_thread_of(wsi)->net->cfg->tech_token) != TOLK_AUTH_NONE;
}

static int on_receive(struct lws *wsi, struct tech *c, const char *in, size_t len)
{
    if (!c->established || c->close_code)
        return 0;
    return tolk_net_receive(wsi, &c->rx, &c->replies, in, len, handle_message, c);
}

static int on_writeable(struct lws *wsi, struct tech *c)
{
    bool more = false;
    if (!c->established)
        return 0;
    if (c->close_code)
        return tolk_net_close(wsi, c->close_code, c->close_reason);
    int rc = send_next(wsi, c, tolk_net_thread_of(wsi), &more);
    if (rc == 0 && more)
        lws_callback_on_writable(wsi);
    return rc;
}

static int on_established(struct lws *wsi, struct tech *c)
{
    struct tolk_net *net = tolk_net_thread_of(wsi)->net;
    memset(c, 0, sizeof *c);
    c->established = true;
    c->booths_next = net->cfg->booth_count > 0 ? 0 : -1;
    c->booths_version = tolk_booths_version(net->booths);
    uint64_t last = tolk_events_last(net->events);
    c->events_seq = last > EVENTS_AT_START ? last - EVENTS_AT_START : 0;
    lws_callback_on_writable(wsi);
    return 0;
}

int tolk_net_tech_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
{
    struct tech *c = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: return admitted(wsi) ? 0 : 1;
    case LWS_CALLBACK_ESTABLISHED: return on_established(wsi, c);
    case LWS_CALLBACK_RECEIVE: return on_receive(wsi, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE: return on_writeable(wsi, c);
    case LWS_CALLBACK_CLOSED:
        if (c && c->established)
            tolk_rx_reset(&c->rx);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: /* the engine ticked: meters may be due */
        lws_callback_on_writable_all_protocol_vhost(lws_get_vhost(wsi), lws_get_protocol(wsi));
        return 0;
    default: return 0;
    }
}
