//! `diff`: the laws documented on `metamerge::diff`, as `tests/algebra_laws.rs` checks them
//! with proptest, on fuzzed documents `a` and `b`:
//!
//! - it fails exactly when `b` holds a `null` object member where `a` does not hold `null`
//!   (checked against `common::laws::unmatched_null`, written independently), with reason
//!   `NullMember` and a pointer naming such a member;
//! - when it succeeds, `merge(a, diff(a, b)?) == b`, by all three merge functions;
//! - minimality: dropping any one object member of the patch, at any depth, gives a patch
//!   that no longer yields `b` (checked when the patch has at most [`MINIMALITY_LIMIT`]
//!   object members: the check merges once per member);
//! - `diff(a, a)` succeeds, with `{}` for an object `a` and `a` itself otherwise.
//!
//! Input: `A NUL B` as JSON text, or bytes for the generator (see `src/lib.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use metamerge::{diff, merge, Reason};
use metamerge_fuzz::common::{all_variants, laws};
use metamerge_fuzz::{documents, related_pair};
use serde_json::{json, Value};

/// The largest patch (in object members at any depth) checked for minimality.
const MINIMALITY_LIMIT: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some(documents) = documents(data, 2, 2, related_pair) else {
        return;
    };
    let [a, b] = <[Value; 2]>::try_from(documents).expect("two documents");
    let case = format!("a = {a}\nb = {b}");
    let expect_failure = laws::unmatched_null(Some(&a), &b);
    match diff(&a, &b) {
        Ok(patch) => {
            assert!(
                !expect_failure,
                "diff gave {patch} for an unmatched null on\n{case}"
            );
            for got in all_variants(&a, &patch) {
                assert!(got == b, "merge(a, {patch}) gave {got} on\n{case}");
            }
            if laws::object_members(&patch) <= MINIMALITY_LIMIT {
                for smaller in laws::with_one_member_dropped(&patch) {
                    let got = merge(a.clone(), smaller.clone());
                    assert!(
                        got != b,
                        "{smaller}, smaller than {patch}, also works on\n{case}"
                    );
                }
            }
        }
        Err(error) => {
            assert!(expect_failure, "diff failed ({error}) on\n{case}");
            assert_eq!(error.reason(), Reason::NullMember, "on\n{case}");
            let at = laws::names(error.pointer());
            assert!(!at.is_empty(), "the root is never a null member: {case}");
            assert_eq!(
                laws::member(&b, &at),
                Some(&Value::Null),
                "{error} on\n{case}"
            );
            assert_ne!(
                laws::member(&a, &at),
                Some(&Value::Null),
                "{error} on\n{case}"
            );
        }
    }
    // A document's `null` members are matched by themselves.
    let same = diff(&a, &a).unwrap_or_else(|error| panic!("diff(a, a): {error} on\n{case}"));
    let expected = if a.is_object() { json!({}) } else { a.clone() };
    assert_eq!(same, expected, "diff(a, a) on\n{case}");
});
