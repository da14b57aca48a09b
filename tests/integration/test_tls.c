/* integration.tls: HTTPS and WSS with a throwaway certificate authority.
 *
 * tools/make-venue-cert.sh makes a CA and a certificate for localhost/127.0.0.1. The server
 * serves https and wss on its main port and plain http for listeners only beside it:
 * - https: pages and APIs answer; plain http on the main port gets nothing;
 * - wss: the listener protocol plays the right tone; a booth console logs in;
 * - the plain port: the listener page and /listen work; /booth, /tech and the APIs do not
 *   (a booth login over plain http is refused);
 * - a key that does not belong to the certificate, and a missing file, stop the server at
 *   start with a message that says so.
 * Usage: SERVER MAKE-VENUE-CERT. Main thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "harness.h"
#include "listen_client.h"

static const char config_format[] = "[server]\n"
                                    "listen = 127.0.0.1:%d\n"
                                    "http_listen = 127.0.0.1:%d\n"
                                    "tls_cert = %s\n"
                                    "tls_key = %s\n"
                                    "[channel floor]\n"
                                    "source = tone:440\n"
                                    "[channel fr]\n"
                                    "source = tone:880\n"
                                    "[channel en]\n"
                                    "[booth en]\n"
                                    "desks = tone:660\n"
                                    "a = en\n";

static char dir[512];

static void make_cert(const char *script, const char *sub, const char *name)
{
    char path[600], *out = NULL, *err = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    char *argv[] = {(char *)"bash", (char *)script, (char *)"--dir", path, (char *)name,
                    (char *)"127.0.0.1", NULL};
    int rc = tolk_harness_run(argv, NULL, 60000, &out, &err);
    TOLK_CHECK(rc == 0, "make-venue-cert.sh failed (%d): %s", rc, err);
    free(out);
    free(err);
}

/* curl over https trusting the test CA; returns the HTTP status (0: no answer). */
static int https_get(int port, const char *path, const char *scheme)
{
    char url[256], resolve[64], ca[600], *out = NULL, *err = NULL;
    snprintf(url, sizeof url, "%s://localhost:%d%s", scheme, port, path);
    snprintf(resolve, sizeof resolve, "localhost:%d:127.0.0.1", port);
    snprintf(ca, sizeof ca, "%s/a/ca/ca.crt", dir);
    char *argv[] = {(char *)"curl", (char *)"-s", (char *)"-o", (char *)"/dev/null",
                    (char *)"-w", (char *)"%{http_code}", (char *)"--max-time", (char *)"5",
                    (char *)"--cacert", ca, (char *)"--resolve", resolve, url, NULL};
    tolk_harness_run(argv, NULL, 10000, &out, &err);
    int code = out ? atoi(out) : 0;
    free(out);
    free(err);
    return code;
}

static void check_https(int port, int plain)
{
    TOLK_CHECK(https_get(port, "/", "https") == 200, "https: GET / failed");
    TOLK_CHECK(https_get(port, "/api/health", "https") == 200, "https: /api/health failed");
    TOLK_CHECK(https_get(port, "/tech", "https") == 401, "https: /tech without token is not 401");
    TOLK_CHECK(https_get(port, "/", "http") == 0, "plain http on the TLS port got an answer");
    TOLK_CHECK(https_get(plain, "/", "http") == 200, "the plain port does not serve the page");
    TOLK_CHECK(https_get(plain, "/api/health", "http") == 200, "plain port: no /api/health");
    const char *closed[] = {"/tech", "/booth", "/api/status", "/metrics", "/api/booths"};
    for (size_t i = 0; i < sizeof closed / sizeof closed[0]; i++)
        TOLK_CHECK(https_get(plain, closed[i], "http") == 404, "plain port serves %s", closed[i]);
}

static void check_wss(int port, int plain)
{
    struct tolk_client *l, *console, *plain_listener, *plain_console;
    tolk_client_use_tls(true);
    TOLK_CHECK(tolk_client_open(&l, "wss-listener", port, "/listen?channel=fr", false, 20) == 0,
               "open");
    TOLK_CHECK(tolk_client_wait_open(l, 5000), "wss listener: %s", tolk_client_error(l));
    TOLK_CHECK(tolk_client_wait_packets(l, 40, 5000), "wss listener: no audio");
    tolk_check_tone(l, 10, 40, 0, 880, "fr over wss");
    TOLK_CHECK(tolk_client_open_protocol(&console, "wss-console", port, "/booth", "tolk.booth.v1",
                                         20) == 0, "open");
    TOLK_CHECK(tolk_client_wait_open(console, 5000), "wss console: %s",
               tolk_client_error(console));
    tolk_client_send_text(console, "{\"type\":\"login\",\"booth\":\"en\",\"pin\":\"1234\"}");
    TOLK_CHECK(tolk_client_wait_text(console, 0, "welcome", NULL, 3000) >= 0,
               "booth login over wss failed");

    tolk_client_use_tls(false);
    TOLK_CHECK(tolk_client_open(&plain_listener, "ws-listener", plain, "/listen?channel=fr",
                                false, 20) == 0, "open");
    TOLK_CHECK(tolk_client_wait_packets(plain_listener, 30, 5000),
               "plain port: no audio for a listener");
    TOLK_CHECK(tolk_client_open_protocol(&plain_console, "ws-console", plain, "/booth",
                                         "tolk.booth.v1", 20) == 0, "open");
    TOLK_CHECK(!tolk_client_wait_open(plain_console, 3000),
               "a booth console was accepted over plain http");
    tolk_client_close(l);
    tolk_client_close(console);
    tolk_client_close(plain_listener);
}

/* The server must refuse to start, saying why (want in its log). */
static void check_refused(const char *server, const char *cert, const char *key, const char *want)
{
    char config[2048], conf_path[600], *out = NULL, *err = NULL;
    int port = tolk_harness_free_port();
    snprintf(config, sizeof config, config_format, port, port + 1, cert, key);
    TOLK_CHECK(tolk_harness_write_file("refused.conf", config, conf_path, sizeof conf_path) == 0,
               "write config");
    char *argv[] = {(char *)server, (char *)"-c", conf_path, NULL};
    int rc = tolk_harness_run(argv, NULL, 10000, &out, &err);
    TOLK_CHECK(rc != 0, "the server started with %s / %s", cert, key);
    TOLK_CHECK(err && strstr(err, want), "start-up error does not say '%s': %s", want, err);
    tolk_harness_note("refused as expected: %s", strstr(err, want));
    free(out);
    free(err);
}

int main(int argc, char **argv)
{
    TOLK_CHECK(argc == 3, "usage: %s TOLK-SERVER MAKE-VENUE-CERT", argv[0]);
    tolk_harness_init("tls", 120);
    snprintf(dir, sizeof dir, "%s/certs", tolk_harness_dir());
    make_cert(argv[2], "a", "localhost");
    make_cert(argv[2], "b", "localhost");
    char cert[600], key[600], other_key[600], ca[600];
    snprintf(cert, sizeof cert, "%s/a/localhost/fullchain.pem", dir);
    snprintf(key, sizeof key, "%s/a/localhost/key.pem", dir);
    snprintf(other_key, sizeof other_key, "%s/b/localhost/key.pem", dir);
    snprintf(ca, sizeof ca, "%s/a/ca/ca.crt", dir);

    int port = tolk_harness_free_port(), plain = tolk_harness_free_port();
    TOLK_CHECK(port > 0 && plain > 0 && port != plain, "no free ports");
    char config[2048];
    snprintf(config, sizeof config, config_format, port, plain, cert, key);
    struct tolk_child *server = tolk_harness_server_start(argv[1], "server", config, plain, NULL);
    TOLK_CHECK(tolk_client_init_tls(ca) == 0, "lws client context with TLS");
    check_https(port, plain);
    check_wss(port, plain);
    tolk_client_service_until(200, NULL, NULL);
    tolk_client_fini();
    tolk_harness_server_stop(server);

    check_refused(argv[1], cert, other_key, "does not belong to the certificate");
    check_refused(argv[1], cert, "/nonexistent/key.pem", "tls_key: /nonexistent/key.pem");
    tolk_harness_note("PASS");
    return 0;
}
