/* Shared between source.c, file.c and demo.c: the common head of every synthetic source.
 *
 * Each kind embeds struct tolk_source as its first member, so source.c dispatches through ops
 * without knowing the kind's layout. Creation runs on the main thread, read on the engine thread.
 */
#ifndef TOLK_AUDIO_SOURCE_PRIVATE_H
#define TOLK_AUDIO_SOURCE_PRIVATE_H

#include <stddef.h>

struct tolk_source;

struct tolk_source_ops {
    void (*read)(struct tolk_source *source, float *out, size_t n); /* engine thread */
    void (*destroy)(struct tolk_source *source);                     /* main thread */
};

struct tolk_source {
    const struct tolk_source_ops *ops; /* set at create, read-only afterwards */
};

/* file.c: decodes and resamples path whole; err names the path and the problem. */
int tolk_source_file_create(struct tolk_source **out, const char *path, char *err, size_t errlen);

/* demo.c: the built-in pattern of channel_index. */
int tolk_source_demo_create(struct tolk_source **out, int channel_index, char *err, size_t errlen);

#endif
