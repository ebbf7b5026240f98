//! The database's health: readiness, the consistency check, the options a
//! store is opened with (SQLite's size cap), and the classification of
//! backend errors into "unavailable for now" and "full".
//!
//! Fault behaviour every backend keeps:
//! - a lock held by someone else, a connection that cannot be made, an I/O
//!   error: [`StoreError::Unavailable`](crate::StoreError::Unavailable)
//!   (HTTP 503), bounded by the busy/acquire timeouts, never a hang;
//! - no room left (disk full, or the configured cap):
//!   [`StoreError::Full`](crate::StoreError::Full) (HTTP 507); the
//!   transaction is rolled back whole, reads keep working.

use crate::Result;
use async_trait::async_trait;

/// How to open a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Pool size.
    pub max_connections: u32,
    /// SQLite only: the largest the database file may grow, in bytes
    /// (`PRAGMA max_page_count`). Past it every write fails with
    /// [`StoreError::Full`](crate::StoreError::Full), exactly as on a full disk.
    pub max_size_bytes: Option<u64>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_connections: 8,
            max_size_bytes: None,
        }
    }
}

/// Readiness and consistency of the database.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Checks that the database serves reads and would accept a write now:
    /// SQLite takes and releases the write lock (`BEGIN IMMEDIATE`), waiting
    /// at most `wait_ms` for it. `Unavailable` when it cannot.
    async fn ready(&self, wait_ms: u64) -> Result<()>;
    /// Runs the backend's consistency check (`PRAGMA integrity_check` on
    /// SQLite); the problems found, empty when the database is sound.
    async fn integrity_check(&self) -> Result<Vec<String>>;
}

/// What a backend error means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Retry later: locked, busy, unreachable, I/O error.
    Unavailable,
    /// No room left.
    Full,
}

/// Classifies a database error by its backend's code; `None` for every
/// other error (constraint violations, SQL errors, corruption).
pub(crate) fn classify(db: &dyn sqlx::error::DatabaseError) -> Option<Fault> {
    let code = db.code()?;
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Extended result code; the primary code is its low byte.
        let primary = code.parse::<i32>().ok()? & 0xff;
        return match primary {
            // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CANTOPEN
            5 | 6 | 8 | 10 | 14 => Some(Fault::Unavailable),
            // SQLITE_FULL: "database or disk is full"
            13 => Some(Fault::Full),
            _ => None,
        };
    }
    // PostgreSQL SQLSTATEs.
    match code.as_ref() {
        "53100" => Some(Fault::Full),
        "53000" | "53200" | "53300" | "57P01" | "57P02" | "57P03" | "55P03" => {
            Some(Fault::Unavailable)
        }
        c if c.starts_with("08") => Some(Fault::Unavailable),
        _ => None,
    }
}
