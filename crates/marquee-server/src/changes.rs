//! "Listen before you change" (the service of `api::changes` and the
//! `/changes` and `/staff/changes` pages): proposals of a price, plan or
//! product change put in front of the customers they affect before they
//! ship, the consultation dashboard, the decision, the announcement and the
//! after-change view with its trust recovery.
//!
//! The rules are `marquee_domain::changes` (a proposal's life, segments,
//! grandfathering, impact, what points at a change, recovery); this module
//! gathers what they read from the store and from the other features:
//! listening's matching posts (the idea voice panel's text match), ideas,
//! support conversations, cancellations and downgrades, CSAT.
//!
//! Live: every reaction, comment and status change is a [`ChangeEvent`] on
//! [`ChangesHub`] (and to the other processes through the fan-out); the
//! dashboard's stream adds listening's "new posts" events, since any of them
//! may match. The worker ([`spawn_worker`], started by `launch`) sends due
//! announcements and moves grandfathered prices once their notice passed.

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::events::{ChangeEvent, Feed};
use crate::listening::classify;
use crate::wire;
use crate::wire::listening::SeriesPoint;
use crate::wire::support::Mention;
use crate::AppState;
use marquee_domain::changes::{
    self as rules, impact, matching, may_move_existing, points_at, recovery, tenure_band,
    transition, AccountGroup, Action, ChangeKind, DayFigures, Decision, Impact, PriceChange,
    Reaction, Recovery, RecoveryRule, Segment, Status, WouldStay, DAY_MS, REACTIONS,
};
use marquee_domain::ideas::{Idea, PostingLimit};
use marquee_domain::listening::{Alert, Post, Sentiment};
use marquee_domain::plans::{AccountEventKind, CancelReason};
use marquee_domain::support::aggregate;
use marquee_domain::textmatch::TextMatch;
use marquee_domain::{Account, Millis, Plan, Role};
use marquee_store::decisions::{Evidence, EvidenceKind};
use marquee_store::plans::AccountEventQuery;
use marquee_store::proposals::{
    NewComment, Proposal, ProposalComment, ProposalDraft, ReactionInput,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, Notify};
use utoipa::ToSchema;

const HOUR_MS: Millis = 3_600_000;
/// Keywords a proposal may carry.
pub const MAX_KEYWORDS: usize = 12;
/// Days before publication the dashboard's post charts start.
const LEAD_DAYS: i64 = 7;
/// How often the worker looks for due announcements and price moves.
const POLL: Duration = Duration::from_secs(30);
/// Days after its decision that a proposal's matching posts are still kept
/// (and watched for backlash): the longest the after-change view reaches.
const TRACK_DAYS: i64 = 180;

/// Live consultation events and the worker's wake-up.
#[derive(Debug)]
pub struct ChangesHub {
    /// Reactions, comments and status changes, for open dashboards.
    pub events: broadcast::Sender<ChangeEvent>,
    /// Wakes the announcement worker (an announcement was scheduled).
    pub wake: Notify,
    /// Today's customers grouped by plan, tenure and price, which every
    /// impact preview reads: kept for the minute it was read in, while no
    /// account changed through this process (the store's auth version).
    /// One reader recomputes; the others wait for its answer.
    groups: tokio::sync::Mutex<Option<GroupsEntry>>,
}

#[derive(Debug)]
struct GroupsEntry {
    /// (auth version, minute) it was read at.
    key: (u64, i64),
    groups: Arc<Vec<AccountGroup>>,
}

/// How long the customer groups of the impact preview are reused: other
/// instances' account changes show within this, this instance's at once.
pub const GROUPS_TTL_MS: i64 = 60_000;

impl Default for ChangesHub {
    fn default() -> Self {
        ChangesHub {
            events: broadcast::channel(256).0,
            wake: Notify::new(),
            groups: tokio::sync::Mutex::new(None),
        }
    }
}

/// Tells this process's and the other processes' dashboards of proposal
/// `id` that something changed.
pub fn emit(state: &AppState, proposal_id: i64, kind: &str) {
    let e = ChangeEvent {
        proposal_id,
        kind: kind.to_string(),
        at: state.clock.now_ms(),
    };
    state.fanout.forward(|| Feed::Changes(e.clone()));
    let _ = state.changes.events.send(e);
}

/// A proposal as staff write it (create, or edit a draft).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalInput {
    /// `price`, `plan`, `product` or `other`.
    pub kind: ChangeKind,
    /// 1 to 120 characters.
    pub title: String,
    /// What changes and why, in Markdown (1 to 10,000 characters).
    pub body: String,
    /// Who it affects (absent: every customer).
    #[serde(default)]
    pub segment: Segment,
    /// A price change's plan, new price and grandfathering (price changes only).
    #[serde(default)]
    pub price: Option<PriceChange>,
    /// Words that posts, ideas and conversations about it contain (at most
    /// 12); none: two words of the title.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// When it would take effect, ms (not in the past).
    pub planned_at: Millis,
}

fn rules_text(field: &'static str, raw: &str, max: usize) -> Result<String, AppError> {
    Ok(marquee_domain::ideas::required_text(field, raw, max)?)
}

/// Checks staff input into a draft.
pub fn check_input(input: ProposalInput, now: Millis) -> Result<ProposalDraft, AppError> {
    let title = rules_text("title", &input.title, rules::MAX_TITLE)?;
    let body = rules_text("body", &input.body, rules::MAX_BODY)?;
    let segment = input.segment.check()?;
    rules::check_price_change(input.kind, input.price.as_ref())?;
    if input.keywords.len() > MAX_KEYWORDS {
        return Err(AppError::invalid(
            "keywords",
            format!("at most {MAX_KEYWORDS} keywords"),
        ));
    }
    let mut keywords = Vec::new();
    for k in &input.keywords {
        let k = k.trim().to_lowercase();
        if k.is_empty() || k.chars().count() > 40 {
            return Err(AppError::invalid(
                "keywords",
                "each keyword must be 1 to 40 characters",
            ));
        }
        if !keywords.contains(&k) {
            keywords.push(k);
        }
    }
    if input.planned_at < now - DAY_MS {
        return Err(AppError::invalid("planned_at", "must not be in the past"));
    }
    Ok(ProposalDraft {
        kind: input.kind,
        title,
        body,
        segment,
        price: input.price,
        keywords,
        planned_at: input.planned_at,
    })
}

/// A proposal as staff see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalView {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: ChangeKind,
    /// Title.
    pub title: String,
    /// Explanation (Markdown).
    pub body: String,
    /// Who it affects.
    pub segment: Segment,
    /// The segment in words.
    pub segment_text: String,
    /// A price change.
    pub price: Option<PriceChange>,
    /// Matching keywords.
    pub keywords: Vec<String>,
    /// Planned date, ms.
    pub planned_at: Millis,
    /// Where it stands.
    pub status: Status,
    /// Published, ms.
    pub published_at: Option<Millis>,
    /// The decision.
    pub decision: Option<Decision>,
    /// Why.
    pub decision_note: Option<String>,
    /// The "We heard you" entry recorded with it.
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
    /// Customers it reached.
    pub announced_to: i64,
    /// When existing customers moved to the new price.
    pub prices_moved_at: Option<Millis>,
    /// Created, ms.
    pub created_at: Millis,
    /// Last change, ms.
    pub updated_at: Millis,
}

impl From<Proposal> for ProposalView {
    fn from(p: Proposal) -> Self {
        let d = p.draft;
        ProposalView {
            id: p.id,
            kind: d.kind,
            title: d.title,
            body: d.body,
            segment_text: d.segment.describe(),
            segment: d.segment,
            price: d.price,
            keywords: d.keywords,
            planned_at: d.planned_at,
            status: p.status,
            published_at: p.published_at,
            decision: p.decision,
            decision_note: p.decision_note,
            decision_id: p.decision_id,
            decided_at: p.decided_at,
            announce_title: p.announce_title,
            announce_body: p.announce_body,
            announce_at: p.announce_at,
            announced_at: p.announced_at,
            announced_to: p.announced_to,
            prices_moved_at: p.prices_moved_at,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// One proposal (404 when there is none).
pub async fn get(state: &AppState, id: i64) -> Result<Proposal, AppError> {
    state.store.proposal(id).await?.ok_or_else(|| not_found(id))
}

/// Whether `action` may happen to `p` now (the domain's answer, with its
/// message, before the store re-checks it under a lock).
fn allowed(p: &Proposal, action: Action) -> Result<Status, AppError> {
    Ok(transition(p.status, p.announced_at.is_some(), action)?)
}

/// Proposals for staff, newest change first (`statuses` empty: all).
pub async fn list(state: &AppState, statuses: &[Status]) -> Result<Vec<Proposal>, AppError> {
    Ok(state.store.proposals(statuses, 200).await?)
}

/// Stores a new draft.
pub async fn create(
    state: &AppState,
    actor: &Account,
    input: ProposalInput,
) -> Result<Proposal, AppError> {
    let now = state.clock.now_ms();
    let d = check_input(input, now)?;
    Ok(state.store.create_proposal(&d, actor.id, now).await?)
}

/// Replaces a draft.
pub async fn update(state: &AppState, id: i64, input: ProposalInput) -> Result<Proposal, AppError> {
    let now = state.clock.now_ms();
    let p = get(state, id).await?;
    allowed(&p, Action::Edit)?;
    let d = check_input(input, now)?;
    Ok(state.store.update_proposal(id, &d, now).await?)
}

/// The impact preview of a proposal, over today's active accounts.
pub async fn impact_of(state: &AppState, d: &ProposalDraft) -> Result<Impact, AppError> {
    let now = state.clock.now_ms();
    let groups = account_groups(state, now).await?;
    Ok(impact(
        &d.segment,
        d.price.as_ref(),
        d.planned_at,
        &groups,
        now,
    ))
}

/// Today's customers by plan, tenure and price (see [`ChangesHub`]): the
/// same minute and no account changed since → the groups already read.
async fn account_groups(state: &AppState, now: Millis) -> Result<Arc<Vec<AccountGroup>>, AppError> {
    let key = (state.store.auth_version(), now.div_euclid(GROUPS_TTL_MS));
    let mut entry = state.changes.groups.lock().await;
    if let Some(e) = entry.as_ref().filter(|e| e.key == key) {
        return Ok(e.groups.clone());
    }
    let groups = Arc::new(state.store.account_groups(now).await?);
    *entry = Some(GroupsEntry {
        key,
        groups: groups.clone(),
    });
    Ok(groups)
}

/// Puts a draft out for consultation.
pub async fn publish(state: &AppState, id: i64) -> Result<Proposal, AppError> {
    let p = get(state, id).await?;
    allowed(&p, Action::Publish)?;
    let p = state
        .store
        .publish_proposal(id, state.clock.now_ms())
        .await?;
    refresh_scopes(state).await?;
    emit(state, id, "status");
    Ok(p)
}

/// Gives listening's detector the matching rule of every proposal in
/// consultation or decided in the last [`TRACK_DAYS`] days, so each gets its
/// own backlash alert, and has the store keep their matching posts (filled
/// once for a new or changed match; ingest keeps them from then on), which
/// the dashboard and the after-change view read.
pub async fn refresh_scopes(state: &AppState) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let tracked: Vec<(i64, TextMatch)> = state
        .store
        .proposals(
            &[Status::Consulting, Status::Shipped, Status::Withdrawn],
            200,
        )
        .await?
        .iter()
        .filter(|p| p.decided_at.is_none_or(|d| now - d <= TRACK_DAYS * DAY_MS))
        .map(|p| (p.id, matching_of(p)))
        .filter(|(_, m)| !m.groups.is_empty())
        .collect();
    // Scopes first: a post that arrives while a match is being filled is
    // either in the fill or linked by its own ingest.
    state.listening.set_scopes(tracked.clone());
    for (id, m) in &tracked {
        if let Some(n) = state.store.track_proposal_posts(*id, m, now).await? {
            tracing::info!(
                proposal = id,
                posts = n,
                "matching posts of a proposal filled"
            );
        }
    }
    Ok(())
}

/// What counts as a text about the proposal: its keywords, or two words of
/// its title (the idea box's rule).
pub fn matching_of(p: &Proposal) -> TextMatch {
    matching(&p.draft.title, &p.draft.keywords)
}

// ---------------------------------------------------------------- customers

/// Whether `account` may see `p`: an announced change is public; a
/// published one is seen by the customers of its segment (staff see all).
pub fn visible_to(p: &Proposal, account: Option<&Account>, now: Millis) -> bool {
    if p.announced_at.is_some() {
        return true;
    }
    if p.published_at.is_none() || p.status == Status::Draft {
        return false;
    }
    match account {
        Some(a) if a.role != Role::Viewer => true,
        Some(a) => in_segment(p, a, now),
        None => false,
    }
}

fn in_segment(p: &Proposal, a: &Account, now: Millis) -> bool {
    p.draft
        .segment
        .includes(a.plan, a.created_at, a.price.amount_cents, now)
}

/// A proposal as a customer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerProposal {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: ChangeKind,
    /// Title.
    pub title: String,
    /// What changes and why (Markdown).
    pub body: String,
    /// Who it affects, in words.
    pub segment_text: String,
    /// A price change.
    pub price: Option<PriceChange>,
    /// When it would take effect, ms.
    pub planned_at: Millis,
    /// Where it stands.
    pub status: Status,
    /// The decision, once taken.
    pub decision: Option<Decision>,
    /// Why, once decided.
    pub decision_note: Option<String>,
    /// The announcement, once sent.
    pub announcement: Option<Announcement>,
    /// Whether the consultation is open and this customer may answer.
    pub can_answer: bool,
    /// This customer's reaction.
    pub my_reaction: Option<Reaction>,
    /// This customer's "would stay" answer.
    pub my_would_stay: Option<WouldStay>,
}

/// A sent announcement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Announcement {
    /// Title.
    pub title: String,
    /// Text (Markdown).
    pub body: String,
    /// Sent, ms.
    pub at: Millis,
}

/// The 404 of a proposal someone may not see: the same as for none at all.
fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("proposal {id} not found"))
}

/// Proposal `id` if `account` may see it ([`visible_to`]), else 404.
async fn visible_proposal(
    state: &AppState,
    account: Option<&Account>,
    id: i64,
    now: Millis,
) -> Result<Proposal, AppError> {
    let p = get(state, id).await?;
    if visible_to(&p, account, now) {
        Ok(p)
    } else {
        Err(not_found(id))
    }
}

/// A customer's view of proposal `id` (404 when they may not see it).
pub async fn for_customer(
    state: &AppState,
    account: Option<&Account>,
    id: i64,
) -> Result<CustomerProposal, AppError> {
    let now = state.clock.now_ms();
    let p = visible_proposal(state, account, id, now).await?;
    let mine = match account {
        Some(a) => state.store.reaction_of(id, a.id).await?,
        None => None,
    };
    let can_answer = p.status == Status::Consulting
        && account.is_some_and(|a| a.role == Role::Viewer && in_segment(&p, a, now));
    Ok(CustomerProposal {
        id: p.id,
        kind: p.draft.kind,
        segment_text: p.draft.segment.describe(),
        price: p.draft.price.clone(),
        planned_at: p.draft.planned_at,
        status: p.status,
        decision: p.decision,
        decision_note: p.decision_note.clone(),
        announcement: match (&p.announce_title, &p.announce_body, p.announced_at) {
            (Some(t), Some(b), Some(at)) => Some(Announcement {
                title: t.clone(),
                body: b.clone(),
                at,
            }),
            _ => None,
        },
        title: p.draft.title,
        body: p.draft.body,
        can_answer,
        my_reaction: mine.as_ref().map(|m| m.reaction),
        my_would_stay: mine.and_then(|m| m.would_stay),
    })
}

/// A proposal in a customer's list (and the banner).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalSummary {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Where it stands.
    pub status: Status,
    /// Open for answers.
    pub consulting: bool,
    /// Announced, ms.
    pub announced_at: Option<Millis>,
    /// Whether this customer answered.
    pub answered: bool,
    /// Its page.
    pub url: String,
}

/// The proposals a customer can see now: open consultations of their
/// segment and changes announced in the last 60 days.
pub async fn visible_list(
    state: &AppState,
    account: &Account,
) -> Result<Vec<ProposalSummary>, AppError> {
    let now = state.clock.now_ms();
    let all = state
        .store
        .proposals(
            &[Status::Consulting, Status::Shipped, Status::Withdrawn],
            200,
        )
        .await?;
    let mut out = Vec::new();
    for p in all {
        let recent = p.announced_at.is_some_and(|at| now - at <= 60 * DAY_MS);
        let open = p.status == Status::Consulting && in_segment(&p, account, now);
        if !(recent || open) || !visible_to(&p, Some(account), now) {
            continue;
        }
        let answered = state.store.reaction_of(p.id, account.id).await?.is_some();
        out.push(ProposalSummary {
            id: p.id,
            url: format!("/changes/{}", p.id),
            title: p.draft.title,
            status: p.status,
            consulting: open,
            announced_at: p.announced_at,
            answered,
        });
    }
    Ok(out)
}

fn answering(p: &Proposal, user: &CurrentUser, now: Millis) -> Result<(), AppError> {
    if user.account.role != Role::Viewer {
        return Err(AppError::Forbidden(
            "staff do not answer consultations; sign in as a customer".into(),
        ));
    }
    if !visible_to(p, Some(&user.account), now) {
        return Err(not_found(p.id));
    }
    allowed(p, Action::Answer)?;
    if !in_segment(p, &user.account, now) {
        return Err(AppError::Forbidden(
            "this change does not affect your plan".into(),
        ));
    }
    Ok(())
}

/// Records (or replaces) a customer's reaction.
pub async fn react(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    reaction: Reaction,
    would_stay: Option<WouldStay>,
) -> Result<CustomerProposal, AppError> {
    let now = state.clock.now_ms();
    let p = get(state, id).await?;
    answering(&p, user, now)?;
    let a = &user.account;
    state
        .store
        .react(
            id,
            a.id,
            &ReactionInput {
                reaction,
                would_stay,
                plan: a.plan,
                tenure_band: tenure_band(rules::tenure_days(a.created_at, now)),
            },
            now,
        )
        .await?;
    emit(state, id, "reaction");
    for_customer(state, Some(a), id).await
}

/// A comment as anyone who may see the proposal reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ProposalCommentView)]
pub struct CommentView {
    /// Id.
    pub id: i64,
    /// The author's first profile name.
    pub author_name: String,
    /// The text (escape it).
    pub body: String,
    /// Its sentiment.
    pub sentiment: Sentiment,
    /// The author's reaction.
    pub reaction: Option<Reaction>,
    /// Hidden by staff (staff only see these).
    pub hidden: bool,
    /// Posted, ms.
    pub created_at: Millis,
}

impl From<ProposalComment> for CommentView {
    fn from(c: ProposalComment) -> Self {
        CommentView {
            id: c.id,
            author_name: c.author_name,
            body: c.body,
            sentiment: c.sentiment,
            reaction: c.reaction,
            hidden: c.hidden,
            created_at: c.created_at,
        }
    }
}

/// Comments, newest first (hidden ones for staff only).
pub async fn comments(
    state: &AppState,
    account: Option<&Account>,
    id: i64,
    limit: u32,
) -> Result<Vec<CommentView>, AppError> {
    visible_proposal(state, account, id, state.clock.now_ms()).await?;
    let staff = account.is_some_and(|a| a.role != Role::Viewer);
    Ok(wire::all(
        state.store.proposal_comments(id, staff, limit).await?,
    ))
}

/// Comments for staff, hidden ones included, newest first.
pub async fn staff_comments(
    state: &AppState,
    id: i64,
    limit: u32,
) -> Result<Vec<CommentView>, AppError> {
    Ok(wire::all(
        state.store.proposal_comments(id, true, limit).await?,
    ))
}

/// Adds a customer's comment, scored by the listening model like a post.
pub async fn comment(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    body: &str,
) -> Result<CommentView, AppError> {
    let body = rules_text("body", body, rules::MAX_COMMENT)?;
    let now = state.clock.now_ms();
    let p = get(state, id).await?;
    answering(&p, user, now)?;
    let pred = state.listening.model().predict(&body);
    let sentiment = crate::listening::sentiment_of(pred.label);
    let c = state
        .store
        .add_proposal_comment(
            &NewComment {
                proposal_id: id,
                author_id: user.account.id,
                body: &body,
                sentiment,
                score: f64::from(pred.score),
                limit: Some(PostingLimit {
                    max: state.config.ideas.comments_per_hour,
                    window_ms: HOUR_MS,
                }),
            },
            now,
        )
        .await?;
    emit(state, id, "comment");
    Ok(c.into())
}

/// Hides or shows a comment (staff); returns the proposal's id.
pub async fn hide_comment(
    state: &AppState,
    comment_id: i64,
    hidden: bool,
) -> Result<i64, AppError> {
    let id = state
        .store
        .set_proposal_comment_hidden(comment_id, hidden)
        .await?;
    emit(state, id, "comment");
    Ok(id)
}

// ---------------------------------------------------------------- dashboard

/// Reactions standing at the end of one bucket.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct ReactionPoint {
    /// Bucket start, ms.
    pub start: Millis,
    /// Supporting then.
    pub support: i64,
    /// Unsure then.
    pub unsure: i64,
    /// Opposed then.
    pub oppose: i64,
}

/// "Would stay" answers of one plan and tenure band.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StayRow {
    /// Plan.
    pub plan: Plan,
    /// Tenure band.
    pub tenure: String,
    /// Reactions.
    pub reactions: i64,
    /// Of which opposed.
    pub oppose: i64,
    /// Would stay.
    pub yes: i64,
    /// Not sure.
    pub unsure: i64,
    /// Would leave.
    pub no: i64,
}

/// A distinctive term of the negative texts with quotes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Concern {
    /// The term.
    pub term: String,
    /// Its weight (log-odds against the background).
    pub weight: f64,
    /// Texts that use it (customers' words; escape them).
    pub quotes: Vec<String>,
}

/// A cancellation or downgrade that points at the proposal.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PointingEvent {
    /// The subscription event.
    pub event: wire::plans::AccountEvent,
}

/// The consultation dashboard of one proposal.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    /// The proposal.
    pub proposal: ProposalView,
    /// The impact preview.
    pub impact: Impact,
    /// Bucket length of `reactions`, ms (an hour, or a day after 3 days).
    pub bucket_ms: i64,
    /// Reactions standing at the end of each bucket since publication.
    pub reactions: Vec<ReactionPoint>,
    /// Reactions now: support, unsure, oppose.
    pub totals: [i64; 3],
    /// Comments by sentiment: negative, neutral, positive.
    pub comment_sentiment: [i64; 3],
    /// Mean comment score in [-1, 1] (0 with none).
    pub comment_mean_score: f64,
    /// The matching rule of posts, ideas and conversations.
    pub matching: TextMatch,
    /// Matching posts per day, from a week before publication.
    pub posts: Vec<SeriesPoint>,
    /// Matching posts since publication.
    pub posts_total: i64,
    /// Of which negative.
    pub posts_negative: i64,
    /// The most negative matching posts since publication.
    pub negative_posts: Vec<Post>,
    /// What the negative comments and posts are about.
    pub concerns: Vec<Concern>,
    /// "Would stay" by plan and tenure band.
    pub stay: Vec<StayRow>,
    /// Ideas about it.
    pub ideas: Vec<IdeaRef>,
    /// Support conversations since publication where customers wrote about it.
    pub conversations: i64,
    /// The latest of them.
    pub mentions: Vec<Mention>,
    /// Cancellations since publication whose reason points at it.
    pub cancellations: Vec<wire::plans::AccountEvent>,
    /// Downgrades since publication whose words point at it.
    pub downgrades: Vec<wire::plans::AccountEvent>,
    /// Backlash alerts on its matching posts.
    pub alerts: Vec<Alert>,
    /// Markers for the charts: published, decided, announced.
    pub markers: Vec<Marker>,
    /// Computed at, ms.
    pub at: Millis,
}

/// An idea about the proposal.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IdeaRef {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Votes.
    pub votes: i64,
}

/// A moment of the proposal's timeline, drawn on the charts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Marker {
    /// When, ms.
    pub at: Millis,
    /// What: `proposed`, `consultation`, `decision`, `announcement`.
    pub label: String,
}

/// The proposal's timeline.
pub fn markers(p: &Proposal) -> Vec<Marker> {
    let mut m = vec![Marker {
        at: p.created_at,
        label: "proposed".into(),
    }];
    if let Some(at) = p.published_at {
        m.push(Marker {
            at,
            label: "consultation".into(),
        });
    }
    if let Some(at) = p.decided_at {
        m.push(Marker {
            at,
            label: p.decision.map_or("decision", |d| d.as_str()).to_string(),
        });
    }
    if let Some(at) = p.announced_at {
        m.push(Marker {
            at,
            label: "announcement".into(),
        });
    }
    m
}

fn reaction_index(r: Reaction) -> usize {
    REACTIONS.iter().position(|x| *x == r).unwrap_or(0)
}

/// Builds the consultation dashboard of proposal `id`.
pub async fn dashboard(state: &AppState, id: i64) -> Result<Dashboard, AppError> {
    let p = get(state, id).await?;
    let now = state.clock.now_ms();
    let since = p.published_at.unwrap_or(p.created_at);
    let until = now.max(since) + 1;
    let m = matching_of(&p);
    let bucket_ms = if until - since > 3 * DAY_MS {
        DAY_MS
    } else {
        HOUR_MS
    };
    let from = since - since.rem_euclid(bucket_ms);
    let figures = state.store.consultation(id, from, bucket_ms).await?;
    // Reactions standing at the end of each bucket: every step adds its new
    // answer and takes back the one it replaced.
    let buckets = ((until - from) / bucket_ms + 1).clamp(1, 2000);
    let mut standing = [0i64; 3];
    let mut reactions = Vec::with_capacity(buckets as usize);
    let mut steps = figures.steps.iter().peekable();
    for b in 0..buckets {
        while let Some(s) = steps.next_if(|s| s.bucket <= b) {
            standing[reaction_index(s.reaction)] += s.count;
            if let Some(prev) = s.previous {
                standing[reaction_index(prev)] -= s.count;
            }
        }
        reactions.push(ReactionPoint {
            start: from + b * bucket_ms,
            support: standing[0],
            unsure: standing[1],
            oppose: standing[2],
        });
    }
    let mut stay: BTreeMap<(&'static str, usize, String), StayRow> = BTreeMap::new();
    let mut totals = [0i64; 3];
    for s in &figures.stay {
        let band_rank = rules::TENURE_BANDS
            .iter()
            .position(|(_, l)| *l == s.tenure_band)
            .unwrap_or(0);
        let row = stay
            .entry((s.plan.as_str(), band_rank, s.tenure_band.clone()))
            .or_insert_with(|| StayRow {
                plan: s.plan,
                tenure: s.tenure_band.clone(),
                reactions: 0,
                oppose: 0,
                yes: 0,
                unsure: 0,
                no: 0,
            });
        row.reactions += s.count;
        totals[reaction_index(s.reaction)] += s.count;
        if s.reaction == Reaction::Oppose {
            row.oppose += s.count;
        }
        match s.would_stay {
            Some(WouldStay::Yes) => row.yes += s.count,
            Some(WouldStay::Unsure) => row.unsure += s.count,
            Some(WouldStay::No) => row.no += s.count,
            None => {}
        }
    }
    let comments_n: i64 = figures.comment_sentiment.iter().sum();
    let day_from = (since / DAY_MS - LEAD_DAYS) * DAY_MS;
    let day_to = (now / DAY_MS + 1) * DAY_MS;
    let (posts, negative_posts, concerns_fg) = if m.groups.is_empty() {
        (Vec::new(), Vec::new(), Vec::new())
    } else {
        let series = state
            .store
            .proposal_post_days(id, day_from, day_to.max(day_from + DAY_MS))
            .await?;
        let negative = state
            .store
            .proposal_posts(id, since, Some(Sentiment::Negative), 5)
            .await?;
        let fg = state
            .store
            .proposal_post_texts(id, since, Sentiment::Negative, 1000)
            .await?;
        (series, negative, fg)
    };
    let (posts_total, posts_negative) = posts
        .iter()
        .filter(|b| b.start + DAY_MS > since)
        .fold((0, 0), |a, b| (a.0 + b.total, a.1 + b.negative));
    // Concerns: what negative comments and posts say that the weeks before
    // did not.
    let mut fg: Vec<String> = state
        .store
        .proposal_comment_texts(id, Sentiment::Negative, 1000)
        .await?;
    fg.extend(concerns_fg);
    let bg: Vec<String> = state
        .store
        .post_texts(since - 28 * DAY_MS, since, None, 4000)
        .await?
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let min_df = (fg.len() / 20).clamp(2, 10);
    let concerns = classify::distinctive_terms(&fg, &bg, 8, min_df)
        .into_iter()
        .map(|(term, weight)| Concern {
            quotes: fg
                .iter()
                .filter(|t| classify::words(t).contains(&term))
                .take(2)
                .cloned()
                .collect(),
            term,
            weight,
        })
        .collect();
    let ideas = if m.groups.is_empty() {
        Vec::new()
    } else {
        similar_ideas(state, &p).await?
    };
    let (conversations, mentions) = state
        .store
        .conversations_mentioning(&m, since, until, 10)
        .await?;
    let (cancellations, downgrades) = pointing_events(state, &p, &m, since, until).await?;
    let series = crate::listening::change_series(id);
    let alerts = state
        .store
        .list_alerts(None, 500)
        .await?
        .into_iter()
        .filter(|a| a.series == series)
        .take(10)
        .collect();
    Ok(Dashboard {
        impact: impact_of(state, &p.draft).await?,
        markers: markers(&p),
        proposal: p.into(),
        bucket_ms,
        reactions,
        totals,
        comment_sentiment: figures.comment_sentiment,
        comment_mean_score: if comments_n > 0 {
            figures.comment_score_sum / comments_n as f64
        } else {
            0.0
        },
        matching: m,
        posts: posts.into_iter().map(SeriesPoint::from).collect(),
        posts_total,
        posts_negative,
        negative_posts,
        concerns,
        stay: stay.into_values().collect(),
        ideas,
        conversations,
        mentions: wire::all(mentions),
        cancellations,
        downgrades,
        alerts,
        at: now,
    })
}

async fn similar_ideas(state: &AppState, p: &Proposal) -> Result<Vec<IdeaRef>, AppError> {
    let text = if p.draft.keywords.is_empty() {
        p.draft.title.clone()
    } else {
        p.draft.keywords.join(" ")
    };
    let ideas: Vec<Idea> = state.store.similar_ideas(&text, None, 5).await?;
    Ok(ideas
        .into_iter()
        .map(|i| IdeaRef {
            id: i.id,
            title: i.title,
            votes: i.votes,
        })
        .collect())
}

/// Cancellations and downgrades in `[from, to)` that point at the proposal
/// (`marquee_domain::changes::points_at`).
async fn pointing_events(
    state: &AppState,
    p: &Proposal,
    m: &TextMatch,
    from: Millis,
    to: Millis,
) -> Result<
    (
        Vec<wire::plans::AccountEvent>,
        Vec<wire::plans::AccountEvent>,
    ),
    AppError,
> {
    let mut out = (Vec::new(), Vec::new());
    for kind in [AccountEventKind::Cancelled, AccountEventKind::Downgraded] {
        let events = state
            .store
            .account_events(&AccountEventQuery {
                account_id: None,
                kind: Some(kind),
                since: Some(from),
                until: Some(to),
                before_id: None,
                limit: 5000,
            })
            .await?;
        let pointing: Vec<wire::plans::AccountEvent> = events
            .into_iter()
            .filter(|e| points_at(p.draft.kind, m, e.reason, e.detail.as_deref()))
            .map(wire::plans::AccountEvent::from)
            .collect();
        if kind == AccountEventKind::Cancelled {
            out.0 = pointing;
        } else {
            out.1 = pointing;
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- decision

/// What the decision may link as its evidence: the proposal's backlash
/// alerts, its most negative matching posts, its ideas and the support
/// conversations about it.
pub async fn evidence_candidates(state: &AppState, id: i64) -> Result<Vec<Evidence>, AppError> {
    Ok(evidence_of(&dashboard(state, id).await?))
}

/// [`evidence_candidates`] of a dashboard already computed.
pub fn evidence_of(d: &Dashboard) -> Vec<Evidence> {
    let mut ev: Vec<Evidence> = Vec::new();
    let mut push = |kind: EvidenceKind, id: i64, label: String| {
        if ev.len() < 50 {
            ev.push(Evidence { kind, id, label });
        }
    };
    for a in &d.alerts {
        push(
            EvidenceKind::Alert,
            a.id,
            format!("Backlash alert #{}", a.id),
        );
    }
    for p in &d.negative_posts {
        push(EvidenceKind::Post, p.id, p.text.chars().take(80).collect());
    }
    for i in &d.ideas {
        push(EvidenceKind::Idea, i.id, i.title.clone());
    }
    for c in &d.mentions {
        push(
            EvidenceKind::Conversation,
            c.conversation_id,
            format!("Support conversation #{}", c.conversation_id),
        );
    }
    ev
}

/// Ships, revises or withdraws a proposal in consultation. The decision is
/// recorded as a "We heard you" entry linking `evidence` (none given: every
/// candidate of [`evidence_candidates`]) and notifies everyone who took part.
pub async fn decide(
    state: &AppState,
    actor: &Account,
    id: i64,
    decision: Decision,
    note: &str,
    evidence: Option<Vec<Evidence>>,
) -> Result<Proposal, AppError> {
    let note = rules_text("note", note, 4000)?;
    let p = get(state, id).await?;
    allowed(&p, Action::Decide(decision))?;
    let evidence = match evidence {
        Some(e) if e.len() > 50 => {
            return Err(AppError::invalid(
                "evidence",
                "at most 50 pieces of evidence",
            ))
        }
        Some(e) => e,
        None => evidence_candidates(state, id).await?,
    };
    let p = state
        .store
        .decide_proposal(
            id,
            decision,
            &note,
            &evidence,
            actor.id,
            state.clock.now_ms(),
        )
        .await?;
    refresh_scopes(state).await?;
    emit(state, id, "status");
    Ok(p)
}

/// The announcement text a decided proposal starts from: the apology for a
/// withdrawn change, the proposal's own explanation for a shipped one.
pub fn announcement_template(p: &Proposal) -> (String, String) {
    match p.status {
        Status::Withdrawn => (
            format!("We are not going ahead with \"{}\"", p.draft.title),
            rules::apology_template(&p.draft.title),
        ),
        _ => (
            format!("What is changing: {}", p.draft.title),
            format!(
                "{}\n\n**Why:** {}",
                p.draft.body,
                p.decision_note.as_deref().unwrap_or("")
            ),
        ),
    }
}

/// Schedules (or reschedules) the announcement of a decided proposal.
pub async fn schedule_announcement(
    state: &AppState,
    id: i64,
    title: &str,
    body: &str,
    at: Option<Millis>,
) -> Result<Proposal, AppError> {
    let title = rules_text("title", title, rules::MAX_TITLE)?;
    let body = rules_text("body", body, rules::MAX_BODY)?;
    let now = state.clock.now_ms();
    let at = at.unwrap_or(now);
    if at < now - 60_000 {
        return Err(AppError::invalid("at", "must not be in the past"));
    }
    if at > now + 365 * DAY_MS {
        return Err(AppError::invalid("at", "must be within a year"));
    }
    let p = get(state, id).await?;
    allowed(&p, Action::Announce)?;
    let p = state
        .store
        .schedule_announcement(id, &title, &body, at, now)
        .await?;
    state.changes.wake.notify_one();
    emit(state, id, "status");
    Ok(p)
}

/// One pass of the worker: sends due announcements to their segment once,
/// and moves grandfathered customers to a shipped price once their notice
/// date passed (never before it). Returns (announcements sent, price
/// changes applied).
pub async fn run_once(state: &AppState) -> Result<(u32, u32), AppError> {
    let now = state.clock.now_ms();
    let mut sent = 0;
    for id in state.store.due_announcements(now).await? {
        let p = get(state, id).await?;
        let bounds = p.draft.segment.bounds(now);
        if let Some(n) = state.store.send_announcement(id, &bounds, now).await? {
            tracing::info!(proposal = id, customers = n, "announcement sent");
            sent += 1;
            emit(state, id, "status");
        }
    }
    let mut moved = 0;
    for id in state.store.pending_price_moves().await? {
        let p = get(state, id).await?;
        let Some(price) = &p.draft.price else {
            continue;
        };
        if !may_move_existing(price, p.draft.planned_at, now) {
            continue;
        }
        let bounds = p.draft.segment.bounds(now);
        if let Some(n) = state.store.move_existing_prices(id, &bounds, now).await? {
            tracing::info!(proposal = id, accounts = n, "grandfathered prices moved");
            moved += 1;
            emit(state, id, "status");
        }
    }
    Ok((sent, moved))
}

/// The announcement worker ([`run_once`] every 30 s, and at once when an
/// announcement is scheduled). It also keeps listening's per-proposal
/// series and kept posts in step with the proposals ([`refresh_scopes`]).
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            // Every pass: proposals published or decided on another
            // instance reach this one's detector and ingest too.
            if let Err(e) = refresh_scopes(&state).await {
                tracing::warn!(error = %e, "proposal scopes not loaded");
            }
            if let Err(e) = run_once(&state).await {
                tracing::warn!(error = %e, "announcement pass failed");
            }
            tokio::select! {
                _ = state.changes.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

// ---------------------------------------------------------------- after

/// One day of the after-change view.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AfterDay {
    /// Start of the UTC day, ms.
    pub day: Millis,
    /// Matching posts.
    pub posts: i64,
    /// Of which negative.
    pub negative: i64,
    /// Mean sentiment score of the matching posts (0 with none).
    pub mean_score: f64,
    /// Cancellations (every reason).
    pub cancellations: i64,
    /// Downgrades.
    pub downgrades: i64,
    /// Support conversations opened.
    pub support_conversations: i64,
    /// Mean CSAT of the conversations opened that day.
    pub csat: Option<f64>,
    /// Idea votes cast.
    pub idea_votes: i64,
}

/// Cancellations with one reason, before and after.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasonShift {
    /// The reason.
    pub reason: CancelReason,
    /// In the baseline window before the announcement.
    pub before: i64,
    /// Since the announcement.
    pub after: i64,
}

/// Before and after the announcement, and trust recovery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AfterChange {
    /// The proposal.
    pub proposal: ProposalView,
    /// The announcement's day (a UTC midnight), when it went out.
    pub announced_day: Option<Millis>,
    /// One entry per day from the baseline's start to today.
    pub days: Vec<AfterDay>,
    /// Cancellation reasons before and after.
    pub reasons: Vec<ReasonShift>,
    /// Trust recovery (once announced).
    pub recovery: Option<Recovery>,
    /// The timeline, for the charts.
    pub markers: Vec<Marker>,
}

/// The after-change view of proposal `id`, with the default recovery rule.
pub async fn after_change(state: &AppState, id: i64) -> Result<AfterChange, AppError> {
    let p = get(state, id).await?;
    let rule = RecoveryRule::default();
    let now = state.clock.now_ms();
    let anchor = p
        .announced_at
        .or(p.decided_at)
        .or(p.published_at)
        .unwrap_or(p.created_at);
    let anchor_day = anchor - anchor.rem_euclid(DAY_MS);
    let from = anchor_day - i64::from(rule.baseline_days) * DAY_MS;
    let today = now - now.rem_euclid(DAY_MS);
    let to = (today + DAY_MS).clamp(from + DAY_MS, from + 180 * DAY_MS);
    let m = matching_of(&p);
    let mut days: BTreeMap<Millis, AfterDay> = (0..(to - from) / DAY_MS)
        .map(|i| {
            let day = from + i * DAY_MS;
            (
                day,
                AfterDay {
                    day,
                    posts: 0,
                    negative: 0,
                    mean_score: 0.0,
                    cancellations: 0,
                    downgrades: 0,
                    support_conversations: 0,
                    csat: None,
                    idea_votes: 0,
                },
            )
        })
        .collect();
    if !m.groups.is_empty() {
        for b in state.store.proposal_post_days(id, from, to).await? {
            if let Some(d) = days.get_mut(&b.start) {
                d.posts = b.total;
                d.negative = b.negative;
                d.mean_score = if b.total > 0 {
                    b.score_sum / b.total as f64
                } else {
                    0.0
                };
            }
        }
    }
    let mut reasons: BTreeMap<&'static str, ReasonShift> = BTreeMap::new();
    for c in state.store.account_event_counts(from).await? {
        let Some(d) = days.get_mut(&c.day) else {
            continue;
        };
        match c.kind {
            AccountEventKind::Cancelled => {
                d.cancellations += c.count;
                if let Some(r) = c.reason {
                    let e = reasons.entry(r.as_str()).or_insert(ReasonShift {
                        reason: r,
                        before: 0,
                        after: 0,
                    });
                    if c.day < anchor_day {
                        e.before += c.count;
                    } else {
                        e.after += c.count;
                    }
                }
            }
            AccountEventKind::Downgraded => d.downgrades += c.count,
            _ => {}
        }
    }
    let rows = crate::support::metrics_rows(state, from, to).await?;
    for a in aggregate(&rows, |r| {
        Some((r.created_at - r.created_at.rem_euclid(DAY_MS)).to_string())
    }) {
        let Some(d) = a.key.parse::<Millis>().ok().and_then(|k| days.get_mut(&k)) else {
            continue;
        };
        d.support_conversations = i64::from(a.conversations);
        d.csat = a.csat_avg;
    }
    for (day, n) in state.store.idea_votes_per_day(from, to).await? {
        if let Some(d) = days.get_mut(&day) {
            d.idea_votes = n;
        }
    }
    let days: Vec<AfterDay> = days.into_values().collect();
    let recovery = p.announced_at.map(|_| {
        let figures: Vec<DayFigures> = days
            .iter()
            .filter(|d| d.day < today + DAY_MS)
            .map(|d| DayFigures {
                day: d.day,
                posts: d.posts,
                negative: d.negative,
                cancellations: d.cancellations,
            })
            .collect();
        recovery(&figures, anchor_day, rule)
    });
    Ok(AfterChange {
        announced_day: p.announced_at.map(|_| anchor_day),
        markers: markers(&p),
        proposal: p.into(),
        days,
        reasons: reasons.into_values().collect(),
        recovery,
    })
}

/// A proposal on the staff overview.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverviewChange {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Where it stands.
    pub status: Status,
    /// Reactions: support, unsure, oppose (consultations).
    pub totals: [i64; 3],
    /// Days since the announcement (recoveries).
    pub days_since_announcement: Option<i64>,
    /// Days it took to recover, once recovered.
    pub days_to_recover: Option<u32>,
}

/// The staff overview's proposals: open consultations, and recoveries in
/// progress (announced in the last 60 days and not yet recovered).
pub async fn overview(
    state: &AppState,
) -> Result<(Vec<OverviewChange>, Vec<OverviewChange>), AppError> {
    let now = state.clock.now_ms();
    let mut open = Vec::new();
    for p in state.store.proposals(&[Status::Consulting], 20).await? {
        let f = state.store.consultation(p.id, p.created_at, DAY_MS).await?;
        let mut totals = [0i64; 3];
        for s in &f.stay {
            totals[reaction_index(s.reaction)] += s.count;
        }
        open.push(OverviewChange {
            id: p.id,
            title: p.draft.title,
            status: p.status,
            totals,
            days_since_announcement: None,
            days_to_recover: None,
        });
    }
    let mut recovering = Vec::new();
    for p in state
        .store
        .proposals(&[Status::Shipped, Status::Withdrawn], 50)
        .await?
    {
        let Some(at) = p.announced_at else { continue };
        if now - at > 60 * DAY_MS {
            continue;
        }
        let a = after_change(state, p.id).await?;
        let days_to_recover = a.recovery.as_ref().and_then(|r| r.days_to_recover);
        recovering.push(OverviewChange {
            id: p.id,
            title: p.draft.title,
            status: p.status,
            totals: [0; 3],
            days_since_announcement: Some((now - at) / DAY_MS),
            days_to_recover,
        });
    }
    Ok((open, recovering))
}
