/* A read-only view of one client process's segment, with every read bounds-checked. */
#ifndef AGNOCASTCTL_SEGVIEW_H
#define AGNOCASTCTL_SEGVIEW_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "shm-reader.h"

/*
 * Where a view's memory comes from: the descriptor of area `area` (0: the segment, 1 to
 * AGN_MAX_AREAS: its growth areas) of process `pid`, with the area's address and size as the
 * broker knows them. Returns the descriptor, which the view closes once it has mapped it, or a
 * negative errno with *error set to a sentence that names the process. agnocastctl's asks the
 * broker (client_get_segment); tests hand over memfds they forged.
 */
typedef int (*segview_fetch_fn)(void *arg, uint32_t pid, uint32_t area, uint64_t *base,
                                uint64_t *size, GError **error);

/*
 * The segment is mapped anywhere (PROT_READ, MAP_SHARED), not at the owner's address, and read
 * through the one reader of segments (shm/shm-reader.h) that the library uses too. The
 * descriptor must be sealed (AGNOCAST_SEGMENT_SEALS), so the memory cannot shrink under the
 * mapping nor be written through a new mapping.
 */
struct segview {
    struct agn_shm_view view; /* map: the local mapping; base, size: the broker's */
    /* The pool's growth areas, fetched and mapped the same way the first time a message lies
     * in one; the only part of a view that changes after segview_open(). */
    struct segview_area *areas;
    segview_fetch_fn fetch;
    void *fetch_arg;
};

/* One ring entry read consistently; `data` is the message in the local mapping. */
struct segview_msg {
    uint64_t seq;
    uint64_t addr; /* segment address, as the publisher's subscribers see it */
    uint64_t size;
    uint64_t bytes; /* with its nested allocations, as the publisher says (bw) */
    uint64_t timestamp_ns;
    const unsigned char *data;
};

/*
 * Fetches area 0 of process `pid` with `fetch` and maps `size` bytes of it read-only; checks
 * the descriptor (sealed, at least `size` bytes), that the broker still gives the range `base`,
 * `size`, and the header (magic, layout, pid, base, size, heap offset). `fetch` and `arg` stay
 * with the view for its growth areas. Returns 0, or a negative errno with *error set (code
 * CLI_EXIT_NO_SEGMENT unless the broker could not be understood) to a message that names the
 * process and what to do.
 */
int segview_open(struct segview *sv, uint32_t pid, uint64_t base, uint64_t size,
                 segview_fetch_fn fetch, void *arg, GError **error);
/* Unmaps; takes a view that failed to open or was never opened (map NULL). */
void segview_close(struct segview *sv);

/* Rings and counters are read straight through the view: agn_shm_ring_get(&sv->view, ...),
 * agn_shm_ring_head(), agn_shm_sub_counters(&sv->view, ...) (shm/shm-reader.h). */

/*
 * Reads the entry of message `seq` seqlock-style (seq, fields, seq again). Returns 1 with *msg
 * filled, 0 if the entry does not hold `seq` (overwritten, or not yet written), -EBADMSG if its
 * address or size leave the publisher's heap and the growth areas its header publishes (an area
 * is fetched and mapped read-only on first use; it must be page-aligned, clear of the first
 * segment, where the broker says it is, and its descriptor sealed and as large as the area; an
 * area that cannot be had is not asked for again by this view).
 */
int segview_ring_read(const struct segview *sv, const struct agn_shm_ring *ring, uint64_t seq,
                      struct segview_msg *msg);

/*
 * Copies min(cap, msg->size) bytes of the message into `out`, then checks the entry still holds
 * msg->seq. FALSE if the message was overwritten meanwhile: the bytes may belong to another
 * message (or to freed memory) and must not be shown.
 */
gboolean segview_copy(const struct agn_shm_ring *ring, const struct segview_msg *msg, void *out,
                      size_t cap, size_t *copied);

#endif
