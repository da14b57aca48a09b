/* The technicians' token: who may open /tech, /api (but its public parts) and /metrics.
 *
 * The token is accepted from a cookie `tolk_tech` (the dashboard's browser), an
 * `Authorization: Bearer` header (scripts, Prometheus) or a `token=` URL argument (the first
 * visit, and any client that can set nothing else). Compared in constant time.
 *
 * Threads: the service thread of the request.
 */
#ifndef TOLK_NET_AUTH_H
#define TOLK_NET_AUTH_H

#include <libwebsockets.h>
#include <stdbool.h>

#define TOLK_AUTH_COOKIE "tolk_tech"

enum tolk_auth {
    TOLK_AUTH_NONE,   /* no valid token */
    TOLK_AUTH_HEADER, /* by cookie or Authorization header */
    TOLK_AUTH_QUERY,  /* by ?token= (a page visit then sets the cookie and redirects) */
};

enum tolk_auth tolk_net_auth(struct lws *wsi, const char *token);

#endif
