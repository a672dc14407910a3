/*
 * The promises agnocast.h makes about every handle: in a fork child each call on an inherited
 * handle answers as documented and nothing crashes; the thread rules of a publisher; a log
 * callback runs with no library lock held.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <agnocast.h>

#include "harness.h"
#include "shm-layout.h"

/* ---- the functions of agnocast.h that take a handle, read from the header ---------------- */

#define MAX_FUNCTIONS 128

struct declared {
    char name[64];
    bool takes_handle; /* a pointer to a context, publisher, subscription or message */
};

/* Whether a parameter list has a handle: "struct agnocast_X *name" (not "**", an out
 * parameter such as the one agnocast_context_new fills). */
static bool params_take_handle(const char *params)
{
    static const char *const objects[] = {"context", "publisher", "subscription", "message"};
    const char *p = params;

    while ((p = strstr(p, "struct agnocast_")) != NULL) {
        p += strlen("struct agnocast_");
        for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
            size_t n = strlen(objects[i]);
            const char *q = p + n;
            if (strncmp(p, objects[i], n) != 0 || q[0] == '_')
                continue;
            while (*q == ' ')
                q++;
            if (q[0] == '*' && q[1] != '*')
                return true;
        }
    }
    return false;
}

/* The exported functions agnocast.h declares (comments and preprocessor lines dropped, one
 * declaration per ';'). check-exports holds the header and the library to the same list. */
static int read_declarations(const char *path, struct declared *out, int cap)
{
    static char text[1 << 17], clean[1 << 17];
    FILE *f = fopen(path, "r");
    size_t len, n = 0;
    int count = 0;
    bool line_start = true;

    if (!f)
        return -1;
    len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '/' && text[i + 1] == '*') {
            char *end = strstr(text + i + 2, "*/");
            if (!end)
                break;
            i = (size_t)(end - text) + 1;
            continue;
        }
        if (line_start && text[i] == '#') {
            while (i < len && text[i] != '\n')
                i++;
        }
        line_start = text[i] == '\n';
        clean[n++] = text[i] == '\n' || text[i] == '\\' ? ' ' : text[i];
    }
    clean[n] = '\0';
    for (char *stmt = strtok(clean, ";"); stmt && count < cap; stmt = strtok(NULL, ";")) {
        char *paren, *end;
        if (!strstr(stmt, "AGNOCAST_EXPORT") || strstr(stmt, "typedef"))
            continue;
        paren = strchr(stmt, '(');
        if (!paren)
            continue;
        end = paren;
        while (end > stmt && end[-1] == ' ')
            end--;
        char *start = end;
        while (start > stmt && (start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z') ||
                                (start[-1] >= '0' && start[-1] <= '9')))
            start--;
        snprintf(out[count].name, sizeof(out[count].name), "%.*s", (int)(end - start), start);
        out[count].takes_handle = params_take_handle(paren);
        count++;
    }
    return count;
}

/* ---- fork: every call on an inherited handle --------------------------------------------- */

struct handles {
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    struct agnocast_subscription *sub;
    struct agnocast_message *msg; /* held (taken) */
    void *loan;                   /* outstanding */
};

static void ignore_message(struct agnocast_subscription *sub, struct agnocast_message *msg,
                           void *userdata)
{
    (void)sub;
    (void)msg;
    (void)userdata;
}

/* One check per function: true when the call in the child answers as agnocast.h says. */
#define CHECK(fn, ...)                                                                             \
    static bool check_##fn(struct handles *h)                                                      \
    {                                                                                              \
        (void)h;                                                                                   \
        __VA_ARGS__                                                                                \
    }

CHECK(agnocast_context_segment, void *b = NULL; size_t s = 0;
      return agnocast_context_segment(h->ctx, &b, &s) == -ECHILD && !b;)
CHECK(agnocast_context_pool_usage,
      return agnocast_context_pool_usage(h->ctx, NULL, NULL) == -ECHILD;)
CHECK(agnocast_context_fd, return agnocast_context_fd(h->ctx) == -ECHILD;)
CHECK(agnocast_context_dispatch, return agnocast_context_dispatch(h->ctx) == -ECHILD;)
CHECK(agnocast_context_spin, return agnocast_context_spin(h->ctx, 0) == -ECHILD;)
CHECK(agnocast_context_spin_once, return agnocast_context_spin_once(h->ctx, 0) == -ECHILD;)
CHECK(agnocast_context_stop, agnocast_context_stop(h->ctx); return true;)
CHECK(agnocast_context_set_busy_poll, return agnocast_context_set_busy_poll(h->ctx, 1) == -ECHILD;)
CHECK(agnocast_publisher_new, struct agnocast_publisher *p = NULL;
      return agnocast_publisher_new(h->ctx, "/contract/other", 1, 0, &p) == -ECHILD && !p;)
CHECK(agnocast_publisher_loan, void *d = NULL;
      return agnocast_publisher_loan(h->pub, 64, &d) == -ECHILD && !d;)
CHECK(agnocast_loan_alloc, void *d = NULL;
      return agnocast_loan_alloc(h->pub, h->loan, 64, &d) == -ECHILD && !d;)
CHECK(agnocast_publisher_publish, return agnocast_publisher_publish(h->pub, h->loan) == -ECHILD;)
CHECK(agnocast_publisher_drop, return agnocast_publisher_drop(h->pub, h->loan) == -ECHILD;)
CHECK(agnocast_publisher_published, return agnocast_publisher_published(h->pub) == 0;)
CHECK(agnocast_publisher_subscription_count,
      return agnocast_publisher_subscription_count(h->pub) == -ECHILD;)
CHECK(agnocast_publisher_wait_matched,
      return agnocast_publisher_wait_matched(h->pub, 1, 0) == -ECHILD;)
CHECK(agnocast_subscription_new, struct agnocast_subscription *s = NULL;
      int r = agnocast_subscription_new(h->ctx, "/contract/other", 1, 0, ignore_message, NULL, &s);
      return r == -ECHILD && !s;)
CHECK(agnocast_subscription_take, struct agnocast_message *m = NULL;
      return agnocast_subscription_take(h->sub, &m) == -ECHILD && !m;)
CHECK(agnocast_subscription_take_latest, struct agnocast_message *m = NULL;
      return agnocast_subscription_take_latest(h->sub, &m) == -ECHILD && !m;)
CHECK(agnocast_subscription_received, return agnocast_subscription_received(h->sub) == 0;)
CHECK(agnocast_subscription_missed, return agnocast_subscription_missed(h->sub) == 0;)
CHECK(agnocast_subscription_corrupt, return agnocast_subscription_corrupt(h->sub) == 0;)
CHECK(agnocast_subscription_unreachable, return agnocast_subscription_unreachable(h->sub) == 0;)
CHECK(agnocast_subscription_publisher_count,
      return agnocast_subscription_publisher_count(h->sub) == -ECHILD;)
CHECK(agnocast_subscription_wait_matched,
      return agnocast_subscription_wait_matched(h->sub, 1, 0) == -ECHILD;)
CHECK(agnocast_message_data, return agnocast_message_data(h->msg) == NULL;)
CHECK(agnocast_message_size, return agnocast_message_size(h->msg) == 0;)
CHECK(agnocast_message_publisher_pid, return agnocast_message_publisher_pid(h->msg) == 0;)
CHECK(agnocast_message_publisher_index, return agnocast_message_publisher_index(h->msg) == 0;)
CHECK(agnocast_message_sequence, return agnocast_message_sequence(h->msg) == 0;)
CHECK(agnocast_message_timestamp_ns, return agnocast_message_timestamp_ns(h->msg) == 0;)
CHECK(agnocast_message_contains, return agnocast_message_contains(h->msg, h->loan, 1) == 0;)
CHECK(agnocast_message_retain, agnocast_message_retain(h->msg); return true;)
CHECK(agnocast_message_release, return agnocast_message_release(h->msg) == NULL;)
CHECK(agnocast_subscription_free, return agnocast_subscription_free(h->sub) == NULL;)
CHECK(agnocast_publisher_free, return agnocast_publisher_free(h->pub) == NULL;)
CHECK(agnocast_context_free, return agnocast_context_free(h->ctx) == NULL;)
/* The allocator hook takes pointers, not handles: a parent's loan is left alone. */
CHECK(agnocast__hook_alloc, int routed = -1;
      return agnocast__hook_alloc(16, 64, &routed) == NULL && routed == 0;)
CHECK(agnocast__hook_free, return agnocast__hook_free(h->loan) == 1;)
CHECK(agnocast__hook_realloc, int routed = -1; errno = 0;
      return agnocast__hook_realloc(h->loan, 128, &routed) == NULL && routed == 1 &&
             errno == ENOMEM;)
CHECK(agnocast__hook_usable_size, int routed = -1;
      return agnocast__hook_usable_size(h->loan, &routed) == 0 && routed == 1;)

/* clang-format off */
#define ENTRY(fn) {#fn, check_##fn}
/* clang-format on */

/* In this order: the frees come last. */
static const struct {
    const char *name;
    bool (*check)(struct handles *h);
} child_calls[] = {
    ENTRY(agnocast_context_segment),
    ENTRY(agnocast_context_pool_usage),
    ENTRY(agnocast_context_fd),
    ENTRY(agnocast_context_dispatch),
    ENTRY(agnocast_context_spin),
    ENTRY(agnocast_context_spin_once),
    ENTRY(agnocast_context_stop),
    ENTRY(agnocast_context_set_busy_poll),
    ENTRY(agnocast_publisher_new),
    ENTRY(agnocast_publisher_loan),
    ENTRY(agnocast_loan_alloc),
    ENTRY(agnocast_publisher_publish),
    ENTRY(agnocast_publisher_drop),
    ENTRY(agnocast_publisher_published),
    ENTRY(agnocast_publisher_subscription_count),
    ENTRY(agnocast_publisher_wait_matched),
    ENTRY(agnocast_subscription_new),
    ENTRY(agnocast_subscription_take),
    ENTRY(agnocast_subscription_take_latest),
    ENTRY(agnocast_subscription_received),
    ENTRY(agnocast_subscription_missed),
    ENTRY(agnocast_subscription_corrupt),
    ENTRY(agnocast_subscription_unreachable),
    ENTRY(agnocast_subscription_publisher_count),
    ENTRY(agnocast_subscription_wait_matched),
    ENTRY(agnocast_message_data),
    ENTRY(agnocast_message_size),
    ENTRY(agnocast_message_publisher_pid),
    ENTRY(agnocast_message_publisher_index),
    ENTRY(agnocast_message_sequence),
    ENTRY(agnocast_message_timestamp_ns),
    ENTRY(agnocast_message_contains),
    ENTRY(agnocast_message_retain),
    ENTRY(agnocast__hook_alloc),
    ENTRY(agnocast__hook_free),
    ENTRY(agnocast__hook_realloc),
    ENTRY(agnocast__hook_usable_size),
    ENTRY(agnocast_message_release),
    ENTRY(agnocast_subscription_free),
    ENTRY(agnocast_publisher_free),
    ENTRY(agnocast_context_free),
};
#define NCALLS (sizeof(child_calls) / sizeof(child_calls[0]))

/* Every function of the header that takes a handle is in child_calls, and every name there is
 * declared: a new function cannot be forgotten here. */
static void test_contract_fork_list_covers_header(void **state)
{
    struct declared decl[MAX_FUNCTIONS];
    const char *header = getenv("AGNOCAST_TEST_HEADER");
    int n, handles = 0;

    (void)state;
    assert_non_null(header);
    n = read_declarations(header, decl, MAX_FUNCTIONS);
    assert_true(n > 30);
    for (int i = 0; i < n; i++) {
        bool listed = false;
        for (size_t c = 0; c < NCALLS; c++)
            listed |= strcmp(child_calls[c].name, decl[i].name) == 0;
        if (decl[i].takes_handle) {
            handles++;
            if (!listed)
                fail_msg("%s takes a handle but the fork test does not call it", decl[i].name);
        }
    }
    for (size_t c = 0; c < NCALLS; c++) {
        bool declared = false;
        for (int i = 0; i < n; i++)
            declared |= strcmp(child_calls[c].name, decl[i].name) == 0;
        if (!declared)
            fail_msg("%s is not declared in agnocast.h", child_calls[c].name);
    }
    assert_true(handles > 25);
}

/* ThreadSanitizer cannot follow a thread started in the child of a process that had threads
 * (it reports a "dup thread" and stops): there the child does not make a context of its own. */
#if defined(__SANITIZE_THREAD__)
#define CHILD_MAY_START_THREADS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHILD_MAY_START_THREADS 0
#endif
#endif
#ifndef CHILD_MAY_START_THREADS
#define CHILD_MAY_START_THREADS 1
#endif

/* Child of fork_role: each call on the inherited handles, then a context of its own. */
static int fork_child(struct handles *h, int out)
{
    char failed[1024] = "";
    size_t len = 0;
    int failures = 0;
    struct agnocast_context *own;
    struct agnocast_publisher *pub;

    for (size_t c = 0; c < NCALLS; c++) {
        if (!child_calls[c].check(h)) {
            failures++;
            len += (size_t)snprintf(failed + len, sizeof(failed) - len, " %s", child_calls[c].name);
            if (len >= sizeof(failed))
                len = sizeof(failed) - 1;
        }
    }
    send_line(out, "child %d%s", failures, failed);
    if (!CHILD_MAY_START_THREADS) {
        send_line(out, "own context ok");
        return failures;
    }
    if (agnocast_context_new(&own) < 0 ||
        agnocast_publisher_new(own, "/contract/child", 1, 0, &pub) < 0) {
        failures++;
        send_line(out, "own context: %s", agnocast_last_error());
    } else {
        agnocast_context_free(own);
        send_line(out, "own context ok");
    }
    return failures;
}

static int fork_role(void *arg, int out, int in)
{
    struct handles h;
    struct agnocast_message *second = NULL;
    uint64_t *m;
    struct pollfd pfd;
    pid_t child;
    int status;

    (void)arg;
    (void)in;
    if (agnocast_context_new(&h.ctx) < 0 ||
        agnocast_publisher_new(h.ctx, "/contract/fork", 4, 0, &h.pub) < 0 ||
        agnocast_subscription_new(h.ctx, "/contract/fork", 4, 0, NULL, NULL, &h.sub) < 0 ||
        agnocast_publisher_loan(h.pub, 64, (void **)&m) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    m[0] = 1;
    if (agnocast_publisher_publish(h.pub, m) < 0 ||
        agnocast_subscription_take(h.sub, &h.msg) != 1 ||
        agnocast_publisher_loan(h.pub, 64, &h.loan) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    agnocast_context_dispatch(h.ctx); /* empties the descriptor */

    child = fork();
    if (child == 0) {
        /* A crash must kill the child, not return into cmocka's runner (copied by fork). */
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
            signal(fatal[i], SIG_DFL);
        _exit(fork_child(&h, out) == 0 ? 0 : 1);
    }
    if (child < 0 || waitpid(child, &status, 0) != child) {
        send_line(out, "error fork");
        return 1;
    }
    if (WIFSIGNALED(status)) {
        send_line(out, "child killed by signal %d", WTERMSIG(status));
        return 1;
    }
    /* Nothing the child did reached the parent: no wake-up, and everything still works. */
    pfd = (struct pollfd){.fd = agnocast_context_fd(h.ctx), .events = POLLIN};
    ((uint64_t *)h.loan)[0] = 2;
    if (poll(&pfd, 1, 0) != 0)
        send_line(out, "parent woken by the child");
    else if (agnocast_message_sequence(h.msg) != 1 ||
             *(const uint64_t *)agnocast_message_data(h.msg) != 1 ||
             agnocast_publisher_publish(h.pub, h.loan) < 0 ||
             agnocast_subscription_take(h.sub, &second) != 1 ||
             agnocast_message_sequence(second) != 2 ||
             *(const uint64_t *)agnocast_message_data(second) != 2 ||
             agnocast_subscription_received(h.sub) != 2)
        send_line(out, "parent broken: %s", agnocast_last_error());
    else
        send_line(out, "parent ok");
    agnocast_message_release(second);
    agnocast_message_release(h.msg);
    agnocast_context_free(h.ctx);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static void test_contract_fork_child_gets_echild(void **state)
{
    struct role r;
    char line[1200];

    (void)state;
    assert_int_equal(role_start(&r, fork_role, NULL), 0);
    assert_true(recv_line(r.from_child, line, sizeof(line), 20000) >= 0);
    assert_string_equal(line, "child 0");
    assert_true(recv_line(r.from_child, line, sizeof(line), 20000) >= 0);
    assert_string_equal(line, "own context ok");
    assert_true(recv_line(r.from_child, line, sizeof(line), 20000) >= 0);
    assert_string_equal(line, "parent ok");
    assert_int_equal(role_wait(&r), 0);
}

/* ---- threads: two threads publishing on one publisher ----------------------------------- */

#define ROUNDS    400
#define PER_ROUND 500 /* per thread: both rounds' worth fit in the depth of 1024 */

struct pub_thread {
    struct agnocast_publisher *pub;
    uint32_t id;
    pthread_barrier_t *start, *done;
    _Atomic bool *stop;
    int err;
};

/* Publishes PER_ROUND messages per round, both threads at once, while the taker waits. */
static void *publish_thread(void *arg)
{
    struct pub_thread *t = arg;

    for (uint32_t round = 0; round < ROUNDS; round++) {
        pthread_barrier_wait(t->start);
        for (uint32_t i = 0; i < PER_ROUND && !t->err && !atomic_load(t->stop); i++) {
            uint64_t *m;
            int r = agnocast_publisher_loan(t->pub, 64, (void **)&m);
            if (r == 0) {
                m[0] = (uint64_t)t->id << 32 | (round * PER_ROUND + i);
                r = agnocast_publisher_publish(t->pub, m);
            }
            t->err = r;
        }
        pthread_barrier_wait(t->done);
    }
    return NULL;
}

/* Two threads publish on one publisher: every message arrives once, numbered 1, 2, 3, ... in
 * the order taken. */
static int threads_role(void *arg, int out, int in)
{
    static unsigned char seen[2][ROUNDS * PER_ROUND];
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    struct agnocast_subscription *sub;
    pthread_barrier_t start, done;
    _Atomic bool stop = false;
    struct pub_thread t[2];
    pthread_t th[2];
    uint64_t last = 0, taken = 0;
    const char *bad = NULL;

    (void)arg;
    (void)in;
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_publisher_new(ctx, "/contract/threads", 1024, 0, &pub) < 0 ||
        agnocast_subscription_new(ctx, "/contract/threads", 1024, 0, NULL, NULL, &sub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    pthread_barrier_init(&start, NULL, 3);
    pthread_barrier_init(&done, NULL, 3);
    for (int i = 0; i < 2; i++) {
        t[i] = (struct pub_thread){
            .pub = pub, .id = (uint32_t)i, .start = &start, .done = &done, .stop = &stop};
        pthread_create(&th[i], NULL, publish_thread, &t[i]);
    }
    for (uint32_t round = 0; round < ROUNDS; round++) {
        struct agnocast_message *msg;
        int r;
        pthread_barrier_wait(&start);
        pthread_barrier_wait(&done);
        while (!bad && (r = agnocast_subscription_take(sub, &msg)) == 1) {
            uint64_t v = *(const uint64_t *)agnocast_message_data(msg);
            uint32_t id = (uint32_t)(v >> 32), i = (uint32_t)v;
            if (agnocast_message_sequence(msg) != last + 1)
                bad = "a message number was skipped or repeated";
            else if (id > 1 || i >= ROUNDS * PER_ROUND || seen[id][i]++)
                bad = "a message arrived twice or was never published";
            last = agnocast_message_sequence(msg);
            agnocast_message_release(msg);
            taken++;
        }
        if (!bad && r < 0)
            bad = agnocast_strerror(r);
        if (!bad && (t[0].err || t[1].err))
            bad = agnocast_strerror(t[0].err ? t[0].err : t[1].err);
        if (!bad && taken != (round + 1) * 2 * PER_ROUND)
            bad = "messages are missing";
        if (bad)
            atomic_store(&stop, true); /* the threads go through the remaining rounds idle */
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    if (!bad && (agnocast_publisher_published(pub) != 2 * ROUNDS * PER_ROUND ||
                 agnocast_subscription_received(sub) != 2 * ROUNDS * PER_ROUND ||
                 agnocast_subscription_missed(sub) != 0 || agnocast_subscription_corrupt(sub) != 0))
        bad = "the counters disagree";
    if (bad)
        send_line(out, "error after %llu of %d: %s (message %llu)", (unsigned long long)taken,
                  2 * ROUNDS * PER_ROUND, bad, (unsigned long long)last);
    else
        send_line(out, "ok");
    agnocast_context_free(ctx);
    return 0;
}

static void test_contract_two_threads_publish_on_one_publisher(void **state)
{
    struct role r;
    char line[256];

    (void)state;
    assert_int_equal(role_start(&r, threads_role, NULL), 0);
    assert_true(recv_line(r.from_child, line, sizeof(line), 90000) >= 0);
    assert_string_equal(line, "ok");
    assert_int_equal(role_wait(&r), 0);
}

/* ---- the log callback runs with no library lock held ------------------------------------- */

struct log_state {
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    int calls, corrupt_lines, reentered, dropped_lines;
};

/* Calls back into the library: calls that take the context's lock (the corrupt-publisher
 * warning is logged under it) and the log's own lock; and a failing call, whose debug line is
 * logged from inside the callback, every time: that must end. */
static void reentering_logger(enum agnocast_log_level level, const char *message, void *userdata)
{
    struct log_state *st = userdata;
    size_t used;

    (void)level;
    st->calls++;
    if (strstr(message, "is corrupt")) {
        st->corrupt_lines++;
        if (agnocast_context_pool_usage(st->ctx, &used, NULL) == 0 &&
            agnocast_publisher_published(st->pub) == 1)
            st->reentered++;
        agnocast_set_log_callback(reentering_logger, AGNOCAST_LOG_DEBUG, st);
    }
    if (strstr(message, "log lines dropped"))
        st->dropped_lines++;
    agnocast_context_fd(NULL);
}

static int log_role(void *arg, int out, int in)
{
    struct log_state st = {0};
    struct agnocast_subscription *sub;
    struct agn_seg_header *seg;
    uint64_t *m;
    void *base;
    int r;

    (void)arg;
    (void)in;
    alarm(10); /* a deadlock ends this role, not the test */
    if (agnocast_context_new(&st.ctx) < 0 ||
        agnocast_publisher_new(st.ctx, "/contract/log", 4, 0, &st.pub) < 0 ||
        agnocast_subscription_new(st.ctx, "/contract/log", 4, 0, ignore_message, NULL, &sub) < 0 ||
        agnocast_publisher_loan(st.pub, 64, (void **)&m) < 0 ||
        agnocast_publisher_publish(st.pub, m) < 0 || agnocast_context_dispatch(st.ctx) != 1 ||
        agnocast_context_segment(st.ctx, &base, NULL) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    /* This process's only publisher (slot 0) now claims a head no publisher reaches: the
     * subscription finds it corrupt while it collects, under the context's lock, and warns. */
    seg = base;
    atomic_store(&seg->pubs[0].head, 1ull << 41);
    agnocast_set_log_callback(reentering_logger, AGNOCAST_LOG_DEBUG, &st);
    r = agnocast_context_dispatch(st.ctx);
    agnocast_set_log_callback(NULL, AGNOCAST_LOG_ERROR, NULL);
    send_line(out, "dispatch %d corrupt %d/%llu reentered %d dropped %d bounded %d", r,
              st.corrupt_lines, (unsigned long long)agnocast_subscription_corrupt(sub),
              st.reentered, st.dropped_lines, st.calls < 100);
    agnocast_context_free(st.ctx);
    return 0;
}

static void test_contract_log_callback_reenters_the_library(void **state)
{
    struct role r;
    char line[256];

    (void)state;
    assert_int_equal(role_start(&r, log_role, NULL), 0);
    assert_true(recv_line(r.from_child, line, sizeof(line), 30000) >= 0);
    assert_string_equal(line, "dispatch 0 corrupt 1/1 reentered 1 dropped 1 bounded 1");
    assert_int_equal(role_wait(&r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract_fork_list_covers_header),
        cmocka_unit_test(test_contract_fork_child_gets_echild),
        cmocka_unit_test(test_contract_two_threads_publish_on_one_publisher),
        cmocka_unit_test(test_contract_log_callback_reenters_the_library),
    };

    return cmocka_run_group_tests(tests, harness_broker_setup, harness_broker_teardown);
}
