/* The network layer: libwebsockets on one port, one lws context and service thread per core.
 *
 * All contexts listen on the same address with SO_REUSEPORT, so the kernel spreads connections
 * over the cores. Each serves the static pages of client/web, /api/status, the /listen
 * WebSocket (listener protocol v1, listen.c) and the /booth console WebSocket (booth.c).
 *
 * Threads: create/destroy on the main thread. Each service thread owns its context and its
 * connections. tolk_net_wake() is the one entry point from other threads (the engine's tick):
 * it only calls lws_cancel_service() on each context.
 */
#ifndef TOLK_NET_NET_H
#define TOLK_NET_NET_H

#include <stddef.h>

struct tolk_config;
struct tolk_engine;
struct tolk_net;
struct tolk_booths;
struct tolk_monitor;
struct tolk_events;
struct tolk_rtp;

/* What the network layer shows and controls besides the engine; each must outlive it. */
struct tolk_net_deps {
    struct tolk_booths *booths;   /* /booth */
    struct tolk_monitor *monitor; /* alarms and history for /tech */
    struct tolk_events *events;   /* the event log for /tech */
    struct tolk_rtp *rtp;         /* RTP counters for /metrics; NULL when no channel streams */
};

/* Binds the port and starts the service threads. Returns TOLK_ENET if the port can't be bound. */
int tolk_net_create(struct tolk_net **out, const struct tolk_config *cfg, struct tolk_engine *engine,
                    const struct tolk_net_deps *deps);

/* The URL delegates open: [server] public_url, else http://LAN-ADDRESS:PORT/; ends with '/'
 * unless public_url has a path of its own. Any thread. */
void tolk_net_public_url(const struct tolk_config *cfg, char *url, size_t len);

/* Any thread: listeners on a channel now. */
int tolk_net_listener_count(const struct tolk_net *net, int channel);
void tolk_net_destroy(struct tolk_net *net);

/* Any thread, never blocks: new packets are ready. Signature fits tolk_engine_start()'s hook. */
void tolk_net_wake(void *net);

#endif
