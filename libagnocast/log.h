/* The library's log (stderr by default, a callback, or nothing) and its last-error sentence. */
#ifndef AGNOCAST_LOG_H
#define AGNOCAST_LOG_H

#include <pthread.h>

#include "agnocast.h"

void agn_log(enum agnocast_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Records the detailed sentence for agnocast_last_error() and returns err. */
int agn_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void agn_clear_error(void);
/* Every library lock but the allocator's goes through these: the log callback never runs while
 * the calling thread holds one (lines logged meanwhile wait until the last is released). */
void agn_lock(pthread_mutex_t *m);
int agn_trylock(pthread_mutex_t *m);
void agn_unlock(pthread_mutex_t *m);

#endif
