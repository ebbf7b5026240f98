//! Storage for the personal home page: the catalog snapshot and profile signals
//! the recommender serves from, the training interactions, hidden titles, the
//! impression and click log, A/B experiments and training runs.

use crate::Result;
use async_trait::async_trait;
use marquee_domain::{Millis, Thumb};

/// One title of the served catalog (movies and series; episodes are not recommended).
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogTitle {
    /// Title id.
    pub id: i64,
    /// `movie` or `series`.
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Release year.
    pub year: Option<i32>,
    /// Genre names, sorted.
    pub genres: Vec<String>,
    /// Its distinct tags (lower case, at most 24): for content similars.
    pub tags: Vec<String>,
    /// Its first 8 people in credit order (cast and crew): for content similars.
    pub people: Vec<String>,
    /// Viewers who watched or rated it (the denormalised popularity).
    pub plays: i64,
    /// When it was added to the catalog.
    pub created_at: Millis,
    /// The youngest age its maturity rating is meant for (`None`: not rated).
    pub maturity_age: Option<i64>,
    /// Etags of its poster renditions: card and detail (see `title_artwork`).
    pub poster: Option<(String, Option<String>)>,
}

/// Where a profile signal comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// A watch-history row; `value` is the rating, if any.
    Watched,
    /// A thumb; `value` is -1, 1 or 2.
    Thumb,
    /// Hidden from recommendations.
    Hidden,
    /// Playback state; `value` is 1 when played to the end, else 0 (in progress).
    Playback,
}

/// One signal of a profile about a title.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    /// What it is.
    pub kind: SignalKind,
    /// The title.
    pub title_id: i64,
    /// When, ms.
    pub at: Millis,
    /// See [`SignalKind`].
    pub value: Option<f64>,
}

/// A feedback action of the batch feedback API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackAction {
    /// Set (or clear, with `None`) the thumb.
    Thumb(Option<Thumb>),
    /// Hide from recommendations.
    Hide,
    /// Undo a hide.
    Unhide,
}

/// One logged page of recommendations.
#[derive(Debug, Clone, PartialEq)]
pub struct Impression {
    /// The profile it was shown to.
    pub profile_id: i64,
    /// `home`, `recommendations` or `similar`.
    pub surface: &'static str,
    /// The experiment the profile was in, with its variant.
    pub experiment: Option<(i64, String)>,
    /// Rows in page order: `(row key, title ids in order)`.
    pub rows: Vec<(String, Vec<i64>)>,
    /// When, ms.
    pub at: Millis,
}

/// A click on a recommended title.
#[derive(Debug, Clone, PartialEq)]
pub struct Click {
    /// The profile.
    pub profile_id: i64,
    /// The title.
    pub title_id: i64,
    /// The row it was in.
    pub row_key: String,
    /// The experiment the profile was in, with its variant.
    pub experiment: Option<(i64, String)>,
    /// When, ms.
    pub at: Millis,
}

/// A play start of a profile, with whether it was completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayRecord {
    /// The profile.
    pub profile_id: i64,
    /// The title.
    pub title_id: i64,
    /// When the stream started, ms.
    pub started_at: Millis,
    /// Played to at least 90 % (or marked played).
    pub completed: bool,
}

/// Everything an experiment's metrics are computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExperimentLog {
    /// Pages shown under the experiment.
    pub impressions: Vec<Impression>,
    /// Clicks under the experiment.
    pub clicks: Vec<Click>,
    /// Play starts of the profiles that saw the experiment.
    pub plays: Vec<PlayRecord>,
}

/// A stored A/B experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentRecord {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// `top_picks_model` or `row_order`.
    pub target: String,
    /// The variants, as JSON.
    pub variants_json: String,
    /// Running (profiles are assigned) or stopped.
    pub running: bool,
    /// Created, ms.
    pub created_at: Millis,
    /// Stopped, ms.
    pub stopped_at: Option<Millis>,
}

/// A finished training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingRun {
    /// Id (0 before it is stored).
    pub id: i64,
    /// Model specification.
    pub spec: String,
    /// `schedule`, `startup`, `staff`, `cli`.
    pub trigger: String,
    /// Started, ms.
    pub started_at: Millis,
    /// Finished, ms.
    pub finished_at: Millis,
    /// Succeeded.
    pub ok: bool,
    /// Profiles with interactions.
    pub users: i64,
    /// Titles in the model's index.
    pub items: i64,
    /// Interactions trained on.
    pub interactions: i64,
    /// The error of a failed run.
    pub error: Option<String>,
}

/// The home page's storage.
#[async_trait]
pub trait HomeStore: Send + Sync {
    /// Every movie and series viewers may see at `now` (not hidden, inside
    /// its availability window) with its genres and popularity, by id.
    async fn home_catalog(&self, now: Millis) -> Result<Vec<CatalogTitle>>;
    /// `(title id, when)` of every view since `since` (watch history and play starts).
    async fn views_since(&self, since: Millis) -> Result<Vec<(i64, Millis)>>;
    /// The time of the latest view (history or play start), if any.
    async fn latest_view(&self) -> Result<Option<Millis>>;
    /// All of a profile's signals, in one read.
    async fn profile_signals(&self, profile_id: i64) -> Result<Vec<Signal>>;
    /// Positive interactions for training: `(profile id, title id, weight)`. Watched
    /// titles rated 3.5 or more (or unrated), thumbs up, plays; thumbs down remove a title.
    async fn training_interactions(&self) -> Result<Vec<(i64, i64, f32)>>;
    /// Applies a batch of feedback in one transaction: all or nothing
    /// (`NotFound { what: "title" }` when a title does not exist).
    async fn apply_feedback(
        &self,
        profile_id: i64,
        items: &[(i64, FeedbackAction)],
        now: Millis,
    ) -> Result<()>;
    /// Appends impressions and clicks in one transaction.
    async fn log_rec_events(&self, impressions: &[Impression], clicks: &[Click]) -> Result<()>;
    /// The log of one experiment.
    async fn experiment_log(&self, experiment_id: i64) -> Result<ExperimentLog>;
    /// Creates an experiment (`Conflict { field: "name" }` on a taken name).
    async fn create_experiment(
        &self,
        name: &str,
        target: &str,
        variants_json: &str,
        now: Millis,
    ) -> Result<ExperimentRecord>;
    /// All experiments, newest first.
    async fn experiments(&self) -> Result<Vec<ExperimentRecord>>;
    /// Stops a running experiment.
    async fn stop_experiment(&self, id: i64, now: Millis) -> Result<()>;
    /// Stores a training run; returns its id.
    async fn record_training_run(&self, run: &TrainingRun) -> Result<i64>;
    /// The latest training runs, newest first.
    async fn training_runs(&self, limit: u32) -> Result<Vec<TrainingRun>>;
}

/// Encodes impression rows as `row=id,id;row=id` (row keys hold neither `=` nor `;`).
pub fn encode_rows(rows: &[(String, Vec<i64>)]) -> String {
    let mut s = String::new();
    for (i, (key, ids)) in rows.iter().enumerate() {
        if i > 0 {
            s.push(';');
        }
        s.push_str(&key.replace(['=', ';'], "_"));
        s.push('=');
        for (j, id) in ids.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            s.push_str(&id.to_string());
        }
    }
    s
}

/// Decodes [`encode_rows`]; malformed ids are skipped.
pub fn decode_rows(s: &str) -> Vec<(String, Vec<i64>)> {
    s.split(';')
        .filter(|r| !r.is_empty())
        .filter_map(|r| {
            let (key, ids) = r.split_once('=')?;
            Some((
                key.to_string(),
                ids.split(',').filter_map(|x| x.parse().ok()).collect(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let rows = vec![
            ("top_picks".to_string(), vec![1, 2, 3]),
            ("because:7".to_string(), vec![]),
            ("genre:Comedy".to_string(), vec![9]),
        ];
        assert_eq!(decode_rows(&encode_rows(&rows)), rows);
        assert!(decode_rows("").is_empty());
    }
}
