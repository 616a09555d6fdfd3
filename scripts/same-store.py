#!/usr/bin/env python3
"""Check that two cascade result stores hold the same results: every .bin file byte for byte,
and manifest.json apart from the fields that describe one invocation (command line, threads,
start and end time, resume count) and the list of files the store's commands wrote beside the
data (`files`: charts, report, exports, replays, which differ with what was run on each).
Exits non-zero, saying what differs, otherwise."""
import json
import os
import sys

INVOCATION = ("command_line", "threads", "started", "finished", "resumed", "files")


def bins(d):
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            if f.endswith(".bin"):
                p = os.path.join(root, f)
                with open(p, "rb") as fh:
                    out[os.path.relpath(p, d)] = fh.read()
    return out


def core(d):
    with open(os.path.join(d, "manifest.json")) as fh:
        m = json.load(fh)
    for k in INVOCATION:
        m.pop(k, None)
    return m


def main(a, b):
    ba, bb = bins(a), bins(b)
    if sorted(ba) != sorted(bb):
        sys.exit(f"binary files differ: {sorted(ba)} vs {sorted(bb)}")
    for k in sorted(ba):
        if ba[k] != bb[k]:
            sys.exit(f"{k} differs")
    ma, mb = core(a), core(b)
    if ma != mb:
        keys = sorted(k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k))
        sys.exit(f"manifests differ in {keys}")
    print(f"same store: {len(ba)} binary files byte for byte, manifests equal")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: same-store.py STORE_A STORE_B")
    main(sys.argv[1], sys.argv[2])
