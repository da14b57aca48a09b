/* A minimal WebSocket client on a plain blocking socket, for tests that must control exactly
 * when bytes are read (a stalled listener). Test main thread only. */
#ifndef TOLK_TESTS_RAWWS_H
#define TOLK_TESTS_RAWWS_H

#include <stddef.h>

struct tolk_rawws;

/* Connects to 127.0.0.1:port, does the handshake for path. rcvbuf > 0 sets SO_RCVBUF before
 * connecting. Returns 0 or -errno (-EPROTO if the answer is not 101). */
int tolk_rawws_open(struct tolk_rawws **out, int port, const char *path, int rcvbuf,
                    int timeout_ms);
void tolk_rawws_close(struct tolk_rawws *ws);
/* Reads one whole frame. Returns 1 and sets *opcode, *payload (valid until the next call) and
 * *len; 0 on timeout; -EPIPE when the server closed the connection; other -errno. */
int tolk_rawws_read(struct tolk_rawws *ws, int timeout_ms, int *opcode,
                    const unsigned char **payload, size_t *len);
/* Sends one masked text frame. */
int tolk_rawws_send_text(struct tolk_rawws *ws, const char *text);

#endif
