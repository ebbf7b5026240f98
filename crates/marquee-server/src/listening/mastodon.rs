//! Mastodon connector: polls a hashtag timeline
//! (`GET /api/v1/timelines/tag/{hashtag}`), paging forward with `min_id` from
//! the saved cursor so that a burst of more than one page loses nothing. The
//! cursor (the newest status id stored) moves in the same transaction as the
//! posts, so a restart resumes exactly where it stopped.

use super::config::MastodonConfig;
use super::{backoff_ms, classify, ingest, RawPost};
use crate::AppState;
use serde::Deserialize;
use std::time::Duration;

/// Statuses per page (Mastodon's maximum for this endpoint).
const PAGE: usize = 40;

/// The parts of a Mastodon `Status` entity the connector reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    /// Snowflake id, as a string.
    pub id: String,
    /// ISO 8601.
    pub created_at: String,
    /// HTML.
    pub content: String,
    /// Web link.
    pub url: Option<String>,
    /// The canonical URI.
    pub uri: Option<String>,
    /// ISO 639 language.
    pub language: Option<String>,
    /// Content warning.
    #[serde(default)]
    pub spoiler_text: String,
    /// The author.
    pub account: Account,
    /// A boost wraps the original.
    pub reblog: Option<Box<serde_json::Value>>,
}

/// The parts of a Mastodon `Account` entity the connector reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    /// `user` for local accounts, `user@host` for remote ones.
    pub acct: String,
    /// Profile URL.
    pub url: Option<String>,
}

/// Orders snowflake ids numerically (they are decimal strings).
pub fn id_key(id: &str) -> (usize, &str) {
    (id.len(), id)
}

/// `https://host/...` → `host`.
pub fn host_of(url: &str) -> String {
    url.split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .to_lowercase()
}

/// A status as a post, or `None` for boosts.
pub fn to_raw(s: &Status, instance_host: &str) -> Option<RawPost> {
    if s.reblog.is_some() {
        return None;
    }
    let created_at = parse_time(&s.created_at)?;
    // Local accounts' `acct` has no domain: take it from the profile URL.
    let acct = if s.account.acct.contains('@') {
        s.account.acct.clone()
    } else {
        let home = s
            .account
            .url
            .as_deref()
            .map(host_of)
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| instance_host.to_string());
        format!("{}@{home}", s.account.acct)
    };
    let mut text = classify::html_to_text(&s.content);
    if !s.spoiler_text.is_empty() {
        text = format!("{} {text}", s.spoiler_text);
    }
    Some(RawPost {
        source: "mastodon".into(),
        external_id: s
            .uri
            .clone()
            .unwrap_or_else(|| format!("{instance_host}/{}", s.id)),
        author: format!("@{acct}"),
        text: text.chars().take(5000).collect(),
        url: s.url.clone(),
        lang: s.language.clone(),
        created_at,
    })
}

/// RFC 3339 → ms.
pub fn parse_time(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

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
    let client = match reqwest::Client::builder()
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
        let page: Result<Vec<Status>, String> = match req.send().await {
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
        let raws: Vec<RawPost> = statuses.iter().filter_map(|s| to_raw(s, &host)).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_becomes_a_post() {
        let s: Status = serde_json::from_str(
            r#"{"id":"103270115826048975","created_at":"2019-12-08T03:48:33.901Z",
            "content":"<p>The new <a href=\"x\">#price</a> is too much &amp; I&#39;m out</p>",
            "url":"https://mastodon.social/@alice/103270115826048975",
            "uri":"https://mastodon.social/users/alice/statuses/103270115826048975",
            "language":"en","spoiler_text":"","visibility":"public","reblog":null,
            "account":{"id":"1","username":"alice","acct":"alice","url":"https://mastodon.social/@alice"}}"#,
        )
        .unwrap();
        let p = to_raw(&s, "mastodon.social").unwrap();
        assert_eq!(p.author, "@alice@mastodon.social");
        assert_eq!(p.text, "The new #price is too much & I'm out");
        assert_eq!(p.created_at, 1_575_776_913_901);
        assert!(id_key("99") < id_key("100"));
    }
}
