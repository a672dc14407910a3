/* segview: agnocastctl's read-only segment view, on forged segments whose header, rings and
 * entries lie. */
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

struct forged {
    char name[64];
    struct agn_seg_header *h; /* our writable mapping */
    uint64_t heap_off;
    struct agn_ring_entry *ring;
};

static int forged_setup(void **state)
{
    struct forged *f = calloc(1, sizeof *f);

    snprintf(f->name, sizeof f->name, AGN_SEG_NAME_FMT, (int)getpid());
    shm_unlink(f->name);
    int fd = shm_open(f->name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || ftruncate(fd, SEG_SIZE) < 0)
        return -1;
    f->h = mmap(NULL, SEG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (f->h == MAP_FAILED)
        return -1;
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
    *state = f;
    return 0;
}

static int forged_teardown(void **state)
{
    struct forged *f = *state;

    munmap(f->h, SEG_SIZE);
    shm_unlink(f->name);
    free(f);
    return 0;
}

static int open_view(struct segview *sv, uint64_t base, uint64_t size, GError **error)
{
    return segview_open(sv, (uint32_t)getpid(), base, size, error);
}

static void test_segview_open_checks_header_against_broker(void **state)
{
    struct forged *f = *state;
    struct segview sv;
    GError *error = NULL;

    assert_int_equal(open_view(&sv, SEG_BASE, SEG_SIZE, &error), 0);
    assert_int_equal(sv.heap_off, f->heap_off);
    assert_true((const void *)sv.map != (const void *)(uintptr_t)SEG_BASE);
    segview_close(&sv);

    /* Another range than the broker's, a bad magic, another pid, a heap offset out of range. */
    assert_int_equal(open_view(&sv, SEG_BASE + 4096, SEG_SIZE, &error), -EBADMSG);
    assert_non_null(strstr(error->message, "unexpected header"));
    g_clear_error(&error);
    assert_int_equal(open_view(&sv, SEG_BASE, SEG_SIZE * 2, &error), -EBADMSG);
    g_clear_error(&error);
    f->h->magic ^= 1;
    assert_int_equal(open_view(&sv, SEG_BASE, SEG_SIZE, &error), -EBADMSG);
    g_clear_error(&error);
    f->h->magic ^= 1;
    f->h->pid++;
    assert_int_equal(open_view(&sv, SEG_BASE, SEG_SIZE, &error), -EBADMSG);
    g_clear_error(&error);
    f->h->pid--;
    f->h->heap_off = SEG_SIZE;
    assert_int_equal(open_view(&sv, SEG_BASE, SEG_SIZE, &error), -EBADMSG);
    g_clear_error(&error);
    f->h->heap_off = 8;
    assert_int_equal(open_view(&sv, SEG_BASE, SEG_SIZE, &error), -EBADMSG);
    g_clear_error(&error);
    f->h->heap_off = f->heap_off;
    assert_null(sv.map);
}

static void test_segview_open_missing_segment_names_process(void **state)
{
    struct segview sv;
    GError *error = NULL;

    /* pid 0x7ffffff0 is above any pid_max: its segment cannot exist. */
    assert_int_equal(segview_open(&sv, 0x7ffffff0u, SEG_BASE, SEG_SIZE, &error), -ENOENT);
    assert_int_equal(error->code, CTL_EXIT_SEGMENT);
    assert_non_null(
        strstr(error->message, "process 2147483632 has no segment /agnocast@2147483632"));
    g_clear_error(&error);
}

static void test_segview_ring_rejects_invalid_slots(void **state)
{
    struct forged *f = *state;
    struct agn_pub_slot *slot = &f->h->pubs[RING_SLOT];
    struct segview sv;
    struct segview_ring ring;

    assert_int_equal(open_view(&sv, SEG_BASE, SEG_SIZE, NULL), 0);
    assert_true(segview_ring(&sv, RING_SLOT, &ring));
    assert_int_equal(ring.depth, 4);
    assert_int_equal(segview_ring_head(&ring), 5);
    assert_false(segview_ring(&sv, AGN_MAX_PUBS, &ring));
    assert_false(segview_ring(&sv, 0, &ring)); /* inactive */

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
        assert_false(segview_ring(&sv, RING_SLOT, &ring));
    }
    slot->depth = 4;
    slot->ring_off = f->heap_off;
    atomic_store(&slot->active, 0);
    assert_false(segview_ring(&sv, RING_SLOT, &ring));
    atomic_store(&slot->active, 1);
    segview_close(&sv);
}

static void test_segview_ring_read_translates_and_bounds_checks(void **state)
{
    struct forged *f = *state;
    struct segview sv;
    struct segview_ring ring;
    struct segview_msg m;
    unsigned char buf[80];
    size_t n = 0;

    assert_int_equal(open_view(&sv, SEG_BASE, SEG_SIZE, NULL), 0);
    assert_true(segview_ring(&sv, RING_SLOT, &ring));

    assert_int_equal(segview_ring_read(&sv, &ring, 5, &m), 1);
    assert_int_equal(m.size, 64);
    assert_ptr_equal(m.data, sv.map + (m.addr - SEG_BASE));
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

/* A message in a growth area (/agnocast@PID.1) is read through a mapping of that area, made on
 * first use; an area the header misdescribes is never mapped. */
#define AREA_BASE (SEG_BASE + 16 * 1024 * 1024)
#define AREA_SIZE (2 * 4096)

static int read_in_area(struct forged *f, uint64_t base, uint64_t size, uint32_t nareas,
                        uint64_t addr, unsigned char *first)
{
    struct segview sv;
    struct segview_ring ring;
    struct segview_msg m;
    int r;

    atomic_store(&f->h->areas[0].base, base);
    atomic_store(&f->h->areas[0].size, size);
    atomic_store(&f->h->nareas, nareas);
    atomic_store(&f->ring[5 % 4].addr, addr);
    assert_int_equal(open_view(&sv, SEG_BASE, SEG_SIZE, NULL), 0);
    assert_true(segview_ring(&sv, RING_SLOT, &ring));
    r = segview_ring_read(&sv, &ring, 5, &m);
    if (r == 1) {
        size_t n = 0;
        assert_true(segview_copy(&ring, &m, first, 1, &n));
        assert_int_equal(n, 1);
        assert_int_equal(m.addr, addr);
    }
    segview_close(&sv);
    return r;
}

static void test_segview_ring_read_follows_growth_areas(void **state)
{
    struct forged *f = *state;
    char name[64];
    unsigned char first = 0;

    snprintf(name, sizeof name, AGN_AREA_NAME_FMT, (int)getpid(), 1u);
    shm_unlink(name);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, AREA_SIZE), 0);
    unsigned char *area = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(area != MAP_FAILED);
    memset(area + 4096, 0xab, 64);

    assert_int_equal(read_in_area(f, AREA_BASE, AREA_SIZE, 1, AREA_BASE + 4096, &first), 1);
    assert_int_equal(first, 0xab);
    /* Unpublished (nareas 0), running past the area, misaligned, overlapping the first segment,
     * larger than its object: all refused. */
    assert_int_equal(read_in_area(f, AREA_BASE, AREA_SIZE, 0, AREA_BASE + 4096, &first),
                     -EBADMSG);
    assert_int_equal(read_in_area(f, AREA_BASE, AREA_SIZE, 1, AREA_BASE + AREA_SIZE - 32, &first),
                     -EBADMSG);
    assert_int_equal(read_in_area(f, AREA_BASE + 8, AREA_SIZE, 1, AREA_BASE + 4096, &first),
                     -EBADMSG);
    assert_int_equal(read_in_area(f, SEG_BASE, 2 * SEG_SIZE, 1, SEG_BASE + SEG_SIZE + 64, &first),
                     -EBADMSG);
    assert_int_equal(read_in_area(f, AREA_BASE, 4 * AREA_SIZE, 1, AREA_BASE + 4096, &first),
                     -EBADMSG);
    munmap(area, AREA_SIZE);
    shm_unlink(name);
}

static void test_segview_sub_reads_counters(void **state)
{
    struct segview sv;
    struct segview_sub_counters c;

    assert_int_equal(open_view(&sv, SEG_BASE, SEG_SIZE, NULL), 0);
    assert_true(segview_sub(&sv, 7, &c));
    assert_int_equal(c.received, 11);
    assert_int_equal(c.missed, 2);
    assert_int_equal(c.corrupt, 1);
    assert_false(segview_sub(&sv, AGN_MAX_SUBS, &c));
    segview_close(&sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_segview_open_checks_header_against_broker,
                                        forged_setup, forged_teardown),
        cmocka_unit_test(test_segview_open_missing_segment_names_process),
        cmocka_unit_test_setup_teardown(test_segview_ring_rejects_invalid_slots, forged_setup,
                                        forged_teardown),
        cmocka_unit_test_setup_teardown(test_segview_ring_read_translates_and_bounds_checks,
                                        forged_setup, forged_teardown),
        cmocka_unit_test_setup_teardown(test_segview_ring_read_follows_growth_areas, forged_setup,
                                        forged_teardown),
        cmocka_unit_test_setup_teardown(test_segview_sub_reads_counters, forged_setup,
                                        forged_teardown),
    };
    return cmocka_run_group_tests_name("segview", tests, NULL, NULL);
}
