//! `metamerge serve`: the Clerk-compatible organization membership metadata service
//! ([`metamerge::http`], feature `http`) on an embedded SQLite database, or (feature
//! `postgres`) on a PostgreSQL database shared by several instances.

use std::net::SocketAddr;

use clap::Args;

use super::CliError;

/// Arguments of `metamerge serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// SQLite database file, created on first start (migrations run automatically, WAL mode);
    /// `:memory:` for an ephemeral store; or a `postgres://user@host/dbname` URL (build with
    /// the `postgres` feature) for a database shared by several instances
    #[arg(long, value_name = "PATH|URL", default_value = "metamerge.db")]
    pub db: String,

    /// Most PostgreSQL connections this instance keeps open (ignored for SQLite)
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub db_pool_size: u16,

    /// Largest stored metadata object, in bytes of compact JSON, checked after each merge
    #[arg(long, value_name = "BYTES", default_value_t = 8192)]
    pub max_metadata_bytes: usize,

    /// Largest request body, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: usize,

    /// Seconds a client may take to send a request's head (request line and headers) before
    /// the connection is closed; also the idle timeout of kept-alive connections
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,

    /// Seconds one request may take, reading its body included, before it is answered with
    /// 408 request_timeout; also the longest a write of an answer may block (a client that
    /// stops reading is disconnected)
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,
}

/// Serves until SIGINT or SIGTERM, then finishes in-flight requests and closes the database.
/// The secret key comes from `METAMERGE_SECRET_KEY`; if it is unset a random `sk_test_…` key
/// is generated and printed once. Logs go to stderr (`RUST_LOG`, default `info`).
///
/// # Errors
/// [`CliError::Serve`]: an unusable secret key, a database that cannot be opened, an address
/// that cannot be bound, or a failure while serving or closing.
pub fn run(args: ServeArgs) -> Result<(), CliError> {
    metamerge::http::run_blocking(metamerge::http::Config {
        addr: args.addr,
        db: args.db,
        db_pool_size: usize::from(args.db_pool_size),
        max_metadata_bytes: args.max_metadata_bytes,
        max_body_bytes: args.max_body_bytes,
        secret_key: None,
        header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout_secs),
        request_timeout: std::time::Duration::from_secs(args.request_timeout_secs),
    })
    .map_err(CliError::Serve)
}
