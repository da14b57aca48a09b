/* The status line (see status.h). Main thread; reads the relaxed atomics of tolk_rx_state. */
#include "status.h"

#include <stdint.h>

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static const char *link_name(int link)
{
    switch (link) {
    case TOLK_RX_UP: return "up";
    case TOLK_RX_DOWN: return "down";
    case TOLK_RX_LISTENING: return "listening";
    default: return "connecting";
    }
}

static const char *state_name(const struct tolk_rx_state *s)
{
    if (!LOAD(s->audio.playing))
        return "buffering";
    if (!LOAD(s->audio.flags_known))
        return "playing";
    return LOAD(s->audio.fallback) ? "fallback" : "live";
}

static void print_tty(FILE *out, const char *label, const struct tolk_rx_state *s)
{
    int lat = LOAD(s->audio.latency_us);
    char lat_text[32];
    if (lat == TOLK_RX_UNKNOWN)
        snprintf(lat_text, sizeof lat_text, "latency -");
    else
        snprintf(lat_text, sizeof lat_text, "latency %d ms", (lat + 500) / 1000);
    uint64_t bad = LOAD(s->net.malformed) + LOAD(s->net.srtp_failures);
    fprintf(out,
            "\r\033[K%s %s%s | buffer %d ms | %s | underruns %llu | %.1f dBFS | lost %llu late "
            "%llu",
            label, state_name(s), LOAD(s->net.link) == TOLK_RX_DOWN ? " (link down)" : "",
            (LOAD(s->audio.buffer_us) + 500) / 1000, lat_text,
            (unsigned long long)LOAD(s->audio.underruns), LOAD(s->audio.level_cdb) / 100.0,
            (unsigned long long)LOAD(s->audio.concealed), (unsigned long long)LOAD(s->audio.late));
    if (bad)
        fprintf(out, " | bad %llu", (unsigned long long)bad);
    fflush(out);
}

static void print_plain(FILE *out, const char *label, const struct tolk_rx_state *s)
{
    int lat = LOAD(s->audio.latency_us);
    char lat_text[32] = "-";
    if (lat != TOLK_RX_UNKNOWN)
        snprintf(lat_text, sizeof lat_text, "%.1f", lat / 1000.0);
    fprintf(out,
            "status channel=%s link=%s state=%s buffer_ms=%.1f target_ms=%.1f latency_ms=%s "
            "underruns=%llu level_dbfs=%.1f packets=%llu concealed=%llu fec=%llu late=%llu "
            "dropped=%llu resets=%llu malformed=%llu srtp_failures=%llu overflows=%llu "
            "reconnects=%llu sender_reports=%llu jitter_ms=%.1f ppm=%.1f decode_max_us=%d\n",
            label, link_name(LOAD(s->net.link)), state_name(s), LOAD(s->audio.buffer_us) / 1000.0,
            LOAD(s->audio.target_us) / 1000.0, lat_text,
            (unsigned long long)LOAD(s->audio.underruns), LOAD(s->audio.level_cdb) / 100.0,
            (unsigned long long)LOAD(s->net.packets), (unsigned long long)LOAD(s->audio.concealed),
            (unsigned long long)LOAD(s->audio.fec), (unsigned long long)LOAD(s->audio.late),
            (unsigned long long)LOAD(s->audio.dropped), (unsigned long long)LOAD(s->audio.resets),
            (unsigned long long)LOAD(s->net.malformed),
            (unsigned long long)LOAD(s->net.srtp_failures),
            (unsigned long long)LOAD(s->net.overflows), (unsigned long long)LOAD(s->net.reconnects),
            (unsigned long long)LOAD(s->net.sender_reports), LOAD(s->audio.jitter_us) / 1000.0,
            LOAD(s->audio.ppm_x10) / 10.0, LOAD(s->audio.decode_max_us));
    fflush(out);
}

void tolk_status_print(FILE *out, bool tty, const char *label, const struct tolk_rx_state *s)
{
    if (tty)
        print_tty(out, label, s);
    else
        print_plain(out, label, s);
}

void tolk_status_finish(FILE *out, bool tty)
{
    if (tty) {
        fputc('\n', out);
        fflush(out);
    }
}
