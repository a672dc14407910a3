/* Raw protocol clients of the broker, and agents that hold connections for a test. */
#include "harness-raw.h"

#include "harness-util.h"
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Serves the test: each path it sends becomes a connection made here, relayed to a socketpair
 * whose other end goes back to the test; the broker sees the agent send every frame. */
static void agent_main(int ctl)
{
    union agnocast_frame_buffer buf;
    struct relay r = {0};

    for (;;) {
        int rc = relay_step(&r, ctl), sv[2] = {-1, -1}, fd;
        ssize_t n;
        if (rc < 0)
            _exit(1);
        if (rc == 0)
            continue;
        n = recv(ctl, buf.bytes, sizeof(buf.bytes) - 1, 0);
        if (n <= 0)
            _exit(0);
        buf.bytes[n] = '\0';
        fd = socket_connect((const char *)buf.bytes);
        if (fd >= 0 && (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
                        relay_add(&r, fd, sv[1]) < 0)) {
            close(fd);
            fd = -1;
        }
        /* The transport sends whole headers at least: a 16-byte token carries the test's end. */
        if (agnocast_proto_send(ctl, "connected.......", 16, fd >= 0 ? &sv[0] : NULL,
                                fd >= 0 ? 1 : 0) < 0)
            _exit(1);
        if (sv[0] >= 0)
            close(sv[0]);
    }
}

int agent_start(struct agent *a)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    fflush(NULL);
    a->pid = fork();
    if (a->pid < 0)
        return -1;
    if (a->pid == 0) {
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        /* Dies with the test, and holds none of its output pipes open. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(devnull, 1);
        dup2(devnull, 2);
        /* Copies of the test's sockets here would keep them open after the test closes them. */
        relay_close_others(&sv[1], 1);
        agent_main(sv[1]);
    }
    close(sv[1]);
    a->ctl = sv[0];
    return 0;
}

int agent_connect(struct agent *a, const char *path)
{
    char token[16];
    int fd = -1, nfds = 1;

    if (send(a->ctl, path, strlen(path), MSG_NOSIGNAL) < 0)
        return -1;
    if (agnocast_proto_recv(a->ctl, token, sizeof(token), &fd, &nfds) != 16 || nfds != 1)
        return -1;
    return fd;
}

void agent_stop(struct agent *a)
{
    if (a->pid <= 0)
        return;
    close(a->ctl);
    kill(a->pid, SIGKILL);
    waitpid(a->pid, NULL, 0);
    a->pid = 0;
}

void raw_peer_init(struct raw_peer *p, int fd)
{
    memset(p, 0, sizeof(*p));
    p->fd = fd;
    p->efd = p->mfd = -1;
    p->next_id = 1;
}

void raw_peer_close(struct raw_peer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    if (p->efd >= 0)
        close(p->efd);
    if (p->mfd >= 0)
        close(p->mfd);
    p->fd = p->efd = p->mfd = -1;
}

uint32_t raw_request(struct raw_peer *p, uint16_t kind, const void *payload, size_t len,
                     const int *fds, int nfds)
{
    union agnocast_frame_buffer buf;
    uint32_t id = p->next_id++;
    ssize_t n = agnocast_proto_encode(buf.bytes, sizeof(buf.bytes), kind, id, payload, len);

    if (n < 0 || agnocast_proto_send(p->fd, buf.bytes, (size_t)n, fds, nfds) < 0)
        return 0;
    return id;
}

ssize_t raw_recv(struct raw_peer *p, struct raw_reply *r, bool skip_notices)
{
    for (;;) {
        struct pollfd pf = {.fd = p->fd, .events = POLLIN};
        int fds[AGNOCAST_PROTO_FDS_MAX], nfds = AGNOCAST_PROTO_FDS_MAX;

        if (poll(&pf, 1, RAW_TIMEOUT_MS) != 1)
            return r->len = -ETIMEDOUT;
        r->len = agnocast_proto_recv(p->fd, r->buf.bytes, sizeof(r->buf.bytes), fds, &nfds);
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        if (r->len == -ECONNRESET)
            r->len = 0;
        if (r->len <= 0)
            return r->len;
        if (agnocast_proto_decode(r->buf.bytes, (size_t)r->len, &r->f) < 0)
            return r->len = -EBADMSG;
        if (skip_notices && r->f.kind >= AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED &&
            r->f.kind <= AGNOCAST_MSG_NOTICE_PROCESS_GONE)
            continue;
        return r->len;
    }
}

int raw_hello(struct raw_peer *p)
{
    struct agnocast_wire_hello h = {0};
    struct raw_reply r;

    if (raw_request(p, AGNOCAST_MSG_HELLO, &h, sizeof(h), NULL, 0) == 0)
        return -1;
    return raw_recv(p, &r, true) > 0 && r.f.kind == AGNOCAST_MSG_HELLO_REPLY ? 0 : -1;
}

/* The reply to the last request: 0 on `ok_kind`, the ERROR's code, or -EPROTO. */
int raw_reply_to(struct raw_peer *p, uint32_t id, uint16_t ok_kind, char *why, size_t cap)
{
    struct raw_reply r;

    if (why != NULL && cap > 0)
        why[0] = '\0';
    if (id == 0)
        return -EPIPE;
    if (raw_recv(p, &r, true) <= 0 || r.f.request_id != id)
        return -EPROTO;
    if (r.f.kind == ok_kind) {
        if (ok_kind == AGNOCAST_MSG_REGISTER_REPLY)
            memcpy(&p->range, r.f.payload, sizeof(p->range));
        return 0;
    }
    if (r.f.kind != AGNOCAST_MSG_ERROR)
        return -EPROTO;
    const struct agnocast_wire_error *e = r.f.payload;
    if (why != NULL)
        snprintf(why, cap, "%s", e->message);
    return e->code;
}

int raw_register(struct raw_peer *p, uint64_t pool, uint64_t want_base, char *why, size_t cap)
{
    struct agnocast_wire_register req = {.pool_size = pool, .want_base = want_base};

    uint32_t id = raw_request(p, AGNOCAST_MSG_REGISTER_PROCESS, &req, sizeof(req), NULL, 0);
    int rc = raw_reply_to(p, id, AGNOCAST_MSG_REGISTER_REPLY, why, cap);
    if (rc != 0)
        return rc;
    /* As the library does: the segment, a sealed memfd of the range, before any endpoint. */
    struct agnocast_wire_segment seg = {.base = p->range.base, .size = p->range.size};
    if (p->mfd < 0) {
        p->mfd = memfd_create("agnocast-raw-peer", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (p->mfd < 0 || ftruncate(p->mfd, (off_t)p->range.size) < 0 ||
            fcntl(p->mfd, F_ADD_SEALS, AGNOCAST_SEGMENT_SEALS) < 0)
            return -errno;
    }
    id = raw_request(p, AGNOCAST_MSG_ATTACH_SEGMENT, &seg, sizeof(seg), &p->mfd, 1);
    return raw_reply_to(p, id, AGNOCAST_MSG_OK, why, cap);
}

int raw_add(struct raw_peer *p, bool publisher, uint32_t index, const char *topic, char *why,
            size_t cap)
{
    struct agnocast_wire_endpoint req;

    memset(&req, 0, sizeof(req));
    req.index = index;
    req.qos.depth = 1;
    req.qos.reliability = AGNOCAST_RELIABILITY_RELIABLE;
    if (agnocast_topic_field_set(req.topic, topic) < 0)
        return -EINVAL;
    uint32_t id =
        raw_request(p, publisher ? AGNOCAST_MSG_ADD_PUBLISHER : AGNOCAST_MSG_ADD_SUBSCRIPTION, &req,
                    sizeof(req), NULL, 0);
    return raw_reply_to(p, id, AGNOCAST_MSG_OK, why, cap);
}

long raw_list_total(struct raw_peer *p, uint16_t kind)
{
    struct agnocast_wire_query q;
    struct raw_reply r;
    uint32_t id;

    memset(&q, 0, sizeof(q));
    id = raw_request(p, kind, &q, sizeof(q), NULL, 0);
    if (id == 0 || raw_recv(p, &r, true) <= 0 || r.f.request_id != id ||
        r.f.kind == AGNOCAST_MSG_ERROR)
        return -1;
    return (long)r.f.list_total;
}
