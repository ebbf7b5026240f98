//! Cross-process fan-out of live events: several server processes on one
//! database each publish what happened and hear what the others published,
//! so any instance can serve any device's live stream.
//!
//! PostgreSQL carries it on `LISTEN/NOTIFY` (a notification is delivered to
//! every listening session after the sender's transaction commits; payloads
//! are at most [`MAX_PAYLOAD`] bytes). SQLite serves one process, so it has no
//! fan-out: `notify` reports `false` and `listen` `None`.

use crate::Result;
use async_trait::async_trait;

/// The largest payload a notification carries (PostgreSQL's limit is 8,000
/// bytes less its own framing).
pub const MAX_PAYLOAD: usize = 7_900;

/// Publishing to and listening on named channels across processes.
#[async_trait]
pub trait FanoutStore: Send + Sync {
    /// Sends `payload` to every listener of `channel`, in this process too.
    /// `Ok(false)` when the backend has no cross-process fan-out.
    async fn notify(&self, channel: &str, payload: &str) -> Result<bool>;
    /// Starts listening on `channel`; `None` when the backend has no
    /// cross-process fan-out.
    async fn listen(&self, channel: &str) -> Result<Option<Box<dyn Notifications>>>;
}

/// A stream of the payloads published on a channel.
#[async_trait]
pub trait Notifications: Send {
    /// The next payload. After a lost connection the listener reconnects and
    /// listens again by itself (what was published meanwhile is lost: the
    /// live feeds' clients resynchronise from the API).
    async fn recv(&mut self) -> Result<String>;
}
