/* A helper process that relays frames and descriptors between a test and the broker. */
#include "relay.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define RELAY_FRAME_MAX (1 << 17) /* above the protocol's frame size: oversized ones pass too */
#define RELAY_FDS_MAX   16

int relay_add(struct relay *r, int a, int b)
{
    if (r->n == RELAY_PAIRS_MAX)
        return -1;
    r->a[r->n] = a;
    r->b[r->n] = b;
    r->n++;
    return 0;
}

static void drop_pair(struct relay *r, int i)
{
    close(r->a[i]);
    close(r->b[i]);
    r->n--;
    r->a[i] = r->a[r->n];
    r->b[i] = r->b[r->n];
}

/* Moves one datagram with its descriptors from `from` to `to`; -1 when `from` ended or either
 * side failed. A zero-length datagram cannot be told from the end: it ends the pair. */
static int pass_one(int from, int to)
{
    static unsigned char buf[RELAY_FRAME_MAX];
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(int) * RELAY_FDS_MAX)];
    } cbuf;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = cbuf.bytes,
                         .msg_controllen = sizeof(cbuf.bytes)};
    int fds[RELAY_FDS_MAX], nfds = 0, rc = 0;
    ssize_t n;

    do {
        n = recvmsg(from, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n >= 0 && c != NULL; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++)
                if (nfds < RELAY_FDS_MAX)
                    memcpy(&fds[nfds++], CMSG_DATA(c) + k * sizeof(int), sizeof(int));
    if (n <= 0) {
        rc = -1;
    } else {
        struct iovec out_iov = {.iov_base = buf, .iov_len = (size_t)n};
        struct msghdr out = {.msg_iov = &out_iov, .msg_iovlen = 1};
        if (nfds > 0) {
            memset(&cbuf, 0, sizeof(cbuf));
            out.msg_control = cbuf.bytes;
            out.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
            struct cmsghdr *c = CMSG_FIRSTHDR(&out);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
            memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
        }
        ssize_t sent;
        do {
            sent = sendmsg(to, &out, MSG_NOSIGNAL);
        } while (sent < 0 && errno == EINTR);
        rc = sent == n ? 0 : -1;
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    return rc;
}

int relay_step(struct relay *r, int extra)
{
    struct pollfd p[2 * RELAY_PAIRS_MAX + 1];
    int np = 0;

    if (r->n == 0 && extra < 0)
        return -1;
    for (int i = 0; i < r->n; i++) {
        p[np++] = (struct pollfd){.fd = r->a[i], .events = POLLIN};
        p[np++] = (struct pollfd){.fd = r->b[i], .events = POLLIN};
    }
    if (extra >= 0)
        p[np++] = (struct pollfd){.fd = extra, .events = POLLIN};
    if (poll(p, (nfds_t)np, -1) < 0)
        return errno == EINTR ? 0 : -1;
    if (extra >= 0 && p[np - 1].revents != 0)
        return 1;
    /* Backwards, so that dropping pair i (the last one moves into its slot) skips nothing. */
    for (int i = r->n - 1; i >= 0; i--) {
        short ra = p[2 * i].revents, rb = p[2 * i + 1].revents;
        if ((ra != 0 && pass_one(r->a[i], r->b[i]) < 0) ||
            (rb != 0 && pass_one(r->b[i], r->a[i]) < 0))
            drop_pair(r, i);
    }
    return 0;
}

void relay_close_others(const int *keep, int nkeep)
{
    DIR *d = opendir("/proc/self/fd");
    int self = d != NULL ? dirfd(d) : -1;
    int fds[4096], n = 0;
    struct dirent *e;

    while (d != NULL && (e = readdir(d)) != NULL && n < (int)(sizeof(fds) / sizeof(fds[0]))) {
        int fd = atoi(e->d_name);
        bool kept = fd <= 2 || fd == self || e->d_name[0] == '.';
        for (int i = 0; i < nkeep && !kept; i++)
            kept = keep[i] == fd;
        if (!kept)
            fds[n++] = fd;
    }
    if (d != NULL)
        closedir(d);
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

pid_t relay_spawn(const char *path, int n, int *out)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int conn[RELAY_PAIRS_MAX], mine[RELAY_PAIRS_MAX], theirs[RELAY_PAIRS_MAX], status[2];
    char ok = 0;
    pid_t pid;

    if (n < 1 || n > RELAY_PAIRS_MAX || strlen(path) >= sizeof(addr.sun_path) ||
        pipe2(status, O_CLOEXEC) < 0)
        return -1;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    for (int i = 0; i < n; i++) {
        int sv[2];
        conn[i] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
            sv[0] = sv[1] = -1;
        theirs[i] = sv[0]; /* the test's */
        mine[i] = sv[1];
    }
    pid = fork();
    if (pid == 0) {
        struct relay r = {0};
        int keep[2 * RELAY_PAIRS_MAX + 1], nkeep = 0;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        keep[nkeep++] = status[1];
        for (int i = 0; i < n; i++) {
            keep[nkeep++] = conn[i];
            keep[nkeep++] = mine[i];
        }
        relay_close_others(keep, nkeep);
        for (int i = 0; i < n; i++)
            if (conn[i] < 0 || mine[i] < 0 ||
                connect(conn[i], (struct sockaddr *)&addr, sizeof(addr)) < 0)
                _exit(1);
        ok = 1;
        if (write(status[1], &ok, 1) != 1)
            _exit(1);
        close(status[1]);
        for (int i = 0; i < n; i++)
            relay_add(&r, conn[i], mine[i]);
        while (relay_step(&r, -1) >= 0)
            ;
        _exit(0);
    }
    close(status[1]);
    for (int i = 0; i < n; i++) {
        if (conn[i] >= 0)
            close(conn[i]);
        if (mine[i] >= 0)
            close(mine[i]);
    }
    if (pid > 0 && read(status[0], &ok, 1) == 1 && ok == 1) {
        close(status[0]);
        for (int i = 0; i < n; i++)
            out[i] = theirs[i];
        return pid;
    }
    close(status[0]);
    for (int i = 0; i < n; i++)
        if (theirs[i] >= 0)
            close(theirs[i]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return -1;
}
