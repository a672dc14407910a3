/* The library's log (stderr by default, a callback, or nothing) and its last-error sentence. */
#ifndef AGNOCAST_LOG_H
#define AGNOCAST_LOG_H

#include "agnocast.h"

void agn_log(enum agnocast_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Records the detailed sentence for agnocast_last_error() and returns err. */
int agn_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void agn_clear_error(void);

#endif
