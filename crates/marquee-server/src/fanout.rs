//! Live events across server processes on one PostgreSQL database.
//!
//! Each live feed (continuity's playback events, listening's dashboard
//! events, support chat's conversation events) is delivered to this
//! process's subscribers at once, as before, and also handed to
//! [`Fanout::forward`]. On PostgreSQL one task sends those as `NOTIFY` on
//! [`CHANNEL`] and another `LISTEN`s there, delivering what *other* processes
//! published to this process's subscribers (an event carries its origin, so
//! a process never delivers its own twice). On SQLite (one process) nothing
//! is started and `forward` does nothing.
//!
//! Delivery is best effort, like the in-process broadcast it extends: a
//! notification larger than PostgreSQL's limit becomes a `resync` (support)
//! or is dropped (the other feeds' clients refetch on the next event), and
//! events published while the listener reconnects are lost.

pub use crate::events::{Feed, SupportEvent};

use crate::events::Forward;
use crate::AppState;
use marquee_store::fanout::MAX_PAYLOAD;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::mpsc;

/// The notification channel.
pub const CHANNEL: &str = "marquee_live";

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    origin: u64,
    #[serde(flatten)]
    feed: Feed,
}

/// Counts, for `/metrics` and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FanoutStats {
    /// Notifications sent.
    pub sent: u64,
    /// Other processes' events delivered here.
    pub received: u64,
    /// Events not sent (too large, queue full, or the database refused).
    pub dropped: u64,
}

/// This process's end of the fan-out.
#[derive(Debug)]
pub struct Fanout {
    origin: u64,
    tx: OnceLock<mpsc::Sender<String>>,
    sent: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
}

impl Fanout {
    /// A fan-out with a random origin id, not started.
    pub fn new(origin: u64) -> Fanout {
        Fanout {
            origin,
            tx: OnceLock::new(),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Whether events go to other processes (PostgreSQL, started).
    pub fn is_active(&self) -> bool {
        self.tx.get().is_some()
    }

    /// The counts so far.
    pub fn stats(&self) -> FanoutStats {
        FanoutStats {
            sent: self.sent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    /// Hands an event (already delivered here) to the other processes. Never
    /// blocks. `feed` builds the event only when the fan-out is active, so a
    /// single-process server (SQLite) copies nothing on its publish paths.
    pub fn forward(&self, feed: impl FnOnce() -> Feed) {
        if self.is_active() {
            self.send(feed());
        }
    }

    fn send(&self, feed: Feed) {
        let Some(tx) = self.tx.get() else { return };
        let Some(payload) = self.encode(feed) else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if tx.try_send(payload).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The wire form, within the payload limit: an oversized support event
    /// becomes a `resync` of its conversation; others are dropped.
    fn encode(&self, feed: Feed) -> Option<String> {
        let wire = Wire {
            origin: self.origin,
            feed,
        };
        let s = serde_json::to_string(&wire).ok()?;
        if s.len() <= MAX_PAYLOAD {
            return Some(s);
        }
        match wire.feed {
            Feed::Support(e) => {
                let resync = Wire {
                    origin: self.origin,
                    feed: Feed::Support(SupportEvent {
                        kind: "resync".into(),
                        customer_data: e.customer_data.map(|_| "{}".into()),
                        staff_data: "{}".into(),
                        ..e
                    }),
                };
                serde_json::to_string(&resync).ok()
            }
            _ => None,
        }
    }

    /// Decodes a payload heard on the channel: `None` for this process's own
    /// events and for what does not parse.
    pub fn decode(&self, payload: &str) -> Option<Feed> {
        match serde_json::from_str::<Wire>(payload) {
            Ok(w) if w.origin != self.origin => Some(w.feed),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable live-event notification ignored");
                None
            }
        }
    }
}

impl Forward for Fanout {
    fn is_active(&self) -> bool {
        Fanout::is_active(self)
    }

    fn send(&self, feed: Feed) {
        Fanout::send(self, feed);
    }
}

/// Delivers another process's event to this process's subscribers.
fn deliver(state: &AppState, feed: Feed) {
    match feed {
        Feed::Playback(e) => state.events.deliver(e),
        Feed::Listening(e) => {
            let _ = state.listening.events.send(e);
        }
        Feed::Support(e) => crate::support::deliver_remote(state, e),
        Feed::Changes(e) => {
            let _ = state.changes.events.send(e);
        }
    }
}

/// Starts the fan-out when the store has one (PostgreSQL): listens first, so
/// that once this returns every later event of another process is heard.
/// Returns its tasks (none on SQLite, or when already started).
pub async fn start(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    if state.fanout.is_active() {
        return Vec::new();
    }
    let store = state.store.clone();
    let mut heard = match store.listen(CHANNEL).await {
        Ok(Some(l)) => l,
        Ok(None) => return Vec::new(),
        Err(e) => {
            tracing::error!(error = %e, "live-event fan-out not started: events stay in this process");
            return Vec::new();
        }
    };
    let (tx, mut rx) = mpsc::channel::<String>(8192);
    if state.fanout.tx.set(tx).is_err() {
        return Vec::new(); // already started
    }
    let st = state.clone();
    let sender = tokio::spawn(async move {
        while let Some(payload) = rx.recv().await {
            match st.store.notify(CHANNEL, &payload).await {
                Ok(_) => st.fanout.sent.fetch_add(1, Ordering::Relaxed),
                Err(e) => {
                    tracing::warn!(error = %e, "live event not fanned out");
                    st.fanout.dropped.fetch_add(1, Ordering::Relaxed)
                }
            };
        }
    });
    let st = state.clone();
    let listener = tokio::spawn(async move {
        loop {
            match heard.recv().await {
                Ok(payload) => {
                    if let Some(feed) = st.fanout.decode(&payload) {
                        st.fanout.received.fetch_add(1, Ordering::Relaxed);
                        deliver(&st, feed);
                    }
                }
                Err(e) => {
                    // The listener reconnects on the next call.
                    tracing::warn!(error = %e, "live-event listener lost its connection");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    vec![sender, listener]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn support(text_len: usize) -> Feed {
        Feed::Support(SupportEvent {
            conversation_id: 7,
            customer_id: Some(3),
            kind: "message".into(),
            customer_data: Some(format!("{{\"body\":\"{}\"}}", "x".repeat(text_len))),
            staff_data: "{}".into(),
        })
    }

    #[test]
    fn own_events_are_not_delivered_twice_and_others_are() {
        let a = Fanout::new(1);
        let b = Fanout::new(2);
        let wire = a.encode(support(10)).unwrap();
        assert!(a.decode(&wire).is_none());
        match b.decode(&wire) {
            Some(Feed::Support(e)) => {
                assert_eq!(e.conversation_id, 7);
                assert_eq!(e.kind, "message");
            }
            other => panic!("{other:?}"),
        }
        assert!(b.decode("not json").is_none());
    }

    #[test]
    fn an_oversized_support_event_becomes_a_resync() {
        let a = Fanout::new(1);
        let wire = a.encode(support(MAX_PAYLOAD)).unwrap();
        assert!(wire.len() <= MAX_PAYLOAD);
        match Fanout::new(2).decode(&wire) {
            Some(Feed::Support(e)) => {
                assert_eq!(e.kind, "resync");
                assert_eq!(e.customer_data.as_deref(), Some("{}"));
                assert_eq!(e.conversation_id, 7);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn forward_is_a_no_op_until_started() {
        let a = Fanout::new(1);
        a.forward(|| support(1));
        assert!(!a.is_active());
        assert_eq!(a.stats(), FanoutStats::default());
    }
}
