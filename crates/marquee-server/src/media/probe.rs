//! Reading media files with `ffprobe`: duration, container, codecs,
//! resolution, audio and subtitle tracks (parsed by
//! [`marquee_media::probe`]), stored per file in `media_probes` and read
//! again only when a file's size or modification time changes.
//!
//! Runs after `marquee import catalog` (whose report lists the files it
//! could not read) and in the server's probe worker, which the workers
//! start and an import or a newly set file wakes. A title whose metadata
//! has no runtime takes the media's.

use crate::import::Progress;
use marquee_domain::Millis;
use marquee_media::probe::{parse_ffprobe, MediaInfo, FFPROBE_ARGS};
use marquee_store::library::{MediaLocation, MediaProbeRow};
use marquee_store::{Store, StoreError};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Command;

/// Files probed at once.
const CONCURRENCY: usize = 4;
/// How long one `ffprobe` may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What a probe pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeReport {
    /// Files read now.
    pub probed: u64,
    /// Files read before and unchanged since.
    pub unchanged: u64,
    /// Files that are not there (any more).
    pub missing: u64,
    /// Titles whose runtime now comes from their media.
    pub runtimes_set: u64,
    /// Files ffprobe could not read, and why (path, reason).
    pub failed: Vec<(String, String)>,
}

/// Where a media location is on disk: a plain relative path inside its
/// library folder (scanned) or the media directory (admin-set), existing.
pub fn resolve(media_dir: &Path, loc: &MediaLocation) -> Option<PathBuf> {
    let root = loc
        .library
        .as_deref()
        .map_or_else(|| media_dir.to_path_buf(), PathBuf::from);
    crate::playback::inside_folder(&root, &loc.location)
}

/// A file's size and modification time (Unix ms).
fn stamp(path: &Path) -> Option<(i64, i64)> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Some((i64::try_from(meta.len()).unwrap_or(i64::MAX), modified))
}

/// Runs ffprobe on one file: its parsed reading and raw JSON, or why not.
pub async fn run_ffprobe(ffprobe: &str, path: &Path) -> Result<(MediaInfo, String), String> {
    let run = Command::new(ffprobe)
        .args(FFPROBE_ARGS)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(TIMEOUT, run).await {
        Err(_) => return Err("ffprobe took longer than 30 s".into()),
        Ok(Err(e)) => return Err(format!("ffprobe could not be run: {e}")),
        Ok(Ok(out)) => out,
    };
    if !out.status.success() {
        return Err(format!(
            "not a media file ffprobe can read: {}",
            super::tools::last_line(&out.stderr)
        ));
    }
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    let info = parse_ffprobe(&json).map_err(|e| e.to_string())?;
    Ok((info, json))
}

/// Probes every media file that has not been read since it last changed.
pub async fn probe_pending(
    store: &dyn Store,
    media_dir: &Path,
    ffprobe: &str,
    now: Millis,
    progress: &mut dyn Progress,
) -> Result<ProbeReport, StoreError> {
    let mut report = ProbeReport::default();
    // (title, path, size, modified) of each file that is there.
    let mut files: Vec<(i64, String, i64, i64)> = Vec::new();
    for loc in store.media_locations().await? {
        match resolve(media_dir, &loc).and_then(|p| stamp(&p).map(|s| (p, s))) {
            Some((path, (size, modified))) => files.push((
                loc.title_id,
                path.to_string_lossy().into_owned(),
                size,
                modified,
            )),
            None => report.missing += 1,
        }
    }
    let paths: Vec<String> = files.iter().map(|f| f.1.clone()).collect();
    let known = store.media_probes(&paths).await?;
    let todo: Vec<(i64, String, i64, i64)> = files
        .into_iter()
        .filter(|(_, path, size, modified)| {
            let fresh = known
                .iter()
                .any(|k| &k.path == path && k.size_bytes == *size && k.modified_ms == *modified);
            if fresh {
                report.unchanged += 1;
            }
            !fresh
        })
        .collect();
    if todo.is_empty() {
        return Ok(report);
    }
    progress.phase("probing media files", todo.len() as u64);
    for chunk in todo.chunks(CONCURRENCY) {
        let runs = chunk
            .iter()
            .map(|(_, path, _, _)| run_ffprobe(ffprobe, Path::new(path)));
        let results = futures_util::future::join_all(runs).await;
        for ((title_id, path, size, modified), result) in chunk.iter().zip(results) {
            let row = match result {
                Ok((info, json)) => {
                    let secs = (info.duration_ms + 999) / 1000;
                    if store.set_runtime_if_missing(*title_id, secs).await? {
                        report.runtimes_set += 1;
                    }
                    MediaProbeRow {
                        path: path.clone(),
                        size_bytes: *size,
                        modified_ms: *modified,
                        probe: Some(json),
                        error: None,
                        duration_ms: Some(info.duration_ms),
                        probed_at: now,
                    }
                }
                Err(reason) => {
                    tracing::warn!(file = %path, %reason, "media file could not be read");
                    report.failed.push((path.clone(), reason.clone()));
                    MediaProbeRow {
                        path: path.clone(),
                        size_bytes: *size,
                        modified_ms: *modified,
                        probe: None,
                        error: Some(reason),
                        duration_ms: None,
                        probed_at: now,
                    }
                }
            };
            store.save_media_probe(&row).await?;
            report.probed += 1;
            progress.advance(1);
        }
    }
    progress.finish();
    Ok(report)
}
