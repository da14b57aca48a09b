/* Booth control (booth.h): the interlock and everything a console can switch.
 *
 * Threads: every public function takes `lock`; the state below is touched only under it.
 * `version` is atomic so readers can tell that something changed without the lock. The
 * engine learns who is on air through tolk_engine_set_on_air(), an atomic store.
 */
#include "control/booth.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/events.h"
#include "control/lockout.h"
#include "engine/engine.h"
#include "tolk/clock.h"

struct booth {
    const struct tolk_booth_config *cfg;
    struct tolk_desk_state desks[TOLK_MAX_DESKS];
    uintptr_t cough_owner[TOLK_MAX_DESKS]; /* console holding the cough key, 0 = none */
    int chat_first, chat_count;            /* ring of the last TOLK_CHAT_KEEP lines */
    struct tolk_chat_line chat[TOLK_CHAT_KEEP];
};

struct tolk_booths {
    const struct tolk_config *cfg;
    struct tolk_engine *engine; /* NULL in unit tests */
    struct tolk_events *events;
    pthread_mutex_t lock;
    atomic_uint version;

    /* guarded by lock */
    struct booth booths[TOLK_MAX_BOOTHS];
    int air_booth[TOLK_MAX_CHANNELS]; /* who is on air on each channel: booth, -1 = nobody */
    int air_desk[TOLK_MAX_CHANNELS];
    struct tolk_lockout lockout;
};

static const char *const error_codes[] = {
    "unknown_booth", "bad_pin", "locked_out", "bad_desk", "bad_output", "unknown_channel",
    "engaged", "nothing_to_hand_over", "no_request", "bad_text",
};

const char *tolk_booth_error_code(int err)
{
    int i = TOLK_BOOTH_EUNKNOWN_BOOTH - err;
    return i >= 0 && i < (int)(sizeof error_codes / sizeof error_codes[0]) ? error_codes[i] : NULL;
}

int tolk_booths_create(struct tolk_booths **out, const struct tolk_config *cfg,
                       struct tolk_engine *engine, struct tolk_events *events)
{
    struct tolk_booths *bs = calloc(1, sizeof *bs);
    if (!bs)
        return -ENOMEM;
    bs->cfg = cfg;
    bs->engine = engine;
    bs->events = events;
    pthread_mutex_init(&bs->lock, NULL);
    for (int c = 0; c < TOLK_MAX_CHANNELS; c++)
        bs->air_booth[c] = bs->air_desk[c] = -1;
    for (int b = 0; b < cfg->booth_count; b++) {
        bs->booths[b].cfg = &cfg->booths[b];
        for (int d = 0; d < cfg->booths[b].desk_count; d++)
            bs->booths[b].desks[d].relay = 0; /* the floor */
    }
    *out = bs;
    return 0;
}

void tolk_booths_destroy(struct tolk_booths *bs)
{
    if (!bs)
        return;
    pthread_mutex_destroy(&bs->lock);
    free(bs);
}

uint32_t tolk_booths_version(const struct tolk_booths *bs)
{
    return atomic_load_explicit(&((struct tolk_booths *)bs)->version, memory_order_acquire);
}

/* ---- helpers; all run under the lock ---- */

static void changed(struct tolk_booths *bs)
{
    atomic_fetch_add_explicit(&bs->version, 1, memory_order_release);
}

static const char *channel_id(const struct tolk_booths *bs, int channel)
{
    return bs->cfg->channels[channel].id;
}

static int output_channel(const struct booth *b, int output)
{
    return output == 0 ? b->cfg->a_index : b->cfg->b_index;
}

/* Tells the engine who feeds channel c from the next frame on. */
static void route(struct tolk_booths *bs, int c)
{
    int b = bs->air_booth[c], d = bs->air_desk[c];
    if (!bs->engine)
        return;
    if (b < 0)
        tolk_engine_set_on_air(bs->engine, c, -1, false);
    else
        tolk_engine_set_on_air(bs->engine, c, bs->cfg->booths[b].first_desk + d,
                               bs->booths[b].desks[d].cough);
}

/* Puts desk d of booth b on air on channel c. A partner desk of the same booth on c goes off
 * (switching on is how a hand-over is done); another booth on c makes it engaged. */
static int take_air(struct tolk_booths *bs, int b, int d, int c)
{
    int holder = bs->air_booth[c], holder_desk = bs->air_desk[c];
    if (holder >= 0 && holder != b)
        return TOLK_BOOTH_EENGAGED;
    if (holder == b && holder_desk != d) {
        bs->booths[b].desks[holder_desk].mic = false;
        tolk_events_add(bs->events, "mic", bs->booths[b].cfg->id, holder_desk + 1,
                        "off: desk %d took over %s", d + 1, channel_id(bs, c));
    }
    bs->air_booth[c] = b;
    bs->air_desk[c] = d;
    route(bs, c);
    return 0;
}

static void release_air(struct tolk_booths *bs, int c)
{
    bs->air_booth[c] = bs->air_desk[c] = -1;
    route(bs, c);
}

static int check_desk(const struct tolk_booths *bs, int b, int d)
{
    if (b < 0 || b >= bs->cfg->booth_count)
        return TOLK_BOOTH_EUNKNOWN_BOOTH;
    return d >= 0 && d < bs->cfg->booths[b].desk_count ? 0 : TOLK_BOOTH_EBAD_DESK;
}

/* ---- public ---- */

int tolk_booths_login(struct tolk_booths *bs, int b, const char *pin, const char *addr,
                      int64_t now_ms, int *detail)
{
    *detail = 0;
    if (b < 0 || b >= bs->cfg->booth_count)
        return TOLK_BOOTH_EUNKNOWN_BOOTH;
    pthread_mutex_lock(&bs->lock);
    int rc = 0;
    int64_t wait_ms = tolk_lockout_remaining(&bs->lockout, addr, now_ms);
    const char *want = tolk_config_booth_pin(bs->cfg, b);
    /* Compared in full whatever the first difference, so timing reveals nothing. */
    size_t n = strlen(pin), m = strlen(want);
    unsigned diff = (unsigned)(n != m);
    for (size_t i = 0; i < n && i < m; i++)
        diff |= (unsigned char)(pin[i] ^ want[i]);
    if (wait_ms > 0) {
        rc = TOLK_BOOTH_ELOCKED_OUT;
    } else if (diff) {
        *detail = tolk_lockout_fail(&bs->lockout, addr, now_ms);
        rc = *detail > 0 ? TOLK_BOOTH_EBAD_PIN : TOLK_BOOTH_ELOCKED_OUT;
        wait_ms = *detail > 0 ? 0 : TOLK_LOCKOUT_MS;
        tolk_events_add(bs->events, "login", bs->cfg->booths[b].id, 0, "wrong PIN from %s%s",
                        addr, rc == TOLK_BOOTH_ELOCKED_OUT ? ": address locked out for 60 s" : "");
    } else {
        tolk_lockout_clear(&bs->lockout, addr);
        tolk_events_add(bs->events, "login", bs->cfg->booths[b].id, 0, "console from %s", addr);
    }
    if (rc == TOLK_BOOTH_ELOCKED_OUT)
        *detail = (int)((wait_ms + 999) / 1000);
    pthread_mutex_unlock(&bs->lock);
    return rc;
}

static int set_mic(struct tolk_booths *bs, int b, int d, bool on)
{
    struct booth *booth = &bs->booths[b];
    struct tolk_desk_state *desk = &booth->desks[d];
    int c = output_channel(booth, desk->output);
    if (desk->mic == on)
        return 0;
    if (on) {
        int rc = take_air(bs, b, d, c);
        if (rc < 0)
            return rc;
    } else {
        release_air(bs, c);
    }
    desk->mic = on;
    tolk_events_add(bs->events, "mic", booth->cfg->id, d + 1, "%s (%s)", on ? "on" : "off",
                    channel_id(bs, c));
    return 0;
}

int tolk_booths_mic(struct tolk_booths *bs, int b, int d, bool on)
{
    int rc = check_desk(bs, b, d);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&bs->lock);
    rc = set_mic(bs, b, d, on);
    changed(bs);
    pthread_mutex_unlock(&bs->lock);
    return rc;
}

static void set_cough(struct tolk_booths *bs, int b, int d, bool on, uintptr_t owner)
{
    struct booth *booth = &bs->booths[b];
    struct tolk_desk_state *desk = &booth->desks[d];
    booth->cough_owner[d] = on ? owner : 0;
    if (desk->cough == on)
        return;
    desk->cough = on;
    int c = output_channel(booth, desk->output);
    if (bs->air_booth[c] == b && bs->air_desk[c] == d)
        route(bs, c);
    tolk_events_add(bs->events, "cough", booth->cfg->id, d + 1, "%s", on ? "held" : "released");
    changed(bs);
}

int tolk_booths_cough(struct tolk_booths *bs, int b, int d, bool on, uintptr_t owner)
{
    int rc = check_desk(bs, b, d);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&bs->lock);
    set_cough(bs, b, d, on, owner);
    pthread_mutex_unlock(&bs->lock);
    return 0;
}

void tolk_booths_release_owner(struct tolk_booths *bs, uintptr_t owner)
{
    if (!owner)
        return;
    pthread_mutex_lock(&bs->lock);
    for (int b = 0; b < bs->cfg->booth_count; b++)
        for (int d = 0; d < bs->cfg->booths[b].desk_count; d++)
            if (bs->booths[b].cough_owner[d] == owner)
                set_cough(bs, b, d, false, 0);
    pthread_mutex_unlock(&bs->lock);
}

/* Moves an on-air desk to another channel: the new one is taken first, so a refusal (engaged)
 * leaves everything as it was. */
static int set_output(struct tolk_booths *bs, int b, int d, int output)
{
    struct booth *booth = &bs->booths[b];
    struct tolk_desk_state *desk = &booth->desks[d];
    if ((output != 0 && output != 1) || output_channel(booth, output) < 0)
        return TOLK_BOOTH_EBAD_OUTPUT;
    if (desk->output == output)
        return 0;
    int from = output_channel(booth, desk->output), to = output_channel(booth, output);
    if (desk->mic) {
        int rc = take_air(bs, b, d, to);
        if (rc < 0)
            return rc;
        release_air(bs, from);
    }
    desk->output = output;
    tolk_events_add(bs->events, "output", booth->cfg->id, d + 1, "%s (%s)%s",
                    output ? "B" : "A", channel_id(bs, to), desk->mic ? ", on air" : "");
    return 0;
}

int tolk_booths_output(struct tolk_booths *bs, int b, int d, int output)
{
    int rc = check_desk(bs, b, d);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&bs->lock);
    rc = set_output(bs, b, d, output);
    changed(bs);
    pthread_mutex_unlock(&bs->lock);
    return rc;
}

int tolk_booths_relay(struct tolk_booths *bs, int b, int d, int channel)
{
    int rc = check_desk(bs, b, d);
    if (rc < 0)
        return rc;
    if (channel < 0 || channel >= bs->cfg->channel_count)
        return TOLK_BOOTH_EUNKNOWN_CHANNEL;
    pthread_mutex_lock(&bs->lock);
    struct tolk_desk_state *desk = &bs->booths[b].desks[d];
    if (desk->relay != channel) {
        desk->relay = channel;
        tolk_events_add(bs->events, "relay", bs->booths[b].cfg->id, d + 1, "listens to %s",
                        channel_id(bs, channel));
        changed(bs);
    }
    pthread_mutex_unlock(&bs->lock);
    return 0;
}

/* Accept by desk t of the request of desk r: whichever of the two is on air goes off and the
 * other goes on air on that channel, in one route() so listeners hear no gap or fallback. */
static int accept_handover(struct tolk_booths *bs, int b, int r, int t)
{
    struct booth *booth = &bs->booths[b];
    int from = booth->desks[r].mic ? r : booth->desks[t].mic ? t : -1;
    if (from < 0)
        return TOLK_BOOTH_ENOTHING_TO_HAND_OVER;
    int to = from == r ? t : r;
    int output = booth->desks[from].output, c = output_channel(booth, output);
    if (booth->desks[to].mic) /* on air on the other channel: that one falls back */
        release_air(bs, output_channel(booth, booth->desks[to].output));
    booth->desks[from].mic = false;
    booth->desks[to].mic = true;
    booth->desks[to].output = output;
    booth->desks[r].handover = booth->desks[t].handover = false;
    bs->air_desk[c] = to;
    route(bs, c);
    tolk_events_add(bs->events, "handover", booth->cfg->id, to + 1, "took over %s from desk %d",
                    channel_id(bs, c), from + 1);
    return 0;
}

static int handover(struct tolk_booths *bs, int b, int d, enum tolk_handover_action action)
{
    struct booth *booth = &bs->booths[b];
    if (action != TOLK_HANDOVER_ACCEPT) {
        bool on = action == TOLK_HANDOVER_REQUEST;
        if (booth->desks[d].handover != on)
            tolk_events_add(bs->events, "handover", booth->cfg->id, d + 1, "%s",
                            on ? "requested" : "request withdrawn");
        booth->desks[d].handover = on;
        return 0;
    }
    for (int r = 0; r < booth->cfg->desk_count; r++)
        if (r != d && booth->desks[r].handover)
            return accept_handover(bs, b, r, d);
    return TOLK_BOOTH_ENO_REQUEST;
}

int tolk_booths_handover(struct tolk_booths *bs, int b, int d, enum tolk_handover_action action)
{
    int rc = check_desk(bs, b, d);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&bs->lock);
    rc = handover(bs, b, d, action);
    changed(bs);
    pthread_mutex_unlock(&bs->lock);
    return rc;
}

int tolk_booths_call(struct tolk_booths *bs, int b, int d, enum tolk_call_kind kind, bool on)
{
    int rc = check_desk(bs, b, d);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&bs->lock);
    struct tolk_desk_state *desk = &bs->booths[b].desks[d];
    bool *flag = kind == TOLK_CALL_SLOW_DOWN ? &desk->slow_down : &desk->technician;
    if (*flag != on) {
        *flag = on;
        tolk_events_add(bs->events, "call", bs->booths[b].cfg->id, d + 1, "%s %s",
                        kind == TOLK_CALL_SLOW_DOWN ? "slow down" : "technician",
                        on ? "requested" : "withdrawn");
        changed(bs);
    }
    pthread_mutex_unlock(&bs->lock);
    return 0;
}

int tolk_booths_chat(struct tolk_booths *bs, int b, int d, const char *text)
{
    size_t len = strlen(text);
    if (b < 0 || b >= bs->cfg->booth_count)
        return TOLK_BOOTH_EUNKNOWN_BOOTH;
    if (d != -1 && check_desk(bs, b, d) < 0)
        return TOLK_BOOTH_EBAD_DESK;
    if (len == 0 || len > TOLK_CHAT_TEXT_MAX)
        return TOLK_BOOTH_EBAD_TEXT;
    pthread_mutex_lock(&bs->lock);
    struct booth *booth = &bs->booths[b];
    int slot = (booth->chat_first + booth->chat_count) % TOLK_CHAT_KEEP;
    if (booth->chat_count == TOLK_CHAT_KEEP)
        booth->chat_first = (booth->chat_first + 1) % TOLK_CHAT_KEEP;
    else
        booth->chat_count++;
    struct tolk_chat_line *line = &booth->chat[slot];
    line->time_ms = tolk_clock_wall_us() / 1000;
    if (d < 0)
        snprintf(line->from, sizeof line->from, "tech");
    else
        snprintf(line->from, sizeof line->from, "desk %d", d + 1);
    memcpy(line->text, text, len + 1);
    tolk_events_add(bs->events, "chat", booth->cfg->id, d + 1, "%s: %.150s", line->from, text);
    changed(bs);
    pthread_mutex_unlock(&bs->lock);
    return 0;
}

void tolk_booths_snapshot(struct tolk_booths *bs, int b, struct tolk_booth_state *out)
{
    pthread_mutex_lock(&bs->lock);
    const struct booth *booth = &bs->booths[b];
    out->desk_count = booth->cfg->desk_count;
    memcpy(out->desks, booth->desks, sizeof out->desks);
    out->chat_count = booth->chat_count;
    for (int i = 0; i < booth->chat_count; i++)
        out->chat[i] = booth->chat[(booth->chat_first + i) % TOLK_CHAT_KEEP];
    pthread_mutex_unlock(&bs->lock);
}

/* Relay depth of what channel c carries: the floor is 0, each interpreter in the chain adds 1.
 * steps bounds the walk: a chain longer than the channels is a loop. */
static int depth_of(const struct tolk_booths *bs, int c, int steps)
{
    const struct tolk_config *cfg = bs->cfg;
    if (steps > cfg->channel_count)
        return -1;
    if (c < 0 || c == 0)
        return 0;
    int b = bs->air_booth[c];
    if (b >= 0) {
        int below = depth_of(bs, bs->booths[b].desks[bs->air_desk[c]].relay, steps + 1);
        return below < 0 ? -1 : below + 1;
    }
    bool own_source = cfg->channels[c].source.kind != TOLK_SOURCE_NONE;
    return own_source ? 1 : depth_of(bs, cfg->channels[c].fallback_index, steps + 1);
}

void tolk_booths_channels(struct tolk_booths *bs, struct tolk_channel_control *out)
{
    pthread_mutex_lock(&bs->lock);
    for (int c = 0; c < bs->cfg->channel_count; c++) {
        int b = bs->air_booth[c], d = bs->air_desk[c];
        out[c] = (struct tolk_channel_control){.booth = b, .desk = d,
                                               .muted = b >= 0 && bs->booths[b].desks[d].cough,
                                               .depth = depth_of(bs, c, 0)};
    }
    pthread_mutex_unlock(&bs->lock);
}
