//! Serving recommendations: the catalog snapshot, the trained models (swapped in
//! atomically while requests keep being served), the training job, the
//! impression/click log writer, and the home page generator ([`page`]).
//!
//! Models score from the profile's *current* signals, read at request time, so a
//! thumb or a hide shows on the next page load without retraining.

pub mod cache;
pub mod config;
pub mod experiments;
pub mod metrics;
pub mod page;
pub mod serve;

use crate::AppState;
use marquee_recs::experiment::{parse_request, Request};
use marquee_recs::sparse::Csr;
use marquee_recs::{ItemIndex, Recommender};
use marquee_store::home::{CatalogTitle, Click, Impression, TrainingRun};
use marquee_store::Store;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub use config::RecsConfig;

/// What can go wrong while training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] marquee_store::StoreError),
    /// The engine refused.
    #[error("model: {0}")]
    Recs(#[from] marquee_recs::RecsError),
    /// The model file could not be written or read.
    #[error("model file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The specification asks for tuning; serving needs fixed parameters.
    #[error("model {0:?} needs fixed parameters (e.g. ease:lambda=400); tuning is for `marquee eval recs`")]
    NotFixed(String),
    /// The training task died.
    #[error("training task: {0}")]
    Join(String),
}

/// One catalog title as the page generator needs it.
#[derive(Debug, Clone)]
pub struct CatItem {
    /// Title id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Year.
    pub year: Option<i32>,
    /// Genre indexes into [`Catalog::genres`].
    pub genres: Vec<u16>,
    /// Shown to kids profiles.
    pub kids_ok: bool,
    /// Added, ms.
    pub created_at: i64,
    /// The card poster and its larger rendition, as page URLs.
    pub poster: Option<std::sync::Arc<crate::library::art::CardArt>>,
}

/// The served catalog with its precomputed orders (by id, popularity, newness,
/// Trending and Top 10).
#[derive(Debug, Default)]
pub struct Catalog {
    /// Items, by ascending id.
    pub items: Vec<CatItem>,
    pos: HashMap<i64, u32>,
    /// Genre names.
    pub genres: Vec<String>,
    /// Popularity (viewers) per item.
    pub pop: Vec<f32>,
    /// Item positions, most popular first.
    pub pop_order: Vec<u32>,
    /// Item positions, newest first.
    pub new_order: Vec<u32>,
    /// Time-decayed recent views, best first.
    pub trending: Vec<(u32, f32)>,
    /// Most viewed over the Top 10 window, best first (more than 10, so that
    /// filtering still leaves ten).
    pub top: Vec<(u32, f32)>,
    /// Total popularity per genre.
    pub genre_pop: Vec<f32>,
    /// Genres, tags and people per item: "more like this" for titles the
    /// model does not know yet.
    pub content: marquee_recs::content::ContentIndex,
}

impl Catalog {
    /// Builds the catalog from stored titles and recent views.
    pub fn build(
        titles: Vec<CatalogTitle>,
        views: &[(i64, i64)],
        anchor: i64,
        cfg: &RecsConfig,
    ) -> Catalog {
        let mut genres: Vec<String> = Vec::new();
        let mut gidx: HashMap<String, u16> = HashMap::new();
        let mut items = Vec::with_capacity(titles.len());
        let mut pop = Vec::with_capacity(titles.len());
        let mut features: HashMap<i64, (Vec<String>, Vec<String>)> = HashMap::new();
        for mut t in titles {
            features.insert(
                t.id,
                (std::mem::take(&mut t.tags), std::mem::take(&mut t.people)),
            );
            let mut gs = Vec::with_capacity(t.genres.len());
            for g in &t.genres {
                let k = match gidx.get(g) {
                    Some(&k) => k,
                    None => {
                        let k = genres.len() as u16;
                        genres.push(g.clone());
                        gidx.insert(g.clone(), k);
                        k
                    }
                };
                gs.push(k);
            }
            // The maturity policy for a kids profile (unrated titles by genre).
            let kids_ok = marquee_domain::maturity::visible(
                marquee_domain::maturity::Limit::KIDS,
                t.maturity_age.map(|a| u8::try_from(a).unwrap_or(u8::MAX)),
                marquee_domain::maturity::kids_by_genre(
                    &t.genres,
                    &cfg.kids_genres,
                    &cfg.kids_excluded_genres,
                ),
            );
            let poster = t.poster.as_ref().map(|(card, detail)| {
                std::sync::Arc::new(crate::library::art::CardArt::new(card, detail.as_deref()))
            });
            pop.push(t.plays as f32);
            items.push(CatItem {
                id: t.id,
                name: t.name,
                year: t.year,
                genres: gs,
                kids_ok,
                created_at: t.created_at,
                poster,
            });
        }
        items.sort_by_key(|i| i.id);
        let pos: HashMap<i64, u32> = items
            .iter()
            .enumerate()
            .map(|(k, i)| (i.id, k as u32))
            .collect();
        // `pop` was pushed in input order; titles come sorted by id from the store,
        // but re-derive it in item order to be safe.
        let pop_by_id: HashMap<i64, f32> = items
            .iter()
            .zip(pop.iter())
            .map(|(i, p)| (i.id, *p))
            .collect();
        let pop: Vec<f32> = items
            .iter()
            .map(|i| pop_by_id.get(&i.id).copied().unwrap_or(0.0))
            .collect();
        let n = items.len() as u32;
        let mut pop_order: Vec<u32> = (0..n).collect();
        pop_order.sort_by(|&a, &b| pop[b as usize].total_cmp(&pop[a as usize]).then(a.cmp(&b)));
        let mut new_order: Vec<u32> = (0..n).collect();
        new_order.sort_by(|&a, &b| {
            let (x, y) = (&items[a as usize], &items[b as usize]);
            y.created_at
                .cmp(&x.created_at)
                .then(y.year.cmp(&x.year))
                .then(y.id.cmp(&x.id))
        });
        let day = 86_400_000f64;
        let half = (cfg.trending_half_life_h.max(0.01)) * 3_600_000.0;
        let trend_from = anchor - i64::from(cfg.trending_days) * 86_400_000;
        let top_from = anchor - i64::from(cfg.top10_days) * 86_400_000;
        let mut trend = vec![0f32; items.len()];
        let mut top = vec![0f32; items.len()];
        for &(title, at) in views {
            let Some(&p) = pos.get(&title) else { continue };
            if at > anchor {
                continue;
            }
            if at >= trend_from {
                let age = (anchor - at) as f64;
                trend[p as usize] += 2f64.powf(-age / half) as f32;
            }
            if at >= top_from {
                top[p as usize] += 1.0;
            }
        }
        let _ = day;
        let rank = |v: &[f32], k: usize| {
            let mut r: Vec<(u32, f32)> = v
                .iter()
                .enumerate()
                .filter(|(_, s)| **s > 0.0)
                .map(|(i, s)| (i as u32, *s))
                .collect();
            r.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            r.truncate(k);
            r
        };
        let mut content = marquee_recs::content::ContentBuilder::default();
        for it in &items {
            use marquee_recs::content::FeatureKind;
            let (tags, people) = features.remove(&it.id).unwrap_or_default();
            content.add(
                it.genres
                    .iter()
                    .filter_map(|g| genres.get(*g as usize))
                    .map(|g| (FeatureKind::Genre, g.as_str()))
                    .chain(tags.iter().map(|t| (FeatureKind::Tag, t.as_str())))
                    .chain(people.iter().map(|p| (FeatureKind::Person, p.as_str()))),
            );
        }
        let content = content.build();
        let mut genre_pop = vec![0f32; genres.len()];
        for (i, it) in items.iter().enumerate() {
            for &g in &it.genres {
                genre_pop[g as usize] += pop[i];
            }
        }
        Catalog {
            content,
            trending: rank(&trend, 200),
            top: rank(&top, 200),
            items,
            pos,
            genres,
            pop,
            pop_order,
            new_order,
            genre_pop,
        }
    }

    /// Position of a title id.
    pub fn pos(&self, id: i64) -> Option<u32> {
        self.pos.get(&id).copied()
    }

    /// Number of titles.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Index of a genre name.
    pub fn genre(&self, name: &str) -> Option<u16> {
        self.genres
            .iter()
            .position(|g| g.eq_ignore_ascii_case(name))
            .map(|k| k as u16)
    }
}

/// A trained model bound to the current catalog.
#[derive(Debug)]
pub struct Served {
    /// The specification it was trained from.
    pub spec: String,
    /// The engine's short name.
    pub name: String,
    /// The model and its item index.
    pub rec: Arc<Recommender>,
    /// When it was trained (the model file's time), ms.
    pub trained_at: i64,
    /// Catalog position → model dense id (`u32::MAX`: unknown to the model).
    pub c2m: Vec<u32>,
    /// Model dense id → catalog position (`u32::MAX`: not in the catalog).
    pub m2c: Vec<u32>,
}

impl Served {
    fn bind(spec: String, rec: Arc<Recommender>, trained_at: i64, cat: &Catalog) -> Served {
        let c2m = cat
            .items
            .iter()
            .map(|i| rec.index.dense(i.id).unwrap_or(u32::MAX))
            .collect();
        let m2c = rec
            .index
            .externals()
            .iter()
            .map(|&e| cat.pos(e).unwrap_or(u32::MAX))
            .collect();
        Served {
            name: rec.model.name(),
            spec,
            rec,
            trained_at,
            c2m,
            m2c,
        }
    }
}

/// What requests read: one catalog and the models bound to it. Replaced whole.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The catalog.
    pub cat: Arc<Catalog>,
    /// Models by specification.
    pub models: HashMap<String, Arc<Served>>,
    /// The configured model's specification.
    pub primary: String,
    /// Bumped at every swap.
    pub generation: u64,
    /// The catalog was loaded at least once.
    pub loaded: bool,
}

impl Snapshot {
    /// The configured model, once trained.
    pub fn primary(&self) -> Option<&Arc<Served>> {
        self.models.get(&self.primary)
    }
}

/// The training job's progress, for the staff page.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct TrainProgress {
    /// A training is running.
    pub running: bool,
    /// What it trains.
    pub spec: Option<String>,
    /// Why it runs: startup, schedule, staff.
    pub trigger: Option<String>,
    /// Phase: loading, fitting, saving.
    pub phase: Option<String>,
    /// Fitting step done.
    pub step: usize,
    /// Fitting steps in all.
    pub total: usize,
    /// Started, ms.
    pub started_at: Option<i64>,
    /// The last error, if the last run failed.
    pub last_error: Option<String>,
}

/// The recommender's shared state (one per server).
#[derive(Debug)]
pub struct Recs {
    cfg: RecsConfig,
    dir: PathBuf,
    snap: RwLock<Arc<Snapshot>>,
    progress: Mutex<TrainProgress>,
    generation: AtomicU64,
    ready_tx: tokio::sync::watch::Sender<u64>,
    started: AtomicBool,
    wake: tokio::sync::Notify,
    train_lock: tokio::sync::Mutex<()>,
    experiments: RwLock<Arc<Vec<experiments::Experiment>>>,
    pending: Mutex<(Vec<Impression>, Vec<Click>)>,
    dropped: AtomicU64,
    experiments_generation: AtomicU64,
    /// Per-profile reads and pages (see [`cache`]).
    pub cache: cache::ProfileCache,
}

/// Impressions kept in memory at most before new ones are dropped (and counted).
const MAX_PENDING: usize = 100_000;

impl Recs {
    /// A recommender with no model yet (popularity is served until one is trained).
    pub fn new(cfg: RecsConfig, data_dir: &Path) -> Recs {
        let (ready_tx, _) = tokio::sync::watch::channel(0);
        Recs {
            snap: RwLock::new(Arc::new(Snapshot {
                primary: cfg.model.clone(),
                ..Default::default()
            })),
            cfg,
            dir: data_dir.join("recs"),
            progress: Mutex::new(TrainProgress::default()),
            generation: AtomicU64::new(0),
            ready_tx,
            started: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
            train_lock: tokio::sync::Mutex::new(()),
            experiments: RwLock::new(Arc::new(Vec::new())),
            pending: Mutex::new((Vec::new(), Vec::new())),
            dropped: AtomicU64::new(0),
            experiments_generation: AtomicU64::new(0),
            cache: cache::ProfileCache::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RecsConfig {
        &self.cfg
    }

    /// The current snapshot (cheap: one `Arc` clone).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snap.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn swap(&self, f: impl FnOnce(&Snapshot) -> Snapshot) {
        let mut guard = match self.snap.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut next = f(&guard);
        next.generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let g = next.generation;
        *guard = Arc::new(next);
        drop(guard);
        self.ready_tx.send_replace(g);
    }

    /// Running experiments.
    pub fn experiments(&self) -> Arc<Vec<experiments::Experiment>> {
        match self.experiments.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Reloads the running experiments from the store.
    pub async fn reload_experiments(
        &self,
        store: &dyn Store,
    ) -> Result<(), marquee_store::StoreError> {
        let list = experiments::load_running(store).await?;
        let mut g = match self.experiments.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = Arc::new(list);
        drop(g);
        // After the list: a page keyed by the old generation is rebuilt.
        self.experiments_generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Moves at every reload of the running experiments. Read it before
    /// [`Recs::experiments`].
    pub fn experiments_generation(&self) -> u64 {
        self.experiments_generation.load(Ordering::SeqCst)
    }

    /// The training progress.
    pub fn progress(&self) -> TrainProgress {
        match self.progress.lock() {
            Ok(p) => p.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_progress(&self, f: impl FnOnce(&mut TrainProgress)) {
        match self.progress.lock() {
            Ok(mut p) => f(&mut p),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// Watches the snapshot generation: it changes at every model or catalog swap.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.ready_tx.subscribe()
    }

    /// Waits until the configured model is served and no training is running.
    pub async fn wait_trained(&self) {
        let mut rx = self.subscribe();
        loop {
            if self.snapshot().primary().is_some() && !self.progress().running {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Asks the background job to retrain now.
    pub fn request_training(&self) {
        self.wake.notify_one();
    }

    /// Impressions and clicks waiting to be written.
    pub fn pending_events(&self) -> usize {
        match self.pending.lock() {
            Ok(p) => p.0.len() + p.1.len(),
            Err(_) => 0,
        }
    }

    /// Events dropped because the writer fell behind.
    pub fn dropped_events(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Queues an impression for the batch writer.
    pub fn log_impression(&self, i: Impression) {
        if let Ok(mut p) = self.pending.lock() {
            if p.0.len() < MAX_PENDING {
                p.0.push(i);
                return;
            }
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Queues a click for the batch writer.
    pub fn log_click(&self, c: Click) {
        if let Ok(mut p) = self.pending.lock() {
            if p.1.len() < MAX_PENDING {
                p.1.push(c);
                return;
            }
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes the queued events now.
    pub async fn flush(&self, store: &dyn Store) -> Result<(), marquee_store::StoreError> {
        let (imps, clicks) = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return Ok(()),
        };
        store.log_rec_events(&imps, &clicks).await
    }

    /// The model file of a specification.
    pub fn model_path(&self, spec: &str) -> PathBuf {
        model_path(&self.dir, spec)
    }
}

/// The file a specification's model is kept in, under `<data_dir>/recs/`.
pub fn model_path(dir: &Path, spec: &str) -> PathBuf {
    let safe: String = spec
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.mqrecs"))
}

fn file_time(path: &Path) -> Option<i64> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    let d = m.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// Called with (phase, step, total steps) while training.
pub type TrainProgressFn = Arc<dyn Fn(&str, usize, usize) + Send + Sync>;

/// Trains `spec` on the store's interactions. `progress(phase, step, total)`.
pub async fn train(
    store: &dyn Store,
    spec: &str,
    seed: u64,
    progress: TrainProgressFn,
) -> Result<(Recommender, TrainingRun), TrainError> {
    let model_spec = match parse_request(spec)? {
        Request::Fixed(s) => s,
        Request::Tuned(..) => return Err(TrainError::NotFixed(spec.to_string())),
    };
    progress("loading", 0, 1);
    // Everything not yet withdrawn: a title announced for later is learned now.
    let catalog = store.home_catalog(i64::MAX).await?;
    let inter = store.training_interactions().await?;
    let mut ids: Vec<i64> = catalog.iter().map(|t| t.id).collect();
    ids.extend(inter.iter().map(|e| e.1));
    let index = ItemIndex::new(ids);
    let mut users: HashMap<i64, u32> = HashMap::new();
    let mut triplets = Vec::with_capacity(inter.len());
    for &(p, t, w) in &inter {
        let n = users.len() as u32;
        let u = *users.entry(p).or_insert(n);
        if let Some(d) = index.dense(t) {
            triplets.push((u, d, w));
        }
    }
    let csr = Csr::from_triplets(users.len().max(1), index.len(), &triplets)?;
    let n_users = users.len() as i64;
    let n_items = index.len() as i64;
    let n_inter = triplets.len() as i64;
    let p2 = progress.clone();
    let model = tokio::task::spawn_blocking(move || {
        model_spec.fit(&csr, seed, &mut |s, t| p2("fitting", s, t))
    })
    .await
    .map_err(|e| TrainError::Join(e.to_string()))??;
    Ok((
        Recommender { index, model },
        TrainingRun {
            id: 0,
            spec: spec.to_string(),
            trigger: String::new(),
            started_at: 0,
            finished_at: 0,
            ok: true,
            users: n_users,
            items: n_items,
            interactions: n_inter,
            error: None,
        },
    ))
}

/// Writes a model file atomically (temporary file, then rename).
pub fn save_model(path: &Path, rec: &Recommender) -> Result<(), TrainError> {
    save_bytes(path, &rec.to_bytes())
}

/// Writes a model file's bytes atomically (temporary file, then rename).
fn save_bytes(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let err = |e: std::io::Error| TrainError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

fn load_model(path: &Path) -> Result<Recommender, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(Recommender::from_bytes(&bytes)?)
}

/// The specifications to serve: the configured one and those of running experiments.
fn wanted_specs(state: &AppState) -> Vec<String> {
    let mut v = vec![state.recs.cfg.model.clone()];
    for e in state.recs.experiments().iter() {
        for s in e.model_specs() {
            if !v.contains(&s) {
                v.push(s);
            }
        }
    }
    v
}

/// Reloads the catalog and rebinds the models to it.
pub async fn refresh_catalog(state: &AppState) -> Result<(), marquee_store::StoreError> {
    let store = state.store.as_ref();
    let now = state.clock.now_ms();
    let titles = store.home_catalog(now).await?;
    let latest = store.latest_view().await?.unwrap_or(now);
    // Trending is "the last days of activity": on a live service that is now; on an
    // imported data set whose last view is older, the days before its last view.
    let anchor = latest.min(now);
    let horizon = i64::from(state.recs.cfg.trending_days.max(state.recs.cfg.top10_days));
    let views = store.views_since(anchor - horizon * 86_400_000).await?;
    let cat = Arc::new(Catalog::build(titles, &views, anchor, &state.recs.cfg));
    state.recs.swap(|old| Snapshot {
        models: old
            .models
            .values()
            .map(|m| {
                (
                    m.spec.clone(),
                    Arc::new(Served::bind(
                        m.spec.clone(),
                        m.rec.clone(),
                        m.trained_at,
                        &cat,
                    )),
                )
            })
            .collect(),
        cat: cat.clone(),
        primary: old.primary.clone(),
        generation: 0,
        loaded: true,
    });
    Ok(())
}

fn install(state: &AppState, spec: &str, rec: Arc<Recommender>, trained_at: i64) {
    state.recs.swap(|old| {
        let mut models = old.models.clone();
        models.insert(
            spec.to_string(),
            Arc::new(Served::bind(spec.to_string(), rec, trained_at, &old.cat)),
        );
        Snapshot {
            cat: old.cat.clone(),
            models,
            primary: old.primary.clone(),
            generation: 0,
            loaded: old.loaded,
        }
    });
}

/// Trains one specification, saves its file and swaps it in. Runs one at a time.
pub async fn train_and_install(
    state: &AppState,
    spec: &str,
    trigger: &str,
) -> Result<TrainingRun, TrainError> {
    let _one = state.recs.train_lock.lock().await;
    let started = state.clock.now_ms();
    state.recs.set_progress(|p| {
        p.running = true;
        p.spec = Some(spec.to_string());
        p.trigger = Some(trigger.to_string());
        p.phase = Some("loading".into());
        p.step = 0;
        p.total = 0;
        p.started_at = Some(started);
    });
    let recs = state.recs.clone();
    let progress: TrainProgressFn = Arc::new(move |phase: &str, s: usize, t: usize| {
        recs.set_progress(|p| {
            p.phase = Some(phase.to_string());
            p.step = s;
            p.total = t;
        })
    });
    let result = async {
        let (rec, run) = train(state.store.as_ref(), spec, state.recs.cfg.seed, progress).await?;
        state.recs.set_progress(|p| p.phase = Some("saving".into()));
        let path = state.recs.model_path(spec);
        let rec = Arc::new(rec);
        let r2 = rec.clone();
        let p2 = path.clone();
        let bytes = tokio::task::spawn_blocking(move || {
            let bytes = r2.to_bytes();
            save_bytes(&p2, &bytes).map(|()| bytes)
        })
        .await
        .map_err(|e| TrainError::Join(e.to_string()))??;
        let trained_at = file_time(&path).unwrap_or(started);
        install(state, spec, rec, trained_at);
        // For the other instances on this database (they load it instead of
        // training); a failure here costs them a training, not this model.
        if let Err(e) = state.store.put_shared_model(spec, trained_at, &bytes).await {
            tracing::warn!(spec, error = %e, "trained model not shared with other instances");
        }
        Ok::<TrainingRun, TrainError>(run)
    }
    .await;
    let finished = state.clock.now_ms();
    let run = match &result {
        Ok(r) => TrainingRun {
            trigger: trigger.into(),
            started_at: started,
            finished_at: finished,
            ..r.clone()
        },
        Err(e) => TrainingRun {
            id: 0,
            spec: spec.into(),
            trigger: trigger.into(),
            started_at: started,
            finished_at: finished,
            ok: false,
            users: 0,
            items: 0,
            interactions: 0,
            error: Some(e.to_string()),
        },
    };
    if let Err(e) = state.store.record_training_run(&run).await {
        tracing::warn!(error = %e, "could not record the training run");
    }
    state.recs.set_progress(|p| {
        p.running = false;
        p.phase = None;
        p.last_error = run.error.clone();
    });
    // Wake the waiters: "trained and idle" is what they wait for.
    state.recs.ready_tx.send_modify(|_| {});
    match &result {
        Ok(_) => tracing::info!(
            spec,
            trigger,
            ms = finished - started,
            "recommender trained"
        ),
        Err(e) => tracing::warn!(spec, trigger, error = %e, "recommender training failed"),
    }
    result.map(|_| run)
}

/// Loads models newer than the served ones: model files (written by `marquee
/// train recs` or a previous run) and the models other instances trained and
/// shared through the database; returns the specifications still missing.
pub async fn load_saved(state: &AppState) -> Vec<String> {
    let snap = state.recs.snapshot();
    let mut missing = Vec::new();
    for spec in wanted_specs(state) {
        let served = snap.models.get(&spec).map(|m| m.trained_at);
        let path = state.recs.model_path(&spec);
        let file_at = file_time(&path);
        let shared_at = match state.store.shared_model_at(&spec).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(spec, error = %e, "could not read shared models");
                None
            }
        };
        if let Some(t) =
            shared_at.filter(|t| file_at.is_none_or(|f| *t > f) && served.is_none_or(|s| *t > s))
        {
            match load_shared(state, &spec, &path).await {
                Ok(rec) => {
                    tracing::info!(spec, trained_at = t, "shared model loaded");
                    install(state, &spec, Arc::new(rec), t);
                    continue;
                }
                Err(e) => tracing::warn!(spec, error = %e, "shared model unreadable"),
            }
        }
        let Some(t) = file_at else {
            if served.is_none() {
                missing.push(spec);
            }
            continue;
        };
        if served.is_some_and(|s| s >= t) {
            continue;
        }
        match load_model(&path) {
            Ok(rec) => {
                tracing::info!(spec, path = %path.display(), "model file loaded");
                install(state, &spec, Arc::new(rec), t);
            }
            Err(e) => {
                tracing::warn!(spec, error = %e, "model file unreadable; retraining");
                missing.push(spec);
            }
        }
    }
    missing
}

/// Reads another instance's model from the database and keeps a copy in this
/// instance's model file (stamped with the model's training time).
async fn load_shared(state: &AppState, spec: &str, path: &Path) -> Result<Recommender, TrainError> {
    let Some((_, bytes)) = state.store.shared_model(spec).await? else {
        return Err(TrainError::File {
            path: format!("shared model {spec}"),
            message: "gone".into(),
        });
    };
    let rec = Recommender::from_bytes(&bytes)?;
    let p = path.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || save_bytes(&p, &bytes)).await;
    Ok(rec)
}

/// Trains each specification; the first error, if any.
async fn train_all(state: &AppState, specs: Vec<String>, trigger: &str) -> Result<(), TrainError> {
    let mut first = Ok(());
    for s in specs {
        if let Err(e) = train_and_install(state, &s, trigger).await {
            if first.is_ok() {
                first = Err(e);
            }
        }
    }
    first
}

/// The scheduled retraining, a job of the database's job table: whichever
/// instance claims it trains (and shares the models); the others load them.
pub const RETRAIN_JOB: &str = "recs.retrain";
/// How long a claim of [`RETRAIN_JOB`] holds before another instance may take
/// it over (a training that died with its instance).
const RETRAIN_LEASE_MS: i64 = 30 * 60 * 1000;

/// Runs the scheduled retraining if it is due and this instance claims it:
/// `Ok(true)` when it ran here. A failure is retried with exponential
/// back-off (1 min, doubling, at most the interval).
pub async fn run_retrain_job(state: &AppState) -> Result<bool, TrainError> {
    let interval = i64::try_from(state.recs.cfg.retrain_interval_s.saturating_mul(1000))
        .unwrap_or(i64::MAX)
        .max(1000);
    let now = state.clock.now_ms();
    let worker = state.instance_id.as_ref();
    let Some(attempt) = state
        .store
        .claim_job(
            RETRAIN_JOB,
            worker,
            now,
            RETRAIN_LEASE_MS,
            now.saturating_add(interval),
        )
        .await?
    else {
        return Ok(false);
    };
    let result = train_all(state, wanted_specs(state), "schedule").await;
    let done = state.clock.now_ms();
    match &result {
        Ok(()) => {
            state
                .store
                .finish_job(RETRAIN_JOB, worker, done.saturating_add(interval), done)
                .await?;
        }
        Err(e) => {
            let shift = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
            let backoff = 60_000i64.saturating_mul(1i64 << shift).min(interval);
            state
                .store
                .fail_job(
                    RETRAIN_JOB,
                    worker,
                    &e.to_string(),
                    done.saturating_add(backoff),
                )
                .await?;
        }
    }
    result.map(|()| true)
}

async fn flush_loop(state: AppState) {
    let every = Duration::from_millis(state.recs.cfg.flush_interval_ms.max(10));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = state.recs.flush(state.store.as_ref()).await {
            tracing::warn!(error = %e, "could not write impressions");
        }
    }
}

async fn run(state: AppState) {
    if let Err(e) = state.recs.reload_experiments(state.store.as_ref()).await {
        tracing::warn!(error = %e, "could not load experiments");
    }
    if let Err(e) = refresh_catalog(&state).await {
        tracing::warn!(error = %e, "could not load the catalog");
    }
    let missing = load_saved(&state).await;
    if state.recs.cfg.train_on_start {
        let _ = train_all(&state, missing, "startup").await;
    }
    let cfg = state.recs.cfg.clone();
    let (mut last_cat, mut last_check) = (Instant::now(), Instant::now());
    loop {
        let mut catalog_changed = false;
        let woke = tokio::select! {
            _ = state.recs.wake.notified() => true,
            _ = state.catalog_changed.notified() => {
                catalog_changed = true;
                false
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => false,
        };
        if woke {
            // Staff asked: retrain everything served, then pick up new experiments.
            let _ = state.recs.reload_experiments(state.store.as_ref()).await;
            let _ = train_all(&state, wanted_specs(&state), "staff").await;
            continue;
        }
        if catalog_changed
            || last_cat.elapsed() >= Duration::from_secs(cfg.catalog_refresh_s.max(1))
        {
            if let Err(e) = refresh_catalog(&state).await {
                tracing::warn!(error = %e, "could not refresh the catalog");
            }
            last_cat = Instant::now();
        }
        if last_check.elapsed() >= Duration::from_secs(cfg.reload_check_s.max(1)) {
            if cfg.retrain_interval_s > 0 {
                if let Err(e) = run_retrain_job(&state).await {
                    tracing::warn!(error = %e, "scheduled retraining failed; retried with back-off");
                }
            }
            let missing = load_saved(&state).await;
            if !missing.is_empty() && cfg.train_on_start {
                let _ = train_all(&state, missing, "experiment").await;
            }
            last_check = Instant::now();
        }
    }
}

/// Starts the background job (catalog, model files, training, schedule) and the
/// event writer, once: [`crate::launch`] calls it; later calls start nothing
/// and return no tasks. Requests never start it.
pub fn start(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    if state.recs.started.swap(true, Ordering::SeqCst) {
        return Vec::new();
    }
    vec![
        tokio::spawn(run(state.clone())),
        tokio::spawn(flush_loop(state.clone())),
    ]
}

/// Waits for the first catalog load (at most a few seconds; the page serves
/// anyway, from an empty catalog, if the store is slow).
pub async fn ensure_catalog(state: &AppState) {
    if state.recs.snapshot().loaded {
        return;
    }
    let mut rx = state.recs.subscribe();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while !state.recs.snapshot().loaded {
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
}
