//! SQLite serves one process: nothing to fan out to.

use super::SqliteStore;
use crate::fanout::{FanoutStore, Notifications};
use crate::Result;
use async_trait::async_trait;

#[async_trait]
impl FanoutStore for SqliteStore {
    async fn notify(&self, _channel: &str, _payload: &str) -> Result<bool> {
        Ok(false)
    }

    async fn listen(&self, _channel: &str) -> Result<Option<Box<dyn Notifications>>> {
        Ok(None)
    }
}
