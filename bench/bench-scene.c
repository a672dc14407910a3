/* The 200-topic scene: the layout, the processes, the publishers' schedule, the measured window,
 * the CPU time read from /proc, and the report. The transports live beside it. */
#include "bench-scene.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-stats.h"
#include "bench-util.h"

#define NS 1000000000ull

void bench_scene_defaults(struct bench_scene *sc)
{
    *sc = (struct bench_scene){.topics = 200,
                               .publishers = 10,
                               .subscribers = 20,
                               .rate_hz = 100,
                               .size = 1024,
                               .seconds = 10,
                               .warm = 0.5};
}

bool bench_scene_option(struct bench_scene *sc, int opt, const char *arg)
{
    switch (opt) {
    case 1001:
        sc->seconds = strtod(arg, NULL);
        return true;
    case 1002:
        sc->topics = (unsigned)strtoul(arg, NULL, 0);
        return true;
    case 1003:
        sc->publishers = (unsigned)strtoul(arg, NULL, 0);
        return true;
    case 1004:
        sc->subscribers = (unsigned)strtoul(arg, NULL, 0);
        return true;
    case 1005:
        sc->rate_hz = (unsigned)strtoul(arg, NULL, 0);
        return true;
    case 1006:
        sc->daemon_pid = strtol(arg, NULL, 0);
        return true;
    case 1007:
        sc->warm = strtod(arg, NULL);
        return true;
    default:
        return false;
    }
}

unsigned bench_scene_per_pub(const struct bench_scene *sc)
{
    return sc->topics / sc->publishers;
}

uint32_t bench_scene_pub_topic(const struct bench_scene *sc, unsigned pub, unsigned i)
{
    return pub * bench_scene_per_pub(sc) + i;
}

unsigned bench_scene_sub_topics(const struct bench_scene *sc, unsigned sub, uint32_t *out)
{
    unsigned half = sc->subscribers / 2, n = 0;

    for (uint32_t t = sub % half; t < sc->topics && n < BENCH_SCENE_MAX_PER_PROCESS; t += half)
        out[n++] = t;
    return n;
}

void bench_scene_topic_subs(const struct bench_scene *sc, uint32_t t, unsigned out[2])
{
    unsigned half = sc->subscribers / 2;

    out[0] = t % half;
    out[1] = t % half + half;
}

void bench_scene_topic_name(const struct bench_scene *sc, char *buf, size_t len, const char *prefix,
                            uint32_t t)
{
    snprintf(buf, len, "%s%dt%" PRIu32, prefix, (int)sc->run_id, t);
}

/* Why the layout cannot run, or NULL. */
static const char *layout_error(const struct bench_scene *sc)
{
    if (sc->size < sizeof(struct bench_scene_msg))
        return "--size is smaller than the 16-byte header";
    if (!sc->publishers || sc->publishers > BENCH_SCENE_MAX_PUBS || !sc->topics ||
        sc->topics % sc->publishers)
        return "--topics must be a multiple of --publishers (1..64)";
    if (sc->subscribers < 2 || sc->subscribers > BENCH_SCENE_MAX_SUBS || sc->subscribers % 2 ||
        sc->topics % (sc->subscribers / 2))
        return "--subscribers must be even (2..128) and half of it divide --topics";
    if (bench_scene_per_pub(sc) > BENCH_SCENE_MAX_PER_PROCESS ||
        sc->topics / (sc->subscribers / 2) > BENCH_SCENE_MAX_PER_PROCESS)
        return "more than 64 topics for one process";
    if (!sc->rate_hz || sc->rate_hz > 100000 || !(sc->seconds > 0) || sc->warm < 0)
        return "--rate, --seconds or --warm-seconds out of range";
    return NULL;
}

bool bench_scene_ready(struct bench_scene *sc)
{
    atomic_fetch_add(&sc->sh->ready, 1);
    while (!atomic_load(&sc->sh->go)) {
        if (atomic_load(&sc->sh->failed))
            return false;
        usleep(1000);
    }
    return true;
}

int bench_scene_fail(struct bench_scene *sc, const char *what)
{
    fprintf(stderr, "bench scene %s: %s %u: %s\n", sc->transport, sc->role, sc->index, what);
    atomic_store(&sc->sh->failed, 1);
    return 1;
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / NS), .tv_nsec = (long)(t % NS)};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

int bench_scene_publish_loop(struct bench_scene *sc, bench_scene_send_fn send, void *state)
{
    struct bench_scene_shared *sh = sc->sh;
    unsigned k = bench_scene_per_pub(sc), p = sc->index;
    uint64_t period = NS / sc->rate_hz, start = bench_now_ns() + 10000000ull;

    for (uint64_t round = 0;; round++) {
        for (unsigned i = 0; i < k; i++) {
            /* Slot of topic i: publishers take turns, so the machine sees one message every
             * period/topics instead of one publisher's burst after another's. */
            uint64_t due =
                start + round * period + (uint64_t)(i * sc->publishers + p) * period / sc->topics;
            uint64_t until = atomic_load(&sh->until_ns), stamp = 0;
            /* Past the window, a publisher that fell behind leaves its backlog unsent: a copying
             * transport at 1 MiB would otherwise write it for minutes. */
            if ((until && (due >= until || bench_now_ns() >= until)) || atomic_load(&sh->failed))
                return 0;
            sleep_until(due);
            int r = send(state, i, &stamp);
            if (r < 0)
                return -1;
            if (r > 0) {
                sh->unsent[p]++;
                continue;
            }
            uint64_t from = atomic_load(&sh->from_ns);
            if (from && stamp >= from && stamp < atomic_load(&sh->until_ns))
                sh->published[p]++;
            if (stamp > due + period)
                sh->late[p]++;
        }
    }
}

void bench_scene_record(struct bench_scene *sc, const struct bench_scene_msg *m)
{
    struct bench_scene_shared *sh = sc->sh;
    uint64_t now = bench_now_ns(), from, until;

    if (m->topic >= sc->topics)
        return;
    if (sc->unseen && !sc->seen[m->topic]) {
        sc->seen[m->topic] = 1;
        if (--sc->unseen == 0)
            atomic_fetch_add(&sh->matched, 1);
    }
    from = atomic_load_explicit(&sh->from_ns, memory_order_acquire);
    until = atomic_load_explicit(&sh->until_ns, memory_order_relaxed);
    if (!from || m->stamp_ns < from || m->stamp_ns >= until)
        return;
    uint64_t n = sh->received[sc->index]++;
    if (n < sh->cap)
        sh->samples[sc->index * sh->cap + n] = now > m->stamp_ns ? now - m->stamp_ns : 1;
}

bool bench_scene_stopping(struct bench_scene *sc)
{
    return atomic_load(&sc->sh->stop) || atomic_load(&sc->sh->failed);
}

/* On-CPU nanoseconds of every thread of `pid` (the scheduler's own account, to the ns, from
 * /proc/PID/task/TID/schedstat), or user + system from /proc/PID/stat in clock ticks where
 * the kernel keeps no schedstat. `slices`, if not NULL, is added the number of times its threads
 * were put on a CPU (schedstat's third field): what each wake-up costs shows per slice. */
static uint64_t cpu_ns(pid_t pid, uint64_t *slices)
{
    char path[64];
    uint64_t sum = 0;
    DIR *d;
    struct dirent *e;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    if ((d = opendir(path))) {
        bool any = false;
        while ((e = readdir(d))) {
            unsigned long long ns, waited, ran;
            char p2[sizeof(path) + sizeof(e->d_name) + 16];
            if (e->d_name[0] == '.')
                continue;
            snprintf(p2, sizeof(p2), "%s/%s/schedstat", path, e->d_name);
            if (!(f = fopen(p2, "r")))
                continue;
            int got = fscanf(f, "%llu %llu %llu", &ns, &waited, &ran);
            if (got >= 1) {
                sum += ns;
                any = true;
            }
            if (got == 3 && slices)
                *slices += ran;
            fclose(f);
        }
        closedir(d);
        if (any)
            return sum;
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* Fields after the command name, which may hold spaces: utime and stime are 14 and 15. */
    char *s = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (s && sscanf(s + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut, &st) == 2)
        return (uint64_t)(ut + st) * NS / (uint64_t)sysconf(_SC_CLK_TCK);
    return 0;
}

/* CPU time and times on a CPU of a set of processes. */
struct scene_use {
    uint64_t cpu_ns, slices;
};

static struct scene_use use_of(const pid_t *pids, unsigned n)
{
    struct scene_use use = {0};

    for (unsigned i = 0; i < n; i++)
        use.cpu_ns += cpu_ns(pids[i], &use.slices);
    return use;
}

/* What was used between two readings (0 where a thread that ended took its count along). */
static struct scene_use use_between(struct scene_use from, struct scene_use to)
{
    return (struct scene_use){
        .cpu_ns = to.cpu_ns > from.cpu_ns ? to.cpu_ns - from.cpu_ns : 0,
        .slices = to.slices > from.slices ? to.slices - from.slices : 0,
    };
}

static int pub_child(void *arg)
{
    struct bench_scene *sc = arg;

    sc->role = "publisher";
    return sc->ops->publisher(sc);
}

static int sub_child(void *arg)
{
    struct bench_scene *sc = arg;
    uint32_t topics[BENCH_SCENE_MAX_PER_PROCESS];

    sc->role = "subscriber";
    sc->seen = calloc(sc->topics, 1);
    if (!sc->seen)
        return bench_scene_fail(sc, "out of memory");
    sc->unseen = bench_scene_sub_topics(sc, sc->index, topics);
    return sc->ops->subscriber(sc);
}

/* Waits for n processes until `deadline`; kills what is left then. 0 if all exited 0. */
static int reap(const pid_t *pids, unsigned n, uint64_t deadline)
{
    bool done[BENCH_SCENE_MAX_PUBS + BENCH_SCENE_MAX_SUBS] = {0};
    unsigned left = 0;
    int rc = 0;

    for (unsigned i = 0; i < n; i++) {
        if (pids[i] > 0)
            left++;
        else
            done[i] = true, rc = -1; /* fork failed */
    }
    while (left) {
        for (unsigned i = 0; i < n; i++) {
            int st;
            if (done[i])
                continue;
            pid_t r = waitpid(pids[i], &st, WNOHANG);
            if (r == 0)
                continue;
            if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                rc = -1;
            done[i] = true;
            left--;
        }
        if (left && bench_now_ns() > deadline) {
            fprintf(stderr, "bench scene: %u processes did not exit in time: killed\n", left);
            for (unsigned i = 0; i < n; i++)
                if (!done[i])
                    kill(pids[i], SIGKILL);
            deadline = UINT64_MAX;
            rc = -1;
        }
        if (left)
            usleep(2000);
    }
    return rc;
}

/* Waits until `*v` reaches `want`, a process failed, or timeout_s passed. */
static bool wait_count(struct bench_scene *sc, _Atomic uint32_t *v, uint32_t want, double timeout_s)
{
    uint64_t deadline = bench_now_ns() + (uint64_t)(timeout_s * 1e9);

    while (atomic_load(v) < want) {
        if (atomic_load(&sc->sh->failed) || bench_now_ns() > deadline)
            return false;
        usleep(1000);
    }
    return true;
}

static void report(struct bench_scene *sc, double wall_s, const struct scene_use *pub,
                   const struct scene_use *sub, uint64_t daemon_cpu)
{
    uint64_t cpu = pub->cpu_ns + sub->cpu_ns + daemon_cpu;
    struct bench_scene_shared *sh = sc->sh;
    uint64_t published = 0, late = 0, unsent = 0, received = 0, kept = 0;
    struct bench_stats st;
    char extra[1024];

    for (unsigned p = 0; p < sc->publishers; p++) {
        published += sh->published[p];
        late += sh->late[p];
        unsent += sh->unsent[p];
    }
    /* Pack every subscriber's samples together (each region holds at most cap). */
    for (unsigned j = 0; j < sc->subscribers; j++) {
        uint64_t n = sh->received[j] < sh->cap ? sh->received[j] : sh->cap;
        memmove(sh->samples + kept, sh->samples + j * sh->cap, n * sizeof(uint64_t));
        kept += n;
        received += sh->received[j];
    }
    bench_stats_compute(sh->samples, kept, &st);
    snprintf(extra, sizeof(extra),
             ",\"p999_us\":%.3f,\"topics\":%u,\"publishers\":%u,\"subscribers\":%u,"
             "\"rate_hz\":%u,\"seconds\":%.3f,\"planned\":%.0f,\"published\":%" PRIu64
             ",\"expected\":%" PRIu64 ",\"received\":%" PRIu64 ",\"late\":%" PRIu64
             ",\"unsent\":%" PRIu64 ",\"cpu_ms_per_s\":%.2f,\"daemon_cpu_ms_per_s\":%.2f,"
             "\"cpu_us_per_msg\":%.3f,\"publisher_cpu_ms_per_s\":%.2f,"
             "\"subscriber_cpu_ms_per_s\":%.2f,\"publisher_slices_per_msg\":%.3f,"
             "\"subscriber_slices_per_msg\":%.3f",
             (double)bench_percentile(sh->samples, st.count, 99.9) / 1e3, sc->topics,
             sc->publishers, sc->subscribers, sc->rate_hz, wall_s,
             (double)sc->topics * sc->rate_hz * wall_s, published, 2 * published, received, late,
             unsent, (double)cpu / 1e6 / wall_s, (double)daemon_cpu / 1e6 / wall_s,
             published ? (double)cpu / 1e3 / (double)published : 0.0,
             (double)pub->cpu_ns / 1e6 / wall_s, (double)sub->cpu_ns / 1e6 / wall_s,
             published ? (double)pub->slices / (double)published : 0.0,
             published ? (double)sub->slices / (double)published : 0.0);
    bench_stats_print(stdout, "scene", sc->transport, sc->size, &st, extra);
}

int bench_scene_run(struct bench_scene *sc, const struct bench_scene_ops *ops)
{
    pid_t pids[BENCH_SCENE_MAX_PUBS + BENCH_SCENE_MAX_SUBS + 1] = {0};
    pid_t *subs = pids, *pubs = pids + sc->subscribers;
    unsigned nproc = sc->subscribers + sc->publishers;
    const char *why = layout_error(sc);
    size_t map_size;
    struct scene_use pub_use = {0}, sub_use = {0};
    uint64_t cap, dcpu0 = 0, dcpu1 = 0, t0, t1, from, until;
    int rc = -1;

    if (why) {
        fprintf(stderr, "agnocast-bench scene: %s\n", why);
        return -1;
    }
    sc->ops = ops;
    sc->run_id = getpid();
    /* Room for twice the messages a subscriber's topics should bring in the window: a
     * publisher that fell behind before it catches up inside it. */
    cap = (uint64_t)(sc->topics / (sc->subscribers / 2)) *
          ((uint64_t)(2 * sc->rate_hz * sc->seconds) + 16);
    map_size = sizeof(*sc->sh) + (size_t)sc->subscribers * cap * sizeof(uint64_t);
    if (!(sc->sh = bench_shared_map(map_size)))
        return -1;
    sc->sh->cap = cap;
    if (ops->setup && ops->setup(sc) < 0)
        goto unmap;
    for (unsigned j = 0; j < sc->subscribers; j++) {
        sc->index = j;
        subs[j] = bench_fork(sub_child, sc);
    }
    for (unsigned p = 0; p < sc->publishers; p++) {
        sc->index = p;
        pubs[p] = bench_fork(pub_child, sc);
    }
    if (!wait_count(sc, &sc->sh->ready, nproc, 60)) {
        fprintf(stderr, "bench scene %s: %u of %u processes set up\n", sc->transport,
                atomic_load(&sc->sh->ready), nproc);
        goto fail;
    }
    atomic_store(&sc->sh->go, 1);
    if (!wait_count(sc, &sc->sh->matched, sc->subscribers, 30)) {
        fprintf(stderr,
                "bench scene %s: %u of %u subscriber processes had a message on every "
                "topic after 30 s\n",
                sc->transport, atomic_load(&sc->sh->matched), sc->subscribers);
        goto fail;
    }
    from = bench_now_ns() + (uint64_t)(sc->warm * 1e9);
    until = from + (uint64_t)(sc->seconds * 1e9);
    atomic_store(&sc->sh->until_ns, until);
    atomic_store_explicit(&sc->sh->from_ns, from, memory_order_release);
    sleep_until(from);
    t0 = bench_now_ns();
    pub_use = use_of(pubs, sc->publishers);
    sub_use = use_of(subs, sc->subscribers);
    if (sc->daemon_pid > 0)
        dcpu0 = cpu_ns((pid_t)sc->daemon_pid, NULL);
    sleep_until(until);
    t1 = bench_now_ns();
    pub_use = use_between(pub_use, use_of(pubs, sc->publishers));
    sub_use = use_between(sub_use, use_of(subs, sc->subscribers));
    if (sc->daemon_pid > 0)
        dcpu1 = cpu_ns((pid_t)sc->daemon_pid, NULL);
    /* A copying transport can fall behind; give its publishers time to finish their writes. */
    rc = reap(pubs, sc->publishers, bench_now_ns() + 120 * NS);
    usleep(100000);
    atomic_store(&sc->sh->stop, 1);
    if (ops->stopping)
        ops->stopping(sc);
    if (reap(subs, sc->subscribers, bench_now_ns() + 30 * NS) < 0)
        rc = -1;
    if (rc == 0)
        report(sc, (double)(t1 - t0) / 1e9, &pub_use, &sub_use, dcpu1 > dcpu0 ? dcpu1 - dcpu0 : 0);
    goto teardown;
fail:
    atomic_store(&sc->sh->failed, 1);
    if (ops->stopping)
        ops->stopping(sc);
    reap(pids, nproc, bench_now_ns() + 10 * NS);
    rc = -1;
teardown:
    if (ops->teardown)
        ops->teardown(sc);
unmap:
    munmap(sc->sh, map_size);
    sc->sh = NULL;
    return rc;
}
