/* Real-time scheduling (see tolk/realtime.h). Any thread, for itself. */
#include "tolk/realtime.h"

#include <pthread.h>
#include <sched.h>

int tolk_realtime_raise(int priority)
{
    struct sched_param param = {.sched_priority = priority};
    return -pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
}
