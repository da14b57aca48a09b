/* The /listen WebSocket: listener protocol v1 (docs/protocol.md).
 *
 * Each listener is a read position in its channel's packet ring plus a few counters; the
 * packets themselves are shared by all listeners. Every WRITEABLE sends exactly one message:
 * a queued text reply (hello, selected, error), else a `state` if the channel changed since
 * the listener was last told, else audio (up to TOLK_NET_BATCH consecutive packets), built in
 * the context's scratch buffer. The engine's tick wakes the service threads
 * (LWS_CALLBACK_EVENT_WAIT_CANCELLED), which ask every listener for a write.
 *
 * Threads: everything here runs on the service thread of the connection's context; a
 * struct listener belongs to that thread. The shared listener counts are atomics.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/net_private.h"
#include "net/rx.h"
#include "tolk/clock.h"
#include "tolk/log.h"

#define QUEUE_LEN 4         /* pending text replies; more means a client floods bad messages */
#define DETAIL_MAX 40       /* bytes of the client's text quoted back in an error */
#define LISTENER_SNDBUF 4096 /* the kernel doubles it; keeps a stalled socket's queue short */
#define CLOSE_TRY_AGAIN_LATER 1013
#define OPUS_SAMPLE_RATE 48000

enum text_kind { TEXT_HELLO, TEXT_SELECTED, TEXT_ERROR };
enum error_code { ERR_INVALID_JSON, ERR_UNKNOWN_TYPE, ERR_MISSING_FIELD, ERR_UNKNOWN_CHANNEL,
                  ERR_BINARY };

static const struct {
    const char *code, *message, *detail_format; /* detail_format quotes the client's text */
} errors[] = {
    [ERR_INVALID_JSON] = {"invalid_json", "expected a JSON object", NULL},
    [ERR_UNKNOWN_TYPE] = {"unknown_type", "unknown message type", "unknown type '%s'"},
    [ERR_MISSING_FIELD] = {"missing_field", "a required field is missing", "%s"},
    [ERR_UNKNOWN_CHANNEL] = {"unknown_channel", "no such channel", "no channel '%s'"},
    [ERR_BINARY] = {"binary_not_supported", "the server takes JSON text messages only", NULL},
};

struct text_item {
    uint8_t kind;  /* enum text_kind */
    uint8_t error; /* enum error_code */
    int16_t channel;
    char detail[DETAIL_MAX];
};

/* Per connection (lws per-session data); the service thread of its context only. */
struct listener {
    bool established;  /* ESTABLISHED ran: the fields below are valid */
    bool counted;      /* included in net->listeners */
    int close_code;    /* nonzero: close with this status on the next WRITEABLE */
    const char *close_reason;

    int channel;       /* selected channel, -1 = none */
    uint64_t next;     /* sequence number of the next packet to send */
    bool skipped;      /* packets were skipped: DISCONTINUITY on the next audio message */
    bool state_told;   /* a `state` went out for the selected channel ... */
    uint32_t state_version; /* ... and this was the channel's state_version then */

    struct text_item queue[QUEUE_LEN];
    unsigned queue_first, queue_count;

    struct tolk_rx rx;

    uint64_t packets_sent, skips;
    int report_slot;   /* in the context's report table, -1 until the first `stats` */
};

size_t tolk_net_listen_session_size(void)
{
    return sizeof(struct listener);
}

/* ---- helpers ---- */

static bool queue_text(struct listener *l, enum text_kind kind, int channel,
                       enum error_code error, const char *detail)
{
    if (l->queue_count == QUEUE_LEN)
        return false;
    struct text_item *item = &l->queue[(l->queue_first + l->queue_count++) % QUEUE_LEN];
    *item = (struct text_item){.kind = (uint8_t)kind, .error = (uint8_t)error,
                               .channel = (int16_t)channel};
    snprintf(item->detail, sizeof item->detail, "%s", detail ? detail : "");
    return true;
}

static int reply_error(struct lws *wsi, struct listener *l, enum error_code error,
                       const char *detail)
{
    if (!queue_text(l, TEXT_ERROR, -1, error, detail))
        return tolk_net_close(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many bad messages");
    lws_callback_on_writable(wsi);
    return 0;
}

static void skip_to_live(const struct tolk_net *net, struct listener *l, uint64_t head)
{
    l->next = head > (uint64_t)net->preroll ? head - (uint64_t)net->preroll : 0;
}

static int select_channel(struct lws *wsi, struct tolk_net *net, struct listener *l, int channel)
{
    if (l->channel != channel) {
        if (l->channel >= 0)
            atomic_fetch_sub(&net->channel_listeners[l->channel], 1);
        atomic_fetch_add(&net->channel_listeners[channel], 1);
        l->channel = channel;
        l->skipped = false;
        skip_to_live(net, l, tolk_packet_ring_head(tolk_engine_packets(net->engine, channel)));
    }
    l->state_told = false;
    if (!queue_text(l, TEXT_SELECTED, channel, 0, NULL))
        return tolk_net_close(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many requests");
    lws_callback_on_writable(wsi);
    return 0;
}

/* ---- outgoing text ---- */

static int write_text(struct lws *wsi, struct tolk_net_thread *t, unsigned char *text, size_t len)
{
    int n = lws_write(wsi, text, len, LWS_WRITE_TEXT);
    if (n > 0)
        atomic_fetch_add_explicit(&t->bytes_sent, (uint64_t)n, memory_order_relaxed);
    return n < (int)len ? -1 : 0;
}

static json_t *channel_json(const struct tolk_config *cfg, int i, bool live)
{
    const struct tolk_channel_config *c = &cfg->channels[i];
    json_t *name = json_string(c->name);
    if (!name) /* not UTF-8: show the id rather than send invalid JSON */
        name = json_string(c->id);
    return json_pack("{s:i, s:s, s:o, s:s, s:b}", "index", i, "id", c->id, "name", name, "lang",
                     c->lang, "live", live);
}

static json_t *hello_json(const struct tolk_config *cfg, const bool *live)
{
    json_t *channels = json_array();
    for (int i = 0; i < cfg->channel_count; i++)
        json_array_append_new(channels, channel_json(cfg, i, live[i]));
    return json_pack("{s:s, s:i, s:s, s:i, s:i, s:o}", "type", "hello", "protocol",
                     TOLK_PROTOCOL_VERSION, "codec", "opus", "sample_rate", OPUS_SAMPLE_RATE,
                     "frame_ms", cfg->frame_ms, "channels", channels);
}

/* The hello is the same for every listener until a channel's state changes: it is rebuilt
 * (once per context) only then, with LWS_PRE bytes of headroom for lws_write(). */
static int hello_refresh(struct tolk_net_thread *t)
{
    const struct tolk_config *cfg = t->net->cfg;
    uint32_t versions[TOLK_MAX_CHANNELS] = {0};
    bool live[TOLK_MAX_CHANNELS], stale = !t->hello;
    for (int i = 0; i < cfg->channel_count; i++) {
        struct tolk_channel_status st;
        tolk_engine_channel_status(t->net->engine, i, &st);
        versions[i] = st.state_version;
        live[i] = st.live;
        stale = stale || versions[i] != t->hello_versions[i];
    }
    if (!stale)
        return 0;
    json_t *msg = hello_json(cfg, live);
    size_t len = msg ? json_dumpb(msg, NULL, 0, JSON_COMPACT) : 0;
    unsigned char *hello = len ? malloc(LWS_PRE + len) : NULL;
    if (hello)
        json_dumpb(msg, (char *)hello + LWS_PRE, len, JSON_COMPACT);
    json_decref(msg);
    if (!hello)
        return -ENOMEM;
    free(t->hello);
    t->hello = hello;
    t->hello_len = len;
    memcpy(t->hello_versions, versions, sizeof versions);
    return 0;
}

static json_t *error_json(const struct text_item *item)
{
    char message[128];
    const char *fmt = errors[item->error].detail_format;
    json_t *text = NULL;
    if (fmt && item->detail[0]) {
        snprintf(message, sizeof message, fmt, item->detail);
        text = json_string(message); /* NULL if the quoted text was cut inside a UTF-8 character */
    }
    if (!text)
        text = json_string(errors[item->error].message);
    return json_pack("{s:s, s:s, s:o}", "type", "error", "code", errors[item->error].code,
                     "message", text);
}

static int send_text(struct lws *wsi, struct listener *l, struct tolk_net_thread *t)
{
    const struct text_item *item = &l->queue[l->queue_first];
    const struct tolk_config *cfg = t->net->cfg;
    int rc;
    l->queue_first = (l->queue_first + 1) % QUEUE_LEN;
    l->queue_count--;
    switch (item->kind) {
    case TEXT_HELLO:
        if (hello_refresh(t) < 0)
            return -1;
        rc = write_text(wsi, t, t->hello + LWS_PRE, t->hello_len);
        break;
    case TEXT_SELECTED:
        rc = tolk_net_write_json(wsi, t, json_pack("{s:s, s:s}", "type", "selected", "channel",
                                          cfg->channels[item->channel].id));
        break;
    default:
        rc = tolk_net_write_json(wsi, t, error_json(item));
        break;
    }
    return rc;
}

static bool state_due(struct tolk_net *net, const struct listener *l, struct tolk_channel_status *st)
{
    tolk_engine_channel_status(net->engine, l->channel, st);
    return !l->state_told || st->state_version != l->state_version;
}

/* `fallback` names the channel carried instead of the channel's own audio: null when it is
 * live or carries silence. */
static int send_state(struct lws *wsi, struct listener *l, struct tolk_net_thread *t,
                      const struct tolk_channel_status *st)
{
    const struct tolk_config *cfg = t->net->cfg;
    bool carries_other = !st->live && st->carry >= 0 && st->carry < cfg->channel_count &&
                         st->carry != l->channel;
    json_t *fallback = carries_other ? json_string(cfg->channels[st->carry].id) : json_null();
    l->state_told = true;
    l->state_version = st->state_version;
    return tolk_net_write_json(wsi, t, json_pack("{s:s, s:s, s:b, s:o}", "type", "state", "channel",
                                        cfg->channels[l->channel].id, "live", st->live,
                                        "fallback", fallback));
}

/* ---- outgoing audio ---- */

/* Appends consecutive packets from l->next to the message at out[*used]; returns how many. */
/* A listener too far behind jumps to the live edge; what it skips counts as dropped. */
static void drop_to_live(struct tolk_net_thread *t, struct listener *l, uint64_t head)
{
    uint64_t from = l->next;
    skip_to_live(t->net, l, head);
    if (l->next > from)
        atomic_fetch_add_explicit(&t->frames_dropped, l->next - from, memory_order_relaxed);
    l->skipped = true;
    l->skips++;
}

static int gather_packets(struct tolk_net_thread *t, struct listener *l,
                          struct tolk_packet_ring *ring, unsigned char *out, size_t *used,
                          struct tolk_frame_header *h)
{
    int count = 0;
    bool retried = false;
    while (count < TOLK_NET_BATCH) {
        struct tolk_packet_info info;
        unsigned char *pkt = out + *used + 2;
        int rc = tolk_packet_ring_read(ring, l->next, pkt, TOLK_OPUS_MAX_PACKET, &info);
        if (rc == -ESPIPE && count == 0 && !retried) { /* overwritten: too far behind */
            drop_to_live(t, l, tolk_packet_ring_head(ring));
            retried = true;
            continue;
        }
        if (rc < 0 || (count > 0 && (info.flags & TOLK_FLAG_FALLBACK) !=
                                        (h->flags & TOLK_FLAG_FALLBACK)))
            break;
        if (info.len == 0) { /* nothing to send; a gap the client must hear about */
            if (count > 0)
                break;
            l->next++;
            l->skipped = true;
            continue;
        }
        if (count == 0) {
            h->flags = info.flags & TOLK_FLAG_FALLBACK;
            h->seq = (uint32_t)l->next;
            h->capture_us = (uint64_t)info.capture_us;
        }
        out[*used] = (unsigned char)(info.len >> 8);
        out[*used + 1] = (unsigned char)info.len;
        *used += 2 + info.len;
        l->next++;
        count++;
    }
    return count;
}

static int send_audio(struct lws *wsi, struct listener *l, struct tolk_net_thread *t)
{
    struct tolk_net *net = t->net;
    struct tolk_packet_ring *ring = tolk_engine_packets(net->engine, l->channel);
    uint64_t head = tolk_packet_ring_head(ring);
    if (l->next > head)
        l->next = head;
    if (head - l->next > net->max_behind)
        drop_to_live(t, l, head);
    unsigned char *msg = t->scratch + LWS_PRE;
    size_t used = TOLK_FRAME_HEADER_SIZE;
    struct tolk_frame_header h = {.version = TOLK_PROTOCOL_VERSION, .channel = (uint16_t)l->channel};
    int count = gather_packets(t, l, ring, msg, &used, &h);
    if (count == 0)
        return 0;
    if (l->skipped)
        h.flags |= TOLK_FLAG_DISCONTINUITY;
    l->skipped = false;
    tolk_frame_pack_header(msg, &h);
    l->packets_sent += (uint64_t)count;
    int n = lws_write(wsi, msg, used, LWS_WRITE_BINARY);
    if (n > 0)
        atomic_fetch_add_explicit(&t->bytes_sent, (uint64_t)n, memory_order_relaxed);
    return n < (int)used ? -1 : 0;
}

static bool more_pending(struct tolk_net *net, const struct listener *l)
{
    struct tolk_channel_status st;
    if (l->queue_count > 0)
        return true;
    if (l->channel < 0)
        return false;
    return state_due(net, l, &st) ||
           l->next < tolk_packet_ring_head(tolk_engine_packets(net->engine, l->channel));
}

/* ---- incoming messages ---- */

static int on_select(struct lws *wsi, struct listener *l, json_t *root)
{
    struct tolk_net *net = tolk_net_thread_of(wsi)->net;
    const char *id = json_string_value(json_object_get(root, "channel"));
    if (!id)
        return reply_error(wsi, l, ERR_MISSING_FIELD, "select needs a string 'channel'");
    int channel = tolk_config_channel_index(net->cfg, id);
    if (channel < 0)
        return reply_error(wsi, l, ERR_UNKNOWN_CHANNEL, id);
    return select_channel(wsi, net, l, channel);
}

/* A number from the report under either spelling (the page sends camelCase), or -1. */
static double report_number(json_t *root, const char *snake, const char *camel)
{
    json_t *v = json_object_get(root, snake);
    if (!json_is_number(v))
        v = json_object_get(root, camel);
    double d = json_is_number(v) ? json_number_value(v) : -1;
    return d >= 0 && d < 1e9 ? d : -1;
}

/* The latest report is kept in the context's table for the technicians; nothing is answered. */
static int on_stats(struct lws *wsi, struct listener *l, json_t *root)
{
    struct tolk_net_thread *t = tolk_net_thread_of(wsi);
    if (l->report_slot < 0)
        l->report_slot = tolk_reports_acquire(&t->reports);
    if (l->report_slot < 0)
        return 0;
    struct tolk_report r = {.channel = l->channel,
                            .buffer_ms = (float)report_number(root, "buffer_ms", "bufferMs"),
                            .latency_ms = (float)report_number(root, "latency_ms", "latencyMs"),
                            .time_ms = tolk_clock_mono_ns() / 1000000};
    double underruns = report_number(root, "underruns", "underruns");
    r.underruns = underruns > 0 ? (uint32_t)underruns : 0;
    const char *decoder = json_string_value(json_object_get(root, "decoder"));
    snprintf(r.decoder, sizeof r.decoder, "%s", decoder ? decoder : "");
    lws_get_peer_simple(wsi, r.address, sizeof r.address);
    tolk_reports_update(&t->reports, l->report_slot, &r);
    return 0;
}

static int handle_message(struct lws *wsi, struct listener *l, const char *text, size_t len)
{
    json_t *root = json_loadb(text, len, 0, NULL);
    const char *type = json_string_value(json_object_get(root, "type"));
    int rc;
    if (!json_is_object(root))
        rc = reply_error(wsi, l, ERR_INVALID_JSON, NULL);
    else if (!type)
        rc = reply_error(wsi, l, ERR_MISSING_FIELD, "'type' (a string) is required");
    else if (strcmp(type, "select") == 0)
        rc = on_select(wsi, l, root);
    else if (strcmp(type, "stats") == 0)
        rc = on_stats(wsi, l, root);
    else
        rc = reply_error(wsi, l, ERR_UNKNOWN_TYPE, type);
    json_decref(root);
    return rc;
}

static int on_receive(struct lws *wsi, struct listener *l, const char *in, size_t len)
{
    const char *msg = NULL;
    size_t msg_len = 0;
    if (!l->established || l->close_code)
        return 0;
    switch (tolk_rx_feed(&l->rx, wsi, in, len, &msg, &msg_len)) {
    case TOLK_RX_PARTIAL: return 0;
    case TOLK_RX_TEXT: return handle_message(wsi, l, msg, msg_len);
    case TOLK_RX_BINARY: return reply_error(wsi, l, ERR_BINARY, NULL);
    case TOLK_RX_TOO_LARGE:
        return tolk_net_close(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message over 16 KiB");
    default: return -1;
    }
}

/* ---- connection life ---- */

static void select_from_url(struct lws *wsi, struct tolk_net *net, struct listener *l)
{
    char arg[128];
    const char *id = lws_get_urlarg_by_name(wsi, "channel=", arg, sizeof arg);
    if (!id)
        return;
    int channel = tolk_config_channel_index(net->cfg, id);
    if (channel < 0)
        queue_text(l, TEXT_ERROR, -1, ERR_UNKNOWN_CHANNEL, id);
    else
        select_channel(wsi, net, l, channel);
}

static int on_established(struct lws *wsi, struct listener *l)
{
    struct tolk_net *net = tolk_net_thread_of(wsi)->net;
    memset(l, 0, sizeof *l);
    l->established = true;
    l->channel = -1;
    l->report_slot = -1;
    lws_callback_on_writable(wsi);
    if (atomic_fetch_add(&net->listeners, 1) >= net->cfg->max_listeners) {
        atomic_fetch_sub(&net->listeners, 1);
        l->close_code = CLOSE_TRY_AGAIN_LATER;
        l->close_reason = "server full";
        return 0;
    }
    l->counted = true;
    int sndbuf = LISTENER_SNDBUF;
    setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    queue_text(l, TEXT_HELLO, -1, 0, NULL);
    select_from_url(wsi, net, l);
    return 0;
}

static void on_closed(struct lws *wsi, struct listener *l)
{
    struct tolk_net *net = tolk_net_thread_of(wsi)->net;
    if (!l || !l->established)
        return;
    if (l->counted)
        atomic_fetch_sub(&net->listeners, 1);
    if (l->channel >= 0)
        atomic_fetch_sub(&net->channel_listeners[l->channel], 1);
    tolk_rx_reset(&l->rx);
    if (l->report_slot >= 0)
        tolk_reports_release(&tolk_net_thread_of(wsi)->reports, l->report_slot);
    l->established = false;
}

static int on_writeable(struct lws *wsi, struct listener *l)
{
    if (!l->established)
        return 0;
    if (l->close_code)
        return tolk_net_close(wsi, l->close_code, l->close_reason);
    /* No lws_send_pipe_choked() here: WRITEABLE comes only after poll() reported room, and a
     * short write is kept by lws (one message at most) and finished before the next WRITEABLE,
     * so memory stays bounded. The check cost a poll() per message (docs/performance.md). */
    struct tolk_net_thread *t = tolk_net_thread_of(wsi);
    struct tolk_channel_status st;
    int rc = 0;
    if (l->queue_count > 0)
        rc = send_text(wsi, l, t);
    else if (l->channel >= 0 && state_due(t->net, l, &st))
        rc = send_state(wsi, l, t, &st);
    else if (l->channel >= 0)
        rc = send_audio(wsi, l, t);
    if (rc == 0 && more_pending(t->net, l))
        lws_callback_on_writable(wsi);
    return rc;
}

/* A WebSocket upgrade elsewhere than /listen (or /booth) gets a 404, and one beyond max_listeners a 503,
 * before any handshake. (ESTABLISHED counts exactly; this is the cheap early refusal.) */
static int confirm_upgrade(struct lws *wsi, const char *upgrade)
{
    struct tolk_net *net = tolk_net_thread_of(wsi)->net;
    unsigned status = 0;
    if (!upgrade || strcasecmp(upgrade, "websocket") != 0)
        return 0;
    if (tolk_net_is_path(wsi, "/booth") || tolk_net_is_path(wsi, "/tech"))
        return 0; /* their protocols check them */
    if (!tolk_net_is_path(wsi, "/listen"))
        status = HTTP_STATUS_NOT_FOUND;
    else if (atomic_load(&net->listeners) >= net->cfg->max_listeners)
        status = HTTP_STATUS_SERVICE_UNAVAILABLE;
    if (!status)
        return 0;
    return lws_return_http_status(wsi, status, NULL) ? -1 : 1;
}

int tolk_net_listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len)
{
    struct listener *l = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi, in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return tolk_net_is_path(wsi, "/listen") ? 0 : 1;
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(wsi, l);
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, l, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, l);
    case LWS_CALLBACK_CLOSED:
        on_closed(wsi, l);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: /* the engine ticked: new packets */
        lws_callback_on_writable_all_protocol_vhost(lws_get_vhost(wsi), lws_get_protocol(wsi));
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
