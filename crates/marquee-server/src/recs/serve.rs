//! Request-time glue shared by the API and the pages: load a profile's signals,
//! build its page, log what was shown.

use super::cache;
use super::page::{self, ContinueItem, HomePage, Profile};
use crate::error::AppError;
use crate::AppState;
use marquee_store::home::{Click, Impression};
use std::sync::Arc;

/// Loads a profile's signals into the page generator's form.
pub async fn load_profile(
    state: &AppState,
    p: &marquee_domain::Profile,
) -> Result<Profile, AppError> {
    let signals = state.store.profile_signals(p.id).await?;
    Ok(Profile::from_signals(p.id, &p.name, p.is_kids, &signals))
}

/// The experiment a profile is in that matters for logging (the first one).
pub fn experiment_of(page: &HomePage) -> Option<(i64, String)> {
    page.experiments
        .first()
        .map(|a| (a.experiment_id, a.variant.clone()))
}

/// Builds a profile's home page (Continue Watching from continuity) and logs
/// its impressions. Served from the profile cache while its inputs are
/// unchanged (see [`super::cache`]).
pub async fn home(
    state: &AppState,
    p: &marquee_domain::Profile,
) -> Result<(Arc<HomePage>, Arc<cache::Continuity>), AppError> {
    home_of(state, p.account_id, p.id).await
}

/// [`home`] for a profile id, checked to belong to `account_id` (404 unknown,
/// 403 another account's).
pub async fn home_of(
    state: &AppState,
    account_id: i64,
    profile_id: i64,
) -> Result<(Arc<HomePage>, Arc<cache::Continuity>), AppError> {
    let (page, cont) = home_unlogged(state, account_id, profile_id).await?;
    log_page(state, &page, "home");
    Ok((page, cont))
}

/// [`home_of`] without logging impressions: for pages that show the rows a
/// few at a time (and log those with [`log_page_rows`]).
pub async fn home_unlogged(
    state: &AppState,
    account_id: i64,
    profile_id: i64,
) -> Result<(Arc<HomePage>, Arc<cache::Continuity>), AppError> {
    super::ensure_catalog(state).await;
    let entry = cache::entry(state, account_id, profile_id).await?;
    let cont = entry.continuity(state).await?;
    let snap = state.recs.snapshot();
    let exps_generation = state.recs.experiments_generation();
    let page = match entry.page(state, snap.generation, exps_generation, &cont) {
        Some(page) => page,
        None => {
            let items: Vec<ContinueItem> = cont
                .continue_watching
                .iter()
                .map(|c| {
                    let card = crate::playback::card(c.clone());
                    ContinueItem {
                        title_id: c.title_id,
                        series_id: c.series_id,
                        label: card.label,
                        pct: card.pct,
                    }
                })
                .collect();
            let next_up: Vec<i64> = cont
                .next_up
                .iter()
                .flat_map(|c| [Some(c.title_id), c.series_id])
                .flatten()
                .collect();
            let exps = state.recs.experiments();
            let page = Arc::new(page::build(
                &snap,
                state.recs.config(),
                &entry.signals,
                &exps,
                items,
                &next_up,
            ));
            entry.keep_page(state, snap.generation, exps_generation, &cont, page.clone());
            page
        }
    };
    Ok((page, cont))
}

/// Queues a page's impressions.
pub fn log_page(state: &AppState, page: &HomePage, surface: &'static str) {
    log_page_rows(state, page, surface, 0..page.rows.len());
}

/// Queues the impressions of the rows in `shown` (those a response carried).
pub fn log_page_rows(
    state: &AppState,
    page: &HomePage,
    surface: &'static str,
    shown: std::ops::Range<usize>,
) {
    let rows: Vec<(String, Vec<i64>)> = page
        .rows
        .iter()
        .skip(shown.start)
        .take(shown.len())
        .map(|r| (r.key.clone(), r.items.iter().map(|i| i.title_id).collect()))
        .collect();
    if rows.is_empty() {
        return;
    }
    state.recs.log_impression(Impression {
        profile_id: page.profile_id,
        surface,
        experiment: experiment_of(page),
        rows,
        at: state.clock.now_ms(),
    });
}

/// Queues a click on a recommended title, attributed to the profile's experiment.
pub fn log_click(state: &AppState, profile_id: i64, title_id: i64, row_key: &str) {
    let exp = state.recs.experiments().first().map(|e| {
        let v = e.assign(profile_id);
        (e.id, v.name.clone())
    });
    state.recs.log_click(Click {
        profile_id,
        title_id,
        row_key: row_key.chars().take(80).collect(),
        experiment: exp,
        at: state.clock.now_ms(),
    });
}
