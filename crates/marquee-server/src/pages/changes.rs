//! "Listen before you change", as pages: a customer's `/changes/{id}` (read,
//! react, say whether they would stay, comment; public once announced) and
//! the admins' `/staff/changes` (draft with the impact preview, publish, the
//! live consultation dashboard, decide with the evidence, announce, and the
//! after-change view with its recovery). Charts are inline SVG with axes and
//! the proposal's timeline drawn as markers.
//!
//! Live: `/staff/changes/{id}/stream` sends an event on every reaction,
//! comment or status change of the proposal and whenever listening stores
//! posts; `static/live.js` then asks htmx to refresh the panel
//! (`/staff/changes/{id}/live`).

use super::{render, render_status, Layout, Page, PageForm};
use crate::auth::{Admin, ClientIp, CurrentUser};
use crate::changes::{
    self as svc, AfterChange, CommentView, CustomerProposal, Dashboard, Marker, ProposalInput,
    ProposalSummary,
};
use crate::error::{AppError, PageError};
use crate::format::fmt_time;
use crate::markdown::{self, SafeHtml};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use marquee_domain::changes::{
    parse_amount, parse_day, ChangeKind, Decision, Grandfathering, Impact, PriceChange, Reaction,
    Segment, Status, WouldStay, DAY_MS,
};
use marquee_domain::plans::{Price, PLANS};
use marquee_domain::{Millis, Plan};
use marquee_store::decisions::{Evidence, EvidenceKind};
use marquee_store::proposals::Proposal;
use serde::Deserialize;
use std::convert::Infallible;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/changes/banner", get(banner_fragment))
        .route("/changes/{id}", get(customer_page))
        .route("/changes/{id}/reaction", post(react))
        .route("/changes/{id}/comments", post(comment))
        .route("/staff/changes", get(staff_list).post(staff_create))
        .route("/staff/changes/{id}", get(staff_detail))
        .route("/staff/changes/{id}/edit", post(staff_edit))
        .route("/staff/changes/{id}/publish", post(staff_publish))
        .route("/staff/changes/{id}/decision", post(staff_decide))
        .route("/staff/changes/{id}/announcement", post(staff_announce))
        .route("/staff/changes/{id}/live", get(staff_live))
        .route("/staff/changes/{id}/stream", get(stream))
        .route(
            "/staff/changes/{id}/comments/{cid}/hidden",
            post(staff_hide),
        )
}

// ---------------------------------------------------------------- charts

/// Chart width and plot height.
const W: f64 = 640.0;
const H: f64 = 120.0;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// CSS class (colour).
    pub class: &'static str,
    /// Legend.
    pub label: String,
    /// Polyline points.
    pub points: String,
}

/// A vertical marker: a moment of the proposal's timeline.
#[derive(Debug, Clone)]
pub struct Mark {
    /// x.
    pub x: f64,
    /// Label.
    pub label: String,
}

/// A line chart over time with both axes and the timeline's markers.
#[derive(Debug, Clone)]
pub struct TimeChart {
    /// Heading.
    pub title: String,
    /// What the y axis counts.
    pub unit: String,
    /// Lines.
    pub lines: Vec<Line>,
    /// Largest value (the y axis' top).
    pub max_label: String,
    /// x-axis labels (x, text).
    pub ticks: Vec<(f64, String)>,
    /// Timeline markers.
    pub marks: Vec<Mark>,
    /// The figures as text, for screen readers and the table fallback.
    pub summary: String,
}

fn day_label(ms: Millis) -> String {
    crate::chart::day_label(ms)
}

/// Builds a chart of `series` (name, class, values) over points at `xs`.
fn time_chart(
    title: &str,
    unit: &str,
    xs: &[Millis],
    series: Vec<(&str, &'static str, Vec<f64>)>,
    markers: &[Marker],
    fixed_max: Option<f64>,
) -> TimeChart {
    let (from, to) = match (xs.first(), xs.last()) {
        (Some(a), Some(b)) if b > a => (*a, *b),
        (Some(a), _) => (*a, *a + DAY_MS),
        _ => (0, DAY_MS),
    };
    let max = fixed_max.unwrap_or_else(|| {
        series
            .iter()
            .flat_map(|(_, _, v)| v.iter().copied())
            .fold(0.0_f64, f64::max)
            .max(1.0)
    });
    let x_of = |t: Millis| ((t - from) as f64 / (to - from) as f64 * W).clamp(0.0, W);
    let lines = series
        .iter()
        .map(|(label, class, values)| Line {
            class,
            label: label.to_string(),
            points: xs
                .iter()
                .zip(values)
                .map(|(t, v)| format!("{:.1},{:.1}", x_of(*t), H - v / max * H))
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    let summary = series
        .iter()
        .map(|(label, _, values)| {
            let last = values.last().copied().unwrap_or(0.0);
            let peak = values.iter().copied().fold(0.0_f64, f64::max);
            format!("{label}: now {last:.0}, peak {peak:.0}")
        })
        .collect::<Vec<_>>()
        .join("; ");
    TimeChart {
        title: title.to_string(),
        unit: unit.to_string(),
        lines,
        max_label: if max.fract() == 0.0 {
            format!("{max:.0}")
        } else {
            format!("{max:.2}")
        },
        ticks: vec![
            (0.0, day_label(from)),
            (W / 2.0, day_label(from + (to - from) / 2)),
            (W, day_label(to)),
        ],
        marks: markers
            .iter()
            .filter(|m| m.at >= from && m.at <= to)
            .map(|m| Mark {
                x: x_of(m.at),
                label: m.label.clone(),
            })
            .collect(),
        summary,
    }
}

// ---------------------------------------------------------------- customers

#[derive(Template)]
#[template(path = "changes/page.html")]
struct CustomerPage {
    l: Layout,
    p: CustomerProposal,
    body: SafeHtml,
    announcement: Option<SafeHtml>,
    price: String,
    planned: String,
    comments: Vec<CommentRow>,
    signed_in: bool,
    reactions: Vec<Choice>,
    stays: Vec<Choice>,
    notice: Option<&'static str>,
    error: Option<String>,
    draft: String,
}

struct CommentRow {
    c: CommentView,
    when: String,
    reaction: &'static str,
}

/// A radio or select option.
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

fn price_text(p: Option<&PriceChange>) -> String {
    match p {
        None => String::new(),
        Some(p) => {
            let who = match p.grandfathering {
                Grandfathering::NewCustomersOnly => {
                    "New customers pay it; existing customers keep their price.".to_string()
                }
                Grandfathering::AfterNotice { notice_days } => format!(
                    "Existing customers keep their price for {notice_days} days after it starts."
                ),
            };
            format!(
                "{} plan: {} a month. {who}",
                p.plan.label(),
                p.price.display()
            )
        }
    }
}

#[derive(Deserialize)]
struct DoneParam {
    done: Option<String>,
}

fn customer_notice(done: Option<&str>) -> Option<&'static str> {
    match done {
        Some("reacted") => Some(
            "Thank you: your answer is saved. You can change it while the consultation is open.",
        ),
        Some("commented") => Some("Thank you: your comment is posted."),
        _ => None,
    }
}

async fn customer_view(
    state: &AppState,
    l: Layout,
    user: Option<&CurrentUser>,
    id: i64,
    notice: Option<&'static str>,
    error: Option<String>,
    draft: String,
) -> Result<CustomerPage, AppError> {
    let account = user.map(|u| &u.account);
    let p = svc::for_customer(state, account, id).await?;
    let comments = svc::comments(state, account, id, 100)
        .await?
        .into_iter()
        .map(|c| CommentRow {
            when: fmt_time(c.created_at),
            reaction: c.reaction.map_or("", |r| r.label()),
            c,
        })
        .collect();
    let reactions = marquee_domain::changes::REACTIONS
        .iter()
        .map(|r| Choice {
            value: r.as_str(),
            label: r.label(),
            selected: p.my_reaction == Some(*r),
        })
        .collect();
    let stays = [
        (WouldStay::Yes, "Yes, I would stay"),
        (WouldStay::Unsure, "I am not sure"),
        (WouldStay::No, "No, I would leave"),
    ]
    .into_iter()
    .map(|(w, label)| Choice {
        value: w.as_str(),
        label,
        selected: p.my_would_stay == Some(w),
    })
    .collect();
    Ok(CustomerPage {
        l,
        body: markdown::render(&p.body),
        announcement: p.announcement.as_ref().map(|a| markdown::render(&a.body)),
        price: price_text(p.price.as_ref()),
        planned: day_label(p.planned_at),
        comments,
        signed_in: user.is_some(),
        reactions,
        stays,
        notice,
        error,
        draft,
        p,
    })
}

async fn customer_page(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<DoneParam>,
) -> Result<Html<String>, PageError> {
    let notice = customer_notice(q.done.as_deref());
    render(
        &customer_view(
            &state,
            page.l.clone(),
            page.user.as_ref(),
            id,
            notice,
            None,
            String::new(),
        )
        .await?,
    )
}

/// Answers a customer's form: back to the page with a confirmation, or the
/// page again with the refusal (and what they typed).
async fn customer_after(
    state: &AppState,
    page: Page,
    user: &CurrentUser,
    id: i64,
    result: Result<(), AppError>,
    done: &str,
    draft: String,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/changes/{id}?done={done}")).into_response()),
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 404 => {
            let status = e.status();
            let view = customer_view(
                state,
                page.l.clone(),
                Some(user),
                id,
                None,
                Some(e.to_string()),
                draft,
            )
            .await?;
            Ok(render_status(status, &view))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ReactForm {
    csrf: String,
    #[serde(default)]
    reaction: String,
    #[serde(default)]
    would_stay: String,
}

async fn react(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<ReactForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = async {
        let reaction: Reaction = f
            .reaction
            .parse()
            .map_err(|_| AppError::invalid("reaction", "choose support, unsure or oppose"))?;
        let would_stay = if f.would_stay.is_empty() {
            None
        } else {
            Some(f.would_stay.parse::<WouldStay>()?)
        };
        svc::react(&state, &user, id, reaction, would_stay)
            .await
            .map(|_| ())
    }
    .await;
    customer_after(&state, page, &user, id, result, "reacted", String::new()).await
}

#[derive(Deserialize)]
struct CommentForm {
    csrf: String,
    #[serde(default)]
    body: String,
}

async fn comment(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CommentForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = svc::comment(&state, &user, id, &f.body).await.map(|_| ());
    customer_after(&state, page, &user, id, result, "commented", f.body).await
}

#[derive(Template)]
#[template(path = "changes/banner.html")]
struct BannerTemplate {
    items: Vec<ProposalSummary>,
}

/// The banner of open consultations and recent announcements that the
/// home and account pages load: empty for staff, visitors and customers
/// with nothing to see.
async fn banner_fragment(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
) -> Result<Html<String>, PageError> {
    let Some(u) = user.filter(|u| u.account.role == marquee_domain::Role::Viewer) else {
        return Ok(Html(String::new()));
    };
    let items: Vec<ProposalSummary> = svc::visible_list(&state, &u.account)
        .await?
        .into_iter()
        .filter(|p| (p.consulting && !p.answered) || p.announced_at.is_some())
        .take(3)
        .collect();
    if items.is_empty() {
        return Ok(Html(String::new()));
    }
    render(&BannerTemplate { items })
}

// ---------------------------------------------------------------- staff

/// The proposal form's fields, as the form sends them.
#[derive(Debug, Default, Clone)]
struct ProposalForm {
    csrf: String,
    kind: String,
    title: String,
    body: String,
    /// Plans ticked (the form repeats `plans`).
    plans: Vec<String>,
    min_tenure_days: String,
    max_tenure_days: String,
    min_price: String,
    max_price: String,
    price_plan: String,
    new_price: String,
    grandfathering: String,
    notice_days: String,
    keywords: String,
    planned: String,
}

fn opt_u32(field: &'static str, s: &str) -> Result<Option<u32>, AppError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<u32>()
        .map(Some)
        .map_err(|_| AppError::invalid(field, "must be a whole number of days"))
}

fn opt_amount(field: &'static str, s: &str) -> Result<Option<i64>, AppError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some(parse_amount(field, s)?))
}

impl ProposalForm {
    fn input(&self) -> Result<ProposalInput, AppError> {
        let kind: ChangeKind = self
            .kind
            .parse()
            .map_err(|_| AppError::invalid("kind", "choose the kind of change"))?;
        let plans = self
            .plans
            .iter()
            .map(|p| {
                p.parse::<Plan>()
                    .map_err(|_| AppError::invalid("segment.plans", format!("unknown plan {p:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let price = if kind == ChangeKind::Price {
            let plan: Plan = self.price_plan.parse().map_err(|_| {
                AppError::invalid("price.plan", "choose the plan whose price changes")
            })?;
            let grandfathering = match self.grandfathering.as_str() {
                "new_customers_only" => Grandfathering::NewCustomersOnly,
                _ => Grandfathering::AfterNotice {
                    notice_days: opt_u32("price.grandfathering.notice_days", &self.notice_days)?
                        .ok_or_else(|| {
                            AppError::invalid(
                                "price.grandfathering.notice_days",
                                "give the days of notice existing customers get",
                            )
                        })?,
                },
            };
            Some(PriceChange {
                plan,
                price: Price {
                    amount_cents: parse_amount("price.price", &self.new_price)?,
                    currency: "USD".into(),
                },
                grandfathering,
            })
        } else {
            None
        };
        Ok(ProposalInput {
            kind,
            title: self.title.clone(),
            body: self.body.clone(),
            segment: Segment {
                plans,
                min_tenure_days: opt_u32("segment.min_tenure_days", &self.min_tenure_days)?,
                max_tenure_days: opt_u32("segment.max_tenure_days", &self.max_tenure_days)?,
                min_price_cents: opt_amount("segment.min_price_cents", &self.min_price)?,
                max_price_cents: opt_amount("segment.max_price_cents", &self.max_price)?,
            },
            price,
            keywords: self
                .keywords
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect(),
            planned_at: parse_day("planned_at", &self.planned)?,
        })
    }

    fn of(p: &Proposal) -> ProposalForm {
        let d = &p.draft;
        let money = |c: Option<i64>| c.map(|c| format!("{}.{:02}", c / 100, c % 100));
        ProposalForm {
            csrf: String::new(),
            kind: d.kind.as_str().into(),
            title: d.title.clone(),
            body: d.body.clone(),
            plans: d
                .segment
                .plans
                .iter()
                .map(|p| p.as_str().to_string())
                .collect(),
            min_tenure_days: d
                .segment
                .min_tenure_days
                .map(|v| v.to_string())
                .unwrap_or_default(),
            max_tenure_days: d
                .segment
                .max_tenure_days
                .map(|v| v.to_string())
                .unwrap_or_default(),
            min_price: money(d.segment.min_price_cents).unwrap_or_default(),
            max_price: money(d.segment.max_price_cents).unwrap_or_default(),
            price_plan: d
                .price
                .as_ref()
                .map(|p| p.plan.as_str().to_string())
                .unwrap_or_default(),
            new_price: money(d.price.as_ref().map(|p| p.price.amount_cents)).unwrap_or_default(),
            grandfathering: d
                .price
                .as_ref()
                .map(|p| p.grandfathering.mode().to_string())
                .unwrap_or_default(),
            notice_days: d
                .price
                .as_ref()
                .and_then(|p| p.grandfathering.notice_days())
                .map(|v| v.to_string())
                .unwrap_or_default(),
            keywords: d.keywords.join(", "),
            planned: day_label(d.planned_at),
        }
    }
}

/// The form's choices, for the template.
struct FormView {
    f: ProposalForm,
    kinds: Vec<Choice>,
    plans: Vec<Choice>,
    price_plans: Vec<Choice>,
    after_notice: bool,
}

const KINDS: [(ChangeKind, &str); 4] = [
    (ChangeKind::Price, "Price change"),
    (ChangeKind::Plan, "Plan change"),
    (
        ChangeKind::Product,
        "Product change (a split, a rebrand, a removal)",
    ),
    (ChangeKind::Other, "Other"),
];

fn form_view(f: ProposalForm) -> FormView {
    FormView {
        kinds: KINDS
            .iter()
            .map(|(k, label)| Choice {
                value: k.as_str(),
                label,
                selected: f.kind == k.as_str(),
            })
            .collect(),
        plans: PLANS
            .iter()
            .map(|p| Choice {
                value: p.as_str(),
                label: p.label(),
                selected: f.plans.iter().any(|x| x == p.as_str()),
            })
            .collect(),
        price_plans: PLANS
            .iter()
            .map(|p| Choice {
                value: p.as_str(),
                label: p.label(),
                selected: f.price_plan == p.as_str(),
            })
            .collect(),
        after_notice: f.grandfathering != "new_customers_only",
        f,
    }
}

/// Reads a proposal form, with its repeated `plans` fields.
fn read_form(body: &[u8]) -> Result<ProposalForm, AppError> {
    let mut f = ProposalForm::default();
    for (k, v) in url::form_urlencoded::parse(body).into_owned() {
        let slot = match k.as_str() {
            "csrf" => &mut f.csrf,
            "kind" => &mut f.kind,
            "title" => &mut f.title,
            "body" => &mut f.body,
            "plans" => {
                f.plans.push(v);
                continue;
            }
            "min_tenure_days" => &mut f.min_tenure_days,
            "max_tenure_days" => &mut f.max_tenure_days,
            "min_price" => &mut f.min_price,
            "max_price" => &mut f.max_price,
            "price_plan" => &mut f.price_plan,
            "new_price" => &mut f.new_price,
            "grandfathering" => &mut f.grandfathering,
            "notice_days" => &mut f.notice_days,
            "keywords" => &mut f.keywords,
            "planned" => &mut f.planned,
            _ => continue,
        };
        *slot = v;
    }
    Ok(f)
}

struct ListRow {
    id: i64,
    title: String,
    kind: &'static str,
    status: &'static str,
    segment: String,
    planned: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "changes/staff_list.html")]
struct StaffListPage {
    l: Layout,
    rows: Vec<ListRow>,
    form: FormView,
    error: Option<String>,
}

async fn list_view(
    state: &AppState,
    l: Layout,
    form: ProposalForm,
    error: Option<String>,
) -> Result<StaffListPage, AppError> {
    let rows = svc::list(state, &[])
        .await?
        .into_iter()
        .map(|p| ListRow {
            id: p.id,
            kind: p.draft.kind.label(),
            status: p.status.label(),
            segment: p.draft.segment.describe(),
            planned: day_label(p.draft.planned_at),
            updated: fmt_time(p.updated_at),
            title: p.draft.title,
        })
        .collect();
    Ok(StaffListPage {
        l,
        rows,
        form: form_view(form),
        error,
    })
}

async fn staff_list(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
) -> Result<Html<String>, PageError> {
    let now = state_now(&state);
    let form = ProposalForm {
        kind: "price".into(),
        grandfathering: "after_notice".into(),
        notice_days: "30".into(),
        planned: day_label(now + 30 * DAY_MS),
        ..ProposalForm::default()
    };
    render(&list_view(&state, page.l, form, None).await?)
}

fn state_now(state: &AppState) -> Millis {
    state.clock.now_ms()
}

async fn staff_create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    page: Page,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let f = read_form(&body)?;
    page.check_csrf(&f.csrf)?;
    let result = match f.input() {
        Ok(input) => svc::create(&state, &admin.account, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(p) => Ok(Redirect::to(&format!("/staff/changes/{}?done=created", p.id)).into_response()),
        Err(e) if e.status().is_client_error() => {
            let status = e.status();
            let view = list_view(&state, page.l, f, Some(e.to_string())).await?;
            Ok(render_status(status, &view))
        }
        Err(e) => Err(e.into()),
    }
}

struct EvidenceRow {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "changes/staff_detail.html")]
struct StaffDetailPage {
    l: Layout,
    p: Proposal,
    kind: &'static str,
    status: &'static str,
    segment: String,
    price: String,
    planned: String,
    body: SafeHtml,
    impact: Impact,
    impact_delta: String,
    form: Option<FormView>,
    live: Option<LivePanel>,
    evidence: Vec<EvidenceRow>,
    decisions: Vec<Choice>,
    announce_title: String,
    announce_body: String,
    announce_day: String,
    announcement: Option<SafeHtml>,
    after: Option<AfterPanel>,
    timeline: Vec<(String, String)>,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// The live consultation panel.
struct LivePanel {
    id: i64,
    csrf: String,
    d: Dashboard,
    reactions: TimeChart,
    posts: TimeChart,
    pct: [i64; 3],
    comments: Vec<CommentRow>,
    comment_mood: String,
    stay: Vec<StayLine>,
    updated: String,
}

struct StayLine {
    plan: &'static str,
    tenure: String,
    reactions: i64,
    oppose_pct: i64,
    yes: i64,
    unsure: i64,
    no: i64,
    leave_pct: i64,
}

/// The after-change panel.
struct AfterPanel {
    a: AfterChange,
    charts: Vec<TimeChart>,
    recovery: String,
}

#[derive(Template)]
#[template(path = "changes/live.html")]
struct LiveTemplate {
    live: LivePanel,
}

fn pct(n: i64, of: i64) -> i64 {
    if of > 0 {
        (n * 100 + of / 2) / of
    } else {
        0
    }
}

async fn live_panel(state: &AppState, id: i64, csrf: &str) -> Result<LivePanel, AppError> {
    live_panel_of(state, id, svc::dashboard(state, id).await?, csrf).await
}

/// The live panel of a dashboard already computed.
async fn live_panel_of(
    state: &AppState,
    id: i64,
    d: svc::Dashboard,
    csrf: &str,
) -> Result<LivePanel, AppError> {
    let xs: Vec<Millis> = d.reactions.iter().map(|r| r.start).collect();
    let reactions = time_chart(
        "Reactions over time",
        "customers",
        &xs,
        vec![
            (
                "Support",
                "sup",
                d.reactions.iter().map(|r| r.support as f64).collect(),
            ),
            (
                "Unsure",
                "uns",
                d.reactions.iter().map(|r| r.unsure as f64).collect(),
            ),
            (
                "Oppose",
                "opp",
                d.reactions.iter().map(|r| r.oppose as f64).collect(),
            ),
        ],
        &d.markers,
        None,
    );
    let pxs: Vec<Millis> = d.posts.iter().map(|p| p.start).collect();
    let posts = time_chart(
        "Matching posts per day",
        "posts",
        &pxs,
        vec![
            (
                "All",
                "all",
                d.posts.iter().map(|p| p.total as f64).collect(),
            ),
            (
                "Negative",
                "opp",
                d.posts.iter().map(|p| p.negative as f64).collect(),
            ),
        ],
        &d.markers,
        None,
    );
    let total: i64 = d.totals.iter().sum();
    let comments = svc::staff_comments(state, id, 20)
        .await?
        .into_iter()
        .map(|c| CommentRow {
            when: fmt_time(c.created_at),
            reaction: c.reaction.map_or("", |r| r.label()),
            c,
        })
        .collect();
    let n: i64 = d.comment_sentiment.iter().sum();
    let stay = d
        .stay
        .iter()
        .map(|s| StayLine {
            plan: s.plan.label(),
            tenure: s.tenure.clone(),
            reactions: s.reactions,
            oppose_pct: pct(s.oppose, s.reactions),
            yes: s.yes,
            unsure: s.unsure,
            no: s.no,
            leave_pct: pct(s.no, s.yes + s.unsure + s.no),
        })
        .collect();
    Ok(LivePanel {
        id,
        csrf: csrf.to_string(),
        pct: [
            pct(d.totals[0], total),
            pct(d.totals[1], total),
            pct(d.totals[2], total),
        ],
        comment_mood: format!(
            "{} comments: {} negative, {} neutral, {} positive (mean {:+.2})",
            n,
            d.comment_sentiment[0],
            d.comment_sentiment[1],
            d.comment_sentiment[2],
            d.comment_mean_score
        ),
        updated: fmt_time(d.at),
        reactions,
        posts,
        comments,
        stay,
        d,
    })
}

fn after_panel(a: AfterChange) -> AfterPanel {
    let xs: Vec<Millis> = a.days.iter().map(|d| d.day).collect();
    let share: Vec<f64> = a
        .days
        .iter()
        .map(|d| {
            if d.posts > 0 {
                d.negative as f64 * 100.0 / d.posts as f64
            } else {
                0.0
            }
        })
        .collect();
    let charts = vec![
        time_chart(
            "Matching posts and their negative share",
            "posts / %",
            &xs,
            vec![
                (
                    "Posts",
                    "all",
                    a.days.iter().map(|d| d.posts as f64).collect(),
                ),
                ("Negative %", "opp", share),
            ],
            &a.markers,
            None,
        ),
        time_chart(
            "Cancellations and downgrades per day",
            "accounts",
            &xs,
            vec![
                (
                    "Cancellations",
                    "opp",
                    a.days.iter().map(|d| d.cancellations as f64).collect(),
                ),
                (
                    "Downgrades",
                    "uns",
                    a.days.iter().map(|d| d.downgrades as f64).collect(),
                ),
            ],
            &a.markers,
            None,
        ),
        time_chart(
            "Support load and CSAT",
            "conversations / CSAT",
            &xs,
            vec![
                (
                    "Conversations",
                    "all",
                    a.days
                        .iter()
                        .map(|d| d.support_conversations as f64)
                        .collect(),
                ),
                (
                    "CSAT (1–5)",
                    "sup",
                    a.days.iter().map(|d| d.csat.unwrap_or(0.0)).collect(),
                ),
            ],
            &a.markers,
            None,
        ),
        time_chart(
            "Idea votes per day",
            "votes",
            &xs,
            vec![(
                "Votes",
                "sup",
                a.days.iter().map(|d| d.idea_votes as f64).collect(),
            )],
            &a.markers,
            None,
        ),
    ];
    let recovery = match &a.recovery {
        None => "Recovery is measured from the announcement on.".to_string(),
        Some(r) => {
            let state = match r.days_to_recover {
                Some(0) => {
                    "Trust held: every day since the announcement stayed within the margins."
                        .to_string()
                }
                Some(d) => format!("Recovered {d} days after the announcement."),
                None => "Not recovered yet.".to_string(),
            };
            format!(
                "{state} Baseline ({} days before): {:.0}% negative posts, {:.1} cancellations a day. Peak since: {:.0}% negative, {} cancellations. Back to normal means within {:.0} points of the negative share and {:.0}% of the cancellations for {} days in a row.",
                r.rule.baseline_days,
                r.baseline_negative_share * 100.0,
                r.baseline_cancellations,
                r.peak_negative_share * 100.0,
                r.peak_cancellations,
                r.rule.share_margin * 100.0,
                r.rule.cancel_margin * 100.0,
                r.rule.hold_days
            )
        }
    };
    AfterPanel {
        a,
        charts,
        recovery,
    }
}

fn staff_notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "Draft saved. Check the impact below, then publish it to consult the customers it affects.",
        "saved" => "Draft saved.",
        "published" => "Published: the customers it affects now see a banner and can react.",
        "decided" => "Decision recorded in \u{201c}We heard you\u{201d}; everyone who took part was notified.",
        "announced" => "Announcement scheduled. It goes out once, to the affected customers, as each prefers.",
        "hidden" => "Comment visibility changed.",
        _ => return None,
    })
}

async fn detail_view(
    state: &AppState,
    l: Layout,
    id: i64,
    form: Option<ProposalForm>,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<StaffDetailPage, AppError> {
    let p = svc::get(state, id).await?;
    // One dashboard for the live panel, the evidence and the impact.
    let dash = if p.status == Status::Draft {
        None
    } else {
        Some(svc::dashboard(state, id).await?)
    };
    let impact = match &dash {
        Some(d) => d.impact.clone(),
        None => svc::impact_of(state, &p.draft).await?,
    };
    let evidence = if let (Status::Consulting, Some(d)) = (p.status, &dash) {
        svc::evidence_of(d)
            .into_iter()
            .map(|e| EvidenceRow {
                value: format!("{}:{}", e.kind.as_str(), e.id),
                label: format!("{}: {}", e.kind.as_str(), e.label),
            })
            .collect()
    } else {
        Vec::new()
    };
    let live = match dash {
        Some(d) => Some(live_panel_of(state, id, d, &l.csrf).await?),
        None => None,
    };
    let (announce_title, announce_body) = match (&p.announce_title, &p.announce_body) {
        (Some(t), Some(b)) => (t.clone(), b.clone()),
        _ => svc::announcement_template(&p),
    };
    let after = if p.published_at.is_some() && p.status != Status::Consulting {
        Some(after_panel(svc::after_change(state, id).await?))
    } else {
        None
    };
    let timeline = svc::markers(&p)
        .into_iter()
        .map(|m| (fmt_time(m.at), m.label))
        .collect();
    let delta = impact.monthly_delta_cents;
    Ok(StaffDetailPage {
        l,
        kind: p.draft.kind.label(),
        status: p.status.label(),
        segment: p.draft.segment.describe(),
        price: price_text(p.draft.price.as_ref()),
        planned: day_label(p.draft.planned_at),
        body: markdown::render(&p.draft.body),
        impact_delta: format!(
            "{}{}",
            if delta > 0 { "+" } else { "" },
            Price {
                amount_cents: delta,
                currency: impact.currency.clone()
            }
            .display()
        ),
        impact,
        form: (p.status == Status::Draft)
            .then(|| form_view(form.unwrap_or_else(|| ProposalForm::of(&p)))),
        live,
        evidence,
        decisions: [
            (Decision::Ship, "Ship it as proposed"),
            (
                Decision::Revise,
                "Revise: back to a draft, to change and consult again",
            ),
            (Decision::Withdraw, "Withdraw: do not make this change"),
        ]
        .into_iter()
        .map(|(d, label)| Choice {
            value: d.as_str(),
            label,
            selected: false,
        })
        .collect(),
        announce_title,
        announce_body,
        announce_day: day_label(state.clock.now_ms()),
        announcement: p.announce_body.as_deref().map(markdown::render),
        after,
        timeline,
        notice,
        error,
        p,
    })
}

async fn staff_detail(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<DoneParam>,
) -> Result<Html<String>, PageError> {
    let notice = staff_notice(q.done.as_deref());
    render(&detail_view(&state, page.l, id, None, notice, None).await?)
}

/// Answers a staff form: back to the proposal with a confirmation, or the
/// page again with the refusal.
async fn staff_after(
    state: &AppState,
    page: Page,
    id: i64,
    result: Result<(), AppError>,
    done: &str,
    form: Option<ProposalForm>,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/staff/changes/{id}?done={done}")).into_response()),
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 404 => {
            let status = e.status();
            let view = detail_view(state, page.l, id, form, None, Some(e.to_string())).await?;
            Ok(render_status(status, &view))
        }
        Err(e) => Err(e.into()),
    }
}

async fn staff_edit(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let f = read_form(&body)?;
    page.check_csrf(&f.csrf)?;
    let result = match f.input() {
        Ok(input) => svc::update(&state, id, input).await.map(|_| ()),
        Err(e) => Err(e),
    };
    staff_after(&state, page, id, result, "saved", Some(f)).await
}

async fn staff_publish(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<super::CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = svc::publish(&state, id).await.map(|_| ());
    staff_after(&state, page, id, result, "published", None).await
}

fn parse_evidence(v: &str) -> Result<Evidence, AppError> {
    let bad = || AppError::invalid("evidence", format!("unknown evidence {v:?}"));
    let (kind, id) = v.split_once(':').ok_or_else(bad)?;
    let kind = match kind {
        "alert" => EvidenceKind::Alert,
        "post" => EvidenceKind::Post,
        "idea" => EvidenceKind::Idea,
        "conversation" => EvidenceKind::Conversation,
        _ => return Err(bad()),
    };
    Ok(Evidence {
        kind,
        id: id.parse().map_err(|_| bad())?,
        label: String::new(),
    })
}

async fn staff_decide(
    State(state): State<AppState>,
    Admin(admin): Admin,
    page: Page,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    page.check_csrf(field("csrf"))?;
    let result = async {
        let decision: Decision = field("decision")
            .parse()
            .map_err(|_| AppError::invalid("decision", "choose ship, revise or withdraw"))?;
        let evidence = pairs
            .iter()
            .filter(|(n, _)| n == "evidence")
            .map(|(_, v)| parse_evidence(v))
            .collect::<Result<Vec<_>, _>>()?;
        svc::decide(
            &state,
            &admin.account,
            id,
            decision,
            field("note"),
            Some(evidence),
        )
        .await
        .map(|_| ())
    }
    .await;
    staff_after(&state, page, id, result, "decided", None).await
}

#[derive(Deserialize)]
struct AnnounceForm {
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    /// Empty: now.
    #[serde(default)]
    day: String,
}

async fn staff_announce(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<AnnounceForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = async {
        let now = state.clock.now_ms();
        let at = if f.day.trim().is_empty() {
            None
        } else {
            // A day: at once if it is today, else that day's first hour.
            let day = parse_day("at", &f.day)?;
            Some(if day <= now { now } else { day })
        };
        svc::schedule_announcement(&state, id, &f.title, &f.body, at)
            .await
            .map(|_| ())
    }
    .await;
    staff_after(&state, page, id, result, "announced", None).await
}

#[derive(Deserialize)]
struct HideForm {
    csrf: String,
    #[serde(default)]
    hidden: String,
}

async fn staff_hide(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
    Path((id, cid)): Path<(i64, i64)>,
    PageForm(f): PageForm<HideForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = svc::hide_comment(&state, cid, f.hidden == "true")
        .await
        .and_then(|of| {
            if of == id {
                Ok(())
            } else {
                Err(AppError::NotFound(format!("comment {cid} not found")))
            }
        });
    staff_after(&state, page, id, result, "hidden", None).await
}

async fn staff_live(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    render(&LiveTemplate {
        live: live_panel(&state, id, &page.l.csrf).await?,
    })
}

async fn stream(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Admin(admin): Admin,
    Path(id): Path<i64>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, PageError> {
    svc::get(&state, id).await?;
    let permit = state.streams.acquire(admin.account.id, ip)?;
    let changes = state.changes.events.subscribe();
    let posts = state.listening.events.subscribe();
    let s = futures_util::stream::unfold((changes, posts), move |(mut c, mut p)| async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            tokio::select! {
                r = c.recv() => match r {
                    Ok(e) if e.proposal_id == id => {
                        let ev = Event::default().event(e.kind.clone()).json_data(&e)
                            .unwrap_or_else(|_| Event::default().event("change"));
                        return Some((Ok(ev), (c, p)));
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                },
                r = p.recv() => match r {
                    Ok(crate::events::ListeningEvent::Posts { .. }) => {
                        return Some((Ok(Event::default().event("posts").data("{}")), (c, p)));
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    });
    Ok(Sse::new(crate::streams::hold(s, permit)).keep_alive(KeepAlive::default()))
}
