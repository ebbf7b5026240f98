//! Support chat storage: conversations, messages, the event log, CSAT,
//! shared transcripts, canned responses, SLA policies, agent capacities,
//! stream errors and the customer context panel.
//!
//! Every write is one `BEGIN IMMEDIATE` transaction that also appends to the
//! conversation event log, and every write that can change who has room
//! (a new or reopened conversation, a resolution, a capacity change) runs the
//! auto-assigner (`marquee_domain::support::assign_queue`) inside it.

use crate::Result;
use async_trait::async_trait;
use marquee_domain::support::{ConvInfo, ConvStatus, LogEvent, Priority, SlaPolicy};
use marquee_domain::textmatch::TextMatch;
use marquee_domain::Millis;
use serde::Serialize;

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conversation {
    /// Id.
    pub id: i64,
    /// The customer's account; `None` while a visitor's conversation is not
    /// linked to one.
    pub account_id: Option<i64>,
    /// The customer's e-mail (the account's, or the one the visitor gave);
    /// shown to staff and the customer only.
    pub customer_email: String,
    /// The customer's plan (none for a visitor).
    pub customer_plan: Option<String>,
    /// Where it started.
    pub channel: Channel,
    /// The name a visitor gave, if any.
    pub visitor_name: Option<String>,
    /// When the visitor proved the e-mail is theirs.
    pub visitor_verified_at: Option<Millis>,
    /// Status.
    pub status: ConvStatus,
    /// Priority.
    pub priority: Priority,
    /// The assigned agent.
    pub assignee_id: Option<i64>,
    /// Their e-mail.
    pub assignee_email: Option<String>,
    /// Snoozed until, ms.
    pub snoozed_until: Option<Millis>,
    /// Opened, ms.
    pub created_at: Millis,
    /// Last change, ms.
    pub updated_at: Millis,
    /// Last message, ms.
    pub last_message_at: Millis,
    /// First agent reply, ms.
    pub first_reply_at: Option<Millis>,
    /// Last resolution, ms.
    pub resolved_at: Option<Millis>,
    /// The last message id the customer has seen.
    pub customer_read_id: i64,
    /// The last message id staff have seen.
    pub agent_read_id: i64,
    /// Resolutions so far.
    pub resolution_seq: i64,
    /// Resolved and this resolution's CSAT not answered yet.
    pub csat_due: bool,
    /// The newest public message's text, for lists.
    pub preview: Option<String>,
    /// Id of the newest message (internal notes included).
    pub last_message_id: i64,
    /// Id of the newest public message.
    pub last_public_message_id: i64,
}

/// Where a conversation started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The chat of a signed-in customer.
    Chat,
    /// The visitor chat (pre-chat form, no log-in).
    Visitor,
    /// The offline form, outside business hours.
    Offline,
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Chat => "chat",
            Channel::Visitor => "visitor",
            Channel::Offline => "offline",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "chat" => Some(Channel::Chat),
            "visitor" => Some(Channel::Visitor),
            "offline" => Some(Channel::Offline),
            _ => None,
        }
    }
}

/// A conversation opened without a log-in (visitor chat or offline form).
#[derive(Debug, Clone)]
pub struct NewVisitorConversation<'a> {
    /// The e-mail the visitor gave.
    pub email: &'a str,
    /// The name they gave, if any.
    pub name: Option<&'a str>,
    /// The first message.
    pub body: &'a str,
    /// [`Channel::Visitor`] or [`Channel::Offline`].
    pub channel: Channel,
    /// sha256 of the browser's token.
    pub token_hash: &'a str,
    /// sha256 of the verification link's token.
    pub verify_hash: &'a str,
    /// When that link stops working.
    pub verify_expires: Millis,
}

/// A visitor followed the verification link.
#[derive(Debug, Clone)]
pub struct VisitorVerified {
    /// The conversation, after linking.
    pub conversation: Conversation,
    /// The system message that records it.
    pub message: Message,
    /// The account it is now linked to, where one has that e-mail.
    pub linked_account: Option<i64>,
}

/// What the customer was watching when they wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct WatchSnapshot {
    /// The title.
    pub title_id: i64,
    /// Its name.
    pub title: String,
    /// The device's name.
    pub device: String,
    /// The device's kind.
    pub device_kind: String,
    /// Position, ms.
    pub position_ms: i64,
    /// Duration, ms.
    pub duration_ms: i64,
    /// The stream was live (not stopped) at that moment.
    pub live: bool,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorKind {
    /// The customer.
    Customer,
    /// Staff.
    Agent,
    /// The system (status changes).
    System,
}

impl AuthorKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorKind::Customer => "customer",
            AuthorKind::Agent => "agent",
            AuthorKind::System => "system",
        }
    }
}

/// A message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Id: increasing within the installation.
    pub id: i64,
    /// Conversation.
    pub conversation_id: i64,
    /// Author account.
    pub author_id: Option<i64>,
    /// Author's e-mail (never shown on public transcripts).
    #[serde(skip)]
    pub author_email: Option<String>,
    /// Kind of author.
    pub author_kind: AuthorKind,
    /// The text as typed (escape when rendering).
    pub body: String,
    /// Internal note (staff only).
    pub internal: bool,
    /// The canned response it came from.
    pub canned_code: Option<String>,
    /// Written, ms.
    pub created_at: Millis,
    /// The customer's playback when they wrote (staff only).
    #[serde(skip)]
    pub watch: Option<WatchSnapshot>,
}

/// A CSAT answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CsatAnswer {
    /// Which resolution it rates (1 = the first).
    pub resolution_seq: i64,
    /// 1 to 5.
    pub score: u8,
    /// The customer's comment.
    pub comment: String,
    /// Answered, ms.
    pub answered_at: Millis,
}

/// A shared-transcript link (the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ShareInfo {
    /// Id.
    pub id: i64,
    /// The conversation.
    pub conversation_id: i64,
    /// Created, ms.
    pub created_at: Millis,
    /// Revoked, ms.
    pub revoked_at: Option<Millis>,
    /// Views so far.
    pub views: i64,
}

/// One entry of a conversation's event log, for its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct EventRecord {
    /// When, ms.
    pub at: Millis,
    /// `created`, `customer_message`, `agent_message`, `note`, `assigned`,
    /// `status`, `csat`, `shared`, `share_revoked`, `share_viewed`.
    pub kind: String,
    /// Who did it (none for the auto-assigner and anonymous views).
    pub actor_email: Option<String>,
    /// assigned: from.
    pub from_email: Option<String>,
    /// assigned: to.
    pub to_email: Option<String>,
    /// assigned by a person (a reassignment).
    pub manual: bool,
    /// status: the new status.
    pub status: Option<String>,
    /// csat: the score.
    pub score: Option<i64>,
}

/// A canned response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Canned {
    /// Id.
    pub id: i64,
    /// Short code without the slash, e.g. `refund`.
    pub shortcode: String,
    /// The text it expands to.
    pub body: String,
    /// Created, ms.
    pub created_at: Millis,
}

/// An agent's auto-assignment settings and load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentSettings {
    /// The account.
    pub account_id: i64,
    /// E-mail.
    pub email: String,
    /// Role (agent or admin).
    pub role: String,
    /// Most unresolved conversations at once.
    pub capacity: u32,
    /// Takes part in auto-assignment.
    pub available: bool,
    /// Team name.
    pub team: String,
    /// Unresolved conversations assigned now.
    pub open: u32,
}

/// A stream error a player reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StreamError {
    /// Id.
    pub id: i64,
    /// The title.
    pub title_id: Option<i64>,
    /// Its name.
    pub title: Option<String>,
    /// The device's name.
    pub device: Option<String>,
    /// A short machine code, e.g. `MEDIA_ERR_NETWORK`.
    pub code: String,
    /// Details.
    pub message: String,
    /// Position, ms.
    pub position_ms: Option<i64>,
    /// When, ms.
    pub at: Millis,
}

/// A stream error to record.
#[derive(Debug, Clone)]
pub struct NewStreamError {
    /// The account.
    pub account_id: i64,
    /// The profile.
    pub profile_id: Option<i64>,
    /// The device (must belong to the profile).
    pub device_id: Option<i64>,
    /// The title.
    pub title_id: Option<i64>,
    /// Code.
    pub code: String,
    /// Message.
    pub message: String,
    /// Position, ms.
    pub position_ms: Option<i64>,
    /// When, ms.
    pub at: Millis,
}

/// A device of the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ContextDevice {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// The profile it belongs to.
    pub profile: String,
    /// Last seen, ms.
    pub last_seen_at: Millis,
}

/// A recent stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ContextStream {
    /// Title id.
    pub title_id: i64,
    /// Title.
    pub title: String,
    /// Device.
    pub device: String,
    /// Position, ms.
    pub position_ms: i64,
    /// Duration, ms.
    pub duration_ms: i64,
    /// Last report, ms.
    pub at: Millis,
    /// Still playing.
    pub live: bool,
}

/// One of the customer's ideas or votes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ContextIdea {
    /// Idea id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Status.
    pub status: String,
    /// Votes.
    pub votes: i64,
    /// Posted or voted, ms.
    pub at: Millis,
}

/// One of the customer's linked social posts.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ContextPost {
    /// Post id.
    pub id: i64,
    /// Source.
    pub source: String,
    /// Author handle.
    pub author: String,
    /// Text.
    pub text: String,
    /// Link.
    pub url: Option<String>,
    /// negative, neutral or positive.
    pub sentiment: String,
    /// p(positive) − p(negative).
    pub score: f64,
    /// Posted, ms.
    pub created_at: Millis,
}

/// Everything the agent sees beside a conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SupportContext {
    /// The customer's e-mail.
    pub email: String,
    /// Plan.
    pub plan: String,
    /// Customer since, ms.
    pub since: Millis,
    /// Devices, most recently seen first.
    pub devices: Vec<ContextDevice>,
    /// Recent streams, newest first.
    pub streams: Vec<ContextStream>,
    /// Recent stream errors, newest first.
    pub stream_errors: Vec<StreamError>,
    /// Their recent ideas.
    pub ideas: Vec<ContextIdea>,
    /// Their recent votes.
    pub votes: Vec<ContextIdea>,
    /// Their linked social posts with sentiment.
    pub posts: Vec<ContextPost>,
    /// Their other conversations, newest first.
    pub other_conversations: Vec<i64>,
}

/// Which conversations an inbox lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssigneeFilter {
    /// Everyone's.
    #[default]
    Any,
    /// One agent's.
    Agent(i64),
    /// The unassigned queue.
    Unassigned,
}

/// An inbox listing.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    /// Only this status (`None`: everything but resolved).
    pub status: Option<ConvStatus>,
    /// Whose.
    pub assignee: AssigneeFilter,
    /// Page size.
    pub limit: u32,
    /// Only conversations whose customer (e-mail or name) or any message
    /// contains this text, case-insensitively.
    pub search: Option<String>,
}

/// The result of a write: the conversation after it, the message written
/// (if any), and the conversations the auto-assigner placed meanwhile.
#[derive(Debug, Clone)]
pub struct SupportWrite {
    /// The conversation after the write.
    pub conversation: Conversation,
    /// The message written.
    pub message: Option<Message>,
    /// (conversation, agent) pairs assigned by the auto-assigner.
    pub assigned: Vec<(i64, i64)>,
}

/// Storage of the support chat.
#[async_trait]
pub trait SupportStore: Send + Sync {
    /// Opens a conversation with its first message, stamped with what the
    /// customer is watching, and auto-assigns it.
    async fn create_conversation(
        &self,
        account_id: i64,
        body: &str,
        priority: Priority,
        default_capacity: u32,
        now: Millis,
    ) -> Result<SupportWrite>;
    /// Opens a visitor's conversation (no account yet) with its first
    /// message, and auto-assigns it.
    async fn create_visitor_conversation(
        &self,
        v: &NewVisitorConversation<'_>,
        default_capacity: u32,
        now: Millis,
    ) -> Result<SupportWrite>;
    /// The conversation a visitor's browser token opens.
    async fn visitor_conversation(&self, token_hash: &str) -> Result<Option<Conversation>>;
    /// Spends a visitor's verification link (single use, before it expires):
    /// marks the e-mail verified and links every verified conversation of
    /// that e-mail to the account that has it, if any. `None` when the link
    /// is unknown, used or expired.
    /// The browser that followed the link gets a fresh token (`new_token_hash`).
    async fn verify_visitor(
        &self,
        verify_hash: &str,
        new_token_hash: &str,
        now: Millis,
    ) -> Result<Option<VisitorVerified>>;
    /// Links the verified visitor conversations of `email` to the account
    /// (called when the account proves the address); returns how many.
    async fn link_visitor_conversations(
        &self,
        account_id: i64,
        email: &str,
        now: Millis,
    ) -> Result<u64>;
    /// One conversation.
    async fn conversation(&self, id: i64) -> Result<Option<Conversation>>;
    /// Several, by id (missing ones are left out).
    async fn conversations_by_ids(&self, ids: &[i64]) -> Result<Vec<Conversation>>;
    /// A customer's conversations, newest first.
    async fn conversations_of(&self, account_id: i64, limit: u32) -> Result<Vec<Conversation>>;
    /// The staff inbox, newest activity first.
    async fn inbox(&self, q: &InboxQuery) -> Result<Vec<Conversation>>;
    /// Messages after `after_id`, oldest first; internal notes only when asked.
    async fn messages(
        &self,
        conversation_id: i64,
        include_internal: bool,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// A customer message: reopens a pending, snoozed or resolved
    /// conversation, stamps the playback state, auto-assigns. With an
    /// account the conversation must be that account's; `None` is the
    /// visitor whose browser token the caller resolved to this conversation.
    async fn add_customer_message(
        &self,
        conversation_id: i64,
        account_id: Option<i64>,
        body: &str,
        default_capacity: u32,
        now: Millis,
    ) -> Result<SupportWrite>;
    /// A staff reply or internal note. An unassigned conversation is taken by
    /// the agent who replies.
    async fn add_agent_message(
        &self,
        conversation_id: i64,
        agent_id: i64,
        body: &str,
        internal: bool,
        canned_code: Option<&str>,
        now: Millis,
    ) -> Result<SupportWrite>;
    /// Changes the status (snoozing needs `snoozed_until`). Resolving bumps
    /// the resolution count, which asks the customer for CSAT again.
    async fn set_status(
        &self,
        conversation_id: i64,
        actor_id: i64,
        status: ConvStatus,
        snoozed_until: Option<Millis>,
        default_capacity: u32,
        now: Millis,
    ) -> Result<SupportWrite>;
    /// A conversation's event log, oldest first (the history of
    /// assignments, status changes, CSAT and shares).
    async fn conversation_events(&self, conversation_id: i64) -> Result<Vec<EventRecord>>;
    /// Reopens snoozed conversations whose time has come; returns their ids.
    async fn wake_snoozed(&self, now: Millis) -> Result<Vec<i64>>;
    /// Changes the priority.
    async fn set_priority(
        &self,
        conversation_id: i64,
        priority: Priority,
        now: Millis,
    ) -> Result<Conversation>;
    /// Reassigns by hand (logged); `None` puts it back in the queue.
    async fn reassign(
        &self,
        conversation_id: i64,
        actor_id: i64,
        to: Option<i64>,
        default_capacity: u32,
        now: Millis,
    ) -> Result<SupportWrite>;
    /// Records that one side has read up to a message.
    async fn mark_read(
        &self,
        conversation_id: i64,
        customer_side: bool,
        message_id: i64,
    ) -> Result<Conversation>;
    /// Answers CSAT for the current resolution; `Conflict` when not resolved
    /// or already answered.
    async fn answer_csat(
        &self,
        conversation_id: i64,
        score: u8,
        comment: &str,
        now: Millis,
    ) -> Result<CsatAnswer>;
    /// The CSAT answers of a conversation.
    async fn csat_answers(&self, conversation_id: i64) -> Result<Vec<CsatAnswer>>;
    /// Creates a share link (revoking any earlier one).
    async fn create_share(
        &self,
        conversation_id: i64,
        token_hash: &str,
        now: Millis,
    ) -> Result<ShareInfo>;
    /// Revokes the live share link; false when there was none.
    async fn revoke_share(&self, conversation_id: i64, actor_id: i64, now: Millis) -> Result<bool>;
    /// The live share link of a conversation.
    async fn active_share(&self, conversation_id: i64) -> Result<Option<ShareInfo>>;
    /// Resolves a live share link by token hash and counts the view. Unknown
    /// and revoked links take the same path and both give `None`.
    async fn open_share(&self, token_hash: &str, now: Millis) -> Result<Option<ShareInfo>>;
    /// Canned responses by short code.
    async fn canned(&self) -> Result<Vec<Canned>>;
    /// One canned response.
    async fn canned_by_code(&self, shortcode: &str) -> Result<Option<Canned>>;
    /// Adds a canned response (`Conflict` on a taken code).
    async fn create_canned(
        &self,
        shortcode: &str,
        body: &str,
        created_by: i64,
        now: Millis,
    ) -> Result<Canned>;
    /// Deletes a canned response.
    async fn delete_canned(&self, id: i64) -> Result<()>;
    /// The SLA policies.
    async fn sla_policies(&self) -> Result<Vec<SlaPolicy>>;
    /// Sets one priority's SLA targets.
    async fn set_sla_policy(&self, policy: &SlaPolicy) -> Result<()>;
    /// Every staff account with its auto-assignment settings and load.
    async fn support_agents(&self, default_capacity: u32) -> Result<Vec<AgentSettings>>;
    /// Changes an agent's settings and runs the auto-assigner.
    async fn set_agent_settings(
        &self,
        account_id: i64,
        capacity: u32,
        available: bool,
        team: &str,
        default_capacity: u32,
        now: Millis,
    ) -> Result<(AgentSettings, Vec<(i64, i64)>)>;
    /// Records a stream error.
    async fn record_stream_error(&self, e: &NewStreamError) -> Result<StreamError>;
    /// The context panel for a customer.
    async fn support_context(&self, account_id: i64) -> Result<Option<SupportContext>>;
    /// Conversations opened in `[from, to)` and their whole event logs.
    async fn support_log(&self, from: Millis, to: Millis)
        -> Result<(Vec<ConvInfo>, Vec<LogEvent>)>;
    /// Team of each staff account that has settings.
    async fn agent_teams(&self) -> Result<Vec<(i64, String)>>;
    /// Conversations in which the *customer* wrote a message matching `m` in `[from, to)`,
    /// newest mention first: the count of such conversations and up to `limit` of them,
    /// each with its latest matching message.
    async fn conversations_mentioning(
        &self,
        m: &TextMatch,
        from: Millis,
        to: Millis,
        limit: u32,
    ) -> Result<(i64, Vec<Mention>)>;
    /// The inbox load: conversations waiting for staff, and unresolved
    /// ones nobody is assigned to.
    async fn support_load(&self) -> Result<SupportLoad>;
}

/// A conversation in which the customer mentioned something.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mention {
    /// The conversation.
    pub conversation_id: i64,
    /// Its customer.
    pub account_id: Option<i64>,
    /// Its state.
    pub status: ConvStatus,
    /// The latest matching customer message.
    pub message_id: i64,
    /// Its text (escape when rendering).
    pub body: String,
    /// When it was written.
    pub at: Millis,
    /// What the customer was watching then, if anything.
    pub watching: Option<String>,
}

/// The inbox load right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SupportLoad {
    /// Conversations waiting for staff (status open).
    pub open: i64,
    /// Unresolved conversations with no assignee.
    pub unassigned: i64,
}
