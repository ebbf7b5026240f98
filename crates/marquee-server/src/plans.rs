//! Plans and subscriptions (the service of `api::plans`, the account page's
//! plan section and the staff overview's churn panel): what each plan costs
//! now, plan changes, pauses, reactivations and cancellations through the
//! domain's rules (`marquee_domain::plans`), price changes by admins, and the
//! subscription events read back as JSON, CSV and per-day counts.
//!
//! Every step is one event of the store's `account_events`, written in the
//! same transaction as the change itself and as its signed webhook
//! (`account.<kind>`, see [`crate::webhooks`]), so a billing system sees
//! exactly what happened and nothing that did not.

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::wire;
use crate::AppState;
use marquee_domain::perks::DAY_MS;
use marquee_domain::plans::{
    price_at, transition, AccountEventKind, CancelReason, PlanAction, Price, CANCEL_REASONS, PLANS,
};
use marquee_domain::text::csv_cell;
use marquee_domain::{Account, Millis, Plan};
use marquee_store::plans::{AccountEventQuery, PlanPrice, SubscriptionWrite};
use serde::Serialize;
use utoipa::ToSchema;

/// A plan as offered now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanOffer {
    /// The plan.
    pub plan: Plan,
    /// Its name.
    pub name: String,
    /// Streams at once.
    pub stream_cap: u32,
    /// The price in effect now.
    pub price: Price,
    /// `price` as people read it, e.g. `$15.49`.
    pub price_display: String,
    /// A price entered to take effect later, if any.
    pub scheduled: Option<wire::plans::PlanPrice>,
    /// The whole price history, oldest first.
    pub history: Vec<wire::plans::PlanPrice>,
}

fn history_of(all: &[PlanPrice], plan: Plan) -> Vec<(Millis, Price)> {
    all.iter()
        .filter(|p| p.plan == plan)
        .map(|p| (p.effective_from, p.price.clone()))
        .collect()
}

/// Every plan with its price now, its scheduled price and its history.
pub async fn offers(state: &AppState) -> Result<Vec<PlanOffer>, AppError> {
    let all = state.store.plan_prices().await?;
    let now = state.clock.now_ms();
    PLANS
        .into_iter()
        .map(|plan| {
            let history = history_of(&all, plan);
            let price = price_at(&history, now)
                .cloned()
                .ok_or_else(|| AppError::Internal(format!("plan {plan:?} has no price")))?;
            let scheduled = all
                .iter()
                .filter(|p| p.plan == plan && p.effective_from > now)
                .min_by_key(|p| p.effective_from)
                .cloned()
                .map(wire::plans::PlanPrice::from);
            Ok(PlanOffer {
                plan,
                name: plan.label().to_string(),
                stream_cap: plan.max_streams(),
                price_display: price.display(),
                price,
                scheduled,
                history: all
                    .iter()
                    .filter(|p| p.plan == plan)
                    .cloned()
                    .map(wire::plans::PlanPrice::from)
                    .collect(),
            })
        })
        .collect()
}

/// Applies a customer's (or, with `actor`, a staff member's) request to an
/// account's subscription and returns the account as it is after it. The
/// stream cap moves at once: the next start reads the new plan.
pub async fn apply(
    state: &AppState,
    account: &Account,
    action: &PlanAction,
    actor: Option<i64>,
) -> Result<Account, AppError> {
    let t = transition(account.plan, account.status, action)?;
    let price = if t.reprice {
        let all = state.store.plan_prices().await?;
        price_at(&history_of(&all, t.plan), state.clock.now_ms())
            .cloned()
            .ok_or_else(|| AppError::Internal(format!("plan {:?} has no price", t.plan)))?
    } else {
        account.price.clone()
    };
    let w = SubscriptionWrite {
        account_id: account.id,
        from: (account.plan, account.status),
        to: (t.plan, t.status),
        price,
        kind: t.kind,
        reason: t.reason,
        detail: t.detail,
        actor_id: actor,
    };
    state
        .store
        .apply_subscription(&w, state.clock.now_ms())
        .await
        .map_err(|e| match e {
            marquee_store::StoreError::Conflict { .. } => AppError::Conflict {
                field: Some("status".into()),
                message: "the subscription changed meanwhile; reload and try again".into(),
            },
            other => other.into(),
        })?;
    state.outbox_wake.notify_one();
    tracing::info!(
        account = account.id,
        kind = t.kind.as_str(),
        plan = t.plan.as_str(),
        actor,
        "subscription changed"
    );
    state
        .store
        .account(account.id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("account {} not found", account.id)))
}

/// The signed-in customer's own request.
pub async fn apply_own(
    state: &AppState,
    user: &CurrentUser,
    action: &PlanAction,
) -> Result<Account, AppError> {
    apply(state, &user.account, action, None).await
}

/// An admin changes another account's plan (audited by the event's actor).
pub async fn staff_set_plan(
    state: &AppState,
    admin: &CurrentUser,
    account_id: i64,
    plan: Plan,
) -> Result<Account, AppError> {
    let account = state
        .store
        .account(account_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("account {account_id} not found")))?;
    if account.plan == plan {
        return Ok(account);
    }
    apply(
        state,
        &account,
        &PlanAction::Change(plan),
        Some(admin.account.id),
    )
    .await
}

/// An admin sets a plan's price from `effective_from` (now when absent; not
/// in the past). Existing accounts keep the price they pay until they
/// change plan or come back after cancelling.
pub async fn add_price(
    state: &AppState,
    admin: &CurrentUser,
    plan: Plan,
    price: &Price,
    effective_from: Option<Millis>,
) -> Result<PlanOffer, AppError> {
    let now = state.clock.now_ms();
    let from = effective_from.unwrap_or(now);
    if from < now - 60_000 {
        return Err(AppError::invalid(
            "effective_from",
            "a price cannot take effect in the past",
        ));
    }
    state
        .store
        .add_plan_price(plan, price, from, Some(admin.account.id), now)
        .await?;
    state.outbox_wake.notify_one();
    tracing::info!(plan = plan.as_str(), amount = price.amount_cents, currency = %price.currency, from, "plan price entered");
    offers(state)
        .await?
        .into_iter()
        .find(|o| o.plan == plan)
        .ok_or_else(|| AppError::Internal("plan vanished".into()))
}

/// Subscription events, newest first.
pub async fn events(
    state: &AppState,
    q: &AccountEventQuery,
) -> Result<Vec<wire::plans::AccountEvent>, AppError> {
    Ok(wire::all(state.store.account_events(q).await?))
}

/// The header of [`events_csv`].
pub const CSV_HEADER: &str =
    "id,at,account_id,email,kind,plan,from_plan,amount,currency,reason,detail,actor_id";

/// Events as CSV for a billing system or a spreadsheet: times in RFC 3339
/// UTC, amounts in major units, cells quoted and never formulas.
pub fn events_csv(events: &[wire::plans::AccountEvent]) -> String {
    let mut out = String::with_capacity(64 * (events.len() + 1));
    out.push_str(CSV_HEADER);
    out.push('\n');
    for e in events {
        let at = crate::format::rfc3339(e.at);
        let amount = format!(
            "{}.{:02}",
            e.price.amount_cents / 100,
            e.price.amount_cents % 100
        );
        let cells = [
            e.id.to_string(),
            at,
            e.account_id.map(|a| a.to_string()).unwrap_or_default(),
            e.email.clone().unwrap_or_default(),
            e.kind.as_str().to_string(),
            e.plan.as_str().to_string(),
            e.from_plan
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            amount,
            e.price.currency.clone(),
            e.reason.map(|r| r.as_str().to_string()).unwrap_or_default(),
            e.detail.clone().unwrap_or_default(),
            e.actor_id.map(|a| a.to_string()).unwrap_or_default(),
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// Subscription movement on one day.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ChurnDay {
    /// Start of the UTC day, ms.
    pub day: Millis,
    /// Sign-ups.
    pub signed_up: i64,
    /// Upgrades.
    pub upgraded: i64,
    /// Downgrades.
    pub downgraded: i64,
    /// Pauses.
    pub paused: i64,
    /// Reactivations.
    pub reactivated: i64,
    /// Cancellations.
    pub cancelled: i64,
    /// Cancellations whose reason is the price.
    pub cancelled_over_price: i64,
}

/// Cancellations for one reason.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasonCount {
    /// The reason.
    pub reason: CancelReason,
    /// How people read it.
    pub label: String,
    /// Cancellations.
    pub count: i64,
}

/// Subscriptions over a window: per day, cancellation reasons, and the
/// latest cancellations in the customers' words.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Churn {
    /// Window start, ms.
    pub since: Millis,
    /// Every day of the window, oldest first.
    pub days: Vec<ChurnDay>,
    /// Cancellations by reason, most first (every reason, zero included).
    pub reasons: Vec<ReasonCount>,
    /// Cancellations in the window.
    pub cancelled: i64,
    /// The latest cancellations.
    pub recent: Vec<wire::plans::AccountEvent>,
}

/// [`Churn`] over the last `days` whole UTC days (today included).
pub async fn churn(state: &AppState, days: i64) -> Result<Churn, AppError> {
    let now = state.clock.now_ms();
    let since = (now.div_euclid(DAY_MS) - (days - 1)) * DAY_MS;
    let counts = state.store.account_event_counts(since).await?;
    let mut out: Vec<ChurnDay> = (0..days)
        .map(|i| ChurnDay {
            day: since + i * DAY_MS,
            ..ChurnDay::default()
        })
        .collect();
    let mut reasons: Vec<ReasonCount> = CANCEL_REASONS
        .into_iter()
        .map(|r| ReasonCount {
            reason: r,
            label: r.label().to_string(),
            count: 0,
        })
        .collect();
    for c in &counts {
        let Some(d) = out.iter_mut().find(|d| d.day == c.day) else {
            continue;
        };
        let slot = match c.kind {
            AccountEventKind::SignedUp => &mut d.signed_up,
            AccountEventKind::Upgraded => &mut d.upgraded,
            AccountEventKind::Downgraded => &mut d.downgraded,
            AccountEventKind::Paused => &mut d.paused,
            AccountEventKind::Reactivated => &mut d.reactivated,
            AccountEventKind::Cancelled => &mut d.cancelled,
        };
        *slot += c.count;
        if let (AccountEventKind::Cancelled, Some(r)) = (c.kind, c.reason) {
            if r == CancelReason::Price {
                d.cancelled_over_price += c.count;
            }
            if let Some(rc) = reasons.iter_mut().find(|x| x.reason == r) {
                rc.count += c.count;
            }
        }
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(r.count));
    let recent = events(
        state,
        &AccountEventQuery {
            kind: Some(AccountEventKind::Cancelled),
            since: Some(since),
            limit: 5,
            ..AccountEventQuery::default()
        },
    )
    .await?;
    Ok(Churn {
        since,
        cancelled: out.iter().map(|d| d.cancelled).sum(),
        days: out,
        reasons,
        recent,
    })
}

/// An account's subscription as its owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Subscription {
    /// The plan.
    pub plan: Plan,
    /// Active, paused or cancelled.
    pub status: marquee_domain::plans::AccountStatus,
    /// What the account pays.
    pub price: Price,
    /// `price` as people read it.
    pub price_display: String,
    /// Streams it may play at once now (0 while paused or cancelled).
    pub stream_cap: u32,
    /// Its subscription events, newest first (at most 50).
    pub events: Vec<wire::plans::AccountEvent>,
}

/// [`Subscription`] of an account.
pub async fn subscription(state: &AppState, account: &Account) -> Result<Subscription, AppError> {
    Ok(Subscription {
        plan: account.plan,
        status: account.status,
        price: account.price.clone(),
        price_display: account.price.display(),
        stream_cap: account.stream_cap(),
        events: events(
            state,
            &AccountEventQuery {
                account_id: Some(account.id),
                limit: 50,
                ..AccountEventQuery::default()
            },
        )
        .await?,
    })
}
