/* The C harness of the C++ wrapper's latency case: the same forked processes, pacing and report
 * as the C API's case (bench-agnocast.c), with agnocast.hpp's roles (bench-cxx.cpp) inside. */
#include "bench-cxx.h"

#include <stdio.h>

#include "bench-case.h"
#include "bench-stats.h"

int bench_cxx_record(void *c, const void *hdr)
{
    struct bench_case *bc = c;

    return bench_record(bc->s, bc->index, hdr);
}

void bench_cxx_ready(void *c)
{
    bench_case_ready(c);
}

int bench_cxx_paced(void *c, int (*send)(void *state, uint64_t seq), void *state)
{
    struct bench_case *bc = c;

    return bench_publish_paced(bc->s, send, state, bc->warm);
}

static int sub_main(void *arg)
{
    struct bench_case *c = arg;

    bench_case_pin(c, false);
    return bench_cxx_sub_main(c, c->topic, c->busy);
}

static int pub_main(void *arg)
{
    struct bench_case *c = arg;

    bench_case_pin(c, true);
    return bench_cxx_pub_main(c, c->topic);
}

int bench_cxx_latency(struct bench_case *c)
{
    int rc;

    if (c->size != BENCH_CXX_SIZE) {
        fprintf(stderr, "agnocast-bench: the C++ case sends %d-byte messages only (--size %d)\n",
                BENCH_CXX_SIZE, BENCH_CXX_SIZE);
        return -1;
    }
    if (bench_case_init(c) < 0)
        return -1;
    rc = bench_case_run(c, sub_main, pub_main);
    if (rc == 0)
        bench_case_report(c, "latency", NULL);
    bench_case_fini(c);
    return rc;
}
