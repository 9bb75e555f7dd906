//! The subcommands of the `metamerge` tool and what they share.
//!
//! - [`io`]: where documents come from ([`io::Source`]: a file or stdin) and go to
//!   ([`io::OutputArgs`]: stdout, or a file replaced atomically), with located errors.
//! - [`error`]: [`CliError`], every failure the tool reports, one line each.
//! - [`merge`]: `metamerge merge BASE PATCH...`, RFC 7396 merge of patches in order.
//!
//! A new subcommand (`diff`, `compose`, `serve`, ...) is a module here with a clap `Args` struct
//! and a `run` function, plus one variant in `main.rs`'s `Command` enum.

pub mod error;
pub mod io;
pub mod merge;

pub use error::CliError;
