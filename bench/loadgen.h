/* tolk-loadgen internals: the run (options and shared state), the per-thread workers that hold
 * the listener connections, the lateness histogram and the /proc readers.
 *
 * Threads: the main thread parses options, probes the server, creates the workers' lws contexts,
 * drives the phases and reports. Each worker thread runs one lws client context and owns its
 * connections and statistics; the main thread reads them only after joining the worker. The only
 * fields both touch while workers run are the atomics in struct tolk_lg_run and tolk_lg_worker.
 */
#ifndef TOLK_BENCH_LOADGEN_H
#define TOLK_BENCH_LOADGEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <libwebsockets.h>

struct ev_loop;

#define TOLK_LG_MAX_CHANNELS 32
#define TOLK_LG_ID_MAX 32
#define TOLK_LG_HIST_BIN_US 100     /* lateness histogram resolution */
#define TOLK_LG_HIST_BINS 100000    /* 0 .. 10 s; later ones land in the last bin (max is exact) */
#define TOLK_LG_RAMP_PERIOD_US 100000

enum tolk_lg_phase { TOLK_LG_RAMP, TOLK_LG_MEASURE, TOLK_LG_DONE };

enum tolk_lg_transport {
    TOLK_LG_EPOLL, /* lg_epoll.c: minimal WebSocket client on epoll, the lean default */
    TOLK_LG_LWS,   /* lg_lws.c: libwebsockets client contexts on libev (epoll) */
};

/* Written by the main thread before any worker starts; read-only afterwards, except the atomics. */
struct tolk_lg_run {
    char host[128];
    int port;
    char path[256];
    char channel[TOLK_LG_ID_MAX]; /* --channel, "" = spread over hello's channels */
    int clients;
    int seconds;
    int threads;
    int ramp_per_period; /* connections opened per 100 ms, all workers together */
    int server_pid;      /* 0 = none */
    bool json;
    enum tolk_lg_transport transport;
    struct sockaddr_storage addr; /* host:port resolved, for the epoll transport */
    socklen_t addr_len;
    char ws_key[32];    /* Sec-WebSocket-Key of every epoll connection */
    char ws_accept[32]; /* and the Sec-WebSocket-Accept it must get back */

    /* From the probe's hello. */
    int frame_ms;
    int channel_count;
    char channel_ids[TOLK_LG_MAX_CHANNELS][TOLK_LG_ID_MAX];
    int fixed_slot; /* index of --channel in channel_ids, -1 = spread */

    atomic_int phase; /* enum tolk_lg_phase; main writes, workers read */
    atomic_bool stop; /* main writes, workers read: leave the service loop */
};

enum tolk_lg_conn_state {
    TOLK_LG_IDLE,
    TOLK_LG_CONNECTING, /* TCP connect or WebSocket handshake under way */
    TOLK_LG_OPEN,
    TOLK_LG_FAILED,
    TOLK_LG_CLOSED,
};

/* One listener connection. Worker thread only (main reads it after the join). */
struct tolk_lg_conn {
    struct tolk_lg_worker *worker;
    struct lws *wsi;  /* lws transport */
    int fd;           /* epoll transport, -1 when closed */
    uint8_t *partial; /* bytes of a message (epoll: of a frame) that arrived in pieces; lazy */
    uint32_t partial_len, partial_cap;
    uint32_t next_seq; /* expected sequence number of the next frame */
    uint32_t frames;   /* Opus frames received during the measuring window */
    uint32_t gaps;     /* missing sequence numbers during the window */
    uint32_t discontinuities;
    uint32_t reorders; /* a sequence number at or before one already seen */
    uint8_t state;     /* enum tolk_lg_conn_state */
    bool have_seq;
    bool closed_in_window;
    bool requested;  /* epoll transport: the upgrade request has been sent */
    uint8_t frag_op; /* epoll transport: opcode of the fragmented message under way, 0 = none */
    uint16_t channel_slot; /* index into run->channel_ids */
};

/* Lateness of frames: arrival wall time minus capture time. */
struct tolk_lg_hist {
    uint32_t *bins;    /* TOLK_LG_HIST_BINS counts, TOLK_LG_HIST_BIN_US wide */
    uint64_t count;
    uint64_t negative; /* frames whose capture time was after their arrival */
    int64_t max_us;
};

/* Counters of one worker; summed by the main thread after the join. */
struct tolk_lg_stats {
    uint64_t messages;      /* binary messages during the window */
    uint64_t frames;        /* Opus frames during the window */
    uint64_t text_messages; /* during the whole run */
    uint64_t proto_errors;  /* binary messages tolk_frame_parse refused */
    uint64_t wrong_channel; /* frames whose channel index is not the one asked for */
    struct tolk_lg_hist read;   /* arrival = when the generator read the message */
    struct tolk_lg_hist kernel; /* arrival = the kernel's receive timestamp (epoll transport):
                                 * leaves out the generator's own scheduling delay */
};

struct tolk_lg_worker {
    int index;
    struct tolk_lg_run *run;
    struct lws_context *ctx;
    struct ev_loop *loop; /* lws transport: libev loop (epoll) */
    int epfd, wakefd;     /* epoll transport: the epoll set and an eventfd the main thread writes */
    uint8_t *rxbuf;       /* epoll transport: one read buffer for all connections */
    int64_t rx_read_us;   /* epoll transport: wall time of the latest read */
    int64_t rx_kernel_us; /* ... and the kernel's receive timestamp of its data, 0 = none */
    pthread_t thread;
    struct tolk_lg_conn *conns; /* this worker's share of the clients */
    int conn_count;
    int next_to_open;
    int connecting;  /* worker only: handshakes under way */
    lws_sorted_usec_list_t ramp_sul; /* lws transport */
    int64_t next_ramp_ns;            /* epoll transport */
    struct tolk_lg_stats stats;

    /* Worker writes, main polls during the ramp and the window. */
    atomic_int established;
    atomic_int failed;
    atomic_int closed; /* established connections that the server closed */
};

#define TOLK_LG_PENDING_PER_WORKER 400 /* handshakes under way at once */

/* lg_worker.c: transport-independent parts. Main thread. */
int tolk_lg_worker_create(struct tolk_lg_worker *w, struct tolk_lg_run *run, int index,
                          int conn_count);
int tolk_lg_worker_start(struct tolk_lg_worker *w);
/* Asks the worker to stop, joins it. */
void tolk_lg_worker_join(struct tolk_lg_worker *w);
void tolk_lg_worker_destroy(struct tolk_lg_worker *w);
/* Any thread: the request path of c, with its ?channel=ID. */
void tolk_lg_conn_path(const struct tolk_lg_conn *c, char *out, size_t cap);
/* Worker thread: how many connections to open now (ramp quota and pending bound). */
int tolk_lg_ramp_quota(const struct tolk_lg_worker *w);
/* Worker thread: accounts one whole binary message read at now_us (wall clock), which the kernel
 * received at kernel_us (wall clock; 0 = unknown). */
void tolk_lg_account_message(struct tolk_lg_conn *c, const uint8_t *msg, size_t len, int64_t now_us,
                             int64_t kernel_us);
/* Worker thread: keeps len more bytes in c->partial. Returns 0 or -ENOMEM. */
int tolk_lg_conn_keep(struct tolk_lg_conn *c, const void *in, size_t len);
void tolk_lg_conn_on_open(struct tolk_lg_conn *c);
void tolk_lg_conn_on_failed(struct tolk_lg_conn *c);
void tolk_lg_conn_on_closed(struct tolk_lg_conn *c);

/* lg_lws.c */
int tolk_lg_probe(struct tolk_lg_run *run); /* main thread: reads hello */
int tolk_lg_lws_init(struct tolk_lg_worker *w);
void *tolk_lg_lws_main(void *worker);
void tolk_lg_lws_wake(struct tolk_lg_worker *w); /* any thread */
void tolk_lg_lws_fini(struct tolk_lg_worker *w);

/* lg_epoll.c */
int tolk_lg_epoll_prepare(struct tolk_lg_run *run); /* main thread: address, key, accept */
int tolk_lg_epoll_init(struct tolk_lg_worker *w);
void *tolk_lg_epoll_main(void *worker);
void tolk_lg_epoll_wake(struct tolk_lg_worker *w); /* any thread */
void tolk_lg_epoll_fini(struct tolk_lg_worker *w);

/* lg_stats.c */
int tolk_lg_hist_init(struct tolk_lg_hist *h); /* 0 or -ENOMEM */
void tolk_lg_hist_free(struct tolk_lg_hist *h);
void tolk_lg_hist_add(struct tolk_lg_hist *h, int64_t late_us);
void tolk_lg_hist_merge(struct tolk_lg_hist *into, const struct tolk_lg_hist *from);
/* Lateness in µs at quantile q (0..1); -1 if empty. */
int64_t tolk_lg_hist_quantile(const struct tolk_lg_hist *h, double q);

struct tolk_lg_proc_sample {
    double cpu_s; /* user + system since the process started */
    long hwm_kib; /* VmHWM */
    long rss_kib; /* VmRSS */
    int64_t mono_ns;
};
/* pid 0 = this process. Returns 0 or -errno. */
int tolk_lg_proc_sample(int pid, struct tolk_lg_proc_sample *out);

/* The whole machine from /proc/stat, in clock ticks summed over all CPUs. Idle time is measured
 * exactly by tickless kernels while the other counters are sampled at each tick, so the busy share
 * is best taken as elapsed time minus idle. */
struct tolk_lg_machine_sample {
    unsigned long long idle;  /* idle + iowait */
    unsigned long long irq;   /* irq + softirq: charged to no process (loopback TCP lands here) */
    unsigned long long steal; /* taken by the hypervisor */
};
int tolk_lg_machine_sample(struct tolk_lg_machine_sample *out);

#define TOLK_LG_MAX_TASKS 64
struct tolk_lg_task_sample {
    int tid;
    char comm[32];
    double cpu_s;
};
/* The threads of pid with their CPU time so far. Returns how many (up to max) or -errno. */
int tolk_lg_proc_tasks(int pid, struct tolk_lg_task_sample *out, int max);

#endif
