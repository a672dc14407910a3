/* The clock, fork detection, sizes from the environment. */
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

_Atomic unsigned agn_fork_counter;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add_explicit(&agn_fork_counter, 1, memory_order_relaxed);
}

static void install_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

uint64_t agn_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

unsigned agn_fork_generation(void)
{
    pthread_once(&atfork_once, install_atfork);
    return atomic_load_explicit(&agn_fork_counter, memory_order_relaxed);
}

bool agn_forked_report(void)
{
    agn_fail(-ECHILD, "this handle belongs to the parent process; create a new context after fork");
    return true;
}

int agn_size_from_env(const char *var, uint64_t align, uint64_t *size)
{
    const char *s = getenv(var);
    unsigned long long v, mult = 1;
    char *end;

    *size = 0;
    if (!s || !*s)
        return 0;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (end == s || errno || s[0] == '-')
        goto bad;
    switch (*end) {
    case 'k':
    case 'K':
        mult = 1ull << 10;
        end++;
        break;
    case 'm':
    case 'M':
        mult = 1ull << 20;
        end++;
        break;
    case 'g':
    case 'G':
        mult = 1ull << 30;
        end++;
        break;
    case 't':
    case 'T':
        mult = 1ull << 40;
        end++;
        break;
    default:
        break;
    }
    if (*end == 'i' || *end == 'B')
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end || v == 0 || v > (1ull << 46) / mult)
        goto bad;
    v *= mult;
    *size = (v + align - 1) / align * align;
    return 0;
bad:
    return agn_fail(-EINVAL,
                    "%s=\"%s\" is not a size: give bytes, optionally with a K, M, G or T suffix "
                    "(e.g. %s=256M), up to 64T",
                    var, s, var);
}
