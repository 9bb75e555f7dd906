//! The shared store: one PostgreSQL database, used by any number of `metamerge serve`
//! instances at once (feature `postgres`, `--db postgres://…`).
//!
//! - Driver and pool: tokio-postgres through a deadpool-postgres pool of at most
//!   `pool_size` connections (`--db-pool-size`). No TLS: use it on a trusted network or
//!   through a local proxy.
//! - Schema migrations run when the store opens, inside one transaction holding the
//!   transaction-level advisory lock [`MIGRATION_LOCK`] (`pg_advisory_xact_lock`), so
//!   instances starting together apply each step exactly once; the others wait, then see the
//!   steps done. Applied steps are rows of `metamerge_schema_migrations`; a database with a
//!   step this version does not know is refused rather than misread.
//! - Every method is one transaction (READ COMMITTED, the server default). Read-merge-write
//!   methods lock the row they change with `SELECT … FOR UPDATE` before reading it, so
//!   updates of one row from any instance serialize and none is lost. No transaction waits
//!   for an organization lock while holding a membership lock, so there is no lock cycle and
//!   no deadlock:
//!   - `update_organization`, `create_membership`: the organization `FOR NO KEY UPDATE`
//!     (membership creates in one organization serialize, so `max_allowed_memberships` holds
//!     across instances; other memberships' updates are not blocked);
//!   - `update_membership`, `delete_membership`: only the membership `FOR UPDATE` (a
//!     concurrent organization delete waits for it through its cascade, or, if it committed
//!     first, the membership is gone and the answer is 404);
//!   - `delete_organization`: the `DELETE` itself locks the organization, then its
//!     memberships (`ON DELETE CASCADE`).
//!
//!   The read after taking a lock is a new statement, so it sees every transaction committed
//!   before the lock was granted (members_count included). Every statement is prepared once
//!   per pooled connection; a metadata PATCH is four round trips (begin, lock and read,
//!   write and read the organization, commit).
//! - `list_memberships` reads count and page in one `REPEATABLE READ READ ONLY` transaction,
//!   so both come from the same snapshot.
//! - Metadata is stored as `text`: compact JSON exactly as serde_json writes it, so key order
//!   and number literals survive (`jsonb` would reorder keys and normalise numbers).
//!   Timestamps are `bigint` milliseconds since the Unix epoch, as in the SQLite store.
//! - An unreachable database is not fatal: if the first migration attempt fails with a
//!   connection error, the store still opens, retries in the background (exponential backoff
//!   from 100 ms to 5 s, via `backon`) and answers every call with
//!   [`AppError::Unavailable`] (HTTP 503) until it succeeds. Later connection failures are
//!   also `Unavailable`; the pool replaces broken connections, so the service recovers by
//!   itself when the database returns.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::{IsolationLevel, NoTls, Row, Statement};

use super::{
    admit_membership, BoxFuture, MembershipPage, MembershipUpdate, NewMembership, NewOrganization,
    OrganizationUpdate, Store,
};
use crate::http::error::AppError;
use crate::http::ids::{new_id, now_millis};
use crate::http::model::{
    ListMembershipsQuery, MembershipRecord, Metadata, Order, Organization, OrganizationObject,
};

/// Schema steps, applied in order; step `i` is recorded as version `i + 1` in
/// `metamerge_schema_migrations`. Never edit a released step: append a new one.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE organizations (
    seq                     BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                      TEXT    NOT NULL UNIQUE,
    name                    TEXT    NOT NULL,
    slug                    TEXT    NOT NULL,
    image_url               TEXT    NOT NULL DEFAULT '',
    created_by              TEXT,
    max_allowed_memberships BIGINT  NOT NULL DEFAULT 0,
    admin_delete_enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    public_metadata         TEXT    NOT NULL DEFAULT '{}',
    private_metadata        TEXT    NOT NULL DEFAULT '{}',
    created_at              BIGINT  NOT NULL,
    updated_at              BIGINT  NOT NULL
);
CREATE TABLE organization_memberships (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT   NOT NULL UNIQUE,
    organization_id  TEXT   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          TEXT   NOT NULL,
    role             TEXT   NOT NULL,
    public_metadata  TEXT   NOT NULL DEFAULT '{}',
    private_metadata TEXT   NOT NULL DEFAULT '{}',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (organization_id, user_id)
);
CREATE INDEX organization_memberships_by_created_at
    ON organization_memberships (organization_id, created_at, seq);
"#];

/// Key of the transaction-level advisory lock held while migrating (`"mmrg_mig"` in ASCII).
/// Advisory locks are per database, so instances using different schemas of one database
/// migrate one after the other, which is harmless.
pub const MIGRATION_LOCK: i64 = 0x6d6d_7267_5f6d_6967;

/// Default number of pooled connections per instance (`--db-pool-size`).
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How long a new connection may take before the attempt fails, unless the URL sets
/// `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for a free pooled connection before it is answered with 503.
const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a driver error means "the database cannot be reached right now" (connection
/// refused, reset or closed, server shutting down or starting) rather than a bug or a
/// constraint violation.
fn is_connection_error(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        // 08: connection exception; 53: insufficient resources (too many connections);
        // 57P0x: the server is shutting down, restarting or starting.
        return code.starts_with("08") || code.starts_with("53") || code.starts_with("57P");
    }
    // No SQLSTATE: an I/O or protocol error on the connection (conversion errors carry
    // their own source type).
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// Maps a driver error of step `context` to `Unavailable` (connection problems, and the
/// serialization/deadlock failures a client may simply retry) or `Internal`.
fn pg(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> AppError {
    move |e| {
        let retryable = e.code().is_some_and(|c| {
            *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
        });
        if is_connection_error(&e) || retryable {
            AppError::Unavailable(format!("postgres: {context}: {e}"))
        } else {
            AppError::Internal(format!("postgres: {context}: {e:?}"))
        }
    }
}

fn pool_error(e: PoolError) -> AppError {
    match e {
        PoolError::Closed => AppError::Internal("the store is closed".to_owned()),
        PoolError::Backend(e) => pg("connect")(e),
        other => AppError::Unavailable(format!("postgres: no connection: {other}")),
    }
}

/// Where the start-up migration is.
#[derive(Debug)]
enum Readiness {
    Ready,
    /// Not yet migrated; the last error (retrying in the background if `retrying`).
    Waiting {
        error: String,
        retrying: bool,
    },
}

#[derive(Debug)]
struct Inner {
    pool: Pool,
    readiness: Mutex<Readiness>,
    retry: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The PostgreSQL store. Cheap to share (`Arc` inside); see the module docs for its
/// guarantees.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

/// A migration failure: whether it is a connection problem (worth retrying) and the message.
struct MigrationError {
    transient: bool,
    message: String,
}

impl PostgresStore {
    /// Opens a pool of at most `pool_size` connections to the database at `url`
    /// (`postgres://user[:password]@host[:port]/dbname[?options]`, the libpq URL syntax as
    /// parsed by tokio-postgres; `connect_timeout` defaults to 5 s) and runs the migrations.
    /// Must be called inside a tokio runtime.
    ///
    /// If the database cannot be reached, the store opens anyway and keeps retrying the
    /// migration in the background; until then every method returns
    /// [`AppError::Unavailable`].
    ///
    /// # Errors
    /// An unparsable URL, `pool_size == 0`, or a migration that fails for another reason
    /// than the connection (a schema newer than this version knows, missing privileges).
    /// Messages never contain the password.
    pub async fn open(url: &str, pool_size: usize) -> Result<Self, String> {
        if pool_size == 0 {
            return Err("the database pool size must be at least 1".to_owned());
        }
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("invalid PostgreSQL URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("metamerge");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT + Duration::from_secs(1)))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| format!("cannot build the PostgreSQL pool: {e}"))?;
        let store = PostgresStore {
            inner: Arc::new(Inner {
                pool,
                readiness: Mutex::new(Readiness::Waiting {
                    error: "not migrated yet".to_owned(),
                    retrying: false,
                }),
                retry: Mutex::new(None),
            }),
        };
        match migrate(&store.inner.pool).await {
            Ok(()) => store.set_readiness(Readiness::Ready),
            Err(e) if e.transient => {
                tracing::warn!(error = %e.message, "PostgreSQL unreachable at start; retrying in the background");
                store.set_readiness(Readiness::Waiting {
                    error: e.message,
                    retrying: true,
                });
                let handle = tokio::spawn(retry_migration(Arc::clone(&store.inner)));
                *store
                    .inner
                    .retry
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(handle);
            }
            Err(e) => return Err(format!("PostgreSQL migration failed: {}", e.message)),
        }
        Ok(store)
    }

    fn set_readiness(&self, readiness: Readiness) {
        *self
            .inner
            .readiness
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = readiness;
    }

    /// A pooled connection, or `Unavailable` while the start-up migration has not succeeded.
    async fn client(&self) -> Result<Object, AppError> {
        if let Readiness::Waiting { error, retrying } = &*self
            .inner
            .readiness
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            let what = if *retrying {
                "migration pending, retrying"
            } else {
                "migration failed"
            };
            return Err(AppError::Unavailable(format!("postgres: {what}: {error}")));
        }
        self.inner.pool.get().await.map_err(pool_error)
    }
}

/// Retries the migration with exponential backoff while the failures are connection errors.
async fn retry_migration(inner: Arc<Inner>) {
    let attempt = || async {
        migrate(&inner.pool).await.inspect_err(|e| {
            *inner
                .readiness
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Readiness::Waiting {
                error: e.message.clone(),
                retrying: e.transient,
            };
        })
    };
    let result = attempt
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(5))
                .without_max_times(),
        )
        .when(|e: &MigrationError| e.transient)
        .await;
    match result {
        Ok(()) => {
            tracing::info!("PostgreSQL reachable; migrations done");
            *inner
                .readiness
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Readiness::Ready;
        }
        Err(e) => tracing::error!(error = %e.message, "PostgreSQL migration failed"),
    }
}

/// Applies the missing migration steps in one transaction under [`MIGRATION_LOCK`].
async fn migrate(pool: &Pool) -> Result<(), MigrationError> {
    let from_pg = |step: &str, e: tokio_postgres::Error| MigrationError {
        transient: is_connection_error(&e),
        // The driver's `Display` of a server error is only "db error": add the server's own
        // message and SQLSTATE (e.g. `no schema has been selected to create in (3F000)` for a
        // `search_path` naming a schema that does not exist).
        message: match e.as_db_error() {
            Some(db) => format!("{step}: {} ({})", db.message(), db.code().code()),
            None => format!("{step}: {e}"),
        },
    };
    let mut client = pool.get().await.map_err(|e| match e {
        PoolError::Backend(e) => from_pg("connect", e),
        other => MigrationError {
            transient: !matches!(other, PoolError::Closed),
            message: format!("connect: {other}"),
        },
    })?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| from_pg("begin", e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| from_pg("advisory lock", e))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS metamerge_schema_migrations (\
         version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await
    .map_err(|e| from_pg("create migrations table", e))?;
    let version: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM metamerge_schema_migrations",
            &[],
        )
        .await
        .map_err(|e| from_pg("read schema version", e))?
        .get(0);
    let known = MIGRATIONS.len() as i32;
    if !(0..=known).contains(&version) {
        return Err(MigrationError {
            transient: false,
            message: format!(
                "schema version {version} is newer than this metamerge knows ({known})"
            ),
        });
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let step = step as i32 + 1;
        tx.batch_execute(sql)
            .await
            .map_err(|e| from_pg(&format!("step {step}"), e))?;
        tx.execute(
            "INSERT INTO metamerge_schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[&step, &now_millis()],
        )
        .await
        .map_err(|e| from_pg("record step", e))?;
    }
    tx.commit().await.map_err(|e| from_pg("commit", e))
}

fn to_text(metadata: &Metadata) -> Result<String, AppError> {
    serde_json::to_string(metadata)
        .map_err(|e| AppError::Internal(format!("cannot serialize metadata: {e}")))
}

fn from_text(row: &Row, index: usize, what: &str) -> Result<Metadata, AppError> {
    let text: String = row
        .try_get(index)
        .map_err(|e| AppError::Internal(format!("postgres: read {what}: {e}")))?;
    serde_json::from_str(&text)
        .map_err(|e| AppError::Internal(format!("stored {what} is not a JSON object: {e}")))
}

fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    index: usize,
) -> Result<T, AppError> {
    row.try_get(index)
        .map_err(|e| AppError::Internal(format!("postgres: read column {index}: {e}")))
}

/// `sql` prepared once per connection (deadpool's statement cache), so that each later use
/// costs one round trip instead of two (prepare, then execute).
async fn prepared(client: &impl GenericClient, sql: &str) -> Result<Statement, AppError> {
    client.prepare_cached(sql).await.map_err(pg("prepare"))
}

const ORGANIZATION_COLUMNS: &str = "o.id, o.name, o.slug, o.image_url, o.created_by, \
     o.max_allowed_memberships, o.admin_delete_enabled, o.public_metadata, o.private_metadata, \
     o.created_at, o.updated_at, \
     (SELECT COUNT(*) FROM organization_memberships m WHERE m.organization_id = o.id)";

fn organization_row(row: &Row) -> Result<Organization, AppError> {
    Ok(Organization {
        object: OrganizationObject::Organization,
        id: column(row, 0)?,
        name: column(row, 1)?,
        slug: column(row, 2)?,
        image_url: column(row, 3)?,
        has_image: false,
        created_by: column(row, 4)?,
        max_allowed_memberships: column(row, 5)?,
        admin_delete_enabled: column(row, 6)?,
        public_metadata: from_text(row, 7, "public_metadata")?,
        private_metadata: from_text(row, 8, "private_metadata")?,
        created_at: column(row, 9)?,
        updated_at: column(row, 10)?,
        members_count: column(row, 11)?,
    })
}

/// Whether `s` holds a NUL character, which PostgreSQL text cannot hold: a query with one
/// fails (it answered 500), so an ID with one is simply not found, without asking the database.
/// The bodies that create rows refuse NUL characters, on both stores.
fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

fn no_organization(id: &str) -> AppError {
    AppError::NotFound(format!("no organization with id `{id}`"))
}

async fn read_organization(
    client: &impl GenericClient,
    id: &str,
) -> Result<Organization, AppError> {
    if has_nul(id) {
        return Err(no_organization(id));
    }
    let statement = prepared(
        client,
        &format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.id = $1"),
    )
    .await?;
    let row = client
        .query_opt(&statement, &[&id])
        .await
        .map_err(pg("read organization"))?
        .ok_or_else(|| no_organization(id))?;
    organization_row(&row)
}

/// Locks the organization row `FOR NO KEY UPDATE` (or `NotFound`): organization updates and
/// membership creates in one organization serialize, while its memberships stay writable.
/// Reads after this see every commit made before the lock was granted.
async fn lock_organization(client: &impl GenericClient, id: &str) -> Result<(), AppError> {
    if has_nul(id) {
        return Err(no_organization(id));
    }
    let statement = prepared(
        client,
        "SELECT 1 FROM organizations WHERE id = $1 FOR NO KEY UPDATE",
    )
    .await?;
    client
        .query_opt(&statement, &[&id])
        .await
        .map_err(pg("lock organization"))?
        .map(drop)
        .ok_or_else(|| no_organization(id))
}

const MEMBERSHIP_COLUMNS: &str =
    "id, user_id, role, public_metadata, private_metadata, created_at, updated_at";

fn membership_row(row: &Row) -> Result<MembershipRecord, AppError> {
    Ok(MembershipRecord {
        id: column(row, 0)?,
        user_id: column(row, 1)?,
        role: column(row, 2)?,
        public_metadata: from_text(row, 3, "public_metadata")?,
        private_metadata: from_text(row, 4, "private_metadata")?,
        created_at: column(row, 5)?,
        updated_at: column(row, 6)?,
    })
}

/// Locks the membership `FOR UPDATE` and reads it; if there is none, `NotFound` naming
/// whichever of organization and membership is missing. Only the membership row is locked: a
/// concurrent organization delete waits for it (its cascade needs the row), so no
/// transaction ever holds a membership lock while waiting for an organization lock.
async fn lock_membership(
    client: &impl GenericClient,
    organization_id: &str,
    user_id: &str,
) -> Result<MembershipRecord, AppError> {
    let statement = prepared(
        client,
        &format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM organization_memberships \
             WHERE organization_id = $1 AND user_id = $2 FOR UPDATE"
        ),
    )
    .await?;
    let row = if has_nul(organization_id) || has_nul(user_id) {
        None
    } else {
        client
            .query_opt(&statement, &[&organization_id, &user_id])
            .await
            .map_err(pg("lock membership"))?
    };
    match row {
        Some(row) => membership_row(&row),
        None => {
            // The organization must exist first, so that the 404 says which one is missing.
            read_organization(client, organization_id).await?;
            Err(AppError::NotFound(format!(
                "user `{user_id}` has no membership in organization `{organization_id}`"
            )))
        }
    }
}

/// The next `updated_at`: now, but strictly after the previous value.
fn next_timestamp(previous: i64) -> i64 {
    now_millis().max(previous.saturating_add(1))
}

impl Store for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn create_organization(
        &self,
        new: NewOrganization,
    ) -> BoxFuture<'_, Result<Organization, AppError>> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg("begin"))?;
            let id = new_id("org_");
            let now = now_millis();
            tx.execute(
                &prepared(&tx, "INSERT INTO organizations (id, name, slug, created_by, max_allowed_memberships, \
                 public_metadata, private_metadata, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)").await?,
                &[
                    &id,
                    &new.name,
                    &new.slug,
                    &new.created_by,
                    &new.max_allowed_memberships,
                    &to_text(&new.public_metadata)?,
                    &to_text(&new.private_metadata)?,
                    &now,
                ],
            )
            .await
            .map_err(pg("insert organization"))?;
            let organization = read_organization(&tx, &id).await?;
            tx.commit().await.map_err(pg("commit"))?;
            Ok(organization)
        })
    }

    fn get_organization(
        &self,
        organization_id: String,
    ) -> BoxFuture<'_, Result<Organization, AppError>> {
        Box::pin(async move {
            let client = self.client().await?;
            read_organization(&client, &organization_id).await
        })
    }

    fn update_organization(
        &self,
        organization_id: String,
        update: OrganizationUpdate,
    ) -> BoxFuture<'_, Result<Organization, AppError>> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg("begin"))?;
            lock_organization(&tx, &organization_id).await?;
            let mut organization = read_organization(&tx, &organization_id).await?;
            update(&mut organization)?;
            organization.updated_at = next_timestamp(organization.updated_at);
            tx.execute(
                &prepared(
                    &tx,
                    "UPDATE organizations SET name = $2, slug = $3, created_by = $4, \
                 max_allowed_memberships = $5, public_metadata = $6, private_metadata = $7, \
                 updated_at = $8 WHERE id = $1",
                )
                .await?,
                &[
                    &organization_id,
                    &organization.name,
                    &organization.slug,
                    &organization.created_by,
                    &organization.max_allowed_memberships,
                    &to_text(&organization.public_metadata)?,
                    &to_text(&organization.private_metadata)?,
                    &organization.updated_at,
                ],
            )
            .await
            .map_err(pg("update organization"))?;
            tx.commit().await.map_err(pg("commit"))?;
            Ok(organization)
        })
    }

    fn delete_organization(&self, organization_id: String) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(async move {
            if has_nul(&organization_id) {
                return Err(no_organization(&organization_id));
            }
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg("begin"))?;
            // Memberships go with it (ON DELETE CASCADE).
            let deleted = tx
                .execute(
                    &prepared(&tx, "DELETE FROM organizations WHERE id = $1").await?,
                    &[&organization_id],
                )
                .await
                .map_err(pg("delete organization"))?;
            if deleted == 0 {
                return Err(no_organization(&organization_id));
            }
            tx.commit().await.map_err(pg("commit"))
        })
    }

    fn create_membership(
        &self,
        organization_id: String,
        new: NewMembership,
    ) -> BoxFuture<'_, Result<(MembershipRecord, Organization), AppError>> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg("begin"))?;
            lock_organization(&tx, &organization_id).await?;
            let organization = read_organization(&tx, &organization_id).await?;
            let exists: bool = tx
                .query_one(
                    &prepared(
                        &tx,
                        "SELECT EXISTS (SELECT 1 FROM organization_memberships \
                     WHERE organization_id = $1 AND user_id = $2)",
                    )
                    .await?,
                    &[&organization_id, &new.user_id],
                )
                .await
                .map_err(pg("check membership"))?
                .get(0);
            let record = admit_membership(new, &organization, exists)?;
            tx.execute(
                &prepared(
                    &tx,
                    "INSERT INTO organization_memberships (id, organization_id, user_id, role, \
                 public_metadata, private_metadata, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .await?,
                &[
                    &record.id,
                    &organization_id,
                    &record.user_id,
                    &record.role,
                    &to_text(&record.public_metadata)?,
                    &to_text(&record.private_metadata)?,
                    &record.created_at,
                ],
            )
            .await
            .map_err(pg("insert membership"))?;
            let organization = read_organization(&tx, &organization_id).await?;
            tx.commit().await.map_err(pg("commit"))?;
            Ok((record, organization))
        })
    }

    fn list_memberships(
        &self,
        organization_id: String,
        query: ListMembershipsQuery,
    ) -> BoxFuture<'_, Result<MembershipPage, AppError>> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(pg("begin"))?;
            let organization = read_organization(&tx, &organization_id).await?;
            // NULL means "no filter". A value with a NUL character matches nothing (none can
            // be stored) and cannot be sent: it is left out, and a filter left empty that way
            // matches nothing.
            let mut query = query;
            for values in [&mut query.user_ids, &mut query.roles] {
                if !values.is_empty() {
                    values.retain(|v| !has_nul(v));
                    if values.is_empty() {
                        tx.commit().await.map_err(pg("commit"))?;
                        return Ok(MembershipPage {
                            organization,
                            memberships: Vec::new(),
                            total_count: 0,
                        });
                    }
                }
            }
            let users = (!query.user_ids.is_empty()).then_some(&query.user_ids);
            let roles = (!query.roles.is_empty()).then_some(&query.roles);
            const FILTER: &str = "WHERE organization_id = $1 \
                AND ($2::text[] IS NULL OR user_id = ANY ($2)) \
                AND ($3::text[] IS NULL OR role = ANY ($3))";
            let total_count: i64 = tx
                .query_one(
                    &prepared(
                        &tx,
                        &format!("SELECT COUNT(*) FROM organization_memberships {FILTER}"),
                    )
                    .await?,
                    &[&organization_id, &users, &roles],
                )
                .await
                .map_err(pg("count memberships"))?
                .get(0);
            let direction = match query.order {
                Order::CreatedAtAscending => "ASC",
                Order::CreatedAtDescending => "DESC",
            };
            let sql = format!(
                "SELECT {MEMBERSHIP_COLUMNS} FROM organization_memberships {FILTER} \
                 ORDER BY created_at {direction}, seq {direction} LIMIT $4 OFFSET $5"
            );
            let limit = i64::from(query.limit);
            let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
            let memberships = tx
                .query(
                    &prepared(&tx, &sql).await?,
                    &[&organization_id, &users, &roles, &limit, &offset],
                )
                .await
                .map_err(pg("list memberships"))?
                .iter()
                .map(membership_row)
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit().await.map_err(pg("commit"))?;
            Ok(MembershipPage {
                organization,
                memberships,
                total_count,
            })
        })
    }

    fn update_membership(
        &self,
        organization_id: String,
        user_id: String,
        update: MembershipUpdate,
    ) -> BoxFuture<'_, Result<(MembershipRecord, Organization), AppError>> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg("begin"))?;
            let mut record = lock_membership(&tx, &organization_id, &user_id).await?;
            update(&mut record)?;
            record.updated_at = next_timestamp(record.updated_at);
            // The write and the organization read in one statement (one round trip while the
            // row is locked); the count it reads is not changed by the update.
            let statement = prepared(
                &tx,
                &format!(
                    "WITH updated AS (UPDATE organization_memberships SET role = $3, \
                     public_metadata = $4, private_metadata = $5, updated_at = $6 \
                     WHERE id = $2 RETURNING 1) \
                     SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.id = $1"
                ),
            )
            .await?;
            let row = tx
                .query_opt(
                    &statement,
                    &[
                        &organization_id,
                        &record.id,
                        &record.role,
                        &to_text(&record.public_metadata)?,
                        &to_text(&record.private_metadata)?,
                        &record.updated_at,
                    ],
                )
                .await
                .map_err(pg("update membership"))?
                .ok_or_else(|| no_organization(&organization_id))?;
            let organization = organization_row(&row)?;
            tx.commit().await.map_err(pg("commit"))?;
            Ok((record, organization))
        })
    }

    fn delete_membership(
        &self,
        organization_id: String,
        user_id: String,
    ) -> BoxFuture<'_, Result<(MembershipRecord, Organization), AppError>> {
        Box::pin(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg("begin"))?;
            let record = lock_membership(&tx, &organization_id, &user_id).await?;
            tx.execute(
                &prepared(&tx, "DELETE FROM organization_memberships WHERE id = $1").await?,
                &[&record.id],
            )
            .await
            .map_err(pg("delete membership"))?;
            let organization = read_organization(&tx, &organization_id).await?;
            tx.commit().await.map_err(pg("commit"))?;
            Ok((record, organization))
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(async move {
            let client = self.client().await?;
            client
                .simple_query("SELECT 1")
                .await
                .map(drop)
                .map_err(pg("ping"))
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(async move {
            if let Some(retry) = self
                .inner
                .retry
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                retry.abort();
            }
            // Idle connections are dropped now, busy ones when they are returned.
            self.inner.pool.close();
            Ok(())
        })
    }
}
