//! Pages of perks and word of mouth: the viewer's "My perks" with its
//! surprise reveal and sharing choice, share pages (`/share/{id}` to make a
//! link, `/w/{id}` the public page with Open Graph and Twitter-card tags),
//! the public changelog, and the staff pages for rules and decisions.

use super::{render, render_status, Layout, Page, PageForm};
use crate::auth::{CurrentUser, Staff};
use crate::error::{AppError, PageError};
use crate::perks as svc;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use marquee_domain::perks::{money, DryRun, DAY_MS};
use marquee_domain::{TitleDetail, TitleKind};
use marquee_store::decisions::{Decision, Evidence, EvidenceKind};
use marquee_store::perks::{PerkAward, PerkRule, ReferralOutcome, ShareSettings};
use serde::Deserialize;

/// The referral cookie a share page sets, read by the sign-up page.
pub const REF_COOKIE: &str = "marquee_ref";

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/perks", get(my_perks))
        .route("/perks/{id}/reveal", post(reveal))
        .route("/perks/sharing", post(sharing))
        .route("/perks/referral", post(referral))
        .route("/share/{id}", get(share_page))
        .route("/w/{id}", get(public_share))
        .route("/changelog", get(changelog))
        .route("/staff/perks", get(staff_perks).post(staff_rule_create))
        .route("/staff/perks/dry-run", post(staff_dry_run))
        .route("/staff/perks/{id}/enabled", post(staff_rule_enabled))
        .route(
            "/staff/decisions",
            get(staff_decisions).post(staff_decision_create),
        )
}

fn when(ms: i64) -> String {
    crate::format::fmt_time(ms)
}

fn day(ms: i64) -> String {
    let (y, m, d) = marquee_domain::perks::civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y}-{m:02}-{d:02}")
}

// ---------- My perks ----------

/// One perk as the page shows it.
#[derive(Debug)]
pub struct AwardView {
    a: PerkAward,
    reason: &'static str,
    date: String,
}

fn reason_text(a: &PerkAward) -> &'static str {
    use marquee_domain::perks::TriggerKind as K;
    match a.reason {
        K::SeriesFinished => "for finishing a series",
        K::Anniversary => "for your anniversary with us",
        K::SupportRecovery => "because we let you down, and we're sorry",
        K::IdeaLaunched => "because your idea launched",
        K::ReferralConverted => "because a friend joined",
        K::Custom => "just because",
    }
}

fn view(a: PerkAward) -> AwardView {
    AwardView {
        reason: reason_text(&a),
        date: day(a.created_at),
        a,
    }
}

#[derive(Template)]
#[template(path = "perks/mine.html")]
struct MinePage {
    l: Layout,
    credit: String,
    early_access: Vec<String>,
    badges: Vec<String>,
    awards: Vec<AwardView>,
    share: ShareSettings,
    can_claim: bool,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "perks/award.html")]
struct AwardPartial {
    l: Layout,
    w: AwardView,
    fresh: bool,
}

fn profile_id(page: &Page) -> Result<i64, AppError> {
    page.profile
        .as_ref()
        .map(|p| p.id)
        .ok_or_else(|| AppError::invalid("profile", "choose a profile first"))
}

async fn mine_view(
    state: &AppState,
    page: Page,
    user: &CurrentUser,
    notice: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let Some(pid) = page.profile.as_ref().map(|p| p.id) else {
        return Ok(Redirect::to("/profiles").into_response());
    };
    let s = &state.store;
    let awards = s.profile_awards(pid, 100).await?;
    let mut badges: Vec<String> = awards
        .iter()
        .filter(|a| a.revealed_at.is_some())
        .filter_map(|a| a.badge.clone())
        .collect();
    badges.sort();
    badges.dedup();
    let status = notice.as_ref().map_or(StatusCode::OK, |n| n.0);
    let can_claim =
        state.clock.now_ms() - user.account.created_at <= svc::CLAIM_WINDOW_DAYS * DAY_MS;
    Ok(render_status(
        status,
        &MinePage {
            credit: money(s.credit_balance(user.account.id).await?),
            early_access: s.early_access(user.account.id).await?,
            badges,
            awards: awards.into_iter().map(view).collect(),
            share: s.share_settings(user.account.id).await?,
            can_claim,
            notice: notice.map(|n| n.1),
            l: page.l,
        },
    ))
}

async fn my_perks(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
) -> Result<Response, PageError> {
    mine_view(&state, page, &user, None).await
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

async fn reveal(
    State(state): State<AppState>,
    _user: CurrentUser,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CsrfOnly>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let pid = profile_id(&page)?;
    let a = state
        .store
        .reveal_award(pid, id, state.clock.now_ms())
        .await?;
    if headers.contains_key("hx-request") {
        Ok(render(&AwardPartial {
            l: page.l,
            w: view(a),
            fresh: true,
        })?
        .into_response())
    } else {
        Ok(Redirect::to("/perks").into_response())
    }
}

#[derive(Deserialize)]
struct SharingForm {
    csrf: String,
    enabled: String,
}

async fn sharing(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    PageForm(f): PageForm<SharingForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let enabled = match f.enabled.as_str() {
        "on" => true,
        "off" => false,
        other => {
            return Err(
                AppError::invalid("enabled", format!("use on or off, not {other:?}")).into(),
            )
        }
    };
    svc::set_sharing(&state, user.account.id, enabled).await?;
    Ok(Redirect::to("/perks#sharing").into_response())
}

#[derive(Deserialize)]
struct ReferralForm {
    csrf: String,
    code: String,
}

async fn referral(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    PageForm(f): PageForm<ReferralForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    if state.clock.now_ms() - user.account.created_at > svc::CLAIM_WINDOW_DAYS * DAY_MS {
        let msg = "A referral code can be entered within 30 days of signing up.";
        return mine_view(
            &state,
            page,
            &user,
            Some((StatusCode::BAD_REQUEST, msg.into())),
        )
        .await;
    }
    let (status, msg) = match svc::attribute(&state, user.account.id, &f.code).await? {
        ReferralOutcome::Converted { .. } => {
            (StatusCode::OK, "Thanks! Your friend will hear from us.")
        }
        ReferralOutcome::SelfReferral => (
            StatusCode::BAD_REQUEST,
            "That is your own code: self-referral gives no reward.",
        ),
        ReferralOutcome::AlreadyReferred => (
            StatusCode::CONFLICT,
            "This account was already referred: a second code gives no reward.",
        ),
        ReferralOutcome::UnknownCode => (StatusCode::BAD_REQUEST, "Unknown referral code."),
    };
    mine_view(&state, page, &user, Some((status, msg.into()))).await
}

// ---------- share links ----------

#[derive(Template)]
#[template(path = "perks/share.html")]
struct SharePage {
    l: Layout,
    t: TitleDetail,
    link: String,
    with_ref: bool,
    sharing_on: bool,
    moment: Option<String>,
    seconds: Option<i64>,
}

#[derive(Deserialize)]
struct MomentParam {
    t: Option<String>,
}

fn parse_t(t: Option<&str>) -> Result<Option<i64>, AppError> {
    match t.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=366 * 86_400).contains(n))
            .map(Some)
            .ok_or_else(|| AppError::invalid("t", "must be a number of seconds")),
    }
}

async fn share_page(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<MomentParam>,
) -> Result<Html<String>, PageError> {
    let seconds = parse_t(q.t.as_deref())?;
    crate::library::check_visible(&state, page.profile.as_ref(), id).await?;
    let t = state
        .store
        .title(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("title {id} not found")))?;
    let (path, with_ref) = svc::share_path(&state, user.account.id, id, seconds).await?;
    let share = state.store.share_settings(user.account.id).await?;
    render(&SharePage {
        l: page.l,
        t,
        link: format!("{}{path}", crate::service::public_origin(&state, &headers)),
        with_ref,
        sharing_on: share.enabled,
        moment: seconds.map(svc::timestamp),
        seconds,
    })
}

#[derive(Template)]
#[template(path = "perks/public.html")]
struct PublicSharePage {
    l: Layout,
    t: TitleDetail,
    og_type: &'static str,
    og_title: String,
    description: String,
    canonical: String,
    moment: Option<String>,
    /// The moment in seconds, for the Watch link.
    seconds: Option<i64>,
    ref_code: Option<String>,
    title_id: i64,
    /// Absolute URL of the link-preview image, and whether it is the large
    /// 1200 x 630 one (`summary_large_image`) or a card poster (`summary`).
    og_image: Option<(String, bool)>,
    /// The poster shown on the page.
    poster: Option<crate::library::art::Picture>,
}

#[derive(Deserialize)]
struct PublicParams {
    t: Option<String>,
    #[serde(rename = "ref")]
    ref_code: Option<String>,
}

async fn public_share(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<PublicParams>,
) -> Result<Response, PageError> {
    let id: i64 = id
        .parse()
        .map_err(|_| AppError::NotFound(format!("no title {id:?}")))?;
    crate::library::check_visible(&state, page.profile.as_ref(), id).await?;
    let t = state
        .store
        .title(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("title {id} not found")))?;
    // A bad moment is dropped, not an error: links get mangled in the wild.
    let seconds = parse_t(q.t.as_deref()).ok().flatten();
    let ref_code = q.ref_code.as_deref().and_then(svc::normalise_code);
    let name = &t.summary.name;
    let og_title = match t.summary.year {
        Some(y) => format!("{name} ({y})"),
        None => name.clone(),
    };
    let moment = seconds.map(svc::timestamp);
    let genres = t.summary.genres.join(", ");
    let description = match &moment {
        Some(m) => format!("A moment at {m} in {og_title}. Watch it on Marquee."),
        None if genres.is_empty() => format!("Watch {og_title} on Marquee."),
        None => format!("{genres}. Watch {og_title} on Marquee."),
    };
    let mut canonical = format!("{}/w/{id}", crate::service::public_origin(&state, &headers));
    if let Some(s) = seconds {
        canonical.push_str(&format!("?t={s}"));
    }
    let origin = crate::service::public_origin(&state, &headers);
    let (og_image, poster) = crate::library::art::share_pictures(&state, id, &origin).await?;
    let og_type = match t.summary.kind {
        TitleKind::Movie => "video.movie",
        TitleKind::Series => "video.tv_show",
        TitleKind::Episode => "video.episode",
    };
    let resp = render(&PublicSharePage {
        l: page.l,
        og_type,
        og_title,
        description,
        canonical,
        moment,
        seconds,
        ref_code: ref_code.clone(),
        title_id: id,
        t,
        og_image,
        poster,
    })?
    .into_response();
    Ok(match ref_code {
        // Remembered for the sign-up page (30 days); only a code, nothing about who shared.
        Some(code) if page.user.is_none() => {
            let mut resp = resp;
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{REF_COOKIE}={code}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"
            )) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        _ => resp,
    })
}

/// The referral code remembered from a share page, if any.
pub fn ref_from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == REF_COOKIE)
        .and_then(|(_, v)| svc::normalise_code(v))
}

// ---------- changelog ----------

/// A decision as the changelog shows it.
#[derive(Debug)]
pub struct DecisionView {
    d: Decision,
    date: String,
    links: Vec<(Option<String>, String)>,
}

fn evidence_link(e: &Evidence) -> (Option<String>, String) {
    match e.kind {
        EvidenceKind::Idea => (
            Some(format!("/ideas/{}", e.id)),
            format!("Idea: {}", e.label),
        ),
        EvidenceKind::Post => (None, format!("Post: “{}”", e.label)),
        EvidenceKind::Alert => (
            Some(format!("/listening/alerts/{}", e.id)),
            format!("Alert: {}", e.label),
        ),
        EvidenceKind::Conversation => (
            Some(format!("/staff/support/conversations/{}", e.id)),
            format!("Support conversation #{} with {}", e.id, e.label),
        ),
    }
}

fn decision_view(d: Decision, staff: bool) -> DecisionView {
    let links = d
        .evidence
        .iter()
        // Alerts and posts are staff pages; the public sees the ideas.
        .filter(|e| staff || e.kind == EvidenceKind::Idea)
        .map(evidence_link)
        .collect();
    DecisionView {
        date: day(d.created_at),
        d,
        links,
    }
}

#[derive(Template)]
#[template(path = "perks/changelog.html")]
struct ChangelogPage {
    l: Layout,
    decisions: Vec<DecisionView>,
}

async fn changelog(State(state): State<AppState>, page: Page) -> Result<Html<String>, PageError> {
    let staff = page.l.is_staff;
    let decisions = state
        .store
        .decisions(100, 0)
        .await?
        .into_iter()
        .map(|d| decision_view(d, staff))
        .collect();
    render(&ChangelogPage {
        l: page.l,
        decisions,
    })
}

// ---------- staff: rules ----------

/// A rule on the staff page.
#[derive(Debug)]
pub struct RuleView {
    r: PerkRule,
    json: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "perks/staff.html")]
struct StaffPerksPage {
    l: Layout,
    rules: Vec<RuleView>,
    audit: Vec<AuditView>,
    spend_total: String,
    spend_30d: String,
    awards_total: i64,
    b: RuleBuilder,
    error: Option<String>,
}

impl StaffPerksPage {
    fn triggers(&self) -> Vec<(&'static str, &'static str)> {
        marquee_domain::perks::TriggerKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label()))
            .collect()
    }
    fn fields(&self) -> Vec<(&'static str, &'static str)> {
        marquee_domain::perks::Field::EVERY
            .iter()
            .map(|f| (f.name(), f.label()))
            .collect()
    }
    fn ops(&self) -> Vec<(&'static str, &'static str)> {
        marquee_domain::perks::Op::EVERY
            .iter()
            .map(|o| (o.name(), o.label()))
            .collect()
    }
    fn effects(&self) -> Vec<(&'static str, &'static str)> {
        marquee_domain::perks::EffectKind::EVERY
            .iter()
            .map(|e| (e.as_str(), e.label()))
            .collect()
    }
}

/// An audit line with its time in words.
#[derive(Debug)]
pub struct AuditView {
    line: svc::AuditLine,
    when: String,
    cost: String,
}

/// Conditions the builder offers at once.
const BUILDER_CONDITIONS: usize = 3;

/// One condition row of the builder.
#[derive(Debug, Clone, Default)]
pub struct CondRow {
    n: usize,
    field: String,
    op: String,
    value: String,
    genre: String,
}

/// The perk rule builder's fields: trigger, conditions, effect and budget
/// as controls (Talon.One's rule builder is the anchor). The JSON a rule
/// is stored as is what this builds, shown as an export; pasting JSON is
/// an import for rules made elsewhere (`rule`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RuleBuilder {
    csrf: String,
    /// A rule pasted as JSON (the import); when set, the controls are ignored.
    rule: String,
    name: String,
    trigger: String,
    event_name: String,
    series_id: String,
    years: String,
    c1_field: String,
    c1_op: String,
    c1_value: String,
    c1_genre: String,
    c2_field: String,
    c2_op: String,
    c2_value: String,
    c2_genre: String,
    c3_field: String,
    c3_op: String,
    c3_value: String,
    c3_genre: String,
    effect: String,
    amount: String,
    badge: String,
    feature: String,
    message: String,
    cost: String,
    budget_total: String,
    budget_awards: String,
    per_profile: String,
    period_days: String,
}

impl RuleBuilder {
    /// The example a new rule starts from.
    fn example() -> Self {
        RuleBuilder {
            csrf: String::new(),
            rule: String::new(),
            name: "Finished a series".into(),
            trigger: "series_finished".into(),
            event_name: String::new(),
            series_id: String::new(),
            years: String::new(),
            c1_field: "tenure_days".into(),
            c1_op: "gte".into(),
            c1_value: "0".into(),
            c1_genre: String::new(),
            c2_field: String::new(),
            c2_op: "gte".into(),
            c2_value: String::new(),
            c2_genre: String::new(),
            c3_field: String::new(),
            c3_op: "gte".into(),
            c3_value: String::new(),
            c3_genre: String::new(),
            effect: "credit".into(),
            amount: "3.00".into(),
            badge: String::new(),
            feature: String::new(),
            message: "You made it to the end. Popcorn is on us.".into(),
            cost: String::new(),
            budget_total: "500.00".into(),
            budget_awards: String::new(),
            per_profile: "1".into(),
            period_days: "30".into(),
        }
    }
}

/// Dollars as people type them ("3", "3.5", "$3.50") → cents.
fn cents(field: &str, label: &str, text: &str) -> Result<Option<i64>, AppError> {
    let t = text.trim().trim_start_matches('$').replace(',', "");
    if t.is_empty() {
        return Ok(None);
    }
    let v: f64 = t.parse().map_err(|_| {
        AppError::invalid(
            field,
            format!("{label}: an amount in dollars, e.g. 3.50, not {text:?}"),
        )
    })?;
    if !v.is_finite() || !(0.0..=1_000_000_000.0).contains(&v) {
        return Err(AppError::invalid(
            field,
            format!("{label}: between $0 and $1,000,000,000"),
        ));
    }
    Ok(Some((v * 100.0).round() as i64))
}

/// A whole number typed into a field.
fn whole(field: &str, label: &str, text: &str) -> Result<Option<i64>, AppError> {
    let t = text.trim().replace(',', "");
    if t.is_empty() {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| AppError::invalid(field, format!("{label}: a whole number, not {text:?}")))
}

impl RuleBuilder {
    fn conditions(&self) -> Vec<CondRow> {
        [
            (&self.c1_field, &self.c1_op, &self.c1_value, &self.c1_genre),
            (&self.c2_field, &self.c2_op, &self.c2_value, &self.c2_genre),
            (&self.c3_field, &self.c3_op, &self.c3_value, &self.c3_genre),
        ]
        .into_iter()
        .take(BUILDER_CONDITIONS)
        .enumerate()
        .map(|(i, (f, o, v, g))| CondRow {
            n: i + 1,
            field: f.clone(),
            op: o.clone(),
            value: v.clone(),
            genre: g.clone(),
        })
        .collect()
    }

    /// The rule's JSON, as the API takes it, from the controls.
    fn to_json(&self) -> Result<serde_json::Value, AppError> {
        use serde_json::{json, Map, Value};
        let mut trigger = Map::new();
        trigger.insert("kind".into(), json!(self.trigger));
        if self.trigger == "custom" {
            trigger.insert("name".into(), json!(self.event_name.trim()));
        }
        if let Some(id) = whole("series_id", "Series", &self.series_id)? {
            trigger.insert("series_id".into(), json!(id));
        }
        if let Some(y) = whole("years", "Anniversary year", &self.years)? {
            trigger.insert("years".into(), json!(y));
        }
        let mut conditions = Vec::new();
        for c in self.conditions() {
            if c.field.is_empty() {
                continue;
            }
            let field = format!("c{}_value", c.n);
            let label = format!("Condition {}", c.n);
            let value = if c.field == "plan" {
                if c.op == "in" {
                    Value::Array(
                        c.value
                            .split(',')
                            .map(str::trim)
                            .filter(|p| !p.is_empty())
                            .map(|p| json!(p.to_lowercase()))
                            .collect(),
                    )
                } else {
                    json!(c.value.trim().to_lowercase())
                }
            } else {
                let t = c.value.trim();
                match t.parse::<i64>() {
                    Ok(n) => json!(n),
                    Err(_) => {
                        let v: f64 = t.parse().map_err(|_| {
                            AppError::invalid(&field, format!("{label}: a number, not {t:?}"))
                        })?;
                        json!(v)
                    }
                }
            };
            let mut m = Map::new();
            m.insert("field".into(), json!(c.field));
            m.insert("op".into(), json!(c.op));
            m.insert("value".into(), value);
            if c.field == "titles_finished" && !c.genre.trim().is_empty() {
                m.insert("genre".into(), json!(c.genre.trim()));
            }
            conditions.push(Value::Object(m));
        }
        let mut effect = Map::new();
        effect.insert("kind".into(), json!(self.effect));
        if self.effect == "credit" {
            if let Some(c) = cents("amount", "Credit amount", &self.amount)? {
                effect.insert("amount_cents".into(), json!(c));
            }
        }
        if self.effect == "badge" {
            effect.insert("badge".into(), json!(self.badge.trim()));
        }
        if self.effect == "early_access" {
            effect.insert("feature".into(), json!(self.feature.trim()));
        }
        if !self.message.trim().is_empty() {
            effect.insert("message".into(), json!(self.message.trim()));
        }
        if let Some(c) = cents("cost", "Cost to the business", &self.cost)? {
            effect.insert("cost_cents".into(), json!(c));
        }
        let mut global = Map::new();
        if let Some(c) = cents("budget_total", "Total budget", &self.budget_total)? {
            global.insert("max_cents".into(), json!(c));
        }
        if let Some(n) = whole("budget_awards", "Most perks in all", &self.budget_awards)? {
            global.insert("max_awards".into(), json!(n));
        }
        let per_profile = json!({
            "max_awards": whole("per_profile", "Perks per profile", &self.per_profile)?.unwrap_or(0),
            "period_days": whole("period_days", "Period", &self.period_days)?.unwrap_or(0),
        });
        Ok(json!({
            "name": self.name.trim(),
            "trigger": trigger,
            "conditions": conditions,
            "effect": effect,
            "budget": {"global": global, "per_profile": per_profile},
        }))
    }
}

/// A rule's JSON path (from validation) as the builder's control names it.
fn control_label(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("conditions[") {
        let n: usize = rest
            .split(']')
            .next()
            .and_then(|i| i.parse().ok())
            .unwrap_or(0);
        return format!("Condition {}", n + 1);
    }
    match path {
        "name" => "Name",
        "trigger.name" => "Event name",
        "trigger.series_id" => "Series",
        "trigger.years" => "Anniversary year",
        p if p.starts_with("trigger") => "Trigger",
        "effect.amount_cents" => "Credit amount",
        "effect.badge" => "Badge",
        "effect.feature" => "Feature",
        "effect.message" => "Message",
        "effect.cost_cents" => "Cost to the business",
        p if p.starts_with("effect") => "Effect",
        p if p.starts_with("budget.global") => "Total budget",
        "budget.per_profile.max_awards" => "Perks per profile",
        "budget.per_profile.period_days" => "Period",
        p if p.starts_with("budget") => "Budget",
        other => other,
    }
    .to_string()
}

async fn staff_view(
    state: &AppState,
    page: Page,
    b: RuleBuilder,
    error: Option<String>,
) -> Result<Response, PageError> {
    let s = &state.store;
    let spend = s
        .perk_spend(state.clock.now_ms() - svc::DRY_RUN_DAYS * DAY_MS)
        .await?;
    let rules = s
        .perk_rules()
        .await?
        .into_iter()
        .map(|r| RuleView {
            json: serde_json::to_string_pretty(&r.spec).unwrap_or_default(),
            summary: r.spec.in_words(),
            r,
        })
        .collect();
    let audit = svc::audit_timeline(state, 50)
        .await?
        .into_iter()
        .map(|line| AuditView {
            when: when(line.at),
            cost: if line.cost_cents > 0 {
                money(line.cost_cents)
            } else {
                String::new()
            },
            line,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(render_status(
        status,
        &StaffPerksPage {
            l: page.l,
            rules,
            audit,
            spend_total: money(spend.total_cents),
            spend_30d: money(spend.window_cents),
            awards_total: spend.total_awards,
            b,
            error,
        },
    ))
}

async fn staff_perks(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
) -> Result<Response, PageError> {
    staff_view(&state, page, RuleBuilder::example(), None).await
}

/// The rule a builder form describes (or the pasted JSON, when given), or
/// a plain-language error naming the control.
fn rule_from_form(b: &RuleBuilder) -> Result<marquee_domain::perks::RuleSpec, AppError> {
    let v = if b.rule.trim().is_empty() {
        b.to_json()?
    } else {
        serde_json::from_str(&b.rule).map_err(|e| {
            AppError::invalid(
                "rule",
                format!(
                    "the pasted rule is not valid JSON (line {}, column {}): check the braces and quotes",
                    e.line(),
                    e.column()
                ),
            )
        })?
    };
    svc::parse_rule(&v)
}

/// An error of the builder as one line for people: validation names the
/// control ("Credit amount: …"); the builder's own checks already do; a
/// pasted rule keeps its JSON path ("budget: …").
fn form_error(b: &RuleBuilder, e: &AppError) -> String {
    const OWN: [&str; 11] = [
        "amount",
        "cost",
        "budget_total",
        "budget_awards",
        "per_profile",
        "period_days",
        "series_id",
        "years",
        "c1_value",
        "c2_value",
        "c3_value",
    ];
    match e.field() {
        Some(f) if OWN.contains(&f) || f == "rule" => e.to_string(),
        Some(f) if !b.rule.trim().is_empty() => format!("{f}: {e}"),
        Some(f) => format!("{}: {e}", control_label(f)),
        None => e.to_string(),
    }
}

async fn staff_rule_create(
    State(state): State<AppState>,
    Staff(user): Staff,
    page: Page,
    PageForm(f): PageForm<RuleBuilder>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    if !page.l.is_admin {
        return Err(AppError::Forbidden("saving a rule needs the admin role".into()).into());
    }
    match rule_from_form(&f) {
        Ok(spec) => {
            state
                .store
                .create_perk_rule(&spec, user.account.id, state.clock.now_ms())
                .await?;
            state.perks.wake.notify_one();
            Ok(Redirect::to("/staff/perks?ok=rule_saved").into_response())
        }
        Err(e) if e.status().is_client_error() => {
            let msg = form_error(&f, &e);
            staff_view(&state, page, f, Some(msg)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct EnabledForm {
    csrf: String,
    enabled: String,
}

/// Pauses or resumes a rule (admin); audited like any rule change.
async fn staff_rule_enabled(
    State(state): State<AppState>,
    Staff(user): Staff,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<EnabledForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    if !page.l.is_admin {
        return Err(AppError::Forbidden("changing a rule needs the admin role".into()).into());
    }
    let enabled = match f.enabled.as_str() {
        "on" => true,
        "off" => false,
        other => {
            return Err(
                AppError::invalid("enabled", format!("use on or off, not {other:?}")).into(),
            )
        }
    };
    let mut rule = state
        .store
        .perk_rule(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("rule {id} not found")))?;
    rule.spec.enabled = enabled;
    state
        .store
        .update_perk_rule(id, &rule.spec, user.account.id, state.clock.now_ms())
        .await?;
    state.perks.wake.notify_one();
    let ok = if enabled { "rule_on" } else { "rule_off" };
    Ok(Redirect::to(&format!("/staff/perks?ok={ok}#rule-{id}")).into_response())
}

#[derive(Template)]
#[template(path = "perks/dry_run.html")]
struct DryRunPartial {
    r: Option<DryRun>,
    total: String,
    error: Option<String>,
    /// The rule in words.
    words: String,
    /// The rule as JSON, the export.
    json: String,
}

impl DryRunPartial {
    fn cost(&self, cents: impl std::borrow::Borrow<i64>) -> String {
        money(*cents.borrow())
    }
}

async fn staff_dry_run(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
    PageForm(f): PageForm<RuleBuilder>,
) -> Result<Html<String>, PageError> {
    page.check_csrf(&f.csrf)?;
    let out = match rule_from_form(&f) {
        Ok(spec) => svc::dry_run(&state, &spec).await.map(|r| (spec, r)),
        Err(e) => Err(e),
    };
    match out {
        Ok((spec, r)) => render(&DryRunPartial {
            total: money(r.total_cents),
            words: spec.in_words(),
            json: serde_json::to_string_pretty(&spec).unwrap_or_default(),
            r: Some(r),
            error: None,
        }),
        Err(e) if e.status().is_client_error() => render(&DryRunPartial {
            r: None,
            total: String::new(),
            error: Some(form_error(&f, &e)),
            words: String::new(),
            json: String::new(),
        }),
        Err(e) => Err(e.into()),
    }
}

// ---------- staff: decisions ----------

#[derive(Template)]
#[template(path = "perks/decisions.html")]
struct StaffDecisionsPage {
    l: Layout,
    decisions: Vec<DecisionView>,
    error: Option<String>,
    title: String,
    body: String,
    evidence: String,
}

#[derive(Deserialize, Default)]
struct DecisionForm {
    csrf: String,
    title: String,
    body: String,
    evidence: String,
}

/// Parses "idea 12, post 5, alert 3, conversation 4" (or `idea:12`, `#12`
/// for an idea).
fn parse_evidence(text: &str) -> Result<Vec<Evidence>, AppError> {
    let mut out = Vec::new();
    for part in text
        .split([',', ';', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let bad = || {
            AppError::invalid(
                "evidence",
                format!("{part:?}: write it as idea 12, post 5, alert 3 or conversation 4"),
            )
        };
        let (kind, id) = match part.split_once([' ', ':']) {
            Some((k, id)) => (k.trim().to_lowercase(), id.trim()),
            None => match part.strip_prefix('#') {
                Some(id) => ("idea".to_string(), id),
                None => return Err(bad()),
            },
        };
        let kind = match kind.as_str() {
            "idea" => EvidenceKind::Idea,
            "post" => EvidenceKind::Post,
            "alert" => EvidenceKind::Alert,
            "conversation" | "support" => EvidenceKind::Conversation,
            _ => return Err(bad()),
        };
        let id: i64 = id.trim_start_matches('#').parse().map_err(|_| bad())?;
        out.push(Evidence {
            kind,
            id,
            label: String::new(),
        });
    }
    Ok(out)
}

async fn decisions_view(
    state: &AppState,
    page: Page,
    form: DecisionForm,
    error: Option<String>,
) -> Result<Response, PageError> {
    let decisions = state
        .store
        .decisions(50, 0)
        .await?
        .into_iter()
        .map(|d| decision_view(d, true))
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(render_status(
        status,
        &StaffDecisionsPage {
            l: page.l,
            decisions,
            error,
            title: form.title,
            body: form.body,
            evidence: form.evidence,
        },
    ))
}

async fn staff_decisions(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
) -> Result<Response, PageError> {
    decisions_view(&state, page, DecisionForm::default(), None).await
}

async fn staff_decision_create(
    State(state): State<AppState>,
    Staff(user): Staff,
    page: Page,
    PageForm(f): PageForm<DecisionForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = match parse_evidence(&f.evidence) {
        Ok(ev) => svc::record_decision(&state, user.account.id, &f.title, &f.body, &ev).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(d) => Ok(Redirect::to(&format!("/staff/decisions#decision-{}", d.id)).into_response()),
        Err(e) if e.status().is_client_error() => {
            let msg = match e.field() {
                Some(field) => format!("{field}: {e}"),
                None => e.to_string(),
            };
            decisions_view(&state, page, f, Some(msg)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_text() {
        let e = parse_evidence("idea 12, post:5\nalert 3; #7, conversation 9").unwrap();
        assert_eq!(
            e.iter().map(|e| (e.kind, e.id)).collect::<Vec<_>>(),
            vec![
                (EvidenceKind::Idea, 12),
                (EvidenceKind::Post, 5),
                (EvidenceKind::Alert, 3),
                (EvidenceKind::Idea, 7),
                (EvidenceKind::Conversation, 9)
            ]
        );
        assert_eq!(
            parse_evidence("ticket 4").unwrap_err().field(),
            Some("evidence")
        );
        assert!(parse_evidence("").unwrap().is_empty());
    }
}
