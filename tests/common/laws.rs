//! Helpers for the laws of `diff` and `compose`, shared by `tests/algebra_laws.rs` (proptest)
//! and the `diff` and `compose` fuzz targets (`fuzz/` includes `tests/common/mod.rs`, and so
//! this file, by path). Each is written independently of the crate, recursively: inputs are
//! small (proptest) or at most serde_json's 128 levels deep (fuzzing).

use serde_json::{json, Map, Value};

/// A member name no generated document or patch uses (the tests' and the fuzz targets'
/// generators draw names from alphabets without it; [`fresh_name`] finds one for any input).
pub const FRESH: &str = "fresh";

/// The member names of an RFC 6901 pointer, unescaped.
pub fn names(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    assert!(pointer.starts_with('/'), "not a JSON Pointer: {pointer:?}");
    pointer[1..]
        .split('/')
        .map(|name| name.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// The value at `names`, reached through object members only.
pub fn member<'v>(value: &'v Value, names: &[String]) -> Option<&'v Value> {
    names
        .iter()
        .try_fold(value, |value, name| value.as_object()?.get(name))
}

/// Whether `b` holds a `null` object member (through object members) where `a` does not
/// hold `null`: the exact condition under which `diff(a, b)` fails.
pub fn unmatched_null(a: Option<&Value>, b: &Value) -> bool {
    let Some(b) = b.as_object() else {
        return false;
    };
    b.iter().any(|(name, value)| {
        let a = a.and_then(Value::as_object).and_then(|a| a.get(name));
        match value {
            Value::Null => a != Some(&Value::Null),
            _ => unmatched_null(a, value),
        }
    })
}

/// How many object members `patch` holds, at any depth (through object members): the number
/// of patches [`with_one_member_dropped`] returns.
pub fn object_members(patch: &Value) -> usize {
    patch.as_object().map_or(0, |members| {
        members
            .values()
            .map(|value| 1 + object_members(value))
            .sum()
    })
}

/// Every patch obtained by dropping one object member of `patch`, at any depth (through
/// object members: arrays are values, not patches).
pub fn with_one_member_dropped(patch: &Value) -> Vec<Value> {
    let Some(members) = patch.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, value) in members {
        let mut dropped = members.clone();
        dropped.remove(name);
        out.push(Value::Object(dropped));
        for inner in with_one_member_dropped(value) {
            let mut replaced = members.clone();
            replaced.insert(name.clone(), inner);
            out.push(Value::Object(replaced));
        }
    }
    out
}

/// What most libraries return for two patches: the second merged into the first as a patch
/// that keeps its `null`s, with a second-patch object replacing a first-patch non-object.
pub fn naive_compose(first: &Value, second: &Value) -> Value {
    match (first, second) {
        (Value::Object(first), Value::Object(second)) => {
            let mut out = first.clone();
            for (name, later) in second {
                let value = match out.get(name) {
                    Some(earlier) => naive_compose(earlier, later),
                    None => later.clone(),
                };
                out.insert(name.clone(), value);
            }
            Value::Object(out)
        }
        (_, second) => second.clone(),
    }
}

/// Objects down to `names`, holding there `{fresh: 1}`: the document on which no single patch
/// behaves like `p` then `q` when `compose(p, q)` fails at `names` (see `metamerge::compose`),
/// provided no patch involved uses the name `fresh`.
pub fn counterexample(names: &[String], fresh: &str) -> Value {
    let mut value = json!({ fresh: 1 });
    for name in names.iter().rev() {
        let mut object = Map::new();
        object.insert(name.clone(), value);
        value = Value::Object(object);
    }
    value
}

/// A member name that no object in any of `values` uses, at any depth: [`FRESH`] followed by
/// as many `_` as needed.
pub fn fresh_name(values: &[&Value]) -> String {
    fn uses(value: &Value, name: &str) -> bool {
        match value {
            Value::Object(members) => members
                .iter()
                .any(|(key, value)| key == name || uses(value, name)),
            Value::Array(items) => items.iter().any(|item| uses(item, name)),
            _ => false,
        }
    }
    let mut name = FRESH.to_owned();
    while values.iter().any(|value| uses(value, &name)) {
        name.push('_');
    }
    name
}
