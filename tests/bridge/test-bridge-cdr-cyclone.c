/*
 * The bridge's CDR reader against Cyclone DDS itself: what Cyclone writes for the golden sample
 * (XCDR1 and XCDR2) is the golden bytes, and what it hands a reader (dds_takecdr, to_ser_ref) is
 * what cdr_bytes_parse reads; Cyclone's own validator takes the big-endian golden files and
 * turns them into the little-endian ones; and to_ser_ref gives a pointer into the sample
 * Cyclone holds, a sample reassembled from fragments included: no copy of the bridge's own.
 * `test-bridge-cdr-cyclone --write DIR` writes the golden files instead (the little-endian ones
 * as Cyclone serializes them, the big-endian ones by cdr-sample.c). Skipped (77) without a
 * Cyclone participant (no loopback interface).
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
#include <dds/dds.h>
#include <dds/ddsi/ddsi_serdata_default.h>

#include "Bytes.h"
#include "cdr-sample.h"

#define SAMPLE_MAX 256
#define BIG_DATA   (64 * 1024)
/* Loopback only, no multicast, no discovery of anyone: one process talking to itself. */
#define DOMAIN_ID 211
#define DOMAIN_CONFIG                                                                              \
    "<General><Interfaces><NetworkInterface name=\"lo\"/></Interfaces>"                            \
    "<AllowMulticast>false</AllowMulticast></General>"                                             \
    "<Discovery><ParticipantIndex>none</ParticipantIndex></Discovery>"

static const char *golden_dir = BRIDGE_CDR_GOLDEN_DIR;

struct world {
    dds_entity_t domain, pp, topic;
    dds_entity_t writer[2], reader; /* writer[0]: XCDR1, writer[1]: XCDR2 */
};

static int little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

static size_t read_file(const char *name, uint8_t *buf, size_t cap)
{
    char path[4096];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", golden_dir, name);
    if ((f = fopen(path, "rb")) == NULL)
        fail_msg("cannot open %s: %s; regenerate with `test-bridge-cdr-cyclone --write "
                 "tests/bridge/golden` (build dir: tests/bridge/)",
                 path, strerror(errno));
    n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static dds_entity_t writer_new(struct world *w, int16_t representation)
{
    dds_qos_t *q = dds_create_qos();
    dds_entity_t e;

    dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
    dds_qset_history(q, DDS_HISTORY_KEEP_ALL, 0);
    dds_qset_data_representation(q, 1, &representation);
    e = dds_create_writer(w->pp, w->topic, q, NULL);
    dds_delete_qos(q);
    return e;
}

/* The participant and its endpoints, or NULL with the reason on stderr. */
static struct world *world_new(void)
{
    struct world *w = calloc(1, sizeof(*w));
    dds_qos_t *q;

    w->domain = dds_create_domain(DOMAIN_ID, DOMAIN_CONFIG);
    if (w->domain < 0 || (w->pp = dds_create_participant(DOMAIN_ID, NULL, NULL)) < 0) {
        fprintf(stderr, "no Cyclone DDS participant on the loopback interface (%s)\n",
                dds_strretcode(w->domain < 0 ? w->domain : w->pp));
        if (w->domain > 0)
            dds_delete(w->domain);
        free(w);
        return NULL;
    }
    w->topic =
        dds_create_topic(w->pp, &agnocast_msgs_msg_dds__Bytes__desc, "cdr_golden", NULL, NULL);
    w->writer[0] = writer_new(w, DDS_DATA_REPRESENTATION_XCDR1);
    w->writer[1] = writer_new(w, DDS_DATA_REPRESENTATION_XCDR2);
    q = dds_create_qos();
    dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
    dds_qset_history(q, DDS_HISTORY_KEEP_ALL, 0);
    dds_qset_data_representation(
        q, 2, (const int16_t[]){DDS_DATA_REPRESENTATION_XCDR1, DDS_DATA_REPRESENTATION_XCDR2});
    w->reader = dds_create_reader(w->pp, w->topic, q, NULL);
    dds_delete_qos(q);
    if (w->topic < 0 || w->writer[0] < 0 || w->writer[1] < 0 || w->reader < 0) {
        fprintf(stderr, "cannot create the DDS topic, writers or reader\n");
        dds_delete(w->domain);
        free(w);
        return NULL;
    }
    return w;
}

static void world_free(struct world *w)
{
    dds_delete(w->domain);
    free(w);
}

static struct world *the_world;

static int group_setup(void **state)
{
    *state = the_world;
    return 0;
}

/* Writes `s` with writer `x` and takes it back serialized, as the bridge does. */
static struct ddsi_serdata *write_and_take(struct world *w, int x, const struct cdr_bytes *s)
{
    agnocast_msgs_msg_dds__Bytes_ m = {0};
    struct ddsi_serdata *sd = NULL;
    dds_sample_info_t info;

    m.origin.host = (char *)s->host;
    m.origin.publisher_pid = s->publisher_pid;
    m.origin.publisher_index = s->publisher_index;
    m.origin.sequence_number = s->sequence_number;
    m.origin.stamp.sec = s->stamp_sec;
    m.origin.stamp.nanosec = s->stamp_nanosec;
    m.encoding = (char *)s->encoding;
    m.data._buffer = (uint8_t *)s->data;
    m.data._length = m.data._maximum = s->data_length;
    assert_int_equal(dds_write(w->writer[x], &m), 0);
    /* Delivery to a reader of the same participant is done when the write returns. */
    assert_int_equal(dds_takecdr(w->reader, &sd, 1, &info, DDS_ANY_STATE), 1);
    assert_true(info.valid_data);
    return sd;
}

/* 1 if `p` is where Cyclone 0.10's serdata_default keeps the header and the sample after it:
 * right after its own fields, in its one allocation. */
static int in_serdata(const struct ddsi_serdata *sd, const void *p)
{
    const struct ddsi_serdata_ops *ops = sd->ops;

    if (ops != &ddsi_serdata_ops_cdr && ops != &ddsi_serdata_ops_cdr_nokey &&
        ops != &ddsi_serdata_ops_xcdr2 && ops != &ddsi_serdata_ops_xcdr2_nokey)
        fail_msg("the sample is no serdata_default: another Cyclone DDS, whose to_ser_ref may "
                 "copy; check route-in.c's comment on contiguity");
    return p == (const void *)&((const struct ddsi_serdata_default *)sd)->hdr;
}

/* The serialized form of `sd` by reference, checked to point into the serdata itself. */
static const uint8_t *ser_ref(struct ddsi_serdata *sd, ddsrt_iovec_t *ref,
                              struct ddsi_serdata **held)
{
    uint32_t size = ddsi_serdata_size(sd);

    *held = ddsi_serdata_to_ser_ref(sd, 0, size, ref);
    assert_int_equal(ref->iov_len, size);
    assert_true(in_serdata(sd, ref->iov_base));
    return ref->iov_base;
}

static void assert_golden_fields(const struct cdr_bytes *got, const struct cdr_bytes *want)
{
    assert_string_equal(got->host, want->host);
    assert_int_equal(got->publisher_pid, want->publisher_pid);
    assert_int_equal(got->publisher_index, want->publisher_index);
    assert_true(got->sequence_number == want->sequence_number);
    assert_int_equal(got->stamp_sec, want->stamp_sec);
    assert_int_equal(got->stamp_nanosec, want->stamp_nanosec);
    assert_string_equal(got->encoding, want->encoding);
    assert_int_equal(got->data_length, want->data_length);
    assert_memory_equal(got->data, want->data, want->data_length);
}

static void test_bridge_cdr_cyclone_writes_the_golden_bytes(void **state)
{
    struct world *w = *state;
    static const enum cdr_sample_kind kinds[2] = {CDR_SAMPLE_XCDR1_LE, CDR_SAMPLE_XCDR2_LE};
    struct cdr_bytes want, got;

    if (!little_endian())
        skip(); /* the golden Cyclone-made files are little-endian */
    cdr_sample_golden(&want);
    for (int x = 0; x < 2; x++) {
        struct ddsi_serdata *sd = write_and_take(w, x, &want), *held;
        uint8_t golden[SAMPLE_MAX];
        size_t n = read_file(cdr_sample_file(kinds[x]), golden, sizeof(golden));
        ddsrt_iovec_t ref;
        const uint8_t *ser = ser_ref(sd, &ref, &held);

        if (ref.iov_len != n || memcmp(ser, golden, n) != 0)
            fail_msg("Cyclone DDS serializes the golden sample as %s differently from "
                     "tests/bridge/golden/%s (%zu bytes, Cyclone %zu): a Cyclone DDS that writes "
                     "Bytes_ another way; check cdr.c reads it, then regenerate",
                     x ? "XCDR2" : "XCDR1", cdr_sample_file(kinds[x]), n, (size_t)ref.iov_len);
        assert_int_equal(cdr_bytes_parse(ser, ref.iov_len, &got), 0);
        assert_golden_fields(&got, &want);
        ddsi_serdata_to_ser_unref(held, &ref);
        ddsi_serdata_unref(sd);
    }
}

/* A sample from a big-endian host: Cyclone validates it and turns it into this host's order,
 * which is the golden little-endian file of the same version; the reader reads both. */
static void test_bridge_cdr_cyclone_takes_the_big_endian_golden(void **state)
{
    struct world *w = *state;
    static const enum cdr_sample_kind be[2] = {CDR_SAMPLE_XCDR1_BE, CDR_SAMPLE_XCDR2_BE};
    static const enum cdr_sample_kind le[2] = {CDR_SAMPLE_XCDR1_LE, CDR_SAMPLE_XCDR2_LE};
    struct cdr_bytes want, got;

    if (!little_endian())
        skip();
    cdr_sample_golden(&want);
    for (int x = 0; x < 2; x++) {
        /* Any serdata of the topic's type names the type. */
        struct ddsi_serdata *typed = write_and_take(w, x, &want), *sd, *held;
        uint8_t in[SAMPLE_MAX], out[SAMPLE_MAX];
        size_t n = read_file(cdr_sample_file(be[x]), in, sizeof(in));
        size_t m = read_file(cdr_sample_file(le[x]), out, sizeof(out));
        ddsrt_iovec_t iov = {.iov_base = in, .iov_len = n}, ref;
        const uint8_t *ser;

        assert_int_equal(cdr_bytes_parse(in, n, &got), 0);
        assert_golden_fields(&got, &want);
        sd = ddsi_serdata_from_ser_iov(typed->type, SDK_DATA, 1, &iov, n);
        if (sd == NULL)
            fail_msg("Cyclone DDS refuses tests/bridge/golden/%s", cdr_sample_file(be[x]));
        ser = ser_ref(sd, &ref, &held);
        assert_int_equal(ref.iov_len, m);
        assert_memory_equal(ser, out, m);
        ddsi_serdata_to_ser_unref(held, &ref);
        ddsi_serdata_unref(sd);
        ddsi_serdata_unref(typed);
    }
}

/* A sample bigger than a DDSI fragment arrives in pieces; Cyclone puts them in one buffer, and
 * the reference the bridge reads is into that buffer. */
static void test_bridge_cdr_cyclone_reassembled_sample_is_one_reference(void **state)
{
    struct world *w = *state;
    static uint8_t data[BIG_DATA], ser[BIG_DATA + SAMPLE_MAX];
    struct cdr_bytes want, got;
    struct ddsi_serdata *typed, *sd, *held;
    ddsrt_iovec_t iov[3], ref;
    size_t n;
    const uint8_t *p;

    cdr_sample_golden(&want);
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + 1);
    want.data = data;
    want.data_length = sizeof(data);
    typed = write_and_take(w, 0, &want);
    n = cdr_sample_write(&want, little_endian() ? CDR_SAMPLE_XCDR1_LE : CDR_SAMPLE_XCDR1_BE, ser,
                         sizeof(ser));
    assert_true(n > sizeof(data));
    /* 1344 bytes: Cyclone's default FragmentSize. */
    iov[0] = (ddsrt_iovec_t){.iov_base = ser, .iov_len = 1344};
    iov[1] = (ddsrt_iovec_t){.iov_base = ser + 1344, .iov_len = 1344};
    iov[2] = (ddsrt_iovec_t){.iov_base = ser + 2688, .iov_len = n - 2688};
    sd = ddsi_serdata_from_ser_iov(typed->type, SDK_DATA, 3, iov, n);
    assert_non_null(sd);
    held = ddsi_serdata_to_ser_ref(sd, 0, ddsi_serdata_size(sd), &ref);
    p = ref.iov_base;
    assert_int_equal(ref.iov_len, n);
    assert_true(in_serdata(sd, p));
    assert_int_equal(cdr_bytes_parse(p, ref.iov_len, &got), 0);
    assert_golden_fields(&got, &want);
    assert_true(got.data > p && got.data + got.data_length <= p + ref.iov_len);
    ddsi_serdata_to_ser_unref(held, &ref);
    ddsi_serdata_unref(sd);
    ddsi_serdata_unref(typed);
}

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "test-bridge-cdr-cyclone: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf("wrote %s (%zu bytes)\n", path, n);
    return 0;
}

/* --write DIR: the little-endian files as Cyclone serializes the sample, the big-endian ones by
 * cdr-sample.c (checked against Cyclone by the test above). */
static int write_golden(const char *dir)
{
    static const enum cdr_sample_kind le[2] = {CDR_SAMPLE_XCDR1_LE, CDR_SAMPLE_XCDR2_LE};
    static const enum cdr_sample_kind be[2] = {CDR_SAMPLE_XCDR1_BE, CDR_SAMPLE_XCDR2_BE};
    struct world *w;
    struct cdr_bytes s;
    int rc = 0;

    if (!little_endian()) {
        fprintf(stderr, "test-bridge-cdr-cyclone: the golden files are made on a little-endian "
                        "host\n");
        return 1;
    }
    if ((w = world_new()) == NULL)
        return 1;
    cdr_sample_golden(&s);
    for (int x = 0; x < 2; x++) {
        struct ddsi_serdata *sd = write_and_take(w, x, &s), *held;
        ddsrt_iovec_t ref;
        uint8_t buf[SAMPLE_MAX];
        size_t n;

        held = ddsi_serdata_to_ser_ref(sd, 0, ddsi_serdata_size(sd), &ref);
        rc |= write_file(dir, cdr_sample_file(le[x]), ref.iov_base, ref.iov_len);
        ddsi_serdata_to_ser_unref(held, &ref);
        ddsi_serdata_unref(sd);
        n = cdr_sample_write(&s, be[x], buf, sizeof(buf));
        rc |= n == 0 || write_file(dir, cdr_sample_file(be[x]), buf, n);
    }
    world_free(w);
    return rc;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bridge_cdr_cyclone_writes_the_golden_bytes),
        cmocka_unit_test(test_bridge_cdr_cyclone_takes_the_big_endian_golden),
        cmocka_unit_test(test_bridge_cdr_cyclone_reassembled_sample_is_one_reference),
    };

    int rc;

    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_golden(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test-bridge-cdr-cyclone [--write GOLDEN_DIR]\n");
        return 2;
    }
    if ((the_world = world_new()) == NULL) {
        printf("SKIP: no Cyclone DDS participant here\n");
        return 77;
    }
    rc = cmocka_run_group_tests(tests, group_setup, NULL);
    world_free(the_world);
    return rc;
}
