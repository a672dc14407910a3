/* Forked roles of a multi-process test and the line protocol on their pipes. */
#ifndef AGNOCAST_TEST_HARNESS_ROLE_H
#define AGNOCAST_TEST_HARNESS_ROLE_H

#include <stddef.h>
#include <sys/types.h>

/* The longest line send_line() sends, newline included. */
#define ROLE_LINE_MAX 512

/* A forked role: runs fn(arg, to_parent_fd, from_parent_fd) in a child, exit code = its return. */
struct role {
    pid_t pid;
    int to_child;   /* parent writes */
    int from_child; /* parent reads */
};

/* Forks the role. Its child closes every descriptor above 2 but its two pipe ends (a role
 * waiting for its pipe to close would otherwise wait for every sibling). 0 or -1.
 * Start roles that make threads (a context does) before the test process makes a context of
 * its own: glibc hands a forked child's first thread the stack of a thread its parent had, and
 * ThreadSanitizer (gcc 12), which keeps the parent's threads alive in the child's books, stops
 * the child with "dup thread with used id". */
int role_start(struct role *r, int (*fn)(void *arg, int out, int in), void *arg);
/* Closes the pipe to the child and waits for it; returns its exit code, or 128+signal. */
int role_wait(struct role *r);
/* Kills (SIGKILL) and reaps every role started and not yet waited for, then gives the broker
 * 200 ms to see their connections close. Async-signal-safe: a SIGTERM handler may call it. */
void role_kill_leftovers(void);

/* Sends one line (the newline added). 0, or -1: a write error, or with errno EMSGSIZE and
 * nothing sent, a line longer than ROLE_LINE_MAX - 1. */
int send_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads one line without its newline into buf (NUL-terminated; a longer line is cut at cap - 1
 * and its rest left for the next call). Waits up to timeout_ms for it to begin and 5 s more for
 * it to end. Returns its length, or -1 on timeout or end of file. */
int recv_line(int fd, char *buf, size_t cap, int timeout_ms);

#endif
