//! Support chat: conversation states, priorities, message rules, the
//! round-robin auto-assigner and the metrics computed over the conversation
//! event log. Everything here is pure: callers pass the time in.

use crate::{DomainError, Millis};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

/// The longest message body, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// The longest CSAT comment, in characters.
pub const MAX_CSAT_COMMENT_CHARS: usize = 2000;

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConvStatus {
    /// Waiting for staff.
    Open,
    /// Waiting for the customer.
    Pending,
    /// Put aside until a time (or the customer's next message).
    Snoozed,
    /// Done; the customer is asked for CSAT.
    Resolved,
}

impl ConvStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConvStatus::Open => "open",
            ConvStatus::Pending => "pending",
            ConvStatus::Snoozed => "snoozed",
            ConvStatus::Resolved => "resolved",
        }
    }
}

impl std::str::FromStr for ConvStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(ConvStatus::Open),
            "pending" => Ok(ConvStatus::Pending),
            "snoozed" => Ok(ConvStatus::Snoozed),
            "resolved" => Ok(ConvStatus::Resolved),
            other => Err(DomainError::invalid(
                "status",
                format!("unknown status {other:?}: use open, pending, snoozed or resolved"),
            )),
        }
    }
}

/// A conversation's priority: it picks the SLA policy.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Low.
    Low,
    /// Normal (the default).
    Normal,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

impl std::str::FromStr for Priority {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "low" => Ok(Priority::Low),
            "normal" => Ok(Priority::Normal),
            "high" => Ok(Priority::High),
            "urgent" => Ok(Priority::Urgent),
            other => Err(DomainError::invalid(
                "priority",
                format!("unknown priority {other:?}: use low, normal, high or urgent"),
            )),
        }
    }
}

/// Validates a message body: 1 to [`MAX_MESSAGE_CHARS`] characters after
/// trimming. Markup is kept as typed; it is escaped when rendered.
pub fn message_body(body: &str) -> Result<String, DomainError> {
    let b = body.trim();
    if b.is_empty() {
        return Err(DomainError::invalid("body", "must not be empty"));
    }
    let n = b.chars().count();
    if n > MAX_MESSAGE_CHARS {
        return Err(DomainError::invalid(
            "body",
            format!("is {n} characters; the limit is {MAX_MESSAGE_CHARS}"),
        ));
    }
    if b.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(DomainError::invalid(
            "body",
            "must not contain control characters",
        ));
    }
    Ok(b.to_string())
}

/// Validates a canned response's short code: `refund` or `/refund`, 1 to 32
/// of `a-z 0-9 - _`. Returns it without the slash.
pub fn shortcode(code: &str) -> Result<String, DomainError> {
    let c = code.trim().trim_start_matches('/').to_ascii_lowercase();
    if c.is_empty() || c.len() > 32 {
        return Err(DomainError::invalid(
            "shortcode",
            "must be 1 to 32 characters",
        ));
    }
    if !c
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        return Err(DomainError::invalid(
            "shortcode",
            "may contain only a-z, 0-9, '-' and '_'",
        ));
    }
    Ok(c)
}

/// If a reply is a lone short code (`/refund`), the code.
pub fn reply_shortcode(body: &str) -> Option<&str> {
    let b = body.trim();
    let code = b.strip_prefix('/')?;
    (!code.is_empty()
        && code
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'))
    .then_some(code)
}

/// A first name for public display: the first word of a display name, or of
/// an e-mail's local part split at `.`, `_`, `-`, `+` and digits; capitalised.
/// Never the whole address.
pub fn first_name(name_or_email: &str) -> String {
    let local = name_or_email.split('@').next().unwrap_or("");
    let word = local
        .split(|c: char| !c.is_alphabetic())
        .find(|w| !w.is_empty())
        .unwrap_or("");
    let mut chars = word.chars();
    match chars.next() {
        Some(f) => {
            let mut s: String = f.to_uppercase().collect();
            s.extend(chars.take(29).flat_map(|c| c.to_lowercase()));
            s
        }
        None => "Customer".to_string(),
    }
}

/// One agent as the auto-assigner sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentLoad {
    /// The agent's account.
    pub agent_id: i64,
    /// Most unresolved conversations at once.
    pub capacity: u32,
    /// Unresolved conversations assigned now.
    pub open: u32,
    /// When this agent last got a conversation (0 = never).
    pub last_assigned_at: Millis,
}

/// Round-robin with capacity: of the agents below capacity, the one who
/// waited longest since their last assignment (ties: the lowest id). `None`
/// when everyone is full: the conversation waits in the unassigned queue.
pub fn pick_agent(agents: &[AgentLoad]) -> Option<i64> {
    agents
        .iter()
        .filter(|a| a.open < a.capacity)
        .min_by_key(|a| (a.last_assigned_at, a.agent_id))
        .map(|a| a.agent_id)
}

/// Assigns a queue (oldest first) to agents, updating their loads as it goes.
/// Returns (conversation, agent) pairs; conversations left over stay queued.
pub fn assign_queue(agents: &mut [AgentLoad], queue: &[i64], now: Millis) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for (i, conv) in queue.iter().enumerate() {
        let Some(id) = pick_agent(agents) else { break };
        if let Some(a) = agents.iter_mut().find(|a| a.agent_id == id) {
            a.open += 1;
            // Strictly increasing within one batch keeps the rotation fair.
            a.last_assigned_at = now + i as i64;
        }
        out.push((*conv, id));
    }
    out
}

/// A staff account (agent or admin) as stored, for the auto-assigner and the
/// agents page: settings it never saved are `None` and take the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaffSeat {
    /// The account.
    pub agent_id: i64,
    /// Its role is agent (rather than admin).
    pub is_agent: bool,
    /// Its saved capacity.
    pub capacity: Option<u32>,
    /// Its saved availability.
    pub available: Option<bool>,
    /// Unresolved conversations assigned to it now.
    pub open: u32,
    /// When it last got a conversation (0 = never).
    pub last_assigned_at: Millis,
}

impl StaffSeat {
    /// Most unresolved conversations at once: the saved capacity, or the
    /// installation's default.
    pub fn capacity_or(&self, default_capacity: u32) -> u32 {
        self.capacity.unwrap_or(default_capacity)
    }

    /// Takes part in auto-assignment: the saved setting, or by default agents
    /// do and admins (who may answer too) do not.
    pub fn takes_part(&self) -> bool {
        self.available.unwrap_or(self.is_agent)
    }
}

/// The auto-assigner's write plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignPlan {
    /// (conversation, agent) pairs, in queue order.
    pub assigned: Vec<(i64, i64)>,
    /// Each agent who got conversations with their new last-assignment time,
    /// in the order they first got one.
    pub stamps: Vec<(i64, Millis)>,
}

/// Who gets the unassigned queue (oldest first): the staff who take part
/// ([`StaffSeat::takes_part`]), each up to their capacity
/// ([`StaffSeat::capacity_or`]), in round-robin order ([`assign_queue`]).
pub fn plan_assignment(
    staff: &[StaffSeat],
    queue: &[i64],
    default_capacity: u32,
    now: Millis,
) -> AssignPlan {
    let mut loads: Vec<AgentLoad> = staff
        .iter()
        .filter(|s| s.takes_part())
        .map(|s| AgentLoad {
            agent_id: s.agent_id,
            capacity: s.capacity_or(default_capacity),
            open: s.open,
            last_assigned_at: s.last_assigned_at,
        })
        .collect();
    let assigned = assign_queue(&mut loads, queue, now);
    let mut stamps: Vec<(i64, Millis)> = Vec::new();
    for (_, agent) in &assigned {
        if stamps.iter().any(|(a, _)| a == agent) {
            continue;
        }
        if let Some(l) = loads.iter().find(|l| l.agent_id == *agent) {
            stamps.push((*agent, l.last_assigned_at));
        }
    }
    AssignPlan { assigned, stamps }
}

/// Where a read marker moves when one side says it has read up to
/// `requested`: forward only, never past the newest message. `None` when it
/// stays where it is.
pub fn read_marker(current: i64, requested: i64, newest: i64) -> Option<i64> {
    let target = requested.min(newest);
    (target > current).then_some(target)
}

/// What happened to a conversation: the log the metrics are computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The customer opened it.
    Created,
    /// A customer message.
    CustomerMessage,
    /// A public agent reply.
    AgentMessage {
        /// The agent.
        agent_id: i64,
    },
    /// An internal note.
    Note {
        /// The agent.
        agent_id: i64,
    },
    /// Assigned (or unassigned).
    Assigned {
        /// Previous assignee.
        from: Option<i64>,
        /// New assignee.
        to: Option<i64>,
        /// By a person (a reassignment) rather than by the auto-assigner.
        manual: bool,
    },
    /// The status changed.
    Status {
        /// The new status.
        to: ConvStatus,
    },
    /// The customer rated it.
    Csat {
        /// 1 to 5.
        score: u8,
    },
    /// The customer shared the transcript.
    Shared,
    /// The share link was revoked.
    ShareRevoked,
    /// Someone opened the shared transcript.
    ShareViewed,
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogEvent {
    /// The conversation.
    pub conversation_id: i64,
    /// When, ms.
    pub at: Millis,
    /// What.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// SLA targets for one priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SlaPolicy {
    /// The priority it applies to.
    pub priority: Priority,
    /// First reply within this many seconds.
    pub first_reply_s: i64,
    /// Resolved within this many seconds.
    pub resolution_s: i64,
}

/// The facts of one conversation the log does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvInfo {
    /// Id.
    pub id: i64,
    /// Priority.
    pub priority: Priority,
}

/// Metrics of one conversation.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ConvMetrics {
    /// Conversation id.
    pub conversation_id: i64,
    /// Opened, ms.
    pub created_at: Millis,
    /// The assignee at the end of the log (or now).
    pub agent_id: Option<i64>,
    /// Priority.
    pub priority: Priority,
    /// Current status.
    pub status: ConvStatus,
    /// First customer message → first agent reply, ms.
    pub first_response_ms: Option<Millis>,
    /// Each later customer message (first of a run) → the next agent reply, ms.
    pub next_reply_ms: Vec<Millis>,
    /// Opened → last resolution, ms (when resolved now).
    pub resolution_ms: Option<Millis>,
    /// Resolved on first contact: resolved once, never reopened, never reassigned.
    pub first_contact_resolution: bool,
    /// The latest CSAT score.
    pub csat: Option<u8>,
    /// Manual reassignments.
    pub reassignments: u32,
    /// Times the transcript was shared.
    pub shares: u32,
    /// Views of its shared transcript.
    pub share_views: u32,
    /// First reply SLA: `Some(true)` met, `Some(false)` breached (also while
    /// still waiting past the target), `None` still within the target.
    pub first_reply_sla_met: Option<bool>,
    /// Resolution SLA, same convention.
    pub resolution_sla_met: Option<bool>,
}

impl ConvMetrics {
    /// Mean next-reply time, ms.
    pub fn next_reply_avg_ms(&self) -> Option<Millis> {
        mean(&self.next_reply_ms)
    }

    /// Whether any SLA is breached.
    pub fn sla_breached(&self) -> bool {
        self.first_reply_sla_met == Some(false) || self.resolution_sla_met == Some(false)
    }
}

fn mean(xs: &[Millis]) -> Option<Millis> {
    (!xs.is_empty()).then(|| xs.iter().sum::<i64>() / xs.len() as i64)
}

fn sla_verdict(
    start: Option<Millis>,
    done: Option<Millis>,
    target_s: i64,
    now: Millis,
) -> Option<bool> {
    let start = start?;
    let target = start + target_s * 1000;
    match done {
        Some(t) => Some(t <= target),
        None if now > target => Some(false),
        None => None,
    }
}

/// Computes each conversation's metrics from the log (any order; sorted by
/// time, then log order). `now` decides SLA breaches of what is still waiting.
pub fn conversation_metrics(
    convs: &[ConvInfo],
    log: &[LogEvent],
    sla: &[SlaPolicy],
    now: Millis,
) -> Vec<ConvMetrics> {
    let mut by_conv: HashMap<i64, Vec<&LogEvent>> = HashMap::new();
    for e in log {
        by_conv.entry(e.conversation_id).or_default().push(e);
    }
    let policy = |p: Priority| sla.iter().find(|s| s.priority == p).copied();
    let mut out = Vec::with_capacity(convs.len());
    for c in convs {
        let mut evs = by_conv.remove(&c.id).unwrap_or_default();
        evs.sort_by_key(|e| e.at);
        let mut m = ConvMetrics {
            conversation_id: c.id,
            created_at: evs.first().map(|e| e.at).unwrap_or(0),
            agent_id: None,
            priority: c.priority,
            status: ConvStatus::Open,
            first_response_ms: None,
            next_reply_ms: Vec::new(),
            resolution_ms: None,
            first_contact_resolution: false,
            csat: None,
            reassignments: 0,
            shares: 0,
            share_views: 0,
            first_reply_sla_met: None,
            resolution_sla_met: None,
        };
        let mut first_customer: Option<Millis> = None;
        let mut first_reply: Option<Millis> = None;
        // The first unanswered customer message after the first reply.
        let mut waiting_since: Option<Millis> = None;
        let mut resolutions = 0u32;
        let mut reopened = false;
        let mut last_resolved: Option<Millis> = None;
        for e in &evs {
            match &e.kind {
                EventKind::Created => m.created_at = e.at,
                EventKind::CustomerMessage => {
                    if first_customer.is_none() {
                        first_customer = Some(e.at);
                    } else if first_reply.is_some() && waiting_since.is_none() {
                        waiting_since = Some(e.at);
                    }
                }
                EventKind::AgentMessage { .. } => {
                    if first_reply.is_none() {
                        if let Some(fc) = first_customer {
                            first_reply = Some(e.at);
                            m.first_response_ms = Some(e.at - fc);
                        }
                    } else if let Some(w) = waiting_since.take() {
                        m.next_reply_ms.push(e.at - w);
                    }
                }
                EventKind::Note { .. } => {}
                EventKind::Assigned { to, manual, .. } => {
                    if *manual {
                        m.reassignments += 1;
                    }
                    m.agent_id = *to;
                }
                EventKind::Status { to } => {
                    if m.status == ConvStatus::Resolved && *to != ConvStatus::Resolved {
                        reopened = true;
                    }
                    if *to == ConvStatus::Resolved && m.status != ConvStatus::Resolved {
                        resolutions += 1;
                        last_resolved = Some(e.at);
                    }
                    m.status = *to;
                }
                EventKind::Csat { score } => m.csat = Some(*score),
                EventKind::Shared => m.shares += 1,
                EventKind::ShareRevoked => {}
                EventKind::ShareViewed => m.share_views += 1,
            }
        }
        if m.status == ConvStatus::Resolved {
            m.resolution_ms = last_resolved.map(|t| t - m.created_at);
            m.first_contact_resolution = resolutions == 1 && !reopened && m.reassignments == 0;
        }
        if let Some(p) = policy(c.priority) {
            m.first_reply_sla_met = sla_verdict(first_customer, first_reply, p.first_reply_s, now);
            let resolved_at = (m.status == ConvStatus::Resolved)
                .then_some(last_resolved)
                .flatten();
            m.resolution_sla_met =
                sla_verdict(Some(m.created_at), resolved_at, p.resolution_s, now);
        }
        out.push(m);
    }
    out
}

/// Figures for a group of conversations (an agent, a team, a day).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Aggregate {
    /// The group: an agent id, a team name or a day (`YYYY-MM-DD`).
    pub key: String,
    /// Conversations in it.
    pub conversations: u32,
    /// Their ids, for drill-down.
    pub ids: Vec<i64>,
    /// Median first response, ms.
    pub first_response_median_ms: Option<Millis>,
    /// Mean next reply, ms.
    pub next_reply_avg_ms: Option<Millis>,
    /// Median resolution, ms.
    pub resolution_median_ms: Option<Millis>,
    /// Resolved conversations.
    pub resolved: u32,
    /// Share of resolved ones resolved on first contact, 0 to 1.
    pub fcr_rate: Option<f64>,
    /// Mean CSAT, 1 to 5.
    pub csat_avg: Option<f64>,
    /// CSAT answers.
    pub csat_count: u32,
    /// Manual reassignments.
    pub reassignments: u32,
    /// Transcripts shared.
    pub shares: u32,
    /// Views of shared transcripts.
    pub share_views: u32,
    /// Share of SLA verdicts met (first reply and resolution), 0 to 1.
    pub sla_met_rate: Option<f64>,
}

fn median(mut xs: Vec<Millis>) -> Option<Millis> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_unstable();
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2
    })
}

/// Aggregates conversation metrics by a key (`None` drops the conversation).
pub fn aggregate<F>(rows: &[ConvMetrics], key: F) -> Vec<Aggregate>
where
    F: Fn(&ConvMetrics) -> Option<String>,
{
    let mut groups: BTreeMap<String, Vec<&ConvMetrics>> = BTreeMap::new();
    for r in rows {
        if let Some(k) = key(r) {
            groups.entry(k).or_default().push(r);
        }
    }
    groups
        .into_iter()
        .map(|(key, g)| {
            let resolved: Vec<_> = g
                .iter()
                .filter(|r| r.status == ConvStatus::Resolved)
                .collect();
            let csat: Vec<u8> = g.iter().filter_map(|r| r.csat).collect();
            let verdicts: Vec<bool> = g
                .iter()
                .flat_map(|r| [r.first_reply_sla_met, r.resolution_sla_met])
                .flatten()
                .collect();
            let next: Vec<Millis> = g
                .iter()
                .flat_map(|r| r.next_reply_ms.iter().copied())
                .collect();
            Aggregate {
                key,
                conversations: g.len() as u32,
                ids: g.iter().map(|r| r.conversation_id).collect(),
                first_response_median_ms: median(
                    g.iter().filter_map(|r| r.first_response_ms).collect(),
                ),
                next_reply_avg_ms: mean(&next),
                resolution_median_ms: median(
                    resolved.iter().filter_map(|r| r.resolution_ms).collect(),
                ),
                resolved: resolved.len() as u32,
                fcr_rate: (!resolved.is_empty()).then(|| {
                    resolved
                        .iter()
                        .filter(|r| r.first_contact_resolution)
                        .count() as f64
                        / resolved.len() as f64
                }),
                csat_avg: (!csat.is_empty())
                    .then(|| csat.iter().map(|&s| f64::from(s)).sum::<f64>() / csat.len() as f64),
                csat_count: csat.len() as u32,
                reassignments: g.iter().map(|r| r.reassignments).sum(),
                shares: g.iter().map(|r| r.shares).sum(),
                share_views: g.iter().map(|r| r.share_views).sum(),
                sla_met_rate: (!verdicts.is_empty()).then(|| {
                    verdicts.iter().filter(|v| **v).count() as f64 / verdicts.len() as f64
                }),
            }
        })
        .collect()
}

/// `YYYY-MM-DD` (UTC) of a time in ms.
pub fn utc_day(ms: Millis) -> String {
    // Civil-from-days (H. Hinnant), exact for the proleptic Gregorian calendar.
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(id: i64, cap: u32, open: u32, last: Millis) -> AgentLoad {
        AgentLoad {
            agent_id: id,
            capacity: cap,
            open,
            last_assigned_at: last,
        }
    }

    #[test]
    fn round_robin_rotates_fairly_and_respects_capacity() {
        let mut agents = vec![load(1, 2, 0, 0), load(2, 2, 0, 0), load(3, 1, 0, 0)];
        let got = assign_queue(&mut agents, &[10, 11, 12, 13, 14, 15, 16], 1000);
        // 1, 2, 3 in turn; 3 is then full (capacity 1), 1 and 2 alternate,
        // and the rest waits in the queue.
        assert_eq!(got, vec![(10, 1), (11, 2), (12, 3), (13, 1), (14, 2)]);
        assert!(pick_agent(&agents).is_none());
        // One frees a slot: the freed agent gets the next one.
        agents[2].open = 0;
        assert_eq!(pick_agent(&agents), Some(3));
    }

    #[test]
    fn round_robin_prefers_who_waited_longest() {
        let agents = [load(1, 5, 0, 300), load(2, 5, 4, 100), load(3, 5, 0, 200)];
        assert_eq!(pick_agent(&agents), Some(2));
        let agents = [load(1, 5, 0, 300), load(2, 4, 4, 100), load(3, 5, 0, 200)];
        assert_eq!(pick_agent(&agents), Some(3));
        assert_eq!(pick_agent(&[]), None);
        assert_eq!(pick_agent(&[load(1, 0, 0, 0)]), None);
    }

    fn seat(
        id: i64,
        is_agent: bool,
        cap: Option<u32>,
        avail: Option<bool>,
        open: u32,
    ) -> StaffSeat {
        StaffSeat {
            agent_id: id,
            is_agent,
            capacity: cap,
            available: avail,
            open,
            last_assigned_at: 0,
        }
    }

    #[test]
    fn staff_defaults_agents_in_admins_out() {
        assert!(seat(1, true, None, None, 0).takes_part());
        assert!(!seat(2, false, None, None, 0).takes_part());
        assert!(seat(2, false, None, Some(true), 0).takes_part());
        assert!(!seat(1, true, None, Some(false), 0).takes_part());
        assert_eq!(seat(1, true, None, None, 0).capacity_or(5), 5);
        assert_eq!(seat(1, true, Some(0), None, 0).capacity_or(5), 0);
    }

    #[test]
    fn plan_places_the_queue_with_who_takes_part() {
        let staff = [
            // An agent with the default capacity (2), one already open.
            seat(1, true, None, None, 1),
            // An admin who never opted in: skipped.
            seat(2, false, None, None, 0),
            // An agent who switched off: skipped.
            seat(3, true, Some(9), Some(false), 0),
            // An admin who opted in, room for two.
            seat(4, false, Some(2), Some(true), 0),
        ];
        let plan = plan_assignment(&staff, &[10, 11, 12, 13], 2, 1000);
        assert_eq!(plan.assigned, vec![(10, 1), (11, 4), (12, 4)]);
        // One stamp per agent: the time of their last conversation in the batch.
        assert_eq!(plan.stamps, vec![(1, 1000), (4, 1002)]);
        assert_eq!(plan_assignment(&staff, &[], 2, 1000), AssignPlan::default());
        let nobody = [seat(2, false, None, None, 0)];
        assert!(plan_assignment(&nobody, &[10], 2, 1000).assigned.is_empty());
    }

    #[test]
    fn read_markers_move_forward_only_and_not_past_the_end() {
        assert_eq!(read_marker(3, 5, 9), Some(5));
        assert_eq!(read_marker(3, 50, 9), Some(9));
        assert_eq!(read_marker(5, 3, 9), None);
        assert_eq!(read_marker(9, 50, 9), None);
        assert_eq!(read_marker(0, 4, 0), None);
    }

    #[test]
    fn message_rules() {
        assert_eq!(message_body("  hi  ").unwrap(), "hi");
        assert!(message_body("   ").is_err());
        assert!(message_body(&"x".repeat(MAX_MESSAGE_CHARS)).is_ok());
        let e = message_body(&"x".repeat(MAX_MESSAGE_CHARS + 1)).unwrap_err();
        assert!(e.to_string().contains("limit"), "{e}");
        assert!(message_body("a\u{0}b").is_err());
        assert_eq!(message_body("<b>x</b>").unwrap(), "<b>x</b>");
        assert_eq!(shortcode("/Refund").unwrap(), "refund");
        assert!(shortcode("re fund").is_err());
        assert_eq!(reply_shortcode(" /refund "), Some("refund"));
        assert_eq!(reply_shortcode("/refund now"), None);
        assert_eq!(reply_shortcode("refund"), None);
    }

    #[test]
    fn first_names_only() {
        assert_eq!(first_name("jane.doe@example.com"), "Jane");
        assert_eq!(first_name("JOHN_smith+x@example.com"), "John");
        assert_eq!(first_name("42@example.com"), "Customer");
        assert_eq!(first_name("Ada Lovelace"), "Ada");
    }

    #[test]
    fn utc_days() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(1_700_000_000_000), "2023-11-14");
        assert_eq!(utc_day(951_782_400_000), "2000-02-29");
    }

    fn ev(conversation_id: i64, at_s: i64, kind: EventKind) -> LogEvent {
        LogEvent {
            conversation_id,
            at: at_s * 1000,
            kind,
        }
    }

    /// A known log: conversation 1 answered fast and resolved once; 2
    /// reassigned, resolved, reopened, resolved again; 3 still waiting.
    fn known_log() -> (Vec<ConvInfo>, Vec<LogEvent>, Vec<SlaPolicy>) {
        use EventKind::*;
        let convs = vec![
            ConvInfo {
                id: 1,
                priority: Priority::Normal,
            },
            ConvInfo {
                id: 2,
                priority: Priority::High,
            },
            ConvInfo {
                id: 3,
                priority: Priority::Urgent,
            },
        ];
        let log = vec![
            ev(1, 0, Created),
            ev(1, 0, CustomerMessage),
            ev(
                1,
                0,
                Assigned {
                    from: None,
                    to: Some(7),
                    manual: false,
                },
            ),
            ev(1, 60, Note { agent_id: 7 }),
            ev(1, 120, AgentMessage { agent_id: 7 }),
            ev(1, 200, CustomerMessage),
            ev(1, 230, CustomerMessage),
            ev(1, 500, AgentMessage { agent_id: 7 }),
            ev(
                1,
                600,
                Status {
                    to: ConvStatus::Resolved,
                },
            ),
            ev(1, 650, Csat { score: 5 }),
            ev(1, 700, Shared),
            ev(1, 710, ShareViewed),
            ev(1, 720, ShareViewed),
            ev(2, 1000, Created),
            ev(2, 1000, CustomerMessage),
            ev(
                2,
                1000,
                Assigned {
                    from: None,
                    to: Some(7),
                    manual: false,
                },
            ),
            ev(
                2,
                1100,
                Assigned {
                    from: Some(7),
                    to: Some(8),
                    manual: true,
                },
            ),
            ev(2, 1900, AgentMessage { agent_id: 8 }),
            ev(
                2,
                2000,
                Status {
                    to: ConvStatus::Resolved,
                },
            ),
            ev(2, 2100, Csat { score: 2 }),
            ev(2, 3000, CustomerMessage),
            ev(
                2,
                3000,
                Status {
                    to: ConvStatus::Open,
                },
            ),
            ev(2, 3300, AgentMessage { agent_id: 8 }),
            ev(
                2,
                4000,
                Status {
                    to: ConvStatus::Resolved,
                },
            ),
            ev(2, 4100, Csat { score: 4 }),
            ev(3, 5000, Created),
            ev(3, 5000, CustomerMessage),
        ];
        let sla = vec![
            SlaPolicy {
                priority: Priority::Normal,
                first_reply_s: 300,
                resolution_s: 3600,
            },
            SlaPolicy {
                priority: Priority::High,
                first_reply_s: 600,
                resolution_s: 1800,
            },
            SlaPolicy {
                priority: Priority::Urgent,
                first_reply_s: 60,
                resolution_s: 600,
            },
        ];
        (convs, log, sla)
    }

    #[test]
    fn metrics_on_a_known_log() {
        let (convs, log, sla) = known_log();
        // The clock: 5030 s, so conversation 3 has waited 30 s (within 60 s).
        let m = conversation_metrics(&convs, &log, &sla, 5_030_000);
        let c1 = &m[0];
        assert_eq!(c1.first_response_ms, Some(120_000));
        assert_eq!(c1.next_reply_ms, vec![300_000]); // 200 → 500, the run's first message
        assert_eq!(c1.resolution_ms, Some(600_000));
        assert!(c1.first_contact_resolution);
        assert_eq!((c1.csat, c1.shares, c1.share_views), (Some(5), 1, 2));
        assert_eq!(
            (c1.first_reply_sla_met, c1.resolution_sla_met),
            (Some(true), Some(true))
        );
        assert_eq!(c1.agent_id, Some(7));

        let c2 = &m[1];
        assert_eq!(c2.first_response_ms, Some(900_000));
        assert_eq!(c2.next_reply_ms, vec![300_000]);
        assert_eq!(c2.resolution_ms, Some(3_000_000)); // to the last resolution
        assert!(!c2.first_contact_resolution); // reassigned and reopened
        assert_eq!((c2.reassignments, c2.csat), (1, Some(4))); // the second answer counts
        assert_eq!(
            (c2.first_reply_sla_met, c2.resolution_sla_met),
            (Some(false), Some(false))
        );
        assert_eq!(c2.agent_id, Some(8));

        let c3 = &m[2];
        assert_eq!((c3.first_response_ms, c3.status), (None, ConvStatus::Open));
        assert_eq!(
            (c3.first_reply_sla_met, c3.resolution_sla_met),
            (None, None)
        );
        // Later, the same log breaches conversation 3's first-reply target.
        let later = conversation_metrics(&convs, &log, &sla, 5_061_000);
        assert_eq!(later[2].first_reply_sla_met, Some(false));
        assert!(later[2].sla_breached());

        let by_agent = aggregate(&m, |r| r.agent_id.map(|a| a.to_string()));
        assert_eq!(by_agent.len(), 2);
        let a7 = &by_agent[0];
        assert_eq!(
            (a7.key.as_str(), a7.conversations, a7.ids.clone()),
            ("7", 1, vec![1])
        );
        assert_eq!(a7.fcr_rate, Some(1.0));
        assert_eq!(a7.sla_met_rate, Some(1.0));
        let a8 = &by_agent[1];
        assert_eq!(
            (a8.reassignments, a8.csat_avg, a8.fcr_rate),
            (1, Some(4.0), Some(0.0))
        );
        assert_eq!(a8.sla_met_rate, Some(0.0));

        let all = aggregate(&m, |_| Some("all".into()));
        let a = &all[0];
        assert_eq!(a.conversations, 3);
        assert_eq!(a.first_response_median_ms, Some(510_000)); // (120 + 900) / 2 s
        assert_eq!(a.next_reply_avg_ms, Some(300_000));
        assert_eq!(a.resolution_median_ms, Some(1_800_000));
        assert_eq!(a.fcr_rate, Some(0.5));
        assert_eq!(a.csat_avg, Some(4.5));
        assert_eq!((a.shares, a.share_views, a.resolved), (1, 2, 2));
        assert_eq!(a.sla_met_rate, Some(0.5)); // 2 of 4 verdicts; c3 has none yet

        let by_day = aggregate(&m, |r| Some(utc_day(r.created_at)));
        assert_eq!(by_day.len(), 1);
        assert_eq!(by_day[0].key, "1970-01-01");
    }
}
