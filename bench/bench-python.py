#!/usr/bin/env python3
"""Python's receive of small and large messages: zero-copy keeps it flat in size.

A publisher process (this script, --role publish) loans SIZE-byte messages and publishes them
without filling them (only a sequence number in the first 8 bytes: what is measured is the
message path, not a memset); this process receives them in a callback, reads the first and last
byte through msg.data, and records, per size:
  latency_us   CLOCK_MONOTONIC from publish to the callback (wake-up included)
  receive_us   the time spent in the callback: Message, memoryview, two reads, release
p50 and p99 of each, as JSON on stdout (one object, sizes as keys). scripts/bench may call it
with a private broker in $AGNOCAST_SOCKET; without one it starts its own from --build.

  bench/bench-python.py [--build DIR] [--sizes 64,16M] [--count N] [--rate HZ]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_size(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * units[s[-1].upper()] if s[-1].upper() in units else int(s)


def percentile(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))] if v else 0.0


def publish(agnocast, size, count, rate):
    with agnocast.Context() as ctx:
        pub = ctx.publisher("/bench/python", depth=4)
        pub.wait_matched(1, timeout=20)
        period = 1.0 / rate
        next_at = time.monotonic()
        for seq in range(1, count + 1):
            while True:
                try:
                    loan = pub.loan(size)
                    break
                except agnocast.Error:
                    time.sleep(0.001)  # the subscriber still holds the pool: wait
            loan.view[0:8] = seq.to_bytes(8, "little")
            pub.publish(loan)
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))
        time.sleep(0.5)


def receive(agnocast, size, count, rate, env):
    latency, cost = [], []
    with agnocast.Context() as ctx:
        def on_message(msg):
            t0 = time.monotonic_ns()
            data = msg.data
            _ = data[0], data[len(data) - 1]
            msg.release()
            t1 = time.monotonic_ns()
            latency.append((t0 - msg.timestamp_ns) / 1000)
            cost.append((t1 - t0) / 1000)
            if len(latency) == count:
                ctx.stop()

        ctx.subscription("/bench/python", depth=4, callback=on_message)
        child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--role", "publish",
                                  "--sizes", str(size), "--count", str(count),
                                  "--rate", str(rate)], env=env)
        try:
            ctx.spin(timeout=count / rate + 30)
        finally:
            child.wait(60)
    warm = latency[count // 10:], cost[count // 10:]  # the first tenth warms caches up
    return {"received": len(latency),
            "latency_p50_us": round(percentile(warm[0], 0.5), 3),
            "latency_p99_us": round(percentile(warm[0], 0.99), 3),
            "receive_p50_us": round(percentile(warm[1], 0.5), 3),
            "receive_p90_us": round(percentile(warm[1], 0.9), 3),
            "receive_p99_us": round(percentile(warm[1], 0.99), 3),
            "receive_max_us": round(max(warm[1]), 3) if warm[1] else 0.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build tree for the library and agnocastd (default: build/)")
    ap.add_argument("--sizes", default="64,16M")
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--role", default="receive", choices=["receive", "publish"])
    args = ap.parse_args()
    lib = os.path.join(args.build, "libagnocast", "libagnocast.so.0")
    if "AGNOCAST_LIBRARY" not in os.environ and os.path.exists(lib):
        os.environ["AGNOCAST_LIBRARY"] = lib
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import agnocast

    sizes = [parse_size(s) for s in args.sizes.split(",")]
    if args.role == "publish":
        publish(agnocast, sizes[0], args.count, args.rate)
        return 0
    broker = None
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"),
               MEMPOOL_SIZE=str(max(64 << 20, 8 * max(sizes))))
    tmp = tempfile.mkdtemp(prefix="agnocast-bench-py-")
    if "AGNOCAST_SOCKET" not in os.environ:
        sock = os.path.join(tmp, "broker.sock")
        broker = subprocess.Popen([os.path.join(args.build, "agnocastd", "agnocastd"),
                                   "--socket", sock, "--state-file", ""],
                                  stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.025)
        os.environ["AGNOCAST_SOCKET"] = env["AGNOCAST_SOCKET"] = sock
    try:
        results = {}
        for size in sizes:
            results[str(size)] = receive(agnocast, size, args.count, args.rate, env)
            print("bench-python: %d B: %s" % (size, results[str(size)]), file=sys.stderr)
        print(json.dumps({"python_receive": results}))
    finally:
        if broker:
            broker.terminate()
            broker.wait()
        os.rmdir(tmp) if not os.listdir(tmp) else None
    return 0


if __name__ == "__main__":
    sys.exit(main())
