/* The C++ wrapper's latency case: agnocast.hpp's roles (bench-cxx.cpp) under the C harness
 * (bench-cxx-case.c). This header is read by both languages, so it names no C11 atomics. */
#ifndef AGNOCAST_BENCH_CXX_H
#define AGNOCAST_BENCH_CXX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the C++ roles publish: struct bench_hdr (bench-util.h) padded to 64 bytes. */
#define BENCH_CXX_SIZE 64

struct bench_case;
/* The paced latency case through agnocast.hpp, event or busy; --size must be BENCH_CXX_SIZE. */
int bench_cxx_latency(struct bench_case *c);

/* From C for the C++ roles. */
uint64_t bench_now_ns(void);
/* Records a received message (its first 16 bytes are a struct bench_hdr); nonzero: stop. */
int bench_cxx_record(void *c, const void *hdr);
/* Counts the subscriber ready. */
void bench_cxx_ready(void *c);
/* Runs the paced publisher loop, calling send(state, seq) per message; 0 or -1. */
int bench_cxx_paced(void *c, int (*send)(void *state, uint64_t seq), void *state);

/* The C++ roles, for bench_case_run(): 0 or 1 (their exit status). */
int bench_cxx_sub_main(void *c, const char *topic, int busy);
int bench_cxx_pub_main(void *c, const char *topic);

#ifdef __cplusplus
}
#endif

#endif
