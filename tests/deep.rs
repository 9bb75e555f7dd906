//! Nesting depth costs heap, not native stack: a patch nested 100,000 levels deep merges into a
//! target nested 100,000 levels deep on a thread with a 2 MiB stack.
//!
//! serde_json's own `Drop`, `Clone`, `PartialEq` and serializer recurse per level, so this test
//! builds, inspects and drops deep values iteratively, and never compares them with `==`.

mod common;

use common::{dismantle, on_small_stack};
use serde_json::{json, Map, Value};

const DEPTH: usize = 100_000;

/// `{"k": {"k": ... leaf ...}}` with `depth` objects, built from the inside out.
fn nested(depth: usize, leaf: Value) -> Value {
    let mut value = leaf;
    for _ in 0..depth {
        let mut map = Map::new();
        map.insert("k".to_owned(), value);
        value = Value::Object(map);
    }
    value
}

/// Follows the `"k"` chain down from `value`; returns how many objects it passed and the
/// innermost object (the one without a `"k"` member, or whose `"k"` is not an object).
fn descend(value: &Value) -> (usize, &Value) {
    let mut depth = 0;
    let mut node = value;
    while let Some(next) = node.get("k").filter(|next| next.is_object()) {
        node = next;
        depth += 1;
    }
    (depth, node)
}

/// Checks that `value` is a `"k"` chain of `depth` objects ending in `inner`, then drops it
/// iteratively, before any panic (unwinding would drop the deep value recursively).
fn check_and_dismantle(value: Value, depth: usize, inner: Value) {
    let (got_depth, got_inner) = descend(&value);
    let ok = got_depth == depth && *got_inner == inner;
    let report = format!(
        "expected depth {depth} ending in {inner}, got depth {got_depth} ending in {got_inner}"
    );
    dismantle(value);
    assert!(ok, "{report}");
}

#[test]
fn deep_patch_into_deep_target_by_value() {
    on_small_stack(|| {
        let target = nested(DEPTH, json!({ "x": 1, "keep": true }));
        let patch = nested(DEPTH, json!({ "x": null, "y": [1, 2] }));
        let merged = metamerge::merge(target, patch);
        check_and_dismantle(merged, DEPTH, json!({ "keep": true, "y": [1, 2] }));
    });
}

#[test]
fn deep_patch_into_deep_target_in_place_and_by_reference() {
    on_small_stack(|| {
        let mut in_place = nested(DEPTH, json!({ "x": 1 }));
        metamerge::merge_in_place(&mut in_place, nested(DEPTH, json!({ "x": 2 })));
        check_and_dismantle(in_place, DEPTH, json!({ "x": 2 }));

        let mut by_ref = nested(DEPTH, json!({ "x": 1 }));
        let patch = nested(DEPTH, json!({ "x": 3, "z": {} }));
        metamerge::merge_ref(&mut by_ref, &patch);
        dismantle(patch);
        check_and_dismantle(by_ref, DEPTH, json!({ "x": 3, "z": {} }));
    });
}

#[test]
fn deep_new_subtree_has_its_nulls_pruned() {
    on_small_stack(|| {
        let patch = nested(DEPTH, json!({ "gone": null, "kept": 1 }));
        // Not `json!({ "new": patch })`: the macro serializes an expression, recursively.
        let mut wrapper = Map::new();
        wrapper.insert("new".to_owned(), patch);
        let mut merged = metamerge::merge(json!({ "other": 0 }), Value::Object(wrapper));
        let new = merged["new"].take();
        assert_eq!(merged, json!({ "other": 0, "new": null }));
        check_and_dismantle(new, DEPTH, json!({ "kept": 1 }));
    });
}

#[test]
fn deep_removal_through_the_whole_chain() {
    on_small_stack(|| {
        // The patch walks 100,000 levels down and removes the innermost member only.
        let target = nested(DEPTH, json!({ "k": "leaf" }));
        let patch = nested(DEPTH, json!({ "k": null }));
        let merged = metamerge::merge(target, patch);
        check_and_dismantle(merged, DEPTH, json!({}));
    });
}
