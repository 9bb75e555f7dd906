//! `metamerge serve`, the real binary: start-up with a generated key, one log line per
//! request, graceful shutdown on SIGTERM and SIGINT with the database closed, and a restart on
//! the same database (SQLite and, as `postgres::…`, PostgreSQL; see `http_common`). Run with
//! `cargo test --features cli,http --test http_serve`.
#![cfg(all(feature = "http", feature = "cli", unix))]

mod http_common;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, Command, Stdio};

use http_common::{Store, TestDb};
use serde_json::{json, Value};

struct Running {
    child: Child,
    stderr: BufReader<ChildStderr>,
    base: String,
    key: String,
    log: Vec<String>,
}

/// Starts `metamerge serve` on an ephemeral port; with `key == None` the variable is unset and
/// the key is read from the line the server prints.
fn start(db: &str, key: Option<&str>) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_metamerge"));
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--db", db])
        .env_remove("METAMERGE_SECRET_KEY")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(key) = key {
        command.env("METAMERGE_SECRET_KEY", key);
    }
    let mut child = command.spawn().expect("metamerge serve starts");
    let key = match key {
        Some(key) => key.to_owned(),
        None => {
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let key = line.trim().rsplit(' ').next().unwrap().to_owned();
            assert!(key.starts_with("sk_test_") && key.len() > 20, "{line}");
            key
        }
    };
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = Vec::new();
    let base = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "server exited: {log:?}"
        );
        log.push(line.clone());
        if let Some(rest) = line.split("addr=").nth(1) {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
    };
    Running {
        child,
        stderr,
        base,
        key,
        log,
    }
}

impl Running {
    /// Sends `signal` (by process id: only the child this test started) and waits for a
    /// clean exit; returns the whole log.
    fn stop(mut self, signal: &str) -> Vec<String> {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        for line in self.stderr.lines() {
            self.log.push(line.unwrap());
        }
        assert!(exit.success(), "{exit:?}: {:?}", self.log);
        self.log
    }
}

both_stores!(tokio::test;
    serve_binary_logs_requests_and_shuts_down_gracefully,
);

async fn serve_binary_logs_requests_and_shuts_down_gracefully(store: Store) {
    let db = TestDb::new(store).await;
    let db = &db.url();
    let client = reqwest::Client::new();

    let server = start(db, None);
    let created: Value = client
        .post(format!("{}/v1/organizations", server.base))
        .bearer_auth(&server.key)
        .json(&json!({"name": "Acme"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org = created["id"].as_str().unwrap().to_owned();
    let response = client
        .get(format!("{}/v1/organizations/{org}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let log = server.stop("TERM").join("\n");

    // One line per request with method, route, status, latency and request id.
    let request_lines: Vec<&str> = log.lines().filter(|l| l.contains("latency_us=")).collect();
    assert_eq!(request_lines.len(), 3, "{log}");
    assert!(
        request_lines[0].contains("method=POST")
            && request_lines[0].contains("route=/v1/organizations")
            && request_lines[0].contains("status=200")
            && request_lines[0].contains("request_id=req_"),
        "{log}"
    );
    assert!(
        request_lines[1].contains("route=/v1/organizations/{organization_id}")
            && request_lines[1].contains("status=401")
            && request_lines[1].contains(&format!("request_id={request_id}")),
        "{log}"
    );
    assert!(log.contains("shutdown signal received"), "{log}");
    assert!(log.contains("closing the database"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "no colour codes when stderr is not a terminal"
    );

    // Restart with the key from the environment; the organization is still there. SIGINT
    // stops it just as cleanly.
    let server = start(db, Some("sk_test_fromenv"));
    let fetched = client
        .get(format!("{}/v1/organizations/{org}", server.base))
        .bearer_auth("sk_test_fromenv")
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        fetched.json::<Value>().await.unwrap()["name"],
        json!("Acme")
    );
    let log = server.stop("INT").join("\n");
    assert!(log.contains("shutdown signal received"), "{log}");
}

#[test]
fn serve_binary_rejects_an_empty_key_and_a_bad_database() {
    let dir = tempfile::tempdir().unwrap();
    let run = |db: &str, key: &str| {
        Command::new(env!("CARGO_BIN_EXE_metamerge"))
            .args(["serve", "--addr", "127.0.0.1:0", "--db", db])
            .env("METAMERGE_SECRET_KEY", key)
            .output()
            .unwrap()
    };
    let empty = run(dir.path().join("a.db").to_str().unwrap(), "");
    assert_eq!(empty.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&empty.stderr);
    assert!(
        stderr.contains("METAMERGE_SECRET_KEY: the key is empty"),
        "{stderr}"
    );

    let not_a_db = dir.path().join("text.db");
    std::fs::write(
        &not_a_db,
        "this is not a database, just text that is long enough",
    )
    .unwrap();
    let bad = run(not_a_db.to_str().unwrap(), "sk_test_x");
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("text.db"), "{stderr}");
}

/// `--db postgres://user:password@…`: the start-up log names the database with the password
/// replaced by `***`; `--db-pool-size 0` is refused by the argument parser.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn serve_binary_on_postgres_hides_the_password() {
    let Some(base) = http_common::postgres_url() else {
        http_common::report_skip("serve_binary_on_postgres_hides_the_password");
        return;
    };
    let parsed: tokio_postgres::Config = base.parse().unwrap();
    let tokio_postgres::config::Host::Tcp(host) = &parsed.get_hosts()[0] else {
        panic!("the test needs a TCP PostgreSQL URL");
    };
    let port = parsed.get_ports().first().copied().unwrap_or(5432);
    let user = parsed.get_user().unwrap();
    let dbname = parsed.get_dbname().unwrap_or(user);
    let schema = http_common::PgSchema::create(&base).await;
    // Trust authentication ignores the password; it is only there to be hidden.
    let url = format!(
        "postgres://{user}:hunter2secret@{host}:{port}/{dbname}?options=-csearch_path%3D{}",
        schema.schema
    );
    let server = start(&url, Some("sk_test_pg"));
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let log = server.stop("TERM").join("\n");
    assert!(!log.contains("hunter2secret"), "{log}");
    assert!(log.contains(&format!("postgres://{user}:***@")), "{log}");

    let refused = Command::new(env!("CARGO_BIN_EXE_metamerge"))
        .args(["serve", "--db", &url, "--db-pool-size", "0"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--db-pool-size"), "{stderr}");
    assert!(!stderr.contains("hunter2secret"), "{stderr}");
}
