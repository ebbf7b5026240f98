//! The JSON API's form of `marquee_store::overview` rows: the same fields and
//! serde attributes, converted with `From`, so the store carries no OpenAPI
//! schema and the wire format is the server's.

use marquee_domain::Millis;
use marquee_store::overview as store;
use serde::Serialize;
use utoipa::ToSchema;

/// A title (a series counts its episodes together) by plays in a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::TitleTrend> for TitleTrend {
    fn from(v: store::TitleTrend) -> Self {
        TitleTrend {
            title_id: v.title_id,
            name: v.name,
            plays: v.plays,
            completed: v.completed,
        }
    }
}

/// Viewing in a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::ViewingTrends> for ViewingTrends {
    fn from(v: store::ViewingTrends) -> Self {
        ViewingTrends {
            plays: v.plays,
            completed: v.completed,
            viewers: v.viewers,
            by_day: v.by_day,
            top: v.top.into_iter().map(Into::into).collect(),
        }
    }
}

/// An idea gaining votes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::RisingIdea> for RisingIdea {
    fn from(v: store::RisingIdea) -> Self {
        RisingIdea {
            id: v.id,
            title: v.title,
            status: v.status,
            recent_votes: v.recent_votes,
            votes: v.votes,
        }
    }
}
