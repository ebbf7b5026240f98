//! Storage for screen-to-screen continuity: devices, play sessions, the
//! append-only play-event log, per-profile playback state and the rows built
//! from it (Continue Watching, Next Up).

use crate::{ImportCounts, Result};
use async_trait::async_trait;
use marquee_domain::playback::{Device, DeviceKind, NextUpReason, ResumeRules};
use marquee_domain::{Millis, TitleKind};
use serde::Serialize;

/// A title as the player needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayableTitle {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: TitleKind,
    /// Name.
    pub name: String,
    /// Runtime: stored, else [`marquee_domain::playback::default_runtime_s`].
    pub duration_ms: i64,
    /// For an episode: its series.
    pub series_id: Option<i64>,
    /// A media file, relative to the media directory.
    pub media_path: Option<String>,
}

/// Limits a start is checked against.
#[derive(Debug, Clone, Copy)]
pub struct StartLimits {
    /// Concurrent streams allowed on the account.
    pub max_streams: u32,
    /// A stream with no progress for this long has ended.
    pub stream_timeout_ms: i64,
    /// Autoplayed episodes in a row before "are you still watching?".
    pub max_autoplay_run: u32,
    /// No interaction for this long: the next autoplay asks.
    pub idle_ms: i64,
}

/// A request to start playing.
#[derive(Debug, Clone)]
pub struct StartPlayback {
    /// The account (stream cap).
    pub account_id: i64,
    /// The profile.
    pub profile_id: i64,
    /// A device of that profile.
    pub device_id: i64,
    /// The title.
    pub title: PlayableTitle,
    /// Started by autoplay rather than by a person.
    pub autoplay: bool,
    /// Server time.
    pub now: Millis,
    /// Limits.
    pub limits: StartLimits,
}

/// A live stream of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// The outcome of a start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// Started.
    Started {
        /// The new play session.
        play_session_id: i64,
        /// Where to resume (0: from the start).
        resume_ms: i64,
        /// Autoplayed episodes in a row, this one included.
        autoplay_run: u32,
    },
    /// The account's plan allows no more streams; nothing was written.
    StreamLimit {
        /// The live streams.
        active: Vec<ActiveStream>,
    },
    /// The autoplay must ask "are you still watching?"; nothing was written.
    StillWatching {
        /// Autoplayed episodes in a row so far.
        autoplay_run: u32,
        /// Since the last interaction, ms.
        idle_ms: i64,
    },
}

/// A progress report or a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressInput {
    /// The play session.
    pub play_session_id: i64,
    /// The profile sending it (must own the session).
    pub profile_id: i64,
    /// The position; for a stop, optional.
    pub position_ms: Option<i64>,
    /// Paused.
    pub paused: bool,
    /// Client time; required with a position.
    pub sent_at: Option<Millis>,
    /// A person touched the player (seek, pause, key press).
    pub interaction: bool,
    /// This is a stop.
    pub stop: bool,
    /// Server time.
    pub now: Millis,
}

/// An acknowledged progress report or stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Why a report was refused; nothing was written for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressRefused {
    /// No such play session.
    NotFound,
    /// The session belongs to another profile.
    Forbidden,
    /// The session has ended (stopped, replaced or timed out).
    Ended,
    /// The position is past the end of the title.
    TooLong {
        /// The title's runtime.
        duration_ms: i64,
    },
}

/// What the profile did with a title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// One entry of Continue Watching or Next Up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// One entry of the play-event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// An episode to import.
#[derive(Debug, Clone)]
pub struct ImportEpisode {
    /// Id in the source.
    pub external_id: i64,
    /// Number within the season.
    pub number: i32,
    /// Name.
    pub name: String,
    /// Runtime.
    pub duration_s: i64,
}

/// A season to import.
#[derive(Debug, Clone)]
pub struct ImportSeason {
    /// Season number.
    pub number: i32,
    /// Episodes.
    pub episodes: Vec<ImportEpisode>,
}

/// A series to import.
#[derive(Debug, Clone)]
pub struct ImportSeries {
    /// Id in the source.
    pub external_id: i64,
    /// Name.
    pub name: String,
    /// First-air year.
    pub year: Option<i32>,
    /// Genres.
    pub genres: Vec<String>,
    /// Seasons.
    pub seasons: Vec<ImportSeason>,
}

/// Continuity storage. Every call is one transaction.
#[async_trait]
pub trait PlaybackStore: Send + Sync {
    /// Registers a device of a profile; the same name again returns the
    /// existing device (its kind updated, a sign-out lifted). `true` when
    /// created.
    async fn register_device(
        &self,
        profile_id: i64,
        name: &str,
        kind: DeviceKind,
        now: Millis,
    ) -> Result<(Device, bool)>;
    /// A profile's devices, most recently seen first (signed-out ones left out).
    async fn devices(&self, profile_id: i64) -> Result<Vec<Device>>;
    /// Renames a device of a profile: `NotFound` for another profile's or
    /// an unknown device, `Conflict` on `name` when the profile has a
    /// device of that name.
    async fn rename_device(&self, profile_id: i64, device_id: i64, name: &str) -> Result<Device>;
    /// One device (`None` also for a signed-out one).
    async fn device(&self, id: i64) -> Result<Option<Device>>;
    /// Binds a log-in session to the device it registered or plays on, so
    /// that signing the device out ends the session. Writes only on change.
    async fn bind_session_device(&self, token_hash: &str, device_id: i64) -> Result<()>;
    /// The device a log-in session is bound to, unless signed out.
    async fn session_device(&self, token_hash: &str) -> Result<Option<i64>>;
    /// Signs one of a profile's devices out: deletes the log-in sessions
    /// bound to it and marks it revoked (it disappears from the device list
    /// and cannot start playback until it registers again). `NotFound` for
    /// another profile's, an unknown or an already signed-out device.
    /// Returns how many sessions ended.
    async fn sign_out_device(&self, profile_id: i64, device_id: i64, now: Millis) -> Result<u64>;
    /// A title with its runtime and media file.
    async fn playable_title(&self, id: i64) -> Result<Option<PlayableTitle>>;
    /// A series' episode ids in viewing order (season, episode).
    async fn series_episodes(&self, series_id: i64) -> Result<Vec<i64>>;
    /// Sets or clears a title's media file. `NotFound` for an unknown title.
    async fn set_media_path(&self, title_id: i64, path: Option<&str>) -> Result<()>;
    /// The key that signs media links, shared by every instance on this
    /// database: `candidate` (fresh random bytes, hex) is stored if no
    /// instance stored one before; the stored key is returned either way.
    async fn media_link_key(&self, candidate: &str, now: Millis) -> Result<String>;

    /// Starts a stream: ends the device's previous one, enforces the stream
    /// cap and the still-watching rule, logs a `start` event.
    async fn start_playback(&self, req: &StartPlayback) -> Result<StartOutcome>;
    /// Applies progress reports and stops in order, in one transaction, under
    /// the resume rules. One result per input; refused inputs write nothing.
    async fn record_progress(
        &self,
        rules: &ResumeRules,
        stream_timeout_ms: i64,
        inputs: &[ProgressInput],
    ) -> Result<Vec<std::result::Result<ProgressAck, ProgressRefused>>>;
    /// The live streams of an account (stale ones excluded).
    async fn active_streams(
        &self,
        account_id: i64,
        now: Millis,
        stream_timeout_ms: i64,
    ) -> Result<Vec<ActiveStream>>;

    /// The profile's state on a title (`None`: never touched).
    async fn title_progress(&self, profile_id: i64, title_id: i64)
        -> Result<Option<TitleProgress>>;
    /// Marks a title (or every episode of a series) played or unplayed by hand.
    async fn set_played(
        &self,
        profile_id: i64,
        title_id: i64,
        played: bool,
        now: Millis,
    ) -> Result<()>;
    /// Removes a title from Continue Watching until it is played again.
    /// `false` when it was not in the row.
    async fn hide_from_continue_watching(
        &self,
        profile_id: i64,
        title_id: i64,
        now: Millis,
    ) -> Result<bool>;
    /// In-progress titles, most recently played first.
    async fn continue_watching(&self, profile_id: i64, limit: u32) -> Result<Vec<RowItem>>;
    /// The next episode of each series with activity since `since`, most
    /// recent series first.
    async fn next_up(&self, profile_id: i64, since: Millis, limit: u32) -> Result<Vec<RowItem>>;
    /// The profile's play events, oldest first, after an id.
    async fn play_events(
        &self,
        profile_id: i64,
        title_id: Option<i64>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<PlayEvent>>;
    /// Imports series with seasons and episodes, keyed by `(source, external_id)`.
    async fn import_series(
        &self,
        source: &str,
        series: &[ImportSeries],
        now: Millis,
    ) -> Result<ImportCounts>;
    /// The titles imported from `source` as `(external_id, id)`, by external id.
    async fn source_titles(&self, source: &str) -> Result<Vec<(i64, i64)>>;
    /// Sets a title's runtime (seconds, positive), e.g. to its media's real
    /// length. `NotFound` for an unknown title.
    async fn set_runtime(&self, title_id: i64, duration_s: i64, now: Millis) -> Result<()>;
}
