//! The embedded store: one SQLite database (file or `:memory:`) through rusqlite.
//!
//! - Schema migrations run when the store opens (`PRAGMA user_version` counts the applied
//!   steps; a database from a newer metamerge is refused rather than misread).
//! - File databases use WAL mode and `synchronous = FULL`, so a change is on disk before its
//!   response is sent and survives a crash or power loss.
//! - Every method is one transaction; writes use `BEGIN IMMEDIATE`, which takes SQLite's write
//!   lock before the read, so a read-merge-write can never interleave with another writer
//!   (in this process or another one opening the same file; `busy_timeout` makes those wait).
//! - rusqlite is synchronous: every call runs on tokio's blocking pool
//!   (`spawn_blocking`) holding the one connection. SQLite allows a single writer at a time
//!   anyway, and each call takes microseconds, so one connection costs little and keeps
//!   `:memory:` databases (which are per connection) working.
//! - Metadata is stored as TEXT, compact JSON exactly as serde_json writes it (key order and
//!   number literals kept), not parsed by SQLite.

use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::{
    admit_membership, BoxFuture, MembershipPage, MembershipUpdate, NewMembership, NewOrganization,
    OrganizationUpdate, Store,
};
use crate::http::error::AppError;
use crate::http::ids::{new_id, now_millis};
use crate::http::model::{
    ListMembershipsQuery, MembershipRecord, Metadata, Order, Organization, OrganizationObject,
};

/// Schema steps, applied in order; step `i` brings `user_version` to `i + 1`. Never edit a
/// released step: append a new one.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE organizations (
    seq                     INTEGER PRIMARY KEY,
    id                      TEXT    NOT NULL UNIQUE,
    name                    TEXT    NOT NULL,
    slug                    TEXT    NOT NULL,
    image_url               TEXT    NOT NULL DEFAULT '',
    created_by              TEXT,
    max_allowed_memberships INTEGER NOT NULL DEFAULT 0,
    admin_delete_enabled    INTEGER NOT NULL DEFAULT 1,
    public_metadata         TEXT    NOT NULL DEFAULT '{}',
    private_metadata        TEXT    NOT NULL DEFAULT '{}',
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
CREATE TABLE organization_memberships (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    organization_id  TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          TEXT    NOT NULL,
    role             TEXT    NOT NULL,
    public_metadata  TEXT    NOT NULL DEFAULT '{}',
    private_metadata TEXT    NOT NULL DEFAULT '{}',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (organization_id, user_id)
);
CREATE INDEX organization_memberships_by_created_at
    ON organization_memberships (organization_id, created_at, seq);
"#];

/// How long a connection waits for another process's write lock before failing, in ms.
const BUSY_TIMEOUT_MS: u32 = 5_000;

/// Maps an SQLite error of step `context` to `Unavailable` (503, retry) when the database
/// stayed locked by another connection (another instance on the same file, a backup) past
/// the busy timeout, as PostgreSQL's lock and connection failures are; else `Internal`.
/// (A lock held past the busy timeout answered 500.)
fn internal(context: &str) -> impl FnOnce(rusqlite::Error) -> AppError + '_ {
    move |e| {
        let busy = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        if busy {
            AppError::Unavailable(format!("sqlite: {context}: {e}"))
        } else {
            AppError::Internal(format!("sqlite: {context}: {e}"))
        }
    }
}

/// The SQLite store. Cheap to share (`Arc` inside); see the module docs for its guarantees.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Option<Connection>>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, or an in-memory database for
    /// `:memory:`; a `sqlite://` prefix is accepted and removed. Sets WAL mode,
    /// `synchronous = FULL`, foreign keys and a busy timeout, then runs the migrations.
    ///
    /// # Errors
    /// The path cannot be opened, the file is not a SQLite database, or its schema is newer
    /// than this version knows (the message names the path and the cause).
    pub fn open(path: &str) -> Result<Self, String> {
        let path = path.strip_prefix("sqlite://").unwrap_or(path);
        let fail = |step: &str, e: rusqlite::Error| format!("database `{path}`: {step}: {e}");
        let mut conn = Connection::open(path).map_err(|e| fail("cannot open", e))?;
        conn.busy_timeout(std::time::Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)))
            .map_err(|e| fail("cannot set busy timeout", e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| fail("cannot enable WAL mode (is it a SQLite database?)", e))?;
        if path != ":memory:" && !mode.eq_ignore_ascii_case("wal") {
            return Err(format!(
                "database `{path}`: journal mode is `{mode}`, WAL could not be enabled"
            ));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(|e| fail("cannot set pragmas", e))?;
        migrate(&mut conn).map_err(|e| format!("database `{path}`: migration failed: {e}"))?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(Some(conn))),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    fn with_conn<T, F>(&self, f: F) -> BoxFuture<'_, Result<T, AppError>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, AppError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
                let conn = guard
                    .as_mut()
                    .ok_or_else(|| AppError::Internal("the store is closed".to_owned()))?;
                f(conn)
            })
            .await
            .map_err(|e| AppError::Internal(format!("store task failed: {e}")))?
        })
    }
}

fn migrate(conn: &mut Connection) -> Result<(), String> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let known = MIGRATIONS.len() as i64;
    if !(0..=known).contains(&version) {
        return Err(format!(
            "schema version {version} is newer than this metamerge knows ({known})"
        ));
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)
            .map_err(|e| format!("step {}: {e}", step + 1))?;
        tx.pragma_update(None, "user_version", (step + 1) as i64)
            .map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())
}

fn to_text(metadata: &Metadata) -> Result<String, AppError> {
    serde_json::to_string(metadata)
        .map_err(|e| AppError::Internal(format!("cannot serialize metadata: {e}")))
}

fn from_text(text: &str, what: &str) -> rusqlite::Result<Metadata> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("stored {what} is not a JSON object: {e}").into(),
        )
    })
}

const ORGANIZATION_COLUMNS: &str = "o.id, o.name, o.slug, o.image_url, o.created_by, \
     o.max_allowed_memberships, o.admin_delete_enabled, o.public_metadata, o.private_metadata, \
     o.created_at, o.updated_at, \
     (SELECT COUNT(*) FROM organization_memberships m WHERE m.organization_id = o.id)";

fn organization_row(row: &Row<'_>) -> rusqlite::Result<Organization> {
    Ok(Organization {
        object: OrganizationObject::Organization,
        id: row.get(0)?,
        name: row.get(1)?,
        slug: row.get(2)?,
        image_url: row.get(3)?,
        has_image: false,
        created_by: row.get(4)?,
        max_allowed_memberships: row.get(5)?,
        admin_delete_enabled: row.get(6)?,
        public_metadata: from_text(&row.get::<_, String>(7)?, "public_metadata")?,
        private_metadata: from_text(&row.get::<_, String>(8)?, "private_metadata")?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        members_count: row.get(11)?,
    })
}

fn read_organization(tx: &Transaction<'_>, id: &str) -> Result<Organization, AppError> {
    tx.query_row(
        &format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations o WHERE o.id = ?1"),
        [id],
        organization_row,
    )
    .optional()
    .map_err(internal("read organization"))?
    .ok_or_else(|| AppError::NotFound(format!("no organization with id `{id}`")))
}

const MEMBERSHIP_COLUMNS: &str =
    "id, user_id, role, public_metadata, private_metadata, created_at, updated_at";

fn membership_row(row: &Row<'_>) -> rusqlite::Result<MembershipRecord> {
    Ok(MembershipRecord {
        id: row.get(0)?,
        user_id: row.get(1)?,
        role: row.get(2)?,
        public_metadata: from_text(&row.get::<_, String>(3)?, "public_metadata")?,
        private_metadata: from_text(&row.get::<_, String>(4)?, "private_metadata")?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

fn read_membership(
    tx: &Transaction<'_>,
    organization_id: &str,
    user_id: &str,
) -> Result<MembershipRecord, AppError> {
    // The organization must exist first, so that the 404 says which one is missing.
    read_organization(tx, organization_id)?;
    tx.query_row(
        &format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM organization_memberships \
             WHERE organization_id = ?1 AND user_id = ?2"
        ),
        [organization_id, user_id],
        membership_row,
    )
    .optional()
    .map_err(internal("read membership"))?
    .ok_or_else(|| {
        AppError::NotFound(format!(
            "user `{user_id}` has no membership in organization `{organization_id}`"
        ))
    })
}

fn immediate(conn: &mut Connection) -> Result<Transaction<'_>, AppError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(internal("begin immediate"))
}

fn commit(tx: Transaction<'_>) -> Result<(), AppError> {
    tx.commit().map_err(internal("commit"))
}

/// The next `updated_at`: now, but strictly after the previous value.
fn next_timestamp(previous: i64) -> i64 {
    now_millis().max(previous.saturating_add(1))
}

impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn create_organization(
        &self,
        new: NewOrganization,
    ) -> BoxFuture<'_, Result<Organization, AppError>> {
        self.with_conn(move |conn| {
            let tx = immediate(conn)?;
            let id = new_id("org_");
            let now = now_millis();
            tx.execute(
                "INSERT INTO organizations (id, name, slug, created_by, max_allowed_memberships, \
                 public_metadata, private_metadata, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                params![
                    id,
                    new.name,
                    new.slug,
                    new.created_by,
                    new.max_allowed_memberships,
                    to_text(&new.public_metadata)?,
                    to_text(&new.private_metadata)?,
                    now
                ],
            )
            .map_err(internal("insert organization"))?;
            let organization = read_organization(&tx, &id)?;
            commit(tx)?;
            Ok(organization)
        })
    }

    fn get_organization(
        &self,
        organization_id: String,
    ) -> BoxFuture<'_, Result<Organization, AppError>> {
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(internal("begin"))?;
            read_organization(&tx, &organization_id)
        })
    }

    fn update_organization(
        &self,
        organization_id: String,
        update: OrganizationUpdate,
    ) -> BoxFuture<'_, Result<Organization, AppError>> {
        self.with_conn(move |conn| {
            let tx = immediate(conn)?;
            let mut organization = read_organization(&tx, &organization_id)?;
            update(&mut organization)?;
            organization.updated_at = next_timestamp(organization.updated_at);
            tx.execute(
                "UPDATE organizations SET name = ?2, slug = ?3, created_by = ?4, \
                 max_allowed_memberships = ?5, public_metadata = ?6, private_metadata = ?7, \
                 updated_at = ?8 WHERE id = ?1",
                params![
                    organization_id,
                    organization.name,
                    organization.slug,
                    organization.created_by,
                    organization.max_allowed_memberships,
                    to_text(&organization.public_metadata)?,
                    to_text(&organization.private_metadata)?,
                    organization.updated_at
                ],
            )
            .map_err(internal("update organization"))?;
            commit(tx)?;
            Ok(organization)
        })
    }

    fn delete_organization(&self, organization_id: String) -> BoxFuture<'_, Result<(), AppError>> {
        self.with_conn(move |conn| {
            let tx = immediate(conn)?;
            // Memberships go with it (ON DELETE CASCADE).
            let deleted = tx
                .execute(
                    "DELETE FROM organizations WHERE id = ?1",
                    [&organization_id],
                )
                .map_err(internal("delete organization"))?;
            if deleted == 0 {
                return Err(AppError::NotFound(format!(
                    "no organization with id `{organization_id}`"
                )));
            }
            commit(tx)
        })
    }

    fn create_membership(
        &self,
        organization_id: String,
        new: NewMembership,
    ) -> BoxFuture<'_, Result<(MembershipRecord, Organization), AppError>> {
        self.with_conn(move |conn| {
            let tx = immediate(conn)?;
            let organization = read_organization(&tx, &organization_id)?;
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM organization_memberships \
                     WHERE organization_id = ?1 AND user_id = ?2)",
                    [&organization_id, &new.user_id],
                    |r| r.get(0),
                )
                .map_err(internal("check membership"))?;
            let record = admit_membership(new, &organization, exists)?;
            tx.execute(
                "INSERT INTO organization_memberships (id, organization_id, user_id, role, \
                 public_metadata, private_metadata, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![
                    record.id,
                    organization_id,
                    record.user_id,
                    record.role,
                    to_text(&record.public_metadata)?,
                    to_text(&record.private_metadata)?,
                    record.created_at
                ],
            )
            .map_err(internal("insert membership"))?;
            let organization = read_organization(&tx, &organization_id)?;
            commit(tx)?;
            Ok((record, organization))
        })
    }

    fn list_memberships(
        &self,
        organization_id: String,
        query: ListMembershipsQuery,
    ) -> BoxFuture<'_, Result<MembershipPage, AppError>> {
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(internal("begin"))?;
            let organization = read_organization(&tx, &organization_id)?;
            // Filters are passed as JSON arrays and expanded with json_each, so the SQL text is
            // fixed; NULL means "no filter".
            let as_filter = |values: &[String]| -> Option<String> {
                (!values.is_empty()).then(|| serde_json::Value::from(values.to_vec()).to_string())
            };
            let users = as_filter(&query.user_ids);
            let roles = as_filter(&query.roles);
            const FILTER: &str = "WHERE organization_id = ?1 \
                AND (?2 IS NULL OR user_id IN (SELECT value FROM json_each(?2))) \
                AND (?3 IS NULL OR role IN (SELECT value FROM json_each(?3)))";
            let total_count: i64 = tx
                .query_row(
                    &format!("SELECT COUNT(*) FROM organization_memberships {FILTER}"),
                    params![organization_id, users, roles],
                    |r| r.get(0),
                )
                .map_err(internal("count memberships"))?;
            let direction = match query.order {
                Order::CreatedAtAscending => "ASC",
                Order::CreatedAtDescending => "DESC",
            };
            let sql = format!(
                "SELECT {MEMBERSHIP_COLUMNS} FROM organization_memberships {FILTER} \
                 ORDER BY created_at {direction}, seq {direction} LIMIT ?4 OFFSET ?5"
            );
            let mut statement = tx.prepare(&sql).map_err(internal("prepare list"))?;
            let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
            let memberships = statement
                .query_map(
                    params![organization_id, users, roles, query.limit, offset],
                    membership_row,
                )
                .map_err(internal("list memberships"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(internal("read membership row"))?;
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
        self.with_conn(move |conn| {
            let tx = immediate(conn)?;
            let mut record = read_membership(&tx, &organization_id, &user_id)?;
            update(&mut record)?;
            record.updated_at = next_timestamp(record.updated_at);
            tx.execute(
                "UPDATE organization_memberships SET role = ?2, public_metadata = ?3, \
                 private_metadata = ?4, updated_at = ?5 WHERE id = ?1",
                params![
                    record.id,
                    record.role,
                    to_text(&record.public_metadata)?,
                    to_text(&record.private_metadata)?,
                    record.updated_at
                ],
            )
            .map_err(internal("update membership"))?;
            let organization = read_organization(&tx, &organization_id)?;
            commit(tx)?;
            Ok((record, organization))
        })
    }

    fn delete_membership(
        &self,
        organization_id: String,
        user_id: String,
    ) -> BoxFuture<'_, Result<(MembershipRecord, Organization), AppError>> {
        self.with_conn(move |conn| {
            let tx = immediate(conn)?;
            let record = read_membership(&tx, &organization_id, &user_id)?;
            tx.execute(
                "DELETE FROM organization_memberships WHERE id = ?1",
                [&record.id],
            )
            .map_err(internal("delete membership"))?;
            let organization = read_organization(&tx, &organization_id)?;
            commit(tx)?;
            Ok((record, organization))
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), AppError>> {
        self.with_conn(|conn| {
            conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(drop)
                .map_err(internal("ping"))
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), AppError>> {
        let conn = Arc::clone(&self.conn);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let taken = conn.lock().unwrap_or_else(PoisonError::into_inner).take();
                match taken {
                    // Closing the last connection checkpoints the WAL into the main file.
                    Some(conn) => conn.close().map_err(|(_, e)| internal("close")(e)),
                    None => Ok(()),
                }
            })
            .await
            .map_err(|e| AppError::Internal(format!("store task failed: {e}")))?
        })
    }
}
