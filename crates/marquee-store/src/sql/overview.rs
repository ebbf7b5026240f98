//! [`OverviewStore`], written once for both backends (see `sqlite/mod.rs`
//! for the dialect seam this file is compiled against).

use super::Backend;
use crate::overview::{OverviewStore, RisingIdea, TitleTrend, ViewingTrends};
use crate::Result;
use async_trait::async_trait;
use marquee_domain::perks::DAY_MS;
use marquee_domain::Millis;
use sqlx::Row;

/// A stream counts as completed at 90 % of the runtime (the resume rules' default),
/// as 0/1 so that it sums.
const COMPLETED: &str = "(CASE WHEN s.position_ms * 10 >= s.duration_ms * 9 THEN 1 ELSE 0 END)";

#[async_trait]
impl OverviewStore for Backend {
    async fn viewing_trends(&self, since: Millis, limit: u32) -> Result<ViewingTrends> {
        let mut conn = self.read().await?;
        let t = sqlx::query(&format!(
            "SELECT COUNT(*) AS plays, CAST(COALESCE(SUM({COMPLETED}), 0) AS BIGINT) AS done, \
               COUNT(DISTINCT s.profile_id) AS viewers FROM play_sessions s WHERE s.started_at >= $1"
        ))
        .bind(since)
        .fetch_one(&mut *conn)
        .await?;
        let by_day = sqlx::query(&format!(
            "SELECT (s.started_at / $1) * $1 AS d, COUNT(*) AS plays, \
               CAST(SUM({COMPLETED}) AS BIGINT) AS done \
             FROM play_sessions s WHERE s.started_at >= $2 GROUP BY 1 ORDER BY 1"
        ))
        .bind(DAY_MS)
        .bind(since)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("d")?, r.try_get("plays")?, r.try_get("done")?)))
        .collect::<Result<Vec<_>>>()?;
        let top = sqlx::query(&format!(
            "SELECT x.tid, n.name, x.plays, x.done FROM ( \
               SELECT COALESCE(t.series_id, t.id) AS tid, COUNT(*) AS plays, \
                 CAST(SUM({COMPLETED}) AS BIGINT) AS done \
               FROM play_sessions s JOIN titles t ON t.id = s.title_id WHERE s.started_at >= $1 \
               GROUP BY 1) x JOIN titles n ON n.id = x.tid ORDER BY x.plays DESC, x.tid LIMIT $2"
        ))
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(TitleTrend {
                title_id: r.try_get("tid")?,
                name: r.try_get("name")?,
                plays: r.try_get("plays")?,
                completed: r.try_get("done")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(ViewingTrends {
            plays: t.try_get("plays")?,
            completed: t.try_get("done")?,
            viewers: t.try_get("viewers")?,
            by_day,
            top,
        })
    }

    async fn rising_ideas(&self, since: Millis, limit: u32) -> Result<Vec<RisingIdea>> {
        sqlx::query(
            "SELECT i.id, i.title, i.status, i.vote_count, COUNT(v.account_id) AS recent \
             FROM ideas i JOIN idea_votes v ON v.idea_id = i.id AND v.created_at >= $1 \
             WHERE i.approved = 1 AND i.hidden = 0 AND i.status NOT IN ('launched', 'declined', 'duplicate') \
             GROUP BY i.id ORDER BY recent DESC, i.vote_count DESC, i.id LIMIT $2",
        )
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(RisingIdea {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                status: r.try_get("status")?,
                recent_votes: r.try_get("recent")?,
                votes: r.try_get("vote_count")?,
            })
        })
        .collect()
    }
}
