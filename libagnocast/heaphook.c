/* libagnocast_heaphook.so: malloc and friends, routed to the current loan or the private heap. */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agnocast.h"

/*
 * Routing (docs/heaphook.md): an allocation made on a thread inside a loan window (between
 * agnocast_publisher_loan and the publish or drop of that loan) is a nested allocation of that
 * message, in the segment, freed with it. Everything else goes to the next malloc in the
 * lookup order (glibc's). free, realloc and malloc_usable_size ask the library first whether
 * the pointer lies in a pool; only pointers outside every pool reach the private heap.
 *
 * Nothing here starts an agnocast context: a program that never calls the agnocast API never
 * enters a window, and every call is forwarded after one thread-local test.
 */

#define EXPORT __attribute__((visibility("default")))

struct real_heap {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*memalign)(size_t, size_t);
    size_t (*usable_size)(void *);
};

/* glibc's own names: the fallback when dlsym finds nothing further down the chain. */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static struct real_heap real;
static _Atomic int resolve_state; /* 0 not yet, 1 in progress, 2 done */

/*
 * dlsym may itself allocate (its error buffer, for one) while we look up malloc: those few
 * allocations, and any made by other threads during the look-up, come from this static arena.
 * They are never freed; each carries its size in front for realloc and usable_size.
 */
#define BOOT_SIZE (64 * 1024)
static _Alignas(64) unsigned char boot_arena[BOOT_SIZE];
static _Atomic size_t boot_used;

static bool in_boot(const void *p)
{
    return (const unsigned char *)p >= boot_arena &&
           (const unsigned char *)p < boot_arena + BOOT_SIZE;
}

static void *boot_alloc(size_t align, size_t size)
{
    size_t off, start;

    if (align < 16)
        align = 16;
    if (size > BOOT_SIZE || align > BOOT_SIZE)
        return NULL;
    /* Worst case: align - 16 bytes of padding, 16 of size header, then the data. */
    off = atomic_fetch_add(&boot_used, size + align + 16);
    if (off + size + align + 16 > BOOT_SIZE)
        return NULL;
    start = (((uintptr_t)boot_arena + off + 16 + align - 1) & ~(uintptr_t)(align - 1)) -
            (uintptr_t)boot_arena;
    ((size_t *)(boot_arena + start))[-1] = size;
    return boot_arena + start; /* static storage: already zero */
}

static size_t boot_size(const void *p)
{
    return ((const size_t *)p)[-1];
}

static void *find(const char *name, void *fallback)
{
    void *f = dlsym(RTLD_NEXT, name);

    return f ? f : fallback;
}

/* Returns false while the look-up is under way (the caller uses the boot arena). */
static bool resolve(void)
{
    int expected = 0;

    if (atomic_load_explicit(&resolve_state, memory_order_acquire) == 2)
        return true;
    if (!atomic_compare_exchange_strong(&resolve_state, &expected, 1))
        return atomic_load_explicit(&resolve_state, memory_order_acquire) == 2;
    real.malloc = find("malloc", (void *)__libc_malloc);
    real.free = find("free", (void *)__libc_free);
    real.calloc = find("calloc", (void *)__libc_calloc);
    real.realloc = find("realloc", (void *)__libc_realloc);
    real.memalign = find("memalign", (void *)__libc_memalign);
    real.usable_size = find("malloc_usable_size", NULL);
    atomic_store_explicit(&resolve_state, 2, memory_order_release);
    return true;
}

/* Set while this thread is inside the library: whatever it allocates stays private. */
static __thread int busy __attribute__((tls_model("initial-exec")));

/* Tries the current loan; *routed says whether the answer is final. */
static void *loan_alloc(size_t align, size_t size, int *routed)
{
    void *p;

    if (busy) {
        *routed = 0;
        return NULL;
    }
    busy = 1;
    p = agnocast__hook_alloc(align, size ? size : 1, routed);
    busy = 0;
    return p;
}

static void *private_memalign(size_t align, size_t size)
{
    if (!resolve())
        return boot_alloc(align, size);
    return real.memalign(align, size);
}

static void *hook_memalign(size_t align, size_t size)
{
    int routed;
    void *p = loan_alloc(align, size, &routed);

    return routed ? p : private_memalign(align, size);
}

EXPORT void *malloc(size_t size)
{
    int routed;
    void *p = loan_alloc(16, size, &routed);

    if (routed)
        return p;
    if (!resolve())
        return boot_alloc(16, size);
    return real.malloc(size);
}

EXPORT void free(void *ptr)
{
    int r;

    if (!ptr || in_boot(ptr))
        return;
    busy++;
    r = agnocast__hook_free(ptr);
    busy--;
    if (r)
        return;
    if (!resolve())
        return; /* cannot happen: a private pointer came from a resolved malloc */
    real.free(ptr);
}

EXPORT void *calloc(size_t n, size_t size)
{
    int routed;
    size_t total;
    void *p;

    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    p = loan_alloc(16, total, &routed);
    if (routed) {
        if (p)
            memset(p, 0, total); /* pool memory is recycled, unlike fresh pages */
        return p;
    }
    if (!resolve())
        return boot_alloc(16, total);
    return real.calloc(n, size);
}

EXPORT size_t malloc_usable_size(void *ptr)
{
    int routed;
    size_t n;

    if (!ptr)
        return 0;
    if (in_boot(ptr))
        return boot_size(ptr);
    busy++;
    n = agnocast__hook_usable_size(ptr, &routed);
    busy--;
    if (routed || !resolve() || !real.usable_size)
        return n;
    return real.usable_size(ptr);
}

/* A copy into a new block, the old one left as it is (it is not ours to free). */
static void *copy_to_new(void *ptr, size_t old_size, size_t size)
{
    void *p = malloc(size);

    if (p)
        memcpy(p, ptr, old_size < size ? old_size : size);
    return p;
}

EXPORT void *realloc(void *ptr, size_t size)
{
    int routed;
    void *p;

    if (!ptr)
        return malloc(size);
    if (in_boot(ptr))
        return copy_to_new(ptr, boot_size(ptr), size);
    busy++;
    p = agnocast__hook_realloc(ptr, size, &routed);
    busy--;
    if (routed == 1)
        return p;
    if (routed == 2) {
        size_t old = malloc_usable_size(ptr);
        if (old == 0) {
            errno = ENOMEM; /* pool memory that is no allocation of ours: nothing to copy */
            return NULL;
        }
        return copy_to_new(ptr, old, size);
    }
    resolve();
    return real.realloc(ptr, size);
}

EXPORT void *reallocarray(void *ptr, size_t n, size_t size)
{
    size_t total;

    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(ptr, total);
}

static bool power_of_two(size_t v)
{
    return v && !(v & (v - 1));
}

EXPORT int posix_memalign(void **ret, size_t align, size_t size)
{
    void *p;
    int saved = errno;

    if (!power_of_two(align) || align % sizeof(void *))
        return EINVAL;
    p = hook_memalign(align, size);
    if (!p)
        return ENOMEM;
    errno = saved;
    *ret = p;
    return 0;
}

/* glibc's memalign takes any alignment and rounds it up to a power of two. */
static size_t round_align(size_t align)
{
    if (align <= 16)
        return 16;
    if (align > SIZE_MAX / 2 + 1)
        return 0;
    while (!power_of_two(align))
        align += align & -align;
    return align;
}

EXPORT void *memalign(size_t align, size_t size)
{
    size_t a = round_align(align);

    if (!a) {
        errno = EINVAL;
        return NULL;
    }
    return hook_memalign(a, size);
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    return memalign(align, size);
}

EXPORT void *valloc(size_t size)
{
    return hook_memalign((size_t)sysconf(_SC_PAGESIZE), size);
}

EXPORT void *pvalloc(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t rounded;

    if (__builtin_add_overflow(size, page - 1, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    rounded &= ~(page - 1);
    return hook_memalign(page, rounded ? rounded : page);
}
