//! A durable outbox of outbound webhooks, generic over features: a feature
//! enqueues an event (in its own transaction where it can), a background task
//! claims due deliveries, posts them signed, and records the outcome with a
//! retry time or gives up.

use crate::Result;
use async_trait::async_trait;
use marquee_domain::Millis;

/// An event to deliver to every active endpoint subscribed to it.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    /// Event name, e.g. `idea.status_changed`.
    pub event: String,
    /// The JSON body.
    pub payload: String,
}

/// A webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Id.
    pub id: i64,
    /// Where to POST.
    pub url: String,
    /// The HMAC-SHA256 key.
    pub secret: String,
    /// Space-separated event names, or `*`.
    pub events: String,
    /// Deliveries are made only to active endpoints.
    pub active: bool,
    /// Created, ms.
    pub created_at: Millis,
}

/// A delivery claimed for an attempt.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// Id (also sent as the delivery id header).
    pub id: i64,
    /// The endpoint's URL.
    pub url: String,
    /// The endpoint's secret.
    pub secret: String,
    /// Event name.
    pub event: String,
    /// JSON body.
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// A delivery as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Id.
    pub id: i64,
    /// Endpoint.
    pub endpoint_id: i64,
    /// Event name.
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// Last HTTP status.
    pub last_status: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// Next attempt, ms.
    pub next_attempt_at: Millis,
    /// Created, ms.
    pub created_at: Millis,
    /// Delivered, ms.
    pub delivered_at: Option<Millis>,
}

/// Storage of webhook endpoints and the delivery outbox.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Adds an endpoint.
    async fn create_webhook(
        &self,
        url: &str,
        secret: &str,
        events: &str,
        now: Millis,
    ) -> Result<WebhookEndpoint>;
    /// Every endpoint.
    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>>;
    /// Removes an endpoint and its deliveries.
    async fn delete_webhook(&self, id: i64) -> Result<()>;
    /// Enqueues an event for every active endpoint subscribed to it; returns
    /// the number of deliveries queued.
    async fn enqueue_event(&self, event: &OutboxEvent, now: Millis) -> Result<u64>;
    /// Claims up to `limit` due deliveries, pushing their next attempt
    /// `lease_ms` ahead so that a crash mid-attempt retries them later.
    async fn claim_deliveries(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>>;
    /// Records a successful attempt.
    async fn delivery_succeeded(&self, id: i64, status: i64, now: Millis) -> Result<()>;
    /// Records a failed attempt: retried at `retry_at`, or given up when `None`.
    async fn delivery_failed(
        &self,
        id: i64,
        status: Option<i64>,
        error: &str,
        retry_at: Option<Millis>,
    ) -> Result<()>;
    /// Recent deliveries of an endpoint, newest first.
    async fn deliveries(&self, endpoint_id: i64, limit: u32) -> Result<Vec<DeliveryRecord>>;
}
