//! Listening's bodies built from store rows.

use marquee_store::listening::Bucket;
use serde::Serialize;
use utoipa::ToSchema;

/// One bucket of a series.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesPoint {
    /// Bucket start, ms.
    pub start: i64,
    /// Posts.
    pub total: i64,
    /// Negative posts.
    pub negative: i64,
    /// Positive posts.
    pub positive: i64,
    /// Mean score (p(pos) - p(neg)).
    pub mean_score: f64,
}

impl From<Bucket> for SeriesPoint {
    fn from(b: Bucket) -> Self {
        SeriesPoint {
            start: b.start,
            total: b.total,
            negative: b.negative,
            positive: b.positive,
            mean_score: if b.total > 0 {
                b.score_sum / b.total as f64
            } else {
                0.0
            },
        }
    }
}
