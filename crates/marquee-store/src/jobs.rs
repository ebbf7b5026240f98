//! Background jobs that exactly one server instance runs at a time, and what
//! they produce for all of them.
//!
//! A job is a named row with its next run time. An instance *claims* a due
//! job for a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so claimers never
//! wait on each other; SQLite: one `UPDATE` under the write lock), runs it,
//! then *finishes* it (next run time) or *fails* it (retry time, chosen by
//! the caller with back-off; the attempt count is kept until a success). An
//! instance that dies while holding a job leaves it to be claimed again once
//! the lease runs out. Finishing or failing needs the claim: a late instance
//! whose lease was taken over changes nothing.
//!
//! Shared models: the retraining job's output (a model file's bytes), so the
//! instances that did not train load it instead of training again.

use crate::Result;
use async_trait::async_trait;
use marquee_domain::Millis;

/// A job's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    /// The job.
    pub name: String,
    /// When it is next due.
    pub run_at: Millis,
    /// The instance holding it, if claimed.
    pub locked_by: Option<String>,
    /// Until when the claim holds.
    pub locked_until: Option<Millis>,
    /// Attempts since the last success.
    pub attempts: i64,
    /// The last failure, cleared by a success.
    pub last_error: Option<String>,
    /// The last success.
    pub last_ok_at: Option<Millis>,
}

/// Jobs and shared models.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Claims `name` for `worker` if it is due at `now` and nobody holds it,
    /// creating it (due at `first_run_at`) when it does not exist yet. Returns
    /// the attempt number (1 for the first since the last success), or `None`
    /// when it is not due or held by another instance.
    async fn claim_job(
        &self,
        name: &str,
        worker: &str,
        now: Millis,
        lease_ms: i64,
        first_run_at: Millis,
    ) -> Result<Option<i64>>;
    /// Records a success: due again at `next_run_at`. False when `worker` no
    /// longer holds the job.
    async fn finish_job(
        &self,
        name: &str,
        worker: &str,
        next_run_at: Millis,
        now: Millis,
    ) -> Result<bool>;
    /// Records a failure: due again at `retry_at`. False when `worker` no
    /// longer holds the job.
    async fn fail_job(
        &self,
        name: &str,
        worker: &str,
        error: &str,
        retry_at: Millis,
    ) -> Result<bool>;
    /// A job's state.
    async fn job(&self, name: &str) -> Result<Option<JobState>>;

    /// Stores a trained model for every instance (replacing an older one).
    async fn put_shared_model(&self, spec: &str, trained_at: Millis, bytes: &[u8]) -> Result<()>;
    /// When the stored model of `spec` was trained.
    async fn shared_model_at(&self, spec: &str) -> Result<Option<Millis>>;
    /// The stored model of `spec`: its training time and bytes.
    async fn shared_model(&self, spec: &str) -> Result<Option<(Millis, Vec<u8>)>>;
}
