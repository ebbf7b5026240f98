//! PostgreSQL implementation of [`SupportStore`].
//!
//! SQLite serialises writers with `BEGIN IMMEDIATE`. Here every write that can
//! move conversations between agents (and so runs the auto-assigner, or
//! changes an assignee) first takes one transaction-scoped advisory lock, so
//! two concurrent new conversations never see the same free seat; the other
//! writes lock the conversation row they read and then change.

use super::PgStore;
use crate::support::{
    AgentSettings, AssigneeFilter, AuthorKind, Canned, ContextDevice, ContextIdea, ContextPost,
    ContextStream, Conversation, CsatAnswer, EventRecord, InboxQuery, Mention, Message,
    NewStreamError, ShareInfo, StreamError, SupportContext, SupportLoad, SupportStore,
    SupportWrite, WatchSnapshot,
};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::support::{
    assign_queue, AgentLoad, ConvInfo, ConvStatus, EventKind, LogEvent, Priority, SlaPolicy,
};
use marquee_domain::textmatch::TextMatch;
use marquee_domain::Millis;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use std::str::FromStr;

/// A stream counts as live when it reported within this long.
const LIVE_MS: i64 = 120_000;
/// Streams older than this are not "what they were watching".
const SNAPSHOT_WINDOW_MS: i64 = 6 * 3600 * 1000;

/// The advisory-lock key that serialises assignment (any constant shared by
/// every instance on the database: "MQSUPPRT" in ASCII).
const ASSIGN_LOCK: i64 = 0x4D51_5355_5050_5254;

/// Serialises assignment with every other instance until the transaction ends.
async fn lock_assignment(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ASSIGN_LOCK)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Locks one conversation's row until the transaction ends.
async fn lock_conv(conn: &mut PgConnection, id: i64) -> Result<()> {
    sqlx::query("SELECT id FROM support_conversations WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(())
}

/// PostgreSQL TEXT cannot hold NUL, which SQLite stores: free text keeps its
/// place with U+FFFD instead of failing the write.
pub(super) fn no_nul(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Maps a UNIQUE violation to a conflict on `field`.
fn unique_to_conflict(e: sqlx::Error, field: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { field },
        _ => e.into(),
    }
}

/// Renders a [`TextMatch`] as a `to_tsquery` argument, `(a:* & b:*) | (c:*)`:
/// every word reduced to lower-case letters and digits, so the text is always
/// a valid tsquery; it is bound as a parameter, never spliced into SQL.
/// `None` when no word is left (which matches nothing).
fn to_tsquery(m: &TextMatch) -> Option<String> {
    let groups: Vec<String> = m
        .groups
        .iter()
        .filter_map(|g| {
            let terms: Vec<String> = g
                .iter()
                .map(|t| {
                    t.chars()
                        .filter(|c| c.is_alphanumeric())
                        .flat_map(char::to_lowercase)
                        .collect::<String>()
                })
                .filter(|t| !t.is_empty())
                .map(|t| format!("{t}:*"))
                .collect();
            (!terms.is_empty()).then(|| format!("({})", terms.join(" & ")))
        })
        .collect();
    (!groups.is_empty()).then(|| groups.join(" | "))
}

fn decode_err(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(e.into()))
}

const CONV_SELECT: &str = "SELECT c.id, c.account_id, a.email AS customer_email, a.plan AS customer_plan, \
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
     FROM support_conversations c JOIN accounts a ON a.id = c.account_id \
     LEFT JOIN accounts ag ON ag.id = c.assignee_id";

fn conv_from_row(r: &PgRow) -> Result<Conversation> {
    let status: String = r.try_get("status")?;
    let priority: String = r.try_get("priority")?;
    Ok(Conversation {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        customer_email: r.try_get("customer_email")?,
        customer_plan: r.try_get("customer_plan")?,
        status: ConvStatus::from_str(&status).map_err(decode_err)?,
        priority: Priority::from_str(&priority).map_err(decode_err)?,
        assignee_id: r.try_get("assignee_id")?,
        assignee_email: r.try_get("assignee_email")?,
        snoozed_until: r.try_get("snoozed_until")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        last_message_at: r.try_get("last_message_at")?,
        first_reply_at: r.try_get("first_reply_at")?,
        resolved_at: r.try_get("resolved_at")?,
        customer_read_id: r.try_get("customer_read_id")?,
        agent_read_id: r.try_get("agent_read_id")?,
        resolution_seq: r.try_get("resolution_seq")?,
        csat_due: r.try_get::<bool, _>("csat_due")?,
        preview: r.try_get("preview")?,
        last_message_id: r.try_get("last_message_id")?,
        last_public_message_id: r.try_get("last_public_message_id")?,
    })
}

const MSG_SELECT: &str = "SELECT m.id, m.conversation_id, m.author_id, a.email AS author_email, \
     m.author_kind, m.body, m.internal, m.canned_code, m.created_at, m.watch_title_id, m.watch_title, \
     m.watch_device, m.watch_device_kind, m.watch_position_ms, m.watch_duration_ms, m.watch_live \
     FROM support_messages m LEFT JOIN accounts a ON a.id = m.author_id";

fn msg_from_row(r: &PgRow) -> Result<Message> {
    let kind: String = r.try_get("author_kind")?;
    let author_kind = match kind.as_str() {
        "customer" => AuthorKind::Customer,
        "agent" => AuthorKind::Agent,
        _ => AuthorKind::System,
    };
    let watch = match r.try_get::<Option<i64>, _>("watch_title_id")? {
        Some(title_id) => Some(WatchSnapshot {
            title_id,
            title: r
                .try_get::<Option<String>, _>("watch_title")?
                .unwrap_or_default(),
            device: r
                .try_get::<Option<String>, _>("watch_device")?
                .unwrap_or_default(),
            device_kind: r
                .try_get::<Option<String>, _>("watch_device_kind")?
                .unwrap_or_default(),
            position_ms: r
                .try_get::<Option<i64>, _>("watch_position_ms")?
                .unwrap_or(0),
            duration_ms: r
                .try_get::<Option<i64>, _>("watch_duration_ms")?
                .unwrap_or(0),
            live: r.try_get::<Option<i64>, _>("watch_live")?.unwrap_or(0) != 0,
        }),
        None => None,
    };
    Ok(Message {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        author_id: r.try_get("author_id")?,
        author_email: r.try_get("author_email")?,
        author_kind,
        body: r.try_get("body")?,
        internal: r.try_get::<i64, _>("internal")? != 0,
        canned_code: r.try_get("canned_code")?,
        created_at: r.try_get("created_at")?,
        watch,
    })
}

async fn conv_in(conn: &mut PgConnection, id: i64) -> Result<Conversation> {
    let row = sqlx::query(&format!("{CONV_SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound {
            what: "conversation",
        })?;
    conv_from_row(&row)
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

async fn log_event(
    conn: &mut PgConnection,
    conversation_id: i64,
    ev: Ev<'_>,
    now: Millis,
) -> Result<()> {
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
async fn snapshot(
    conn: &mut PgConnection,
    account_id: i64,
    now: Millis,
) -> Result<Option<WatchSnapshot>> {
    let row = sqlx::query(
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
    .await?;
    row.map(|r| {
        Ok(WatchSnapshot {
            title_id: r.try_get("title_id")?,
            title: r.try_get("title")?,
            device: r.try_get("device")?,
            device_kind: r.try_get("device_kind")?,
            position_ms: r.try_get("position_ms")?,
            duration_ms: r.try_get("duration_ms")?,
            live: r.try_get::<bool, _>("live")?,
        })
    })
    .transpose()
}

#[allow(clippy::too_many_arguments)]
async fn insert_message(
    conn: &mut PgConnection,
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
         watch_duration_ms, watch_live) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(conversation_id)
    .bind(author_id)
    .bind(kind.as_str())
    .bind(no_nul(body))
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
    let row = sqlx::query(&format!("{MSG_SELECT} WHERE m.id = $1"))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    msg_from_row(&row)
}

const AGENT_SELECT: &str = "SELECT a.id, a.email, a.role, COALESCE(sa.capacity, $1) AS capacity, \
     COALESCE(sa.available, CASE WHEN a.role = 'agent' THEN 1 ELSE 0 END) AS available, COALESCE(sa.team, 'Support') AS team, \
     COALESCE(sa.last_assigned_at, 0) AS last_assigned_at, \
     (SELECT COUNT(*) FROM support_conversations c WHERE c.assignee_id = a.id AND c.status != 'resolved') AS open \
     FROM accounts a LEFT JOIN support_agents sa ON sa.account_id = a.id \
     WHERE a.role IN ('agent', 'admin')";

fn agent_from_row(r: &PgRow) -> Result<(AgentSettings, Millis)> {
    Ok((
        AgentSettings {
            account_id: r.try_get("id")?,
            email: r.try_get("email")?,
            role: r.try_get("role")?,
            capacity: u32::try_from(r.try_get::<i64, _>("capacity")?).unwrap_or(0),
            available: r.try_get::<i64, _>("available")? != 0,
            team: r.try_get("team")?,
            open: u32::try_from(r.try_get::<i64, _>("open")?).unwrap_or(0),
        },
        r.try_get("last_assigned_at")?,
    ))
}

/// Places the unassigned queue (oldest first) with the agents who have room.
async fn run_assigner(
    conn: &mut PgConnection,
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
    let rows = sqlx::query(&format!("{AGENT_SELECT} ORDER BY a.id"))
        .bind(i64::from(default_capacity))
        .fetch_all(&mut *conn)
        .await?;
    let mut loads = Vec::new();
    for r in &rows {
        let (a, last) = agent_from_row(r)?;
        if a.available {
            loads.push(AgentLoad {
                agent_id: a.account_id,
                capacity: a.capacity,
                open: a.open,
                last_assigned_at: last,
            });
        }
    }
    let pairs = assign_queue(&mut loads, &queue, now);
    for (conv, agent) in &pairs {
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
        let at = loads
            .iter()
            .find(|l| l.agent_id == *agent)
            .map(|l| l.last_assigned_at)
            .unwrap_or(now);
        sqlx::query(
            "INSERT INTO support_agents(account_id, available, last_assigned_at) VALUES ($1, 1, $2) \
             ON CONFLICT(account_id) DO UPDATE SET last_assigned_at = excluded.last_assigned_at",
        )
        .bind(agent)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(pairs)
}

async fn set_status_in(
    conn: &mut PgConnection,
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

fn share_from_row(r: &PgRow) -> Result<ShareInfo> {
    Ok(ShareInfo {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
        views: r.try_get("views")?,
    })
}

fn canned_from_row(r: &PgRow) -> Result<Canned> {
    Ok(Canned {
        id: r.try_get("id")?,
        shortcode: r.try_get("shortcode")?,
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
    })
}

fn stream_error_from_row(r: &PgRow) -> Result<StreamError> {
    Ok(StreamError {
        id: r.try_get("id")?,
        title_id: r.try_get("title_id")?,
        title: r.try_get("title")?,
        device: r.try_get("device")?,
        code: r.try_get("code")?,
        message: r.try_get("message")?,
        position_ms: r.try_get("position_ms")?,
        at: r.try_get("at")?,
    })
}

const STREAM_ERROR_SELECT: &str =
    "SELECT e.id, e.title_id, t.name AS title, d.name AS device, e.code, \
     e.message, e.position_ms, e.at FROM stream_errors e LEFT JOIN titles t ON t.id = e.title_id \
     LEFT JOIN devices d ON d.id = e.device_id";

fn event_from_row(r: &PgRow) -> Result<LogEvent> {
    let kind: String = r.try_get("kind")?;
    let actor: Option<i64> = r.try_get("actor_id")?;
    let kind = match kind.as_str() {
        "created" => EventKind::Created,
        "customer_message" => EventKind::CustomerMessage,
        "agent_message" => EventKind::AgentMessage {
            agent_id: actor.unwrap_or(0),
        },
        "note" => EventKind::Note {
            agent_id: actor.unwrap_or(0),
        },
        "assigned" => EventKind::Assigned {
            from: r.try_get("from_agent")?,
            to: r.try_get("to_agent")?,
            manual: r.try_get::<i64, _>("manual")? != 0,
        },
        "status" => {
            let s: Option<String> = r.try_get("status")?;
            EventKind::Status {
                to: ConvStatus::from_str(s.as_deref().unwrap_or("")).map_err(decode_err)?,
            }
        }
        "csat" => EventKind::Csat {
            score: u8::try_from(r.try_get::<Option<i64>, _>("score")?.unwrap_or(0)).unwrap_or(0),
        },
        "shared" => EventKind::Shared,
        "share_revoked" => EventKind::ShareRevoked,
        "share_viewed" => EventKind::ShareViewed,
        other => return Err(decode_err(format!("unknown support event {other:?}"))),
    };
    Ok(LogEvent {
        conversation_id: r.try_get("conversation_id")?,
        at: r.try_get("at")?,
        kind,
    })
}

#[async_trait]
impl SupportStore for PgStore {
    async fn create_conversation(
        &self,
        account_id: i64,
        body: &str,
        priority: Priority,
        default_capacity: u32,
        now: Millis,
    ) -> Result<SupportWrite> {
        let mut tx = self.pool.begin().await?;
        lock_assignment(&mut tx).await?;
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
        let watch = snapshot(&mut tx, account_id, now).await?;
        let message = insert_message(
            &mut tx,
            id,
            Some(account_id),
            AuthorKind::Customer,
            body,
            false,
            None,
            watch.as_ref(),
            now,
        )
        .await?;
        log_event(
            &mut tx,
            id,
            Ev {
                kind: "customer_message",
                actor: Some(account_id),
                ..Ev::default()
            },
            now,
        )
        .await?;
        sqlx::query("UPDATE support_conversations SET customer_read_id = $1 WHERE id = $2")
            .bind(message.id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let assigned = run_assigner(&mut tx, default_capacity, now).await?;
        let conversation = conv_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(SupportWrite {
            conversation,
            message: Some(message),
            assigned,
        })
    }

    async fn conversation(&self, id: i64) -> Result<Option<Conversation>> {
        sqlx::query(&format!("{CONV_SELECT} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| conv_from_row(&r))
            .transpose()
    }

    async fn conversations_by_ids(&self, ids: &[i64]) -> Result<Vec<Conversation>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let mut qb: QueryBuilder<'_, Postgres> =
                QueryBuilder::new(format!("{CONV_SELECT} WHERE c.id IN ("));
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(*id);
            }
            qb.push(") ORDER BY c.id");
            for r in qb.build().fetch_all(&self.pool).await? {
                out.push(conv_from_row(&r)?);
            }
        }
        Ok(out)
    }

    async fn conversations_of(&self, account_id: i64, limit: u32) -> Result<Vec<Conversation>> {
        sqlx::query(&format!(
            "{CONV_SELECT} WHERE c.account_id = $1 ORDER BY c.id DESC LIMIT $2"
        ))
        .bind(account_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(conv_from_row)
        .collect()
    }

    async fn inbox(&self, q: &InboxQuery) -> Result<Vec<Conversation>> {
        let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(CONV_SELECT);
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
        qb.push(" ORDER BY c.last_message_at DESC, c.id DESC LIMIT ")
            .push_bind(i64::from(q.limit));
        qb.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(conv_from_row)
            .collect()
    }

    async fn messages(
        &self,
        conversation_id: i64,
        include_internal: bool,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        sqlx::query(&format!(
            "{MSG_SELECT} WHERE m.conversation_id = $1 AND m.id > $2 AND ($3 OR m.internal = 0) \
             ORDER BY m.id LIMIT $4"
        ))
        .bind(conversation_id)
        .bind(after_id)
        .bind(include_internal)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(msg_from_row)
        .collect()
    }

    async fn add_customer_message(
        &self,
        conversation_id: i64,
        account_id: i64,
        body: &str,
        default_capacity: u32,
        now: Millis,
    ) -> Result<SupportWrite> {
        let mut tx = self.pool.begin().await?;
        lock_assignment(&mut tx).await?;
        let c = conv_in(&mut tx, conversation_id).await?;
        if c.account_id != account_id {
            return Err(StoreError::NotFound {
                what: "conversation",
            });
        }
        let watch = snapshot(&mut tx, account_id, now).await?;
        let message = insert_message(
            &mut tx,
            c.id,
            Some(account_id),
            AuthorKind::Customer,
            body,
            false,
            None,
            watch.as_ref(),
            now,
        )
        .await?;
        log_event(
            &mut tx,
            c.id,
            Ev {
                kind: "customer_message",
                actor: Some(account_id),
                ..Ev::default()
            },
            now,
        )
        .await?;
        sqlx::query("UPDATE support_conversations SET customer_read_id = $1 WHERE id = $2")
            .bind(message.id)
            .bind(c.id)
            .execute(&mut *tx)
            .await?;
        if c.status != ConvStatus::Open {
            set_status_in(&mut tx, &c, Some(account_id), ConvStatus::Open, None, now).await?;
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
        let mut tx = self.pool.begin().await?;
        lock_assignment(&mut tx).await?;
        let c = conv_in(&mut tx, conversation_id).await?;
        let message = insert_message(
            &mut tx,
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
            &mut tx,
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
            "UPDATE support_conversations SET agent_read_id = GREATEST(agent_read_id, $1) WHERE id = $2",
        )
        .bind(message.id)
        .bind(c.id)
        .execute(&mut *tx)
        .await?;
        if !internal {
            sqlx::query(
                "UPDATE support_conversations SET first_reply_at = COALESCE(first_reply_at, $1) WHERE id = $2",
            )
            .bind(now)
            .bind(c.id)
            .execute(&mut *tx)
            .await?;
            if c.assignee_id.is_none() {
                sqlx::query("UPDATE support_conversations SET assignee_id = $1 WHERE id = $2")
                    .bind(agent_id)
                    .bind(c.id)
                    .execute(&mut *tx)
                    .await?;
                log_event(
                    &mut tx,
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
        let mut tx = self.pool.begin().await?;
        lock_assignment(&mut tx).await?;
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
        sqlx::query(
            "SELECT e.at, e.kind, a.email AS actor, f.email AS from_email, t.email AS to_email, e.manual, \
             e.status, e.score FROM support_events e LEFT JOIN accounts a ON a.id = e.actor_id \
             LEFT JOIN accounts f ON f.id = e.from_agent LEFT JOIN accounts t ON t.id = e.to_agent \
             WHERE e.conversation_id = $1 ORDER BY e.id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(EventRecord {
                at: r.try_get("at")?,
                kind: r.try_get("kind")?,
                actor_email: r.try_get("actor")?,
                from_email: r.try_get("from_email")?,
                to_email: r.try_get("to_email")?,
                manual: r.try_get::<i64, _>("manual")? != 0,
                status: r.try_get("status")?,
                score: r.try_get("score")?,
            })
        })
        .collect()
    }

    async fn wake_snoozed(&self, now: Millis) -> Result<Vec<i64>> {
        let mut tx = self.pool.begin().await?;
        lock_assignment(&mut tx).await?;
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
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
        lock_assignment(&mut tx).await?;
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
        let mut tx = self.pool.begin().await?;
        lock_conv(&mut tx, conversation_id).await?;
        let col = if customer_side {
            "customer_read_id"
        } else {
            "agent_read_id"
        };
        // Never past the newest message, never backwards.
        sqlx::query(&format!(
            "UPDATE support_conversations SET {col} = GREATEST({col}, LEAST($1, \
             COALESCE((SELECT MAX(id) FROM support_messages WHERE conversation_id = $2), 0))) WHERE id = $2"
        ))
        .bind(message_id)
        .bind(conversation_id)
        .execute(&mut *tx)
        .await?;
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
        let mut tx = self.pool.begin().await?;
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
        sqlx::query(
            "INSERT INTO support_csat(conversation_id, resolution_seq, score, comment, answered_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(c.id)
        .bind(c.resolution_seq)
        .bind(i64::from(score))
        .bind(no_nul(comment))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        log_event(
            &mut tx,
            c.id,
            Ev {
                kind: "csat",
                actor: Some(c.account_id),
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
            comment: no_nul(comment).into_owned(),
            answered_at: now,
        })
    }

    async fn csat_answers(&self, conversation_id: i64) -> Result<Vec<CsatAnswer>> {
        sqlx::query(
            "SELECT resolution_seq, score, comment, answered_at FROM support_csat \
             WHERE conversation_id = $1 ORDER BY resolution_seq",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(CsatAnswer {
                resolution_seq: r.try_get("resolution_seq")?,
                score: u8::try_from(r.try_get::<i64, _>("score")?).unwrap_or(0),
                comment: r.try_get("comment")?,
                answered_at: r.try_get("answered_at")?,
            })
        })
        .collect()
    }

    async fn create_share(
        &self,
        conversation_id: i64,
        token_hash: &str,
        now: Millis,
    ) -> Result<ShareInfo> {
        let mut tx = self.pool.begin().await?;
        lock_conv(&mut tx, conversation_id).await?;
        let c = conv_in(&mut tx, conversation_id).await?;
        sqlx::query(
            "UPDATE support_shares SET revoked_at = $1 WHERE conversation_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(c.id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "INSERT INTO support_shares(conversation_id, token_hash, created_at) VALUES ($1, $2, $3) \
             RETURNING id, conversation_id, created_at, revoked_at, views",
        )
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
                actor: Some(c.account_id),
                ..Ev::default()
            },
            now,
        )
        .await?;
        tx.commit().await?;
        share_from_row(&row)
    }

    async fn revoke_share(&self, conversation_id: i64, actor_id: i64, now: Millis) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
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
        sqlx::query(
            "SELECT id, conversation_id, created_at, revoked_at, views FROM support_shares \
             WHERE conversation_id = $1 AND revoked_at IS NULL",
        )
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| share_from_row(&r))
        .transpose()
    }

    async fn open_share(&self, token_hash: &str, now: Millis) -> Result<Option<ShareInfo>> {
        let mut tx = self.pool.begin().await?;
        // One indexed lookup by hash for unknown and revoked tokens alike.
        let row = sqlx::query(
            "UPDATE support_shares SET views = views + 1 WHERE token_hash = $1 AND revoked_at IS NULL \
             RETURNING id, conversation_id, created_at, revoked_at, views",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let share = row.map(|r| share_from_row(&r)).transpose()?;
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
        sqlx::query("SELECT id, shortcode, body, created_at FROM support_canned ORDER BY shortcode COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(canned_from_row)
            .collect()
    }

    async fn canned_by_code(&self, shortcode: &str) -> Result<Option<Canned>> {
        sqlx::query(
            "SELECT id, shortcode, body, created_at FROM support_canned WHERE shortcode = $1",
        )
        .bind(shortcode)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| canned_from_row(&r))
        .transpose()
    }

    async fn create_canned(
        &self,
        shortcode: &str,
        body: &str,
        created_by: i64,
        now: Millis,
    ) -> Result<Canned> {
        let row = sqlx::query(
            "INSERT INTO support_canned(shortcode, body, created_by, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, shortcode, body, created_at",
        )
        .bind(no_nul(shortcode))
        .bind(no_nul(body))
        .bind(created_by)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| unique_to_conflict(e, "shortcode"))?;
        canned_from_row(&row)
    }

    async fn delete_canned(&self, id: i64) -> Result<()> {
        let n = sqlx::query("DELETE FROM support_canned WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
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
        let rows = sqlx::query("SELECT priority, first_reply_s, resolution_s FROM support_sla")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let p: String = r.try_get("priority")?;
            out.push(SlaPolicy {
                priority: Priority::from_str(&p).map_err(decode_err)?,
                first_reply_s: r.try_get("first_reply_s")?,
                resolution_s: r.try_get("resolution_s")?,
            });
        }
        out.sort_by_key(|p| p.priority);
        Ok(out)
    }

    async fn set_sla_policy(&self, p: &SlaPolicy) -> Result<()> {
        sqlx::query(
            "INSERT INTO support_sla(priority, first_reply_s, resolution_s) VALUES ($1, $2, $3) \
             ON CONFLICT(priority) DO UPDATE SET first_reply_s = excluded.first_reply_s, \
             resolution_s = excluded.resolution_s",
        )
        .bind(p.priority.as_str())
        .bind(p.first_reply_s)
        .bind(p.resolution_s)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn support_agents(&self, default_capacity: u32) -> Result<Vec<AgentSettings>> {
        sqlx::query(&format!("{AGENT_SELECT} ORDER BY a.email COLLATE \"C\""))
            .bind(i64::from(default_capacity))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| agent_from_row(r).map(|(a, _)| a))
            .collect()
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
        let mut tx = self.pool.begin().await?;
        lock_assignment(&mut tx).await?;
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
        .bind(no_nul(team))
        .execute(&mut *tx)
        .await?;
        let assigned = run_assigner(&mut tx, default_capacity, now).await?;
        let row = sqlx::query(&format!("{AGENT_SELECT} AND a.id = $2"))
            .bind(i64::from(default_capacity))
            .bind(account_id)
            .fetch_one(&mut *tx)
            .await?;
        let (a, _) = agent_from_row(&row)?;
        tx.commit().await?;
        Ok((a, assigned))
    }

    async fn record_stream_error(&self, e: &NewStreamError) -> Result<StreamError> {
        let mut tx = self.pool.begin().await?;
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
        .bind(no_nul(&e.code))
        .bind(no_nul(&e.message))
        .bind(e.position_ms)
        .bind(e.at)
        .fetch_one(&mut *tx)
        .await?;
        let row = sqlx::query(&format!("{STREAM_ERROR_SELECT} WHERE e.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        stream_error_from_row(&row)
    }

    async fn support_context(&self, account_id: i64) -> Result<Option<SupportContext>> {
        let Some(acct) = sqlx::query("SELECT email, plan, created_at FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let devices = sqlx::query(
            "SELECT d.name, d.kind, p.name AS profile, d.last_seen_at FROM devices d \
             JOIN profiles p ON p.id = d.profile_id WHERE p.account_id = $1 \
             ORDER BY d.last_seen_at DESC LIMIT 20",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ContextDevice {
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                profile: r.try_get("profile")?,
                last_seen_at: r.try_get("last_seen_at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let streams = sqlx::query(
            "SELECT ps.title_id, t.name AS title, d.name AS device, ps.position_ms, ps.duration_ms, \
             ps.last_event_at, ps.ended_at IS NULL AS live FROM play_sessions ps \
             JOIN titles t ON t.id = ps.title_id JOIN devices d ON d.id = ps.device_id \
             WHERE ps.account_id = $1 ORDER BY ps.last_event_at DESC LIMIT 5",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ContextStream {
                title_id: r.try_get("title_id")?,
                title: r.try_get("title")?,
                device: r.try_get("device")?,
                position_ms: r.try_get("position_ms")?,
                duration_ms: r.try_get("duration_ms")?,
                at: r.try_get("last_event_at")?,
                live: r.try_get::<bool, _>("live")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let stream_errors = sqlx::query(&format!(
            "{STREAM_ERROR_SELECT} WHERE e.account_id = $1 ORDER BY e.at DESC, e.id DESC LIMIT 10"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(stream_error_from_row)
        .collect::<Result<Vec<_>>>()?;
        let idea = |r: &PgRow| -> Result<ContextIdea> {
            Ok(ContextIdea {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                status: r.try_get("status")?,
                votes: r.try_get("vote_count")?,
                at: r.try_get("at")?,
            })
        };
        let ideas = sqlx::query(
            "SELECT id, title, status, vote_count, created_at AS at FROM ideas \
             WHERE author_id = $1 ORDER BY created_at DESC LIMIT 5",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(idea)
        .collect::<Result<Vec<_>>>()?;
        let votes = sqlx::query(
            "SELECT i.id, i.title, i.status, i.vote_count, v.created_at AS at FROM idea_votes v \
             JOIN ideas i ON i.id = v.idea_id WHERE v.account_id = $1 ORDER BY v.created_at DESC LIMIT 5",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(idea)
        .collect::<Result<Vec<_>>>()?;
        let posts = sqlx::query(
            "SELECT id, source, author, text, url, sentiment, score, created_at FROM posts \
             WHERE account_id = $1 ORDER BY created_at DESC LIMIT 5",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(ContextPost {
                id: r.try_get("id")?,
                source: r.try_get("source")?,
                author: r.try_get("author")?,
                text: r.try_get("text")?,
                url: r.try_get("url")?,
                sentiment: r.try_get("sentiment")?,
                score: r.try_get("score")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let other_conversations: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM support_conversations WHERE account_id = $1 ORDER BY id DESC LIMIT 10",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(SupportContext {
            email: acct.try_get("email")?,
            plan: acct.try_get("plan")?,
            since: acct.try_get("created_at")?,
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
        let convs = sqlx::query(
            "SELECT id, priority FROM support_conversations WHERE created_at >= $1 AND created_at < $2 ORDER BY id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let p: String = r.try_get("priority")?;
            Ok(ConvInfo {
                id: r.try_get("id")?,
                priority: Priority::from_str(&p).map_err(decode_err)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let events = sqlx::query(
            "SELECT e.conversation_id, e.kind, e.actor_id, e.from_agent, e.to_agent, e.manual, e.status, \
             e.score, e.at FROM support_events e JOIN support_conversations c ON c.id = e.conversation_id \
             WHERE c.created_at >= $1 AND c.created_at < $2 ORDER BY e.id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect::<Result<Vec<_>>>()?;
        Ok((convs, events))
    }

    async fn agent_teams(&self) -> Result<Vec<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT a.id, COALESCE(sa.team, 'Support') FROM accounts a \
             LEFT JOIN support_agents sa ON sa.account_id = a.id WHERE a.role IN ('agent', 'admin')",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn conversations_mentioning(
        &self,
        m: &TextMatch,
        from: Millis,
        to: Millis,
        limit: u32,
    ) -> Result<(i64, Vec<Mention>)> {
        let Some(q) = to_tsquery(m) else {
            return Ok((0, Vec::new()));
        };
        // The latest matching customer message of each conversation.
        const HITS: &str = "WITH hits AS ( \
             SELECT m.conversation_id, MAX(m.id) AS message_id FROM support_messages m \
             WHERE m.author_kind = 'customer' AND m.internal = 0 \
               AND m.created_at >= $1 AND m.created_at < $2 \
               AND m.body_tsv @@ to_tsquery('simple', $3) \
             GROUP BY m.conversation_id) ";
        let total: i64 = sqlx::query_scalar(&format!("{HITS} SELECT COUNT(*) FROM hits"))
            .bind(from)
            .bind(to)
            .bind(&q)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(&format!(
            "{HITS} SELECT c.id, c.account_id, c.status, m.id AS message_id, m.body, m.created_at, \
             m.watch_title FROM hits h JOIN support_messages m ON m.id = h.message_id \
             JOIN support_conversations c ON c.id = h.conversation_id \
             ORDER BY m.created_at DESC, m.id DESC LIMIT $4"
        ))
        .bind(from)
        .bind(to)
        .bind(&q)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mentions = rows
            .iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                Ok(Mention {
                    conversation_id: r.try_get("id")?,
                    account_id: r.try_get("account_id")?,
                    status: ConvStatus::from_str(&status).map_err(decode_err)?,
                    message_id: r.try_get("message_id")?,
                    body: r.try_get("body")?,
                    at: r.try_get("created_at")?,
                    watching: r.try_get("watch_title")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((total, mentions))
    }

    async fn support_load(&self) -> Result<SupportLoad> {
        let (open, unassigned): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE status = 'open'), \
                    COUNT(*) FILTER (WHERE status <> 'resolved' AND assignee_id IS NULL) \
             FROM support_conversations",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(SupportLoad { open, unassigned })
    }
}
