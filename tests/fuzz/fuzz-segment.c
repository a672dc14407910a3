/* Fuzz target: a forged publisher segment, rewritten by the peer between and during reads. */
#include "fuzz-segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

const char fuzz_target_name[] = "segment";

static struct {
    const uint8_t *p, *end;
    bool over;
} cur;
static unsigned callback_ops; /* operations left to run inside dispatch callbacks */

static uint8_t u8(void)
{
    if (cur.p >= cur.end) {
        cur.over = true;
        return 0;
    }
    return *cur.p++;
}

static uint16_t u16(void)
{
    return (uint16_t)(u8() | (unsigned)u8() << 8);
}

static uint32_t u32(void)
{
    return u16() | (uint32_t)u16() << 16;
}

static uint64_t u64(void)
{
    return u32() | (uint64_t)u32() << 32;
}

static uint64_t value_of(uint8_t mode, uint64_t raw)
{
    uint64_t s = fuzz.seg.size, b = FUZZ_SEG_BASE;

    switch (mode % 12) {
    case 0:
        return raw;
    case 1:
        return raw & 0xfff;
    case 2: /* near the segment */
        return b + raw % (s + 8192) - 4096;
    case 3: /* in its heap, entry-aligned */
        return b + fuzz.heap_off + 32 * (raw % 256);
    case 4: /* near growth area (raw & 15) % 15's address: raw >> 4 is 4096 + the offset */
        return FUZZ_AREA_BASE + ((raw & 15) % AGN_MAX_AREAS) * FUZZ_AREA_STRIDE +
               (raw >> 4) % (FUZZ_AREA_PAGES_MAX * 4096 + 8192) - 4096;
    case 5: /* around the head-jump limit */
        return AGN_HEAD_JUMP_MAX + (uint64_t)(int64_t)(int8_t)raw;
    case 6:
        return UINT64_MAX - (raw & 0xfff);
    case 7: /* a length that wraps past the segment base */
        return (0 - b) + raw % (s + 8192) - 4096;
    case 8: /* an offset or length within the segment, a little past */
        return raw % (s + 8192);
    case 9: /* a ring offset in the heap */
        return fuzz.heap_off + 32 * (raw % 256);
    case 10: /* in our own segment */
        return FUZZ_OWN_BASE + raw % FUZZ_OWN_SIZE;
    default:
        return (1ull << (raw % 64)) + (raw >> 6) % 3 - 1;
    }
}

static uint64_t value(void)
{
    uint8_t mode = u8();

    return value_of(mode, u64());
}

#define HDR(field) offsetof(struct agn_seg_header, field)
#define SLOT_OFF(i, field)                                                                         \
    (HDR(pubs) + (uint64_t)(i) * sizeof(struct agn_pub_slot) + offsetof(struct agn_pub_slot, field))

static void put64(uint64_t off, uint64_t v)
{
    fuzz_seg_write(off, &v, sizeof(v));
}

static void put32(uint64_t off, uint32_t v)
{
    fuzz_seg_write(off, &v, sizeof(v));
}

static uint32_t get32(uint64_t off)
{
    return (uint32_t)fuzz_seg_read64(off); /* little-endian: the low half */
}

static void op_publish(void)
{
    unsigned idx = u8() % AGN_MAX_PUBS, where = u8(), flags = u8();
    uint64_t size = u16(), depth = get32(SLOT_OFF(idx, depth));
    uint64_t ring = fuzz_seg_read64(SLOT_OFF(idx, ring_off));
    uint64_t head = fuzz_seg_read64(SLOT_OFF(idx, head)), n = head + 1, addr, e, heap;
    uint64_t s = fuzz.seg.size, b = FUZZ_SEG_BASE;

    if (depth < 1 || depth > AGNOCAST_DEPTH_MAX || ring >= s)
        return;
    heap = fuzz.heap_off < s ? s - fuzz.heap_off : 64;
    switch (where % 8) {
    case 0: /* in its heap, sized to fit */
        addr = b + fuzz.heap_off + 64 * ((n * 7 + where / 8) % (heap / 64 ? heap / 64 : 1));
        size %= b + s - addr + 1;
        break;
    case 1: { /* in a growth area */
        const struct fuzz_mem *a = &fuzz.area[(where / 8) % AGN_MAX_AREAS];
        uint64_t asize = a->fd >= 0 ? a->size : 4096;
        addr = FUZZ_AREA_BASE + ((where / 8) % AGN_MAX_AREAS) * FUZZ_AREA_STRIDE +
               64 * (n % (asize / 64));
        size %=
            FUZZ_AREA_BASE + ((where / 8) % AGN_MAX_AREAS) * FUZZ_AREA_STRIDE + asize - addr + 1;
        break;
    }
    case 2: /* just past the segment */
        addr = b + s;
        break;
    case 3: /* in the header */
        addr = b + 64;
        break;
    case 4: /* across the end */
        addr = b + s - 8;
        size += 16;
        break;
    case 5: /* in our own segment */
        addr = FUZZ_OWN_BASE + 4096;
        break;
    case 6:
        addr = 0;
        break;
    default:
        addr = (uint64_t)-64;
        break;
    }
    e = ring + (n % depth) * sizeof(struct agn_ring_entry);
    put64(e + offsetof(struct agn_ring_entry, seq), 0);
    put64(e + offsetof(struct agn_ring_entry, addr), addr);
    put64(e + offsetof(struct agn_ring_entry, size), size);
    put64(e + offsetof(struct agn_ring_entry, timestamp_ns), (flags & 2) ? 0
                                                             : (flags & 16)
                                                                 ? fuzz.now + 1000000000ull
                                                                 : fuzz.now);
    if (!(flags & 4)) /* else: left torn, seq 0 */
        put64(e + offsetof(struct agn_ring_entry, seq), (flags & 8) ? n - depth : n);
    if (!(flags & 1)) /* else: the entry only (the reader's fast path) */
        put64(SLOT_OFF(idx, head), n);
}

/* A descriptor of the kind an operand names; the caller hands it over. */
static int odd_fd(unsigned kind)
{
    int sv[2], fd = -1;

    switch (kind % 4) {
    case 0: /* a pipe */
        if (pipe2(sv, O_CLOEXEC) == 0) {
            close(sv[1]);
            fd = sv[0];
        }
        break;
    case 1: /* a datagram socket: a wake channel */
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0) {
            close(sv[1]);
            fd = sv[0];
        }
        break;
    case 2:
        fd = eventfd(0, EFD_CLOEXEC);
        break;
    default:
        fd = -1;
        break;
    }
    return fd;
}

static void op_area_give(void)
{
    unsigned j = u8() % AGN_MAX_AREAS, pages = 1 + u8() % FUZZ_AREA_PAGES_MAX, kind = u8(),
             how = u8();
    struct agnocast_wire_segment a = {0};
    int fds[1] = {-1}, nfds = 1;
    struct fuzz_mem *m = NULL;

    if (kind % 8 < 3) {
        m = fuzz_area_get(j, (uint64_t)pages * 4096, (enum fuzz_fd_kind)(kind % 8));
        fds[0] = fcntl(m->fd, F_DUPFD_CLOEXEC, 3);
    } else if (kind % 8 == 3) {
        nfds = 0;
    } else {
        fds[0] = odd_fd(kind % 8 - 4);
    }
    a.pid = (how & 0x40) ? FUZZ_SELF_PID : (how & 0x80) ? 77 : FUZZ_PEER_PID;
    a.area = ((how >> 2) & 15) ? ((how >> 2) & 15) : j + 1;
    a.base = FUZZ_AREA_BASE + (uint64_t)j * FUZZ_AREA_STRIDE + ((how & 1) ? 4096 : 0);
    a.size = (m ? m->size : (uint64_t)pages * 4096) + ((how & 2) ? 4096 : 0);
    fuzz_notice(AGNOCAST_MSG_NOTICE_AREA_ADDED, &a, sizeof(a), fds, nfds);
}

static void endpoint(struct agnocast_wire_notice_endpoint *n, unsigned flags, unsigned index)
{
    memset(n, 0, sizeof(*n));
    n->pid = (flags & 0x20) ? FUZZ_SELF_PID : FUZZ_PEER_PID;
    n->index = index;
    n->qos.depth = 1 + index % 16;
    n->seg_base = FUZZ_SEG_BASE + ((flags & 4) ? 4096 : 0);
    n->seg_size = fuzz.seg.size + ((flags & 2) ? 4096 : 0);
    if (n->pid == FUZZ_SELF_PID) {
        n->seg_base = FUZZ_OWN_BASE;
        n->seg_size = FUZZ_OWN_SIZE;
    }
    agnocast_topic_field_set(n->topic, (flags & 1) ? "/fuzz/b" : "/fuzz/a");
}

/* The segment's descriptor as the broker would pass it, or another one. */
static int seg_fds(unsigned how, int fds[2])
{
    int nfds = 1;

    switch (how % 4) {
    case 0:
        fds[0] = fcntl(fuzz.seg.fd, F_DUPFD_CLOEXEC, 3);
        break;
    case 1:
        nfds = 0;
        fds[0] = -1;
        break;
    case 2:
        fds[0] = odd_fd(0);
        break;
    default:
        fds[0] = -1;
        break;
    }
    return nfds;
}

static void op_add(void)
{
    unsigned flags = u8(), index = u8();
    struct agnocast_wire_notice_endpoint n;
    int fds[2] = {-1, -1}, nfds;

    endpoint(&n, flags, index);
    nfds = seg_fds(flags >> 3, fds);
    if ((flags & 0x40) && nfds == 1) {
        fds[1] = odd_fd(2);
        nfds = 2;
    }
    fuzz_notice(AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED, &n, sizeof(n), fds, nfds);
}

static void op_subscriber(void)
{
    unsigned flags = u8(), index = u8();
    struct agnocast_wire_notice_endpoint n;
    int fds[2] = {-1, -1}, nfds;

    /* flags bit 0 of endpoint() picks the topic; here bit 4 does, and bit 0 announces */
    endpoint(&n, ((flags >> 4) & 1) | ((flags & 2) ? 0x20 : 0), index);
    n.flags = (flags & 1) ? AGNOCAST_NOTICE_ANNOUNCE : 0;
    nfds = seg_fds(flags >> 2, fds);
    fuzz_notice(AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED, &n, sizeof(n), fds, nfds);
}

static void run_op(bool in_callback);

static void callback_hook(void)
{
    if (callback_ops == 0 || cur.over)
        return;
    callback_ops--;
    run_op(true);
}

static void run_op(bool in_callback)
{
    uint8_t op = u8();

    if (cur.over)
        return;
    switch (op % OP_COUNT) {
    case OP_POKE64: {
        uint64_t word = u16();
        uint64_t v = value();
        put64((word * 8) % fuzz.seg.size, v);
        break;
    }
    case OP_POKE32: {
        uint64_t i = u16();
        put32((i * 4) % fuzz.seg.size, u32());
        break;
    }
    case OP_SLOT: {
        unsigned idx = u8() % AGN_MAX_PUBS, active = u8(), depth = u16(), tl = u8();
        put32(SLOT_OFF(idx, active), active % 3);
        put32(SLOT_OFF(idx, depth), (depth & 0x8000) ? depth & 0x7fff : 1 + depth % 64);
        put32(SLOT_OFF(idx, transient_local), tl & 1);
        put64(SLOT_OFF(idx, ring_off), value());
        break;
    }
    case OP_HEAD: {
        unsigned idx = u8() % AGN_MAX_PUBS, how = u8();
        uint64_t v = value(), head = fuzz_seg_read64(SLOT_OFF(idx, head));
        put64(SLOT_OFF(idx, head), how % 4 == 0   ? v
                                   : how % 4 == 1 ? head + v
                                   : how % 4 == 2 ? head - v
                                                  : head + 1);
        break;
    }
    case OP_ENTRY: {
        unsigned idx = u8() % AGN_MAX_PUBS, n = u16();
        uint64_t depth = get32(SLOT_OFF(idx, depth)),
                 ring = fuzz_seg_read64(SLOT_OFF(idx, ring_off));
        uint64_t e, f[4];
        if (depth < 1 || depth > AGNOCAST_DEPTH_MAX)
            depth = 64;
        e = ring + (n % depth) * sizeof(struct agn_ring_entry);
        for (int i = 0; i < 4; i++)
            f[i] = value();
        if (ring < fuzz.seg.size)
            fuzz_seg_write(e, f, sizeof(f));
        break;
    }
    case OP_PUBLISH:
        op_publish();
        break;
    case OP_AREA: {
        unsigned i = u8() % AGN_MAX_AREAS;
        uint64_t v[2];
        v[0] = value();
        v[1] = value();
        fuzz_seg_write(HDR(areas) + i * sizeof(struct agn_seg_area), v, sizeof(v));
        break;
    }
    case OP_NAREAS:
        put32(HDR(nareas), u32());
        break;
    case OP_AREA_GIVE:
        op_area_give();
        break;
    case OP_ACCEPT: {
        unsigned k = u8(), on = u8();
        put32(HDR(accepted_pids) + 4 * (uint64_t)k, (on & 1) ? FUZZ_SELF_PID : on >> 1);
        break;
    }
    case OP_ADD:
        op_add();
        break;
    case OP_REMOVE: {
        unsigned flags = u8(), index = u8();
        struct agnocast_wire_notice_endpoint n;
        endpoint(&n, flags, index);
        memset(&n.qos, 0, sizeof(n.qos));
        fuzz_notice(AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED, &n, sizeof(n), NULL, 0);
        break;
    }
    case OP_TAKE: {
        unsigned flags = u8();
        /* Inside a callback of subscription 0, taking from it would hand out messages newer
         * than the batch still being delivered; the other one is fair game. */
        fuzz_take(in_callback ? 1 : flags & 1, flags & 4, flags & 2);
        break;
    }
    case OP_DISPATCH: {
        unsigned n = u8() % 8;
        uint32_t keep = u32();
        bool drain = u8() & 1;
        if (in_callback)
            break; /* dispatch is not reentrant by contract */
        callback_ops = n;
        fuzz.keep_mask = keep;
        fuzz.in_callback = callback_hook;
        fuzz_dispatch(drain);
        fuzz.in_callback = NULL;
        callback_ops = 0;
        break;
    }
    case OP_RELEASE:
        fuzz_release(u8());
        break;
    case OP_CONTAINS: {
        unsigned k = u8();
        uint64_t p = value(), len = value();
        fuzz_contains(k, p, len);
        break;
    }
    case OP_CLOCK: {
        uint32_t ms = u32();
        fuzz.now += ms ? (uint64_t)ms * 1000000ull : AGN_AREA_WAIT_NS + 1;
        break;
    }
    case OP_GONE: {
        struct agnocast_wire_notice_process p = {.pid = (u8() & 1) ? FUZZ_SELF_PID : FUZZ_PEER_PID};
        fuzz_notice(AGNOCAST_MSG_NOTICE_PROCESS_GONE, &p, sizeof(p), NULL, 0);
        break;
    }
    case OP_SUBSCRIBER:
        op_subscriber();
        break;
    case OP_LOCAL_PUBLISH:
        fuzz_local_publish(1 + u16() % 2048);
        break;
    case OP_HOLDS: {
        unsigned k = u16() % AGN_MAX_HOLDS, what = u8();
        uint64_t v = value();
        if (what % 4 == 2) {
            put32(HDR(holds_used), (uint32_t)v);
            break;
        }
        put64(HDR(holds) + 8 * (uint64_t)k,
              what % 4 == 1 ? v : (uint64_t)(uintptr_t)fuzz.last_local);
        if (what % 4 == 0 && get32(HDR(holds_used)) < k + 1)
            put32(HDR(holds_used), k + 1);
        break;
    }
    case OP_FILL: {
        uint64_t off = (u16() * 4ull) % fuzz.seg.size, len = u16();
        unsigned char bytes[4096];
        uint8_t byte = u8();
        memset(bytes, byte, sizeof(bytes));
        while (len > 0) {
            size_t n = len < sizeof(bytes) ? (size_t)len : sizeof(bytes);
            fuzz_seg_write(off, bytes, n);
            off += n;
            len -= n;
        }
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    uint8_t pages, setup, below;
    unsigned depth, kind;
    const uint8_t *raw = NULL;
    size_t raw_len = 0;

    if (!ready) {
        fuzz_world_init();
        ready = true;
    }
    cur.p = data;
    cur.end = data + size;
    cur.over = false;
    callback_ops = 0;
    pages = u8();
    setup = u8();
    depth = 1 + u16() % AGNOCAST_DEPTH_MAX;
    below = u8();
    if (setup & 4) {
        raw_len = u16();
        raw = cur.p;
        if (raw_len > (size_t)(cur.end - cur.p))
            raw_len = (size_t)(cur.end - cur.p);
        cur.p += raw_len;
    }
    kind = setup & 3;
    fuzz_world_begin(depth, setup >> 3, below);
    fuzz_seg_create((1 + pages % FUZZ_SEG_PAGES_MAX) * 4096ull,
                    kind == 1   ? FUZZ_FD_UNSEALED
                    : kind == 2 ? FUZZ_FD_SHORT
                                : FUZZ_FD_GOOD,
                    raw, raw_len);
    while (!cur.over)
        run_op(false);
    fuzz_world_end();
    return 0;
}
