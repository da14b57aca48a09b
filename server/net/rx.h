/* Assembles a client's WebSocket message from the pieces lws delivers, within the 16 KiB limit
 * of the protocols. Shared by every WebSocket protocol of the server.
 *
 * Threads: a struct tolk_rx belongs to one connection, on its service thread.
 */
#ifndef TOLK_NET_RX_H
#define TOLK_NET_RX_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

struct tolk_rx {
    bool open;   /* a message is being received */
    bool binary;
    size_t len;
    char *buf;   /* only while a text message arrives in pieces; never over the limit */
};

enum tolk_rx_result {
    TOLK_RX_PARTIAL,   /* more pieces to come */
    TOLK_RX_TEXT,      /* *msg, *msg_len: a whole text message, valid until the next call */
    TOLK_RX_BINARY,    /* a whole binary message (its content is dropped) */
    TOLK_RX_TOO_LARGE, /* over the limit: close with 1009 */
    TOLK_RX_NO_MEMORY,
};

/* Feeds one LWS_CALLBACK_RECEIVE. */
enum tolk_rx_result tolk_rx_feed(struct tolk_rx *rx, struct lws *wsi, const char *in, size_t len,
                                 const char **msg, size_t *msg_len);
/* Frees what a connection still holds (on close). */
void tolk_rx_reset(struct tolk_rx *rx);

#endif
