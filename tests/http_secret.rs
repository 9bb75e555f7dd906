//! Secret handling of `metamerge serve`, the real binary at the most verbose log level
//! (`RUST_LOG=trace`): the secret key, wrong keys that share a long prefix with it and
//! malformed `Authorization` headers never appear in the logs (stderr), on stdout, or in any
//! response body or header. A generated key is printed once on stdout, a message to the user,
//! and never through the log. Timing of the comparison: `benches/secret_compare.rs`.
//! Run with `cargo test --features cli,http --test http_secret`.
#![cfg(all(feature = "http", feature = "cli", unix))]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

const KEY: &str = "sk_test_SECRETsecret0123456789abcdefXYZ";

struct Running {
    child: Child,
    base: String,
    stderr: BufReader<std::process::ChildStderr>,
    log: String,
    key: String,
}

fn start(db: &str, key: Option<&str>) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_metamerge"));
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--db", db])
        .env_remove("METAMERGE_SECRET_KEY")
        .env("RUST_LOG", "trace")
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
            BufReader::new(child.stdout.as_mut().unwrap())
                .read_line(&mut line)
                .unwrap();
            line.trim().rsplit(' ').next().unwrap().to_owned()
        }
    };
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    let base = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "exited: {log}");
        log.push_str(&line);
        if let Some(rest) = line.split("addr=").nth(1) {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
    };
    Running {
        child,
        base,
        stderr,
        log,
        key,
    }
}

impl Running {
    /// Stops with SIGTERM; returns (stderr log, the rest of stdout).
    fn stop(mut self) -> (String, String) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(self.child.wait().unwrap().success());
        self.stderr.read_to_string(&mut self.log).unwrap();
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            out.read_to_string(&mut stdout).unwrap();
        }
        (self.log, stdout)
    }
}

/// Sends every kind of key and header; returns all response heads and bodies as text.
async fn exercise(base: &str, key: &str) -> String {
    let http = reqwest::Client::new();
    let mut seen = String::new();
    let send = |request: reqwest::RequestBuilder| {
        let request = request.build().unwrap();
        let http = http.clone();
        async move {
            let response = http.execute(request).await.unwrap();
            let mut text = format!("{} {:?}\n", response.status(), response.headers());
            text.push_str(&response.text().await.unwrap());
            text
        }
    };
    let created = send(
        http.post(format!("{base}/v1/organizations"))
            .bearer_auth(key)
            .json(&json!({"name": "Acme"})),
    )
    .await;
    let org = serde_json::from_str::<Value>(created.lines().nth(1).unwrap()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    seen.push_str(&created);
    let url = format!("{base}/v1/organizations/{org}");
    let mut wrong_keys = vec![
        format!("{}X", &key[..key.len() - 1]), // differs in the last byte
        format!("X{}", &key[1..]),             // differs in the first byte
        format!("{key}0"),                     // one byte longer
        key[..key.len() - 1].to_owned(),       // one byte shorter
        key.to_ascii_uppercase(),              // same letters, other case
    ];
    wrong_keys.retain(|k| k != key);
    for wrong in &wrong_keys {
        let r = send(http.get(&url).bearer_auth(wrong)).await;
        assert!(r.starts_with("401"), "{r}");
        assert!(r.contains("clerk_key_invalid"), "{r}");
        seen.push_str(&r);
    }
    for header in [
        key.to_owned(),         // no scheme
        format!("Basic {key}"), // wrong scheme
        format!("Bearer{key}"), // no space
        format!("Token {key}"),
        "Bearer ".to_owned(),
        format!("Bearer {key} {key}"), // two keys
    ] {
        let r = send(http.get(&url).header("Authorization", header)).await;
        assert!(r.starts_with("401"), "{r}");
        seen.push_str(&r);
    }
    // Requests that fail later, with the right key: their error bodies carry no key either.
    for r in [
        send(
            http.get(format!("{base}/v1/organizations/org_missing"))
                .bearer_auth(key),
        )
        .await,
        send(
            http.patch(format!("{url}/metadata"))
                .bearer_auth(key)
                .header("Content-Type", "application/json")
                .body(format!("{{\"public_metadata\": \"{key}\"}}")),
        )
        .await,
        send(
            http.delete(format!("{base}/v1/organizations"))
                .bearer_auth(key),
        )
        .await,
    ] {
        assert!(r.starts_with('4'), "{r}");
        seen.push_str(&r);
    }
    let ok = send(http.get(&url).bearer_auth(key)).await;
    assert!(ok.starts_with("200"), "{ok}");
    seen.push_str(&ok);
    for wrong in wrong_keys {
        assert!(!seen.contains(&wrong), "a wrong key is in a response");
    }
    seen
}

/// The distinctive part of the key (without `sk_test_`), which must occur nowhere.
fn secret_part(key: &str) -> &str {
    &key["sk_test_".len()..]
}

#[tokio::test]
async fn keys_never_appear_in_logs_or_responses() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let server = start(db.to_str().unwrap(), Some(KEY));
    let seen = exercise(&server.base, KEY).await;
    let (log, stdout) = server.stop();
    assert!(
        log.lines().count() > 20,
        "trace logging is on (a check that cannot see anything proves nothing): {log}"
    );
    // The 4xx answers (401s, a 404, a 422, a 405) are logged once each at INFO (the request
    // line); nothing here is an ERROR (a 405 used to be logged twice at ERROR).
    assert!(!log.contains("ERROR"), "{log}");
    let lines_405: Vec<&str> = log.lines().filter(|l| l.contains("status=405")).collect();
    assert_eq!(
        lines_405.iter().filter(|l| !l.contains(" DEBUG ")).count(),
        1,
        "{lines_405:?}"
    );
    assert!(
        lines_405.iter().all(|l| !l.contains("WARN")),
        "{lines_405:?}"
    );
    // Every prefix of the key longer than `sk_test_` + 8 is absent: that covers the key, the
    // wrong keys that share a prefix with it, and any truncated echo of either.
    let needle = &KEY[..16];
    for (name, text) in [("log", &log), ("stdout", &stdout), ("responses", &seen)] {
        assert!(!text.contains(needle), "the key is in the {name}");
        assert!(!text.contains(&needle[8..]), "the key is in the {name}");
        assert!(
            !text
                .to_ascii_uppercase()
                .contains(&secret_part(KEY)[..8].to_ascii_uppercase()),
            "the key (in some case) is in the {name}"
        );
    }
}

#[tokio::test]
async fn a_generated_key_is_printed_once_and_never_logged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let server = start(db.to_str().unwrap(), None);
    let key = server.key.clone();
    assert!(key.starts_with("sk_test_") && key.len() > 20, "{key}");
    let seen = exercise(&server.base, &key).await;
    let (log, stdout_rest) = server.stop();
    let secret = secret_part(&key);
    assert!(!log.contains(secret), "the generated key is in the log");
    assert!(!seen.contains(secret), "the generated key is in a response");
    // The one start-up line was read already; it is not repeated.
    assert!(
        !stdout_rest.contains(secret),
        "the key is printed more than once"
    );
}
