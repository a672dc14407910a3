/* Logging, the per-thread last error, and error names. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

static _Thread_local char last_error[512];

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

void agn_log(enum agnocast_log_level level, const char *fmt, ...)
{
    static const char *const prefix[] = {"error", "warning", "info", "debug"};
    char line[512];
    va_list ap;

    pthread_mutex_lock(&log_sink.lock);
    if (log_sink.max == LEVEL_UNREAD)
        log_sink.max = level_from_env();
    if ((int)level > log_sink.max) {
        pthread_mutex_unlock(&log_sink.lock);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (log_sink.fn)
        log_sink.fn(level, line, log_sink.userdata);
    else
        dprintf(2, "agnocast[%d]: %s: %s\n", (int)getpid(), prefix[level], line);
    pthread_mutex_unlock(&log_sink.lock);
}

/* A failure goes back to the caller, who reports it (agnocast_last_error()); logged at debug
 * only, so that it is not printed twice. */
int agn_fail(int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    agn_log(AGNOCAST_LOG_DEBUG, "%s", last_error);
    return err;
}

void agn_clear_error(void)
{
    last_error[0] = '\0';
}

AGNOCAST_EXPORT const char *agnocast_last_error(void)
{
    return last_error;
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
