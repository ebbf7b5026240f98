//! The personal home page API: rows with evidence, recommendations, similar
//! titles, batch feedback, onboarding picks; staff: recommender status and
//! training, A/B experiments with their metrics.

use crate::auth::{CurrentUser, Staff};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, AppError, ErrorBody};
use crate::home::{
    apply_picks, create, reports, status, ExperimentReport, NewExperiment, RecsStatus,
    TrainingRunOut,
};
use crate::recs::cache::CacheStats;
use crate::recs::experiments::{Experiment, Target, Variant};
use crate::recs::metrics::{Rate, VariantMetrics};
use crate::recs::page::{self, Assignment, HomePage, Row, RowTitle, TitleRef};
use crate::recs::{serve, TrainProgress};
use crate::{service, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use marquee_domain::Thumb;
use marquee_store::home::FeedbackAction;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The home page part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        profile_home, recommendations, similar, feedback, onboarding, recs_status, recs_train,
        list_experiments, create_experiment, stop_experiment
    ),
    components(schemas(
        HomePage, Row, RowTitle, TitleRef, crate::library::art::CardArt, Assignment, RecommendationsResponse, SimilarResponse,
        FeedbackRequest, FeedbackItem, FeedbackResponse, OnboardingRequest, RecsStatus,
        TrainProgress, TrainingRunOut, CacheStats, Experiment, Variant, Target, NewExperiment,
        ExperimentReport, VariantMetrics, Rate
    )),
    tags((name = "home", description = "Personal rows, recommendations, feedback, experiments"))
)]
pub struct Doc;

/// The routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/profiles/{id}/home", get(profile_home))
        .route("/profiles/{id}/recommendations", get(recommendations))
        .route("/profiles/{id}/onboarding", post(onboarding))
        .route("/titles/{id}/similar", get(similar))
        .route("/feedback", post(feedback))
        .route("/staff/recs", get(recs_status))
        .route("/staff/recs/train", post(recs_train))
        .route(
            "/staff/experiments",
            get(list_experiments).post(create_experiment),
        )
        .route("/staff/experiments/{id}/stop", post(stop_experiment))
}

/// A profile's home page: rows in order, each title with its evidence. Logged
/// as an impression.
#[utoipa::path(get, path = "/api/v1/profiles/{id}/home", tag = "home", params(("id" = i64, Path)),
    responses((status = 200, body = HomePage), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn profile_home(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let (page, _) = serve::home_of(&state, user.account.id, id).await?;
    Ok(Json(&*page).into_response())
}

/// Recommendation parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecsParams {
    /// 1 to 100, default 20.
    n: Option<u32>,
    /// 0 to 1000, default 0.
    offset: Option<u32>,
    /// Comma-separated genres (any of them); unknown ones are ignored and reported in `warnings`.
    category: Option<String>,
    /// Comma-separated title ids to leave out.
    exclude: Option<String>,
}

/// Personal recommendations.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendationsResponse {
    /// The profile.
    pub profile_id: i64,
    /// The model that ranked them (`popularity` for a cold profile).
    pub model: String,
    /// Offset asked for.
    pub offset: u32,
    /// The titles, best first, each with its evidence.
    pub items: Vec<RowTitle>,
    /// E.g. ignored unknown categories.
    pub warnings: Vec<String>,
}

/// Personal recommendations, filtered and paged; seen, hidden and thumbed titles
/// never appear.
#[utoipa::path(get, path = "/api/v1/profiles/{id}/recommendations", tag = "home",
    params(("id" = i64, Path), RecsParams),
    responses((status = 200, body = RecommendationsResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn recommendations(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<RecsParams>,
) -> Result<Json<RecommendationsResponse>, ApiError> {
    let n = match q.n {
        None => 20,
        Some(n) if (1..=100).contains(&n) => n,
        Some(_) => return Err(AppError::invalid("n", "must be 1 to 100").into()),
    };
    let offset = q.offset.unwrap_or(0);
    if offset > 1000 {
        return Err(AppError::invalid("offset", "must be 0 to 1000").into());
    }
    let mut exclude = Vec::new();
    for part in q.exclude.as_deref().unwrap_or("").split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let id: i64 = part
            .parse()
            .map_err(|_| AppError::invalid("exclude", format!("{part:?} is not a title id")))?;
        exclude.push(id);
    }
    if exclude.len() > 500 {
        return Err(AppError::invalid("exclude", "at most 500 ids").into());
    }
    crate::recs::ensure_catalog(&state).await;
    let entry = crate::recs::cache::entry(&state, user.account.id, id).await?;
    let p = &entry.profile;
    let snap = state.recs.snapshot();
    let mut warnings = Vec::new();
    let mut genres = Vec::new();
    for c in q.category.as_deref().unwrap_or("").split(',') {
        let c = c.trim();
        if c.is_empty() {
            continue;
        }
        match snap.cat.genre(c) {
            Some(g) => genres.push(g),
            None => warnings.push(format!("unknown category {c:?} ignored")),
        }
    }
    if genres.is_empty() && q.category.as_deref().is_some_and(|c| !c.trim().is_empty()) {
        warnings.push("no known category: recommending from all".into());
    }
    let head = entry.ranking(&state, &snap);
    let (items, model) = page::recommend(
        &snap,
        state.recs.config(),
        &head,
        &entry.signals,
        &genres,
        &exclude,
        offset as usize,
        n as usize,
    );
    state.recs.log_impression(marquee_store::home::Impression {
        profile_id: p.id,
        surface: "recommendations",
        experiment: None,
        rows: vec![(
            "recommendations".into(),
            items.iter().map(|i| i.title_id).collect(),
        )],
        at: state.clock.now_ms(),
    });
    Ok(Json(RecommendationsResponse {
        profile_id: p.id,
        model,
        offset,
        items,
        warnings,
    }))
}

/// Similar-title parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SimilarParams {
    /// 1 to 100, default 20.
    n: Option<u32>,
}

/// "More like this".
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarResponse {
    /// The title.
    pub title_id: i64,
    /// Similar titles, most similar first.
    pub items: Vec<RowTitle>,
}

/// "More like this": the titles most related to one (for a logged-in profile,
/// without its seen, hidden and thumbed titles, and within its maturity).
#[utoipa::path(get, path = "/api/v1/titles/{id}/similar", tag = "home",
    params(("id" = i64, Path), SimilarParams),
    responses((status = 200, body = SimilarResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn similar(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<SimilarParams>,
) -> Result<Json<SimilarResponse>, ApiError> {
    let n = match q.n {
        None => 20,
        Some(n) if (1..=100).contains(&n) => n,
        Some(_) => return Err(AppError::invalid("n", "must be 1 to 100").into()),
    };
    crate::recs::ensure_catalog(&state).await;
    let snap = state.recs.snapshot();
    if snap.cat.pos(id).is_none() {
        return Err(AppError::NotFound(format!("title {id} not found")).into());
    }
    if let Some(u) = &user {
        crate::library::check_visible_for(&state, u, id).await?;
    }
    let mut prof = None;
    if let Some(pid) = user.as_ref().and_then(|u| u.profile_id) {
        if let Some(p) = state.store.profile(pid).await? {
            prof = Some(serve::load_profile(&state, &p).await?);
        }
    }
    let items = page::similar(&snap, prof.as_ref(), id, n as usize);
    if let Some(p) = &prof {
        state.recs.log_impression(marquee_store::home::Impression {
            profile_id: p.id,
            surface: "similar",
            experiment: None,
            rows: vec![(
                format!("similar:{id}"),
                items.iter().map(|i| i.title_id).collect(),
            )],
            at: state.clock.now_ms(),
        });
    }
    Ok(Json(SimilarResponse {
        title_id: id,
        items,
    }))
}

/// One piece of feedback.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackItem {
    /// The title.
    pub title_id: i64,
    /// `down`, `up`, `double_up`, `clear` (the thumb), `hide`, `unhide`, or `click`
    /// (a click on a recommendation, logged for metrics and training).
    pub action: String,
    /// For `click`: the row it was in (e.g. `top_picks`).
    #[serde(default)]
    pub row: Option<String>,
}

/// A batch of feedback for one profile, applied all or nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// The profile (one of the caller's).
    pub profile_id: i64,
    /// 1 to 100 items, applied in order.
    pub items: Vec<FeedbackItem>,
}

/// What a feedback batch did.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackResponse {
    /// Items applied.
    pub applied: usize,
}

/// Thumbs, hides and clicks, in one batch. The next page load reflects them.
#[utoipa::path(post, path = "/api/v1/feedback", tag = "home", request_body = FeedbackRequest,
    responses((status = 200, body = FeedbackResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn feedback(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<FeedbackRequest>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    if req.items.is_empty() || req.items.len() > 100 {
        return Err(AppError::invalid("items", "give 1 to 100 items").into());
    }
    let mut actions = Vec::new();
    let mut clicks = Vec::new();
    for (i, it) in req.items.iter().enumerate() {
        let a = match it.action.as_str() {
            "down" => FeedbackAction::Thumb(Some(Thumb::Down)),
            "up" => FeedbackAction::Thumb(Some(Thumb::Up)),
            "double_up" => FeedbackAction::Thumb(Some(Thumb::DoubleUp)),
            "clear" => FeedbackAction::Thumb(None),
            "hide" => FeedbackAction::Hide,
            "unhide" => FeedbackAction::Unhide,
            "click" => {
                clicks.push((it.title_id, it.row.clone().unwrap_or_else(|| "api".into())));
                continue;
            }
            other => {
                return Err(AppError::invalid(
                    format!("items[{i}].action"),
                    format!(
                    "unknown action {other:?} (down, up, double_up, clear, hide, unhide, click)"
                ),
                )
                .into())
            }
        };
        actions.push((it.title_id, a));
    }
    let p = service::own_profile(&state, &user, req.profile_id).await?;
    crate::recs::ensure_catalog(&state).await;
    let snap = state.recs.snapshot();
    for (i, it) in req.items.iter().enumerate() {
        if it.action == "click" && snap.cat.pos(it.title_id).is_none() {
            return Err(
                AppError::NotFound(format!("items[{i}]: title {} not found", it.title_id)).into(),
            );
        }
    }
    state
        .store
        .apply_feedback(p.id, &actions, state.clock.now_ms())
        .await?;
    for (t, row) in clicks {
        serve::log_click(&state, p.id, t, &row);
    }
    Ok(Json(FeedbackResponse {
        applied: req.items.len(),
    }))
}

/// Cold start: titles the new profile likes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnboardingRequest {
    /// At least 3 (at most 50) title ids.
    pub title_ids: Vec<i64>,
}

/// Onboarding: at least three liked titles become thumbs up, and the profile's
/// rows are personal at once.
#[utoipa::path(post, path = "/api/v1/profiles/{id}/onboarding", tag = "home",
    params(("id" = i64, Path)), request_body = OnboardingRequest,
    responses((status = 200, body = HomePage), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn onboarding(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<OnboardingRequest>,
) -> Result<Response, ApiError> {
    let p = service::own_profile(&state, &user, id).await?;
    apply_picks(&state, p.id, &req.title_ids).await?;
    let (page, _) = serve::home(&state, &p).await?;
    Ok(Json(&*page).into_response())
}

/// The recommender's model, training progress and latest runs.
#[utoipa::path(get, path = "/api/v1/staff/recs", tag = "home",
    responses((status = 200, body = RecsStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn recs_status(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<Json<RecsStatus>, ApiError> {
    Ok(Json(status(&state).await?))
}

/// Retrains now, in the background (the served model keeps serving until the
/// new one is swapped in). Follow progress on `GET /api/v1/staff/recs`.
#[utoipa::path(post, path = "/api/v1/staff/recs/train", tag = "home",
    responses((status = 202, body = RecsStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn recs_train(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<(StatusCode, Json<RecsStatus>), ApiError> {
    state.recs.request_training();
    Ok((StatusCode::ACCEPTED, Json(status(&state).await?)))
}

/// Experiments with per-variant click-through, play-start and completion rates
/// (95 % Wilson intervals).
#[utoipa::path(get, path = "/api/v1/staff/experiments", tag = "home",
    responses((status = 200, body = Vec<ExperimentReport>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_experiments(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<Json<Vec<ExperimentReport>>, ApiError> {
    Ok(Json(reports(&state).await?))
}

/// Defines and starts an A/B experiment: profiles are assigned to variants by a
/// hash of the experiment and profile ids.
#[utoipa::path(post, path = "/api/v1/staff/experiments", tag = "home", request_body = NewExperiment,
    responses((status = 201, body = Experiment), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create_experiment(
    State(state): State<AppState>,
    _staff: Staff,
    ApiJson(req): ApiJson<NewExperiment>,
) -> Result<(StatusCode, Json<Experiment>), ApiError> {
    Ok((StatusCode::CREATED, Json(create(&state, req).await?)))
}

/// Stops an experiment (its log and metrics stay).
#[utoipa::path(post, path = "/api/v1/staff/experiments/{id}/stop", tag = "home", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn stop_experiment(
    State(state): State<AppState>,
    _staff: Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .stop_experiment(id, state.clock.now_ms())
        .await?;
    state.recs.reload_experiments(state.store.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
