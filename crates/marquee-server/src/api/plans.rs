//! Plans and subscriptions: the plans on offer, the customer's own plan
//! change, pause, reactivation and cancellation; for staff the churn view,
//! and for admins the subscription events (JSON and CSV for a billing
//! system) and plan prices.

use crate::auth::{Admin, CurrentUser, Staff};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::plans::{self, Churn, ChurnDay, PlanOffer, ReasonCount, Subscription};
use crate::service::check_limit;
use crate::wire::plans::{AccountEvent, PlanPrice};
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use marquee_domain::plans::{AccountEventKind, AccountStatus, CancelReason, PlanAction, Price};
use marquee_domain::{Millis, Plan};
use marquee_store::plans::AccountEventQuery;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The plans part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        list_plans, my_subscription, change_plan, pause, reactivate, cancel, staff_events,
        staff_events_csv, staff_churn, add_price
    ),
    components(schemas(
        PlanOffer, PlanPrice, Price, Subscription, AccountEvent, AccountEventKind, AccountStatus,
        CancelReason, ChangePlanRequest, ReactivateRequest, CancelRequest, NewPriceRequest,
        Churn, ChurnDay, ReasonCount
    )),
    tags((name = "plans", description = "Plans, prices, plan changes, pauses and cancellations"))
)]
pub struct Doc;

/// The routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/plans", get(list_plans))
        .route("/account/subscription", get(my_subscription))
        .route("/account/plan", post(change_plan))
        .route("/account/pause", post(pause))
        .route("/account/reactivate", post(reactivate))
        .route("/account/cancel", post(cancel))
        .route("/staff/account-events", get(staff_events))
        .route("/staff/account-events.csv", get(staff_events_csv))
        .route("/staff/churn", get(staff_churn))
        .route("/staff/plans/{plan}/prices", post(add_price))
}

/// The plans on offer: stream cap, price now, any scheduled price, and the
/// price history. Public.
#[utoipa::path(get, path = "/api/v1/plans", tag = "plans",
    responses((status = 200, body = Vec<PlanOffer>)))]
async fn list_plans(State(state): State<AppState>) -> Result<Json<Vec<PlanOffer>>, ApiError> {
    Ok(Json(plans::offers(&state).await?))
}

/// The signed-in account's plan, status, price, stream cap and events.
#[utoipa::path(get, path = "/api/v1/account/subscription", tag = "plans",
    responses((status = 200, body = Subscription), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn my_subscription(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Subscription>, ApiError> {
    Ok(Json(plans::subscription(&state, &user.account).await?))
}

/// Plan change body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePlanRequest {
    /// `basic`, `standard` or `premium`.
    plan: Plan,
}

async fn answer(
    state: &AppState,
    user: &CurrentUser,
    action: PlanAction,
) -> Result<Json<Subscription>, ApiError> {
    let account = plans::apply_own(state, user, &action).await?;
    Ok(Json(plans::subscription(state, &account).await?))
}

/// Moves to another plan at once: the stream cap changes for the next
/// start, and the account pays that plan's current price. 409 when the
/// account is paused or cancelled, or already on that plan.
#[utoipa::path(post, path = "/api/v1/account/plan", tag = "plans", request_body = ChangePlanRequest,
    responses((status = 200, body = Subscription), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn change_plan(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<ChangePlanRequest>,
) -> Result<Json<Subscription>, ApiError> {
    answer(&state, &user, PlanAction::Change(b.plan)).await
}

/// Pauses the subscription: nothing new plays until it is reactivated; the
/// price is kept.
#[utoipa::path(post, path = "/api/v1/account/pause", tag = "plans",
    responses((status = 200, body = Subscription), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn pause(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Subscription>, ApiError> {
    answer(&state, &user, PlanAction::Pause).await
}

/// Reactivation body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactivateRequest {
    /// Come back on another plan.
    #[serde(default)]
    plan: Option<Plan>,
}

/// Reactivates a paused or cancelled subscription (optionally on another
/// plan). After a cancellation the account pays the plan's current price.
#[utoipa::path(post, path = "/api/v1/account/reactivate", tag = "plans", request_body = ReactivateRequest,
    responses((status = 200, body = Subscription), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn reactivate(
    State(state): State<AppState>,
    user: CurrentUser,
    body: axum::body::Bytes,
) -> Result<Json<Subscription>, ApiError> {
    // The body is optional: none means "on the plan it had".
    let plan = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        crate::error::decode_json::<ReactivateRequest>(&body)?.plan
    };
    answer(&state, &user, PlanAction::Reactivate(plan)).await
}

/// Cancellation body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// `price`, `catalog`, `quality`, `support`, `other_service` or `other`.
    reason: CancelReason,
    /// In the customer's own words (at most 2,000 characters).
    #[serde(default)]
    detail: Option<String>,
}

/// Cancels the subscription with a reason. It can be reactivated later.
#[utoipa::path(post, path = "/api/v1/account/cancel", tag = "plans", request_body = CancelRequest,
    responses((status = 200, body = Subscription), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<CancelRequest>,
) -> Result<Json<Subscription>, ApiError> {
    answer(
        &state,
        &user,
        PlanAction::Cancel {
            reason: b.reason,
            detail: b.detail,
        },
    )
    .await
}

/// Which events to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// One kind: `signed_up`, `upgraded`, `downgraded`, `paused`,
    /// `reactivated` or `cancelled`.
    kind: Option<AccountEventKind>,
    /// One account.
    account_id: Option<i64>,
    /// At or after, ms.
    since: Option<Millis>,
    /// Before, ms.
    until: Option<Millis>,
    /// Older than this event id (the next page).
    before_id: Option<i64>,
    /// At most (default 100, up to 1,000; the CSV up to 100,000).
    limit: Option<u32>,
}

impl EventParams {
    fn query(&self, limit: u32) -> AccountEventQuery {
        AccountEventQuery {
            account_id: self.account_id,
            kind: self.kind,
            since: self.since,
            until: self.until,
            before_id: self.before_id,
            limit,
        }
    }
}

/// Subscription events, newest first (admin).
#[utoipa::path(get, path = "/api/v1/staff/account-events", tag = "plans", params(EventParams),
    responses((status = 200, body = Vec<AccountEvent>), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_events(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(p): ApiQuery<EventParams>,
) -> Result<Json<Vec<AccountEvent>>, ApiError> {
    let limit = check_limit(p.limit, 100, 1000)?;
    Ok(Json(plans::events(&state, &p.query(limit)).await?))
}

/// Subscription events as CSV, newest first, for a billing system or a
/// spreadsheet (admin). Cells that a spreadsheet would run as a formula are
/// neutralised.
#[utoipa::path(get, path = "/api/v1/staff/account-events.csv", tag = "plans", params(EventParams),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_events_csv(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(p): ApiQuery<EventParams>,
) -> Result<Response, ApiError> {
    let limit = check_limit(p.limit, 100_000, 100_000)?;
    let events = plans::events(&state, &p.query(limit)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"account-events.csv\"",
            ),
        ],
        plans::events_csv(&events),
    )
        .into_response())
}

/// The churn window.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ChurnParams {
    /// Whole days back, today included (default 30, 1 to 365).
    days: Option<u32>,
}

/// Sign-ups, plan changes, pauses and cancellations per day, and the
/// cancellation reasons (staff).
#[utoipa::path(get, path = "/api/v1/staff/churn", tag = "plans", params(ChurnParams),
    responses((status = 200, body = Churn), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_churn(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(p): ApiQuery<ChurnParams>,
) -> Result<Json<Churn>, ApiError> {
    let days = check_days(p.days)?;
    Ok(Json(plans::churn(&state, days).await?))
}

/// Checks a `days` parameter: 1 to 365, 30 when absent.
pub(crate) fn check_days(days: Option<u32>) -> Result<i64, ApiError> {
    match days.unwrap_or(30) {
        d @ 1..=365 => Ok(i64::from(d)),
        _ => Err(crate::error::AppError::invalid("days", "must be between 1 and 365").into()),
    }
}

/// A new plan price.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPriceRequest {
    /// Minor units (cents), e.g. 1799.
    amount_cents: i64,
    /// ISO 4217, e.g. `USD`.
    currency: String,
    /// When it takes effect, ms (now when absent; not in the past).
    #[serde(default)]
    effective_from: Option<Millis>,
}

/// Enters a plan's new price (admin). New customers pay it from
/// `effective_from`; existing customers keep the price they pay until they
/// change plan or come back after cancelling.
#[utoipa::path(post, path = "/api/v1/staff/plans/{plan}/prices", tag = "plans",
    params(("plan" = Plan, Path)), request_body = NewPriceRequest,
    responses((status = 200, body = PlanOffer), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn add_price(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath(plan): ApiPath<Plan>,
    ApiJson(b): ApiJson<NewPriceRequest>,
) -> Result<Json<PlanOffer>, ApiError> {
    let price = Price::new(b.amount_cents, &b.currency).map_err(crate::error::AppError::from)?;
    Ok(Json(
        plans::add_price(&state, &admin, plan, &price, b.effective_from).await?,
    ))
}
