//! Support chat API: the customer's conversations (`/api/v1/support/…`), the
//! staff inbox (`/api/v1/staff/support/…`), live events over SSE, stream
//! errors from the players (`/api/v1/playback/errors`).

use crate::auth::{Admin, ClientIp, CurrentUser, Staff};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, AppError, ErrorBody};
use crate::support::visitor::{self, HoursStatus};
use crate::support::{
    self, assignee_filter, check_agent, check_sla, window, CustomerConversation, MessageView, Next,
    Report,
};
use crate::wire;
use crate::wire::support::{
    AgentSettings, Canned, Conversation, CsatAnswer, EventRecord, ShareInfo, StreamError,
    SupportContext,
};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use marquee_domain::support::{ConvStatus, Priority, SlaPolicy};
use marquee_store::support::{self as store, InboxQuery, NewStreamError};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The support chat's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        my_conversations, start_conversation, get_conversation, list_messages, post_message,
        typing, read, csat, share, unshare, email_transcript, customer_events, stream_error,
        inbox, staff_conversation, staff_message, staff_update, staff_assign, canned_list,
        canned_create, canned_delete, sla_get, sla_put, agents_get, agents_put, metrics,
        staff_events, hours, visitor_start, visitor_messages, visitor_post, visitor_verify
    ),
    components(schemas(
        CustomerConversation, MessageView, Conversation, CsatAnswer, ShareInfo, Canned,
        AgentSettings, StreamError, SupportContext, Report, ConvStatus, Priority, SlaPolicy,
        StartConversationRequest, MessageRequest, TypingRequest, ReadRequest, CsatRequest, ShareResponse,
        StreamErrorRequest, StaffMessageRequest, UpdateRequest, AssignRequest, CannedRequest,
        AgentRequest, ConversationDetail, Started, EmailRequest, EventRecord, HoursStatus,
        VisitorStartRequest, VisitorStarted, VisitorThread, VerifyRequest, VisitorVerifiedBody
    )),
    tags((name = "support"))
)]
pub struct Doc;

/// The support routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/support/conversations",
            get(my_conversations).post(start_conversation),
        )
        .route("/support/conversations/{id}", get(get_conversation))
        .route(
            "/support/conversations/{id}/messages",
            get(list_messages).post(post_message),
        )
        .route("/support/conversations/{id}/typing", post(typing))
        .route("/support/conversations/{id}/read", post(read))
        .route("/support/conversations/{id}/csat", post(csat))
        .route(
            "/support/conversations/{id}/share",
            post(share).delete(unshare),
        )
        .route("/support/conversations/{id}/email", post(email_transcript))
        .route("/support/events", get(customer_events))
        .route("/support/hours", get(hours))
        .route("/support/visitor", post(visitor_start))
        .route(
            "/support/visitor/messages",
            get(visitor_messages).post(visitor_post),
        )
        .route("/support/visitor/verify", post(visitor_verify))
        .route("/playback/errors", post(stream_error))
        .route("/staff/support/conversations", get(inbox))
        .route(
            "/staff/support/conversations/{id}",
            get(staff_conversation).patch(staff_update),
        )
        .route(
            "/staff/support/conversations/{id}/messages",
            post(staff_message),
        )
        .route(
            "/staff/support/conversations/{id}/assign",
            post(staff_assign),
        )
        .route(
            "/staff/support/canned",
            get(canned_list).post(canned_create),
        )
        .route("/staff/support/canned/{id}", delete(canned_delete))
        .route("/staff/support/sla", get(sla_get).put(sla_put))
        .route("/staff/support/agents", get(agents_get))
        .route("/staff/support/agents/{id}", put(agents_put))
        .route("/staff/support/metrics", get(metrics))
        .route("/staff/support/events", get(staff_events))
}

/// The customer's conversations, newest first.
#[utoipa::path(get, path = "/api/v1/support/conversations", tag = "support",
    responses((status = 200, body = Vec<CustomerConversation>), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn my_conversations(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<CustomerConversation>>, ApiError> {
    let cs = state.store.conversations_of(user.account.id, 50).await?;
    Ok(Json(cs.iter().map(support::customer_view).collect()))
}

/// A new conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartConversationRequest {
    /// The first message, 1 to 4000 characters (shown as typed, escaped).
    body: String,
    /// Default `normal`.
    priority: Option<Priority>,
}

/// A started conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Started {
    /// The conversation.
    conversation: CustomerConversation,
    /// Its first message.
    message: Option<MessageView>,
}

/// Opens a conversation (auto-assigned round-robin, or queued when every agent is full).
#[utoipa::path(post, path = "/api/v1/support/conversations", tag = "support", request_body = StartConversationRequest,
    responses((status = 201, body = Started), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn start_conversation(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<StartConversationRequest>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let w = support::start(&state, &user, &b.body, b.priority).await?;
    Ok((
        StatusCode::CREATED,
        Json(Started {
            conversation: support::customer_view(&w.conversation),
            message: w.message.as_ref().map(|m| support::message_view(m, false)),
        }),
    ))
}

/// One conversation with its messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDetail {
    /// The customer's view (customers) …
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<CustomerConversation>,
    /// … or the full record (staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    staff: Option<Conversation>,
    /// Messages, oldest first (internal notes for staff only).
    messages: Vec<MessageView>,
    /// CSAT answers, one per resolution.
    csat: Vec<CsatAnswer>,
    /// The live share link, if any (the token is shown only when made).
    share: Option<ShareInfo>,
    /// The customer context panel (staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<SupportContext>,
    /// Whether transcripts can be e-mailed.
    email_available: bool,
    /// The event log: assignments (manual ones are reassignments), status
    /// changes, CSAT, shares (staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<EventRecord>>,
}

async fn detail(
    state: &AppState,
    user: &CurrentUser,
    c: store::Conversation,
    staff_view: bool,
) -> Result<ConversationDetail, AppError> {
    let msgs = state.store.messages(c.id, staff_view, 0, 10_000).await?;
    Ok(ConversationDetail {
        messages: support::attachments::message_views(state, c.id, &msgs, staff_view).await?,
        csat: wire::all(state.store.csat_answers(c.id).await?),
        share: state.store.active_share(c.id).await?.map(Into::into),
        context: match c.account_id.filter(|_| staff_view) {
            Some(account_id) => state
                .store
                .support_context(account_id)
                .await?
                .map(Into::into),
            None => None,
        },
        email_available: state.config.smtp.configured(),
        history: if staff_view {
            Some(wire::all(state.store.conversation_events(c.id).await?))
        } else {
            None
        },
        conversation: (!staff_view || c.account_id == Some(user.account.id))
            .then(|| support::customer_view(&c)),
        staff: staff_view.then(|| c.into()),
    })
}

/// A conversation: the customer's own (403 for other viewers); staff see any.
#[utoipa::path(get, path = "/api/v1/support/conversations/{id}", tag = "support", params(("id" = i64, Path)),
    responses((status = 200, body = ConversationDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn get_conversation(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ConversationDetail>, ApiError> {
    let c = support::readable(&state, &user, id).await?;
    let staff = c.account_id != Some(user.account.id);
    Ok(Json(detail(&state, &user, c, staff).await?))
}

/// Message paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessagesParams {
    /// Only messages with a larger id (resynchronising after a reconnect).
    after: Option<i64>,
    /// 1 to 500, default 200.
    limit: Option<u32>,
}

/// Messages after an id, oldest first.
#[utoipa::path(get, path = "/api/v1/support/conversations/{id}/messages", tag = "support", params(("id" = i64, Path), MessagesParams),
    responses((status = 200, body = Vec<MessageView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_messages(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<MessagesParams>,
) -> Result<Json<Vec<MessageView>>, ApiError> {
    let limit = super::check_limit(p.limit, 200, 500)?;
    let c = support::readable(&state, &user, id).await?;
    let staff = c.account_id != Some(user.account.id);
    let msgs = state
        .store
        .messages(c.id, staff, p.after.unwrap_or(0), limit)
        .await?;
    Ok(Json(
        support::attachments::message_views(&state, c.id, &msgs, staff).await?,
    ))
}

/// A message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// 1 to 4000 characters.
    body: String,
}

/// Sends a customer message (reopens a resolved conversation).
#[utoipa::path(post, path = "/api/v1/support/conversations/{id}/messages", tag = "support", params(("id" = i64, Path)), request_body = MessageRequest,
    responses((status = 201, body = MessageView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn post_message(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<MessageRequest>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let w = support::customer_message(&state, &user, id, &b.body).await?;
    let m = support::written_view(&w, false)?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// Typing state.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingRequest {
    /// Typing now.
    typing: bool,
}

/// Tells the other side that you are typing (not stored).
#[utoipa::path(post, path = "/api/v1/support/conversations/{id}/typing", tag = "support", params(("id" = i64, Path)), request_body = TypingRequest,
    responses((status = 204), (status = 403, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn typing(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<TypingRequest>,
) -> Result<StatusCode, ApiError> {
    let c = support::readable(&state, &user, id).await?;
    support::publish_typing(&state, &c, &user, b.typing);
    Ok(StatusCode::NO_CONTENT)
}

/// Read state.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// Read up to this message id.
    message_id: i64,
}

/// Marks messages read (the customer's or the staff side, by who calls).
#[utoipa::path(post, path = "/api/v1/support/conversations/{id}/read", tag = "support", params(("id" = i64, Path)), request_body = ReadRequest,
    responses((status = 204), (status = 403, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn read(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ReadRequest>,
) -> Result<StatusCode, ApiError> {
    support::mark_read(&state, &user, id, b.message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A CSAT answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsatRequest {
    /// 1 to 5.
    score: u8,
    /// Optional comment, up to 2000 characters.
    #[serde(default)]
    comment: String,
}

/// Rates the current resolution (409 when not resolved or already rated).
#[utoipa::path(post, path = "/api/v1/support/conversations/{id}/csat", tag = "support", params(("id" = i64, Path)), request_body = CsatRequest,
    responses((status = 201, body = CsatAnswer), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn csat(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<CsatRequest>,
) -> Result<(StatusCode, Json<CsatAnswer>), ApiError> {
    let a = support::answer_csat(&state, &user, id, b.score, &b.comment).await?;
    Ok((StatusCode::CREATED, Json(a.into())))
}

/// A new share link.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareResponse {
    /// 256 random bits; shown once, only its hash is stored.
    token: String,
    /// `/t/{token}`.
    url: String,
}

/// Shares the transcript publicly (the customer's opt-in); replaces any earlier link.
#[utoipa::path(post, path = "/api/v1/support/conversations/{id}/share", tag = "support", params(("id" = i64, Path)),
    responses((status = 201, body = ShareResponse), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn share(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<ShareResponse>), ApiError> {
    let token = support::share(&state, &user, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(ShareResponse {
            url: support::share_url(&state, &token),
            token,
        }),
    ))
}

/// Revokes the share link (the customer or staff).
#[utoipa::path(delete, path = "/api/v1/support/conversations/{id}/share", tag = "support", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn unshare(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    if support::revoke(&state, &user, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound("this conversation has no live share link".into()).into())
    }
}

/// Where to send the transcript.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    /// Defaults to the account's e-mail.
    to: Option<String>,
}

/// E-mails the transcript (503 when `[smtp]` is not configured).
#[utoipa::path(post, path = "/api/v1/support/conversations/{id}/email", tag = "support", params(("id" = i64, Path)), request_body = EmailRequest,
    responses((status = 202), (status = 503, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn email_transcript(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<EmailRequest>,
) -> Result<StatusCode, ApiError> {
    support::email_transcript(&state, &user, id, b.to.as_deref()).await?;
    Ok(StatusCode::ACCEPTED)
}

fn sse_stream(
    sub: support::LiveSubscription,
    permit: crate::streams::StreamPermit,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let first = Event::default().event("ready").data("{}");
    let rest = stream::unfold(sub, |mut sub| async move {
        let ev = match sub.next().await? {
            Next::Resync => Event::default().event("resync").data("{}"),
            Next::Event(e) => {
                let data = if sub.is_staff() {
                    e.staff_data.clone()
                } else {
                    e.customer_data.clone()?
                };
                Event::default()
                    .event(e.kind)
                    .id(e.seq.to_string())
                    .data(data.as_str())
            }
        };
        Some((Ok(ev), sub))
    });
    let s = stream::once(async move { Ok(first) }).chain(rest);
    Sse::new(crate::streams::hold(s, permit)).keep_alive(KeepAlive::default())
}

/// Live events of your conversations (SSE: `message`, `conversation`,
/// `typing`; `resync` asks the client to refetch by message id).
#[utoipa::path(get, path = "/api/v1/support/events", tag = "support",
    responses((status = 200, description = "text/event-stream"), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn customer_events(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
) -> Result<Response, ApiError> {
    let permit = state.streams.acquire(user.account.id, ip)?;
    Ok(sse_stream(state.support.subscribe_customer(user.account.id), permit).into_response())
}

/// A stream error.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamErrorRequest {
    /// A short code, e.g. `MEDIA_ERR_NETWORK` (1 to 64 of A-Z, 0-9, `_`, `-`, `.`).
    code: String,
    /// Details, up to 500 characters.
    #[serde(default)]
    message: String,
    /// The title.
    title_id: Option<i64>,
    /// The device (one of this profile's).
    device_id: Option<i64>,
    /// Position, ms.
    position_ms: Option<i64>,
}

/// Records a playback error (shown to support agents in the context panel).
#[utoipa::path(post, path = "/api/v1/playback/errors", tag = "support", request_body = StreamErrorRequest,
    responses((status = 201, body = StreamError), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn stream_error(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<StreamErrorRequest>,
) -> Result<(StatusCode, Json<StreamError>), ApiError> {
    let code = b.code.trim();
    if code.is_empty()
        || code.len() > 64
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(AppError::invalid("code", "must be 1 to 64 of A-Z, 0-9, '_', '-', '.'").into());
    }
    if b.message.chars().count() > 500 {
        return Err(AppError::invalid("message", "must be at most 500 characters").into());
    }
    if b.position_ms.is_some_and(|p| p < 0) {
        return Err(AppError::invalid("position_ms", "must not be negative").into());
    }
    let e = state
        .store
        .record_stream_error(&NewStreamError {
            account_id: user.account.id,
            profile_id: user.profile_id,
            device_id: b.device_id,
            title_id: b.title_id,
            code: code.to_string(),
            message: b.message.trim().to_string(),
            position_ms: b.position_ms,
            at: state.clock.now_ms(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(e.into())))
}

/// Inbox filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    /// open, pending, snoozed or resolved; default: all but resolved.
    status: Option<ConvStatus>,
    /// `me`, `unassigned`, `any` (default) or an agent's account id.
    assignee: Option<String>,
    /// 1 to 200, default 100.
    limit: Option<u32>,
    /// Only conversations whose customer or any message contains this text.
    q: Option<String>,
}

/// The inbox, newest activity first.
#[utoipa::path(get, path = "/api/v1/staff/support/conversations", tag = "support", params(InboxParams),
    responses((status = 200, body = Vec<Conversation>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn inbox(
    State(state): State<AppState>,
    Staff(user): Staff,
    ApiQuery(p): ApiQuery<InboxParams>,
) -> Result<Json<Vec<Conversation>>, ApiError> {
    let limit = super::check_limit(p.limit, 100, 200)?;
    let assignee = assignee_filter(&user, p.assignee.as_deref())?;
    support::wake_snoozed(&state).await?;
    Ok(Json(wire::all(
        state
            .store
            .inbox(&InboxQuery {
                status: p.status,
                assignee,
                limit,
                search: p.q,
            })
            .await?,
    )))
}

/// A conversation with internal notes and the customer context panel.
#[utoipa::path(get, path = "/api/v1/staff/support/conversations/{id}", tag = "support", params(("id" = i64, Path)),
    responses((status = 200, body = ConversationDetail), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_conversation(
    State(state): State<AppState>,
    Staff(user): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ConversationDetail>, ApiError> {
    let c = support::readable(&state, &user, id).await?;
    Ok(Json(detail(&state, &user, c, true).await?))
}

/// A staff reply or note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffMessageRequest {
    /// The text, or a lone short code (`/refund`) for a canned response.
    body: String,
    /// An internal note, never shown to the customer or on transcripts.
    #[serde(default)]
    internal: bool,
}

/// Replies (or adds an internal note).
#[utoipa::path(post, path = "/api/v1/staff/support/conversations/{id}/messages", tag = "support", params(("id" = i64, Path)), request_body = StaffMessageRequest,
    responses((status = 201, body = MessageView), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_message(
    State(state): State<AppState>,
    Staff(user): Staff,
    ApiPath(id): ApiPath<i64>,
    headers: axum::http::HeaderMap,
    ApiJson(b): ApiJson<StaffMessageRequest>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let w = support::agent_message(&state, &user, id, &b.body, b.internal, &headers).await?;
    let m = support::written_view(&w, true)?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// A status or priority change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// New status.
    status: Option<ConvStatus>,
    /// With `snoozed`: until when, ms since the epoch.
    snoozed_until: Option<i64>,
    /// New priority.
    priority: Option<Priority>,
}

/// Changes status (open, pending, snoozed, resolved) and/or priority.
#[utoipa::path(patch, path = "/api/v1/staff/support/conversations/{id}", tag = "support", params(("id" = i64, Path)), request_body = UpdateRequest,
    responses((status = 200, body = Conversation), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_update(
    State(state): State<AppState>,
    Staff(user): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<UpdateRequest>,
) -> Result<Json<Conversation>, ApiError> {
    let mut c = support::readable(&state, &user, id).await?;
    if let Some(p) = b.priority {
        c = state
            .store
            .set_priority(id, p, state.clock.now_ms())
            .await?;
        support::publish_conversation(&state, &c);
    }
    if let Some(s) = b.status {
        c = support::change_status(&state, &user, id, s, b.snoozed_until)
            .await?
            .conversation;
    } else if b.snoozed_until.is_some() {
        return Err(AppError::invalid("snoozed_until", "only with status snoozed").into());
    }
    Ok(Json(c.into()))
}

/// A reassignment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The agent; null puts it back in the queue.
    assignee_id: Option<i64>,
}

/// Reassigns by hand (logged as a reassignment).
#[utoipa::path(post, path = "/api/v1/staff/support/conversations/{id}/assign", tag = "support", params(("id" = i64, Path)), request_body = AssignRequest,
    responses((status = 200, body = Conversation), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_assign(
    State(state): State<AppState>,
    Staff(user): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<AssignRequest>,
) -> Result<Json<Conversation>, ApiError> {
    Ok(Json(
        support::reassign(&state, &user, id, b.assignee_id)
            .await?
            .conversation
            .into(),
    ))
}

/// Canned responses.
#[utoipa::path(get, path = "/api/v1/staff/support/canned", tag = "support",
    responses((status = 200, body = Vec<Canned>)), security(("bearer" = []), ("cookie" = [])))]
async fn canned_list(
    State(state): State<AppState>,
    _s: Staff,
) -> Result<Json<Vec<Canned>>, ApiError> {
    Ok(Json(wire::all(state.store.canned().await?)))
}

/// A canned response.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedRequest {
    /// `refund` or `/refund`.
    shortcode: String,
    /// The text, 1 to 4000 characters.
    body: String,
}

/// Adds a canned response (409 on a taken short code).
#[utoipa::path(post, path = "/api/v1/staff/support/canned", tag = "support", request_body = CannedRequest,
    responses((status = 201, body = Canned), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn canned_create(
    State(state): State<AppState>,
    Staff(user): Staff,
    ApiJson(b): ApiJson<CannedRequest>,
) -> Result<(StatusCode, Json<Canned>), ApiError> {
    let code = marquee_domain::support::shortcode(&b.shortcode)?;
    let body = marquee_domain::support::message_body(&b.body)?;
    let c = state
        .store
        .create_canned(&code, &body, user.account.id, state.clock.now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// Deletes a canned response.
#[utoipa::path(delete, path = "/api/v1/staff/support/canned/{id}", tag = "support", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn canned_delete(
    State(state): State<AppState>,
    _s: Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_canned(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// SLA policies per priority.
#[utoipa::path(get, path = "/api/v1/staff/support/sla", tag = "support",
    responses((status = 200, body = Vec<SlaPolicy>)), security(("bearer" = []), ("cookie" = [])))]
async fn sla_get(
    State(state): State<AppState>,
    _s: Staff,
) -> Result<Json<Vec<SlaPolicy>>, ApiError> {
    Ok(Json(state.store.sla_policies().await?))
}

/// Sets SLA targets (admin).
#[utoipa::path(put, path = "/api/v1/staff/support/sla", tag = "support", request_body = Vec<SlaPolicy>,
    responses((status = 200, body = Vec<SlaPolicy>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn sla_put(
    State(state): State<AppState>,
    _a: Admin,
    ApiJson(b): ApiJson<Vec<SlaPolicy>>,
) -> Result<Json<Vec<SlaPolicy>>, ApiError> {
    for p in &b {
        check_sla(p)?;
    }
    for p in &b {
        state.store.set_sla_policy(p).await?;
    }
    Ok(Json(state.store.sla_policies().await?))
}

/// Agents with their capacity and load.
#[utoipa::path(get, path = "/api/v1/staff/support/agents", tag = "support",
    responses((status = 200, body = Vec<AgentSettings>)), security(("bearer" = []), ("cookie" = [])))]
async fn agents_get(
    State(state): State<AppState>,
    _s: Staff,
) -> Result<Json<Vec<AgentSettings>>, ApiError> {
    Ok(Json(wire::all(
        state
            .store
            .support_agents(state.config.support.default_capacity)
            .await?,
    )))
}

/// An agent's settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentRequest {
    /// 0 to 1000 unresolved conversations at once.
    capacity: u32,
    /// Takes part in auto-assignment.
    available: bool,
    /// Team, 1 to 40 characters.
    team: String,
}

/// Sets an agent's capacity, availability and team (admin); the queue is re-run.
#[utoipa::path(put, path = "/api/v1/staff/support/agents/{id}", tag = "support", params(("id" = i64, Path)), request_body = AgentRequest,
    responses((status = 200, body = AgentSettings), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn agents_put(
    State(state): State<AppState>,
    _a: Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<AgentRequest>,
) -> Result<Json<AgentSettings>, ApiError> {
    let team = check_agent(b.capacity, &b.team)?;
    let (a, assigned) = state
        .store
        .set_agent_settings(
            id,
            b.capacity,
            b.available,
            &team,
            state.config.support.default_capacity,
            state.clock.now_ms(),
        )
        .await?;
    for (conv, _) in assigned {
        if let Some(c) = state.store.conversation(conv).await? {
            support::publish_conversation(&state, &c);
        }
    }
    Ok(Json(a.into()))
}

/// Metrics window.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MetricsParams {
    /// Conversations opened from, ms (default: 30 days before `to`).
    from: Option<i64>,
    /// … until, ms (default: now).
    to: Option<i64>,
}

/// First response, next reply, resolution, FCR, CSAT, reassignments, shares
/// and % SLA met: overall, per agent, per team and per day, with the
/// conversation ids behind every figure.
#[utoipa::path(get, path = "/api/v1/staff/support/metrics", tag = "support", params(MetricsParams),
    responses((status = 200, body = Report), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn metrics(
    State(state): State<AppState>,
    _s: Staff,
    ApiQuery(p): ApiQuery<MetricsParams>,
) -> Result<Json<Report>, ApiError> {
    let (from, to) = window(&state, p.from, p.to)?;
    Ok(Json(support::report(&state, from, to).await?))
}

/// Live inbox events (SSE): every conversation's messages (notes included),
/// state changes and typing.
#[utoipa::path(get, path = "/api/v1/staff/support/events", tag = "support",
    responses((status = 200, description = "text/event-stream"), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_events(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    s: Staff,
) -> Result<Response, ApiError> {
    let permit = state.streams.acquire(s.0.account.id, ip)?;
    Ok(sse_stream(state.support.subscribe_staff(), permit).into_response())
}

/// Whether someone answers live now, the hours in words, and when the team
/// is next in (public: the log-in and help pages show it).
#[utoipa::path(get, path = "/api/v1/support/hours", tag = "support",
    responses((status = 200, body = HoursStatus)))]
async fn hours(State(state): State<AppState>) -> Json<HoursStatus> {
    Json(visitor::hours_status(&state, state.clock.now_ms()))
}

/// A visitor's first message (no log-in): the pre-chat form, or the
/// offline form outside business hours.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorStartRequest {
    /// Where we can reach you; a link to confirm it is mailed there.
    email: String,
    /// Your name (optional, at most 80 characters).
    name: Option<String>,
    /// Your message, 1 to 4000 characters.
    body: String,
}

/// A visitor conversation just opened.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitorStarted {
    /// The conversation.
    conversation: CustomerConversation,
    /// Its first message.
    message: Option<MessageView>,
    /// Send it as `X-Visitor-Token` to read and add to this conversation
    /// (shown once; the help page keeps it in a cookie).
    visitor_token: String,
    /// Written outside business hours: the answer comes by e-mail.
    offline: bool,
}

/// Opens a conversation without logging in (for customers who cannot).
/// Mails a single-use link that confirms the address; once confirmed, the
/// conversation joins the account that uses it. Limited per client address.
#[utoipa::path(post, path = "/api/v1/support/visitor", tag = "support", request_body = VisitorStartRequest,
    responses((status = 201, body = VisitorStarted), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn visitor_start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    ApiJson(b): ApiJson<VisitorStartRequest>,
) -> Result<(StatusCode, Json<VisitorStarted>), ApiError> {
    let s = visitor::start(&state, ip, &headers, &b.email, b.name.as_deref(), &b.body).await?;
    Ok((
        StatusCode::CREATED,
        Json(VisitorStarted {
            offline: s.write.conversation.channel == store::Channel::Offline,
            conversation: support::customer_view(&s.write.conversation),
            message: s
                .write
                .message
                .as_ref()
                .map(|m| support::message_view(m, false)),
            visitor_token: s.token,
        }),
    ))
}

/// A visitor's conversation with its messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitorThread {
    /// The conversation.
    conversation: CustomerConversation,
    /// Whether you confirmed your address.
    verified: bool,
    /// Messages, oldest first (no internal notes).
    messages: Vec<MessageView>,
}

fn visitor_token(headers: &axum::http::HeaderMap) -> Result<String, AppError> {
    visitor::token_of(headers).ok_or_else(|| {
        AppError::Unauthorized(
            "send the visitor token (X-Visitor-Token) from when you wrote".into(),
        )
    })
}

/// The conversation your visitor token opens.
#[utoipa::path(get, path = "/api/v1/support/visitor/messages", tag = "support",
    responses((status = 200, body = VisitorThread), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    params(("X-Visitor-Token" = String, Header, description = "The token from when you wrote")))]
async fn visitor_messages(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Json<VisitorThread>, ApiError> {
    let (c, ms) = visitor::messages(&state, &visitor_token(&headers)?).await?;
    Ok(Json(VisitorThread {
        verified: c.visitor_verified_at.is_some(),
        conversation: support::customer_view(&c),
        messages: ms.iter().map(|m| support::message_view(m, false)).collect(),
    }))
}

/// Adds to the conversation your visitor token opens (reopening it if it
/// was resolved).
#[utoipa::path(post, path = "/api/v1/support/visitor/messages", tag = "support", request_body = MessageRequest,
    responses((status = 201, body = MessageView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    params(("X-Visitor-Token" = String, Header, description = "The token from when you wrote")))]
async fn visitor_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    ApiJson(b): ApiJson<MessageRequest>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let w = visitor::message(&state, ip, &visitor_token(&headers)?, &b.body).await?;
    let m = support::written_view(&w, false)?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// The token from the mailed confirmation link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// As in the link.
    token: String,
}

/// A confirmed visitor address.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitorVerifiedBody {
    /// The conversation.
    conversation: CustomerConversation,
    /// An account uses this address and the conversation is now part of it.
    linked: bool,
    /// A fresh visitor token for this conversation (the old one stops working).
    visitor_token: String,
}

/// Confirms a visitor's address with the mailed link (single use, 24 hours):
/// the conversation joins the account that uses the address, if any.
#[utoipa::path(post, path = "/api/v1/support/visitor/verify", tag = "support", request_body = VerifyRequest,
    responses((status = 200, body = VisitorVerifiedBody), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn visitor_verify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<VerifyRequest>,
) -> Result<Json<VisitorVerifiedBody>, ApiError> {
    let (v, token) = visitor::verify(&state, ip, &b.token).await?;
    Ok(Json(VisitorVerifiedBody {
        conversation: support::customer_view(&v.conversation),
        linked: v.linked_account.is_some(),
        visitor_token: token,
    }))
}
