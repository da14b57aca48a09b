/* Test listener clients on one libwebsockets client context (see listen_client.h).
 * Everything, the lws callbacks included, runs on the test's main thread. */
#include "listen_client.h"

#include <errno.h>
#include <libwebsockets.h>
#include <opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tolk/protocol.h"

#define MAX_PACKETS_PER_MESSAGE 64
#define OPUS_MAX_FRAME 5760 /* 120 ms at 48 kHz */

struct outmsg {
    struct outmsg *next;
    size_t len;
    bool binary;
    unsigned char buf[]; /* LWS_PRE + len */
};

struct tolk_client {
    char name[64];
    char host[64];
    struct lws *wsi; /* NULL once lws destroyed it */
    enum tolk_client_state state;
    char error[256];
    int close_code;
    char close_reason[128];
    char protocol[64];
    int frame_ms;
    bool want_close;
    OpusDecoder *dec;
    struct outmsg *out_head, *out_tail;

    unsigned char *rx; /* message being assembled from fragments */
    size_t rx_len, rx_cap;
    bool rx_binary;

    struct tolk_client_packet *packets;
    size_t packet_count, packet_cap;
    struct tolk_client_text *texts;
    size_t text_count, text_cap;
    float *pcm;
    size_t pcm_len, pcm_cap;
    size_t bad_messages, bad_packets;
};

static struct lws_context *context;
static bool tls_next; /* the next connections use TLS (wss://) */
static lws_sorted_usec_list_t tick;
static struct tolk_client **clients;
static size_t client_count;

static int64_t now_us(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static void on_text(struct tolk_client *c)
{
    if (grow((void **)&c->texts, &c->text_cap, c->text_count + 1, sizeof *c->texts) < 0)
        return;
    struct tolk_client_text *t = &c->texts[c->text_count++];
    t->raw = malloc(c->rx_len + 1);
    if (t->raw) {
        memcpy(t->raw, c->rx, c->rx_len);
        t->raw[c->rx_len] = 0;
    }
    t->json = json_loadb((const char *)c->rx, c->rx_len, 0, NULL);
    t->packets_before = c->packet_count;
    t->arrival_mono_us = now_us(CLOCK_MONOTONIC);
}

static void decode_packet(struct tolk_client *c, const uint8_t *pkt, uint16_t len,
                          struct tolk_client_packet *rec)
{
    rec->pcm_offset = c->pcm_len;
    rec->pcm_samples = -1;
    if (grow((void **)&c->pcm, &c->pcm_cap, c->pcm_len + OPUS_MAX_FRAME, sizeof *c->pcm) < 0)
        return;
    int n = opus_decode_float(c->dec, pkt, len, c->pcm + c->pcm_len, OPUS_MAX_FRAME, 0);
    rec->pcm_samples = n;
    if (n > 0)
        c->pcm_len += (size_t)n;
    if (n != c->frame_ms * 48)
        c->bad_packets++;
}

static void on_binary(struct tolk_client *c)
{
    struct tolk_frame_header h;
    const uint8_t *pkts[MAX_PACKETS_PER_MESSAGE];
    uint16_t lens[MAX_PACKETS_PER_MESSAGE];
    size_t count = 0;
    if (tolk_frame_parse(c->rx, c->rx_len, &h, pkts, lens, MAX_PACKETS_PER_MESSAGE, &count) != 0 ||
        count == 0) {
        c->bad_messages++;
        return;
    }
    int64_t mono = now_us(CLOCK_MONOTONIC), wall = now_us(CLOCK_REALTIME);
    for (size_t i = 0; i < count; i++) {
        if (grow((void **)&c->packets, &c->packet_cap, c->packet_count + 1, sizeof *c->packets) < 0)
            return;
        struct tolk_client_packet *p = &c->packets[c->packet_count];
        p->channel = h.channel;
        p->flags = h.flags;
        p->seq = h.seq + (uint32_t)i;
        p->capture_us = (int64_t)h.capture_us + (int64_t)i * c->frame_ms * 1000;
        p->arrival_mono_us = mono;
        p->arrival_wall_us = wall;
        p->texts_before = c->text_count;
        decode_packet(c, pkts[i], lens[i], p);
        c->packet_count++;
    }
}

static void on_receive(struct lws *wsi, struct tolk_client *c, const void *in, size_t len)
{
    if (c->rx_len == 0)
        c->rx_binary = lws_frame_is_binary(wsi);
    if (grow((void **)&c->rx, &c->rx_cap, c->rx_len + len + 1, 1) < 0)
        return;
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return;
    if (c->rx_binary)
        on_binary(c);
    else
        on_text(c);
    c->rx_len = 0;
}

static int on_writeable(struct lws *wsi, struct tolk_client *c)
{
    if (c->want_close) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
        return -1;
    }
    struct outmsg *m = c->out_head;
    if (!m)
        return 0;
    c->out_head = m->next;
    if (!c->out_head)
        c->out_tail = NULL;
    int n = lws_write(wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    free(m);
    if (n < 0)
        return -1;
    if (c->out_head)
        lws_callback_on_writable(wsi);
    return 0;
}

static void on_peer_close(struct tolk_client *c, const unsigned char *in, size_t len)
{
    if (len >= 2) {
        c->close_code = (in[0] << 8) | in[1];
        size_t n = len - 2 < sizeof c->close_reason - 1 ? len - 2 : sizeof c->close_reason - 1;
        memcpy(c->close_reason, in + 2, n);
        c->close_reason[n] = 0;
    } else if (c->close_code == 0) {
        c->close_code = LWS_CLOSE_STATUS_NO_STATUS;
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct tolk_client *c = user;
    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        c->state = TOLK_CLIENT_FAILED;
        snprintf(c->error, sizeof c->error, "%s", in ? (const char *)in : "connection error");
        c->wsi = NULL;
        break;
    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH: /* the answer's headers are still here */
        if (lws_hdr_copy(wsi, c->protocol, sizeof c->protocol, WSI_TOKEN_PROTOCOL) < 0)
            c->protocol[0] = 0;
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->state = TOLK_CLIENT_OPEN;
        if (c->out_head || c->want_close)
            lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_receive(wsi, c, in, len);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(wsi, c);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        on_peer_close(c, in, len);
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        c->state = c->state == TOLK_CLIENT_CONNECTING ? TOLK_CLIENT_FAILED : TOLK_CLIENT_CLOSED;
        c->wsi = NULL;
        break;
    case LWS_CALLBACK_WSI_DESTROY:
        if (c->state == TOLK_CLIENT_CONNECTING)
            c->state = TOLK_CLIENT_FAILED;
        else if (c->state == TOLK_CLIENT_OPEN)
            c->state = TOLK_CLIENT_CLOSED;
        c->wsi = NULL;
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {.name = "tolk-test", .callback = callback, .rx_buffer_size = 65536},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_tick(lws_sorted_usec_list_t *sul)
{
    lws_sul_schedule(context, 0, &tick, on_tick, 10 * LWS_US_PER_MS);
}

int tolk_client_init(void)
{
    return tolk_client_init_tls(NULL);
}

int tolk_client_init_tls(const char *ca_file)
{
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    if (ca_file) {
        info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = ca_file;
    }
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    info.fd_limit_per_thread = 256;
    context = lws_create_context(&info);
    if (!context)
        return -ENOMEM;
    lws_sul_schedule(context, 0, &tick, on_tick, 10 * LWS_US_PER_MS);
    return 0;
}

static void free_client(struct tolk_client *c)
{
    while (c->out_head) {
        struct outmsg *m = c->out_head;
        c->out_head = m->next;
        free(m);
    }
    for (size_t i = 0; i < c->text_count; i++) {
        json_decref(c->texts[i].json);
        free(c->texts[i].raw);
    }
    if (c->dec)
        opus_decoder_destroy(c->dec);
    free(c->texts);
    free(c->packets);
    free(c->pcm);
    free(c->rx);
    free(c);
}

void tolk_client_fini(void)
{
    if (context) {
        lws_sul_cancel(&tick);
        lws_context_destroy(context);
        context = NULL;
    }
    for (size_t i = 0; i < client_count; i++)
        free_client(clients[i]);
    free(clients);
    clients = NULL;
    client_count = 0;
}

int tolk_client_open(struct tolk_client **out, const char *name, int port, const char *path,
                     bool subprotocol, int frame_ms)
{
    return tolk_client_open_protocol(out, name, port, path,
                                     subprotocol ? TOLK_PROTOCOL_SUBPROTOCOL : NULL, frame_ms);
}

int tolk_client_open_protocol(struct tolk_client **out, const char *name, int port,
                              const char *path, const char *protocol, int frame_ms)
{
    struct tolk_client **more = realloc(clients, (client_count + 1) * sizeof *clients);
    if (!more)
        return -ENOMEM;
    clients = more;
    struct tolk_client *c = calloc(1, sizeof *c);
    int err = 0;
    if (!c)
        return -ENOMEM;
    c->dec = opus_decoder_create(48000, 1, &err);
    if (!c->dec) {
        free(c);
        return -ENOMEM;
    }
    clients[client_count++] = c;
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->host, sizeof c->host, "127.0.0.1:%d", port);
    c->frame_ms = frame_ms;
    c->state = TOLK_CLIENT_CONNECTING;

    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = context;
    i.address = "127.0.0.1";
    i.port = port;
    i.path = path;
    i.host = c->host;
    i.origin = c->host;
    i.protocol = protocol;
    /* The chain is checked against the test's CA; the name is not, as the address is an IP. */
    i.ssl_connection = tls_next ? LCCSCF_USE_SSL | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK : 0;
    i.local_protocol_name = protocols[0].name;
    i.ietf_version_or_minus_one = -1;
    i.userdata = c;
    i.pwsi = &c->wsi;
    if (!lws_client_connect_via_info(&i) && c->state == TOLK_CLIENT_CONNECTING) {
        c->state = TOLK_CLIENT_FAILED;
        snprintf(c->error, sizeof c->error, "lws_client_connect_via_info failed");
    }
    *out = c;
    return 0;
}

void tolk_client_close(struct tolk_client *c)
{
    c->want_close = true;
    if (c->wsi && c->state == TOLK_CLIENT_OPEN)
        lws_callback_on_writable(c->wsi);
}

bool tolk_client_service_until(int timeout_ms, bool (*pred)(void *arg), void *arg)
{
    int64_t deadline = now_us(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000;
    for (;;) {
        if (pred && pred(arg))
            return true;
        if (now_us(CLOCK_MONOTONIC) >= deadline)
            return pred == NULL;
        if (lws_service(context, 0) < 0)
            return false;
    }
}

static int enqueue(struct tolk_client *c, const void *data, size_t len, bool binary, char fill)
{
    struct outmsg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        return -ENOMEM;
    m->next = NULL;
    m->len = len;
    m->binary = binary;
    if (data)
        memcpy(m->buf + LWS_PRE, data, len);
    else
        memset(m->buf + LWS_PRE, fill, len);
    if (c->out_tail)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    if (c->wsi && c->state == TOLK_CLIENT_OPEN)
        lws_callback_on_writable(c->wsi);
    return 0;
}

int tolk_client_send_text(struct tolk_client *c, const char *text)
{
    return enqueue(c, text, strlen(text), false, 0);
}

int tolk_client_send_binary(struct tolk_client *c, const void *data, size_t len)
{
    return enqueue(c, data, len, true, 0);
}

int tolk_client_send_filler(struct tolk_client *c, size_t len)
{
    return enqueue(c, NULL, len, false, 'x');
}

int tolk_client_select(struct tolk_client *c, const char *id)
{
    char msg[128];
    snprintf(msg, sizeof msg, "{\"type\":\"select\",\"channel\":\"%s\"}", id);
    return tolk_client_send_text(c, msg);
}

const char *tolk_client_name(const struct tolk_client *c)
{
    return c->name;
}

enum tolk_client_state tolk_client_state(const struct tolk_client *c)
{
    return c->state;
}

const char *tolk_client_error(const struct tolk_client *c)
{
    return c->error;
}

int tolk_client_close_code(const struct tolk_client *c)
{
    return c->close_code;
}

const char *tolk_client_close_reason(const struct tolk_client *c)
{
    return c->close_reason;
}

const char *tolk_client_protocol(const struct tolk_client *c)
{
    return c->protocol;
}

size_t tolk_client_bad_messages(const struct tolk_client *c)
{
    return c->bad_messages;
}

size_t tolk_client_bad_packets(const struct tolk_client *c)
{
    return c->bad_packets;
}

const struct tolk_client_packet *tolk_client_packets(const struct tolk_client *c, size_t *count)
{
    *count = c->packet_count;
    return c->packets;
}

const struct tolk_client_text *tolk_client_texts(const struct tolk_client *c, size_t *count)
{
    *count = c->text_count;
    return c->texts;
}

const float *tolk_client_pcm(const struct tolk_client *c, size_t *samples)
{
    *samples = c->pcm_len;
    return c->pcm;
}

long tolk_client_find_text(const struct tolk_client *c, size_t from, const char *type,
                           const char *channel)
{
    for (size_t i = from; i < c->text_count; i++) {
        json_t *j = c->texts[i].json;
        const char *t = json_string_value(json_object_get(j, "type"));
        const char *ch = json_string_value(json_object_get(j, "channel"));
        if (t && strcmp(t, type) == 0 && (!channel || (ch && strcmp(ch, channel) == 0)))
            return (long)i;
    }
    return -1;
}

struct text_wait {
    struct tolk_client *c;
    size_t from;
    const char *type, *channel;
};

static bool text_arrived(void *arg)
{
    struct text_wait *w = arg;
    return tolk_client_find_text(w->c, w->from, w->type, w->channel) >= 0;
}

long tolk_client_wait_text(struct tolk_client *c, size_t from, const char *type,
                           const char *channel, int timeout_ms)
{
    struct text_wait w = {c, from, type, channel};
    tolk_client_service_until(timeout_ms, text_arrived, &w);
    return tolk_client_find_text(c, from, type, channel);
}

struct packet_wait {
    struct tolk_client *c;
    size_t count;
};

static bool packets_arrived(void *arg)
{
    struct packet_wait *w = arg;
    return w->c->packet_count >= w->count;
}

bool tolk_client_wait_packets(struct tolk_client *c, size_t count, int timeout_ms)
{
    struct packet_wait w = {c, count};
    return tolk_client_service_until(timeout_ms, packets_arrived, &w);
}

static bool is_closed(void *arg)
{
    struct tolk_client *c = arg;
    return c->state == TOLK_CLIENT_CLOSED || c->state == TOLK_CLIENT_FAILED;
}

bool tolk_client_wait_closed(struct tolk_client *c, int timeout_ms)
{
    return tolk_client_service_until(timeout_ms, is_closed, c);
}

static bool is_settled(void *arg)
{
    struct tolk_client *c = arg;
    return c->state != TOLK_CLIENT_CONNECTING;
}

bool tolk_client_wait_open(struct tolk_client *c, int timeout_ms)
{
    tolk_client_service_until(timeout_ms, is_settled, c);
    return c->state == TOLK_CLIENT_OPEN;
}

void tolk_client_use_tls(bool on)
{
    tls_next = on;
}
