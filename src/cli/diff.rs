//! `metamerge diff OLD NEW`: the minimal merge patch that turns OLD into NEW, computed with
//! [`metamerge::diff`] (the inverse of RFC 7396 section 2).

use clap::Args;

use super::io::{self, OutputArgs, Role, Source};
use super::CliError;

/// Arguments of `metamerge diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The document as it is: a JSON file, or `-` for stdin
    #[arg(value_name = "OLD", value_parser = Source::parser())]
    pub old: Source,

    /// The document as it should be: a JSON file, or `-` for stdin
    #[arg(value_name = "NEW", value_parser = Source::parser())]
    pub new: Source,

    /// Where and how to write the merge patch.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Reads and parses OLD and NEW (both, before writing anything), computes the minimal merge
/// patch with [`metamerge::diff`] and writes it. `metamerge merge OLD PATCH` then gives NEW.
///
/// Cost: reading and parsing the inputs, one walk over both documents (see
/// [`metamerge::diff`]), then serializing the patch.
///
/// # Errors
/// [`CliError`] for `-` given twice, an unreadable input, invalid JSON or an object that
/// repeats a member name (with line and column), NEW holding a `null` member that no merge patch can produce ([`CliError::Unrepresentable`],
/// naming NEW and the JSON Pointer) or an unwritable output; an existing output file is then
/// left as it was.
pub fn run(args: DiffArgs) -> Result<(), CliError> {
    io::check_stdin_once([&args.old, &args.new])?;
    let old = io::read(&args.old, Role::Document)?;
    let new = io::read(&args.new, Role::Document)?;
    let patch = metamerge::diff(&old, &new).map_err(|error| CliError::Unrepresentable {
        inputs: args.new.name(),
        error,
    })?;
    args.output.write(&patch)
}
