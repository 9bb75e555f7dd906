//! What only the PostgreSQL store has: several instances migrating one fresh database at once,
//! the membership quota across instances, and `/healthz` while the database is unreachable
//! (through a loopback TCP proxy the test switches off and on) and after it returns. Needs
//! the `postgres` feature and `METAMERGE_TEST_POSTGRES_URL`; without the variable each test
//! prints "skipped: …" and passes. Run with
//! `METAMERGE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo test --features
//! postgres --test http_postgres`.
#![cfg(feature = "postgres")]

mod http_common;

use std::sync::Arc;
use std::time::Duration;

use http_common::{config, postgres_url, PgSchema, Store, TestDb, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Returns the base URL, or prints the skip line and returns `None`.
fn base_url_or_skip(test: &str) -> Option<String> {
    let url = postgres_url();
    if url.is_none() {
        http_common::report_skip(test);
    }
    url
}

/// Rows of `sql` (one text column) on a fresh connection.
async fn query_strings(url: &str, sql: &str) -> Vec<String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let rows = client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    drop(client);
    let _ = connection.await;
    rows
}

/// Six instances start at the same time on a fresh schema: every one starts and answers, the
/// migration was applied exactly once (the advisory lock serialized them), and what one
/// instance writes the others read.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_migrate_once() {
    if base_url_or_skip("instances_starting_together_migrate_once").is_none() {
        return;
    }
    let db = TestDb::new(Store::Postgres).await;
    let url = db.url();
    let starting: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { TestServer::start(&url).await })
        })
        .collect();
    let mut servers = Vec::new();
    for s in starting {
        servers.push(s.await.expect("server starts"));
    }
    for s in &servers {
        let health = TestServer::reply(s.client.get(format!("{}/healthz", s.base))).await;
        assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    }
    let TestDb::Postgres(PgSchema { base, schema }) = &db else {
        unreachable!()
    };
    let versions = query_strings(
        base,
        &format!("SELECT version::text FROM {schema}.metamerge_schema_migrations ORDER BY 1"),
    )
    .await;
    assert_eq!(versions, vec!["1".to_owned()]);

    let org = servers[0].create_org("Acme").await;
    for (i, s) in servers.iter().enumerate() {
        s.add_member(&org, &format!("user_{i}"), "org:member").await;
    }
    for s in &servers {
        let org = s.get(&format!("/v1/organizations/{org}")).await;
        assert_eq!(org.body["members_count"], json!(6), "{}", org.text);
    }
    for s in servers {
        s.stop().await;
    }
}

/// 24 concurrent membership creates for an organization limited to 5, spread over two
/// instances: exactly 5 succeed, the others get Clerk's 403 quota error, and the count is 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn membership_quota_holds_across_instances() {
    if base_url_or_skip("membership_quota_holds_across_instances").is_none() {
        return;
    }
    let db = TestDb::new(Store::Postgres).await;
    let a = Arc::new(TestServer::start(&db.url()).await);
    let b = Arc::new(TestServer::start(&db.url()).await);
    let created = a
        .post(
            "/v1/organizations",
            json!({"name": "Small", "max_allowed_memberships": 5}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let org = created.body["id"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let s = Arc::clone(if i % 2 == 0 { &a } else { &b });
            let org = org.clone();
            tokio::spawn(async move {
                s.post(
                    &format!("/v1/organizations/{org}/memberships"),
                    json!({"user_id": format!("user_{i}"), "role": "org:member"}),
                )
                .await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::OK => ok += 1,
            StatusCode::FORBIDDEN => {
                assert_eq!(reply.error_code(), "organization_membership_quota_exceeded")
            }
            other => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!(ok, 5);
    let list = b
        .get(&format!("/v1/organizations/{org}/memberships?limit=100"))
        .await;
    assert_eq!(list.body["total_count"], json!(5), "{}", list.text);
    Arc::into_inner(a).unwrap().stop().await;
    Arc::into_inner(b).unwrap().stop().await;
}

/// A loopback TCP proxy to PostgreSQL that the test switches on and off. Off: new connections
/// are closed at once and open ones are cut, as when the database host goes away.
struct Proxy {
    port: u16,
    on: watch::Sender<bool>,
}

impl Proxy {
    async fn start(target: String, on: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (switch, state) = watch::channel(on);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let mut state = state.clone();
                if !*state.borrow_and_update() {
                    drop(client);
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = state.wait_for(|on| !*on) => {}
                    }
                });
            }
        });
        Proxy { port, on: switch }
    }

    fn set(&self, on: bool) {
        self.on.send_replace(on);
    }
}

/// The `/healthz` reply, after checking its shape for `status`.
async fn health(s: &TestServer) -> (StatusCode, Value, String) {
    let reply = TestServer::reply(s.client.get(format!("{}/healthz", s.base))).await;
    (reply.status, reply.body, reply.text)
}

/// Polls `/healthz` until it answers `want` (at most 60 s; the store retries with backoff of
/// at most 5 s). Not a timing assertion: only a bound on waiting.
async fn wait_for_health(s: &TestServer, want: StatusCode) -> Value {
    for _ in 0..600 {
        let (status, body, _) = health(s).await;
        if status == want {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/healthz never answered {want}");
}

/// The server starts while the database is unreachable, says so on `/healthz` (503, store and
/// error named, no password) and answers API calls with Clerk's 503; when the database comes
/// back it migrates and serves; when it goes away again it degrades to 503 (never 500) and
/// recovers again, with nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn healthz_reports_an_unreachable_database_and_recovers() {
    let Some(base) = base_url_or_skip("healthz_reports_an_unreachable_database_and_recovers")
    else {
        return;
    };
    let parsed: tokio_postgres::Config = base.parse().unwrap();
    let host = match &parsed.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("the test needs a TCP PostgreSQL URL, got {other:?}"),
    };
    let port = parsed.get_ports().first().copied().unwrap_or(5432);
    let user = parsed.get_user().expect("the URL names a user");
    let dbname = parsed.get_dbname().unwrap_or(user);
    let schema = PgSchema::create(&base).await;

    let proxy = Proxy::start(format!("{host}:{port}"), false).await;
    // A password in the URL (ignored under trust auth) must never be shown.
    let url = format!(
        "postgres://{user}:hunter2secret@127.0.0.1:{}/{dbname}?options=-csearch_path%3D{}",
        proxy.port, schema.schema
    );
    let s = TestServer::start_with(config(&url)).await;

    let (status, body, text) = health(&s).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert_eq!(body["status"], json!("unavailable"), "{text}");
    assert_eq!(body["store"], json!("postgres"), "{text}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{text}"
    );
    assert!(!text.contains("hunter2secret"), "{text}");
    let refused = s.post("/v1/organizations", json!({"name": "Acme"})).await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text
    );
    assert_eq!(refused.error_code(), "service_unavailable");
    assert!(!refused.text.contains("hunter2secret"));

    proxy.set(true);
    assert_eq!(
        wait_for_health(&s, StatusCode::OK).await,
        json!({"status": "ok"})
    );
    let org = s.create_org("Acme").await;
    s.add_member(&org, "user_1", "org:member").await;
    let patched = s
        .patch_metadata(&org, "user_1", json!({"public_metadata": {"a": 1}}))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);

    proxy.set(false);
    let body = wait_for_health(&s, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["store"], json!("postgres"));
    let refused = s
        .patch_metadata(&org, "user_1", json!({"public_metadata": {"b": 2}}))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text
    );
    assert_eq!(refused.error_code(), "service_unavailable");

    proxy.set(true);
    wait_for_health(&s, StatusCode::OK).await;
    let stored = s.membership(&org, "user_1").await;
    assert_eq!(stored["public_metadata"], json!({"a": 1}));
    let patched = s
        .patch_metadata(&org, "user_1", json!({"public_metadata": {"b": 2}}))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["public_metadata"], json!({"a": 1, "b": 2}));
    s.stop().await;
}
