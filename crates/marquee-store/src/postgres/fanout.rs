//! `FanoutStore` on `LISTEN/NOTIFY`.

use super::PgStore;
use crate::fanout::{FanoutStore, Notifications, MAX_PAYLOAD};
use crate::{Result, StoreError};
use async_trait::async_trait;
use sqlx::postgres::PgListener;

#[async_trait]
impl FanoutStore for PgStore {
    async fn notify(&self, channel: &str, payload: &str) -> Result<bool> {
        if payload.len() > MAX_PAYLOAD {
            return Err(StoreError::Invalid {
                field: "payload",
                message: format!("a notification carries at most {MAX_PAYLOAD} bytes"),
            });
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(true)
    }

    async fn listen(&self, channel: &str) -> Result<Option<Box<dyn Notifications>>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(channel).await?;
        Ok(Some(Box::new(PgNotifications { listener })))
    }
}

struct PgNotifications {
    listener: PgListener,
}

#[async_trait]
impl Notifications for PgNotifications {
    async fn recv(&mut self) -> Result<String> {
        let n = self.listener.recv().await?;
        Ok(n.payload().to_string())
    }
}
