//! Criterion benchmarks of issue 2: metamerge against the `json-patch` crate's RFC 7396 `merge`,
//! in the same run.
//!
//! Every line gets its own fresh target and patch from `iter_batched` (the setup, cloning them,
//! is not timed) and pays for dropping the patch inside the timed routine: the caller owns the
//! patch and is done with it. The merged target is returned, so dropping it is not timed.
//! Inputs are prepared right before their merge (group (a), one at a time) or in small batches
//! (16 small documents, 4 of 100 KiB, one of 10 MiB), so that they are still in the CPU caches
//! when merged, as a document parsed just before its merge would be; criterion's `SmallInput`
//! would prepare thousands and merge them cold.
//!
//! - `metamerge`: `metamerge::merge(target, patch)`, both by value (patch subtrees are moved).
//! - `metamerge_ref`: `metamerge::merge_ref(&mut target, &patch)`, then the patch is dropped.
//! - `json-patch`: `json_patch::merge(&mut target, &patch)`, then the patch is dropped.
//! - `clock_only`: the routine returns its inputs untouched; the measurement floor at each
//!   size (see [`clock_only`]). Not in (b).
//!
//! Groups:
//! - `a_clerk_metadata`: organization membership metadata of about 1, 4 and 8 KiB (nested
//!   objects, arrays, strings, numbers) and a small patch of 21 members with nested updates and
//!   removals, each merge with its own setup (see [`a_clerk_metadata`]).
//! - `a_clerk_metadata_batch16`: the same, 16 merges in a row per setup, the first method (see
//!   [`a_clerk_metadata_batch16`] for why it is kept and why it is not the one to read).
//! - `b_array_subtree`: a patch carrying a 100 KiB array of objects into a 4 KiB target.
//! - `c_target_size`: a 5-key patch (one nested object) into membership metadata of 1 KiB,
//!   100 KiB and 10 MiB, whose size is in arrays and objects below the top level (the nested
//!   patch member addresses one of them, which grows with the target).
//! - `c_wide_target`: the same patch into targets of 1 KiB and 10 MiB whose size is in the
//!   top-level object itself (80,000 members at 10 MiB), so that every lookup sees a large map.
//!
//! Data is generated deterministically (a fixed-seed LCG), no files are read.
//!
//! Clocks: the batched groups ((a) batch16 and (b)) use the CPU time of the benchmarking thread
//! (`CLOCK_THREAD_CPUTIME_ID`, through the `cpu-time` crate), not wall time: on a shared machine,
//! time the thread spends descheduled while other processes run is not charged to whichever
//! line happened to be running, and their batches of 16 or 4 inputs make the cost of reading
//! that clock (a system call) small. Groups (a) and (c) and (c') time inputs one at a time and
//! use criterion's wall clock (`Instant`, read without a system call): at 10 MiB, right after
//! a 10 MiB clone, the CPU-time system call alone cost more than a microsecond, several times
//! the 1 KiB merge it was meant to measure. Both sides of every comparison are measured with
//! the same clock; on an idle machine the two clocks agree, so run the bench on one.
//!
//! The bench re-runs itself under a steady glibc `malloc` (no heap trimming, a fixed `mmap`
//! threshold), so that page faults do not land in whichever line allocates after a trim; see
//! `benches/common/malloc.rs`.
//!
//! Run: `cargo bench --bench merge` (HTML report in `target/criterion/report/index.html`).
//! Summarize: `python3 benches/table.py` prints the Markdown table of the README.

use std::time::Duration;

use criterion::measurement::{Measurement, WallTime};
use criterion::{criterion_group, BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Map, Value};

#[path = "common/clock.rs"]
mod clock;
#[path = "common/malloc.rs"]
mod malloc;
use clock::ThreadCpuTime;

/// Deterministic pseudo-random numbers (Knuth's MMIX LCG), so every run merges the same data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.below(words.len() as u64) as usize]
    }
    fn id(&mut self, prefix: &str) -> String {
        format!("{prefix}_{:012x}", self.next() ^ (self.next() << 20))
    }
    fn timestamp(&mut self) -> String {
        format!(
            "2026-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            1 + self.below(12),
            1 + self.below(28),
            self.below(24),
            self.below(60),
            self.below(60)
        )
    }
}

const WORDS: &[&str] = &[
    "alpha",
    "billing",
    "customer",
    "design",
    "engineering",
    "finance",
    "growth",
    "hiring",
    "infra",
    "legal",
    "marketing",
    "platform",
    "research",
    "sales",
    "security",
    "support",
];
const ROLES: &[&str] = &["org:admin", "org:member", "org:billing", "org:viewer"];

fn size_of(value: &Value) -> usize {
    serde_json::to_vec(value).expect("serializable").len()
}

fn team(rng: &mut Lcg) -> Value {
    json!({
        "id": rng.id("team"),
        "name": format!("{} {}", rng.pick(WORDS), rng.pick(WORDS)),
        "role": rng.pick(ROLES),
        "joined_at": rng.timestamp(),
        "seats": rng.below(200),
        "tags": [rng.pick(WORDS), rng.pick(WORDS)],
    })
}

/// Organization membership metadata of at least `bytes` bytes serialized: a fixed core of ten
/// members that every patch below addresses, then teams (an array of objects), feature flags and
/// custom fields (two objects) until it is large enough. The top-level object stays small.
fn membership(rng: &mut Lcg, bytes: usize) -> Value {
    let mut flags = Map::new();
    for i in 0..8 {
        flags.insert(format!("flag_{i}"), Value::Bool(rng.below(2) == 0));
    }
    let mut doc = json!({
        "role": "org:admin",
        "plan": "pro",
        "seats": 25,
        "legacy_id": rng.id("usr"),
        "onboarding": { "completed": false, "step": 3, "checklist": { "profile": true, "invite": false } },
        "preferences": {
            "theme": "light",
            "locale": "en-US",
            "timezone": "Europe/Berlin",
            "notifications": { "email": true, "sms": false, "digest": "weekly" }
        },
        "billing": {
            "customer_id": rng.id("cus"),
            "card_last4": "1234",
            "coupon": "SPRING",
            "address": { "line1": "1 Main Street", "city": "Hamburg", "country": "DE" }
        },
        "feature_flags": flags,
        "teams": [],
        "custom_fields": {},
    });
    let mut size = size_of(&doc);
    let mut i = 0;
    while size < bytes {
        // Serialized size of what is added: the value, plus `"name":` and a comma.
        match i % 4 {
            0 => {
                let team = team(rng);
                size += size_of(&team) + 1;
                doc["teams"].as_array_mut().unwrap().push(team);
            }
            1 => {
                let flag = format!("flag_{}", 8 + i);
                size += flag.len() + 4 + 5;
                doc["feature_flags"][flag] = Value::Bool(rng.below(2) == 0);
            }
            _ => {
                let field = format!("field_{i}");
                let value = json!(format!("{}-{}", rng.pick(WORDS), rng.next()));
                size += field.len() + 4 + size_of(&value);
                doc["custom_fields"][field] = value;
            }
        }
        i += 1;
    }
    doc
}

/// The patch of group (a): 21 members, 8 at the top, with nested updates, removals (`null`)
/// at several levels and new keys.
fn clerk_patch() -> Value {
    json!({
        "plan": "enterprise",
        "seats": 40,
        "legacy_id": null,
        "last_active_at": "2026-11-29T18:00:00Z",
        "preferences": { "theme": "dark", "notifications": { "sms": true, "digest": null } },
        "billing": { "card_last4": "4242", "coupon": null, "address": { "city": "Berlin" } },
        "feature_flags": { "flag_3": false, "flag_7": null, "beta_editor": true },
        "onboarding": { "completed": true, "step": null },
    })
}

/// A 100 KiB array of objects (audit log entries).
fn audit_log(rng: &mut Lcg, bytes: usize) -> Value {
    let mut entries = Vec::new();
    let mut size = 2;
    while size < bytes {
        let entry = json!({
            "id": rng.id("evt"),
            "at": rng.timestamp(),
            "actor": rng.id("user"),
            "action": format!("{}.{}", rng.pick(WORDS), rng.pick(&["created", "updated", "deleted"])),
            "seats": rng.below(500),
            "ok": rng.below(10) != 0,
        });
        size += size_of(&entry) + 1;
        entries.push(entry);
    }
    Value::Array(entries)
}

/// A target of at least `bytes` bytes for group (c'): the membership core plus top-level
/// members `ext_<n>` of about 100 bytes each, so that every key of the patch is looked up in an
/// object that grows with the target (80,000 members at 10 MiB).
fn large_target(rng: &mut Lcg, bytes: usize) -> Value {
    let mut doc = membership(rng, 0);
    let mut size = size_of(&doc);
    let object = doc.as_object_mut().unwrap();
    let mut i = 0;
    while size < bytes {
        let member = json!({ "id": rng.id("ext"), "team": rng.pick(WORDS), "seats": rng.below(100), "active": true });
        let key = format!("ext_{i:07}");
        size += key.len() + size_of(&member) + 4;
        object.insert(key, member);
        i += 1;
    }
    doc
}

/// The 5-key patch of group (c): one nested object (into the feature flags, which grow with
/// the target), one removal, one new key.
fn five_key_patch() -> Value {
    json!({
        "plan": "enterprise",
        "seats": 40,
        "legacy_id": null,
        "last_active_at": "2026-11-29T18:00:00Z",
        "feature_flags": { "flag_3": false },
    })
}

fn kib(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{}MiB", bytes >> 20)
    } else {
        format!("{}KiB", bytes >> 10)
    }
}

/// Benchmarks the three lines on fresh clones of `target` and `patch`.
fn lines<M: Measurement>(
    group: &mut BenchmarkGroup<'_, M>,
    size: &str,
    target: &Value,
    patch: &Value,
    batch: BatchSize,
) {
    group.bench_function(BenchmarkId::new("metamerge", size), |b| {
        b.iter_batched(
            || (target.clone(), patch.clone()),
            |(target, patch)| metamerge::merge(target, patch),
            batch,
        )
    });
    group.bench_function(BenchmarkId::new("metamerge_ref", size), |b| {
        b.iter_batched(
            || (target.clone(), patch.clone()),
            |(mut target, patch)| {
                metamerge::merge_ref(&mut target, &patch);
                drop(patch);
                target
            },
            batch,
        )
    });
    group.bench_function(BenchmarkId::new("json-patch", size), |b| {
        b.iter_batched(
            || (target.clone(), patch.clone()),
            |(mut target, patch)| {
                json_patch::merge(&mut target, &patch);
                drop(patch);
                target
            },
            batch,
        )
    });
}

/// Checks that all three lines compute the same result before timing them.
fn agree(target: &Value, patch: &Value) {
    let by_value = metamerge::merge(target.clone(), patch.clone());
    let mut by_ref = target.clone();
    metamerge::merge_ref(&mut by_ref, patch);
    let mut peer = target.clone();
    json_patch::merge(&mut peer, patch);
    assert_eq!(by_value, by_ref, "merge and merge_ref disagree");
    assert_eq!(by_value, peer, "metamerge and json-patch disagree");
}

/// Group (a): each merge gets inputs cloned right before it (`PerIteration`), timed by the
/// wall clock. The allocator is then in the state a merge finds in real use, right after the
/// allocations that made its target and patch (a parse, a database read): the blocks the merge
/// frees go back to glibc's per-thread caches, which those allocations emptied. `clock_only`
/// is the floor: timing an empty routine.
fn a_clerk_metadata(c: &mut Criterion<WallTime>) {
    clerk_metadata(c, "a_clerk_metadata", BatchSize::PerIteration);
}

/// Group (a) as it was measured first, for comparison: 16 merges in a row on inputs cloned
/// beforehand, timed together by the thread's CPU clock. Nothing is allocated between those
/// merges, which no caller does; a by-value merge, which only frees, then finds glibc's
/// per-thread caches full after the first one, and every further free takes the slower path
/// (and, depending on the heap's layout, a consolidation of the free lists: in a callgrind
/// count at 8 KiB, 391 per 1,600 merges, none when each merge has its own setup).
fn a_clerk_metadata_batch16(c: &mut Criterion<ThreadCpuTime>) {
    clerk_metadata(c, "a_clerk_metadata_batch16", BatchSize::NumIterations(16));
}

fn clerk_metadata<M: Measurement>(c: &mut Criterion<M>, name: &str, batch: BatchSize) {
    let mut group = c.benchmark_group(name);
    // Microsecond merges: twice the samples and time of the other groups, so that one noisy
    // second moves the median less.
    group
        .sample_size(100)
        .measurement_time(Duration::from_secs(4));
    let patch = clerk_patch();
    for bytes in [1 << 10, 4 << 10, 8 << 10] {
        let target = membership(&mut Lcg(bytes as u64), bytes);
        agree(&target, &patch);
        lines(&mut group, &kib(bytes), &target, &patch, batch);
        clock_only(&mut group, &kib(bytes), &target, &patch, batch);
    }
    group.finish();
}

fn b_array_subtree(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("b_array_subtree");
    let mut rng = Lcg(100);
    let target = membership(&mut rng, 4 << 10);
    let patch = json!({ "audit_log": audit_log(&mut rng, 100 << 10), "last_active_at": "2026-11-29T18:00:00Z" });
    agree(&target, &patch);
    group.throughput(Throughput::Bytes(size_of(&patch) as u64));
    lines(
        &mut group,
        "100KiB",
        &target,
        &patch,
        BatchSize::NumIterations(4),
    );
    group.finish();
}

fn c_target_size(c: &mut Criterion<WallTime>) {
    target_sizes(
        c,
        "c_target_size",
        &[1 << 10, 100 << 10, 10 << 20],
        membership,
    );
}

/// Group (c'): as (c), but the target's size is in its top-level object.
fn c_wide_target(c: &mut Criterion<WallTime>) {
    target_sizes(c, "c_wide_target", &[1 << 10, 10 << 20], large_target);
}

fn target_sizes(
    c: &mut Criterion<WallTime>,
    name: &str,
    sizes: &[usize],
    make: fn(&mut Lcg, usize) -> Value,
) {
    let mut group = c.benchmark_group(name);
    let patch = five_key_patch();
    for &bytes in sizes {
        let batch = match bytes {
            0..=8192 => BatchSize::NumIterations(16),
            8193..=1_000_000 => BatchSize::NumIterations(4),
            // Each setup clones 10 MiB of `Value`s: one input at a time, few samples.
            _ => BatchSize::PerIteration,
        };
        let target = make(&mut Lcg(bytes as u64), bytes);
        agree(&target, &patch);
        if bytes >= 10 << 20 {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(3));
        }
        lines(&mut group, &kib(bytes), &target, &patch, batch);
        clock_only(&mut group, &kib(bytes), &target, &patch, batch);
    }
    group.finish();
}

/// The floor of groups (c) and (c'): the same setup and batch size as the merge lines, but
/// the routine only hands its inputs back (they are dropped outside the timed part). What it
/// measures is reading the clock and the harness around the routine; at 10 MiB each input is
/// timed alone, right after cloning the target, so this line shows how much of the 10 MiB
/// figures is not the merge.
fn clock_only<M: Measurement>(
    group: &mut BenchmarkGroup<'_, M>,
    size: &str,
    target: &Value,
    patch: &Value,
    batch: BatchSize,
) {
    group.bench_function(BenchmarkId::new("clock_only", size), |b| {
        b.iter_batched(|| (target.clone(), patch.clone()), |inputs| inputs, batch)
    });
}

criterion_group! {
    name = cpu_clock;
    config = Criterion::default()
        .with_measurement(ThreadCpuTime::default())
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .nresamples(20_000);
    targets = a_clerk_metadata_batch16, b_array_subtree
}
criterion_group! {
    name = wall_clock;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .nresamples(20_000);
    targets = a_clerk_metadata, c_target_size, c_wide_target
}
// criterion_main!, after making the allocator steady (see `benches/common/malloc.rs`).
fn main() {
    malloc::steady_or_reexec();
    wall_clock();
    cpu_clock();
    Criterion::default().configure_from_args().final_summary();
}
