//! On-demand HLS of a title (`/media/{id}/hls/{audio}/index.m3u8` and its
//! segments `/media/{id}/hls/{audio}/{n}.ts`), for files a browser cannot
//! play as they are. Access as for the file itself: a signed link (one
//! signature covers the folder, so the playlist repeats it on every
//! segment) or a session that may watch the title. Errors are JSON (a
//! player shows their message), as the API's are.

use crate::auth::CurrentUser;
use crate::error::{ApiError, AppError};
use crate::media::{hls_link_path, viewer, MediaLinkQuery};
use crate::AppState;
use axum::extract::{Path, Query, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// The HLS routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/media/{id}/hls/{audio}/{file}", get(hls_file))
}

async fn hls_file(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    Path((id, audio, file)): Path<(String, String, String)>,
    Query(link): Query<MediaLinkQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    let (Ok(id), Ok(audio)) = (id.parse::<i64>(), audio.parse::<u32>()) else {
        return Err(AppError::NotFound(format!("no stream {id}/{audio}")).into());
    };
    let path = hls_link_path(id, audio);
    let Some((pid, access)) = viewer(&state, user.as_ref(), id, &path, &link).await? else {
        return Ok(Redirect::to(&format!("/login?next=/watch/{id}")).into_response());
    };
    let cache = access.cache_control();
    if file == "index.m3u8" {
        let query = req.uri().query().unwrap_or("").to_string();
        let query = if link.is_signed() {
            query
        } else {
            String::new()
        };
        let body = state
            .media
            .hls
            .playlist(&state, id, audio, pid, &query)
            .await?;
        return Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.apple.mpegurl".to_string(),
                ),
                (header::CACHE_CONTROL, cache),
            ],
            body,
        )
            .into_response());
    }
    let n: u32 = file
        .strip_suffix(".ts")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| AppError::NotFound(format!("no such stream file {file:?}")))?;
    let seg = state.media.hls.segment(&state, id, audio, pid, n).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "video/mp2t".to_string()),
            (header::CACHE_CONTROL, cache),
        ],
        seg,
    )
        .into_response())
}
