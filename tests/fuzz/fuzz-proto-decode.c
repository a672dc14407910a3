/*
 * Fuzz target for agnocast_proto_decode: any input is judged without crashing or reading out
 * of bounds, and a frame it accepts re-encodes to the very same bytes and satisfies the
 * invariants its kind promises (checked here independently of proto.c's table).
 */
#include "fuzz-proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agnocast-proto.h"

static union agnocast_frame_buffer in;
static union agnocast_frame_buffer again;

static void require(int cond)
{
    if (!cond)
        abort();
}

static int topic_ok(const char *field)
{
    size_t n = strnlen(field, AGNOCAST_TOPIC_FIELD);
    if (n == 0 || n >= AGNOCAST_TOPIC_FIELD || !agnocast_topic_name_valid(field))
        return 0;
    for (size_t i = n; i < AGNOCAST_TOPIC_FIELD; i++)
        if (field[i])
            return 0;
    return 1;
}

static void check_accepted(const struct agnocast_frame *f, size_t size)
{
    require(f->version == AGNOCAST_PROTO_VERSION);
    require(f->payload_len == size - sizeof(struct agnocast_wire_header));
    require(f->payload_len == 0 || f->payload == in.bytes + 16);
    require(strcmp(agnocast_proto_kind_name(f->kind), "UNKNOWN") != 0);

    size_t entry = 0;
    uint32_t max = AGNOCAST_PROTO_LIST_MAX;
    switch (f->kind) {
    case AGNOCAST_MSG_TOPIC_LIST:
        entry = sizeof(struct agnocast_wire_topic_entry);
        for (uint32_t i = 0; i < f->list_count; i++)
            require(topic_ok(((const struct agnocast_wire_topic_entry *)f->entries)[i].topic));
        break;
    case AGNOCAST_MSG_TOPIC_INFO_REPLY:
        entry = sizeof(struct agnocast_wire_endpoint_entry);
        for (uint32_t i = 0; i < f->list_count; i++)
            require(agnocast_qos_validate(
                        &((const struct agnocast_wire_endpoint_entry *)f->entries)[i].qos) == 0);
        break;
    case AGNOCAST_MSG_PROCESS_LIST:
        entry = sizeof(struct agnocast_wire_process_entry);
        break;
    case AGNOCAST_MSG_STATS_REPLY:
        entry = sizeof(struct agnocast_wire_stats_entry);
        max = AGNOCAST_STATS_MAX;
        break;
    case AGNOCAST_MSG_RULE_LIST:
        entry = sizeof(struct agnocast_wire_rule_entry);
        max = AGNOCAST_RULES_MAX;
        for (uint32_t i = 0; i < f->list_count; i++) {
            const struct agnocast_wire_rule_entry *r =
                &((const struct agnocast_wire_rule_entry *)f->entries)[i];
            require(strcmp(r->prefix, "/") == 0 || topic_ok(r->prefix));
            require(strnlen(r->publish, sizeof(r->publish)) < sizeof(r->publish));
            require(strnlen(r->subscribe, sizeof(r->subscribe)) < sizeof(r->subscribe));
        }
        break;
    case AGNOCAST_MSG_ATTACH_SEGMENT:
    case AGNOCAST_MSG_NOTICE_AREA_ADDED:
    case AGNOCAST_MSG_SEGMENT_REPLY: {
        /* What a receiver maps: an area number in range, a page-aligned range that does not
         * wrap, and the owner named (by pid) everywhere but in the owner's own ATTACH. */
        const struct agnocast_wire_segment *a = f->payload;
        require(f->payload_len == sizeof(*a) && a->area < AGNOCAST_AREAS_MAX);
        require(a->base % 4096 == 0 && a->size % 4096 == 0 && a->size > 0 &&
                a->base + a->size > a->base);
        require((f->kind == AGNOCAST_MSG_ATTACH_SEGMENT) == (a->pid == 0));
        require(f->kind != AGNOCAST_MSG_NOTICE_AREA_ADDED || a->area >= 1);
        break;
    }
    case AGNOCAST_MSG_ADD_PUBLISHER:
    case AGNOCAST_MSG_ADD_SUBSCRIPTION: {
        const struct agnocast_wire_endpoint *ep = f->payload;
        require(f->payload_len == sizeof(*ep));
        require(topic_ok(ep->topic) && agnocast_qos_validate(&ep->qos) == 0);
        break;
    }
    case AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED:
    case AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED:
    case AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED:
    case AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED: {
        const struct agnocast_wire_notice_endpoint *n = f->payload;
        require(f->payload_len == sizeof(*n));
        require(topic_ok(n->topic));
        require(n->qos.depth == 0 || agnocast_qos_validate(&n->qos) == 0);
        require(n->qos.depth != 0 || f->kind == AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED ||
                f->kind == AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED);
        break;
    }
    case AGNOCAST_MSG_TOPIC_INFO:
        require(f->payload_len == sizeof(struct agnocast_wire_query));
        require(topic_ok(((const struct agnocast_wire_query *)f->payload)->topic));
        break;
    case AGNOCAST_MSG_ERROR: {
        const struct agnocast_wire_error *e = f->payload;
        require(f->payload_len == sizeof(*e));
        require(e->code < 0 && strnlen(e->message, sizeof(e->message)) < sizeof(e->message));
        break;
    }
    case AGNOCAST_MSG_STATS:
        require(f->payload_len == 0 && f->payload == NULL);
        break;
    }
    if (entry) {
        require(f->list_count <= max);
        require(f->entries == in.bytes + 16 + sizeof(struct agnocast_wire_list));
        require(f->payload_len == sizeof(struct agnocast_wire_list) + f->list_count * entry);
    } else {
        require(f->list_count == 0 && f->entries == NULL);
    }

    /* What was accepted is exactly what the encoder makes of the decoded view. */
    ssize_t n = agnocast_proto_encode(again.bytes, sizeof(again.bytes), f->kind, f->request_id,
                                      f->payload, f->payload_len);
    require(n == (ssize_t)size);
    require(memcmp(again.bytes, in.bytes, size) == 0);
    struct agnocast_frame g;
    require(agnocast_proto_decode(again.bytes, size, &g) == 0);
    require(g.kind == f->kind && g.request_id == f->request_id && g.list_count == f->list_count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agnocast_frame f;
    if (size > sizeof(in.bytes)) {
        require(agnocast_proto_decode(data, size, &f) == -EBADMSG);
        return 0;
    }
    /* Received frames land in an aligned buffer; so do these. */
    memcpy(in.bytes, data, size);
    int rc = agnocast_proto_decode(in.bytes, size, &f);
    if (rc == 0)
        check_accepted(&f, size);
    else if (rc == -EPROTONOSUPPORT)
        require(size >= 16 && f.version != AGNOCAST_PROTO_VERSION);
    else
        require(rc == -EBADMSG);
    return 0;
}
