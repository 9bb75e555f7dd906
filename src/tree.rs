//! Crate-private walks over `serde_json::Value` used by the adapter's merge and by
//! [`diff`](crate::diff) and [`compose`](crate::compose), written with explicit stacks so that their native stack use
//! does not grow with nesting depth (serde_json's own `Clone` recurses once per level).

use core::mem;
use core::slice;

use serde_json::{map, Map, Value};

/// A container being copied: what is left to read, and what has been built so far.
enum Open<'a> {
    Array(slice::Iter<'a, Value>, Vec<Value>),
    Object(map::Iter<'a>, Map<String, Value>),
}

fn open(value: &Value) -> Option<Open<'_>> {
    match value {
        Value::Array(items) if !items.is_empty() => {
            Some(Open::Array(items.iter(), Vec::with_capacity(items.len())))
        }
        Value::Object(members) if !members.is_empty() => {
            Some(Open::Object(members.iter(), Map::new()))
        }
        _ => None,
    }
}

impl Open<'_> {
    fn close(self) -> Value {
        match self {
            Open::Array(_, items) => Value::Array(items),
            Open::Object(_, members) => Value::Object(members),
        }
    }

    fn push(&mut self, key: Option<&String>, value: Value) {
        match (self, key) {
            (Open::Array(_, items), _) => items.push(value),
            (Open::Object(_, members), Some(key)) => {
                members.insert(key.clone(), value);
            }
            (Open::Object(..), None) => unreachable!("object members always have a name"),
        }
    }
}

/// A deep copy of `value`, equal to `value.clone()`, in O(size of `value`) time and without
/// recursion. Keeps key order under `preserve_order`.
pub(crate) fn deep_clone(value: &Value) -> Value {
    let Some(root) = open(value) else {
        return value.clone();
    };
    // (container being built, its name in the parent)
    let mut stack: Vec<(Open<'_>, Option<&String>)> = Vec::new();
    let mut current = (root, None);
    loop {
        let next = match &mut current.0 {
            Open::Array(items, _) => items.next().map(|item| (None, item)),
            Open::Object(members, _) => members.next().map(|(key, item)| (Some(key), item)),
        };
        match next {
            Some((key, item)) => match open(item) {
                Some(child) => stack.push(mem::replace(&mut current, (child, key))),
                None => current.0.push(key, item.clone()),
            },
            None => {
                let (done, key) = current;
                let done = done.close();
                match stack.pop() {
                    Some(parent) => {
                        current = parent;
                        current.0.push(key, done);
                    }
                    None => return done,
                }
            }
        }
    }
}

/// The member names leading to the first object member of `value` that is `null`, looking
/// only through object members (an object inside an array is part of an array value, which a
/// merge patch carries whole, so its `null`s are kept). `None` if there is none. Without
/// recursion; O(number of object members reached).
pub(crate) fn find_null_member(value: &Value) -> Option<Vec<&str>> {
    let Value::Object(root) = value else {
        return None;
    };
    let mut stack: Vec<(map::Iter<'_>, Option<&str>)> = Vec::new();
    let mut current = (root.iter(), None);
    loop {
        match current.0.next() {
            Some((key, Value::Null)) => {
                let path = stack.iter().map(|frame| frame.1);
                let path = path.chain([current.1, Some(key.as_str())]);
                return Some(path.flatten().collect());
            }
            Some((key, Value::Object(child))) => {
                stack.push(mem::replace(&mut current, (child.iter(), Some(key))));
            }
            Some(_) => {}
            None => current = stack.pop()?,
        }
    }
}

/// Whether `a == b`, as serde_json's `==` decides it (object member order is not significant;
/// numbers are equal as serde_json compares them), without recursion: serde_json's `==`
/// recurses once per level of nesting. Stops at the first difference found; the values still
/// to compare wait on a heap stack, at most the number of array items and object members of
/// `a`.
pub(crate) fn deep_eq(a: &Value, b: &Value) -> bool {
    let mut pending: Vec<(&Value, &Value)> = Vec::new();
    let (mut a, mut b) = (a, b);
    loop {
        match (a, b) {
            (Value::Array(left), Value::Array(right)) => {
                if left.len() != right.len() {
                    return false;
                }
                pending.extend(left.iter().zip(right));
            }
            (Value::Object(left), Value::Object(right)) => {
                if left.len() != right.len() {
                    return false;
                }
                for (key, value) in left {
                    match right.get(key) {
                        Some(other) => pending.push((value, other)),
                        None => return false,
                    }
                }
            }
            // Scalars, or two different kinds (which `==` tells apart without recursing).
            _ if a != b => return false,
            _ => {}
        }
        match pending.pop() {
            Some((left, right)) => (a, b) = (left, right),
            None => return true,
        }
    }
}

/// Drops `value` without recursion (serde_json's own `Drop` recurses once per level of
/// nesting): takes the children out of every container first. O(size of `value`); allocates
/// only for containers that hold non-empty containers.
#[inline]
pub(crate) fn dismantle(value: Value) {
    // Scalars and empty containers, the usual replaced or removed values, are dropped here.
    if nested(&value) {
        dismantle_nested(value);
    }
}

fn nested(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty(),
        Value::Object(members) => !members.is_empty(),
        _ => false,
    }
}

fn dismantle_nested(mut value: Value) {
    let mut stack = Vec::new();
    loop {
        match &mut value {
            Value::Array(items) => stack.extend(items.drain(..).filter(nested)),
            Value::Object(members) => {
                stack.extend(
                    mem::take(members)
                        .into_iter()
                        .map(|(_, value)| value)
                        .filter(nested),
                );
            }
            _ => {}
        }
        match stack.pop() {
            Some(next) => value = next,
            None => return,
        }
    }
}

/// Member names that serde_json gives a meaning of its own: with its `arbitrary_precision`
/// feature (which the CLI and the service turn on), an object whose *first* member has one of
/// these names is read as a number or a raw value, not as an object.
///
/// A document may hold such a name behind other members and read back fine, until a merge
/// patch removes the members before it: the result then serializes to text that no longer
/// reads back (an "invalid number" at the member, or a different value). Programs that store
/// or write merged documents should refuse these names; [`find_reserved_member_name`] finds
/// them.
pub const RESERVED_MEMBER_NAMES: [&str; 2] = [
    "$serde_json::private::Number",
    "$serde_json::private::RawValue",
];

/// The first of [`RESERVED_MEMBER_NAMES`] used as a member name anywhere in `value`, if any.
///
/// Cost: one visit per value, O(size of `value`); iterative, so any nesting depth is fine.
///
/// # Examples
///
/// ```
/// use serde_json::json;
///
/// let document = json!({ "n": { "a": 1, "$serde_json::private::Number": "x" } });
/// assert_eq!(
///     metamerge::find_reserved_member_name(&document),
///     Some("$serde_json::private::Number")
/// );
/// assert_eq!(metamerge::find_reserved_member_name(&json!({ "plan": "pro" })), None);
/// ```
pub fn find_reserved_member_name(value: &Value) -> Option<&'static str> {
    find_reserved(vec![value])
}

/// The first of [`RESERVED_MEMBER_NAMES`] among the members of `object` itself (not below).
pub(crate) fn reserved_in(object: &Map<String, Value>) -> Option<&'static str> {
    RESERVED_MEMBER_NAMES
        .into_iter()
        .find(|name| object.contains_key(*name))
}

fn find_reserved(mut stack: Vec<&Value>) -> Option<&'static str> {
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(object) => {
                if let Some(name) = reserved_in(object) {
                    return Some(name);
                }
                stack.extend(object.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deep_clone_equals_clone() {
        for value in [
            json!(null),
            json!([]),
            json!({}),
            json!({ "a": [1, { "b": null, "c": [[], {}] }], "d": { "e": { "f": "g" } }, "h": 1.5 }),
            json!([[[{ "x": [null] }]], true]),
        ] {
            assert_eq!(deep_clone(&value), value);
        }
    }

    #[test]
    fn deep_eq_equals_eq() {
        let values = [
            json!(null),
            json!(1),
            json!(1.0),
            json!("1"),
            json!([]),
            json!({}),
            json!([1, [2, { "a": null }]]),
            json!([1, [2, { "a": 0 }]]),
            json!([1, [2, { "b": null }]]),
            json!([1, [2, { "a": null }], 3]),
            json!({ "a": [1, { "b": 2 }], "c": {} }),
            json!({ "c": {}, "a": [1, { "b": 2 }] }),
            json!({ "a": [1, { "b": 2 }], "c": [] }),
            json!({ "a": [1, { "b": 2 }] }),
        ];
        for a in &values {
            for b in &values {
                assert_eq!(deep_eq(a, b), a == b, "{a} and {b}");
            }
        }
    }

    #[test]
    fn find_null_member_skips_arrays() {
        assert_eq!(find_null_member(&json!(null)), None);
        assert_eq!(
            find_null_member(&json!({ "a": [null, { "b": null }] })),
            None
        );
        assert_eq!(
            find_null_member(&json!({ "a": 1, "b": { "c": [null], "d": { "e": null } } })),
            Some(vec!["b", "d", "e"])
        );
        assert_eq!(find_null_member(&json!({ "x": null })), Some(vec!["x"]));
    }
}
