/* A test listener: libwebsockets client for the /listen WebSocket (listener protocol v1).
 *
 * Every client of the process shares one lws client context. Text messages are kept with their
 * parsed JSON; every binary message is parsed with tolk_frame_parse() and every Opus packet in it
 * is decoded (48 kHz mono) into the client's PCM buffer, with one record per packet.
 *
 * Single-threaded: lws callbacks run inside tolk_client_service_until(), on the test's main
 * thread, which is also the only thread that reads the records. Pointers returned by the
 * accessors stay valid until the next service call.
 */
#ifndef TOLK_TESTS_LISTEN_CLIENT_H
#define TOLK_TESTS_LISTEN_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tolk_client_state {
    TOLK_CLIENT_CONNECTING,
    TOLK_CLIENT_OPEN,
    TOLK_CLIENT_CLOSED, /* was open, then closed */
    TOLK_CLIENT_FAILED, /* never opened */
};

struct tolk_client_packet {
    uint16_t channel;
    uint8_t flags;
    uint32_t seq;
    int64_t capture_us;      /* server wall clock, from the header (+ frame_ms per packet) */
    int64_t arrival_mono_us; /* our monotonic clock */
    int64_t arrival_wall_us; /* our wall clock */
    size_t pcm_offset;       /* first decoded sample in tolk_client_pcm() */
    int pcm_samples;         /* decoded samples, or the negative Opus error */
    size_t texts_before;     /* text messages received before this packet */
};

struct tolk_client_text {
    json_t *json;           /* NULL if the message is not valid JSON */
    char *raw;              /* NUL-terminated */
    size_t packets_before;  /* packets received before this message */
    int64_t arrival_mono_us;
};

struct tolk_client;

/* Creates the shared context. */
int tolk_client_init(void);
/* The same, able to connect over TLS, trusting the CA in ca_file (PEM). */
int tolk_client_init_tls(const char *ca_file);
/* Connections opened from now on use TLS (wss://) when on (needs tolk_client_init_tls). */
void tolk_client_use_tls(bool on);
/* Destroys the context and frees every client. */
void tolk_client_fini(void);

/* Connects to ws://127.0.0.1:port<path> (path like "/listen?channel=fr"), asking for the
 * tolk.listen.v1 subprotocol if subprotocol is true. frame_ms tells the capture time step per
 * packet of a multi-packet message. The connection proceeds while the loop is serviced. */
int tolk_client_open(struct tolk_client **out, const char *name, int port, const char *path,
                     bool subprotocol, int frame_ms);
/* The same with any subprotocol (NULL for none), e.g. tolk.booth.v1 for a booth console. */
int tolk_client_open_protocol(struct tolk_client **out, const char *name, int port,
                              const char *path, const char *protocol, int frame_ms);
/* Starts a normal close; the client stays readable. */
void tolk_client_close(struct tolk_client *c);

/* Services every client until pred(arg) is true (returns true) or timeout_ms passes (false).
 * pred may be NULL: services for the whole timeout. */
bool tolk_client_service_until(int timeout_ms, bool (*pred)(void *arg), void *arg);

/* Queue a message; sent on a later WRITEABLE, one lws_write each. */
int tolk_client_send_text(struct tolk_client *c, const char *text);
int tolk_client_send_binary(struct tolk_client *c, const void *data, size_t len);
/* Sends a text message of len bytes of filler ('x'), e.g. an oversized one. */
int tolk_client_send_filler(struct tolk_client *c, size_t len);
/* {"type":"select","channel":id} */
int tolk_client_select(struct tolk_client *c, const char *id);

const char *tolk_client_name(const struct tolk_client *c);
enum tolk_client_state tolk_client_state(const struct tolk_client *c);
const char *tolk_client_error(const struct tolk_client *c); /* why it FAILED */
/* Close code from the server's close frame (0 if none) and its reason. */
int tolk_client_close_code(const struct tolk_client *c);
const char *tolk_client_close_reason(const struct tolk_client *c);
/* Sec-WebSocket-Protocol of the handshake answer ("" if none). */
const char *tolk_client_protocol(const struct tolk_client *c);
/* Binary messages that tolk_frame_parse() refused, and packets that did not decode to
 * frame_ms of audio. */
size_t tolk_client_bad_messages(const struct tolk_client *c);
size_t tolk_client_bad_packets(const struct tolk_client *c);

const struct tolk_client_packet *tolk_client_packets(const struct tolk_client *c, size_t *count);
const struct tolk_client_text *tolk_client_texts(const struct tolk_client *c, size_t *count);
const float *tolk_client_pcm(const struct tolk_client *c, size_t *samples);

/* First text message at index >= from whose "type" is type and, if channel is not NULL, whose
 * "channel" is channel. -1 if none. */
long tolk_client_find_text(const struct tolk_client *c, size_t from, const char *type,
                           const char *channel);
/* The same, servicing the loop until it arrives or timeout_ms passes. */
long tolk_client_wait_text(struct tolk_client *c, size_t from, const char *type,
                           const char *channel, int timeout_ms);
/* Services until the client has at least count packets (true) or timeout_ms passes. */
bool tolk_client_wait_packets(struct tolk_client *c, size_t count, int timeout_ms);
/* Services until the client is CLOSED or FAILED (true) or timeout_ms passes. */
bool tolk_client_wait_closed(struct tolk_client *c, int timeout_ms);
/* Services until the client is OPEN (true), or it failed or timeout_ms passed. */
bool tolk_client_wait_open(struct tolk_client *c, int timeout_ms);

#endif
