/* Synthetic sources: tone, file and demo (built in). Interface of server/audio/{tone,file,demo}.c.
 *
 * A source produces 48 kHz mono float samples in [-1, 1] for one channel. create() runs on the
 * main thread and does all the I/O and allocation (a file is decoded and resampled whole);
 * read() runs on the engine thread once per frame, is paced by the engine like a device input,
 * and never blocks, locks or allocates. Device inputs are not sources: see device.h.
 */
#ifndef TOLK_AUDIO_SOURCE_H
#define TOLK_AUDIO_SOURCE_H

#include <stddef.h>

#include "config.h"

#define TOLK_SAMPLE_RATE 48000

struct tolk_source;

/* channel_index lets the demo source give every channel its own pattern. Returns 0, or a
 * negative code with a message naming the problem (file, format) in err. */
int tolk_source_create(struct tolk_source **out, const struct tolk_source_spec *spec,
                       int channel_index, char *err, size_t errlen);
void tolk_source_destroy(struct tolk_source *source);

/* Engine thread: the next n samples. */
void tolk_source_read(struct tolk_source *source, float *out, size_t n);

#endif
