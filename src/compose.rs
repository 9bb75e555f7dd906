//! [`compose`]: one merge patch equivalent to applying two in turn.

use core::mem;

use serde_json::{map, Map, Value};

use crate::tree::{deep_clone, dismantle};
use crate::unrepresentable::{Reason, Unrepresentable};

/// One merge patch `r` with `merge(merge(x, first), second) == merge(x, r)` for every
/// document `x` (RFC 7396), or the reason there is none: what a queue of pending updates
/// collapses into.
///
/// # The rule
///
/// Read a patch member by member. At the root, and then for every name that both patches
/// hold as objects (recursively):
///
/// - `second` is not an object (a string, number, boolean, array or `null`, that is a
///   replacement or a removal): `r` is `second`'s value. It decides the outcome alone,
///   whatever `first` did.
/// - a name only one patch holds: `r` takes that patch's value.
/// - both hold objects: `r` holds their composition, computed by this same rule. Both merge
///   into whatever the document holds there, member by member, and so does the composition.
///   It is kept even if empty: `{"a": {}}` still turns a non-object `a` into `{}`.
/// - `second` holds an object and `first` a non-object (a scalar, an array or `null`): no
///   single patch exists, see below.
///
/// So, where it exists, `r` is `first` with `second` merged in as a patch that keeps its
/// `null`s (they are removals to pass on, not to apply). The result is not minimized: a
/// removal is kept even where `first` only added the member, since the document may have
/// held it before.
///
/// # Errors
///
/// [`Unrepresentable`] with [`Reason::ObjectAfterReplacement`] and the pointer of the first
/// place (in `first`'s member order) where `second` holds an object and `first` holds a
/// value that is not an object (`""` when `first` itself is not an object and `second` is).
/// There, applying `first` then `second` always yields one fixed object `C` (the object of
/// `second` merged into `{}`), whatever the document held. A single patch cannot do that:
/// a non-object patch value yields that non-object, `null` removes the member, and an object
/// patch value `o` merges into the document's value, so on a document holding an object with
/// a member name that `o` does not mention, the result keeps that member and `C` does not
/// (choose a name that neither `o` nor `C` uses). This holds even for `C` = `{}`. Every other
/// case above is exact, so this is the only error.
///
/// # Complexity
///
/// One walk over both patches: each member of a `first` object costs one lookup in the
/// `second` object at the same path and each member of a `second` object one lookup in the
/// `first` object (O(log n) with the default `BTreeMap`, O(1) expected with
/// `preserve_order`), plus a copy of every value the result takes from either patch: O(size
/// of `first` + size of `second`). Nesting depth costs heap, not native stack, also when
/// the partial result is dropped on error (a test composes patches nested 20,000 objects deep
/// on a 64 KiB thread stack, `tests/adversarial.rs` patches holding arrays nested 100,000 deep
/// on a 2 MiB one). Under
/// `preserve_order` the result lists `first`'s members in its order, then the members only
/// `second` holds in its order, as a merge would.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use metamerge::{compose, merge};
///
/// let first = json!({ "plan": "pro", "seats": 5, "theme": { "color": "red", "font": "serif" } });
/// let second = json!({ "seats": null, "theme": { "font": null, "size": 12 } });
/// let both = compose(&first, &second)?;
/// assert_eq!(
///     both,
///     json!({ "plan": "pro", "seats": null, "theme": { "color": "red", "font": null, "size": 12 } })
/// );
///
/// let x = json!({ "seats": 3, "theme": { "font": "mono", "dark": true }, "owner": "ann" });
/// assert_eq!(merge(merge(x.clone(), first), second), merge(x, both));
/// # Ok::<(), metamerge::Unrepresentable>(())
/// ```
///
/// "Delete `a`, then set `a` to an object" has no single merge patch: `{"a": {"a1": 8}}` would
/// keep the other members of an existing `a`.
///
/// ```
/// use serde_json::json;
/// use metamerge::{compose, Reason};
///
/// let error = compose(&json!({ "a": null }), &json!({ "a": { "a1": 8 } })).unwrap_err();
/// assert_eq!((error.pointer(), error.reason()), ("/a", Reason::ObjectAfterReplacement));
/// // a non-object second patch replaces whatever the first did
/// assert_eq!(compose(&json!({ "a": 1 }), &json!([]))?, json!([]));
/// # Ok::<(), metamerge::Unrepresentable>(())
/// ```
pub fn compose(first: &Value, second: &Value) -> Result<Value, Unrepresentable> {
    let Value::Object(second) = second else {
        return Ok(deep_clone(second));
    };
    let Value::Object(first) = first else {
        return Err(Unrepresentable::new([], Reason::ObjectAfterReplacement));
    };
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut frame = Frame::new(first, second, None);
    loop {
        if let Some((key, earlier)) = frame.first_members.next() {
            match (earlier, frame.second.get(key)) {
                (_, None) => {
                    frame.result.insert(key.clone(), deep_clone(earlier));
                }
                (Value::Object(earlier), Some(Value::Object(later))) => {
                    let child = Frame::new(earlier, later, Some(key));
                    stack.push(mem::replace(&mut frame, child));
                }
                (_, Some(Value::Object(_))) => {
                    let names = stack.iter().chain([&frame]).filter_map(|f| f.key);
                    let path = names.map(String::as_str).chain([key.as_str()]);
                    let error = Unrepresentable::new(path, Reason::ObjectAfterReplacement);
                    // The result built so far may hold deep copies: no recursive drop.
                    for frame in stack.into_iter().chain([frame]) {
                        dismantle(Value::Object(frame.result));
                    }
                    return Err(error);
                }
                (_, Some(later)) => {
                    frame.result.insert(key.clone(), deep_clone(later));
                }
            }
        } else if let Some((key, later)) = frame.second_members.next() {
            if !frame.first.contains_key(key) {
                frame.result.insert(key.clone(), deep_clone(later));
            }
        } else {
            let done = Value::Object(frame.result);
            let (Some(key), Some(parent)) = (frame.key, stack.pop()) else {
                return Ok(done);
            };
            frame = parent;
            frame.result.insert(key.clone(), done);
        }
    }
}

/// One pair of patch objects at the same path: `first`'s members are read first (composing
/// those `second` also holds), then `second`'s members that `first` lacks.
struct Frame<'a> {
    first: &'a Map<String, Value>,
    second: &'a Map<String, Value>,
    first_members: map::Iter<'a>,
    second_members: map::Iter<'a>,
    result: Map<String, Value>,
    key: Option<&'a String>,
}

impl<'a> Frame<'a> {
    fn new(
        first: &'a Map<String, Value>,
        second: &'a Map<String, Value>,
        key: Option<&'a String>,
    ) -> Self {
        Frame {
            first,
            second,
            first_members: first.iter(),
            second_members: second.iter(),
            result: Map::new(),
            key,
        }
    }
}
