//! Artwork files (`/art/{etag}.jpg`), served by the library service.

use crate::error::{AppError, PageError};
use crate::library::art;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/art/{file}", get(picture))
}

async fn picture(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    art::serve(&state, &file, inm)
        .await
        .map_err(|e: AppError| PageError(e))
}
