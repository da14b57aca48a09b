/* tolk-loadgen's libwebsockets side: the probe that reads hello, and the lws transport (--transport
 * lws), where each worker owns one lws client context on a libev loop (epoll; lws's own poll()
 * loop costs a third more CPU at 1000 listeners) served by the worker's thread.
 *
 * Threads: tolk_lg_probe, _init and _fini run on the main thread (a context is created before its
 * thread starts and destroyed after it ends). The lws callbacks and the ramp timer run on the
 * worker's thread. The main thread reaches a running worker only through atomics and
 * lws_cancel_service() (tolk_lg_lws_wake).
 */
#include "loadgen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <jansson.h>

#include "tolk/clock.h"
#include "tolk/error.h"

#define LG_RX_BUFFER 512 /* audio messages are ~100 bytes; longer ones arrive in pieces */
#define LG_PROBE_TIMEOUT_NS 5000000000LL
#define LG_PROBE_MAX_TEXT 65536

/* ---- Worker connections (service thread) ---- */

static void conn_on_receive(struct tolk_lg_conn *c, struct lws *wsi, const void *in, size_t len)
{
    int64_t now_us = tolk_clock_wall_us();
    bool final = lws_is_final_fragment(wsi);
    if (!lws_frame_is_binary(wsi)) {
        if (final)
            c->worker->stats.text_messages++;
        return;
    }
    if (final && c->partial_len == 0) {
        tolk_lg_account_message(c, in, len, now_us, 0);
        return;
    }
    if (tolk_lg_conn_keep(c, in, len) != 0) {
        c->worker->stats.proto_errors++;
        c->partial_len = 0;
        return;
    }
    if (final) {
        tolk_lg_account_message(c, c->partial, c->partial_len, now_us, 0);
        c->partial_len = 0;
    }
}

static int lg_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct tolk_lg_conn *c = user;
    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        tolk_lg_conn_on_open(c);
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        c->wsi = NULL;
        tolk_lg_conn_on_failed(c);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        conn_on_receive(c, wsi, in, len);
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        c->wsi = NULL;
        tolk_lg_conn_on_closed(c);
        break;
    default:
        break;
    }
    return 0;
}

/* Wrapper for the callbacks that have no connection of ours, like the stop request. */
static int lg_callback_outer(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len)
{
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        struct tolk_lg_worker *w = lws_context_user(lws_get_context(wsi));
        if (w && atomic_load(&w->run->stop))
            ev_break(w->loop, EVBREAK_ALL);
        return 0;
    }
    return lg_callback(wsi, reason, user, in, len);
}

static const struct lws_protocols lg_protocols[] = {
    {"tolk-loadgen", lg_callback_outer, 0, LG_RX_BUFFER, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- Ramp (service thread) ---- */

static void conn_open(struct tolk_lg_worker *w, struct tolk_lg_conn *c)
{
    const struct tolk_lg_run *run = w->run;
    char path[sizeof run->path + 48];
    tolk_lg_conn_path(c, path, sizeof path);
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = w->ctx;
    i.address = run->host;
    i.port = run->port;
    i.path = path;
    i.host = run->host;
    i.origin = run->host;
    i.ietf_version_or_minus_one = -1;
    i.userdata = c;
    i.pwsi = &c->wsi;
    i.local_protocol_name = lg_protocols[0].name;
    c->state = TOLK_LG_CONNECTING;
    w->connecting++;
    if (!lws_client_connect_via_info(&i))
        tolk_lg_conn_on_failed(c);
}

static void ramp_tick(lws_sorted_usec_list_t *sul)
{
    struct tolk_lg_worker *w = lws_container_of(sul, struct tolk_lg_worker, ramp_sul);
    for (int quota = tolk_lg_ramp_quota(w); quota > 0; quota--)
        conn_open(w, &w->conns[w->next_to_open++]);
    if (w->next_to_open < w->conn_count)
        lws_sul_schedule(w->ctx, 0, &w->ramp_sul, ramp_tick, TOLK_LG_RAMP_PERIOD_US);
}

void *tolk_lg_lws_main(void *worker)
{
    struct tolk_lg_worker *w = worker;
    lws_sul_schedule(w->ctx, 0, &w->ramp_sul, ramp_tick, 1);
    ev_run(w->loop, 0);
    return NULL;
}

/* ---- Context lifetime (main thread) ---- */

int tolk_lg_lws_init(struct tolk_lg_worker *w)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    w->loop = ev_loop_new(EVFLAG_AUTO);
    if (!w->loop)
        return -ENOMEM;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = lg_protocols;
    info.gid = -1;
    info.uid = -1;
    info.timeout_secs = 10;
    info.connect_timeout_secs = 10;
    info.max_http_header_pool = 64;
    info.user = w;
    info.options = LWS_SERVER_OPTION_LIBEV;
    info.foreign_loops = (void **)&w->loop;
    w->ctx = lws_create_context(&info);
    return w->ctx ? 0 : TOLK_ENET;
}

void tolk_lg_lws_wake(struct tolk_lg_worker *w)
{
    lws_cancel_service(w->ctx);
}

void tolk_lg_lws_fini(struct tolk_lg_worker *w)
{
    if (w->ctx)
        lws_context_destroy(w->ctx);
    w->ctx = NULL;
    if (w->loop)
        ev_loop_destroy(w->loop);
    w->loop = NULL;
}

/* ---- Probe: one connection that reads hello (main thread) ---- */

struct lg_probe {
    struct tolk_lg_run *run;
    char *text;
    size_t text_len;
    bool done;
    int rc;
    char error[160];
};

static int probe_parse_hello(struct lg_probe *p)
{
    struct tolk_lg_run *run = p->run;
    json_error_t jerr;
    json_t *root = json_loadb(p->text, p->text_len, 0, &jerr);
    json_t *channels = json_object_get(root, "channels");
    const char *type = json_string_value(json_object_get(root, "type"));
    int rc = TOLK_EPROTO;
    if (!type || strcmp(type, "hello") != 0 || !json_is_array(channels))
        goto out;
    run->frame_ms = (int)json_integer_value(json_object_get(root, "frame_ms"));
    size_t n = json_array_size(channels);
    run->channel_count = 0;
    for (size_t i = 0; i < n && i < TOLK_LG_MAX_CHANNELS; i++) {
        const char *id = json_string_value(json_object_get(json_array_get(channels, i), "id"));
        snprintf(run->channel_ids[i], TOLK_LG_ID_MAX, "%s", id ? id : "");
        run->channel_count++;
    }
    if (run->frame_ms > 0 && run->channel_count > 0)
        rc = 0;
out:
    if (rc != 0)
        snprintf(p->error, sizeof p->error, "first text message is not a usable hello");
    json_decref(root);
    return rc;
}

static int probe_on_text(struct lg_probe *p, struct lws *wsi, const void *in, size_t len)
{
    if (p->text_len + len > LG_PROBE_MAX_TEXT) {
        snprintf(p->error, sizeof p->error, "hello longer than %d bytes", LG_PROBE_MAX_TEXT);
        p->rc = TOLK_EPROTO;
        p->done = true;
        return -1;
    }
    memcpy(p->text + p->text_len, in, len);
    p->text_len += len;
    if (!lws_is_final_fragment(wsi))
        return 0;
    p->rc = probe_parse_hello(p);
    p->done = true;
    return -1; /* close the probe */
}

static int probe_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    struct lg_probe *p = user;
    if (!p)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        snprintf(p->error, sizeof p->error, "connect: %.*s", in ? (int)len : 7,
                 in ? (const char *)in : "refused");
        p->rc = TOLK_ENET;
        p->done = true;
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!p->done && !lws_frame_is_binary(wsi))
            return probe_on_text(p, wsi, in, len);
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!p->done) {
            snprintf(p->error, sizeof p->error, "closed before hello");
            p->rc = TOLK_EPROTO;
            p->done = true;
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols probe_protocols[] = {
    {"tolk-loadgen-probe", probe_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void probe_tick(lws_sorted_usec_list_t *sul)
{
    /* Only wakes lws_service so the deadline is checked. */
}

static int probe_connect(struct lws_context *ctx, struct lg_probe *p)
{
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = ctx;
    i.address = p->run->host;
    i.port = p->run->port;
    i.path = p->run->path;
    i.host = p->run->host;
    i.origin = p->run->host;
    i.ietf_version_or_minus_one = -1;
    i.userdata = p;
    i.local_protocol_name = probe_protocols[0].name;
    return lws_client_connect_via_info(&i) ? 0 : TOLK_ENET;
}

int tolk_lg_probe(struct tolk_lg_run *run)
{
    struct lg_probe p = {.run = run, .text = malloc(LG_PROBE_MAX_TEXT), .rc = TOLK_ENET};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = probe_protocols;
    info.gid = -1;
    info.uid = -1;
    struct lws_context *ctx = p.text ? lws_create_context(&info) : NULL;
    lws_sorted_usec_list_t tick;
    memset(&tick, 0, sizeof tick);
    int64_t deadline = tolk_clock_mono_ns() + LG_PROBE_TIMEOUT_NS;
    if (!ctx || probe_connect(ctx, &p) != 0) {
        snprintf(p.error, sizeof p.error, "could not start a connection");
        goto out;
    }
    while (!p.done && tolk_clock_mono_ns() < deadline) {
        lws_sul_schedule(ctx, 0, &tick, probe_tick, 100000);
        lws_service(ctx, 0);
    }
    if (!p.done)
        snprintf(p.error, sizeof p.error, "no hello within %lld s",
                 LG_PROBE_TIMEOUT_NS / 1000000000);
out:
    if (ctx)
        lws_context_destroy(ctx);
    free(p.text);
    if (!p.done || p.rc != 0) {
        fprintf(stderr, "tolk-loadgen: probe of ws://%s:%d%s failed: %s\n", run->host, run->port,
                run->path, p.error);
        return p.rc ? p.rc : TOLK_ENET;
    }
    return 0;
}
