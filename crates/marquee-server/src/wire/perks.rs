//! The JSON API's form of `marquee_store::perks` rows: the same fields and
//! serde attributes, converted with `From`, so the store carries no OpenAPI
//! schema and the wire format is the server's.

use marquee_domain::perks::{EffectKind, RuleSpec, TriggerKind};
use marquee_domain::Millis;
use marquee_store::perks as store;
use serde::Serialize;
use utoipa::ToSchema;

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
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

impl From<store::PerkRule> for PerkRule {
    fn from(v: store::PerkRule) -> Self {
        PerkRule {
            id: v.id,
            spec: v.spec,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

/// An effect given to a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::PerkAward> for PerkAward {
    fn from(v: store::PerkAward) -> Self {
        PerkAward {
            id: v.id,
            rule_id: v.rule_id,
            event_id: v.event_id,
            account_id: v.account_id,
            profile_id: v.profile_id,
            kind: v.kind,
            amount_cents: v.amount_cents,
            cost_cents: v.cost_cents,
            badge: v.badge,
            feature: v.feature,
            message: v.message,
            headline: v.headline,
            reason: v.reason,
            occurred_at: v.occurred_at,
            created_at: v.created_at,
            revealed_at: v.revealed_at,
        }
    }
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::AuditEntry> for AuditEntry {
    fn from(v: store::AuditEntry) -> Self {
        AuditEntry {
            id: v.id,
            at: v.at,
            action: v.action,
            rule_id: v.rule_id,
            event_id: v.event_id,
            award_id: v.award_id,
            account_id: v.account_id,
            actor_id: v.actor_id,
            cost_cents: v.cost_cents,
            detail: v.detail,
        }
    }
}

/// Spend per rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::RuleSpend> for RuleSpend {
    fn from(v: store::RuleSpend) -> Self {
        RuleSpend {
            rule_id: v.rule_id,
            name: v.name,
            awards: v.awards,
            cents: v.cents,
        }
    }
}

/// Spend on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DaySpend {
    /// Start of the day (UTC), ms.
    pub day: Millis,
    /// Awards.
    pub awards: i64,
    /// Cost, cents.
    pub cents: i64,
}

impl From<store::DaySpend> for DaySpend {
    fn from(v: store::DaySpend) -> Self {
        DaySpend {
            day: v.day,
            awards: v.awards,
            cents: v.cents,
        }
    }
}

/// Perk spend for the overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::PerkSpend> for PerkSpend {
    fn from(v: store::PerkSpend) -> Self {
        PerkSpend {
            total_cents: v.total_cents,
            total_awards: v.total_awards,
            window_cents: v.window_cents,
            window_awards: v.window_awards,
            by_rule: v.by_rule.into_iter().map(Into::into).collect(),
            by_day: v.by_day.into_iter().map(Into::into).collect(),
        }
    }
}

/// An account's sharing choice and referral code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ShareSettings {
    /// Opted in to share links that carry the referral code.
    pub enabled: bool,
    /// The code, made at the first opt-in.
    pub referral_code: Option<String>,
    /// Sign-ups converted with the code.
    pub converted: i64,
}

impl From<store::ShareSettings> for ShareSettings {
    fn from(v: store::ShareSettings) -> Self {
        ShareSettings {
            enabled: v.enabled,
            referral_code: v.referral_code,
            converted: v.converted,
        }
    }
}

/// What a referral code did for a new account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::ReferralOutcome> for ReferralOutcome {
    fn from(v: store::ReferralOutcome) -> Self {
        match v {
            store::ReferralOutcome::Converted { referrer_id } => {
                ReferralOutcome::Converted { referrer_id }
            }
            store::ReferralOutcome::SelfReferral => ReferralOutcome::SelfReferral,
            store::ReferralOutcome::AlreadyReferred => ReferralOutcome::AlreadyReferred,
            store::ReferralOutcome::UnknownCode => ReferralOutcome::UnknownCode,
        }
    }
}
