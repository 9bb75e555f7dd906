//! The `serde_json::Value` adapter (feature `serde_json`, on by default): implements the
//! [`rule`](crate::rule) traits for `Value` and `Map`, and offers the rule as [`merge`],
//! [`merge_in_place`] and [`merge_ref`].

use serde_json::{map, Map, Value};

use std::borrow::Borrow;
use std::collections::HashSet;
use std::mem;

use crate::rule::{self, Document, Object};
use crate::tree;

impl Document for Value {
    type Object = Map<String, Value>;

    fn null() -> Self {
        Value::Null
    }
    fn is_null(&self) -> bool {
        self.is_null()
    }
    fn as_object(&self) -> Option<&Map<String, Value>> {
        self.as_object()
    }
    fn as_object_mut(&mut self) -> Option<&mut Map<String, Value>> {
        self.as_object_mut()
    }
    fn into_object(self) -> Result<Map<String, Value>, Self> {
        match self {
            Value::Object(object) => Ok(object),
            other => Err(other),
        }
    }
    fn from_object(object: Map<String, Value>) -> Self {
        Value::Object(object)
    }
    fn discard(self) {
        tree::dismantle(self);
    }
    fn duplicate(&self) -> Self {
        tree::deep_clone(self)
    }
}

impl Object for Map<String, Value> {
    type Key = String;
    type Doc = Value;
    type IntoMembers = map::IntoIter;
    type Members<'a> = map::Iter<'a>;

    fn new() -> Self {
        Map::new()
    }
    fn get_mut(&mut self, key: &String) -> Option<&mut Value> {
        Map::get_mut(self, key.as_str())
    }
    fn insert(&mut self, key: String, value: Value) {
        // Under `preserve_order` this is `IndexMap::insert`: an existing key keeps its position.
        if let Some(replaced) = Map::insert(self, key, value) {
            tree::dismantle(replaced);
        }
    }
    #[inline]
    fn remove_all<K: Borrow<String>>(&mut self, keys: &[K]) {
        // Not `Map::remove` under `preserve_order`: that is `swap_remove`, which moves the last
        // member into the hole and breaks the relative order of the survivors. `shift_remove`
        // keeps it but moves every later member, so many removals take one `retain` pass.
        #[cfg(feature = "preserve_order")]
        let one_by_one = keys.len() <= 8;
        #[cfg(not(feature = "preserve_order"))]
        let one_by_one = remove_keeps_order();
        if !one_by_one {
            return remove_in_one_pass(self, keys);
        }
        for key in keys {
            #[cfg(feature = "preserve_order")]
            let removed = Map::shift_remove(self, key.borrow().as_str());
            #[cfg(not(feature = "preserve_order"))]
            let removed = Map::remove(self, key.borrow().as_str());
            if let Some(removed) = removed {
                tree::dismantle(removed);
            }
        }
    }
    fn removes_one_cheaply(&self) -> bool {
        // A `BTreeMap` removal is one lookup; `shift_remove` (`preserve_order`) moves every later
        // member, and a `Map::remove` that is `swap_remove` breaks the order.
        #[cfg(feature = "preserve_order")]
        return false;
        #[cfg(not(feature = "preserve_order"))]
        return remove_keeps_order();
    }
    fn into_members(self) -> Self::IntoMembers {
        self.into_iter()
    }
    fn members(&self) -> Self::Members<'_> {
        self.iter()
    }
}

/// Removes the members named in `keys` with one order-keeping pass over `object`: O(members +
/// keys) expected.
fn remove_in_one_pass<K: Borrow<String>>(object: &mut Map<String, Value>, keys: &[K]) {
    let names: HashSet<&str> = keys.iter().map(|key| key.borrow().as_str()).collect();
    object.retain(|name, value| {
        let keep = !names.contains(name.as_str());
        if !keep {
            tree::dismantle(mem::take(value));
        }
        keep
    });
}

/// Whether `Map::remove` keeps the order of the remaining members. It does unless another crate
/// in the build turned on `serde_json/preserve_order` without turning on ours (Cargo unifies
/// features), in which case it is `swap_remove`; removal then falls back to an order-keeping
/// `retain` pass. Checked once per process.
#[cfg(not(feature = "preserve_order"))]
fn remove_keeps_order() -> bool {
    static KEEPS_ORDER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *KEEPS_ORDER.get_or_init(|| {
        let mut probe = Map::new();
        for name in ["a", "b", "c"] {
            probe.insert(name.to_owned(), Value::Null);
        }
        probe.remove("a");
        probe.keys().map(String::as_str).eq(["b", "c"])
    })
}

/// Merges the merge patch `patch` into `target` and returns the result (RFC 7396 section 2;
/// Clerk's metadata-update rule).
///
/// Both arguments are taken by value: patch subtrees are moved into the result, nothing is
/// cloned. If `patch` is an object, each member is applied to `target` (which becomes `{}` first
/// if it is not an object): a `null` member removes that key, an object member is merged
/// recursively, anything else (arrays included) replaces the value. If `patch` is not an object,
/// it is the result.
///
/// Cost: one map lookup per patch member (two for object members the target lacks):
/// O(|patch| · log |target|)
/// with the default `BTreeMap`, O(|patch|) expected with `preserve_order`, where removing
/// members from an object also moves its later members (a few removals shift them, more take
/// one pass: at most O(members of that object) per patch object). Nothing else is proportional
/// to the size of the target. Nesting beyond 64 levels costs heap, not native stack, also for
/// what the patch replaces or removes, which is taken apart without recursion.
/// Never fails and never panics.
///
/// # Examples
///
/// The example from RFC 7396 section 3:
///
/// ```
/// use serde_json::json;
///
/// let target = json!({
///     "title": "Goodbye!",
///     "author": { "givenName": "John", "familyName": "Doe" },
///     "tags": ["example", "sample"],
///     "content": "This will be unchanged"
/// });
/// let patch = json!({
///     "title": "Hello!",
///     "phoneNumber": "+01-123-456-7890",
///     "author": { "familyName": null },
///     "tags": ["example"]
/// });
/// assert_eq!(
///     metamerge::merge(target, patch),
///     json!({
///         "title": "Hello!",
///         "author": { "givenName": "John" },
///         "tags": ["example"],
///         "content": "This will be unchanged",
///         "phoneNumber": "+01-123-456-7890"
///     })
/// );
/// ```
///
/// Clerk's example from "Update an organization membership's metadata": the patch updates one
/// key and leaves the others alone.
///
/// ```
/// use serde_json::json;
///
/// let public_metadata = json!({ "example": "some value", "plan": "pro" });
/// let patch = json!({ "example": "this value is updated!" });
/// assert_eq!(
///     metamerge::merge(public_metadata, patch),
///     json!({ "example": "this value is updated!", "plan": "pro" })
/// );
/// ```
#[must_use = "merge returns the merged document; use merge_in_place to modify a target"]
pub fn merge(mut target: Value, patch: Value) -> Value {
    merge_in_place(&mut target, patch);
    target
}

/// Merges the merge patch `patch` into `target` in place (RFC 7396 section 2).
///
/// The same rule and cost as [`merge`]; use it when the target lives inside a larger structure.
/// The patch is consumed: its subtrees are moved into `target`, nothing is cloned.
///
/// # Examples
///
/// ```
/// use serde_json::json;
///
/// let mut membership = json!({
///     "public_metadata": { "role": "admin", "theme": { "color": "red", "font": "serif" } }
/// });
/// metamerge::merge_in_place(
///     &mut membership["public_metadata"],
///     json!({ "theme": { "font": null }, "seats": 5 }),
/// );
/// assert_eq!(
///     membership["public_metadata"],
///     json!({ "role": "admin", "theme": { "color": "red" }, "seats": 5 })
/// );
/// ```
pub fn merge_in_place(target: &mut Value, patch: Value) {
    rule::merge_in_place(target, patch);
}

/// Merges a borrowed merge patch into `target` in place (RFC 7396 section 2).
///
/// The same rule and cost as [`merge`], plus a clone of every value the patch inserts and of
/// every member name it adds (a member that already exists is found without allocating). Use it
/// when the patch is applied to several targets or must be kept.
///
/// # Examples
///
/// ```
/// use serde_json::json;
///
/// let patch = json!({ "beta": true, "legacy": null });
/// let mut a = json!({ "legacy": 1 });
/// let mut b = json!({ "beta": false, "name": "b" });
/// metamerge::merge_ref(&mut a, &patch);
/// metamerge::merge_ref(&mut b, &patch);
/// assert_eq!(a, json!({ "beta": true }));
/// assert_eq!(b, json!({ "beta": true, "name": "b" }));
/// ```
pub fn merge_ref(target: &mut Value, patch: &Value) {
    rule::merge_ref(target, patch);
}
