//! The rule recurses natively for the first levels of a patch and walks deeper levels with an
//! explicit stack (`src/rule.rs`). These cases straddle that boundary: at every level of a
//! nested patch there is a replacement, a removal, a new member, a new object holding a `null`
//! and a member that turns a scalar into an object, and all three entry points must agree with
//! the recursive reference model of RFC 7396.

mod common;

use common::{reference, text};
use serde_json::{json, Map, Value};

/// A target nested `depth` levels through `"next"`, with members the patch touches at every
/// level.
fn target(depth: usize) -> Value {
    let mut value = json!({ "leaf": true });
    for level in (0..depth).rev() {
        value = json!({
            "next": value,
            "keep": level,
            "replace": "old",
            "remove": [level],
            "scalar": 1,
        });
    }
    value
}

/// A patch nested `depth` levels through `"next"`, doing one of everything at every level (the
/// test passes the target's depth plus `extra`, so that it reaches below the target).
fn patch(depth: usize) -> Value {
    let mut value = json!({ "leaf": null, "added_leaf": 0 });
    for level in (0..depth).rev() {
        let mut object = Map::new();
        object.insert("next".into(), value);
        object.insert("replace".into(), json!(level));
        object.insert("remove".into(), Value::Null);
        object.insert("absent".into(), Value::Null);
        object.insert(
            "added".into(),
            json!({ "x": level, "gone": null, "deep": { "n": null } }),
        );
        object.insert("scalar".into(), json!({ "now": "object", "not": null }));
        value = Value::Object(object);
    }
    value
}

#[test]
fn every_entry_point_agrees_with_the_reference_around_the_recursion_depth() {
    for depth in [1, 2, 62, 63, 64, 65, 66, 100, 150] {
        for extra in [0, 1, 5] {
            let target = target(depth);
            let patch = patch(depth + extra);
            let expected = text(&reference(&target, &patch));
            for (name, merged) in ["merge", "merge_in_place", "merge_ref"]
                .iter()
                .zip(common::all_variants(&target, &patch))
            {
                assert_eq!(text(&merged), expected, "{name} at depth {depth} + {extra}");
            }
        }
    }
}
