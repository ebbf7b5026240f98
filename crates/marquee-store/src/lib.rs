//! Marquee's storage layer.
//!
//! [`Store`] is the one interface the server and the CLI use; each backend
//! implements it in its own module (atuin-style). SQLite ([`sqlite::SqliteStore`])
//! is the embedded default. The backend is chosen by the URL scheme in
//! [`connect`].
//!
//! Invariants every backend keeps:
//! - a call either commits all of its writes or none of them;
//! - imports are idempotent: re-importing a row reports it as unchanged;
//! - times are integer milliseconds since the epoch, passed in by the caller
//!   (the store never reads the clock).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use async_trait::async_trait;
use marquee_domain::{
    Account, Credentials, GenreCount, HistoryEntry, Millis, Plan, Profile, Role, Thumb,
    TitleDetail, TitleKind, TitleSummary,
};
use std::sync::Arc;

/// The feature modules written once in `src/sql/`, mounted by each backend
/// module (`sqlite`, `postgres`) and so compiled once per backend against
/// that backend's dialect seam (which is why clippy's `duplicate_mod` is
/// expected here).
macro_rules! sql_features {
    () => {
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/attachments.rs"]
        mod attachments;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/catalog.rs"]
        mod catalog;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/changes.rs"]
        mod changes;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/decisions.rs"]
        mod decisions;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/home.rs"]
        mod home;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/ideas.rs"]
        mod ideas;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/jobs.rs"]
        mod jobs;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/library.rs"]
        mod library;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/listening.rs"]
        mod listening;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/notify.rs"]
        mod notify;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/outbox.rs"]
        mod outbox;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/overview.rs"]
        mod overview;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/perks.rs"]
        mod perks;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/plans.rs"]
        mod plans;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/playback.rs"]
        mod playback;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/privacy.rs"]
        mod privacy;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/proposals.rs"]
        mod proposals;
        #[allow(clippy::duplicate_mod)]
        #[path = "../sql/support.rs"]
        mod support;
    };
}

pub mod attachments;
pub mod changes;
pub mod decisions;
pub mod fanout;
pub mod health;
pub mod home;
pub mod ideas;
pub mod jobs;
pub mod library;
pub mod listening;
pub mod notify;
pub mod outbox;
pub mod overview;
pub mod perks;
pub mod plans;
pub mod playback;
pub mod postgres;
pub mod privacy;
pub mod proposals;
pub mod sqlite;
pub mod support;
pub mod transfer;

/// A `LIKE … ESCAPE '\'` pattern matching `q` anywhere, lower-cased (compare
/// it with `lower(column)`): the pattern characters in `q` are escaped, so
/// it is a literal substring on both backends.
pub(crate) fn like_contains(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub use attachments::AttachmentStore;
pub use changes::ChangeStore;
pub use decisions::DecisionStore;
pub use fanout::FanoutStore;
pub use health::{ConnectOptions, HealthStore};
pub use home::HomeStore;
pub use ideas::IdeaStore;
pub use jobs::JobStore;
pub use library::LibraryStore;
pub use listening::ListeningStore;
pub use notify::NotifyStore;
pub use outbox::OutboxStore;
pub use overview::OverviewStore;
pub use perks::PerksStore;
pub use plans::PlanStore;
pub use playback::PlaybackStore;
pub use privacy::PrivacyStore;
pub use proposals::ProposalStore;
pub use support::SupportStore;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value is taken, e.g. an e-mail address.
    #[error("{field} is already taken")]
    Conflict {
        /// The field whose value is taken.
        field: &'static str,
    },
    /// A limit was reached.
    #[error("{field}: {message}")]
    Limit {
        /// The field the limit is about.
        field: &'static str,
        /// The limit.
        message: String,
    },
    /// A per-account rate limit is reached (counted inside the write's
    /// transaction); nothing was written.
    #[error("rate limit reached; retry in {retry_after_s} s")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after_s: u64,
    },
    /// A referenced row does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: &'static str,
    },
    /// The database URL is malformed or names an unsupported backend.
    #[error("database url: {0}")]
    Url(String),
    /// The database cannot be reached or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database has no room left: the disk is full, or the configured
    /// size cap (`database.max_size_mb`) is reached. Nothing was written.
    #[error("storage full ({0}): free disk space or raise database.max_size_mb")]
    Full(String),
    /// Schema migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The input breaks a rule only the store can check (e.g. a merge cycle).
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

/// A domain rule's refusal, reported by the store that applied it.
impl From<marquee_domain::DomainError> for StoreError {
    fn from(e: marquee_domain::DomainError) -> Self {
        match e {
            marquee_domain::DomainError::Invalid { field, message } => {
                StoreError::Invalid { field, message }
            }
            marquee_domain::DomainError::Limit { field, message } => {
                StoreError::Limit { field, message }
            }
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(ref db) => match health::classify(db.as_ref()) {
                Some(health::Fault::Unavailable) => StoreError::Unavailable(db.message().into()),
                Some(health::Fault::Full) => StoreError::Full(db.message().into()),
                None => StoreError::Database(e),
            },
            other => StoreError::Database(other),
        }
    }
}

/// Store result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Counts of an idempotent import step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Rows written for the first time.
    pub imported: u64,
    /// Rows that were already there.
    pub unchanged: u64,
    /// Rows refused (e.g. a rating for an unknown movie).
    pub rejected: u64,
}

impl std::ops::AddAssign for ImportCounts {
    fn add_assign(&mut self, o: Self) {
        self.imported += o.imported;
        self.unchanged += o.unchanged;
        self.rejected += o.rejected;
    }
}

/// A title to import from an external catalog.
#[derive(Debug, Clone)]
pub struct ImportTitle {
    /// Id in the source.
    pub external_id: i64,
    /// Display name.
    pub name: String,
    /// Release year.
    pub year: Option<i32>,
    /// Genre names.
    pub genres: Vec<String>,
}

/// A tag to import.
#[derive(Debug, Clone)]
pub struct ImportTag {
    /// Source title id.
    pub external_title: i64,
    /// Source user id.
    pub external_user: i64,
    /// The tag.
    pub tag: String,
    /// When, ms.
    pub at: Millis,
}

/// External links to import.
#[derive(Debug, Clone)]
pub struct ImportLink {
    /// Source title id.
    pub external_title: i64,
    /// IMDb id.
    pub imdb: Option<String>,
    /// TMDb id.
    pub tmdb: Option<i64>,
}

/// A rating to import into a demo viewer's history and feedback.
#[derive(Debug, Clone, Copy)]
pub struct ImportRating {
    /// Source user id.
    pub external_user: i64,
    /// Source title id.
    pub external_title: i64,
    /// Stars.
    pub stars: f32,
    /// When, ms.
    pub at: Millis,
}

/// How to order a title listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TitleSort {
    /// Most rated first.
    #[default]
    Popular,
    /// By name.
    Name,
    /// Newest release first.
    Newest,
}

/// A title listing query.
#[derive(Debug, Clone, Default)]
pub struct TitleQuery {
    /// What the viewer may see.
    pub visibility: Visibility,
    /// Only titles in this genre.
    pub genre: Option<String>,
    /// Only this kind.
    pub kind: Option<TitleKind>,
    /// Order.
    pub sort: TitleSort,
    /// Page size.
    pub limit: u32,
    /// Page offset.
    pub offset: u32,
}

/// Which titles a viewer may see: never a title an editor hid; with `now`,
/// only titles inside their availability window; and the maturity policy's
/// bounds (`marquee_domain::maturity::Audience::bounds`: rated titles by
/// age, unrated ones by their genres). The default sees everything but
/// hidden titles (staff tools, imports).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    /// The profile's limit and the kids genres.
    pub audience: marquee_domain::maturity::Audience,
    /// Now, ms: titles outside their window are absent. `None`: windows ignored.
    pub now: Option<Millis>,
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Validated, lower-cased e-mail.
    pub email: String,
    /// argon2id PHC hash.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Plan.
    pub plan: Plan,
    /// Must change the password at next log-in.
    pub must_change_password: bool,
    /// Name of the first profile, created with the account.
    pub first_profile: String,
    /// Whether the address counts as confirmed (false only for a sign-up
    /// that must confirm it by mail).
    pub email_verified: bool,
}

/// Which accounts to list (all given conditions hold).
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// Part of the e-mail address (case-insensitive).
    pub q: Option<String>,
    /// Role.
    pub role: Option<Role>,
    /// Plan.
    pub plan: Option<Plan>,
    /// Subscription status.
    pub status: Option<marquee_domain::plans::AccountStatus>,
    /// Disabled or not.
    pub disabled: Option<bool>,
}

/// A pending change of address, to record.
#[derive(Debug, Clone)]
pub struct NewEmailChange {
    /// The account.
    pub account_id: i64,
    /// The new address (validated).
    pub new_email: String,
    /// sha256 of the mailed token.
    pub token_hash: String,
    /// When the link stops working, ms.
    pub expires_at: Millis,
    /// The rate window's start, ms.
    pub window_start: Millis,
    /// Changes allowed per window.
    pub max_per_window: i64,
}

/// A staff action on an account, to record.
#[derive(Debug, Clone)]
pub struct StaffAction {
    /// The staff member.
    pub actor_id: i64,
    /// The account acted on.
    pub account_id: i64,
    /// `role_changed`, `plan_changed`, `password_reset_sent`, `disabled`, `enabled`.
    pub action: String,
    /// What changed, e.g. `viewer → agent`.
    pub detail: Option<String>,
}

/// A recorded staff action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffActionRecord {
    /// Id.
    pub id: i64,
    /// The staff member (none once deleted).
    pub actor_id: Option<i64>,
    /// Their address, while the account exists.
    pub actor_email: Option<String>,
    /// The account acted on.
    pub account_id: Option<i64>,
    /// What was done.
    pub action: String,
    /// What changed.
    pub detail: Option<String>,
    /// When, ms.
    pub at: Millis,
}

/// What an account token (`account_tokens`) is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// A password-reset link.
    PasswordReset,
    /// A link confirming the account's e-mail address.
    VerifyEmail,
}

impl TokenPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::PasswordReset => "password_reset",
            TokenPurpose::VerifyEmail => "verify_email",
        }
    }
}

/// A live log-in session.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// The account.
    pub account: Account,
    /// The selected profile, if any.
    pub profile_id: Option<i64>,
    /// The CSRF token bound to this session.
    pub csrf_token: String,
    /// Expiry, ms.
    pub expires_at: Millis,
}

/// The storage interface the server and the CLI hold (`Arc<dyn Store>`).
///
/// It is the sum of the per-feature traits; a backend implements each of them
/// (one file per feature) and gets `Store` for free from the blanket impl.
pub trait Store:
    AttachmentStore
    + CatalogStore
    + ChangeStore
    + FanoutStore
    + HealthStore
    + HomeStore
    + IdeaStore
    + JobStore
    + LibraryStore
    + ListeningStore
    + NotifyStore
    + OutboxStore
    + PlaybackStore
    + PlanStore
    + PerksStore
    + PrivacyStore
    + ProposalStore
    + DecisionStore
    + OverviewStore
    + SupportStore
    + Send
    + Sync
    + std::fmt::Debug
    + 'static
{
}

impl<T> Store for T where
    T: AttachmentStore
        + CatalogStore
        + ChangeStore
        + FanoutStore
        + HealthStore
        + HomeStore
        + IdeaStore
        + JobStore
        + LibraryStore
        + ListeningStore
        + NotifyStore
        + OutboxStore
        + PlaybackStore
        + PlanStore
        + PerksStore
        + PrivacyStore
        + ProposalStore
        + DecisionStore
        + OverviewStore
        + SupportStore
        + Send
        + Sync
        + std::fmt::Debug
        + 'static
{
}

/// A PIN try begun by [`CatalogStore::begin_pin_try`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinTry {
    /// The profile has no PIN (or is gone).
    NoPin,
    /// Locked until then by earlier wrong tries.
    Locked {
        /// When the lock ends, ms.
        until: Millis,
    },
    /// Counted: check the PIN against the hash.
    Counted {
        /// The PIN's argon2id hash.
        pin_hash: String,
        /// Wrong tries in a row before this one.
        failures_before: u32,
    },
}

/// The foundation: schema, catalog, accounts, profiles, sessions, history and thumbs.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Brings the schema up to date.
    async fn migrate(&self) -> Result<()>;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;
    /// Closes every connection (checkpointing SQLite's WAL).
    async fn close(&self);

    /// Reads an installation-wide setting.
    async fn meta_get(&self, key: &str) -> Result<Option<String>>;
    /// Writes an installation-wide setting.
    async fn meta_set(&self, key: &str, value: &str) -> Result<()>;

    /// Imports titles with their genres, keyed by `(source, external_id)`.
    async fn import_titles(
        &self,
        source: &str,
        rows: &[ImportTitle],
        now: Millis,
    ) -> Result<ImportCounts>;
    /// Imports tags; tags for unknown titles are rejected.
    async fn import_tags(&self, source: &str, rows: &[ImportTag]) -> Result<ImportCounts>;
    /// Imports external links; links for unknown titles are rejected.
    async fn import_links(&self, source: &str, rows: &[ImportLink]) -> Result<ImportCounts>;
    /// Creates one demo viewer account (with one profile) per source user id.
    async fn import_viewers(
        &self,
        source: &str,
        users: &[i64],
        password_hash: &str,
        now: Millis,
    ) -> Result<ImportCounts>;
    /// Imports ratings as history and thumbs of the demo viewers' profiles.
    async fn import_ratings(&self, source: &str, rows: &[ImportRating]) -> Result<ImportCounts>;
    /// Recomputes the denormalised popularity figures.
    async fn refresh_title_stats(&self) -> Result<()>;

    /// Number of titles of a kind (all kinds when `None`).
    async fn count_titles(&self, kind: Option<TitleKind>) -> Result<i64>;
    /// Lists titles.
    async fn list_titles(&self, q: &TitleQuery) -> Result<Vec<TitleSummary>>;
    /// One title with tags and links.
    async fn title(&self, id: i64) -> Result<Option<TitleDetail>>;
    /// Full-text search on names, best match first.
    async fn search_titles(
        &self,
        q: &str,
        limit: u32,
        visibility: &Visibility,
    ) -> Result<Vec<TitleSummary>>;
    /// The titles of `ids` the viewer may see (an episode by its own rating,
    /// else its series'), in no particular order.
    async fn visible_titles(&self, ids: &[i64], visibility: &Visibility) -> Result<Vec<i64>>;
    /// All genres with title counts, largest first.
    async fn genres(&self) -> Result<Vec<GenreCount>>;

    /// Creates an account and its first profile.
    async fn create_account(&self, new: &NewAccount, now: Millis) -> Result<Account>;
    /// Looks up log-in credentials.
    async fn credentials(&self, email: &str) -> Result<Option<Credentials>>;
    /// One account.
    async fn account(&self, id: i64) -> Result<Option<Account>>;
    /// Lists accounts, newest first.
    async fn list_accounts(
        &self,
        filter: &AccountFilter,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Account>>;
    /// Records a pending change of address (spending the account's earlier
    /// pending ones) unless `max_per_window` were made since `window_start`;
    /// false when the limit held it back.
    async fn create_email_change(&self, c: &NewEmailChange, now: Millis) -> Result<bool>;
    /// Spends a pending change of address and makes it (confirmed):
    /// `(account, old address, new address)`, or none when the token is
    /// unknown, used or expired. [`StoreError::Conflict`] on `email` when
    /// another account took the address meanwhile.
    async fn confirm_email_change(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<(i64, String, String)>>;
    /// Records what a staff member did to an account.
    async fn record_staff_action(&self, action: &StaffAction, now: Millis) -> Result<()>;
    /// What staff did to an account, newest first.
    async fn staff_actions(&self, account_id: i64, limit: u32) -> Result<Vec<StaffActionRecord>>;
    /// Counts accounts of a role.
    async fn count_accounts(&self, role: Option<Role>) -> Result<i64>;
    /// Replaces a password hash.
    async fn set_password(&self, account_id: i64, hash: &str, must_change: bool) -> Result<()>;
    /// Changes an account's role.
    async fn set_role(&self, account_id: i64, role: Role) -> Result<()>;
    /// Moves accounts' sign-up dates earlier, never later: each
    /// `(account id, created_at)` applies only where the account was
    /// created after it. For demo data, whose imported viewers all joined
    /// at import time; returns how many accounts moved.
    async fn backdate_accounts(&self, rows: &[(i64, Millis)]) -> Result<u64>;
    /// Disables an account (ending its sessions: it cannot log in) or
    /// enables it again.
    async fn set_disabled(&self, account_id: i64, disabled: bool) -> Result<()>;

    /// The profiles of an account, oldest first.
    async fn profiles(&self, account_id: i64) -> Result<Vec<Profile>>;
    /// One profile.
    async fn profile(&self, id: i64) -> Result<Option<Profile>>;
    /// Adds a profile; fails with `Limit` past five and `Conflict` on a taken name.
    async fn create_profile(
        &self,
        account_id: i64,
        name: &str,
        is_kids: bool,
        now: Millis,
    ) -> Result<Profile>;
    /// Renames a profile, sets its kids flag and avatar; `None` when the
    /// account has no such profile.
    async fn update_profile(
        &self,
        account_id: i64,
        id: i64,
        name: &str,
        is_kids: bool,
        avatar: Option<&str>,
    ) -> Result<Option<Profile>>;
    /// Deletes a profile with its history, thumbs and playback state
    /// (sessions on it lose their selection); `false` when the account has
    /// no such profile. The last profile of an account is refused.
    async fn delete_profile(&self, account_id: i64, id: i64) -> Result<bool>;
    /// Sets (a hash) or clears (`None`) a profile's PIN, forgetting its
    /// wrong tries; `None` when the account has no such profile.
    async fn set_profile_pin(
        &self,
        account_id: i64,
        id: i64,
        pin_hash: Option<&str>,
    ) -> Result<Option<Profile>>;
    /// Starts a PIN try on a profile: counts it among the wrong tries in a
    /// row (in one statement, so that concurrent tries each count) unless
    /// the profile is locked at `now` or has no PIN.
    async fn begin_pin_try(&self, id: i64, now: Millis) -> Result<PinTry>;
    /// Ends a PIN try: `Ok` forgets the wrong tries; a lock end locks the
    /// profile until then and starts the count again.
    async fn end_pin_try(&self, id: i64, lock_until: Option<Millis>) -> Result<()>;

    /// Stores a new session.
    async fn create_session(
        &self,
        token_hash: &str,
        account_id: i64,
        profile_id: Option<i64>,
        csrf_token: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()>;
    /// A live session by token hash.
    async fn session(&self, token_hash: &str, now: Millis) -> Result<Option<SessionRecord>>;
    /// Selects a profile for a session.
    async fn set_session_profile(&self, token_hash: &str, profile_id: i64) -> Result<()>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Ends every session of an account (after a password change).
    async fn delete_account_sessions(&self, account_id: i64) -> Result<()>;

    /// Stores an account token (its hash), unless the account already had
    /// `max_recent` of that purpose issued since `since` (counted in the
    /// write transaction). Returns whether it was stored.
    #[allow(clippy::too_many_arguments)]
    async fn create_account_token(
        &self,
        purpose: TokenPurpose,
        account_id: i64,
        token_hash: &str,
        now: Millis,
        expires_at: Millis,
        since: Millis,
        max_recent: u32,
    ) -> Result<bool>;
    /// Uses an account token of `purpose`: when it is unused and unexpired,
    /// marks it and every other open token of that purpose of the account
    /// used, and returns the account. A token works once.
    async fn use_account_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<i64>>;
    /// Marks an account's e-mail address confirmed.
    async fn set_email_verified(&self, account_id: i64) -> Result<()>;

    /// Recent history of a profile, newest first.
    async fn history(&self, profile_id: i64, limit: u32) -> Result<Vec<HistoryEntry>>;
    /// Sets or clears a thumb.
    async fn set_feedback(
        &self,
        profile_id: i64,
        title_id: i64,
        thumb: Option<Thumb>,
        now: Millis,
    ) -> Result<()>;
    /// A profile's thumb on a title.
    async fn feedback(&self, profile_id: i64, title_id: i64) -> Result<Option<Thumb>>;
}

/// Opens the store a URL names with backend options; see [`ConnectOptions`].
/// The size cap is SQLite's; other backends refuse it.
pub async fn connect_with(url: &str, opts: &ConnectOptions) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open_with(url, opts).await?))
    } else if opts.max_size_bytes.is_some() {
        Err(StoreError::Url(
            "a size cap (database.max_size_mb) applies to SQLite only".into(),
        ))
    } else {
        connect(url, opts.max_connections).await
    }
}

/// Opens the store a URL names: `sqlite://PATH` (created when missing) or
/// `postgres://USER@HOST:PORT/DB` (the database must exist; `migrate` creates
/// the schema).
pub async fn connect(url: &str, max_connections: u32) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            sqlite::SqliteStore::open(url, max_connections).await?,
        ))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(
            postgres::PgStore::open(url, max_connections).await?,
        ))
    } else {
        Err(StoreError::Url(format!(
            "unsupported scheme in {url:?}: expected sqlite:// or postgres://"
        )))
    }
}
