//! Support chat: the rules shared by the API and the pages, the live hub that
//! pushes messages, typing and read state to customers and the agent inbox
//! (Server-Sent Events), and the metrics report.
//!
//! - Conversations belong to the customer's account, so they follow the
//!   customer across reloads and devices.
//! - Every write goes through the store in one transaction (which also runs
//!   the auto-assigner) and is then published on the hub: customers get
//!   their own conversations' public events, staff get everything.
//! - Clients resynchronise from the API by message id after a reconnect or a
//!   `resync` event, and drop ids they have seen: nothing is lost or doubled.

pub mod attachments;
pub mod visitor;

use crate::auth::{self, CurrentUser};
use crate::error::AppError;
use crate::events::{Feed, SupportEvent};
use crate::format::fmt_time;
use crate::AppState;
use marquee_domain::hours::BusinessHours;
use marquee_domain::support::{
    self as rules, aggregate, conversation_metrics, utc_day, Aggregate, ConvMetrics, ConvStatus,
    Priority, SlaPolicy,
};
use marquee_domain::{Millis, Role};
use marquee_store::support::{AssigneeFilter, Conversation, Message, SupportWrite};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};
use utoipa::ToSchema;

/// `[support]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SupportConfig {
    /// Unresolved conversations an agent takes at once unless set per agent.
    pub default_capacity: u32,
    /// Conversations one customer may open per hour.
    pub conversations_per_hour: u32,
    /// Messages one customer may send per minute.
    pub messages_per_minute: u32,
    /// When the team answers live (`always`, or e.g.
    /// `mon-fri 09:00-18:00; sat 10:00-14:00`; see `marquee_domain::hours`).
    /// Outside them the help page offers the offline form.
    pub hours: String,
    /// The IANA time zone the hours are in (`Europe/London`).
    pub timezone: String,
    /// Visitor conversations (no log-in) one IP address may open per hour.
    pub visitor_conversations_per_hour: u32,
    /// Largest attachment, in bytes (413 above it).
    pub attachment_max_bytes: u64,
    /// Most attachments one conversation holds.
    pub attachments_per_conversation: u32,
}

impl Default for SupportConfig {
    fn default() -> Self {
        SupportConfig {
            default_capacity: 5,
            conversations_per_hour: 10,
            messages_per_minute: 30,
            hours: "always".into(),
            timezone: "UTC".into(),
            visitor_conversations_per_hour: 5,
            attachment_max_bytes: attachments::DEFAULT_MAX_BYTES,
            attachments_per_conversation: attachments::DEFAULT_PER_CONVERSATION,
        }
    }
}

impl SupportConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), String> {
        if self.default_capacity > 1000 {
            return Err("support.default_capacity must be at most 1000".into());
        }
        BusinessHours::parse(&self.hours).map_err(|e| e.to_string())?;
        jiff::tz::TimeZone::get(&self.timezone).map_err(|_| {
            format!(
                "support.timezone: {:?} is not an IANA time zone (e.g. Europe/London)",
                self.timezone
            )
        })?;
        if self.conversations_per_hour == 0
            || self.messages_per_minute == 0
            || self.visitor_conversations_per_hour == 0
        {
            return Err(
                "support.conversations_per_hour, support.messages_per_minute and \
                 support.visitor_conversations_per_hour must be positive"
                    .into(),
            );
        }
        if self.attachment_max_bytes == 0 || self.attachment_max_bytes > 1024 * 1024 * 1024 {
            return Err("support.attachment_max_bytes must be between 1 and 1073741824".into());
        }
        if self.attachments_per_conversation == 0 {
            return Err("support.attachments_per_conversation must be positive".into());
        }
        Ok(())
    }
}

/// One live event.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// Increasing per process.
    pub seq: u64,
    /// The conversation.
    pub conversation_id: i64,
    /// The customer who owns it (`None`: a visitor's, for staff only).
    pub customer_id: Option<i64>,
    /// `message`, `conversation` or `typing`.
    pub kind: &'static str,
    /// What the customer sees (`None`: staff only, e.g. an internal note).
    pub customer_data: Option<Arc<String>>,
    /// What staff see.
    pub staff_data: Arc<String>,
}

/// Fans live events out to the customers' devices and the staff inbox.
#[derive(Debug)]
pub struct SupportHub {
    customers: Mutex<HashMap<i64, broadcast::Sender<Arc<LiveEvent>>>>,
    staff: broadcast::Sender<Arc<LiveEvent>>,
    closed: watch::Sender<bool>,
    seq: AtomicU64,
    /// Per-account message timestamps for the rate limit.
    recent: Mutex<HashMap<i64, Vec<Millis>>>,
    /// Support writes queue here rather than in SQLite's busy handler, whose
    /// sleeps (up to 100 ms) would dominate delivery latency under load.
    writes: tokio::sync::Mutex<()>,
    /// When the last SLA-breach sweep ran (clock ms; 0: never).
    sla_swept_at: AtomicI64,
}

impl Default for SupportHub {
    fn default() -> Self {
        let (staff, _) = broadcast::channel(8192);
        let (closed, _) = watch::channel(false);
        SupportHub {
            customers: Mutex::new(HashMap::new()),
            staff,
            closed,
            seq: AtomicU64::new(1),
            recent: Mutex::new(HashMap::new()),
            writes: tokio::sync::Mutex::new(()),
            sla_swept_at: AtomicI64::new(0),
        }
    }
}

/// One subscriber's live events.
#[derive(Debug)]
pub struct LiveSubscription {
    rx: broadcast::Receiver<Arc<LiveEvent>>,
    closed: watch::Receiver<bool>,
    hub: Arc<SupportHub>,
    customer: Option<i64>,
}

/// What a subscriber receives next.
#[derive(Debug)]
pub enum Next {
    /// An event.
    Event(Arc<LiveEvent>),
    /// Events were dropped (a slow reader): refetch from the API.
    Resync,
}

impl LiveSubscription {
    /// The next event; `None` when the hub closed.
    pub async fn next(&mut self) -> Option<Next> {
        loop {
            if *self.closed.borrow() {
                return None;
            }
            tokio::select! {
                r = self.rx.recv() => return match r {
                    Ok(e) => Some(Next::Event(e)),
                    Err(broadcast::error::RecvError::Lagged(_)) => Some(Next::Resync),
                    Err(broadcast::error::RecvError::Closed) => None,
                },
                changed = self.closed.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// Whether this is a staff subscription.
    pub fn is_staff(&self) -> bool {
        self.customer.is_none()
    }
}

impl Drop for LiveSubscription {
    fn drop(&mut self) {
        if let Some(id) = self.customer {
            if let Ok(mut map) = self.hub.customers.lock() {
                // This receiver is still alive here: 1 means it was the last.
                if map.get(&id).is_some_and(|tx| tx.receiver_count() <= 1) {
                    map.remove(&id);
                }
            }
        }
    }
}

impl SupportHub {
    /// Subscribes to one customer's conversations.
    pub fn subscribe_customer(self: &Arc<Self>, account_id: i64) -> LiveSubscription {
        let rx = match self.customers.lock() {
            Ok(mut map) => map
                .entry(account_id)
                .or_insert_with(|| broadcast::channel(1024).0)
                .subscribe(),
            // A poisoned map still gives a working (if silent) stream.
            Err(_) => broadcast::channel(1).0.subscribe(),
        };
        LiveSubscription {
            rx,
            closed: self.closed.subscribe(),
            hub: self.clone(),
            customer: Some(account_id),
        }
    }

    /// Subscribes to everything (the staff inbox).
    pub fn subscribe_staff(self: &Arc<Self>) -> LiveSubscription {
        LiveSubscription {
            rx: self.staff.subscribe(),
            closed: self.closed.subscribe(),
            hub: self.clone(),
            customer: None,
        }
    }

    fn publish(
        &self,
        conversation_id: i64,
        customer_id: Option<i64>,
        kind: &'static str,
        customer_data: Option<String>,
        staff_data: String,
    ) {
        let ev = Arc::new(LiveEvent {
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            conversation_id,
            customer_id,
            kind,
            customer_data: customer_data.map(Arc::new),
            staff_data: Arc::new(staff_data),
        });
        if let (Some(customer_id), true) = (customer_id, ev.customer_data.is_some()) {
            if let Ok(map) = self.customers.lock() {
                if let Some(tx) = map.get(&customer_id) {
                    let _ = tx.send(ev.clone());
                }
            }
        }
        let _ = self.staff.send(ev);
    }

    /// Ends every subscription (at shutdown).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Counts a customer message; false when over `per_minute` in the last minute.
    fn allow_message(&self, account_id: i64, now: Millis, per_minute: u32) -> bool {
        let Ok(mut map) = self.recent.lock() else {
            return true;
        };
        if map.len() > 100_000 {
            map.clear();
        }
        let q = map.entry(account_id).or_default();
        q.retain(|t| *t > now - 60_000);
        if q.len() >= per_minute as usize {
            return false;
        }
        q.push(now);
        true
    }
}

/// A message as its readers see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    /// Id.
    pub id: i64,
    /// Conversation.
    pub conversation_id: i64,
    /// `customer`, `agent` or `system`.
    pub author_kind: String,
    /// A first name ("Jane", "Sam from Support").
    pub author_name: String,
    /// The text as typed: clients must escape it.
    pub body: String,
    /// An internal note (staff only).
    pub internal: bool,
    /// The canned response it came from.
    pub canned_code: Option<String>,
    /// Written, ms.
    pub created_at: Millis,
    /// What the customer was watching when they wrote (staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<crate::wire::support::WatchSnapshot>,
    /// Files sent with the message (images, PDFs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<attachments::AttachmentView>,
}

/// The display name of a message's author: first names only.
pub fn author_name(m: &Message) -> String {
    match m.author_kind {
        marquee_store::support::AuthorKind::Customer => {
            rules::first_name(m.author_email.as_deref().unwrap_or(""))
        }
        marquee_store::support::AuthorKind::Agent => format!(
            "{} from Support",
            rules::first_name(m.author_email.as_deref().unwrap_or(""))
        ),
        marquee_store::support::AuthorKind::System => "Marquee".into(),
    }
}

/// The view of a message; `staff` adds the playback snapshot.
pub fn message_view(m: &Message, staff: bool) -> MessageView {
    MessageView {
        id: m.id,
        conversation_id: m.conversation_id,
        author_kind: m.author_kind.as_str().into(),
        author_name: author_name(m),
        body: m.body.clone(),
        internal: m.internal,
        canned_code: m.canned_code.clone(),
        created_at: m.created_at,
        watch: if staff {
            m.watch.clone().map(Into::into)
        } else {
            None
        },
        attachments: Vec::new(),
    }
}

/// The view of the message a write produced; a write that was meant to add
/// a message but returned none is an internal error.
pub fn written_view(w: &SupportWrite, staff: bool) -> Result<MessageView, AppError> {
    w.message
        .as_ref()
        .map(|m| message_view(m, staff))
        .ok_or_else(|| AppError::Internal("message write returned no message".into()))
}

/// A conversation as its customer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerConversation {
    /// Id.
    pub id: i64,
    /// Status.
    pub status: ConvStatus,
    /// The assigned agent's first name.
    pub agent_name: Option<String>,
    /// Opened, ms.
    pub created_at: Millis,
    /// Last message, ms.
    pub last_message_at: Millis,
    /// Staff have read up to this message id.
    pub agent_read_id: i64,
    /// You have read up to this message id.
    pub customer_read_id: i64,
    /// Resolved and waiting for your 1–5 rating.
    pub csat_due: bool,
    /// The newest public message.
    pub preview: Option<String>,
}

/// The customer's view of a conversation.
pub fn customer_view(c: &Conversation) -> CustomerConversation {
    CustomerConversation {
        id: c.id,
        status: c.status,
        agent_name: c.assignee_email.as_deref().map(rules::first_name),
        created_at: c.created_at,
        last_message_at: c.last_message_at,
        agent_read_id: c.agent_read_id,
        customer_read_id: c.customer_read_id,
        csat_due: c.csat_due,
        preview: c.preview.as_deref().map(|p| preview(p, 120)),
    }
}

/// Who the customer is, for staff lists: the account's address, or the
/// visitor's with where they wrote from and whether the address is proven.
pub fn customer_label(c: &Conversation) -> String {
    if c.account_id.is_some() {
        return c.customer_email.clone();
    }
    let via = match c.channel {
        marquee_store::support::Channel::Offline => "offline form",
        _ => "visitor chat",
    };
    let proven = if c.visitor_verified_at.is_some() {
        "address confirmed, no account"
    } else {
        "address not confirmed"
    };
    format!("{} ({via}, {proven})", c.customer_email)
}

/// The first `n` characters of a text, with an ellipsis when cut.
pub fn preview(text: &str, n: usize) -> String {
    let mut out: String = text.chars().take(n).collect();
    if text.chars().count() > n {
        out.push('…');
    }
    out
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// Publishes an event to this process's subscribers and the other processes'.
fn publish(
    state: &AppState,
    c: &Conversation,
    kind: &'static str,
    customer_data: Option<String>,
    staff_data: String,
) {
    state.fanout.forward(|| {
        Feed::Support(SupportEvent {
            conversation_id: c.id,
            customer_id: c.account_id,
            kind: kind.into(),
            customer_data: customer_data.clone(),
            staff_data: staff_data.clone(),
        })
    });
    state
        .support
        .publish(c.id, c.account_id, kind, customer_data, staff_data);
}

/// Delivers an event another process published to this process's subscribers.
pub fn deliver_remote(state: &AppState, e: SupportEvent) {
    let kind = match e.kind.as_str() {
        "message" => "message",
        "conversation" => "conversation",
        "typing" => "typing",
        "resync" => "resync",
        _ => return,
    };
    state.support.publish(
        e.conversation_id,
        e.customer_id,
        kind,
        e.customer_data,
        e.staff_data,
    );
}

/// Publishes a message.
pub fn publish_message(state: &AppState, c: &Conversation, m: &Message) {
    let customer = (!m.internal).then(|| json(&message_view(m, false)));
    publish(state, c, "message", customer, json(&message_view(m, true)));
}

/// Publishes a conversation's new state.
pub fn publish_conversation(state: &AppState, c: &Conversation) {
    publish(
        state,
        c,
        "conversation",
        Some(json(&customer_view(c))),
        json(c),
    );
}

/// Publishes everything a write changed, including the auto-assigner's moves.
pub async fn publish_write(state: &AppState, w: &SupportWrite) {
    if let Some(m) = &w.message {
        publish_message(state, &w.conversation, m);
    }
    publish_conversation(state, &w.conversation);
    for (conv, _) in &w.assigned {
        if *conv == w.conversation.id {
            continue;
        }
        if let Ok(Some(c)) = state.store.conversation(*conv).await {
            publish_conversation(state, &c);
        }
    }
}

/// Who is typing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Typing {
    /// The conversation.
    pub conversation_id: i64,
    /// `customer` or `agent`.
    pub side: String,
    /// First name.
    pub name: String,
    /// Typing now (false: stopped).
    pub typing: bool,
}

/// Publishes a typing indicator (not stored).
pub fn publish_typing(state: &AppState, c: &Conversation, user: &CurrentUser, typing: bool) {
    let staff = c.account_id != Some(user.account.id);
    let t = Typing {
        conversation_id: c.id,
        side: if staff { "agent" } else { "customer" }.into(),
        name: rules::first_name(&user.account.email),
        typing,
    };
    let body = json(&t);
    // Customers see staff typing; staff see everyone.
    let customer = staff.then(|| body.clone());
    publish(state, c, "typing", customer, body);
}

/// A conversation the user may read: their own, or any for staff. Others
/// get 403 (and a missing one 404).
pub async fn readable(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<Conversation, AppError> {
    let c = state
        .store
        .conversation(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("conversation {id} not found")))?;
    if c.account_id != Some(user.account.id) && !user.account.role.is_staff() {
        return Err(AppError::Forbidden(
            "this conversation belongs to another customer".into(),
        ));
    }
    Ok(c)
}

/// A conversation the user owns (customer-side actions: CSAT, sharing).
pub async fn owned(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<Conversation, AppError> {
    let c = readable(state, user, id).await?;
    if c.account_id != Some(user.account.id) {
        return Err(AppError::Forbidden(
            "only the customer who opened it can do this".into(),
        ));
    }
    Ok(c)
}

/// Opens a conversation with its first message.
pub async fn start(
    state: &AppState,
    user: &CurrentUser,
    body: &str,
    priority: Option<Priority>,
) -> Result<SupportWrite, AppError> {
    let body = rules::message_body(body)?;
    let now = state.clock.now_ms();
    let cfg = &state.config.support;
    let recent = state
        .store
        .conversations_of(user.account.id, cfg.conversations_per_hour)
        .await?;
    if recent.len() as u32 >= cfg.conversations_per_hour
        && recent.iter().all(|c| c.created_at > now - 3_600_000)
    {
        return Err(AppError::TooManyRequests { retry_after_s: 600 });
    }
    if !state
        .support
        .allow_message(user.account.id, now, cfg.messages_per_minute)
    {
        return Err(AppError::TooManyRequests { retry_after_s: 60 });
    }
    let w = {
        let _w = state.support.writes.lock().await;
        state
            .store
            .create_conversation(
                user.account.id,
                &body,
                priority.unwrap_or(Priority::Normal),
                cfg.default_capacity,
                now,
            )
            .await?
    };
    publish_write(state, &w).await;
    Ok(w)
}

/// A customer's message.
pub async fn customer_message(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    body: &str,
) -> Result<SupportWrite, AppError> {
    let c = owned(state, user, id).await?;
    let body = rules::message_body(body)?;
    let now = state.clock.now_ms();
    if !state.support.allow_message(
        user.account.id,
        now,
        state.config.support.messages_per_minute,
    ) {
        return Err(AppError::TooManyRequests { retry_after_s: 60 });
    }
    let w = {
        let _w = state.support.writes.lock().await;
        state
            .store
            .add_customer_message(
                c.id,
                Some(user.account.id),
                &body,
                state.config.support.default_capacity,
                now,
            )
            .await?
    };
    publish_write(state, &w).await;
    Ok(w)
}

/// A staff reply or internal note. A reply that is a lone short code
/// (`/refund`) is replaced by that canned response.
pub async fn agent_message(
    state: &AppState,
    agent: &CurrentUser,
    id: i64,
    body: &str,
    internal: bool,
    headers: &axum::http::HeaderMap,
) -> Result<SupportWrite, AppError> {
    let c = readable(state, agent, id).await?;
    let body = rules::message_body(body)?;
    let (text, code) = match rules::reply_shortcode(&body) {
        Some(code) => {
            let code = code.to_ascii_lowercase();
            let canned =
                state.store.canned_by_code(&code).await?.ok_or_else(|| {
                    AppError::invalid("body", format!("no canned response /{code}"))
                })?;
            (canned.body, Some(code))
        }
        None => (body, None),
    };
    let w = {
        let _w = state.support.writes.lock().await;
        state
            .store
            .add_agent_message(
                c.id,
                agent.account.id,
                &text,
                internal,
                code.as_deref(),
                state.clock.now_ms(),
            )
            .await?
    };
    publish_write(state, &w).await;
    if let Some(m) = &w.message {
        visitor::mail_reply(
            state,
            &w.conversation,
            m,
            &crate::service::public_origin(state, headers),
        );
    }
    Ok(w)
}

/// Changes the status; snoozing needs a future `snoozed_until`.
pub async fn change_status(
    state: &AppState,
    agent: &CurrentUser,
    id: i64,
    status: ConvStatus,
    snoozed_until: Option<Millis>,
) -> Result<SupportWrite, AppError> {
    let now = state.clock.now_ms();
    if status == ConvStatus::Snoozed && snoozed_until.is_none_or(|t| t <= now) {
        return Err(AppError::invalid(
            "snoozed_until",
            "snoozing needs a time in the future (ms since the epoch)",
        ));
    }
    let w = {
        let _w = state.support.writes.lock().await;
        state
            .store
            .set_status(
                id,
                agent.account.id,
                status,
                snoozed_until,
                state.config.support.default_capacity,
                now,
            )
            .await?
    };
    publish_write(state, &w).await;
    Ok(w)
}

/// Reopens snoozed conversations whose time has come (run when the inbox
/// is read, so no timer is needed) and tells the inbox.
pub async fn wake_snoozed(state: &AppState) -> Result<(), AppError> {
    let ids = {
        let _w = state.support.writes.lock().await;
        state.store.wake_snoozed(state.clock.now_ms()).await?
    };
    for id in ids {
        if let Some(c) = state.store.conversation(id).await? {
            publish_conversation(state, &c);
        }
    }
    Ok(())
}

/// Reassigns by hand (logged).
pub async fn reassign(
    state: &AppState,
    agent: &CurrentUser,
    id: i64,
    to: Option<i64>,
) -> Result<SupportWrite, AppError> {
    let w = {
        let _w = state.support.writes.lock().await;
        state
            .store
            .reassign(
                id,
                agent.account.id,
                to,
                state.config.support.default_capacity,
                state.clock.now_ms(),
            )
            .await?
    };
    publish_write(state, &w).await;
    Ok(w)
}

/// Marks read up to a message for the user's side.
pub async fn mark_read(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    message_id: i64,
) -> Result<Conversation, AppError> {
    let c = readable(state, user, id).await?;
    let customer_side = c.account_id == Some(user.account.id);
    let c = {
        let _w = state.support.writes.lock().await;
        state
            .store
            .mark_read(c.id, customer_side, message_id)
            .await?
    };
    publish_conversation(state, &c);
    Ok(c)
}

/// Answers CSAT for the current resolution.
pub async fn answer_csat(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    score: u8,
    comment: &str,
) -> Result<marquee_store::support::CsatAnswer, AppError> {
    let c = owned(state, user, id).await?;
    if !(1..=5).contains(&score) {
        return Err(AppError::invalid("score", "must be 1 to 5"));
    }
    let comment = comment.trim();
    if comment.chars().count() > rules::MAX_CSAT_COMMENT_CHARS {
        return Err(AppError::invalid(
            "comment",
            format!(
                "must be at most {} characters",
                rules::MAX_CSAT_COMMENT_CHARS
            ),
        ));
    }
    let a = state
        .store
        .answer_csat(c.id, score, comment, state.clock.now_ms())
        .await?;
    // A low score earns the customer a recovery perk, once per resolution.
    if let Some(account_id) = c.account_id {
        if let Err(e) = crate::perks::support_signal(
            state,
            account_id,
            &recovery_key(c.id, a.resolution_seq),
            crate::perks::SupportSignal::Csat(i64::from(score)),
            a.answered_at,
        )
        .await
        {
            tracing::warn!(error = %e, conversation = c.id, "support recovery signal failed");
        }
    }
    if let Some(c) = state.store.conversation(c.id).await? {
        publish_conversation(state, &c);
    }
    Ok(a)
}

/// A new share link: the token is returned once, only its hash is stored.
pub async fn share(state: &AppState, user: &CurrentUser, id: i64) -> Result<String, AppError> {
    let c = owned(state, user, id).await?;
    let token = auth::random_token();
    state
        .store
        .create_share(c.id, &auth::token_hash(&token), state.clock.now_ms())
        .await?;
    Ok(token)
}

/// The site's link-preview image for a shared transcript.
pub fn share_image_url(state: &AppState) -> String {
    format!("{}/static/share.jpg", public_base(state))
}

/// `server.public_url` without its trailing slash; empty when unset (links
/// are then relative).
fn public_base(state: &AppState) -> &str {
    state
        .config
        .server
        .public_url
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/')
}

/// The public address of a shared transcript.
pub fn share_url(state: &AppState, token: &str) -> String {
    format!("{}/t/{token}", public_base(state))
}

/// Revokes a conversation's link (its customer or staff).
pub async fn revoke(state: &AppState, user: &CurrentUser, id: i64) -> Result<bool, AppError> {
    let c = readable(state, user, id).await?;
    Ok(state
        .store
        .revoke_share(c.id, user.account.id, state.clock.now_ms())
        .await?)
}

/// Whether the user is staff.
pub fn is_staff(user: &CurrentUser) -> bool {
    user.account.role >= Role::Agent
}

/// The metrics report over conversations opened in `[from, to)`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    /// Window start, ms.
    pub from: Millis,
    /// Window end, ms.
    pub to: Millis,
    /// Everything together.
    pub overall: Option<Aggregate>,
    /// Per agent (key: account id).
    pub by_agent: Vec<Aggregate>,
    /// Per team.
    pub by_team: Vec<Aggregate>,
    /// Per UTC day the conversations were opened.
    pub by_day: Vec<Aggregate>,
    /// Each conversation.
    pub conversations: Vec<ConvMetrics>,
    /// Agent e-mails by id.
    pub agents: Vec<(i64, String)>,
}

/// How often (clock time) a pass looks for support SLA breaches.
const SLA_SWEEP_MS: Millis = 60_000;

/// Logs a support-recovery event for every conversation of the last
/// [`OVERVIEW_DAYS`] days that breached an SLA, keyed by its
/// resolution (so a breach and a low CSAT of one resolution pay once). At
/// most every [`SLA_SWEEP_MS`].
async fn sweep_sla_breaches(state: &AppState) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let last = state.support.sla_swept_at.load(Ordering::Relaxed);
    if last != 0 && now - last < SLA_SWEEP_MS {
        return Ok(());
    }
    state.support.sla_swept_at.store(now, Ordering::Relaxed);
    let since = now - OVERVIEW_DAYS * marquee_domain::perks::DAY_MS;
    let breached: Vec<i64> = metrics_rows(state, since, now + 1)
        .await?
        .iter()
        .filter(|m| m.sla_breached())
        .map(|m| m.conversation_id)
        .collect();
    if breached.is_empty() {
        return Ok(());
    }
    for c in state.store.conversations_by_ids(&breached).await? {
        // Perks go to accounts; a visitor's conversation has none yet.
        let Some(account_id) = c.account_id else {
            continue;
        };
        // The resolution under way, or the one just made.
        let seq = if c.status == marquee_domain::support::ConvStatus::Resolved {
            c.resolution_seq
        } else {
            c.resolution_seq + 1
        };
        crate::perks::support_signal(
            state,
            account_id,
            &recovery_key(c.id, seq),
            crate::perks::SupportSignal::SlaBreach,
            now,
        )
        .await?;
    }
    Ok(())
}

/// The SLA-breach sweep as a perks event source (`Perks::new`): every perks
/// pass runs it first, so a breach pays its recovery on the same pass.
pub fn sla_breach_source(
    state: &AppState,
) -> futures_util::future::BoxFuture<'_, Result<(), AppError>> {
    Box::pin(sweep_sla_breaches(state))
}

/// The perks key of a conversation's resolution (`seq` 1 = the first): a
/// low CSAT and an SLA breach of the same resolution earn one recovery.
pub fn recovery_key(conversation_id: i64, seq: i64) -> String {
    format!("conversation:{conversation_id}:resolution:{seq}")
}

/// Each conversation opened in `[from, to)` with its metrics, as of the
/// injected clock (the report, the overview and the SLA sweep share it).
pub async fn metrics_rows(
    state: &AppState,
    from: Millis,
    to: Millis,
) -> Result<Vec<ConvMetrics>, AppError> {
    let (convs, log) = state.store.support_log(from, to).await?;
    let sla = state.store.sla_policies().await?;
    Ok(conversation_metrics(
        &convs,
        &log,
        &sla,
        state.clock.now_ms(),
    ))
}

/// Computes the report with the injected clock.
pub async fn report(state: &AppState, from: Millis, to: Millis) -> Result<Report, AppError> {
    let rows = metrics_rows(state, from, to).await?;
    let teams: HashMap<i64, String> = state.store.agent_teams().await?.into_iter().collect();
    let agents = state
        .store
        .support_agents(state.config.support.default_capacity)
        .await?
        .into_iter()
        .map(|a| (a.account_id, a.email))
        .collect();
    Ok(Report {
        from,
        to,
        overall: aggregate(&rows, |_| Some("all".into())).into_iter().next(),
        by_agent: aggregate(&rows, |r| r.agent_id.map(|a| a.to_string())),
        by_team: aggregate(&rows, |r| {
            Some(
                r.agent_id
                    .and_then(|a| teams.get(&a).cloned())
                    .unwrap_or_else(|| "Unassigned".into()),
            )
        }),
        by_day: aggregate(&rows, |r| Some(utc_day(r.created_at))),
        conversations: rows,
        agents,
    })
}

/// The support tile of the staff overview.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverviewSupport {
    /// Window start, ms (conversations opened since).
    pub since: Millis,
    /// Conversations waiting for staff now.
    pub open: i64,
    /// Unresolved conversations nobody is assigned to now.
    pub unassigned: i64,
    /// Conversations opened in the window.
    pub conversations: u32,
    /// Mean CSAT (1 to 5) of the window's conversations.
    pub csat_avg: Option<f64>,
    /// CSAT answers.
    pub csat_count: u32,
    /// Share of CSAT answers that are 4 or 5, 0 to 1.
    pub csat_positive_rate: Option<f64>,
    /// Share of SLA verdicts met, 0 to 1.
    pub sla_met_rate: Option<f64>,
}

/// Days the overview's support tile looks back.
pub const OVERVIEW_DAYS: i64 = 30;

/// The overview's support figures: the metrics report's own aggregates
/// over the last [`OVERVIEW_DAYS`] days, and the inbox load now.
pub async fn overview(state: &AppState) -> Result<OverviewSupport, AppError> {
    let now = state.clock.now_ms();
    let since = now - OVERVIEW_DAYS * marquee_domain::perks::DAY_MS;
    let rows = metrics_rows(state, since, now + 1).await?;
    let overall = aggregate(&rows, |_| Some("all".into())).into_iter().next();
    let scores: Vec<u8> = rows.iter().filter_map(|r| r.csat).collect();
    let load = state.store.support_load().await?;
    Ok(OverviewSupport {
        since,
        open: load.open,
        unassigned: load.unassigned,
        conversations: rows.len() as u32,
        csat_avg: overall.as_ref().and_then(|a| a.csat_avg),
        csat_count: overall.as_ref().map_or(0, |a| a.csat_count),
        csat_positive_rate: (!scores.is_empty())
            .then(|| scores.iter().filter(|s| **s >= 4).count() as f64 / scores.len() as f64),
        sla_met_rate: overall.as_ref().and_then(|a| a.sla_met_rate),
    })
}

/// The inbox's assignee filter: `me`, `unassigned`, `any` (default) or an
/// agent's account id.
pub fn assignee_filter(user: &CurrentUser, a: Option<&str>) -> Result<AssigneeFilter, AppError> {
    Ok(match a {
        None | Some("") | Some("any") => AssigneeFilter::Any,
        Some("me") => AssigneeFilter::Agent(user.account.id),
        Some("unassigned") => AssigneeFilter::Unassigned,
        Some(other) => AssigneeFilter::Agent(other.parse().map_err(|_| {
            AppError::invalid("assignee", "use me, unassigned, any or an account id")
        })?),
    })
}

/// Checks SLA targets: 1 s to a year each.
pub fn check_sla(p: &SlaPolicy) -> Result<(), AppError> {
    const YEAR_S: i64 = 366 * 24 * 3600;
    if !(1..=YEAR_S).contains(&p.first_reply_s) {
        return Err(AppError::invalid("first_reply_s", "must be 1 s to a year"));
    }
    if !(1..=YEAR_S).contains(&p.resolution_s) {
        return Err(AppError::invalid("resolution_s", "must be 1 s to a year"));
    }
    Ok(())
}

/// Checks an agent's capacity and team; returns the trimmed team.
pub fn check_agent(capacity: u32, team: &str) -> Result<String, AppError> {
    if capacity > 1000 {
        return Err(AppError::invalid("capacity", "must be 0 to 1000"));
    }
    let t = team.trim();
    if t.is_empty() || t.chars().count() > 40 || t.chars().any(char::is_control) {
        return Err(AppError::invalid("team", "must be 1 to 40 characters"));
    }
    Ok(t.to_string())
}

/// The metrics window: `to` defaults to now, `from` to 30 days before it; at
/// most a year.
pub fn window(
    state: &AppState,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<(i64, i64), AppError> {
    let to = to.unwrap_or_else(|| state.clock.now_ms() + 1);
    let from = from.unwrap_or(to - 30 * 86_400_000);
    if from >= to {
        return Err(AppError::invalid("from", "must be before to"));
    }
    if to - from > 366 * 86_400_000 {
        return Err(AppError::invalid("from", "the window is at most a year"));
    }
    Ok((from, to))
}

/// E-mails a conversation's transcript (public messages only) to its
/// customer, or to `to` when staff send it.
pub async fn email_transcript(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    to: Option<&str>,
) -> Result<(), AppError> {
    let c = readable(state, user, id).await?;
    if !state.mailer.configured() {
        return Err(AppError::Unavailable(
            "e-mail is not configured on this installation".into(),
        ));
    }
    let to = match to {
        Some(t) if is_staff(user) => marquee_domain::validate::email(t)?,
        Some(_) => {
            return Err(AppError::invalid(
                "to",
                "transcripts go to the account's own address",
            ))
        }
        None => c.customer_email.clone(),
    };
    let msgs = state.store.messages(c.id, false, 0, 10_000).await?;
    let mut body = format!(
        "Your conversation #{} with Marquee Support, opened {}.\n\n",
        c.id,
        fmt_time(c.created_at)
    );
    for m in msgs.iter().filter(|m| !m.internal) {
        body.push_str(&format!(
            "{} · {}\n{}\n\n",
            author_name(m),
            fmt_time(m.created_at),
            m.body
        ));
    }
    let mail = crate::mail::Mail {
        to,
        subject: format!("Your Marquee support conversation #{}", c.id),
        body,
        list_unsubscribe: None,
    };
    state
        .mailer
        .send(&mail, state.clock.now_ms())
        .await
        .map_err(|e| match e {
            crate::mail::MailError::NotConfigured => AppError::Unavailable(e.to_string()),
            other => {
                tracing::warn!(error = %other, "transcript e-mail not sent");
                AppError::Unavailable("the e-mail could not be sent; try again later".into())
            }
        })
}
