//! Plans, prices and an account's subscription life: the rules of plan
//! changes, pauses and cancellations, and what each step records.
//!
//! A plan ([`Plan`]) sets the stream cap; its price has a history (the store
//! keeps every [`Price`] with the time it takes effect). An account records
//! the price it pays, so a later price change can leave existing customers
//! on their price (grandfathering) until they change plan or come back after
//! cancelling. Every step ([`AccountEventKind`]) is one event of the event
//! model, with its reason where it has one.

use crate::{DomainError, Plan};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The longest free-text cancellation comment, in characters.
pub const MAX_CANCEL_DETAIL: usize = 2000;
/// The highest price a plan may carry, in minor units (cents).
pub const MAX_PRICE_CENTS: i64 = 10_000_000;

/// Every plan, from the smallest to the biggest.
pub const PLANS: [Plan; 3] = [Plan::Basic, Plan::Standard, Plan::Premium];

impl Plan {
    /// Its position from the smallest (0) to the biggest.
    pub fn rank(self) -> u8 {
        match self {
            Plan::Basic => 0,
            Plan::Standard => 1,
            Plan::Premium => 2,
        }
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Plan::Basic => "Basic",
            Plan::Standard => "Standard",
            Plan::Premium => "Premium",
        }
    }
}

/// Whether an account is subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Subscribed: it can stream up to its plan's cap.
    #[default]
    Active,
    /// Paused by the customer: nothing plays, the price is kept.
    Paused,
    /// Cancelled: nothing plays until it is reactivated (at the price then current).
    Cancelled,
}

impl AccountStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Paused => "paused",
            AccountStatus::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for AccountStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(AccountStatus::Active),
            "paused" => Ok(AccountStatus::Paused),
            "cancelled" => Ok(AccountStatus::Cancelled),
            other => Err(DomainError::invalid(
                "status",
                format!("unknown status {other:?}"),
            )),
        }
    }
}

/// Concurrent streams an account may play: its plan's cap while active,
/// none while paused or cancelled.
pub fn stream_cap(plan: Plan, status: AccountStatus) -> u32 {
    match status {
        AccountStatus::Active => plan.max_streams(),
        AccountStatus::Paused | AccountStatus::Cancelled => 0,
    }
}

/// Why a customer cancels: a fixed taxonomy so that reasons can be counted,
/// plus free text in the event's detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// Too expensive, or the price went up.
    Price,
    /// Not enough to watch.
    Catalog,
    /// Streaming quality or app problems.
    Quality,
    /// A bad support experience.
    Support,
    /// Moving to another service.
    OtherService,
    /// Anything else.
    Other,
}

/// Every cancellation reason, in the order a form lists them.
pub const CANCEL_REASONS: [CancelReason; 6] = [
    CancelReason::Price,
    CancelReason::Catalog,
    CancelReason::Quality,
    CancelReason::Support,
    CancelReason::OtherService,
    CancelReason::Other,
];

impl CancelReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::Price => "price",
            CancelReason::Catalog => "catalog",
            CancelReason::Quality => "quality",
            CancelReason::Support => "support",
            CancelReason::OtherService => "other_service",
            CancelReason::Other => "other",
        }
    }

    /// The wording shown to people.
    pub fn label(self) -> &'static str {
        match self {
            CancelReason::Price => "The price",
            CancelReason::Catalog => "Not enough to watch",
            CancelReason::Quality => "Streaming quality or app problems",
            CancelReason::Support => "Customer support",
            CancelReason::OtherService => "Moving to another service",
            CancelReason::Other => "Something else",
        }
    }
}

impl std::str::FromStr for CancelReason {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CANCEL_REASONS
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "reason",
                    format!(
                        "unknown reason {s:?}; one of {}",
                        CANCEL_REASONS.map(CancelReason::as_str).join(", ")
                    ),
                )
            })
    }
}

/// One step of an account's subscription, as recorded in the event model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountEventKind {
    /// The account was created.
    SignedUp,
    /// Moved to a bigger plan.
    Upgraded,
    /// Moved to a smaller plan.
    Downgraded,
    /// Paused.
    Paused,
    /// Reactivated after a pause or a cancellation.
    Reactivated,
    /// Cancelled, with a reason.
    Cancelled,
}

/// Every event kind.
pub const ACCOUNT_EVENT_KINDS: [AccountEventKind; 6] = [
    AccountEventKind::SignedUp,
    AccountEventKind::Upgraded,
    AccountEventKind::Downgraded,
    AccountEventKind::Paused,
    AccountEventKind::Reactivated,
    AccountEventKind::Cancelled,
];

impl AccountEventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountEventKind::SignedUp => "signed_up",
            AccountEventKind::Upgraded => "upgraded",
            AccountEventKind::Downgraded => "downgraded",
            AccountEventKind::Paused => "paused",
            AccountEventKind::Reactivated => "reactivated",
            AccountEventKind::Cancelled => "cancelled",
        }
    }

    /// The outbound webhook event name, e.g. `account.cancelled`.
    pub fn webhook_event(self) -> String {
        format!("account.{}", self.as_str())
    }

    /// The wording shown to people.
    pub fn label(self) -> &'static str {
        match self {
            AccountEventKind::SignedUp => "Signed up",
            AccountEventKind::Upgraded => "Upgraded",
            AccountEventKind::Downgraded => "Downgraded",
            AccountEventKind::Paused => "Paused",
            AccountEventKind::Reactivated => "Reactivated",
            AccountEventKind::Cancelled => "Cancelled",
        }
    }
}

impl std::str::FromStr for AccountEventKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ACCOUNT_EVENT_KINDS
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| DomainError::invalid("kind", format!("unknown event kind {s:?}")))
    }
}

/// An amount of money in minor units (cents) of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Price {
    /// Minor units, e.g. 1549 for 15.49.
    pub amount_cents: i64,
    /// ISO 4217 code, e.g. `USD`.
    pub currency: String,
}

impl Price {
    /// A checked price: 0 up to [`MAX_PRICE_CENTS`], in a three-letter
    /// upper-case currency code (lower case is accepted and raised).
    pub fn new(amount_cents: i64, currency: &str) -> Result<Price, DomainError> {
        if !(0..=MAX_PRICE_CENTS).contains(&amount_cents) {
            return Err(DomainError::invalid(
                "amount_cents",
                format!("must be between 0 and {MAX_PRICE_CENTS}"),
            ));
        }
        let code = currency.trim().to_ascii_uppercase();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(DomainError::invalid(
                "currency",
                "must be a three-letter ISO 4217 code such as USD or EUR",
            ));
        }
        Ok(Price {
            amount_cents,
            currency: code,
        })
    }

    /// As people read it: `$15.49`, `€9.99`, `£5.99`, or `CHF 12.00`.
    pub fn display(&self) -> String {
        let sign = if self.amount_cents < 0 { "-" } else { "" };
        let abs = self.amount_cents.unsigned_abs();
        let amount = format!("{}.{:02}", abs / 100, abs % 100);
        match self.currency.as_str() {
            "USD" => format!("{sign}${amount}"),
            "EUR" => format!("{sign}€{amount}"),
            "GBP" => format!("{sign}£{amount}"),
            other => format!("{sign}{other} {amount}"),
        }
    }
}

/// The body of the signed webhook sent for every subscription event
/// (`account.<kind>`), so that a billing system can act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountWebhook {
    /// The event's id (the same on every delivery attempt).
    pub event_id: i64,
    /// `account.signed_up`, `account.upgraded`, ...
    pub event: String,
    /// The account.
    pub account_id: i64,
    /// Its address.
    pub email: String,
    /// The plan after the event.
    pub plan: Plan,
    /// The plan before it, on a plan change.
    pub from_plan: Option<Plan>,
    /// The status after it.
    pub status: AccountStatus,
    /// The price the account pays after it.
    pub price: Price,
    /// The cancellation reason.
    pub reason: Option<CancelReason>,
    /// The customer's words.
    pub detail: Option<String>,
    /// The staff account that made the change, where not the customer.
    pub actor_id: Option<i64>,
    /// When, ms since the epoch.
    pub at: crate::Millis,
}

/// The body of the `plan.price_changed` webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PriceWebhook {
    /// Always `plan.price_changed`.
    pub event: String,
    /// The plan.
    pub plan: Plan,
    /// The new price.
    pub price: Price,
    /// When it takes effect, ms.
    pub effective_from: crate::Millis,
    /// Who entered it.
    pub actor_id: Option<i64>,
}

/// What a customer (or staff on their behalf) asks of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanAction {
    /// Move to another plan.
    Change(Plan),
    /// Pause.
    Pause,
    /// Reactivate, optionally on another plan.
    Reactivate(Option<Plan>),
    /// Cancel, with a reason and optional free text.
    Cancel {
        /// The reason.
        reason: CancelReason,
        /// The customer's own words.
        detail: Option<String>,
    },
}

/// What a [`PlanAction`] does to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The event it records.
    pub kind: AccountEventKind,
    /// The plan after it.
    pub plan: Plan,
    /// The status after it.
    pub status: AccountStatus,
    /// Whether the account moves to the plan's current price (a plan change,
    /// or a comeback after cancelling); otherwise it keeps its recorded price.
    pub reprice: bool,
    /// The cancellation reason.
    pub reason: Option<CancelReason>,
    /// The cleaned free text.
    pub detail: Option<String>,
}

fn refuse(message: impl Into<String>) -> DomainError {
    DomainError::Limit {
        field: "status",
        message: message.into(),
    }
}

/// Applies the subscription rules:
/// - a plan change needs an active account and another plan; it is an
///   upgrade or a downgrade by the plans' order, and moves to that plan's
///   current price;
/// - only an active account pauses;
/// - an active or paused account cancels, with a reason; free text is
///   trimmed, at most [`MAX_CANCEL_DETAIL`] characters;
/// - a paused or cancelled account reactivates, optionally on another plan;
///   after a cancellation (or with a new plan) at the current price, after
///   a pause at its recorded price.
///
/// A refused step is a [`DomainError::Limit`] on `status` (or `plan`), a bad
/// field a [`DomainError::Invalid`].
pub fn transition(
    plan: Plan,
    status: AccountStatus,
    action: &PlanAction,
) -> Result<Transition, DomainError> {
    let step = |kind, plan, status, reprice| Transition {
        kind,
        plan,
        status,
        reprice,
        reason: None,
        detail: None,
    };
    match action {
        PlanAction::Change(to) => {
            if status != AccountStatus::Active {
                return Err(refuse(format!(
                    "the account is {}; reactivate it to change plan",
                    status.as_str()
                )));
            }
            if *to == plan {
                return Err(DomainError::Limit {
                    field: "plan",
                    message: format!("already on the {} plan", to.label()),
                });
            }
            let kind = if to.rank() > plan.rank() {
                AccountEventKind::Upgraded
            } else {
                AccountEventKind::Downgraded
            };
            Ok(step(kind, *to, AccountStatus::Active, true))
        }
        PlanAction::Pause => match status {
            AccountStatus::Active => Ok(step(
                AccountEventKind::Paused,
                plan,
                AccountStatus::Paused,
                false,
            )),
            other => Err(refuse(format!("the account is already {}", other.as_str()))),
        },
        PlanAction::Reactivate(to) => {
            if status == AccountStatus::Active {
                return Err(refuse("the account is already active"));
            }
            let to = to.unwrap_or(plan);
            let reprice = status == AccountStatus::Cancelled || to != plan;
            Ok(step(
                AccountEventKind::Reactivated,
                to,
                AccountStatus::Active,
                reprice,
            ))
        }
        PlanAction::Cancel { reason, detail } => {
            if status == AccountStatus::Cancelled {
                return Err(refuse("the account is already cancelled"));
            }
            let detail = detail
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string);
            if let Some(d) = &detail {
                if d.chars().count() > MAX_CANCEL_DETAIL {
                    return Err(DomainError::invalid(
                        "detail",
                        format!("at most {MAX_CANCEL_DETAIL} characters"),
                    ));
                }
            }
            Ok(Transition {
                reason: Some(*reason),
                detail,
                ..step(
                    AccountEventKind::Cancelled,
                    plan,
                    AccountStatus::Cancelled,
                    false,
                )
            })
        }
    }
}

/// The price in effect at `now` from a plan's history of `(effective_from,
/// price)`: the latest that has started; a later entry is scheduled, not
/// yet in effect.
pub fn price_at(history: &[(crate::Millis, Price)], now: crate::Millis) -> Option<&Price> {
    history
        .iter()
        .filter(|(from, _)| *from <= now)
        .max_by_key(|(from, _)| *from)
        .map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_changes_are_upgrades_or_downgrades_and_reprice() {
        let t = transition(
            Plan::Basic,
            AccountStatus::Active,
            &PlanAction::Change(Plan::Premium),
        )
        .unwrap();
        assert_eq!(t.kind, AccountEventKind::Upgraded);
        assert_eq!(t.plan, Plan::Premium);
        assert!(t.reprice);
        let t = transition(
            Plan::Premium,
            AccountStatus::Active,
            &PlanAction::Change(Plan::Standard),
        )
        .unwrap();
        assert_eq!(t.kind, AccountEventKind::Downgraded);
        let same = transition(
            Plan::Standard,
            AccountStatus::Active,
            &PlanAction::Change(Plan::Standard),
        );
        assert!(matches!(
            same,
            Err(DomainError::Limit { field: "plan", .. })
        ));
        let paused = transition(
            Plan::Standard,
            AccountStatus::Paused,
            &PlanAction::Change(Plan::Basic),
        );
        assert!(matches!(
            paused,
            Err(DomainError::Limit {
                field: "status",
                ..
            })
        ));
    }

    #[test]
    fn pause_cancel_and_reactivate_follow_the_status() {
        let p = transition(Plan::Basic, AccountStatus::Active, &PlanAction::Pause).unwrap();
        assert_eq!(
            (p.kind, p.status, p.reprice),
            (AccountEventKind::Paused, AccountStatus::Paused, false)
        );
        assert!(transition(Plan::Basic, AccountStatus::Paused, &PlanAction::Pause).is_err());
        let cancel = PlanAction::Cancel {
            reason: CancelReason::Price,
            detail: Some("  too dear now  ".into()),
        };
        let c = transition(Plan::Basic, AccountStatus::Paused, &cancel).unwrap();
        assert_eq!(c.status, AccountStatus::Cancelled);
        assert_eq!(c.reason, Some(CancelReason::Price));
        assert_eq!(c.detail.as_deref(), Some("too dear now"));
        assert!(transition(Plan::Basic, AccountStatus::Cancelled, &cancel).is_err());
        // Back from a pause: same price. Back from a cancellation: today's price.
        let r = transition(
            Plan::Basic,
            AccountStatus::Paused,
            &PlanAction::Reactivate(None),
        )
        .unwrap();
        assert_eq!((r.status, r.reprice), (AccountStatus::Active, false));
        let r = transition(
            Plan::Basic,
            AccountStatus::Cancelled,
            &PlanAction::Reactivate(None),
        )
        .unwrap();
        assert!(r.reprice);
        let r = transition(
            Plan::Basic,
            AccountStatus::Paused,
            &PlanAction::Reactivate(Some(Plan::Premium)),
        )
        .unwrap();
        assert_eq!((r.plan, r.reprice), (Plan::Premium, true));
        assert!(transition(
            Plan::Basic,
            AccountStatus::Active,
            &PlanAction::Reactivate(None)
        )
        .is_err());
    }

    #[test]
    fn cancellation_text_is_bounded_and_blank_is_none() {
        let long = PlanAction::Cancel {
            reason: CancelReason::Other,
            detail: Some("x".repeat(MAX_CANCEL_DETAIL + 1)),
        };
        assert!(matches!(
            transition(Plan::Basic, AccountStatus::Active, &long),
            Err(DomainError::Invalid {
                field: "detail",
                ..
            })
        ));
        let blank = PlanAction::Cancel {
            reason: CancelReason::Other,
            detail: Some("   ".into()),
        };
        assert_eq!(
            transition(Plan::Basic, AccountStatus::Active, &blank)
                .unwrap()
                .detail,
            None
        );
    }

    #[test]
    fn only_an_active_account_streams() {
        assert_eq!(stream_cap(Plan::Premium, AccountStatus::Active), 4);
        assert_eq!(stream_cap(Plan::Premium, AccountStatus::Paused), 0);
        assert_eq!(stream_cap(Plan::Basic, AccountStatus::Cancelled), 0);
    }

    #[test]
    fn names_round_trip() {
        for r in CANCEL_REASONS {
            assert_eq!(r.as_str().parse::<CancelReason>().unwrap(), r);
        }
        for k in ACCOUNT_EVENT_KINDS {
            assert_eq!(k.as_str().parse::<AccountEventKind>().unwrap(), k);
        }
        assert!(matches!(
            "cheaper".parse::<CancelReason>(),
            Err(DomainError::Invalid {
                field: "reason",
                ..
            })
        ));
        assert_eq!(
            AccountEventKind::Cancelled.webhook_event(),
            "account.cancelled"
        );
    }

    #[test]
    fn prices_are_checked_and_shown() {
        assert_eq!(Price::new(1549, "usd").unwrap().display(), "$15.49");
        assert_eq!(Price::new(999, "EUR").unwrap().display(), "€9.99");
        assert_eq!(Price::new(1200, "CHF").unwrap().display(), "CHF 12.00");
        assert_eq!(Price::new(5, "GBP").unwrap().display(), "£0.05");
        assert!(matches!(
            Price::new(-1, "USD"),
            Err(DomainError::Invalid {
                field: "amount_cents",
                ..
            })
        ));
        assert!(matches!(
            Price::new(100, "US"),
            Err(DomainError::Invalid {
                field: "currency",
                ..
            })
        ));
        assert!(matches!(
            Price::new(100, "U$D"),
            Err(DomainError::Invalid {
                field: "currency",
                ..
            })
        ));
    }

    #[test]
    fn the_price_in_effect_is_the_latest_started() {
        let usd = |c| Price::new(c, "USD").unwrap();
        let h = vec![(0, usd(999)), (2_000, usd(1_599)), (1_000, usd(1_299))];
        assert_eq!(price_at(&h, 500).unwrap().amount_cents, 999);
        assert_eq!(price_at(&h, 1_500).unwrap().amount_cents, 1_299);
        assert_eq!(price_at(&h, 2_000).unwrap().amount_cents, 1_599);
        assert!(price_at(&h, -1).is_none());
    }
}
