//! PostgreSQL implementation of [`HealthStore`].

use super::PgStore;
use crate::{HealthStore, Result, StoreError};
use async_trait::async_trait;
use std::time::Duration;

#[async_trait]
impl HealthStore for PgStore {
    async fn ready(&self, wait_ms: u64) -> Result<()> {
        // A write transaction that takes (and releases) a lock, so a database
        // that is read-only (a standby, or out of disk) is reported not ready.
        let probe = async {
            let mut tx = self.pool.begin().await?;
            sqlx::query("SET LOCAL lock_timeout = '1s'")
                .execute(&mut *tx)
                .await?;
            sqlx::query("SELECT pg_advisory_xact_lock(-7071)")
                .execute(&mut *tx)
                .await?;
            let read_only: String = sqlx::query_scalar("SHOW transaction_read_only")
                .fetch_one(&mut *tx)
                .await?;
            tx.rollback().await?;
            if read_only == "on" {
                return Err(StoreError::Unavailable("the database is read-only".into()));
            }
            Ok(())
        };
        match tokio::time::timeout(Duration::from_millis(wait_ms.max(1)), probe).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Unavailable(format!(
                "the database did not answer within {wait_ms} ms"
            ))),
        }
    }

    async fn integrity_check(&self) -> Result<Vec<String>> {
        // PostgreSQL keeps its own consistency; report indexes left invalid
        // (e.g. by a failed concurrent build), the one thing worth flagging.
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::TEXT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND NOT i.indisvalid",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| format!("invalid index {r}"))
            .collect())
    }
}
