//! Real playback's media service (#23): which files a title plays and how a
//! browser can play them (`playback-info`), reading files with `ffprobe`
//! ([`probe`]), on-demand HLS with `ffmpeg` ([`hls`]), and the programs
//! themselves ([`tools`]).
//!
//! The rules (how a browser plays a codec, playlists, signatures) are in the
//! pure crate `marquee-media`; this module runs the programs, keeps the
//! segment cache and answers the handlers in `api/playback.rs` and
//! `pages/stream.rs`. The workers here ([`start`]) are started by
//! `launch`: the tool check and probe worker, and the HLS sweeper.

pub mod hls;
pub mod open;
pub mod probe;
pub mod tools;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::import::NoProgress;
use crate::playback::{media_for, profile_of, signed_media_url};
use crate::wire::playback::{
    AudioTrackInfo, PlaybackInfo, PlaybackSource, SubtitleTrackInfo, TranscodingInfo,
};
use crate::AppState;
use marquee_media::plan::{play_method, Capabilities, PlayMethod};
use marquee_media::probe::{parse_ffprobe, MediaInfo};
use std::path::Path;
use std::sync::RwLock;
use std::time::Duration;
use tools::Tool;

pub use crate::playback::{MediaAccess, MediaLinkQuery};

/// The media service's state: the programs found, the probe worker's
/// wake-up, the HLS segmenter.
pub struct Media {
    ffmpeg: RwLock<Tool>,
    ffprobe: RwLock<Tool>,
    /// Wakes the probe worker (an import or a newly set file).
    pub probe_wake: tokio::sync::Notify,
    /// On-demand HLS: jobs and the segment cache.
    pub hls: hls::Hls,
    /// Titles' media files kept open for a moment (`/media/{id}` ranges).
    pub open: open::OpenFiles,
}

impl Media {
    /// A media service for `config` (programs not looked for yet).
    pub fn new(config: &crate::Config) -> Media {
        Media {
            ffmpeg: RwLock::new(Tool::Unknown),
            ffprobe: RwLock::new(Tool::Unknown),
            probe_wake: tokio::sync::Notify::new(),
            hls: hls::Hls::new(config),
            open: open::OpenFiles::default(),
        }
    }

    /// Whether `ffmpeg` runs here.
    pub fn ffmpeg(&self) -> Tool {
        self.ffmpeg.read().map_or(Tool::Unknown, |t| t.clone())
    }

    /// Whether `ffprobe` runs here.
    pub fn ffprobe(&self) -> Tool {
        self.ffprobe.read().map_or(Tool::Unknown, |t| t.clone())
    }

    fn set(lock: &RwLock<Tool>, tool: Tool) {
        if let Ok(mut t) = lock.write() {
            *t = tool;
        }
    }
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("ffmpeg", &self.ffmpeg())
            .field("ffprobe", &self.ffprobe())
            .finish_non_exhaustive()
    }
}

/// How often the probe worker looks for changed files without a wake-up.
const PROBE_EVERY: Duration = Duration::from_secs(600);

/// Starts the media workers: the program check followed by the probe
/// worker, and the HLS cache sweeper.
pub fn start(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let probe_state = state.clone();
    let probe = tokio::spawn(async move {
        let state = probe_state;
        let c = &state.config.playback;
        let (ffmpeg, ffprobe) = tokio::join!(tools::detect(&c.ffmpeg), tools::detect(&c.ffprobe));
        for (name, tool) in [("ffmpeg", &ffmpeg), ("ffprobe", &ffprobe)] {
            match tool {
                Tool::Ready { version } => tracing::info!(%version, "{name} found"),
                Tool::Missing { reason } => tracing::warn!(%reason, "{name} not available"),
                Tool::Unknown => {}
            }
        }
        Media::set(&state.media.ffmpeg, ffmpeg);
        Media::set(&state.media.ffprobe, ffprobe.clone());
        if !ffprobe.is_ready() {
            return;
        }
        loop {
            let woken = state.media.probe_wake.notified();
            let dir = crate::playback::media_dir(&state);
            match probe::probe_pending(
                state.store.as_ref(),
                &dir,
                &c.ffprobe,
                state.clock.now_ms(),
                &mut NoProgress,
            )
            .await
            {
                Ok(r) if r.probed > 0 => {
                    tracing::info!(
                        probed = r.probed,
                        failed = r.failed.len(),
                        runtimes = r.runtimes_set,
                        "media files probed"
                    );
                    if r.runtimes_set > 0 {
                        state.catalog_changed.notify_one();
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "probing media files failed"),
            }
            let _ = tokio::time::timeout(PROBE_EVERY, woken).await;
        }
    });
    vec![probe, hls::spawn_sweeper(state.clone())]
}

/// What ffprobe read from a file, when it has: `Ok(None)` not read yet,
/// `Err(reason)` it could not be read.
async fn reading(
    state: &AppState,
    path: &Path,
) -> Result<Result<Option<MediaInfo>, String>, AppError> {
    let key = path.to_string_lossy().into_owned();
    let rows = state.store.media_probes(std::slice::from_ref(&key)).await?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(Ok(None));
    };
    if let Some(e) = row.error {
        return Ok(Err(e));
    }
    Ok(Ok(row
        .probe
        .as_deref()
        .and_then(|json| parse_ffprobe(json).ok())))
}

/// A title's media as read by ffprobe: the file and its reading, or 404.
pub async fn probed_media(
    state: &AppState,
    title_id: i64,
) -> Result<(crate::playback::MediaFile, MediaInfo), AppError> {
    let file = crate::playback::media_of(state, title_id).await?;
    match reading(state, &file.path).await? {
        Ok(Some(info)) => Ok((file, info)),
        Ok(None) => Err(AppError::NotFound(
            "this title's media file has not been read yet; try again in a minute".into(),
        )),
        Err(reason) => Err(AppError::NotFound(format!(
            "this title's media file cannot be played: {reason}"
        ))),
    }
}

/// The MIME type a browser is told for a file, from its extension.
fn mime_of(path: &Path) -> &'static str {
    match path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .as_deref()
    {
        Some("mp4" | "m4v" | "mov") => "video/mp4",
        Some("webm") => "video/webm",
        Some("mkv") => "video/x-matroska",
        Some("mp3") => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

/// Where a title's HLS for one audio track is served; its playlist is
/// `index.m3u8` below it and its segments `{n}.ts`. One signature covers
/// the folder.
pub fn hls_link_path(title_id: i64, audio: u32) -> String {
    format!("/media/{title_id}/hls/{audio}")
}

/// `GET /api/v1/titles/{id}/playback-info`: what this profile's browser can
/// play of a title, best first, with its tracks and resume point. Links are
/// signed for the profile and expire.
pub async fn playback_info(
    state: &AppState,
    user: &CurrentUser,
    title_id: i64,
    audio: Option<u32>,
) -> Result<PlaybackInfo, AppError> {
    let pid = profile_of(user)?;
    if user.account.stream_cap() == 0 {
        return Err(AppError::Conflict {
            field: Some("status".into()),
            message: format!(
                "your subscription is {}; reactivate it on your account page to watch",
                user.account.status.as_str()
            ),
        });
    }
    crate::library::check_visible_for(state, user, title_id).await?;
    let title = crate::playback::playable(state, title_id, "id").await?;
    let resume_position_ms = state
        .store
        .title_progress(pid, title_id)
        .await?
        .map_or(0, |p| p.resume_ms);
    let ffmpeg = state.media.ffmpeg();
    let transcoding = match &ffmpeg {
        Tool::Ready { .. } => TranscodingInfo {
            available: true,
            reason: None,
        },
        Tool::Missing { reason } => TranscodingInfo {
            available: false,
            reason: Some(format!(
                "{reason}; only direct play and pre-packaged HLS are offered"
            )),
        },
        Tool::Unknown => TranscodingInfo {
            available: false,
            reason: Some("the server is still looking for ffmpeg".into()),
        },
    };
    let ttl_ms = i64::try_from(state.config.playback.media_link_ttl_s.saturating_mul(1000))
        .unwrap_or(i64::MAX);
    let mut info = PlaybackInfo {
        title_id,
        duration_ms: title.duration_ms,
        resume_position_ms,
        sources: Vec::new(),
        audio_tracks: Vec::new(),
        subtitle_tracks: Vec::new(),
        transcoding,
        problem: None,
        expires_at: state.clock.now_ms().saturating_add(ttl_ms),
    };
    if let Some(url) = packaged_url(state, title_id, pid).await? {
        info.sources.push(PlaybackSource {
            method: "packaged".into(),
            protocol: "hls".into(),
            url,
            mime: "application/vnd.apple.mpegurl".into(),
            container: None,
            video_codec: None,
            audio_codec: None,
            width: None,
            height: None,
        });
    }
    let Some(file) = media_for(state, &title).await? else {
        return Ok(info);
    };
    for (n, s) in file.subtitles.iter().enumerate() {
        info.subtitle_tracks
            .push(subtitle_track(state, title_id, pid, n, s.lang.clone(), s.label.clone()).await?);
    }
    // What ffprobe read, once: the embedded subtitles and the sources.
    let read = reading(state, &file.path).await?;
    let sidecars = file.subtitles.len();
    if let (Ok(Some(probe)), true) = (&read, ffmpeg.is_ready()) {
        for (k, t) in probe.subtitles.iter().filter(|t| t.is_text()).enumerate() {
            let n = sidecars + k;
            let lang = t.language.as_deref();
            let mut label = t
                .title
                .clone()
                .or_else(|| {
                    lang.and_then(crate::playback::language_name)
                        .map(str::to_string)
                })
                .or_else(|| lang.map(str::to_uppercase))
                .unwrap_or_else(|| format!("Subtitles {}", n + 1));
            if t.forced {
                label.push_str(" (forced)");
            }
            info.subtitle_tracks
                .push(subtitle_track(state, title_id, pid, n, t.language.clone(), label).await?);
        }
    }
    let direct_url =
        signed_media_url(state, &crate::playback::media_link_path(title_id), pid).await?;
    let direct = |probe: Option<&MediaInfo>| PlaybackSource {
        method: "direct".into(),
        protocol: "file".into(),
        url: direct_url.clone(),
        mime: mime_of(&file.path).into(),
        container: probe.and_then(|i| i.containers.first().cloned()),
        video_codec: probe.and_then(|i| i.video.as_ref().map(|v| v.codec.clone())),
        audio_codec: probe.and_then(|i| i.default_audio().map(|a| a.codec.clone())),
        width: probe.and_then(|i| i.video.as_ref().map(|v| v.width)),
        height: probe.and_then(|i| i.video.as_ref().map(|v| v.height)),
    };
    match read {
        Err(reason) => {
            // A corrupt or truncated file: nothing to offer.
            info.problem = Some(format!("the media file cannot be played: {reason}"));
        }
        Ok(None) => {
            // Not read yet: the file as it is, which plays when it is a
            // browser format.
            state.media.probe_wake.notify_one();
            info.sources.push(direct(None));
        }
        Ok(Some(probe)) => {
            info.duration_ms = probe.duration_ms;
            info.audio_tracks = probe
                .audio
                .iter()
                .map(|a| AudioTrackInfo {
                    index: a.index,
                    language: a.language.clone(),
                    label: audio_label(a, probe.audio.len()),
                    codec: a.codec.clone(),
                    channels: a.channels,
                    default: probe.default_audio().is_some_and(|d| d.index == a.index),
                })
                .collect();
            let audio = match audio {
                Some(i) if probe.audio.iter().any(|a| a.index == i) => Some(i),
                Some(i) => {
                    return Err(AppError::invalid(
                        "audio",
                        format!("this title has no audio track {i}"),
                    ))
                }
                None => probe.default_audio().map(|a| a.index),
            };
            let method = play_method(&probe, audio, &Capabilities::browser());
            if method == PlayMethod::Direct {
                info.sources.push(direct(Some(&probe)));
            } else if ffmpeg.is_ready() {
                let path = hls_link_path(title_id, audio.unwrap_or(0));
                let signed = signed_media_url(state, &path, pid).await?;
                let url = match signed.split_once('?') {
                    Some((p, q)) => format!("{p}/index.m3u8?{q}"),
                    None => format!("{signed}/index.m3u8"),
                };
                info.sources.push(PlaybackSource {
                    method: method.as_str().into(),
                    protocol: "hls".into(),
                    url,
                    mime: "application/vnd.apple.mpegurl".into(),
                    container: Some("mpegts".into()),
                    video_codec: probe.video.as_ref().map(|v| {
                        if method == PlayMethod::Remux {
                            v.codec.clone()
                        } else {
                            "h264".into()
                        }
                    }),
                    audio_codec: Some(if method == PlayMethod::Remux {
                        probe
                            .audio
                            .iter()
                            .find(|a| Some(a.index) == audio)
                            .map_or_else(|| "aac".into(), |a| a.codec.clone())
                    } else {
                        "aac".into()
                    }),
                    width: probe.video.as_ref().map(|v| v.width),
                    height: probe.video.as_ref().map(|v| v.height),
                });
                // The file itself as a last resort (Chrome plays many
                // Matroska files).
                if method == PlayMethod::Remux {
                    info.sources.push(direct(Some(&probe)));
                }
            } else {
                // No ffmpeg: the file as it is, which may not play.
                info.sources.push(direct(Some(&probe)));
            }
        }
    }
    Ok(info)
}

/// An audio track's menu label: "English", "French (5.1)", the title tag,
/// or "Track 2".
fn audio_label(a: &marquee_media::probe::AudioTrack, tracks: usize) -> String {
    let lang = a
        .language
        .as_deref()
        .and_then(crate::playback::language_name)
        .map(str::to_string)
        .or_else(|| a.language.as_ref().map(|l| l.to_uppercase()));
    let mut label = match (&a.title, lang) {
        (Some(t), Some(l)) if tracks > 1 && !t.contains(&l) => format!("{l}: {t}"),
        (Some(t), _) => t.clone(),
        (None, Some(l)) => l,
        (None, None) => format!("Track {}", a.index),
    };
    if a.channels >= 6 {
        label.push_str(if a.channels == 6 { " (5.1)" } else { " (7.1)" });
    }
    label
}

/// A pre-packaged HLS stream of the title (a feed's URL under
/// `[playback] cdn_base`), signed like Marquee's own links (`sub`, `exp`,
/// `sig` over the URL's path) so that the CDN can check them with the
/// shared key.
async fn packaged_url(
    state: &AppState,
    title_id: i64,
    pid: i64,
) -> Result<Option<String>, AppError> {
    let Some(base) = state.config.playback.cdn_base.as_deref() else {
        return Ok(None);
    };
    let Some(url) = state
        .store
        .media_sources(title_id)
        .await?
        .into_iter()
        .find_map(|m| {
            (m.library.is_none()
                && m.location.starts_with(base)
                && m.location
                    .split(['?', '#'])
                    .next()
                    .is_some_and(|p| p.ends_with(".m3u8")))
            .then_some(m.location)
        })
    else {
        return Ok(None);
    };
    let without_query = url.split(['?', '#']).next().unwrap_or(&url);
    let path = without_query
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    let signed = signed_media_url(state, path, pid).await?;
    let query = signed.split_once('?').map_or("", |(_, q)| q);
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok(Some(format!("{url}{sep}{query}")))
}

/// Who asks for a title's media at `path`: the profile a signed link was made for, or the session's.
pub async fn viewer(
    state: &AppState,
    user: Option<&CurrentUser>,
    id: i64,
    path: &str,
    link: &MediaLinkQuery,
) -> Result<Option<(i64, MediaAccess)>, AppError> {
    let Some(access) = crate::playback::authorize_media(state, user, id, path, link).await? else {
        return Ok(None);
    };
    let pid = match (&access, link.sub.as_deref(), user) {
        (MediaAccess::Signed { .. }, Some(sub), _) => sub
            .strip_prefix('p')
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| AppError::Forbidden("this media link is not valid".into()))?,
        (_, _, Some(u)) => crate::playback::profile_of(u)?,
        _ => return Ok(None),
    };
    Ok(Some((pid, access)))
}

/// How a media file plays, in words for the catalog editor: what ffprobe
/// read, and whether browsers get it as it is, remuxed or transcoded, or
/// why not (no ffmpeg here, or a file that cannot be read).
pub async fn how_it_plays(state: &AppState, path: &Path) -> Result<String, AppError> {
    let ffmpeg = state.media.ffmpeg();
    let no_ffmpeg = match &ffmpeg {
        Tool::Missing { reason } => Some(reason.clone()),
        _ => None,
    };
    Ok(match reading(state, path).await? {
        Err(reason) => format!(
            "It cannot be played: {reason}. Viewers are offered nothing until the file is replaced and scanned again."
        ),
        Ok(None) => match state.media.ffprobe() {
            Tool::Missing { reason } => format!(
                "It has not been read ({reason}), so browsers get the file as it is."
            ),
            _ => "It has not been read yet; the server reads new files within minutes.".into(),
        },
        Ok(Some(info)) => {
            let mut parts = vec![crate::format::clock_label(info.duration_ms)];
            if let Some(v) = &info.video {
                parts.push(format!("{} {}×{}", codec_name(&v.codec), v.width, v.height));
            }
            let audio: Vec<String> = info
                .audio
                .iter()
                .map(|a| audio_label(a, info.audio.len()))
                .collect();
            match audio.len() {
                0 => parts.push("no audio".into()),
                1 => parts.push(format!("audio: {}", audio.join(""))),
                n => parts.push(format!("{n} audio tracks ({})", audio.join(", "))),
            }
            let how = match (play_method(&info, None, &Capabilities::browser()), no_ffmpeg) {
                (PlayMethod::Direct, _) => "browsers play it as it is".to_string(),
                (PlayMethod::Remux, None) => {
                    "browsers get it remuxed to HLS (its streams copied, cheap)".into()
                }
                (PlayMethod::Transcode, None) => {
                    "browsers get it transcoded to H.264/AAC HLS (one job per core)".into()
                }
                (_, Some(reason)) => format!(
                    "browsers need it remuxed or transcoded, which this server cannot do ({reason}); it is offered as it is and may not play"
                ),
            };
            format!("Read: {}; {how}.", parts.join(", "))
        }
    })
}

/// A codec's name as people know it.
fn codec_name(codec: &str) -> String {
    match codec {
        "h264" => "H.264".into(),
        "hevc" => "HEVC".into(),
        "vp9" => "VP9".into(),
        "vp8" => "VP8".into(),
        "av1" => "AV1".into(),
        "mpeg4" => "MPEG-4".into(),
        other => other.to_uppercase(),
    }
}

/// The `n`th subtitle track of a title (sidecar files first, then the
/// file's own text tracks), its WebVTT link signed for profile `pid`.
async fn subtitle_track(
    state: &AppState,
    title_id: i64,
    pid: i64,
    n: usize,
    language: Option<String>,
    label: String,
) -> Result<SubtitleTrackInfo, AppError> {
    Ok(SubtitleTrackInfo {
        index: u32::try_from(n).unwrap_or(u32::MAX),
        language,
        label,
        url: signed_media_url(
            state,
            &crate::playback::subtitle_link_path(title_id, n),
            pid,
        )
        .await?,
        format: "vtt".into(),
    })
}

/// What the staff's catalog page says about playback on this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaHealth {
    /// Whether files browsers cannot play as they are get remuxed or
    /// transcoded, and why not.
    pub transcoding: String,
    /// Whether media files are read (ffprobe).
    pub probing: String,
    /// Files that cannot be played (path, why), newest first.
    pub unreadable: Vec<(String, String)>,
}

/// Playback on this server, in words: ffmpeg, ffprobe, unreadable files.
pub async fn health(state: &AppState) -> Result<MediaHealth, AppError> {
    let transcoding = match state.media.ffmpeg() {
        Tool::Ready { version } => {
            // "ffmpeg version 5.1.6-0+deb12u1 Copyright (c) …": the version.
            let v = version.split_whitespace().nth(2).unwrap_or("");
            format!(
                "Files browsers cannot play as they are get remuxed or transcoded to HLS on demand (ffmpeg {v})."
            )
        }
        Tool::Missing { reason } => format!(
            "No remuxing or transcoding: {reason}. Only files browsers play as they are (MP4, WebM) and pre-packaged HLS are offered."
        ),
        Tool::Unknown => "Checking for ffmpeg…".into(),
    };
    let probing = match state.media.ffprobe() {
        Tool::Ready { .. } => {
            "Media files are read with ffprobe when they are scanned or changed.".into()
        }
        Tool::Missing { reason } => format!(
            "Media files are not read: {reason}. Durations, codecs and audio tracks stay unknown."
        ),
        Tool::Unknown => "Checking for ffprobe…".into(),
    };
    let unreadable = state
        .store
        .media_probe_failures(20)
        .await?
        .into_iter()
        .map(|r| (r.path, r.error.unwrap_or_default()))
        .collect();
    Ok(MediaHealth {
        transcoding,
        probing,
        unreadable,
    })
}

/// The `k`th text subtitle track inside a media file as WebVTT, extracted
/// by ffmpeg (at most 5 MB, 60 s); 404 when there is none or it cannot be.
pub async fn embedded_subtitle_vtt(
    state: &AppState,
    path: &Path,
    k: usize,
) -> Result<String, AppError> {
    let none = || {
        AppError::NotFound(format!(
            "this title has no subtitle track {k} inside its file"
        ))
    };
    let Ok(Some(info)) = reading(state, path).await? else {
        return Err(none());
    };
    let Some(track) = info.subtitles.iter().filter(|t| t.is_text()).nth(k) else {
        return Err(none());
    };
    if !state.media.ffmpeg().is_ready() {
        return Err(AppError::NotFound(
            "subtitles inside the file need ffmpeg, which this server does not have".into(),
        ));
    }
    let run = tokio::process::Command::new(&state.config.playback.ffmpeg)
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(path)
        .args([
            "-map",
            &format!("0:{}", track.index),
            "-f",
            "webvtt",
            "pipe:1",
        ])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .map_err(|_| AppError::Transcoder("extracting subtitles took over 60 s".into()))?
        .map_err(|e| AppError::Transcoder(format!("ffmpeg could not be run: {e}")))?;
    if !out.status.success() {
        return Err(AppError::Transcoder(format!(
            "the subtitles could not be extracted: {}",
            tools::last_line(&out.stderr)
        )));
    }
    if out.stdout.len() > 5 * 1024 * 1024 {
        return Err(AppError::NotFound("the subtitle track is over 5 MB".into()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
