/* What every module of the library may use: the clock, fork detection, sizes from the
 * environment. Depends on nothing but log. */
#ifndef AGNOCAST_UTIL_H
#define AGNOCAST_UTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds: what ring entries carry. */
uint64_t agn_now_ns(void);

/* A counter bumped in every forked child (pthread_atfork, installed by the first call): a
 * handle made under another value belongs to the parent process. Cheaper than getpid() on
 * every call, which glibc no longer caches. */
unsigned agn_fork_generation(void);

extern _Atomic unsigned agn_fork_counter; /* agn_fork_generation() without the once */
/* Records the sentence for agnocast_last_error(); true. */
bool agn_forked_report(void);

/* Whether a handle made under `generation` belongs to the parent process: then also records
 * the sentence for agnocast_last_error(). Inline: every call of the API asks it once. */
static inline bool agn_forked_since(unsigned generation)
{
    if (__builtin_expect(
            generation == atomic_load_explicit(&agn_fork_counter, memory_order_relaxed), 1))
        return false;
    return agn_forked_report();
}

/* $var: bytes with an optional K/M/G/T suffix (powers of 1024, "KiB" and "KB" alike), rounded
 * up to `align`; *size 0 when unset. -EINVAL with a sentence when it is not a size. */
int agn_size_from_env(const char *var, uint64_t align, uint64_t *size);

#endif
