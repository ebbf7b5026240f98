//! The library API: an admin posts a catalog feed (the format of
//! `docs/catalog-feed.md`) and edits titles (the catalog editor). Rules
//! and parsing are the library service's.

use crate::auth::Admin;
use crate::error::{ApiError, ApiPath, ApiQuery, AppError, ErrorBody};
use crate::library::{self, editor};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use marquee_catalog::ArtKind;
use marquee_domain::catalog::TitleFields;
use marquee_domain::{Millis, TitleKind};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The library's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(post_feed, list_titles, create_title, get_title, edit_title, upload_artwork, title_audit),
    components(schemas(FeedImported, FeedRejection, EditorTitle, TitleInput, TitleEdited,
        TitleCreated, ArtworkUploaded, TitleAuditEntry)),
    tags((name = "catalog"))
)]
pub struct Doc;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/catalog/feed", post(post_feed))
        .route("/staff/titles", get(list_titles).post(create_title))
        .route("/staff/titles/{id}", get(get_title).patch(edit_title))
        .route(
            "/staff/titles/{id}/artwork/{kind}",
            put(upload_artwork).layer(DefaultBodyLimit::max(editor::MAX_UPLOAD + 1)),
        )
        .route("/staff/titles/{id}/audit", get(title_audit))
}

/// A present field: `Some(None)` for `null`, `Some(Some(v))` for a value
/// (an absent one stays `None` by `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A title as the editor shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditorTitle {
    /// Id.
    id: i64,
    /// Movie, series or episode.
    kind: TitleKind,
    /// Name.
    name: String,
    /// Year.
    year: Option<i32>,
    /// Synopsis.
    synopsis: Option<String>,
    /// Running time in minutes.
    runtime_min: Option<i64>,
    /// `YYYY-MM-DD`.
    release_date: Option<String>,
    /// The rating code (`PG-13`).
    maturity: Option<String>,
    /// Available from, ms.
    available_from: Option<Millis>,
    /// Available until, ms.
    available_until: Option<Millis>,
    /// Hidden from viewers.
    hidden: bool,
}

fn editor_title(id: i64, kind: TitleKind, f: TitleFields) -> EditorTitle {
    EditorTitle {
        id,
        kind,
        name: f.name,
        year: f.year,
        synopsis: f.synopsis,
        runtime_min: f.runtime_s.map(|s| s / 60),
        release_date: f.release_date,
        maturity: f.maturity,
        available_from: f.available_from,
        available_until: f.available_until,
        hidden: f.hidden,
    }
}

/// A title's fields to create or change. In a `PATCH`, an absent field is
/// left as it is and `null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TitleInput {
    /// Creation only: `movie`, `series` or `episode`.
    kind: Option<TitleKind>,
    /// Name (1 to 500 characters).
    name: Option<String>,
    /// 1870 to 2100.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i32>)]
    year: Option<Option<i32>>,
    /// At most 10,000 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    synopsis: Option<Option<String>>,
    /// 1 to 1440.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    runtime_min: Option<Option<u32>>,
    /// `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    release_date: Option<Option<String>>,
    /// An MPAA or TV rating, or one of `[catalog] ratings`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    maturity: Option<Option<String>>,
    /// ms since the epoch.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    available_from: Option<Option<Millis>>,
    /// ms since the epoch; after `available_from`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    available_until: Option<Option<Millis>>,
    /// Hidden from viewers.
    hidden: Option<bool>,
    /// Creation of an episode: its series.
    series_id: Option<i64>,
    /// Creation of an episode: its season (0: specials).
    season: Option<i64>,
    /// Creation of an episode: its number in the season.
    episode: Option<i64>,
}

impl TitleInput {
    /// `base` with the given fields applied.
    fn apply(self, mut base: TitleFields) -> TitleFields {
        if let Some(n) = self.name {
            base.name = n;
        }
        if let Some(v) = self.year {
            base.year = v;
        }
        if let Some(v) = self.synopsis {
            base.synopsis = v;
        }
        if let Some(v) = self.runtime_min {
            base.runtime_s = v.map(|m| i64::from(m) * 60);
        }
        if let Some(v) = self.release_date {
            base.release_date = v;
        }
        if let Some(v) = self.maturity {
            base.maturity = v;
        }
        if let Some(v) = self.available_from {
            base.available_from = v;
        }
        if let Some(v) = self.available_until {
            base.available_until = v;
        }
        if let Some(h) = self.hidden {
            base.hidden = h;
        }
        base
    }
}

/// Editor list parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EditorListParams {
    /// Name contains (case-insensitive).
    q: Option<String>,
    /// 1-based page of 50.
    page: Option<u32>,
}

/// Movies and series, newest first, hidden ones included (admins).
#[utoipa::path(get, path = "/api/v1/staff/titles", tag = "catalog", params(EditorListParams),
    responses((status = 200, body = Vec<EditorTitle>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn list_titles(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(p): ApiQuery<EditorListParams>,
) -> Result<Json<Vec<EditorTitle>>, ApiError> {
    let mut rows = editor::list(&state, p.q.as_deref().unwrap_or(""), p.page.unwrap_or(1)).await?;
    rows.truncate(editor::PAGE as usize);
    Ok(Json(
        rows.into_iter()
            .map(|r| EditorTitle {
                id: r.id,
                kind: r.kind,
                name: r.name,
                year: r.year,
                synopsis: None,
                runtime_min: None,
                release_date: None,
                maturity: r.maturity,
                available_from: None,
                available_until: None,
                hidden: r.hidden,
            })
            .collect(),
    ))
}

/// The new title's id.
#[derive(Debug, Serialize, ToSchema)]
pub struct TitleCreated {
    /// Id.
    id: i64,
}

/// Creates a movie, a series, or an episode (with `series_id`, `season`,
/// `episode`; the season is made when missing). Audited.
#[utoipa::path(post, path = "/api/v1/staff/titles", tag = "catalog", request_body = TitleInput,
    responses((status = 201, body = TitleCreated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create_title(
    State(state): State<AppState>,
    Admin(admin): Admin,
    crate::error::ApiJson(b): crate::error::ApiJson<TitleInput>,
) -> Result<(StatusCode, Json<TitleCreated>), ApiError> {
    let kind = b
        .kind
        .ok_or_else(|| AppError::invalid("kind", "is required: movie, series or episode"))?;
    let episode_of = match (b.series_id, b.season, b.episode) {
        (None, None, None) => None,
        (Some(s), Some(season), Some(e)) => Some((s, season, e)),
        _ => {
            return Err(AppError::invalid(
                "series_id",
                "an episode needs series_id, season and episode together",
            )
            .into())
        }
    };
    let fields = b.apply(TitleFields::default());
    let id = editor::create(&state, &admin, kind, fields, episode_of).await?;
    Ok((StatusCode::CREATED, Json(TitleCreated { id })))
}

/// A title's editable fields (admins; hidden titles too).
#[utoipa::path(get, path = "/api/v1/staff/titles/{id}", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = EditorTitle), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn get_title(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<EditorTitle>, ApiError> {
    let (kind, f) = editor::fields(&state, id).await?;
    Ok(Json(editor_title(id, kind, f)))
}

/// What an edit changed, as the audit trail records it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TitleEdited {
    /// The title after the edit.
    title: EditorTitle,
    /// One sentence per changed field (empty: nothing changed).
    changes: Vec<String>,
}

/// Changes a title's fields: maturity, availability window, hidden, and
/// the rest. Absent fields stay; `null` clears. Audited.
#[utoipa::path(patch, path = "/api/v1/staff/titles/{id}", tag = "catalog", params(("id" = i64, Path)),
    request_body = TitleInput,
    responses((status = 200, body = TitleEdited), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn edit_title(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<i64>,
    crate::error::ApiJson(b): crate::error::ApiJson<TitleInput>,
) -> Result<Json<TitleEdited>, ApiError> {
    if b.kind.is_some() || b.series_id.is_some() || b.season.is_some() || b.episode.is_some() {
        return Err(AppError::invalid("kind", "a title's kind and place cannot be changed").into());
    }
    let (_, before) = editor::fields(&state, id).await?;
    let changes = editor::edit(&state, &admin, id, b.apply(before)).await?;
    let (kind, f) = editor::fields(&state, id).await?;
    Ok(Json(TitleEdited {
        title: editor_title(id, kind, f),
        changes,
    }))
}

/// The renditions an upload made.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtworkUploaded {
    /// `[size, width, height]` per rendition.
    renditions: Vec<(String, u32, u32)>,
}

/// Replaces a title's `poster`, `backdrop` or `thumb` with the picture in
/// the body (PNG, JPEG, GIF or WebP; at most 20 MB and 50 megapixels).
/// Audited.
#[utoipa::path(put, path = "/api/v1/staff/titles/{id}/artwork/{kind}", tag = "catalog",
    params(("id" = i64, Path), ("kind" = String, Path, description = "poster, backdrop or thumb")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = ArtworkUploaded), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn upload_artwork(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath((id, kind)): ApiPath<(i64, String)>,
    body: Bytes,
) -> Result<Json<ArtworkUploaded>, ApiError> {
    let kind = ArtKind::parse(&kind)
        .ok_or_else(|| AppError::invalid("kind", "must be poster, backdrop or thumb"))?;
    let renditions = editor::upload_artwork(&state, &admin, id, kind, body.to_vec()).await?;
    Ok(Json(ArtworkUploaded { renditions }))
}

/// One entry of a title's audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct TitleAuditEntry {
    /// When, ms.
    at: Millis,
    /// The staff member (`null` once their account is deleted).
    by: Option<String>,
    /// `created`, `edited`, `artwork`.
    action: String,
    /// What changed, one sentence per item.
    changes: Vec<String>,
}

/// A title's audit trail, newest first (admins).
#[utoipa::path(get, path = "/api/v1/staff/titles/{id}/audit", tag = "catalog", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<TitleAuditEntry>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn title_audit(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<TitleAuditEntry>>, ApiError> {
    Ok(Json(
        editor::audit(&state, id)
            .await?
            .into_iter()
            .map(|a| TitleAuditEntry {
                at: a.at,
                by: a.actor,
                action: a.action,
                changes: a.summary.lines().map(str::to_owned).collect(),
            })
            .collect(),
    ))
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
