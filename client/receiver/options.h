/* tolk-receiver's command line. Main thread. */
#ifndef TOLK_OPTIONS_H
#define TOLK_OPTIONS_H

#include <stdbool.h>

struct tolk_options {
    const char *server;  /* URL; default ws://127.0.0.1:8080 */
    const char *channel; /* default floor */
    const char *device;  /* NULL = PortAudio's default output */
    const char *sdp;     /* RTP/SRTP instead of WebSocket */
    int latency_ms;      /* jitter buffer floor */
    bool list_devices, help, version;
};

/* Fills o from argv. Returns 0, or TOLK_ECONFIG after printing what is wrong to stderr. */
int tolk_options_parse(struct tolk_options *o, int argc, char **argv);
void tolk_options_usage(const char *prog);

#endif
