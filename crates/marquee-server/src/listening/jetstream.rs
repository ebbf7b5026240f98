//! Bluesky Jetstream connector: a WebSocket of JSON events
//! (`/subscribe?wantedCollections=app.bsky.feed.post&cursor=<time_us>`),
//! keeping new posts that mention a keyword. The cursor (the `time_us` of the
//! last event read) is stored with each batch in one transaction; on
//! reconnect or restart it resumes from a few seconds before it (Jetstream's
//! advice for gapless replay; duplicates are ignored by the posts key).

use super::config::JetstreamConfig;
use super::{backoff_ms, ingest, RawPost};
use crate::AppState;
use futures_util::StreamExt;
use serde::Deserialize;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// How far back to rewind on reconnect, in microseconds.
const REWIND_US: i64 = 5_000_000;
/// Flush a batch at this size or after this long.
const BATCH: usize = 500;
const FLUSH: Duration = Duration::from_millis(500);

/// A Jetstream event (the parts read here).
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// The repo's DID.
    pub did: String,
    /// Event time, µs since the epoch: the cursor.
    pub time_us: i64,
    /// `commit`, `identity` or `account`.
    pub kind: String,
    /// For commits.
    pub commit: Option<Commit>,
}

/// A repo commit.
#[derive(Debug, Clone, Deserialize)]
pub struct Commit {
    /// `create`, `update` or `delete`.
    pub operation: String,
    /// e.g. `app.bsky.feed.post`.
    pub collection: String,
    /// Record key.
    pub rkey: String,
    /// The record (absent on delete).
    pub record: Option<PostRecord>,
}

/// An `app.bsky.feed.post` record.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostRecord {
    /// The text.
    #[serde(default)]
    pub text: String,
    /// ISO 8601.
    pub created_at: Option<String>,
    /// Languages.
    #[serde(default)]
    pub langs: Vec<String>,
}

/// The post an event carries, when it is a new post mentioning a keyword.
pub fn to_raw(e: &Event, keywords: &[String]) -> Option<RawPost> {
    let c = e.commit.as_ref()?;
    if e.kind != "commit" || c.operation != "create" || c.collection != "app.bsky.feed.post" {
        return None;
    }
    let r = c.record.as_ref()?;
    let lower = r.text.to_lowercase();
    if !keywords.iter().any(|k| lower.contains(k.as_str())) {
        return None;
    }
    let created_at = r
        .created_at
        .as_deref()
        .and_then(super::mastodon::parse_time)
        .unwrap_or(e.time_us / 1000);
    Some(RawPost {
        source: "bluesky".into(),
        external_id: format!("at://{}/app.bsky.feed.post/{}", e.did, c.rkey),
        author: e.did.clone(),
        text: r.text.chars().take(5000).collect(),
        url: Some(format!(
            "https://bsky.app/profile/{}/post/{}",
            e.did, c.rkey
        )),
        lang: r.langs.first().cloned(),
        created_at,
    })
}

/// The connector's cursor name.
pub fn cursor_name(cfg: &JetstreamConfig) -> String {
    format!("jetstream:{}", cfg.url)
}

/// The subscribe URL for a cursor.
pub fn subscribe_url(cfg: &JetstreamConfig, cursor: Option<i64>) -> String {
    let sep = if cfg.url.contains('?') { '&' } else { '?' };
    let mut u = format!("{}{sep}wantedCollections=app.bsky.feed.post", cfg.url);
    if let Some(c) = cursor {
        u.push_str(&format!("&cursor={}", (c - REWIND_US).max(0)));
    }
    u
}

/// Streams until aborted, reconnecting with back-off.
pub async fn run(state: AppState, cfg: JetstreamConfig, _index: usize) {
    let name = cursor_name(&cfg);
    let keywords: Vec<String> = cfg.keywords.iter().map(|k| k.to_lowercase()).collect();
    let mut failures: u32 = 0;
    loop {
        let cursor = state
            .store
            .connector_cursor(&name)
            .await
            .ok()
            .flatten()
            .and_then(|c| c.parse::<i64>().ok());
        let url = subscribe_url(&cfg, cursor);
        match session(&state, &url, &name, &keywords).await {
            Ok(read) if read > 0 => failures = 0,
            Ok(_) => failures += 1,
            Err(e) => {
                failures += 1;
                tracing::warn!(connector = %name, error = %e, "jetstream connection failed");
            }
        }
        tokio::time::sleep(Duration::from_millis(backoff_ms(500, failures, 60_000))).await;
    }
}

/// One connection: reads events until the socket closes; returns how many.
async fn session(
    state: &AppState,
    url: &str,
    name: &str,
    keywords: &[String],
) -> Result<u64, String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(connector = %name, %url, "jetstream connected");
    let mut buf: Vec<RawPost> = Vec::new();
    let mut last: Option<i64> = None;
    let mut saved: Option<i64> = None;
    let mut read = 0u64;
    let mut deadline = tokio::time::Instant::now() + FLUSH;
    let result = loop {
        let msg = tokio::time::timeout_at(deadline, ws.next()).await;
        let done = match msg {
            Err(_) => false, // flush timer
            Ok(None) => true,
            Ok(Some(Err(e))) => break Err(e.to_string()),
            Ok(Some(Ok(Message::Text(t)))) => {
                read += 1;
                match super::parse::jetstream_message(t.as_str(), keywords) {
                    Ok((cursor, post)) => {
                        last = Some(cursor);
                        buf.extend(post);
                    }
                    Err(e) => tracing::debug!(error = %e, "jetstream: unreadable event skipped"),
                }
                false
            }
            Ok(Some(Ok(Message::Close(_)))) => true,
            Ok(Some(Ok(_))) => false,
        };
        let due = tokio::time::Instant::now() >= deadline || buf.len() >= BATCH || done;
        if due {
            if last != saved {
                if let Some(c) = last {
                    let posts = std::mem::take(&mut buf);
                    ingest(state, posts, Some((name, &c.to_string())))
                        .await
                        .map_err(|e| e.to_string())?;
                    saved = last;
                }
            }
            deadline = tokio::time::Instant::now() + FLUSH;
        }
        if done {
            break Ok(read);
        }
    };
    if result.is_err() && last != saved {
        // Store what was read before the error, with its cursor.
        if let Some(c) = last {
            let _ = ingest(
                state,
                std::mem::take(&mut buf),
                Some((name, &c.to_string())),
            )
            .await;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_events_filter_by_keyword() {
        let e: Event = serde_json::from_str(
            r#"{"did":"did:plc:eygmaihciaxprqvxpfvl6flk","time_us":1725911162329308,"kind":"commit",
            "commit":{"rev":"3l3qo2vutsw2b","operation":"create","collection":"app.bsky.feed.post",
            "rkey":"3l3qo2vuowo2b","record":{"$type":"app.bsky.feed.post",
            "createdAt":"2024-09-09T19:46:02.102Z","langs":["en"],"text":"Marquee raised the price again"},
            "cid":"bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi"}}"#,
        )
        .unwrap();
        let p = to_raw(&e, &["marquee".into()]).unwrap();
        assert_eq!(
            p.external_id,
            "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3l3qo2vuowo2b"
        );
        assert_eq!(p.created_at, 1_725_911_162_102);
        assert!(to_raw(&e, &["netflix".into()]).is_none());
        let cfg = JetstreamConfig {
            url: "ws://h/subscribe".into(),
            keywords: vec![],
        };
        assert_eq!(
            subscribe_url(&cfg, Some(10_000_000)),
            "ws://h/subscribe?wantedCollections=app.bsky.feed.post&cursor=5000000"
        );
    }
}
