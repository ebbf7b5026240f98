//! Privacy: everything stored about one account, as an export, and the
//! deletion of an account (erasing what is personal, anonymising what feeds
//! aggregates). What is kept and why is in `docs/privacy.md`.

use crate::Result;
use async_trait::async_trait;
use marquee_domain::Millis;

/// Everything stored about an account, section by section.
///
/// Each section is one table's rows about the account, read with an explicit
/// column list (never a password hash, session or token hash), each row a
/// JSON object keyed by column name.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountExport {
    /// The account row itself (no password hash).
    pub account: serde_json::Value,
    /// `(section name, rows)`, in a fixed order.
    pub sections: Vec<(String, Vec<serde_json::Value>)>,
}

/// What a deletion did, table by table (`(table, rows)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletionReport {
    /// Rows deleted.
    pub erased: Vec<(String, u64)>,
    /// Rows kept with the link to the account (and its free text) removed.
    pub anonymised: Vec<(String, u64)>,
    /// Shared transcript links revoked.
    pub shares_revoked: u64,
}

/// Export and deletion of one account's data.
#[async_trait]
pub trait PrivacyStore: Send + Sync {
    /// Everything stored about `account_id` ([`crate::StoreError::NotFound`]
    /// if there is no such account).
    async fn export_account(&self, account_id: i64) -> Result<AccountExport>;

    /// Deletes the account in one transaction: personal rows and text the
    /// account wrote are erased, rows aggregates need are kept without the
    /// link to the account, shared transcript links stop working.
    async fn delete_account(&self, account_id: i64, now: Millis) -> Result<DeletionReport>;
}
