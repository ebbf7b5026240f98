//! Privacy: "Export my data" and "Delete my account". What is erased and
//! what is kept is documented in `docs/privacy.md`.

use crate::auth::{self, CurrentUser};
use crate::error::AppError;
use crate::service::hashing;
use crate::wire::privacy::{AccountExport, DeletionReport};
use crate::AppState;
use marquee_domain::Role;

/// Everything stored about the signed-in account.
pub async fn export(state: &AppState, user: &CurrentUser) -> Result<AccountExport, AppError> {
    let rows = state.store.export_account(user.account.id).await?;
    Ok(AccountExport::new(rows, state.clock.now_ms()))
}

/// Deletes the signed-in account after checking its password again.
///
/// A wrong password is 403 on `password`, counted like the current-password
/// check of a password change (the same per-account failure count, so the
/// two forms together give a guesser no more tries). Staff accounts are
/// removed by an admin, not by themselves (403).
pub async fn delete_account(
    state: &AppState,
    user: &CurrentUser,
    password: &str,
) -> Result<DeletionReport, AppError> {
    if user.account.role != Role::Viewer {
        return Err(AppError::Forbidden(
            "staff accounts cannot delete themselves; an admin removes them".into(),
        ));
    }
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
        auth::verify_password(password.to_string(), creds.password_hash).await?
    };
    if !ok {
        state.limiter.fail(&key, now);
        return Err(AppError::Reauthenticate {
            field: "password".into(),
            message: "the password is wrong; your account was not deleted".into(),
        });
    }
    state.limiter.succeed(&key[0]);
    // The files of the account's support attachments: their rows go with
    // the deletion, the files once it committed.
    let files = crate::support::attachments::account_files(state, user.account.id).await?;
    let report = state.store.delete_account(user.account.id, now).await?;
    crate::support::attachments::remove_files(state, &files).await;
    tracing::info!(
        account = user.account.id,
        "account deleted at its owner's request"
    );
    Ok(report.into())
}
