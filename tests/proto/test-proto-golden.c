/*
 * Golden wire bytes: every kind's sample frame must match the bytes checked in under
 * golden/v<AGNOCAST_PROTO_VERSION>/, so a layout change without a version bump fails here.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto-sample.h"

#define STR_(x)    #x
#define STR(x)     STR_(x)
#define GOLDEN_DIR PROTO_GOLDEN_DIR "/v" STR(AGNOCAST_PROTO_VERSION)
#define REGENERATE                                                                                 \
    "if the wire format changed on purpose, bump AGNOCAST_PROTO_VERSION and run "                  \
    "`gen-proto-frames tests/proto/golden/vN` (build dir: tests/proto/) into a new directory"

static union agnocast_frame_buffer frame;
static unsigned char golden[AGNOCAST_PROTO_FRAME_MAX + 1];

static int little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

static size_t read_golden(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.bin", GOLDEN_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s: %s; " REGENERATE, path, strerror(errno));
    size_t n = fread(golden, 1, sizeof(golden), f);
    fclose(f);
    return n;
}

static void test_proto_golden_every_kind_matches(void **state)
{
    if (!little_endian())
        skip(); /* the golden bytes are little-endian; the wire is in host order */
    const uint16_t *kinds;
    size_t n = agnocast_proto_kinds(&kinds);
    for (size_t i = 0; i < n; i++) {
        const char *name = agnocast_proto_kind_name(kinds[i]);
        ssize_t len = proto_sample_frame(kinds[i], frame.bytes, sizeof(frame.bytes));
        assert_true(len >= 16);
        size_t glen = read_golden(name);
        if (glen != (size_t)len)
            fail_msg("%s: frame is %zd bytes, golden %zu; " REGENERATE, name, len, glen);
        for (size_t b = 0; b < glen; b++) {
            if (frame.bytes[b] != golden[b])
                fail_msg("%s: byte %zu is 0x%02x, golden 0x%02x; " REGENERATE, name, b,
                         frame.bytes[b], golden[b]);
        }
        struct agnocast_frame f;
        assert_int_equal(agnocast_proto_decode(golden, glen, &f), 0);
        assert_int_equal(f.kind, kinds[i]);
    }
}

static void test_proto_golden_has_no_stray_files(void **state)
{
    DIR *d = opendir(GOLDEN_DIR);
    if (!d)
        fail_msg("cannot open %s: %s; " REGENERATE, GOLDEN_DIR, strerror(errno));
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".bin") != 0)
            continue;
        files++;
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(l - 4), e->d_name);
        int known = 0;
        const uint16_t *kinds;
        size_t n = agnocast_proto_kinds(&kinds);
        for (size_t i = 0; i < n; i++)
            known |= strcmp(agnocast_proto_kind_name(kinds[i]), name) == 0;
        if (!known)
            fail_msg("%s/%s names no kind: a kind was renamed or dropped (kinds keep their names "
                     "and numbers)",
                     GOLDEN_DIR, e->d_name);
    }
    closedir(d);
    assert_int_equal(files, agnocast_proto_kinds(NULL));
}

static void test_proto_golden_header_layout(void **state)
{
    if (!little_endian())
        skip();
    /* Spelled out by hand, independent of the structs: the HELLO frame's header. */
    /* clang-format off */
    static const unsigned char hello[16] = {
        'A', 'G', 'N', 'C',                                          /* magic */
        AGNOCAST_PROTO_VERSION & 0xff, AGNOCAST_PROTO_VERSION >> 8,  /* version */
        100, 0,                                                      /* kind */
        8, 0, 0, 0,                                                  /* length */
        100, 0, 0, 0xa5,                                             /* request id */
    };
    /* clang-format on */
    assert_int_equal(proto_sample_frame(AGNOCAST_MSG_HELLO, frame.bytes, sizeof(frame.bytes)), 24);
    assert_memory_equal(frame.bytes, hello, sizeof(hello));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_golden_every_kind_matches),
        cmocka_unit_test(test_proto_golden_has_no_stray_files),
        cmocka_unit_test(test_proto_golden_header_layout),
    };
    return cmocka_run_group_tests_name("proto-golden", tests, NULL, NULL);
}
