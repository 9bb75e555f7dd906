//! The spec as data: every vector in `tests/vectors/*.json` is run by the drivers below.
//! Adding a case means adding an entry to a JSON file, not code.
//!
//! `merge.json`: `{name, source, target, patch, expected, ordered?, note?}`. Each vector runs
//! through all three entry points (`merge`, `merge_in_place`, `merge_ref`); vectors marked
//! `"ordered": true` also fix the key order, checked when the map keeps order
//! (`preserve_order`). Results are also compared as serialized text, so number literals must
//! come out exactly as written under `arbitrary_precision`.

use serde_json::Value;

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
