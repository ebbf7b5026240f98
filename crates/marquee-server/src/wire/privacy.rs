//! The JSON API's form of `marquee_store::privacy` results.

use marquee_domain::Millis;
use marquee_store::privacy as store;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Everything stored about the signed-in account ("Export my data").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountExport {
    /// `marquee-export-1`.
    pub format: String,
    /// When it was made, ms.
    pub exported_at: Millis,
    /// The account (no password hash).
    #[schema(value_type = Object)]
    pub account: serde_json::Value,
    /// One list of rows per table, by table name (sessions with their
    /// times only, never their tokens).
    #[schema(value_type = Object)]
    pub sections: BTreeMap<String, Vec<serde_json::Value>>,
}

impl AccountExport {
    /// The export made at `now`.
    pub fn new(e: store::AccountExport, now: Millis) -> Self {
        AccountExport {
            format: "marquee-export-1".into(),
            exported_at: now,
            account: e.account,
            sections: e.sections.into_iter().collect(),
        }
    }
}

/// What "Delete my account" did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletionReport {
    /// `true`: the account and its sign-in are gone.
    pub deleted: bool,
    /// Rows erased, by table.
    pub erased: BTreeMap<String, u64>,
    /// Rows kept for counts over time, without the account or its words.
    pub anonymised: BTreeMap<String, u64>,
    /// Shared transcript links revoked.
    pub shares_revoked: u64,
    /// What is kept, in a sentence (details: docs/privacy.md).
    pub kept: String,
}

/// The sentence the report and the confirmation page show.
pub const KEPT: &str = "Kept without any link to you: subscription events (kind, plan, \
price, cancellation reason and time, for counts over time), anonymous playback events \
(title and position, no name), perk budget audit lines, and social posts you published \
elsewhere (no longer linked to an account).";

impl From<store::DeletionReport> for DeletionReport {
    fn from(r: store::DeletionReport) -> Self {
        DeletionReport {
            deleted: true,
            erased: r.erased.into_iter().collect(),
            anonymised: r.anonymised.into_iter().collect(),
            shares_revoked: r.shares_revoked,
            kept: KEPT.into(),
        }
    }
}
