//! The personal home page (`/` for a viewer with a profile, and `/home`),
//! onboarding, card feedback via htmx, "More like this" on title pages, and the
//! staff recommender page (`/staff/recs`: training status, experiments and their
//! metrics with an inline-SVG chart).

use super::{render, CsrfForm, Layout, Page, PageForm};
use crate::auth::{self, Staff};
use crate::error::{AppError, PageError};
use crate::home::{self as svc, ExperimentReport, NewExperiment, RecsStatus};
use crate::playback::{self, RowCard};
use crate::recs::experiments::{Target, Variant};
use crate::recs::page::{HomePage, RowTitle};
use crate::recs::serve;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use marquee_domain::Thumb;
use marquee_store::home::FeedbackAction;
use serde::Deserialize;

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/home", get(home))
        .route("/home/rows", get(more_rows))
        .route("/home/go/{id}", get(go))
        .route("/home/feedback/{id}", post(card_feedback))
        .route("/onboarding", get(onboarding_page).post(onboarding_submit))
        .route("/titles/{id}/more-like-this", get(more_like_this))
        .route("/staff/recs", get(staff_page))
        .route("/staff/recs/status", get(staff_status))
        .route("/staff/recs/train", post(staff_train))
        .route("/staff/recs/experiments", post(staff_create))
        .route("/staff/recs/experiments/{id}/stop", post(staff_stop))
}

#[derive(Template)]
#[template(path = "home/page.html")]
struct HomeTemplate {
    l: Layout,
    page: std::sync::Arc<HomePage>,
    profile_name: String,
    continue_watching: Vec<RowCard>,
    next_up: Vec<RowCard>,
    has_cw_row: bool,
    /// The rows this response carries: `from..to` (the rest follow as the
    /// viewer scrolls, `/home/rows`).
    from: usize,
    to: usize,
}

/// The rows `from..to` of a home page (clamped), for the templates.
pub fn rows_in(
    page: &HomePage,
    from: impl std::borrow::Borrow<usize>,
    to: impl std::borrow::Borrow<usize>,
) -> &[crate::recs::page::Row] {
    let to = (*to.borrow()).min(page.rows.len());
    let from = (*from.borrow()).min(to);
    &page.rows[from..to]
}

/// Rows in the home page's first response; the others load when scrolled
/// to, [`MORE_ROWS`] at a time (about 20 cards each).
const FIRST_ROWS: usize = 4;
const MORE_ROWS: usize = 4;

/// More rows of the home page (htmx, when the placeholder is revealed).
#[derive(Template)]
#[template(path = "home/rows_more.html")]
struct MoreRows {
    l: Layout,
    page: std::sync::Arc<HomePage>,
    continue_watching: Vec<RowCard>,
    next_up: Vec<RowCard>,
    from: usize,
    to: usize,
}

#[derive(Deserialize)]
struct FromParam {
    from: Option<usize>,
}

async fn more_rows(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<FromParam>,
) -> Result<Response, PageError> {
    let Some(p) = page.profile.clone() else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let (hp, rows) = serve::home_unlogged(&state, p.account_id, p.id).await?;
    let from = q.from.unwrap_or(FIRST_ROWS).min(hp.rows.len());
    let to = (from + MORE_ROWS).min(hp.rows.len());
    serve::log_page_rows(&state, &hp, "home", from..to);
    let card = |i: &marquee_store::playback::RowItem| playback::card(i.clone());
    Ok(render(&MoreRows {
        l: page.l,
        continue_watching: rows.continue_watching.iter().map(card).collect(),
        next_up: rows.next_up.iter().map(card).collect(),
        page: hp,
        from,
        to,
    })?
    .into_response())
}

/// The viewer's home page; anonymous visitors go to the log-in page.
pub async fn home(State(state): State<AppState>, page: Page) -> Result<Response, PageError> {
    let Some(u) = &page.user else {
        return Ok(auth::login_redirect("/home"));
    };
    if u.account.must_change_password {
        return Ok(Redirect::to("/account/password").into_response());
    }
    let Some(p) = page.profile.clone() else {
        return Ok(Redirect::to("/profiles").into_response());
    };
    render_home(&state, page, &p, false).await
}

/// Renders a profile's home page (also `/` once a profile is chosen).
pub async fn render_home(
    state: &AppState,
    page: Page,
    p: &marquee_domain::Profile,
    all_rows: bool,
) -> Result<Response, PageError> {
    let (hp, rows) = serve::home_unlogged(state, p.account_id, p.id).await?;
    let to = if all_rows {
        hp.rows.len()
    } else {
        FIRST_ROWS.min(hp.rows.len())
    };
    serve::log_page_rows(state, &hp, "home", 0..to);
    let card = |i: &marquee_store::playback::RowItem| playback::card(i.clone());
    let continue_watching = rows.continue_watching.iter().map(card).collect();
    let next_up = rows.next_up.iter().map(card).collect();
    let has_cw_row = hp.rows.iter().any(|r| r.key == "continue_watching");
    Ok(render(&HomeTemplate {
        l: page.l,
        page: hp,
        profile_name: p.name.clone(),
        continue_watching,
        next_up,
        has_cw_row,
        from: 0,
        to,
    })?
    .into_response())
}

#[derive(Deserialize)]
struct GoParams {
    row: Option<String>,
}

/// A click on a recommendation: logged, then on to the title page.
async fn go(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<GoParams>,
) -> Response {
    if let Some(p) = &page.profile {
        if state.recs.snapshot().cat.pos(id).is_some() {
            serve::log_click(&state, p.id, id, q.row.as_deref().unwrap_or("home"));
        }
    }
    Redirect::to(&format!("/titles/{id}")).into_response()
}

#[derive(Deserialize)]
struct CardFeedback {
    csrf: String,
    action: String,
}

/// Thumbs and hide on a card. For htmx the card is removed (an empty body);
/// otherwise back to the home page.
async fn card_feedback(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CardFeedback>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let p = page
        .profile
        .as_ref()
        .ok_or_else(|| AppError::Unauthorized("choose a profile first".into()))?;
    let action = match f.action.as_str() {
        "down" => FeedbackAction::Thumb(Some(Thumb::Down)),
        "up" => FeedbackAction::Thumb(Some(Thumb::Up)),
        "double_up" => FeedbackAction::Thumb(Some(Thumb::DoubleUp)),
        "hide" => FeedbackAction::Hide,
        other => {
            return Err(AppError::invalid("action", format!("unknown action {other:?}")).into())
        }
    };
    state
        .store
        .apply_feedback(p.id, &[(id, action)], state.clock.now_ms())
        .await?;
    if headers.contains_key("hx-request") {
        Ok(Html(String::new()).into_response())
    } else {
        Ok(Redirect::to("/").into_response())
    }
}

/// One genre of onboarding choices.
struct PickGroup {
    genre: String,
    titles: Vec<RowTitle>,
}

#[derive(Template)]
#[template(path = "home/onboarding.html")]
struct OnboardingTemplate {
    l: Layout,
    groups: Vec<PickGroup>,
    error: Option<String>,
    /// What was ticked (kept when the form comes back with an error).
    picked: Vec<i64>,
}

impl OnboardingTemplate {
    fn is_picked(&self, id: &i64) -> bool {
        self.picked.contains(id)
    }
}

async fn onboarding_groups(state: &AppState, p: &marquee_domain::Profile) -> Vec<PickGroup> {
    crate::recs::ensure_catalog(state).await;
    let snap = state.recs.snapshot();
    let cat = &snap.cat;
    let mut order: Vec<usize> = (0..cat.genres.len()).collect();
    order.sort_by(|&a, &b| {
        cat.genre_pop[b]
            .total_cmp(&cat.genre_pop[a])
            .then(a.cmp(&b))
    });
    let mut used = std::collections::HashSet::new();
    let mut groups = Vec::new();
    for g in order.into_iter().take(8) {
        let mut titles = Vec::new();
        for &c in &cat.pop_order {
            let it = &cat.items[c as usize];
            if titles.len() >= 6 {
                break;
            }
            if it.genres.contains(&(g as u16)) && (!p.is_kids || it.kids_ok) && used.insert(it.id) {
                titles.push(RowTitle {
                    title_id: it.id,
                    name: it.name.clone(),
                    year: it.year,
                    genres: Vec::new(),
                    score: 0.0,
                    rank: None,
                    because: None,
                    progress_pct: None,
                    poster: it.poster.clone(),
                });
            }
        }
        if !titles.is_empty() {
            groups.push(PickGroup {
                genre: cat.genres[g].clone(),
                titles,
            });
        }
    }
    groups
}

async fn onboarding_page(State(state): State<AppState>, page: Page) -> Result<Response, PageError> {
    let Some(p) = page.profile.clone() else {
        return Ok(if page.user.is_some() {
            Redirect::to("/profiles").into_response()
        } else {
            auth::login_redirect("/onboarding")
        });
    };
    let groups = onboarding_groups(&state, &p).await;
    Ok(render(&OnboardingTemplate {
        l: page.l,
        groups,
        error: None,
        picked: Vec::new(),
    })?
    .into_response())
}

async fn onboarding_submit(
    State(state): State<AppState>,
    page: Page,
    PageForm(form): PageForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let csrf = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    page.check_csrf(csrf)?;
    let p = page
        .profile
        .clone()
        .ok_or_else(|| AppError::Unauthorized("choose a profile first".into()))?;
    let mut ids = Vec::new();
    for (k, v) in &form {
        if k == "title_id" {
            ids.push(
                v.parse::<i64>()
                    .map_err(|_| AppError::invalid("title_id", "not a title id"))?,
            );
        }
    }
    match svc::apply_picks(&state, p.id, &ids).await {
        Ok(()) => Ok(Redirect::to("/").into_response()),
        Err(AppError::BadRequest { message, .. }) => {
            let groups = onboarding_groups(&state, &p).await;
            Ok((
                axum::http::StatusCode::BAD_REQUEST,
                render(&OnboardingTemplate {
                    l: page.l,
                    groups,
                    error: Some(message),
                    picked: ids,
                })?,
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "home/more_like_this.html")]
struct MoreLikeThis {
    items: Vec<RowTitle>,
}

/// The title page's "More like this" row (loaded by htmx).
async fn more_like_this(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    crate::library::check_visible(&state, page.profile.as_ref(), id).await?;
    crate::recs::ensure_catalog(&state).await;
    let snap = state.recs.snapshot();
    let prof = match &page.profile {
        Some(p) => Some(serve::load_profile(&state, p).await?),
        None => None,
    };
    let items = crate::recs::page::similar(&snap, prof.as_ref(), id, 12);
    render(&MoreLikeThis { items })
}

/// One bar of the experiment chart.
struct Bar {
    x: f64,
    y: f64,
    h: f64,
    low_y: f64,
    high_y: f64,
    color: &'static str,
    label: String,
}

/// An experiment on the staff page: its report and chart geometry.
struct ExperimentView {
    r: ExperimentReport,
    variants_text: String,
    bars: Vec<Bar>,
    max_label: String,
}

const COLORS: &[&str] = &["#e50914", "#3fa55b", "#3b82f6", "#f59e0b", "#a855f7"];

/// Grouped bars (CTR, play-start, completion) per variant with 95 % whiskers.
fn chart(r: &ExperimentReport) -> (Vec<Bar>, String) {
    let max = r
        .metrics
        .iter()
        .flat_map(|m| [m.ctr.high, m.play_start.high, m.completion.high])
        .fold(0.01f64, f64::max)
        .min(1.0);
    let (h, top) = (160.0, 10.0);
    let nv = r.metrics.len().max(1) as f64;
    let group_w = 180.0;
    let bar_w = (group_w - 20.0) / nv;
    let mut bars = Vec::new();
    for (vi, m) in r.metrics.iter().enumerate() {
        for (gi, rate) in [m.ctr, m.play_start, m.completion].iter().enumerate() {
            let y = |v: f64| top + h - v / max * h;
            bars.push(Bar {
                x: 50.0 + gi as f64 * group_w + vi as f64 * bar_w,
                y: y(rate.value),
                h: rate.value / max * h,
                low_y: y(rate.low),
                high_y: y(rate.high),
                color: COLORS[vi % COLORS.len()],
                label: format!(
                    "{}: {:.1}% [{:.1}–{:.1}] ({}/{})",
                    m.variant,
                    rate.value * 100.0,
                    rate.low * 100.0,
                    rate.high * 100.0,
                    rate.k,
                    rate.n
                ),
            });
        }
    }
    (bars, format!("{:.0}%", max * 100.0))
}

#[derive(Template)]
#[template(path = "home/staff.html")]
struct StaffTemplate {
    l: Layout,
    s: RecsStatus,
    experiments: Vec<ExperimentView>,
    error: Option<String>,
}

impl StaffTemplate {
    fn color(&self, i: &usize) -> &'static str {
        COLORS[*i % COLORS.len()]
    }
}

#[derive(Template)]
#[template(path = "home/status.html")]
struct StatusTemplate {
    s: RecsStatus,
}

async fn staff_view(
    state: &AppState,
    page: Page,
    error: Option<String>,
) -> Result<Html<String>, PageError> {
    let s = svc::status(state).await?;
    let experiments = svc::reports(state)
        .await?
        .into_iter()
        .map(|r| {
            let (bars, max_label) = chart(&r);
            ExperimentView {
                variants_text: r
                    .experiment
                    .variants
                    .iter()
                    .map(|v| match (&v.model, &v.rows) {
                        (Some(m), _) => format!("{} = {m}", v.name),
                        (_, Some(rows)) => format!("{} = {}", v.name, rows.join(",")),
                        _ => v.name.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(" · "),
                bars,
                max_label,
                r,
            }
        })
        .collect();
    render(&StaffTemplate {
        l: page.l,
        s,
        experiments,
        error,
    })
}

async fn staff_page(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
) -> Result<Html<String>, PageError> {
    staff_view(&state, page, None).await
}

/// The status panel, polled by htmx while training runs.
async fn staff_status(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<Html<String>, PageError> {
    render(&StatusTemplate {
        s: svc::status(&state).await?,
    })
}

async fn staff_train(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    state.recs.request_training();
    Ok(Redirect::to("/staff/recs").into_response())
}

#[derive(Deserialize)]
struct ExperimentForm {
    csrf: String,
    name: String,
    target: String,
    variants: String,
}

/// Parses the variants box: one `name = model spec` or `name = row,row,…` per line.
fn parse_variants(target: Target, text: &str) -> Result<Vec<Variant>, AppError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| {
            let (name, value) = l.split_once('=').ok_or_else(|| {
                AppError::invalid("variants", format!("line {}: write name = value", i + 1))
            })?;
            let value = value.trim().to_string();
            Ok(match target {
                Target::TopPicksModel => Variant {
                    name: name.trim().into(),
                    weight: 1,
                    model: Some(value),
                    rows: None,
                },
                Target::RowOrder => Variant {
                    name: name.trim().into(),
                    weight: 1,
                    model: None,
                    rows: Some(value.split(',').map(|r| r.trim().to_string()).collect()),
                },
            })
        })
        .collect()
}

async fn staff_create(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
    PageForm(f): PageForm<ExperimentForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let target = match f.target.as_str() {
        "top_picks_model" => Target::TopPicksModel,
        "row_order" => Target::RowOrder,
        _ => return Err(AppError::invalid("target", "top_picks_model or row_order").into()),
    };
    let res = match parse_variants(target, &f.variants) {
        Ok(variants) => {
            svc::create(
                &state,
                NewExperiment {
                    name: f.name,
                    target,
                    variants,
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    match res {
        Ok(_) => Ok(Redirect::to("/staff/recs").into_response()),
        Err(e @ (AppError::BadRequest { .. } | AppError::Conflict { .. })) => {
            let status = e.status();
            Ok((status, staff_view(&state, page, Some(e.to_string())).await?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn staff_stop(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    state
        .store
        .stop_experiment(id, state.clock.now_ms())
        .await?;
    state.recs.reload_experiments(state.store.as_ref()).await?;
    Ok(Redirect::to("/staff/recs").into_response())
}
