//! [`SupportStore`], written once for both backends (see `sqlite/mod.rs` for
//! the dialect seam this file is compiled against).
//!
//! SQLite serialises every writer with `BEGIN IMMEDIATE`. On PostgreSQL every
//! write that can move conversations between agents (and so runs the
//! auto-assigner, or changes an assignee) first takes one transaction-scoped
//! advisory lock ([`ASSIGN_LOCK`]), so two concurrent new conversations never
//! see the same free seat; the other writes lock the conversation row they
//! read and then change. Both are no-ops on SQLite.

use super::{lock, support_mention_match, text, unique_to_conflict, Backend, Conn, Db, FOR_UPDATE};
use crate::support::{
    AgentSettings, AssigneeFilter, AuthorKind, Canned, Channel, ContextDevice, ContextIdea,
    ContextPost, ContextStream, Conversation, CsatAnswer, EventRecord, InboxQuery, Mention,
    Message, NewStreamError, NewVisitorConversation, ShareInfo, StreamError, SupportContext,
    SupportLoad, SupportStore, SupportWrite, VisitorVerified, WatchSnapshot,
};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::support::{
    plan_assignment, read_marker, ConvInfo, ConvStatus, EventKind, LogEvent, Priority, SlaPolicy,
    StaffSeat,
};
use marquee_domain::textmatch::TextMatch;
use marquee_domain::Millis;
use sqlx::QueryBuilder;
use std::str::FromStr;

/// A stream counts as live when it reported within this long.
const LIVE_MS: i64 = 120_000;
/// Streams older than this are not "what they were watching".
const SNAPSHOT_WINDOW_MS: i64 = 6 * 3600 * 1000;

/// The advisory-lock key that serialises assignment (any constant shared by
/// every instance on the database: "MQSUPPRT" in ASCII).
pub(super) const ASSIGN_LOCK: i64 = 0x4D51_5355_5050_5254;

fn decode_err(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(e.into()))
}

/// Locks one conversation's row until the transaction ends.
async fn lock_conv(conn: &mut Conn, id: i64) -> Result<()> {
    sqlx::query(&format!(
        "SELECT id FROM support_conversations WHERE id = $1{FOR_UPDATE}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(())
}

const CONV_SELECT: &str = "SELECT c.id, c.account_id, COALESCE(a.email, c.visitor_email, '') AS customer_email, \
     a.plan AS customer_plan, c.channel, c.visitor_name, c.visitor_verified_at, \
     c.status, c.priority, c.assignee_id, ag.email AS assignee_email, c.snoozed_until, c.created_at, \
     c.updated_at, c.last_message_at, c.first_reply_at, c.resolved_at, c.customer_read_id, \
     c.agent_read_id, c.resolution_seq, \
     (c.status = 'resolved' AND c.resolution_seq > 0 AND NOT EXISTS (SELECT 1 FROM support_csat s \
       WHERE s.conversation_id = c.id AND s.resolution_seq = c.resolution_seq)) AS csat_due, \
     (SELECT m.body FROM support_messages m WHERE m.conversation_id = c.id AND m.internal = 0 \
       ORDER BY m.id DESC LIMIT 1) AS preview, \
     COALESCE((SELECT MAX(m.id) FROM support_messages m WHERE m.conversation_id = c.id), 0) AS last_message_id, \
     COALESCE((SELECT MAX(m.id) FROM support_messages m WHERE m.conversation_id = c.id AND m.internal = 0), 0) \
       AS last_public_message_id \
     FROM support_conversations c LEFT JOIN accounts a ON a.id = c.account_id \
     LEFT JOIN accounts ag ON ag.id = c.assignee_id";

/// A row of [`CONV_SELECT`].
#[derive(sqlx::FromRow)]
struct ConvRow {
    id: i64,
    account_id: Option<i64>,
    customer_email: String,
    customer_plan: Option<String>,
    channel: String,
    visitor_name: Option<String>,
    visitor_verified_at: Option<Millis>,
    status: String,
    priority: String,
    assignee_id: Option<i64>,
    assignee_email: Option<String>,
    snoozed_until: Option<Millis>,
    created_at: Millis,
    updated_at: Millis,
    last_message_at: Millis,
    first_reply_at: Option<Millis>,
    resolved_at: Option<Millis>,
    customer_read_id: i64,
    agent_read_id: i64,
    resolution_seq: i64,
    csat_due: bool,
    preview: Option<String>,
    last_message_id: i64,
    last_public_message_id: i64,
}

impl TryFrom<ConvRow> for Conversation {
    type Error = StoreError;
    fn try_from(r: ConvRow) -> Result<Self> {
        Ok(Conversation {
            id: r.id,
            account_id: r.account_id,
            customer_email: r.customer_email,
            customer_plan: r.customer_plan,
            channel: Channel::parse(&r.channel)
                .ok_or_else(|| decode_err(format!("unknown channel {:?}", r.channel)))?,
            visitor_name: r.visitor_name,
            visitor_verified_at: r.visitor_verified_at,
            status: ConvStatus::from_str(&r.status).map_err(decode_err)?,
            priority: Priority::from_str(&r.priority).map_err(decode_err)?,
            assignee_id: r.assignee_id,
            assignee_email: r.assignee_email,
            snoozed_until: r.snoozed_until,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_message_at: r.last_message_at,
            first_reply_at: r.first_reply_at,
            resolved_at: r.resolved_at,
            customer_read_id: r.customer_read_id,
            agent_read_id: r.agent_read_id,
            resolution_seq: r.resolution_seq,
            csat_due: r.csat_due,
            preview: r.preview,
            last_message_id: r.last_message_id,
            last_public_message_id: r.last_public_message_id,
        })
    }
}

fn convs(rows: Vec<ConvRow>) -> Result<Vec<Conversation>> {
    rows.into_iter().map(Conversation::try_from).collect()
}

const MSG_SELECT: &str = "SELECT m.id, m.conversation_id, m.author_id, a.email AS author_email, \
     m.author_kind, m.body, m.internal <> 0 AS internal, m.canned_code, m.created_at, m.watch_title_id, \
     m.watch_title, m.watch_device, m.watch_device_kind, m.watch_position_ms, m.watch_duration_ms, \
     m.watch_live <> 0 AS watch_live \
     FROM support_messages m LEFT JOIN accounts a ON a.id = m.author_id";

/// A row of [`MSG_SELECT`].
#[derive(sqlx::FromRow)]
struct MsgRow {
    id: i64,
    conversation_id: i64,
    author_id: Option<i64>,
    author_email: Option<String>,
    author_kind: String,
    body: String,
    internal: bool,
    canned_code: Option<String>,
    created_at: Millis,
    watch_title_id: Option<i64>,
    watch_title: Option<String>,
    watch_device: Option<String>,
    watch_device_kind: Option<String>,
    watch_position_ms: Option<i64>,
    watch_duration_ms: Option<i64>,
    watch_live: Option<bool>,
}

impl From<MsgRow> for Message {
    fn from(r: MsgRow) -> Self {
        let author_kind = match r.author_kind.as_str() {
            "customer" => AuthorKind::Customer,
            "agent" => AuthorKind::Agent,
            _ => AuthorKind::System,
        };
        let watch = r.watch_title_id.map(|title_id| WatchSnapshot {
            title_id,
            title: r.watch_title.unwrap_or_default(),
            device: r.watch_device.unwrap_or_default(),
            device_kind: r.watch_device_kind.unwrap_or_default(),
            position_ms: r.watch_position_ms.unwrap_or(0),
            duration_ms: r.watch_duration_ms.unwrap_or(0),
            live: r.watch_live.unwrap_or(false),
        });
        Message {
            id: r.id,
            conversation_id: r.conversation_id,
            author_id: r.author_id,
            author_email: r.author_email,
            author_kind,
            body: r.body,
            internal: r.internal,
            canned_code: r.canned_code,
            created_at: r.created_at,
            watch,
        }
    }
}

pub(super) async fn conv_in(conn: &mut Conn, id: i64) -> Result<Conversation> {
    sqlx::query_as::<_, ConvRow>(&format!("{CONV_SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound {
            what: "conversation",
        })?
        .try_into()
}

/// One row of the event log.
#[derive(Default)]
struct Ev<'a> {
    kind: &'a str,
    actor: Option<i64>,
    from: Option<i64>,
    to: Option<i64>,
    manual: bool,
    status: Option<&'a str>,
    score: Option<i64>,
}

async fn log_event(conn: &mut Conn, conversation_id: i64, ev: Ev<'_>, now: Millis) -> Result<()> {
    sqlx::query(
        "INSERT INTO support_events(conversation_id, kind, actor_id, from_agent, to_agent, manual, status, score, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(conversation_id)
    .bind(ev.kind)
    .bind(ev.actor)
    .bind(ev.from)
    .bind(ev.to)
    .bind(i64::from(ev.manual))
    .bind(ev.status)
    .bind(ev.score)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What the account is (or was, within a few hours) watching right now.
async fn snapshot(conn: &mut Conn, account_id: i64, now: Millis) -> Result<Option<WatchSnapshot>> {
    Ok(sqlx::query_as(
        "SELECT ps.title_id, t.name AS title, d.name AS device, d.kind AS device_kind, ps.position_ms, \
         ps.duration_ms, (ps.ended_at IS NULL AND ps.last_event_at >= $2) AS live \
         FROM play_sessions ps JOIN devices d ON d.id = ps.device_id JOIN titles t ON t.id = ps.title_id \
         WHERE ps.account_id = $1 AND ps.last_event_at >= $3 \
         ORDER BY live DESC, ps.last_event_at DESC, ps.id DESC LIMIT 1",
    )
    .bind(account_id)
    .bind(now - LIVE_MS)
    .bind(now - SNAPSHOT_WINDOW_MS)
    .fetch_optional(&mut *conn)
    .await?)
}

#[allow(clippy::too_many_arguments)]
async fn insert_message(
    conn: &mut Conn,
    conversation_id: i64,
    author_id: Option<i64>,
    kind: AuthorKind,
    body: &str,
    internal: bool,
    canned_code: Option<&str>,
    watch: Option<&WatchSnapshot>,
    now: Millis,
) -> Result<Message> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO support_messages(conversation_id, author_id, author_kind, body, internal, canned_code, \
         created_at, watch_title_id, watch_title, watch_device, watch_device_kind, watch_position_ms, \
         watch_duration_ms, watch_live) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         RETURNING id",
    )
    .bind(conversation_id)
    .bind(author_id)
    .bind(kind.as_str())
    .bind(text(body))
    .bind(i64::from(internal))
    .bind(canned_code)
    .bind(now)
    .bind(watch.map(|w| w.title_id))
    .bind(watch.map(|w| w.title.clone()))
    .bind(watch.map(|w| w.device.clone()))
    .bind(watch.map(|w| w.device_kind.clone()))
    .bind(watch.map(|w| w.position_ms))
    .bind(watch.map(|w| w.duration_ms))
    .bind(watch.map(|w| i64::from(w.live)))
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE support_conversations SET last_message_at = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(now)
    .bind(now)
    .bind(conversation_id)
    .execute(&mut *conn)
    .await?;
    let row: MsgRow = sqlx::query_as(&format!("{MSG_SELECT} WHERE m.id = $1"))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.into())
}

/// Links the verified, unlinked visitor conversations of `email` to the account.
async fn link_verified(conn: &mut Conn, account_id: i64, email: &str, now: Millis) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE support_conversations SET account_id = $1, updated_at = $2 \
         WHERE account_id IS NULL AND visitor_verified_at IS NOT NULL AND lower(visitor_email) = lower($3)",
    )
    .bind(account_id)
    .bind(now)
    .bind(email)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Staff accounts with their stored settings (none where never saved) and load.
const AGENT_SELECT: &str = "SELECT a.id, a.email, a.role, sa.capacity, sa.available <> 0 AS available, \
     COALESCE(sa.team, 'Support') AS team, COALESCE(sa.last_assigned_at, 0) AS last_assigned_at, \
     (SELECT COUNT(*) FROM support_conversations c WHERE c.assignee_id = a.id AND c.status != 'resolved') AS open \
     FROM accounts a LEFT JOIN support_agents sa ON sa.account_id = a.id \
     WHERE a.role IN ('agent', 'admin')";

/// A row of [`AGENT_SELECT`].
#[derive(sqlx::FromRow)]
struct AgentRow {
    id: i64,
    email: String,
    role: String,
    capacity: Option<i64>,
    available: Option<bool>,
    team: String,
    last_assigned_at: Millis,
    open: i64,
}

impl AgentRow {
    fn seat(&self) -> StaffSeat {
        StaffSeat {
            agent_id: self.id,
            is_agent: self.role == "agent",
            capacity: self.capacity.map(|c| u32::try_from(c).unwrap_or(0)),
            available: self.available,
            open: u32::try_from(self.open).unwrap_or(0),
            last_assigned_at: self.last_assigned_at,
        }
    }

    fn settings(self, default_capacity: u32) -> AgentSettings {
        let seat = self.seat();
        AgentSettings {
            account_id: self.id,
            email: self.email,
            role: self.role,
            capacity: seat.capacity_or(default_capacity),
            available: seat.takes_part(),
            team: self.team,
            open: seat.open,
        }
    }
}

/// Places the unassigned queue (oldest first) with the agents who have room
/// (the choice is [`plan_assignment`]'s).
pub(super) async fn run_assigner(
    conn: &mut Conn,
    default_capacity: u32,
    now: Millis,
) -> Result<Vec<(i64, i64)>> {
    let queue: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM support_conversations WHERE assignee_id IS NULL AND status != 'resolved' \
         ORDER BY created_at, id LIMIT 1000",
    )
    .fetch_all(&mut *conn)
    .await?;
    if queue.is_empty() {
        return Ok(Vec::new());
    }
    let staff: Vec<StaffSeat> =
        sqlx::query_as::<_, AgentRow>(&format!("{AGENT_SELECT} ORDER BY a.id"))
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(AgentRow::seat)
            .collect();
    let plan = plan_assignment(&staff, &queue, default_capacity, now);
    for (conv, agent) in &plan.assigned {
        sqlx::query(
            "UPDATE support_conversations SET assignee_id = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(agent)
        .bind(now)
        .bind(conv)
        .execute(&mut *conn)
        .await?;
        log_event(
            conn,
            *conv,
            Ev {
                kind: "assigned",
                to: Some(*agent),
                ..Ev::default()
            },
            now,
        )
        .await?;
    }
    for (agent, at) in &plan.stamps {
        sqlx::query(
            "INSERT INTO support_agents(account_id, available, last_assigned_at) VALUES ($1, 1, $2) \
             ON CONFLICT(account_id) DO UPDATE SET last_assigned_at = excluded.last_assigned_at",
        )
        .bind(agent)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(plan.assigned)
}

pub(super) async fn set_status_in(
    conn: &mut Conn,
    c: &Conversation,
    actor: Option<i64>,
    status: ConvStatus,
    snoozed_until: Option<Millis>,
    now: Millis,
) -> Result<()> {
    if c.status == status && status != ConvStatus::Snoozed {
        return Ok(());
    }
    let resolving = status == ConvStatus::Resolved;
    sqlx::query(
        "UPDATE support_conversations SET status = $1, snoozed_until = $2, updated_at = $3, \
         resolved_at = CASE WHEN $4 THEN $5 ELSE resolved_at END, \
         resolution_seq = resolution_seq + $6 WHERE id = $7",
    )
    .bind(status.as_str())
    .bind(snoozed_until.filter(|_| status == ConvStatus::Snoozed))
    .bind(now)
    .bind(resolving)
    .bind(now)
    .bind(i64::from(resolving))
    .bind(c.id)
    .execute(&mut *conn)
    .await?;
    log_event(
        conn,
        c.id,
        Ev {
            kind: "status",
            actor,
            status: Some(status.as_str()),
            ..Ev::default()
        },
        now,
    )
    .await
}

/// Records a customer message (stamped with what they are watching) and
/// marks it read on the customer's side.
pub(super) async fn customer_message(
    conn: &mut Conn,
    conversation_id: i64,
    account_id: Option<i64>,
    body: &str,
    now: Millis,
) -> Result<Message> {
    let watch = match account_id {
        Some(a) => snapshot(conn, a, now).await?,
        None => None,
    };
    let message = insert_message(
        conn,
        conversation_id,
        account_id,
        AuthorKind::Customer,
        body,
        false,
        None,
        watch.as_ref(),
        now,
    )
    .await?;
    log_event(
        conn,
        conversation_id,
        Ev {
            kind: "customer_message",
            actor: account_id,
            ..Ev::default()
        },
        now,
    )
    .await?;
    sqlx::query("UPDATE support_conversations SET customer_read_id = $1 WHERE id = $2")
        .bind(message.id)
        .bind(conversation_id)
        .execute(&mut *conn)
        .await?;
    Ok(message)
}

const SHARE_COLS: &str = "id, conversation_id, created_at, revoked_at, views";

const STREAM_ERROR_SELECT: &str =
    "SELECT e.id, e.title_id, t.name AS title, d.name AS device, e.code, \
     e.message, e.position_ms, e.at FROM stream_errors e LEFT JOIN titles t ON t.id = e.title_id \
     LEFT JOIN devices d ON d.id = e.device_id";

/// An agent's reply or internal note in the open transaction: the message,
/// its event, the agent's read marker, and for a reply the first-reply time
/// and the assignment of an unassigned conversation to the replying agent.
pub(super) async fn agent_message_in(
    conn: &mut Conn,
    c: &Conversation,
    agent_id: i64,
    body: &str,
    internal: bool,
    canned_code: Option<&str>,
    now: Millis,
) -> Result<Message> {
    let message = insert_message(
        conn,
        c.id,
        Some(agent_id),
        AuthorKind::Agent,
        body,
        internal,
        canned_code,
        None,
        now,
    )
    .await?;
    log_event(
        conn,
        c.id,
        Ev {
            kind: if internal { "note" } else { "agent_message" },
            actor: Some(agent_id),
            ..Ev::default()
        },
        now,
    )
    .await?;
    sqlx::query(
        "UPDATE support_conversations SET agent_read_id = $1 WHERE id = $2 AND agent_read_id < $1",
    )
    .bind(message.id)
    .bind(c.id)
    .execute(&mut *conn)
    .await?;
    if !internal {
        sqlx::query(
            "UPDATE support_conversations SET first_reply_at = COALESCE(first_reply_at, $1) WHERE id = $2",
        )
        .bind(now)
        .bind(c.id)
        .execute(&mut *conn)
        .await?;
        if c.assignee_id.is_none() {
            sqlx::query("UPDATE support_conversations SET assignee_id = $1 WHERE id = $2")
                .bind(agent_id)
                .bind(c.id)
                .execute(&mut *conn)
                .await?;
            log_event(
                conn,
                c.id,
                Ev {
                    kind: "assigned",
                    actor: Some(agent_id),
                    to: Some(agent_id),
                    ..Ev::default()
                },
                now,
            )
            .await?;
        }
    }
    Ok(message)
}

/// A row of the event log as the metrics read it.
#[derive(sqlx::FromRow)]
struct EventRow {
    conversation_id: i64,
    kind: String,
    actor_id: Option<i64>,
    from_agent: Option<i64>,
    to_agent: Option<i64>,
    manual: bool,
    status: Option<String>,
    score: Option<i64>,
    at: Millis,
}

impl TryFrom<EventRow> for LogEvent {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self> {
        let kind = match r.kind.as_str() {
            "created" => EventKind::Created,
            "customer_message" => EventKind::CustomerMessage,
            "agent_message" => EventKind::AgentMessage {
                agent_id: r.actor_id.unwrap_or(0),
            },
            "note" => EventKind::Note {
                agent_id: r.actor_id.unwrap_or(0),
            },
            "assigned" => EventKind::Assigned {
                from: r.from_agent,
                to: r.to_agent,
                manual: r.manual,
            },
            "status" => EventKind::Status {
                to: ConvStatus::from_str(r.status.as_deref().unwrap_or("")).map_err(decode_err)?,
            },
            "csat" => EventKind::Csat {
                score: u8::try_from(r.score.unwrap_or(0)).unwrap_or(0),
            },
            "shared" => EventKind::Shared,
            "share_revoked" => EventKind::ShareRevoked,
            "share_viewed" => EventKind::ShareViewed,
            other => return Err(decode_err(format!("unknown support event {other:?}"))),
        };
        Ok(LogEvent {
            conversation_id: r.conversation_id,
            at: r.at,
            kind,
        })
    }
}

/// A customer message that matched, for [`SupportStore::conversations_mentioning`].
#[derive(sqlx::FromRow)]
struct MentionRow {
    id: i64,
    account_id: Option<i64>,
    status: String,
    message_id: i64,
    body: String,
    created_at: Millis,
    watch_title: Option<String>,
}

#[async_trait]
impl SupportStore for Backend {
    async fn create_conversation(
        &self,
        account_id: i64,
        body: &str,
        priority: Priority,
        default_capacity: u32,
        now: Millis,
    ) -> Result<SupportWrite> {
        let mut tx = self.begin_write().await?;
        lock(&mut tx, ASSIGN_LOCK).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO support_conversations(account_id, priority, created_at, updated_at, last_message_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(account_id)
        .bind(priority.as_str())
        .bind(now)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        log_event(
            &mut tx,
            id,
            Ev {
                kind: "created",
                actor: Some(account_id),
                ..Ev::default()
            },
            now,
        )
        .await?;
        let message = customer_message(&mut tx, id, Some(account_id), body, now).await?;
        let assigned = run_assigner(&mut tx, default_capacity, now).await?;
        let conversation = conv_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(SupportWrite {
            conversation,
            message: Some(message),
            assigned,
        })
    }

    async fn create_visitor_conversation(
        &self,
        v: &NewVisitorConversation<'_>,
        default_capacity: u32,
        now: Millis,
    ) -> Result<SupportWrite> {
        let mut tx = self.begin_write().await?;
        lock(&mut tx, ASSIGN_LOCK).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO support_conversations(priority, created_at, updated_at, last_message_at, channel, \
             visitor_email, visitor_name, visitor_token_hash, visitor_verify_hash, visitor_verify_expires) \
             VALUES ('normal', $1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(v.channel.as_str())
        .bind(text(v.email))
        .bind(v.name.map(text))
        .bind(v.token_hash)
        .bind(v.verify_hash)
        .bind(v.verify_expires)
        .fetch_one(&mut *tx)
        .await?;
        log_event(
            &mut tx,
            id,
            Ev {
                kind: "created",
                ..Ev::default()
            },
            now,
        )
        .await?;
        let message = customer_message(&mut tx, id, None, v.body, now).await?;
        let assigned = run_assigner(&mut tx, default_capacity, now).await?;
        let conversation = conv_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(SupportWrite {
            conversation,
            message: Some(message),
            assigned,
        })
    }

    async fn visitor_conversation(&self, token_hash: &str) -> Result<Option<Conversation>> {
        let mut conn = self.read().await?;
        sqlx::query_as::<_, ConvRow>(&format!("{CONV_SELECT} WHERE c.visitor_token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&mut *conn)
            .await?
            .map(Conversation::try_from)
            .transpose()
    }

    async fn verify_visitor(
        &self,
        verify_hash: &str,
        new_token_hash: &str,
        now: Millis,
    ) -> Result<Option<VisitorVerified>> {
        let mut tx = self.begin_write().await?;
        let found: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, visitor_email FROM support_conversations \
             WHERE visitor_verify_hash = $1 AND visitor_verify_expires > $2 AND visitor_verified_at IS NULL",
        )
        .bind(verify_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, email)) = found else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE support_conversations SET visitor_verified_at = $1, visitor_verify_hash = NULL, \
             visitor_verify_expires = NULL, visitor_token_hash = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(now)
        .bind(new_token_hash)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let account: Option<i64> =
            sqlx::query_scalar("SELECT id FROM accounts WHERE lower(email) = lower($1)")
                .bind(&email)
                .fetch_optional(&mut *tx)
                .await?;
        let note = match account {
            Some(account_id) => {
                link_verified(&mut tx, account_id, &email, now).await?;
                "The visitor confirmed their e-mail address; this conversation is now linked to their account."
            }
            None => {
                "The visitor confirmed their e-mail address. No account uses it yet; the conversation links to one when it does."
            }
        };
        let message = insert_message(
            &mut tx,
            id,
            None,
            AuthorKind::System,
            note,
            false,
            None,
            None,
            now,
        )
        .await?;
        let conversation = conv_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Some(VisitorVerified {
            conversation,
            message,
            linked_account: account,
        }))
    }

    async fn link_visitor_conversations(
        &self,
        account_id: i64,
        email: &str,
        now: Millis,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let n = link_verified(&mut tx, account_id, email, now).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn conversation(&self, id: i64) -> Result<Option<Conversation>> {
        let mut conn = self.read().await?;
        sqlx::query_as::<_, ConvRow>(&format!("{CONV_SELECT} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .map(Conversation::try_from)
            .transpose()
    }

    async fn conversations_by_ids(&self, ids: &[i64]) -> Result<Vec<Conversation>> {
        let mut conn = self.read().await?;
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let mut qb: QueryBuilder<'_, Db> =
                QueryBuilder::new(format!("{CONV_SELECT} WHERE c.id IN ("));
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(*id);
            }
            qb.push(") ORDER BY c.id");
            let rows: Vec<ConvRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
            out.extend(convs(rows)?);
        }
        Ok(out)
    }

    async fn conversations_of(&self, account_id: i64, limit: u32) -> Result<Vec<Conversation>> {
        let mut conn = self.read().await?;
        convs(
            sqlx::query_as(&format!(
                "{CONV_SELECT} WHERE c.account_id = $1 ORDER BY c.id DESC LIMIT $2"
            ))
            .bind(account_id)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?,
        )
    }

    async fn inbox(&self, q: &InboxQuery) -> Result<Vec<Conversation>> {
        let mut qb: QueryBuilder<'_, Db> = QueryBuilder::new(CONV_SELECT);
        qb.push(" WHERE ");
        match q.status {
            Some(s) => {
                qb.push("c.status = ").push_bind(s.as_str());
            }
            None => {
                qb.push("c.status != 'resolved'");
            }
        }
        match q.assignee {
            AssigneeFilter::Any => {}
            AssigneeFilter::Agent(a) => {
                qb.push(" AND c.assignee_id = ").push_bind(a);
            }
            AssigneeFilter::Unassigned => {
                qb.push(" AND c.assignee_id IS NULL");
            }
        }
        if let Some(q) = q.search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let pattern = crate::like_contains(&text(q));
            qb.push(" AND (lower(COALESCE(a.email, c.visitor_email, '')) LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR lower(COALESCE(c.visitor_name, '')) LIKE ")
                .push_bind(pattern.clone())
                .push(
                    " ESCAPE '\\' OR EXISTS (SELECT 1 FROM support_messages sm \
                     WHERE sm.conversation_id = c.id AND lower(sm.body) LIKE ",
                )
                .push_bind(pattern)
                .push(" ESCAPE '\\'))");
        }
        qb.push(" ORDER BY c.last_message_at DESC, c.id DESC LIMIT ")
            .push_bind(i64::from(q.limit));
        let mut conn = self.read().await?;
        convs(qb.build_query_as().fetch_all(&mut *conn).await?)
    }

    async fn messages(
        &self,
        conversation_id: i64,
        include_internal: bool,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let mut conn = self.read().await?;
        let rows: Vec<MsgRow> = sqlx::query_as(&format!(
            "{MSG_SELECT} WHERE m.conversation_id = $1 AND m.id > $2 AND ($3 OR m.internal = 0) \
             ORDER BY m.id LIMIT $4"
        ))
        .bind(conversation_id)
        .bind(after_id)
        .bind(include_internal)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    async fn add_customer_message(
        &self,
        conversation_id: i64,
        account_id: Option<i64>,
        body: &str,
        default_capacity: u32,
        now: Millis,
    ) -> Result<SupportWrite> {
        let mut tx = self.begin_write().await?;
        lock(&mut tx, ASSIGN_LOCK).await?;
        let c = conv_in(&mut tx, conversation_id).await?;
        if account_id.is_some() && c.account_id != account_id {
            return Err(StoreError::NotFound {
                what: "conversation",
            });
        }
        let message = customer_message(&mut tx, c.id, account_id, body, now).await?;
        if c.status != ConvStatus::Open {
            set_status_in(&mut tx, &c, account_id, ConvStatus::Open, None, now).await?;
        }
        let assigned = run_assigner(&mut tx, default_capacity, now).await?;
        let conversation = conv_in(&mut tx, c.id).await?;
        tx.commit().await?;
        Ok(SupportWrite {
            conversation,
            message: Some(message),
            assigned,
        })
    }

    async fn add_agent_message(
        &self,
        conversation_id: i64,
        agent_id: i64,
        body: &str,
        internal: bool,
        canned_code: Option<&str>,
        now: Millis,
    ) -> Result<SupportWrite> {
        let mut tx = self.begin_write().await?;
        lock(&mut tx, ASSIGN_LOCK).await?;
        let c = conv_in(&mut tx, conversation_id).await?;
        let message =
            agent_message_in(&mut tx, &c, agent_id, body, internal, canned_code, now).await?;
        let conversation = conv_in(&mut tx, c.id).await?;
        tx.commit().await?;
        Ok(SupportWrite {
            conversation,
            message: Some(message),
            assigned: Vec::new(),
        })
    }

    async fn set_status(
        &self,
        conversation_id: i64,
        actor_id: i64,
        status: ConvStatus,
        snoozed_until: Option<Millis>,
        default_capacity: u32,
        now: Millis,
    ) -> Result<SupportWrite> {
        let mut tx = self.begin_write().await?;
        lock(&mut tx, ASSIGN_LOCK).await?;
        let c = conv_in(&mut tx, conversation_id).await?;
        set_status_in(&mut tx, &c, Some(actor_id), status, snoozed_until, now).await?;
        let assigned = run_assigner(&mut tx, default_capacity, now).await?;
        let conversation = conv_in(&mut tx, c.id).await?;
        tx.commit().await?;
        Ok(SupportWrite {
            conversation,
            message: None,
            assigned,
        })
    }

    async fn conversation_events(&self, conversation_id: i64) -> Result<Vec<EventRecord>> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_as(
            "SELECT e.at, e.kind, a.email AS actor_email, f.email AS from_email, t.email AS to_email, \
             e.manual <> 0 AS manual, e.status, e.score FROM support_events e \
             LEFT JOIN accounts a ON a.id = e.actor_id \
             LEFT JOIN accounts f ON f.id = e.from_agent LEFT JOIN accounts t ON t.id = e.to_agent \
             WHERE e.conversation_id = $1 ORDER BY e.id",
        )
        .bind(conversation_id)
        .fetch_all(&mut *conn)
        .await?)
    }

    async fn wake_snoozed(&self, now: Millis) -> Result<Vec<i64>> {
        let mut tx = self.begin_write().await?;
        lock(&mut tx, ASSIGN_LOCK).await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE support_conversations SET status = 'open', snoozed_until = NULL, updated_at = $1 \
             WHERE status = 'snoozed' AND snoozed_until <= $2 RETURNING id",
        )
        .bind(now)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for id in &ids {
            log_event(
                &mut tx,
                *id,
                Ev {
                    kind: "status",
                    status: Some(ConvStatus::Open.as_str()),
                    ..Ev::default()
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn set_priority(
        &self,
        conversation_id: i64,
        priority: Priority,
        now: Millis,
    ) -> Result<Conversation> {
        let mut tx = self.begin_write().await?;
        lock_conv(&mut tx, conversation_id).await?;
        let done = sqlx::query(
            "UPDATE support_conversations SET priority = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(priority.as_str())
        .bind(now)
        .bind(conversation_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::NotFound {
                what: "conversation",
            });
        }
        let c = conv_in(&mut tx, conversation_id).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn reassign(
        &self,
        conversation_id: i64,
        actor_id: i64,
        to: Option<i64>,
        default_capacity: u32,
        now: Millis,
    ) -> Result<SupportWrite> {
        let mut tx = self.begin_write().await?;
        lock(&mut tx, ASSIGN_LOCK).await?;
        let c = conv_in(&mut tx, conversation_id).await?;
        if let Some(agent) = to {
            let role: Option<String> =
                sqlx::query_scalar("SELECT role FROM accounts WHERE id = $1")
                    .bind(agent)
                    .fetch_optional(&mut *tx)
                    .await?;
            if !matches!(role.as_deref(), Some("agent") | Some("admin")) {
                return Err(StoreError::Invalid {
                    field: "assignee_id",
                    message: format!("account {agent} is not an agent"),
                });
            }
        }
        let mut assigned = Vec::new();
        if c.assignee_id != to {
            sqlx::query(
                "UPDATE support_conversations SET assignee_id = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(to)
            .bind(now)
            .bind(c.id)
            .execute(&mut *tx)
            .await?;
            log_event(
                &mut tx,
                c.id,
                Ev {
                    kind: "assigned",
                    actor: Some(actor_id),
                    from: c.assignee_id,
                    to,
                    manual: true,
                    ..Ev::default()
                },
                now,
            )
            .await?;
            assigned = run_assigner(&mut tx, default_capacity, now).await?;
        }
        let conversation = conv_in(&mut tx, c.id).await?;
        tx.commit().await?;
        Ok(SupportWrite {
            conversation,
            message: None,
            assigned,
        })
    }

    async fn mark_read(
        &self,
        conversation_id: i64,
        customer_side: bool,
        message_id: i64,
    ) -> Result<Conversation> {
        let mut tx = self.begin_write().await?;
        let col = if customer_side {
            "customer_read_id"
        } else {
            "agent_read_id"
        };
        // The row is locked from here: the marker is read, moved and written
        // by one writer at a time.
        let marks: Option<(i64, i64)> = sqlx::query_as(&format!(
            "SELECT {col}, COALESCE((SELECT MAX(id) FROM support_messages WHERE conversation_id = $1), 0) \
             FROM support_conversations WHERE id = $1{FOR_UPDATE}"
        ))
        .bind(conversation_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(to) =
            marks.and_then(|(current, newest)| read_marker(current, message_id, newest))
        {
            sqlx::query(&format!(
                "UPDATE support_conversations SET {col} = $1 WHERE id = $2"
            ))
            .bind(to)
            .bind(conversation_id)
            .execute(&mut *tx)
            .await?;
        }
        let c = conv_in(&mut tx, conversation_id).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn answer_csat(
        &self,
        conversation_id: i64,
        score: u8,
        comment: &str,
        now: Millis,
    ) -> Result<CsatAnswer> {
        let mut tx = self.begin_write().await?;
        lock_conv(&mut tx, conversation_id).await?;
        let c = conv_in(&mut tx, conversation_id).await?;
        if c.status != ConvStatus::Resolved || c.resolution_seq == 0 {
            return Err(StoreError::Limit {
                field: "score",
                message: "CSAT is asked once the conversation is resolved".into(),
            });
        }
        if !c.csat_due {
            return Err(StoreError::Limit {
                field: "score",
                message: "this resolution was already rated".into(),
            });
        }
        let comment = text(comment);
        sqlx::query(
            "INSERT INTO support_csat(conversation_id, resolution_seq, score, comment, answered_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(c.id)
        .bind(c.resolution_seq)
        .bind(i64::from(score))
        .bind(&*comment)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        log_event(
            &mut tx,
            c.id,
            Ev {
                kind: "csat",
                actor: c.account_id,
                score: Some(i64::from(score)),
                ..Ev::default()
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(CsatAnswer {
            resolution_seq: c.resolution_seq,
            score,
            comment: comment.into_owned(),
            answered_at: now,
        })
    }

    async fn csat_answers(&self, conversation_id: i64) -> Result<Vec<CsatAnswer>> {
        let mut conn = self.read().await?;
        let rows: Vec<(i64, i64, String, Millis)> = sqlx::query_as(
            "SELECT resolution_seq, score, comment, answered_at FROM support_csat \
             WHERE conversation_id = $1 ORDER BY resolution_seq",
        )
        .bind(conversation_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(resolution_seq, score, comment, answered_at)| CsatAnswer {
                resolution_seq,
                score: u8::try_from(score).unwrap_or(0),
                comment,
                answered_at,
            })
            .collect())
    }

    async fn create_share(
        &self,
        conversation_id: i64,
        token_hash: &str,
        now: Millis,
    ) -> Result<ShareInfo> {
        let mut tx = self.begin_write().await?;
        lock_conv(&mut tx, conversation_id).await?;
        let c = conv_in(&mut tx, conversation_id).await?;
        sqlx::query(
            "UPDATE support_shares SET revoked_at = $1 WHERE conversation_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(c.id)
        .execute(&mut *tx)
        .await?;
        let share: ShareInfo = sqlx::query_as(&format!(
            "INSERT INTO support_shares(conversation_id, token_hash, created_at) VALUES ($1, $2, $3) \
             RETURNING {SHARE_COLS}"
        ))
        .bind(c.id)
        .bind(token_hash)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        log_event(
            &mut tx,
            c.id,
            Ev {
                kind: "shared",
                actor: c.account_id,
                ..Ev::default()
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(share)
    }

    async fn revoke_share(&self, conversation_id: i64, actor_id: i64, now: Millis) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        lock_conv(&mut tx, conversation_id).await?;
        let n = sqlx::query(
            "UPDATE support_shares SET revoked_at = $1, revoked_by = $2 \
             WHERE conversation_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(actor_id)
        .bind(conversation_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            log_event(
                &mut tx,
                conversation_id,
                Ev {
                    kind: "share_revoked",
                    actor: Some(actor_id),
                    ..Ev::default()
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn active_share(&self, conversation_id: i64) -> Result<Option<ShareInfo>> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_as(&format!(
            "SELECT {SHARE_COLS} FROM support_shares WHERE conversation_id = $1 AND revoked_at IS NULL"
        ))
        .bind(conversation_id)
        .fetch_optional(&mut *conn)
        .await?)
    }

    async fn open_share(&self, token_hash: &str, now: Millis) -> Result<Option<ShareInfo>> {
        let mut tx = self.begin_write().await?;
        // One indexed lookup by hash for unknown and revoked tokens alike.
        let share: Option<ShareInfo> = sqlx::query_as(&format!(
            "UPDATE support_shares SET views = views + 1 WHERE token_hash = $1 AND revoked_at IS NULL \
             RETURNING {SHARE_COLS}"
        ))
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(s) = &share {
            log_event(
                &mut tx,
                s.conversation_id,
                Ev {
                    kind: "share_viewed",
                    ..Ev::default()
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(share)
    }

    async fn canned(&self) -> Result<Vec<Canned>> {
        let mut conn = self.read().await?;
        let mut out: Vec<Canned> =
            sqlx::query_as("SELECT id, shortcode, body, created_at FROM support_canned")
                .fetch_all(&mut *conn)
                .await?;
        // By short code, byte by byte on both backends (whatever the
        // database's collation).
        out.sort_by(|a, b| a.shortcode.cmp(&b.shortcode));
        Ok(out)
    }

    async fn canned_by_code(&self, shortcode: &str) -> Result<Option<Canned>> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_as(
            "SELECT id, shortcode, body, created_at FROM support_canned WHERE shortcode = $1",
        )
        .bind(shortcode)
        .fetch_optional(&mut *conn)
        .await?)
    }

    async fn create_canned(
        &self,
        shortcode: &str,
        body: &str,
        created_by: i64,
        now: Millis,
    ) -> Result<Canned> {
        let mut conn = self.read().await?;
        sqlx::query_as(
            "INSERT INTO support_canned(shortcode, body, created_by, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, shortcode, body, created_at",
        )
        .bind(text(shortcode))
        .bind(text(body))
        .bind(created_by)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| unique_to_conflict(e, "shortcode"))
    }

    async fn delete_canned(&self, id: i64) -> Result<()> {
        let mut conn = self.read().await?;
        let n = sqlx::query("DELETE FROM support_canned WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "canned response",
            });
        }
        Ok(())
    }

    async fn sla_policies(&self) -> Result<Vec<SlaPolicy>> {
        let mut conn = self.read().await?;
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT priority, first_reply_s, resolution_s FROM support_sla")
                .fetch_all(&mut *conn)
                .await?;
        let mut out = rows
            .into_iter()
            .map(|(p, first_reply_s, resolution_s)| {
                Ok(SlaPolicy {
                    priority: Priority::from_str(&p).map_err(decode_err)?,
                    first_reply_s,
                    resolution_s,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|p| p.priority);
        Ok(out)
    }

    async fn set_sla_policy(&self, p: &SlaPolicy) -> Result<()> {
        let mut conn = self.read().await?;
        sqlx::query(
            "INSERT INTO support_sla(priority, first_reply_s, resolution_s) VALUES ($1, $2, $3) \
             ON CONFLICT(priority) DO UPDATE SET first_reply_s = excluded.first_reply_s, \
             resolution_s = excluded.resolution_s",
        )
        .bind(p.priority.as_str())
        .bind(p.first_reply_s)
        .bind(p.resolution_s)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn support_agents(&self, default_capacity: u32) -> Result<Vec<AgentSettings>> {
        let mut conn = self.read().await?;
        let rows: Vec<AgentRow> = sqlx::query_as(AGENT_SELECT).fetch_all(&mut *conn).await?;
        let mut out: Vec<AgentSettings> = rows
            .into_iter()
            .map(|r| r.settings(default_capacity))
            .collect();
        // By e-mail, byte by byte on both backends.
        out.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(out)
    }

    async fn set_agent_settings(
        &self,
        account_id: i64,
        capacity: u32,
        available: bool,
        team: &str,
        default_capacity: u32,
        now: Millis,
    ) -> Result<(AgentSettings, Vec<(i64, i64)>)> {
        let mut tx = self.begin_write().await?;
        lock(&mut tx, ASSIGN_LOCK).await?;
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?;
        match role.as_deref() {
            Some("agent") | Some("admin") => {}
            Some(_) => {
                return Err(StoreError::Invalid {
                    field: "account_id",
                    message: "only agents and admins take conversations".into(),
                })
            }
            None => return Err(StoreError::NotFound { what: "account" }),
        }
        sqlx::query(
            "INSERT INTO support_agents(account_id, capacity, available, team) VALUES ($1, $2, $3, $4) \
             ON CONFLICT(account_id) DO UPDATE SET capacity = excluded.capacity, \
             available = excluded.available, team = excluded.team",
        )
        .bind(account_id)
        .bind(i64::from(capacity))
        .bind(i64::from(available))
        .bind(text(team))
        .execute(&mut *tx)
        .await?;
        let assigned = run_assigner(&mut tx, default_capacity, now).await?;
        let row: AgentRow = sqlx::query_as(&format!("{AGENT_SELECT} AND a.id = $1"))
            .bind(account_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((row.settings(default_capacity), assigned))
    }

    async fn record_stream_error(&self, e: &NewStreamError) -> Result<StreamError> {
        let mut tx = self.begin_write().await?;
        if let Some(d) = e.device_id {
            let ok: Option<i64> = sqlx::query_scalar(
                "SELECT d.id FROM devices d JOIN profiles p ON p.id = d.profile_id \
                 WHERE d.id = $1 AND p.account_id = $2",
            )
            .bind(d)
            .bind(e.account_id)
            .fetch_optional(&mut *tx)
            .await?;
            if ok.is_none() {
                return Err(StoreError::Invalid {
                    field: "device_id",
                    message: format!("no device {d} on this account"),
                });
            }
        }
        if let Some(t) = e.title_id {
            let ok: Option<i64> = sqlx::query_scalar("SELECT id FROM titles WHERE id = $1")
                .bind(t)
                .fetch_optional(&mut *tx)
                .await?;
            if ok.is_none() {
                return Err(StoreError::Invalid {
                    field: "title_id",
                    message: format!("no title {t}"),
                });
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO stream_errors(account_id, profile_id, device_id, title_id, code, message, position_ms, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(e.account_id)
        .bind(e.profile_id)
        .bind(e.device_id)
        .bind(e.title_id)
        .bind(text(&e.code))
        .bind(text(&e.message))
        .bind(e.position_ms)
        .bind(e.at)
        .fetch_one(&mut *tx)
        .await?;
        let row: StreamError = sqlx::query_as(&format!("{STREAM_ERROR_SELECT} WHERE e.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn support_context(&self, account_id: i64) -> Result<Option<SupportContext>> {
        let mut conn = self.read().await?;
        let Some((email, plan, since)) = sqlx::query_as::<_, (String, String, Millis)>(
            "SELECT email, plan, created_at FROM accounts WHERE id = $1",
        )
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(None);
        };
        let devices: Vec<ContextDevice> = sqlx::query_as(
            "SELECT d.name, d.kind, p.name AS profile, d.last_seen_at FROM devices d \
             JOIN profiles p ON p.id = d.profile_id WHERE p.account_id = $1 \
             ORDER BY d.last_seen_at DESC LIMIT 20",
        )
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
        let streams: Vec<ContextStream> = sqlx::query_as(
            "SELECT ps.title_id, t.name AS title, d.name AS device, ps.position_ms, ps.duration_ms, \
             ps.last_event_at AS at, ps.ended_at IS NULL AS live FROM play_sessions ps \
             JOIN titles t ON t.id = ps.title_id JOIN devices d ON d.id = ps.device_id \
             WHERE ps.account_id = $1 ORDER BY ps.last_event_at DESC LIMIT 5",
        )
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
        let stream_errors: Vec<StreamError> = sqlx::query_as(&format!(
            "{STREAM_ERROR_SELECT} WHERE e.account_id = $1 ORDER BY e.at DESC, e.id DESC LIMIT 10"
        ))
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
        let ideas: Vec<ContextIdea> = sqlx::query_as(
            "SELECT id, title, status, vote_count AS votes, created_at AS at FROM ideas \
             WHERE author_id = $1 ORDER BY created_at DESC LIMIT 5",
        )
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
        let votes: Vec<ContextIdea> = sqlx::query_as(
            "SELECT i.id, i.title, i.status, i.vote_count AS votes, v.created_at AS at FROM idea_votes v \
             JOIN ideas i ON i.id = v.idea_id WHERE v.account_id = $1 ORDER BY v.created_at DESC LIMIT 5",
        )
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
        let posts: Vec<ContextPost> = sqlx::query_as(
            "SELECT id, source, author, text, url, sentiment, score, created_at FROM posts \
             WHERE account_id = $1 ORDER BY created_at DESC LIMIT 5",
        )
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
        let other_conversations: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM support_conversations WHERE account_id = $1 ORDER BY id DESC LIMIT 10",
        )
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(Some(SupportContext {
            email,
            plan,
            since,
            devices,
            streams,
            stream_errors,
            ideas,
            votes,
            posts,
            other_conversations,
        }))
    }

    async fn support_log(
        &self,
        from: Millis,
        to: Millis,
    ) -> Result<(Vec<ConvInfo>, Vec<LogEvent>)> {
        let mut conn = self.read().await?;
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, priority FROM support_conversations WHERE created_at >= $1 AND created_at < $2 \
             ORDER BY id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
        let convs = rows
            .into_iter()
            .map(|(id, p)| {
                Ok(ConvInfo {
                    id,
                    priority: Priority::from_str(&p).map_err(decode_err)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let events: Vec<EventRow> = sqlx::query_as(
            "SELECT e.conversation_id, e.kind, e.actor_id, e.from_agent, e.to_agent, e.manual <> 0 AS manual, \
             e.status, e.score, e.at FROM support_events e JOIN support_conversations c ON c.id = e.conversation_id \
             WHERE c.created_at >= $1 AND c.created_at < $2 ORDER BY e.id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
        let events = events
            .into_iter()
            .map(LogEvent::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok((convs, events))
    }

    async fn agent_teams(&self) -> Result<Vec<(i64, String)>> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_as(
            "SELECT a.id, COALESCE(sa.team, 'Support') FROM accounts a \
             LEFT JOIN support_agents sa ON sa.account_id = a.id WHERE a.role IN ('agent', 'admin')",
        )
        .fetch_all(&mut *conn)
        .await?)
    }

    async fn conversations_mentioning(
        &self,
        m: &TextMatch,
        from: Millis,
        to: Millis,
        limit: u32,
    ) -> Result<(i64, Vec<Mention>)> {
        let Some((matches, q)) = support_mention_match(m) else {
            return Ok((0, Vec::new()));
        };
        // The latest matching customer message of each conversation.
        let hits = format!(
            "WITH hits AS ( \
             SELECT m.conversation_id, MAX(m.id) AS message_id FROM support_messages m \
             WHERE m.author_kind = 'customer' AND m.internal = 0 \
               AND m.created_at >= $1 AND m.created_at < $2 AND {matches} \
             GROUP BY m.conversation_id) "
        );
        let mut conn = self.read().await?;
        let total: i64 = sqlx::query_scalar(&format!("{hits} SELECT COUNT(*) FROM hits"))
            .bind(from)
            .bind(to)
            .bind(&q)
            .fetch_one(&mut *conn)
            .await?;
        let rows: Vec<MentionRow> = sqlx::query_as(&format!(
            "{hits} SELECT c.id, c.account_id, c.status, m.id AS message_id, m.body, m.created_at, \
             m.watch_title FROM hits h JOIN support_messages m ON m.id = h.message_id \
             JOIN support_conversations c ON c.id = h.conversation_id \
             ORDER BY m.created_at DESC, m.id DESC LIMIT $4"
        ))
        .bind(from)
        .bind(to)
        .bind(&q)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        let mentions = rows
            .into_iter()
            .map(|r| {
                Ok(Mention {
                    conversation_id: r.id,
                    account_id: r.account_id,
                    status: ConvStatus::from_str(&r.status).map_err(decode_err)?,
                    message_id: r.message_id,
                    body: r.body,
                    at: r.created_at,
                    watching: r.watch_title,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((total, mentions))
    }

    async fn support_load(&self) -> Result<SupportLoad> {
        let mut conn = self.read().await?;
        let (open, unassigned): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(CASE WHEN status = 'open' THEN 1 END), \
                    COUNT(CASE WHEN status <> 'resolved' AND assignee_id IS NULL THEN 1 END) \
             FROM support_conversations",
        )
        .fetch_one(&mut *conn)
        .await?;
        Ok(SupportLoad { open, unassigned })
    }
}
