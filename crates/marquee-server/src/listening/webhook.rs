//! Alert webhooks: Slack-compatible JSON, signed with HMAC-SHA256, delivered
//! from the durable `webhook_outbox` table with exponential back-off, so a
//! queued delivery survives restarts.
//!
//! Each request carries `X-Marquee-Timestamp` (Unix seconds) and
//! `X-Marquee-Signature: v1=<hex>` where `<hex>` is
//! `HMAC-SHA256(secret, "{timestamp}.{body}")`. Receivers recompute it and
//! reject stale timestamps.

use super::backoff_ms;
use crate::AppState;
use hmac::{Hmac, Mac};
use marquee_domain::listening::{NewAlert, Post};
use sha2::Sha256;
use std::time::Duration;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-marquee-signature";
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-marquee-timestamp";

/// `v1=` + hex HMAC-SHA256 of `"{timestamp}.{body}"`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(), // HMAC accepts keys of any length
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn describe(a: &NewAlert) -> String {
    let what = if a.series == "all" {
        "all mentions".to_string()
    } else {
        format!("topic \"{}\"", a.series)
    };
    match a.kind.as_str() {
        "volume" => format!(
            "{} posts in {} on {what}, against {:.0} expected (z = {:.1})",
            a.posts, a.window, a.expected, a.z
        ),
        _ => format!(
            "{:.0}% negative over {} posts in {} on {what}, against {:.0}% usually (z = {:.1})",
            a.observed * 100.0,
            a.posts,
            a.window,
            a.expected * 100.0,
            a.z
        ),
    }
}

/// The Slack-compatible body: `text` and `blocks`, plus the alert itself
/// under `marquee_alert` for other receivers. `{{alert_id}}` is filled in by
/// the store when the alert gets its id.
pub fn slack_body(a: &NewAlert, examples: &[Post], public_url: Option<&str>) -> String {
    let headline = format!("Backlash alert: {}", describe(a));
    let terms: Vec<&str> = a.terms.iter().map(|(t, _)| t.as_str()).collect();
    let mut blocks = vec![
        serde_json::json!({"type": "header", "text": {"type": "plain_text", "text": "Backlash alert"}}),
        serde_json::json!({"type": "section", "text": {"type": "plain_text", "text": describe(a)}}),
    ];
    if !terms.is_empty() {
        blocks.push(
            serde_json::json!({"type": "section", "text": {"type": "plain_text",
            "text": format!("Driving terms: {}", terms.join(", "))}}),
        );
    }
    for p in examples.iter().take(3) {
        let text: String = p.text.chars().take(280).collect();
        blocks.push(
            serde_json::json!({"type": "context", "elements": [{"type": "plain_text",
            "text": format!("{} ({}): {}", p.author, p.sentiment.as_str(), text)}]}),
        );
    }
    if let Some(base) = public_url {
        blocks.push(serde_json::json!({"type": "section", "text": {"type": "mrkdwn",
            "text": format!("<{}/listening/alerts/{{{{alert_id}}}}|Open the alert>", base.trim_end_matches('/'))}}));
    }
    serde_json::json!({
        "text": headline,
        "blocks": blocks,
        "marquee_alert": {
            "id": "{{alert_id}}",
            "series": a.series, "kind": a.kind, "window": a.window,
            "window_start": a.window_start, "window_end": a.window_end,
            "observed": a.observed, "expected": a.expected, "z": a.z, "posts": a.posts,
            "terms": a.terms, "example_post_ids": a.example_post_ids,
        }
    })
    .to_string()
}

/// Deliveries claimed at a time.
const CLAIM_BATCH: u32 = 10;
/// How long a claim hides its deliveries from other deliverers: the batch's
/// requests at their 10 s timeout, and a margin.
const CLAIM_LEASE_MS: i64 = 150_000;

/// Delivers due webhooks until aborted.
pub async fn run(state: AppState) {
    let allow_private = state.config.webhooks.allow_private;
    let client = match crate::outbound::client_builder(allow_private)
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client");
            return;
        }
    };
    let cfg = &state.config.listening;
    loop {
        let now = state.clock.now_ms();
        // Claimed, not just read: with several instances on one database each
        // alert goes out from one of them. The claim is a write, so while the
        // database refuses writes (locked, full) nothing is sent whose outcome
        // could not be recorded.
        match state
            .store
            .claim_webhooks(now, CLAIM_LEASE_MS, CLAIM_BATCH)
            .await
        {
            Ok(items) => {
                for item in items {
                    let secret = cfg.webhooks.iter().find(|w| w.url == item.url);
                    let Some(secret) = secret else {
                        let _ = state
                            .store
                            .webhook_failed(item.id, "webhook no longer configured", None, now)
                            .await;
                        continue;
                    };
                    let ts = state.clock.now_ms() / 1000;
                    let body = item.body.clone();
                    let error = if let Err(e) = crate::outbound::guard(&item.url, allow_private) {
                        Some(e.to_string())
                    } else {
                        let res = client
                            .post(&item.url)
                            .header("content-type", "application/json")
                            .header(TIMESTAMP_HEADER, ts.to_string())
                            .header(SIGNATURE_HEADER, sign(&secret.secret, ts, &body))
                            .body(body)
                            .send()
                            .await;
                        match res {
                            Ok(r) if r.status().is_success() => None,
                            Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
                            Err(e) => {
                                tracing::warn!(id = item.id, error = %e, "alert webhook request failed");
                                Some(crate::webhooks::FAILED.to_string())
                            }
                        }
                    };
                    let now = state.clock.now_ms();
                    let done = match error {
                        None => state.store.webhook_delivered(item.id, now).await,
                        Some(err) => {
                            let attempt = item.attempts + 1;
                            let next = (attempt < i64::from(cfg.webhook_max_attempts)).then(|| {
                                now + backoff_ms(
                                    cfg.webhook_retry_base_ms,
                                    attempt as u32 - 1,
                                    3_600_000,
                                ) as i64
                            });
                            tracing::warn!(id = item.id, attempt, error = %err, gave_up = next.is_none(), "webhook delivery failed");
                            state.store.webhook_failed(item.id, &err, next, now).await
                        }
                    };
                    if let Err(e) = done {
                        tracing::warn!(error = %e, "webhook outbox update failed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "alert webhooks wait: outbox claim failed"),
        }
        let wait = match state.store.next_webhook_at().await {
            Ok(Some(at)) => (at - state.clock.now_ms()).clamp(20, 30_000),
            _ => 30_000,
        };
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            () = state.listening.webhook_wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_and_body() {
        // RFC 4231 test case 2 shape: key "Jefe"; here over "1.{}".
        let s = sign("Jefe", 1, "{}");
        assert!(s.starts_with("v1="));
        assert_eq!(s.len(), 3 + 64);
        assert_ne!(s, sign("Jefe", 2, "{}"));
        assert_ne!(s, sign("jefe", 1, "{}"));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"1.{}");
        assert_eq!(
            s,
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
        );
    }
}
