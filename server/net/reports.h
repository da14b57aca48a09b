/* The receivers' `stats` reports, kept for the technicians: the latest one of each listener.
 *
 * One table per network context, with a slot per reporting listener (taken at its first report,
 * given back when it leaves), so a report costs a copy under an uncontended mutex. The tech
 * dashboard walks every context's table once a second to aggregate and find the worst
 * listeners.
 *
 * Threads: the context's service thread writes its table; any thread may walk it (collect).
 */
#ifndef TOLK_NET_REPORTS_H
#define TOLK_NET_REPORTS_H

#include <pthread.h>
#include <stdint.h>

struct tolk_report {
    int channel;
    float buffer_ms, latency_ms; /* negative = not reported */
    uint32_t underruns;
    char decoder[16];
    char address[48];
    int64_t time_ms; /* monotonic, when it came */
};

struct tolk_reports {
    pthread_mutex_t lock;
    int capacity;
    struct tolk_report *slots;
    int *free_slots; /* stack of free slot numbers */
    int free_count;
};

int tolk_reports_init(struct tolk_reports *reports, int capacity);
void tolk_reports_destroy(struct tolk_reports *reports);
/* A slot for a listener, or -1 when the table is full (its reports are then not kept). */
int tolk_reports_acquire(struct tolk_reports *reports);
void tolk_reports_update(struct tolk_reports *reports, int slot, const struct tolk_report *report);
void tolk_reports_release(struct tolk_reports *reports, int slot);
/* Calls fn for every report newer than since_ms, under the table's lock (fn must be quick). */
void tolk_reports_collect(struct tolk_reports *reports, int64_t since_ms,
                          void (*fn)(const struct tolk_report *report, void *arg), void *arg);

#endif
