/* One Opus encoder per channel. Created on the main thread; encode() on the engine thread only. */
#ifndef TOLK_CODEC_ENCODER_H
#define TOLK_CODEC_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The packet loss the encoder plans its in-band FEC for, percent. */
#define TOLK_ENCODER_FEC_LOSS_PERC 5

struct tolk_encoder;

/* fec: put Opus in-band FEC (LBRR) into the packets, so an RTP receiver can rebuild a lost
 * packet from the next one ([audio] fec). WebSocket listeners lose nothing, so for them it only
 * costs bytes (about 4%, docs/distribution.md). */
int tolk_encoder_create(struct tolk_encoder **out, int sample_rate, int frame_samples, int bitrate,
                        int complexity, int application, bool fec);
void tolk_encoder_destroy(struct tolk_encoder *enc);

/* Encodes one frame of frame_samples mono floats. Returns the packet length or TOLK_ECODEC. */
int tolk_encoder_encode(struct tolk_encoder *enc, const float *pcm, uint8_t *out, size_t cap);

#endif
