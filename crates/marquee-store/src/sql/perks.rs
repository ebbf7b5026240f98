//! [`PerksStore`], written once for both backends (see `sqlite/mod.rs` for
//! the dialect seam this file is compiled against).
//!
//! An award takes a per-rule lock ([`lock_pair`]: an advisory lock on
//! PostgreSQL, `BEGIN IMMEDIATE` on SQLite) before it reads the rule's
//! spend, so concurrent awards (from any instance) never overspend a budget;
//! `UNIQUE (rule_id, event_id)` with `ON CONFLICT DO NOTHING` pays an event
//! once. Whether an award fits the budget, and what it costs and gives, is
//! [`decide_award`]'s to say.

use super::notify::{deliver, Note};
use super::{lock_pair, text, Backend, Conn, FOR_NO_KEY_UPDATE};
use crate::perks::{
    AuditEntry, AwardOutcome, DaySpend, NewPerkEvent, PerkAward, PerkRule, PerkSpend, PerksStore,
    ReferralOutcome, RuleSpend, ShareSettings,
};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::perks::{
    anniversaries_reached, anniversary_at, canonical_email, decide_award, period_start,
    AwardDecision, EffectKind, Facts, RuleSpec, TriggerEvent, TriggerKind, Usage, DAY_MS,
};
use marquee_domain::{Millis, Plan};
use std::str::FromStr;

fn decode<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(e.to_string().into()))
}

/// Namespace of the per-rule locks (the two-key form, so they never meet the
/// support chat's one-key lock).
const RULE_LOCK_SPACE: i32 = 0x5045_524B; // "PERK"

const RULE_COLS: &str = "id, spec, enabled, created_at, updated_at";

/// A `perk_rules` row.
#[derive(sqlx::FromRow)]
struct RuleRow {
    id: i64,
    spec: String,
    enabled: i64,
    created_at: Millis,
    updated_at: Millis,
}

impl RuleRow {
    fn into_rule(self) -> Result<PerkRule> {
        let mut spec: RuleSpec = serde_json::from_str(&self.spec).map_err(decode)?;
        spec.enabled = self.enabled != 0;
        Ok(PerkRule {
            id: self.id,
            spec,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const EVENT_COLS: &str =
    "id, kind, account_id, profile_id, key, occurred_at, name, series_id, years, subject_id";

/// A `perk_events` row ([`EVENT_COLS`]).
#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    kind: String,
    account_id: i64,
    profile_id: i64,
    key: String,
    occurred_at: Millis,
    name: Option<String>,
    series_id: Option<i64>,
    years: Option<i64>,
    subject_id: Option<i64>,
}

impl EventRow {
    fn into_event(self) -> Result<TriggerEvent> {
        Ok(TriggerEvent {
            id: self.id,
            kind: TriggerKind::from_str(&self.kind).map_err(decode)?,
            account_id: self.account_id,
            profile_id: self.profile_id,
            key: self.key,
            occurred_at: self.occurred_at,
            name: self.name,
            series_id: self.series_id,
            years: self.years,
            subject_id: self.subject_id,
        })
    }
}

const AWARD_COLS: &str = "a.id, a.rule_id, a.event_id, a.account_id, a.profile_id, a.kind, \
     a.amount_cents, a.cost_cents, a.badge, a.feature, a.message, a.headline, a.occurred_at, \
     a.created_at, a.revealed_at, e.kind AS reason";

/// A `perk_awards` row with its event's kind ([`AWARD_COLS`]).
#[derive(sqlx::FromRow)]
struct AwardRow {
    id: i64,
    rule_id: i64,
    event_id: i64,
    account_id: i64,
    profile_id: i64,
    kind: String,
    amount_cents: i64,
    cost_cents: i64,
    badge: Option<String>,
    feature: Option<String>,
    message: Option<String>,
    headline: String,
    reason: String,
    occurred_at: Millis,
    created_at: Millis,
    revealed_at: Option<Millis>,
}

impl AwardRow {
    fn into_award(self) -> Result<PerkAward> {
        Ok(PerkAward {
            id: self.id,
            rule_id: self.rule_id,
            event_id: self.event_id,
            account_id: self.account_id,
            profile_id: self.profile_id,
            kind: EffectKind::from_str(&self.kind).map_err(decode)?,
            amount_cents: self.amount_cents,
            cost_cents: self.cost_cents,
            badge: self.badge,
            feature: self.feature,
            message: self.message,
            headline: self.headline,
            reason: TriggerKind::from_str(&self.reason).map_err(decode)?,
            occurred_at: self.occurred_at,
            created_at: self.created_at,
            revealed_at: self.revealed_at,
        })
    }
}

/// A `perk_audit` row.
#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: Millis,
    action: String,
    rule_id: Option<i64>,
    event_id: Option<i64>,
    award_id: Option<i64>,
    account_id: Option<i64>,
    actor_id: Option<i64>,
    cost_cents: i64,
    detail: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            at: r.at,
            action: r.action,
            rule_id: r.rule_id,
            event_id: r.event_id,
            award_id: r.award_id,
            account_id: r.account_id,
            actor_id: r.actor_id,
            cost_cents: r.cost_cents,
            detail: r.detail,
        }
    }
}

async fn award_by_id(conn: &mut Conn, id: i64) -> Result<Option<PerkAward>> {
    sqlx::query_as::<_, AwardRow>(&format!(
        "SELECT {AWARD_COLS} FROM perk_awards a JOIN perk_events e ON e.id = a.event_id WHERE a.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .map(AwardRow::into_award)
    .transpose()
}

#[allow(clippy::too_many_arguments)]
async fn audit_in(
    conn: &mut Conn,
    at: Millis,
    action: &str,
    rule_id: Option<i64>,
    event_id: Option<i64>,
    award_id: Option<i64>,
    account_id: Option<i64>,
    actor_id: Option<i64>,
    cost_cents: i64,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO perk_audit(at, action, rule_id, event_id, award_id, account_id, actor_id, cost_cents, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(at)
    .bind(action)
    .bind(rule_id)
    .bind(event_id)
    .bind(award_id)
    .bind(account_id)
    .bind(actor_id)
    .bind(cost_cents)
    .bind(text(detail))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Logs an event on the caller's connection; `None` when its key exists.
pub(super) async fn insert_event_in(
    conn: &mut Conn,
    ev: &NewPerkEvent,
    now: Millis,
) -> Result<Option<i64>> {
    let profile_id: i64 = match ev.profile_id {
        Some(p) => {
            let owner: Option<i64> =
                sqlx::query_scalar("SELECT account_id FROM profiles WHERE id = $1")
                    .bind(p)
                    .fetch_optional(&mut *conn)
                    .await?;
            if owner != Some(ev.account_id) {
                return Err(StoreError::NotFound { what: "profile" });
            }
            p
        }
        None => sqlx::query_scalar(
            "SELECT id FROM profiles WHERE account_id = $1 ORDER BY created_at, id LIMIT 1",
        )
        .bind(ev.account_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound { what: "account" })?,
    };
    // Looked up first: a re-scan of a logged event must not take the write lock.
    let seen: bool = sqlx::query_scalar("SELECT EXISTS(SELECT 1 FROM perk_events WHERE key = $1)")
        .bind(text(&ev.key))
        .fetch_one(&mut *conn)
        .await?;
    if seen {
        return Ok(None);
    }
    Ok(sqlx::query_scalar(
        "INSERT INTO perk_events(kind, account_id, profile_id, key, occurred_at, name, series_id, years, subject_id, data, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT(key) DO NOTHING RETURNING id",
    )
    .bind(ev.kind.as_str())
    .bind(ev.account_id)
    .bind(profile_id)
    .bind(text(&ev.key))
    .bind(ev.occurred_at)
    .bind(ev.name.as_deref().map(text))
    .bind(ev.series_id)
    .bind(ev.years)
    .bind(ev.subject_id)
    .bind(text(&ev.data))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?)
}

async fn cursor(conn: &mut Conn, name: &str) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT cursor FROM perk_cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or(i64::MIN),
    )
}

async fn set_cursor(conn: &mut Conn, name: &str, value: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO perk_cursors(name, cursor) VALUES ($1, $2) \
         ON CONFLICT(name) DO UPDATE SET cursor = excluded.cursor",
    )
    .bind(name)
    .bind(value)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn new_event(kind: TriggerKind, account_id: i64, key: String, at: Millis) -> NewPerkEvent {
    NewPerkEvent {
        kind,
        account_id,
        profile_id: None,
        key,
        occurred_at: at,
        name: None,
        series_id: None,
        years: None,
        subject_id: None,
        data: "{}".into(),
    }
}

/// Anniversaries are looked for at most this often.
const ANNIVERSARY_SCAN_MS: i64 = 3_600_000;

impl Backend {
    /// Series whose every episode the profile streamed to the end (90 % of
    /// the runtime, by the server's play sessions: a hand-set "played" mark
    /// does not count), among series with playback changes since the cursor.
    async fn collect_series_finished(&self, conn: &mut Conn, now: Millis) -> Result<u64> {
        let since = cursor(conn, "series_finished").await?;
        let rows: Vec<(i64, i64, i64, Millis)> = sqlx::query_as(
            "SELECT ps.profile_id, ps.series_id, p.account_id, MAX(ps.updated_at) AS upd \
             FROM playback_state ps JOIN profiles p ON p.id = ps.profile_id \
             WHERE ps.series_id IS NOT NULL AND ps.played = 1 AND ps.updated_at >= $1 \
             GROUP BY ps.profile_id, ps.series_id, p.account_id",
        )
        .bind(since)
        .fetch_all(&mut *conn)
        .await?;
        let mut new = 0;
        let mut max_upd = since;
        for (profile_id, series_id, account_id, upd) in rows {
            max_upd = max_upd.max(upd);
            let (total, finished, at): (i64, i64, Option<Millis>) = sqlx::query_as(
                "SELECT COUNT(*) AS total, \
                   COUNT(CASE WHEN EXISTS(SELECT 1 FROM play_sessions s WHERE s.profile_id = $1 \
                     AND s.title_id = e.id AND s.position_ms * 10 >= s.duration_ms * 9) THEN 1 END) AS done, \
                   (SELECT MAX(s.last_event_at) FROM play_sessions s JOIN titles e2 ON e2.id = s.title_id \
                     WHERE s.profile_id = $1 AND e2.series_id = $2) AS at \
                 FROM titles e WHERE e.series_id = $2 AND e.kind = 'episode'",
            )
            .bind(profile_id)
            .bind(series_id)
            .fetch_one(&mut *conn)
            .await?;
            let Some(at) = at else {
                continue;
            };
            if total > 0 && finished == total {
                let mut ev = new_event(
                    TriggerKind::SeriesFinished,
                    account_id,
                    format!("series_finished:{profile_id}:{series_id}"),
                    at,
                );
                ev.profile_id = Some(profile_id);
                ev.series_id = Some(series_id);
                ev.subject_id = Some(series_id);
                if insert_event_in(conn, &ev, now).await?.is_some() {
                    new += 1;
                }
            }
        }
        if max_upd != since {
            set_cursor(conn, "series_finished", max_upd).await?;
        }
        Ok(new)
    }

    async fn collect_ideas_launched(&self, conn: &mut Conn, now: Millis) -> Result<u64> {
        let since = cursor(conn, "idea_launched").await?;
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM idea_status_changes")
            .fetch_one(&mut *conn)
            .await?;
        let Some(max) = max.filter(|m| *m > since) else {
            return Ok(0);
        };
        let rows: Vec<(i64, Millis, i64)> = sqlx::query_as(
            "SELECT c.idea_id, c.created_at, i.author_id FROM idea_status_changes c \
             JOIN ideas i ON i.id = c.idea_id \
             WHERE c.id > $1 AND c.id <= $2 AND c.to_status = 'launched' ORDER BY c.id",
        )
        .bind(since)
        .bind(max)
        .fetch_all(&mut *conn)
        .await?;
        let mut new = 0;
        for (idea_id, created_at, author_id) in rows {
            let mut ev = new_event(
                TriggerKind::IdeaLaunched,
                author_id,
                format!("idea_launched:{idea_id}"),
                created_at,
            );
            ev.subject_id = Some(idea_id);
            match insert_event_in(conn, &ev, now).await {
                Ok(Some(_)) => new += 1,
                Ok(None) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        set_cursor(conn, "idea_launched", max).await?;
        Ok(new)
    }

    async fn collect_anniversaries(&self, conn: &mut Conn, now: Millis) -> Result<u64> {
        let last = cursor(conn, "anniversary_scan").await?;
        if last != i64::MIN && now >= last && now - last < ANNIVERSARY_SCAN_MS {
            return Ok(0);
        }
        let rows: Vec<(i64, Millis)> = sqlx::query_as(
            "SELECT id, created_at FROM accounts WHERE role = 'viewer' AND created_at <= $1",
        )
        .bind(now - 365 * DAY_MS + 2 * DAY_MS)
        .fetch_all(&mut *conn)
        .await?;
        let mut new = 0;
        for (id, created) in rows {
            let n = anniversaries_reached(created, now);
            if n < 1 {
                continue;
            }
            let mut ev = new_event(
                TriggerKind::Anniversary,
                id,
                format!("anniversary:{id}:{n}"),
                anniversary_at(created, n),
            );
            ev.years = Some(n);
            match insert_event_in(conn, &ev, now).await {
                Ok(Some(_)) => new += 1,
                Ok(None) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        set_cursor(conn, "anniversary_scan", now).await?;
        Ok(new)
    }

    async fn share_in(conn: &mut Conn, account_id: i64) -> Result<ShareSettings> {
        let row: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT enabled, referral_code FROM share_settings WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?;
        let converted: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM referrals WHERE referrer_id = $1 AND status = 'converted'",
        )
        .bind(account_id)
        .fetch_one(&mut *conn)
        .await?;
        let (enabled, referral_code) = row.unwrap_or((0, None));
        Ok(ShareSettings {
            enabled: enabled != 0,
            referral_code,
            converted,
        })
    }
}

#[async_trait]
impl PerksStore for Backend {
    async fn create_perk_rule(
        &self,
        spec: &RuleSpec,
        actor_id: i64,
        now: Millis,
    ) -> Result<PerkRule> {
        let json = serde_json::to_string(spec).map_err(decode)?;
        let mut tx = self.begin_write().await?;
        let rule = sqlx::query_as::<_, RuleRow>(&format!(
            "INSERT INTO perk_rules(name, spec, enabled, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {RULE_COLS}"
        ))
        .bind(&spec.name)
        .bind(&json)
        .bind(i64::from(spec.enabled))
        .bind(actor_id)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .into_rule()?;
        audit_in(
            &mut tx,
            now,
            "rule_created",
            Some(rule.id),
            None,
            None,
            None,
            Some(actor_id),
            0,
            &json,
        )
        .await?;
        tx.commit().await?;
        Ok(rule)
    }

    async fn update_perk_rule(
        &self,
        id: i64,
        spec: &RuleSpec,
        actor_id: i64,
        now: Millis,
    ) -> Result<PerkRule> {
        let json = serde_json::to_string(spec).map_err(decode)?;
        let mut tx = self.begin_write().await?;
        let rule = sqlx::query_as::<_, RuleRow>(&format!(
            "UPDATE perk_rules SET name = $1, spec = $2, enabled = $3, updated_at = $4 WHERE id = $5 \
             RETURNING {RULE_COLS}"
        ))
        .bind(&spec.name)
        .bind(&json)
        .bind(i64::from(spec.enabled))
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound { what: "rule" })?
        .into_rule()?;
        audit_in(
            &mut tx,
            now,
            "rule_updated",
            Some(id),
            None,
            None,
            None,
            Some(actor_id),
            0,
            &json,
        )
        .await?;
        tx.commit().await?;
        Ok(rule)
    }

    async fn perk_rules(&self) -> Result<Vec<PerkRule>> {
        let mut conn = self.read().await?;
        sqlx::query_as::<_, RuleRow>(&format!("SELECT {RULE_COLS} FROM perk_rules ORDER BY id"))
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(RuleRow::into_rule)
            .collect()
    }

    async fn perk_rule(&self, id: i64) -> Result<Option<PerkRule>> {
        let mut conn = self.read().await?;
        sqlx::query_as::<_, RuleRow>(&format!("SELECT {RULE_COLS} FROM perk_rules WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .map(RuleRow::into_rule)
            .transpose()
    }

    async fn record_perk_event(&self, ev: &NewPerkEvent, now: Millis) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let id = insert_event_in(&mut tx, ev, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn collect_perk_events(&self, now: Millis) -> Result<u64> {
        // No enclosing transaction: an idle pass only reads, so the
        // evaluator never holds the write lock while there is nothing to
        // log. Each insert commits on its own; keys make a re-scan after a
        // crash between an insert and its cursor harmless.
        let mut conn = self.read().await?;
        let mut n = self.collect_series_finished(&mut conn, now).await?;
        n += self.collect_ideas_launched(&mut conn, now).await?;
        n += self.collect_anniversaries(&mut conn, now).await?;
        Ok(n)
    }

    async fn pending_perk_events(&self, limit: u32) -> Result<Vec<TriggerEvent>> {
        let mut conn = self.read().await?;
        sqlx::query_as::<_, EventRow>(&format!(
            "SELECT {EVENT_COLS} FROM perk_events WHERE processed_at IS NULL ORDER BY id LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(EventRow::into_event)
        .collect()
    }

    async fn perk_events_between(
        &self,
        from: Millis,
        to: Millis,
        limit: u32,
    ) -> Result<Vec<TriggerEvent>> {
        let mut conn = self.read().await?;
        sqlx::query_as::<_, EventRow>(&format!(
            "SELECT {EVENT_COLS} FROM perk_events WHERE occurred_at >= $1 AND occurred_at < $2 \
             ORDER BY occurred_at, id LIMIT $3"
        ))
        .bind(from)
        .bind(to)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(EventRow::into_event)
        .collect()
    }

    async fn finish_perk_event(&self, id: i64, now: Millis) -> Result<()> {
        let mut conn = self.read().await?;
        sqlx::query(
            "UPDATE perk_events SET processed_at = $1 WHERE id = $2 AND processed_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn perk_facts(
        &self,
        account_id: i64,
        profile_id: i64,
        at: Millis,
        genres: &[String],
    ) -> Result<Facts> {
        let mut conn = self.read().await?;
        let (plan, account_created_at): (String, Millis) =
            sqlx::query_as("SELECT plan, created_at FROM accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(StoreError::NotFound { what: "account" })?;
        const FINISHED: &str =
            "SELECT title_id FROM playback_state WHERE profile_id = $1 AND played = 1 \
               AND last_played_at <= $2 \
             UNION SELECT title_id FROM watch_history WHERE profile_id = $1 AND watched_at <= $2";
        let titles_finished: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM ({FINISHED}) f"))
                .bind(profile_id)
                .bind(at)
                .fetch_one(&mut *conn)
                .await?;
        let mut genre_finished = std::collections::HashMap::new();
        for g in genres {
            let n: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM ({FINISHED}) f JOIN titles t ON t.id = f.title_id \
                 WHERE EXISTS (SELECT 1 FROM title_genres tg JOIN genres gn ON gn.id = tg.genre_id \
                   WHERE tg.title_id = COALESCE(t.series_id, t.id) AND gn.name = $3)"
            ))
            .bind(profile_id)
            .bind(at)
            .bind(g)
            .fetch_one(&mut *conn)
            .await?;
            genre_finished.insert(g.clone(), n);
        }
        let sentiment: Option<f64> = sqlx::query_scalar(
            "SELECT AVG(score) FROM posts WHERE account_id = $1 AND created_at <= $2 AND created_at > $3",
        )
        .bind(account_id)
        .bind(at)
        .bind(at - 90 * DAY_MS)
        .fetch_one(&mut *conn)
        .await?;
        Ok(Facts {
            plan: Plan::from_str(&plan).ok(),
            account_created_at,
            titles_finished,
            genre_finished,
            sentiment,
        })
    }

    async fn award_perk(
        &self,
        rule: &PerkRule,
        ev: &TriggerEvent,
        now: Millis,
    ) -> Result<AwardOutcome> {
        let spec = &rule.spec;
        let mut tx = self.begin_write().await?;
        // One award of a rule at a time, on every instance: its budget is
        // read and spent under this lock.
        lock_pair(&mut tx, RULE_LOCK_SPACE, rule.id).await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM perk_awards WHERE rule_id = $1 AND event_id = $2")
                .bind(rule.id)
                .bind(ev.id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_some() {
            return Ok(AwardOutcome::Duplicate);
        }
        let (global_cents, global_awards): (i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(cost_cents), 0) AS BIGINT), COUNT(*) FROM perk_awards WHERE rule_id = $1",
        )
        .bind(rule.id)
        .fetch_one(&mut *tx)
        .await?;
        let profile_awards: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM perk_awards WHERE rule_id = $1 AND profile_id = $2 AND occurred_at > $3",
        )
        .bind(rule.id)
        .bind(ev.profile_id)
        .bind(period_start(&spec.budget, ev.occurred_at))
        .fetch_one(&mut *tx)
        .await?;
        let usage = Usage {
            global_cents,
            global_awards,
            profile_awards,
        };
        let plan = match decide_award(spec, &usage) {
            AwardDecision::Award(plan) => plan,
            AwardDecision::Refuse { verdict, detail } => {
                audit_in(
                    &mut tx,
                    now,
                    verdict.as_str(),
                    Some(rule.id),
                    Some(ev.id),
                    None,
                    Some(ev.account_id),
                    None,
                    0,
                    &detail,
                )
                .await?;
                tx.commit().await?;
                return Ok(AwardOutcome::Refused(verdict));
            }
        };
        let e = &spec.effect;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO perk_awards(rule_id, event_id, account_id, profile_id, kind, amount_cents, cost_cents, \
               badge, feature, message, headline, occurred_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (rule_id, event_id) DO NOTHING RETURNING id",
        )
        .bind(rule.id)
        .bind(ev.id)
        .bind(ev.account_id)
        .bind(ev.profile_id)
        .bind(e.kind.as_str())
        .bind(plan.amount_cents)
        .bind(plan.cost_cents)
        .bind(&e.badge)
        .bind(&e.feature)
        .bind(&e.message)
        .bind(&plan.headline)
        .bind(ev.occurred_at)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(AwardOutcome::Duplicate);
        };
        audit_in(
            &mut tx,
            now,
            "awarded",
            Some(rule.id),
            Some(ev.id),
            Some(id),
            Some(ev.account_id),
            None,
            plan.cost_cents,
            &format!("{}: {} for {}", spec.name, plan.headline, ev.key),
        )
        .await?;
        deliver(
            &mut tx,
            "SELECT a.id AS a FROM accounts a WHERE a.id = $1",
            &[ev.account_id],
            &Note {
                kind: "perk",
                message: "A surprise is waiting for you",
                link: "/perks",
            },
            now,
        )
        .await?;
        let award = award_by_id(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound { what: "award" })?;
        tx.commit().await?;
        Ok(AwardOutcome::Awarded(award))
    }

    async fn profile_awards(&self, profile_id: i64, limit: u32) -> Result<Vec<PerkAward>> {
        let mut conn = self.read().await?;
        sqlx::query_as::<_, AwardRow>(&format!(
            "SELECT {AWARD_COLS} FROM perk_awards a JOIN perk_events e ON e.id = a.event_id \
             WHERE a.profile_id = $1 ORDER BY a.created_at DESC, a.id DESC LIMIT $2"
        ))
        .bind(profile_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(AwardRow::into_award)
        .collect()
    }

    async fn reveal_award(&self, profile_id: i64, award_id: i64, now: Millis) -> Result<PerkAward> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE perk_awards SET revealed_at = COALESCE(revealed_at, $1) WHERE id = $2 AND profile_id = $3",
        )
        .bind(now)
        .bind(award_id)
        .bind(profile_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound { what: "perk" });
        }
        let a = award_by_id(&mut tx, award_id)
            .await?
            .ok_or(StoreError::NotFound { what: "perk" })?;
        tx.commit().await?;
        Ok(a)
    }

    async fn credit_balance(&self, account_id: i64) -> Result<i64> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT) FROM perk_awards \
             WHERE account_id = $1 AND kind = 'credit'",
        )
        .bind(account_id)
        .fetch_one(&mut *conn)
        .await?)
    }

    async fn early_access(&self, account_id: i64) -> Result<Vec<String>> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT feature FROM perk_awards WHERE account_id = $1 AND kind = 'early_access' \
             AND feature IS NOT NULL ORDER BY feature",
        )
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?)
    }

    async fn perk_audit(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT id, at, action, rule_id, event_id, award_id, account_id, actor_id, cost_cents, detail \
             FROM perk_audit ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(AuditEntry::from)
        .collect())
    }

    async fn perk_spend(&self, since: Millis) -> Result<PerkSpend> {
        let mut conn = self.read().await?;
        let (total_cents, total_awards, window_cents, window_awards): (i64, i64, i64, i64) =
            sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(cost_cents), 0) AS BIGINT), COUNT(*), \
                   CAST(COALESCE(SUM(CASE WHEN created_at >= $1 THEN cost_cents END), 0) AS BIGINT), \
                   COUNT(CASE WHEN created_at >= $1 THEN 1 END) FROM perk_awards",
            )
            .bind(since)
            .fetch_one(&mut *conn)
            .await?;
        let by_rule = sqlx::query_as::<_, (i64, String, i64, i64)>(
            "SELECT r.id, r.name, COUNT(a.id) AS n, CAST(COALESCE(SUM(a.cost_cents), 0) AS BIGINT) AS c \
             FROM perk_rules r JOIN perk_awards a ON a.rule_id = r.id \
             GROUP BY r.id ORDER BY c DESC, n DESC LIMIT 20",
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|(rule_id, name, awards, cents)| RuleSpend {
            rule_id,
            name,
            awards,
            cents,
        })
        .collect();
        let by_day = sqlx::query_as::<_, (Millis, i64, i64)>(
            "SELECT (created_at / $1) * $1 AS d, COUNT(*) AS n, CAST(SUM(cost_cents) AS BIGINT) AS c \
             FROM perk_awards WHERE created_at >= $2 GROUP BY d ORDER BY d",
        )
        .bind(DAY_MS)
        .bind(since)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|(day, awards, cents)| DaySpend { day, awards, cents })
        .collect();
        Ok(PerkSpend {
            total_cents,
            total_awards,
            window_cents,
            window_awards,
            by_rule,
            by_day,
        })
    }

    async fn share_settings(&self, account_id: i64) -> Result<ShareSettings> {
        let mut conn = self.read().await?;
        Self::share_in(&mut conn, account_id).await
    }

    async fn set_sharing(
        &self,
        account_id: i64,
        enabled: bool,
        new_code: &str,
        now: Millis,
    ) -> Result<ShareSettings> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO share_settings(account_id, enabled, referral_code, updated_at) VALUES ($1, $2, \
               CASE WHEN $2 = 1 THEN $3 END, $4) \
             ON CONFLICT(account_id) DO UPDATE SET enabled = excluded.enabled, \
               referral_code = COALESCE(share_settings.referral_code, excluded.referral_code), \
               updated_at = excluded.updated_at",
        )
        .bind(account_id)
        .bind(i64::from(enabled))
        .bind(new_code)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| super::unique_to_conflict(e, "referral_code"))?;
        let s = Self::share_in(&mut tx, account_id).await?;
        tx.commit().await?;
        Ok(s)
    }

    async fn attribute_referral(
        &self,
        referred_id: i64,
        code: &str,
        now: Millis,
    ) -> Result<ReferralOutcome> {
        let mut tx = self.begin_write().await?;
        // The referred account's row is locked: its attributions are serialised.
        let referred_email: String = sqlx::query_scalar(&format!(
            "SELECT email FROM accounts WHERE id = $1{FOR_NO_KEY_UPDATE}"
        ))
        .bind(referred_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound { what: "account" })?;
        let referrer: Option<(i64, String)> = sqlx::query_as(
            "SELECT a.id, a.email FROM share_settings s JOIN accounts a ON a.id = s.account_id \
             WHERE s.referral_code = $1",
        )
        .bind(text(code))
        .fetch_optional(&mut *tx)
        .await?;
        let already: bool = sqlx::query_scalar(
            "SELECT EXISTS(SELECT 1 FROM referrals WHERE referred_id = $1 AND status = 'converted')",
        )
        .bind(referred_id)
        .fetch_one(&mut *tx)
        .await?;
        let (outcome, referrer_id) = match referrer {
            None => (ReferralOutcome::UnknownCode, None),
            Some((id, email)) => {
                if id == referred_id || canonical_email(&email) == canonical_email(&referred_email)
                {
                    (ReferralOutcome::SelfReferral, Some(id))
                } else if already {
                    (ReferralOutcome::AlreadyReferred, Some(id))
                } else {
                    (ReferralOutcome::Converted { referrer_id: id }, Some(id))
                }
            }
        };
        let status = match &outcome {
            ReferralOutcome::Converted { .. } => "converted",
            ReferralOutcome::SelfReferral => "self_referral",
            ReferralOutcome::AlreadyReferred => "already_referred",
            ReferralOutcome::UnknownCode => "unknown_code",
        };
        sqlx::query(
            "INSERT INTO referrals(code, referrer_id, referred_id, status, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(text(code))
        .bind(referrer_id)
        .bind(referred_id)
        .bind(status)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let ReferralOutcome::Converted { referrer_id } = outcome {
            let mut ev = new_event(
                TriggerKind::ReferralConverted,
                referrer_id,
                format!("referral_converted:{referred_id}"),
                now,
            );
            ev.subject_id = Some(referred_id);
            insert_event_in(&mut tx, &ev, now).await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }
}
