/* A read-only view of one client process's segment, with every read bounds-checked. */
#include "segview.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agnocastctl.h"
#include "shm-layout.h"

struct segview_area {
    uint64_t base, size; /* as the header published them when mapped (or last tried) */
    const unsigned char *map;
    gboolean failed; /* this base and size could not be had: not asked for again */
};

static const struct agn_seg_header *segview_header(const struct segview *sv)
{
    return (const struct agn_seg_header *)(const void *)sv->map;
}

/*
 * Maps `size` bytes of the descriptor of area `area` read-only, after checking that its memory
 * cannot shrink under the mapping nor be written through a new one (the seals) and that it is
 * large enough; closes the descriptor. Returns the mapping, or NULL with *error set.
 */
static const unsigned char *segview_map_fd(int fd, uint32_t pid, uint32_t area, uint64_t size,
                                           GError **error)
{
    g_autofree char *what = area == 0 ? g_strdup_printf("the segment of process %u", pid)
                                      : g_strdup_printf("growth area %u of process %u", area, pid);
    int seals = fcntl(fd, F_GET_SEALS);
    struct stat st = {0};
    void *p = MAP_FAILED;

    if (seals < 0 || (seals & AGNOCAST_SEGMENT_SEALS) != AGNOCAST_SEGMENT_SEALS)
        g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT,
                    "%s is not a sealed memfd (seals 0x%x, want 0x%x): its owner could shrink "
                    "it under this view; is every agnocast program the same version?",
                    what, seals < 0 ? 0 : seals, AGNOCAST_SEGMENT_SEALS);
    else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < size)
        g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT,
                    "%s is smaller than the broker says (%lld bytes, not %" G_GUINT64_FORMAT
                    "); is every agnocast program the same version?",
                    what, (long long)st.st_size, size);
    else if ((p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
        g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT, "cannot map %s read-only: %s", what,
                    g_strerror(errno));
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

int segview_open(struct segview *sv, uint32_t pid, uint64_t base, uint64_t size,
                 segview_fetch_fn fetch, void *arg, GError **error)
{
    uint64_t got_base = 0, got_size = 0;

    memset(sv, 0, sizeof *sv);
    if (size < sizeof(struct agn_seg_header) || size > SIZE_MAX) {
        g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT,
                    "the broker gives process %u a segment of %" G_GUINT64_FORMAT
                    " bytes, too small for a header: is the broker the same version?",
                    pid, size);
        return -EBADMSG;
    }
    int fd = fetch(arg, pid, 0, &got_base, &got_size, error);
    if (fd < 0)
        return fd;
    if (got_base != base || got_size != size) {
        close(fd);
        g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT,
                    "process %u changed between two answers of the broker (another process "
                    "with the same pid?); run the command again",
                    pid);
        return -ESTALE;
    }
    const unsigned char *map = segview_map_fd(fd, pid, 0, size, error);
    if (map == NULL)
        return -EBADMSG;
    sv->pid = pid;
    sv->base = base;
    sv->size = size;
    sv->map = map;

    const struct agn_seg_header *h = segview_header(sv);
    uint64_t heap_off = h->heap_off;
    if (atomic_load_explicit((const _Atomic uint64_t *)&h->magic, memory_order_acquire) !=
            AGN_SEG_MAGIC ||
        h->layout != AGN_SEG_LAYOUT || h->pid != pid || h->base != base || h->size != size ||
        heap_off < sizeof *h || heap_off >= size) {
        segview_close(sv);
        g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT,
                    "the segment of process %u has an unexpected header (another layout or "
                    "another program's memory): install matching agnocast versions",
                    pid);
        return -EBADMSG;
    }
    sv->heap_off = heap_off;
    sv->areas = g_new0(struct segview_area, AGN_MAX_AREAS);
    sv->fetch = fetch;
    sv->fetch_arg = arg;
    return 0;
}

void segview_close(struct segview *sv)
{
    if (sv->map != NULL)
        munmap((void *)sv->map, (size_t)sv->size);
    sv->map = NULL;
    for (size_t i = 0; sv->areas != NULL && i < AGN_MAX_AREAS; i++)
        if (sv->areas[i].map != NULL)
            munmap((void *)sv->areas[i].map, (size_t)sv->areas[i].size);
    g_free(sv->areas);
    sv->areas = NULL;
}

/* Maps growth area `i` (its header entry says base, size) read-only, fetched on first use;
 * NULL if it is not what the header says or cannot be had. */
static const unsigned char *segview_map_area(const struct segview *sv, unsigned i, uint64_t base,
                                             uint64_t size)
{
    struct segview_area *a = &sv->areas[i];
    uint64_t got_base = 0, got_size = 0;

    if (a->map != NULL)
        return a->base == base && a->size == size ? a->map : NULL;
    if (a->failed && a->base == base && a->size == size)
        return NULL;
    *a = (struct segview_area){.base = base, .size = size, .failed = TRUE};
    if (base % 4096 || size % 4096 || size > SIZE_MAX ||
        (base < sv->base + sv->size && sv->base < base + size))
        return NULL;
    /* What goes wrong with one area shows as messages not shown (echo) or corrupt (bw). */
    int fd = sv->fetch(sv->fetch_arg, sv->pid, i + 1, &got_base, &got_size, NULL);
    if (fd < 0)
        return NULL;
    if (got_base != base || got_size != size) {
        close(fd);
        return NULL;
    }
    a->map = segview_map_fd(fd, sv->pid, i + 1, size, NULL);
    a->failed = a->map == NULL;
    return a->map;
}

/* The local address of [addr, addr + len) when it lies in a published growth area. */
static const unsigned char *segview_area_data(const struct segview *sv, uint64_t addr,
                                              uint64_t len)
{
    const struct agn_seg_header *h = segview_header(sv);
    unsigned n = atomic_load_explicit(&h->nareas, memory_order_acquire);

    for (unsigned i = 0; i < n && i < AGN_MAX_AREAS; i++) {
        uint64_t base = atomic_load_explicit(&h->areas[i].base, memory_order_relaxed);
        uint64_t size = atomic_load_explicit(&h->areas[i].size, memory_order_relaxed);
        if (size == 0 || base + size < base || addr < base || addr >= base + size ||
            len > base + size - addr)
            continue;
        const unsigned char *map = segview_map_area(sv, i, base, size);
        return map != NULL ? map + (addr - base) : NULL;
    }
    return NULL;
}

gboolean segview_ring(const struct segview *sv, uint32_t index, struct segview_ring *ring)
{
    if (index >= AGN_MAX_PUBS)
        return FALSE;
    const struct agn_pub_slot *slot = &segview_header(sv)->pubs[index];
    /* Each word read once into a local: the owner may change it between two reads. */
    uint64_t depth = slot->depth;
    uint64_t ring_off = slot->ring_off;

    if (!atomic_load_explicit(&slot->active, memory_order_acquire) || depth < 1 ||
        depth > AGNOCAST_DEPTH_MAX || ring_off < sv->heap_off || ring_off >= sv->size ||
        ring_off % _Alignof(struct agn_ring_entry) != 0 ||
        depth * sizeof(struct agn_ring_entry) > sv->size - ring_off)
        return FALSE;
    ring->entries = sv->map + ring_off;
    ring->head = &slot->head;
    ring->depth = (uint32_t)depth;
    return TRUE;
}

uint64_t segview_ring_head(const struct segview_ring *ring)
{
    return atomic_load_explicit((const _Atomic uint64_t *)ring->head, memory_order_acquire);
}

static const struct agn_ring_entry *segview_entry(const struct segview_ring *ring, uint64_t seq)
{
    return &((const struct agn_ring_entry *)ring->entries)[seq % ring->depth];
}

int segview_ring_read(const struct segview *sv, const struct segview_ring *ring, uint64_t seq,
                      struct segview_msg *msg)
{
    const struct agn_ring_entry *e = segview_entry(ring, seq);

    if (seq == 0 || atomic_load_explicit(&e->seq, memory_order_acquire) != seq)
        return 0;
    uint64_t addr = atomic_load_explicit(&e->addr, memory_order_relaxed);
    uint64_t size = atomic_load_explicit(&e->size, memory_order_relaxed);
    uint64_t ts = atomic_load_explicit(&e->timestamp_ns, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&e->seq, memory_order_relaxed) != seq)
        return 0;

    uint64_t lo = sv->base + sv->heap_off;
    uint64_t hi = sv->base + sv->size;
    const unsigned char *data;
    if (addr >= lo && addr < hi && size <= hi - addr)
        data = sv->map + (addr - sv->base);
    else if ((data = segview_area_data(sv, addr, size)) == NULL)
        return -EBADMSG;
    *msg = (struct segview_msg){
        .seq = seq,
        .addr = addr,
        .size = size,
        .timestamp_ns = ts,
        .data = data,
    };
    return 1;
}

gboolean segview_copy(const struct segview_ring *ring, const struct segview_msg *msg, void *out,
                      size_t cap, size_t *copied)
{
    size_t n = msg->size < cap ? (size_t)msg->size : cap;
    const struct agn_ring_entry *e = segview_entry(ring, msg->seq);

    /* Plain loads of memory another process writes: through volatile so none is cached or
     * moved past the fence that orders them before the re-check of the entry. */
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)out)[i] = ((const volatile unsigned char *)msg->data)[i];
    atomic_thread_fence(memory_order_acquire);
    *copied = n;
    return atomic_load_explicit(&e->seq, memory_order_relaxed) == msg->seq;
}

gboolean segview_sub(const struct segview *sv, uint32_t index, struct segview_sub_counters *c)
{
    if (index >= AGN_MAX_SUBS)
        return FALSE;
    const struct agn_sub_slot *slot = &segview_header(sv)->subs[index];

    c->received = atomic_load_explicit(&slot->received, memory_order_relaxed);
    c->missed = atomic_load_explicit(&slot->missed, memory_order_relaxed);
    c->corrupt = atomic_load_explicit(&slot->corrupt, memory_order_relaxed);
    c->unreachable = atomic_load_explicit(&slot->unreachable, memory_order_relaxed);
    return TRUE;
}
