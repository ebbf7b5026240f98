//! The JSON API's form of `marquee_store::support` rows: the same fields and
//! serde attributes, converted with `From`, so the store carries no OpenAPI
//! schema and the wire format is the server's.

use marquee_domain::support::{ConvStatus, Priority};
use marquee_domain::Millis;
use marquee_store::support as store;
use serde::Serialize;
use utoipa::ToSchema;

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Conversation {
    /// Id.
    pub id: i64,
    /// The customer's account.
    pub account_id: Option<i64>,
    /// The customer's e-mail (shown to staff and the customer only).
    pub customer_email: String,
    /// The customer's plan (none for a visitor).
    pub customer_plan: Option<String>,
    /// Where it started: `chat` (signed in), `visitor` (the visitor chat) or
    /// `offline` (the offline form).
    pub channel: String,
    /// The name a visitor gave.
    pub visitor_name: Option<String>,
    /// When the visitor proved the address is theirs.
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

impl From<store::Conversation> for Conversation {
    fn from(v: store::Conversation) -> Self {
        Conversation {
            id: v.id,
            account_id: v.account_id,
            customer_email: v.customer_email,
            customer_plan: v.customer_plan,
            channel: v.channel.as_str().into(),
            visitor_name: v.visitor_name,
            visitor_verified_at: v.visitor_verified_at,
            status: v.status,
            priority: v.priority,
            assignee_id: v.assignee_id,
            assignee_email: v.assignee_email,
            snoozed_until: v.snoozed_until,
            created_at: v.created_at,
            updated_at: v.updated_at,
            last_message_at: v.last_message_at,
            first_reply_at: v.first_reply_at,
            resolved_at: v.resolved_at,
            customer_read_id: v.customer_read_id,
            agent_read_id: v.agent_read_id,
            resolution_seq: v.resolution_seq,
            csat_due: v.csat_due,
            preview: v.preview,
            last_message_id: v.last_message_id,
            last_public_message_id: v.last_public_message_id,
        }
    }
}

/// What the customer was watching when they wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::WatchSnapshot> for WatchSnapshot {
    fn from(v: store::WatchSnapshot) -> Self {
        WatchSnapshot {
            title_id: v.title_id,
            title: v.title,
            device: v.device,
            device_kind: v.device_kind,
            position_ms: v.position_ms,
            duration_ms: v.duration_ms,
            live: v.live,
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthorKind {
    /// The customer.
    Customer,
    /// Staff.
    Agent,
    /// The system (status changes).
    System,
}

impl From<store::AuthorKind> for AuthorKind {
    fn from(v: store::AuthorKind) -> Self {
        match v {
            store::AuthorKind::Customer => AuthorKind::Customer,
            store::AuthorKind::Agent => AuthorKind::Agent,
            store::AuthorKind::System => AuthorKind::System,
        }
    }
}

/// A message.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Message {
    /// Id: increasing within the installation.
    pub id: i64,
    /// Conversation.
    pub conversation_id: i64,
    /// Author account.
    pub author_id: Option<i64>,
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
}

impl From<store::Message> for Message {
    fn from(v: store::Message) -> Self {
        Message {
            id: v.id,
            conversation_id: v.conversation_id,
            author_id: v.author_id,
            author_kind: v.author_kind.into(),
            body: v.body,
            internal: v.internal,
            canned_code: v.canned_code,
            created_at: v.created_at,
        }
    }
}

/// A CSAT answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::CsatAnswer> for CsatAnswer {
    fn from(v: store::CsatAnswer) -> Self {
        CsatAnswer {
            resolution_seq: v.resolution_seq,
            score: v.score,
            comment: v.comment,
            answered_at: v.answered_at,
        }
    }
}

/// A shared-transcript link (the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::ShareInfo> for ShareInfo {
    fn from(v: store::ShareInfo) -> Self {
        ShareInfo {
            id: v.id,
            conversation_id: v.conversation_id,
            created_at: v.created_at,
            revoked_at: v.revoked_at,
            views: v.views,
        }
    }
}

/// One entry of a conversation's event log, for its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::EventRecord> for EventRecord {
    fn from(v: store::EventRecord) -> Self {
        EventRecord {
            at: v.at,
            kind: v.kind,
            actor_email: v.actor_email,
            from_email: v.from_email,
            to_email: v.to_email,
            manual: v.manual,
            status: v.status,
            score: v.score,
        }
    }
}

/// A canned response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::Canned> for Canned {
    fn from(v: store::Canned) -> Self {
        Canned {
            id: v.id,
            shortcode: v.shortcode,
            body: v.body,
            created_at: v.created_at,
        }
    }
}

/// An agent's auto-assignment settings and load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::AgentSettings> for AgentSettings {
    fn from(v: store::AgentSettings) -> Self {
        AgentSettings {
            account_id: v.account_id,
            email: v.email,
            role: v.role,
            capacity: v.capacity,
            available: v.available,
            team: v.team,
            open: v.open,
        }
    }
}

/// A stream error a player reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::StreamError> for StreamError {
    fn from(v: store::StreamError) -> Self {
        StreamError {
            id: v.id,
            title_id: v.title_id,
            title: v.title,
            device: v.device,
            code: v.code,
            message: v.message,
            position_ms: v.position_ms,
            at: v.at,
        }
    }
}

/// A device of the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::ContextDevice> for ContextDevice {
    fn from(v: store::ContextDevice) -> Self {
        ContextDevice {
            name: v.name,
            kind: v.kind,
            profile: v.profile,
            last_seen_at: v.last_seen_at,
        }
    }
}

/// A recent stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::ContextStream> for ContextStream {
    fn from(v: store::ContextStream) -> Self {
        ContextStream {
            title_id: v.title_id,
            title: v.title,
            device: v.device,
            position_ms: v.position_ms,
            duration_ms: v.duration_ms,
            at: v.at,
            live: v.live,
        }
    }
}

/// One of the customer's ideas or votes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::ContextIdea> for ContextIdea {
    fn from(v: store::ContextIdea) -> Self {
        ContextIdea {
            id: v.id,
            title: v.title,
            status: v.status,
            votes: v.votes,
            at: v.at,
        }
    }
}

/// One of the customer's linked social posts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
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

impl From<store::ContextPost> for ContextPost {
    fn from(v: store::ContextPost) -> Self {
        ContextPost {
            id: v.id,
            source: v.source,
            author: v.author,
            text: v.text,
            url: v.url,
            sentiment: v.sentiment,
            score: v.score,
            created_at: v.created_at,
        }
    }
}

/// Everything the agent sees beside a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
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

impl From<store::SupportContext> for SupportContext {
    fn from(v: store::SupportContext) -> Self {
        SupportContext {
            email: v.email,
            plan: v.plan,
            since: v.since,
            devices: v.devices.into_iter().map(Into::into).collect(),
            streams: v.streams.into_iter().map(Into::into).collect(),
            stream_errors: v.stream_errors.into_iter().map(Into::into).collect(),
            ideas: v.ideas.into_iter().map(Into::into).collect(),
            votes: v.votes.into_iter().map(Into::into).collect(),
            posts: v.posts.into_iter().map(Into::into).collect(),
            other_conversations: v.other_conversations,
        }
    }
}

/// A conversation in which the customer mentioned something.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
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

impl From<store::Mention> for Mention {
    fn from(v: store::Mention) -> Self {
        Mention {
            conversation_id: v.conversation_id,
            account_id: v.account_id,
            status: v.status,
            message_id: v.message_id,
            body: v.body,
            at: v.at,
            watching: v.watching,
        }
    }
}
