/*
 * A helper process that speaks to the broker for a test: it opens the connections itself and
 * relays frames and descriptors between each and a socketpair whose other end the test holds.
 * The broker checks that REGISTER_PROCESS comes from the process that connected, so a test that
 * plays several processes needs one live helper per process, not a socket made by a child that
 * has exited.
 */
#ifndef AGNOCAST_TEST_RELAY_H
#define AGNOCAST_TEST_RELAY_H

#include <sys/types.h>

#define RELAY_PAIRS_MAX 64

struct relay {
    int n;
    int a[RELAY_PAIRS_MAX]; /* frames read from a[i] are sent on b[i], and back */
    int b[RELAY_PAIRS_MAX];
};

/* Adds a pair; -1 if full. */
int relay_add(struct relay *r, int a, int b);
/*
 * Waits until a pair or `extra` (-1 for none) is readable and relays what came; when either side
 * of a pair ends, both are closed. Returns 1 if `extra` is readable (nothing else was done),
 * 0 after relaying, -1 once no pair is left and there is no `extra`.
 */
int relay_step(struct relay *r, int extra);
/* In a fresh child: closes every descriptor above 2 but those in keep[] (inherited copies of a
 * test's sockets would keep them open after the test closes them). */
void relay_close_others(const int *keep, int nkeep);

/*
 * Forks a helper that makes `n` connections to the broker at `path` (one process, n sockets)
 * and relays each to the test's end, out[i]. Returns the helper's pid, or -1 (out[] untouched)
 * if it could not connect. The helper exits once every pair has closed, and dies with the test.
 */
pid_t relay_spawn(const char *path, int n, int *out);

#endif
