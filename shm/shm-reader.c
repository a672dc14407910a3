/* The one reader of segments (see shm-reader.h). */
#include "shm-reader.h"

#include <errno.h>

#define PAGE 4096u

int agn_shm_view_open(struct agn_shm_view *view, const void *map, uint32_t pid, uint64_t base,
                      uint64_t size, const char **why)
{
    const struct agn_seg_header *h = map;
    const char *bad = NULL;
    uint64_t heap_off;

    if (size < sizeof(*h))
        bad = "smaller than a segment header";
    else if (atomic_load_explicit((const _Atomic uint64_t *)&h->magic, memory_order_acquire) !=
             AGN_SEG_MAGIC)
        bad = "no segment magic (another program's memory?)";
    else if (h->layout != AGN_SEG_LAYOUT)
        bad = "another segment layout (install matching agnocast versions)";
    else if (h->pid != pid || h->base != base || h->size != size)
        bad = "its header names another process or range than the broker gave";
    if (bad == NULL) {
        heap_off = h->heap_off;
        if (heap_off < sizeof(*h) || heap_off >= size)
            bad = "its heap offset lies outside the segment";
    }
    if (bad != NULL) {
        if (why)
            *why = bad;
        return -EBADMSG;
    }
    *view = (struct agn_shm_view){
        .map = map, .base = base, .size = size, .heap_off = heap_off, .pid = pid};
    return 0;
}

bool agn_shm_ring_get(const struct agn_shm_view *view, uint32_t index, struct agn_shm_ring *ring)
{
    const struct agn_pub_slot *slot;
    uint64_t depth, ring_off;

    if (index >= AGN_MAX_PUBS)
        return false;
    slot = &agn_shm_header(view)->pubs[index];
    /* Each word read once: the owner may change it between two reads. A misaligned ring would
     * be read with misaligned atomic loads (found by tests/fuzz/fuzz-segment). */
    depth = atomic_load_explicit((const _Atomic uint32_t *)&slot->depth, memory_order_relaxed);
    ring_off =
        atomic_load_explicit((const _Atomic uint64_t *)&slot->ring_off, memory_order_relaxed);
    if (!atomic_load_explicit(&slot->active, memory_order_acquire) || depth < 1 ||
        depth > AGNOCAST_DEPTH_MAX || ring_off < view->heap_off || ring_off >= view->size ||
        ring_off % _Alignof(struct agn_ring_entry) != 0 ||
        depth * sizeof(struct agn_ring_entry) > view->size - ring_off)
        return false;
    *ring = (struct agn_shm_ring){
        .entries = (const struct agn_ring_entry *)(const void *)(view->map + ring_off),
        .head = &slot->head,
        .depth = (uint32_t)depth,
        .transient_local = atomic_load_explicit((const _Atomic uint32_t *)&slot->transient_local,
                                                memory_order_relaxed) != 0,
    };
    return true;
}

unsigned agn_shm_nareas(const struct agn_shm_view *view)
{
    unsigned n = atomic_load_explicit(&agn_shm_header(view)->nareas, memory_order_acquire);

    return n > AGN_MAX_AREAS ? AGN_MAX_AREAS : n;
}

int agn_shm_area_find(const struct agn_shm_view *view, uint64_t addr, uint64_t len, uint64_t *base,
                      uint64_t *size)
{
    const struct agn_seg_header *h = agn_shm_header(view);
    unsigned n = agn_shm_nareas(view);

    for (unsigned i = 0; i < n; i++) {
        uint64_t b = atomic_load_explicit(&h->areas[i].base, memory_order_relaxed);
        uint64_t s = atomic_load_explicit(&h->areas[i].size, memory_order_relaxed);

        if (s == 0 || b + s < b || addr < b || addr >= b + s || len > b + s - addr)
            continue;
        if (b % PAGE || s % PAGE || (b < view->base + view->size && view->base < b + s))
            return -1;
        *base = b;
        *size = s;
        return (int)i;
    }
    return -1;
}

bool agn_shm_accepts(const struct agn_shm_view *view, uint32_t pid)
{
    const struct agn_seg_header *h = agn_shm_header(view);

    for (int i = 0; i < AGN_MAX_PEERS; i++)
        if (atomic_load_explicit(&h->accepted_pids[i], memory_order_acquire) == pid)
            return true;
    return false;
}

unsigned agn_shm_holds_mark(const struct agn_shm_view *view, const uint64_t *addrs, unsigned n,
                            bool *held)
{
    const struct agn_seg_header *h = agn_shm_header(view);
    uint32_t used = atomic_load_explicit(&h->holds_used, memory_order_acquire);
    unsigned marked = 0;

    if (used > AGN_MAX_HOLDS)
        used = AGN_MAX_HOLDS;
    for (uint32_t i = 0; i < used; i++) {
        uint64_t hold = atomic_load_explicit(&h->holds[i], memory_order_relaxed);
        if (hold == 0)
            continue;
        for (unsigned k = 0; k < n; k++) {
            if (!held[k] && addrs[k] == hold) {
                held[k] = true;
                marked++;
            }
        }
    }
    return marked;
}

bool agn_shm_sub_counters(const struct agn_shm_view *view, uint32_t index,
                          struct agn_shm_sub_counters *c)
{
    const struct agn_sub_slot *slot;

    if (index >= AGN_MAX_SUBS)
        return false;
    slot = &agn_shm_header(view)->subs[index];
    c->received = atomic_load_explicit(&slot->received, memory_order_relaxed);
    c->missed = atomic_load_explicit(&slot->missed, memory_order_relaxed);
    c->corrupt = atomic_load_explicit(&slot->corrupt, memory_order_relaxed);
    c->unreachable = atomic_load_explicit(&slot->unreachable, memory_order_relaxed);
    return true;
}
