/* Synthetic sources: create/destroy/read dispatch, and the tone source (`tone:HZ`).
 *
 * Threads: create and destroy run on the main thread; read runs on the engine thread and never
 * allocates, locks, logs or blocks. The file and demo kinds live in file.c and demo.c.
 */
#include "audio/source.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "audio/source_private.h"

#define TONE_AMPLITUDE 0.251188643 /* -12 dBFS */

struct tone {
    struct tolk_source base;
    double step;  /* cycles per sample; read-only after create */
    double phase; /* in cycles, [0, 1): engine thread only */
};

static void tone_read(struct tolk_source *source, float *out, size_t n)
{
    struct tone *tone = (struct tone *)source;
    double phase = tone->phase;
    for (size_t i = 0; i < n; i++) {
        out[i] = (float)(TONE_AMPLITUDE * sin(2.0 * M_PI * phase));
        phase += tone->step;
        if (phase >= 1.0)
            phase -= 1.0;
    }
    tone->phase = phase;
}

static void tone_destroy(struct tolk_source *source)
{
    free(source);
}

static const struct tolk_source_ops tone_ops = {.read = tone_read, .destroy = tone_destroy};

static int tone_create(struct tolk_source **out, double hz, char *err, size_t errlen)
{
    if (!(hz > 0.0 && hz < TOLK_SAMPLE_RATE / 2.0)) {
        snprintf(err, errlen, "tone:%g: the frequency must be above 0 and below %d Hz", hz,
                 TOLK_SAMPLE_RATE / 2);
        return -EINVAL;
    }
    struct tone *tone = calloc(1, sizeof *tone);
    if (!tone) {
        snprintf(err, errlen, "tone:%g: out of memory", hz);
        return -ENOMEM;
    }
    tone->base.ops = &tone_ops;
    tone->step = hz / TOLK_SAMPLE_RATE;
    *out = &tone->base;
    return 0;
}

int tolk_source_create(struct tolk_source **out, const struct tolk_source_spec *spec,
                       int channel_index, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    switch (spec->kind) {
    case TOLK_SOURCE_TONE:
        return tone_create(out, spec->tone_hz, err, errlen);
    case TOLK_SOURCE_FILE:
        return tolk_source_file_create(out, spec->path, err, errlen);
    case TOLK_SOURCE_DEMO:
        return tolk_source_demo_create(out, channel_index, err, errlen);
    default:
        snprintf(err, errlen, "not a synthetic source (none or a device input)");
        return -EINVAL;
    }
}

void tolk_source_destroy(struct tolk_source *source)
{
    if (source)
        source->ops->destroy(source);
}

void tolk_source_read(struct tolk_source *source, float *out, size_t n)
{
    source->ops->read(source, out, n);
}
