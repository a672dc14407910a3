/* The bridge's log: one line per event on stderr (the journal under systemd). */
#ifndef AGNOCAST_BRIDGE_LOG_H
#define AGNOCAST_BRIDGE_LOG_H

extern int log_verbose;

__attribute__((format(printf, 1, 2))) void log_info(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_debug(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_warn(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_error(const char *fmt, ...);

#endif
