/* Integration test harness: temp files, free ports, child processes (tolk-server, jackd, ...)
 * with their output captured to log files, plain-socket HTTP, and fatal checks.
 *
 * Single-threaded: every function runs on the test's main thread. Children are killed when the
 * test exits by any path: normal exit and failed checks (atexit), the watchdog alarm and
 * SIGINT/SIGTERM (a signal handler), and the test process being killed (PR_SET_PDEATHSIG).
 */
#ifndef TOLK_TESTS_HARNESS_H
#define TOLK_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOLK_SKIP_CODE 77 /* ctest's SKIP_RETURN_CODE */

/* A failed check prints where and why, dumps every child's log and exits 1. */
#define TOLK_CHECK(cond, ...)                                                                   \
    do {                                                                                       \
        if (!(cond))                                                                           \
            tolk_harness_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                         \
    } while (0)

struct tolk_child;

/* Creates the temp folder, installs cleanup, and arms a watchdog of timeout_s seconds. */
void tolk_harness_init(const char *test_name, int timeout_s);
void tolk_harness_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));
/* Prints a progress line to stdout (shown by ctest --output-on-failure / -V). */
void tolk_harness_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int64_t tolk_harness_now_us(void); /* monotonic */
const char *tolk_harness_dir(void);
/* Writes text to a file of the temp folder; path receives its full path. */
int tolk_harness_write_file(const char *name, const char *text, char *path, size_t cap);
/* Registers a file name of the temp folder (removed at exit) and gives its full path. */
int tolk_harness_temp_path(const char *name, char *path, size_t cap);
/* Reads a whole file into a malloc'd NUL-terminated string (NULL on error). */
char *tolk_harness_read_file(const char *path);
/* A loopback TCP port that was free a moment ago. */
int tolk_harness_free_port(void);

/* Starts argv[0] (looked up in PATH) with env_extra ("K=V", NULL-terminated, may be NULL)
 * added to the environment; stdout and stderr go to files named after name. */
int tolk_harness_spawn(struct tolk_child **out, const char *name, char *const argv[],
                       char *const env_extra[]);
/* Sends SIGTERM, waits up to timeout_ms, then SIGKILLs. *status gets the wait status. Frees the
 * child's slot; its logs stay until the test exits. Returns 0 if it exited by itself in time. */
int tolk_harness_stop(struct tolk_child *child, int timeout_ms, int *status);
/* Waits up to timeout_ms for the child to exit by itself; returns true and fills *status if so. */
bool tolk_harness_wait_exit(struct tolk_child *child, int timeout_ms, int *status);
bool tolk_harness_alive(struct tolk_child *child);
/* SIGTERM to pid (a process the harness may not know by that pid, e.g. the program a child's
 * shell exec'd), then up to timeout_ms until it is gone or a zombie (the harness reaps its
 * children). For exit handlers that must let a server unregister before the harness's SIGKILL. */
void tolk_harness_term_and_wait(int pid, int timeout_ms);
void tolk_harness_dump(const struct tolk_child *child);
const char *tolk_harness_out_path(const struct tolk_child *child);
const char *tolk_harness_err_path(const struct tolk_child *child);

/* Runs argv to completion (bounded by timeout_ms, else killed and failed); returns its exit
 * code and the malloc'd contents of stdout and stderr (caller frees). */
int tolk_harness_run(char *const argv[], char *const env_extra[], int timeout_ms, char **out,
                     char **err);

/* tolk-server: writes config_text to NAME.conf, starts `server -c FILE`, waits (bounded) until
 * 127.0.0.1:port accepts. Fails the test if the server dies or never listens. */
struct tolk_child *tolk_harness_server_start(const char *server, const char *name,
                                             const char *config_text, int port,
                                             char *const env_extra[]);
/* SIGTERM; checks it exits 0 within the bound. */
void tolk_harness_server_stop(struct tolk_child *server);

/* Plain TCP to 127.0.0.1:port, blocking, with send/receive timeouts of timeout_ms. -errno. */
int tolk_harness_tcp_connect(int port, int timeout_ms);
/* Reads until EOF, error or timeout: 1 if the peer closed (EOF or reset), 0 on timeout. */
int tolk_harness_wait_closed(int fd, int timeout_ms);
/* GET path over plain HTTP/1.1 with Connection: close; returns the status code (or -errno) and
 * the malloc'd body (chunked encoding undone). */
int tolk_harness_http_get(int port, const char *path, int timeout_ms, char **body);

#endif
