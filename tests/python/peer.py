"""A peer role in its own process for the Python tests (python3 peer.py ROLE ...):
  publish TOPIC COUNT SIZE     wait for one subscription, publish COUNT demo messages, then
                               wait until told to go (a line on stdin) so they stay readable
  subscribe TOPIC COUNT        print "ready", take COUNT demo messages, verify each, print JSON
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "python"))

import agnocast  # noqa: E402
import demo_message  # noqa: E402


def publish(topic, count, size):
    with agnocast.Context() as ctx:
        pub = ctx.publisher(topic, depth=64)
        pub.wait_matched(1, timeout=20)
        for seq in range(1, count + 1):
            demo_message.publish(pub, seq, size)
        print("published %d" % pub.published, flush=True)
        sys.stdin.readline()


def subscribe(topic, count):
    seqs, problems = [], []
    with agnocast.Context() as ctx:
        sub = ctx.subscription(topic, depth=64)
        print("ready", flush=True)
        for msg in sub.messages(timeout=20):
            problem = demo_message.verify(msg)
            if problem:
                problems.append("%d: %s" % (msg.sequence, problem))
            seqs.append(msg.sequence)
            if len(seqs) == count:
                break
        print(json.dumps({"sequences": seqs, "problems": problems, "missed": sub.missed}),
              flush=True)


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "publish":
        publish(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif role == "subscribe":
        subscribe(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("peer.py: unknown role %s" % role)
