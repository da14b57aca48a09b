/* Assertions shared by the integration tests about what a test listener received: the stream's
 * sequence, capture times and flags, the tone it carries, and the hello message. They fail the
 * test (TOLK_CHECK) with the client's name and the packet index. Test main thread only. */
#ifndef TOLK_TESTS_CHECKS_H
#define TOLK_TESTS_CHECKS_H

#include <jansson.h>
#include <stddef.h>

#include "listen_client.h"

enum tolk_expect_flag { TOLK_EXPECT_CLEAR, TOLK_EXPECT_SET, TOLK_EXPECT_ANY };

struct tolk_stream_expect {
    int channel;                   /* index in hello's list */
    int frame_ms;
    enum tolk_expect_flag fallback; /* FALLBACK flag on every packet */
    int allow_first_discontinuity; /* the first packet of the range may be flagged */
};

/* Packets [from, to): one channel, seq +1 each, capture time +frame_ms each, flags as expected,
 * never DISCONTINUITY (but maybe the first), each decoded to frame_ms of audio, and stamped with
 * a capture time shortly before arrival (server and test share the wall clock). Capture times
 * off the frame grid fail the test only in tolk_check_finish(). */
void tolk_check_stream(const struct tolk_client *c, size_t from, size_t to,
                       const struct tolk_stream_expect *e, const char *what);

/* The decoded audio of packets [from, to), after skip_ms, is a tone of hz (within 10 Hz) at a
 * level of a -12 dBFS sine (RMS -15 dBFS, within 4 dB). Returns the measured frequency. */
double tolk_check_tone(const struct tolk_client *c, size_t from, size_t to, int skip_ms,
                       double hz, const char *what);

/* Finds hello (it must be the first text message, before any audio) and checks the fixed
 * fields. Returns it (borrowed). */
json_t *tolk_check_hello(const struct tolk_client *c, int frame_ms, size_t channels);
/* Index of channel id in hello's list, or -1. */
int tolk_check_hello_index(json_t *hello, const char *id);

/* Polls GET /api/status (servicing clients meanwhile) until every channel has encoded frames,
 * at most timeout_ms: the engine runs. Fails the test otherwise. */
void tolk_check_engine_running(int port, int timeout_ms);
/* Fails the test if any earlier check found capture times off the frame grid. Call it last. */
void tolk_check_finish(void);

#endif
