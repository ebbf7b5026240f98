//! Notification preferences and notification e-mail.
//!
//! Settings per kind and channel (`marquee_domain::notify`): read and
//! changed by the account (API and `/account`), and switched off for one
//! kind by the unsubscribe link of a notification mail. The producers
//! (ideas, decisions, perks) honour them inside their store transactions;
//! this module's worker, started by `launch`, mails what waits in the
//! outbox (`notification_mail`): one digest per account and pass, to a
//! confirmed address of an enabled account, with an unsubscribe link per
//! kind and a `List-Unsubscribe` header. Without `[smtp]` waiting rows are
//! dropped and nothing is sent. A crash after sending and before the rows
//! are deleted sends that digest again once the lease runs out: at least
//! once, never lost.

use std::collections::BTreeMap;
use std::time::Duration;

use marquee_domain::notify::{self as rules, Channel, Channels, NotifyKind, NOTIFY_KINDS};
use marquee_store::notify::PendingMail;

use crate::auth::{random_token, token_hash};
use crate::error::AppError;
use crate::AppState;

/// How often the worker looks for waiting notifications.
pub const POLL: Duration = Duration::from_millis(500);
/// How long a claimed row is held before another pass may retry it.
pub const LEASE_MS: i64 = 5 * 60_000;
/// Rows claimed per pass.
const BATCH: u32 = 200;
/// Claims after which a row that never went is dropped.
const MAX_ATTEMPTS: i64 = 12;
/// Notifications listed in one digest at most (the rest: "and N more").
const DIGEST_MAX_ITEMS: usize = 20;

/// One kind's settings as the account sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSetting {
    /// The kind.
    pub kind: NotifyKind,
    /// In effect (stored, or the defaults).
    pub channels: Channels,
    /// Whether the account may change it.
    pub switchable: bool,
}

/// A change asked for one kind: a channel left out keeps its setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelsPatch {
    /// In the bell.
    pub in_app: Option<bool>,
    /// By e-mail.
    pub email: Option<bool>,
}

/// Every kind's settings in effect for an account.
pub async fn preferences(state: &AppState, account_id: i64) -> Result<Vec<KindSetting>, AppError> {
    let stored = state.store.notification_prefs(account_id).await?;
    Ok(NOTIFY_KINDS
        .into_iter()
        .map(|kind| {
            let pref = stored
                .iter()
                .find(|p| p.kind == kind.as_str())
                .map(|p| p.channels);
            KindSetting {
                kind,
                channels: Channels {
                    in_app: rules::wants(kind, Channel::InApp, pref),
                    email: rules::wants(kind, Channel::Email, pref),
                },
                switchable: kind.switchable(Channel::Email),
            }
        })
        .collect())
}

/// Applies changes keyed by kind name (`ideas`, …). An unknown kind is a
/// 400 naming it; a kind that cannot be switched refuses any change.
/// Settings equal to the defaults are stored as no row.
pub async fn update(
    state: &AppState,
    account_id: i64,
    changes: &BTreeMap<String, ChannelsPatch>,
) -> Result<Vec<KindSetting>, AppError> {
    let current = preferences(state, account_id).await?;
    let mut settings = Vec::with_capacity(changes.len());
    for (name, patch) in changes {
        let Some(kind) = NotifyKind::parse(name) else {
            let field: String = name.chars().take(64).collect();
            let known: Vec<&str> = NOTIFY_KINDS.iter().map(|k| k.as_str()).collect();
            return Err(AppError::invalid(
                field,
                format!(
                    "unknown notification kind; the kinds are {}",
                    known.join(", ")
                ),
            ));
        };
        let now_in = current
            .iter()
            .find(|s| s.kind == kind)
            .map_or_else(|| kind.defaults(), |s| s.channels);
        let want = Channels {
            in_app: patch.in_app.unwrap_or(now_in.in_app),
            email: patch.email.unwrap_or(now_in.email),
        };
        rules::check_setting(kind, want)
            .map_err(|e| AppError::invalid(format!("{}.email", kind.as_str()), e.to_string()))?;
        if kind.switchable(Channel::Email) {
            settings.push((kind.as_str().to_string(), rules::to_store(kind, want)));
        }
    }
    state
        .store
        .set_notification_prefs(account_id, &settings, state.clock.now_ms())
        .await?;
    preferences(state, account_id).await
}

/// The kinds an unsubscribe token switches off, without using it (for the
/// confirmation page); 404 for an unknown token.
pub async fn unsubscribe_kinds(state: &AppState, token: &str) -> Result<Vec<NotifyKind>, AppError> {
    let found = state
        .store
        .unsubscribe_token(&token_hash(token.trim()))
        .await?;
    let Some((_, kinds)) = found else {
        return Err(AppError::NotFound(
            "this unsubscribe link is not valid: change your settings on your account page".into(),
        ));
    };
    Ok(kinds
        .split_whitespace()
        .filter_map(NotifyKind::parse)
        .collect())
}

/// Uses an unsubscribe token: e-mail off for its kinds (again, if already
/// off). Returns the kinds.
pub async fn unsubscribe(state: &AppState, token: &str) -> Result<Vec<NotifyKind>, AppError> {
    let found = state
        .store
        .unsubscribe_token(&token_hash(token.trim()))
        .await?;
    let Some((account_id, kinds)) = found else {
        return Err(AppError::NotFound(
            "this unsubscribe link is not valid: change your settings on your account page".into(),
        ));
    };
    let kinds: Vec<NotifyKind> = kinds
        .split_whitespace()
        .filter_map(NotifyKind::parse)
        .filter(|k| k.switchable(Channel::Email))
        .collect();
    let changes = kinds
        .iter()
        .map(|k| {
            (
                k.as_str().to_string(),
                ChannelsPatch {
                    in_app: None,
                    email: Some(false),
                },
            )
        })
        .collect();
    update(state, account_id, &changes).await?;
    Ok(kinds)
}

/// Whether notification mail can be sent at all.
pub fn email_available(state: &AppState) -> bool {
    state.mailer.configured()
}

/// Starts the notification mail worker.
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match run_once(&state).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "notification mail pass failed"),
            }
            tokio::time::sleep(POLL).await;
        }
    })
}

/// One pass: claims due outbox rows and mails one digest per account.
/// Returns the rows it took (sent or dropped).
pub async fn run_once(state: &AppState) -> Result<usize, AppError> {
    let now = state.clock.now_ms();
    let rows = state
        .store
        .claim_notification_mail(now, LEASE_MS, BATCH)
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let taken = rows.len();
    let mut by_account: BTreeMap<i64, Vec<PendingMail>> = BTreeMap::new();
    for r in rows {
        by_account.entry(r.account_id).or_default().push(r);
    }
    let origin = crate::service::public_origin(state, &axum::http::HeaderMap::new());
    for (account_id, items) in by_account {
        let ids: Vec<i64> = items.iter().map(|r| r.id).collect();
        let Some(first) = items.first() else {
            continue;
        };
        let give_up = items.iter().any(|r| r.attempts > MAX_ATTEMPTS);
        if !state.mailer.configured() || first.disabled || !first.email_verified || give_up {
            if give_up {
                tracing::warn!(account_id, "notification mail never went: dropped");
            }
            state.store.finish_notification_mail(&ids).await?;
            continue;
        }
        let mut kinds: Vec<NotifyKind> = items
            .iter()
            .filter_map(|r| NotifyKind::for_notification(&r.kind))
            .filter(|k| k.switchable(Channel::Email))
            .collect();
        kinds.sort();
        kinds.dedup();
        let mut tokens = Vec::new();
        let mut links = Vec::new();
        for k in &kinds {
            let t = random_token();
            tokens.push((token_hash(&t), account_id, k.as_str().to_string()));
            links.push((*k, format!("{origin}/unsubscribe?token={t}")));
        }
        let all = random_token();
        let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        tokens.push((token_hash(&all), account_id, names.join(" ")));
        let header = format!("{origin}/unsubscribe?token={all}");
        state.store.add_unsubscribe_tokens(&tokens, now).await?;
        let mail = digest(&first.email, &items, &origin, &links, header);
        match state.mailer.send(&mail, now).await {
            Ok(()) => {
                state.store.finish_notification_mail(&ids).await?;
            }
            Err(e) => {
                // Stays claimed until the lease runs out, then is retried.
                tracing::warn!(account_id, error = %e, "notification mail not sent");
            }
        }
    }
    Ok(taken)
}

/// The digest mail of an account's waiting notifications.
fn digest(
    to: &str,
    items: &[PendingMail],
    origin: &str,
    unsubscribe: &[(NotifyKind, String)],
    header: String,
) -> crate::mail::Mail {
    let subject = match items {
        [one] => {
            let text: String = one.message.chars().take(120).collect();
            format!("Marquee: {text}")
        }
        many => format!("Marquee: {} new notifications", many.len()),
    };
    let mut body = String::from("Hello,\n\n");
    for r in items.iter().take(DIGEST_MAX_ITEMS) {
        body.push_str(&format!("- {}\n  {origin}{}\n\n", r.message, r.link));
    }
    if items.len() > DIGEST_MAX_ITEMS {
        body.push_str(&format!(
            "… and {} more: {origin}/notifications\n\n",
            items.len() - DIGEST_MAX_ITEMS
        ));
    }
    body.push_str(&format!(
        "You get these e-mails because of your notification settings: \
         {origin}/account#notifications\n"
    ));
    for (k, link) in unsubscribe {
        body.push_str(&format!("Stop e-mails about \"{}\": {link}\n", k.label()));
    }
    crate::mail::Mail {
        to: to.to_string(),
        subject,
        body,
        list_unsubscribe: Some(header),
    }
}
