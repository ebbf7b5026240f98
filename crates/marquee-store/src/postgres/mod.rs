//! The PostgreSQL backend, for operators who outgrow one machine.
//!
//! Same tables and columns as the SQLite backend (migrations/postgres mirrors
//! migrations/sqlite), so each feature file here is the SQLite one with
//! PostgreSQL's dialect: `$n` placeholders, `ON CONFLICT`, `RETURNING`,
//! tsvector full-text search, and `SELECT ... FOR UPDATE` where SQLite relied
//! on `BEGIN IMMEDIATE` for serialising writers.

use crate::{Result, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

// The features written once (src/sql/), compiled against the seam below.
sql_features!();

// What differs by dialect, each file saying why.
mod catalog_dialect;
mod fanout;
mod health;
mod ideas_search;
mod listening_dialect;
mod playback_batch;

/// Rows per multi-row INSERT: well under PostgreSQL's 65,535 bind parameters
/// for the widest rows written in chunks.
pub(crate) const CHUNK: usize = 1000;

/// Maps a UNIQUE violation to a conflict on `field`.
pub(crate) fn unique_to_conflict(e: sqlx::Error, field: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { field },
        _ => e.into(),
    }
}

/// PostgreSQL implementation of [`crate::Store`].
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Change counters for the server's read caches (see [`crate::changes`]).
    pub(crate) changes: std::sync::Arc<crate::changes::ChangeCounters>,
}

impl PgStore {
    /// Connects to the database a `postgres://` URL names. The database must
    /// exist; [`crate::CatalogStore::migrate`] creates the schema.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        let opts = PgConnectOptions::from_str(url).map_err(|e| StoreError::Url(e.to_string()))?;
        Self::open_with(opts, max_connections).await
    }

    /// Connects with ready-made options (tests and tools that pick the
    /// database name themselves).
    pub async fn open_with(opts: PgConnectOptions, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await?;
        Ok(PgStore {
            pool,
            changes: Default::default(),
        })
    }

    /// Brings the schema up to date (what [`crate::CatalogStore::migrate`] does).
    pub async fn migrate_schema(&self) -> Result<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// The underlying pool, for backend-specific tools.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

// ---------------------------------------------------------------------------
// The dialect seam. The feature files under `src/sql/` are written once and
// compiled once per backend (`#[path]` above); they see PostgreSQL through
// these names. The SQLite module defines the same names.
// ---------------------------------------------------------------------------

/// The sqlx database of this backend.
pub(crate) type Db = sqlx::Postgres;
/// A connection of this backend.
pub(crate) type Conn = sqlx::PgConnection;
/// A result row of this backend.
pub(crate) type DbRow = sqlx::postgres::PgRow;
/// The store the shared feature files implement their traits for.
pub(crate) type Backend = PgStore;
/// A transaction of this backend.
pub(crate) type Tx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

/// `SELECT ... FOR SHARE`: the rows read cannot change or vanish before the
/// transaction commits.
pub(crate) const FOR_SHARE: &str = " FOR SHARE";
/// `SELECT ... FOR UPDATE`: the rows read are this transaction's to change.
pub(crate) const FOR_UPDATE: &str = " FOR UPDATE";

/// Text as the database takes it: PostgreSQL refuses NUL in `TEXT`, so a
/// NUL becomes U+FFFD instead of failing the whole write.
pub(crate) fn text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Serialises the writers of one key: a transaction-scoped advisory lock,
/// released at commit or rollback.
pub(crate) async fn lock(conn: &mut Conn, key: i64) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Like [`lock`] on a (namespace, id) pair (the two-key form, which never
/// collides with the one-key locks).
pub(crate) async fn lock_pair(conn: &mut Conn, ns: i32, id: i64) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, ($2 % 2147483647)::INT4)")
        .bind(ns)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl PgStore {
    /// Starts a write transaction (READ COMMITTED; writers that must not
    /// interleave take [`lock`] or `FOR UPDATE`).
    pub(crate) async fn begin_write(&self) -> Result<Tx<'_>> {
        Ok(self.pool.begin().await?)
    }

    /// A pooled connection for reads.
    pub(crate) async fn read(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        Ok(self.pool.acquire().await?)
    }
}

// --- jobs, outbox ---

/// `SELECT ... FOR UPDATE SKIP LOCKED`, for claiming queued rows: a row
/// another instance is claiming is skipped instead of waited for.
pub(crate) const FOR_UPDATE_SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
// --- support ---------------------------------------------------------------

/// How [`crate::support::SupportStore::conversations_mentioning`] matches a
/// customer message `m` of `support_messages` against a [`TextMatch`]: the
/// SQL condition (the query text is bound as `$3`) and that text; `None`
/// when nothing can match. PostgreSQL matches the messages' tsvector column
/// with the prefix tsquery listening builds, `(a:* & b:*) | (c:*)` (SQLite
/// its FTS5 index: the two full-text engines differ).
///
/// [`TextMatch`]: marquee_domain::textmatch::TextMatch
pub(crate) fn support_mention_match(
    m: &marquee_domain::textmatch::TextMatch,
) -> Option<(&'static str, String)> {
    listening_dialect::tsquery(m).map(|q| ("m.body_tsv @@ to_tsquery('simple', $3)", q))
}
// --- perks ---

/// `SELECT ... FOR NO KEY UPDATE`: the row read is this transaction's to
/// change (not its key), without blocking inserts that only reference it.
pub(crate) const FOR_NO_KEY_UPDATE: &str = " FOR NO KEY UPDATE";

// --- ideas ---

/// Orders text by its bytes, as `ORDER BY x{BYTE_ORDER}`, like SQLite,
/// rather than by the database's locale.
pub(crate) const BYTE_ORDER: &str = " COLLATE \"C\"";

// --- privacy ---

/// After an account's deletion: nothing to do, the tsvector columns went
/// with their rows (SQLite merges its FTS5 indexes).
pub(crate) async fn purge_text_indexes(_conn: &mut Conn) -> Result<()> {
    Ok(())
}

/// Administrative statements on a PostgreSQL server, for tests and tools
/// that create and drop whole databases (`CREATE DATABASE ... TEMPLATE`).
#[derive(Debug, Clone)]
pub struct PgAdmin {
    pool: PgPool,
    url: String,
}

/// Checks that a database name is a plain identifier (it is spliced into
/// `CREATE DATABASE`, which takes no bind parameters).
fn plain_identifier(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(StoreError::Invalid {
            field: "database",
            message: format!("{name:?} is not a plain lower-case identifier"),
        })
    }
}

impl PgAdmin {
    /// Connects to the server an admin URL names (any database on it).
    pub async fn connect(admin_url: &str) -> Result<Self> {
        let opts =
            PgConnectOptions::from_str(admin_url).map_err(|e| StoreError::Url(e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await?;
        Ok(PgAdmin {
            pool,
            url: admin_url.to_string(),
        })
    }

    /// Creates a database, empty or as a copy of `template`.
    pub async fn create_database(&self, name: &str, template: Option<&str>) -> Result<()> {
        let sql = match template {
            Some(t) => format!(
                "CREATE DATABASE \"{}\" TEMPLATE \"{}\"",
                plain_identifier(name)?,
                plain_identifier(t)?
            ),
            None => format!("CREATE DATABASE \"{}\"", plain_identifier(name)?),
        };
        sqlx::raw_sql(&sql).execute(&self.pool).await?;
        Ok(())
    }

    /// Drops a database if it exists, ending its connections.
    pub async fn drop_database(&self, name: &str) -> Result<()> {
        let sql = format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            plain_identifier(name)?
        );
        sqlx::raw_sql(&sql).execute(&self.pool).await?;
        Ok(())
    }

    /// The names of the databases starting with `prefix`.
    pub async fn databases(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT datname::TEXT FROM pg_database WHERE starts_with(datname::TEXT, $1) ORDER BY 1",
        )
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The admin URL with its database replaced by `name`.
    pub fn database_url(&self, name: &str) -> String {
        let (base, query) = match self.url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (self.url.as_str(), None),
        };
        let host_start = base.find("://").map_or(0, |i| i + 3);
        let base = match base[host_start..].find('/') {
            Some(i) => &base[..host_start + i],
            None => base,
        };
        match query {
            Some(q) => format!("{base}/{name}?{q}"),
            None => format!("{base}/{name}"),
        }
    }

    /// Closes the admin connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
