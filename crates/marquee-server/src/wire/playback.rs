//! The JSON API's form of `marquee_store::playback` rows: the same fields and
//! serde attributes, converted with `From`, so the store carries no OpenAPI
//! schema and the wire format is the server's.

use marquee_domain::playback::{DeviceKind, NextUpReason};
use marquee_domain::{Millis, TitleKind};
use marquee_store::playback as store;
use serde::Serialize;
use utoipa::ToSchema;

/// A live stream of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ActiveStream {
    /// The play session.
    pub play_session_id: i64,
    /// Its profile.
    pub profile_id: i64,
    /// Profile name.
    pub profile_name: String,
    /// The device.
    pub device_id: i64,
    /// Device name.
    pub device_name: String,
    /// Device kind.
    pub device_kind: DeviceKind,
    /// The title.
    pub title_id: i64,
    /// Title name.
    pub title_name: String,
    /// Last known position.
    pub position_ms: i64,
    /// Paused.
    pub paused: bool,
    /// Started, ms.
    pub started_at: Millis,
    /// Last progress, ms.
    pub last_event_at: Millis,
}

impl From<store::ActiveStream> for ActiveStream {
    fn from(v: store::ActiveStream) -> Self {
        ActiveStream {
            play_session_id: v.play_session_id,
            profile_id: v.profile_id,
            profile_name: v.profile_name,
            device_id: v.device_id,
            device_name: v.device_name,
            device_kind: v.device_kind,
            title_id: v.title_id,
            title_name: v.title_name,
            position_ms: v.position_ms,
            paused: v.paused,
            started_at: v.started_at,
            last_event_at: v.last_event_at,
        }
    }
}

/// A live stream in the account's stream list (`GET /api/v1/streams`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AccountStream {
    /// The play session: `POST /api/v1/streams/{id}/stop` stops it.
    pub play_session_id: i64,
    /// Its profile.
    pub profile_id: i64,
    /// Profile name.
    pub profile_name: String,
    /// The device.
    pub device_id: i64,
    /// Device name.
    pub device_name: String,
    /// Device kind.
    pub device_kind: DeviceKind,
    /// The title.
    pub title_id: i64,
    /// Title name.
    pub title_name: String,
    /// Last known position.
    pub position_ms: i64,
    /// Paused.
    pub paused: bool,
    /// Started, ms.
    pub started_at: Millis,
    /// Last progress, ms.
    pub updated_at: Millis,
    /// It plays on the asking device (the `device_id` parameter, else the
    /// device this session registered or plays on).
    pub this_device: bool,
}

impl AccountStream {
    /// A store row, marked as the asking device's or not.
    pub fn new(v: store::ActiveStream, this_device: bool) -> Self {
        AccountStream {
            play_session_id: v.play_session_id,
            profile_id: v.profile_id,
            profile_name: v.profile_name,
            device_id: v.device_id,
            device_name: v.device_name,
            device_kind: v.device_kind,
            title_id: v.title_id,
            title_name: v.title_name,
            position_ms: v.position_ms,
            paused: v.paused,
            started_at: v.started_at,
            updated_at: v.last_event_at,
            this_device,
        }
    }
}

/// An acknowledged progress report or stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProgressAck {
    /// The play session.
    pub play_session_id: i64,
    /// The profile.
    pub profile_id: i64,
    /// The title.
    pub title_id: i64,
    /// The device.
    pub device_id: i64,
    /// Device name.
    pub device_name: String,
    /// The reported position (the session's last one when a stop has none).
    pub position_ms: i64,
    /// Paused.
    pub paused: bool,
    /// The report moved the saved state (false: an older, reordered report).
    pub applied: bool,
    /// The saved resume point after it.
    pub resume_ms: i64,
    /// Played after it.
    pub played: bool,
    /// The session has ended (after a stop).
    pub ended: bool,
    /// Nothing was written: a repeated stop.
    pub duplicate: bool,
}

impl From<store::ProgressAck> for ProgressAck {
    fn from(v: store::ProgressAck) -> Self {
        ProgressAck {
            play_session_id: v.play_session_id,
            profile_id: v.profile_id,
            title_id: v.title_id,
            device_id: v.device_id,
            device_name: v.device_name,
            position_ms: v.position_ms,
            paused: v.paused,
            applied: v.applied,
            resume_ms: v.resume_ms,
            played: v.played,
            ended: v.ended,
            duplicate: v.duplicate,
        }
    }
}

/// What the profile did with a title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TitleProgress {
    /// The title.
    pub title_id: i64,
    /// Where to resume (0: from the start).
    pub resume_ms: i64,
    /// Runtime.
    pub duration_ms: i64,
    /// Played.
    pub played: bool,
    /// Times played.
    pub play_count: i64,
    /// Last played, ms.
    pub last_played_at: Option<Millis>,
    /// The device that last reported it.
    pub last_device_id: Option<i64>,
}

impl From<store::TitleProgress> for TitleProgress {
    fn from(v: store::TitleProgress) -> Self {
        TitleProgress {
            title_id: v.title_id,
            resume_ms: v.resume_ms,
            duration_ms: v.duration_ms,
            played: v.played,
            play_count: v.play_count,
            last_played_at: v.last_played_at,
            last_device_id: v.last_device_id,
        }
    }
}

/// One entry of Continue Watching or Next Up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowItem {
    /// The title (an episode for series).
    pub title_id: i64,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: TitleKind,
    /// For an episode: the series.
    pub series_id: Option<i64>,
    /// For an episode: the series name.
    pub series_name: Option<String>,
    /// Season number.
    pub season: Option<i32>,
    /// Episode number.
    pub episode: Option<i32>,
    /// Where to resume (0: from the start).
    pub resume_ms: i64,
    /// Runtime.
    pub duration_ms: i64,
    /// Last activity on it (for Next Up: on the series), ms.
    pub last_played_at: Option<Millis>,
    /// For Next Up: why.
    pub reason: Option<NextUpReason>,
}

impl From<store::RowItem> for RowItem {
    fn from(v: store::RowItem) -> Self {
        RowItem {
            title_id: v.title_id,
            name: v.name,
            kind: v.kind,
            series_id: v.series_id,
            series_name: v.series_name,
            season: v.season,
            episode: v.episode,
            resume_ms: v.resume_ms,
            duration_ms: v.duration_ms,
            last_played_at: v.last_played_at,
            reason: v.reason,
        }
    }
}

/// One entry of the play-event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlayEvent {
    /// Id, increasing.
    pub id: i64,
    /// The title.
    pub title_id: i64,
    /// The play session, if any.
    pub play_session_id: Option<i64>,
    /// The device, if any.
    pub device_id: Option<i64>,
    /// start, progress, stop, timeout, mark_played or mark_unplayed.
    pub kind: String,
    /// Position.
    pub position_ms: Option<i64>,
    /// Paused.
    pub paused: Option<bool>,
    /// Client time.
    pub sent_at: Option<Millis>,
    /// Server time.
    pub received_at: Millis,
    /// It moved the saved state.
    pub applied: bool,
}

impl From<store::PlayEvent> for PlayEvent {
    fn from(v: store::PlayEvent) -> Self {
        PlayEvent {
            id: v.id,
            title_id: v.title_id,
            play_session_id: v.play_session_id,
            device_id: v.device_id,
            kind: v.kind,
            position_ms: v.position_ms,
            paused: v.paused,
            sent_at: v.sent_at,
            received_at: v.received_at,
            applied: v.applied,
        }
    }
}

/// What a title offers this profile's browser (`GET /api/v1/titles/{id}/playback-info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlaybackInfo {
    /// The title.
    pub title_id: i64,
    /// Its length: the media's when read, else the catalog's runtime.
    pub duration_ms: i64,
    /// Where this profile stopped (0: from the start).
    pub resume_position_ms: i64,
    /// What to play, best first; empty when the title has no playable
    /// media (the simulated player).
    pub sources: Vec<PlaybackSource>,
    /// The file's audio tracks (`?audio=INDEX` picks one).
    pub audio_tracks: Vec<AudioTrackInfo>,
    /// Subtitle tracks as WebVTT.
    pub subtitle_tracks: Vec<SubtitleTrackInfo>,
    /// Whether the server can remux and transcode, and why not.
    pub transcoding: TranscodingInfo,
    /// Why the media cannot be played (a corrupt or truncated file).
    pub problem: Option<String>,
    /// When the links stop working (Unix ms).
    pub expires_at: Millis,
}

/// One way to play a title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlaybackSource {
    /// `direct` (the file as it is), `remux` (its streams copied into HLS),
    /// `transcode` (re-encoded to H.264/AAC HLS) or `packaged` (the
    /// operator's own HLS on a CDN).
    pub method: String,
    /// `file` or `hls`.
    pub protocol: String,
    /// A signed link that expires at `expires_at`.
    pub url: String,
    /// MIME type.
    pub mime: String,
    /// Container (ffprobe's name), when known.
    pub container: Option<String>,
    /// Video codec the player gets, when known.
    pub video_codec: Option<String>,
    /// Audio codec the player gets, when known.
    pub audio_codec: Option<String>,
    /// Width, pixels.
    pub width: Option<u32>,
    /// Height, pixels.
    pub height: Option<u32>,
}

/// An audio track of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AudioTrackInfo {
    /// Its stream index (what `?audio=` takes).
    pub index: u32,
    /// ISO 639 language, when tagged.
    pub language: Option<String>,
    /// The menu label ("English", "French (5.1)").
    pub label: String,
    /// Codec.
    pub codec: String,
    /// Channels.
    pub channels: u32,
    /// Played unless another is picked.
    pub default: bool,
}

/// A subtitle track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SubtitleTrackInfo {
    /// Its number among the title's subtitle files.
    pub index: u32,
    /// ISO 639 language, from the file name.
    pub language: Option<String>,
    /// The menu label.
    pub label: String,
    /// A signed link to it as WebVTT.
    pub url: String,
    /// Always `vtt` (SubRip is converted).
    pub format: String,
}

/// Whether remux and transcode are possible here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TranscodingInfo {
    /// `ffmpeg` runs on the server.
    pub available: bool,
    /// Why not, in words for an operator.
    pub reason: Option<String>,
}
