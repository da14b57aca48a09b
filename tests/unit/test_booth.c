/* Unit tests of booth control (server/control/booth.c, lockout.c, events.c): the interlock,
 * engaged channels, cough, A/B, hand-over, relay depth, chat and the PIN lockout. No engine:
 * routing to the audio is checked by the integration test over the real server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "control/booth.h"
#include "control/events.h"
#include "tolk/log.h"

static struct tolk_config cfg;
static struct tolk_booths *bs;
static struct tolk_events *events;
static struct tolk_channel_control ctl[TOLK_MAX_CHANNELS];

enum { FLOOR, EN, FR, ES };
enum { BOOTH_EN, BOOTH_FR, BOOTH_ES };

/* Booth fr's B channel is en; booth es relays. */
static const char *const conf =
    "[channel floor]\nsource = demo\n[channel en]\n[channel fr]\n[channel es]\n"
    "[booth en]\ndesks = demo, demo\na = en\n"
    "[booth fr]\ndesks = demo, demo, demo\na = fr\nb = en\npin = 42\n"
    "[booth es]\ndesks = demo\na = es\n";

static int setup(void **state)
{
    char err[512];
    tolk_log_set_level(TOLK_LOG_ERROR);
    if (tolk_config_parse_string(&cfg, "t.conf", conf, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(tolk_events_create(&events), 0);
    assert_int_equal(tolk_booths_create(&bs, &cfg, NULL, events), 0);
    return 0;
}

static int teardown(void **state)
{
    tolk_booths_destroy(bs);
    tolk_events_destroy(events);
    return 0;
}

static void expect_air(int channel, int booth, int desk)
{
    tolk_booths_channels(bs, ctl);
    assert_int_equal(ctl[channel].booth, booth);
    assert_int_equal(ctl[channel].desk, desk);
}

static bool mic(int booth, int desk)
{
    struct tolk_booth_state st;
    tolk_booths_snapshot(bs, booth, &st);
    return st.desks[desk].mic;
}

static void test_mic_and_interlock_in_booth(void **state)
{
    uint32_t v = tolk_booths_version(bs);
    assert_int_equal(tolk_booths_mic(bs, BOOTH_FR, 0, true), 0);
    assert_true(tolk_booths_version(bs) != v);
    expect_air(FR, BOOTH_FR, 0);
    /* The partner switching on takes over; desk 1 goes off. */
    assert_int_equal(tolk_booths_mic(bs, BOOTH_FR, 1, true), 0);
    expect_air(FR, BOOTH_FR, 1);
    assert_false(mic(BOOTH_FR, 0));
    assert_true(mic(BOOTH_FR, 1));
    assert_int_equal(tolk_booths_mic(bs, BOOTH_FR, 1, false), 0);
    expect_air(FR, -1, -1);
    /* Off when already off changes nothing. */
    assert_int_equal(tolk_booths_mic(bs, BOOTH_FR, 0, false), 0);
    expect_air(FR, -1, -1);
}

static void test_engaged_across_booths(void **state)
{
    assert_int_equal(tolk_booths_mic(bs, BOOTH_EN, 0, true), 0);
    expect_air(EN, BOOTH_EN, 0);
    /* Booth fr's desk on B (en) can not take en while booth en is on it. */
    assert_int_equal(tolk_booths_output(bs, BOOTH_FR, 0, 1), 0);
    assert_int_equal(tolk_booths_mic(bs, BOOTH_FR, 0, true), TOLK_BOOTH_EENGAGED);
    assert_false(mic(BOOTH_FR, 0));
    expect_air(EN, BOOTH_EN, 0);
    /* A desk on air on A can not move to an engaged B: nothing changes. */
    assert_int_equal(tolk_booths_output(bs, BOOTH_FR, 0, 0), 0);
    assert_int_equal(tolk_booths_mic(bs, BOOTH_FR, 0, true), 0);
    assert_int_equal(tolk_booths_output(bs, BOOTH_FR, 0, 1), TOLK_BOOTH_EENGAGED);
    expect_air(FR, BOOTH_FR, 0);
    expect_air(EN, BOOTH_EN, 0);
    /* Once en is free, the move goes through and fr falls back. */
    assert_int_equal(tolk_booths_mic(bs, BOOTH_EN, 0, false), 0);
    assert_int_equal(tolk_booths_output(bs, BOOTH_FR, 0, 1), 0);
    expect_air(EN, BOOTH_FR, 0);
    expect_air(FR, -1, -1);
    assert_int_equal(tolk_booths_mic(bs, BOOTH_EN, 1, true), TOLK_BOOTH_EENGAGED);
    assert_string_equal(tolk_booth_error_code(TOLK_BOOTH_EENGAGED), "engaged");
    assert_null(tolk_booth_error_code(-22));
}

static void test_bad_arguments(void **state)
{
    assert_int_equal(tolk_booths_mic(bs, 7, 0, true), TOLK_BOOTH_EUNKNOWN_BOOTH);
    assert_int_equal(tolk_booths_mic(bs, BOOTH_ES, 1, true), TOLK_BOOTH_EBAD_DESK);
    assert_int_equal(tolk_booths_mic(bs, BOOTH_ES, -1, true), TOLK_BOOTH_EBAD_DESK);
    assert_int_equal(tolk_booths_output(bs, BOOTH_ES, 0, 1), TOLK_BOOTH_EBAD_OUTPUT);
    assert_int_equal(tolk_booths_output(bs, BOOTH_FR, 0, 2), TOLK_BOOTH_EBAD_OUTPUT);
    assert_int_equal(tolk_booths_relay(bs, BOOTH_FR, 0, 4), TOLK_BOOTH_EUNKNOWN_CHANNEL);
    assert_int_equal(tolk_booths_chat(bs, BOOTH_FR, 0, ""), TOLK_BOOTH_EBAD_TEXT);
    char long_text[TOLK_CHAT_TEXT_MAX + 2];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    assert_int_equal(tolk_booths_chat(bs, BOOTH_FR, 0, long_text), TOLK_BOOTH_EBAD_TEXT);
    expect_air(ES, -1, -1);
}

static void test_cough_stays_live_and_is_released_with_its_console(void **state)
{
    assert_int_equal(tolk_booths_mic(bs, BOOTH_ES, 0, true), 0);
    assert_int_equal(tolk_booths_cough(bs, BOOTH_ES, 0, true, 0x1234), 0);
    tolk_booths_channels(bs, ctl);
    assert_int_equal(ctl[ES].booth, BOOTH_ES);
    assert_true(ctl[ES].muted);
    tolk_booths_release_owner(bs, 0x9999); /* another console: nothing */
    tolk_booths_channels(bs, ctl);
    assert_true(ctl[ES].muted);
    tolk_booths_release_owner(bs, 0x1234);
    tolk_booths_channels(bs, ctl);
    assert_false(ctl[ES].muted);
    assert_int_equal(ctl[ES].booth, BOOTH_ES); /* the mic itself stays on */
}

static void test_handover(void **state)
{
    assert_int_equal(tolk_booths_handover(bs, BOOTH_FR, 1, TOLK_HANDOVER_ACCEPT),
                     TOLK_BOOTH_ENO_REQUEST);
    assert_int_equal(tolk_booths_handover(bs, BOOTH_FR, 0, TOLK_HANDOVER_REQUEST), 0);
    assert_int_equal(tolk_booths_handover(bs, BOOTH_FR, 1, TOLK_HANDOVER_ACCEPT),
                     TOLK_BOOTH_ENOTHING_TO_HAND_OVER);
    assert_int_equal(tolk_booths_mic(bs, BOOTH_FR, 0, true), 0);
    assert_int_equal(tolk_booths_handover(bs, BOOTH_FR, 1, TOLK_HANDOVER_ACCEPT), 0);
    expect_air(FR, BOOTH_FR, 1);
    assert_false(mic(BOOTH_FR, 0));
    struct tolk_booth_state st;
    tolk_booths_snapshot(bs, BOOTH_FR, &st);
    assert_false(st.desks[0].handover);
    /* The request can also come from the desk that wants to take over. */
    assert_int_equal(tolk_booths_handover(bs, BOOTH_FR, 2, TOLK_HANDOVER_REQUEST), 0);
    assert_int_equal(tolk_booths_handover(bs, BOOTH_FR, 2, TOLK_HANDOVER_CANCEL), 0);
    assert_int_equal(tolk_booths_handover(bs, BOOTH_FR, 1, TOLK_HANDOVER_ACCEPT),
                     TOLK_BOOTH_ENO_REQUEST);
    assert_int_equal(tolk_booths_handover(bs, BOOTH_FR, 2, TOLK_HANDOVER_REQUEST), 0);
    assert_int_equal(tolk_booths_handover(bs, BOOTH_FR, 1, TOLK_HANDOVER_ACCEPT), 0);
    expect_air(FR, BOOTH_FR, 2);
    assert_true(mic(BOOTH_FR, 2));
    assert_false(mic(BOOTH_FR, 1));
}

static void test_relay_depth(void **state)
{
    tolk_booths_channels(bs, ctl);
    assert_int_equal(ctl[FLOOR].depth, 0);
    assert_int_equal(ctl[FR].depth, 0); /* carries the floor */
    assert_int_equal(tolk_booths_mic(bs, BOOTH_EN, 0, true), 0);
    assert_int_equal(tolk_booths_mic(bs, BOOTH_FR, 0, true), 0);
    assert_int_equal(tolk_booths_mic(bs, BOOTH_ES, 0, true), 0);
    assert_int_equal(tolk_booths_relay(bs, BOOTH_FR, 0, EN), 0); /* fr relays en */
    assert_int_equal(tolk_booths_relay(bs, BOOTH_ES, 0, FR), 0); /* es relays fr */
    tolk_booths_channels(bs, ctl);
    assert_int_equal(ctl[EN].depth, 1);
    assert_int_equal(ctl[FR].depth, 2);
    assert_int_equal(ctl[ES].depth, 3);
    /* en relays es: nobody listens to the floor any more. */
    assert_int_equal(tolk_booths_relay(bs, BOOTH_EN, 0, ES), 0);
    tolk_booths_channels(bs, ctl);
    assert_int_equal(ctl[EN].depth, -1);
    assert_int_equal(ctl[FR].depth, -1);
    /* en off: fr relays a channel that carries the floor again. */
    assert_int_equal(tolk_booths_mic(bs, BOOTH_EN, 0, false), 0);
    tolk_booths_channels(bs, ctl);
    assert_int_equal(ctl[EN].depth, 0);
    assert_int_equal(ctl[FR].depth, 1);
    assert_int_equal(ctl[ES].depth, 2);
}

static void test_chat_keeps_the_last_lines(void **state)
{
    char text[32];
    for (int i = 0; i < TOLK_CHAT_KEEP + 5; i++) {
        snprintf(text, sizeof text, "line %d", i);
        assert_int_equal(tolk_booths_chat(bs, BOOTH_EN, i % 2 ? -1 : 1, text), 0);
    }
    struct tolk_booth_state st;
    tolk_booths_snapshot(bs, BOOTH_EN, &st);
    assert_int_equal(st.chat_count, TOLK_CHAT_KEEP);
    assert_string_equal(st.chat[0].text, "line 5");
    assert_string_equal(st.chat[0].from, "tech");
    assert_string_equal(st.chat[TOLK_CHAT_KEEP - 1].text, "line 24");
    assert_string_equal(st.chat[TOLK_CHAT_KEEP - 1].from, "desk 2");
}

static void test_pin_and_lockout(void **state)
{
    int detail;
    int64_t t = 1000000;
    assert_int_equal(tolk_booths_login(bs, BOOTH_FR, "42", "10.0.0.1", t, &detail), 0);
    assert_int_equal(tolk_booths_login(bs, BOOTH_EN, "1234", "10.0.0.1", t, &detail), 0);
    assert_int_equal(tolk_booths_login(bs, BOOTH_FR, "1234", "10.0.0.1", t, &detail),
                     TOLK_BOOTH_EBAD_PIN);
    assert_int_equal(detail, 4);
    assert_int_equal(tolk_booths_login(bs, 9, "42", "10.0.0.1", t, &detail),
                     TOLK_BOOTH_EUNKNOWN_BOOTH);
    for (int i = 3; i >= 1; i--) {
        assert_int_equal(tolk_booths_login(bs, BOOTH_FR, "4", "10.0.0.1", t += 1000, &detail),
                         TOLK_BOOTH_EBAD_PIN);
        assert_int_equal(detail, i);
    }
    assert_int_equal(tolk_booths_login(bs, BOOTH_FR, "43", "10.0.0.1", t += 1000, &detail),
                     TOLK_BOOTH_ELOCKED_OUT);
    assert_int_equal(detail, 60);
    /* Locked out of every booth, even with the right PIN; other addresses are not. */
    assert_int_equal(tolk_booths_login(bs, BOOTH_FR, "42", "10.0.0.1", t + 30000, &detail),
                     TOLK_BOOTH_ELOCKED_OUT);
    assert_int_equal(detail, 30);
    assert_int_equal(tolk_booths_login(bs, BOOTH_EN, "1234", "10.0.0.1", t + 30000, &detail),
                     TOLK_BOOTH_ELOCKED_OUT);
    assert_int_equal(tolk_booths_login(bs, BOOTH_FR, "42", "10.0.0.2", t + 30000, &detail), 0);
    /* A minute later it may try again, with a fresh count. */
    assert_int_equal(tolk_booths_login(bs, BOOTH_FR, "0", "10.0.0.1", t + 60000, &detail),
                     TOLK_BOOTH_EBAD_PIN);
    assert_int_equal(detail, 4);
    assert_int_equal(tolk_booths_login(bs, BOOTH_FR, "42", "10.0.0.1", t + 61000, &detail), 0);
}

static void test_failures_spread_over_more_than_a_minute_do_not_lock(void **state)
{
    int detail;
    int64_t t = 5000000;
    for (int i = 0; i < 12; i++) {
        assert_int_equal(tolk_booths_login(bs, BOOTH_FR, "0", "10.0.0.3", t, &detail),
                         TOLK_BOOTH_EBAD_PIN);
        t += 15000; /* four failures a minute at most */
    }
}

static void test_events_are_kept_in_order(void **state)
{
    assert_int_equal(tolk_booths_mic(bs, BOOTH_FR, 0, true), 0);
    assert_int_equal(tolk_booths_call(bs, BOOTH_FR, 0, TOLK_CALL_SLOW_DOWN, true), 0);
    struct tolk_event ev[4];
    uint64_t last = tolk_events_last(events);
    assert_int_equal(tolk_events_since(events, last - 2, ev, 4), 2);
    assert_string_equal(ev[0].kind, "mic");
    assert_string_equal(ev[0].booth, "fr");
    assert_int_equal(ev[0].desk, 1);
    assert_string_equal(ev[0].text, "on (fr)");
    assert_string_equal(ev[1].kind, "call");
    assert_int_equal(ev[1].seq, last);
    assert_int_equal(tolk_events_since(events, last, ev, 4), 0);
    for (int i = 0; i < TOLK_EVENTS_KEEP + 10; i++)
        tolk_events_add(events, "test", NULL, 0, "%d", i);
    /* The oldest are gone; what is kept comes oldest first. */
    assert_int_equal(tolk_events_since(events, 0, ev, 1), 1);
    assert_int_equal(ev[0].seq, tolk_events_last(events) - TOLK_EVENTS_KEEP + 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_mic_and_interlock_in_booth),
        T(test_engaged_across_booths),
        T(test_bad_arguments),
        T(test_cough_stays_live_and_is_released_with_its_console),
        T(test_handover),
        T(test_relay_depth),
        T(test_chat_keeps_the_last_lines),
        T(test_pin_and_lockout),
        T(test_failures_spread_over_more_than_a_minute_do_not_lock),
        T(test_events_are_kept_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
