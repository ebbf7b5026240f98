//! Account flows shared by the JSON API and the pages: sign-up, log-in,
//! log-out, profile selection. Handlers only translate HTTP to these calls.

use crate::auth::{self, CurrentUser};
use crate::error::AppError;
use crate::AppState;
use axum::http::HeaderMap;
use marquee_domain::{validate, Account, Plan, Profile, Role};
use marquee_store::{NewAccount, TokenPurpose};
use std::net::IpAddr;

/// A new session: the raw token goes into the cookie or the client, once.
#[derive(Debug)]
pub struct NewSession {
    /// The raw session token.
    pub token: String,
    /// The CSRF token bound to the session.
    pub csrf_token: String,
    /// The account.
    pub account: Account,
    /// Seconds until expiry.
    pub max_age_s: i64,
}

async fn start_session(
    state: &AppState,
    account: Account,
    profile_id: Option<i64>,
) -> Result<NewSession, AppError> {
    let token = auth::random_token();
    let csrf = auth::random_token();
    let now = state.clock.now_ms();
    let ttl_ms = i64::try_from(state.config.auth.session_ttl_hours)
        .unwrap_or(24)
        .saturating_mul(3_600_000);
    state
        .store
        .create_session(
            &auth::token_hash(&token),
            account.id,
            profile_id,
            &csrf,
            now,
            now + ttl_ms,
        )
        .await?;
    Ok(NewSession {
        token,
        csrf_token: csrf,
        account,
        max_age_s: ttl_ms / 1000,
    })
}

/// Spends one of the client address's anonymous writes (sign-up, log-in):
/// 429 once `auth.anonymous_per_minute` are used up. Runs before any
/// password hashing, so a flood costs no argon2 work.
pub fn anonymous_write(state: &AppState, ip: IpAddr) -> Result<(), AppError> {
    state
        .anon
        .take(
            ip,
            state.clock.now_ms(),
            state.config.auth.anonymous_per_minute,
        )
        .map_err(|retry_after_s| AppError::TooManyRequests { retry_after_s })
}

/// A place among the `auth.max_concurrent_hashes` password hashes computed
/// at once (19 MiB each), counted in the metrics while held.
pub(crate) struct HashPermit<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
    in_flight: &'a prometheus::IntGauge,
}

impl Drop for HashPermit<'_> {
    fn drop(&mut self) {
        self.in_flight.dec();
    }
}

/// Waits for a [`HashPermit`].
pub(crate) async fn hashing(state: &AppState) -> Result<HashPermit<'_>, AppError> {
    let permit = state
        .hashing
        .acquire()
        .await
        .map_err(|_| AppError::Unavailable("shutting down".into()))?;
    state.metrics.hash_started();
    Ok(HashPermit {
        _permit: permit,
        in_flight: &state.metrics.hashes_in_flight,
    })
}

/// What a sign-up led to.
#[derive(Debug)]
pub enum SignupOutcome {
    /// Signed in at once: this installation sends no mail, so the address
    /// cannot be confirmed (and a taken address is a 409).
    Session(NewSession),
    /// A mail went out and the answer says only "look in your inbox": a
    /// confirmation link for a new account, or, for an address that already
    /// has one, a note saying so with a way back in. The answer is the same
    /// either way.
    CheckEmail {
        /// The new account (not for the answer: for a referral code).
        new_account: Option<i64>,
    },
}

/// Signs up a viewer with a first profile. Where mail is configured the
/// address must be confirmed first and the answer does not tell whether it
/// already had an account; otherwise a session starts at once.
pub async fn signup(
    state: &AppState,
    email: &str,
    password: &str,
    profile_name: Option<&str>,
    ip: IpAddr,
    headers: &HeaderMap,
) -> Result<SignupOutcome, AppError> {
    anonymous_write(state, ip)?;
    let email = validate::email(email)?;
    validate::password(password)?;
    let first_profile = match profile_name {
        Some(n) if !n.trim().is_empty() => validate::profile_name(n, false)?,
        _ => validate::profile_name(email.split('@').next().unwrap_or("Me"), false)
            .unwrap_or_else(|_| "Me".to_string()),
    };
    let confirm_by_mail = state.mailer.configured();
    let hash = {
        let _permit = hashing(state).await?;
        auth::hash_password(password.to_string()).await?
    };
    let created = state
        .store
        .create_account(
            &NewAccount {
                email: email.clone(),
                password_hash: hash,
                role: Role::Viewer,
                plan: Plan::Standard,
                must_change_password: false,
                first_profile,
                email_verified: !confirm_by_mail,
            },
            state.clock.now_ms(),
        )
        .await;
    if confirm_by_mail {
        let origin = public_origin(state, headers);
        return match created {
            Ok(account) => {
                state.mail.push(crate::mail::MailJob::VerifyEmail {
                    account_id: account.id,
                    email: account.email,
                    origin,
                });
                Ok(SignupOutcome::CheckEmail {
                    new_account: Some(account.id),
                })
            }
            Err(marquee_store::StoreError::Conflict { .. }) => {
                state
                    .mail
                    .push(crate::mail::MailJob::AlreadyRegistered { email, origin });
                Ok(SignupOutcome::CheckEmail { new_account: None })
            }
            Err(e) => Err(e.into()),
        };
    }
    Ok(SignupOutcome::Session(session_for(state, created?).await?))
}

/// Confirms an account's address with the mailed token and starts a
/// session (the link works once, for [`VERIFY_TOKEN_TTL_MS`]).
pub async fn verify_email(
    state: &AppState,
    token: &str,
    ip: IpAddr,
) -> Result<NewSession, AppError> {
    anonymous_write(state, ip)?;
    const WHY: &str = "this confirmation link is not valid any more (used, expired or mistyped); log in to get a new one";
    let token = token_arg(token, WHY)?;
    let id = spend_token(state, TokenPurpose::VerifyEmail, token, WHY).await?;
    state.store.set_email_verified(id).await?;
    let account = state
        .store
        .account(id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such account".into()))?;
    link_help_conversations(state, id, &account.email).await;
    session_for(state, account).await
}

/// The account just proved `email` is its own: the support conversations
/// a visitor opened with that (verified) address join its history. A
/// failure here only delays the link, so it is logged, not returned.
async fn link_help_conversations(state: &AppState, account_id: i64, email: &str) {
    match state
        .store
        .link_visitor_conversations(account_id, email, state.clock.now_ms())
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            account = account_id,
            conversations = n,
            "visitor conversations linked"
        ),
        Err(e) => {
            tracing::warn!(error = %e, account = account_id, "linking visitor conversations failed")
        }
    }
}

/// A mailed token as sent: trimmed, not empty, not absurdly long; else the
/// 400 on `token` saying `why`.
pub(crate) fn token_arg<'a>(token: &'a str, why: &'static str) -> Result<&'a str, AppError> {
    let token = token.trim();
    if token.is_empty() || token.len() > 200 {
        return Err(AppError::invalid("token", why));
    }
    Ok(token)
}

/// Spends a mailed token of `purpose` (once, before it expires): its
/// account, or the 400 on `token` saying `why`.
async fn spend_token(
    state: &AppState,
    purpose: TokenPurpose,
    token: &str,
    why: &'static str,
) -> Result<i64, AppError> {
    state
        .store
        .use_account_token(purpose, &auth::token_hash(token), state.clock.now_ms())
        .await?
        .ok_or_else(|| AppError::invalid("token", why))
}

/// Starts a session for an account, with its profile selected when it has
/// only one (with several the client picks).
async fn session_for(state: &AppState, account: Account) -> Result<NewSession, AppError> {
    let profiles = state.store.profiles(account.id).await?;
    let selected = (profiles.len() == 1).then(|| profiles[0].id);
    start_session(state, account, selected).await
}

/// Checks credentials under the rate limit and starts a session. A single
/// profile is selected at once; with several the client picks one.
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    ip: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<NewSession, AppError> {
    if let Some(ip) = ip {
        anonymous_write(state, ip)?;
    }
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return Err(AppError::invalid("email", "is required"));
    }
    if password.is_empty() {
        return Err(AppError::invalid("password", "is required"));
    }
    // An address that failed too often waits out the window, whichever
    // account it tries; an account that failed too often (from anywhere)
    // backs off exponentially, briefly, so that an attacker cannot lock its
    // owner out: a correct password from another address soon gets in.
    let mut keys = vec![format!("acct:{email}")];
    if let Some(ip) = ip {
        keys.push(format!("ip:{ip}"));
    }
    let cfg = &state.config.auth;
    let now = state.clock.now_ms();
    let window_ms = i64::try_from(cfg.login_window_s)
        .unwrap_or(900)
        .saturating_mul(1000);
    let blocked = state
        .limiter
        .blocked(&keys[1..], now, cfg.login_max_failures, window_ms)
        .or_else(|| {
            state.limiter.backoff(
                &keys[0],
                now,
                cfg.login_max_failures,
                window_ms,
                cfg.login_backoff_max_s,
            )
        });
    if let Some(retry_after_s) = blocked {
        state
            .metrics
            .logins
            .with_label_values(&["rate_limited"])
            .inc();
        return Err(AppError::TooManyRequests { retry_after_s });
    }
    let creds = state.store.credentials(&email).await?;
    let hash = creds
        .as_ref()
        .map(|c| c.password_hash.clone())
        .unwrap_or_else(|| state.dummy_hash.to_string());
    let ok = {
        let _permit = hashing(state).await?;
        auth::verify_password(password.to_string(), hash).await?
    };
    let Some(creds) = creds.filter(|_| ok) else {
        state.limiter.fail(&keys, now);
        state.metrics.logins.with_label_values(&["failure"]).inc();
        return Err(AppError::Unauthorized("wrong e-mail or password".into()));
    };
    state.limiter.succeed(&keys[0]);
    if creds.account.disabled {
        // Only someone who knows the password learns this.
        state.metrics.logins.with_label_values(&["disabled"]).inc();
        return Err(AppError::Forbidden(
            "this account is disabled; contact support".into(),
        ));
    }
    if !creds.email_verified {
        // Only someone who knows the password learns this. A new link goes
        // out (at most three an hour).
        state.mail.push(crate::mail::MailJob::VerifyEmail {
            account_id: creds.account.id,
            email: creds.account.email.clone(),
            origin: public_origin(state, headers),
        });
        return Err(AppError::Forbidden(
            "confirm your e-mail address first: we sent you a new link".into(),
        ));
    }
    state.metrics.logins.with_label_values(&["success"]).inc();
    session_for(state, creds.account).await
}

/// Ends every session of the account, this one included.
pub async fn sign_out_everywhere(state: &AppState, user: &CurrentUser) -> Result<(), AppError> {
    state.store.delete_account_sessions(user.account.id).await?;
    Ok(())
}

/// Ends the session.
pub async fn logout(state: &AppState, user: &CurrentUser) -> Result<(), AppError> {
    state.store.delete_session(&user.token_hash).await?;
    Ok(())
}

/// Loads a profile, checking it belongs to the user: 404 unknown, 403 another account's.
pub async fn own_profile(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<Profile, AppError> {
    let p = state
        .store
        .profile(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("profile {id} not found")))?;
    if p.account_id != user.account.id {
        return Err(AppError::Forbidden(
            "that profile belongs to another account".into(),
        ));
    }
    Ok(p)
}

/// The session's profile, when one is selected and still the account's.
pub async fn session_profile(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Option<Profile>, AppError> {
    let Some(id) = user.profile_id else {
        return Ok(None);
    };
    Ok(state
        .store
        .profile(id)
        .await?
        .filter(|p| p.account_id == user.account.id))
}

/// Whose PIN switching the session to profile `id` asks for
/// (`marquee_domain::pin::needed`), with the profile itself.
pub async fn pin_for_switch(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<(Profile, Option<Profile>), AppError> {
    let target = own_profile(state, user, id).await?;
    let current = session_profile(state, user).await?;
    let guard = marquee_domain::pin::needed(current.as_ref(), &target).cloned();
    Ok((target, guard))
}

/// Selects a profile for the session. Where a PIN guards the switch (a
/// locked profile, or leaving a locked kids profile) it must be given:
/// 403 `pin_required` without it, 403 `wrong_pin` with the tries left,
/// 429 once the profile is locked.
pub async fn select_profile(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    pin: Option<&str>,
) -> Result<Profile, AppError> {
    let (target, guard) = pin_for_switch(state, user, id).await?;
    if let Some(guard) = guard {
        check_pin(state, &guard, pin).await?;
    }
    state
        .store
        .set_session_profile(&user.token_hash, target.id)
        .await?;
    Ok(target)
}

/// Checks `pin` against `profile`'s PIN. Every try is counted in the store
/// before the hash is checked, so that parallel guesses on several
/// instances share the [`marquee_domain::pin::TRIES`].
async fn check_pin(state: &AppState, profile: &Profile, pin: Option<&str>) -> Result<(), AppError> {
    use marquee_domain::pin;
    let Some(pin) = pin.filter(|p| !p.is_empty()) else {
        return Err(AppError::PinRequired(format!(
            "enter the PIN of the profile {}",
            profile.name
        )));
    };
    pin::check("pin", pin)?;
    let now = state.clock.now_ms();
    let locked = |until: i64| AppError::TooManyRequests {
        retry_after_s: u64::try_from((until - now).max(1000) / 1000).unwrap_or(1),
    };
    let (pin_hash, failures_before) = match state.store.begin_pin_try(profile.id, now).await? {
        marquee_store::PinTry::NoPin => return Ok(()),
        marquee_store::PinTry::Locked { until } => return Err(locked(until)),
        marquee_store::PinTry::Counted {
            pin_hash,
            failures_before,
        } => (pin_hash, failures_before),
    };
    if !pin::may_try(failures_before) {
        let until = now + pin::LOCKOUT_MS;
        state.store.end_pin_try(profile.id, Some(until)).await?;
        return Err(locked(until));
    }
    let ok = {
        let _permit = hashing(state).await?;
        auth::verify_password(pin.to_string(), pin_hash).await?
    };
    if ok {
        state.store.end_pin_try(profile.id, None).await?;
        return Ok(());
    }
    match pin::after_wrong(failures_before + 1, now) {
        Ok(left) => Err(AppError::WrongPin(format!(
            "Wrong PIN: {left} {} left",
            if left == 1 { "try" } else { "tries" }
        ))),
        Err(until) => {
            state.store.end_pin_try(profile.id, Some(until)).await?;
            Err(AppError::TooManyRequests {
                retry_after_s: u64::try_from(pin::LOCKOUT_MS / 1000).unwrap_or(900),
            })
        }
    }
}

/// Refuses managing profiles (adding, editing, deleting, PINs) from a kids
/// profile: a child could otherwise unlock itself.
async fn not_from_kids(state: &AppState, user: &CurrentUser) -> Result<(), AppError> {
    if session_profile(state, user)
        .await?
        .is_some_and(|p| p.is_kids)
    {
        return Err(AppError::Forbidden(
            "profiles cannot be managed from a kids profile; switch profile first".into(),
        ));
    }
    Ok(())
}

/// Sets (`Some`, 4 digits) or removes (`None`) a profile's PIN. The
/// account's password confirms it (403 naming `password` when wrong).
pub async fn set_profile_pin(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    pin: Option<&str>,
    password: &str,
) -> Result<Profile, AppError> {
    not_from_kids(state, user).await?;
    if let Some(pin) = pin {
        marquee_domain::pin::check("pin", pin)?;
    }
    own_profile(state, user, id).await?;
    check_current_password(state, user, password, || AppError::Reauthenticate {
        field: "password".into(),
        message: "the password is wrong".into(),
    })
    .await?;
    let hash = match pin {
        Some(pin) => {
            let _permit = hashing(state).await?;
            Some(auth::hash_password(pin.to_string()).await?)
        }
        None => None,
    };
    state
        .store
        .set_profile_pin(user.account.id, id, hash.as_deref())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("profile {id} not found")))
}

/// Adds a profile to the user's account.
pub async fn create_profile(
    state: &AppState,
    user: &CurrentUser,
    name: &str,
    is_kids: bool,
) -> Result<Profile, AppError> {
    not_from_kids(state, user).await?;
    let name = validate::profile_name(name, user.account.role.is_staff())?;
    Ok(state
        .store
        .create_profile(user.account.id, &name, is_kids, state.clock.now_ms())
        .await?)
}

/// Renames a profile of the caller's account, sets its kids flag and its
/// avatar (a key of `marquee_domain::AVATARS`). Another account's profile
/// is a 404.
pub async fn update_profile(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    name: &str,
    is_kids: bool,
    avatar: Option<&str>,
) -> Result<Profile, AppError> {
    not_from_kids(state, user).await?;
    let name = validate::profile_name(name, user.account.role.is_staff())?;
    let avatar = avatar
        .filter(|a| !a.is_empty())
        .map(marquee_domain::check_avatar)
        .transpose()?;
    state
        .store
        .update_profile(user.account.id, id, &name, is_kids, avatar.as_deref())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("profile {id} not found")))
}

/// Deletes a profile of the caller's account with its history, thumbs and
/// playback state. The last profile stays (409 naming `profile`).
pub async fn delete_profile(state: &AppState, user: &CurrentUser, id: i64) -> Result<(), AppError> {
    not_from_kids(state, user).await?;
    if state.store.delete_profile(user.account.id, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("profile {id} not found")))
    }
}

/// Changes the password, ends every other session and starts a new one.
pub async fn change_password(
    state: &AppState,
    user: &CurrentUser,
    current: &str,
    new: &str,
) -> Result<NewSession, AppError> {
    check_current_password(state, user, current, || {
        wrong_current_password("current_password")
    })
    .await?;
    validate::password(new).map_err(|e| match e {
        marquee_domain::DomainError::Invalid { message, .. } => {
            AppError::invalid("new_password", message)
        }
        other => other.into(),
    })?;
    let hash = {
        let _permit = hashing(state).await?;
        auth::hash_password(new.to_string()).await?
    };
    state
        .store
        .set_password(user.account.id, &hash, false)
        .await?;
    state.store.delete_account_sessions(user.account.id).await?;
    let mut account = user.account.clone();
    account.must_change_password = false;
    start_session(state, account, user.profile_id).await
}

/// The refusal of a sensitive change whose current password is wrong: a
/// 400 on `field`.
pub fn wrong_current_password(field: &str) -> AppError {
    AppError::BadRequest {
        field: Some(field.into()),
        message: "the current password is wrong".into(),
    }
}

/// Re-authentication for a sensitive change: the signed-in account's
/// current password, or the error `refusal` makes (for a password or
/// address change [`wrong_current_password`]). Guessing it is a log-in by
/// other means: the same failure count per account (429 past it).
pub async fn check_current_password(
    state: &AppState,
    user: &CurrentUser,
    current: &str,
    refusal: impl FnOnce() -> AppError,
) -> Result<(), AppError> {
    let key = [format!("pwcheck:{}", user.account.id)];
    let cfg = &state.config.auth;
    let now = state.clock.now_ms();
    let window_ms = i64::try_from(cfg.login_window_s)
        .unwrap_or(900)
        .saturating_mul(1000);
    if let Some(retry_after_s) = state
        .limiter
        .blocked(&key, now, cfg.login_max_failures, window_ms)
    {
        return Err(AppError::TooManyRequests { retry_after_s });
    }
    let creds = state
        .store
        .credentials(&user.account.email)
        .await?
        .ok_or_else(|| AppError::Unauthorized("account is gone".into()))?;
    let ok = {
        let _permit = hashing(state).await?;
        auth::verify_password(current.to_string(), creds.password_hash).await?
    };
    if !ok {
        state.limiter.fail(&key, now);
        return Err(refusal());
    }
    state.limiter.succeed(&key[0]);
    Ok(())
}

/// How long a link confirming a new address works.
pub const EMAIL_CHANGE_TTL_MS: i64 = 24 * HOUR_MS;

/// Asks to move the account to another address: with the current
/// password, the new address is checked and mailed a single-use link
/// (24 hours); the address changes only when the link is used. 409 on
/// `email` when another account has it.
pub async fn request_email_change(
    state: &AppState,
    user: &CurrentUser,
    new_email: &str,
    password: &str,
    headers: &HeaderMap,
) -> Result<String, AppError> {
    let email = validate::email(new_email)?;
    if email == user.account.email {
        return Err(AppError::invalid("email", "that is already your address"));
    }
    check_current_password(state, user, password, || wrong_current_password("password")).await?;
    if !state.mailer.configured() {
        return Err(AppError::Unavailable(
            "e-mail is not configured on this installation, so a new address cannot be confirmed"
                .into(),
        ));
    }
    if state.store.credentials(&email).await?.is_some() {
        return Err(AppError::Conflict {
            field: Some("email".into()),
            message: "another account uses that address".into(),
        });
    }
    let token = auth::random_token();
    let now = state.clock.now_ms();
    let stored = state
        .store
        .create_email_change(
            &marquee_store::NewEmailChange {
                account_id: user.account.id,
                new_email: email.clone(),
                token_hash: auth::token_hash(&token),
                expires_at: now + EMAIL_CHANGE_TTL_MS,
                window_start: now - HOUR_MS,
                max_per_window: i64::from(RESETS_PER_HOUR),
            },
            now,
        )
        .await?;
    if !stored {
        return Err(AppError::TooManyRequests {
            retry_after_s: u64::try_from(HOUR_MS / 1000).unwrap_or(3600),
        });
    }
    let origin = public_origin(state, headers);
    state
        .mail
        .push(crate::mail::MailJob::Send(crate::mail::Mail {
            list_unsubscribe: None,
            to: email.clone(),
            subject: "Confirm your new e-mail address for Marquee".into(),
            body: format!(
                "Someone (we hope you) asked to use this address for their Marquee account.\n\n\
             Open this link to confirm it:\n{origin}/account/email/confirm?token={token}\n\n\
             The link works once, for 24 hours. If it was not you, ignore this mail: \
             nothing changes.\n"
            ),
        }));
    Ok(email)
}

/// Uses a link confirming a new address: the account's address changes,
/// and the old address is told (with the way back in if it was not them).
pub async fn confirm_email_change(
    state: &AppState,
    token: &str,
    headers: &HeaderMap,
) -> Result<String, AppError> {
    const WHY: &str =
        "this link is not valid any more (used, expired, replaced by a newer one, or mistyped)";
    let token = token_arg(token, WHY)?;
    let Some((id, old, new)) = state
        .store
        .confirm_email_change(&auth::token_hash(token), state.clock.now_ms())
        .await?
    else {
        return Err(AppError::invalid("token", WHY));
    };
    tracing::info!(account = id, "e-mail address changed");
    link_help_conversations(state, id, &new).await;
    let origin = public_origin(state, headers);
    state
        .mail
        .push(crate::mail::MailJob::Send(crate::mail::Mail {
            list_unsubscribe: None,
            to: old,
            subject: "Your Marquee e-mail address was changed".into(),
            body: format!(
                "The address of your Marquee account is now {new}.\n\n\
             If you did not ask for this, reset your password at {origin}/forgot \
             and contact support.\n"
            ),
        }));
    Ok(new)
}

/// Whether cookies should carry `Secure`: forced by config, or when the
/// public URL or the proxy says https.
pub fn secure_cookies(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(forced) = state.config.server.secure_cookies {
        return forced;
    }
    let public_https = state
        .config
        .server
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    public_https || forwarded_https(headers)
}

/// Whether the (trusted) proxy says the request came over https. The
/// header reaches here only from `server.trusted_proxies` (see
/// `auth::resolve_client_ip`).
fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The scheme and host for absolute links: `server.public_url` when set;
/// otherwise the request's `Host` if `server.allowed_hosts` names it (the
/// port may differ), else `http://localhost`. A `Host` header is the
/// client's word: copied unchecked into a page, a cache or a shared link
/// would carry an attacker's domain.
pub fn public_origin(state: &AppState, headers: &HeaderMap) -> String {
    let server = &state.config.server;
    if let Some(u) = server.public_url.as_deref() {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.parse::<axum::http::uri::Authority>().ok())
        .filter(|a| {
            server
                .allowed_hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(a.host()))
        });
    let scheme = if forwarded_https(headers) {
        "https"
    } else {
        "http"
    };
    match host {
        Some(a) => format!("{scheme}://{a}"),
        None => "http://localhost".to_string(),
    }
}

/// The `Set-Cookie` value for a session.
pub fn session_cookie(token: &str, max_age_s: i64, secure: bool) -> String {
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{}",
        auth::SESSION_COOKIE,
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that clears the session.
pub fn clear_session_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

/// The page-size rule every listing shares: absent → `default`, else 1..=`max`,
/// and a 400 naming `limit` otherwise.
pub fn check_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, AppError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(AppError::invalid("limit", format!("must be 1 to {max}"))),
    }
}

/// A redirect target the client chose (`next` after log-in), kept only when
/// it is a path on this site; anything else becomes `/`.
///
/// Checked on the decoded value and again after parsing it as a URL against
/// a placeholder origin, the way a browser resolves a `Location`: control
/// characters (which browsers drop, turning `/\t/evil.example` into
/// `//evil.example`), backslashes (which browsers read as `/`),
/// scheme-relative `//host` and absolute URLs are all refused. The answer is
/// the parsed path, query and fragment, percent-encoded, so it is always a
/// valid header value.
pub fn safe_next(next: Option<&str>) -> String {
    const ORIGIN: &str = "http://marquee.invalid";
    let fallback = || "/".to_string();
    let Some(n) = next else {
        return fallback();
    };
    let refused = n.len() > 2048
        || !n.starts_with('/')
        || n.starts_with("//")
        || n.chars().any(|c| c.is_control() || c == '\\');
    if refused {
        return fallback();
    }
    let Ok(base) = url::Url::parse(ORIGIN) else {
        return fallback();
    };
    let Ok(u) = base.join(n) else {
        return fallback();
    };
    if u.origin() != base.origin() || !u.username().is_empty() || u.password().is_some() {
        return fallback();
    }
    let path = u.path();
    if !path.starts_with('/') || path.starts_with("//") {
        return fallback();
    }
    let mut out = path.to_string();
    if let Some(q) = u.query() {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = u.fragment() {
        out.push('#');
        out.push_str(f);
    }
    out
}

// ---------- password reset ----------

/// A reset link works this long.
pub const RESET_TOKEN_TTL_MS: i64 = 30 * 60 * 1000;
/// A confirmation link works this long.
pub const VERIFY_TOKEN_TTL_MS: i64 = 48 * 3600 * 1000;
/// Reset mails one account may be sent per hour.
pub const RESETS_PER_HOUR: u32 = 3;
const HOUR_MS: i64 = 3_600_000;

/// Asks for a password-reset mail for `email`. The answer and its timing
/// are the same whether or not an account uses the address: the request
/// only checks the address's form and the rate limits (per client address,
/// and per e-mail address), then queues the work for the mail worker, which
/// looks the account up and mails it a link.
pub fn request_password_reset(
    state: &AppState,
    email: &str,
    ip: IpAddr,
    headers: &HeaderMap,
) -> Result<(), AppError> {
    anonymous_write(state, ip)?;
    let email = validate::email(email)?;
    let now = state.clock.now_ms();
    let key = [format!("reset:{email}")];
    if let Some(retry_after_s) = state.limiter.blocked(&key, now, RESETS_PER_HOUR, HOUR_MS) {
        return Err(AppError::TooManyRequests { retry_after_s });
    }
    state.limiter.fail(&key, now);
    if !state.mailer.configured() {
        tracing::warn!("password reset asked for, but [smtp] is not configured: no mail goes out");
    }
    state.mail.push(crate::mail::MailJob::PasswordReset {
        email,
        origin: public_origin(state, headers),
    });
    Ok(())
}

/// Has a reset link mailed to an account (admin action); the same mail as
/// when the customer asks.
pub async fn admin_password_reset(
    state: &AppState,
    admin: &CurrentUser,
    account_id: i64,
    headers: &HeaderMap,
) -> Result<(), AppError> {
    let account = state
        .store
        .account(account_id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such account".into()))?;
    if !state.mailer.configured() {
        return Err(AppError::Unavailable(
            "e-mail is not configured on this installation".into(),
        ));
    }
    state.mail.push(crate::mail::MailJob::PasswordReset {
        email: account.email,
        origin: public_origin(state, headers),
    });
    audit(state, admin, account_id, "password_reset_sent", None).await
}

/// Records a staff action on an account in its audit trail.
async fn audit(
    state: &AppState,
    admin: &CurrentUser,
    account_id: i64,
    action: &str,
    detail: Option<String>,
) -> Result<(), AppError> {
    tracing::info!(admin = admin.account.id, account = account_id, action, detail = ?detail, "staff action");
    state
        .store
        .record_staff_action(
            &marquee_store::StaffAction {
                actor_id: admin.account.id,
                account_id,
                action: action.to_string(),
                detail,
            },
            state.clock.now_ms(),
        )
        .await?;
    Ok(())
}

/// Sets a new password with a reset token: the token works once and for
/// [`RESET_TOKEN_TTL_MS`]; every session of the account ends. The new
/// password is checked before the token is spent.
pub async fn confirm_password_reset(
    state: &AppState,
    token: &str,
    password: &str,
    ip: IpAddr,
) -> Result<(), AppError> {
    anonymous_write(state, ip)?;
    validate::password(password)?;
    const WHY: &str =
        "this reset link is not valid any more (used, expired or mistyped); ask for a new one";
    let token = token_arg(token, WHY)?;
    let hash = {
        let _permit = hashing(state).await?;
        auth::hash_password(password.to_string()).await?
    };
    let account_id = spend_token(state, TokenPurpose::PasswordReset, token, WHY).await?;
    state.store.set_password(account_id, &hash, false).await?;
    state.store.delete_account_sessions(account_id).await?;
    if let Some(a) = state.store.account(account_id).await? {
        state.limiter.succeed(&format!("acct:{}", a.email));
    }
    Ok(())
}

/// The reset mail for an account, with its link.
fn reset_mail(email: &str, link: &str) -> crate::mail::Mail {
    crate::mail::Mail {
        list_unsubscribe: None,
        to: email.to_string(),
        subject: "Reset your Marquee password".into(),
        body: format!(
            "Someone (we hope you) asked to reset the password of the Marquee account {email}.\n\n\
             Open this link within {} minutes to choose a new one:\n{link}\n\n\
             The link works once. If you did not ask, ignore this mail: your password stays as it is.\n",
            RESET_TOKEN_TTL_MS / 60_000
        ),
    }
}

/// Does one mail job: for a reset, looks the address up and, when it has
/// an account that has not had [`RESETS_PER_HOUR`] links this hour, stores
/// a token and mails the link.
async fn run_mail_job(state: &AppState, job: crate::mail::MailJob) -> Result<(), AppError> {
    use crate::mail::MailJob;
    if !state.mailer.configured() {
        return Ok(());
    }
    let now = state.clock.now_ms();
    let mail = match job {
        MailJob::Send(m) => m,
        MailJob::PasswordReset { email, origin } => {
            let Some(c) = state.store.credentials(&email).await? else {
                return Ok(());
            };
            let Some(token) = issue_token(
                state,
                TokenPurpose::PasswordReset,
                c.account.id,
                RESET_TOKEN_TTL_MS,
            )
            .await?
            else {
                return Ok(());
            };
            reset_mail(&c.account.email, &format!("{origin}/reset?token={token}"))
        }
        MailJob::VerifyEmail {
            account_id,
            email,
            origin,
        } => {
            let Some(token) = issue_token(
                state,
                TokenPurpose::VerifyEmail,
                account_id,
                VERIFY_TOKEN_TTL_MS,
            )
            .await?
            else {
                return Ok(());
            };
            crate::mail::Mail {
                list_unsubscribe: None,
                to: email,
                subject: "Confirm your e-mail address for Marquee".into(),
                body: format!(
                    "Welcome to Marquee.\n\nOpen this link to confirm your address and start watching:\n\
                     {origin}/verify?token={token}\n\nThe link works once, for {} hours. \
                     If you did not sign up, ignore this mail and nothing happens.\n",
                    VERIFY_TOKEN_TTL_MS / 3_600_000
                ),
            }
        }
        MailJob::AlreadyRegistered { email, origin } => {
            let key = [format!("signup-mail:{email}")];
            if state
                .limiter
                .blocked(&key, now, RESETS_PER_HOUR, HOUR_MS)
                .is_some()
            {
                return Ok(());
            }
            state.limiter.fail(&key, now);
            crate::mail::Mail {
                list_unsubscribe: None,
                to: email.clone(),
                subject: "You already have a Marquee account".into(),
                body: format!(
                    "Someone (we hope you) tried to sign up to Marquee with {email}, \
                     which already has an account.\n\n\
                     Log in: {origin}/login\nForgot the password? {origin}/forgot\n\n\
                     If it was not you, ignore this mail: nothing changed.\n"
                ),
            }
        }
    };
    state
        .mailer
        .send(&mail, now)
        .await
        .map_err(|e| AppError::Unavailable(e.to_string()))
}

/// Stores a new token of `purpose` for an account (at most
/// [`RESETS_PER_HOUR`] an hour per purpose) and returns it, or `None` past
/// the limit.
async fn issue_token(
    state: &AppState,
    purpose: TokenPurpose,
    account_id: i64,
    ttl_ms: i64,
) -> Result<Option<String>, AppError> {
    let token = auth::random_token();
    let now = state.clock.now_ms();
    let stored = state
        .store
        .create_account_token(
            purpose,
            account_id,
            &auth::token_hash(&token),
            now,
            now + ttl_ms,
            now - HOUR_MS,
            RESETS_PER_HOUR,
        )
        .await?;
    if !stored {
        tracing::info!(
            account = account_id,
            purpose = purpose.as_str(),
            "mail skipped: hourly limit"
        );
    }
    Ok(stored.then_some(token))
}

/// Starts the mail worker: it runs the queued jobs ([`crate::mail::MailQueue`]).
pub fn spawn_mail_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            for job in state.mail.drain() {
                if let Err(e) = run_mail_job(&state, job).await {
                    tracing::warn!(error = %e, "mail job failed");
                }
            }
            state.mail.wait().await;
        }
    })
}

/// An admin changes another account: its role, its plan (an upgrade or
/// downgrade recorded with the admin as actor) and whether it is disabled
/// (a disabled account's sessions end and it cannot log in).
pub async fn staff_update_account(
    state: &AppState,
    admin: &CurrentUser,
    id: i64,
    role: Option<Role>,
    plan: Option<Plan>,
    disabled: Option<bool>,
) -> Result<(), AppError> {
    if id == admin.account.id && role.is_some_and(|r| r != Role::Admin) {
        return Err(AppError::invalid("role", "an admin cannot demote themself"));
    }
    if id == admin.account.id && disabled == Some(true) {
        return Err(AppError::invalid(
            "disabled",
            "an admin cannot disable themself",
        ));
    }
    let Some(before) = state.store.account(id).await? else {
        return Err(AppError::NotFound(format!("account {id} not found")));
    };
    if let Some(role) = role.filter(|r| *r != before.role) {
        state.store.set_role(id, role).await?;
        let detail = format!("{} → {}", before.role.as_str(), role.as_str());
        audit(state, admin, id, "role_changed", Some(detail)).await?;
    }
    if let Some(plan) = plan.filter(|p| *p != before.plan) {
        crate::plans::staff_set_plan(state, admin, id, plan).await?;
        let detail = format!("{} → {}", before.plan.as_str(), plan.as_str());
        audit(state, admin, id, "plan_changed", Some(detail)).await?;
    }
    if let Some(disabled) = disabled.filter(|d| *d != before.disabled) {
        state.store.set_disabled(id, disabled).await?;
        let action = if disabled { "disabled" } else { "enabled" };
        audit(state, admin, id, action, None).await?;
    }
    Ok(())
}
