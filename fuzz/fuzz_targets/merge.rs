//! `merge` (and `merge_in_place`, `merge_ref`): checks the result against the reference model
//! of RFC 7396 section 2 and the rule's invariants (the same checkers the proptest properties
//! use, from `tests/common`): `null` members of the patch are gone, key order follows the
//! order rule, merging the same patch twice changes nothing, `{}` is the identity on objects.
//!
//! Input: `TARGET NUL PATCH` as JSON text, or bytes for the generator (see `src/lib.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use metamerge_fuzz::{common, documents, several};
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Some(documents) = documents(data, 2, 2, |u| several(u, 2)) else {
        return;
    };
    let [target, patch] = <[Value; 2]>::try_from(documents).expect("two documents");
    let case = format!("target = {target}\npatch = {patch}");
    let expected = common::reference(&target, &patch);
    let variants = common::all_variants(&target, &patch);
    for got in &variants {
        assert_eq!(
            common::text(got),
            common::text(&expected),
            "disagrees with the reference model on\n{case}"
        );
        common::assert_nulls_removed(got, &patch, "");
        common::assert_order(&target, &patch, got, "");
    }
    let twice = metamerge::merge(variants[0].clone(), patch.clone());
    assert_eq!(
        common::text(&twice),
        common::text(&variants[0]),
        "not idempotent on\n{case}"
    );
    if target.is_object() {
        let same = metamerge::merge(target.clone(), Value::Object(Map::new()));
        assert_eq!(
            common::text(&same),
            common::text(&target),
            "{{}} is not the identity on\n{case}"
        );
    }
});
