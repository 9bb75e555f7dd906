//! One error type for the whole service, rendered as Clerk's error body.
//!
//! Every failure a handler, an extractor or the store can produce is an [`AppError`]. Its
//! [`IntoResponse`] sets the status and attaches the error items to the response; the
//! `render_errors` middleware (built into [`crate::http::router`]) then writes Clerk's body
//!
//! ```json
//! {"errors":[{"message":"…","long_message":"…","code":"…","meta":{"param_name":"…"}}],
//!  "clerk_trace_id":"<request id>"}
//! ```
//!
//! with the request id, which is also sent as `X-Request-Id`. The middleware also gives the
//! same body to responses that did not come from an `AppError` (unknown route, wrong method,
//! panic), so no error ever leaves the server as plain text.
//!
//! Codes and statuses follow the error table of the Clerk Backend API subset
//! (`clerk-bapi.md`, "Error body").

use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Why a body field was rejected (all are `422 Unprocessable Entity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamErrorKind {
    /// A required field is absent: `form_param_missing`.
    Missing,
    /// A field has the wrong type or an invalid value: `form_param_value_invalid`.
    ValueInvalid,
    /// A field the endpoint does not know: `form_param_unknown`.
    Unknown,
    /// A metadata object is larger than the limit after the merge:
    /// `form_param_exceeds_allowed_size`.
    ExceedsAllowedSize,
}

impl ParamErrorKind {
    /// Clerk's error code for this kind.
    pub fn code(self) -> &'static str {
        match self {
            ParamErrorKind::Missing => "form_param_missing",
            ParamErrorKind::ValueInvalid => "form_param_value_invalid",
            ParamErrorKind::Unknown => "form_param_unknown",
            ParamErrorKind::ExceedsAllowedSize => "form_param_exceeds_allowed_size",
        }
    }
}

/// One rejected body field: the kind, the field name (`meta.param_name`) and a sentence saying
/// what was wrong (`long_message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// What kind of problem.
    pub kind: ParamErrorKind,
    /// The body field, e.g. `public_metadata`.
    pub param: String,
    /// Human-readable detail, e.g. "public_metadata must be a JSON object, got an array".
    pub detail: String,
}

impl ParamError {
    /// A new field error.
    pub fn new(kind: ParamErrorKind, param: impl Into<String>, detail: impl Into<String>) -> Self {
        ParamError {
            kind,
            param: param.into(),
            detail: detail.into(),
        }
    }
}

/// Every error the service answers with. Status and Clerk code per variant:
///
/// | variant | status | code |
/// |---|---|---|
/// | `AuthenticationMissing` | 401 | `authentication_invalid` |
/// | `AuthorizationHeaderFormat` | 401 | `authorization_header_format_invalid` |
/// | `KeyInvalid` | 401 | `clerk_key_invalid` |
/// | `BodyInvalid` | 400 | `request_body_invalid` |
/// | `BodyTooLarge` | 413 | `request_body_too_large` |
/// | `QueryInvalid` | 400 | `malformed_request_parameters` |
/// | `Params` | 422 | one per field, see [`ParamErrorKind`] |
/// | `NotFound` | 404 | `resource_not_found` |
/// | `AlreadyMember` | 400 | `already_a_member_in_organization` |
/// | `MembershipQuotaExceeded` | 403 | `organization_membership_quota_exceeded` |
/// | `MethodNotAllowed` | 405 | `method_not_allowed` |
/// | `RequestTimeout` | 408 | `request_timeout` |
/// | `Internal` | 500 | `internal_clerk_error` (the detail is logged, never sent) |
/// | `Unavailable` | 503 | `service_unavailable` (the detail is logged, never sent) |
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No `Authorization` header.
    #[error("the request has no Authorization header")]
    AuthenticationMissing,
    /// The `Authorization` header is not `Bearer <secret key>`.
    #[error("the Authorization header is not of the form `Bearer <secret key>`")]
    AuthorizationHeaderFormat,
    /// The bearer key is not the server's secret key.
    #[error("the secret key is not valid")]
    KeyInvalid,
    /// The body is not valid JSON or not a JSON object; the detail says where (line, column).
    #[error("the request body is invalid: {0}")]
    BodyInvalid(String),
    /// The body is longer than the server's body limit (bytes).
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A query parameter could not be parsed.
    #[error("query parameter `{param}` is invalid: {detail}")]
    QueryInvalid {
        /// The parameter name.
        param: String,
        /// What was wrong with it.
        detail: String,
    },
    /// One or more body fields were rejected (all reported at once).
    #[error("{} invalid body field(s)", .0.len())]
    Params(Vec<ParamError>),
    /// The organization, membership or route does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The user already has a membership in the organization.
    #[error("user {user_id} is already a member of the organization")]
    AlreadyMember {
        /// The user ID.
        user_id: String,
    },
    /// The organization's `max_allowed_memberships` is reached.
    #[error("the organization has reached its maximum of {max} memberships")]
    MembershipQuotaExceeded {
        /// The organization's `max_allowed_memberships`.
        max: i64,
    },
    /// The route exists but not with this method.
    #[error("method not allowed for this path")]
    MethodNotAllowed,
    /// The request (its body included) took longer than the server's request timeout.
    #[error("the request was not completed within the server's request timeout")]
    RequestTimeout,
    /// Anything unexpected (store failure, bug). Logged with its detail; the client only sees
    /// `internal_clerk_error`.
    #[error("internal error: {0}")]
    Internal(String),
    /// The store cannot be reached right now (a PostgreSQL server that is down or restarting,
    /// a start-up migration not yet done). Logged with its detail; the client only sees
    /// `service_unavailable` and may retry: nothing was changed.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

impl AppError {
    /// A single 422 field error.
    pub fn param(
        kind: ParamErrorKind,
        param: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        AppError::Params(vec![ParamError::new(kind, param, detail)])
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::AuthenticationMissing
            | AppError::AuthorizationHeaderFormat
            | AppError::KeyInvalid => StatusCode::UNAUTHORIZED,
            AppError::BodyInvalid(_)
            | AppError::QueryInvalid { .. }
            | AppError::AlreadyMember { .. } => StatusCode::BAD_REQUEST,
            AppError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Params(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MembershipQuotaExceeded { .. } => StatusCode::FORBIDDEN,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The items of Clerk's `errors` array for this error.
    pub fn items(&self) -> Vec<ClerkError> {
        let one = |message: &str, code: &str, meta: Map<String, Value>| {
            vec![ClerkError {
                message: message.to_owned(),
                long_message: self.to_string(),
                code: code.to_owned(),
                meta,
            }]
        };
        match self {
            AppError::AuthenticationMissing => {
                one("Unauthorized request", "authentication_invalid", Map::new())
            }
            AppError::AuthorizationHeaderFormat => one(
                "Invalid Authorization header format",
                "authorization_header_format_invalid",
                Map::new(),
            ),
            AppError::KeyInvalid => one("Secret key invalid", "clerk_key_invalid", Map::new()),
            AppError::BodyInvalid(_) => {
                one("Request body invalid", "request_body_invalid", Map::new())
            }
            AppError::BodyTooLarge { .. } => one(
                "Request body too large",
                "request_body_too_large",
                Map::new(),
            ),
            AppError::QueryInvalid { param, .. } => one(
                "Malformed request parameters",
                "malformed_request_parameters",
                param_meta(param),
            ),
            AppError::Params(errors) => errors
                .iter()
                .map(|e| ClerkError {
                    message: match e.kind {
                        ParamErrorKind::Missing => "is missing",
                        ParamErrorKind::ValueInvalid => "is invalid",
                        ParamErrorKind::Unknown => "is unknown",
                        ParamErrorKind::ExceedsAllowedSize => "exceeds the maximum allowed size",
                    }
                    .to_owned(),
                    long_message: e.detail.clone(),
                    code: e.kind.code().to_owned(),
                    meta: param_meta(&e.param),
                })
                .collect(),
            AppError::NotFound(_) => one("not found", "resource_not_found", Map::new()),
            AppError::AlreadyMember { .. } => one(
                "Already a member",
                "already_a_member_in_organization",
                Map::new(),
            ),
            AppError::MembershipQuotaExceeded { .. } => one(
                "Membership quota exceeded",
                "organization_membership_quota_exceeded",
                Map::new(),
            ),
            AppError::MethodNotAllowed => {
                one("Method not allowed", "method_not_allowed", Map::new())
            }
            AppError::RequestTimeout => one("Request timeout", "request_timeout", Map::new()),
            AppError::Internal(_) => vec![internal_item()],
            AppError::Unavailable(_) => vec![ClerkError {
                message: "Service unavailable".to_owned(),
                long_message: "The service cannot reach its database right now; nothing was \
                               changed. Retry later."
                    .to_owned(),
                code: "service_unavailable".to_owned(),
                meta: Map::new(),
            }],
        }
    }
}

fn param_meta(param: &str) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert("param_name".to_owned(), Value::String(param.to_owned()));
    meta
}

/// The item sent for every 500: it never carries internal detail.
pub(crate) fn internal_item() -> ClerkError {
    ClerkError {
        message: "Oops, an unexpected error occurred".to_owned(),
        long_message: "There was an internal error on our servers. We've been notified and are \
                       working on fixing it."
            .to_owned(),
        code: "internal_clerk_error".to_owned(),
        meta: Map::new(),
    }
}

/// One item of Clerk's `errors` array.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClerkError {
    /// Short message, e.g. `is invalid`.
    pub message: String,
    /// Full sentence saying what was wrong and where.
    pub long_message: String,
    /// Machine-readable code, e.g. `form_param_value_invalid`.
    pub code: String,
    /// Extra detail; `param_name` for field and query-parameter errors. May be empty.
    #[schema(value_type = Object)]
    pub meta: Map<String, Value>,
}

/// Clerk's error body: the items and the request id as `clerk_trace_id`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClerkErrors {
    /// One or more errors (field validation reports every rejected field).
    pub errors: Vec<ClerkError>,
    /// The request id, equal to the `X-Request-Id` response header.
    pub clerk_trace_id: String,
}

/// Marks an error response whose body is already final (the `/healthz` 503): the
/// error-rendering middleware leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OwnErrorBody;

/// Error items attached to a response by [`AppError::into_response`]; the error-rendering
/// middleware turns them into a [`ClerkErrors`] body.
#[derive(Debug, Clone)]
pub(crate) struct PendingErrors(pub Vec<ClerkError>);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            AppError::Unavailable(detail) => tracing::warn!(error = %detail, "store unavailable"),
            other => tracing::debug!(error = %other, "request rejected"),
        }
        let mut response = self.status().into_response();
        response
            .extensions_mut()
            .insert(PendingErrors(self.items()));
        response
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        AppError::QueryInvalid {
            param: "path".to_owned(),
            detail: rejection.body_text(),
        }
    }
}
