//! The merge rule itself, written once, generic over a small document trait and free of any
//! dependency (it uses `core` and `alloc` only).
//!
//! This is RFC 7396 section 2 ("JSON Merge Patch"), which is also Clerk's metadata-update
//! rule ("deep merge; `null` removes a key at any level"):
//!
//! ```text
//! define MergePatch(Target, Patch):
//!   if Patch is an Object:
//!     if Target is not an Object:
//!       Target = {} # Ignore the contents and set it to an empty Object
//!     for each Name/Value pair in Patch:
//!       if Value is null:
//!         if Name exists in Target:
//!           remove the Name/Value pair from Target
//!       else:
//!         Target[Name] = MergePatch(Target[Name], Value)
//!     return Target
//!   else:
//!     return Patch
//! ```
//!
//! The pseudo-code recurses once per nesting level without bound; [`merge_in_place`] and
//! [`merge_ref`] recurse for the first 64 levels only and walk anything deeper with an explicit
//! stack on the heap, so a patch nested 100,000 levels deep needs a few kilobytes of native
//! stack. Each patch member costs one lookup in the target object it addresses; a member whose
//! value is an object and that the target lacks costs two (one to find it missing, one to
//! insert the merged child), and so does every object member below the 64th level (one to take
//! the target's child out, one to put it back). Nothing is proportional to the size of the
//! target.
//!
//! Implement [`Document`] and [`Object`] for your own JSON tree to get the rule for it; the
//! crate's `serde_json` feature does so for `serde_json::Value`.

use alloc::vec::Vec;
use core::borrow::Borrow;
use core::mem;
use core::slice;

/// A JSON-like value the rule can merge: `null`, an object, or anything else (which the rule
/// only ever moves or clones as a whole).
pub trait Document: Sized {
    /// The object (map) type of this document.
    type Object: Object<Doc = Self>;

    /// A `null` value. Used as a cheap placeholder while a child is taken out of its parent.
    fn null() -> Self;
    /// Whether this value is `null`.
    fn is_null(&self) -> bool;
    /// This value as an object, if it is one.
    fn as_object(&self) -> Option<&Self::Object>;
    /// This value as a mutable object, if it is one. For a value made by
    /// [`from_object`](Document::from_object) it must be `Some`.
    fn as_object_mut(&mut self) -> Option<&mut Self::Object>;
    /// This value as an owned object, or the value back when it is not an object.
    fn into_object(self) -> Result<Self::Object, Self>;
    /// Wraps an object as a document.
    fn from_object(object: Self::Object) -> Self;
    /// Drops a value the merge replaced or removed. The default is `drop`; a tree whose `Drop`
    /// recurses once per nesting level can take deep values apart iteratively here.
    fn discard(self) {
        drop(self);
    }
    /// A copy of a patch value for [`merge_ref`] to insert. The default is `clone`; a tree whose
    /// `Clone` recurses once per nesting level can copy deep values iteratively here.
    fn duplicate(&self) -> Self
    where
        Self: Clone,
    {
        self.clone()
    }
}

/// A JSON object: a map from unique member names to documents.
///
/// Order-preserving implementations must keep the order rules the crate documents: `insert`
/// of an existing key replaces its value in place, `insert` of a new key appends, `remove_all`
/// keeps the relative order of the remaining members. Values they replace or remove should be
/// dropped with [`Document::discard`].
pub trait Object: Sized {
    /// The member name type (for example `String`).
    type Key;
    /// The document type of the members.
    type Doc;
    /// Owning iterator over the members, in the object's order.
    type IntoMembers: Iterator<Item = (Self::Key, Self::Doc)>;
    /// Borrowing iterator over the members, in the object's order.
    type Members<'a>: Iterator<Item = (&'a Self::Key, &'a Self::Doc)>
    where
        Self: 'a;

    /// An empty object.
    fn new() -> Self;
    /// The value of member `key`, if present.
    fn get_mut(&mut self, key: &Self::Key) -> Option<&mut Self::Doc>;
    /// Sets member `key`: replaces the value in place if the key exists, appends otherwise.
    fn insert(&mut self, key: Self::Key, value: Self::Doc);
    /// Removes the members named in `keys` (those present), keeping the order of the others.
    /// The rule calls it once per patch object, after its other members, so that an
    /// order-preserving map can remove many members in one pass.
    fn remove_all<K: Borrow<Self::Key>>(&mut self, keys: &[K]);
    /// Whether removing one member costs no more than a lookup and keeps the order of the
    /// others (a sorted map, for example). Then the rule removes each member as it meets its
    /// `null`, with `remove_all` on that one name, instead of collecting the names first. The
    /// default is `false`.
    fn removes_one_cheaply(&self) -> bool {
        false
    }
    /// Consumes the object, yielding its members.
    fn into_members(self) -> Self::IntoMembers;
    /// Iterates over the members by reference.
    fn members(&self) -> Self::Members<'_>;
}

/// Merges `patch` into `target` in place (RFC 7396 section 2), moving the patch's subtrees
/// into the target: nothing is cloned and no member name is allocated.
///
/// Cost: one lookup in the addressed target object per patch member (two for object members
/// the target lacks, see the [module docs](self)), plus dropping what the patch replaces or
/// removes and one pass over each target object the patch removes members from, if its
/// `remove_all` needs one. Native stack use is bounded (64 levels of recursion, then a heap
/// stack). Allocates nothing itself except, when the object does not
/// [remove one member cheaply](Object::removes_one_cheaply), one buffer for the names to
/// remove.
pub fn merge_in_place<D: Document>(target: &mut D, patch: D) {
    merge_node::<D, Owned<D>>(target, Owned(patch), &mut Vec::new());
}

/// Merges a borrowed `patch` into `target` in place (RFC 7396 section 2), cloning only the
/// values and member names it inserts into the target.
///
/// Cost as for [`merge_in_place`], plus the clones of what is inserted; a member that already
/// exists is found without allocating its name.
pub fn merge_ref<D>(target: &mut D, patch: &D)
where
    D: Document + Clone,
    <D::Object as Object>::Key: Clone,
{
    merge_node::<D, Borrowed<'_, D>>(target, Borrowed(patch), &mut Vec::new());
}

/// What the rule needs from a patch node: whether it is `null`, an object (whose members it
/// walks), or any other value (which it stores as the new target value).
enum Node<O, D> {
    Null,
    Object(O),
    Value(D),
}

type KeyOf<D> = <<D as Document>::Object as Object>::Key;

/// A patch read either by value ([`Owned`]) or by reference ([`Borrowed`]), so that the rule
/// below is written once for both.
trait Patch<D: Document>: Sized {
    type Key: Borrow<KeyOf<D>>;
    /// A patch object: owned, or borrowed.
    type Object;
    type Members: Iterator<Item = (Self::Key, Self)>;
    fn into_node(self) -> Node<Self::Object, D>;
    /// The members of a patch object. Called by the function that walks them, so that only
    /// the object (not its iterator) is passed down.
    fn members(object: Self::Object) -> Self::Members;
    /// Stores `value` as member `key` of `object`.
    fn store(object: &mut D::Object, key: Self::Key, value: D);
    /// Stores `value` as member `key` of `object`, which has no such member yet (by default,
    /// as [`store`](Patch::store) does).
    fn store_new(object: &mut D::Object, key: Self::Key, value: D) {
        Self::store(object, key, value);
    }
}

/// How many nesting levels [`merge_object`] walks by native recursion before it hands the rest
/// of the patch to the explicit stack of [`run`]. Real documents rarely nest more than a dozen
/// levels, so they never reach the stack; the bound keeps native stack use at a few kilobytes
/// whatever the patch's depth.
const NATIVE_DEPTH: usize = 64;

/// The rule for one patch node and the target value it addresses.
fn merge_node<D: Document, P: Patch<D>>(target: &mut D, patch: P, removed: &mut Vec<P::Key>) {
    match patch.into_node() {
        Node::Null => mem::replace(target, D::null()).discard(),
        Node::Value(value) => mem::replace(target, value).discard(),
        Node::Object(patch) => merge_object::<D, P>(target, patch, NATIVE_DEPTH, removed),
    }
}

/// Applies the members of the patch object `patch` to `target`, which becomes `{}` first if
/// it is not an object. Recurses for members whose value is an object while `budget` lasts,
/// then hands over to [`run`].
///
/// A member set to `null` is removed at once if the object
/// [removes one member cheaply](Object::removes_one_cheaply). Otherwise its name is pushed on
/// `removed`, one buffer for the whole merge, and the names this patch object pushed are
/// removed together when its other members are applied (the names in one patch object are
/// unique, so the result is the same, and a map that keeps order can then remove them all in
/// one pass); then the buffer is cut back to where it was.
fn merge_object<D: Document, P: Patch<D>>(
    target: &mut D,
    patch: P::Object,
    budget: usize,
    removed: &mut Vec<P::Key>,
) {
    if budget == 0 {
        return run::<D, P>(target, patch, removed);
    }
    if target.as_object_mut().is_none() {
        mem::replace(target, D::from_object(D::Object::new())).discard();
    }
    let object = target
        .as_object_mut()
        .expect("Document::as_object_mut of Document::from_object is the object");
    let mark = removed.len();
    let remove_at_once = object.removes_one_cheaply();
    for (key, value) in P::members(patch) {
        match value.into_node() {
            Node::Null if remove_at_once => object.remove_all(slice::from_ref(&key)),
            Node::Null => removed.push(key),
            Node::Value(value) => P::store(object, key, value),
            Node::Object(patch) => match object.get_mut(key.borrow()) {
                Some(child) => merge_object::<D, P>(child, patch, budget - 1, removed),
                None => {
                    // Merging into nothing: the patch object without its `null` members.
                    let mut child = D::from_object(D::Object::new());
                    merge_object::<D, P>(&mut child, patch, budget - 1, removed);
                    P::store_new(object, key, child);
                }
            },
        }
    }
    remove_pending(object, removed, mark);
}

/// Removes from `object` the names its patch object pushed on `removed` since `mark`, in one
/// [`Object::remove_all`], and cuts the buffer back to `mark`. Always inlined: as a call,
/// `merge` spent 1% more instructions on the Clerk-sized benchmark (callgrind).
#[inline(always)]
fn remove_pending<O: Object, K: Borrow<O::Key>>(object: &mut O, removed: &mut Vec<K>, mark: usize) {
    if removed.len() > mark {
        object.remove_all(&removed[mark..]);
        removed.truncate(mark);
    }
}

/// The rule below the native recursion depth: an explicit stack of (target object, remaining
/// patch members, name of the slot in the parent) replaces the recursion of the RFC's
/// pseudo-code. Each object's child is taken out of its parent while it is merged and put back
/// when it is done (a second lookup), so that no borrow outlives its frame.
fn run<D: Document, P: Patch<D>>(target: &mut D, patch: P::Object, removed: &mut Vec<P::Key>) {
    let root = object_or_empty(mem::replace(target, D::null()));
    let mut stack = Vec::new();
    let mut frame = Frame::<D, P> {
        slot: None,
        target: root,
        members: P::members(patch),
        mark: removed.len(),
    };
    loop {
        match frame.members.next() {
            Some((key, value)) => match value.into_node() {
                Node::Null => removed.push(key),
                Node::Value(value) => P::store(&mut frame.target, key, value),
                Node::Object(patch) => {
                    let child = match frame.target.get_mut(key.borrow()) {
                        Some(slot) => object_or_empty(mem::replace(slot, D::null())),
                        None => D::Object::new(),
                    };
                    let parent = mem::replace(
                        &mut frame,
                        Frame {
                            slot: Some(key),
                            target: child,
                            members: P::members(patch),
                            mark: removed.len(),
                        },
                    );
                    stack.push(parent);
                }
            },
            None => {
                remove_pending(&mut frame.target, removed, frame.mark);
                let done = D::from_object(frame.target);
                match (frame.slot, stack.pop()) {
                    (Some(key), Some(parent)) => {
                        frame = parent;
                        P::store(&mut frame.target, key, done);
                    }
                    _ => return *target = done,
                }
            }
        }
    }
}

struct Frame<D: Document, P: Patch<D>> {
    /// The member name of this object in its parent (`None` for the root).
    slot: Option<P::Key>,
    target: D::Object,
    members: P::Members,
    /// Where this object's names to remove start in the shared `removed` buffer.
    mark: usize,
}

fn object_or_empty<D: Document>(value: D) -> D::Object {
    value.into_object().unwrap_or_else(|other| {
        other.discard();
        D::Object::new()
    })
}

struct Owned<D>(D);

impl<D: Document> Patch<D> for Owned<D> {
    type Key = KeyOf<D>;
    type Object = D::Object;
    type Members = OwnedMembers<D>;

    fn into_node(self) -> Node<Self::Object, D> {
        if self.0.is_null() {
            return Node::Null;
        }
        match self.0.into_object() {
            Ok(object) => Node::Object(object),
            Err(value) => Node::Value(value),
        }
    }

    fn members(object: Self::Object) -> Self::Members {
        OwnedMembers(object.into_members())
    }

    fn store(object: &mut D::Object, key: Self::Key, value: D) {
        object.insert(key, value);
    }
}

struct OwnedMembers<D: Document>(<D::Object as Object>::IntoMembers);

impl<D: Document> Iterator for OwnedMembers<D> {
    type Item = (KeyOf<D>, Owned<D>);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(key, value)| (key, Owned(value)))
    }
}

struct Borrowed<'p, D>(&'p D);

impl<'p, D> Patch<D> for Borrowed<'p, D>
where
    D: Document + Clone + 'p,
    KeyOf<D>: Clone,
{
    type Key = &'p KeyOf<D>;
    type Object = &'p D::Object;
    type Members = BorrowedMembers<'p, D>;

    fn into_node(self) -> Node<Self::Object, D> {
        if self.0.is_null() {
            return Node::Null;
        }
        match self.0.as_object() {
            Some(object) => Node::Object(object),
            None => Node::Value(self.0.duplicate()),
        }
    }

    fn members(object: Self::Object) -> Self::Members {
        BorrowedMembers(object.members())
    }

    fn store(object: &mut D::Object, key: Self::Key, value: D) {
        match object.get_mut(key) {
            Some(slot) => mem::replace(slot, value).discard(),
            None => object.insert(key.clone(), value),
        }
    }

    fn store_new(object: &mut D::Object, key: Self::Key, value: D) {
        object.insert(key.clone(), value);
    }
}

struct BorrowedMembers<'p, D: Document + 'p>(<D::Object as Object>::Members<'p>);

impl<'p, D: Document + 'p> Iterator for BorrowedMembers<'p, D> {
    type Item = (&'p KeyOf<D>, Borrowed<'p, D>);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(key, value)| (key, Borrowed(value)))
    }
}
