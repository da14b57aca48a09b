/* Private to server/net: the state shared by server.c (contexts, threads, accept), listen.c
 * (the /listen protocol), booth.c (the /booth console protocol) and status.c (/api).
 *
 * Threads: struct tolk_net is filled on the main thread by tolk_net_create() and is read-only
 * afterwards, except for its atomics (stop flag, listener counts), which every service thread
 * updates. A struct tolk_net_thread belongs to one lws context: once its service thread runs,
 * only that thread touches the fields marked "service thread"; the main thread touches them
 * again only after joining it.
 */
#ifndef TOLK_NET_PRIVATE_H
#define TOLK_NET_PRIVATE_H

#include <jansson.h>
#include <libwebsockets.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine/engine.h"
#include "net/reports.h"
#include "tolk/protocol.h"

#define TOLK_NET_BATCH 5        /* packets per audio message, at most */
#define TOLK_NET_PREROLL_MS 40  /* a new selection starts this far behind the live edge */
#define TOLK_NET_TEXT_MAX 16384 /* the largest text message the server sends (hello) */
#define TOLK_NET_AUDIO_MAX \
    (TOLK_FRAME_HEADER_SIZE + TOLK_NET_BATCH * (2 + TOLK_OPUS_MAX_PACKET))
#define TOLK_NET_SCRATCH \
    (LWS_PRE + (TOLK_NET_TEXT_MAX > TOLK_NET_AUDIO_MAX ? TOLK_NET_TEXT_MAX : TOLK_NET_AUDIO_MAX))

#define TOLK_NET_PROTOCOL_ACCEPT "tolk-accept" /* our listening socket, adopted as a raw fd */
#define TOLK_NET_PROTOCOL_API "tolk-api"       /* the /api mount */
#define TOLK_NET_PROTOCOL_BOOTH "tolk.booth.v1" /* the /booth console; clients must ask for it */
#define TOLK_NET_PROTOCOL_TECH "tolk.tech.v1"   /* the /tech dashboard socket; needs the token */

struct tolk_net;

struct tolk_net_thread {
    struct tolk_net *net; /* read-only */
    int index;
    /* ports[0]: the main address (HTTPS when TLS is configured); ports[1]: plain http for
     * listeners only, beside HTTPS (http_listen), when configured. */
    struct tolk_net_port {
        int fd;              /* SO_REUSEPORT socket; lws owns (and closes) it once adopted */
        bool adopted;        /* main thread, before start */
        struct lws *raw;     /* its raw-descriptor wsi in the vhost */
    } ports[2];
    int port_count;
    int reserve_fd;  /* service thread: spare fd, spent to shed a connection on EMFILE */
    struct lws_context *context;
    struct lws_vhost *vhost;
    pthread_t thread;
    bool started;

    /* service thread: the cached hello and the channel state versions it was built from */
    unsigned char *hello; /* LWS_PRE bytes of headroom, then the JSON */
    size_t hello_len;
    uint32_t hello_versions[TOLK_MAX_CHANNELS];

    struct tolk_reports reports; /* the receivers' stats reports of this context's listeners */

    /* written by the service thread, read by any (metrics) */
    atomic_uint_fast64_t bytes_sent;     /* WebSocket payload bytes written */
    atomic_uint_fast64_t frames_dropped; /* packets listeners skipped, too far behind */

    /* service thread: every outgoing message is built here, never in a per-frame malloc */
    unsigned char scratch[TOLK_NET_SCRATCH];
};

struct tolk_net {
    const struct tolk_config *cfg;
    struct tolk_engine *engine;
    int64_t created_ns; /* monotonic, for uptime */
    int preroll;        /* packets */
    uint64_t max_behind; /* packets */
    char web_root[PATH_MAX];
    struct lws_protocol_vhost_options mime[2];
    struct lws_http_mount mount_api, mount_metrics, mount_tech, mount_booth, mount_root;
    struct lws_protocols protocols[6];
    struct tolk_booths *booths; /* thread-safe itself (control/booth.h) */
    struct tolk_monitor *monitor; /* thread-safe readers (control/monitor.h) */
    struct tolk_events *events;   /* thread-safe (control/events.h) */
    struct tolk_rtp *rtp;         /* its counters are atomics (rtp/rtp.h); NULL = no RTP */
    char public_url[300];         /* tolk_net_public_url(), taken at start */

    atomic_bool stop;
    atomic_int listeners;                           /* WebSocket listeners, all contexts */
    atomic_int channel_listeners[TOLK_MAX_CHANNELS]; /* listeners per selected channel */

    int thread_count;
    struct tolk_net_thread *threads;
};

/* server.c: the context's thread struct from any wsi of it (service thread). */
struct tolk_net_thread *tolk_net_thread_of(struct lws *wsi);

/* listen.c: the /listen protocol (protocols[0], so it also sees plain HTTP housekeeping). */
int tolk_net_listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len);
size_t tolk_net_listen_session_size(void);

/* booth.c: the /booth WebSocket. */
int tolk_net_booth_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                            void *in, size_t len);
size_t tolk_net_booth_session_size(void);
/* A booth's `booth` message (shared by /booth and /tech). */
struct tolk_booth_state;
json_t *tolk_net_booth_json(const struct tolk_config *cfg, int booth,
                            const struct tolk_booth_state *st);

/* http.c: the /api, /metrics and /tech routes (one callback for the three mounts). */
int tolk_net_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len);
size_t tolk_net_api_session_size(void);
/* doc serialized (and released) into a malloc'd buffer with LWS_PRE bytes of headroom. */
unsigned char *tolk_net_json_body(json_t *doc, size_t *len);

/* status.c: the /api/status document, malloc'd with LWS_PRE bytes of headroom before it; *len
 * gets its length. NULL when out of memory. Service thread. */
unsigned char *tolk_net_status_json(struct tolk_net *net, size_t *len);
/* A level for JSON, which has no -inf: silence reads as the meter's floor; one decimal. */
double tolk_net_db(float db);

/* metrics.c: the /metrics text (Prometheus), with LWS_PRE bytes of headroom. */
unsigned char *tolk_net_metrics_text(struct tolk_net *net, size_t *len);

/* tech.c: the /tech WebSocket. */
int tolk_net_tech_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len);
size_t tolk_net_tech_session_size(void);

/* ws.c: helpers of every WebSocket protocol. write_json sends msg (released) as one text
 * message built in the thread's scratch buffer; close returns -1 for the callback. */
int tolk_net_write_json(struct lws *wsi, struct tolk_net_thread *t, json_t *msg);
int tolk_net_close(struct lws *wsi, int code, const char *reason);
/* json_string(text), or of instead when text is not UTF-8 (names from the config file). */
json_t *tolk_net_text_or(const char *text, const char *instead);
/* The request's path is exactly path (no query). */
bool tolk_net_is_path(struct lws *wsi, const char *path);

/* Replies a control protocol (/booth, /tech) owes a client: errors, and kinds of its own (a
 * welcome). Bounded: a client that floods bad messages is closed (1008), never buffered. */
#define TOLK_NET_REPLIES 8
#define TOLK_NET_REPLY_ERROR 0
struct tolk_net_reply {
    int kind;               /* TOLK_NET_REPLY_ERROR or the protocol's own */
    const char *code;       /* errors: a static string */
    char request[20];       /* the command's type, "" if unknown */
    char message[120];
    const char *detail_key; /* an extra integer field of the error, or NULL */
    int detail;
};
struct tolk_net_replies {
    struct tolk_net_reply items[TOLK_NET_REPLIES];
    unsigned first, count;
};
/* A slot at the end of the queue, or NULL when it is full. */
struct tolk_net_reply *tolk_net_queue_reply(struct tolk_net_replies *q, int kind,
                                            const char *request);
/* Queues an error and asks for a write; returns 0, or -1 (close) when the queue is full. */
int tolk_net_reply_error(struct lws *wsi, struct tolk_net_replies *q, const char *request,
                         const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
struct tolk_net_reply tolk_net_next_reply(struct tolk_net_replies *q); /* q->count > 0 */
json_t *tolk_net_error_json(const struct tolk_net_reply *r);
/* Feeds a RECEIVE into rx; a whole text message goes to handle(wsi, session, msg, len), a binary
 * one gets an error reply, one over 16 KiB closes with 1009. Returns the callback's result. */
struct tolk_rx;
int tolk_net_receive(struct lws *wsi, struct tolk_rx *rx, struct tolk_net_replies *q,
                     const char *in, size_t len,
                     int (*handle)(struct lws *wsi, void *session, const char *msg, size_t len),
                     void *session);

/* tls.c: the certificate and key load, match, and are valid now; logs what is wrong with them
 * (file and reason) and returns TOLK_ENET if anything is. Main thread, at start. */
int tolk_net_tls_check(const struct tolk_config *cfg);
/* Booth and tech logins over this connection are allowed: TLS, a loopback peer, or the config
 * allows plain http (allow_insecure_control). */
bool tolk_net_control_allowed(struct lws *wsi, const struct tolk_config *cfg);
/* A connection on the plain-http port beside HTTPS (http_listen): listener page and /listen
 * only. */
bool tolk_net_listeners_only(struct lws *wsi, const struct tolk_config *cfg);

/* url.c: a channel's listener URL (channel NULL: the public URL). */
void tolk_net_channel_url(const struct tolk_net *net, const char *channel, char *url, size_t len);

#endif
