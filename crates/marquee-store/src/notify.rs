//! Notification preferences, the e-mail outbox of notifications and its
//! unsubscribe tokens. Which account wants what is decided by
//! `marquee_domain::notify`; producers (ideas, decisions, perks) write the
//! bell's rows and the outbox's in their own transaction through
//! `sql/notify.rs`'s `deliver`.

use crate::Result;
use async_trait::async_trait;
use marquee_domain::notify::Channels;
use marquee_domain::Millis;

/// A stored setting: the account changed this kind's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationPref {
    /// `NotifyKind::as_str`.
    pub kind: String,
    /// The channels.
    pub channels: Channels,
    /// When it was set.
    pub updated_at: Millis,
}

/// A notification waiting to be e-mailed, with its account's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMail {
    /// Outbox row.
    pub id: i64,
    /// The account.
    pub account_id: i64,
    /// Its address.
    pub email: String,
    /// Whether the address is confirmed.
    pub email_verified: bool,
    /// Whether staff disabled the account.
    pub disabled: bool,
    /// The notification row's kind (`idea.status_changed`, …).
    pub kind: String,
    /// Text.
    pub message: String,
    /// Site-relative link.
    pub link: String,
    /// When the notification was made.
    pub created_at: Millis,
    /// Claims so far, this one included.
    pub attempts: i64,
}

/// Preferences, the outbox and unsubscribe tokens.
#[async_trait]
pub trait NotifyStore: Send + Sync {
    /// The account's stored settings (kinds it changed).
    async fn notification_prefs(&self, account_id: i64) -> Result<Vec<NotificationPref>>;
    /// Sets kinds' settings in one transaction: `Some` stores the setting,
    /// `None` removes the row (back to the defaults).
    async fn set_notification_prefs(
        &self,
        account_id: i64,
        settings: &[(String, Option<Channels>)],
        now: Millis,
    ) -> Result<()>;
    /// Claims up to `limit` due outbox rows (oldest first) until
    /// `now + lease_ms`, counting the attempt; another claimer skips them.
    async fn claim_notification_mail(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<PendingMail>>;
    /// Stores unsubscribe tokens (hash, account, kind) for a mail about to go.
    async fn add_unsubscribe_tokens(
        &self,
        tokens: &[(String, i64, String)],
        now: Millis,
    ) -> Result<()>;
    /// Removes outbox rows: sent, or dropped (no address to send to).
    async fn finish_notification_mail(&self, ids: &[i64]) -> Result<u64>;
    /// The account and preference kind of an unsubscribe token.
    async fn unsubscribe_token(&self, token_hash: &str) -> Result<Option<(i64, String)>>;
}
