/* Harness pieces every case shares: the clock, pinning, shared result memory, pacing. */
#ifndef AGNOCAST_BENCH_UTIL_H
#define AGNOCAST_BENCH_UTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_MAX_SUBS 16

/* What every transport puts first in a message: stamped right before the send/publish call. */
struct bench_hdr {
    uint64_t stamp_ns; /* CLOCK_MONOTONIC */
    uint64_t seq;
};

/*
 * Shared between the runner, the publisher and the subscribers of one case (an anonymous
 * MAP_SHARED mapping made before fork). Messages are paced one in flight: the publisher sends
 * seq, waits until every subscriber has acked seq, pauses `gap`, sends the next, so queueing
 * never enters a latency figure.
 */
struct bench_shared {
    _Atomic uint64_t acked[BENCH_MAX_SUBS]; /* highest seq each subscriber has handled */
    _Atomic uint32_t ready;                 /* subscribers set up */
    _Atomic uint32_t failed;
    _Atomic uint64_t base; /* first measured seq; 0 while warming up */
    _Atomic uint64_t done; /* seq of the publisher's last message; 0 = more */
    uint32_t nsubs;
    uint64_t count; /* measured messages */
    uint64_t received[BENCH_MAX_SUBS];
    uint64_t first_ns[BENCH_MAX_SUBS];
    uint64_t last_ns[BENCH_MAX_SUBS];
    uint64_t samples[]; /* [sub * count + i]: one-way latency in ns, 0 = not received */
};

uint64_t bench_now_ns(void);
/* CPUs this process may run on. */
int bench_ncpus(void);
/* Pins the calling process to `cpu` when at least two CPUs are available; else does nothing. */
void bench_pin(int cpu);
/* Anonymous shared memory inherited across fork; NULL on failure. */
void *bench_shared_map(size_t size);
struct bench_shared *bench_shared_new(uint32_t nsubs, uint64_t count);
void bench_shared_free(struct bench_shared *s);

/* Subscriber side: records the latency of message `h` received now, acks it. Returns true when
 * the publisher is done and the subscriber should stop. */
bool bench_record(struct bench_shared *s, unsigned sub, const struct bench_hdr *h);
/* Publisher side: waits until every subscriber acked `seq`; false after timeout_ms. */
bool bench_wait_acked(struct bench_shared *s, uint64_t seq, int timeout_ms);
/* The pause between paced messages (lets a blocking subscriber fall asleep again). */
void bench_gap(void);

/*
 * The paced publisher loop shared by every latency case: sends until each subscriber acked one
 * message (they are matched), then `warm` more, then `count` measured ones, then a final one
 * whose seq it stores in `done` first. send() stamps the header and sends; it returns 0 or -1.
 */
typedef int (*bench_send_fn)(void *state, uint64_t seq);
int bench_publish_paced(struct bench_shared *s, bench_send_fn send, void *state, uint64_t warm);

/* Forks a child running fn(arg) and exiting with its return value. */
pid_t bench_fork(int (*fn)(void *arg), void *arg);
/* Waits for every pid; returns 0 if all exited 0. */
int bench_wait_all(const pid_t *pids, int n);
/* Writes (out) or reads all `size` bytes of buf on a stream; 0, or -1 on error or end of file. */
int bench_full_io(int fd, char *buf, size_t size, bool out);

#endif
