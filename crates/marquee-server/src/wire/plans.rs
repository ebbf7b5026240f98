//! The JSON API's form of `marquee_store::plans` rows.

use marquee_domain::plans::{AccountEventKind, CancelReason, Price};
use marquee_domain::{Millis, Plan};
use marquee_store::plans as store;
use serde::Serialize;
use utoipa::ToSchema;

/// A subscription event: a sign-up, plan change, pause, reactivation or
/// cancellation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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
    /// The customer's words.
    pub detail: Option<String>,
    /// The staff account that made the change, where not the customer.
    pub actor_id: Option<i64>,
    /// When, ms.
    pub at: Millis,
}

impl From<store::AccountEvent> for AccountEvent {
    fn from(e: store::AccountEvent) -> Self {
        AccountEvent {
            id: e.id,
            account_id: e.account_id,
            email: e.email,
            kind: e.kind,
            plan: e.plan,
            from_plan: e.from_plan,
            price: e.price,
            reason: e.reason,
            detail: e.detail,
            actor_id: e.actor_id,
            at: e.at,
        }
    }
}

/// One entry of a plan's price history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlanPrice {
    /// The price.
    pub price: Price,
    /// When it takes (or took) effect, ms.
    pub effective_from: Millis,
    /// When it was entered, ms.
    pub created_at: Millis,
}

impl From<store::PlanPrice> for PlanPrice {
    fn from(p: store::PlanPrice) -> Self {
        PlanPrice {
            price: p.price,
            effective_from: p.effective_from,
            created_at: p.created_at,
        }
    }
}
