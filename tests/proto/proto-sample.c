/* Fixed sample payloads of every message kind; changing a value here changes the golden bytes. */
#include "proto-sample.h"

#include <errno.h>
#include <string.h>

#define SAMPLE_BASE 0x40000000000ull
#define SAMPLE_POOL (64ull << 20)

static struct agnocast_wire_qos qos_make(uint32_t depth, uint8_t durability, uint8_t reliability,
                                         uint8_t ignore_local)
{
    struct agnocast_wire_qos q = {
        .depth = depth,
        .durability = durability,
        .reliability = reliability,
        .ignore_local = ignore_local,
    };
    return q;
}

static void notice_fill(struct agnocast_wire_notice_endpoint *n, uint32_t pid, uint32_t index,
                        struct agnocast_wire_qos qos, uint32_t flags, const char *topic)
{
    n->pid = pid;
    n->index = index;
    n->qos = qos;
    n->seg_base = SAMPLE_BASE + ((uint64_t)pid << 32);
    n->seg_size = SAMPLE_POOL;
    n->flags = flags;
    agnocast_topic_field_set(n->topic, topic);
}

static size_t list_sample(uint16_t kind, unsigned char *p)
{
    struct agnocast_wire_list *list = (struct agnocast_wire_list *)p;
    void *entries = p + sizeof(*list);
    switch (kind) {
    case AGNOCAST_MSG_TOPIC_LIST: {
        struct agnocast_wire_topic_entry *e = entries;
        agnocast_topic_field_set(e[0].topic, "/chatter");
        e[0].publishers = 1;
        e[0].subscriptions = 2;
        agnocast_topic_field_set(e[1].topic, "/robot_1/odom");
        e[1].publishers = 0;
        e[1].subscriptions = 1;
        list->total = 2;
        list->count = 2;
        return sizeof(*list) + 2 * sizeof(*e);
    }
    case AGNOCAST_MSG_TOPIC_INFO_REPLY: {
        struct agnocast_wire_endpoint_entry *e = entries;
        e[0].pid = 1002;
        e[0].index = 3;
        e[0].qos =
            qos_make(10, AGNOCAST_DURABILITY_TRANSIENT_LOCAL, AGNOCAST_RELIABILITY_RELIABLE, 0);
        e[0].is_publisher = 1;
        e[1].pid = 1001;
        e[1].index = 4;
        e[1].qos = qos_make(AGNOCAST_DEPTH_MAX, AGNOCAST_DURABILITY_VOLATILE,
                            AGNOCAST_RELIABILITY_BEST_EFFORT, 1);
        e[1].is_publisher = 0;
        list->total = 3; /* a first page of a longer list */
        list->count = 2;
        return sizeof(*list) + 2 * sizeof(*e);
    }
    case AGNOCAST_MSG_PROCESS_LIST: {
        struct agnocast_wire_process_entry *e = entries;
        e[0].pid = 1001;
        e[0].uid = 1000;
        e[0].base = SAMPLE_BASE;
        e[0].size = SAMPLE_POOL;
        e[0].publishers = 2;
        e[0].subscriptions = 5;
        list->total = 6;
        list->count = 1;
        return sizeof(*list) + sizeof(*e);
    }
    case AGNOCAST_MSG_STATS_REPLY: {
        struct agnocast_wire_stats_entry *e = entries;
        e[0].kind = AGNOCAST_MSG_HELLO;
        e[0].count = 7;
        e[1].kind = AGNOCAST_MSG_ADD_PUBLISHER;
        e[1].count = 0x100000000ull;
        e[2].kind = AGNOCAST_MSG_STATS;
        e[2].count = 1;
        list->total = 3;
        list->count = 3;
        return sizeof(*list) + 3 * sizeof(*e);
    }
    case AGNOCAST_MSG_RULE_LIST: {
        struct agnocast_wire_rule_entry *e = entries;
        strcpy(e[0].prefix, "/camera");
        strcpy(e[0].publish, "alice,@video");
        strcpy(e[0].subscribe, "*");
        list->total = 1;
        list->count = 1;
        return sizeof(*list) + sizeof(*e);
    }
    }
    return 0;
}

uint32_t proto_sample_request_id(uint16_t kind)
{
    return 0xa5000000u | kind;
}

ssize_t proto_sample_payload(uint16_t kind, void *payload, size_t cap)
{
    unsigned char *p = payload;
    /* The largest sample (a list of two topic entries) is well under this. */
    if (cap < 1024)
        return -1;
    memset(p, 0, 1024);
    switch (kind) {
    case AGNOCAST_MSG_HELLO:
        return sizeof(struct agnocast_wire_hello);
    case AGNOCAST_MSG_HELLO_REPLY: {
        struct agnocast_wire_hello_reply *m = payload;
        m->broker_pid = 4242;
        return sizeof(*m);
    }
    case AGNOCAST_MSG_REGISTER_PROCESS: {
        struct agnocast_wire_register *m = payload;
        m->pool_size = SAMPLE_POOL;
        m->want_base = SAMPLE_BASE;
        m->flags = AGNOCAST_REGISTER_GROW;
        return sizeof(*m);
    }
    case AGNOCAST_MSG_REGISTER_REPLY: {
        struct agnocast_wire_register_reply *m = payload;
        m->base = SAMPLE_BASE;
        m->size = SAMPLE_POOL;
        m->pid = 1001;
        return sizeof(*m);
    }
    case AGNOCAST_MSG_ATTACH_SEGMENT:
    case AGNOCAST_MSG_NOTICE_AREA_ADDED:
    case AGNOCAST_MSG_SEGMENT_REPLY: {
        struct agnocast_wire_segment *m = payload;
        m->pid = kind == AGNOCAST_MSG_ATTACH_SEGMENT ? 0 : 1002;
        m->area = kind == AGNOCAST_MSG_NOTICE_AREA_ADDED ? 2 : 0;
        m->base = SAMPLE_BASE;
        m->size = SAMPLE_POOL;
        return sizeof(*m);
    }
    case AGNOCAST_MSG_GET_SEGMENT: {
        struct agnocast_wire_segment_query *m = payload;
        m->pid = 1002;
        m->area = 1;
        return sizeof(*m);
    }
    case AGNOCAST_MSG_REPORT_OCCUPIED: {
        struct agnocast_wire_range *m = payload;
        m->base = SAMPLE_BASE;
        m->size = SAMPLE_POOL;
        m->owner_pid = 4243;
        return sizeof(*m);
    }
    case AGNOCAST_MSG_ADD_PUBLISHER: {
        struct agnocast_wire_endpoint *m = payload;
        m->index = 3;
        m->qos =
            qos_make(10, AGNOCAST_DURABILITY_TRANSIENT_LOCAL, AGNOCAST_RELIABILITY_RELIABLE, 1);
        agnocast_topic_field_set(m->topic, "/chatter");
        return sizeof(*m);
    }
    case AGNOCAST_MSG_ADD_SUBSCRIPTION: {
        struct agnocast_wire_endpoint *m = payload;
        m->index = 4;
        m->qos = qos_make(1, AGNOCAST_DURABILITY_VOLATILE, AGNOCAST_RELIABILITY_BEST_EFFORT, 0);
        agnocast_topic_field_set(m->topic, "/robot_1/camera/image_raw");
        return sizeof(*m);
    }
    case AGNOCAST_MSG_REMOVE_PUBLISHER:
    case AGNOCAST_MSG_REMOVE_SUBSCRIPTION: {
        struct agnocast_wire_endpoint_remove *m = payload;
        m->index = kind == AGNOCAST_MSG_REMOVE_PUBLISHER ? 3 : 4;
        return sizeof(*m);
    }
    case AGNOCAST_MSG_OK: {
        struct agnocast_wire_ok *m = payload;
        m->value = 0x0123456789abcdefull;
        return sizeof(*m);
    }
    case AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED:
        notice_fill(
            payload, 1001, 4,
            qos_make(5, AGNOCAST_DURABILITY_TRANSIENT_LOCAL, AGNOCAST_RELIABILITY_RELIABLE, 0),
            AGNOCAST_NOTICE_ANNOUNCE, "/chatter");
        return sizeof(struct agnocast_wire_notice_endpoint);
    case AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED:
        /* Removal notices may leave the QoS zero; the sample does. */
        notice_fill(payload, 1001, 4, qos_make(0, 0, 0, 0), 0, "/chatter");
        return sizeof(struct agnocast_wire_notice_endpoint);
    case AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED:
        notice_fill(
            payload, 1002, 3,
            qos_make(10, AGNOCAST_DURABILITY_TRANSIENT_LOCAL, AGNOCAST_RELIABILITY_RELIABLE, 1), 0,
            "/chatter");
        return sizeof(struct agnocast_wire_notice_endpoint);
    case AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED:
        notice_fill(
            payload, 1002, 3,
            qos_make(10, AGNOCAST_DURABILITY_TRANSIENT_LOCAL, AGNOCAST_RELIABILITY_RELIABLE, 1), 0,
            "/chatter");
        return sizeof(struct agnocast_wire_notice_endpoint);
    case AGNOCAST_MSG_NOTICE_PROCESS_GONE:
    case AGNOCAST_MSG_HAND_WAKE:
    case AGNOCAST_MSG_NOTICE_WAKE_ADDED: {
        struct agnocast_wire_notice_process *m = payload;
        m->pid = kind == AGNOCAST_MSG_NOTICE_PROCESS_GONE ? 1003
                 : kind == AGNOCAST_MSG_HAND_WAKE         ? 1001
                                                          : 1002;
        return sizeof(*m);
    }
    case AGNOCAST_MSG_LIST_TOPICS:
    case AGNOCAST_MSG_LIST_PROCESSES:
    case AGNOCAST_MSG_LIST_RULES: {
        struct agnocast_wire_query *m = payload;
        m->start = kind == AGNOCAST_MSG_LIST_PROCESSES ? 5 : 0;
        return sizeof(*m);
    }
    case AGNOCAST_MSG_TOPIC_INFO: {
        struct agnocast_wire_query *m = payload;
        m->start = 1;
        agnocast_topic_field_set(m->topic, "/chatter");
        return sizeof(*m);
    }
    case AGNOCAST_MSG_STATS:
        return 0;
    case AGNOCAST_MSG_TOPIC_LIST:
    case AGNOCAST_MSG_TOPIC_INFO_REPLY:
    case AGNOCAST_MSG_PROCESS_LIST:
    case AGNOCAST_MSG_STATS_REPLY:
    case AGNOCAST_MSG_RULE_LIST:
        return (ssize_t)list_sample(kind, p);
    case AGNOCAST_MSG_ERROR: {
        struct agnocast_wire_error *m = payload;
        m->code = -ENOENT;
        m->version = AGNOCAST_PROTO_VERSION;
        strcpy(m->message, "no topic /chatter: create a publisher first");
        return sizeof(*m);
    }
    }
    return -1;
}

ssize_t proto_sample_frame(uint16_t kind, void *buf, size_t cap)
{
    static union agnocast_frame_buffer payload;
    ssize_t len = proto_sample_payload(kind, payload.bytes, sizeof(payload.bytes));
    if (len < 0)
        return -EINVAL;
    return agnocast_proto_encode(buf, cap, kind, proto_sample_request_id(kind), payload.bytes,
                                 (size_t)len);
}
