//! Prometheus metrics, one registry per server instance (no global state).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use std::time::Instant;

/// The server's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Titles in the catalog.
    pub catalog_titles: IntGauge,
    /// Successful log-ins.
    pub logins: IntCounterVec,
    /// Password hashes being computed now (each holds ~19 MiB).
    pub hashes_in_flight: IntGauge,
    /// The most password hashes computed at once since start: the memory
    /// ceiling `auth.max_concurrent_hashes` keeps. Set from
    /// [`Metrics::hash_started`]'s watermark when rendered.
    hashes_in_flight_max: IntGauge,
    hashes_max: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// Posts the accurate sentiment tier took off its queue, by outcome
    /// (`labelled`, `failed`).
    pub sentiment_encoder_posts: IntCounterVec,
    /// Seconds per accurate-tier batch.
    pub sentiment_encoder_batch_seconds: prometheus::Histogram,
    /// Posts waiting for the accurate tier (set when rendered).
    pub sentiment_encoder_queue: IntGauge,
    /// Posters the poster worker drew for titles without a picture.
    pub posters_generated: prometheus::IntCounter,
    /// 1 while the poster worker is drawing.
    pub poster_worker_busy: IntGauge,
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("marquee".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            ),
            &["method", "route"],
        )?;
        let catalog_titles = IntGauge::new("catalog_titles", "Titles in the catalog")?;
        let logins = IntCounterVec::new(
            Opts::new("logins_total", "Log-in attempts by outcome"),
            &["outcome"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(catalog_titles.clone()))?;
        let hashes_in_flight = IntGauge::new(
            "password_hashes_in_flight",
            "Password hashes being computed now",
        )?;
        let hashes_in_flight_max = IntGauge::new(
            "password_hashes_in_flight_max",
            "The most password hashes computed at once since start",
        )?;
        registry.register(Box::new(logins.clone()))?;
        registry.register(Box::new(hashes_in_flight.clone()))?;
        registry.register(Box::new(hashes_in_flight_max.clone()))?;
        let sentiment_encoder_posts = IntCounterVec::new(
            Opts::new(
                "sentiment_encoder_posts_total",
                "Posts the accurate sentiment tier took off its queue, by outcome",
            ),
            &["outcome"],
        )?;
        let sentiment_encoder_batch_seconds = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "sentiment_encoder_batch_seconds",
                "Seconds per accurate-tier sentiment batch",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        )?;
        let sentiment_encoder_queue = IntGauge::new(
            "sentiment_encoder_queue",
            "Posts waiting for the accurate sentiment tier",
        )?;
        registry.register(Box::new(sentiment_encoder_posts.clone()))?;
        registry.register(Box::new(sentiment_encoder_batch_seconds.clone()))?;
        registry.register(Box::new(sentiment_encoder_queue.clone()))?;
        let posters_generated = prometheus::IntCounter::new(
            "posters_generated_total",
            "Posters drawn for titles without a picture",
        )?;
        let poster_worker_busy =
            IntGauge::new("poster_worker_busy", "1 while the poster worker is drawing")?;
        registry.register(Box::new(posters_generated.clone()))?;
        registry.register(Box::new(poster_worker_busy.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            catalog_titles,
            logins,
            hashes_in_flight,
            hashes_in_flight_max,
            hashes_max: Default::default(),
            sentiment_encoder_posts,
            sentiment_encoder_batch_seconds,
            sentiment_encoder_queue,
            posters_generated,
            poster_worker_busy,
        })
    }

    /// Counts a password hash starting (the caller decrements
    /// `hashes_in_flight` when it ends) and raises the watermark.
    pub fn hash_started(&self) {
        self.hashes_in_flight.inc();
        let now = self.hashes_in_flight.get();
        self.hashes_max
            .fetch_max(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts one accurate-tier batch: `taken` posts off the queue, of
    /// which `labelled` got a label.
    pub fn sentiment_encoder_batch(
        &self,
        taken: usize,
        labelled: usize,
        took: std::time::Duration,
    ) {
        self.sentiment_encoder_posts
            .with_label_values(&["labelled"])
            .inc_by(labelled as u64);
        self.sentiment_encoder_posts
            .with_label_values(&["failed"])
            .inc_by(taken.saturating_sub(labelled) as u64);
        self.sentiment_encoder_batch_seconds
            .observe(took.as_secs_f64());
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        self.hashes_in_flight_max
            .set(self.hashes_max.load(std::sync::atomic::Ordering::Relaxed));
        let mut buf = Vec::new();
        let enc = prometheus::TextEncoder::new();
        if enc.encode(&self.registry.gather(), &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Middleware: counts and times every request by its route template.
pub async fn track(
    State(metrics): State<std::sync::Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics
        .requests
        .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
        .inc();
    metrics
        .latency
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(start.elapsed().as_secs_f64());
    resp
}
