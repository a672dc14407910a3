/* The two-host round trip of agnocast-bench-bridge: a transport sends a message from host A and
 * waits for its echo from host B (the ping side), or sends back what it receives (the echo side).
 */
#ifndef AGNOCAST_BENCH_BRIDGE_H
#define AGNOCAST_BENCH_BRIDGE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* The agnocast topics scripts/bench bridges A -> B and B -> A (it writes the same names into
 * the bridges' configurations), and the DDS topics of the Cyclone-only round trip: others than
 * the bridges' rt/bench_ping and rt/bench_pong, which their readers would take. */
#define BENCH_BRIDGE_PING "/bench_ping"
#define BENCH_BRIDGE_PONG "/bench_pong"
#define BENCH_DDS_PING    "rt/bench_dds_ping"
#define BENCH_DDS_PONG    "rt/bench_dds_pong"
/* The QoS of both paths: reliable, volatile, keep-last this deep (the bridges' too). */
#define BENCH_BRIDGE_DEPTH    16
#define BENCH_BRIDGE_PUB_KEEP 4

struct bench_rt_ops {
    const char *name; /* as reported: "agnocast-bridge", "cyclonedds" */
    /* Ping side: joins, finds its peers (up to timeout_ms); *state for the calls below. 0, or
     * -1 with the reason on stderr. */
    int (*open)(int domain, size_t max_size, int timeout_ms, void **state);
    /* Writes seq into a message of `size` bytes, stamps it (CLOCK_MONOTONIC) last, sends it.
     * The payload past the header is the transport's to fill or not (agnocast writes only the
     * header and the last byte, as every zero-copy case does). 0 or -1. */
    int (*send)(void *state, size_t size, uint64_t seq);
    /* Waits up to timeout_ms for the echo of `seq`, dropping echoes of earlier ones: 1 with the
     * round trip in *rtt_ns, 0 on timeout, -1 on error (an echo of another size is one). */
    int (*wait)(void *state, size_t size, uint64_t seq, int timeout_ms, uint64_t *rtt_ns);
    void (*close)(void *state);
    /* Echo side: sends every message back, the same size with the same header, until SIGTERM
     * or SIGINT (bench_rt_stopping). 0 or -1. */
    int (*echo)(int domain);
};

extern const struct bench_rt_ops bench_rt_agnocast;
extern const struct bench_rt_ops bench_rt_dds;

/* Set by SIGTERM and SIGINT once bench_rt_catch_stop() ran; the echo loops end on it. */
extern volatile sig_atomic_t bench_rt_stopping;
/* Installs the handler; `also` (may be NULL) runs in it too (async-signal-safe only). */
void bench_rt_catch_stop(void (*also)(void));

#endif
