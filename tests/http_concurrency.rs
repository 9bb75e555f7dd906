//! Atomicity, serializability and durability of membership metadata PATCHes, end to end:
//! concurrent writers on one membership, a restart on the same database file, and a graceful
//! shutdown in the middle of a burst of writes, two server instances sharing one database.
//! Each test runs on SQLite and on PostgreSQL (`postgres::NAME`, see `http_common`). Run with
//! `cargo test --features http --test http_concurrency` (add `--features postgres` and
//! `METAMERGE_TEST_POSTGRES_URL` for the PostgreSQL runs).
#![cfg(feature = "http")]

mod http_common;

use std::collections::BTreeSet;

use http_common::{Store, TestDb, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// 64 concurrent PATCHes of one membership, each adding its own key: all 64 keys survive, and
/// each response (sent after its commit) already contains its own key.
async fn sixty_four_concurrent_writers_lose_nothing(store: Store) {
    let db = TestDb::new(store).await;
    let s = TestServer::start(&db.url()).await;
    let org = s.create_org("Acme").await;
    s.add_member(&org, "user_1", "org:member").await;
    let path = format!(
        "{}/v1/organizations/{org}/memberships/user_1/metadata",
        s.base
    );

    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let request = s
                .client
                .patch(&path)
                .bearer_auth(http_common::KEY)
                .json(&json!({ "public_metadata": { format!("k{i:02}"): i }, "private_metadata": { "nested": { format!("p{i:02}"): true } } }));
            tokio::spawn(async move { (i, TestServer::reply(request).await) })
        })
        .collect();
    let mut updated_at = BTreeSet::new();
    for task in tasks {
        let (i, reply) = task.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "writer {i}: {}", reply.text);
        assert_eq!(reply.body["public_metadata"][format!("k{i:02}")], json!(i));
        assert!(updated_at.insert(reply.body["updated_at"].as_i64().unwrap()));
    }
    let stored = s.membership(&org, "user_1").await;
    let public = stored["public_metadata"].as_object().unwrap();
    assert_eq!(public.len(), 64, "{public:?}");
    for i in 0..64 {
        assert_eq!(public[&format!("k{i:02}")], json!(i));
    }
    assert_eq!(
        stored["private_metadata"]["nested"]
            .as_object()
            .unwrap()
            .len(),
        64
    );
    // Each write got its own strictly increasing updated_at; the stored one is the last.
    assert_eq!(updated_at.len(), 64);
    assert_eq!(
        stored["updated_at"].as_i64().unwrap(),
        *updated_at.last().unwrap()
    );
    s.stop().await;
}

/// Concurrent PATCHes that remove and add keys (including each other's) behave as if applied
/// one at a time: ordering the responses by `updated_at` (strictly increasing per membership)
/// gives a serial order, and replaying the patches in that order with `metamerge::merge`
/// reproduces every response's metadata and the final stored value.
async fn removes_and_adds_are_serializable(store: Store) {
    let db = TestDb::new(store).await;
    let s = TestServer::start(&db.url()).await;
    let org = s.create_org("Acme").await;
    let patches = [
        json!({"a": null, "d": 4}),
        json!({"d": null, "e": 5}),
        json!({"b": null, "a": 6}),
        json!({"e": null, "c": null, "f": {"g": 1}}),
        json!({"f": {"g": null, "h": 2}, "b": 7}),
        json!({"f": null, "a": {"x": 1}}),
        json!({"a": {"y": 2}, "c": [3]}),
        json!({"c": null, "d": {"z": null, "w": 0}}),
    ];
    let initial = json!({"a": 1, "b": 2, "c": 3});
    for round in 0..8 {
        let user = format!("user_{round}");
        let created = s
            .post(
                &format!("/v1/organizations/{org}/memberships"),
                json!({"user_id": user, "role": "org:member", "public_metadata": initial}),
            )
            .await;
        assert_eq!(created.status, StatusCode::OK);
        let path = format!(
            "{}/v1/organizations/{org}/memberships/{user}/metadata",
            s.base
        );
        let tasks: Vec<_> = patches
            .iter()
            .enumerate()
            .map(|(i, patch)| {
                let request = s
                    .client
                    .patch(&path)
                    .bearer_auth(http_common::KEY)
                    .json(&json!({ "public_metadata": patch }));
                tokio::spawn(async move { (i, TestServer::reply(request).await) })
            })
            .collect();
        let mut replies = Vec::new();
        for task in tasks {
            let (i, reply) = task.await.unwrap();
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            replies.push((reply.body["updated_at"].as_i64().unwrap(), i, reply.body));
        }
        replies.sort_by_key(|(t, _, _)| *t);
        let mut state = initial.clone();
        for (_, i, body) in &replies {
            state = metamerge::merge(state, patches[*i].clone());
            assert_eq!(body["public_metadata"], state, "round {round}, patch {i}");
        }
        let stored = s.membership(&org, &user).await;
        assert_eq!(stored["public_metadata"], state, "round {round}");
    }
    s.stop().await;
}

/// Stop the server, start a new one on the same file: every acknowledged change is there.
#[allow(irrefutable_let_patterns)] // TestDb has one variant without the `postgres` feature
async fn restart_keeps_every_acknowledged_change(store: Store) {
    let db = TestDb::new(store).await;
    let s = TestServer::start(&db.url()).await;
    let org = s.create_org("Acme").await;
    let deleted_org = s.create_org("Gone").await;
    for user in ["user_1", "user_2", "user_3"] {
        s.add_member(&org, user, "org:member").await;
    }
    let mut expected = Vec::new();
    for i in 0..10 {
        let reply = s
            .patch_metadata(&org, "user_1", json!({"public_metadata": {format!("k{i}"): {"v": i}}, "private_metadata": {"n": i}}))
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        expected.push(reply.body);
    }
    let role = s
        .patch(
            &format!("/v1/organizations/{org}/memberships/user_2"),
            json!({"role": "org:admin"}),
        )
        .await;
    assert_eq!(role.status, StatusCode::OK);
    assert_eq!(
        s.delete(&format!("/v1/organizations/{org}/memberships/user_3"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        s.delete(&format!("/v1/organizations/{deleted_org}"))
            .await
            .status,
        StatusCode::OK
    );
    let org_patch = s
        .patch(
            &format!("/v1/organizations/{org}/metadata"),
            json!({"public_metadata": {"tier": "gold"}}),
        )
        .await;
    assert_eq!(org_patch.status, StatusCode::OK);
    let list_before = s
        .get(&format!(
            "/v1/organizations/{org}/memberships?order_by=created_at"
        ))
        .await;
    s.stop().await;

    // SQLite: the WAL was checkpointed on close, the database file alone holds everything.
    if let TestDb::Sqlite(file) = &db {
        let wal = format!("{}-wal", file.path());
        assert!(
            std::fs::metadata(&wal)
                .map(|m| m.len() == 0)
                .unwrap_or(true),
            "WAL left behind after a clean shutdown"
        );
    }

    let s = TestServer::start(&db.url()).await;
    // The membership as the last PATCH answered it (its embedded organization changed later).
    let without_org = |mut m: Value| {
        m.as_object_mut().unwrap().remove("organization");
        m
    };
    assert_eq!(
        without_org(s.membership(&org, "user_1").await),
        without_org(expected.last().unwrap().clone())
    );
    let user_2 = s.membership(&org, "user_2").await;
    assert_eq!(user_2["role"], json!("org:admin"));
    let list_after = s
        .get(&format!(
            "/v1/organizations/{org}/memberships?order_by=created_at"
        ))
        .await;
    assert_eq!(list_after.body, list_before.body);
    assert_eq!(list_after.body["total_count"], json!(2));
    let organization = s.get(&format!("/v1/organizations/{org}")).await;
    assert_eq!(
        organization.body["public_metadata"],
        json!({"tier": "gold"})
    );
    assert_eq!(
        s.get(&format!("/v1/organizations/{deleted_org}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // And it keeps working after the restart.
    let more = s
        .patch_metadata(&org, "user_1", json!({"public_metadata": {"k0": null}}))
        .await;
    assert_eq!(more.status, StatusCode::OK);
    assert!(more.body["public_metadata"].get("k0").is_none());
    s.stop().await;
}

/// A graceful shutdown in the middle of a burst of writes: requests already accepted are
/// finished, and after a restart every write that was answered 200 is present. Writes that got
/// no answer (refused connection) may or may not be present; none is half-applied.
async fn shutdown_during_writes_keeps_every_acknowledged_write(store: Store) {
    let db = TestDb::new(store).await;
    let s = TestServer::start(&db.url()).await;
    let org = s.create_org("Acme").await;
    s.add_member(&org, "user_1", "org:member").await;
    let path = format!(
        "{}/v1/organizations/{org}/memberships/user_1/metadata",
        s.base
    );
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let first_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(first_tx)));
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let request =
                s.client.patch(&path).bearer_auth(http_common::KEY).json(
                    &json!({ "public_metadata": { format!("k{i:02}"): {"i": i, "pair": i} } }),
                );
            let first_tx = std::sync::Arc::clone(&first_tx);
            tokio::spawn(async move {
                let result = request.send().await;
                let acknowledged = match result {
                    Ok(response) if response.status() == StatusCode::OK => {
                        let body: Value = response.json().await.unwrap();
                        assert_eq!(body["public_metadata"][format!("k{i:02}")]["i"], json!(i));
                        true
                    }
                    Ok(response) => panic!("writer {i}: unexpected status {}", response.status()),
                    Err(_) => false,
                };
                if let Some(tx) = first_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                (i, acknowledged)
            })
        })
        .collect();
    // Stop as soon as the first writer has its answer; the others are in flight or queued.
    first_rx.await.unwrap();
    s.stop().await;
    let mut acknowledged = Vec::new();
    for task in tasks {
        let (i, ok) = task.await.unwrap();
        if ok {
            acknowledged.push(i);
        }
    }
    assert!(!acknowledged.is_empty());

    let s = TestServer::start(&db.url()).await;
    let stored = s.membership(&org, "user_1").await;
    let public = stored["public_metadata"].as_object().unwrap();
    for i in &acknowledged {
        assert_eq!(
            public.get(&format!("k{i:02}")),
            Some(&json!({"i": i, "pair": i})),
            "acknowledged write {i} lost"
        );
    }
    // Every stored key is whole (both members or none): no half-applied write.
    for (key, value) in public {
        assert_eq!(value["i"], value["pair"], "{key}");
    }
    eprintln!(
        "{} of 64 writes acknowledged before shutdown, {} stored",
        acknowledged.len(),
        public.len()
    );
    s.stop().await;
}

/// Two server instances on different ports sharing one database (SQLite: one file;
/// PostgreSQL: one schema, as several instances behind a load balancer would): 64 concurrent
/// writers, alternating between the instances, each add their own key to one membership. All
/// 64 keys are present, read through either instance, and every write got its own
/// `updated_at`.
async fn two_instances_sixty_four_writers_one_membership(store: Store) {
    let db = TestDb::new(store).await;
    let a = TestServer::start(&db.url()).await;
    let b = TestServer::start(&db.url()).await;
    assert_ne!(a.base, b.base);
    let org = a.create_org("Acme").await;
    b.add_member(&org, "user_1", "org:member").await;

    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let server = if i % 2 == 0 { &a } else { &b };
            let request = server
                .client
                .patch(format!(
                    "{}/v1/organizations/{org}/memberships/user_1/metadata",
                    server.base
                ))
                .bearer_auth(http_common::KEY)
                .json(&json!({ "public_metadata": { format!("k{i:02}"): i } }));
            tokio::spawn(async move { (i, TestServer::reply(request).await) })
        })
        .collect();
    let mut updated_at = BTreeSet::new();
    for task in tasks {
        let (i, reply) = task.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "writer {i}: {}", reply.text);
        assert_eq!(reply.body["public_metadata"][format!("k{i:02}")], json!(i));
        assert!(updated_at.insert(reply.body["updated_at"].as_i64().unwrap()));
    }
    let via_a = a.membership(&org, "user_1").await;
    let via_b = b.membership(&org, "user_1").await;
    assert_eq!(via_a, via_b);
    let public = via_a["public_metadata"].as_object().unwrap();
    assert_eq!(public.len(), 64, "{public:?}");
    for i in 0..64 {
        assert_eq!(public[&format!("k{i:02}")], json!(i));
    }
    assert_eq!(
        via_a["updated_at"].as_i64().unwrap(),
        *updated_at.last().unwrap()
    );
    a.stop().await;
    b.stop().await;
}

/// Organization delete, organization metadata PATCHes, membership creates, PATCHes and
/// deletes all at once on one organization, spread over two instances: every answer is a
/// success or Clerk's 404 (never a 5xx, so no deadlock or lock error surfaced), and
/// afterwards the organization and its memberships are gone.
async fn mixed_writes_and_an_organization_delete_never_fail(store: Store) {
    let db = TestDb::new(store).await;
    let a = std::sync::Arc::new(TestServer::start(&db.url()).await);
    let b = std::sync::Arc::new(TestServer::start(&db.url()).await);
    let org = a.create_org("Acme").await;
    for i in 0..8 {
        a.add_member(&org, &format!("user_{i}"), "org:member").await;
    }
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let s = std::sync::Arc::clone(if i % 2 == 0 { &a } else { &b });
            let org = org.clone();
            tokio::spawn(async move {
                let user = format!("user_{}", i % 8);
                let reply = match i % 8 {
                    0 if i == 32 => s.delete(&format!("/v1/organizations/{org}")).await,
                    0 => {
                        s.patch(
                            &format!("/v1/organizations/{org}/metadata"),
                            json!({"public_metadata": {format!("o{i}"): i}}),
                        )
                        .await
                    }
                    1 => {
                        s.post(
                            &format!("/v1/organizations/{org}/memberships"),
                            json!({"user_id": format!("new_{i}"), "role": "org:member"}),
                        )
                        .await
                    }
                    2 => {
                        s.delete(&format!("/v1/organizations/{org}/memberships/{user}"))
                            .await
                    }
                    _ => {
                        s.patch_metadata(
                            &org,
                            &user,
                            json!({"public_metadata": {format!("k{i}"): i}}),
                        )
                        .await
                    }
                };
                (i, reply)
            })
        })
        .collect();
    for task in tasks {
        let (i, reply) = task.await.unwrap();
        assert!(
            matches!(reply.status.as_u16(), 200 | 404),
            "request {i}: {} {}",
            reply.status,
            reply.text
        );
        if reply.status == StatusCode::NOT_FOUND {
            assert_eq!(reply.error_code(), "resource_not_found");
        }
    }
    assert_eq!(
        b.get(&format!("/v1/organizations/{org}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        a.get(&format!("/v1/organizations/{org}/memberships"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    std::sync::Arc::into_inner(a).unwrap().stop().await;
    std::sync::Arc::into_inner(b).unwrap().stop().await;
}

both_stores!(tokio::test(flavor = "multi_thread", worker_threads = 4);
    mixed_writes_and_an_organization_delete_never_fail,
    sixty_four_concurrent_writers_lose_nothing,
    removes_and_adds_are_serializable,
    restart_keeps_every_acknowledged_change,
    shutdown_during_writes_keeps_every_acknowledged_write,
    two_instances_sixty_four_writers_one_membership,
);
