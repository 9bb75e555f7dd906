//! Properties of the merge rule, checked with proptest against the plain recursive reference
//! model of RFC 7396 section 2 in `tests/common`, written independently of `src/rule.rs`.

use proptest::prelude::*;
mod common;

use common::*;
use serde_json::{Map, Value};

/// Any JSON value, with a small key alphabet so that patch and target keys collide often,
/// and with `null` common enough to exercise removal at every level.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        2 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => (-3i64..1000).prop_map(Value::from),
        1 => prop_oneof![Just("x"), Just("y"), Just(""), Just("é")].prop_map(Value::from),
        1 => number_literal(),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            3 => prop::collection::vec((key(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Number literals that only survive exactly under `arbitrary_precision` (without it they are
/// read as the nearest `f64`, or skipped when out of range).
fn number_literal() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just("18446744073709551616"),
        Just("-0.0"),
        Just("1e400"),
        Just("9007199254740993"),
        Just("0.1000000000000000055511151231257827"),
    ]
    .prop_map(|literal| serde_json::from_str(literal).unwrap_or(Value::Null))
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a"),
        Just("b"),
        Just("c"),
        Just("d"),
        Just("A"),
        Just(""),
        Just("__proto__"),
    ]
    .prop_map(String::from)
}

fn object() -> impl Strategy<Value = Value> {
    prop::collection::vec((key(), json()), 0..6)
        .prop_map(|members| Value::Object(members.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_reference_model(target in json(), patch in json()) {
        let expected = reference(&target, &patch);
        for got in all_variants(&target, &patch) {
            prop_assert_eq!(&got, &expected);
            prop_assert_eq!(text(&got), text(&expected));
        }
    }

    #[test]
    fn agrees_with_reference_model_on_objects(target in object(), patch in object()) {
        let expected = reference(&target, &patch);
        for got in all_variants(&target, &patch) {
            prop_assert_eq!(text(&got), text(&expected));
        }
    }

    #[test]
    fn idempotent(target in json(), patch in json()) {
        let once = metamerge::merge(target, patch.clone());
        let twice = metamerge::merge(once.clone(), patch);
        prop_assert_eq!(text(&twice), text(&once));
    }

    #[test]
    fn empty_patch_is_identity_on_objects(target in object()) {
        let patch = Value::Object(Map::new());
        for got in all_variants(&target, &patch) {
            prop_assert_eq!(text(&got), text(&target));
        }
    }

    #[test]
    fn keys_set_to_null_are_absent(target in json(), patch in object()) {
        for got in all_variants(&target, &patch) {
            assert_nulls_removed(&got, &patch, "");
        }
    }

    #[test]
    fn variants_agree(target in json(), patch in json()) {
        let [by_value, in_place, by_ref] = all_variants(&target, &patch);
        prop_assert_eq!(text(&by_value), text(&in_place));
        prop_assert_eq!(text(&by_value), text(&by_ref));
    }

    #[test]
    fn non_object_patch_replaces_whole_target(target in json(), patch in json().prop_filter("non-object", |p| !p.is_object())) {
        for got in all_variants(&target, &patch) {
            prop_assert_eq!(text(&got), text(&patch));
        }
    }
}

#[cfg(feature = "preserve_order")]
proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn key_order_rules_hold(target in object(), patch in object()) {
        for got in all_variants(&target, &patch) {
            assert_order(&target, &patch, &got, "");
        }
    }
}

/// The order checker itself must reject a wrong order, or the property above proves nothing.
#[cfg(feature = "preserve_order")]
#[test]
#[should_panic(expected = "key order")]
fn order_checker_rejects_swap_remove_order() {
    let target: Value = serde_json::from_str(r#"{"a":1,"b":2,"c":3,"d":4}"#).unwrap();
    let patch: Value = serde_json::from_str(r#"{"b":null}"#).unwrap();
    let swapped: Value = serde_json::from_str(r#"{"a":1,"d":4,"c":3}"#).unwrap();
    assert_order(&target, &patch, &swapped, "");
}
