//! The spec as data: every vector in `tests/vectors/*.json` is run by the drivers below.
//! Adding a case means adding an entry to a JSON file, not code.
//!
//! `merge.json`: `{name, source, target, patch, expected, ordered?, note?}`. Each vector runs
//! through all three entry points (`merge`, `merge_in_place`, `merge_ref`); vectors marked
//! `"ordered": true` also fix the key order, checked when the map keeps order
//! (`preserve_order`). Results are also compared as serialized text, so number literals must
//! come out exactly as written under `arbitrary_precision`.
//!
//! `diff.json`: `{name, source, original, modified, patch, roundtrip?, applied_result?, note?}`.
//! `diff(original, modified)` must be `patch` and merge back to `modified`. Vectors marked
//! `"roundtrip": false` have no merge patch: `diff` must fail with a pointer to a `null` member
//! of `modified`, and their `patch` (what other generators emit) must merge to
//! `applied_result` instead of `modified`.
//!
//! `compose.json`: `{name, source, patch1, patch2, composed, equivalent_to_sequential_apply,
//! counterexample_document?, sequential_result?, composed_result?, note?}`. When equivalent,
//! `compose(patch1, patch2)` must be `composed` and act like `patch1` then `patch2` on a set of
//! probe documents. Otherwise `compose` must fail with a pointer to where `patch2` holds an
//! object and `patch1` a non-object; `composed` (what other libraries return) must give
//! `composed_result` on `counterexample_document`, where `patch1` then `patch2` give
//! `sequential_result`, and the two must differ.

use metamerge::{compose, diff, merge, Reason};
use serde_json::{json, Value};

fn load(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let vectors: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(!vectors.is_empty(), "{path} holds no vectors");
    vectors
}

fn field<'a>(vector: &'a Value, name: &str) -> &'a Value {
    vector
        .get(name)
        .unwrap_or_else(|| panic!("vector {} has no `{name}`", vector["name"]))
}

/// Text form used to compare results: exact number literals under `arbitrary_precision`, and
/// key order under `preserve_order` (otherwise keys are sorted by the `BTreeMap` on both sides).
fn text(value: &Value) -> String {
    serde_json::to_string(value).unwrap()
}

#[test]
fn merge_vectors() {
    let vectors = load("merge.json");
    let mut failures = Vec::new();
    let mut ordered = 0;
    for vector in &vectors {
        let name = field(vector, "name").as_str().unwrap();
        let target = field(vector, "target");
        let patch = field(vector, "patch");
        let expected = field(vector, "expected");
        let check_order = vector.get("ordered") == Some(&Value::Bool(true));
        ordered += usize::from(check_order);

        let by_value = metamerge::merge(target.clone(), patch.clone());
        let mut in_place = target.clone();
        metamerge::merge_in_place(&mut in_place, patch.clone());
        let mut by_ref = target.clone();
        metamerge::merge_ref(&mut by_ref, patch);

        for (variant, got) in [
            ("merge", &by_value),
            ("merge_in_place", &in_place),
            ("merge_ref", &by_ref),
        ] {
            if got != expected {
                failures.push(format!(
                    "{name} [{variant}]: expected {expected}, got {got}"
                ));
            } else if text(got) != text(expected)
                && (check_order || !cfg!(feature = "preserve_order"))
            {
                failures.push(format!(
                    "{name} [{variant}]: equal values but text differs: expected {}, got {}",
                    text(expected),
                    text(got)
                ));
            }
        }
    }
    assert!(ordered > 0, "no vector checks key order");
    assert!(
        failures.is_empty(),
        "{} of {} merge vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

fn flag(vector: &Value, name: &str) -> Option<bool> {
    vector.get(name).map(|value| {
        value
            .as_bool()
            .unwrap_or_else(|| panic!("vector {}: `{name}` is not a boolean", vector["name"]))
    })
}

#[test]
fn diff_vectors() {
    let vectors = load("diff.json");
    let mut failures = Vec::new();
    let mut unrepresentable = 0;
    for vector in &vectors {
        let name = field(vector, "name").as_str().unwrap();
        let original = field(vector, "original");
        let modified = field(vector, "modified");
        let patch = field(vector, "patch");
        let vector_applied = merge(original.clone(), patch.clone());

        if flag(vector, "roundtrip") == Some(false) {
            unrepresentable += 1;
            // The vector's own patch, the one other generators emit, does something else.
            if let Some(applied) = vector.get("applied_result") {
                if &vector_applied != applied {
                    failures.push(format!(
                        "{name}: the vector's patch gives {vector_applied}, not applied_result {applied}"
                    ));
                }
            }
            if &vector_applied == modified {
                failures.push(format!(
                    "{name}: marked roundtrip false but its patch round-trips"
                ));
            }
            match diff(original, modified) {
                Ok(got) => failures.push(format!("{name}: expected an error, got patch {got}")),
                Err(error) => {
                    let at = error.pointer();
                    if error.reason() != Reason::NullMember
                        || modified.pointer(at) != Some(&Value::Null)
                        || original.pointer(at) == Some(&Value::Null)
                    {
                        failures.push(format!(
                            "{name}: error {:?} at {at:?} does not name a null member of modified that original lacks",
                            error.reason()
                        ));
                    }
                    if !error.to_string().contains(at) {
                        failures.push(format!("{name}: message does not name {at:?}: {error}"));
                    }
                }
            }
            continue;
        }

        if &vector_applied != modified {
            failures.push(format!(
                "{name}: the vector's patch gives {vector_applied}, not modified"
            ));
        }
        match diff(original, modified) {
            Err(error) => failures.push(format!("{name}: expected {patch}, got error: {error}")),
            Ok(got) => {
                if &got != patch {
                    failures.push(format!("{name}: expected {patch}, got {got}"));
                }
                let applied = merge(original.clone(), got);
                if &applied != modified {
                    failures.push(format!(
                        "{name}: merging the diff gives {applied}, not modified"
                    ));
                }
            }
        }
    }
    assert!(unrepresentable > 0, "no vector checks the error");
    assert!(
        failures.is_empty(),
        "{} of {} diff vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

/// Documents to check a composed patch on: plain values, the patches themselves, and an
/// object holding `{"zz": true}` under every name the patches use at their root (so object
/// members are merged into existing objects with a member the patches do not mention).
fn probes(patches: &[&Value]) -> Vec<Value> {
    let mut probes = vec![json!(null), json!(1), json!([]), json!({})];
    let mut crowded = serde_json::Map::new();
    for patch in patches {
        probes.push((*patch).clone());
        for name in patch.as_object().into_iter().flat_map(|o| o.keys()) {
            crowded.insert(name.clone(), json!({ "zz": true }));
        }
    }
    probes.push(Value::Object(crowded));
    probes
}

#[test]
fn compose_vectors() {
    let vectors = load("compose.json");
    let mut failures = Vec::new();
    let mut counterexamples = 0;
    for vector in &vectors {
        let name = field(vector, "name").as_str().unwrap();
        let first = field(vector, "patch1");
        let second = field(vector, "patch2");
        let composed = field(vector, "composed");
        let sequential = |x: &Value| merge(merge(x.clone(), first.clone()), second.clone());
        let equivalent = flag(vector, "equivalent_to_sequential_apply")
            .unwrap_or_else(|| panic!("{name}: no equivalent_to_sequential_apply"));

        if let Some(document) = vector.get("counterexample_document") {
            counterexamples += 1;
            let expected = field(vector, "sequential_result");
            let got = sequential(document);
            if &got != expected {
                failures.push(format!(
                    "{name}: patch1 then patch2 give {got}, not sequential_result"
                ));
            }
            let expected = field(vector, "composed_result");
            let got = merge(document.clone(), composed.clone());
            if &got != expected {
                failures.push(format!(
                    "{name}: `composed` gives {got}, not composed_result"
                ));
            }
            if equivalent || field(vector, "sequential_result") == expected {
                failures.push(format!(
                    "{name}: the counterexample does not tell the two apart"
                ));
            }
        }

        if !equivalent {
            match compose(first, second) {
                Ok(got) => failures.push(format!("{name}: expected an error, got patch {got}")),
                Err(error) => {
                    let at = error.pointer();
                    let first_at = first.pointer(at);
                    if error.reason() != Reason::ObjectAfterReplacement
                        || !second.pointer(at).is_some_and(Value::is_object)
                        || first_at.is_none_or(Value::is_object)
                    {
                        failures.push(format!(
                            "{name}: error {:?} at {at:?} is not where patch2 holds an object and patch1 a non-object",
                            error.reason()
                        ));
                    }
                }
            }
            continue;
        }

        match compose(first, second) {
            Err(error) => failures.push(format!("{name}: expected {composed}, got error: {error}")),
            Ok(got) => {
                if &got != composed {
                    failures.push(format!("{name}: expected {composed}, got {got}"));
                }
                for x in probes(&[first, second, composed]) {
                    let (once, twice) = (merge(x.clone(), got.clone()), sequential(&x));
                    if once != twice {
                        failures.push(format!(
                            "{name}: on {x} the composed patch gives {once}, patch1 then patch2 give {twice}"
                        ));
                    }
                }
            }
        }
    }
    assert!(counterexamples > 0, "no vector carries a counterexample");
    assert!(
        failures.is_empty(),
        "{} of {} compose vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}
