//! Storage for perks (rules, the trigger event log, awards, the audit trail)
//! and word of mouth (opt-in sharing, referral codes, attributed sign-ups).
//! Every call is one transaction.

use crate::Result;
use async_trait::async_trait;
use marquee_domain::perks::{
    BudgetVerdict, EffectKind, Facts, RuleSpec, TriggerEvent, TriggerKind,
};
use marquee_domain::Millis;
use serde::Serialize;

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerkRule {
    /// Id.
    pub id: i64,
    /// The validated rule.
    pub spec: RuleSpec,
    /// Created, ms.
    pub created_at: Millis,
    /// Last changed, ms.
    pub updated_at: Millis,
}

/// A trigger occurrence to log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPerkEvent {
    /// What happened.
    pub kind: TriggerKind,
    /// Whose account.
    pub account_id: i64,
    /// Which profile; `None`: the account's first profile.
    pub profile_id: Option<i64>,
    /// Idempotency key: the same key is logged once.
    pub key: String,
    /// When it happened, ms.
    pub occurred_at: Millis,
    /// For `custom`: the event name.
    pub name: Option<String>,
    /// For `series_finished`: the series.
    pub series_id: Option<i64>,
    /// For `anniversary`: which year.
    pub years: Option<i64>,
    /// The idea, the referred account, the conversation…
    pub subject_id: Option<i64>,
    /// Source data, JSON.
    pub data: String,
}

/// An effect given to a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PerkAward {
    /// Id.
    pub id: i64,
    /// The rule.
    pub rule_id: i64,
    /// The event rewarded.
    pub event_id: i64,
    /// The account.
    pub account_id: i64,
    /// The profile.
    pub profile_id: i64,
    /// Kind.
    pub kind: EffectKind,
    /// For a credit, cents.
    pub amount_cents: i64,
    /// What it cost, cents.
    pub cost_cents: i64,
    /// For a badge.
    pub badge: Option<String>,
    /// For early access.
    pub feature: Option<String>,
    /// The personal message.
    pub message: Option<String>,
    /// One line, e.g. "$5.00 credit".
    pub headline: String,
    /// Why: the trigger, e.g. `series_finished`.
    pub reason: TriggerKind,
    /// The event's time, ms.
    pub occurred_at: Millis,
    /// Given, ms.
    pub created_at: Millis,
    /// Opened by the viewer, ms (`None`: still wrapped).
    pub revealed_at: Option<Millis>,
}

/// What happened to one (rule, event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwardOutcome {
    /// Given.
    Awarded(PerkAward),
    /// Already given for this event: nothing written.
    Duplicate,
    /// A cap refused it (audited).
    Refused(BudgetVerdict),
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Id.
    pub id: i64,
    /// When, ms.
    pub at: Millis,
    /// `awarded`, `global_budget_exhausted`, `profile_cap_reached`,
    /// `rule_created`, `rule_updated`.
    pub action: String,
    /// The rule.
    pub rule_id: Option<i64>,
    /// The event.
    pub event_id: Option<i64>,
    /// The award.
    pub award_id: Option<i64>,
    /// The customer's account.
    pub account_id: Option<i64>,
    /// The staff member, for rule changes.
    pub actor_id: Option<i64>,
    /// Cost, cents.
    pub cost_cents: i64,
    /// Details.
    pub detail: String,
}

/// Spend per rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSpend {
    /// The rule.
    pub rule_id: i64,
    /// Its name.
    pub name: String,
    /// Awards.
    pub awards: i64,
    /// Cost, cents.
    pub cents: i64,
}

/// Spend on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaySpend {
    /// Start of the day (UTC), ms.
    pub day: Millis,
    /// Awards.
    pub awards: i64,
    /// Cost, cents.
    pub cents: i64,
}

/// Perk spend for the overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PerkSpend {
    /// Every award ever, cents.
    pub total_cents: i64,
    /// Every award ever.
    pub total_awards: i64,
    /// Within the window, cents.
    pub window_cents: i64,
    /// Within the window.
    pub window_awards: i64,
    /// Per rule, all time, most expensive first.
    pub by_rule: Vec<RuleSpend>,
    /// Per day within the window, oldest first (days without awards omitted).
    pub by_day: Vec<DaySpend>,
}

/// An account's sharing choice and referral code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareSettings {
    /// Opted in to share links that carry the referral code.
    pub enabled: bool,
    /// The code, made at the first opt-in.
    pub referral_code: Option<String>,
    /// Sign-ups converted with the code.
    pub converted: i64,
}

/// What a referral code did for a new account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ReferralOutcome {
    /// Attributed: the referrer gets a `referral_converted` event.
    Converted {
        /// The referrer.
        referrer_id: i64,
    },
    /// The code belongs to the same person: no reward.
    SelfReferral,
    /// The account was already referred: no reward.
    AlreadyReferred,
    /// No such code.
    UnknownCode,
}

/// Perks and word-of-mouth storage.
#[async_trait]
pub trait PerksStore: Send + Sync {
    /// Saves a new rule (audited).
    async fn create_perk_rule(
        &self,
        spec: &RuleSpec,
        actor_id: i64,
        now: Millis,
    ) -> Result<PerkRule>;
    /// Replaces a rule's spec (audited). `NotFound` for an unknown id.
    async fn update_perk_rule(
        &self,
        id: i64,
        spec: &RuleSpec,
        actor_id: i64,
        now: Millis,
    ) -> Result<PerkRule>;
    /// Every rule, oldest first.
    async fn perk_rules(&self) -> Result<Vec<PerkRule>>;
    /// One rule.
    async fn perk_rule(&self, id: i64) -> Result<Option<PerkRule>>;

    /// Logs a trigger occurrence; `None` when its key was logged before.
    /// `NotFound` for an unknown account or profile of another account.
    async fn record_perk_event(&self, ev: &NewPerkEvent, now: Millis) -> Result<Option<i64>>;
    /// Scans Marquee's own data for new trigger occurrences (series finished,
    /// ideas launched, anniversaries reached by `now`) and logs them; returns
    /// how many were new.
    async fn collect_perk_events(&self, now: Millis) -> Result<u64>;
    /// Logged events not yet evaluated, oldest first.
    async fn pending_perk_events(&self, limit: u32) -> Result<Vec<TriggerEvent>>;
    /// Logged events that happened in `[from, to)`, oldest first.
    async fn perk_events_between(
        &self,
        from: Millis,
        to: Millis,
        limit: u32,
    ) -> Result<Vec<TriggerEvent>>;
    /// Marks an event evaluated.
    async fn finish_perk_event(&self, id: i64, now: Millis) -> Result<()>;
    /// The segment facts of a customer as of `at`.
    async fn perk_facts(
        &self,
        account_id: i64,
        profile_id: i64,
        at: Millis,
        genres: &[String],
    ) -> Result<Facts>;
    /// Gives a rule's effect for an event under its budget, in one
    /// transaction with its audit line and the customer's notification.
    async fn award_perk(
        &self,
        rule: &PerkRule,
        ev: &TriggerEvent,
        now: Millis,
    ) -> Result<AwardOutcome>;

    /// A profile's awards, newest first.
    async fn profile_awards(&self, profile_id: i64, limit: u32) -> Result<Vec<PerkAward>>;
    /// Unwraps an award of the profile (idempotent). `NotFound` otherwise.
    async fn reveal_award(&self, profile_id: i64, award_id: i64, now: Millis) -> Result<PerkAward>;
    /// The account's credit, cents.
    async fn credit_balance(&self, account_id: i64) -> Result<i64>;
    /// The account's early-access features.
    async fn early_access(&self, account_id: i64) -> Result<Vec<String>>;
    /// The audit trail, newest first.
    async fn perk_audit(&self, limit: u32) -> Result<Vec<AuditEntry>>;
    /// Spend totals, and per day since `since`.
    async fn perk_spend(&self, since: Millis) -> Result<PerkSpend>;

    /// The account's sharing choice.
    async fn share_settings(&self, account_id: i64) -> Result<ShareSettings>;
    /// Opts in or out; the first opt-in stores `new_code` as the referral code.
    async fn set_sharing(
        &self,
        account_id: i64,
        enabled: bool,
        new_code: &str,
        now: Millis,
    ) -> Result<ShareSettings>;
    /// Attributes a new account to a referral code. Self-referral (the same
    /// account, or the same mailbox as the referrer) and a second referral
    /// give no reward; every use is recorded. A conversion logs a
    /// `referral_converted` event for the referrer in the same transaction.
    async fn attribute_referral(
        &self,
        referred_id: i64,
        code: &str,
        now: Millis,
    ) -> Result<ReferralOutcome>;
}
