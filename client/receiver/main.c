/* tolk-receiver: plays one tolk channel (listener protocol v1 over WebSocket, or an RTP/SRTP
 * stream from an SDP file) on a sound card with a low, steady latency.
 *
 * Threads: main (this file: wiring, status line, waits for SIGINT/SIGTERM, which every thread
 * blocks), the network thread (ws_input.c or rtp_input.c) and PortAudio's callback
 * (playout.c), joined by a lock-free ring of packet records (receiver.h).
 */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "playout.h"
#include "rtp_input.h"
#include "sdp.h"
#include "status.h"
#include "tolk/log.h"
#include "ws_input.h"

#define STALL_S 5 /* no audio callback for this long: the device is gone */

struct receiver {
    struct tolk_rx_state state;
    struct tolk_ring *ring;
    struct tolk_playout *playout;
    struct tolk_ws_input *ws;
    struct tolk_rtp_input *rtp;
    struct tolk_sdp sdp;
    char label[160];
};

static int start_input(struct receiver *r, const struct tolk_options *o)
{
    if (o->sdp) {
        struct tolk_rtp_input_config c = {.sdp = &r->sdp, .ring = r->ring, .state = &r->state};
        return tolk_rtp_input_start(&r->rtp, &c);
    }
    struct tolk_ws_input_config c = {
        .url = o->server, .channel = o->channel, .ring = r->ring, .state = &r->state};
    return tolk_ws_input_start(&r->ws, &c);
}

static int setup(struct receiver *r, const struct tolk_options *o)
{
    char err[256];
    if (o->sdp && tolk_sdp_load(o->sdp, &r->sdp, err, sizeof err) != 0) {
        tolk_log_error("%s: %s", o->sdp, err);
        return 2;
    }
    snprintf(r->label, sizeof r->label, "%s", o->sdp ? (r->sdp.name[0] ? r->sdp.name : "rtp")
                                                     : o->channel);
    tolk_rx_state_init(&r->state);
    if (tolk_ring_create(&r->ring, sizeof(struct tolk_rx_record) * TOLK_RX_RING_RECORDS) != 0)
        return 1;
    if (start_input(r, o) != 0) /* first: its ports are bound before the device shows up */
        return 2;
    int frame_ms = o->sdp && r->sdp.ptime_ms >= 5 && r->sdp.ptime_ms <= 60 ? r->sdp.ptime_ms : 20;
    struct tolk_playout_config pc = {.device = o->device,
                                     .latency_ms = o->latency_ms,
                                     .frame_ms = frame_ms,
                                     .fec = o->sdp != NULL,
                                     .ring = r->ring,
                                     .state = &r->state};
    if (tolk_playout_create(&r->playout, &pc) != 0)
        return 1;
    tolk_log_info("output: %s", tolk_playout_describe(r->playout));
    return tolk_playout_start(r->playout) == 0 ? 0 : 1;
}

/* Status until SIGINT or SIGTERM (0), or until the device stops calling back (3). */
static int wait_loop(struct receiver *r, const sigset_t *sigs)
{
    bool tty = isatty(STDOUT_FILENO);
    struct timespec period = {.tv_sec = tty ? 0 : 1, .tv_nsec = tty ? 250000000 : 0};
    unsigned long long last_callbacks = 0;
    struct timespec now, progress;
    clock_gettime(CLOCK_MONOTONIC, &progress);
    for (;;) {
        if (sigtimedwait(sigs, NULL, &period) > 0)
            break;
        tolk_status_print(stdout, tty, r->label, &r->state);
        unsigned long long cb = atomic_load(&r->state.audio.callbacks);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (cb != last_callbacks)
            progress = now;
        last_callbacks = cb;
        if (now.tv_sec - progress.tv_sec >= STALL_S) {
            tolk_status_finish(stdout, tty);
            tolk_log_error("the output device stopped calling back for %d s; exiting", STALL_S);
            return 3;
        }
    }
    tolk_status_finish(stdout, tty);
    return 0;
}

static void teardown(struct receiver *r)
{
    tolk_ws_input_destroy(r->ws);
    tolk_rtp_input_destroy(r->rtp);
    tolk_playout_destroy(r->playout); /* stops the stream first */
    tolk_ring_destroy(r->ring);
}

int main(int argc, char **argv)
{
    struct tolk_options o;
    if (tolk_options_parse(&o, argc, argv) != 0)
        return 2;
    if (o.help) {
        tolk_options_usage("tolk-receiver");
        return 0;
    }
    if (o.version) {
        printf("tolk-receiver %s\n", TOLK_VERSION);
        return 0;
    }
    if (o.list_devices)
        return tolk_playout_list_devices(stdout) == 0 ? 0 : 1;

    sigset_t sigs; /* blocked before any thread starts, so every thread inherits it */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    static struct receiver r;
    int rc = setup(&r, &o);
    if (rc == 0)
        rc = wait_loop(&r, &sigs);
    if (rc == 3)
        _exit(3); /* a dead device may hang PortAudio's close: leave it to the OS */
    teardown(&r);
    return rc;
}
