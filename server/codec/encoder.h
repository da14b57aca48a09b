/* One Opus encoder per channel. Created on the main thread; encode() on the engine thread only. */
#ifndef TOLK_CODEC_ENCODER_H
#define TOLK_CODEC_ENCODER_H

#include <stddef.h>
#include <stdint.h>

struct tolk_encoder;

int tolk_encoder_create(struct tolk_encoder **out, int sample_rate, int frame_samples, int bitrate,
                        int complexity, int application);
void tolk_encoder_destroy(struct tolk_encoder *enc);

/* Encodes one frame of frame_samples mono floats. Returns the packet length or TOLK_ECODEC. */
int tolk_encoder_encode(struct tolk_encoder *enc, const float *pcm, uint8_t *out, size_t cap);

#endif
