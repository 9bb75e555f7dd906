//! [`CliError`]: every failure of the `metamerge` tool, each rendered as one line naming the
//! input or output it concerns (`main` prefixes `metamerge: ` and exits with code 2).

use std::io;

/// An error of the `metamerge` tool. Its `Display` is one line: what failed and where (the path
/// as given on the command line, `<stdin>` or `<stdout>`; line and column for JSON errors) and
/// the reason (the OS's message for I/O errors, serde_json's for parse errors).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An input file or stdin could not be read (missing, not permitted, a directory, ...).
    #[error("{input}: cannot read: {error}")]
    Read {
        /// The input's name: its path as given, or `<stdin>`.
        input: String,
        /// The OS error.
        #[source]
        error: io::Error,
    },

    /// An input is not a JSON document: a syntax error, an unexpected end, trailing characters,
    /// or nesting deeper than serde_json's recursion limit (127 levels of arrays and objects);
    /// or an input (document or merge patch) repeats a member name within one object (I-JSON,
    /// RFC 7493 section 2.3).
    #[error("{input}:{line}:{column}: {reason}")]
    Json {
        /// The input's name: its path as given, or `<stdin>`.
        input: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in bytes) of the error; at least 1, also for an empty input or an
        /// input that ends with a newline (where the missing text would start).
        column: usize,
        /// What is wrong, e.g. `invalid JSON: expected ',' or '}' after object member`.
        reason: String,
    },

    /// The result could not be written: the temporary file next to the output could not be
    /// created or written, it could not be renamed onto the output, or stdout failed. An existing
    /// output file is left untouched and the temporary file is removed.
    #[error("{output}: {step}: {error}")]
    Write {
        /// The output's name: its path as given, or `<stdout>`.
        output: String,
        /// The step that failed, e.g. `cannot create a temporary file in "out"`.
        step: String,
        /// The OS error.
        #[source]
        error: io::Error,
    },

    /// `metamerge diff` or `metamerge compose` was asked for a merge patch that does not exist:
    /// NEW holds a `null` member that OLD does not, or SECOND merges an object where FIRST set
    /// a non-object. The message names the inputs and the place as a JSON Pointer (RFC 6901).
    #[error("{inputs}: {error}")]
    Unrepresentable {
        /// The inputs concerned: NEW for `diff`, `FIRST then SECOND` for `compose`.
        inputs: String,
        /// The library's error, with the pointer and the reason.
        #[source]
        error: metamerge::Unrepresentable,
    },

    /// The result holds a member name that serde_json reserves
    /// ([`metamerge::RESERVED_MEMBER_NAMES`]): written out, it could read back as a number
    /// instead of an object (for example once a patch removed the members before it), so
    /// nothing is written.
    #[error(
        "{output}: the result holds a member named `{name}`, which serde_json reserves: \
         written out it would not read back as the same document; nothing written"
    )]
    ReservedName {
        /// The output's name: its path as given, or `<stdout>`.
        output: String,
        /// The reserved name.
        name: &'static str,
    },

    /// `-` (stdin) was given as more than one input; stdin can be read only once.
    #[error("`-` (stdin) is given {count} times as an input but can be read only once")]
    StdinTwice {
        /// How many times `-` was given.
        count: usize,
    },

    /// `metamerge serve` could not start or failed while serving (feature `http`).
    #[cfg(feature = "http")]
    #[error("serve: {0}")]
    Serve(#[source] metamerge::http::ServeError),
}
