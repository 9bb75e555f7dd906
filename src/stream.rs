//! Streaming merge (feature `serde_json`): applies a merge patch straight from its JSON text,
//! while serde_json parses it, without building the patch as a `Value` first.
//!
//! # How
//!
//! The patch is read with serde's [`DeserializeSeed`]: the seed for a patch object carries the
//! target object it addresses, and each member is applied as soon as it has been parsed. Member
//! names are looked up in the target as the `&str` borrowed from the input (serde_json lends it
//! unless the name contains escapes); a name is allocated only when it is new to the target.
//! Values that replace (strings, numbers, booleans, arrays, and objects under keys the target
//! lacks or holds a non-object at) are built once, in place.
//!
//! # The rule, a second time
//!
//! This module cannot use the generic [`rule`](crate::rule) (which walks a patch that already
//! exists as a tree), so it repeats the few lines of RFC 7396 section 2 it needs, in
//! [`Member::leaf`] and [`Member::object`]: `null` removes the key; an object merges into the
//! target's object at that key (a missing or non-object value counts as `{}`); anything else
//! replaces. It must give exactly the results of
//! `merge(target, serde_json::from_slice(patch)?)`, key order under `preserve_order` and number
//! literals under `arbitrary_precision` included; `tests/stream.rs` runs the vector suite and a
//! property test through both to hold it to that. Removal mirrors `src/value.rs`:
//! `shift_remove` under `preserve_order`, and an order-keeping fallback if another crate turned
//! on `serde_json/preserve_order` without ours.
//!
//! # Atomicity
//!
//! Every change made to the target is recorded in an undo log (the old value is moved into the
//! log, not copied; changes inside a member the patch created are not recorded, since undoing
//! the creation undoes them). If anything fails, be it a syntax error at any byte, a number out
//! of range, nesting of 128 levels or more (serde_json's limit), a duplicate key or trailing
//! characters, the log is replayed backwards and the target is exactly as it was before the
//! call, key order included. On success the log is dropped, which drops the replaced values,
//! as a merge would have.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::mem;
use std::sync::OnceLock;

use serde::de::value::{CowStrDeserializer, MapAccessDeserializer};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

use crate::error::Error;

/// Merges the merge patch given as JSON bytes into `target`, applying it while it is parsed
/// (RFC 7396 section 2; Clerk's metadata-update rule).
///
/// The result is exactly that of `metamerge::merge(target, serde_json::from_slice(patch)?)`,
/// with the same key order under `preserve_order` and the same number literals under
/// `arbitrary_precision`, but the patch is never built as a `Value`: each member is applied
/// as soon as it has been read, looked up in the target by the name borrowed from `patch`.
/// Arrays, scalars and objects under keys the target lacks are built once, in place.
///
/// # Errors
///
/// Returns an [`Error`] with line and column, and leaves `target` exactly as it was (key order
/// included), when `patch` is not one valid JSON text (RFC 8259; whitespace around it is
/// allowed), holds a number serde_json cannot represent (`1e400` without
/// `arbitrary_precision`), nests 128 levels or more (serde_json's limit), or repeats a member
/// name within one object, anywhere in the patch ([`ErrorKind::DuplicateKey`], I-JSON,
/// RFC 7493 section 2.3).
///
/// # Cost
///
/// One UTF-8 check of the whole of `patch`, then one parse of it as text (so strings are not
/// checked again one by one), plus, per patch member, one lookup in the target object it
/// addresses (two for a name new to the target: O(log n) each with the default `BTreeMap`, O(1)
/// expected with `preserve_order`, where a removal also shifts the later members of its
/// object) and a duplicate check against the earlier members of the same patch object (a
/// scan for up to 16 members, then a hash set; in objects the patch creates, the insert
/// itself). Memory: the values built for insertion, plus an undo log of one entry per change
/// to pre-existing target members. Native stack grows with the nesting depth of the patch,
/// which serde_json caps at 127 levels. A rejected patch costs one more parse when the
/// duplicate was noticed only as its value was stored (to name it and point at it), plus
/// undoing what was applied.
///
/// [`ErrorKind::DuplicateKey`]: crate::ErrorKind::DuplicateKey
///
/// # Examples
///
/// Clerk's example from "Update an organization membership's metadata", with the patch as the
/// request body arrives:
///
/// ```
/// use serde_json::json;
///
/// let mut public_metadata = json!({ "example": "some value", "plan": "pro" });
/// metamerge::merge_slice(&mut public_metadata, br#"{ "example": "this value is updated!" }"#)?;
/// assert_eq!(public_metadata, json!({ "example": "this value is updated!", "plan": "pro" }));
///
/// // A bad patch changes nothing, even though its first member was already applied.
/// let err = metamerge::merge_slice(&mut public_metadata, br#"{ "plan": null, "seats": 5, }"#)
///     .unwrap_err();
/// assert_eq!((err.line(), err.column()), (1, 29));
/// assert_eq!(public_metadata, json!({ "example": "this value is updated!", "plan": "pro" }));
/// # Ok::<(), metamerge::Error>(())
/// ```
pub fn merge_slice(target: &mut Value, patch: &[u8]) -> Result<(), Error> {
    apply_bytes(target, patch, false).map(drop)
}

/// Merges the merge patch given as JSON text into `target`, applying it while it is parsed
/// (RFC 7396 section 2).
///
/// The same rule, errors and cost as [`merge_slice`], for a patch already known to be UTF-8.
///
/// # Examples
///
/// ```
/// use serde_json::json;
///
/// let mut target = json!({ "theme": { "color": "red", "font": "serif" }, "beta": true });
/// metamerge::merge_str(&mut target, r#"{ "theme": { "font": null }, "seats": 5 }"#)?;
/// assert_eq!(target, json!({ "theme": { "color": "red" }, "beta": true, "seats": 5 }));
///
/// let err = metamerge::merge_str(&mut target, r#"{ "beta": 1, "beta": null }"#).unwrap_err();
/// assert_eq!(err.duplicate_key(), Some("beta"));
/// assert_eq!(target["beta"], json!(true));
/// # Ok::<(), metamerge::Error>(())
/// ```
pub fn merge_str(target: &mut Value, patch: &str) -> Result<(), Error> {
    apply(
        target,
        serde_json::Deserializer::from_str(patch),
        patch.as_bytes(),
        false,
    )
    .map(drop)
}

/// Parses one JSON text into a `Value`, as `serde_json::from_slice` does, except that a member
/// name repeated within one object is an error instead of the last one silently winning
/// (I-JSON, RFC 7493 section 2.3).
///
/// Use it for documents whose duplicate keys would otherwise be lost without a word: the
/// inputs of [`diff`](crate::diff) and [`compose`](crate::compose), or a target read from a
/// file. (A merge patch is better applied straight from its bytes with [`merge_slice`], which
/// rejects duplicates the same way.) The value is built exactly as `serde_json::from_slice`
/// builds it: the same key order under `preserve_order` and number literals under
/// `arbitrary_precision`.
///
/// # Errors
///
/// An [`Error`] with line and column when `json` is not one valid JSON text (RFC 8259;
/// whitespace around it is allowed), holds a number serde_json cannot represent, nests deeper
/// than serde_json's limit (127 levels), or repeats a member name within one object, anywhere
/// ([`ErrorKind::DuplicateKey`], naming the key, at its second occurrence).
///
/// [`ErrorKind::DuplicateKey`]: crate::ErrorKind::DuplicateKey
///
/// # Cost
///
/// One UTF-8 check of the whole input, then one parse, building the value as `from_slice`
/// would (one map insert per member, which is also the duplicate check); when a duplicate is
/// found, one more parse to name it and point at it.
///
/// # Examples
///
/// ```
/// use serde_json::json;
///
/// let doc = metamerge::parse_slice(br#"{ "plan": "pro", "seats": [1, 2] }"#)?;
/// assert_eq!(doc, json!({ "plan": "pro", "seats": [1, 2] }));
///
/// // serde_json::from_slice would keep `"plan": null` and drop "pro" without a word.
/// let err = metamerge::parse_slice(b"{\n  \"plan\": \"pro\",\n  \"plan\": null\n}").unwrap_err();
/// assert_eq!(err.kind(), metamerge::ErrorKind::DuplicateKey);
/// assert_eq!(err.duplicate_key(), Some("plan"));
/// assert_eq!((err.line(), err.column()), (3, 8));
/// # Ok::<(), metamerge::Error>(())
/// ```
pub fn parse_slice(json: &[u8]) -> Result<Value, Error> {
    // As in `apply_bytes`: UTF-8 checked once, then read as text.
    match std::str::from_utf8(json) {
        Ok(text) => parse(serde_json::Deserializer::from_str(text), json),
        Err(_) => parse(serde_json::Deserializer::from_slice(json), json),
    }
}

fn parse<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    json: &[u8],
) -> Result<Value, Error> {
    let mut log = Log::building();
    let result = Any(Build { log: &mut log })
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
    result.map_err(|err| log.into_error(err, json, IN_DOCUMENT))
}

/// As [`merge_slice`], and also returns the names of the patch's top-level members in patch
/// order (empty when the patch is not an object), for callers that validate them: the `http`
/// service rejects unknown top-level fields, even those whose `null` leaves no trace in the
/// result.
#[cfg(feature = "http")]
pub(crate) fn merge_slice_top_level(
    target: &mut Value,
    patch: &[u8],
) -> Result<Vec<String>, Error> {
    apply_bytes(target, patch, true)
}

/// What duplicate-key messages call the object: a merge patch's, or any JSON document's.
const IN_PATCH: &str = "a merge patch object";
const IN_DOCUMENT: &str = "a JSON object";

/// [`apply`] to a patch given as bytes. Valid UTF-8 (nearly every patch) is checked once, as a
/// whole, and then read as text, which spares serde_json checking every string again as it reads
/// it; anything else is read as bytes, so that serde_json reports the first error in reading
/// order, with its line and column, exactly as `from_slice` would.
fn apply_bytes(target: &mut Value, patch: &[u8], top_level: bool) -> Result<Vec<String>, Error> {
    match std::str::from_utf8(patch) {
        Ok(text) => apply(
            target,
            serde_json::Deserializer::from_str(text),
            patch,
            top_level,
        ),
        Err(_) => apply(
            target,
            serde_json::Deserializer::from_slice(patch),
            patch,
            top_level,
        ),
    }
}

fn apply<'de, R>(
    target: &mut Value,
    mut de: serde_json::Deserializer<R>,
    patch: &[u8],
    top_level: bool,
) -> Result<Vec<String>, Error>
where
    R: serde_json::de::Read<'de>,
{
    let mut log = Log::new(top_level);
    let result = Any(Root {
        log: &mut log,
        target,
    })
    .deserialize(&mut de)
    .and_then(|replacement| de.end().map(|()| replacement));
    match result {
        // A patch that is not an object replaces the target, once all of it has been read.
        Ok(Some(replacement)) => *target = replacement,
        Ok(None) => {}
        Err(err) => {
            let undo = mem::replace(&mut log.undo, UndoLog::empty());
            let error = log.into_error(err, patch, IN_PATCH);
            undo.roll_back(target);
            return Err(error);
        }
    }
    Ok(log.top_level.unwrap_or_default())
}

/// State shared by the whole walk: the undo log, the member names seen in the patch objects
/// being walked, and the name of a duplicate key once one is found.
struct Log<'de> {
    undo: UndoLog<'de>,
    /// Names of the members read so far in each patch object on the current path, outermost
    /// first; each [`Seen`] knows where its object's names start.
    names: Vec<Cow<'de, str>>,
    duplicate_key: Option<String>,
    /// A duplicate was found by a map insert (inside an array), which does not tell the name.
    duplicate_unnamed: bool,
    /// Where to record the names of the patch's top-level members, if asked.
    top_level: Option<Vec<String>>,
    /// Set by [`Root`] just before it walks the top-level object; taken by that walk.
    at_root: bool,
}

/// The undo log: a stack of [`Undo`] entries kept in chunks of under 1 KiB, so that it grows
/// without copying itself and without the large allocations that make glibc's `malloc`
/// consolidate its free lists (which, right after a large document was dropped, costs more
/// than the whole log).
struct UndoLog<'de> {
    newest: Vec<Undo<'de>>,
    older: Vec<Vec<Undo<'de>>>,
}

impl<'de> UndoLog<'de> {
    const CHUNK: usize = {
        let entries = 960 / mem::size_of::<Undo<'static>>();
        if entries == 0 {
            1
        } else {
            entries
        }
    };

    fn new() -> Self {
        UndoLog {
            newest: Vec::with_capacity(Self::CHUNK),
            older: Vec::new(),
        }
    }

    /// A log with no chunk allocated, for a walk that records nothing (or to take a log's
    /// place once it is done).
    fn empty() -> Self {
        UndoLog {
            newest: Vec::new(),
            older: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, entry: Undo<'de>) {
        if self.newest.len() == Self::CHUNK {
            self.next_chunk();
        }
        self.newest.push(entry);
    }

    /// Files the full newest chunk under `older` and starts an empty one.
    #[cold]
    #[inline(never)]
    fn next_chunk(&mut self) {
        let full = mem::replace(&mut self.newest, Vec::with_capacity(Self::CHUNK));
        self.older.push(full);
    }

    fn pop(&mut self) -> Option<Undo<'de>> {
        if self.newest.is_empty() {
            self.newest = self.older.pop()?;
        }
        self.newest.pop()
    }

    fn len(&self) -> usize {
        self.older.len() * Self::CHUNK + self.newest.len()
    }

    /// Records that the object entered by the `Enter` at position `at` ends at the current
    /// end of the log.
    fn close(&mut self, at: usize) {
        let end = self.len();
        let (chunk, offset) = (at / Self::CHUNK, at % Self::CHUNK);
        let entry = match self.older.get_mut(chunk) {
            Some(older) => &mut older[offset],
            None => &mut self.newest[offset],
        };
        match entry {
            Undo::Enter(_, span_end) => *span_end = end,
            _ => debug_assert!(
                false,
                "entry {at} of the undo log is not the Enter pushed there"
            ),
        }
    }

    /// All entries, oldest first.
    fn into_vec(self) -> Vec<Undo<'de>> {
        let mut all = Vec::with_capacity(self.len());
        for chunk in self.older {
            all.extend(chunk);
        }
        all.extend(self.newest);
        all
    }
}

/// One change to the target, with what is needed to reverse it. Names are borrowed from the
/// patch where possible.
enum Undo<'de> {
    /// The target was not an object and was replaced by `{}` for an object patch.
    Root(Value),
    /// The member was absent and has been added (as the last member).
    Inserted(Cow<'de, str>),
    /// The member's value was replaced; this is the old value.
    Replaced(Cow<'de, str>, Value),
    /// The member was removed from position `index`.
    Removed {
        key: String,
        index: usize,
        value: Value,
    },
    /// The entries after this one, up to (not including) position `end` of the log, apply
    /// inside the object at this member. `end` is [`OPEN`] while that object is being walked.
    Enter(Cow<'de, str>, usize),
    /// Only in the log [`UndoLog::roll_back`] rebuilds: the object entered by the matching
    /// `Enter` ends here. (The walk records an object's end in its `Enter` instead of pushing
    /// an entry, which keeps the log a third shorter for patches of nested updates.)
    Exit(Cow<'de, str>),
}

/// The `end` of an [`Undo::Enter`] whose object is still being walked.
const OPEN: usize = usize::MAX;

impl<'de> Log<'de> {
    /// For applying a patch. `top_level`: record the names of the patch's top-level members.
    fn new(top_level: bool) -> Self {
        Self::with(UndoLog::new(), Vec::with_capacity(32), top_level)
    }

    /// For building a value ([`parse_slice`]), which records no change and no name stack:
    /// nothing is allocated for them.
    fn building() -> Self {
        Self::with(UndoLog::empty(), Vec::new(), false)
    }

    fn with(undo: UndoLog<'de>, names: Vec<Cow<'de, str>>, top_level: bool) -> Self {
        Log {
            undo,
            names,
            duplicate_key: None,
            duplicate_unnamed: false,
            top_level: top_level.then(Vec::new),
            at_root: false,
        }
    }

    fn duplicate<E: de::Error>(&mut self, key: &str) -> E {
        self.duplicate_key = Some(key.to_owned());
        duplicate_error(key, IN_PATCH)
    }

    /// The [`Error`] for `err`, the first failure while reading `json`. A duplicate found where
    /// values are built without a name at hand is named and located by reading `json` again.
    fn into_error(self, mut err: serde_json::Error, json: &[u8], within: &str) -> Error {
        let mut duplicate_key = self.duplicate_key;
        if self.duplicate_unnamed {
            if let Some((located, key)) = locate_duplicate(json, within) {
                (err, duplicate_key) = (located, Some(key));
            }
        }
        Error::new(err, duplicate_key)
    }

    /// A duplicate noticed only when its value was stored, past the repeated name: `apply`
    /// reads the patch again to name it and point at it.
    fn duplicate_found_late<E: de::Error>(&mut self) -> E {
        self.duplicate_unnamed = true;
        E::custom("duplicate key in a merge patch object")
    }
}

impl UndoLog<'_> {
    /// Reverses every change recorded, newest first.
    fn roll_back(self, target: &mut Value) {
        let mut undo = self.into_vec();
        if let Some(Undo::Root(_)) = undo.first() {
            // Everything after it happened inside the `{}` that replaced the root.
            if let Undo::Root(old) = undo.swap_remove(0) {
                *target = old;
            }
            return;
        }
        // Put an `Exit` where each entered object ends, and close the objects the walk was
        // inside when it failed (their `end` is still `OPEN`) at the end of the log.
        let len = undo.len();
        let mut with_exits = Vec::with_capacity(len * 2);
        let mut open: Vec<(usize, Cow<'_, str>)> = Vec::new();
        for (position, entry) in undo.into_iter().enumerate() {
            while open.last().is_some_and(|&(end, _)| end == position) {
                let (_, key) = open.pop().expect("just checked");
                with_exits.push(Undo::Exit(key));
            }
            if let Undo::Enter(key, end) = &entry {
                open.push((*end, key.clone()));
            }
            with_exits.push(entry);
        }
        with_exits.extend(open.into_iter().rev().map(|(_, key)| Undo::Exit(key)));
        let undo = with_exits;
        if let Value::Object(object) = target {
            roll_back_object(object, &mut undo.into_iter().rev());
        }
    }
}

/// Reverses the entries of one target object, reading the log backwards until the `Enter`
/// that opened it (or the start of the log, for the root).
fn roll_back_object<'de>(
    object: &mut Map<String, Value>,
    log: &mut impl Iterator<Item = Undo<'de>>,
) {
    while let Some(entry) = log.next() {
        match entry {
            Undo::Enter(..) => return,
            Undo::Exit(key) => match object.get_mut(&*key) {
                Some(Value::Object(child)) => roll_back_object(child, log),
                // Cannot happen: only the walk of that member changed it, and it keeps it an
                // object. Consume its entries anyway so that the others stay in step.
                _ => roll_back_object(&mut Map::new(), log),
            },
            Undo::Inserted(key) => {
                // It is the last member again by now, so no removal shifts anything.
                #[cfg(feature = "preserve_order")]
                object.shift_remove(&*key);
                #[cfg(not(feature = "preserve_order"))]
                object.remove(&*key);
            }
            Undo::Replaced(key, old) => {
                if let Some(slot) = object.get_mut(&*key) {
                    *slot = old;
                }
            }
            Undo::Removed { key, index, value } => restore(object, key, index, value),
            Undo::Root(_) => {}
        }
    }
}

/// Removes member `key`, keeping the order of the others, and returns its name, position and
/// value (as `src/value.rs` removes: `shift_remove` under `preserve_order`).
fn remove(object: &mut Map<String, Value>, key: &str) -> Option<(String, usize, Value)> {
    #[cfg(feature = "preserve_order")]
    {
        let index = object.keys().position(|name| name == key)?;
        let (key, value) = object.shift_remove_entry(key)?;
        Some((key, index, value))
    }
    #[cfg(not(feature = "preserve_order"))]
    {
        if remove_keeps_order() {
            let (key, value) = object.remove_entry(key)?;
            Some((key, 0, value))
        } else {
            let index = object.keys().position(|name| name == key)?;
            let mut removed = None;
            for (name, value) in mem::take(object) {
                if name == key {
                    removed = Some((name, index, value));
                } else {
                    object.insert(name, value);
                }
            }
            removed
        }
    }
}

/// Puts a removed member back at position `index`.
fn restore(object: &mut Map<String, Value>, key: String, index: usize, value: Value) {
    #[cfg(feature = "preserve_order")]
    object.shift_insert(index, key, value);
    #[cfg(not(feature = "preserve_order"))]
    if remove_keeps_order() {
        // A `BTreeMap`: the position is the key's.
        object.insert(key, value);
    } else {
        let mut members = mem::take(object).into_iter();
        object.extend(members.by_ref().take(index));
        object.insert(key, value);
        object.extend(members);
    }
}

/// Whether `Map::remove` keeps the order of the remaining members; the same probe as in
/// `src/value.rs`. It does unless another crate in the build turned on
/// `serde_json/preserve_order` without turning on ours, in which case it is `swap_remove`.
#[cfg(not(feature = "preserve_order"))]
fn remove_keeps_order() -> bool {
    static KEEPS_ORDER: OnceLock<bool> = OnceLock::new();
    *KEEPS_ORDER.get_or_init(|| {
        let mut probe = Map::new();
        for name in ["a", "b", "c"] {
            probe.insert(name.to_owned(), Value::Null);
        }
        probe.remove("a");
        probe.keys().map(String::as_str).eq(["b", "c"])
    })
}

/// Whether a first member name is one of the markers serde_json uses to pass special values
/// through serde as one-member maps (with `arbitrary_precision`, every number arrives as
/// `{"$serde_json::private::Number": "<literal>"}`), in this build. Such a map is handed to
/// `Value`'s own `Deserialize`, so that the value comes out exactly as `from_slice` makes it.
fn is_marker(key: &str) -> bool {
    const NUMBER: &str = "$serde_json::private::Number";
    const RAW_VALUE: &str = "$serde_json::private::RawValue";
    static NUMBER_IS_MARKER: OnceLock<bool> = OnceLock::new();
    static RAW_VALUE_IS_MARKER: OnceLock<bool> = OnceLock::new();
    let probe = |marker: &str| {
        // With the serde_json feature that uses the marker on, `Value` reads this as a
        // number; without it, as an ordinary object.
        let text = format!("{{\"{marker}\":\"0\"}}");
        !matches!(serde_json::from_str::<Value>(&text), Ok(Value::Object(_)))
    };
    match key {
        NUMBER => *NUMBER_IS_MARKER.get_or_init(|| probe(NUMBER)),
        RAW_VALUE => *RAW_VALUE_IS_MARKER.get_or_init(|| probe(RAW_VALUE)),
        _ => false,
    }
}

/// Where a patch value goes: the whole target ([`Root`]), a member of a target object
/// ([`Member`]), or a new value being built ([`Build`], inside arrays).
trait Sink<'de>: Sized {
    type Out;
    fn log(&mut self) -> &mut Log<'de>;
    /// A patch value that is not an object (`null` included), already built.
    fn leaf<E: de::Error>(self, value: Value) -> Result<Self::Out, E>;
    /// A patch object whose first member name (if any) has been read.
    fn object<A: MapAccess<'de>>(
        self,
        first: Option<Cow<'de, str>>,
        members: A,
    ) -> Result<Self::Out, A::Error>;
}

/// The seed and visitor for any patch value, handing it to its [`Sink`]. Non-object values are
/// built exactly as `Value`'s own `Deserialize` builds them.
struct Any<S>(S);

impl<'de, S: Sink<'de>> DeserializeSeed<'de> for Any<S> {
    type Value = S::Out;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Out, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: Sink<'de>> Visitor<'de> for Any<S> {
    type Value = S::Out;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any valid JSON value")
    }

    #[inline]
    fn visit_bool<E: de::Error>(self, value: bool) -> Result<S::Out, E> {
        self.0.leaf(Value::Bool(value))
    }

    #[inline]
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<S::Out, E> {
        self.0.leaf(Value::Number(value.into()))
    }

    #[inline]
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<S::Out, E> {
        self.0.leaf(Value::Number(value.into()))
    }

    #[inline]
    fn visit_i128<E: de::Error>(self, value: i128) -> Result<S::Out, E> {
        let number = Number::deserialize(de::value::I128Deserializer::<E>::new(value))?;
        self.0.leaf(Value::Number(number))
    }

    #[inline]
    fn visit_u128<E: de::Error>(self, value: u128) -> Result<S::Out, E> {
        let number = Number::deserialize(de::value::U128Deserializer::<E>::new(value))?;
        self.0.leaf(Value::Number(number))
    }

    #[inline]
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<S::Out, E> {
        self.0
            .leaf(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    #[inline]
    fn visit_str<E: de::Error>(self, value: &str) -> Result<S::Out, E> {
        self.0.leaf(Value::String(value.to_owned()))
    }

    #[inline]
    fn visit_string<E: de::Error>(self, value: String) -> Result<S::Out, E> {
        self.0.leaf(Value::String(value))
    }

    #[inline]
    fn visit_unit<E: de::Error>(self) -> Result<S::Out, E> {
        self.0.leaf(Value::Null)
    }

    #[inline]
    fn visit_none<E: de::Error>(self) -> Result<S::Out, E> {
        self.0.leaf(Value::Null)
    }

    #[inline]
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Out, D::Error> {
        deserializer.deserialize_any(self)
    }

    #[inline]
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut elements: A) -> Result<S::Out, A::Error> {
        let mut array = Vec::new();
        while let Some(element) = elements.next_element_seed(Any(Build { log: self.0.log() }))? {
            array.push(element);
        }
        self.0.leaf(Value::Array(array))
    }

    #[inline]
    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<S::Out, A::Error> {
        match members.next_key_seed(Name)? {
            Some(first) if is_marker(&first) => {
                let value = Value::deserialize(MapAccessDeserializer::new(Replay {
                    first: Some(first),
                    members,
                }))?;
                self.0.leaf(value)
            }
            first => self.0.object(first, members),
        }
    }
}

/// The seed for a member name: borrowed from the input when serde_json can lend it.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a member name")
    }

    fn visit_borrowed_str<E: de::Error>(self, name: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(name))
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(name.to_owned()))
    }

    fn visit_string<E: de::Error>(self, name: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(name))
    }
}

/// The seed for a member name that is going to be stored anyway.
struct OwnedName;

impl<'de> DeserializeSeed<'de> for OwnedName {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for OwnedName {
    type Value = String;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<String, E> {
        Ok(name.to_owned())
    }

    fn visit_string<E: de::Error>(self, name: String) -> Result<String, E> {
        Ok(name)
    }
}

/// A map whose first member name has already been read, handed on whole.
struct Replay<'de, A> {
    first: Option<Cow<'de, str>>,
    members: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.first.take() {
            Some(name) => seed
                .deserialize(CowStrDeserializer::<A::Error>::new(name))
                .map(Some),
            None => self.members.next_key_seed(seed),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.members.next_value_seed(seed)
    }
}

/// The names read so far in one patch object, for the duplicate check: a scan of the shared
/// name stack while the object is small (skipped when a 64-bit summary of length and end
/// bytes shows the name is new), a hash set once it is not.
struct Seen<'de> {
    start: usize,
    summary: u64,
    set: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> Seen<'de> {
    /// Objects with more members than this switch from a scan to a hash set.
    const SCAN_LIMIT: usize = 16;

    fn new(log: &Log<'de>) -> Self {
        Seen {
            start: log.names.len(),
            summary: 0,
            set: None,
        }
    }

    /// One bit out of 64, from the name's length and first and last bytes.
    fn bit(name: &str) -> u64 {
        let bytes = name.as_bytes();
        let first = bytes.first().map_or(0, |&b| usize::from(b));
        let last = bytes.last().map_or(0, |&b| usize::from(b));
        1 << ((bytes.len().wrapping_mul(7) ^ first ^ last.wrapping_mul(5)) & 63)
    }

    /// Whether `name` has been recorded.
    #[inline]
    fn contains(&self, names: &[Cow<'de, str>], name: &str) -> bool {
        if self.summary == 0 {
            return false;
        }
        match &self.set {
            Some(set) => set.contains(name),
            None => {
                self.summary & Self::bit(name) != 0
                    && names[self.start..].iter().any(|seen| seen == name)
            }
        }
    }

    /// Records `name`; false if it was already there. The usual case (a small object, a name
    /// whose summary bit is new) is inlined; the rest is [`insert_slow`](Self::insert_slow).
    #[inline]
    fn insert(&mut self, names: &mut Vec<Cow<'de, str>>, name: Cow<'de, str>) -> bool {
        let bit = Self::bit(&name);
        if self.set.is_none()
            && self.summary & bit == 0
            && names.len() - self.start < Self::SCAN_LIMIT
        {
            self.summary |= bit;
            names.push(name);
            return true;
        }
        self.insert_slow(names, name, bit)
    }

    /// [`insert`](Self::insert) for a name that may repeat an earlier one, or in an object
    /// that has outgrown the scan.
    #[cold]
    #[inline(never)]
    fn insert_slow(
        &mut self,
        names: &mut Vec<Cow<'de, str>>,
        name: Cow<'de, str>,
        bit: u64,
    ) -> bool {
        if let Some(set) = &mut self.set {
            return set.insert(name);
        }
        let earlier = &names[self.start..];
        if self.summary & bit != 0 && earlier.contains(&name) {
            return false;
        }
        self.summary |= bit;
        if earlier.len() < Self::SCAN_LIMIT {
            names.push(name);
        } else {
            let mut set: HashSet<_> = names.drain(self.start..).collect();
            set.insert(name);
            self.set = Some(set);
        }
        true
    }

    fn end(self, log: &mut Log<'de>) {
        log.names.truncate(self.start);
    }
}

/// Applies the members of a patch object to the target object `object`, in patch order.
/// `fresh` means the patch created `object` (so nothing in it needs undoing).
fn walk<'de, A: MapAccess<'de>>(
    log: &mut Log<'de>,
    object: &mut Map<String, Value>,
    fresh: bool,
    first: Option<Cow<'de, str>>,
    mut members: A,
) -> Result<(), A::Error> {
    let mut seen = Seen::new(log);
    let root = mem::take(&mut log.at_root);
    let mut next = first;
    while let Some(key) = next {
        if root {
            if let Some(names) = &mut log.top_level {
                names.push(String::from(&*key));
            }
        }
        if fresh {
            // A repeat of a member stored in `object` is caught when it is stored; only the
            // names of `null` members, which are pruned, need remembering.
            if seen.contains(&log.names, &key) {
                return Err(log.duplicate(&key));
            }
        } else if !seen.insert(&mut log.names, key.clone()) {
            return Err(log.duplicate(&key));
        }
        let pruned = members.next_value_seed(Any(Member {
            log: &mut *log,
            parent: &mut *object,
            key,
            fresh,
        }))?;
        if let Some(name) = pruned {
            seen.insert(&mut log.names, name);
        }
        next = members.next_key_seed(Name)?;
    }
    seen.end(log);
    Ok(())
}

/// The whole target. A non-object patch is returned, to replace the target once the input has
/// been checked to its end; an object patch is applied as it is read.
struct Root<'l, 't, 'de> {
    log: &'l mut Log<'de>,
    target: &'t mut Value,
}

impl<'de> Sink<'de> for Root<'_, '_, 'de> {
    type Out = Option<Value>;

    fn log(&mut self) -> &mut Log<'de> {
        self.log
    }

    fn leaf<E: de::Error>(self, value: Value) -> Result<Option<Value>, E> {
        Ok(Some(value))
    }

    fn object<A: MapAccess<'de>>(
        self,
        first: Option<Cow<'de, str>>,
        members: A,
    ) -> Result<Option<Value>, A::Error> {
        let Root { log, target } = self;
        log.at_root = true;
        if let Value::Object(object) = target {
            walk(log, object, false, first, members)?;
        } else {
            // RFC 7396: a target that is not an object becomes {} first.
            let old = mem::replace(target, Value::Object(Map::new()));
            log.undo.push(Undo::Root(old));
            if let Value::Object(object) = target {
                walk(log, object, true, first, members)?;
            }
        }
        Ok(None)
    }
}

/// Member `key` of the target object `parent`.
struct Member<'l, 'p, 'de> {
    log: &'l mut Log<'de>,
    parent: &'p mut Map<String, Value>,
    key: Cow<'de, str>,
    /// The patch created `parent`: the key is absent and nothing needs undoing.
    fresh: bool,
}

/// A member that was `null` in an object the patch creates comes back as its name, for the
/// duplicate check: it is pruned, so the object does not remember it.
impl<'de> Sink<'de> for Member<'_, '_, 'de> {
    type Out = Option<Cow<'de, str>>;

    fn log(&mut self) -> &mut Log<'de> {
        self.log
    }

    /// RFC 7396: a `null` member removes the key; any other non-object value replaces.
    fn leaf<E: de::Error>(self, value: Value) -> Result<Self::Out, E> {
        let Member {
            log,
            parent,
            key,
            fresh,
        } = self;
        if fresh {
            if value.is_null() {
                if parent.contains_key(&*key) {
                    return Err(log.duplicate_found_late());
                }
                return Ok(Some(key));
            }
            match parent.entry(key) {
                Entry::Occupied(_) => return Err(log.duplicate_found_late()),
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
            }
        } else if value.is_null() {
            if let Some((key, index, value)) = remove(parent, &key) {
                log.undo.push(Undo::Removed { key, index, value });
            }
        } else if let Some(slot) = parent.get_mut(&*key) {
            let old = mem::replace(slot, value);
            log.undo.push(Undo::Replaced(key, old));
        } else {
            parent.insert(String::from(&*key), value);
            log.undo.push(Undo::Inserted(key));
        }
        Ok(None)
    }

    /// RFC 7396: an object member merges into the target's object at that key; a missing key
    /// or a non-object value starts from `{}`.
    fn object<A: MapAccess<'de>>(
        self,
        first: Option<Cow<'de, str>>,
        members: A,
    ) -> Result<Self::Out, A::Error> {
        let Member {
            log,
            parent,
            key,
            fresh,
        } = self;
        if fresh {
            let child = match parent.entry(key) {
                Entry::Occupied(_) => return Err(log.duplicate_found_late()),
                Entry::Vacant(slot) => slot.insert(Value::Object(Map::new())),
            };
            return match child {
                Value::Object(child) => walk(log, child, true, first, members).map(|()| None),
                _ => unreachable!("just inserted as an object"),
            };
        }
        match parent.get_mut(&*key) {
            Some(Value::Object(child)) => {
                let at = log.undo.len();
                log.undo.push(Undo::Enter(key, OPEN));
                walk(log, child, false, first, members)?;
                if log.undo.len() == at + 1 {
                    log.undo.pop();
                } else {
                    log.undo.close(at);
                }
            }
            Some(slot) => {
                let old = mem::replace(slot, Value::Object(Map::new()));
                log.undo.push(Undo::Replaced(key, old));
                match slot {
                    Value::Object(child) => walk(log, child, true, first, members)?,
                    _ => unreachable!("just replaced by an object"),
                }
            }
            None => {
                let child = new_object(parent, String::from(&*key));
                log.undo.push(Undo::Inserted(key));
                walk(log, child, true, first, members)?;
            }
        }
        Ok(None)
    }
}

/// Adds member `key` as `{}` (the key is absent) and returns that object.
fn new_object(parent: &mut Map<String, Value>, key: String) -> &mut Map<String, Value> {
    match parent
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
    {
        Value::Object(object) => object,
        _ => unreachable!("the key was absent"),
    }
}

/// A value inside an array of the patch, built as `Value`'s own `Deserialize` builds it, except
/// that a duplicate member name is an error.
struct Build<'l, 'de> {
    log: &'l mut Log<'de>,
}

impl<'de> Sink<'de> for Build<'_, 'de> {
    type Out = Value;

    fn log(&mut self) -> &mut Log<'de> {
        self.log
    }

    fn leaf<E: de::Error>(self, value: Value) -> Result<Value, E> {
        Ok(value)
    }

    fn object<A: MapAccess<'de>>(
        self,
        first: Option<Cow<'de, str>>,
        mut members: A,
    ) -> Result<Value, A::Error> {
        // As `Value`'s own `Deserialize` does: one insert per member. An insert that replaces
        // means a duplicate; `apply` then finds its name.
        let log = self.log;
        let mut object = Map::new();
        let mut next = first.map(Cow::into_owned);
        while let Some(key) = next {
            let value = members.next_value_seed(Any(Build { log: &mut *log }))?;
            if object.insert(key, value).is_some() {
                return Err(log.duplicate_found_late());
            }
            next = members.next_key_seed(OwnedName)?;
        }
        Ok(Value::Object(object))
    }
}

/// `within` is [`IN_PATCH`] or [`IN_DOCUMENT`].
fn duplicate_error<E: de::Error>(key: &str, within: &str) -> E {
    E::custom(format_args!(
        "duplicate key {key:?} in {within} (RFC 7493 section 2.3)"
    ))
}

/// Reads `json` again, checking every object for a repeated member name, and returns the
/// error for the first one (named, at its second occurrence) with the name. Only used once a
/// duplicate is known to exist.
fn locate_duplicate(json: &[u8], within: &str) -> Option<(serde_json::Error, String)> {
    let mut found = None;
    let mut de = serde_json::Deserializer::from_slice(json);
    match (Locate {
        found: &mut found,
        within,
    })
    .deserialize(&mut de)
    {
        Err(err) => found.map(|key| (err, key)),
        Ok(()) => None,
    }
}

/// Walks any JSON value, failing at the first member name repeated within one object.
struct Locate<'f, 'w> {
    found: &'f mut Option<String>,
    within: &'w str,
}

impl<'de> DeserializeSeed<'de> for Locate<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Locate<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any valid JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut elements: A) -> Result<(), A::Error> {
        while elements
            .next_element_seed(Locate {
                found: &mut *self.found,
                within: self.within,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        let mut names = HashSet::new();
        while let Some(name) = members.next_key_seed(Name)? {
            if names.contains(&name) {
                let err = duplicate_error(&name, self.within);
                *self.found = Some(name.into_owned());
                return Err(err);
            }
            names.insert(name);
            members.next_value_seed(Locate {
                found: &mut *self.found,
                within: self.within,
            })?;
        }
        Ok(())
    }
}
