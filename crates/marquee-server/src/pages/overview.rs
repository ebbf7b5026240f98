//! The stakeholder overview: the staff home page (`/staff`), live over SSE.
//!
//! Server-rendered inline-SVG charts, each bar a link to its source:
//! sentiment per day → the posts of that day, alerts → their pages, rising
//! ideas → the idea, top titles → the title, perk spend → the perks page.
//! `/staff/stream` sends an event when a perk is given, a decision recorded,
//! posts stored or an alert raised, and a tick every
//! [`TICK`] for viewing and votes; `static/live.js` then asks htmx to
//! refresh the panel (`/staff/overview/live`).

use super::{render, Layout, Page};
use crate::auth::{ClientIp, Staff};
use crate::error::PageError;
use crate::overview::{gather, Overview};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use marquee_domain::perks::{money, DAY_MS};
use std::convert::Infallible;
use std::time::Duration;

/// Viewing and votes have no event feed: the stream ticks this often.
pub const TICK: Duration = Duration::from_secs(30);

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/staff", get(staff_home))
        .route("/staff/overview/live", get(live))
        .route("/staff/stream", get(stream))
}

/// A vertical bar with an optional highlighted part (negative posts,
/// completed streams) and its drill-down link.
#[derive(Debug, Clone)]
pub struct VBar {
    x: f64,
    y: f64,
    h: f64,
    part_y: f64,
    part_h: f64,
    label: String,
    title: String,
    href: String,
}

/// A column chart over days.
#[derive(Debug, Clone)]
pub struct Columns {
    bars: Vec<VBar>,
    w: f64,
    line: String,
    max_label: String,
}

/// A horizontal bar with its link.
#[derive(Debug, Clone)]
pub struct HBar {
    y: f64,
    w: f64,
    text_y: f64,
    label: String,
    value: String,
    href: String,
}

const PLOT_W: f64 = 320.0;
const PLOT_H: f64 = 90.0;

/// One day of a column chart: (day, total, highlighted part, line value
/// in -1..1, tooltip, link).
type Col = (i64, i64, i64, Option<f64>, String, String);

fn columns(items: &[Col], unit: &str) -> Columns {
    let n = items.len().max(1) as f64;
    let slot = PLOT_W / n;
    let w = (slot * 0.7).max(2.0);
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    let mut line = Vec::new();
    let bars = items
        .iter()
        .enumerate()
        .map(|(i, (d, total, part, lv, title, href))| {
            let x = i as f64 * slot + (slot - w) / 2.0;
            let h = *total as f64 / max * PLOT_H;
            let part_h = *part as f64 / max * PLOT_H;
            if let Some(v) = lv {
                line.push(format!(
                    "{:.1},{:.1}",
                    x + w / 2.0,
                    (1.0 - v.clamp(-1.0, 1.0)) / 2.0 * PLOT_H
                ));
            }
            let day = crate::chart::day_label(*d);
            VBar {
                x,
                y: PLOT_H - h,
                h,
                part_y: PLOT_H - part_h,
                part_h,
                label: day,
                title: title.clone(),
                href: href.clone(),
            }
        })
        .collect();
    Columns {
        bars,
        w,
        line: line.join(" "),
        max_label: format!("max {} {unit}", max as i64),
    }
}

fn hbars(items: &[(String, i64, String, String)]) -> Vec<HBar> {
    // (label, value, value text, href)
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    items
        .iter()
        .enumerate()
        .map(|(i, (label, v, text, href))| HBar {
            y: i as f64 * 24.0,
            w: (*v as f64 / max * 150.0).max(2.0),
            text_y: i as f64 * 24.0 + 14.0,
            label: label.chars().take(34).collect(),
            value: text.clone(),
            href: href.clone(),
        })
        .collect()
}

/// The support tile's bars, each 0 to 100 and linked to the metrics page.
fn support_bars(s: &crate::support::OverviewSupport) -> Vec<HBar> {
    let metrics = "/staff/support/metrics".to_string();
    let mut items = Vec::new();
    if let Some(avg) = s.csat_avg {
        items.push((
            format!("CSAT {avg:.2} / 5"),
            (avg / 5.0 * 100.0).round() as i64,
            format!("{avg:.2} from {} answer(s)", s.csat_count),
            metrics.clone(),
        ));
    }
    if let Some(r) = s.csat_positive_rate {
        items.push((
            format!("CSAT 4–5: {:.0} %", r * 100.0),
            (r * 100.0).round() as i64,
            format!("{:.0} % of answers", r * 100.0),
            metrics.clone(),
        ));
    }
    if let Some(r) = s.sla_met_rate {
        items.push((
            format!("SLA met: {:.0} %", r * 100.0),
            (r * 100.0).round() as i64,
            format!("{:.0} % of SLA verdicts", r * 100.0),
            metrics,
        ));
    }
    // Scale against 100, not the largest bar.
    let mut bars = hbars(
        &[
            items.clone(),
            vec![(String::new(), 100, String::new(), String::new())],
        ]
        .concat(),
    );
    bars.truncate(items.len());
    bars
}

/// The overview, shaped for the template.
pub struct Panel {
    o: Overview,
    sentiment: Columns,
    sentiment_total: i64,
    ideas: Vec<HBar>,
    titles: Vec<HBar>,
    completion: String,
    spend: Columns,
    spend_rules: Vec<HBar>,
    spend_window: String,
    spend_total: String,
    support: Vec<HBar>,
    churn: Columns,
    reasons: Vec<HBar>,
    updated: String,
}

fn panel(o: Overview) -> Panel {
    let sentiment_items: Vec<Col> = o
        .sentiment
        .iter()
        .map(|d| {
            (
                d.day,
                d.posts,
                d.negative,
                d.mean,
                format!(
                    "{} posts, {} negative{}",
                    d.posts,
                    d.negative,
                    d.mean.map_or(String::new(), |m| format!(", mean {m:+.2}"))
                ),
                format!("/listening/posts?from={}&to={}", d.day, d.day + DAY_MS),
            )
        })
        .collect();
    let days = (0..crate::overview::WINDOW_DAYS).map(|i| o.since + i * DAY_MS);
    let spend_items: Vec<Col> = days
        .map(|day| {
            let s = o.perks.by_day.iter().find(|s| s.day == day);
            let cents = s.map_or(0, |s| s.cents);
            let awards = s.map_or(0, |s| s.awards);
            (
                day,
                cents,
                0,
                None,
                format!("{} in {awards} perk(s)", money(cents)),
                "/staff/perks#audit".to_string(),
            )
        })
        .collect();
    let v = &o.viewing;
    let completion = if v.plays > 0 {
        format!("{:.0} %", v.completed as f64 * 100.0 / v.plays as f64)
    } else {
        "–".into()
    };
    let churn_items: Vec<Col> = o
        .subscriptions
        .days
        .iter()
        .map(|d| {
            (
                d.day,
                d.cancelled,
                d.cancelled_over_price,
                None,
                format!(
                    "{} cancelled ({} over the price), {} paused, {} downgraded, {} signed up",
                    d.cancelled, d.cancelled_over_price, d.paused, d.downgraded, d.signed_up
                ),
                format!(
                    "/api/v1/staff/account-events?kind=cancelled&since={}&until={}",
                    d.day,
                    d.day + DAY_MS
                ),
            )
        })
        .collect();
    let mut churn = columns(&churn_items, "cancellations");
    // A date under every seventh column: thirty would overlap.
    for (i, b) in churn.bars.iter_mut().enumerate() {
        if i % 7 != 0 {
            b.label.clear();
        }
    }
    let reasons = hbars(
        &o.subscriptions
            .reasons
            .iter()
            .filter(|r| r.count > 0)
            .map(|r| {
                (
                    format!("{}: {}", r.label, r.count),
                    r.count,
                    format!("{} cancellation(s)", r.count),
                    format!(
                        "/api/v1/staff/account-events?kind=cancelled&since={}",
                        o.subscriptions.since
                    ),
                )
            })
            .collect::<Vec<_>>(),
    );
    Panel {
        sentiment_total: o.sentiment.iter().map(|d| d.posts).sum(),
        sentiment: columns(&sentiment_items, "posts"),
        ideas: hbars(
            &o.rising_ideas
                .iter()
                .map(|i| {
                    (
                        i.title.clone(),
                        i.recent_votes,
                        format!("+{} ({} votes)", i.recent_votes, i.votes),
                        format!("/ideas/{}", i.id),
                    )
                })
                .collect::<Vec<_>>(),
        ),
        titles: hbars(
            &v.top
                .iter()
                .map(|t| {
                    (
                        t.name.clone(),
                        t.plays,
                        format!("{} plays, {} finished", t.plays, t.completed),
                        format!("/titles/{}", t.title_id),
                    )
                })
                .collect::<Vec<_>>(),
        ),
        completion,
        spend: columns(&spend_items, "cents"),
        spend_rules: hbars(
            &o.perks
                .by_rule
                .iter()
                .map(|r| {
                    (
                        r.name.clone(),
                        r.cents,
                        format!("{} · {} perk(s)", money(r.cents), r.awards),
                        format!("/staff/perks#rule-{}", r.rule_id),
                    )
                })
                .collect::<Vec<_>>(),
        ),
        spend_window: money(o.perks.window_cents),
        spend_total: money(o.perks.total_cents),
        support: support_bars(&o.support),
        churn,
        reasons,
        updated: crate::format::fmt_time(o.at),
        o,
    }
}

#[derive(Template)]
#[template(path = "overview/home.html")]
struct HomePage {
    l: Layout,
    p: Panel,
}

#[derive(Template)]
#[template(path = "overview/panel.html")]
struct PanelPartial {
    p: Panel,
}

async fn staff_home(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
) -> Result<Html<String>, PageError> {
    render(&HomePage {
        l: page.l,
        p: panel(gather(&state).await?),
    })
}

async fn live(State(state): State<AppState>, _staff: Staff) -> Result<Html<String>, PageError> {
    render(&PanelPartial {
        p: panel(gather(&state).await?),
    })
}

async fn stream(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    staff: Staff,
) -> Result<Response, PageError> {
    let permit = state.streams.acquire(staff.0.account.id, ip)?;
    let perks = state.perks.live.subscribe();
    let listening = state.listening.events.subscribe();
    let s = futures_util::stream::unfold(
        (perks, listening, tokio::time::interval(TICK)),
        |(mut perks, mut listening, mut tick)| async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let ev = tokio::select! {
                    r = perks.recv() => match r {
                        Ok(e) => Event::default().event("perk").json_data(&e).ok(),
                        Err(RecvError::Lagged(_)) => Some(Event::default().event("perk").data("{}")),
                        Err(RecvError::Closed) => return None,
                    },
                    r = listening.recv() => match r {
                        Ok(_) | Err(RecvError::Lagged(_)) => Some(Event::default().event("listening").data("{}")),
                        Err(RecvError::Closed) => return None,
                    },
                    _ = tick.tick() => Some(Event::default().event("tick").data("{}")),
                };
                if let Some(ev) = ev {
                    return Some((Ok::<_, Infallible>(ev), (perks, listening, tick)));
                }
            }
        },
    );
    let events = state.events.clone();
    // Ends with the server: the playback bus closes at shutdown.
    let mut closed = events.subscribe(-1);
    let s = futures_util::StreamExt::take_until(
        s,
        Box::pin(async move { while closed.next().await.is_some() {} }),
    );
    Ok(Sse::new(crate::streams::hold(s, permit))
        .keep_alive(KeepAlive::default())
        .into_response())
}
