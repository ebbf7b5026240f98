//! Perks at run time: the background evaluator, event recording for other
//! features, dry-runs, referral codes and the staff overview's live feed.
//!
//! The evaluator never trusts a client: it reads Marquee's own data. Each
//! pass (every [`POLL_INTERVAL`], or at once when woken) first lets the
//! store scan its sources for new trigger occurrences (series streamed to
//! the end, ideas launched, anniversaries; referrals and staff/API events
//! are logged as they happen), then evaluates every pending event against
//! every enabled rule, oldest first. An award is one transaction with its
//! budget check, its audit line and the customer's notification, and is
//! unique per (rule, event), so replaying events never pays twice.

use crate::error::AppError;
use crate::AppState;
use futures_util::future::BoxFuture;
use marquee_domain::perks::{self, DryRun, Facts, RuleSpec, TriggerEvent, TriggerKind, DAY_MS};
use marquee_domain::Millis;
use marquee_store::perks::{AwardOutcome, NewPerkEvent, PerkRule, ReferralOutcome};
use marquee_store::StoreError;
use rand::Rng;
use serde::Serialize;
use std::time::Duration;
use tokio::sync::{broadcast, Notify};
use utoipa::ToSchema;

/// How often the evaluator looks at its sources when nobody wakes it.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Events evaluated per batch.
const BATCH: u32 = 500;
/// The window of a dry-run.
pub const DRY_RUN_DAYS: i64 = 30;
/// The most events a dry-run replays.
const DRY_RUN_MAX_EVENTS: u32 = 50_000;

/// Something the staff overview should show now.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OverviewEvent {
    /// A perk was given.
    Perk {
        /// The award.
        award_id: i64,
        /// Its cost, cents.
        cost_cents: i64,
    },
    /// A decision was recorded.
    Decision {
        /// The decision.
        decision_id: i64,
    },
}

/// Perks runtime state, shared through `AppState`.
#[derive(Debug)]
pub struct Perks {
    /// Wakes the evaluator (after a custom event, a referral, a status change…).
    pub wake: Notify,
    /// Live events for the staff overview.
    pub live: broadcast::Sender<OverviewEvent>,
    /// Other features' sources of trigger events, run at the start of every
    /// pass (support's SLA-breach sweep): perks never imports them.
    sources: Vec<EventSource>,
}

/// A feature's source of trigger events, polled by every pass: it logs what
/// it finds through [`record_event`] or [`support_signal`].
pub type EventSource = for<'a> fn(&'a AppState) -> BoxFuture<'a, Result<(), AppError>>;

impl Perks {
    /// The runtime state, with the sources every pass polls first.
    pub fn new(sources: Vec<EventSource>) -> Self {
        Perks {
            wake: Notify::new(),
            live: broadcast::channel(256).0,
            sources,
        }
    }
}

impl Default for Perks {
    fn default() -> Self {
        Perks::new(Vec::new())
    }
}

/// What one evaluation pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct PassReport {
    /// New events found in the sources.
    pub collected: u64,
    /// Events evaluated.
    pub evaluated: u64,
    /// Awards given.
    pub awarded: u64,
    /// Awards refused by a budget.
    pub refused: u64,
}

/// Collects new events and evaluates every pending one.
pub async fn run_once(state: &AppState) -> Result<PassReport, AppError> {
    let store = &state.store;
    for source in &state.perks.sources {
        source(state).await?;
    }
    let mut report = PassReport {
        collected: store.collect_perk_events(state.clock.now_ms()).await?,
        ..Default::default()
    };
    let rules: Vec<PerkRule> = store
        .perk_rules()
        .await?
        .into_iter()
        .filter(|r| r.spec.enabled)
        .collect();
    loop {
        let events = store.pending_perk_events(BATCH).await?;
        if events.is_empty() {
            break;
        }
        for ev in &events {
            // Rules asking about the same genres share one read of the facts.
            let mut facts_by_genres: std::collections::HashMap<Vec<String>, Facts> =
                std::collections::HashMap::new();
            for rule in &rules {
                if !perks::trigger_matches(&rule.spec, ev) {
                    continue;
                }
                let genres = perks::genres_needed(&rule.spec);
                let facts = match facts_by_genres.get(&genres) {
                    Some(f) => f.clone(),
                    None => {
                        let f = facts_for(state, &rule.spec, ev).await?;
                        facts_by_genres.insert(genres, f.clone());
                        f
                    }
                };
                if !perks::eligible(&rule.spec, ev, &facts) {
                    continue;
                }
                match store.award_perk(rule, ev, state.clock.now_ms()).await? {
                    AwardOutcome::Awarded(a) => {
                        report.awarded += 1;
                        let _ = state.perks.live.send(OverviewEvent::Perk {
                            award_id: a.id,
                            cost_cents: a.cost_cents,
                        });
                    }
                    AwardOutcome::Refused(_) => report.refused += 1,
                    AwardOutcome::Duplicate => {}
                }
            }
            store.finish_perk_event(ev.id, state.clock.now_ms()).await?;
            report.evaluated += 1;
        }
    }
    Ok(report)
}

async fn facts_for(
    state: &AppState,
    rule: &RuleSpec,
    ev: &TriggerEvent,
) -> Result<Facts, AppError> {
    Ok(state
        .store
        .perk_facts(
            ev.account_id,
            ev.profile_id,
            ev.occurred_at,
            &perks::genres_needed(rule),
        )
        .await?)
}

/// Starts the evaluator: a pass at start, then on every wake or poll tick.
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = run_once(&state).await {
                tracing::warn!(error = %e, "perks pass failed");
            }
            tokio::select! {
                _ = state.perks.wake.notified() => {}
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    })
}

/// Logs a trigger occurrence from another feature (support's CSAT or SLA
/// breach, a custom event) and wakes the evaluator. `None`: the key was
/// logged before.
pub async fn record_event(state: &AppState, ev: &NewPerkEvent) -> Result<Option<i64>, AppError> {
    let id = state
        .store
        .record_perk_event(ev, state.clock.now_ms())
        .await
        .map_err(|e| match e {
            StoreError::NotFound { what } => {
                let field = if what == "profile" {
                    "profile_id"
                } else {
                    "account_id"
                };
                AppError::invalid(field, format!("no such {what}"))
            }
            other => other.into(),
        })?;
    if id.is_some() {
        state.perks.wake.notify_one();
    }
    Ok(id)
}

/// The CSAT at or below which a support conversation earns a recovery.
pub const RECOVERY_CSAT: i64 = 2;

/// A support signal: a CSAT score or an SLA breach. Support calls this when
/// a conversation is rated or breaches its SLA; staff and integrations post
/// it through the custom-event API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportSignal {
    /// The customer rated the conversation 1 to 5.
    Csat(i64),
    /// The conversation breached its SLA.
    SlaBreach,
}

/// Logs a support-recovery trigger when the signal calls for one (CSAT at
/// most 2, or an SLA breach); `Ok(None)` otherwise or when `key` was seen.
/// `key` identifies the conversation, so a conversation earns one recovery.
pub async fn support_signal(
    state: &AppState,
    account_id: i64,
    key: &str,
    signal: SupportSignal,
    occurred_at: Millis,
) -> Result<Option<i64>, AppError> {
    let data = match signal {
        SupportSignal::Csat(score) if !(1..=5).contains(&score) => {
            return Err(AppError::invalid("score", "CSAT is 1 to 5"))
        }
        SupportSignal::Csat(score) if score > RECOVERY_CSAT => return Ok(None),
        SupportSignal::Csat(score) => serde_json::json!({"csat": score}),
        SupportSignal::SlaBreach => serde_json::json!({"sla_breach": true}),
    };
    record_event(
        state,
        &NewPerkEvent {
            kind: TriggerKind::SupportRecovery,
            account_id,
            profile_id: None,
            key: format!("support_recovery:{key}"),
            occurred_at,
            name: None,
            series_id: None,
            years: None,
            subject_id: None,
            data: data.to_string(),
        },
    )
    .await
}

/// One line of the perks audit trail, in words.
#[derive(Debug, Clone)]
pub struct AuditLine {
    /// When, ms.
    pub at: Millis,
    /// `created`, `changed`, `awarded` or `held` (for the marker's style).
    pub kind: &'static str,
    /// The sentence: "admin@example.com created the rule “Finished a series”".
    pub text: String,
    /// More detail: the rule in words, or why a perk was held back.
    pub detail: Option<String>,
    /// The rule, for its link.
    pub rule_id: Option<i64>,
    /// What it cost, cents (awards).
    pub cost_cents: i64,
}

/// The newest `limit` audit entries as a timeline people read: who did
/// what to which rule, who got what and why a perk was held back, with
/// account e-mails instead of ids.
pub async fn audit_timeline(state: &AppState, limit: u32) -> Result<Vec<AuditLine>, AppError> {
    let entries = state.store.perk_audit(limit).await?;
    let rules = state.store.perk_rules().await?;
    let rule_name = |id: Option<i64>| {
        id.and_then(|id| rules.iter().find(|r| r.id == id))
            .map(|r| format!("“{}”", r.spec.name))
            .unwrap_or_else(|| "a deleted rule".into())
    };
    let mut names: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    let mut ids: Vec<i64> = Vec::with_capacity(entries.len() * 2);
    for e in &entries {
        ids.extend(e.actor_id);
        ids.extend(e.account_id);
    }
    for id in ids {
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(id) {
            let name = state
                .store
                .account(id)
                .await?
                .map(|a| a.email)
                .unwrap_or_else(|| format!("account #{id} (deleted)"));
            slot.insert(name);
        }
    }
    let who = |id: Option<i64>| {
        id.and_then(|id| names.get(&id).cloned())
            .unwrap_or_else(|| "someone".into())
    };
    // Older versions of a rule, to say what a change changed: entries come
    // newest first, so the version before an update is further down.
    fn spec_of(e: &marquee_store::perks::AuditEntry) -> Option<RuleSpec> {
        serde_json::from_str::<serde_json::Value>(&e.detail)
            .ok()
            .and_then(|v| perks::parse_rule(&v).ok())
    }
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let line = match e.action.as_str() {
            "rule_created" => AuditLine {
                at: e.at,
                kind: "created",
                text: format!(
                    "{} created the rule {}",
                    who(e.actor_id),
                    spec_of(e)
                        .map(|s| format!("“{}”", s.name))
                        .unwrap_or_else(|| rule_name(e.rule_id))
                ),
                detail: spec_of(e).map(|s| s.in_words()),
                rule_id: e.rule_id,
                cost_cents: 0,
            },
            "rule_updated" => {
                let now = spec_of(e);
                let before = entries[i + 1..]
                    .iter()
                    .find(|o| {
                        o.rule_id == e.rule_id
                            && (o.action == "rule_created" || o.action == "rule_updated")
                    })
                    .and_then(spec_of);
                let verb = match (&before, &now) {
                    (Some(b), Some(n)) if b.enabled && !n.enabled => "paused",
                    (Some(b), Some(n)) if !b.enabled && n.enabled => "resumed",
                    (None, Some(n)) if !n.enabled => "paused",
                    _ => "changed",
                };
                AuditLine {
                    at: e.at,
                    kind: "changed",
                    text: format!(
                        "{} {verb} the rule {}",
                        who(e.actor_id),
                        now.as_ref()
                            .map(|s| format!("“{}”", s.name))
                            .unwrap_or_else(|| rule_name(e.rule_id))
                    ),
                    detail: (verb == "changed")
                        .then(|| now.map(|s| s.in_words()))
                        .flatten(),
                    rule_id: e.rule_id,
                    cost_cents: 0,
                }
            }
            "awarded" => AuditLine {
                at: e.at,
                kind: "awarded",
                text: format!("{} gave {} a perk", rule_name(e.rule_id), who(e.account_id)),
                detail: e
                    .detail
                    .split_once(": ")
                    .map(|(_, rest)| rest.split(" for ").next().unwrap_or(rest).to_string()),
                rule_id: e.rule_id,
                cost_cents: e.cost_cents,
            },
            held @ ("global_budget_exhausted" | "profile_cap_reached") => AuditLine {
                at: e.at,
                kind: "held",
                text: format!(
                    "{} held back a perk for {}",
                    rule_name(e.rule_id),
                    who(e.account_id)
                ),
                detail: Some(
                    if held == "global_budget_exhausted" {
                        "The rule's budget is spent."
                    } else {
                        "This profile already had its perks for the period."
                    }
                    .into(),
                ),
                rule_id: e.rule_id,
                cost_cents: 0,
            },
            other => AuditLine {
                at: e.at,
                kind: "changed",
                text: format!("{}: {other}", rule_name(e.rule_id)),
                detail: (!e.detail.is_empty()).then(|| e.detail.clone()),
                rule_id: e.rule_id,
                cost_cents: e.cost_cents,
            },
        };
        out.push(line);
    }
    Ok(out)
}

/// Who a rule would have rewarded over the last [`DRY_RUN_DAYS`] days, and
/// at what cost, with budgets counted from zero.
pub async fn dry_run(state: &AppState, rule: &RuleSpec) -> Result<DryRun, AppError> {
    let now = state.clock.now_ms();
    let events = state
        .store
        .perk_events_between(now - DRY_RUN_DAYS * DAY_MS, now + 1, DRY_RUN_MAX_EVENTS)
        .await?;
    let mut log = Vec::new();
    for ev in events {
        if !perks::trigger_matches(rule, &ev) {
            continue;
        }
        let f = facts_for(state, rule, &ev).await?;
        log.push((ev, f));
    }
    let mut out = perks::dry_run(rule, &log);
    // Events of other triggers were not loaded with facts; count them too.
    out.events = state
        .store
        .perk_events_between(now - DRY_RUN_DAYS * DAY_MS, now + 1, DRY_RUN_MAX_EVENTS)
        .await?
        .len() as i64;
    Ok(out)
}

/// Parses a rule from JSON, mapping its error to a 400 naming the field.
pub fn parse_rule(v: &serde_json::Value) -> Result<RuleSpec, AppError> {
    perks::parse_rule(v).map_err(|e| AppError::invalid(e.field, e.message))
}

const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A fresh referral code: 8 characters without look-alikes (40 bits), from the OS RNG.
pub fn new_referral_code() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..8)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// Normalises a code as typed: trimmed, upper case; `None` when it cannot be one.
pub fn normalise_code(code: &str) -> Option<String> {
    let c = code.trim().to_ascii_uppercase();
    (!c.is_empty() && c.len() <= 32 && c.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(c)
}

/// Opts an account in or out of sharing (retrying the rare code collision).
pub async fn set_sharing(
    state: &AppState,
    account_id: i64,
    enabled: bool,
) -> Result<marquee_store::perks::ShareSettings, AppError> {
    let mut last = None;
    for _ in 0..5 {
        match state
            .store
            .set_sharing(
                account_id,
                enabled,
                &new_referral_code(),
                state.clock.now_ms(),
            )
            .await
        {
            Ok(s) => return Ok(s),
            Err(StoreError::Conflict { .. }) => last = Some("referral code collision"),
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Internal(last.unwrap_or("sharing").into()))
}

/// Attributes a sign-up to a referral code and wakes the evaluator on a
/// conversion. Self-referral and second use are recorded and rewarded with nothing.
pub async fn attribute(
    state: &AppState,
    referred_id: i64,
    code: &str,
) -> Result<ReferralOutcome, AppError> {
    let Some(code) = normalise_code(code) else {
        return Ok(ReferralOutcome::UnknownCode);
    };
    let out = state
        .store
        .attribute_referral(referred_id, &code, state.clock.now_ms())
        .await?;
    if matches!(out, ReferralOutcome::Converted { .. }) {
        state.perks.wake.notify_one();
    }
    Ok(out)
}

/// How long after sign-up an account may still enter a referral code.
pub const CLAIM_WINDOW_DAYS: i64 = 30;

/// `mm:ss` or `h:mm:ss`.
pub fn timestamp(seconds: i64) -> String {
    let s = seconds.max(0);
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Records a "We heard you" decision and notifies the customers behind its
/// evidence (in the store's transaction); the overview hears of it live.
pub async fn record_decision(
    state: &AppState,
    actor_id: i64,
    title: &str,
    body: &str,
    evidence: &[marquee_store::decisions::Evidence],
) -> Result<marquee_store::decisions::Decision, AppError> {
    let title = title.trim();
    let body = body.trim();
    if title.is_empty() || title.chars().count() > 120 {
        return Err(AppError::invalid("title", "must be 1 to 120 characters"));
    }
    if body.is_empty() || body.chars().count() > 4000 {
        return Err(AppError::invalid("body", "must be 1 to 4000 characters"));
    }
    if evidence.is_empty() {
        return Err(AppError::invalid(
            "evidence",
            "link at least one alert, post, idea or support conversation the decision answers",
        ));
    }
    if evidence.len() > 50 {
        return Err(AppError::invalid(
            "evidence",
            "at most 50 pieces of evidence",
        ));
    }
    let d = state
        .store
        .create_decision(title, body, evidence, actor_id, state.clock.now_ms())
        .await?;
    let _ = state
        .perks
        .live
        .send(OverviewEvent::Decision { decision_id: d.id });
    Ok(d)
}

/// The path of a share link for a title (and a moment): the referral code is
/// added only when the account opted in to sharing.
pub async fn share_path(
    state: &AppState,
    account_id: i64,
    title_id: i64,
    t: Option<i64>,
) -> Result<(String, bool), AppError> {
    let title = state
        .store
        .playable_title(title_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("title {title_id} not found")))?;
    let mut q = Vec::new();
    if let Some(t) = t {
        if t < 0 || t * 1000 > title.duration_ms {
            return Err(AppError::invalid(
                "t",
                "the moment must be within the title's runtime",
            ));
        }
        q.push(format!("t={t}"));
    }
    let share = state.store.share_settings(account_id).await?;
    let with_ref = match (share.enabled, share.referral_code) {
        (true, Some(code)) => {
            q.push(format!("ref={code}"));
            true
        }
        _ => false,
    };
    let mut path = format!("/w/{title_id}");
    if !q.is_empty() {
        path.push('?');
        path.push_str(&q.join("&"));
    }
    Ok((path, with_ref))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_timestamps() {
        let c = new_referral_code();
        assert_eq!(c.len(), 8);
        assert_eq!(normalise_code(&format!(" {} ", c.to_lowercase())), Some(c));
        assert_eq!(normalise_code("a b"), None);
        assert_eq!(timestamp(754), "12:34");
        assert_eq!(timestamp(3723), "1:02:03");
    }
}
