/* agnocastctl against the real agnocastd on a temporary socket, with one raw client that owns a
 * publisher and a subscription: every command, text and --json, and the error exits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agnocast-proto.h"
#include "ctl-run.h"

#define TOPIC "/ctl_test/chatter"

struct world {
    char *dir;
    char *sock;
    GPid broker;
    int client; /* the raw registered client */
    int doorbell;
    uint32_t next_id;
    struct ctl_result r;
};

static union agnocast_frame_buffer buf;

static int raw_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Sends a request and reads frames (dropping notices and their descriptors) until its reply. */
static void raw_request(struct world *w, uint16_t kind, const void *payload, size_t len, int fd,
                        uint16_t want_kind)
{
    unsigned char out[512];
    uint32_t id = w->next_id++;
    ssize_t n = agnocast_proto_encode(out, sizeof out, kind, id, payload, len);
    assert_true(n > 0);
    assert_int_equal(
        agnocast_proto_send(w->client, out, (size_t)n, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0), 0);
    for (int i = 0; i < 16; i++) {
        int fds[AGNOCAST_PROTO_FDS_MAX];
        int nfds = AGNOCAST_PROTO_FDS_MAX;
        struct agnocast_frame f;
        ssize_t got = agnocast_proto_recv(w->client, buf.bytes, sizeof buf.bytes, fds, &nfds);
        assert_true(got > 0);
        for (int k = 0; k < nfds; k++)
            close(fds[k]);
        assert_int_equal(agnocast_proto_decode(buf.bytes, (size_t)got, &f), 0);
        if (f.request_id != id)
            continue;
        if (f.kind == AGNOCAST_MSG_ERROR)
            fail_msg("%s refused: %s", agnocast_proto_kind_name(kind),
                     ((const struct agnocast_wire_error *)f.payload)->message);
        assert_int_equal(f.kind, want_kind);
        return;
    }
    fail_msg("no reply to %s", agnocast_proto_kind_name(kind));
}

static void raw_add(struct world *w, uint16_t kind, uint32_t index, struct agnocast_wire_qos qos)
{
    struct agnocast_wire_endpoint e = {.index = index, .qos = qos};
    assert_int_equal(agnocast_topic_field_set(e.topic, TOPIC), 0);
    raw_request(w, kind, &e, sizeof e, -1, AGNOCAST_MSG_OK);
}

static int world_setup(void **state)
{
    struct world *w = g_new0(struct world, 1);
    GError *error = NULL;

    w->dir = ctl_tmpdir_new();
    w->sock = g_build_filename(w->dir, "agnocast.sock", NULL);
    w->client = w->doorbell = -1;
    w->next_id = 1;
    char *argv[] = {(char *)g_getenv("AGNOCASTD"), "--socket", w->sock, NULL};
    if (!g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &w->broker, &error))
        fail_msg("cannot start %s: %s", argv[0], error->message);
    for (int i = 0; i < 500 && (w->client = raw_connect(w->sock)) < 0; i++)
        g_usleep(10000);
    *state = w;
    if (w->client < 0)
        fail_msg("agnocastd did not listen on %s within 5 s", w->sock);

    struct agnocast_wire_hello hello = {0};
    raw_request(w, AGNOCAST_MSG_HELLO, &hello, sizeof hello, -1, AGNOCAST_MSG_HELLO_REPLY);
    struct agnocast_wire_register reg = {0};
    w->doorbell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    raw_request(w, AGNOCAST_MSG_REGISTER_PROCESS, &reg, sizeof reg, w->doorbell,
                AGNOCAST_MSG_REGISTER_REPLY);
    raw_add(w, AGNOCAST_MSG_ADD_PUBLISHER, 0,
            (struct agnocast_wire_qos){.depth = 10, .reliability = AGNOCAST_RELIABILITY_RELIABLE});
    raw_add(w, AGNOCAST_MSG_ADD_SUBSCRIPTION, 1,
            (struct agnocast_wire_qos){
                .depth = 5, .durability = AGNOCAST_DURABILITY_TRANSIENT_LOCAL, .ignore_local = 1});
    return 0;
}

static void world_stop_broker(struct world *w)
{
    if (w->broker > 0) {
        kill(w->broker, SIGTERM);
        waitpid(w->broker, NULL, 0);
        w->broker = 0;
    }
}

static int world_teardown(void **state)
{
    struct world *w = *state;
    if (w->client >= 0)
        close(w->client);
    if (w->doorbell >= 0)
        close(w->doorbell);
    world_stop_broker(w);
    ctl_result_clear(&w->r);
    ctl_tmpdir_remove(w->dir);
    g_free(w->sock);
    g_free(w);
    return 0;
}

/* Runs agnocastctl with `args` after "--socket SOCK" and expects exit 0. */
#define CTL_OK(w, ...)                                                                             \
    do {                                                                                           \
        ctl_result_clear(&(w)->r);                                                                 \
        ctl_run(&(w)->r, NULL, FALSE, "--socket", (w)->sock, __VA_ARGS__, NULL);                   \
        if ((w)->r.status != 0)                                                                    \
            fail_msg("agnocastctl exit %d: %s", (w)->r.status, (w)->r.err);                        \
    } while (0)

static void test_ctl_broker_list_topics(void **state)
{
    struct world *w = *state;

    CTL_OK(w, "list-topics");
    assert_string_equal(w->r.out,
                        "TOPIC              PUBLISHERS  SUBSCRIPTIONS\n" TOPIC "  1           1\n");
    CTL_OK(w, "list-topics", "--json");
    assert_string_equal(w->r.out, "{\"topics\":[{\"name\":\"" TOPIC
                                  "\",\"publishers\":1,\"subscriptions\":1}]}\n");
}

static void test_ctl_broker_topic_info(void **state)
{
    struct world *w = *state;
    int pid = getpid();

    CTL_OK(w, "topic-info", TOPIC);
    assert_true(g_str_has_prefix(w->r.out, TOPIC ": 1 publisher, 1 subscription\nROLE"));
    g_auto(GStrv) lines = g_strsplit(w->r.out, "\n", -1);
    assert_int_equal(g_strv_length(lines), 5); /* summary, header, 2 rows, "" */
    g_autofree char *pub = g_strdup_printf("publisher %d 0 10 volatile reliable no", pid);
    g_autofree char *sub =
        g_strdup_printf("subscription %d 1 5 transient_local best_effort yes", pid);
    g_autoptr(GRegex) spaces = g_regex_new(" +", 0, 0, NULL);
    g_autofree char *row1 = g_regex_replace_literal(spaces, lines[2], -1, 0, " ", 0, NULL);
    g_autofree char *row2 = g_regex_replace_literal(spaces, lines[3], -1, 0, " ", 0, NULL);
    assert_string_equal(row1, pub);
    assert_string_equal(row2, sub);

    CTL_OK(w, "topic-info", "--json", TOPIC);
    g_autofree char *want = g_strdup_printf(
        "{\"topic\":\"" TOPIC "\",\"publishers\":[{\"pid\":%d,\"index\":0,\"qos\":{\"depth\":10,"
        "\"durability\":\"volatile\",\"reliability\":\"reliable\",\"ignore_local\":false}}],"
        "\"subscriptions\":[{\"pid\":%d,\"index\":1,\"qos\":{\"depth\":5,\"durability\":"
        "\"transient_local\",\"reliability\":\"best_effort\",\"ignore_local\":true}}]}\n",
        pid, pid);
    assert_string_equal(w->r.out, want);
}

static void test_ctl_broker_list_processes(void **state)
{
    struct world *w = *state;

    CTL_OK(w, "list-processes");
    g_auto(GStrv) lines = g_strsplit(w->r.out, "\n", -1);
    assert_int_equal(g_strv_length(lines), 3);
    assert_true(g_str_has_prefix(lines[0], "PID"));
    g_autofree char *lead = g_strdup_printf("%d  %u  0x", (int)getpid(), (unsigned)getuid());
    g_autoptr(GRegex) spaces = g_regex_new("  +", 0, 0, NULL);
    g_autofree char *row = g_regex_replace_literal(spaces, lines[1], -1, 0, "  ", 0, NULL);
    assert_true(g_str_has_prefix(row, lead));
    assert_non_null(strstr(row, "iB  1  1")); /* a human size, 1 publisher, 1 subscription */

    CTL_OK(w, "list-processes", "--json");
    g_autofree char *head =
        g_strdup_printf("{\"processes\":[{\"pid\":%d,\"uid\":%u,\"address_start\":\"0x",
                        (int)getpid(), (unsigned)getuid());
    assert_true(g_str_has_prefix(w->r.out, head));
    assert_non_null(strstr(w->r.out, "\"pool_size_bytes\":"));
    assert_true(g_str_has_suffix(w->r.out, "\"publishers\":1,\"subscriptions\":1}]}\n"));
}

static void test_ctl_broker_stats(void **state)
{
    struct world *w = *state;

    CTL_OK(w, "stats");
    g_autoptr(GRegex) spaces = g_regex_new(" +", 0, 0, NULL);
    g_autofree char *flat = g_regex_replace_literal(spaces, w->r.out, -1, 0, " ", 0, NULL);
    g_autofree char *head = g_strdup_printf("broker pid %d\nREQUEST COUNT\n", (int)w->broker);
    assert_true(g_str_has_prefix(flat, head));
    assert_non_null(strstr(flat, "\nREGISTER_PROCESS 1\n"));
    assert_non_null(strstr(flat, "\nADD_PUBLISHER 1\n"));
    assert_non_null(strstr(flat, "\nADD_SUBSCRIPTION 1\n"));

    CTL_OK(w, "stats", "--json");
    assert_non_null(strstr(w->r.out, "{\"kind\":\"ADD_PUBLISHER\",\"code\":200,\"count\":1}"));
    assert_non_null(strstr(w->r.out, "{\"kind\":\"STATS\",\"code\":406,\"count\":2}"));
}

static void test_ctl_broker_unknown_topic_exits_1(void **state)
{
    struct world *w = *state;

    ctl_run(&w->r, w->sock, FALSE, "topic-info", "/not/there", NULL);
    assert_int_equal(w->r.status, 1);
    assert_string_equal(w->r.out, "");
    assert_true(g_str_has_prefix(w->r.err, "agnocastctl: "));
    assert_non_null(strstr(w->r.err, "/not/there"));
}

static void test_ctl_broker_gone_client_leaves_empty_registry(void **state)
{
    struct world *w = *state;

    close(w->client);
    w->client = -1;
    /* The broker learns of the close asynchronously: poll briefly. */
    for (int i = 0; i < 200; i++) {
        CTL_OK(w, "list-topics");
        if (strcmp(w->r.out, "TOPIC  PUBLISHERS  SUBSCRIPTIONS\n") == 0)
            break;
        g_usleep(10000);
    }
    assert_string_equal(w->r.out, "TOPIC  PUBLISHERS  SUBSCRIPTIONS\n");
    CTL_OK(w, "list-processes", "--json");
    assert_string_equal(w->r.out, "{\"processes\":[]}\n");
}

static void test_ctl_broker_stopped_exits_2(void **state)
{
    struct world *w = *state;

    world_stop_broker(w);
    ctl_run(&w->r, w->sock, FALSE, "list-topics", NULL);
    assert_int_equal(w->r.status, 2);
    g_autofree char *want = g_strdup_printf("agnocastctl: no broker at %s", w->sock);
    assert_true(g_str_has_prefix(w->r.err, want));
    assert_non_null(strstr(w->r.err, "systemctl start agnocastd"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ctl_broker_list_topics, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_topic_info, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_list_processes, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_stats, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_unknown_topic_exits_1, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_gone_client_leaves_empty_registry,
                                        world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_stopped_exits_2, world_setup,
                                        world_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
