//! A Clerk-compatible organization membership metadata service (feature `http`).
//!
//! It serves the subset of [Clerk's Backend API] that manages organizations, organization
//! memberships and their public/private metadata, so that Clerk's own SDKs work against it by
//! changing only their base URL. The metadata PATCH endpoints apply [`crate::merge_in_place`]
//! (RFC 7396 JSON Merge Patch, which is Clerk's documented deep-merge rule) to each metadata
//! field on its own, inside one store transaction.
//!
//! | method and path | returns |
//! |---|---|
//! | `POST /v1/organizations` | Organization |
//! | `GET /v1/organizations/{organization_id}` | Organization |
//! | `PATCH /v1/organizations/{organization_id}/metadata` | Organization |
//! | `DELETE /v1/organizations/{organization_id}` | `{"object":"organization","id":…,"deleted":true}` |
//! | `POST /v1/organizations/{organization_id}/memberships` | OrganizationMembership |
//! | `GET /v1/organizations/{organization_id}/memberships` | `{"data":[…],"total_count":N}` |
//! | `PATCH /v1/organizations/{organization_id}/memberships/{user_id}` | OrganizationMembership |
//! | `PATCH /v1/organizations/{organization_id}/memberships/{user_id}/metadata` | OrganizationMembership |
//! | `DELETE /v1/organizations/{organization_id}/memberships/{user_id}` | OrganizationMembership |
//! | `GET /healthz` (no auth) | `{"status":"ok"}`, or 503 `{"status":"unavailable","store":…,"error":…}` |
//! | `GET /v1/openapi.json` (no auth) | this API as OpenAPI 3.1, generated from the code |
//!
//! Every `/v1` endpoint but the OpenAPI document requires `Authorization: Bearer <secret key>`
//! (compared in constant time). Errors use Clerk's body (see [`error`]) with
//! `clerk_trace_id` equal to the `X-Request-Id` response header. Each request is logged as one
//! `tracing` line with method, route, status, latency and request id.
//!
//! Running it in-process (this is what the end-to-end tests do):
//!
//! ```no_run
//! # async fn demo() -> Result<(), metamerge::http::ServeError> {
//! use metamerge::http::{Config, Server};
//!
//! let config = Config {
//!     addr: "127.0.0.1:0".parse().unwrap(),
//!     db: ":memory:".to_owned(),
//!     secret_key: Some("sk_test_example".to_owned()),
//!     ..Config::default()
//! };
//! let server = Server::bind(config).await?;
//! println!("listening on http://{}", server.local_addr());
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = tokio::spawn(server.serve(async move { let _ = stopped.await; }));
//! // ... drive it over HTTP ...
//! stop.send(()).unwrap();
//! running.await.unwrap()?; // in-flight requests finished, database closed
//! # Ok(()) }
//! ```
//!
//! [Clerk's Backend API]: https://clerk.com/docs/reference/backend-api

pub mod error;
pub mod handlers;
pub mod ids;
pub mod model;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use error::{AppError, ClerkErrors, PendingErrors};
use store::Store;

/// The environment variable holding the secret key clients must present.
pub const SECRET_KEY_ENV: &str = "METAMERGE_SECRET_KEY";

/// Options of `metamerge serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address to listen on (`--addr`, default `127.0.0.1:3000`; port 0 picks a free port).
    pub addr: SocketAddr,
    /// SQLite database file, created on first start (`--db`, default `metamerge.db`);
    /// `:memory:` for an ephemeral store; or, with the `postgres` feature, a
    /// `postgres://…`/`postgresql://…` URL of a PostgreSQL database shared by several
    /// instances (see [`store::is_postgres_url`]).
    pub db: String,
    /// Most PostgreSQL connections this instance keeps open (`--db-pool-size`, default 16);
    /// ignored for SQLite.
    pub db_pool_size: usize,
    /// Largest stored metadata object, in bytes of compact JSON, checked after each merge
    /// (`--max-metadata-bytes`, default 8192).
    pub max_metadata_bytes: usize,
    /// Largest request body in bytes (`--max-body-bytes`, default 1 MiB).
    pub max_body_bytes: usize,
    /// The secret key clients must send as `Authorization: Bearer <key>`. `None`: [`run`]
    /// reads `METAMERGE_SECRET_KEY`, and if that is unset too a random `sk_test_…` key is
    /// generated (see [`Server::secret_key`]).
    pub secret_key: Option<String>,
    /// Longest time a client may take to send a request head (request line and headers),
    /// counted from when the server starts waiting for it (a new connection, or a kept-alive
    /// one after its previous answer, so this is also the keep-alive idle timeout): past it
    /// the connection is closed without an answer, so slow-header ("slowloris") clients
    /// cannot hold connections open (`--header-read-timeout-secs`, default 10 s).
    pub header_read_timeout: Duration,
    /// Longest time one request may take from its head being read to its response, reading
    /// the body included: past it the answer is 408 `request_timeout`, so a client that
    /// trickles its body (or announces more than it sends) is cut off
    /// (`--request-timeout-secs`, default 30 s). A change whose store transaction had already
    /// started when the time ran out is committed or rolled back whole; the 408 only says
    /// that the client was not told. It also bounds each write to the connection: a client
    /// that stops reading its answers is disconnected.
    pub request_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            db: "metamerge.db".to_owned(),
            db_pool_size: 16,
            max_metadata_bytes: 8192,
            max_body_bytes: 1024 * 1024,
            secret_key: None,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated (the message names the path).
    #[error("{0}")]
    Store(String),
    /// The secret key is unusable (empty, or not printable ASCII).
    #[error("invalid secret key: {0}")]
    SecretKey(String),
    /// Serving failed (accepting connections).
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    /// The database could not be closed cleanly at shutdown.
    #[error("closing the database failed: {0}")]
    Close(AppError),
}

/// What every handler gets: the store, the secret key and the limits. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The storage engine.
    pub store: Arc<dyn Store>,
    /// SHA-256 of the secret key (see `require_secret_key`).
    secret_key_digest: [u8; 32],
    /// Largest stored metadata object in compact-JSON bytes.
    pub max_metadata_bytes: usize,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Longest time a request may take ([`Config::request_timeout`]).
    pub request_timeout: Duration,
}

impl AppState {
    /// A state over `store` accepting `secret_key`, with the limits from `config`.
    pub fn new(store: Arc<dyn Store>, secret_key: &str, config: &Config) -> Self {
        AppState {
            store,
            secret_key_digest: key_digest(secret_key.as_bytes()),
            max_metadata_bytes: config.max_metadata_bytes,
            max_body_bytes: config.max_body_bytes,
            request_timeout: config.request_timeout,
        }
    }
}

/// The OpenAPI document's static part; paths are added from the handlers by [`router`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "metamerge",
        description = "Clerk Backend API compatible organization membership metadata service. \
                       Metadata PATCH endpoints apply RFC 7396 JSON Merge Patch per field."
    ),
    modifiers(&BearerAuth),
    components(schemas(ClerkErrors))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("secret key (sk_test_… / sk_live_…)")
                    .build(),
            ),
        );
    }
}

/// The whole service as an axum [`Router`], built in this one place: the `/v1` routes behind
/// the secret-key check, `/healthz` and `/v1/openapi.json` without it, a 404 fallback, and
/// the layers (outermost first): request id (`X-Request-Id`, kept if the client sent one),
/// one log line per request, request id copied to the response, Clerk error bodies, panics
/// turned into 500s, body limit.
pub fn router(state: AppState) -> Router {
    let (routes, openapi) = router_and_openapi(state.clone());
    let openapi_json: Arc<str> = Arc::from(openapi_to_json(&openapi));
    let max_body_bytes = state.max_body_bytes;
    routes
        .route(
            "/v1/openapi.json",
            get(move || {
                let body = Arc::clone(&openapi_json);
                async move { ([(CONTENT_TYPE, "application/json")], body.to_string()) }
            }),
        )
        .fallback(handlers::not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.request_timeout,
        ))
        .layer(CatchPanicLayer::new())
        .layer(from_fn(render_errors))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(log_response)
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::x_request_id(NewRequestId))
        .layer(from_fn(drop_unusable_request_id))
        .with_state(state)
}

/// The OpenAPI document of [`router`], generated from the handlers' annotations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = protected_routes()
        .merge(public_routes())
        .split_for_parts()
        .1;
    optional_bodies_not_null(&mut doc);
    doc
}

fn router_and_openapi(state: AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = protected_routes()
        // Applies to the routes added so far only.
        .route_layer(from_fn_with_state(state, require_secret_key))
        .merge(public_routes())
        .split_for_parts();
    optional_bodies_not_null(&mut doc);
    (router, doc)
}

/// The OpenAPI document as served. utoipa 5 serializes a response link's fields in snake case
/// (`operation_id`, `operation_ref`, `request_body`), which OpenAPI tools do not recognise; they
/// are renamed to the specification's `operationId`, `operationRef` and `requestBody`.
pub fn openapi_to_json(doc: &utoipa::openapi::OpenApi) -> String {
    let mut value = serde_json::to_value(doc).expect("the generated OpenAPI document serializes");
    if let Some(paths) = value
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
    {
        let operations = paths
            .values_mut()
            .filter_map(serde_json::Value::as_object_mut)
            .flat_map(|item| item.values_mut());
        let responses = operations
            .filter_map(|op| op.get_mut("responses"))
            .filter_map(serde_json::Value::as_object_mut)
            .flat_map(|responses| responses.values_mut());
        let links = responses
            .filter_map(|response| response.get_mut("links"))
            .filter_map(serde_json::Value::as_object_mut)
            .flat_map(|links| links.values_mut())
            .filter_map(serde_json::Value::as_object_mut);
        for link in links {
            for (from, to) in [
                ("operation_id", "operationId"),
                ("operation_ref", "operationRef"),
                ("request_body", "requestBody"),
            ] {
                if let Some(v) = link.remove(from) {
                    link.insert(to.to_owned(), v);
                }
            }
        }
    }
    value.to_string()
}

/// utoipa describes an optional request body (`request_body = Option<T>`) as `required: false`
/// with the schema `oneOf: [null, T]`, but a body that is JSON `null` is rejected (400, not an
/// object): only an absent (empty) body is optional. Keeps `T` alone (schemathesis found the
/// mismatch).
fn optional_bodies_not_null(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{Schema, Type};
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        for operation in [&mut item.post, &mut item.patch].into_iter().flatten() {
            let Some(body) = &mut operation.request_body else {
                continue;
            };
            for content in body.content.values_mut() {
                let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
                    continue;
                };
                let is_null = |s: &RefOr<Schema>| {
                    matches!(s, RefOr::T(Schema::Object(o))
                        if o.schema_type == utoipa::openapi::schema::SchemaType::Type(Type::Null))
                };
                let rest: Vec<_> = one_of.items.iter().filter(|s| !is_null(s)).collect();
                if rest.len() == 1 && one_of.items.len() == 2 {
                    content.schema = Some(rest[0].clone());
                }
            }
        }
    }
}

/// The `/v1` routes that need the secret key.
fn protected_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(handlers::create_organization))
        .routes(routes!(
            handlers::get_organization,
            handlers::delete_organization
        ))
        .routes(routes!(handlers::update_organization_metadata))
        .routes(routes!(
            handlers::create_membership,
            handlers::list_memberships
        ))
        .routes(routes!(
            handlers::update_membership,
            handlers::delete_membership
        ))
        .routes(routes!(handlers::update_membership_metadata))
}

/// The routes anyone may call.
fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(handlers::healthz))
}

/// `Authorization: Bearer <key>`. The presented key is hashed with SHA-256 and the digest is
/// compared with the secret key's digest by `subtle`'s constant-time equality: the time taken
/// depends neither on where the presented key differs from the secret key nor on whether the
/// lengths match (hashing depends only on the presented key's own length, which its sender
/// knows). Neither key is ever logged: errors name only the kind of failure.
async fn require_secret_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .ok_or(AppError::AuthenticationMissing)?;
    let value = header
        .to_str()
        .map_err(|_| AppError::AuthorizationHeaderFormat)?;
    let key = match value.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty() => {
            key.trim()
        }
        _ => return Err(AppError::AuthorizationHeaderFormat),
    };
    if !bool::from(key_digest(key.as_bytes()).ct_eq(&state.secret_key_digest)) {
        return Err(AppError::KeyInvalid);
    }
    Ok(next.run(request).await)
}

/// SHA-256 of a secret key, the form in which keys are compared.
fn key_digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

/// Whether `presented` is the secret key `secret`, compared as in the service's
/// `Authorization` check: SHA-256 digests of both compared in constant time, so that the time
/// does not depend on where (or whether) the keys differ, nor on their lengths beyond the
/// cost of hashing `presented`. Public for the `secret_compare` benchmark.
///
/// ```
/// # #[cfg(feature = "http")] {
/// assert!(metamerge::http::secret_key_matches(b"sk_test_a", b"sk_test_a"));
/// assert!(!metamerge::http::secret_key_matches(b"sk_test_a", b"sk_test_b"));
/// assert!(!metamerge::http::secret_key_matches(b"sk_test_a", b"sk_test_ab"));
/// # }
/// ```
pub fn secret_key_matches(secret: &[u8], presented: &[u8]) -> bool {
    bool::from(key_digest(presented).ct_eq(&key_digest(secret)))
}

/// Writes Clerk's error body for every error response: those from [`AppError`] (which carry
/// their items) and any other 4xx/5xx (unknown method, panic, …).
async fn render_errors(request: Request, next: Next) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut response = next.run(request).await;
    let status = response.status();
    let items = match response.extensions_mut().remove::<PendingErrors>() {
        Some(PendingErrors(items)) => items,
        None if response.extensions().get::<error::OwnErrorBody>().is_some() => return response,
        None if status.is_client_error() || status.is_server_error() => {
            let error = match status {
                StatusCode::NOT_FOUND => AppError::NotFound("not found".to_owned()),
                StatusCode::METHOD_NOT_ALLOWED => AppError::MethodNotAllowed,
                StatusCode::REQUEST_TIMEOUT => AppError::RequestTimeout,
                s if s.is_server_error() => {
                    AppError::Internal(format!("unexpected {s} response (panic?)"))
                }
                s => AppError::BodyInvalid(format!("the request was rejected with status {s}")),
            };
            // The request's own log line already records the status: a 4xx is logged here
            // only at debug level; a 5xx that did not come from `AppError` (a panic) is an
            // error of ours.
            if status.is_server_error() {
                tracing::error!(
                    status = status.as_u16(),
                    "error response without a Clerk body"
                );
            } else {
                tracing::debug!(
                    status = status.as_u16(),
                    "error response given a Clerk body"
                );
            }
            error.items()
        }
        None => return response,
    };
    let body = ClerkErrors {
        errors: items,
        clerk_trace_id: request_id,
    };
    let bytes = serde_json::to_vec(&body).expect("the error body serializes");
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(bytes))
}

/// Removes a client-sent `X-Request-Id` that is empty or not visible ASCII, so that a new
/// one is made: such a value could not be the error body's `clerk_trace_id` (it was `""`
/// while the header echoed the raw bytes), nor identify the request in the log.
async fn drop_unusable_request_id(mut request: Request, next: Next) -> Response {
    let usable = |v: &HeaderValue| !v.is_empty() && v.as_bytes().iter().all(u8::is_ascii_graphic);
    if request
        .headers()
        .get_all("x-request-id")
        .iter()
        .any(|v| !usable(v))
    {
        request.headers_mut().remove("x-request-id");
    }
    next.run(request).await
}

/// Request ids: `req_` and 27 random base62 characters.
#[derive(Debug, Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&ids::new_id("req_"))
            .ok()
            .map(RequestId::new)
    }
}

fn request_span(request: &axum::http::Request<Body>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unmatched)", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        request_id = %request_id,
    )
}

fn log_response(response: &Response, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
}

/// A bound, not yet serving, server: the socket is listening and the database is open.
pub struct Server {
    listener: tokio::net::TcpListener,
    store: Arc<dyn Store>,
    state: AppState,
    secret_key: String,
    generated_key: bool,
    header_read_timeout: Duration,
}

impl Server {
    /// Opens the database (running migrations; see [`store::open`]) and binds `config.addr`.
    /// A PostgreSQL database that cannot be reached is not an error: the server starts,
    /// `/healthz` answers 503 and API calls Clerk's 503 `service_unavailable` until the store
    /// has connected and migrated in the background. With `config.secret_key == None` a random
    /// `sk_test_…` key is generated (it does not look at the environment: [`run`] does).
    ///
    /// # Errors
    /// [`ServeError::SecretKey`] for an empty or non-printable key, [`ServeError::Store`] if
    /// the database cannot be opened, [`ServeError::Bind`] if the address is taken.
    pub async fn bind(config: Config) -> Result<Self, ServeError> {
        let (secret_key, generated_key) = match &config.secret_key {
            Some(key) => {
                validate_secret_key(key).map_err(ServeError::SecretKey)?;
                (key.clone(), false)
            }
            None => (ids::generate_secret_key(), true),
        };
        let store = store::open(&config.db, config.db_pool_size)
            .await
            .map_err(ServeError::Store)?;
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.addr,
                source,
            })?;
        let state = AppState::new(Arc::clone(&store), &secret_key, &config);
        Ok(Server {
            listener,
            store,
            state,
            secret_key,
            generated_key,
            header_read_timeout: config.header_read_timeout,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// The secret key clients must present.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// Whether [`Server::secret_key`] was generated by [`Server::bind`].
    pub fn secret_key_was_generated(&self) -> bool {
        self.generated_key
    }

    /// Serves until `shutdown` completes, then stops accepting, waits for in-flight requests
    /// to finish and closes the database (checkpointing the WAL).
    ///
    /// Each connection is served by hyper's HTTP/1 connection with a tokio timer, so that
    /// [`Config::header_read_timeout`] applies (axum's own `serve` sets no timer); the router
    /// applies [`Config::request_timeout`], which also bounds each write to the connection (a
    /// client that stops reading its answers is disconnected). An error accepting a connection
    /// (e.g. out of file descriptors) is logged and retried after 100 ms; it does not stop the
    /// server.
    ///
    /// # Errors
    /// [`ServeError::Close`] if the database does not close cleanly.
    pub async fn serve<F>(self, shutdown: F) -> Result<(), ServeError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let write_timeout = self.state.request_timeout;
        let app = router(self.state);
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // A write blocked for the request timeout (the client stopped reading) fails and
            // closes the connection, so neither it nor graceful shutdown waits for good.
            let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
            stream.set_write_timeout(Some(write_timeout));
            let stream = Box::pin(stream);
            let service = hyper_util::service::TowerToHyperService::new(app.clone());
            let connection = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "connection closed with an error");
                }
            });
        }
        drop(self.listener);
        graceful.shutdown().await;
        tracing::info!("all requests finished; closing the database");
        self.store.close().await.map_err(ServeError::Close)
    }
}

/// Checks a secret key: non-empty printable ASCII without spaces (it travels in a header).
fn validate_secret_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        Err("the key is empty".to_owned())
    } else if !key.bytes().all(|b| b.is_ascii_graphic()) {
        Err("the key must be printable ASCII without spaces".to_owned())
    } else {
        Ok(())
    }
}

/// Binds and serves `config` until `shutdown` completes; see [`Server`].
///
/// # Errors
/// As [`Server::bind`] and [`Server::serve`].
pub async fn serve<F>(config: Config, shutdown: F) -> Result<(), ServeError>
where
    F: Future<Output = ()> + Send + 'static,
{
    Server::bind(config).await?.serve(shutdown).await
}

/// `metamerge serve`: initialises logging (`RUST_LOG`, default `info`, to stderr), takes the
/// secret key from `config`, else `METAMERGE_SECRET_KEY`, else generates one and prints it
/// once to stdout, then serves until SIGINT or SIGTERM and shuts down gracefully.
///
/// # Errors
/// `METAMERGE_SECRET_KEY` set but empty or not Unicode, and everything [`serve`] reports.
pub async fn run(mut config: Config) -> Result<(), ServeError> {
    init_tracing();
    if config.secret_key.is_none() {
        config.secret_key = match std::env::var(SECRET_KEY_ENV) {
            Ok(key) => {
                validate_secret_key(&key)
                    .map_err(|e| ServeError::SecretKey(format!("{SECRET_KEY_ENV}: {e}")))?;
                Some(key)
            }
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(ServeError::SecretKey(format!(
                    "{SECRET_KEY_ENV} is not valid Unicode"
                )))
            }
        };
    }
    let db = store::redact_password(&config.db);
    let server = Server::bind(config).await?;
    if server.secret_key_was_generated() {
        println!(
            "{SECRET_KEY_ENV} is not set; generated secret key for this run: {}",
            server.secret_key()
        );
    }
    tracing::info!(addr = %server.local_addr(), db = %db, "metamerge serve listening");
    server.serve(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// [`run`] on a new multi-threaded tokio runtime, for synchronous callers such as `main`.
///
/// # Errors
/// As [`run`], plus [`ServeError::Io`] if the runtime cannot start.
pub fn run_blocking(config: Config) -> Result<(), ServeError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(config))
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A subscriber installed earlier (by an embedding program) wins.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_lists_every_operation_and_the_bearer_scheme() {
        let doc = openapi();
        let operations: usize = doc
            .paths
            .paths
            .values()
            .map(|item| {
                [&item.get, &item.post, &item.patch, &item.delete, &item.put]
                    .iter()
                    .filter(|op| op.is_some())
                    .count()
            })
            .sum();
        assert_eq!(operations, 10);
        let json = doc.to_json().unwrap();
        assert!(json.contains("\"bearer\""), "{json}");
    }

    #[test]
    fn secret_keys_are_validated() {
        assert!(validate_secret_key("sk_test_abc").is_ok());
        assert!(validate_secret_key("").is_err());
        assert!(validate_secret_key("sk test").is_err());
        assert!(validate_secret_key("sk_tést").is_err());
    }
}
