/* Log helpers: make bytes that came from a peer safe to print. */
#ifndef AGNOCASTD_LOG_H
#define AGNOCASTD_LOG_H

#include <stddef.h>

/* Printable ASCII kept (backslash doubled), everything else as \xNN; at most `max` input bytes,
 * "..." appended if there were more. Free with g_free. */
char *log_escape(const void *bytes, size_t len, size_t max);

/* The same for a NUL-terminated string. */
char *log_escape_str(const char *s);

#endif
