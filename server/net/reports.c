/* Receivers' report tables (reports.h). Threads: see the header; `lock` guards everything. */
#include "net/reports.h"

#include <errno.h>
#include <stdlib.h>

int tolk_reports_init(struct tolk_reports *r, int capacity)
{
    r->slots = calloc((size_t)capacity, sizeof *r->slots);
    r->free_slots = calloc((size_t)capacity, sizeof *r->free_slots);
    if (!r->slots || !r->free_slots) {
        free(r->slots);
        free(r->free_slots);
        return -ENOMEM;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->capacity = capacity;
    for (int i = 0; i < capacity; i++) {
        r->free_slots[i] = capacity - 1 - i;
        r->slots[i].time_ms = -1;
    }
    r->free_count = capacity;
    return 0;
}

void tolk_reports_destroy(struct tolk_reports *r)
{
    if (!r->slots)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r->slots);
    free(r->free_slots);
    r->slots = NULL;
}

int tolk_reports_acquire(struct tolk_reports *r)
{
    pthread_mutex_lock(&r->lock);
    int slot = r->free_count > 0 ? r->free_slots[--r->free_count] : -1;
    pthread_mutex_unlock(&r->lock);
    return slot;
}

void tolk_reports_update(struct tolk_reports *r, int slot, const struct tolk_report *report)
{
    pthread_mutex_lock(&r->lock);
    r->slots[slot] = *report;
    pthread_mutex_unlock(&r->lock);
}

void tolk_reports_release(struct tolk_reports *r, int slot)
{
    pthread_mutex_lock(&r->lock);
    r->slots[slot].time_ms = -1;
    r->free_slots[r->free_count++] = slot;
    pthread_mutex_unlock(&r->lock);
}

void tolk_reports_collect(struct tolk_reports *r, int64_t since_ms,
                          void (*fn)(const struct tolk_report *report, void *arg), void *arg)
{
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->capacity; i++)
        if (r->slots[i].time_ms >= 0 && r->slots[i].time_ms > since_ms)
            fn(&r->slots[i], arg);
    pthread_mutex_unlock(&r->lock);
}
