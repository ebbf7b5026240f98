//! Screen-to-screen continuity: devices, the playback API, the rows built from
//! it, the play-event log and live events (SSE).

use crate::auth::{Admin, ClientIp, CurrentUser};
use crate::error::{
    ApiError, ApiJson, ApiPath, ApiQuery, AppError, ErrorBody, ErrorDetail, OptionalJson,
};
use crate::events::PlaybackEvent;
use crate::playback::{next_up_since, playable, profile_of};
use crate::wire::{
    self,
    playback::{AccountStream, ActiveStream, PlayEvent, ProgressAck, RowItem, TitleProgress},
};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use marquee_domain::playback::{Device, DeviceKind, NextUpReason};
use marquee_domain::Millis;
use marquee_store::playback::{
    ProgressInput, ProgressRefused, StartLimits, StartOutcome, StartPlayback,
};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The playback part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        register_device, rename_device, list_devices, start, progress, stop, streams, title_state, mark_played,
        mark_unplayed, continue_watching, hide, next_up, play_events, events, set_media,
        account_streams, stop_stream
    ),
    components(schemas(
        Device, DeviceKind, NewDeviceRequest, RenameDeviceRequest, StartRequest, StartResponse, StartConflict,
        ActiveStream, ProgressRequest, StopRequest, ProgressAck, TitleProgress, MediaPath, RowItem,
        NextUpReason, PlayEvent, PlaybackEvent, MediaRequest, AccountStream, StopStreamRequest
    )),
    tags((name = "playback", description = "Devices, streams, resume points, Continue Watching and Next Up"))
)]
pub struct Doc;

/// The playback routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/devices", get(list_devices).post(register_device))
        .route("/devices/{id}", axum::routing::patch(rename_device))
        .route("/playback/start", post(start))
        .route("/playback/progress", post(progress))
        .route("/playback/stop", post(stop))
        .route("/playback/streams", get(streams))
        .route("/playback/titles/{id}", get(title_state))
        .route(
            "/playback/titles/{id}/played",
            post(mark_played).delete(mark_unplayed),
        )
        .route("/playback/continue-watching", get(continue_watching))
        .route("/playback/continue-watching/{id}/hide", post(hide))
        .route("/playback/next-up", get(next_up))
        .route("/playback/events", get(play_events))
        .route("/events", get(events))
        .route("/staff/titles/{id}/media", put(set_media))
        .route("/streams", get(account_streams))
        .route("/streams/{id}/stop", post(stop_stream))
}

/// New device body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeviceRequest {
    /// 1 to 60 characters, e.g. "Living-room TV"; unique within the
    /// profile. Without it the device is named from its browser and system
    /// ("Chrome on Linux", then "Chrome on Linux 2").
    #[serde(default)]
    name: Option<String>,
    /// tv, phone, tablet or web.
    kind: DeviceKind,
}

/// Registers a device of the current profile (201), or returns the one of
/// that name (200).
#[utoipa::path(post, path = "/api/v1/devices", tag = "playback", request_body = NewDeviceRequest,
    responses((status = 201, body = Device), (status = 200, body = Device), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn register_device(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: axum::http::HeaderMap,
    ApiJson(b): ApiJson<NewDeviceRequest>,
) -> Result<(StatusCode, Json<Device>), ApiError> {
    let pid = profile_of(&user)?;
    let ua = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (d, created) = crate::playback::register_device(
        &state,
        pid,
        b.name.as_deref(),
        b.kind,
        ua,
        Some(&user.token_hash),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(d)))
}

/// A device's new name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameDeviceRequest {
    /// 1 to 60 characters, unique within the profile.
    name: String,
}

/// Renames one of the current profile's devices.
#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "playback", params(("id" = i64, Path, description = "Device id")),
    request_body = RenameDeviceRequest,
    responses((status = 200, body = Device), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn rename_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<RenameDeviceRequest>,
) -> Result<Json<Device>, ApiError> {
    let pid = profile_of(&user)?;
    Ok(Json(
        crate::playback::rename_device(&state, pid, id, &b.name).await?,
    ))
}

/// The current profile's devices.
#[utoipa::path(get, path = "/api/v1/devices", tag = "playback",
    responses((status = 200, body = Vec<Device>), (status = 401, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn list_devices(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<Device>>, ApiError> {
    Ok(Json(state.store.devices(profile_of(&user)?).await?))
}

/// Start body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// A movie or an episode.
    title_id: i64,
    /// A device of the current profile.
    device_id: i64,
    /// Started by autoplay, not by a person.
    #[serde(default)]
    autoplay: bool,
}

/// A started stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartResponse {
    /// Send it with every progress report.
    play_session_id: i64,
    /// The title.
    title_id: i64,
    /// The device.
    device_id: i64,
    /// Where to resume (0: from the start).
    resume_position_ms: i64,
    /// The title's runtime.
    duration_ms: i64,
    /// Autoplayed episodes in a row, this one included.
    autoplay_run: u32,
    /// How often to send progress.
    progress_interval_ms: i64,
}

/// 409 from a start: the stream cap (with the live streams) or "are you still watching?".
#[derive(Debug, Serialize, ToSchema)]
pub struct StartConflict {
    /// The error.
    error: ErrorDetail,
    /// The account's live streams (stream cap).
    active_streams: Vec<ActiveStream>,
    /// The player must ask "Are you still watching?" and start again by hand.
    still_watching: bool,
    /// Stream cap: a plan with more streams exists (`/account#plan`).
    upgrade_available: bool,
}

fn start_conflict(
    field: &str,
    message: String,
    active_streams: Vec<ActiveStream>,
    still_watching: bool,
    upgrade_available: bool,
) -> Response {
    let e = AppError::Conflict {
        field: Some(field.into()),
        message,
    };
    let body = StartConflict {
        error: ErrorDetail {
            code: e.code().to_string(),
            message: e.to_string(),
            field: e.field().map(str::to_string),
        },
        active_streams,
        still_watching,
        upgrade_available,
    };
    (e.status(), Json(body)).into_response()
}

pub(crate) fn start_limits(state: &AppState, user: &CurrentUser) -> StartLimits {
    let c = &state.config.playback;
    StartLimits {
        max_streams: user.account.stream_cap(),
        stream_timeout_ms: c.stream_timeout_ms(),
        max_autoplay_run: c.still_watching_episodes,
        idle_ms: i64::try_from(c.still_watching_idle_min.saturating_mul(60_000))
            .unwrap_or(i64::MAX),
    }
}

/// Starts a stream on a device. 409 when the plan's stream cap is reached
/// (with the live streams) or when an autoplay must ask "are you still watching?".
#[utoipa::path(post, path = "/api/v1/playback/start", tag = "playback", request_body = StartRequest,
    responses((status = 201, body = StartResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = StartConflict)),
    security(("bearer" = []), ("cookie" = [])))]
async fn start(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<StartRequest>,
) -> Result<Response, ApiError> {
    let pid = profile_of(&user)?;
    if user.account.stream_cap() == 0 {
        return Err(AppError::Conflict {
            field: Some("status".into()),
            message: format!(
                "your subscription is {}; reactivate it on your account page to watch",
                user.account.status.as_str()
            ),
        }
        .into());
    }
    crate::library::check_visible_for(&state, &user, b.title_id).await?;
    let title = playable(&state, b.title_id, "title_id").await?;
    let device = state
        .store
        .device(b.device_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("device {} not found", b.device_id)))?;
    if device.profile_id != pid {
        return Err(AppError::Forbidden("that device belongs to another profile".into()).into());
    }
    crate::playback::bind_session_device(&state, &user, device.id).await?;
    let now = state.clock.now_ms();
    let outcome = state
        .store
        .start_playback(&StartPlayback {
            account_id: user.account.id,
            profile_id: pid,
            device_id: device.id,
            title: title.clone(),
            autoplay: b.autoplay,
            now,
            limits: start_limits(&state, &user),
        })
        .await?;
    match outcome {
        StartOutcome::Started {
            play_session_id,
            resume_ms,
            autoplay_run,
        } => {
            state.events.publish(PlaybackEvent {
                kind: "start".into(),
                profile_id: pid,
                play_session_id,
                title_id: title.id,
                device_id: device.id,
                device_name: device.name.clone(),
                position_ms: resume_ms,
                paused: false,
                resume_ms,
                at: now,
                stopped_by: None,
            });
            Ok((
                StatusCode::CREATED,
                Json(StartResponse {
                    play_session_id,
                    title_id: title.id,
                    device_id: device.id,
                    resume_position_ms: resume_ms,
                    duration_ms: title.duration_ms,
                    autoplay_run,
                    progress_interval_ms: i64::try_from(
                        state.config.playback.progress_interval_s * 1000,
                    )
                    .unwrap_or(5000),
                }),
            )
                .into_response())
        }
        StartOutcome::StreamLimit { active } => Ok(start_conflict(
            "device_id",
            format!(
                "your {} plan allows {} stream(s) at once; stop one of these first",
                user.account.plan.as_str(),
                user.account.stream_cap()
            ),
            wire::all(active),
            false,
            marquee_domain::playback::bigger_plan_exists(user.account.plan),
        )),
        StartOutcome::StillWatching { .. } => Ok(start_conflict(
            "autoplay",
            "Are you still watching? Start the next episode by hand to go on".into(),
            Vec::new(),
            true,
            false,
        )),
    }
}

/// Progress body, sent every few seconds.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressRequest {
    /// From the start.
    play_session_id: i64,
    /// Position, 0 to the runtime.
    position_ms: i64,
    /// Paused.
    paused: bool,
    /// The player's clock when it sent this, ms since the epoch: orders reports.
    sent_at: Millis,
    /// A person touched the player since the last report (seek, key press).
    #[serde(default)]
    interaction: bool,
}

fn check_sent_at(state: &AppState, sent_at: Millis, now: Millis) -> Result<(), AppError> {
    let skew = i64::try_from(state.config.playback.max_clock_skew_s * 1000).unwrap_or(60_000);
    if sent_at <= 0 {
        return Err(AppError::invalid(
            "sent_at",
            "must be a time in ms since the epoch",
        ));
    }
    if sent_at > now.saturating_add(skew) {
        return Err(AppError::invalid(
            "sent_at",
            format!(
                "is {} s in the future; check the device's clock",
                (sent_at - now) / 1000
            ),
        ));
    }
    Ok(())
}

fn check_position(p: i64) -> Result<(), AppError> {
    if p < 0 {
        return Err(AppError::invalid("position_ms", "must not be negative"));
    }
    Ok(())
}

fn refused(r: ProgressRefused) -> AppError {
    match r {
        ProgressRefused::NotFound => AppError::NotFound("play session not found".into()),
        ProgressRefused::Forbidden => {
            AppError::Forbidden("that play session belongs to another profile".into())
        }
        ProgressRefused::Ended => AppError::Conflict {
            field: Some("play_session_id".into()),
            message: "the play session has ended (stopped, replaced or no progress for too long); start again".into(),
        },
        ProgressRefused::TooLong { duration_ms } => AppError::invalid(
            "position_ms",
            format!("is past the end of the title ({duration_ms} ms)"),
        ),
    }
}

/// Reports the position. Acknowledged only once durable. A report older (by
/// `sent_at`) than the saved one is logged but never rewinds the position.
#[utoipa::path(post, path = "/api/v1/playback/progress", tag = "playback", request_body = ProgressRequest,
    responses((status = 200, body = ProgressAck), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn progress(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<ProgressRequest>,
) -> Result<Json<ProgressAck>, ApiError> {
    let pid = profile_of(&user)?;
    let now = state.clock.now_ms();
    check_position(b.position_ms)?;
    check_sent_at(&state, b.sent_at, now)?;
    let ack = state
        .ingest
        .submit(ProgressInput {
            play_session_id: b.play_session_id,
            profile_id: pid,
            position_ms: Some(b.position_ms),
            paused: b.paused,
            sent_at: Some(b.sent_at),
            interaction: b.interaction,
            stop: false,
            now,
        })
        .await?
        .map_err(refused)?;
    Ok(Json(ack.into()))
}

/// Stop body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopRequest {
    /// From the start.
    play_session_id: i64,
    /// The final position, if known.
    position_ms: Option<i64>,
    /// Required with `position_ms`.
    sent_at: Option<Millis>,
}

/// Ends a stream. Idempotent: stopping again answers the same and writes nothing.
#[utoipa::path(post, path = "/api/v1/playback/stop", tag = "playback", request_body = StopRequest,
    responses((status = 200, body = ProgressAck), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn stop(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<StopRequest>,
) -> Result<Json<ProgressAck>, ApiError> {
    let pid = profile_of(&user)?;
    let now = state.clock.now_ms();
    if let Some(p) = b.position_ms {
        check_position(p)?;
        let sent_at = b
            .sent_at
            .ok_or_else(|| AppError::invalid("sent_at", "is required with position_ms"))?;
        check_sent_at(&state, sent_at, now)?;
    } else if let Some(s) = b.sent_at {
        check_sent_at(&state, s, now)?;
    }
    let ack = state
        .ingest
        .submit(ProgressInput {
            play_session_id: b.play_session_id,
            profile_id: pid,
            position_ms: b.position_ms,
            paused: true,
            sent_at: b.position_ms.and(b.sent_at),
            interaction: true,
            stop: true,
            now,
        })
        .await?
        .map_err(refused)?;
    crate::playback::stream_ended(&state, pid, ack.title_id).await;
    Ok(Json(ack.into()))
}

/// The account's live streams, on all its profiles.
#[utoipa::path(get, path = "/api/v1/playback/streams", tag = "playback",
    responses((status = 200, body = Vec<ActiveStream>), (status = 401, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn streams(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<ActiveStream>>, ApiError> {
    Ok(Json(wire::all(
        state
            .store
            .active_streams(
                user.account.id,
                state.clock.now_ms(),
                state.config.playback.stream_timeout_ms(),
            )
            .await?,
    )))
}

/// Where the current profile is in a title: resume point, played, play count.
#[utoipa::path(get, path = "/api/v1/playback/titles/{id}", tag = "playback", params(("id" = i64, Path)),
    responses((status = 200, body = TitleProgress), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn title_state(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<TitleProgress>, ApiError> {
    let pid = profile_of(&user)?;
    crate::library::check_visible_for(&state, &user, id).await?;
    let t = playable(&state, id, "id").await?;
    Ok(Json(state.store.title_progress(pid, id).await?.map_or(
        TitleProgress {
            title_id: id,
            resume_ms: 0,
            duration_ms: t.duration_ms,
            played: false,
            play_count: 0,
            last_played_at: None,
            last_device_id: None,
        },
        TitleProgress::from,
    )))
}

async fn set_played(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    played: bool,
) -> Result<StatusCode, ApiError> {
    let pid = profile_of(user)?;
    crate::library::check_visible_for(state, user, id).await?;
    if state.store.playable_title(id).await?.is_none() {
        return Err(AppError::NotFound(format!("title {id} not found")).into());
    }
    state
        .store
        .set_played(pid, id, played, state.clock.now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Marks a title played by hand (a series: every episode).
#[utoipa::path(post, path = "/api/v1/playback/titles/{id}/played", tag = "playback", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn mark_played(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    set_played(&state, &user, id, true).await
}

/// Marks a title unplayed by hand (a series: every episode).
#[utoipa::path(delete, path = "/api/v1/playback/titles/{id}/played", tag = "playback", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn mark_unplayed(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    set_played(&state, &user, id, false).await
}

/// Row parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RowParams {
    /// 1 to 100, default 20.
    limit: Option<u32>,
}

/// Continue Watching: in-progress titles, most recently played first.
#[utoipa::path(get, path = "/api/v1/playback/continue-watching", tag = "playback", params(RowParams),
    responses((status = 200, body = Vec<RowItem>)), security(("bearer" = []), ("cookie" = [])))]
async fn continue_watching(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<RowParams>,
) -> Result<Json<Vec<RowItem>>, ApiError> {
    let pid = profile_of(&user)?;
    let n = super::check_limit(p.limit, 20, 100)?;
    Ok(Json(wire::all(
        state.store.continue_watching(pid, n).await?,
    )))
}

/// Removes a title from Continue Watching until it is played again.
#[utoipa::path(post, path = "/api/v1/playback/continue-watching/{id}/hide", tag = "playback", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn hide(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let pid = profile_of(&user)?;
    if state
        .store
        .hide_from_continue_watching(pid, id, state.clock.now_ms())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(format!("title {id} is not in Continue Watching")).into())
    }
}

/// Next Up: per series, the in-progress episode, else the one after the last completed.
#[utoipa::path(get, path = "/api/v1/playback/next-up", tag = "playback", params(RowParams),
    responses((status = 200, body = Vec<RowItem>)), security(("bearer" = []), ("cookie" = [])))]
async fn next_up(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<RowParams>,
) -> Result<Json<Vec<RowItem>>, ApiError> {
    let pid = profile_of(&user)?;
    let n = super::check_limit(p.limit, 20, 100)?;
    Ok(Json(wire::all(
        state.store.next_up(pid, next_up_since(&state), n).await?,
    )))
}

/// Play-event log parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Only this title.
    title_id: Option<i64>,
    /// Events after this id (paging).
    after_id: Option<i64>,
    /// 1 to 1000, default 100.
    limit: Option<u32>,
}

/// The current profile's play-event log, oldest first.
#[utoipa::path(get, path = "/api/v1/playback/events", tag = "playback", params(EventParams),
    responses((status = 200, body = Vec<PlayEvent>)), security(("bearer" = []), ("cookie" = [])))]
async fn play_events(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<EventParams>,
) -> Result<Json<Vec<PlayEvent>>, ApiError> {
    let pid = profile_of(&user)?;
    let n = super::check_limit(p.limit, 100, 1000)?;
    Ok(Json(wire::all(
        state
            .store
            .play_events(pid, p.title_id, p.after_id.unwrap_or(0), n)
            .await?,
    )))
}

/// Live events of the current profile (Server-Sent Events): first a `streams`
/// event with the account's live streams, then a `playback` event
/// ([`PlaybackEvent`]) for every start, progress report and stop.
#[utoipa::path(get, path = "/api/v1/events", tag = "playback",
    responses((status = 200, description = "text/event-stream", body = PlaybackEvent), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn events(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: CurrentUser,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let pid = profile_of(&user)?;
    let permit = state.streams.acquire(user.account.id, ip)?;
    let sub = state.events.subscribe(pid);
    let live = state
        .store
        .active_streams(
            user.account.id,
            state.clock.now_ms(),
            state.config.playback.stream_timeout_ms(),
        )
        .await?
        .into_iter()
        .filter(|s| s.profile_id == pid)
        .map(ActiveStream::from)
        .collect::<Vec<_>>();
    let first = Event::default()
        .event("streams")
        .json_data(&live)
        .unwrap_or_else(|_| Event::default().comment("streams unavailable"));
    let rest = stream::unfold(sub, |mut sub| async move {
        let e = sub.next().await?;
        let ev = Event::default()
            .event("playback")
            .json_data(&*e)
            .unwrap_or_else(|_| Event::default().comment("encoding failed"));
        Some((Ok(ev), sub))
    });
    let s = stream::once(async move { Ok(first) }).chain(rest);
    Ok(Sse::new(crate::streams::hold(s, permit)).keep_alive(KeepAlive::default()))
}

/// Media file body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaRequest {
    /// A file inside the media directory, relative to it; null clears it.
    path: Option<String>,
}

/// A title's media file, as set.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaPath {
    /// The title.
    pub title_id: i64,
    /// The file inside the media directory; null when cleared.
    pub path: Option<String>,
}

/// Sets or clears a title's media file (admin).
#[utoipa::path(put, path = "/api/v1/staff/titles/{id}/media", tag = "staff", params(("id" = i64, Path)), request_body = MediaRequest,
    responses((status = 200, body = MediaPath), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn set_media(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<MediaRequest>,
) -> Result<Json<MediaPath>, ApiError> {
    let t = playable(&state, id, "id").await?;
    crate::playback::set_media_path(&state, t.id, b.path.as_deref()).await?;
    Ok(Json(MediaPath {
        title_id: t.id,
        path: b.path,
    }))
}

/// Stream list parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamListParams {
    /// The asking device (marks its stream `this_device`); default: the
    /// device this session registered or plays on.
    device_id: Option<i64>,
}

/// The account's live streams on all its profiles, oldest first, each with
/// its play session id (to stop it) and whether it plays on this device.
#[utoipa::path(get, path = "/api/v1/streams", tag = "playback", params(StreamListParams),
    responses((status = 200, body = Vec<AccountStream>), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn account_streams(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(p): ApiQuery<StreamListParams>,
) -> Result<Json<Vec<AccountStream>>, ApiError> {
    Ok(Json(
        crate::playback::account_streams(&state, &user, p.device_id)
            .await?
            .into_iter()
            .map(|s| AccountStream::new(s.stream, s.this_device))
            .collect(),
    ))
}

/// Optional body of "Stop playback there".
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopStreamRequest {
    /// The device it is stopped from (its name is shown on the stopped
    /// screen); default: the device this session registered or plays on.
    #[serde(default)]
    from_device_id: Option<i64>,
}

/// "Stop playback there": ends one of the account's live streams, on any
/// profile and device. The player there gets a `remote_stop` event naming
/// the device it was stopped from. 404 for an ended stream or another
/// account's. The body is optional.
#[utoipa::path(post, path = "/api/v1/streams/{id}/stop", tag = "playback",
    params(("id" = i64, Path, description = "Play session id")),
    request_body(content = StopStreamRequest, description = "Optional"),
    responses((status = 200, body = ProgressAck), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn stop_stream(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    body: OptionalJson<StopStreamRequest>,
) -> Result<Json<ProgressAck>, ApiError> {
    let b = body.0.unwrap_or_default();
    Ok(Json(
        crate::playback::stop_stream(&state, &user, id, b.from_device_id)
            .await?
            .into(),
    ))
}
