//! Shared by the `tests/http_*.rs` end-to-end tests: starts the real server in-process on
//! 127.0.0.1 with an ephemeral port and a temporary SQLite file, and drives it over HTTP with
//! reqwest.
//!
//! Tests that should hold for every store take a [`Store`] and are listed in
//! [`both_stores!`], which emits a `sqlite::NAME` and a `postgres::NAME` test for each. The
//! PostgreSQL ones need the `postgres` feature and `METAMERGE_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`); without the URL they print a "skipped" line and
//! pass. Each PostgreSQL test server gets a fresh schema in that database, dropped afterwards.
#![allow(dead_code)] // each test binary uses a different part

use std::path::PathBuf;

use metamerge::http::{Config, ServeError, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The secret key the test servers accept.
pub const KEY: &str = "sk_test_endtoend0123456789";

/// A running server and a client for it.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<Result<(), ServeError>>>,
}

/// A response: status, `X-Request-Id` header and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub request_id: String,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The single error code of a Clerk error body, after checking the body's shape and that
    /// `clerk_trace_id` equals the `X-Request-Id` header.
    pub fn error_code(&self) -> &str {
        self.check_error_body();
        let errors = self.body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{}", self.text);
        errors[0]["code"].as_str().unwrap()
    }

    /// All `(code, meta.param_name)` pairs of a Clerk error body.
    pub fn error_params(&self) -> Vec<(String, String)> {
        self.check_error_body();
        self.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["code"].as_str().unwrap().to_owned(),
                    e["meta"]["param_name"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    pub fn check_error_body(&self) {
        let body = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {}", self.text));
        assert_eq!(body.len(), 2, "{}", self.text);
        assert!(!self.request_id.is_empty());
        assert_eq!(
            body["clerk_trace_id"],
            json!(self.request_id),
            "{}",
            self.text
        );
        let errors = body["errors"].as_array().expect("errors array");
        assert!(!errors.is_empty());
        for e in errors {
            let e = e.as_object().unwrap();
            for field in ["message", "long_message", "code"] {
                assert!(
                    e[field].as_str().is_some_and(|s| !s.is_empty()),
                    "{field}: {}",
                    self.text
                );
            }
            assert!(e["meta"].is_object(), "{}", self.text);
        }
    }
}

/// A temporary directory holding `metamerge.db`.
pub struct TempDb {
    pub dir: tempfile::TempDir,
}

impl TempDb {
    pub fn new() -> Self {
        TempDb {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> String {
        let path: PathBuf = self.dir.path().join("metamerge.db");
        path.to_str().unwrap().to_owned()
    }
}

/// The environment variable naming the PostgreSQL database the `postgres::…` tests use.
pub const POSTGRES_URL_ENV: &str = "METAMERGE_TEST_POSTGRES_URL";

/// `METAMERGE_TEST_POSTGRES_URL`, if set and not empty.
pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|url| !url.is_empty())
}

/// Prints `skipped: METAMERGE_TEST_POSTGRES_URL not set (TEST)` straight to the process's
/// stderr, past the test harness's output capture, so that the skip shows in a normal
/// `cargo test` run.
pub fn report_skip(test: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {POSTGRES_URL_ENV} not set ({test})"
    );
}

/// Which store a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh schema in the database of `METAMERGE_TEST_POSTGRES_URL`.
    Postgres,
}

/// A database for test servers, removed when dropped: a temporary SQLite file, or a
/// PostgreSQL schema.
pub enum TestDb {
    Sqlite(TempDb),
    #[cfg(feature = "postgres")]
    Postgres(PgSchema),
}

impl TestDb {
    /// A new empty database on `store` (PostgreSQL: needs `METAMERGE_TEST_POSTGRES_URL`).
    pub async fn new(store: Store) -> Self {
        match store {
            Store::Sqlite => TestDb::Sqlite(TempDb::new()),
            #[cfg(feature = "postgres")]
            Store::Postgres => TestDb::Postgres(
                PgSchema::create(&postgres_url().expect("METAMERGE_TEST_POSTGRES_URL is set"))
                    .await,
            ),
            #[cfg(not(feature = "postgres"))]
            Store::Postgres => panic!("PostgreSQL tests need the `postgres` feature"),
        }
    }

    /// The `--db` value for it.
    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(db) => db.path(),
            #[cfg(feature = "postgres")]
            TestDb::Postgres(schema) => schema.url(),
        }
    }
}

/// A schema `metamerge_test_<random>` in the database at `base`, dropped (with everything in
/// it) when this is dropped. [`PgSchema::url`] points the server at it via `search_path`.
#[cfg(feature = "postgres")]
pub struct PgSchema {
    pub base: String,
    pub schema: String,
}

#[cfg(feature = "postgres")]
impl PgSchema {
    pub async fn create(base: &str) -> Self {
        let schema = format!(
            "metamerge_test_{}",
            metamerge::http::ids::random_base62(16).to_lowercase()
        );
        pg_execute(base, &format!("CREATE SCHEMA {schema}")).await;
        PgSchema {
            base: base.to_owned(),
            schema,
        }
    }

    /// The base URL with `options=-c search_path=<schema>` added.
    pub fn url(&self) -> String {
        let separator = if self.base.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-csearch_path%3D{}",
            self.base, self.schema
        )
    }
}

#[cfg(feature = "postgres")]
impl Drop for PgSchema {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread with
        // its own.
        let base = self.base.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(pg_execute(&base, &sql));
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("could not drop test schema {}", self.schema);
        }
    }
}

/// Runs `sql` on a fresh connection to `url`.
#[cfg(feature = "postgres")]
pub async fn pg_execute(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_URL_ENV}: {e}"));
    let connection = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = connection.await;
}

/// Emits, for each listed `async fn NAME(store: Store)`, a test `sqlite::NAME` and a test
/// `postgres::NAME` (only with the `postgres` feature; it prints "skipped: …" and returns when
/// `METAMERGE_TEST_POSTGRES_URL` is not set). The first argument is the test attribute, e.g.
/// `tokio::test` or `tokio::test(flavor = "multi_thread", worker_threads = 4)`.
#[macro_export]
macro_rules! both_stores {
    ($attr:meta; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[$attr]
                async fn $name() {
                    super::$name($crate::http_common::Store::Sqlite).await
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[$attr]
                async fn $name() {
                    if $crate::http_common::postgres_url().is_none() {
                        $crate::http_common::report_skip(stringify!($name));
                        return;
                    }
                    super::$name($crate::http_common::Store::Postgres).await
                }
            )*
        }
    };
}

/// A config for a test server on an ephemeral loopback port.
pub fn config(db: &str) -> Config {
    Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        db: db.to_owned(),
        secret_key: Some(KEY.to_owned()),
        ..Config::default()
    }
}

impl TestServer {
    /// Starts a server with `config`.
    pub async fn start_with(config: Config) -> Self {
        let server = Server::bind(config).await.expect("server binds");
        let base = format!("http://{}", server.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        TestServer {
            base,
            client: reqwest::Client::new(),
            stop: Some(stop),
            running: Some(running),
        }
    }

    /// Starts a server on the database file (or `:memory:`) `db`.
    pub async fn start(db: &str) -> Self {
        Self::start_with(config(db)).await
    }

    /// Stops the server gracefully and waits until the database is closed.
    pub async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.running
            .take()
            .unwrap()
            .await
            .expect("server task")
            .expect("server stops cleanly");
    }

    /// Sends a request with the right key and a JSON body (if any).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request).await
    }

    /// Sends a prepared request and reads the reply.
    pub async fn reply(request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {text:?}"));
        Reply {
            status,
            request_id,
            body,
            text,
        }
    }

    /// A raw request builder with the right key (for odd bodies and headers).
    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(KEY)
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates an organization and returns its id.
    pub async fn create_org(&self, name: &str) -> String {
        let reply = self
            .post("/v1/organizations", json!({ "name": name }))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// Adds `user_id` to the organization with `role`; returns the membership.
    pub async fn add_member(&self, org: &str, user_id: &str, role: &str) -> Value {
        let reply = self
            .post(
                &format!("/v1/organizations/{org}/memberships"),
                json!({ "user_id": user_id, "role": role }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body
    }

    /// The membership of `user_id`, read through the list endpoint.
    pub async fn membership(&self, org: &str, user_id: &str) -> Value {
        let reply = self
            .get(&format!(
                "/v1/organizations/{org}/memberships?user_id={user_id}"
            ))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.body["total_count"], json!(1), "{}", reply.text);
        reply.body["data"][0].clone()
    }

    /// PATCHes a membership's metadata.
    pub async fn patch_metadata(&self, org: &str, user_id: &str, body: Value) -> Reply {
        self.patch(
            &format!("/v1/organizations/{org}/memberships/{user_id}/metadata"),
            body,
        )
        .await
    }
}
