//! Shared by the tests and the fuzz targets (`fuzz/` includes this file by path): a plain
//! recursive reference model of RFC 7396 section 2, written independently of `src/rule.rs`,
//! and checkers for the invariants of the rule; [`laws`] holds the helpers for the laws of `diff`
//! and `compose`.
#![allow(dead_code)]

pub mod laws;

use serde_json::{Map, Value};

/// RFC 7396 section 2, transcribed literally (recursive, by reference, cloning).
pub fn reference(target: &Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut target = match target {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for (name, value) in patch {
        if value.is_null() {
            remove_keeping_order(&mut target, name);
        } else {
            let merged = reference(target.get(name).unwrap_or(&Value::Null), value);
            target.insert(name.clone(), merged);
        }
    }
    Value::Object(target)
}

/// Removal that keeps the order of the remaining members whatever the map type.
fn remove_keeping_order(map: &mut Map<String, Value>, name: &str) {
    map.retain(|key, _| key != name);
}

/// Compact text: compares number literals exactly, and key order under `preserve_order`.
pub fn text(value: &Value) -> String {
    serde_json::to_string(value).unwrap()
}

pub fn all_variants(target: &Value, patch: &Value) -> [Value; 3] {
    let by_value = metamerge::merge(target.clone(), patch.clone());
    let mut in_place = target.clone();
    metamerge::merge_in_place(&mut in_place, patch.clone());
    let mut by_ref = target.clone();
    metamerge::merge_ref(&mut by_ref, patch);
    [by_value, in_place, by_ref]
}

/// Every key the patch sets to `null` (along a path of patch objects) is absent afterwards.
pub fn assert_nulls_removed(result: &Value, patch: &Value, path: &str) {
    let Value::Object(patch) = patch else { return };
    let result = result
        .as_object()
        .unwrap_or_else(|| panic!("{path}: object patch gave a non-object"));
    for (name, value) in patch {
        if value.is_null() {
            assert!(
                !result.contains_key(name),
                "{path}/{name}: key set to null is still present"
            );
        } else if value.is_object() {
            assert_nulls_removed(&result[name], value, &format!("{path}/{name}"));
        }
    }
}

/// The order rule of an order-preserving merge: surviving target keys keep their relative
/// order, a replaced key keeps its position, new keys are appended in patch order; recursively
/// for merged members. Meaningful only when the map keeps order (`preserve_order`).
pub fn assert_order(target: &Value, patch: &Value, result: &Value, path: &str) {
    let Value::Object(patch) = patch else { return };
    let empty = Map::new();
    let target = target.as_object().unwrap_or(&empty);
    let result = result.as_object().unwrap();
    let mut expected: Vec<&String> = target
        .keys()
        .filter(|k| !patch.get(*k).is_some_and(Value::is_null))
        .collect();
    for (name, value) in patch {
        if !value.is_null() && !target.contains_key(name) {
            expected.push(name);
        }
    }
    let got: Vec<&String> = result.keys().collect();
    assert_eq!(got, expected, "{path}: key order");
    for (name, value) in patch {
        if value.is_object() {
            assert_order(
                target.get(name).unwrap_or(&Value::Null),
                value,
                &result[name],
                &format!("{path}/{name}"),
            );
        }
    }
}

/// Drops a deep value without recursing (serde_json's `Drop` recurses once per level): takes
/// every container's children out first.
pub fn dismantle(value: Value) {
    let mut stack = vec![value];
    while let Some(mut value) = stack.pop() {
        match &mut value {
            Value::Object(map) => stack.extend(std::mem::take(map).into_iter().map(|(_, v)| v)),
            Value::Array(items) => stack.append(items),
            _ => {}
        }
    }
}

/// Runs `f` on a thread with a 2 MiB stack and returns its result; panics (failing the test)
/// if `f` panicked. A stack overflow aborts the whole test process.
pub fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the operation panicked on a 2 MiB stack")
}
