/* The HTTP routes that are not plain files: /api, /metrics and the /tech pages.
 *
 * Public: /booth (the console page; the same path is its WebSocket), /api/health (is the
 * server up) and /api/booths (the booth list for the console's login). Everything else needs the
 * technicians' token (net/auth.h): /api/status, /api/qr.svg, /metrics and the dashboard's files
 * under /tech, served from client/web/tech/. Without it: 401, with a page that only asks for the
 * token. A page opened with ?token= gets the token as an HttpOnly cookie and is redirected to its
 * address without it, so the token does not stay in the address bar or the history.
 *
 * Threads: runs on the service thread that took the request; it reads only published state
 * (engine atomics, listener counts, the thread-safe control modules).
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/auth.h"
#include "net/net_private.h"
#include "qr/qr.h"

/* Per request (lws per-session data); the service thread only. */
struct http_session {
    unsigned char *body; /* LWS_PRE bytes of headroom, then the body; NULL once written */
    size_t len;
    unsigned deferred_status; /* answer once the request body has been read (and dropped) */
    const char *type;
    char cookie[200];   /* a Set-Cookie value to send, or "" */
    char location[300]; /* a redirect target, or "" */
};

size_t tolk_net_api_session_size(void)
{
    return sizeof(struct http_session);
}

/* ---- bodies ---- */

static unsigned char *with_headroom(const char *text, size_t len)
{
    unsigned char *out = malloc(LWS_PRE + len + 1);
    if (out)
        memcpy(out + LWS_PRE, text, len);
    return out;
}

unsigned char *tolk_net_json_body(json_t *doc, size_t *len)
{
    size_t n = doc ? json_dumpb(doc, NULL, 0, JSON_COMPACT) : 0;
    unsigned char *out = n ? malloc(LWS_PRE + n) : NULL;
    if (out)
        json_dumpb(doc, (char *)out + LWS_PRE, n, JSON_COMPACT);
    json_decref(doc);
    *len = out ? n : 0;
    return out;
}

static void set_json(struct http_session *s, json_t *doc)
{
    s->body = tolk_net_json_body(doc, &s->len);
    s->type = "application/json";
}

static void set_error(struct http_session *s, const char *code, const char *message)
{
    set_json(s, json_pack("{s:s, s:s}", "error", code, "message", message));
}

static const char login_page[] =
    "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width\"><title>tolk: technicians</title>"
    "<body style=\"font:18px system-ui;background:#111;color:#eee;padding:2em\">"
    "<h1>Technician access</h1><p>This page needs the technicians' token "
    "(<code>tech_token</code> in the server's configuration).</p>"
    "<form method=\"get\"><label>Token <input name=\"token\" type=\"password\" autofocus "
    "required></label> <button>Open</button></form></body></html>\n";

static void set_unauthorized(struct http_session *s, bool page)
{
    if (page) {
        s->body = with_headroom(login_page, sizeof login_page - 1);
        s->len = s->body ? sizeof login_page - 1 : 0;
        s->type = "text/html; charset=utf-8";
    } else {
        set_error(s, "unauthorized", "this needs the technicians' token");
    }
}

/* ---- routes ---- */

static json_t *booths_json(const struct tolk_config *cfg)
{
    json_t *list = json_array();
    for (int b = 0; b < cfg->booth_count; b++) {
        json_t *name = json_string(cfg->booths[b].name);
        json_array_append_new(list, json_pack("{s:s, s:o, s:i}", "id", cfg->booths[b].id, "name",
                                              name ? name : json_string(cfg->booths[b].id), "desks",
                                              cfg->booths[b].desk_count));
    }
    return json_pack("{s:i, s:o}", "frame_ms", cfg->frame_ms, "booths", list);
}

/* /api/qr.svg[?channel=ID]: the public URL, or a channel's listener URL. */
static unsigned route_qr(struct lws *wsi, struct tolk_net *net, struct http_session *s)
{
    char arg[64], url[512];
    const char *id = lws_get_urlarg_by_name(wsi, "channel=", arg, sizeof arg);
    if (id && tolk_config_channel_index(net->cfg, id) < 0) {
        set_error(s, "unknown_channel", "no such channel");
        return HTTP_STATUS_NOT_FOUND;
    }
    tolk_net_channel_url(net, id, url, sizeof url);
    char *svg = NULL;
    size_t len = 0;
    if (tolk_qr_svg(url, &svg, &len) < 0) {
        set_error(s, "qr_failed", "could not make the QR code");
        return HTTP_STATUS_INTERNAL_SERVER_ERROR;
    }
    s->body = with_headroom(svg, len);
    s->len = s->body ? len : 0;
    s->type = "image/svg+xml";
    free(svg);
    return HTTP_STATUS_OK;
}

static unsigned route_api(struct lws *wsi, struct tolk_net *net, struct http_session *s,
                          const char *path, bool authorized)
{
    if (strcmp(path, "/api/health") == 0) {
        set_json(s, json_pack("{s:b}", "ok", 1));
        return HTTP_STATUS_OK;
    }
    if (strcmp(path, "/api/booths") == 0) {
        set_json(s, booths_json(net->cfg));
        return HTTP_STATUS_OK;
    }
    if (!authorized) {
        set_unauthorized(s, false);
        return HTTP_STATUS_UNAUTHORIZED;
    }
    if (strcmp(path, "/api/status") == 0) {
        s->body = tolk_net_status_json(net, &s->len);
        s->type = "application/json";
        return HTTP_STATUS_OK;
    }
    if (strcmp(path, "/api/qr.svg") == 0)
        return route_qr(wsi, net, s);
    set_error(s, "not_found", "no such API; try GET /api/status");
    return HTTP_STATUS_NOT_FOUND;
}

/* A dashboard file's name in the web root (tech/...), or false if the request names none. Only
 * letters, digits, '-', '_', '.' and '/' are allowed, and no "..". */
static bool tech_file(const char *path, char *file, size_t len)
{
    const char *rest = path + 5; /* after "/tech" */
    if (*rest == '\0' || strcmp(rest, "/") == 0)
        rest = "/index.html";
    if (*rest != '/' || strstr(rest, ".."))
        return false;
    for (const char *c = rest; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("-_./", *c))
            return false;
    int n = snprintf(file, len, "tech%s", rest);
    return n > 0 && (size_t)n < len;
}

static const char *mime_type(const char *file)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript"},
        {".mjs", "text/javascript"},
        {".css", "text/css"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".json", "application/json"},
    };
    const char *dot = strrchr(file, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* ---- responses ---- */

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int respond(struct lws *wsi, struct http_session *s, unsigned status)
{
    unsigned char headers[LWS_PRE + 1024];
    unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    if (!s->body && !s->location[0])
        return -1; /* out of memory: hang up */
    if (lws_add_http_common_headers(wsi, status, s->type ? s->type : "text/plain", s->len, &p,
                                    end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        (s->cookie[0] && add_header(wsi, "set-cookie:", s->cookie, &p, end)) ||
        (s->location[0] && add_header(wsi, "location:", s->location, &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (s->len == 0) /* a redirect: nothing follows the headers */
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    lws_callback_on_writable(wsi); /* the body goes in the next WRITEABLE */
    return 0;
}

/* The page without its token argument, where the browser goes once it has the cookie. */
static void redirect_with_cookie(struct http_session *s, const char *path, const char *token)
{
    snprintf(s->cookie, sizeof s->cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict",
             TOLK_AUTH_COOKIE, token);
    snprintf(s->location, sizeof s->location, "%s", path);
    s->type = "text/html";
    s->len = 0;
}

/* A file of the web root, not cached (pages change with the server). */
static int serve_file(struct lws *wsi, struct tolk_net *net, const char *name)
{
    char file[PATH_MAX + 64];
    snprintf(file, sizeof file, "%s/%s", net->web_root, name);
    const char *nocache = "cache-control: no-store\r\n";
    int rc = lws_serve_http_file(wsi, file, mime_type(file), nocache, (int)strlen(nocache));
    if (rc < 0)
        return -1;
    return rc > 0 && lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int serve_tech(struct lws *wsi, struct tolk_net *net, struct http_session *s,
                      const char *path, enum tolk_auth auth)
{
    char file[256];
    if (auth == TOLK_AUTH_NONE) {
        set_unauthorized(s, true);
        return respond(wsi, s, HTTP_STATUS_UNAUTHORIZED);
    }
    if (auth == TOLK_AUTH_QUERY) {
        redirect_with_cookie(s, path, net->cfg->tech_token);
        return respond(wsi, s, HTTP_STATUS_SEE_OTHER);
    }
    if (!tech_file(path, file, sizeof file)) {
        set_error(s, "not_found", "no such page");
        return respond(wsi, s, HTTP_STATUS_NOT_FOUND);
    }
    return serve_file(wsi, net, file);
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

static int on_request(struct lws *wsi, struct http_session *s)
{
    struct tolk_net *net = tolk_net_thread_of(wsi)->net;
    char *uri = NULL, path[256];
    int len = 0;
    int method = lws_http_get_uri_and_method(wsi, &uri, &len);
    snprintf(path, sizeof path, "%.*s", uri ? len : 0, uri ? uri : "");
    enum tolk_auth auth = tolk_net_auth(wsi, net->cfg->tech_token);
    bool tech_path = strncmp(path, "/tech", 5) == 0 || strcmp(path, "/metrics") == 0 ||
                     (strncmp(path, "/api/", 5) == 0 && strcmp(path, "/api/health") != 0 &&
                      strcmp(path, "/api/booths") != 0);
    unsigned status;
    if (tolk_net_listeners_only(wsi, net->cfg) && strcmp(path, "/api/health") != 0) {
        set_error(s, "not_found", "this port serves listeners only");
        return respond(wsi, s, HTTP_STATUS_NOT_FOUND);
    }
    if (tech_path && !tolk_net_control_allowed(wsi, net->cfg)) {
        /* Plain http from another machine: the token must not cross the network (tls.c). */
        set_error(s, "https_required", "technician access needs https (or "
                                       "allow_insecure_control = yes in the configuration)");
        return respond(wsi, s, HTTP_STATUS_FORBIDDEN);
    }
    if (strcmp(path, "/booth") == 0 && method == LWSHUMETH_GET)
        return serve_file(wsi, net, "booth.html");
    if (strcmp(path, "/tech") == 0 || strncmp(path, "/tech/", 6) == 0) {
        if (method == LWSHUMETH_GET)
            return serve_tech(wsi, net, s, path, auth);
        set_error(s, "method_not_allowed", "use GET");
        status = HTTP_STATUS_METHOD_NOT_ALLOWED;
    } else if (method != LWSHUMETH_GET) {
        set_error(s, "method_not_allowed", "use GET");
        status = HTTP_STATUS_METHOD_NOT_ALLOWED;
    } else if (strcmp(path, "/metrics") == 0 && auth == TOLK_AUTH_NONE) {
        set_unauthorized(s, false);
        status = HTTP_STATUS_UNAUTHORIZED;
    } else if (strcmp(path, "/metrics") == 0) {
        s->body = tolk_net_metrics_text(net, &s->len);
        s->type = "text/plain; version=0.0.4; charset=utf-8";
        status = HTTP_STATUS_OK;
    } else if (strncmp(path, "/api/", 5) == 0) {
        status = route_api(wsi, net, s, path, auth != TOLK_AUTH_NONE);
    } else {
        set_error(s, "not_found", "no such page");
        status = HTTP_STATUS_NOT_FOUND;
    }
    if (expects_body(wsi, method)) {
        s->deferred_status = status;
        return 0;
    }
    return respond(wsi, s, status);
}

static int on_writeable(struct lws *wsi, struct http_session *s)
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
    struct http_session *s = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: return s ? on_request(wsi, s) : -1;
    case LWS_CALLBACK_HTTP_BODY: return 0; /* dropped */
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return s && s->deferred_status ? respond(wsi, s, s->deferred_status) : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: return s ? on_writeable(wsi, s) : 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (s) {
            free(s->body);
            s->body = NULL;
        }
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: return 1; /* not a WebSocket subprotocol */
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
