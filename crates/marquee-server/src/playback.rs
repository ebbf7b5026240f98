//! Playback: configuration and the group-commit writer for progress reports.
//!
//! Every progress report and stop goes through [`Ingest`]: a single writer task
//! takes whatever reports are waiting (up to `ingest_max_batch`), applies them
//! in one SQLite transaction, and only then answers each request. A report is
//! acknowledged (2xx) only after the transaction holding it has committed
//! (WAL, `synchronous=NORMAL`: durable against a process crash), so no
//! acknowledged position is ever lost; under load one fsync-free commit covers
//! many requests. Then the live event goes to the profile's other devices.

use crate::error::AppError;
use crate::events::{EventBus, PlaybackEvent};
use marquee_domain::playback::ResumeRules;
use marquee_store::playback::{ProgressAck, ProgressInput, ProgressRefused};
use marquee_store::{Store, StoreError};
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
        if self.ingest_max_batch == 0 || self.ingest_max_batch > 5000 {
            return Err("playback.ingest_max_batch must be 1 to 5000".into());
        }
        Ok(())
    }

    /// The stream timeout, ms.
    pub fn stream_timeout_ms(&self) -> i64 {
        i64::try_from(self.stream_timeout_s.saturating_mul(1000)).unwrap_or(i64::MAX)
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

fn store_error(e: &StoreError) -> AppError {
    match e {
        StoreError::Unavailable(m) => AppError::Unavailable(m.clone()),
        StoreError::Full(m) => AppError::InsufficientStorage(m.clone()),
        StoreError::NotFound { what } => AppError::NotFound(format!("{what} not found")),
        other => AppError::Internal(other.to_string()),
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
                            });
                        }
                    }
                    let _ = job.reply.send(Ok(r));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, batch = jobs.len(), "progress batch failed");
                for job in jobs.drain(..) {
                    let _ = job.reply.send(Err(store_error(&e)));
                }
            }
        }
    }
}
