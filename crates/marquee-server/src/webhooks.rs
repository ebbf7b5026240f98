//! Outbound webhooks: HMAC-SHA256-signed POSTs delivered from the durable
//! outbox (`OutboxStore`) by a background task, with exponential back-off.
//!
//! Each request carries:
//! - `X-Marquee-Event`: the event name;
//! - `X-Marquee-Delivery`: the delivery id (the same on every retry, so a
//!   receiver can deduplicate);
//! - `X-Marquee-Signature: t=<ms>,v1=<hex>` where `v1` is
//!   HMAC-SHA256(secret, `"{t}.{body}"`). Receivers should check it in
//!   constant time ([`verify`]) and reject old timestamps.
//!
//! A 2xx answer delivers; anything else (or a timeout) is retried after
//! `backoff_base_s · 2^(attempt-1)` (capped at 6 h) until `max_attempts`.
//! Claims are leased, so a crash mid-attempt retries later instead of losing
//! the event. Time comes from the injected clock.

use crate::config::WebhooksConfig;
use crate::AppState;
use hmac::{Hmac, Mac};
use marquee_domain::Millis;
use marquee_store::outbox::DueDelivery;
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-marquee-signature";
/// The event header.
pub const EVENT_HEADER: &str = "x-marquee-event";
/// The delivery id header.
pub const DELIVERY_HEADER: &str = "x-marquee-delivery";

const MAX_BACKOFF_MS: i64 = 6 * 3600 * 1000;
const BATCH: u32 = 32;

fn mac(secret: &str, t: Millis, body: &str) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body.as_bytes());
    Some(m)
}

/// The signature header value for a body sent at `t`.
pub fn sign(secret: &str, t: Millis, body: &str) -> String {
    let hex = mac(secret, t, body)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={t},v1={hex}")
}

/// Checks a signature header in constant time; returns its timestamp when valid.
pub fn verify(secret: &str, header: &str, body: &str) -> Option<Millis> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<Millis>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (t, v1) = (t?, v1?);
    mac(secret, t, body)?.verify_slice(&v1).ok().map(|()| t)
}

/// The wait before retry number `attempts` (1 = the first retry).
pub fn backoff_ms(cfg: &WebhooksConfig, attempts: i64) -> i64 {
    let base = i64::try_from(cfg.backoff_base_s.saturating_mul(1000)).unwrap_or(MAX_BACKOFF_MS);
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    base.saturating_mul(1i64 << exp).min(MAX_BACKOFF_MS)
}

/// TLS for deliveries: the system's root certificates, with an explicit
/// crypto provider (no process-wide default is assumed or installed).
fn tls_config() -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    for e in &loaded.errors {
        tracing::warn!(error = %e, "a system root certificate could not be loaded");
    }
    let (added, _) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        tracing::warn!("no system root certificates: https webhooks will fail");
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The HTTP client for deliveries: no redirects, the configured timeout.
pub fn client(cfg: &WebhooksConfig) -> anyhow::Result<reqwest::Client> {
    Ok(crate::outbound::client_builder(cfg.allow_private)
        .use_preconfigured_tls(tls_config()?)
        .timeout(Duration::from_secs(cfg.timeout_s))
        .user_agent("Marquee-Webhooks/1")
        .build()?)
}

/// What the admin sees of a delivery that got no HTTP answer. The cause
/// (refused, unreachable, no public address, timeout) goes to the log only:
/// shown to the admin it would say what listens where.
pub const FAILED: &str = "failed";

async fn attempt(
    client: &reqwest::Client,
    d: &DueDelivery,
    now: Millis,
    allow_private: bool,
) -> Result<i64, (Option<i64>, String)> {
    crate::outbound::guard(&d.url, allow_private).map_err(|e| (None, e.to_string()))?;
    let r = client
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(EVENT_HEADER, &d.event)
        .header(DELIVERY_HEADER, d.id.to_string())
        .header(SIGNATURE_HEADER, sign(&d.secret, now, &d.payload))
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(delivery = d.id, error = %e, "webhook request failed");
            (None, FAILED.to_string())
        })?;
    let status = i64::from(r.status().as_u16());
    if r.status().is_success() {
        Ok(status)
    } else {
        Err((Some(status), format!("HTTP {status}")))
    }
}

/// One pass over the outbox: claims due deliveries, attempts each, records
/// the outcome. Returns how many were attempted.
pub async fn deliver_due(state: &AppState, client: &reqwest::Client) -> anyhow::Result<usize> {
    let cfg = &state.config.webhooks;
    let now = state.clock.now_ms();
    let lease = i64::try_from(cfg.timeout_s.saturating_mul(1000)).unwrap_or(60_000) + 30_000;
    let due = state.store.claim_deliveries(now, lease, BATCH).await?;
    for d in &due {
        let at = state.clock.now_ms();
        match attempt(client, d, at, cfg.allow_private).await {
            Ok(status) => {
                state.store.delivery_succeeded(d.id, status, at).await?;
            }
            Err((status, error)) => {
                let attempts = d.attempts + 1;
                let retry = (attempts < i64::from(cfg.max_attempts))
                    .then(|| state.clock.now_ms() + backoff_ms(cfg, attempts));
                tracing::warn!(delivery = d.id, attempts, %error, gave_up = retry.is_none(), "webhook delivery failed");
                state
                    .store
                    .delivery_failed(d.id, status, &error, retry)
                    .await?;
            }
        }
    }
    Ok(due.len())
}

/// Makes ring the process's default rustls provider unless one is set,
/// so that every rustls user in the process (this crate's HTTP clients and
/// any other) agrees on one provider.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only when another thread installed one first: fine either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Starts the outbox worker: it runs a pass when woken through
/// `state.outbox_wake`, and every `poll_interval_ms` (for retries).
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    install_crypto_provider();
    tokio::spawn(async move {
        let client = match client(&state.config.webhooks) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhook client could not be built; deliveries stay queued");
                return;
            }
        };
        let poll = Duration::from_millis(state.config.webhooks.poll_interval_ms.max(50));
        loop {
            match deliver_due(&state, &client).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook outbox pass failed"),
            }
            tokio::select! {
                () = state.outbox_wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_reject_tampering() {
        let h = sign("s3cret", 1_700_000_000_000, "{\"a\":1}");
        assert!(h.starts_with("t=1700000000000,v1="));
        assert_eq!(verify("s3cret", &h, "{\"a\":1}"), Some(1_700_000_000_000));
        assert_eq!(verify("s3cret", &h, "{\"a\":2}"), None);
        assert_eq!(verify("other", &h, "{\"a\":1}"), None);
        let forged = h.replace("t=1700000000000", "t=1700000000001");
        assert_eq!(verify("s3cret", &forged, "{\"a\":1}"), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let cfg = WebhooksConfig {
            backoff_base_s: 30,
            ..WebhooksConfig::default()
        };
        assert_eq!(backoff_ms(&cfg, 1), 30_000);
        assert_eq!(backoff_ms(&cfg, 2), 60_000);
        assert_eq!(backoff_ms(&cfg, 4), 240_000);
        assert_eq!(backoff_ms(&cfg, 40), MAX_BACKOFF_MS);
    }
}
