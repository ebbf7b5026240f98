//! Readiness: `/readyz` answers 200 only while the store serves reads and
//! would accept a write now; otherwise 503 with the JSON error body
//! (`code: "unavailable"`), within a few seconds, never a hang.
//!
//! `/healthz` (in `lib.rs`) stays the liveness check: the process answers
//! and holds a database connection. A load balancer takes an instance out of
//! rotation on `/readyz`; an orchestrator restarts it only on `/healthz`,
//! since restarting does not cure a database someone else holds locked.

use crate::error::{ApiError, AppError};
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::time::Duration;

/// How long the probe waits for the database's write lock.
pub const PROBE_WAIT_MS: u64 = 1000;
/// The longest `/readyz` takes, whatever the database does.
const PROBE_DEADLINE: Duration = Duration::from_secs(4);

/// `/readyz`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/readyz", get(readyz))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(PROBE_DEADLINE, state.store.ready(PROBE_WAIT_MS)).await {
        Ok(Ok(())) => Ok(Json(json!({"status": "ready"}))),
        Ok(Err(e)) => Err(AppError::Unavailable(format!("not ready: {e}")).into()),
        Err(_) => Err(AppError::Unavailable(
            "not ready: the database did not answer in time".into(),
        )
        .into()),
    }
}
