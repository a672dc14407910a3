/* The layout of a process's segment, its names and its limits: what every peer reads. */
#ifndef AGNOCAST_SHM_LAYOUT_H
#define AGNOCAST_SHM_LAYOUT_H

#include <stdatomic.h>
#include <stdint.h>

#include "agnocast-proto.h"

/*
 * A segment is written only by its owner (invariant 1); peers map it read-only and treat every
 * word in it as untrusted. It holds, in order: this header (the control area) and the heap from
 * which messages, their nested allocations and publisher rings are allocated.
 *
 * The message path in one paragraph (docs/design.md has the ordering argument):
 * a publisher writes message n into ring entry n % depth seqlock-style and release-stores the
 * ring head; a subscriber that wants message n reads the entry, publishes a hold (the message
 * address) in its OWN segment's hold table, issues a seq_cst fence and re-reads the entry. The
 * publisher, when a message falls out of its ring, invalidates the entry, issues a seq_cst fence
 * and scans the hold tables of the processes listed in `accepted_pids` (it has mapped them);
 * only an address nobody holds is freed. A subscriber reads a publisher's ring only after it
 * finds its own pid in that publisher's `accepted_pids`, so its holds are always scanned.
 */

#define AGN_SEG_MAGIC 0x31474553474e4741ull /* "AGNSEG1" */
/* Bumped at every change of a size or offset below; tests/shm/golden/layout-N pins each. */
#define AGN_SEG_LAYOUT 5
#define AGN_MAX_PUBS   64     /* publishers per process */
#define AGN_MAX_SUBS   64     /* subscriptions per process */
#define AGN_MAX_PEERS  256    /* processes whose holds a process honours */
#define AGN_MAX_HOLDS  1024   /* messages a process may hold at once */
#define AGN_SEG_ALIGN  102400 /* pool sizes are multiples of 100 kB */
/* Names of the memfds (seen in /proc/PID/maps as "/memfd:agnocast@PID (deleted)"); nothing is
 * ever named in /dev/shm: peers get descriptors from the broker (docs/design.md). */
#define AGN_SEG_NAME_FMT  "agnocast@%d"
#define AGN_AREA_NAME_FMT "agnocast@%d.%u" /* growth areas 1, 2, ... */
/* The seed's notice queue, never created since protocol 3 (notices come over the broker
 * socket); the tests check that none appears. */
#define AGN_RETIRED_QUEUE_NAME_FMT "/new_publisher@%d"
#define AGN_MAX_AREAS              15 /* growth areas besides the first segment */
#define AGN_SEGMENT_SEALS          AGNOCAST_SEGMENT_SEALS

/* One cache line each: a subscriber reading entry n does not share a line with the publisher
 * writing entry n + 1. */
struct agn_ring_entry {
    _Atomic uint64_t seq; /* message number, 0 while being (re)written */
    _Atomic uint64_t addr;
    _Atomic uint64_t size;         /* of the top-level message */
    _Atomic uint64_t timestamp_ns; /* CLOCK_MONOTONIC */
    _Atomic uint64_t bytes;        /* the message and its nested allocations (for bw) */
    uint64_t reserved[3];
};

struct agn_pub_slot {
    _Atomic uint32_t active; /* 1 while the publisher exists */
    uint32_t depth;          /* entries in the ring */
    uint64_t ring_off;       /* from the segment base */
    _Atomic uint64_t head;   /* last published message number, 0 = none */
    uint32_t transient_local;
    uint32_t reserved;
};

struct agn_sub_slot {
    _Atomic uint32_t active;
    uint32_t reserved;
    _Atomic uint64_t received; /* for agnocastctl: read by anyone */
    _Atomic uint64_t missed;
    _Atomic uint64_t corrupt;
    _Atomic uint64_t unreachable; /* publishers it could not map or read (gone for it) */
};

/* A growth area: its own segment, mapped at `base` like the first. Written before anything in
 * it is published, so a subscriber meeting an address in it finds the entry here. */
struct agn_seg_area {
    _Atomic uint64_t base;
    _Atomic uint64_t size;
};

struct agn_seg_header {
    uint64_t magic;
    uint32_t layout;
    uint32_t pid;
    uint64_t base;
    uint64_t size;
    uint64_t heap_off;
    uint64_t heap_size;
    _Atomic uint32_t nareas; /* growth areas published in `areas` */
    uint32_t reserved_areas;
    struct agn_seg_area areas[AGN_MAX_AREAS];
    /* 1 while the owner busy-polls (agnocast_context_set_busy_poll): its publishers then skip
     * the wake-up write, which only a sleeping subscriber needs. Written only when the mode
     * changes, so the line stays in every publisher's cache. Untrusted like the rest: a
     * subscriber that lies here only loses its own wake-ups. */
    _Atomic uint32_t polling;
    uint32_t reserved_polling;
    _Atomic uint32_t accepted_pids[AGN_MAX_PEERS]; /* 0 = free entry */
    struct agn_pub_slot pubs[AGN_MAX_PUBS];
    struct agn_sub_slot subs[AGN_MAX_SUBS];
    _Atomic uint32_t holds_used; /* entries of `holds` in use or once used (scan bound) */
    uint32_t reserved;
    _Atomic uint64_t holds[AGN_MAX_HOLDS]; /* addresses of messages this process holds */
};

_Static_assert(sizeof(struct agn_ring_entry) == 64, "a ring entry is one cache line");

#endif
