//! The error of [`diff`](crate::diff) and [`compose`](crate::compose): what was asked has no
//! merge patch, and where.

use core::fmt;

/// No merge patch does what was asked: returned by [`diff`](crate::diff) and
/// [`compose`](crate::compose) instead of a patch that would do something else.
///
/// It names the place as a JSON Pointer ([RFC 6901]: member names joined by `/`, with `~`
/// written `~0` and `/` written `~1`; the empty pointer `""` is the document root) and the
/// [`Reason`].
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use metamerge::{diff, Reason};
///
/// let error = diff(&json!({ "a/b": { "~": 1 } }), &json!({ "a/b": { "~": null } })).unwrap_err();
/// assert_eq!(error.pointer(), "/a~1b/~0");
/// assert_eq!(error.reason(), Reason::NullMember);
/// assert!(error.to_string().starts_with("no merge patch can set /a~1b/~0 to null"));
/// ```
///
/// [RFC 6901]: https://www.rfc-editor.org/rfc/rfc6901
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unrepresentable {
    pointer: String,
    reason: Reason,
}

/// Why no merge patch exists (see [`Unrepresentable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// From [`diff`](crate::diff): the target holds `null` as the object member at the pointer
    /// and the source does not. A `null` member of a merge patch removes the member, and a
    /// merge never produces `null` any other way (RFC 7396 section 1: merge patch suits
    /// documents that "do not make use of explicit null values"), so no patch sets a member
    /// to `null`.
    NullMember,
    /// From [`compose`](crate::compose): the first patch sets the value at the pointer to
    /// something that is not an object (or removes it with `null`), and the second patch then
    /// merges an object into it. Applied one after the other, the value at the pointer becomes
    /// one fixed object whatever the document held there; a single merge patch can only merge
    /// an object into the value already there, which keeps that value's other members, or
    /// replace it with a non-object (RFC 7396 section 2). No single patch is equivalent.
    ObjectAfterReplacement,
}

impl Unrepresentable {
    /// Builds the error from the member names leading to the place (unescaped).
    pub(crate) fn new<'a>(path: impl IntoIterator<Item = &'a str>, reason: Reason) -> Self {
        let mut pointer = String::new();
        for name in path {
            pointer.push('/');
            for c in name.chars() {
                match c {
                    '~' => pointer.push_str("~0"),
                    '/' => pointer.push_str("~1"),
                    c => pointer.push(c),
                }
            }
        }
        Unrepresentable { pointer, reason }
    }

    /// Where: a JSON Pointer (RFC 6901) into the target (for [`diff`](crate::diff)) or into
    /// both patches (for [`compose`](crate::compose)); `""` is the document root. Usable with
    /// `serde_json::Value::pointer`.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// Why no merge patch exists.
    pub fn reason(&self) -> Reason {
        self.reason
    }
}

impl fmt::Display for Unrepresentable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "the document root"
        } else {
            self.pointer.as_str()
        };
        match self.reason {
            Reason::NullMember => write!(
                f,
                "no merge patch can set {at} to null: the target holds null there and the \
                 source does not, and a null in a merge patch removes a member instead \
                 (RFC 7396 section 1)"
            ),
            Reason::ObjectAfterReplacement => write!(
                f,
                "no single merge patch is equivalent at {at}: the first patch replaces or \
                 removes the value there with a non-object and the second merges an object \
                 into it, which makes it that exact object whatever the document held; a \
                 merge patch can only merge into the value already there (RFC 7396 section 2)"
            ),
        }
    }
}

impl std::error::Error for Unrepresentable {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escapes_tilde_before_slash() {
        let error = Unrepresentable::new(["~1", "a/b", "", "é"], Reason::NullMember);
        assert_eq!(error.pointer(), "/~01/a~1b//é");
        let root = Unrepresentable::new([], Reason::ObjectAfterReplacement);
        assert_eq!(root.pointer(), "");
        assert!(root.to_string().contains("at the document root"));
    }
}
