//! `metamerge merge BASE PATCH [PATCH...]`: merges each merge patch into the target in order
//! with [`metamerge::merge`] (RFC 7396 section 2) and writes the result.

use clap::Args;

use super::io::{self, OutputArgs, Source};
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

/// Reads and parses BASE and every PATCH (all of them, before writing anything), folds the
/// patches into BASE in order with [`metamerge::merge`], and writes the result.
///
/// Cost: reading and parsing the inputs, then one map lookup per patch member (the merge does
/// no work proportional to the size of the target), then serializing the result.
///
/// # Errors
/// [`CliError`] for `-` given twice, an unreadable input, invalid JSON (with line and column)
/// or an unwritable output; an existing output file is then left as it was.
pub fn run(args: MergeArgs) -> Result<(), CliError> {
    io::check_stdin_once(std::iter::once(&args.base).chain(&args.patches))?;
    let target = io::read(&args.base)?;
    let patches = args
        .patches
        .iter()
        .map(io::read)
        .collect::<Result<Vec<_>, _>>()?;
    let result = patches.into_iter().fold(target, metamerge::merge);
    args.output.write(&result)
}
