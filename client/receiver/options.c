/* tolk-receiver's command line (see options.h). Main thread. */
#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "tolk/error.h"

#define DEFAULT_LATENCY_MS 0

void tolk_options_usage(const char *prog)
{
    printf("Usage: %s [--server URL] [--channel ID] [--device NAME] [--latency MS]\n"
           "         [--sdp FILE] [--list-devices] [--help] [--version]\n\n"
           "Plays one channel of a tolk server on a sound card: the fallback for delegates\n"
           "without a phone, and the feed for infrared or radio transmitters.\n\n"
           "  --server URL    tolk-server to listen to (ws://, wss://, http:// or https://\n"
           "                  HOST[:PORT][/PATH]; /listen if no path).\n"
           "                  Default ws://127.0.0.1:8080\n"
           "  --channel ID    channel id (floor, en, fr, ...). Default floor\n"
           "  --sdp FILE      play the RTP or SRTP stream this SDP describes instead\n"
           "                  (tolk-server --sdp CHANNEL writes one)\n"
           "  --device NAME   output device: part of its name, or its index. Default: the\n"
           "                  system's default output\n"
           "  --latency MS    least time a packet waits in the jitter buffer, 0..2000 (on top\n"
           "                  of the network jitter it measures and one sound-card period).\n"
           "                  Default %d: as low as the network allows\n"
           "  --list-devices  list the output devices and exit\n"
           "  --help, --version\n\n"
           "Status: one line updated in place on a terminal, one line per second otherwise.\n"
           "Ctrl-C stops. TOLK_INSECURE_TLS=1 accepts a self-signed wss:// certificate.\n",
           prog, DEFAULT_LATENCY_MS);
}

int tolk_options_parse(struct tolk_options *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"server", required_argument, NULL, 's'}, {"channel", required_argument, NULL, 'c'},
        {"device", required_argument, NULL, 'd'}, {"latency", required_argument, NULL, 'l'},
        {"sdp", required_argument, NULL, 'p'},    {"list-devices", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct tolk_options){.server = "ws://127.0.0.1:8080",
                               .channel = "floor",
                               .latency_ms = DEFAULT_LATENCY_MS};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "s:c:d:l:p:h", longs, NULL)) != -1) {
        switch (c) {
        case 's': o->server = optarg; break;
        case 'c': o->channel = optarg; break;
        case 'd': o->device = optarg; break;
        case 'p': o->sdp = optarg; break;
        case 'L': o->list_devices = true; break;
        case 'h': o->help = true; break;
        case 'V': o->version = true; break;
        case 'l':
            o->latency_ms = (int)strtol(optarg, &end, 10);
            if (*end || end == optarg || o->latency_ms < 0 || o->latency_ms > 2000) {
                fprintf(stderr, "tolk-receiver: --latency: a number of ms, 0..2000\n");
                return TOLK_ECONFIG;
            }
            break;
        default:
            fprintf(stderr, "Try tolk-receiver --help\n");
            return TOLK_ECONFIG;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tolk-receiver: unexpected argument \"%s\"\n", argv[optind]);
        return TOLK_ECONFIG;
    }
    return 0;
}
