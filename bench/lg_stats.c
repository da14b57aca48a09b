/* tolk-loadgen statistics: the lateness histogram (worker threads add to their own, the main
 * thread merges and reads it after the join) and the /proc readers (main thread only).
 */
#include "loadgen.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tolk/clock.h"

int tolk_lg_hist_init(struct tolk_lg_hist *h)
{
    memset(h, 0, sizeof *h);
    h->bins = calloc(TOLK_LG_HIST_BINS, sizeof *h->bins);
    return h->bins ? 0 : -ENOMEM;
}

void tolk_lg_hist_free(struct tolk_lg_hist *h)
{
    if (!h)
        return;
    free(h->bins);
    h->bins = NULL;
}

void tolk_lg_hist_add(struct tolk_lg_hist *h, int64_t late_us)
{
    if (late_us < 0) {
        h->negative++;
        late_us = 0;
    }
    if (late_us > h->max_us)
        h->max_us = late_us;
    int64_t bin = late_us / TOLK_LG_HIST_BIN_US;
    if (bin >= TOLK_LG_HIST_BINS)
        bin = TOLK_LG_HIST_BINS - 1;
    h->bins[bin]++;
    h->count++;
}

void tolk_lg_hist_merge(struct tolk_lg_hist *into, const struct tolk_lg_hist *from)
{
    for (int b = 0; b < TOLK_LG_HIST_BINS; b++)
        into->bins[b] += from->bins[b];
    into->count += from->count;
    into->negative += from->negative;
    if (from->max_us > into->max_us)
        into->max_us = from->max_us;
}

int64_t tolk_lg_hist_quantile(const struct tolk_lg_hist *h, double q)
{
    if (h->count == 0)
        return -1;
    uint64_t rank = (uint64_t)(q * (double)(h->count - 1)) + 1; /* 1-based rank of the sample */
    uint64_t seen = 0;
    for (int i = 0; i < TOLK_LG_HIST_BINS; i++) {
        seen += h->bins[i];
        if (seen >= rank)
            return (int64_t)i * TOLK_LG_HIST_BIN_US + TOLK_LG_HIST_BIN_US / 2;
    }
    return (int64_t)TOLK_LG_HIST_BINS * TOLK_LG_HIST_BIN_US;
}

/* Reads a whole small /proc file into buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n > 0 ? 0 : -EIO;
}

/* utime + stime of a /proc/.../stat line, in seconds; comm copied if wanted. */
static int parse_stat(const char *text, double *cpu_s, char *comm, size_t comm_cap)
{
    const char *open = strchr(text, '(');
    const char *close = strrchr(text, ')');
    if (!open || !close || close < open)
        return -EPROTO;
    if (comm) {
        size_t n = (size_t)(close - open - 1);
        if (n >= comm_cap)
            n = comm_cap - 1;
        memcpy(comm, open + 1, n);
        comm[n] = '\0';
    }
    unsigned long long utime = 0, stime = 0;
    /* After ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
     * utime(14) stime(15). */
    if (sscanf(close + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
               &stime) != 2)
        return -EPROTO;
    *cpu_s = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

static long status_kib(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (!p)
        return -1;
    return strtol(p + strlen(key), NULL, 10);
}

int tolk_lg_proc_sample(int pid, struct tolk_lg_proc_sample *out)
{
    char path[64], buf[4096];
    int rc;
    out->mono_ns = tolk_clock_mono_ns();
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
    else
        snprintf(path, sizeof path, "/proc/self/stat");
    rc = read_small(path, buf, sizeof buf);
    if (rc == 0)
        rc = parse_stat(buf, &out->cpu_s, NULL, 0);
    if (rc != 0)
        goto out;
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/status", pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    rc = read_small(path, buf, sizeof buf);
    if (rc != 0)
        goto out;
    out->hwm_kib = status_kib(buf, "VmHWM:");
    out->rss_kib = status_kib(buf, "VmRSS:");
out:
    return rc;
}

int tolk_lg_proc_tasks(int pid, struct tolk_lg_task_sample *out, int max)
{
    char path[96], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *dir = opendir(path);
    if (!dir)
        return -errno;
    int n = 0;
    struct dirent *de;
    while (n < max && (de = readdir(dir)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/stat", pid, de->d_name);
        if (read_small(path, buf, sizeof buf) != 0)
            continue;
        out[n].tid = atoi(de->d_name);
        if (parse_stat(buf, &out[n].cpu_s, out[n].comm, sizeof out[n].comm) == 0)
            n++;
    }
    closedir(dir);
    return n;
}

int tolk_lg_machine_sample(struct tolk_lg_machine_sample *out)
{
    char buf[512];
    unsigned long long v[8] = {0};
    int rc = read_small("/proc/stat", buf, sizeof buf);
    if (rc != 0)
        return rc;
    /* cpu user nice system idle iowait irq softirq steal */
    if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) != 8)
        return -EPROTO;
    out->idle = v[3] + v[4];
    out->irq = v[5] + v[6];
    out->steal = v[7];
    return 0;
}
