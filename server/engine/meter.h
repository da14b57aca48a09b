/* Level meter of one frame: peak and RMS in dBFS, clipping. Pure function, engine thread. */
#ifndef TOLK_ENGINE_METER_H
#define TOLK_ENGINE_METER_H

#include <stdbool.h>
#include <stddef.h>

#define TOLK_METER_FLOOR_DB (-120.0f) /* reported for digital silence */

struct tolk_levels {
    float peak_db;
    float rms_db;
    bool clipped; /* a sample reached full scale */
};

void tolk_meter_measure(const float *pcm, size_t n, struct tolk_levels *out);

#endif
