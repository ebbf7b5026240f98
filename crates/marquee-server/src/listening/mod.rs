//! Social listening: every public mention is classified (sentiment, topics,
//! brands, linked account), stored once per `(source, external_id)`, counted
//! by the backlash detector, and pushed live to the dashboard.
//!
//! - [`Listening`] holds the sentiment model, the compiled taxonomy, the
//!   detector and the live event channel; it lives in [`AppState`].
//! - [`ingest`] is the one write path, shared by `POST /api/v1/posts` and the
//!   connectors: classify → one transaction → detector → alerts → live event.
//! - [`start`] runs the background tasks of `marquee serve`: the webhook
//!   deliverer and the configured connectors.

use crate::auth::{self, CurrentUser};
use crate::error::AppError;
use crate::events::Feed;
use crate::AppState;
use marquee_domain::listening::{
    Alert, AlertStatus, IngestToken, NewAlert, NewPost, Post, Sentiment, SentimentCorrection,
};
use marquee_domain::textmatch::{self, TextMatch};
use marquee_domain::Millis;
use marquee_sentiment::{Label, Model};
use marquee_store::listening::{Bucket, PostOrder, PostQuery};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, Notify};
use utoipa::{IntoParams, ToSchema};

pub mod accurate;
pub mod classify;
pub mod config;
pub mod detect;
pub mod jetstream;
pub mod mastodon;
pub mod parse;
pub mod webhook;

use classify::Matcher;
use config::ListeningConfig;
use detect::{Detector, Firing};

pub use crate::events::ListeningEvent as LiveEvent;

/// A post as it arrives, before classification.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPost {
    /// Source, e.g. `mastodon`.
    pub source: String,
    /// Id at the source.
    pub external_id: String,
    /// Author handle (normalised here).
    pub author: String,
    /// Plain text.
    pub text: String,
    /// Link.
    pub url: Option<String>,
    /// Language.
    pub lang: Option<String>,
    /// Post time, ms.
    pub created_at: Millis,
}

/// The listening engine of one server.
#[derive(Debug)]
pub struct Listening {
    /// The fast model and which one it is, swapped together.
    served: std::sync::RwLock<(Arc<Model>, ModelInfo)>,
    /// The accurate tier when it serves, and what it is doing.
    accurate: std::sync::RwLock<(Option<Arc<accurate::AccurateTier>>, accurate::TierStatus)>,
    /// Wakes the accurate tier when unsure posts are queued.
    pub accurate_wake: Notify,
    /// `[listening] encoder_below`.
    encoder_below: f32,
    topics: Matcher,
    brands: Matcher,
    detector: Mutex<Detector>,
    warmed: AtomicBool,
    warm_lock: tokio::sync::Mutex<()>,
    /// Live events for the dashboard (SSE).
    pub events: broadcast::Sender<LiveEvent>,
    /// Wakes the webhook deliverer.
    pub webhook_wake: Notify,
    /// Proposals in consultation and what their posts match: each is a
    /// series of its own for the detector (`change:<id>`), so a backlash
    /// against one proposal raises an alert scoped to its posts.
    scopes: std::sync::RwLock<Vec<(i64, TextMatch)>>,
}

/// Which sentiment model is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// `built-in`, or the file it was loaded from.
    pub source: String,
    /// The model's fingerprint (sha256 of its bytes).
    pub fingerprint: String,
    /// The file's modification time and length when it was loaded (to see
    /// a retrained file), `None` for the built-in model.
    pub file_stamp: Option<(std::time::SystemTime, u64)>,
}

/// The detector series of a proposal's matching posts.
pub fn change_series(proposal_id: i64) -> String {
    format!("change:{proposal_id}")
}

impl Listening {
    /// Loads the embedded sentiment model and compiles the taxonomy.
    pub fn new(cfg: &ListeningConfig) -> anyhow::Result<Listening> {
        // The connectors' and webhooks' TLS: pick ring explicitly, since other
        // crates in the build may enable a second rustls provider. Ignored
        // when the process already chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let model = Model::default_model().map_err(|e| anyhow::anyhow!("sentiment model: {e}"))?;
        let info = ModelInfo {
            source: "built-in".into(),
            fingerprint: model.fingerprint(),
            file_stamp: None,
        };
        Ok(Listening {
            served: std::sync::RwLock::new((Arc::new(model), info)),
            accurate: std::sync::RwLock::new((None, accurate::TierStatus::Off)),
            accurate_wake: Notify::new(),
            encoder_below: cfg.encoder_below,
            topics: Matcher::new(&cfg.topics),
            brands: Matcher::new(&cfg.brands),
            detector: Mutex::new(Detector::new(cfg.detector.clone())),
            warmed: AtomicBool::new(false),
            warm_lock: tokio::sync::Mutex::new(()),
            events: broadcast::channel(256).0,
            webhook_wake: Notify::new(),
            scopes: std::sync::RwLock::new(Vec::new()),
        })
    }

    /// The topic names, in taxonomy order.
    pub fn topic_names(&self) -> &[String] {
        self.topics.names()
    }

    /// Replaces the proposals whose matching posts are a detector series.
    pub fn set_scopes(&self, scopes: Vec<(i64, TextMatch)>) {
        if let Ok(mut s) = self.scopes.write() {
            *s = scopes;
        }
    }

    /// The detector series a post counts in: its topics, and each
    /// proposal whose text it matches (`NewPost::proposals`).
    fn series_of(&self, p: &NewPost) -> Vec<String> {
        let mut series = p.topics.clone();
        series.extend(p.proposals.iter().map(|id| change_series(*id)));
        series
    }

    /// The proposals (of [`set_scopes`](Self::set_scopes)) whose text
    /// match `text` fits.
    fn proposals_of(&self, text: &str) -> Vec<i64> {
        self.scopes
            .read()
            .map(|scopes| {
                scopes
                    .iter()
                    .filter(|(_, m)| m.matches(text))
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What a proposal in consultation matches.
    pub fn scope(&self, proposal_id: i64) -> Option<TextMatch> {
        self.scopes.read().ok().and_then(|s| {
            s.iter()
                .find(|(id, _)| *id == proposal_id)
                .map(|(_, m)| m.clone())
        })
    }

    /// The sentiment model served now.
    pub fn model(&self) -> Arc<Model> {
        match self.served.read() {
            Ok(m) => m.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        }
    }

    /// Which model is served.
    pub fn model_info(&self) -> ModelInfo {
        match self.served.read() {
            Ok(m) => m.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    /// The accurate tier, when it serves.
    pub fn accurate(&self) -> Option<Arc<accurate::AccurateTier>> {
        match self.accurate.read() {
            Ok(a) => a.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        }
    }

    /// What the accurate tier is doing.
    pub fn accurate_status(&self) -> accurate::TierStatus {
        match self.accurate.read() {
            Ok(a) => a.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    /// Serves `tier` (or none) with `status`.
    pub fn set_accurate(
        &self,
        tier: Option<Arc<accurate::AccurateTier>>,
        status: accurate::TierStatus,
    ) {
        match self.accurate.write() {
            Ok(mut a) => *a = (tier, status),
            Err(poisoned) => *poisoned.into_inner() = (tier, status),
        }
    }

    /// Serves the model in `path` when the file changed since it was last
    /// looked at (a retrained model): `Ok(true)` when a new model was
    /// swapped in, `Ok(false)` when the file is absent or unchanged. A file
    /// that does not load is an error and the served model stays.
    pub fn reload_model(&self, path: &std::path::Path) -> anyhow::Result<bool> {
        let Some(stamp) = file_stamp(path) else {
            return Ok(false);
        };
        let info = self.model_info();
        if info.file_stamp == Some(stamp) {
            return Ok(false);
        }
        let loaded = std::fs::read(path)
            .map_err(anyhow::Error::from)
            .and_then(|b| Model::from_bytes(&b).map_err(|e| anyhow::anyhow!("{e}")));
        let Ok(mut served) = self.served.write() else {
            return Err(anyhow::anyhow!("the served model's lock is poisoned"));
        };
        match loaded {
            Ok(model) => {
                let fingerprint = model.fingerprint();
                let changed = fingerprint != info.fingerprint;
                *served = (
                    Arc::new(model),
                    ModelInfo {
                        source: path.display().to_string(),
                        fingerprint,
                        file_stamp: Some(stamp),
                    },
                );
                Ok(changed)
            }
            Err(e) => {
                // Marked as seen: a bad file is reported once, not every check.
                served.1.file_stamp = Some(stamp);
                Err(anyhow::anyhow!(
                    "sentiment model {}: {e}; still serving the previous model",
                    path.display()
                ))
            }
        }
    }

    /// Classifies posts: sentiment with its explanation, topics, brands;
    /// and whether the fast model is unsure of each (its most probable
    /// class below `[listening] encoder_below`), so the accurate tier should
    /// look again.
    pub fn classify(&self, raws: Vec<RawPost>) -> (Vec<NewPost>, Vec<bool>) {
        let texts: Vec<&str> = raws.iter().map(|r| r.text.as_str()).collect();
        let preds = self.model().predict_batch(&texts);
        let unsure = preds
            .iter()
            .map(|p| p.confidence() < self.encoder_below)
            .collect();
        let posts = raws
            .into_iter()
            .zip(preds)
            .map(|(r, p)| {
                let w = classify::words(&r.text);
                NewPost {
                    proposals: self.proposals_of(&r.text),
                    author: classify::normalize_handle(&r.author).unwrap_or(r.author),
                    topics: self.topics.matches(&w),
                    brands: self.brands.matches(&w),
                    source: r.source,
                    external_id: r.external_id,
                    text: r.text,
                    url: r.url,
                    lang: r.lang,
                    created_at: r.created_at,
                    sentiment: sentiment_of(p.label),
                    score: p.score,
                    top_tokens: p
                        .top_tokens
                        .into_iter()
                        .map(|(t, v)| (t, (v * 1000.0).round() / 1000.0))
                        .collect(),
                }
            })
            .collect();
        (posts, unsure)
    }
}

/// The stored sentiment of a model's label (posts, and proposal comments
/// scored like posts).
pub fn sentiment_of(label: Label) -> Sentiment {
    match label {
        Label::Negative => Sentiment::Negative,
        Label::Neutral => Sentiment::Neutral,
        Label::Positive => Sentiment::Positive,
    }
}

/// What one ingest did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct IngestOutcome {
    /// Posts received.
    pub received: u64,
    /// New posts stored.
    pub inserted: u64,
    /// Posts already stored (same source and external id).
    pub duplicates: u64,
    /// Alerts this batch raised.
    pub alerts: Vec<i64>,
}

/// Replays recent history into the detector once per process, so a restart
/// keeps its baselines.
pub async fn warm_up(state: &AppState) -> Result<(), AppError> {
    let l = &state.listening;
    if l.warmed.load(Ordering::Acquire) {
        return Ok(());
    }
    let _guard = l.warm_lock.lock().await;
    if l.warmed.load(Ordering::Acquire) {
        return Ok(());
    }
    if let Some(latest) = state.store.latest_post_time().await? {
        let counts = state.store.minute_counts(latest - 2 * 86_400_000).await?;
        if let Ok(mut d) = l.detector.lock() {
            d.warm_up(
                counts
                    .into_iter()
                    .map(|c| (c.minute, c.topics, c.negative, c.total)),
            );
        }
    }
    l.warmed.store(true, Ordering::Release);
    Ok(())
}

/// Classifies and stores posts (one transaction, moving `cursor` with them),
/// then feeds the new ones to the detector and raises its alerts.
pub async fn ingest(
    state: &AppState,
    raws: Vec<RawPost>,
    cursor: Option<(&str, &str)>,
) -> Result<IngestOutcome, AppError> {
    warm_up(state).await?;
    let received = raws.len() as u64;
    let l = state.listening.clone();
    let (posts, unsure) = if raws.len() > 64 {
        tokio::task::spawn_blocking(move || l.classify(raws))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
    } else {
        l.classify(raws)
    };
    let now = state.clock.now_ms();
    let (counts, ids) = state.store.insert_posts(&posts, cursor, now).await?;
    // Queued while the accurate tier serves or is loading; not while it is
    // off or failed (nothing would ever take them off the queue).
    if state.config.listening.encoder.is_some()
        && !matches!(
            state.listening.accurate_status(),
            accurate::TierStatus::Failed { .. }
        )
    {
        let queue: Vec<i64> = ids
            .iter()
            .zip(&unsure)
            .filter_map(|(id, u)| id.filter(|_| *u))
            .collect();
        if !queue.is_empty() {
            state.store.queue_for_encoder(&queue, now).await?;
            state.listening.accurate_wake.notify_one();
        }
    }
    let mut firings = Vec::new();
    let mut latest = i64::MIN;
    if counts.inserted > 0 {
        let series: Vec<Vec<String>> = posts.iter().map(|p| state.listening.series_of(p)).collect();
        if let Ok(mut d) = state.listening.detector.lock() {
            for ((p, id), series) in posts.iter().zip(&ids).zip(&series) {
                if id.is_some() {
                    latest = latest.max(p.created_at);
                    firings.extend(d.observe(
                        p.created_at,
                        series,
                        p.sentiment == Sentiment::Negative,
                    ));
                }
            }
        }

        emit(
            state,
            LiveEvent::Posts {
                inserted: counts.inserted,
                latest,
            },
        );
    }
    let mut alerts = Vec::new();
    for f in firings {
        alerts.push(raise_alert(state, f).await?.id);
    }
    Ok(IngestOutcome {
        received,
        inserted: counts.inserted,
        duplicates: counts.duplicates,
        alerts,
    })
}

/// Turns a firing into a stored alert with its driving terms and example
/// posts, queues its webhooks and announces it.
pub async fn raise_alert(state: &AppState, f: Firing) -> Result<Alert, AppError> {
    // A proposal's series is its matching posts, not a topic.
    let scope = f
        .series
        .strip_prefix("change:")
        .and_then(|id| id.parse::<i64>().ok())
        .and_then(|id| state.listening.scope(id));
    let topic = (f.series != "all" && scope.is_none()).then_some(f.series.as_str());
    let span = (f.window_end - f.window_start).max(3_600_000);
    let (fg, bg) = match &scope {
        Some(m) => (
            matching_texts(state, m, f.window_start, f.window_end, 2000).await?,
            state
                .store
                .post_texts(f.window_start - 6 * span, f.window_start, None, 4000)
                .await?,
        ),
        None => (
            state
                .store
                .post_texts(f.window_start, f.window_end, topic, 2000)
                .await?,
            state
                .store
                .post_texts(f.window_start - 6 * span, f.window_start, topic, 4000)
                .await?,
        ),
    };
    let fg: Vec<String> = fg
        .into_iter()
        .filter(|(_, s)| f.kind == "volume" || *s == Sentiment::Negative)
        .map(|(t, _)| t)
        .collect();
    let bg: Vec<String> = bg.into_iter().map(|(t, _)| t).collect();
    let min_df = (fg.len() / 20).clamp(2, 10);
    let terms = classify::distinctive_terms(&fg, &bg, 8, min_df);
    let examples = state
        .store
        .list_posts(&PostQuery {
            from: Some(f.window_start),
            to: Some(f.window_end),
            topic: topic.map(str::to_string),
            matching: scope.clone(),
            order: PostOrder::MostNegative,
            limit: 5,
            ..Default::default()
        })
        .await?;
    let new = NewAlert {
        series: f.series.clone(),
        kind: f.kind.to_string(),
        window: f.window.to_string(),
        window_start: f.window_start,
        window_end: f.window_end,
        observed: f.observed,
        expected: f.expected,
        z: f.z,
        posts: f.posts,
        terms,
        example_post_ids: examples.iter().map(|p| p.id).collect(),
    };
    let hooks: Vec<(String, String)> = state
        .config
        .listening
        .webhooks
        .iter()
        .map(|w| {
            (
                w.url.clone(),
                webhook::slack_body(&new, &examples, state.config.server.public_url.as_deref()),
            )
        })
        .collect();
    let alert = state
        .store
        .create_alert(&new, &hooks, state.clock.now_ms())
        .await?;
    tracing::warn!(id = alert.id, series = %alert.series, kind = %alert.kind, window = %alert.window, z = alert.z, "backlash alert");
    if !hooks.is_empty() {
        state.listening.webhook_wake.notify_one();
    }
    emit(
        state,
        LiveEvent::Alert {
            alert: Box::new(alert.clone()),
        },
    );
    Ok(alert)
}

/// The texts and sentiments of posts in `[from, to)` that match `m`, at
/// most `limit`, newest first.
pub async fn matching_texts(
    state: &AppState,
    m: &TextMatch,
    from: Millis,
    to: Millis,
    limit: u32,
) -> Result<Vec<(String, Sentiment)>, AppError> {
    Ok(state
        .store
        .list_posts(&PostQuery {
            from: Some(from),
            to: Some(to),
            matching: Some(m.clone()),
            order: PostOrder::Newest,
            limit,
            ..Default::default()
        })
        .await?
        .into_iter()
        .map(|p| (p.text, p.sentiment))
        .collect())
}

/// Sends a live event to this process's dashboards and the other processes'.
pub fn emit(state: &AppState, event: LiveEvent) {
    state.fanout.forward(|| Feed::Listening(event.clone()));
    let _ = state.listening.events.send(event);
}

/// Post listing parameters.
#[derive(Debug, Default, Clone, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PostsParams {
    /// Post time from (ms).
    pub from: Option<i64>,
    /// Post time to (ms, exclusive).
    pub to: Option<i64>,
    /// A topic.
    pub topic: Option<String>,
    /// A source.
    pub source: Option<String>,
    /// negative, neutral or positive.
    pub sentiment: Option<Sentiment>,
    /// Posts by handles this account linked.
    pub account_id: Option<i64>,
    /// Words the post must contain (each as a word prefix, case-insensitive).
    pub q: Option<String>,
    /// Only posts about this idea: naming one of its tags or two words of its title.
    pub idea: Option<i64>,
    /// newest (default), negative or positive.
    pub order: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<u32>,
    /// Default 0.
    pub offset: Option<u32>,
}

impl PostsParams {
    /// The store query, with `idea` turned into the idea's text match (404 for an
    /// unknown idea).
    pub async fn resolve(
        &self,
        state: &AppState,
        default_limit: u32,
    ) -> Result<PostQuery, AppError> {
        let mut q = self.query(default_limit)?;
        if let Some(id) = self.idea {
            let about = crate::voice::idea_match(state, id).await?;
            q.matching = Some(match &q.matching {
                Some(words) => about.and(words),
                None => about,
            });
        }
        Ok(q)
    }

    /// The store query these parameters mean.
    pub fn query(&self, default_limit: u32) -> Result<PostQuery, AppError> {
        let order = match self.order.as_deref() {
            None | Some("") | Some("newest") => PostOrder::Newest,
            Some("negative") => PostOrder::MostNegative,
            Some("positive") => PostOrder::MostPositive,
            Some(o) => {
                return Err(AppError::invalid(
                    "order",
                    format!("unknown order {o:?}: use newest, negative or positive"),
                ))
            }
        };
        if let (Some(f), Some(t)) = (self.from, self.to) {
            if f >= t {
                return Err(AppError::invalid("from", "must be before to"));
            }
        }
        Ok(PostQuery {
            from: self.from,
            to: self.to,
            topic: self.topic.clone().filter(|t| !t.is_empty() && t != "all"),
            source: self.source.clone().filter(|s| !s.is_empty()),
            sentiment: self.sentiment,
            account_id: self.account_id,
            matching: self.q.as_deref().and_then(textmatch::all_words),
            order,
            limit: crate::service::check_limit(self.limit, default_limit, 200)?,
            offset: self.offset.unwrap_or(0).min(1_000_000),
        })
    }
}

/// Changes an alert's status and tells the dashboards.
pub async fn set_status(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    status: AlertStatus,
) -> Result<Alert, AppError> {
    let a = state
        .store
        .set_alert_status(id, status, user.account.id, state.clock.now_ms())
        .await?;
    emit(
        state,
        LiveEvent::Alert {
            alert: Box::new(a.clone()),
        },
    );
    Ok(a)
}

/// A staff member corrects post `post_id`'s sentiment: the post shows the
/// staff label from now on (no model overwrites it), the charts and the
/// proposals' figures move with it, and the correction is kept as training
/// data for `marquee train sentiment`. The dashboards are told.
pub async fn correct(
    state: &AppState,
    user: &CurrentUser,
    post_id: i64,
    sentiment: Sentiment,
) -> Result<Post, AppError> {
    let post = state
        .store
        .correct_sentiment(post_id, sentiment, user.account.id, state.clock.now_ms())
        .await?;
    tracing::info!(
        post = post_id,
        sentiment = sentiment.as_str(),
        by = user.account.id,
        "post sentiment corrected"
    );
    emit(
        state,
        LiveEvent::Posts {
            inserted: 0,
            latest: post.created_at,
        },
    );
    Ok(post)
}

/// Posts waiting for the accurate tier.
pub async fn accurate_queue(state: &AppState) -> Result<i64, AppError> {
    Ok(state.store.encoder_queue_len().await?)
}

/// The corrections of one post, newest first.
pub async fn corrections_of(
    state: &AppState,
    post_id: i64,
) -> Result<Vec<SentimentCorrection>, AppError> {
    Ok(state.store.post_corrections(post_id).await?)
}

/// A new token: the secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewTokenResponse {
    /// The token record.
    #[serde(flatten)]
    pub info: IngestToken,
    /// The secret (256 random bits); only its sha256 is stored.
    pub token: String,
}

/// Creates an ingest token (admin).
pub async fn new_token(
    state: &AppState,
    user: &CurrentUser,
    name: &str,
) -> Result<NewTokenResponse, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AppError::invalid("name", "must be 1 to 80 characters"));
    }
    let token = auth::random_token();
    let info = state
        .store
        .create_ingest_token(
            name,
            &auth::token_hash(&token),
            Some(user.account.id),
            state.clock.now_ms(),
        )
        .await?;
    Ok(NewTokenResponse { info, token })
}

/// Links a handle; returns 409 when another account has it.
pub async fn link(state: &AppState, user: &CurrentUser, handle: &str) -> Result<String, AppError> {
    let h = classify::normalize_handle(handle).ok_or_else(|| {
        AppError::invalid(
            "handle",
            "must look like @user@host, name.bsky.social or did:plc:…",
        )
    })?;
    state
        .store
        .link_handle(user.account.id, &h, state.clock.now_ms())
        .await?;
    Ok(h)
}

/// The example posts of an alert.
pub async fn alert_examples(state: &AppState, alert: &Alert) -> Result<Vec<Post>, AppError> {
    Ok(state.store.posts_by_id(&alert.example_post_ids).await?)
}

/// An alert's series around its window, for the chart of its spike:
/// buckets as long as the window, 24 of them before it and up to 4 after
/// (as far as posts have arrived). Returns the first bucket's start, the
/// bucket length and the buckets (empty ones left out).
pub async fn alert_history(
    state: &AppState,
    alert: &Alert,
) -> Result<(Millis, i64, usize, Vec<Bucket>), AppError> {
    let bucket = (alert.window_end - alert.window_start).max(60_000);
    let from = alert.window_start - 24 * bucket;
    let latest = state
        .store
        .latest_post_time()
        .await?
        .unwrap_or(alert.window_end);
    let after = ((latest + 1 - alert.window_end).max(0) + bucket - 1) / bucket;
    let n = 25 + after.clamp(0, 4) as usize;
    let to = from + n as i64 * bucket;
    let (topic, matching) = match alert.series.strip_prefix("change:") {
        Some(id) => (
            None,
            id.parse().ok().and_then(|id| state.listening.scope(id)),
        ),
        None => (
            (alert.series != "all").then_some(alert.series.as_str()),
            None,
        ),
    };
    let buckets = state
        .store
        .post_series(from, to, bucket, topic, None, matching.as_ref())
        .await?;
    Ok((from, bucket, n, buckets))
}

/// Background tasks; aborted when dropped.
#[derive(Debug, Default)]
pub struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// A file's modification time and length, to notice a rewritten model
/// file; `None` when it is absent.
pub(crate) fn file_stamp(path: &std::path::Path) -> Option<(std::time::SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().unwrap_or(std::time::UNIX_EPOCH), m.len()))
}

/// The sentiment model file the server serves and watches:
/// `[listening] model`, or `<data_dir>/sentiment/model.bin`.
pub fn model_path(config: &crate::Config) -> std::path::PathBuf {
    config
        .listening
        .model
        .clone()
        .unwrap_or_else(|| config.data_dir.join("sentiment").join("model.bin"))
}

/// Swaps in a retrained sentiment model when its file changes.
async fn watch_model(state: AppState) {
    let path = model_path(&state.config);
    let every = std::time::Duration::from_millis(state.config.listening.model_check_ms.max(100));
    loop {
        tokio::time::sleep(every).await;
        let (l, p) = (state.listening.clone(), path.clone());
        match tokio::task::spawn_blocking(move || l.reload_model(&p)).await {
            Ok(Ok(true)) => tracing::info!(
                model = %state.listening.model_info().fingerprint,
                path = %path.display(),
                "retrained sentiment model loaded"
            ),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "sentiment model not loaded"),
            Err(e) => tracing::warn!(error = %e, "sentiment model check failed"),
        }
    }
}

/// Starts the webhook deliverer, the model watcher and every configured
/// connector.
pub fn start(state: &AppState) -> Tasks {
    let mut tasks = vec![
        tokio::spawn(webhook::run(state.clone())),
        tokio::spawn(watch_model(state.clone())),
    ];
    if state.config.listening.encoder.is_some() {
        tasks.push(tokio::spawn(accurate::run(state.clone())));
    }
    for (i, m) in state.config.listening.mastodon.iter().enumerate() {
        tasks.push(tokio::spawn(mastodon::run(state.clone(), m.clone(), i)));
    }
    for (i, j) in state.config.listening.jetstream.iter().enumerate() {
        tasks.push(tokio::spawn(jetstream::run(state.clone(), j.clone(), i)));
    }
    Tasks(tasks)
}

/// Exponential back-off with full jitter: up to `base · 2^attempt`, capped.
pub fn backoff_ms(base_ms: u64, attempt: u32, cap_ms: u64) -> u64 {
    use rand::Rng;
    let ceiling = base_ms
        .saturating_mul(1u64 << attempt.min(20))
        .min(cap_ms)
        .max(1);
    rand::thread_rng().gen_range(ceiling / 2..=ceiling)
}
