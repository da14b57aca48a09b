/* WebSocket input: listener protocol v1 (docs/protocol.md) with a libwebsockets client on a
 * thread of its own, ws:// or wss://, reconnecting by itself. */
#ifndef TOLK_WS_INPUT_H
#define TOLK_WS_INPUT_H

#include "receiver.h"

struct tolk_ws_input;

struct tolk_ws_input_config {
    const char *url;     /* ws|wss|http|https://HOST[:PORT][/PATH]; /listen if no path */
    const char *channel; /* channel id */
    struct tolk_ring *ring;      /* records out (this input is its only writer) */
    struct tolk_rx_state *state; /* `net` written here; `audio` read for the server report */
};

/* Parses the URL, creates the client context and starts the thread; TOLK_ECONFIG (logged) for
 * a URL it cannot use. */
int tolk_ws_input_start(struct tolk_ws_input **out, const struct tolk_ws_input_config *cfg);
/* Stops the thread (closing the connection) and frees everything; NULL is a no-op. */
void tolk_ws_input_destroy(struct tolk_ws_input *in);

#endif
