/* Play-out: records from the network thread → jitter buffer → Opus decoder → speexdsp
 * resampler (ratio a few ppm off 1, steered by the jitter buffer so the latency stays put
 * whatever the two clocks do) → PortAudio output, mono on every output channel.
 *
 * Threads: the main thread creates, starts, stops and destroys. The PortAudio callback
 * (on_audio) owns everything under "callback" below and does all the work: it never allocates,
 * locks, logs or blocks. Decoding runs in the callback, not on a decode thread ahead of it:
 * an Opus frame decodes in tens of microseconds here (the status line shows the worst case),
 * far inside a period, and a decode thread would need a PCM ring whose fill adds latency and
 * a second level to steer. The buffer decides per frame at the moment the frame is needed,
 * which is also what lets it wait on a late packet instead of concealing too early.
 */
#include "playout.h"

#include <errno.h>
#include <math.h>
#include <opus.h>
#include <pa_jack.h>
#include <portaudio.h>
#include <speex/speex_resampler.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tolk/clock.h"
#include "tolk/error.h"
#include "tolk/log.h"
#include "tolk/protocol.h"

#define RATE 48000
#define MAX_FRAME 5760     /* 120 ms: the longest Opus packet */
#define CHUNK 4096         /* mono samples rendered at a time */
#define DRAIN_MAX 128      /* records taken from the ring per callback */
#define RESAMPLER_QUALITY 3
/* ratio = (RATIO_DEN + k) / RATIO_DEN: 20 ppm steps. speexdsp 1.2.1 rescales its phase with
 * 32-bit products when the ratio changes, so the denominator stays below 65536 (larger ones
 * crashed or jumped); the steps are dithered (first-order sigma-delta) to any mean ratio. */
#define RATIO_DEN 50000
#define PPM_STEP (1e6 / RATIO_DEN)
#define RATE_UPDATE_US 100000
#define METER_TAU_S 0.3

struct tolk_playout {
    /* Main thread; read-only while the stream runs. */
    struct tolk_playout_config cfg;
    PaStream *stream;
    int channels;
    bool pa_up, running;
    char description[320];

    /* Callback. */
    struct tolk_jitter *jb;
    OpusDecoder *dec;
    SpeexResamplerState *rs;
    int frame_samples;
    int resampler_delay; /* input samples inside the resampler */
    float staging[MAX_FRAME]; /* the decoded frame being played */
    int staging_len, staging_pos;
    float mono[CHUNK];
    struct tolk_rx_record rec; /* a record read from the ring */
    double applied_ppm;  /* mean of the dithered ratio: the jitter buffer's last request */
    double dither;       /* sigma-delta error carried to the next update */
    long step;           /* the ratio's numerator - RATIO_DEN now */
    int64_t rate_set_us;
    double power;     /* mean square of the output, smoothed */
    int64_t out_delay_us, wall_us; /* of the current callback */
    int decode_max_us;
};

/* ---- Callback ---- */

static void drain(struct tolk_playout *p)
{
    for (int i = 0; i < DRAIN_MAX; i++) {
        if (tolk_ring_read(p->cfg.ring, &p->rec, sizeof p->rec) != sizeof p->rec)
            return;
        if (p->rec.kind == TOLK_RX_RESET) {
            if (tolk_jitter_reset(p->jb, p->rec.frame_ms) == 0 && p->rec.frame_ms)
                p->frame_samples = p->rec.frame_ms * RATE / 1000;
            opus_decoder_ctl(p->dec, OPUS_RESET_STATE);
            continue;
        }
        struct tolk_jitter_packet pkt = {.seq = p->rec.seq,
                                         .capture_us = p->rec.capture_us,
                                         .arrival_us = p->rec.arrival_us,
                                         .flags = p->rec.flags,
                                         .data = p->rec.data,
                                         .len = p->rec.len};
        tolk_jitter_put(p->jb, &pkt); /* late and duplicate packets are counted inside */
    }
}

static int decode(struct tolk_playout *p, const struct tolk_jitter_frame *f)
{
    int n = -1;
    if (f->action == TOLK_JITTER_PLAY)
        n = opus_decode_float(p->dec, f->data, (opus_int32)f->len, p->staging, MAX_FRAME, 0);
    else if (f->action == TOLK_JITTER_FEC)
        n = opus_decode_float(p->dec, f->data, (opus_int32)f->len, p->staging, p->frame_samples,
                              1);
    if (n <= 0) /* concealment, or a packet the decoder refused */
        n = opus_decode_float(p->dec, NULL, 0, p->staging, p->frame_samples, 0);
    if (n <= 0) {
        memset(p->staging, 0, sizeof(float) * (size_t)p->frame_samples);
        n = p->frame_samples;
    }
    return n;
}

/* The next frame into staging; false if the buffer says silence. offset: output samples of
 * this callback before it. */
static bool refill(struct tolk_playout *p, int64_t now_us, int offset)
{
    struct tolk_jitter_frame f;
    tolk_jitter_next(p->jb, now_us, offset, &f);
    p->staging_len = p->staging_pos = 0;
    if (f.action == TOLK_JITTER_SILENCE)
        return false;
    int64_t t0 = tolk_clock_mono_ns();
    p->staging_len = decode(p, &f);
    int us = (int)((tolk_clock_mono_ns() - t0) / 1000);
    if (us > p->decode_max_us)
        p->decode_max_us = us;
    struct tolk_rx_state *s = p->cfg.state;
    if (f.action == TOLK_JITTER_PLAY) {
        atomic_store_explicit(&s->audio.fallback, (f.flags & TOLK_FLAG_FALLBACK) != 0,
                              memory_order_relaxed);
        atomic_store_explicit(&s->audio.flags_known, true, memory_order_relaxed);
    }
    if (f.capture_us) { /* when this frame's first sample leaves the sound card */
        int64_t out_us = p->wall_us + p->out_delay_us +
                         (int64_t)(offset + p->resampler_delay) * 1000000 / RATE;
        int64_t lat = out_us - f.capture_us;
        if (lat > -1000000 && lat < 100000000)
            atomic_store_explicit(&s->audio.latency_us, (int)lat, memory_order_relaxed);
    }
    return true;
}

/* n mono samples at mono; offset: samples of this callback already rendered. */
static void render(struct tolk_playout *p, int64_t now_us, int offset, float *mono, int n)
{
    int produced = 0;
    while (produced < n) {
        if (p->staging_pos >= p->staging_len && !refill(p, now_us, offset + produced)) {
            memset(mono + produced, 0, sizeof(float) * (size_t)(n - produced));
            return;
        }
        spx_uint32_t in_len = (spx_uint32_t)(p->staging_len - p->staging_pos);
        spx_uint32_t out_len = (spx_uint32_t)(n - produced);
        speex_resampler_process_float(p->rs, 0, p->staging + p->staging_pos, &in_len,
                                      mono + produced, &out_len);
        p->staging_pos += (int)in_len;
        produced += (int)out_len;
        if (in_len == 0 && out_len == 0) { /* cannot happen; never spin in the callback */
            memset(mono + produced, 0, sizeof(float) * (size_t)(n - produced));
            return;
        }
    }
}

static void meter(struct tolk_playout *p, const float *mono, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)mono[i] * mono[i];
    double a = n / (METER_TAU_S * RATE);
    if (a > 1)
        a = 1;
    p->power += a * (sum / (n ? n : 1) - p->power);
}

static void steer(struct tolk_playout *p, int64_t now_us, int frames)
{
    double ppm = tolk_jitter_tick(p->jb, now_us, p->staging_len - p->staging_pos, frames);
    if (now_us - p->rate_set_us < RATE_UPDATE_US)
        return;
    p->rate_set_us = now_us;
    p->applied_ppm = ppm;
    double want = ppm / PPM_STEP + p->dither;
    long step = lround(want);
    p->dither = want - (double)step;
    if (step == p->step)
        return;
    p->step = step;
    speex_resampler_set_rate_frac(p->rs, (spx_uint32_t)(RATIO_DEN + step), RATIO_DEN, RATE, RATE);
}

static void publish(struct tolk_playout *p)
{
    struct tolk_rx_state *s = p->cfg.state;
    struct tolk_jitter_stats st;
    tolk_jitter_get_stats(p->jb, &st);
    atomic_fetch_add_explicit(&s->audio.callbacks, 1, memory_order_relaxed);
    atomic_store_explicit(&s->audio.underruns, st.underruns, memory_order_relaxed);
    atomic_store_explicit(&s->audio.late, st.late, memory_order_relaxed);
    atomic_store_explicit(&s->audio.concealed, st.concealed, memory_order_relaxed);
    atomic_store_explicit(&s->audio.fec, st.fec, memory_order_relaxed);
    atomic_store_explicit(&s->audio.dropped, st.dropped, memory_order_relaxed);
    atomic_store_explicit(&s->audio.resets, st.resets, memory_order_relaxed);
    atomic_store_explicit(&s->audio.playing, st.playing, memory_order_relaxed);
    atomic_store_explicit(&s->audio.buffer_us, (int)(st.level_ms * 1000), memory_order_relaxed);
    atomic_store_explicit(&s->audio.target_us, (int)(st.target_ms * 1000), memory_order_relaxed);
    atomic_store_explicit(&s->audio.jitter_us, (int)(st.jitter_ms * 1000), memory_order_relaxed);
    atomic_store_explicit(&s->audio.ppm_x10, (int)lround(p->applied_ppm * 10),
                          memory_order_relaxed);
    atomic_store_explicit(&s->audio.decode_max_us, p->decode_max_us, memory_order_relaxed);
    int cdb = p->power > 1e-20 ? (int)lround(1000.0 * log10(p->power)) : -20000;
    atomic_store_explicit(&s->audio.level_cdb, cdb, memory_order_relaxed);
}

static int on_audio(const void *input, void *output, unsigned long frames,
                    const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags status, void *user)
{
    struct tolk_playout *p = user;
    int64_t now_us = tolk_clock_mono_ns() / 1000;
    p->wall_us = tolk_clock_wall_us();
    double d = ti ? ti->outputBufferDacTime - ti->currentTime : 0;
    p->out_delay_us = d > 0 && d < 1 ? (int64_t)(d * 1e6) : 0;
    drain(p);
    float *out = output;
    for (unsigned long done = 0; done < frames;) {
        int n = frames - done < CHUNK ? (int)(frames - done) : CHUNK;
        render(p, now_us, (int)done, p->mono, n);
        meter(p, p->mono, n);
        for (int i = 0; i < n; i++)
            for (int c = 0; c < p->channels; c++)
                out[(done + (unsigned long)i) * (unsigned long)p->channels + (unsigned long)c] =
                    p->mono[i];
        done += (unsigned long)n;
    }
    steer(p, now_us, (int)frames);
    publish(p);
    (void)input;
    (void)status;
    return paContinue;
}

/* ---- Main thread ---- */

static PaDeviceIndex find_device(const char *name)
{
    if (!name || !*name || strcmp(name, "default") == 0)
        return Pa_GetDefaultOutputDevice();
    char *end;
    long index = strtol(name, &end, 10);
    if (*end == '\0')
        return index >= 0 && index < Pa_GetDeviceCount() ? (PaDeviceIndex)index : paNoDevice;
    PaDeviceIndex found = paNoDevice;
    for (PaDeviceIndex i = 0; i < Pa_GetDeviceCount(); i++) {
        const PaDeviceInfo *info = Pa_GetDeviceInfo(i);
        if (!info || info->maxOutputChannels < 1)
            continue;
        if (strcmp(info->name, name) == 0)
            return i;
        if (found == paNoDevice && strcasestr(info->name, name))
            found = i;
    }
    return found;
}

/* Grows the resampler's tables to their largest once, so changing the ratio in the callback
 * never reallocates them. */
static int make_resampler(struct tolk_playout *p)
{
    int err = 0;
    p->rs = speex_resampler_init(1, RATE, RATE, RESAMPLER_QUALITY, &err);
    if (!p->rs)
        return -ENOMEM;
    speex_resampler_set_rate_frac(p->rs, RATIO_DEN + 50, RATIO_DEN, RATE, RATE); /* +1000 ppm */
    speex_resampler_set_rate_frac(p->rs, RATIO_DEN - 50, RATIO_DEN, RATE, RATE);
    speex_resampler_set_rate_frac(p->rs, RATIO_DEN + 1, RATIO_DEN, RATE, RATE);
    speex_resampler_set_rate_frac(p->rs, RATIO_DEN, RATIO_DEN, RATE, RATE);
    p->resampler_delay = speex_resampler_get_input_latency(p->rs);
    return 0;
}

static int make_codec(struct tolk_playout *p)
{
    struct tolk_jitter_config jc = {.frame_ms = p->cfg.frame_ms,
                                    .latency_ms = p->cfg.latency_ms,
                                    .sample_rate = RATE,
                                    .fec = p->cfg.fec};
    int err = tolk_jitter_create(&p->jb, &jc);
    if (err)
        return err;
    p->dec = opus_decoder_create(RATE, 1, &err);
    if (!p->dec)
        return TOLK_ECODEC;
    p->frame_samples = p->cfg.frame_ms * RATE / 1000;
    return make_resampler(p);
}

static int open_stream(struct tolk_playout *p)
{
    PaDeviceIndex dev = find_device(p->cfg.device);
    if (dev == paNoDevice) {
        tolk_log_error("no output device \"%s\" (tolk-receiver --list-devices)",
                       p->cfg.device ? p->cfg.device : "default");
        return TOLK_EDEVICE;
    }
    const PaDeviceInfo *info = Pa_GetDeviceInfo(dev);
    p->channels = info->maxOutputChannels < 2 ? 1 : 2;
    PaStreamParameters out = {.device = dev,
                              .channelCount = p->channels,
                              .sampleFormat = paFloat32,
                              .suggestedLatency = info->defaultLowOutputLatency};
    /* Unspecified: the host's own period (JACK's), so callbacks come steadily. */
    PaError e = Pa_OpenStream(&p->stream, NULL, &out, RATE, paFramesPerBufferUnspecified,
                              paClipOff, on_audio, p);
    if (e != paNoError) {
        tolk_log_error("cannot open \"%s\" for 48 kHz output: %s", info->name, Pa_GetErrorText(e));
        p->stream = NULL;
        return TOLK_EDEVICE;
    }
    const PaStreamInfo *si = Pa_GetStreamInfo(p->stream);
    const PaHostApiInfo *api = Pa_GetHostApiInfo(info->hostApi);
    snprintf(p->description, sizeof p->description,
             "device %d \"%s\" (%s), %d channel%s, output latency %.1f ms", dev, info->name,
             api ? api->name : "?", p->channels, p->channels > 1 ? "s" : "",
             si ? si->outputLatency * 1000 : 0.0);
    return 0;
}

int tolk_playout_create(struct tolk_playout **out, const struct tolk_playout_config *cfg)
{
    *out = NULL;
    struct tolk_playout *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->cfg = *cfg;
    int err = make_codec(p);
    if (err)
        goto fail;
    PaJack_SetClientName("tolk-receiver");
    if (Pa_Initialize() != paNoError) {
        tolk_log_error("PortAudio failed to initialise");
        err = TOLK_EDEVICE;
        goto fail;
    }
    p->pa_up = true;
    err = open_stream(p);
    if (err)
        goto fail;
    *out = p;
    return 0;
fail:
    tolk_playout_destroy(p);
    return err;
}

int tolk_playout_start(struct tolk_playout *p)
{
    PaError e = Pa_StartStream(p->stream);
    if (e != paNoError) {
        tolk_log_error("cannot start the output stream: %s", Pa_GetErrorText(e));
        return TOLK_EDEVICE;
    }
    p->running = true;
    return 0;
}

void tolk_playout_stop(struct tolk_playout *p)
{
    if (!p || !p->running)
        return;
    Pa_StopStream(p->stream);
    p->running = false;
}

void tolk_playout_destroy(struct tolk_playout *p)
{
    if (!p)
        return;
    tolk_playout_stop(p);
    if (p->stream)
        Pa_CloseStream(p->stream);
    if (p->pa_up)
        Pa_Terminate();
    if (p->rs)
        speex_resampler_destroy(p->rs);
    if (p->dec)
        opus_decoder_destroy(p->dec);
    tolk_jitter_destroy(p->jb);
    free(p);
}

const char *tolk_playout_describe(const struct tolk_playout *p)
{
    return p->description;
}

int tolk_playout_list_devices(FILE *out)
{
    if (Pa_Initialize() != paNoError)
        return TOLK_EDEVICE;
    PaDeviceIndex def = Pa_GetDefaultOutputDevice();
    fprintf(out, "Output devices (use the index or part of the name with --device):\n");
    for (PaDeviceIndex i = 0; i < Pa_GetDeviceCount(); i++) {
        const PaDeviceInfo *info = Pa_GetDeviceInfo(i);
        if (!info || info->maxOutputChannels < 1)
            continue;
        const PaHostApiInfo *api = Pa_GetHostApiInfo(info->hostApi);
        fprintf(out, "%c%3d  %s (%s), %d outputs, low latency %.1f ms\n", i == def ? '*' : ' ', i,
                info->name, api ? api->name : "?", info->maxOutputChannels,
                info->defaultLowOutputLatency * 1000);
    }
    Pa_Terminate();
    return 0;
}
