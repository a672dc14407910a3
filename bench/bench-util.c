/* Harness pieces every case shares: the clock, pinning, shared result memory, pacing. */
#include "bench-util.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int bench_ncpus(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof(set), &set) < 0)
        return 1;
    return CPU_COUNT(&set);
}

void bench_pin(int cpu)
{
    cpu_set_t all, one;
    int seen = 0;

    if (sched_getaffinity(0, sizeof(all), &all) < 0 || CPU_COUNT(&all) < 2)
        return;
    /* The cpu-th allowed CPU, so a restricted cpuset still gets two distinct cores. */
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &all))
            continue;
        if (seen++ == cpu % CPU_COUNT(&all)) {
            CPU_ZERO(&one);
            CPU_SET(c, &one);
            sched_setaffinity(0, sizeof(one), &one);
            return;
        }
    }
}

void *bench_shared_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

static size_t shared_size(uint32_t nsubs, uint64_t count)
{
    return sizeof(struct bench_shared) + (size_t)nsubs * count * sizeof(uint64_t);
}

struct bench_shared *bench_shared_new(uint32_t nsubs, uint64_t count)
{
    struct bench_shared *s;

    if (nsubs < 1 || nsubs > BENCH_MAX_SUBS)
        return NULL;
    s = bench_shared_map(shared_size(nsubs, count));
    if (!s)
        return NULL;
    s->nsubs = nsubs;
    s->count = count;
    return s;
}

void bench_shared_free(struct bench_shared *s)
{
    if (s)
        munmap(s, shared_size(s->nsubs, s->count));
}

bool bench_record(struct bench_shared *s, unsigned sub, const struct bench_hdr *h)
{
    uint64_t now = bench_now_ns();
    uint64_t base = atomic_load_explicit(&s->base, memory_order_acquire);
    uint64_t seq = h->seq;

    if (base && seq >= base && seq - base < s->count) {
        s->samples[sub * s->count + (seq - base)] = now > h->stamp_ns ? now - h->stamp_ns : 1;
        if (!s->received[sub]++)
            s->first_ns[sub] = now;
        s->last_ns[sub] = now;
    }
    atomic_store_explicit(&s->acked[sub], seq, memory_order_release);
    uint64_t done = atomic_load_explicit(&s->done, memory_order_acquire);

    return done && seq >= done;
}

bool bench_wait_acked(struct bench_shared *s, uint64_t seq, int timeout_ms)
{
    uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    unsigned spins = 0;

    for (unsigned i = 0; i < s->nsubs; i++) {
        while (atomic_load_explicit(&s->acked[i], memory_order_acquire) < seq) {
            /* Spin briefly (the usual case), then yield so 16 subscribers on 2 cores run. */
            if (++spins > 2000)
                sched_yield();
            else
                __builtin_ia32_pause();
            if ((spins & 255) == 0 && bench_now_ns() > deadline)
                return false;
        }
    }
    return true;
}

void bench_gap(void)
{
    struct timespec ts = {0, 20000};

    nanosleep(&ts, NULL);
}

int bench_publish_paced(struct bench_shared *s, bench_send_fn send, void *state, uint64_t warm)
{
    uint64_t seq = 0;

    /* Matching: a subscriber may see the publisher only after a while (discovery). */
    for (int tries = 0;; tries++) {
        if (tries > 500) {
            fprintf(stderr, "bench: subscribers never received a message after 5 s\n");
            return -1;
        }
        if (send(state, ++seq) < 0)
            return -1;
        if (bench_wait_acked(s, seq, 10))
            break;
    }
    for (uint64_t i = 0; i < warm; i++) {
        bench_gap();
        if (send(state, ++seq) < 0 || !bench_wait_acked(s, seq, 5000))
            goto lost;
    }
    atomic_store_explicit(&s->base, seq + 1, memory_order_release);
    for (uint64_t i = 0; i < s->count; i++) {
        bench_gap();
        if (send(state, ++seq) < 0 || !bench_wait_acked(s, seq, 5000))
            goto lost;
    }
    atomic_store_explicit(&s->done, seq + 1, memory_order_release);
    bench_gap();
    if (send(state, ++seq) < 0)
        return -1;
    bench_wait_acked(s, seq, 2000);
    return 0;
lost:
    fprintf(stderr, "bench: message %llu was not acknowledged within 5 s\n",
            (unsigned long long)seq);
    atomic_store_explicit(&s->done, 1, memory_order_release);
    return -1;
}

pid_t bench_fork(int (*fn)(void *arg), void *arg)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0)
        _exit(fn(arg));
    return pid;
}

int bench_wait_all(const pid_t *pids, int n)
{
    int rc = 0;

    for (int i = 0; i < n; i++) {
        int st;
        if (pids[i] <= 0) {
            rc = -1;
            continue;
        }
        if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            rc = -1;
    }
    return rc;
}

int bench_full_io(int fd, char *buf, size_t size, bool out)
{
    size_t done = 0;

    while (done < size) {
        ssize_t n = out ? write(fd, buf + done, size - done) : read(fd, buf + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}
