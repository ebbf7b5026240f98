//! The web player (`/watch/{id}`), media files with HTTP Range (`/media/{id}`),
//! and the Continue Watching / Next Up rows of the home page.

use super::{render, Page, PageForm};
use crate::api::playback::{media_dir, next_up_since, profile_of};
use crate::auth::CurrentUser;
use crate::error::{AppError, PageError};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use marquee_domain::TitleKind;
use marquee_store::playback::{ActiveStream, RowItem};
use serde::Deserialize;
use tower::ServiceExt;

const PLAYER_JS: &str = include_str!("../../static/player.js");

/// The player routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/watch/{id}", get(watch))
        .route("/media/{id}", get(media))
        .route("/continue-watching/{id}/hide", post(hide))
        .route(
            "/static/player.js",
            get(|| async { super::static_file("text/javascript", PLAYER_JS) }),
        )
}

/// `20:34`, or `1:02:03` past an hour.
pub fn clock_label(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A row card with a progress bar.
#[derive(Debug)]
pub struct RowCard {
    /// The item.
    pub item: RowItem,
    /// Label: "Harbour Lights [Sample] · S1:E2" or the title name.
    pub label: String,
    /// Sub-label: the episode name or the runtime.
    pub sub: String,
    /// Percent watched, 0 to 100.
    pub pct: i64,
}

/// A continuity item as a card.
pub(crate) fn card(item: RowItem) -> RowCard {
    let (label, sub) = match (&item.series_name, item.season, item.episode) {
        (Some(series), Some(s), Some(e)) => (format!("{series} · S{s}:E{e}"), item.name.clone()),
        _ => (item.name.clone(), clock_label(item.duration_ms)),
    };
    let pct = (item.resume_ms * 100)
        .checked_div(item.duration_ms.max(1))
        .unwrap_or(0)
        .clamp(0, 100);
    RowCard {
        item,
        label,
        sub,
        pct,
    }
}

/// The home page's Continue Watching and Next Up rows for a profile.
pub async fn home_rows(
    state: &AppState,
    profile_id: i64,
) -> Result<(Vec<RowCard>, Vec<RowCard>), AppError> {
    let cw = state.store.continue_watching(profile_id, 12).await?;
    let nu = state
        .store
        .next_up(profile_id, next_up_since(state), 12)
        .await?;
    Ok((
        cw.into_iter().map(card).collect(),
        nu.into_iter().map(card).collect(),
    ))
}

#[derive(Template)]
#[template(path = "playback/watch.html")]
struct WatchPage {
    l: super::Layout,
    title_id: i64,
    profile_id: i64,
    name: String,
    series_line: String,
    duration_ms: i64,
    duration_label: String,
    resume_ms: i64,
    resume_label: String,
    played: bool,
    media: bool,
    next_id: i64,
    interval_ms: i64,
    autoplay: bool,
    others: Vec<ActiveStream>,
}

#[derive(Deserialize)]
struct WatchParams {
    autoplay: Option<u8>,
}

async fn watch(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    Path(id): Path<String>,
    Query(q): Query<WatchParams>,
) -> Result<Response, PageError> {
    let id: i64 = id
        .parse()
        .map_err(|_| AppError::NotFound(format!("no title {id:?}")))?;
    let pid = match profile_of(&user) {
        Ok(p) => p,
        Err(_) => return Ok(Redirect::to("/profiles").into_response()),
    };
    let t = state
        .store
        .playable_title(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("title {id} not found")))?;
    if t.kind == TitleKind::Series {
        // A series plays its Next Up episode, else the pilot.
        let next = state
            .store
            .next_up(pid, 0, 100)
            .await?
            .into_iter()
            .find(|r| r.series_id == Some(id))
            .map(|r| r.title_id);
        let first = match next {
            Some(n) => Some(n),
            None => state.store.series_episodes(id).await?.first().copied(),
        };
        return match first {
            Some(ep) => Ok(Redirect::to(&format!("/watch/{ep}")).into_response()),
            None => Err(AppError::NotFound("this series has no episodes yet".into()).into()),
        };
    }
    let detail = state
        .store
        .title(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("title {id} not found")))?;
    let progress = state.store.title_progress(pid, id).await?;
    let (resume_ms, played) = progress.map_or((0, false), |p| (p.resume_ms, p.played));
    let mut series_line = String::new();
    let mut next_id = 0;
    if let Some(sid) = t.series_id {
        if let Some(series) = state.store.title(sid).await? {
            series_line = format!(
                "{} · Season {} · Episode {}",
                series.summary.name,
                detail.season.unwrap_or(0),
                detail.episode.unwrap_or(0)
            );
        }
        let eps = state.store.series_episodes(sid).await?;
        if let Some(pos) = eps.iter().position(|e| *e == id) {
            next_id = eps.get(pos + 1).copied().unwrap_or(0);
        }
    }
    let others = state
        .store
        .active_streams(
            user.account.id,
            state.clock.now_ms(),
            state.config.playback.stream_timeout_ms(),
        )
        .await?
        .into_iter()
        .filter(|s| s.profile_id == pid)
        .collect();
    let media = t.media_path.is_some();
    Ok(render(&WatchPage {
        l: page.l,
        title_id: id,
        profile_id: pid,
        name: t.name,
        series_line,
        duration_ms: t.duration_ms,
        duration_label: clock_label(t.duration_ms),
        resume_ms,
        resume_label: clock_label(resume_ms),
        played,
        media,
        next_id,
        interval_ms: i64::try_from(state.config.playback.progress_interval_s * 1000)
            .unwrap_or(5000),
        autoplay: q.autoplay == Some(1),
        others,
    })?
    .into_response())
}

/// Serves a title's media file; `tower_http::services::ServeFile` answers
/// Range requests (206, 416) and conditional ones.
async fn media(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, PageError> {
    let id: i64 = id
        .parse()
        .map_err(|_| AppError::NotFound(format!("no title {id:?}")))?;
    let t = state
        .store
        .playable_title(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("title {id} not found")))?;
    let rel = t
        .media_path
        .ok_or_else(|| AppError::NotFound("this title has no media file".into()))?;
    let path = crate::api::playback::media_file(&state, &rel).map_err(|_| {
        AppError::NotFound(format!(
            "the media file is missing from {}",
            media_dir(&state).display()
        ))
    })?;
    let resp = tower_http::services::ServeFile::new(&path)
        .oneshot(req)
        .await
        .map_err(|e| AppError::Internal(format!("serving media: {e}")))?;
    let mut resp = resp.map(axum::body::Body::new).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(resp)
}

#[derive(Deserialize)]
struct HideForm {
    csrf: String,
}

async fn hide(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<HideForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let pid = profile_of(&user)?;
    state
        .store
        .hide_from_continue_watching(pid, id, state.clock.now_ms())
        .await?;
    Ok(Redirect::to("/").into_response())
}

#[cfg(test)]
mod tests {
    use super::clock_label;

    #[test]
    fn clock_labels() {
        assert_eq!(clock_label(1_234_000), "20:34");
        assert_eq!(clock_label(5_000), "0:05");
        assert_eq!(clock_label(3_723_000), "1:02:03");
        assert_eq!(clock_label(-5), "0:00");
    }
}
