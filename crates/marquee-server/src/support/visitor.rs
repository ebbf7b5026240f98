//! Help for customers who cannot log in: the visitor chat and the offline
//! form (outside business hours).
//!
//! A visitor gives an e-mail address (and a name, optionally) with their
//! first message. Their browser gets a random token (a cookie, or the
//! `X-Visitor-Token` header for API clients; only its sha256 is stored) that
//! opens that conversation and nothing else. The address gets a single-use
//! link; following it proves the address is theirs, and the conversation
//! (with any other verified one of that address) is linked to the account
//! that uses it: it then shows in that account's support history, and the
//! agent sees the account's context. An address with no account is linked
//! when an account proves it (sign-up confirmation, address change).
//!
//! Staff replies to a conversation that is not linked are also mailed to
//! the visitor, since they may have closed the page.

use super::{publish_message, publish_write, rules};
use crate::auth;
use crate::error::AppError;
use crate::mail::{Mail, MailJob};
use crate::service::{anonymous_write, public_origin};
use crate::AppState;
use axum::http::HeaderMap;
use marquee_domain::hours::{clock, day_name, BusinessHours};
use marquee_domain::{validate, Millis};
use marquee_store::support::{
    Channel, Conversation, Message, NewVisitorConversation, SupportWrite, VisitorVerified,
};
use serde::Serialize;
use std::net::IpAddr;
use utoipa::ToSchema;

/// The visitor's cookie.
pub const VISITOR_COOKIE: &str = "marquee_visitor";
/// The header API clients send the visitor token in.
pub const VISITOR_HEADER: &str = "x-visitor-token";
/// The verification link works this long.
pub const VERIFY_TTL_MS: i64 = 24 * 3_600_000;
/// The longest visitor name, in characters.
pub const MAX_NAME_CHARS: usize = 80;
const HOUR_MS: i64 = 3_600_000;

/// The visitor token a request carries: the `X-Visitor-Token` header (API
/// clients) or the cookie (the help page).
pub fn token_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(VISITOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .or_else(|| auth::cookie_in(headers, VISITOR_COOKIE))
        .filter(|t| !t.is_empty())
}

/// The `Set-Cookie` value that keeps a visitor's token in their browser for
/// 30 days (only the help pages read it).
pub fn cookie(token: &str, secure: bool) -> String {
    format!(
        "{VISITOR_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        30 * 24 * 3600,
        if secure { "; Secure" } else { "" }
    )
}

/// Whether the team is in, in words.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HoursStatus {
    /// Someone answers live now.
    pub open: bool,
    /// The hours in words ("Monday to Friday 09:00–18:00").
    pub hours: String,
    /// Their time zone (IANA name).
    pub timezone: String,
    /// When they are next in, in words ("Monday at 09:00"), while closed.
    pub next_open: Option<String>,
}

/// The configured hours at `now`.
pub fn hours_status(state: &AppState, now: Millis) -> HoursStatus {
    let cfg = &state.config.support;
    // Both were checked when the configuration loaded.
    let hours = BusinessHours::parse(&cfg.hours).unwrap_or_else(|_| BusinessHours::always());
    let tz = jiff::tz::TimeZone::get(&cfg.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let local = jiff::Timestamp::from_millisecond(now)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned_datetime(tz);
    let weekday = u8::try_from(local.weekday().to_monday_zero_offset()).unwrap_or(0);
    let minute =
        u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
    let open = hours.is_open(weekday, minute);
    let next_open = (!open)
        .then(|| hours.next_open(weekday, minute))
        .flatten()
        .map(|n| {
            let when = match n.days_ahead {
                0 => "today".to_string(),
                1 => "tomorrow".to_string(),
                _ => day_name(n.weekday).to_string(),
            };
            format!("{when} at {}", clock(n.minute))
        });
    HoursStatus {
        open,
        hours: hours.describe(),
        timezone: cfg.timezone.clone(),
        next_open,
    }
}

/// A visitor conversation just opened, with the browser's token.
#[derive(Debug)]
pub struct VisitorStarted {
    /// What was written.
    pub write: SupportWrite,
    /// The browser's token (shown once; only its hash is kept).
    pub token: String,
}

/// Validates a visitor's optional name: trimmed, at most
/// [`MAX_NAME_CHARS`], no control characters; empty is none.
fn visitor_name(name: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if n.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::invalid(
            "name",
            format!("is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    if n.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(Some(n.to_string()))
}

/// Opens a visitor's conversation (the offline form when the team is out),
/// mails the verification link, and tells the inbox.
pub async fn start(
    state: &AppState,
    ip: IpAddr,
    headers: &HeaderMap,
    email: &str,
    name: Option<&str>,
    body: &str,
) -> Result<VisitorStarted, AppError> {
    anonymous_write(state, ip)?;
    let email = validate::email(email)?;
    let name = visitor_name(name)?;
    let body = rules::message_body(body)?;
    let now = state.clock.now_ms();
    let cfg = &state.config.support;
    let key = [format!("visitor:{ip}")];
    if let Some(retry_after_s) =
        state
            .limiter
            .blocked(&key, now, cfg.visitor_conversations_per_hour, HOUR_MS)
    {
        return Err(AppError::TooManyRequests { retry_after_s });
    }
    state.limiter.fail(&key, now);
    let channel = if hours_status(state, now).open {
        Channel::Visitor
    } else {
        Channel::Offline
    };
    let token = auth::random_token();
    let verify = auth::random_token();
    let write = {
        let _w = state.support.writes.lock().await;
        state
            .store
            .create_visitor_conversation(
                &NewVisitorConversation {
                    email: &email,
                    name: name.as_deref(),
                    body: &body,
                    channel,
                    token_hash: &auth::token_hash(&token),
                    verify_hash: &auth::token_hash(&verify),
                    verify_expires: now + VERIFY_TTL_MS,
                },
                cfg.default_capacity,
                now,
            )
            .await?
    };
    let origin = public_origin(state, headers);
    if !state.mailer.configured() {
        tracing::warn!("a visitor wrote to support, but [smtp] is not configured: no confirmation mail goes out");
    }
    state.mail.push(MailJob::Send(Mail {
        to: email,
        subject: "Confirm your address to continue with Marquee support".into(),
        body: format!(
            "Thanks for writing to us. We have your message and will answer it{when}.\n\n\
             To link this conversation to your Marquee account (and to come back to it from \
             another browser), confirm that this address is yours:\n\n\
             {origin}/help/verify?token={verify}\n\n\
             The link works once, for 24 hours. If you did not write to us, ignore this mail.\n",
            when = if channel == Channel::Offline {
                " when the team is back"
            } else {
                " shortly"
            },
        ),
        list_unsubscribe: None,
    }));
    publish_write(state, &write).await;
    Ok(VisitorStarted { write, token })
}

/// The conversation a visitor token opens; 404 when none does.
pub async fn conversation(state: &AppState, token: &str) -> Result<Conversation, AppError> {
    let token = token.trim();
    if token.is_empty() || token.len() > 200 {
        return Err(AppError::NotFound("no visitor conversation".into()));
    }
    state
        .store
        .visitor_conversation(&auth::token_hash(token))
        .await?
        .ok_or_else(|| AppError::NotFound("no visitor conversation for this browser".into()))
}

/// The visitor's conversation and its public messages, oldest first.
pub async fn messages(
    state: &AppState,
    token: &str,
) -> Result<(Conversation, Vec<Message>), AppError> {
    let c = conversation(state, token).await?;
    let ms = state.store.messages(c.id, false, 0, 500).await?;
    Ok((c, ms))
}

/// A visitor's further message.
pub async fn message(
    state: &AppState,
    ip: IpAddr,
    token: &str,
    body: &str,
) -> Result<SupportWrite, AppError> {
    anonymous_write(state, ip)?;
    let c = conversation(state, token).await?;
    let body = rules::message_body(body)?;
    let now = state.clock.now_ms();
    let key = [format!("visitor-msg:{}", c.id)];
    let per_minute = state.config.support.messages_per_minute;
    if let Some(retry_after_s) = state.limiter.blocked(&key, now, per_minute, 60_000) {
        return Err(AppError::TooManyRequests { retry_after_s });
    }
    state.limiter.fail(&key, now);
    let w = {
        let _w = state.support.writes.lock().await;
        state
            .store
            .add_customer_message(
                c.id,
                None,
                &body,
                state.config.support.default_capacity,
                now,
            )
            .await?
    };
    publish_write(state, &w).await;
    Ok(w)
}

/// Spends a verification link: links the conversation to the account of
/// that address (if one has it) and gives the browser a fresh token for it.
pub async fn verify(
    state: &AppState,
    ip: IpAddr,
    token: &str,
) -> Result<(VisitorVerified, String), AppError> {
    anonymous_write(state, ip)?;
    const WHY: &str = "this link is not valid any more (used, expired or mistyped)";
    let token = crate::service::token_arg(token, WHY)?;
    let browser = auth::random_token();
    let v = {
        let _w = state.support.writes.lock().await;
        state
            .store
            .verify_visitor(
                &auth::token_hash(token),
                &auth::token_hash(&browser),
                state.clock.now_ms(),
            )
            .await?
    }
    .ok_or_else(|| AppError::invalid("token", WHY))?;
    tracing::info!(
        conversation = v.conversation.id,
        linked = v.linked_account.is_some(),
        "visitor verified their address"
    );
    publish_message(state, &v.conversation, &v.message);
    super::publish_conversation(state, &v.conversation);
    Ok((v, browser))
}

/// Mails a staff reply to the visitor of a conversation no account holds
/// (they may have closed the page). Internal notes never go out.
pub fn mail_reply(state: &AppState, c: &Conversation, m: &Message, origin: &str) {
    if c.account_id.is_some() || m.internal || c.customer_email.is_empty() {
        return;
    }
    state.mail.push(MailJob::Send(Mail {
        to: c.customer_email.clone(),
        subject: format!("Marquee support replied (conversation #{})", c.id),
        body: format!(
            "{who} wrote:\n\n{body}\n\n\
             To answer, open {origin}/help in the browser you wrote from, or follow the \
             confirmation link we sent you earlier.\n",
            who = super::author_name(m),
            body = m.body,
        ),
        list_unsubscribe: None,
    }));
}
