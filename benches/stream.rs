//! Streaming merge against parse-then-merge (issue 4).
//!
//! Four patch shapes applied to a 4 KiB metadata target, each path in the same run:
//! - `merge_slice`: the patch is applied while it is parsed;
//! - `from_slice+merge`: `serde_json::from_slice` then `metamerge::merge`;
//! - `from_slice+json_patch`: `serde_json::from_slice` then `json_patch::merge` (by reference,
//!   so it clones what it inserts);
//! - for the array-heavy patch also `from_slice` alone: the cost of parsing the same bytes
//!   into a `Value`, the floor any merge path has to beat.
//!
//! Every iteration gets a fresh clone of the target (`iter_batched`, clone not timed, in
//! batches of 16, see [`BATCH`]); the two-step paths build and drop the patch tree inside the
//! timed routine. The merged target is returned, so that dropping it is not timed for any path.
//!
//! Then a size sweep, 1 KiB to 1 MiB, of a mixed patch for the three paths.
//!
//! The clock is the CPU time of the benchmarking thread, as in `benches/merge.rs` (see
//! `benches/common/clock.rs`), and the bench re-runs itself under a steady glibc `malloc` (see
//! `benches/common/malloc.rs`).
//!
//! Run: `cargo bench --bench stream`; plots: `target/criterion/report/index.html`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, BatchSize, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Map, Value};

#[path = "common/clock.rs"]
mod clock;
#[path = "common/malloc.rs"]
mod malloc;
use clock::ThreadCpuTime;

/// Targets are cloned 16 at a time and merged right away, so that each is still in the CPU
/// caches when merged, as a target read from the database just before its update would be;
/// criterion's `SmallInput` would clone thousands and merge them cold. (The same batching as
/// `benches/merge.rs`.)
const BATCH: BatchSize = BatchSize::NumIterations(16);

/// A membership's metadata, about 4 KiB of JSON: ten sections of settings, preferences,
/// owners and tags, three levels deep.
fn target() -> Value {
    let mut sections = Map::new();
    for s in 0..10 {
        sections.insert(
            format!("section_{s}"),
            json!({
                "name": format!("Section {s}"),
                "enabled": s % 2 == 0,
                "count": s * 17,
                "ratio": s as f64 / 7.0,
                "tags": ["alpha", "beta", format!("tag{s}")],
                "settings": {
                    "k0": "light", "k1": 12, "k2": true, "k3": "compact", "k4": null, "k5": [1, 2, 3]
                },
                "prefs": {
                    "ui": { "density": 2, "theme": "auto", "sidebar": true },
                    "mail": { "digest": "weekly", "mentions": true }
                },
                "owner": { "id": format!("user_{s:04}"), "email": format!("owner{s}@example.com") },
                "notes": format!("Reviewed in quarter {}", s % 4 + 1),
                "created_at": 1_690_000_000 + s
            }),
        );
    }
    Value::Object(sections)
}

/// About 300 B of nested updates and removals.
fn small_patch() -> String {
    json!({
        "section_1": { "enabled": false, "settings": { "k2": null, "k3": "dense" } },
        "section_4": { "tags": null, "count": 12, "owner": { "email": null } },
        "section_7": { "owner": { "email": "new7@example.com" }, "prefs": { "mail": null } },
        "section_8": { "settings": { "k5": [3, 2, 1], "k6": { "nested": true } } },
        "section_9": { "prefs": { "ui": { "theme": "dark", "sidebar": null } } },
        "seats": 25
    })
    .to_string()
}

/// About 6 KiB, the object-heavy shape: updates under every key of the target. Every
/// leaf of every section gets a new value (numbers, booleans, strings, a replaced array),
/// one member per section is removed, and one member and one nested member are new.
fn object_heavy_patch() -> String {
    let mut patch = Map::new();
    for s in 0..10 {
        patch.insert(
            format!("section_{s}"),
            json!({
                "name": format!("Section {s}, renamed after the 2026 annual access review"),
                "enabled": s % 3 == 0,
                "count": s * 19 + 1,
                "ratio": null,
                "tags": ["alpha-renamed", "gamma-renamed", format!("tag{s}-renamed")],
                "settings": {
                    "k0": "dark-contrast", "k1": 24, "k2": false, "k3": "dense-grid", "k4": 7,
                    "k5": [3, 2, 1, 0], "k6": true
                },
                "prefs": {
                    "ui": { "density": 3, "theme": "dark-contrast", "sidebar": false },
                    "mail": { "digest": "daily-summary", "mentions": false }
                },
                "owner": {
                    "id": format!("user_{:04}_renamed", s + 100),
                    "email": format!("new-owner-{s}@example-organization.com")
                },
                "notes": format!(
                    "Reviewed again in quarter {} of 2026 by the access team, see ticket OPS-{}",
                    s % 4 + 1,
                    1000 + s
                ),
                "created_at": 1_700_000_000 + s,
                "updated_at": 1_700_003_600 + s
            }),
        );
    }
    Value::Object(patch).to_string()
}

/// About 6 KiB, object-heavy but mostly new: updates of most members of every section, some
/// removals, and new objects under every section (`limits`, `audit`, `quota`, an object over
/// a string), so that more than half of its members are new to the target and must be built
/// by every path alike.
fn new_subtrees_patch() -> String {
    let mut patch = Map::new();
    for s in 0..10 {
        patch.insert(
            format!("section_{s}"),
            json!({
                "name": format!("Section {s}b"),
                "enabled": s % 3 == 0,
                "count": s * 19 + 1,
                "ratio": null,
                "settings": {
                    "k0": "dark", "k1": null, "k2": false, "k3": { "mode": "grid", "columns": s + 2 },
                    "k4": 7, "k6": 1
                },
                "prefs": {
                    "ui": { "density": 3, "theme": null, "sidebar": false, "font": 14 },
                    "mail": { "digest": "daily", "mentions": null, "bounce": 0 }
                },
                "owner": { "id": format!("user_{:04}", s + 100), "email": null,
                           "seat": { "tier": 2, "active": true } },
                "limits": { "seats": { "max": 100, "used": s }, "storage": { "gb": 50 } },
                "tags": ["alpha", "gamma", format!("tag{s}")],
                "audit": {
                    "created": { "by": format!("user_{s:04}"), "at": 1_700_000_000 },
                    "updated": { "by": "user_0002", "at": 1_700_003_600 + s }
                },
                "quota": { "api": { "per_minute": 60, "per_day": 10_000 } }
            }),
        );
    }
    Value::Object(patch).to_string()
}

/// About 100 KiB, mostly arrays: an event log of small records, a series of numbers and a
/// list of identifiers, each replacing (or adding) one member.
fn array_heavy_patch() -> String {
    let events: Vec<Value> = (0..1200)
        .map(|i| json!({ "t": 1_700_000_000 + i * 60, "kind": "login", "ok": i % 7 != 0 }))
        .collect();
    let series: Vec<Value> = (0..3500).map(|i| json!(i as f64 * 0.125 - 3.0)).collect();
    let ids: Vec<Value> = (0..2000).map(|i| json!(format!("id_{i:06}"))).collect();
    json!({
        "section_2": { "tags": ["x", "y", "z"] },
        "events": events,
        "series": series,
        "ids": ids
    })
    .to_string()
}

/// A mixed patch of at least `size` bytes: updates of the target's sections first, then new
/// members holding small records (objects, an array, a removal inside a new object).
fn sweep_patch(size: usize) -> String {
    let mut patch = Map::new();
    let mut len = 2;
    let mut i = 0;
    while len < size {
        let (key, value) = if i < 10 {
            (
                format!("section_{i}"),
                json!({ "count": i, "settings": { "k0": "dim", "k4": null, "k8": [i, i + 1] } }),
            )
        } else {
            (
                format!("bulk_{i:07}"),
                json!({
                    "name": format!("record {i}"), "score": i as f64 / 3.0,
                    "tags": ["a", "b"], "meta": { "x": i, "y": null }
                }),
            )
        };
        len += key.len() + 4 + value.to_string().len();
        patch.insert(key, value);
        i += 1;
    }
    Value::Object(patch).to_string()
}

fn compare(
    c: &mut Criterion<ThreadCpuTime>,
    group: &str,
    target: &Value,
    patch: &str,
    parse_alone: bool,
) {
    let bytes = patch.as_bytes();
    // Sanity: all paths agree on this input.
    let mut streamed = target.clone();
    metamerge::merge_slice(&mut streamed, bytes).unwrap();
    let two_step = metamerge::merge(target.clone(), serde_json::from_slice(bytes).unwrap());
    let mut by_json_patch = target.clone();
    json_patch::merge(&mut by_json_patch, &serde_json::from_slice(bytes).unwrap());
    assert_eq!(streamed, two_step);
    assert_eq!(streamed, by_json_patch);

    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("merge_slice", |b| {
        b.iter_batched(
            || target.clone(),
            |mut target| {
                metamerge::merge_slice(&mut target, black_box(bytes)).unwrap();
                target
            },
            BATCH,
        )
    });
    g.bench_function("from_slice+merge", |b| {
        b.iter_batched(
            || target.clone(),
            |target| {
                let patch: Value = serde_json::from_slice(black_box(bytes)).unwrap();
                metamerge::merge(target, patch)
            },
            BATCH,
        )
    });
    g.bench_function("from_slice+json_patch", |b| {
        b.iter_batched(
            || target.clone(),
            |mut target| {
                let patch: Value = serde_json::from_slice(black_box(bytes)).unwrap();
                json_patch::merge(&mut target, &patch);
                target
            },
            BATCH,
        )
    });
    if parse_alone {
        g.bench_function("from_slice", |b| {
            b.iter_batched(
                || target.clone(),
                |target| {
                    let patch: Value = serde_json::from_slice(black_box(bytes)).unwrap();
                    (target, patch)
                },
                BATCH,
            )
        });
    }
    g.finish();
}

fn shapes(c: &mut Criterion<ThreadCpuTime>) {
    let target = target();
    let small = small_patch();
    let object_heavy = object_heavy_patch();
    let new_subtrees = new_subtrees_patch();
    let array_heavy = array_heavy_patch();
    eprintln!(
        "target {} B, patches: small {} B, object-heavy {} B, new subtrees {} B, array-heavy {} B",
        target.to_string().len(),
        small.len(),
        object_heavy.len(),
        new_subtrees.len(),
        array_heavy.len()
    );
    compare(c, "stream/small_300B", &target, &small, false);
    compare(c, "stream/object_heavy_6KiB", &target, &object_heavy, false);
    compare(c, "stream/new_subtrees_6KiB", &target, &new_subtrees, false);
    compare(c, "stream/array_heavy_100KiB", &target, &array_heavy, true);
}

fn sweep(c: &mut Criterion<ThreadCpuTime>) {
    let target = target();
    let mut g = c.benchmark_group("stream/sweep");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(2));
    for kib in [1, 4, 16, 64, 256, 1024] {
        let patch = sweep_patch(kib * 1024);
        let bytes = patch.as_bytes();
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("merge_slice", kib), &bytes, |b, bytes| {
            b.iter_batched(
                || target.clone(),
                |mut target| {
                    metamerge::merge_slice(&mut target, black_box(bytes)).unwrap();
                    target
                },
                BATCH,
            )
        });
        g.bench_with_input(
            BenchmarkId::new("from_slice+merge", kib),
            &bytes,
            |b, bytes| {
                b.iter_batched(
                    || target.clone(),
                    |target| {
                        let patch: Value = serde_json::from_slice(black_box(bytes)).unwrap();
                        metamerge::merge(target, patch)
                    },
                    BATCH,
                )
            },
        );
        g.bench_with_input(
            BenchmarkId::new("from_slice+json_patch", kib),
            &bytes,
            |b, bytes| {
                b.iter_batched(
                    || target.clone(),
                    |mut target| {
                        let patch: Value = serde_json::from_slice(black_box(bytes)).unwrap();
                        json_patch::merge(&mut target, &patch);
                        target
                    },
                    BATCH,
                )
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(ThreadCpuTime::default())
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = shapes, sweep
}
// criterion_main!, after making the allocator steady (see `benches/common/malloc.rs`).
fn main() {
    malloc::steady_or_reexec();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
