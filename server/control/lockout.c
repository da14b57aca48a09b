/* PIN lockout (lockout.h): a small table of client addresses and their recent failures.
 *
 * Threads: the caller's lock; no allocation.
 */
#include "control/lockout.h"

#include <stdio.h>
#include <string.h>

static struct tolk_lockout_entry *find(struct tolk_lockout *lk, const char *addr)
{
    for (int i = 0; i < TOLK_LOCKOUT_ADDRESSES; i++)
        if (lk->entries[i].addr[0] && strcmp(lk->entries[i].addr, addr) == 0)
            return &lk->entries[i];
    return NULL;
}

/* The address's entry, taking an empty one or the stalest one if it has none. */
static struct tolk_lockout_entry *find_or_add(struct tolk_lockout *lk, const char *addr)
{
    struct tolk_lockout_entry *e = find(lk, addr), *stalest = &lk->entries[0];
    if (e)
        return e;
    for (int i = 0; i < TOLK_LOCKOUT_ADDRESSES; i++) {
        struct tolk_lockout_entry *c = &lk->entries[i];
        if (!c->addr[0]) {
            stalest = c;
            break;
        }
        if (c->last_seen < stalest->last_seen)
            stalest = c;
    }
    memset(stalest, 0, sizeof *stalest);
    snprintf(stalest->addr, sizeof stalest->addr, "%s", addr);
    return stalest;
}

int64_t tolk_lockout_remaining(struct tolk_lockout *lk, const char *addr, int64_t now_ms)
{
    struct tolk_lockout_entry *e = find(lk, addr);
    return e && e->locked_until > now_ms ? e->locked_until - now_ms : 0;
}

int tolk_lockout_fail(struct tolk_lockout *lk, const char *addr, int64_t now_ms)
{
    struct tolk_lockout_entry *e = find_or_add(lk, addr);
    e->last_seen = now_ms;
    memmove(&e->failures[0], &e->failures[1], (TOLK_LOCKOUT_FAILURES - 1) * sizeof e->failures[0]);
    e->failures[TOLK_LOCKOUT_FAILURES - 1] = now_ms;
    int recent = 0;
    for (int i = 0; i < TOLK_LOCKOUT_FAILURES; i++)
        recent += e->failures[i] > 0 && now_ms - e->failures[i] < TOLK_LOCKOUT_WINDOW_MS;
    if (recent < TOLK_LOCKOUT_FAILURES)
        return TOLK_LOCKOUT_FAILURES - recent;
    e->locked_until = now_ms + TOLK_LOCKOUT_MS;
    memset(e->failures, 0, sizeof e->failures); /* a fresh count once the minute is over */
    return 0;
}

void tolk_lockout_clear(struct tolk_lockout *lk, const char *addr)
{
    struct tolk_lockout_entry *e = find(lk, addr);
    if (e)
        memset(e->failures, 0, sizeof e->failures);
}
