//! [`JobStore`], written once for both backends (see `sqlite/mod.rs` for
//! the dialect seam this file is compiled against). Each claim is one
//! statement: atomic under SQLite's write lock; on PostgreSQL it skips a row
//! another instance is claiming (`FOR UPDATE SKIP LOCKED`) instead of
//! waiting for it.

use super::{Backend, FOR_UPDATE_SKIP_LOCKED};
use crate::jobs::{JobState, JobStore};
use crate::Result;
use async_trait::async_trait;
use marquee_domain::Millis;
use sqlx::Row;

#[async_trait]
impl JobStore for Backend {
    async fn claim_job(
        &self,
        name: &str,
        worker: &str,
        now: Millis,
        lease_ms: i64,
        first_run_at: Millis,
    ) -> Result<Option<i64>> {
        sqlx::query(
            "INSERT INTO jobs (name, run_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(first_run_at)
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query_scalar(&format!(
            "UPDATE jobs SET locked_by = $1, locked_until = $2, attempts = attempts + 1 \
             WHERE name IN (SELECT name FROM jobs WHERE name = $3 AND run_at <= $4 \
             AND (locked_until IS NULL OR locked_until <= $4){FOR_UPDATE_SKIP_LOCKED}) \
             RETURNING attempts",
        ))
        .bind(worker)
        .bind(now.saturating_add(lease_ms))
        .bind(name)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn finish_job(
        &self,
        name: &str,
        worker: &str,
        next_run_at: Millis,
        now: Millis,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE jobs SET run_at = $1, locked_by = NULL, locked_until = NULL, attempts = 0, \
             last_error = NULL, last_ok_at = $2 WHERE name = $3 AND locked_by = $4",
        )
        .bind(next_run_at)
        .bind(now)
        .bind(name)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn fail_job(
        &self,
        name: &str,
        worker: &str,
        error: &str,
        retry_at: Millis,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE jobs SET run_at = $1, locked_by = NULL, locked_until = NULL, last_error = $2 \
             WHERE name = $3 AND locked_by = $4",
        )
        .bind(retry_at)
        .bind(error)
        .bind(name)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn job(&self, name: &str) -> Result<Option<JobState>> {
        let row = sqlx::query(
            "SELECT name, run_at, locked_by, locked_until, attempts, last_error, last_ok_at \
             FROM jobs WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(JobState {
                name: r.try_get("name")?,
                run_at: r.try_get("run_at")?,
                locked_by: r.try_get("locked_by")?,
                locked_until: r.try_get("locked_until")?,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
                last_ok_at: r.try_get("last_ok_at")?,
            })
        })
        .transpose()
    }

    async fn put_shared_model(&self, spec: &str, trained_at: Millis, bytes: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO shared_models (spec, trained_at, bytes) VALUES ($1, $2, $3) \
             ON CONFLICT (spec) DO UPDATE SET trained_at = excluded.trained_at, bytes = excluded.bytes \
             WHERE excluded.trained_at > shared_models.trained_at",
        )
        .bind(spec)
        .bind(trained_at)
        .bind(bytes)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn shared_model_at(&self, spec: &str) -> Result<Option<Millis>> {
        Ok(
            sqlx::query_scalar("SELECT trained_at FROM shared_models WHERE spec = $1")
                .bind(spec)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn shared_model(&self, spec: &str) -> Result<Option<(Millis, Vec<u8>)>> {
        let row = sqlx::query("SELECT trained_at, bytes FROM shared_models WHERE spec = $1")
            .bind(spec)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("trained_at")?, r.try_get("bytes")?)))
            .transpose()
    }
}
