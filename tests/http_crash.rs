//! Crash consistency of `metamerge serve` on a SQLite file: several clients PATCH one
//! membership's metadata (each client its own keys and sequence numbers, plus patches that
//! would exceed the size limit), the server is killed with SIGKILL at a random moment, restarted
//! on the same file, and every acknowledged (200) change must be there, nothing refused (422)
//! may be, and the stored metadata must be valid JSON within the size limit. Five kill points.
//! The delays come from a seed, printed; set `METAMERGE_CRASH_SEED` to repeat a run.
//!
//! SIGKILL ends the process, not the machine: this shows that a change is committed before
//! it is acknowledged and that a killed process leaves no half-written change, not what a
//! power cut would do to the disk's caches (`synchronous = FULL` is what covers that).
//! Run with `cargo test --features cli,http --test http_crash`.
#![cfg(all(feature = "http", feature = "cli", unix))]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::Mutex;

const KEY: &str = "sk_test_crash0123456789abcdef";
const CLIENTS: usize = 4;
const ROUNDS: usize = 5;
const MAX_METADATA_BYTES: usize = 2048;

struct Running {
    child: Child,
    base: String,
}

/// Starts the binary on `db` and an ephemeral port, read from its start-up log line.
fn start(db: &str) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_metamerge"))
        .args(["serve", "--addr", "127.0.0.1:0", "--db", db])
        .args(["--max-metadata-bytes", &MAX_METADATA_BYTES.to_string()])
        .env("METAMERGE_SECRET_KEY", KEY)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("metamerge serve starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let base = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "server exited");
        if let Some(rest) = line.split("addr=").nth(1) {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
    };
    // Keep draining the log so that the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in stderr.lines() {});
    Running { child, base }
}

/// xorshift64*: enough to spread kill points; the seed is printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// What one client knows: the last sequence number acknowledged with 200, and the one in
/// flight when the server died (sent, no answer), if any.
#[derive(Debug, Default, Clone, Copy)]
struct ClientState {
    acked: u64,
    in_flight: Option<u64>,
    sent: u64,
    refused: u64,
}

async fn storm(base: String, org: String, client: usize, state: Arc<Mutex<ClientState>>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("{base}/v1/organizations/{org}/memberships/user_storm/metadata");
    // Bounded: at most 100,000 requests per client per round; the kill ends it far sooner.
    for _ in 0..100_000 {
        let seq = {
            let s = state.lock().await;
            s.acked.max(s.in_flight.unwrap_or(0)) + 1
        };
        // Every 7th request would push the client's private metadata past the limit: it must
        // be refused and leave nothing behind.
        let too_big = seq % 7 == 0;
        let body = if too_big {
            json!({"private_metadata": {format!("big{client}"): "x".repeat(MAX_METADATA_BYTES)}})
        } else {
            json!({
                "public_metadata": {format!("c{client}"): seq, format!("c{client}_slot{}", seq % 4): seq},
                "private_metadata": {format!("p{client}"): {"seq": seq, "gone": null}},
            })
        };
        state.lock().await.in_flight = Some(seq);
        let response = http.patch(&url).bearer_auth(KEY).json(&body).send().await;
        let mut s = state.lock().await;
        s.sent += 1;
        match response {
            Ok(r) if r.status() == 200 && !too_big => {
                // The body is read so that the answer is complete before it counts.
                if r.bytes().await.is_err() {
                    return;
                }
                s.acked = seq;
                s.in_flight = None;
            }
            Ok(r) if r.status() == 422 && too_big => {
                s.refused += 1;
                // A refused change is known not to be stored: its number is skipped.
                s.acked = s.acked.max(seq);
                s.in_flight = None;
            }
            Ok(r) => panic!("client {client}, seq {seq}: unexpected {}", r.status()),
            // Killed: this request stays in flight (committed or not).
            Err(_) => return,
        }
    }
}

/// Reads the membership back and checks every client's acknowledged changes.
async fn check(base: &str, org: &str, states: &[ClientState]) {
    let http = reqwest::Client::new();
    let reply = http
        .get(format!(
            "{base}/v1/organizations/{org}/memberships?user_id=user_storm"
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let text = reply.text().await.unwrap();
    let page: Value = serde_json::from_str(&text).expect("valid JSON");
    let membership = &page["data"][0];
    let public = membership["public_metadata"].as_object().unwrap();
    let private = membership["private_metadata"].as_object().unwrap();
    for (field, value) in [("public", public), ("private", private)] {
        let len = serde_json::to_vec(value).unwrap().len();
        assert!(len <= MAX_METADATA_BYTES, "{field} is {len} bytes");
    }
    for (client, state) in states.iter().enumerate() {
        let stored = public
            .get(&format!("c{client}"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        // The last acknowledged change is there, or the one in flight at the kill (a change may
        // be committed and the process killed before it answered), never anything else.
        let mut allowed = vec![last_stored(state.acked)];
        if let Some(seq) = state.in_flight.filter(|s| s % 7 != 0) {
            allowed.push(seq);
        }
        assert!(
            allowed.contains(&stored),
            "client {client}: stored {stored}, acknowledged {state:?}"
        );
        if stored > 0 {
            assert_eq!(
                public[&format!("c{client}_slot{}", stored % 4)],
                json!(stored)
            );
            assert_eq!(private[&format!("p{client}")], json!({"seq": stored}));
        }
        assert!(private.get(&format!("big{client}")).is_none());
    }
}

/// The last number that was stored up to `acked` (numbers divisible by 7 are refused ones).
fn last_stored(acked: u64) -> u64 {
    (0..=acked).rev().find(|s| s % 7 != 0).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_sigkill() {
    let seed = std::env::var("METAMERGE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("METAMERGE_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let db = db.to_str().unwrap();

    let mut server = start(db);
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{}/v1/organizations", server.base))
        .bearer_auth(KEY)
        .json(&json!({"name": "Storm"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org = created["id"].as_str().unwrap().to_owned();
    let added = http
        .post(format!(
            "{}/v1/organizations/{org}/memberships",
            server.base
        ))
        .bearer_auth(KEY)
        .json(&json!({"user_id": "user_storm", "role": "org:member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);

    let states: Vec<_> = (0..CLIENTS)
        .map(|_| Arc::new(Mutex::new(ClientState::default())))
        .collect();
    let mut total_acked = 0;
    let mut in_flight_committed = 0;
    for round in 0..ROUNDS {
        let tasks: Vec<_> = states
            .iter()
            .enumerate()
            .map(|(client, state)| {
                tokio::spawn(storm(
                    server.base.clone(),
                    org.clone(),
                    client,
                    Arc::clone(state),
                ))
            })
            .collect();
        let delay = Duration::from_millis(100 + rng.next() % 1400);
        tokio::time::sleep(delay).await;
        server.child.kill().unwrap(); // SIGKILL, to the child this test started
        server.child.wait().unwrap();
        for task in tasks {
            task.await.expect("client task");
        }
        let snapshot: Vec<ClientState> = {
            let mut v = Vec::new();
            for s in &states {
                v.push(*s.lock().await);
            }
            v
        };
        let acked: u64 = snapshot.iter().map(|s| s.acked).sum();
        println!(
            "round {round}: killed after {delay:?}; per client {:?}",
            snapshot
                .iter()
                .map(|s| (s.acked, s.in_flight, s.refused))
                .collect::<Vec<_>>()
        );
        assert!(acked > total_acked, "no progress in round {round}");
        total_acked = acked;

        server = start(db);
        check(&server.base, &org, &snapshot).await;
        // The in-flight change is now settled either way: resolve it from the stored value.
        let reply: Value = http
            .get(format!(
                "{}/v1/organizations/{org}/memberships?user_id=user_storm",
                server.base
            ))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for (client, state) in states.iter().enumerate() {
            let stored = reply["data"][0]["public_metadata"][format!("c{client}")]
                .as_u64()
                .unwrap_or(0);
            let mut s = state.lock().await;
            if let Some(seq) = s.in_flight.take() {
                // Committed before the kill, or a refused one: either way it is settled. Else
                // the number is sent again in the next round.
                in_flight_committed += usize::from(stored == seq);
                if stored == seq || seq % 7 == 0 {
                    s.acked = seq;
                }
            }
        }
    }
    // A clean stop, then the file itself: SQLite's integrity check and every stored metadata
    // object valid JSON within the limit.
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(server.child.wait().unwrap().success());
    let conn = rusqlite::Connection::open(db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let mut statement = conn
        .prepare("SELECT public_metadata, private_metadata FROM organization_memberships")
        .unwrap();
    let rows = statement
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap();
    for row in rows {
        let (public, private) = row.unwrap();
        for text in [public, private] {
            let value: Value = serde_json::from_str(&text).expect("stored metadata is JSON");
            assert!(value.is_object());
            assert!(serde_json::to_vec(&value).unwrap().len() <= MAX_METADATA_BYTES);
        }
    }
    println!(
        "{ROUNDS} kills, {total_acked} acknowledged changes checked; {in_flight_committed} \
         unanswered changes were found committed"
    );
}
