//! Idea box pages: the public board, a new-idea form with similar ideas while
//! typing (htmx), the idea page with votes and comments, "Ideas launched",
//! author profiles, the notification centre, and the staff moderation pages.

use super::{render, render_status, CsrfForm, Layout, Page, PageForm};
use crate::auth::{Admin, CurrentUser, Staff};
use crate::error::{AppError, PageError};
use crate::ideas::{self as svc, parse_sort, webhook_input, IdeaInput, StatusInput};
use crate::markdown::{self, SafeHtml};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use marquee_domain::ideas::{Author, Idea, IdeaStatus, Notification, StatusChange};
use marquee_domain::Millis;
use marquee_store::ideas::{IdeaQuery, IdeaSort, Visibility};
use marquee_store::outbox::{DeliveryRecord, WebhookEndpoint};
use serde::Deserialize;

/// The idea box page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ideas", get(board).post(create))
        .route("/ideas/new", get(new_form))
        .route("/ideas/similar", get(similar))
        .route("/ideas/launched", get(launched))
        .route("/ideas/people/{id}", get(person))
        .route("/ideas/{id}", get(show))
        .route("/ideas/{id}/vote", post(vote))
        .route("/ideas/{id}/comments", post(comment))
        .route("/notifications", get(notifications))
        .route("/notifications/count", get(bell))
        .route("/notifications/read", post(read_all))
        .route("/staff/ideas", get(staff_board))
        .route("/staff/ideas/{id}/status", post(staff_status))
        .route("/staff/ideas/{id}/voice", get(staff_voice))
        .route("/staff/ideas/{id}/moderate", post(staff_moderate))
        .route("/staff/ideas/{id}/tags", post(staff_tags))
        .route("/staff/ideas/comments/{id}/moderate", post(staff_comment))
        .route("/staff/webhooks", get(webhooks_page).post(webhook_create))
        .route("/staff/webhooks/{id}/delete", post(webhook_delete))
}

/// An error for a form: the field it names, then the message.
fn field_message(e: &AppError) -> String {
    match e.field() {
        Some(f) => format!("{f}: {e}"),
        None => e.to_string(),
    }
}

/// `2026-11-23` from ms.
fn day(ms: Millis) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// The vote box of one idea.
#[derive(Debug, Clone)]
pub struct VoteBox {
    id: i64,
    votes: i64,
    voted: bool,
    closed: bool,
    logged_in: bool,
    error: Option<String>,
}

impl VoteBox {
    fn of(i: &Idea, logged_in: bool) -> Self {
        VoteBox {
            id: i.id,
            votes: i.votes,
            voted: i.voted,
            closed: i.status.is_closed(),
            logged_in,
            error: None,
        }
    }
}

/// An idea in a list.
#[derive(Debug, Clone)]
pub struct IdeaRow {
    i: Idea,
    v: VoteBox,
    when: String,
    changed: String,
}

fn rows(ideas: Vec<Idea>, logged_in: bool) -> Vec<IdeaRow> {
    ideas
        .into_iter()
        .map(|i| IdeaRow {
            v: VoteBox::of(&i, logged_in),
            when: day(i.created_at),
            changed: day(i.status_changed_at),
            i,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "ideas/list.html")]
struct BoardPage {
    l: Layout,
    rows: Vec<IdeaRow>,
    sort: String,
    tag: String,
    status: String,
    tags: Vec<(String, i64)>,
    statuses: Vec<IdeaStatus>,
    logged_in: bool,
    budget: Option<u32>,
    used: i64,
    page: u32,
    has_more: bool,
}

#[derive(Deserialize)]
struct BoardParams {
    sort: Option<String>,
    tag: Option<String>,
    status: Option<String>,
    page: Option<u32>,
}

const PER_PAGE: u32 = 30;

async fn board(
    State(state): State<AppState>,
    page: Page,
    Query(p): Query<BoardParams>,
) -> Result<Response, PageError> {
    let sort = parse_sort(p.sort.as_deref())?;
    let user = page.user.clone();
    if sort == IdeaSort::MyVotes && user.is_none() {
        return Ok(Redirect::to("/login?next=/ideas%3Fsort%3Dmy_votes").into_response());
    }
    board_for(state, page, user, sort, p).await
}

async fn board_for(
    state: AppState,
    page: Page,
    user: Option<CurrentUser>,
    sort: IdeaSort,
    p: BoardParams,
) -> Result<Response, PageError> {
    let status = match p.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(s.parse::<IdeaStatus>().map_err(AppError::from)?),
    };
    let tag = p
        .tag
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty());
    let n = p.page.unwrap_or(1).clamp(1, 10_000);
    let viewer = user.as_ref().map(|u| u.account.id);
    let mut ideas = state
        .store
        .list_ideas(&IdeaQuery {
            viewer,
            sort,
            tag: tag.clone(),
            status,
            author: None,
            visibility: Visibility::Public,
            now: state.clock.now_ms(),
            limit: PER_PAGE + 1,
            offset: (n - 1) * PER_PAGE,
        })
        .await?;
    let has_more = ideas.len() > PER_PAGE as usize;
    ideas.truncate(PER_PAGE as usize);
    let used = match viewer {
        Some(v) => state.store.votes_used(v).await?,
        None => 0,
    };
    Ok(render(&BoardPage {
        l: page.l,
        rows: rows(ideas, user.is_some()),
        sort: match sort {
            IdeaSort::Top => "top",
            IdeaSort::New => "new",
            IdeaSort::MyVotes => "my_votes",
            _ => "trending",
        }
        .into(),
        tag: tag.unwrap_or_default(),
        status: status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        tags: state
            .store
            .idea_tags()
            .await?
            .into_iter()
            .take(20)
            .collect(),
        statuses: IdeaStatus::ALL.to_vec(),
        logged_in: user.is_some(),
        budget: state.config.ideas.vote_budget,
        used,
        page: n,
        has_more,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "ideas/new.html")]
struct NewPage {
    l: Layout,
    error: Option<String>,
    title: String,
    description: String,
    tags: String,
    queued: bool,
}

async fn new_form(State(state): State<AppState>, page: Page) -> Result<Response, PageError> {
    if page.user.is_none() {
        return Ok(crate::auth::login_redirect("/ideas/new"));
    }
    let queued = state.config.ideas.moderation_queue && !page.l.is_staff;
    Ok(render(&NewPage {
        l: page.l,
        error: None,
        title: String::new(),
        description: String::new(),
        tags: String::new(),
        queued,
    })?
    .into_response())
}

#[derive(Deserialize)]
struct NewIdeaForm {
    csrf: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: String,
}

async fn create(
    State(state): State<AppState>,
    page: Page,
    PageForm(f): PageForm<NewIdeaForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let Some(user) = page.user.clone() else {
        return Ok(crate::auth::login_redirect("/ideas/new"));
    };
    let input = IdeaInput {
        title: f.title.clone(),
        description: f.description.clone(),
        tags: marquee_domain::ideas::split_tags(&f.tags),
    };
    match svc::post_idea(&state, &user, &input).await {
        Ok(idea) => Ok(Redirect::to(&format!("/ideas/{}?ok=idea_posted", idea.id)).into_response()),
        Err(e @ (AppError::BadRequest { .. } | AppError::TooManyRequests { .. })) => {
            let status = e.status();
            let queued = state.config.ideas.moderation_queue && !page.l.is_staff;
            Ok(render_status(
                status,
                &NewPage {
                    l: page.l,
                    error: Some(field_message(&e)),
                    title: f.title,
                    description: f.description,
                    tags: f.tags,
                    queued,
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "ideas/similar.html")]
struct SimilarPartial {
    l: Layout,
    rows: Vec<IdeaRow>,
    asked: bool,
}

#[derive(Deserialize)]
struct SimilarParams {
    title: Option<String>,
}

async fn similar(
    State(state): State<AppState>,
    page: Page,
    Query(p): Query<SimilarParams>,
) -> Result<Html<String>, PageError> {
    let q: String = p.title.unwrap_or_default().chars().take(200).collect();
    let viewer = page.user.as_ref().map(|u| u.account.id);
    let found = state.store.similar_ideas(&q, viewer, 5).await?;
    render(&SimilarPartial {
        asked: !q.trim().is_empty(),
        rows: rows(found, page.user.is_some()),
        l: page.l,
    })
}

#[derive(Template)]
#[template(path = "ideas/launched.html")]
struct LaunchedPage {
    l: Layout,
    rows: Vec<IdeaRow>,
}

async fn launched(State(state): State<AppState>, page: Page) -> Result<Html<String>, PageError> {
    let ideas = state
        .store
        .list_ideas(&IdeaQuery {
            sort: IdeaSort::RecentlyChanged,
            status: Some(IdeaStatus::Launched),
            limit: 100,
            now: state.clock.now_ms(),
            ..Default::default()
        })
        .await?;
    render(&LaunchedPage {
        rows: rows(ideas, page.user.is_some()),
        l: page.l,
    })
}

#[derive(Template)]
#[template(path = "ideas/person.html")]
struct PersonPage {
    l: Layout,
    author: Author,
    rows: Vec<IdeaRow>,
    launched: usize,
}

async fn person(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let id: i64 = id
        .parse()
        .map_err(|_| AppError::NotFound(format!("no member {id:?}")))?;
    let author = state
        .store
        .idea_author(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("member {id} not found")))?;
    let ideas = state
        .store
        .list_ideas(&IdeaQuery {
            viewer: page.user.as_ref().map(|u| u.account.id),
            sort: IdeaSort::New,
            author: Some(id),
            limit: 100,
            now: state.clock.now_ms(),
            ..Default::default()
        })
        .await?;
    let ideas: Vec<Idea> = ideas.into_iter().filter(|i| i.approved).collect();
    let launched = ideas
        .iter()
        .filter(|i| i.status == IdeaStatus::Launched)
        .count();
    render(&PersonPage {
        author,
        rows: rows(ideas, page.user.is_some()),
        launched,
        l: page.l,
    })
}

/// A comment as shown.
#[derive(Debug)]
pub struct CommentRow {
    id: i64,
    author: Author,
    html: SafeHtml,
    official: bool,
    hidden: bool,
    when: String,
}

/// A history step as shown.
#[derive(Debug)]
pub struct HistoryRow {
    c: StatusChange,
    when: String,
    explanation: SafeHtml,
}

#[derive(Template)]
#[template(path = "ideas/show.html")]
struct ShowPage {
    l: Layout,
    row: IdeaRow,
    description: SafeHtml,
    comments: Vec<CommentRow>,
    history: Vec<HistoryRow>,
    original: Option<Idea>,
    duplicates_note: bool,
    can_comment: bool,
    logged_in: bool,
    tags_text: String,
    statuses: Vec<IdeaStatus>,
    error: Option<String>,
}

async fn show_page(
    state: &AppState,
    page: Page,
    id: i64,
    error: Option<String>,
) -> Result<ShowPage, PageError> {
    let idea = svc::visible_idea(state, id, page.user.as_ref()).await?;
    let staff = page.l.is_staff;
    let comments = state
        .store
        .comments(id, staff)
        .await?
        .into_iter()
        .map(|c| CommentRow {
            id: c.id,
            html: markdown::render(&c.body),
            author: c.author,
            official: c.official,
            hidden: c.hidden,
            when: day(c.created_at),
        })
        .collect();
    let history = state
        .store
        .status_history(id)
        .await?
        .into_iter()
        .map(|c| HistoryRow {
            when: day(c.at),
            explanation: markdown::render(&c.explanation),
            c,
        })
        .collect();
    let original = match idea.duplicate_of {
        Some(o) => state.store.idea(o, None).await?,
        None => None,
    };
    let logged_in = page.user.is_some();
    Ok(ShowPage {
        description: markdown::render(&idea.description),
        can_comment: logged_in && (!idea.locked),
        tags_text: idea.tags.join(", "),
        duplicates_note: idea.status == IdeaStatus::Duplicate,
        row: rows(vec![idea], logged_in)
            .pop()
            .ok_or_else(|| AppError::NotFound(format!("idea {id} not found")))?,
        comments,
        history,
        original,
        logged_in,
        statuses: IdeaStatus::ALL
            .into_iter()
            .filter(|s| *s != IdeaStatus::Duplicate)
            .collect(),
        error,
        l: page.l,
    })
}

fn parse_id(id: &str) -> Result<i64, AppError> {
    id.parse()
        .map_err(|_| AppError::NotFound(format!("no idea {id:?}")))
}

async fn show(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let id = parse_id(&id)?;
    render(&show_page(&state, page, id, None).await?)
}

#[derive(Template)]
#[template(path = "ideas/vote.html")]
struct VotePartial {
    l: Layout,
    v: VoteBox,
}

#[derive(Deserialize)]
struct VoteForm {
    csrf: String,
    action: String,
}

async fn vote(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageForm(f): PageForm<VoteForm>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    page.check_csrf(&f.csrf)?;
    let Some(user) = page.user.clone() else {
        return Ok(crate::auth::login_redirect(&format!("/ideas/{id}")));
    };
    let res = match f.action.as_str() {
        "vote" => svc::vote(&state, &user, id).await,
        "unvote" => svc::unvote(&state, &user, id).await,
        other => Err(AppError::invalid(
            "action",
            format!("unknown action {other:?}: use vote or unvote"),
        )),
    };
    let htmx = headers.contains_key("hx-request");
    let error = match res {
        Ok(_) => None,
        Err(e @ AppError::Conflict { .. }) if htmx => Some(e.to_string()),
        Err(e) => return Err(e.into()),
    };
    if !htmx {
        return Ok(Redirect::to(&format!("/ideas/{id}")).into_response());
    }
    let idea = svc::visible_idea(&state, id, Some(&user)).await?;
    let mut v = VoteBox::of(&idea, true);
    v.error = error;
    Ok(render(&VotePartial { l: page.l, v })?.into_response())
}

#[derive(Deserialize)]
struct CommentForm {
    csrf: String,
    body: String,
}

async fn comment(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    PageForm(f): PageForm<CommentForm>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    page.check_csrf(&f.csrf)?;
    let Some(user) = page.user.clone() else {
        return Ok(crate::auth::login_redirect(&format!("/ideas/{id}")));
    };
    match svc::comment(&state, &user, id, &f.body).await {
        Ok(c) => Ok(
            Redirect::to(&format!("/ideas/{id}?ok=comment_posted#comment-{}", c.id))
                .into_response(),
        ),
        Err(
            e @ (AppError::BadRequest { .. }
            | AppError::Conflict { .. }
            | AppError::TooManyRequests { .. }),
        ) => {
            let status = e.status();
            let p = show_page(&state, page, id, Some(field_message(&e))).await?;
            Ok(render_status(status, &p))
        }
        Err(e) => Err(e.into()),
    }
}

/// A notification as shown.
#[derive(Debug)]
pub struct NoteRow {
    n: Notification,
    when: String,
}

#[derive(Template)]
#[template(path = "ideas/notifications.html")]
struct NotificationsPage {
    l: Layout,
    notes: Vec<NoteRow>,
    unread: i64,
}

async fn notifications(State(state): State<AppState>, page: Page) -> Result<Response, PageError> {
    let Some(user) = page.user.clone() else {
        return Ok(crate::auth::login_redirect("/notifications"));
    };
    let notes = state
        .store
        .notifications(user.account.id, 100)
        .await?
        .into_iter()
        .map(|n| NoteRow {
            when: day(n.created_at),
            n,
        })
        .collect();
    Ok(render(&NotificationsPage {
        l: page.l,
        notes,
        unread: state.store.unread_notifications(user.account.id).await?,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "ideas/bell.html")]
struct BellPartial {
    unread: i64,
}

async fn bell(State(state): State<AppState>, page: Page) -> Result<Response, PageError> {
    let unread = match &page.user {
        Some(u) => state.store.unread_notifications(u.account.id).await?,
        None => return Ok(StatusCode::NO_CONTENT.into_response()),
    };
    Ok(render(&BellPartial { unread })?.into_response())
}

async fn read_all(
    State(state): State<AppState>,
    page: Page,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let Some(user) = page.user.clone() else {
        return Ok(crate::auth::login_redirect("/notifications"));
    };
    state
        .store
        .mark_notifications_read(user.account.id, state.clock.now_ms())
        .await?;
    Ok(Redirect::to("/notifications").into_response())
}

#[derive(Template)]
#[template(path = "ideas/staff.html")]
struct StaffPage {
    l: Layout,
    pending: Vec<IdeaRow>,
    hidden: Vec<IdeaRow>,
    moderation_queue: bool,
}

#[derive(Template)]
#[template(path = "ideas/voice.html")]
struct VoicePartial {
    v: crate::voice::Voice,
    c: super::listening::Chart,
    days: i64,
}

#[derive(Deserialize)]
struct VoiceQuery {
    days: Option<String>,
}

/// The voice of the customer around an idea (an htmx fragment on the idea page).
async fn staff_voice(
    State(state): State<AppState>,
    _staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<VoiceQuery>,
) -> Result<Html<String>, PageError> {
    let id = parse_id(&id)?;
    let days = match q.days.as_deref() {
        None | Some("") => 30,
        Some(d) => d
            .parse()
            .map_err(|_| AppError::invalid("days", "must be a whole number of days"))?,
    };
    let (v, buckets) = crate::voice::voice(&state, id, days).await?;
    let c = super::listening::chart(
        "all",
        &buckets,
        v.from,
        v.to,
        86_400_000,
        &[],
        &format!("&idea={id}"),
    );
    render(&VoicePartial { v, c, days })
}

async fn staff_board(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
) -> Result<Html<String>, PageError> {
    let list = |visibility| IdeaQuery {
        sort: IdeaSort::New,
        visibility,
        limit: 100,
        now: state.clock.now_ms(),
        ..Default::default()
    };
    let pending = state.store.list_ideas(&list(Visibility::Pending)).await?;
    let hidden = state.store.list_ideas(&list(Visibility::Hidden)).await?;
    render(&StaffPage {
        l: page.l,
        pending: rows(pending, true),
        hidden: rows(hidden, true),
        moderation_queue: state.config.ideas.moderation_queue,
    })
}

#[derive(Deserialize)]
struct StatusForm {
    csrf: String,
    status: String,
    explanation: String,
    #[serde(default)]
    release_note_url: String,
    #[serde(default)]
    duplicate_of: String,
}

async fn staff_status(
    State(state): State<AppState>,
    Staff(user): Staff,
    page: Page,
    Path(id): Path<String>,
    PageForm(f): PageForm<StatusForm>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    page.check_csrf(&f.csrf)?;
    let duplicate_of = match f.duplicate_of.trim().trim_start_matches('#') {
        "" => None,
        s => Some(
            s.parse::<i64>()
                .map_err(|_| AppError::invalid("duplicate_of", "must be an idea number like 12"))?,
        ),
    };
    let status = if duplicate_of.is_some() {
        "duplicate".to_string()
    } else {
        f.status
    };
    let input = StatusInput {
        status,
        explanation: f.explanation,
        release_note_url: Some(f.release_note_url),
        duplicate_of,
    };
    match svc::change_status(&state, &user, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/ideas/{id}")).into_response()),
        Err(e @ (AppError::BadRequest { .. } | AppError::Conflict { .. })) => {
            let status = e.status();
            let p = show_page(&state, page, id, Some(field_message(&e))).await?;
            Ok(render_status(status, &p))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ModerateForm {
    csrf: String,
    action: String,
    #[serde(default)]
    back: String,
}

async fn staff_moderate(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
    Path(id): Path<String>,
    PageForm(f): PageForm<ModerateForm>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    page.check_csrf(&f.csrf)?;
    let action = svc::moderation(&f.action)?;
    state
        .store
        .moderate_idea(id, action, state.clock.now_ms())
        .await?;
    let to = if f.back == "staff" {
        "/staff/ideas".to_string()
    } else {
        format!("/ideas/{id}")
    };
    Ok(Redirect::to(&to).into_response())
}

#[derive(Deserialize)]
struct TagsForm {
    csrf: String,
    tags: String,
}

async fn staff_tags(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
    Path(id): Path<String>,
    PageForm(f): PageForm<TagsForm>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    page.check_csrf(&f.csrf)?;
    let tags = marquee_domain::ideas::tags(&marquee_domain::ideas::split_tags(&f.tags))
        .map_err(AppError::from)?;
    state
        .store
        .set_idea_tags(id, &tags, state.clock.now_ms())
        .await?;
    Ok(Redirect::to(&format!("/ideas/{id}")).into_response())
}

async fn staff_comment(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
    Path(id): Path<String>,
    PageForm(f): PageForm<ModerateForm>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    page.check_csrf(&f.csrf)?;
    let hidden = match f.action.as_str() {
        "hide" => true,
        "unhide" => false,
        other => {
            return Err(AppError::invalid("action", format!("unknown action {other:?}")).into())
        }
    };
    let idea = state.store.set_comment_hidden(id, hidden).await?;
    Ok(Redirect::to(&format!("/ideas/{idea}")).into_response())
}

/// An endpoint with its recent deliveries.
#[derive(Debug)]
pub struct EndpointRow {
    e: WebhookEndpoint,
    deliveries: Vec<DeliveryRecord>,
}

#[derive(Template)]
#[template(path = "ideas/webhooks.html")]
struct WebhooksPage {
    l: Layout,
    endpoints: Vec<EndpointRow>,
    created_secret: Option<String>,
    error: Option<String>,
}

async fn webhooks_view(
    state: &AppState,
    l: Layout,
    created_secret: Option<String>,
    error: Option<String>,
) -> Result<WebhooksPage, PageError> {
    let mut endpoints = Vec::new();
    for e in state.store.webhooks().await? {
        let deliveries = state.store.deliveries(e.id, 10).await?;
        endpoints.push(EndpointRow { e, deliveries });
    }
    Ok(WebhooksPage {
        l,
        endpoints,
        created_secret,
        error,
    })
}

async fn webhooks_page(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
) -> Result<Html<String>, PageError> {
    render(&webhooks_view(&state, page.l, None, None).await?)
}

#[derive(Deserialize)]
struct WebhookForm {
    csrf: String,
    url: String,
    #[serde(default)]
    events: String,
}

async fn webhook_create(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
    PageForm(f): PageForm<WebhookForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let events: Vec<String> = f
        .events
        .split([',', ' '])
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .collect();
    let events = (!events.is_empty()).then_some(events);
    match webhook_input(
        &f.url,
        None,
        events.as_deref(),
        state.config.webhooks.allow_private,
    ) {
        Ok((url, secret, events)) => {
            state
                .store
                .create_webhook(&url, &secret, &events, state.clock.now_ms())
                .await?;
            Ok(render(&webhooks_view(&state, page.l, Some(secret), None).await?)?.into_response())
        }
        Err(e) => {
            let status = e.status();
            let p = webhooks_view(&state, page.l, None, Some(e.to_string())).await?;
            Ok(render_status(status, &p))
        }
    }
}

async fn webhook_delete(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    state.store.delete_webhook(id).await?;
    Ok(Redirect::to("/staff/webhooks").into_response())
}
