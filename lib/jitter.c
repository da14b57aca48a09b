/* Jitter buffer (see tolk/jitter.h): a ring of packet slots indexed by sequence number, the
 * arrival-jitter window, the low-water level and the PI controller of the drift resampler.
 *
 * Threads: whichever thread owns the buffer (the receiver's audio callback) calls everything
 * after create; nothing here allocates, locks or blocks after create.
 */
#include "tolk/jitter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIN_FRAME_MS 5
#define MAX_FRAME_MS 60
#define JITTER_WINDOW_MS 5000 /* arrival jitter is measured over this much audio */
#define JITTER_SLOTS 1024     /* ≥ JITTER_WINDOW_MS / MIN_FRAME_MS */
#define JITTER_HEADROOM_MS 3.0
#define LEVEL_BLOCK_US 250000 /* the low-water mark is the minimum over 4 such blocks + now */
#define LEVEL_BLOCKS 4   /* the delay of the fastest packets: over ~1 s */
#define SPREAD_BLOCKS 20 /* the spread of the delays: over ~5 s */
#define SETTLE_US 2000000 /* underruns this soon after a start raise no margin */
#define MARGIN_MAX_MS 200.0
#define MARGIN_DECAY_MS_PER_S (3.0 / 60.0) /* an underrun's margin fades over minutes */
#define STRETCH_MAX_MS 200  /* waiting longer than this on a missing frame: refill */
#define DROP_EXCESS_MS 3.0 /* beyond this plus a frame, excess delay is dropped, not resampled */
#define DROP_HOLDOFF_US 1500000
#define CONTROL_SETTLE_US 1000000
#define PREROLL_US 1000000 /* arrivals this soon after a reset: a pre-roll burst, not jitter */
#define KP_PPM_PER_MS 100.0
#define KI_PPM_PER_MS_S 5.0
#define MAX_PPM 1000.0

enum state { IDLE, BUFFERING, PLAYING };

struct slot {
    bool used;
    bool measured; /* its buffer delay was taken by tick() */
    uint8_t flags;
    uint16_t len;
    uint32_t seq;
    int64_t capture_us;
    int64_t arrival_us;
    uint8_t data[TOLK_JITTER_MAX_PACKET];
};

struct tolk_jitter {
    struct tolk_jitter_config cfg;
    int frame_ms;
    int64_t frame_us;
    uint32_t nslots; /* power of two */
    struct slot *slots;
    uint8_t scratch[TOLK_JITTER_MAX_PACKET]; /* the frame handed out last: its slot is reused */

    enum state state;
    uint32_t next;   /* sequence number of the next frame to play */
    uint32_t newest; /* highest sequence number stored since the reset */
    bool have_newest;
    int64_t last_capture_us; /* of the last frame handed out */
    uint8_t last_flags;
    int stretch_frames; /* consecutive frames concealed while waiting on `next` */
    bool in_underrun;
    int64_t play_start_us, last_drop_us;
    int64_t stream_start_us;   /* first arrival after a reset: the pre-roll is not jitter */
    int64_t first_wait_us;     /* arrival of the first packet while buffering */

    /* Arrival jitter: delay = arrival - extended seq × frame, over the last window. */
    int64_t ref_ext;  /* extended number of ref_seq */
    uint32_t ref_seq;
    int64_t delays[JITTER_SLOTS];
    int ndelays, delay_pos;
    int64_t delay_min;
    double jitter_ms; /* arrival jitter: spread of the delays above, for overdue() */

    /* Level and control, updated by tick(). Each packet's buffer delay (arrival to play-out)
     * goes into 250 ms blocks (max and min per block), less `shift`: the delay that the
     * buffer's own actions added since (stretching +, dropping and resampling faster -), so
     * the blocks hold what the network did and not what the controller did. delay: the
     * fastest packets' over the last LEVEL_BLOCKS blocks and the current one, as of now
     * (+ shift); spread: max - min over SPREAD_BLOCKS. */
    double period_ms;
    double shift_ms;
    double level_ms, delay_ms, spread_ms, target_ms, margin_ms;
    double block_max[SPREAD_BLOCKS], block_min[SPREAD_BLOCKS];
    int nblocks, block_pos; /* block_pos: where the next block goes */
    double cur_block_max, cur_block_min;
    int64_t block_start_us, last_tick_us;
    double integral_ppm, ppm;

    struct tolk_jitter_stats st;
};

static bool seq_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static struct slot *slot_of(struct tolk_jitter *jb, uint32_t seq)
{
    struct slot *s = &jb->slots[seq & (jb->nslots - 1)];
    return s->used && s->seq == seq ? s : NULL;
}

static int frames_ahead(const struct tolk_jitter *jb)
{
    if (!jb->have_newest || seq_before(jb->newest, jb->next))
        return 0;
    return (int)(jb->newest - jb->next) + 1;
}

static int max_frames(const struct tolk_jitter *jb)
{
    int n = jb->cfg.max_ms / jb->frame_ms;
    return n < (int)jb->nslots - 1 ? n : (int)jb->nslots - 1;
}

static void restart_window(struct tolk_jitter *jb, int64_t now_us)
{
    jb->nblocks = 0;
    jb->cur_block_max = -1e9;
    jb->cur_block_min = 1e9;
    jb->block_start_us = now_us;
    jb->shift_ms = 0;
}

static void clear_stream(struct tolk_jitter *jb)
{
    for (uint32_t i = 0; i < jb->nslots; i++)
        jb->slots[i].used = false;
    jb->state = IDLE;
    jb->have_newest = false;
    jb->stretch_frames = 0;
    jb->in_underrun = false;
    jb->ndelays = 0;
    jb->delay_pos = 0;
    jb->jitter_ms = 0;
    jb->spread_ms = 0;
    jb->stream_start_us = 0;
    jb->first_wait_us = 0;
    restart_window(jb, 0);
}

int tolk_jitter_create(struct tolk_jitter **out, const struct tolk_jitter_config *cfg)
{
    *out = NULL;
    if (!cfg || cfg->frame_ms < MIN_FRAME_MS || cfg->frame_ms > MAX_FRAME_MS ||
        cfg->latency_ms < 0 || cfg->latency_ms > 2000 || cfg->max_ms < 0 || cfg->max_ms > 10000 ||
        cfg->sample_rate < 0)
        return -EINVAL;
    struct tolk_jitter *jb = calloc(1, sizeof *jb);
    if (!jb)
        return -ENOMEM;
    jb->cfg = *cfg;
    if (!jb->cfg.max_ms)
        jb->cfg.max_ms = 1000;
    if (!jb->cfg.sample_rate)
        jb->cfg.sample_rate = 48000;
    uint32_t need = (uint32_t)(jb->cfg.max_ms / MIN_FRAME_MS) + 8;
    jb->nslots = 16;
    while (jb->nslots < need)
        jb->nslots *= 2;
    jb->slots = calloc(jb->nslots, sizeof *jb->slots);
    if (!jb->slots) {
        free(jb);
        return -ENOMEM;
    }
    jb->frame_ms = cfg->frame_ms;
    jb->frame_us = (int64_t)cfg->frame_ms * 1000;
    jb->period_ms = cfg->frame_ms;
    jb->target_ms = cfg->latency_ms;
    clear_stream(jb);
    *out = jb;
    return 0;
}

void tolk_jitter_destroy(struct tolk_jitter *jb)
{
    if (!jb)
        return;
    free(jb->slots);
    free(jb);
}

int tolk_jitter_reset(struct tolk_jitter *jb, int frame_ms)
{
    if (frame_ms && (frame_ms < MIN_FRAME_MS || frame_ms > MAX_FRAME_MS))
        return -EINVAL;
    if (frame_ms) {
        jb->frame_ms = frame_ms;
        jb->frame_us = (int64_t)frame_ms * 1000;
    }
    clear_stream(jb);
    jb->st.resets++;
    return 0;
}

/* ---- Arrival jitter ---- */

static void note_arrival(struct tolk_jitter *jb, uint32_t seq, int64_t arrival_us)
{
    if (jb->ndelays == 0) {
        jb->ref_seq = seq;
        jb->ref_ext = 0;
    }
    int64_t ext = jb->ref_ext + (int32_t)(seq - jb->ref_seq);
    if (!seq_before(seq, jb->ref_seq)) {
        jb->ref_seq = seq;
        jb->ref_ext = ext;
    }
    int window = JITTER_WINDOW_MS / jb->frame_ms;
    jb->delays[jb->delay_pos] = arrival_us - ext * jb->frame_us;
    jb->delay_pos = (jb->delay_pos + 1) % window;
    if (jb->ndelays < window)
        jb->ndelays++;
    int64_t lo = jb->delays[0], hi = jb->delays[0];
    for (int i = 1; i < jb->ndelays; i++) {
        lo = jb->delays[i] < lo ? jb->delays[i] : lo;
        hi = jb->delays[i] > hi ? jb->delays[i] : hi;
    }
    jb->delay_min = lo;
    jb->jitter_ms = (double)(hi - lo) / 1000.0;
}

/* True when `next` should have arrived by now, judging by the fastest recent arrival. */
static bool overdue(const struct tolk_jitter *jb, int64_t now_us)
{
    if (jb->ndelays < 2)
        return false;
    int64_t ext = jb->ref_ext + (int32_t)(jb->next - jb->ref_seq);
    int64_t expected = jb->delay_min + ext * jb->frame_us;
    return now_us - expected > (int64_t)(jb->jitter_ms * 1000) + jb->frame_us;
}

/* ---- Packets in ---- */

static void restart_at(struct tolk_jitter *jb, uint32_t seq)
{
    clear_stream(jb);
    jb->st.resets++;
    jb->next = seq;
    jb->state = BUFFERING;
}

int tolk_jitter_put(struct tolk_jitter *jb, const struct tolk_jitter_packet *p)
{
    if (!p->data || p->len == 0 || p->len > TOLK_JITTER_MAX_PACKET)
        return -EINVAL;
    if (jb->state == IDLE) {
        jb->state = BUFFERING;
        jb->next = p->seq;
    }
    int32_t diff = (int32_t)(p->seq - jb->next);
    if (diff < -(int32_t)jb->nslots || diff > max_frames(jb)) {
        restart_at(jb, p->seq); /* a new stream, or a gap longer than the buffer */
        diff = 0;
    }
    if (diff < 0) {
        jb->st.late++;
        return -ESTALE;
    }
    struct slot *s = &jb->slots[p->seq & (jb->nslots - 1)];
    if (s->used && s->seq == p->seq) {
        jb->st.duplicate++;
        return -EEXIST;
    }
    s->used = true;
    s->seq = p->seq;
    s->flags = p->flags;
    s->capture_us = p->capture_us;
    s->arrival_us = p->arrival_us;
    s->measured = false;
    s->len = (uint16_t)p->len;
    memcpy(s->data, p->data, p->len);
    if (!jb->have_newest || seq_before(jb->newest, p->seq))
        jb->newest = p->seq;
    jb->have_newest = true;
    jb->st.received++;
    if (jb->state == BUFFERING && !jb->first_wait_us)
        jb->first_wait_us = p->arrival_us;
    if (!jb->stream_start_us)
        jb->stream_start_us = p->arrival_us;
    if (p->arrival_us - jb->stream_start_us >= PREROLL_US)
        note_arrival(jb, p->seq, p->arrival_us);
    return 0;
}

/* ---- Decisions out ---- */

static void hand_out(struct tolk_jitter *jb, struct slot *s, enum tolk_jitter_action action,
                     struct tolk_jitter_frame *out)
{
    memcpy(jb->scratch, s->data, s->len);
    out->action = action;
    out->data = jb->scratch;
    out->len = s->len;
    out->flags = s->flags;
    jb->last_flags = s->flags;
}

static void note_delay(struct tolk_jitter *jb, struct slot *s, int64_t play_us)
{
    if (s->measured)
        return;
    s->measured = true;
    double d = (double)(play_us - s->arrival_us) / 1000.0 - jb->shift_ms;
    if (d > jb->cur_block_max)
        jb->cur_block_max = d;
    if (d < jb->cur_block_min)
        jb->cur_block_min = d;
}

static void play(struct tolk_jitter *jb, struct slot *s, int64_t play_us,
                 struct tolk_jitter_frame *out)
{
    note_delay(jb, s, play_us);
    hand_out(jb, s, TOLK_JITTER_PLAY, out);
    out->seq = s->seq;
    out->capture_us = s->capture_us;
    jb->last_capture_us = s->capture_us;
    s->used = false;
    jb->next++;
    jb->stretch_frames = 0;
    jb->in_underrun = false;
    jb->st.played++;
}

static void conceal(struct tolk_jitter *jb, bool advance, struct tolk_jitter_frame *out)
{
    out->action = TOLK_JITTER_CONCEAL;
    out->data = NULL;
    out->len = 0;
    out->seq = jb->next;
    out->flags = jb->last_flags;
    out->capture_us = 0; /* stretching: this audio stands for no frame of the sender */
    jb->st.concealed++;
    if (!advance)
        return;
    out->capture_us = jb->last_capture_us ? jb->last_capture_us + jb->frame_us : 0;
    jb->last_capture_us = out->capture_us;
    jb->next++;
}

/* `next` is missing but a later packet is here: it is lost (or too late to wait for). */
static void recover(struct tolk_jitter *jb, struct tolk_jitter_frame *out)
{
    struct slot *after = jb->cfg.fec ? slot_of(jb, jb->next + 1) : NULL;
    if (!after) {
        conceal(jb, true, out);
        return;
    }
    hand_out(jb, after, TOLK_JITTER_FEC, out); /* `after` stays for its own turn */
    out->seq = jb->next;
    out->capture_us = after->capture_us ? after->capture_us - jb->frame_us : 0;
    jb->last_capture_us = out->capture_us;
    jb->next++;
    jb->st.fec++;
}

/* Nothing at or after `next`: wait on it while concealing (stretch), or refill after long. */
static void starve(struct tolk_jitter *jb, int64_t now_us, struct tolk_jitter_frame *out)
{
    if (!jb->in_underrun) {
        jb->in_underrun = true;
        jb->st.underruns++;
        if (now_us - jb->play_start_us >= SETTLE_US)
            jb->margin_ms += jb->period_ms;
        if (jb->margin_ms > MARGIN_MAX_MS)
            jb->margin_ms = MARGIN_MAX_MS;
    }
    if (++jb->stretch_frames * jb->frame_ms > STRETCH_MAX_MS) {
        jb->state = BUFFERING;
        jb->first_wait_us = 0;
        jb->stretch_frames = 0;
        out->action = TOLK_JITTER_SILENCE;
        out->data = NULL;
        out->len = 0;
        out->seq = jb->next;
        out->capture_us = 0;
        out->flags = jb->last_flags;
        return;
    }
    bool lost = jb->cfg.fec && overdue(jb, now_us); /* lossy transport: lost, move on */
    if (!lost)
        jb->shift_ms += jb->frame_ms; /* stretching: every later packet plays a frame later */
    conceal(jb, lost, out);
}

/* The first packet has waited so long that it will play with about the target delay, or a
 * burst left more than the target in hand (a missing first frame is then recovered like any
 * lost one). */
static bool ready_to_start(const struct tolk_jitter *jb, int64_t now_us)
{
    int ahead = frames_ahead(jb);
    return ahead > 0 &&
           (now_us - jb->first_wait_us >= (jb->target_ms - jb->period_ms / 2) * 1000 ||
                         ahead * jb->frame_ms >= jb->target_ms + jb->frame_ms);
}

/* Frames to drop now: the fastest packets have waited more than a frame longer than the
 * target for a whole window (a burst after a stall of the network or of the consumer). The
 * excess beyond that goes at once, keeping at least one frame in hand. */
static int frames_to_drop(const struct tolk_jitter *jb, int64_t now_us)
{
    double excess = jb->delay_ms - jb->target_ms - DROP_EXCESS_MS;
    if (jb->nblocks < LEVEL_BLOCKS || excess < jb->frame_ms ||
        now_us - jb->last_drop_us < DROP_HOLDOFF_US)
        return 0;
    int n = (int)(excess / jb->frame_ms), ahead = frames_ahead(jb);
    return n < ahead ? n : ahead - 1;
}

void tolk_jitter_next(struct tolk_jitter *jb, int64_t now_us, int offset,
                      struct tolk_jitter_frame *out)
{
    int64_t play_us = now_us + (int64_t)offset * 1000000 / jb->cfg.sample_rate;
    memset(out, 0, sizeof *out);
    out->action = TOLK_JITTER_SILENCE;
    out->flags = jb->last_flags;
    if (jb->state == BUFFERING && ready_to_start(jb, now_us)) {
        jb->state = PLAYING;
        jb->play_start_us = now_us;
        restart_window(jb, now_us);
    }
    if (jb->state != PLAYING)
        return;
    struct slot *s = slot_of(jb, jb->next);
    int drop = s ? frames_to_drop(jb, now_us) : 0;
    if (drop > 0) {
        for (int i = 0; i < drop; i++, jb->next++)
            if ((s = slot_of(jb, jb->next)) != NULL)
                s->used = false;
        jb->st.dropped += (uint64_t)drop;
        jb->last_drop_us = now_us;
        jb->shift_ms -= (double)drop * jb->frame_ms; /* every later packet plays that sooner */
        s = slot_of(jb, jb->next);
    }
    if (s)
        play(jb, s, play_us, out);
    else if (frames_ahead(jb) > 0)
        recover(jb, out);
    else
        starve(jb, now_us, out);
}

/* ---- Level and drift control ---- */

/* The buffer delay of each packet still waiting, once: its first sample will be output after
 * the next period's pending samples and the frames before it. */
static void measure_delays(struct tolk_jitter *jb, int64_t now_us, int pending)
{
    int ahead = frames_ahead(jb);
    int64_t play_us = now_us + (int64_t)((jb->period_ms + pending * 1000.0 / jb->cfg.sample_rate) *
                                         1000);
    for (int i = 0; i < ahead; i++, play_us += jb->frame_us) {
        struct slot *s = slot_of(jb, jb->next + (uint32_t)i);
        if (s)
            note_delay(jb, s, play_us);
    }
}

/* The last n blocks (newest first) and the current one: the largest max, the smallest min. */
static void window(const struct tolk_jitter *jb, int n, double *hi, double *lo)
{
    *hi = jb->cur_block_max;
    *lo = jb->cur_block_min;
    for (int i = 0; i < n && i < jb->nblocks; i++) {
        int b = (jb->block_pos - 1 - i + SPREAD_BLOCKS) % SPREAD_BLOCKS;
        *hi = jb->block_max[b] > *hi ? jb->block_max[b] : *hi;
        *lo = jb->block_min[b] < *lo ? jb->block_min[b] : *lo;
    }
}

static void update_delay(struct tolk_jitter *jb, int64_t now_us, int pending)
{
    jb->level_ms = frames_ahead(jb) * jb->frame_ms + pending * 1000.0 / jb->cfg.sample_rate;
    if (jb->state != PLAYING)
        return;
    measure_delays(jb, now_us, pending);
    if (now_us - jb->block_start_us >= LEVEL_BLOCK_US) {
        if (jb->cur_block_max > -1e9) { /* a block without arrivals tells nothing */
            jb->block_max[jb->block_pos] = jb->cur_block_max;
            jb->block_min[jb->block_pos] = jb->cur_block_min;
            jb->block_pos = (jb->block_pos + 1) % SPREAD_BLOCKS;
            if (jb->nblocks < SPREAD_BLOCKS)
                jb->nblocks++;
        }
        jb->cur_block_max = -1e9;
        jb->cur_block_min = 1e9;
        jb->block_start_us = now_us;
    }
    double hi, lo;
    window(jb, LEVEL_BLOCKS, &hi, &lo);
    if (hi > -1e9)
        jb->delay_ms = hi + jb->shift_ms;
    window(jb, SPREAD_BLOCKS, &hi, &lo);
    if (hi > -1e9)
        jb->spread_ms = hi - lo;
}

static double clamp(double v, double lim)
{
    return v > lim ? lim : v < -lim ? -lim : v;
}

static void update_target(struct tolk_jitter *jb, double dt)
{
    jb->margin_ms -= MARGIN_DECAY_MS_PER_S * dt;
    if (jb->margin_ms < 0)
        jb->margin_ms = 0;
    double need = jb->spread_ms + jb->period_ms + JITTER_HEADROOM_MS;
    jb->target_ms = (need > jb->cfg.latency_ms ? need : jb->cfg.latency_ms) + jb->margin_ms;
}

double tolk_jitter_tick(struct tolk_jitter *jb, int64_t now_us, int pending, int consumed)
{
    double dt = jb->last_tick_us ? (double)(now_us - jb->last_tick_us) / 1e6 : 0;
    jb->last_tick_us = now_us;
    if (dt < 0 || dt > 1)
        dt = 0;
    jb->shift_ms -= jb->ppm * 1e-6 * dt * 1000.0; /* resampling faster shortens every delay */
    if (consumed > 0)
        jb->period_ms = consumed * 1000.0 / jb->cfg.sample_rate;
    update_target(jb, dt);
    update_delay(jb, now_us, pending);
    if (jb->state != PLAYING || jb->nblocks == 0 ||
        now_us - jb->play_start_us < CONTROL_SETTLE_US || jb->in_underrun) {
        jb->ppm = jb->state == PLAYING ? clamp(jb->integral_ppm, MAX_PPM) : 0;
        return jb->ppm;
    }
    double err = jb->delay_ms - jb->target_ms;
    double p = KP_PPM_PER_MS * err;
    double next_integral = jb->integral_ppm + KI_PPM_PER_MS_S * err * dt;
    if (p + next_integral < MAX_PPM && p + next_integral > -MAX_PPM) /* anti-windup */
        jb->integral_ppm = next_integral;
    jb->ppm = clamp(p + jb->integral_ppm, MAX_PPM);
    return jb->ppm;
}

void tolk_jitter_get_stats(const struct tolk_jitter *jb, struct tolk_jitter_stats *out)
{
    *out = jb->st;
    out->playing = jb->state == PLAYING;
    out->level_ms = jb->level_ms;
    out->delay_ms = jb->delay_ms;
    out->target_ms = jb->target_ms;
    out->jitter_ms = jb->spread_ms;
    out->ppm = jb->ppm;
}
