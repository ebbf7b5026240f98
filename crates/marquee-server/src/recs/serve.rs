//! Request-time glue shared by the API and the pages: load a profile's signals,
//! build its page, log what was shown.

use super::page::{self, ContinueItem, HomePage, Profile};
use crate::error::AppError;
use crate::AppState;
use marquee_store::home::{Click, Impression};

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
/// its impressions.
pub async fn home(state: &AppState, p: &marquee_domain::Profile) -> Result<HomePage, AppError> {
    super::ensure_catalog(state).await;
    let prof = load_profile(state, p).await?;
    let (cw, nu) = crate::pages::playback::home_rows(state, p.id).await?;
    let mut items: Vec<ContinueItem> = cw
        .into_iter()
        .map(|c| ContinueItem {
            title_id: c.item.title_id,
            series_id: c.item.series_id,
            label: c.label,
            pct: c.pct,
        })
        .collect();
    let next_up: Vec<i64> = nu
        .iter()
        .flat_map(|c| [Some(c.item.title_id), c.item.series_id])
        .flatten()
        .collect();
    let snap = state.recs.snapshot();
    let exps = state.recs.experiments();
    let cfg = state.recs.config();
    let page = page::build(
        &snap,
        cfg,
        &prof,
        &exps,
        std::mem::take(&mut items),
        &next_up,
    );
    log_page(state, &page, "home");
    Ok(page)
}

/// Queues a page's impressions.
pub fn log_page(state: &AppState, page: &HomePage, surface: &'static str) {
    state.recs.log_impression(Impression {
        profile_id: page.profile_id,
        surface,
        experiment: experiment_of(page),
        rows: page
            .rows
            .iter()
            .map(|r| (r.key.clone(), r.items.iter().map(|i| i.title_id).collect()))
            .collect(),
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
