/* Every offset and size of the segment layout, one line each: the golden file pins them. */
#include "layout-table.h"

#include <stddef.h>

#include "shm-layout.h"

#define STRUCT(s)                                                                                  \
    {                                                                                              \
#s, "", 0, sizeof(struct s)                                                                \
    }
#define FIELD(s, f)                                                                                \
    {                                                                                              \
#s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f)                                  \
    }

static const struct layout_line lines[] = {
    STRUCT(agn_ring_entry),
    FIELD(agn_ring_entry, seq),
    FIELD(agn_ring_entry, addr),
    FIELD(agn_ring_entry, size),
    FIELD(agn_ring_entry, timestamp_ns),
    FIELD(agn_ring_entry, bytes),
    FIELD(agn_ring_entry, reserved),
    STRUCT(agn_pub_slot),
    FIELD(agn_pub_slot, active),
    FIELD(agn_pub_slot, depth),
    FIELD(agn_pub_slot, ring_off),
    FIELD(agn_pub_slot, head),
    FIELD(agn_pub_slot, transient_local),
    FIELD(agn_pub_slot, reserved),
    STRUCT(agn_sub_slot),
    FIELD(agn_sub_slot, active),
    FIELD(agn_sub_slot, reserved),
    FIELD(agn_sub_slot, received),
    FIELD(agn_sub_slot, missed),
    FIELD(agn_sub_slot, corrupt),
    FIELD(agn_sub_slot, unreachable),
    STRUCT(agn_seg_area),
    FIELD(agn_seg_area, base),
    FIELD(agn_seg_area, size),
    STRUCT(agn_seg_header),
    FIELD(agn_seg_header, magic),
    FIELD(agn_seg_header, layout),
    FIELD(agn_seg_header, pid),
    FIELD(agn_seg_header, base),
    FIELD(agn_seg_header, size),
    FIELD(agn_seg_header, heap_off),
    FIELD(agn_seg_header, heap_size),
    FIELD(agn_seg_header, nareas),
    FIELD(agn_seg_header, reserved_areas),
    FIELD(agn_seg_header, areas),
    FIELD(agn_seg_header, polling),
    FIELD(agn_seg_header, reserved_polling),
    FIELD(agn_seg_header, accepted_pids),
    FIELD(agn_seg_header, pubs),
    FIELD(agn_seg_header, subs),
    FIELD(agn_seg_header, holds_used),
    FIELD(agn_seg_header, reserved),
    FIELD(agn_seg_header, holds),
};

const struct layout_line *layout_lines(size_t *n)
{
    *n = sizeof(lines) / sizeof(lines[0]);
    return lines;
}

void layout_constants(struct layout_constants *c)
{
    *c = (struct layout_constants){
        .magic = AGN_SEG_MAGIC,
        .layout = AGN_SEG_LAYOUT,
        .max_pubs = AGN_MAX_PUBS,
        .max_subs = AGN_MAX_SUBS,
        .max_peers = AGN_MAX_PEERS,
        .max_holds = AGN_MAX_HOLDS,
        .max_areas = AGN_MAX_AREAS,
        .seals = AGN_SEGMENT_SEALS,
    };
}
