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
//! The pseudo-code recurses once per nesting level; [`merge_in_place`] and [`merge_ref`] walk
//! the patch with an explicit stack instead, so a patch nested 100,000 levels deep needs no
//! more than a few hundred bytes of native stack. Each patch member costs one lookup in the
//! target object it addresses (two for a member whose value is an object: one to take the
//! target's child out, one to put the merged child back); nothing is proportional to the size
//! of the target.
//!
//! Implement [`Document`] and [`Object`] for your own JSON tree to get the rule for it; the
//! crate's `serde_json` feature does so for `serde_json::Value`.

use alloc::vec::Vec;
use core::borrow::Borrow;
use core::mem;

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
    /// This value as an owned object, or the value back when it is not an object.
    fn into_object(self) -> Result<Self::Object, Self>;
    /// Wraps an object as a document.
    fn from_object(object: Self::Object) -> Self;

    /// Drops a value the rule replaced or removed. The default is `drop`; a document whose
    /// `Drop` recurses once per nesting level (like `serde_json::Value`) can take deep values
    /// apart iteratively here, so that replacing a deeply nested value cannot overflow the stack.
    fn discard(self) {
        drop(self);
    }

    /// A copy of this value, for [`merge_ref`] to insert. The default is `clone`; a document
    /// whose `Clone` recurses once per nesting level can copy deep values iteratively here.
    fn duplicate(&self) -> Self
    where
        Self: Clone,
    {
        self.clone()
    }
}

/// A JSON object: a map from member names to documents.
///
/// Order-preserving implementations must keep the order rules the crate documents: `insert`
/// of an existing key replaces its value in place, `insert` of a new key appends, `remove`
/// keeps the relative order of the remaining members. The values that `insert` replaces and
/// `remove` removes are the implementation's to drop (see [`Document::discard`]).
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
    /// Removes member `key` if present, keeping the order of the others.
    fn remove(&mut self, key: &Self::Key);
    /// Consumes the object, yielding its members.
    fn into_members(self) -> Self::IntoMembers;
    /// Iterates over the members by reference.
    fn members(&self) -> Self::Members<'_>;
}

/// Merges `patch` into `target` in place (RFC 7396 section 2), moving the patch's subtrees
/// into the target: nothing is cloned and no member name is allocated.
///
/// Cost: one lookup in the addressed target object per patch member (two for members whose
/// value is an object), plus dropping what the patch replaces or removes. Native stack use does
/// not grow with nesting depth.
pub fn merge_in_place<D: Document>(target: &mut D, patch: D) {
    run::<D, Owned<D>>(target, Owned(patch));
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
    run::<D, Borrowed<'_, D>>(target, Borrowed(patch));
}

/// What the rule needs from a patch node: whether it is `null`, an object (whose members it
/// walks), or any other value (which it stores as the new target value).
enum Node<M, D> {
    Null,
    Object(M),
    Value(D),
}

type KeyOf<D> = <<D as Document>::Object as Object>::Key;

/// A patch read either by value ([`Owned`]) or by reference ([`Borrowed`]), so that the rule
/// below is written once for both.
trait Patch<D: Document>: Sized {
    type Key: Borrow<KeyOf<D>>;
    type Members: Iterator<Item = (Self::Key, Self)>;
    fn into_node(self) -> Node<Self::Members, D>;
    /// Stores `value` as member `key` of `object`.
    fn store(object: &mut D::Object, key: Self::Key, value: D);
}

/// The rule: an explicit stack of (target object, remaining patch members, name of the slot
/// in the parent) replaces the recursion of the RFC's pseudo-code.
fn run<D: Document, P: Patch<D>>(target: &mut D, patch: P) {
    let members = match patch.into_node() {
        Node::Object(members) => members,
        Node::Null => return mem::replace(target, D::null()).discard(),
        Node::Value(value) => return mem::replace(target, value).discard(),
    };
    let root = object_or_empty(mem::replace(target, D::null()));
    let mut stack = Vec::new();
    let mut frame = Frame::<D, P> {
        slot: None,
        target: root,
        members,
    };
    loop {
        match frame.members.next() {
            Some((key, value)) => match value.into_node() {
                Node::Null => frame.target.remove(key.borrow()),
                Node::Value(value) => P::store(&mut frame.target, key, value),
                Node::Object(members) => {
                    let child = match frame.target.get_mut(key.borrow()) {
                        Some(slot) => object_or_empty(mem::replace(slot, D::null())),
                        None => D::Object::new(),
                    };
                    let parent = mem::replace(
                        &mut frame,
                        Frame {
                            slot: Some(key),
                            target: child,
                            members,
                        },
                    );
                    stack.push(parent);
                }
            },
            None => {
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
    slot: Option<P::Key>,
    target: D::Object,
    members: P::Members,
}

/// The object `value` is, or `{}` when it is not an object (which is then discarded).
fn object_or_empty<D: Document>(value: D) -> D::Object {
    value.into_object().unwrap_or_else(|other| {
        other.discard();
        D::Object::new()
    })
}

struct Owned<D>(D);

impl<D: Document> Patch<D> for Owned<D> {
    type Key = KeyOf<D>;
    type Members = OwnedMembers<D>;

    fn into_node(self) -> Node<Self::Members, D> {
        if self.0.is_null() {
            return Node::Null;
        }
        match self.0.into_object() {
            Ok(object) => Node::Object(OwnedMembers(object.into_members())),
            Err(value) => Node::Value(value),
        }
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
    type Members = BorrowedMembers<'p, D>;

    fn into_node(self) -> Node<Self::Members, D> {
        if self.0.is_null() {
            return Node::Null;
        }
        match self.0.as_object() {
            Some(object) => Node::Object(BorrowedMembers(object.members())),
            None => Node::Value(self.0.duplicate()),
        }
    }

    fn store(object: &mut D::Object, key: Self::Key, value: D) {
        match object.get_mut(key) {
            Some(slot) => *slot = value,
            None => object.insert(key.clone(), value),
        }
    }
}

struct BorrowedMembers<'p, D: Document + 'p>(<D::Object as Object>::Members<'p>);

impl<'p, D: Document + 'p> Iterator for BorrowedMembers<'p, D> {
    type Item = (&'p KeyOf<D>, Borrowed<'p, D>);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(key, value)| (key, Borrowed(value)))
    }
}
