/* tolk-server configuration: the INI file of DESIGN.md, parsed with libinih.
 *
 * config.c holds one table that defines every key of [server] and [audio] and of each
 * [channel ID] and [booth ID] section, with its default, range and help text; config/tolk.conf documents the
 * same keys. Loading runs on the main thread before anything starts; afterwards the struct is
 * read-only and any thread may read it.
 */
#ifndef TOLK_CONFIG_H
#define TOLK_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#define TOLK_MAX_CHANNELS 32
#define TOLK_MAX_BOOTHS 16
#define TOLK_MAX_DESKS 6 /* per booth */
#define TOLK_MAX_ALL_DESKS (TOLK_MAX_BOOTHS * TOLK_MAX_DESKS)
#define TOLK_ID_MAX 32
#define TOLK_SRTP_KEY_LEN 30 /* AES_CM_128_HMAC_SHA1_80: 16-byte master key + 14-byte salt */

enum tolk_source_kind {
    TOLK_SOURCE_NONE,  /* no source of its own: always carries its fallback */
    TOLK_SOURCE_INPUT, /* a device input: `input:N`, N from 1 */
    TOLK_SOURCE_TONE,  /* `tone:HZ`: a sine */
    TOLK_SOURCE_FILE,  /* `file:PATH`: a WAV file, looped */
    TOLK_SOURCE_DEMO,  /* `demo`: built-in tone pattern that tells the channels apart */
};

struct tolk_source_spec {
    enum tolk_source_kind kind;
    int input;      /* TOLK_SOURCE_INPUT: 1-based device input */
    double tone_hz; /* TOLK_SOURCE_TONE */
    char path[PATH_MAX]; /* TOLK_SOURCE_FILE, resolved relative to the config file's folder */
};

struct tolk_channel_config {
    char id[TOLK_ID_MAX]; /* `floor`, `en`, `fr`, ... (letters, digits, '-', '_') */
    char name[64];        /* shown to delegates, in its own script */
    char lang[16];        /* BCP 47 tag, empty for the floor */
    struct tolk_source_spec source;
    char fallback[TOLK_ID_MAX]; /* id of the channel carried when not live; "" for none */
    int fallback_index;         /* resolved: index into channels[], -1 for none */
    int line;                   /* line of the section header, for messages */

    /* RTP egress (server/rtp/): rtp_host "" = none. */
    char rtp_host[64];    /* numeric IPv4 or IPv6 address (no brackets), unicast or multicast */
    int rtp_port;         /* even; RTCP goes to rtp_port + 1 */
    int rtp_ttl;          /* multicast TTL (IPv6: hop limit) */
    int rtp_payload_type; /* dynamic, 96..127 */
    char srtp_key[48];    /* base64 text as written ("" = plain RTP), for the SDP's a=crypto */
    unsigned char srtp_key_bytes[TOLK_SRTP_KEY_LEN]; /* decoded: master key, then salt */
};

/* [booth ID]: the interpreters who produce a channel. Each desk is one interpreter's microphone;
 * the desk that is on air feeds the booth's output channel A or B (control/booth.c decides). */
struct tolk_booth_config {
    char id[TOLK_ID_MAX];
    char name[64]; /* shown on the console */
    int desk_count;
    struct tolk_source_spec desks[TOLK_MAX_DESKS];
    char a[TOLK_ID_MAX], b[TOLK_ID_MAX]; /* outgoing channels; b "" = none */
    int a_index, b_index;                /* resolved; b_index -1 = none */
    char pin[32];                        /* "" = [server] booth_pin */
    int relay_peak_dbfs;    /* hearing protection on the console's relay feed: sample ceiling */
    int relay_average_dbfs; /* ... and ceiling on the short-term average level */
    int first_desk;         /* resolved: index of desk 1 among all booths' desks */
    int line;               /* of the section header */
};

struct tolk_config {
    char path[PATH_MAX];

    /* [server] */
    char listen_host[64];
    int listen_port;
    char tls_cert[PATH_MAX]; /* "" = plain http */
    char tls_key[PATH_MAX];
    char http_host[64];      /* with TLS, a plain-http port for listeners only; port 0 = none */
    int http_port;
    int allow_insecure_control; /* booth/tech logins over plain http from other machines */
    char public_url[256]; /* "" = derived from the first LAN address at start */
    char tech_token[128];
    char booth_pin[32];
    int max_listeners;
    char web_root[PATH_MAX]; /* "" = the client/web folder found next to the binary or source */
    int threads;             /* network service threads; 0 = one per core */
    int max_behind_ms;       /* a listener further behind skips to the live edge */
    int silence_alarm_s;        /* a live channel this long below the threshold raises an alarm */
    int silence_threshold_dbfs;

    /* [audio] */
    char device[128];
    int sample_rate;
    int frame_ms;
    int bitrate;
    int complexity;
    int application; /* OPUS_APPLICATION_VOIP, _AUDIO or _RESTRICTED_LOWDELAY */
    int fec;         /* Opus in-band FEC in every packet (for RTP receivers): 1 yes, 0 no */

    /* [channel ID] sections; the floor is always channels[0]. */
    int channel_count;
    struct tolk_channel_config channels[TOLK_MAX_CHANNELS];

    /* [booth ID] sections, in file order. */
    int booth_count;
    struct tolk_booth_config booths[TOLK_MAX_BOOTHS];
    int desk_count; /* all booths' desks, numbered booth by booth from 0 */
};

/* Loads and validates path. On failure returns TOLK_ECONFIG (or -errno if the file can not be
 * read) and writes "FILE:LINE: [section] key: problem" into err. */
int tolk_config_load(struct tolk_config *cfg, const char *path, char *err, size_t errlen);

/* The same from a string; name stands for the file in messages. For tests. */
int tolk_config_parse_string(struct tolk_config *cfg, const char *name, const char *text,
                             char *err, size_t errlen);

/* Index of the channel with this id, or -1. */
int tolk_config_channel_index(const struct tolk_config *cfg, const char *id);

/* Index of the booth with this id, or -1. */
int tolk_config_booth_index(const struct tolk_config *cfg, const char *id);

/* The PIN of a booth: its own, else [server] booth_pin. */
const char *tolk_config_booth_pin(const struct tolk_config *cfg, int booth);

/* Writes every key with its default and range, for --help. */
void tolk_config_print_keys(FILE *out);

#endif
