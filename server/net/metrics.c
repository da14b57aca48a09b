/* GET /metrics: the server's counters and gauges in the Prometheus text format (version 0.0.4),
 * for a Prometheus server or any scraper. Every family has HELP and TYPE lines; counters end in
 * _total; label values are channel ids (letters, digits, '-', '_': nothing to escape).
 *
 * Threads: the service thread of the request; reads only atomics and the thread-safe monitor.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "control/monitor.h"
#include "net/net.h"
#include "net/net_private.h"
#include "rtp/rtp.h"
#include "tolk/clock.h"

struct text {
    char *buf; /* LWS_PRE bytes of headroom first */
    size_t len, cap;
    bool failed;
};

__attribute__((format(printf, 2, 3)))
static void put(struct text *t, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + LWS_PRE + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)(n > 0 ? n : 0)) * 2;
        char *more = realloc(t->buf, LWS_PRE + cap);
        if (!more) {
            t->failed = true;
            return;
        }
        t->buf = more;
        t->cap = cap;
    }
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void per_channel(struct text *t, struct tolk_net *net, const char *name, const char *type,
                        const char *help, double (*value)(struct tolk_net *, int))
{
    family(t, name, type, help);
    for (int c = 0; c < net->cfg->channel_count; c++)
        put(t, "%s{channel=\"%s\"} %.17g\n", name, net->cfg->channels[c].id, value(net, c));
}

static struct tolk_channel_status status_of(struct tolk_net *net, int c)
{
    struct tolk_channel_status st;
    tolk_engine_channel_status(net->engine, c, &st);
    return st;
}

static double listeners(struct tolk_net *net, int c) { return tolk_net_listener_count(net, c); }
static double frames(struct tolk_net *net, int c) { return (double)status_of(net, c).frames; }
static double bytes(struct tolk_net *net, int c) { return (double)status_of(net, c).bytes; }
static double live(struct tolk_net *net, int c) { return status_of(net, c).live; }
static double peak(struct tolk_net *net, int c) { return tolk_net_db(status_of(net, c).peak_db); }
static double rms(struct tolk_net *net, int c) { return tolk_net_db(status_of(net, c).rms_db); }
static double clipping(struct tolk_net *net, int c) { return status_of(net, c).clipped; }

static void channel_metrics(struct text *t, struct tolk_net *net)
{
    per_channel(t, net, "tolk_listeners", "gauge", "Listeners connected to the channel.",
                listeners);
    per_channel(t, net, "tolk_frames_encoded_total", "counter",
                "Opus frames encoded for the channel.", frames);
    per_channel(t, net, "tolk_encoded_bytes_total", "counter",
                "Opus bytes encoded for the channel (rate() gives the bitrate).", bytes);
    per_channel(t, net, "tolk_channel_live", "gauge",
                "1 while the channel carries its own audio (an interpreter on air), 0 on its "
                "fallback.", live);
    per_channel(t, net, "tolk_channel_peak_dbfs", "gauge", "Peak level of the last frame, dBFS.",
                peak);
    per_channel(t, net, "tolk_channel_rms_dbfs", "gauge", "RMS level of the last frame, dBFS.",
                rms);
    per_channel(t, net, "tolk_channel_clipping", "gauge",
                "1 if the channel's input reached full scale in the last second.", clipping);
}

static void server_metrics(struct text *t, struct tolk_net *net)
{
    struct tolk_engine_stats es;
    tolk_engine_stats(net->engine, &es);
    uint64_t sent = 0, dropped = 0;
    for (int i = 0; i < net->thread_count; i++) {
        sent += atomic_load_explicit(&net->threads[i].bytes_sent, memory_order_relaxed);
        dropped += atomic_load_explicit(&net->threads[i].frames_dropped, memory_order_relaxed);
    }
    struct tolk_alarm alarms[TOLK_MAX_ALARMS];
    int active = net->monitor ? tolk_monitor_alarms(net->monitor, alarms, TOLK_MAX_ALARMS) : 0;

    family(t, "tolk_uptime_seconds", "gauge", "Seconds since the server started.");
    put(t, "tolk_uptime_seconds %.3f\n", (tolk_clock_mono_ns() - net->created_ns) / 1e9);
    family(t, "tolk_connections", "gauge", "Listener WebSocket connections, all channels.");
    put(t, "tolk_connections %d\n", atomic_load(&net->listeners));
    family(t, "tolk_frames_dropped_total", "counter", "Frames not delivered, by reason.");
    put(t, "tolk_frames_dropped_total{reason=\"listener_behind\"} %llu\n",
        (unsigned long long)dropped);
    put(t, "tolk_frames_dropped_total{reason=\"engine_stall\"} %llu\n",
        (unsigned long long)es.stall_frames);
    family(t, "tolk_bytes_sent_total", "counter", "WebSocket payload bytes sent to clients.");
    put(t, "tolk_bytes_sent_total %llu\n", (unsigned long long)sent);
    family(t, "tolk_encode_seconds_total", "counter", "Time spent in the Opus encoders.");
    put(t, "tolk_encode_seconds_total %.9f\n", es.encode_ns / 1e9);
    family(t, "tolk_ticks_total", "counter", "Engine ticks (one per frame).");
    put(t, "tolk_ticks_total %llu\n", (unsigned long long)es.ticks);
    family(t, "tolk_late_ticks_total", "counter", "Engine ticks that ran over a frame late.");
    put(t, "tolk_late_ticks_total %llu\n", (unsigned long long)es.late_ticks);
    family(t, "tolk_capture_overruns_total", "counter", "Capture ring overruns (audio lost).");
    put(t, "tolk_capture_overruns_total %llu\n", (unsigned long long)es.device_overruns);
    family(t, "tolk_device_running", "gauge", "1 while the capture device delivers audio.");
    put(t, "tolk_device_running %d\n", es.device_running ? 1 : 0);
    family(t, "tolk_alarms", "gauge", "Alarms active now (see /tech).");
    put(t, "tolk_alarms %d\n", active);
}

static void rtp_family(struct text *t, struct tolk_net *net, const char *name, const char *help,
                       size_t field)
{
    family(t, name, "counter", help);
    for (int c = 0; c < net->cfg->channel_count; c++) {
        struct tolk_rtp_stats st;
        tolk_rtp_stats(net->rtp, c, &st);
        if (st.enabled)
            put(t, "%s{channel=\"%s\"} %llu\n", name, net->cfg->channels[c].id,
                (unsigned long long)*(const uint64_t *)((const char *)&st + field));
    }
}

/* Only when some channel streams RTP (a family without samples would be noise). */
static void rtp_metrics(struct text *t, struct tolk_net *net)
{
    if (!net->rtp)
        return;
    rtp_family(t, net, "tolk_rtp_packets_total", "RTP packets sent for the channel.",
               offsetof(struct tolk_rtp_stats, packets));
    rtp_family(t, net, "tolk_rtp_bytes_total", "RTP payload bytes sent (headers, SRTP tag).",
               offsetof(struct tolk_rtp_stats, bytes));
    rtp_family(t, net, "tolk_rtp_send_errors_total",
               "RTP/RTCP packets the kernel refused or SRTP could not protect.",
               offsetof(struct tolk_rtp_stats, send_errors));
    rtp_family(t, net, "tolk_rtp_skipped_frames_total",
               "Frames the RTP sender skipped, over a second behind.",
               offsetof(struct tolk_rtp_stats, skipped));
}

static void input_metrics(struct text *t, struct tolk_net *net)
{
    struct tolk_engine_stats es;
    tolk_engine_stats(net->engine, &es);
    if (es.device_inputs == 0)
        return;
    family(t, "tolk_input_peak_dbfs", "gauge", "Peak level of each device input, dBFS.");
    for (int i = 0; i < es.device_inputs; i++) {
        struct tolk_input_status in;
        tolk_engine_input_status(net->engine, i, &in);
        put(t, "tolk_input_peak_dbfs{input=\"%d\"} %.1f\n", i + 1, tolk_net_db(in.peak_db));
    }
}

unsigned char *tolk_net_metrics_text(struct tolk_net *net, size_t *len)
{
    struct text t = {.cap = 8192};
    t.buf = malloc(LWS_PRE + t.cap);
    if (!t.buf)
        return NULL;
    channel_metrics(&t, net);
    server_metrics(&t, net);
    input_metrics(&t, net);
    rtp_metrics(&t, net);
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return (unsigned char *)t.buf;
}
