//! The idea box: ideas, votes, comments, the status workflow and notifications.
//!
//! Status workflow: `open → under_review → planned → in_progress → launched`,
//! or `declined`, or `duplicate` (of another idea, by merging). `launched`,
//! `declined` and `duplicate` close an idea: it takes no more votes, and the
//! votes on it stop counting against the voters' budgets (they are refunded).

use crate::{DomainError, Millis};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest idea title, in characters.
pub const MAX_TITLE_CHARS: usize = 120;
/// Longest idea description (Markdown), in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 5_000;
/// Most tags on one idea.
pub const MAX_TAGS: usize = 8;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 30;
/// Longest status explanation, in characters.
pub const MAX_EXPLANATION_CHARS: usize = 2_000;

/// Where an idea is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdeaStatus {
    /// New, taking votes.
    Open,
    /// Staff are looking at it.
    UnderReview,
    /// Accepted and scheduled.
    Planned,
    /// Being built.
    InProgress,
    /// Shipped: closed.
    Launched,
    /// Not going to happen: closed.
    Declined,
    /// Merged into another idea: closed.
    Duplicate,
}

impl IdeaStatus {
    /// Every status, in workflow order.
    pub const ALL: [IdeaStatus; 7] = [
        IdeaStatus::Open,
        IdeaStatus::UnderReview,
        IdeaStatus::Planned,
        IdeaStatus::InProgress,
        IdeaStatus::Launched,
        IdeaStatus::Declined,
        IdeaStatus::Duplicate,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdeaStatus::Open => "open",
            IdeaStatus::UnderReview => "under_review",
            IdeaStatus::Planned => "planned",
            IdeaStatus::InProgress => "in_progress",
            IdeaStatus::Launched => "launched",
            IdeaStatus::Declined => "declined",
            IdeaStatus::Duplicate => "duplicate",
        }
    }

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            IdeaStatus::Open => "Open",
            IdeaStatus::UnderReview => "Under review",
            IdeaStatus::Planned => "Planned",
            IdeaStatus::InProgress => "In progress",
            IdeaStatus::Launched => "Launched",
            IdeaStatus::Declined => "Declined",
            IdeaStatus::Duplicate => "Duplicate",
        }
    }

    /// Closed ideas take no votes, and their votes are refunded to the budget.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            IdeaStatus::Launched | IdeaStatus::Declined | IdeaStatus::Duplicate
        )
    }

    /// The stored names of the statuses that are still open.
    pub fn open_names() -> [&'static str; 4] {
        ["open", "under_review", "planned", "in_progress"]
    }
}

impl std::str::FromStr for IdeaStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdeaStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "status",
                    format!(
                        "unknown status {s:?}: use open, under_review, planned, in_progress, launched, declined or duplicate"
                    ),
                )
            })
    }
}

/// Who wrote something: a display name, never the e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Author {
    /// Account id.
    pub id: i64,
    /// The account's first profile name.
    pub name: String,
    /// Written by staff.
    pub staff: bool,
}

/// An idea as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Idea {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Description, Markdown as written (render it sanitised).
    pub description: String,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// The author.
    pub author: Author,
    /// Status.
    pub status: IdeaStatus,
    /// For a duplicate: the idea it was merged into.
    pub duplicate_of: Option<i64>,
    /// For a launched idea: the release note.
    pub release_note_url: Option<String>,
    /// Distinct voters.
    pub votes: i64,
    /// Visible comments.
    pub comment_count: i64,
    /// Approved (false while in the moderation queue).
    pub approved: bool,
    /// Hidden by staff as spam.
    pub hidden: bool,
    /// Locked: no new comments.
    pub locked: bool,
    /// Created, ms.
    pub created_at: Millis,
    /// Last status change, ms.
    pub status_changed_at: Millis,
    /// Whether the asking account has voted on it.
    pub voted: bool,
}

/// A comment on an idea.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IdeaComment {
    /// Id.
    pub id: i64,
    /// The idea.
    pub idea_id: i64,
    /// The author.
    pub author: Author,
    /// Markdown as written.
    pub body: String,
    /// A staff reply, shown as official.
    pub official: bool,
    /// Hidden by staff.
    pub hidden: bool,
    /// Created, ms.
    pub created_at: Millis,
}

/// One step of an idea's public history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusChange {
    /// From.
    pub from: IdeaStatus,
    /// To.
    pub to: IdeaStatus,
    /// Why.
    pub explanation: String,
    /// For a merge: the original.
    pub duplicate_of: Option<i64>,
    /// For a launch: the release note.
    pub release_note_url: Option<String>,
    /// Who, by display name.
    pub actor: Option<String>,
    /// When, ms.
    pub at: Millis,
}

/// An in-app notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    /// Id.
    pub id: i64,
    /// Kind, e.g. `idea.status_changed`.
    pub kind: String,
    /// Text.
    pub message: String,
    /// Where it leads (a site-relative path).
    pub link: String,
    /// Created, ms.
    pub created_at: Millis,
    /// Read, ms.
    pub read_at: Option<Millis>,
}

/// Trims and checks a title: 1 to 120 characters, the hygiene of
/// [`crate::text::line`].
pub fn title(raw: &str) -> Result<String, DomainError> {
    crate::text::line("title", raw, MAX_TITLE_CHARS)
}

/// Checks a Markdown text field: at most `max` characters, trimmed.
pub fn markdown(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    let t = raw.trim();
    if t.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("must have at most {max} characters"),
        ));
    }
    if t.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(t.to_string())
}

/// A required, non-empty Markdown text (comments, explanations).
pub fn required_text(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    let t = markdown(field, raw, max)?;
    if t.is_empty() {
        return Err(DomainError::invalid(field, "is required"));
    }
    Ok(t)
}

/// Normalises tags: trimmed, lower-cased, deduplicated, sorted; each 1 to 30
/// characters of letters, digits, `-` and spaces; at most 8.
pub fn tags<S: AsRef<str>>(raw: &[S]) -> Result<Vec<String>, DomainError> {
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        let t = t.as_ref().trim().to_lowercase();
        if t.is_empty() {
            continue;
        }
        if t.chars().count() > MAX_TAG_CHARS {
            return Err(DomainError::invalid(
                "tags",
                format!("each tag must have at most {MAX_TAG_CHARS} characters"),
            ));
        }
        if !t
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == ' ')
        {
            return Err(DomainError::invalid(
                "tags",
                format!("tag {t:?} may only hold letters, digits, spaces and -"),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(DomainError::invalid(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    out.sort();
    Ok(out)
}

/// Splits a comma-separated tag list (as typed into a form).
pub fn split_tags(raw: &str) -> Vec<String> {
    raw.split(',').map(str::to_string).collect()
}

/// Checks a release-note URL: http(s), at most 500 characters.
pub fn url(field: &'static str, raw: &str) -> Result<String, DomainError> {
    let u = raw.trim();
    if u.len() > 500 {
        return Err(DomainError::invalid(
            field,
            "must have at most 500 characters",
        ));
    }
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| DomainError::invalid(field, "must start with https:// or http://"))?;
    if rest.is_empty()
        || rest.starts_with('/')
        || u.chars().any(|c| c.is_whitespace() || c.is_control())
        || u.contains(['"', '<', '>', '\\'])
    {
        return Err(DomainError::invalid(field, "is not a valid URL"));
    }
    Ok(u.to_string())
}

/// Whether an account may vote for an idea: a vote already cast stays; a
/// new one needs room in the budget (`used`: the account's votes on open
/// ideas; `None`: no budget).
pub fn vote_fits_budget(budget: Option<u32>, used: i64, already_voted: bool) -> bool {
    already_voted || budget.is_none_or(|b| used < i64::from(b))
}

/// Whether idea `duplicate` may be merged into `original`. `chain` is what
/// `original` is itself a duplicate of, transitively, nearest first
/// (`original`'s `duplicate_of`, then that idea's, …); empty when `original`
/// is not a duplicate. Refused: an idea into itself, a merge that would
/// close a cycle, and a merge into a duplicate (the answer names the idea
/// at the end of the chain to merge into instead).
pub fn check_merge(duplicate: i64, original: i64, chain: &[i64]) -> Result<(), DomainError> {
    if duplicate == original {
        return Err(DomainError::invalid(
            "duplicate_of",
            format!("idea #{duplicate} cannot be a duplicate of itself"),
        ));
    }
    if chain.contains(&duplicate) {
        return Err(DomainError::invalid(
            "duplicate_of",
            format!(
                "merging #{duplicate} into #{original} would make a cycle (#{original} is already a duplicate of #{duplicate})"
            ),
        ));
    }
    if let Some(root) = chain.last() {
        return Err(DomainError::invalid(
            "duplicate_of",
            format!("idea #{original} is itself a duplicate; merge into #{root} instead"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod posting_tests {
    use super::*;

    #[test]
    fn posting_wait_counts_the_window() {
        let l = PostingLimit {
            max: 2,
            window_ms: 3_600_000,
        };
        assert_eq!(posting_wait(1, Some(0), l, 10), None);
        assert_eq!(posting_wait(2, Some(0), l, 600_000), Some(3_000));
        assert_eq!(posting_wait(2, Some(0), l, 3_599_999), Some(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_refusals() {
        assert!(check_merge(1, 2, &[]).is_ok());
        let own = check_merge(3, 3, &[]).unwrap_err().to_string();
        assert!(own.contains("itself"), "{own}");
        // 2 is a duplicate of 5, which is a duplicate of 1: 1 → 2 closes a cycle.
        let cycle = check_merge(1, 2, &[5, 1]).unwrap_err().to_string();
        assert!(cycle.contains("cycle"), "{cycle}");
        // 2 is a duplicate of 5, a duplicate of 7: merge into 7 instead.
        let root = check_merge(1, 2, &[5, 7]).unwrap_err().to_string();
        assert!(root.contains("merge into #7"), "{root}");
    }

    #[test]
    fn vote_budget() {
        assert!(vote_fits_budget(Some(3), 2, false));
        assert!(!vote_fits_budget(Some(3), 3, false));
        assert!(!vote_fits_budget(Some(0), 0, false));
        // Voting again for the same idea costs nothing.
        assert!(vote_fits_budget(Some(3), 3, true));
        assert!(vote_fits_budget(None, 1_000, false));
    }

    #[test]
    fn titles_and_tags() {
        assert_eq!(title("  Dark mode ").unwrap(), "Dark mode");
        assert!(matches!(
            title("   "),
            Err(DomainError::Invalid { field: "title", .. })
        ));
        assert!(title(&"x".repeat(121)).is_err());
        assert!(title(&"é".repeat(120)).is_ok());
        assert_eq!(
            tags(&[" UI", "ui", "", "Kids-mode"]).unwrap(),
            vec!["kids-mode", "ui"]
        );
        assert!(tags(&["<b>"]).is_err());
        assert!(tags(&(0..9).map(|i| format!("t{i}")).collect::<Vec<_>>()).is_err());
    }

    #[test]
    fn statuses_and_urls() {
        for s in IdeaStatus::ALL {
            assert_eq!(s.as_str().parse::<IdeaStatus>().unwrap(), s);
        }
        assert!("shipped".parse::<IdeaStatus>().is_err());
        assert!(IdeaStatus::Launched.is_closed() && !IdeaStatus::Planned.is_closed());
        assert!(url("u", "https://example.com/notes/1").is_ok());
        assert!(url("u", "javascript:alert(1)").is_err());
        assert!(url("u", "https:///x").is_err());
        assert!(markdown("d", &"x".repeat(10_001), MAX_DESCRIPTION_CHARS).is_err());
        assert!(required_text("body", "  ", 10).is_err());
    }
}

/// A per-account posting limit: at most `max` posts within `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostingLimit {
    /// Posts allowed within the window.
    pub max: u32,
    /// The sliding window, ms.
    pub window_ms: i64,
}

/// Whether one more post fits `limit`, given the account's `count` posts
/// within the window (the oldest at `oldest`): `None` when it does, else the
/// seconds until the oldest leaves the window (at least 1).
pub fn posting_wait(
    count: i64,
    oldest: Option<Millis>,
    limit: PostingLimit,
    now: Millis,
) -> Option<u64> {
    if count < i64::from(limit.max) {
        return None;
    }
    let window = limit.window_ms.max(1000);
    let wait_ms = oldest.map_or(window, |o| (o + window - now).clamp(1000, window));
    Some(u64::try_from(wait_ms.div_euclid(1000)).unwrap_or(1).max(1))
}
