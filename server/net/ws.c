/* Helpers every WebSocket protocol of the server shares: sending a JSON message from the
 * thread's scratch buffer, closing with a reason.
 *
 * Threads: the connection's service thread.
 */
#include <string.h>

#include "net/net_private.h"
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
