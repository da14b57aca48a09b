/* Routing: which audio each channel carries this frame. Pure function, engine thread.
 *
 * A live channel carries its own audio. A channel that is not live carries the audio of the
 * first live channel along its fallback chain (normally the floor) and is flagged FALLBACK, so a
 * delegate never hears silence because a booth paused; with no live channel on the chain it
 * carries silence (still flagged FALLBACK). Cycles in the chain are cut (config.c refuses them).
 */
#ifndef TOLK_ENGINE_ROUTER_H
#define TOLK_ENGINE_ROUTER_H

#include <stdbool.h>

struct tolk_route {
    int carry;     /* index of the channel whose audio goes out; -1 = silence */
    bool fallback; /* true when the channel is not live itself */
};

/* live[i]: channel i has live audio of its own this frame; fallback[i]: its fallback index or -1. */
void tolk_router_resolve(int count, const bool *live, const int *fallback, struct tolk_route *out);

#endif
