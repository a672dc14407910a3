/* The library's log (stderr by default, a callback, or nothing) and its last-error sentence. */
#ifndef AGNOCAST_LOG_H
#define AGNOCAST_LOG_H

#include <pthread.h>
#include <stdbool.h>

#include "agnocast.h"

void agn_log(enum agnocast_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Records the detailed sentence for agnocast_last_error() and returns err. */
int agn_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void agn_clear_error(void);
/* Per thread (initial-exec TLS: two instructions per lock, and the heap hook's malloc reaches
 * it); log.c owns it, the lock wrappers below count in it. */
struct agn_log_area;
struct agn_log_thread {
    unsigned locks;            /* library locks this thread holds */
    unsigned queued;           /* lines waiting in the area's queue */
    unsigned dropped;          /* lines that found no room */
    bool delivering;           /* inside the callback (or the write to stderr) */
    struct agn_log_area *area; /* NULL until this thread fails or queues a line (log.c) */
};
extern __thread struct agn_log_thread agn_log_thread __attribute__((tls_model("initial-exec")));
/* Delivers the lines this thread queued while it held locks. */
void agn_log_flush_queued(void);

/* Every library lock but the allocator's goes through these: the log callback never runs while
 * the calling thread holds one (lines logged meanwhile wait until the last is released).
 * Inline: the message path takes a lock on each half. */
static inline void agn_lock(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    agn_log_thread.locks++;
}

int agn_trylock(pthread_mutex_t *m);

static inline void agn_unlock(pthread_mutex_t *m)
{
    pthread_mutex_unlock(m);
    if (--agn_log_thread.locks == 0 && agn_log_thread.queued > 0 && !agn_log_thread.delivering)
        agn_log_flush_queued();
}

#endif
