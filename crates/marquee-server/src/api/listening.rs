//! Social listening API: the ingest batch endpoint (ingest-token auth),
//! posts, series, alerts, ingest tokens, and viewers' linked handles.

use crate::auth::{self, Admin, CurrentUser, Staff};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, AppError, ErrorBody};
use crate::listening::parse::{PostIn, PostTime};
use crate::listening::{
    self, classify, link, new_token, set_status, IngestOutcome, NewTokenResponse, PostsParams,
};
use crate::wire::listening::SeriesPoint;
use crate::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use marquee_domain::listening::{Alert, AlertStatus, IngestToken, LabelSource, Post, Sentiment};
use marquee_domain::textmatch;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The listening part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(ingest_posts, list_posts, correct_post, series, list_alerts, get_alert, acknowledge_alert,
        resolve_alert, list_tokens, create_token, revoke_token, my_handles, link_handle, unlink_handle),
    components(schemas(PostIn, PostTime, IngestOutcome, Post, Sentiment, LabelSource,
        SentimentRequest, Alert, AlertStatus,
        IngestToken, NewTokenRequest, NewTokenResponse, SeriesPoint, AlertDetail, HandleRequest,
        HandlesResponse)),
    tags((name = "listening", description = "Social listening: ingest, posts, alerts"))
)]
pub struct Doc;

/// The listening routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/posts", post(ingest_posts))
        .route("/listening/posts", get(list_posts))
        .route("/listening/posts/{id}/sentiment", put(correct_post))
        .route("/listening/series", get(series))
        .route("/listening/alerts", get(list_alerts))
        .route("/listening/alerts/{id}", get(get_alert))
        .route(
            "/listening/alerts/{id}/acknowledge",
            post(acknowledge_alert),
        )
        .route("/listening/alerts/{id}/resolve", post(resolve_alert))
        .route("/listening/tokens", get(list_tokens).post(create_token))
        .route("/listening/tokens/{id}", delete(revoke_token))
        .route("/me/handles", get(my_handles).post(link_handle))
        .route("/me/handles/{handle}", delete(unlink_handle))
}

/// An ingest token presented as `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct IngestAuth(pub IngestToken);

impl FromRequestParts<AppState> for IngestAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(AppError::Unauthorized(
                "an ingest token is required: Authorization: Bearer <token>".into(),
            )
            .into());
        };
        match state
            .store
            .ingest_token_by_hash(&auth::token_hash(token))
            .await?
        {
            Some(t) => Ok(IngestAuth(t)),
            None => Err(AppError::Unauthorized("unknown or revoked ingest token".into()).into()),
        }
    }
}

/// Ingests a batch of posts (a JSON array), idempotently: each is classified
/// and stored once per `(source, external_id)`, all in one transaction. A bad
/// post rejects the whole batch with its index in `field` (e.g. `[3].text`).
#[utoipa::path(post, path = "/api/v1/posts", tag = "listening", request_body = Vec<PostIn>,
    responses((status = 200, body = IngestOutcome), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)),
    security(("bearer" = [])))]
async fn ingest_posts(
    State(state): State<AppState>,
    _token: IngestAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestOutcome>, ApiError> {
    let cfg = &state.config.listening;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    if !is_json {
        return Err(AppError::UnsupportedMediaType.into());
    }
    let bytes = axum::body::to_bytes(body, cfg.max_body_bytes)
        .await
        .map_err(|_| AppError::PayloadTooLarge {
            limit: cfg.max_body_bytes,
        })?;
    let raws = listening::parse::posts_body(
        &bytes,
        cfg.max_post_chars,
        cfg.max_batch_posts,
        state.clock.now_ms(),
    )?;
    Ok(Json(listening::ingest(&state, raws, None).await?))
}

/// Lists posts with filters (agent or admin).
#[utoipa::path(get, path = "/api/v1/listening/posts", tag = "listening", params(PostsParams),
    responses((status = 200, body = Vec<Post>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_posts(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(p): ApiQuery<PostsParams>,
) -> Result<Json<Vec<Post>>, ApiError> {
    Ok(Json(
        state
            .store
            .list_posts(&p.resolve(&state, 50).await?)
            .await?,
    ))
}

/// Series parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    /// From (ms); default 24 hours before `to`.
    pub from: Option<i64>,
    /// To (ms, exclusive); default now.
    pub to: Option<i64>,
    /// Bucket length in minutes, 1 to 1440; default 60.
    pub bucket_minutes: Option<i64>,
    /// A topic (default: all posts).
    pub topic: Option<String>,
    /// A source.
    pub source: Option<String>,
    /// Words the post must contain (each as a word prefix, case-insensitive).
    pub q: Option<String>,
}

/// Volume and sentiment over time (agent or admin); empty buckets omitted.
#[utoipa::path(get, path = "/api/v1/listening/series", tag = "listening", params(SeriesParams),
    responses((status = 200, body = Vec<SeriesPoint>), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn series(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(p): ApiQuery<SeriesParams>,
) -> Result<Json<Vec<SeriesPoint>>, ApiError> {
    let bucket = p.bucket_minutes.unwrap_or(60);
    if !(1..=1440).contains(&bucket) {
        return Err(AppError::invalid("bucket_minutes", "must be 1 to 1440").into());
    }
    let to = p.to.unwrap_or_else(|| state.clock.now_ms());
    let from = p.from.unwrap_or(to - 86_400_000);
    if from >= to {
        return Err(AppError::invalid("from", "must be before to").into());
    }
    if (to - from) / (bucket * 60_000) > 5000 {
        return Err(AppError::invalid(
            "bucket_minutes",
            "more than 5000 buckets; use longer buckets",
        )
        .into());
    }
    let topic = p.topic.as_deref().filter(|t| !t.is_empty() && *t != "all");
    let b = state
        .store
        .post_series(
            from,
            to,
            bucket * 60_000,
            topic,
            p.source.as_deref(),
            p.q.as_deref().and_then(textmatch::all_words).as_ref(),
        )
        .await?;
    Ok(Json(b.into_iter().map(SeriesPoint::from).collect()))
}

/// Alert listing parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertsParams {
    /// open, acknowledged or resolved.
    pub status: Option<AlertStatus>,
    /// 1 to 200, default 50.
    pub limit: Option<u32>,
}

/// Alerts, newest first (agent or admin).
#[utoipa::path(get, path = "/api/v1/listening/alerts", tag = "listening", params(AlertsParams),
    responses((status = 200, body = Vec<Alert>), (status = 400, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_alerts(
    State(state): State<AppState>,
    _staff: Staff,
    ApiQuery(p): ApiQuery<AlertsParams>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let limit = super::check_limit(p.limit, 50, 200)?;
    Ok(Json(state.store.list_alerts(p.status, limit).await?))
}

/// An alert with its example posts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDetail {
    /// The alert.
    pub alert: Alert,
    /// Its example posts, most negative first.
    pub examples: Vec<Post>,
}

/// One alert with its example posts (agent or admin).
#[utoipa::path(get, path = "/api/v1/listening/alerts/{id}", tag = "listening", params(("id" = i64, Path)),
    responses((status = 200, body = AlertDetail), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn get_alert(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AlertDetail>, ApiError> {
    let alert = state
        .store
        .alert(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("alert {id} not found")))?;
    let examples = listening::alert_examples(&state, &alert).await?;
    Ok(Json(AlertDetail { alert, examples }))
}

/// A staff correction of a post's sentiment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SentimentRequest {
    /// The right label.
    pub sentiment: Sentiment,
}

/// Corrects a post's sentiment (agent or admin). The post is labelled by
/// staff from then on (`labelled_by: "staff"`, score -1/0/1), the charts and
/// proposal figures follow, and the correction is kept as training data for
/// `marquee train sentiment`.
#[utoipa::path(put, path = "/api/v1/listening/posts/{id}/sentiment", tag = "listening",
    params(("id" = i64, Path)), request_body = SentimentRequest,
    responses((status = 200, body = Post), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn correct_post(
    State(state): State<AppState>,
    Staff(user): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<SentimentRequest>,
) -> Result<Json<Post>, ApiError> {
    Ok(Json(
        listening::correct(&state, &user, id, b.sentiment).await?,
    ))
}

/// Acknowledges an open alert (agent or admin); 409 when it is not open.
#[utoipa::path(post, path = "/api/v1/listening/alerts/{id}/acknowledge", tag = "listening", params(("id" = i64, Path)),
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn acknowledge_alert(
    State(state): State<AppState>,
    Staff(user): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Alert>, ApiError> {
    Ok(Json(
        set_status(&state, &user, id, AlertStatus::Acknowledged).await?,
    ))
}

/// Resolves an alert (agent or admin); 409 when it is already resolved.
#[utoipa::path(post, path = "/api/v1/listening/alerts/{id}/resolve", tag = "listening", params(("id" = i64, Path)),
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn resolve_alert(
    State(state): State<AppState>,
    Staff(user): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Alert>, ApiError> {
    Ok(Json(
        set_status(&state, &user, id, AlertStatus::Resolved).await?,
    ))
}

/// Ingest tokens (admin).
#[utoipa::path(get, path = "/api/v1/listening/tokens", tag = "listening",
    responses((status = 200, body = Vec<IngestToken>), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_tokens(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<IngestToken>>, ApiError> {
    Ok(Json(state.store.ingest_tokens().await?))
}

/// New token body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// What it is for, 1 to 80 characters.
    pub name: String,
}

/// Creates an ingest token (admin); the secret is in the response only.
#[utoipa::path(post, path = "/api/v1/listening/tokens", tag = "listening", request_body = NewTokenRequest,
    responses((status = 201, body = NewTokenResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create_token(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiJson(b): ApiJson<NewTokenRequest>,
) -> Result<(StatusCode, Json<NewTokenResponse>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(new_token(&state, &user, &b.name).await?),
    ))
}

/// Revokes an ingest token (admin).
#[utoipa::path(delete, path = "/api/v1/listening/tokens/{id}", tag = "listening", params(("id" = i64, Path)),
    responses((status = 200, body = IngestToken), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn revoke_token(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<IngestToken>, ApiError> {
    Ok(Json(
        state
            .store
            .revoke_ingest_token(id, state.clock.now_ms())
            .await?,
    ))
}

/// A handle to link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandleRequest {
    /// e.g. `@me@mastodon.social`, `me.bsky.social` or `did:plc:…`.
    pub handle: String,
}

/// The account's linked handles.
#[derive(Debug, Serialize, ToSchema)]
pub struct HandlesResponse {
    /// Normalised handles.
    pub handles: Vec<String>,
}

/// The handles I linked.
#[utoipa::path(get, path = "/api/v1/me/handles", tag = "listening",
    responses((status = 200, body = HandlesResponse), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn my_handles(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<HandlesResponse>, ApiError> {
    Ok(Json(HandlesResponse {
        handles: state.store.handles(user.account.id).await?,
    }))
}

/// "My handle is @x@host": posts by it are linked to my account, so support
/// sees them.
#[utoipa::path(post, path = "/api/v1/me/handles", tag = "listening", request_body = HandleRequest,
    responses((status = 201, body = HandlesResponse), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn link_handle(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<HandleRequest>,
) -> Result<(StatusCode, Json<HandlesResponse>), ApiError> {
    link(&state, &user, &b.handle).await?;
    Ok((
        StatusCode::CREATED,
        Json(HandlesResponse {
            handles: state.store.handles(user.account.id).await?,
        }),
    ))
}

/// Unlinks one of my handles.
#[utoipa::path(delete, path = "/api/v1/me/handles/{handle}", tag = "listening", params(("handle" = String, Path)),
    responses((status = 200, body = HandlesResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn unlink_handle(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(handle): ApiPath<String>,
) -> Result<Json<HandlesResponse>, ApiError> {
    let h = classify::normalize_handle(&handle)
        .ok_or_else(|| AppError::invalid("handle", "not a handle"))?;
    state.store.unlink_handle(user.account.id, &h).await?;
    Ok(Json(HandlesResponse {
        handles: state.store.handles(user.account.id).await?,
    }))
}
