//! Perks, word of mouth, "We heard you" decisions and the stakeholder
//! overview: `/api/v1/staff/perks…`, `/api/v1/me/perks…`,
//! `/api/v1/me/sharing`, `/api/v1/me/referral`, `/api/v1/me/share-links`,
//! `/api/v1/decisions`, `/api/v1/staff/decisions`, `/api/v1/staff/overview`.

use crate::auth::{Admin, CurrentUser, Staff};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, AppError, ErrorBody};
use crate::overview::{Overview, SentimentDay};
use crate::perks::{self as svc, PassReport, SupportSignal};
use crate::wire;
use crate::wire::decisions::{Decision, Evidence, EvidenceKind};
use crate::wire::overview::{RisingIdea, TitleTrend, ViewingTrends};
use crate::wire::perks::{
    AuditEntry, DaySpend, PerkAward, PerkRule, PerkSpend, ReferralOutcome, RuleSpend, ShareSettings,
};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use marquee_domain::perks::{
    Budget, BudgetVerdict, Condition, DryAward, DryRun, Effect, EffectKind, Field, GlobalBudget,
    Op, ProfileBudget, RuleSpec, Trigger, TriggerKind,
};
use marquee_domain::Millis;
use marquee_store::perks::{self as store, NewPerkEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The OpenAPI document of this module, merged into the main one.
#[derive(OpenApi)]
#[openapi(
    paths(
        list_rules, create_rule, get_rule, update_rule, dry_run_spec, dry_run_rule, post_event,
        audit, spend, my_perks, reveal, get_sharing, put_sharing, claim_referral, share_link,
        public_decisions, create_decision, staff_overview
    ),
    components(schemas(
        PerkRule, RuleSpec, Trigger, TriggerKind, Condition, Field, Op, Effect, EffectKind,
        Budget, GlobalBudget, ProfileBudget, DryRun, DryAward, EventRequest, EventResponse,
        AuditEntry, PerkSpend, RuleSpend, DaySpend, PerkAward, MyPerks, ShareSettings,
        SharingRequest, ReferralRequest, ReferralOutcome, ShareLinkRequest, ShareLink, Decision,
        Evidence, EvidenceKind, DecisionRequest, Overview, SentimentDay, ViewingTrends,
        TitleTrend, RisingIdea, PassReport, BudgetVerdict, crate::support::OverviewSupport
    )),
    tags((name = "perks", description = "Surprise-and-delight rules, their audit trail and the viewer's perks."),
         (name = "sharing", description = "Opt-in share links and referral codes."),
         (name = "decisions", description = "\"We heard you\": decisions and the public changelog."),
         (name = "overview", description = "The stakeholder overview."))
)]
pub struct Doc;

/// The routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/perks/rules", get(list_rules).post(create_rule))
        .route("/staff/perks/rules/{id}", get(get_rule).put(update_rule))
        .route("/staff/perks/rules/{id}/dry-run", get(dry_run_rule))
        .route("/staff/perks/dry-run", post(dry_run_spec))
        .route("/staff/perks/events", post(post_event))
        .route("/staff/perks/audit", get(audit))
        .route("/staff/perks/spend", get(spend))
        .route("/me/perks", get(my_perks))
        .route("/me/perks/{id}/reveal", post(reveal))
        .route("/me/sharing", get(get_sharing).put(put_sharing))
        .route("/me/referral", post(claim_referral))
        .route("/me/share-links", post(share_link))
        .route("/decisions", get(public_decisions))
        .route("/staff/decisions", post(create_decision))
        .route("/staff/overview", get(staff_overview))
}

/// Every rule, oldest first.
#[utoipa::path(get, path = "/api/v1/staff/perks/rules", tag = "perks",
    responses((status = 200, body = Vec<PerkRule>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_rules(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<Json<Vec<PerkRule>>, ApiError> {
    Ok(Json(wire::all(state.store.perk_rules().await?)))
}

/// Saves a rule (admin). A rule that cannot be evaluated is refused with a
/// 400 naming the field: an unknown field, a type mismatch, or no budget.
#[utoipa::path(post, path = "/api/v1/staff/perks/rules", tag = "perks", request_body = RuleSpec,
    responses((status = 201, body = PerkRule), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create_rule(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<PerkRule>), ApiError> {
    let spec = svc::parse_rule(&body)?;
    let rule = state
        .store
        .create_perk_rule(&spec, user.account.id, state.clock.now_ms())
        .await?;
    // Pending events are evaluated against it at once.
    state.perks.wake.notify_one();
    Ok((StatusCode::CREATED, Json(rule.into())))
}

/// One rule.
#[utoipa::path(get, path = "/api/v1/staff/perks/rules/{id}", tag = "perks", params(("id" = i64, Path)),
    responses((status = 200, body = PerkRule), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn get_rule(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<PerkRule>, ApiError> {
    state
        .store
        .perk_rule(id)
        .await?
        .map(|r| Json(r.into()))
        .ok_or_else(|| AppError::NotFound(format!("rule {id} not found")).into())
}

/// Replaces a rule (admin); same validation as creation. Awards already
/// given stay; budgets keep counting them.
#[utoipa::path(put, path = "/api/v1/staff/perks/rules/{id}", tag = "perks", params(("id" = i64, Path)), request_body = RuleSpec,
    responses((status = 200, body = PerkRule), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn update_rule(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<PerkRule>, ApiError> {
    let spec = svc::parse_rule(&body)?;
    let rule = state
        .store
        .update_perk_rule(id, &spec, user.account.id, state.clock.now_ms())
        .await?;
    state.perks.wake.notify_one();
    Ok(Json(rule.into()))
}

/// Dry-run of an unsaved rule: who it would have rewarded over the last 30
/// days of the event log, and at what cost (budgets counted from zero).
#[utoipa::path(post, path = "/api/v1/staff/perks/dry-run", tag = "perks", request_body = RuleSpec,
    responses((status = 200, body = DryRun), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn dry_run_spec(
    State(state): State<AppState>,
    _staff: Staff,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<DryRun>, ApiError> {
    let spec = svc::parse_rule(&body)?;
    Ok(Json(svc::dry_run(&state, &spec).await?))
}

/// Dry-run of a saved rule.
#[utoipa::path(get, path = "/api/v1/staff/perks/rules/{id}/dry-run", tag = "perks", params(("id" = i64, Path)),
    responses((status = 200, body = DryRun), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn dry_run_rule(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DryRun>, ApiError> {
    let rule = state
        .store
        .perk_rule(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("rule {id} not found")))?;
    Ok(Json(svc::dry_run(&state, &rule.spec).await?))
}

/// A trigger event sent by staff or an integration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRequest {
    /// `custom`, `support_csat` (with `score`) or `sla_breach`.
    kind: String,
    /// The customer's account.
    account_id: i64,
    /// A profile of that account; default its first profile.
    profile_id: Option<i64>,
    /// Your idempotency key (e.g. the conversation id): the same key is
    /// logged once, so the same event is never rewarded twice.
    key: String,
    /// For `custom`: the event name rules match on.
    name: Option<String>,
    /// For `support_csat`: 1 to 5.
    score: Option<i64>,
    /// When it happened, ms; default now. Not in the future.
    occurred_at: Option<Millis>,
}

/// What happened to a posted event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    /// Logged (false: a duplicate key, or a signal that needs no recovery).
    recorded: bool,
    /// The event's id when logged.
    event_id: Option<i64>,
    /// Why not, when not.
    reason: Option<String>,
}

fn check_text(field: &'static str, v: &str, max: usize) -> Result<String, AppError> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            format!("must be 1 to {max} characters without control characters"),
        ));
    }
    Ok(t.to_string())
}

/// Logs a custom or support trigger event (agent or admin); it is
/// evaluated against the rules in the background. A support CSAT of at
/// most 2, or an SLA breach, is a `support_recovery` trigger.
#[utoipa::path(post, path = "/api/v1/staff/perks/events", tag = "perks", request_body = EventRequest,
    responses((status = 201, body = EventResponse), (status = 200, body = EventResponse), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn post_event(
    State(state): State<AppState>,
    _staff: Staff,
    ApiJson(b): ApiJson<EventRequest>,
) -> Result<(StatusCode, Json<EventResponse>), ApiError> {
    let now = state.clock.now_ms();
    let key = check_text("key", &b.key, 100)?;
    let at = b.occurred_at.unwrap_or(now);
    if at <= 0 || at > now + 60_000 {
        return Err(
            AppError::invalid("occurred_at", "must be a past time in ms since the epoch").into(),
        );
    }
    let (id, reason) = match b.kind.as_str() {
        "custom" => {
            let name = check_text(
                "name",
                b.name
                    .as_deref()
                    .ok_or_else(|| AppError::invalid("name", "a custom event needs a name"))?,
                60,
            )?;
            if b.score.is_some() {
                return Err(AppError::invalid("score", "only support_csat takes a score").into());
            }
            let id = svc::record_event(
                &state,
                &NewPerkEvent {
                    kind: TriggerKind::Custom,
                    account_id: b.account_id,
                    profile_id: b.profile_id,
                    key: format!("custom:{name}:{key}"),
                    occurred_at: at,
                    name: Some(name),
                    series_id: None,
                    years: None,
                    subject_id: None,
                    data: "{}".into(),
                },
            )
            .await?;
            (id, "this key was logged before")
        }
        "support_csat" | "sla_breach" => {
            if b.name.is_some() {
                return Err(AppError::invalid("name", "only custom events take a name").into());
            }
            if b.profile_id.is_some() {
                return Err(
                    AppError::invalid("profile_id", "support events are per account").into(),
                );
            }
            let signal = if b.kind == "sla_breach" {
                if b.score.is_some() {
                    return Err(
                        AppError::invalid("score", "only support_csat takes a score").into(),
                    );
                }
                SupportSignal::SlaBreach
            } else {
                SupportSignal::Csat(b.score.ok_or_else(|| {
                    AppError::invalid("score", "support_csat needs the score (1 to 5)")
                })?)
            };
            let id = svc::support_signal(&state, b.account_id, &key, signal, at).await?;
            let reason = match signal {
                SupportSignal::Csat(s) if s > svc::RECOVERY_CSAT => {
                    "a CSAT above 2 needs no recovery"
                }
                _ => "this conversation was logged before",
            };
            (id, reason)
        }
        other => {
            return Err(AppError::invalid(
                "kind",
                format!("unknown event kind {other:?}: use custom, support_csat or sla_breach"),
            )
            .into())
        }
    };
    Ok(match id {
        Some(id) => (
            StatusCode::CREATED,
            Json(EventResponse {
                recorded: true,
                event_id: Some(id),
                reason: None,
            }),
        ),
        None => (
            StatusCode::OK,
            Json(EventResponse {
                recorded: false,
                event_id: None,
                reason: Some(reason.into()),
            }),
        ),
    })
}

/// Paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LimitParams {
    /// 1 to 500, default 100.
    limit: Option<u32>,
}

/// The audit trail of every effect given or refused, and every rule change, newest first.
#[utoipa::path(get, path = "/api/v1/staff/perks/audit", tag = "perks", params(LimitParams),
    responses((status = 200, body = Vec<AuditEntry>), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn audit(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(p): ApiQuery<LimitParams>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let limit = super::check_limit(p.limit, 100, 500)?;
    Ok(Json(wire::all(state.store.perk_audit(limit).await?)))
}

/// Perk spend: all time, per rule, and per day over the last 30 days.
#[utoipa::path(get, path = "/api/v1/staff/perks/spend", tag = "perks",
    responses((status = 200, body = PerkSpend)), security(("bearer" = []), ("cookie" = [])))]
async fn spend(State(state): State<AppState>, _staff: Staff) -> Result<Json<PerkSpend>, ApiError> {
    let since = state.clock.now_ms() - svc::DRY_RUN_DAYS * marquee_domain::perks::DAY_MS;
    Ok(Json(state.store.perk_spend(since).await?.into()))
}

/// The viewer's perks.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyPerks {
    /// The account's credit, cents.
    credit_cents: i64,
    /// Features the account has early access to.
    early_access: Vec<String>,
    /// The profile's perks, newest first (unrevealed ones included: the
    /// surprise is in the reveal, not in hiding it from the API).
    awards: Vec<PerkAward>,
}

fn profile_of(user: &CurrentUser) -> Result<i64, AppError> {
    user.profile_id
        .ok_or_else(|| AppError::invalid("profile", "choose a profile first"))
}

/// The selected profile's perks and the account's credit.
#[utoipa::path(get, path = "/api/v1/me/perks", tag = "perks",
    responses((status = 200, body = MyPerks), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn my_perks(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<MyPerks>, ApiError> {
    let profile = profile_of(&user)?;
    Ok(Json(MyPerks {
        credit_cents: state.store.credit_balance(user.account.id).await?,
        early_access: state.store.early_access(user.account.id).await?,
        awards: wire::all(state.store.profile_awards(profile, 100).await?),
    }))
}

/// Unwraps a perk of the selected profile (idempotent).
#[utoipa::path(post, path = "/api/v1/me/perks/{id}/reveal", tag = "perks", params(("id" = i64, Path)),
    responses((status = 200, body = PerkAward), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn reveal(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<PerkAward>, ApiError> {
    let profile = profile_of(&user)?;
    Ok(Json(
        state
            .store
            .reveal_award(profile, id, state.clock.now_ms())
            .await?
            .into(),
    ))
}

/// The account's sharing choice and referral code.
#[utoipa::path(get, path = "/api/v1/me/sharing", tag = "sharing",
    responses((status = 200, body = ShareSettings), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn get_sharing(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<ShareSettings>, ApiError> {
    Ok(Json(
        state.store.share_settings(user.account.id).await?.into(),
    ))
}

/// Opt in or out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharingRequest {
    /// Share links carry your referral code.
    enabled: bool,
}

/// Opts in to (or out of) share links with a referral code. Off by default:
/// Marquee never shares anything without this.
#[utoipa::path(put, path = "/api/v1/me/sharing", tag = "sharing", request_body = SharingRequest,
    responses((status = 200, body = ShareSettings), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn put_sharing(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<SharingRequest>,
) -> Result<Json<ShareSettings>, ApiError> {
    Ok(Json(
        svc::set_sharing(&state, user.account.id, b.enabled)
            .await?
            .into(),
    ))
}

/// A referral code to enter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralRequest {
    /// The friend's code.
    code: String,
}

/// Enters a friend's referral code after signing up (within 30 days).
/// Your own code, or a second code, gives no reward.
#[utoipa::path(post, path = "/api/v1/me/referral", tag = "sharing", request_body = ReferralRequest,
    responses((status = 200, body = ReferralOutcome), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn claim_referral(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<ReferralRequest>,
) -> Result<Json<ReferralOutcome>, ApiError> {
    let age = state.clock.now_ms() - user.account.created_at;
    if age > svc::CLAIM_WINDOW_DAYS * marquee_domain::perks::DAY_MS {
        return Err(AppError::invalid(
            "code",
            "a referral code can be entered within 30 days of signing up",
        )
        .into());
    }
    match svc::attribute(&state, user.account.id, &b.code).await? {
        ok @ store::ReferralOutcome::Converted { .. } => Ok(Json(ok.into())),
        store::ReferralOutcome::SelfReferral => Err(AppError::invalid(
            "code",
            "that is your own referral code: self-referral gives no reward",
        )
        .into()),
        store::ReferralOutcome::AlreadyReferred => Err(AppError::Conflict {
            field: Some("code".into()),
            message: "this account was already referred: a second code gives no reward".into(),
        }
        .into()),
        store::ReferralOutcome::UnknownCode => {
            Err(AppError::invalid("code", "unknown referral code").into())
        }
    }
}

/// A link to share.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareLinkRequest {
    /// The title.
    title_id: i64,
    /// A moment in it, seconds.
    t: Option<i64>,
}

/// A share link.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareLink {
    /// Path, e.g. `/w/42?t=754&ref=ABCD2345`.
    path: String,
    /// Absolute URL when `server.public_url` is set.
    url: Option<String>,
    /// It carries the referral code (only when sharing is on).
    with_referral: bool,
}

/// Builds a share link for a title or a moment in it. It carries the
/// account's referral code only when the account opted in to sharing.
#[utoipa::path(post, path = "/api/v1/me/share-links", tag = "sharing", request_body = ShareLinkRequest,
    responses((status = 200, body = ShareLink), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn share_link(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<ShareLinkRequest>,
) -> Result<Json<ShareLink>, ApiError> {
    let (path, with_referral) = svc::share_path(&state, user.account.id, b.title_id, b.t).await?;
    let url = state
        .config
        .server
        .public_url
        .as_deref()
        .map(|u| format!("{}{path}", u.trim_end_matches('/')));
    Ok(Json(ShareLink {
        path,
        url,
        with_referral,
    }))
}

/// Paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DecisionParams {
    /// 1 to 100, default 20.
    limit: Option<u32>,
    /// Default 0.
    offset: Option<u32>,
}

/// The public changelog of decisions, newest first.
#[utoipa::path(get, path = "/api/v1/decisions", tag = "decisions", params(DecisionParams),
    responses((status = 200, body = Vec<Decision>), (status = 400, body = ErrorBody)))]
async fn public_decisions(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<DecisionParams>,
) -> Result<Json<Vec<Decision>>, ApiError> {
    let limit = super::check_limit(p.limit, 20, 100)?;
    Ok(Json(wire::all(
        state.store.decisions(limit, p.offset.unwrap_or(0)).await?,
    )))
}

/// A decision to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// What was decided, 1 to 120 characters.
    title: String,
    /// Why, 1 to 4000 characters.
    body: String,
    /// The alerts, posts and ideas it answers (1 to 50).
    evidence: Vec<Evidence>,
}

/// Records a decision (agent or admin) and notifies the customers who
/// voted, commented, authored or posted (with a linked handle) about it.
#[utoipa::path(post, path = "/api/v1/staff/decisions", tag = "decisions", request_body = DecisionRequest,
    responses((status = 201, body = Decision), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create_decision(
    State(state): State<AppState>,
    Staff(user): Staff,
    ApiJson(b): ApiJson<DecisionRequest>,
) -> Result<(StatusCode, Json<Decision>), ApiError> {
    let evidence: Vec<_> = wire::all(b.evidence);
    let d = svc::record_decision(&state, user.account.id, &b.title, &b.body, &evidence).await?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

/// The stakeholder overview's figures (what `/staff` shows).
#[utoipa::path(get, path = "/api/v1/staff/overview", tag = "overview",
    responses((status = 200, body = Overview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_overview(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<Json<Overview>, ApiError> {
    Ok(Json(crate::overview::gather(&state).await?))
}
