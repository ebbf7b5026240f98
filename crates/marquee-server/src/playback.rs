//! Playback: configuration, the rules shared by the JSON API and the pages
//! (the session's profile, playable titles, the Next Up window, media files),
//! the Continue Watching / Next Up card view-model, and the group-commit
//! writer for progress reports.
//!
//! Every progress report and stop goes through [`Ingest`]: a single writer task
//! takes whatever reports are waiting (up to `ingest_max_batch`), applies them
//! in one SQLite transaction, and only then answers each request. A report is
//! acknowledged (2xx) only after the transaction holding it has committed
//! (WAL, `synchronous=NORMAL`: durable against a process crash), so no
//! acknowledged position is ever lost; under load one fsync-free commit covers
//! many requests. Then the live event goes to the profile's other devices.

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::events::{EventBus, PlaybackEvent};
use crate::AppState;
use marquee_domain::playback::ResumeRules;
use marquee_domain::{Millis, TitleKind};
use marquee_store::playback::{
    ActiveStream, PlayableTitle, ProgressAck, ProgressInput, ProgressRefused, RowItem,
};
use marquee_store::Store;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// `[playback]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PlaybackConfig {
    /// Below this percentage of the runtime no resume point is saved.
    pub min_resume_pct: f64,
    /// Above this percentage (or within 1 s of the end) a title is played.
    pub max_resume_pct: f64,
    /// Titles shorter than this are never resumed, only played.
    pub min_resume_duration_s: i64,
    /// A stream with no progress for this long has ended.
    pub stream_timeout_s: u64,
    /// Autoplayed episodes in a row before "are you still watching?".
    pub still_watching_episodes: u32,
    /// Minutes without interaction before the next autoplay asks.
    pub still_watching_idle_min: u64,
    /// Series untouched for longer drop out of Next Up.
    pub next_up_cutoff_days: u64,
    /// How far ahead of the server's clock a report's `sent_at` may be.
    pub max_clock_skew_s: u64,
    /// How often players send progress.
    pub progress_interval_s: u64,
    /// Where media files live; default `{data_dir}/media`.
    pub media_dir: Option<PathBuf>,
    /// The most reports committed in one transaction.
    pub ingest_max_batch: usize,
    /// How long a signed media link works (seconds): longer than the
    /// longest title, so a paused film still plays on; default 6 hours.
    pub media_link_ttl_s: u64,
    /// The `ffmpeg` program (a name looked up on `PATH`, or a path): remuxes
    /// and transcodes to HLS, and makes the demo's sample episodes. Without
    /// it only direct play and pre-packaged HLS are offered.
    pub ffmpeg: String,
    /// The `ffprobe` program: reads scanned files' duration, codecs and tracks.
    pub ffprobe: String,
    /// Where HLS segments are cached; default `{data_dir}/hls-cache`.
    pub hls_cache_dir: Option<PathBuf>,
    /// The segment cache's cap (MB): the least recently used segments are
    /// deleted past it.
    pub hls_cache_mb: u64,
    /// HLS segment length (seconds).
    pub hls_segment_s: u32,
    /// Remux/transcode jobs at once; default (0): one per CPU core.
    pub transcode_jobs: usize,
    /// Where an operator's pre-packaged HLS lives (`https://cdn.example.com/`):
    /// a feed's media URL under it is offered as a `packaged` source.
    pub cdn_base: Option<String>,
}

impl Default for PlaybackConfig {
    fn default() -> Self {
        let r = ResumeRules::default();
        PlaybackConfig {
            min_resume_pct: r.min_resume_pct,
            max_resume_pct: r.max_resume_pct,
            min_resume_duration_s: r.min_resume_duration_s,
            stream_timeout_s: 120,
            still_watching_episodes: 3,
            still_watching_idle_min: 90,
            next_up_cutoff_days: 365,
            max_clock_skew_s: 60,
            progress_interval_s: 5,
            media_dir: None,
            ingest_max_batch: 512,
            media_link_ttl_s: 6 * 3600,
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            hls_cache_dir: None,
            hls_cache_mb: 4096,
            hls_segment_s: 6,
            transcode_jobs: 0,
            cdn_base: None,
        }
    }
}

impl PlaybackConfig {
    /// The resume thresholds.
    pub fn rules(&self) -> ResumeRules {
        ResumeRules {
            min_resume_pct: self.min_resume_pct,
            max_resume_pct: self.max_resume_pct,
            min_resume_duration_s: self.min_resume_duration_s,
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), String> {
        self.rules()
            .validate()
            .map_err(|e| format!("playback.{e}"))?;
        if self.stream_timeout_s == 0 || self.progress_interval_s == 0 {
            return Err(
                "playback.stream_timeout_s and progress_interval_s must be positive".into(),
            );
        }
        if self.progress_interval_s >= self.stream_timeout_s {
            return Err("playback.progress_interval_s must be below stream_timeout_s".into());
        }
        if !(60..=7 * 86_400).contains(&self.media_link_ttl_s) {
            return Err("playback.media_link_ttl_s must be 60 s to 7 days".into());
        }
        if !(2..=30).contains(&self.hls_segment_s) {
            return Err("playback.hls_segment_s must be 2 to 30 seconds".into());
        }
        if self.hls_cache_mb == 0 {
            return Err("playback.hls_cache_mb must be positive".into());
        }
        if self.transcode_jobs > 256 {
            return Err("playback.transcode_jobs must be 0 (one per core) to 256".into());
        }
        if let Some(base) = &self.cdn_base {
            if !(base.starts_with("https://") || base.starts_with("http://"))
                || !base.ends_with('/')
            {
                return Err("playback.cdn_base must be an http(s) URL ending in /".into());
            }
        }
        if self.ffmpeg.trim().is_empty() || self.ffprobe.trim().is_empty() {
            return Err("playback.ffmpeg and playback.ffprobe must name a program".into());
        }
        if self.ingest_max_batch == 0 || self.ingest_max_batch > 5000 {
            return Err("playback.ingest_max_batch must be 1 to 5000".into());
        }
        Ok(())
    }

    /// Where media files live: `media_dir`, else `{data_dir}/media`.
    pub fn media_dir_in(&self, data_dir: &std::path::Path) -> PathBuf {
        self.media_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("media"))
    }

    /// The stream timeout, ms.
    pub fn stream_timeout_ms(&self) -> i64 {
        i64::try_from(self.stream_timeout_s.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}

/// The session's profile, or 409 when none is selected.
/// Most devices one profile may register.
pub const MAX_DEVICES_PER_PROFILE: usize = 50;

/// Registers a device of a profile, or returns the one of that name. Without
/// a name the device is named from its `User-Agent` ("Chrome on Linux"),
/// counting up past the profile's other devices ("Chrome on Linux 2").
pub async fn register_device(
    state: &AppState,
    profile_id: i64,
    name: Option<&str>,
    kind: marquee_domain::playback::DeviceKind,
    user_agent: &str,
    session: Option<&str>,
) -> Result<(marquee_domain::playback::Device, bool), AppError> {
    use marquee_domain::playback::{device_label, device_name, unique_name};
    let existing = state.store.devices(profile_id).await?;
    // A name given must be a good one (an empty one is a mistake); a
    // missing one is made from the browser.
    let name = match name {
        Some(n) => device_name(n)?,
        None => {
            let taken: Vec<&str> = existing.iter().map(|d| d.name.as_str()).collect();
            device_name(&unique_name(&device_label(user_agent), &taken))?
        }
    };
    if existing.len() >= MAX_DEVICES_PER_PROFILE && !existing.iter().any(|d| d.name == name) {
        return Err(AppError::Conflict {
            field: Some("name".into()),
            message: format!("a profile may register at most {MAX_DEVICES_PER_PROFILE} devices"),
        });
    }
    let (device, created) = state
        .store
        .register_device(profile_id, &name, kind, state.clock.now_ms())
        .await?;
    if let Some(token_hash) = session {
        state
            .store
            .bind_session_device(token_hash, device.id)
            .await?;
    }
    Ok((device, created))
}

/// Binds the user's log-in session to a device it plays on (see
/// [`sign_out_device`]).
pub async fn bind_session_device(
    state: &AppState,
    user: &CurrentUser,
    device_id: i64,
) -> Result<(), AppError> {
    Ok(state
        .store
        .bind_session_device(&user.token_hash, device_id)
        .await?)
}

/// A live stream of the account, as the stream list shows it.
#[derive(Debug, Clone)]
pub struct LiveStream {
    /// The stream.
    pub stream: ActiveStream,
    /// It plays on the asking device.
    pub this_device: bool,
}

/// The account's live streams on all its profiles, oldest first. "This
/// device" is `this_device` when given, else the device the log-in session
/// is bound to.
pub async fn account_streams(
    state: &AppState,
    user: &CurrentUser,
    this_device: Option<i64>,
) -> Result<Vec<LiveStream>, AppError> {
    let this_device = match this_device {
        Some(d) => Some(d),
        None => state.store.session_device(&user.token_hash).await?,
    };
    Ok(live_streams(state, user.account.id)
        .await?
        .into_iter()
        .map(|stream| LiveStream {
            this_device: Some(stream.device_id) == this_device,
            stream,
        })
        .collect())
}

async fn live_streams(state: &AppState, account_id: i64) -> Result<Vec<ActiveStream>, AppError> {
    Ok(state
        .store
        .active_streams(
            account_id,
            state.clock.now_ms(),
            state.config.playback.stream_timeout_ms(),
        )
        .await?)
}

fn no_stream(id: i64) -> AppError {
    AppError::NotFound(format!(
        "no live stream {id} on this account (it may have ended)"
    ))
}

/// "Stop playback there": ends one of the account's live streams, on any of
/// its profiles, through the same writer as a player's own stop report, then
/// tells the stream's profile (`remote_stop`, naming the device it was
/// stopped from) so that the player there stops at once and says why.
/// `from_device_id` names that device; without it, the session's device.
/// 404 for another account's stream or one that has ended.
pub async fn stop_stream(
    state: &AppState,
    user: &CurrentUser,
    play_session_id: i64,
    from_device_id: Option<i64>,
) -> Result<ProgressAck, AppError> {
    let stream = live_streams(state, user.account.id)
        .await?
        .into_iter()
        .find(|s| s.play_session_id == play_session_id)
        .ok_or_else(|| no_stream(play_session_id))?;
    let from = match from_device_id {
        Some(id) => Some(account_device(state, user, id).await?),
        None => match state.store.session_device(&user.token_hash).await? {
            Some(id) => state.store.device(id).await?,
            None => None,
        },
    };
    end_stream(state, &stream, from.map(|d| d.name)).await
}

/// A device of one of the user's account's profiles, else 400 on
/// `from_device_id`.
async fn account_device(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<marquee_domain::playback::Device, AppError> {
    let not_ours = || AppError::invalid("from_device_id", "is not a device of this account");
    let device = state.store.device(id).await?.ok_or_else(not_ours)?;
    match state.store.profile(device.profile_id).await? {
        Some(p) if p.account_id == user.account.id => Ok(device),
        _ => Err(not_ours()),
    }
}

/// Stops a stream as its own player would (through [`Ingest`]), then
/// publishes `remote_stop` on its profile.
async fn end_stream(
    state: &AppState,
    stream: &ActiveStream,
    stopped_by: Option<String>,
) -> Result<ProgressAck, AppError> {
    let now = state.clock.now_ms();
    let ack = state
        .ingest
        .submit(ProgressInput {
            play_session_id: stream.play_session_id,
            profile_id: stream.profile_id,
            position_ms: None,
            paused: true,
            sent_at: None,
            // Nobody touched that screen.
            interaction: false,
            stop: true,
            now,
        })
        .await?
        .map_err(|_| no_stream(stream.play_session_id))?;
    if ack.duplicate {
        // Its own player stopped it in the meantime.
        return Err(no_stream(stream.play_session_id));
    }
    state.events.publish(PlaybackEvent {
        kind: "remote_stop".into(),
        profile_id: ack.profile_id,
        play_session_id: ack.play_session_id,
        title_id: ack.title_id,
        device_id: ack.device_id,
        device_name: ack.device_name.clone(),
        position_ms: ack.position_ms,
        paused: true,
        resume_ms: ack.resume_ms,
        at: now,
        stopped_by,
    });
    Ok(ack)
}

/// What signing a device out did.
#[derive(Debug, Clone, Copy)]
pub struct SignedOut {
    /// Log-in sessions ended.
    pub sessions: u64,
    /// Live streams stopped.
    pub streams: usize,
    /// The asking session was one of them (its cookie is gone).
    pub this_session: bool,
}

/// "Sign out this device": stops the device's live streams (as
/// [`stop_stream`] does), ends the log-in sessions bound to it and marks it
/// revoked, so that it must log in and register again. The device must be
/// one of the current profile's (404 otherwise).
pub async fn sign_out_device(
    state: &AppState,
    user: &CurrentUser,
    device_id: i64,
) -> Result<SignedOut, AppError> {
    let pid = profile_of(user)?;
    let device = state
        .store
        .device(device_id)
        .await?
        .filter(|d| d.profile_id == pid)
        .ok_or_else(|| AppError::NotFound(format!("device {device_id} not found")))?;
    let own = state.store.session_device(&user.token_hash).await?;
    let stopped_by = match own {
        Some(id) if id != device.id => state.store.device(id).await?.map(|d| d.name),
        _ => None,
    };
    let mut streams = 0;
    for s in live_streams(state, user.account.id)
        .await?
        .into_iter()
        .filter(|s| s.device_id == device.id)
    {
        match end_stream(state, &s, stopped_by.clone()).await {
            Ok(_) => streams += 1,
            // Ended on its own meanwhile.
            Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let sessions = state
        .store
        .sign_out_device(pid, device.id, state.clock.now_ms())
        .await?;
    Ok(SignedOut {
        sessions,
        streams,
        this_session: own == Some(device.id),
    })
}

/// The profile's devices, most recently seen first.
pub async fn devices(
    state: &AppState,
    profile_id: i64,
) -> Result<Vec<marquee_domain::playback::Device>, AppError> {
    Ok(state.store.devices(profile_id).await?)
}

/// Renames one of the profile's devices (409 when the name is taken).
pub async fn rename_device(
    state: &AppState,
    profile_id: i64,
    device_id: i64,
    name: &str,
) -> Result<marquee_domain::playback::Device, AppError> {
    let name = marquee_domain::playback::device_name(name)?;
    Ok(state
        .store
        .rename_device(profile_id, device_id, &name)
        .await?)
}

pub fn profile_of(user: &CurrentUser) -> Result<i64, AppError> {
    user.profile_id.ok_or_else(|| AppError::Conflict {
        field: Some("profile".into()),
        message: "select a profile first".into(),
    })
}

/// A title that can be played: episodes and movies, not series.
pub async fn playable(state: &AppState, id: i64, field: &str) -> Result<PlayableTitle, AppError> {
    let t = state
        .store
        .playable_title(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("title {id} not found")))?;
    if t.kind == TitleKind::Series {
        return Err(AppError::invalid(
            field,
            "a series is not playable: play one of its episodes",
        ));
    }
    Ok(t)
}

/// The start of the Next Up window: series untouched since are left out.
pub fn next_up_since(state: &AppState) -> Millis {
    let days = i64::try_from(state.config.playback.next_up_cutoff_days).unwrap_or(i64::MAX / 2);
    state
        .clock
        .now_ms()
        .saturating_sub(days.saturating_mul(86_400_000))
}

/// Checks a media path: relative, inside the media directory, an existing file.
pub fn media_file(state: &AppState, rel: &str) -> Result<std::path::PathBuf, AppError> {
    let bad = |m: &str| AppError::invalid("path", m.to_string());
    if rel.is_empty() || rel.len() > 500 {
        return Err(bad("must be 1 to 500 characters"));
    }
    let p = std::path::Path::new(rel);
    if p.is_absolute()
        || p.components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(bad(
            "must be a plain relative path inside the media directory",
        ));
    }
    let dir = media_dir(state);
    let full = dir.join(p);
    let (Ok(canon), Ok(root)) = (full.canonicalize(), dir.canonicalize()) else {
        return Err(bad("no such file in the media directory"));
    };
    if !canon.starts_with(&root) || !canon.is_file() {
        return Err(bad("no such file in the media directory"));
    }
    Ok(canon)
}

/// The configured media directory.
pub fn media_dir(state: &AppState) -> std::path::PathBuf {
    state.config.playback.media_dir_in(&state.config.data_dir)
}

/// A Continue Watching / Next Up card with a progress bar (the view-model the
/// pages and the recommender's Continue Watching row share).
#[derive(Debug)]
pub struct RowCard {
    /// The item.
    pub item: RowItem,
    /// Label: "Harbour Lights [Sample] · S1:E2" or the title name.
    pub label: String,
    /// Sub-label: the episode name, then the time left ("42 min left"), or
    /// the running time when not started.
    pub sub: String,
    /// Percent watched, 0 to 100.
    pub pct: i64,
}

/// A continuity item as a card.
pub fn card(item: RowItem) -> RowCard {
    let when = if item.resume_ms > 0 && item.duration_ms > item.resume_ms {
        format!(
            "{} left",
            crate::format::runtime_label((item.duration_ms - item.resume_ms) / 1000)
        )
    } else {
        crate::format::runtime_label(item.duration_ms / 1000)
    };
    let (label, sub) = match (&item.series_name, item.season, item.episode) {
        (Some(series), Some(s), Some(e)) => (
            format!("{series} · S{s}:E{e}"),
            format!("{} · {when}", item.name),
        ),
        _ => (item.name.clone(), when),
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

type Reply = Result<Result<ProgressAck, ProgressRefused>, AppError>;

struct Job {
    input: ProgressInput,
    reply: oneshot::Sender<Reply>,
}

/// The group-commit writer, started by [`crate::launch`] ([`Ingest::start`]).
pub struct Ingest {
    store: Arc<dyn Store>,
    events: Arc<dyn EventBus>,
    rules: ResumeRules,
    timeout_ms: i64,
    max_batch: usize,
    tx: OnceLock<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl Ingest {
    /// A writer over a store.
    pub fn new(store: Arc<dyn Store>, events: Arc<dyn EventBus>, cfg: &PlaybackConfig) -> Self {
        Ingest {
            store,
            events,
            rules: cfg.rules(),
            timeout_ms: cfg.stream_timeout_ms(),
            max_batch: cfg.ingest_max_batch,
            tx: OnceLock::new(),
        }
    }

    /// Starts the writer task, once ([`crate::launch`] does); `None` when it
    /// was started before.
    pub fn start(&self) -> Option<tokio::task::JoinHandle<()>> {
        let (tx, rx) = mpsc::channel(self.max_batch * 16);
        self.tx.set(tx).ok()?;
        Some(tokio::spawn(writer(
            rx,
            self.store.clone(),
            self.events.clone(),
            self.rules,
            self.timeout_ms,
            self.max_batch,
        )))
    }

    /// Submits one report and waits until its batch has committed.
    pub async fn submit(&self, input: ProgressInput) -> Reply {
        let tx = self
            .tx
            .get()
            .ok_or_else(|| AppError::Unavailable("the progress writer is not running".into()))?;
        let (reply, wait) = oneshot::channel();
        tx.send(Job { input, reply })
            .await
            .map_err(|_| AppError::Unavailable("the progress writer stopped".into()))?;
        wait.await
            .map_err(|_| AppError::Internal("the progress writer dropped a report".into()))?
    }
}

async fn writer(
    mut rx: mpsc::Receiver<Job>,
    store: Arc<dyn Store>,
    events: Arc<dyn EventBus>,
    rules: ResumeRules,
    timeout_ms: i64,
    max_batch: usize,
) {
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.recv().await {
        jobs.push(first);
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let inputs: Vec<ProgressInput> = jobs.iter().map(|j| j.input).collect();
        let started = std::time::Instant::now();
        let result = store.record_progress(&rules, timeout_ms, &inputs).await;
        tracing::debug!(
            batch = inputs.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "progress batch committed"
        );
        match result {
            Ok(results) => {
                for (job, r) in jobs.drain(..).zip(results) {
                    if let Ok(ack) = &r {
                        // A reordered, older report is logged but not news.
                        if !ack.duplicate && (ack.applied || ack.ended) {
                            events.publish(PlaybackEvent {
                                kind: if ack.ended { "stop" } else { "progress" }.into(),
                                profile_id: ack.profile_id,
                                play_session_id: ack.play_session_id,
                                title_id: ack.title_id,
                                device_id: ack.device_id,
                                device_name: ack.device_name.clone(),
                                position_ms: ack.position_ms,
                                paused: ack.paused,
                                resume_ms: ack.resume_ms,
                                at: job.input.now,
                                stopped_by: None,
                            });
                        }
                    }
                    let _ = job.reply.send(Ok(r));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, batch = jobs.len(), "progress batch failed");
                let e = AppError::from(e);
                for job in jobs.drain(..) {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// The signer of media links: the key every instance on this database
/// shares (made by the first that needs it, 32 random bytes), read once.
async fn media_signer(state: &AppState) -> Result<&marquee_media::sign::Signer, AppError> {
    state
        .media_links
        .get_or_try_init(|| async {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
            let key = state
                .store
                .media_link_key(&hex::encode(bytes), state.clock.now_ms())
                .await?;
            let key = hex::decode(key.trim())
                .map_err(|_| AppError::Internal("the stored media link key is not hex".into()))?;
            marquee_media::sign::Signer::new(&key)
                .map_err(|e| AppError::Internal(format!("media link key: {e}")))
        })
        .await
}

/// What a signed media link carries (`/media/{id}?sub=…&exp=…&sig=…`).
#[derive(Debug, Default, Deserialize)]
pub struct MediaLinkQuery {
    /// The profile it was made for (`p{id}`).
    pub sub: Option<String>,
    /// Expiry, Unix ms (text: a malformed one is an invalid link, 403,
    /// not a rejected query).
    pub exp: Option<String>,
    /// HMAC-SHA256, hex.
    pub sig: Option<String>,
}

impl MediaLinkQuery {
    /// Whether the request carries a signature at all.
    pub fn is_signed(&self) -> bool {
        self.sig.is_some() || self.exp.is_some() || self.sub.is_some()
    }
}

/// Where a title's media file is served.
pub fn media_link_path(title_id: i64) -> String {
    format!("/media/{title_id}")
}

/// Where a title's `n`th subtitle file is served (as WebVTT).
pub fn subtitle_link_path(title_id: i64, n: usize) -> String {
    format!("/media/{title_id}/subtitles/{n}")
}

/// A link to `path` (a media or subtitle path of a title) for `profile_id`
/// that works without a log-in until `[playback] media_link_ttl_s` from
/// now: what the player (or a CDN in front of it) fetches. The caller has
/// checked that the profile may watch the title.
pub async fn signed_media_url(
    state: &AppState,
    path: &str,
    profile_id: i64,
) -> Result<String, AppError> {
    let signer = media_signer(state).await?;
    let ttl_ms = i64::try_from(state.config.playback.media_link_ttl_s.saturating_mul(1000))
        .unwrap_or(i64::MAX);
    let link = signer.sign(
        path,
        &format!("p{profile_id}"),
        state.clock.now_ms().saturating_add(ttl_ms),
    );
    Ok(format!("{path}?{}", link.query()))
}

/// Checks a signed link to `path`: 403 naming what is wrong (expired, or
/// not signed for this path, profile and expiry). Returns how many more
/// milliseconds it works.
pub async fn check_media_link(
    state: &AppState,
    path: &str,
    q: &MediaLinkQuery,
) -> Result<i64, AppError> {
    let (Some(sub), Some(exp), Some(sig)) = (q.sub.as_deref(), q.exp.as_deref(), q.sig.as_deref())
    else {
        return Err(AppError::Forbidden(
            "a media link needs sub, exp and sig; open the title's watch page for a new one".into(),
        ));
    };
    let exp: i64 = exp
        .parse()
        .map_err(|_| AppError::Forbidden("this media link is not valid".into()))?;
    let signer = media_signer(state).await?;
    let now = state.clock.now_ms();
    signer
        .verify(path, sub, exp, sig, now)
        .map_err(|e| match e {
            marquee_media::sign::SignError::Expired => AppError::Forbidden(
                "this media link has expired; open the title's watch page for a new one".into(),
            ),
            _ => AppError::Forbidden("this media link is not valid".into()),
        })?;
    Ok(exp - now)
}

/// Who may fetch a title's media (its file or a subtitle at `path`): a
/// valid signed link (cacheable by a CDN until it expires) or a session
/// allowed to watch the title; `None` when a log-in is needed.
pub async fn authorize_media(
    state: &AppState,
    user: Option<&crate::auth::CurrentUser>,
    title_id: i64,
    path: &str,
    link: &MediaLinkQuery,
) -> Result<Option<MediaAccess>, AppError> {
    if link.is_signed() {
        let left_ms = check_media_link(state, path, link).await?;
        return Ok(Some(MediaAccess::Signed { left_ms }));
    }
    match user {
        Some(user) => {
            crate::library::check_visible_for(state, user, title_id).await?;
            Ok(Some(MediaAccess::Session))
        }
        None => Ok(None),
    }
}

/// How a media request was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaAccess {
    /// By a signed link that works `left_ms` more.
    Signed {
        /// Milliseconds the link still works.
        left_ms: i64,
    },
    /// By the viewer's session.
    Session,
}

impl MediaAccess {
    /// `Cache-Control`: a signed link may sit in a shared cache (a CDN),
    /// never past its expiry; a session's answer only in its browser.
    pub fn cache_control(self) -> String {
        match self {
            MediaAccess::Signed { left_ms } => {
                format!("public, max-age={}", (left_ms / 1000).clamp(0, 3600))
            }
            MediaAccess::Session => "private, max-age=3600".into(),
        }
    }
}

/// A title's playable file and the subtitle files beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaFile {
    /// The file.
    pub path: PathBuf,
    /// Sidecar subtitles (`.srt`, `.vtt`), in scan order.
    pub subtitles: Vec<SubtitleFile>,
}

/// A subtitle file beside a media file.
#[derive(Debug, Clone, PartialEq)]
pub struct SubtitleFile {
    /// The file.
    pub path: PathBuf,
    /// Its language code from the file name (`Film.fr.srt` → `fr`).
    pub lang: Option<String>,
    /// What the player's menu says ("French", "English (forced)").
    pub label: String,
}

/// The file a title plays: the one an admin set (inside the media
/// directory), else the first one scanned from a library folder that is
/// still there. URLs (pre-packaged streams) are not played yet.
pub async fn media_for(state: &AppState, t: &PlayableTitle) -> Result<Option<MediaFile>, AppError> {
    media_lookup(state, t, true).await
}

/// [`media_for`], its subtitles found only `with_subtitles` (the file's
/// own route serves every range request, and needs only the file).
async fn media_lookup(
    state: &AppState,
    t: &PlayableTitle,
    with_subtitles: bool,
) -> Result<Option<MediaFile>, AppError> {
    if let Some(rel) = &t.media_path {
        return Ok(media_file(state, rel).ok().map(|path| {
            let subtitles = if with_subtitles {
                sidecars_of(&path)
            } else {
                Vec::new()
            };
            MediaFile { path, subtitles }
        }));
    }
    for m in state.store.media_sources(t.id).await? {
        let Some(root) = m.library.as_deref() else {
            continue;
        };
        let Some(path) = inside_library(root, &m.location) else {
            continue;
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let subtitles: Vec<SubtitleFile> = m
            .subtitles
            .iter()
            .filter(|_| with_subtitles)
            .filter_map(|s| inside_library(root, s))
            .enumerate()
            .map(|(i, path)| {
                let (lang, label) = subtitle_label(&stem, &path, i);
                SubtitleFile { path, lang, label }
            })
            .collect();
        return Ok(Some(MediaFile { path, subtitles }));
    }
    Ok(None)
}

/// The subtitle files beside an admin-set media file, named after it
/// (`Episode.en.vtt`, `Episode.fr.srt` beside `Episode.mp4`), by name.
fn sidecars_of(path: &std::path::Path) -> Vec<SubtitleFile> {
    let (Some(dir), Some(stem)) = (path.parent(), path.file_stem()) else {
        return Vec::new();
    };
    let stem = stem.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let ext = p
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (ext == "srt" || ext == "vtt")
                && name.starts_with(&stem)
                && name[stem.len()..].starts_with('.')
                && p.is_file()
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .enumerate()
        .map(|(i, path)| {
            let (lang, label) = subtitle_label(&stem, &path, i);
            SubtitleFile { path, lang, label }
        })
        .collect()
}

/// A profile stopped playing a title: the HLS made for it is deleted (its
/// segments would otherwise wait for the idle sweep).
pub async fn stream_ended(state: &AppState, profile_id: i64, title_id: i64) {
    state.media.hls.end(profile_id, title_id).await;
}

/// A title's playable file, or 404 saying there is none.
pub async fn media_of(state: &AppState, title_id: i64) -> Result<MediaFile, AppError> {
    let t = state
        .store
        .playable_title(title_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("title {title_id} not found")))?;
    media_for(state, &t)
        .await?
        .ok_or_else(|| AppError::NotFound("this title has no media file".into()))
}

/// A title's playable file without its subtitles (what `/media/{id}`
/// serves), open, or 404. A player's Range requests come many to a
/// playback: the file stays open for a moment
/// ([`crate::media::open::OpenFiles`]), sparing each request the title
/// lookup, the path checks and the open.
pub async fn open_media_file(
    state: &AppState,
    title_id: i64,
) -> Result<std::sync::Arc<crate::media::open::OpenFile>, AppError> {
    let now = std::time::Instant::now();
    if let Some(f) = state.media.open.get(title_id, now) {
        return Ok(f);
    }
    let t = state
        .store
        .playable_title(title_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("title {title_id} not found")))?;
    let path = media_lookup(state, &t, false)
        .await?
        .map(|m| m.path)
        .ok_or_else(|| AppError::NotFound("this title has no media file".into()))?;
    let opened = tokio::task::spawn_blocking(move || crate::media::open::OpenFile::open(path))
        .await
        .map_err(|e| AppError::Internal(format!("opening a media file: {e}")))?
        .map_err(|e| AppError::NotFound(format!("this title's media file cannot be read: {e}")))?;
    let opened = std::sync::Arc::new(opened);
    state.media.open.put(title_id, opened.clone(), now);
    Ok(opened)
}

/// Sets or clears a title's media file (a path inside the media
/// directory, checked), effective at once for `/media/{id}`.
pub async fn set_media_path(
    state: &AppState,
    title_id: i64,
    rel: Option<&str>,
) -> Result<(), AppError> {
    if let Some(rel) = rel {
        media_file(state, rel)?;
    }
    state.store.set_media_path(title_id, rel).await?;
    state.media.open.forget(title_id);
    Ok(())
}

/// `rel` inside the library folder `root`: a plain relative path to an
/// existing file that does not leave the folder (symlinks included).
fn inside_library(root: &str, rel: &str) -> Option<PathBuf> {
    inside_folder(std::path::Path::new(root), rel)
}

/// `rel` inside the folder `root`: a plain relative path to an existing
/// file that does not leave the folder (symlinks included), canonical.
pub fn inside_folder(root: &std::path::Path, rel: &str) -> Option<PathBuf> {
    let rel = marquee_catalog::layout::safe_relative(rel).ok()?;
    let root = root.canonicalize().ok()?;
    let full = root.join(rel).canonicalize().ok()?;
    (full.starts_with(&root) && full.is_file()).then_some(full)
}

/// A sidecar's language and menu label from its name: `Film.fr.srt` beside
/// `Film.mkv` is French, `Film.en.forced.srt` "English (forced)", `Film.srt`
/// "Subtitles".
fn subtitle_label(media_stem: &str, path: &std::path::Path, i: usize) -> (Option<String>, String) {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rest = name.strip_prefix(media_stem).unwrap_or(&name);
    let parts: Vec<String> = rest
        .split(['.', '_', ' '])
        .filter(|p| !p.is_empty())
        .map(|p| p.to_ascii_lowercase())
        .collect();
    let lang = parts
        .iter()
        .find(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_lowercase()))
        .cloned();
    let forced = parts.iter().any(|p| p == "forced");
    let mut label = match lang.as_deref().and_then(language_name) {
        Some(n) => n.to_string(),
        None => match &lang {
            Some(code) => code.to_uppercase(),
            None if i == 0 => "Subtitles".into(),
            None => format!("Subtitles {}", i + 1),
        },
    };
    if forced {
        label.push_str(" (forced)");
    }
    (lang, label)
}

/// English names of the languages subtitles most often come in (ISO 639-1
/// and -2 codes).
pub fn language_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "en" | "eng" => "English",
        "fr" | "fre" | "fra" => "French",
        "de" | "ger" | "deu" => "German",
        "es" | "spa" => "Spanish",
        "it" | "ita" => "Italian",
        "nl" | "dut" | "nld" => "Dutch",
        "pt" | "por" => "Portuguese",
        "sv" | "swe" => "Swedish",
        "da" | "dan" => "Danish",
        "no" | "nor" | "nb" => "Norwegian",
        "fi" | "fin" => "Finnish",
        "pl" | "pol" => "Polish",
        "ru" | "rus" => "Russian",
        "ja" | "jpn" => "Japanese",
        "ko" | "kor" => "Korean",
        "zh" | "chi" | "zho" => "Chinese",
        "ar" | "ara" => "Arabic",
        "he" | "heb" => "Hebrew",
        "tr" | "tur" => "Turkish",
        "hi" | "hin" => "Hindi",
        _ => return None,
    })
}

/// The `n`th subtitle track of a title as WebVTT: its sidecar files first
/// (SubRip converted, at most 5 MB), then the text subtitles inside the
/// media file (extracted by ffmpeg); 404 when there is no such track or it
/// has no readable cue.
pub async fn subtitle_vtt(state: &AppState, title_id: i64, n: usize) -> Result<String, AppError> {
    let media = media_of(state, title_id).await?;
    let sidecars = media.subtitles.len();
    if n >= sidecars {
        // Past the files beside it: the text subtitles inside the file.
        return crate::media::embedded_subtitle_vtt(state, &media.path, n - sidecars).await;
    }
    let file =
        media.subtitles.into_iter().nth(n).ok_or_else(|| {
            AppError::NotFound(format!("title {title_id} has no subtitle file {n}"))
        })?;
    let bytes = tokio::fs::read(&file.path)
        .await
        .map_err(|e| AppError::NotFound(format!("the subtitle file cannot be read: {e}")))?;
    if bytes.len() > 5 * 1024 * 1024 {
        return Err(AppError::NotFound("the subtitle file is over 5 MB".into()));
    }
    // Subtitles are often Latin-1 or Windows-1252: lossy, never refused.
    let text = String::from_utf8_lossy(&bytes);
    if text.trim_start_matches('\u{feff}').starts_with("WEBVTT") {
        return Ok(text.trim_start_matches('\u{feff}').to_string());
    }
    marquee_media::subtitles::srt_to_vtt(&text)
        .map_err(|e| AppError::NotFound(format!("the subtitle file: {e}")))
}

#[cfg(test)]
mod subtitle_tests {
    use super::*;

    #[test]
    fn labels_from_file_names() {
        let p = |s: &str| std::path::PathBuf::from(format!("/lib/Film (2001)/{s}"));
        let l = |s: &str, i| subtitle_label("Film (2001)", &p(s), i);
        assert_eq!(
            l("Film (2001).fr.srt", 0),
            (Some("fr".into()), "French".into())
        );
        assert_eq!(
            l("Film (2001).eng.forced.srt", 0),
            (Some("eng".into()), "English (forced)".into())
        );
        assert_eq!(l("Film (2001).xx.vtt", 0), (Some("xx".into()), "XX".into()));
        assert_eq!(l("Film (2001).srt", 0), (None, "Subtitles".into()));
        assert_eq!(l("commentary.srt", 2), (None, "Subtitles 3".into()));
    }
}
