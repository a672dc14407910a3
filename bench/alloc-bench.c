/* Benchmark of the segment allocator (libagnocast/pool.c) against glibc malloc, same run. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "pool.h"

/*
 * Each workload replays one fixed random sequence of allocations and frees (up to SLOTS live
 * blocks) through both allocators; what counts is the ratio pool / glibc, since absolute
 * figures drift on shared machines. Touching one byte per block keeps both honest about
 * handing out real memory.
 */
#define SLOTS 4096
#define OPS   2000000

struct workload {
    const char *name;
    size_t min, max;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t *make_script(const struct workload *w, uint32_t *sizes)
{
    uint32_t *slot = malloc(OPS * sizeof(*slot));
    uint64_t x = 0x2545f4914f6cdd1dull;

    for (int i = 0; i < OPS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        slot[i] = (uint32_t)(x % SLOTS);
        sizes[i] = (uint32_t)(w->min + (x >> 20) % (w->max - w->min + 1));
    }
    return slot;
}

static double run_pool(struct agn_pool *pool, const uint32_t *slot, const uint32_t *sizes,
                       size_t *failed)
{
    static void *live[SLOTS];
    uint64_t t0 = now_ns();

    for (int i = 0; i < OPS; i++) {
        void **p = &live[slot[i]];
        if (*p) {
            agn_pool_free(pool, *p);
            *p = NULL;
        } else if ((*p = agn_pool_alloc(pool, sizes[i]))) {
            *(volatile char *)*p = 1;
        } else {
            (*failed)++;
        }
    }
    for (int i = 0; i < SLOTS; i++) {
        agn_pool_free(pool, live[i]);
        live[i] = NULL;
    }
    return (double)(now_ns() - t0) / OPS;
}

static double run_glibc(const uint32_t *slot, const uint32_t *sizes)
{
    static void *live[SLOTS];
    uint64_t t0 = now_ns();

    for (int i = 0; i < OPS; i++) {
        void **p = &live[slot[i]];
        if (*p) {
            free(*p);
            *p = NULL;
        } else if ((*p = malloc(sizes[i]))) {
            *(volatile char *)*p = 1;
        }
    }
    for (int i = 0; i < SLOTS; i++) {
        free(live[i]);
        live[i] = NULL;
    }
    return (double)(now_ns() - t0) / OPS;
}

int main(int argc, char **argv)
{
    static const struct workload loads[] = {
        {"small 16-256 B", 16, 256},
        {"medium 256 B-8 KiB", 256, 8192},
        {"large 8-256 KiB", 8192, 262144},
    };
    size_t area_size = 2ull << 30; /* 2 GiB of address space, touched only where used */
    void *area = mmap(NULL, area_size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    struct agn_pool pool;
    int json = argc > 1 && strcmp(argv[1], "--json") == 0;

    if (area == MAP_FAILED) {
        perror("alloc-bench: mmap");
        return 1;
    }
    agn_pool_init(&pool, area, area_size);
    if (json)
        printf("[");
    for (size_t i = 0; i < sizeof(loads) / sizeof(loads[0]); i++) {
        uint32_t *sizes = malloc(OPS * sizeof(*sizes));
        uint32_t *slot = make_script(&loads[i], sizes);
        size_t failed = 0;
        double g, p;

        /* Warm both (page faults, glibc's arenas), then measure, pool and glibc alternately. */
        run_pool(&pool, slot, sizes, &failed);
        run_glibc(slot, sizes);
        p = run_pool(&pool, slot, sizes, &failed);
        g = run_glibc(slot, sizes);
        p = (p + run_pool(&pool, slot, sizes, &failed)) / 2;
        g = (g + run_glibc(slot, sizes)) / 2;
        if (json)
            printf("%s{\"workload\": \"%s\", \"pool_ns\": %.1f, \"glibc_ns\": %.1f, "
                   "\"ratio\": %.2f, \"failed\": %zu}",
                   i ? ", " : "", loads[i].name, p, g, p / g, failed);
        else
            printf("%-20s pool %6.1f ns/op  glibc %6.1f ns/op  ratio %.2f%s\n", loads[i].name, p, g,
                   p / g, failed ? "  (pool full at times)" : "");
        free(slot);
        free(sizes);
    }
    if (json)
        printf("]\n");
    if (agn_pool_used(&pool) != 0 || agn_pool_check(&pool, NULL) != 0) {
        fprintf(stderr, "alloc-bench: the pool did not return to empty\n");
        return 1;
    }
    return 0;
}
