/* Roles run under valgrind --tool=callgrind: instructions per publish and per receive+release. */
#ifndef AGNOCAST_BENCH_CALLGRIND_H
#define AGNOCAST_BENCH_CALLGRIND_H

#include <stddef.h>
#include <stdint.h>

/*
 * The publisher and the subscriber run in lock step over two pipes (in_fd, out_fd), so every
 * counted call does the same work each run: the publisher publishes, says so, and waits for the
 * subscriber's answer; the subscriber takes and releases one message. Matching and `warm`
 * rounds go through uncounted twins; the `count` measured rounds through
 * bench_cg_publish / bench_cg_receive, the functions callgrind's --toggle-collect names.
 */
int bench_cg_pub_role(int in_fd, int out_fd, size_t size, uint64_t warm, uint64_t count);
int bench_cg_sub_role(int in_fd, int out_fd, uint64_t warm, uint64_t count);

#endif
