/* A test's own JACK server (see jack_server.h). Main thread. */
#include "jack_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static char env_server[96];
static char *env[] = {env_server, "JACK_NO_START_SERVER=1", NULL};
static struct tolk_child *jackd;
static char pid_path[512];
static int jackd_pid;
static bool exit_hook;

bool tolk_jackd_available(void)
{
    char *argv[] = {"sh", "-c", "command -v jackd >/dev/null && command -v jack_wait >/dev/null",
                    NULL};
    return tolk_harness_run(argv, NULL, 5000, NULL, NULL) == 0;
}

char *const *tolk_jackd_env(void)
{
    return env;
}

/* Registered after the harness's own exit handler, so it runs first: a failed check must not
 * leave the server to the harness's SIGKILL, which would keep its name registered. */
static void stop_at_exit(void)
{
    tolk_harness_term_and_wait(jackd_pid, 5000);
    jackd_pid = 0;
}

int tolk_jackd_start(const char *name, int period, bool realtime, char **why)
{
    *why = NULL;
    snprintf(env_server, sizeof env_server, "JACK_DEFAULT_SERVER=%s", name);
    setenv("JACK_DEFAULT_SERVER", name, 1);
    setenv("JACK_NO_START_SERVER", "1", 1);
    if (!exit_hook) {
        atexit(stop_at_exit);
        exit_hook = true;
    }
    if (!pid_path[0] && tolk_harness_temp_path("jackd.pid", pid_path, sizeof pid_path) != 0)
        return -1;
    char p[16], script[160];
    snprintf(p, sizeof p, "%d", period);
    snprintf(script, sizeof script,
             "echo $$ >\"$0\" && exec jackd %s -d dummy -r 48000 -p \"$1\"",
             realtime ? "--realtime" : "--no-realtime");
    char *argv[] = {"sh", "-c", script, pid_path, p, NULL};
    if (tolk_harness_spawn(&jackd, "jackd", argv, env) != 0)
        return -1;
    char *wait_argv[] = {"jack_wait", "-w", "-t", "5", NULL};
    if (tolk_harness_run(wait_argv, env, 10000, NULL, NULL) == 0 && tolk_harness_alive(jackd)) {
        char *text = tolk_harness_read_file(pid_path);
        jackd_pid = text ? atoi(text) : 0;
        free(text);
        return 0;
    }
    *why = tolk_harness_read_file(tolk_harness_err_path(jackd));
    tolk_harness_stop(jackd, 3000, NULL);
    jackd = NULL;
    return -1;
}

void tolk_jackd_stop(void)
{
    if (!jackd)
        return;
    tolk_harness_stop(jackd, 10000, NULL);
    jackd = NULL;
    jackd_pid = 0;
}
