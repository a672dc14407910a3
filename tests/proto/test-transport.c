/* Unit tests of sending and receiving frames and descriptors over SOCK_SEQPACKET socketpairs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto-sample.h"

static union agnocast_frame_buffer out_buf;
static union agnocast_frame_buffer in_buf;

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int setup_pair(void **state)
{
    static int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    *state = sv;
    return 0;
}

static int teardown_pair(void **state)
{
    int *sv = *state;
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return 0;
}

static size_t sample_frame(uint16_t kind)
{
    ssize_t n = proto_sample_frame(kind, out_buf.bytes, sizeof(out_buf.bytes));
    assert_true(n >= 16);
    return (size_t)n;
}

/* Writes a byte through `w` and expects it out of `r`. */
static void assert_pipe_works(int w, int r)
{
    char c = 'x';
    assert_int_equal(write(w, "q", 1), 1);
    assert_int_equal(read(r, &c, 1), 1);
    assert_int_equal(c, 'q');
}

static void test_transport_frame_without_fds(void **state)
{
    int *sv = *state;
    size_t n = sample_frame(AGNOCAST_MSG_ADD_PUBLISHER);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, NULL, 0), 0);
    int fds[2] = {7, 7};
    int nfds = 2;
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), fds, &nfds),
                     (ssize_t)n);
    assert_int_equal(nfds, 0);
    assert_int_equal(fds[0], -1);
    assert_int_equal(fds[1], -1);
    assert_memory_equal(in_buf.bytes, out_buf.bytes, n);
    struct agnocast_frame f;
    assert_int_equal(agnocast_proto_decode(in_buf.bytes, n, &f), 0);
    assert_int_equal(f.kind, AGNOCAST_MSG_ADD_PUBLISHER);
}

static void test_transport_one_fd_arrives_working(void **state)
{
    int *sv = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    size_t n = sample_frame(AGNOCAST_MSG_REGISTER_PROCESS);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, &p[1], 1), 0);
    int fd = -1, nfds = 1;
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), &fd, &nfds),
                     (ssize_t)n);
    assert_int_equal(nfds, 1);
    assert_true(fd >= 0 && fd != p[1]);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_pipe_works(fd, p[0]);
    close(fd);
    close(p[0]);
    close(p[1]);
}

static void test_transport_two_fds_arrive_in_order(void **state)
{
    int *sv = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    size_t n = sample_frame(AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, p, 2), 0);
    close(p[0]);
    close(p[1]);
    int fds[2] = {-1, -1}, nfds = 2;
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), fds, &nfds),
                     (ssize_t)n);
    assert_int_equal(nfds, 2);
    assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
    assert_pipe_works(fds[1], fds[0]);
    close(fds[0]);
    close(fds[1]);
}

static void test_transport_extra_fds_are_closed(void **state)
{
    int *sv = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    int before = open_fds();
    size_t n = sample_frame(AGNOCAST_MSG_HELLO);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, p, 2), 0);
    int fd = -1, nfds = 1;
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), &fd, &nfds),
                     (ssize_t)n);
    assert_int_equal(nfds, 1);
    assert_int_equal(open_fds(), before + 1);
    close(fd);

    /* No room at all (nfds NULL): both are closed. */
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, p, 2), 0);
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), NULL, NULL),
                     (ssize_t)n);
    assert_int_equal(open_fds(), before);
    close(p[0]);
    close(p[1]);
}

static void test_transport_truncated_frame_is_emsgsize_without_leak(void **state)
{
    int *sv = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    int before = open_fds();
    size_t n = sample_frame(AGNOCAST_MSG_ADD_SUBSCRIPTION);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, p, 2), 0);
    int fds[2] = {-1, -1}, nfds = 2;
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, n - 1, fds, &nfds), -EMSGSIZE);
    assert_int_equal(nfds, 0);
    assert_int_equal(fds[0], -1);
    assert_int_equal(open_fds(), before);

    /* The truncated frame is gone; the next one arrives whole. */
    size_t m = sample_frame(AGNOCAST_MSG_OK);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, m, NULL, 0), 0);
    nfds = 2;
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), fds, &nfds),
                     (ssize_t)m);
    close(p[0]);
    close(p[1]);
}

/* More descriptors than the receive buffer has room for: MSG_CTRUNC, all of them closed. */
static void test_transport_too_many_fds_is_emsgsize_without_leak(void **state)
{
    int *sv = *state;
    enum { MANY = 16 };
    int fds[MANY];
    for (int i = 0; i < MANY; i++)
        fds[i] = STDERR_FILENO;
    size_t n = sample_frame(AGNOCAST_MSG_HELLO);
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(fds))];
    } cbuf;
    memset(&cbuf, 0, sizeof(cbuf));
    struct iovec iov = {.iov_base = out_buf.bytes, .iov_len = n};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = cbuf.bytes,
                         .msg_controllen = sizeof(cbuf.bytes)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(c), fds, sizeof(fds));
    assert_int_equal(sendmsg(sv[0], &msg, 0), (ssize_t)n);

    int before = open_fds();
    int got[2], ngot = 2;
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), got, &ngot),
                     -EMSGSIZE);
    assert_int_equal(ngot, 0);
    assert_int_equal(open_fds(), before);
}

static void test_transport_orderly_shutdown_is_zero(void **state)
{
    int *sv = *state;
    size_t n = sample_frame(AGNOCAST_MSG_STATS);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, NULL, 0), 0);
    close(sv[0]);
    sv[0] = -1;
    int fd = -1, nfds = 1;
    /* The frame sent before the close still arrives, then the end. */
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), &fd, &nfds),
                     (ssize_t)n);
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), &fd, &nfds), 0);
    assert_int_equal(nfds, 0);
}

static void test_transport_send_to_closed_peer_is_epipe(void **state)
{
    int *sv = *state;
    close(sv[1]);
    sv[1] = -1;
    size_t n = sample_frame(AGNOCAST_MSG_HELLO);
    /* MSG_NOSIGNAL: no SIGPIPE kills the test, an error comes back instead. */
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, NULL, 0), -EPIPE);
}

static void test_transport_empty_nonblocking_is_eagain(void **state)
{
    int *sv = *state;
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    int nfds = 0;
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), NULL, &nfds),
                     -EAGAIN);
}

static void test_transport_largest_frame_round_trips(void **state)
{
    int *sv = *state;
    int sz = 4 * AGNOCAST_PROTO_FRAME_MAX;
    assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
    for (size_t i = 0; i < sizeof(out_buf.bytes); i++)
        out_buf.bytes[i] = (unsigned char)(i * 7);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, AGNOCAST_PROTO_FRAME_MAX, NULL, 0),
                     0);
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), NULL, NULL),
                     AGNOCAST_PROTO_FRAME_MAX);
    assert_memory_equal(in_buf.bytes, out_buf.bytes, AGNOCAST_PROTO_FRAME_MAX);
}

static void test_transport_send_rejects_bad_arguments(void **state)
{
    int *sv = *state;
    int fds[3] = {0, 1, 2};
    size_t n = sample_frame(AGNOCAST_MSG_HELLO);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, fds, 3), -EINVAL);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, fds, -1), -EINVAL);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, NULL, 1), -EINVAL);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, 15, NULL, 0), -EINVAL);
    assert_int_equal(agnocast_proto_send(sv[0], NULL, n, NULL, 0), -EINVAL);
    assert_int_equal(agnocast_proto_send(-1, out_buf.bytes, n, NULL, 0), -EINVAL);
    assert_int_equal(
        agnocast_proto_send(sv[0], out_buf.bytes, AGNOCAST_PROTO_FRAME_MAX + 1, NULL, 0),
        -EMSGSIZE);
    int bad = -1;
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, &bad, 1), -EBADF);
    int nfds = 1;
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), NULL, &nfds),
                     -EINVAL);
    assert_int_equal(agnocast_proto_recv(sv[1], NULL, 16, NULL, NULL), -EINVAL);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    alarms++;
}

static void test_transport_recv_retries_after_signal(void **state)
{
    int *sv = *state;
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART: recvmsg sees EINTR */
    struct sigaction old;
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    size_t n = sample_frame(AGNOCAST_MSG_OK);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        usleep(300 * 1000);
        _exit(agnocast_proto_send(sv[0], out_buf.bytes, n, NULL, 0) == 0 ? 0 : 1);
    }
    alarms = 0;
    struct itimerval it = {.it_value = {.tv_usec = 50 * 1000}};
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
    ssize_t got = agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), NULL, NULL);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    sigaction(SIGALRM, &old, NULL);
    assert_int_equal(alarms, 1);
    assert_int_equal(got, (ssize_t)n);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* With SO_PASSCRED on the receiving end, the kernel names the sender: pid and uid. */
static void test_transport_recv_cred_names_the_sender(void **state)
{
    int *sv = *state;
    size_t n = sample_frame(AGNOCAST_MSG_HELLO);
    struct ucred cred = {0};
    int has_cred = -1, nfds = 0;

    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, NULL, 0), 0);
    assert_int_equal(agnocast_proto_recv_cred(sv[1], in_buf.bytes, sizeof(in_buf.bytes), NULL,
                                              &nfds, &cred, &has_cred),
                     (ssize_t)n);
    assert_int_equal(has_cred, 0); /* SO_PASSCRED is off: nothing to tell */
    assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int)), 0);
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, NULL, 0), 0);
    assert_int_equal(agnocast_proto_recv_cred(sv[1], in_buf.bytes, sizeof(in_buf.bytes), NULL,
                                              &nfds, &cred, &has_cred),
                     (ssize_t)n);
    assert_int_equal(has_cred, 1);
    assert_int_equal(cred.pid, getpid());
    assert_int_equal(cred.uid, getuid());
    /* ...and the plain receive takes the same frames, credentials or not. */
    assert_int_equal(agnocast_proto_send(sv[0], out_buf.bytes, n, NULL, 0), 0);
    assert_int_equal(agnocast_proto_recv(sv[1], in_buf.bytes, sizeof(in_buf.bytes), NULL, NULL),
                     (ssize_t)n);
    /* cred and has_cred come together. */
    assert_int_equal(agnocast_proto_recv_cred(sv[1], in_buf.bytes, sizeof(in_buf.bytes), NULL, NULL,
                                              &cred, NULL),
                     -EINVAL);
}

#define PAIR_TEST(f) cmocka_unit_test_setup_teardown(f, setup_pair, teardown_pair)

int main(void)
{
    const struct CMUnitTest tests[] = {
        PAIR_TEST(test_transport_frame_without_fds),
        PAIR_TEST(test_transport_one_fd_arrives_working),
        PAIR_TEST(test_transport_two_fds_arrive_in_order),
        PAIR_TEST(test_transport_extra_fds_are_closed),
        PAIR_TEST(test_transport_truncated_frame_is_emsgsize_without_leak),
        PAIR_TEST(test_transport_too_many_fds_is_emsgsize_without_leak),
        PAIR_TEST(test_transport_orderly_shutdown_is_zero),
        PAIR_TEST(test_transport_send_to_closed_peer_is_epipe),
        PAIR_TEST(test_transport_empty_nonblocking_is_eagain),
        PAIR_TEST(test_transport_largest_frame_round_trips),
        PAIR_TEST(test_transport_send_rejects_bad_arguments),
        PAIR_TEST(test_transport_recv_retries_after_signal),
        PAIR_TEST(test_transport_recv_cred_names_the_sender),
    };
    return cmocka_run_group_tests_name("transport", tests, NULL, NULL);
}
