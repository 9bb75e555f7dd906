//! `metamerge::diff` against a naive, clone-heavy reference diff, by document size.
//!
//! There is no fair foreign baseline: the `json-patch` crate's `diff` emits RFC 6902 operations,
//! not a merge patch. The reference below is the merge-patch diff as it is commonly written:
//! recursive, cloning both objects at every level, comparing subtrees with `==` before
//! descending into them (so each level is compared again by its parent) and comparing each
//! nested patch with `{}`.
//!
//! Documents are organization-membership-like metadata objects (members with nested settings,
//! tags arrays, numbers and strings), serialized to about 1 KiB, 64 KiB and 1 MiB; the target is
//! the source with about one member in twenty changed, removed or added, at every depth.
//! Throughput is reported in bytes of the source document.
//!
//! Run with `cargo bench --bench algebra`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Map, Value};

/// The naive reference: the same result as `metamerge::diff` on documents without `null`
/// members (it does not check for them), written the clone-heavy way.
fn naive_diff(source: &Value, target: &Value) -> Value {
    match (source.clone(), target.clone()) {
        (Value::Object(source), Value::Object(target)) => {
            let mut patch = Map::new();
            for (name, _) in source.clone() {
                if !target.contains_key(&name) {
                    patch.insert(name, Value::Null);
                }
            }
            for (name, to) in target.clone() {
                match source.get(&name) {
                    Some(from) if *from == to => {}
                    Some(from) if from.is_object() && to.is_object() => {
                        let nested = naive_diff(from, &to);
                        if nested != json!({}) {
                            patch.insert(name, nested);
                        }
                    }
                    _ => {
                        patch.insert(name, to.clone());
                    }
                }
            }
            Value::Object(patch)
        }
        (_, target) => target,
    }
}

/// A small deterministic generator (64-bit LCG), so runs compare like with like.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// One member's metadata: three levels of objects, an array, strings, numbers, booleans.
fn member(rng: &mut Lcg, id: usize) -> Value {
    let role = ["admin", "member", "billing"][rng.next(3) as usize];
    let color = ["red", "blue", "green"][rng.next(3) as usize];
    json!({
        "id": format!("orgmem_{id:08}"),
        "role": role,
        "seats": rng.next(50),
        "active": rng.next(2) == 0,
        "tags": (0..rng.next(4)).map(|t| format!("tag-{t}")).collect::<Vec<_>>(),
        "settings": {
            "theme": { "color": color, "dense": rng.next(2) == 0 },
            "notifications": { "email": rng.next(2) == 0, "digest": { "day": rng.next(7), "hour": rng.next(24) } },
        },
    })
}

/// A source document of about `bytes` bytes when serialized.
fn source(bytes: usize) -> Value {
    let mut rng = Lcg(bytes as u64);
    let mut members = Map::new();
    let mut size = 2;
    while size < bytes {
        let value = member(&mut rng, members.len());
        size += serde_json::to_string(&value).unwrap().len() + 20;
        members.insert(format!("user_{:06}", members.len()), value);
    }
    json!({ "organization": "org_2abc", "members": members })
}

/// Changes about one member in twenty of `value`, at every depth: replaces a scalar, removes a
/// member or adds one.
fn mutate(value: &mut Value, rng: &mut Lcg) {
    let Value::Object(object) = value else {
        return;
    };
    let names: Vec<String> = object.keys().cloned().collect();
    for name in names {
        match rng.next(60) {
            0 => {
                object.remove(&name);
            }
            1 => {
                object.insert(format!("{name}_new"), json!({ "added": true }));
            }
            2 => {
                object.insert(name, json!("changed"));
            }
            _ => mutate(object.get_mut(&name).unwrap(), rng),
        }
    }
}

fn bench_diff(c: &mut Criterion) {
    let mut group = c.benchmark_group("diff");
    group.sample_size(20);
    for (label, bytes) in [("1 KiB", 1 << 10), ("64 KiB", 64 << 10), ("1 MiB", 1 << 20)] {
        let from = source(bytes);
        let mut to = from.clone();
        mutate(&mut to, &mut Lcg(7));
        let patch = metamerge::diff(&from, &to).expect("no null members");
        assert_eq!(patch, naive_diff(&from, &to), "the reference agrees");
        assert_eq!(metamerge::merge(from.clone(), patch), to);

        let size = serde_json::to_string(&from).unwrap().len();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("metamerge", label), &(), |b, ()| {
            b.iter(|| metamerge::diff(black_box(&from), black_box(&to)))
        });
        group.bench_with_input(
            BenchmarkId::new("naive clone-heavy", label),
            &(),
            |b, ()| b.iter(|| naive_diff(black_box(&from), black_box(&to))),
        );
    }
    group.finish();
}

criterion_group!(benches, bench_diff);
criterion_main!(benches);
