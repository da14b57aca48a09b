/* tolk-server: command line, start-up order and shutdown. Main thread only.
 *
 * Start-up: load and validate the config (nothing starts on an error) → engine (sources,
 * encoders) → network (binds the port, service threads) → RTP sender → engine thread → wait
 * for SIGINT or SIGTERM. Signals are blocked in every thread and taken here with sigwait(), so
 * no handler runs inside real-time code.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio/device.h"
#include "config.h"
#include "control/booth.h"
#include "control/events.h"
#include "control/monitor.h"
#include "engine/engine.h"
#include "net/net.h"
#include "qr/qr.h"
#include "rtp/rtp.h"
#include "tolk/clock.h"
#include "tolk/error.h"
#include "tolk/log.h"

#define DEFAULT_CONFIG "config/tolk.conf"
#define INSTALLED_CONFIG TOLK_INSTALLED_CONFIG /* from cmake/Install.cmake */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: tolk-server [-c FILE] [--check-config] [--list-devices] [--sdp CHANNEL]\n"
            "                   [--verbose] [--version] [--help]\n"
            "\n"
            "Live simultaneous-interpretation audio server: captures the floor and the\n"
            "interpreter channels, encodes each once with Opus and streams the language each\n"
            "listener picks over WebSockets.\n"
            "\n"
            "  -c, --config FILE  configuration file (default " DEFAULT_CONFIG
            ", else " INSTALLED_CONFIG ")\n"
            "      --check-config validate the configuration and exit\n"
            "      --list-devices list the audio devices PortAudio sees and exit\n"
            "      --sdp CHANNEL  print the SDP of that channel's RTP/SRTP stream (its `rtp`\n"
            "                     key) for ffmpeg, GStreamer, Janus or tolk-receiver, and exit\n"
            "  -v, --verbose      log debug messages\n"
            "      --version      print the version and exit\n"
            "  -h, --help         print this help and the configuration keys, and exit\n"
            "\nConfiguration keys:\n");
    tolk_config_print_keys(out);
}

static const char *default_config_path(void)
{
    if (access(DEFAULT_CONFIG, R_OK) == 0 || access(INSTALLED_CONFIG, R_OK) != 0)
        return DEFAULT_CONFIG;
    return INSTALLED_CONFIG;
}

static void announce(const struct tolk_config *cfg)
{
    char url[300];
    tolk_net_public_url(cfg, url, sizeof url);
    tolk_log_info("tolk-server %s: %d channels, %d ms frames, %d bit/s per channel", TOLK_VERSION,
                  cfg->channel_count, cfg->frame_ms, cfg->bitrate);
    tolk_log_info("Listeners: open %s on a phone on this network", url);
    if (cfg->booth_count > 0)
        tolk_log_info("Interpreters: %sbooth (%d booths)", url, cfg->booth_count);
    tolk_log_info("Technicians: %stech (needs tech_token)", url);
    if (isatty(STDERR_FILENO))
        tolk_qr_print_terminal(stderr, url);
}

/* What the engine's tick wakes: the network threads and the RTP sender. */
struct wake_targets {
    struct tolk_net *net;
    struct tolk_rtp *rtp;
};

static void wake_all(void *arg)
{
    const struct wake_targets *w = arg;
    tolk_net_wake(w->net);
    tolk_rtp_wake(w->rtp);
}

/* --sdp: the SDP of one channel's stream on stdout. */
static int print_sdp(const struct tolk_config *cfg, const char *id)
{
    char sdp[4096];
    int channel = tolk_config_channel_index(cfg, id);
    if (channel < 0) {
        fprintf(stderr, "tolk-server: --sdp: no channel '%s' in %s; channels:", id, cfg->path);
        for (int i = 0; i < cfg->channel_count; i++)
            fprintf(stderr, " %s", cfg->channels[i].id);
        fprintf(stderr, "\n");
        return 1;
    }
    int n = tolk_rtp_sdp(cfg, channel, sdp, sizeof sdp);
    if (n == -ENOENT) {
        fprintf(stderr, "tolk-server: --sdp: channel %s has no RTP stream in %s (set rtp = "
                "ADDRESS:PORT in [channel %s])\n", id, cfg->path, id);
        return 1;
    }
    if (n < 0) {
        fprintf(stderr, "tolk-server: --sdp %s: %s\n", id, tolk_strerror(n));
        return 1;
    }
    fputs(sdp, stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int channel_listeners(void *arg, int channel)
{
    struct tolk_net *const *net = arg;
    return *net ? tolk_net_listener_count(*net, channel) : 0;
}

/* The main thread's work while the server runs: the monitor's tick, until SIGINT or SIGTERM. */
static int watch_until_stopped(const sigset_t *stop_signals, struct tolk_monitor *monitor)
{
    const struct timespec period = {0, TOLK_MONITOR_TICK_MS * 1000000L};
    for (;;) {
        int sig = sigtimedwait(stop_signals, NULL, &period);
        if (sig > 0)
            return sig;
        tolk_monitor_tick(monitor, tolk_clock_mono_ns() / 1000000);
    }
}

static int run(const struct tolk_config *cfg)
{
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL); /* inherited by every thread made below */
    signal(SIGPIPE, SIG_IGN);

    char err[512] = "";
    struct tolk_engine *engine = NULL;
    struct tolk_events *events = NULL;
    struct tolk_booths *booths = NULL;
    struct tolk_monitor *monitor = NULL;
    struct tolk_net *net = NULL;
    struct tolk_rtp *rtp = NULL;
    int rc = tolk_engine_create(&engine, cfg, err, sizeof err);
    if (rc < 0) {
        tolk_log_error("%s: %s", cfg->path, err);
        return 1;
    }
    rc = tolk_events_create(&events);
    if (rc == 0)
        rc = tolk_booths_create(&booths, cfg, engine, events);
    if (rc == 0)
        rc = tolk_monitor_create(&monitor, cfg, engine, events, channel_listeners, &net);
    if (rc == 0 && (rc = tolk_rtp_create(&rtp, cfg, engine, err, sizeof err)) < 0)
        tolk_log_error("%s: %s", cfg->path, err);
    struct tolk_net_deps deps = {.booths = booths, .monitor = monitor, .events = events, .rtp = rtp};
    if (rc == 0)
        rc = tolk_net_create(&net, cfg, engine, &deps);
    if (rc == 0)
        rc = tolk_rtp_start(rtp);
    struct wake_targets wake = {net, rtp};
    if (rc == 0)
        rc = tolk_engine_start(engine, wake_all, &wake);
    if (rc == 0) {
        announce(cfg);
        int sig = watch_until_stopped(&stop_signals, monitor);
        tolk_log_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    } else {
        tolk_log_error("cannot start: %s", tolk_strerror(rc));
    }
    tolk_engine_stop(engine); /* first: no more wake-ups into the network threads */
    tolk_net_destroy(net);
    tolk_rtp_destroy(rtp);
    tolk_monitor_destroy(monitor);
    tolk_booths_destroy(booths);
    tolk_events_destroy(events);
    tolk_engine_destroy(engine);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    /* The capture child process (see audio/device.h): nothing of the server runs in it. */
    if (argc > 1 && strcmp(argv[1], TOLK_DEVICE_CHILD_ARG) == 0)
        return tolk_device_child_main(argc, argv);
    enum { OPT_CHECK = 256, OPT_LIST, OPT_VERSION, OPT_SDP };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},   {"check-config", no_argument, NULL, OPT_CHECK},
        {"list-devices", no_argument, NULL, OPT_LIST}, {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, OPT_VERSION}, {"help", no_argument, NULL, 'h'},
        {"sdp", required_argument, NULL, OPT_SDP}, {NULL, 0, NULL, 0}};
    const char *path = NULL, *sdp_channel = NULL;
    bool check_only = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'v': tolk_log_set_level(TOLK_LOG_DEBUG); break;
        case OPT_CHECK: check_only = true; break;
        case OPT_SDP: sdp_channel = optarg; break;
        case OPT_LIST: return tolk_device_list(stdout) == 0 ? 0 : 1;
        case OPT_VERSION: printf("tolk-server %s\n", TOLK_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tolk-server: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }

    static struct tolk_config cfg; /* large (paths); read-only once loaded */
    char err[1024] = "";
    if (!path)
        path = default_config_path();
    if (tolk_config_load(&cfg, path, err, sizeof err) < 0) {
        fprintf(stderr, "tolk-server: %s\n", err);
        return 1;
    }
    if (sdp_channel)
        return print_sdp(&cfg, sdp_channel);
    if (check_only) {
        printf("%s: OK, %d channels\n", path, cfg.channel_count);
        return 0;
    }
    return run(&cfg);
}
