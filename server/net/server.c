/* The network layer's frame: one lws context per service thread, all on one port.
 *
 * Debian's libwebsockets 4.1.6 sets SO_REUSEPORT on its own listening socket only when one
 * context has several service threads, which LWS_MAX_SMP = 1 rules out: a second context on the
 * same port fails with EADDRINUSE even with LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE. So each
 * context gets a listening socket made here with SO_REUSEPORT (the kernel spreads connections
 * over them), adopted into the context as a raw descriptor; its service thread accepts on it and
 * hands each connection to lws with lws_adopt_socket_vhost(), as lws's own listener would.
 *
 * Threads: tolk_net_create()/tolk_net_destroy() on the main thread; each context is serviced by
 * its own thread (service_main), which runs every callback of that context; tolk_net_wake() runs
 * on the engine thread and only calls lws_cancel_service().
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"
#include "net/net_private.h"
#include "tolk/clock.h"
#include "tolk/error.h"
#include "tolk/log.h"

#define ACCEPT_BURST 64                /* accepts per wake-up, so a flood can not starve the rest */
#define USER_TIMEOUT_MS 30000          /* unacknowledged data this old: the peer is gone */
#define HEADER_POOL 128                /* concurrent HTTP requests (upgrades) per context */
#define EMFILE_LOG_INTERVAL_NS 5000000000LL

/* ---- addresses and sockets (main thread) ---- */

/* One address the server listens on, resolved. */
struct address {
    const char *host;
    int port;
    struct sockaddr_storage sa;
    socklen_t salen;
    char where[128]; /* HOST:PORT, for messages */
};

static int resolve(struct address *ad, const char *host, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[16];
    bool v6 = strchr(host, ':') != NULL;
    ad->host = host;
    ad->port = port;
    snprintf(ad->where, sizeof ad->where, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host[0] && strcmp(host, "*") ? host : NULL, service, &hints, &res);
    if (rc != 0 || !res) {
        tolk_log_error("cannot listen on %s: %s", ad->where, rc ? gai_strerror(rc) : "no address");
        return TOLK_ENET;
    }
    memcpy(&ad->sa, res->ai_addr, res->ai_addrlen);
    ad->salen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* A TCP socket bound to sa. shared: SO_REUSEPORT and listening, for a context; otherwise a
 * probe that fails if anything (even another tolk-server with SO_REUSEPORT) holds the port. */
static int open_socket(const struct sockaddr_storage *sa, socklen_t salen, bool shared, int *out)
{
    int one = 1, rc = 0;
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        (shared && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
        bind(fd, (const struct sockaddr *)sa, salen) < 0 ||
        (shared && listen(fd, SOMAXCONN) < 0))
        rc = -errno;
    if (rc < 0)
        close(fd);
    else
        *out = fd;
    return rc;
}

static int probe_port(const struct address *ad)
{
    int fd = -1;
    int rc = open_socket(&ad->sa, ad->salen, false, &fd);
    if (rc < 0) {
        tolk_log_error("cannot listen on %s: %s", ad->where, strerror(-rc));
        return TOLK_ENET;
    }
    close(fd);
    return 0;
}

/* ---- accepting (service thread) ---- */

static void tune_socket(int fd)
{
    int one = 1, timeout = USER_TIMEOUT_MS;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout);
}

/* Out of descriptors: the pending connection would keep the listening socket readable and the
 * thread spinning. Spend the reserve descriptor to accept and drop it, then take it back. */
static void shed_connection(struct tolk_net_thread *t, int listen_fd)
{
    static _Thread_local int64_t last_log_ns;
    int64_t now = tolk_clock_mono_ns();
    if (now - last_log_ns > EMFILE_LOG_INTERVAL_NS) {
        tolk_log_warn("out of file descriptors: refusing new connections");
        last_log_ns = now;
    }
    if (t->reserve_fd < 0)
        return;
    close(t->reserve_fd);
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    t->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Hands each waiting connection of a port to lws, in http mode. On the main port of a TLS
 * server lws does the TLS handshake first; the plain-http port beside it (ports[1]) is adopted
 * without TLS into the same vhost, and its connections are recognised as listeners-only by
 * being plain on a TLS server (tolk_net_listeners_only()). One vhost, not two: lws rebinds a
 * request to the first vhost whose port matches by its Host header, and adopted vhosts all
 * share the same "no listen" port, so a second vhost could not keep its requests. */
static void accept_pending(struct tolk_net_thread *t, const struct tolk_net_port *port, bool tls)
{
    int flags = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | (tls ? LWS_ADOPT_ALLOW_SSL : 0);
    for (int i = 0; i < ACCEPT_BURST; i++) {
        int fd = accept4(port->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == ECONNABORTED || errno == EINTR)
                continue;
            if (errno == EMFILE || errno == ENFILE)
                shed_connection(t, port->fd);
            return;
        }
        tune_socket(fd);
        lws_sock_file_fd_type sock = {.sockfd = fd};
        lws_adopt_descriptor_vhost(t->vhost, flags, sock, NULL, NULL); /* closes fd on failure */
    }
}

static int accept_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE: {
        struct tolk_net_thread *t = tolk_net_thread_of(wsi);
        for (int i = 0; i < t->port_count; i++)
            if (t->ports[i].raw == wsi)
                accept_pending(t, &t->ports[i], i == 0);
        return 0;
    }
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return 1; /* not a WebSocket subprotocol */
    default:
        return 0;
    }
}

/* ---- contexts and threads ---- */

struct tolk_net_thread *tolk_net_thread_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static void lws_log_emit(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    tolk_log(level == LLL_ERR ? TOLK_LOG_ERROR : TOLK_LOG_WARN, "lws: %.*s", (int)n, line);
}

/* The pages: the installed copy when this binary runs from outside its build tree and the copy
 * is there, else client/web of the source tree (a developer's run). */
static const char *default_web_root(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    bool in_build = false;
    if (n > 0) {
        exe[n] = '\0';
        in_build = strncmp(exe, TOLK_BUILD_TREE "/", sizeof TOLK_BUILD_TREE) == 0;
    }
    if (!in_build && access(TOLK_INSTALLED_WEB_ROOT "/index.html", R_OK) == 0)
        return TOLK_INSTALLED_WEB_ROOT;
    return TOLK_SOURCE_WEB_ROOT;
}

static void setup_routes(struct tolk_net *net)
{
    snprintf(net->web_root, sizeof net->web_root, "%s",
             net->cfg->web_root[0] ? net->cfg->web_root : default_web_root());
    if (access(net->web_root, R_OK | X_OK) != 0)
        tolk_log_warn("web root %s: %s; pages will not be found", net->web_root, strerror(errno));

    net->mime[0] = (struct lws_protocol_vhost_options){&net->mime[1], NULL, ".mjs", "text/javascript"};
    net->mime[1] = (struct lws_protocol_vhost_options){NULL, NULL, ".wasm", "application/wasm"};
    net->mount_root = (struct lws_http_mount){
        .mountpoint = "/", .mountpoint_len = 1, .origin = net->web_root, .def = "index.html",
        .origin_protocol = LWSMPRO_FILE, .extra_mimetypes = &net->mime[0]};
    /* GET /booth is the console page (the same path is its WebSocket): http.c serves it. */
    net->mount_booth = (struct lws_http_mount){
        .mount_next = &net->mount_root, .mountpoint = "/booth", .mountpoint_len = 6,
        .origin = TOLK_NET_PROTOCOL_API, .origin_protocol = LWSMPRO_CALLBACK};
    net->mount_tech = (struct lws_http_mount){
        .mount_next = &net->mount_booth, .mountpoint = "/tech", .mountpoint_len = 5,
        .origin = TOLK_NET_PROTOCOL_API, .origin_protocol = LWSMPRO_CALLBACK};
    net->mount_metrics = (struct lws_http_mount){
        .mount_next = &net->mount_tech, .mountpoint = "/metrics", .mountpoint_len = 8,
        .origin = TOLK_NET_PROTOCOL_API, .origin_protocol = LWSMPRO_CALLBACK};
    net->mount_api = (struct lws_http_mount){
        .mount_next = &net->mount_metrics, .mountpoint = "/api", .mountpoint_len = 4,
        .origin = TOLK_NET_PROTOCOL_API, .origin_protocol = LWSMPRO_CALLBACK};

    /* protocols[0] is the default for WebSocket clients that name no subprotocol. */
    net->protocols[0] = (struct lws_protocols){TOLK_PROTOCOL_SUBPROTOCOL, tolk_net_listen_callback,
                                               tolk_net_listen_session_size(), 0, 0, NULL, 0};
    net->protocols[1] = (struct lws_protocols){TOLK_NET_PROTOCOL_API, tolk_net_api_callback,
                                               tolk_net_api_session_size(), 0, 0, NULL, 0};
    net->protocols[2] = (struct lws_protocols){TOLK_NET_PROTOCOL_ACCEPT, accept_callback, 0, 0, 0,
                                               NULL, 0};
    net->protocols[3] = (struct lws_protocols){TOLK_NET_PROTOCOL_BOOTH, tolk_net_booth_callback,
                                               tolk_net_booth_session_size(), 0, 0, NULL, 0};
    net->protocols[4] = (struct lws_protocols){TOLK_NET_PROTOCOL_TECH, tolk_net_tech_callback,
                                               tolk_net_tech_session_size(), 0, 0, NULL, 0};
    net->protocols[5] = (struct lws_protocols){NULL, NULL, 0, 0, 0, NULL, 0};
}

static int net_alloc(struct tolk_net **out, const struct tolk_config *cfg,
                     struct tolk_engine *engine)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int count = cfg->threads > 0 ? cfg->threads : (cores > 0 ? (int)cores : 1);
    struct tolk_net *net = calloc(1, sizeof *net);
    struct tolk_net_thread *threads = calloc((size_t)count, sizeof *threads);
    if (!net || !threads) {
        free(net);
        free(threads);
        return -ENOMEM;
    }
    net->cfg = cfg;
    net->engine = engine;
    net->created_ns = tolk_clock_mono_ns();
    net->preroll = TOLK_NET_PREROLL_MS / cfg->frame_ms > 1 ? TOLK_NET_PREROLL_MS / cfg->frame_ms : 1;
    int behind = cfg->max_behind_ms / cfg->frame_ms;
    net->max_behind = (uint64_t)(behind > net->preroll ? behind : net->preroll + 1);
    net->thread_count = count;
    net->threads = threads;
    for (int i = 0; i < count; i++)
        threads[i] = (struct tolk_net_thread){.net = net, .index = i, .reserve_fd = -1,
                                              .ports = {{.fd = -1}, {.fd = -1}}};
    for (int i = 0; i < count; i++) {
        if (tolk_reports_init(&threads[i].reports, cfg->max_listeners) < 0) {
            tolk_net_destroy(net); /* reports_destroy copes with a table never made */
            return -ENOMEM;
        }
    }
    setup_routes(net);
    *out = net;
    return 0;
}

/* The context's vhost; tls: serve HTTPS with the configured certificate, HTTP/1.1 only
 * (WebSockets over HTTP/2 are not what the clients expect). */
static struct lws_vhost *make_vhost(struct tolk_net_thread *t, bool tls)
{
    const struct tolk_config *cfg = t->net->cfg;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.vhost_name = "tolk";
    info.protocols = t->net->protocols;
    info.mounts = &t->net->mount_api;
    if (tls) {
        info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT; /* else lws leaves TLS off */
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
        info.alpn = "http/1.1";
    }
    return lws_create_vhost(t->context, &info);
}

/* Opens the port's SO_REUSEPORT socket and adopts it into the vhost as a raw descriptor, whose
 * readability (LWS_CALLBACK_RAW_RX_FILE) means connections are waiting. */
static int open_port(struct tolk_net_thread *t, struct tolk_net_port *port,
                     const struct address *ad)
{
    int rc = open_socket(&ad->sa, ad->salen, true, &port->fd);
    if (rc < 0)
        return rc;
    lws_sock_file_fd_type fd = {.filefd = port->fd};
    /* On failure lws may or may not have closed the descriptor; it is left open rather than
     * risk closing a reused number (start-up fails anyway). */
    port->adopted = true;
    port->raw = lws_adopt_descriptor_vhost(t->vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                           TOLK_NET_PROTOCOL_ACCEPT, NULL);
    return port->raw ? 0 : TOLK_ENET;
}

static int open_context(struct tolk_net_thread *t, const struct address *ads, int count)
{
    const struct tolk_net *net = t->net;
    bool tls = net->cfg->tls_cert[0] != '\0';
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   (tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
    info.user = t;
    info.max_http_header_pool = HEADER_POOL;
    t->context = lws_create_context(&info);
    if (!t->context)
        return TOLK_ENET;
    t->vhost = make_vhost(t, tls);
    if (!t->vhost)
        return TOLK_ENET;
    t->port_count = count;
    t->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (int i = 0; i < count; i++) {
        int rc = open_port(t, &t->ports[i], &ads[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void *service_main(void *arg)
{
    struct tolk_net_thread *t = arg;
    while (!atomic_load_explicit(&t->net->stop, memory_order_acquire))
        if (lws_service(t->context, 0) < 0)
            break;
    return NULL;
}

static int start_threads(struct tolk_net *net, const struct address *ads, int count)
{
    for (int i = 0; i < net->thread_count; i++) {
        struct tolk_net_thread *t = &net->threads[i];
        int rc = open_context(t, ads, count);
        if (rc < 0) {
            tolk_log_error("cannot listen on %s: %s", ads[0].where,
                           rc == TOLK_ENET ? "libwebsockets refused the context" : strerror(-rc));
            return TOLK_ENET;
        }
        rc = pthread_create(&t->thread, NULL, service_main, t);
        if (rc != 0)
            return -rc;
        t->started = true;
        char name[16];
        snprintf(name, sizeof name, "tolk-net%d", i % 100);
        pthread_setname_np(t->thread, name);
    }
    return 0;
}

/* The main address, and the plain-http one for listeners when configured; each free. */
static int resolve_addresses(const struct tolk_config *cfg, struct address *ads, int *count)
{
    *count = cfg->http_port ? 2 : 1;
    int rc = resolve(&ads[0], cfg->listen_host, cfg->listen_port);
    if (rc == 0)
        rc = probe_port(&ads[0]);
    if (rc == 0 && *count > 1)
        rc = resolve(&ads[1], cfg->http_host, cfg->http_port);
    if (rc == 0 && *count > 1)
        rc = probe_port(&ads[1]);
    return rc;
}

int tolk_net_create(struct tolk_net **out, const struct tolk_config *cfg, struct tolk_engine *engine,
                    const struct tolk_net_deps *deps)
{
    struct address ads[2];
    int count = 0;
    struct tolk_net *net = NULL;
    *out = NULL;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

    int rc = cfg->tls_cert[0] ? tolk_net_tls_check(cfg) : 0;
    if (rc == 0)
        rc = resolve_addresses(cfg, ads, &count);
    if (rc == 0)
        rc = net_alloc(&net, cfg, engine);
    if (rc == 0) {
        net->booths = deps->booths;
        net->monitor = deps->monitor;
        net->events = deps->events;
        net->rtp = deps->rtp;
        tolk_net_public_url(cfg, net->public_url, sizeof net->public_url);
    }
    if (rc == 0)
        rc = start_threads(net, ads, count);
    if (rc < 0) {
        tolk_net_destroy(net);
        return rc;
    }
    tolk_log_info("listening on %s://%s/ (%d service threads, pages from %s)",
                  cfg->tls_cert[0] ? "https" : "http", ads[0].where, net->thread_count,
                  net->web_root);
    if (count > 1)
        tolk_log_info("listening on http://%s/ for listeners only", ads[1].where);
    *out = net;
    return 0;
}

void tolk_net_destroy(struct tolk_net *net)
{
    if (!net)
        return;
    atomic_store_explicit(&net->stop, true, memory_order_release);
    for (int i = 0; i < net->thread_count; i++)
        if (net->threads[i].started)
            lws_cancel_service(net->threads[i].context);
    for (int i = 0; i < net->thread_count; i++)
        if (net->threads[i].started)
            pthread_join(net->threads[i].thread, NULL);
    for (int i = 0; i < net->thread_count; i++) {
        struct tolk_net_thread *t = &net->threads[i];
        if (t->context)
            lws_context_destroy(t->context); /* closes every connection and the adopted socket */
        for (int p = 0; p < 2; p++)
            if (!t->ports[p].adopted && t->ports[p].fd >= 0)
                close(t->ports[p].fd);
        if (t->reserve_fd >= 0)
            close(t->reserve_fd);
        free(t->hello);
        tolk_reports_destroy(&t->reports);
    }
    free(net->threads);
    free(net);
}

int tolk_net_listener_count(const struct tolk_net *net, int channel)
{
    return atomic_load(&((struct tolk_net *)net)->channel_listeners[channel]);
}

/* Engine thread, after every tick. `started` and `context` were set before the engine thread
 * was created and change only after it has stopped. */
void tolk_net_wake(void *arg)
{
    struct tolk_net *net = arg;
    if (!net)
        return;
    for (int i = 0; i < net->thread_count; i++)
        if (net->threads[i].started)
            lws_cancel_service(net->threads[i].context);
}
