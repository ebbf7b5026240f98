//! The accurate sentiment tier: a transformer encoder (crate
//! `marquee-encoder`) and the classification head trained on its
//! embeddings (or several heads trained with other seeds, whose
//! probabilities are averaged: `train sentiment --members`). The fast
//! model labels every post at ingest; the posts it is unsure about
//! (`[listening] encoder_below`) are queued in the store, and [`run`]
//! relabels them in background batches, newest first. Staff corrections
//! are never overwritten.
//!
//! Nothing here is required: without `[listening] encoder`, or with a
//! checkpoint or head that does not load, the fast tier goes on alone and
//! the dashboard says why.

use crate::AppState;
use marquee_domain::listening::Sentiment;
use marquee_encoder::{Encoder, Ensemble};
use marquee_sentiment::Model;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A loaded encoder and its head (or heads, averaged).
#[derive(Debug)]
pub struct AccurateTier {
    encoder: Encoder,
    head: Ensemble,
}

/// What the accurate tier is doing, for the dashboard and the log.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum TierStatus {
    /// `[listening] encoder` is not set.
    #[default]
    Off,
    /// Being loaded.
    Loading,
    /// Serving.
    Serving {
        /// The checkpoint directory.
        encoder: String,
        /// `bert`, `roberta`, ….
        model_type: String,
        /// How many of the encoder's last layers the head fine-tuned (0:
        /// the head alone was trained).
        tuned_layers: usize,
        /// How many layers the encoder has in all.
        layers: usize,
        /// How many trained heads the head file holds (their
        /// probabilities are averaged; 1 for a single head).
        heads: usize,
        /// The head file.
        head: String,
        /// sha256 of the head file.
        head_sha256: String,
    },
    /// Configured but not loaded; the fast tier labels every post.
    Failed {
        /// What is wrong, naming the file.
        error: String,
    },
}

impl AccurateTier {
    /// Loads the checkpoint in `dir` and the head in `head_path`. Errors
    /// name the file at fault.
    pub fn load(dir: &Path, head_path: &Path) -> anyhow::Result<(AccurateTier, String)> {
        use anyhow::Context;
        if !dir.is_dir() {
            anyhow::bail!(
                "encoder directory {} does not exist or is not a directory",
                dir.display()
            );
        }
        let head_bytes = std::fs::read(head_path).with_context(|| {
            format!(
                "encoder head {}: cannot read it (train one with `marquee train sentiment --encoder {}`)",
                head_path.display(),
                dir.display()
            )
        })?;
        let head = Ensemble::from_bytes(&head_bytes)
            .with_context(|| format!("encoder head {}", head_path.display()))?;
        let encoder = Encoder::load_with(|f| std::fs::read(dir.join(f)))
            .with_context(|| format!("encoder {}", dir.display()))?;
        head.check_encoder(&encoder).with_context(|| {
            format!(
                "encoder head {} was not trained on {}",
                head_path.display(),
                dir.display()
            )
        })?;
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(&head_bytes));
        Ok((AccurateTier { encoder, head }, sha))
    }

    /// How many of the encoder's last layers the head replaces with
    /// fine-tuned ones.
    pub fn tuned_layers(&self) -> usize {
        self.head.top_layers()
    }

    /// How many layers the encoder has in all.
    pub fn layers(&self) -> usize {
        self.encoder.num_layers()
    }

    /// How many trained heads are averaged (1 for a single head).
    pub fn heads(&self) -> usize {
        self.head.members().len()
    }

    /// The model family of the checkpoint.
    pub fn model_type(&self) -> &str {
        self.encoder.model_type()
    }

    /// Labels `texts`: `Ok` per text with its sentiment and score, or the
    /// error for a text the encoder could not run on. One failing text does
    /// not sink the batch. The head's probabilities weigh `mix`, the fast
    /// model's `1 − mix` (`[listening] encoder_mix`).
    pub fn label(
        &self,
        texts: &[String],
        fast: &Model,
        mix: f32,
    ) -> Vec<Result<(Sentiment, f32), String>> {
        match self.head.predict_texts(&self.encoder, texts) {
            Ok(preds) => preds
                .into_iter()
                .zip(texts)
                .map(|(p, t)| {
                    let p = if mix < 1.0 {
                        p.blend(&fast.predict(t), mix)
                    } else {
                        p
                    };
                    Ok((super::sentiment_of(p.label), p.score))
                })
                .collect(),
            // Retry one by one to find the text at fault.
            Err(_) if texts.len() > 1 => texts
                .iter()
                .flat_map(|t| self.label(std::slice::from_ref(t), fast, mix))
                .collect(),
            Err(e) => vec![Err(e.to_string())],
        }
    }
}

/// The head file the server serves: `[listening] encoder_head`, or
/// `<data_dir>/sentiment/encoder-head.bin`.
pub fn head_path(config: &crate::Config) -> PathBuf {
    config
        .listening
        .encoder_head
        .clone()
        .unwrap_or_else(|| config.data_dir.join("sentiment").join("encoder-head.bin"))
}

/// A file's modification time and length.
type Stamp = Option<(SystemTime, u64)>;

/// The stamps of the head and the checkpoint's files: a retrained head or
/// a repaired checkpoint shows up as a change.
fn stamps(dir: &Path, head: &Path) -> Vec<Stamp> {
    let mut v = vec![super::file_stamp(head)];
    for f in [
        marquee_encoder::CONFIG_FILE,
        marquee_encoder::TOKENIZER_FILE,
        marquee_encoder::WEIGHTS_FILE,
    ] {
        v.push(super::file_stamp(&dir.join(f)));
    }
    v
}

/// Loads the tier (again when the head file changes) and relabels queued
/// posts until the server stops. Started by [`super::start`] when
/// `[listening] encoder` is set.
pub async fn run(state: AppState) {
    let Some(dir) = state.config.listening.encoder.clone() else {
        return;
    };
    let head = head_path(&state.config);
    let check = Duration::from_millis(state.config.listening.model_check_ms.max(100));
    let batch = state.config.listening.encoder_batch.max(1) as u32;
    let mut loaded: Option<Vec<Stamp>> = None;
    loop {
        // (Re)load on start and whenever the head or the checkpoint changes.
        let now = stamps(&dir, &head);
        if loaded.as_ref() != Some(&now) {
            loaded = Some(now);
            load_into(&state, &dir, &head).await;
        }
        let Some(tier) = state.listening.accurate() else {
            tokio::time::sleep(check).await;
            continue;
        };
        let worked = match relabel_batch(&state, &tier, batch).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::warn!(error = %e, "accurate sentiment tier: batch failed");
                false
            }
        };
        if !worked {
            // Idle: wait for new unsure posts, or the next file check.
            let _ = tokio::time::timeout(check, state.listening.accurate_wake.notified()).await;
        }
    }
}

async fn load_into(state: &AppState, dir: &Path, head: &Path) {
    state.listening.set_accurate(None, TierStatus::Loading);
    let (d, h) = (dir.to_path_buf(), head.to_path_buf());
    let loaded = tokio::task::spawn_blocking(move || AccurateTier::load(&d, &h)).await;
    match loaded {
        Ok(Ok((tier, head_sha256))) => {
            let status = TierStatus::Serving {
                encoder: dir.display().to_string(),
                model_type: tier.model_type().to_string(),
                tuned_layers: tier.tuned_layers(),
                layers: tier.layers(),
                heads: tier.heads(),
                head: head.display().to_string(),
                head_sha256,
            };
            tracing::info!(encoder = %dir.display(), head = %head.display(), "accurate sentiment tier serving");
            state.listening.set_accurate(Some(Arc::new(tier)), status);
        }
        Ok(Err(e)) => {
            let error = format!("{e:#}");
            tracing::warn!(error = %error, "accurate sentiment tier not loaded; the fast tier labels every post");
            state
                .listening
                .set_accurate(None, TierStatus::Failed { error });
        }
        Err(e) => {
            let error = format!("loading the encoder failed: {e}");
            tracing::warn!(error = %error, "accurate sentiment tier not loaded");
            state
                .listening
                .set_accurate(None, TierStatus::Failed { error });
        }
    }
}

/// Relabels up to `limit` queued posts; returns how many were taken off
/// the queue.
async fn relabel_batch(
    state: &AppState,
    tier: &Arc<AccurateTier>,
    limit: u32,
) -> anyhow::Result<usize> {
    let queued = state.store.queued_for_encoder(limit).await?;
    if queued.is_empty() {
        return Ok(0);
    }
    let (ids, texts): (Vec<i64>, Vec<String>) = queued.into_iter().unzip();
    let t = tier.clone();
    let fast = state.listening.model();
    let mix = state.config.listening.encoder_mix;
    let started = std::time::Instant::now();
    let results = tokio::task::spawn_blocking(move || t.label(&texts, &fast, mix)).await?;
    let mut labels = Vec::with_capacity(ids.len());
    for (id, r) in ids.iter().zip(results) {
        match r {
            Ok((sentiment, score)) => labels.push((*id, sentiment, score)),
            Err(e) => {
                tracing::warn!(post = id, error = %e, "accurate tier could not label a post; it keeps the fast label")
            }
        }
    }
    let moved = state.store.finish_encoder_batch(&labels, &ids).await?;
    state
        .metrics
        .sentiment_encoder_batch(ids.len(), labels.len(), started.elapsed());
    if moved > 0 {
        super::emit(
            state,
            super::LiveEvent::Posts {
                inserted: 0,
                latest: state.clock.now_ms(),
            },
        );
    }
    Ok(ids.len())
}
