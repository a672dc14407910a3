/*
 * Access rules end to end, with real users: agnocastd started with --access-rules, and client
 * processes that drop to users daemon, bin and nobody (with and without supplementary groups)
 * before they connect, so the broker sees them only through SO_PEERCRED and SO_PEERGROUPS.
 * Needs root to switch users; skipped (exit 77) otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agnocast-proto.h"

static const char rules_text[] = "[/camera]\n"
                                 "publish=daemon;@bin\n"
                                 "subscribe=*\n"
                                 "[/]\n"
                                 "publish=root\n"
                                 "subscribe=@bin\n";

static const char *broker_path;

struct world {
    char *dir;
    char *sock;
    char *rules;
    GPid broker;
};

/* What a client process reports: the reply's error code (0 for OK) and message. */
struct outcome {
    int code;
    char message[AGNOCAST_ERROR_TEXT_MAX];
};

static gboolean can_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    gboolean ok;

    g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int world_setup(void **state)
{
    struct world *w = g_new0(struct world, 1);
    GError *error = NULL;

    w->dir = g_dir_make_tmp("agnocast-access-users-XXXXXX", NULL);
    assert_non_null(w->dir);
    assert_int_equal(chmod(w->dir, 0755), 0); /* the other users reach the socket */
    w->sock = g_build_filename(w->dir, "broker.sock", NULL);
    w->rules = g_build_filename(w->dir, "access.conf", NULL);
    assert_true(g_file_set_contents(w->rules, rules_text, -1, NULL));
    char *argv[] = {(char *)broker_path,
                    "--socket",
                    w->sock,
                    "--socket-mode",
                    "0666",
                    "--state-file",
                    "",
                    "--pool-size",
                    "1M",
                    "--access-rules",
                    w->rules,
                    NULL};
    if (!g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &w->broker, &error))
        fail_msg("cannot start %s: %s", broker_path, error->message);
    *state = w;
    for (int i = 0; i < 500 && !can_connect(w->sock); i++)
        g_usleep(10000);
    if (!can_connect(w->sock))
        fail_msg("agnocastd did not listen on %s within 5 s", w->sock);
    return 0;
}

static int world_teardown(void **state)
{
    struct world *w = *state;
    int status = 0;

    kill(w->broker, SIGTERM);
    waitpid(w->broker, &status, 0);
    g_unlink(w->rules);
    g_unlink(w->sock);
    g_rmdir(w->dir);
    g_free(w->rules);
    g_free(w->sock);
    g_free(w->dir);
    g_free(w);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}

/* In the client: one request, then frames until its reply (notices and their fds dropped).
 * Returns the reply's kind, or -1. */
static int client_request(int fd, uint32_t id, uint16_t kind, const void *payload, size_t len,
                          int send_fd, union agnocast_frame_buffer *buf, struct agnocast_frame *f)
{
    ssize_t n = agnocast_proto_encode(buf->bytes, sizeof(buf->bytes), kind, id, payload, len);

    if (n < 0 || agnocast_proto_send(fd, buf->bytes, (size_t)n, send_fd >= 0 ? &send_fd : NULL,
                                     send_fd >= 0 ? 1 : 0) < 0)
        return -1;
    for (int i = 0; i < 64; i++) {
        int fds[AGNOCAST_PROTO_FDS_MAX], nfds = AGNOCAST_PROTO_FDS_MAX;
        n = agnocast_proto_recv(fd, buf->bytes, sizeof(buf->bytes), fds, &nfds);
        if (n <= 0)
            return -1;
        for (int k = 0; k < nfds; k++)
            close(fds[k]);
        if (agnocast_proto_decode(buf->bytes, (size_t)n, f) < 0)
            return -1;
        if (f->request_id == id)
            return f->kind;
    }
    return -1;
}

/*
 * In the client: HELLO, REGISTER_PROCESS (no descriptor), ATTACH_SEGMENT with a sealed memfd
 * of its range. The one place to change when the registration flow changes. 0 or -1.
 */
static int client_register(int fd, union agnocast_frame_buffer *buf, struct agnocast_frame *f)
{
    struct agnocast_wire_hello hello = {0};
    struct agnocast_wire_register reg = {0};
    struct agnocast_wire_segment seg = {0};
    int mfd, kind;

    if (client_request(fd, 1, AGNOCAST_MSG_HELLO, &hello, sizeof(hello), -1, buf, f) !=
        AGNOCAST_MSG_HELLO_REPLY)
        return -1;
    kind = client_request(fd, 2, AGNOCAST_MSG_REGISTER_PROCESS, &reg, sizeof(reg), -1, buf, f);
    if (kind != AGNOCAST_MSG_REGISTER_REPLY)
        return -1;
    seg.base = ((const struct agnocast_wire_register_reply *)f->payload)->base;
    seg.size = ((const struct agnocast_wire_register_reply *)f->payload)->size;
    mfd = memfd_create("agnocast-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0 || ftruncate(mfd, (off_t)seg.size) < 0 ||
        fcntl(mfd, F_ADD_SEALS, AGNOCAST_SEGMENT_SEALS) < 0)
        return -1;
    kind = client_request(fd, 3, AGNOCAST_MSG_ATTACH_SEGMENT, &seg, sizeof(seg), mfd, buf, f);
    close(mfd);
    return kind == AGNOCAST_MSG_OK ? 0 : -1;
}

/* Runs in a child that is user `uid`, group `gid`, supplementary groups `groups`: registers
 * and asks for endpoint `kind` on `topic`; writes the outcome to `out`. */
static int client_main(const char *sock, uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
                       uint16_t kind, const char *topic, int out)
{
    static union agnocast_frame_buffer buf;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = 5};
    struct agnocast_wire_endpoint e;
    struct agnocast_frame f;
    struct outcome o;
    int fd;

    if (setgroups(ngroups, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
        return 10;
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    g_strlcpy(sa.sun_path, sock, sizeof sa.sun_path);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return 11;
    if (client_register(fd, &buf, &f) < 0)
        return 12;
    memset(&e, 0, sizeof(e));
    e.qos.depth = 1;
    agnocast_topic_field_set(e.topic, topic);
    memset(&o, 0, sizeof(o));
    switch (client_request(fd, 4, kind, &e, sizeof(e), -1, &buf, &f)) {
    case AGNOCAST_MSG_OK:
        break;
    case AGNOCAST_MSG_ERROR:
        o.code = ((const struct agnocast_wire_error *)f.payload)->code;
        g_strlcpy(o.message, ((const struct agnocast_wire_error *)f.payload)->message,
                  sizeof(o.message));
        break;
    default:
        return 13;
    }
    return write(out, &o, sizeof(o)) == (ssize_t)sizeof(o) ? 0 : 14;
}

/* Forks a client as `user` (with `groups`), and returns what the broker answered it. */
static struct outcome as_user(struct world *w, const char *user, const gid_t *groups,
                              size_t ngroups, uint16_t kind, const char *topic)
{
    struct passwd *pw = getpwnam(user);
    struct outcome o = {.code = 1};
    int p[2], status = 0;
    pid_t pid;

    assert_non_null(pw);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(client_main(w->sock, pw->pw_uid, pw->pw_gid, groups, ngroups, kind, topic, p[1]));
    close(p[1]);
    assert_int_equal(read(p[0], &o, sizeof(o)), sizeof(o));
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return o;
}

static void test_access_users_publish_by_user_and_groups(void **state)
{
    struct world *w = *state;
    const gid_t bin[] = {2};
    struct outcome o;

    /* By user name. */
    o = as_user(w, "daemon", NULL, 0, AGNOCAST_MSG_ADD_PUBLISHER, "/camera/left");
    assert_int_equal(o.code, 0);
    /* By primary group: user bin's group is bin. */
    o = as_user(w, "bin", NULL, 0, AGNOCAST_MSG_ADD_PUBLISHER, "/camera/left");
    assert_int_equal(o.code, 0);
    /* Neither. */
    o = as_user(w, "nobody", NULL, 0, AGNOCAST_MSG_ADD_PUBLISHER, "/camera/left");
    assert_int_equal(o.code, -EACCES);
    g_autofree char *want =
        g_strdup_printf("uid 65534 (nobody) may not publish: rule [/camera] in %s (line 1) lets "
                        "only daemon,@bin publish; topic /camera/left",
                        w->rules);
    assert_string_equal(o.message, want);
    /* By a supplementary group, which only SO_PEERGROUPS tells. */
    o = as_user(w, "nobody", bin, 1, AGNOCAST_MSG_ADD_PUBLISHER, "/camera/left");
    assert_int_equal(o.code, 0);
}

static void test_access_users_subscribe_under_the_root_rule(void **state)
{
    struct world *w = *state;
    const gid_t bin[] = {2};
    struct outcome o;

    o = as_user(w, "nobody", NULL, 0, AGNOCAST_MSG_ADD_SUBSCRIPTION, "/camera/left");
    assert_int_equal(o.code, 0);
    o = as_user(w, "nobody", NULL, 0, AGNOCAST_MSG_ADD_SUBSCRIPTION, "/lidar");
    assert_int_equal(o.code, -EACCES);
    assert_non_null(strstr(o.message, "rule [/] in"));
    assert_non_null(strstr(o.message, "lets only @bin subscribe"));
    o = as_user(w, "daemon", bin, 1, AGNOCAST_MSG_ADD_SUBSCRIPTION, "/lidar");
    assert_int_equal(o.code, 0);
    o = as_user(w, "daemon", NULL, 0, AGNOCAST_MSG_ADD_PUBLISHER, "/lidar");
    assert_int_equal(o.code, -EACCES);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_access_users_publish_by_user_and_groups, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_access_users_subscribe_under_the_root_rule,
                                        world_setup, world_teardown),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s AGNOCASTD\n", argv[0]);
        return 2;
    }
    broker_path = argv[1];
    if (geteuid() != 0) {
        fprintf(stderr, "SKIP: not root, cannot run clients as other users\n");
        return 77;
    }
    return cmocka_run_group_tests_name("access-users", tests, NULL, NULL);
}
