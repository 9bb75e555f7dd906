//! `metamerge compose FIRST SECOND`: one merge patch equivalent to applying FIRST and then
//! SECOND to any document, computed with [`metamerge::compose`] (RFC 7396).

use clap::Args;

use super::io::{self, OutputArgs, Role, Source};
use super::CliError;

/// Arguments of `metamerge compose`.
#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// The merge patch applied first: a JSON file, or `-` for stdin
    #[arg(value_name = "FIRST", value_parser = Source::parser())]
    pub first: Source,

    /// The merge patch applied second: a JSON file, or `-` for stdin
    #[arg(value_name = "SECOND", value_parser = Source::parser())]
    pub second: Source,

    /// Where and how to write the composed merge patch.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Reads and parses FIRST and SECOND (both, before writing anything), composes them with
/// [`metamerge::compose`] and writes the result: `metamerge merge DOC RESULT` then gives what
/// `metamerge merge DOC FIRST SECOND` gives, for every DOC.
///
/// Cost: reading and parsing the inputs, one walk over both patches (see
/// [`metamerge::compose`]), then serializing the result.
///
/// # Errors
/// [`CliError`] for `-` given twice, an unreadable input, invalid JSON or an object that
/// repeats a member name (with line and column), patches no single merge patch is equivalent to ([`CliError::Unrepresentable`], naming both
/// inputs and the JSON Pointer) or an unwritable output; an existing output file is then left
/// as it was.
pub fn run(args: ComposeArgs) -> Result<(), CliError> {
    io::check_stdin_once([&args.first, &args.second])?;
    let first = io::read(&args.first, Role::MergePatch)?;
    let second = io::read(&args.second, Role::MergePatch)?;
    let composed =
        metamerge::compose(&first, &second).map_err(|error| CliError::Unrepresentable {
            inputs: format!("{} then {}", args.first.name(), args.second.name()),
            error,
        })?;
    args.output.write(&composed)
}
