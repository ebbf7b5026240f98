//! Mastodon connector: polls a hashtag timeline
//! (`GET /api/v1/timelines/tag/{hashtag}`), paging forward with `min_id` from
//! the saved cursor so that a burst of more than one page loses nothing. The
//! cursor (the newest status id stored) moves in the same transaction as the
//! posts, so a restart resumes exactly where it stopped.

use super::config::MastodonConfig;
use super::parse::{host_of, mastodon_post, MastodonStatus};
use super::{backoff_ms, ingest, RawPost};
use crate::AppState;
use std::time::Duration;

/// Statuses per page (Mastodon's maximum for this endpoint).
const PAGE: usize = 40;

/// The connector's cursor name.
pub fn cursor_name(cfg: &MastodonConfig) -> String {
    format!(
        "mastodon:{}:#{}",
        host_of(&cfg.base_url),
        cfg.hashtag.to_lowercase()
    )
}

/// Polls until aborted.
pub async fn run(state: AppState, cfg: MastodonConfig, _index: usize) {
    if crate::outbound::guard(&cfg.base_url, state.config.webhooks.allow_private).is_err() {
        tracing::error!(base_url = %cfg.base_url, "mastodon connector stopped: its server is not a public address ([webhooks] allow_private)");
        return;
    }
    let client = match crate::outbound::client_builder(state.config.webhooks.allow_private)
        .timeout(Duration::from_secs(20))
        .user_agent("marquee-listening/1")
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "mastodon client");
            return;
        }
    };
    let name = cursor_name(&cfg);
    let host = host_of(&cfg.base_url);
    let base = cfg.base_url.trim_end_matches('/').to_string();
    let mut failures: u32 = 0;
    loop {
        let cursor = match state.store.connector_cursor(&name).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "mastodon cursor read failed");
                None
            }
        };
        let mut req = client
            .get(format!(
                "{base}/api/v1/timelines/tag/{}",
                crate::auth::url_encode(&cfg.hashtag)
            ))
            .query(&[("limit", PAGE.to_string())]);
        if let Some(c) = &cursor {
            req = req.query(&[("min_id", c.as_str())]);
        }
        if let Some(t) = &cfg.access_token {
            req = req.bearer_auth(t);
        }
        let page: Result<Vec<MastodonStatus>, String> = match req.send().await {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(b) => super::parse::mastodon_page(&b),
                Err(e) => Err(e.to_string()),
            },
            Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
            Err(e) => Err(e.to_string()),
        };
        let statuses = match page {
            Ok(p) => p,
            Err(e) => {
                failures += 1;
                let wait = backoff_ms(1000, failures, 300_000);
                tracing::warn!(connector = %name, error = %e, retry_ms = wait, "mastodon poll failed");
                tokio::time::sleep(Duration::from_millis(wait)).await;
                continue;
            }
        };
        failures = 0;
        let full = statuses.len() >= PAGE;
        let Some(newest) = statuses.last().map(|s| s.id.clone()) else {
            tokio::time::sleep(Duration::from_secs(cfg.poll_interval_s.max(1))).await;
            continue;
        };
        let raws: Vec<RawPost> = statuses
            .iter()
            .filter_map(|s| mastodon_post(s, &host))
            .collect();
        match ingest(&state, raws, Some((&name, &newest))).await {
            Ok(o) => {
                tracing::debug!(connector = %name, inserted = o.inserted, cursor = %newest, "mastodon page stored")
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(connector = %name, error = %e, "mastodon ingest failed");
                tokio::time::sleep(Duration::from_millis(backoff_ms(1000, failures, 300_000)))
                    .await;
                continue;
            }
        }
        if !full {
            tokio::time::sleep(Duration::from_secs(cfg.poll_interval_s.max(1))).await;
        }
    }
}
