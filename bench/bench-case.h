/* One benchmark case: its parameters, its processes (forked subscribers and publisher), its report.
 */
#ifndef AGNOCAST_BENCH_CASE_H
#define AGNOCAST_BENCH_CASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench-util.h"

struct bench_case {
    const char *transport; /* as printed: "agnocast-event", "uds", ... */
    size_t size;           /* message size in bytes */
    bool busy;             /* subscribers busy-poll instead of sleeping */
    bool take;             /* agnocast: the subscriber takes in a loop instead of callbacks */
    uint64_t count, warm;
    unsigned nsubs;
    bool fanout;    /* report first/last lines even for one subscriber */
    unsigned index; /* in a subscriber: which one */
    char topic[64];
    struct bench_shared *s;
    void *state;              /* the transport's descriptors, made before fork */
    const char *samples_path; /* if set, every sample is appended there too (--samples) */
};

/* The options every case binary takes, for its getopt_long() table (<getopt.h>). */
#define BENCH_CASE_OPTIONS                                                                         \
    {"size", required_argument, NULL, 's'}, {"busy", no_argument, NULL, 'b'},                      \
        {"count", required_argument, NULL, 'n'}, {"warm", required_argument, NULL, 'w'},           \
    {                                                                                              \
        "samples", required_argument, NULL, 'F'                                                    \
    }
/* Applies one of BENCH_CASE_OPTIONS (getopt_long's return value and optarg); false if `opt`
 * is not one of them. */
bool bench_case_option(struct bench_case *c, int opt, const char *arg);

/* Makes the shared area; 0 or -1. */
int bench_case_init(struct bench_case *c);
/* Forks nsubs subscribers (each sets ready when it can receive), then the publisher; kills the
 * subscribers if the publisher fails. Returns 0 if every process exited 0. */
int bench_case_run(struct bench_case *c, int (*sub)(void *c), int (*pub)(void *c));
/* Subscriber side: counts itself ready. */
void bench_case_ready(struct bench_case *c);
/* Pins a subscriber (core 1) and the publisher (core 0) in one-to-one cases only: with many
 * subscribers the scheduler places them, the same for every transport. */
void bench_case_pin(const struct bench_case *c, bool publisher);
/* Prints the latency line (one subscriber) or first/last lines (fan-out), with `extra` JSON
 * members appended. */
void bench_case_report(struct bench_case *c, const char *case_name, const char *extra);
void bench_case_fini(struct bench_case *c);

#endif
