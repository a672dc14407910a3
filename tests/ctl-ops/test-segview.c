/* segview: agnocastctl's read-only segment view, on forged segments (sealed memfds, handed over
 * as the broker would) whose descriptors, header, rings and entries lie. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agnocastctl.h"
#include "segview.h"
#include "shm-layout.h"

#define SEG_SIZE  (1024 * 1024)
#define SEG_BASE  0x7e0000000000ull /* an address the segment never has here: views translate */
#define RING_SLOT 3
#define AREA_BASE (SEG_BASE + 16 * 1024 * 1024)
#define AREA_SIZE (2 * 4096)

/* A process's pool as the broker would hand it over: sealed memfds, written through the
 * mapping made before sealing, and what the broker says of each area. */
struct forged {
    int fd;                   /* the segment, sealed */
    struct agn_seg_header *h; /* our writable mapping */
    uint64_t heap_off;
    struct agn_ring_entry *ring;
    uint64_t said_base, said_size; /* the broker's answer for the segment */
    int area_fd;                   /* growth area 1, or -1: the broker refuses it */
    unsigned char *area;
    uint64_t area_said_base, area_said_size;
    unsigned fetches[AGN_MAX_AREAS + 1];
    int last_fd; /* the descriptor last handed to the view */
};

/* A memfd of `size` bytes mapped writable at *map, then sealed with `seals`. */
static int forged_memfd(const char *name, size_t size, int seals, void **map)
{
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
        return -1;
    *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (*map == MAP_FAILED || (seals != 0 && fcntl(fd, F_ADD_SEALS, seals) < 0))
        return -1;
    return fd;
}

/* The broker of these tests (segview_fetch_fn): a duplicate of the forged descriptor. */
static int forged_fetch(void *arg, uint32_t pid, uint32_t area, uint64_t *base, uint64_t *size,
                        GError **error)
{
    struct forged *f = arg;
    int fd;

    assert_int_equal(pid, (uint32_t)getpid());
    assert_true(area <= AGN_MAX_AREAS);
    f->fetches[area]++;
    if (area == 0) {
        fd = dup(f->fd);
        *base = f->said_base;
        *size = f->said_size;
    } else if (area == 1 && f->area_fd >= 0) {
        fd = dup(f->area_fd);
        *base = f->area_said_base;
        *size = f->area_said_size;
    } else {
        g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT,
                    "the broker refused growth area %u of process %u: process %u has no "
                    "attached area %u",
                    area, pid, pid, area);
        return -ENOENT;
    }
    assert_true(fd >= 0);
    f->last_fd = fd;
    return fd;
}

static int forged_setup(void **state)
{
    struct forged *f = calloc(1, sizeof *f);
    char name[64];
    void *map = NULL;

    snprintf(name, sizeof name, AGN_SEG_NAME_FMT, (int)getpid());
    f->fd = forged_memfd(name, SEG_SIZE, AGNOCAST_SEGMENT_SEALS, &map);
    if (f->fd < 0)
        return -1;
    f->h = map;
    f->said_base = SEG_BASE;
    f->said_size = SEG_SIZE;
    f->area_fd = -1;
    f->last_fd = -1;
    f->heap_off = (sizeof *f->h + 4095) & ~4095ull;
    f->h->magic = AGN_SEG_MAGIC;
    f->h->layout = AGN_SEG_LAYOUT;
    f->h->pid = (uint32_t)getpid();
    f->h->base = SEG_BASE;
    f->h->size = SEG_SIZE;
    f->h->heap_off = f->heap_off;
    f->h->heap_size = SEG_SIZE - f->heap_off;

    /* Publisher slot 3: a ring of 4 entries at the start of the heap, message 5 published. */
    struct agn_pub_slot *slot = &f->h->pubs[RING_SLOT];
    slot->depth = 4;
    slot->ring_off = f->heap_off;
    atomic_store(&slot->head, 5);
    atomic_store(&slot->active, 1);
    f->ring = (struct agn_ring_entry *)((char *)f->h + f->heap_off);
    uint64_t msg_off = f->heap_off + 4096;
    for (uint64_t seq = 2; seq <= 5; seq++) {
        struct agn_ring_entry *e = &f->ring[seq % 4];
        atomic_store(&e->seq, seq);
        atomic_store(&e->addr, SEG_BASE + msg_off + seq * 64);
        atomic_store(&e->size, 64);
        memset((char *)f->h + msg_off + seq * 64, (int)seq, 64);
    }
    f->h->subs[7].received = 11;
    f->h->subs[7].missed = 2;
    f->h->subs[7].corrupt = 1;
    f->h->subs[7].unreachable = 3;
    *state = f;
    return 0;
}

static int forged_teardown(void **state)
{
    struct forged *f = *state;

    munmap(f->h, SEG_SIZE);
    close(f->fd);
    if (f->area != NULL)
        munmap(f->area, AREA_SIZE);
    if (f->area_fd >= 0)
        close(f->area_fd);
    free(f);
    return 0;
}

static int open_view(struct forged *f, struct segview *sv, uint64_t base, uint64_t size,
                     GError **error)
{
    return segview_open(sv, (uint32_t)getpid(), base, size, forged_fetch, f, error);
}

/* Whether `fd` is still open in this process. */
static int fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static void test_segview_open_checks_header_against_broker(void **state)
{
    struct forged *f = *state;
    struct segview sv;
    GError *error = NULL;

    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, &error), 0);
    assert_int_equal(sv.view.heap_off, f->heap_off);
    assert_true((const void *)sv.view.map != (const void *)(uintptr_t)SEG_BASE);
    /* Mapped, then the descriptor closed: the mapping keeps the memory. */
    assert_false(fd_open(f->last_fd));
    segview_close(&sv);

    /* Another range than the broker's, a bad magic, another pid, a heap offset out of range. */
    f->said_base = SEG_BASE + 4096;
    assert_int_equal(open_view(f, &sv, SEG_BASE + 4096, SEG_SIZE, &error), -EBADMSG);
    assert_non_null(strstr(error->message, "unexpected header"));
    g_clear_error(&error);
    f->said_base = SEG_BASE;
    f->said_size = SEG_SIZE * 2;
    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE * 2, &error), -EBADMSG);
    g_clear_error(&error);
    f->said_size = SEG_SIZE;
    f->h->magic ^= 1;
    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, &error), -EBADMSG);
    g_clear_error(&error);
    f->h->magic ^= 1;
    f->h->pid++;
    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, &error), -EBADMSG);
    g_clear_error(&error);
    f->h->pid--;
    f->h->heap_off = SEG_SIZE;
    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, &error), -EBADMSG);
    g_clear_error(&error);
    f->h->heap_off = 8;
    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, &error), -EBADMSG);
    g_clear_error(&error);
    f->h->heap_off = f->heap_off;
    assert_null(sv.view.map);
    assert_false(fd_open(f->last_fd));
}

/* The broker's answer for the segment must be the range its process list gave. */
static void test_segview_open_range_changed_between_answers(void **state)
{
    struct forged *f = *state;
    struct segview sv;
    GError *error = NULL;

    f->said_base = SEG_BASE + SEG_SIZE;
    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, &error), -ESTALE);
    assert_int_equal(error->code, CLI_EXIT_NO_SEGMENT);
    g_autofree char *want =
        g_strdup_printf("process %d changed between two answers of the broker", (int)getpid());
    assert_non_null(strstr(error->message, want));
    assert_non_null(strstr(error->message, "run the command again"));
    g_clear_error(&error);
    assert_false(fd_open(f->last_fd));
    assert_null(sv.view.map);
}

/* The fetch's error is the view's: its sentence reaches the user unchanged. */
static int gone_fetch(void *arg, uint32_t pid, uint32_t area, uint64_t *base, uint64_t *size,
                      GError **error)
{
    g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT, "process %u is gone: it left", pid);
    return -ENOENT;
}

static void test_segview_open_passes_on_the_fetch_error(void **state)
{
    struct segview sv;
    GError *error = NULL;

    assert_int_equal(segview_open(&sv, 4321, SEG_BASE, SEG_SIZE, gone_fetch, NULL, &error),
                     -ENOENT);
    assert_int_equal(error->code, CLI_EXIT_NO_SEGMENT);
    assert_string_equal(error->message, "process 4321 is gone: it left");
    g_clear_error(&error);
    assert_null(sv.view.map);
    segview_close(&sv);

    /* Too small for a header: refused before the broker is asked. */
    assert_int_equal(segview_open(&sv, 4321, SEG_BASE, 1536, gone_fetch, NULL, &error), -EBADMSG);
    assert_non_null(strstr(error->message, "too small for a header"));
    g_clear_error(&error);
}

/* A descriptor whose memory could shrink under the mapping (not sealed, or sealed without
 * one of the seals), or smaller than the broker says, or no memfd at all: never mapped. */
static void test_segview_open_checks_descriptor(void **state)
{
    struct forged *f = *state;
    struct segview sv;
    GError *error = NULL;
    const int seals[] = {0, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL,
                         AGNOCAST_SEGMENT_SEALS & ~F_SEAL_SHRINK};
    int sealed = f->fd;
    void *map = NULL;

    for (size_t i = 0; i < sizeof seals / sizeof seals[0]; i++) {
        f->fd = forged_memfd("agnocast-test", SEG_SIZE, seals[i], &map);
        assert_true(f->fd >= 0);
        memcpy(map, f->h, sizeof *f->h);
        assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, &error), -EBADMSG);
        assert_int_equal(error->code, CLI_EXIT_NO_SEGMENT);
        g_autofree char *want =
            g_strdup_printf("the segment of process %d is not a sealed memfd", (int)getpid());
        assert_non_null(strstr(error->message, want));
        g_clear_error(&error);
        assert_false(fd_open(f->last_fd));
        munmap(map, SEG_SIZE);
        close(f->fd);
    }

    /* Sealed, but half the size the broker says. */
    f->fd = forged_memfd("agnocast-test", SEG_SIZE / 2, AGNOCAST_SEGMENT_SEALS, &map);
    assert_true(f->fd >= 0);
    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, &error), -EBADMSG);
    assert_non_null(strstr(error->message, "is smaller than the broker says"));
    g_clear_error(&error);
    munmap(map, SEG_SIZE / 2);
    close(f->fd);

    /* A pipe. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    f->fd = p[0];
    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, &error), -EBADMSG);
    assert_non_null(strstr(error->message, "is not a sealed memfd"));
    g_clear_error(&error);
    close(p[0]);
    close(p[1]);
    f->fd = sealed;
    assert_null(sv.view.map);
}

static void test_segview_ring_rejects_invalid_slots(void **state)
{
    struct forged *f = *state;
    struct agn_pub_slot *slot = &f->h->pubs[RING_SLOT];
    struct segview sv;
    struct agn_shm_ring ring;

    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, NULL), 0);
    assert_true(agn_shm_ring_get(&sv.view, RING_SLOT, &ring));
    assert_int_equal(ring.depth, 4);
    assert_int_equal(agn_shm_ring_head(&ring), 5);
    assert_false(agn_shm_ring_get(&sv.view, AGN_MAX_PUBS, &ring));
    assert_false(agn_shm_ring_get(&sv.view, 0, &ring)); /* inactive */

    const struct {
        uint32_t depth;
        uint64_t ring_off;
    } bad[] = {
        {0, f->heap_off},                              /* no entries */
        {AGNOCAST_DEPTH_MAX + 1, f->heap_off},         /* deeper than any QoS */
        {4, f->heap_off - 4096},                       /* in the control area */
        {4, SEG_SIZE},                                 /* past the end */
        {4, SEG_SIZE - sizeof(struct agn_ring_entry)}, /* runs past the end */
        {4, f->heap_off + 4},                          /* misaligned */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        slot->depth = bad[i].depth;
        slot->ring_off = bad[i].ring_off;
        assert_false(agn_shm_ring_get(&sv.view, RING_SLOT, &ring));
    }
    slot->depth = 4;
    slot->ring_off = f->heap_off;
    atomic_store(&slot->active, 0);
    assert_false(agn_shm_ring_get(&sv.view, RING_SLOT, &ring));
    atomic_store(&slot->active, 1);
    segview_close(&sv);
}

static void test_segview_ring_read_translates_and_bounds_checks(void **state)
{
    struct forged *f = *state;
    struct segview sv;
    struct agn_shm_ring ring;
    struct segview_msg m;
    unsigned char buf[80];
    size_t n = 0;

    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, NULL), 0);
    assert_true(agn_shm_ring_get(&sv.view, RING_SLOT, &ring));

    assert_int_equal(segview_ring_read(&sv, &ring, 5, &m), 1);
    assert_int_equal(m.size, 64);
    assert_ptr_equal(m.data, sv.view.map + (m.addr - SEG_BASE));
    assert_true(segview_copy(&ring, &m, buf, sizeof buf, &n));
    assert_int_equal(n, 64);
    assert_int_equal(buf[0], 5);
    assert_int_equal(buf[63], 5);

    /* Message 1 was overwritten by 5; message 6 is not written; 0 is never a message. */
    assert_int_equal(segview_ring_read(&sv, &ring, 1, &m), 0);
    assert_int_equal(segview_ring_read(&sv, &ring, 6, &m), 0);
    assert_int_equal(segview_ring_read(&sv, &ring, 0, &m), 0);

    /* Entries pointing into the control area, past the end, or too long: never dereferenced. */
    struct agn_ring_entry *e = &f->ring[4 % 4];
    uint64_t good = atomic_load(&e->addr);
    atomic_store(&e->addr, SEG_BASE + 64);
    assert_int_equal(segview_ring_read(&sv, &ring, 4, &m), -EBADMSG);
    atomic_store(&e->addr, SEG_BASE + SEG_SIZE);
    assert_int_equal(segview_ring_read(&sv, &ring, 4, &m), -EBADMSG);
    atomic_store(&e->addr, SEG_BASE - 4096);
    assert_int_equal(segview_ring_read(&sv, &ring, 4, &m), -EBADMSG);
    atomic_store(&e->addr, good);
    atomic_store(&e->size, SEG_SIZE);
    assert_int_equal(segview_ring_read(&sv, &ring, 4, &m), -EBADMSG);
    atomic_store(&e->size, UINT64_MAX);
    assert_int_equal(segview_ring_read(&sv, &ring, 4, &m), -EBADMSG);
    atomic_store(&e->size, 64);
    assert_int_equal(segview_ring_read(&sv, &ring, 4, &m), 1);

    /* Overwritten between reading the entry and copying the bytes: the copy is refused. */
    atomic_store(&e->seq, 8);
    assert_false(segview_copy(&ring, &m, buf, 16, &n));
    atomic_store(&e->seq, 4);
    segview_close(&sv);
}

/* A message in a growth area is read through a mapping of that area, had from the broker and
 * made on first use; an area the header misdescribes, or the broker places elsewhere, is never
 * mapped. */
static int read_in_area(struct forged *f, uint64_t base, uint64_t size, uint32_t nareas,
                        uint64_t addr, unsigned char *first)
{
    struct segview sv;
    struct agn_shm_ring ring;
    struct segview_msg m;
    int r;

    atomic_store(&f->h->areas[0].base, base);
    atomic_store(&f->h->areas[0].size, size);
    atomic_store(&f->h->nareas, nareas);
    atomic_store(&f->ring[5 % 4].addr, addr);
    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, NULL), 0);
    assert_true(agn_shm_ring_get(&sv.view, RING_SLOT, &ring));
    r = segview_ring_read(&sv, &ring, 5, &m);
    if (r == 1) {
        size_t n = 0;
        assert_true(segview_copy(&ring, &m, first, 1, &n));
        assert_int_equal(n, 1);
        assert_int_equal(m.addr, addr);
        /* Mapped once: a second message in it asks the broker nothing more. */
        unsigned asked = f->fetches[1];
        assert_int_equal(segview_ring_read(&sv, &ring, 5, &m), 1);
        assert_int_equal(f->fetches[1], asked);
    }
    segview_close(&sv);
    return r;
}

static void forged_area(struct forged *f, int seals)
{
    void *map = NULL;

    if (f->area != NULL)
        munmap(f->area, AREA_SIZE);
    if (f->area_fd >= 0)
        close(f->area_fd);
    f->area_fd = forged_memfd("agnocast-test.1", AREA_SIZE, seals, &map);
    assert_true(f->area_fd >= 0);
    f->area = map;
    f->area_said_base = AREA_BASE;
    f->area_said_size = AREA_SIZE;
    memset(f->area + 4096, 0xab, 64);
}

static void test_segview_ring_read_follows_growth_areas(void **state)
{
    struct forged *f = *state;
    unsigned char first = 0;

    forged_area(f, AGNOCAST_SEGMENT_SEALS);
    assert_int_equal(read_in_area(f, AREA_BASE, AREA_SIZE, 1, AREA_BASE + 4096, &first), 1);
    assert_int_equal(first, 0xab);
    assert_false(fd_open(f->last_fd));
    /* Unpublished (nareas 0), running past the area, misaligned, overlapping the first segment,
     * larger than its memfd: all refused. */
    assert_int_equal(read_in_area(f, AREA_BASE, AREA_SIZE, 0, AREA_BASE + 4096, &first), -EBADMSG);
    assert_int_equal(read_in_area(f, AREA_BASE, AREA_SIZE, 1, AREA_BASE + AREA_SIZE - 32, &first),
                     -EBADMSG);
    assert_int_equal(read_in_area(f, AREA_BASE + 8, AREA_SIZE, 1, AREA_BASE + 4096, &first),
                     -EBADMSG);
    assert_int_equal(read_in_area(f, SEG_BASE, 2 * SEG_SIZE, 1, SEG_BASE + SEG_SIZE + 64, &first),
                     -EBADMSG);
    f->area_said_size = 4 * AREA_SIZE;
    assert_int_equal(read_in_area(f, AREA_BASE, 4 * AREA_SIZE, 1, AREA_BASE + 4096, &first),
                     -EBADMSG);
    assert_false(fd_open(f->last_fd));

    /* The header and the broker disagree on where the area is: the broker is believed. */
    f->area_said_size = AREA_SIZE;
    f->area_said_base = AREA_BASE + AREA_SIZE;
    assert_int_equal(read_in_area(f, AREA_BASE, AREA_SIZE, 1, AREA_BASE + 4096, &first), -EBADMSG);
    assert_false(fd_open(f->last_fd));

    /* An area whose memfd is not sealed. */
    forged_area(f, F_SEAL_SHRINK | F_SEAL_GROW);
    assert_int_equal(read_in_area(f, AREA_BASE, AREA_SIZE, 1, AREA_BASE + 4096, &first), -EBADMSG);
    assert_false(fd_open(f->last_fd));
}

/* An area the broker refuses is asked for once per view, not once per message. */
static void test_segview_refused_area_is_not_asked_again(void **state)
{
    struct forged *f = *state;
    struct segview sv;
    struct agn_shm_ring ring;
    struct segview_msg m;

    atomic_store(&f->h->areas[0].base, AREA_BASE);
    atomic_store(&f->h->areas[0].size, AREA_SIZE);
    atomic_store(&f->h->nareas, 1);
    atomic_store(&f->ring[5 % 4].addr, AREA_BASE + 4096);
    atomic_store(&f->ring[4 % 4].addr, AREA_BASE + 4096 + 64);
    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, NULL), 0);
    assert_true(agn_shm_ring_get(&sv.view, RING_SLOT, &ring));
    assert_int_equal(segview_ring_read(&sv, &ring, 5, &m), -EBADMSG);
    assert_int_equal(segview_ring_read(&sv, &ring, 4, &m), -EBADMSG);
    assert_int_equal(segview_ring_read(&sv, &ring, 5, &m), -EBADMSG);
    assert_int_equal(f->fetches[1], 1);
    /* Messages in the first segment are still read. */
    assert_int_equal(segview_ring_read(&sv, &ring, 3, &m), 1);
    segview_close(&sv);
}

static void test_segview_sub_reads_counters(void **state)
{
    struct forged *f = *state;
    struct segview sv;
    struct agn_shm_sub_counters c;

    assert_int_equal(open_view(f, &sv, SEG_BASE, SEG_SIZE, NULL), 0);
    assert_true(agn_shm_sub_counters(&sv.view, 7, &c));
    assert_int_equal(c.received, 11);
    assert_int_equal(c.missed, 2);
    assert_int_equal(c.corrupt, 1);
    assert_int_equal(c.unreachable, 3);
    assert_false(agn_shm_sub_counters(&sv.view, AGN_MAX_SUBS, &c));
    segview_close(&sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_segview_open_checks_header_against_broker,
                                        forged_setup, forged_teardown),
        cmocka_unit_test_setup_teardown(test_segview_open_range_changed_between_answers,
                                        forged_setup, forged_teardown),
        cmocka_unit_test(test_segview_open_passes_on_the_fetch_error),
        cmocka_unit_test_setup_teardown(test_segview_open_checks_descriptor, forged_setup,
                                        forged_teardown),
        cmocka_unit_test_setup_teardown(test_segview_ring_rejects_invalid_slots, forged_setup,
                                        forged_teardown),
        cmocka_unit_test_setup_teardown(test_segview_ring_read_translates_and_bounds_checks,
                                        forged_setup, forged_teardown),
        cmocka_unit_test_setup_teardown(test_segview_ring_read_follows_growth_areas, forged_setup,
                                        forged_teardown),
        cmocka_unit_test_setup_teardown(test_segview_refused_area_is_not_asked_again, forged_setup,
                                        forged_teardown),
        cmocka_unit_test_setup_teardown(test_segview_sub_reads_counters, forged_setup,
                                        forged_teardown),
    };
    return cmocka_run_group_tests_name("segview", tests, NULL, NULL);
}
