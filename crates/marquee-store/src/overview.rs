//! Read models for the staff overview: viewing trends and rising ideas.

use crate::Result;
use async_trait::async_trait;
use marquee_domain::Millis;
use serde::Serialize;

/// A title (a series counts its episodes together) by plays in a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TitleTrend {
    /// The title or series.
    pub title_id: i64,
    /// Its name.
    pub name: String,
    /// Streams started.
    pub plays: i64,
    /// Streams that reached the end (90 %).
    pub completed: i64,
}

/// Viewing in a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViewingTrends {
    /// Streams started.
    pub plays: i64,
    /// Streams that reached 90 % of the runtime.
    pub completed: i64,
    /// Profiles that watched.
    pub viewers: i64,
    /// Streams per day (UTC), oldest first: (day start ms, plays, completed).
    pub by_day: Vec<(Millis, i64, i64)>,
    /// Most played.
    pub top: Vec<TitleTrend>,
}

/// An idea gaining votes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RisingIdea {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Status.
    pub status: String,
    /// Votes within the window.
    pub recent_votes: i64,
    /// All votes.
    pub votes: i64,
}

/// Overview queries.
#[async_trait]
pub trait OverviewStore: Send + Sync {
    /// Viewing since `since`, with the `limit` most played titles.
    async fn viewing_trends(&self, since: Millis, limit: u32) -> Result<ViewingTrends>;
    /// Public ideas with the most votes since `since`.
    async fn rising_ideas(&self, since: Millis, limit: u32) -> Result<Vec<RisingIdea>>;
}
