#!/usr/bin/python3
"""Example subscriber in Python: receives the pointer-rich messages of examples/talker.c (or
talker.py) in place, follows their nested pointers after checking them, verifies each
checksum, and prints the counters at exit (after --count messages, --timeout seconds of
silence, or Ctrl-C). Exit status 1 if a message was corrupt, 2 on a bad command line."""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import agnocast  # noqa: E402
import demo_message  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topic", default="/chatter")
    ap.add_argument("--count", type=int, default=0, help="stop after N messages (0: never)")
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=None,
                    help="stop after SEC seconds without a message")
    ap.add_argument("--take", action="store_true",
                    help="iterate a take subscription instead of running callbacks")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    stats = {"received": 0, "corrupt": 0, "latency_us": []}

    def handle(msg):
        problem = demo_message.verify(msg)
        stats["received"] += 1
        stats["latency_us"].append((time.monotonic_ns() - msg.timestamp_ns) / 1000)
        if problem:
            stats["corrupt"] += 1
            print("listener.py: message %d: %s" % (msg.sequence, problem), file=sys.stderr)
        elif args.verbose:
            print("received %d from %d at 0x%x: %r" % (msg.sequence, msg.publisher_pid,
                                                        msg.address, demo_message.text_of(msg)))

    with agnocast.Context() as ctx:
        if args.take:
            sub = ctx.subscription(args.topic, args.depth)
            try:
                for msg in sub.messages(timeout=args.timeout):
                    handle(msg)
                    if args.count and stats["received"] >= args.count:
                        break
            except KeyboardInterrupt:
                pass
        else:
            def on_message(msg):
                handle(msg)
                if args.count and stats["received"] >= args.count:
                    ctx.stop()

            sub = ctx.subscription(args.topic, args.depth, callback=on_message)
            try:
                while not (args.count and stats["received"] >= args.count):
                    before = stats["received"]
                    ctx.spin(timeout=args.timeout)
                    if args.timeout is not None and stats["received"] == before:
                        break  # silent for --timeout seconds
            except KeyboardInterrupt:
                pass
        lat = sorted(stats["latency_us"])
        out = {
            "received": stats["received"],
            "missed": sub.missed,
            "corrupt": stats["corrupt"],
            "unreachable": sub.unreachable,
            "p50_us": lat[len(lat) // 2] if lat else 0.0,
        }
        sub.close()
    if args.json:
        print(json.dumps(out))
    else:
        print("listener.py: received %(received)d, missed %(missed)d, corrupt %(corrupt)d, "
              "unreachable %(unreachable)d; latency p50 %(p50_us).1f us" % out)
    return 1 if stats["corrupt"] else 0


if __name__ == "__main__":
    sys.exit(main())
