//! End-to-end tests of every endpoint and every error row of the Clerk BAPI subset
//! (`clerk-bapi.md`): a real server on 127.0.0.1:0, driven over HTTP. Every test runs twice,
//! as `sqlite::NAME` (a temporary SQLite file) and `postgres::NAME` (a fresh schema in
//! `METAMERGE_TEST_POSTGRES_URL`; feature `postgres`, skipped with a message when the variable
//! is unset). Run with `cargo test --features http --test http_api`, or
//! `METAMERGE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo test --features
//! postgres --test http_api`.
#![cfg(feature = "http")]

mod http_common;

use http_common::{config, Store, TestDb, TestServer, KEY};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn server(store: Store) -> (TestServer, TestDb) {
    let db = TestDb::new(store).await;
    (TestServer::start(&db.url()).await, db)
}

/// Replaces ids, timestamps and the request id anywhere in `value` by placeholders, so that
/// snapshots are stable. (insta's own redactions cannot be used: with serde_json's
/// `arbitrary_precision` numbers reach insta as internal maps.)
fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "id" => json!("[id]"),
                        "created_at" | "updated_at" => json!("[timestamp]"),
                        "clerk_trace_id" => json!("[request id]"),
                        _ => redact(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Snapshot of a JSON body, pretty-printed, with ids and timestamps redacted.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::assert_snapshot!(
            $name,
            serde_json::to_string_pretty(&redact($value)).unwrap()
        )
    };
}

async fn healthz_needs_no_key_and_has_a_request_id(store: Store) {
    let (s, _db) = server(store).await;
    let reply = TestServer::reply(s.client.get(format!("{}/healthz", s.base))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!({"status": "ok"}));
    assert!(reply.request_id.starts_with("req_"), "{}", reply.request_id);
    s.stop().await;
}

async fn openapi_document_describes_every_endpoint(store: Store) {
    let (s, _db) = server(store).await;
    let reply = TestServer::reply(s.client.get(format!("{}/v1/openapi.json", s.base))).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = &reply.body;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let expected = [
        ("/v1/organizations", "post"),
        ("/v1/organizations/{organization_id}", "get"),
        ("/v1/organizations/{organization_id}", "delete"),
        ("/v1/organizations/{organization_id}/metadata", "patch"),
        ("/v1/organizations/{organization_id}/memberships", "post"),
        ("/v1/organizations/{organization_id}/memberships", "get"),
        (
            "/v1/organizations/{organization_id}/memberships/{user_id}",
            "patch",
        ),
        (
            "/v1/organizations/{organization_id}/memberships/{user_id}",
            "delete",
        ),
        (
            "/v1/organizations/{organization_id}/memberships/{user_id}/metadata",
            "patch",
        ),
        ("/healthz", "get"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            assert!(
                expected.contains(&(path.as_str(), method.as_str())),
                "undocumented-in-test operation {method} {path}"
            );
            operations += 1;
        }
    }
    assert_eq!(operations, expected.len());
    for schema in [
        "Organization",
        "OrganizationMembership",
        "ClerkErrors",
        "MetadataPatch",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        json!("bearer")
    );
    // The list endpoint documents its query parameters.
    let params: Vec<&str> = doc["paths"]["/v1/organizations/{organization_id}/memberships"]["get"]
        ["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        [
            "organization_id",
            "limit",
            "offset",
            "order_by",
            "user_id",
            "role"
        ]
    );
    s.stop().await;
}

async fn authentication_errors(store: Store) {
    let (s, _db) = server(store).await;
    let url = format!("{}/v1/organizations/org_x", s.base);

    let none = TestServer::reply(s.client.get(&url)).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.error_code(), "authentication_invalid");
    snapshot!("error_authentication_invalid", &none.body);

    for header in [
        "Basic c2tfdGVzdDo=",
        "Bearer",
        "Bearer ",
        KEY,
        "Token sk_test_x",
    ] {
        let reply = TestServer::reply(s.client.get(&url).header("authorization", header)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(
            reply.error_code(),
            "authorization_header_format_invalid",
            "{header}"
        );
    }

    for key in [
        "sk_test_wrong",
        "sk_test_endtoend012345678",
        "sk_test_endtoend01234567890",
    ] {
        let reply = TestServer::reply(s.client.get(&url).bearer_auth(key)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{key}");
        assert_eq!(reply.error_code(), "clerk_key_invalid", "{key}");
    }

    // The scheme is case-insensitive (RFC 7235); the right key passes and the 404 is reached.
    let ok = TestServer::reply(
        s.client
            .get(&url)
            .header("authorization", format!("bearer {KEY}")),
    )
    .await;
    assert_eq!(ok.status, StatusCode::NOT_FOUND);
    assert_eq!(ok.error_code(), "resource_not_found");

    // Auth is checked on every /v1 endpoint, writes included, and nothing is created.
    let write = TestServer::reply(
        s.client
            .post(format!("{}/v1/organizations", s.base))
            .bearer_auth("sk_test_wrong")
            .json(&json!({"name": "x"})),
    )
    .await;
    assert_eq!(write.error_code(), "clerk_key_invalid");
    s.stop().await;
}

async fn client_request_id_is_kept_as_clerk_trace_id(store: Store) {
    let (s, _db) = server(store).await;
    let reply = TestServer::reply(
        s.raw(Method::GET, "/v1/organizations/org_missing")
            .header("x-request-id", "my-trace-42"),
    )
    .await;
    assert_eq!(reply.request_id, "my-trace-42");
    assert_eq!(reply.body["clerk_trace_id"], json!("my-trace-42"));
    s.stop().await;
}

async fn organization_lifecycle(store: Store) {
    let (s, _db) = server(store).await;
    let created = s
        .post(
            "/v1/organizations",
            json!({
                "name": "Acme, Inc.",
                "created_by": "user_creator",
                "max_allowed_memberships": 5,
                "public_metadata": {"plan": "pro"},
                "private_metadata": {"stripe": {"customer": "cus_1"}}
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let org = &created.body;
    let id = org["id"].as_str().unwrap();
    assert!(id.starts_with("org_") && id.len() == 4 + 27, "{id}");
    assert_eq!(org["slug"], json!("acme-inc"));
    assert_eq!(org["created_at"], org["updated_at"]);
    assert!(
        org["created_at"].as_i64().unwrap() > 1_600_000_000_000,
        "milliseconds"
    );
    snapshot!("organization_created", org);

    let fetched = s.get(&format!("/v1/organizations/{id}")).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(&fetched.body, org);

    // Explicit slug; null metadata counts as {}; created_by null.
    let other = s
        .post(
            "/v1/organizations",
            json!({"name": "Other", "slug": "my-org-2", "created_by": null, "public_metadata": null}),
        )
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);
    assert_eq!(other.body["slug"], json!("my-org-2"));
    assert_eq!(other.body["public_metadata"], json!({}));
    assert_eq!(other.body["created_by"], Value::Null);

    // Organization metadata PATCH: deep merge and null removal.
    let patched = s
        .patch(
            &format!("/v1/organizations/{id}/metadata"),
            json!({"private_metadata": {"stripe": {"customer": null, "sub": "sub_1"}}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(
        patched.body["private_metadata"],
        json!({"stripe": {"sub": "sub_1"}})
    );
    assert_eq!(patched.body["public_metadata"], json!({"plan": "pro"}));
    assert!(patched.body["updated_at"].as_i64() > org["updated_at"].as_i64());

    // Delete: the organization and its memberships are gone.
    s.add_member(id, "user_1", "org:member").await;
    let deleted = s.delete(&format!("/v1/organizations/{id}")).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(
        deleted.body,
        json!({"object": "organization", "id": id, "deleted": true})
    );
    for path in [
        format!("/v1/organizations/{id}"),
        format!("/v1/organizations/{id}/memberships"),
    ] {
        let gone = s.get(&path).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(gone.error_code(), "resource_not_found");
    }
    let again = s.delete(&format!("/v1/organizations/{id}")).await;
    assert_eq!(again.error_code(), "resource_not_found");
    let patch_gone = s
        .patch(&format!("/v1/organizations/{id}/metadata"), json!({}))
        .await;
    assert_eq!(patch_gone.error_code(), "resource_not_found");
    s.stop().await;
}

async fn organization_body_errors(store: Store) {
    let (s, _db) = server(store).await;
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (json!({}), vec![("form_param_missing", "name")]),
        (
            json!({"name": ""}),
            vec![("form_param_value_invalid", "name")],
        ),
        (
            json!({"name": 7}),
            vec![("form_param_value_invalid", "name")],
        ),
        (
            json!({"name": "a", "slug": "Not A Slug"}),
            vec![("form_param_value_invalid", "slug")],
        ),
        (
            json!({"name": "a", "max_allowed_memberships": -1}),
            vec![("form_param_value_invalid", "max_allowed_memberships")],
        ),
        (
            json!({"name": "a", "public_metadata": []}),
            vec![("form_param_value_invalid", "public_metadata")],
        ),
        (
            json!({"name": "a", "nmae": "b"}),
            vec![("form_param_unknown", "nmae")],
        ),
        (
            json!({"public_metadata": "x", "colour": 1}),
            vec![
                ("form_param_missing", "name"),
                ("form_param_value_invalid", "public_metadata"),
                ("form_param_unknown", "colour"),
            ],
        ),
    ];
    for (body, expected) in cases {
        let reply = s.post("/v1/organizations", body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.text
        );
        let got = reply.error_params();
        let got: Vec<(&str, &str)> = got.iter().map(|(c, p)| (c.as_str(), p.as_str())).collect();
        assert_eq!(got, expected, "{body}");
    }
    let big = "x".repeat(8192);
    let reply = s
        .post(
            "/v1/organizations",
            json!({"name": "a", "private_metadata": {"k": big}}),
        )
        .await;
    assert_eq!(
        reply.error_params(),
        [(
            "form_param_exceeds_allowed_size".to_owned(),
            "private_metadata".to_owned()
        )]
    );
    s.stop().await;
}

async fn malformed_and_oversized_bodies(store: Store) {
    let db = TestDb::new(store).await;
    let s = TestServer::start_with(metamerge::http::Config {
        max_body_bytes: 1024,
        ..config(&db.url())
    })
    .await;
    let org = s.create_org("Acme").await;
    let member = s.add_member(&org, "user_1", "org:member").await;
    let path = format!("/v1/organizations/{org}/memberships/user_1/metadata");

    for (body, needle) in [
        (
            "{\"public_metadata\": {\"a\": 1}",
            "EOF while parsing an object at line 1 column 28",
        ),
        (
            "{\"public_metadata\": {'a': 1}}",
            "key must be a string at line 1 column 22",
        ),
        ("[1, 2]", "must be a JSON object, got an array"),
        ("\"text\"", "must be a JSON object, got a string"),
        ("null", "must be a JSON object, got null"),
    ] {
        let reply = TestServer::reply(
            s.raw(Method::PATCH, &path)
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.error_code(), "request_body_invalid", "{body}");
        let long = reply.body["errors"][0]["long_message"].as_str().unwrap();
        assert!(long.contains(needle), "{body}: {long}");
        if body == "[1, 2]" {
            snapshot!("error_request_body_invalid", &reply.body);
        }
    }

    let wrong_type = TestServer::reply(
        s.raw(Method::PATCH, &path)
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await;
    assert_eq!(wrong_type.error_code(), "request_body_invalid");

    let huge = json!({"public_metadata": {"k": "x".repeat(2000)}}).to_string();
    let reply = TestServer::reply(
        s.raw(Method::PATCH, &path)
            .header("content-type", "application/json")
            .body(huge),
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.error_code(), "request_body_too_large");
    assert!(reply.text.contains("1024 bytes"), "{}", reply.text);
    snapshot!("error_request_body_too_large", &reply.body);

    // None of the above changed the membership.
    assert_eq!(s.membership(&org, "user_1").await, member);
    s.stop().await;
}

async fn membership_create_errors(store: Store) {
    let (s, _db) = server(store).await;
    let org = s.create_org("Acme").await;
    let path = format!("/v1/organizations/{org}/memberships");

    let missing = s.post(&path, json!({})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        missing.error_params(),
        [
            ("form_param_missing".to_owned(), "user_id".to_owned()),
            ("form_param_missing".to_owned(), "role".to_owned())
        ]
    );
    snapshot!("error_form_param_missing", &missing.body);

    let bad = s
        .post(
            &path,
            json!({"user_id": "user_1", "role": "org:member", "private_metadata": 3}),
        )
        .await;
    assert_eq!(
        bad.error_params(),
        [(
            "form_param_value_invalid".to_owned(),
            "private_metadata".to_owned()
        )]
    );

    let created = s
        .post(
            &path,
            json!({"user_id": "user_1", "role": "org:admin", "public_metadata": {"seat": 1}, "private_metadata": null}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    snapshot!("membership_created", &created.body);

    let twice = s
        .post(&path, json!({"user_id": "user_1", "role": "org:member"}))
        .await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);
    assert_eq!(twice.error_code(), "already_a_member_in_organization");
    snapshot!("error_already_a_member", &twice.body);

    let no_org = s
        .post(
            "/v1/organizations/org_missing/memberships",
            json!({"user_id": "user_1", "role": "org:member"}),
        )
        .await;
    assert_eq!(no_org.status, StatusCode::NOT_FOUND);
    assert_eq!(no_org.error_code(), "resource_not_found");
    snapshot!("error_resource_not_found", &no_org.body);

    // max_allowed_memberships is enforced (403, ours).
    let small = s
        .post(
            "/v1/organizations",
            json!({"name": "Small", "max_allowed_memberships": 1}),
        )
        .await;
    let small = small.body["id"].as_str().unwrap().to_owned();
    s.add_member(&small, "user_a", "org:member").await;
    let full = s
        .post(
            &format!("/v1/organizations/{small}/memberships"),
            json!({"user_id": "user_b", "role": "org:member"}),
        )
        .await;
    assert_eq!(full.status, StatusCode::FORBIDDEN);
    assert_eq!(full.error_code(), "organization_membership_quota_exceeded");

    // The list shows only the one membership created above.
    let list = s.get(&path).await;
    assert_eq!(list.body["total_count"], json!(1));
    s.stop().await;
}

async fn membership_objects_and_role_update(store: Store) {
    let (s, _db) = server(store).await;
    let org = s.create_org("Acme").await;
    let m = s.add_member(&org, "user_1", "org:member").await;
    assert_eq!(m["object"], json!("organization_membership"));
    assert!(m["id"].as_str().unwrap().starts_with("orgmem_"));
    assert_eq!(m["role_name"], json!("Member"));
    assert_eq!(m["permissions"], json!(["org:sys_memberships:read"]));
    assert_eq!(m["organization"]["id"], json!(org));
    assert_eq!(m["organization"]["members_count"], json!(1));
    assert_eq!(
        m["public_user_data"],
        json!({
            "user_id": "user_1", "first_name": null, "last_name": null, "image_url": "",
            "profile_image_url": "", "has_image": false, "identifier": "user_1"
        })
    );

    let path = format!("/v1/organizations/{org}/memberships/user_1");
    let updated = s.patch(&path, json!({"role": "org:admin"})).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.body["role"], json!("org:admin"));
    assert_eq!(updated.body["role_name"], json!("Admin"));
    assert_eq!(updated.body["id"], m["id"]);
    assert!(updated.body["updated_at"].as_i64() > m["updated_at"].as_i64());
    assert_eq!(s.membership(&org, "user_1").await, updated.body);

    let missing_role = s.patch(&path, json!({})).await;
    assert_eq!(
        missing_role.error_params(),
        [("form_param_missing".to_owned(), "role".to_owned())]
    );
    let unknown = s
        .patch(&path, json!({"role": "org:member", "public_metadata": {}}))
        .await;
    assert_eq!(
        unknown.error_params(),
        [(
            "form_param_unknown".to_owned(),
            "public_metadata".to_owned()
        )]
    );
    let no_member = s
        .patch(
            &format!("/v1/organizations/{org}/memberships/user_2"),
            json!({"role": "org:admin"}),
        )
        .await;
    assert_eq!(no_member.error_code(), "resource_not_found");
    let no_org = s
        .patch(
            "/v1/organizations/org_missing/memberships/user_1",
            json!({"role": "org:admin"}),
        )
        .await;
    assert_eq!(no_org.error_code(), "resource_not_found");
    assert_eq!(s.membership(&org, "user_1").await, updated.body);

    // Delete returns the membership as it was; the organization's count drops.
    s.add_member(&org, "user_2", "org:member").await;
    let deleted = s.delete(&path).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.body["id"], m["id"]);
    assert_eq!(deleted.body["role"], json!("org:admin"));
    assert_eq!(deleted.body["organization"]["members_count"], json!(1));
    let again = s.delete(&path).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.error_code(), "resource_not_found");
    let list = s.get(&format!("/v1/organizations/{org}/memberships")).await;
    assert_eq!(list.body["total_count"], json!(1));
    assert_eq!(
        list.body["data"][0]["public_user_data"]["user_id"],
        json!("user_2")
    );
    s.stop().await;
}

/// Clerk's documented example of the deep merge, then a null removal at a nested level.
async fn metadata_patch_deep_merge_and_null_removal(store: Store) {
    let (s, _db) = server(store).await;
    let org = s.create_org("Acme").await;
    let created = s
        .post(
            &format!("/v1/organizations/{org}/memberships"),
            json!({
                "user_id": "user_1", "role": "org:member",
                "public_metadata": {"a": 1, "nested": {"x": 1, "y": {"deep": true, "keep": 1}}, "list": [1, 2]},
                "private_metadata": {"secret": "s"}
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK);
    let before = created.body;

    let merged = s
        .patch_metadata(
            &org,
            "user_1",
            json!({"public_metadata": {"b": 2, "nested": {"y": {"deep": null, "new": [null]}, "z": 3}, "list": [3]}}),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.text);
    assert_eq!(
        merged.body["public_metadata"],
        json!({"a": 1, "nested": {"x": 1, "y": {"keep": 1, "new": [null]}, "z": 3}, "list": [3], "b": 2})
    );
    // Absent field: untouched.
    assert_eq!(merged.body["private_metadata"], json!({"secret": "s"}));
    assert!(merged.body["updated_at"].as_i64() > before["updated_at"].as_i64());
    assert_eq!(merged.body["created_at"], before["created_at"]);
    snapshot!("membership_metadata_merged", &merged.body);

    // Null removes at the top level and inside; a whole subtree goes with one null.
    let removed = s
        .patch_metadata(
            &org,
            "user_1",
            json!({"public_metadata": {"nested": null, "a": null}, "private_metadata": {"secret": null, "other": {"k": "v"}}}),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    assert_eq!(
        removed.body["public_metadata"],
        json!({"list": [3], "b": 2})
    );
    assert_eq!(
        removed.body["private_metadata"],
        json!({"other": {"k": "v"}})
    );

    // {} and an empty body change no metadata but still bump updated_at.
    let empty = s
        .patch_metadata(&org, "user_1", json!({"public_metadata": {}}))
        .await;
    assert_eq!(
        empty.body["public_metadata"],
        removed.body["public_metadata"]
    );
    assert!(empty.body["updated_at"].as_i64() > removed.body["updated_at"].as_i64());
    let no_body = TestServer::reply(s.raw(
        Method::PATCH,
        &format!("/v1/organizations/{org}/memberships/user_1/metadata"),
    ))
    .await;
    assert_eq!(no_body.status, StatusCode::OK, "{}", no_body.text);
    assert_eq!(
        no_body.body["private_metadata"],
        removed.body["private_metadata"]
    );

    // The stored value is what the response said.
    assert_eq!(s.membership(&org, "user_1").await, no_body.body);
    s.stop().await;
}

/// Every rejected metadata PATCH leaves the membership exactly as it was.
async fn metadata_patch_errors_change_nothing(store: Store) {
    let db = TestDb::new(store).await;
    let s = TestServer::start_with(metamerge::http::Config {
        max_metadata_bytes: 64,
        ..config(&db.url())
    })
    .await;
    let org = s.create_org("Acme").await;
    s.add_member(&org, "user_1", "org:member").await;
    let before = s
        .patch_metadata(
            &org,
            "user_1",
            json!({"public_metadata": {"keep": "me"}, "private_metadata": {"p": 1}}),
        )
        .await
        .body;

    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (
            json!({"public_metadata": null}),
            vec![("form_param_value_invalid", "public_metadata")],
        ),
        (
            json!({"public_metadata": "s"}),
            vec![("form_param_value_invalid", "public_metadata")],
        ),
        (
            json!({"private_metadata": 1}),
            vec![("form_param_value_invalid", "private_metadata")],
        ),
        (
            json!({"private_metadata": [1]}),
            vec![("form_param_value_invalid", "private_metadata")],
        ),
        (
            json!({"private_metadata": true}),
            vec![("form_param_value_invalid", "private_metadata")],
        ),
        (
            json!({"public_metadata": {"ok": 1}, "unsafe_metadata": {}}),
            vec![("form_param_unknown", "unsafe_metadata")],
        ),
        (
            // Valid public patch, invalid private one: neither is applied.
            json!({"public_metadata": {"keep": null}, "private_metadata": null}),
            vec![("form_param_value_invalid", "private_metadata")],
        ),
        (
            // Too large only after the merge (limit 64 bytes of compact JSON).
            json!({"public_metadata": {"big": "x".repeat(50)}}),
            vec![("form_param_exceeds_allowed_size", "public_metadata")],
        ),
        (
            json!({"public_metadata": {"big": "x".repeat(60)}, "private_metadata": {"big": "y".repeat(60)}}),
            vec![
                ("form_param_exceeds_allowed_size", "public_metadata"),
                ("form_param_exceeds_allowed_size", "private_metadata"),
            ],
        ),
    ];
    for (body, expected) in cases {
        let reply = s.patch_metadata(&org, "user_1", body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.text
        );
        let got = reply.error_params();
        let got: Vec<(&str, &str)> = got.iter().map(|(c, p)| (c.as_str(), p.as_str())).collect();
        assert_eq!(got, expected, "{body}");
        if expected[0].0 == "form_param_exceeds_allowed_size" && expected.len() == 1 {
            snapshot!("error_form_param_exceeds_allowed_size", &reply.body);
        }
        if body == json!({"public_metadata": null}) {
            snapshot!("error_form_param_value_invalid", &reply.body);
        }
        assert_eq!(s.membership(&org, "user_1").await, before, "after {body}");
    }

    // Exactly at the limit is fine: {"keep":"me","big":"…"} with 42 x's is 64 bytes.
    let at_limit = s
        .patch_metadata(
            &org,
            "user_1",
            json!({"public_metadata": {"big": "x".repeat(42)}}),
        )
        .await;
    assert_eq!(at_limit.status, StatusCode::OK, "{}", at_limit.text);
    assert_eq!(
        serde_json::to_string(&at_limit.body["public_metadata"])
            .unwrap()
            .len(),
        64
    );

    for (path, what) in [
        (
            format!("/v1/organizations/{org}/memberships/user_2/metadata"),
            "membership",
        ),
        (
            "/v1/organizations/org_missing/memberships/user_1/metadata".to_owned(),
            "organization",
        ),
    ] {
        let reply = s.patch(&path, json!({"public_metadata": {"a": 1}})).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{what}");
        assert_eq!(reply.error_code(), "resource_not_found", "{what}");
    }
    s.stop().await;
}

/// Key order and number literals survive storage and the merge byte for byte (serde_json
/// spells exponents `e+N`, so `1e400` comes back as `1e+400`: the same number).
async fn key_order_and_number_literals_survive(store: Store) {
    let (s, _db) = server(store).await;
    let org = s.create_org("Acme").await;
    s.add_member(&org, "user_1", "org:member").await;
    let path = format!("/v1/organizations/{org}/memberships/user_1/metadata");
    let body = r#"{"public_metadata":{"zeta":1,"alpha":{"z":18446744073709551616123,"a":-0.0},"mid":1e400}}"#;
    let reply = TestServer::reply(
        s.raw(Method::PATCH, &path)
            .header("content-type", "application/json")
            .body(body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply.text.contains(
            r#""public_metadata":{"zeta":1,"alpha":{"z":18446744073709551616123,"a":-0.0},"mid":1e+400}"#
        ),
        "{}",
        reply.text
    );
    let second = TestServer::reply(
        s.raw(Method::PATCH, &path)
            .header("content-type", "application/json")
            .body(r#"{"public_metadata":{"zeta":null,"alpha":{"b":2},"first":0}}"#),
    )
    .await;
    assert!(
        second.text.contains(
            r#""public_metadata":{"alpha":{"z":18446744073709551616123,"a":-0.0,"b":2},"mid":1e+400,"first":0}"#
        ),
        "{}",
        second.text
    );
    s.stop().await;
}

async fn list_pagination_order_and_filters(store: Store) {
    let (s, _db) = server(store).await;
    let org = s.create_org("Acme").await;
    let other = s.create_org("Other").await;
    s.add_member(&other, "user_x", "org:admin").await;
    let users: Vec<String> = (0..12).map(|i| format!("user_{i:02}")).collect();
    for (i, user) in users.iter().enumerate() {
        s.add_member(
            &org,
            user,
            if i % 3 == 0 {
                "org:admin"
            } else {
                "org:member"
            },
        )
        .await;
    }
    let ids = |reply: &http_common::Reply| -> Vec<String> {
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                m["public_user_data"]["user_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let base = format!("/v1/organizations/{org}/memberships");

    // Default: newest first, 10 per page.
    let first = s.get(&base).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["total_count"], json!(12));
    let newest_first: Vec<String> = users.iter().rev().cloned().collect();
    assert_eq!(ids(&first), newest_first[..10]);
    for m in first.body["data"].as_array().unwrap() {
        assert_eq!(m["organization"]["members_count"], json!(12));
    }

    let asc = s
        .get(&format!("{base}?order_by=created_at&limit=5&offset=0"))
        .await;
    assert_eq!(ids(&asc), users[..5]);
    let plus = s
        .get(&format!("{base}?order_by=%2Bcreated_at&limit=5&offset=5"))
        .await;
    assert_eq!(ids(&plus), users[5..10]);
    let last = s
        .get(&format!("{base}?order_by=created_at&limit=5&offset=10"))
        .await;
    assert_eq!(ids(&last), users[10..]);
    assert_eq!(last.body["total_count"], json!(12));
    let beyond = s.get(&format!("{base}?offset=100")).await;
    assert_eq!(ids(&beyond), Vec::<String>::new());
    assert_eq!(beyond.body["total_count"], json!(12));
    let desc = s
        .get(&format!("{base}?order_by=-created_at&limit=500"))
        .await;
    assert_eq!(ids(&desc), newest_first);

    // Repeatable filters; total_count counts the filtered set.
    let two = s
        .get(&format!(
            "{base}?user_id=user_03&user_id=user_07&user_id=user_x&order_by=created_at"
        ))
        .await;
    assert_eq!(ids(&two), ["user_03", "user_07"]);
    assert_eq!(two.body["total_count"], json!(2));
    let admins = s
        .get(&format!(
            "{base}?role=org%3Aadmin&order_by=created_at&limit=2"
        ))
        .await;
    assert_eq!(ids(&admins), ["user_00", "user_03"]);
    assert_eq!(admins.body["total_count"], json!(4));
    let both = s
        .get(&format!(
            "{base}?role=org:admin&role=org:member&user_id=user_01&user_id=user_03"
        ))
        .await;
    assert_eq!(both.body["total_count"], json!(2));
    let none = s.get(&format!("{base}?role=org:billing")).await;
    assert_eq!(none.body, json!({"data": [], "total_count": 0}));

    snapshot!(
        "membership_list_page",
        &s.get(&format!("{base}?order_by=created_at&limit=1"))
            .await
            .body
    );

    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("order_by=name", "order_by"),
        ("limit=1&limit=2", "limit"),
        ("query=abc", "query"),
    ] {
        let reply = s.get(&format!("{base}?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(
            reply.error_params(),
            [("malformed_request_parameters".to_owned(), param.to_owned())],
            "{query}"
        );
        if query == "limit=0" {
            snapshot!("error_malformed_request_parameters", &reply.body);
        }
    }
    s.stop().await;
}

async fn unknown_routes_and_methods_get_clerk_bodies(store: Store) {
    let (s, _db) = server(store).await;
    let nowhere = s.get("/v1/nowhere").await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.error_code(), "resource_not_found");
    let wrong_method = s.call(Method::PUT, "/v1/organizations", None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.error_code(), "method_not_allowed");
    // A path parameter that is not valid UTF-8 once percent-decoded.
    let bad_path = s.get("/v1/organizations/%FF").await;
    assert_eq!(bad_path.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_path.error_params(),
        [("malformed_request_parameters".to_owned(), "path".to_owned())]
    );
    s.stop().await;
}

/// SQLite only: `:memory:` is a SQLite database.
#[tokio::test]
async fn in_memory_database_works() {
    let s = TestServer::start(":memory:").await;
    let org = s.create_org("Ephemeral").await;
    s.add_member(&org, "user_1", "org:member").await;
    let reply = s
        .patch_metadata(&org, "user_1", json!({"public_metadata": {"a": 1}}))
        .await;
    assert_eq!(reply.body["public_metadata"], json!({"a": 1}));
    s.stop().await;
}

/// A metadata PATCH body is applied while it is parsed (`metamerge::merge_slice`), so a member
/// name repeated within one object of the body is rejected (I-JSON, RFC 7493 section 2.3):
/// applying both in order would differ from parse-then-merge, where the last one silently wins.
/// The error is Clerk's 400 for a malformed body, naming the key with line and column; nothing
/// is stored, on both endpoints.
async fn metadata_patch_duplicate_key_is_a_located_400_and_changes_nothing(store: Store) {
    let (s, _db) = server(store).await;
    let org = s.create_org("Acme").await;
    s.add_member(&org, "user_1", "org:member").await;
    let seeded = s
        .patch_metadata(
            &org,
            "user_1",
            json!({"public_metadata": {"plan": "free", "seats": 1}, "private_metadata": {"p": 1}}),
        )
        .await;
    assert_eq!(seeded.status, StatusCode::OK, "{}", seeded.text);
    let member_before = s.membership(&org, "user_1").await;
    let org_path = format!("/v1/organizations/{org}");
    let org_before = s.get(&org_path).await.body;

    let cases = [
        // Top level: the second one would remove the first's changes.
        (
            r#"{"public_metadata": {"plan": "pro"}, "public_metadata": null}"#,
            "public_metadata",
            "line 1 column 54",
        ),
        // Nested, after other members were already applied.
        (
            "{\n  \"private_metadata\": {\"p\": 2},\n  \"public_metadata\": {\n    \"seats\": 5,\n    \"plan\": \"pro\",\n    \"plan\": null\n  }\n}",
            "plan",
            "line 6 column 10",
        ),
        // Inside an array value.
        (
            r#"{"public_metadata": {"list": [{"k": 1, "k": 2}]}}"#,
            "k",
            "line 1 column 42",
        ),
    ];
    for (body, key, at) in cases {
        for path in [
            format!("/v1/organizations/{org}/memberships/user_1/metadata"),
            format!("/v1/organizations/{org}/metadata"),
        ] {
            let reply = TestServer::reply(
                s.raw(Method::PATCH, &path)
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path} {body}");
            assert_eq!(reply.error_code(), "request_body_invalid", "{body}");
            let long = reply.body["errors"][0]["long_message"].as_str().unwrap();
            assert_eq!(
                long,
                format!(
                    "the request body is invalid: the body is not a valid merge patch: \
                     duplicate key \"{key}\" in a merge patch object (RFC 7493 section 2.3) at {at}"
                ),
                "{path} {body}"
            );
            if key == "plan" && path.ends_with("user_1/metadata") {
                snapshot!("error_request_body_invalid_duplicate_key", &reply.body);
            }
        }
    }
    // Nothing was stored, not even `updated_at`.
    assert_eq!(s.membership(&org, "user_1").await, member_before);
    assert_eq!(s.get(&org_path).await.body, org_before);

    // The same name in different objects is fine.
    let reply = s
        .patch_metadata(
            &org,
            "user_1",
            json!({"public_metadata": {"plan": {"plan": 1}}, "private_metadata": {"plan": 2}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body["public_metadata"],
        json!({"plan": {"plan": 1}, "seats": 1})
    );
    s.stop().await;
}

/// The body is applied as it is read, so by the time the parser meets bad JSON at the end of
/// a valid-looking body, most of its members have been applied: they are all undone, and
/// nothing is stored (neither metadata field, nor `updated_at`), on both endpoints. The error
/// gives line and column. A bad body still gets its 400 (or 422) before a 404 for a missing
/// organization or membership.
async fn metadata_patch_invalid_json_at_the_end_changes_nothing(store: Store) {
    let (s, _db) = server(store).await;
    let org = s.create_org("Acme").await;
    s.add_member(&org, "user_1", "org:member").await;
    let seed = json!({
        "public_metadata": {"zeta": 1, "keep": "me", "nested": {"a": [1, 2], "b": {"c": true}}},
        "private_metadata": {"secret": "s", "count": 18446744073709551616u128}
    });
    let seeded = s.patch_metadata(&org, "user_1", seed.clone()).await;
    assert_eq!(seeded.status, StatusCode::OK, "{}", seeded.text);
    let seeded = s
        .patch(&format!("/v1/organizations/{org}/metadata"), seed)
        .await;
    assert_eq!(seeded.status, StatusCode::OK, "{}", seeded.text);
    let member_before = s.membership(&org, "user_1").await;
    let org_path = format!("/v1/organizations/{org}");
    let org_before = s.get(&org_path).await.body;

    let valid = "{\"public_metadata\": {\"zeta\": null, \"keep\": \"changed\", \"nested\": {\"a\": null, \"b\": {\"c\": false, \"d\": 1}}, \"new\": [1]},\n \"private_metadata\": {\"secret\": null, \"count\": 0, \"more\": {\"x\": 1}}";
    let cases = [
        (
            format!("{valid}}} x"),
            "trailing characters at line 2 column 70",
        ),
        (
            valid.to_owned(),
            "EOF while parsing an object at line 2 column 67",
        ),
        (
            format!("{valid}, \"z\": tru}}"),
            "expected ident at line 2 column 78",
        ),
        (format!("{valid},}}"), "trailing comma at line 2 column 69"),
        // Ends with a newline: serde_json says column 0, the service column 1.
        (
            format!("{valid},\n"),
            "EOF while parsing a value at line 3 column 1",
        ),
    ];
    for (body, needle) in &cases {
        for path in [
            format!("/v1/organizations/{org}/memberships/user_1/metadata"),
            format!("/v1/organizations/{org}/metadata"),
        ] {
            let reply = TestServer::reply(
                s.raw(Method::PATCH, &path)
                    .header("content-type", "application/json")
                    .body(body.clone()),
            )
            .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path} {body}");
            assert_eq!(reply.error_code(), "request_body_invalid", "{body}");
            let long = reply.body["errors"][0]["long_message"].as_str().unwrap();
            assert_eq!(
                long,
                format!("the request body is invalid: the body is not valid JSON: {needle}"),
                "{path}"
            );
        }
    }
    assert_eq!(s.membership(&org, "user_1").await, member_before);
    assert_eq!(s.get(&org_path).await.body, org_before);

    // The valid body, closed, applies all of it.
    let reply = TestServer::reply(
        s.raw(
            Method::PATCH,
            &format!("/v1/organizations/{org}/memberships/user_1/metadata"),
        )
        .header("content-type", "application/json")
        .body(format!("{valid}}}")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body["public_metadata"],
        json!({"keep": "changed", "nested": {"b": {"c": false, "d": 1}}, "new": [1]})
    );
    assert_eq!(
        reply.body["private_metadata"],
        json!({"count": 0, "more": {"x": 1}})
    );

    // Bad bodies get their 400 or 422 before the 404 of a missing membership or organization,
    // and a top-level `null` for an unknown field is still unknown.
    for path in [
        format!("/v1/organizations/{org}/memberships/user_2/metadata"),
        "/v1/organizations/org_missing/metadata".to_owned(),
    ] {
        for (body, status, code) in [
            (
                cases[0].0.as_str(),
                StatusCode::BAD_REQUEST,
                "request_body_invalid",
            ),
            (
                r#"{"a": 1, "a": 2}"#,
                StatusCode::BAD_REQUEST,
                "request_body_invalid",
            ),
            (
                r#"{"public_metadata": null}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
                "form_param_value_invalid",
            ),
            (
                r#"{"unsafe_metadata": null}"#,
                StatusCode::UNPROCESSABLE_ENTITY,
                "form_param_unknown",
            ),
            (
                r#"{"public_metadata": {"a": 1}}"#,
                StatusCode::NOT_FOUND,
                "resource_not_found",
            ),
        ] {
            let reply = TestServer::reply(
                s.raw(Method::PATCH, &path)
                    .header("content-type", "application/json")
                    .body(body.to_owned()),
            )
            .await;
            assert_eq!(
                (reply.status, reply.error_code()),
                (status, code),
                "{path} {body}"
            );
        }
    }
    let unknown_null = TestServer::reply(
        s.raw(
            Method::PATCH,
            &format!("/v1/organizations/{org}/memberships/user_1/metadata"),
        )
        .header("content-type", "application/json")
        .body(r#"{"public_metadata": {"x": 1}, "unsafe_metadata": null}"#),
    )
    .await;
    assert_eq!(
        unknown_null.error_params(),
        [(
            "form_param_unknown".to_owned(),
            "unsafe_metadata".to_owned()
        )]
    );
    s.stop().await;
}

both_stores!(tokio::test;
    healthz_needs_no_key_and_has_a_request_id,
    openapi_document_describes_every_endpoint,
    authentication_errors,
    client_request_id_is_kept_as_clerk_trace_id,
    organization_lifecycle,
    organization_body_errors,
    malformed_and_oversized_bodies,
    membership_create_errors,
    membership_objects_and_role_update,
    metadata_patch_deep_merge_and_null_removal,
    metadata_patch_errors_change_nothing,
    key_order_and_number_literals_survive,
    list_pagination_order_and_filters,
    unknown_routes_and_methods_get_clerk_bodies,
    metadata_patch_duplicate_key_is_a_located_400_and_changes_nothing,
    metadata_patch_invalid_json_at_the_end_changes_nothing,
);
