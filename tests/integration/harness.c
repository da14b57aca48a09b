/* Integration test harness (see harness.h). Runs on the test's main thread; the signal handler
 * (watchdog, SIGINT, SIGTERM) only uses async-signal-safe calls on the static tables below,
 * which the main thread fills before any signal can refer to them. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 64
#define MAX_FILES 256
#define LOG_TAIL 16384

extern char **environ;

struct tolk_child {
    volatile pid_t pid; /* 0 once reaped; read by the signal handler */
    char name[64];
    char out_path[512];
    char err_path[512];
};

/* Main thread writes; the signal handler reads. */
static struct tolk_child children[MAX_CHILDREN];
static volatile int child_count;
static char files[MAX_FILES][512];
static volatile int file_count;
static char temp_dir[256];
static char test_name[64];

static void write_str(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Async-signal-safe: prints the last LOG_TAIL bytes of a log file to stderr. */
static void dump_file(const char *title, const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END);
    if (size > 0) {
        write_str(2, "----- ");
        write_str(2, title);
        write_str(2, size > LOG_TAIL ? " (last 16 KiB) -----\n" : " -----\n");
        lseek(fd, size > LOG_TAIL ? size - LOG_TAIL : 0, SEEK_SET);
        char buf[4096];
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0)
            if (write(2, buf, (size_t)r) < 0)
                break;
        write_str(2, "\n");
    }
    close(fd);
}

static void dump_child(const struct tolk_child *c)
{
    char title[128];
    size_t n = strlen(c->name);
    if (n > sizeof title - 10)
        n = sizeof title - 10;
    memcpy(title, c->name, n);
    memcpy(title + n, " stdout", 8);
    dump_file(title, c->out_path);
    memcpy(title + n, " stderr", 8);
    dump_file(title, c->err_path);
}

static void dump_all(void)
{
    for (int i = 0; i < child_count; i++)
        dump_child(&children[i]);
}

static void kill_all_now(void)
{
    for (int i = 0; i < child_count; i++) {
        pid_t pid = children[i].pid;
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            children[i].pid = 0;
        }
    }
}

static void remove_files(void)
{
    for (int i = 0; i < file_count; i++)
        unlink(files[i]);
    if (temp_dir[0])
        rmdir(temp_dir);
}

static void on_signal(int sig)
{
    write_str(2, sig == SIGALRM ? "\nFAIL: watchdog timeout in " : "\nFAIL: signal in ");
    write_str(2, test_name);
    write_str(2, "\n");
    dump_all();
    kill_all_now();
    remove_files();
    _exit(1);
}

static void stop_all_gently(void)
{
    for (int i = 0; i < child_count; i++)
        if (children[i].pid > 0)
            tolk_harness_stop(&children[i], 3000, NULL);
}

static void at_exit(void)
{
    stop_all_gently();
    remove_files();
}

void tolk_harness_init(const char *name, int timeout_s)
{
    snprintf(test_name, sizeof test_name, "%s", name);
    const char *tmp = getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/tolk-itest-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp",
             name);
    if (!mkdtemp(temp_dir)) {
        fprintf(stderr, "FAIL: mkdtemp %s: %s\n", temp_dir, strerror(errno));
        temp_dir[0] = 0;
        exit(1);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    atexit(at_exit);
    alarm((unsigned)timeout_s);
}

void tolk_harness_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fflush(stdout);
    fprintf(stderr, "\nFAIL %s:%d: %s\n  ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fflush(stderr);
    alarm(0);
    dump_all();
    stop_all_gently();
    remove_files();
    /* _exit: skip LeakSanitizer, whose report of what a failed test left would hide the cause. */
    _exit(1);
}

void tolk_harness_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("[%s] ", test_name);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

int64_t tolk_harness_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *tolk_harness_dir(void)
{
    return temp_dir;
}

static int register_path(const char *name, char *path, size_t cap)
{
    char full[sizeof files[0]];
    int n = snprintf(full, sizeof full, "%s/%s", temp_dir, name);
    if (n < 0 || (size_t)n >= sizeof full || (size_t)n >= cap)
        return -ENAMETOOLONG;
    memcpy(path, full, (size_t)n + 1);
    for (int i = 0; i < file_count; i++)
        if (strcmp(files[i], full) == 0)
            return 0;
    if (file_count >= MAX_FILES)
        return -ENOSPC;
    memcpy(files[file_count], full, (size_t)n + 1);
    file_count++;
    return 0;
}

int tolk_harness_write_file(const char *name, const char *text, char *path, size_t cap)
{
    int rc = register_path(name, path, cap);
    if (rc < 0)
        return rc;
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    size_t len = strlen(text);
    rc = fwrite(text, 1, len, f) == len ? 0 : -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

int tolk_harness_temp_path(const char *name, char *path, size_t cap)
{
    return register_path(name, path, cap);
}

char *tolk_harness_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0)
            break;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf)
        buf[len] = 0;
    fclose(f);
    return buf;
}

int tolk_harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int port = -EADDRNOTAVAIL;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Builds environ + extra before fork (the child must not allocate). */
static char **make_env(char *const extra[])
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        env[k++] = extra[i];
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t keylen = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
        bool overridden = false;
        for (size_t j = 0; j < m; j++)
            if (strncmp(extra[j], environ[i], keylen) == 0)
                overridden = true;
        if (!overridden)
            env[k++] = environ[i];
    }
    return env;
}

static void exec_child(struct tolk_child *c, char *const argv[], char **env, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int in = open("/dev/null", O_RDONLY);
    int out = open(c->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(c->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0)
        _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execvpe(argv[0], argv, env);
    write_str(2, "exec failed: ");
    write_str(2, argv[0]);
    write_str(2, "\n");
    _exit(127);
}

int tolk_harness_spawn(struct tolk_child **out, const char *name, char *const argv[],
                       char *const env_extra[])
{
    if (child_count >= MAX_CHILDREN)
        return -ENOSPC;
    struct tolk_child *c = &children[child_count];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s#%d", name, child_count);
    char fname[128];
    snprintf(fname, sizeof fname, "%s.out", c->name);
    int rc = register_path(fname, c->out_path, sizeof c->out_path);
    snprintf(fname, sizeof fname, "%s.err", c->name);
    if (rc == 0)
        rc = register_path(fname, c->err_path, sizeof c->err_path);
    char **env = rc == 0 ? make_env(env_extra) : NULL;
    if (rc == 0 && !env)
        rc = -ENOMEM;
    if (rc < 0)
        return rc;
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        exec_child(c, argv, env, parent);
    free(env);
    if (pid < 0)
        return -errno;
    c->pid = pid;
    child_count++;
    *out = c;
    return 0;
}

bool tolk_harness_wait_exit(struct tolk_child *c, int timeout_ms, int *status)
{
    int64_t deadline = tolk_harness_now_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        if (c->pid <= 0)
            return false;
        int st;
        pid_t r = waitpid(c->pid, &st, WNOHANG);
        if (r == c->pid || (r < 0 && errno == ECHILD)) {
            c->pid = 0;
            if (status)
                *status = r == -1 ? -1 : st;
            return true;
        }
        if (tolk_harness_now_us() >= deadline)
            return false;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

bool tolk_harness_alive(struct tolk_child *c)
{
    if (c->pid <= 0)
        return false;
    int st;
    return !tolk_harness_wait_exit(c, 0, &st);
}

void tolk_harness_term_and_wait(int pid, int timeout_ms)
{
    if (pid <= 0 || kill(pid, SIGTERM) != 0)
        return;
    char path[64], stat[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        FILE *f = fopen(path, "r");
        char *end = f && fgets(stat, sizeof stat, f) ? strrchr(stat, ')') : NULL;
        if (f)
            fclose(f);
        if (!end || end[1] == '\0' || end[2] == 'Z')
            return;
        usleep(100000);
    }
}

int tolk_harness_stop(struct tolk_child *c, int timeout_ms, int *status)
{
    int st = -1;
    if (c->pid <= 0)
        return -ESRCH;
    kill(c->pid, SIGTERM);
    if (tolk_harness_wait_exit(c, timeout_ms, &st)) {
        if (status)
            *status = st;
        return 0;
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &st, 0);
    c->pid = 0;
    if (status)
        *status = st;
    return -ETIMEDOUT;
}

void tolk_harness_dump(const struct tolk_child *c)
{
    dump_child(c);
}

const char *tolk_harness_out_path(const struct tolk_child *c)
{
    return c->out_path;
}

const char *tolk_harness_err_path(const struct tolk_child *c)
{
    return c->err_path;
}

static const char *describe_status(int st, char *buf, size_t cap)
{
    if (st == -1)
        snprintf(buf, cap, "unknown status");
    else if (WIFEXITED(st))
        snprintf(buf, cap, "exit code %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(buf, cap, "status 0x%x", st);
    return buf;
}

int tolk_harness_run(char *const argv[], char *const env_extra[], int timeout_ms, char **out,
                     char **err)
{
    struct tolk_child *c = NULL;
    int rc = tolk_harness_spawn(&c, argv[0][0] == '/' ? strrchr(argv[0], '/') + 1 : argv[0],
                                argv, env_extra);
    TOLK_CHECK(rc == 0, "spawn %s: %s", argv[0], strerror(-rc));
    int st = -1;
    bool exited = tolk_harness_wait_exit(c, timeout_ms, &st);
    if (!exited)
        tolk_harness_stop(c, 1000, &st);
    TOLK_CHECK(exited, "%s did not exit within %d ms", argv[0], timeout_ms);
    if (out)
        *out = tolk_harness_read_file(c->out_path);
    if (err)
        *err = tolk_harness_read_file(c->err_path);
    char desc[96];
    TOLK_CHECK(WIFEXITED(st), "%s: %s", argv[0], describe_status(st, desc, sizeof desc));
    /* Its output is read: give the slot (and its log names) to the next run. */
    if (c == &children[child_count - 1])
        child_count--;
    return WEXITSTATUS(st);
}

struct tolk_child *tolk_harness_server_start(const char *server, const char *name,
                                             const char *config_text, int port,
                                             char *const env_extra[])
{
    char conf[512], fname[96];
    snprintf(fname, sizeof fname, "%s.conf", name);
    int rc = tolk_harness_write_file(fname, config_text, conf, sizeof conf);
    TOLK_CHECK(rc == 0, "write %s: %s", fname, strerror(-rc));
    char *argv[] = {(char *)server, "-c", conf, NULL};
    struct tolk_child *c = NULL;
    rc = tolk_harness_spawn(&c, name, argv, env_extra);
    TOLK_CHECK(rc == 0, "spawn %s: %s", server, strerror(-rc));

    int64_t deadline = tolk_harness_now_us() + 15 * 1000000;
    for (;;) {
        int st = -1;
        char desc[96];
        if (tolk_harness_wait_exit(c, 0, &st))
            tolk_harness_fail(__FILE__, __LINE__, "server running", "%s exited at start: %s",
                              name, describe_status(st, desc, sizeof desc));
        int fd = tolk_harness_tcp_connect(port, 500);
        if (fd >= 0) {
            close(fd);
            return c;
        }
        TOLK_CHECK(tolk_harness_now_us() < deadline, "%s does not accept on port %d after 15 s",
                   name, port);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void tolk_harness_server_stop(struct tolk_child *server)
{
    int st = -1;
    char desc[96];
    int rc = tolk_harness_stop(server, 10000, &st);
    TOLK_CHECK(rc == 0, "%s did not exit within 10 s of SIGTERM", server->name);
    TOLK_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s stopped with %s (want exit code 0)",
               server->name, describe_status(st, desc, sizeof desc));
}

int tolk_harness_tcp_connect(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int tolk_harness_wait_closed(int fd, int timeout_ms)
{
    int64_t deadline = tolk_harness_now_us() + (int64_t)timeout_ms * 1000;
    char buf[4096];
    for (;;) {
        int64_t left = (deadline - tolk_harness_now_us()) / 1000;
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
            return 1;
    }
}

/* Undoes chunked transfer encoding in place; returns the body length or -1 if incomplete. */
static long dechunk(char *body, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end = memmem(body + in, len - in, "\r\n", 2);
        if (!end)
            return -1;
        unsigned long n = strtoul(body + in, NULL, 16);
        in = (size_t)(end - body) + 2;
        if (n == 0)
            return (long)out;
        if (len - in < n + 2)
            return -1;
        memmove(body + out, body + in, n);
        out += n;
        in += n + 2;
    }
}

/* Returns the body length once the response in buf is complete, else -1. */
static long http_complete(char *buf, size_t len, bool eof, char **body)
{
    char *hdr_end = memmem(buf, len, "\r\n\r\n", 4);
    if (!hdr_end)
        return -1;
    *hdr_end = 0;
    char *b = hdr_end + 4;
    size_t blen = len - (size_t)(b - buf);
    long result = -1;
    char *cl = strcasestr(buf, "\r\ncontent-length:");
    if (strcasestr(buf, "\r\ntransfer-encoding: chunked")) {
        char *copy = malloc(blen + 1);
        memcpy(copy, b, blen);
        result = dechunk(copy, blen);
        if (result >= 0) {
            copy[result] = 0;
            *body = copy;
        } else {
            free(copy);
        }
    } else if (cl && blen >= strtoul(cl + 17, NULL, 10)) {
        result = (long)strtoul(cl + 17, NULL, 10);
    } else if (!cl && eof) {
        result = (long)blen;
    }
    if (result >= 0 && !*body) {
        *body = malloc((size_t)result + 1);
        memcpy(*body, b, (size_t)result);
        (*body)[result] = 0;
    }
    *hdr_end = '\r';
    return result;
}

int tolk_harness_http_get(int port, const char *path, int timeout_ms, char **body)
{
    *body = NULL;
    int fd = tolk_harness_tcp_connect(port, timeout_ms);
    if (fd < 0)
        return fd;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path,
                     port);
    int rc = send(fd, req, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -EIO;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    int64_t deadline = tolk_harness_now_us() + (int64_t)timeout_ms * 1000;
    while (rc == 0) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        bool eof = r <= 0;
        if (r > 0)
            len += (size_t)r;
        buf[len] = 0;
        if (http_complete(buf, len, eof, body) >= 0)
            break;
        if (eof || tolk_harness_now_us() > deadline)
            rc = r < 0 ? -ETIMEDOUT : -EPROTO;
    }
    if (rc == 0 && (strncmp(buf, "HTTP/1.", 7) != 0 || len < 12))
        rc = -EPROTO;
    if (rc == 0)
        rc = atoi(buf + 9);
    if (rc < 0) {
        free(*body);
        *body = NULL;
    }
    free(buf);
    close(fd);
    return rc;
}
