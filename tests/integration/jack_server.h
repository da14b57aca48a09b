/* A JACK server of a test's own: `jackd [--no-realtime] -d dummy -r 48000 -p PERIOD` under a
 * name nobody else uses (JACK_DEFAULT_SERVER), started and stopped through the harness, so
 * tests and benchmarks running side by side never meet. Main thread. */
#ifndef TOLK_TESTS_JACK_SERVER_H
#define TOLK_TESTS_JACK_SERVER_H

#include <stdbool.h>

/* True if jackd and jack_wait are installed. */
bool tolk_jackd_available(void);
/* Starts the server named `name` and waits until it serves; sets JACK_DEFAULT_SERVER in this
 * process too (for libjack clients of the test). realtime: let jackd and its clients' process
 * threads run SCHED_FIFO (benchmarks; tests use --no-realtime). Returns 0, or -1 with *why
 * (malloc'd, may be NULL) when jackd cannot run here. */
int tolk_jackd_start(const char *name, int period, bool realtime, char **why);
/* SIGTERM and wait, so the server leaves JACK's registry of names (8 slots). Idempotent; also
 * runs at exit. */
void tolk_jackd_stop(void);
/* "JACK_DEFAULT_SERVER=name" and "JACK_NO_START_SERVER=1", NULL-terminated, for children. */
char *const *tolk_jackd_env(void);

#endif
