/* tolk-loadgen workers, the parts every transport shares: lifetime, the ramp quota, connection
 * state changes, and the accounting of each binary audio message (sequence gaps, DISCONTINUITY
 * flags, per-frame lateness).
 *
 * Threads: create/start/join/destroy on the main thread (a worker's transport is set up before its
 * thread starts and torn down after it ends). The rest runs on the worker's own thread; the main
 * thread only reads the atomics until it has joined the worker.
 */
#include "loadgen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tolk/error.h"
#include "tolk/protocol.h"

#define LG_MAX_PACKETS 256 /* per binary message */

/* ---- Accounting (worker thread) ---- */

static void track_seq(struct tolk_lg_conn *c, const struct tolk_frame_header *h, size_t n,
                      bool window)
{
    if (c->have_seq && h->seq != c->next_seq) {
        uint32_t ahead = h->seq - c->next_seq;
        if (ahead >= 0x80000000u) { /* at or before one already seen */
            if (window)
                c->reorders++;
            return;
        }
        if (window)
            c->gaps += ahead;
    }
    if (window && (h->flags & TOLK_FLAG_DISCONTINUITY))
        c->discontinuities++;
    c->next_seq = h->seq + (uint32_t)n;
    c->have_seq = true;
}

void tolk_lg_account_message(struct tolk_lg_conn *c, const uint8_t *msg, size_t len, int64_t now_us,
                             int64_t kernel_us)
{
    struct tolk_lg_worker *w = c->worker;
    struct tolk_frame_header h;
    const uint8_t *packets[LG_MAX_PACKETS];
    uint16_t lengths[LG_MAX_PACKETS];
    size_t n;
    if (tolk_frame_parse(msg, len, &h, packets, lengths, LG_MAX_PACKETS, &n) != 0) {
        w->stats.proto_errors++;
        return;
    }
    bool window = atomic_load_explicit(&w->run->phase, memory_order_relaxed) == TOLK_LG_MEASURE;
    track_seq(c, &h, n, window);
    if (!window)
        return;
    if (h.channel != c->channel_slot)
        w->stats.wrong_channel += n;
    w->stats.messages++;
    w->stats.frames += n;
    c->frames += (uint32_t)n;
    int64_t frame_us = (int64_t)w->run->frame_ms * 1000;
    for (size_t i = 0; i < n; i++) {
        int64_t capture = (int64_t)h.capture_us + (int64_t)i * frame_us;
        tolk_lg_hist_add(&w->stats.read, now_us - capture);
        if (kernel_us)
            tolk_lg_hist_add(&w->stats.kernel, kernel_us - capture);
    }
}

int tolk_lg_conn_keep(struct tolk_lg_conn *c, const void *in, size_t len)
{
    if (c->partial_len + len > c->partial_cap) {
        uint32_t cap = c->partial_cap ? c->partial_cap : 512;
        while (cap < c->partial_len + len)
            cap *= 2;
        uint8_t *p = realloc(c->partial, cap);
        if (!p)
            return -ENOMEM;
        c->partial = p;
        c->partial_cap = cap;
    }
    memcpy(c->partial + c->partial_len, in, len);
    c->partial_len += (uint32_t)len;
    return 0;
}

/* ---- Connection state (worker thread) ---- */

void tolk_lg_conn_path(const struct tolk_lg_conn *c, char *out, size_t cap)
{
    const struct tolk_lg_run *run = c->worker->run;
    snprintf(out, cap, "%s%schannel=%s", run->path, strchr(run->path, '?') ? "&" : "?",
             run->channel_ids[c->channel_slot]);
}

void tolk_lg_conn_on_open(struct tolk_lg_conn *c)
{
    c->state = TOLK_LG_OPEN;
    c->worker->connecting--;
    atomic_fetch_add(&c->worker->established, 1);
}

void tolk_lg_conn_on_failed(struct tolk_lg_conn *c)
{
    if (c->state != TOLK_LG_CONNECTING)
        return;
    c->state = TOLK_LG_FAILED;
    c->worker->connecting--;
    atomic_fetch_add(&c->worker->failed, 1);
}

void tolk_lg_conn_on_closed(struct tolk_lg_conn *c)
{
    if (c->state != TOLK_LG_OPEN)
        return;
    c->state = TOLK_LG_CLOSED;
    int phase = atomic_load(&c->worker->run->phase);
    if (phase == TOLK_LG_DONE)
        return;
    c->closed_in_window = phase == TOLK_LG_MEASURE;
    atomic_fetch_add(&c->worker->closed, 1);
}

int tolk_lg_ramp_quota(const struct tolk_lg_worker *w)
{
    int quota = (w->run->ramp_per_period + w->run->threads - 1) / w->run->threads;
    int room = TOLK_LG_PENDING_PER_WORKER - w->connecting;
    int left = w->conn_count - w->next_to_open;
    if (quota > room)
        quota = room;
    return quota < left ? quota : left;
}

/* ---- Lifetime (main thread) ---- */

int tolk_lg_worker_create(struct tolk_lg_worker *w, struct tolk_lg_run *run, int index,
                          int conn_count)
{
    int rc = -ENOMEM;
    memset(w, 0, sizeof *w);
    w->index = index;
    w->run = run;
    w->conn_count = conn_count;
    w->epfd = w->wakefd = -1;
    w->conns = calloc(conn_count > 0 ? (size_t)conn_count : 1, sizeof *w->conns);
    if (!w->conns || tolk_lg_hist_init(&w->stats.read) != 0 ||
        tolk_lg_hist_init(&w->stats.kernel) != 0)
        goto fail;
    for (int k = 0; k < conn_count; k++) {
        int global = k * run->threads + index;
        w->conns[k].worker = w;
        w->conns[k].fd = -1;
        w->conns[k].channel_slot =
            (uint16_t)(run->fixed_slot >= 0 ? run->fixed_slot : global % run->channel_count);
    }
    rc = run->transport == TOLK_LG_LWS ? tolk_lg_lws_init(w) : tolk_lg_epoll_init(w);
    if (rc == 0)
        return 0;
fail:
    tolk_lg_worker_destroy(w);
    return rc;
}

int tolk_lg_worker_start(struct tolk_lg_worker *w)
{
    void *(*fn)(void *) = w->run->transport == TOLK_LG_LWS ? tolk_lg_lws_main : tolk_lg_epoll_main;
    return -pthread_create(&w->thread, NULL, fn, w);
}

void tolk_lg_worker_join(struct tolk_lg_worker *w)
{
    if (w->run->transport == TOLK_LG_LWS)
        tolk_lg_lws_wake(w);
    else
        tolk_lg_epoll_wake(w);
    pthread_join(w->thread, NULL);
}

void tolk_lg_worker_destroy(struct tolk_lg_worker *w)
{
    if (!w || !w->run)
        return;
    if (w->run->transport == TOLK_LG_LWS)
        tolk_lg_lws_fini(w);
    else
        tolk_lg_epoll_fini(w);
    for (int k = 0; w->conns && k < w->conn_count; k++)
        free(w->conns[k].partial);
    free(w->conns);
    tolk_lg_hist_free(&w->stats.read);
    tolk_lg_hist_free(&w->stats.kernel);
    w->conns = NULL;
}
