//! Artwork files (`/art/{etag}.jpg`) and the admins' catalog editor
//! (`/staff/catalog`): find a title (hidden ones too), create movies,
//! series and episodes, edit fields, maturity and availability, hide,
//! upload artwork, read the audit trail. The library service does the work.

use super::{render, render_status, Layout, Page, PageForm};
use crate::auth::Admin;
use crate::error::{AppError, PageError};
use crate::library::art::{self, Picture};
use crate::library::editor;
use crate::AppState;
use askama::Template;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use marquee_catalog::ArtKind;
use marquee_domain::catalog::TitleFields;
use marquee_domain::{Millis, TitleKind};
use marquee_store::library::{CatalogAuditEntry, EditorRow};
use serde::Deserialize;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/art/{file}", get(picture))
        .route("/staff/catalog", get(list).post(create))
        .route("/staff/catalog/{id}", get(detail).post(save))
        .route(
            "/staff/catalog/{id}/artwork",
            post(upload).layer(DefaultBodyLimit::max(editor::MAX_UPLOAD + 64 * 1024)),
        )
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

#[derive(Debug, Default, Deserialize)]
struct ListParams {
    #[serde(default)]
    q: String,
    page: Option<u32>,
}

#[derive(Template)]
#[template(path = "library/editor_list.html")]
struct ListPage {
    l: Layout,
    /// Playback on this server (ffmpeg, ffprobe, unreadable files).
    media: crate::media::MediaHealth,
    q: String,
    titles: Vec<EditorRow>,
    page: u32,
    has_more: bool,
    ratings: Vec<String>,
    error: Option<String>,
    form: NewForm,
}

async fn list_page(
    state: &AppState,
    l: Layout,
    p: ListParams,
    error: Option<String>,
    form: NewForm,
) -> Result<ListPage, AppError> {
    let page = p.page.unwrap_or(1).clamp(1, 100_000);
    let mut titles = editor::list(state, &p.q, page).await?;
    let has_more = titles.len() > editor::PAGE as usize;
    titles.truncate(editor::PAGE as usize);
    let media = editor::media_health(state).await?;
    Ok(ListPage {
        l,
        media,
        q: p.q,
        titles,
        page,
        has_more,
        ratings: editor::rating_codes(state),
        error,
        form,
    })
}

async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
    Query(p): Query<ListParams>,
) -> Result<Html<String>, PageError> {
    let view = list_page(&state, page.l, p, None, NewForm::default()).await?;
    render(&view)
}

/// The editor's form, as the browser sends it (empty means none).
#[derive(Debug, Default, Clone, Deserialize)]
struct FieldsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    synopsis: String,
    #[serde(default)]
    runtime_min: String,
    #[serde(default)]
    release_date: String,
    #[serde(default)]
    maturity: String,
    #[serde(default)]
    available_from: String,
    #[serde(default)]
    available_until: String,
    hidden: Option<String>,
}

/// `YYYY-MM-DD` (a date input) as ms at midnight UTC.
fn day_ms(field: &'static str, s: &str) -> Result<Option<Millis>, AppError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &format)
        .map_err(|_| AppError::invalid(field, "must be a date like 2026-12-24"))?;
    Ok(Some(
        d.midnight()
            .assume_utc()
            .unix_timestamp()
            .saturating_mul(1000),
    ))
}

/// ms as the date input shows it.
fn day_of(ms: Option<Millis>) -> String {
    ms.and_then(|ms| time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok())
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_default()
}

fn number<T: std::str::FromStr>(field: &'static str, s: &str) -> Result<Option<T>, AppError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| AppError::invalid(field, "must be a whole number"))
}

impl FieldsForm {
    fn fields(&self) -> Result<TitleFields, AppError> {
        Ok(TitleFields {
            name: self.name.clone(),
            year: number("year", &self.year)?,
            synopsis: Some(self.synopsis.clone()),
            runtime_s: number::<i64>("runtime_min", &self.runtime_min)?.map(|m| m * 60),
            release_date: Some(self.release_date.clone()),
            maturity: Some(self.maturity.clone()),
            available_from: day_ms("available_from", &self.available_from)?,
            available_until: day_ms("available_until", &self.available_until)?,
            hidden: self.hidden.is_some(),
        })
    }

    fn of(f: &TitleFields) -> FieldsForm {
        FieldsForm {
            name: f.name.clone(),
            year: f.year.map(|y| y.to_string()).unwrap_or_default(),
            synopsis: f.synopsis.clone().unwrap_or_default(),
            runtime_min: f
                .runtime_s
                .map(|s| (s / 60).to_string())
                .unwrap_or_default(),
            release_date: f.release_date.clone().unwrap_or_default(),
            maturity: f.maturity.clone().unwrap_or_default(),
            available_from: day_of(f.available_from),
            available_until: day_of(f.available_until),
            hidden: f.hidden.then(|| "on".to_owned()),
        }
    }
}

/// The "new title" form.
#[derive(Debug, Default, Clone, Deserialize)]
struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    maturity: String,
    #[serde(default)]
    series_id: String,
    #[serde(default)]
    season: String,
    #[serde(default)]
    episode: String,
}

async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    page: Page,
    PageForm(f): PageForm<NewForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = async {
        let kind = match f.kind.as_str() {
            "movie" => TitleKind::Movie,
            "series" => TitleKind::Series,
            "episode" => TitleKind::Episode,
            _ => return Err(AppError::invalid("kind", "choose movie, series or episode")),
        };
        let episode_of = match kind {
            TitleKind::Episode => Some((
                number("series_id", &f.series_id)?
                    .ok_or_else(|| AppError::invalid("series_id", "give the series' number"))?,
                number("season", &f.season)?.unwrap_or(1),
                number("episode", &f.episode)?
                    .ok_or_else(|| AppError::invalid("episode", "give the episode's number"))?,
            )),
            _ => None,
        };
        let fields = TitleFields {
            name: f.name.clone(),
            year: number("year", &f.year)?,
            maturity: Some(f.maturity.clone()),
            ..TitleFields::default()
        };
        editor::create(&state, &admin, kind, fields, episode_of).await
    }
    .await;
    match result {
        Ok(id) => Ok(Redirect::to(&format!("/staff/catalog/{id}?done=created")).into_response()),
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 404 => {
            let status = e.status();
            let view = list_page(
                &state,
                page.l,
                ListParams::default(),
                Some(e.to_string()),
                f,
            )
            .await?;
            Ok(render_status(status, &view))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "library/editor_title.html")]
struct TitlePage {
    l: Layout,
    id: i64,
    kind: TitleKind,
    form: FieldsForm,
    ratings: Vec<String>,
    poster: Option<Picture>,
    backdrop: Option<Picture>,
    /// What Play does, in words (movies and episodes).
    playback: Option<String>,
    audit: Vec<CatalogAuditEntry>,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DetailParams {
    done: Option<String>,
}

async fn title_page(
    state: &AppState,
    l: Layout,
    id: i64,
    form: Option<FieldsForm>,
    error: Option<String>,
    done: Option<String>,
) -> Result<TitlePage, AppError> {
    let (kind, fields) = editor::fields(state, id).await?;
    let art = editor::pictures(state, id).await?;
    Ok(TitlePage {
        l,
        id,
        kind,
        form: form.unwrap_or_else(|| FieldsForm::of(&fields)),
        ratings: editor::rating_codes(state),
        poster: art
            .picture(id, "poster", "card")
            .or_else(|| art.picture(id, "thumb", "thumb")),
        backdrop: art.picture(id, "backdrop", "backdrop"),
        playback: editor::playback_status(state, id).await?,
        audit: editor::audit(state, id).await?,
        error,
        done: done.map(|d| match d.as_str() {
            "created" => "Created. Fill in the rest below.".to_owned(),
            "saved" => "Saved. The change is in the history below.".to_owned(),
            "unchanged" => "Nothing had changed.".to_owned(),
            "artwork" => "Picture uploaded.".to_owned(),
            _ => "Done.".to_owned(),
        }),
    })
}

async fn detail(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
    Path(id): Path<i64>,
    Query(p): Query<DetailParams>,
) -> Result<Html<String>, PageError> {
    render(&title_page(&state, page.l, id, None, None, p.done).await?)
}

#[derive(Debug, Deserialize)]
struct SaveForm {
    csrf: String,
    #[serde(flatten)]
    fields: FieldsForm,
}

async fn save(
    State(state): State<AppState>,
    Admin(admin): Admin,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<SaveForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = async {
        let fields = f.fields.fields()?;
        editor::edit(&state, &admin, id, fields).await
    }
    .await;
    let result = result.map(|changes| {
        if changes.is_empty() {
            "unchanged"
        } else {
            "saved"
        }
    });
    title_answer(&state, page, id, result, Some(f.fields)).await
}

/// Answers an editor form: back to the title with a confirmation, or the
/// title's page again with the refusal (and what was typed).
async fn title_answer(
    state: &AppState,
    page: Page,
    id: i64,
    result: Result<&str, AppError>,
    form: Option<FieldsForm>,
) -> Result<Response, PageError> {
    match result {
        Ok(done) => Ok(Redirect::to(&format!("/staff/catalog/{id}?done={done}")).into_response()),
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 404 => {
            let status = e.status();
            let view = title_page(state, page.l, id, form, Some(e.to_string()), None).await?;
            Ok(render_status(status, &view))
        }
        Err(e) => Err(e.into()),
    }
}

/// `multipart/form-data`: `csrf` first, then `kind` and `file`.
async fn upload(
    State(state): State<AppState>,
    Admin(admin): Admin,
    page: Page,
    Path(id): Path<i64>,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let forbidden = super::csrf_failed;
    let mut mp = mp.map_err(|_| forbidden())?;
    let (mut csrf_ok, mut kind, mut file) = (false, None, None);
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| AppError::invalid("file", e.to_string()))?
    {
        match field.name() {
            Some("csrf") => {
                let v = field.text().await.map_err(|_| forbidden())?;
                csrf_ok = page.check_csrf(&v).is_ok();
            }
            Some("kind") if csrf_ok => {
                let v = field
                    .text()
                    .await
                    .map_err(|e| AppError::invalid("kind", e.to_string()))?;
                kind = ArtKind::parse(&v);
            }
            Some("file") if csrf_ok => {
                let b = field
                    .bytes()
                    .await
                    .map_err(|_| AppError::invalid("file", "the picture is larger than 20 MB"))?;
                file = Some(b.to_vec());
            }
            _ if !csrf_ok => return Err(forbidden()),
            _ => {}
        }
    }
    if !csrf_ok {
        return Err(forbidden());
    }
    let result = async {
        let kind =
            kind.ok_or_else(|| AppError::invalid("kind", "choose poster, backdrop or still"))?;
        let file = file
            .filter(|f| !f.is_empty())
            .ok_or_else(|| AppError::invalid("file", "choose a picture"))?;
        editor::upload_artwork(&state, &admin, id, kind, file).await
    }
    .await;
    title_answer(&state, page, id, result.map(|_| "artwork"), None).await
}
