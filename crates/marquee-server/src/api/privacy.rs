//! Privacy: the signed-in customer's data export and account deletion.

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiJson, ErrorBody};
use crate::privacy;
use crate::service;
use crate::wire::privacy::{AccountExport, DeletionReport};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

/// The privacy part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(export, delete_account),
    components(schemas(AccountExport, DeletionReport, DeleteAccountRequest)),
    tags((name = "privacy", description = "Export my data, delete my account"))
)]
pub struct Doc;

/// The routes, nested under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/export", get(export))
        .route("/account/delete", post(delete_account))
}

/// Everything stored about the signed-in account, as a JSON file to keep
/// (`Content-Disposition: attachment`): the account (no password hash),
/// profiles, devices, history, thumbs, playback, ideas, votes, comments,
/// support conversations, perks, linked handles, notifications and
/// notification settings,
/// subscription events and sessions (times only).
#[utoipa::path(get, path = "/api/v1/account/export", tag = "privacy",
    responses((status = 200, body = AccountExport), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn export(State(state): State<AppState>, user: CurrentUser) -> Result<Response, ApiError> {
    let doc = privacy::export(&state, &user).await?;
    let name = format!(
        "attachment; filename=\"marquee-export-{}.json\"",
        user.account.id
    );
    Ok(([(header::CONTENT_DISPOSITION, name)], Json(doc)).into_response())
}

/// Account deletion body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The account's password, again.
    password: String,
}

/// Deletes the signed-in account for good, in one transaction: personal
/// data and everything the account wrote are erased; subscription events
/// stay for counts over time without the account or its words. The session
/// ends (the cookie is cleared). 403 on `password` when the password is
/// wrong (failures are counted like a password change's, then 429); 403
/// for staff accounts.
#[utoipa::path(post, path = "/api/v1/account/delete", tag = "privacy",
    request_body = DeleteAccountRequest,
    responses((status = 200, body = DeletionReport), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn delete_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    ApiJson(b): ApiJson<DeleteAccountRequest>,
) -> Result<Response, ApiError> {
    let report = privacy::delete_account(&state, &user, &b.password).await?;
    let cookie = service::clear_session_cookie(service::secure_cookies(&state, &headers));
    Ok(([(header::SET_COOKIE, cookie)], Json(report)).into_response())
}
