//! # metamerge
//!
//! JSON Merge Patch ([RFC 7396]), which is also [Clerk]'s rule for updating user and
//! organization membership metadata: merging a *merge patch* into a *target* merges nested
//! objects recursively, a `null` in the patch removes that key at any level, and any other patch
//! value (arrays included) replaces the target value. A patch that is not an object replaces the
//! whole target.
//!
//! The example from RFC 7396 section 1:
//!
//! ```
//! use serde_json::json;
//!
//! let target = json!({ "a": "b", "c": { "d": "e", "f": "g" } });
//! let patch = json!({ "a": "z", "c": { "f": null } });
//! assert_eq!(metamerge::merge(target, patch), json!({ "a": "z", "c": { "d": "e" } }));
//! ```
//!
//! ## The rule, precisely (RFC 7396 section 2)
//!
//! - If the patch is an object: a target that is not an object becomes `{}` first; then, for
//!   each patch member, `null` removes that key from the target (if present) and any other value
//!   is merged into the target's value for that key (an absent key counts as `null`).
//! - If the patch is not an object (string, number, boolean, array, `null`), it replaces the
//!   target whole.
//!
//! Consequences worth knowing:
//!
//! ```
//! use serde_json::json;
//! use metamerge::merge;
//!
//! // nulls inside a *new* object are pruned ...
//! assert_eq!(merge(json!({}), json!({ "a": { "b": null, "c": 1 } })), json!({ "a": { "c": 1 } }));
//! // ... but nulls inside arrays are kept: arrays are values, never merged
//! assert_eq!(merge(json!({}), json!({ "a": [null, { "b": null }] })), json!({ "a": [null, { "b": null }] }));
//! // an object patch over a string member starts from {}
//! assert_eq!(merge(json!({ "a": "s" }), json!({ "a": { "b": 1 } })), json!({ "a": { "b": 1 } }));
//! // a root patch of null or "bar" replaces the document
//! assert_eq!(merge(json!({ "a": 1 }), json!(null)), json!(null));
//! assert_eq!(merge(json!({ "a": 1 }), json!("bar")), json!("bar"));
//! // keys compare exactly; "__proto__" and "" are ordinary keys
//! assert_eq!(
//!     merge(json!({ "A": 1 }), json!({ "a": 2, "__proto__": {}, "": 0 })),
//!     json!({ "A": 1, "a": 2, "__proto__": {}, "": 0 })
//! );
//! ```
//!
//! ## API
//!
//! | function | target | patch | cost beyond the lookups |
//! |---|---|---|---|
//! | [`merge`] | by value, returned | by value: subtrees are moved | none |
//! | [`merge_in_place`] | `&mut Value` | by value: subtrees are moved | none |
//! | [`merge_ref`] | `&mut Value` | `&Value` | clones of what it inserts |
//!
//! Each costs one map lookup per patch member (two for object members the target lacks) and,
//! with the default `BTreeMap` maps, nothing proportional to the size of the target (under
//! `preserve_order` a removal shifts the later members of its object: see [`merge`]). None
//! recurses more than 64 levels deep: a patch nested 100,000 levels deep merges on a 2 MiB
//! thread stack.
//!
//! The rule itself lives in [`rule`], which depends on no crate and is generic over the small
//! [`rule::Document`] and [`rule::Object`] traits; the functions above are its adapter for
//! `serde_json::Value` (default feature `serde_json`).
//!
//! The algebra of merge patches, both returning [`Unrepresentable`] (with the JSON Pointer
//! of the place) where no merge patch exists rather than a wrong one:
//!
//! | function | gives | fails when |
//! |---|---|---|
//! | [`diff`]`(&source, &target)` | the minimal patch `p` with `merge(source, p) == target` | `target` holds a `null` member that `source` does not |
//! | [`compose`]`(&first, &second)` | one patch equivalent to `first` then `second` on any document | `second` merges an object where `first` set a non-object |
//!
//! ## Key order and numbers
//!
//! With the `preserve_order` feature (forwarded to serde_json), key order follows the rule an
//! order-preserving merge must keep: surviving keys keep their relative order, a replaced key
//! keeps its position, new keys are appended in patch order. With `arbitrary_precision`
//! (forwarded too), numbers such as `18446744073709551616`, `-0.0` or `1e400` pass through
//! exactly, never rounded through `f64` nor turned into `null`; serde_json only respells an
//! exponent in canonical form (`1e400` is written `1e+400`, `1E5` is `1e+5`). The `cli`
//! feature turns on both.
//!
//! [RFC 7396]: https://www.rfc-editor.org/rfc/rfc7396
//! [Clerk]: https://clerk.com/docs/references/backend/organization/update-organization-membership-metadata
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod rule;

#[cfg(feature = "serde_json")]
mod error;
#[cfg(feature = "serde_json")]
mod stream;
#[cfg(feature = "serde_json")]
mod value;

#[cfg(feature = "serde_json")]
pub use error::{Error, ErrorKind};
#[cfg(feature = "serde_json")]
pub use stream::{merge_slice, merge_str, parse_slice};
#[cfg(feature = "serde_json")]
pub use value::{merge, merge_in_place, merge_ref};

#[cfg(feature = "serde_json")]
mod compose;
#[cfg(feature = "serde_json")]
mod diff;
#[cfg(feature = "serde_json")]
mod tree;
#[cfg(feature = "serde_json")]
mod unrepresentable;

#[cfg(feature = "serde_json")]
pub use compose::compose;
#[cfg(feature = "serde_json")]
pub use diff::diff;
#[cfg(feature = "serde_json")]
pub use tree::{find_reserved_member_name, RESERVED_MEMBER_NAMES};
#[cfg(feature = "serde_json")]
pub use unrepresentable::{Reason, Unrepresentable};

/// The README's Rust examples, run as doctests so that they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(feature = "http")]
pub mod http;
