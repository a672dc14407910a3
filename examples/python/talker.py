#!/usr/bin/python3
"""Example publisher in Python: the pointer-rich messages of examples/talker.c, written in
place into loans (nested payload and text allocations included), so examples/listener (C) or
listener.py verifies them."""

import argparse
import errno
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import agnocast  # noqa: E402
import demo_message  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topic", default="/chatter")
    ap.add_argument("--size", type=int, default=1024, help="payload bytes (8 or more)")
    ap.add_argument("--count", type=int, default=0, help="messages (0: until Ctrl-C)")
    ap.add_argument("--rate", type=float, default=10, help="per second (0: as fast as possible)")
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--wait-subscribers", type=int, default=0, metavar="N",
                    help="first wait until N subscriptions are matched")
    ap.add_argument("--linger", type=float, default=0.5,
                    help="seconds to stay after the last message, so it can be read")
    args = ap.parse_args()
    if args.size < 8:
        ap.error("--size must be at least 8")
    with agnocast.Context() as ctx:
        pub = ctx.publisher(args.topic, args.depth)
        if args.wait_subscribers:
            pub.wait_matched(args.wait_subscribers, timeout=30)
        seq = 0
        next_at = time.monotonic()
        try:
            while not args.count or seq < args.count:
                try:
                    demo_message.publish(pub, seq + 1, args.size)
                except agnocast.Error as e:
                    if e.errno == errno.ENOMEM:
                        time.sleep(0.001)  # subscribers hold everything: wait for releases
                        continue
                    raise
                seq += 1
                if args.rate > 0:
                    next_at += 1 / args.rate
                    time.sleep(max(0, next_at - time.monotonic()))
            time.sleep(args.linger)
        except KeyboardInterrupt:
            pass
        print("talker.py: published %d messages on %s" % (pub.published, args.topic))
    return 0


if __name__ == "__main__":
    sys.exit(main())
