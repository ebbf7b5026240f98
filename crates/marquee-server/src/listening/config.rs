//! The `[listening]` section of the configuration.

use serde::{Deserialize, Serialize};

/// Social listening settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ListeningConfig {
    /// Most posts in one `POST /api/v1/posts` batch.
    pub max_batch_posts: usize,
    /// Longest post text, in characters.
    pub max_post_chars: usize,
    /// Largest ingest request body, in bytes.
    pub max_body_bytes: usize,
    /// The topic taxonomy: a post belongs to every topic one of whose
    /// keywords (a word, a phrase or a `#hashtag`) it mentions.
    pub topics: Vec<KeywordSet>,
    /// Brands and products to recognise, the same way.
    pub brands: Vec<KeywordSet>,
    /// The backlash detector.
    pub detector: DetectorConfig,
    /// Where alerts go: Slack-compatible JSON, signed with HMAC-SHA256.
    pub webhooks: Vec<WebhookConfig>,
    /// Delivery attempts before a webhook is given up.
    pub webhook_max_attempts: u32,
    /// First retry delay; each retry doubles it (capped at one hour).
    pub webhook_retry_base_ms: u64,
    /// Mastodon hashtag timelines to poll.
    pub mastodon: Vec<MastodonConfig>,
    /// Bluesky Jetstream subscriptions.
    pub jetstream: Vec<JetstreamConfig>,
    /// The sentiment model file to serve, as `marquee train sentiment`
    /// writes it. Default: `<data_dir>/sentiment/model.bin` when that file
    /// exists, else the model built into the binary.
    pub model: Option<std::path::PathBuf>,
    /// How often the model file is checked; a changed file (a retrained
    /// model) is loaded and swapped in without a restart, and a file that
    /// does not load is reported and the served model kept.
    pub model_check_ms: u64,
    /// The accurate tier: a Hugging Face-format encoder checkpoint directory
    /// (`config.json`, `tokenizer.json`, `model.safetensors`; BERT, MiniLM or
    /// RoBERTa family). Posts the fast model is unsure about are rescored by
    /// it in background batches. Unset: the fast tier labels every post. A
    /// checkpoint or head that does not load is reported on the dashboard
    /// and in the log, and the fast tier goes on alone.
    pub encoder: Option<std::path::PathBuf>,
    /// The classification head for `encoder`, as `marquee train sentiment
    /// --encoder DIR` writes it. Default:
    /// `<data_dir>/sentiment/encoder-head.bin`. Watched like `model`.
    pub encoder_head: Option<std::path::PathBuf>,
    /// A post goes to the accurate tier when the fast model's most
    /// probable class has less than this probability (0 to 1; 1 sends
    /// every post).
    pub encoder_below: f32,
    /// Posts per accurate-tier batch.
    pub encoder_batch: usize,
    /// The encoder head's weight in the accurate tier's label; the fast
    /// model's probabilities weigh 1 − this (0 to 1; 1 = the encoder
    /// alone). `marquee train sentiment --encoder DIR --shifted` reports
    /// each weight on held-out years.
    pub encoder_mix: f32,
}

/// A named set of keywords.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeywordSet {
    /// The topic or brand name.
    pub name: String,
    /// Lower-case words or phrases.
    pub keywords: Vec<String>,
}

/// Backlash detector thresholds (see ARCHITECTURE.md, "Backlash detection").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    /// Volume: the (Anscombe) Poisson z-score a window must reach.
    pub z_volume: f64,
    /// Volume: and the ratio of observed to expected.
    pub min_ratio: f64,
    /// Negative share: the binomial z-score a window must reach.
    pub z_negative: f64,
    /// Negative share: and its lift over the baseline share.
    pub min_share_lift: f64,
    /// Fewest posts in a window for it to alert.
    pub min_posts: u32,
    /// Minutes of history a baseline needs before it may alert.
    pub warmup_minutes: u32,
    /// Minutes (post time) before the same series may alert again.
    pub cooldown_minutes: u32,
}

/// One webhook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The URL to POST to (e.g. a Slack incoming webhook).
    pub url: String,
    /// The HMAC-SHA256 key for the `X-Marquee-Signature` header.
    pub secret: String,
}

/// A Mastodon hashtag timeline, polled with `min_id` paging (gap-free).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MastodonConfig {
    /// The instance, e.g. `https://mastodon.social`.
    pub base_url: String,
    /// The hashtag, without `#`.
    pub hashtag: String,
    /// Seconds between polls when caught up.
    #[serde(default = "default_poll")]
    pub poll_interval_s: u64,
    /// Optional access token (public timelines need none).
    #[serde(default)]
    pub access_token: Option<String>,
}

fn default_poll() -> u64 {
    30
}

/// A Bluesky Jetstream subscription.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JetstreamConfig {
    /// e.g. `wss://jetstream2.us-east.bsky.network/subscribe`.
    pub url: String,
    /// Keep posts containing any of these (case-insensitive).
    pub keywords: Vec<String>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            z_volume: 5.0,
            min_ratio: 1.6,
            z_negative: 5.0,
            min_share_lift: 0.15,
            min_posts: 20,
            warmup_minutes: 60,
            cooldown_minutes: 360,
        }
    }
}

fn set(name: &str, words: &[&str]) -> KeywordSet {
    KeywordSet {
        name: name.into(),
        keywords: words.iter().map(|w| (*w).to_string()).collect(),
    }
}

impl Default for ListeningConfig {
    fn default() -> Self {
        ListeningConfig {
            max_batch_posts: 5000,
            max_post_chars: 5000,
            max_body_bytes: 16 * 1024 * 1024,
            topics: vec![
                set(
                    "price",
                    &[
                        "price",
                        "prices",
                        "pricing",
                        "priced",
                        "expensive",
                        "cheap",
                        "cheaper",
                        "cost",
                        "costs",
                        "fee",
                        "fees",
                        "hike",
                        "increase",
                        "raise",
                        "raised",
                        "subscription",
                        "bill",
                        "billing",
                        "charged",
                        "charge",
                        "per month",
                        "a month",
                        "dollars",
                        "money",
                        "afford",
                        "refund",
                        "overpriced",
                    ],
                ),
                set(
                    "catalog",
                    &[
                        "catalog",
                        "catalogue",
                        "library",
                        "movie",
                        "movies",
                        "film",
                        "films",
                        "show",
                        "shows",
                        "series",
                        "season",
                        "episode",
                        "episodes",
                        "title",
                        "titles",
                        "content",
                        "documentary",
                        "watchlist",
                        "removed",
                        "leaving",
                    ],
                ),
                set(
                    "streaming",
                    &[
                        "buffering",
                        "buffer",
                        "stream",
                        "streaming",
                        "quality",
                        "resolution",
                        "hd",
                        "4k",
                        "lag",
                        "lagging",
                        "pixelated",
                        "stutter",
                        "playback",
                        "loading",
                        "download",
                        "offline",
                    ],
                ),
                set(
                    "app",
                    &[
                        "app", "bug", "bugs", "crash", "crashes", "crashed", "update", "login",
                        "log in", "password", "error", "glitch", "broken", "tv app", "android",
                        "iphone", "ios", "roku", "website",
                    ],
                ),
                set(
                    "service",
                    &[
                        "customer service",
                        "support",
                        "help desk",
                        "agent",
                        "chat",
                        "waited",
                        "on hold",
                        "email",
                        "response",
                        "complaint",
                        "helpful",
                        "rude",
                    ],
                ),
                set(
                    "brand",
                    &[
                        "ceo",
                        "company",
                        "decision",
                        "announcement",
                        "split",
                        "rebrand",
                        "qwikster",
                        "boycott",
                        "cancel",
                        "cancelled",
                        "canceled",
                        "cancelling",
                        "unsubscribe",
                        "apology",
                        "apologize",
                        "leadership",
                        "strategy",
                    ],
                ),
            ],
            brands: vec![
                set("Marquee", &["marquee", "@marquee"]),
                set("Marquee Kids", &["marquee kids"]),
                set("Marquee Premium", &["marquee premium", "premium plan"]),
            ],
            detector: DetectorConfig::default(),
            webhooks: Vec::new(),
            webhook_max_attempts: 8,
            webhook_retry_base_ms: 2000,
            mastodon: Vec::new(),
            jetstream: Vec::new(),
            model: None,
            model_check_ms: 30_000,
            encoder: None,
            encoder_head: None,
            encoder_below: 0.7,
            encoder_batch: 32,
            encoder_mix: 0.5,
        }
    }
}

impl ListeningConfig {
    /// Hides webhook secrets and access tokens.
    pub fn redact(&mut self) {
        for w in &mut self.webhooks {
            w.secret = "<redacted>".into();
        }
        for m in &mut self.mastodon {
            if m.access_token.is_some() {
                m.access_token = Some("<redacted>".into());
            }
        }
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_batch_posts == 0 || self.max_post_chars == 0 {
            return Err("listening.max_batch_posts and max_post_chars must be positive".into());
        }
        for t in self.topics.iter().chain(&self.brands) {
            if t.name.is_empty() || t.name.contains('|') || t.name.len() > 40 {
                return Err(format!(
                    "listening topic or brand name {:?} must be 1 to 40 characters without '|'",
                    t.name
                ));
            }
            if t.name == "all" {
                return Err("listening topic name \"all\" is reserved".into());
            }
        }
        for w in &self.webhooks {
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(format!(
                    "listening.webhooks url {:?} must be http(s)",
                    w.url
                ));
            }
            if w.secret.len() < 16 {
                return Err("listening.webhooks secret must be at least 16 characters".into());
            }
        }
        for m in &self.mastodon {
            if !(m.base_url.starts_with("http://") || m.base_url.starts_with("https://")) {
                return Err(format!(
                    "listening.mastodon base_url {:?} must be http(s)",
                    m.base_url
                ));
            }
        }
        for j in &self.jetstream {
            if !(j.url.starts_with("ws://") || j.url.starts_with("wss://")) {
                return Err(format!("listening.jetstream url {:?} must be ws(s)", j.url));
            }
        }
        if !(0.0..=1.0).contains(&self.encoder_below) {
            return Err(format!(
                "listening.encoder_below must be between 0 and 1, not {}",
                self.encoder_below
            ));
        }
        if !(0.0..=1.0).contains(&self.encoder_mix) {
            return Err(format!(
                "listening.encoder_mix must be between 0 and 1, not {}",
                self.encoder_mix
            ));
        }
        if self.encoder_batch == 0 || self.encoder_batch > 1024 {
            return Err("listening.encoder_batch must be 1 to 1024".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_and_defaults_validate() {
        assert!(ListeningConfig::default().validate().is_ok());
        let e = toml::from_str::<ListeningConfig>("max_batch_post = 3").unwrap_err();
        assert!(e.to_string().contains("max_batch_post"), "{e}");
        let e = toml::from_str::<ListeningConfig>("[detector]\nz = 3.0").unwrap_err();
        assert!(e.to_string().contains("z"), "{e}");
        let c: ListeningConfig = toml::from_str(
            "[[mastodon]]\nbase_url = \"https://mastodon.social\"\nhashtag = \"marquee\"\n\
             [[jetstream]]\nurl = \"wss://jetstream2.us-east.bsky.network/subscribe\"\nkeywords = [\"marquee\"]\n\
             [[webhooks]]\nurl = \"https://hooks.slack.com/services/T/B/X\"\nsecret = \"0123456789abcdef\"\n",
        )
        .unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(c.mastodon[0].poll_interval_s, 30);
        let mut bad = c.clone();
        bad.webhooks[0].secret = "short".into();
        assert!(bad.validate().is_err());
        let mut bad = c.clone();
        bad.jetstream[0].url = "https://x".into();
        assert!(bad.validate().is_err());
        let mut shown = c;
        shown.redact();
        assert_eq!(shown.webhooks[0].secret, "<redacted>");
    }
}
