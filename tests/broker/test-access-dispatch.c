/*
 * The access rules through the broker's real request path: an in-process broker (no listener)
 * whose connections are socketpairs attached with a chosen uid and gid (client_attach), as the
 * broker fuzz target does. Frames go through read_cb and dispatch like a peer's.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <glib.h>
#include <pwd.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "access.h"
#include "agnocast-proto.h"
#include "broker.h"
#include "client.h"
#include "options.h"
#include "ranges.h"
#include "registry.h"

/* Far above any pid_max, as in the fuzz target: nothing real is ever looked up by these. */
#define FAKE_PID_BASE 0x7fff0000
#define FAKES_MAX     8

/* The name the broker shows for `uid`: the user database's, or "no user name". */
static const char *user_name(uid_t uid)
{
    struct passwd *pw = getpwuid(uid);

    return pw != NULL ? pw->pw_name : "no user name";
}

static const char rules_text[] = "[/camera]\n"
                                 "publish=root;@daemon\n"
                                 "subscribe=*\n"
                                 "[/camera/secret]\n"
                                 "publish=root\n"
                                 "subscribe=\n";

/* One fake peer process: our end of its connection, and the broker's struct client. */
struct fake {
    struct client *c;
    int peer;
    pid_t pid;
    uint32_t next_id;
};

struct world {
    struct broker b;
    char *dir;
    char *path;
    struct fake fakes[FAKES_MAX];
    int nfakes;
};

struct reply {
    union agnocast_frame_buffer buf;
    struct agnocast_frame f;
    int fds[AGNOCAST_PROTO_FDS_MAX];
    int nfds;
};

static int world_setup(void **state)
{
    struct world *w = g_new0(struct world, 1);

    w->dir = g_dir_make_tmp("agnocast-access-XXXXXX", NULL);
    assert_non_null(w->dir);
    w->path = g_build_filename(w->dir, "access.conf", NULL);
    *state = w;
    return 0;
}

static int world_teardown(void **state)
{
    struct world *w = *state;

    for (int i = 0; i < w->nfakes; i++) {
        close(w->fakes[i].peer);
        if (g_hash_table_contains(w->b.clients, w->fakes[i].c))
            client_close(w->fakes[i].c);
    }
    if (w->b.base != NULL) {
        struct event_base *base = w->b.base;
        assert_int_equal(registry_process_count(w->b.reg), 0);
        broker_fini(&w->b);
        event_base_free(base);
    }
    options_clear(&w->b.cfg);
    g_unlink(w->path);
    g_rmdir(w->dir);
    g_free(w->path);
    g_free(w->dir);
    g_free(w);
    return 0;
}

static void write_rules(struct world *w, const char *text)
{
    assert_true(g_file_set_contents(w->path, text, -1, NULL));
}

/* A broker as main() sets it up, minus the socket: with the rules in `text` (NULL: none). */
static void broker_start(struct world *w, const char *text)
{
    char *why = NULL;

    w->b.cfg.pool_size = 1u << 20;
    w->b.cfg.max_pool_size = 64u << 20;
    w->b.cfg.window_base = RANGES_DEFAULT_BASE;
    w->b.cfg.window_size = 1ull << 30;
    w->b.cfg.max_clients = 64;
    w->b.cfg.max_connections_per_uid = 64;
    w->b.cfg.max_endpoints = 64;
    w->b.cfg.max_topics = 64;
    w->b.cfg.max_processes_per_uid = 64;
    w->b.cfg.max_space_per_uid = 1ull << 30;
    w->b.cfg.max_endpoints_per_uid = 64;
    w->b.cfg.max_topics_per_uid = 64;
    w->b.cfg.max_queued_per_uid = 64u << 20;
    if (text != NULL) {
        write_rules(w, text);
        w->b.cfg.access_rules = g_strdup(w->path);
    }
    if (broker_access_load(&w->b, &why) < 0)
        fail_msg("rules refused: %s", why);
    broker_init(&w->b, event_base_new());
}

/* A connection from a new fake process as `uid`/`gid` (the kernel's word; here ours). */
static struct fake *fake_connect(struct world *w, uid_t uid, gid_t gid)
{
    struct fake *f = &w->fakes[w->nfakes];
    int sv[2];

    assert_true(w->nfakes < FAKES_MAX);
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    f->peer = sv[0];
    f->pid = FAKE_PID_BASE + w->nfakes;
    f->next_id = 1;
    f->c = client_attach(&w->b, sv[1], f->pid, uid, gid);
    w->nfakes++;
    return f;
}

/* Sends one request and runs the broker's loop until the frame answering it arrives; notices
 * on the way are dropped with their descriptors. */
static void request(struct world *w, struct fake *f, uint16_t kind, const void *payload, size_t len,
                    const int *fds, int nfds, struct reply *r)
{
    union agnocast_frame_buffer out;
    uint32_t id = f->next_id++;
    ssize_t n = agnocast_proto_encode(out.bytes, sizeof(out.bytes), kind, id, payload, len);

    assert_true(n > 0);
    assert_int_equal(agnocast_proto_send(f->peer, out.bytes, (size_t)n, fds, nfds), 0);
    for (int turn = 0; turn < 1000; turn++) {
        event_base_loop(w->b.base, EVLOOP_NONBLOCK);
        r->nfds = AGNOCAST_PROTO_FDS_MAX;
        n = agnocast_proto_recv(f->peer, r->buf.bytes, sizeof(r->buf.bytes), r->fds, &r->nfds);
        if (n == -EAGAIN)
            continue;
        assert_true(n > 0);
        assert_int_equal(agnocast_proto_decode(r->buf.bytes, (size_t)n, &r->f), 0);
        if (r->f.request_id == id)
            return;
        for (int i = 0; i < r->nfds; i++)
            close(r->fds[i]);
    }
    fail_msg("no answer to %s", agnocast_proto_kind_name(kind));
}

static void close_reply_fds(struct reply *r)
{
    for (int i = 0; i < r->nfds; i++)
        close(r->fds[i]);
    r->nfds = 0;
}

static void expect_kind(struct reply *r, uint16_t kind)
{
    if (r->f.kind == AGNOCAST_MSG_ERROR && kind != AGNOCAST_MSG_ERROR)
        fail_msg("expected %s, got ERROR: %s", agnocast_proto_kind_name(kind),
                 ((const struct agnocast_wire_error *)r->f.payload)->message);
    assert_int_equal(r->f.kind, kind);
}

static void hello(struct world *w, struct fake *f)
{
    struct agnocast_wire_hello h = {0};
    struct reply r;

    request(w, f, AGNOCAST_MSG_HELLO, &h, sizeof(h), NULL, 0, &r);
    expect_kind(&r, AGNOCAST_MSG_HELLO_REPLY);
}

/*
 * Makes `f` a registered process that may add endpoints: HELLO, REGISTER_PROCESS (no
 * descriptor), ATTACH_SEGMENT with a sealed memfd of its range. The one place to change when the
 * registration flow changes.
 */
static void fake_register(struct world *w, struct fake *f)
{
    struct agnocast_wire_register reg = {0};
    const struct agnocast_wire_register_reply *rr;
    struct agnocast_wire_segment seg = {0};
    struct reply r;
    int mfd;

    hello(w, f);
    request(w, f, AGNOCAST_MSG_REGISTER_PROCESS, &reg, sizeof(reg), NULL, 0, &r);
    expect_kind(&r, AGNOCAST_MSG_REGISTER_REPLY);
    rr = r.f.payload;
    seg.base = rr->base;
    seg.size = rr->size;
    mfd = memfd_create("agnocast-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_true(mfd >= 0);
    assert_int_equal(ftruncate(mfd, (off_t)seg.size), 0);
    assert_int_equal(fcntl(mfd, F_ADD_SEALS, AGNOCAST_SEGMENT_SEALS), 0);
    request(w, f, AGNOCAST_MSG_ATTACH_SEGMENT, &seg, sizeof(seg), &mfd, 1, &r);
    close(mfd);
    expect_kind(&r, AGNOCAST_MSG_OK);
}

/* ADD_PUBLISHER or ADD_SUBSCRIPTION; the reply is left in `r` (notices dropped). */
static void add_endpoint(struct world *w, struct fake *f, uint16_t kind, uint32_t index,
                         const char *topic, struct reply *r)
{
    struct agnocast_wire_endpoint e;

    memset(&e, 0, sizeof(e));
    e.index = index;
    e.qos.depth = 1;
    assert_int_equal(agnocast_topic_field_set(e.topic, topic), 0);
    request(w, f, kind, &e, sizeof(e), NULL, 0, r);
}

static void expect_added(struct world *w, struct fake *f, uint16_t kind, uint32_t index,
                         const char *topic)
{
    struct reply r;

    add_endpoint(w, f, kind, index, topic, &r);
    expect_kind(&r, AGNOCAST_MSG_OK);
}

static const struct agnocast_wire_error *expect_error(struct reply *r, int code)
{
    const struct agnocast_wire_error *e;

    assert_int_equal(r->f.kind, AGNOCAST_MSG_ERROR);
    e = r->f.payload;
    assert_int_equal(e->code, code);
    return e;
}

static void test_access_dispatch_forbidden_publisher_gets_eacces(void **state)
{
    struct world *w = *state;
    struct fake *f;
    struct reg_topic *t;
    struct reply r;
    char *want;

    broker_start(w, rules_text);
    f = fake_connect(w, 4242, 4242);
    fake_register(w, f);

    add_endpoint(w, f, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/camera/left", &r);
    want = g_strdup_printf("uid 4242 (%s) may not publish: rule [/camera] in %s "
                           "(line 1) lets only root,@daemon publish; topic /camera/left",
                           user_name(4242), w->path);
    assert_string_equal(expect_error(&r, -EACCES)->message, want);
    g_free(want);
    assert_null(registry_topic_find(w->b.reg, "/camera/left")); /* nothing was added */

    add_endpoint(w, f, AGNOCAST_MSG_ADD_SUBSCRIPTION, 0, "/camera/secret/raw", &r);
    assert_non_null(strstr(expect_error(&r, -EACCES)->message, "lets nobody subscribe"));

    /* What the rules allow, and a topic no rule covers, go through. */
    expect_added(w, f, AGNOCAST_MSG_ADD_SUBSCRIPTION, 1, "/camera/left");
    expect_added(w, f, AGNOCAST_MSG_ADD_PUBLISHER, 2, "/lidar");
    t = registry_topic_find(w->b.reg, "/camera/left");
    assert_non_null(t);
    assert_int_equal(t->pubs->len, 0);
    assert_int_equal(t->subs->len, 1);
}

/* Allowed by user name, by primary group, and by a supplementary group (SO_PEERGROUPS). */
static void test_access_dispatch_allowed_by_uid_and_groups(void **state)
{
    struct world *w = *state;
    const gid_t daemon_gid[] = {1};
    struct fake *by_uid, *by_gid, *by_group, *neither;
    struct reply r;

    broker_start(w, rules_text);
    by_uid = fake_connect(w, 0, 4242);
    by_gid = fake_connect(w, 4243, 1);
    by_group = fake_connect(w, 4244, 4244);
    client_set_groups(by_group->c, daemon_gid, 1);
    neither = fake_connect(w, 4245, 4245);
    fake_register(w, by_uid);
    fake_register(w, by_gid);
    fake_register(w, by_group);
    fake_register(w, neither);
    expect_added(w, by_uid, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/camera/left");
    expect_added(w, by_gid, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/camera/left");
    expect_added(w, by_group, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/camera/left");
    add_endpoint(w, neither, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/camera/left", &r);
    expect_error(&r, -EACCES);
    /* Only user root publishes under /camera/secret: its group is not enough. */
    expect_added(w, by_uid, AGNOCAST_MSG_ADD_PUBLISHER, 1, "/camera/secret/raw");
    add_endpoint(w, by_group, AGNOCAST_MSG_ADD_PUBLISHER, 1, "/camera/secret/raw", &r);
    expect_error(&r, -EACCES);
    assert_int_equal(registry_topic_find(w->b.reg, "/camera/left")->pubs->len, 3);
}

static void test_access_dispatch_without_rules_allows_all(void **state)
{
    struct world *w = *state;
    struct agnocast_wire_query q;
    struct fake *f;
    struct reply r;

    broker_start(w, NULL);
    f = fake_connect(w, 4242, 4242);
    fake_register(w, f);
    expect_added(w, f, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/camera/secret/raw");
    expect_added(w, f, AGNOCAST_MSG_ADD_SUBSCRIPTION, 0, "/camera/secret/raw");
    memset(&q, 0, sizeof(q));
    request(w, f, AGNOCAST_MSG_LIST_RULES, &q, sizeof(q), NULL, 0, &r);
    expect_kind(&r, AGNOCAST_MSG_RULE_LIST);
    assert_int_equal(r.f.list_total, 0);
    assert_int_equal(r.f.list_count, 0);
}

/* LIST_RULES needs no registration, and pages like the other lists. */
static void test_access_dispatch_list_rules_pages(void **state)
{
    struct world *w = *state;
    GString *text = g_string_new(NULL);
    const struct agnocast_wire_rule_entry *e;
    struct agnocast_wire_query q;
    struct fake *f;
    struct reply r;

    for (int i = 0; i < AGNOCAST_RULES_MAX + 6; i++)
        g_string_append_printf(text, "[/t_%02d]\npublish=root\nsubscribe=*\n", i);
    broker_start(w, text->str);
    g_string_free(text, TRUE);
    f = fake_connect(w, 4242, 4242);
    hello(w, f);

    memset(&q, 0, sizeof(q));
    request(w, f, AGNOCAST_MSG_LIST_RULES, &q, sizeof(q), NULL, 0, &r);
    expect_kind(&r, AGNOCAST_MSG_RULE_LIST);
    assert_int_equal(r.f.list_total, AGNOCAST_RULES_MAX + 6);
    assert_int_equal(r.f.list_count, AGNOCAST_RULES_MAX);
    e = r.f.entries;
    assert_string_equal(e[0].prefix, "/t_00");
    assert_string_equal(e[0].publish, "root");
    assert_string_equal(e[0].subscribe, "*");
    assert_string_equal(e[AGNOCAST_RULES_MAX - 1].prefix, "/t_63");

    q.start = AGNOCAST_RULES_MAX;
    request(w, f, AGNOCAST_MSG_LIST_RULES, &q, sizeof(q), NULL, 0, &r);
    expect_kind(&r, AGNOCAST_MSG_RULE_LIST);
    assert_int_equal(r.f.list_count, 6);
    e = r.f.entries;
    assert_string_equal(e[5].prefix, "/t_69");
}

/* GET_SEGMENT under rules gives only what an endpoint of the caller's own could be handed. */
static void test_access_dispatch_get_segment(void **state)
{
    struct world *w = *state;
    struct agnocast_wire_segment_query q = {0};
    struct fake *secret, *open, *reader, *same_uid;
    struct reply r;

    broker_start(w, rules_text);
    secret = fake_connect(w, 0, 0);
    open = fake_connect(w, 0, 0);
    reader = fake_connect(w, 4242, 4242);
    same_uid = fake_connect(w, 4242, 4242);
    fake_register(w, secret);
    fake_register(w, open);
    fake_register(w, same_uid);
    hello(w, reader);
    expect_added(w, secret, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/camera/secret/raw");
    expect_added(w, open, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/camera/left");

    q.pid = (uint32_t)secret->pid;
    request(w, reader, AGNOCAST_MSG_GET_SEGMENT, &q, sizeof(q), NULL, 0, &r);
    assert_non_null(strstr(expect_error(&r, -EACCES)->message, "may not read the pool of process"));
    assert_int_equal(r.nfds, 0);

    q.pid = (uint32_t)open->pid;
    request(w, reader, AGNOCAST_MSG_GET_SEGMENT, &q, sizeof(q), NULL, 0, &r);
    expect_kind(&r, AGNOCAST_MSG_SEGMENT_REPLY);
    assert_int_equal(r.nfds, 1);
    close_reply_fds(&r);

    /* A process of one's own uid, even with no endpoint at all. */
    q.pid = (uint32_t)same_uid->pid;
    request(w, reader, AGNOCAST_MSG_GET_SEGMENT, &q, sizeof(q), NULL, 0, &r);
    expect_kind(&r, AGNOCAST_MSG_SEGMENT_REPLY);
    close_reply_fds(&r);
}

/* SIGHUP's work: valid rules replace the old ones, invalid ones leave them in force. */
static void test_access_dispatch_reload(void **state)
{
    struct world *w = *state;
    struct fake *f;
    struct reply r;

    broker_start(w, "[/a]\npublish=root\nsubscribe=*\n");
    f = fake_connect(w, 4242, 4242);
    fake_register(w, f);
    add_endpoint(w, f, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/a", &r);
    expect_error(&r, -EACCES);

    write_rules(w, "[/a]\npublish=*\nsubscribe=*\n[/b]\npublish=root\nsubscribe=*\n");
    broker_access_reload(&w->b);
    assert_int_equal(access_rules_count(w->b.access), 2);
    expect_added(w, f, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/a");

    write_rules(w, "[/a]\npublish=no_such_user_here\nsubscribe=*\n");
    broker_access_reload(&w->b);
    assert_int_equal(access_rules_count(w->b.access), 2);
    add_endpoint(w, f, AGNOCAST_MSG_ADD_PUBLISHER, 1, "/b", &r);
    expect_error(&r, -EACCES);
}

/* client_accept takes the supplementary groups from the kernel (SO_PEERGROUPS): those of the
 * process that made the socket pair, set for the occasion when we are root. */
static void test_access_accept_reads_peer_groups(void **state)
{
    struct world *w = *state;
    const gid_t chosen[] = {1, 2, 5};
    gid_t saved[256], mine[256];
    int nsaved = getgroups(G_N_ELEMENTS(saved), saved), n;
    GHashTableIter it;
    gpointer key;
    struct client *c = NULL;
    int sv[2];

    assert_true(nsaved >= 0);
    broker_start(w, NULL);
    if (geteuid() == 0)
        assert_int_equal(setgroups(G_N_ELEMENTS(chosen), chosen), 0);
    n = getgroups(G_N_ELEMENTS(mine), mine);
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    if (geteuid() == 0)
        assert_int_equal(setgroups((size_t)nsaved, saved), 0);
    assert_true(n >= 0);
    if (geteuid() == 0)
        assert_int_equal(n, G_N_ELEMENTS(chosen));
    client_accept(sv[1], &w->b);
    g_hash_table_iter_init(&it, w->b.clients);
    while (g_hash_table_iter_next(&it, &key, NULL))
        c = key;
    assert_non_null(c);
    assert_int_equal(c->uid, getuid());
    assert_int_equal(c->gid, getgid());
    assert_int_equal(c->ngroups, (size_t)n);
    for (int i = 0; i < n; i++) {
        bool found = false;
        for (size_t k = 0; k < c->ngroups; k++)
            found = found || c->groups[k] == mine[i];
        assert_true(found);
    }
    client_close(c);
    close(sv[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_access_dispatch_forbidden_publisher_gets_eacces,
                                        world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_access_dispatch_allowed_by_uid_and_groups, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_access_dispatch_without_rules_allows_all, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_access_dispatch_list_rules_pages, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_access_dispatch_get_segment, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_access_dispatch_reload, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_access_accept_reads_peer_groups, world_setup,
                                        world_teardown),
    };

    return cmocka_run_group_tests_name("access-dispatch", tests, NULL, NULL);
}
