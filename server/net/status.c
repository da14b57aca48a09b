/* The /api mount: GET /api/status, the server's state as JSON for the technicians and tests;
 * anything else under /api gets a JSON 404 (or 405 for a method other than GET).
 *
 * Threads: runs on the service thread that took the request. It reads only the engine's
 * published atomics (tolk_engine_channel_status/stats) and the listener counts, so it needs no
 * lock and never waits for the engine.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/meter.h"
#include "net/net_private.h"
#include "tolk/clock.h"

/* Per request (lws per-session data); the service thread only. */
struct api_session {
    unsigned char *body; /* LWS_PRE bytes of headroom, then the JSON; NULL once written */
    size_t len;
    unsigned deferred_status; /* answer once the request body has been read (and dropped) */
};

size_t tolk_net_api_session_size(void)
{
    return sizeof(struct api_session);
}

/* JSON has no -inf: silence reads as the meter's floor; one decimal is plenty. */
static double db_value(float db)
{
    if (!isfinite(db) || db < TOLK_METER_FLOOR_DB)
        return TOLK_METER_FLOOR_DB;
    return round(db * 10.0) / 10.0;
}

static json_t *id_or_null(const struct tolk_config *cfg, int channel)
{
    return channel >= 0 && channel < cfg->channel_count ? json_string(cfg->channels[channel].id)
                                                        : json_null();
}

static json_t *channel_json(struct tolk_net *net, int i)
{
    const struct tolk_config *cfg = net->cfg;
    const struct tolk_channel_config *c = &cfg->channels[i];
    struct tolk_channel_status st;
    tolk_engine_channel_status(net->engine, i, &st);
    json_t *name = json_string(c->name);
    if (!name) /* not UTF-8 */
        name = json_string(c->id);
    return json_pack("{s:i, s:s, s:o, s:s, s:b, s:b, s:o, s:i, s:f, s:f, s:b, s:I}", "index", i,
                     "id", c->id, "name", name, "lang", c->lang, "live", st.live, "signal",
                     st.signal, "carrying", id_or_null(cfg, st.carry), "listeners",
                     atomic_load(&net->channel_listeners[i]), "peak_db", db_value(st.peak_db),
                     "rms_db", db_value(st.rms_db), "clipped", st.clipped, "frames",
                     (json_int_t)st.frames);
}

/* Serializes doc (which it releases) with LWS_PRE bytes of headroom. */
static unsigned char *dump_for_lws(json_t *doc, size_t *len)
{
    size_t n = doc ? json_dumpb(doc, NULL, 0, JSON_COMPACT) : 0;
    unsigned char *out = n ? malloc(LWS_PRE + n) : NULL;
    if (out)
        json_dumpb(doc, (char *)out + LWS_PRE, n, JSON_COMPACT);
    json_decref(doc);
    *len = out ? n : 0;
    return out;
}

unsigned char *tolk_net_status_json(struct tolk_net *net, size_t *len)
{
    const struct tolk_config *cfg = net->cfg;
    struct tolk_engine_stats es;
    tolk_engine_stats(net->engine, &es);
    json_t *channels = json_array();
    for (int i = 0; i < cfg->channel_count; i++)
        json_array_append_new(channels, channel_json(net, i));
    json_int_t uptime = (json_int_t)((tolk_clock_mono_ns() - net->created_ns) / 1000000000);
    json_t *doc = json_pack("{s:s, s:s, s:I, s:i, s:{s:b, s:I}, s:i, s:o}", "server", "tolk",
                            "version", TOLK_VERSION, "uptime_s", uptime, "listeners",
                            atomic_load(&net->listeners), "device", "running",
                            es.device_running, "overruns", (json_int_t)es.device_overruns,
                            "frame_ms", cfg->frame_ms, "channels", channels);
    return dump_for_lws(doc, len);
}

static unsigned char *error_body(const char *code, const char *message, size_t *len)
{
    return dump_for_lws(json_pack("{s:s, s:s}", "error", code, "message", message), len);
}

static int respond(struct lws *wsi, struct api_session *s, unsigned status)
{
    unsigned char headers[LWS_PRE + 512];
    unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    if (!s->body)
        return -1; /* out of memory: hang up */
    if (lws_add_http_common_headers(wsi, status, "application/json", s->len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi); /* the body goes in the next WRITEABLE */
    return 0;
}

/* lws reads a request body (a POST with a Content-Length, or any method with a nonzero one)
 * before it lets a response out: such requests are answered at HTTP_BODY_COMPLETION. */
static bool expects_body(struct lws *wsi, int method)
{
    char value[32];
    if (method == LWSHUMETH_GET ||
        lws_hdr_copy(wsi, value, sizeof value, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return false;
    return method == LWSHUMETH_POST || strtoull(value, NULL, 10) > 0;
}

static int on_request(struct lws *wsi, struct api_session *s)
{
    char *uri = NULL;
    int len = 0;
    unsigned status = HTTP_STATUS_NOT_FOUND;
    int method = lws_http_get_uri_and_method(wsi, &uri, &len);
    bool is_status = uri && len == 11 && memcmp(uri, "/api/status", 11) == 0;
    if (is_status && method == LWSHUMETH_GET) {
        s->body = tolk_net_status_json(tolk_net_thread_of(wsi)->net, &s->len);
        status = HTTP_STATUS_OK;
    } else if (is_status) {
        s->body = error_body("method_not_allowed", "use GET", &s->len);
        status = HTTP_STATUS_METHOD_NOT_ALLOWED;
    } else {
        s->body = error_body("not_found", "no such API; try GET /api/status", &s->len);
    }
    if (expects_body(wsi, method)) {
        s->deferred_status = status;
        return 0;
    }
    return respond(wsi, s, status);
}

static int on_writeable(struct lws *wsi, struct api_session *s)
{
    if (!s->body)
        return 0;
    int n = lws_write(wsi, s->body + LWS_PRE, s->len, LWS_WRITE_HTTP_FINAL);
    bool ok = n >= (int)s->len;
    free(s->body);
    s->body = NULL;
    if (!ok || lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

int tolk_net_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    struct api_session *s = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return s ? on_request(wsi, s) : -1;
    case LWS_CALLBACK_HTTP_BODY:
        return 0; /* dropped */
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return s && s->deferred_status ? respond(wsi, s, s->deferred_status) : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return s ? on_writeable(wsi, s) : 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s) {
            free(s->body);
            s->body = NULL;
        }
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return 1; /* not a WebSocket subprotocol */
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
