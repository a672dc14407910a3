/* The own shared-memory segment and read-only mappings of peers' segments. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "context.h"
#include "log.h"
#include "pool.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Maps fd at exactly `base` without clobbering anything there. Kernels before 4.17 treat
 * MAP_FIXED_NOREPLACE as a hint, so the returned address is compared as well. */
static int map_at(uint64_t base, uint64_t size, int prot, int fd)
{
    void *p;

    /* No pool lives at 0. Root may map there (below mmap_min_addr), and NULL would then point
     * into a peer's memory: a notice naming 0 is refused (found by tests/fuzz/fuzz-notice). */
    if (base == 0)
        return -EINVAL;
    p = mmap((void *)(uintptr_t)base, size, prot, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    if ((uintptr_t)p != base) {
        munmap(p, size);
        return -EEXIST;
    }
    /* A forked child must not inherit a writable view of our segment (one writer per segment),
     * nor occupy addresses the broker may give it. */
    madvise(p, size, MADV_DONTFORK);
    return 0;
}

/* Whether the machine can back `size` more bytes of shared memory: a memfd is not limited by
 * /dev/shm, only by memory, and a page it cannot get later is a SIGBUS in whoever touches it. */
static int check_backing(const char *name, uint64_t size)
{
    char buf[4096];
    unsigned long long avail = 0, swap = 0;
    ssize_t n;
    int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    for (char *line = buf; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (!strncmp(line, "MemAvailable:", 13))
            avail = strtoull(line + 13, NULL, 10) * 1024;
        else if (!strncmp(line, "SwapFree:", 9))
            swap = strtoull(line + 9, NULL, 10) * 1024;
    }
    if (avail == 0 || size <= avail + swap)
        return 0;
    return agn_fail(-ENOMEM,
                    "cannot create %s of %llu MiB: the machine has %llu MiB of memory available "
                    "(MemAvailable + SwapFree), and a pool it cannot back would crash whoever "
                    "touches it; ask for less (MEMPOOL_SIZE, MEMPOOL_MAX_SIZE)",
                    name, (unsigned long long)(size >> 20), (avail + swap) >> 20);
}

/*
 * Creates `name` as a memfd of `size` bytes mapped writable at exactly `base`, then seals it:
 * nobody, its owner included, can shrink or grow it or make a new writable mapping, so a
 * read-only descriptor handed to a peer stays read-only and never shrinks under the peer's
 * mapping (docs/security.md). The mapping made before the seal stays writable: the one writer.
 * Returns the descriptor, -EEXIST when the range is occupied here, or another -errno.
 */
static int create_mapped(const char *name, uint64_t base, uint64_t size)
{
    int fd, r;

    if ((r = check_backing(name, size)) < 0)
        return r;
    fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return agn_fail(-errno, "cannot create shared memory %s: %s", name, strerror(errno));
    if (ftruncate(fd, (off_t)size) < 0) {
        r = -errno;
        close(fd);
        return agn_fail(r, "cannot size shared memory %s to %llu bytes: %s", name,
                        (unsigned long long)size, strerror(-r));
    }
    r = map_at(base, size, PROT_READ | PROT_WRITE, fd);
    if (r == 0 && fcntl(fd, F_ADD_SEALS, AGN_SEGMENT_SEALS) < 0) {
        r = agn_fail(-errno, "cannot seal %s: %s", name, strerror(errno));
        munmap((void *)(uintptr_t)base, size);
    } else if (r < 0 && r != -EEXIST) {
        agn_fail(r, "cannot map %s at 0x%llx: %s", name, (unsigned long long)base, strerror(-r));
    }
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int agn_segment_create(struct agnocast_context *ctx, uint64_t base, uint64_t size)
{
    char name[64];
    struct agn_seg_header *h;
    size_t hdr = (sizeof(*h) + 4095) & ~(size_t)4095;
    int r;

    if (size < hdr + 4 * 4096)
        return agn_fail(-EINVAL, "pool size %llu is too small: it must exceed %zu bytes",
                        (unsigned long long)size, hdr + 4 * 4096);
    snprintf(name, sizeof(name), AGN_SEG_NAME_FMT, (int)ctx->pid);
    r = create_mapped(name, base, size);
    if (r == -EEXIST)
        return agn_fail(r,
                        "cannot map the pool at 0x%llx (%llu bytes): the range is occupied in this "
                        "process",
                        (unsigned long long)base, (unsigned long long)size);
    if (r < 0)
        return r;
    ctx->segment.fd = r;
    h = (struct agn_seg_header *)(uintptr_t)base;
    h->layout = AGN_SEG_LAYOUT;
    h->pid = (uint32_t)ctx->pid;
    h->base = base;
    h->size = size;
    h->heap_off = hdr;
    h->heap_size = size - hdr;
    atomic_store_explicit((_Atomic uint64_t *)&h->magic, AGN_SEG_MAGIC, memory_order_release);
    agn_shm_view_open(&ctx->segment.view, h, (uint32_t)ctx->pid, base, size, NULL);
    ctx->segment.header = h;
    ctx->segment.size = size;
    agn_pool_init(&ctx->pool, (char *)h + hdr, size - hdr);
    return 0;
}

void agn_segment_destroy(struct agnocast_context *ctx)
{
    unsigned n;

    for (unsigned i = 0; i < AGN_MAX_AREAS; i++)
        if (ctx->segment.area_fd[i] >= 0) {
            close(ctx->segment.area_fd[i]);
            ctx->segment.area_fd[i] = -1;
        }
    if (ctx->segment.fd >= 0) {
        close(ctx->segment.fd);
        ctx->segment.fd = -1;
    }
    if (!ctx->segment.header)
        return;
    n = atomic_load(&ctx->segment.header->nareas);
    for (unsigned i = 0; i < n && i < AGN_MAX_AREAS; i++)
        munmap((void *)(uintptr_t)ctx->segment.header->areas[i].base,
               ctx->segment.header->areas[i].size);
    agn_pool_fini(&ctx->pool);
    munmap(ctx->segment.header, ctx->segment.size);
    ctx->segment.header = NULL;
}

/* A descriptor the broker vouched for is checked again: sealed against shrinking (else a
 * read past its end would be a SIGBUS here) and as large as the range it is mapped to. */
static int check_peer_fd(int fd, uint64_t size, const char *what, int pid)
{
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);

    if (seals < 0 || (seals & AGN_SEGMENT_SEALS) != AGN_SEGMENT_SEALS)
        return agn_fail(-EBADMSG, "%s of process %d is not sealed against shrinking", what, pid);
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < size)
        return agn_fail(-EBADMSG, "%s of process %d is smaller than the broker says", what, pid);
    return 0;
}

int agn_segment_map_peer(pid_t pid, uint64_t base, uint64_t size, int fd, struct agn_shm_view *view)
{
    const struct agn_seg_header *h;
    const char *why = NULL;
    int r;

    if (fd < 0)
        return agn_fail(-EBADMSG, "the broker sent no segment for process %d", (int)pid);
    /* Every reader of a peer's segment (rings, accepted_pids, the hold-table scan) reads its
     * header in place: one smaller than the header would be read past its end. */
    if (size < sizeof(*h))
        return agn_fail(-EBADMSG, "the segment of process %d is smaller than a segment header",
                        (int)pid);
    if ((r = check_peer_fd(fd, size, "the segment", (int)pid)) < 0)
        return r;
    r = map_at(base, size, PROT_READ, fd);
    if (r < 0)
        return agn_fail(r, "cannot map the segment of process %d read-only at 0x%llx: %s", (int)pid,
                        (unsigned long long)base, strerror(-r));
    if (agn_shm_view_open(view, (const void *)(uintptr_t)base, (uint32_t)pid, base, size, &why) <
        0) {
        munmap((void *)(uintptr_t)base, size);
        return agn_fail(-EBADMSG, "the segment of process %d has an unexpected header: %s",
                        (int)pid, why);
    }
    return 0;
}

void agn_segment_unmap_peer(uint64_t base, uint64_t size)
{
    munmap((void *)(uintptr_t)base, size);
}

/* Creates and maps growth area `n` (1-based in its name) at base. */
static int area_create(struct agnocast_context *ctx, unsigned n, uint64_t base, uint64_t size)
{
    char name[64];
    int r;

    snprintf(name, sizeof(name), AGN_AREA_NAME_FMT, (int)ctx->pid, n);
    r = create_mapped(name, base, size);
    if (r == -EEXIST)
        return agn_fail(r, "cannot map pool growth %s at 0x%llx: occupied here", name,
                        (unsigned long long)base);
    if (r < 0)
        return r;
    ctx->segment.area_fd[n - 1] = r;
    r = agn_broker_attach(ctx, n, base, size, ctx->segment.area_fd[n - 1]);
    if (r < 0) {
        munmap((void *)(uintptr_t)base, size);
        close(ctx->segment.area_fd[n - 1]);
        ctx->segment.area_fd[n - 1] = -1;
    }
    return r;
}

int agn_segment_grow(struct agnocast_context *ctx, size_t need)
{
    unsigned n = atomic_load_explicit(&ctx->segment.header->nareas, memory_order_relaxed);
    uint64_t size = ctx->segment.size, base = 0, got = 0;
    int r;

    if (need + 65536 > size)
        size = (need + 65536 + AGN_SEG_ALIGN - 1) / AGN_SEG_ALIGN * AGN_SEG_ALIGN;
    if (n == AGN_MAX_AREAS)
        return agn_fail(-ENOMEM, "the pool is full and has grown %u times, the most it may", n);
    if (ctx->pool.capacity + size > ctx->segment.limit)
        return agn_fail(-ENOMEM,
                        "the pool is full: growing it by %llu bytes would pass its limit of %llu "
                        "(MEMPOOL_MAX_SIZE); release messages or raise the limit",
                        (unsigned long long)size, (unsigned long long)ctx->segment.limit);
    r = agn_broker_register(ctx, size, 0, AGNOCAST_REGISTER_GROW, &base, &got);
    if (r < 0) {
        /* Say first that this is about a full pool: the broker's words follow. */
        char why[400];
        snprintf(why, sizeof(why), "%s", agnocast_last_error());
        return agn_fail(r, "the pool is full and cannot grow: %s", why);
    }
    if ((r = area_create(ctx, n + 1, base, got)) < 0)
        return r;
    /* Published before the allocator hands out any of it: a message in the area is published
     * (release) after this, so a subscriber that reads it (acquire) finds the area. */
    atomic_store_explicit(&ctx->segment.header->areas[n].base, base, memory_order_relaxed);
    atomic_store_explicit(&ctx->segment.header->areas[n].size, got, memory_order_relaxed);
    atomic_store_explicit(&ctx->segment.header->nareas, n + 1, memory_order_release);
    agn_pool_add_area(&ctx->pool, (void *)(uintptr_t)base, got);
    agn_log(AGNOCAST_LOG_INFO, "pool grew by %llu bytes at 0x%llx (area %u)",
            (unsigned long long)got, (unsigned long long)base, n + 1);
    return 0;
}

int agn_segment_reclaim_areas(struct agnocast_context *ctx)
{
    unsigned n = atomic_load(&ctx->segment.header->nareas);

    for (unsigned i = 0; i < n && i < AGN_MAX_AREAS; i++) {
        uint64_t want = ctx->segment.header->areas[i].base,
                 size = ctx->segment.header->areas[i].size, base = 0, got;
        int r = agn_broker_register(ctx, size, want, AGNOCAST_REGISTER_GROW, &base, &got);
        if (r < 0)
            return r;
        if (base != want)
            return agn_fail(-EADDRINUSE, "the restarted broker gave growth area %u elsewhere",
                            i + 1);
        if ((r = agn_broker_attach(ctx, i + 1, base, size, ctx->segment.area_fd[i])) < 0)
            return r;
    }
    return 0;
}

int agn_segment_area_check(struct agnocast_context *ctx, struct agn_peer *peer, uint64_t addr,
                           uint64_t len)
{
    uint64_t base, size;
    int i = agn_shm_area_find(peer ? &peer->view : &ctx->segment.view, addr, len, &base, &size);
    int r;

    if (i < 0)
        return 0;
    if (!peer)
        return 1;
    if (peer->area_size[i] != 0)
        return peer->area_base[i] == base && peer->area_size[i] == size;
    /* The area's descriptor comes from the broker, after the owner attached it; the owner may
     * publish in it before that notice reaches us. What the broker said is the truth: the
     * header must agree with it. */
    if (peer->area_fd[i] < 0)
        return -EAGAIN;
    if (peer->area_fd_base[i] != base || peer->area_fd_size[i] != size)
        return 0;
    r = check_peer_fd(peer->area_fd[i], size, "a growth area", (int)peer->pid);
    if (r == 0)
        r = map_at(base, size, PROT_READ, peer->area_fd[i]);
    close(peer->area_fd[i]);
    peer->area_fd[i] = -1;
    if (r < 0) {
        agn_log(AGNOCAST_LOG_WARNING,
                "cannot map growth area %d of process %d read-only at 0x%llx: %s", i + 1,
                (int)peer->pid, (unsigned long long)base, strerror(-r));
        return 0;
    }
    peer->area_base[i] = base;
    peer->area_size[i] = size;
    return 1;
}
