//! SQLite implementation of [`HealthStore`], and the size cap.
//!
//! The cap is `PRAGMA max_page_count`, set on every connection as it opens:
//! a write that would grow the file past it fails with `SQLITE_FULL`
//! ("database or disk is full"), the same error a full disk gives, and SQLite
//! rolls the statement (and its transaction) back.

use super::SqliteStore;
use crate::{HealthStore, Result, StoreError};
use async_trait::async_trait;
use sqlx::{Connection, SqliteConnection};
use std::time::Duration;

/// How long a statement waits for a lock held by someone else before it
/// fails with `SQLITE_BUSY` (→ [`StoreError::Unavailable`]).
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Caps the database at `cap` bytes on one connection (no-op without a cap).
/// SQLite never sets the cap below the current size: a file already past it
/// stays readable and refuses to grow.
pub(super) async fn apply_size_cap(
    conn: &mut SqliteConnection,
    cap: Option<u64>,
) -> Result<(), sqlx::Error> {
    let Some(bytes) = cap else {
        return Ok(());
    };
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut *conn)
        .await?;
    let pages = bytes / u64::try_from(page_size.max(512)).unwrap_or(4096);
    sqlx::query(&format!("PRAGMA max_page_count = {}", pages.max(1)))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Reads the file, then takes and releases the write lock, waiting at most
/// `wait_ms` for it; the connection's busy timeout is restored afterwards.
async fn probe(pool: sqlx::SqlitePool, wait_ms: u64) -> Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT COUNT(*) FROM meta")
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!("PRAGMA busy_timeout = {wait_ms}"))
        .execute(&mut *conn)
        .await?;
    let outcome = match conn.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx.rollback().await,
        Err(e) => Err(e),
    };
    let restored = sqlx::query(&format!(
        "PRAGMA busy_timeout = {}",
        BUSY_TIMEOUT.as_millis()
    ))
    .execute(&mut *conn)
    .await;
    if restored.is_err() {
        // Never hand a connection with the probe's short timeout back to the pool.
        conn.detach();
    }
    outcome?;
    Ok(())
}

#[async_trait]
impl HealthStore for SqliteStore {
    async fn ready(&self, wait_ms: u64) -> Result<()> {
        // A task of its own, so that a caller giving up cannot leave the
        // connection with the probe's timeout or inside the transaction.
        let task = tokio::spawn(probe(self.pool.clone(), wait_ms));
        match task.await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Unavailable(format!("readiness probe: {e}"))),
        }
    }

    async fn integrity_check(&self) -> Result<Vec<String>> {
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().filter(|r| r != "ok").collect())
    }
}

/// Whether a pooled SQLite connection may be reused once released. When a
/// write fails with SQLITE_FULL, SQLite rolls the transaction back itself; the
/// ROLLBACK that sqlx then sends fails ("no transaction is active") and sqlx
/// keeps counting the connection as inside a transaction, so its next `BEGIN`
/// would fail ("non-zero transaction depth") and answer 500 instead of 507.
/// The ping waits for that queued ROLLBACK; such a connection is closed.
pub(crate) async fn still_usable(
    conn: &mut sqlx::SqliteConnection,
) -> std::result::Result<bool, sqlx::Error> {
    use sqlx::{Connection, Database, TransactionManager};
    if conn.ping().await.is_err() {
        return Ok(false);
    }
    Ok(<sqlx::Sqlite as Database>::TransactionManager::get_transaction_depth(conn) == 0)
}
