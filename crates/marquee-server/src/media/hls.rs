//! On-demand HLS for files a browser cannot play as they are: `ffmpeg`
//! copies the streams into MPEG-TS segments (remux) when the codecs allow,
//! else re-encodes to H.264/AAC (transcode).
//!
//! - **Playlist first.** The VOD playlist ([`marquee_media::hls::Segments`])
//!   lists every segment from the probed duration before any exists, so
//!   the player sees the whole timeline and can seek anywhere.
//! - **Jobs of one chunk.** A job makes up to [`CHUNK`] segments (no more
//!   than half the cache holds) from where the player asked (`-ss` to that segment's start, `-copyts` so timestamps
//!   stay those of the file) and exits. A request for a segment that no job
//!   is making starts one there, killing the viewer's other job: a seek far
//!   ahead restarts the segmenter at the right place, and a burst of seeks
//!   leaves one job running. Jobs at once are bounded by
//!   `[playback] transcode_jobs` (one per core), one per viewer (profile).
//!   As the player nears the end of a chunk, the next one starts.
//! - **A cache with a cap.** Segments live in
//!   `{hls_cache_dir}/t{title}-a{audio}-p{profile}/`; past `hls_cache_mb`
//!   the least recently used go first, checked before a job starts (room
//!   for its chunk), after each segment served and by the sweeper twice a
//!   second. A session's folder is deleted when its stream stops, when it
//!   has not been used for `stream_timeout_s`, or when ffmpeg fails.
//! - **Failures are shown.** ffmpeg's stderr goes to a log in the session
//!   folder; a job that exits with an error answers the waiting request
//!   with 502 and ffmpeg's last line, and the session's folder is cleaned.
//!
//! No task is spawned per request: a job is a child process that the
//! request starting it owns through the session, and the sweeper started
//! by `launch` reaps the finished ones.

use super::probed_media;
use crate::error::AppError;
use crate::AppState;
use marquee_media::hls::Segments;
use marquee_media::plan::{play_method, Capabilities, PlayMethod};
use marquee_media::probe::MediaInfo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Segments one job makes.
pub const CHUNK: u32 = 10;
/// How long a request waits for its segment.
const SEGMENT_WAIT: Duration = Duration::from_secs(60);
/// How long a request waits for a free job slot.
const SLOT_WAIT: Duration = Duration::from_secs(10);
/// How often the sweeper runs.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// On-demand HLS: the sessions, their jobs and the segment cache.
pub struct Hls {
    ffmpeg: String,
    dir: PathBuf,
    cap_bytes: u64,
    segment_s: u32,
    idle_ms: i64,
    slots: Arc<Semaphore>,
    jobs: usize,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    /// Orders the cache's uses (least recently used first), whatever the clock.
    tick: Arc<AtomicU64>,
}

/// One viewer's HLS of one title and audio track.
struct Session {
    key: String,
    dir: PathBuf,
    profile_id: i64,
    title_id: i64,
    source: PathBuf,
    audio: u32,
    method: PlayMethod,
    info: MediaInfo,
    segments: Segments,
    job: tokio::sync::Mutex<Option<Job>>,
    last_used: AtomicI64,
    /// Segment → when it was last served or finished, as a tick of
    /// [`Hls::tick`] (the cache's LRU order).
    served: Mutex<HashMap<u32, u64>>,
    tick: Arc<AtomicU64>,
}

/// A running `ffmpeg`.
struct Job {
    child: Child,
    first: u32,
    end: u32,
    _slot: OwnedSemaphorePermit,
}

/// How a job ended, when it has.
enum Exit {
    Running,
    Done,
    Failed(String),
}

impl Job {
    fn exit(&mut self, log: &Path) -> Exit {
        match self.child.try_wait() {
            Ok(None) => Exit::Running,
            Ok(Some(status)) if status.success() => Exit::Done,
            Ok(Some(status)) => {
                let text = std::fs::read(log).unwrap_or_default();
                let line = super::tools::last_line(&text);
                Exit::Failed(format!("ffmpeg stopped ({status}): {line}"))
            }
            Err(e) => Exit::Failed(format!("ffmpeg could not be waited on: {e}")),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Session {
    fn segment_path(&self, n: u32) -> PathBuf {
        self.dir.join(format!("seg{n}.ts"))
    }

    /// Whether segment `n` is finished: only a finished one has its name.
    fn is_complete(&self, n: u32) -> bool {
        self.segment_path(n).is_file()
    }

    /// Takes in what the job that began at `first` and stops before `end`
    /// has finished. A job writes `j{first}-{n}.ts` in place and lists it
    /// in its playlist once complete; a finished one within the job's
    /// range becomes `seg{n}.ts` (a rename: never half a segment), one past
    /// it (a tail of audio ffmpeg cut after the range) is deleted. With
    /// `done`, what is left of the job (a segment it was writing when
    /// killed) is deleted too.
    fn harvest(&self, first: u32, end: u32, done: bool) {
        let list =
            std::fs::read_to_string(self.dir.join(format!("job{first}.m3u8"))).unwrap_or_default();
        let prefix = format!("j{first}-");
        for l in list.lines() {
            let name = l.trim();
            let Some(n) = name
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(".ts"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let from = self.dir.join(name);
            if !(first..end).contains(&n) {
                let _ = std::fs::remove_file(&from);
                continue;
            }
            if std::fs::rename(&from, self.segment_path(n)).is_ok() {
                if let Ok(mut served) = self.served.lock() {
                    served.insert(n, self.tick.fetch_add(1, Ordering::Relaxed));
                }
            }
        }
        if done {
            if let Ok(entries) = std::fs::read_dir(&self.dir) {
                for e in entries.filter_map(Result::ok) {
                    if e.file_name().to_string_lossy().starts_with(&prefix) {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("ffmpeg.log")
    }

    fn touch(&self, now: i64, n: Option<u32>) {
        self.last_used.store(now, Ordering::Relaxed);
        if let (Some(n), Ok(mut served)) = (n, self.served.lock()) {
            served.insert(n, self.tick.fetch_add(1, Ordering::Relaxed));
        }
    }

    /// The arguments that make segments `first..end`.
    fn ffmpeg_args(&self, first: u32, end: u32, segment_s: u32) -> Vec<String> {
        let start_ms = self.segments.start_ms(first).unwrap_or(0);
        let end_ms = self
            .segments
            .start_ms(end)
            .unwrap_or(self.segments.duration_ms);
        let secs = |ms: i64| format!("{}.{:03}", ms / 1000, ms % 1000);
        let mut a: Vec<String> = vec![
            "-hide_banner".into(),
            "-nostdin".into(),
            "-loglevel".into(),
            "error".into(),
            "-y".into(),
        ];
        if start_ms > 0 {
            a.extend(["-ss".into(), secs(start_ms)]);
        }
        // `-t` before `-i`: on the input, as `-copyts` keeps the file's
        // timestamps, which an output `-t` would compare against.
        a.extend(["-t".into(), secs(end_ms - start_ms)]);
        a.extend(["-i".into(), self.source.to_string_lossy().into_owned()]);
        a.extend(["-copyts".into()]);
        if self.info.video.is_some() {
            a.extend(["-map".into(), "0:v:0".into()]);
        }
        let has_audio = self.info.audio.iter().any(|t| t.index == self.audio);
        if has_audio {
            a.extend(["-map".into(), format!("0:{}", self.audio)]);
        }
        let video_copy = self.method == PlayMethod::Remux
            && self.info.video.as_ref().is_some_and(|v| v.codec == "h264");
        let audio_copy = self.method == PlayMethod::Remux
            && self
                .info
                .audio
                .iter()
                .find(|t| t.index == self.audio)
                .is_some_and(|t| matches!(t.codec.as_str(), "aac" | "mp3"));
        if self.info.video.is_some() {
            if video_copy {
                a.extend(["-c:v".into(), "copy".into()]);
            } else {
                a.extend(
                    [
                        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt",
                        "yuv420p",
                    ]
                    .map(String::from),
                );
                a.extend([
                    "-force_key_frames".into(),
                    // `t` counts from this job's start, even with -copyts.
                    format!("expr:gte(t,n_forced*{segment_s})"),
                ]);
            }
        }
        if has_audio {
            if audio_copy {
                a.extend(["-c:a".into(), "copy".into()]);
            } else {
                a.extend(["-c:a", "aac", "-b:a", "160k", "-ac", "2"].map(String::from));
            }
        }
        a.extend(
            [
                "-f",
                "hls",
                "-hls_time",
                &segment_s.to_string(),
                "-hls_list_size",
                "0",
                "-hls_flags",
                "temp_file",
                "-start_number",
                &first.to_string(),
                "-hls_segment_filename",
            ]
            .map(String::from),
        );
        a.push(
            self.dir
                .join(format!("j{first}-%d.ts"))
                .to_string_lossy()
                .into_owned(),
        );
        a.push(
            self.dir
                .join(format!("job{first}.m3u8"))
                .to_string_lossy()
                .into_owned(),
        );
        a
    }
}

impl Hls {
    /// The segmenter for `config` (nothing started, nothing on disk yet).
    pub fn new(config: &crate::Config) -> Hls {
        let c = &config.playback;
        let jobs = if c.transcode_jobs == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            c.transcode_jobs
        };
        Hls {
            ffmpeg: c.ffmpeg.clone(),
            dir: c
                .hls_cache_dir
                .clone()
                .unwrap_or_else(|| config.data_dir.join("hls-cache")),
            cap_bytes: c.hls_cache_mb.saturating_mul(1024 * 1024),
            segment_s: c.hls_segment_s,
            idle_ms: c.stream_timeout_ms(),
            slots: Arc::new(Semaphore::new(jobs)),
            jobs,
            sessions: Mutex::new(HashMap::new()),
            tick: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The segment cache's folder.
    pub fn cache_dir(&self) -> &Path {
        &self.dir
    }

    /// The segment cache's cap, bytes.
    pub fn cap_bytes(&self) -> u64 {
        self.cap_bytes
    }

    fn sessions(&self) -> Vec<Arc<Session>> {
        self.sessions
            .lock()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }

    fn drop_session(&self, key: &str) -> Option<Arc<Session>> {
        self.sessions.lock().ok().and_then(|mut s| s.remove(key))
    }

    /// Bytes in the cache now.
    pub fn cache_bytes(&self) -> u64 {
        segment_files(&self.dir).iter().map(|f| f.size).sum()
    }

    /// Deletes the least recently served segments until the cache holds at
    /// most `target` bytes.
    fn trim_to(&self, target: u64) {
        let files = segment_files(&self.dir);
        let mut total: u64 = files.iter().map(|f| f.size).sum();
        if total <= target {
            return;
        }
        let sessions = self.sessions();
        // Least recently used first: a segment's last use is when it was
        // served or, not served yet, finished; one being written goes last.
        let used = |f: &SegmentFile| -> u64 {
            let Some(s) = sessions.iter().find(|s| s.dir == f.dir) else {
                return 0;
            };
            let Some(n) = f.number else { return u64::MAX };
            s.served
                .lock()
                .ok()
                .and_then(|m| m.get(&n).copied())
                .unwrap_or(0)
        };
        let mut order: Vec<(u64, &SegmentFile)> = files
            .iter()
            .filter(|f| f.number.is_some())
            .map(|f| (used(f), f))
            .collect();
        order.sort_by_key(|(t, _)| *t);
        for (_, f) in order {
            if total <= target {
                break;
            }
            if std::fs::remove_file(&f.path).is_ok() {
                total = total.saturating_sub(f.size);
            }
        }
    }

    /// Ends a viewer's HLS of a title (the stream stopped): its jobs are
    /// killed and its segments deleted.
    pub async fn end(&self, profile_id: i64, title_id: i64) {
        for s in self.sessions() {
            if s.profile_id == profile_id && s.title_id == title_id {
                self.close(&s).await;
            }
        }
    }

    async fn close(&self, s: &Arc<Session>) {
        self.drop_session(&s.key);
        if let Some(mut job) = s.job.lock().await.take() {
            job.kill();
            let _ = job.child.wait().await;
        }
        let _ = tokio::fs::remove_dir_all(&s.dir).await;
    }

    /// The playlist of a title's HLS for one audio track; `query` (the
    /// link's signature) is repeated on each segment's URI.
    pub async fn playlist(
        &self,
        state: &AppState,
        title_id: i64,
        audio: u32,
        profile_id: i64,
        query: &str,
    ) -> Result<String, AppError> {
        let s = self.session(state, title_id, audio, profile_id).await?;
        s.touch(state.clock.now_ms(), None);
        Ok(s.segments.media_playlist(|i| {
            if query.is_empty() {
                format!("{i}.ts")
            } else {
                format!("{i}.ts?{query}")
            }
        }))
    }

    /// The session of a viewer, title and audio track, made on first use.
    async fn session(
        &self,
        state: &AppState,
        title_id: i64,
        audio: u32,
        profile_id: i64,
    ) -> Result<Arc<Session>, AppError> {
        if !state.media.ffmpeg().is_ready() {
            return Err(AppError::NotFound(
                "this server cannot remux or transcode (ffmpeg is not available)".into(),
            ));
        }
        let key = format!("t{title_id}-a{audio}-p{profile_id}");
        if let Some(s) = self.sessions.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(s);
        }
        let (file, info) = probed_media(state, title_id).await?;
        if !info.audio.is_empty() && !info.audio.iter().any(|a| a.index == audio) {
            return Err(AppError::NotFound(format!(
                "this title has no audio track {audio}"
            )));
        }
        let method = match play_method(&info, Some(audio), &Capabilities::browser()) {
            PlayMethod::Direct => PlayMethod::Remux,
            m => m,
        };
        let dir = self.dir.join(&key);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| AppError::Internal(format!("HLS cache {}: {e}", dir.display())))?;
        let session = Arc::new(Session {
            key: key.clone(),
            dir,
            profile_id,
            title_id,
            source: file.path,
            audio,
            method,
            segments: Segments::new(info.duration_ms, self.segment_s),
            info,
            job: tokio::sync::Mutex::new(None),
            last_used: AtomicI64::new(state.clock.now_ms()),
            served: Mutex::new(HashMap::new()),
            tick: self.tick.clone(),
        });
        let mut map = self
            .sessions
            .lock()
            .map_err(|_| AppError::Internal("HLS sessions lock poisoned".into()))?;
        Ok(map.entry(key).or_insert(session).clone())
    }

    /// Segment `n` of a title's HLS, made now when it is not in the cache:
    /// its bytes (a few hundred KB to a few MB).
    pub async fn segment(
        &self,
        state: &AppState,
        title_id: i64,
        audio: u32,
        profile_id: i64,
        n: u32,
    ) -> Result<Vec<u8>, AppError> {
        let s = self.session(state, title_id, audio, profile_id).await?;
        if n >= s.segments.count() {
            return Err(AppError::NotFound(format!(
                "segment {n} is past the end ({} segments)",
                s.segments.count()
            )));
        }
        let path = s.segment_path(n);
        let deadline = tokio::time::Instant::now() + SEGMENT_WAIT;
        // Jobs that covered `n` and finished without it (a segment trimmed
        // before it was served is made again once).
        let mut finished_without = 0;
        loop {
            {
                let mut job = s.job.lock().await;
                let mut covered_and_done = false;
                if let Some(j) = job.as_mut() {
                    s.harvest(j.first, j.end, false);
                    match j.exit(&s.log_path()) {
                        Exit::Running => {}
                        Exit::Done => {
                            s.harvest(j.first, j.end, true);
                            covered_and_done = (j.first..j.end).contains(&n);
                            *job = None;
                        }
                        Exit::Failed(why) => {
                            *job = None;
                            drop(job);
                            self.close(&s).await;
                            return Err(AppError::Transcoder(format!(
                                "the stream could not be made: {why}"
                            )));
                        }
                    }
                }
                // Read before anything is trimmed: the bytes are the answer.
                let bytes = if s.is_complete(n) {
                    match tokio::fs::read(&path).await {
                        Ok(b) => Some(b),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                        Err(e) => {
                            return Err(AppError::Internal(format!("reading a segment: {e}")))
                        }
                    }
                } else {
                    None
                };
                if let Some(bytes) = bytes {
                    s.touch(state.clock.now_ms(), Some(n));
                    // Near the end of what is made: the next chunk.
                    if job.is_none() {
                        let ahead =
                            (n + 1..(n + 4).min(s.segments.count())).find(|m| !s.is_complete(*m));
                        if let Some(m) = ahead {
                            if let Ok(slot) = self.slots.clone().try_acquire_owned() {
                                *job = Some(self.start_job(&s, m, slot, profile_id).await?);
                            }
                        }
                    }
                    drop(job);
                    self.trim_to(self.cap_bytes);
                    return Ok(bytes);
                }
                if covered_and_done {
                    finished_without += 1;
                    if finished_without > 1 {
                        return Err(AppError::NotFound(format!(
                            "segment {n} was not made: the file's keyframes are further apart than the segments"
                        )));
                    }
                }
                let making = job.as_ref().is_some_and(|j| (j.first..j.end).contains(&n));
                if !making {
                    if let Some(mut old) = job.take() {
                        old.kill();
                        let _ = old.child.wait().await;
                        s.harvest(old.first, old.end, true);
                    }
                    // One job per viewer: their other titles' and tracks' stop.
                    self.stop_viewer_jobs(profile_id, &s.key).await;
                    let slot = tokio::time::timeout(SLOT_WAIT, self.slots.clone().acquire_owned())
                        .await
                        .map_err(|_| {
                            AppError::Unavailable(
                                "the server is busy making streams for other viewers; try again shortly"
                                    .into(),
                            )
                        })?
                        .map_err(|_| AppError::Unavailable("the segmenter is closed".into()))?;
                    *job = Some(self.start_job(&s, n, slot, profile_id).await?);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(AppError::Transcoder(format!(
                    "segment {n} was not ready within {} s",
                    SEGMENT_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop_viewer_jobs(&self, profile_id: i64, except: &str) {
        for other in self.sessions() {
            if other.profile_id == profile_id && other.key != except {
                if let Some(mut j) = other.job.lock().await.take() {
                    j.kill();
                    let _ = j.child.wait().await;
                }
            }
        }
    }

    /// Starts ffmpeg on segments `first..first + CHUNK`, after making room
    /// for them in the cache.
    async fn start_job(
        &self,
        s: &Session,
        first: u32,
        slot: OwnedSemaphorePermit,
        profile_id: i64,
    ) -> Result<Job, AppError> {
        // The jobs running at once share half the cache, so that what they
        // write fits beside what the cache keeps; room is made for this
        // chunk and what the others have still to write.
        let per_segment = chunk_estimate(s, 1).max(1);
        let share = self.cap_bytes / 2 / (self.jobs as u64).max(1);
        let fits = u32::try_from(share / per_segment).unwrap_or(CHUNK);
        let end = (first + fits.clamp(1, CHUNK)).min(s.segments.count());
        let others: u64 = self
            .sessions()
            .iter()
            .filter(|o| o.key != s.key)
            .filter_map(|o| {
                let job = o.job.try_lock().ok()?;
                let j = job.as_ref()?;
                let left = (j.first..j.end).filter(|n| !o.is_complete(*n)).count() + 1;
                Some(chunk_estimate(o, u32::try_from(left).unwrap_or(CHUNK)))
            })
            .sum();
        self.trim_to(
            self.cap_bytes
                .saturating_sub(chunk_estimate(s, end - first + 1))
                .saturating_sub(others),
        );
        let _ = std::fs::remove_file(s.dir.join(format!("job{first}.m3u8")));
        std::fs::create_dir_all(&s.dir)
            .map_err(|e| AppError::Internal(format!("HLS cache {}: {e}", s.dir.display())))?;
        let log = std::fs::File::create(s.log_path())
            .map_err(|e| AppError::Internal(format!("HLS log: {e}")))?;
        let args = s.ffmpeg_args(first, end, self.segment_s);
        tracing::debug!(
            title = s.title_id,
            profile = profile_id,
            first,
            end,
            method = s.method.as_str(),
            "starting ffmpeg"
        );
        let child = Command::new(&self.ffmpeg)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| AppError::Transcoder(format!("ffmpeg could not be started: {e}")))?;
        Ok(Job {
            child,
            first,
            end,
            _slot: slot,
        })
    }

    /// One pass of the sweeper: reaps finished jobs (freeing their slots),
    /// closes sessions idle past the stream timeout, and holds the cap.
    pub async fn sweep(&self, now: i64) {
        for s in self.sessions() {
            let idle = now - s.last_used.load(Ordering::Relaxed) > self.idle_ms;
            if idle {
                self.close(&s).await;
                continue;
            }
            if let Ok(mut job) = s.job.try_lock() {
                if let Some(j) = job.as_mut() {
                    s.harvest(j.first, j.end, false);
                    match j.exit(&s.log_path()) {
                        Exit::Running => {}
                        Exit::Done => {
                            s.harvest(j.first, j.end, true);
                            *job = None;
                        }
                        // Left for the request waiting on it, which
                        // answers with ffmpeg's words and cleans up; one
                        // nobody waits on any more goes with its session.
                        Exit::Failed(why) if now - s.last_used.load(Ordering::Relaxed) > 10_000 => {
                            tracing::warn!(title = s.title_id, %why, "HLS job failed");
                            *job = None;
                            drop(job);
                            self.close(&s).await;
                        }
                        Exit::Failed(_) => {}
                    }
                }
            }
        }
        self.trim_to(self.cap_bytes);
    }
}

/// Roughly how many bytes `n` segments of a session take: the average of
/// those made, else the file's bit rate.
fn chunk_estimate(s: &Session, n: u32) -> u64 {
    let made = segment_files(&s.dir);
    let sizes: Vec<u64> = made
        .iter()
        .filter(|f| f.number.is_some())
        .map(|f| f.size)
        .collect();
    let per = if sizes.is_empty() {
        s.info.bit_rate.unwrap_or(4_000_000) / 8 * u64::from(s.segments.target_s)
    } else {
        sizes.iter().sum::<u64>() / sizes.len() as u64
    };
    per.saturating_mul(u64::from(n))
}

/// A file in the segment cache.
struct SegmentFile {
    path: PathBuf,
    dir: PathBuf,
    /// `seg{n}.ts`'s n; `None` for a file being written or a log.
    number: Option<u32>,
    size: u64,
}

/// Every file in the cache's session folders.
fn segment_files(root: &Path) -> Vec<SegmentFile> {
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(root) else {
        return out;
    };
    for d in dirs.filter_map(Result::ok) {
        let dir = d.path();
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        for f in files.filter_map(Result::ok) {
            let Ok(meta) = f.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let name = f.file_name().to_string_lossy().into_owned();
            let number = name
                .strip_prefix("seg")
                .and_then(|r| r.strip_suffix(".ts"))
                .and_then(|n| n.parse().ok());
            out.push(SegmentFile {
                path: f.path(),
                dir: dir.clone(),
                number,
                size: meta.len(),
            });
        }
    }
    out
}

/// The sweeper, started by `launch`: first empties the cache a previous
/// process left, then sweeps twice a second.
pub fn spawn_sweeper(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let dir = state.media.hls.cache_dir().to_path_buf();
        if let Ok(mut entries) = tokio::fs::read_dir(&dir).await {
            while let Ok(Some(e)) = entries.next_entry().await {
                let _ = tokio::fs::remove_dir_all(e.path()).await;
            }
        }
        loop {
            tokio::time::sleep(SWEEP_EVERY).await;
            state.media.hls.sweep(state.clock.now_ms()).await;
        }
    })
}
