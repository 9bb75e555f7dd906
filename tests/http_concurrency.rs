//! Atomicity, serializability and durability of membership metadata PATCHes, end to end:
//! concurrent writers on one membership, a restart on the same database file, and a graceful
//! shutdown in the middle of a burst of writes. Run with
//! `cargo test --features http --test http_concurrency`.
#![cfg(feature = "http")]

mod http_common;

use std::collections::BTreeSet;

use http_common::{TempDb, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// 64 concurrent PATCHes of one membership, each adding its own key: all 64 keys survive, and
/// each response (sent after its commit) already contains its own key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_writers_lose_nothing() {
    let db = TempDb::new();
    let s = TestServer::start(&db.path()).await;
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
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removes_and_adds_are_serializable() {
    let db = TempDb::new();
    let s = TestServer::start(&db.path()).await;
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
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_every_acknowledged_change() {
    let db = TempDb::new();
    let s = TestServer::start(&db.path()).await;
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

    // The WAL was checkpointed on close: the database file alone holds everything.
    let wal = format!("{}-wal", db.path());
    assert!(
        std::fs::metadata(&wal)
            .map(|m| m.len() == 0)
            .unwrap_or(true),
        "WAL left behind after a clean shutdown"
    );

    let s = TestServer::start(&db.path()).await;
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
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_during_writes_keeps_every_acknowledged_write() {
    let db = TempDb::new();
    let s = TestServer::start(&db.path()).await;
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

    let s = TestServer::start(&db.path()).await;
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
