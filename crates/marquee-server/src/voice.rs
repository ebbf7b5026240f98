//! The voice of the customer around an idea: what social listening heard about it
//! (volume and sentiment over time, the latest posts) and the support conversations in
//! which customers mentioned it, next to the idea for staff.
//!
//! "About the idea" is one rule, [`marquee_domain::textmatch::about_idea`]: a post that
//! names one of the idea's tags or shares two words of its title.

use marquee_domain::listening::Post;
use marquee_domain::textmatch::{self, TextMatch};
use marquee_domain::Millis;
use marquee_store::listening::{Bucket, PostOrder, PostQuery};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::wire::listening::SeriesPoint;
use crate::wire::support::Mention;
use crate::AppState;

const DAY: Millis = 86_400_000;
/// Longest window, days.
pub const MAX_DAYS: i64 = 365;

/// What listening heard about one idea.
#[derive(Debug, Serialize, ToSchema)]
pub struct Voice {
    /// The idea.
    pub idea_id: i64,
    /// Window start (ms, a UTC midnight).
    pub from: Millis,
    /// Window end (ms, exclusive).
    pub to: Millis,
    /// The matching rule: a post matches when it contains every word prefix of one group.
    pub matching: TextMatch,
    /// Matching posts in the window.
    pub total: i64,
    /// Of which negative.
    pub negative: i64,
    /// Of which positive.
    pub positive: i64,
    /// Mean sentiment score in [-1, 1] (0 with no posts).
    pub mean_score: f64,
    /// Mean score of the second half of the window minus the first half's: the trend.
    pub trend: f64,
    /// One point per day (days without posts omitted).
    pub daily: Vec<SeriesPoint>,
    /// The newest matching posts, at most 10.
    pub latest: Vec<Post>,
    /// The listening page with every matching post.
    pub posts_url: String,
    /// Support conversations in the window where the customer's own words match.
    pub conversations: i64,
    /// The most recent of them (at most 10), each with its latest matching message.
    pub mentions: Vec<Mention>,
}

/// What counts as a text about idea `id` (404 for an unknown idea; an idea with nothing
/// distinctive matches nothing). Shared by the voice panel and `?idea=` on post listings.
pub async fn idea_match(state: &AppState, id: i64) -> Result<TextMatch, AppError> {
    let idea = state
        .store
        .idea(id, None)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("idea {id} not found")))?;
    Ok(textmatch::about_idea(&idea.title, &idea.tags).unwrap_or(TextMatch { groups: Vec::new() }))
}

/// Builds the idea's voice over the last `days` days (404 for an unknown idea).
pub async fn voice(
    state: &AppState,
    idea_id: i64,
    days: i64,
) -> Result<(Voice, Vec<Bucket>), AppError> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(AppError::invalid(
            "days",
            format!("must be 1 to {MAX_DAYS}"),
        ));
    }
    let idea = state
        .store
        .idea(idea_id, None)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("idea {idea_id} not found")))?;
    let matching =
        textmatch::about_idea(&idea.title, &idea.tags).unwrap_or(TextMatch { groups: Vec::new() });
    let now = state.clock.now_ms();
    let to = (now / DAY + 1) * DAY;
    let from = to - days * DAY;
    let buckets = state
        .store
        .post_series(from, to, DAY, None, None, Some(&matching))
        .await?;
    let latest = state
        .store
        .list_posts(&PostQuery {
            from: Some(from),
            to: Some(to),
            matching: Some(matching.clone()),
            order: PostOrder::Newest,
            limit: 10,
            ..Default::default()
        })
        .await?;
    let (conversations, mentions) = state
        .store
        .conversations_mentioning(&matching, from, to, 10)
        .await?;
    let (total, negative, positive, sum) = buckets.iter().fold((0, 0, 0, 0.0), |a, b| {
        (
            a.0 + b.total,
            a.1 + b.negative,
            a.2 + b.positive,
            a.3 + b.score_sum,
        )
    });
    let mid = from + (to - from) / 2;
    let half = |early: bool| {
        let (n, s) = buckets
            .iter()
            .filter(|b| (b.start < mid) == early)
            .fold((0i64, 0.0), |a, b| (a.0 + b.total, a.1 + b.score_sum));
        (n > 0).then(|| s / n as f64)
    };
    let trend = match (half(true), half(false)) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let v = Voice {
        idea_id,
        from,
        to,
        matching,
        total,
        negative,
        positive,
        mean_score: if total > 0 { sum / total as f64 } else { 0.0 },
        trend,
        daily: buckets.iter().copied().map(SeriesPoint::from).collect(),
        latest,
        posts_url: format!("/listening/posts?idea={idea_id}&from={from}&to={to}"),
        conversations,
        mentions: crate::wire::all(mentions),
    };
    Ok((v, buckets))
}
