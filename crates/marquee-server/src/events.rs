//! Live events: the event types of every live feed ([`PlaybackEvent`],
//! [`ListeningEvent`], [`SupportEvent`], [`ChangeEvent`], together a [`Feed`]), and the bus of
//! a profile's open devices (Server-Sent Events at `/api/v1/events`).
//!
//! [`EventBus`] is the seam: this process fans events out through one tokio
//! broadcast channel filtered by profile ([`LocalEventBus`]), and hands each
//! to a [`Forward`] (in a server, [`crate::fanout::Fanout`]), which carries it
//! to the other server processes on the same PostgreSQL database
//! (`LISTEN/NOTIFY`); what they publish arrives through [`EventBus::deliver`].
//! The SSE handler does not know the difference. This module depends on no
//! other module of the server: the fan-out and the features depend on it.

use marquee_domain::listening::Alert;
use marquee_domain::Millis;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::{broadcast, watch};
use utoipa::ToSchema;

/// Something that happened to one of a profile's streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlaybackEvent {
    /// `start`, `progress`, `stop`, or `remote_stop` (the stream was
    /// stopped from another screen: its player stops and says why).
    pub kind: String,
    /// The profile.
    pub profile_id: i64,
    /// The play session.
    pub play_session_id: i64,
    /// The title.
    pub title_id: i64,
    /// The device that sent it.
    pub device_id: i64,
    /// Its name, e.g. "Living-room TV".
    pub device_name: String,
    /// Position.
    pub position_ms: i64,
    /// Paused.
    pub paused: bool,
    /// The saved resume point after it.
    pub resume_ms: i64,
    /// Server time, ms.
    pub at: i64,
    /// For `remote_stop`: the name of the device it was stopped from, when
    /// known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
}

/// Something the listening dashboard should know about now.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ListeningEvent {
    /// New posts were stored.
    Posts {
        /// How many.
        inserted: u64,
        /// The newest post time among them.
        latest: Millis,
    },
    /// An alert was raised or changed.
    Alert {
        /// The alert.
        alert: Box<Alert>,
    },
}

/// A support chat event on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupportEvent {
    /// The conversation.
    pub conversation_id: i64,
    /// Its customer (`None`: a visitor's conversation, for staff only).
    pub customer_id: Option<i64>,
    /// `message`, `conversation`, `typing` or `resync`.
    pub kind: String,
    /// What the customer sees (JSON), if anything.
    pub customer_data: Option<String>,
    /// What staff see (JSON).
    pub staff_data: String,
}

/// Something the consultation dashboard of one proposal should refetch for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangeEvent {
    /// The proposal.
    pub proposal_id: i64,
    /// `reaction`, `comment`, `status` (published, decided, announced) or
    /// `posts` (matching posts arrived).
    pub kind: String,
    /// Server time, ms.
    pub at: Millis,
}

/// One event of a live feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "feed", content = "event", rename_all = "snake_case")]
pub enum Feed {
    /// Continuity.
    Playback(PlaybackEvent),
    /// The listening dashboard.
    Listening(ListeningEvent),
    /// Support chat.
    Support(SupportEvent),
    /// Consultation dashboards.
    Changes(ChangeEvent),
}

/// Carries live events to the other server processes.
pub trait Forward: Send + Sync + std::fmt::Debug {
    /// Whether events go anywhere (so that idle publish paths copy nothing).
    fn is_active(&self) -> bool;
    /// Hands an event (already delivered here) over. Never blocks.
    fn send(&self, feed: Feed);
}

/// Publishes events and hands out per-profile subscriptions.
pub trait EventBus: Send + Sync + std::fmt::Debug {
    /// Sends an event to every subscriber of its profile. Never blocks.
    fn publish(&self, event: PlaybackEvent);
    /// Delivers an event to this process's subscribers only (one that
    /// another process published).
    fn deliver(&self, event: PlaybackEvent);
    /// Subscribes to one profile's events.
    fn subscribe(&self, profile_id: i64) -> Subscription;
    /// Ends every subscription (at shutdown, so that open SSE streams let the
    /// server drain).
    fn close(&self);
}

/// One subscriber's stream of a profile's events.
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<Arc<PlaybackEvent>>,
    closed: watch::Receiver<bool>,
    profile_id: i64,
}

impl Subscription {
    /// The next event of the profile; `None` when the bus is gone. A slow
    /// subscriber that fell behind skips what it missed (positions supersede
    /// each other, so the next one is as good).
    pub async fn next(&mut self) -> Option<Arc<PlaybackEvent>> {
        loop {
            if *self.closed.borrow() {
                return None;
            }
            tokio::select! {
                r = self.rx.recv() => match r {
                    Ok(e) if e.profile_id == self.profile_id => return Some(e),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                changed = self.closed.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
            }
        }
    }
}

/// The in-process bus: one broadcast channel, filtered by profile.
#[derive(Debug)]
pub struct LocalEventBus {
    tx: broadcast::Sender<Arc<PlaybackEvent>>,
    closed: watch::Sender<bool>,
    fanout: Option<Arc<dyn Forward>>,
}

impl LocalEventBus {
    /// A bus buffering `capacity` events per slow subscriber.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        let (closed, _) = watch::channel(false);
        LocalEventBus {
            tx,
            closed,
            fanout: None,
        }
    }

    /// A bus that also hands what it publishes to the other processes.
    pub fn with_fanout(capacity: usize, fanout: Arc<dyn Forward>) -> Self {
        LocalEventBus {
            fanout: Some(fanout),
            ..LocalEventBus::new(capacity)
        }
    }
}

impl Default for LocalEventBus {
    fn default() -> Self {
        LocalEventBus::new(4096)
    }
}

impl EventBus for LocalEventBus {
    fn publish(&self, event: PlaybackEvent) {
        if let Some(f) = self.fanout.as_ref().filter(|f| f.is_active()) {
            f.send(Feed::Playback(event.clone()));
        }
        self.deliver(event);
    }

    fn deliver(&self, event: PlaybackEvent) {
        // No subscribers is not an error.
        let _ = self.tx.send(Arc::new(event));
    }

    fn subscribe(&self, profile_id: i64) -> Subscription {
        Subscription {
            rx: self.tx.subscribe(),
            closed: self.closed.subscribe(),
            profile_id,
        }
    }

    fn close(&self) {
        self.closed.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(profile_id: i64, pos: i64) -> PlaybackEvent {
        PlaybackEvent {
            kind: "progress".into(),
            profile_id,
            play_session_id: 1,
            title_id: 1,
            device_id: 1,
            device_name: "TV".into(),
            position_ms: pos,
            paused: false,
            resume_ms: pos,
            at: 0,
            stopped_by: None,
        }
    }

    #[tokio::test]
    async fn subscribers_get_only_their_profile() {
        let bus = LocalEventBus::default();
        let mut a = bus.subscribe(1);
        bus.publish(ev(2, 5));
        bus.publish(ev(1, 7));
        assert_eq!(a.next().await.unwrap().position_ms, 7);
        bus.close();
        assert!(a.next().await.is_none());
        assert!(bus.subscribe(1).next().await.is_none());
    }
}
