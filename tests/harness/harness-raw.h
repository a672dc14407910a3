/* Raw protocol clients of the broker, and agents: live processes that connect for the test. */
#ifndef AGNOCAST_TEST_HARNESS_RAW_H
#define AGNOCAST_TEST_HARNESS_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agnocast-proto.h"

/* How long raw_recv() waits for a frame. */
#define RAW_TIMEOUT_MS 5000

/* A living process that opens connections on demand and relays each (tests/common/relay.h), so
 * they carry its pid and every frame on them comes from it. It dies with the test. */
struct agent {
    pid_t pid;
    int ctl;
};
int agent_start(struct agent *a);
/* A connection to `path` made by the agent (SO_PEERCRED: the agent), relayed to the socket
 * returned, or -1. */
int agent_connect(struct agent *a, const char *path);
void agent_stop(struct agent *a);

/* A raw protocol client on a connection (from socket_connect() or agent_connect()). */
struct raw_peer {
    int fd;
    int efd;
    int mfd; /* its segment, a sealed memfd, once registered */
    uint32_t next_id;
    struct agnocast_wire_register_reply range;
};

struct raw_reply {
    union agnocast_frame_buffer buf;
    struct agnocast_frame f;
    ssize_t len; /* > 0 a frame, 0 end of file, < 0 -errno (-ETIMEDOUT) */
};

/* Takes `fd` (may be -1: the peer then fails every request). */
void raw_peer_init(struct raw_peer *p, int fd);
void raw_peer_close(struct raw_peer *p);
/* Sends a request; returns its id, or 0 if sending failed. */
uint32_t raw_request(struct raw_peer *p, uint16_t kind, const void *payload, size_t len,
                     const int *fds, int nfds);
/* Receives one frame (descriptors closed); notices are skipped when skip_notices. */
ssize_t raw_recv(struct raw_peer *p, struct raw_reply *r, bool skip_notices);
/* HELLO and its reply: 0 or -1. */
int raw_hello(struct raw_peer *p);
/* The reply to request `id` (raw_request's; 0, a failed send, gives -EPIPE): 0 on `ok_kind`
 * (a REGISTER_REPLY's range kept in p->range), the ERROR's code with its message in why, or
 * -EPROTO. */
int raw_reply_to(struct raw_peer *p, uint32_t id, uint16_t ok_kind, char *why, size_t cap);
/* REGISTER_PROCESS, then ATTACH_SEGMENT with a sealed memfd of the range as the library does:
 * 0 and p->range, or the ERROR code (negative) with the message copied to `why` (may be NULL). */
int raw_register(struct raw_peer *p, uint64_t pool, uint64_t want_base, char *why, size_t cap);
/* ADD_PUBLISHER or ADD_SUBSCRIPTION (depth 1, reliable): 0 on OK, else the ERROR code and
 * message. */
int raw_add(struct raw_peer *p, bool publisher, uint32_t index, const char *topic, char *why,
            size_t cap);
/* LIST_PROCESSES / LIST_TOPICS: the list's total, or -1. */
long raw_list_total(struct raw_peer *p, uint16_t kind);

#endif
