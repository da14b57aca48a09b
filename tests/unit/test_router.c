/* Unit tests of the router (server/engine/router.h): live channels carry themselves, others
 * carry the first live channel along their fallback chain, or silence; cycles end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <unistd.h>

#include "engine/router.h"

enum { FLOOR, EN, FR, ES, AR, COUNT };

static struct tolk_route out[COUNT];

static void resolve(const bool *live, const int *fallback)
{
    for (int i = 0; i < COUNT; i++)
        out[i] = (struct tolk_route){.carry = 1234, .fallback = false};
    tolk_router_resolve(COUNT, live, fallback, out);
}

static void expect(int channel, int carry, bool fallback)
{
    if (out[channel].carry != carry || out[channel].fallback != fallback)
        fail_msg("channel %d: carry %d fallback %d, expected carry %d fallback %d", channel,
                 out[channel].carry, out[channel].fallback, carry, fallback);
}

/* The usual setup: every booth falls back to the floor. */
static const int to_floor[COUNT] = {-1, FLOOR, FLOOR, FLOOR, FLOOR};

static void test_live_carries_itself(void **state)
{
    const bool live[COUNT] = {true, true, true, true, true};
    resolve(live, to_floor);
    for (int i = 0; i < COUNT; i++)
        expect(i, i, false);
}

static void test_not_live_carries_floor(void **state)
{
    const bool live[COUNT] = {true, true, false, true, false};
    resolve(live, to_floor);
    expect(FLOOR, FLOOR, false);
    expect(EN, EN, false);
    expect(FR, FLOOR, true);
    expect(ES, ES, false);
    expect(AR, FLOOR, true);
}

static void test_chain(void **state)
{
    /* fr relays en, en falls back to the floor. */
    const int fallback[COUNT] = {-1, FLOOR, EN, FLOOR, FR};
    const bool en_off[COUNT] = {true, false, false, true, false};
    resolve(en_off, fallback);
    expect(EN, FLOOR, true);
    expect(FR, FLOOR, true);
    expect(AR, FLOOR, true); /* ar -> fr -> en -> floor */
    expect(ES, ES, false);

    const bool en_on[COUNT] = {true, true, false, false, false};
    resolve(en_on, fallback);
    expect(EN, EN, false);
    expect(FR, EN, true);
    expect(AR, EN, true);
    expect(ES, FLOOR, true);
}

static void test_nothing_live(void **state)
{
    const bool live[COUNT] = {false, false, false, false, false};
    const int fallback[COUNT] = {-1, FLOOR, EN, FLOOR, -1};
    resolve(live, fallback);
    for (int i = 0; i < COUNT; i++)
        expect(i, -1, true);

    /* A channel with no fallback and no audio of its own carries silence. */
    const bool floor_live[COUNT] = {true, false, false, false, false};
    resolve(floor_live, fallback);
    expect(FR, FLOOR, true);
    expect(AR, -1, true);
}

static void test_cycle_ends(void **state)
{
    /* en -> fr -> en, and es -> es; config.c refuses these, the router must still end. */
    const int fallback[COUNT] = {EN, FR, EN, ES, EN};
    const bool none[COUNT] = {false, false, false, false, false};
    resolve(none, fallback);
    for (int i = 0; i < COUNT; i++)
        expect(i, -1, true);

    const bool fr_live[COUNT] = {false, false, true, false, false};
    resolve(fr_live, fallback);
    expect(FR, FR, false);
    expect(EN, FR, true);
    expect(AR, FR, true);
    expect(FLOOR, FR, true);
    expect(ES, -1, true);
}

int main(void)
{
    alarm(10); /* a router that loops on a cycle kills the test instead of hanging it */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_carries_itself),
        cmocka_unit_test(test_not_live_carries_floor),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_nothing_live),
        cmocka_unit_test(test_cycle_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
