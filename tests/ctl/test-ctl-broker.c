/* agnocastctl against the real agnocastd on a temporary socket, with one raw client that owns a
 * publisher and a subscription and hands the broker a forged segment: every command, text and
 * --json, the counters read through the broker (GET_SEGMENT), the error exits, and what a forged
 * agnocast-bridge status file adds to list-topics, topic-info and stats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agnocast-proto.h"
#include "cli.h"
#include "ctl-run.h"
#include "harness-broker.h"
#include "shm-layout.h"

#define TOPIC "/ctl_test/chatter"

struct world {
    struct broker b;                         /* a private agnocastd (tests/harness) */
    int client;                              /* the raw registered client */
    struct agnocast_wire_register_reply reg; /* its range and pid as the broker knows them */
    struct agn_seg_header *seg;              /* its segment, writable here, sealed */
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

/* Sends a request and reads frames (dropping notices and their descriptors) until its reply,
 * whose payload is copied to `reply` when given. */
static void raw_request_reply(struct world *w, uint16_t kind, const void *payload, size_t len,
                              int fd, uint16_t want_kind, void *reply, size_t reply_len)
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
        if (reply != NULL) {
            assert_int_equal(f.payload_len, reply_len);
            memcpy(reply, f.payload, reply_len);
        }
        return;
    }
    fail_msg("no reply to %s", agnocast_proto_kind_name(kind));
}

static void raw_request(struct world *w, uint16_t kind, const void *payload, size_t len, int fd,
                        uint16_t want_kind)
{
    raw_request_reply(w, kind, payload, len, fd, want_kind, NULL, 0);
}

/* The segment a library would make: a memfd as large as the range, a header, publisher slot 0
 * with its ring (message 7 last), subscription slot 1 with its counters; sealed, then attached. */
static void raw_attach_segment(struct world *w)
{
    int fd = memfd_create("agnocast-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)w->reg.size), 0);
    w->seg = mmap(NULL, w->reg.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(w->seg != MAP_FAILED);
    struct agn_seg_header *h = w->seg;
    h->magic = AGN_SEG_MAGIC;
    h->layout = AGN_SEG_LAYOUT;
    h->pid = w->reg.pid;
    h->base = w->reg.base;
    h->size = w->reg.size;
    h->heap_off = (sizeof *h + 4095) & ~4095ull;
    h->heap_size = w->reg.size - h->heap_off;
    h->pubs[0].depth = 10;
    h->pubs[0].ring_off = h->heap_off;
    atomic_store(&h->pubs[0].head, 7);
    atomic_store(&h->pubs[0].active, 1);
    atomic_store(&h->subs[1].active, 1);
    atomic_store(&h->subs[1].received, 5);
    atomic_store(&h->subs[1].missed, 1);
    atomic_store(&h->subs[1].unreachable, 2);
    assert_int_equal(fcntl(fd, F_ADD_SEALS, AGNOCAST_SEGMENT_SEALS), 0);

    struct agnocast_wire_segment a = {.area = 0, .base = w->reg.base, .size = w->reg.size};
    raw_request(w, AGNOCAST_MSG_ATTACH_SEGMENT, &a, sizeof a, fd, AGNOCAST_MSG_OK);
    close(fd);
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

    w->client = -1;
    w->next_id = 1;
    *state = w;
    /* A failed setup skips the teardown: the broker (PR_SET_PDEATHSIG) then ends with this
     * test, not after it. */
    if (broker_start(&w->b, NULL) < 0)
        fail_msg("agnocastd did not start");
    w->client = raw_connect(w->b.socket);
    if (w->client < 0)
        fail_msg("cannot connect to agnocastd on %s", w->b.socket);

    struct agnocast_wire_hello hello = {0};
    raw_request(w, AGNOCAST_MSG_HELLO, &hello, sizeof hello, -1, AGNOCAST_MSG_HELLO_REPLY);
    struct agnocast_wire_register reg = {0};
    raw_request_reply(w, AGNOCAST_MSG_REGISTER_PROCESS, &reg, sizeof reg, -1,
                      AGNOCAST_MSG_REGISTER_REPLY, &w->reg, sizeof w->reg);
    raw_attach_segment(w);
    raw_add(w, AGNOCAST_MSG_ADD_PUBLISHER, 0,
            (struct agnocast_wire_qos){.depth = 10, .reliability = AGNOCAST_RELIABILITY_RELIABLE});
    raw_add(w, AGNOCAST_MSG_ADD_SUBSCRIPTION, 1,
            (struct agnocast_wire_qos){
                .depth = 5, .durability = AGNOCAST_DURABILITY_TRANSIENT_LOCAL, .ignore_local = 1});
    return 0;
}

static void world_stop_broker(struct world *w)
{
    broker_signal(&w->b, SIGTERM);
}

static int world_teardown(void **state)
{
    struct world *w = *state;
    if (w->client >= 0)
        close(w->client);
    if (w->seg != NULL)
        munmap(w->seg, w->reg.size);
    world_stop_broker(w);
    ctl_result_clear(&w->r);
    broker_cleanup(&w->b);
    g_free(w);
    return 0;
}

/* Runs agnocastctl with `args` after "--socket SOCK" and expects exit 0. */
#define CTL_OK(w, ...)                                                                             \
    do {                                                                                           \
        ctl_result_clear(&(w)->r);                                                                 \
        ctl_run(&(w)->r, NULL, FALSE, "--socket", (w)->b.socket, __VA_ARGS__, NULL);               \
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
    assert_string_equal(w->r.err, "");
    assert_true(g_str_has_prefix(w->r.out, TOPIC ": 1 publisher, 1 subscription\nROLE"));
    g_auto(GStrv) lines = g_strsplit(w->r.out, "\n", -1);
    /* summary, header, 2 rows, "", counter header, 2 rows, "" */
    assert_int_equal(g_strv_length(lines), 9);
    g_autoptr(GRegex) spaces = g_regex_new(" +", 0, 0, NULL);
    for (int i = 2; i < 9; i++) {
        char *flat = g_regex_replace_literal(spaces, lines[i], -1, 0, " ", 0, NULL);
        g_free(lines[i]);
        lines[i] = flat;
    }
    g_autofree char *pub = g_strdup_printf("publisher %d 0 10 volatile reliable no", pid);
    g_autofree char *sub =
        g_strdup_printf("subscription %d 1 5 transient_local best_effort yes", pid);
    assert_string_equal(lines[2], pub);
    assert_string_equal(lines[3], sub);
    assert_string_equal(lines[4], "");
    /* The counters, from the segment the broker handed over (GET_SEGMENT). */
    assert_string_equal(lines[5], "ROLE PID INDEX PUBLISHED RECEIVED MISSED CORRUPT UNREACHABLE");
    g_autofree char *pub_counters = g_strdup_printf("publisher %d 0 7 - - - -", pid);
    g_autofree char *sub_counters = g_strdup_printf("subscription %d 1 - 5 1 0 2", pid);
    assert_string_equal(lines[6], pub_counters);
    assert_string_equal(lines[7], sub_counters);

    CTL_OK(w, "topic-info", "--json", TOPIC);
    assert_string_equal(w->r.err, "");
    g_autofree char *want = g_strdup_printf(
        "{\"topic\":\"" TOPIC "\",\"publishers\":[{\"pid\":%d,\"index\":0,\"qos\":{\"depth\":10,"
        "\"durability\":\"volatile\",\"reliability\":\"reliable\",\"ignore_local\":false},"
        "\"published\":7}],\"subscriptions\":[{\"pid\":%d,\"index\":1,\"qos\":{\"depth\":5,"
        "\"durability\":\"transient_local\",\"reliability\":\"best_effort\",\"ignore_local\":"
        "true},\"received\":5,\"missed\":1,\"corrupt\":0,\"unreachable\":2}]}\n",
        pid, pid);
    assert_string_equal(w->r.out, want);

    /* Read live: what the owner writes next is what the next run shows. */
    atomic_store(&w->seg->subs[1].unreachable, 3);
    CTL_OK(w, "topic-info", "--json", TOPIC);
    assert_non_null(strstr(w->r.out, "\"corrupt\":0,\"unreachable\":3}"));
}

/* stats and watch show the same counters for every topic. */
static void test_ctl_broker_stats_and_watch_show_counters(void **state)
{
    struct world *w = *state;
    int pid = getpid();
    g_autoptr(GRegex) spaces = g_regex_new(" +", 0, 0, NULL);

    CTL_OK(w, "stats");
    g_autofree char *flat = g_regex_replace_literal(spaces, w->r.out, -1, 0, " ", 0, NULL);
    assert_non_null(
        strstr(flat, "\nTOPIC ROLE PID INDEX PUBLISHED RECEIVED MISSED CORRUPT UNREACHABLE\n"));
    g_autofree char *row = g_strdup_printf("\n" TOPIC " subscription %d 1 - 5 1 0 2\n", pid);
    assert_non_null(strstr(flat, row));

    CTL_OK(w, "stats", "--json");
    g_autofree char *sub =
        g_strdup_printf("\"subscriptions\":[{\"pid\":%d,\"index\":1,\"received\":5,\"missed\":1,"
                        "\"corrupt\":0,\"unreachable\":2}]",
                        pid);
    assert_non_null(strstr(w->r.out, sub));

    CTL_OK(w, "watch", "--interval", "0.1", "--iterations", "1");
    g_autofree char *view = g_regex_replace_literal(spaces, w->r.out, -1, 0, " ", 0, NULL);
    assert_non_null(strstr(
        view, "\nTOPIC PUBS SUBS RATE_HZ PUBLISHED RECEIVED MISSED CORRUPT UNREACHABLE\n" TOPIC
              " 1 1 0.0 7 5 1 0 2\n"));
    assert_null(strstr(view, "unreadable"));
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
    g_autofree char *head = g_strdup_printf("broker pid %d\nREQUEST COUNT\n", (int)w->b.pid);
    assert_true(g_str_has_prefix(flat, head));
    assert_non_null(strstr(flat, "\nREGISTER_PROCESS 1\n"));
    assert_non_null(strstr(flat, "\nADD_PUBLISHER 1\n"));
    assert_non_null(strstr(flat, "\nADD_SUBSCRIPTION 1\n"));

    CTL_OK(w, "stats", "--json");
    assert_non_null(strstr(w->r.out, "{\"kind\":\"ADD_PUBLISHER\",\"code\":200,\"count\":1}"));
    assert_non_null(strstr(w->r.out, "{\"kind\":\"STATS\",\"code\":406,\"count\":2}"));
}

static void test_ctl_broker_unknown_topic_exits_refused(void **state)
{
    struct world *w = *state;

    ctl_run(&w->r, w->b.socket, FALSE, "topic-info", "/not/there", NULL);
    assert_int_equal(w->r.status, CLI_EXIT_REFUSED);
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

static void test_ctl_broker_stopped_exits_no_broker(void **state)
{
    struct world *w = *state;

    world_stop_broker(w);
    ctl_run(&w->r, w->b.socket, FALSE, "list-topics", NULL);
    assert_int_equal(w->r.status, CLI_EXIT_NO_BROKER);
    g_autofree char *want = g_strdup_printf("agnocastctl: no broker at %s", w->b.socket);
    assert_true(g_str_has_prefix(w->r.err, want));
    assert_non_null(strstr(w->r.err, "systemctl start agnocastd"));
}

/* A status as agnocast-bridge writes it: TOPIC bridged out with 2 remote readers, and a route of
 * a topic the broker does not know (stats lists it, list-topics does not). */
static char *bridge_status_file(const char *dir, const char *name, long pid)
{
    char *path = g_build_filename(dir, name, NULL);
    g_autofree char *text = g_strdup_printf(
        "[bridge]\npid=%ld\nhost=host-a\ndomain=7\nconfig=/etc/agnocast/bridge.conf\n"
        "config_state=loaded\nbroker_connected=true\nupdated=%ld\n\n"
        "[topic " TOPIC "]\ndds_topic=rt" TOPIC "\ndds_type=agnocast_msgs::msg::dds_::Bytes_\n"
        "direction=out\ntype=demo\nreliability=reliable\ndurability=transient_local\n"
        "depth=300\nsent=400\nreceived=0\npublished=0\ndropped=1\nduplicates=0\nloops=0\n"
        "decode_errors=0\nencode_errors=0\ncopies=401\nlocal_publishers=1\n"
        "local_subscriptions=-1\n"
        "remote_readers=2\nremote_writers=-1\n\n"
        "[topic /elsewhere]\ndds_topic=rt/elsewhere\ndds_type=agnocast_msgs::msg::dds_::Bytes_\n"
        "direction=in\ntype=flat\nreliability=best_effort\ndurability=volatile\ndepth=10\n"
        "sent=0\nreceived=9\npublished=8\ndropped=0\nduplicates=1\nloops=0\n"
        "decode_errors=0\nencode_errors=0\ncopies=0\nlocal_publishers=-1\n"
        "local_subscriptions=0\n"
        "remote_readers=-1\nremote_writers=1\n",
        pid, (long)time(NULL));

    assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

/* A pid nobody runs: a child that exited and was reaped. */
static long bridge_dead_pid(void)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return pid;
}

/* Runs of the spaces that pad table columns, as "|": cells with a space of their own
 * ("2 readers") stay readable. */
static char *flat_table(const char *text)
{
    g_autoptr(GRegex) pad = g_regex_new(" {2,}", 0, 0, NULL);
    return g_regex_replace_literal(pad, text, -1, 0, "|", 0, NULL);
}

static void test_ctl_broker_bridge_status_running(void **state)
{
    struct world *w = *state;
    char *dir = ctl_tmpdir_new();
    g_autofree char *status = bridge_status_file(dir, "status", (long)getpid());
    int pid = getpid();

    CTL_OK(w, "list-topics", "--bridge-status", status);
    assert_string_equal(w->r.err, "");
    g_autofree char *list = flat_table(w->r.out);
    assert_string_equal(list, "TOPIC|PUBLISHERS|SUBSCRIPTIONS|BRIDGE|REMOTE\n" TOPIC
                              "|1|1|out|2 readers\n");
    CTL_OK(w, "list-topics", "--json", "--bridge-status", status);
    g_autofree char *list_json = g_strdup_printf(
        "{\"topics\":[{\"name\":\"" TOPIC "\",\"publishers\":1,\"subscriptions\":1,"
        "\"bridge\":{\"topic\":\"" TOPIC "\",\"direction\":\"out\",\"dds_topic\":\"rt" TOPIC
        "\",\"dds_type\":\"agnocast_msgs::msg::dds_::Bytes_\",\"type\":\"demo\","
        "\"reliability\":\"reliable\",\"durability\":\"transient_local\",\"depth\":300,"
        "\"local_publishers\":1,\"local_subscriptions\":null,\"remote_readers\":2,"
        "\"remote_writers\":null,\"sent\":400,\"received\":0,\"published\":0,\"dropped\":1,"
        "\"duplicates\":0,\"loops\":0,\"decode_errors\":0,\"encode_errors\":0,\"copies\":401}}],"
        "\"bridge_status\":{\"file\":\"%s\",\"pid\":%d,\"running\":true,\"host\":\"host-a\","
        "\"domain\":7,\"config_state\":\"loaded\",\"broker_connected\":true,\"updated\":",
        status, pid);
    assert_true(g_str_has_prefix(w->r.out, list_json));

    CTL_OK(w, "topic-info", TOPIC, "--bridge-status", status);
    assert_string_equal(w->r.err, "");
    g_autofree char *info = flat_table(w->r.out);
    g_autofree char *section = g_strdup_printf(
        "\nbridged by agnocast-bridge pid %d, host host-a, DDS domain 7:\n"
        "|direction|out\n|dds_topic|rt" TOPIC "\n|dds_type|agnocast_msgs::msg::dds_::Bytes_\n"
        "|type|demo\n|qos|reliable, transient_local, depth 300\n|local_publishers|1\n"
        "|remote_readers|2\n|sent|400\n|received|0\n|published|0\n|dropped|1\n"
        "|duplicates|0\n|loops|0\n|decode_errors|0\n|encode_errors|0\n|copies|401\n",
        pid);
    assert_true(g_str_has_suffix(info, section));
    CTL_OK(w, "topic-info", "--json", TOPIC, "--bridge-status", status);
    assert_non_null(strstr(w->r.out, "\"unreachable\":2}],\"bridge\":{\"topic\":\"" TOPIC
                                     "\",\"direction\":\"out\","));
    assert_non_null(strstr(w->r.out, "\"remote_readers\":2,\"remote_writers\":null,\"sent\":400,"));
    assert_non_null(strstr(w->r.out, "},\"bridge_status\":{\"file\":"));

    /* The environment names the file too. */
    g_setenv("AGNOCAST_BRIDGE_STATUS", status, TRUE);
    CTL_OK(w, "stats");
    g_unsetenv("AGNOCAST_BRIDGE_STATUS");
    g_autofree char *stats = flat_table(w->r.out);
    g_autofree char *who =
        g_strdup_printf("\nagnocast-bridge pid %d, host host-a, DDS domain 7, broker connected, "
                        "updated ",
                        pid);
    assert_non_null(strstr(stats, who));
    assert_non_null(strstr(stats, "\nTOPIC|DIRECTION|SENT|RECEIVED|PUBLISHED|DROPPED|DUPLICATES|"
                                  "LOOPS|DECODE_ERRORS|ENCODE_ERRORS|COPIES\n" TOPIC
                                  "|out|400|0|0|1|0|0|0|0|401\n/elsewhere|in|0|9|8|0|1|0|0|0|0\n"));
    CTL_OK(w, "stats", "--json", "--bridge-status", status);
    assert_non_null(strstr(w->r.out, ",\"bridge_status\":{\"file\":"));
    assert_non_null(
        strstr(w->r.out, ",\"topics\":[{\"topic\":\"" TOPIC "\",\"direction\":\"out\""));
    assert_non_null(strstr(w->r.out, "{\"topic\":\"/elsewhere\",\"direction\":\"in\","));
    assert_true(g_str_has_suffix(w->r.out, "\"encode_errors\":0,\"copies\":0}]}}\n"));
    ctl_tmpdir_remove(dir);
}

static void test_ctl_broker_bridge_status_not_running(void **state)
{
    struct world *w = *state;
    char *dir = ctl_tmpdir_new();
    long pid = bridge_dead_pid();
    g_autofree char *status = bridge_status_file(dir, "status", pid);
    g_autofree char *line = g_strdup_printf(
        "\nagnocast-bridge is not running (pid %ld in %s is gone): bridged topics are not shown\n",
        pid, status);

    CTL_OK(w, "list-topics", "--bridge-status", status);
    g_autofree char *list = g_strconcat(
        "TOPIC              PUBLISHERS  SUBSCRIPTIONS\n" TOPIC "  1           1\n", line, NULL);
    assert_string_equal(w->r.out, list);
    CTL_OK(w, "list-topics", "--json", "--bridge-status", status);
    assert_true(g_str_has_prefix(w->r.out, "{\"topics\":[{\"name\":\"" TOPIC
                                           "\",\"publishers\":1,\"subscriptions\":1,"
                                           "\"bridge\":null}],\"bridge_status\":{"));
    assert_non_null(strstr(w->r.out, ",\"running\":false,"));

    CTL_OK(w, "topic-info", TOPIC, "--bridge-status", status);
    assert_true(g_str_has_suffix(w->r.out, line));
    assert_null(strstr(w->r.out, "bridged by"));
    CTL_OK(w, "topic-info", "--json", TOPIC, "--bridge-status", status);
    assert_non_null(strstr(w->r.out, ",\"bridge\":null,\"bridge_status\":{"));

    CTL_OK(w, "stats", "--bridge-status", status);
    assert_true(g_str_has_suffix(w->r.out, line));
    CTL_OK(w, "stats", "--json", "--bridge-status", status);
    assert_non_null(strstr(w->r.out, ",\"running\":false,"));
    assert_true(g_str_has_suffix(w->r.out, ",\"topics\":[]}}\n"));
    ctl_tmpdir_remove(dir);
}

/* A file that is not a status, and no file: the output of a host without a bridge; the first
 * with a warning naming the file. */
static void test_ctl_broker_bridge_status_malformed_or_missing(void **state)
{
    struct world *w = *state;
    char *dir = ctl_tmpdir_new();
    g_autofree char *bad = g_build_filename(dir, "bad", NULL);
    g_autofree char *missing = g_build_filename(dir, "missing", NULL);
    const char *const cmds[][3] = {
        {"list-topics", NULL, NULL},
        {"list-topics", "--json", NULL},
        {"topic-info", TOPIC, NULL},
        {"topic-info", "--json", TOPIC},
    };

    assert_true(g_file_set_contents(bad, "[bridge]\npid=12\n[topic /x]\ndirection=up\n", -1, NULL));
    g_autofree char *warning =
        g_strdup_printf("agnocastctl: warning: %s is not a status file agnocast-bridge writes: "
                        "[topic /x] direction is not out, in or both; bridged topics are not "
                        "shown",
                        bad);
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        const char *a = cmds[i][0], *b = cmds[i][1], *c = cmds[i][2];

        /* NULL ends the arguments early: b and c are optional. */
        ctl_result_clear(&w->r);
        ctl_run(&w->r, w->b.socket, FALSE, a, b, c, NULL);
        assert_int_equal(w->r.status, 0);
        g_autofree char *plain = g_strdup(w->r.out);
        assert_string_equal(w->r.err, "");

        ctl_result_clear(&w->r);
        ctl_run(&w->r, w->b.socket, FALSE, a, "--bridge-status", bad, b, c, NULL);
        assert_int_equal(w->r.status, 0);
        assert_string_equal(w->r.out, plain);
        assert_true(g_str_has_prefix(w->r.err, warning));

        ctl_result_clear(&w->r);
        ctl_run(&w->r, w->b.socket, FALSE, a, "--bridge-status", missing, b, c, NULL);
        assert_int_equal(w->r.status, 0);
        assert_string_equal(w->r.out, plain);
        assert_string_equal(w->r.err, "");
    }
    CTL_OK(w, "stats", "--json", "--bridge-status", missing);
    assert_null(strstr(w->r.out, "bridge"));
    CTL_OK(w, "stats", "--bridge-status", bad);
    assert_null(strstr(w->r.out, "bridge"));
    assert_true(g_str_has_prefix(w->r.err, warning));
    ctl_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ctl_broker_list_topics, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_topic_info, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_stats_and_watch_show_counters, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_list_processes, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_stats, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_unknown_topic_exits_refused, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_gone_client_leaves_empty_registry,
                                        world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_stopped_exits_no_broker, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_bridge_status_running, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_bridge_status_not_running, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_bridge_status_malformed_or_missing,
                                        world_setup, world_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
