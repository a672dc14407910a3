/* The own shared-memory segment and read-only mappings of peers' segments. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agnocast-internal.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Maps fd at exactly `base` without clobbering anything there. Kernels before 4.17 treat
 * MAP_FIXED_NOREPLACE as a hint, so the returned address is compared as well. */
static int map_at(uint64_t base, uint64_t size, int prot, int fd)
{
    void *p = mmap((void *)(uintptr_t)base, size, prot, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);

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

int agn_segment_create(struct agnocast_context *ctx, uint64_t base, uint64_t size)
{
    char name[64];
    struct agn_seg_header *h;
    size_t hdr = (sizeof(*h) + 4095) & ~(size_t)4095;
    int fd, r;

    if (size < hdr + 4 * 4096)
        return agn_fail(-EINVAL, "pool size %llu is too small: it must exceed %zu bytes",
                        (unsigned long long)size, hdr + 4 * 4096);
    snprintf(name, sizeof(name), AGN_SEG_NAME_FMT, (int)ctx->pid);
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0 && errno == EEXIST) {
        /* Our pid is unique among live processes: the name is a dead process's leftover. */
        agn_log(AGNOCAST_LOG_INFO, "removing stale segment %s of a dead process", name);
        shm_unlink(name);
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    }
    if (fd < 0)
        return agn_fail(-errno, "cannot create shared memory %s: %s", name, strerror(errno));
    if (ftruncate(fd, (off_t)size) < 0) {
        r = -errno;
        close(fd);
        shm_unlink(name);
        return agn_fail(r, "cannot size shared memory %s to %llu bytes: %s", name,
                        (unsigned long long)size, strerror(-r));
    }
    r = map_at(base, size, PROT_READ | PROT_WRITE, fd);
    close(fd);
    if (r < 0) {
        shm_unlink(name);
        return agn_fail(r,
                        "cannot map the pool at 0x%llx (%llu bytes): %s; the broker's address "
                        "window collides with this process's memory: start agnocastd with another "
                        "--window-base",
                        (unsigned long long)base, (unsigned long long)size, strerror(-r));
    }
    h = (struct agn_seg_header *)(uintptr_t)base;
    h->layout = AGN_SEG_LAYOUT;
    h->pid = (uint32_t)ctx->pid;
    h->base = base;
    h->size = size;
    h->heap_off = hdr;
    h->heap_size = size - hdr;
    atomic_store_explicit((_Atomic uint64_t *)&h->magic, AGN_SEG_MAGIC, memory_order_release);
    ctx->seg = h;
    ctx->seg_size = size;
    agn_pool_init(&ctx->pool, (char *)h + hdr, size - hdr);
    return 0;
}

void agn_segment_destroy(struct agnocast_context *ctx)
{
    char name[64];

    if (!ctx->seg)
        return;
    snprintf(name, sizeof(name), AGN_SEG_NAME_FMT, (int)ctx->pid);
    shm_unlink(name);
    agn_pool_fini(&ctx->pool);
    munmap(ctx->seg, ctx->seg_size);
    ctx->seg = NULL;
}

int agn_segment_map_peer(pid_t pid, uint64_t base, uint64_t size)
{
    char name[64];
    const struct agn_seg_header *h;
    struct stat st;
    int fd, r;

    snprintf(name, sizeof(name), AGN_SEG_NAME_FMT, (int)pid);
    fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return agn_fail(-errno, "cannot open segment %s of process %d: %s", name, (int)pid,
                        strerror(errno));
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < size) {
        close(fd);
        return agn_fail(-EBADMSG, "segment %s is smaller than the broker says", name);
    }
    r = map_at(base, size, PROT_READ, fd);
    close(fd);
    if (r < 0)
        return agn_fail(r, "cannot map segment %s read-only at 0x%llx: %s", name,
                        (unsigned long long)base, strerror(-r));
    h = (const struct agn_seg_header *)(uintptr_t)base;
    if (atomic_load_explicit((const _Atomic uint64_t *)&h->magic, memory_order_acquire) !=
            AGN_SEG_MAGIC ||
        h->layout != AGN_SEG_LAYOUT || h->base != base || h->size != size ||
        h->pid != (uint32_t)pid) {
        munmap((void *)(uintptr_t)base, size);
        return agn_fail(-EBADMSG, "segment %s has an unexpected header", name);
    }
    return 0;
}

void agn_segment_unmap_peer(uint64_t base, uint64_t size)
{
    munmap((void *)(uintptr_t)base, size);
}
