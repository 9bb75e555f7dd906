//! [`diff`]: the minimal merge patch from one document to another (the inverse of
//! [`merge`](crate::merge)).

use core::mem;

use serde_json::{map, Map, Value};

use crate::tree::{deep_clone, deep_eq, dismantle, find_null_member};
use crate::unrepresentable::{Reason, Unrepresentable};

/// The minimal merge patch `p` with `merge(source, p) == target` (RFC 7396): what a client
/// sends to turn the document it read (`source`) into the one it wants (`target`).
///
/// Shapes:
///
/// - `target` is not an object (string, number, boolean, array, `null`): the patch is
///   `target` itself, since a non-object patch replaces the whole document. So equal scalar
///   or array roots give that scalar or array (never `{}`, which would turn them into an
///   object), and a `null` target gives `null`.
/// - `target` is an object and `source` is not: the patch is `target` itself (an object patch
///   starts from `{}` over a non-object).
/// - both are objects: an object with one member per name whose value differs, and no other:
///   a name missing from `target` gets `null` (removal); a value that is an object in both
///   gets the nested minimal patch (omitted if it is empty, i.e. the objects are equal); any
///   other changed value is sent whole, the target's value (arrays are never patched element
///   by element, and a member changed to `{}` gets `{}`). Equal documents give `{}`.
///
/// Minimal means no member of the patch, at any depth, can be dropped: each one changes the
/// result. Values are compared with `serde_json::Value`'s `==` (object member order is not
/// significant, and under `arbitrary_precision` `1.0` and `1` are different numbers). A merge
/// patch cannot reorder members; under `preserve_order` the changed and new members come in
/// the target's order, then the removals in the source's order.
///
/// # Errors
///
/// [`Unrepresentable`] with [`Reason::NullMember`] when `target` holds `null` as an object
/// member (reached through object members only: `null`s inside arrays are fine) where
/// `source` does not hold `null` at the same path. No merge patch produces such a document:
/// a `null` member of a patch removes the member, and merging never yields `null` otherwise
/// (RFC 7396 section 1). A `null` member that `source` already holds at the same path is kept
/// by leaving it out of the patch, so that is not an error. The error's pointer names the
/// first such member found.
///
/// # Complexity
///
/// One walk over both documents: each object member of `target` costs one lookup in
/// `source` and each object member of `source` one lookup in `target` (O(log n) with the
/// default `BTreeMap`, O(1) expected with `preserve_order`); non-object values are compared
/// once as `==` compares them (stopping at the first difference); the patch holds clones of
/// the target values it carries. Nesting costs heap, not native stack: objects are walked,
/// and values compared, copied and (on error) dropped without recursion (a test diffs
/// documents nested 20,000 objects deep on a 64 KiB thread stack, and `tests/adversarial.rs`
/// documents holding arrays nested 100,000 deep on a 2 MiB one). Dropping the inputs and the
/// patch is the caller's, and serde_json's `Drop` recurses once per level.
///
/// # Examples
///
/// The example from RFC 7396 section 3, read backwards:
///
/// ```
/// use serde_json::json;
/// use metamerge::{diff, merge};
///
/// let source = json!({
///     "title": "Goodbye!",
///     "author": { "givenName": "John", "familyName": "Doe" },
///     "tags": ["example", "sample"],
///     "content": "This will be unchanged"
/// });
/// let target = json!({
///     "title": "Hello!",
///     "author": { "givenName": "John" },
///     "tags": ["example"],
///     "content": "This will be unchanged",
///     "phoneNumber": "+01-123-456-7890"
/// });
/// let patch = diff(&source, &target)?;
/// assert_eq!(
///     patch,
///     json!({
///         "title": "Hello!",
///         "author": { "familyName": null },
///         "tags": ["example"],
///         "phoneNumber": "+01-123-456-7890"
///     })
/// );
/// assert_eq!(merge(source, patch), target);
/// # Ok::<(), metamerge::Unrepresentable>(())
/// ```
///
/// The shapes peers get wrong:
///
/// ```
/// use serde_json::json;
/// use metamerge::diff;
///
/// // a member changed to {} is kept: {"a": {}} turns 1 into {}
/// assert_eq!(diff(&json!({ "a": 1 }), &json!({ "a": {} }))?, json!({ "a": {} }));
/// // equal scalar roots give the scalar, not {}
/// assert_eq!(diff(&json!("s"), &json!("s"))?, json!("s"));
/// // a null target gives null
/// assert_eq!(diff(&json!({ "a": 1 }), &json!(null))?, json!(null));
/// // arrays are sent whole
/// assert_eq!(diff(&json!({ "a": [1, 2] }), &json!({ "a": [1, 3] }))?, json!({ "a": [1, 3] }));
/// # Ok::<(), metamerge::Unrepresentable>(())
/// ```
///
/// A member set to `null` has no merge patch:
///
/// ```
/// use serde_json::json;
/// use metamerge::{diff, Reason};
///
/// let error = diff(&json!({ "a": { "b": 1 } }), &json!({ "a": { "b": null } })).unwrap_err();
/// assert_eq!((error.pointer(), error.reason()), ("/a/b", Reason::NullMember));
/// // but a null member the source already holds is left alone
/// assert_eq!(diff(&json!({ "n": null, "x": 1 }), &json!({ "n": null }))?, json!({ "x": null }));
/// # Ok::<(), metamerge::Unrepresentable>(())
/// ```
pub fn diff(source: &Value, target: &Value) -> Result<Value, Unrepresentable> {
    let (Value::Object(source), Value::Object(target)) = (source, target) else {
        // A non-object patch replaces the whole document (`null` included); an object patch
        // over a non-object source starts from `{}`.
        return whole(target).or_else(|inner| match target {
            Value::Null => Ok(Value::Null),
            _ => Err(Unrepresentable::new(inner, Reason::NullMember)),
        });
    };
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut frame = Frame::new(source, target, None);
    loop {
        match frame.members.next() {
            Some((key, to)) => match (frame.source.get(key), to) {
                (Some(Value::Object(from)), Value::Object(to)) => {
                    let child = Frame::new(from, to, Some(key));
                    stack.push(mem::replace(&mut frame, child));
                }
                (Some(from), to) if deep_eq(from, to) => {}
                (_, to) => match whole(to) {
                    Ok(value) => {
                        frame.patch.insert(key.clone(), value);
                    }
                    Err(inner) => {
                        let names = stack.iter().chain([&frame]).filter_map(|f| f.key);
                        let names = names.map(String::as_str).chain([key.as_str()]);
                        let path = names.chain(inner);
                        let error = Unrepresentable::new(path, Reason::NullMember);
                        // The patch built so far may hold deep copies: no recursive drop.
                        for frame in stack.into_iter().chain([frame]) {
                            dismantle(Value::Object(frame.patch));
                        }
                        return Err(error);
                    }
                },
            },
            None => {
                for (key, _) in frame.source {
                    if !frame.target.contains_key(key) {
                        frame.patch.insert(key.clone(), Value::Null);
                    }
                }
                let Some(mut parent) = stack.pop() else {
                    return Ok(Value::Object(frame.patch));
                };
                if let (Some(key), false) = (frame.key, frame.patch.is_empty()) {
                    parent.patch.insert(key.clone(), Value::Object(frame.patch));
                }
                frame = parent;
            }
        }
    }
}

/// One pair of objects being compared: the source and target objects at the same path, the
/// target members not visited yet, the patch built so far, and the name in the parent.
struct Frame<'a> {
    source: &'a Map<String, Value>,
    target: &'a Map<String, Value>,
    members: map::Iter<'a>,
    patch: Map<String, Value>,
    key: Option<&'a String>,
}

impl<'a> Frame<'a> {
    fn new(
        source: &'a Map<String, Value>,
        target: &'a Map<String, Value>,
        key: Option<&'a String>,
    ) -> Self {
        Frame {
            source,
            target,
            members: target.iter(),
            patch: Map::new(),
            key,
        }
    }
}

/// `target` sent whole, as a patch value: a copy of it, or, if the merge would not keep it as
/// it is because it is `null` or holds a `null` object member, the member names from
/// `target` to that `null`.
fn whole(target: &Value) -> Result<Value, Vec<&str>> {
    match target {
        Value::Null => Err(Vec::new()),
        Value::Object(_) => match find_null_member(target) {
            Some(inner) => Err(inner),
            None => Ok(deep_clone(target)),
        },
        _ => Ok(deep_clone(target)),
    }
}
