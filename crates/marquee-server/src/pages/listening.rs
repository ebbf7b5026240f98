//! Listening pages: the live dashboard (server-rendered SVG charts refreshed
//! over SSE), the drill-down post list, alerts with acknowledge/resolve,
//! ingest tokens (admin) and a viewer's linked handles.

use super::{render, CsrfForm, Layout, Page, PageForm};
use crate::auth::{Admin, ClientIp, CurrentUser, Staff};
use crate::error::{AppError, PageError};
use crate::listening::{self as svc, LiveEvent, PostsParams};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use marquee_domain::listening::{Alert, AlertStatus, IngestToken, Post, Sentiment};
use marquee_domain::Millis;
use marquee_store::listening::{Bucket, PostOrder, PostQuery};
use serde::Deserialize;
use std::convert::Infallible;

const LISTENING_JS: &str = include_str!("../../static/listening.js");

/// The listening page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/listening", get(dashboard))
        .route("/listening/live", get(live))
        .route("/listening/stream", get(stream))
        .route("/listening/posts", get(posts_page))
        .route("/listening/posts/{id}/sentiment", post(correct_post))
        .route("/listening/alerts/{id}", get(alert_page))
        .route("/listening/alerts/{id}/{action}", post(alert_action))
        .route("/listening/tokens", get(tokens_page).post(token_create))
        .route("/listening/tokens/{id}/revoke", post(token_revoke))
        .route("/account/handles", get(handles_page).post(handle_add))
        .route("/account/handles/remove", post(handle_remove))
        .route(
            "/static/listening.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript"),
                        (header::CACHE_CONTROL, "public, max-age=3600"),
                    ],
                    LISTENING_JS,
                )
            }),
        )
}

pub use crate::format::fmt_time;

fn page_query<T: serde::de::DeserializeOwned>(uri: &Uri) -> Result<T, PageError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(v)| v)
        .map_err(|e| PageError(AppError::invalid("query", e.body_text())))
}

/// Dashboard filters.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashParams {
    /// `6h`, `24h` (default) or `7d`.
    pub range: Option<String>,
    /// End of the range (ms); default: now, or the newest post when later.
    pub end: Option<i64>,
    /// Only this topic.
    pub topic: Option<String>,
    /// Only this source.
    pub source: Option<String>,
}

/// One bar of a chart.
#[derive(Debug, Clone)]
pub struct Bar {
    /// x.
    pub x: f64,
    /// Width.
    pub w: f64,
    /// Negative segment: y and height.
    pub neg_y: f64,
    /// Height.
    pub neg_h: f64,
    /// Neutral segment.
    pub neu_y: f64,
    /// Height.
    pub neu_h: f64,
    /// Positive segment.
    pub pos_y: f64,
    /// Height.
    pub pos_h: f64,
    /// Tooltip.
    pub title: String,
    /// Drill-down link.
    pub href: String,
}

/// An alert marker on a chart.
#[derive(Debug, Clone)]
pub struct Marker {
    /// x.
    pub x: f64,
    /// Link.
    pub href: String,
    /// Tooltip.
    pub title: String,
}

/// A server-rendered SVG chart of one series: stacked bars of negative,
/// neutral and positive posts per bucket, the mean sentiment as a line, and
/// alert markers.
#[derive(Debug, Clone)]
pub struct Chart {
    /// `all` or a topic.
    pub series: String,
    /// Heading.
    pub label: String,
    /// Posts in range.
    pub total: i64,
    /// Negative share in range, percent.
    pub neg_pct: i64,
    /// Bars.
    pub bars: Vec<Bar>,
    /// Mean score polyline points.
    pub line: String,
    /// Alerts.
    pub markers: Vec<Marker>,
    /// Largest bucket.
    pub max: i64,
    /// Axis labels: start, middle, end.
    pub ticks: Vec<(f64, String)>,
}

/// Chart geometry.
pub const W: f64 = 640.0;
/// Chart bar area height.
pub const H: f64 = 110.0;

fn drill(from: Millis, to: Millis, series: &str, extra: &str) -> String {
    let mut q = format!("/listening/posts?from={from}&to={to}&order=negative");
    if series != "all" {
        q.push_str(&format!("&topic={}", crate::auth::url_encode(series)));
    }
    q.push_str(extra);
    q
}

/// Builds a chart from buckets (missing buckets are empty). `extra` is appended to every
/// bar's drill-down link (already URL-encoded, `&key=value...`).
#[allow(clippy::too_many_arguments)]
pub fn chart(
    series: &str,
    buckets: &[Bucket],
    from: Millis,
    to: Millis,
    bucket_ms: i64,
    alerts: &[Alert],
    extra: &str,
) -> Chart {
    let n = ((to - from) / bucket_ms).max(1) as usize;
    let mut full = vec![Bucket::default(); n];
    for b in buckets {
        let i = ((b.start - from) / bucket_ms) as usize;
        if i < n {
            full[i] = *b;
        }
    }
    let max = full.iter().map(|b| b.total).max().unwrap_or(0).max(1);
    let bw = W / n as f64;
    let scale = H / max as f64;
    let mut bars = Vec::with_capacity(n);
    let mut points = Vec::new();
    for (i, b) in full.iter().enumerate() {
        let start = from + i as i64 * bucket_ms;
        let x = i as f64 * bw;
        let neu = b.total - b.negative - b.positive;
        let neg_h = b.negative as f64 * scale;
        let neu_h = neu as f64 * scale;
        let pos_h = b.positive as f64 * scale;
        let mean = if b.total > 0 {
            b.score_sum / b.total as f64
        } else {
            0.0
        };
        if b.total > 0 {
            // Score in [-1, 1] → y in [H, 0].
            points.push(format!("{:.1},{:.1}", x + bw / 2.0, (1.0 - mean) / 2.0 * H));
        }
        bars.push(Bar {
            x,
            w: (bw - 1.0).max(0.5),
            neg_y: H - neg_h,
            neg_h,
            neu_y: H - neg_h - neu_h,
            neu_h,
            pos_y: H - neg_h - neu_h - pos_h,
            pos_h,
            title: format!(
                "{}: {} posts, {} negative, {} positive, mean sentiment {:+.2}",
                fmt_time(start),
                b.total,
                b.negative,
                b.positive,
                mean
            ),
            href: drill(start, start + bucket_ms, series, extra),
        });
    }
    let total: i64 = full.iter().map(|b| b.total).sum();
    let neg: i64 = full.iter().map(|b| b.negative).sum();
    let markers = alerts
        .iter()
        .filter(|a| a.series == series && a.window_end > from && a.window_start < to)
        .map(|a| Marker {
            x: ((a.window_end.min(to) - from) as f64 / (to - from) as f64 * W).clamp(0.0, W),
            href: format!("/listening/alerts/{}", a.id),
            title: format!(
                "Alert #{}: {} {} ({})",
                a.id,
                a.kind,
                a.window,
                a.status.as_str()
            ),
        })
        .collect();
    Chart {
        series: series.to_string(),
        label: if series == "all" {
            "All mentions".into()
        } else {
            series.to_string()
        },
        total,
        neg_pct: if total > 0 { neg * 100 / total } else { 0 },
        bars,
        line: points.join(" "),
        markers,
        max,
        ticks: vec![
            (0.0, fmt_time(from)),
            (W / 2.0, fmt_time(from + (to - from) / 2)),
            (W, fmt_time(to)),
        ],
    }
}

/// The live panel on its own (what `/listening/live` answers).
#[derive(Template)]
#[template(path = "listening/live.html")]
pub struct LiveTemplate {
    /// Its data.
    pub live: LivePanel,
}

/// Everything the live panel shows.
#[derive(Debug, Clone)]
pub struct LivePanel {
    /// Charts.
    pub charts: Vec<Chart>,
    /// The alert feed.
    pub alerts: Vec<Alert>,
    /// Most negative recent posts.
    pub negative: Vec<Post>,
    /// Most positive recent posts.
    pub positive: Vec<Post>,
    /// Range start.
    pub from: Millis,
    /// Range end.
    pub to: Millis,
    /// Posts in range.
    pub total: i64,
}

async fn live_panel(state: &AppState, p: &DashParams) -> Result<LivePanel, AppError> {
    let (span, bucket) = match p.range.as_deref().unwrap_or("24h") {
        "6h" => (6 * 3_600_000, 10 * 60_000),
        "24h" => (86_400_000, 30 * 60_000),
        "7d" => (7 * 86_400_000, 4 * 3_600_000),
        other => {
            return Err(AppError::invalid(
                "range",
                format!("unknown range {other:?}: use 6h, 24h or 7d"),
            ))
        }
    };
    let end = match p.end {
        Some(e) => e,
        None => {
            let now = state.clock.now_ms();
            let latest = state.store.latest_post_time().await?.unwrap_or(now);
            now.max(latest + 1)
        }
    };
    let to = (end + bucket - 1) / bucket * bucket;
    let from = to - span;
    let topic = p.topic.clone().filter(|t| !t.is_empty() && t != "all");
    let source = p.source.clone().filter(|s| !s.is_empty());
    let alerts = state.store.list_alerts(None, 50).await?;
    let mut series: Vec<String> = vec!["all".into()];
    match &topic {
        Some(t) => series = vec![t.clone()],
        None => series.extend(state.listening.topic_names().iter().cloned()),
    }
    let mut charts = Vec::new();
    for s in &series {
        let t = (s != "all").then_some(s.as_str());
        let b = state
            .store
            .post_series(from, to, bucket, t, source.as_deref(), None)
            .await?;
        let extra = source
            .as_deref()
            .map(|s| format!("&source={}", crate::auth::url_encode(s)))
            .unwrap_or_default();
        charts.push(chart(s, &b, from, to, bucket, &alerts, &extra));
    }
    let q = |order| PostQuery {
        from: Some(from),
        to: Some(to),
        topic: topic.clone(),
        source: source.clone(),
        order,
        limit: 6,
        ..Default::default()
    };
    let negative = state.store.list_posts(&q(PostOrder::MostNegative)).await?;
    let positive = state.store.list_posts(&q(PostOrder::MostPositive)).await?;
    Ok(LivePanel {
        total: charts.first().map(|c| c.total).unwrap_or(0),
        charts,
        alerts: alerts.into_iter().take(12).collect(),
        negative: negative
            .into_iter()
            .filter(|p| p.sentiment == Sentiment::Negative)
            .collect(),
        positive: positive
            .into_iter()
            .filter(|p| p.sentiment == Sentiment::Positive)
            .collect(),
        from,
        to,
    })
}

#[derive(Template)]
#[template(path = "listening/dashboard.html")]
struct DashboardPage {
    l: Layout,
    live: LivePanel,
    topics: Vec<String>,
    sources: Vec<String>,
    range: String,
    topic: String,
    source: String,
    query: String,
    /// Which sentiment model labels posts, in words.
    model: String,
    /// What the accurate tier does, in words (empty when it is off).
    accurate: String,
}

/// The accurate tier in words: serving (and how many posts wait), loading,
/// or why it is not loaded. Empty when it is not configured.
async fn accurate_words(state: &AppState) -> Result<String, PageError> {
    use svc::accurate::TierStatus;
    Ok(match state.listening.accurate_status() {
        TierStatus::Off => String::new(),
        TierStatus::Loading => {
            "The accurate model is loading; until it is ready, the fast model labels every post."
                .into()
        }
        TierStatus::Serving {
            encoder,
            model_type,
            tuned_layers,
            layers,
            heads,
            ..
        } => {
            let waiting = svc::accurate_queue(state).await?;
            let mut tuned = tuned_phrase(tuned_layers, layers);
            if heads > 1 {
                tuned.push_str(&format!("; {heads} separately trained models, averaged"));
            }
            format!(
                "Posts the fast model is unsure about are labelled again by the accurate model ({model_type} encoder in {encoder}{tuned}); {}.",
                match waiting {
                    0 => "none is waiting".to_string(),
                    1 => "1 post is waiting".to_string(),
                    n => format!("{n} posts are waiting"),
                }
            )
        }
        TierStatus::Failed { error } => {
            format!("The accurate model is not loaded ({error}); the fast model labels every post.")
        }
    })
}

/// How the dashboard says how much of the encoder the head fine-tuned.
fn tuned_phrase(tuned: usize, layers: usize) -> String {
    match (tuned, layers) {
        (0, _) => String::new(),
        (1, 1) => ", its only layer fine-tuned".to_string(),
        (n, all) if n >= all => format!(", all {all} of its layers fine-tuned"),
        (1, _) => ", its last layer fine-tuned".to_string(),
        (n, _) => format!(", its last {n} layers fine-tuned"),
    }
}

/// "the built-in model (3f2a…)" or "the model trained into PATH (…)".
fn model_words(state: &AppState) -> String {
    let info = state.listening.model_info();
    let short: String = info.fingerprint.chars().take(12).collect();
    if info.source == "built-in" {
        format!("the built-in model ({short})")
    } else {
        format!("the retrained model in {} ({short})", info.source)
    }
}

async fn dashboard(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
    uri: Uri,
) -> Result<Html<String>, PageError> {
    let p: DashParams = page_query(&uri)?;
    let live = live_panel(&state, &p).await?;
    render(&DashboardPage {
        l: page.l,
        live,
        topics: state.listening.topic_names().to_vec(),
        sources: state.store.post_sources().await?,
        range: p.range.clone().unwrap_or_else(|| "24h".into()),
        topic: p.topic.clone().unwrap_or_default(),
        source: p.source.clone().unwrap_or_default(),
        query: uri.query().unwrap_or("").to_string(),
        model: model_words(&state),
        accurate: accurate_words(&state).await?,
    })
}

async fn live(
    State(state): State<AppState>,
    _staff: Staff,
    uri: Uri,
) -> Result<Html<String>, PageError> {
    let p: DashParams = page_query(&uri)?;
    render(&LiveTemplate {
        live: live_panel(&state, &p).await?,
    })
}

/// Server-sent events: `posts` when posts are stored, `alert` when an alert
/// is raised or changes.
async fn stream(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    staff: Staff,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, PageError> {
    let permit = state.streams.acquire(staff.0.account.id, ip)?;
    let rx = state.listening.events.subscribe();
    let s = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => {
                    // The page's own words: an alert as its headline.
                    let (name, data) = match &e {
                        LiveEvent::Posts { .. } => ("posts", serde_json::to_value(&e)),
                        LiveEvent::Alert { alert } => (
                            "alert",
                            Ok(serde_json::json!({
                                "id": alert.id,
                                "status": alert.status.as_str(),
                                "headline": alert.headline(),
                            })),
                        ),
                    };
                    let ev = data
                        .ok()
                        .and_then(|d| Event::default().event(name).json_data(d).ok())
                        .unwrap_or_else(|| Event::default().event(name));
                    return Some((Ok(ev), rx));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(crate::streams::hold(s, permit)).keep_alive(KeepAlive::default()))
}

#[derive(Template)]
#[template(path = "listening/posts.html")]
struct PostsPage {
    l: Layout,
    search: String,
    idea: Option<i64>,
    posts: Vec<Post>,
    total: i64,
    heading: String,
    offset: u32,
    next: Option<String>,
    prev: Option<String>,
    /// Where a correction form returns to (this page).
    back: String,
    /// The post just corrected (its confirmation is shown), or 0.
    corrected: i64,
}

/// The `key=value` pairs of `uri`'s query but those that start `prefix`.
fn query_without<'a>(uri: &'a Uri, prefix: &str) -> Vec<&'a str> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with(prefix))
        .collect()
}

fn with_offset(uri: &Uri, offset: u32) -> String {
    let mut q = query_without(uri, "offset=").join("&");
    if !q.is_empty() {
        q.push('&');
    }
    format!("/listening/posts?{q}offset={offset}")
}

/// `uri` without its `corrected=` parameter (the confirmation of a
/// correction, not a filter), and that parameter's post id.
fn split_corrected(uri: &Uri) -> Result<(Uri, i64), PageError> {
    let corrected = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.strip_prefix("corrected="))
        .next_back()
        .map_or(0, |v| v.parse().unwrap_or(0));
    let rest = query_without(uri, "corrected=");
    let pq = if rest.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{}", uri.path(), rest.join("&"))
    };
    let uri = pq
        .parse()
        .map_err(|_| PageError(AppError::invalid("query", "not a valid query string")))?;
    Ok((uri, corrected))
}

async fn posts_page(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
    uri: Uri,
) -> Result<Html<String>, PageError> {
    let (uri, corrected) = split_corrected(&uri)?;
    let p: PostsParams = page_query(&uri)?;
    let q = p.resolve(&state, 50).await?;
    let posts = state.store.list_posts(&q).await?;
    let total = state.store.count_posts(&q).await?;
    let mut heading = String::from("Posts");
    if let Some(id) = p.idea {
        heading.push_str(&format!(" about idea #{id}"));
    }
    if let Some(t) = &q.topic {
        heading.push_str(&format!(" on {t}"));
    }
    if let Some(words) = p.q.as_deref().filter(|w| !w.trim().is_empty()) {
        heading.push_str(&format!(" saying “{}”", words.trim()));
    }
    if let Some(s) = q.sentiment {
        heading.push_str(&format!(", {}", s.as_str()));
    }
    if let (Some(f), Some(t)) = (q.from, q.to) {
        heading.push_str(&format!(", {} to {}", fmt_time(f), fmt_time(t)));
    }
    let next = (i64::from(q.offset) + i64::from(q.limit) < total)
        .then(|| with_offset(&uri, q.offset + q.limit));
    let prev = (q.offset > 0).then(|| with_offset(&uri, q.offset.saturating_sub(q.limit)));
    render(&PostsPage {
        l: page.l,
        search: p.q.clone().unwrap_or_default(),
        idea: p.idea,
        posts,
        total,
        heading,
        offset: q.offset,
        next,
        prev,
        back: uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/listening/posts".into()),
        corrected,
    })
}

/// One post with its correction form (the htmx answer to a correction).
#[derive(Template)]
#[template(path = "listening/post_item.html")]
struct PostItem {
    l: Layout,
    p: Post,
    back: String,
    corrected: i64,
}

#[derive(Deserialize)]
struct CorrectForm {
    csrf: String,
    sentiment: String,
    back: Option<String>,
}

/// A staff correction of a post's sentiment: in place with htmx, else back
/// to the post list it came from with the confirmation shown.
async fn correct_post(
    State(state): State<AppState>,
    Staff(user): Staff,
    page: Page,
    headers: axum::http::HeaderMap,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CorrectForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let sentiment: Sentiment = f.sentiment.parse().map_err(AppError::from)?;
    let p = svc::correct(&state, &user, id, sentiment).await?;
    // Only back to a post list of this site.
    let back = f
        .back
        .filter(|b| b == "/listening/posts" || b.starts_with("/listening/posts?"))
        .unwrap_or_else(|| "/listening/posts".into());
    if headers.contains_key("hx-request") {
        return Ok(render(&PostItem {
            l: page.l,
            corrected: p.id,
            p,
            back,
        })?
        .into_response());
    }
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!("{back}{sep}corrected={id}#post-{id}")).into_response())
}

#[derive(Template)]
#[template(path = "listening/alert.html")]
struct AlertPage {
    l: Layout,
    a: Alert,
    examples: Vec<Post>,
    drill: String,
    chart: crate::chart::LineChart,
}

/// The alert's spike: its measure per window-long bucket before, during
/// and after the alert, the baseline it was tested against as a dashed
/// line, and its window shaded.
fn spike_chart(
    a: &Alert,
    from: Millis,
    bucket: i64,
    n: usize,
    buckets: &[Bucket],
) -> crate::chart::LineChart {
    use crate::chart::{line_chart, ChartIn, SeriesIn, Unit};
    let times: Vec<Millis> = (0..n as i64).map(|i| from + i * bucket).collect();
    let share = a.kind != "volume";
    let values = times
        .iter()
        .map(|t| {
            let b = buckets.iter().find(|b| b.start == *t);
            match (share, b) {
                (true, Some(b)) if b.total > 0 => Some(b.negative as f64 / b.total as f64),
                (true, _) => None,
                (false, b) => Some(b.map_or(0.0, |b| b.total as f64)),
            }
        })
        .collect();
    let links = times
        .iter()
        .map(|t| Some(drill(*t, t + bucket, &a.series, "")))
        .collect();
    let about = if a.series == "all" {
        String::new()
    } else {
        format!(" about {}", a.series)
    };
    line_chart(ChartIn {
        title: if share {
            format!("Share of negative posts{about}, per {}", a.window)
        } else {
            format!("Posts{about}, per {}", a.window)
        },
        unit: if share { Unit::Share } else { Unit::Count },
        times,
        bucket_ms: bucket,
        series: vec![SeriesIn {
            label: if share {
                "Negative share".into()
            } else {
                "Posts".into()
            },
            class: "s3",
            values,
        }],
        baseline: Some(("usually".into(), a.expected)),
        highlight: Some((a.window_start, a.window_end)),
        links,
        min_top: if share { 0.0 } else { 1.0 },
    })
}

async fn alert_page(
    State(state): State<AppState>,
    _staff: Staff,
    page: Page,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    let a = state
        .store
        .alert(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("alert {id} not found")))?;
    let examples = crate::listening::alert_examples(&state, &a).await?;
    let (from, bucket, n, buckets) = crate::listening::alert_history(&state, &a).await?;
    let chart = spike_chart(&a, from, bucket, n, &buckets);
    let drill = drill(a.window_start, a.window_end, &a.series, "");
    render(&AlertPage {
        l: page.l,
        a,
        examples,
        drill,
        chart,
    })
}

async fn alert_action(
    State(state): State<AppState>,
    Staff(user): Staff,
    page: Page,
    Path((id, action)): Path<(i64, String)>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let status = match action.as_str() {
        "acknowledge" => AlertStatus::Acknowledged,
        "resolve" => AlertStatus::Resolved,
        _ => return Err(AppError::NotFound("no such action".into()).into()),
    };
    svc::set_status(&state, &user, id, status).await?;
    Ok(Redirect::to(&format!("/listening/alerts/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "listening/tokens.html")]
struct TokensPage {
    l: Layout,
    tokens: Vec<IngestToken>,
    created: Option<(String, String)>,
    error: Option<String>,
}

async fn tokens_page(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
) -> Result<Html<String>, PageError> {
    render(&TokensPage {
        l: page.l,
        tokens: state.store.ingest_tokens().await?,
        created: None,
        error: None,
    })
}

#[derive(Deserialize)]
struct TokenForm {
    csrf: String,
    name: String,
}

async fn token_create(
    State(state): State<AppState>,
    Admin(user): Admin,
    page: Page,
    PageForm(f): PageForm<TokenForm>,
) -> Result<Html<String>, PageError> {
    page.check_csrf(&f.csrf)?;
    let (created, error) = match svc::new_token(&state, &user, &f.name).await {
        Ok(t) => (Some((t.info.name, t.token)), None),
        Err(e) if e.status().is_client_error() => (None, Some(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    render(&TokensPage {
        l: page.l,
        tokens: state.store.ingest_tokens().await?,
        created,
        error,
    })
}

async fn token_revoke(
    State(state): State<AppState>,
    _admin: Admin,
    page: Page,
    Path(id): Path<i64>,
    PageForm(f): PageForm<CsrfForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    state
        .store
        .revoke_ingest_token(id, state.clock.now_ms())
        .await?;
    Ok(Redirect::to("/listening/tokens").into_response())
}

#[derive(Template)]
#[template(path = "listening/handles.html")]
struct HandlesPage {
    l: Layout,
    handles: Vec<String>,
    error: Option<String>,
}

async fn handles_page(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
) -> Result<Html<String>, PageError> {
    render(&HandlesPage {
        l: page.l,
        handles: state.store.handles(user.account.id).await?,
        error: None,
    })
}

#[derive(Deserialize)]
struct HandleForm {
    csrf: String,
    handle: String,
}

async fn handle_add(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    PageForm(f): PageForm<HandleForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    match svc::link(&state, &user, &f.handle).await {
        Ok(_) => Ok(Redirect::to("/account/handles").into_response()),
        Err(e) if e.status().is_client_error() => Ok(super::render_status(
            e.status(),
            &HandlesPage {
                l: page.l,
                handles: state.store.handles(user.account.id).await?,
                error: Some(e.to_string()),
            },
        )),
        Err(e) => Err(e.into()),
    }
}

async fn handle_remove(
    State(state): State<AppState>,
    user: CurrentUser,
    page: Page,
    PageForm(f): PageForm<HandleForm>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    state
        .store
        .unlink_handle(user.account.id, &f.handle)
        .await?;
    Ok(Redirect::to("/account/handles").into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fine_tuned_depth_reads_as_plain_words() {
        for (tuned, layers, want) in [
            (0, 6, ""),
            (1, 1, ", its only layer fine-tuned"),
            (1, 6, ", its last layer fine-tuned"),
            (3, 6, ", its last 3 layers fine-tuned"),
            (6, 6, ", all 6 of its layers fine-tuned"),
        ] {
            assert_eq!(
                super::tuned_phrase(tuned, layers),
                want,
                "{tuned} of {layers}"
            );
        }
    }
}
