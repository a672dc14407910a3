/* The world of the reader's fuzz targets: a hand-built context and the forged peer memory. */
#include "fuzz-reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

struct fuzz_world fuzz;
struct fuzz_reader_counts fuzz_counts;

static bool poked; /* the input wrote into the forged segment after creating it */

/* ---- what util.c and context.c would provide (not compiled in: the clock is the input's, no
 * broker, no control thread) ---- */

uint64_t agn_now_ns(void)
{
    return fuzz.now;
}

unsigned agn_fork_generation(void)
{
    return 0;
}

/* agn_forked_since() is inline over this counter: never bumped, no handle is a parent's. */
_Atomic unsigned agn_fork_counter;

bool agn_forked_report(void)
{
    return true;
}

int agn_size_from_env(const char *var, uint64_t align, uint64_t *size)
{
    *size = 0;
    return 0;
}

struct agnocast_context *agn_context_current(void)
{
    return fuzz.ctx;
}

/* The heap hook's whole-heap mode would start a context; never here. */
int agnocast_context_new(struct agnocast_context **ret)
{
    return -ENOTSUP;
}

/* ---- failures ---- */

void fuzz_fail(const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    dprintf(2, "fuzz-%s: invariant broken: %s\n", fuzz_target_name, line);
    abort();
}

static void count_log(enum agnocast_log_level level, const char *message, void *userdata)
{
    if (level <= AGNOCAST_LOG_WARNING)
        fuzz_counts.warnings++;
    if (getenv("FUZZ_READER_LOG"))
        dprintf(2, "agnocast: %s\n", message);
}

/* ---- what the process holds: descriptors and mappings, counted without allocating ---- */

static int count_fds(void)
{
    char buf[4096];
    int fd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
    long got;

    if (fd < 0)
        fuzz_fail("cannot open /proc/self/fd: %s", strerror(errno));
    while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < got;) {
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof(reclen));
            if (buf[off + 19] != '.')
                n++;
            off += reclen;
        }
    }
    close(fd);
    return n - 1; /* the directory's own descriptor */
}

static int count_maps(void)
{
    static char buf[65536];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), n = 0;
    ssize_t got;

    if (fd < 0)
        fuzz_fail("cannot open /proc/self/maps: %s", strerror(errno));
    while ((got = read(fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < got; i++)
            n += buf[i] == '\n';
    close(fd);
    return n;
}

/* Whether the page at addr is mapped (whatever its protection). */
bool fuzz_page_mapped(uint64_t addr)
{
    unsigned char v;

    addr &= ~(uint64_t)4095;
    if (addr == 0 || addr >= 0x800000000000ull)
        return false;
    return mincore((void *)(uintptr_t)addr, 4096, &v) == 0 || errno != ENOMEM;
}

/* ---- the world ---- */

void fuzz_world_init(void)
{
    struct agnocast_context *ctx;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
    int sv[2], r;

    ctx = mmap(NULL, sizeof(*ctx), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ctx == MAP_FAILED)
        fuzz_fail("cannot allocate the context");
    ctx->pid = ctx->os_pid = FUZZ_SELF_PID;
    ctx->control.epoll = ctx->segment.fd = -1;
    ctx->control.stop_pipe[0] = ctx->control.stop_pipe[1] = -1;
    for (int i = 0; i < AGN_MAX_AREAS; i++)
        ctx->segment.area_fd[i] = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
        fuzz_fail("socketpair: %s", strerror(errno));
    ctx->broker.sock = sv[0];
    fuzz.broker_end = sv[1];
    ctx->wake.doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ctx->wake.set = epoll_create1(EPOLL_CLOEXEC);
    if (ctx->wake.doorbell < 0 || ctx->wake.set < 0 ||
        epoll_ctl(ctx->wake.set, EPOLL_CTL_ADD, ctx->wake.doorbell, &ev) < 0)
        fuzz_fail("cannot make the wake set: %s", strerror(errno));
    pthread_mutex_init(&ctx->lock, NULL);
    pthread_mutex_init(&ctx->broker.request_lock, NULL);
    pthread_mutex_init(&ctx->segment.grow_lock, NULL);
    pthread_mutex_init(&ctx->create_lock, NULL);
    pthread_mutex_init(&ctx->broker.reply_lock, NULL);
    pthread_cond_init(&ctx->broker.reply_cond, NULL);
    for (int i = 0; i < AGN_MAX_HOLDS; i++)
        ctx->messages[i].ctx = ctx;
    /* No broker: a request (pool growth) fails at once instead of waiting for a reply. */
    ctx->broker.lost = true;
    agnocast_set_log_callback(count_log, AGNOCAST_LOG_WARNING, NULL);
    r = agn_segment_create(ctx, FUZZ_OWN_BASE, FUZZ_OWN_SIZE);
    if (r < 0)
        fuzz_fail("cannot create the own segment: %s", agnocast_last_error());
    fuzz.ctx = ctx;
    fuzz.seg.fd = -1;
    for (int j = 0; j < AGN_MAX_AREAS; j++)
        fuzz.area[j].fd = -1;
}

static void sub_setup(unsigned i, const char *topic, unsigned depth, unsigned flags,
                      uint64_t missed_below_max)
{
    struct agnocast_context *ctx = fuzz.ctx;
    struct agnocast_subscription *sub = &ctx->subs[i];

    memset(sub, 0, sizeof(*sub));
    sub->ctx = ctx;
    sub->in_use = true;
    sub->index = i;
    agnocast_topic_field_set(sub->topic, topic);
    sub->qos.depth = depth;
    sub->qos.durability = (flags & FUZZ_BEGIN_TRANSIENT_LOCAL) ? AGNOCAST_DURABILITY_TRANSIENT_LOCAL
                                                               : AGNOCAST_DURABILITY_VOLATILE;
    sub->qos.ignore_local = (flags & FUZZ_BEGIN_IGNORE_LOCAL) ? 1 : 0;
    sub->callback = i == 0 ? fuzz_on_message : NULL;
    sub->created_ns = (flags & FUZZ_BEGIN_CREATED_NOW) ? fuzz.now : 0;
    sub->stats = &ctx->segment.header->subs[i];
    atomic_store(&sub->stats->received, 0);
    atomic_store(&sub->stats->missed,
                 (flags & FUZZ_BEGIN_MISSED_HIGH) ? UINT64_MAX - missed_below_max : 0);
    atomic_store(&sub->stats->corrupt, 0);
    atomic_store(&sub->stats->unreachable, 0);
    atomic_store(&sub->stats->active, 1);
    if (sub->callback)
        ctx->callback_subs[ctx->ncallback_subs++] = sub;
    fuzz.sub[i] = sub;
}

void fuzz_stats(unsigned i, uint64_t out[4])
{
    const struct agn_sub_slot *s = fuzz.sub[i]->stats;

    out[0] = atomic_load(&s->received);
    out[1] = atomic_load(&s->missed);
    out[2] = atomic_load(&s->corrupt);
    out[3] = atomic_load(&s->unreachable);
}

void fuzz_world_begin(unsigned depth, unsigned flags, uint64_t missed_below_max)
{
    struct agnocast_context *ctx = fuzz.ctx;
    struct agn_seg_header *h = ctx->segment.header;
    size_t hdr = (sizeof(*h) + 4095) & ~(size_t)4095;
    struct agnocast_publisher *pub = &ctx->pubs[0];
    size_t ring_bytes = 8 * sizeof(struct agn_ring_entry);
    struct agn_ring_entry *ring;

    fuzz_counts.inputs++;
    /* The own segment as a fresh process has it (the header's identity stays). */
    atomic_store(&h->nareas, 0);
    memset(h->accepted_pids, 0, sizeof(h->accepted_pids));
    memset(h->pubs, 0, sizeof(h->pubs));
    memset(h->subs, 0, sizeof(h->subs));
    atomic_store(&h->holds_used, 0);
    memset(h->holds, 0, sizeof(h->holds));
    agn_pool_fini(&ctx->pool);
    agn_pool_init(&ctx->pool, (char *)h + hdr, FUZZ_OWN_SIZE - hdr);
    ctx->retired.list = 0;
    ctx->retired.count = 0;
    ctx->noccupied = 0;
    memset(ctx->slot_rings, 0, sizeof(ctx->slot_rings));
    memset(ctx->peers, 0, sizeof(ctx->peers));
    memset(ctx->pubs, 0, sizeof(ctx->pubs));
    memset(ctx->subs, 0, sizeof(ctx->subs));
    ctx->ncallback_subs = 0;
    for (int i = 0; i < AGN_MAX_HOLDS; i++)
        if (ctx->messages[i].in_use)
            fuzz_fail("message handle %d still in use at the start of an input", i);

    fuzz.now = 1000000000000ull;
    fuzz.nheld = 0;
    fuzz.keep_mask = 0;
    fuzz.in_callback = NULL;
    fuzz.max_word = 0;
    fuzz.last_local = NULL;
    memset(fuzz.instances, 0, sizeof(fuzz.instances));
    memset(fuzz.last_seq, 0, sizeof(fuzz.last_seq));
    poked = false;

    /* The local publisher, as agnocast_publisher_new makes it (without asking the broker). */
    ring = agn_pool_memalign(&ctx->pool, 64, ring_bytes + 8 * sizeof(uintptr_t));
    if (!ring)
        fuzz_fail("no room for the local publisher's ring");
    memset(ring, 0, ring_bytes + 8 * sizeof(uintptr_t));
    ctx->slot_rings[0].ring = ring;
    ctx->slot_rings[0].in_ring = (uintptr_t *)((char *)ring + ring_bytes);
    ctx->slot_rings[0].capacity = 8;
    pub->ctx = ctx;
    pub->in_use = true;
    pub->index = 0;
    agnocast_topic_field_set(pub->topic, "/fuzz/a");
    pub->qos =
        (struct agnocast_wire_qos){.depth = 8, .durability = AGNOCAST_DURABILITY_TRANSIENT_LOCAL};
    pub->ring = ring;
    pub->in_ring = ctx->slot_rings[0].in_ring;
    pub->slot = &h->pubs[0];
    pub->slot->depth = 8;
    pub->slot->ring_off = (uint64_t)((uintptr_t)ring - (uintptr_t)h);
    pub->slot->transient_local = 1;
    atomic_store(&pub->slot->active, 1);
    ctx->pending_pub = (flags & FUZZ_BEGIN_PENDING_PUB) ? pub : NULL;
    fuzz.pub = pub;

    sub_setup(0, "/fuzz/a", depth, flags, missed_below_max);
    sub_setup(1, "/fuzz/b", depth, flags, missed_below_max);
    for (unsigned i = 0; i < 2; i++) {
        fuzz_stats(i, fuzz.start[i]);
        memcpy(fuzz.prev[i], fuzz.start[i], sizeof(fuzz.prev[i]));
    }
    /* The first failure a thread records maps its log area (log.c), kept until the thread
     * exits: map it now, so that it is not counted as the input's mapping. */
    agn_fail(0, "fuzz: the log area is mapped before counting");
    agn_clear_error();
    fuzz.fds_before = count_fds();
    fuzz.maps_before = count_maps();
}

/* PROT_NONE around [base, base + size): a read past either end faults. */
static void guard(uint64_t base, uint64_t size)
{
    uint64_t end = (base + size + 4095) & ~(uint64_t)4095;
    void *lo = mmap((void *)(uintptr_t)(base - FUZZ_GUARD), FUZZ_GUARD, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    void *hi = mmap((void *)(uintptr_t)end, FUZZ_GUARD, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);

    if (lo != (void *)(uintptr_t)(base - FUZZ_GUARD) || hi != (void *)(uintptr_t)end)
        fuzz_fail("cannot place the guards around 0x%llx: %s", (unsigned long long)base,
                  strerror(errno));
}

static void unguard(uint64_t base, uint64_t size)
{
    uint64_t end = (base + size + 4095) & ~(uint64_t)4095;

    munmap((void *)(uintptr_t)(base - FUZZ_GUARD), FUZZ_GUARD);
    munmap((void *)(uintptr_t)end, FUZZ_GUARD);
}

/* Every 8-byte window of [off, off + len) of the pen, at every byte offset: a ring the peer
 * placed unaligned is read through such windows. */
static void note_range(uint64_t off, uint64_t len)
{
    uint64_t file = fuzz.seg.kind == FUZZ_FD_SHORT ? fuzz.seg.size - 4096 : fuzz.seg.size;
    uint64_t from = off >= 7 ? off - 7 : 0, to = off + len;

    if (to > file)
        to = file;
    for (uint64_t o = from; o + 8 <= to + 7 && o + 8 <= file; o++) {
        uint64_t v;
        memcpy(&v, fuzz.seg.pen + o, 8);
        if (v > fuzz.max_word)
            fuzz.max_word = v;
    }
}

void fuzz_note_word(uint64_t v)
{
    if (v > fuzz.max_word)
        fuzz.max_word = v;
}

static int memfd_of(const char *name, uint64_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
        fuzz_fail("cannot make a memfd of %llu bytes: %s", (unsigned long long)size,
                  strerror(errno));
    return fd;
}

static void seal(int fd)
{
    if (fcntl(fd, F_ADD_SEALS, AGN_SEGMENT_SEALS) < 0)
        fuzz_fail("cannot seal: %s", strerror(errno));
}

/* The segment header a well-behaved publisher with two publishers would have written. */
static void seg_default(unsigned char *pen, uint64_t size, uint32_t mark)
{
    struct agn_seg_header *h = (struct agn_seg_header *)pen;
    uint64_t hdr = (sizeof(*h) + 4095) & ~(uint64_t)4095;

    fuzz.heap_off = size > hdr + 4096 ? hdr : (size / 2) & ~(uint64_t)63;
    h->magic = AGN_SEG_MAGIC;
    h->layout = AGN_SEG_LAYOUT;
    h->pid = FUZZ_PEER_PID;
    h->base = FUZZ_SEG_BASE;
    h->size = size;
    h->heap_off = fuzz.heap_off;
    h->heap_size = size - fuzz.heap_off;
    h->reserved_areas = mark;
    atomic_store(&h->accepted_pids[0], FUZZ_SELF_PID);
    atomic_store(&h->pubs[0].active, 1);
    h->pubs[0].depth = 8;
    h->pubs[0].ring_off = fuzz.heap_off;
    h->pubs[0].transient_local = 1;
    atomic_store(&h->pubs[1].active, 1);
    h->pubs[1].depth = 1;
    h->pubs[1].ring_off = fuzz.heap_off + 8 * sizeof(struct agn_ring_entry);
}

void fuzz_seg_create(uint64_t size, enum fuzz_fd_kind kind, const unsigned char *raw,
                     size_t raw_len)
{
    uint64_t file = kind == FUZZ_FD_SHORT ? size - 4096 : size;
    struct fuzz_mem *m = &fuzz.seg;

    if (size < 8192 && kind == FUZZ_FD_SHORT)
        file = size / 2;
    m->fd = memfd_of("fuzz-segment", file);
    m->pen = mmap(NULL, file, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
    if (m->pen == MAP_FAILED)
        fuzz_fail("cannot map the forged segment's pen: %s", strerror(errno));
    m->base = FUZZ_SEG_BASE;
    m->size = size;
    m->kind = kind;
    if (kind == FUZZ_FD_SHORT)
        m->size = size; /* what notices announce; the object is smaller */
    seg_default(m->pen, file < size ? file : size,
                kind == FUZZ_FD_GOOD ? FUZZ_MARK_GOOD : FUZZ_MARK_BAD);
    if (kind == FUZZ_FD_SHORT) /* the header tells the size the notice will */
        ((struct agn_seg_header *)m->pen)->size = size;
    if (raw) {
        memcpy(m->pen, raw, raw_len < file ? raw_len : file);
        fuzz.heap_off = ((struct agn_seg_header *)m->pen)->heap_off;
    }
    note_range(0, file);
    if (kind != FUZZ_FD_UNSEALED)
        seal(m->fd);
    guard(m->base, m->size);
    m->guarded = true;
}

void fuzz_seg_write(uint64_t off, const void *src, size_t len)
{
    uint64_t file;

    if (fuzz.seg.fd < 0)
        return;
    file = fuzz.seg.kind == FUZZ_FD_SHORT ? fuzz.seg.size - 4096 : fuzz.seg.size;
    if (fuzz.seg.size < 8192 && fuzz.seg.kind == FUZZ_FD_SHORT)
        file = fuzz.seg.size / 2;
    if (off >= file)
        return;
    if (len > file - off)
        len = file - off;
    memcpy(fuzz.seg.pen + off, src, len);
    note_range(off, len);
    poked = true;
}

uint64_t fuzz_seg_read64(uint64_t off)
{
    uint64_t v = 0, file;

    if (fuzz.seg.fd < 0)
        return 0;
    file = fuzz.seg.kind == FUZZ_FD_SHORT ? fuzz.seg.size - 4096 : fuzz.seg.size;
    if (fuzz.seg.size < 8192 && fuzz.seg.kind == FUZZ_FD_SHORT)
        file = fuzz.seg.size / 2;
    if (off <= file && file - off >= 8)
        memcpy(&v, fuzz.seg.pen + off, 8);
    return v;
}

void fuzz_seg_baseline(void)
{
    poked = false;
}

bool fuzz_seg_poked(void)
{
    return poked;
}

int fuzz_seg_copy_fd(enum fuzz_fd_kind kind)
{
    uint64_t size = fuzz.seg.size, file = kind == FUZZ_FD_SHORT ? size - 4096 : size;
    uint32_t mark = FUZZ_MARK_BAD;
    int fd = memfd_of("fuzz-segment-copy", file);

    if (pwrite(fd, fuzz.seg.pen, file, 0) != (ssize_t)file ||
        pwrite(fd, &mark, sizeof(mark), offsetof(struct agn_seg_header, reserved_areas)) !=
            sizeof(mark))
        fuzz_fail("cannot fill a segment copy: %s", strerror(errno));
    if (kind != FUZZ_FD_UNSEALED)
        seal(fd);
    return fd;
}

struct fuzz_mem *fuzz_area_get(unsigned j, uint64_t size, enum fuzz_fd_kind kind)
{
    struct fuzz_mem *m = &fuzz.area[j % AGN_MAX_AREAS];
    uint64_t mark = kind == FUZZ_FD_GOOD ? FUZZ_MARK_GOOD : FUZZ_MARK_BAD, file;

    if (m->fd >= 0)
        return m;
    file = kind == FUZZ_FD_SHORT ? size - 4096 : size;
    if (size < 8192 && kind == FUZZ_FD_SHORT)
        file = size / 2;
    m->fd = memfd_of("fuzz-area", file);
    if (pwrite(m->fd, &mark, sizeof(mark), 0) != sizeof(mark))
        fuzz_fail("cannot mark an area: %s", strerror(errno));
    if (kind != FUZZ_FD_UNSEALED)
        seal(m->fd);
    m->base = FUZZ_AREA_BASE + (uint64_t)(j % AGN_MAX_AREAS) * FUZZ_AREA_STRIDE;
    m->size = size;
    m->kind = kind;
    m->pen = NULL;
    guard(m->base, size);
    m->guarded = true;
    return m;
}

void fuzz_world_end(void)
{
    struct agnocast_context *ctx = fuzz.ctx;
    int fds, maps;

    fuzz.in_callback = NULL;
    for (int i = 0; i < AGN_MAX_PEERS; i++) {
        if (!ctx->peers[i].in_use)
            continue;
        fuzz_counts.mapped_peers++;
        for (int a = 0; a < AGN_MAX_AREAS; a++)
            fuzz_counts.mapped_areas += ctx->peers[i].area_size[a] != 0;
    }
    for (unsigned s = 0; s < 2; s++) {
        uint64_t cur[4];
        fuzz_stats(s, cur);
        fuzz_counts.corrupt += cur[2] - fuzz.start[s][2];
        fuzz_counts.refused_maps += cur[3] - fuzz.start[s][3];
    }
    while (fuzz.nheld)
        fuzz_release(0);
    /* The broker says the peers are gone, as it would when they exit. */
    pthread_mutex_lock(&ctx->lock);
    for (int i = 0; i < AGN_MAX_PEERS; i++)
        if (ctx->peers[i].in_use && !ctx->peers[i].gone)
            agn_notice_process_gone(ctx, ctx->peers[i].pid);
    agn_subscription_remove_source(fuzz.sub[0], ctx->pid, 0, true);
    agn_subscription_remove_source(fuzz.sub[1], ctx->pid, 0, true);
    pthread_mutex_unlock(&ctx->lock);
    for (int i = 0; i < AGN_MAX_PEERS; i++)
        if (ctx->peers[i].in_use)
            fuzz_fail("peer %d (%s) is still mapped after it left and nothing is held",
                      (int)ctx->peers[i].pid, ctx->peers[i].gone ? "gone" : "not gone");
    if (fuzz_handles_in_use())
        fuzz_fail("%u message handles in use after every message was released",
                  fuzz_handles_in_use());
    for (int s = 0; s < 2; s++)
        if (fuzz.sub[s]->nsources)
            fuzz_fail("subscription %d keeps %u sources of gone processes", s,
                      fuzz.sub[s]->nsources);
    fuzz_drain_broker();

    if (fuzz.seg.fd >= 0) {
        uint64_t file = fuzz.seg.kind == FUZZ_FD_SHORT ? fuzz.seg.size - 4096 : fuzz.seg.size;
        if (fuzz.seg.size < 8192 && fuzz.seg.kind == FUZZ_FD_SHORT)
            file = fuzz.seg.size / 2;
        munmap(fuzz.seg.pen, file);
        close(fuzz.seg.fd);
        fuzz.seg.fd = -1;
    }
    if (fuzz.seg.guarded) {
        if (fuzz_page_mapped(fuzz.seg.base))
            fuzz_fail("the forged segment is still mapped at 0x%llx",
                      (unsigned long long)fuzz.seg.base);
        unguard(fuzz.seg.base, fuzz.seg.size);
        fuzz.seg.guarded = false;
    }
    for (int j = 0; j < AGN_MAX_AREAS; j++) {
        struct fuzz_mem *m = &fuzz.area[j];
        if (m->fd >= 0) {
            close(m->fd);
            m->fd = -1;
        }
        if (m->guarded) {
            if (fuzz_page_mapped(m->base))
                fuzz_fail("growth area %d is still mapped at 0x%llx", j + 1,
                          (unsigned long long)m->base);
            unguard(m->base, m->size);
            m->guarded = false;
        }
    }
    fds = count_fds();
    maps = count_maps();
    if (fds != fuzz.fds_before)
        fuzz_fail("%d descriptors open after the input, %d before: the library leaks or "
                  "closed one it did not own",
                  fds, fuzz.fds_before);
    if (maps != fuzz.maps_before)
        fuzz_fail("%d mappings after the input, %d before", maps, fuzz.maps_before);
}
