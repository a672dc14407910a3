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

struct segview_area {
    uint64_t base, size; /* as the header published them when mapped (or last tried) */
    const unsigned char *map;
    gboolean failed; /* this base and size could not be had: not asked for again */
};

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
    const char *why = NULL;

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
    if (agn_shm_view_open(&sv->view, map, pid, base, size, &why) < 0) {
        munmap((void *)map, (size_t)size);
        g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT,
                    "the segment of process %u has an unexpected header (%s): install matching "
                    "agnocast versions",
                    pid, why);
        return -EBADMSG;
    }
    sv->areas = g_new0(struct segview_area, AGN_MAX_AREAS);
    sv->fetch = fetch;
    sv->fetch_arg = arg;
    return 0;
}

void segview_close(struct segview *sv)
{
    if (sv->view.map != NULL)
        munmap((void *)sv->view.map, (size_t)sv->view.size);
    sv->view.map = NULL;
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
    if (size > SIZE_MAX)
        return NULL;
    /* What goes wrong with one area shows as messages not shown (echo) or corrupt (bw). */
    int fd = sv->fetch(sv->fetch_arg, sv->view.pid, i + 1, &got_base, &got_size, NULL);
    if (fd < 0)
        return NULL;
    if (got_base != base || got_size != size) {
        close(fd);
        return NULL;
    }
    a->map = segview_map_fd(fd, sv->view.pid, i + 1, size, NULL);
    a->failed = a->map == NULL;
    return a->map;
}

int segview_ring_read(const struct segview *sv, const struct agn_shm_ring *ring, uint64_t seq,
                      struct segview_msg *msg)
{
    struct agn_shm_entry e;
    const unsigned char *data;
    uint64_t base, size;
    int i;

    if (agn_shm_entry_read(ring, seq, &e) != 1)
        return 0;
    if (agn_shm_in_heap(&sv->view, e.addr, e.size))
        data = agn_shm_local(&sv->view, e.addr);
    else if ((i = agn_shm_area_find(&sv->view, e.addr, e.size, &base, &size)) >= 0 &&
             (data = segview_map_area(sv, (unsigned)i, base, size)) != NULL)
        data += e.addr - base;
    else
        return -EBADMSG;
    *msg = (struct segview_msg){
        .seq = seq,
        .addr = e.addr,
        .size = e.size,
        .bytes = e.bytes,
        .timestamp_ns = e.timestamp_ns,
        .data = data,
    };
    return 1;
}

gboolean segview_copy(const struct agn_shm_ring *ring, const struct segview_msg *msg, void *out,
                      size_t cap, size_t *copied)
{
    size_t n = msg->size < cap ? (size_t)msg->size : cap;

    /* Plain loads of memory another process writes: through volatile so none is cached or
     * moved past the fence that orders them before the re-check of the entry. */
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)out)[i] = ((const volatile unsigned char *)msg->data)[i];
    atomic_thread_fence(memory_order_acquire);
    *copied = n;
    return agn_shm_entry_still(ring, msg->seq);
}
