/* WebSocket input (listener protocol v1): connects to /listen?channel=ID, turns each audio
 * message into packet records for the play-out, reconnects with backoff and jitter when the
 * server goes away or falls silent, and reports the receiver's figures to the server every 5 s.
 *
 * Threads: the main thread parses the URL, creates the context and starts and joins the
 * service thread. Everything under "lws thread" below, and every lws call, is the service
 * thread's; the main thread only sets `stop` and calls lws_cancel_service().
 */
#include "ws_input.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tolk/clock.h"
#include "tolk/error.h"
#include "tolk/log.h"
#include "tolk/protocol.h"
#include "tolk/realtime.h"

#define MAX_MESSAGE 65536
#define MAX_PACKETS 64
#define TICK_US (500 * LWS_US_PER_MS)
#define SILENT_LINK_US 3000000 /* connected but nothing for this long: reconnect */
#define REPORT_US 5000000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000

struct tolk_ws_input {
    /* Main thread before the service thread starts; read-only afterwards. */
    struct tolk_ws_input_config cfg;
    char host[256], hostport[300], path[600];
    int port;
    bool tls, insecure;
    struct lws_context *ctx;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop; /* main thread → lws thread */

    /* lws thread. */
    bool active;     /* a connection exists or is being made */
    struct lws *wsi; /* once established, until lost */
    lws_sorted_usec_list_t sul_connect, sul_tick;
    int attempts;   /* failed connections since the last good one */
    bool down_logged;
    int64_t last_rx_us, last_report_us;
    int frame_ms, channel_index; /* from hello; channel_index -1 until selected */
    bool want_close, want_report;
    unsigned char rx[MAX_MESSAGE];
    size_t rx_len;
    bool rx_binary, rx_overflow;
    unsigned char tx[LWS_PRE + 512];
    struct tolk_rx_record rec;
    unsigned rng;
};

/* ---- lws thread ---- */

static void schedule_connect(struct tolk_ws_input *in);

static void on_hello(struct tolk_ws_input *in, json_t *msg)
{
    json_t *fm = json_object_get(msg, "frame_ms");
    in->frame_ms = json_is_integer(fm) ? (int)json_integer_value(fm) : 20;
    json_t *channels = json_object_get(msg, "channels"), *ch;
    size_t i;
    bool found = false;
    json_array_foreach(channels, i, ch)
        found |= json_is_string(json_object_get(ch, "id")) &&
                 strcmp(json_string_value(json_object_get(ch, "id")), in->cfg.channel) == 0;
    atomic_store(&in->cfg.state->net.frame_ms, in->frame_ms);
    if (!found)
        tolk_log_error("the server has no channel \"%s\"; waiting for it", in->cfg.channel);
}

static void on_selected(struct tolk_ws_input *in, json_t *msg)
{
    const char *id = json_string_value(json_object_get(msg, "channel"));
    if (!id || strcmp(id, in->cfg.channel) != 0)
        return;
    in->channel_index = -2; /* known by the first audio message of the new selection */
    in->attempts = 0;
    in->down_logged = false;
    atomic_store(&in->cfg.state->net.link, TOLK_RX_UP);
    tolk_rx_push_reset(in->cfg.ring, in->cfg.state, in->frame_ms);
    tolk_log_info("playing channel %s (%d ms frames) from %s", id, in->frame_ms, in->hostport);
}

static void on_text(struct tolk_ws_input *in)
{
    json_t *msg = json_loadb((const char *)in->rx, in->rx_len, 0, NULL);
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (!type)
        tolk_log_warn("server sent a message that is not a protocol message");
    else if (strcmp(type, "hello") == 0)
        on_hello(in, msg);
    else if (strcmp(type, "selected") == 0)
        on_selected(in, msg);
    else if (strcmp(type, "error") == 0)
        tolk_log_warn("server: %s", json_string_value(json_object_get(msg, "message")));
    json_decref(msg);
}

static void on_audio_message(struct tolk_ws_input *in)
{
    struct tolk_frame_header h;
    const uint8_t *pkts[MAX_PACKETS];
    uint16_t lens[MAX_PACKETS];
    size_t count = 0;
    if (tolk_frame_parse(in->rx, in->rx_len, &h, pkts, lens, MAX_PACKETS, &count) != 0) {
        atomic_fetch_add_explicit(&in->cfg.state->net.malformed, 1, memory_order_relaxed);
        return;
    }
    if (in->channel_index == -1)
        return; /* audio before our selection */
    if (in->channel_index == -2)
        in->channel_index = h.channel;
    if (h.channel != in->channel_index)
        return;
    int64_t arrival = tolk_clock_mono_ns() / 1000;
    for (size_t i = 0; i < count; i++) {
        in->rec.kind = TOLK_RX_PACKET;
        in->rec.flags = h.flags;
        in->rec.seq = h.seq + (uint32_t)i;
        in->rec.capture_us = (int64_t)h.capture_us + (int64_t)i * in->frame_ms * 1000;
        in->rec.arrival_us = arrival;
        in->rec.len = lens[i];
        memcpy(in->rec.data, pkts[i], lens[i]);
        tolk_rx_push(in->cfg.ring, in->cfg.state, &in->rec);
        atomic_fetch_add_explicit(&in->cfg.state->net.packets, 1, memory_order_relaxed);
    }
}

static void on_receive(struct tolk_ws_input *in, struct lws *wsi, const void *data, size_t len)
{
    if (in->rx_len == 0 && !in->rx_overflow)
        in->rx_binary = lws_frame_is_binary(wsi);
    if (in->rx_len + len > sizeof in->rx)
        in->rx_overflow = true;
    else {
        memcpy(in->rx + in->rx_len, data, len);
        in->rx_len += len;
    }
    in->last_rx_us = tolk_clock_mono_ns() / 1000;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return;
    if (in->rx_overflow)
        atomic_fetch_add_explicit(&in->cfg.state->net.malformed, 1, memory_order_relaxed);
    else if (in->rx_binary)
        on_audio_message(in);
    else
        on_text(in);
    in->rx_len = 0;
    in->rx_overflow = false;
}

/* One message per WRITEABLE: the receiver's report (docs/protocol.md, `stats`). */
static int on_writeable(struct tolk_ws_input *in, struct lws *wsi)
{
    if (in->want_close || atomic_load(&in->stop)) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
        return -1;
    }
    if (!in->want_report)
        return 0;
    in->want_report = false;
    struct tolk_rx_state *s = in->cfg.state;
    int lat = atomic_load_explicit(&s->audio.latency_us, memory_order_relaxed);
    char lat_part[40] = "";
    if (lat != TOLK_RX_UNKNOWN)
        snprintf(lat_part, sizeof lat_part, "\"latency_ms\":%.1f,", lat / 1000.0);
    int n = snprintf((char *)in->tx + LWS_PRE, sizeof in->tx - LWS_PRE,
                     "{\"type\":\"stats\",\"buffer_ms\":%.1f,%s\"underruns\":%llu,"
                     "\"decoder\":\"tolk-receiver\"}",
                     atomic_load_explicit(&s->audio.buffer_us, memory_order_relaxed) / 1000.0,
                     lat_part,
                     (unsigned long long)atomic_load_explicit(&s->audio.underruns,
                                                              memory_order_relaxed));
    if (n <= 0 || (size_t)n >= sizeof in->tx - LWS_PRE)
        return 0;
    return lws_write(wsi, in->tx + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n ? -1 : 0;
}

static void lost(struct tolk_ws_input *in, const char *why)
{
    if (!in->active)
        return;
    in->active = false;
    in->wsi = NULL;
    if (in->channel_index != -1) /* it was playing: a lost connection, not a failed attempt */
        atomic_fetch_add_explicit(&in->cfg.state->net.reconnects, 1, memory_order_relaxed);
    in->channel_index = -1;
    atomic_store(&in->cfg.state->net.link, TOLK_RX_DOWN);
    if (!in->down_logged && !atomic_load(&in->stop))
        tolk_log_warn("connection to %s: %s; reconnecting", in->hostport, why);
    in->down_logged = true;
    if (!atomic_load(&in->stop))
        schedule_connect(in);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *data,
                    size_t len)
{
    struct tolk_ws_input *in = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        in->wsi = wsi;
        in->last_rx_us = tolk_clock_mono_ns() / 1000;
        in->want_close = false;
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_receive(in, wsi, data, len);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(in, wsi);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        lost(in, data ? (const char *)data : "connection failed");
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        lost(in, "closed");
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (atomic_load(&in->stop) && in->wsi)
            lws_callback_on_writable(in->wsi);
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {.name = "tolk-receiver", .callback = callback, .rx_buffer_size = 16384},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_connect_timer(lws_sorted_usec_list_t *sul)
{
    struct tolk_ws_input *in = lws_container_of(sul, struct tolk_ws_input, sul_connect);
    if (atomic_load(&in->stop) || in->active)
        return;
    struct lws_client_connect_info cc;
    memset(&cc, 0, sizeof cc);
    cc.context = in->ctx;
    cc.address = in->host;
    cc.port = in->port;
    cc.path = in->path;
    cc.host = in->hostport;
    cc.origin = in->hostport;
    cc.protocol = TOLK_PROTOCOL_SUBPROTOCOL;
    cc.local_protocol_name = protocols[0].name;
    if (in->tls)
        cc.ssl_connection = LCCSCF_USE_SSL;
    if (in->tls && in->insecure)
        cc.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                             LCCSCF_ALLOW_EXPIRED;
    atomic_store(&in->cfg.state->net.link, TOLK_RX_CONNECTING);
    in->active = true;
    if (!lws_client_connect_via_info(&cc) && in->active) { /* failed without a callback */
        in->active = false;
        atomic_store(&in->cfg.state->net.link, TOLK_RX_DOWN);
        schedule_connect(in);
    }
}

/* Exponential backoff from 250 ms to 5 s, each delay drawn from its upper half, so receivers
 * that lost the same server do not all come back in the same millisecond. */
static void schedule_connect(struct tolk_ws_input *in)
{
    int shift = in->attempts < 5 ? in->attempts : 5;
    int base = BACKOFF_MIN_MS << shift;
    if (base > BACKOFF_MAX_MS)
        base = BACKOFF_MAX_MS;
    int delay = base / 2 + (int)(rand_r(&in->rng) % (unsigned)(base / 2 + 1));
    in->attempts++;
    lws_sul_schedule(in->ctx, 0, &in->sul_connect, on_connect_timer,
                     (lws_usec_t)delay * LWS_US_PER_MS);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    struct tolk_ws_input *in = lws_container_of(sul, struct tolk_ws_input, sul_tick);
    int64_t now = tolk_clock_mono_ns() / 1000;
    if (in->wsi && in->last_rx_us && now - in->last_rx_us > SILENT_LINK_US && !in->want_close) {
        tolk_log_warn("nothing from %s for %d s; reconnecting", in->hostport,
                      SILENT_LINK_US / 1000000);
        in->want_close = true;
        lws_callback_on_writable(in->wsi);
    } else if (in->wsi && in->channel_index != -1 && now - in->last_report_us > REPORT_US) {
        in->last_report_us = now;
        in->want_report = true;
        lws_callback_on_writable(in->wsi);
    }
    lws_sul_schedule(in->ctx, 0, &in->sul_tick, on_tick, TICK_US);
}

static void *service(void *arg)
{
    struct tolk_ws_input *in = arg;
    tolk_realtime_raise(TOLK_RT_RECEIVER_NET); /* best effort: EPERM is fine */
    lws_sul_schedule(in->ctx, 0, &in->sul_connect, on_connect_timer, 1);
    lws_sul_schedule(in->ctx, 0, &in->sul_tick, on_tick, TICK_US);
    while (!atomic_load(&in->stop))
        lws_service(in->ctx, 0);
    lws_sul_cancel(&in->sul_connect);
    lws_sul_cancel(&in->sul_tick);
    return NULL;
}

/* ---- Main thread ---- */

/* [ws|wss|http|https://]HOST[:PORT][/PATH] → host, port, tls, path?channel=ID. */
static int parse_url(struct tolk_ws_input *in, const char *url)
{
    const char *rest = url, *sep = strstr(url, "://");
    if (sep) {
        size_t n = (size_t)(sep - url);
        bool wss = (n == 3 && strncasecmp(url, "wss", 3) == 0) ||
                   (n == 5 && strncasecmp(url, "https", 5) == 0);
        bool ws = (n == 2 && strncasecmp(url, "ws", 2) == 0) ||
                  (n == 4 && strncasecmp(url, "http", 4) == 0);
        if (!wss && !ws)
            return TOLK_ECONFIG;
        in->tls = wss;
        rest = sep + 3;
    }
    const char *path = strchr(rest, '/');
    size_t hlen = path ? (size_t)(path - rest) : strlen(rest);
    const char *colon = memrchr(rest, ':', hlen), *bracket = memchr(rest, ']', hlen);
    if (colon && bracket && colon < bracket)
        colon = NULL; /* [v6] without a port */
    size_t name_len = colon ? (size_t)(colon - rest) : hlen;
    in->port = colon ? atoi(colon + 1) : in->tls ? 443 : 80;
    if (*rest == '[' && name_len >= 2) { /* [::1] → ::1 */
        rest++;
        name_len -= 2;
    }
    if (name_len == 0 || name_len >= sizeof in->host || in->port <= 0 || in->port > 65535)
        return TOLK_ECONFIG;
    memcpy(in->host, rest, name_len);
    in->host[name_len] = '\0';
    snprintf(in->hostport, sizeof in->hostport, "%s%s%s:%d", strchr(in->host, ':') ? "[" : "",
             in->host, strchr(in->host, ':') ? "]" : "", in->port);
    const char *p = path && strcmp(path, "/") != 0 ? path : "/listen";
    int n = snprintf(in->path, sizeof in->path, "%s%cchannel=%s", p, strchr(p, '?') ? '&' : '?',
                     in->cfg.channel);
    return n > 0 && (size_t)n < sizeof in->path ? 0 : TOLK_ECONFIG;
}

static bool valid_channel_id(const char *id)
{
    size_t n = strlen(id);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_')
            return false;
    return n > 0 && n < 32;
}

static int create_context(struct tolk_ws_input *in)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    info.user = in;
    info.fd_limit_per_thread = 16;
    info.options = in->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    in->ctx = lws_create_context(&info);
    return in->ctx ? 0 : TOLK_ENET;
}

int tolk_ws_input_start(struct tolk_ws_input **out, const struct tolk_ws_input_config *cfg)
{
    *out = NULL;
    struct tolk_ws_input *in = calloc(1, sizeof *in);
    if (!in)
        return -ENOMEM;
    in->cfg = *cfg;
    in->channel_index = -1;
    in->rng = (unsigned)tolk_clock_mono_ns() ^ (unsigned)getpid();
    const char *insecure = getenv("TOLK_INSECURE_TLS");
    in->insecure = insecure && strcmp(insecure, "1") == 0;
    int err = valid_channel_id(cfg->channel) ? parse_url(in, cfg->url) : TOLK_ECONFIG;
    if (err) {
        tolk_log_error("cannot use server URL \"%s\" with channel \"%s\"", cfg->url, cfg->channel);
        goto fail;
    }
    lws_set_log_level(LLL_ERR, NULL);
    err = create_context(in);
    if (err)
        goto fail;
    err = -pthread_create(&in->thread, NULL, service, in);
    if (err)
        goto fail;
    in->thread_started = true;
    *out = in;
    return 0;
fail:
    tolk_ws_input_destroy(in);
    return err;
}

void tolk_ws_input_destroy(struct tolk_ws_input *in)
{
    if (!in)
        return;
    if (in->thread_started) {
        atomic_store(&in->stop, true);
        lws_cancel_service(in->ctx);
        pthread_join(in->thread, NULL);
    }
    if (in->ctx)
        lws_context_destroy(in->ctx);
    free(in);
}
