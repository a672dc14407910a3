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
    uint64_t base, size; /* as the header published them when mapped */
    const unsigned char *map;
};

static const struct agn_seg_header *segview_header(const struct segview *sv)
{
    return (const struct agn_seg_header *)(const void *)sv->map;
}

static void segview_set_open_error(uint32_t pid, const char *name, int err, GError **error)
{
    switch (err) {
    case ENOENT:
        g_set_error(error, CTL_ERROR, CTL_EXIT_SEGMENT,
                    "process %u has no segment %s: it has exited or is still starting; run the "
                    "command again",
                    pid, name);
        return;
    case EACCES:
    case EPERM:
        g_set_error(error, CTL_ERROR, CTL_EXIT_SEGMENT,
                    "permission denied on the segment %s of process %u: segments are readable by "
                    "their owner and the owner's group only; run agnocastctl as that user, as a "
                    "member of its group, or as root",
                    name, pid);
        return;
    default:
        g_set_error(error, CTL_ERROR, CTL_EXIT_SEGMENT,
                    "cannot read the segment %s of process %u: %s", name, pid, g_strerror(err));
        return;
    }
}

int segview_open(struct segview *sv, uint32_t pid, uint64_t base, uint64_t size, GError **error)
{
    char name[64];
    struct stat st;

    memset(sv, 0, sizeof *sv);
    snprintf(name, sizeof name, AGN_SEG_NAME_FMT, (int)pid);
    if (size < sizeof(struct agn_seg_header) || size > SIZE_MAX) {
        g_set_error(error, CTL_ERROR, CTL_EXIT_SEGMENT,
                    "the broker gives process %u a segment of %" G_GUINT64_FORMAT
                    " bytes, too small for a header: is the broker the same version?",
                    pid, size);
        return -EBADMSG;
    }
    int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        int err = errno;
        segview_set_open_error(pid, name, err, error);
        return -err;
    }
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < size) {
        close(fd);
        g_set_error(error, CTL_ERROR, CTL_EXIT_SEGMENT,
                    "the segment %s of process %u is smaller than the broker says: the process "
                    "is still starting, or the name belongs to another program; run the command "
                    "again",
                    name, pid);
        return -EBADMSG;
    }
    void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) {
        segview_set_open_error(pid, name, err, error);
        return -err;
    }
    sv->pid = pid;
    sv->base = base;
    sv->size = size;
    sv->map = p;

    const struct agn_seg_header *h = segview_header(sv);
    uint64_t heap_off = h->heap_off;
    if (atomic_load_explicit((const _Atomic uint64_t *)&h->magic, memory_order_acquire) !=
            AGN_SEG_MAGIC ||
        h->layout != AGN_SEG_LAYOUT || h->pid != pid || h->base != base || h->size != size ||
        heap_off < sizeof *h || heap_off >= size) {
        segview_close(sv);
        g_set_error(error, CTL_ERROR, CTL_EXIT_SEGMENT,
                    "the segment %s of process %u has an unexpected header (another layout or "
                    "another program's memory): install matching agnocast versions",
                    name, pid);
        return -EBADMSG;
    }
    sv->heap_off = heap_off;
    sv->areas = g_new0(struct segview_area, AGN_MAX_AREAS);
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

/* Maps growth area `i` (its header entry says base, size) read-only; NULL if it is not what
 * the header says or cannot be opened. */
static const unsigned char *segview_map_area(const struct segview *sv, unsigned i, uint64_t base,
                                             uint64_t size)
{
    struct segview_area *a = &sv->areas[i];
    char name[64];
    struct stat st;

    if (a->map != NULL)
        return a->base == base && a->size == size ? a->map : NULL;
    if (base % 4096 || size % 4096 || size > SIZE_MAX ||
        (base < sv->base + sv->size && sv->base < base + size))
        return NULL;
    snprintf(name, sizeof name, AGN_AREA_NAME_FMT, (int)sv->pid, i + 1);
    int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size >= size)
        p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    *a = (struct segview_area){.base = base, .size = size, .map = p};
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
    return TRUE;
}
