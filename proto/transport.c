/* Moving one frame and its descriptors over a SOCK_SEQPACKET socket. */
#include "agnocast-proto.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Room for the descriptors a frame may carry, plus credentials in case the socket has
 * SO_PASSCRED set: without it every frame would arrive with MSG_CTRUNC.
 */
union cmsg_space {
    struct cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(int) * AGNOCAST_PROTO_FDS_MAX) + CMSG_SPACE(sizeof(struct ucred))];
};

int agnocast_proto_send(int sock, const void *frame, size_t len, const int *fds, int nfds)
{
    if (sock < 0 || !frame || len < sizeof(struct agnocast_wire_header) || nfds < 0 ||
        nfds > AGNOCAST_PROTO_FDS_MAX || (nfds > 0 && !fds))
        return -EINVAL;
    if (len > AGNOCAST_PROTO_FRAME_MAX)
        return -EMSGSIZE;

    struct iovec iov = {.iov_base = (void *)frame, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    union cmsg_space cbuf;
    if (nfds > 0) {
        memset(&cbuf, 0, sizeof(cbuf));
        msg.msg_control = cbuf.bytes;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)nfds);
    }

    ssize_t n;
    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    /* A seqpacket send is all or nothing; a short count would mean a torn frame. */
    return (size_t)n == len ? 0 : -EIO;
}

/* Hands out the descriptors in `msg`: the first `keep` into fds, the rest closed. */
static int take_fds(struct msghdr *msg, int *fds, int keep)
{
    int got = 0;
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg; cmsg = CMSG_NXTHDR(msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
            cmsg->cmsg_len < CMSG_LEN(0))
            continue;
        size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(cmsg);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, data + i * sizeof(int), sizeof(int));
            if (got < keep)
                fds[got++] = fd;
            else
                close(fd);
        }
    }
    return got;
}

ssize_t agnocast_proto_recv_cred(int sock, void *buf, size_t cap, int *fds, int *nfds,
                                 struct ucred *cred, int *has_cred)
{
    int want = nfds ? *nfds : 0;
    if (nfds)
        *nfds = 0;
    if (has_cred)
        *has_cred = 0;
    if (sock < 0 || !buf || cap == 0 || want < 0 || (want > 0 && !fds) || (!cred != !has_cred))
        return -EINVAL;
    for (int i = 0; i < want; i++)
        fds[i] = -1;

    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    union cmsg_space cbuf;
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = cbuf.bytes,
        .msg_controllen = sizeof(cbuf.bytes),
    };
    ssize_t n;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;

    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        /* The frame or its descriptors are incomplete: nothing of it is usable. */
        take_fds(&msg, NULL, 0);
        return -EMSGSIZE;
    }
    if (n == 0) {
        take_fds(&msg, NULL, 0);
        return 0;
    }
    int got = take_fds(&msg, fds, want);
    if (nfds)
        *nfds = got;
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cred && cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_CREDENTIALS &&
            cmsg->cmsg_len >= CMSG_LEN(sizeof(*cred))) {
            memcpy(cred, CMSG_DATA(cmsg), sizeof(*cred));
            *has_cred = 1;
        }
    }
    return n;
}

ssize_t agnocast_proto_recv(int sock, void *buf, size_t cap, int *fds, int *nfds)
{
    return agnocast_proto_recv_cred(sock, buf, cap, fds, nfds, NULL, NULL);
}
