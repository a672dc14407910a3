/* The 200-topic scene: publisher and subscriber processes, every topic at a fixed rate; the
 * end-to-end latency of every message and the CPU time every process of the scene used. */
#ifndef AGNOCAST_BENCH_SCENE_H
#define AGNOCAST_BENCH_SCENE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_SCENE_MAX_PUBS        64
#define BENCH_SCENE_MAX_SUBS        128
#define BENCH_SCENE_MAX_PER_PROCESS 64 /* topics one process publishes or subscribes to */

/* What every scene message starts with; the publisher stamps it right before the send. */
struct bench_scene_msg {
    uint64_t stamp_ns; /* CLOCK_MONOTONIC */
    uint32_t topic;
    uint32_t publisher;
};

/*
 * Shared between the runner and every process of one scene (anonymous MAP_SHARED, made before
 * fork). The runner opens the measured window [from_ns, until_ns) once every subscriber process
 * has had a message on each of its topics; only messages stamped inside it count, and the CPU
 * time is read at its two ends.
 */
struct bench_scene_shared {
    _Atomic uint32_t ready;   /* processes set up */
    _Atomic uint32_t failed;  /* a process failed: everyone stops */
    _Atomic uint32_t go;      /* publishers start */
    _Atomic uint32_t matched; /* subscriber processes that had a message on every topic */
    _Atomic uint32_t stop;    /* subscribers: take what is left and exit */
    _Atomic uint64_t from_ns, until_ns;
    uint64_t cap;                             /* samples room per subscriber process */
    uint64_t published[BENCH_SCENE_MAX_PUBS]; /* stamped inside the window */
    uint64_t late[BENCH_SCENE_MAX_PUBS];      /* sent more than a period after their slot */
    uint64_t unsent[BENCH_SCENE_MAX_PUBS];    /* slots with no loan (pool exhausted) */
    uint64_t received[BENCH_SCENE_MAX_SUBS];  /* stamped inside the window */
    uint64_t samples[];                       /* [sub * cap + i]: latency in ns */
};

struct bench_scene_ops;

struct bench_scene {
    unsigned topics, publishers, subscribers, rate_hz;
    size_t size;
    double seconds;  /* measured window */
    double warm;     /* seconds between matching and the window */
    long daemon_pid; /* the broker or RouDi, counted in the CPU time; 0: none */
    const char *transport;
    const struct bench_scene_ops *ops;
    struct bench_scene_shared *sh;
    void *state;      /* the transport's, made before fork */
    int run_id;       /* the runner's pid, in topic names */
    const char *role; /* in a child: "publisher" or "subscriber" */
    unsigned index;   /* in a child: which publisher or subscriber process */
    /* In a subscriber process: topics not yet seen (for matching). */
    uint8_t *seen;
    unsigned unseen;
};

/* A transport: the bodies of the two kinds of process, and what they share made before fork. */
struct bench_scene_ops {
    int (*setup)(struct bench_scene *sc); /* may be NULL; 0 or -1 */
    int (*publisher)(struct bench_scene *sc);
    int (*subscriber)(struct bench_scene *sc);
    /* may be NULL: after the runner set `stop` (or `failed`), for subscribers that sleep with no
     * timeout */
    void (*stopping)(struct bench_scene *sc);
    void (*teardown)(struct bench_scene *sc); /* may be NULL */
};

/* The scene's options for a getopt_long() table (<getopt.h>). */
#define BENCH_SCENE_OPTIONS                                                                        \
    {"seconds", required_argument, NULL, 1001}, {"topics", required_argument, NULL, 1002},         \
        {"publishers", required_argument, NULL, 1003},                                             \
        {"subscribers", required_argument, NULL, 1004}, {"rate", required_argument, NULL, 1005},   \
        {"daemon-pid", required_argument, NULL, 1006},                                             \
    {                                                                                              \
        "warm-seconds", required_argument, NULL, 1007                                              \
    }
/* 200 topics, 10 publisher and 20 subscriber processes, 100 Hz, 1 KiB, 10 s. */
void bench_scene_defaults(struct bench_scene *sc);
/* Applies one of BENCH_SCENE_OPTIONS; false if `opt` is not one of them. */
bool bench_scene_option(struct bench_scene *sc, int opt, const char *arg);

/* Checks the layout, runs the scene with `ops`, prints its JSON line. 0 or -1. */
int bench_scene_run(struct bench_scene *sc, const struct bench_scene_ops *ops);
/* agnocast-bench's transports: agnocast (event-driven callbacks), Unix stream sockets, and the
 * floor (an eventfd wake-up and a shared slot, nothing else: bench-scene-floor.c). */
extern const struct bench_scene_ops bench_scene_agnocast, bench_scene_uds, bench_scene_floor,
    bench_scene_floor_pipes;

/* The layout. Publisher p owns topics p*K .. p*K+K-1 (K = topics / publishers). Topic t has
 * two subscriber processes, t mod H and t mod H + H (H = subscribers / 2), so every subscriber
 * process reads topics of every publisher. */
unsigned bench_scene_per_pub(const struct bench_scene *sc);
uint32_t bench_scene_pub_topic(const struct bench_scene *sc, unsigned pub, unsigned i);
/* The topics subscriber process `sub` reads, into out[BENCH_SCENE_MAX_PER_PROCESS]; returns how
 * many. */
unsigned bench_scene_sub_topics(const struct bench_scene *sc, unsigned sub, uint32_t *out);
/* The two subscriber processes of topic t. */
void bench_scene_topic_subs(const struct bench_scene *sc, uint32_t t, unsigned out[2]);

/* Topic names unique to this run: "<prefix><runner pid>t<t>". */
void bench_scene_topic_name(const struct bench_scene *sc, char *buf, size_t len, const char *prefix,
                            uint32_t t);

/* In a child, once its endpoints exist: counts it ready and waits for the publishers' start.
 * False if the scene failed meanwhile. */
bool bench_scene_ready(struct bench_scene *sc);
/* A child failed: tells the others. Returns 1 (an exit status). */
int bench_scene_fail(struct bench_scene *sc, const char *what);

/*
 * The publisher's loop: each of its topics at rate_hz, the topics' slots spread evenly over the
 * period across all publishers (one slot every period/topics machine-wide), until the window
 * has closed. send(state, i, &stamp) sends local topic i, stamping the message with
 * bench_now_ns() right before the call that hands it over and storing that stamp; it returns 0,
 * 1 when it sent nothing (no loan), or -1 on failure.
 */
typedef int (*bench_scene_send_fn)(void *state, unsigned i, uint64_t *stamp);
int bench_scene_publish_loop(struct bench_scene *sc, bench_scene_send_fn send, void *state);

/* Subscriber side: a message received now. */
void bench_scene_record(struct bench_scene *sc, const struct bench_scene_msg *m);
/* Subscriber side: true once the subscriber should take what is left and exit. */
bool bench_scene_stopping(struct bench_scene *sc);

#endif
