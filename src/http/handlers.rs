//! The endpoint handlers: each extracts and validates its input, makes one store call and
//! shapes the answer. The OpenAPI description is generated from the `#[utoipa::path]`
//! attributes here (served at `GET /v1/openapi.json`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawQuery, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::error::{AppError, ClerkErrors, OwnErrorBody};
use super::model::{
    initial_metadata, slugify, CreateMembershipRequest, CreateOrganizationRequest, DeletedObject,
    Fields, FromJsonBody, Health, ListMembershipsQuery, MetadataPatch, Organization,
    OrganizationMembership, OrganizationMemberships, OrganizationObject, UpdateMembershipRequest,
};
use super::store::{NewMembership, NewOrganization};
use super::AppState;

/// A JSON request body as raw bytes, checked only for its `Content-Type` and length:
///
/// - a `Content-Type` other than JSON (`application/json`, `…+json`): 400
///   `request_body_invalid` (no header at all is accepted as JSON);
/// - longer than the body limit, or announced so by `Content-Length`: 413
///   `request_body_too_large` (the latter before any of the body is read).
///
/// The metadata PATCH endpoints take this and apply the bytes while parsing them
/// ([`MetadataPatch::apply_body`]); other endpoints use [`ClerkJson`].
pub struct ClerkBody(pub Bytes);

impl FromRequest<AppState> for ClerkBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        if let Some(content_type) = req.headers().get(CONTENT_TYPE) {
            let essence = content_type
                .to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(AppError::BodyInvalid(format!(
                    "Content-Type must be application/json, got `{}`",
                    content_type.to_str().unwrap_or("(not text)")
                )));
            }
        }
        // A Content-Length over the limit is refused at once, before waiting for a body that
        // may never come (the hostile-HTTP test found it answered only at the request
        // timeout).
        let announced = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > state.max_body_bytes as u64) {
            return Err(AppError::BodyTooLarge {
                limit: state.max_body_bytes,
            });
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::BodyTooLarge {
                    limit: state.max_body_bytes,
                }
            } else {
                AppError::BodyInvalid(rejection.body_text())
            }
        })?;
        Ok(ClerkBody(bytes))
    }
}

/// A JSON request body validated into `T`.
///
/// - the `Content-Type` and length checks of [`ClerkBody`];
/// - not valid JSON (the detail gives line and column), a member name repeated within one
///   object (the detail names it, with line and column), or not a JSON object: 400
///   `request_body_invalid`;
/// - an empty body (no bytes) counts as `{}` (ours); whitespace alone is invalid JSON;
/// - then `T`'s field validation (422s).
pub struct ClerkJson<T>(pub T);

impl<T: FromJsonBody> FromRequest<AppState> for ClerkJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let ClerkBody(bytes) = ClerkBody::from_request(req, state).await?;
        // Only a body of no bytes is empty: whitespace alone is not a JSON text (RFC 8259
        // section 2), and `u8::is_ascii_whitespace` even took a form feed (schemathesis found
        // both answered 200).
        if bytes.is_empty() {
            return T::from_object(Fields::new(serde_json::Map::new())).map(ClerkJson);
        }
        // `parse_slice`, not `from_slice`: a member name repeated within one object is
        // refused (I-JSON, RFC 7493 section 2.3), as in the metadata PATCH bodies, instead of
        // the last one silently winning (`{"public_metadata":{"plan":"pro","plan":null}}`
        // was stored as `{"plan":null}`).
        let value: Value = crate::parse_slice(&bytes).map_err(|e| {
            let message = super::model::located_message(&e);
            AppError::BodyInvalid(match e.kind() {
                crate::ErrorKind::DuplicateKey => format!("the body is not valid: {message}"),
                _ => format!("the body is not valid JSON: {message}"),
            })
        })?;
        match value {
            Value::Object(map) => T::from_object(Fields::new(map)).map(ClerkJson),
            other => Err(AppError::BodyInvalid(format!(
                "the body must be a JSON object, got {}",
                match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                }
            ))),
        }
    }
}

/// A store result for a metadata PATCH: when the organization or membership does not exist,
/// a bad body is still reported first (400/422 before 404), as when bodies were parsed
/// before the lookup.
fn body_errors_before_not_found<T>(
    result: Result<T, AppError>,
    body: &[u8],
) -> Result<T, AppError> {
    match result {
        Err(AppError::NotFound(detail)) => {
            MetadataPatch::check_body(body)?;
            Err(AppError::NotFound(detail))
        }
        other => other,
    }
}

/// Path parameters; a rejection (e.g. invalid percent-encoding) is
/// 400 `malformed_request_parameters`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct ClerkPath<T>(pub T);

/// Liveness: 200 `{"status":"ok"}` when the store answers, 503 with
/// `{"status":"unavailable","store":…,"error":…}` otherwise. No auth.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The service and its store answer", body = Health),
              (status = 503, description = "The store does not answer (e.g. PostgreSQL unreachable); \
                                            `store` and `error` say which and why", body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(Health {
            status: "ok".to_owned(),
            store: None,
            error: None,
        })
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            let detail = match e {
                AppError::Unavailable(detail) | AppError::Internal(detail) => detail,
                other => other.to_string(),
            };
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable".to_owned(),
                    store: Some(state.store.kind().to_owned()),
                    error: Some(detail),
                }),
            )
                .into_response();
            response.extensions_mut().insert(OwnErrorBody);
            response
        }
    }
}

/// Create an organization.
#[utoipa::path(post, path = "/v1/organizations", tag = "organizations",
    request_body = CreateOrganizationRequest,
    responses((status = 200, description = "The new organization", body = Organization,
                links(
                    ("GetOrganization" = (operation_id = "get_organization",
                        parameters(("organization_id" = "$response.body#/id")))),
                    ("UpdateOrganizationMetadata" = (operation_id = "update_organization_metadata",
                        parameters(("organization_id" = "$response.body#/id")))),
                    ("CreateMembership" = (operation_id = "create_membership",
                        parameters(("organization_id" = "$response.body#/id")))),
                    ("ListMemberships" = (operation_id = "list_memberships",
                        parameters(("organization_id" = "$response.body#/id")))),
                    ("DeleteOrganization" = (operation_id = "delete_organization",
                        parameters(("organization_id" = "$response.body#/id")))))),
              (status = 400, description = "Body is not a JSON object", body = ClerkErrors),
              (status = 401, description = "Missing or wrong secret key", body = ClerkErrors),
              (status = 413, description = "Body too large", body = ClerkErrors),
              (status = 422, description = "Invalid, missing, unknown or too large field", body = ClerkErrors)),
    security(("bearer" = [])))]
pub async fn create_organization(
    State(state): State<AppState>,
    ClerkJson(body): ClerkJson<CreateOrganizationRequest>,
) -> Result<Json<Organization>, AppError> {
    let (public_metadata, private_metadata) = initial_metadata(
        body.public_metadata,
        body.private_metadata,
        state.max_metadata_bytes,
    )?;
    let slug = body.slug.unwrap_or_else(|| {
        let slug = slugify(&body.name);
        if slug.is_empty() {
            "organization".to_owned()
        } else {
            slug
        }
    });
    let organization = state
        .store
        .create_organization(NewOrganization {
            name: body.name,
            slug,
            created_by: body.created_by,
            max_allowed_memberships: body.max_allowed_memberships.unwrap_or(0),
            public_metadata,
            private_metadata,
        })
        .await?;
    Ok(Json(organization))
}

/// Retrieve an organization.
#[utoipa::path(get, path = "/v1/organizations/{organization_id}", tag = "organizations",
    params(("organization_id" = String, Path, description = "The organization's `org_` ID")),
    responses((status = 200, description = "The organization", body = Organization),
              (status = 401, description = "Missing or wrong secret key", body = ClerkErrors),
              (status = 404, description = "No such organization", body = ClerkErrors)),
    security(("bearer" = [])))]
pub async fn get_organization(
    State(state): State<AppState>,
    ClerkPath(organization_id): ClerkPath<String>,
) -> Result<Json<Organization>, AppError> {
    Ok(Json(state.store.get_organization(organization_id).await?))
}

/// Merge metadata into an organization (RFC 7396 deep merge per metadata field).
///
/// The body is applied while it is parsed ([`MetadataPatch::apply_body`]), inside the store's
/// transaction: a body that turns out bad at any byte (invalid JSON, a duplicate key, a
/// wrong field, the size limit) changes nothing.
#[utoipa::path(patch, path = "/v1/organizations/{organization_id}/metadata", tag = "organizations",
    params(("organization_id" = String, Path, description = "The organization's `org_` ID")),
    request_body = Option<MetadataPatch>,
    responses((status = 200, description = "The updated organization", body = Organization),
              (status = 400, description = "Body is not a JSON object", body = ClerkErrors),
              (status = 401, description = "Missing or wrong secret key", body = ClerkErrors),
              (status = 404, description = "No such organization", body = ClerkErrors),
              (status = 413, description = "Body too large", body = ClerkErrors),
              (status = 422, description = "Metadata not an object, unknown field, or too large after the merge", body = ClerkErrors)),
    security(("bearer" = [])))]
pub async fn update_organization_metadata(
    State(state): State<AppState>,
    ClerkPath(organization_id): ClerkPath<String>,
    ClerkBody(body): ClerkBody,
) -> Result<Json<Organization>, AppError> {
    let max = state.max_metadata_bytes;
    let patch = body.clone();
    let result = state
        .store
        .update_organization(
            organization_id,
            Box::new(move |o| {
                MetadataPatch::apply_body(
                    &patch,
                    &mut o.public_metadata,
                    &mut o.private_metadata,
                    max,
                )
            }),
        )
        .await;
    Ok(Json(body_errors_before_not_found(result, &body)?))
}

/// Delete an organization and all its memberships.
#[utoipa::path(delete, path = "/v1/organizations/{organization_id}", tag = "organizations",
    params(("organization_id" = String, Path, description = "The organization's `org_` ID")),
    responses((status = 200, description = "The organization is deleted", body = DeletedObject),
              (status = 401, description = "Missing or wrong secret key", body = ClerkErrors),
              (status = 404, description = "No such organization", body = ClerkErrors)),
    security(("bearer" = [])))]
pub async fn delete_organization(
    State(state): State<AppState>,
    ClerkPath(organization_id): ClerkPath<String>,
) -> Result<Json<DeletedObject>, AppError> {
    state
        .store
        .delete_organization(organization_id.clone())
        .await?;
    Ok(Json(DeletedObject {
        object: OrganizationObject::Organization,
        id: organization_id,
        deleted: true,
    }))
}

/// Add a user to an organization.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/memberships", tag = "organization memberships",
    params(("organization_id" = String, Path, description = "The organization's `org_` ID")),
    request_body = CreateMembershipRequest,
    responses((status = 200, description = "The new membership", body = OrganizationMembership,
                links(
                    ("UpdateMembership" = (operation_id = "update_membership",
                        parameters(("organization_id" = "$response.body#/organization/id"),
                                   ("user_id" = "$response.body#/public_user_data/user_id")))),
                    ("UpdateMembershipMetadata" = (operation_id = "update_membership_metadata",
                        parameters(("organization_id" = "$response.body#/organization/id"),
                                   ("user_id" = "$response.body#/public_user_data/user_id")))),
                    ("DeleteMembership" = (operation_id = "delete_membership",
                        parameters(("organization_id" = "$response.body#/organization/id"),
                                   ("user_id" = "$response.body#/public_user_data/user_id")))))),
              (status = 400, description = "Body is not a JSON object, or the user is already a member", body = ClerkErrors),
              (status = 401, description = "Missing or wrong secret key", body = ClerkErrors),
              (status = 403, description = "The organization's max_allowed_memberships is reached", body = ClerkErrors),
              (status = 404, description = "No such organization", body = ClerkErrors),
              (status = 413, description = "Body too large", body = ClerkErrors),
              (status = 422, description = "Invalid, missing, unknown or too large field", body = ClerkErrors)),
    security(("bearer" = [])))]
pub async fn create_membership(
    State(state): State<AppState>,
    ClerkPath(organization_id): ClerkPath<String>,
    ClerkJson(body): ClerkJson<CreateMembershipRequest>,
) -> Result<Json<OrganizationMembership>, AppError> {
    let (public_metadata, private_metadata) = initial_metadata(
        body.public_metadata,
        body.private_metadata,
        state.max_metadata_bytes,
    )?;
    let (record, organization) = state
        .store
        .create_membership(
            organization_id,
            NewMembership {
                user_id: body.user_id,
                role: body.role,
                public_metadata,
                private_metadata,
            },
        )
        .await?;
    Ok(Json(OrganizationMembership::new(record, organization)))
}

/// List an organization's memberships.
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/memberships", tag = "organization memberships",
    params(("organization_id" = String, Path, description = "The organization's `org_` ID"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size, 1–500, default 10"),
           ("offset" = Option<u64>, Query, maximum = 9223372036854775807_u64, description = "Memberships to skip, 0 to 2^63-1, default 0"),
           ("order_by" = Option<String>, Query, pattern = "^[+-]?created_at$", description = "`created_at`, `+created_at` (oldest first) or `-created_at` (default, newest first)"),
           ("user_id" = Option<Vec<String>>, Query, description = "Only these users (repeatable)"),
           ("role" = Option<Vec<String>>, Query, description = "Only these roles (repeatable)")),
    responses((status = 200, description = "A page of memberships and the total count", body = OrganizationMemberships),
              (status = 400, description = "Unparseable query parameter", body = ClerkErrors),
              (status = 401, description = "Missing or wrong secret key", body = ClerkErrors),
              (status = 404, description = "No such organization", body = ClerkErrors)),
    security(("bearer" = [])))]
pub async fn list_memberships(
    State(state): State<AppState>,
    ClerkPath(organization_id): ClerkPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<OrganizationMemberships>, AppError> {
    let query = ListMembershipsQuery::parse(query.as_deref())?;
    let page = state.store.list_memberships(organization_id, query).await?;
    Ok(Json(OrganizationMemberships {
        data: page
            .memberships
            .into_iter()
            .map(|m| OrganizationMembership::new(m, page.organization.clone()))
            .collect(),
        total_count: page.total_count,
    }))
}

/// Change a member's role.
#[utoipa::path(patch, path = "/v1/organizations/{organization_id}/memberships/{user_id}", tag = "organization memberships",
    params(("organization_id" = String, Path, description = "The organization's `org_` ID"),
           ("user_id" = String, Path, description = "The member's user ID (not the `orgmem_` ID)")),
    request_body = UpdateMembershipRequest,
    responses((status = 200, description = "The updated membership", body = OrganizationMembership),
              (status = 400, description = "Body is not a JSON object", body = ClerkErrors),
              (status = 401, description = "Missing or wrong secret key", body = ClerkErrors),
              (status = 404, description = "No such organization or membership", body = ClerkErrors),
              (status = 422, description = "Invalid, missing or unknown field", body = ClerkErrors)),
    security(("bearer" = [])))]
pub async fn update_membership(
    State(state): State<AppState>,
    ClerkPath((organization_id, user_id)): ClerkPath<(String, String)>,
    ClerkJson(body): ClerkJson<UpdateMembershipRequest>,
) -> Result<Json<OrganizationMembership>, AppError> {
    let (record, organization) = state
        .store
        .update_membership(
            organization_id,
            user_id,
            Box::new(move |m| {
                m.role = body.role;
                Ok(())
            }),
        )
        .await?;
    Ok(Json(OrganizationMembership::new(record, organization)))
}

/// Merge metadata into a membership (RFC 7396 deep merge per metadata field).
///
/// The read, the merge (applying the body while it is parsed, [`MetadataPatch::apply_body`],
/// and the size check) and the write are one transaction: concurrent PATCHes of one membership
/// serialize and never lose each other's keys, and a body that turns out bad at any byte
/// changes nothing.
#[utoipa::path(patch, path = "/v1/organizations/{organization_id}/memberships/{user_id}/metadata", tag = "organization memberships",
    params(("organization_id" = String, Path, description = "The organization's `org_` ID"),
           ("user_id" = String, Path, description = "The member's user ID (not the `orgmem_` ID)")),
    request_body = Option<MetadataPatch>,
    responses((status = 200, description = "The updated membership", body = OrganizationMembership),
              (status = 400, description = "Body is not a JSON object", body = ClerkErrors),
              (status = 401, description = "Missing or wrong secret key", body = ClerkErrors),
              (status = 404, description = "No such organization or membership", body = ClerkErrors),
              (status = 413, description = "Body too large", body = ClerkErrors),
              (status = 422, description = "Metadata not an object, unknown field, or too large after the merge", body = ClerkErrors)),
    security(("bearer" = [])))]
pub async fn update_membership_metadata(
    State(state): State<AppState>,
    ClerkPath((organization_id, user_id)): ClerkPath<(String, String)>,
    ClerkBody(body): ClerkBody,
) -> Result<Json<OrganizationMembership>, AppError> {
    let max = state.max_metadata_bytes;
    let patch = body.clone();
    let result = state
        .store
        .update_membership(
            organization_id,
            user_id,
            Box::new(move |m| {
                MetadataPatch::apply_body(
                    &patch,
                    &mut m.public_metadata,
                    &mut m.private_metadata,
                    max,
                )
            }),
        )
        .await;
    let (record, organization) = body_errors_before_not_found(result, &body)?;
    Ok(Json(OrganizationMembership::new(record, organization)))
}

/// Remove a user from an organization.
#[utoipa::path(delete, path = "/v1/organizations/{organization_id}/memberships/{user_id}", tag = "organization memberships",
    params(("organization_id" = String, Path, description = "The organization's `org_` ID"),
           ("user_id" = String, Path, description = "The member's user ID (not the `orgmem_` ID)")),
    responses((status = 200, description = "The deleted membership", body = OrganizationMembership),
              (status = 401, description = "Missing or wrong secret key", body = ClerkErrors),
              (status = 404, description = "No such organization or membership", body = ClerkErrors)),
    security(("bearer" = [])))]
pub async fn delete_membership(
    State(state): State<AppState>,
    ClerkPath((organization_id, user_id)): ClerkPath<(String, String)>,
) -> Result<Json<OrganizationMembership>, AppError> {
    let (record, organization) = state
        .store
        .delete_membership(organization_id, user_id)
        .await?;
    Ok(Json(OrganizationMembership::new(record, organization)))
}

/// Any path no route matches: 404 `resource_not_found`.
pub async fn not_found(uri: axum::http::Uri) -> AppError {
    AppError::NotFound(format!("no endpoint at `{}`", uri.path()))
}
