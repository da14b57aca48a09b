/* Dominant frequency (Goertzel scan) and levels of PCM. Pure functions, any thread. */
#include "analysis.h"

#include <math.h>
#include <stdlib.h>

static double goertzel_power(const float *x, const float *window, size_t n, double hz, int rate)
{
    double coeff = 2.0 * cos(2.0 * M_PI * hz / rate);
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double s0 = x[i] * window[i] + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

double tolk_signal_dominant_hz(const float *pcm, size_t n, int rate, double lo_hz, double hi_hz,
                               double step_hz, double *share)
{
    if (share)
        *share = 0;
    size_t bins = step_hz > 0 && hi_hz >= lo_hz ? (size_t)((hi_hz - lo_hz) / step_hz) + 1 : 0;
    float *window = n > 1 ? malloc(n * sizeof *window) : NULL;
    double *power = bins ? malloc(bins * sizeof *power) : NULL;
    double best_hz = 0, best = 0, total = 0;
    size_t best_bin = 0;
    if (!window || !power)
        goto out;
    for (size_t i = 0; i < n; i++)
        window[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)(n - 1)));
    for (size_t b = 0; b < bins; b++) {
        power[b] = goertzel_power(pcm, window, n, lo_hz + (double)b * step_hz, rate);
        total += power[b];
        if (power[b] > best) {
            best = power[b];
            best_bin = b;
            best_hz = lo_hz + (double)b * step_hz;
        }
    }
    /* A Hann window spreads a tone over +-2 * rate / n Hz: its share counts those bins. */
    if (share && total > 0) {
        size_t spread = (size_t)(2.0 * rate / (double)n / step_hz) + 1;
        double near = 0;
        for (size_t b = best_bin > spread ? best_bin - spread : 0; b < bins && b <= best_bin + spread; b++)
            near += power[b];
        *share = near / total;
    }
out:
    free(window);
    free(power);
    return best > 0 ? best_hz : 0;
}

double tolk_signal_rms_db(const float *pcm, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)pcm[i] * pcm[i];
    if (n == 0 || sum <= 0)
        return -200;
    return 10.0 * log10(sum / (double)n);
}

double tolk_signal_peak_db(const float *pcm, size_t n)
{
    double peak = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(pcm[i]) > peak)
            peak = fabs(pcm[i]);
    return peak > 0 ? 20.0 * log10(peak) : -200;
}
