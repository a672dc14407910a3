/* The baselines run beside agnocast: Unix socket, one shared-memory copy, POSIX mqueue, and the
 * machine's floors (bare eventfd wake-up, cache-line ping-pong, fan-out of bare wake-ups). */
#ifndef AGNOCAST_BENCH_BASELINE_H
#define AGNOCAST_BENCH_BASELINE_H

#include "bench-case.h"

/* c->transport selects: "uds", "shm-copy", "mqueue", "eventfd", "eventfd-poll", "cacheline";
 * "eventfd" with nsubs > 1 is the fan-out floor. Returns 0, -1 on failure, 1 if skipped (a
 * "skipped" line was printed). */
int bench_baseline_latency(struct bench_case *c);

#endif
