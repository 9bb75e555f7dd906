//! Where documents come from and where results go, shared by every subcommand.
//!
//! - Input: a [`Source`] is a file path, or stdin for `-`. [`read`] reads and parses the whole
//!   document (into memory, then [`metamerge::parse_slice`]), turning failures into a
//!   [`CliError`] that names the input, and the line and column for invalid JSON and for a
//!   member name repeated within one object (I-JSON, RFC 7493 section 2.3: parsing would keep
//!   only the last one without a word). [`apply_patch`] reads a merge patch and applies it to
//!   a target while parsing it ([`metamerge::merge_slice`]), rejecting duplicates the same way.
//!   [`check_stdin_once`] rejects `-` given twice before anything is read.
//! - Output: [`OutputArgs`] (`--pretty`, `-o/--output FILE`) writes a result as compact or
//!   indented JSON plus a newline, to stdout or atomically to a file: the bytes go to a temporary
//!   file in the same directory, which is flushed, synced and then renamed onto FILE, so a
//!   failure never leaves a partial or truncated file and never touches an existing one. (A
//!   FIFO or device such as `/dev/null` is written directly instead: it cannot be replaced.)
//!
//! Subcommands read *all* their inputs before writing anything.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;

use super::CliError;

/// Where an input document comes from: a file, or stdin when the argument is `-`.
///
/// Parse command-line arguments into it with [`Source::parser`] (paths need not be UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input, named `-` on the command line and `<stdin>` in messages.
    Stdin,
    /// A file, by its path as given on the command line.
    File(PathBuf),
}

impl Source {
    /// The clap value parser for an input argument: `-` is [`Source::Stdin`], anything else a
    /// [`Source::File`] path.
    pub fn parser() -> impl clap::builder::TypedValueParser<Value = Source> {
        use clap::builder::TypedValueParser as _;
        clap::builder::PathBufValueParser::new().map(|path| {
            if path.as_os_str() == "-" {
                Source::Stdin
            } else {
                Source::File(path)
            }
        })
    }

    /// The name used in error messages: the path as given, or `<stdin>`.
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".to_owned(),
            Source::File(path) => path.display().to_string(),
        }
    }
}

/// Checks that `-` (stdin) is among `sources` at most once, since stdin can be read only once.
///
/// # Errors
/// [`CliError::StdinTwice`] with the number of times `-` was given.
pub fn check_stdin_once<'a>(sources: impl IntoIterator<Item = &'a Source>) -> Result<(), CliError> {
    let count = sources
        .into_iter()
        .filter(|source| **source == Source::Stdin)
        .count();
    if count > 1 {
        return Err(CliError::StdinTwice { count });
    }
    Ok(())
}

/// What an input is, for the wording of its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A JSON document: `merge`'s BASE, `diff`'s OLD and NEW.
    Document,
    /// A merge patch: `merge`'s PATCHes, `compose`'s FIRST and SECOND.
    MergePatch,
}

/// Reads `source` to its end and parses it as one JSON document, with
/// [`metamerge::parse_slice`]. Key order and number literals are kept as written (the `cli`
/// feature turns on serde_json's `preserve_order` and `arbitrary_precision`), except that
/// serde_json spells exponents `e+N`/`e-N` (`1E5` is read as `1e+5`, see
/// `serde_json::Number::as_str`). Memory: the file's bytes plus the parsed document.
///
/// # Errors
/// - [`CliError::Read`] when the file or stdin cannot be read (the OS reason).
/// - [`CliError::Json`] when the bytes are not exactly one JSON document (optionally surrounded
///   by whitespace, optionally preceded by a UTF-8 byte order mark, which is skipped as RFC 8259
///   section 8.1 allows), with serde_json's line, column and reason; this covers bytes that are
///   not UTF-8, `\u` escapes of unpaired surrogates (`"\ud800"`), trailing characters and
///   empty or whitespace-only input. Documents nested deeper than serde_json's recursion limit
///   (127 levels of arrays and objects) are rejected the same way, and so is an object that
///   repeats a member name, anywhere (I-JSON, RFC 7493 section 2.3), named with the line and
///   column of its second occurrence; `role` words that reason (`invalid document: ` or
///   `invalid merge patch: `).
pub fn read(source: &Source, role: Role) -> Result<Value, CliError> {
    let bytes = read_bytes(source)?;
    let (text, skipped) = skip_bom(&bytes);
    metamerge::parse_slice(text).map_err(|error| json_error(source, &error, skipped, text, role))
}

/// Reads `source` (a file or stdin) to its end, without parsing it.
///
/// # Errors
/// [`CliError::Read`] when the file or stdin cannot be read (the OS reason).
pub fn read_bytes(source: &Source) -> Result<Vec<u8>, CliError> {
    match source {
        Source::Stdin => {
            let mut bytes = Vec::new();
            io::stdin().lock().read_to_end(&mut bytes).map(|_| bytes)
        }
        Source::File(path) => fs::read(path),
    }
    .map_err(|error| CliError::Read {
        input: source.name(),
        error,
    })
}

/// Reads the merge patch in `source` and applies it to `target` while parsing it, with
/// [`metamerge::merge_slice`]: the patch is never built as a document of its own, and on any
/// error `target` is left as it was. Key order, numbers, a leading byte order mark and the
/// error reasons are as in [`read`].
///
/// # Errors
/// - [`CliError::Read`] when the file or stdin cannot be read (the OS reason).
/// - [`CliError::Json`] when the bytes are not exactly one JSON document, as for [`read`], and
///   when an object in the patch repeats a member name (I-JSON, RFC 7493 section 2.3: parsing
///   would keep only the last one), with the line and column of the repeated name.
pub fn apply_patch(target: &mut Value, source: &Source) -> Result<(), CliError> {
    let bytes = read_bytes(source)?;
    let (text, skipped) = skip_bom(&bytes);
    metamerge::merge_slice(target, text)
        .map_err(|error| json_error(source, &error, skipped, text, Role::MergePatch))
}

/// The UTF-8 byte order mark (U+FEFF), skipped at the start of an input.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// RFC 8259 section 8.1: JSON text must not begin with a byte order mark, but a parser may
/// ignore one. Editors on Windows write it, and it carries no data, so it is skipped. Returns
/// the rest and the number of bytes skipped.
fn skip_bom(bytes: &[u8]) -> (&[u8], usize) {
    match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, UTF8_BOM.len()),
        None => (bytes, 0),
    }
}

/// Whether `text` holds nothing but JSON whitespace (or nothing at all).
fn is_blank(text: &[u8]) -> bool {
    text.iter()
        .all(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Turns a parse error of `text` (from [`metamerge::parse_slice`] or
/// [`metamerge::merge_slice`]) into [`CliError::Json`]: the location moves to the front
/// (`file:line:column`, as compilers print it) and out of the reason. `skipped` bytes (a byte
/// order mark) were cut from the start of the input before parsing; columns on the first line
/// are shifted back so that they count the file's bytes. Columns are 1-based: serde_json's
/// column 0 (nothing read yet on that line: an empty input, or input ending with a newline)
/// becomes column 1, where the missing text would start. An input of nothing but JSON
/// whitespace (or nothing at all) gets a reason that says so.
///
/// Three of serde_json's reasons are reworded because they name the wrong thing: its
/// "invalid unicode code point" is bytes that are not UTF-8, and its "unexpected end of hex
/// escape" and "lone leading surrogate in hex escape" are a `\u` escape of a UTF-16 surrogate
/// (U+D800 to U+DFFF) that is not part of a high-low pair (its column is just past the escape).
/// A repeated member name is an invalid document or merge patch, per `role`.
fn json_error(
    source: &Source,
    error: &metamerge::Error,
    skipped: usize,
    text: &[u8],
    role: Role,
) -> CliError {
    let (line, column) = (error.line(), error.column());
    // The Display is "{reason} at line {line} column {column}" (no suffix at line 0).
    let message = error.to_string();
    let location = format!(" at line {line} column {column}");
    let message = message.strip_suffix(&location).unwrap_or(&message);
    let reason = match (message, error.duplicate_key()) {
        (_, Some(key)) => match role {
            Role::MergePatch => format!(
                "invalid merge patch: duplicate key {key:?} in a merge patch object \
                 (RFC 7493 section 2.3)"
            ),
            Role::Document => format!(
                "invalid document: duplicate key {key:?} in an object (RFC 7493 section 2.3)"
            ),
        },
        _ if is_blank(text) => "invalid JSON: the input is empty or only whitespace".to_owned(),
        ("recursion limit exceeded", _) => {
            "JSON nested more than 127 levels deep (serde_json's recursion limit)".to_owned()
        }
        ("invalid unicode code point", _) => {
            "invalid JSON: not UTF-8 (RFC 8259 section 8.1 requires UTF-8)".to_owned()
        }
        ("unexpected end of hex escape" | "lone leading surrogate in hex escape", _) => {
            "invalid JSON: unpaired UTF-16 surrogate in a \\u escape (a \\uD800-\\uDBFF escape \
             must be followed by a \\uDC00-\\uDFFF one)"
                .to_owned()
        }
        _ => format!("invalid JSON: {message}"),
    };
    let column = match line {
        1 => column + skipped,
        _ => column,
    };
    CliError::Json {
        input: source.name(),
        line,
        column: column.max(1),
        reason,
    }
}

/// How and where a subcommand writes its resulting document; flatten it into the subcommand's
/// clap arguments with `#[command(flatten)]`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write the result to FILE (atomically) instead of stdout
    ///
    /// The result goes to a temporary file in FILE's directory that is synced and then renamed
    /// onto FILE, so on any error FILE is left as it was. An existing FILE keeps its
    /// permissions; a symlink is written through; a FIFO or device (e.g. /dev/null) is written
    /// to directly. `-` means stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Indent the result (two spaces per level) instead of printing compact JSON
    #[arg(long)]
    pub pretty: bool,
}

impl OutputArgs {
    /// Serializes `document` (compact, or indented with `--pretty`) followed by a newline, and
    /// writes it to stdout or atomically to the `--output` file. Key order and number literals
    /// come out as [`read`] kept them.
    ///
    /// # Errors
    /// [`CliError::ReservedName`] if `document` uses a member name serde_json reserves (it
    /// would not read back as written), before anything is written. [`CliError::Write`]
    /// naming the output, the failed step and the OS reason. Nothing is left behind: the
    /// temporary file is removed and an existing output file is unchanged.
    pub fn write(&self, document: &Value) -> Result<(), CliError> {
        // The output file; `None` (no `-o`, or `-o -`) is stdout.
        let file = self
            .output
            .as_deref()
            .filter(|path| path.as_os_str() != "-");
        if let Some(name) = metamerge::find_reserved_member_name(document) {
            return Err(CliError::ReservedName {
                output: file.map_or_else(|| "<stdout>".to_owned(), |p| p.display().to_string()),
                name,
            });
        }
        let serialized = if self.pretty {
            serde_json::to_vec_pretty(document)
        } else {
            serde_json::to_vec(document)
        };
        // Serializing a `Value` (string keys only) into memory has no way to fail.
        let mut bytes = serialized.expect("a serde_json::Value always serializes");
        bytes.push(b'\n');
        match file {
            Some(path) => write_atomically(path, &bytes),
            None => write_stdout(&bytes),
        }
    }
}

/// Writes `bytes` to stdout and flushes it.
fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|error| CliError::Write {
            output: "<stdout>".to_owned(),
            step: "cannot write".to_owned(),
            error,
        })
}

/// Replaces the file at `path` with `bytes` atomically: creates a temporary file in the same
/// directory (so the rename stays on one file system), writes, flushes and syncs it, then
/// renames it onto `path`. A new file gets the usual `0o666` less the umask; an existing one
/// keeps its permissions. If `path` is a symlink, the file it points to is replaced.
///
/// The directory is not synced after the rename: the replacement is atomic (readers see the old
/// or the new content, never a mix), but after a power loss the old file may be back.
///
/// An existing `path` that is neither a regular file nor a directory (a FIFO, a character
/// device such as `/dev/null` or `/dev/stdout`) is opened and written directly, as a shell
/// redirection would: renaming a file onto it would replace the device node or FIFO itself.
///
/// # Errors
/// [`CliError::Write`] for the first step that fails; the temporary file is then removed (by
/// `NamedTempFile`'s drop) and `path` is untouched.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let failed = |step: String| {
        let output = path.display().to_string();
        move |error| CliError::Write {
            output,
            step,
            error,
        }
    };
    // Replace the file a symlink points to, not the link itself.
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let existing = fs::metadata(&target).ok();
    if existing
        .as_ref()
        .is_some_and(|metadata| !metadata.is_file() && !metadata.is_dir())
    {
        return fs::OpenOptions::new()
            .write(true)
            .open(&target)
            .and_then(|mut special| special.write_all(bytes).and_then(|()| special.flush()))
            .map_err(failed("cannot write".to_owned()));
    }
    let existing = existing.filter(fs::Metadata::is_file);

    let mut builder = tempfile::Builder::new();
    builder.prefix(".metamerge-").suffix(".tmp");
    #[cfg(unix)]
    if existing.is_none() {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let mut file = builder
        .tempfile_in(directory)
        .map_err(without_temporary_path)
        .map_err(failed(format!(
            "cannot create a temporary file in {}",
            directory.display()
        )))?;
    if let Some(metadata) = existing {
        file.as_file()
            .set_permissions(metadata.permissions())
            .map_err(failed(format!(
                "cannot give the temporary file in {} the existing file's permissions",
                directory.display()
            )))?;
    }
    // Through the `File` itself: `NamedTempFile`'s own `Write` adds its random path to errors.
    let written = file.as_file_mut();
    written
        .write_all(bytes)
        .and_then(|()| written.flush())
        .and_then(|()| written.sync_all())
        .map_err(failed(format!(
            "cannot write the temporary file in {}",
            directory.display()
        )))?;
    file.persist(&target)
        .map_err(|error| error.error)
        .map_err(failed(
            "cannot rename the temporary file onto it".to_owned(),
        ))?;
    Ok(())
}

/// Drops the ` at path "…/.metamerge-XXXXXX.tmp"` that tempfile appends to its I/O errors: that
/// random name means nothing to the user, who is told the directory instead. Keeps the error's
/// kind and the OS's message.
fn without_temporary_path(error: io::Error) -> io::Error {
    let message = error.to_string();
    match message.rfind(" at path \"") {
        Some(end) => io::Error::new(error.kind(), &message[..end]),
        None => error,
    }
}
