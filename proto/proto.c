/* Encoding and validating wire frames: the per-kind table, the bounds-checked cursor, names. */
#include "agnocast-proto.h"

#include <errno.h>
#include <string.h>

/*
 * The one table of kinds: number, shape, payload (FIXED) or entry (LIST) size, the most entries
 * a LIST frame may hold, and the function that validates the payload (FIXED) or one entry
 * (LIST). A kind with no payload is FIXED with size 0 and no check. Keep it in numeric order:
 * agnocast_proto_kinds() hands it out as is.
 */
#define PROTO_KINDS(X)                                                                             \
    X(HELLO, FIXED, sizeof(struct agnocast_wire_hello), 0, check_hello)                            \
    X(HELLO_REPLY, FIXED, sizeof(struct agnocast_wire_hello_reply), 0, check_hello_reply)          \
    X(REGISTER_PROCESS, FIXED, sizeof(struct agnocast_wire_register), 0, check_register)           \
    X(REGISTER_REPLY, FIXED, sizeof(struct agnocast_wire_register_reply), 0, check_register_reply) \
    X(ATTACH_SEGMENT, FIXED, sizeof(struct agnocast_wire_segment), 0, check_segment)               \
    X(REPORT_OCCUPIED, FIXED, sizeof(struct agnocast_wire_range), 0, check_range)                  \
    X(ADD_PUBLISHER, FIXED, sizeof(struct agnocast_wire_endpoint), 0, check_endpoint)              \
    X(REMOVE_PUBLISHER, FIXED, sizeof(struct agnocast_wire_endpoint_remove), 0,                    \
      check_endpoint_remove)                                                                       \
    X(ADD_SUBSCRIPTION, FIXED, sizeof(struct agnocast_wire_endpoint), 0, check_endpoint)           \
    X(REMOVE_SUBSCRIPTION, FIXED, sizeof(struct agnocast_wire_endpoint_remove), 0,                 \
      check_endpoint_remove)                                                                       \
    X(HAND_WAKE, FIXED, sizeof(struct agnocast_wire_notice_process), 0, check_notice_process)      \
    X(OK, FIXED, sizeof(struct agnocast_wire_ok), 0, check_ok)                                     \
    X(NOTICE_SUBSCRIBER_ADDED, FIXED, sizeof(struct agnocast_wire_notice_endpoint), 0,             \
      check_notice_endpoint)                                                                       \
    X(NOTICE_SUBSCRIBER_REMOVED, FIXED, sizeof(struct agnocast_wire_notice_endpoint), 0,           \
      check_notice_endpoint)                                                                       \
    X(NOTICE_PUBLISHER_ADDED, FIXED, sizeof(struct agnocast_wire_notice_endpoint), 0,              \
      check_notice_endpoint)                                                                       \
    X(NOTICE_PUBLISHER_REMOVED, FIXED, sizeof(struct agnocast_wire_notice_endpoint), 0,            \
      check_notice_endpoint)                                                                       \
    X(NOTICE_PROCESS_GONE, FIXED, sizeof(struct agnocast_wire_notice_process), 0,                  \
      check_notice_process)                                                                        \
    X(NOTICE_AREA_ADDED, FIXED, sizeof(struct agnocast_wire_segment), 0, check_segment)            \
    X(NOTICE_WAKE_ADDED, FIXED, sizeof(struct agnocast_wire_notice_process), 0,                    \
      check_notice_process)                                                                        \
    X(LIST_TOPICS, FIXED, sizeof(struct agnocast_wire_query), 0, check_query)                      \
    X(TOPIC_LIST, LIST, sizeof(struct agnocast_wire_topic_entry), AGNOCAST_PROTO_LIST_MAX,         \
      check_topic_entry)                                                                           \
    X(TOPIC_INFO, FIXED, sizeof(struct agnocast_wire_query), 0, check_query)                       \
    X(TOPIC_INFO_REPLY, LIST, sizeof(struct agnocast_wire_endpoint_entry),                         \
      AGNOCAST_PROTO_LIST_MAX, check_endpoint_entry)                                               \
    X(LIST_PROCESSES, FIXED, sizeof(struct agnocast_wire_query), 0, check_query)                   \
    X(PROCESS_LIST, LIST, sizeof(struct agnocast_wire_process_entry), AGNOCAST_PROTO_LIST_MAX,     \
      check_process_entry)                                                                         \
    X(STATS, FIXED, 0, 0, NULL)                                                                    \
    X(STATS_REPLY, LIST, sizeof(struct agnocast_wire_stats_entry), AGNOCAST_STATS_MAX,             \
      check_stats_entry)                                                                           \
    X(GET_SEGMENT, FIXED, sizeof(struct agnocast_wire_segment_query), 0, check_segment_query)      \
    X(SEGMENT_REPLY, FIXED, sizeof(struct agnocast_wire_segment), 0, check_segment)                \
    X(LIST_RULES, FIXED, sizeof(struct agnocast_wire_query), 0, check_query)                       \
    X(RULE_LIST, LIST, sizeof(struct agnocast_wire_rule_entry), AGNOCAST_RULES_MAX,                \
      check_rule_entry)                                                                            \
    X(ERROR, FIXED, sizeof(struct agnocast_wire_error), 0, check_error)

enum shape { FIXED, LIST };

/*
 * A read position in a payload. Getters past the end, and failed checks, set `bad` and read
 * zeros from then on, so a check function reads its fields in order and looks at the verdict
 * once at the end.
 */
struct cursor {
    const unsigned char *pos;
    const unsigned char *end;
    int bad;
};

typedef void check_fn(struct cursor *c, uint16_t kind);

struct kind_desc {
    uint16_t kind;
    uint8_t shape;
    const char *name;
    size_t size;
    uint32_t max_entries;
    check_fn *check;
};

static void cur_expect(struct cursor *c, int cond)
{
    if (!cond)
        c->bad = 1;
}

static const unsigned char *cur_take(struct cursor *c, size_t n)
{
    if (c->bad || (size_t)(c->end - c->pos) < n) {
        c->bad = 1;
        return NULL;
    }
    const unsigned char *p = c->pos;
    c->pos += n;
    return p;
}

static void cur_read(struct cursor *c, void *dst, size_t n)
{
    const unsigned char *p = cur_take(c, n);
    if (p)
        memcpy(dst, p, n);
    else
        memset(dst, 0, n);
}

static uint8_t cur_u8(struct cursor *c)
{
    uint8_t v;
    cur_read(c, &v, sizeof(v));
    return v;
}

static uint16_t cur_u16(struct cursor *c)
{
    uint16_t v;
    cur_read(c, &v, sizeof(v));
    return v;
}

static uint32_t cur_u32(struct cursor *c)
{
    uint32_t v;
    cur_read(c, &v, sizeof(v));
    return v;
}

static int32_t cur_i32(struct cursor *c)
{
    int32_t v;
    cur_read(c, &v, sizeof(v));
    return v;
}

static uint64_t cur_u64(struct cursor *c)
{
    uint64_t v;
    cur_read(c, &v, sizeof(v));
    return v;
}

/* Reserved bytes (and unused fields) must be zero, so they can be given a meaning later. */
static void cur_zero(struct cursor *c, size_t n)
{
    const unsigned char *p = cur_take(c, n);
    for (size_t i = 0; p && i < n; i++)
        cur_expect(c, p[i] == 0);
}

/*
 * A fixed string field: a NUL inside the field and only zeros after it, so the bytes on the
 * wire are a function of the string alone (no stale memory leaks through, golden bytes hold).
 */
static const char *cur_string(struct cursor *c, size_t field)
{
    const unsigned char *p = cur_take(c, field);
    if (!p)
        return NULL;
    const unsigned char *nul = memchr(p, '\0', field);
    if (!nul) {
        c->bad = 1;
        return NULL;
    }
    for (const unsigned char *q = nul; q < p + field; q++)
        cur_expect(c, *q == 0);
    return c->bad ? NULL : (const char *)p;
}

static void cur_topic(struct cursor *c)
{
    const char *topic = cur_string(c, AGNOCAST_TOPIC_FIELD);
    cur_expect(c, topic && agnocast_topic_name_valid(topic));
}

/* A removal notice may carry an all-zero QoS, hence depth 0 allowed on request. */
static void cur_qos(struct cursor *c, int allow_zero_depth)
{
    struct agnocast_wire_qos qos;
    cur_read(c, &qos, sizeof(qos));
    if (allow_zero_depth && qos.depth == 0)
        qos.depth = 1;
    cur_expect(c, agnocast_qos_validate(&qos) == 0);
}

static void check_hello(struct cursor *c, uint16_t kind)
{
    cur_zero(c, 4); /* flags: none defined in version 1 */
    cur_zero(c, 4); /* reserved */
}

static void check_hello_reply(struct cursor *c, uint16_t kind)
{
    cur_u32(c); /* broker_pid */
    cur_zero(c, 4);
}

static void check_register(struct cursor *c, uint16_t kind)
{
    cur_u64(c); /* pool_size */
    cur_u64(c); /* want_base */
    cur_expect(c, (cur_u32(c) & ~(AGNOCAST_REGISTER_RELOCATE | AGNOCAST_REGISTER_GROW)) == 0);
    cur_zero(c, 4);
}

static void check_register_reply(struct cursor *c, uint16_t kind)
{
    cur_u64(c); /* base */
    cur_u64(c); /* size */
    cur_u32(c); /* pid */
    cur_zero(c, 4);
}

/* An area of a pool: the sender's own in ATTACH_SEGMENT (pid 0), a growth area in a notice. */
static void check_segment(struct cursor *c, uint16_t kind)
{
    uint32_t pid = cur_u32(c), area = cur_u32(c);
    uint64_t base = cur_u64(c), size = cur_u64(c);

    cur_expect(c, area < AGNOCAST_AREAS_MAX);
    cur_expect(c, kind == AGNOCAST_MSG_ATTACH_SEGMENT ? pid == 0 : pid != 0);
    cur_expect(c, kind != AGNOCAST_MSG_NOTICE_AREA_ADDED || area >= 1);
    cur_expect(c, base % 4096 == 0 && size > 0 && size % 4096 == 0 && base + size > base);
}

static void check_segment_query(struct cursor *c, uint16_t kind)
{
    cur_expect(c, cur_u32(c) != 0); /* pid */
    cur_expect(c, cur_u32(c) < AGNOCAST_AREAS_MAX);
}

static void check_rule_entry(struct cursor *c, uint16_t kind)
{
    const char *prefix = cur_string(c, AGNOCAST_TOPIC_FIELD);

    /* "/" alone is the rule for every topic */
    cur_expect(c, prefix && (strcmp(prefix, "/") == 0 || agnocast_topic_name_valid(prefix)));
    cur_string(c, AGNOCAST_RULE_TEXT_MAX);
    cur_string(c, AGNOCAST_RULE_TEXT_MAX);
}

static void check_range(struct cursor *c, uint16_t kind)
{
    uint64_t base = cur_u64(c), size = cur_u64(c);

    cur_expect(c, base % 4096 == 0 && size > 0 && base + size > base);
    cur_u32(c); /* owner_pid */
    cur_zero(c, 4);
}

static void check_endpoint(struct cursor *c, uint16_t kind)
{
    cur_u32(c); /* index */
    cur_qos(c, 0);
    cur_zero(c, 4);
    cur_topic(c);
}

static void check_endpoint_remove(struct cursor *c, uint16_t kind)
{
    cur_u32(c); /* index */
    cur_zero(c, 4);
}

static void check_ok(struct cursor *c, uint16_t kind)
{
    cur_u64(c); /* value */
}

static void check_error(struct cursor *c, uint16_t kind)
{
    cur_expect(c, cur_i32(c) < 0); /* code: a negative errno */
    cur_u16(c);                    /* version */
    cur_zero(c, 2);
    cur_string(c, AGNOCAST_ERROR_TEXT_MAX);
}

static void check_notice_endpoint(struct cursor *c, uint16_t kind)
{
    int removed = kind == AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED ||
                  kind == AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED;
    uint32_t flags_known = 0;
    if (kind == AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED)
        flags_known |= AGNOCAST_NOTICE_ANNOUNCE;

    cur_u32(c); /* pid */
    cur_u32(c); /* index */
    cur_qos(c, removed);
    cur_u64(c); /* seg_base */
    cur_u64(c); /* seg_size */
    cur_expect(c, (cur_u32(c) & ~flags_known) == 0);
    cur_zero(c, 4);
    cur_topic(c);
}

static void check_notice_process(struct cursor *c, uint16_t kind)
{
    cur_u32(c); /* pid */
    cur_zero(c, 4);
}

static void check_query(struct cursor *c, uint16_t kind)
{
    cur_u32(c); /* start */
    cur_zero(c, 4);
    if (kind == AGNOCAST_MSG_TOPIC_INFO)
        cur_topic(c);
    else
        cur_zero(c, AGNOCAST_TOPIC_FIELD);
}

static void check_topic_entry(struct cursor *c, uint16_t kind)
{
    cur_topic(c);
    cur_u32(c); /* publishers */
    cur_u32(c); /* subscriptions */
}

static void check_endpoint_entry(struct cursor *c, uint16_t kind)
{
    cur_u32(c); /* pid */
    cur_u32(c); /* index */
    cur_qos(c, 0);
    cur_expect(c, cur_u8(c) <= 1); /* is_publisher */
    cur_zero(c, 7);
}

static void check_process_entry(struct cursor *c, uint16_t kind)
{
    cur_u32(c); /* pid */
    cur_u32(c); /* uid */
    cur_u64(c); /* base */
    cur_u64(c); /* size */
    cur_u32(c); /* publishers */
    cur_u32(c); /* subscriptions */
}

static void check_stats_entry(struct cursor *c, uint16_t kind)
{
    cur_u16(c); /* kind: any, a newer broker may count kinds this side does not know */
    cur_zero(c, 6);
    cur_u64(c); /* count */
}

#define KIND_DESC(n, shape, size, max, check)   {AGNOCAST_MSG_##n, shape, #n, size, max, check},
#define KIND_NUMBER(n, shape, size, max, check) AGNOCAST_MSG_##n,

static const struct kind_desc kind_table[] = {PROTO_KINDS(KIND_DESC)};
static const uint16_t kind_numbers[] = {PROTO_KINDS(KIND_NUMBER)};

static const struct kind_desc *kind_find(uint16_t kind)
{
    size_t lo = 0, hi = sizeof(kind_table) / sizeof(kind_table[0]);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (kind_table[mid].kind == kind)
            return &kind_table[mid];
        if (kind_table[mid].kind < kind)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* 0 if a payload of `len` bytes has the size `d` wants (for a list: the count it carries). */
static int payload_size_ok(const struct kind_desc *d, const void *payload, size_t len)
{
    if (d->shape == FIXED)
        return len == d->size ? 0 : -1;
    struct agnocast_wire_list list;
    if (len < sizeof(list))
        return -1;
    memcpy(&list, payload, sizeof(list));
    if (list.count > d->max_entries)
        return -1;
    return len - sizeof(list) == (size_t)list.count * d->size ? 0 : -1;
}

ssize_t agnocast_proto_encode(void *buf, size_t cap, uint16_t kind, uint32_t request_id,
                              const void *payload, size_t payload_len)
{
    const struct kind_desc *d = kind_find(kind);
    if (!buf || !d || (payload_len > 0 && !payload))
        return -EINVAL;
    if (payload_len > AGNOCAST_PROTO_FRAME_MAX - sizeof(struct agnocast_wire_header))
        return -EMSGSIZE;
    if (payload_size_ok(d, payload, payload_len) < 0)
        return -EINVAL;
    size_t len = sizeof(struct agnocast_wire_header) + payload_len;
    if (len > cap)
        return -EMSGSIZE;

    struct agnocast_wire_header h = {
        .magic = AGNOCAST_PROTO_MAGIC,
        .version = AGNOCAST_PROTO_VERSION,
        .kind = kind,
        .length = (uint32_t)payload_len,
        .request_id = request_id,
    };
    unsigned char *out = buf;
    /* memmove: a caller may lay the payload out in place, right after the header. */
    if (payload_len > 0)
        memmove(out + sizeof(h), payload, payload_len);
    memcpy(out, &h, sizeof(h));
    return (ssize_t)len;
}

int agnocast_proto_decode(const void *buf, size_t len, struct agnocast_frame *out)
{
    if (!out || (!buf && len > 0))
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (len < sizeof(struct agnocast_wire_header) || len > AGNOCAST_PROTO_FRAME_MAX)
        return -EBADMSG;

    struct cursor c = {.pos = buf, .end = (const unsigned char *)buf + len};
    uint32_t magic = cur_u32(&c);
    uint16_t version = cur_u16(&c);
    uint16_t kind = cur_u16(&c);
    uint32_t length = cur_u32(&c);
    uint32_t request_id = cur_u32(&c);
    if (magic != AGNOCAST_PROTO_MAGIC)
        return -EBADMSG;
    out->version = version;
    out->kind = kind;
    out->request_id = request_id;
    if (version != AGNOCAST_PROTO_VERSION)
        return -EPROTONOSUPPORT;

    const struct kind_desc *d = kind_find(kind);
    size_t payload_len = len - sizeof(struct agnocast_wire_header);
    if (!d || length != payload_len || payload_size_ok(d, c.pos, payload_len) < 0)
        return -EBADMSG;

    const unsigned char *payload = c.pos;
    if (d->shape == LIST) {
        uint32_t total = cur_u32(&c);
        uint32_t count = cur_u32(&c);
        const unsigned char *entries = c.pos;
        for (uint32_t i = 0; i < count && !c.bad; i++)
            d->check(&c, kind);
        out->list_total = total;
        out->list_count = count;
        out->entries = entries;
    } else if (d->check) {
        d->check(&c, kind);
    }
    /* The table and the check functions must agree on the size; a leftover byte is a bug. */
    if (c.bad || c.pos != c.end) {
        out->list_total = out->list_count = 0;
        out->entries = NULL;
        return -EBADMSG;
    }
    out->payload = payload_len > 0 ? payload : NULL;
    out->payload_len = payload_len;
    return 0;
}

static int topic_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

int agnocast_topic_name_valid(const char *name)
{
    if (!name || name[0] != '/')
        return 0;
    size_t i = 1;
    /* Each pass reads one segment after a '/': non-empty, first char not a digit. */
    for (;;) {
        if (!topic_char_ok(name[i]) || (name[i] >= '0' && name[i] <= '9'))
            return 0;
        while (i <= AGNOCAST_TOPIC_NAME_MAX && topic_char_ok(name[i]))
            i++;
        if (i > AGNOCAST_TOPIC_NAME_MAX)
            return 0;
        if (name[i] == '\0')
            return 1;
        if (name[i] != '/')
            return 0;
        i++;
    }
}

int agnocast_qos_validate(const struct agnocast_wire_qos *qos)
{
    if (!qos || qos->depth < 1 || qos->depth > AGNOCAST_DEPTH_MAX)
        return -EINVAL;
    if (qos->durability != AGNOCAST_DURABILITY_VOLATILE &&
        qos->durability != AGNOCAST_DURABILITY_TRANSIENT_LOCAL)
        return -EINVAL;
    if (qos->reliability != AGNOCAST_RELIABILITY_BEST_EFFORT &&
        qos->reliability != AGNOCAST_RELIABILITY_RELIABLE)
        return -EINVAL;
    if (qos->ignore_local > 1 || qos->reserved != 0)
        return -EINVAL;
    return 0;
}

int agnocast_topic_field_set(char field[AGNOCAST_TOPIC_FIELD], const char *name)
{
    if (!field)
        return -EINVAL;
    memset(field, 0, AGNOCAST_TOPIC_FIELD);
    if (!name)
        return -EINVAL;
    size_t n = strnlen(name, AGNOCAST_TOPIC_FIELD);
    if (n > AGNOCAST_TOPIC_NAME_MAX)
        return -ENAMETOOLONG;
    memcpy(field, name, n);
    return 0;
}

const char *agnocast_proto_kind_name(uint16_t kind)
{
    const struct kind_desc *d = kind_find(kind);
    return d ? d->name : "UNKNOWN";
}

size_t agnocast_proto_kinds(const uint16_t **kinds)
{
    if (kinds)
        *kinds = kind_numbers;
    return sizeof(kind_numbers) / sizeof(kind_numbers[0]);
}
