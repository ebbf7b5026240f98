//! Marquee's HTTP server.
//!
//! - [`router`] builds the whole application: the JSON API under `/api/v1`
//!   (documented by OpenAPI at `/api/v1/openapi.json`), the server-rendered
//!   pages, `/healthz`, `/readyz` and `/metrics`.
//! - [`launch`] runs one server process on a bound listener (so tests can
//!   bind port 0): every background worker ([`Workers`]) and the router,
//!   until shutdown.
//! - [`AppState`] holds the store, the config, the injected clock and metrics.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use marquee_domain::{Clock, Role};
use marquee_store::{NewAccount, Store};
use std::sync::Arc;
use std::time::Duration;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub mod api;
pub mod auth;
pub mod changes;
pub mod chart;
pub mod config;
pub mod conn;
pub mod demo_media;
pub mod error;
pub mod events;
pub mod fanout;
pub mod format;
pub mod health;
pub mod home;
pub mod htmlcheck;
pub mod ideas;
pub mod import;
pub mod library;
pub mod listening;
pub mod mail;
pub mod markdown;
pub mod media;
pub mod metrics;
pub mod notify;
pub mod outbound;
pub mod overview;
pub mod pages;
pub mod perks;
pub mod plans;
pub mod playback;
pub mod privacy;
pub mod ranged;
pub mod recs;
pub mod service;
pub mod streams;
pub mod support;
pub mod voice;
pub mod webhooks;
pub mod wire;

pub use config::Config;

/// Mail jobs held for the worker at most (see [`mail::MailQueue`]).
const MAIL_QUEUE_JOBS: usize = 10_000;

/// Shared state of one server instance.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Effective configuration.
    pub config: Arc<Config>,
    /// The clock: the system clock in production, a manual one in tests.
    pub clock: Arc<dyn Clock>,
    /// Prometheus metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Failed log-in counters.
    pub limiter: Arc<auth::LoginLimiter>,
    /// Anonymous writes (sign-up, log-in) per client address.
    pub anon: Arc<auth::AnonLimiter>,
    /// Bounds the password hashes computed at once (`auth.max_concurrent_hashes`).
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// Open live-event streams per account and per client address.
    pub streams: Arc<streams::StreamSlots>,
    /// A real argon2id hash to verify against for unknown accounts, so that
    /// they take as long as a wrong password.
    pub dummy_hash: Arc<str>,
    /// Wakes the webhook outbox worker when something was enqueued.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Wakes the poster worker (titles without a picture were added).
    pub posters_wake: Arc<tokio::sync::Notify>,
    /// The catalog changed (an import, new posters): the recommender's job
    /// reloads its catalog snapshot now rather than at its next refresh.
    pub catalog_changed: Arc<tokio::sync::Notify>,
    /// Live events for the profiles' open devices (SSE).
    pub events: Arc<dyn events::EventBus>,
    /// The group-commit writer of progress reports.
    pub ingest: Arc<playback::Ingest>,
    /// Social listening: sentiment model, taxonomy, backlash detector, live events.
    pub listening: Arc<listening::Listening>,
    /// Perks: wakes the evaluator; the staff overview's live feed.
    pub perks: Arc<perks::Perks>,
    /// Support chat's live hub (customers' widgets and the agent inbox).
    pub support: Arc<support::SupportHub>,
    /// Proposals' consultation dashboards (live) and the announcement worker's wake-up.
    pub changes: Arc<changes::ChangesHub>,
    /// The recommender: catalog snapshot, served models, training job, event log.
    pub recs: Arc<recs::Recs>,
    /// Live sessions in memory (see [`auth::SessionCache`]).
    pub sessions: Arc<auth::SessionCache>,
    /// Live events to and from the other server processes (PostgreSQL).
    pub fanout: Arc<fanout::Fanout>,
    /// This process's random id: the origin of its live events and the
    /// holder of the background jobs it claims.
    pub instance_id: Arc<str>,
    /// Outgoing mail (`[smtp]`).
    pub mailer: Arc<mail::Mailer>,
    /// Mail jobs for the mail worker (password resets).
    pub mail: Arc<mail::MailQueue>,
    /// The signer of media links, its key read from the store once
    /// (`playback::signed_media_url`).
    pub media_links: Arc<tokio::sync::OnceCell<marquee_media::sign::Signer>>,
    /// Real media: ffmpeg/ffprobe, the probe worker's wake-up, on-demand HLS.
    pub media: Arc<media::Media>,
}

impl AppState {
    /// Builds the state.
    pub fn new(
        store: Arc<dyn Store>,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let dummy = auth::hash_password_blocking(&auth::random_token())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let origin: u64 = rand::random();
        let media = Arc::new(media::Media::new(&config));
        let fanout = Arc::new(fanout::Fanout::new(origin));
        let events: Arc<dyn events::EventBus> =
            Arc::new(events::LocalEventBus::with_fanout(4096, fanout.clone()));
        let ingest = Arc::new(playback::Ingest::new(
            store.clone(),
            events.clone(),
            &config.playback,
        ));
        Ok(AppState {
            store,
            events,
            ingest,
            clock,
            metrics: Arc::new(metrics::Metrics::new()?),
            limiter: Arc::new(auth::LoginLimiter::default()),
            anon: Arc::new(auth::AnonLimiter::default()),
            hashing: Arc::new(tokio::sync::Semaphore::new(
                config.auth.max_concurrent_hashes.max(1),
            )),
            streams: Arc::new(streams::StreamSlots::new(
                config.server.max_streams_per_account,
                config.server.max_streams_per_ip,
            )),
            dummy_hash: dummy.into(),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            posters_wake: Arc::new(tokio::sync::Notify::new()),
            catalog_changed: Arc::new(tokio::sync::Notify::new()),
            listening: {
                let l = listening::Listening::new(&config.listening)?;
                // A retrained model from an earlier run is served at once.
                if let Err(e) = l.reload_model(&listening::model_path(&config)) {
                    tracing::warn!(error = %e, "sentiment model not loaded");
                }
                Arc::new(l)
            },
            perks: Arc::new(perks::Perks::new(vec![support::sla_breach_source])),
            support: Arc::new(support::SupportHub::default()),
            changes: Arc::new(changes::ChangesHub::default()),
            recs: Arc::new(recs::Recs::new(config.recs.clone(), &config.data_dir)),
            sessions: Arc::new(auth::SessionCache::new(
                i64::try_from(config.auth.session_cache_s.saturating_mul(1000)).unwrap_or(i64::MAX),
            )),
            mailer: Arc::new(mail::Mailer::new(&config.smtp)?),
            mail: Arc::new(mail::MailQueue::new(MAIL_QUEUE_JOBS)),
            config: Arc::new(config),
            fanout,
            instance_id: format!("{origin:016x}").into(),
            media_links: Arc::default(),
            media,
        })
    }
}

/// Viewer routes that take a title (`{id}`), with the method: each answers
/// 404 to a profile whose maturity limit the title is outside, exactly as
/// for a title that does not exist. The maturity matrix test walks this
/// list (and the lists and searches, which must never name such a title).
pub const TITLE_ROUTES: &[(&str, &str)] = &[
    ("GET", "/titles/{id}"),
    ("GET", "/titles/{id}/more-like-this"),
    ("GET", "/watch/{id}"),
    ("GET", "/media/{id}"),
    ("GET", "/media/{id}/subtitles/0"),
    ("GET", "/media/{id}/hls/0/index.m3u8"),
    ("GET", "/api/v1/titles/{id}/playback-info"),
    ("GET", "/w/{id}"),
    ("GET", "/share/{id}"),
    ("GET", "/api/v1/titles/{id}"),
    ("GET", "/api/v1/titles/{id}/similar"),
    ("GET", "/api/v1/playback/titles/{id}"),
    ("POST", "/api/v1/playback/titles/{id}/played"),
];

/// Staff routes (method, path): each answers 401 (API) or a redirect to the
/// log-in page (pages) when anonymous, and 403 to a viewer. The role-matrix
/// test walks this list.
pub const STAFF_ROUTES: &[(&str, &str)] = &[
    ("GET", "/staff"),
    ("GET", "/staff/accounts"),
    ("GET", "/staff/accounts/1"),
    ("GET", "/staff/accounts?q=example&role=viewer&status=active"),
    ("GET", "/api/v1/staff/stats"),
    ("GET", "/api/v1/staff/accounts"),
    ("GET", "/staff/ideas"),
    ("GET", "/api/v1/staff/ideas"),
    ("GET", "/api/v1/staff/ideas/1/voice"),
    ("GET", "/staff/ideas/1/voice"),
    ("GET", "/staff/webhooks"),
    ("GET", "/api/v1/webhooks"),
    ("PUT", "/api/v1/staff/titles/1/media"),
    ("GET", "/listening"),
    ("GET", "/listening/live"),
    ("GET", "/listening/posts"),
    ("GET", "/listening/tokens"),
    ("GET", "/api/v1/listening/posts"),
    ("PUT", "/api/v1/listening/posts/1/sentiment"),
    ("GET", "/api/v1/listening/series"),
    ("GET", "/api/v1/listening/alerts"),
    ("GET", "/api/v1/listening/tokens"),
    ("GET", "/staff/overview/live"),
    ("GET", "/staff/perks"),
    ("GET", "/staff/decisions"),
    ("GET", "/api/v1/staff/overview"),
    ("GET", "/api/v1/staff/perks/rules"),
    ("GET", "/api/v1/staff/perks/audit"),
    ("GET", "/api/v1/staff/perks/spend"),
    ("GET", "/staff/support"),
    ("GET", "/staff/support/list"),
    ("GET", "/staff/support/settings"),
    ("GET", "/staff/support/metrics"),
    ("GET", "/staff/support/metrics.csv"),
    ("GET", "/staff/support/drill?group=all&key=all"),
    ("GET", "/api/v1/staff/support/conversations"),
    ("GET", "/api/v1/staff/support/canned"),
    ("GET", "/api/v1/staff/support/sla"),
    ("GET", "/api/v1/staff/support/agents"),
    ("GET", "/api/v1/staff/support/metrics"),
    ("GET", "/staff/recs"),
    ("GET", "/staff/recs/status"),
    ("GET", "/api/v1/staff/recs"),
    ("GET", "/api/v1/staff/experiments"),
    ("POST", "/api/v1/staff/accounts/1/password-reset"),
    ("GET", "/api/v1/staff/account-events"),
    ("GET", "/api/v1/staff/account-events.csv"),
    ("GET", "/api/v1/staff/churn"),
    ("POST", "/api/v1/staff/plans/standard/prices"),
    ("GET", "/staff/changes"),
    ("GET", "/staff/changes/1"),
    ("GET", "/staff/changes/1/live"),
    ("GET", "/api/v1/staff/changes"),
    ("GET", "/api/v1/staff/changes/overview"),
    ("GET", "/api/v1/staff/changes/1"),
    ("GET", "/api/v1/staff/changes/1/impact"),
    ("GET", "/api/v1/staff/changes/1/dashboard"),
    ("GET", "/api/v1/staff/changes/1/evidence"),
    ("GET", "/api/v1/staff/changes/1/after"),
    ("POST", "/api/v1/staff/catalog/feed"),
    ("GET", "/staff/catalog"),
    ("GET", "/staff/catalog/1"),
    ("GET", "/api/v1/staff/titles"),
    ("GET", "/api/v1/staff/titles/1"),
    ("GET", "/api/v1/staff/titles/1/audit"),
    ("PATCH", "/api/v1/staff/titles/1"),
    // Last: it promotes the matrix's viewer (account 1) to agent.
    ("PATCH", "/api/v1/staff/accounts/1"),
];

/// The whole application.
pub fn router(state: AppState) -> Router {
    let limit = state.config.server.max_body_bytes;
    let timeout = Duration::from_secs(state.config.server.request_timeout_s);
    let metrics = state.metrics.clone();
    let hsts = state
        .config
        .server
        .hsts_max_age_s
        .and_then(|s| HeaderValue::from_str(&format!("max-age={s}; includeSubDomains")).ok());
    Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .route("/healthz", get(healthz))
        .merge(health::routes())
        .route("/metrics", get(metrics_text))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(error::head_limits))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::Extension(error::BodyLimit(limit)))
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::track))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pages::csrf_cookie_layer,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            hsts,
        ))
        .layer(axum::middleware::from_fn(private_no_store))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `Cache-Control: no-store` on every answer to a request that carries
/// credentials (a session cookie or an `Authorization` header), unless the
/// handler chose its own: a shared cache or the browser's back button must
/// not keep a viewer's or an agent's pages.
async fn private_no_store(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let private = req.headers().contains_key(header::AUTHORIZATION)
        || req
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .any(|(k, _)| k == auth::SESSION_COOKIE);
    let mut res = next.run(req).await;
    if private && !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// Whether a request may read `/metrics`: with `server.metrics_token` set,
/// it must carry `Authorization: Bearer <token>` (compared in constant time
/// through hashes); without one, it must come from loopback.
fn metrics_allowed(state: &AppState, headers: &header::HeaderMap, ip: std::net::IpAddr) -> bool {
    match state.config.server.metrics_token.as_deref() {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                auth::same(&auth::token_hash(given.trim()), &auth::token_hash(token))
            }),
        None => ip.is_loopback() || ip.to_canonical().is_loopback(),
    }
}

async fn metrics_text(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth::ClientIp(ip): auth::ClientIp,
    headers: header::HeaderMap,
) -> axum::response::Response {
    if !metrics_allowed(&state, &headers, ip) {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "metrics are readable from loopback, or with server.metrics_token as a bearer token\n",
        )
            .into_response();
    }
    if let Ok(n) = state.store.count_titles(None).await {
        state.metrics.catalog_titles.set(n);
    }
    if state.config.listening.encoder.is_some() {
        if let Ok(n) = state.store.encoder_queue_len().await {
            state.metrics.sentiment_encoder_queue.set(n);
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// The background workers of one server process, as [`launch`] starts them.
#[derive(Debug)]
pub struct Workers {
    /// Stopped by aborting: each keeps its progress in the database.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Social listening's webhook deliverer and connectors.
    listening: listening::Tasks,
}

impl Workers {
    /// Starts every worker of `state`: the live-event fan-out (PostgreSQL),
    /// the webhook outbox, the perks evaluator, the mail worker, the notification mail worker, the announcement worker of proposals, social listening's deliverer
    /// and connectors, the recommender's job and event writer, the
    /// poster worker, and the playback group-commit writer. Nothing else starts a task: requests
    /// only use what runs here.
    pub async fn start(state: &AppState) -> Workers {
        let mut tasks = fanout::start(state).await;
        tasks.push(webhooks::spawn_worker(state.clone()));
        tasks.push(perks::spawn_worker(state.clone()));
        tasks.push(service::spawn_mail_worker(state.clone()));
        tasks.push(notify::spawn_worker(state.clone()));
        tasks.push(changes::spawn_worker(state.clone()));
        tasks.extend(state.ingest.start());
        tasks.extend(recs::start(state));
        tasks.push(library::art::spawn_poster_worker(state.clone()));
        tasks.extend(media::start(state));
        Workers {
            tasks,
            listening: listening::start(state),
        }
    }

    /// Stops the workers, once the server has drained its requests (so no
    /// report waits on the playback writer), and writes the recommender's
    /// buffered impressions and clicks.
    pub async fn stop(self, state: &AppState) {
        let Workers { tasks, listening } = self;
        drop(listening);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
        if let Err(e) = state.recs.flush(state.store.as_ref()).await {
            tracing::warn!(error = %e, "could not write impressions at shutdown");
        }
    }
}

/// Runs one server process on a bound listener: starts every background
/// worker ([`Workers::start`]), serves the application until `shutdown`
/// resolves and its requests have drained, then stops the workers.
pub async fn launch(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let workers = Workers::start(&state).await;
    let served = serve(listener, state.clone(), shutdown).await;
    workers.stop(&state).await;
    served
}

/// Serves the application until `shutdown` resolves; [`launch`] runs the
/// workers around it.
async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let events = state.events.clone();
    let support = state.support.clone();
    let config = state.config.clone();
    let app = router(state);
    conn::serve(listener, app, &config.server, shutdown, move || {
        // Open event streams would otherwise keep the server from draining.
        events.close();
        support.close();
    })
    .await
}

/// What [`ensure_admin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminBootstrap {
    /// An admin already existed.
    Existing,
    /// Created with the configured password.
    Created {
        /// The admin's e-mail.
        email: String,
    },
    /// Created with a generated one-time password, which must be changed at first log-in.
    CreatedOneTime {
        /// The admin's e-mail.
        email: String,
        /// The one-time password, to print once.
        password: String,
    },
}

/// Creates the first admin when the installation has none.
pub async fn ensure_admin(state: &AppState) -> anyhow::Result<AdminBootstrap> {
    if state.store.count_accounts(Some(Role::Admin)).await? > 0 {
        return Ok(AdminBootstrap::Existing);
    }
    let email = marquee_domain::validate::email(&state.config.auth.admin_email)?;
    let (password, one_time) = match &state.config.auth.admin_password {
        Some(p) => {
            marquee_domain::validate::password(p)?;
            (p.clone(), false)
        }
        None => (auth::random_token()[..20].to_string(), true),
    };
    let hash = auth::hash_password(password.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    state
        .store
        .create_account(
            &NewAccount {
                email: email.clone(),
                password_hash: hash,
                role: Role::Admin,
                plan: marquee_domain::Plan::Premium,
                must_change_password: one_time,
                first_profile: "Admin".into(),
                email_verified: true,
            },
            state.clock.now_ms(),
        )
        .await?;
    Ok(if one_time {
        AdminBootstrap::CreatedOneTime { email, password }
    } else {
        AdminBootstrap::Created { email }
    })
}
