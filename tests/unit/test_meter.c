/* Unit tests of the level meter (server/engine/meter.h): sine peak and RMS in dBFS, silence,
 * clipping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "engine/meter.h"

#define RATE 48000
#define FRAME 960 /* 20 ms */

static float pcm[RATE / 10];

static void sine(float *out, size_t n, double amplitude, double hz)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)(amplitude * sin(2.0 * M_PI * hz * (double)i / RATE));
}

static void expect_db(float got, double want, const char *what)
{
    if (!(fabs(got - want) <= 0.05))
        fail_msg("%s: %.4f dBFS, expected %.4f +- 0.05", what, got, want);
}

static void test_full_scale_sine(void **state)
{
    struct tolk_levels lv;
    sine(pcm, FRAME, 1.0, 1000.0); /* 20 whole periods */
    tolk_meter_measure(pcm, FRAME, &lv);
    expect_db(lv.peak_db, 0.0, "peak");
    expect_db(lv.rms_db, -3.0103, "rms");
}

static void test_minus_20_dbfs_sine(void **state)
{
    struct tolk_levels lv;
    sine(pcm, sizeof pcm / sizeof pcm[0], 0.1, 997.0);
    tolk_meter_measure(pcm, sizeof pcm / sizeof pcm[0], &lv);
    expect_db(lv.peak_db, -20.0, "peak");
    expect_db(lv.rms_db, -23.0103, "rms");
    assert_false(lv.clipped);
}

static void test_silence(void **state)
{
    struct tolk_levels lv = {.peak_db = 1, .rms_db = 1, .clipped = true};
    for (size_t i = 0; i < FRAME; i++)
        pcm[i] = 0.0f;
    tolk_meter_measure(pcm, FRAME, &lv);
    assert_true(lv.peak_db == TOLK_METER_FLOOR_DB);
    assert_true(lv.rms_db == TOLK_METER_FLOOR_DB);
    assert_false(lv.clipped);
}

static void test_clipping(void **state)
{
    struct tolk_levels lv;
    sine(pcm, FRAME, 0.5, 440.0);
    tolk_meter_measure(pcm, FRAME, &lv);
    assert_false(lv.clipped);
    expect_db(lv.peak_db, -6.0206, "half-scale peak");

    pcm[FRAME / 3] = 1.0f;
    tolk_meter_measure(pcm, FRAME, &lv);
    assert_true(lv.clipped);
    expect_db(lv.peak_db, 0.0, "clipped peak");

    pcm[FRAME / 3] = 0.0f;
    pcm[FRAME - 1] = -1.0f; /* full scale is full scale either way */
    tolk_meter_measure(pcm, FRAME, &lv);
    assert_true(lv.clipped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_scale_sine),
        cmocka_unit_test(test_minus_20_dbfs_sine),
        cmocka_unit_test(test_silence),
        cmocka_unit_test(test_clipping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
