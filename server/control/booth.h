/* Booth control: which interpreter desk is on air, the interlock, the cough key, outgoing
 * channel A/B, relay choices, hand-over and calls. ISO 20109's console functions, held by the
 * server so that every console of a booth shows the same state and a console that goes away
 * changes nothing on air.
 *
 * Routing reaches the audio through tolk_engine_set_on_air() (an atomic per channel that the
 * engine reads each tick), so a switch is heard on the next frame and the audio path never waits
 * for this module.
 *
 * Threads: any service thread calls in; one mutex guards the state (a few commands a second at
 * most). tolk_booths_version() is an atomic that changes with every state change, so service
 * threads know when to resend state without taking the lock. Desks are 0-based here; the wire
 * protocol numbers them from 1.
 */
#ifndef TOLK_CONTROL_BOOTH_H
#define TOLK_CONTROL_BOOTH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct tolk_engine;
struct tolk_events;
struct tolk_booths;

/* Refusals: negative codes, outside errno's and TOLK_E*'s ranges. */
enum {
    TOLK_BOOTH_EUNKNOWN_BOOTH = -11000,
    TOLK_BOOTH_EBAD_PIN = -11001,
    TOLK_BOOTH_ELOCKED_OUT = -11002,
    TOLK_BOOTH_EBAD_DESK = -11003,
    TOLK_BOOTH_EBAD_OUTPUT = -11004,
    TOLK_BOOTH_EUNKNOWN_CHANNEL = -11005,
    TOLK_BOOTH_EENGAGED = -11006,
    TOLK_BOOTH_ENOTHING_TO_HAND_OVER = -11007,
    TOLK_BOOTH_ENO_REQUEST = -11008,
    TOLK_BOOTH_EBAD_TEXT = -11009,
};

/* The protocol's error code for a refusal ("engaged", ...), or NULL if err is not one. */
const char *tolk_booth_error_code(int err);

enum tolk_handover_action { TOLK_HANDOVER_REQUEST, TOLK_HANDOVER_ACCEPT, TOLK_HANDOVER_CANCEL };
enum tolk_call_kind { TOLK_CALL_SLOW_DOWN, TOLK_CALL_TECHNICIAN };

#define TOLK_CHAT_TEXT_MAX 500 /* bytes */
#define TOLK_CHAT_KEEP 20      /* lines kept per booth */

struct tolk_desk_state {
    bool mic;       /* switched on (on air on its output channel) */
    bool cough;     /* cough key held */
    int output;     /* 0 = channel A, 1 = channel B */
    int relay;      /* channel index the desk listens to */
    bool handover;  /* asks a partner to take over */
    bool slow_down, technician; /* calls raised */
};

struct tolk_chat_line {
    int64_t time_ms; /* wall clock */
    char from[16];   /* "desk 1", "tech" */
    char text[TOLK_CHAT_TEXT_MAX + 1];
};

struct tolk_booth_state {
    int desk_count;
    struct tolk_desk_state desks[TOLK_MAX_DESKS];
    int chat_count; /* oldest first */
    struct tolk_chat_line chat[TOLK_CHAT_KEEP];
};

/* Who feeds each channel, as the control state says. */
struct tolk_channel_control {
    int booth; /* on air from this booth, -1 = no desk on air */
    int desk;  /* 0-based desk of that booth, -1 */
    bool muted; /* its cough key is held */
    int depth; /* relay quality: 0 floor, 1 interpretation, 2 relay, ...; -1 a relay loop */
};

/* engine may be NULL (unit tests): the state is kept but routes nowhere. events may be NULL. */
int tolk_booths_create(struct tolk_booths **out, const struct tolk_config *cfg,
                       struct tolk_engine *engine, struct tolk_events *events);
void tolk_booths_destroy(struct tolk_booths *booths);

/* Checks a PIN for booth from a client address. On a refusal *detail gets the attempts left
 * (TOLK_BOOTH_EBAD_PIN) or the seconds until the address may try again (ELOCKED_OUT). */
int tolk_booths_login(struct tolk_booths *booths, int booth, const char *pin, const char *addr,
                      int64_t now_ms, int *detail);

int tolk_booths_mic(struct tolk_booths *booths, int booth, int desk, bool on);
/* owner: an opaque id of the console that holds the key, so it is let go if that console goes. */
int tolk_booths_cough(struct tolk_booths *booths, int booth, int desk, bool on, uintptr_t owner);
void tolk_booths_release_owner(struct tolk_booths *booths, uintptr_t owner);
int tolk_booths_output(struct tolk_booths *booths, int booth, int desk, int output);
int tolk_booths_relay(struct tolk_booths *booths, int booth, int desk, int channel);
int tolk_booths_handover(struct tolk_booths *booths, int booth, int desk,
                         enum tolk_handover_action action);
int tolk_booths_call(struct tolk_booths *booths, int booth, int desk, enum tolk_call_kind kind,
                     bool on);
/* desk -1: a line from the technicians. text: 1 to TOLK_CHAT_TEXT_MAX bytes of UTF-8. */
int tolk_booths_chat(struct tolk_booths *booths, int booth, int desk, const char *text);

/* Any thread, lock-free: changes with every state change. */
uint32_t tolk_booths_version(const struct tolk_booths *booths);
void tolk_booths_snapshot(struct tolk_booths *booths, int booth, struct tolk_booth_state *out);
/* out[cfg->channel_count] */
void tolk_booths_channels(struct tolk_booths *booths, struct tolk_channel_control *out);

#endif
