//! `metamerge merge BASE PATCH [PATCH...]`: merges each merge patch into the target in order
//! with [`metamerge::merge_slice`] (RFC 7396 section 2, applied while the patch file is parsed)
//! and writes the result.

use clap::Args;

use super::io::{self, OutputArgs, Role, Source};
use super::CliError;

/// Arguments of `metamerge merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The target document: a JSON file, or `-` for stdin
    #[arg(value_name = "BASE", value_parser = Source::parser())]
    pub base: Source,

    /// The merge patches, applied in order: JSON files, or `-` for stdin
    ///
    /// Each PATCH is merged into the result of the previous ones. `-` may appear only once
    /// among BASE and all PATCHes.
    #[arg(value_name = "PATCH", value_parser = Source::parser(), required = true)]
    pub patches: Vec<Source>,

    /// Where and how to write the result.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Reads and parses BASE, then reads each PATCH in turn and applies it while parsing it with
/// [`metamerge::merge_slice`], and writes the result once every patch has been applied. Nothing
/// is written when any input fails.
///
/// Cost: reading and parsing the inputs; each patch member costs one map lookup in the target
/// and is never built as a document of its own; then serializing the result. Memory: the
/// target plus one patch file's bytes at a time.
///
/// # Errors
/// [`CliError`] for `-` given twice, an unreadable input, invalid JSON (with line and column),
/// an object in BASE or a patch that repeats a member name (with the line and column of the
/// repeat), or an unwritable output; an existing output file is then left as it was.
pub fn run(args: MergeArgs) -> Result<(), CliError> {
    io::check_stdin_once(std::iter::once(&args.base).chain(&args.patches))?;
    let mut target = io::read(&args.base, Role::Document)?;
    for patch in &args.patches {
        io::apply_patch(&mut target, patch)?;
    }
    args.output.write(&target)
}
