/* Routing of live audio or the fallback (see router.h). Pure function, engine thread. */
#include "engine/router.h"

/* Follows channel i's fallback chain to the first live channel; -1 if none (or a cycle). */
static int first_live_fallback(int count, const bool *live, const int *fallback, int i)
{
    int j = fallback[i];
    for (int steps = 0; j >= 0 && j < count && steps < count; steps++) {
        if (live[j])
            return j;
        j = fallback[j];
    }
    return -1;
}

void tolk_router_resolve(int count, const bool *live, const int *fallback, struct tolk_route *out)
{
    for (int i = 0; i < count; i++) {
        if (live[i]) {
            out[i] = (struct tolk_route){.carry = i, .fallback = false};
            continue;
        }
        out[i] = (struct tolk_route){.carry = first_live_fallback(count, live, fallback, i),
                                     .fallback = true};
    }
}
