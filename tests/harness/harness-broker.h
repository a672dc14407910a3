/* A private agnocastd for a test: its own temporary directory, socket and log. */
#ifndef AGNOCAST_TEST_HARNESS_BROKER_H
#define AGNOCAST_TEST_HARNESS_BROKER_H

#include <stdbool.h>
#include <sys/types.h>

struct broker {
    pid_t pid;        /* 0 when not running */
    char dir[256];    /* mode 0755, so that tests may play other users */
    char socket[300]; /* dir/broker.sock */
    char log[300];    /* dir/broker.log: the broker's stdout and stderr, every run appended */
};

/*
 * Starts agnocastd ($AGNOCAST_TEST_BROKER) in a fresh directory under $TMPDIR (else /tmp) with
 * --socket dir/broker.sock --socket-mode 0666, --window-base $AGNOCAST_TEST_WINDOW_BASE when
 * set, then `args` (NULL-terminated extra options, may be NULL). Under $AGNOCAST_TEST_VALGRIND
 * (a command line, split at spaces) when set. The broker dies with the test process
 * (PR_SET_PDEATHSIG). Waits until the socket accepts (5 s, 30 s under valgrind), then points
 * AGNOCAST_SOCKET at it. Returns 0, or -1 with the broker's log copied to stderr and its
 * directory removed (broker_cleanup() is still safe to call).
 */
int broker_start(struct broker *b, const char *const *args);
/* Starts a broker again on the same directory and socket (after broker_signal()), with `args`
 * as in broker_start(). 0 or -1 (the directory stays for broker_cleanup()). */
int broker_restart(struct broker *b, const char *const *args);

/* Sends `sig` and waits. Returns the exit status, 128+signal if it was killed, -1 if no broker
 * was running. */
int broker_signal(struct broker *b, int sig);
/* Whether the broker's log holds `text`. */
bool broker_log_has(const struct broker *b, const char *text);

/* SIGKILL if still running, then removes the directory (kept, and named on stderr, when
 * $AGNOCAST_TEST_KEEP is set). $AGNOCAST_TEST_VERBOSE copies the log to stderr first. Safe
 * to call twice. */
void broker_cleanup(struct broker *b);
/* SIGTERM, wait (30 s at most, then SIGKILL), broker_cleanup(). Returns the exit status (0 =
 * clean, also when no broker was running); a non-zero status copies the log to stderr. */
int broker_stop(struct broker *b);

#endif
