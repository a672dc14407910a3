/*
 * Fuzz target: notices. Arbitrary frames go through agnocast_proto_decode as the control
 * thread's do; those it accepts with request id 0 reach agn_notice_handle() with a descriptor
 * of the input's choice. The peer's segment (process FUZZ_PEER_PID at FUZZ_SEG_BASE) is an
 * honest one with a few messages and a growth area; what the notices do with it is the test.
 * fuzz-reader.h says what is checked after each notice.
 *
 * Input:
 *   byte 0      the subscriptions: FUZZ_BEGIN_* flags
 *   byte 1      their depth - 1
 *   then records until the input ends:
 *   byte 0      bits 0-2, the descriptor that rides along: 0 none, 1 a -1 slot, 2 a pipe,
 *               3 the segment's memfd, 4 an unsealed copy of it, 5 a sealed copy one page
 *               short, 6 the growth area's memfd, 7 a datagram socket (a wake channel);
 *               bit 3: an eventfd rides along as a second descriptor;
 *               bit 4: patch the frame first: the peer's pid, and its segment's (or, for
 *               NOTICE_AREA_ADDED, growth area N's) address and size, so good descriptors
 *               can be mapped;
 *               bit 5: then read: take from both subscriptions, dispatch, ask contains;
 *               bit 6: then publish from the local publisher (a reclaim scans held messages);
 *               bit 7: first move the clock past the growth-area wait
 *   bytes 1-2   the frame's length L, little-endian (cut to what is left)
 *   L bytes     the frame, header included
 */
#include "fuzz-reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

const char fuzz_target_name[] = "notice";

#define SEG_SIZE   (8 * 4096ull)
#define AREA_SIZE  (4 * 4096ull)
#define HDR(field) offsetof(struct agn_seg_header, field)
#define SLOT_OFF(i, field)                                                                         \
    (HDR(pubs) + (uint64_t)(i) * sizeof(struct agn_pub_slot) + offsetof(struct agn_pub_slot, field))

static void put64(uint64_t off, uint64_t v)
{
    fuzz_seg_write(off, &v, sizeof(v));
}

/* Message n of publisher idx at addr, as a publisher writes it. */
static void publish(unsigned idx, uint64_t n, uint64_t addr, uint64_t size)
{
    uint64_t depth = idx == 0 ? 8 : 1;
    uint64_t ring = fuzz_seg_read64(SLOT_OFF(idx, ring_off));
    uint64_t e = ring + (n % depth) * sizeof(struct agn_ring_entry);

    put64(e + offsetof(struct agn_ring_entry, addr), addr);
    put64(e + offsetof(struct agn_ring_entry, size), size);
    put64(e + offsetof(struct agn_ring_entry, timestamp_ns), fuzz.now + n);
    put64(e + offsetof(struct agn_ring_entry, seq), n);
    put64(SLOT_OFF(idx, head), n);
}

/* The peer: three messages of publisher 0 in its heap, one of publisher 1 in growth area 1. */
static void world(void)
{
    struct fuzz_mem *area;

    fuzz_seg_create(SEG_SIZE, FUZZ_FD_GOOD, NULL, 0);
    area = fuzz_area_get(0, AREA_SIZE, FUZZ_FD_GOOD);
    put64(HDR(areas[0].base), area->base);
    put64(HDR(areas[0].size), area->size);
    {
        uint32_t one = 1;
        fuzz_seg_write(HDR(nareas), &one, sizeof(one));
    }
    for (uint64_t n = 1; n <= 3; n++)
        publish(0, n, FUZZ_SEG_BASE + fuzz.heap_off + 1024 * n, 100 * n);
    publish(1, 1, area->base + 128, 64);
    fuzz_seg_baseline();
}

static int descriptor(unsigned kind)
{
    int sv[2], fd = -1;

    switch (kind) {
    case 2:
        if (pipe2(sv, O_CLOEXEC) == 0) {
            close(sv[1]);
            fd = sv[0];
        }
        break;
    case 3:
        fd = fcntl(fuzz.seg.fd, F_DUPFD_CLOEXEC, 3);
        break;
    case 4:
        fd = fuzz_seg_copy_fd(FUZZ_FD_UNSEALED);
        break;
    case 5:
        fd = fuzz_seg_copy_fd(FUZZ_FD_SHORT);
        break;
    case 6:
        fd = fcntl(fuzz.area[0].fd, F_DUPFD_CLOEXEC, 3);
        break;
    case 7:
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0) {
            close(sv[1]);
            fd = sv[0];
        }
        break;
    }
    return fd;
}

static void patch(unsigned char *frame, size_t len)
{
    uint16_t kind;
    uint32_t pid = FUZZ_PEER_PID;

    if (len < 16 + 8)
        return;
    memcpy(&kind, frame + 6, sizeof(kind));
    memcpy(frame + 16, &pid, sizeof(pid));
    if ((kind == AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED ||
         kind == AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED ||
         kind == AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED ||
         kind == AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED) &&
        len >= 16 + sizeof(struct agnocast_wire_notice_endpoint)) {
        uint64_t base = FUZZ_SEG_BASE, size = SEG_SIZE;
        memcpy(frame + 16 + offsetof(struct agnocast_wire_notice_endpoint, seg_base), &base, 8);
        memcpy(frame + 16 + offsetof(struct agnocast_wire_notice_endpoint, seg_size), &size, 8);
    } else if (kind == AGNOCAST_MSG_NOTICE_AREA_ADDED &&
               len >= 16 + sizeof(struct agnocast_wire_segment)) {
        uint32_t area;
        uint64_t base, size = AREA_SIZE;
        memcpy(&area, frame + 16 + offsetof(struct agnocast_wire_segment, area), 4);
        base = FUZZ_AREA_BASE + (uint64_t)((area - 1) % AGN_MAX_AREAS) * FUZZ_AREA_STRIDE;
        memcpy(frame + 16 + offsetof(struct agnocast_wire_segment, base), &base, 8);
        memcpy(frame + 16 + offsetof(struct agnocast_wire_segment, size), &size, 8);
    }
}

static void read_all(void)
{
    fuzz_take(1, false, true);
    fuzz_take(0, false, false);
    fuzz_take(1, true, false);
    fuzz.keep_mask = 1;
    fuzz_dispatch(true);
    if (fuzz.nheld) {
        const struct agnocast_message *m = fuzz.held[fuzz.nheld - 1];
        fuzz_contains(fuzz.nheld - 1, (uintptr_t)m->data, m->size);
        fuzz_contains(fuzz.nheld - 1, fuzz.area[0].base + 64, 8);
        fuzz_contains(fuzz.nheld - 1, FUZZ_SEG_BASE + SEG_SIZE - 8, 16);
    }
    while (fuzz.nheld > 8)
        fuzz_release(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    static unsigned char frame[AGNOCAST_PROTO_FRAME_MAX];
    const uint8_t *p = data, *end = data + size;

    if (!ready) {
        fuzz_world_init();
        ready = true;
    }
    if (size < 2)
        return 0;
    fuzz_world_begin(1 + p[1] % AGNOCAST_DEPTH_MAX, p[0], 3);
    world();
    p += 2;
    while (end - p >= 3) {
        unsigned sel = p[0];
        size_t len = p[1] | (size_t)p[2] << 8;
        int fds[2] = {-1, -1}, nfds = 0;
        p += 3;
        if (len > (size_t)(end - p))
            len = (size_t)(end - p);
        memcpy(frame, p, len);
        p += len;
        if (sel & 0x10)
            patch(frame, len);
        if (sel & 7) {
            fds[0] = descriptor(sel & 7);
            nfds = 1;
        }
        if (sel & 8) {
            fds[nfds++] = eventfd(0, EFD_CLOEXEC);
        }
        if (sel & 0x80)
            fuzz.now += AGN_AREA_WAIT_NS + 1;
        fuzz_frame(frame, len, fds, nfds);
        if (sel & 0x20)
            read_all();
        if (sel & 0x40)
            fuzz_local_publish(64);
    }
    fuzz_world_end();
    return 0;
}

/* ---- seeds (the replay driver's --make-seeds) ---- */

static unsigned char seed[16384];
static size_t seed_len;

static void record(unsigned sel, uint16_t kind, const void *payload, size_t len)
{
    union agnocast_frame_buffer out;
    ssize_t n = agnocast_proto_encode(out.bytes, sizeof(out.bytes), kind, 0, payload, len);

    if (n < 0 || seed_len + 3 + (size_t)n > sizeof(seed))
        return;
    seed[seed_len++] = (unsigned char)sel;
    seed[seed_len++] = (unsigned char)(n & 0xff);
    seed[seed_len++] = (unsigned char)(n >> 8);
    memcpy(seed + seed_len, out.bytes, (size_t)n);
    seed_len += (size_t)n;
}

static void endpoint_record(unsigned sel, uint16_t kind, uint32_t pid, uint32_t index,
                            const char *topic, uint32_t flags)
{
    struct agnocast_wire_notice_endpoint n = {0};

    n.pid = pid;
    n.index = index;
    if (kind == AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED || kind == AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED)
        n.qos.depth = 4;
    n.seg_base = pid == FUZZ_SELF_PID ? FUZZ_OWN_BASE : FUZZ_SEG_BASE;
    n.seg_size = pid == FUZZ_SELF_PID ? FUZZ_OWN_SIZE : SEG_SIZE;
    n.flags = flags;
    agnocast_topic_field_set(n.topic, topic);
    record(sel, kind, &n, sizeof(n));
}

static void area_record(unsigned sel, uint32_t area, uint64_t base, uint64_t size)
{
    struct agnocast_wire_segment a = {
        .pid = FUZZ_PEER_PID, .area = area, .base = base, .size = size};

    record(sel, AGNOCAST_MSG_NOTICE_AREA_ADDED, &a, sizeof(a));
}

static void process_record(unsigned sel, uint16_t kind, uint32_t pid)
{
    struct agnocast_wire_notice_process p = {.pid = pid};

    record(sel, kind, &p, sizeof(p));
}

static void begin(unsigned flags, unsigned depth)
{
    seed_len = 0;
    seed[seed_len++] = (unsigned char)flags;
    seed[seed_len++] = (unsigned char)(depth - 1);
}

int fuzz_make_seeds(int (*emit)(const char *name, const unsigned char *bytes, size_t len))
{
    const uint16_t pa = AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED,
                   sa = AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED,
                   pr = AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED,
                   sr = AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED;
    int r = 0;

    /* What the broker sends a subscriber of an honest publisher, in order. */
    begin(0, 8);
    endpoint_record(3 | 0x20, pa, FUZZ_PEER_PID, 0, "/fuzz/a", 0);
    endpoint_record(3 | 0x20, pa, FUZZ_PEER_PID, 1, "/fuzz/b", 0);
    area_record(6 | 0x20, 1, FUZZ_AREA_BASE, AREA_SIZE);
    record(7 | 0x20, AGNOCAST_MSG_NOTICE_WAKE_ADDED,
           &(struct agnocast_wire_notice_process){.pid = FUZZ_PEER_PID}, 8);
    endpoint_record(0x20, pr, FUZZ_PEER_PID, 0, "/fuzz/a", 0);
    process_record(0x20, AGNOCAST_MSG_NOTICE_PROCESS_GONE, FUZZ_PEER_PID);
    r |= emit("subscriber", seed, seed_len);

    /* What a publisher gets: the peer subscribes (announced, then not), leaves. */
    begin(0x10, 4);
    endpoint_record(3, sa, FUZZ_PEER_PID, 0, "/fuzz/a", AGNOCAST_NOTICE_ANNOUNCE);
    endpoint_record(3 | 0x40, sa, FUZZ_PEER_PID, 5, "/fuzz/a", 0);
    endpoint_record(0x40, sa, FUZZ_SELF_PID, 0, "/fuzz/a", AGNOCAST_NOTICE_ANNOUNCE);
    endpoint_record(0x20 | 0x40, sr, FUZZ_PEER_PID, 5, "/fuzz/a", 0);
    endpoint_record(0x40, sr, FUZZ_PEER_PID, 0, "/fuzz/a", 0);
    process_record(0x40, AGNOCAST_MSG_NOTICE_PROCESS_GONE, FUZZ_PEER_PID);
    r |= emit("publisher", seed, seed_len);

    /* Every wrong descriptor with each kind that takes one. */
    begin(0, 2);
    for (unsigned fd = 0; fd < 8; fd++) {
        endpoint_record(fd | 0x20, pa, FUZZ_PEER_PID, fd, "/fuzz/b", 0);
        endpoint_record(fd | 8, sa, FUZZ_PEER_PID, fd, "/fuzz/a", 0);
        area_record(fd | 0x20, 1 + fd, FUZZ_AREA_BASE + fd * FUZZ_AREA_STRIDE, AREA_SIZE);
        process_record(fd, AGNOCAST_MSG_NOTICE_WAKE_ADDED, FUZZ_PEER_PID);
    }
    process_record(0x20, AGNOCAST_MSG_NOTICE_PROCESS_GONE, FUZZ_PEER_PID);
    r |= emit("descriptors", seed, seed_len);

    /* Notices that lie: another address, another size, another pid, our own pid. */
    begin(0x8, 16);
    {
        struct agnocast_wire_notice_endpoint n = {0};
        n.pid = FUZZ_PEER_PID;
        n.qos.depth = 1;
        agnocast_topic_field_set(n.topic, "/fuzz/b");
        n.seg_base = FUZZ_SEG_BASE + 4096;
        n.seg_size = SEG_SIZE;
        record(3 | 0x20, pa, &n, sizeof(n));
        n.seg_base = 0x100000000000ull;
        record(3 | 0x20, pa, &n, sizeof(n));
        n.seg_base = FUZZ_SEG_BASE;
        n.seg_size = 4096;
        record(3 | 0x20, pa, &n, sizeof(n));
        n.seg_size = SEG_SIZE * 2;
        record(3 | 0x20, pa, &n, sizeof(n));
        n.pid = 77;
        n.seg_size = SEG_SIZE;
        record(3 | 0x20, pa, &n, sizeof(n));
        n.pid = FUZZ_SELF_PID;
        record(3 | 0x20, pa, &n, sizeof(n));
    }
    endpoint_record(3 | 0x20, pa, FUZZ_PEER_PID, 70, "/fuzz/b", 0);
    endpoint_record(3 | 0x20, pa, FUZZ_PEER_PID, 1, "/fuzz/b", 0);
    area_record(6 | 0x20 | 0x80, 1, FUZZ_AREA_BASE + 4096, AREA_SIZE);
    area_record(6 | 0x20, 1, FUZZ_AREA_BASE, AREA_SIZE * 2);
    area_record(6 | 0x20 | 0x80, 15, FUZZ_AREA_BASE, AREA_SIZE);
    r |= emit("lies", seed, seed_len);

    /* Kinds that are no notices, with descriptors. */
    begin(0, 1);
    {
        struct agnocast_wire_ok ok = {.value = 1};
        struct agnocast_wire_segment a = {.area = 0, .base = FUZZ_SEG_BASE, .size = SEG_SIZE};
        record(3, AGNOCAST_MSG_OK, &ok, sizeof(ok));
        record(3 | 8, AGNOCAST_MSG_ATTACH_SEGMENT, &a, sizeof(a));
        record(2, AGNOCAST_MSG_STATS, NULL, 0);
        record(7, AGNOCAST_MSG_HAND_WAKE,
               &(struct agnocast_wire_notice_process){.pid = FUZZ_PEER_PID}, 8);
    }
    r |= emit("not-notices", seed, seed_len);
    return r;
}
