//! The JSON API under `/api/v1`, described by OpenAPI at `/api/v1/openapi.json`.

use crate::auth::{Admin, ClientIp, CurrentUser, Staff};
use crate::error::{
    ApiError, ApiJson, ApiPath, ApiQuery, AppError, ErrorBody, ErrorDetail, OptionalJson,
};
use crate::service;
pub(crate) use crate::service::check_limit;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use marquee_domain::{
    Account, GenreCount, HistoryEntry, Plan, Profile, Role, TitleDetail, TitleKind, TitleSummary,
};
use marquee_store::{TitleQuery, TitleSort};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

pub mod attachments;
pub mod changes;
pub mod home;
pub mod ideas;
pub mod library;
pub mod listening;
pub mod media;
pub mod notify;
pub mod perks;
pub mod plans;
pub mod playback;
pub mod privacy;
pub mod support;

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Marquee API", version = "1", description = "Catalog, accounts and profiles of a Marquee installation. Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`."),
    paths(
        list_titles, get_title, list_genres, search, signup, login, logout, me, list_profiles,
        create_profile, update_profile, delete_profile, select_profile, set_profile_pin, profile_history, staff_stats, staff_accounts, staff_update_account,
        password_reset, password_reset_confirm, staff_password_reset, verify_email, change_email,
        confirm_email_change
    ),
    components(schemas(
        TitleSummary, TitleDetail, GenreCount, Account, Profile, HistoryEntry, Role, Plan, TitleKind,
        ErrorBody, ErrorDetail, SignupRequest, LoginRequest, SessionResponse, MeResponse,
        NewProfileRequest, ProfileUpdate, SelectProfileRequest, ProfilePinRequest, StaffStats, UpdateAccountRequest, TitlesPage, PasswordResetRequest,
        PasswordResetConfirm, Accepted, VerifyEmailRequest, ChangeEmailRequest, EmailChanged,
        TitleResponse, crate::library::page::LibraryView, crate::library::page::CastMember,
        crate::library::page::EpisodeView, crate::library::page::SeasonView,
        crate::library::art::Picture
    )),
    modifiers(&BearerAuth),
    tags((name = "catalog"), (name = "accounts"), (name = "staff"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
            c.add_security_scheme(
                "cookie",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                    crate::auth::SESSION_COOKIE,
                ))),
            );
        }
    }
}

/// The API routes, to be nested under `/api/v1`. Feature modules add their
/// own `routes()` with `.merge(...)`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/titles", get(list_titles))
        .route("/titles/{id}", get(get_title))
        .route("/genres", get(list_genres))
        .route("/search", get(search))
        .route("/auth/signup", post(signup))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/password-reset", post(password_reset))
        .route("/auth/verify", post(verify_email))
        .route("/auth/password-reset/confirm", post(password_reset_confirm))
        .route("/account/email", post(change_email))
        .route("/account/email/confirm", post(confirm_email_change))
        .route(
            "/staff/accounts/{id}/password-reset",
            post(staff_password_reset),
        )
        .route("/me", get(me))
        .route("/profiles", get(list_profiles).post(create_profile))
        .route(
            "/profiles/{id}",
            patch(update_profile).delete(delete_profile),
        )
        .route("/profiles/{id}/select", post(select_profile))
        .route("/profiles/{id}/pin", put(set_profile_pin))
        .route("/profiles/{id}/history", get(profile_history))
        .route("/staff/stats", get(staff_stats))
        .route("/staff/accounts", get(staff_accounts))
        .route("/staff/accounts/{id}", patch(staff_update_account))
        .merge(ideas::routes())
        .merge(playback::routes())
        .merge(media::routes())
        .merge(listening::routes())
        .merge(perks::routes())
        .merge(support::routes())
        .merge(attachments::routes())
        .merge(home::routes())
        .merge(plans::routes())
        .merge(privacy::routes())
        .merge(notify::routes())
        .merge(changes::routes())
        .merge(library::routes())
        .fallback(api_not_found)
}

/// The whole OpenAPI document: the core routes plus each feature module's own
/// `Doc`, merged.
pub fn openapi_doc() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for (_, feature) in feature_docs() {
        doc.merge(feature);
    }
    document_error_statuses(&mut doc);
    doc
}

/// Each feature module's own OpenAPI document, by feature, as
/// [`openapi_doc`] merges them over the core one. A schema name used by two
/// of them for different types would be silently overwritten by the merge:
/// `openapi_schema_names_are_unique` checks that none is.
pub fn feature_docs() -> Vec<(&'static str, utoipa::openapi::OpenApi)> {
    vec![
        ("core", ApiDoc::openapi()),
        ("ideas", ideas::Doc::openapi()),
        ("playback", playback::Doc::openapi()),
        ("media", media::Doc::openapi()),
        ("listening", listening::Doc::openapi()),
        ("perks", perks::Doc::openapi()),
        ("support", support::Doc::openapi()),
        ("support attachments", attachments::Doc::openapi()),
        ("library", library::Doc::openapi()),
        ("home", home::Doc::openapi()),
        ("plans", plans::Doc::openapi()),
        ("privacy", privacy::Doc::openapi()),
        ("notify", notify::Doc::openapi()),
        ("changes", changes::Doc::openapi()),
    ]
}

/// Documents the error statuses every operation can answer with, where its
/// own annotation left them out: 400 (a malformed path or query parameter or
/// body, from the `Api*` extractors), 404 (an id in the path, or a referenced
/// record, that does not exist) for operations with parameters, and 415 (a
/// body that is not JSON) for operations with a body, 401 and 403 for
/// operations that need a session. All carry [`ErrorBody`].
fn document_error_statuses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |what: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let path_params = path.contains('{');
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let params = path_params || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let body = op.request_body.is_some();
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let r = &mut op.responses.responses;
            if params || body {
                r.entry("400".into())
                    .or_insert_with(|| error("Invalid input; the body names the field"));
            }
            if params {
                r.entry("404".into()).or_insert_with(|| error("Not found"));
            }
            if body {
                r.entry("415".into())
                    .or_insert_with(|| error("The body is not JSON"));
            }
            if secured {
                r.entry("401".into())
                    .or_insert_with(|| error("Not logged in"));
                r.entry("403".into())
                    .or_insert_with(|| error("Not allowed for this role or account"));
            }
        }
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_doc())
}

async fn api_not_found() -> ApiError {
    ApiError(AppError::NotFound("no such API route".into()))
}

/// Title listing parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TitlesParams {
    /// Only titles in this genre, e.g. `Comedy`.
    genre: Option<String>,
    /// Only this kind: movie or series.
    kind: Option<TitleKind>,
    /// `popular` (default), `name` or `newest`.
    sort: Option<String>,
    /// 1 to 100, default 20.
    limit: Option<u32>,
    /// Default 0.
    offset: Option<u32>,
}

/// A page of titles.
#[derive(Debug, Serialize, ToSchema)]
pub struct TitlesPage {
    /// The titles.
    items: Vec<TitleSummary>,
    /// The limit applied.
    limit: u32,
    /// The offset applied.
    offset: u32,
}

/// Lists titles, optionally by genre.
#[utoipa::path(get, path = "/api/v1/titles", tag = "catalog", params(TitlesParams),
    responses((status = 200, body = TitlesPage), (status = 400, body = ErrorBody)))]
async fn list_titles(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    ApiQuery(p): ApiQuery<TitlesParams>,
) -> Result<Json<TitlesPage>, ApiError> {
    let visibility = crate::library::visibility_for(&state, user.as_ref()).await?;
    let limit = check_limit(p.limit, 20, 100)?;
    let offset = p.offset.unwrap_or(0);
    let sort = match p.sort.as_deref() {
        None | Some("popular") => TitleSort::Popular,
        Some("name") => TitleSort::Name,
        Some("newest") => TitleSort::Newest,
        Some(other) => {
            return Err(AppError::invalid(
                "sort",
                format!("unknown sort {other:?}: use popular, name or newest"),
            )
            .into())
        }
    };
    let items = state
        .store
        .list_titles(&TitleQuery {
            visibility,
            genre: p.genre,
            kind: p.kind,
            sort,
            limit,
            offset,
        })
        .await?;
    Ok(Json(TitlesPage {
        items,
        limit,
        offset,
    }))
}

/// A title with its library metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct TitleResponse {
    /// The title, tags and links.
    #[serde(flatten)]
    detail: TitleDetail,
    /// Synopsis, maturity, cast, artwork, seasons and episodes.
    library: crate::library::page::LibraryView,
}

/// One title with tags, links and its library metadata.
#[utoipa::path(get, path = "/api/v1/titles/{id}", tag = "catalog", params(("id" = i64, Path, description = "Title id")),
    responses((status = 200, body = TitleResponse), (status = 404, body = ErrorBody), (status = 400, body = ErrorBody)))]
async fn get_title(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<TitleResponse>, ApiError> {
    if let Some(u) = &user {
        crate::library::check_visible_for(&state, u, id).await?;
    } else {
        crate::library::check_visible(&state, None, id).await?;
    }
    let detail = state
        .store
        .title(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("title {id} not found")))?;
    let library =
        crate::library::page::view(&state, user.as_ref().and_then(|u| u.profile_id), id).await?;
    Ok(Json(TitleResponse { detail, library }))
}

/// Every genre with its title count.
#[utoipa::path(get, path = "/api/v1/genres", tag = "catalog", responses((status = 200, body = Vec<GenreCount>)))]
async fn list_genres(State(state): State<AppState>) -> Result<Json<Vec<GenreCount>>, ApiError> {
    Ok(Json(state.store.genres().await?))
}

/// Search parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The words to look for; prefixes match.
    q: String,
    /// 1 to 100, default 20.
    limit: Option<u32>,
}

/// Full-text search on titles.
#[utoipa::path(get, path = "/api/v1/search", tag = "catalog", params(SearchParams),
    responses((status = 200, body = Vec<TitleSummary>), (status = 400, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<Vec<TitleSummary>>, ApiError> {
    let limit = check_limit(p.limit, 20, 100)?;
    if p.q.len() > 200 {
        return Err(AppError::invalid("q", "must be at most 200 characters").into());
    }
    let v = crate::library::visibility_for(&state, user.as_ref()).await?;
    Ok(Json(state.store.search_titles(&p.q, limit, &v).await?))
}

/// Sign-up body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// E-mail address.
    email: String,
    /// At least 8 characters.
    password: String,
    /// Name of the first profile; defaults to the e-mail's local part.
    profile_name: Option<String>,
    /// A friend's referral code (from a share link). Self-referral gives no reward.
    referral_code: Option<String>,
}

/// Log-in body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// E-mail address.
    email: String,
    /// Password.
    password: String,
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// Bearer token (also set as the session cookie).
    token: String,
    /// Send this in `X-CSRF-Token` on unsafe calls authenticated by cookie.
    csrf_token: String,
    /// The account.
    account: Account,
}

fn session_response(
    state: &AppState,
    headers: &HeaderMap,
    s: service::NewSession,
    status: StatusCode,
) -> Response {
    let cookie = service::session_cookie(
        &s.token,
        s.max_age_s,
        service::secure_cookies(state, headers),
    );
    (
        status,
        [(header::SET_COOKIE, cookie)],
        Json(SessionResponse {
            token: s.token,
            csrf_token: s.csrf_token,
            account: s.account,
        }),
    )
        .into_response()
}

/// Creates a viewer account with a first profile and logs it in.
///
/// Where `[smtp]` is configured the answer is 202 for every address: a new
/// account gets a confirmation link (`POST /api/v1/auth/verify`), an address
/// that has an account gets a note saying so. Without mail the account is
/// signed in at once (201) and a taken address is a 409.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "accounts", request_body = SignupRequest,
    responses((status = 201, body = SessionResponse), (status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(b): ApiJson<SignupRequest>,
) -> Result<Response, ApiError> {
    let outcome = service::signup(
        &state,
        &b.email,
        &b.password,
        b.profile_name.as_deref(),
        ip,
        &headers,
    )
    .await?;
    let code = b.referral_code.as_deref().filter(|c| !c.trim().is_empty());
    match outcome {
        service::SignupOutcome::Session(s) => {
            if let Some(code) = code {
                crate::perks::attribute(&state, s.account.id, code).await?;
            }
            Ok(session_response(&state, &headers, s, StatusCode::CREATED))
        }
        service::SignupOutcome::CheckEmail { new_account } => {
            if let (Some(id), Some(code)) = (new_account, code) {
                crate::perks::attribute(&state, id, code).await?;
            }
            Ok((StatusCode::ACCEPTED, Json(check_your_inbox())).into_response())
        }
    }
}

/// Logs in. Failed attempts are rate-limited per account and per IP (429).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = SessionResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(b): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let s = service::login(&state, &b.email, &b.password, Some(ip), &headers).await?;
    Ok(session_response(&state, &headers, s, StatusCode::OK))
}

/// The sign-up answer where mail is configured, the same for every address.
fn check_your_inbox() -> Accepted {
    Accepted {
        message: "Look in your inbox: we sent a link to finish signing up.".into(),
    }
}

/// Confirms an address with a mailed token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    /// The token from the mailed link.
    token: String,
}

/// Confirms the account's e-mail address with the mailed token (single
/// use, 48 hours) and starts a session.
#[utoipa::path(post, path = "/api/v1/auth/verify", tag = "accounts", request_body = VerifyEmailRequest,
    responses((status = 200, body = SessionResponse), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn verify_email(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(b): ApiJson<VerifyEmailRequest>,
) -> Result<Response, ApiError> {
    let s = service::verify_email(&state, &b.token, ip).await?;
    Ok(session_response(&state, &headers, s, StatusCode::OK))
}

/// A change of address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmailRequest {
    /// The new address.
    email: String,
    /// The current password (re-authentication).
    password: String,
}

/// Asks to move the signed-in account to another address: the new address
/// gets a single-use link (24 hours); nothing changes until it is used.
/// 400 on `password` when the current password is wrong, 409 on `email`
/// when another account has the address, 503 without mail.
#[utoipa::path(post, path = "/api/v1/account/email", tag = "accounts", request_body = ChangeEmailRequest,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn change_email(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    ApiJson(b): ApiJson<ChangeEmailRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let email =
        service::request_email_change(&state, &user, &b.email, &b.password, &headers).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: format!("We sent a link to {email}: open it to confirm the new address."),
        }),
    ))
}

/// The address after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailChanged {
    /// The account's address now.
    email: String,
}

/// Uses the link mailed to a new address: the account's address changes
/// (and the old address is told). Needs no session: the token is the proof.
#[utoipa::path(post, path = "/api/v1/account/email/confirm", tag = "accounts", request_body = VerifyEmailRequest,
    responses((status = 200, body = EmailChanged), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn confirm_email_change(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(b): ApiJson<VerifyEmailRequest>,
) -> Result<Json<EmailChanged>, ApiError> {
    service::anonymous_write(&state, ip)?;
    let email = service::confirm_email_change(&state, &b.token, &headers).await?;
    Ok(Json(EmailChanged { email }))
}

/// Asks for a password-reset link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// The account's e-mail address.
    email: String,
}

/// Sets a new password with a reset link's token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    /// The token from the mailed link.
    token: String,
    /// The new password (8 to 256 characters).
    password: String,
}

/// A request taken for later work.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// What happens next, for people.
    message: String,
}

/// Mails a password-reset link when an account uses the address. The
/// answer is 202 either way, so it says nothing about which addresses have
/// accounts. Limited per client address and per e-mail address (429).
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "accounts", request_body = PasswordResetRequest,
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn password_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(b): ApiJson<PasswordResetRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    service::request_password_reset(&state, &b.email, ip, &headers)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: "If an account uses this address, a link to reset its password is on its way."
                .into(),
        }),
    ))
}

/// Sets a new password with a reset token (single use, 30 minutes) and
/// ends every session of the account.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "accounts", request_body = PasswordResetConfirm,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn password_reset_confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<PasswordResetConfirm>,
) -> Result<StatusCode, ApiError> {
    service::confirm_password_reset(&state, &b.token, &b.password, ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mails an account a password-reset link (admin).
#[utoipa::path(post, path = "/api/v1/staff/accounts/{id}/password-reset", tag = "staff", params(("id" = i64, Path)),
    responses((status = 202, body = Accepted), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_password_reset(
    State(state): State<AppState>,
    Admin(admin): Admin,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    service::admin_password_reset(&state, &admin, id, &headers).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: "A reset link is on its way to the account's address.".into(),
        }),
    ))
}

/// Ends the session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts",
    responses((status = 204), (status = 401, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
) -> Result<Response, ApiError> {
    service::logout(&state, &user).await?;
    let cookie = service::clear_session_cookie(service::secure_cookies(&state, &headers));
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// The current account.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// The account.
    account: Account,
    /// Its profiles.
    profiles: Vec<Profile>,
    /// The selected profile.
    current_profile_id: Option<i64>,
}

/// Who am I.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn me(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<MeResponse>, ApiError> {
    let profiles = state.store.profiles(user.account.id).await?;
    Ok(Json(MeResponse {
        account: user.account,
        profiles,
        current_profile_id: user.profile_id,
    }))
}

/// The account's profiles.
#[utoipa::path(get, path = "/api/v1/profiles", tag = "accounts",
    responses((status = 200, body = Vec<Profile>), (status = 401, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn list_profiles(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<Profile>>, ApiError> {
    Ok(Json(state.store.profiles(user.account.id).await?))
}

/// New profile body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProfileRequest {
    /// 1 to 40 characters, unique within the account.
    name: String,
    /// A kids profile.
    #[serde(default)]
    is_kids: bool,
}

/// Adds a profile (at most 5 per account).
#[utoipa::path(post, path = "/api/v1/profiles", tag = "accounts", request_body = NewProfileRequest,
    responses((status = 201, body = Profile), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn create_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(b): ApiJson<NewProfileRequest>,
) -> Result<(StatusCode, Json<Profile>), ApiError> {
    let p = service::create_profile(&state, &user, &b.name, b.is_kids).await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// A profile's new name, kids flag and avatar (absent fields stay).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// 1 to 40 characters, unique within the account.
    name: Option<String>,
    /// A kids profile: the youngest maturity band.
    is_kids: Option<bool>,
    /// One of `red`, `orange`, `green`, `teal`, `blue`, `indigo`,
    /// `purple`, `grey`; empty for the default.
    avatar: Option<String>,
}

/// Edits one of the account's profiles.
#[utoipa::path(patch, path = "/api/v1/profiles/{id}", tag = "accounts", params(("id" = i64, Path)),
    request_body = ProfileUpdate,
    responses((status = 200, body = Profile), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn update_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ProfileUpdate>,
) -> Result<Json<Profile>, ApiError> {
    let current = state
        .store
        .profile(id)
        .await?
        .filter(|p| p.account_id == user.account.id)
        .ok_or_else(|| AppError::NotFound(format!("profile {id} not found")))?;
    let avatar = match b.avatar {
        Some(a) => Some(a),
        None => current.avatar.clone(),
    };
    let p = service::update_profile(
        &state,
        &user,
        id,
        b.name.as_deref().unwrap_or(&current.name),
        b.is_kids.unwrap_or(current.is_kids),
        avatar.as_deref(),
    )
    .await?;
    Ok(Json(p))
}

/// Deletes one of the account's profiles with its history, thumbs and
/// playback state; an account keeps at least one (409).
#[utoipa::path(delete, path = "/api/v1/profiles/{id}", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn delete_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    service::delete_profile(&state, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Switching profile: the PIN, where one guards the switch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectProfileRequest {
    /// 4 digits: the PIN of the profile opened, or of the kids profile
    /// left (see `marquee_domain::pin`).
    pin: Option<String>,
}

/// Switches the session to a profile (the body may be empty). Opening a
/// profile with a PIN, or leaving a kids profile with one, needs that PIN:
/// 403 `pin_required` without it, 403 `wrong_pin` naming the tries left,
/// 429 with `Retry-After` after 5 wrong ones in a row (15 minutes).
#[utoipa::path(post, path = "/api/v1/profiles/{id}/select", tag = "accounts", params(("id" = i64, Path)),
    request_body(content = SelectProfileRequest, description = "optional"),
    responses((status = 200, body = Profile), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn select_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    OptionalJson(b): OptionalJson<SelectProfileRequest>,
) -> Result<Json<Profile>, ApiError> {
    let pin = b.and_then(|b| b.pin);
    Ok(Json(
        service::select_profile(&state, &user, id, pin.as_deref()).await?,
    ))
}

/// A profile's new PIN, or none, confirmed by the account's password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePinRequest {
    /// 4 digits; `null` removes the PIN.
    pin: Option<String>,
    /// The account's password.
    password: String,
}

/// Locks a profile with a 4-digit PIN, or unlocks it (`pin: null`). Not
/// from a kids profile (403).
#[utoipa::path(put, path = "/api/v1/profiles/{id}/pin", tag = "accounts", params(("id" = i64, Path)),
    request_body = ProfilePinRequest,
    responses((status = 200, body = Profile), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn set_profile_pin(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ProfilePinRequest>,
) -> Result<Json<Profile>, ApiError> {
    let p = service::set_profile_pin(&state, &user, id, b.pin.as_deref(), &b.password).await?;
    Ok(Json(p))
}

/// History parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// 1 to 100, default 50.
    limit: Option<u32>,
}

/// A profile's viewing history, newest first.
#[utoipa::path(get, path = "/api/v1/profiles/{id}/history", tag = "accounts", params(("id" = i64, Path), HistoryParams),
    responses((status = 200, body = Vec<HistoryEntry>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn profile_history(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let limit = check_limit(p.limit, 50, 100)?;
    let profile = service::own_profile(&state, &user, id).await?;
    Ok(Json(state.store.history(profile.id, limit).await?))
}

/// Installation figures for staff.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffStats {
    /// Titles (all kinds).
    titles: i64,
    /// Accounts.
    accounts: i64,
    /// Staff accounts (agents and admins).
    staff: i64,
}

/// Installation figures (agent or admin).
#[utoipa::path(get, path = "/api/v1/staff/stats", tag = "staff",
    responses((status = 200, body = StaffStats), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_stats(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<Json<StaffStats>, ApiError> {
    let s = &state.store;
    Ok(Json(StaffStats {
        titles: s.count_titles(None).await?,
        accounts: s.count_accounts(None).await?,
        staff: s.count_accounts(Some(Role::Agent)).await?
            + s.count_accounts(Some(Role::Admin)).await?,
    }))
}

/// Account search and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountListParams {
    /// 1 to 100, default 50.
    limit: Option<u32>,
    /// Default 0.
    offset: Option<u32>,
    /// Part of the e-mail address.
    q: Option<String>,
    /// Only this role.
    role: Option<Role>,
    /// Only this plan.
    plan: Option<Plan>,
    /// Only this subscription status.
    status: Option<marquee_domain::plans::AccountStatus>,
    /// Only disabled (true) or enabled (false) accounts.
    disabled: Option<bool>,
}

/// Lists and searches accounts, newest first (admin).
#[utoipa::path(get, path = "/api/v1/staff/accounts", tag = "staff", params(AccountListParams),
    responses((status = 200, body = Vec<Account>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_accounts(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(p): ApiQuery<AccountListParams>,
) -> Result<Json<Vec<Account>>, ApiError> {
    let limit = check_limit(p.limit, 50, 100)?;
    let filter = marquee_store::AccountFilter {
        q: p.q,
        role: p.role,
        plan: p.plan,
        status: p.status,
        disabled: p.disabled,
    };
    Ok(Json(
        state
            .store
            .list_accounts(&filter, limit, p.offset.unwrap_or(0))
            .await?,
    ))
}

/// Account change body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    /// The new role.
    #[serde(default)]
    role: Option<Role>,
    /// The new plan (recorded as an upgrade or downgrade made by this admin).
    #[serde(default)]
    plan: Option<Plan>,
    /// Disable (ending its sessions: it cannot log in) or enable it.
    #[serde(default)]
    disabled: Option<bool>,
}

/// Changes an account's role, plan, or whether it is disabled (admin). An
/// admin cannot demote or disable themself.
#[utoipa::path(patch, path = "/api/v1/staff/accounts/{id}", tag = "staff", params(("id" = i64, Path)), request_body = UpdateAccountRequest,
    responses((status = 200, body = Account), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn staff_update_account(
    State(state): State<AppState>,
    Admin(user): Admin,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<UpdateAccountRequest>,
) -> Result<Json<Account>, ApiError> {
    if b.role.is_none() && b.plan.is_none() && b.disabled.is_none() {
        return Err(AppError::invalid("role", "give a role, a plan or disabled").into());
    }
    service::staff_update_account(&state, &user, id, b.role, b.plan, b.disabled).await?;
    let account = state
        .store
        .account(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("account {id} not found")))?;
    Ok(Json(account))
}
