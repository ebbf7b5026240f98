//! The stakeholder overview (the staff home page): one read of every
//! feature's figures, shared by the page, its live partial and
//! `GET /api/v1/staff/overview`.

use crate::error::AppError;
use crate::wire;
use crate::wire::overview::{RisingIdea, ViewingTrends};
use crate::wire::perks::PerkSpend;
use crate::AppState;
use marquee_domain::listening::{Alert, AlertStatus};
use marquee_domain::perks::DAY_MS;
use marquee_domain::{Millis, Role};
use marquee_store::listening::Bucket;
use serde::Serialize;
use utoipa::ToSchema;

/// Days the overview looks back.
pub const WINDOW_DAYS: i64 = 7;

/// Sentiment per day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SentimentDay {
    /// Start of the day (UTC), ms.
    pub day: Millis,
    /// Posts.
    pub posts: i64,
    /// Negative posts.
    pub negative: i64,
    /// Mean score (-1..1), when there were posts.
    pub mean: Option<f64>,
}

/// Every figure on the overview.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Overview {
    /// When it was read, ms.
    pub at: Millis,
    /// Window start, ms.
    pub since: Millis,
    /// Titles in the catalog.
    pub titles: i64,
    /// Accounts.
    pub accounts: i64,
    /// Staff accounts.
    pub staff: i64,
    /// Sentiment of posts per day.
    pub sentiment: Vec<SentimentDay>,
    /// Alerts still open or acknowledged.
    pub active_alerts: Vec<Alert>,
    /// Ideas gaining votes in the window.
    pub rising_ideas: Vec<RisingIdea>,
    /// Viewing in the window.
    pub viewing: ViewingTrends,
    /// Perk spend (window and all time).
    pub perks: PerkSpend,
    /// Support: inbox load now, CSAT and SLA over the last 30 days.
    pub support: crate::support::OverviewSupport,
    /// Subscriptions over the last 30 days: sign-ups, plan changes, pauses,
    /// cancellations and their reasons.
    pub subscriptions: crate::plans::Churn,
    /// Proposed changes in consultation now.
    pub changes_open: Vec<crate::changes::OverviewChange>,
    /// Announced changes whose trust recovery is being watched (60 days).
    pub changes_recovering: Vec<crate::changes::OverviewChange>,
}

/// Days the subscriptions panel looks back.
pub const CHURN_DAYS: i64 = 30;

/// Reads the overview as of the injected clock.
pub async fn gather(state: &AppState) -> Result<Overview, AppError> {
    let s = &state.store;
    let now = state.clock.now_ms();
    // Whole UTC days, today included.
    let since = (now.div_euclid(DAY_MS) - (WINDOW_DAYS - 1)) * DAY_MS;
    let buckets: Vec<Bucket> = s
        .post_series(since, now + 1, DAY_MS, None, None, None)
        .await?;
    let sentiment = (0..WINDOW_DAYS)
        .map(|i| {
            let day = since + i * DAY_MS;
            let b = buckets.iter().find(|b| b.start == day);
            SentimentDay {
                day,
                posts: b.map_or(0, |b| b.total),
                negative: b.map_or(0, |b| b.negative),
                mean: b
                    .filter(|b| b.total > 0)
                    .map(|b| b.score_sum / b.total as f64),
            }
        })
        .collect();
    let mut active_alerts = s.list_alerts(Some(AlertStatus::Open), 5).await?;
    active_alerts.extend(s.list_alerts(Some(AlertStatus::Acknowledged), 5).await?);
    active_alerts.truncate(6);
    let (changes_open, changes_recovering) = crate::changes::overview(state).await?;
    Ok(Overview {
        at: now,
        since,
        titles: s.count_titles(None).await?,
        accounts: s.count_accounts(None).await?,
        staff: s.count_accounts(Some(Role::Agent)).await?
            + s.count_accounts(Some(Role::Admin)).await?,
        sentiment,
        active_alerts,
        rising_ideas: wire::all(s.rising_ideas(since, 5).await?),
        viewing: s.viewing_trends(since, 5).await?.into(),
        perks: s.perk_spend(since).await?.into(),
        support: crate::support::overview(state).await?,
        subscriptions: crate::plans::churn(state, CHURN_DAYS).await?,
        changes_open,
        changes_recovering,
    })
}
