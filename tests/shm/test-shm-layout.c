/*
 * The segment layout pinned (tests/shm/golden/layout-N.txt, N = AGN_SEG_LAYOUT) and the one
 * reader of segments checked on forged segments mapped away from their owner's address.
 *   test-shm-layout GOLDEN_DIR   runs the tests
 *   test-shm-layout --print      prints the table for a new golden file
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "layout-table.h"
#include "shm-reader.h"

static const char *golden_dir;

static char *layout_text(void)
{
    struct layout_constants c;
    size_t n, len = 0, cap = 1 << 16;
    const struct layout_line *l = layout_lines(&n);
    char *out = malloc(cap);

    layout_constants(&c);
    len += (size_t)snprintf(out + len, cap - len,
                            "layout %u\nmagic 0x%016llx\nmax_pubs %u\nmax_subs %u\nmax_peers %u\n"
                            "max_holds %u\nmax_areas %u\nseals 0x%x\n",
                            c.layout, (unsigned long long)c.magic, c.max_pubs, c.max_subs,
                            c.max_peers, c.max_holds, c.max_areas, c.seals);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s%s offset %zu size %zu\n", l[i].type,
                                l[i].field[0] ? "." : "", l[i].field, l[i].offset, l[i].size);
    return out;
}

static void test_layout_matches_golden(void **state)
{
    char path[4096], *want, *got = layout_text();
    FILE *f;
    long size;

    (void)state;
    snprintf(path, sizeof(path), "%s/layout-%u.txt", golden_dir, (unsigned)AGN_SEG_LAYOUT);
    f = fopen(path, "r");
    if (!f)
        fail_msg("no golden file %s: a new layout needs one (test-shm-layout --print > it)", path);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    want = calloc(1, (size_t)size + 1);
    assert_int_equal(fread(want, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    if (strcmp(want, got) != 0) {
        fprintf(stderr, "the segment layout differs from %s:\n--- golden\n%s--- now\n%s", path,
                want, got);
        fail_msg("a layout change must bump AGN_SEG_LAYOUT and add its golden file; a golden "
                 "file is never edited");
    }
    free(want);
    free(got);
}

/* A forged segment: owner address BASE, mapped here at `mem`. */
#define BASE 0x7e0000000000ull
#define SIZE (1u << 20)
#define PID  4242u

struct forged {
    unsigned char *mem;
    struct agn_seg_header *h;
    struct agn_shm_view view;
};

static int forged_setup(void **state)
{
    struct forged *f = calloc(1, sizeof(*f));

    f->mem = aligned_alloc(4096, SIZE);
    memset(f->mem, 0, SIZE);
    f->h = (struct agn_seg_header *)f->mem;
    f->h->magic = AGN_SEG_MAGIC;
    f->h->layout = AGN_SEG_LAYOUT;
    f->h->pid = PID;
    f->h->base = BASE;
    f->h->size = SIZE;
    f->h->heap_off = (sizeof(*f->h) + 4095) & ~4095ull;
    f->h->heap_size = SIZE - f->h->heap_off;
    *state = f;
    return 0;
}

static int forged_teardown(void **state)
{
    struct forged *f = *state;

    free(f->mem);
    free(f);
    return 0;
}

static void test_view_open_checks_every_header_word(void **state)
{
    struct forged *f = *state;
    struct agn_shm_view v;
    const char *why = NULL;

    assert_int_equal(agn_shm_view_open(&v, f->mem, PID, BASE, SIZE, &why), 0);
    assert_ptr_equal(v.map, f->mem);
    assert_int_equal(v.heap_off, f->h->heap_off);
    assert_int_equal(agn_shm_view_open(&v, f->mem, PID + 1, BASE, SIZE, &why), -EBADMSG);
    assert_non_null(strstr(why, "another process"));
    assert_int_equal(agn_shm_view_open(&v, f->mem, PID, BASE + 4096, SIZE, &why), -EBADMSG);
    assert_int_equal(agn_shm_view_open(&v, f->mem, PID, BASE, SIZE - 4096, &why), -EBADMSG);
    assert_int_equal(agn_shm_view_open(&v, f->mem, PID, BASE, 64, &why), -EBADMSG);
    assert_non_null(strstr(why, "smaller"));
    f->h->layout = AGN_SEG_LAYOUT - 1;
    assert_int_equal(agn_shm_view_open(&v, f->mem, PID, BASE, SIZE, &why), -EBADMSG);
    assert_non_null(strstr(why, "layout"));
    f->h->layout = AGN_SEG_LAYOUT;
    f->h->heap_off = SIZE;
    assert_int_equal(agn_shm_view_open(&v, f->mem, PID, BASE, SIZE, &why), -EBADMSG);
    f->h->heap_off = 8;
    assert_int_equal(agn_shm_view_open(&v, f->mem, PID, BASE, SIZE, &why), -EBADMSG);
    f->h->heap_off = 8192 * 4;
    f->h->magic = 0;
    assert_int_equal(agn_shm_view_open(&v, f->mem, PID, BASE, SIZE, &why), -EBADMSG);
    assert_non_null(strstr(why, "magic"));
}

static void test_ring_bounds_and_entries_read_through_the_mapping(void **state)
{
    struct forged *f = *state;
    struct agn_shm_view v;
    struct agn_shm_ring ring;
    struct agn_shm_entry e = {0};
    struct agn_pub_slot *slot = &f->h->pubs[3];
    uint64_t ring_off = f->h->heap_off + 4096;
    struct agn_ring_entry *entries = (struct agn_ring_entry *)(f->mem + ring_off);

    assert_int_equal(agn_shm_view_open(&v, f->mem, PID, BASE, SIZE, NULL), 0);
    slot->depth = 4;
    slot->ring_off = ring_off;
    assert_false(agn_shm_ring_get(&v, 3, &ring)); /* inactive */
    slot->active = 1;
    assert_true(agn_shm_ring_get(&v, 3, &ring));
    assert_ptr_equal(ring.entries, entries);
    assert_false(agn_shm_ring_get(&v, AGN_MAX_PUBS, &ring));
    slot->ring_off = ring_off + 4; /* misaligned for 8-byte atomics */
    assert_false(agn_shm_ring_get(&v, 3, &ring));
    slot->ring_off = 64; /* inside the header */
    assert_false(agn_shm_ring_get(&v, 3, &ring));
    slot->ring_off = SIZE - 64; /* runs past the end */
    assert_false(agn_shm_ring_get(&v, 3, &ring));
    slot->ring_off = ring_off;
    slot->depth = AGNOCAST_DEPTH_MAX + 1;
    assert_false(agn_shm_ring_get(&v, 3, &ring));
    slot->depth = 0;
    assert_false(agn_shm_ring_get(&v, 3, &ring));
    slot->depth = 4;
    assert_true(agn_shm_ring_get(&v, 3, &ring));

    entries[5 % 4].addr = BASE + ring_off + 4096;
    entries[5 % 4].size = 100;
    entries[5 % 4].bytes = 300;
    entries[5 % 4].timestamp_ns = 77;
    entries[5 % 4].seq = 5;
    slot->head = 5;
    assert_int_equal(agn_shm_ring_head(&ring), 5);
    assert_int_equal(agn_shm_entry_read(&ring, 5, &e), 1);
    assert_int_equal(e.addr, BASE + ring_off + 4096);
    assert_int_equal(e.size, 100);
    assert_int_equal(e.bytes, 300);
    assert_int_equal(e.timestamp_ns, 77);
    assert_true(agn_shm_in_heap(&v, e.addr, e.size));
    assert_ptr_equal(agn_shm_local(&v, e.addr), f->mem + ring_off + 4096);
    assert_int_equal(agn_shm_entry_read(&ring, 9, &e), 0); /* overwritten (9 % 4 == 1) */
    assert_int_equal(agn_shm_entry_read(&ring, 0, &e), 0);
    assert_true(agn_shm_entry_still(&ring, 5));
    entries[1].seq = 0; /* being rewritten */
    assert_false(agn_shm_entry_still(&ring, 5));
    assert_false(agn_shm_in_heap(&v, BASE + 8, 8));                 /* the header */
    assert_false(agn_shm_in_heap(&v, BASE + SIZE - 8, 16));         /* past the end */
    assert_false(agn_shm_in_heap(&v, BASE + SIZE - 8, UINT64_MAX)); /* wraps */
}

static void test_areas_are_found_only_when_plausible(void **state)
{
    struct forged *f = *state;
    struct agn_shm_view v;
    uint64_t base = 0, size = 0, a = BASE + 16 * SIZE;

    assert_int_equal(agn_shm_view_open(&v, f->mem, PID, BASE, SIZE, NULL), 0);
    f->h->areas[0].base = a;
    f->h->areas[0].size = 8 * 4096;
    assert_int_equal(agn_shm_area_find(&v, a + 100, 10, &base, &size), -1); /* not published */
    f->h->nareas = 1;
    assert_int_equal(agn_shm_area_find(&v, a + 100, 10, &base, &size), 0);
    assert_int_equal(base, a);
    assert_int_equal(size, 8 * 4096);
    assert_int_equal(agn_shm_area_find(&v, a + 8 * 4096 - 4, 8, &base, &size), -1);
    f->h->areas[0].base = a + 1; /* not page-aligned */
    assert_int_equal(agn_shm_area_find(&v, a + 100, 10, &base, &size), -1);
    f->h->areas[0].base = BASE; /* the first segment again */
    assert_int_equal(agn_shm_area_find(&v, BASE + 100, 10, &base, &size), -1);
    f->h->areas[0].base = UINT64_MAX - 4095; /* wraps */
    assert_int_equal(agn_shm_area_find(&v, UINT64_MAX - 10, 5, &base, &size), -1);
    f->h->nareas = UINT32_MAX; /* clamped, not trusted */
    assert_int_equal(agn_shm_nareas(&v), AGN_MAX_AREAS);
}

static void test_holds_accepts_and_counters_stay_in_bounds(void **state)
{
    struct forged *f = *state;
    struct agn_shm_view v;
    struct agn_shm_sub_counters c;
    const uint64_t addrs[4] = {0x1234, 0x5678, 0x9abc, 0x1234};
    bool held[4] = {false, false, true, false};

    assert_int_equal(agn_shm_view_open(&v, f->mem, PID, BASE, SIZE, NULL), 0);
    /* One pass for many addresses: each held one marked once, the others left alone; the
     * scan stops at the table's end whatever holds_used says. */
    f->h->holds[AGN_MAX_HOLDS - 1] = 0x1234;
    f->h->holds[0] = 0x5678;
    f->h->holds_used = UINT32_MAX;
    assert_int_equal(agn_shm_holds_mark(&v, addrs, 4, held), 3);
    assert_true(held[0] && held[1] && held[2] && held[3]);
    held[0] = held[1] = held[3] = false;
    f->h->holds_used = 1; /* 0x1234 lies beyond it now */
    assert_int_equal(agn_shm_holds_mark(&v, addrs, 4, held), 1);
    assert_true(!held[0] && held[1] && !held[3]);
    f->h->holds[0] = 0;
    assert_false(agn_shm_accepts(&v, 99));
    f->h->accepted_pids[AGN_MAX_PEERS - 1] = 99;
    assert_true(agn_shm_accepts(&v, 99));
    f->h->subs[2].received = 7;
    f->h->subs[2].unreachable = 2;
    assert_true(agn_shm_sub_counters(&v, 2, &c));
    assert_int_equal(c.received, 7);
    assert_int_equal(c.unreachable, 2);
    assert_false(agn_shm_sub_counters(&v, AGN_MAX_SUBS, &c));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_matches_golden),
        cmocka_unit_test_setup_teardown(test_view_open_checks_every_header_word, forged_setup,
                                        forged_teardown),
        cmocka_unit_test_setup_teardown(test_ring_bounds_and_entries_read_through_the_mapping,
                                        forged_setup, forged_teardown),
        cmocka_unit_test_setup_teardown(test_areas_are_found_only_when_plausible, forged_setup,
                                        forged_teardown),
        cmocka_unit_test_setup_teardown(test_holds_accepts_and_counters_stay_in_bounds,
                                        forged_setup, forged_teardown),
    };

    if (argc == 2 && strcmp(argv[1], "--print") == 0) {
        char *t = layout_text();
        fputs(t, stdout);
        free(t);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s GOLDEN_DIR | --print\n", argv[0]);
        return 2;
    }
    golden_dir = argv[1];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
