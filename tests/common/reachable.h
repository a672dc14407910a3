/* Programs that tests run as another user (nobody) must be reachable by that user. */
#ifndef AGNOCAST_TEST_REACHABLE_H
#define AGNOCAST_TEST_REACHABLE_H

/*
 * As root: a copy of `exe` in a fresh world-readable directory under /tmp (the build tree may
 * sit in a 0700 directory such as a mktemp -d clone or root's home), removed at exit. Copies are
 * made once per path. Otherwise, or if the copy fails: `exe` itself. The programs copied this
 * way (agnocastd, agnocastctl) link only system libraries.
 */
const char *reachable_copy(const char *exe);

#endif
