/* Integration tests of agnocastd: a private broker on a temporary socket, raw protocol clients. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agnocast-proto.h"
#include "harness-broker.h"
#include "relay.h"

#define TIMEOUT_MS 5000

struct fixture {
    struct broker b;
};

/* A connection made by a helper process (tests/common/relay.h) that relays our frames, so that
 * several registered "processes" can live in this one test: the broker sees the helper's pid on
 * the connection and on every frame. */
struct peer {
    int fd;
    pid_t pid;
    int mfd; /* its segment (a sealed memfd) once attached */
    uint32_t next_id;
    struct agnocast_wire_register_reply range;
};

struct reply {
    union agnocast_frame_buffer buf;
    struct agnocast_frame f;
    int fds[AGNOCAST_PROTO_FDS_MAX];
    int nfds;
};

static int connect_from(const char *path, pid_t *pid_out)
{
    int fd = -1;
    pid_t pid = relay_spawn(path, 1, &fd);

    if (pid < 0)
        return -1;
    *pid_out = pid;
    return fd;
}

/* Two connections from the same helper: one process, two sockets. */
static void connect_twice_from(const char *path, int fds[2], pid_t *pid_out)
{
    *pid_out = relay_spawn(path, 2, fds);
    assert_true(*pid_out > 0);
}

static int broker_setup(void **state)
{
    static const char *const args[] = {"--pool-size", "1M", "--max-pool-size", "64M", NULL};
    struct fixture *fx = g_new0(struct fixture, 1);

    /* Under $AGNOCAST_TEST_VALGRIND (the valgrind test) when set: see tests/harness. */
    if (broker_start(&fx->b, args) < 0)
        fail_msg("agnocastd (%s) did not start listening", getenv("AGNOCAST_TEST_BROKER"));
    *state = fx;
    return 0;
}

static int broker_teardown(void **state)
{
    struct fixture *fx = *state;

    /* Every test ends with a clean shutdown, so a run under valgrind checks it each time. The
     * state file is normally gone already: nothing is registered at a clean exit. */
    assert_int_equal(broker_stop(&fx->b), 0);
    g_free(fx);
    return 0;
}

static void send_frame(int fd, uint16_t kind, uint32_t id, const void *payload, size_t len,
                       const int *fds, int nfds)
{
    union agnocast_frame_buffer buf;
    ssize_t n = agnocast_proto_encode(buf.bytes, sizeof(buf.bytes), kind, id, payload, len);

    assert_true(n > 0);
    assert_int_equal(agnocast_proto_send(fd, buf.bytes, (size_t)n, fds, nfds), 0);
}

/* Receives one frame (failing the test after TIMEOUT_MS); returns the frame length, 0 on EOF. */
static ssize_t recv_frame(int fd, struct reply *r)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;

    assert_int_equal(poll(&p, 1, TIMEOUT_MS), 1);
    r->nfds = AGNOCAST_PROTO_FDS_MAX;
    n = agnocast_proto_recv(fd, r->buf.bytes, sizeof(r->buf.bytes), r->fds, &r->nfds);
    if (n == -ECONNRESET)
        return 0;
    assert_true(n >= 0);
    if (n > 0)
        assert_int_equal(agnocast_proto_decode(r->buf.bytes, (size_t)n, &r->f), 0);
    return n;
}

static void expect_kind(int fd, struct reply *r, uint16_t kind)
{
    assert_true(recv_frame(fd, r) > 0);
    if (r->f.kind != kind) {
        const struct agnocast_wire_error *e = r->f.payload;
        fail_msg("expected %s, got %s%s%s", agnocast_proto_kind_name(kind),
                 agnocast_proto_kind_name(r->f.kind), r->f.kind == AGNOCAST_MSG_ERROR ? ": " : "",
                 r->f.kind == AGNOCAST_MSG_ERROR ? e->message : "");
    }
}

static void expect_closed(int fd)
{
    struct reply r;

    assert_int_equal(recv_frame(fd, &r), 0);
}

static void close_fds(struct reply *r)
{
    for (int i = 0; i < r->nfds; i++)
        close(r->fds[i]);
    r->nfds = 0;
}

static void peer_open(struct fixture *fx, struct peer *p)
{
    struct agnocast_wire_hello hello = {0};
    struct reply r;

    memset(p, 0, sizeof(*p));
    p->next_id = 1;
    p->fd = connect_from(fx->b.socket, &p->pid);
    assert_true(p->fd >= 0);
    send_frame(p->fd, AGNOCAST_MSG_HELLO, p->next_id, &hello, sizeof(hello), NULL, 0);
    expect_kind(p->fd, &r, AGNOCAST_MSG_HELLO_REPLY);
    assert_int_equal(r.f.request_id, p->next_id);
    p->next_id++;
}

/* Sends a request and returns its id; the reply may follow notices. */
static uint32_t request(struct peer *p, uint16_t kind, const void *payload, size_t len,
                        const int *fds, int nfds)
{
    uint32_t id = p->next_id++;

    send_frame(p->fd, kind, id, payload, len, fds, nfds);
    return id;
}

static void expect_error(struct peer *p, uint32_t id, int code, const char *text)
{
    struct reply r;

    expect_kind(p->fd, &r, AGNOCAST_MSG_ERROR);
    const struct agnocast_wire_error *e = r.f.payload;
    assert_int_equal(r.f.request_id, id);
    assert_int_equal(e->code, code);
    assert_int_equal(e->version, AGNOCAST_PROTO_VERSION);
    if (text != NULL && strstr(e->message, text) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", e->message, text);
}

static void expect_ok(struct peer *p, uint32_t id)
{
    struct reply r;

    expect_kind(p->fd, &r, AGNOCAST_MSG_OK);
    assert_int_equal(r.f.request_id, id);
}

/* A memfd of `size` bytes carrying the seals the broker requires (or `seals`). */
static int sealed_memfd(uint64_t size, int seals)
{
    int fd = memfd_create("agnocast-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    if (seals)
        assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
    return fd;
}

static uint32_t attach(struct peer *p, uint32_t area, uint64_t base, uint64_t size, int fd)
{
    struct agnocast_wire_segment req = {.area = area, .base = base, .size = size};

    return request(p, AGNOCAST_MSG_ATTACH_SEGMENT, &req, sizeof(req), &fd, 1);
}

/* Registers without attaching a segment. */
static void peer_register_only(struct peer *p, uint32_t flags)
{
    struct agnocast_wire_register req = {.pool_size = 0, .flags = flags};
    struct reply r;
    uint32_t id;

    p->mfd = -1;
    id = request(p, AGNOCAST_MSG_REGISTER_PROCESS, &req, sizeof(req), NULL, 0);
    expect_kind(p->fd, &r, AGNOCAST_MSG_REGISTER_REPLY);
    assert_int_equal(r.f.request_id, id);
    memcpy(&p->range, r.f.payload, sizeof(p->range));
    assert_int_equal(p->range.pid, p->pid); /* the broker's word for who we are */
}

/* Registers and attaches the segment, as the library does. */
static void peer_register(struct peer *p, uint32_t flags)
{
    peer_register_only(p, flags);
    p->mfd = sealed_memfd(p->range.size, AGNOCAST_SEGMENT_SEALS);
    expect_ok(p, attach(p, 0, p->range.base, p->range.size, p->mfd));
}

static void peer_close(struct peer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    if (p->mfd > 0)
        close(p->mfd);
    p->fd = p->mfd = -1;
}

static uint32_t add_endpoint(struct peer *p, uint16_t kind, uint32_t index, uint32_t depth,
                             const char *topic)
{
    struct agnocast_wire_endpoint req;

    memset(&req, 0, sizeof(req));
    req.index = index;
    req.qos.depth = depth;
    req.qos.reliability = AGNOCAST_RELIABILITY_RELIABLE;
    assert_int_equal(agnocast_topic_field_set(req.topic, topic), 0);
    return request(p, kind, &req, sizeof(req), NULL, 0);
}

/* Checks a notice about an endpoint of `about`. */
static const struct agnocast_wire_notice_endpoint *
expect_notice(struct peer *to, struct reply *r, uint16_t kind, const struct peer *about,
              uint32_t index, uint32_t flags, const char *topic)
{
    expect_kind(to->fd, r, kind);
    const struct agnocast_wire_notice_endpoint *n = r->f.payload;
    assert_int_equal(r->f.request_id, 0);
    assert_int_equal(n->pid, about->pid);
    assert_int_equal(n->index, index);
    assert_int_equal(n->flags, flags);
    assert_string_equal(n->topic, topic);
    if (kind == AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED ||
        kind == AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED) {
        assert_int_equal(n->seg_base, about->range.base);
        assert_int_equal(n->seg_size, about->range.size);
    }
    return n;
}

/* Whether descriptor `a` refers to the same open file as `b`. */
static void assert_same_file(int a, int b)
{
    struct stat sa, sb;

    assert_int_equal(fstat(a, &sa), 0);
    assert_int_equal(fstat(b, &sb), 0);
    assert_int_equal(sa.st_dev, sb.st_dev);
    assert_int_equal(sa.st_ino, sb.st_ino);
}

/* A PUBLISHER_ADDED notice carries the publisher's segment. */
static void assert_segment_of(struct reply *r, const struct peer *p)
{
    assert_int_equal(r->nfds, 1);
    assert_same_file(r->fds[0], p->mfd);
    close_fds(r);
}

/* A SUBSCRIBER_ADDED notice carries the subscriber's segment (the publisher scans its holds). */
static void assert_subscriber_segment(struct reply *r, const struct peer *sub)
{
    assert_int_equal(r->nfds, 1);
    assert_same_file(r->fds[0], sub->mfd);
    close_fds(r);
}

static void test_broker_hello(void **state)
{
    struct fixture *fx = *state;
    struct agnocast_wire_hello hello = {0};
    struct reply r;
    pid_t pid;
    int fd = connect_from(fx->b.socket, &pid);

    send_frame(fd, AGNOCAST_MSG_HELLO, 77, &hello, sizeof(hello), NULL, 0);
    expect_kind(fd, &r, AGNOCAST_MSG_HELLO_REPLY);
    assert_int_equal(r.f.request_id, 77);
    assert_int_equal(((const struct agnocast_wire_hello_reply *)r.f.payload)->broker_pid,
                     fx->b.pid);
    close(fd);
}

static void test_broker_version_mismatch(void **state)
{
    struct fixture *fx = *state;
    struct agnocast_wire_hello hello = {0};
    union agnocast_frame_buffer buf;
    struct agnocast_wire_header h;
    struct reply r;
    pid_t pid;
    int fd = connect_from(fx->b.socket, &pid);
    ssize_t n = agnocast_proto_encode(buf.bytes, sizeof(buf.bytes), AGNOCAST_MSG_HELLO, 5, &hello,
                                      sizeof(hello));

    memcpy(&h, buf.bytes, sizeof(h));
    h.version = AGNOCAST_PROTO_VERSION + 1;
    memcpy(buf.bytes, &h, sizeof(h));
    assert_int_equal(agnocast_proto_send(fd, buf.bytes, (size_t)n, NULL, 0), 0);
    expect_kind(fd, &r, AGNOCAST_MSG_ERROR);
    const struct agnocast_wire_error *e = r.f.payload;
    assert_int_equal(r.f.request_id, 5);
    assert_int_equal(e->code, -EPROTONOSUPPORT);
    assert_int_equal(e->version, AGNOCAST_PROTO_VERSION);
    char *want = g_strdup_printf("protocol version %d is not supported by this broker (version %d)",
                                 AGNOCAST_PROTO_VERSION + 1, AGNOCAST_PROTO_VERSION);
    assert_non_null(strstr(e->message, want));
    g_free(want);
    expect_closed(fd);
    close(fd);
}

static void test_broker_request_before_hello_drops(void **state)
{
    struct fixture *fx = *state;
    struct agnocast_wire_query q;
    pid_t pid;
    int fd = connect_from(fx->b.socket, &pid);

    memset(&q, 0, sizeof(q));
    send_frame(fd, AGNOCAST_MSG_LIST_TOPICS, 1, &q, sizeof(q), NULL, 0);
    expect_closed(fd);
    close(fd);
}

static void test_broker_register(void **state)
{
    struct fixture *fx = *state;
    struct agnocast_wire_register req = {.pool_size = 1};
    struct peer a, b, again;
    int efd = eventfd(0, EFD_CLOEXEC);
    uint32_t id;

    peer_open(fx, &a);
    /* A descriptor (version 2 sent its eventfd): refused, the connection stays. */
    id = request(&a, AGNOCAST_MSG_REGISTER_PROCESS, &req, sizeof(req), &efd, 1);
    expect_error(&a, id, -EINVAL, "no descriptor");
    req.pool_size = 65ull << 20;
    id = request(&a, AGNOCAST_MSG_REGISTER_PROCESS, &req, sizeof(req), NULL, 0);
    expect_error(&a, id, -EINVAL, "67108864");
    /* An endpoint before registering is refused too. */
    id = add_endpoint(&a, AGNOCAST_MSG_ADD_PUBLISHER, 0, 1, "/early");
    expect_error(&a, id, -EPERM, "REGISTER_PROCESS");

    peer_register(&a, 0);
    assert_int_equal(a.range.base % (2u << 20), 0);
    assert_int_equal(a.range.size % 102400, 0);
    assert_true(a.range.size >= (1u << 20));
    peer_open(fx, &b);
    peer_register(&b, 0);
    assert_true(b.range.base >= a.range.base + a.range.size ||
                a.range.base >= b.range.base + b.range.size);

    /* A connection registers once; a second connection from a registered pid cannot either. */
    memset(&req, 0, sizeof(req));
    id = request(&a, AGNOCAST_MSG_REGISTER_PROCESS, &req, sizeof(req), NULL, 0);
    expect_error(&a, id, -EALREADY, NULL);
    int two[2];
    struct peer first;
    struct reply r;
    connect_twice_from(fx->b.socket, two, &again.pid);
    memset(&first, 0, sizeof(first));
    first.fd = two[0];
    first.pid = again.pid;
    first.next_id = 1;
    memset(&again, 0, sizeof(again));
    again.fd = two[1];
    again.next_id = 1;
    struct agnocast_wire_hello hello = {0};
    id = request(&first, AGNOCAST_MSG_HELLO, &hello, sizeof(hello), NULL, 0);
    expect_kind(first.fd, &r, AGNOCAST_MSG_HELLO_REPLY);
    id = request(&again, AGNOCAST_MSG_HELLO, &hello, sizeof(hello), NULL, 0);
    expect_kind(again.fd, &r, AGNOCAST_MSG_HELLO_REPLY);
    peer_register(&first, 0);
    id = request(&again, AGNOCAST_MSG_REGISTER_PROCESS, &req, sizeof(req), NULL, 0);
    expect_error(&again, id, -EEXIST, "already registered");
    peer_close(&first);
    peer_close(&again);
    /* want_base of a range in use */
    peer_close(&b);
    peer_open(fx, &b);
    req.want_base = a.range.base;
    id = request(&b, AGNOCAST_MSG_REGISTER_PROCESS, &req, sizeof(req), NULL, 0);
    expect_error(&b, id, -EADDRINUSE, "want_base 0");
    close(efd);
    peer_close(&a);
    peer_close(&b);
}

static void test_broker_publisher_then_subscriber_notices(void **state)
{
    struct fixture *fx = *state;
    struct peer sub, pub, sub2;
    struct reply r;
    uint32_t id;

    peer_open(fx, &sub);
    peer_register(&sub, 0);
    peer_open(fx, &pub);
    peer_register(&pub, 0);

    id = add_endpoint(&sub, AGNOCAST_MSG_ADD_SUBSCRIPTION, 4, 10, "/chatter");
    expect_ok(&sub, id);

    id = add_endpoint(&pub, AGNOCAST_MSG_ADD_PUBLISHER, 2, 5, "/chatter");
    const struct agnocast_wire_notice_endpoint *n =
        expect_notice(&pub, &r, AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED, &sub, 4,
                      AGNOCAST_NOTICE_ANNOUNCE, "/chatter");
    assert_int_equal(n->qos.depth, 10);
    assert_subscriber_segment(&r, &sub);
    expect_ok(&pub, id);
    n = expect_notice(&sub, &r, AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED, &pub, 2, 0, "/chatter");
    assert_int_equal(n->qos.depth, 5);
    assert_segment_of(&r, &pub);

    /* A subscriber arriving after the publisher. */
    peer_open(fx, &sub2);
    peer_register(&sub2, 0);
    id = add_endpoint(&sub2, AGNOCAST_MSG_ADD_SUBSCRIPTION, 0, 3, "/chatter");
    expect_notice(&sub2, &r, AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED, &pub, 2, 0, "/chatter");
    assert_segment_of(&r, &pub);
    expect_ok(&sub2, id);
    expect_notice(&pub, &r, AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED, &sub2, 0, 0, "/chatter");
    assert_subscriber_segment(&r, &sub2);

    /* Duplicate index, unknown index, then a real removal. */
    id = add_endpoint(&pub, AGNOCAST_MSG_ADD_PUBLISHER, 2, 5, "/other");
    expect_error(&pub, id, -EEXIST, "index 2");
    struct agnocast_wire_endpoint_remove rm = {.index = 9};
    id = request(&pub, AGNOCAST_MSG_REMOVE_PUBLISHER, &rm, sizeof(rm), NULL, 0);
    expect_error(&pub, id, -ENOENT, "index 9");
    rm.index = 0;
    id = request(&sub2, AGNOCAST_MSG_REMOVE_SUBSCRIPTION, &rm, sizeof(rm), NULL, 0);
    expect_ok(&sub2, id);
    expect_notice(&pub, &r, AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED, &sub2, 0, 0, "/chatter");
    rm.index = 2;
    id = request(&pub, AGNOCAST_MSG_REMOVE_PUBLISHER, &rm, sizeof(rm), NULL, 0);
    expect_ok(&pub, id);
    expect_notice(&sub, &r, AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED, &pub, 2, 0, "/chatter");
    peer_close(&sub);
    peer_close(&pub);
    peer_close(&sub2);
}

/* A segment is refused unless it is a sealed memfd of exactly its range; endpoints wait for it. */
static void test_broker_attach_rules(void **state)
{
    struct fixture *fx = *state;
    struct peer a;
    uint32_t id;
    int fd;

    peer_open(fx, &a);
    peer_register_only(&a, 0);
    id = add_endpoint(&a, AGNOCAST_MSG_ADD_PUBLISHER, 0, 1, "/early");
    expect_error(&a, id, -EPROTO, "ATTACH_SEGMENT");
    /* Unsealed: a peer's mapping could be shrunk under it, or written through. */
    fd = sealed_memfd(a.range.size, 0);
    expect_error(&a, attach(&a, 0, a.range.base, a.range.size, fd), -EINVAL, "sealed");
    close(fd);
    fd = sealed_memfd(a.range.size, F_SEAL_SHRINK | F_SEAL_GROW);
    expect_error(&a, attach(&a, 0, a.range.base, a.range.size, fd), -EINVAL, "F_SEAL_FUTURE_WRITE");
    close(fd);
    /* Not a memfd at all. */
    fd = eventfd(0, EFD_CLOEXEC);
    expect_error(&a, attach(&a, 0, a.range.base, a.range.size, fd), -EINVAL, "memfd");
    close(fd);
    /* Smaller than its range. */
    fd = sealed_memfd(a.range.size - 4096, AGNOCAST_SEGMENT_SEALS);
    expect_error(&a, attach(&a, 0, a.range.base, a.range.size, fd), -EINVAL, "bytes");
    close(fd);
    /* Another range than the one given, an area never grown. */
    fd = sealed_memfd(a.range.size, AGNOCAST_SEGMENT_SEALS);
    expect_error(&a, attach(&a, 0, a.range.base + (2u << 20), a.range.size, fd), -EINVAL, "not 0x");
    expect_error(&a, attach(&a, 3, a.range.base, a.range.size, fd), -EINVAL, "no growth area 3");
    expect_ok(&a, attach(&a, 0, a.range.base, a.range.size, fd));
    expect_error(&a, attach(&a, 0, a.range.base, a.range.size, fd), -EALREADY, "already");
    a.mfd = fd;
    expect_ok(&a, add_endpoint(&a, AGNOCAST_MSG_ADD_PUBLISHER, 0, 1, "/early"));
    peer_close(&a);
}

/* A publisher's wake channel reaches the subscriber it names, and only one it shares a topic
 * with; it must be the read end of a pipe. */
static void test_broker_hand_wake(void **state)
{
    struct fixture *fx = *state;
    struct agnocast_wire_notice_process req = {0};
    struct peer pub, sub, stranger;
    struct reply r;
    uint32_t id;
    int sv[2], efd = eventfd(0, EFD_CLOEXEC);
    char byte = 7, got = 0;

    peer_open(fx, &pub);
    peer_register(&pub, 0);
    peer_open(fx, &sub);
    peer_register(&sub, 0);
    peer_open(fx, &stranger);
    peer_register(&stranger, 0);
    expect_ok(&sub, add_endpoint(&sub, AGNOCAST_MSG_ADD_SUBSCRIPTION, 0, 1, "/wake"));
    id = add_endpoint(&pub, AGNOCAST_MSG_ADD_PUBLISHER, 0, 1, "/wake");
    expect_notice(&pub, &r, AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED, &sub, 0, AGNOCAST_NOTICE_ANNOUNCE,
                  "/wake");
    assert_subscriber_segment(&r, &sub);
    expect_ok(&pub, id);
    expect_notice(&sub, &r, AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED, &pub, 0, 0, "/wake");
    close_fds(&r);

    assert_int_equal(pipe2(sv, O_CLOEXEC | O_NONBLOCK), 0); /* sv[0] read, sv[1] write */
    req.pid = (uint32_t)sub.pid;
    /* Not a pipe, a pipe's write end; nobody by that pid; a process that shares no topic. */
    expect_error(&pub, request(&pub, AGNOCAST_MSG_HAND_WAKE, &req, sizeof(req), &efd, 1), -EINVAL,
                 "read end of a pipe");
    expect_error(&pub, request(&pub, AGNOCAST_MSG_HAND_WAKE, &req, sizeof(req), &sv[1], 1), -EINVAL,
                 "read end of a pipe");
    req.pid = 1;
    expect_error(&pub, request(&pub, AGNOCAST_MSG_HAND_WAKE, &req, sizeof(req), &sv[0], 1), -ENOENT,
                 "no other process 1");
    req.pid = (uint32_t)stranger.pid;
    expect_error(&pub, request(&pub, AGNOCAST_MSG_HAND_WAKE, &req, sizeof(req), &sv[0], 1), -EPERM,
                 "shares no topic");
    req.pid = (uint32_t)sub.pid;
    expect_ok(&pub, request(&pub, AGNOCAST_MSG_HAND_WAKE, &req, sizeof(req), &sv[0], 1));
    expect_kind(sub.fd, &r, AGNOCAST_MSG_NOTICE_WAKE_ADDED);
    assert_int_equal(((const struct agnocast_wire_notice_process *)r.f.payload)->pid, pub.pid);
    assert_int_equal(r.nfds, 1);
    /* What the publisher writes on its end arrives on the subscriber's. */
    assert_int_equal(write(sv[1], &byte, 1), 1);
    assert_int_equal(read(r.fds[0], &got, 1), 1);
    assert_int_equal(got, 7);
    close_fds(&r);
    close(sv[0]);
    close(sv[1]);
    close(efd);
    peer_close(&stranger);
    peer_close(&sub);
    peer_close(&pub);
}

/* A growth area reaches the subscribers that read the process, and tools can ask for any area. */
static void test_broker_growth_area_reaches_subscribers(void **state)
{
    struct fixture *fx = *state;
    struct agnocast_wire_register grow = {.pool_size = 1u << 20, .flags = AGNOCAST_REGISTER_GROW};
    struct agnocast_wire_segment_query q = {0};
    struct peer pub, sub, ctl;
    struct reply r;
    uint32_t id;
    int afd;

    peer_open(fx, &pub);
    peer_register(&pub, 0);
    peer_open(fx, &sub);
    peer_register(&sub, 0);
    expect_ok(&sub, add_endpoint(&sub, AGNOCAST_MSG_ADD_SUBSCRIPTION, 0, 1, "/grow"));
    id = add_endpoint(&pub, AGNOCAST_MSG_ADD_PUBLISHER, 0, 1, "/grow");
    expect_notice(&pub, &r, AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED, &sub, 0, AGNOCAST_NOTICE_ANNOUNCE,
                  "/grow");
    assert_subscriber_segment(&r, &sub);
    expect_ok(&pub, id);
    expect_notice(&sub, &r, AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED, &pub, 0, 0, "/grow");
    assert_segment_of(&r, &pub);

    id = request(&pub, AGNOCAST_MSG_REGISTER_PROCESS, &grow, sizeof(grow), NULL, 0);
    expect_kind(pub.fd, &r, AGNOCAST_MSG_REGISTER_REPLY);
    const struct agnocast_wire_register_reply *area = r.f.payload;
    uint64_t abase = area->base, asize = area->size;
    afd = sealed_memfd(asize, AGNOCAST_SEGMENT_SEALS);
    expect_ok(&pub, attach(&pub, 1, abase, asize, afd));
    expect_kind(sub.fd, &r, AGNOCAST_MSG_NOTICE_AREA_ADDED);
    const struct agnocast_wire_segment *n = r.f.payload;
    assert_int_equal(n->pid, pub.pid);
    assert_int_equal(n->area, 1);
    assert_int_equal(n->base, abase);
    assert_int_equal(n->size, asize);
    assert_int_equal(r.nfds, 1);
    assert_same_file(r.fds[0], afd);
    close_fds(&r);

    /* A tool (unregistered) gets a read-only view of any area of a registered process. */
    peer_open(fx, &ctl);
    q.pid = (uint32_t)pub.pid;
    q.area = 1;
    id = request(&ctl, AGNOCAST_MSG_GET_SEGMENT, &q, sizeof(q), NULL, 0);
    expect_kind(ctl.fd, &r, AGNOCAST_MSG_SEGMENT_REPLY);
    assert_int_equal(r.nfds, 1);
    assert_same_file(r.fds[0], afd);
    /* The seals hold for whoever holds the descriptor. */
    assert_true(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, r.fds[0], 0) == MAP_FAILED);
    assert_int_equal(ftruncate(r.fds[0], 4096), -1);
    close_fds(&r);
    q.area = 2;
    expect_error(&ctl, request(&ctl, AGNOCAST_MSG_GET_SEGMENT, &q, sizeof(q), NULL, 0), -ENOENT,
                 "no attached area 2");
    q.pid = 1;
    q.area = 0;
    expect_error(&ctl, request(&ctl, AGNOCAST_MSG_GET_SEGMENT, &q, sizeof(q), NULL, 0), -ESRCH,
                 "no process 1");
    /* A subscriber arriving later gets the area right after the publisher's segment. */
    struct peer late;
    peer_open(fx, &late);
    peer_register(&late, 0);
    id = add_endpoint(&late, AGNOCAST_MSG_ADD_SUBSCRIPTION, 0, 1, "/grow");
    expect_notice(&late, &r, AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED, &pub, 0, 0, "/grow");
    assert_segment_of(&r, &pub);
    expect_kind(late.fd, &r, AGNOCAST_MSG_NOTICE_AREA_ADDED);
    assert_int_equal(((const struct agnocast_wire_segment *)r.f.payload)->area, 1);
    close_fds(&r);
    expect_ok(&late, id);
    close(afd);
    peer_close(&late);
    peer_close(&ctl);
    peer_close(&sub);
    peer_close(&pub);
}

static void test_broker_garbage_drops_only_that_client(void **state)
{
    struct fixture *fx = *state;
    const char garbage[] = "\x01\x02 not a frame \n\x1b[31m";
    struct agnocast_wire_query q;
    struct peer bad, good;
    struct reply r;
    uint32_t id;

    peer_open(fx, &bad);
    peer_open(fx, &good);
    peer_register(&good, 0);
    assert_int_equal(agnocast_proto_send(bad.fd, garbage, sizeof(garbage), NULL, 0), 0);
    expect_closed(bad.fd);
    memset(&q, 0, sizeof(q));
    id = request(&good, AGNOCAST_MSG_LIST_PROCESSES, &q, sizeof(q), NULL, 0);
    expect_kind(good.fd, &r, AGNOCAST_MSG_PROCESS_LIST);
    assert_int_equal(r.f.request_id, id);
    assert_int_equal(r.f.list_total, 1);
    peer_close(&bad);
    peer_close(&good);
}

static void test_broker_process_gone(void **state)
{
    struct fixture *fx = *state;
    struct agnocast_wire_query q;
    struct peer a, b;
    struct reply r;
    uint32_t id;

    peer_open(fx, &a);
    peer_register(&a, 0);
    peer_open(fx, &b);
    peer_register(&b, 0);
    id = add_endpoint(&a, AGNOCAST_MSG_ADD_PUBLISHER, 0, 1, "/gone");
    expect_ok(&a, id);
    id = add_endpoint(&b, AGNOCAST_MSG_ADD_SUBSCRIPTION, 0, 1, "/gone");
    expect_notice(&b, &r, AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED, &a, 0, 0, "/gone");
    assert_segment_of(&r, &a);
    expect_ok(&b, id);

    memset(&q, 0, sizeof(q));
    id = request(&b, AGNOCAST_MSG_LIST_PROCESSES, &q, sizeof(q), NULL, 0);
    expect_kind(b.fd, &r, AGNOCAST_MSG_PROCESS_LIST);
    assert_int_equal(r.f.list_total, 2);

    peer_close(&a);
    expect_kind(b.fd, &r, AGNOCAST_MSG_NOTICE_PROCESS_GONE);
    assert_int_equal(((const struct agnocast_wire_notice_process *)r.f.payload)->pid, a.pid);
    id = request(&b, AGNOCAST_MSG_LIST_PROCESSES, &q, sizeof(q), NULL, 0);
    expect_kind(b.fd, &r, AGNOCAST_MSG_PROCESS_LIST);
    assert_int_equal(r.f.request_id, id);
    assert_int_equal(r.f.list_total, 1);
    assert_int_equal(r.f.list_count, 1);
    const struct agnocast_wire_process_entry *e = r.f.entries;
    assert_int_equal(e[0].pid, b.pid);
    assert_int_equal(e[0].subscriptions, 1);
    assert_int_equal(e[0].base, b.range.base);
    peer_close(&b);
}

static void test_broker_queries(void **state)
{
    struct fixture *fx = *state;
    struct agnocast_wire_query q;
    struct peer a, ctl;
    struct reply r;
    uint32_t id;

    peer_open(fx, &a);
    peer_register(&a, 0);
    expect_ok(&a, add_endpoint(&a, AGNOCAST_MSG_ADD_PUBLISHER, 0, 1, "/b"));
    expect_ok(&a, add_endpoint(&a, AGNOCAST_MSG_ADD_PUBLISHER, 1, 1, "/a"));
    /* A subscription in the same process hears of both publishers. */
    id = add_endpoint(&a, AGNOCAST_MSG_ADD_SUBSCRIPTION, 0, 1, "/a");
    expect_notice(&a, &r, AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED, &a, 1, 0, "/a");
    assert_segment_of(&r, &a);
    expect_notice(&a, &r, AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED, &a, 0, 0, "/a");
    assert_subscriber_segment(&r, &a);
    expect_ok(&a, id);

    peer_open(fx, &ctl); /* an unregistered query client, like agnocastctl */
    memset(&q, 0, sizeof(q));
    id = request(&ctl, AGNOCAST_MSG_LIST_TOPICS, &q, sizeof(q), NULL, 0);
    expect_kind(ctl.fd, &r, AGNOCAST_MSG_TOPIC_LIST);
    assert_int_equal(r.f.request_id, id);
    assert_int_equal(r.f.list_total, 2);
    const struct agnocast_wire_topic_entry *t = r.f.entries;
    assert_string_equal(t[0].topic, "/a");
    assert_int_equal(t[0].publishers, 1);
    assert_int_equal(t[0].subscriptions, 1);
    assert_string_equal(t[1].topic, "/b");

    assert_int_equal(agnocast_topic_field_set(q.topic, "/a"), 0);
    id = request(&ctl, AGNOCAST_MSG_TOPIC_INFO, &q, sizeof(q), NULL, 0);
    expect_kind(ctl.fd, &r, AGNOCAST_MSG_TOPIC_INFO_REPLY);
    assert_int_equal(r.f.list_count, 2);
    const struct agnocast_wire_endpoint_entry *ep = r.f.entries;
    assert_true(ep[0].is_publisher && ep[0].pid == (uint32_t)a.pid && ep[0].index == 1);
    assert_true(!ep[1].is_publisher && ep[1].index == 0);

    assert_int_equal(agnocast_topic_field_set(q.topic, "/nope"), 0);
    id = request(&ctl, AGNOCAST_MSG_TOPIC_INFO, &q, sizeof(q), NULL, 0);
    expect_error(&ctl, id, -ENOENT, "no topic /nope: list topics with `agnocastctl list-topics`");

    id = request(&ctl, AGNOCAST_MSG_STATS, NULL, 0, NULL, 0);
    expect_kind(ctl.fd, &r, AGNOCAST_MSG_STATS_REPLY);
    const struct agnocast_wire_stats_entry *s = r.f.entries;
    uint64_t hello = 0, add_pub = 0, stats = 0;
    for (uint32_t i = 0; i < r.f.list_count; i++) {
        if (s[i].kind == AGNOCAST_MSG_HELLO)
            hello = s[i].count;
        if (s[i].kind == AGNOCAST_MSG_ADD_PUBLISHER)
            add_pub = s[i].count;
        if (s[i].kind == AGNOCAST_MSG_STATS)
            stats = s[i].count;
    }
    assert_true(hello >= 2); /* the fixture's own probe connections never said HELLO */
    assert_int_equal(add_pub, 2);
    assert_int_equal(stats, 1);
    peer_close(&a);
    peer_close(&ctl);
}

/* Reads until the reply to `id`, skipping notices (which may arrive at any time). */
static void expect_reply(struct peer *p, uint32_t id, uint16_t kind)
{
    struct reply r;

    for (;;) {
        assert_true(recv_frame(p->fd, &r) > 0);
        close_fds(&r);
        if (r.f.kind >= AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED &&
            r.f.kind <= AGNOCAST_MSG_NOTICE_PROCESS_GONE)
            continue;
        assert_int_equal(r.f.kind, kind);
        assert_int_equal(r.f.request_id, id);
        return;
    }
}

static void test_broker_drops_a_client_that_does_not_read(void **state)
{
    struct fixture *fx = *state;
    struct agnocast_wire_endpoint_remove rm = {.index = 0};
    struct agnocast_wire_query q;
    struct peer sub, pub;
    struct reply r;
    guint total = 2;

    peer_open(fx, &sub);
    peer_register(&sub, 0);
    expect_ok(&sub, add_endpoint(&sub, AGNOCAST_MSG_ADD_SUBSCRIPTION, 0, 1, "/flood"));
    peer_open(fx, &pub);
    peer_register(&pub, 0);
    /* Each round sends `sub` two notices it never reads; its queue overflows at some point. */
    memset(&q, 0, sizeof(q));
    for (int i = 0; i < 6000 && total > 1; i++) {
        expect_reply(&pub, add_endpoint(&pub, AGNOCAST_MSG_ADD_PUBLISHER, 0, 1, "/flood"),
                     AGNOCAST_MSG_OK);
        expect_reply(&pub, request(&pub, AGNOCAST_MSG_REMOVE_PUBLISHER, &rm, sizeof(rm), NULL, 0),
                     AGNOCAST_MSG_OK);
        if (i % 500 == 499) {
            uint32_t id = request(&pub, AGNOCAST_MSG_LIST_PROCESSES, &q, sizeof(q), NULL, 0);
            for (;;) {
                assert_true(recv_frame(pub.fd, &r) > 0);
                close_fds(&r);
                if (r.f.kind == AGNOCAST_MSG_PROCESS_LIST && r.f.request_id == id)
                    break;
            }
            total = r.f.list_total;
        }
    }
    assert_int_equal(total, 1);
    /* The dropped connection reads what was sent, then end of file. */
    while (recv_frame(sub.fd, &r) > 0)
        close_fds(&r);
    peer_close(&sub);
    peer_close(&pub);
}

static void test_broker_sigterm_exits_cleanly(void **state)
{
    struct fixture *fx = *state;
    struct stat st;
    int status = 0;

    assert_int_equal(stat(fx->b.socket, &st), 0);
    assert_int_equal(kill(fx->b.pid, SIGTERM), 0);
    assert_int_equal(waitpid(fx->b.pid, &status, 0), fx->b.pid);
    fx->b.pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(stat(fx->b.socket, &st), -1);
    assert_int_equal(errno, ENOENT);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_broker_hello, broker_setup, broker_teardown),
        cmocka_unit_test_setup_teardown(test_broker_version_mismatch, broker_setup,
                                        broker_teardown),
        cmocka_unit_test_setup_teardown(test_broker_request_before_hello_drops, broker_setup,
                                        broker_teardown),
        cmocka_unit_test_setup_teardown(test_broker_register, broker_setup, broker_teardown),
        cmocka_unit_test_setup_teardown(test_broker_publisher_then_subscriber_notices, broker_setup,
                                        broker_teardown),
        cmocka_unit_test_setup_teardown(test_broker_attach_rules, broker_setup, broker_teardown),
        cmocka_unit_test_setup_teardown(test_broker_growth_area_reaches_subscribers, broker_setup,
                                        broker_teardown),
        cmocka_unit_test_setup_teardown(test_broker_hand_wake, broker_setup, broker_teardown),
        cmocka_unit_test_setup_teardown(test_broker_garbage_drops_only_that_client, broker_setup,
                                        broker_teardown),
        cmocka_unit_test_setup_teardown(test_broker_process_gone, broker_setup, broker_teardown),
        cmocka_unit_test_setup_teardown(test_broker_queries, broker_setup, broker_teardown),
        cmocka_unit_test_setup_teardown(test_broker_drops_a_client_that_does_not_read, broker_setup,
                                        broker_teardown),
        cmocka_unit_test_setup_teardown(test_broker_sigterm_exits_cleanly, broker_setup,
                                        broker_teardown),
    };

    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-AGNOCASTD\n", argv[0]);
        return 2;
    }
    setenv("AGNOCAST_TEST_BROKER", argv[1], 1);
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("broker", tests, NULL, NULL);
}
