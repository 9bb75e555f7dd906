#!/usr/bin/env python3
"""Prints the README's benchmark table from the last `cargo bench --bench merge` run.

Reads criterion's estimates in target/criterion/<group>/<line>/<size>/new/estimates.json and
prints, per group and size, the median time of each line and the ratio json-patch / metamerge
(> 1 means metamerge is faster). Standard library only.

    cargo bench --bench merge && python3 benches/table.py
"""

import json
import os
import sys

GROUPS = [
    ("a_clerk_metadata", "(a) Clerk metadata, 21-member patch"),
    ("b_array_subtree", "(b) patch carrying a 100 KiB array"),
    ("c_target_size", "(c) 5-key patch"),
    ("c_wide_target", "(c') 5-key patch, wide target"),
]
LINES = ["metamerge", "metamerge_ref", "json-patch"]
SIZES = ["1KiB", "4KiB", "8KiB", "100KiB", "10MiB"]


def median_ns(root, group, line, size):
    path = os.path.join(root, group, line, size, "new", "estimates.json")
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)["median"]["point_estimate"]
    except FileNotFoundError:
        return None


def show(ns):
    if ns is None:
        return "n/a"
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.0f} ns"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join("target", "criterion")
    if not os.path.isdir(root):
        sys.exit(f"{root}: no criterion results; run `cargo bench --bench merge` first")
    print("| group | size | metamerge | metamerge (`merge_ref`) | json-patch | json-patch / metamerge |")
    print("|---|---|---|---|---|---|")
    for group, title in GROUPS:
        for size in SIZES:
            times = [median_ns(root, group, line, size) for line in LINES]
            if all(t is None for t in times):
                continue
            mm, mm_ref, peer = times
            ratio = f"{peer / mm:.2f}x" if mm and peer else "n/a"
            print(f"| {title} | {size} | {show(mm)} | {show(mm_ref)} | {show(peer)} | {ratio} |")
    print()
    print("Measurement floor of (c) and (c'): the routine returns its inputs untouched.")
    print()
    print("| group | size | `clock_only` | metamerge `merge` | 10 MiB / 1 KiB, metamerge | json-patch | 10 MiB / 1 KiB, json-patch |")
    print("|---|---|---|---|---|---|---|")
    for group, title in GROUPS:
        small = {line: median_ns(root, group, line, "1KiB") for line in LINES}
        for size in SIZES:
            floor = median_ns(root, group, "clock_only", size)
            if floor is None:
                continue
            mm = median_ns(root, group, "metamerge", size)
            peer = median_ns(root, group, "json-patch", size)
            grow_mm = f"{mm / small['metamerge']:.1f}x" if mm and small["metamerge"] else "n/a"
            grow_peer = f"{peer / small['json-patch']:.1f}x" if peer and small["json-patch"] else "n/a"
            print(f"| {title} | {size} | {show(floor)} | {show(mm)} | {grow_mm} | {show(peer)} | {grow_peer} |")


if __name__ == "__main__":
    main()
