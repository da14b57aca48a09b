/* Clocks. Monotonic time paces the engine; wall time (µs since the Unix epoch) stamps frames,
 * because listeners compare it with their own clock to measure latency. Any thread; no locks. */
#ifndef TOLK_CLOCK_H
#define TOLK_CLOCK_H

#include <stdint.h>

int64_t tolk_clock_mono_ns(void);
int64_t tolk_clock_wall_us(void);
/* Sleeps until the monotonic clock reaches deadline_ns (returns at once if it has passed). */
void tolk_clock_sleep_until(int64_t deadline_ns);

#endif
