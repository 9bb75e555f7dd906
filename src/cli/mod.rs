//! The subcommands of the `metamerge` tool and what they share.
//!
//! - [`io`]: where documents come from ([`io::Source`]: a file or stdin) and go to
//!   ([`io::OutputArgs`]: stdout, or a file replaced atomically), with located errors.
//! - [`error`]: [`CliError`], every failure the tool reports, one line each.
//! - [`merge`]: `metamerge merge BASE PATCH...`, RFC 7396 merge of patches in order.
//! - [`diff`]: `metamerge diff OLD NEW`, the minimal merge patch from OLD to NEW.
//! - [`compose`]: `metamerge compose FIRST SECOND`, one merge patch for FIRST then SECOND.
//! - `serve` (feature `http`): `metamerge serve`, the Clerk-compatible organization membership
//!   metadata service.
//!
//! A new subcommand (`diff`, `compose`, `serve`, ...) is a module here with a clap `Args` struct
//! and a `run` function, plus one variant in `main.rs`'s `Command` enum.

pub mod compose;
pub mod diff;
pub mod error;
pub mod io;
pub mod merge;
#[cfg(feature = "http")]
pub mod serve;

pub use error::CliError;
