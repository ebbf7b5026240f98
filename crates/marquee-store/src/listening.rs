//! Storage for social listening: posts, ingest tokens, connector cursors,
//! alerts, the webhook outbox and linked handles.

use crate::Result;
use async_trait::async_trait;
use marquee_domain::listening::{
    Alert, AlertStatus, IngestToken, LabelSource, NewAlert, NewPost, Post, Sentiment,
    SentimentCorrection,
};
use marquee_domain::textmatch::TextMatch;
use marquee_domain::Millis;

/// What an insert of a batch of posts did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostCounts {
    /// New posts.
    pub inserted: u64,
    /// Already there (same source and external id).
    pub duplicates: u64,
}

/// How to order a post listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PostOrder {
    /// Newest first.
    #[default]
    Newest,
    /// Most negative score first.
    MostNegative,
    /// Most positive score first.
    MostPositive,
}

/// A post listing query. Every filter is optional.
#[derive(Debug, Clone, Default)]
pub struct PostQuery {
    /// Post time at or after, ms.
    pub from: Option<Millis>,
    /// Post time before, ms.
    pub to: Option<Millis>,
    /// Only this topic.
    pub topic: Option<String>,
    /// Only this source.
    pub source: Option<String>,
    /// Only this sentiment.
    pub sentiment: Option<Sentiment>,
    /// Only posts by handles this account linked.
    pub account_id: Option<i64>,
    /// Only posts whose text matches (full-text, by word prefix).
    pub matching: Option<TextMatch>,
    /// Order.
    pub order: PostOrder,
    /// Page size.
    pub limit: u32,
    /// Offset.
    pub offset: u32,
}

/// Posts of one time bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bucket {
    /// Bucket start, ms.
    pub start: Millis,
    /// Posts.
    pub total: i64,
    /// Negative posts.
    pub negative: i64,
    /// Positive posts.
    pub positive: i64,
    /// Sum of scores.
    pub score_sum: f64,
}

/// Counts per minute, topic set and sentiment: what the detector warms up from.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteCount {
    /// Minute start, ms.
    pub minute: Millis,
    /// The topics ('|'-delimited as stored).
    pub topics: Vec<String>,
    /// Negative posts.
    pub negative: i64,
    /// All posts.
    pub total: i64,
}

/// A queued webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Id.
    pub id: i64,
    /// The alert.
    pub alert_id: Option<i64>,
    /// Target URL.
    pub url: String,
    /// JSON body.
    pub body: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Next attempt, ms.
    pub next_attempt_at: Millis,
    /// Delivered at, ms.
    pub delivered_at: Option<Millis>,
    /// Given up at, ms.
    pub dead_at: Option<Millis>,
    /// Last error.
    pub last_error: Option<String>,
}

/// Storage for social listening.
#[async_trait]
pub trait ListeningStore: Send + Sync {
    /// Stores a new ingest token (only its hash).
    async fn create_ingest_token(
        &self,
        name: &str,
        token_hash: &str,
        created_by: Option<i64>,
        now: Millis,
    ) -> Result<IngestToken>;
    /// Every ingest token, newest first.
    async fn ingest_tokens(&self) -> Result<Vec<IngestToken>>;
    /// Revokes a token; `NotFound` when there is none.
    async fn revoke_ingest_token(&self, id: i64, now: Millis) -> Result<IngestToken>;
    /// A live (unrevoked) token by hash.
    async fn ingest_token_by_hash(&self, token_hash: &str) -> Result<Option<IngestToken>>;

    /// Inserts classified posts in one transaction, ignoring ones already
    /// there, linking authors to accounts, and (same transaction) moving a
    /// connector's cursor. A new post is also linked to, and counted for the
    /// day under, each proposal its `proposals` names (see
    /// [`track_proposal_posts`](Self::track_proposal_posts)). Returns the
    /// new posts' ids in input order (`None` for duplicates).
    async fn insert_posts(
        &self,
        posts: &[NewPost],
        cursor: Option<(&str, &str)>,
        now: Millis,
    ) -> Result<(PostCounts, Vec<Option<i64>>)>;
    /// Starts (or restarts) keeping the posts that match proposal `id`:
    /// when `m` differs from the match its posts were last filled for (or
    /// none was), every stored post that `m` matches is linked and counted
    /// per day afresh, in one transaction that concurrent ingests wait for.
    /// Returns the posts linked, or `None` when the match was unchanged.
    /// From then on [`insert_posts`](Self::insert_posts) keeps them.
    async fn track_proposal_posts(
        &self,
        id: i64,
        m: &TextMatch,
        now: Millis,
    ) -> Result<Option<u64>>;
    /// Matching posts of proposal `id` per UTC day in `[from, to)` (days
    /// without posts left out), from the counts kept at ingest.
    async fn proposal_post_days(&self, id: i64, from: Millis, to: Millis) -> Result<Vec<Bucket>>;
    /// The newest matching posts of proposal `id` posted at or after
    /// `since`, optionally of one sentiment.
    async fn proposal_posts(
        &self,
        id: i64,
        since: Millis,
        sentiment: Option<Sentiment>,
        limit: u32,
    ) -> Result<Vec<Post>>;
    /// The texts of the newest matching posts of proposal `id` posted at or
    /// after `since`, of one sentiment.
    async fn proposal_post_texts(
        &self,
        id: i64,
        since: Millis,
        sentiment: Sentiment,
        limit: u32,
    ) -> Result<Vec<String>>;
    /// A staff member's correction of post `post_id`'s sentiment: the post
    /// takes the label (and its score, -1/0/1) as labelled by staff, the
    /// correction is appended to the corrections log, and the figures kept
    /// for proposals move with it, in one transaction. Correcting to the
    /// label it already has is still logged (staff confirmed it). Returns
    /// the post as it now is; `NotFound` for an unknown post.
    async fn correct_sentiment(
        &self,
        post_id: i64,
        sentiment: Sentiment,
        by: i64,
        now: Millis,
    ) -> Result<Post>;
    /// The latest correction of each corrected post that still exists,
    /// with its text, oldest first: extra training data.
    async fn sentiment_corrections(&self) -> Result<Vec<SentimentCorrection>>;
    /// Corrections of one post, newest first.
    async fn post_corrections(&self, post_id: i64) -> Result<Vec<SentimentCorrection>>;
    /// A model tier's new labels for posts `(id, sentiment, score)`, in one
    /// transaction; posts corrected by staff keep theirs. Kept proposal
    /// figures move with each change. Returns the posts relabelled.
    async fn relabel_posts(
        &self,
        labels: &[(i64, Sentiment, f32)],
        source: LabelSource,
    ) -> Result<u64>;
    /// Queues posts for the accurate (encoder) tier; a post already queued
    /// stays queued once.
    async fn queue_for_encoder(&self, post_ids: &[i64], now: Millis) -> Result<()>;
    /// Up to `limit` queued posts `(id, text)`, newest first (the dashboard
    /// shows recent posts, so they are worth relabelling first).
    async fn queued_for_encoder(&self, limit: u32) -> Result<Vec<(i64, String)>>;
    /// The accurate tier's labels (as [`relabel_posts`](Self::relabel_posts)
    /// with [`LabelSource::Encoder`]), and `done` (labelled or given up)
    /// taken off the queue, in one transaction. Returns the posts relabelled.
    async fn finish_encoder_batch(
        &self,
        labels: &[(i64, Sentiment, f32)],
        done: &[i64],
    ) -> Result<u64>;
    /// Posts waiting for the accurate tier.
    async fn encoder_queue_len(&self) -> Result<i64>;
    /// A connector's saved cursor.
    async fn connector_cursor(&self, name: &str) -> Result<Option<String>>;
    /// Lists posts.
    async fn list_posts(&self, q: &PostQuery) -> Result<Vec<Post>>;
    /// Posts by id (missing ones are skipped), in the given order.
    async fn posts_by_id(&self, ids: &[i64]) -> Result<Vec<Post>>;
    /// Counts posts matching the query's filters (its paging ignored).
    async fn count_posts(&self, q: &PostQuery) -> Result<i64>;
    /// Volume and sentiment per bucket of `bucket_ms` over `[from, to)`, optionally only of
    /// one topic, one source and posts whose text matches.
    async fn post_series(
        &self,
        from: Millis,
        to: Millis,
        bucket_ms: i64,
        topic: Option<&str>,
        source: Option<&str>,
        matching: Option<&TextMatch>,
    ) -> Result<Vec<Bucket>>;
    /// Per-minute counts since `since`, for warming up the detector.
    async fn minute_counts(&self, since: Millis) -> Result<Vec<MinuteCount>>;
    /// Texts of posts in `[from, to)`, optionally of one topic, at most `limit`.
    async fn post_texts(
        &self,
        from: Millis,
        to: Millis,
        topic: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Sentiment)>>;
    /// Distinct sources seen.
    async fn post_sources(&self) -> Result<Vec<String>>;
    /// The newest post time, if any.
    async fn latest_post_time(&self) -> Result<Option<Millis>>;

    /// Stores an alert and queues one webhook delivery per URL, atomically.
    async fn create_alert(
        &self,
        alert: &NewAlert,
        webhooks: &[(String, String)],
        now: Millis,
    ) -> Result<Alert>;
    /// Alerts, newest first, optionally of one status.
    async fn list_alerts(&self, status: Option<AlertStatus>, limit: u32) -> Result<Vec<Alert>>;
    /// One alert.
    async fn alert(&self, id: i64) -> Result<Option<Alert>>;
    /// Acknowledges or resolves an alert.
    async fn set_alert_status(
        &self,
        id: i64,
        status: AlertStatus,
        by: i64,
        now: Millis,
    ) -> Result<Alert>;

    /// Claims up to `limit` deliveries due at `now`, oldest first: each is
    /// hidden from every other claimer (any process) for `lease_ms`, by which
    /// time [`webhook_delivered`](Self::webhook_delivered) or
    /// [`webhook_failed`](Self::webhook_failed) records its outcome; a
    /// deliverer that dies leaves it due again when the lease runs out.
    async fn claim_webhooks(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<OutboxItem>>;
    /// The earliest pending delivery time.
    async fn next_webhook_at(&self) -> Result<Option<Millis>>;
    /// Marks a delivery done.
    async fn webhook_delivered(&self, id: i64, now: Millis) -> Result<()>;
    /// Records a failed attempt: retry at `next` or, when `None`, give up.
    async fn webhook_failed(
        &self,
        id: i64,
        error: &str,
        next: Option<Millis>,
        now: Millis,
    ) -> Result<()>;
    /// Every outbox row (newest first), for staff and tests.
    async fn webhook_outbox(&self, limit: u32) -> Result<Vec<OutboxItem>>;

    /// Links a handle to an account and claims that author's posts. `Conflict`
    /// on `handle` when another account has it.
    async fn link_handle(&self, account_id: i64, handle: &str, now: Millis) -> Result<u64>;
    /// Unlinks a handle of an account; its posts lose the link.
    async fn unlink_handle(&self, account_id: i64, handle: &str) -> Result<()>;
    /// An account's linked handles.
    async fn handles(&self, account_id: i64) -> Result<Vec<String>>;
}
