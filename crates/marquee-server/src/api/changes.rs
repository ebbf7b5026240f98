//! "Listen before you change": customers read the proposals that affect
//! them, react and comment under `/changes`; admins draft, consult, decide,
//! announce and watch trust recover under `/staff/changes`.

use crate::auth::{Admin, CurrentUser};
use crate::changes::{
    self as svc, AfterChange, AfterDay, Announcement, CommentView, Concern, CustomerProposal,
    Dashboard, IdeaRef, Marker, OverviewChange, ProposalInput, ProposalSummary, ProposalView,
    ReactionPoint, ReasonShift, StayRow,
};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, AppError, ErrorBody};
use crate::service::check_limit;
use crate::wire::decisions::Evidence;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use marquee_domain::changes::{
    ChangeKind, Decision, Grandfathering, Impact, ImpactRow, PriceChange, Reaction, Recovery,
    RecoveryRule, Segment, Status, WouldStay,
};
use marquee_domain::Millis;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The proposals part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        my_changes, get_change, react, list_comments, add_comment, staff_list, staff_create,
        staff_get, staff_update, staff_impact, staff_publish, staff_dashboard, staff_decide,
        staff_evidence, staff_announce, staff_after, staff_hide_comment, staff_overview
    ),
    components(schemas(
        ProposalInput, ProposalView, CustomerProposal, ProposalSummary, Announcement,
        CommentView, ReactRequest, ProposalCommentRequest, Dashboard, ReactionPoint, StayRow, Concern,
        IdeaRef, Marker, DecideRequest, AnnounceRequest, AfterChange, AfterDay, ReasonShift,
        StaffProposal, HideRequest, ChangesOverview, OverviewChange, ChangeKind, Decision,
        Grandfathering, Impact, ImpactRow, PriceChange, Reaction, Recovery, RecoveryRule, Segment,
        Status, WouldStay
    )),
    tags((name = "changes", description = "Proposals of a price, plan or product change: consultation of the customers affected, decision, announcement and recovery."))
)]
pub struct Doc;

/// The routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/changes", get(my_changes))
        .route("/changes/{id}", get(get_change))
        .route("/changes/{id}/reaction", put(react))
        .route(
            "/changes/{id}/comments",
            get(list_comments).post(add_comment),
        )
        .route("/staff/changes", get(staff_list).post(staff_create))
        .route("/staff/changes/overview", get(staff_overview))
        .route("/staff/changes/{id}", get(staff_get).put(staff_update))
        .route("/staff/changes/{id}/impact", get(staff_impact))
        .route("/staff/changes/{id}/publish", post(staff_publish))
        .route("/staff/changes/{id}/dashboard", get(staff_dashboard))
        .route("/staff/changes/{id}/evidence", get(staff_evidence))
        .route("/staff/changes/{id}/decision", post(staff_decide))
        .route("/staff/changes/{id}/announcement", post(staff_announce))
        .route("/staff/changes/{id}/after", get(staff_after))
        .route(
            "/staff/changes/comments/{id}/hidden",
            put(staff_hide_comment),
        )
}

/// The proposals the signed-in customer can see: open consultations of
/// their segment and changes announced in the last 60 days.
#[utoipa::path(get, path = "/api/v1/changes", tag = "changes",
    responses((status = 200, body = Vec<ProposalSummary>), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn my_changes(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<ProposalSummary>>, ApiError> {
    Ok(Json(svc::visible_list(&state, &user.account).await?))
}

/// One proposal. A published one is visible to the customers of its
/// segment; an announced one to everyone (also without a session). 404
/// otherwise.
#[utoipa::path(get, path = "/api/v1/changes/{id}", tag = "changes",
    params(("id" = i64, Path)),
    responses((status = 200, body = CustomerProposal), (status = 404, body = ErrorBody)))]
async fn get_change(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CustomerProposal>, ApiError> {
    Ok(Json(
        svc::for_customer(&state, user.as_ref().map(|u| &u.account), id).await?,
    ))
}

/// A reaction.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactRequest {
    /// `support`, `unsure` or `oppose`.
    reaction: Reaction,
    /// Would you stay if it happened: `yes`, `unsure` or `no`.
    #[serde(default)]
    would_stay: Option<WouldStay>,
}

/// Reacts to a proposal in consultation (once per customer; a second call
/// replaces the first). 403 outside its segment and for staff, 409 once
/// the consultation closed.
#[utoipa::path(put, path = "/api/v1/changes/{id}/reaction", tag = "changes",
    params(("id" = i64, Path)), request_body = ReactRequest,
    responses((status = 200, body = CustomerProposal), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn react(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ReactRequest>,
) -> Result<Json<CustomerProposal>, ApiError> {
    Ok(Json(
        svc::react(&state, &user, id, b.reaction, b.would_stay).await?,
    ))
}

/// Paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CommentParams {
    /// At most (default 50, up to 200).
    limit: Option<u32>,
}

/// Comments on a proposal, newest first.
#[utoipa::path(get, path = "/api/v1/changes/{id}/comments", tag = "changes",
    params(("id" = i64, Path), CommentParams),
    responses((status = 200, body = Vec<CommentView>), (status = 404, body = ErrorBody)))]
async fn list_comments(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<CommentParams>,
) -> Result<Json<Vec<CommentView>>, ApiError> {
    let limit = check_limit(p.limit, 50, 200)?;
    Ok(Json(
        svc::comments(&state, user.as_ref().map(|u| &u.account), id, limit).await?,
    ))
}

/// A comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalCommentRequest {
    /// 1 to 2,000 characters.
    body: String,
}

/// Comments on a proposal in consultation; the comment is sentiment-scored
/// like a social post. Rate-limited like idea comments (429).
#[utoipa::path(post, path = "/api/v1/changes/{id}/comments", tag = "changes",
    params(("id" = i64, Path)), request_body = ProposalCommentRequest,
    responses((status = 201, body = CommentView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn add_comment(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ProposalCommentRequest>,
) -> Result<(StatusCode, Json<CommentView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(svc::comment(&state, &user, id, &b.body).await?),
    ))
}

/// Which proposals.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// One status: `draft`, `consulting`, `shipped` or `withdrawn`.
    status: Option<Status>,
}

/// Every proposal, newest change first (admin).
#[utoipa::path(get, path = "/api/v1/staff/changes", tag = "changes", params(ListParams),
    responses((status = 200, body = Vec<ProposalView>)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<Vec<ProposalView>>, ApiError> {
    let statuses: Vec<Status> = p.status.into_iter().collect();
    Ok(Json(crate::wire::all(svc::list(&state, &statuses).await?)))
}

/// A proposal with its impact preview.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffProposal {
    /// The proposal.
    proposal: ProposalView,
    /// Who it affects and the monthly revenue delta, over today's accounts.
    impact: Impact,
}

async fn staff_proposal(
    state: &AppState,
    p: marquee_store::proposals::Proposal,
) -> Result<StaffProposal, AppError> {
    let impact = svc::impact_of(state, &p.draft).await?;
    Ok(StaffProposal {
        proposal: p.into(),
        impact,
    })
}

/// Drafts a proposal (admin).
#[utoipa::path(post, path = "/api/v1/staff/changes", tag = "changes", request_body = ProposalInput,
    responses((status = 201, body = StaffProposal), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(b): ApiJson<ProposalInput>,
) -> Result<(StatusCode, Json<StaffProposal>), ApiError> {
    let p = svc::create(&state, &admin.account, b).await?;
    Ok((StatusCode::CREATED, Json(staff_proposal(&state, p).await?)))
}

/// One proposal with its impact preview (admin).
#[utoipa::path(get, path = "/api/v1/staff/changes/{id}", tag = "changes",
    params(("id" = i64, Path)),
    responses((status = 200, body = StaffProposal)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_get(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<StaffProposal>, ApiError> {
    let p = svc::get(&state, id).await?;
    Ok(Json(staff_proposal(&state, p).await?))
}

/// Replaces a draft (admin). 409 once it was published.
#[utoipa::path(put, path = "/api/v1/staff/changes/{id}", tag = "changes",
    params(("id" = i64, Path)), request_body = ProposalInput,
    responses((status = 200, body = StaffProposal), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_update(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ProposalInput>,
) -> Result<Json<StaffProposal>, ApiError> {
    let p = svc::update(&state, id, b).await?;
    Ok(Json(staff_proposal(&state, p).await?))
}

/// The impact preview alone: accounts affected by plan and tenure band and
/// the monthly revenue delta (admin).
#[utoipa::path(get, path = "/api/v1/staff/changes/{id}/impact", tag = "changes",
    params(("id" = i64, Path)),
    responses((status = 200, body = Impact)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_impact(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Impact>, ApiError> {
    let p = svc::get(&state, id).await?;
    Ok(Json(svc::impact_of(&state, &p.draft).await?))
}

/// Puts a draft out for consultation to its segment (admin). 409 unless it
/// is a draft.
#[utoipa::path(post, path = "/api/v1/staff/changes/{id}/publish", tag = "changes",
    params(("id" = i64, Path)),
    responses((status = 200, body = ProposalView), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_publish(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ProposalView>, ApiError> {
    Ok(Json(svc::publish(&state, id).await?.into()))
}

/// The consultation dashboard (admin): reactions over time, comment and
/// post sentiment, top concerns, "would stay" by segment, ideas, support
/// conversations, cancellations and downgrades pointing at it, scoped
/// backlash alerts. `/staff/changes/{id}/stream` pushes when to refetch.
#[utoipa::path(get, path = "/api/v1/staff/changes/{id}/dashboard", tag = "changes",
    params(("id" = i64, Path)),
    responses((status = 200, body = Dashboard)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_dashboard(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Dashboard>, ApiError> {
    Ok(Json(svc::dashboard(&state, id).await?))
}

/// What a decision would link as its evidence (admin).
#[utoipa::path(get, path = "/api/v1/staff/changes/{id}/evidence", tag = "changes",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Evidence>)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_evidence(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<Evidence>>, ApiError> {
    Ok(Json(crate::wire::all(
        svc::evidence_candidates(&state, id).await?,
    )))
}

/// A decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// `ship`, `revise` or `withdraw`.
    decision: Decision,
    /// Why, in words customers read (1 to 4,000 characters).
    note: String,
    /// The alerts, posts, ideas and conversations it answers (at most 50);
    /// absent: every candidate of `/evidence`.
    #[serde(default)]
    evidence: Option<Vec<Evidence>>,
}

/// Ships, revises or withdraws a proposal in consultation (admin). The
/// decision is recorded with its evidence in "We heard you" and notifies
/// everyone who reacted or commented; a shipped price change gets its plan
/// price at the planned date. 409 unless it is in consultation.
#[utoipa::path(post, path = "/api/v1/staff/changes/{id}/decision", tag = "changes",
    params(("id" = i64, Path)), request_body = DecideRequest,
    responses((status = 200, body = ProposalView), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_decide(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<DecideRequest>,
) -> Result<Json<ProposalView>, ApiError> {
    let evidence = b.evidence.map(crate::wire::all);
    Ok(Json(
        svc::decide(&state, &admin.account, id, b.decision, &b.note, evidence)
            .await?
            .into(),
    ))
}

/// An announcement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnounceRequest {
    /// Title (absent: the template's).
    #[serde(default)]
    title: Option<String>,
    /// Text in Markdown (absent: the template's; the apology for a
    /// withdrawn change).
    #[serde(default)]
    body: Option<String>,
    /// When it goes out, ms (absent: now; within a year).
    #[serde(default)]
    at: Option<Millis>,
}

/// Schedules the announcement of a decided proposal to its segment: an
/// in-app banner, a notification and e-mail as each customer prefers, sent
/// once (admin). 409 unless shipped or withdrawn and not yet announced.
#[utoipa::path(post, path = "/api/v1/staff/changes/{id}/announcement", tag = "changes",
    params(("id" = i64, Path)), request_body = AnnounceRequest,
    responses((status = 200, body = ProposalView), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_announce(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<AnnounceRequest>,
) -> Result<Json<ProposalView>, ApiError> {
    let p = svc::get(&state, id).await?;
    let (title, body) = svc::announcement_template(&p);
    let title = b.title.unwrap_or(title);
    let body = b.body.unwrap_or(body);
    Ok(Json(
        svc::schedule_announcement(&state, id, &title, &body, b.at)
            .await?
            .into(),
    ))
}

/// Before and after the announcement (admin): matching posts' volume and
/// sentiment, cancellations with reasons, downgrades, support load, CSAT,
/// idea votes per day, and the trust recovery.
#[utoipa::path(get, path = "/api/v1/staff/changes/{id}/after", tag = "changes",
    params(("id" = i64, Path)),
    responses((status = 200, body = AfterChange)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_after(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AfterChange>, ApiError> {
    Ok(Json(svc::after_change(&state, id).await?))
}

/// Hides or shows a comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HideRequest {
    /// Hidden.
    hidden: bool,
}

/// Hides or shows a comment (admin).
#[utoipa::path(put, path = "/api/v1/staff/changes/comments/{id}/hidden", tag = "changes",
    params(("id" = i64, Path)), request_body = HideRequest,
    responses((status = 204)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_hide_comment(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<HideRequest>,
) -> Result<StatusCode, ApiError> {
    svc::hide_comment(&state, id, b.hidden).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Open consultations and recoveries in progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesOverview {
    /// Proposals in consultation.
    open: Vec<OverviewChange>,
    /// Changes announced in the last 60 days.
    recovering: Vec<OverviewChange>,
}

/// Open consultations and recoveries in progress (admin).
#[utoipa::path(get, path = "/api/v1/staff/changes/overview", tag = "changes",
    responses((status = 200, body = ChangesOverview)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_overview(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<ChangesOverview>, ApiError> {
    let (open, recovering) = svc::overview(&state).await?;
    Ok(Json(ChangesOverview { open, recovering }))
}
