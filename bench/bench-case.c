/* One benchmark case: its parameters, its processes (forked subscribers and publisher), its report.
 */
#include "bench-case.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-stats.h"

int bench_case_init(struct bench_case *c)
{
    if (!c->topic[0])
        snprintf(c->topic, sizeof(c->topic), "/bench/c%d", (int)getpid());
    c->s = bench_shared_new(c->nsubs ? c->nsubs : 1, c->count);
    return c->s ? 0 : -1;
}

bool bench_case_option(struct bench_case *c, int opt, const char *arg)
{
    switch (opt) {
    case 's':
        c->size = strtoull(arg, NULL, 0);
        return true;
    case 'b':
        c->busy = true;
        return true;
    case 'n':
        c->count = strtoull(arg, NULL, 0);
        return true;
    case 'w':
        c->warm = strtoull(arg, NULL, 0);
        return true;
    case 'F':
        c->samples_path = arg;
        return true;
    default:
        return false;
    }
}

void bench_case_ready(struct bench_case *c)
{
    atomic_fetch_add(&c->s->ready, 1);
}

void bench_case_pin(const struct bench_case *c, bool publisher)
{
    if (publisher)
        bench_pin(0);
    else if (c->nsubs == 1)
        bench_pin(1);
}

static void kill_all(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGKILL);
}

int bench_case_run(struct bench_case *c, int (*sub)(void *c), int (*pub)(void *c))
{
    pid_t subs[BENCH_MAX_SUBS] = {0}, p;
    uint64_t deadline = bench_now_ns() + 10000000000ull;
    int rc, st;

    for (unsigned i = 0; i < c->s->nsubs; i++) {
        c->index = i;
        subs[i] = bench_fork(sub, c);
    }
    while (atomic_load(&c->s->ready) < c->s->nsubs) {
        if (atomic_load(&c->s->failed) || bench_now_ns() > deadline) {
            fprintf(stderr, "bench %s: subscribers did not start\n", c->transport);
            kill_all(subs, (int)c->s->nsubs);
            bench_wait_all(subs, (int)c->s->nsubs);
            return -1;
        }
        usleep(1000);
    }
    p = bench_fork(pub, c);
    rc = p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
    if (rc < 0)
        kill_all(subs, (int)c->s->nsubs);
    if (bench_wait_all(subs, (int)c->s->nsubs) < 0)
        rc = -1;
    return rc;
}

static void report_one(struct bench_case *c, const char *case_name, uint64_t *ns, size_t n,
                       const char *extra)
{
    struct bench_stats st;

    bench_stats_compute(ns, n, &st);
    bench_stats_print(stdout, case_name, c->transport, c->size, &st, extra);
    if (c->samples_path && bench_samples_append(c->samples_path, case_name, ns, st.count) < 0)
        fprintf(stderr, "bench: cannot append samples to %s\n", c->samples_path);
}

void bench_case_report(struct bench_case *c, const char *case_name, const char *extra)
{
    struct bench_shared *s = c->s;

    if (!c->fanout) {
        report_one(c, case_name, s->samples, s->count, extra);
        return;
    }
    uint64_t *first = calloc(s->count, sizeof(*first)), *last = calloc(s->count, sizeof(*last));
    char more[256];
    if (!first || !last) {
        free(first);
        free(last);
        return;
    }
    for (uint64_t i = 0; i < s->count; i++) {
        bool all = true;
        for (unsigned k = 0; k < s->nsubs; k++) {
            uint64_t v = s->samples[k * s->count + i];
            if (!v) {
                all = false;
                continue;
            }
            if (!first[i] || v < first[i])
                first[i] = v;
            if (v > last[i])
                last[i] = v;
        }
        if (!all)
            last[i] = 0; /* a message someone missed has no "last" */
    }
    snprintf(more, sizeof(more), ",\"subscribers\":%u%s", s->nsubs, extra ? extra : "");
    report_one(c, "fanout_first", first, s->count, more);
    report_one(c, "fanout_last", last, s->count, more);
    free(first);
    free(last);
}

void bench_case_fini(struct bench_case *c)
{
    bench_shared_free(c->s);
    c->s = NULL;
}
