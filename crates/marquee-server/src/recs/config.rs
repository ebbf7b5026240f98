//! `[recs]`: the recommender's model, training schedule and page layout.

use serde::{Deserialize, Serialize};

/// The recommender and the personal home page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RecsConfig {
    /// The served model (a fixed `marquee eval recs` specification). The default is
    /// weighted EASE with the parameters `marquee eval recs` tuned on the demo data,
    /// restricted to titles with at least 3 interactions and pruned to 500 weights a row.
    pub model: String,
    /// Retrain every this many seconds (0: only on demand and at first start).
    pub retrain_interval_s: u64,
    /// Check the model file for a newer one (written by `marquee train recs`) this often.
    pub reload_check_s: u64,
    /// Reload the catalog and the Trending / Top 10 figures this often.
    pub catalog_refresh_s: u64,
    /// Train at start-up when no model file exists (otherwise serve popularity until
    /// a training is asked for).
    pub train_on_start: bool,
    /// Trending now: views of the last this many days of activity...
    pub trending_days: u32,
    /// ...each weighted by 2^(-age / half-life).
    pub trending_half_life_h: f64,
    /// Top 10: most viewed over the last this many days of activity.
    pub top10_days: u32,
    /// Titles per row.
    pub row_size: usize,
    /// Rows with fewer titles are left out.
    pub min_row: usize,
    /// "Because you watched" rows.
    pub because_rows: usize,
    /// Genre rows.
    pub genre_rows: usize,
    /// The newest this many history items are scored (the rest changes little).
    pub max_history: usize,
    /// Impressions and clicks are written in batches this often.
    pub flush_interval_ms: u64,
    /// Kids profiles see only titles with one of these genres...
    pub kids_genres: Vec<String>,
    /// ...and none of these.
    pub kids_excluded_genres: Vec<String>,
    /// Seed of stochastic models (ALS).
    pub seed: u64,
    /// Keep a profile's signals, continuity and page in memory this long at most
    /// (every write through this server invalidates them at once; the limit bounds
    /// writes by another process). 0 turns the cache off.
    pub cache_ttl_s: u64,
    /// Profiles kept in the cache at most.
    pub cache_profiles: usize,
}

impl Default for RecsConfig {
    fn default() -> Self {
        RecsConfig {
            model: "wease:lambda=400:gamma=0.25:beta=0.2:delta=0.25:min_support=3:top=500".into(),
            retrain_interval_s: 6 * 3600,
            reload_check_s: 30,
            catalog_refresh_s: 300,
            train_on_start: true,
            trending_days: 7,
            trending_half_life_h: 24.0,
            top10_days: 30,
            row_size: 15,
            min_row: 4,
            because_rows: 3,
            genre_rows: 8,
            max_history: 400,
            flush_interval_ms: 500,
            kids_genres: vec!["Children".into()],
            kids_excluded_genres: vec!["Horror".into(), "Film-Noir".into()],
            seed: 42,
            cache_ttl_s: 60,
            cache_profiles: 2000,
        }
    }
}
