//! Privacy: "Export my data" and "Delete my account". What is erased and
//! what is kept is documented in `docs/privacy.md`.

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::service::check_current_password;
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
    check_current_password(state, user, password, || AppError::Reauthenticate {
        field: "password".into(),
        message: "the password is wrong; your account was not deleted".into(),
    })
    .await?;
    let now = state.clock.now_ms();
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
