/* Signal analysis of decoded audio: dominant frequency and levels. Pure functions, any thread. */
#ifndef TOLK_TESTS_ANALYSIS_H
#define TOLK_TESTS_ANALYSIS_H

#include <stddef.h>

/* The frequency in [lo_hz, hi_hz] (step_hz apart) with the most energy in pcm, found with a
 * Hann-windowed Goertzel scan. *share (if not NULL) gets that bin's share of the scanned
 * energy, 0..1: near 1 for a clean tone. Returns 0 for an empty or silent input. */
double tolk_signal_dominant_hz(const float *pcm, size_t n, int rate, double lo_hz, double hi_hz,
                               double step_hz, double *share);
/* Levels in dBFS (a full-scale sine has RMS -3 dBFS); -200 for silence. */
double tolk_signal_rms_db(const float *pcm, size_t n);
double tolk_signal_peak_db(const float *pcm, size_t n);

#endif
