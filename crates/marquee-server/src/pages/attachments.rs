//! Support attachments from the pages: the agent's conversation view and the
//! customer's transcript each have a multipart form (file, optional text,
//! for staff "internal note") posting here. The form's `csrf` field comes
//! first and is checked before the file is read; a body that is not
//! multipart, or whose first field is not the right token, is a 403.

use super::csrf_failed;
use super::Page;
use crate::auth::Staff;
use crate::error::{AppError, PageError};
use crate::support::attachments;
use crate::AppState;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::Redirect;
use axum::routing::post;
use axum::Router;

/// The attachment form routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/staff/support/conversations/{id}/attachments",
            post(staff_submit).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/support/conversations/{id}/attachments",
            post(customer_submit).layer(DefaultBodyLimit::disable()),
        )
}

async fn receive(
    state: &AppState,
    page: &Page,
    id: i64,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<(), PageError> {
    let user = page
        .user
        .clone()
        .ok_or_else(|| PageError(AppError::Unauthorized("log in first".into())))?;
    let mp = mp.map_err(|_| csrf_failed())?;
    let up = attachments::read_upload(
        mp,
        state.config.support.attachment_max_bytes,
        Some(page.l.csrf.as_str()),
    )
    .await?;
    attachments::send(state, &user, id, up).await?;
    Ok(())
}

async fn staff_submit(
    State(state): State<AppState>,
    Staff(_): Staff,
    page: Page,
    Path(id): Path<i64>,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Redirect, PageError> {
    receive(&state, &page, id, mp).await?;
    Ok(Redirect::to(&format!("/staff/support/conversations/{id}")))
}

async fn customer_submit(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Redirect, PageError> {
    receive(&state, &page, id, mp).await?;
    Ok(Redirect::to(&format!(
        "/support/conversations/{id}/transcript"
    )))
}
