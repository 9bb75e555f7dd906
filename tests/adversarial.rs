//! Adversarial inputs to the library: nesting 100,000 levels deep (objects and arrays) through
//! `merge`, `merge_in_place`, `merge_ref`, `diff` and `compose`, and a million members in one
//! object through `diff` and `compose` (`tests/moves.rs` has a million members and a 10 MiB
//! string through `merge`; `tests/deep.rs` has 100,000-deep objects through `merge`; the CLI
//! cases are in `tests/cli.rs`).
//!
//! The documents are built, inspected and dropped without recursion, because serde_json's own
//! `Drop`, `Clone` and `==` recurse once per level: the operations under test run on a thread
//! with a 2 MiB stack (a 100,000-level recursion needs far more), so any per-level recursion
//! in them overflows it and fails the test. Every deep value is dismantled before any
//! assertion can panic (unwinding would drop it recursively).

use metamerge::{compose, diff, merge, merge_in_place, merge_ref, Reason};
mod common;

use common::{dismantle, on_small_stack};
use serde_json::{json, Map, Value};

const DEPTH: usize = 100_000;

/// `{"k": {"k": ... leaf ...}}` with `depth` objects, built from the inside out.
fn objects(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |value, _| {
        Value::Object(Map::from_iter([("k".to_owned(), value)]))
    })
}

/// `[[ ... leaf ... ]]` with `depth` arrays.
fn arrays(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |value, _| Value::Array(vec![value]))
}

/// `{"key": value}`, without `json!` (which would copy `value` recursively).
fn object(key: &str, value: Value) -> Value {
    Value::Object(Map::from_iter([(key.to_owned(), value)]))
}

/// Follows `"k"` members and one-element arrays down from `value`: how many levels it passed
/// (objects, arrays) and the value it stopped at.
fn shape(value: &Value) -> (usize, usize, &Value) {
    let (mut objects, mut arrays, mut node) = (0, 0, value);
    loop {
        match node {
            Value::Object(map) if map.len() == 1 && map.contains_key("k") => {
                objects += 1;
                node = &map["k"];
            }
            Value::Array(items) if items.len() == 1 => {
                arrays += 1;
                node = &items[0];
            }
            _ => return (objects, arrays, node),
        }
    }
}

/// The `(objects, arrays, leaf)` shape of `value`, then `value` dismantled.
fn shape_of(value: Value) -> (usize, usize, String) {
    let (objects, arrays, leaf) = shape(&value);
    let leaf = leaf.to_string();
    dismantle(value);
    (objects, arrays, leaf)
}

/// Removes and returns the member `key` of the object `value` (`null` if absent).
fn take(value: &mut Value, key: &str) -> Value {
    value
        .as_object_mut()
        .and_then(|map| map.remove(key))
        .unwrap_or(Value::Null)
}

/// The reason and pointer length of `result`'s error; an `Ok` value is dismantled (a deep
/// value must not reach `Debug` or `Drop`, which recurse) and gives `None`.
fn error_of(result: Result<Value, metamerge::Unrepresentable>) -> Option<(Reason, usize)> {
    match result {
        Ok(value) => {
            dismantle(value);
            None
        }
        Err(error) => Some((error.reason(), error.pointer().len())),
    }
}

/// The patch, or `{"error": "..."}` naming the error: so that the thread never panics while
/// it holds deep values.
fn patch_of(result: Result<Value, metamerge::Unrepresentable>) -> Value {
    result.unwrap_or_else(|error| json!({ "error": error.to_string() }))
}

#[test]
fn merge_moves_deep_values_in_by_value_and_in_place() {
    let (by_value, in_place) = on_small_stack(|| {
        let mut patch = object("a", arrays(DEPTH, json!(1)));
        patch["b"] = objects(DEPTH, json!({ "x": null, "y": 1 }));
        let mut got = merge(json!({ "a": {}, "b": 0, "c": 3 }), patch);
        let (a, b) = (take(&mut got, "a"), take(&mut got, "b"));
        let by_value = (shape_of(a), shape_of(b), got);

        let mut got = json!({ "b": { "k": 1 } });
        merge_in_place(&mut got, object("a", arrays(DEPTH, json!(2))));
        merge_in_place(&mut got, object("b", objects(DEPTH, json!({ "z": 2 }))));
        let (a, b) = (take(&mut got, "a"), take(&mut got, "b"));
        (by_value, (shape_of(a), shape_of(b), got))
    });
    assert_eq!(by_value.0, (0, DEPTH, "1".to_owned()));
    // The new deep member has its `null`s pruned (RFC 7396 section 2, on a missing member).
    assert_eq!(by_value.1, (DEPTH, 0, r#"{"y":1}"#.to_owned()));
    assert_eq!(by_value.2, json!({ "c": 3 }));
    assert_eq!(in_place.0, (0, DEPTH, "2".to_owned()));
    assert_eq!(in_place.1, (DEPTH, 0, r#"{"z":2}"#.to_owned()));
    assert_eq!(in_place.2, json!({}));
}

#[test]
fn merge_ref_copies_deep_values() {
    let got = on_small_stack(|| {
        let mut patch = object("a", arrays(DEPTH, json!(1)));
        patch["b"] = objects(DEPTH, json!({ "x": null, "y": [2] }));
        let mut target = json!({ "c": 3 });
        merge_ref(&mut target, &patch);
        dismantle(patch);
        let (a, b) = (take(&mut target, "a"), take(&mut target, "b"));
        (shape_of(a), shape_of(b), target)
    });
    assert_eq!(got.0, (0, DEPTH, "1".to_owned()));
    assert_eq!(got.1, (DEPTH, 0, r#"{"y":[2]}"#.to_owned()));
    assert_eq!(got.2, json!({ "c": 3 }));
}

#[test]
fn merge_replaces_and_removes_deep_values() {
    let got = on_small_stack(|| {
        let mut target = object("a", arrays(DEPTH, json!(1)));
        target["b"] = objects(DEPTH, json!(2));
        let replaced = merge(target, json!({ "a": 1, "b": null }));
        let mut in_place = arrays(DEPTH, json!(3));
        merge_in_place(&mut in_place, json!({ "c": 4 }));
        (replaced, in_place)
    });
    assert_eq!(got, (json!({ "a": 1 }), json!({ "c": 4 })));
}

#[test]
fn diff_of_deep_documents() {
    let got = on_small_stack(|| {
        // A deep array sent whole, a deep object patched member by member, a deep object removed.
        let mut old = json!({ "x": 1, "gone": null });
        old["gone"] = objects(DEPTH, json!(0));
        old["deep"] = objects(DEPTH, json!({ "v": 1, "w": 1 }));
        let mut new = object("x", arrays(DEPTH, json!(1)));
        new["deep"] = objects(DEPTH, json!({ "v": 2, "w": 1 }));
        let mut patch = patch_of(diff(&old, &new));
        let (x, deep) = (take(&mut patch, "x"), take(&mut patch, "deep"));
        let shapes = (shape_of(x), shape_of(deep), patch);
        // And back: the removal is `null`, and a deep `null` member has no merge patch.
        let mut back = object("deep", objects(DEPTH, json!({ "v": null })));
        back["x"] = json!(1);
        let error = error_of(diff(&new, &back));
        dismantle(old);
        dismantle(new);
        dismantle(back);
        (shapes, error)
    });
    assert_eq!(got.0 .0, (0, DEPTH, "1".to_owned()));
    assert_eq!(got.0 .1, (DEPTH, 0, r#"{"v":2}"#.to_owned()));
    assert_eq!(got.0 .2, json!({ "gone": null }));
    let pointer = "/deep".len() + "/k".len() * DEPTH + "/v".len();
    assert_eq!(got.1, Some((Reason::NullMember, pointer)));
}

#[test]
fn diff_compares_deep_arrays() {
    let got = on_small_stack(|| {
        let old = object("a", arrays(DEPTH, json!(1)));
        let same = object("a", arrays(DEPTH, json!(1)));
        let new = object("a", arrays(DEPTH, json!(2)));
        let unchanged = patch_of(diff(&old, &same));
        let mut changed = patch_of(diff(&old, &new));
        let a = take(&mut changed, "a");
        dismantle(old);
        dismantle(same);
        dismantle(new);
        (unchanged, shape_of(a), changed)
    });
    assert_eq!(got.0, json!({}));
    assert_eq!(got.1, (0, DEPTH, "2".to_owned()));
    assert_eq!(got.2, json!({}));
}

#[test]
fn compose_of_deep_patches() {
    let got = on_small_stack(|| {
        let mut first = object("a", arrays(DEPTH, json!(1)));
        first["deep"] = objects(DEPTH, json!({ "v": 1, "w": null }));
        let mut second = object("b", objects(DEPTH, json!(2)));
        second["deep"] = objects(DEPTH, json!({ "v": [3] }));
        let mut both = patch_of(compose(&first, &second));
        let parts = ["a", "b", "deep"].map(|key| shape_of(take(&mut both, key)));
        // Removed, then set to an object, 100,000 levels down: no single merge patch.
        let later = object("deep", objects(DEPTH, json!({ "w": { "new": 1 } })));
        let error = error_of(compose(&first, &later));
        dismantle(first);
        dismantle(second);
        dismantle(later);
        (parts, both, error)
    });
    assert_eq!(got.0[0], (0, DEPTH, "1".to_owned()));
    assert_eq!(got.0[1], (DEPTH, 0, "2".to_owned()));
    assert_eq!(got.0[2], (DEPTH, 0, r#"{"v":[3],"w":null}"#.to_owned()));
    assert_eq!(got.1, json!({}));
    let pointer = "/deep".len() + "/k".len() * DEPTH + "/w".len();
    assert_eq!(got.2, Some((Reason::ObjectAfterReplacement, pointer)));
}

/// No `merge` here: under `preserve_order` each removal is `IndexMap::shift_remove`, O(n), so
/// merging a patch with a third of a million removals into a million members takes hours (see
/// the report on `src/value.rs`); `tests/moves.rs` merges a million members.
#[test]
fn diff_and_compose_a_million_members() {
    const N: usize = 1_000_000;
    let name = |i: usize| format!("k{i}");
    let old: Map<String, Value> = (0..N).map(|i| (name(i), Value::from(i))).collect();
    // Every third member removed, every third changed, every third kept, a new one.
    let mut new = Map::new();
    let mut expected = Map::new();
    let mut removals = Map::new();
    for i in 0..N {
        match i % 3 {
            0 => {
                removals.insert(name(i), Value::Null);
            }
            1 => {
                new.insert(name(i), Value::from(i));
            }
            _ => {
                new.insert(name(i), json!("changed"));
                expected.insert(name(i), json!("changed"));
            }
        }
    }
    new.insert("new".to_owned(), json!(true));
    expected.insert("new".to_owned(), json!(true));
    // Changed and new members in the target's order, then the removals (documented order).
    expected.extend(removals);
    let (old, new) = (Value::Object(old), Value::Object(new));

    let patch = diff(&old, &new).expect("a merge patch exists");
    assert!(
        patch == Value::Object(expected),
        "diff(old, new) is not the expected patch"
    );
    assert_eq!(patch.as_object().unwrap().len(), N.div_ceil(3) + N / 3 + 1);

    // And back: the removed members restored, the changed ones changed back, `new` removed.
    let back = diff(&new, &old).expect("a merge patch exists");
    let expected_back: Map<String, Value> = (0..N)
        .filter(|i| i % 3 != 1)
        .map(|i| (name(i), Value::from(i)))
        .chain([("new".to_owned(), Value::Null)])
        .collect();
    assert!(
        back == Value::Object(expected_back),
        "diff(new, old) is not the expected patch"
    );
    // Every member of `patch` is in `back`, with a non-object value: `back` decides each.
    let both = compose(&patch, &back).expect("a merge patch exists");
    assert!(both == back, "compose(patch, back) is not back");
}
