//! Help without logging in (`/help`): the visitor chat's pre-chat form, or
//! the offline form outside business hours; then the visitor's
//! conversation, which refreshes itself; and the page of the mailed link
//! that confirms the visitor's address (`/help/verify`). Signed-in viewers
//! are sent to their own support pages.

use super::{render, render_status, with_cookie, Layout, Page, PageForm};
use crate::auth::ClientIp;
use crate::error::PageError;
use crate::format::fmt_time;
use crate::service;
use crate::support::author_name;
use crate::support::visitor::{self, HoursStatus};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use marquee_store::support::{AuthorKind, Conversation};
use serde::Deserialize;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/help", get(help_page).post(start_submit))
        .route(
            "/help/messages",
            get(messages_fragment).post(message_submit),
        )
        .route("/help/verify", get(verify_page).post(verify_submit))
}

/// One line of the conversation.
struct Line {
    kind: &'static str,
    who: String,
    when: String,
    body: String,
}

#[derive(Template)]
#[template(path = "help/start.html")]
struct StartPage {
    l: Layout,
    hours: HoursStatus,
    email: String,
    name: String,
    body: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "help/thread.html")]
struct ThreadPage {
    l: Layout,
    hours: HoursStatus,
    c: Conversation,
    lines: Vec<Line>,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "help/lines.html")]
struct LinesFragment {
    lines: Vec<Line>,
}

#[derive(Template)]
#[template(path = "help/verify.html")]
struct VerifyPage {
    l: Layout,
    token: String,
    error: Option<String>,
    done: Option<bool>,
}

fn lines_of(ms: &[marquee_store::support::Message]) -> Vec<Line> {
    ms.iter()
        .map(|m| Line {
            kind: match m.author_kind {
                AuthorKind::Customer => "customer",
                AuthorKind::Agent => "agent",
                AuthorKind::System => "system",
            },
            who: match m.author_kind {
                // The visitor has no account name to show.
                AuthorKind::Customer if m.author_email.is_none() => "You".into(),
                _ => author_name(m),
            },
            when: fmt_time(m.created_at),
            body: m.body.clone(),
        })
        .collect()
}

#[derive(Deserialize)]
struct Notice {
    sent: Option<String>,
}

async fn help_page(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(q): Query<Notice>,
) -> Result<Response, PageError> {
    if page.user.is_some() {
        return Ok(Redirect::to("/support").into_response());
    }
    let hours = visitor::hours_status(&state, state.clock.now_ms());
    if let Some(token) = visitor::token_of(&headers) {
        if let Ok((c, ms)) = visitor::messages(&state, &token).await {
            return Ok(render(&ThreadPage {
                l: page.l,
                hours,
                lines: lines_of(&ms),
                c,
                error: None,
                notice: q.sent.is_some().then_some(
                    "Sent. We also mailed you a link to confirm your address: follow it to link this conversation to your account.",
                ),
            })?
            .into_response());
        }
    }
    Ok(render(&StartPage {
        l: page.l,
        hours,
        email: String::new(),
        name: String::new(),
        body: String::new(),
        error: None,
    })?
    .into_response())
}

#[derive(Deserialize)]
struct StartForm {
    #[allow(dead_code)]
    csrf: String,
    email: String,
    name: Option<String>,
    body: String,
}

async fn start_submit(
    State(state): State<AppState>,
    page: Page,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    PageForm(f): PageForm<StartForm>,
) -> Result<Response, PageError> {
    if page.user.is_some() {
        return Ok(Redirect::to("/support").into_response());
    }
    match visitor::start(&state, ip, &headers, &f.email, f.name.as_deref(), &f.body).await {
        Ok(s) => {
            let cookie = visitor::cookie(&s.token, service::secure_cookies(&state, &headers));
            Ok(with_cookie(
                Redirect::to("/help?sent=1").into_response(),
                &cookie,
            ))
        }
        Err(e) if e.status().is_client_error() => Ok(render_status(
            e.status(),
            &StartPage {
                l: page.l,
                hours: visitor::hours_status(&state, state.clock.now_ms()),
                email: f.email,
                name: f.name.unwrap_or_default(),
                body: f.body,
                error: Some(e.to_string()),
            },
        )),
        Err(e) => Err(e.into()),
    }
}

async fn messages_fragment(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(token) = visitor::token_of(&headers) else {
        return Ok(Redirect::to("/help").into_response());
    };
    let (_, ms) = visitor::messages(&state, &token).await?;
    Ok(render(&LinesFragment {
        lines: lines_of(&ms),
    })?
    .into_response())
}

#[derive(Deserialize)]
struct MessageForm {
    #[allow(dead_code)]
    csrf: String,
    body: String,
}

async fn message_submit(
    State(state): State<AppState>,
    page: Page,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    PageForm(f): PageForm<MessageForm>,
) -> Result<Response, PageError> {
    let Some(token) = visitor::token_of(&headers) else {
        return Ok(Redirect::to("/help").into_response());
    };
    match visitor::message(&state, ip, &token, &f.body).await {
        Ok(_) => Ok(Redirect::to("/help").into_response()),
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 404 => {
            let (c, ms) = visitor::messages(&state, &token).await?;
            Ok(render_status(
                e.status(),
                &ThreadPage {
                    l: page.l,
                    hours: visitor::hours_status(&state, state.clock.now_ms()),
                    lines: lines_of(&ms),
                    c,
                    error: Some(e.to_string()),
                    notice: None,
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct TokenParam {
    token: Option<String>,
}

/// The mailed link opens a page with a button (a GET never spends the
/// token, so mail scanners that prefetch links do not use it up).
async fn verify_page(page: Page, Query(q): Query<TokenParam>) -> Result<Html<String>, PageError> {
    render(&VerifyPage {
        l: page.l,
        token: q.token.unwrap_or_default(),
        error: None,
        done: None,
    })
}

#[derive(Deserialize)]
struct VerifyForm {
    #[allow(dead_code)]
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
    match visitor::verify(&state, ip, &f.token).await {
        Ok((v, token)) => {
            let cookie = visitor::cookie(&token, service::secure_cookies(&state, &headers));
            let resp = render(&VerifyPage {
                l: page.l,
                token: String::new(),
                error: None,
                done: Some(v.linked_account.is_some()),
            })?
            .into_response();
            Ok(with_cookie(resp, &cookie))
        }
        Err(e) if e.status().is_client_error() => Ok(render_status(
            e.status(),
            &VerifyPage {
                l: page.l,
                token: f.token,
                error: Some(e.to_string()),
                done: None,
            },
        )),
        Err(e) => Err(e.into()),
    }
}
