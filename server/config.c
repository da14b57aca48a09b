/* tolk-server configuration loader (see config.h).
 *
 * One static table, keys[], defines every key: its section, type, default, range and help.
 * Defaults are applied by parsing the table's default text through the same setters as the
 * file's values, so the table is the only place a default lives; --help prints the same table.
 * libinih splits the INI text; a line-counting reader in front of it tracks line numbers and
 * section headers (inih reports neither to the handler), so every message names FILE:LINE.
 * The first error stops the parse. Main thread, before anything starts.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <opus/opus.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "tolk/error.h"

enum section_kind { SEC_NONE, SEC_SERVER, SEC_AUDIO, SEC_CHANNEL, SEC_BOOTH };

enum key_type {
    KEY_INT,      /* a whole number in [min, max], or one of choices[] */
    KEY_STRING,   /* text that fits the field, at least min bytes long */
    KEY_LANG,     /* a BCP 47 language tag: letters, digits and '-' */
    KEY_ENUM,     /* one of values[], stored as its int */
    KEY_LISTEN,   /* HOST:PORT into listen_host and listen_port */
    KEY_HTTP_LISTEN, /* "" or HOST:PORT into http_host and http_port */
    KEY_PATH,     /* "" or a readable file, resolved relative to the config file's folder */
    KEY_SOURCE,   /* input:N, tone:HZ, file:PATH, demo or none */
    KEY_FALLBACK, /* a channel id or none; checked once every channel is known */
    KEY_DESKS,    /* a comma-separated list of sources, one per desk */
    KEY_RTP,      /* "", ADDRESS:PORT or [IPV6]:PORT into rtp_host and rtp_port */
    KEY_SRTP_KEY, /* "" or the base64 of TOLK_SRTP_KEY_LEN bytes into srtp_key(_bytes) */
};

struct enum_value {
    const char *name;
    int value;
};

struct key_def {
    enum section_kind section;
    const char *name;
    enum key_type type;
    const char *def;       /* default, parsed like a value from the file */
    const char *def_shown; /* the default as --help shows it, when def alone would mislead */
    long min, max;
    const int *choices;              /* KEY_INT: the allowed values, 0-terminated */
    const struct enum_value *values; /* KEY_ENUM: NULL-terminated */
    const char *why;                 /* appended to a range error */
    size_t offset, size;             /* the field in tolk_config or tolk_channel_config */
    const char *help;
};

#define AT(type, field) .offset = offsetof(type, field), .size = sizeof(((type *)0)->field)
#define SRV(field) AT(struct tolk_config, field)
#define CHN(field) AT(struct tolk_channel_config, field)
#define BTH(field) AT(struct tolk_booth_config, field)

static const int frame_ms_choices[] = {10, 20, 0};
static const int sample_rate_choices[] = {48000, 0};
static const struct enum_value application_values[] = {
    {"voip", OPUS_APPLICATION_VOIP},
    {"audio", OPUS_APPLICATION_AUDIO},
    {"lowdelay", OPUS_APPLICATION_RESTRICTED_LOWDELAY},
    {NULL, 0},
};
static const struct enum_value yes_no_values[] = {{"yes", 1}, {"no", 0}, {NULL, 0}};

static const struct key_def keys[] = {
    {SEC_SERVER, "listen", KEY_LISTEN, .def = "0.0.0.0:8080", SRV(listen_host),
     .help = "address and port of HTTP and WebSocket; IPv6 in brackets: [::1]:8080"},
    {SEC_SERVER, "tls_cert", KEY_PATH, .def = "", SRV(tls_cert),
     .help = "certificate chain (PEM) to serve HTTPS and WSS; empty = plain http"},
    {SEC_SERVER, "tls_key", KEY_PATH, .def = "", SRV(tls_key),
     .help = "private key (PEM) of tls_cert"},
    {SEC_SERVER, "http_listen", KEY_HTTP_LISTEN, .def = "", SRV(http_host),
     .help = "with TLS: also plain http here, for listeners only (no /booth, no /tech)"},
    {SEC_SERVER, "allow_insecure_control", KEY_ENUM, .def = "no", .values = yes_no_values,
     SRV(allow_insecure_control),
     .help = "yes = booth and tech logins over plain http from other machines (PINs in clear)"},
    {SEC_SERVER, "public_url", KEY_STRING, .def = "", SRV(public_url),
     .help = "URL printed and shown as QR codes; empty = derived from the first LAN address"},
    {SEC_SERVER, "tech_token", KEY_STRING, .def = "change-me", .min = 1, SRV(tech_token),
     .help = "secret needed by the technician dashboard and control APIs; change it"},
    {SEC_SERVER, "booth_pin", KEY_STRING, .def = "1234", .min = 1, SRV(booth_pin),
     .help = "PIN the interpreters type to open the booth console"},
    {SEC_SERVER, "max_listeners", KEY_INT, .def = "5000", .min = 1, .max = 20000,
     SRV(max_listeners), .help = "listener connections accepted; more are refused"},
    {SEC_SERVER, "web_root", KEY_STRING, .def = "", SRV(web_root),
     .help = "folder of the web pages; empty = client/web next to the binary or source"},
    {SEC_SERVER, "threads", KEY_INT, .def = "0", .min = 0, .max = 64, SRV(threads),
     .help = "network service threads; 0 = one per core"},
    {SEC_SERVER, "max_behind_ms", KEY_INT, .def = "1000", .min = 200, .max = 10000,
     SRV(max_behind_ms), .help = "a listener further behind than this skips to the live edge"},
    {SEC_SERVER, "silence_alarm_s", KEY_INT, .def = "10", .min = 1, .max = 600,
     SRV(silence_alarm_s), .help = "seconds of silence on a live channel before an alarm"},
    {SEC_SERVER, "silence_threshold_dbfs", KEY_INT, .def = "-55", .min = -90, .max = -20,
     SRV(silence_threshold_dbfs), .help = "level (RMS, dBFS) below which a channel counts as silent"},

    {SEC_AUDIO, "device", KEY_STRING, .def = "default", .min = 1, SRV(device),
     .help = "PortAudio device: part of its name, or its index; unused by test sources"},
    {SEC_AUDIO, "sample_rate", KEY_INT, .def = "48000", .choices = sample_rate_choices,
     .why = "only 48000 is supported for now", SRV(sample_rate),
     .help = "sample rate of capture and Opus, Hz; only 48000 for now"},
    {SEC_AUDIO, "frame_ms", KEY_INT, .def = "20", .choices = frame_ms_choices, SRV(frame_ms),
     .help = "length of one Opus frame, ms: 10 = less latency, 20 = half the packets"},
    {SEC_AUDIO, "bitrate", KEY_INT, .def = "32000", .min = 6000, .max = 510000, SRV(bitrate),
     .help = "Opus bit rate of each channel, bit/s; 24000-32000 suits speech"},
    {SEC_AUDIO, "complexity", KEY_INT, .def = "5", .min = 0, .max = 10, SRV(complexity),
     .help = "Opus encoder complexity: higher = better sound, more CPU"},
    {SEC_AUDIO, "application", KEY_ENUM, .def = "voip", .values = application_values,
     SRV(application), .help = "Opus mode: voip (speech), audio (music), lowdelay (least latency)"},
    {SEC_AUDIO, "fec", KEY_ENUM, .def = "yes", .values = yes_no_values, SRV(fec),
     .help = "Opus in-band FEC, for RTP receivers that lose packets; costs ~4% more bytes"},

    {SEC_CHANNEL, "name", KEY_STRING, .def = "", .def_shown = "(the channel id)", CHN(name),
     .help = "name shown to delegates, in the language's own script"},
    {SEC_CHANNEL, "lang", KEY_LANG, .def = "", CHN(lang),
     .help = "BCP 47 language tag (fr, ar, pt-BR); empty for the floor"},
    {SEC_CHANNEL, "source", KEY_SOURCE, .def = "none", CHN(source),
     .help = "input:N device input from 1, tone:HZ, file:PATH (WAV, looped), demo, none"},
    {SEC_CHANNEL, "fallback", KEY_FALLBACK, .def = "floor",
     .def_shown = "floor (none for the floor)", CHN(fallback),
     .help = "channel carried while this one is not live; none = silence"},
    {SEC_CHANNEL, "rtp", KEY_RTP, .def = "", CHN(rtp_host),
     .help = "RTP destination, unicast or multicast; PORT even, RTCP to PORT+1; IPv6: [ADDR]:PORT"},
    {SEC_CHANNEL, "rtp_ttl", KEY_INT, .def = "1", .min = 0, .max = 255, CHN(rtp_ttl),
     .help = "multicast TTL of the RTP stream: 0 = this host only, 1 = the local network"},
    {SEC_CHANNEL, "rtp_payload_type", KEY_INT, .def = "111", .min = 96, .max = 127,
     CHN(rtp_payload_type), .help = "RTP payload type of the Opus stream (dynamic: 96..127)"},
    {SEC_CHANNEL, "srtp_key", KEY_SRTP_KEY, .def = "", CHN(srtp_key),
     .help = "SRTP AES_CM_128_HMAC_SHA1_80 key+salt, 40 characters; empty = plain RTP"},

    {SEC_BOOTH, "name", KEY_STRING, .def = "", .def_shown = "(the booth id)", BTH(name),
     .help = "name shown on the booth console"},
    {SEC_BOOTH, "desks", KEY_DESKS, .def = "", BTH(desks),
     .help = "one source per interpreter microphone, comma-separated: input:3, input:4"},
    {SEC_BOOTH, "a", KEY_FALLBACK, .def = "none", .def_shown = "(required)", BTH(a),
     .help = "outgoing channel A: a channel with source = none"},
    {SEC_BOOTH, "b", KEY_FALLBACK, .def = "none", BTH(b),
     .help = "optional outgoing channel B (often the booth's retour)"},
    {SEC_BOOTH, "pin", KEY_STRING, .def = "", .def_shown = "([server] booth_pin)", BTH(pin),
     .help = "PIN of this booth's console"},
    {SEC_BOOTH, "relay_peak_dbfs", KEY_INT, .def = "-6", .min = -60, .max = 0,
     BTH(relay_peak_dbfs),
     .help = "hearing protection: no sample of the console's relay feed exceeds this, dBFS"},
    {SEC_BOOTH, "relay_average_dbfs", KEY_INT, .def = "-20", .min = -60, .max = 0,
     BTH(relay_average_dbfs),
     .help = "hearing protection: ceiling on the relay feed's level averaged over 1 s, dBFS"},
};

#define KEY_COUNT (sizeof keys / sizeof keys[0])
#define FIRST_CHANNEL_INSTANCE 2 /* key_line[] rows: 0 [server], 1 [audio], then channels */
#define FIRST_BOOTH_INSTANCE (FIRST_CHANNEL_INSTANCE + TOLK_MAX_CHANNELS) /* then booths */
#define INSTANCES (FIRST_BOOTH_INSTANCE + TOLK_MAX_BOOTHS)

/* The state of one parse; lives on the loading thread's stack. */
struct parse {
    struct tolk_config *cfg;
    const char *name;   /* the file, in messages */
    char dir[PATH_MAX]; /* relative file: paths are resolved against it */
    FILE *file;         /* read from file, or from text at pos */
    const char *text;
    size_t pos;
    int read_errno;
    int line; /* of the line inih is processing */
    enum section_kind section;
    int instance;           /* row of key_line[] of the current section */
    char section_name[48];  /* "server", "channel fr": for messages */
    int section_line[2];    /* lines of [server] and [audio], 0 until seen */
    int key_line[INSTANCES][KEY_COUNT]; /* 0 = not set */
    char *err;
    size_t errlen;
    bool failed;
};

/* Records the first error as "FILE:LINE: [section] key: problem"; section and key may be NULL. */
__attribute__((format(printf, 5, 6)))
static void fail(struct parse *p, int line, const char *section, const char *key,
                 const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    if (!p->err || p->errlen == 0)
        return;
    char problem[PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    int n = snprintf(p->err, p->errlen, "%s:%d: ", p->name, line);
    if (n >= 0 && (size_t)n < p->errlen && section)
        n += snprintf(p->err + n, p->errlen - n, "[%s]%s%s: ", section, key ? " " : "",
                      key ? key : "");
    else if (n >= 0 && (size_t)n < p->errlen && key)
        n += snprintf(p->err + n, p->errlen - n, "%s: ", key);
    if (n >= 0 && (size_t)n < p->errlen)
        snprintf(p->err + n, p->errlen - n, "%s", problem);
}

static bool is_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= TOLK_ID_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
            return false;
    return true;
}

/* Levenshtein distance, for "did you mean"; long words count as far apart. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return SIZE_MAX;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Close enough to be a typo of known: one edit, or two in a word of six letters or more. */
static bool is_typo_of(const char *typed, const char *known)
{
    size_t d = edit_distance(typed, known);
    return d > 0 && d <= (strlen(known) >= 6 ? 2u : 1u);
}

/* Appends item number i of n to a list in the style "a, b or c". */
static void list_append(char *buf, size_t len, size_t i, size_t n, const char *item)
{
    size_t used = strlen(buf);
    if (used >= len)
        return;
    const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
    snprintf(buf + used, len - used, "%s%s", sep, item);
}

static void list_ints(char *buf, size_t len, const int *choices)
{
    size_t n = 0;
    while (choices[n])
        n++;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", choices[i]);
        list_append(buf, len, i, n, num);
    }
}

static void list_names(char *buf, size_t len, const struct enum_value *values)
{
    size_t n = 0;
    while (values[n].name)
        n++;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        list_append(buf, len, i, n, values[i].name);
}

static const struct key_def *find_key(enum section_kind section, const char *name)
{
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (keys[i].section == section && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static const char *section_title(enum section_kind section)
{
    switch (section) {
    case SEC_SERVER: return "server";
    case SEC_AUDIO: return "audio";
    case SEC_CHANNEL: return "channel ID";
    case SEC_BOOTH: return "booth ID";
    default: return "";
    }
}

/* ---- value setters: each returns 0, or -1 with the problem written into problem ---- */

static int parse_long(const char *value, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (end == value || *end != '\0' || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

static int set_int(const struct key_def *key, void *field, const char *value, char *problem,
                   size_t len)
{
    long v;
    if (parse_long(value, &v) < 0) {
        snprintf(problem, len, "must be a whole number (got '%s')", value);
        return -1;
    }
    bool ok = false;
    char allowed[64];
    if (key->choices) {
        for (const int *c = key->choices; *c; c++)
            ok = ok || v == *c;
        list_ints(allowed, sizeof allowed, key->choices);
    } else {
        ok = v >= key->min && v <= key->max;
        snprintf(allowed, sizeof allowed, "between %ld and %ld", key->min, key->max);
    }
    if (!ok) {
        snprintf(problem, len, "must be %s (got %ld)%s%s", allowed, v, key->why ? "; " : "",
                 key->why ? key->why : "");
        return -1;
    }
    *(int *)field = (int)v;
    return 0;
}

static int set_string(const struct key_def *key, void *field, const char *value,
                      char *problem, size_t len)
{
    size_t n = strlen(value);
    if (n >= key->size) {
        snprintf(problem, len, "too long (at most %zu characters, got %zu)", key->size - 1, n);
        return -1;
    }
    if (n < (size_t)key->min) {
        snprintf(problem, len, "must not be empty");
        return -1;
    }
    memcpy(field, value, n + 1);
    return 0;
}

static int set_lang(const struct key_def *key, void *field, const char *value, char *problem,
                    size_t len)
{
    for (const char *s = value; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '-') {
            snprintf(problem, len, "not a language tag (got '%s'); use letters, digits and '-'"
                     " as in fr, ar or pt-BR", value);
            return -1;
        }
    }
    return set_string(key, field, value, problem, len);
}

static int set_enum(const struct key_def *key, void *field, const char *value, char *problem,
                    size_t len)
{
    for (const struct enum_value *v = key->values; v->name; v++) {
        if (strcmp(v->name, value) == 0) {
            *(int *)field = v->value;
            return 0;
        }
    }
    char allowed[128];
    list_names(allowed, sizeof allowed, key->values);
    snprintf(problem, len, "must be %s (got '%s')", allowed, value);
    return -1;
}

static bool is_host(const char *host, bool bracketed)
{
    const char *allowed = bracketed ? "0123456789abcdefABCDEF:." : "-.";
    if (*host == '\0')
        return false;
    for (; *host; host++)
        if (!(!bracketed && isalnum((unsigned char)*host)) && !strchr(allowed, *host))
            return false;
    return true;
}

/* HOST:PORT or [IPV6]:PORT; the host is stored without brackets. */
/* HOST:PORT, IPv6 in brackets, into out (outlen bytes) and *port_out. */
static int parse_listen(const char *value, char *out, size_t outlen, int *port_out,
                        char *problem, size_t len)
{
    char host[64];
    const char *colon = strrchr(value, ':');
    bool bracketed = value[0] == '[';
    const char *host_start = value + bracketed;
    const char *host_end = bracketed ? strchr(value, ']') : colon;
    long port;
    if (!colon || !host_end || (bracketed && host_end + 1 != colon) ||
        parse_long(colon + 1, &port) < 0 || (size_t)(host_end - host_start) >= outlen ||
        (size_t)(host_end - host_start) >= sizeof host) {
        snprintf(problem, len, "expected HOST:PORT such as 0.0.0.0:8080 or [::1]:8080 "
                 "(got '%s')", value);
        return -1;
    }
    memcpy(host, host_start, host_end - host_start);
    host[host_end - host_start] = '\0';
    if (!is_host(host, bracketed)) {
        snprintf(problem, len, "'%s' is not a host name or address%s", host,
                 strchr(host, ':') ? "; put IPv6 addresses in brackets: [::1]:8080" : "");
        return -1;
    }
    if (port < 1 || port > 65535) {
        snprintf(problem, len, "port must be between 1 and 65535 (got %ld)", port);
        return -1;
    }
    memcpy(out, host, strlen(host) + 1);
    *port_out = (int)port;
    return 0;
}

static int set_listen(struct tolk_config *cfg, const char *value, char *problem, size_t len)
{
    return parse_listen(value, cfg->listen_host, sizeof cfg->listen_host, &cfg->listen_port,
                        problem, len);
}

/* The optional plain-http port for listeners beside HTTPS; "" = none. */
static int set_http_listen(struct tolk_config *cfg, const char *value, char *problem, size_t len)
{
    cfg->http_host[0] = '\0';
    cfg->http_port = 0;
    if (value[0] == '\0')
        return 0;
    return parse_listen(value, cfg->http_host, sizeof cfg->http_host, &cfg->http_port, problem,
                        len);
}

/* The address of an rtp destination: numeric (the SDP carries it), IPv4 or bracketed IPv6, and
 * somewhere packets can go. */
static int check_rtp_address(const char *host, bool bracketed, char *problem, size_t len)
{
    unsigned char addr[sizeof(struct in6_addr)];
    static const unsigned char any[sizeof(struct in6_addr)];
    int family = bracketed ? AF_INET6 : AF_INET;
    if (inet_pton(family, host, addr) != 1) {
        const char *hint = "";
        if (!bracketed && strchr(host, ':'))
            hint = "; put IPv6 addresses in brackets: [ff15::1]:5004";
        else if (!bracketed && isalpha((unsigned char)host[0]))
            hint = " (names are not resolved: the SDP must carry the address)";
        snprintf(problem, len, "'%s' is not an %s address%s", host, bracketed ? "IPv6" : "IPv4",
                 hint);
        return -1;
    }
    if (memcmp(addr, any, family == AF_INET ? 4 : 16) == 0) {
        snprintf(problem, len, "%s is no destination; give the receiver's address or a "
                 "multicast group", host);
        return -1;
    }
    return 0;
}

/* "" (no RTP), ADDRESS:PORT or [IPV6]:PORT; the address is stored without brackets. */
static int set_rtp(struct tolk_channel_config *ch, const char *value, char *problem, size_t len)
{
    char host[sizeof ch->rtp_host];
    const char *colon = strrchr(value, ':');
    bool bracketed = value[0] == '[';
    const char *host_start = value + bracketed;
    const char *host_end = bracketed ? strchr(value, ']') : colon;
    long port;
    ch->rtp_host[0] = '\0';
    ch->rtp_port = 0;
    if (value[0] == '\0')
        return 0;
    if (!colon || !host_end || host_end == host_start || (bracketed && host_end + 1 != colon) ||
        parse_long(colon + 1, &port) < 0 || (size_t)(host_end - host_start) >= sizeof host) {
        snprintf(problem, len, "expected ADDRESS:PORT such as 239.1.2.3:5004 or [ff15::1]:5004, "
                 "or nothing for no RTP (got '%s')", value);
        return -1;
    }
    memcpy(host, host_start, host_end - host_start);
    host[host_end - host_start] = '\0';
    if (check_rtp_address(host, bracketed, problem, len) < 0)
        return -1;
    if (port < 2 || port > 65534 || port % 2 != 0) {
        snprintf(problem, len, "port must be even and between 2 and 65534 (got %ld): RTCP "
                 "goes to PORT+1", port);
        return -1;
    }
    memcpy(ch->rtp_host, host, strlen(host) + 1);
    ch->rtp_port = (int)port;
    return 0;
}

static int base64_digit(char c)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *at = c ? strchr(digits, c) : NULL;
    return at ? (int)(at - digits) : -1;
}

/* Standard base64 (RFC 4648), '=' padding optional. Writes up to cap bytes; returns the decoded
 * length (which may exceed cap), -1 with *bad at a character that is not base64, or -2 if the
 * text ends halfway through a byte or its padding is wrong. */
static long decode_base64(const char *text, unsigned char *out, size_t cap, size_t *bad)
{
    size_t n = strlen(text), pad = 0, used = 0;
    while (pad < 2 && n > pad && text[n - 1 - pad] == '=')
        pad++;
    n -= pad;
    for (*bad = 0; *bad < n; ++*bad)
        if (base64_digit(text[*bad]) < 0)
            return -1;
    if ((pad && (n + pad) % 4 != 0) || n % 4 == 1)
        return -2;
    unsigned bits = 0, have = 0;
    for (size_t i = 0; i < n; i++) {
        int d = base64_digit(text[i]);
        bits = (bits << 6 | (unsigned)d) & 0xFFFFFF;
        have += 6;
        if (have >= 8) {
            have -= 8;
            if (used < cap)
                out[used] = (unsigned char)(bits >> have);
            used++;
        }
    }
    return (long)used;
}

/* "" (plain RTP) or the base64 of the SRTP master key and salt. */
static int set_srtp_key(struct tolk_channel_config *ch, const char *value, char *problem,
                        size_t len)
{
    unsigned char key[TOLK_SRTP_KEY_LEN];
    ch->srtp_key[0] = '\0';
    if (value[0] == '\0')
        return 0;
    size_t bad;
    long n = decode_base64(value, key, sizeof key, &bad);
    if (n < 0) {
        if (n == -1)
            snprintf(problem, len, "not base64: '%c' at character %zu", value[bad], bad + 1);
        else
            snprintf(problem, len, "not base64: %zu characters can not end there (got '%s')",
                     strlen(value), value);
        return -1;
    }
    if (n != TOLK_SRTP_KEY_LEN || strlen(value) >= sizeof ch->srtp_key) {
        snprintf(problem, len, "decodes to %ld bytes; AES_CM_128_HMAC_SHA1_80 needs %d (16-byte "
                 "key + 14-byte salt, 40 base64 characters), e.g. from: head -c 30 /dev/urandom "
                 "| base64", n, TOLK_SRTP_KEY_LEN);
        return -1;
    }
    memcpy(ch->srtp_key_bytes, key, sizeof key);
    memcpy(ch->srtp_key, value, strlen(value) + 1);
    return 0;
}

/* file:PATH, resolved against the config file's folder; the file must exist. */
static int set_file_source(const struct parse *p, struct tolk_source_spec *spec,
                           const char *path, char *problem, size_t len)
{
    struct stat st;
    if (path[0] == '\0') {
        snprintf(problem, len, "file: needs a path, e.g. file:speech.wav");
        return -1;
    }
    int n = path[0] == '/' ? snprintf(spec->path, sizeof spec->path, "%s", path)
                           : snprintf(spec->path, sizeof spec->path, "%s/%s", p->dir, path);
    if (n < 0 || (size_t)n >= sizeof spec->path) {
        snprintf(problem, len, "file path too long");
        return -1;
    }
    if (stat(spec->path, &st) < 0) {
        snprintf(problem, len, "file %s: %s", spec->path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(problem, len, "file %s: is a folder, not a sound file", spec->path);
        return -1;
    }
    spec->kind = TOLK_SOURCE_FILE;
    return 0;
}

static int set_source(const struct parse *p, struct tolk_source_spec *spec, const char *value,
                      char *problem, size_t len)
{
    long n;
    char *end;
    memset(spec, 0, sizeof *spec);
    if (strcmp(value, "none") == 0 || strcmp(value, "demo") == 0) {
        spec->kind = value[0] == 'd' ? TOLK_SOURCE_DEMO : TOLK_SOURCE_NONE;
        return 0;
    }
    if (strncmp(value, "file:", 5) == 0)
        return set_file_source(p, spec, value + 5, problem, len);
    if (strncmp(value, "input:", 6) == 0 && parse_long(value + 6, &n) == 0) {
        if (n >= 1 && n <= 256) {
            spec->kind = TOLK_SOURCE_INPUT;
            spec->input = (int)n;
            return 0;
        }
        snprintf(problem, len, "input number must be between 1 and 256 (got %ld)", n);
        return -1;
    }
    if (strncmp(value, "tone:", 5) == 0) {
        double hz = strtod(value + 5, &end);
        if (end != value + 5 && *end == '\0' && isfinite(hz) && hz >= 20 && hz <= 20000) {
            spec->kind = TOLK_SOURCE_TONE;
            spec->tone_hz = hz;
            return 0;
        }
        snprintf(problem, len, "tone frequency must be a number between 20 and 20000 Hz "
                 "(got '%s')", value + 5);
        return -1;
    }
    snprintf(problem, len, "expected input:N, tone:HZ, file:PATH, demo or none (got '%s')",
             value);
    return -1;
}

/* A file the server reads at start (a certificate): resolved against the config file's folder
 * and checked readable now, so a wrong path is a config error, not a failed start. */
static int set_path(const struct parse *p, const struct key_def *key, char *field,
                    const char *value, char *problem, size_t len)
{
    field[0] = '\0';
    if (value[0] == '\0')
        return 0;
    int n = value[0] == '/' ? snprintf(field, key->size, "%s", value)
                            : snprintf(field, key->size, "%s/%s", p->dir, value);
    if (n < 0 || (size_t)n >= key->size) {
        snprintf(problem, len, "path too long");
        return -1;
    }
    if (access(field, R_OK) != 0) {
        snprintf(problem, len, "%s: %s", field, strerror(errno));
        return -1;
    }
    return 0;
}

/* "input:3, input:4": one source per desk. */
static int set_desks(const struct parse *p, struct tolk_booth_config *booth, const char *value,
                     char *problem, size_t len)
{
    char item[PATH_MAX + 8];
    booth->desk_count = 0;
    for (const char *next = value; *next;) {
        size_t n = strcspn(next, ",");
        const char *s = next, *end = next + n;
        next += n + (next[n] == ',');
        while (s < end && isspace((unsigned char)*s))
            s++;
        while (end > s && isspace((unsigned char)end[-1]))
            end--;
        if (booth->desk_count == TOLK_MAX_DESKS) {
            snprintf(problem, len, "too many desks (at most %d)", TOLK_MAX_DESKS);
            return -1;
        }
        snprintf(item, sizeof item, "%.*s", (int)(end - s), s);
        struct tolk_source_spec *spec = &booth->desks[booth->desk_count++];
        char why[PATH_MAX + 64] = "";
        if (set_source(p, spec, item, why, sizeof why) < 0 || spec->kind == TOLK_SOURCE_NONE) {
            snprintf(problem, len, "desk %d: %s", booth->desk_count,
                     spec->kind == TOLK_SOURCE_NONE && !why[0] ? "needs a source, e.g. input:3"
                                                               : why);
            return -1;
        }
    }
    return 0;
}

static int set_fallback(const struct key_def *key, void *field, const char *value,
                        char *problem, size_t len)
{
    if (strcmp(value, "none") == 0) {
        ((char *)field)[0] = '\0';
        return 0;
    }
    if (!is_id(value)) {
        snprintf(problem, len, "expected a channel id or none (got '%s')", value);
        return -1;
    }
    return set_string(key, field, value, problem, len);
}

/* Sets one key of the struct at base (tolk_config or tolk_channel_config) from its text. */
static int set_value(const struct parse *p, const struct key_def *key, void *base,
                     const char *value, char *problem, size_t len)
{
    void *field = (char *)base + key->offset;
    switch (key->type) {
    case KEY_INT: return set_int(key, field, value, problem, len);
    case KEY_STRING: return set_string(key, field, value, problem, len);
    case KEY_LANG: return set_lang(key, field, value, problem, len);
    case KEY_ENUM: return set_enum(key, field, value, problem, len);
    case KEY_LISTEN: return set_listen(base, value, problem, len);
    case KEY_HTTP_LISTEN: return set_http_listen(base, value, problem, len);
    case KEY_PATH: return set_path(p, key, field, value, problem, len);
    case KEY_SOURCE: return set_source(p, field, value, problem, len);
    case KEY_FALLBACK: return set_fallback(key, field, value, problem, len);
    case KEY_DESKS: return set_desks(p, base, value, problem, len);
    case KEY_RTP: return set_rtp(base, value, problem, len);
    case KEY_SRTP_KEY: return set_srtp_key(base, value, problem, len);
    }
    return -1;
}

/* Applies the table's defaults of one section to base; a failure is a bug in the table. */
static void apply_defaults(struct parse *p, enum section_kind section, void *base)
{
    char problem[PATH_MAX + 128];
    for (size_t i = 0; i < KEY_COUNT && !p->failed; i++)
        if (keys[i].section == section &&
            set_value(p, &keys[i], base, keys[i].def, problem, sizeof problem) < 0)
            fail(p, 0, section_title(section), keys[i].name, "bad built-in default: %s",
                 problem);
}

/* ---- sections ---- */

static struct tolk_channel_config *current_channel(struct parse *p)
{
    return &p->cfg->channels[p->instance - FIRST_CHANNEL_INSTANCE];
}

static void begin_channel(struct parse *p, const char *id)
{
    struct tolk_config *cfg = p->cfg;
    if (!is_id(id)) {
        fail(p, p->line, p->section_name, NULL, "bad channel id '%s': use 1 to %d letters, "
             "digits, '-' or '_', as in [channel fr]", id, TOLK_ID_MAX - 1);
        return;
    }
    int other = tolk_config_channel_index(cfg, id);
    if (other >= 0) {
        fail(p, p->line, p->section_name, NULL, "duplicate channel (first at line %d)",
             cfg->channels[other].line);
        return;
    }
    if (cfg->channel_count == TOLK_MAX_CHANNELS) {
        fail(p, p->line, p->section_name, NULL, "too many channels (at most %d)",
             TOLK_MAX_CHANNELS);
        return;
    }
    p->instance = FIRST_CHANNEL_INSTANCE + cfg->channel_count++;
    struct tolk_channel_config *ch = current_channel(p);
    apply_defaults(p, SEC_CHANNEL, ch);
    snprintf(ch->id, sizeof ch->id, "%s", id);
    snprintf(ch->name, sizeof ch->name, "%s", id);
    if (strcmp(id, "floor") == 0)
        ch->fallback[0] = '\0';
    ch->line = p->line;
}

static struct tolk_booth_config *current_booth(struct parse *p)
{
    return &p->cfg->booths[p->instance - FIRST_BOOTH_INSTANCE];
}

static void begin_booth(struct parse *p, const char *id)
{
    struct tolk_config *cfg = p->cfg;
    if (!is_id(id)) {
        fail(p, p->line, p->section_name, NULL, "bad booth id '%s': use 1 to %d letters, "
             "digits, '-' or '_', as in [booth fr]", id, TOLK_ID_MAX - 1);
        return;
    }
    int other = tolk_config_booth_index(cfg, id);
    if (other >= 0) {
        fail(p, p->line, p->section_name, NULL, "duplicate booth (first at line %d)",
             cfg->booths[other].line);
        return;
    }
    if (cfg->booth_count == TOLK_MAX_BOOTHS) {
        fail(p, p->line, p->section_name, NULL, "too many booths (at most %d)", TOLK_MAX_BOOTHS);
        return;
    }
    p->instance = FIRST_BOOTH_INSTANCE + cfg->booth_count++;
    struct tolk_booth_config *booth = current_booth(p);
    apply_defaults(p, SEC_BOOTH, booth);
    snprintf(booth->id, sizeof booth->id, "%s", id);
    snprintf(booth->name, sizeof booth->name, "%s", id);
    booth->line = p->line;
}

static void begin_fixed_section(struct parse *p, enum section_kind section)
{
    int *line = &p->section_line[section == SEC_AUDIO];
    if (*line) {
        fail(p, p->line, p->section_name, NULL, "duplicate section (first at line %d)", *line);
        return;
    }
    *line = p->line;
    p->instance = section == SEC_AUDIO;
}

static void unknown_section(struct parse *p, const char *word)
{
    static const char *const known[] = {"server", "audio", "channel", "booth"};
    const char *hint = NULL;
    for (size_t i = 0; i < sizeof known / sizeof known[0] && !hint; i++)
        if (is_typo_of(word, known[i]))
            hint = known[i];
    if (hint && strcmp(hint, "channel") == 0)
        hint = "channel ID";
    else if (hint && strcmp(hint, "booth") == 0)
        hint = "booth ID";
    fail(p, p->line, p->section_name, NULL,
         "unknown section%s%s%s; sections are [server], [audio], [channel ID] and [booth ID]",
         hint ? " (did you mean [" : "", hint ? hint : "", hint ? "]?)" : "");
}

/* Handles a "[...]" line (line points at the '[') before inih sees it; line is not changed. */
static void begin_section(struct parse *p, const char *line)
{
    char header[256];
    const char *close = strchr(line, ']');
    if (!close) {
        fail(p, p->line, NULL, NULL, "section header without its closing ']'");
        return;
    }
    snprintf(header, sizeof header, "%.*s", (int)(close - line - 1), line + 1);
    char *word = header + strspn(header, " \t");
    size_t word_len = strcspn(word, " \t");
    char *rest = word + word_len;
    rest += strspn(rest, " \t");
    for (char *end = rest + strlen(rest); end > rest && isspace((unsigned char)end[-1]);)
        *--end = '\0';
    word[word_len] = '\0';
    snprintf(p->section_name, sizeof p->section_name, "%s%s%.31s", word, *rest ? " " : "",
             rest);
    p->section = strcmp(word, "server") == 0    ? SEC_SERVER
                 : strcmp(word, "audio") == 0   ? SEC_AUDIO
                 : strcmp(word, "channel") == 0 ? SEC_CHANNEL
                 : strcmp(word, "booth") == 0   ? SEC_BOOTH
                                                : SEC_NONE;
    if (p->section == SEC_CHANNEL)
        begin_channel(p, rest);
    else if (p->section == SEC_BOOTH)
        begin_booth(p, rest);
    else if (p->section != SEC_NONE && *rest == '\0')
        begin_fixed_section(p, p->section);
    else
        unknown_section(p, word);
}

/* ---- reading: the ini_reader counts lines and takes section headers ---- */

static int next_char(struct parse *p)
{
    if (p->file) {
        int c = getc(p->file);
        if (c == EOF && ferror(p->file))
            p->read_errno = errno ? errno : EIO;
        return c;
    }
    return p->text[p->pos] ? (unsigned char)p->text[p->pos++] : EOF;
}

/* A line that is neither blank, a comment nor a section header must be "key = value"; inih
 * would also split "key: value", which is refused so that a line missing its '=' is caught. */
static void check_line(struct parse *p, const char *line)
{
    const char *sep = strpbrk(line, "=:");
    if (line[0] == '[')
        begin_section(p, line);
    else if (line[0] && !strchr(";#", line[0]) && (!sep || *sep != '='))
        fail(p, p->line, p->section == SEC_NONE ? NULL : p->section_name, NULL,
             "expected 'key = value' or a [section] header (got '%.40s')", line);
}

/* fgets-like; strips a BOM and leading blanks (so inih never joins indented lines as a
 * multi-line value) and stops the parse at the first error by returning NULL. */
static char *read_line(char *str, int num, void *stream)
{
    struct parse *p = stream;
    size_t n = 0, limit = num > 2 ? (size_t)num - 2 : 0;
    bool any = false, too_long = false;
    int c;
    if (p->failed)
        return NULL;
    while ((c = next_char(p)) != EOF && (any = true) && c != '\n') {
        if (n < limit)
            str[n++] = (char)c;
        else
            too_long = true;
    }
    if (!any)
        return NULL;
    str[n] = '\0';
    p->line++;
    char *start = str;
    if (p->line == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0)
        start += 3;
    start += strspn(start, " \t\r\f\v");
    memmove(str, start, strlen(start) + 1);
    if (too_long && !strchr(";#", str[0])) {
        fail(p, p->line, NULL, NULL, "line too long (at most %zu characters)", limit);
        return NULL;
    }
    check_line(p, str);
    return p->failed ? NULL : str;
}

static void unknown_key(struct parse *p, const char *name)
{
    const struct key_def *near = NULL, *elsewhere = NULL;
    for (size_t i = 0; i < KEY_COUNT; i++) {
        if (keys[i].section == p->section && !near && is_typo_of(name, keys[i].name))
            near = &keys[i];
        if (keys[i].section != p->section && strcmp(keys[i].name, name) == 0)
            elsewhere = &keys[i];
    }
    if (elsewhere)
        fail(p, p->line, p->section_name, name, "unknown key here (it belongs in [%s])",
             section_title(elsewhere->section));
    else if (near)
        fail(p, p->line, p->section_name, name, "unknown key (did you mean '%s'?)", near->name);
    else
        fail(p, p->line, p->section_name, name, "unknown key");
}

/* The ini_handler: one key = value of the current section. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    char problem[PATH_MAX + 128];
    if (p->failed)
        return 0;
    if (name[0] == '\0') {
        fail(p, p->line, NULL, NULL, "a key name must come before '='");
        return 0;
    }
    if (p->section == SEC_NONE) {
        fail(p, p->line, NULL, name, "outside any section; put it under [server], [audio], "
             "[channel ID] or [booth ID]");
        return 0;
    }
    const struct key_def *key = find_key(p->section, name);
    if (!key) {
        unknown_key(p, name);
        return 0;
    }
    int *line = &p->key_line[p->instance][key - keys];
    if (*line) {
        fail(p, p->line, p->section_name, name, "duplicate key (first at line %d)", *line);
        return 0;
    }
    *line = p->line;
    void *base = p->section == SEC_CHANNEL ? (void *)current_channel(p)
                 : p->section == SEC_BOOTH ? (void *)current_booth(p)
                                           : (void *)p->cfg;
    if (set_value(p, key, base, value, problem, sizeof problem) < 0)
        fail(p, p->line, p->section_name, name, "%s", problem);
    return !p->failed;
}

/* ---- checks once every channel is known (channels still in file order) ---- */

/* Line of a channel's fallback key, or of its header when the fallback is the default. */
static int fallback_line(const struct parse *p, int channel)
{
    size_t key = (size_t)(find_key(SEC_CHANNEL, "fallback") - keys);
    int line = p->key_line[FIRST_CHANNEL_INSTANCE + channel][key];
    return line ? line : p->cfg->channels[channel].line;
}

static void fail_channel(struct parse *p, int channel, const char *fmt, const char *arg)
{
    char section[TOLK_ID_MAX + 8];
    snprintf(section, sizeof section, "channel %s", p->cfg->channels[channel].id);
    fail(p, fallback_line(p, channel), section, "fallback", fmt, arg);
}

static void check_fallback_names(struct parse *p)
{
    const struct tolk_config *cfg = p->cfg;
    for (int i = 0; i < cfg->channel_count && !p->failed; i++) {
        const char *fb = cfg->channels[i].fallback;
        if (fb[0] == '\0')
            continue;
        int j = tolk_config_channel_index(cfg, fb);
        if (j < 0)
            fail_channel(p, i, "no channel '%s' in this file", fb);
        else if (j == i)
            fail_channel(p, i, "a channel can not fall back to itself ('%s')", fb);
    }
}

/* Reports the first channel, in file order, whose fallback chain comes back to it. */
static void check_fallback_cycles(struct parse *p)
{
    const struct tolk_config *cfg = p->cfg;
    for (int i = 0; i < cfg->channel_count && !p->failed; i++) {
        char chain[(TOLK_MAX_CHANNELS + 1) * (TOLK_ID_MAX + 4)];
        int n = snprintf(chain, sizeof chain, "%s", cfg->channels[i].id);
        int j = i;
        for (int step = 0; step < cfg->channel_count; step++) {
            const char *fb = cfg->channels[j].fallback;
            j = fb[0] ? tolk_config_channel_index(cfg, fb) : -1;
            if (j < 0)
                break;
            n += snprintf(chain + n, sizeof chain - n, " -> %s", fb);
            if (j == i) {
                fail_channel(p, i, "forms a cycle: %s", chain);
                break;
            }
        }
    }
}

/* Line of a booth's key, or of its header when the key was not set. */
static int booth_key_line(const struct parse *p, int booth, const char *name)
{
    size_t key = (size_t)(find_key(SEC_BOOTH, name) - keys);
    int line = p->key_line[FIRST_BOOTH_INSTANCE + booth][key];
    return line ? line : p->cfg->booths[booth].line;
}

static int source_line(const struct parse *p, int channel)
{
    size_t key = (size_t)(find_key(SEC_CHANNEL, "source") - keys);
    int line = p->key_line[FIRST_CHANNEL_INSTANCE + channel][key];
    return line ? line : p->cfg->channels[channel].line;
}

/* An outgoing channel of a booth ("a" or "b") must be a channel without a source of its own. */
static void check_booth_channel(struct parse *p, int b, const char *key, const char *id)
{
    const struct tolk_config *cfg = p->cfg;
    char section[TOLK_ID_MAX + 8];
    snprintf(section, sizeof section, "booth %s", cfg->booths[b].id);
    int line = booth_key_line(p, b, key);
    int c = tolk_config_channel_index(cfg, id);
    if (c < 0)
        fail(p, line, section, key, "no channel '%s' in this file", id);
    else if (strcmp(id, "floor") == 0)
        fail(p, line, section, key, "the floor can not be a booth's channel");
    else if (cfg->channels[c].source.kind != TOLK_SOURCE_NONE)
        fail(p, line, section, key, "channel %s has its own source (line %d); a booth's channel "
             "takes its audio from the booth's desks: set source = none there", id,
             source_line(p, c));
}

static void check_booths(struct parse *p)
{
    const struct tolk_config *cfg = p->cfg;
    for (int b = 0; b < cfg->booth_count && !p->failed; b++) {
        const struct tolk_booth_config *booth = &cfg->booths[b];
        char section[TOLK_ID_MAX + 8];
        snprintf(section, sizeof section, "booth %s", booth->id);
        if (booth->desk_count == 0)
            fail(p, booth->line, section, "desks", "missing: one source per interpreter "
                 "microphone, e.g. desks = input:3, input:4");
        else if (!booth->a[0])
            fail(p, booth->line, section, "a", "missing: the channel this booth produces");
        else
            check_booth_channel(p, b, "a", booth->a);
        if (!p->failed && booth->b[0] && strcmp(booth->a, booth->b) == 0)
            fail(p, booth_key_line(p, b, "b"), section, "b", "the same channel as a ('%s')",
                 booth->b);
        else if (!p->failed && booth->b[0])
            check_booth_channel(p, b, "b", booth->b);
    }
}

/* Line of a channel's key (by file order), or of its header when the key was not set. */
static int channel_key_line(const struct parse *p, int channel, const char *name)
{
    size_t key = (size_t)(find_key(SEC_CHANNEL, name) - keys);
    int line = p->key_line[FIRST_CHANNEL_INSTANCE + channel][key];
    return line ? line : p->cfg->channels[channel].line;
}

/* An SRTP key needs a stream to protect; two channels never share a destination. */
static void check_rtp(struct parse *p)
{
    const struct tolk_config *cfg = p->cfg;
    for (int i = 0; i < cfg->channel_count && !p->failed; i++) {
        const struct tolk_channel_config *ch = &cfg->channels[i];
        char section[TOLK_ID_MAX + 8];
        snprintf(section, sizeof section, "channel %s", ch->id);
        if (ch->srtp_key[0] && !ch->rtp_host[0])
            fail(p, channel_key_line(p, i, "srtp_key"), section, "srtp_key",
                 "set, but this channel has no rtp destination");
        for (int j = 0; j < i && !p->failed && ch->rtp_host[0]; j++)
            if (strcmp(cfg->channels[j].rtp_host, ch->rtp_host) == 0 &&
                cfg->channels[j].rtp_port == ch->rtp_port)
                fail(p, channel_key_line(p, i, "rtp"), section, "rtp",
                     "the same destination as channel %s (line %d)", cfg->channels[j].id,
                     channel_key_line(p, j, "rtp"));
    }
}

/* Checks the floor and the fallbacks, moves the floor to index 0 and resolves fallbacks. */
/* Line of a [server] key, or of the [server] header, or 1. */
static int server_key_line(const struct parse *p, const char *name)
{
    int line = p->key_line[0][find_key(SEC_SERVER, name) - keys];
    return line ? line : p->section_line[0] ? p->section_line[0] : 1;
}

static void check_tls(struct parse *p)
{
    const struct tolk_config *cfg = p->cfg;
    if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
        const char *missing = cfg->tls_cert[0] ? "tls_key" : "tls_cert";
        fail(p, server_key_line(p, cfg->tls_cert[0] ? "tls_cert" : "tls_key"), "server", missing,
             "missing: tls_cert and tls_key go together");
    } else if (cfg->http_port && !cfg->tls_cert[0]) {
        fail(p, server_key_line(p, "http_listen"), "server", "http_listen",
             "needs tls_cert and tls_key: without TLS, listen is plain http already");
    } else if (cfg->http_port == cfg->listen_port) {
        fail(p, server_key_line(p, "http_listen"), "server", "http_listen",
             "the same port as listen (%d)", cfg->listen_port);
    }
}

static void finish(struct parse *p)
{
    struct tolk_config *cfg = p->cfg;
    check_tls(p);
    if (p->failed)
        return;
    int floor = tolk_config_channel_index(cfg, "floor");
    if (floor < 0) {
        fail(p, p->line > 0 ? p->line : 1, "channel floor", NULL,
             "missing: every configuration needs the floor channel (the speaker's audio)");
        return;
    }
    check_fallback_names(p);
    check_fallback_cycles(p);
    check_booths(p);
    check_rtp(p);
    if (p->failed)
        return;
    struct tolk_channel_config moved = cfg->channels[floor];
    memmove(&cfg->channels[1], &cfg->channels[0], (size_t)floor * sizeof cfg->channels[0]);
    cfg->channels[0] = moved;
    for (int i = 0; i < cfg->channel_count; i++) {
        struct tolk_channel_config *ch = &cfg->channels[i];
        ch->fallback_index = ch->fallback[0] ? tolk_config_channel_index(cfg, ch->fallback) : -1;
    }
    for (int b = 0; b < cfg->booth_count; b++) {
        struct tolk_booth_config *booth = &cfg->booths[b];
        booth->a_index = tolk_config_channel_index(cfg, booth->a);
        booth->b_index = booth->b[0] ? tolk_config_channel_index(cfg, booth->b) : -1;
        booth->first_desk = cfg->desk_count;
        cfg->desk_count += booth->desk_count;
    }
}

/* The folder that relative file: paths are resolved against: the config file's, absolute. */
static void set_dir(struct parse *p, const char *name)
{
    const char *slash = strrchr(name, '/');
    char dir[PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == name ? 1 : (int)(slash - name), name);
    if (!realpath(dir, p->dir))
        snprintf(p->dir, sizeof p->dir, "%s", dir);
}

static int parse(struct tolk_config *cfg, const char *name, FILE *file, const char *text,
                 char *err, size_t errlen)
{
    struct parse p = {.cfg = cfg, .name = name, .file = file, .text = text, .err = err,
                      .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", name);
    set_dir(&p, name);
    apply_defaults(&p, SEC_SERVER, cfg);
    apply_defaults(&p, SEC_AUDIO, cfg);
    int rc = p.failed ? 0 : ini_parse_stream(read_line, &p, on_key, &p);
    if (p.read_errno && !p.failed) {
        fail(&p, p.line + 1, NULL, NULL, "can not read: %s", strerror(p.read_errno));
        return -p.read_errno;
    }
    if (rc != 0 && !p.failed)
        fail(&p, rc > 0 ? rc : p.line, NULL, NULL, rc == -2 ? "out of memory" : "syntax error");
    if (!p.failed)
        finish(&p);
    return p.failed ? TOLK_ECONFIG : 0;
}

int tolk_config_load(struct tolk_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        int e = errno;
        if (err && errlen)
            snprintf(err, errlen, "%s: can not open: %s", path, strerror(e));
        return -e;
    }
    int rc = parse(cfg, path, file, NULL, err, errlen);
    fclose(file);
    return rc;
}

int tolk_config_parse_string(struct tolk_config *cfg, const char *name, const char *text,
                             char *err, size_t errlen)
{
    return parse(cfg, name, NULL, text, err, errlen);
}

int tolk_config_channel_index(const struct tolk_config *cfg, const char *id)
{
    for (int i = 0; i < cfg->channel_count; i++)
        if (strcmp(cfg->channels[i].id, id) == 0)
            return i;
    return -1;
}

int tolk_config_booth_index(const struct tolk_config *cfg, const char *id)
{
    for (int i = 0; i < cfg->booth_count; i++)
        if (strcmp(cfg->booths[i].id, id) == 0)
            return i;
    return -1;
}

const char *tolk_config_booth_pin(const struct tolk_config *cfg, int booth)
{
    const char *own = cfg->booths[booth].pin;
    return own[0] ? own : cfg->booth_pin;
}

/* The accepted values of a key, as --help shows them. */
static void describe_values(const struct key_def *key, char *buf, size_t len)
{
    switch (key->type) {
    case KEY_INT:
        if (key->choices)
            list_ints(buf, len, key->choices);
        else
            snprintf(buf, len, "%ld..%ld", key->min, key->max);
        break;
    case KEY_STRING: snprintf(buf, len, "text, up to %zu bytes", key->size - 1); break;
    case KEY_LANG: snprintf(buf, len, "language tag"); break;
    case KEY_ENUM: list_names(buf, len, key->values); break;
    case KEY_LISTEN: snprintf(buf, len, "HOST:PORT"); break;
    case KEY_HTTP_LISTEN: snprintf(buf, len, "HOST:PORT or empty"); break;
    case KEY_PATH: snprintf(buf, len, "a file, or empty"); break;
    case KEY_SOURCE: snprintf(buf, len, "input:N, tone:HZ, file:PATH, demo or none"); break;
    case KEY_FALLBACK: snprintf(buf, len, "a channel id or none"); break;
    case KEY_DESKS: snprintf(buf, len, "sources, comma-separated"); break;
    case KEY_RTP: snprintf(buf, len, "ADDRESS:PORT or empty"); break;
    case KEY_SRTP_KEY: snprintf(buf, len, "base64 of 30 bytes or empty"); break;
    }
}

void tolk_config_print_keys(FILE *out)
{
    enum section_kind section = SEC_NONE;
    for (size_t i = 0; i < KEY_COUNT; i++) {
        const struct key_def *key = &keys[i];
        char values[128], shown[96];
        if (key->section != section)
            fprintf(out, "%s[%s]\n", section == SEC_NONE ? "" : "\n",
                    section_title(key->section));
        section = key->section;
        describe_values(key, values, sizeof values);
        snprintf(shown, sizeof shown, "%s", key->def_shown ? key->def_shown
                                            : key->def[0] ? key->def : "\"\"");
        fprintf(out, "  %-14s default %s; %s\n                 %s\n", key->name, shown, values,
                key->help);
    }
}
