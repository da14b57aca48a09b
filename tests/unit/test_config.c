/* Unit tests of server/config.c: defaults, channel order, fallbacks, file paths, every class of
 * error message (file, line, key and problem), and the sample configs of the repository.
 * Single-threaded. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <opus/opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "tolk/error.h"

#ifndef TOLK_SOURCE_DIR
#error "TOLK_SOURCE_DIR must name the source tree (set in tests/unit/CMakeLists.txt)"
#endif

static struct tolk_config cfg; /* large: keep it off the stack */
static char err[1024];

static int parse(const char *text)
{
    memset(err, 0, sizeof err);
    return tolk_config_parse_string(&cfg, "tolk.conf", text, err, sizeof err);
}

static void parse_ok(const char *text)
{
    int rc = parse(text);
    if (rc != 0)
        fail_msg("unexpected error %d: %s", rc, err);
}

/* The text must fail with a message that is exactly `expected`. */
static void expect_exact(const char *text, const char *expected)
{
    assert_int_equal(parse(text), TOLK_ECONFIG);
    assert_string_equal(err, expected);
}

/* The text must fail with a message that starts with prefix ("tolk.conf:LINE: [sec] key:")
 * and contains each of the NULL-terminated needles. */
static void expect_error(const char *text, const char *prefix, ...)
{
    assert_int_equal(parse(text), TOLK_ECONFIG);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("message \"%s\" does not start with \"%s\"", err, prefix);
    assert_null(strchr(err, '\n'));
    va_list ap;
    va_start(ap, prefix);
    for (const char *needle; (needle = va_arg(ap, const char *));)
        if (!strstr(err, needle))
            fail_msg("message \"%s\" lacks \"%s\"", err, needle);
    va_end(ap);
}

static void test_defaults(void **state)
{
    parse_ok("[channel floor]\n");
    assert_string_equal(cfg.path, "tolk.conf");
    assert_string_equal(cfg.listen_host, "0.0.0.0");
    assert_int_equal(cfg.listen_port, 8080);
    assert_string_equal(cfg.public_url, "");
    assert_string_equal(cfg.tech_token, "change-me");
    assert_string_equal(cfg.booth_pin, "1234");
    assert_int_equal(cfg.max_listeners, 5000);
    assert_string_equal(cfg.web_root, "");
    assert_int_equal(cfg.threads, 0);
    assert_int_equal(cfg.max_behind_ms, 1000);
    assert_string_equal(cfg.device, "default");
    assert_int_equal(cfg.sample_rate, 48000);
    assert_int_equal(cfg.frame_ms, 20);
    assert_int_equal(cfg.bitrate, 32000);
    assert_int_equal(cfg.complexity, 5);
    assert_int_equal(cfg.application, OPUS_APPLICATION_VOIP);
    assert_int_equal(cfg.channel_count, 1);
    const struct tolk_channel_config *floor = &cfg.channels[0];
    assert_string_equal(floor->id, "floor");
    assert_string_equal(floor->name, "floor");
    assert_string_equal(floor->lang, "");
    assert_int_equal(floor->source.kind, TOLK_SOURCE_NONE);
    assert_string_equal(floor->fallback, "");
    assert_int_equal(floor->fallback_index, -1);
    assert_int_equal(floor->line, 1);
    assert_int_equal(cfg.fec, 1);
    assert_string_equal(floor->rtp_host, "");
    assert_int_equal(floor->rtp_port, 0);
    assert_int_equal(floor->rtp_ttl, 1);
    assert_int_equal(floor->rtp_payload_type, 111);
    assert_string_equal(floor->srtp_key, "");
}

#define KEY40 "zgJfz8XKMbtVUn2ULJDLG9Nws8G49OIRa6HaQ4cQ" /* 30 bytes */

static void test_rtp(void **state)
{
    parse_ok("[audio]\nfec = no\n"
             "[channel floor]\nrtp = 127.0.0.1:5004\n"
             "[channel fr]\nrtp = 239.255.0.1:5006\nrtp_ttl = 0\nrtp_payload_type = 96\n"
             "srtp_key = " KEY40 "\n"
             "[channel en]\nrtp = [ff15::1]:5008\n"
             "[channel es]\nrtp =\n");
    assert_int_equal(cfg.fec, 0);
    const struct tolk_channel_config *floor = &cfg.channels[0], *fr = &cfg.channels[1],
                                     *en = &cfg.channels[2], *es = &cfg.channels[3];
    assert_string_equal(floor->rtp_host, "127.0.0.1");
    assert_int_equal(floor->rtp_port, 5004);
    assert_string_equal(floor->srtp_key, "");
    assert_string_equal(fr->rtp_host, "239.255.0.1");
    assert_int_equal(fr->rtp_port, 5006);
    assert_int_equal(fr->rtp_ttl, 0);
    assert_int_equal(fr->rtp_payload_type, 96);
    assert_string_equal(fr->srtp_key, KEY40);
    static const unsigned char key[TOLK_SRTP_KEY_LEN] = {
        0xce, 0x02, 0x5f, 0xcf, 0xc5, 0xca, 0x31, 0xbb, 0x55, 0x52, 0x7d, 0x94, 0x2c, 0x90, 0xcb,
        0x1b, 0xd3, 0x70, 0xb3, 0xc1, 0xb8, 0xf4, 0xe2, 0x11, 0x6b, 0xa1, 0xda, 0x43, 0x87, 0x10};
    assert_memory_equal(fr->srtp_key_bytes, key, sizeof key);
    assert_string_equal(en->rtp_host, "ff15::1");
    assert_int_equal(en->rtp_port, 5008);
    assert_string_equal(es->rtp_host, "");
}

static void test_error_rtp(void **state)
{
    expect_error("[channel floor]\nrtp = tolk.local:5004\n", "tolk.conf:2: [channel floor] rtp: ",
                 "'tolk.local' is not an IPv4 address", "names are not resolved", NULL);
    expect_error("[channel floor]\nrtp = 300.1.2.3:5004\n", "tolk.conf:2: [channel floor] rtp: ",
                 "'300.1.2.3' is not an IPv4 address", NULL);
    expect_error("[channel floor]\nrtp = ff15::1:5004\n", "tolk.conf:2: [channel floor] rtp: ",
                 "in brackets", NULL);
    expect_error("[channel floor]\nrtp = [ff15::g]:5004\n", "tolk.conf:2: [channel floor] rtp: ",
                 "not an IPv6 address", NULL);
    expect_error("[channel floor]\nrtp = 0.0.0.0:5004\n", "tolk.conf:2: [channel floor] rtp: ",
                 "no destination", NULL);
    expect_error("[channel floor]\nrtp = 127.0.0.1\n", "tolk.conf:2: [channel floor] rtp: ",
                 "expected ADDRESS:PORT", NULL);
    expect_error("[channel floor]\nrtp = :5004\n", "tolk.conf:2: [channel floor] rtp: ",
                 "expected ADDRESS:PORT", NULL);
    expect_error("[channel floor]\nrtp = 127.0.0.1:5005\n", "tolk.conf:2: [channel floor] rtp: ",
                 "port must be even and between 2 and 65534 (got 5005)", "PORT+1", NULL);
    expect_error("[channel floor]\nrtp = 127.0.0.1:65536\n",
                 "tolk.conf:2: [channel floor] rtp: ", "(got 65536)", NULL);
    expect_error("[channel floor]\nrtp = 127.0.0.1:0\n", "tolk.conf:2: [channel floor] rtp: ",
                 "(got 0)", NULL);
    expect_error("[channel floor]\nrtp = 127.0.0.1:x\n", "tolk.conf:2: [channel floor] rtp: ",
                 "expected ADDRESS:PORT", NULL);
    expect_error("[channel floor]\nrtp_ttl = 256\n", "tolk.conf:2: [channel floor] rtp_ttl: ",
                 "between 0 and 255", NULL);
    expect_error("[channel floor]\nrtp_payload_type = 95\n",
                 "tolk.conf:2: [channel floor] rtp_payload_type: ", "between 96 and 127", NULL);
    expect_error("[channel floor]\n[audio]\nfec = maybe\n", "tolk.conf:3: [audio] fec: ",
                 "must be yes or no (got 'maybe')", NULL);
    /* Two channels, one destination. */
    expect_error("[channel floor]\nrtp = 127.0.0.1:5004\n[channel fr]\n\nrtp = 127.0.0.1:5004\n",
                 "tolk.conf:5: [channel fr] rtp: ", "the same destination as channel floor "
                 "(line 2)", NULL);
}

static void test_error_srtp_key(void **state)
{
    const char *rtp = "[channel floor]\nrtp = 127.0.0.1:5004\n";
    char text[256];
    /* 32 bytes (a 256-bit key), 16 bytes, and one character short. */
    const char *lengths[][2] = {{"zgJfz8XKMbtVUn2ULJDLG9Nws8G49OIRa6HaQ4cQAAA=", "32 bytes"},
                                {"zgJfz8XKMbtVUn2ULJDLG9==", "16 bytes"},
                                {"zgJfz8XKMbtVUn2ULJDLG9Nws8G49OIRa6HaQ4c", "29 bytes"}};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        snprintf(text, sizeof text, "%ssrtp_key = %s\n", rtp, lengths[i][0]);
        expect_error(text, "tolk.conf:3: [channel floor] srtp_key: ", lengths[i][1],
                     "needs 30", NULL);
    }
    snprintf(text, sizeof text, "%ssrtp_key = zgJfz8XKMbtVUn2ULJD-G9Nws8G49OIRa6HaQ4cQ\n", rtp);
    expect_error(text, "tolk.conf:3: [channel floor] srtp_key: ", "not base64: '-' at character 20",
                 NULL);
    snprintf(text, sizeof text, "%ssrtp_key = zgJfz8XK MbtVUn2ULJDLG9Nws8G49OIRa6HaQ4cQ\n", rtp);
    expect_error(text, "tolk.conf:3: [channel floor] srtp_key: ", "not base64: ' ' at character 9",
                 NULL);
    snprintf(text, sizeof text, "%ssrtp_key = zgJfz8XKMbtVUn2ULJDLG9Nws8G49OIRa6HaQ4=Q\n", rtp);
    expect_error(text, "tolk.conf:3: [channel floor] srtp_key: ", "not base64: '=' at character "
                 "39", NULL);
    /* 41 characters leave 6 bits over, although 30 bytes come out of them. */
    snprintf(text, sizeof text, "%ssrtp_key = " KEY40 "A\n", rtp);
    expect_error(text, "tolk.conf:3: [channel floor] srtp_key: ", "not base64: 41 characters",
                 NULL);
    /* A key needs a stream; the message points at the key. */
    expect_error("[channel floor]\n\nsrtp_key = " KEY40 "\n",
                 "tolk.conf:3: [channel floor] srtp_key: ", "no rtp destination", NULL);
}

static const char full_text[] =
    "; a comment\n"                        /* 1 */
    "[server]\n"                           /* 2 */
    "listen = 127.0.0.1:9000\n"            /* 3 */
    "public_url = http://tolk.local:9000\n" /* 4 */
    "tech_token = s3cret\n"                /* 5 */
    "booth_pin = 9876\n"                   /* 6 */
    "max_listeners = 20000\n"              /* 7 */
    "web_root = /srv/tolk/web\n"           /* 8 */
    "threads = 2\n"                        /* 9 */
    "max_behind_ms = 200\n"                /* 10 */
    "[channel en]\n"                       /* 11 */
    "name = English\n"                     /* 12 */
    "lang = en\n"                          /* 13 */
    "source = input:2\n"                   /* 14 */
    "[audio]\n"                            /* 15 */
    "device = USB Audio\n"                 /* 16 */
    "sample_rate = 48000\n"                /* 17 */
    "frame_ms = 10\n"                      /* 18 */
    "bitrate = 64000\n"                    /* 19 */
    "complexity = 10\n"                    /* 20 */
    "application = lowdelay\n"             /* 21 */
    "[channel fr]\n"                       /* 22 */
    "name = Français\n"                    /* 23 */
    "lang = fr\n"                          /* 24 */
    "source = tone:440.5\n"                /* 25 */
    "fallback = en\n"                      /* 26 */
    "[channel floor]\n"                    /* 27 */
    "name = Floor\n"                       /* 28 */
    "source = input:1\n"                   /* 29 */
    "[channel ar]\n"                       /* 30 */
    "name = العربية\n"                     /* 31 */
    "source = demo\n"                      /* 32 */
    "fallback = none\n"                    /* 33 */
    "[channel es]\n";                      /* 34 */

static void test_full_round_trip(void **state)
{
    parse_ok(full_text);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 9000);
    assert_string_equal(cfg.public_url, "http://tolk.local:9000");
    assert_string_equal(cfg.tech_token, "s3cret");
    assert_string_equal(cfg.booth_pin, "9876");
    assert_int_equal(cfg.max_listeners, 20000);
    assert_string_equal(cfg.web_root, "/srv/tolk/web");
    assert_int_equal(cfg.threads, 2);
    assert_int_equal(cfg.max_behind_ms, 200);
    assert_string_equal(cfg.device, "USB Audio");
    assert_int_equal(cfg.frame_ms, 10);
    assert_int_equal(cfg.bitrate, 64000);
    assert_int_equal(cfg.complexity, 10);
    assert_int_equal(cfg.application, OPUS_APPLICATION_RESTRICTED_LOWDELAY);

    /* The floor moves to 0; the others keep file order. */
    assert_int_equal(cfg.channel_count, 5);
    const char *order[] = {"floor", "en", "fr", "ar", "es"};
    const int lines[] = {27, 11, 22, 30, 34};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(cfg.channels[i].id, order[i]);
        assert_int_equal(cfg.channels[i].line, lines[i]);
        assert_int_equal(tolk_config_channel_index(&cfg, order[i]), i);
    }
    assert_int_equal(tolk_config_channel_index(&cfg, "de"), -1);

    const struct tolk_channel_config *floor = &cfg.channels[0], *en = &cfg.channels[1],
                                     *fr = &cfg.channels[2], *ar = &cfg.channels[3],
                                     *es = &cfg.channels[4];
    assert_string_equal(floor->name, "Floor");
    assert_int_equal(floor->source.kind, TOLK_SOURCE_INPUT);
    assert_int_equal(floor->source.input, 1);
    assert_int_equal(floor->fallback_index, -1);
    assert_string_equal(en->name, "English");
    assert_string_equal(en->lang, "en");
    assert_int_equal(en->source.input, 2);
    assert_string_equal(en->fallback, "floor");
    assert_int_equal(en->fallback_index, 0);
    assert_string_equal(fr->name, "Français");
    assert_int_equal(fr->source.kind, TOLK_SOURCE_TONE);
    assert_true(fr->source.tone_hz == 440.5);
    assert_string_equal(fr->fallback, "en");
    assert_int_equal(fr->fallback_index, 1);
    assert_string_equal(ar->name, "العربية");
    assert_int_equal(ar->source.kind, TOLK_SOURCE_DEMO);
    assert_string_equal(ar->fallback, "");
    assert_int_equal(ar->fallback_index, -1);
    assert_string_equal(es->name, "es"); /* the name defaults to the id */
    assert_int_equal(es->source.kind, TOLK_SOURCE_NONE);
    assert_int_equal(es->fallback_index, 0);
}

static void test_syntax_variants(void **state)
{
    /* A BOM, CRLF, indentation, inline comments, ':' as separator and IPv6. */
    parse_ok("\xEF\xBB\xBF[server]\r\n"
             "   listen = [::1]:8443   ; loopback only\r\n"
             "\tbooth_pin = 4321\r\n"
             "# hash comment\r\n"
             "  [ audio ]\r\n"
             "application = audio\r\n"
             "[channel   floor  ]\r\n");
    assert_string_equal(cfg.listen_host, "::1");
    assert_int_equal(cfg.listen_port, 8443);
    assert_string_equal(cfg.booth_pin, "4321");
    assert_int_equal(cfg.application, OPUS_APPLICATION_AUDIO);
    assert_string_equal(cfg.channels[0].id, "floor");

    parse_ok("[server]\nlisten = [::]:80\n[channel floor]\n");
    assert_string_equal(cfg.listen_host, "::");
    parse_ok("[server]\nlisten = tolk.local:8080\n[channel floor]\n");
    assert_string_equal(cfg.listen_host, "tolk.local");
}

static void test_fallback_chain_resolved(void **state)
{
    parse_ok("[channel fr]\nfallback = en\n[channel en]\nfallback = floor\n"
             "[channel floor]\n[channel es]\nfallback = fr\n");
    assert_int_equal(cfg.channels[0].fallback_index, -1);
    int fr = tolk_config_channel_index(&cfg, "fr"), en = tolk_config_channel_index(&cfg, "en"),
        es = tolk_config_channel_index(&cfg, "es");
    assert_int_equal(fr, 1);
    assert_int_equal(en, 2);
    assert_int_equal(es, 3);
    assert_int_equal(cfg.channels[fr].fallback_index, en);
    assert_int_equal(cfg.channels[en].fallback_index, 0);
    assert_int_equal(cfg.channels[es].fallback_index, fr);
}

/* A temporary folder with a config file in it; removed by the test. */
struct tmpdir {
    char dir[PATH_MAX];
    char conf[PATH_MAX + 16];
    char sub[PATH_MAX + 16];
    char wav[PATH_MAX + 32];
};

static void make_tmpdir(struct tmpdir *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/tolk-test-config-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    char *real = realpath(t->dir, NULL);
    assert_non_null(real);
    snprintf(t->dir, sizeof t->dir, "%s", real);
    free(real);
    snprintf(t->conf, sizeof t->conf, "%s/test.conf", t->dir);
    snprintf(t->sub, sizeof t->sub, "%s/sounds", t->dir);
    snprintf(t->wav, sizeof t->wav, "%s/sounds/speech.wav", t->dir);
    assert_int_equal(mkdir(t->sub, 0700), 0);
    FILE *f = fopen(t->wav, "w");
    assert_non_null(f);
    fputs("not really a wav; only its existence is checked", f);
    fclose(f);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_tmpdir(struct tmpdir *t)
{
    unlink(t->wav);
    rmdir(t->sub);
    unlink(t->conf);
    rmdir(t->dir);
}

static void test_file_paths(void **state)
{
    struct tmpdir t;
    make_tmpdir(&t);
    char text[PATH_MAX * 2];

    /* A relative path is resolved against the config file's folder, not the working one. */
    write_file(t.conf, "[channel floor]\nsource = file:sounds/speech.wav\n");
    assert_int_equal(chdir("/"), 0);
    int rc = tolk_config_load(&cfg, t.conf, err, sizeof err);
    if (rc != 0)
        fail_msg("load: %s", err);
    assert_int_equal(cfg.channels[0].source.kind, TOLK_SOURCE_FILE);
    assert_string_equal(cfg.channels[0].source.path, t.wav);
    assert_string_equal(cfg.path, t.conf);

    /* An absolute path stays. */
    snprintf(text, sizeof text, "[channel floor]\nsource = file:%s\n", t.wav);
    write_file(t.conf, text);
    assert_int_equal(tolk_config_load(&cfg, t.conf, err, sizeof err), 0);
    assert_string_equal(cfg.channels[0].source.path, t.wav);

    /* A file that does not exist: named in full, at the line of the key. */
    write_file(t.conf, "[channel floor]\n\nsource = file:sounds/missing.wav\n");
    assert_int_equal(tolk_config_load(&cfg, t.conf, err, sizeof err), TOLK_ECONFIG);
    char prefix[2 * PATH_MAX + 128];
    snprintf(prefix, sizeof prefix, "%s:3: [channel floor] source: file %s/sounds/missing.wav: ",
             t.conf, t.dir);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("message \"%s\" does not start with \"%s\"", err, prefix);
    assert_non_null(strstr(err, "No such file"));

    /* A folder is not a sound file. */
    write_file(t.conf, "[channel floor]\nsource = file:sounds\n");
    assert_int_equal(tolk_config_load(&cfg, t.conf, err, sizeof err), TOLK_ECONFIG);
    assert_non_null(strstr(err, ":2: [channel floor] source: "));
    assert_non_null(strstr(err, "folder"));

    remove_tmpdir(&t);
}

static void test_load_missing_file(void **state)
{
    int rc = tolk_config_load(&cfg, "/nonexistent/tolk.conf", err, sizeof err);
    assert_int_equal(rc, -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/tolk.conf"));
    assert_non_null(strstr(err, "No such file"));
}

static void test_error_examples(void **state)
{
    /* The two examples of the specification, to the letter. */
    expect_exact("[channel floor]\n[audio]\nframe_ms = 15\n",
                 "tolk.conf:3: [audio] frame_ms: must be 10 or 20 (got 15)");
    expect_exact("[server]\nlistn = 0.0.0.0:80\n",
                 "tolk.conf:2: [server] listn: unknown key (did you mean 'listen'?)");
}

static void test_error_unknown_keys(void **state)
{
    expect_error("[channel floor]\ncolour = red\n", "tolk.conf:2: [channel floor] colour: ",
                 "unknown key", NULL);
    assert_null(strstr(err, "did you mean"));
    expect_error("[audio]\nbitrat = 1\n", "tolk.conf:2: [audio] bitrat: ",
                 "did you mean 'bitrate'?", NULL);
    expect_error("[channel floor]\n[channel fr]\nfallbak = floor\n",
                 "tolk.conf:3: [channel fr] fallbak: ", "did you mean 'fallback'?", NULL);
    expect_error("[server]\nframe_ms = 20\n", "tolk.conf:2: [server] frame_ms: ",
                 "belongs in [audio]", NULL);
    expect_error("listen = 0.0.0.0:80\n[channel floor]\n", "tolk.conf:1: listen: ",
                 "outside any section", NULL);
}

static void test_error_sections(void **state)
{
    expect_error("[channel floor]\n\n[sever]\n", "tolk.conf:3: [sever]: ", "unknown section",
                 "did you mean [server]?", NULL);
    expect_error("[chanel fr]\n", "tolk.conf:1: [chanel fr]: ", "unknown section",
                 "[channel ID]", NULL);
    expect_error("[network]\n", "tolk.conf:1: [network]: ", "unknown section", NULL);
    assert_null(strstr(err, "did you mean"));
    expect_error("[server extra]\n", "tolk.conf:1: [server extra]: ", "unknown section", NULL);
    expect_error("[server]\n[audio]\n[server]\n", "tolk.conf:3: [server]: ",
                 "duplicate section (first at line 1)", NULL);
    expect_error("[server\n", "tolk.conf:1: ", "closing ']'", NULL);
    expect_error("[channel floor]\n[channel fr]\nname = A\n[channel fr]\n",
                 "tolk.conf:4: [channel fr]: ", "duplicate channel (first at line 2)", NULL);
    expect_error("[channel f/r]\n", "tolk.conf:1: [channel f/r]: ", "bad channel id 'f/r'",
                 NULL);
    expect_error("[channel]\n", "tolk.conf:1: [channel]: ", "bad channel id ''", NULL);
    expect_error("[channel a234567890123456789012345678901b]\n", "tolk.conf:1: ",
                 "bad channel id 'a234567890123456789012345678901b'", NULL);
    /* 31 characters is the longest id. */
    parse_ok("[channel floor]\n[channel a23456789012345678901234567890b]\n");
    assert_string_equal(cfg.channels[1].id, "a23456789012345678901234567890b");
}

#define BOOTH_CHANNELS "[channel floor]\nsource = demo\n[channel fr]\n[channel en]\n"

static void test_booths(void **state)
{
    parse_ok(BOOTH_CHANNELS "[booth fr]\nname = Cabine\ndesks = input:3 , tone:500,demo\n"
             "a = fr\nb = en\npin = 42\nrelay_peak_dbfs = -12\n[booth en]\ndesks = input:5\n"
             "a = en\n");
    assert_int_equal(cfg.booth_count, 2);
    const struct tolk_booth_config *fr = &cfg.booths[0];
    assert_string_equal(fr->id, "fr");
    assert_string_equal(fr->name, "Cabine");
    assert_int_equal(fr->desk_count, 3);
    assert_int_equal(fr->desks[0].kind, TOLK_SOURCE_INPUT);
    assert_int_equal(fr->desks[0].input, 3);
    assert_int_equal(fr->desks[1].kind, TOLK_SOURCE_TONE);
    assert_true(fr->desks[1].tone_hz == 500);
    assert_int_equal(fr->desks[2].kind, TOLK_SOURCE_DEMO);
    assert_int_equal(fr->a_index, 1);
    assert_int_equal(fr->b_index, 2);
    assert_int_equal(fr->relay_peak_dbfs, -12);
    assert_int_equal(fr->relay_average_dbfs, -20);
    assert_string_equal(tolk_config_booth_pin(&cfg, 0), "42");
    assert_string_equal(tolk_config_booth_pin(&cfg, 1), "1234");
    assert_string_equal(cfg.booths[1].name, "en");
    assert_int_equal(cfg.booths[1].b_index, -1);
    assert_int_equal(tolk_config_booth_index(&cfg, "en"), 1);
    assert_int_equal(tolk_config_booth_index(&cfg, "es"), -1);
}

static void test_error_booths(void **state)
{
    expect_error(BOOTH_CHANNELS "[booth fr]\na = fr\n", "tolk.conf:5: [booth fr] desks: ",
                 "missing", NULL);
    expect_error(BOOTH_CHANNELS "[booth fr]\ndesks = input:3\n", "tolk.conf:5: [booth fr] a: ",
                 "missing", NULL);
    expect_error(BOOTH_CHANNELS "[booth fr]\ndesks = input:3, none\n",
                 "tolk.conf:6: [booth fr] desks: ", "desk 2: needs a source", NULL);
    expect_error(BOOTH_CHANNELS "[booth fr]\ndesks = input:3,,input:4\n",
                 "tolk.conf:6: [booth fr] desks: ", "desk 2: expected input:N", NULL);
    expect_error(BOOTH_CHANNELS "[booth fr]\ndesks = input:3, tone:5\n",
                 "tolk.conf:6: [booth fr] desks: ", "desk 2: tone frequency", NULL);
    expect_error(BOOTH_CHANNELS "[booth fr]\ndesks = a,b,c,d,e,f,g\n",
                 "tolk.conf:6: [booth fr] desks: ", "desk 1: expected", NULL);
    expect_error(BOOTH_CHANNELS "[booth fr]\ndesks = demo,demo,demo,demo,demo,demo,demo\n",
                 "tolk.conf:6: [booth fr] desks: ", "too many desks (at most 6)", NULL);
    expect_error(BOOTH_CHANNELS "[booth fr]\ndesks = demo\na = de\n",
                 "tolk.conf:7: [booth fr] a: ", "no channel 'de'", NULL);
    expect_error(BOOTH_CHANNELS "[booth fr]\ndesks = demo\na = floor\n",
                 "tolk.conf:7: [booth fr] a: ", "the floor can not", NULL);
    expect_error(BOOTH_CHANNELS "[booth fr]\ndesks = demo\na = fr\nb = fr\n",
                 "tolk.conf:8: [booth fr] b: ", "the same channel as a", NULL);
    expect_error("[channel floor]\n[channel fr]\nsource = demo\n[booth fr]\ndesks = demo\n"
                 "a = fr\n", "tolk.conf:6: [booth fr] a: ", "channel fr has its own source "
                 "(line 3)", "set source = none", NULL);
    expect_error(BOOTH_CHANNELS "[booth fr]\ndesks = demo\na = fr\n[booth fr]\n",
                 "tolk.conf:8: [booth fr]: ", "duplicate booth (first at line 5)", NULL);
    expect_error(BOOTH_CHANNELS "[booth f r]\n", "tolk.conf:5: [booth f r]: ", "bad booth id",
                 NULL);
    expect_error(BOOTH_CHANNELS "[booth fr]\nrelay_peak_dbfs = 3\n",
                 "tolk.conf:6: [booth fr] relay_peak_dbfs: ", "between -60 and 0", NULL);
    expect_error("[boot fr]\n", "tolk.conf:1: [boot fr]: ", "did you mean [booth ID]?", NULL);
    expect_error(BOOTH_CHANNELS "[booth fr]\nsource = demo\n",
                 "tolk.conf:6: [booth fr] source: ", "it belongs in [channel ID]", NULL);
}

static void test_error_missing_floor(void **state)
{
    expect_error("[server]\n[channel en]\nsource = demo\n", "tolk.conf:3: [channel floor]: ",
                 "missing", NULL);
    expect_error("", "tolk.conf:1: [channel floor]: ", "missing", NULL);
}

static void test_error_too_many_channels(void **state)
{
    char text[4096] = "[channel floor]\n";
    for (int i = 1; i <= TOLK_MAX_CHANNELS; i++) {
        size_t used = strlen(text);
        snprintf(text + used, sizeof text - used, "[channel c%d]\n", i);
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "tolk.conf:%d: [channel c%d]: ", TOLK_MAX_CHANNELS + 1,
             TOLK_MAX_CHANNELS);
    expect_error(text, prefix, "too many channels (at most 32)", NULL);

    /* One fewer is fine. */
    *strstr(text, "[channel c32]") = '\0';
    parse_ok(text);
    assert_int_equal(cfg.channel_count, TOLK_MAX_CHANNELS);
}

static void test_error_duplicate_key(void **state)
{
    expect_error("[channel floor]\n[audio]\nbitrate = 32000\n; again\nbitrate = 64000\n",
                 "tolk.conf:5: [audio] bitrate: ", "duplicate key (first at line 3)", NULL);
    expect_error("[channel floor]\nname = a\nname = b\n", "tolk.conf:3: [channel floor] name: ",
                 "duplicate key (first at line 2)", NULL);
    /* The same key in two channels is not a duplicate. */
    parse_ok("[channel floor]\nname = a\n[channel en]\nname = b\n");
}

static void test_error_numbers(void **state)
{
    expect_error("[server]\nmax_listeners = lots\n", "tolk.conf:2: [server] max_listeners: ",
                 "must be a whole number (got 'lots')", NULL);
    expect_error("[server]\nthreads = 4x\n", "tolk.conf:2: [server] threads: ",
                 "whole number", NULL);
    expect_error("[server]\nthreads =\n", "tolk.conf:2: [server] threads: ", "whole number",
                 NULL);
    expect_error("[server]\nmax_listeners = 20001\n", "tolk.conf:2: [server] max_listeners: ",
                 "must be between 1 and 20000 (got 20001)", NULL);
    expect_error("[server]\nmax_listeners = 0\n", "tolk.conf:2: [server] max_listeners: ",
                 "between 1 and 20000 (got 0)", NULL);
    expect_error("[server]\nthreads = -1\n", "tolk.conf:2: [server] threads: ",
                 "between 0 and 64 (got -1)", NULL);
    expect_error("[server]\nmax_behind_ms = 199\n", "tolk.conf:2: [server] max_behind_ms: ",
                 "between 200 and 10000", NULL);
    expect_error("[audio]\nbitrate = 5999\n", "tolk.conf:2: [audio] bitrate: ",
                 "between 6000 and 510000 (got 5999)", NULL);
    expect_error("[audio]\ncomplexity = 11\n", "tolk.conf:2: [audio] complexity: ",
                 "between 0 and 10", NULL);
    expect_error("[audio]\nbitrate = 99999999999999999999\n", "tolk.conf:2: [audio] bitrate: ",
                 "whole number", NULL);
    expect_error("[audio]\nsample_rate = 44100\n", "tolk.conf:2: [audio] sample_rate: ",
                 "must be 48000 (got 44100)", "only 48000 is supported for now", NULL);
    expect_error("[audio]\napplication = music\n", "tolk.conf:2: [audio] application: ",
                 "must be voip, audio or lowdelay (got 'music')", NULL);
}

static void test_error_strings(void **state)
{
    expect_error("[server]\nbooth_pin = 0123456789012345678901234567890123456789\n",
                 "tolk.conf:2: [server] booth_pin: ", "too long (at most 31 characters", NULL);
    expect_error("[server]\ntech_token =\n", "tolk.conf:2: [server] tech_token: ",
                 "must not be empty", NULL);
    expect_error("[channel floor]\nlang = en us\n", "tolk.conf:2: [channel floor] lang: ",
                 "not a language tag (got 'en us')", NULL);
}

static void test_error_listen(void **state)
{
    expect_error("[server]\nlisten = 8080\n", "tolk.conf:2: [server] listen: ",
                 "expected HOST:PORT", NULL);
    expect_error("[server]\nlisten = ::1:8080\n", "tolk.conf:2: [server] listen: ",
                 "in brackets", NULL);
    expect_error("[server]\nlisten = 0.0.0.0:70000\n", "tolk.conf:2: [server] listen: ",
                 "port must be between 1 and 65535 (got 70000)", NULL);
    expect_error("[server]\nlisten = [::1]\n", "tolk.conf:2: [server] listen: ",
                 "expected HOST:PORT", NULL);
    expect_error("[server]\nlisten = :8080\n", "tolk.conf:2: [server] listen: ",
                 "not a host", NULL);
}

static void test_error_sources(void **state)
{
    const char *bad[] = {"mic:1", "input:x", "Demo", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[channel floor]\nsource = %s\n", bad[i]);
        expect_error(text, "tolk.conf:2: [channel floor] source: ",
                     "expected input:N, tone:HZ, file:PATH, demo or none", NULL);
    }
    expect_error("[channel floor]\nsource = input:0\n", "tolk.conf:2: [channel floor] source: ",
                 "input number must be between 1 and 256 (got 0)", NULL);
    expect_error("[channel floor]\nsource = tone:19\n", "tolk.conf:2: [channel floor] source: ",
                 "between 20 and 20000", NULL);
    expect_error("[channel floor]\nsource = tone:loud\n",
                 "tolk.conf:2: [channel floor] source: ", "(got 'loud')", NULL);
    expect_error("[channel floor]\nsource = file:\n", "tolk.conf:2: [channel floor] source: ",
                 "needs a path", NULL);
}

static void test_error_fallbacks(void **state)
{
    expect_error("[channel floor]\n[channel fr]\nname = Français\nfallback = de\n",
                 "tolk.conf:4: [channel fr] fallback: ", "no channel 'de'", NULL);
    expect_error("[channel floor]\n[channel fr]\nfallback = fr\n",
                 "tolk.conf:3: [channel fr] fallback: ", "itself", NULL);
    expect_error("[channel floor]\nfallback = floor\n",
                 "tolk.conf:2: [channel floor] fallback: ", "itself", NULL);
    expect_error("[channel floor]\n[channel fr]\nfallback = no/such\n",
                 "tolk.conf:3: [channel fr] fallback: ", "expected a channel id or none", NULL);
    /* A cycle is reported at the fallback line of its first channel in the file. */
    expect_error("[channel floor]\n[channel en]\nfallback = fr\n[channel fr]\nfallback = en\n",
                 "tolk.conf:3: [channel en] fallback: ", "forms a cycle: en -> fr -> en", NULL);
    /* ... even when it passes through a default fallback. */
    expect_error("[channel en]\n[channel floor]\nsource = demo\nfallback = en\n",
                 "tolk.conf:1: [channel en] fallback: ", "forms a cycle: en -> floor -> en",
                 NULL);
    /* A chain into a cycle is reported at the cycle. */
    expect_error("[channel floor]\n[channel es]\nfallback = en\n[channel en]\nfallback = fr\n"
                 "[channel fr]\nfallback = en\n",
                 "tolk.conf:5: [channel en] fallback: ", "forms a cycle: en -> fr -> en", NULL);
}

static void test_error_syntax(void **state)
{
    expect_error("[server]\nlisten 0.0.0.0:80\n", "tolk.conf:2: [server]: ",
                 "expected 'key = value'", NULL);
    expect_error("[server]\nbooth_pin: 5\n", "tolk.conf:2: [server]: ",
                 "expected 'key = value'", NULL);
    expect_error("[server]\n= 5\n", "tolk.conf:2: ", "key name", NULL);
    char text[512];
    snprintf(text, sizeof text, "[server]\npublic_url = http://%0300d\n", 0);
    expect_error(text, "tolk.conf:2: ", "line too long", NULL);
    /* A long comment is no error. */
    snprintf(text, sizeof text, "; %0300d\n[channel floor]\n", 0);
    parse_ok(text);
}

static void test_first_error_only(void **state)
{
    expect_error("[channel floor]\n[audio]\nframe_ms = 15\nbitrate = 1\n[bad]\n",
                 "tolk.conf:3: [audio] frame_ms: ", "10 or 20", NULL);
    assert_null(strstr(err, "bitrate"));
}

static void test_repo_sample_config(void **state)
{
    int rc = tolk_config_load(&cfg, TOLK_SOURCE_DIR "/config/tolk.conf", err, sizeof err);
    if (rc != 0)
        fail_msg("config/tolk.conf: %s", err);
    assert_string_equal(cfg.listen_host, "0.0.0.0");
    assert_int_equal(cfg.listen_port, 8080);
    const char *ids[] = {"floor", "en", "fr", "es", "ar"};
    const char *names[] = {"Floor", "English", "Français", "Español", "العربية"};
    assert_int_equal(cfg.channel_count, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(cfg.channels[i].id, ids[i]);
        assert_string_equal(cfg.channels[i].name, names[i]);
        assert_string_equal(cfg.channels[i].lang, i == 0 ? "" : ids[i]);
        assert_int_equal(cfg.channels[i].source.kind, i == 0 ? TOLK_SOURCE_DEMO
                                                              : TOLK_SOURCE_NONE);
        assert_int_equal(cfg.channels[i].fallback_index, i == 0 ? -1 : 0);
    }
    /* Every language has a booth of two demo desks. */
    assert_int_equal(cfg.booth_count, 4);
    for (int b = 0; b < 4; b++) {
        assert_int_equal(cfg.booths[b].a_index, tolk_config_channel_index(&cfg, ids[b + 1]));
        assert_int_equal(cfg.booths[b].desk_count, 2);
        assert_int_equal(cfg.booths[b].desks[1].kind, TOLK_SOURCE_DEMO);
        assert_string_equal(tolk_config_booth_pin(&cfg, b), "1234");
    }
}

static void test_repo_venue_config(void **state)
{
    int rc = tolk_config_load(&cfg, TOLK_SOURCE_DIR "/config/venue-example.conf", err,
                              sizeof err);
    if (rc != 0)
        fail_msg("config/venue-example.conf: %s", err);
    const char *ids[] = {"floor", "ar", "en", "fr", "es"};
    assert_int_equal(cfg.channel_count, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(cfg.channels[i].id, ids[i]);
        assert_int_equal(cfg.channels[i].source.kind, i == 0 ? TOLK_SOURCE_INPUT
                                                              : TOLK_SOURCE_NONE);
        assert_int_equal(cfg.channels[i].fallback_index, i == 0 ? -1 : 0);
    }
    /* Four booths of two desks on inputs 2..9, each producing its language. */
    assert_int_equal(cfg.booth_count, 4);
    for (int b = 0; b < 4; b++) {
        assert_int_equal(cfg.booths[b].a_index, b + 1);
        assert_int_equal(cfg.booths[b].desks[0].input, 2 + 2 * b);
        assert_int_equal(cfg.booths[b].desks[1].input, 3 + 2 * b);
    }
    assert_int_equal(cfg.booths[0].b_index, 2);
    assert_string_equal(tolk_config_booth_pin(&cfg, 0), "4821");
}

/* Every key that --help lists is set, uncommented, in config/tolk.conf (the user's manual). */
static void test_sample_config_shows_every_key(void **state)
{
    char *help = NULL;
    size_t help_len = 0;
    FILE *out = open_memstream(&help, &help_len);
    assert_non_null(out);
    tolk_config_print_keys(out);
    fclose(out);
    assert_non_null(strstr(help, "[audio]"));
    assert_non_null(strstr(help, "10 or 20"));
    assert_non_null(strstr(help, "voip, audio or lowdelay"));
    assert_non_null(strstr(help, "1..20000"));
    assert_non_null(strstr(help, "0.0.0.0:8080"));

    FILE *f = fopen(TOLK_SOURCE_DIR "/config/tolk.conf", "r");
    assert_non_null(f);
    static char conf[65536];
    size_t conf_len = fread(conf, 1, sizeof conf - 1, f);
    conf[conf_len] = '\0';
    fclose(f);

    int keys = 0;
    for (char *line = strtok(help, "\n"); line; line = strtok(NULL, "\n")) {
        char key[64], wanted[80];
        if (strncmp(line, "  ", 2) != 0 || line[2] == ' ' || sscanf(line, " %63s", key) != 1)
            continue;
        keys++;
        snprintf(wanted, sizeof wanted, "\n%s =", key);
        if (!strstr(conf, wanted))
            fail_msg("config/tolk.conf does not set '%s'", key);
    }
    free(help);
    assert_int_equal(keys, 36);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_round_trip),
        cmocka_unit_test(test_syntax_variants),
        cmocka_unit_test(test_fallback_chain_resolved),
        cmocka_unit_test(test_rtp),
        cmocka_unit_test(test_error_rtp),
        cmocka_unit_test(test_error_srtp_key),
        cmocka_unit_test(test_file_paths),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_error_examples),
        cmocka_unit_test(test_error_unknown_keys),
        cmocka_unit_test(test_error_sections),
        cmocka_unit_test(test_booths),
        cmocka_unit_test(test_error_booths),
        cmocka_unit_test(test_error_missing_floor),
        cmocka_unit_test(test_error_too_many_channels),
        cmocka_unit_test(test_error_duplicate_key),
        cmocka_unit_test(test_error_numbers),
        cmocka_unit_test(test_error_strings),
        cmocka_unit_test(test_error_listen),
        cmocka_unit_test(test_error_sources),
        cmocka_unit_test(test_error_fallbacks),
        cmocka_unit_test(test_error_syntax),
        cmocka_unit_test(test_first_error_only),
        cmocka_unit_test(test_repo_sample_config),
        cmocka_unit_test(test_repo_venue_config),
        cmocka_unit_test(test_sample_config_shows_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
