/* Percentiles over latency samples and the JSON line each case prints. */
#ifndef AGNOCAST_BENCH_STATS_H
#define AGNOCAST_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct bench_stats {
    double p50_us, p90_us, p99_us, max_us;
    uint64_t count;
};

/* Sorts `ns` in place, ignoring zeros (lost samples), and fills `st`. Returns the count. */
uint64_t bench_stats_compute(uint64_t *ns, size_t n, struct bench_stats *st);

/* The nearest-rank percentile (0 < p <= 100) of sorted values. */
uint64_t bench_percentile(const uint64_t *sorted, size_t n, double p);

/* One result as a JSON object on one line:
 * {"case":..,"transport":..,"size":..,"p50_us":..,...,"count":..<extra>}; `extra` is either
 * NULL or more members starting with a comma. */
void bench_stats_print(FILE *out, const char *case_name, const char *transport, size_t size,
                       const struct bench_stats *st, const char *extra);

/* Appends one line "CASE NS NS ..." with sorted samples to `path` (for scripts/bench, which
 * merges the samples of interleaved rounds); 0 or -1. */
int bench_samples_append(const char *path, const char *case_name, const uint64_t *sorted, size_t n);
/* A case that could not run: {"case":..,"transport":..,"skipped":"reason"}. */
void bench_print_skip(FILE *out, const char *case_name, const char *transport, const char *reason);

#endif
