//! [`OutboxStore`], written once for both backends (see `sqlite/mod.rs` for
//! the dialect seam this file is compiled against).
//!
//! Several server instances may run the delivery task against one database:
//! [`OutboxStore::claim_deliveries`] takes the due rows with
//! `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite's write transaction excludes
//! every other claimer) and pushes their next attempt past the lease in the
//! same transaction, so no two instances ever claim the same delivery.

use super::{Backend, Conn, Db, DbRow, FOR_UPDATE_SKIP_LOCKED};
use crate::outbox::{DeliveryRecord, DueDelivery, OutboxEvent, OutboxStore, WebhookEndpoint};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::Millis;
use sqlx::{QueryBuilder, Row};

/// Enqueues an event for every active endpoint subscribed to it, on the
/// caller's connection (so a feature can enqueue inside its own transaction).
pub(super) async fn enqueue_in(conn: &mut Conn, ev: &OutboxEvent, now: Millis) -> Result<u64> {
    // Event names match without regard to (ASCII) case.
    Ok(sqlx::query(
        "INSERT INTO webhook_deliveries(endpoint_id, event, payload, next_attempt_at, created_at) \
         SELECT id, $1, $2, $3, $3 FROM webhook_endpoints \
         WHERE active = 1 AND (events = '*' OR lower(' ' || events || ' ') LIKE lower('% ' || $1 || ' %'))",
    )
    .bind(&ev.event)
    .bind(&ev.payload)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

fn endpoint_from_row(r: &DbRow) -> Result<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        secret: r.try_get("secret")?,
        events: r.try_get("events")?,
        active: r.try_get::<i64, _>("active")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

#[async_trait]
impl OutboxStore for Backend {
    async fn create_webhook(
        &self,
        url: &str,
        secret: &str,
        events: &str,
        now: Millis,
    ) -> Result<WebhookEndpoint> {
        let row = sqlx::query(
            "INSERT INTO webhook_endpoints(url, secret, events, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, url, secret, events, active, created_at",
        )
        .bind(url)
        .bind(secret)
        .bind(events)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        endpoint_from_row(&row)
    }

    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>> {
        sqlx::query(
            "SELECT id, url, secret, events, active, created_at FROM webhook_endpoints ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(endpoint_from_row)
        .collect()
    }

    async fn delete_webhook(&self, id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if done == 0 {
            return Err(StoreError::NotFound { what: "webhook" });
        }
        Ok(())
    }

    async fn enqueue_event(&self, event: &OutboxEvent, now: Millis) -> Result<u64> {
        let mut conn = self.pool.acquire().await?;
        enqueue_in(&mut conn, event, now).await
    }

    async fn claim_deliveries(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>> {
        // Lock the due rows (on PostgreSQL skipping any another instance is
        // claiming right now; a row another claimer committed meanwhile is
        // re-checked against its new next_attempt_at under READ COMMITTED and
        // drops out), then push them past the lease in the same transaction.
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(&format!(
            "SELECT d.id, e.url, e.secret, d.event, d.payload, d.attempts FROM ( \
               SELECT id, endpoint_id, event, payload, attempts, next_attempt_at \
               FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 \
               ORDER BY next_attempt_at, id LIMIT $2{FOR_UPDATE_SKIP_LOCKED}) d \
             JOIN webhook_endpoints e ON e.id = d.endpoint_id ORDER BY d.next_attempt_at, d.id"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let out = rows
            .iter()
            .map(|r| {
                Ok(DueDelivery {
                    id: r.try_get("id")?,
                    url: r.try_get("url")?,
                    secret: r.try_get("secret")?,
                    event: r.try_get("event")?,
                    payload: r.try_get("payload")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if !out.is_empty() {
            let mut qb: QueryBuilder<Db> =
                QueryBuilder::new("UPDATE webhook_deliveries SET next_attempt_at = ");
            qb.push_bind(now.saturating_add(lease_ms))
                .push(" WHERE id IN (");
            let mut ids = qb.separated(", ");
            for d in &out {
                ids.push_bind(d.id);
            }
            qb.push(")");
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn delivery_succeeded(&self, id: i64, status: i64, now: Millis) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, \
             last_status = $1, last_error = NULL, delivered_at = $2 WHERE id = $3",
        )
        .bind(status)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delivery_failed(
        &self,
        id: i64,
        status: Option<i64>,
        error: &str,
        retry_at: Option<Millis>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $1, last_error = $2, \
             state = CASE WHEN CAST($3 AS BIGINT) IS NULL THEN 'failed' ELSE 'pending' END, \
             next_attempt_at = COALESCE(CAST($3 AS BIGINT), next_attempt_at) WHERE id = $4",
        )
        .bind(status)
        .bind(error)
        .bind(retry_at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn deliveries(&self, endpoint_id: i64, limit: u32) -> Result<Vec<DeliveryRecord>> {
        let rows = sqlx::query(
            "SELECT id, endpoint_id, event, state, attempts, last_status, last_error, \
             next_attempt_at, created_at, delivered_at FROM webhook_deliveries \
             WHERE endpoint_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(endpoint_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRecord {
                    id: r.try_get("id")?,
                    endpoint_id: r.try_get("endpoint_id")?,
                    event: r.try_get("event")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    last_status: r.try_get("last_status")?,
                    last_error: r.try_get("last_error")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    created_at: r.try_get("created_at")?,
                    delivered_at: r.try_get("delivered_at")?,
                })
            })
            .collect()
    }
}
