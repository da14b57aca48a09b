/* Client message assembly (rx.h). A message that arrives whole (the usual case) is handed on
 * without a copy; only a fragmented one is copied into a buffer, freed once it is complete.
 *
 * Threads: the connection's service thread.
 */
#include "net/rx.h"

#include <stdlib.h>
#include <string.h>

#include "tolk/protocol.h"

void tolk_rx_reset(struct tolk_rx *rx)
{
    free(rx->buf);
    *rx = (struct tolk_rx){0};
}

enum tolk_rx_result tolk_rx_feed(struct tolk_rx *rx, struct lws *wsi, const char *in, size_t len,
                                 const char **msg, size_t *msg_len)
{
    bool first = !rx->open, final = lws_is_final_fragment(wsi);
    size_t offset = rx->len;
    if (first) {
        rx->open = true;
        rx->binary = lws_frame_is_binary(wsi);
    }
    rx->len += len;
    if (rx->len > TOLK_MAX_CLIENT_MESSAGE) {
        tolk_rx_reset(rx);
        return TOLK_RX_TOO_LARGE;
    }
    if (rx->binary) {
        if (final)
            tolk_rx_reset(rx);
        return final ? TOLK_RX_BINARY : TOLK_RX_PARTIAL;
    }
    if (first && final) {
        *msg = in;
        *msg_len = len;
        rx->open = false;
        rx->len = 0;
        return TOLK_RX_TEXT;
    }
    if (!rx->buf)
        rx->buf = malloc(TOLK_MAX_CLIENT_MESSAGE);
    if (!rx->buf) {
        tolk_rx_reset(rx);
        return TOLK_RX_NO_MEMORY;
    }
    memcpy(rx->buf + offset, in, len);
    if (!final)
        return TOLK_RX_PARTIAL;
    *msg = rx->buf;
    *msg_len = rx->len;
    rx->open = false; /* buf stays valid until the next feed or reset */
    rx->len = 0;
    return TOLK_RX_TEXT;
}
