/* The `file:PATH` source: a WAV file decoded and resampled to 48 kHz mono at create, then looped.
 *
 * create() (main thread) checks the file (WAV, 16/24/32-bit PCM or float, mono or stereo,
 * 8..192 kHz, at most 10 minutes), mixes stereo down and resamples with speexdsp while it reads,
 * so the source holds only its 48 kHz result. The resampler is primed with the end of the file
 * and flushed with its start, so the loop point is as seamless as the file itself.
 * read() (engine thread) only copies from memory: no I/O, allocation, lock or log.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sndfile.h>
#include <speex/speex_resampler.h>

#include "audio/source.h"
#include "audio/source_private.h"

#define FILE_MAX_SECONDS 600
#define FILE_MIN_RATE 8000
#define FILE_MAX_RATE 192000
#define FILE_CHUNK 4096 /* input frames per read */
#define FILE_RESAMPLE_QUALITY 5

struct file_source {
    struct tolk_source base;
    float *samples; /* 48 kHz mono, read-only after create */
    size_t count;
    size_t pos; /* engine thread only */
};

/* Create-time state of one decode; main thread only. */
struct decoder {
    const char *path;
    SNDFILE *sf;
    SF_INFO info;
    sf_count_t file_pos;        /* frame the next sf_readf_float returns */
    SpeexResamplerState *resampler; /* NULL when the file is already at 48 kHz */
    float *interleaved;         /* FILE_CHUNK frames as read */
    float *mono;                /* FILE_CHUNK samples mixed down */
    float *resampled;           /* output of one resampler call */
    size_t resampled_cap;
    float *out;                 /* the result, out_count samples */
    size_t out_count, out_pos;
    size_t discard;             /* outputs still to drop (the priming) */
};

static void file_read(struct tolk_source *source, float *out, size_t n)
{
    struct file_source *file = (struct file_source *)source;
    while (n > 0) {
        size_t run = file->count - file->pos;
        if (run > n)
            run = n;
        memcpy(out, file->samples + file->pos, run * sizeof *out);
        out += run;
        n -= run;
        file->pos += run;
        if (file->pos == file->count)
            file->pos = 0;
    }
}

static void file_destroy(struct tolk_source *source)
{
    struct file_source *file = (struct file_source *)source;
    free(file->samples);
    free(file);
}

static const struct tolk_source_ops file_ops = {.read = file_read, .destroy = file_destroy};

/* libsndfile's name of a major format or subtype (a static string). */
static const char *format_name(int format)
{
    SF_FORMAT_INFO info = {.format = format};
    if (sf_command(NULL, SFC_GET_FORMAT_INFO, &info, sizeof info) != 0 || !info.name)
        return "an unknown format";
    return info.name;
}

static int open_file(struct decoder *dec, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dec->path, &st) != 0) {
        int code = errno;
        snprintf(err, errlen, "file:%s: %s", dec->path, strerror(code));
        return -code;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "file:%s: not a regular file", dec->path);
        return -EINVAL;
    }
    dec->sf = sf_open(dec->path, SFM_READ, &dec->info);
    if (!dec->sf) {
        snprintf(err, errlen, "file:%s: not a readable WAV file (%s)", dec->path,
                 sf_strerror(NULL));
        return -EINVAL;
    }
    return 0;
}

static bool subtype_supported(int subtype)
{
    return subtype == SF_FORMAT_PCM_16 || subtype == SF_FORMAT_PCM_24 ||
           subtype == SF_FORMAT_PCM_32 || subtype == SF_FORMAT_FLOAT ||
           subtype == SF_FORMAT_DOUBLE;
}

static int check_format(const struct decoder *dec, char *err, size_t errlen)
{
    const SF_INFO *info = &dec->info;
    int major = info->format & SF_FORMAT_TYPEMASK;
    int subtype = info->format & SF_FORMAT_SUBMASK;
    if (major != SF_FORMAT_WAV && major != SF_FORMAT_WAVEX && major != SF_FORMAT_RF64) {
        snprintf(err, errlen, "file:%s: not a WAV file (it is %s)", dec->path, format_name(major));
        return -EINVAL;
    }
    if (!subtype_supported(subtype)) {
        snprintf(err, errlen, "file:%s: unsupported sample format %s (use 16-bit PCM or float)",
                 dec->path, format_name(subtype));
        return -ENOTSUP;
    }
    if (info->channels < 1 || info->channels > 2) {
        snprintf(err, errlen, "file:%s: unsupported: %d channels (use mono or stereo)", dec->path,
                 info->channels);
        return -ENOTSUP;
    }
    if (info->samplerate < FILE_MIN_RATE || info->samplerate > FILE_MAX_RATE) {
        snprintf(err, errlen, "file:%s: unsupported sample rate %d Hz (use %d..%d)", dec->path,
                 info->samplerate, FILE_MIN_RATE, FILE_MAX_RATE);
        return -ENOTSUP;
    }
    if (info->frames <= 0) {
        snprintf(err, errlen, "file:%s: empty (no audio)", dec->path);
        return -ENODATA;
    }
    if (info->frames > (sf_count_t)FILE_MAX_SECONDS * info->samplerate) {
        snprintf(err, errlen, "file:%s: %.0f s long; the limit is %d minutes (it is held in "
                 "memory)", dec->path, (double)info->frames / info->samplerate,
                 FILE_MAX_SECONDS / 60);
        return -EFBIG;
    }
    return 0;
}

static int alloc_buffers(struct decoder *dec, char *err, size_t errlen)
{
    int rate = dec->info.samplerate;
    dec->out_count = (size_t)llround((double)dec->info.frames * TOLK_SAMPLE_RATE / rate);
    if (dec->out_count == 0)
        dec->out_count = 1;
    dec->resampled_cap = (size_t)FILE_CHUNK * TOLK_SAMPLE_RATE / FILE_MIN_RATE + 256;
    dec->interleaved = malloc(sizeof(float) * FILE_CHUNK * (size_t)dec->info.channels);
    dec->mono = malloc(sizeof(float) * FILE_CHUNK);
    dec->resampled = malloc(sizeof(float) * dec->resampled_cap);
    dec->out = malloc(sizeof(float) * dec->out_count);
    if (!dec->interleaved || !dec->mono || !dec->resampled || !dec->out) {
        snprintf(err, errlen, "file:%s: out of memory for %.0f s of audio", dec->path,
                 (double)dec->out_count / TOLK_SAMPLE_RATE);
        return -ENOMEM;
    }
    return 0;
}

/* Takes resampled samples: drops the priming, clamps, stores until the result is full. */
static void emit(struct decoder *dec, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (dec->discard > 0) {
            dec->discard--;
            continue;
        }
        if (dec->out_pos == dec->out_count)
            return;
        float v = in[i];
        dec->out[dec->out_pos++] = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
    }
}

static void resample(struct decoder *dec, const float *in, size_t n)
{
    if (!dec->resampler) {
        emit(dec, in, n);
        return;
    }
    while (n > 0) {
        spx_uint32_t in_len = (spx_uint32_t)n, out_len = (spx_uint32_t)dec->resampled_cap;
        speex_resampler_process_float(dec->resampler, 0, in, &in_len, dec->resampled, &out_len);
        emit(dec, dec->resampled, out_len);
        in += in_len;
        n -= in_len;
    }
}

/* Reads up to FILE_CHUNK frames at the current position into dec->mono; returns the count. */
static sf_count_t read_mono(struct decoder *dec, sf_count_t want)
{
    sf_count_t got = sf_readf_float(dec->sf, dec->interleaved, want);
    if (got <= 0)
        return got;
    if (dec->info.channels == 1) {
        memcpy(dec->mono, dec->interleaved, (size_t)got * sizeof(float));
    } else {
        for (sf_count_t i = 0; i < got; i++)
            dec->mono[i] = 0.5f * (dec->interleaved[2 * i] + dec->interleaved[2 * i + 1]);
    }
    dec->file_pos += got;
    return got;
}

/* Feeds count frames starting at frame start of the file, wrapping at its end, to the
 * resampler. */
static int feed(struct decoder *dec, sf_count_t start, sf_count_t count, char *err, size_t errlen)
{
    sf_count_t frames = dec->info.frames;
    sf_count_t pos = start % frames;
    while (count > 0) {
        if (pos != dec->file_pos) {
            if (sf_seek(dec->sf, pos, SEEK_SET) < 0)
                goto fail;
            dec->file_pos = pos;
        }
        sf_count_t want = count < FILE_CHUNK ? count : FILE_CHUNK;
        if (want > frames - pos)
            want = frames - pos;
        sf_count_t got = read_mono(dec, want);
        if (got <= 0)
            goto fail;
        resample(dec, dec->mono, (size_t)got);
        count -= got;
        pos = (pos + got) % frames;
    }
    return 0;
fail:
    snprintf(err, errlen, "file:%s: read error at frame %lld of %lld (truncated?): %s", dec->path,
             (long long)pos, (long long)frames, sf_strerror(dec->sf));
    return -EIO;
}

static int start_resampler(struct decoder *dec, sf_count_t *prime, char *err, size_t errlen)
{
    *prime = 0;
    if (dec->info.samplerate == TOLK_SAMPLE_RATE)
        return 0;
    int rc = 0;
    dec->resampler = speex_resampler_init(1, (spx_uint32_t)dec->info.samplerate,
                                          TOLK_SAMPLE_RATE, FILE_RESAMPLE_QUALITY, &rc);
    if (!dec->resampler) {
        snprintf(err, errlen, "file:%s: resampler: %s", dec->path, speex_resampler_strerror(rc));
        return -ENOMEM;
    }
    speex_resampler_skip_zeros(dec->resampler);
    /* History for the first outputs: the file's end, as when the loop comes round. */
    *prime = 2 * (sf_count_t)speex_resampler_get_input_latency(dec->resampler) + 64;
    dec->discard = (size_t)llround((double)*prime * TOLK_SAMPLE_RATE / dec->info.samplerate);
    return 0;
}

static int decode(struct decoder *dec, char *err, size_t errlen)
{
    sf_count_t frames = dec->info.frames, prime;
    int rc = start_resampler(dec, &prime, err, errlen);
    if (rc == 0 && prime > 0)
        rc = feed(dec, frames - prime % frames, prime, err, errlen);
    if (rc == 0)
        rc = feed(dec, 0, frames, err, errlen);
    /* The resampler still holds the last outputs: push the file's start through. */
    sf_count_t flush = prime + FILE_CHUNK;
    for (int round = 0; rc == 0 && dec->out_pos < dec->out_count && round < 8; round++)
        rc = feed(dec, round * flush, flush, err, errlen);
    if (rc == 0 && dec->out_pos < dec->out_count) {
        snprintf(err, errlen, "file:%s: resampling produced too few samples", dec->path);
        rc = -EIO;
    }
    return rc;
}

static void decoder_free(struct decoder *dec)
{
    if (dec->sf)
        sf_close(dec->sf);
    if (dec->resampler)
        speex_resampler_destroy(dec->resampler);
    free(dec->interleaved);
    free(dec->mono);
    free(dec->resampled);
    free(dec->out);
}

int tolk_source_file_create(struct tolk_source **out, const char *path, char *err, size_t errlen)
{
    struct decoder dec = {.path = path};
    struct file_source *file = NULL;
    int rc = open_file(&dec, err, errlen);
    if (rc == 0)
        rc = check_format(&dec, err, errlen);
    if (rc == 0)
        rc = alloc_buffers(&dec, err, errlen);
    if (rc == 0)
        rc = decode(&dec, err, errlen);
    if (rc == 0 && !(file = calloc(1, sizeof *file))) {
        snprintf(err, errlen, "file:%s: out of memory", path);
        rc = -ENOMEM;
    }
    if (rc == 0) {
        file->base.ops = &file_ops;
        file->samples = dec.out;
        file->count = dec.out_count;
        dec.out = NULL;
        *out = &file->base;
    }
    decoder_free(&dec);
    return rc;
}
