/* Opus encoder of one channel. create/destroy on the main thread, encode on the engine thread.
 * opus_encode_float does not allocate: all state lives in the encoder made at create.
 * In-band FEC: with it, each SILK or hybrid packet also carries a coarse copy of the previous
 * frame, which a receiver that lost that frame decodes instead of concealing it (RTP egress). */
#include "codec/encoder.h"

#include <errno.h>
#include <opus/opus.h>
#include <stdlib.h>

#include "tolk/error.h"
#include "tolk/log.h"

struct tolk_encoder {
    OpusEncoder *opus;
    int frame_samples;
};

static int configure(OpusEncoder *opus, int bitrate, int complexity, bool fec)
{
    if (opus_encoder_ctl(opus, OPUS_SET_BITRATE(bitrate)) != OPUS_OK ||
        opus_encoder_ctl(opus, OPUS_SET_COMPLEXITY(complexity)) != OPUS_OK ||
        opus_encoder_ctl(opus, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)) != OPUS_OK ||
        opus_encoder_ctl(opus, OPUS_SET_VBR(1)) != OPUS_OK ||
        opus_encoder_ctl(opus, OPUS_SET_INBAND_FEC(fec)) != OPUS_OK ||
        opus_encoder_ctl(opus, OPUS_SET_PACKET_LOSS_PERC(fec ? TOLK_ENCODER_FEC_LOSS_PERC : 0)) !=
            OPUS_OK)
        return TOLK_ECODEC;
    return 0;
}

int tolk_encoder_create(struct tolk_encoder **out, int sample_rate, int frame_samples, int bitrate,
                        int complexity, int application, bool fec)
{
    *out = NULL;
    struct tolk_encoder *enc = calloc(1, sizeof *enc);
    if (!enc)
        return -ENOMEM;

    int status = OPUS_OK;
    enc->opus = opus_encoder_create(sample_rate, 1, application, &status);
    if (status != OPUS_OK || configure(enc->opus, bitrate, complexity, fec) != 0) {
        tolk_log_error("opus encoder: %s", opus_strerror(status != OPUS_OK ? status : OPUS_BAD_ARG));
        tolk_encoder_destroy(enc);
        return TOLK_ECODEC;
    }
    enc->frame_samples = frame_samples;
    *out = enc;
    return 0;
}

void tolk_encoder_destroy(struct tolk_encoder *enc)
{
    if (!enc)
        return;
    if (enc->opus)
        opus_encoder_destroy(enc->opus);
    free(enc);
}

int tolk_encoder_encode(struct tolk_encoder *enc, const float *pcm, uint8_t *out, size_t cap)
{
    opus_int32 n = opus_encode_float(enc->opus, pcm, enc->frame_samples, out, (opus_int32)cap);
    return n > 0 ? (int)n : TOLK_ECODEC;
}
