/* The daemon–client wire protocol: frame layout, message kinds, limits, encode/decode. */
#ifndef AGNOCAST_PROTO_H
#define AGNOCAST_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Every frame is one SOCK_SEQPACKET datagram: a 16-byte header followed by a fixed-width payload
 * (list replies: a list header and `count` fixed-width entries). Both ends run on the same host,
 * so integers are in host byte order. Strings travel in fixed NUL-padded fields. File descriptors
 * (SCM_RIGHTS) ride along with the frames that say so below.
 *
 * Kinds are grouped by hundreds and never renumbered; a retired kind keeps its number.
 * Any change of a payload layout bumps AGNOCAST_PROTO_VERSION (tests/proto/test-proto-golden.c
 * fails otherwise: it compares every kind's bytes with tests/proto/golden/v<VERSION>/).
 */

#define AGNOCAST_PROTO_MAGIC     0x434e4741u /* "AGNC" in memory order */
#define AGNOCAST_PROTO_VERSION   3
#define AGNOCAST_PROTO_FRAME_MAX 65536 /* bytes in one frame, header included */
#define AGNOCAST_PROTO_FDS_MAX   2     /* descriptors attached to one frame */
#define AGNOCAST_TOPIC_NAME_MAX  255   /* bytes of a topic name, NUL excluded */
#define AGNOCAST_TOPIC_FIELD     (AGNOCAST_TOPIC_NAME_MAX + 1)
#define AGNOCAST_ERROR_TEXT_MAX  256
#define AGNOCAST_PROTO_LIST_MAX  128  /* entries in one list frame; ask again with `start` */
#define AGNOCAST_DEPTH_MAX       1024 /* keep-last depth of a publisher or subscription */
#define AGNOCAST_STATS_MAX       64   /* counters in one stats reply */
#define AGNOCAST_RULES_MAX       64   /* access rules in one RULE_LIST frame */
#define AGNOCAST_RULE_TEXT_MAX   256  /* bytes of a rule's user/group list, NUL included */
#define AGNOCAST_AREAS_MAX       16   /* segment areas of a process: the first and 15 growths */

/*
 * Payload of each kind (proto.c's kind table is the one that decode enforces):
 *
 *   HELLO                      struct agnocast_wire_hello          flags 0 (none defined yet)
 *   HELLO_REPLY                struct agnocast_wire_hello_reply
 *   REGISTER_PROCESS           struct agnocast_wire_register       flags: AGNOCAST_REGISTER_*;
 *                                                                   no fd (version 3)
 *   REGISTER_REPLY             struct agnocast_wire_register_reply
 *   ATTACH_SEGMENT             struct agnocast_wire_segment        pid 0; area < AREAS_MAX;
 *                                                                   one fd: the sealed memfd
 *   ADD_PUBLISHER              struct agnocast_wire_endpoint       valid topic and QoS
 *   REMOVE_PUBLISHER           struct agnocast_wire_endpoint_remove
 *   ADD_SUBSCRIPTION           struct agnocast_wire_endpoint       valid topic and QoS
 *   REMOVE_SUBSCRIPTION        struct agnocast_wire_endpoint_remove
 *   HAND_WAKE                  struct agnocast_wire_notice_process pid: the subscriber process;
 *                                                                   one fd: the read end of a
 *                                                                   pipe
 *   OK                         struct agnocast_wire_ok
 *   NOTICE_SUBSCRIBER_ADDED    struct agnocast_wire_notice_endpoint valid QoS; flags ANNOUNCE,
 *                                                                   HAS_MQUEUE
 *   NOTICE_SUBSCRIBER_REMOVED  struct agnocast_wire_notice_endpoint QoS may be all zero;
 *                                                                   flags HAS_MQUEUE
 *   NOTICE_PUBLISHER_ADDED     struct agnocast_wire_notice_endpoint valid QoS; flags HAS_MQUEUE
 *   NOTICE_PUBLISHER_REMOVED   struct agnocast_wire_notice_endpoint QoS may be all zero;
 *                                                                   flags HAS_MQUEUE
 *   NOTICE_PROCESS_GONE        struct agnocast_wire_notice_process
 *   NOTICE_AREA_ADDED          struct agnocast_wire_segment        area >= 1; one fd
 *   NOTICE_WAKE_ADDED          struct agnocast_wire_notice_process pid: the publisher process;
 *                                                                   one fd (from its HAND_WAKE)
 *   LIST_TOPICS                struct agnocast_wire_query          topic all zero
 *   TOPIC_LIST                 list of struct agnocast_wire_topic_entry    (<= PROTO_LIST_MAX)
 *   TOPIC_INFO                 struct agnocast_wire_query          valid topic
 *   TOPIC_INFO_REPLY           list of struct agnocast_wire_endpoint_entry (<= PROTO_LIST_MAX)
 *   LIST_PROCESSES             struct agnocast_wire_query          topic all zero
 *   PROCESS_LIST               list of struct agnocast_wire_process_entry  (<= PROTO_LIST_MAX)
 *   STATS                      no payload (length 0)
 *   STATS_REPLY                list of struct agnocast_wire_stats_entry    (<= STATS_MAX)
 *   GET_SEGMENT                struct agnocast_wire_segment_query
 *   SEGMENT_REPLY              struct agnocast_wire_segment        one fd, read-only sealed
 *   LIST_RULES                 struct agnocast_wire_query          topic all zero
 *   RULE_LIST                  list of struct agnocast_wire_rule_entry     (<= RULES_MAX)
 *   ERROR                      struct agnocast_wire_error          code < 0; message may be ""
 *
 * A list payload is struct agnocast_wire_list followed by exactly `count` entries; `total` is
 * the sender's word and is not checked against `count` or `start`. In every payload: reserved
 * fields are zero, every topic is agnocast_topic_name_valid(), and a string field holds a NUL
 * with only zeros after it.
 */
enum agnocast_msg_kind {
    /* 1xx: session */
    AGNOCAST_MSG_HELLO = 100,
    AGNOCAST_MSG_HELLO_REPLY = 101,
    AGNOCAST_MSG_REGISTER_PROCESS = 110, /* version 2 carried the doorbell eventfd; 3 nothing */
    AGNOCAST_MSG_REGISTER_REPLY = 111,
    /* a registered process hands over one area of its pool: carries the memfd (version 3) */
    AGNOCAST_MSG_ATTACH_SEGMENT = 112,
    /* a registered process cannot map a peer's range: it is occupied in its address space */
    AGNOCAST_MSG_REPORT_OCCUPIED = 120,

    /* 2xx: endpoints (requests from a registered process) */
    AGNOCAST_MSG_ADD_PUBLISHER = 200,
    AGNOCAST_MSG_REMOVE_PUBLISHER = 201,
    AGNOCAST_MSG_ADD_SUBSCRIPTION = 202,
    AGNOCAST_MSG_REMOVE_SUBSCRIPTION = 203,
    /* a publisher process hands the broker the receiving end of its wake channel to a
     * subscriber process (version 3); the broker passes it on as NOTICE_WAKE_ADDED */
    AGNOCAST_MSG_HAND_WAKE = 210,
    AGNOCAST_MSG_OK = 290, /* generic success reply */

    /* 3xx: notices, broker -> client (and client -> client on the mqueue) */
    AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED = 300, /* one fd: the subscriber's segment */
    AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED = 301,
    AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED = 302, /* one fd: the publisher's segment */
    AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED = 303,
    AGNOCAST_MSG_NOTICE_PROCESS_GONE = 304,
    AGNOCAST_MSG_NOTICE_AREA_ADDED = 305, /* one fd: a growth area of a publisher's pool */
    AGNOCAST_MSG_NOTICE_WAKE_ADDED = 306, /* one fd: a publisher's wake channel to us */

    /* 4xx: queries (any client, registered or not) */
    AGNOCAST_MSG_LIST_TOPICS = 400,
    AGNOCAST_MSG_TOPIC_LIST = 401,
    AGNOCAST_MSG_TOPIC_INFO = 402,
    AGNOCAST_MSG_TOPIC_INFO_REPLY = 403,
    AGNOCAST_MSG_LIST_PROCESSES = 404,
    AGNOCAST_MSG_PROCESS_LIST = 405,
    AGNOCAST_MSG_STATS = 406,
    AGNOCAST_MSG_STATS_REPLY = 407,
    AGNOCAST_MSG_GET_SEGMENT = 408, /* a read-only view of a process's area, for tools */
    AGNOCAST_MSG_SEGMENT_REPLY = 409,
    AGNOCAST_MSG_LIST_RULES = 410,
    AGNOCAST_MSG_RULE_LIST = 411,

    /* 9xx: errors */
    AGNOCAST_MSG_ERROR = 900,
};

enum agnocast_durability {
    AGNOCAST_DURABILITY_VOLATILE = 0,
    AGNOCAST_DURABILITY_TRANSIENT_LOCAL = 1,
};

enum agnocast_reliability {
    AGNOCAST_RELIABILITY_BEST_EFFORT = 0,
    AGNOCAST_RELIABILITY_RELIABLE = 1,
};

/*
 * The seals every pool area carries before it is attached (ATTACH_SEGMENT): nobody may shrink,
 * grow, newly map writable or write() it, nor change the seals. The owner writes through the
 * mapping it made before sealing; a peer's descriptor is read-only in effect, and what a peer
 * has mapped can never shrink under it. (F_SEAL_SEAL 0x1, SHRINK 0x2, GROW 0x4, FUTURE_WRITE 0x10)
 */
#define AGNOCAST_SEGMENT_SEALS 0x17

/* REGISTER_PROCESS flags */
/* Retired in version 3 (notices travel only over the broker socket); must be 0. */
#define AGNOCAST_REGISTER_RETIRED_HAS_MQUEUE 0x1u
/* Sent again by a registered process with no endpoints: the range it was given is occupied in
 * its address space (MAP_FIXED_NOREPLACE said EEXIST); the broker assigns another one. */
#define AGNOCAST_REGISTER_RELOCATE 0x2u
/* Sent again by a registered process whose pool is full: one more range of `pool_size` bytes
 * for a growth area (want_base: the one it held before a broker restart). */
#define AGNOCAST_REGISTER_GROW 0x4u

/* NOTICE_* flags */
/* SUBSCRIBER_ADDED: sent to the publisher whose ADD_PUBLISHER is in flight */
#define AGNOCAST_NOTICE_ANNOUNCE           0x1u
#define AGNOCAST_NOTICE_RETIRED_HAS_MQUEUE 0x2u /* retired in version 3; must be 0 */

struct agnocast_wire_header {
    uint32_t magic;
    uint16_t version;
    uint16_t kind;
    uint32_t length;     /* payload bytes after this header */
    uint32_t request_id; /* a reply echoes its request's id; notices carry 0 */
};

struct agnocast_wire_qos {
    uint32_t depth; /* 1..AGNOCAST_DEPTH_MAX */
    uint8_t durability;
    uint8_t reliability;
    uint8_t ignore_local; /* 0 or 1 */
    uint8_t reserved;     /* 0 */
};

struct agnocast_wire_hello {
    uint32_t flags;
    uint32_t reserved;
};

struct agnocast_wire_hello_reply {
    uint32_t broker_pid;
    uint32_t reserved;
};

struct agnocast_wire_register {
    uint64_t pool_size; /* bytes wanted; 0 = the broker's default */
    uint64_t want_base; /* 0 = any; else the range held before a broker restart */
    uint32_t flags;     /* AGNOCAST_REGISTER_* */
    uint32_t reserved;
};

struct agnocast_wire_register_reply {
    uint64_t base;
    uint64_t size;
    uint32_t pid; /* the caller as the broker knows it (its pid in the broker's namespace) */
    uint32_t reserved;
};

/* One area of a process's pool: area 0 is the segment, 1..15 its growth areas. */
struct agnocast_wire_segment {
    uint32_t pid; /* whose; 0 in ATTACH_SEGMENT (the sender's own) */
    uint32_t area;
    uint64_t base; /* page aligned, base + size does not wrap */
    uint64_t size; /* > 0 */
};

struct agnocast_wire_segment_query {
    uint32_t pid;
    uint32_t area;
};

struct agnocast_wire_range {
    uint64_t base;      /* page aligned */
    uint64_t size;      /* > 0, base + size does not wrap */
    uint32_t owner_pid; /* whose segment could not be mapped there */
    uint32_t reserved;
};

struct agnocast_wire_endpoint {
    uint32_t index; /* chosen by the client, unique per process and kind */
    struct agnocast_wire_qos qos;
    uint32_t reserved;
    char topic[AGNOCAST_TOPIC_FIELD];
};

struct agnocast_wire_endpoint_remove {
    uint32_t index;
    uint32_t reserved;
};

struct agnocast_wire_ok {
    uint64_t value;
};

struct agnocast_wire_error {
    int32_t code;     /* negative errno */
    uint16_t version; /* the sender's protocol version */
    uint16_t reserved;
    char message[AGNOCAST_ERROR_TEXT_MAX];
};

struct agnocast_wire_notice_endpoint {
    uint32_t pid;   /* the peer process */
    uint32_t index; /* its endpoint index */
    struct agnocast_wire_qos qos;
    uint64_t seg_base; /* the peer's segment */
    uint64_t seg_size;
    uint32_t flags; /* AGNOCAST_NOTICE_* */
    uint32_t reserved;
    char topic[AGNOCAST_TOPIC_FIELD];
};

struct agnocast_wire_notice_process {
    uint32_t pid;
    uint32_t reserved;
};

struct agnocast_wire_query {
    uint32_t start; /* first entry wanted */
    uint32_t reserved;
    char topic[AGNOCAST_TOPIC_FIELD]; /* TOPIC_INFO only; all zero otherwise */
};

struct agnocast_wire_list {
    uint32_t total; /* entries in the whole list */
    uint32_t count; /* entries in this frame */
};

struct agnocast_wire_topic_entry {
    char topic[AGNOCAST_TOPIC_FIELD];
    uint32_t publishers;
    uint32_t subscriptions;
};

struct agnocast_wire_endpoint_entry {
    uint32_t pid;
    uint32_t index;
    struct agnocast_wire_qos qos;
    uint8_t is_publisher;
    uint8_t reserved[7];
};

struct agnocast_wire_process_entry {
    uint32_t pid;
    uint32_t uid;
    uint64_t base;
    uint64_t size;
    uint32_t publishers;
    uint32_t subscriptions;
};

/* One access rule: who may publish and subscribe on topics under `prefix` ("" = none may;
 * "*" = everyone who may connect); names are users, "@group" for groups, comma-separated. */
struct agnocast_wire_rule_entry {
    char prefix[AGNOCAST_TOPIC_FIELD];
    char publish[AGNOCAST_RULE_TEXT_MAX];
    char subscribe[AGNOCAST_RULE_TEXT_MAX];
};

struct agnocast_wire_stats_entry {
    uint16_t kind;
    uint16_t reserved[3];
    uint64_t count; /* requests of this kind the broker has handled since it started */
};

_Static_assert(sizeof(struct agnocast_wire_header) == 16, "wire header");
_Static_assert(sizeof(struct agnocast_wire_qos) == 8, "wire qos");
_Static_assert(sizeof(struct agnocast_wire_hello) == 8, "wire hello");
_Static_assert(sizeof(struct agnocast_wire_hello_reply) == 8, "wire hello reply");
_Static_assert(sizeof(struct agnocast_wire_register) == 24, "wire register");
_Static_assert(sizeof(struct agnocast_wire_register_reply) == 24, "wire register reply");
_Static_assert(sizeof(struct agnocast_wire_segment) == 24, "wire segment");
_Static_assert(sizeof(struct agnocast_wire_segment_query) == 8, "wire segment query");
_Static_assert(sizeof(struct agnocast_wire_rule_entry) == 3 * 256, "wire rule entry");
_Static_assert(sizeof(struct agnocast_wire_range) == 24, "wire range");
_Static_assert(sizeof(struct agnocast_wire_endpoint) == 272, "wire endpoint");
_Static_assert(sizeof(struct agnocast_wire_endpoint_remove) == 8, "wire endpoint remove");
_Static_assert(sizeof(struct agnocast_wire_ok) == 8, "wire ok");
_Static_assert(sizeof(struct agnocast_wire_error) == 264, "wire error");
_Static_assert(sizeof(struct agnocast_wire_notice_endpoint) == 296, "wire notice endpoint");
_Static_assert(sizeof(struct agnocast_wire_notice_process) == 8, "wire notice process");
_Static_assert(sizeof(struct agnocast_wire_query) == 264, "wire query");
_Static_assert(sizeof(struct agnocast_wire_list) == 8, "wire list");
_Static_assert(sizeof(struct agnocast_wire_topic_entry) == 264, "wire topic entry");
_Static_assert(sizeof(struct agnocast_wire_endpoint_entry) == 24, "wire endpoint entry");
_Static_assert(sizeof(struct agnocast_wire_process_entry) == 32, "wire process entry");
_Static_assert(sizeof(struct agnocast_wire_stats_entry) == 16, "wire stats entry");
_Static_assert(sizeof(struct agnocast_wire_header) + sizeof(struct agnocast_wire_list) +
                       AGNOCAST_PROTO_LIST_MAX * sizeof(struct agnocast_wire_topic_entry) <=
                   AGNOCAST_PROTO_FRAME_MAX,
               "a full topic list fits a frame");

/* A decoded frame: views into the buffer it was decoded from (which must outlive it). */
struct agnocast_frame {
    uint16_t kind;
    uint16_t version;
    uint32_t request_id;
    const void *payload; /* the kind's payload struct, 8-byte aligned if the buffer is */
    size_t payload_len;
    /* list kinds (TOPIC_LIST, TOPIC_INFO_REPLY, PROCESS_LIST, STATS_REPLY, RULE_LIST) */
    uint32_t list_total;
    uint32_t list_count;
    const void *entries; /* list_count entries of the kind's entry struct */
};

/* A receive buffer with the alignment the payload structs need. */
union agnocast_frame_buffer {
    uint64_t align;
    unsigned char bytes[AGNOCAST_PROTO_FRAME_MAX];
};

/*
 * Builds a frame: header, then `payload_len` bytes of `payload` (a list frame: the list header
 * and entries, already laid out by the caller; the payload may already sit at buf + 16). The
 * payload's contents are not validated, only its length (a list's must match its `count`,
 * which must be within the kind's limit). Returns the frame length, or -EMSGSIZE if it does not
 * fit `cap` or AGNOCAST_PROTO_FRAME_MAX, -EINVAL on an unknown kind or a payload length the
 * kind does not allow.
 */
ssize_t agnocast_proto_encode(void *buf, size_t cap, uint16_t kind, uint32_t request_id,
                              const void *payload, size_t payload_len);

/*
 * Validates a received frame and fills `out` with views into `buf`. Never reads outside
 * [buf, buf + len). When the magic is right, out->version, kind and request_id are filled
 * whatever the verdict (for logs and error replies). Returns 0, or:
 *   -EBADMSG          short or oversized frame, bad magic, length field disagreeing with len,
 *                     unknown kind, payload size wrong for the kind, a string without NUL or
 *                     with bytes after the NUL, an invalid topic name, a QoS out of range,
 *                     a list count over the limit or disagreeing with the payload size;
 *   -EPROTONOSUPPORT  magic right but another protocol version (out->version tells which;
 *                     out->kind and out->request_id are filled, the payload is not checked);
 *   -EINVAL           out is NULL, or buf is NULL with len > 0.
 */
int agnocast_proto_decode(const void *buf, size_t len, struct agnocast_frame *out);

/* 1 if `name` is a valid topic: "/" then [A-Za-z0-9_] segments joined by "/", no empty
 * segment, no trailing "/", a segment not starting with a digit, 2..AGNOCAST_TOPIC_NAME_MAX
 * bytes. 0 otherwise. */
int agnocast_topic_name_valid(const char *name);

/* 0 if the QoS is in range (depth 1..AGNOCAST_DEPTH_MAX, known durability and reliability,
 * ignore_local 0/1, reserved 0), else -EINVAL. */
int agnocast_qos_validate(const struct agnocast_wire_qos *qos);

/* Copies a topic name into a NUL-padded wire field; -ENAMETOOLONG if it does not fit. */
int agnocast_topic_field_set(char field[AGNOCAST_TOPIC_FIELD], const char *name);

/* "HELLO", "ADD_PUBLISHER", ...; "UNKNOWN" for a kind not in the table. */
const char *agnocast_proto_kind_name(uint16_t kind);

/* Every kind, in numeric order, for tables (stats, fuzzing); returns the count. */
size_t agnocast_proto_kinds(const uint16_t **kinds);

/*
 * Transport over a SOCK_SEQPACKET socket. send: one frame plus up to AGNOCAST_PROTO_FDS_MAX
 * descriptors (SCM_RIGHTS), MSG_NOSIGNAL; returns 0 or -errno (-EAGAIN on a non-blocking
 * socket that is full). recv: one frame into buf (cap bytes) and at most *nfds descriptors
 * (received ones are close-on-exec; *nfds is set to how many arrived, extra ones are closed,
 * unused slots of fds are set to -1; nfds may be NULL to accept none);
 * returns the frame length, 0 on orderly shutdown, -EMSGSIZE on a truncated frame (the
 * descriptors that came with it are closed), or -errno.
 */
int agnocast_proto_send(int sock, const void *frame, size_t len, const int *fds, int nfds);
ssize_t agnocast_proto_recv(int sock, void *buf, size_t cap, int *fds, int *nfds);

struct ucred;
/*
 * agnocast_proto_recv, and the sender's credentials: on a socket with SO_PASSCRED the kernel
 * attaches them to every frame (the sender's real pid, translated into the receiver's PID
 * namespace). *has_cred is 1 and *cred filled when they came, else 0. cred and has_cred are
 * both given or both NULL (-EINVAL otherwise).
 */
ssize_t agnocast_proto_recv_cred(int sock, void *buf, size_t cap, int *fds, int *nfds,
                                 struct ucred *cred, int *has_cred);

#endif
