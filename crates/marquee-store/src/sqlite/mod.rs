//! The embedded SQLite backend (WAL mode).

use crate::{Result, StoreError};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Sqlite;
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

/// Rows per multi-row INSERT: well under SQLite's bind-parameter limit.
const CHUNK: usize = 1000;

/// SQLite implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection of its own for the playback group-commit writer, so that
    /// it never queues behind the readers for a pooled connection.
    writer: SqlitePool,
    /// Change counters for the server's read caches (see [`crate::changes`]).
    pub(crate) changes: std::sync::Arc<crate::changes::ChangeCounters>,
}

/// Maps a UNIQUE violation to a conflict on `field`.
fn unique_to_conflict(e: sqlx::Error, field: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { field },
        _ => e.into(),
    }
}

/// Turns free text into a safe FTS5 query: each word becomes a quoted prefix term.
fn fts_query(q: &str) -> Option<String> {
    let terms: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(12)
        .map(|w| format!("\"{}\"*", w.to_lowercase()))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

// ---------------------------------------------------------------------------
// The dialect seam. The feature files under `src/sql/` are written once and
// compiled once per backend (`#[path]` above); they see SQLite through these
// names. The PostgreSQL module defines the same names.
// ---------------------------------------------------------------------------

/// The sqlx database of this backend.
pub(crate) type Db = Sqlite;
/// A connection of this backend.
pub(crate) type Conn = sqlx::SqliteConnection;
/// A result row of this backend.
pub(crate) type DbRow = SqliteRow;
/// The store the shared feature files implement their traits for.
pub(crate) type Backend = SqliteStore;
/// A transaction of this backend.
pub(crate) type Tx<'a> = sqlx::Transaction<'a, Sqlite>;

/// `SELECT ... FOR SHARE`: nothing on SQLite, where a write transaction
/// (`BEGIN IMMEDIATE`) already excludes every other writer.
pub(crate) const FOR_SHARE: &str = "";
/// `SELECT ... FOR UPDATE`: nothing on SQLite, for the same reason.
pub(crate) const FOR_UPDATE: &str = "";

/// Text as the database takes it. SQLite stores any string, NUL included.
pub(crate) fn text(s: &str) -> std::borrow::Cow<'_, str> {
    std::borrow::Cow::Borrowed(s)
}

/// Serialises the writers of one key inside a transaction. Nothing to do on
/// SQLite: `BEGIN IMMEDIATE` serialises every writer of the database.
pub(crate) async fn lock(_conn: &mut Conn, _key: i64) -> Result<()> {
    Ok(())
}

/// Like [`lock`] on a (namespace, id) pair; nothing to do on SQLite.
pub(crate) async fn lock_pair(_conn: &mut Conn, _ns: i32, _id: i64) -> Result<()> {
    Ok(())
}

impl SqliteStore {
    /// Starts a write transaction. `BEGIN IMMEDIATE` takes SQLite's writer
    /// lock up front, so a transaction that reads before it writes never
    /// fails to upgrade its lock (`SQLITE_BUSY`) halfway.
    pub(crate) async fn begin_write(&self) -> Result<Tx<'_>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// A pooled connection for reads.
    pub(crate) async fn read(&self) -> Result<sqlx::pool::PoolConnection<Sqlite>> {
        Ok(self.pool.acquire().await?)
    }
}

// --- jobs, outbox ---

/// `SELECT ... FOR UPDATE SKIP LOCKED`, for claiming queued rows: nothing on
/// SQLite, where the claiming write transaction already excludes every other.
pub(crate) const FOR_UPDATE_SKIP_LOCKED: &str = "";
// --- support ---------------------------------------------------------------

/// How [`crate::support::SupportStore::conversations_mentioning`] matches a
/// customer message `m` of `support_messages` against a [`TextMatch`](marquee_domain::textmatch::TextMatch): the
/// SQL condition (the query text is bound as `$3`) and that text; `None`
/// when nothing can match. SQLite searches its FTS5 index of the messages
/// (PostgreSQL a tsvector column: the two full-text engines differ).
pub(crate) fn support_mention_match(
    m: &marquee_domain::textmatch::TextMatch,
) -> Option<(&'static str, String)> {
    (!m.groups.is_empty()).then(|| {
        (
            "m.id IN (SELECT rowid FROM support_messages_fts WHERE support_messages_fts MATCH $3)",
            m.to_fts5(),
        )
    })
}
// --- perks ---

/// `SELECT ... FOR NO KEY UPDATE`: nothing on SQLite, where a write
/// transaction (`BEGIN IMMEDIATE`) already excludes every other writer.
pub(crate) const FOR_NO_KEY_UPDATE: &str = "";

// --- ideas ---

/// Orders text by its bytes, as `ORDER BY x{BYTE_ORDER}`: SQLite's default
/// (BINARY) collation already does.
pub(crate) const BYTE_ORDER: &str = "";

// --- privacy ---

/// After an account's deletion: FTS5 keeps deleted text's terms in older
/// index segments until they are merged, so the indexes over text a
/// deleted account wrote (ideas, support messages) are merged at once
/// (PostgreSQL's tsvector columns go with their rows).
pub(crate) async fn purge_text_indexes(conn: &mut Conn) -> Result<()> {
    for t in ["ideas_fts", "support_messages_fts"] {
        sqlx::query(&format!("INSERT INTO {t}({t}) VALUES ('optimize')"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating when missing) the database a `sqlite://` URL names, in WAL mode.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        Self::open_with(
            url,
            &crate::ConnectOptions {
                max_connections,
                ..Default::default()
            },
        )
        .await
    }

    /// [`SqliteStore::open`] with options: the pool size and the size cap.
    pub async fn open_with(url: &str, options: &crate::ConnectOptions) -> Result<Self> {
        let max_connections = options.max_connections;
        let cap = options.max_size_bytes;
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode survives a process crash (kill -9) without losing
            // committed transactions; only an OS crash can lose the last ones.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(health::BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _| Box::pin(health::apply_size_cap(conn, cap)))
            .after_release(|conn, _| Box::pin(health::still_usable(conn)))
            .connect_with(opts.clone())
            .await?;
        // The writer never checkpoints on its commit path (a checkpoint there
        // stalls every request waiting on the batch); a background task does
        // it, concurrently, on a pooled connection. It keeps a larger cache
        // (32 MiB: the served process's whole budget is 300 MB, and under load
        // the append-heavy impression log fills whatever this allows).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _| Box::pin(health::apply_size_cap(conn, cap)))
            .connect_with(
                opts.pragma("wal_autocheckpoint", "0")
                    .pragma("cache_size", "-32768"),
            )
            .await?;
        playback::spawn_checkpointer(pool.clone());
        Ok(SqliteStore {
            pool,
            writer,
            changes: Default::default(),
        })
    }

    /// The underlying pool, for backend-specific tools.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}
