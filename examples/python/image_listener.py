#!/usr/bin/python3
"""Example subscriber in Python for the C++ talker (examples/cpp_talker.cpp): reads each image
in place, follows its pixel and frame-id pointers after the segment check, and checks the
pixels and the checksum. Prints received, missed and corrupt counts at the end."""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import agnocast  # noqa: E402
import image_message  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--topic", default="/image")
    ap.add_argument("--count", type=int, default=0, help="stop after N images (0: never)")
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=None, help="seconds (default: none)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    received = corrupt = 0
    with agnocast.Context() as ctx:
        sub = ctx.subscription(args.topic, args.depth)
        try:
            for msg in sub.messages(timeout=args.timeout):
                why = image_message.verify(msg)
                received += 1
                if why:
                    corrupt += 1
                    print("image_listener: image %d is corrupt: %s" % (msg.sequence, why),
                          file=sys.stderr)
                elif args.verbose:
                    h = msg.struct(image_message.ImageHeader)
                    print("received %d: %dx%d, frame %s" % (msg.sequence, h.width, h.height,
                                                           h.frame_id.decode()))
                msg.release()
                if args.count and received >= args.count:
                    break
        except KeyboardInterrupt:
            pass
        missed = sub.missed
    if args.json:
        print(json.dumps({"received": received, "missed": missed, "corrupt": corrupt}))
    else:
        print("image_listener: received %d, missed %d, corrupt %d" % (received, missed, corrupt))
    return 1 if corrupt or (args.count and received < args.count) else 0


if __name__ == "__main__":
    sys.exit(main())
