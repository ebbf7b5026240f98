//! SQLite implementation of [`OutboxStore`].

use super::SqliteStore;
use crate::outbox::{DeliveryRecord, DueDelivery, OutboxEvent, OutboxStore, WebhookEndpoint};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::Millis;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

/// Enqueues an event for every active endpoint subscribed to it, on the
/// caller's connection (so a feature can enqueue inside its own transaction).
pub(super) async fn enqueue_in(
    conn: &mut SqliteConnection,
    ev: &OutboxEvent,
    now: Millis,
) -> Result<u64> {
    Ok(sqlx::query(
        "INSERT INTO webhook_deliveries(endpoint_id, event, payload, next_attempt_at, created_at) \
         SELECT id, ?1, ?2, ?3, ?3 FROM webhook_endpoints \
         WHERE active = 1 AND (events = '*' OR (' ' || events || ' ') LIKE ('% ' || ?1 || ' %'))",
    )
    .bind(&ev.event)
    .bind(&ev.payload)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

fn endpoint_from_row(r: &SqliteRow) -> Result<WebhookEndpoint> {
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
impl OutboxStore for SqliteStore {
    async fn create_webhook(
        &self,
        url: &str,
        secret: &str,
        events: &str,
        now: Millis,
    ) -> Result<WebhookEndpoint> {
        let row = sqlx::query(
            "INSERT INTO webhook_endpoints(url, secret, events, created_at) VALUES (?, ?, ?, ?) \
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
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = ?")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let rows = sqlx::query(
            "SELECT d.id, e.url, e.secret, d.event, d.payload, d.attempts \
             FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE d.state = 'pending' AND d.next_attempt_at <= ? \
             ORDER BY d.next_attempt_at, d.id LIMIT ?",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let d = DueDelivery {
                id: r.try_get("id")?,
                url: r.try_get("url")?,
                secret: r.try_get("secret")?,
                event: r.try_get("event")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
            };
            sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?")
                .bind(now + lease_ms)
                .bind(d.id)
                .execute(&mut *tx)
                .await?;
            out.push(d);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn delivery_succeeded(&self, id: i64, status: i64, now: Millis) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, \
             last_status = ?, last_error = NULL, delivered_at = ? WHERE id = ?",
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
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?, last_error = ?, \
             state = CASE WHEN ? IS NULL THEN 'failed' ELSE 'pending' END, \
             next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ?",
        )
        .bind(status)
        .bind(error)
        .bind(retry_at)
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
             WHERE endpoint_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
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
