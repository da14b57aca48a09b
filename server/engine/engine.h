/* The engine: one thread that ticks once per frame and turns captured audio into packets.
 *
 * Each tick: read one frame from the device (or pace by the clock when no device runs) and from
 * each synthetic source, for channels and interpreter desks → meters → the desk on air feeds its
 * booth channel → router (live or fallback) → one Opus encoder per channel →
 * the channel's packet ring → the tick hook (the network layer's lws_cancel_service()).
 *
 * Threads: create/start/stop/destroy on the main thread. The engine thread owns sources,
 * encoders and the write side of the packet rings. Status is published through atomics that any
 * thread may read with tolk_engine_channel_status().
 */
#ifndef TOLK_ENGINE_ENGINE_H
#define TOLK_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "engine/packet_ring.h"

struct tolk_engine;

/* A technician's override of a channel's routing. */
enum tolk_override {
    TOLK_OVERRIDE_NONE,
    TOLK_OVERRIDE_FALLBACK, /* carry the fallback whatever the interpreter does */
    TOLK_OVERRIDE_MUTE,     /* carry silence (flagged FALLBACK) */
};

struct tolk_channel_status {
    bool live;              /* carrying its own audio (not its fallback) */
    bool signal;            /* its own source delivers audio (device running, or synthetic) */
    int carry;              /* channel whose audio it carries, -1 = silence */
    uint32_t state_version; /* changes whenever live/carry changes: listeners resend `state` */
    float peak_db, rms_db;  /* of its own input, last frame */
    bool clipped;           /* its own input clipped in the last second */
    uint64_t frames;        /* frames encoded */
    uint64_t bytes;         /* Opus bytes encoded */
    enum tolk_override override; /* set by a technician */
};

/* An interpreter desk's own microphone. */
struct tolk_desk_status {
    bool signal;           /* its source delivers audio */
    float peak_db, rms_db; /* last frame */
    bool clipped;          /* in the last second */
};

struct tolk_engine_stats {
    bool device_running;
    uint64_t device_overruns;
    uint64_t ticks;
    uint64_t late_ticks;    /* ticks that ran more than one frame after their deadline */
    int64_t started_us;     /* wall time the engine started */
    uint64_t encode_ns;     /* time spent encoding, all channels, since start */
    uint64_t encode_max_ns; /* longest tick's encoding, since the last tolk_engine_take_encode_max() */
    int device_inputs;      /* inputs captured from the device (0 = no device) */
    uint64_t stall_frames;  /* frames never made: the engine stalled over 5 frames */
};

/* One device input's own level (whatever channel or desk uses it). */
struct tolk_input_status {
    float peak_db, rms_db;
    bool clipped; /* in the last second */
};

/* Creates sources, encoders and rings from cfg (which must outlive the engine). err gets a
 * message naming the channel when a source can not be created. */
int tolk_engine_create(struct tolk_engine **out, const struct tolk_config *cfg, char *err,
                       size_t errlen);
/* hook(arg) runs on the engine thread after each tick; it must not block. */
int tolk_engine_start(struct tolk_engine *engine, void (*hook)(void *arg), void *arg);
void tolk_engine_stop(struct tolk_engine *engine);
void tolk_engine_destroy(struct tolk_engine *engine);

/* Any thread. */
const struct tolk_config *tolk_engine_config(const struct tolk_engine *engine);
struct tolk_packet_ring *tolk_engine_packets(struct tolk_engine *engine, int channel);
void tolk_engine_channel_status(const struct tolk_engine *engine, int channel,
                                struct tolk_channel_status *out);
void tolk_engine_stats(const struct tolk_engine *engine, struct tolk_engine_stats *out);
/* desk: 0 .. cfg->desk_count-1 (booth.first_desk + desk within the booth). */
void tolk_engine_desk_status(const struct tolk_engine *engine, int desk,
                             struct tolk_desk_status *out);

/* Any thread, never blocks: from the next frame on, booth channel `channel` carries desk `desk`
 * (or, with desk -1, is not live and carries its fallback). muted (the cough key): the channel
 * stays live but carries silence. Channels that are no booth's output ignore this. */
void tolk_engine_set_on_air(struct tolk_engine *engine, int channel, int desk, bool muted);

/* Any thread, never blocks: a technician's override, from the next frame on. */
void tolk_engine_set_override(struct tolk_engine *engine, int channel, enum tolk_override override);

/* input: 0 .. stats.device_inputs-1. */
void tolk_engine_input_status(const struct tolk_engine *engine, int input,
                              struct tolk_input_status *out);
/* The longest tick's encoding time since the last call (and resets it). For one reader. */
uint64_t tolk_engine_take_encode_max(struct tolk_engine *engine);

#endif
