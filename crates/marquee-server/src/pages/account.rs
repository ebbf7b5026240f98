//! Getting back into an account: "forgot password" and the reset link's
//! page. Both are anonymous forms with CSRF tokens; the answers say nothing
//! about which addresses have accounts.

use super::{render, render_status, Layout, Page, PageForm};
use crate::auth::ClientIp;
use crate::auth::CurrentUser;
use crate::error::PageError;
use crate::service;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use marquee_domain::plans::{AccountEventKind, CancelReason, PlanAction, CANCEL_REASONS};
use marquee_domain::Plan;
use serde::Deserialize;

/// A form's refusal: the form again with the message and the error's status
/// (4xx); a server error becomes the error page.
fn refuse<T: Template>(
    e: crate::error::AppError,
    form: impl FnOnce(String) -> T,
) -> Result<Response, PageError> {
    let status = e.status();
    if !status.is_client_error() {
        return Err(e.into());
    }
    Ok(render_status(status, &form(e.to_string())))
}

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/forgot", get(forgot_page).post(forgot_submit))
        .route("/reset", get(reset_page).post(reset_submit))
        .route("/verify", get(verify_page).post(verify_submit))
        .route("/account", get(account_page))
        .route("/account/devices/{id}/rename", post(device_rename))
        .route("/account/sign-out-everywhere", post(sign_out_everywhere))
        .route("/account/email", post(email_submit))
        .route(
            "/account/email/confirm",
            get(email_confirm_page).post(email_confirm_submit),
        )
        .route("/account/plan", post(plan_submit))
        .route("/account/pause", post(pause_submit))
        .route("/account/reactivate", post(reactivate_submit))
        .route("/account/cancel", post(cancel_submit))
        .route("/account/delete", post(delete_submit))
        .route("/account/notifications", post(notifications_submit))
        .route(
            "/unsubscribe",
            get(unsubscribe_page).post(unsubscribe_submit),
        )
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    l: Layout,
    email: String,
    sub: crate::plans::Subscription,
    offers: Vec<crate::plans::PlanOffer>,
    reasons: Vec<(&'static str, &'static str)>,
    notice: Option<String>,
    email_notice: Option<String>,
    profiles: Vec<marquee_domain::Profile>,
    profile_name: Option<String>,
    devices: Vec<marquee_domain::playback::Device>,
    notify: Vec<crate::notify::KindSetting>,
    notify_notice: Option<String>,
    email_available: bool,
    error: Option<String>,
}

async fn account_view(
    state: &AppState,
    page: Page,
    user: &CurrentUser,
    error: Option<String>,
) -> Result<AccountPage, PageError> {
    let profiles = state.store.profiles(user.account.id).await?;
    let devices = match user.profile_id {
        Some(pid) => crate::playback::devices(state, pid).await?,
        None => Vec::new(),
    };
    Ok(AccountPage {
        profile_name: page.profile.as_ref().map(|p| p.name.clone()),
        l: page.l,
        email: user.account.email.clone(),
        sub: crate::plans::subscription(state, &user.account).await?,
        offers: crate::plans::offers(state).await?,
        reasons: CANCEL_REASONS.map(|r| (r.as_str(), r.label())).to_vec(),
        notice: None,
        email_notice: None,
        profiles,
        devices,
        notify: crate::notify::preferences(state, user.account.id).await?,
        notify_notice: None,
        email_available: crate::notify::email_available(state),
        error,
    })
}

/// A refusal of a form on the account page: the account page again with the
/// message and the error's status (4xx); a server error becomes the error
/// page.
async fn account_refusal(
    state: &AppState,
    page: Page,
    user: &CurrentUser,
    e: crate::error::AppError,
) -> Result<Response, PageError> {
    let status = e.status();
    if !status.is_client_error() {
        return Err(e.into());
    }
    let view = account_view(state, page, user, Some(e.to_string())).await?;
    Ok(render_status(status, &view))
}

/// Account settings: address, password, plan, profiles, this profile's
/// devices (rename), linked handles, and signing out everywhere.
async fn account_page(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    Query(q): Query<DoneParam>,
) -> Result<Html<String>, PageError> {
    let mut view = account_view(&state, page, &user, None).await?;
    if q.done.as_deref() == Some("notifications") {
        view.notify_notice = Some("Saved.".into());
    }
    if q.done.as_deref() == Some("email") {
        view.email_notice = Some(
            "We sent a link to the new address: open it to confirm. Until then your address stays as it is."
                .into(),
        );
    }
    view.notice = q.done.as_deref().and_then(done_notice).map(|n| {
        format!(
            "{n} You are on the {} plan at {} a month.",
            view.sub.plan.label(),
            view.sub.price_display
        )
    });
    render(&view)
}

#[derive(Deserialize)]
struct EmailForm {
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn email_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    headers: HeaderMap,
    PageForm(f): PageForm<EmailForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    match service::request_email_change(&state, &user, &f.email, &f.password, &headers).await {
        Ok(_) => Ok(Redirect::to("/account?done=email#signin").into_response()),
        Err(e) => account_refusal(&state, page, &user, e).await,
    }
}

#[derive(Template)]
#[template(path = "email_confirm.html")]
struct EmailConfirmPage {
    l: Layout,
    token: String,
    error: Option<String>,
    done: Option<String>,
}

/// The link mailed to a new address: a button, so that a mail scanner that
/// opens links changes nothing.
async fn email_confirm_page(
    page: Page,
    Query(q): Query<TokenParam>,
) -> Result<Response, PageError> {
    let token = q.token.unwrap_or_default();
    if token.trim().is_empty() {
        return Ok(Redirect::to("/account").into_response());
    }
    Ok(render(&EmailConfirmPage {
        l: page.l,
        token,
        error: None,
        done: None,
    })?
    .into_response())
}

async fn email_confirm_submit(
    State(state): State<AppState>,
    page: Page,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    PageForm(f): PageForm<VerifyForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = match service::anonymous_write(&state, ip) {
        Ok(()) => service::confirm_email_change(&state, &f.token, &headers).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(email) => Ok(render(&EmailConfirmPage {
            l: page.l,
            token: String::new(),
            error: None,
            done: Some(email),
        })?
        .into_response()),
        Err(e) => refuse(e, |m| EmailConfirmPage {
            l: page.l,
            token: f.token,
            error: Some(m),
            done: None,
        }),
    }
}

#[derive(Deserialize)]
struct DoneParam {
    done: Option<String>,
}

/// The confirmation shown after a subscription step (`?done=<kind>`).
fn done_notice(kind: &str) -> Option<&'static str> {
    Some(match kind.parse::<AccountEventKind>().ok()? {
        AccountEventKind::Upgraded => "Upgraded: more screens from now on.",
        AccountEventKind::Downgraded => "Plan changed: fewer screens from now on.",
        AccountEventKind::Paused => {
            "Paused. Nothing plays until you reactivate; you keep your price."
        }
        AccountEventKind::Reactivated => "Welcome back: your subscription is active again.",
        AccountEventKind::Cancelled => {
            "Cancelled. Thank you for telling us why. You can come back at any time."
        }
        AccountEventKind::SignedUp => return None,
    })
}

/// Applies a subscription step from a form: back to the account page with a
/// confirmation, or the page again with the refusal.
async fn plan_step(
    state: &AppState,
    page: Page,
    user: &CurrentUser,
    csrf: &str,
    action: Result<PlanAction, crate::error::AppError>,
) -> Result<Response, PageError> {
    page.check_csrf(csrf)?;
    let result = match action {
        Ok(a) => crate::plans::apply_own(state, user, &a).await.map(|_| a),
        Err(e) => Err(e),
    };
    match result {
        Ok(a) => {
            let kind = match a {
                PlanAction::Change(to) if to.rank() > user.account.plan.rank() => "upgraded",
                PlanAction::Change(_) => "downgraded",
                PlanAction::Pause => "paused",
                PlanAction::Reactivate(_) => "reactivated",
                PlanAction::Cancel { .. } => "cancelled",
            };
            Ok(Redirect::to(&format!("/account?done={kind}#plan")).into_response())
        }
        Err(e) => account_refusal(state, page, user, e).await,
    }
}

fn form_plan(field: &'static str, v: &str) -> Result<Plan, crate::error::AppError> {
    v.parse::<Plan>()
        .map_err(|_| crate::error::AppError::invalid(field, "choose one of the plans"))
}

#[derive(Deserialize)]
struct PlanForm {
    csrf: String,
    #[serde(default)]
    plan: String,
}

async fn plan_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    PageForm(f): PageForm<PlanForm>,
) -> Result<Response, PageError> {
    let action = form_plan("plan", &f.plan).map(PlanAction::Change);
    plan_step(&state, page, &user, &f.csrf, action).await
}

async fn pause_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    PageForm(f): PageForm<super::CsrfForm>,
) -> Result<Response, PageError> {
    plan_step(&state, page, &user, &f.csrf, Ok(PlanAction::Pause)).await
}

async fn reactivate_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    PageForm(f): PageForm<PlanForm>,
) -> Result<Response, PageError> {
    let action = if f.plan.is_empty() {
        Ok(PlanAction::Reactivate(None))
    } else {
        form_plan("plan", &f.plan).map(|p| PlanAction::Reactivate(Some(p)))
    };
    plan_step(&state, page, &user, &f.csrf, action).await
}

#[derive(Deserialize)]
struct CancelForm {
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    detail: String,
}

async fn cancel_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    PageForm(f): PageForm<CancelForm>,
) -> Result<Response, PageError> {
    let action = f
        .reason
        .parse::<CancelReason>()
        .map_err(|_| crate::error::AppError::invalid("reason", "tell us why you are leaving"))
        .map(|reason| PlanAction::Cancel {
            reason,
            detail: Some(f.detail),
        });
    plan_step(&state, page, &user, &f.csrf, action).await
}

#[derive(Deserialize)]
struct RenameForm {
    csrf: String,
    name: String,
}

async fn device_rename(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    axum::extract::Path(id): axum::extract::Path<i64>,
    PageForm(f): PageForm<RenameForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let pid = crate::playback::profile_of(&user)?;
    match crate::playback::rename_device(&state, pid, id, &f.name).await {
        Ok(_) => Ok(Redirect::to("/account#devices").into_response()),
        Err(e) => account_refusal(&state, page, &user, e).await,
    }
}

async fn sign_out_everywhere(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    headers: HeaderMap,
    PageForm(f): PageForm<super::CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    service::sign_out_everywhere(&state, &user).await?;
    let cookie = service::clear_session_cookie(service::secure_cookies(&state, &headers));
    Ok(super::with_cookie(
        Redirect::to("/login").into_response(),
        &cookie,
    ))
}

/// After a sign-up where mail is configured: the same page for every address.
#[derive(Template)]
#[template(path = "check_email.html")]
pub(super) struct CheckEmailPage {
    pub(super) l: Layout,
    pub(super) email: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    l: Layout,
    token: String,
    error: Option<String>,
}

/// The confirmation link's page: a button, so that a mail scanner that
/// opens links confirms nothing.
async fn verify_page(page: Page, Query(q): Query<TokenParam>) -> Result<Response, PageError> {
    let token = q.token.unwrap_or_default();
    if token.trim().is_empty() {
        return Ok(Redirect::to("/login").into_response());
    }
    Ok(render(&VerifyPage {
        l: page.l,
        token,
        error: None,
    })?
    .into_response())
}

#[derive(Deserialize)]
struct VerifyForm {
    csrf: String,
    token: String,
}

async fn verify_submit(
    State(state): State<AppState>,
    page: Page,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    PageForm(f): PageForm<VerifyForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    match service::verify_email(&state, &f.token, ip).await {
        Ok(s) => Ok(super::session_redirect(&state, &headers, &s, "/")),
        Err(e) => refuse(e, |m| VerifyPage {
            l: page.l,
            token: f.token,
            error: Some(m),
        }),
    }
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    l: Layout,
    email: String,
    error: Option<String>,
    sent: bool,
}

async fn forgot_page(page: Page) -> Result<Html<String>, PageError> {
    render(&ForgotPage {
        l: page.l,
        email: String::new(),
        error: None,
        sent: false,
    })
}

#[derive(Deserialize)]
struct ForgotForm {
    csrf: String,
    email: String,
}

async fn forgot_submit(
    State(state): State<AppState>,
    page: Page,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    PageForm(f): PageForm<ForgotForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    match service::request_password_reset(&state, &f.email, ip, &headers) {
        Ok(()) => Ok(render(&ForgotPage {
            l: page.l,
            email: f.email,
            error: None,
            sent: true,
        })?
        .into_response()),
        Err(e) => refuse(e, |m| ForgotPage {
            l: page.l,
            email: f.email,
            error: Some(m),
            sent: false,
        }),
    }
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    l: Layout,
    token: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct TokenParam {
    token: Option<String>,
}

async fn reset_page(page: Page, Query(q): Query<TokenParam>) -> Result<Response, PageError> {
    let token = q.token.unwrap_or_default();
    if token.trim().is_empty() {
        return Ok(Redirect::to("/forgot").into_response());
    }
    Ok(render(&ResetPage {
        l: page.l,
        token,
        error: None,
    })?
    .into_response())
}

#[derive(Deserialize)]
struct ResetForm {
    csrf: String,
    token: String,
    password: String,
    confirm: String,
}

async fn reset_submit(
    State(state): State<AppState>,
    page: Page,
    ClientIp(ip): ClientIp,
    PageForm(f): PageForm<ResetForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = if f.password != f.confirm {
        Err(crate::error::AppError::invalid(
            "confirm",
            "the two passwords differ",
        ))
    } else {
        service::confirm_password_reset(&state, &f.token, &f.password, ip).await
    };
    match result {
        Ok(()) => Ok(Redirect::to("/login?reset=done").into_response()),
        Err(e) => refuse(e, |m| ResetPage {
            l: page.l,
            token: f.token,
            error: Some(m),
        }),
    }
}

// ---------------------------------------------------------------------------
// Devices and streams (#22 item 4): "Streams now" (an htmx partial the
// account page polls) with a Stop button per stream, and "Sign out this
// device" per device. The work is `crate::playback`'s.

/// The routes of "Streams now" and of signing out one device.
pub fn device_routes() -> Router<AppState> {
    Router::new()
        .route("/account/streams", get(streams_partial))
        .route("/account/streams/{id}/stop", post(stream_stop))
        .route("/account/devices/{id}/sign-out", post(device_sign_out))
}

/// One line of "Streams now".
struct StreamLine {
    id: i64,
    title: String,
    device: String,
    profile: String,
    position: String,
    paused: bool,
    this_device: bool,
}

#[derive(Template)]
#[template(path = "account/streams.html")]
struct StreamsPartial {
    csrf: String,
    streams: Vec<StreamLine>,
    notice: Option<String>,
}

async fn streams_view(
    state: &AppState,
    user: &CurrentUser,
    notice: Option<String>,
) -> Result<StreamsPartial, PageError> {
    let streams = crate::playback::account_streams(state, user, None)
        .await?
        .into_iter()
        .map(|s| StreamLine {
            id: s.stream.play_session_id,
            title: s.stream.title_name,
            device: s.stream.device_name,
            profile: s.stream.profile_name,
            position: crate::format::clock_label(s.stream.position_ms),
            paused: s.stream.paused,
            this_device: s.this_device,
        })
        .collect();
    Ok(StreamsPartial {
        csrf: user.csrf_token.clone(),
        streams,
        notice,
    })
}

/// The account's live streams, each with a Stop button (a fragment).
async fn streams_partial(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Html<String>, PageError> {
    render(&streams_view(&state, &user, None).await?)
}

/// Stop one stream: the fragment again (htmx) or back to the account page.
async fn stream_stop(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<i64>,
    PageForm(f): PageForm<super::CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let notice = match crate::playback::stop_stream(&state, &user, id, None).await {
        Ok(ack) => format!("Stopped playback on {}.", ack.device_name),
        Err(crate::error::AppError::NotFound(_)) => "That stream had already ended.".to_string(),
        Err(e) => return Err(e.into()),
    };
    if headers.contains_key("hx-request") {
        return Ok(render(&streams_view(&state, &user, Some(notice)).await?)?.into_response());
    }
    Ok(Redirect::to("/account#streams-now").into_response())
}

/// Sign out one device: its sessions end and it must register again. When
/// it is this browser's own device, this session ends too: on to log-in.
async fn device_sign_out(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<i64>,
    PageForm(f): PageForm<super::CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let out = crate::playback::sign_out_device(&state, &user, id).await?;
    if out.this_session {
        let cookie = service::clear_session_cookie(service::secure_cookies(&state, &headers));
        return Ok(super::with_cookie(
            Redirect::to("/login").into_response(),
            &cookie,
        ));
    }
    Ok(Redirect::to("/account#devices").into_response())
}

/// "Delete account": the refusal (the form again, with why) or, once done,
/// the confirmation with what was erased and what is kept.
#[derive(Template)]
#[template(path = "account_delete.html")]
struct DeletePage {
    l: Layout,
    error: Option<String>,
    report: Option<crate::wire::privacy::DeletionReport>,
}

#[derive(Deserialize)]
struct DeleteForm {
    csrf: String,
    password: String,
}

/// Deletes the account after checking its password again; the session
/// cookie is cleared and the confirmation page says what was kept.
async fn delete_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    headers: HeaderMap,
    PageForm(f): PageForm<DeleteForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    match crate::privacy::delete_account(&state, &user, &f.password).await {
        Ok(report) => {
            let cookie = service::clear_session_cookie(service::secure_cookies(&state, &headers));
            let l = Layout {
                csrf: page.l.csrf,
                ..Layout::default()
            };
            let resp = render(&DeletePage {
                l,
                error: None,
                report: Some(report),
            })?
            .into_response();
            Ok(super::with_cookie(resp, &cookie))
        }
        Err(e) => refuse(e, |m| DeletePage {
            l: page.l,
            error: Some(m),
            report: None,
        }),
    }
}

/// The notification settings form: a checkbox per kind and channel, named
/// `<kind>.in_app` and `<kind>.email`; an unchecked box is absent.
async fn notifications_submit(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    PageForm(f): PageForm<std::collections::BTreeMap<String, String>>,
) -> Result<Response, PageError> {
    page.check_csrf(f.get("csrf").map_or("", String::as_str))?;
    let changes = marquee_domain::notify::NOTIFY_KINDS
        .into_iter()
        .filter(|k| k.switchable(marquee_domain::notify::Channel::Email))
        .map(|k| {
            let on = |ch: &str| Some(f.contains_key(&format!("{}.{ch}", k.as_str())));
            (
                k.as_str().to_string(),
                crate::notify::ChannelsPatch {
                    in_app: on("in_app"),
                    email: on("email"),
                },
            )
        })
        .collect();
    match crate::notify::update(&state, user.account.id, &changes).await {
        Ok(_) => Ok(Redirect::to("/account?done=notifications#notifications").into_response()),
        Err(e) => account_refusal(&state, page, &user, e).await,
    }
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    l: Layout,
    token: String,
    kinds: Vec<&'static str>,
    error: Option<String>,
    done: bool,
}

/// The unsubscribe link of a notification mail: what it stops, and a
/// button (so that a mail scanner opening links changes nothing).
async fn unsubscribe_page(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<TokenParam>,
) -> Result<Response, PageError> {
    let token = q.token.unwrap_or_default();
    let (kinds, error) = match crate::notify::unsubscribe_kinds(&state, &token).await {
        Ok(k) => (k.into_iter().map(|k| k.label()).collect(), None),
        Err(e) if e.status().is_client_error() => (Vec::new(), Some(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let status = if error.is_some() {
        axum::http::StatusCode::NOT_FOUND
    } else {
        axum::http::StatusCode::OK
    };
    Ok(render_status(
        status,
        &UnsubscribePage {
            l: page.l,
            token,
            kinds,
            error,
            done: false,
        },
    ))
}

async fn unsubscribe_submit(
    State(state): State<AppState>,
    page: Page,
    ClientIp(ip): ClientIp,
    PageForm(f): PageForm<VerifyForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = match service::anonymous_write(&state, ip) {
        Ok(()) => crate::notify::unsubscribe(&state, &f.token).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(kinds) => Ok(render(&UnsubscribePage {
            l: page.l,
            token: String::new(),
            kinds: kinds.into_iter().map(|k| k.label()).collect(),
            error: None,
            done: true,
        })?
        .into_response()),
        Err(e) => refuse(e, |m| UnsubscribePage {
            l: page.l,
            token: f.token,
            kinds: Vec::new(),
            error: Some(m),
            done: false,
        }),
    }
}
