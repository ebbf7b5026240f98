//! "Listen before you change": proposals, customers' reactions and comments,
//! decisions and announcements (the rules are `marquee_domain::changes`).

use crate::decisions::Evidence;
use crate::Result;
use async_trait::async_trait;
use marquee_domain::changes::{
    AccountGroup, ChangeKind, Decision, PriceChange, Reaction, Segment, SegmentBounds, Status,
    WouldStay,
};
use marquee_domain::ideas::PostingLimit;
use marquee_domain::listening::Sentiment;
use marquee_domain::{Millis, Plan};

/// What staff write: a new proposal or an edit of a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalDraft {
    /// Kind.
    pub kind: ChangeKind,
    /// Title.
    pub title: String,
    /// The explanation customers read (Markdown).
    pub body: String,
    /// Who it affects.
    pub segment: Segment,
    /// A price change's plan, price and grandfathering.
    pub price: Option<PriceChange>,
    /// Words that texts about it contain (as tags).
    pub keywords: Vec<String>,
    /// When it would take effect, ms.
    pub planned_at: Millis,
}

/// A stored proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Id.
    pub id: i64,
    /// What staff wrote.
    pub draft: ProposalDraft,
    /// Where it stands.
    pub status: Status,
    /// Put out for consultation, ms.
    pub published_at: Option<Millis>,
    /// The last decision.
    pub decision: Option<Decision>,
    /// Why (staff's words).
    pub decision_note: Option<String>,
    /// The "We heard you" decision recorded with it.
    pub decision_id: Option<i64>,
    /// Decided, ms.
    pub decided_at: Option<Millis>,
    /// The announcement's title.
    pub announce_title: Option<String>,
    /// The announcement's text (Markdown).
    pub announce_body: Option<String>,
    /// When it goes out, ms.
    pub announce_at: Option<Millis>,
    /// When it went out, ms.
    pub announced_at: Option<Millis>,
    /// Accounts that got the announcement in the app.
    pub announced_to: i64,
    /// When existing customers were moved to the new price.
    pub prices_moved_at: Option<Millis>,
    /// Author.
    pub created_by: Option<i64>,
    /// Created, ms.
    pub created_at: Millis,
    /// Last change, ms.
    pub updated_at: Millis,
}

/// A customer's reaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReactionInput {
    /// Support, unsure or oppose.
    pub reaction: Reaction,
    /// Would they stay.
    pub would_stay: Option<WouldStay>,
    /// Their plan now.
    pub plan: Plan,
    /// Their tenure band now (`marquee_domain::changes::tenure_band`).
    pub tenure_band: &'static str,
}

/// A customer's stored reaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReaction {
    /// Support, unsure or oppose.
    pub reaction: Reaction,
    /// Would they stay.
    pub would_stay: Option<WouldStay>,
    /// Last changed, ms.
    pub updated_at: Millis,
}

/// A comment on a proposal.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalComment {
    /// Id.
    pub id: i64,
    /// The proposal.
    pub proposal_id: i64,
    /// The author's account.
    pub author_id: i64,
    /// The author's first profile name.
    pub author_name: String,
    /// The text (untrusted).
    pub body: String,
    /// Its sentiment.
    pub sentiment: Sentiment,
    /// p(positive) - p(negative).
    pub score: f64,
    /// Hidden by staff.
    pub hidden: bool,
    /// Their reaction, if they reacted.
    pub reaction: Option<Reaction>,
    /// Posted, ms.
    pub created_at: Millis,
}

/// A comment to store.
#[derive(Debug, Clone)]
pub struct NewComment<'a> {
    /// The proposal.
    pub proposal_id: i64,
    /// The author.
    pub author_id: i64,
    /// The text, checked.
    pub body: &'a str,
    /// Its sentiment.
    pub sentiment: Sentiment,
    /// Its score.
    pub score: f64,
    /// The author's posting limit.
    pub limit: Option<PostingLimit>,
}

/// Reactions given or changed in one time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReactionStep {
    /// Bucket index from the series' start.
    pub bucket: i64,
    /// The new answer.
    pub reaction: Reaction,
    /// The answer it replaced.
    pub previous: Option<Reaction>,
    /// How many.
    pub count: i64,
}

/// "Would stay" answers counted by plan and tenure band.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StayCount {
    /// Plan.
    pub plan: Plan,
    /// Tenure band.
    pub tenure_band: String,
    /// The answer (`None`: not given).
    pub would_stay: Option<WouldStay>,
    /// Its reaction.
    pub reaction: Reaction,
    /// How many.
    pub count: i64,
}

/// Everything the consultation dashboard counts, read in one go.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationFigures {
    /// Reaction changes per bucket.
    pub steps: Vec<ReactionStep>,
    /// Current reactions by plan, band and "would stay".
    pub stay: Vec<StayCount>,
    /// Comments by sentiment: negative, neutral, positive.
    pub comment_sentiment: [i64; 3],
    /// Sum of comment scores.
    pub comment_score_sum: f64,
}

/// Proposal storage.
#[async_trait]
pub trait ProposalStore: Send + Sync {
    /// Stores a new draft.
    async fn create_proposal(
        &self,
        d: &ProposalDraft,
        actor_id: i64,
        now: Millis,
    ) -> Result<Proposal>;
    /// Replaces a draft's content. `Conflict` (field `status`) unless it is
    /// still a draft.
    async fn update_proposal(&self, id: i64, d: &ProposalDraft, now: Millis) -> Result<Proposal>;
    /// One proposal.
    async fn proposal(&self, id: i64) -> Result<Option<Proposal>>;
    /// Proposals, newest change first; `statuses` empty: every one.
    async fn proposals(&self, statuses: &[Status], limit: u32) -> Result<Vec<Proposal>>;
    /// Moves a draft to consultation. `Conflict` unless it is a draft.
    async fn publish_proposal(&self, id: i64, now: Millis) -> Result<Proposal>;
    /// Active customer accounts grouped by plan, days a customer and price.
    async fn account_groups(&self, now: Millis) -> Result<Vec<AccountGroup>>;
    /// Records (or replaces) a customer's reaction and logs the change.
    /// `Conflict` unless the proposal is in consultation.
    async fn react(
        &self,
        proposal_id: i64,
        account_id: i64,
        r: &ReactionInput,
        now: Millis,
    ) -> Result<StoredReaction>;
    /// A customer's reaction.
    async fn reaction_of(
        &self,
        proposal_id: i64,
        account_id: i64,
    ) -> Result<Option<StoredReaction>>;
    /// Stores a comment (rate-limited like idea comments: `RateLimited`).
    /// `Conflict` unless the proposal is in consultation.
    async fn add_proposal_comment(
        &self,
        c: &NewComment<'_>,
        now: Millis,
    ) -> Result<ProposalComment>;
    /// Comments, newest first.
    async fn proposal_comments(
        &self,
        proposal_id: i64,
        include_hidden: bool,
        limit: u32,
    ) -> Result<Vec<ProposalComment>>;
    /// The texts of the newest visible comments of one sentiment (the
    /// dashboard's concerns read only these).
    async fn proposal_comment_texts(
        &self,
        proposal_id: i64,
        sentiment: Sentiment,
        limit: u32,
    ) -> Result<Vec<String>>;
    /// Hides or shows a comment; returns its proposal.
    async fn set_proposal_comment_hidden(&self, comment_id: i64, hidden: bool) -> Result<i64>;
    /// The dashboard's counts: reaction steps in buckets of `bucket_ms`
    /// from `from`, "would stay" by segment, comment sentiment.
    async fn consultation(
        &self,
        proposal_id: i64,
        from: Millis,
        bucket_ms: i64,
    ) -> Result<ConsultationFigures>;
    /// Records the decision: the proposal's new status, a "We heard you"
    /// decision with `evidence` that notifies the customers behind it and
    /// everyone who reacted or commented, and, when a price change ships,
    /// the plan's new price from the planned date. The new status is
    /// `marquee_domain::changes::transition`'s; `Conflict` unless the
    /// proposal is still in consultation.
    #[allow(clippy::too_many_arguments)]
    async fn decide_proposal(
        &self,
        id: i64,
        decision: Decision,
        note: &str,
        evidence: &[Evidence],
        actor_id: i64,
        now: Millis,
    ) -> Result<Proposal>;
    /// Schedules (or reschedules) the announcement. `Conflict` unless the
    /// proposal is shipped or withdrawn and not yet announced.
    async fn schedule_announcement(
        &self,
        id: i64,
        title: &str,
        body: &str,
        at: Millis,
        now: Millis,
    ) -> Result<Proposal>;
    /// Proposals whose announcement is due and unsent.
    async fn due_announcements(&self, now: Millis) -> Result<Vec<i64>>;
    /// Sends a due announcement once: claims it (`announced_at`) and, in the
    /// same transaction, notifies every active customer within `bounds` (an
    /// `announcement`, in the app and by e-mail as each prefers). `None` when
    /// it was already sent or is not due.
    async fn send_announcement(
        &self,
        id: i64,
        bounds: &SegmentBounds,
        now: Millis,
    ) -> Result<Option<u64>>;
    /// Shipped price changes whose existing customers have not been moved.
    async fn pending_price_moves(&self) -> Result<Vec<i64>>;
    /// Moves existing customers within `bounds` on the change's plan and
    /// currency to its price, once (`prices_moved_at`). The caller checks
    /// the notice date (`marquee_domain::changes::may_move_existing`).
    /// Returns the accounts moved, `None` when already done.
    async fn move_existing_prices(
        &self,
        id: i64,
        bounds: &SegmentBounds,
        now: Millis,
    ) -> Result<Option<u64>>;
    /// Idea votes cast per UTC day in `[from, to)` (days without votes
    /// left out), for the after-change view.
    async fn idea_votes_per_day(&self, from: Millis, to: Millis) -> Result<Vec<(Millis, i64)>>;
}
