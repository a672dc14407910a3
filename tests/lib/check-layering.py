#!/usr/bin/env python3
"""The one-way order of libagnocast's modules, checked from what each file includes and from
the symbols each object file uses (nm on the static library, one member per source file).

    check-layering.py SOURCE_DIR LIBAGNOCAST_OBJECTS_A   (libagnocast-static/)
    check-layering.py --self-test

A module may include the header of, and call, only modules listed before it in LAYERS
(docs/design.md shows the same table). A new file must be placed in LAYERS; an edge that runs
the wrong way, or a circle, fails with the files and symbols named.
"""
import os
import re
import subprocess
import sys

# Lowest first. A module is a .c file and its .h of the same name.
LAYERS = [
    "log", "util", "peek", "qos", "pool",
    "broker",
    "segment",
    "peer",
    "wake",
    "ring",
    "loan",
    "message",
    "publisher",
    "subscription",
    "notice",
    "control",
    "context",
    "heaphook-loan",
]
# Headers that belong to no module of their own.
SHARED_HEADERS = {
    "agnocast.h": None,           # the public API
    "agnocast-proto.h": None,     # proto/
    "shm-layout.h": None,         # shm/
    "shm-reader.h": None,
    "agnocast-config.h": None,    # meson's
    "context.h": "context-state",  # the context's data, each part marked with its module
}
# Files in libagnocast/ that are not part of libagnocast.so.
OTHER_PROGRAMS = {"heaphook.c"}  # libagnocast_heaphook.so: calls only agnocast.h


def rank(module):
    return LAYERS.index(module)


def include_edges(src):
    edges = []
    for name in sorted(os.listdir(src)):
        if not name.endswith((".c", ".h")) or name in OTHER_PROGRAMS:
            continue
        module = name[:-2]
        if name in SHARED_HEADERS:
            module = SHARED_HEADERS[name]
        if module == "context-state":
            continue  # types only: what each module owns of the context
        if module not in LAYERS:
            if name.endswith(".c"):
                sys.exit(f"check-layering: {name} is in no layer: add it to LAYERS "
                         "(and to docs/design.md)")
            continue
        with open(os.path.join(src, name)) as f:
            for lineno, line in enumerate(f, 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                inc = os.path.basename(m.group(1))
                if inc in SHARED_HEADERS:
                    target = SHARED_HEADERS[inc]
                    if target is None or target == "context-state":
                        continue
                else:
                    target = inc[:-2]
                if target == module:
                    continue
                edges.append((module, target, f"{name}:{lineno} includes {inc}"))
    return edges


def symbol_edges(archive):
    out = subprocess.run(["nm", "-A", archive], check=True, capture_output=True,
                         text=True).stdout
    return nm_edges(out)


def nm_edges(out):
    defined, used = {}, []
    for line in out.splitlines():
        m = re.match(r"^[^:]*:([^:]+\.o):\s*(?:[0-9a-f]+\s+)?(\S)\s+(\S+)$", line)
        if not m:
            continue
        obj, kind, sym = m.groups()
        if "libagnocast.so" not in obj:
            continue  # proto/ and shm/: parts below the whole library
        module = re.sub(r"\.c\.o$|\.o$", "", os.path.basename(obj))
        if kind == "U":
            used.append((module, sym))
        elif kind in "TDBR":
            defined[sym] = module
    edges = []
    for module, sym in used:
        target = defined.get(sym)
        if target and target != module:
            edges.append((module, target, f"{module}.c uses {sym}"))
    return edges


def check(edges):
    bad = []
    for a, b, why in edges:
        for m in (a, b):
            if m not in LAYERS:
                bad.append(f"{m} is in no layer ({why})")
                break
        else:
            if rank(b) > rank(a):
                bad.append(f"{a} -> {b} runs upward: {why}")
    return bad


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        # The check must be able to fail: an upward call and an unknown file are found.
        assert check([("pool", "context", "pool.c uses agnocast_context_new")])
        assert check([("nowhere", "log", "nowhere.c includes log.h")])
        assert not check([("context", "pool", "context.c uses agn_pool_used")])
        nm = ("a.a:x/libagnocast.so.0.p/pool.c.o:                 U agn_now_ns\n"
              "a.a:x/libagnocast.so.0.p/context.c.o:0000000000000010 T agn_now_ns\n")
        edges = nm_edges(nm)
        assert [(a, b) for a, b, _ in edges] == [("pool", "context")], edges
        assert check(edges)
        print("check-layering: self-test passed")
        return
    if len(sys.argv) != 3:
        sys.exit("usage: check-layering.py SOURCE_DIR LIBAGNOCAST_OBJECTS_A | --self-test")
    symbols = symbol_edges(sys.argv[2])
    if not symbols:
        sys.exit(f"check-layering: no calls between files found in {sys.argv[2]}: wrong archive?")
    bad = check(include_edges(sys.argv[1]) + symbols)
    if bad:
        print("libagnocast's one-way module order is broken "
              "(docs/design.md, 'Library modules'):", file=sys.stderr)
        for line in sorted(set(bad)):
            print("  " + line, file=sys.stderr)
        sys.exit(1)
    print(f"check-layering: {len(LAYERS)} modules, {len(symbols)} calls between files, every "
          "include and call goes down")


if __name__ == "__main__":
    main()
