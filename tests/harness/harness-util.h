/* Small helpers every harness module and many tests use: a clock, sockets, files, limits. */
#ifndef AGNOCAST_TEST_HARNESS_UTIL_H
#define AGNOCAST_TEST_HARNESS_UTIL_H

#include <stdint.h>

/* Milliseconds since an arbitrary start (CLOCK_MONOTONIC). */
uint64_t now_ms(void);

/* A SOCK_SEQPACKET connection from this process to the Unix socket at `path`, or -1. */
int socket_connect(const char *path);

/*
 * Removes `path` and, if it is a directory, everything below it, without a shell and without
 * following symbolic links (a link is removed, not what it points to). 0, or -1 with errno set
 * by the first removal that failed (the walk goes on; ENOENT of `path` itself is not an error).
 */
int remove_tree(const char *path);

/* Raises the soft descriptor limit to the hard one (tests that open many connections). */
void raise_nofile(void);

#endif
