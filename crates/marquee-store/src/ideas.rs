//! Storage of the idea box: ideas, votes, comments, the status workflow and
//! the in-app notification centre.
//!
//! Every write is one `BEGIN IMMEDIATE` transaction, so concurrent votes
//! serialise and the denormalised `vote_count` is recomputed with `COUNT(*)`
//! inside the same transaction as the vote row: no lost updates.

use crate::outbox::OutboxEvent;
use crate::Result;
use async_trait::async_trait;
use marquee_domain::ideas::{
    Author, Idea, IdeaComment, IdeaStatus, Notification, PostingLimit, StatusChange,
};
use marquee_domain::Millis;

/// A new idea, validated.
#[derive(Debug, Clone)]
pub struct NewIdea {
    /// The author's account.
    pub author_id: i64,
    /// Title.
    pub title: String,
    /// Markdown.
    pub description: String,
    /// Normalised tags.
    pub tags: Vec<String>,
    /// False when it must wait in the moderation queue.
    pub approved: bool,
}

/// How to order a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdeaSort {
    /// Votes decayed by their age (a vote counts 1/(1 + age in weeks)).
    #[default]
    Trending,
    /// Most voters first.
    Top,
    /// Newest first.
    New,
    /// The asking account's votes, most recent vote first.
    MyVotes,
    /// Most recent status change first (the "launched" page).
    RecentlyChanged,
}

/// Which ideas the moderation view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Approved and not hidden, plus the asking account's own pending ideas.
    #[default]
    Public,
    /// Waiting for approval.
    Pending,
    /// Hidden as spam.
    Hidden,
    /// Everything (staff).
    All,
}

/// An idea listing query.
#[derive(Debug, Clone, Default)]
pub struct IdeaQuery {
    /// The asking account: sets `voted`, and is needed for [`IdeaSort::MyVotes`].
    pub viewer: Option<i64>,
    /// Order.
    pub sort: IdeaSort,
    /// Only ideas with this tag.
    pub tag: Option<String>,
    /// Only this status. Without it, duplicates are left out.
    pub status: Option<IdeaStatus>,
    /// Only this author's ideas.
    pub author: Option<i64>,
    /// Which ideas.
    pub visibility: Visibility,
    /// Now, for trending.
    pub now: Millis,
    /// Page size.
    pub limit: u32,
    /// Page offset.
    pub offset: u32,
}

/// What tells subscribers about a change: an in-app notification text and
/// link, and optionally a webhook event enqueued in the same transaction.
#[derive(Debug, Clone)]
pub struct Notice {
    /// Kind, e.g. `idea.status_changed`.
    pub kind: String,
    /// Text.
    pub message: String,
    /// Site-relative link.
    pub link: String,
    /// The webhook event, if any.
    pub event: Option<OutboxEvent>,
}

/// A status change.
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    /// The idea.
    pub idea_id: i64,
    /// The staff member.
    pub actor_id: i64,
    /// The new status (not `duplicate`: use [`IdeaStore::merge_idea`]).
    pub to: IdeaStatus,
    /// Why; required.
    pub explanation: String,
    /// For `launched`: the release note.
    pub release_note_url: Option<String>,
    /// When.
    pub now: Millis,
}

/// A staff moderation action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    /// Let a queued idea out.
    Approve,
    /// Hide as spam.
    Hide,
    /// Show again.
    Unhide,
    /// No new comments.
    Lock,
    /// Comments allowed again.
    Unlock,
}

/// The outcome of a vote or its withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteState {
    /// Whether the account now has a vote on the idea.
    pub voted: bool,
    /// The idea's distinct voters.
    pub votes: i64,
    /// Votes the account has on open ideas (what the budget counts).
    pub budget_used: i64,
}

/// Storage of the idea box.
#[async_trait]
pub trait IdeaStore: Send + Sync {
    /// Creates an idea. With `limit`, the author's recent ideas are counted
    /// inside the transaction (serialised per account), so parallel
    /// requests cannot exceed it: `RateLimited` when full.
    async fn create_idea(
        &self,
        new: &NewIdea,
        limit: Option<PostingLimit>,
        now: Millis,
    ) -> Result<Idea>;
    /// One idea, any visibility; `voted` is for `viewer`.
    async fn idea(&self, id: i64, viewer: Option<i64>) -> Result<Option<Idea>>;
    /// Lists ideas.
    async fn list_ideas(&self, q: &IdeaQuery) -> Result<Vec<Idea>>;
    /// Public ideas similar to a text (FTS5 BM25 over title and description;
    /// the title weighs more), best first.
    async fn similar_ideas(&self, text: &str, viewer: Option<i64>, limit: u32)
        -> Result<Vec<Idea>>;
    /// Tags of public ideas with their counts, largest first.
    async fn idea_tags(&self) -> Result<Vec<(String, i64)>>;
    /// The author's display name.
    async fn idea_author(&self, account_id: i64) -> Result<Option<Author>>;

    /// Votes (idempotent). `NotFound` for an unknown or invisible idea,
    /// `Limit` (409) on a closed idea or when `budget` votes on open ideas
    /// are already used.
    async fn vote(
        &self,
        idea_id: i64,
        account_id: i64,
        budget: Option<u32>,
        now: Millis,
    ) -> Result<VoteState>;
    /// Withdraws a vote (idempotent); `Limit` on a closed idea.
    async fn unvote(&self, idea_id: i64, account_id: i64) -> Result<VoteState>;
    /// Votes an account has on open ideas.
    async fn votes_used(&self, account_id: i64) -> Result<i64>;

    /// Ideas an account created after `since`, and when the oldest of them
    /// was (for the rate limit and its Retry-After).
    async fn ideas_posted_since(
        &self,
        account_id: i64,
        since: Millis,
    ) -> Result<(i64, Option<Millis>)>;
    /// Comments an account wrote after `since`, and when the oldest was.
    async fn comments_posted_since(
        &self,
        account_id: i64,
        since: Millis,
    ) -> Result<(i64, Option<Millis>)>;

    /// Adds a comment; `Limit` on a locked thread. With `limit`, as
    /// [`IdeaStore::create_idea`]: `RateLimited` when the author's recent
    /// comments fill it.
    async fn add_comment(
        &self,
        idea_id: i64,
        author_id: i64,
        body: &str,
        official: bool,
        limit: Option<PostingLimit>,
        now: Millis,
    ) -> Result<IdeaComment>;
    /// Comments of an idea, oldest first.
    async fn comments(&self, idea_id: i64, include_hidden: bool) -> Result<Vec<IdeaComment>>;
    /// Hides or shows a comment; returns its idea.
    async fn set_comment_hidden(&self, comment_id: i64, hidden: bool) -> Result<i64>;
    /// The idea's status history, oldest first.
    async fn status_history(&self, idea_id: i64) -> Result<Vec<StatusChange>>;

    /// Changes the status, records the explanation, notifies the subscribers
    /// (author, voters, commenters, except the actor) and enqueues the
    /// webhook event, all in one transaction. Returns the idea and the number
    /// of accounts notified.
    async fn change_status(&self, u: &StatusUpdate, notice: &Notice) -> Result<(Idea, u64)>;
    /// Merges `duplicate` into `original`: moves the voters (an account that
    /// voted on both counts once), links the two and closes the duplicate.
    /// `Invalid` for a merge into itself or into a cycle. Notifies the
    /// duplicate's subscribers. Returns the original and the number notified.
    async fn merge_idea(
        &self,
        duplicate: i64,
        original: i64,
        actor_id: i64,
        explanation: &str,
        now: Millis,
        notice: &Notice,
    ) -> Result<(Idea, u64)>;
    /// Approves, hides, shows, locks or unlocks.
    async fn moderate_idea(&self, idea_id: i64, action: Moderation, now: Millis) -> Result<Idea>;
    /// Replaces the tags.
    async fn set_idea_tags(&self, idea_id: i64, tags: &[String], now: Millis) -> Result<Idea>;

    /// An account's notifications, newest first.
    async fn notifications(&self, account_id: i64, limit: u32) -> Result<Vec<Notification>>;
    /// Unread notifications of an account.
    async fn unread_notifications(&self, account_id: i64) -> Result<i64>;
    /// Marks all of an account's notifications read.
    async fn mark_notifications_read(&self, account_id: i64, now: Millis) -> Result<u64>;
}

/// The search terms of typed text, without stop words: each word with
/// whether it is a prefix (the last one, as it may still be being typed).
/// Backend-neutral: SQLite renders them as an FTS5 query, PostgreSQL as a
/// tsquery.
pub(crate) fn similar_terms(text: &str) -> Vec<(String, bool)> {
    const STOP: &[&str] = &[
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "for", "from", "i", "in", "is",
        "it", "me", "my", "of", "on", "or", "please", "so", "that", "the", "to", "we", "with",
        "would", "you", "add", "allow", "let", "should",
    ];
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let typing_last = text.chars().last().is_some_and(char::is_alphanumeric);
    let n = words.len();
    words
        .into_iter()
        .enumerate()
        .filter(|(_, w)| w.chars().count() > 1 && !STOP.contains(&w.as_str()))
        .take(16)
        .map(|(i, w)| (w, i + 1 == n && typing_last))
        .collect()
}
