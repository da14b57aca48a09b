/* The built-in `demo` source: a repeating pattern that tells the channels apart by ear.
 *
 * The floor (channel 0) plays a soft descending two-tone motif; channel k >= 1 plays k short
 * beeps at a pitch of its own (a pentatonic step per channel), then a pause. A cycle lasts
 * 2.5 s (longer only when k beeps do not fit). Every note fades in and out, so nothing clicks.
 * Peaks sit at -18 dBFS.
 *
 * Threads: create/destroy on the main thread; read on the engine thread, pure computation.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "audio/source.h"
#include "audio/source_private.h"

#define DEMO_AMPLITUDE 0.125892541 /* -18 dBFS */
#define DEMO_FADE (TOLK_SAMPLE_RATE / 100) /* 10 ms raised-cosine fades */
#define DEMO_CYCLE (TOLK_SAMPLE_RATE * 5 / 2)
#define DEMO_BEEP (TOLK_SAMPLE_RATE / 10)          /* 100 ms beeps ... */
#define DEMO_BEEP_PERIOD (TOLK_SAMPLE_RATE * 22 / 100) /* ... one every 220 ms */
#define DEMO_PAUSE (TOLK_SAMPLE_RATE * 8 / 10)     /* at least 800 ms between groups */
#define DEMO_MAX_NOTES TOLK_MAX_CHANNELS

struct note {
    unsigned start, length; /* samples from the start of the cycle */
    double step;            /* cycles per sample */
    double decay;           /* how much the level sinks from start to end of the note (0..1) */
};

/* All fields but pos and cursor are read-only after create; pos and cursor belong to the
 * engine thread. */
struct demo {
    struct tolk_source base;
    struct note notes[DEMO_MAX_NOTES];
    unsigned note_count;
    unsigned cycle; /* samples */
    unsigned pos;   /* position in the cycle */
    unsigned cursor; /* first note that has not ended at pos */
};

static double note_level(const struct note *note, unsigned t)
{
    double fade = 1.0;
    if (t < DEMO_FADE)
        fade = 0.5 - 0.5 * cos(M_PI * t / DEMO_FADE);
    else if (note->length - t <= DEMO_FADE)
        fade = 0.5 - 0.5 * cos(M_PI * (note->length - t) / DEMO_FADE);
    return fade * (1.0 - note->decay * t / note->length);
}

static float demo_sample(struct demo *demo)
{
    while (demo->cursor < demo->note_count &&
           demo->pos >= demo->notes[demo->cursor].start + demo->notes[demo->cursor].length)
        demo->cursor++;
    if (demo->cursor == demo->note_count || demo->pos < demo->notes[demo->cursor].start)
        return 0.0f;
    const struct note *note = &demo->notes[demo->cursor];
    unsigned t = demo->pos - note->start;
    double phase = fmod(t * note->step, 1.0);
    return (float)(DEMO_AMPLITUDE * note_level(note, t) * sin(2.0 * M_PI * phase));
}

static void demo_read(struct tolk_source *source, float *out, size_t n)
{
    struct demo *demo = (struct demo *)source;
    for (size_t i = 0; i < n; i++) {
        out[i] = demo_sample(demo);
        if (++demo->pos == demo->cycle) {
            demo->pos = 0;
            demo->cursor = 0;
        }
    }
}

static void demo_destroy(struct tolk_source *source)
{
    free(source);
}

static const struct tolk_source_ops demo_ops = {.read = demo_read, .destroy = demo_destroy};

static void add_note(struct demo *demo, unsigned start, unsigned length, double hz, double decay)
{
    demo->notes[demo->note_count++] = (struct note){
        .start = start, .length = length, .step = hz / TOLK_SAMPLE_RATE, .decay = decay};
}

/* Floor: E4 then C4, like a soft door chime. */
static void compose_floor(struct demo *demo)
{
    add_note(demo, 0, TOLK_SAMPLE_RATE * 35 / 100, 329.63, 0.5);
    add_note(demo, TOLK_SAMPLE_RATE * 40 / 100, TOLK_SAMPLE_RATE * 60 / 100, 261.63, 0.7);
    demo->cycle = DEMO_CYCLE;
}

/* Channel k: k beeps on the k-th step of a G major pentatonic scale from G4 (three octaves,
 * then the steps repeat; the beep count still differs). */
static void compose_booth(struct demo *demo, int k)
{
    static const int pentatonic[5] = {0, 2, 4, 7, 9};
    int step = k - 1;
    int semitones = 12 * ((step / 5) % 3) + pentatonic[step % 5];
    double hz = 392.0 * pow(2.0, semitones / 12.0);
    for (int i = 0; i < k; i++)
        add_note(demo, (unsigned)i * DEMO_BEEP_PERIOD, DEMO_BEEP, hz, 0.2);
    unsigned needed = (unsigned)k * DEMO_BEEP_PERIOD + DEMO_PAUSE;
    demo->cycle = needed > DEMO_CYCLE ? needed : DEMO_CYCLE;
}

int tolk_source_demo_create(struct tolk_source **out, int channel_index, char *err,
                            size_t errlen)
{
    if (channel_index < 0 || channel_index >= DEMO_MAX_NOTES) {
        snprintf(err, errlen, "demo: channel index %d out of range 0..%d", channel_index,
                 DEMO_MAX_NOTES - 1);
        return -EINVAL;
    }
    struct demo *demo = calloc(1, sizeof *demo);
    if (!demo) {
        snprintf(err, errlen, "demo: out of memory");
        return -ENOMEM;
    }
    demo->base.ops = &demo_ops;
    if (channel_index == 0)
        compose_floor(demo);
    else
        compose_booth(demo, channel_index);
    *out = &demo->base;
    return 0;
}
