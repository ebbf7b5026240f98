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
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// How far back to rewind on reconnect, in microseconds.
const REWIND_US: i64 = 5_000_000;
/// Flush a batch at this size or after this long.
const BATCH: usize = 500;
const FLUSH: Duration = Duration::from_millis(500);

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
    fn subscribe_url_rewinds_the_cursor() {
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
