/* The /booth WebSocket: booth control protocol v1 (docs/protocol.md), the interpreters' console.
 *
 * A console logs in to one booth; its commands go to control/booth.c, which holds the state and
 * switches the audio. Every WRITEABLE sends one message, by priority: a queued reply (welcome,
 * error), else the booth's state if it changed since this console was told, else the channel
 * overview if it changed (or a second passed: listener counts), else the desk meters (10 a
 * second). The engine's tick wakes the service threads (LWS_CALLBACK_EVENT_WAIT_CANCELLED),
 * which ask every console for a write; one with nothing due writes nothing.
 *
 * Threads: the service thread of the connection's context; struct console belongs to it.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/booth.h"
#include "engine/meter.h"
#include "net/net_private.h"
#include "net/rx.h"
#include "tolk/clock.h"
#include "tolk/log.h"

#define LEVELS_INTERVAL_MS 100
#define CHANNELS_INTERVAL_MS 1000
#define REPLY_WELCOME 1 /* a reply kind besides errors */

/* Per connection (lws per-session data); the service thread of its context only. */
struct console {
    bool established;
    int booth;           /* -1 until a login succeeds */
    char addr[64];       /* the client's address, for the PIN lockout and the log */
    int close_code;
    const char *close_reason;
    struct tolk_net_replies replies;
    struct tolk_rx rx;

    uint32_t booth_version; /* of the last `booth` sent */
    bool booth_told;
    uint64_t channels_sig;  /* of the last `channels` sent */
    int64_t channels_due_ms, levels_due_ms; /* monotonic */
};

size_t tolk_net_booth_session_size(void)
{
    return sizeof(struct console);
}

static int64_t now_ms(void)
{
    return tolk_clock_mono_ns() / 1000000;
}

/* ---- replies ---- */

static int reply_error(struct lws *wsi, struct console *c, const char *request, const char *code,
                       const char *message)
{
    return tolk_net_reply_error(wsi, &c->replies, request, code, "%s", message);
}

static const char *refusal_message(int err)
{
    switch (err) {
    case TOLK_BOOTH_EUNKNOWN_BOOTH: return "no such booth";
    case TOLK_BOOTH_EBAD_PIN: return "wrong PIN";
    case TOLK_BOOTH_ELOCKED_OUT: return "too many wrong PINs from this address: wait";
    case TOLK_BOOTH_EBAD_DESK: return "no such desk in this booth";
    case TOLK_BOOTH_EBAD_OUTPUT: return "output must be \"a\", or \"b\" in a booth with a B channel";
    case TOLK_BOOTH_EUNKNOWN_CHANNEL: return "no such channel";
    case TOLK_BOOTH_EENGAGED: return "that channel is live from another booth";
    case TOLK_BOOTH_ENOTHING_TO_HAND_OVER: return "neither desk is on air";
    case TOLK_BOOTH_ENO_REQUEST: return "no partner desk has asked to hand over";
    case TOLK_BOOTH_EBAD_TEXT: return "text must be 1 to 500 bytes";
    default: return "refused";
    }
}

/* A refusal from control/booth.c as an error reply; rc 0 is no reply. */
static int reply_refusal(struct lws *wsi, struct console *c, const char *request, int rc)
{
    const char *code = tolk_booth_error_code(rc);
    if (rc == 0)
        return 0;
    return reply_error(wsi, c, request, code ? code : "internal", refusal_message(rc));
}

/* ---- outgoing ---- */

static json_t *id_or_null(const struct tolk_config *cfg, int channel)
{
    return channel >= 0 ? json_string(cfg->channels[channel].id) : json_null();
}

static json_t *welcome_json(const struct tolk_config *cfg, int b)
{
    const struct tolk_booth_config *booth = &cfg->booths[b];
    json_t *channels = json_array();
    for (int i = 0; i < cfg->channel_count; i++)
        json_array_append_new(channels, json_pack("{s:s, s:o, s:s}", "id", cfg->channels[i].id,
                                                  "name", tolk_net_text_or(cfg->channels[i].name,
                                                                  cfg->channels[i].id),
                                                  "lang", cfg->channels[i].lang));
    return json_pack("{s:s, s:i, s:s, s:o, s:i, s:o, s:o, s:i, s:{s:i, s:i, s:i}, s:o}", "type",
                     "welcome", "protocol", 1, "booth", booth->id, "name",
                     tolk_net_text_or(booth->name, booth->id), "frame_ms", cfg->frame_ms, "a",
                     id_or_null(cfg, booth->a_index), "b", id_or_null(cfg, booth->b_index),
                     "desks", booth->desk_count, "limiter", "peak_dbfs", booth->relay_peak_dbfs,
                     "average_dbfs", booth->relay_average_dbfs, "average_ms", 1000, "channels",
                     channels);
}

static int send_reply(struct lws *wsi, struct console *c, struct tolk_net_thread *t)
{
    struct tolk_net_reply r = tolk_net_next_reply(&c->replies);
    if (r.kind == REPLY_WELCOME)
        return tolk_net_write_json(wsi, t, welcome_json(t->net->cfg, c->booth));
    return tolk_net_write_json(wsi, t, tolk_net_error_json(&r));
}

json_t *tolk_net_booth_json(const struct tolk_config *cfg, int booth,
                            const struct tolk_booth_state *st)
{
    json_t *desks = json_array(), *chat = json_array();
    for (int d = 0; d < st->desk_count; d++) {
        const struct tolk_desk_state *ds = &st->desks[d];
        json_array_append_new(desks, json_pack(
            "{s:i, s:b, s:b, s:s, s:s, s:b, s:b, s:b}", "desk", d + 1, "mic", ds->mic, "cough",
            ds->cough, "output", ds->output ? "b" : "a", "relay", cfg->channels[ds->relay].id,
            "handover", ds->handover, "slow_down", ds->slow_down, "technician", ds->technician));
    }
    for (int i = 0; i < st->chat_count; i++)
        json_array_append_new(chat, json_pack("{s:I, s:s, s:o}", "time",
                                              (json_int_t)st->chat[i].time_ms, "from",
                                              st->chat[i].from, "text",
                                              tolk_net_text_or(st->chat[i].text, "?")));
    return json_pack("{s:s, s:s, s:o, s:o}", "type", "booth", "booth", cfg->booths[booth].id,
                     "desks", desks, "chat", chat);
}

static int send_booth(struct lws *wsi, struct console *c, struct tolk_net_thread *t,
                      uint32_t version)
{
    struct tolk_booth_state *st = malloc(sizeof *st); /* 10 KB: not on the service stack */
    if (!st)
        return -1;
    tolk_booths_snapshot(t->net->booths, c->booth, st);
    c->booth_version = version;
    c->booth_told = true;
    int rc = tolk_net_write_json(wsi, t, tolk_net_booth_json(t->net->cfg, c->booth, st));
    free(st);
    return rc;
}

/* The channel overview, and a signature of what it shows but the listener counts. */
struct overview {
    struct tolk_channel_control ctl[TOLK_MAX_CHANNELS];
    bool live[TOLK_MAX_CHANNELS];
    uint64_t sig;
};

static void take_overview(struct tolk_net *net, struct overview *o)
{
    tolk_booths_channels(net->booths, o->ctl);
    o->sig = 1469598103934665603ull; /* FNV-1a over the fields */
    for (int i = 0; i < net->cfg->channel_count; i++) {
        struct tolk_channel_status st;
        tolk_engine_channel_status(net->engine, i, &st);
        o->live[i] = st.live;
        int fields[] = {st.live, o->ctl[i].booth, o->ctl[i].desk, o->ctl[i].depth, o->ctl[i].muted};
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
            o->sig = (o->sig ^ (uint64_t)(uint32_t)fields[f]) * 1099511628211ull;
    }
}

static int send_channels(struct lws *wsi, struct console *c, struct tolk_net_thread *t,
                         const struct overview *o)
{
    const struct tolk_config *cfg = t->net->cfg;
    json_t *list = json_array();
    for (int i = 0; i < cfg->channel_count; i++) {
        const struct tolk_channel_control *ctl = &o->ctl[i];
        json_t *booth = ctl->booth >= 0 ? json_string(cfg->booths[ctl->booth].id) : json_null();
        json_t *desk = ctl->booth >= 0 ? json_integer(ctl->desk + 1) : json_null();
        json_array_append_new(list, json_pack(
            "{s:s, s:b, s:o, s:o, s:b, s:i, s:i}", "id", cfg->channels[i].id, "live", o->live[i],
            "booth", booth, "desk", desk, "muted", ctl->muted, "depth", ctl->depth, "listeners",
            atomic_load(&t->net->channel_listeners[i])));
    }
    c->channels_sig = o->sig;
    c->channels_due_ms = now_ms() + CHANNELS_INTERVAL_MS;
    return tolk_net_write_json(wsi, t, json_pack("{s:s, s:o}", "type", "channels", "channels", list));
}

static int send_levels(struct lws *wsi, struct console *c, struct tolk_net_thread *t)
{
    const struct tolk_booth_config *booth = &t->net->cfg->booths[c->booth];
    json_t *desks = json_array();
    for (int d = 0; d < booth->desk_count; d++) {
        struct tolk_desk_status st;
        tolk_engine_desk_status(t->net->engine, booth->first_desk + d, &st);
        json_array_append_new(desks, json_pack("{s:f, s:f, s:b, s:b}", "peak_dbfs",
                                               tolk_net_db(st.peak_db), "rms_dbfs",
                                               tolk_net_db(st.rms_db), "clipped", st.clipped,
                                               "signal", st.signal));
    }
    c->levels_due_ms = now_ms() + LEVELS_INTERVAL_MS;
    return tolk_net_write_json(wsi, t, json_pack("{s:s, s:o}", "type", "levels", "desks", desks));
}

/* Sends the most urgent message due; *more tells whether another one is waiting. */
static int send_next(struct lws *wsi, struct console *c, struct tolk_net_thread *t, bool *more)
{
    struct tolk_net *net = t->net;
    *more = false;
    if (c->replies.count > 0) {
        int rc = send_reply(wsi, c, t);
        *more = c->replies.count > 0 || c->booth >= 0;
        return rc;
    }
    if (c->booth < 0)
        return 0;
    uint32_t version = tolk_booths_version(net->booths);
    if (!c->booth_told || version != c->booth_version) {
        *more = true;
        return send_booth(wsi, c, t, version);
    }
    struct overview o;
    take_overview(net, &o);
    int64_t now = now_ms();
    if (o.sig != c->channels_sig || now >= c->channels_due_ms) {
        *more = true;
        return send_channels(wsi, c, t, &o);
    }
    return now >= c->levels_due_ms ? send_levels(wsi, c, t) : 0;
}

/* ---- commands ---- */

/* The arguments every command but login has: the desk, 0-based. Returns false after an error
 * reply (*rc holds what the callback returns). */
static bool desk_arg(struct lws *wsi, struct console *c, const char *type, json_t *msg,
                     const struct tolk_config *cfg, int *desk, int *rc)
{
    json_t *value = json_object_get(msg, "desk");
    if (!json_is_integer(value)) {
        *rc = reply_error(wsi, c, type, "missing_field", "'desk' (a number from 1) is required");
        return false;
    }
    json_int_t d = json_integer_value(value);
    if (d < 1 || d > cfg->booths[c->booth].desk_count) {
        *rc = reply_refusal(wsi, c, type, TOLK_BOOTH_EBAD_DESK);
        return false;
    }
    *desk = (int)d - 1;
    return true;
}

static int missing(struct lws *wsi, struct console *c, const char *type, const char *what)
{
    return tolk_net_reply_error(wsi, &c->replies, type, "missing_field", "%s is required", what);
}

/* A string field that must be one of choices[]; its index, or -1. */
static int choice(json_t *msg, const char *field, const char *const *choices)
{
    const char *value = json_string_value(json_object_get(msg, field));
    for (int i = 0; value && choices[i]; i++)
        if (strcmp(value, choices[i]) == 0)
            return i;
    return -1;
}

static int on_login(struct lws *wsi, struct console *c, struct tolk_net *net, json_t *msg)
{
    const char *booth = json_string_value(json_object_get(msg, "booth"));
    const char *pin = json_string_value(json_object_get(msg, "pin"));
    if (c->booth >= 0)
        return reply_error(wsi, c, "login", "already_logged_in", "this console is logged in");
    if (!booth || !pin)
        return missing(wsi, c, "login", "'booth' and 'pin' (strings)");
    if (!tolk_net_control_allowed(wsi, net->cfg))
        return reply_error(wsi, c, "login", "insecure",
                           "booth logins need https here (or allow_insecure_control = yes)");
    int detail = 0, b = tolk_config_booth_index(net->cfg, booth);
    int rc = b < 0 ? TOLK_BOOTH_EUNKNOWN_BOOTH
                   : tolk_booths_login(net->booths, b, pin, c->addr, now_ms(), &detail);
    if (rc < 0) {
        int sent = reply_refusal(wsi, c, "login", rc);
        if (sent < 0 || rc == TOLK_BOOTH_EUNKNOWN_BOOTH)
            return sent;
        struct tolk_net_reply *r =
            &c->replies.items[(c->replies.first + c->replies.count - 1) % TOLK_NET_REPLIES];
        r->detail_key = rc == TOLK_BOOTH_EBAD_PIN ? "attempts_left" : "retry_after";
        r->detail = detail;
        return 0;
    }
    if (!tolk_net_queue_reply(&c->replies, REPLY_WELCOME, "login"))
        return tolk_net_close(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many requests");
    c->booth = b;
    c->booth_told = false;
    c->channels_due_ms = c->levels_due_ms = 0;
    lws_callback_on_writable(wsi);
    return 0;
}

static const char *const outputs[] = {"a", "b", NULL};
static const char *const actions[] = {"request", "accept", "cancel", NULL};
static const char *const kinds[] = {"slow_down", "technician", NULL};

/* One command of a logged-in console; desk is checked. */
static int run_command(struct lws *wsi, struct console *c, struct tolk_net *net, const char *type,
                       json_t *msg, int desk)
{
    struct tolk_booths *bs = net->booths;
    json_t *on = json_object_get(msg, "on");
    int b = c->booth, i;
    if (strcmp(type, "mic") == 0 || strcmp(type, "cough") == 0) {
        if (!json_is_boolean(on))
            return missing(wsi, c, type, "'on' (true or false)");
        return reply_refusal(wsi, c, type, type[0] == 'm'
                                 ? tolk_booths_mic(bs, b, desk, json_is_true(on))
                                 : tolk_booths_cough(bs, b, desk, json_is_true(on), (uintptr_t)c));
    }
    if (strcmp(type, "output") == 0) {
        i = choice(msg, "channel", outputs);
        return reply_refusal(wsi, c, type, i < 0 ? TOLK_BOOTH_EBAD_OUTPUT
                                                 : tolk_booths_output(bs, b, desk, i));
    }
    if (strcmp(type, "relay") == 0) {
        const char *id = json_string_value(json_object_get(msg, "channel"));
        if (!id)
            return missing(wsi, c, type, "'channel' (a channel id)");
        return reply_refusal(wsi, c, type, tolk_booths_relay(bs, b, desk,
                                                tolk_config_channel_index(net->cfg, id)));
    }
    if (strcmp(type, "handover") == 0) {
        if ((i = choice(msg, "action", actions)) < 0)
            return reply_error(wsi, c, type, "bad_action",
                               "'action' must be request, accept or cancel");
        return reply_refusal(wsi, c, type, tolk_booths_handover(bs, b, desk,
                                                                (enum tolk_handover_action)i));
    }
    if (strcmp(type, "call") == 0) {
        if ((i = choice(msg, "kind", kinds)) < 0)
            return reply_error(wsi, c, type, "bad_kind", "'kind' must be slow_down or technician");
        if (!json_is_boolean(on))
            return missing(wsi, c, type, "'on' (true or false)");
        return reply_refusal(wsi, c, type, tolk_booths_call(bs, b, desk, (enum tolk_call_kind)i,
                                                            json_is_true(on)));
    }
    const char *text = json_string_value(json_object_get(msg, "text")); /* chat */
    if (!text)
        return missing(wsi, c, type, "'text' (a string)");
    return reply_refusal(wsi, c, type, tolk_booths_chat(bs, b, desk, text));
}

static bool is_command(const char *type)
{
    static const char *const known[] = {"mic", "cough", "output", "relay", "handover", "call",
                                        "chat", NULL};
    for (int i = 0; known[i]; i++)
        if (strcmp(type, known[i]) == 0)
            return true;
    return false;
}

/* One whole text message (the tolk_net_receive() handler; session is this connection). */
static int handle_message(struct lws *wsi, void *session, const char *text, size_t len)
{
    struct console *c = session;
    struct tolk_net *net = tolk_net_thread_of(wsi)->net;
    json_t *msg = json_loadb(text, len, 0, NULL);
    const char *type = json_string_value(json_object_get(msg, "type"));
    char type_copy[16];
    int rc = 0, desk;
    snprintf(type_copy, sizeof type_copy, "%s", type ? type : "");
    if (!json_is_object(msg))
        rc = reply_error(wsi, c, NULL, "invalid_json", "expected a JSON object");
    else if (!type)
        rc = missing(wsi, c, NULL, "'type' (a string)");
    else if (strcmp(type, "login") == 0)
        rc = on_login(wsi, c, net, msg);
    else if (!is_command(type))
        rc = tolk_net_reply_error(wsi, &c->replies, NULL, "unknown_type",
                                  "unknown message type '%.40s'", type);
    else if (c->booth < 0)
        rc = reply_error(wsi, c, type_copy, "not_logged_in", "log in first");
    else if (desk_arg(wsi, c, type_copy, msg, net->cfg, &desk, &rc))
        rc = run_command(wsi, c, net, type_copy, msg, desk);
    json_decref(msg);
    return rc;
}

/* ---- connection life ---- */

static int on_established(struct lws *wsi, struct console *c)
{
    memset(c, 0, sizeof *c);
    c->established = true;
    c->booth = -1;
    lws_get_peer_simple(wsi, c->addr, sizeof c->addr);
    return 0;
}

static int on_receive(struct lws *wsi, struct console *c, const char *in, size_t len)
{
    if (!c->established || c->close_code)
        return 0;
    return tolk_net_receive(wsi, &c->rx, &c->replies, in, len, handle_message, c);
}

static void on_closed(struct lws *wsi, struct console *c)
{
    if (!c || !c->established)
        return;
    /* Its desks stay as they were (on or off air): only a held cough key is let go. */
    tolk_booths_release_owner(tolk_net_thread_of(wsi)->net->booths, (uintptr_t)c);
    tolk_rx_reset(&c->rx);
    c->established = false;
}

static int on_writeable(struct lws *wsi, struct console *c)
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

int tolk_net_booth_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                            void *in, size_t len)
{
    struct console *c = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return tolk_net_is_path(wsi, "/booth") &&
                       !tolk_net_listeners_only(wsi, tolk_net_thread_of(wsi)->net->cfg)
                   ? 0
                   : 1;
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(wsi, c);
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, c);
    case LWS_CALLBACK_CLOSED:
        on_closed(wsi, c);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: /* the engine ticked: meters and state may be due */
        lws_callback_on_writable_all_protocol_vhost(lws_get_vhost(wsi), lws_get_protocol(wsi));
        return 0;
    default:
        return 0;
    }
}
