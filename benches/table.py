#!/usr/bin/env python3
"""Prints the README's benchmark tables from `cargo bench --bench merge` and `--bench stream` runs.

Reads criterion's estimates in <root>/<group>/<line>/<size>/new/estimates.json and prints, per
group and size, the median time of each line and the ratio json-patch / metamerge (> 1 means
metamerge is faster). With several roots (copies of target/criterion from successive runs), each
time is the median over the runs of the line's median, and a last column gives the range of the
per-run ratios. A second table gives the measurement floor of the groups that have a
`clock_only` line and how much each side grows from 1 KiB to the larger targets. Where the
roots hold `benches/stream.rs` results, two more tables follow: the patch shapes (each path
and its ratios to `merge_slice`) and the size sweep. Standard library only.

    cargo bench --bench merge && cargo bench --bench stream && python3 benches/table.py
    python3 benches/table.py run1/criterion run2/criterion run3/criterion
"""

import json
import os
import statistics
import sys

GROUPS = [
    ("a_clerk_metadata", "(a) Clerk metadata, 21-member patch"),
    ("a_clerk_metadata_batch16", "(a) same, 16 merges in a row per setup"),
    ("b_array_subtree", "(b) patch carrying a 100 KiB array"),
    ("c_target_size", "(c) 5-key patch"),
    ("c_wide_target", "(c') 5-key patch, wide target"),
]
LINES = ["metamerge", "metamerge_ref", "json-patch"]
SIZES = ["1KiB", "4KiB", "8KiB", "100KiB", "10MiB"]


def median_ns(root, group, line, size):
    path = os.path.join(root, group, line, *([size] if size else []), "new", "estimates.json")
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)["median"]["point_estimate"]
    except FileNotFoundError:
        return None


def over_runs(roots, group, line, size):
    """Median over the runs that have this line, and the per-run values."""
    values = [median_ns(root, group, line, size) for root in roots]
    values = [v for v in values if v is not None]
    return (statistics.median(values) if values else None), values


def show(ns):
    if ns is None:
        return "n/a"
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.0f} ns"


def ratio_range(ratios):
    if len(ratios) < 2:
        return ""
    return f" | {min(ratios):.2f} to {max(ratios):.2f}"


def main():
    roots = sys.argv[1:] or [os.path.join("target", "criterion")]
    for root in roots:
        if not os.path.isdir(root):
            sys.exit(f"{root}: no criterion results; run `cargo bench --bench merge` (or stream) first")
    if any(os.path.isdir(os.path.join(root, GROUPS[0][0])) for root in roots):
        merge_tables(roots)
    stream_tables(roots)


def merge_tables(roots):
    several = len(roots) > 1
    extra = " per-run ratios |" if several else ""
    print(f"| group | size | metamerge | metamerge (`merge_ref`) | json-patch | json-patch / metamerge |{extra}")
    print("|---|---|---|---|---|---|" + ("---|" if several else ""))
    for group, title in GROUPS:
        for size in SIZES:
            lines = {line: over_runs(roots, group, line, size) for line in LINES}
            if all(median is None for median, _ in lines.values()):
                continue
            mm, peer = lines["metamerge"][0], lines["json-patch"][0]
            ratio = f"{peer / mm:.2f}x" if mm and peer else "n/a"
            per_run = [
                p / m for m, p in zip(lines["metamerge"][1], lines["json-patch"][1]) if m and p
            ]
            times = " | ".join(show(lines[line][0]) for line in LINES)
            print(f"| {title} | {size} | {times} | {ratio}{ratio_range(per_run)} |")
    print()
    print("Measurement floor (the routine returns its inputs untouched), and growth from 1 KiB.")
    print()
    print("| group | size | `clock_only` | metamerge `merge` | / 1 KiB | json-patch | / 1 KiB |")
    print("|---|---|---|---|---|---|---|")
    for group, title in GROUPS:
        small = {line: over_runs(roots, group, line, "1KiB")[0] for line in LINES}
        for size in SIZES:
            floor = over_runs(roots, group, "clock_only", size)[0]
            if floor is None:
                continue
            mm = over_runs(roots, group, "metamerge", size)[0]
            peer = over_runs(roots, group, "json-patch", size)[0]
            grow_mm = f"{mm / small['metamerge']:.1f}x" if mm and small["metamerge"] else "n/a"
            grow_peer = f"{peer / small['json-patch']:.1f}x" if peer and small["json-patch"] else "n/a"
            print(f"| {title} | {size} | {show(floor)} | {show(mm)} | {grow_mm} | {show(peer)} | {grow_peer} |")


STREAM_SHAPES = [
    ("stream_small_300B", "333 B nested updates and removals"),
    ("stream_object_heavy_6KiB", "6 KiB object-heavy: updates under every key"),
    ("stream_new_subtrees_6KiB", "6 KiB object-heavy, mostly new subtrees"),
    ("stream_array_heavy_100KiB", "99 KiB array-heavy"),
]
STREAM_LINES = ["merge_slice", "from_slice+merge", "from_slice+json_patch", "from_slice"]
SWEEP_SIZES = ["1", "4", "16", "64", "256", "1024"]


def ratio_cell(roots, group, size, numerator, denominator, suffix="x"):
    """Ratio of the medians over runs, with the range of the per-run ratios."""
    top, tops = over_runs(roots, group, numerator, size)
    bottom, bottoms = over_runs(roots, group, denominator, size)
    if not top or not bottom:
        return "–"
    per_run = [t / b for t, b in zip(tops, bottoms)]
    spread = f" ({min(per_run):.2f} to {max(per_run):.2f})" if len(per_run) > 1 else ""
    return f"{top / bottom:.2f}{suffix}{spread}"


def stream_tables(roots):
    if any(os.path.isdir(os.path.join(root, group)) for root in roots for group, _ in STREAM_SHAPES):
        shape_table(roots)
    if any(os.path.isdir(os.path.join(root, "stream_sweep")) for root in roots):
        sweep_table(roots)


def shape_table(roots):
    print()
    print("| patch | `merge_slice` | `from_slice` + `merge` | `from_slice` + `json_patch` "
          "| `from_slice` alone | `merge` / `merge_slice` | `json_patch` / `merge_slice` "
          "| `merge_slice` / `from_slice` |")
    print("|---|---|---|---|---|---|---|---|")
    for group, title in STREAM_SHAPES:
        if not any(os.path.isdir(os.path.join(root, group)) for root in roots):
            continue
        times = " | ".join(
            show(over_runs(roots, group, line, None)[0]) if over_runs(roots, group, line, None)[0] else "–"
            for line in STREAM_LINES
        )
        ratios = " | ".join([
            ratio_cell(roots, group, None, "from_slice+merge", "merge_slice"),
            ratio_cell(roots, group, None, "from_slice+json_patch", "merge_slice"),
            ratio_cell(roots, group, None, "merge_slice", "from_slice", suffix=""),
        ])
        print(f"| {title} | {times} | {ratios} |")


def sweep_table(roots):
    print()
    print("| patch size | `merge_slice` | `from_slice` + `merge` | `from_slice` + `json_patch` "
          "| `merge` / `merge_slice` | `json_patch` / `merge_slice` |")
    print("|---|---|---|---|---|---|")
    for size in SWEEP_SIZES:
        times = " | ".join(show(over_runs(roots, "stream_sweep", line, size)[0]) for line in STREAM_LINES[:3])
        ratios = " | ".join([
            ratio_cell(roots, "stream_sweep", size, "from_slice+merge", "merge_slice"),
            ratio_cell(roots, "stream_sweep", size, "from_slice+json_patch", "merge_slice"),
        ])
        kib = f"{int(size) // 1024} MiB" if int(size) >= 1024 else f"{size} KiB"
        print(f"| {kib} | {times} | {ratios} |")


if __name__ == "__main__":
    main()
