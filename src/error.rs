//! The error of the streaming entry points [`merge_slice`](crate::merge_slice) and
//! [`merge_str`](crate::merge_str), and of [`parse_slice`](crate::parse_slice): why a merge
//! patch or document given as JSON text was rejected, and where.

use core::fmt;

/// Why a merge patch (or, for [`parse_slice`](crate::parse_slice), a document) given as JSON
/// text was rejected, with the line and column where it was noticed. When a merge returns
/// this, the target was left exactly as it was before the call.
///
/// The message ([`Display`](fmt::Display)) is serde_json's, ending in
/// `at line L column C`; for a duplicate key it names the key, for example
/// ``duplicate key "a" in a merge patch object (RFC 7493 section 2.3) at line 1 column 10``
/// for the patch `{"a":1,"a":null}` (``… in a JSON object …`` from `parse_slice`).
///
/// ```
/// use serde_json::json;
///
/// let mut target = json!({ "a": 1 });
/// let err = metamerge::merge_str(&mut target, "{\n  \"a\": tru }").unwrap_err();
/// assert_eq!(err.kind(), metamerge::ErrorKind::Syntax);
/// assert_eq!((err.line(), err.column()), (2, 11));
/// assert_eq!(target, json!({ "a": 1 }));
/// ```
#[derive(Debug)]
pub struct Error {
    json: serde_json::Error,
    duplicate_key: Option<String>,
}

/// What kind of problem an [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The patch is not valid JSON (RFC 8259): a bad character, a number out of the range of
    /// `f64` (without the `arbitrary_precision` feature), nesting of 128 levels or more
    /// (serde_json's limit; 127 work), or trailing characters after the patch.
    Syntax,
    /// The patch ended in the middle of a JSON value.
    Eof,
    /// A member name appears twice in one object of the patch (or document). I-JSON (RFC 7493
    /// section 2.3) forbids this, and applying both members in order would differ from parsing
    /// the patch first (where the last one silently wins); see [`Error::duplicate_key`].
    DuplicateKey,
    /// Valid JSON that serde_json could not represent as a `Value`.
    Data,
}

impl Error {
    pub(crate) fn new(json: serde_json::Error, duplicate_key: Option<String>) -> Self {
        Error {
            json,
            duplicate_key,
        }
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> ErrorKind {
        use serde_json::error::Category;
        if self.duplicate_key.is_some() {
            return ErrorKind::DuplicateKey;
        }
        match self.json.classify() {
            Category::Eof => ErrorKind::Eof,
            Category::Data => ErrorKind::Data,
            Category::Syntax | Category::Io => ErrorKind::Syntax,
        }
    }

    /// The 1-based line of the patch text where the problem was noticed.
    pub fn line(&self) -> usize {
        self.json.line()
    }

    /// The 1-based column (in bytes) of the patch text where the problem was noticed: for a
    /// syntax error the offending character, for a duplicate key the closing quote of its second
    /// occurrence, for a truncated patch the end of the text. As serde_json counts it, it is 0
    /// when nothing had been read on that line yet: an empty patch, or a truncated one that
    /// ends with a newline (the CLI and the service then say column 1).
    ///
    /// ```
    /// let mut target = serde_json::json!({});
    /// let err = metamerge::merge_slice(&mut target, b"{\"a\": 1,\n").unwrap_err();
    /// assert_eq!((err.line(), err.column()), (2, 0));
    /// ```
    pub fn column(&self) -> usize {
        self.json.column()
    }

    /// For [`ErrorKind::DuplicateKey`], the repeated member name (unescaped).
    pub fn duplicate_key(&self) -> Option<&str> {
        self.duplicate_key.as_deref()
    }

    /// The underlying serde_json error, which carries the same message, line and column.
    pub fn into_json(self) -> serde_json::Error {
        self.json
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.json, f)
    }
}

impl std::error::Error for Error {}
