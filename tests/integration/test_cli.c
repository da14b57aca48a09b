/* integration.cli: tolk-server's command line.
 *
 * --check-config accepts a good config (exit 0) and refuses bad ones (unknown key, bad
 * frame_ms, fallback to an unknown channel, missing file) with a non-zero exit and a message
 * naming the file, the line and the key; the same bad config also stops a normal start before
 * anything listens. --help, --version and --list-devices exit 0. Usage: SERVER. Main thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const char *server;

static char *const no_jack_env[] = {"JACK_NO_START_SERVER=1", NULL};

struct bad_case {
    const char *name;
    const char *text; /* %d: the port */
    int line;         /* where the problem is */
    const char *key;
};

static const struct bad_case bad_cases[] = {
    {"unknown_key",
     "[server]\nlisten = 127.0.0.1:%d\n; a comment\nlisten_bogus = 1\n[channel floor]\n"
     "source = tone:440\n",
     4, "listen_bogus"},
    {"bad_frame_ms",
     "[server]\nlisten = 127.0.0.1:%d\n[audio]\nbitrate = 32000\nframe_ms = 15\n"
     "[channel floor]\nsource = tone:440\n",
     5, "frame_ms"},
    {"unknown_fallback",
     "[server]\nlisten = 127.0.0.1:%d\n[channel floor]\nsource = tone:440\n\n[channel fr]\n"
     "lang = fr\nsource = tone:880\nfallback = xx\n",
     9, "fallback"},
};

static int run(const char *a1, const char *a2, const char *a3, char **out, char **err)
{
    char *argv[] = {(char *)server, (char *)a1, (char *)a2, (char *)a3, NULL};
    return tolk_harness_run(argv, no_jack_env, 30000, out, err);
}

static void check_good(int port)
{
    char conf[512], text[512];
    snprintf(text, sizeof text,
             "[server]\nlisten = 127.0.0.1:%d\n[audio]\nframe_ms = 10\n[channel floor]\n"
             "source = tone:440\n[channel fr]\nlang = fr\nsource = tone:880\n",
             port);
    TOLK_CHECK(tolk_harness_write_file("good.conf", text, conf, sizeof conf) == 0, "write");
    char *out = NULL, *err = NULL;
    int rc = run("-c", conf, "--check-config", &out, &err);
    TOLK_CHECK(rc == 0, "--check-config on a good config: exit %d, stderr: %s", rc, err);
    tolk_harness_note("good config: exit 0, says: %s", out);
    /* It only checks: nothing may be left listening on the port. */
    int fd = tolk_harness_tcp_connect(port, 500);
    TOLK_CHECK(fd < 0, "--check-config left something listening on port %d", port);
    free(out);
    free(err);
}

static void check_bad(const struct bad_case *b, int port)
{
    char conf[512], text[512], fname[64], want_line[600];
    snprintf(text, sizeof text, b->text, port);
    snprintf(fname, sizeof fname, "%s.conf", b->name);
    TOLK_CHECK(tolk_harness_write_file(fname, text, conf, sizeof conf) == 0, "write");
    snprintf(want_line, sizeof want_line, "%s:%d", conf, b->line);
    for (int mode = 0; mode < 2; mode++) {
        char *err = NULL;
        int rc = mode == 0 ? run("-c", conf, "--check-config", NULL, &err)
                           : run("-c", conf, NULL, NULL, &err);
        const char *how = mode == 0 ? "--check-config" : "a normal start";
        tolk_harness_note("%s, %s: exit %d: %s", b->name, how, rc, err);
        TOLK_CHECK(rc != 0, "%s: %s exits 0 on a bad config", b->name, how);
        TOLK_CHECK(err && strstr(err, want_line), "%s: %s: stderr does not name %s: %s", b->name,
                   how, want_line, err);
        TOLK_CHECK(strstr(err, b->key), "%s: %s: stderr does not name the key %s: %s", b->name,
                   how, b->key, err);
        free(err);
        int fd = tolk_harness_tcp_connect(port, 500);
        TOLK_CHECK(fd < 0, "%s: a bad config left something listening on port %d", b->name, port);
    }
}

static void check_missing_file(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/does-not-exist.conf", tolk_harness_dir());
    char *err = NULL;
    int rc = run("-c", path, "--check-config", NULL, &err);
    TOLK_CHECK(rc != 0, "--check-config on a missing file exits 0");
    TOLK_CHECK(err && strstr(err, path), "a missing config: stderr does not name it: %s", err);
    free(err);
}

static void check_info_options(void)
{
    char *out = NULL, *err = NULL;
    int rc = run("--help", NULL, NULL, &out, &err);
    TOLK_CHECK(rc == 0, "--help: exit %d", rc);
    TOLK_CHECK(out && strstr(out, "--check-config") && strstr(out, "frame_ms"),
               "--help does not describe the options and keys: %s", out);
    free(out);
    free(err);
    rc = run("--version", NULL, NULL, &out, &err);
    TOLK_CHECK(rc == 0, "--version: exit %d", rc);
    TOLK_CHECK(out && strstr(out, TOLK_VERSION), "--version does not print %s: %s", TOLK_VERSION,
               out);
    free(out);
    free(err);
    rc = run("--list-devices", NULL, NULL, &out, &err);
    TOLK_CHECK(rc == 0, "--list-devices: exit %d, stderr: %s", rc, err);
    tolk_harness_note("--list-devices: exit 0, %zu bytes of output", out ? strlen(out) : 0);
    free(out);
    free(err);
    rc = run("--no-such-option", NULL, NULL, NULL, NULL);
    TOLK_CHECK(rc != 0, "an unknown option exits 0");
}

int main(int argc, char **argv)
{
    TOLK_CHECK(argc == 2, "usage: %s TOLK-SERVER", argv[0]);
    server = argv[1];
    tolk_harness_init("cli", 80);
    int port = tolk_harness_free_port();
    TOLK_CHECK(port > 0, "no free port");
    check_good(port);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
        check_bad(&bad_cases[i], port);
    check_missing_file();
    check_info_options();
    tolk_harness_note("PASS");
    return 0;
}
