//! Plans' price history and the subscription events of accounts: sign-ups,
//! upgrades, downgrades, pauses, reactivations and cancellations with their
//! reasons (the rules are `marquee_domain::plans`; this stores what they
//! decided).

use crate::Result;
use async_trait::async_trait;
use marquee_domain::plans::{AccountEventKind, AccountStatus, CancelReason, Price};
use marquee_domain::{Millis, Plan};

/// One entry of a plan's price history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanPrice {
    /// Id.
    pub id: i64,
    /// The plan.
    pub plan: Plan,
    /// The price.
    pub price: Price,
    /// When it takes effect, ms.
    pub effective_from: Millis,
    /// When it was entered, ms.
    pub created_at: Millis,
    /// The staff account that entered it (none for the installed defaults).
    pub created_by: Option<i64>,
}

/// A subscription step to record.
#[derive(Debug, Clone)]
pub struct SubscriptionWrite {
    /// The account.
    pub account_id: i64,
    /// The plan and status the decision was made on: if the account has
    /// moved on since, nothing is written ([`crate::StoreError::Conflict`]
    /// on `status`).
    pub from: (Plan, AccountStatus),
    /// The plan and status after it.
    pub to: (Plan, AccountStatus),
    /// The price the account pays after it.
    pub price: Price,
    /// The event.
    pub kind: AccountEventKind,
    /// Cancellation reason.
    pub reason: Option<CancelReason>,
    /// Free text.
    pub detail: Option<String>,
    /// Who did it, where not the customer (staff).
    pub actor_id: Option<i64>,
}

/// A recorded subscription event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEvent {
    /// Id.
    pub id: i64,
    /// The account (none once it was deleted).
    pub account_id: Option<i64>,
    /// Its address, while it exists.
    pub email: Option<String>,
    /// What happened.
    pub kind: AccountEventKind,
    /// The plan after it.
    pub plan: Plan,
    /// The plan before it (plan changes).
    pub from_plan: Option<Plan>,
    /// The price after it.
    pub price: Price,
    /// Cancellation reason.
    pub reason: Option<CancelReason>,
    /// Free text.
    pub detail: Option<String>,
    /// Staff who did it.
    pub actor_id: Option<i64>,
    /// When, ms.
    pub at: Millis,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct AccountEventQuery {
    /// One account's.
    pub account_id: Option<i64>,
    /// One kind.
    pub kind: Option<AccountEventKind>,
    /// At or after, ms.
    pub since: Option<Millis>,
    /// Before, ms.
    pub until: Option<Millis>,
    /// Only ids below this (paging backwards, newest first).
    pub before_id: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// Events counted per day, kind and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCount {
    /// Start of the UTC day, ms.
    pub day: Millis,
    /// Kind.
    pub kind: AccountEventKind,
    /// Reason (cancellations).
    pub reason: Option<CancelReason>,
    /// How many.
    pub count: i64,
}

/// Storage of plan prices and subscription events.
#[async_trait]
pub trait PlanStore: Send + Sync {
    /// Every plan's whole price history, oldest first.
    async fn plan_prices(&self) -> Result<Vec<PlanPrice>>;
    /// Adds a price to a plan's history (taking effect at `effective_from`,
    /// which may be ahead), and enqueues the `plan.price_changed` webhook;
    /// existing accounts keep their recorded price.
    async fn add_plan_price(
        &self,
        plan: Plan,
        price: &Price,
        effective_from: Millis,
        created_by: Option<i64>,
        now: Millis,
    ) -> Result<PlanPrice>;
    /// Applies a subscription step: moves the account's plan, status and
    /// price, records the event and enqueues its signed webhook
    /// (`account.<kind>`, body `marquee_domain::plans::AccountWebhook`), all
    /// or nothing.
    /// Returns the event's id.
    async fn apply_subscription(&self, w: &SubscriptionWrite, now: Millis) -> Result<i64>;
    /// Events, newest first.
    async fn account_events(&self, q: &AccountEventQuery) -> Result<Vec<AccountEvent>>;
    /// Events since `since`, counted per UTC day, kind and reason.
    async fn account_event_counts(&self, since: Millis) -> Result<Vec<EventCount>>;
}
