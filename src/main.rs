//! `metamerge`, the command-line tool (feature `cli`): applies JSON Merge Patches
//! ([RFC 7396](https://www.rfc-editor.org/rfc/rfc7396)) to JSON files with
//! [`metamerge::merge_slice`].
//!
//! This file only declares the arguments (one [`Command`] variant per subcommand) and maps the
//! outcome to an exit code; the subcommands and the I/O they share live in [`cli`].
//!
//! Exit codes: 0 on success; 2 on any error, with one line `metamerge: …` on stderr (clap's own
//! messages for bad arguments, also exit code 2).
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Apply JSON Merge Patches (RFC 7396) to JSON documents, as Clerk updates metadata.
///
/// A patch object merges into the target key by key: nested objects merge recursively, a `null`
/// removes that key at any depth, anything else (arrays included) replaces the target's value.
/// A patch that is not an object replaces the whole target. Key order and number literals are
/// kept as written (big integers too), except that exponents are spelled `e+N`: 1E5 is 1e+5.
/// Inputs are UTF-8 JSON texts; a leading byte order mark is skipped (RFC 8259 section 8.1).
#[derive(Debug, Parser)]
#[command(name = "metamerge", version)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands. Each variant holds its arguments and is run by its module in [`cli`].
#[derive(Debug, Subcommand)]
enum Command {
    /// Merge JSON Merge Patches (RFC 7396) into a target, in order, and print the result.
    ///
    /// Applies RFC 7396 section 2 to BASE with each PATCH in turn: objects merge key by key,
    /// `null` removes a key at any depth, any other patch value (arrays included) replaces.
    /// Prints compact JSON and a newline to stdout, or writes FILE atomically with `-o`. Every
    /// input is read and parsed before anything is written. Exits 0 on success, 2 on any error.
    Merge(cli::merge::MergeArgs),

    /// Print the minimal merge patch (RFC 7396) that turns OLD into NEW.
    ///
    /// Members whose value changed are sent (arrays and scalars whole, objects as nested
    /// patches), removed members as `null`, unchanged ones not at all; `metamerge merge OLD
    /// PATCH` then gives NEW. Fails, naming the place as a JSON Pointer, when NEW holds a `null`
    /// member that OLD does not: a `null` in a merge patch removes a member, so no patch can
    /// set one. Same output options and exit codes as `merge`.
    Diff(cli::diff::DiffArgs),

    /// Print one merge patch (RFC 7396) equivalent to applying FIRST, then SECOND.
    ///
    /// `metamerge merge DOC RESULT` gives what `metamerge merge DOC FIRST SECOND` gives, for
    /// every DOC. Fails, naming the place as a JSON Pointer, where SECOND merges an object into
    /// a member that FIRST removed or set to a non-object: applied in turn they make it exactly
    /// that object, which no single merge patch can do. Same output options and exit codes as
    /// `merge`.
    Compose(cli::compose::ComposeArgs),

    /// Serve the Clerk-compatible organization membership metadata API over HTTP.
    ///
    /// A subset of Clerk's Backend API (organizations, organization memberships, their
    /// public/private metadata; metadata PATCHes merged with RFC 7396) on an embedded SQLite
    /// database, or on a PostgreSQL database shared by several instances (`--db
    /// postgres://…`, feature `postgres`). Clients authenticate with `Authorization: Bearer $METAMERGE_SECRET_KEY`; if the
    /// variable is unset a random sk_test_ key is generated and printed once. Stops gracefully
    /// on SIGINT/SIGTERM. OpenAPI description at GET /v1/openapi.json, liveness at GET /healthz.
    #[cfg(feature = "http")]
    Serve(cli::serve::ServeArgs),
}

impl Command {
    /// Runs the chosen subcommand.
    ///
    /// # Errors
    /// The subcommand's [`cli::CliError`]: an unreadable input, invalid JSON, an unwritable output.
    fn run(self) -> Result<(), cli::CliError> {
        match self {
            Command::Merge(args) => cli::merge::run(args),
            Command::Diff(args) => cli::diff::run(args),
            Command::Compose(args) => cli::compose::run(args),
            #[cfg(feature = "http")]
            Command::Serve(args) => cli::serve::run(args),
        }
    }
}

/// Parses the arguments (clap exits 2 on bad ones), runs the subcommand, and reports an error
/// as one line on stderr with exit code 2.
fn main() -> ExitCode {
    match Cli::parse().command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("metamerge: {error}");
            ExitCode::from(2)
        }
    }
}
