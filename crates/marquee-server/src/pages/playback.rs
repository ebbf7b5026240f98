//! The web player (`/watch/{id}`), media files with HTTP Range (`/media/{id}`),
//! and hiding a title from Continue Watching.

use super::{render, Page, PageForm};
use crate::auth::CurrentUser;
use crate::error::{AppError, PageError};
use crate::format::clock_label;
use crate::playback::profile_of;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use marquee_domain::TitleKind;
use marquee_store::playback::ActiveStream;
use serde::Deserialize;

const PLAYER_JS: &str = include_str!("../../static/player.js");
/// hls.js 1.7.4 (Apache-2.0, see `static/hls.LICENSE`): `player.js` loads
/// it on demand for an HLS source in a browser without native HLS.
const HLS_JS: &str = include_str!("../../static/hls.min.js");

/// The site's Content-Security-Policy (`crate::app`'s default) for the
/// watch page, which adds `media-src 'self' blob:`: hls.js plays through
/// Media Source Extensions, whose `blob:` object URL the `<video>` loads.
/// Workers stay off (`enableWorker: false` in `player.js`), so no
/// `worker-src blob:` is needed. With `[playback] cdn_base`, its origin may
/// serve media and be fetched (an operator's packaged HLS, which hls.js
/// loads with XHR).
fn watch_csp(cdn_base: Option<&str>) -> String {
    let cdn = cdn_base
        .and_then(|b| {
            let (scheme, rest) = b.split_once("://")?;
            let host = rest.split('/').next()?;
            let ok = matches!(scheme, "http" | "https")
                && !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            ok.then(|| format!(" {scheme}://{host}"))
        })
        .unwrap_or_default();
    format!(
        "default-src 'self'; media-src 'self' blob:{cdn}; connect-src 'self'{cdn}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
}

/// The player routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/watch/{id}", get(watch))
        .route("/media/{id}", get(media))
        .route("/media/{id}/subtitles/{n}", get(subtitles))
        .route("/continue-watching/{id}/hide", post(hide))
        .route(
            "/static/player.js",
            get(|| async { super::static_file("text/javascript", PLAYER_JS) }),
        )
        .route(
            "/static/hls.min.js",
            get(|| async { super::static_file("text/javascript", HLS_JS) })
                .layer(tower_http::compression::CompressionLayer::new()),
        )
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
    /// A signed link to the media file, when the title has one.
    media: Option<String>,
    /// Its subtitle files, as signed WebVTT links.
    tracks: Vec<Track>,
    next_id: i64,
    interval_ms: i64,
    autoplay: bool,
    /// Start at once where the profile stopped: one click from the title page.
    play: bool,
    others: Vec<ActiveStream>,
}

/// A `<track>` of the player.
struct Track {
    src: String,
    lang: String,
    label: String,
}

#[derive(Deserialize)]
struct WatchParams {
    autoplay: Option<u8>,
    play: Option<u8>,
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
    crate::library::check_visible(&state, page.profile.as_ref(), id).await?;
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
    let (media, tracks) = match crate::playback::media_for(&state, &t).await? {
        Some(file) => {
            let src = crate::playback::signed_media_url(
                &state,
                &crate::playback::media_link_path(id),
                pid,
            )
            .await?;
            let mut tracks = Vec::with_capacity(file.subtitles.len());
            for (n, s) in file.subtitles.into_iter().enumerate() {
                tracks.push(Track {
                    src: crate::playback::signed_media_url(
                        &state,
                        &crate::playback::subtitle_link_path(id, n),
                        pid,
                    )
                    .await?,
                    lang: s.lang.unwrap_or_default(),
                    label: s.label,
                });
            }
            (Some(src), tracks)
        }
        None => (None, Vec::new()),
    };
    let resp = render(&WatchPage {
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
        tracks,
        next_id,
        interval_ms: i64::try_from(state.config.playback.progress_interval_s * 1000)
            .unwrap_or(5000),
        autoplay: q.autoplay == Some(1),
        play: q.play == Some(1),
        others,
    })?;
    let mut resp = resp.into_response();
    if let Ok(v) =
        header::HeaderValue::from_str(&watch_csp(state.config.playback.cdn_base.as_deref()))
    {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(resp)
}

/// Serves a title's media file; `tower_http::services::ServeFile` answers
/// Range requests (206, 416) and conditional ones. A signed link (made by
/// the watch page for a profile allowed to watch the title) needs no
/// log-in, so a CDN can serve it, and stops working when it expires; an
/// unsigned request needs a session that may watch the title.
async fn media(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    Path(id): Path<String>,
    axum::extract::Query(link): axum::extract::Query<crate::playback::MediaLinkQuery>,
    req: Request,
) -> Result<Response, PageError> {
    let id: i64 = id
        .parse()
        .map_err(|_| AppError::NotFound(format!("no title {id:?}")))?;
    let path = crate::playback::media_link_path(id);
    let Some(access) =
        crate::playback::authorize_media(&state, user.as_ref(), id, &path, &link).await?
    else {
        return Ok(Redirect::to(&format!("/login?next=/watch/{id}")).into_response());
    };
    let file = crate::playback::open_media_file(&state, id).await?;
    let mut resp = crate::ranged::serve(file, req).await?;
    if let Ok(v) = header::HeaderValue::from_str(&access.cache_control()) {
        resp.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    Ok(resp)
}

/// A title's `n`th subtitle file as WebVTT (SubRip converted), with the
/// same access as its media file.
async fn subtitles(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    Path((id, n)): Path<(String, String)>,
    axum::extract::Query(link): axum::extract::Query<crate::playback::MediaLinkQuery>,
) -> Result<Response, PageError> {
    let (Ok(id), Ok(n)) = (id.parse::<i64>(), n.parse::<usize>()) else {
        return Err(AppError::NotFound(format!("no subtitles {id}/{n}")).into());
    };
    let path = crate::playback::subtitle_link_path(id, n);
    let Some(access) =
        crate::playback::authorize_media(&state, user.as_ref(), id, &path, &link).await?
    else {
        return Ok(Redirect::to(&format!("/login?next=/watch/{id}")).into_response());
    };
    let vtt = crate::playback::subtitle_vtt(&state, id, n).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/vtt; charset=utf-8".to_string()),
            (header::CACHE_CONTROL, access.cache_control()),
        ],
        vtt,
    )
        .into_response())
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
    use super::watch_csp;

    #[test]
    fn the_watch_page_allows_blob_media_and_the_cdn_origin_only() {
        let plain = watch_csp(None);
        assert!(plain.contains("media-src 'self' blob:;"), "{plain}");
        assert!(plain.contains("connect-src 'self';"), "{plain}");
        assert!(!plain.contains("worker-src"), "{plain}");
        let cdn = watch_csp(Some("https://cdn.example.com:8443/shows/"));
        assert!(
            cdn.contains("media-src 'self' blob: https://cdn.example.com:8443;"),
            "{cdn}"
        );
        assert!(
            cdn.contains("connect-src 'self' https://cdn.example.com:8443;"),
            "{cdn}"
        );
        // Nothing that could end the directive or add another.
        assert_eq!(watch_csp(Some("https://a.example; script-src *")), plain);
        assert_eq!(watch_csp(Some("ftp://a.example/")), plain);
    }
}
