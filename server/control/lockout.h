/* PIN lockout: five wrong PINs within a minute from one client address lock that address out
 * for a minute, whatever it types meanwhile.
 *
 * Threads: not thread-safe; the caller (control/booth.c) holds its lock. Times are monotonic ms,
 * passed in so tests control them.
 */
#ifndef TOLK_CONTROL_LOCKOUT_H
#define TOLK_CONTROL_LOCKOUT_H

#include <stdbool.h>
#include <stdint.h>

#define TOLK_LOCKOUT_FAILURES 5
#define TOLK_LOCKOUT_WINDOW_MS 60000
#define TOLK_LOCKOUT_MS 60000
#define TOLK_LOCKOUT_ADDRESSES 256 /* remembered at once; the stalest is forgotten first */

struct tolk_lockout_entry {
    char addr[64];
    int64_t failures[TOLK_LOCKOUT_FAILURES]; /* times of the last wrong PINs, newest last */
    int64_t locked_until;
    int64_t last_seen;
};

struct tolk_lockout {
    struct tolk_lockout_entry entries[TOLK_LOCKOUT_ADDRESSES];
};

/* Milliseconds addr is still locked out, 0 if it may try. */
int64_t tolk_lockout_remaining(struct tolk_lockout *lockout, const char *addr, int64_t now_ms);

/* Records a wrong PIN. Returns the attempts left before the lockout; 0 means it is now locked. */
int tolk_lockout_fail(struct tolk_lockout *lockout, const char *addr, int64_t now_ms);

/* A right PIN: the address's failures are forgotten. */
void tolk_lockout_clear(struct tolk_lockout *lockout, const char *addr);

#endif
