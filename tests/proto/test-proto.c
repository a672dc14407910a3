/* Unit tests of frame encoding and validation, topic names, QoS ranges and the kind table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto-sample.h"

#define N_KINDS 32

static const uint16_t all_kinds[N_KINDS] = {
    AGNOCAST_MSG_HELLO,
    AGNOCAST_MSG_HELLO_REPLY,
    AGNOCAST_MSG_REGISTER_PROCESS,
    AGNOCAST_MSG_REGISTER_REPLY,
    AGNOCAST_MSG_ATTACH_SEGMENT,
    AGNOCAST_MSG_REPORT_OCCUPIED,
    AGNOCAST_MSG_ADD_PUBLISHER,
    AGNOCAST_MSG_REMOVE_PUBLISHER,
    AGNOCAST_MSG_ADD_SUBSCRIPTION,
    AGNOCAST_MSG_REMOVE_SUBSCRIPTION,
    AGNOCAST_MSG_HAND_WAKE,
    AGNOCAST_MSG_OK,
    AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED,
    AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED,
    AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED,
    AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED,
    AGNOCAST_MSG_NOTICE_PROCESS_GONE,
    AGNOCAST_MSG_NOTICE_AREA_ADDED,
    AGNOCAST_MSG_NOTICE_WAKE_ADDED,
    AGNOCAST_MSG_LIST_TOPICS,
    AGNOCAST_MSG_TOPIC_LIST,
    AGNOCAST_MSG_TOPIC_INFO,
    AGNOCAST_MSG_TOPIC_INFO_REPLY,
    AGNOCAST_MSG_LIST_PROCESSES,
    AGNOCAST_MSG_PROCESS_LIST,
    AGNOCAST_MSG_STATS,
    AGNOCAST_MSG_STATS_REPLY,
    AGNOCAST_MSG_GET_SEGMENT,
    AGNOCAST_MSG_SEGMENT_REPLY,
    AGNOCAST_MSG_LIST_RULES,
    AGNOCAST_MSG_RULE_LIST,
    AGNOCAST_MSG_ERROR,
};

/* Fixed payload size per kind as the header documents it; 0 marks a list kind (and STATS). */
static size_t fixed_size(uint16_t kind)
{
    switch (kind) {
    case AGNOCAST_MSG_HELLO:
        return sizeof(struct agnocast_wire_hello);
    case AGNOCAST_MSG_HELLO_REPLY:
        return sizeof(struct agnocast_wire_hello_reply);
    case AGNOCAST_MSG_REGISTER_PROCESS:
        return sizeof(struct agnocast_wire_register);
    case AGNOCAST_MSG_REGISTER_REPLY:
        return sizeof(struct agnocast_wire_register_reply);
    case AGNOCAST_MSG_REPORT_OCCUPIED:
        return sizeof(struct agnocast_wire_range);
    case AGNOCAST_MSG_ADD_PUBLISHER:
    case AGNOCAST_MSG_ADD_SUBSCRIPTION:
        return sizeof(struct agnocast_wire_endpoint);
    case AGNOCAST_MSG_REMOVE_PUBLISHER:
    case AGNOCAST_MSG_REMOVE_SUBSCRIPTION:
        return sizeof(struct agnocast_wire_endpoint_remove);
    case AGNOCAST_MSG_OK:
        return sizeof(struct agnocast_wire_ok);
    case AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED:
    case AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED:
    case AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED:
    case AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED:
        return sizeof(struct agnocast_wire_notice_endpoint);
    case AGNOCAST_MSG_NOTICE_PROCESS_GONE:
    case AGNOCAST_MSG_HAND_WAKE:
    case AGNOCAST_MSG_NOTICE_WAKE_ADDED:
        return sizeof(struct agnocast_wire_notice_process);
    case AGNOCAST_MSG_LIST_TOPICS:
    case AGNOCAST_MSG_TOPIC_INFO:
    case AGNOCAST_MSG_LIST_PROCESSES:
    case AGNOCAST_MSG_LIST_RULES:
        return sizeof(struct agnocast_wire_query);
    case AGNOCAST_MSG_ATTACH_SEGMENT:
    case AGNOCAST_MSG_NOTICE_AREA_ADDED:
    case AGNOCAST_MSG_SEGMENT_REPLY:
        return sizeof(struct agnocast_wire_segment);
    case AGNOCAST_MSG_GET_SEGMENT:
        return sizeof(struct agnocast_wire_segment_query);
    case AGNOCAST_MSG_ERROR:
        return sizeof(struct agnocast_wire_error);
    }
    return 0;
}

static size_t entry_size(uint16_t kind)
{
    switch (kind) {
    case AGNOCAST_MSG_TOPIC_LIST:
        return sizeof(struct agnocast_wire_topic_entry);
    case AGNOCAST_MSG_TOPIC_INFO_REPLY:
        return sizeof(struct agnocast_wire_endpoint_entry);
    case AGNOCAST_MSG_PROCESS_LIST:
        return sizeof(struct agnocast_wire_process_entry);
    case AGNOCAST_MSG_STATS_REPLY:
        return sizeof(struct agnocast_wire_stats_entry);
    case AGNOCAST_MSG_RULE_LIST:
        return sizeof(struct agnocast_wire_rule_entry);
    }
    return 0;
}

static union agnocast_frame_buffer payload_buf;
static union agnocast_frame_buffer frame_buf;
/* One byte over a frame, so oversized frames can be built. */
static union {
    uint64_t align;
    unsigned char bytes[AGNOCAST_PROTO_FRAME_MAX + 64];
} big_buf;

/* The sample payload of `kind` in payload_buf; returns its length. */
static size_t sample(uint16_t kind)
{
    ssize_t len = proto_sample_payload(kind, payload_buf.bytes, sizeof(payload_buf.bytes));
    assert_true(len >= 0);
    return (size_t)len;
}

/* Encodes `len` bytes of payload_buf as `kind` (lengths the encoder accepts) and decodes it. */
static int roundtrip(uint16_t kind, size_t len, struct agnocast_frame *f)
{
    ssize_t n = agnocast_proto_encode(frame_buf.bytes, sizeof(frame_buf.bytes), kind, 77,
                                      payload_buf.bytes, len);
    assert_int_equal(n, (ssize_t)(16 + len));
    return agnocast_proto_decode(frame_buf.bytes, (size_t)n, f);
}

static int decode_sample_mutated(uint16_t kind, size_t len)
{
    struct agnocast_frame f;
    return roundtrip(kind, len, &f);
}

/* A frame with a hand-written header (for sizes the encoder refuses); returns its length. */
static size_t raw_frame(unsigned char *buf, uint32_t magic, uint16_t version, uint16_t kind,
                        uint32_t length, const void *payload, size_t payload_len)
{
    struct agnocast_wire_header h = {magic, version, kind, length, 9};
    memcpy(buf, &h, sizeof(h));
    if (payload_len)
        memcpy(buf + sizeof(h), payload, payload_len);
    return sizeof(h) + payload_len;
}

static void test_proto_kinds_are_sorted_and_complete(void **state)
{
    const uint16_t *kinds = NULL;
    size_t n = agnocast_proto_kinds(&kinds);
    assert_int_equal(n, N_KINDS);
    assert_non_null(kinds);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(kinds[i], all_kinds[i]);
        if (i > 0)
            assert_true(kinds[i - 1] < kinds[i]);
    }
    assert_int_equal(agnocast_proto_kinds(NULL), N_KINDS);
}

static void test_proto_kind_names(void **state)
{
    assert_string_equal(agnocast_proto_kind_name(AGNOCAST_MSG_HELLO), "HELLO");
    assert_string_equal(agnocast_proto_kind_name(AGNOCAST_MSG_ADD_PUBLISHER), "ADD_PUBLISHER");
    assert_string_equal(agnocast_proto_kind_name(AGNOCAST_MSG_NOTICE_PROCESS_GONE),
                        "NOTICE_PROCESS_GONE");
    assert_string_equal(agnocast_proto_kind_name(AGNOCAST_MSG_STATS_REPLY), "STATS_REPLY");
    assert_string_equal(agnocast_proto_kind_name(AGNOCAST_MSG_ERROR), "ERROR");
    assert_string_equal(agnocast_proto_kind_name(0), "UNKNOWN");
    assert_string_equal(agnocast_proto_kind_name(102), "UNKNOWN");
    assert_string_equal(agnocast_proto_kind_name(0xffff), "UNKNOWN");
    for (size_t i = 0; i < N_KINDS; i++) {
        const char *a = agnocast_proto_kind_name(all_kinds[i]);
        assert_string_not_equal(a, "UNKNOWN");
        for (size_t j = i + 1; j < N_KINDS; j++)
            assert_string_not_equal(a, agnocast_proto_kind_name(all_kinds[j]));
    }
}

static void test_proto_round_trip_every_kind(void **state)
{
    for (size_t i = 0; i < N_KINDS; i++) {
        uint16_t kind = all_kinds[i];
        size_t len = sample(kind);
        ssize_t n = agnocast_proto_encode(frame_buf.bytes, sizeof(frame_buf.bytes), kind,
                                          0xdeadbeef, payload_buf.bytes, len);
        assert_int_equal(n, (ssize_t)(16 + len));

        struct agnocast_wire_header h;
        memcpy(&h, frame_buf.bytes, sizeof(h));
        assert_int_equal(h.magic, AGNOCAST_PROTO_MAGIC);
        assert_int_equal(h.version, AGNOCAST_PROTO_VERSION);
        assert_int_equal(h.kind, kind);
        assert_int_equal(h.length, len);
        assert_int_equal(h.request_id, 0xdeadbeef);

        struct agnocast_frame f;
        assert_int_equal(agnocast_proto_decode(frame_buf.bytes, (size_t)n, &f), 0);
        assert_int_equal(f.kind, kind);
        assert_int_equal(f.version, AGNOCAST_PROTO_VERSION);
        assert_int_equal(f.request_id, 0xdeadbeef);
        assert_int_equal(f.payload_len, len);
        if (len == 0) {
            assert_null(f.payload);
        } else {
            assert_ptr_equal(f.payload, frame_buf.bytes + 16);
            assert_memory_equal(f.payload, payload_buf.bytes, len);
        }
        size_t es = entry_size(kind);
        if (es) {
            struct agnocast_wire_list list;
            memcpy(&list, payload_buf.bytes, sizeof(list));
            assert_true(list.count > 0);
            assert_int_equal(f.list_count, list.count);
            assert_int_equal(f.list_total, list.total);
            assert_ptr_equal(f.entries, frame_buf.bytes + 16 + 8);
            assert_int_equal(8 + f.list_count * es, len);
        } else {
            assert_int_equal(len, fixed_size(kind));
            assert_int_equal(f.list_count, 0);
            assert_null(f.entries);
        }
    }
}

static void test_proto_decode_reads_typed_payload(void **state)
{
    struct agnocast_frame f;
    assert_int_equal(roundtrip(AGNOCAST_MSG_ADD_PUBLISHER, sample(AGNOCAST_MSG_ADD_PUBLISHER), &f),
                     0);
    const struct agnocast_wire_endpoint *ep = f.payload;
    assert_int_equal(ep->index, 3);
    assert_int_equal(ep->qos.depth, 10);
    assert_string_equal(ep->topic, "/chatter");

    assert_int_equal(roundtrip(AGNOCAST_MSG_TOPIC_LIST, sample(AGNOCAST_MSG_TOPIC_LIST), &f), 0);
    const struct agnocast_wire_topic_entry *te = f.entries;
    assert_int_equal(f.list_count, 2);
    assert_string_equal(te[1].topic, "/robot_1/odom");
    assert_int_equal(te[0].subscriptions, 2);
}

static void test_proto_decode_rejects_short_frame(void **state)
{
    struct agnocast_frame f;
    size_t n = (size_t)proto_sample_frame(AGNOCAST_MSG_HELLO, frame_buf.bytes, 64);
    assert_int_equal(n, 24);
    for (size_t len = 0; len < 16; len++)
        assert_int_equal(agnocast_proto_decode(frame_buf.bytes, len, &f), -EBADMSG);
    assert_int_equal(agnocast_proto_decode(NULL, 0, &f), -EBADMSG);
    /* The header alone, with length still saying 8. */
    assert_int_equal(agnocast_proto_decode(frame_buf.bytes, 16, &f), -EBADMSG);
}

static void test_proto_decode_rejects_null_args(void **state)
{
    struct agnocast_frame f;
    size_t n = (size_t)proto_sample_frame(AGNOCAST_MSG_HELLO, frame_buf.bytes, 64);
    assert_int_equal(agnocast_proto_decode(frame_buf.bytes, n, NULL), -EINVAL);
    assert_int_equal(agnocast_proto_decode(NULL, n, &f), -EINVAL);
}

static void test_proto_decode_rejects_bad_magic(void **state)
{
    struct agnocast_frame f;
    size_t len = sample(AGNOCAST_MSG_HELLO);
    size_t n = raw_frame(frame_buf.bytes, 0x434e4742u, AGNOCAST_PROTO_VERSION, AGNOCAST_MSG_HELLO,
                         (uint32_t)len, payload_buf.bytes, len);
    assert_int_equal(agnocast_proto_decode(frame_buf.bytes, n, &f), -EBADMSG);
    n = raw_frame(frame_buf.bytes, 0, AGNOCAST_PROTO_VERSION, AGNOCAST_MSG_HELLO, (uint32_t)len,
                  payload_buf.bytes, len);
    assert_int_equal(agnocast_proto_decode(frame_buf.bytes, n, &f), -EBADMSG);
    n = raw_frame(frame_buf.bytes, AGNOCAST_PROTO_MAGIC, AGNOCAST_PROTO_VERSION, AGNOCAST_MSG_HELLO,
                  (uint32_t)len, payload_buf.bytes, len);
    assert_int_equal(agnocast_proto_decode(frame_buf.bytes, n, &f), 0);
}

static void test_proto_decode_reports_other_version(void **state)
{
    struct agnocast_frame f;
    static const uint16_t versions[] = {0, AGNOCAST_PROTO_VERSION + 1, 0xffff};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        /* The payload of another version is not ours to judge: garbage of any length. */
        memset(payload_buf.bytes, 0xee, 40);
        size_t n = raw_frame(frame_buf.bytes, AGNOCAST_PROTO_MAGIC, versions[i], AGNOCAST_MSG_HELLO,
                             1234, payload_buf.bytes, 40);
        assert_int_equal(agnocast_proto_decode(frame_buf.bytes, n, &f), -EPROTONOSUPPORT);
        assert_int_equal(f.version, versions[i]);
        assert_int_equal(f.kind, AGNOCAST_MSG_HELLO);
        assert_int_equal(f.request_id, 9);
        assert_null(f.payload);
        /* A header alone is enough to tell the version. */
        assert_int_equal(agnocast_proto_decode(frame_buf.bytes, 16, &f), -EPROTONOSUPPORT);
        assert_int_equal(f.version, versions[i]);
    }
}

static void test_proto_decode_rejects_length_mismatch(void **state)
{
    struct agnocast_frame f;
    for (size_t i = 0; i < N_KINDS; i++) {
        uint16_t kind = all_kinds[i];
        size_t len = sample(kind);
        size_t n = raw_frame(frame_buf.bytes, AGNOCAST_PROTO_MAGIC, AGNOCAST_PROTO_VERSION, kind,
                             (uint32_t)len + 1, payload_buf.bytes, len);
        assert_int_equal(agnocast_proto_decode(frame_buf.bytes, n, &f), -EBADMSG);
        assert_int_equal(f.kind, kind); /* the header was readable: filled for logs */
        if (len > 0) {
            raw_frame(frame_buf.bytes, AGNOCAST_PROTO_MAGIC, AGNOCAST_PROTO_VERSION, kind,
                      (uint32_t)len - 1, payload_buf.bytes, len);
            assert_int_equal(agnocast_proto_decode(frame_buf.bytes, n, &f), -EBADMSG);
        }
        /* A byte past the frame the header describes. */
        raw_frame(frame_buf.bytes, AGNOCAST_PROTO_MAGIC, AGNOCAST_PROTO_VERSION, kind,
                  (uint32_t)len, payload_buf.bytes, len);
        frame_buf.bytes[n] = 0;
        assert_int_equal(agnocast_proto_decode(frame_buf.bytes, n + 1, &f), -EBADMSG);
        assert_int_equal(agnocast_proto_decode(frame_buf.bytes, n, &f), 0);
    }
}

static void test_proto_decode_rejects_oversized(void **state)
{
    struct agnocast_frame f;
    size_t len = AGNOCAST_PROTO_FRAME_MAX + 1 - 16;
    memset(big_buf.bytes, 0, sizeof(big_buf.bytes));
    raw_frame(big_buf.bytes, AGNOCAST_PROTO_MAGIC, AGNOCAST_PROTO_VERSION, AGNOCAST_MSG_TOPIC_LIST,
              (uint32_t)len, NULL, 0);
    assert_int_equal(agnocast_proto_decode(big_buf.bytes, 16 + len, &f), -EBADMSG);
    assert_int_equal(agnocast_proto_decode(big_buf.bytes, (size_t)-1, &f), -EBADMSG);
}

static void test_proto_decode_rejects_unknown_kind(void **state)
{
    struct agnocast_frame f;
    static const uint16_t bad[] = {0, 1, 99, 102, 204, 291, 305, 408, 899, 901, 0xffff};
    memset(payload_buf.bytes, 0, 64);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        static const size_t lens[] = {0, 8, 16, 24};
        for (size_t j = 0; j < 4; j++) {
            size_t n = raw_frame(frame_buf.bytes, AGNOCAST_PROTO_MAGIC, AGNOCAST_PROTO_VERSION,
                                 bad[i], (uint32_t)lens[j], payload_buf.bytes, lens[j]);
            assert_int_equal(agnocast_proto_decode(frame_buf.bytes, n, &f), -EBADMSG);
        }
    }
}

static void test_proto_decode_rejects_wrong_payload_size(void **state)
{
    struct agnocast_frame f;
    for (size_t i = 0; i < N_KINDS; i++) {
        uint16_t kind = all_kinds[i];
        if (entry_size(kind))
            continue;
        size_t good = sample(kind);
        assert_int_equal(good, fixed_size(kind));
        const size_t tries[] = {0, 1, 4, 8, good - 1, good + 1, good + 8, good * 2, 1024};
        for (size_t j = 0; j < sizeof(tries) / sizeof(tries[0]); j++) {
            size_t len = tries[j];
            if (len == good || len > 1024)
                continue;
            size_t n = raw_frame(frame_buf.bytes, AGNOCAST_PROTO_MAGIC, AGNOCAST_PROTO_VERSION,
                                 kind, (uint32_t)len, payload_buf.bytes, len);
            assert_int_equal(agnocast_proto_decode(frame_buf.bytes, n, &f), -EBADMSG);
            /* The encoder refuses the same length. */
            assert_int_equal(agnocast_proto_encode(frame_buf.bytes, sizeof(frame_buf.bytes), kind,
                                                   1, payload_buf.bytes, len),
                             -EINVAL);
        }
    }
}

static void test_proto_decode_rejects_string_without_nul(void **state)
{
    size_t len = sample(AGNOCAST_MSG_ADD_PUBLISHER);
    struct agnocast_wire_endpoint *ep = (void *)payload_buf.bytes;
    memset(ep->topic, 'a', sizeof(ep->topic));
    ep->topic[0] = '/';
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_ADD_PUBLISHER, len), -EBADMSG);

    len = sample(AGNOCAST_MSG_ERROR);
    struct agnocast_wire_error *err = (void *)payload_buf.bytes;
    memset(err->message, 'x', sizeof(err->message));
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_ERROR, len), -EBADMSG);
    err->message[sizeof(err->message) - 1] = '\0'; /* the longest message that fits */
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_ERROR, len), 0);
    memset(err->message, 0, sizeof(err->message)); /* an empty message is allowed */
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_ERROR, len), 0);
}

static void test_proto_decode_rejects_garbage_after_nul(void **state)
{
    size_t len = sample(AGNOCAST_MSG_ADD_PUBLISHER);
    struct agnocast_wire_endpoint *ep = (void *)payload_buf.bytes;
    ep->topic[strlen(ep->topic) + 1] = 'x';
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_ADD_PUBLISHER, len), -EBADMSG);
    ep->topic[strlen(ep->topic) + 1] = 0;
    ep->topic[AGNOCAST_TOPIC_FIELD - 1] = 1;
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_ADD_PUBLISHER, len), -EBADMSG);

    len = sample(AGNOCAST_MSG_ERROR);
    struct agnocast_wire_error *err = (void *)payload_buf.bytes;
    err->message[AGNOCAST_ERROR_TEXT_MAX - 1] = '!';
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_ERROR, len), -EBADMSG);

    len = sample(AGNOCAST_MSG_TOPIC_LIST);
    struct agnocast_wire_topic_entry *te = (void *)(payload_buf.bytes + 8);
    te[1].topic[200] = '/';
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_TOPIC_LIST, len), -EBADMSG);
}

static char long_name[AGNOCAST_TOPIC_NAME_MAX + 2];

/* A name of `len` bytes: "/" then 'a's with a '/' every 50 bytes. */
static const char *name_of_length(size_t len)
{
    memset(long_name, 0, sizeof(long_name));
    long_name[0] = '/';
    for (size_t i = 1; i < len; i++)
        long_name[i] = (i % 50 == 0 && i + 1 < len) ? '/' : 'a';
    return long_name;
}

static const char *const bad_topics[] = {
    "",      "/",    "a",    "chatter", "//",   "//a",   "/a//b",     "/a/",
    "/a/b/", "/a b", "/a-b", "/a.b",    "/a:b", "/a~",   "/\xc3\xa9", "/1a",
    "/a/2b", "/9",   " /a",  "/a\t",    "\\a",  "/a/\n", "/a//",
};

static void test_proto_topic_name_valid_table(void **state)
{
    static const char *const good[] = {
        "/a",
        "/A",
        "/_",
        "/chatter",
        "/a/b",
        "/A_b/c9",
        "/_x/_1",
        "/robot_1/camera/image_raw",
        "/a1/b2/c3/d4/e5",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(agnocast_topic_name_valid(good[i]));
    for (size_t i = 0; i < sizeof(bad_topics) / sizeof(bad_topics[0]); i++) {
        if (agnocast_topic_name_valid(bad_topics[i]))
            fail_msg("topic \"%s\" accepted", bad_topics[i]);
    }
    assert_false(agnocast_topic_name_valid(NULL));
    assert_true(agnocast_topic_name_valid(name_of_length(AGNOCAST_TOPIC_NAME_MAX)));
    assert_int_equal(strlen(long_name), AGNOCAST_TOPIC_NAME_MAX);
    assert_false(agnocast_topic_name_valid(name_of_length(AGNOCAST_TOPIC_NAME_MAX + 1)));
    /* Too long by a trailing '/' segment start at byte 256. */
    name_of_length(AGNOCAST_TOPIC_NAME_MAX);
    long_name[AGNOCAST_TOPIC_NAME_MAX] = '/';
    assert_false(agnocast_topic_name_valid(long_name));
}

/* Places `topic` (raw bytes, NUL-padded) into every topic field of the samples; each must fail. */
static void expect_topic_rejected(const char *topic)
{
    static const uint16_t kinds[] = {
        AGNOCAST_MSG_ADD_PUBLISHER,
        AGNOCAST_MSG_ADD_SUBSCRIPTION,
        AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED,
        AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED,
        AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED,
        AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED,
        AGNOCAST_MSG_TOPIC_INFO,
        AGNOCAST_MSG_TOPIC_LIST,
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t len = sample(kinds[i]);
        char *field;
        switch (kinds[i]) {
        case AGNOCAST_MSG_ADD_PUBLISHER:
        case AGNOCAST_MSG_ADD_SUBSCRIPTION:
            field = ((struct agnocast_wire_endpoint *)payload_buf.bytes)->topic;
            break;
        case AGNOCAST_MSG_TOPIC_INFO:
            field = ((struct agnocast_wire_query *)payload_buf.bytes)->topic;
            break;
        case AGNOCAST_MSG_TOPIC_LIST:
            field = ((struct agnocast_wire_topic_entry *)(payload_buf.bytes + 8))[1].topic;
            break;
        default:
            field = ((struct agnocast_wire_notice_endpoint *)payload_buf.bytes)->topic;
            break;
        }
        memset(field, 0, AGNOCAST_TOPIC_FIELD);
        memcpy(field, topic, strlen(topic));
        if (decode_sample_mutated(kinds[i], len) != -EBADMSG)
            fail_msg("%s with topic \"%s\" accepted", agnocast_proto_kind_name(kinds[i]), topic);
    }
}

static void test_proto_decode_rejects_invalid_topics(void **state)
{
    for (size_t i = 0; i < sizeof(bad_topics) / sizeof(bad_topics[0]); i++)
        expect_topic_rejected(bad_topics[i]);
    expect_topic_rejected(name_of_length(AGNOCAST_TOPIC_NAME_MAX + 1)); /* fills the field */

    /* The longest valid name passes in an endpoint. */
    size_t len = sample(AGNOCAST_MSG_ADD_PUBLISHER);
    struct agnocast_wire_endpoint *ep = (void *)payload_buf.bytes;
    assert_int_equal(agnocast_topic_field_set(ep->topic, name_of_length(AGNOCAST_TOPIC_NAME_MAX)),
                     0);
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_ADD_PUBLISHER, len), 0);
}

static void test_proto_decode_rejects_topic_in_list_queries(void **state)
{
    static const uint16_t kinds[] = {AGNOCAST_MSG_LIST_TOPICS, AGNOCAST_MSG_LIST_PROCESSES};
    for (size_t i = 0; i < 2; i++) {
        size_t len = sample(kinds[i]);
        struct agnocast_wire_query *q = (void *)payload_buf.bytes;
        assert_int_equal(decode_sample_mutated(kinds[i], len), 0);
        agnocast_topic_field_set(q->topic, "/chatter");
        assert_int_equal(decode_sample_mutated(kinds[i], len), -EBADMSG);
        memset(q->topic, 0, sizeof(q->topic));
        q->topic[AGNOCAST_TOPIC_FIELD - 1] = 1;
        assert_int_equal(decode_sample_mutated(kinds[i], len), -EBADMSG);
    }
    /* And TOPIC_INFO needs one. */
    size_t len = sample(AGNOCAST_MSG_TOPIC_INFO);
    struct agnocast_wire_query *q = (void *)payload_buf.bytes;
    memset(q->topic, 0, sizeof(q->topic));
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_TOPIC_INFO, len), -EBADMSG);
}

static const struct agnocast_wire_qos bad_qos[] = {
    {0, 0, 0, 0, 0},          {AGNOCAST_DEPTH_MAX + 1, 0, 0, 0, 0},
    {UINT32_MAX, 0, 0, 0, 0}, {1, 2, 0, 0, 0},
    {1, 0xff, 0, 0, 0},       {1, 0, 2, 0, 0},
    {1, 0, 0, 2, 0},          {1, 0, 0, 0, 1},
};

static void test_proto_qos_validate_table(void **state)
{
    static const struct agnocast_wire_qos good[] = {
        {1, AGNOCAST_DURABILITY_VOLATILE, AGNOCAST_RELIABILITY_BEST_EFFORT, 0, 0},
        {AGNOCAST_DEPTH_MAX, AGNOCAST_DURABILITY_TRANSIENT_LOCAL, AGNOCAST_RELIABILITY_RELIABLE, 1,
         0},
        {10, AGNOCAST_DURABILITY_VOLATILE, AGNOCAST_RELIABILITY_RELIABLE, 1, 0},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(agnocast_qos_validate(&good[i]), 0);
    for (size_t i = 0; i < sizeof(bad_qos) / sizeof(bad_qos[0]); i++)
        assert_int_equal(agnocast_qos_validate(&bad_qos[i]), -EINVAL);
    assert_int_equal(agnocast_qos_validate(NULL), -EINVAL);
}

static struct agnocast_wire_qos *qos_field(uint16_t kind)
{
    switch (kind) {
    case AGNOCAST_MSG_ADD_PUBLISHER:
    case AGNOCAST_MSG_ADD_SUBSCRIPTION:
        return &((struct agnocast_wire_endpoint *)payload_buf.bytes)->qos;
    case AGNOCAST_MSG_TOPIC_INFO_REPLY:
        return &((struct agnocast_wire_endpoint_entry *)(payload_buf.bytes + 8))[1].qos;
    default:
        return &((struct agnocast_wire_notice_endpoint *)payload_buf.bytes)->qos;
    }
}

static void test_proto_decode_rejects_qos_out_of_range(void **state)
{
    static const uint16_t kinds[] = {
        AGNOCAST_MSG_ADD_PUBLISHER,           AGNOCAST_MSG_ADD_SUBSCRIPTION,
        AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED, AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED,
        AGNOCAST_MSG_TOPIC_INFO_REPLY,
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        for (size_t j = 0; j < sizeof(bad_qos) / sizeof(bad_qos[0]); j++) {
            size_t len = sample(kinds[i]);
            *qos_field(kinds[i]) = bad_qos[j];
            if (decode_sample_mutated(kinds[i], len) != -EBADMSG)
                fail_msg("%s accepted bad qos #%zu", agnocast_proto_kind_name(kinds[i]), j);
        }
        size_t len = sample(kinds[i]);
        qos_field(kinds[i])->depth = AGNOCAST_DEPTH_MAX;
        assert_int_equal(decode_sample_mutated(kinds[i], len), 0);
    }
}

static void test_proto_decode_allows_zero_qos_on_removed_notice_only(void **state)
{
    static const uint16_t removed[] = {AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED,
                                       AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED};
    for (size_t i = 0; i < 2; i++) {
        size_t len = sample(removed[i]);
        struct agnocast_wire_qos *q = qos_field(removed[i]);
        memset(q, 0, sizeof(*q));
        assert_int_equal(decode_sample_mutated(removed[i], len), 0);
        /* Depth 0 is the only slack: the other fields still have to be in range. */
        for (size_t j = 1; j < sizeof(bad_qos) / sizeof(bad_qos[0]); j++) {
            *q = bad_qos[j];
            if (bad_qos[j].depth <= AGNOCAST_DEPTH_MAX)
                q->depth = 0;
            if (decode_sample_mutated(removed[i], len) != -EBADMSG)
                fail_msg("%s accepted bad qos #%zu", agnocast_proto_kind_name(removed[i]), j);
        }
    }
    size_t len = sample(AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED);
    memset(qos_field(AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED), 0, sizeof(struct agnocast_wire_qos));
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED, len), -EBADMSG);
}

struct reserved_case {
    uint16_t kind;
    size_t offset; /* in the payload */
};

#define LIST_ENTRY(type, i, field) (8 + (i) * sizeof(struct type) + offsetof(struct type, field))

static void test_proto_decode_rejects_nonzero_reserved(void **state)
{
    static const struct reserved_case cases[] = {
        {AGNOCAST_MSG_HELLO, offsetof(struct agnocast_wire_hello, flags)},
        {AGNOCAST_MSG_HELLO, offsetof(struct agnocast_wire_hello, reserved) + 3},
        {AGNOCAST_MSG_HELLO_REPLY, offsetof(struct agnocast_wire_hello_reply, reserved)},
        {AGNOCAST_MSG_REGISTER_PROCESS, offsetof(struct agnocast_wire_register, reserved)},
        {AGNOCAST_MSG_ADD_PUBLISHER, offsetof(struct agnocast_wire_endpoint, reserved)},
        {AGNOCAST_MSG_ADD_SUBSCRIPTION, offsetof(struct agnocast_wire_endpoint, qos.reserved)},
        {AGNOCAST_MSG_REMOVE_PUBLISHER, offsetof(struct agnocast_wire_endpoint_remove, reserved)},
        {AGNOCAST_MSG_REMOVE_SUBSCRIPTION,
         offsetof(struct agnocast_wire_endpoint_remove, reserved) + 1},
        {AGNOCAST_MSG_ERROR, offsetof(struct agnocast_wire_error, reserved)},
        {AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED,
         offsetof(struct agnocast_wire_notice_endpoint, reserved)},
        {AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED,
         offsetof(struct agnocast_wire_notice_endpoint, reserved) + 2},
        {AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED,
         offsetof(struct agnocast_wire_notice_endpoint, qos.reserved)},
        {AGNOCAST_MSG_NOTICE_PROCESS_GONE, offsetof(struct agnocast_wire_notice_process, reserved)},
        {AGNOCAST_MSG_LIST_TOPICS, offsetof(struct agnocast_wire_query, reserved)},
        {AGNOCAST_MSG_TOPIC_INFO, offsetof(struct agnocast_wire_query, reserved)},
        {AGNOCAST_MSG_LIST_PROCESSES, offsetof(struct agnocast_wire_query, reserved) + 3},
        {AGNOCAST_MSG_TOPIC_INFO_REPLY, LIST_ENTRY(agnocast_wire_endpoint_entry, 0, reserved)},
        {AGNOCAST_MSG_TOPIC_INFO_REPLY, LIST_ENTRY(agnocast_wire_endpoint_entry, 1, reserved) + 6},
        {AGNOCAST_MSG_TOPIC_INFO_REPLY, LIST_ENTRY(agnocast_wire_endpoint_entry, 1, qos.reserved)},
        {AGNOCAST_MSG_STATS_REPLY, LIST_ENTRY(agnocast_wire_stats_entry, 2, reserved)},
        {AGNOCAST_MSG_STATS_REPLY, LIST_ENTRY(agnocast_wire_stats_entry, 0, reserved) + 5},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = sample(cases[i].kind);
        assert_true(cases[i].offset < len);
        assert_int_equal(payload_buf.bytes[cases[i].offset], 0);
        payload_buf.bytes[cases[i].offset] = 0x10;
        if (decode_sample_mutated(cases[i].kind, len) != -EBADMSG)
            fail_msg("%s accepted a nonzero reserved byte at %zu",
                     agnocast_proto_kind_name(cases[i].kind), cases[i].offset);
    }
}

static void test_proto_decode_rejects_bad_ranges(void **state)
{
    size_t len = sample(AGNOCAST_MSG_REPORT_OCCUPIED);
    struct agnocast_wire_range *r = (void *)payload_buf.bytes;
    const struct agnocast_wire_range good = *r;

    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_REPORT_OCCUPIED, len), 0);
    r->base = good.base + 1; /* not page aligned */
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_REPORT_OCCUPIED, len), -EBADMSG);
    *r = good;
    r->size = 0;
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_REPORT_OCCUPIED, len), -EBADMSG);
    *r = good;
    r->size = UINT64_MAX - 4095; /* wraps */
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_REPORT_OCCUPIED, len), -EBADMSG);
    *r = good;
    r->reserved = 1;
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_REPORT_OCCUPIED, len), -EBADMSG);
    (void)state;
}

static void test_proto_decode_rejects_unknown_flags(void **state)
{
    size_t len = sample(AGNOCAST_MSG_REGISTER_PROCESS);
    struct agnocast_wire_register *reg = (void *)payload_buf.bytes;
    reg->flags = 0;
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_REGISTER_PROCESS, len), 0);
    reg->flags = AGNOCAST_REGISTER_RELOCATE;
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_REGISTER_PROCESS, len), 0);
    reg->flags = 0x8;
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_REGISTER_PROCESS, len), -EBADMSG);
    reg->flags = 0x80000000u;
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_REGISTER_PROCESS, len), -EBADMSG);
    /* Retired in version 3: a client that still offers an mqueue is refused. */
    reg->flags = AGNOCAST_REGISTER_RETIRED_HAS_MQUEUE;
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_REGISTER_PROCESS, len), -EBADMSG);

    static const uint16_t notices[] = {
        AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED, AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED,
        AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED, AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED};
    for (size_t i = 0; i < 4; i++) {
        len = sample(notices[i]);
        struct agnocast_wire_notice_endpoint *n = (void *)payload_buf.bytes;
        n->flags = 0;
        assert_int_equal(decode_sample_mutated(notices[i], len), 0);
        n->flags = AGNOCAST_NOTICE_RETIRED_HAS_MQUEUE;
        assert_int_equal(decode_sample_mutated(notices[i], len), -EBADMSG);
        n->flags = 0x4;
        assert_int_equal(decode_sample_mutated(notices[i], len), -EBADMSG);
        /* ANNOUNCE means something on SUBSCRIBER_ADDED only. */
        n->flags = AGNOCAST_NOTICE_ANNOUNCE;
        assert_int_equal(decode_sample_mutated(notices[i], len),
                         notices[i] == AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED ? 0 : -EBADMSG);
    }
}

static void test_proto_decode_rejects_error_code_not_negative(void **state)
{
    static const int32_t codes[] = {0, 1, EINVAL, INT32_MAX};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        size_t len = sample(AGNOCAST_MSG_ERROR);
        ((struct agnocast_wire_error *)payload_buf.bytes)->code = codes[i];
        assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_ERROR, len), -EBADMSG);
    }
    size_t len = sample(AGNOCAST_MSG_ERROR);
    ((struct agnocast_wire_error *)payload_buf.bytes)->code = INT32_MIN;
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_ERROR, len), 0);
}

static void test_proto_decode_rejects_bad_list_entry(void **state)
{
    size_t len = sample(AGNOCAST_MSG_TOPIC_INFO_REPLY);
    struct agnocast_wire_endpoint_entry *e = (void *)(payload_buf.bytes + 8);
    e[1].is_publisher = 2;
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_TOPIC_INFO_REPLY, len), -EBADMSG);

    len = sample(AGNOCAST_MSG_TOPIC_LIST);
    struct agnocast_wire_topic_entry *t = (void *)(payload_buf.bytes + 8);
    memset(t[0].topic, 0, sizeof(t[0].topic));
    assert_int_equal(decode_sample_mutated(AGNOCAST_MSG_TOPIC_LIST, len), -EBADMSG);
}

/* A list frame of `count` zeroed-then-valid entries, with the list header saying `said`. */
static size_t list_frame(uint16_t kind, uint32_t count, uint32_t said)
{
    size_t es = entry_size(kind);
    struct agnocast_wire_list list = {.total = count, .count = said};
    size_t len = 8 + count * es;
    assert_true(16 + len <= sizeof(big_buf.bytes));
    memset(big_buf.bytes, 0, 16 + len);
    unsigned char *p = big_buf.bytes + 16;
    memcpy(p, &list, sizeof(list));
    for (uint32_t i = 0; i < count; i++) {
        unsigned char *e = p + 8 + i * es;
        if (kind == AGNOCAST_MSG_TOPIC_LIST)
            agnocast_topic_field_set(((struct agnocast_wire_topic_entry *)e)->topic, "/t");
        if (kind == AGNOCAST_MSG_TOPIC_INFO_REPLY)
            ((struct agnocast_wire_endpoint_entry *)e)->qos.depth = 1;
    }
    return raw_frame(big_buf.bytes, AGNOCAST_PROTO_MAGIC, AGNOCAST_PROTO_VERSION, kind,
                     (uint32_t)len, NULL, 0) +
           len;
}

static void test_proto_decode_rejects_list_count_over_limit(void **state)
{
    static const uint16_t kinds[] = {AGNOCAST_MSG_TOPIC_LIST, AGNOCAST_MSG_TOPIC_INFO_REPLY,
                                     AGNOCAST_MSG_PROCESS_LIST, AGNOCAST_MSG_STATS_REPLY};
    struct agnocast_frame f;
    for (size_t i = 0; i < 4; i++) {
        uint32_t max =
            kinds[i] == AGNOCAST_MSG_STATS_REPLY ? AGNOCAST_STATS_MAX : AGNOCAST_PROTO_LIST_MAX;
        size_t n = list_frame(kinds[i], max, max);
        assert_int_equal(agnocast_proto_decode(big_buf.bytes, n, &f), 0);
        assert_int_equal(f.list_count, max);
        n = list_frame(kinds[i], max + 1, max + 1);
        assert_int_equal(agnocast_proto_decode(big_buf.bytes, n, &f), -EBADMSG);
        assert_int_equal(f.list_count, 0);
        assert_null(f.entries);
        /* The encoder refuses the same. */
        assert_int_equal(agnocast_proto_encode(frame_buf.bytes, sizeof(frame_buf.bytes), kinds[i],
                                               1, big_buf.bytes + 16, n - 16),
                         -EINVAL);
    }
}

static void test_proto_decode_rejects_list_count_mismatch(void **state)
{
    static const uint16_t kinds[] = {AGNOCAST_MSG_TOPIC_LIST, AGNOCAST_MSG_TOPIC_INFO_REPLY,
                                     AGNOCAST_MSG_PROCESS_LIST, AGNOCAST_MSG_STATS_REPLY};
    struct agnocast_frame f;
    for (size_t i = 0; i < 4; i++) {
        size_t n = list_frame(kinds[i], 3, 3);
        assert_int_equal(agnocast_proto_decode(big_buf.bytes, n, &f), 0);
        static const uint32_t said[] = {0, 2, 4, 64, UINT32_MAX, 0x80000003u};
        for (size_t j = 0; j < sizeof(said) / sizeof(said[0]); j++) {
            n = list_frame(kinds[i], 3, said[j]);
            assert_int_equal(agnocast_proto_decode(big_buf.bytes, n, &f), -EBADMSG);
            assert_int_equal(agnocast_proto_encode(frame_buf.bytes, sizeof(frame_buf.bytes),
                                                   kinds[i], 1, big_buf.bytes + 16, n - 16),
                             -EINVAL);
        }
        /* Shorter than the list header, and an entry cut short. */
        static const size_t lens[] = {0, 4, 7};
        for (size_t j = 0; j < 3; j++) {
            n = raw_frame(big_buf.bytes, AGNOCAST_PROTO_MAGIC, AGNOCAST_PROTO_VERSION, kinds[i],
                          (uint32_t)lens[j], NULL, 0);
            memset(big_buf.bytes + 16, 0, 8);
            assert_int_equal(agnocast_proto_decode(big_buf.bytes, n + lens[j], &f), -EBADMSG);
        }
        n = list_frame(kinds[i], 1, 1);
        struct agnocast_wire_header h;
        memcpy(&h, big_buf.bytes, sizeof(h));
        h.length -= 1;
        memcpy(big_buf.bytes, &h, sizeof(h));
        assert_int_equal(agnocast_proto_decode(big_buf.bytes, n - 1, &f), -EBADMSG);
    }
}

static void test_proto_decode_accepts_empty_list_and_any_total(void **state)
{
    struct agnocast_frame f;
    size_t n = list_frame(AGNOCAST_MSG_PROCESS_LIST, 0, 0);
    assert_int_equal(agnocast_proto_decode(big_buf.bytes, n, &f), 0);
    assert_int_equal(f.list_count, 0);
    assert_int_equal(f.payload_len, 8);
    /* `total` is the sender's word: not checked against count. */
    n = list_frame(AGNOCAST_MSG_STATS_REPLY, 2, 2);
    struct agnocast_wire_list list = {.total = 0, .count = 2};
    memcpy(big_buf.bytes + 16, &list, sizeof(list));
    assert_int_equal(agnocast_proto_decode(big_buf.bytes, n, &f), 0);
    assert_int_equal(f.list_total, 0);
    assert_int_equal(f.list_count, 2);
}

static void test_proto_decode_stays_within_len(void **state)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *map =
        mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map + page, (size_t)page, PROT_NONE), 0);
    struct agnocast_frame f;
    for (size_t i = 0; i < N_KINDS; i++) {
        ssize_t full = proto_sample_frame(all_kinds[i], frame_buf.bytes, sizeof(frame_buf.bytes));
        assert_true(full >= 16 && full <= page);
        /* Every prefix, with the header's length agreeing, ends right at the guard page. */
        for (size_t len = 0; len <= (size_t)full; len++) {
            unsigned char *p = map + page - len;
            memcpy(p, frame_buf.bytes, len);
            if (len >= 16) {
                uint32_t l = (uint32_t)(len - 16);
                memcpy(p + offsetof(struct agnocast_wire_header, length), &l, sizeof(l));
            }
            int rc = agnocast_proto_decode(p, len, &f);
            if (len == (size_t)full)
                assert_int_equal(rc, 0);
            else if (rc != -EBADMSG)
                fail_msg("%s cut at %zu: %d", agnocast_proto_kind_name(all_kinds[i]), len, rc);
        }
    }
    munmap(map, (size_t)page * 2);
}

static void test_proto_encode_rejects_bad_arguments(void **state)
{
    size_t len = sample(AGNOCAST_MSG_HELLO);
    unsigned char *buf = frame_buf.bytes;
    size_t cap = sizeof(frame_buf.bytes);
    assert_int_equal(agnocast_proto_encode(buf, cap, 0, 1, payload_buf.bytes, len), -EINVAL);
    assert_int_equal(agnocast_proto_encode(buf, cap, 999, 1, payload_buf.bytes, len), -EINVAL);
    assert_int_equal(
        agnocast_proto_encode(NULL, cap, AGNOCAST_MSG_HELLO, 1, payload_buf.bytes, len), -EINVAL);
    assert_int_equal(agnocast_proto_encode(buf, cap, AGNOCAST_MSG_HELLO, 1, NULL, len), -EINVAL);
    assert_int_equal(agnocast_proto_encode(buf, cap, AGNOCAST_MSG_STATS, 1, NULL, 0), 16);
    assert_int_equal(agnocast_proto_encode(buf, cap, AGNOCAST_MSG_STATS, 1, payload_buf.bytes, 8),
                     -EINVAL);
    assert_int_equal(agnocast_proto_encode(buf, 23, AGNOCAST_MSG_HELLO, 1, payload_buf.bytes, len),
                     -EMSGSIZE);
    assert_int_equal(agnocast_proto_encode(buf, 24, AGNOCAST_MSG_HELLO, 1, payload_buf.bytes, len),
                     24);
    assert_int_equal(agnocast_proto_encode(buf, 0, AGNOCAST_MSG_STATS, 1, NULL, 0), -EMSGSIZE);
    assert_int_equal(agnocast_proto_encode(big_buf.bytes, sizeof(big_buf.bytes),
                                           AGNOCAST_MSG_TOPIC_LIST, 1, payload_buf.bytes,
                                           AGNOCAST_PROTO_FRAME_MAX),
                     -EMSGSIZE);
}

static void test_proto_encode_takes_payload_in_place(void **state)
{
    size_t len = sample(AGNOCAST_MSG_TOPIC_LIST);
    memcpy(frame_buf.bytes + 16, payload_buf.bytes, len);
    ssize_t n = agnocast_proto_encode(frame_buf.bytes, sizeof(frame_buf.bytes),
                                      AGNOCAST_MSG_TOPIC_LIST, 5, frame_buf.bytes + 16, len);
    assert_int_equal(n, (ssize_t)(16 + len));
    struct agnocast_frame f;
    assert_int_equal(agnocast_proto_decode(frame_buf.bytes, (size_t)n, &f), 0);
    assert_memory_equal(f.payload, payload_buf.bytes, len);
    assert_int_equal(f.request_id, 5);
}

static void test_proto_topic_field_set_pads_and_bounds(void **state)
{
    char field[AGNOCAST_TOPIC_FIELD];
    memset(field, 0xff, sizeof(field));
    assert_int_equal(agnocast_topic_field_set(field, "/chatter"), 0);
    assert_string_equal(field, "/chatter");
    for (size_t i = strlen("/chatter"); i < sizeof(field); i++)
        assert_int_equal(field[i], 0);

    assert_int_equal(agnocast_topic_field_set(field, name_of_length(AGNOCAST_TOPIC_NAME_MAX)), 0);
    assert_memory_equal(field, long_name, AGNOCAST_TOPIC_NAME_MAX);
    assert_int_equal(field[AGNOCAST_TOPIC_NAME_MAX], 0);

    memset(field, 0xff, sizeof(field));
    assert_int_equal(agnocast_topic_field_set(field, name_of_length(AGNOCAST_TOPIC_NAME_MAX + 1)),
                     -ENAMETOOLONG);
    for (size_t i = 0; i < sizeof(field); i++)
        assert_int_equal(field[i], 0);
    assert_int_equal(agnocast_topic_field_set(field, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_kinds_are_sorted_and_complete),
        cmocka_unit_test(test_proto_kind_names),
        cmocka_unit_test(test_proto_round_trip_every_kind),
        cmocka_unit_test(test_proto_decode_reads_typed_payload),
        cmocka_unit_test(test_proto_decode_rejects_short_frame),
        cmocka_unit_test(test_proto_decode_rejects_null_args),
        cmocka_unit_test(test_proto_decode_rejects_bad_magic),
        cmocka_unit_test(test_proto_decode_reports_other_version),
        cmocka_unit_test(test_proto_decode_rejects_length_mismatch),
        cmocka_unit_test(test_proto_decode_rejects_oversized),
        cmocka_unit_test(test_proto_decode_rejects_unknown_kind),
        cmocka_unit_test(test_proto_decode_rejects_wrong_payload_size),
        cmocka_unit_test(test_proto_decode_rejects_string_without_nul),
        cmocka_unit_test(test_proto_decode_rejects_garbage_after_nul),
        cmocka_unit_test(test_proto_topic_name_valid_table),
        cmocka_unit_test(test_proto_decode_rejects_invalid_topics),
        cmocka_unit_test(test_proto_decode_rejects_topic_in_list_queries),
        cmocka_unit_test(test_proto_qos_validate_table),
        cmocka_unit_test(test_proto_decode_rejects_qos_out_of_range),
        cmocka_unit_test(test_proto_decode_allows_zero_qos_on_removed_notice_only),
        cmocka_unit_test(test_proto_decode_rejects_nonzero_reserved),
        cmocka_unit_test(test_proto_decode_rejects_unknown_flags),
        cmocka_unit_test(test_proto_decode_rejects_bad_ranges),
        cmocka_unit_test(test_proto_decode_rejects_error_code_not_negative),
        cmocka_unit_test(test_proto_decode_rejects_bad_list_entry),
        cmocka_unit_test(test_proto_decode_rejects_list_count_over_limit),
        cmocka_unit_test(test_proto_decode_rejects_list_count_mismatch),
        cmocka_unit_test(test_proto_decode_accepts_empty_list_and_any_total),
        cmocka_unit_test(test_proto_decode_stays_within_len),
        cmocka_unit_test(test_proto_encode_rejects_bad_arguments),
        cmocka_unit_test(test_proto_encode_takes_payload_in_place),
        cmocka_unit_test(test_proto_topic_field_set_pads_and_bounds),
    };
    return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
