/* Frame level meter (see meter.h). Pure function, engine thread. */
#include "engine/meter.h"

#include <math.h>

static float to_db(double linear)
{
    if (linear <= 1e-6)
        return TOLK_METER_FLOOR_DB;
    return (float)(20.0 * log10(linear));
}

void tolk_meter_measure(const float *pcm, size_t n, struct tolk_levels *out)
{
    double peak = 0.0, sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = fabs((double)pcm[i]);
        if (v > peak)
            peak = v;
        sum += v * v;
    }
    out->peak_db = to_db(peak);
    out->rms_db = n ? to_db(sqrt(sum / (double)n)) : TOLK_METER_FLOOR_DB;
    out->clipped = peak >= 0.999;
}
