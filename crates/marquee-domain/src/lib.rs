//! Shared domain types of Marquee.
//!
//! Everything here is plain data plus validation: no I/O, no async. The store,
//! the server and the engines all speak these types.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicI64, Ordering};
use utoipa::ToSchema;

pub mod attachments;
pub mod catalog;
pub mod changes;
pub mod hours;
pub mod ideas;
pub mod listening;
pub mod maturity;
pub mod notify;
pub mod perks;
pub mod pin;
pub mod plans;
pub mod playback;
pub mod support;
pub mod text;
pub mod textmatch;
pub mod validate;

/// Milliseconds since the Unix epoch, UTC. The one time unit stored anywhere.
pub type Millis = i64;

/// The most profiles one account may hold.
pub const MAX_PROFILES_PER_ACCOUNT: usize = 5;

/// A source of the current time. Injected everywhere so that rules, expiry and
/// rate limits are testable.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in milliseconds since the epoch.
    fn now_ms(&self) -> Millis;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one wall-clock read
    fn now_ms(&self) -> Millis {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A clock that only moves when told to. For tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `ms`.
    pub fn new(ms: Millis) -> Self {
        ManualClock(AtomicI64::new(ms))
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: Millis) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, ms: Millis) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// What an account may do. Ordered: an admin can do all an agent can.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A customer.
    Viewer,
    /// Support and community staff.
    Agent,
    /// Runs the installation.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may enter the staff area.
    pub fn is_staff(self) -> bool {
        self >= Role::Agent
    }
}

impl std::str::FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "agent" => Ok(Role::Agent),
            "admin" => Ok(Role::Admin),
            other => Err(DomainError::invalid(
                "role",
                format!("unknown role {other:?}"),
            )),
        }
    }
}

/// The subscription plan: it sets the concurrent stream cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// One stream.
    Basic,
    /// Two streams.
    Standard,
    /// Four streams.
    Premium,
}

impl Plan {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Basic => "basic",
            Plan::Standard => "standard",
            Plan::Premium => "premium",
        }
    }

    /// Concurrent streams allowed.
    pub fn max_streams(self) -> u32 {
        match self {
            Plan::Basic => 1,
            Plan::Standard => 2,
            Plan::Premium => 4,
        }
    }
}

impl std::str::FromStr for Plan {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "basic" => Ok(Plan::Basic),
            "standard" => Ok(Plan::Standard),
            "premium" => Ok(Plan::Premium),
            other => Err(DomainError::invalid(
                "plan",
                format!("unknown plan {other:?}"),
            )),
        }
    }
}

/// What a catalog entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TitleKind {
    /// A feature film.
    Movie,
    /// A series: it has seasons, which have episodes.
    Series,
    /// One episode of a series.
    Episode,
}

impl TitleKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TitleKind::Movie => "movie",
            TitleKind::Series => "series",
            TitleKind::Episode => "episode",
        }
    }
}

impl std::str::FromStr for TitleKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "movie" => Ok(TitleKind::Movie),
            "series" => Ok(TitleKind::Series),
            "episode" => Ok(TitleKind::Episode),
            other => Err(DomainError::invalid(
                "kind",
                format!("unknown title kind {other:?}"),
            )),
        }
    }
}

/// A catalog entry as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TitleSummary {
    /// Marquee's id.
    pub id: i64,
    /// Movie, series or episode.
    pub kind: TitleKind,
    /// Display name.
    pub name: String,
    /// Release year.
    pub year: Option<i32>,
    /// Genre names.
    pub genres: Vec<String>,
    /// Number of ratings/plays imported or recorded: a popularity signal.
    pub popularity: i64,
    /// Mean rating, when any.
    pub avg_rating: Option<f64>,
}

/// External identifiers of a title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Default)]
pub struct ExternalLinks {
    /// IMDb id (digits, without `tt`).
    pub imdb: Option<String>,
    /// TMDb id.
    pub tmdb: Option<i64>,
}

/// A tag with how many viewers applied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TagCount {
    /// The tag text.
    pub tag: String,
    /// How many times it was applied.
    pub count: i64,
}

/// A full title page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TitleDetail {
    /// The summary fields.
    #[serde(flatten)]
    pub summary: TitleSummary,
    /// Tags, most applied first.
    pub tags: Vec<TagCount>,
    /// External links.
    pub links: ExternalLinks,
    /// Running time, when known.
    pub duration_s: Option<i64>,
    /// For an episode: its series id.
    pub series_id: Option<i64>,
    /// For an episode: season number.
    pub season: Option<i32>,
    /// For an episode: episode number within the season.
    pub episode: Option<i32>,
}

/// A genre and how many titles it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GenreCount {
    /// Genre name.
    pub name: String,
    /// Titles in it.
    pub titles: i64,
}

/// A customer or staff account. Never carries the password hash out of the store
/// except through [`Credentials`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Account {
    /// Id.
    pub id: i64,
    /// Login e-mail, lower-cased.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Plan.
    pub plan: Plan,
    /// Creation time, ms.
    pub created_at: Millis,
    /// The password was generated and must be changed at next log-in.
    pub must_change_password: bool,
    /// Subscribed, paused or cancelled.
    pub status: plans::AccountStatus,
    /// The price the account pays (recorded when it joined or last changed
    /// plan, so a later price change can leave it as it is).
    pub price: plans::Price,
    /// Disabled by staff: it cannot log in.
    pub disabled: bool,
}

impl Account {
    /// Concurrent streams it may play now (see [`plans::stream_cap`]).
    pub fn stream_cap(&self) -> u32 {
        plans::stream_cap(self.plan, self.status)
    }
}

/// An account with its password hash, for log-in only.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The account.
    pub account: Account,
    /// PHC-format argon2id hash.
    pub password_hash: String,
    /// Whether the address is confirmed (see `email_verified` in the store).
    pub email_verified: bool,
}

/// A viewing profile within an account: its own history and feedback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Profile {
    /// Id.
    pub id: i64,
    /// Owning account.
    pub account_id: i64,
    /// Display name.
    pub name: String,
    /// A kids profile.
    pub is_kids: bool,
    /// Creation time, ms.
    pub created_at: Millis,
    /// The avatar it chose (a key of [`AVATARS`]); `None`: picked by its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Locked with a 4-digit PIN (see [`pin`]); the PIN itself never leaves
    /// the store, only its argon2id hash is kept.
    #[serde(default)]
    pub has_pin: bool,
}

/// The avatars a profile may choose: a key and the colour its initial is
/// set on (white text on each passes WCAG AA).
pub const AVATARS: &[(&str, &str)] = &[
    ("red", "#b3261e"),
    ("orange", "#a14800"),
    ("green", "#2e6b30"),
    ("teal", "#00695c"),
    ("blue", "#1e5aa8"),
    ("indigo", "#3f3d99"),
    ("purple", "#6a2c91"),
    ("grey", "#4f5358"),
];

impl Profile {
    /// The colour of its avatar: the chosen one, else one its id picks.
    pub fn avatar_colour(&self) -> &'static str {
        let chosen = self
            .avatar
            .as_deref()
            .and_then(|a| AVATARS.iter().find(|(k, _)| *k == a));
        let i = (self.id.unsigned_abs() % AVATARS.len() as u64) as usize;
        chosen.or(AVATARS.get(i)).map_or("#4f5358", |(_, c)| c)
    }

    /// The letter on its avatar.
    pub fn initial(&self) -> char {
        self.name
            .chars()
            .next()
            .map_or('?', |c| c.to_uppercase().next().unwrap_or(c))
    }
}

/// Checks an avatar key.
pub fn check_avatar(key: &str) -> Result<String, DomainError> {
    AVATARS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(k, _)| (*k).to_owned())
        .ok_or_else(|| {
            DomainError::invalid(
                "avatar",
                format!(
                    "unknown avatar {key:?}: use one of {}",
                    AVATARS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
}

/// A thumbs rating, Netflix style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Thumb {
    /// Not for me.
    Down,
    /// I like this.
    Up,
    /// Love this.
    DoubleUp,
}

impl Thumb {
    /// The stored value: -1, 1 or 2.
    pub fn value(self) -> i64 {
        match self {
            Thumb::Down => -1,
            Thumb::Up => 1,
            Thumb::DoubleUp => 2,
        }
    }

    /// Parses a stored value.
    pub fn from_value(v: i64) -> Option<Thumb> {
        match v {
            -1 => Some(Thumb::Down),
            1 => Some(Thumb::Up),
            2 => Some(Thumb::DoubleUp),
            _ => None,
        }
    }

    /// Maps a MovieLens star rating to a thumb: 4.5+ double up, 3.5+ up,
    /// 2 or less down, in between no opinion.
    pub fn from_stars(stars: f32) -> Option<Thumb> {
        if stars >= 4.5 {
            Some(Thumb::DoubleUp)
        } else if stars >= 3.5 {
            Some(Thumb::Up)
        } else if stars <= 2.0 {
            Some(Thumb::Down)
        } else {
            None
        }
    }
}

/// One entry of a profile's viewing history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    /// The title.
    pub title: TitleSummary,
    /// When it was watched, ms.
    pub watched_at: Millis,
    /// The star rating, for imported history.
    pub rating: Option<f32>,
    /// The profile's thumb on it.
    pub thumb: Option<Thumb>,
}

/// A domain rule was broken by the input. Carries the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A field's value is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        /// The field name as the client sent it.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A limit was reached (e.g. five profiles).
    #[error("{field}: {message}")]
    Limit {
        /// The field the limit is about.
        field: &'static str,
        /// What limit.
        message: String,
    },
}

impl DomainError {
    /// An invalid field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        DomainError::Invalid {
            field,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatars_are_checked_and_contrast_with_white() {
        assert_eq!(check_avatar("teal").unwrap(), "teal");
        assert!(check_avatar("chartreuse").is_err());
        // Relative luminance of each colour against white (1.0): AA asks 4.5.
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        for (k, hex) in AVATARS {
            let v = u32::from_str_radix(&hex[1..], 16).unwrap();
            let [r, g, b] = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
            let l = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
            let ratio = 1.05 / (l + 0.05);
            assert!(ratio >= 4.5, "{k}: {ratio:.2}");
        }
        let p = Profile {
            id: 3,
            account_id: 1,
            name: "éva".into(),
            is_kids: false,
            created_at: 0,
            avatar: Some("blue".into()),
            has_pin: false,
        };
        assert_eq!(p.avatar_colour(), "#1e5aa8");
        assert_eq!(p.initial(), 'É');
    }

    #[test]
    fn role_order_and_parse() {
        assert!(Role::Admin.is_staff());
        assert!(Role::Agent.is_staff());
        assert!(!Role::Viewer.is_staff());
        assert_eq!("agent".parse::<Role>().unwrap(), Role::Agent);
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn stars_to_thumbs() {
        assert_eq!(Thumb::from_stars(5.0), Some(Thumb::DoubleUp));
        assert_eq!(Thumb::from_stars(4.0), Some(Thumb::Up));
        assert_eq!(Thumb::from_stars(3.0), None);
        assert_eq!(Thumb::from_stars(1.5), Some(Thumb::Down));
        for t in [Thumb::Down, Thumb::Up, Thumb::DoubleUp] {
            assert_eq!(Thumb::from_value(t.value()), Some(t));
        }
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance(500);
        assert_eq!(c.now_ms(), 1_500);
    }
}
