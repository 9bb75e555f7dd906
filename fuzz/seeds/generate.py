#!/usr/bin/env python3
"""Writes the fuzz seeds from the vector files: one file per vector in fuzz/seeds/<target>/,
holding the vector's documents as compact JSON texts separated by NUL bytes (the input form
the fuzz targets parse, see fuzz/src/lib.rs):

- merge:   target NUL patch                          (tests/vectors/merge.json)
- diff:    original NUL modified                      (tests/vectors/diff.json)
- compose: patch1 NUL patch2 [NUL counterexample_document]  (tests/vectors/compose.json)
- merge_slice: target NUL patch, from tests/vectors/merge.json as for merge, plus for each
  vector two patches that must be rejected (the target must then be left as it was):
  NAME.cut, the patch text without its last byte, and, for a patch object with members,
  NAME.duplicate, the patch with its first member repeated at the end (a duplicate key,
  RFC 7493 section 2.3)

Key order and integers are kept as written; a vector holding a number that Python cannot
write back exactly (a float whose shortest form differs) stops the script.

Usage: python3 fuzz/seeds/generate.py          rewrite the seeds
       python3 fuzz/seeds/generate.py --check  exit 1 if the seeds are not up to date
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEEDS = ROOT / "fuzz" / "seeds"
FIELDS = {
    "merge": ["target", "patch"],
    "diff": ["original", "modified"],
    "compose": ["patch1", "patch2", "counterexample_document"],
}
# Targets whose seeds are derived from another target's vectors.
DERIVED = ["merge_slice"]


def dumps(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def exact_float(text):
    value = float(text)
    if repr(value) != text:
        sys.exit(f"{text} would not be written back exactly")
    return value


def seeds():
    for target, fields in FIELDS.items():
        path = ROOT / "tests" / "vectors" / f"{target}.json"
        vectors = json.loads(path.read_text(encoding="utf-8"), parse_float=exact_float)
        for vector in vectors:
            texts = [dumps(vector[field]) for field in fields if field in vector]
            yield target, vector["name"], b"\0".join(t.encode("utf-8") for t in texts)
            if target == "merge":
                yield from merge_slice_seeds(vector)


def merge_slice_seeds(vector):
    """The merge_slice seeds of one merge vector: as it is, cut, and with a duplicate key."""
    target = dumps(vector["target"]).encode("utf-8") + b"\0"
    patch = dumps(vector["patch"]).encode("utf-8")
    yield "merge_slice", vector["name"], target + patch
    yield "merge_slice", vector["name"] + ".cut", target + patch[:-1]
    members = vector["patch"]
    if isinstance(members, dict) and members:
        name, value = next(iter(members.items()))
        again = b"," + dumps(name).encode("utf-8") + b":" + dumps(value).encode("utf-8")
        yield "merge_slice", vector["name"] + ".duplicate", patch[:-1] + again + b"}"


def main():
    check = sys.argv[1:] == ["--check"]
    wanted = {}
    for target, name, data in seeds():
        wanted[SEEDS / target / name] = data
    existing = {p for t in [*FIELDS, *DERIVED] for p in (SEEDS / t).glob("*")}
    stale = sorted(
        str(p.relative_to(ROOT))
        for p in set(wanted) | existing
        if wanted.get(p) != (p.read_bytes() if p.exists() else None)
    )
    if check:
        if stale:
            sys.exit("fuzz seeds out of date (run fuzz/seeds/generate.py): " + ", ".join(stale))
        return
    for path in existing - set(wanted):
        path.unlink()
    for path, data in wanted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    print(f"{len(wanted)} seeds written, {len(stale)} changed")


if __name__ == "__main__":
    main()
