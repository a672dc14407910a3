/* Ending the long-running commands (hz, bw, echo, watch) cleanly on SIGINT or SIGTERM. */
#ifndef AGNOCASTCTL_STOP_H
#define AGNOCASTCTL_STOP_H

#include <glib.h>

/* Installs handlers that only set a flag, so output in progress is finished, not cut. */
void stop_install(void);
gboolean stop_requested(void);
/* Sleeps `ms` milliseconds or until a stop is requested; FALSE if one was. */
gboolean stop_sleep_ms(unsigned ms);
/* CLOCK_MONOTONIC in seconds. */
double stop_now(void);

#endif
