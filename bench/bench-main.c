/* agnocast-bench: runs one benchmark case per invocation and prints its results as JSON lines. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-agnocast.h"
#include "bench-baseline.h"
#include "bench-callgrind.h"
#include "bench-control.h"
#include "bench-cxx.h"
#include "bench-scene.h"

static void usage(FILE *out)
{
    fputs("usage: agnocast-bench CASE [options]\n"
          "  latency    --transport T --size BYTES [--busy [--take]] [--count N] [--warm N]\n"
          "             T: agnocast, agnocast-cxx (agnocast.hpp, --size 64), uds, shm-copy,\n"
          "                mqueue, eventfd, eventfd-poll, pipe-epoll, cacheline\n"
          "             --take (agnocast, with --busy): a loop of take and release, no callback\n"
          "  fanout     --transport agnocast|eventfd --subs N --size BYTES [--count N]\n"
          "  throughput --size BYTES [--busy] [--subs N] [--count N]\n"
          "  scene      --transport agnocast|uds|floor|floor-pipes --size BYTES [--seconds S]\n"
          "             [--topics N] [--publishers N] [--subscribers N] [--rate HZ] "
          "[--warm-seconds S]\n"
          "             [--daemon-pid PID] (the broker, counted in the CPU time)\n"
          "  control    --processes N --per-process K --broker-pid PID\n"
          "  cg-pub     --in FD --out FD --size BYTES --count N   (under callgrind)\n"
          "  cg-sub     --in FD --out FD --count N                (under callgrind)\n"
          "  --samples FILE (latency, fanout): also append every sample, sorted, to FILE\n"
          "Each case forks its own publisher and subscriber processes; agnocast cases need a\n"
          "broker at $AGNOCAST_SOCKET. scripts/bench runs them all.\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        BENCH_CASE_OPTIONS,
        {"transport", required_argument, NULL, 't'},
        {"take", no_argument, NULL, 'T'},
        BENCH_SCENE_OPTIONS,
        {"subs", required_argument, NULL, 'S'},
        {"processes", required_argument, NULL, 'P'},
        {"per-process", required_argument, NULL, 'K'},
        {"broker-pid", required_argument, NULL, 'B'},
        {"in", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct bench_case c = {
        .transport = "agnocast", .size = 64, .count = 1000, .warm = 100, .nsubs = 1};
    struct bench_scene scene;
    unsigned processes = 200, per_process = 5;
    long broker = 0;
    int in = -1, out = -1, opt, rc;
    const char *name;

    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    bench_scene_defaults(&scene);
    name = argv[1];
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
            c.transport = optarg;
            break;
        case 'T':
            c.take = true;
            break;
        case 'S':
            c.nsubs = (unsigned)atoi(optarg);
            break;
        case 'P':
            processes = (unsigned)atoi(optarg);
            break;
        case 'K':
            per_process = (unsigned)atoi(optarg);
            break;
        case 'B':
            broker = atol(optarg);
            break;
        case 'i':
            in = atoi(optarg);
            break;
        case 'o':
            out = atoi(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            if (!bench_case_option(&c, opt, optarg) && !bench_scene_option(&scene, opt, optarg)) {
                usage(stderr);
                return 2;
            }
        }
    }
    if (c.size < sizeof(struct bench_hdr) || c.count < 1 || c.nsubs < 1 ||
        c.nsubs > BENCH_MAX_SUBS) {
        fprintf(stderr, "agnocast-bench: --size must be >= %zu, --count >= 1, --subs 1..%d\n",
                sizeof(struct bench_hdr), BENCH_MAX_SUBS);
        return 2;
    }
    if (strcmp(name, "latency") == 0 || strcmp(name, "fanout") == 0) {
        if (strcmp(name, "latency") == 0)
            c.nsubs = 1;
        else
            c.fanout = true;
        if (c.take && (strcmp(c.transport, "agnocast") != 0 || !c.busy || c.fanout)) {
            fputs("agnocast-bench: --take is for latency --transport agnocast --busy\n", stderr);
            return 2;
        }
        if (strcmp(c.transport, "agnocast") == 0) {
            c.transport = c.take   ? "agnocast-take-busy"
                          : c.busy ? "agnocast-busy"
                                   : "agnocast-event";
            rc = bench_agnocast_latency(&c);
        } else if (strcmp(c.transport, "agnocast-cxx") == 0 && !c.fanout) {
            c.transport = c.busy ? "agnocast-cxx-busy" : "agnocast-cxx-event";
            rc = bench_cxx_latency(&c);
        } else {
            rc = bench_baseline_latency(&c);
        }
    } else if (strcmp(name, "throughput") == 0) {
        c.transport = c.busy ? "agnocast-busy" : "agnocast-event";
        rc = bench_agnocast_throughput(&c);
    } else if (strcmp(name, "scene") == 0) {
        scene.size = c.size;
        if (strcmp(c.transport, "agnocast") == 0) {
            scene.transport = "agnocast-event";
            rc = bench_scene_run(&scene, &bench_scene_agnocast);
        } else if (strcmp(c.transport, "uds") == 0) {
            scene.transport = "uds";
            rc = bench_scene_run(&scene, &bench_scene_uds);
        } else if (strcmp(c.transport, "floor") == 0) {
            scene.transport = "eventfd-floor";
            rc = bench_scene_run(&scene, &bench_scene_floor);
        } else if (strcmp(c.transport, "floor-pipes") == 0) {
            scene.transport = "pipe-epoll-floor";
            rc = bench_scene_run(&scene, &bench_scene_floor_pipes);
        } else {
            fprintf(stderr,
                    "agnocast-bench scene: --transport agnocast, uds, floor or floor-pipes\n");
            return 2;
        }
    } else if (strcmp(name, "control") == 0) {
        if (broker <= 0) {
            fputs("agnocast-bench control: --broker-pid is required (the broker's RSS is read)\n",
                  stderr);
            return 2;
        }
        rc = bench_control(processes, per_process, (pid_t)broker);
    } else if (strcmp(name, "cg-pub") == 0) {
        rc = bench_cg_pub_role(in, out, c.size, c.warm, c.count) ? -1 : 0;
    } else if (strcmp(name, "cg-sub") == 0) {
        rc = bench_cg_sub_role(in, out, c.warm, c.count) ? -1 : 0;
    } else {
        fprintf(stderr, "agnocast-bench: unknown case \"%s\"\n", name);
        usage(stderr);
        return 2;
    }
    return rc < 0 ? 1 : 0;
}
