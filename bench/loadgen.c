/* tolk-loadgen: opens N listener connections to a tolk-server on loopback, measures for S
 * seconds and reports delivery (frames per connection, sequence gaps, DISCONTINUITY flags),
 * per-frame lateness (arrival wall time minus the frame's capture time), and the CPU and memory
 * of the server and of itself. See docs/performance.md.
 *
 * Threads: main() runs on the main thread: options, probe, phases, report. The connections live
 * on the worker threads of lg_client.c.
 */
#include "loadgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>

#include "tolk/clock.h"

#define LG_MAX_THREADS 16
#define LG_SETTLE_NS 1000000000LL /* after the ramp, before the window */

struct lg_report {
    int established, failed, pending, closed, closed_in_window;
    double ramp_s, window_s;
    long expected_per_conn;
    uint32_t frames_min, frames_median, frames_max;
    struct tolk_lg_stats sum;
    int64_t late_us[3];   /* p50, p90, p99 at the generator's read */
    int64_t kernel_us[3]; /* p50, p90, p99 at the kernel's receive timestamp */
    double server_cpu_pct, gen_cpu_pct;
    /* All CPUs, as % of one core (2 cores = 200). */
    double machine_busy_pct, machine_irq_pct, machine_steal_pct;
    long server_hwm_kib, server_rss_kib, gen_hwm_kib;
    int task_count;
    struct tolk_lg_task_sample tasks[TOLK_LG_MAX_TASKS]; /* cpu_s holds % of one core */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tolk-loadgen --url ws://127.0.0.1:PORT/listen --clients N --seconds S\n"
            "                    [--channel ID] [--threads T] [--ramp R] [--server-pid PID]\n"
            "                    [--json] [--transport epoll|lws]\n"
            "  --clients N      listener connections (spread over hello's channels)\n"
            "  --seconds S      length of the measuring window, after the ramp\n"
            "  --channel ID     put every listener on this channel\n"
            "  --threads T      worker threads, one epoll set or lws context each (default 2)\n"
            "  --ramp R         connections opened per 100 ms (default 500)\n"
            "  --server-pid PID report the server's CPU and memory from /proc\n"
            "  --json           one JSON object instead of text\n"
            "  --transport X    epoll: built-in minimal client (default, leaner);\n"
            "                   lws: libwebsockets client contexts on libev\n"
            "Only loopback addresses are accepted.\n");
}

/* ws://HOST[:PORT][/PATH] into run. */
static int parse_url(struct tolk_lg_run *run, const char *url)
{
    if (strncmp(url, "ws://", 5) != 0)
        return -EINVAL;
    const char *h = url + 5;
    const char *end;
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end)
            return -EINVAL;
        snprintf(run->host, sizeof run->host, "%.*s", (int)(end - h - 1), h + 1);
        end++;
    } else {
        end = h + strcspn(h, ":/");
        snprintf(run->host, sizeof run->host, "%.*s", (int)(end - h), h);
    }
    run->port = 80;
    if (*end == ':') {
        char *after;
        run->port = (int)strtol(end + 1, &after, 10);
        end = after;
    }
    snprintf(run->path, sizeof run->path, "%s", *end == '/' ? end : "/");
    if (*end && *end != '/')
        return -EINVAL;
    return run->host[0] && run->port > 0 && run->port < 65536 ? 0 : -EINVAL;
}

static bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* Every address the host resolves to must be a loopback address. */
static int check_loopback(const char *host)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -EHOSTUNREACH;
    int rc = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (!addr_is_loopback(ai->ai_addr))
            rc = -EPERM;
    freeaddrinfo(res);
    return rc;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

static int parse_args(struct tolk_lg_run *run, int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},     {"clients", required_argument, NULL, 'n'},
        {"seconds", required_argument, NULL, 's'}, {"channel", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'}, {"ramp", required_argument, NULL, 'r'},
        {"server-pid", required_argument, NULL, 'p'}, {"json", no_argument, NULL, 'j'},
        {"transport", required_argument, NULL, 'x'},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url = NULL;
    int rc = 0, opt;
    run->threads = 2;
    run->ramp_per_period = 500;
    while (rc == 0 && (opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'u': url = optarg; break;
        case 'n': rc = parse_int(optarg, 1, 19000, &run->clients); break;
        case 's': rc = parse_int(optarg, 1, 86400, &run->seconds); break;
        case 'c': snprintf(run->channel, sizeof run->channel, "%s", optarg); break;
        case 't': rc = parse_int(optarg, 1, LG_MAX_THREADS, &run->threads); break;
        case 'r': rc = parse_int(optarg, 1, 10000, &run->ramp_per_period); break;
        case 'p': rc = parse_int(optarg, 1, 1 << 30, &run->server_pid); break;
        case 'j': run->json = true; break;
        case 'x':
            run->transport = strcmp(optarg, "lws") == 0 ? TOLK_LG_LWS : TOLK_LG_EPOLL;
            rc = run->transport == TOLK_LG_LWS || strcmp(optarg, "epoll") == 0 ? 0 : -EINVAL;
            break;
        case 'h': usage(stdout); exit(0);
        default: rc = -EINVAL; break;
        }
    }
    if (rc == 0 && (!url || !run->clients || !run->seconds || optind != argc))
        rc = -EINVAL;
    if (rc == 0 && parse_url(run, url) != 0) {
        fprintf(stderr, "tolk-loadgen: bad --url (want ws://HOST:PORT/PATH): %s\n", url);
        return -EINVAL;
    }
    if (rc != 0)
        usage(stderr);
    return rc;
}

/* --channel ID: its index in hello's list becomes every connection's channel. */
static int select_channel(struct tolk_lg_run *run)
{
    run->fixed_slot = -1;
    if (!run->channel[0])
        return 0;
    for (int i = 0; i < run->channel_count; i++)
        if (strcmp(run->channel_ids[i], run->channel) == 0) {
            run->fixed_slot = i;
            return 0;
        }
    fprintf(stderr, "tolk-loadgen: the server has no channel '%s'\n", run->channel);
    return -ENOENT;
}

static void count_connections(struct tolk_lg_worker *w, int nw, int *est, int *failed, int *closed)
{
    *est = *failed = *closed = 0;
    for (int i = 0; i < nw; i++) {
        *est += atomic_load(&w[i].established);
        *failed += atomic_load(&w[i].failed);
        *closed += atomic_load(&w[i].closed);
    }
}

/* Waits until every connection is up or has failed, or until the deadline. */
static double wait_ramp(struct tolk_lg_run *run, struct tolk_lg_worker *w, int nw)
{
    int64_t start = tolk_clock_mono_ns();
    int64_t periods = (run->clients + run->ramp_per_period - 1) / run->ramp_per_period;
    int64_t deadline = start + 15000000000LL + periods * TOLK_LG_RAMP_PERIOD_US * 3000;
    int est, failed, closed;
    do {
        tolk_clock_sleep_until(tolk_clock_mono_ns() + 50000000);
        count_connections(w, nw, &est, &failed, &closed);
    } while (est + failed < run->clients && tolk_clock_mono_ns() < deadline);
    return (double)(tolk_clock_mono_ns() - start) / 1e9;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Per-thread server CPU over the window, as % of one core, into r->tasks. */
static void task_deltas(struct lg_report *r, const struct tolk_lg_task_sample *before, int nb,
                        const struct tolk_lg_task_sample *after, int na)
{
    r->task_count = 0;
    for (int i = 0; i < na; i++) {
        double base = 0;
        for (int j = 0; j < nb; j++)
            if (before[j].tid == after[i].tid)
                base = before[j].cpu_s;
        r->tasks[r->task_count] = after[i];
        r->tasks[r->task_count].cpu_s = 100.0 * (after[i].cpu_s - base) / r->window_s;
        r->task_count++;
    }
}

/* Whole-machine shares over the window, from two /proc/stat samples. */
static void machine_shares(struct lg_report *r, const struct tolk_lg_machine_sample *m0,
                           const struct tolk_lg_machine_sample *m1)
{
    double ticks = (double)sysconf(_SC_CLK_TCK) * r->window_s / 100.0;
    double cores = (double)sysconf(_SC_NPROCESSORS_ONLN);
    r->machine_busy_pct = 100.0 * cores - (double)(m1->idle - m0->idle) / ticks;
    r->machine_irq_pct = (double)(m1->irq - m0->irq) / ticks;
    r->machine_steal_pct = (double)(m1->steal - m0->steal) / ticks;
}

/* The server's CPU (whole and per thread) and memory at the end of the window. */
static void server_shares(struct tolk_lg_run *run, struct lg_report *r,
                          const struct tolk_lg_proc_sample *s0,
                          const struct tolk_lg_task_sample *t0, int n0)
{
    static struct tolk_lg_task_sample t1[TOLK_LG_MAX_TASKS];
    struct tolk_lg_proc_sample s1;
    r->server_cpu_pct = -1;
    r->server_hwm_kib = r->server_rss_kib = -1;
    if (tolk_lg_proc_sample(run->server_pid, &s1) != 0)
        return;
    int n1 = tolk_lg_proc_tasks(run->server_pid, t1, TOLK_LG_MAX_TASKS);
    r->server_cpu_pct = 100.0 * (s1.cpu_s - s0->cpu_s) / r->window_s;
    r->server_hwm_kib = s1.hwm_kib;
    r->server_rss_kib = s1.rss_kib;
    task_deltas(r, t0, n0, t1, n1 > 0 ? n1 : 0);
}

/* The measuring window: phase MEASURE for run->seconds, with /proc samples on both sides. */
static void measure(struct tolk_lg_run *run, struct lg_report *r)
{
    static struct tolk_lg_task_sample t0[TOLK_LG_MAX_TASKS];
    struct tolk_lg_proc_sample s0 = {0};
    struct tolk_lg_machine_sample m0 = {0}, m1 = {0};
    int n0 = 0;
    int srv0 = run->server_pid ? tolk_lg_proc_sample(run->server_pid, &s0) : -1;
    if (srv0 == 0)
        n0 = tolk_lg_proc_tasks(run->server_pid, t0, TOLK_LG_MAX_TASKS);
    tolk_lg_machine_sample(&m0);
    double g0 = self_cpu_s();
    int64_t start = tolk_clock_mono_ns();
    atomic_store(&run->phase, TOLK_LG_MEASURE);
    tolk_clock_sleep_until(start + (int64_t)run->seconds * 1000000000);
    atomic_store(&run->phase, TOLK_LG_DONE);
    int64_t end = tolk_clock_mono_ns();
    double g1 = self_cpu_s();
    tolk_lg_machine_sample(&m1);
    r->window_s = (double)(end - start) / 1e9;
    r->gen_cpu_pct = 100.0 * (g1 - g0) / r->window_s;
    machine_shares(r, &m0, &m1);
    r->server_cpu_pct = -1;
    r->server_hwm_kib = r->server_rss_kib = -1;
    if (srv0 == 0)
        server_shares(run, r, &s0, t0, n0 > 0 ? n0 : 0);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Frames per established connection: min, median, max. */
static int frames_spread(struct lg_report *r, struct tolk_lg_worker *w, int nw)
{
    uint32_t *v = malloc(sizeof *v * (size_t)(r->established ? r->established : 1));
    if (!v)
        return -ENOMEM;
    int n = 0;
    for (int i = 0; i < nw; i++)
        for (int k = 0; k < w[i].conn_count; k++) {
            const struct tolk_lg_conn *c = &w[i].conns[k];
            if ((c->state == TOLK_LG_OPEN || c->state == TOLK_LG_CLOSED) && n < r->established)
                v[n++] = c->frames;
        }
    qsort(v, (size_t)n, sizeof *v, cmp_u32);
    r->frames_min = n ? v[0] : 0;
    r->frames_median = n ? v[n / 2] : 0;
    r->frames_max = n ? v[n - 1] : 0;
    free(v);
    return 0;
}

static void sum_stats(struct lg_report *r, struct tolk_lg_worker *w, int nw)
{
    struct tolk_lg_stats *s = &r->sum;
    for (int i = 0; i < nw; i++) {
        const struct tolk_lg_stats *ws = &w[i].stats;
        s->messages += ws->messages;
        s->frames += ws->frames;
        s->text_messages += ws->text_messages;
        s->proto_errors += ws->proto_errors;
        s->wrong_channel += ws->wrong_channel;
        tolk_lg_hist_merge(&s->read, &ws->read);
        tolk_lg_hist_merge(&s->kernel, &ws->kernel);
    }
}

/* Conn counters that are not atomics: gaps, discontinuities, reorders, closes in the window. */
static void sum_conns(struct lg_report *r, struct tolk_lg_worker *w, int nw, uint64_t *gaps,
                      uint64_t *disc, uint64_t *reorders)
{
    *gaps = *disc = *reorders = 0;
    r->closed_in_window = 0;
    for (int i = 0; i < nw; i++)
        for (int k = 0; k < w[i].conn_count; k++) {
            const struct tolk_lg_conn *c = &w[i].conns[k];
            *gaps += c->gaps;
            *disc += c->discontinuities;
            *reorders += c->reorders;
            r->closed_in_window += c->closed_in_window;
        }
}

static void print_text(const struct tolk_lg_run *run, const struct lg_report *r, uint64_t gaps,
                       uint64_t disc, uint64_t reorders)
{
    printf("tolk-loadgen: ws://%s:%d%s, %d clients over %d channel(s), %d %s threads, "
           "%.1f s window\n",
           run->host, run->port, run->path, run->clients, run->channel[0] ? 1 : run->channel_count,
           run->threads, run->transport == TOLK_LG_LWS ? "lws" : "epoll", r->window_s);
    printf("connections: %d established, %d failed, %d pending; %d closed by the server (%d in the "
           "window); ramp %.2f s\n",
           r->established, r->failed, r->pending, r->closed, r->closed_in_window, r->ramp_s);
    printf("frames/conn: min %u median %u max %u (expected %ld)\n", r->frames_min,
           r->frames_median, r->frames_max, r->expected_per_conn);
    printf("frames: %llu in %llu messages; gaps %llu, discontinuities %llu, reorders %llu, "
           "protocol errors %llu, wrong channel %llu\n",
           (unsigned long long)r->sum.frames, (unsigned long long)r->sum.messages,
           (unsigned long long)gaps, (unsigned long long)disc, (unsigned long long)reorders,
           (unsigned long long)r->sum.proto_errors, (unsigned long long)r->sum.wrong_channel);
    printf("lateness ms, read: p50 %.1f p90 %.1f p99 %.1f max %.1f (negative %llu)\n",
           r->late_us[0] / 1e3, r->late_us[1] / 1e3, r->late_us[2] / 1e3, r->sum.read.max_us / 1e3,
           (unsigned long long)r->sum.read.negative);
    if (r->sum.kernel.count)
        printf("lateness ms, kernel arrival: p50 %.1f p90 %.1f p99 %.1f max %.1f (%llu frames)\n",
               r->kernel_us[0] / 1e3, r->kernel_us[1] / 1e3, r->kernel_us[2] / 1e3,
               r->sum.kernel.max_us / 1e3, (unsigned long long)r->sum.kernel.count);
    if (r->server_cpu_pct >= 0) {
        printf("server: cpu %.1f%% of one core, VmHWM %.1f MiB, VmRSS %.1f MiB\n",
               r->server_cpu_pct,
               r->server_hwm_kib / 1024.0, r->server_rss_kib / 1024.0);
        printf("server threads:");
        for (int i = 0; i < r->task_count; i++)
            if (r->tasks[i].cpu_s >= 0.1)
                printf(" %s[%d] %.1f%%", r->tasks[i].comm, r->tasks[i].tid, r->tasks[i].cpu_s);
        printf("\n");
    }
    printf("loadgen: cpu %.1f%% of one core, VmHWM %.1f MiB\n", r->gen_cpu_pct,
           r->gen_hwm_kib / 1024.0);
    printf("machine: %.1f%% busy of which %.1f%% irq/softirq, %.1f%% stolen (of one core; %ld "
           "cores)\n",
           r->machine_busy_pct, r->machine_irq_pct, r->machine_steal_pct,
           sysconf(_SC_NPROCESSORS_ONLN));
}

static void print_json(const struct tolk_lg_run *run, const struct lg_report *r, uint64_t gaps,
                       uint64_t disc, uint64_t reorders)
{
    json_t *tasks = json_array();
    for (int i = 0; i < r->task_count; i++)
        json_array_append_new(tasks, json_pack("{s:s,s:i,s:f}", "comm", r->tasks[i].comm, "tid",
                                               r->tasks[i].tid, "cpu_pct", r->tasks[i].cpu_s));
    json_t *o = json_pack(
        "{s:i,s:i,s:i,s:f,s:i,s:i,s:i,s:i,s:i,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
        "clients", run->clients, "channels", run->channel[0] ? 1 : run->channel_count, "threads",
        run->threads, "window_s", r->window_s, "established", r->established, "failed", r->failed,
        "pending", r->pending, "closed", r->closed, "closed_in_window", r->closed_in_window,
        "ramp_s", r->ramp_s, "expected_per_conn", (json_int_t)r->expected_per_conn, "frames_min",
        (json_int_t)r->frames_min, "frames_median", (json_int_t)r->frames_median, "frames_max",
        (json_int_t)r->frames_max, "frames", (json_int_t)r->sum.frames, "messages",
        (json_int_t)r->sum.messages, "gaps", (json_int_t)gaps, "discontinuities", (json_int_t)disc,
        "reorders", (json_int_t)reorders, "protocol_errors", (json_int_t)r->sum.proto_errors,
        "wrong_channel", (json_int_t)r->sum.wrong_channel);
    json_object_set_new(o, "late_p50_ms", json_real(r->late_us[0] / 1e3));
    json_object_set_new(o, "late_p90_ms", json_real(r->late_us[1] / 1e3));
    json_object_set_new(o, "late_p99_ms", json_real(r->late_us[2] / 1e3));
    json_object_set_new(o, "late_max_ms", json_real(r->sum.read.max_us / 1e3));
    json_object_set_new(o, "late_negative", json_integer((json_int_t)r->sum.read.negative));
    if (r->sum.kernel.count) {
        json_object_set_new(o, "kernel_p50_ms", json_real(r->kernel_us[0] / 1e3));
        json_object_set_new(o, "kernel_p90_ms", json_real(r->kernel_us[1] / 1e3));
        json_object_set_new(o, "kernel_p99_ms", json_real(r->kernel_us[2] / 1e3));
        json_object_set_new(o, "kernel_max_ms", json_real(r->sum.kernel.max_us / 1e3));
        json_object_set_new(o, "kernel_frames", json_integer((json_int_t)r->sum.kernel.count));
    }
    json_object_set_new(o, "server_cpu_pct", json_real(r->server_cpu_pct));
    json_object_set_new(o, "server_hwm_kib", json_integer(r->server_hwm_kib));
    json_object_set_new(o, "server_rss_kib", json_integer(r->server_rss_kib));
    json_object_set_new(o, "server_threads", tasks);
    json_object_set_new(o, "gen_cpu_pct", json_real(r->gen_cpu_pct));
    json_object_set_new(o, "gen_hwm_kib", json_integer(r->gen_hwm_kib));
    json_object_set_new(o, "machine_busy_pct", json_real(r->machine_busy_pct));
    json_object_set_new(o, "machine_irq_pct", json_real(r->machine_irq_pct));
    json_object_set_new(o, "machine_steal_pct", json_real(r->machine_steal_pct));
    json_object_set_new(o, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
    printf("\n");
    json_decref(o);
}

static int report(struct tolk_lg_run *run, struct lg_report *r, struct tolk_lg_worker *w, int nw)
{
    uint64_t gaps, disc, reorders;
    int rc = -ENOMEM;
    if (tolk_lg_hist_init(&r->sum.read) != 0 || tolk_lg_hist_init(&r->sum.kernel) != 0 ||
        frames_spread(r, w, nw) != 0)
        goto out;
    sum_stats(r, w, nw);
    sum_conns(r, w, nw, &gaps, &disc, &reorders);
    static const double q[3] = {0.50, 0.90, 0.99};
    for (int i = 0; i < 3; i++) {
        r->late_us[i] = tolk_lg_hist_quantile(&r->sum.read, q[i]);
        r->kernel_us[i] = tolk_lg_hist_quantile(&r->sum.kernel, q[i]);
    }
    r->expected_per_conn = (long)(r->window_s * 1000.0 / run->frame_ms + 0.5);
    struct tolk_lg_proc_sample self;
    r->gen_hwm_kib = tolk_lg_proc_sample(0, &self) == 0 ? self.hwm_kib : -1;
    if (run->json)
        print_json(run, r, gaps, disc, reorders);
    else
        print_text(run, r, gaps, disc, reorders);
    fflush(stdout);
    rc = 0;
out:
    tolk_lg_hist_free(&r->sum.read);
    tolk_lg_hist_free(&r->sum.kernel);
    return rc;
}

/* Starts the workers, ramps, measures, stops them and reports. */
static int run_load(struct tolk_lg_run *run)
{
    static struct tolk_lg_worker workers[LG_MAX_THREADS];
    static struct lg_report r;
    int nw = 0, started = 0, rc = 0;
    for (; nw < run->threads && rc == 0; nw++) {
        int share = run->clients / run->threads + (nw < run->clients % run->threads);
        rc = tolk_lg_worker_create(&workers[nw], run, nw, share);
    }
    if (rc != 0) {
        nw--;
        goto out;
    }
    for (; started < nw && rc == 0; started++)
        rc = tolk_lg_worker_start(&workers[started]);
    if (rc != 0) {
        started--;
        goto out;
    }
    r.ramp_s = wait_ramp(run, workers, nw);
    tolk_clock_sleep_until(tolk_clock_mono_ns() + LG_SETTLE_NS);
    measure(run, &r);
out:
    atomic_store(&run->phase, TOLK_LG_DONE);
    atomic_store(&run->stop, true);
    for (int i = 0; i < started; i++)
        tolk_lg_worker_join(&workers[i]);
    if (rc == 0) {
        count_connections(workers, nw, &r.established, &r.failed, &r.closed);
        r.pending = run->clients - r.established - r.failed;
        rc = report(run, &r, workers, nw);
    }
    for (int i = 0; i < nw; i++)
        tolk_lg_worker_destroy(&workers[i]);
    return rc;
}

int main(int argc, char **argv)
{
    static struct tolk_lg_run run;
    if (parse_args(&run, argc, argv) != 0)
        return 2;
    if (check_loopback(run.host) != 0) {
        fprintf(stderr, "tolk-loadgen: %s is not a loopback address; refusing\n", run.host);
        return 2;
    }
    lws_set_log_level(LLL_ERR, NULL);
    atomic_init(&run.phase, TOLK_LG_RAMP);
    atomic_init(&run.stop, false);
    if (tolk_lg_probe(&run) != 0 || select_channel(&run) != 0)
        return 1;
    if (run.transport == TOLK_LG_EPOLL && tolk_lg_epoll_prepare(&run) != 0) {
        fprintf(stderr, "tolk-loadgen: can not resolve %s\n", run.host);
        return 1;
    }
    int rc = run_load(&run);
    if (rc != 0)
        fprintf(stderr, "tolk-loadgen: %s\n", strerror(-rc));
    return rc == 0 ? 0 : 1;
}
