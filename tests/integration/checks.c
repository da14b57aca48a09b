/* Shared assertions on what a test listener received (see checks.h). Test main thread only. */
#include "checks.h"

#include <math.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>

#include "harness.h"
#include "analysis.h"
#include "tolk/protocol.h"

/* Capture times follow the sample clock: packet i of a range is stamped (i - from) * frame_ms
 * after the first, give or take a quarter frame of jitter (never a whole frame, never drift). */
#define CAPTURE_TOLERANCE_US(frame_ms) ((frame_ms) * 250)
#define GRID_BLOCK 256
/* Only checks that capture times are wall-clock µs; how far behind a listener may fall is
 * bad_requests' business. */
#define MAX_LATENCY_US 5000000

/* Capture times off the grid are reported at the end (tolk_check_finish) so that the other
 * checks still run. */
static int grid_violations;
static long long grid_worst;
static char first_violation[512];

static void check_packet(const struct tolk_client *c, const struct tolk_client_packet *p,
                         size_t i, size_t from, const struct tolk_stream_expect *e,
                         const char *what)
{
    const char *n = tolk_client_name(c);
    TOLK_CHECK(p->channel == e->channel, "%s %s: packet %zu is channel %u, want %d", n, what, i,
               p->channel, e->channel);
    bool fb = p->flags & TOLK_FLAG_FALLBACK;
    TOLK_CHECK(e->fallback == TOLK_EXPECT_ANY || fb == (e->fallback == TOLK_EXPECT_SET),
               "%s %s: packet %zu (seq %u) FALLBACK flag is %d, want %d", n, what, i, p->seq, fb,
               e->fallback == TOLK_EXPECT_SET);
    TOLK_CHECK(!(p->flags & TOLK_FLAG_DISCONTINUITY) || (i == from && e->allow_first_discontinuity),
               "%s %s: packet %zu (seq %u) flagged DISCONTINUITY", n, what, i, p->seq);
    TOLK_CHECK(p->pcm_samples == e->frame_ms * 48,
               "%s %s: packet %zu decoded to %d samples, want %d", n, what, i, p->pcm_samples,
               e->frame_ms * 48);
    int64_t latency = p->arrival_wall_us - p->capture_us;
    TOLK_CHECK(latency >= 0 && latency < MAX_LATENCY_US,
               "%s %s: packet %zu arrived %lld us after its capture time (want 0..%d)", n, what,
               i, (long long)latency, MAX_LATENCY_US);
}

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Capture times of packets [from, to) (at most GRID_BLOCK) against the frame grid that fits
 * them best: the one through their median offset, so one late stamp cannot shift the grid.
 * Returns the largest deviation; records the packets beyond the tolerance. */
static long long check_grid_block(const struct tolk_client *c, size_t from, size_t to,
                                  const struct tolk_stream_expect *e, const char *what)
{
    const struct tolk_client_packet *p = tolk_client_packets(c, &(size_t){0});
    int64_t off[GRID_BLOCK], sorted[GRID_BLOCK];
    size_t n = to - from;
    for (size_t i = 0; i < n; i++)
        off[i] = sorted[i] = p[from + i].capture_us - p[from].capture_us -
                             (int64_t)i * e->frame_ms * 1000;
    qsort(sorted, n, sizeof sorted[0], compare_i64);
    int64_t median = sorted[n / 2];
    long long worst = 0;
    for (size_t i = 0; i < n; i++) {
        long long dev = llabs(off[i] - median);
        worst = dev > worst ? dev : worst;
        if (getenv("TOLK_ITEST_VERBOSE"))
            tolk_harness_note("%s %s: packet %zu seq %u flags %#x capture off the grid by %lld us, "
                              "age on arrival %lld us", tolk_client_name(c), what, from + i,
                              p[from + i].seq, p[from + i].flags, (long long)(off[i] - median),
                              (long long)(p[from + i].arrival_wall_us - p[from + i].capture_us));
        if (dev > CAPTURE_TOLERANCE_US(e->frame_ms) && grid_violations++ == 0)
            snprintf(first_violation, sizeof first_violation,
                     "%s %s: packet %zu (seq %u) capture time is %lld us off the %d ms grid "
                     "(step from the previous packet: %lld us)",
                     tolk_client_name(c), what, from + i, p[from + i].seq,
                     (long long)(off[i] - median), e->frame_ms,
                     i > 0 ? (long long)(p[from + i].capture_us - p[from + i - 1].capture_us) : 0);
    }
    grid_worst = worst > grid_worst ? worst : grid_worst;
    return worst;
}

void tolk_check_stream(const struct tolk_client *c, size_t from, size_t to,
                       const struct tolk_stream_expect *e, const char *what)
{
    size_t count;
    const struct tolk_client_packet *p = tolk_client_packets(c, &count);
    const char *n = tolk_client_name(c);
    TOLK_CHECK(to <= count && from < to, "%s %s: packets %zu..%zu of %zu", n, what, from, to,
               count);
    TOLK_CHECK(tolk_client_bad_messages(c) == 0, "%s: %zu binary messages did not parse", n,
               tolk_client_bad_messages(c));
    for (size_t i = from; i < to; i++) {
        check_packet(c, &p[i], i, from, e, what);
        TOLK_CHECK(i == from || p[i].seq == p[i - 1].seq + 1,
                   "%s %s: packet %zu has seq %u after %u", n, what, i, p[i].seq, p[i - 1].seq);
    }
    /* In blocks, so a wall clock being slewed cannot add up. */
    long long worst = 0;
    for (size_t b = from; b < to; b += GRID_BLOCK) {
        long long w = check_grid_block(c, b, to - b > GRID_BLOCK ? b + GRID_BLOCK : to, e, what);
        worst = w > worst ? w : worst;
    }
    tolk_harness_note("%s %s: %zu packets continuous, capture times within %lld us of the grid%s",
                      n, what, to - from, worst,
                      worst > CAPTURE_TOLERANCE_US(e->frame_ms) ? " (TOO FAR)" : "");
}

double tolk_check_tone(const struct tolk_client *c, size_t from, size_t to, int skip_ms,
                       double hz, const char *what)
{
    size_t count, total;
    const struct tolk_client_packet *p = tolk_client_packets(c, &count);
    const float *pcm = tolk_client_pcm(c, &total);
    const char *n = tolk_client_name(c);
    TOLK_CHECK(to <= count && from < to, "%s %s: packets %zu..%zu of %zu", n, what, from, to,
               count);
    size_t start = p[from].pcm_offset + (size_t)skip_ms * 48;
    size_t end = p[to - 1].pcm_offset + (size_t)(p[to - 1].pcm_samples > 0 ? p[to - 1].pcm_samples : 0);
    TOLK_CHECK(end > start + 4800, "%s %s: only %zd samples after skipping %d ms", n, what,
               (ssize_t)end - (ssize_t)start, skip_ms);
    double share;
    double got = tolk_signal_dominant_hz(pcm + start, end - start, 48000, 50, 4000, 5, &share);
    double rms = tolk_signal_rms_db(pcm + start, end - start);
    tolk_harness_note("%s %s: %.0f Hz (%.0f%% of the energy), RMS %.1f dBFS over %zu ms", n, what,
                      got, share * 100, rms, (end - start) / 48);
    TOLK_CHECK(fabs(got - hz) <= 10, "%s %s: dominant frequency %.0f Hz, want %.0f Hz", n, what,
               got, hz);
    TOLK_CHECK(share > 0.5, "%s %s: the %.0f Hz tone holds only %.0f%% of the energy", n, what,
               got, share * 100);
    TOLK_CHECK(fabs(rms - -15.0) <= 4.0, "%s %s: RMS %.1f dBFS, want about -15 (a -12 dBFS sine)",
               n, what, rms);
    return got;
}

json_t *tolk_check_hello(const struct tolk_client *c, int frame_ms, size_t channels)
{
    size_t count;
    const struct tolk_client_text *t = tolk_client_texts(c, &count);
    const char *n = tolk_client_name(c);
    TOLK_CHECK(count > 0, "%s: no text message", n);
    json_t *h = t[0].json;
    TOLK_CHECK(h != NULL, "%s: first message is not JSON: %s", n, t[0].raw);
    const char *type = json_string_value(json_object_get(h, "type"));
    TOLK_CHECK(type && strcmp(type, "hello") == 0, "%s: first message is not hello: %s", n,
               t[0].raw);
    TOLK_CHECK(t[0].packets_before == 0, "%s: %zu audio packets came before hello", n,
               t[0].packets_before);
    TOLK_CHECK(json_integer_value(json_object_get(h, "protocol")) == TOLK_PROTOCOL_VERSION,
               "%s: hello protocol: %s", n, t[0].raw);
    const char *codec = json_string_value(json_object_get(h, "codec"));
    TOLK_CHECK(codec && strcmp(codec, "opus") == 0, "%s: hello codec: %s", n, t[0].raw);
    TOLK_CHECK(json_integer_value(json_object_get(h, "sample_rate")) == 48000,
               "%s: hello sample_rate: %s", n, t[0].raw);
    TOLK_CHECK(json_integer_value(json_object_get(h, "frame_ms")) == frame_ms,
               "%s: hello frame_ms, want %d: %s", n, frame_ms, t[0].raw);
    json_t *list = json_object_get(h, "channels");
    TOLK_CHECK(json_is_array(list) && json_array_size(list) == channels,
               "%s: hello should list %zu channels: %s", n, channels, t[0].raw);
    for (size_t i = 0; i < channels; i++) {
        json_t *ch = json_array_get(list, i);
        TOLK_CHECK(json_integer_value(json_object_get(ch, "index")) == (json_int_t)i &&
                       json_is_integer(json_object_get(ch, "index")),
                   "%s: hello channel %zu has a wrong index: %s", n, i, t[0].raw);
        TOLK_CHECK(json_is_string(json_object_get(ch, "id")) &&
                       json_is_string(json_object_get(ch, "name")) &&
                       json_is_string(json_object_get(ch, "lang")) &&
                       json_is_boolean(json_object_get(ch, "live")),
                   "%s: hello channel %zu lacks id/name/lang/live: %s", n, i, t[0].raw);
    }
    const char *first = json_string_value(json_object_get(json_array_get(list, 0), "id"));
    TOLK_CHECK(first && strcmp(first, "floor") == 0, "%s: hello channel 0 is not floor: %s", n,
               t[0].raw);
    return h;
}

int tolk_check_hello_index(json_t *hello, const char *id)
{
    json_t *list = json_object_get(hello, "channels");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *s = json_string_value(json_object_get(json_array_get(list, i), "id"));
        if (s && strcmp(s, id) == 0)
            return (int)i;
    }
    return -1;
}

static bool all_channels_encoding(int port)
{
    char *body = NULL;
    int code = tolk_harness_http_get(port, "/api/status?token=change-me", 3000, &body);
    json_t *j = code == 200 ? json_loads(body, 0, NULL) : NULL;
    json_t *list = json_object_get(j, "channels");
    bool ok = json_array_size(list) > 0;
    for (size_t i = 0; i < json_array_size(list); i++)
        ok &= json_integer_value(json_object_get(json_array_get(list, i), "frames")) > 0;
    json_decref(j);
    free(body);
    return ok;
}

void tolk_check_engine_running(int port, int timeout_ms)
{
    int64_t deadline = tolk_harness_now_us() + (int64_t)timeout_ms * 1000;
    while (!all_channels_encoding(port)) {
        TOLK_CHECK(tolk_harness_now_us() < deadline,
                   "/api/status: not every channel encodes frames after %d ms", timeout_ms);
        tolk_client_service_until(20, NULL, NULL);
    }
}

void tolk_check_finish(void)
{
    TOLK_CHECK(grid_violations == 0,
               "%d packets had capture times more than a quarter frame off the frame grid "
               "(worst %lld us); first: %s",
               grid_violations, grid_worst, first_violation);
}
