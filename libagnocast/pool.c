/* The allocator of the own segment's heap: two-level segregated fit (TLSF), O(1) per call. */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "pool.h"

/*
 * Every block starts with a 16-byte header: the size of the physically previous block and its
 * own size (header included, a multiple of 16) with two flags. A free block also carries the
 * links of its free list in its payload, so a block is at least 32 bytes. Free neighbours are
 * always merged, so a free block's physical neighbours are used blocks (or area ends).
 *
 * Free blocks sit in one list per size class: the first level is the power of two of the size,
 * the second splits it into 32 linear steps, and blocks under 512 bytes get one class per
 * 16 bytes. Two bitmaps say which lists are non-empty, so finding a block is a few bit scans.
 * A request is rounded up to the next class boundary before the search, so any block of the
 * class found fits: the waste is bounded by 1/32 of the size plus one header.
 *
 * All of it lives in the memory the pool manages (the control block at the start of the first
 * area): the allocator never calls malloc, so it can serve malloc itself.
 */
struct blk {
    size_t prev_size; /* of the physically previous block; 0 for an area's first block */
    size_t size;      /* header included, with BLK_FREE and BLK_PREV_FREE */
    struct blk *next_free, *prev_free; /* free blocks only */
};

#define BLK_FREE      ((size_t)1)
#define BLK_PREV_FREE ((size_t)2)
#define BLK_FLAGS     ((size_t)15)
#define HDR           ((size_t)16)
#define MIN_BLOCK     ((size_t)32)
#define ALIGN         ((size_t)16)

#define SL_LOG2  5
#define SL_COUNT (1u << SL_LOG2)
#define FL_SHIFT (SL_LOG2 + 4) /* sizes below 1 << FL_SHIFT are all in first level 0 */
#define FL_MAX   48            /* sizes below 1 << FL_MAX (256 TiB) */
#define FL_COUNT (FL_MAX - FL_SHIFT + 1)

/* One per area, at its start: areas form a list so a walk can visit every block. */
struct area {
    struct area *next;
    uintptr_t end; /* the end sentinel's address */
};

struct ctl {
    uint64_t fl_bitmap;
    uint32_t sl_bitmap[FL_COUNT];
    struct area *areas;
    struct blk *heads[FL_COUNT][SL_COUNT];
};

_Static_assert(sizeof(struct blk) == MIN_BLOCK, "a free block holds its links");
_Static_assert(sizeof(struct area) % ALIGN == 0, "blocks stay 16-byte aligned");
_Static_assert(FL_COUNT < 64, "first-level bitmap fits in 64 bits");

/* ---- the process-wide table of pool areas, for the heap hook's ownership test ---- */

#define REG_MAX 256
static struct {
    _Atomic uintptr_t lo, hi;
    struct agn_pool *_Atomic pool;
    _Atomic bool inherited; /* from before a fork: not mapped here (MADV_DONTFORK) */
} reg[REG_MAX];
static _Atomic unsigned reg_count; /* entries in use or once used: the scan bound */
static _Atomic uintptr_t reg_lo = UINTPTR_MAX, reg_hi;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static void reg_add(struct agn_pool *pool, uintptr_t lo, uintptr_t hi)
{
    pthread_mutex_lock(&reg_lock);
    for (unsigned i = 0; i < REG_MAX; i++) {
        if (atomic_load(&reg[i].pool))
            continue;
        atomic_store(&reg[i].lo, lo);
        atomic_store(&reg[i].hi, hi);
        atomic_store(&reg[i].inherited, false);
        atomic_store(&reg[i].pool, pool);
        if (i >= atomic_load(&reg_count))
            atomic_store(&reg_count, i + 1);
        if (lo < atomic_load(&reg_lo))
            atomic_store(&reg_lo, lo);
        if (hi > atomic_load(&reg_hi))
            atomic_store(&reg_hi, hi);
        break;
    }
    pthread_mutex_unlock(&reg_lock);
}

/* A fork child keeps the table (so it never hands segment addresses to another allocator)
 * but must not read the areas: they are not mapped in it. */
static void reg_mark_inherited(void)
{
    for (unsigned i = 0; i < REG_MAX; i++)
        atomic_store(&reg[i].inherited, true);
}

__attribute__((constructor)) static void reg_register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, reg_mark_inherited);
}

struct agn_pool *agn_pool_owner(const void *ptr, bool *inherited)
{
    uintptr_t p = (uintptr_t)ptr;
    unsigned n;

    /* The fast path for every pointer of the private heap: outside all areas ever seen. */
    if (p < atomic_load_explicit(&reg_lo, memory_order_relaxed) ||
        p >= atomic_load_explicit(&reg_hi, memory_order_relaxed))
        return NULL;
    n = atomic_load_explicit(&reg_count, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        struct agn_pool *pool = atomic_load_explicit(&reg[i].pool, memory_order_acquire);
        if (pool && p >= atomic_load_explicit(&reg[i].lo, memory_order_relaxed) &&
            p < atomic_load_explicit(&reg[i].hi, memory_order_relaxed)) {
            if (inherited)
                *inherited = atomic_load_explicit(&reg[i].inherited, memory_order_relaxed);
            return pool;
        }
    }
    return NULL;
}

/* ---- size classes ---- */

static int fls_size(size_t v)
{
    return (int)(sizeof(unsigned long long) * 8) - 1 - __builtin_clzll((unsigned long long)v);
}

static void mapping(size_t size, int *fl, int *sl)
{
    if (size < ((size_t)1 << FL_SHIFT)) {
        *fl = 0;
        *sl = (int)(size / ALIGN);
    } else {
        int f = fls_size(size);
        *sl = (int)((size >> (f - SL_LOG2)) ^ SL_COUNT);
        *fl = f - (FL_SHIFT - 1);
    }
}

/* The class from which every block fits `size`. */
static void mapping_search(size_t size, int *fl, int *sl)
{
    if (size >= ((size_t)1 << FL_SHIFT))
        size += ((size_t)1 << (fls_size(size) - SL_LOG2)) - 1;
    mapping(size, fl, sl);
}

static struct ctl *ctl_of(struct agn_pool *pool)
{
    return (struct ctl *)pool->ctl;
}

static size_t bsize(const struct blk *b)
{
    return b->size & ~BLK_FLAGS;
}

static struct blk *next_phys(struct blk *b)
{
    return (struct blk *)((char *)b + bsize(b));
}

static struct blk *prev_phys(struct blk *b)
{
    return (struct blk *)((char *)b - b->prev_size);
}

static void list_insert(struct ctl *c, struct blk *b)
{
    int fl, sl;

    mapping(bsize(b), &fl, &sl);
    b->prev_free = NULL;
    b->next_free = c->heads[fl][sl];
    if (b->next_free)
        b->next_free->prev_free = b;
    c->heads[fl][sl] = b;
    c->fl_bitmap |= 1ull << fl;
    c->sl_bitmap[fl] |= 1u << sl;
}

static void list_remove(struct ctl *c, struct blk *b)
{
    int fl, sl;

    mapping(bsize(b), &fl, &sl);
    if (b->next_free)
        b->next_free->prev_free = b->prev_free;
    if (b->prev_free) {
        b->prev_free->next_free = b->next_free;
    } else {
        c->heads[fl][sl] = b->next_free;
        if (!b->next_free) {
            c->sl_bitmap[fl] &= ~(1u << sl);
            if (!c->sl_bitmap[fl])
                c->fl_bitmap &= ~(1ull << fl);
        }
    }
}

static struct blk *find_fit(struct ctl *c, size_t size)
{
    int fl, sl;
    uint32_t sl_map;

    mapping_search(size, &fl, &sl);
    if (fl >= FL_COUNT)
        return NULL;
    sl_map = sl < (int)SL_COUNT ? c->sl_bitmap[fl] & (~0u << sl) : 0;
    if (!sl_map) {
        uint64_t fl_map = fl + 1 < 64 ? c->fl_bitmap & (~0ull << (fl + 1)) : 0;
        if (!fl_map)
            return NULL;
        fl = __builtin_ctzll(fl_map);
        sl_map = c->sl_bitmap[fl];
    }
    sl = __builtin_ctz(sl_map);
    return c->heads[fl][sl];
}

/* When no class is wholly big enough, the class holding `size` itself may still have a block
 * that fits (the last free block of a nearly full pool, say): look at a bounded few. */
static struct blk *find_near(struct ctl *c, size_t size)
{
    int fl, sl, n = 0;

    mapping(size, &fl, &sl);
    if (fl >= FL_COUNT)
        return NULL;
    for (struct blk *b = c->heads[fl][sl]; b && n < 8; b = b->next_free, n++)
        if (bsize(b) >= size)
            return b;
    return NULL;
}

/* Sets b's size (keeping its flags) and tells the next block. */
static void set_size(struct blk *b, size_t size)
{
    b->size = size | (b->size & BLK_FLAGS);
    next_phys(b)->prev_size = size;
}

/* Makes b a free block: merges it with free neighbours and files it. b is not in any list. */
static void make_free(struct ctl *c, struct blk *b)
{
    struct blk *n = next_phys(b);

    if (n->size & BLK_FREE) {
        list_remove(c, n);
        set_size(b, bsize(b) + bsize(n));
    }
    if (b->size & BLK_PREV_FREE) {
        struct blk *p = prev_phys(b);
        list_remove(c, p);
        set_size(p, bsize(p) + bsize(b));
        b = p;
    }
    b->size |= BLK_FREE;
    next_phys(b)->size |= BLK_PREV_FREE;
    list_insert(c, b);
}

/* Marks b used; b is not in any list. */
static void make_used(struct blk *b)
{
    b->size &= ~BLK_FREE;
    next_phys(b)->size &= ~BLK_PREV_FREE;
}

/* Cuts a used block b down to `size`, freeing the tail when it can stand as a block. */
static void trim(struct ctl *c, struct blk *b, size_t size)
{
    size_t have = bsize(b);
    struct blk *rest;

    if (have - size < MIN_BLOCK)
        return;
    rest = (struct blk *)((char *)b + size);
    rest->size = 0; /* used, previous used */
    set_size(b, size);
    set_size(rest, have - size);
    make_free(c, rest);
}

/* Block size for a payload of `size` bytes, or 0 when it cannot be met. */
static size_t block_size(struct agn_pool *pool, size_t size)
{
    size_t need;

    if (size > pool->capacity)
        return 0;
    need = (size + HDR + ALIGN - 1) & ~(ALIGN - 1);
    return need < MIN_BLOCK ? MIN_BLOCK : need;
}

/* The end of the area holding p, or 0. */
static uintptr_t area_end(struct agn_pool *pool, uintptr_t p)
{
    unsigned n = atomic_load_explicit(&pool->nextra, memory_order_acquire);

    if (p >= pool->start && p < pool->end)
        return pool->end;
    for (unsigned i = 0; i < n; i++)
        if (p >= pool->extra[i].start && p < pool->extra[i].end)
            return pool->extra[i].end;
    return 0;
}

bool agn_pool_contains(struct agn_pool *pool, uintptr_t p)
{
    return area_end(pool, p) != 0;
}

static struct blk *block_of(struct agn_pool *pool, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr, end = area_end(pool, p - HDR);
    struct blk *b;

    if (!end || p % ALIGN)
        return NULL;
    b = (struct blk *)(p - HDR);
    if ((b->size & BLK_FREE) || bsize(b) < MIN_BLOCK || p - HDR + bsize(b) > end)
        return NULL;
    return b;
}

/* Carves one area into a first free block and an end sentinel. */
static void add_area(struct ctl *c, uintptr_t s, uintptr_t e)
{
    struct area *a = (struct area *)s;
    struct blk *b = (struct blk *)(s + sizeof(*a));
    struct blk *end = (struct blk *)(e - HDR);

    a->end = (uintptr_t)end;
    a->next = c->areas;
    c->areas = a;
    b->prev_size = 0;
    b->size = (uintptr_t)end - (uintptr_t)b;
    end->prev_size = bsize(b);
    end->size = 0; /* a used block of size 0: nothing merges past it */
    make_free(c, b);
}

void agn_pool_init(struct agn_pool *pool, void *start, size_t size)
{
    uintptr_t s = ((uintptr_t)start + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    uintptr_t e = ((uintptr_t)start + size) & ~(uintptr_t)(ALIGN - 1);
    size_t ctl_size = (sizeof(struct ctl) + ALIGN - 1) & ~(ALIGN - 1);
    struct ctl *c = (struct ctl *)s;

    pthread_mutex_init(&pool->lock, NULL);
    pool->start = s;
    pool->end = e > s ? e : s;
    pool->capacity = pool->end - s;
    atomic_store(&pool->nextra, 0);
    pool->used = 0;
    pool->allocations = 0;
    pool->ctl = 0;
    if (pool->end - s < ctl_size + sizeof(struct area) + MIN_BLOCK + HDR)
        return; /* too small to hold anything: every allocation fails */
    memset(c, 0, sizeof(*c));
    pool->ctl = s;
    add_area(c, s + ctl_size, e);
    reg_add(pool, s, e);
}

int agn_pool_add_area(struct agn_pool *pool, void *start, size_t size)
{
    uintptr_t s = ((uintptr_t)start + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    uintptr_t e = ((uintptr_t)start + size) & ~(uintptr_t)(ALIGN - 1);
    unsigned n;

    if (!pool->ctl || e <= s || e - s < sizeof(struct area) + MIN_BLOCK + 2 * HDR)
        return -EINVAL;
    pthread_mutex_lock(&pool->lock);
    n = atomic_load_explicit(&pool->nextra, memory_order_relaxed);
    if (n == AGN_POOL_EXTRA_AREAS) {
        pthread_mutex_unlock(&pool->lock);
        return -ENOSPC;
    }
    pool->extra[n].start = s;
    pool->extra[n].end = e;
    atomic_store_explicit(&pool->nextra, n + 1, memory_order_release);
    pool->capacity += e - s;
    add_area(ctl_of(pool), s, e);
    pthread_mutex_unlock(&pool->lock);
    reg_add(pool, s, e);
    return 0;
}

static _Atomic uint64_t generation; /* areas forgotten so far */

uint64_t agn_pool_generation(void)
{
    return atomic_load_explicit(&generation, memory_order_acquire);
}

void agn_pool_fini(struct agn_pool *pool)
{
    atomic_fetch_add_explicit(&generation, 1, memory_order_acq_rel);
    pthread_mutex_lock(&reg_lock);
    for (unsigned i = 0; i < REG_MAX; i++)
        if (atomic_load(&reg[i].pool) == pool)
            atomic_store(&reg[i].pool, NULL);
    pthread_mutex_unlock(&reg_lock);
    pool->ctl = 0;
}

/* Takes a free block of at least `need` bytes out of the lists (under the lock). */
static struct blk *take(struct ctl *c, size_t need)
{
    struct blk *b = find_fit(c, need);

    if (!b && !(b = find_near(c, need)))
        return NULL;
    list_remove(c, b);
    make_used(b);
    return b;
}

static void *finish_alloc(struct agn_pool *pool, struct blk *b, size_t need)
{
    trim(ctl_of(pool), b, need);
    pool->used += bsize(b);
    pool->allocations++;
    return (char *)b + HDR;
}

void *agn_pool_alloc(struct agn_pool *pool, size_t size)
{
    size_t need = block_size(pool, size);
    struct blk *b;
    void *p = NULL;

    if (!need || !pool->ctl)
        return NULL;
    pthread_mutex_lock(&pool->lock);
    if ((b = take(ctl_of(pool), need)))
        p = finish_alloc(pool, b, need);
    pthread_mutex_unlock(&pool->lock);
    return p;
}

void *agn_pool_memalign_offset(struct agn_pool *pool, size_t align, size_t offset, size_t size)
{
    size_t need = block_size(pool, size);
    struct blk *b;
    uintptr_t payload, p;
    void *ret = NULL;

    if (align == 0 || (align & (align - 1)) || offset % ALIGN)
        return NULL;
    if (align <= ALIGN)
        return agn_pool_alloc(pool, size);
    if (!need || !pool->ctl || align > pool->capacity)
        return NULL;
    pthread_mutex_lock(&pool->lock);
    /* Room for the block, a front gap up to `align`, and that gap standing as a free block. */
    b = take(ctl_of(pool), need + align + MIN_BLOCK);
    if (b) {
        payload = (uintptr_t)b + HDR;
        p = ((payload + offset + align - 1) & ~(uintptr_t)(align - 1)) - offset;
        if (p != payload && p - payload < MIN_BLOCK)
            p += align;
        if (p != payload) {
            /* The gap becomes a free block of its own; its previous block is used. */
            struct blk *front = b;
            size_t total = bsize(b);
            b = (struct blk *)(p - HDR);
            b->size = 0;
            set_size(front, p - payload);
            set_size(b, total - (p - payload));
            make_free(ctl_of(pool), front);
            make_used(b);
        }
        ret = finish_alloc(pool, b, need);
    }
    pthread_mutex_unlock(&pool->lock);
    return ret;
}

void *agn_pool_memalign(struct agn_pool *pool, size_t align, size_t size)
{
    return agn_pool_memalign_offset(pool, align, 0, size);
}

void agn_pool_free(struct agn_pool *pool, void *ptr)
{
    struct blk *b;

    if (!ptr || !pool->ctl)
        return;
    pthread_mutex_lock(&pool->lock);
    b = block_of(pool, ptr);
    if (b) {
        pool->used -= bsize(b);
        pool->allocations--;
        make_free(ctl_of(pool), b);
    } else {
        pool->bad_frees++; /* not a live block: a double free is dropped, not propagated */
    }
    pthread_mutex_unlock(&pool->lock);
}

void *agn_pool_realloc(struct agn_pool *pool, void *ptr, size_t size)
{
    struct blk *b, *n;
    size_t need, have;
    void *p;

    if (!ptr)
        return agn_pool_alloc(pool, size);
    if (!(need = block_size(pool, size)) || !pool->ctl)
        return NULL;
    pthread_mutex_lock(&pool->lock);
    if (!(b = block_of(pool, ptr))) {
        pthread_mutex_unlock(&pool->lock);
        return NULL;
    }
    have = bsize(b);
    n = next_phys(b);
    if (need <= have || ((n->size & BLK_FREE) && have + bsize(n) >= need)) {
        /* In place: shrink, or grow into the free next block. */
        if (need > have) {
            list_remove(ctl_of(pool), n);
            set_size(b, have + bsize(n));
            make_used(b);
        }
        trim(ctl_of(pool), b, need);
        pool->used += bsize(b) - have;
        pthread_mutex_unlock(&pool->lock);
        return ptr;
    }
    pthread_mutex_unlock(&pool->lock);
    p = agn_pool_alloc(pool, size);
    if (p) {
        memcpy(p, ptr, have - HDR);
        agn_pool_free(pool, ptr);
    }
    return p;
}

size_t agn_pool_usable_size(struct agn_pool *pool, const void *ptr)
{
    struct blk *b;
    size_t n = 0;

    if (!ptr || !pool->ctl)
        return 0;
    pthread_mutex_lock(&pool->lock);
    if ((b = block_of(pool, ptr)))
        n = bsize(b) - HDR;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

size_t agn_pool_used(struct agn_pool *pool)
{
    size_t used;

    pthread_mutex_lock(&pool->lock);
    used = pool->used;
    pthread_mutex_unlock(&pool->lock);
    return used;
}

/* Checks one free block against the lists: it must be in the list of its class. */
static bool listed(struct ctl *c, struct blk *b)
{
    int fl, sl;

    mapping(bsize(b), &fl, &sl);
    for (struct blk *f = c->heads[fl][sl]; f; f = f->next_free)
        if (f == b)
            return true;
    return false;
}

int agn_pool_check(struct agn_pool *pool, struct agn_pool_stats *st)
{
    struct agn_pool_stats s = {0};
    struct ctl *c;
    size_t listed_blocks = 0;
    int r = 0;

    pthread_mutex_lock(&pool->lock);
    c = ctl_of(pool);
    if (!c)
        goto out;
    for (struct area *a = c->areas; a && !r; a = a->next) {
        struct blk *b = (struct blk *)(a + 1);
        bool prev_free = false;
        size_t prev_size = 0;
        while ((uintptr_t)b < a->end) {
            size_t sz = bsize(b);
            bool is_free = b->size & BLK_FREE;
            if (sz < MIN_BLOCK || sz % ALIGN || (uintptr_t)b + sz > a->end ||
                b->prev_size != prev_size || !!(b->size & BLK_PREV_FREE) != prev_free ||
                (is_free && prev_free) || (is_free && !listed(c, b))) {
                r = -EBADMSG;
                break;
            }
            if (is_free) {
                s.free_blocks++;
                s.free_bytes += sz;
                if (sz - HDR > s.largest_free)
                    s.largest_free = sz - HDR;
            } else {
                s.used_blocks++;
                s.used_bytes += sz;
            }
            prev_free = is_free;
            prev_size = sz;
            b = (struct blk *)((char *)b + sz);
        }
        if (!r && ((uintptr_t)b != a->end || b->prev_size != prev_size ||
                   !!(b->size & BLK_PREV_FREE) != prev_free || bsize(b) != 0))
            r = -EBADMSG;
    }
    for (int fl = 0; fl < FL_COUNT && !r; fl++) {
        if (!!(c->fl_bitmap & (1ull << fl)) != (c->sl_bitmap[fl] != 0))
            r = -EBADMSG;
        for (unsigned sl = 0; sl < SL_COUNT && !r; sl++) {
            if (!!(c->sl_bitmap[fl] & (1u << sl)) != (c->heads[fl][sl] != NULL))
                r = -EBADMSG;
            for (struct blk *f = c->heads[fl][sl]; f; f = f->next_free)
                listed_blocks++;
        }
    }
    if (!r && (listed_blocks != s.free_blocks || s.used_bytes != pool->used ||
               s.used_blocks != pool->allocations))
        r = -EBADMSG;
out:
    pthread_mutex_unlock(&pool->lock);
    if (st)
        *st = s;
    return r;
}
