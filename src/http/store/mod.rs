//! Storage of organizations and memberships behind one small trait.
//!
//! Handlers only see [`Store`]; [`sqlite::SqliteStore`] is the embedded engine, and
//! `postgres::PostgresStore` (feature `postgres`) the shared one for several instances;
//! [`open`] picks one from the `--db` value. Both implement the same trait: every method is
//! one transaction,
//! and the read-merge-write methods ([`Store::update_organization`],
//! [`Store::update_membership`]) hand the current row to a closure *inside* that transaction
//! (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `SELECT … FOR UPDATE`), write the result only if
//! the closure returns `Ok`, and return the committed row. So concurrent updates of one row
//! serialize, and nothing changes when the closure rejects the update.
//!
//! Methods return boxed futures so that the trait stays object-safe (`Arc<dyn Store>`).

#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::error::AppError;
use super::ids::{new_id, now_millis};
use super::model::{ListMembershipsQuery, MembershipRecord, Metadata, Organization};

/// A boxed, sendable future, as returned by every [`Store`] method.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A change to an organization inside [`Store::update_organization`]'s transaction. Returning
/// an error rolls the transaction back and is passed through to the caller.
pub type OrganizationUpdate = Box<dyn FnOnce(&mut Organization) -> Result<(), AppError> + Send>;

/// A change to a membership inside [`Store::update_membership`]'s transaction. Returning an
/// error rolls the transaction back and is passed through to the caller.
pub type MembershipUpdate = Box<dyn FnOnce(&mut MembershipRecord) -> Result<(), AppError> + Send>;

/// A validated new organization.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrganization {
    /// Display name.
    pub name: String,
    /// Slug (already validated or derived).
    pub slug: String,
    /// Creating user, if any.
    pub created_by: Option<String>,
    /// `0` = unlimited.
    pub max_allowed_memberships: i64,
    /// Initial public metadata.
    pub public_metadata: Metadata,
    /// Initial private metadata.
    pub private_metadata: Metadata,
}

/// The rule both engines apply, inside their transaction, before inserting a membership:
/// `AlreadyMember` if `already_member`, `MembershipQuotaExceeded` if the organization's
/// `max_allowed_memberships` (`0` = unlimited) is reached; otherwise the new record with an
/// `orgmem_` id and `created_at = updated_at = now`.
pub(crate) fn admit_membership(
    new: NewMembership,
    organization: &Organization,
    already_member: bool,
) -> Result<MembershipRecord, AppError> {
    if already_member {
        return Err(AppError::AlreadyMember {
            user_id: new.user_id,
        });
    }
    let max = organization.max_allowed_memberships;
    if max > 0 && organization.members_count >= max {
        return Err(AppError::MembershipQuotaExceeded { max });
    }
    let now = now_millis();
    Ok(MembershipRecord {
        id: new_id("orgmem_"),
        user_id: new.user_id,
        role: new.role,
        public_metadata: new.public_metadata,
        private_metadata: new.private_metadata,
        created_at: now,
        updated_at: now,
    })
}

/// A validated new membership.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMembership {
    /// The member's user ID.
    pub user_id: String,
    /// The role key.
    pub role: String,
    /// Initial public metadata.
    pub public_metadata: Metadata,
    /// Initial private metadata.
    pub private_metadata: Metadata,
}

/// One page of memberships and the organization they belong to.
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipPage {
    /// The organization (with its current `members_count`).
    pub organization: Organization,
    /// The page, in the requested order.
    pub memberships: Vec<MembershipRecord>,
    /// Number of memberships matching the filters, over all pages.
    pub total_count: i64,
}

/// The storage engine. All errors are [`AppError`]s: `NotFound` for a missing organization or
/// membership, `AlreadyMember`, `MembershipQuotaExceeded`, whatever an update closure returns,
/// and `Internal` for engine failures. A method resolves only after its transaction is
/// committed (or rolled back).
pub trait Store: Send + Sync + 'static {
    /// The engine's name, `"sqlite"` or `"postgres"` (shown by `/healthz` when the store
    /// does not answer).
    fn kind(&self) -> &'static str;

    /// Inserts an organization with a new `org_` id; `created_at = updated_at = now`.
    fn create_organization(
        &self,
        new: NewOrganization,
    ) -> BoxFuture<'_, Result<Organization, AppError>>;

    /// The organization with `members_count`, or `NotFound`.
    fn get_organization(
        &self,
        organization_id: String,
    ) -> BoxFuture<'_, Result<Organization, AppError>>;

    /// Atomic read-modify-write of one organization. `updated_at` is set after `update`
    /// succeeds, strictly later than before.
    fn update_organization(
        &self,
        organization_id: String,
        update: OrganizationUpdate,
    ) -> BoxFuture<'_, Result<Organization, AppError>>;

    /// Deletes the organization and all its memberships, or `NotFound`.
    fn delete_organization(&self, organization_id: String) -> BoxFuture<'_, Result<(), AppError>>;

    /// Adds a membership (`NotFound`, `AlreadyMember`, `MembershipQuotaExceeded`); returns it
    /// with the organization as it is after the insert.
    fn create_membership(
        &self,
        organization_id: String,
        new: NewMembership,
    ) -> BoxFuture<'_, Result<(MembershipRecord, Organization), AppError>>;

    /// A page of the organization's memberships (`NotFound` if the organization is missing).
    fn list_memberships(
        &self,
        organization_id: String,
        query: ListMembershipsQuery,
    ) -> BoxFuture<'_, Result<MembershipPage, AppError>>;

    /// Atomic read-modify-write of the membership of `user_id` in the organization.
    /// `updated_at` is set after `update` succeeds, strictly later than before.
    fn update_membership(
        &self,
        organization_id: String,
        user_id: String,
        update: MembershipUpdate,
    ) -> BoxFuture<'_, Result<(MembershipRecord, Organization), AppError>>;

    /// Removes the membership of `user_id`; returns it as it was, with the organization as it
    /// is after the removal.
    fn delete_membership(
        &self,
        organization_id: String,
        user_id: String,
    ) -> BoxFuture<'_, Result<(MembershipRecord, Organization), AppError>>;

    /// Checks that the store answers (for `/healthz`).
    fn ping(&self) -> BoxFuture<'_, Result<(), AppError>>;

    /// Flushes and closes the store. Later calls fail with `Internal`.
    fn close(&self) -> BoxFuture<'_, Result<(), AppError>>;
}

/// Whether `db` names a PostgreSQL database: it starts with `postgres://` or
/// `postgresql://`. Anything else (a file path, `:memory:`, `sqlite://…`) is SQLite.
///
/// ```
/// use metamerge::http::store::is_postgres_url;
/// assert!(is_postgres_url("postgres://app@db.internal/metamerge"));
/// assert!(is_postgres_url("postgresql://app@db.internal/metamerge"));
/// assert!(!is_postgres_url("sqlite://metamerge.db"));
/// assert!(!is_postgres_url("postgres.db"));
/// ```
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The URL or path `db` with any password in it (user info or a `password=` parameter)
/// replaced by `***`, for logs and messages.
///
/// ```
/// use metamerge::http::store::redact_password;
/// assert_eq!(redact_password("postgres://app:s3cret@db/mm"), "postgres://app:***@db/mm");
/// assert_eq!(
///     redact_password("postgres://app@db/mm?sslmode=disable&password=s3cret&x=1"),
///     "postgres://app@db/mm?sslmode=disable&password=***&x=1"
/// );
/// assert_eq!(redact_password("postgres://app@db/mm"), "postgres://app@db/mm");
/// assert_eq!(redact_password("data/metamerge.db"), "data/metamerge.db");
/// ```
pub fn redact_password(db: &str) -> String {
    let Some((scheme, rest)) = db.split_once("://").filter(|_| is_postgres_url(db)) else {
        return db.to_owned();
    };
    let (main, query) = match rest.split_once('?') {
        Some((main, query)) => (main, Some(query)),
        None => (rest, None),
    };
    // The user info ends at the last `@` before the path.
    let authority_end = main.find('/').unwrap_or(main.len());
    let main = match main[..authority_end].rfind('@') {
        Some(at) => match main[..at].split_once(':') {
            Some((user, _password)) => format!("{user}:***{}", &main[at..]),
            None => main.to_owned(),
        },
        None => main.to_owned(),
    };
    let query = query.map(|query| {
        query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("password", _)) => "password=***".to_owned(),
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    match query {
        Some(query) => format!("{scheme}://{main}?{query}"),
        None => format!("{scheme}://{main}"),
    }
}

/// Opens the store that `db` names: PostgreSQL for a `postgres://`/`postgresql://` URL (with
/// a pool of `pool_size` connections; needs the `postgres` feature), else SQLite (a file,
/// `:memory:` or `sqlite://path`; `pool_size` is ignored, SQLite uses one connection).
///
/// # Errors
/// What [`sqlite::SqliteStore::open`] or `postgres::PostgresStore::open` report, or a
/// PostgreSQL URL in a build without the `postgres` feature. Messages never contain a
/// password.
pub async fn open(db: &str, pool_size: usize) -> Result<Arc<dyn Store>, String> {
    if is_postgres_url(db) {
        #[cfg(feature = "postgres")]
        {
            let store = postgres::PostgresStore::open(db, pool_size)
                .await
                .map_err(|e| format!("database `{}`: {e}", redact_password(db)))?;
            return Ok(Arc::new(store));
        }
        #[cfg(not(feature = "postgres"))]
        {
            let _ = pool_size;
            return Err(format!(
                "database `{}`: this metamerge was built without PostgreSQL support; \
                 rebuild with the `postgres` feature (`--features cli,postgres` for the binary)",
                redact_password(db)
            ));
        }
    }
    let path = db.to_owned();
    let store = tokio::task::spawn_blocking(move || sqlite::SqliteStore::open(&path))
        .await
        .map_err(|e| format!("opening the database failed: {e}"))??;
    Ok(Arc::new(store))
}
