/* The control-plane case: registration, publisher and subscription creation, broker memory. */
#include "bench-control.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agnocast.h"
#include "bench-stats.h"
#include "bench-util.h"

struct control_shared {
    _Atomic uint32_t ready, failed;
    uint64_t samples[]; /* registration[P], publisher[P*K], subscription[P*K] */
};

struct control_child {
    struct control_shared *sh;
    unsigned index, processes, per_process;
    int hold_fd; /* read end: EOF when the runner is done measuring */
};

static int child_main(void *arg)
{
    struct control_child *cc = arg;
    uint64_t *reg = cc->sh->samples;
    uint64_t *pubs = reg + cc->processes, *subs = pubs + cc->processes * cc->per_process;
    struct agnocast_context *ctx;
    char topic[64], byte;
    uint64_t t;
    int r;

    setenv("MEMPOOL_SIZE", "1M", 1);
    t = bench_now_ns();
    if ((r = agnocast_context_new(&ctx)) < 0)
        goto fail;
    reg[cc->index] = bench_now_ns() - t;
    for (unsigned k = 0; k < cc->per_process; k++) {
        struct agnocast_publisher *p;
        snprintf(topic, sizeof(topic), "/bench/ctl/p%u_%u", cc->index, k);
        t = bench_now_ns();
        if ((r = agnocast_publisher_new(ctx, topic, 1, 0, &p)) < 0)
            goto fail;
        pubs[cc->index * cc->per_process + k] = bench_now_ns() - t;
    }
    for (unsigned k = 0; k < cc->per_process; k++) {
        struct agnocast_subscription *s;
        snprintf(topic, sizeof(topic), "/bench/ctl/p%u_%u", cc->index ? cc->index - 1 : 0, k);
        t = bench_now_ns();
        if ((r = agnocast_subscription_new(ctx, topic, 1, 0, NULL, NULL, &s)) < 0)
            goto fail;
        subs[cc->index * cc->per_process + k] = bench_now_ns() - t;
    }
    atomic_fetch_add(&cc->sh->ready, 1);
    while (read(cc->hold_fd, &byte, 1) > 0) {
    }
    agnocast_context_free(ctx);
    return 0;
fail:
    fprintf(stderr, "bench control: process %u: %s (%s)\n", cc->index, agnocast_strerror(r),
            agnocast_last_error());
    atomic_store(&cc->sh->failed, 1);
    return 1;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static void report(const char *what, uint64_t *v, size_t n)
{
    struct bench_stats st;

    bench_stats_compute(v, n, &st);
    bench_stats_print(stdout, "control", what, 0, &st, NULL);
}

int bench_control(unsigned processes, unsigned per_process, pid_t broker_pid)
{
    size_t nsamples = processes + 2 * (size_t)processes * per_process;
    struct control_shared *sh = bench_shared_map(sizeof(*sh) + nsamples * sizeof(uint64_t));
    pid_t *pids = calloc(processes, sizeof(*pids));
    long idle = rss_kib(broker_pid), busy = -1;
    int hold[2], rc = 0;

    if (!sh || !pids || pipe(hold) < 0)
        return -1;
    for (unsigned i = 0; i < processes && rc == 0; i++) {
        struct control_child cc = {sh, i, processes, per_process, hold[0]};
        uint64_t deadline = bench_now_ns() + 10000000000ull;
        pid_t pid;
        fflush(NULL);
        if ((pid = fork()) == 0) {
            close(hold[1]);
            _exit(child_main(&cc));
        }
        pids[i] = pid;
        /* One at a time, so each figure is one request against a broker of i processes. */
        while (atomic_load(&sh->ready) < i + 1 && rc == 0) {
            if (atomic_load(&sh->failed) || pid < 0 || bench_now_ns() > deadline)
                rc = -1;
            usleep(200);
        }
    }
    if (rc == 0)
        busy = rss_kib(broker_pid);
    close(hold[1]);
    if (rc < 0)
        for (unsigned i = 0; i < processes; i++)
            if (pids[i] > 0)
                kill(pids[i], SIGKILL);
    if (bench_wait_all(pids, (int)processes) < 0)
        rc = -1;
    close(hold[0]);
    if (rc == 0) {
        uint64_t *reg = sh->samples;
        report("registration", reg, processes);
        report("publisher_new", reg + processes, (size_t)processes * per_process);
        report("subscription_new", reg + processes + (size_t)processes * per_process,
               (size_t)processes * per_process);
        printf("{\"case\":\"broker_rss\",\"transport\":\"agnocastd\",\"processes\":%u,"
               "\"topics\":%u,\"rss_idle_kib\":%ld,\"rss_kib\":%ld}\n",
               processes, processes * per_process, idle, busy);
    }
    free(pids);
    munmap(sh, sizeof(*sh) + nsamples * sizeof(uint64_t));
    return rc;
}
