//! Support chat pages: the customer's transcripts (printable, shareable,
//! e-mailable, with CSAT), the public transcript `/t/{token}`, the agent
//! inbox and conversation view with the context panel, settings (canned
//! responses, SLA, agents) and the metrics page with drill-down and CSV.
//! The live parts (the widget on every page, the inbox, the conversation)
//! are driven by `static/support.js` over the SSE API.

use super::{render, CsrfForm, Layout, Page, PageForm};
use crate::auth::{self, Admin, CurrentUser, Staff};
use crate::chart::{line_chart, ChartIn, LineChart, SeriesIn, Unit};
use crate::error::{AppError, PageError};
use crate::format::{clock_label, fmt_time};
use crate::support::{self, Report};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use marquee_domain::support::{
    first_name, Aggregate, ConvMetrics, ConvStatus, Priority, SlaPolicy,
};
use marquee_domain::text::csv_cell;
use marquee_domain::Millis;
use marquee_store::support::{
    AgentSettings, AuthorKind, Canned, Conversation, CsatAnswer, EventRecord, InboxQuery, Message,
    ShareInfo, SupportContext,
};
use serde::Deserialize;
use std::str::FromStr;

const SUPPORT_JS: &str = include_str!("../../static/support.js");

/// The support pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/support", get(my_support))
        .route("/support/conversations/{id}/transcript", get(transcript))
        .route("/support/conversations/{id}/share", post(share_submit))
        .route("/support/conversations/{id}/unshare", post(unshare_submit))
        .route("/support/conversations/{id}/email", post(email_submit))
        .route("/support/conversations/{id}/csat", post(csat_submit))
        .route("/t/{token}", get(public_transcript))
        .route("/staff/support", get(inbox_page))
        .route("/staff/support/list", get(inbox_list))
        .route("/staff/support/conversations/{id}", get(conversation_page))
        .route(
            "/staff/support/conversations/{id}/status",
            post(status_submit),
        )
        .route(
            "/staff/support/conversations/{id}/assign",
            post(assign_submit),
        )
        .route(
            "/staff/support/conversations/{id}/priority",
            post(priority_submit),
        )
        .route("/staff/support/settings", get(settings_page))
        .route("/staff/support/canned", post(canned_submit))
        .route(
            "/staff/support/canned/{id}/delete",
            post(canned_delete_submit),
        )
        .route("/staff/support/sla", post(sla_submit))
        .route("/staff/support/agents/{id}", post(agent_submit))
        .route("/staff/support/metrics", get(metrics_page))
        .route("/staff/support/metrics.csv", get(metrics_csv))
        .route("/staff/support/drill", get(drill_page))
        .route(
            "/static/support.js",
            get(|| async { super::static_file("text/javascript", SUPPORT_JS) }),
        )
}

fn logged_in(page: &Page) -> Result<CurrentUser, PageError> {
    page.user
        .clone()
        .ok_or_else(|| PageError(AppError::Unauthorized("log in first".into())))
}

/// One transcript line.
pub struct Line {
    /// Id.
    pub id: i64,
    /// First name of the author.
    pub who: String,
    /// `customer`, `agent`, `system`.
    pub kind: &'static str,
    /// Text (escaped by askama).
    pub body: String,
    /// When.
    pub when: String,
    /// Internal note (staff view only).
    pub internal: bool,
    /// "Watching X on Y at 20:34" (staff view only).
    pub watch: Option<String>,
    /// Files sent with it (filled by `with_attachments`).
    pub attachments: Vec<support::attachments::AttachmentView>,
}

/// Adds each line's attachments (none on public transcripts: their
/// downloads need the conversation's customer or staff).
async fn with_attachments(
    state: &AppState,
    conversation_id: i64,
    mut lines: Vec<Line>,
    staff: bool,
) -> Result<Vec<Line>, AppError> {
    let mut by = support::attachments::by_message(state, conversation_id, staff).await?;
    for l in &mut lines {
        l.attachments = by.remove(&l.id).unwrap_or_default();
    }
    Ok(lines)
}

/// `20:34` for a position in ms (templates pass references).
pub fn clock(ms: impl std::borrow::Borrow<i64>) -> String {
    clock_label(*ms.borrow())
}

fn watch_label(m: &Message) -> Option<String> {
    m.watch.as_ref().map(|w| {
        format!(
            "{} {} on {} ({}) at {} of {}",
            if w.live {
                "Watching"
            } else {
                "Had been watching"
            },
            w.title,
            w.device,
            w.device_kind,
            clock_label(w.position_ms),
            clock_label(w.duration_ms)
        )
    })
}

fn lines(msgs: &[Message], staff: bool) -> Vec<Line> {
    msgs.iter()
        .filter(|m| staff || !m.internal)
        .map(|m| Line {
            id: m.id,
            who: support::author_name(m),
            kind: m.author_kind.as_str(),
            body: m.body.clone(),
            when: fmt_time(m.created_at),
            internal: m.internal,
            watch: if staff { watch_label(m) } else { None },
            attachments: Vec::new(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "support/mine.html")]
struct MinePage {
    l: Layout,
    rows: Vec<(Conversation, String)>,
}

async fn my_support(State(state): State<AppState>, page: Page) -> Result<Response, PageError> {
    let Some(user) = page.user.clone() else {
        return Ok(auth::login_redirect("/support"));
    };
    let rows = state
        .store
        .conversations_of(user.account.id, 100)
        .await?
        .into_iter()
        .map(|c| {
            let w = fmt_time(c.last_message_at);
            (c, w)
        })
        .collect();
    Ok(render(&MinePage { l: page.l, rows })?.into_response())
}

#[derive(Template)]
#[template(path = "support/transcript.html")]
struct TranscriptPage {
    l: Layout,
    c: Conversation,
    customer: String,
    lines: Vec<Line>,
    owner: bool,
    share: Option<ShareInfo>,
    new_share_url: Option<String>,
    email_available: bool,
    notice: Option<String>,
    csat: Vec<CsatAnswer>,
    opened: String,
    max_upload: String,
}

#[derive(Deserialize)]
struct NoticeParam {
    notice: Option<String>,
}

async fn transcript_view(
    state: &AppState,
    page: Page,
    id: i64,
    new_share_url: Option<String>,
    notice: Option<String>,
) -> Result<Response, PageError> {
    let user = logged_in(&page)?;
    let c = support::readable(state, &user, id).await?;
    let msgs = state.store.messages(c.id, false, 0, 10_000).await?;
    let notice = notice.and_then(|n| match n.as_str() {
        "emailed" => Some("The transcript is on its way to your inbox.".to_string()),
        "revoked" => Some("The public link no longer works.".to_string()),
        "rated" => Some("Thank you for your rating.".to_string()),
        _ => None,
    });
    Ok(render(&TranscriptPage {
        customer: first_name(&c.customer_email),
        lines: with_attachments(state, c.id, lines(&msgs, false), false).await?,
        owner: c.account_id == Some(user.account.id),
        share: state.store.active_share(c.id).await?,
        new_share_url,
        email_available: state.config.smtp.configured(),
        notice,
        csat: state.store.csat_answers(c.id).await?,
        opened: fmt_time(c.created_at),
        max_upload: marquee_domain::attachments::human_size(
            i64::try_from(state.config.support.attachment_max_bytes).unwrap_or(i64::MAX),
        ),
        c,
        l: page.l,
    })?
    .into_response())
}

async fn transcript(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<NoticeParam>,
) -> Result<Response, PageError> {
    if page.user.is_none() {
        return Ok(auth::login_redirect(&format!(
            "/support/conversations/{id}/transcript"
        )));
    }
    transcript_view(&state, page, id, None, q.notice).await
}

async fn share_submit(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let user = logged_in(&page)?;
    let token = support::share(&state, &user, id).await?;
    let url = support::share_url(&state, &token);
    transcript_view(&state, page, id, Some(url), None).await
}

async fn unshare_submit(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let user = logged_in(&page)?;
    let c = support::readable(&state, &user, id).await?;
    support::revoke(&state, &user, id).await?;
    // Staff come back to the inbox's conversation page, the customer to the transcript.
    let back = if c.account_id == Some(user.account.id) {
        format!("/support/conversations/{id}/transcript?notice=revoked")
    } else {
        format!("/staff/support/conversations/{id}")
    };
    Ok(Redirect::to(&back).into_response())
}

async fn email_submit(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let user = logged_in(&page)?;
    support::email_transcript(&state, &user, id, None).await?;
    Ok(Redirect::to(&format!(
        "/support/conversations/{id}/transcript?notice=emailed"
    ))
    .into_response())
}

#[derive(Deserialize)]
struct CsatForm {
    csrf: String,
    score: u8,
    #[serde(default)]
    comment: String,
}

async fn csat_submit(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CsatForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let user = logged_in(&page)?;
    support::answer_csat(&state, &user, id, f.score, &f.comment).await?;
    Ok(Redirect::to(&format!(
        "/support/conversations/{id}/transcript?notice=rated"
    ))
    .into_response())
}

#[derive(Template)]
#[template(path = "support/public.html")]
struct PublicPage {
    customer: String,
    lines: Vec<Line>,
    description: String,
    opened: String,
    url: String,
    /// The site's link-preview image, absolute when `server.public_url` is set.
    image: String,
}

async fn public_transcript(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    // Unknown and revoked tokens take the same path: one lookup by hash.
    let hash = auth::token_hash(&token);
    let share = state.store.open_share(&hash, state.clock.now_ms()).await?;
    let Some(share) = share else {
        return Err(PageError(AppError::NotFound("no such transcript".into())));
    };
    let c = state
        .store
        .conversation(share.conversation_id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such transcript".into()))?;
    let msgs = state.store.messages(c.id, false, 0, 10_000).await?;
    let lines = lines(&msgs, false);
    let customer = first_name(&c.customer_email);
    let first_agent = msgs
        .iter()
        .find(|m| m.author_kind == AuthorKind::Agent)
        .map(support::author_name);
    let description = match first_agent {
        Some(a) => format!(
            "{customer}'s chat with {a}: {}",
            support::preview(lines.first().map(|l| l.body.as_str()).unwrap_or(""), 140)
        ),
        None => format!("{customer}'s chat with Marquee Support"),
    };
    let page = PublicPage {
        customer,
        lines,
        description,
        opened: fmt_time(c.created_at),
        url: support::share_url(&state, &token),
        image: support::share_image_url(&state),
    };
    let html = render(&page)?;
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        html,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "support/inbox.html")]
struct InboxPage {
    l: Layout,
    side: InboxSide,
}

#[derive(Deserialize)]
struct InboxParams {
    assignee: Option<String>,
    status: Option<String>,
    /// Search text.
    q: Option<String>,
    /// The conversation open beside the list (highlighted in it).
    current: Option<i64>,
}

impl InboxParams {
    /// The list's own query string (tab and search), which the split view
    /// keeps when a conversation is opened from it.
    fn list_query(&self) -> String {
        format!(
            "assignee={}&status={}&q={}",
            auth::url_encode(self.assignee.as_deref().unwrap_or("any")),
            auth::url_encode(self.status.as_deref().unwrap_or("")),
            auth::url_encode(self.q.as_deref().unwrap_or("")),
        )
    }
}

/// The inbox's left column (tabs, search, the live list), shared by the
/// inbox page and the conversation page of the split view.
pub struct InboxSide {
    filter: String,
    status: String,
    q: String,
    list_query: String,
    current: i64,
}

impl InboxSide {
    fn new(q: &InboxParams, current: i64) -> InboxSide {
        InboxSide {
            filter: q.assignee.clone().unwrap_or_else(|| "any".into()),
            status: q.status.clone().unwrap_or_default(),
            q: q.q.clone().unwrap_or_default(),
            list_query: q.list_query(),
            current,
        }
    }
}

async fn inbox_page(
    _s: Staff,
    page: Page,
    Query(q): Query<InboxParams>,
) -> Result<Html<String>, PageError> {
    render(&InboxPage {
        l: page.l,
        side: InboxSide::new(&q, 0),
    })
}

/// An inbox row.
pub struct InboxRow {
    c: Conversation,
    customer: String,
    preview: String,
    when: String,
    breach: Option<&'static str>,
    unread: bool,
}

#[derive(Template)]
#[template(path = "support/list.html")]
struct InboxList {
    rows: Vec<InboxRow>,
    /// Highlighted conversation.
    current: i64,
    /// Kept on the links (tab and search).
    list_query: String,
    searching: bool,
}

fn breach_of(c: &Conversation, sla: &[SlaPolicy], now: i64) -> Option<&'static str> {
    let p = sla.iter().find(|p| p.priority == c.priority)?;
    let first_due = c.created_at + p.first_reply_s * 1000;
    let resolve_due = c.created_at + p.resolution_s * 1000;
    let first_late = match c.first_reply_at {
        Some(t) => t > first_due,
        None => now > first_due,
    };
    let resolve_late = match (c.status, c.resolved_at) {
        (ConvStatus::Resolved, Some(t)) => t > resolve_due,
        _ => now > resolve_due,
    };
    if first_late {
        Some("First reply SLA breached")
    } else if resolve_late {
        Some("Resolution SLA breached")
    } else {
        None
    }
}

async fn inbox_list(
    State(state): State<AppState>,
    Staff(user): Staff,
    Query(q): Query<InboxParams>,
) -> Result<Html<String>, PageError> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(ConvStatus::from_str(s)?),
    };
    let assignee = support::assignee_filter(&user, q.assignee.as_deref())?;
    support::wake_snoozed(&state).await?;
    let convs = state
        .store
        .inbox(&InboxQuery {
            status,
            assignee,
            limit: 200,
            search: q.q.clone(),
        })
        .await?;
    let sla = state.store.sla_policies().await?;
    let now = state.clock.now_ms();
    let rows = convs
        .into_iter()
        .map(|c| InboxRow {
            customer: support::customer_label(&c),
            preview: support::preview(c.preview.as_deref().unwrap_or(""), 90),
            when: crate::format::short_when(c.last_message_at, now),
            breach: breach_of(&c, &sla, now),
            unread: c.last_message_id > c.agent_read_id,
            c,
        })
        .collect();
    render(&InboxList {
        rows,
        current: q.current.unwrap_or(0),
        list_query: q.list_query(),
        searching: q.q.as_deref().is_some_and(|s| !s.trim().is_empty()),
    })
}

#[derive(Template)]
#[template(path = "support/conversation.html")]
struct ConversationPage {
    l: Layout,
    c: Conversation,
    lines: Vec<Line>,
    ctx: Option<SupportContext>,
    agents: Vec<AgentSettings>,
    canned: Vec<Canned>,
    share: Option<ShareInfo>,
    csat: Vec<CsatAnswer>,
    breach: Option<&'static str>,
    opened: String,
    max_upload: String,
    last_id: i64,
    history: Vec<(String, String)>,
    side: InboxSide,
}

fn history_line(e: &EventRecord) -> Option<String> {
    let who = |x: &Option<String>| x.clone().unwrap_or_else(|| "the queue".into());
    Some(match e.kind.as_str() {
        "assigned" if e.manual => format!(
            "Reassigned from {} to {} by {}",
            who(&e.from_email),
            who(&e.to_email),
            e.actor_email.as_deref().unwrap_or("staff")
        ),
        "assigned" => format!("Assigned to {}", who(&e.to_email)),
        "status" => format!(
            "Status {}{}",
            e.status.as_deref().unwrap_or("?"),
            e.actor_email
                .as_deref()
                .map(|a| format!(" by {a}"))
                .unwrap_or_default()
        ),
        "csat" => format!("Rated {}/5", e.score.unwrap_or(0)),
        "shared" => "Transcript shared by the customer".into(),
        "share_revoked" => format!(
            "Public link revoked by {}",
            e.actor_email.as_deref().unwrap_or("?")
        ),
        _ => return None,
    })
}

async fn conversation_page(
    State(state): State<AppState>,
    Staff(user): Staff,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<InboxParams>,
) -> Result<Html<String>, PageError> {
    let c = support::readable(&state, &user, id).await?;
    let msgs = state.store.messages(c.id, true, 0, 10_000).await?;
    let sla = state.store.sla_policies().await?;
    render(&ConversationPage {
        l: page.l,
        side: InboxSide::new(&q, c.id),
        lines: with_attachments(&state, c.id, lines(&msgs, true), true).await?,
        max_upload: marquee_domain::attachments::human_size(
            i64::try_from(state.config.support.attachment_max_bytes).unwrap_or(i64::MAX),
        ),
        last_id: msgs.last().map(|m| m.id).unwrap_or(0),
        ctx: match c.account_id {
            Some(account_id) => state.store.support_context(account_id).await?,
            None => None,
        },
        agents: state
            .store
            .support_agents(state.config.support.default_capacity)
            .await?,
        canned: state.store.canned().await?,
        share: state.store.active_share(c.id).await?,
        csat: state.store.csat_answers(c.id).await?,
        breach: breach_of(&c, &sla, state.clock.now_ms()),
        opened: fmt_time(c.created_at),
        history: state
            .store
            .conversation_events(c.id)
            .await?
            .iter()
            .filter_map(|e| history_line(e).map(|l| (fmt_time(e.at), l)))
            .collect(),
        c,
    })
}

#[derive(Deserialize)]
struct StatusForm {
    csrf: String,
    status: String,
    /// Snooze for this many hours.
    hours: Option<u32>,
}

async fn status_submit(
    State(state): State<AppState>,
    Staff(user): Staff,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<StatusForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let status = ConvStatus::from_str(&f.status)?;
    let until = (status == ConvStatus::Snoozed).then(|| {
        state.clock.now_ms() + i64::from(f.hours.unwrap_or(4).clamp(1, 24 * 30)) * 3_600_000
    });
    support::change_status(&state, &user, id, status, until).await?;
    Ok(Redirect::to(&format!("/staff/support/conversations/{id}")).into_response())
}

#[derive(Deserialize)]
struct AssignForm {
    csrf: String,
    /// An account id, or empty for the queue.
    assignee: String,
}

async fn assign_submit(
    State(state): State<AppState>,
    Staff(user): Staff,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<AssignForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let to = match f.assignee.trim() {
        "" => None,
        s => Some(
            s.parse::<i64>()
                .map_err(|_| AppError::invalid("assignee", "not an account id"))?,
        ),
    };
    support::reassign(&state, &user, id, to).await?;
    Ok(Redirect::to(&format!("/staff/support/conversations/{id}")).into_response())
}

#[derive(Deserialize)]
struct PriorityForm {
    csrf: String,
    priority: String,
}

async fn priority_submit(
    State(state): State<AppState>,
    _s: Staff,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<PriorityForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let p = Priority::from_str(&f.priority)?;
    let c = state
        .store
        .set_priority(id, p, state.clock.now_ms())
        .await?;
    support::publish_conversation(&state, &c);
    Ok(Redirect::to(&format!("/staff/support/conversations/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "support/settings.html")]
struct SettingsPage {
    l: Layout,
    canned: Vec<Canned>,
    sla: Vec<SlaPolicy>,
    agents: Vec<AgentSettings>,
    default_capacity: u32,
    email_available: bool,
}

async fn settings_page(
    State(state): State<AppState>,
    _s: Staff,
    page: Page,
) -> Result<Html<String>, PageError> {
    render(&SettingsPage {
        l: page.l,
        canned: state.store.canned().await?,
        sla: state.store.sla_policies().await?,
        agents: state
            .store
            .support_agents(state.config.support.default_capacity)
            .await?,
        default_capacity: state.config.support.default_capacity,
        email_available: state.config.smtp.configured(),
    })
}

#[derive(Deserialize)]
struct CannedForm {
    csrf: String,
    shortcode: String,
    body: String,
}

async fn canned_submit(
    State(state): State<AppState>,
    Staff(user): Staff,
    page: Page,
    PageForm(f): PageForm<CannedForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let code = marquee_domain::support::shortcode(&f.shortcode)?;
    let body = marquee_domain::support::message_body(&f.body)?;
    state
        .store
        .create_canned(&code, &body, user.account.id, state.clock.now_ms())
        .await?;
    Ok(Redirect::to("/staff/support/settings").into_response())
}

async fn canned_delete_submit(
    State(state): State<AppState>,
    _s: Staff,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    state.store.delete_canned(id).await?;
    Ok(Redirect::to("/staff/support/settings").into_response())
}

#[derive(Deserialize)]
struct SlaForm {
    csrf: String,
    priority: String,
    first_reply_min: i64,
    resolution_h: i64,
}

async fn sla_submit(
    State(state): State<AppState>,
    _a: Admin,
    page: Page,
    PageForm(f): PageForm<SlaForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let p = SlaPolicy {
        priority: Priority::from_str(&f.priority)?,
        first_reply_s: f.first_reply_min.saturating_mul(60),
        resolution_s: f.resolution_h.saturating_mul(3600),
    };
    support::check_sla(&p)?;
    state.store.set_sla_policy(&p).await?;
    Ok(Redirect::to("/staff/support/settings").into_response())
}

#[derive(Deserialize)]
struct AgentForm {
    csrf: String,
    capacity: u32,
    #[serde(default)]
    available: Option<String>,
    team: String,
}

async fn agent_submit(
    State(state): State<AppState>,
    _a: Admin,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<AgentForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let team = support::check_agent(f.capacity, &f.team)?;
    let (_, assigned) = state
        .store
        .set_agent_settings(
            id,
            f.capacity,
            f.available.is_some(),
            &team,
            state.config.support.default_capacity,
            state.clock.now_ms(),
        )
        .await?;
    for (conv, _) in assigned {
        if let Some(c) = state.store.conversation(conv).await? {
            support::publish_conversation(&state, &c);
        }
    }
    Ok(Redirect::to("/staff/support/settings").into_response())
}

#[derive(Deserialize)]
struct WindowParams {
    days: Option<u32>,
}

/// One metric over the window's days as a chart with a date axis, round
/// value ticks, a tooltip per day and the figures (each day linking to its
/// conversations) behind it. Days without conversations are gaps for rates
/// and medians, zero for counts.
fn chart<F>(
    title: &str,
    unit: Unit,
    window: (Millis, Millis),
    report: &Report,
    qs: &str,
    f: F,
) -> LineChart
where
    F: Fn(&Aggregate) -> Option<f64>,
{
    const DAY: i64 = 86_400_000;
    let first = window.0.div_euclid(DAY) * DAY;
    let times: Vec<Millis> = (0..)
        .map(|i| first + i * DAY)
        .take_while(|t| *t < window.1)
        .collect();
    let mut values = Vec::with_capacity(times.len());
    let mut links = Vec::with_capacity(times.len());
    for t in &times {
        let key = marquee_domain::support::utc_day(*t);
        match report.by_day.iter().find(|a| a.key == key) {
            Some(a) => {
                values.push(f(a));
                links.push(Some(format!(
                    "/staff/support/drill?group=day&key={key}&{qs}"
                )));
            }
            None => {
                values.push((unit == Unit::Count).then_some(0.0));
                links.push(None);
            }
        }
    }
    line_chart(ChartIn {
        title: title.into(),
        unit,
        times,
        bucket_ms: DAY,
        series: vec![SeriesIn {
            label: title.into(),
            class: "s1",
            values,
        }],
        baseline: None,
        highlight: None,
        links,
        min_top: match unit {
            Unit::Share => 1.0,
            Unit::Score => 5.0,
            _ => 1.0,
        },
    })
}

fn minutes(ms: Option<i64>) -> Option<f64> {
    ms.map(|m| m as f64 / 60_000.0)
}

/// A row of the per-agent or per-team table.
pub struct GroupRow {
    name: String,
    a: Aggregate,
    href: String,
}

impl GroupRow {
    fn fr(&self) -> String {
        opt_min(self.a.first_response_median_ms)
    }
    fn nr(&self) -> String {
        opt_min(self.a.next_reply_avg_ms)
    }
    fn res(&self) -> String {
        opt_min(self.a.resolution_median_ms)
    }
    fn fcr(&self) -> String {
        opt_pct(self.a.fcr_rate)
    }
    fn csat(&self) -> String {
        self.a
            .csat_avg
            .map(|c| format!("{c:.2} ({})", self.a.csat_count))
            .unwrap_or_else(|| "–".into())
    }
    fn sla(&self) -> String {
        opt_pct(self.a.sla_met_rate)
    }
}

fn opt_min(ms: impl std::borrow::Borrow<Option<i64>>) -> String {
    minutes(*ms.borrow())
        .map(|m| format!("{m:.1} min"))
        .unwrap_or_else(|| "–".into())
}

fn opt_pct(r: Option<f64>) -> String {
    r.map(|r| format!("{:.0} %", r * 100.0))
        .unwrap_or_else(|| "–".into())
}

#[derive(Template)]
#[template(path = "support/metrics.html")]
struct MetricsPage {
    l: Layout,
    days: u32,
    overall: Option<GroupRow>,
    charts: Vec<LineChart>,
    agents: Vec<GroupRow>,
    teams: Vec<GroupRow>,
    qs: String,
}

fn agent_name(r: &Report, key: &str) -> String {
    key.parse::<i64>()
        .ok()
        .and_then(|id| r.agents.iter().find(|(a, _)| *a == id))
        .map(|(_, e)| e.clone())
        .unwrap_or_else(|| format!("#{key}"))
}

async fn load_report(
    state: &AppState,
    days: Option<u32>,
) -> Result<(Report, u32, String), AppError> {
    let days = days.unwrap_or(30).clamp(1, 365);
    let now = state.clock.now_ms();
    let (from, to) = support::window(
        state,
        Some(now + 1 - i64::from(days) * 86_400_000),
        Some(now + 1),
    )?;
    Ok((
        support::report(state, from, to).await?,
        days,
        format!("days={days}"),
    ))
}

async fn metrics_page(
    State(state): State<AppState>,
    _s: Staff,
    page: Page,
    Query(q): Query<WindowParams>,
) -> Result<Html<String>, PageError> {
    let (r, days, qs) = load_report(&state, q.days).await?;
    let now = state.clock.now_ms();
    let w = (now + 1 - i64::from(days) * 86_400_000, now + 1);
    let charts = vec![
        chart("First response (median)", Unit::Minutes, w, &r, &qs, |a| {
            minutes(a.first_response_median_ms)
        }),
        chart("Next reply (mean)", Unit::Minutes, w, &r, &qs, |a| {
            minutes(a.next_reply_avg_ms)
        }),
        chart("Resolution (median)", Unit::Minutes, w, &r, &qs, |a| {
            minutes(a.resolution_median_ms)
        }),
        chart("First-contact resolution", Unit::Share, w, &r, &qs, |a| {
            a.fcr_rate
        }),
        chart("CSAT (mean, 1–5)", Unit::Score, w, &r, &qs, |a| {
            a.csat_avg
        }),
        chart("SLA met", Unit::Share, w, &r, &qs, |a| a.sla_met_rate),
        chart("Reassignments", Unit::Count, w, &r, &qs, |a| {
            Some(f64::from(a.reassignments))
        }),
        chart("Transcripts shared", Unit::Count, w, &r, &qs, |a| {
            Some(f64::from(a.shares))
        }),
        chart("Shared transcript views", Unit::Count, w, &r, &qs, |a| {
            Some(f64::from(a.share_views))
        }),
    ];
    let agents = r
        .by_agent
        .iter()
        .map(|a| GroupRow {
            name: agent_name(&r, &a.key),
            href: format!("/staff/support/drill?group=agent&key={}&{qs}", a.key),
            a: a.clone(),
        })
        .collect();
    let teams = r
        .by_team
        .iter()
        .map(|a| GroupRow {
            name: a.key.clone(),
            href: format!(
                "/staff/support/drill?group=team&key={}&{qs}",
                auth::url_encode(&a.key)
            ),
            a: a.clone(),
        })
        .collect();
    let overall = r.overall.clone().map(|a| GroupRow {
        name: "All".into(),
        href: format!("/staff/support/drill?group=all&key=all&{qs}"),
        a,
    });
    render(&MetricsPage {
        l: page.l,
        days,
        overall,
        charts,
        agents,
        teams,
        qs,
    })
}

#[derive(Deserialize)]
struct DrillParams {
    group: String,
    key: String,
    days: Option<u32>,
}

#[derive(Template)]
#[template(path = "support/drill.html")]
struct DrillPage {
    l: Layout,
    title: String,
    rows: Vec<(ConvMetrics, Option<Conversation>)>,
}

async fn drill_page(
    State(state): State<AppState>,
    _s: Staff,
    page: Page,
    Query(q): Query<DrillParams>,
) -> Result<Html<String>, PageError> {
    let (r, _, _) = load_report(&state, q.days).await?;
    let groups = match q.group.as_str() {
        "agent" => &r.by_agent,
        "team" => &r.by_team,
        "day" => &r.by_day,
        "all" => &r.by_day,
        _ => return Err(AppError::invalid("group", "use agent, team, day or all").into()),
    };
    let ids: Vec<i64> = if q.group == "all" {
        r.conversations.iter().map(|c| c.conversation_id).collect()
    } else {
        groups
            .iter()
            .find(|a| a.key == q.key)
            .map(|a| a.ids.clone())
            .unwrap_or_default()
    };
    let convs = state.store.conversations_by_ids(&ids).await?;
    let rows = r
        .conversations
        .iter()
        .filter(|m| ids.contains(&m.conversation_id))
        .map(|m| {
            (
                m.clone(),
                convs.iter().find(|c| c.id == m.conversation_id).cloned(),
            )
        })
        .collect();
    let title = match q.group.as_str() {
        "agent" => format!("Conversations of {}", agent_name(&r, &q.key)),
        "team" => format!("Conversations of team {}", q.key),
        "day" => format!("Conversations opened on {}", q.key),
        _ => "All conversations".into(),
    };
    render(&DrillPage {
        l: page.l,
        title,
        rows,
    })
}

async fn metrics_csv(
    State(state): State<AppState>,
    _s: Staff,
    Query(q): Query<WindowParams>,
) -> Result<Response, PageError> {
    let (r, _, _) = load_report(&state, q.days).await?;
    let ids: Vec<i64> = r.conversations.iter().map(|c| c.conversation_id).collect();
    let convs = state.store.conversations_by_ids(&ids).await?;
    let teams: std::collections::HashMap<i64, String> =
        state.store.agent_teams().await?.into_iter().collect();
    let mut out = String::from(
        "conversation_id,created_at,customer,agent,team,priority,status,first_response_s,next_reply_avg_s,resolution_s,first_contact_resolution,csat,reassignments,shares,share_views,first_reply_sla_met,resolution_sla_met\n",
    );
    let secs = |ms: Option<i64>| ms.map(|m| (m / 1000).to_string()).unwrap_or_default();
    let verdict = |v: Option<bool>| v.map(|b| b.to_string()).unwrap_or_default();
    for m in &r.conversations {
        let c = convs.iter().find(|c| c.id == m.conversation_id);
        let agent = m
            .agent_id
            .map(|a| agent_name(&r, &a.to_string()))
            .unwrap_or_default();
        let team = m
            .agent_id
            .and_then(|a| teams.get(&a).cloned())
            .unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            m.conversation_id,
            csv_cell(&crate::format::rfc3339(m.created_at)),
            csv_cell(c.map(|c| c.customer_email.as_str()).unwrap_or("")),
            csv_cell(&agent),
            csv_cell(&team),
            m.priority.as_str(),
            m.status.as_str(),
            secs(m.first_response_ms),
            secs(m.next_reply_avg_ms()),
            secs(m.resolution_ms),
            m.first_contact_resolution,
            m.csat.map(|s| s.to_string()).unwrap_or_default(),
            m.reassignments,
            m.shares,
            m.share_views,
            verdict(m.first_reply_sla_met),
            verdict(m.resolution_sla_met),
        ));
    }
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"support-conversations.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}
