//! The streaming entry points `merge_slice` and `merge_str` against the reference: parse the
//! patch with `serde_json::from_slice`, then `metamerge::merge`. Results are compared as
//! serialized text, which also checks key order under `preserve_order` and number literals
//! under `arbitrary_precision`.
//!
//! The reference rejects exactly what serde_json rejects, plus patches with a duplicate member
//! name in any object (checked by [`Unique`], a plain hash-set walk independent of the crate).
//! Whenever the streaming path fails, the target must be unchanged, text-exact.
#![cfg(feature = "serde_json")]

use std::collections::HashSet;
use std::fmt;

use metamerge::{merge, merge_slice, merge_str, parse_slice, ErrorKind};
use proptest::prelude::*;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};

fn text(value: &Value) -> String {
    serde_json::to_string(value).unwrap()
}

/// Deserializes any JSON and fails on a member name repeated within one object.
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UniqueVisitor;
        impl<'de> Visitor<'de> for UniqueVisitor {
            type Value = Unique;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
                Ok(Unique)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
                Ok(Unique)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
                Ok(Unique)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
                Ok(Unique)
            }
            fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
                Ok(Unique)
            }
            fn visit_unit<E>(self) -> Result<Unique, E> {
                Ok(Unique)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
                while seq.next_element::<Unique>()?.is_some() {}
                Ok(Unique)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
                let mut names = HashSet::new();
                while let Some(name) = map.next_key::<String>()? {
                    if !names.insert(name) {
                        return Err(de::Error::custom("duplicate"));
                    }
                    map.next_value::<Unique>()?;
                }
                Ok(Unique)
            }
        }
        deserializer.deserialize_any(UniqueVisitor)
    }
}

/// The reference result, or `None` when the patch must be rejected.
fn reference(target: &Value, patch: &[u8]) -> Option<Value> {
    let parsed: Value = serde_json::from_slice(patch).ok()?;
    serde_json::from_slice::<Unique>(patch).ok()?;
    Some(merge(target.clone(), parsed))
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Applied,
    Rejected,
}

/// Checks `parse_slice` against its reference: `serde_json::from_slice`, and [`Unique`] for
/// duplicate names. The same value (as text: key order, number literals) or an error.
fn check_parse(json: &[u8]) {
    let shown = String::from_utf8_lossy(json);
    let want = serde_json::from_slice::<Value>(json)
        .ok()
        .filter(|_| serde_json::from_slice::<Unique>(json).is_ok());
    match (parse_slice(json), want) {
        (Ok(got), Some(want)) => assert_eq!(text(&got), text(&want), "parse_slice: {shown}"),
        (Err(err), None) => {
            assert!(err.line() >= 1, "parse_slice: no line in {err}");
            // Valid JSON is rejected only for a duplicate, which is named. (Invalid JSON may
            // be rejected for a duplicate met before the syntax error.)
            if serde_json::from_slice::<Value>(json).is_ok() {
                assert_eq!(err.kind(), ErrorKind::DuplicateKey, "parse_slice: {shown}");
            }
            assert_eq!(
                err.kind() == ErrorKind::DuplicateKey,
                err.duplicate_key().is_some(),
                "parse_slice: {shown}: {err}"
            );
        }
        (Ok(got), None) => panic!("parse_slice: accepted invalid {shown}: got {got}"),
        (Err(err), Some(_)) => panic!("parse_slice: rejected valid {shown} ({err})"),
    }
}

/// Runs `patch` through `merge_slice` (and `merge_str` when it is UTF-8) and checks the
/// result against [`reference`]: the same text on success, the target untouched on failure.
/// Also checks `parse_slice` on the same bytes ([`check_parse`]).
fn check(target: &Value, patch: &[u8]) -> Outcome {
    check_parse(patch);
    let want = reference(target, patch);
    let mut outcome = None;
    let mut runs = Vec::new();
    let mut got = target.clone();
    runs.push(("merge_slice", merge_slice(&mut got, patch), got));
    if let Ok(patch) = std::str::from_utf8(patch) {
        let mut got = target.clone();
        runs.push(("merge_str", merge_str(&mut got, patch), got));
    }
    for (name, result, got) in runs {
        let shown = String::from_utf8_lossy(patch);
        match (&result, &want) {
            (Ok(()), Some(want)) => {
                assert_eq!(&got, want, "{name}: target {target}, patch {shown}");
                assert_eq!(
                    text(&got),
                    text(want),
                    "{name}: target {target}, patch {shown}"
                );
                outcome = Some(Outcome::Applied);
            }
            (Err(err), None) => {
                assert_eq!(
                    text(&got),
                    text(target),
                    "{name}: target changed by rejected patch {shown} ({err})"
                );
                assert!(err.line() >= 1, "{name}: no line in {err}");
                outcome = Some(Outcome::Rejected);
            }
            (Ok(()), None) => panic!("{name}: accepted invalid patch {shown}: got {got}"),
            (Err(err), Some(want)) => {
                panic!("{name}: rejected valid patch {shown} ({err}), want {want}")
            }
        }
    }
    outcome.unwrap()
}

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/merge.json");
    let text = std::fs::read_to_string(path).unwrap();
    let vectors: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(
        vectors.len() > 100,
        "{path}: only {} vectors",
        vectors.len()
    );
    vectors
}

/// A membership's metadata and a patch that does everything the rule can do to it: replace,
/// remove, add, merge nested objects, turn a string into an object, build a new nested object
/// with nulls to prune, and replace arrays. Under `preserve_order` the removals and additions
/// also move positions, which a rollback must restore.
fn metadata_case() -> (Value, String) {
    let target = json!({
        "role": "admin",
        "theme": { "color": "red", "font": "serif", "sizes": [1, 2], "dark": { "bg": "#000" } },
        "plan": "pro",
        "flags": null,
        "limits": { "seats": { "max": 10, "used": 3 } },
        "tags": ["a", "b"],
        "note": "x"
    });
    let patch = r#"{
  "theme": { "font": null, "accent": "blue", "dark": { "bg": null, "fg": [1, { "z": null }] } },
  "role": null,
  "new": { "p": { "q": null, "r": 2 }, "s": "\u00e9" },
  "plan": { "name": "team", "seats": 5 },
  "limits": { "seats": { "used": 4, "extra": true } },
  "tags": [],
  "big": 18446744073709551616,
  "neg": -0.0,
  "fl\"ag": false
}"#;
    (target, patch.to_owned())
}

#[test]
fn vector_suite_through_merge_slice_and_merge_str() {
    let mut failures = Vec::new();
    let vectors = vectors();
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap();
        let target = &vector["target"];
        let expected = &vector["expected"];
        let ordered = vector.get("ordered") == Some(&Value::Bool(true));
        for patch in [
            serde_json::to_string(&vector["patch"]).unwrap(),
            serde_json::to_string_pretty(&vector["patch"]).unwrap(),
        ] {
            // Against parse-then-merge, text-exact.
            assert_eq!(check(target, patch.as_bytes()), Outcome::Applied, "{name}");
            // And against the vector's expected result, as tests/vectors.rs checks `merge`.
            let mut got = target.clone();
            merge_slice(&mut got, patch.as_bytes()).unwrap();
            if &got != expected
                || (text(&got) != text(expected) && (ordered || !cfg!(feature = "preserve_order")))
            {
                failures.push(format!("{name}: expected {expected}, got {got}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn metadata_case_applies_like_merge() {
    let (target, patch) = metadata_case();
    assert_eq!(check(&target, patch.as_bytes()), Outcome::Applied);
    let mut got = target.clone();
    merge_str(&mut got, &patch).unwrap();
    assert_eq!(got["new"], json!({ "p": { "r": 2 }, "s": "é" }));
    assert_eq!(got["plan"], json!({ "name": "team", "seats": 5 }));
    assert_eq!(got["theme"]["dark"], json!({ "fg": [1, { "z": null }] }));
}

/// Every prefix of every valid patch: either it is itself a valid patch (a number cut short)
/// and applies like the reference, or it is rejected and the target is unchanged.
#[test]
fn truncated_patches_leave_target_unchanged() {
    let (meta_target, meta_patch) = metadata_case();
    let mut cases = vec![
        (meta_target.clone(), meta_patch),
        (
            json!([1, 2]),
            r#"{"a":{"b":1},"c":null,"d":[{"e":null}]}"#.to_owned(),
        ),
        (json!("s"), r#"{"a":1}"#.to_owned()),
        (meta_target, r#"  [1, {"a": null}, "x"]  "#.to_owned()),
    ];
    for vector in vectors() {
        cases.push((
            vector["target"].clone(),
            serde_json::to_string(&vector["patch"]).unwrap(),
        ));
    }
    let mut rejected = 0;
    for (target, patch) in &cases {
        let bytes = patch.as_bytes();
        for end in 0..bytes.len() {
            rejected += usize::from(check(target, &bytes[..end]) == Outcome::Rejected);
        }
        // Trailing characters are only noticed after the whole patch has been applied.
        let mut trailing = bytes.to_vec();
        trailing.extend_from_slice(b" x");
        assert_eq!(check(target, &trailing), Outcome::Rejected);
    }
    assert!(rejected > 1000, "only {rejected} prefixes rejected");
}

/// Every single-byte corruption of the metadata patch and of each vector's patch: whatever
/// the outcome, it matches the reference, and a rejection leaves the target unchanged.
#[test]
fn corrupted_patches_leave_target_unchanged_or_match_reference() {
    const BYTES: &[u8] = b"{}[]\":,n1x\\ -e.\xff";
    let (meta_target, meta_patch) = metadata_case();
    let mut cases = vec![(meta_target, meta_patch)];
    for vector in vectors() {
        cases.push((
            vector["target"].clone(),
            serde_json::to_string(&vector["patch"]).unwrap(),
        ));
    }
    let (mut applied, mut rejected) = (0, 0);
    for (target, patch) in &cases {
        for at in 0..patch.len() {
            for &byte in BYTES {
                let mut bytes = patch.as_bytes().to_vec();
                bytes[at] = byte;
                match check(target, &bytes) {
                    Outcome::Applied => applied += 1,
                    Outcome::Rejected => rejected += 1,
                }
            }
        }
    }
    assert!(
        applied > 100 && rejected > 1000,
        "{applied} applied, {rejected} rejected"
    );
}

#[test]
fn duplicate_keys_are_rejected_with_key_and_position() {
    let target = json!({ "a": 0, "x": { "b": 0 }, "keep": [1] });
    let many: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
    let cases: Vec<(String, &str, usize, usize)> = vec![
        (r#"{"a":1,"a":null}"#.into(), "a", 1, 10),
        (
            "{\n  \"x\": {\n    \"b\": 1,\n    \"b\": 2\n  }\n}".into(),
            "b",
            4,
            7,
        ),
        // In an object the patch creates, where the first one was a null that is pruned.
        (r#"{"new":{"k":null,"k":1}}"#.into(), "k", 1, 20),
        // In objects the patch creates, where the repeat is noticed as the value is stored.
        (r#"{"new":{"k":1,"k":null}}"#.into(), "k", 1, 17),
        (r#"{"new":{"k":1,"k":2}}"#.into(), "k", 1, 17),
        (r#"{"new":{"o":{},"o":{}}}"#.into(), "o", 1, 18),
        // Under a member that was not an object (`"a": 0` becomes `{}` first).
        (r#"{"a":{"k":1,"k":2}}"#.into(), "k", 1, 15),
        // Inside arrays, where the patch value is built whole.
        (r#"{"keep":[{"k":1,"k":2}]}"#.into(), "k", 1, 19),
        (r#"[{"a":1,"a":1}]"#.into(), "a", 1, 11),
        // The same name written with an escape.
        (r#"{"a":1,"\u0061":2}"#.into(), "a", 1, 15),
        // Past the size where the check switches from a scan to a hash set.
        (format!("{{{many}\"k3\":0}}"), "k3", 1, many.len() + 5),
    ];
    for (patch, key, line, column) in cases {
        let mut got = target.clone();
        let err = merge_str(&mut got, &patch).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DuplicateKey, "{patch}: {err}");
        assert_eq!(err.duplicate_key(), Some(key), "{patch}");
        assert!(
            err.to_string()
                .contains(&format!("duplicate key \"{key}\"")),
            "{err}"
        );
        assert_eq!((err.line(), err.column()), (line, column), "{patch}: {err}");
        assert_eq!(text(&got), text(&target), "{patch}");
        assert_eq!(reference(&target, patch.as_bytes()), None);
        // `parse_slice` names and places it the same way, as a document's duplicate.
        let err = parse_slice(patch.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DuplicateKey, "{patch}: {err}");
        assert_eq!(err.duplicate_key(), Some(key), "{patch}");
        assert!(
            err.to_string()
                .starts_with(&format!("duplicate key \"{key}\" in a JSON object")),
            "{err}"
        );
        assert_eq!((err.line(), err.column()), (line, column), "{patch}: {err}");
    }
    // A target that is not an object becomes `{}`, which the patch then fills.
    let mut scalar = json!([1]);
    let err = merge_str(&mut scalar, r#"{"k":1,"k":2}"#).unwrap_err();
    assert_eq!(
        (err.duplicate_key(), err.line(), err.column()),
        (Some("k"), 1, 10)
    );
    assert_eq!(scalar, json!([1]));
    // Equal names in different objects are fine.
    let mut got = target.clone();
    merge_str(
        &mut got,
        r#"{"a":{"a":{"a":1}},"x":{"a":null,"b":{"a":2}}}"#,
    )
    .unwrap();
    assert_eq!(got["x"], json!({ "b": { "a": 2 } }));
}

#[test]
fn errors_carry_kind_line_and_column() {
    let target = json!({ "a": { "b": 1 } });
    let cases: &[(&[u8], ErrorKind, usize, usize)] = &[
        (b"{\n  \"a\": { \"b\": tru }\n}", ErrorKind::Syntax, 2, 18),
        (b"{\"a\": {\"b\": 2}", ErrorKind::Eof, 1, 14),
        (b"", ErrorKind::Eof, 1, 0),
        (b"{\"a\": 1} {}", ErrorKind::Syntax, 1, 10),
        (b"{\"a\": 1,}", ErrorKind::Syntax, 1, 9),
        (b"{\"a\": \"\xff\"}", ErrorKind::Syntax, 1, 8),
        (b"{\"a\": [1, 2 3]}", ErrorKind::Syntax, 1, 13),
        (b"{1: 2}", ErrorKind::Syntax, 1, 2),
    ];
    for &(patch, kind, line, column) in cases {
        let mut got = target.clone();
        let err = merge_slice(&mut got, patch).unwrap_err();
        let shown = String::from_utf8_lossy(patch);
        assert_eq!(
            (err.kind(), err.line(), err.column()),
            (kind, line, column),
            "{shown}: {err}"
        );
        assert!(err
            .to_string()
            .ends_with(&format!("at line {line} column {column}")));
        assert_eq!(err.duplicate_key(), None);
        assert_eq!(got, target, "{shown}");
    }
}

/// Whether serde_json keeps number literals in this build (`arbitrary_precision`, ours or
/// turned on by another crate).
fn literal_numbers() -> bool {
    serde_json::from_str::<Value>("1e400").is_ok()
}

#[test]
fn number_out_of_range_is_an_error_without_arbitrary_precision() {
    if literal_numbers() {
        return;
    }
    let target = json!({ "a": { "b": 1 } });
    let mut got = target.clone();
    let err = merge_str(&mut got, r#"{"a": {"b": null}, "c": 1e400}"#).unwrap_err();
    assert_eq!(
        (err.kind(), err.line(), err.column()),
        (ErrorKind::Syntax, 1, 29)
    );
    assert!(err.to_string().contains("number out of range"), "{err}");
    assert_eq!(got, target);
}

/// With `arbitrary_precision`, numbers come out as serde_json's `from_slice` keeps them:
/// digits exactly as written (it only normalizes the exponent to `e+`/`e-`).
#[test]
fn number_literals_are_kept_with_arbitrary_precision() {
    if !literal_numbers() {
        return;
    }
    let target = json!({ "a": { "b": 1 }, "n": 0 });
    let patch = r#"{"a":{"b":18446744073709551616,"c":[1e400,-0.0,1.50]},"n":-0.0,"new":{"x":1E+2},"m":1e400}"#;
    assert_eq!(check(&target, patch.as_bytes()), Outcome::Applied);
    let mut got = target.clone();
    merge_str(&mut got, patch).unwrap();
    let expected = if cfg!(feature = "preserve_order") {
        r#"{"a":{"b":18446744073709551616,"c":[1e+400,-0.0,1.50]},"n":-0.0,"new":{"x":1e+2},"m":1e+400}"#
    } else {
        r#"{"a":{"b":18446744073709551616,"c":[1e+400,-0.0,1.50]},"m":1e+400,"n":-0.0,"new":{"x":1e+2}}"#
    };
    assert_eq!(text(&got), expected);
    for (root, written) in [
        ("18446744073709551616", "18446744073709551616"),
        ("-0.0", "-0.0"),
        ("1e400", "1e+400"),
    ] {
        let mut got = target.clone();
        merge_str(&mut got, root).unwrap();
        assert_eq!(text(&got), written);
    }
}

/// serde_json passes numbers through serde as one-member maps under `arbitrary_precision`;
/// a patch that spells such a map out must come out as `from_slice` reads it in every build.
#[test]
fn serde_json_marker_keys_match_from_slice() {
    let target = json!({ "a": 1 });
    for patch in [
        r#"{"$serde_json::private::Number":"12"}"#,
        r#"{"a":{"$serde_json::private::Number":"12"}}"#,
        r#"{"a":[{"$serde_json::private::Number":"12"}]}"#,
        r#"{"$serde_json::private::RawValue":"12"}"#,
    ] {
        check(&target, patch.as_bytes());
    }
}

/// serde_json stops at 128 levels; a patch 10,000 levels deep is an error, not a crash, and
/// the levels already applied (here: new objects under an existing one) are undone.
#[test]
fn deep_patches_are_rejected_cleanly() {
    let target = json!({ "a": { "a": { "b": 1 } }, "z": 0 });
    let depth = 10_000;
    let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let arrays = format!(
        "{{\"z\":null,\"a\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let mixed = format!("{}{}", "{\"a\":[".repeat(depth / 2), "]}".repeat(depth / 2));
    for patch in [objects, arrays, mixed] {
        let mut got = target.clone();
        let err = merge_str(&mut got, &patch).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Syntax);
        assert!(
            err.to_string().contains("recursion limit exceeded"),
            "{err}"
        );
        assert_eq!(text(&got), text(&target));
    }
    // 100 levels is within the limit.
    let patch = format!("{}null{}", "{\"a\":".repeat(100), "}".repeat(100));
    assert_eq!(check(&target, patch.as_bytes()), Outcome::Applied);
}

fn key() -> impl Strategy<Value = String> {
    // Few names, so that patches hit existing members; one needs escaping, one is not ASCII.
    prop::sample::select(vec!["a", "b", "c", "d", "é", "q\"t", ""]).prop_map(String::from)
}

fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        3 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => (-1e30f64..1e30).prop_map(Value::from),
        2 => "[a-z\"\\\\é\n]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 48, 5, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            3 => prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn agrees_with_parse_then_merge(
        target in json_value(4),
        patch in json_value(4),
        pretty in any::<bool>(),
    ) {
        let bytes = if pretty {
            serde_json::to_vec_pretty(&patch).unwrap()
        } else {
            serde_json::to_vec(&patch).unwrap()
        };
        prop_assert_eq!(check(&target, &bytes), Outcome::Applied);
    }

    #[test]
    fn truncated_generated_patches_change_nothing(
        target in json_value(3),
        patch in json_value(3),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = serde_json::to_vec(&patch).unwrap();
        check(&target, &bytes[..cut.index(bytes.len())]);
    }
}

/// `merge_slice` and `parse_slice` check UTF-8 once up front and read valid input as text; input
/// that is not UTF-8 must still fail exactly where and as `serde_json::from_slice` fails,
/// whether the bad byte comes before or after a syntax error, in a name or in a value.
#[test]
fn not_utf8_fails_as_from_slice_does() {
    let cases: &[&[u8]] = &[
        b"{\"a\": \"\xff\"}",
        b"{\"\xc3\": 1}",
        b"{\"a\": 1,, \"b\": \"\xff\"}",
        b"{\"a\": \"\xff\", \"b\": tru}",
        b"[\"ok\", \"\xed\xa0\x80\"]",
        b"{\"a\": {\"b\": [1, \"x\xf0\x9f\x98\"]}}",
        b"\xff",
        b"{\"a\": 1} \xff",
    ];
    for &patch in cases {
        let shown = String::from_utf8_lossy(patch);
        let want = serde_json::from_slice::<Value>(patch).unwrap_err();
        let mut target = json!({ "a": { "b": 1 } });
        let err = merge_slice(&mut target, patch).unwrap_err();
        assert_eq!(
            (err.line(), err.column(), err.to_string()),
            (want.line(), want.column(), want.to_string()),
            "merge_slice: {shown}"
        );
        assert_eq!(target, json!({ "a": { "b": 1 } }), "{shown}");
        let err = parse_slice(patch).unwrap_err();
        assert_eq!(
            (err.line(), err.column(), err.to_string()),
            (want.line(), want.column(), want.to_string()),
            "parse_slice: {shown}"
        );
    }
}
