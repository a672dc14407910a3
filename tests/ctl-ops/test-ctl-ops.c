/* agnocastctl's operator commands (topic-info and stats counters, hz, bw, echo, watch) against
 * the real broker, a talker at 200 Hz and a listener; segments come through the broker
 * (GET_SEGMENT), and a process that leaves between the broker's list and that request is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agnocast-proto.h"
#include "cli.h"
#include "harness.h"

#define OUT_CAP (256 * 1024)

struct world {
    struct broker broker;
    pid_t talker;
    pid_t listener;
    char *out;
    char *err;
};

static pid_t spawn_quiet(char *const argv[])
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        if (!getenv("AGNOCAST_TEST_VERBOSE"))
            dup2(devnull, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void stop_child(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

/* Runs agnocastctl with the arguments (NULL-terminated), capturing stdout and stderr; returns
 * its exit status. */
static int ctl_run(struct world *w, ...)
{
    char *argv[32];
    int n = 0, out[2], err[2], status;
    va_list ap;

    argv[n++] = getenv("AGNOCAST_TEST_CTL");
    va_start(ap, w);
    while (n < 31 && (argv[n] = va_arg(ap, char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;

    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    /* stdout first, then stderr: the outputs here are small, stderr fits its pipe. */
    size_t len = 0;
    ssize_t got;
    while (len + 1 < OUT_CAP && (got = read(out[0], w->out + len, OUT_CAP - 1 - len)) > 0)
        len += (size_t)got;
    w->out[len] = '\0';
    len = 0;
    while (len + 1 < OUT_CAP && (got = read(err[0], w->err + len, OUT_CAP - 1 - len)) > 0)
        len += (size_t)got;
    w->err[len] = '\0';
    close(out[0]);
    close(err[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define CTL(w, ...) ctl_run((w), __VA_ARGS__, NULL)

/* The number after "\"key\":" in `doc`, starting at `from`; fails the test if absent. */
static double json_number(const char *doc, const char *key, const char **after)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(doc, pat);
    assert_non_null(p);
    char *end;
    double v = strtod(p + strlen(pat), &end);
    assert_true(end != p + strlen(pat));
    if (after)
        *after = end;
    return v;
}

/* Whether python3's json.tool accepts each line of `text` as a JSON document. */
static void assert_json_lines(const char *text)
{
    char path[] = "/tmp/ctl-ops-json-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_true(n > 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    char cmd[512];
    /* --json-lines: hz, bw and echo print one document per line. */
    snprintf(cmd, sizeof cmd, "python3 -m json.tool --json-lines %s >/dev/null", path);
    int rc = system(cmd);
    unlink(path);
    assert_int_equal(rc, 0);
}

static int world_setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    w->out = malloc(OUT_CAP);
    w->err = malloc(OUT_CAP);
    if (broker_start(&w->broker, NULL) < 0) {
        fprintf(stderr, "cannot start the broker\n");
        return -1;
    }
    char *talker[] = {getenv("AGNOCAST_TEST_TALKER"), "--rate", "200", "--count", "0", NULL};
    char *listener[] = {getenv("AGNOCAST_TEST_LISTENER"), NULL};
    w->talker = spawn_quiet(talker);
    w->listener = spawn_quiet(listener);
    *state = w;

    /* Ready once the listener has received something: both are registered and connected. */
    uint64_t deadline = now_ms() + 8000;
    while (now_ms() < deadline) {
        if (CTL(w, "topic-info", "--json", "/chatter") == 0 && strstr(w->out, "\"received\":") &&
            !strstr(w->out, "\"received\":0,"))
            return 0;
        usleep(50000);
    }
    fprintf(stderr, "talker and listener did not start: %s%s\n", w->out, w->err);
    return 0; /* the tests fail with the details */
}

static int world_teardown(void **state)
{
    struct world *w = *state;

    stop_child(&w->listener);
    stop_child(&w->talker);
    int rc = broker_stop(&w->broker);
    free(w->out);
    free(w->err);
    free(w);
    return rc == 0 ? 0 : -1;
}

static void test_ctl_ops_topic_info_counters_consistent(void **state)
{
    struct world *w = *state;

    assert_int_equal(CTL(w, "topic-info", "--json", "/chatter"), 0);
    assert_json_lines(w->out);
    /* The existing members stay, the counters are added. */
    assert_non_null(strstr(w->out, "\"qos\":{\"depth\":10,"));
    double published = json_number(w->out, "published", NULL);
    double received = json_number(w->out, "received", NULL);
    double missed = json_number(w->out, "missed", NULL);
    json_number(w->out, "corrupt", NULL);
    /* The listener maps and reads the talker: no publisher is unreachable for it. */
    assert_int_equal((int)json_number(w->out, "unreachable", NULL), 0);
    assert_true(published > 0);
    assert_true(received > 0);
    /* agnocastctl reads the subscription's counters before the publisher's head: the listener
     * cannot have seen more than that (this failed 1 run in CI when the order was reversed). */
    assert_true(received + missed <= published);

    assert_int_equal(CTL(w, "topic-info", "/chatter"), 0);
    assert_non_null(strstr(w->out, "PUBLISHED  RECEIVED  MISSED  CORRUPT  UNREACHABLE"));
    assert_string_equal(w->err, "");
}

static void test_ctl_ops_stats_lists_topic_counters(void **state)
{
    struct world *w = *state;

    assert_int_equal(CTL(w, "stats", "--json"), 0);
    assert_json_lines(w->out);
    assert_non_null(strstr(w->out, "\"requests\":["));
    const char *topics = strstr(w->out, "\"topics\":[{\"name\":\"/chatter\",\"publishers\":[{");
    assert_non_null(topics);
    assert_true(json_number(topics, "published", NULL) > 0);
    assert_true(json_number(topics, "received", NULL) > 0);

    assert_int_equal(CTL(w, "stats"), 0);
    assert_non_null(strstr(w->out, "TOPIC     ROLE          PID"));
    assert_non_null(strstr(w->out, "/chatter  subscription"));
}

static void test_ctl_ops_hz_reports_talker_rate(void **state)
{
    struct world *w = *state;

    assert_int_equal(CTL(w, "hz", "/chatter", "--window", "1", "--count", "2", "--json"), 0);
    assert_json_lines(w->out);
    /* Two reports, each with the topic's rate and one publisher. */
    const char *second = strchr(w->out, '\n');
    assert_non_null(second);
    assert_non_null(strchr(second + 1, '\n'));
    double rate = json_number(second + 1, "rate_hz", NULL);
    /* 200 Hz nominal; the machine is shared and may be slow. */
    assert_true(rate >= 100 && rate <= 300);
    assert_non_null(strstr(w->out, "\"publishers\":[{\"pid\":"));

    assert_int_equal(CTL(w, "hz", "/chatter", "-w", "0.5", "-n", "1"), 0);
    assert_non_null(strstr(w->out, "/chatter: "));
    assert_non_null(strstr(w->out, " Hz over "));
}

static void test_ctl_ops_bw_reports_bytes(void **state)
{
    struct world *w = *state;

    assert_int_equal(CTL(w, "bw", "/chatter", "--window", "1", "--count", "1", "--json"), 0);
    assert_json_lines(w->out);
    assert_true(json_number(w->out, "bytes_per_s", NULL) > 0);
    /* The talker's message: a struct demo_message of 56 bytes, 1024 bytes of payload and its
     * text ("message N" and its NUL) as nested allocations, all counted (56 before issue 13). */
    const char *pubs = strstr(w->out, "\"publishers\":[");
    assert_non_null(pubs);
    int mean = (int)json_number(pubs, "mean_size", NULL);
    assert_in_range(mean, 56 + 1024 + 10, 56 + 1024 + 30);
}

static uint64_t hex_le64(const char *hex)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        unsigned byte;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
        v = (v << 8) | byte;
    }
    return v;
}

static void test_ctl_ops_echo_prints_messages_in_place(void **state)
{
    struct world *w = *state;

    assert_int_equal(CTL(w, "echo", "/chatter", "--count", "3", "--json"), 0);
    assert_json_lines(w->out);
    const char *p = w->out;
    uint64_t last = 0;
    int messages = 0;
    for (const char *line = p; *line != '\0'; line = strchr(line, '\n') + 1) {
        if (strstr(line, "\"skipped\":") != NULL &&
            strstr(line, "\"skipped\":") < strchr(line, '\n'))
            continue; /* a slow run may skip some: the three shown must still be right */
        uint64_t seq = (uint64_t)json_number(line, "sequence", NULL);
        assert_true(seq > last);
        assert_int_equal((int)json_number(line, "size", NULL), 56);
        const char *hex = strstr(line, "\"hex\":\"");
        assert_non_null(hex);
        hex += strlen("\"hex\":\"");
        /* --bytes defaults to 16; struct demo_message starts with its sequence number, which
         * the talker keeps equal to the publish sequence. */
        assert_int_equal(strchr(hex, '"') - hex, 32);
        assert_int_equal(hex_le64(hex), seq);
        last = seq;
        messages++;
    }
    assert_int_equal(messages, 3);

    assert_int_equal(CTL(w, "echo", "/chatter", "-n", "1", "--bytes", "8"), 0);
    assert_non_null(strstr(w->out, "seq "));
    assert_non_null(strstr(w->out, "  size 56  "));
}

static void test_ctl_ops_watch_repeats_plain_views(void **state)
{
    struct world *w = *state;

    assert_int_equal(CTL(w, "watch", "--interval", "0.3", "--iterations", "2"), 0);
    /* stdout is a pipe: no escape sequences, two views. */
    assert_null(strchr(w->out, '\033'));
    const char *first = strstr(w->out, "agnocastctl watch: broker pid ");
    assert_non_null(first);
    assert_non_null(strstr(first + 1, "agnocastctl watch: broker pid "));
    assert_non_null(strstr(w->out, "TOPIC     PUBS  SUBS  RATE_HZ  PUBLISHED  RECEIVED  MISSED  "
                                   "CORRUPT  UNREACHABLE"));
    const char *row = strstr(w->out, "\n/chatter  1     1     ");
    assert_non_null(row);
    double rate = strtod(row + strlen("\n/chatter  1     1     "), NULL);
    assert_true(rate >= 100 && rate <= 300);
}

static void test_ctl_ops_usage_and_unknown_topic(void **state)
{
    struct world *w = *state;

    assert_int_equal(CTL(w, "hz", "/not/there", "--count", "1"), CLI_EXIT_REFUSED);
    assert_non_null(strstr(w->err, "/not/there"));
    assert_int_equal(CTL(w, "echo", "/9bad"), CLI_EXIT_USAGE);
    assert_int_equal(CTL(w, "bw", "/chatter", "--window", "0"), CLI_EXIT_USAGE);
    assert_int_equal(CTL(w, "watch", "--json"), CLI_EXIT_USAGE);
    assert_int_equal(CTL(w, "echo", "/chatter", "--bytes", "5000"), CLI_EXIT_USAGE);
    static const char *const cmds[] = {"hz", "bw", "echo", "watch"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        assert_int_equal(CTL(w, cmds[i], "--help"), 0);
        assert_non_null(strstr(w->out, "Exit status:"));
    }
}

/* Without --count the long-running commands run until SIGINT, then end cleanly (status 0). */
static void test_ctl_ops_sigint_ends_cleanly(void **state)
{
    static const char *const cmds[] = {"hz", "bw", "echo", "watch"};

    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char *argv[] = {getenv("AGNOCAST_TEST_CTL"), (char *)cmds[i],
                        i < 3 ? "/chatter" : "--interval", i < 3 ? NULL : "0.1", NULL};
        pid_t pid = spawn_quiet(argv);
        int status;

        /* Long enough for the handler to be installed even in a sanitizer build. */
        usleep(500000);
        kill(pid, SIGINT);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
}

static int unix_socket(const char *path, bool listening)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd < 0)
        return -1;
    if (listening ? bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 4) == 0
                  : connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    close(fd);
    return -1;
}

/* Sends `kind` on `fd` and returns the kind of the frame that answers it (0: none). */
static uint16_t raw_ask(int fd, uint16_t kind, uint32_t id, const void *payload, size_t len)
{
    static union agnocast_frame_buffer buf;
    unsigned char out[64];
    struct agnocast_frame f;
    ssize_t n = agnocast_proto_encode(out, sizeof out, kind, id, payload, len);

    if (n < 0 || agnocast_proto_send(fd, out, (size_t)n, NULL, 0) < 0)
        return 0;
    for (int i = 0; i < 16; i++) {
        int fds[AGNOCAST_PROTO_FDS_MAX], nfds = AGNOCAST_PROTO_FDS_MAX;
        n = agnocast_proto_recv(fd, buf.bytes, sizeof buf.bytes, fds, &nfds);
        for (int k = 0; n > 0 && k < nfds; k++)
            close(fds[k]);
        if (n <= 0 || agnocast_proto_decode(buf.bytes, (size_t)n, &f) < 0)
            return 0;
        if (f.request_id == id)
            return f.kind;
    }
    return 0;
}

/* Kills `victim` and waits (up to 5 s) until the broker no longer has it. */
static void proxy_kill_victim(const char *broker_path, pid_t victim)
{
    struct agnocast_wire_hello hello = {0};
    struct agnocast_wire_segment_query q = {.pid = (uint32_t)victim};
    int fd = unix_socket(broker_path, false);
    uint32_t id = 1;

    kill(victim, SIGKILL);
    if (fd < 0 || raw_ask(fd, AGNOCAST_MSG_HELLO, id++, &hello, sizeof hello) == 0)
        _exit(3);
    for (uint64_t deadline = now_ms() + 5000; now_ms() < deadline; usleep(10000))
        if (raw_ask(fd, AGNOCAST_MSG_GET_SEGMENT, id++, &q, sizeof q) == AGNOCAST_MSG_ERROR)
            break;
    close(fd);
}

/* Moves one frame and its descriptors from `from` to `to`; false when `from` closed. */
static bool proxy_forward(int from, int to, const char *broker_path, pid_t *victim)
{
    static union agnocast_frame_buffer buf;
    int fds[AGNOCAST_PROTO_FDS_MAX], nfds = AGNOCAST_PROTO_FDS_MAX;
    ssize_t n = agnocast_proto_recv(from, buf.bytes, sizeof buf.bytes, fds, &nfds);
    struct agnocast_frame f;

    if (n <= 0)
        return false;
    if (*victim > 0 && agnocast_proto_decode(buf.bytes, (size_t)n, &f) == 0 &&
        f.kind == AGNOCAST_MSG_GET_SEGMENT &&
        ((const struct agnocast_wire_segment_query *)f.payload)->pid == (uint32_t)*victim) {
        proxy_kill_victim(broker_path, *victim);
        *victim = 0;
    }
    int rc = agnocast_proto_send(to, buf.bytes, (size_t)n, fds, nfds);
    for (int k = 0; k < nfds; k++)
        close(fds[k]);
    return rc == 0;
}

/*
 * Stands between agnocastctl and the broker at `broker_path`, passing every frame and descriptor
 * on, except that before the first GET_SEGMENT for `victim` it kills the victim and waits until
 * the broker has let it go: the process leaves right after the broker listed it. Returns the
 * proxy's pid (SIGTERM ends it).
 */
static pid_t proxy_start(const char *listen_path, const char *broker_path, pid_t victim)
{
    int lfd = unix_socket(listen_path, true);

    assert_true(lfd >= 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) {
        close(lfd);
        return pid;
    }
    for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        int bfd = cfd >= 0 ? unix_socket(broker_path, false) : -1;

        if (bfd < 0)
            _exit(2);
        for (;;) {
            struct pollfd p[2] = {{cfd, POLLIN, 0}, {bfd, POLLIN, 0}};
            if (poll(p, 2, -1) < 0 && errno != EINTR)
                break;
            if (p[0].revents && !proxy_forward(cfd, bfd, broker_path, &victim))
                break;
            if (p[1].revents && !proxy_forward(bfd, cfd, broker_path, &victim))
                break;
        }
        close(cfd);
        close(bfd);
    }
}

/* A process that left after the broker listed it, before agnocastctl asked for its segment:
 * named as gone, the command goes on with the others (counters shown, exit status 0). */
static void test_ctl_ops_process_gone_before_its_segment(void **state)
{
    struct world *w = *state;
    char *listener[] = {getenv("AGNOCAST_TEST_LISTENER"), "--topic", "/chatter", NULL};
    pid_t victim = spawn_quiet(listener);
    char proxy_path[sizeof w->broker.socket + 16];

    /* Ready once the broker lists two subscriptions of /chatter. */
    uint64_t deadline = now_ms() + 8000;
    while (now_ms() < deadline && !(CTL(w, "topic-info", "/chatter") == 0 &&
                                    strstr(w->out, "/chatter: 1 publisher, 2 subscriptions\n")))
        usleep(50000);
    snprintf(proxy_path, sizeof proxy_path, "%s.proxy", w->broker.socket);
    pid_t proxy = proxy_start(proxy_path, w->broker.socket, victim);

    int rc = CTL(w, "--socket", proxy_path, "topic-info", "/chatter");
    kill(proxy, SIGTERM);
    waitpid(proxy, NULL, 0);
    waitpid(victim, NULL, 0);
    unlink(proxy_path);

    assert_int_equal(rc, 0);
    char want[128];
    snprintf(want, sizeof want,
             "agnocastctl: process %d is gone: it left after the broker listed it; run the "
             "command again\n",
             (int)victim);
    assert_string_equal(w->err, want);
    /* Listed with the others; its counters unknown, theirs read. */
    snprintf(want, sizeof want, "subscription  %d", (int)victim);
    assert_non_null(strstr(w->out, "/chatter: 1 publisher, 2 subscriptions\n"));
    const char *counters = strstr(w->out, "UNREACHABLE\n");
    assert_non_null(counters);
    const char *row = strstr(counters, want);
    assert_non_null(row);
    assert_non_null(strstr(row, "?"));
    assert_non_null(strstr(counters, "publisher "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctl_ops_topic_info_counters_consistent),
        cmocka_unit_test(test_ctl_ops_stats_lists_topic_counters),
        cmocka_unit_test(test_ctl_ops_hz_reports_talker_rate),
        cmocka_unit_test(test_ctl_ops_bw_reports_bytes),
        cmocka_unit_test(test_ctl_ops_echo_prints_messages_in_place),
        cmocka_unit_test(test_ctl_ops_watch_repeats_plain_views),
        cmocka_unit_test(test_ctl_ops_usage_and_unknown_topic),
        cmocka_unit_test(test_ctl_ops_sigint_ends_cleanly),
        cmocka_unit_test(test_ctl_ops_process_gone_before_its_segment),
    };
    return cmocka_run_group_tests_name("ctl-ops", tests, world_setup, world_teardown);
}
