//! The library API: an admin posts a catalog feed (the format of
//! `docs/catalog-feed.md`). Rules and parsing are the library service's.

use crate::auth::Admin;
use crate::error::{ApiError, ErrorBody};
use crate::library;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// The library's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(post_feed),
    components(schemas(FeedImported, FeedRejection)),
    tags((name = "catalog"))
)]
pub struct Doc;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/staff/catalog/feed", post(post_feed))
}

/// One line, field or file not imported.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedRejection {
    /// The feed's name (`feed`).
    file: String,
    /// 1-based line.
    line: Option<u64>,
    /// The field's path, e.g. `seasons[0].episodes[2].runtime_min`.
    field: Option<String>,
    /// Why.
    message: String,
}

/// What the import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedImported {
    /// New titles (movies, series, episodes).
    added: u64,
    /// Known titles whose metadata changed.
    updated: u64,
    /// Known titles, as they were.
    unchanged: u64,
    /// Every line or field that was not imported.
    rejected: Vec<FeedRejection>,
}

/// Imports a catalog feed (JSON Lines, header first). Idempotent: titles
/// are recognised by their TMDb, IMDb or TVDb id; a second post of the same
/// feed reports every title unchanged. Bad lines are rejected with their
/// line and field; the others are imported.
#[utoipa::path(post, path = "/api/v1/staff/catalog/feed", tag = "catalog",
    request_body(content = String, content_type = "application/x-ndjson",
        description = "The feed: a header line, then one movie or series per line"),
    responses((status = 200, body = FeedImported), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn post_feed(
    State(state): State<AppState>,
    Admin(admin): Admin,
    body: Bytes,
) -> Result<Json<FeedImported>, ApiError> {
    let r = library::import_posted_feed(&state, &admin, &body).await?;
    Ok(Json(FeedImported {
        added: r.added,
        updated: r.updated,
        unchanged: r.unchanged,
        rejected: r
            .rejected
            .into_iter()
            .map(|x| FeedRejection {
                file: x.file,
                line: x.line,
                field: x.field,
                message: x.message,
            })
            .collect(),
    }))
}
