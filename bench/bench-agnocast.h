/* The agnocast cases: paced latency (event or busy-poll), fan-out, and throughput. */
#ifndef AGNOCAST_BENCH_AGNOCAST_H
#define AGNOCAST_BENCH_AGNOCAST_H

#include "bench-case.h"

int bench_agnocast_latency(struct bench_case *c);
int bench_agnocast_throughput(struct bench_case *c);

/* The send used by the paced loop: loan, write the header and the last byte only, stamp,
 * publish. Zero-copy means the publisher writes what it wants to say, not the whole buffer. */
struct agnocast_publisher;
int bench_agnocast_send(struct agnocast_publisher *pub, size_t size, uint64_t seq);

#endif
