/*
 * The bridge's CDR reader (bridge/cdr.c): the golden samples in both byte orders and both
 * encoding versions read back to the golden fields, in place; every truncation, every length
 * that runs past the end, bytes left over, strings without their NUL and other encapsulations
 * are refused.
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

#include "cdr-sample.h"

#define SAMPLE_MAX 256

static const enum cdr_sample_kind kinds[] = {CDR_SAMPLE_XCDR1_BE, CDR_SAMPLE_XCDR1_LE,
                                             CDR_SAMPLE_XCDR2_BE, CDR_SAMPLE_XCDR2_LE};

/*
 * The golden sample as XCDR1 big-endian, laid out by hand (test-bridge-cdr-cyclone checks
 * that Cyclone DDS reads the checked-in file so, and turns it into its little-endian one).
 */
static const uint8_t xcdr1_be[] = {
    0x00, 0x00, 0x00, 0x03,                         /* CDR_BE, options: 3 bytes of padding */
    0x00, 0x00, 0x00, 0x07, 'h',  'o',  's',  't',  /* host: 7 with the NUL */
    '-',  'a',  0x00, 0x00,                         /* ... NUL, pad to 4 */
    0x00, 0x00, 0x10, 0x92,                         /* publisher_pid 4242 */
    0x00, 0x00, 0x00, 0x03,                         /* publisher_index 3 */
    0x00, 0x00, 0x00, 0x00,                         /* pad to 8 (XCDR1) */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* sequence_number */
    0x65, 0x53, 0xf1, 0x00,                         /* stamp.sec 1700000000 */
    0x07, 0x5b, 0xcd, 0x15,                         /* stamp.nanosec 123456789 */
    0x00, 0x00, 0x00, 0x05, 'f',  'l',  'a',  't',  /* encoding: 5 with the NUL */
    0x00, 0x00, 0x00, 0x00,                         /* ... NUL, pad to 4 */
    0x00, 0x00, 0x00, 0x05,                         /* data: 5 octets */
    0xde, 0xad, 0xbe, 0xef, 0x01, 0x00, 0x00, 0x00, /* ... then 3 bytes of padding */
};

/* Offsets (from the start, header included) of the length fields in the golden XCDR1 form. */
#define AT_HOST_LEN     4
#define AT_ENCODING_LEN 44
#define AT_DATA_LEN     56
/* Every golden form ends 3 bytes short of a multiple of 4 (5 data octets at an aligned offset). */
#define GOLDEN_PAD 3

static const char *golden_dir = BRIDGE_CDR_GOLDEN_DIR;

static size_t golden(enum cdr_sample_kind kind, uint8_t *buf)
{
    char path[4096];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", golden_dir, cdr_sample_file(kind));
    if ((f = fopen(path, "rb")) == NULL)
        fail_msg("cannot open %s: %s; regenerate with `test-bridge-cdr-cyclone --write "
                 "tests/bridge/golden` (build dir: tests/bridge/)",
                 path, strerror(errno));
    n = fread(buf, 1, SAMPLE_MAX, f);
    fclose(f);
    return n;
}

static void assert_golden_fields(const struct cdr_bytes *got, const uint8_t *buf, size_t n)
{
    struct cdr_bytes want;

    cdr_sample_golden(&want);
    assert_string_equal(got->host, want.host);
    assert_int_equal(got->publisher_pid, want.publisher_pid);
    assert_int_equal(got->publisher_index, want.publisher_index);
    assert_true(got->sequence_number == want.sequence_number);
    assert_int_equal(got->stamp_sec, want.stamp_sec);
    assert_int_equal(got->stamp_nanosec, want.stamp_nanosec);
    assert_string_equal(got->encoding, want.encoding);
    assert_int_equal(got->data_length, want.data_length);
    assert_memory_equal(got->data, want.data, want.data_length);
    /* In place: everything points into the buffer read. */
    assert_true((const uint8_t *)got->host > buf && (const uint8_t *)got->encoding > buf);
    assert_true(got->data > buf && got->data + got->data_length <= buf + n);
}

/* Parses a copy of exactly `n` bytes on the heap, where a read past the end is one
 * AddressSanitizer sees; the copy is gone on return, so *out is only for its numbers. */
static int parse_exact(const uint8_t *bytes, size_t n, struct cdr_bytes *out)
{
    uint8_t *copy = malloc(n ? n : 1);
    int rc;

    memcpy(copy, bytes, n);
    rc = cdr_bytes_parse(copy, n, out);
    free(copy);
    return rc;
}

static void put_u32(uint8_t *p, uint32_t v, int little)
{
    for (int i = 0; i < 4; i++)
        p[little ? i : 3 - i] = (uint8_t)(v >> (8 * i));
}

static void test_bridge_cdr_golden_samples_read_in_place(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        uint8_t buf[SAMPLE_MAX];
        size_t n = golden(kinds[k], buf);
        struct cdr_bytes got;

        assert_int_equal(cdr_bytes_parse(buf, n, &got), 0);
        assert_golden_fields(&got, buf, n);
    }
}

/* The checked-in big-endian file is the hand-laid bytes above, and the tests' writer makes
 * every golden file (the little-endian ones came from Cyclone DDS). */
static void test_bridge_cdr_golden_files_match_the_layout(void **state)
{
    uint8_t buf[SAMPLE_MAX], made[SAMPLE_MAX];
    struct cdr_bytes s;

    (void)state;
    assert_int_equal(golden(CDR_SAMPLE_XCDR1_BE, buf), sizeof(xcdr1_be));
    assert_memory_equal(buf, xcdr1_be, sizeof(xcdr1_be));
    cdr_sample_golden(&s);
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        size_t n = golden(kinds[k], buf);
        assert_int_equal(cdr_sample_write(&s, kinds[k], made, sizeof(made)), n);
        assert_memory_equal(made, buf, n);
    }
}

/* XCDR1 aligns the sequence number to 8, XCDR2 to 4: each read as the other is refused or
 * reads something else, never the golden sample. */
static void test_bridge_cdr_alignment_follows_the_version(void **state)
{
    uint8_t buf[SAMPLE_MAX];
    struct cdr_bytes got;

    (void)state;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        size_t n = golden(kinds[k], buf);
        buf[1] ^= 0x06; /* XCDR1 <-> XCDR2, same byte order */
        assert_true(cdr_bytes_parse(buf, n, &got) != 0 ||
                    got.sequence_number != 0x0102030405060708ull);
    }
    /* The XCDR2 form is 4 bytes shorter: no pad before the 8-byte value. */
    assert_int_equal(golden(CDR_SAMPLE_XCDR1_LE, buf), golden(CDR_SAMPLE_XCDR2_LE, buf) + 4);
}

/* Every prefix that cuts into a field is refused; cutting only the final padding is not. */
static void test_bridge_cdr_truncated_is_refused(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        uint8_t buf[SAMPLE_MAX];
        size_t n = golden(kinds[k], buf);
        struct cdr_bytes got;

        for (size_t len = 0; len < n; len++) {
            int rc = parse_exact(buf, len, &got);
            if (len == n - GOLDEN_PAD)
                assert_int_equal(rc, 0);
            else
                assert_int_equal(rc, -EBADMSG);
        }
    }
}

/* A length anywhere past the end of the sample, up to 0xffffffff, is refused. */
static void test_bridge_cdr_oversized_lengths_are_refused(void **state)
{
    static const size_t at[] = {AT_HOST_LEN, AT_ENCODING_LEN, AT_DATA_LEN};
    static const uint32_t lengths[] = {64,          65,          200,         0x7fffffff,
                                       0x80000000u, 0xfffffffbu, 0xfffffffcu, 0xffffffffu};
    struct cdr_bytes got;

    (void)state;
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++) {
            uint8_t buf[sizeof(xcdr1_be)];
            memcpy(buf, xcdr1_be, sizeof(buf));
            put_u32(buf + at[i], lengths[l], 0);
            assert_int_equal(parse_exact(buf, sizeof(buf), &got), -EBADMSG);
        }
    }
    /* The data may end exactly at the end (no padding) but not one past it. */
    {
        uint8_t buf[sizeof(xcdr1_be)];
        memcpy(buf, xcdr1_be, sizeof(buf));
        put_u32(buf + AT_DATA_LEN, 8, 0);
        assert_int_equal(parse_exact(buf, sizeof(buf), &got), 0);
        assert_int_equal(got.data_length, 8);
        put_u32(buf + AT_DATA_LEN, 9, 0);
        assert_int_equal(parse_exact(buf, sizeof(buf), &got), -EBADMSG);
    }
}

static void test_bridge_cdr_bytes_left_over_are_refused(void **state)
{
    uint8_t buf[sizeof(xcdr1_be) + 8];
    struct cdr_bytes got;

    (void)state;
    memcpy(buf, xcdr1_be, sizeof(xcdr1_be));
    memset(buf + sizeof(xcdr1_be), 0, 8);
    /* 4 more bytes are no padding; nor is 1 that leaves the size off a multiple of 4. */
    assert_int_equal(parse_exact(buf, sizeof(xcdr1_be) + 4, &got), -EBADMSG);
    assert_int_equal(parse_exact(buf, sizeof(xcdr1_be) + 1, &got), -EBADMSG);
    /* A shorter data sequence leaves its former bytes over: 4 or more are refused. */
    put_u32(buf + AT_DATA_LEN, 4, 0);
    assert_int_equal(parse_exact(buf, sizeof(xcdr1_be), &got), -EBADMSG);
    put_u32(buf + AT_DATA_LEN, 0, 0);
    assert_int_equal(parse_exact(buf, sizeof(xcdr1_be), &got), -EBADMSG);
}

static void test_bridge_cdr_strings_need_their_nul(void **state)
{
    uint8_t buf[sizeof(xcdr1_be)];
    struct cdr_bytes got;

    (void)state;
    memcpy(buf, xcdr1_be, sizeof(buf));
    buf[AT_HOST_LEN + 4 + 6] = 'x'; /* host's NUL */
    assert_int_equal(parse_exact(buf, sizeof(buf), &got), -EBADMSG);
    memcpy(buf, xcdr1_be, sizeof(buf));
    buf[AT_ENCODING_LEN + 4 + 4] = 'x'; /* encoding's NUL */
    assert_int_equal(parse_exact(buf, sizeof(buf), &got), -EBADMSG);
    /* Length 0: not even the NUL. */
    memcpy(buf, xcdr1_be, sizeof(buf));
    put_u32(buf + AT_ENCODING_LEN, 0, 0);
    assert_int_equal(parse_exact(buf, sizeof(buf), &got), -EBADMSG);
    /* A NUL inside: the string reads up to it. */
    memcpy(buf, xcdr1_be, sizeof(buf));
    buf[AT_HOST_LEN + 4 + 2] = '\0';
    assert_int_equal(cdr_bytes_parse(buf, sizeof(buf), &got), 0);
    assert_string_equal(got.host, "ho");
}

/* Parameter lists (mutable types), delimited XCDR2 (appendable), anything not an
 * encapsulation: refused. */
static void test_bridge_cdr_other_encapsulations_are_refused(void **state)
{
    static const uint8_t ids[][2] = {{0x00, 0x02}, {0x00, 0x03}, {0x00, 0x04}, {0x00, 0x05},
                                     {0x00, 0x08}, {0x00, 0x09}, {0x00, 0x0a}, {0x00, 0x0b},
                                     {0x00, 0x10}, {0x00, 0x11}, {0x01, 0x00}, {0xff, 0xff}};
    uint8_t buf[sizeof(xcdr1_be)];
    struct cdr_bytes got;

    (void)state;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        memcpy(buf, xcdr1_be, sizeof(buf));
        memcpy(buf, ids[i], 2);
        assert_int_equal(parse_exact(buf, sizeof(buf), &got), -EBADMSG);
    }
}

/* The reader needs no alignment of the buffer: the sample at every offset of a larger one. */
static void test_bridge_cdr_unaligned_buffer(void **state)
{
    uint8_t buf[sizeof(xcdr1_be) + 8];
    struct cdr_bytes got;

    (void)state;
    for (size_t off = 0; off < 8; off++) {
        memcpy(buf + off, xcdr1_be, sizeof(xcdr1_be));
        assert_int_equal(cdr_bytes_parse(buf + off, sizeof(xcdr1_be), &got), 0);
        assert_golden_fields(&got, buf + off, sizeof(xcdr1_be));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bridge_cdr_golden_samples_read_in_place),
        cmocka_unit_test(test_bridge_cdr_golden_files_match_the_layout),
        cmocka_unit_test(test_bridge_cdr_alignment_follows_the_version),
        cmocka_unit_test(test_bridge_cdr_truncated_is_refused),
        cmocka_unit_test(test_bridge_cdr_oversized_lengths_are_refused),
        cmocka_unit_test(test_bridge_cdr_bytes_left_over_are_refused),
        cmocka_unit_test(test_bridge_cdr_strings_need_their_nul),
        cmocka_unit_test(test_bridge_cdr_other_encapsulations_are_refused),
        cmocka_unit_test(test_bridge_cdr_unaligned_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
