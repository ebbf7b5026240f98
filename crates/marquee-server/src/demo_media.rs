//! Demo media (#23): real, short sample episodes for the "[Sample]" series
//! of the demo catalog, so that a newcomer sees real playback and real
//! cross-device resume.
//!
//! Each episode gets a clip made by `ffmpeg` (`[playback] ffmpeg`): a test
//! pattern with the series and episode drawn on it (when ffmpeg has
//! `drawtext` and a font), a tone of the series' own pitch, H.264/AAC in an
//! MP4 with `+faststart`, 640x360 at 24 fps, a keyframe every 2 s. Beside it
//! go an English and a Spanish WebVTT file (`S01E02.en.vtt`, `S01E02.es.vtt`)
//! written here, which [`crate::playback::media_for`] offers as subtitle
//! tracks. Files live under `sample/<series>/` in the media directory; the
//! episode's media file is set to the clip and its runtime to the clip's
//! real length (ffprobe).
//!
//! Idempotent: the settings a clip was made with are stamped in its MP4
//! `comment` tag, and a clip whose stamp matches is not made again.

use crate::import::sample_series::{sample_series, SAMPLE_SOURCE};
use crate::import::Progress;
use crate::AppState;
use marquee_store::StoreError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Command;

/// The series the first `marquee serve` makes media for: its three clips
/// take seconds; `marquee demo media` makes the rest.
pub const FIRST_SERVE_SERIES: &str = "Tiny Planet Shorts";

/// Stamped in each clip's `comment` tag with its settings; a new version
/// makes every clip again.
const STAMP: &str = "marquee-demo-media v1";

/// Picture size, frame rate and quality of the clips.
const SIZE: &str = "640x360";
const FPS: u32 = 24;
const CRF: u32 = 30;

/// How to get ffmpeg, said wherever it is missing.
pub const HOW_TO_GET_FFMPEG: &str =
    "install ffmpeg, e.g. `apt-get install ffmpeg` or `brew install ffmpeg`, or set [playback] ffmpeg";

/// Why demo media cannot be made at all (one episode's failure is in the
/// report instead).
#[derive(Debug, thiserror::Error)]
pub enum DemoMediaError {
    /// The program is not installed (or not where `[playback]` says).
    #[error("`{program}` was not found: {HOW_TO_GET_FFMPEG} (and ffprobe) to its path")]
    NoFfmpeg {
        /// The program as configured.
        program: String,
    },
    /// The program is there but does not run.
    #[error("`{program}` does not run: {message}")]
    Broken {
        /// The program as configured.
        program: String,
        /// What went wrong.
        message: String,
    },
    /// The database has no sample series.
    #[error(
        "the [Sample] series are not in this database: they come with the demo catalog, \
         which `marquee serve` imports on its first start"
    )]
    NoSampleSeries,
    /// `--series` names no sample series.
    #[error("no sample series is called {0:?}: try \"Harbour Lights\", \"Orbit Kitchen\" or \"Tiny Planet Shorts\"")]
    UnknownSeries(String),
    /// The media directory cannot be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to make.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Every clip this long (seconds, e.g. 2 in tests); default 60 + 30 × (n
    /// mod 5) s for the n-th episode of a series, and 60 s for shorts (under
    /// 10 minutes of metadata runtime).
    pub clip_s: Option<u32>,
    /// Only this series (its name without "[Sample]"); default all three.
    pub series: Option<String>,
    /// Clips made at once; 0: one per CPU core.
    pub jobs: usize,
}

/// The programs and what they can do.
#[derive(Debug, Clone)]
pub struct Tools {
    /// ffmpeg.
    pub ffmpeg: String,
    /// ffprobe.
    pub ffprobe: String,
    /// ffmpeg can draw text (`drawtext` and a font).
    pub drawtext: bool,
}

/// One episode's clip.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeMedia {
    /// The episode.
    pub title_id: i64,
    /// "Harbour Lights S01E02 Low Tide".
    pub episode: String,
    /// The clip, relative to the media directory.
    pub path: String,
    /// Its real length, s (the episode's runtime now).
    pub duration_s: i64,
}

/// An episode whose clip could not be made.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeFailure {
    /// The episode.
    pub title_id: i64,
    /// "Harbour Lights S01E02 Low Tide".
    pub episode: String,
    /// Why: ffmpeg's last line of errors, or the I/O or store error.
    pub error: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemoMediaReport {
    /// Clips made now.
    pub made: Vec<EpisodeMedia>,
    /// Clips already there with the same settings (not made again).
    pub skipped: Vec<EpisodeMedia>,
    /// Episodes without a clip.
    pub failed: Vec<EpisodeFailure>,
    /// Episode titles whose media file or runtime changed in the catalog.
    pub catalog_updated: usize,
    /// The series and episode names are drawn on the picture.
    pub drawtext: bool,
}

impl DemoMediaReport {
    /// One line: "12 clips made, 3 already there, 0 failed".
    pub fn summary(&self) -> String {
        format!(
            "{} clips made, {} already there, {} failed",
            self.made.len(),
            self.skipped.len(),
            self.failed.len()
        )
    }

    /// The seconds of video made.
    pub fn made_s(&self) -> i64 {
        self.made.iter().map(|m| m.duration_s).sum()
    }
}

/// One clip to make.
#[derive(Debug, Clone)]
struct Job {
    title_id: i64,
    /// "Harbour Lights".
    series: String,
    /// 1, 2, 3: picks the tone and the subtitle lines.
    series_key: i64,
    /// "S01E02".
    code: String,
    /// "Low Tide".
    name: String,
    /// `sample/Harbour Lights/S01E02.mp4`.
    rel: String,
    /// The clip's length, s.
    length_s: u32,
}

impl Job {
    fn label(&self) -> String {
        format!("{} {} {}", self.series, self.code, self.name)
    }

    /// The settings stamp (in the MP4's `comment` tag).
    fn stamp(&self) -> String {
        format!(
            "{STAMP}; {}s {SIZE}@{FPS} crf{CRF} tone {} Hz; {}",
            self.length_s,
            tone_hz(self.series_key),
            self.label()
        )
    }
}

/// The tone of a series: C4, E4, G4.
fn tone_hz(series_key: i64) -> u32 {
    match series_key {
        1 => 262,
        2 => 330,
        _ => 392,
    }
}

/// How long a quick call (`-version`, `-filters`, ffprobe) may take.
const QUICK: Duration = Duration::from_secs(30);

/// Runs `program args…` for at most `limit` (then it is killed); `Ok(stdout)`
/// on success, else the last line of its errors (at most 300 characters).
async fn run_tool(program: &str, args: &[&str], limit: Duration) -> Result<String, ToolError> {
    let run = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(limit, run)
        .await
        .map_err(|_| ToolError::Failed(format!("no answer within {} s", limit.as_secs())))?
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ToolError::Missing
            } else {
                ToolError::Failed(e.to_string())
            }
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(|l| l.chars().take(300).collect())
            .unwrap_or_else(|| format!("exited with {}", out.status));
        Err(ToolError::Failed(last))
    }
}

#[derive(Debug)]
enum ToolError {
    Missing,
    Failed(String),
}

impl ToolError {
    fn into_error(self, program: &str) -> DemoMediaError {
        match self {
            ToolError::Missing => DemoMediaError::NoFfmpeg {
                program: program.to_string(),
            },
            ToolError::Failed(message) => DemoMediaError::Broken {
                program: program.to_string(),
                message,
            },
        }
    }

    fn message(self, program: &str) -> String {
        match self {
            ToolError::Missing => format!("`{program}` was not found"),
            ToolError::Failed(m) => m,
        }
    }
}

/// Finds ffmpeg and ffprobe as `[playback]` names them, and whether ffmpeg
/// can draw text (the `drawtext` filter and a font that renders).
pub async fn tools(cfg: &crate::playback::PlaybackConfig) -> Result<Tools, DemoMediaError> {
    let (ffmpeg, ffprobe) = (cfg.ffmpeg.clone(), cfg.ffprobe.clone());
    run_tool(&ffmpeg, &["-hide_banner", "-version"], QUICK)
        .await
        .map_err(|e| e.into_error(&ffmpeg))?;
    run_tool(&ffprobe, &["-hide_banner", "-version"], QUICK)
        .await
        .map_err(|e| e.into_error(&ffprobe))?;
    let filters = run_tool(&ffmpeg, &["-hide_banner", "-filters"], QUICK)
        .await
        .unwrap_or_default();
    let listed = filters
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("drawtext"));
    // drawtext also needs a font: draw one frame to be sure.
    let drawtext = listed
        && run_tool(
            &ffmpeg,
            &[
                "-hide_banner",
                "-loglevel",
                "error",
                "-nostdin",
                "-f",
                "lavfi",
                "-i",
                "color=c=black:s=64x36:d=0.1",
                "-vf",
                "drawtext=text=Ab:fontsize=12:fontcolor=white",
                "-frames:v",
                "1",
                "-f",
                "null",
                "-",
            ],
            QUICK,
        )
        .await
        .is_ok();
    if !drawtext {
        tracing::info!(
            "ffmpeg cannot draw text (no drawtext filter or no font): clips go without names"
        );
    }
    Ok(Tools {
        ffmpeg,
        ffprobe,
        drawtext,
    })
}

/// The clips to make: each sample episode in the catalog, by series, season
/// and episode.
fn plan(ids: &HashMap<i64, i64>, opts: &Options) -> Result<Vec<Job>, DemoMediaError> {
    let mut jobs = Vec::new();
    let mut known = false;
    for s in sample_series() {
        let series = s.name.trim_end_matches(" [Sample]").trim().to_string();
        if let Some(only) = &opts.series {
            let only = only.trim_end_matches(" [Sample]").trim();
            if !series.eq_ignore_ascii_case(only) {
                continue;
            }
        }
        known = true;
        let mut n: u32 = 0;
        for season in &s.seasons {
            for e in &season.episodes {
                n += 1;
                let Some(&title_id) = ids.get(&e.external_id) else {
                    continue;
                };
                let length_s = opts.clip_s.unwrap_or(if e.duration_s < 600 {
                    60
                } else {
                    60 + 30 * (n % 5)
                });
                let code = format!("S{:02}E{:02}", season.number, e.number);
                jobs.push(Job {
                    title_id,
                    series: series.clone(),
                    series_key: s.external_id,
                    name: e.name.trim_end_matches(" [Sample]").trim().to_string(),
                    rel: format!("sample/{series}/{code}.mp4"),
                    code,
                    length_s: length_s.max(1),
                });
            }
        }
    }
    match &opts.series {
        Some(only) if !known => Err(DemoMediaError::UnknownSeries(only.clone())),
        _ => Ok(jobs),
    }
}

/// Makes the demo media (see the module's documentation): the clips the
/// media directory lacks, concurrently (`opts.jobs`, default one per core),
/// then points each episode at its clip with its real runtime. One
/// episode's failure is reported and the others go on.
pub async fn generate(
    state: &AppState,
    opts: &Options,
    progress: &mut dyn Progress,
) -> Result<DemoMediaReport, DemoMediaError> {
    let ids: HashMap<i64, i64> = state
        .store
        .source_titles(SAMPLE_SOURCE)
        .await?
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Err(DemoMediaError::NoSampleSeries);
    }
    let mut jobs = plan(&ids, opts)?;
    let tools = Arc::new(tools(&state.config.playback).await?);
    let root = crate::playback::media_dir(state);
    tokio::fs::create_dir_all(&root)
        .await
        .map_err(|source| DemoMediaError::Io {
            path: root.clone(),
            source,
        })?;
    let cores = std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1);
    let parallel = if opts.jobs == 0 { cores } else { opts.jobs }
        .min(jobs.len())
        .max(1);
    // Each ffmpeg gets its share of the cores.
    let threads = cores.div_ceil(parallel).max(1);
    // Longest first: the last clips to finish are short ones.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.length_s));
    progress.phase("demo media", jobs.len() as u64);
    let limit = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut set = tokio::task::JoinSet::new();
    for job in jobs {
        let (tools, limit, root) = (tools.clone(), limit.clone(), root.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let out = make_clip(&tools, &root, &job, threads).await;
            (job, out)
        });
    }
    let mut report = DemoMediaReport {
        drawtext: tools.drawtext,
        ..DemoMediaReport::default()
    };
    while let Some(joined) = set.join_next().await {
        progress.advance(1);
        let (job, out) = match joined {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "a demo media task failed");
                continue;
            }
        };
        let (made, duration_s) = match out {
            Ok(x) => x,
            Err(error) => {
                tracing::warn!(episode = %job.label(), %error, "demo clip not made");
                report.failed.push(EpisodeFailure {
                    title_id: job.title_id,
                    episode: job.label(),
                    error,
                });
                continue;
            }
        };
        match point_at_clip(state, &job, duration_s).await {
            Ok(changed) => report.catalog_updated += usize::from(changed),
            Err(e) => {
                report.failed.push(EpisodeFailure {
                    title_id: job.title_id,
                    episode: job.label(),
                    error: e.to_string(),
                });
                continue;
            }
        }
        let m = EpisodeMedia {
            title_id: job.title_id,
            episode: job.label(),
            path: job.rel.clone(),
            duration_s,
        };
        if made {
            tracing::info!(episode = %m.episode, path = %m.path, duration_s, "demo clip made");
            report.made.push(m);
        } else {
            report.skipped.push(m);
        }
    }
    progress.finish();
    let order = |m: &EpisodeMedia| m.path.clone();
    report.made.sort_by_key(order);
    report.skipped.sort_by_key(order);
    report.failed.sort_by_key(|f| f.title_id);
    Ok(report)
}

/// Sets the episode's media file and runtime unless they are already so;
/// `true` when something changed.
async fn point_at_clip(state: &AppState, job: &Job, duration_s: i64) -> Result<bool, StoreError> {
    let current = state.store.playable_title(job.title_id).await?;
    let mut changed = false;
    if current.as_ref().and_then(|t| t.media_path.as_deref()) != Some(job.rel.as_str()) {
        state
            .store
            .set_media_path(job.title_id, Some(&job.rel))
            .await?;
        state.media.open.forget(job.title_id);
        changed = true;
    }
    if current.map(|t| t.duration_ms) != Some(duration_s * 1000) {
        state
            .store
            .set_runtime(job.title_id, duration_s, state.clock.now_ms())
            .await?;
        changed = true;
    }
    Ok(changed)
}

/// Makes one clip unless it is there with the same settings, and writes its
/// subtitles: `(made now, real length in s)`, or the error's last line.
async fn make_clip(
    tools: &Tools,
    root: &Path,
    job: &Job,
    threads: usize,
) -> Result<(bool, i64), String> {
    let path = root.join(&job.rel);
    let dir = path.parent().unwrap_or(root).to_path_buf();
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let stamp = job.stamp();
    let existing = match probe(&tools.ffprobe, &path).await {
        Some((ms, Some(s))) if s == stamp => Some(ms),
        _ => None,
    };
    let (made, ms) = match existing {
        Some(ms) => (false, ms),
        None => {
            encode(tools, &path, job, &stamp, threads).await?;
            let ms = match probe(&tools.ffprobe, &path).await {
                Some((ms, _)) => ms,
                None => return Err("ffprobe cannot read the clip just made".into()),
            };
            (true, ms)
        }
    };
    let duration_s = ((ms + 500) / 1000).max(1);
    let clip_ms = ms.min(i64::from(job.length_s) * 1000);
    for lang in [Lang::En, Lang::Es] {
        let vtt = webvtt(&cues(job, lang, clip_ms));
        let file = dir.join(format!("{}.{}.vtt", job.code, lang.code()));
        write_if_changed(&file, &vtt)
            .await
            .map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok((made, duration_s))
}

/// Writes `text` to `path` unless it already holds it.
async fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if tokio::fs::read(path).await.ok().as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    let tmp = path.with_extension("vtt.partial");
    tokio::fs::write(&tmp, text).await?;
    tokio::fs::rename(&tmp, path).await
}

/// A clip's length (ms) and settings stamp, when ffprobe reads it.
async fn probe(ffprobe: &str, path: &Path) -> Option<(i64, Option<String>)> {
    if !tokio::fs::try_exists(path).await.unwrap_or(false) {
        return None;
    }
    let path = path.to_string_lossy();
    let json = run_tool(
        ffprobe,
        &[
            "-v",
            "error",
            "-show_entries",
            "format=duration:format_tags=comment",
            "-of",
            "json",
            &path,
        ],
        QUICK,
    )
    .await
    .ok()?;
    let v: serde_json::Value = serde_json::from_str(&json).ok()?;
    let secs: f64 = v["format"]["duration"].as_str()?.trim().parse().ok()?;
    if !(secs.is_finite() && secs > 0.0 && secs < 86_400.0) {
        return None;
    }
    let comment = v["format"]["tags"]
        .as_object()
        .and_then(|t| t.iter().find(|(k, _)| k.eq_ignore_ascii_case("comment")))
        .and_then(|(_, c)| c.as_str())
        .map(str::to_string);
    Some(((secs * 1000.0).round() as i64, comment))
}

/// Text safe inside a quoted `drawtext` value: no quote, backslash, colon,
/// percent or filtergraph separator (an apostrophe becomes ’).
fn drawable(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\'' => Some('’'),
            '\\' | ':' | '%' | ',' | ';' | '[' | ']' | '=' | '{' | '}' | '"' => None,
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// Runs ffmpeg for one clip into a temporary file, renamed into place when
/// complete.
async fn encode(
    tools: &Tools,
    path: &Path,
    job: &Job,
    stamp: &str,
    threads: usize,
) -> Result<(), String> {
    let tmp = path.with_extension("partial.mp4");
    let video = format!("testsrc2=size={SIZE}:rate={FPS}");
    let audio = format!(
        "sine=frequency={}:sample_rate=48000",
        tone_hz(job.series_key)
    );
    let text = |t: &str, size: u32, y: &str| {
        format!(
            "drawtext=text='{}':expansion=none:fontsize={size}:fontcolor=white:\
             box=1:boxcolor=black@0.6:boxborderw=10:x=(w-tw)/2:y={y}",
            drawable(t)
        )
    };
    let filter = if tools.drawtext {
        format!(
            "{},{}",
            text(&job.series, 34, "h*0.58"),
            text(&format!("{} · {}", job.code, job.name), 24, "h*0.58+56")
        )
    } else {
        "null".to_string()
    };
    let (length, threads_s, crf, gop) = (
        job.length_s.to_string(),
        threads.to_string(),
        CRF.to_string(),
        (2 * FPS).to_string(),
    );
    let title = format!("{} – {} {}", job.series, job.code, job.name);
    let (title_meta, stamp_meta) = (format!("title={title}"), format!("comment={stamp}"));
    let tmp_s = tmp.to_string_lossy();
    let args: Vec<&str> = vec![
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-y",
        "-f",
        "lavfi",
        "-i",
        &video,
        "-f",
        "lavfi",
        "-i",
        &audio,
        "-t",
        &length,
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-vf",
        &filter,
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        &crf,
        "-g",
        &gop,
        "-keyint_min",
        &gop,
        "-sc_threshold",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-threads",
        &threads_s,
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata",
        &title_meta,
        "-metadata",
        &stamp_meta,
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        &tmp_s,
    ];
    // Generous: a 3-minute clip takes about 25 s of one core.
    let limit = Duration::from_secs(120 + 10 * u64::from(job.length_s));
    let out = run_tool(&tools.ffmpeg, &args, limit).await;
    if let Err(e) = out {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e.message(&tools.ffmpeg));
    }
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A subtitle language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    En,
    Es,
}

impl Lang {
    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }
}

/// Plausible lines of a series, `(English, Spanish)`.
fn lines(series_key: i64) -> &'static [(&'static str, &'static str)] {
    match series_key {
        1 => &[
            (
                "The fog is coming in early tonight.",
                "La niebla llega temprano esta noche.",
            ),
            (
                "Check the lamp before the tide turns.",
                "Revisa la lámpara antes de que cambie la marea.",
            ),
            (
                "Someone has been writing in the keeper's log.",
                "Alguien ha escrito en el diario del farero.",
            ),
            (
                "Three short, one long. Did you hear it?",
                "Tres cortas, una larga. ¿Lo has oído?",
            ),
            ("The ferry never came back.", "El ferry nunca volvió."),
        ],
        2 => &[
            (
                "Welcome back to the only kitchen in low orbit!",
                "¡Bienvenidos a la única cocina en órbita baja!",
            ),
            (
                "Careful, the soufflé is drifting again.",
                "Cuidado, el suflé vuelve a flotar.",
            ),
            (
                "Rule one: never open the salt in zero gravity.",
                "Regla número uno: nunca abras la sal en gravedad cero.",
            ),
            (
                "Ground control says it smells wonderful.",
                "Control de tierra dice que huele de maravilla.",
            ),
            (
                "Dinner is served. Strap in!",
                "La cena está servida. ¡Abróchense!",
            ),
        ],
        _ => &[
            ("Good morning, Moon!", "¡Buenos días, Luna!"),
            ("Tag! You're it, Comet!", "¡Te pillé! ¡Te toca, Cometa!"),
            (
                "Shh… the little star is sleeping.",
                "Chis… la estrellita está durmiendo.",
            ),
            (
                "Round and round the tiny planet goes.",
                "Da vueltas y vueltas el pequeño planeta.",
            ),
            ("Time for bed, everyone.", "Hora de dormir, a todos."),
        ],
    }
}

/// A cue: start and end (ms), text.
type Cue = (i64, i64, String);

/// The cues of a clip `clip_ms` long: the series' theme first, then its
/// lines, evenly spread, each at most 4 s and inside the clip.
fn cues(job: &Job, lang: Lang, clip_ms: i64) -> Vec<Cue> {
    let clip_ms = clip_ms.max(1);
    let count = (clip_ms / 10_000).clamp(1, 8);
    let slot = clip_ms / count;
    let said = lines(job.series_key);
    (0..count)
        .map(|i| {
            let start = i * slot + slot / 10;
            let end = (start + (slot * 8 / 10).min(4_000)).min(clip_ms);
            let text = if i == 0 {
                match lang {
                    Lang::En => format!("♪ {} theme ♪", job.series),
                    Lang::Es => format!("♪ Sintonía de {} ♪", job.series),
                }
            } else {
                let (en, es) = said[usize::try_from(i - 1).unwrap_or(0) % said.len()];
                match lang {
                    Lang::En => en.to_string(),
                    Lang::Es => es.to_string(),
                }
            };
            (start, end, text)
        })
        .collect()
}

/// `HH:MM:SS.mmm`.
fn vtt_time(ms: i64) -> String {
    let ms = ms.max(0);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// A WebVTT file of these cues.
fn webvtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n");
    for (i, (start, end, text)) in cues.iter().enumerate() {
        out.push_str(&format!(
            "\n{}\n{} --> {}\n{}\n",
            i + 1,
            vtt_time(*start),
            vtt_time(*end),
            text.replace("-->", "→")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn job(length_s: u32) -> Job {
        Job {
            title_id: 7,
            series: "Harbour Lights".into(),
            series_key: 1,
            code: "S01E02".into(),
            name: "Low Tide".into(),
            rel: "sample/Harbour Lights/S01E02.mp4".into(),
            length_s,
        }
    }

    fn parse_time(s: &str) -> i64 {
        let (hms, ms) = s.split_once('.').unwrap();
        let p: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
        assert_eq!((p.len(), ms.len()), (3, 3), "{s}");
        ((p[0] * 60 + p[1]) * 60 + p[2]) * 1000 + ms.parse::<i64>().unwrap()
    }

    /// The cues of a WebVTT file, checked for shape.
    fn parse(vtt: &str) -> Vec<(i64, i64, String)> {
        assert!(vtt.starts_with("WEBVTT\n\n"), "{vtt}");
        vtt.split("\n\n")
            .skip(1)
            .map(|block| {
                let l: Vec<&str> = block.lines().collect();
                assert!(l.len() >= 3, "{block:?}");
                let (a, b) = l[1].split_once(" --> ").unwrap();
                (parse_time(a), parse_time(b), l[2..].join("\n"))
            })
            .collect()
    }

    #[test]
    fn subtitles_are_webvtt_with_cues_inside_the_clip() {
        for length_s in [1, 2, 3, 60, 90, 180] {
            for lang in [Lang::En, Lang::Es] {
                let clip_ms = i64::from(length_s) * 1000;
                let got = parse(&webvtt(&cues(&job(length_s), lang, clip_ms)));
                assert!(!got.is_empty());
                let mut last_end = 0;
                for (start, end, text) in &got {
                    assert!(
                        *start >= last_end && start < end && *end <= clip_ms,
                        "{length_s} s: {got:?}"
                    );
                    assert!(!text.trim().is_empty() && !text.contains("-->"));
                    last_end = *end;
                }
            }
        }
        let en = parse(&webvtt(&cues(&job(90), Lang::En, 90_000)));
        let es = parse(&webvtt(&cues(&job(90), Lang::Es, 90_000)));
        // One cue per 10 s, at most 8.
        assert_eq!(en.len(), 8, "{en:?}");
        assert_eq!(en.len(), es.len());
        assert_eq!(en[1].2, "The fog is coming in early tonight.");
        assert_eq!(es[1].2, "La niebla llega temprano esta noche.");
        assert_eq!(en[0].2, "♪ Harbour Lights theme ♪");
        assert_eq!(vtt_time(3_723_004), "01:02:03.004");
    }

    #[test]
    fn drawn_text_cannot_break_the_filtergraph() {
        assert_eq!(drawable("The Keeper's Log"), "The Keeper’s Log");
        assert_eq!(drawable("a:b,c;d[e]f=g%h\\i'"), "abcdefghi’");
        assert_eq!(drawable("Zero-G Soufflé"), "Zero-G Soufflé");
    }

    #[test]
    fn every_sample_episode_gets_a_clip_of_one_to_three_minutes() {
        let ids: HashMap<i64, i64> = sample_series()
            .iter()
            .flat_map(|s| s.seasons.iter().flat_map(|x| x.episodes.iter()))
            .map(|e| (e.external_id, e.external_id))
            .collect();
        let jobs = plan(&ids, &Options::default()).unwrap();
        assert_eq!(jobs.len(), 15);
        assert!(jobs.iter().all(|j| (60..=180).contains(&j.length_s)));
        let lengths: std::collections::HashSet<u32> = jobs.iter().map(|j| j.length_s).collect();
        assert!(lengths.len() >= 3, "{lengths:?}");
        assert!(jobs
            .iter()
            .any(|j| j.rel == "sample/Harbour Lights/S02E03.mp4"));
        let shorts = plan(
            &ids,
            &Options {
                series: Some(FIRST_SERVE_SERIES.into()),
                ..Options::default()
            },
        )
        .unwrap();
        assert_eq!(shorts.len(), 3);
        assert!(shorts.iter().all(|j| j.length_s == 60));
        // Stamps differ by length and episode.
        assert_ne!(shorts[0].stamp(), shorts[1].stamp());
        assert_ne!(job(2).stamp(), job(3).stamp());
        assert!(matches!(
            plan(
                &ids,
                &Options {
                    series: Some("Nope".into()),
                    ..Options::default()
                }
            ),
            Err(DemoMediaError::UnknownSeries(_))
        ));
    }
}
