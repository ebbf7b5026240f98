//! The idea box API: `/api/v1/ideas…`, `/api/v1/notifications…`,
//! `/api/v1/staff/ideas` and `/api/v1/webhooks…`.

use crate::auth::{Admin, CurrentUser, Staff};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, AppError, ErrorBody};
use crate::ideas::{self as svc, parse_sort, webhook_input, IdeaInput, StatusInput};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use marquee_domain::ideas::{Author, Idea, IdeaComment, IdeaStatus, Notification, StatusChange};
use marquee_domain::TagCount;
use marquee_store::ideas::{IdeaQuery, IdeaSort, Visibility};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The idea box's OpenAPI document, merged into the main one.
#[derive(OpenApi)]
#[openapi(
    paths(
        list_ideas, create_idea, similar_ideas, launched_ideas, idea_tags, get_idea, vote, unvote,
        add_comment, change_status, merge_idea, moderate_idea, set_tags, moderate_comment,
        staff_ideas, idea_voice, notifications, read_notifications, list_webhooks, create_webhook,
        delete_webhook, webhook_deliveries
    ),
    components(schemas(
        Idea, IdeaComment, IdeaStatus, StatusChange, Notification, Author, TagCount, IdeasPage,
        IdeaDetail, CommentView, NewIdeaRequest, VoteResponse, CommentRequest, StatusRequest,
        MergeRequest, StatusResponse, ModerationRequest, TagsRequest, NotificationsPage,
        WebhookView, NewWebhookRequest, DeliveryView, crate::voice::Voice,
        crate::wire::support::Mention,
        marquee_domain::textmatch::TextMatch
    )),
    tags((name = "ideas", description = "The idea box: propose, vote, comment, follow status changes."),
         (name = "notifications"), (name = "webhooks"))
)]
pub struct Doc;

/// The routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ideas", get(list_ideas).post(create_idea))
        .route("/ideas/similar", get(similar_ideas))
        .route("/ideas/launched", get(launched_ideas))
        .route("/ideas/tags", get(idea_tags))
        .route("/ideas/{id}", get(get_idea))
        .route("/ideas/{id}/vote", put(vote).delete(unvote))
        .route("/ideas/{id}/comments", post(add_comment))
        .route("/ideas/{id}/status", post(change_status))
        .route("/ideas/{id}/merge", post(merge_idea))
        .route("/ideas/{id}/moderation", post(moderate_idea))
        .route("/ideas/{id}/tags", put(set_tags))
        .route("/ideas/comments/{id}/moderation", post(moderate_comment))
        .route("/staff/ideas", get(staff_ideas))
        .route("/staff/ideas/{id}/voice", get(idea_voice))
        .route("/notifications", get(notifications))
        .route("/notifications/read", post(read_notifications))
        .route("/webhooks", get(list_webhooks).post(create_webhook))
        .route("/webhooks/{id}", axum::routing::delete(delete_webhook))
        .route("/webhooks/{id}/deliveries", get(webhook_deliveries))
}

/// Idea listing parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `trending` (default: votes decayed by age), `top`, `new` or `my_votes` (needs a log-in).
    sort: Option<String>,
    /// Only ideas with this tag.
    tag: Option<String>,
    /// Only this status; without it duplicates are left out.
    status: Option<String>,
    /// 1 to 100, default 20.
    limit: Option<u32>,
    /// Default 0.
    offset: Option<u32>,
}

/// A page of ideas, with the asking account's vote budget.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdeasPage {
    /// The ideas.
    items: Vec<Idea>,
    /// Votes the account has on open ideas.
    votes_used: Option<i64>,
    /// The per-account budget, when one is configured.
    vote_budget: Option<u32>,
}

/// Lists ideas. Public; logged in, `voted` and `my_votes` apply to you.
#[utoipa::path(get, path = "/api/v1/ideas", tag = "ideas", params(ListParams),
    responses((status = 200, body = IdeasPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_ideas(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<IdeasPage>, ApiError> {
    let sort = parse_sort(p.sort.as_deref())?;
    if sort == IdeaSort::MyVotes && user.is_none() {
        return Err(AppError::Unauthorized("log in to see your votes".into()).into());
    }
    let status = match p.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(s.parse::<IdeaStatus>()?),
    };
    let viewer = user.as_ref().map(|u| u.account.id);
    let items = state
        .store
        .list_ideas(&IdeaQuery {
            viewer,
            sort,
            tag: p
                .tag
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty()),
            status,
            author: None,
            visibility: Visibility::Public,
            now: state.clock.now_ms(),
            limit: super::check_limit(p.limit, 20, 100)?,
            offset: p.offset.unwrap_or(0),
        })
        .await?;
    let votes_used = match viewer {
        Some(v) => Some(state.store.votes_used(v).await?),
        None => None,
    };
    Ok(Json(IdeasPage {
        items,
        votes_used,
        vote_budget: state.config.ideas.vote_budget,
    }))
}

/// A new idea.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIdeaRequest {
    /// 1 to 120 characters.
    title: String,
    /// Markdown, at most 10,000 characters; rendered sanitised.
    #[serde(default)]
    description: String,
    /// Up to 8 tags of letters, digits, spaces and `-`.
    #[serde(default)]
    tags: Vec<String>,
}

/// Proposes an idea. Rate-limited per account (429); with the moderation
/// queue on, it waits for approval (`approved: false`).
#[utoipa::path(post, path = "/api/v1/ideas", tag = "ideas", request_body = NewIdeaRequest,
    responses((status = 201, body = Idea), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn create_idea(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<NewIdeaRequest>,
) -> Result<(StatusCode, Json<Idea>), ApiError> {
    let idea = svc::post_idea(
        &state,
        &user,
        &IdeaInput {
            title: b.title,
            description: b.description,
            tags: b.tags,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(idea)))
}

/// Similar-ideas parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SimilarParams {
    /// The text typed so far (a title).
    q: String,
    /// 1 to 100, default 5.
    limit: Option<u32>,
}

/// Ideas similar to a text, best first (FTS5 BM25 over title and description).
#[utoipa::path(get, path = "/api/v1/ideas/similar", tag = "ideas", params(SimilarParams),
    responses((status = 200, body = Vec<Idea>), (status = 400, body = ErrorBody)))]
async fn similar_ideas(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    ApiQuery(p): ApiQuery<SimilarParams>,
) -> Result<Json<Vec<Idea>>, ApiError> {
    if p.q.chars().count() > 200 {
        return Err(AppError::invalid("q", "must be at most 200 characters").into());
    }
    let limit = super::check_limit(p.limit, 5, 100)?;
    Ok(Json(
        state
            .store
            .similar_ideas(&p.q, user.map(|u| u.account.id), limit)
            .await?,
    ))
}

/// Page parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1 to 100, default 20.
    limit: Option<u32>,
    /// Default 0.
    offset: Option<u32>,
}

/// Launched ideas, most recent launch first, with their authors and release notes.
#[utoipa::path(get, path = "/api/v1/ideas/launched", tag = "ideas", params(PageParams),
    responses((status = 200, body = Vec<Idea>), (status = 400, body = ErrorBody)))]
async fn launched_ideas(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Result<Json<Vec<Idea>>, ApiError> {
    Ok(Json(
        state
            .store
            .list_ideas(&IdeaQuery {
                sort: IdeaSort::RecentlyChanged,
                status: Some(IdeaStatus::Launched),
                limit: super::check_limit(p.limit, 20, 100)?,
                offset: p.offset.unwrap_or(0),
                now: state.clock.now_ms(),
                ..Default::default()
            })
            .await?,
    ))
}

/// Tags of public ideas with their counts.
#[utoipa::path(get, path = "/api/v1/ideas/tags", tag = "ideas", responses((status = 200, body = Vec<TagCount>)))]
async fn idea_tags(State(state): State<AppState>) -> Result<Json<Vec<TagCount>>, ApiError> {
    Ok(Json(
        state
            .store
            .idea_tags()
            .await?
            .into_iter()
            .map(|(tag, count)| TagCount { tag, count })
            .collect(),
    ))
}

/// A comment with its sanitised HTML.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    /// The comment.
    #[serde(flatten)]
    comment: IdeaComment,
    /// The body rendered from Markdown and sanitised.
    body_html: String,
}

impl From<IdeaComment> for CommentView {
    fn from(c: IdeaComment) -> Self {
        CommentView {
            body_html: crate::markdown::render(&c.body).to_string(),
            comment: c,
        }
    }
}

/// An idea with its rendered description, comments and history.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdeaDetail {
    /// The idea.
    #[serde(flatten)]
    idea: Idea,
    /// The description rendered from Markdown and sanitised.
    description_html: String,
    /// Comments, oldest first.
    comments: Vec<CommentView>,
    /// Status changes, oldest first, each with its explanation.
    history: Vec<StatusChange>,
}

/// One idea with comments and status history.
#[utoipa::path(get, path = "/api/v1/ideas/{id}", tag = "ideas", params(("id" = i64, Path, description = "Idea id")),
    responses((status = 200, body = IdeaDetail), (status = 404, body = ErrorBody), (status = 400, body = ErrorBody)))]
async fn get_idea(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<IdeaDetail>, ApiError> {
    let idea = svc::visible_idea(&state, id, user.as_ref()).await?;
    let staff = user.as_ref().is_some_and(|u| u.account.role.is_staff());
    let comments = state.store.comments(id, staff).await?;
    let history = state.store.status_history(id).await?;
    Ok(Json(IdeaDetail {
        description_html: crate::markdown::render(&idea.description).to_string(),
        idea,
        comments: comments.into_iter().map(CommentView::from).collect(),
        history,
    }))
}

/// The vote state after a vote or its withdrawal.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoteResponse {
    /// Whether you now vote for it.
    voted: bool,
    /// Its distinct voters.
    votes: i64,
    /// Your votes on open ideas.
    votes_used: i64,
    /// Your budget, when one is configured.
    vote_budget: Option<u32>,
}

/// Votes for an idea (idempotent). 409 on a closed or merged idea, or when
/// the vote budget is used up.
#[utoipa::path(put, path = "/api/v1/ideas/{id}/vote", tag = "ideas", params(("id" = i64, Path, description = "Idea id")),
    responses((status = 200, body = VoteResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn vote(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<VoteResponse>, ApiError> {
    let v = svc::vote(&state, &user, id).await?;
    Ok(Json(VoteResponse {
        voted: v.voted,
        votes: v.votes,
        votes_used: v.budget_used,
        vote_budget: state.config.ideas.vote_budget,
    }))
}

/// Withdraws your vote (idempotent). 409 on a closed idea.
#[utoipa::path(delete, path = "/api/v1/ideas/{id}/vote", tag = "ideas", params(("id" = i64, Path, description = "Idea id")),
    responses((status = 200, body = VoteResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn unvote(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<VoteResponse>, ApiError> {
    let v = svc::unvote(&state, &user, id).await?;
    Ok(Json(VoteResponse {
        voted: v.voted,
        votes: v.votes,
        votes_used: v.budget_used,
        vote_budget: state.config.ideas.vote_budget,
    }))
}

/// A comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    /// Markdown, 1 to 5,000 characters.
    body: String,
}

/// Comments on an idea; staff comments are marked official. 409 on a locked
/// thread; rate-limited per account (429).
#[utoipa::path(post, path = "/api/v1/ideas/{id}/comments", tag = "ideas", params(("id" = i64, Path, description = "Idea id")),
    request_body = CommentRequest,
    responses((status = 201, body = CommentView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn add_comment(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<CommentRequest>,
) -> Result<(StatusCode, Json<CommentView>), ApiError> {
    let c = svc::comment(&state, &user, id, &b.body).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// A status change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// The new status.
    status: IdeaStatus,
    /// Why: shown on the idea and sent to subscribers.
    explanation: String,
    /// For `launched`: the release note's URL.
    release_note_url: Option<String>,
    /// For `duplicate`: the original's id (this merges the two).
    duplicate_of: Option<i64>,
}

/// The idea after a status change, and how many subscribers were notified.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusResponse {
    /// The idea that now carries the votes (the original, after a merge).
    idea: Idea,
    /// Accounts notified.
    notified: u64,
}

/// Changes an idea's status with an explanation (staff). Subscribers (the
/// author, voters and commenters) are notified in-app and webhooks fire.
#[utoipa::path(post, path = "/api/v1/ideas/{id}/status", tag = "ideas", params(("id" = i64, Path, description = "Idea id")),
    request_body = StatusRequest,
    responses((status = 200, body = StatusResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn change_status(
    State(state): State<AppState>,
    Staff(user): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<StatusRequest>,
) -> Result<Json<StatusResponse>, ApiError> {
    let (idea, notified) = svc::change_status(
        &state,
        &user,
        id,
        &StatusInput {
            status: b.status.as_str().into(),
            explanation: b.explanation,
            release_note_url: b.release_note_url,
            duplicate_of: b.duplicate_of,
        },
    )
    .await?;
    Ok(Json(StatusResponse { idea, notified }))
}

/// A merge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The original idea's id.
    duplicate_of: i64,
    /// Why.
    explanation: String,
}

/// Merges this idea into an original (staff): its voters move over (counted
/// once), the two are linked and this one becomes `duplicate of #N`. 400 for
/// a merge into itself or into a cycle.
#[utoipa::path(post, path = "/api/v1/ideas/{id}/merge", tag = "ideas", params(("id" = i64, Path, description = "The duplicate's id")),
    request_body = MergeRequest,
    responses((status = 200, body = StatusResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn merge_idea(
    State(state): State<AppState>,
    Staff(user): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<MergeRequest>,
) -> Result<Json<StatusResponse>, ApiError> {
    let (idea, notified) = svc::merge(&state, &user, id, b.duplicate_of, &b.explanation).await?;
    Ok(Json(StatusResponse { idea, notified }))
}

/// A moderation action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerationRequest {
    /// `approve`, `hide`, `unhide`, `lock` or `unlock` (comments: `hide`, `unhide`).
    action: String,
}

/// Approves a queued idea, hides spam, or locks the thread (staff).
#[utoipa::path(post, path = "/api/v1/ideas/{id}/moderation", tag = "ideas", params(("id" = i64, Path, description = "Idea id")),
    request_body = ModerationRequest,
    responses((status = 200, body = Idea), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn moderate_idea(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ModerationRequest>,
) -> Result<Json<Idea>, ApiError> {
    let action = svc::moderation(&b.action)?;
    Ok(Json(
        state
            .store
            .moderate_idea(id, action, state.clock.now_ms())
            .await?,
    ))
}

/// New tags.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsRequest {
    /// Up to 8 tags.
    tags: Vec<String>,
}

/// Replaces an idea's tags (staff).
#[utoipa::path(put, path = "/api/v1/ideas/{id}/tags", tag = "ideas", params(("id" = i64, Path, description = "Idea id")),
    request_body = TagsRequest,
    responses((status = 200, body = Idea), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_tags(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<TagsRequest>,
) -> Result<Json<Idea>, ApiError> {
    let tags = marquee_domain::ideas::tags(&b.tags)?;
    Ok(Json(
        state
            .store
            .set_idea_tags(id, &tags, state.clock.now_ms())
            .await?,
    ))
}

/// Hides or shows a comment (staff).
#[utoipa::path(post, path = "/api/v1/ideas/comments/{id}/moderation", tag = "ideas", params(("id" = i64, Path, description = "Comment id")),
    request_body = ModerationRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn moderate_comment(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ModerationRequest>,
) -> Result<StatusCode, ApiError> {
    let hidden = match b.action.as_str() {
        "hide" => true,
        "unhide" => false,
        other => {
            return Err(AppError::invalid(
                "action",
                format!("unknown action {other:?}: use hide or unhide"),
            )
            .into())
        }
    };
    state.store.set_comment_hidden(id, hidden).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Staff listing parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StaffParams {
    /// `pending` (default: the moderation queue), `hidden` or `all`.
    queue: Option<String>,
    /// 1 to 100, default 50.
    limit: Option<u32>,
    /// Default 0.
    offset: Option<u32>,
}

/// Voice-of-the-customer window.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VoiceParams {
    /// Days back from today, 1 to 365; default 30.
    days: Option<i64>,
}

/// What social listening heard about an idea: matching posts per day with their
/// sentiment, the trend, the newest posts (staff).
#[utoipa::path(get, path = "/api/v1/staff/ideas/{id}/voice", tag = "ideas",
    params(("id" = i64, Path, description = "Idea id"), VoiceParams),
    responses((status = 200, body = crate::voice::Voice), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn idea_voice(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<VoiceParams>,
) -> Result<Json<crate::voice::Voice>, ApiError> {
    let (v, _) = crate::voice::voice(&state, id, p.days.unwrap_or(30)).await?;
    Ok(Json(v))
}

/// The moderation queue, hidden ideas, or everything (staff).
#[utoipa::path(get, path = "/api/v1/staff/ideas", tag = "ideas", params(StaffParams),
    responses((status = 200, body = Vec<Idea>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn staff_ideas(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(p): ApiQuery<StaffParams>,
) -> Result<Json<Vec<Idea>>, ApiError> {
    let visibility = match p.queue.as_deref() {
        None | Some("pending") => Visibility::Pending,
        Some("hidden") => Visibility::Hidden,
        Some("all") => Visibility::All,
        Some(other) => {
            return Err(AppError::invalid(
                "queue",
                format!("unknown queue {other:?}: use pending, hidden or all"),
            )
            .into())
        }
    };
    Ok(Json(
        state
            .store
            .list_ideas(&IdeaQuery {
                sort: IdeaSort::New,
                visibility,
                status: None,
                limit: super::check_limit(p.limit, 50, 100)?,
                offset: p.offset.unwrap_or(0),
                now: state.clock.now_ms(),
                ..Default::default()
            })
            .await?,
    ))
}

/// Your notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationsPage {
    /// Unread count.
    unread: i64,
    /// Newest first.
    items: Vec<Notification>,
}

/// Your notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    responses((status = 200, body = NotificationsPage), (status = 401, body = ErrorBody)))]
async fn notifications(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<NotificationsPage>, ApiError> {
    Ok(Json(NotificationsPage {
        unread: state.store.unread_notifications(user.account.id).await?,
        items: state.store.notifications(user.account.id, 50).await?,
    }))
}

/// Marks all your notifications read.
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "notifications",
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn read_notifications(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .mark_notifications_read(user.account.id, state.clock.now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook endpoint. The secret is shown only when it is created.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    /// Id.
    id: i64,
    /// Where events are POSTed.
    url: String,
    /// Space-separated event names, or `*`.
    events: String,
    /// Active.
    active: bool,
    /// Created, ms.
    created_at: i64,
    /// The HMAC-SHA256 key: only in the answer to the creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

fn webhook_view(e: marquee_store::outbox::WebhookEndpoint, with_secret: bool) -> WebhookView {
    WebhookView {
        id: e.id,
        url: e.url,
        events: e.events,
        active: e.active,
        created_at: e.created_at,
        secret: with_secret.then_some(e.secret),
    }
}

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookRequest {
    /// http(s) URL.
    url: String,
    /// The signing key; generated when absent (at least 16 characters).
    secret: Option<String>,
    /// Event names, e.g. `["idea.status_changed"]`; all events when absent.
    events: Option<Vec<String>>,
}

/// Webhook endpoints (admin).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<WebhookView>), (status = 403, body = ErrorBody)))]
async fn list_webhooks(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<WebhookView>>, ApiError> {
    Ok(Json(
        state
            .store
            .webhooks()
            .await?
            .into_iter()
            .map(|e| webhook_view(e, false))
            .collect(),
    ))
}

/// Adds a webhook endpoint (admin). The answer holds the signing secret once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = NewWebhookRequest,
    responses((status = 201, body = WebhookView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_webhook(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(b): ApiJson<NewWebhookRequest>,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    let (url, secret, events) = webhook_input(
        &b.url,
        b.secret.as_deref(),
        b.events.as_deref(),
        state.config.webhooks.allow_private,
    )?;
    let e = state
        .store
        .create_webhook(&url, &secret, &events, state.clock.now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(webhook_view(e, true))))
}

/// Removes a webhook endpoint and its deliveries (admin).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path, description = "Endpoint id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_webhook(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_webhook(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A delivery attempt record.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Id (the `X-Marquee-Delivery` header).
    id: i64,
    /// Event name.
    event: String,
    /// `pending`, `delivered` or `failed`.
    state: String,
    /// Attempts made.
    attempts: i64,
    /// Last HTTP status.
    last_status: Option<i64>,
    /// Last error.
    last_error: Option<String>,
    /// Next attempt, ms (pending only).
    next_attempt_at: i64,
    /// Created, ms.
    created_at: i64,
    /// Delivered, ms.
    delivered_at: Option<i64>,
}

/// Recent deliveries of an endpoint, newest first (admin).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", params(("id" = i64, Path, description = "Endpoint id")),
    responses((status = 200, body = Vec<DeliveryView>), (status = 403, body = ErrorBody)))]
async fn webhook_deliveries(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    Ok(Json(
        state
            .store
            .deliveries(id, 100)
            .await?
            .into_iter()
            .map(|d| DeliveryView {
                id: d.id,
                event: d.event,
                state: d.state,
                attempts: d.attempts,
                last_status: d.last_status,
                last_error: d.last_error,
                next_attempt_at: d.next_attempt_at,
                created_at: d.created_at,
                delivered_at: d.delivered_at,
            })
            .collect(),
    ))
}
