//! The personal home page's rules shared by the JSON API and the pages:
//! onboarding picks, the recommender's status, A/B experiments and their
//! reports. The rows themselves are built by [`crate::recs`].

use crate::error::AppError;
use crate::recs::cache::CacheStats;
use crate::recs::experiments::{self, Experiment, Target, Variant};
use crate::recs::metrics::{self, VariantMetrics};
use crate::recs::TrainProgress;
use crate::AppState;
use marquee_domain::Thumb;
use marquee_store::home::FeedbackAction;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Validates and stores onboarding picks as thumbs up.
pub async fn apply_picks(state: &AppState, profile_id: i64, ids: &[i64]) -> Result<(), AppError> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() < 3 {
        return Err(AppError::invalid("title_ids", "pick at least 3 titles"));
    }
    if ids.len() > 50 {
        return Err(AppError::invalid("title_ids", "pick at most 50 titles"));
    }
    let actions: Vec<_> = ids
        .iter()
        .map(|&t| (t, FeedbackAction::Thumb(Some(Thumb::Up))))
        .collect();
    state
        .store
        .apply_feedback(profile_id, &actions, state.clock.now_ms())
        .await?;
    Ok(())
}

/// One training run.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrainingRunOut {
    /// Model specification.
    pub spec: String,
    /// startup, schedule, staff, cli, experiment.
    pub trigger: String,
    /// Started, ms.
    pub started_at: i64,
    /// Took, ms.
    pub duration_ms: i64,
    /// Succeeded.
    pub ok: bool,
    /// Profiles, titles and interactions trained on.
    pub users: i64,
    /// Titles in the model's index.
    pub items: i64,
    /// Interactions.
    pub interactions: i64,
    /// Why it failed.
    pub error: Option<String>,
}

/// The recommender's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecsStatus {
    /// The configured model.
    pub model: String,
    /// It is trained and served.
    pub ready: bool,
    /// When the served model was trained, ms.
    pub trained_at: Option<i64>,
    /// Models served (the configured one and experiment arms).
    pub served: Vec<String>,
    /// Titles in the served catalog.
    pub catalog_titles: usize,
    /// Bumped at every model or catalog swap.
    pub generation: u64,
    /// The training job.
    pub training: TrainProgress,
    /// Retraining interval, s (0: on demand only).
    pub retrain_interval_s: u64,
    /// Impressions and clicks waiting to be written.
    pub pending_events: usize,
    /// Impressions dropped because the writer fell behind.
    pub dropped_events: u64,
    /// Latest runs, newest first.
    pub runs: Vec<TrainingRunOut>,
    /// The per-profile read cache: hits and misses since start.
    pub cache: CacheStats,
    /// Profiles in the cache.
    pub cache_profiles: usize,
}

/// Builds the status (shared with the staff page).
pub async fn status(state: &AppState) -> Result<RecsStatus, AppError> {
    let snap = state.recs.snapshot();
    let runs = state.store.training_runs(10).await?;
    let mut served: Vec<String> = snap.models.keys().cloned().collect();
    served.sort();
    Ok(RecsStatus {
        model: state.recs.config().model.clone(),
        ready: snap.primary().is_some(),
        trained_at: snap.primary().map(|m| m.trained_at),
        served,
        catalog_titles: snap.cat.len(),
        generation: snap.generation,
        training: state.recs.progress(),
        retrain_interval_s: state.recs.config().retrain_interval_s,
        pending_events: state.recs.pending_events(),
        dropped_events: state.recs.dropped_events(),
        runs: runs
            .into_iter()
            .map(|r| TrainingRunOut {
                duration_ms: r.finished_at - r.started_at,
                spec: r.spec,
                trigger: r.trigger,
                started_at: r.started_at,
                ok: r.ok,
                users: r.users,
                items: r.items,
                interactions: r.interactions,
                error: r.error,
            })
            .collect(),
        cache: state.recs.cache.stats(),
        cache_profiles: state.recs.cache.len(),
    })
}

/// A new experiment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExperiment {
    /// Unique name, 1 to 80 characters.
    pub name: String,
    /// What it varies.
    pub target: Target,
    /// 2 to 5 variants.
    pub variants: Vec<Variant>,
}

/// An experiment with its metrics.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentReport {
    /// The experiment.
    pub experiment: Experiment,
    /// Per variant.
    pub metrics: Vec<VariantMetrics>,
}

/// Play starts are attributed to an impression within this window.
pub const ATTRIBUTION_MS: i64 = 7 * 86_400_000;

/// An experiment's report (shared with the staff page).
pub async fn report(state: &AppState, e: Experiment) -> Result<ExperimentReport, AppError> {
    let log = state.store.experiment_log(e.id).await?;
    let names: Vec<String> = e.variants.iter().map(|v| v.name.clone()).collect();
    let rows: Option<&[&str]> = match e.target {
        Target::TopPicksModel => Some(&["top_picks"]),
        Target::RowOrder => None,
    };
    Ok(ExperimentReport {
        metrics: metrics::compute(&names, &log, rows, ATTRIBUTION_MS),
        experiment: e,
    })
}

/// All experiments, newest first (shared with the staff page).
pub async fn reports(state: &AppState) -> Result<Vec<ExperimentReport>, AppError> {
    state.recs.flush(state.store.as_ref()).await?;
    let mut out = Vec::new();
    for r in state.store.experiments().await? {
        if let Some(e) = Experiment::from_record(r) {
            out.push(report(state, e).await?);
        }
    }
    Ok(out)
}

/// Creates and starts an experiment (shared with the staff page). One runs at a time.
pub async fn create(state: &AppState, req: NewExperiment) -> Result<Experiment, AppError> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AppError::invalid("name", "1 to 80 characters"));
    }
    experiments::validate(req.target, &req.variants)?;
    if !experiments::load_running(state.store.as_ref())
        .await?
        .is_empty()
    {
        return Err(AppError::Conflict {
            field: Some("name".into()),
            message: "an experiment is already running; stop it first".into(),
        });
    }
    let variants: Vec<Variant> = req
        .variants
        .into_iter()
        .map(|v| Variant {
            name: v.name.trim().to_string(),
            ..v
        })
        .collect();
    let json = serde_json::to_string(&variants)
        .map_err(|e| AppError::Internal(format!("variants: {e}")))?;
    let rec = state
        .store
        .create_experiment(name, req.target.as_str(), &json, state.clock.now_ms())
        .await?;
    state.recs.reload_experiments(state.store.as_ref()).await?;
    if req.target == Target::TopPicksModel {
        // Train the arms' models; the experiment assigns once all are served.
        state.recs.request_training();
    }
    Experiment::from_record(rec).ok_or_else(|| AppError::Internal("stored experiment".into()))
}
