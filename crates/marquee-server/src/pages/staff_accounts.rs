//! The admins' accounts pages: search and filter accounts by address, role,
//! plan and status; one account's page with its subscription history and
//! audit trail, and the actions (change role or plan, mail a password
//! reset, disable or enable), each recorded in the audit trail.

use super::{render, render_status, Layout, Page, PageForm};
use crate::auth::{Admin, CurrentUser};
use crate::error::{AppError, PageError};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use marquee_domain::plans::{AccountStatus, PLANS};
use marquee_domain::{Account, Plan, Role};
use marquee_store::{AccountFilter, StaffActionRecord};
use serde::Deserialize;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff/accounts", get(list))
        .route("/staff/accounts/{id}", get(detail))
        .route("/staff/accounts/{id}/update", post(update))
        .route("/staff/accounts/{id}/reset", post(reset))
}

/// The list's filters, as the form sends them (empty means any).
#[derive(Debug, Default, Deserialize)]
struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    status: String,
    page: Option<u32>,
}

/// One select of the filter form.
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

fn choices(all: &[(&'static str, &'static str)], current: &str) -> Vec<Choice> {
    all.iter()
        .map(|(value, label)| Choice {
            value,
            label,
            selected: *value == current,
        })
        .collect()
}

const ROLES: [(&str, &str); 3] = [("viewer", "Viewer"), ("agent", "Agent"), ("admin", "Admin")];
const STATUSES: [(&str, &str); 4] = [
    ("active", "Active"),
    ("paused", "Paused"),
    ("cancelled", "Cancelled"),
    ("disabled", "Disabled"),
];

fn plan_choices(current: &str) -> Vec<Choice> {
    PLANS
        .iter()
        .map(|p| Choice {
            value: p.as_str(),
            label: p.label(),
            selected: p.as_str() == current,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "staff_accounts.html")]
struct ListPage {
    l: Layout,
    accounts: Vec<Account>,
    q: String,
    roles: Vec<Choice>,
    plans: Vec<Choice>,
    statuses: Vec<Choice>,
    filtered: bool,
    query: String,
    page: u32,
    has_more: bool,
}

async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
    Query(p): Query<ListParams>,
) -> Result<Html<String>, PageError> {
    // Unknown values are ignored rather than refused: they come from the
    // page's own selects, and a stale bookmark still shows something.
    let mut filter = AccountFilter {
        q: Some(p.q.trim().to_string()).filter(|q| !q.is_empty()),
        role: p.role.parse::<Role>().ok(),
        plan: p.plan.parse::<Plan>().ok(),
        ..AccountFilter::default()
    };
    if p.status == "disabled" {
        filter.disabled = Some(true);
    } else {
        filter.status = p.status.parse::<AccountStatus>().ok();
    }
    let n = p.page.unwrap_or(1).clamp(1, 100_000);
    let mut accounts = state.store.list_accounts(&filter, 51, (n - 1) * 50).await?;
    let has_more = accounts.len() > 50;
    accounts.truncate(50);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("q", &p.q)
        .append_pair("role", &p.role)
        .append_pair("plan", &p.plan)
        .append_pair("status", &p.status)
        .finish();
    render(&ListPage {
        l: page.l,
        accounts,
        filtered: filter.q.is_some()
            || filter.role.is_some()
            || filter.plan.is_some()
            || filter.status.is_some()
            || filter.disabled.is_some(),
        q: p.q,
        roles: choices(&ROLES, &p.role),
        plans: plan_choices(&p.plan),
        statuses: choices(&STATUSES, &p.status),
        query,
        page: n,
        has_more,
    })
}

#[derive(Template)]
#[template(path = "staff_account.html")]
struct DetailPage {
    l: Layout,
    a: Account,
    own: bool,
    sub: crate::plans::Subscription,
    audit: Vec<StaffActionRecord>,
    roles: Vec<Choice>,
    plans: Vec<Choice>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct DoneParam {
    done: Option<String>,
}

fn done_notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "saved" => "Saved. The change is in the audit trail below.",
        "reset" => "A password-reset link is on its way to the account's address.",
        _ => return None,
    })
}

async fn detail_view(
    state: &AppState,
    l: Layout,
    admin: &CurrentUser,
    id: i64,
    notice: Option<String>,
    error: Option<String>,
) -> Result<DetailPage, PageError> {
    let a = state
        .store
        .account(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("account {id} not found")))?;
    Ok(DetailPage {
        l,
        own: a.id == admin.account.id,
        sub: crate::plans::subscription(state, &a).await?,
        audit: state.store.staff_actions(id, 50).await?,
        roles: choices(&ROLES, a.role.as_str()),
        plans: plan_choices(a.plan.as_str()),
        a,
        notice,
        error,
    })
}

async fn detail(
    State(state): State<AppState>,
    Admin(admin): Admin,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<DoneParam>,
) -> Result<Html<String>, PageError> {
    let notice = q.done.as_deref().and_then(done_notice).map(str::to_string);
    render(&detail_view(&state, page.l, &admin, id, notice, None).await?)
}

#[derive(Deserialize)]
struct UpdateForm {
    csrf: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    plan: Option<String>,
    #[serde(default)]
    disabled: Option<String>,
}

fn parse_field<T: std::str::FromStr>(
    field: &'static str,
    v: Option<&str>,
) -> Result<Option<T>, AppError> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<T>()
                .map_err(|_| AppError::invalid(field, format!("unknown {field} {s:?}")))
        })
        .transpose()
}

/// Answers an action: back to the account's page with a confirmation, or
/// the page again with the refusal.
async fn after(
    state: &AppState,
    page: Page,
    admin: &CurrentUser,
    id: i64,
    result: Result<(), AppError>,
    done: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/staff/accounts/{id}?done={done}")).into_response()),
        Err(e) if e.status().is_client_error() && e.status().as_u16() != 404 => {
            let status = e.status();
            let view = detail_view(state, page.l, admin, id, None, Some(e.to_string())).await?;
            Ok(render_status(status, &view))
        }
        Err(e) => Err(e.into()),
    }
}

async fn update(
    State(state): State<AppState>,
    Admin(admin): Admin,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<UpdateForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = async {
        let role = parse_field::<Role>("role", f.role.as_deref())?;
        let plan = parse_field::<Plan>("plan", f.plan.as_deref())?;
        let disabled = parse_field::<bool>("disabled", f.disabled.as_deref())?;
        crate::service::staff_update_account(&state, &admin, id, role, plan, disabled).await
    }
    .await;
    after(&state, page, &admin, id, result, "saved").await
}

async fn reset(
    State(state): State<AppState>,
    Admin(admin): Admin,
    page: Page,
    headers: HeaderMap,
    Path(id): Path<i64>,
    PageForm(f): PageForm<super::CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let result = crate::service::admin_password_reset(&state, &admin, id, &headers).await;
    after(&state, page, &admin, id, result, "reset").await
}
