//! `marquee ingest posts FILE.jsonl`: validates each line locally (bad lines
//! are reported with their line numbers and counted; the rest goes in) and
//! sends the good ones in batches to a running server's `POST /api/v1/posts`,
//! with a progress bar. Re-running is harmless: posts are keyed by
//! `(source, external_id)`.

use super::app;
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use marquee_domain::{Clock, SystemClock};
use marquee_server::Config;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where to send posts and with which token.
#[derive(clap::Args, Clone)]
pub struct ServerArgs {
    /// The server's base URL. Default: http://{server.addr} from the config.
    #[arg(long)]
    pub server: Option<String>,
    /// An ingest token (an admin creates one at /listening/tokens). Without
    /// one, a token is minted in the configured database, which must be the
    /// server's.
    #[arg(
        long,
        env = "MARQUEE_INGEST_TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub token: Option<String>,
}

/// Arguments of `marquee ingest posts`.
#[derive(clap::Args)]
pub struct IngestPostsArgs {
    /// A JSON Lines file: one post object per line.
    pub file: PathBuf,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Posts per request.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
}

/// A client of the ingest API.
pub struct Sender {
    client: reqwest::Client,
    url: String,
    token: String,
}

/// What the server said about one batch.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Outcome {
    /// New.
    pub inserted: u64,
    /// Already there.
    pub duplicates: u64,
    /// Alerts raised.
    pub alerts: Vec<i64>,
}

impl Sender {
    /// Resolves the server URL and the token (minting one when needed).
    pub async fn new(config: &Config, args: &ServerArgs, purpose: &str) -> anyhow::Result<Sender> {
        let base = args
            .server
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.server.addr));
        let token = match &args.token {
            Some(t) => t.clone(),
            None => mint_token(config, purpose).await?,
        };
        Ok(Sender {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            url: format!("{}/api/v1/posts", base.trim_end_matches('/')),
            token,
        })
    }

    /// Sends one batch; retries server and network errors with back-off,
    /// fails at once on a 4xx.
    pub async fn send(&self, posts: &[Value]) -> anyhow::Result<Outcome> {
        let mut attempt = 0u32;
        loop {
            let res = self
                .client
                .post(&self.url)
                .bearer_auth(&self.token)
                .json(posts)
                .send()
                .await;
            let retry = match res {
                Ok(r) if r.status().is_success() => return Ok(r.json().await?),
                Ok(r) if r.status().is_client_error() => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    bail!("the server refused the batch ({status}): {body}");
                }
                Ok(r) => format!("HTTP {}", r.status()),
                Err(e) => e.to_string(),
            };
            attempt += 1;
            if attempt > 6 {
                bail!(
                    "giving up on {} after {attempt} attempts: {retry}",
                    self.url
                );
            }
            tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
        }
    }
}

async fn mint_token(config: &Config, purpose: &str) -> anyhow::Result<String> {
    let store = app::open_store(config)
        .await
        .context("no --token given, and the configured database (to mint one) cannot be opened")?;
    let token = marquee_server::auth::random_token();
    store
        .create_ingest_token(
            purpose,
            &marquee_server::auth::token_hash(&token),
            None,
            SystemClock.now_ms(),
        )
        .await?;
    store.close().await;
    eprintln!(
        "minted ingest token {purpose:?} in {}",
        config.database_url()
    );
    Ok(token)
}

/// Parses and checks one line: the post as JSON for the API, or why not.
pub fn parse_line(line: &str, max_chars: usize, now: i64) -> Result<Value, String> {
    marquee_server::listening::parse::jsonl_line(line, max_chars, now)
}

/// Runs `marquee ingest posts`.
pub fn run(file: Option<&Path>, args: &IngestPostsArgs) -> anyhow::Result<()> {
    let config = app::load_config(file)?;
    app::block_on(ingest(config, args))
}

async fn ingest(config: Config, args: &IngestPostsArgs) -> anyhow::Result<()> {
    if args.batch == 0 || args.batch > config.listening.max_batch_posts {
        bail!(
            "--batch must be 1 to {} (listening.max_batch_posts)",
            config.listening.max_batch_posts
        );
    }
    let f = std::fs::File::open(&args.file)
        .with_context(|| format!("opening {}", args.file.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let sender = Sender::new(&config, &args.server, "marquee ingest posts").await?;
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bar:40} {bytes}/{total_bytes} {per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let now = SystemClock.now_ms();
    let name = args.file.display().to_string();
    let (mut lines, mut bad, mut inserted, mut duplicates) = (0u64, 0u64, 0u64, 0u64);
    let mut alerts = Vec::new();
    let mut batch: Vec<Value> = Vec::with_capacity(args.batch);
    let mut done_bytes = 0u64;
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("{name}:{}: unreadable", i + 1))?;
        done_bytes += line.len() as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        lines += 1;
        match parse_line(&line, config.listening.max_post_chars, now) {
            Ok(v) => batch.push(v),
            Err(e) => {
                bad += 1;
                if bad <= 20 {
                    say(&bar, format!("{name}:{}: {e}", i + 1));
                }
            }
        }
        if batch.len() >= args.batch {
            let o = sender.send(&batch).await?;
            inserted += o.inserted;
            duplicates += o.duplicates;
            alerts.extend(o.alerts);
            batch.clear();
            bar.set_position(done_bytes);
            bar.set_message(format!(
                "{inserted} new, {duplicates} already there, {bad} malformed"
            ));
        }
    }
    if !batch.is_empty() {
        let o = sender.send(&batch).await?;
        inserted += o.inserted;
        duplicates += o.duplicates;
        alerts.extend(o.alerts);
    }
    bar.finish_and_clear();
    if bad > 20 {
        println!("… and {} more malformed lines", bad - 20);
    }
    println!(
        "{lines} lines: {inserted} new posts, {duplicates} already there, {bad} malformed lines rejected"
    );
    if !alerts.is_empty() {
        println!("alerts raised: {alerts:?}");
    }
    Ok(())
}

/// Prints above the bar, or plainly when there is no terminal.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_checked_locally() {
        let now = 1_800_000_000_000;
        let ok = r#"{"external_id":"1","author":"@a@b.c","text":"hi","created_at":1790000000000}"#;
        assert!(parse_line(ok, 100, now).is_ok());
        let e = parse_line(
            r#"{"external_id":"1","author":"@a@b.c","text":"hi","created_at":1790000000000,"x":1}"#,
            100,
            now,
        )
        .unwrap_err();
        assert!(e.contains("unknown field `x`"), "{e}");
        let e = parse_line(
            r#"{"external_id":"1","author":"@a@b.c","text":"hello","created_at":1790000000000}"#,
            3,
            now,
        )
        .unwrap_err();
        assert!(e.starts_with("text "), "{e}");
        assert!(parse_line("{nope", 100, now).is_err());
    }
}
