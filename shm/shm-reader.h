/* The one reader of segments: every read of memory a peer writes, bounds-checked. */
#ifndef AGNOCAST_SHM_READER_H
#define AGNOCAST_SHM_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm-layout.h"

/*
 * A segment as one reader sees it: `map` is where it is mapped in this process, `base` where
 * its owner maps it, so a segment address A is read at map + (A - base). The library maps peers
 * at their own address (map == base); agnocastctl maps them anywhere. Both use these functions,
 * so one set of checks stands between a forged segment and every reader.
 *
 * Everything in a segment is written by its owner and trusted by nobody: each word is read once
 * into a local before it is checked, and every bound comes from what the broker vouched for
 * (pid, base, size), never from the header alone.
 */
struct agn_shm_view {
    const unsigned char *map;
    uint64_t base;
    uint64_t size;     /* the size the broker gave, not the header's word */
    uint64_t heap_off; /* validated: messages and rings lie in [base + heap_off, base + size) */
    uint32_t pid;
};

/* A publisher's ring, validated by agn_shm_ring_get(). */
struct agn_shm_ring {
    const struct agn_ring_entry *entries; /* in this process's mapping */
    const _Atomic uint64_t *head;
    uint32_t depth;
    bool transient_local;
};

/* One ring entry read consistently (seqlock: number, fields, number again). */
struct agn_shm_entry {
    uint64_t addr; /* a segment address, as the publisher's subscribers see it */
    uint64_t size;
    uint64_t bytes; /* with nested allocations; a claim of the publisher, not checked */
    uint64_t timestamp_ns;
};

struct agn_shm_sub_counters {
    uint64_t received;
    uint64_t missed;
    uint64_t corrupt;
    uint64_t unreachable;
};

/*
 * Checks the header of a segment mapped at `map` (at least `size` bytes readable): magic,
 * layout, pid, base and size as the broker gave them, a heap offset inside. Fills *view.
 * Returns 0, or -EBADMSG with *why (if given) set to a static phrase saying what is wrong.
 */
int agn_shm_view_open(struct agn_shm_view *view, const void *map, uint32_t pid, uint64_t base,
                      uint64_t size, const char **why);

static inline const struct agn_seg_header *agn_shm_header(const struct agn_shm_view *view)
{
    return (const struct agn_seg_header *)(const void *)view->map;
}

/* Whether the owner says it busy-polls: a publisher then need not wake it (shm-layout.h). */
static inline bool agn_shm_polling(const struct agn_shm_view *view)
{
    return atomic_load_explicit(&agn_shm_header(view)->polling, memory_order_relaxed) != 0;
}

/* Whether [addr, addr + len) lies in the heap of the first segment. */
static inline bool agn_shm_in_heap(const struct agn_shm_view *view, uint64_t addr, uint64_t len)
{
    uint64_t lo = view->base + view->heap_off, hi = view->base + view->size;

    return addr >= lo && addr < hi && len <= hi - addr;
}

/* The local address of segment address `addr` of the first segment (checked by the caller). */
static inline const void *agn_shm_local(const struct agn_shm_view *view, uint64_t addr)
{
    return view->map + (addr - view->base);
}

/* The ring of publisher slot `index`, if the slot is active and its ring lies in the heap,
 * aligned, inside the size the broker gave. */
bool agn_shm_ring_get(const struct agn_shm_view *view, uint32_t index, struct agn_shm_ring *ring);

static inline uint64_t agn_shm_ring_head(const struct agn_shm_ring *ring)
{
    return atomic_load_explicit(ring->head, memory_order_acquire);
}

static inline const struct agn_ring_entry *agn_shm_ring_entry(const struct agn_shm_ring *ring,
                                                              uint64_t seq)
{
    return &ring->entries[seq % ring->depth];
}

/* The number entry `seq % depth` carries now (0: being written). */
static inline uint64_t agn_shm_entry_seq(const struct agn_shm_ring *ring, uint64_t seq)
{
    return atomic_load_explicit(&agn_shm_ring_entry(ring, seq)->seq, memory_order_acquire);
}

/*
 * Reads the entry of message `seq`: 1 with *out filled, 0 when the entry does not hold `seq`
 * (overwritten or being written). The address is not checked here: the caller decides between
 * the heap, a growth area and corrupt (agn_shm_in_heap, agn_shm_area_find).
 */
static inline int agn_shm_entry_read(const struct agn_shm_ring *ring, uint64_t seq,
                                     struct agn_shm_entry *out)
{
    const struct agn_ring_entry *e = agn_shm_ring_entry(ring, seq);

    if (seq == 0 || atomic_load_explicit(&e->seq, memory_order_acquire) != seq)
        return 0;
    out->addr = atomic_load_explicit(&e->addr, memory_order_relaxed);
    /* Start fetching the message's first line now: the transfer overlaps the checks that
     * follow instead of following them (a prefetch never faults, even on a wild address). */
    __builtin_prefetch((const void *)(uintptr_t)out->addr);
    out->size = atomic_load_explicit(&e->size, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&e->bytes, memory_order_relaxed);
    out->timestamp_ns = atomic_load_explicit(&e->timestamp_ns, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&e->seq, memory_order_relaxed) == seq;
}

/* Whether the entry still holds `seq`: after a hold was published and fenced, or after a copy
 * (then the bytes read belong to that message). The caller's fence orders what came before. */
static inline bool agn_shm_entry_still(const struct agn_shm_ring *ring, uint64_t seq)
{
    return atomic_load_explicit(&agn_shm_ring_entry(ring, seq)->seq, memory_order_relaxed) == seq;
}

/* Growth areas the header publishes, at most AGN_MAX_AREAS (acquire: an area is published
 * before anything in it). */
unsigned agn_shm_nareas(const struct agn_shm_view *view);

/*
 * The published growth area holding [addr, addr + len): its index (0-based; area i + 1 in the
 * names and the broker's numbering) with *base and *size set, or -1. An area that wraps,
 * overlaps the first segment or is not page-aligned holds nothing.
 */
int agn_shm_area_find(const struct agn_shm_view *view, uint64_t addr, uint64_t len, uint64_t *base,
                      uint64_t *size);

/* Whether the owner lists `pid` in its accepted_pids (it scans that process's holds). */
bool agn_shm_accepts(const struct agn_shm_view *view, uint32_t pid);

/* One pass over the owner's hold table for n addresses: sets held[k] for each addrs[k] it
 * holds (leaving the others as they are); returns how many it set. Bounded by AGN_MAX_HOLDS. */
unsigned agn_shm_holds_mark(const struct agn_shm_view *view, const uint64_t *addrs, unsigned n,
                            bool *held);

/* The counters of subscription slot `index`; false if the index is out of range. */
bool agn_shm_sub_counters(const struct agn_shm_view *view, uint32_t index,
                          struct agn_shm_sub_counters *c);

#endif
