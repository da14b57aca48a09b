/* Unit tests of the jitter buffer (lib/jitter.c): ordering, loss concealment, the FEC path, late
 * and duplicate packets, stretching on an underrun, skips to the live edge, the adaptive target,
 * and the drift controller over a simulated hour against a sender whose clock runs fast or
 * slow. Simulated time only; main thread. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tolk/jitter.h"

#define RATE 48000

static struct tolk_jitter *make(int frame_ms, int latency_ms, bool fec)
{
    struct tolk_jitter_config cfg = {.frame_ms = frame_ms, .latency_ms = latency_ms, .fec = fec};
    struct tolk_jitter *jb = NULL;
    assert_int_equal(tolk_jitter_create(&jb, &cfg), 0);
    return jb;
}

/* A packet whose payload names its sequence number. */
static int put(struct tolk_jitter *jb, uint32_t seq, int64_t arrival_us)
{
    uint8_t data[3] = {(uint8_t)(seq >> 8), (uint8_t)seq, 0xAB};
    struct tolk_jitter_packet p = {.seq = seq,
                                   .capture_us = 1000000 + (int64_t)seq * 20000,
                                   .arrival_us = arrival_us,
                                   .data = data,
                                   .len = sizeof data};
    return tolk_jitter_put(jb, &p);
}

static uint32_t payload_seq(const struct tolk_jitter_frame *f)
{
    assert_non_null(f->data);
    assert_int_equal(f->len, 3);
    return (uint32_t)f->data[0] << 8 | f->data[1];
}

static void expect(struct tolk_jitter *jb, enum tolk_jitter_action action, uint32_t seq,
                   uint32_t data_seq)
{
    struct tolk_jitter_frame f;
    tolk_jitter_next(jb, 0, 0, &f);
    assert_int_equal(f.action, action);
    if (action == TOLK_JITTER_SILENCE)
        return;
    assert_int_equal(f.seq, seq);
    if (action == TOLK_JITTER_PLAY || action == TOLK_JITTER_FEC)
        assert_int_equal(payload_seq(&f), data_seq);
    else
        assert_null(f.data);
}

static struct tolk_jitter_stats stats(const struct tolk_jitter *jb)
{
    struct tolk_jitter_stats s;
    tolk_jitter_get_stats(jb, &s);
    return s;
}

static void test_config(void **state)
{
    struct tolk_jitter *jb = (struct tolk_jitter *)1;
    struct tolk_jitter_config bad = {.frame_ms = 2};
    assert_int_equal(tolk_jitter_create(&jb, &bad), -EINVAL);
    assert_null(jb);
    bad.frame_ms = 20;
    bad.latency_ms = -1;
    assert_int_equal(tolk_jitter_create(&jb, &bad), -EINVAL);
    tolk_jitter_destroy(NULL);
    jb = make(20, 0, false);
    assert_int_equal(tolk_jitter_reset(jb, 3), -EINVAL);
    uint8_t big[TOLK_JITTER_MAX_PACKET + 1] = {0};
    struct tolk_jitter_packet p = {.seq = 1, .data = big, .len = sizeof big};
    assert_int_equal(tolk_jitter_put(jb, &p), -EINVAL);
    p.len = 0;
    assert_int_equal(tolk_jitter_put(jb, &p), -EINVAL);
    tolk_jitter_destroy(jb);
}

static void test_ordering(void **state)
{
    struct tolk_jitter *jb = make(20, 0, false);
    expect(jb, TOLK_JITTER_SILENCE, 0, 0); /* nothing yet */
    assert_int_equal(put(jb, 100, 0), 0);
    assert_int_equal(put(jb, 102, 0), 0);
    assert_int_equal(put(jb, 101, 0), 0);
    assert_int_equal(put(jb, 103, 0), 0);
    for (uint32_t s = 100; s <= 103; s++)
        expect(jb, TOLK_JITTER_PLAY, s, s);
    assert_int_equal(stats(jb).played, 4);
    assert_int_equal(stats(jb).concealed, 0);
    tolk_jitter_destroy(jb);
}

static void test_wraparound(void **state)
{
    struct tolk_jitter *jb = make(20, 0, false);
    uint32_t first = 0xFFFFFFFEu;
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(put(jb, first + i, 0), 0);
    for (uint32_t i = 0; i < 4; i++)
        expect(jb, TOLK_JITTER_PLAY, first + i, (first + i) & 0xFFFF);
    tolk_jitter_destroy(jb);
}

static void test_loss_conceals(void **state)
{
    struct tolk_jitter *jb = make(20, 0, false);
    put(jb, 0, 0);
    put(jb, 1, 0);
    put(jb, 3, 0);
    put(jb, 4, 0);
    expect(jb, TOLK_JITTER_PLAY, 0, 0);
    expect(jb, TOLK_JITTER_PLAY, 1, 1);
    expect(jb, TOLK_JITTER_CONCEAL, 2, 0); /* no FEC on this transport: PLC */
    expect(jb, TOLK_JITTER_PLAY, 3, 3);
    expect(jb, TOLK_JITTER_PLAY, 4, 4);
    assert_int_equal(stats(jb).concealed, 1);
    assert_int_equal(stats(jb).fec, 0);
    tolk_jitter_destroy(jb);
}

static void test_fec_path(void **state)
{
    struct tolk_jitter *jb = make(20, 0, true);
    put(jb, 0, 0);
    put(jb, 1, 0);
    put(jb, 3, 0);
    put(jb, 4, 0);
    put(jb, 7, 0); /* 5 and 6 lost: 5 has no FEC copy (6 is gone too), 6 has 7's */
    expect(jb, TOLK_JITTER_PLAY, 0, 0);
    expect(jb, TOLK_JITTER_PLAY, 1, 1);
    expect(jb, TOLK_JITTER_FEC, 2, 3); /* frame 2 from packet 3's FEC... */
    expect(jb, TOLK_JITTER_PLAY, 3, 3); /* ...and packet 3 still plays in its turn */
    expect(jb, TOLK_JITTER_PLAY, 4, 4);
    expect(jb, TOLK_JITTER_CONCEAL, 5, 0);
    expect(jb, TOLK_JITTER_FEC, 6, 7);
    expect(jb, TOLK_JITTER_PLAY, 7, 7);
    struct tolk_jitter_stats s = stats(jb);
    assert_int_equal(s.fec, 2);
    assert_int_equal(s.concealed, 1);
    assert_int_equal(s.played, 5);
    tolk_jitter_destroy(jb);
}

static void test_late_and_duplicate(void **state)
{
    struct tolk_jitter *jb = make(20, 0, false);
    put(jb, 0, 0);
    put(jb, 1, 0);
    put(jb, 3, 0);
    assert_int_equal(put(jb, 3, 0), -EEXIST);
    expect(jb, TOLK_JITTER_PLAY, 0, 0);
    expect(jb, TOLK_JITTER_PLAY, 1, 1);
    expect(jb, TOLK_JITTER_CONCEAL, 2, 0);
    assert_int_equal(put(jb, 2, 0), -ESTALE); /* its turn has passed */
    assert_int_equal(put(jb, 0, 0), -ESTALE);
    expect(jb, TOLK_JITTER_PLAY, 3, 3);
    struct tolk_jitter_stats s = stats(jb);
    assert_int_equal(s.late, 2);
    assert_int_equal(s.duplicate, 1);
    assert_int_equal(s.received, 3);
    tolk_jitter_destroy(jb);
}

/* Nothing after the frame due (TCP: late, not lost): conceal without moving on, so the late
 * packet still plays; a long wait refills before playing again. */
static void test_underrun_stretches(void **state)
{
    struct tolk_jitter *jb = make(20, 0, false);
    put(jb, 0, 0);
    put(jb, 1, 0);
    expect(jb, TOLK_JITTER_PLAY, 0, 0);
    expect(jb, TOLK_JITTER_PLAY, 1, 1);
    expect(jb, TOLK_JITTER_CONCEAL, 2, 0);
    expect(jb, TOLK_JITTER_CONCEAL, 2, 0);
    assert_int_equal(stats(jb).underruns, 1); /* one episode */
    assert_int_equal(put(jb, 2, 0), 0);       /* not late: the play head waited */
    expect(jb, TOLK_JITTER_PLAY, 2, 2);
    for (int i = 0; i < 10; i++) /* 200 ms of waiting, then refill */
        expect(jb, TOLK_JITTER_CONCEAL, 3, 0);
    expect(jb, TOLK_JITTER_SILENCE, 0, 0);
    assert_int_equal(stats(jb).underruns, 2);
    put(jb, 3, 0);
    put(jb, 4, 0);
    put(jb, 5, 0);
    expect(jb, TOLK_JITTER_PLAY, 3, 3);
    tolk_jitter_destroy(jb);
}

/* An underrun once playing has settled raises the target by an output period. */
static void test_underrun_margin(void **state)
{
    struct tolk_jitter *jb = make(20, 0, false);
    struct tolk_jitter_frame f;
    int64_t t = 0;
    for (uint32_t s = 0; s < 150; s++, t += 20000) { /* 3 s on time, 10 ms periods */
        put(jb, s, t);
        tolk_jitter_next(jb, t, 0, &f);
        tolk_jitter_tick(jb, t, 480, 480);
        tolk_jitter_tick(jb, t + 10000, 0, 480);
    }
    double before = stats(jb).target_ms;
    tolk_jitter_next(jb, t, 0, &f); /* 150 is missing */
    assert_int_equal(f.action, TOLK_JITTER_CONCEAL);
    tolk_jitter_tick(jb, t, 480, 480);
    assert_int_equal(stats(jb).underruns, 1);
    assert_true(stats(jb).target_ms >= before + 9.9);
    tolk_jitter_destroy(jb);
}

/* With FEC (RTP) an overdue frame is taken as lost: no waiting on it. */
static void test_overdue_on_lossy_transport(void **state)
{
    struct tolk_jitter *jb = make(20, 0, true);
    struct tolk_jitter_frame f;
    for (uint32_t s = 0; s < 60; s++) { /* 1.2 s on time: past the pre-roll, jitter 0 */
        put(jb, s, (int64_t)s * 20000);
        tolk_jitter_next(jb, (int64_t)s * 20000, 0, &f);
        assert_int_equal(f.action, TOLK_JITTER_PLAY);
    }
    tolk_jitter_next(jb, 1200000 + 5000, 0, &f); /* 60 is due at 1.2 s: not overdue yet */
    assert_int_equal(f.action, TOLK_JITTER_CONCEAL);
    assert_int_equal(f.seq, 60);
    tolk_jitter_next(jb, 1200000 + 5000, 0, &f); /* still waiting on it */
    assert_int_equal(f.seq, 60);
    tolk_jitter_next(jb, 1300000, 0, &f); /* long overdue: lost, move on to 61 */
    assert_int_equal(f.action, TOLK_JITTER_CONCEAL);
    assert_int_equal(f.seq, 60);
    tolk_jitter_next(jb, 1300000, 0, &f);
    assert_int_equal(f.seq, 61);
    assert_int_equal(put(jb, 60, 1310000), -ESTALE);
    tolk_jitter_destroy(jb);
}

static void test_skip_to_live(void **state)
{
    struct tolk_jitter *jb = make(20, 0, false);
    put(jb, 10, 0);
    put(jb, 11, 0);
    expect(jb, TOLK_JITTER_PLAY, 10, 10);
    assert_int_equal(put(jb, 5000, 0), 0); /* 100 s ahead: the stream jumped */
    assert_int_equal(stats(jb).resets, 1);
    assert_int_equal(put(jb, 5001, 0), 0);
    expect(jb, TOLK_JITTER_PLAY, 5000, 5000);
    expect(jb, TOLK_JITTER_PLAY, 5001, 5001);
    assert_int_equal(put(jb, 7, 0), 0); /* far behind: a restarted sender, not a late packet */
    assert_int_equal(stats(jb).resets, 2);
    assert_int_equal(stats(jb).late, 0);
    put(jb, 8, 0);
    expect(jb, TOLK_JITTER_PLAY, 7, 7);
    assert_int_equal(tolk_jitter_reset(jb, 10), 0);
    expect(jb, TOLK_JITTER_SILENCE, 0, 0);
    assert_int_equal(stats(jb).resets, 3);
    tolk_jitter_destroy(jb);
}

/* ---- Simulation: a sender with its own clock, a network with jitter, a consumer pulling 480
 * samples every 10 ms through a resampler steered by the buffer. ---- */

struct sim {
    struct tolk_jitter *jb;
    double sender_ppm;  /* sender clock vs ours */
    int jitter_us;      /* uniform network delay 0..jitter_us on top of 1 ms */
    int frame_ms;
    uint64_t rng;
    int64_t now_us;
    uint32_t gen;       /* next sequence number to send */
    int64_t arrive[64]; /* in flight: arrival time by seq % 64, or -1 */
    double pending;     /* decoded samples in hand */
    double ppm;
    double level_max, level_min; /* over the measured part */
    uint64_t silent_periods;
};

static uint32_t rnd(struct sim *s)
{
    s->rng = s->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(s->rng >> 33);
}

static void sim_init(struct sim *s, int frame_ms, int latency_ms, double sender_ppm, int jitter_us)
{
    memset(s, 0, sizeof *s);
    s->jb = make(frame_ms, latency_ms, false);
    s->frame_ms = frame_ms;
    s->sender_ppm = sender_ppm;
    s->jitter_us = jitter_us;
    s->rng = 42;
    for (int i = 0; i < 64; i++)
        s->arrive[i] = -1;
    s->level_max = -1e9;
    s->level_min = 1e9;
}

static void sim_network(struct sim *s)
{
    double period_us = s->frame_ms * 1000.0 / (1.0 + s->sender_ppm * 1e-6);
    while ((int64_t)(s->gen * period_us) <= s->now_us) { /* the sender emits */
        int64_t delay = 1000 + (s->jitter_us ? rnd(s) % (uint32_t)s->jitter_us : 0);
        s->arrive[s->gen % 64] = (int64_t)(s->gen * period_us) + delay;
        s->gen++;
    }
    for (uint32_t q = s->gen > 60 ? s->gen - 60 : 0; q < s->gen; q++) /* in order of seq */
        if (s->arrive[q % 64] >= 0 && s->arrive[q % 64] <= s->now_us) {
            put(s->jb, q, s->arrive[q % 64]);
            s->arrive[q % 64] = -1;
        }
}

static void sim_consume(struct sim *s)
{
    double need = 480.0 * (1.0 + s->ppm * 1e-6);
    int frame = s->frame_ms * RATE / 1000;
    double consumed = 0;
    while (s->pending < need) {
        struct tolk_jitter_frame f;
        tolk_jitter_next(s->jb, s->now_us, (int)s->pending, &f);
        if (f.action == TOLK_JITTER_SILENCE) { /* the rest of the period is silence */
            s->silent_periods++;
            consumed += s->pending;
            s->pending = 0;
            goto done;
        }
        s->pending += frame;
    }
    s->pending -= need;
    consumed += need;
done:
    s->ppm = tolk_jitter_tick(s->jb, s->now_us, (int)s->pending, (int)consumed);
}

/* Runs for seconds; measures the level from measure_after_s on. */
static void sim_run(struct sim *s, double seconds, double measure_after_s)
{
    int64_t end = s->now_us + (int64_t)(seconds * 1e6);
    int64_t measure_from = s->now_us + (int64_t)(measure_after_s * 1e6);
    for (; s->now_us < end; s->now_us += 10000) {
        sim_network(s);
        sim_consume(s);
        if (s->now_us >= measure_from) {
            struct tolk_jitter_stats st = stats(s->jb);
            s->level_max = st.level_ms > s->level_max ? st.level_ms : s->level_max;
            s->level_min = st.level_ms < s->level_min ? st.level_ms : s->level_min;
        }
    }
}

static void test_adaptive_target(void **state)
{
    struct sim s;
    sim_init(&s, 20, 20, 0, 0); /* --latency 20 */
    sim_run(&s, 30, 20);
    struct tolk_jitter_stats st = stats(s.jb);
    assert_true(st.playing);
    assert_true(st.jitter_ms < 0.5);
    assert_true(st.target_ms >= 20 && st.target_ms < 20.5); /* the floor: above 0 + 10 + 3 */
    assert_true(st.delay_ms > 18 && st.delay_ms < 22);
    assert_int_equal(st.underruns, 0);
    printf("quiet network: target %.1f ms, delay %.1f ms, level %.1f..%.1f ms\n", st.target_ms,
           st.delay_ms, s.level_min, s.level_max);
    assert_true(s.level_max < 20 + 20 + 2);

    s.jitter_us = 40000; /* Wi-Fi-like: up to 40 ms late */
    sim_run(&s, 20, 0);
    st = stats(s.jb);
    printf("40 ms jitter: jitter %.1f ms, target %.1f ms, delay %.1f ms, underruns %llu\n",
           st.jitter_ms, st.target_ms, st.delay_ms, (unsigned long long)st.underruns);
    assert_true(st.jitter_ms > 30 && st.jitter_ms <= 45); /* + the controller's own moves */
    assert_true(st.target_ms >= st.jitter_ms + 10 + 3);
    uint64_t underruns = st.underruns;
    s.level_min = 1e9;
    sim_run(&s, 60, 30); /* after adapting, the jitter is absorbed */
    st = stats(s.jb);
    printf("after 1 min: target %.1f ms, delay %.1f ms, underruns %llu\n", st.target_ms,
           st.delay_ms, (unsigned long long)st.underruns);
    assert_int_equal(st.underruns, underruns);
    assert_true(s.level_min > 0);
    assert_true(st.delay_ms > st.target_ms - 3 && st.delay_ms < st.target_ms + 5);

    s.jitter_us = 0;
    sim_run(&s, 8, 0);
    st = stats(s.jb);
    printf("quiet again: jitter %.1f ms, target %.1f ms (margin from underruns fades slowly)\n",
           st.jitter_ms, st.target_ms);
    assert_true(st.jitter_ms < 1); /* the controller's own descent is not jitter */
    assert_true(st.target_ms < 20 + 10.0 * (double)underruns + 0.5); /* a period each */
    tolk_jitter_destroy(s.jb);
}

static void run_hour(double sender_ppm, int frame_ms)
{
    struct sim s;
    sim_init(&s, frame_ms, 0, sender_ppm, 3000);
    sim_run(&s, 120, 0); /* lock on */
    struct tolk_jitter_stats before = stats(s.jb);
    s.level_min = 1e9;
    s.level_max = -1e9;
    sim_run(&s, 3600, 0);
    struct tolk_jitter_stats st = stats(s.jb);
    printf("sender %+.0f ppm, %d ms frames, 1 h: correction %+.1f ppm, target %.1f ms, level "
           "%.1f..%.1f ms, underruns %llu, dropped %llu\n",
           sender_ppm, frame_ms, st.ppm, st.target_ms, s.level_min, s.level_max,
           (unsigned long long)st.underruns, (unsigned long long)st.dropped);
    assert_int_equal(st.underruns, before.underruns);
    assert_int_equal(st.dropped, before.dropped);
    assert_int_equal(st.resets, before.resets);
    assert_int_equal(st.concealed, before.concealed);
    assert_true(st.ppm > sender_ppm - 20 && st.ppm < sender_ppm + 20);
    /* bounded: never more in hand than the target and a frame, give or take 2 ms */
    assert_true(s.level_max < st.target_ms + frame_ms + 2);
    assert_true(s.level_min > 0);
    tolk_jitter_destroy(s.jb);
}

static void test_no_drift_fast_sender(void **state)
{
    run_hour(+150, 20);
}

static void test_no_drift_slow_sender(void **state)
{
    run_hour(-150, 20);
}

static void test_no_drift_10ms_frames(void **state)
{
    run_hour(+80, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_ordering),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_loss_conceals),
        cmocka_unit_test(test_fec_path),
        cmocka_unit_test(test_late_and_duplicate),
        cmocka_unit_test(test_underrun_stretches),
        cmocka_unit_test(test_underrun_margin),
        cmocka_unit_test(test_overdue_on_lossy_transport),
        cmocka_unit_test(test_skip_to_live),
        cmocka_unit_test(test_adaptive_target),
        cmocka_unit_test(test_no_drift_fast_sender),
        cmocka_unit_test(test_no_drift_slow_sender),
        cmocka_unit_test(test_no_drift_10ms_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
