/* The broker's address-range allocator: non-overlapping, 2 MiB-aligned ranges in one window. */
#ifndef AGNOCASTD_RANGES_H
#define AGNOCASTD_RANGES_H

#include <stddef.h>
#include <stdint.h>

#define RANGES_ALIGN        (2u * 1024 * 1024) /* every range starts on a huge-page boundary */
#define RANGES_POOL_UNIT    102400u /* pool sizes are multiples of 100 kB (the seed's unit) */
#define RANGES_USER_TOP     0x800000000000ull /* end of the x86-64/arm64 48-bit user address space */
#define RANGES_DEFAULT_BASE 0x40000000000ull
#define RANGES_DEFAULT_SIZE (16ull << 40)

struct ranges;

/*
 * 0 if [base, base + size) is a usable window: page aligned, not empty, above page zero, below
 * RANGES_USER_TOP. Else -EINVAL and, if `why` is not NULL, a sentence saying what is wrong
 * (free it with g_free).
 */
int ranges_window_validate(uint64_t base, uint64_t size, char **why);

/* A new allocator over a window that ranges_window_validate accepted. */
struct ranges *ranges_new(uint64_t base, uint64_t size);
void ranges_free(struct ranges *r);

/*
 * The pool size a process gets for a request: 0 means `default_size`; the result is rounded up
 * to RANGES_POOL_UNIT. -EINVAL if the request (or the default) is over `max_size`.
 */
int ranges_pool_size(uint64_t requested, uint64_t default_size, uint64_t max_size, uint64_t *out);

/*
 * Reserves `size` bytes. want_base 0: the lowest free 2 MiB-aligned address (first fit);
 * else exactly want_base. Returns 0 and *base, or -EINVAL (size 0, want_base not 2 MiB-aligned),
 * -EADDRINUSE (want_base taken or outside the window), -ENOMEM (no room left).
 */
int ranges_alloc(struct ranges *r, uint64_t size, uint64_t want_base, uint64_t *base);

/* A span of addresses: [base, base + size). */
struct ranges_span {
    uint64_t base;
    uint64_t size;
};

/*
 * ranges_alloc, keeping the new range clear of every span in `avoid` as well (ranges reported
 * occupied in some process's address space): -EADDRINUSE if want_base runs into one, -ENOMEM
 * if no free address clear of them is left.
 */
int ranges_alloc_avoiding(struct ranges *r, uint64_t size, uint64_t want_base,
                          const struct ranges_span *avoid, size_t navoid, uint64_t *base);

/* Gives back the range that starts at `base`; -ENOENT if none does. */
int ranges_release(struct ranges *r, uint64_t base);

/* Ranges currently reserved, and the window. */
size_t ranges_count(const struct ranges *r);
uint64_t ranges_window_base(const struct ranges *r);
uint64_t ranges_window_size(const struct ranges *r);

#endif
