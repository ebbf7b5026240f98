//! Real playback's media API: what a title offers this profile's browser.

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use crate::wire::playback::{
    AudioTrackInfo, PlaybackInfo, PlaybackSource, SubtitleTrackInfo, TranscodingInfo,
};
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

/// The media part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(playback_info),
    components(schemas(
        PlaybackInfo, PlaybackSource, AudioTrackInfo, SubtitleTrackInfo, TranscodingInfo
    )),
    tags((name = "media", description = "Media sources, tracks and signed links for a player"))
)]
pub struct Doc;

/// The media routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/titles/{id}/playback-info", get(playback_info))
}

/// `?audio=`: the audio track to play (a stream index from `audio_tracks`).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct InfoParams {
    /// Stream index of the audio track; default: the file's default track.
    audio: Option<u32>,
}

/// What the current profile's browser can play of a title, best first:
/// the file itself (direct), HLS remuxed or transcoded by the server, or the
/// operator's pre-packaged HLS; its audio and subtitle tracks; where the
/// profile stopped. Links are signed for the profile and expire at
/// `expires_at`. An empty `sources` means the title has no playable media
/// (`problem` says why when its file is corrupt).
#[utoipa::path(get, path = "/api/v1/titles/{id}/playback-info", tag = "media",
    params(("id" = i64, Path), InfoParams),
    responses((status = 200, body = PlaybackInfo), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn playback_info(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<InfoParams>,
) -> Result<Json<PlaybackInfo>, ApiError> {
    Ok(Json(
        crate::media::playback_info(&state, &user, id, q.audio).await?,
    ))
}
