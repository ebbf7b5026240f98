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

mod catalog;
mod decisions;
mod home;
mod ideas;
mod listening;
mod outbox;
mod overview;
mod perks;
mod playback;
mod support;

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
        Ok(PgStore { pool })
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
