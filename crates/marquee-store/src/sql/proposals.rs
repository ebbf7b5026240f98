//! [`ProposalStore`], written once for both backends (see `sqlite/mod.rs`
//! for the dialect seam this file is compiled against).
//!
//! Every write that depends on a proposal's status re-checks it in its
//! `UPDATE … WHERE status = …` (or locks the row first), so two staff
//! members acting at once cannot both move it, and a reaction cannot land
//! after the consultation closed.

use super::decisions::record_decision;
use super::ideas::check_posting_limit;
use super::notify::{deliver, Note};
use super::plans::{decode, insert_plan_price};
use super::{text, Backend, Conn, DbRow, FOR_SHARE, FOR_UPDATE};
use crate::decisions::Evidence;
use crate::proposals::{
    ConsultationFigures, NewComment, Proposal, ProposalComment, ProposalDraft, ProposalStore,
    ReactionInput, ReactionStep, StayCount, StoredReaction,
};
use crate::{Result, StoreError};

/// An hour, ms (reaction steps are kept per hour).
const HOUR_MS: i64 = 3_600_000;
use async_trait::async_trait;
use marquee_domain::changes::{
    transition, AccountGroup, Action, Decision, Grandfathering, PriceChange, Segment,
    SegmentBounds, Status, WouldStay,
};
use marquee_domain::listening::Sentiment;
use marquee_domain::plans::Price;
use marquee_domain::{DomainError, Millis, Plan};
use sqlx::Row;
use std::str::FromStr;

const COLUMNS: &str = "id, kind, title, body, status, segment_plans, min_tenure_days, \
    max_tenure_days, min_price_cents, max_price_cents, price_plan, price_cents, price_currency, \
    grandfathering, notice_days, keywords, planned_at, published_at, decision, decision_note, \
    decision_id, decided_at, announce_title, announce_body, announce_at, announced_at, \
    announced_to, prices_moved_at, created_by, created_at, updated_at";

fn opt_decode<T: FromStr<Err = DomainError>>(s: Option<String>) -> Result<Option<T>> {
    s.as_deref().map(decode).transpose()
}

/// Names stored as one column, `|a|b|` (`''`: none), matched with
/// `LIKE '%|' || name || '|%'`.
fn name_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("|{}|", names.join("|"))
    }
}

fn u32_of(v: Option<i64>) -> Option<u32> {
    v.and_then(|d| u32::try_from(d).ok())
}

fn proposal_from_row(r: &DbRow) -> Result<Proposal> {
    let plans: String = r.try_get("segment_plans")?;
    let plans = plans
        .split('|')
        .filter(|p| !p.is_empty())
        .map(decode)
        .collect::<Result<Vec<Plan>>>()?;
    let price = match (
        opt_decode::<Plan>(r.try_get("price_plan")?)?,
        r.try_get::<Option<i64>, _>("price_cents")?,
        r.try_get::<Option<String>, _>("price_currency")?,
        r.try_get::<Option<String>, _>("grandfathering")?,
    ) {
        (Some(plan), Some(amount_cents), Some(currency), Some(g)) => Some(PriceChange {
            plan,
            price: Price {
                amount_cents,
                currency,
            },
            grandfathering: Grandfathering::from_stored(&g, u32_of(r.try_get("notice_days")?))
                .ok_or_else(|| {
                    StoreError::Database(sqlx::Error::Decode(
                        format!("grandfathering {g:?} without its notice").into(),
                    ))
                })?,
        }),
        _ => None,
    };
    let keywords: String = r.try_get("keywords")?;
    Ok(Proposal {
        id: r.try_get("id")?,
        draft: ProposalDraft {
            kind: decode(&r.try_get::<String, _>("kind")?)?,
            title: r.try_get("title")?,
            body: r.try_get("body")?,
            segment: Segment {
                plans,
                min_tenure_days: u32_of(r.try_get("min_tenure_days")?),
                max_tenure_days: u32_of(r.try_get("max_tenure_days")?),
                min_price_cents: r.try_get("min_price_cents")?,
                max_price_cents: r.try_get("max_price_cents")?,
            },
            price,
            keywords: keywords
                .split(',')
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect(),
            planned_at: r.try_get("planned_at")?,
        },
        status: decode(&r.try_get::<String, _>("status")?)?,
        published_at: r.try_get("published_at")?,
        decision: opt_decode(r.try_get("decision")?)?,
        decision_note: r.try_get("decision_note")?,
        decision_id: r.try_get("decision_id")?,
        decided_at: r.try_get("decided_at")?,
        announce_title: r.try_get("announce_title")?,
        announce_body: r.try_get("announce_body")?,
        announce_at: r.try_get("announce_at")?,
        announced_at: r.try_get("announced_at")?,
        announced_to: r.try_get("announced_to")?,
        prices_moved_at: r.try_get("prices_moved_at")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn load(conn: &mut Conn, id: i64) -> Result<Proposal> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM proposals WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound { what: "proposal" })?;
    proposal_from_row(&row)
}

/// Locks the proposal (`FOR UPDATE`, or `FOR SHARE` for customers'
/// answers) and asks the domain whether `action` may happen now
/// ([`transition`]): the status after it, or `Conflict` on the refusal's
/// field.
async fn step(conn: &mut Conn, id: i64, lock: &str, action: Action) -> Result<Status> {
    let row = sqlx::query(&format!(
        "SELECT status, announced_at FROM proposals WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound { what: "proposal" })?;
    let status: Status = decode(&row.try_get::<String, _>("status")?)?;
    let announced = row.try_get::<Option<Millis>, _>("announced_at")?.is_some();
    transition(status, announced, action).map_err(|e| match e {
        DomainError::Invalid { field, .. } | DomainError::Limit { field, .. } => {
            StoreError::Conflict { field }
        }
    })
}

/// Runs a guarded `UPDATE … WHERE id = $2 AND <not yet done>` stamping `$1`:
/// whether this transaction claimed the proposal (a re-run claims nothing).
async fn claim(conn: &mut Conn, sql: &str, id: i64, now: Millis) -> Result<bool> {
    let n = sqlx::query(sql)
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Binds a draft's columns in `COLUMNS` order from `kind` to `planned_at`.
fn bind_draft<'q>(
    q: sqlx::query::Query<'q, super::Db, <super::Db as sqlx::Database>::Arguments<'q>>,
    d: &'q ProposalDraft,
) -> sqlx::query::Query<'q, super::Db, <super::Db as sqlx::Database>::Arguments<'q>> {
    let s = &d.segment;
    let (plan, cents, currency, g, notice) = price_columns(d.price.as_ref());
    q.bind(d.kind.as_str())
        .bind(text(&d.title))
        .bind(text(&d.body))
        .bind(name_list(s.plans.iter().map(|p| p.as_str())))
        .bind(s.min_tenure_days.map(i64::from))
        .bind(s.max_tenure_days.map(i64::from))
        .bind(s.min_price_cents)
        .bind(s.max_price_cents)
        .bind(plan)
        .bind(cents)
        .bind(currency)
        .bind(g)
        .bind(notice)
        .bind(d.keywords.join(","))
        .bind(d.planned_at)
}

/// A segment's active customers (`a.id AS a`), as a `deliver` audience or
/// an `UPDATE`'s filter, binding `$1…$7` from [`bounds_binds`].
const IN_SEGMENT: &str = "a.role = 'viewer' AND a.disabled = 0 AND a.status = 'active' \
    AND (CASE a.plan WHEN 'basic' THEN $1 WHEN 'standard' THEN $2 ELSE $3 END) = 1 \
    AND a.created_at <= $4 AND a.created_at >= $5 AND a.price_cents >= $6 AND a.price_cents <= $7";

fn bounds_binds(b: &SegmentBounds) -> Vec<i64> {
    let has = |p: Plan| i64::from(b.plans.is_empty() || b.plans.contains(&p));
    vec![
        has(Plan::Basic),
        has(Plan::Standard),
        has(Plan::Premium),
        b.created_at_most,
        b.created_at_least,
        b.min_price_cents,
        b.max_price_cents,
    ]
}

fn comment_from_row(r: &DbRow) -> Result<ProposalComment> {
    Ok(ProposalComment {
        id: r.try_get("id")?,
        proposal_id: r.try_get("proposal_id")?,
        author_id: r.try_get("author_id")?,
        author_name: r.try_get("author_name")?,
        body: r.try_get("body")?,
        sentiment: decode::<Sentiment>(&r.try_get::<String, _>("sentiment")?)?,
        score: r.try_get("score")?,
        hidden: r.try_get::<i64, _>("hidden")? != 0,
        reaction: opt_decode(r.try_get("reaction")?)?,
        created_at: r.try_get("created_at")?,
    })
}

const COMMENT_SELECT: &str = "SELECT c.id, c.proposal_id, c.author_id, c.body, c.sentiment, \
    c.score, c.hidden, c.created_at, r.reaction, \
    COALESCE((SELECT p.name FROM profiles p WHERE p.account_id = c.author_id \
      ORDER BY p.id LIMIT 1), 'Member #' || c.author_id) AS author_name \
    FROM proposal_comments c \
    LEFT JOIN proposal_reactions r ON r.proposal_id = c.proposal_id AND r.account_id = c.author_id";

#[async_trait]
impl ProposalStore for Backend {
    async fn create_proposal(
        &self,
        d: &ProposalDraft,
        actor_id: i64,
        now: Millis,
    ) -> Result<Proposal> {
        let mut tx = self.begin_write().await?;
        let q = sqlx::query(
            "INSERT INTO proposals(kind, title, body, segment_plans, min_tenure_days, \
             max_tenure_days, min_price_cents, max_price_cents, price_plan, price_cents, \
             price_currency, grandfathering, notice_days, keywords, planned_at, created_by, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) \
             RETURNING id",
        );
        let id: i64 = bind_draft(q, d)
            .bind(actor_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
        let p = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(p)
    }

    async fn update_proposal(&self, id: i64, d: &ProposalDraft, now: Millis) -> Result<Proposal> {
        let mut tx = self.begin_write().await?;
        step(&mut tx, id, FOR_UPDATE, Action::Edit).await?;
        let q = sqlx::query(
            "UPDATE proposals SET kind = $1, title = $2, body = $3, segment_plans = $4, \
             min_tenure_days = $5, max_tenure_days = $6, min_price_cents = $7, \
             max_price_cents = $8, price_plan = $9, price_cents = $10, price_currency = $11, \
             grandfathering = $12, notice_days = $13, keywords = $14, planned_at = $15, \
             updated_at = $16 WHERE id = $17",
        );
        bind_draft(q, d)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let p = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(p)
    }

    async fn proposal(&self, id: i64) -> Result<Option<Proposal>> {
        let mut conn = self.read().await?;
        match load(&mut conn, id).await {
            Ok(p) => Ok(Some(p)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn proposals(&self, statuses: &[Status], limit: u32) -> Result<Vec<Proposal>> {
        let mut conn = self.read().await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM proposals WHERE ($1 = '' OR $1 LIKE '%|' || status || '|%') \
             ORDER BY updated_at DESC, id DESC LIMIT $2"
        ))
        .bind(name_list(statuses.iter().map(|s| s.as_str())))
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(proposal_from_row).collect()
    }

    async fn publish_proposal(&self, id: i64, now: Millis) -> Result<Proposal> {
        let mut tx = self.begin_write().await?;
        let to = step(&mut tx, id, FOR_UPDATE, Action::Publish).await?;
        sqlx::query(
            "UPDATE proposals SET status = $1, published_at = COALESCE(published_at, $2), \
             updated_at = $2 WHERE id = $3",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let p = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(p)
    }

    async fn account_groups(&self, now: Millis) -> Result<Vec<AccountGroup>> {
        let mut conn = self.read().await?;
        let rows = sqlx::query(
            "SELECT plan, (($1 - created_at) / 86400000) AS days, price_cents, currency, \
             COUNT(*) AS n FROM accounts \
             WHERE role = 'viewer' AND disabled = 0 AND status = 'active' \
             GROUP BY plan, (($1 - created_at) / 86400000), price_cents, currency",
        )
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AccountGroup {
                    plan: decode(&r.try_get::<String, _>("plan")?)?,
                    tenure_days: r.try_get::<i64, _>("days")?.max(0),
                    price_cents: r.try_get("price_cents")?,
                    currency: r.try_get("currency")?,
                    accounts: r.try_get("n")?,
                })
            })
            .collect()
    }

    async fn react(
        &self,
        proposal_id: i64,
        account_id: i64,
        r: &ReactionInput,
        now: Millis,
    ) -> Result<StoredReaction> {
        let mut tx = self.begin_write().await?;
        step(&mut tx, proposal_id, FOR_SHARE, Action::Answer).await?;
        let previous: Option<String> = sqlx::query_scalar(&format!(
            "SELECT reaction FROM proposal_reactions WHERE proposal_id = $1 AND account_id = $2{FOR_UPDATE}"
        ))
        .bind(proposal_id)
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO proposal_reactions(proposal_id, account_id, reaction, would_stay, plan, \
             tenure_band, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (proposal_id, account_id) DO UPDATE SET reaction = excluded.reaction, \
             would_stay = excluded.would_stay, plan = excluded.plan, \
             tenure_band = excluded.tenure_band, updated_at = excluded.updated_at",
        )
        .bind(proposal_id)
        .bind(account_id)
        .bind(r.reaction.as_str())
        .bind(r.would_stay.map(WouldStay::as_str))
        .bind(r.plan.as_str())
        .bind(r.tenure_band)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if previous.as_deref() != Some(r.reaction.as_str()) {
            sqlx::query(
                "INSERT INTO proposal_reaction_log(proposal_id, reaction, previous, at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(proposal_id)
            .bind(r.reaction.as_str())
            .bind(previous.as_deref())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO proposal_reaction_hours(proposal_id, hour, reaction, previous, n) \
                 VALUES ($1, $2, $3, $4, 1) ON CONFLICT (proposal_id, hour, reaction, previous) \
                 DO UPDATE SET n = proposal_reaction_hours.n + 1",
            )
            .bind(proposal_id)
            .bind(now.div_euclid(HOUR_MS) * HOUR_MS)
            .bind(r.reaction.as_str())
            .bind(previous.as_deref().unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(StoredReaction {
            reaction: r.reaction,
            would_stay: r.would_stay,
            updated_at: now,
        })
    }

    async fn reaction_of(
        &self,
        proposal_id: i64,
        account_id: i64,
    ) -> Result<Option<StoredReaction>> {
        let mut conn = self.read().await?;
        let row = sqlx::query(
            "SELECT reaction, would_stay, updated_at FROM proposal_reactions \
             WHERE proposal_id = $1 AND account_id = $2",
        )
        .bind(proposal_id)
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|r| {
            Ok(StoredReaction {
                reaction: decode(&r.try_get::<String, _>("reaction")?)?,
                would_stay: opt_decode(r.try_get("would_stay")?)?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .transpose()
    }

    async fn add_proposal_comment(
        &self,
        c: &NewComment<'_>,
        now: Millis,
    ) -> Result<ProposalComment> {
        let mut tx = self.begin_write().await?;
        check_posting_limit(&mut tx, "proposal_comments", c.author_id, c.limit, now).await?;
        step(&mut tx, c.proposal_id, FOR_SHARE, Action::Answer).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO proposal_comments(proposal_id, author_id, body, sentiment, score, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(c.proposal_id)
        .bind(c.author_id)
        .bind(text(c.body))
        .bind(c.sentiment.as_str())
        .bind(c.score)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let row = sqlx::query(&format!("{COMMENT_SELECT} WHERE c.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let out = comment_from_row(&row)?;
        tx.commit().await?;
        Ok(out)
    }

    async fn proposal_comments(
        &self,
        proposal_id: i64,
        include_hidden: bool,
        limit: u32,
    ) -> Result<Vec<ProposalComment>> {
        let mut conn = self.read().await?;
        let rows = sqlx::query(&format!(
            "{COMMENT_SELECT} WHERE c.proposal_id = $1 AND ($2 = 1 OR c.hidden = 0) \
             ORDER BY c.created_at DESC, c.id DESC LIMIT $3"
        ))
        .bind(proposal_id)
        .bind(i64::from(include_hidden))
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(comment_from_row).collect()
    }

    async fn proposal_comment_texts(
        &self,
        proposal_id: i64,
        sentiment: Sentiment,
        limit: u32,
    ) -> Result<Vec<String>> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_scalar(
            "SELECT body FROM proposal_comments WHERE proposal_id = $1 AND sentiment = $2 \
             AND hidden = 0 ORDER BY created_at DESC, id DESC LIMIT $3",
        )
        .bind(proposal_id)
        .bind(sentiment.as_str())
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?)
    }

    async fn set_proposal_comment_hidden(&self, comment_id: i64, hidden: bool) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let pid: i64 = sqlx::query_scalar(
            "UPDATE proposal_comments SET hidden = $1 WHERE id = $2 RETURNING proposal_id",
        )
        .bind(i64::from(hidden))
        .bind(comment_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound { what: "comment" })?;
        tx.commit().await?;
        Ok(pid)
    }

    async fn consultation(
        &self,
        proposal_id: i64,
        from: Millis,
        bucket_ms: i64,
    ) -> Result<ConsultationFigures> {
        let mut conn = self.read().await?;
        let bucket_ms = bucket_ms.max(1);
        // Kept per hour: `from` counts from its hour's start.
        let rows = sqlx::query(
            "SELECT (hour - $2) / $3 AS b, reaction, previous, CAST(SUM(n) AS BIGINT) AS n \
             FROM proposal_reaction_hours WHERE proposal_id = $1 AND hour >= $4 \
             GROUP BY (hour - $2) / $3, reaction, previous ORDER BY 1",
        )
        .bind(proposal_id)
        .bind(from)
        .bind(bucket_ms)
        .bind(from.div_euclid(HOUR_MS) * HOUR_MS)
        .fetch_all(&mut *conn)
        .await?;
        let steps = rows
            .iter()
            .map(|r| {
                Ok(ReactionStep {
                    bucket: r.try_get("b")?,
                    reaction: decode(&r.try_get::<String, _>("reaction")?)?,
                    previous: opt_decode(
                        Some(r.try_get::<String, _>("previous")?).filter(|p| !p.is_empty()),
                    )?,
                    count: r.try_get("n")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query(
            "SELECT plan, tenure_band, would_stay, reaction, COUNT(*) AS n \
             FROM proposal_reactions WHERE proposal_id = $1 \
             GROUP BY plan, tenure_band, would_stay, reaction",
        )
        .bind(proposal_id)
        .fetch_all(&mut *conn)
        .await?;
        let stay = rows
            .iter()
            .map(|r| {
                Ok(StayCount {
                    plan: decode(&r.try_get::<String, _>("plan")?)?,
                    tenure_band: r.try_get("tenure_band")?,
                    would_stay: opt_decode(r.try_get("would_stay")?)?,
                    reaction: decode(&r.try_get::<String, _>("reaction")?)?,
                    count: r.try_get("n")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query(
            "SELECT sentiment, COUNT(*) AS n, COALESCE(SUM(score), 0) AS s \
             FROM proposal_comments WHERE proposal_id = $1 AND hidden = 0 GROUP BY sentiment",
        )
        .bind(proposal_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut comment_sentiment = [0i64; 3];
        let mut comment_score_sum = 0.0;
        for r in &rows {
            let s: Sentiment = decode(&r.try_get::<String, _>("sentiment")?)?;
            let i = match s {
                Sentiment::Negative => 0,
                Sentiment::Neutral => 1,
                Sentiment::Positive => 2,
            };
            comment_sentiment[i] = r.try_get("n")?;
            comment_score_sum += r.try_get::<f64, _>("s")?;
        }
        Ok(ConsultationFigures {
            steps,
            stay,
            comment_sentiment,
            comment_score_sum,
        })
    }

    async fn decide_proposal(
        &self,
        id: i64,
        decision: Decision,
        note: &str,
        evidence: &[Evidence],
        actor_id: i64,
        now: Millis,
    ) -> Result<Proposal> {
        let mut tx = self.begin_write().await?;
        let to = step(&mut tx, id, FOR_UPDATE, Action::Decide(decision)).await?;
        let p = load(&mut tx, id).await?;
        let title = format!("{}: {}", decision.headline(), p.draft.title);
        let decision_id =
            record_decision(&mut tx, &title, note, evidence, actor_id, Some(id), now).await?;
        if let (Decision::Ship, Some(price)) = (decision, &p.draft.price) {
            insert_plan_price(
                &mut tx,
                price.plan,
                &price.price,
                p.draft.planned_at.max(now),
                Some(actor_id),
                now,
            )
            .await?;
        }
        sqlx::query(
            "UPDATE proposals SET status = $1, decision = $2, decision_note = $3, \
             decision_id = $4, decided_at = $5, updated_at = $5 WHERE id = $6",
        )
        .bind(to.as_str())
        .bind(decision.as_str())
        .bind(text(note))
        .bind(decision_id)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let p = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(p)
    }

    async fn schedule_announcement(
        &self,
        id: i64,
        title: &str,
        body: &str,
        at: Millis,
        now: Millis,
    ) -> Result<Proposal> {
        let mut tx = self.begin_write().await?;
        step(&mut tx, id, FOR_UPDATE, Action::Announce).await?;
        sqlx::query(
            "UPDATE proposals SET announce_title = $1, announce_body = $2, announce_at = $3, \
             updated_at = $4 WHERE id = $5",
        )
        .bind(text(title))
        .bind(text(body))
        .bind(at)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let p = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(p)
    }

    async fn due_announcements(&self, now: Millis) -> Result<Vec<i64>> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_scalar(
            "SELECT id FROM proposals WHERE announced_at IS NULL AND announce_at <= $1 \
             AND status IN ('shipped', 'withdrawn') ORDER BY announce_at, id",
        )
        .bind(now)
        .fetch_all(&mut *conn)
        .await?)
    }

    async fn send_announcement(
        &self,
        id: i64,
        bounds: &SegmentBounds,
        now: Millis,
    ) -> Result<Option<u64>> {
        let mut tx = self.begin_write().await?;
        // The claim: a second scheduler (or a re-run) finds nothing to send.
        if !claim(
            &mut tx,
            "UPDATE proposals SET announced_at = $1 WHERE id = $2 AND announced_at IS NULL \
             AND announce_at <= $1 AND status IN ('shipped', 'withdrawn')",
            id,
            now,
        )
        .await?
        {
            return Ok(None);
        }
        let p = load(&mut tx, id).await?;
        let title = p
            .announce_title
            .clone()
            .unwrap_or_else(|| p.draft.title.clone());
        let link = format!("/changes/{id}");
        let sent = deliver(
            &mut tx,
            &format!("SELECT a.id AS a FROM accounts a WHERE {IN_SEGMENT}"),
            &bounds_binds(bounds),
            &Note {
                kind: "announcement",
                message: &title,
                link: &link,
            },
            now,
        )
        .await?;
        sqlx::query("UPDATE proposals SET announced_to = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::try_from(sent).unwrap_or(i64::MAX))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(sent))
    }

    async fn pending_price_moves(&self) -> Result<Vec<i64>> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_scalar(
            "SELECT id FROM proposals WHERE status = 'shipped' AND kind = 'price' \
             AND grandfathering = 'after_notice' AND prices_moved_at IS NULL ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await?)
    }

    async fn move_existing_prices(
        &self,
        id: i64,
        bounds: &SegmentBounds,
        now: Millis,
    ) -> Result<Option<u64>> {
        // Accounts' prices move: caches of account figures go.
        let _changed = self.changes.on_return(crate::changes::Bump::Auth);
        let mut tx = self.begin_write().await?;
        if !claim(
            &mut tx,
            "UPDATE proposals SET prices_moved_at = $1, updated_at = $1 WHERE id = $2 \
             AND prices_moved_at IS NULL AND status = 'shipped' AND kind = 'price'",
            id,
            now,
        )
        .await?
        {
            return Ok(None);
        }
        let p = load(&mut tx, id).await?;
        let Some(price) = p.draft.price else {
            return Ok(None);
        };
        let sql = format!(
            "UPDATE accounts SET price_cents = $8 WHERE id IN (SELECT a.id FROM accounts a \
             WHERE {IN_SEGMENT} AND a.plan = $9 AND a.currency = $10 AND a.price_cents <> $8)"
        );
        let mut q = sqlx::query(&sql);
        for b in bounds_binds(bounds) {
            q = q.bind(b);
        }
        let moved = q
            .bind(price.price.amount_cents)
            .bind(price.plan.as_str())
            .bind(&price.price.currency)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Some(moved))
    }

    async fn idea_votes_per_day(&self, from: Millis, to: Millis) -> Result<Vec<(Millis, i64)>> {
        let mut conn = self.read().await?;
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT (created_at / 86400000) * 86400000 AS d, COUNT(*) AS n FROM idea_votes \
             WHERE created_at >= $1 AND created_at < $2 GROUP BY (created_at / 86400000) \
             ORDER BY 1",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows)
    }
}

type PriceColumns<'a> = (
    Option<&'a str>,
    Option<i64>,
    Option<&'a str>,
    Option<&'static str>,
    Option<i64>,
);

fn price_columns(p: Option<&PriceChange>) -> PriceColumns<'_> {
    match p {
        Some(p) => (
            Some(p.plan.as_str()),
            Some(p.price.amount_cents),
            Some(p.price.currency.as_str()),
            Some(p.grandfathering.mode()),
            p.grandfathering.notice_days().map(i64::from),
        ),
        None => (None, None, None, None, None),
    }
}
