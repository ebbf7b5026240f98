//! Server-rendered pages (askama + htmx).
//!
//! Every page gets a [`Layout`] from the [`Page`] extractor: who is logged in,
//! the selected profile, and the CSRF token its forms must carry. All text is
//! escaped by askama; nothing from the outside is marked safe.

use crate::auth::{self, AuthRejection, ClientIp, CurrentUser};
use crate::error::{AppError, PageError};
use crate::service;
use crate::AppState;
use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use marquee_domain::{Account, GenreCount, Profile, Role, Thumb, TitleDetail, TitleSummary};
use marquee_store::{TitleQuery, TitleSort};
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub mod account;
pub mod attachments;
pub mod changes;
pub mod help;
pub mod home;
pub mod ideas;
pub mod library;
pub mod listening;
pub mod overview;
pub mod perks;
pub mod playback;
pub mod staff_accounts;
pub mod stream;
pub mod support;

const HTMX_JS: &str = include_str!("../../static/htmx.min.js");
const APP_CSS: &str = include_str!("../../static/app.css");
/// The site's own link-preview image (made by marquee-artwork's `share_image` example).
const SHARE_JPG: &[u8] = include_bytes!("../../static/share.jpg");
const LIVE_JS: &str = include_str!("../../static/live.js");
const SITE_JS: &str = include_str!("../../static/site.js");
/// The favicon and the app icons (made by marquee-artwork's `app_icons` example).
const ICON_SVG: &str = include_str!("../../static/icon.svg");
const ICON_192: &[u8] = include_bytes!("../../static/icon-192.png");
const ICON_512: &[u8] = include_bytes!("../../static/icon-512.png");
/// The web app manifest: the site installs to a phone's home screen.
const MANIFEST: &str = r##"{
  "name": "Marquee",
  "short_name": "Marquee",
  "start_url": "/",
  "scope": "/",
  "display": "standalone",
  "background_color": "#111111",
  "theme_color": "#000000",
  "icons": [
    {"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any maskable"},
    {"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any maskable"},
    {"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml"}
  ]
}
"##;

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/genres", get(genres))
        .route("/genres/{name}", get(genre))
        .route("/titles/{id}", get(title))
        .route("/titles/{id}/thumb", post(thumb))
        .route("/search", get(search))
        .route("/login", get(login_page).post(login_submit))
        .route("/signup", get(signup_page).post(signup_submit))
        .route("/logout", post(logout))
        .route("/profiles", get(profiles_page).post(profile_create))
        .route("/profiles/{id}/select", post(profile_select))
        .route("/profiles/{id}/edit", post(profile_edit))
        .route("/profiles/{id}/delete", post(profile_delete))
        .route("/profiles/{id}/pin", post(profile_pin))
        .route(
            "/account/password",
            get(password_page).post(password_submit),
        )
        .merge(staff_accounts::routes())
        .merge(account::routes())
        .merge(help::routes())
        .merge(account::device_routes())
        .merge(ideas::routes())
        .merge(home::routes())
        .merge(listening::routes())
        .merge(perks::routes())
        .merge(overview::routes())
        .merge(changes::routes())
        .merge(static_routes())
        .merge(playback::routes())
        .merge(stream::routes())
        .merge(support::routes())
        .merge(attachments::routes())
        .merge(library::routes())
}

/// The stylesheet, scripts, icons and manifest compiled into the binary,
/// compressed (gzip or brotli, as the browser accepts; pictures and tiny
/// bodies are left alone by the layer's default predicate). Only these:
/// pages and API answers carry the session's CSRF token or a secret next to
/// text a visitor can put there (a search, a name), and compressing those
/// together would leak the secret through the response size (BREACH).
fn static_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/static/htmx.min.js",
            get(|| async { static_file("text/javascript", HTMX_JS) }),
        )
        .route(
            "/static/live.js",
            get(|| async { static_file("text/javascript", LIVE_JS) }),
        )
        .route(
            "/static/site.js",
            get(|| async { static_file("text/javascript", SITE_JS) }),
        )
        .route(
            "/static/share.jpg",
            get(|| async { static_bytes("image/jpeg", SHARE_JPG) }),
        )
        .route(
            "/static/icon.svg",
            get(|| async { static_file("image/svg+xml", ICON_SVG) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { static_bytes("image/png", ICON_192) }),
        )
        .route(
            "/static/icon-192.png",
            get(|| async { static_bytes("image/png", ICON_192) }),
        )
        .route(
            "/static/icon-512.png",
            get(|| async { static_bytes("image/png", ICON_512) }),
        )
        .route(
            "/manifest.webmanifest",
            get(|| async { static_file("application/manifest+json", MANIFEST) }),
        )
        .route(
            "/static/app.css",
            get(|| async { static_file("text/css", APP_CSS) }),
        )
        .layer(tower_http::compression::CompressionLayer::new())
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

fn static_bytes(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

/// The refusal of a form without the session's CSRF token.
fn csrf_error() -> AppError {
    AppError::Forbidden(
        "the form expired or came from another site (CSRF check failed); reload the page and try again".into(),
    )
}

/// [`csrf_error`] as a page, for forms read field by field (multipart).
pub(crate) fn csrf_failed() -> PageError {
    PageError(csrf_error())
}

/// The 404 page (or JSON under `/api`).
pub async fn not_found(req: Request) -> Response {
    let e = AppError::NotFound(format!("nothing at {}", req.uri().path()));
    if req.uri().path().starts_with("/api/") {
        crate::error::ApiError(e).into_response()
    } else {
        PageError(e).into_response()
    }
}

/// The anonymous CSRF token of this request (from the cookie, or newly made).
#[derive(Debug, Clone)]
pub struct AnonCsrf(pub String);

/// Middleware: gives every browser a `marquee_csrf` cookie, used by the
/// anonymous forms (log-in, sign-up) as a double-submit token.
pub async fn csrf_cookie_layer(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    // The JSON API never renders forms: bearer clients need no cookie, and
    // cookie-authenticated writes carry the session's token in a header.
    // Media and static files render none either, and a `Set-Cookie` would
    // keep a CDN from caching them (a signed media link is meant for one).
    let path = req.uri().path();
    if ["/api/", "/media/", "/static/"]
        .iter()
        .any(|p| path.starts_with(p))
    {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let existing = auth::csrf_cookie(&parts).filter(|t| t.len() >= 32);
    let req_headers = existing.is_none().then(|| parts.headers.clone());
    req = Request::from_parts(parts, body);
    let token = existing.clone().unwrap_or_else(auth::random_token);
    req.extensions_mut().insert(AnonCsrf(token.clone()));
    let mut resp = next.run(req).await;
    if existing.is_none() {
        let secure =
            service::secure_cookies(&state, req_headers.as_ref().unwrap_or(&HeaderMap::new()));
        let cookie = format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Strict{}",
            auth::CSRF_COOKIE,
            if secure { "; Secure" } else { "" }
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// What every page's frame needs.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The logged-in e-mail.
    pub email: Option<String>,
    /// The selected profile's name.
    pub profile_name: Option<String>,
    /// Agent or admin.
    pub is_staff: bool,
    /// Admin.
    pub is_admin: bool,
    /// The token forms must carry.
    pub csrf: String,
    /// The confirmation of the action that led here (`?ok=<key>`, see
    /// [`toast_for`]), shown as a toast.
    pub toast: Option<&'static str>,
}

/// The confirmation a redirect after an action asks for with `?ok=<key>`:
/// one table, so that a page cannot be made to show words of a link's
/// choosing.
pub(crate) fn toast_for(key: &str) -> Option<&'static str> {
    Some(match key {
        "profile_saved" => "Profile saved.",
        "profile_added" => "Profile added.",
        "profile_deleted" => "Profile deleted.",
        "pin_set" => "PIN set: the profile now asks for it.",
        "pin_removed" => "PIN removed.",
        "idea_posted" => "Your idea is posted. Others can vote on it now.",
        "comment_posted" => "Comment posted.",
        "rule_saved" => "Rule saved.",
        "rule_on" => "Rule switched on: it awards perks again.",
        "rule_off" => "Rule paused: it awards nothing until switched on.",
        _ => return None,
    })
}

/// A page request: the layout and, when logged in, the user.
#[derive(Debug, Clone)]
pub struct Page {
    /// The frame.
    pub l: Layout,
    /// The user.
    pub user: Option<CurrentUser>,
    /// The selected profile.
    pub profile: Option<Profile>,
}

impl Page {
    /// Checks a submitted form token.
    fn check_csrf(&self, sent: &str) -> Result<(), AppError> {
        if !self.l.csrf.is_empty() && auth::same(sent, &self.l.csrf) {
            Ok(())
        } else {
            Err(csrf_error())
        }
    }
}

async fn build_page(parts: &mut Parts, state: &AppState) -> Result<Page, AuthRejection> {
    let user =
        <CurrentUser as axum::extract::OptionalFromRequestParts<AppState>>::from_request_parts(
            parts, state,
        )
        .await?;
    let anon = parts
        .extensions
        .get::<AnonCsrf>()
        .map(|a| a.0.clone())
        .unwrap_or_default();
    let mut profile = None;
    if let Some(pid) = user.as_ref().and_then(|u| u.profile_id) {
        // A profile deleted since it was selected is no profile; a failing
        // store is an error page with its status, not a trip to /profiles.
        profile = state
            .store
            .profile(pid)
            .await
            .map_err(|e| AuthRejection::new(parts, e.into()))?;
    }
    let l = Layout {
        email: user.as_ref().map(|u| u.account.email.clone()),
        profile_name: profile.as_ref().map(|p| p.name.clone()),
        is_staff: user.as_ref().is_some_and(|u| u.account.role.is_staff()),
        is_admin: user.as_ref().is_some_and(|u| u.account.role == Role::Admin),
        csrf: user.as_ref().map(|u| u.csrf_token.clone()).unwrap_or(anon),
        toast: parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "ok")
                .and_then(|(_, v)| toast_for(&v))
        }),
    };
    Ok(Page { l, user, profile })
}

impl FromRequestParts<AppState> for Page {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<Page>() {
            return Ok(p.clone());
        }
        let page = build_page(parts, state).await?;
        parts.extensions.insert(page.clone());
        Ok(page)
    }
}

/// A urlencoded form whose rejection is a 400 page. Its `csrf` field is
/// checked against the page's token before the form is parsed: a POST
/// without the right token is a 403 whatever else it holds, and no handler
/// runs (the handlers' own `check_csrf` is a second line).
#[derive(Debug)]
pub struct PageForm<T>(pub T);

/// Only the token of a form (other fields ignored; a missing one is empty).
#[derive(Deserialize)]
struct SentCsrf {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned> FromRequest<AppState> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let page = <Page as FromRequestParts<AppState>>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let headers = parts.headers.clone();
        let limit = crate::error::BodyLimit::of(&parts.extensions);
        let bytes = axum::body::Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|r| {
                PageError(crate::error::body_rejection(r, limit, "form")).into_response()
            })?;
        let parse = |bytes: axum::body::Bytes| {
            let mut r = Request::new(axum::body::Body::from(bytes));
            *r.method_mut() = axum::http::Method::POST;
            *r.headers_mut() = headers.clone();
            r
        };
        let sent = axum::Form::<SentCsrf>::from_request(parse(bytes.clone()), state)
            .await
            .map(|axum::Form(f)| f.csrf)
            .unwrap_or_default();
        page.check_csrf(&sent)
            .map_err(|e| PageError(e).into_response())?;
        axum::Form::<T>::from_request(parse(bytes), state)
            .await
            .map(|axum::Form(v)| PageForm(v))
            .map_err(|r| PageError(AppError::invalid("form", r.body_text())).into_response())
    }
}

fn render<T: Template>(t: &T) -> Result<Html<String>, PageError> {
    t.render()
        .map(Html)
        .map_err(|e| PageError(AppError::Internal(format!("template: {e}"))))
}

fn render_status<T: Template>(status: StatusCode, t: &T) -> Response {
    match render(t) {
        Ok(html) => (status, html).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Where a fresh session should land.
fn landing(account: &Account, selected_profile: bool, next: &str) -> String {
    if account.must_change_password {
        "/account/password".into()
    } else if !selected_profile {
        "/profiles".into()
    } else {
        next.to_string()
    }
}

/// A redirect to `to` that sets the new session's cookie (Secure as the
/// request warrants).
pub(crate) fn session_redirect(
    state: &AppState,
    headers: &HeaderMap,
    s: &service::NewSession,
    to: &str,
) -> Response {
    let cookie = service::session_cookie(
        &s.token,
        s.max_age_s,
        service::secure_cookies(state, headers),
    );
    with_cookie(Redirect::to(to).into_response(), &cookie)
}

pub(crate) fn with_cookie(mut resp: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// One genre row on the home page.
#[derive(Debug)]
pub struct GenreRow {
    genre: String,
    slug: String,
    titles: Vec<TitleSummary>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    l: Layout,
    rows: Vec<GenreRow>,
    art: crate::library::art::Art,
}

#[derive(Deserialize)]
struct HomeParams {
    /// `all`: every row in the first response (for browsers without JavaScript).
    rows: Option<String>,
}

async fn home(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<HomeParams>,
) -> Result<Response, PageError> {
    if let Some(u) = &page.user {
        if u.account.must_change_password {
            return Ok(Redirect::to("/account/password").into_response());
        }
        if page.profile.is_none() {
            return Ok(Redirect::to("/profiles").into_response());
        }
    }
    // A viewer with a profile gets the personal home page (Continue Watching,
    // Next Up and the recommender's rows); anonymous visitors the catalog.
    if let Some(p) = page.profile.clone() {
        let all_rows = q.rows.as_deref() == Some("all");
        return home::render_home(&state, page, &p, all_rows).await;
    }
    let mut rows = Vec::new();
    for g in state.store.genres().await?.into_iter().take(10) {
        let titles = state
            .store
            .list_titles(&TitleQuery {
                visibility: crate::library::visibility(&state, None),
                genre: Some(g.name.clone()),
                sort: TitleSort::Popular,
                limit: 12,
                ..Default::default()
            })
            .await?;
        rows.push(GenreRow {
            slug: auth::url_encode(&g.name),
            genre: g.name,
            titles,
        });
    }
    let ids: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.titles.iter().map(|t| t.id))
        .collect();
    let art = crate::library::art::Art::load(state.store.as_ref(), &ids).await?;
    Ok(render(&HomePage {
        l: page.l,
        rows,
        art,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "genres.html")]
struct GenresPage {
    l: Layout,
    genres: Vec<GenreCount>,
}

async fn genres(State(state): State<AppState>, page: Page) -> Result<Html<String>, PageError> {
    render(&GenresPage {
        l: page.l,
        genres: state.store.genres().await?,
    })
}

#[derive(Deserialize)]
struct PageParam {
    page: Option<u32>,
}

#[derive(Template)]
#[template(path = "genre.html")]
struct GenrePage {
    l: Layout,
    genre: String,
    titles: Vec<TitleSummary>,
    art: crate::library::art::Art,
    page: u32,
    has_more: bool,
}

const GRID: u32 = 48;

async fn genre(
    State(state): State<AppState>,
    page: Page,
    Path(name): Path<String>,
    Query(p): Query<PageParam>,
) -> Result<Html<String>, PageError> {
    let n = p.page.unwrap_or(1).clamp(1, 10_000);
    if !state.store.genres().await?.iter().any(|g| g.name == name) {
        return Err(AppError::NotFound(format!("no genre called {name:?}")).into());
    }
    let mut titles = state
        .store
        .list_titles(&TitleQuery {
            visibility: crate::library::visibility(&state, page.profile.as_ref()),
            genre: Some(name.clone()),
            sort: TitleSort::Popular,
            limit: GRID + 1,
            offset: (n - 1) * GRID,
            ..Default::default()
        })
        .await?;
    let has_more = titles.len() > GRID as usize;
    let ids: Vec<i64> = titles.iter().map(|t| t.id).collect();
    let art = crate::library::art::Art::load(state.store.as_ref(), &ids).await?;
    titles.truncate(GRID as usize);
    render(&GenrePage {
        art,
        l: page.l,
        genre: name,
        titles,
        page: n,
        has_more,
    })
}

#[derive(Template)]
#[template(path = "title.html")]
struct TitlePage {
    l: Layout,
    t: TitleDetail,
    lib: crate::library::page::LibraryView,
    can_rate: bool,
    title_id: i64,
    thumb: &'static str,
}

fn thumb_name(t: Option<Thumb>) -> &'static str {
    match t {
        Some(Thumb::Down) => "down",
        Some(Thumb::Up) => "up",
        Some(Thumb::DoubleUp) => "double_up",
        None => "none",
    }
}

async fn title(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let id: i64 = id
        .parse()
        .map_err(|_| AppError::NotFound(format!("no title {id:?}")))?;
    crate::library::check_visible(&state, page.profile.as_ref(), id).await?;
    let t = state
        .store
        .title(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("title {id} not found")))?;
    let thumb = match &page.profile {
        Some(p) => state.store.feedback(p.id, id).await?,
        None => None,
    };
    let lib = crate::library::page::view(&state, page.profile.as_ref().map(|p| p.id), id).await?;
    render(&TitlePage {
        can_rate: page.profile.is_some(),
        l: page.l,
        t,
        lib,
        title_id: id,
        thumb: thumb_name(thumb),
    })
}

#[derive(Template)]
#[template(path = "partials/thumbs.html")]
struct ThumbsPartial {
    l: Layout,
    title_id: i64,
    thumb: &'static str,
}

#[derive(Deserialize)]
struct ThumbForm {
    csrf: String,
    thumb: String,
}

async fn thumb(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<i64>,
    PageForm(f): PageForm<ThumbForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let profile = page
        .profile
        .as_ref()
        .ok_or_else(|| AppError::Unauthorized("choose a profile first".into()))?;
    let value = match f.thumb.as_str() {
        "down" => Some(Thumb::Down),
        "up" => Some(Thumb::Up),
        "double_up" => Some(Thumb::DoubleUp),
        "none" => None,
        other => return Err(AppError::invalid("thumb", format!("unknown thumb {other:?}")).into()),
    };
    crate::library::check_visible(&state, Some(profile), id).await?;
    state
        .store
        .set_feedback(profile.id, id, value, state.clock.now_ms())
        .await?;
    if headers.contains_key("hx-request") {
        Ok(render(&ThumbsPartial {
            l: page.l,
            title_id: id,
            thumb: thumb_name(value),
        })?
        .into_response())
    } else {
        Ok(Redirect::to(&format!("/titles/{id}")).into_response())
    }
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    l: Layout,
    q: String,
    results: Vec<TitleSummary>,
    art: crate::library::art::Art,
}

#[derive(Deserialize)]
struct SearchParam {
    q: Option<String>,
}

async fn search(
    State(state): State<AppState>,
    page: Page,
    Query(p): Query<SearchParam>,
) -> Result<Html<String>, PageError> {
    let q: String = p.q.unwrap_or_default().chars().take(200).collect();
    let visibility = crate::library::visibility(&state, page.profile.as_ref());
    let results = state.store.search_titles(&q, 48, &visibility).await?;
    let ids: Vec<i64> = results.iter().map(|t| t.id).collect();
    let art = crate::library::art::Art::load(state.store.as_ref(), &ids).await?;
    render(&SearchPage {
        art,
        l: page.l,
        q,
        results,
    })
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: Layout,
    error: Option<String>,
    notice: Option<&'static str>,
    email: String,
    next: String,
}

#[derive(Deserialize)]
struct NextParam {
    next: Option<String>,
    reset: Option<String>,
}

async fn login_page(page: Page, Query(p): Query<NextParam>) -> Result<Html<String>, PageError> {
    render(&LoginPage {
        l: page.l,
        error: None,
        notice: (p.reset.as_deref() == Some("done"))
            .then_some("Your password is changed. Log in with the new one."),
        email: String::new(),
        next: service::safe_next(p.next.as_deref()),
    })
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    email: String,
    password: String,
    next: Option<String>,
}

async fn login_submit(
    State(state): State<AppState>,
    page: Page,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    PageForm(f): PageForm<LoginForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let next = service::safe_next(f.next.as_deref());
    match service::login(&state, &f.email, &f.password, Some(ip), &headers).await {
        Ok(s) => {
            let profiles = state.store.profiles(s.account.id).await?;
            let to = landing(&s.account, profiles.len() == 1, &next);
            Ok(session_redirect(&state, &headers, &s, &to))
        }
        Err(e) => {
            let status = e.status();
            if status.is_server_error() {
                return Err(e.into());
            }
            Ok(render_status(
                status,
                &LoginPage {
                    l: page.l,
                    error: Some(e.to_string()),
                    notice: None,
                    email: f.email,
                    next,
                },
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    l: Layout,
    error: Option<String>,
    email: String,
    profile_name: String,
    ref_code: String,
}

#[derive(Deserialize)]
struct RefParam {
    #[serde(rename = "ref")]
    ref_code: Option<String>,
}

async fn signup_page(
    page: Page,
    headers: HeaderMap,
    Query(q): Query<RefParam>,
) -> Result<Html<String>, PageError> {
    // A referral code from the link, else the one a share page remembered.
    let ref_code = q
        .ref_code
        .as_deref()
        .and_then(crate::perks::normalise_code)
        .or_else(|| perks::ref_from_cookie(&headers))
        .unwrap_or_default();
    render(&SignupPage {
        l: page.l,
        error: None,
        email: String::new(),
        profile_name: String::new(),
        ref_code,
    })
}

#[derive(Deserialize)]
struct SignupForm {
    csrf: String,
    email: String,
    password: String,
    profile_name: Option<String>,
    ref_code: Option<String>,
}

async fn signup_submit(
    State(state): State<AppState>,
    page: Page,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    PageForm(f): PageForm<SignupForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let outcome = service::signup(
        &state,
        &f.email,
        &f.password,
        f.profile_name.as_deref(),
        ip,
        &headers,
    )
    .await;
    let code = f.ref_code.as_deref().filter(|c| !c.trim().is_empty());
    match outcome {
        Ok(service::SignupOutcome::CheckEmail { new_account }) => {
            if let (Some(id), Some(code)) = (new_account, code) {
                crate::perks::attribute(&state, id, code).await?;
            }
            Ok(render(&account::CheckEmailPage {
                l: page.l,
                email: f.email,
            })?
            .into_response())
        }
        Ok(service::SignupOutcome::Session(s)) => {
            if let Some(code) = code {
                crate::perks::attribute(&state, s.account.id, code).await?;
            }
            // A new account starts by picking titles it likes.
            Ok(session_redirect(&state, &headers, &s, "/onboarding"))
        }
        Err(e) => {
            let status = e.status();
            if status.is_server_error() {
                return Err(e.into());
            }
            let message = match e.field() {
                Some(field) => format!("{field}: {e}"),
                None => e.to_string(),
            };
            Ok(render_status(
                status,
                &SignupPage {
                    l: page.l,
                    error: Some(message),
                    email: f.email,
                    profile_name: f.profile_name.unwrap_or_default(),
                    ref_code: f.ref_code.unwrap_or_default(),
                },
            ))
        }
    }
}

/// A form whose only field is the CSRF token (log-out, profile pick, actions).
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    pub(crate) csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    if let Some(u) = &page.user {
        service::logout(&state, u).await?;
    }
    let cookie = service::clear_session_cookie(service::secure_cookies(&state, &headers));
    Ok(with_cookie(Redirect::to("/").into_response(), &cookie))
}

#[derive(Template)]
#[template(path = "profiles.html")]
struct ProfilesPage {
    l: Layout,
    profiles: Vec<Profile>,
    current: i64,
    error: Option<String>,
    from_kids: bool,
    avatars: &'static [(&'static str, &'static str)],
}

async fn profiles_view(
    state: &AppState,
    page: Page,
    user: &CurrentUser,
    error: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let profiles = state.store.profiles(user.account.id).await?;
    let current = user.profile_id.unwrap_or(0);
    let from_kids = profiles.iter().any(|p| p.id == current && p.is_kids);
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.0);
    Ok(render_status(
        status,
        &ProfilesPage {
            l: page.l,
            profiles,
            current,
            error: error.map(|e| e.1),
            from_kids,
            avatars: marquee_domain::AVATARS,
        },
    ))
}

async fn profiles_page(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
) -> Result<Response, PageError> {
    profiles_view(&state, page, &user, None).await
}

#[derive(Deserialize)]
struct ProfileForm {
    csrf: String,
    name: String,
    is_kids: Option<String>,
}

#[derive(Deserialize)]
struct ProfileEditForm {
    csrf: String,
    name: String,
    is_kids: Option<String>,
    #[serde(default)]
    avatar: String,
}

async fn profile_edit(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<ProfileEditForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let avatar = Some(f.avatar.as_str()).filter(|a| !a.is_empty());
    let result = service::update_profile(&state, &user, id, &f.name, f.is_kids.is_some(), avatar)
        .await
        .map(drop);
    profiles_answer(&state, page, &user, result, "/profiles?ok=profile_saved").await
}

async fn profile_delete(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = service::delete_profile(&state, &user, id).await;
    profiles_answer(&state, page, &user, result, "/profiles?ok=profile_deleted").await
}

async fn profile_create(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    PageForm(f): PageForm<ProfileForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = service::create_profile(&state, &user, &f.name, f.is_kids.is_some())
        .await
        .map(drop);
    profiles_answer(&state, page, &user, result, "/profiles?ok=profile_added").await
}

/// Answers a profile form: on to `to`, or the profiles page again with the
/// refusal (a 404, another account's profile, stays a 404 page).
async fn profiles_answer(
    state: &AppState,
    page: Page,
    user: &CurrentUser,
    result: Result<(), AppError>,
    to: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to(to).into_response()),
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 404 => {
            let status = e.status();
            profiles_view(state, page, user, Some((status, e.to_string()))).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ProfileSelectForm {
    csrf: String,
    #[serde(default)]
    pin: String,
}

#[derive(Template)]
#[template(path = "profile_pin.html")]
struct ProfilePinPage {
    l: Layout,
    target: Profile,
    guard: Profile,
    leaving: bool,
    error: Option<String>,
}

/// Opens a profile; where a PIN guards the switch, the PIN page asks for it
/// (again, with the refusal, after a wrong one).
async fn profile_select(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<ProfileSelectForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let pin = Some(f.pin.as_str()).filter(|p| !p.is_empty());
    match service::select_profile(&state, &user, id, pin).await {
        Ok(_) => Ok(Redirect::to("/").into_response()),
        Err(e) if e.field() == Some("pin") || matches!(e, AppError::TooManyRequests { .. }) => {
            let (target, guard) = service::pin_for_switch(&state, &user, id).await?;
            let guard = guard.unwrap_or_else(|| target.clone());
            let (status, error) = match e {
                AppError::PinRequired(_) => (StatusCode::OK, None),
                AppError::TooManyRequests { retry_after_s } => (
                    e.status(),
                    Some(format!(
                        "Too many wrong PINs: {} is locked. Try again in {} minutes.",
                        guard.name,
                        retry_after_s.div_ceil(60)
                    )),
                ),
                other => (other.status(), Some(other.to_string())),
            };
            Ok(render_status(
                status,
                &ProfilePinPage {
                    l: page.l,
                    leaving: guard.id != target.id,
                    target,
                    guard,
                    error,
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ProfilePinForm {
    csrf: String,
    #[serde(default)]
    pin: String,
    password: String,
    #[serde(default)]
    action: String,
}

/// Sets, changes or removes a profile's PIN (the account's password confirms it).
async fn profile_pin(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<ProfilePinForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let remove = f.action == "remove";
    let pin = (!remove).then_some(f.pin.as_str());
    let result = service::set_profile_pin(&state, &user, id, pin, &f.password)
        .await
        .map(drop);
    let to = if remove {
        "/profiles?ok=pin_removed"
    } else {
        "/profiles?ok=pin_set"
    };
    profiles_answer(&state, page, &user, result, to).await
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    l: Layout,
    forced: bool,
    error: Option<String>,
}

async fn password_page(user: CurrentUser, page: Page) -> Result<Html<String>, PageError> {
    render(&PasswordPage {
        l: page.l,
        forced: user.account.must_change_password,
        error: None,
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
}

async fn password_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    headers: HeaderMap,
    PageForm(f): PageForm<PasswordForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    match service::change_password(&state, &user, &f.current_password, &f.new_password).await {
        Ok(s) => {
            let to = if user.profile_id.is_some() {
                "/"
            } else {
                "/profiles"
            };
            Ok(session_redirect(&state, &headers, &s, to))
        }
        Err(e) if e.status().is_client_error() => Ok(render_status(
            e.status(),
            &PasswordPage {
                l: page.l,
                forced: user.account.must_change_password,
                error: Some(e.to_string()),
            },
        )),
        Err(e) => Err(e.into()),
    }
}
