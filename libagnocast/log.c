/* Logging, the per-thread last error, and error names. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"

#define LEVEL_NONE   (-1) /* AGNOCAST_LOG_LEVEL=none: nothing at all */
#define LEVEL_UNREAD (-2) /* not yet read from the environment */

static struct {
    pthread_mutex_t lock;
    agnocast_log_fn fn;
    void *userdata;
    int max;
    bool env_reported; /* an unknown AGNOCAST_LOG_LEVEL was reported */
} log_sink = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, LEVEL_UNREAD, false};

/*
 * The log callback never runs while the thread holds a library lock, so it may call the
 * library (agnocast.h). Every library lock but the allocator's (which logs nothing) is taken
 * through agn_lock()/agn_unlock(), which count the locks this thread holds; a line logged
 * while it holds one, or from inside the callback, waits in the thread's queue and goes out
 * when the last lock is released (or the callback returns). Bounded: LOG_QUEUED lines wait at
 * most, and one flush delivers at most LOG_FLUSH_MAX; the rest is counted and reported as
 * dropped, so a callback that logs through the library cannot loop for ever.
 *
 * Thread-local storage: the counters are initial-exec (two instructions per lock, and the heap
 * hook's malloc reaches them), which makes the library's whole TLS block static: a program that
 * loads the library with dlopen() (Python's ctypes, a plugin) must find room for it in the few
 * hundred bytes glibc keeps spare, or dlopen fails ("cannot allocate memory in static TLS
 * block"). So the TLS holds only the counters and a pointer; the last error and the queue live
 * in a per-thread area mapped on first use (mmap, never malloc: this may run inside malloc
 * under the heap hook) and unmapped when the thread exits.
 */
#define LOG_LINE      512
#define LOG_QUEUED    8
#define LOG_FLUSH_MAX (2 * LOG_QUEUED)
#define ERROR_LEN     512

struct agn_log_area {
    char last_error[ERROR_LEN];
    unsigned head; /* the queue's oldest line */
    struct {
        enum agnocast_log_level level;
        char text[LOG_LINE];
    } line[LOG_QUEUED];
};

__thread struct agn_log_thread agn_log_thread __attribute__((tls_model("initial-exec")));

static pthread_once_t area_once = PTHREAD_ONCE_INIT;
static pthread_key_t area_key;
static bool area_key_ok;

/* At thread exit (the key's destructor, on the exiting thread). */
static void area_unmap(void *area)
{
    if (agn_log_thread.area == area)
        agn_log_thread.area = NULL;
    munmap(area, sizeof(struct agn_log_area));
}

static void area_key_create(void)
{
    area_key_ok = pthread_key_create(&area_key, area_unmap) == 0;
}

/* This thread's area, mapped on first use; NULL if it cannot be (the sentence or the line is
 * then lost, the failure itself still returned). */
static struct agn_log_area *area_get(void)
{
    struct agn_log_area *a = agn_log_thread.area;

    if (a)
        return a;
    pthread_once(&area_once, area_key_create);
    if (!area_key_ok)
        return NULL;
    a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED)
        return NULL;
    if (pthread_setspecific(area_key, a) != 0) {
        munmap(a, sizeof(*a));
        return NULL;
    }
    agn_log_thread.area = a;
    return a;
}

/* The stderr level: warnings and errors unless AGNOCAST_LOG_LEVEL says otherwise. Called with
 * the lock held. */
static int level_from_env(void)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {
        {"error", AGNOCAST_LOG_ERROR}, {"warning", AGNOCAST_LOG_WARNING},
        {"info", AGNOCAST_LOG_INFO},   {"debug", AGNOCAST_LOG_DEBUG},
        {"none", LEVEL_NONE},          {"silent", LEVEL_NONE},
    };
    const char *s = getenv("AGNOCAST_LOG_LEVEL");

    if (!s || !*s)
        return AGNOCAST_LOG_WARNING;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcasecmp(s, names[i].name))
            return names[i].level;
    if (!log_sink.env_reported) {
        log_sink.env_reported = true;
        dprintf(2,
                "agnocast[%d]: warning: AGNOCAST_LOG_LEVEL=\"%.64s\" is not a level (error, "
                "warning, info, debug, none); logging warnings and errors\n",
                (int)getpid(), s);
    }
    return AGNOCAST_LOG_WARNING;
}

AGNOCAST_EXPORT void agnocast_set_log_callback(agnocast_log_fn fn, enum agnocast_log_level max,
                                               void *userdata)
{
    pthread_mutex_lock(&log_sink.lock);
    log_sink.fn = fn;
    log_sink.userdata = userdata;
    log_sink.max = fn ? (int)max : level_from_env();
    pthread_mutex_unlock(&log_sink.lock);
}

/* Hands one line to the sink, with no library lock held. The callback may call the library:
 * what it logs meanwhile is queued, and this thread's last error and errno are kept. */
static void emit(enum agnocast_log_level level, const char *text)
{
    static const char *const prefix[] = {"error", "warning", "info", "debug"};
    agnocast_log_fn fn;
    void *userdata;
    int max, saved_errno = errno;
    char saved_error[ERROR_LEN];
    struct agn_log_area *a = agn_log_thread.area;

    pthread_mutex_lock(&log_sink.lock);
    fn = log_sink.fn;
    userdata = log_sink.userdata;
    max = log_sink.max;
    pthread_mutex_unlock(&log_sink.lock);
    if ((int)level > max)
        return;
    agn_log_thread.delivering = true;
    if (fn) {
        if (a)
            memcpy(saved_error, a->last_error, sizeof(saved_error));
        fn(level, text, userdata);
        /* The callback may have mapped the area (a failing call): keep its "" then. */
        if (a)
            memcpy(a->last_error, saved_error, sizeof(saved_error));
        else if (agn_log_thread.area)
            agn_log_thread.area->last_error[0] = '\0';
    } else {
        dprintf(2, "agnocast[%d]: %s: %s\n", (int)getpid(), prefix[level], text);
    }
    agn_log_thread.delivering = false;
    errno = saved_errno;
}

/* Delivers what waits in this thread's queue; no library lock held, not in the callback. */
static void flush(void)
{
    unsigned budget = LOG_FLUSH_MAX;
    char text[LOG_LINE];

    while (agn_log_thread.queued > 0 && budget-- > 0) {
        struct agn_log_area *a = agn_log_thread.area; /* queued > 0: mapped */
        enum agnocast_log_level level = a->line[a->head].level;
        memcpy(text, a->line[a->head].text, sizeof(text));
        a->head = (a->head + 1) % LOG_QUEUED;
        agn_log_thread.queued--;
        emit(level, text);
    }
    agn_log_thread.dropped += agn_log_thread.queued;
    agn_log_thread.queued = 0;
    if (agn_log_thread.dropped > 0) {
        snprintf(text, sizeof(text),
                 "%u log lines dropped (logged while a library lock was held, or from the log "
                 "callback, faster than they could be delivered)",
                 agn_log_thread.dropped);
        agn_log_thread.dropped = 0;
        emit(AGNOCAST_LOG_WARNING, text);
        /* What the callback logged about that is counted for the next time. */
        agn_log_thread.dropped += agn_log_thread.queued;
        agn_log_thread.queued = 0;
    }
}

int agn_trylock(pthread_mutex_t *m)
{
    int r = pthread_mutex_trylock(m);

    if (r == 0)
        agn_log_thread.locks++;
    return r;
}

void agn_log_flush_queued(void)
{
    flush();
}

void agn_log(enum agnocast_log_level level, const char *fmt, ...)
{
    char line[LOG_LINE];
    va_list ap;

    pthread_mutex_lock(&log_sink.lock);
    if (log_sink.max == LEVEL_UNREAD)
        log_sink.max = level_from_env();
    if ((int)level > log_sink.max) {
        pthread_mutex_unlock(&log_sink.lock);
        return;
    }
    pthread_mutex_unlock(&log_sink.lock);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (agn_log_thread.locks > 0 || agn_log_thread.delivering) {
        struct agn_log_area *a = area_get();
        if (!a || agn_log_thread.queued == LOG_QUEUED) {
            agn_log_thread.dropped++;
            return;
        }
        unsigned at = (a->head + agn_log_thread.queued) % LOG_QUEUED;
        a->line[at].level = level;
        memcpy(a->line[at].text, line, sizeof(line));
        agn_log_thread.queued++;
        return;
    }
    emit(level, line);
    flush(); /* what the callback logged */
}

/* A failure goes back to the caller, who reports it (agnocast_last_error()); logged at debug
 * only, so that it is not printed twice. */
int agn_fail(int err, const char *fmt, ...)
{
    struct agn_log_area *a = area_get();
    va_list ap;

    if (!a)
        return err;
    va_start(ap, fmt);
    vsnprintf(a->last_error, sizeof(a->last_error), fmt, ap);
    va_end(ap);
    agn_log(AGNOCAST_LOG_DEBUG, "%s", a->last_error);
    return err;
}

void agn_clear_error(void)
{
    if (agn_log_thread.area)
        agn_log_thread.area->last_error[0] = '\0';
}

AGNOCAST_EXPORT const char *agnocast_last_error(void)
{
    return agn_log_thread.area ? agn_log_thread.area->last_error : "";
}

AGNOCAST_EXPORT const char *agnocast_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case -ECONNREFUSED:
    case -ENOENT:
        return "no broker reachable (or no such object)";
    case -ENOTCONN:
        return "not connected to the broker";
    case -EPROTONOSUPPORT:
        return "the broker speaks another protocol version";
    case -ECHILD:
        return "handle inherited across fork; create a new context in the child";
    case -EBUSY:
        return "this process already has a context";
    case -ENOMEM:
        return "the shared-memory pool is full (or out of memory)";
    case -ENOBUFS:
        return "this process holds too many messages; release some";
    case -ENOSPC:
        return "too many publishers or subscriptions in this process";
    case -EEXIST:
        return "the address range is already occupied in this process";
    case -EBADMSG:
        return "malformed message";
    case -ETIMEDOUT:
        return "the broker did not answer in time";
    default:
        return err < 0 ? strerror(-err) : "not an error code";
    }
}
