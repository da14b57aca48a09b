/* Helpers the server's WebSocket protocols share: sending a JSON message from the thread's
 * scratch buffer, closing with a reason, the path check, and for the control protocols (/booth,
 * /tech) the bounded queue of replies and the receive dispatch.
 *
 * Threads: the connection's service thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "net/net_private.h"
#include "net/rx.h"
#include "tolk/log.h"

int tolk_net_write_json(struct lws *wsi, struct tolk_net_thread *t, json_t *msg)
{
    unsigned char *out = t->scratch + LWS_PRE;
    size_t len = msg ? json_dumpb(msg, (char *)out, TOLK_NET_TEXT_MAX, JSON_COMPACT) : 0;
    json_decref(msg);
    if (len == 0 || len > TOLK_NET_TEXT_MAX) {
        tolk_log_warn("could not build a message for %s", lws_get_protocol(wsi)->name);
        return 0; /* dropped; the connection itself is fine */
    }
    int n = lws_write(wsi, out, len, LWS_WRITE_TEXT);
    if (n > 0)
        atomic_fetch_add_explicit(&t->bytes_sent, (uint64_t)n, memory_order_relaxed);
    return n < (int)len ? -1 : 0;
}

int tolk_net_close(struct lws *wsi, int code, const char *reason)
{
    lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    return -1;
}

json_t *tolk_net_text_or(const char *text, const char *instead)
{
    json_t *s = json_string(text);
    return s ? s : json_string(instead);
}

bool tolk_net_is_path(struct lws *wsi, const char *path)
{
    char *uri = NULL;
    int len = 0;
    if (lws_http_get_uri_and_method(wsi, &uri, &len) < 0 || !uri)
        return false;
    return (size_t)len == strlen(path) && memcmp(uri, path, (size_t)len) == 0;
}

/* ---- replies of the control protocols ---- */

struct tolk_net_reply *tolk_net_queue_reply(struct tolk_net_replies *q, int kind,
                                            const char *request)
{
    if (q->count == TOLK_NET_REPLIES)
        return NULL;
    struct tolk_net_reply *r = &q->items[(q->first + q->count++) % TOLK_NET_REPLIES];
    *r = (struct tolk_net_reply){.kind = kind};
    snprintf(r->request, sizeof r->request, "%s", request ? request : "");
    return r;
}

int tolk_net_reply_error(struct lws *wsi, struct tolk_net_replies *q, const char *request,
                         const char *code, const char *fmt, ...)
{
    struct tolk_net_reply *r = tolk_net_queue_reply(q, TOLK_NET_REPLY_ERROR, request);
    if (!r)
        return tolk_net_close(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many bad messages");
    r->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    lws_callback_on_writable(wsi);
    return 0;
}

struct tolk_net_reply tolk_net_next_reply(struct tolk_net_replies *q)
{
    struct tolk_net_reply r = q->items[q->first];
    q->first = (q->first + 1) % TOLK_NET_REPLIES;
    q->count--;
    return r;
}

json_t *tolk_net_error_json(const struct tolk_net_reply *r)
{
    json_t *msg = json_pack("{s:s, s:s, s:o}", "type", "error", "code", r->code, "message",
                            tolk_net_text_or(r->message, r->code));
    if (msg && r->request[0])
        json_object_set_new(msg, "request", json_string(r->request));
    if (msg && r->detail_key)
        json_object_set_new(msg, r->detail_key, json_integer(r->detail));
    return msg;
}

int tolk_net_receive(struct lws *wsi, struct tolk_rx *rx, struct tolk_net_replies *q,
                     const char *in, size_t len,
                     int (*handle)(struct lws *wsi, void *session, const char *msg, size_t len),
                     void *session)
{
    const char *msg = NULL;
    size_t msg_len = 0;
    switch (tolk_rx_feed(rx, wsi, in, len, &msg, &msg_len)) {
    case TOLK_RX_PARTIAL: return 0;
    case TOLK_RX_TEXT: return handle(wsi, session, msg, msg_len);
    case TOLK_RX_BINARY:
        return tolk_net_reply_error(wsi, q, NULL, "binary_not_supported",
                                    "the server takes JSON text messages only");
    case TOLK_RX_TOO_LARGE:
        return tolk_net_close(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message over 16 KiB");
    default: return -1;
    }
}
