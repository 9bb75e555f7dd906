//! The server driven by a Clerk client written by someone else: the community Rust SDK
//! `clerk-rs` (0.5, generated from Clerk's OpenAPI spec), configured only with the server's
//! base URL and the secret key. Runs on SQLite and on PostgreSQL (`postgres::…`, see
//! `http_common`). Run with `cargo test --features http --test http_clerk_rs`.
#![cfg(feature = "http")]

mod http_common;

use std::collections::HashMap;

use clerk_rs::apis::configuration::Configuration;
use clerk_rs::apis::{
    organization_memberships_api as memberships, organizations_api as organizations, Error,
};
use clerk_rs::models;
use http_common::{Store, TestDb, TestServer, KEY};
use serde_json::{json, Value};

fn map(value: Value) -> HashMap<String, Value> {
    serde_json::from_value(value).unwrap()
}

/// The status and Clerk error code of an SDK error.
fn clerk_error<T: std::fmt::Debug>(error: Error<T>) -> (u16, String, Option<String>) {
    match error {
        Error::ResponseError(response) => {
            let body: models::ClerkErrors = serde_json::from_str(&response.content)
                .unwrap_or_else(|e| panic!("not a Clerk error body ({e}): {}", response.content));
            (
                response.status.as_u16(),
                body.errors[0].code.clone(),
                body.clerk_trace_id,
            )
        }
        other => panic!("expected an error response, got {other:?}"),
    }
}

both_stores!(tokio::test(flavor = "multi_thread", worker_threads = 2);
    clerk_rs_sdk_manages_memberships_and_metadata,
);

async fn clerk_rs_sdk_manages_memberships_and_metadata(store: Store) {
    let db = TestDb::new(store).await;
    let server = TestServer::start(&db.url()).await;
    let config = Configuration::new(KEY).with_base_path(format!("{}/v1", server.base));

    // Organization.
    let organization = organizations::create_organization(
        &config,
        Some(models::CreateOrganizationRequest {
            name: "Acme".to_owned(),
            public_metadata: Some(Some(map(json!({"plan": "pro"})))),
            ..Default::default()
        }),
    )
    .await
    .expect("create organization");
    assert!(organization.id.starts_with("org_"));
    assert_eq!(organization.slug, "acme");
    let fetched = organizations::get_organization(&config, &organization.id, Some(true), None)
        .await
        .expect("get organization");
    assert_eq!(fetched.public_metadata, map(json!({"plan": "pro"})));

    // Membership with initial metadata.
    let membership = memberships::create_organization_membership(
        &config,
        &organization.id,
        models::CreateOrganizationMembershipRequest {
            user_id: "user_2abc".to_owned(),
            role: "org:member".to_owned(),
            public_metadata: Some(Some(map(
                json!({"seat": {"floor": 3, "desk": "A"}, "tags": ["x"]}),
            ))),
            private_metadata: None,
        },
    )
    .await
    .expect("create membership");
    assert!(membership.id.starts_with("orgmem_"));
    assert_eq!(membership.organization.id, organization.id);
    assert_eq!(membership.organization.members_count, Some(1));
    assert_eq!(
        membership.public_user_data.as_ref().unwrap().user_id,
        "user_2abc"
    );

    // Metadata update: deep merge, null removal, array replacement.
    let updated = memberships::update_organization_membership_metadata(
        &config,
        &organization.id,
        "user_2abc",
        Some(models::UpdateOrganizationMembershipMetadataRequest {
            public_metadata: Some(map(
                json!({"seat": {"desk": null, "room": 12}, "tags": ["y", "z"]}),
            )),
            private_metadata: Some(map(json!({"billing": {"customer": "cus_1"}}))),
        }),
    )
    .await
    .expect("update membership metadata");
    assert_eq!(
        updated.public_metadata,
        map(json!({"seat": {"floor": 3, "room": 12}, "tags": ["y", "z"]}))
    );
    assert_eq!(
        updated.private_metadata,
        Some(map(json!({"billing": {"customer": "cus_1"}})))
    );
    assert!(updated.updated_at > membership.updated_at);

    // Role change, then list with a role filter.
    let admin = memberships::update_organization_membership(
        &config,
        &organization.id,
        "user_2abc",
        models::UpdateOrganizationMembershipRequest {
            role: "org:admin".to_owned(),
        },
    )
    .await
    .expect("update membership");
    assert_eq!(admin.role, "org:admin");
    assert_eq!(admin.role_name.as_deref(), Some("Admin"));
    let list = memberships::list_organization_memberships(
        &config,
        &organization.id,
        Some("-created_at"),
        Some(vec!["user_2abc".to_owned()]),
        None,
        None,
        None,
        None,
        Some(vec!["org:admin".to_owned()]),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        Some(10),
        Some(0),
    )
    .await
    .expect("list memberships");
    assert_eq!(list.total_count, 1);
    assert_eq!(list.data[0].public_metadata, updated.public_metadata);

    // Organization metadata merge.
    let merged = organizations::merge_organization_metadata(
        &config,
        &organization.id,
        models::MergeOrganizationMetadataRequest {
            public_metadata: Some(map(json!({"plan": null, "seats": 5}))),
            private_metadata: None,
        },
    )
    .await
    .expect("merge organization metadata");
    assert_eq!(merged.public_metadata, map(json!({"seats": 5})));

    // Errors come back as Clerk error bodies the SDK can parse.
    let missing = memberships::update_organization_membership_metadata(
        &config,
        &organization.id,
        "user_nobody",
        Some(models::UpdateOrganizationMembershipMetadataRequest::new()),
    )
    .await
    .unwrap_err();
    let (status, code, trace) = clerk_error(missing);
    assert_eq!((status, code.as_str()), (404, "resource_not_found"));
    assert!(trace.is_some_and(|t| t.starts_with("req_")));
    let wrong_key =
        Configuration::new("sk_test_wrong").with_base_path(format!("{}/v1", server.base));
    let denied = organizations::get_organization(&wrong_key, &organization.id, None, None)
        .await
        .unwrap_err();
    let (status, code, _) = clerk_error(denied);
    assert_eq!((status, code.as_str()), (401, "clerk_key_invalid"));

    // Deletion.
    let removed =
        memberships::delete_organization_membership(&config, &organization.id, "user_2abc")
            .await
            .expect("delete membership");
    assert_eq!(removed.id, membership.id);
    let deleted = organizations::delete_organization(&config, &organization.id)
        .await
        .expect("delete organization");
    assert_eq!(deleted.id.as_deref(), Some(organization.id.as_str()));
    let gone = organizations::get_organization(&config, &organization.id, None, None)
        .await
        .unwrap_err();
    assert_eq!(clerk_error(gone).0, 404);
    server.stop().await;
}
