//! Configuration: defaults, then a TOML file, then `MARQUEE_*` environment variables.
//!
//! Nested keys use a double underscore in the environment:
//! `MARQUEE_SERVER__ADDR=0.0.0.0:8080`, `MARQUEE_DATABASE__URL=sqlite://x.db`.
//! `MARQUEE_ADMIN_PASSWORD` is a short alias for `auth.admin_password`.
//! Unknown keys, in the file or the environment, are an error.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded database and other state live.
    pub data_dir: PathBuf,
    /// HTTP server.
    pub server: ServerConfig,
    /// Database.
    pub database: DatabaseConfig,
    /// Accounts and sessions.
    pub auth: AuthConfig,
    /// The demo catalog.
    pub demo: DemoConfig,
    /// Logging.
    pub log: LogConfig,
    /// The idea box.
    pub ideas: IdeasConfig,
    /// Outbound webhooks.
    pub webhooks: WebhooksConfig,
    /// Playback and continuity.
    pub playback: crate::playback::PlaybackConfig,
    /// Social listening: ingest, taxonomy, alerts, webhooks, connectors.
    pub listening: crate::listening::config::ListeningConfig,
    /// Support chat: auto-assignment and rate limits.
    pub support: crate::support::SupportConfig,
    /// Outgoing e-mail (transcripts); optional.
    pub smtp: crate::mail::SmtpConfig,
    /// The recommender and the personal home page.
    pub recs: crate::recs::config::RecsConfig,
    /// The library: the operator's own maturity ratings.
    pub catalog: CatalogConfig,
}

/// The library an operator brings (`marquee import catalog`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
    /// Draw a typographic poster for every movie and series without a
    /// picture (the server's poster worker).
    pub generate_posters: bool,
    /// The operator's own maturity ratings, youngest first, each with the
    /// youngest age it is meant for: `ratings = [["ALL", 0], ["12", 12],
    /// ["18", 18]]`. They are tried before the MPAA and TV ratings, and a
    /// kids profile sees those for ages up to 7.
    pub ratings: Vec<(String, u8)>,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            generate_posters: true,
            ratings: Vec::new(),
        }
    }
}

impl CatalogConfig {
    /// The ratings as the domain takes them.
    pub fn operator_system(&self) -> marquee_domain::maturity::OperatorSystem {
        marquee_domain::maturity::OperatorSystem {
            ratings: self.ratings.clone(),
        }
    }
}

/// The idea box.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IdeasConfig {
    /// Votes each account may have on open ideas at once (UserVoice style);
    /// unset means unlimited. Votes on ideas that close (launched, declined,
    /// duplicate) stop counting: they are refunded.
    pub vote_budget: Option<u32>,
    /// New ideas from viewers wait for staff approval before they are public.
    pub moderation_queue: bool,
    /// Ideas one account may post per hour (staff are exempt).
    pub ideas_per_hour: u32,
    /// Comments one account may post per hour (staff are exempt).
    pub comments_per_hour: u32,
}

/// Outbound webhooks, delivered from a durable outbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Attempts per delivery before it is marked failed.
    pub max_attempts: u32,
    /// The first retry waits this long; each further retry waits twice as long (capped at 6 h).
    pub backoff_base_s: u64,
    /// Per-attempt HTTP timeout.
    pub timeout_s: u64,
    /// How often the outbox is polled when nothing wakes it.
    pub poll_interval_ms: u64,
    /// Let webhooks, alert hooks and connectors reach loopback, private and
    /// link-local addresses. Off by default: an admin-supplied URL must not
    /// probe the server's own network.
    pub allow_private: bool,
}

impl Default for IdeasConfig {
    fn default() -> Self {
        IdeasConfig {
            vote_budget: None,
            moderation_queue: false,
            ideas_per_hour: 5,
            comments_per_hour: 30,
        }
    }
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            max_attempts: 8,
            backoff_base_s: 30,
            timeout_s: 10,
            poll_interval_ms: 2000,
            allow_private: false,
        }
    }
}

/// HTTP server settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Listen address.
    pub addr: String,
    /// The public URL, used in links and to decide on Secure cookies.
    pub public_url: Option<String>,
    /// Force Secure cookies on or off; by default they are Secure when
    /// `public_url` is https or the request came over TLS (X-Forwarded-Proto).
    pub secure_cookies: Option<bool>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Requests taking longer are answered 503.
    pub request_timeout_s: u64,
    /// A request's head (request line and headers) must arrive within this
    /// many seconds of the connection opening or of the previous response;
    /// this is also how long a kept-alive connection waits for its next
    /// request. Past it the connection is closed.
    pub header_read_timeout_s: u64,
    /// A connection on which no byte moved either way for this many seconds
    /// is closed (live streams send a keep-alive every 15 s; at least 16).
    pub idle_timeout_s: u64,
    /// Open connections at most; more are answered 503 and closed. Lowered
    /// at start to fit the process's open-file limit.
    pub max_connections: usize,
    /// Open connections from one client address at most (trusted proxies
    /// are exempt).
    pub max_connections_per_ip: usize,
    /// Addresses of reverse proxies in front of this server. Only requests
    /// from them may name the client (`X-Forwarded-For`, the rightmost
    /// address that is not a trusted proxy) and the scheme
    /// (`X-Forwarded-Proto`); from anyone else those headers are dropped.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Live event streams (SSE) one account may hold open at once.
    pub max_streams_per_account: usize,
    /// Live event streams (SSE) one client address may hold open at once.
    pub max_streams_per_ip: usize,
    /// Without `public_url`, the `Host` names that absolute links (share
    /// pages' canonical and Open Graph URLs) may be built from; any other
    /// `Host` gives links to `http://localhost`. Set `public_url` in
    /// production.
    pub allowed_hosts: Vec<String>,
    /// When set, every answer carries `Strict-Transport-Security` with this
    /// max-age (seconds). Only for a site served over https.
    pub hsts_max_age_s: Option<u64>,
    /// A bearer token for `/metrics`. Without it, only clients on loopback
    /// (Prometheus on the same host) may read the metrics.
    pub metrics_token: Option<String>,
}

/// Database settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH`. Default: `sqlite://{data_dir}/marquee.db`.
    pub url: Option<String>,
    /// Pool size.
    pub max_connections: u32,
    /// SQLite only: cap the database file at this many MiB. Past it writes
    /// are refused with 507 (`storage_full`), as on a full disk, while reads
    /// keep working; restart with a larger value (or none) to write again.
    pub max_size_mb: Option<u64>,
}

/// Accounts and sessions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The first admin's e-mail.
    pub admin_email: String,
    /// The first admin's password. When unset a one-time password is generated
    /// and printed, and must be changed at first log-in.
    pub admin_password: Option<String>,
    /// Session lifetime.
    pub session_ttl_hours: u64,
    /// Failed log-ins allowed per client address within the window (then it
    /// waits the window out), and per account before its back-off starts.
    pub login_max_failures: u32,
    /// The rate-limit window.
    pub login_window_s: u64,
    /// Past `login_max_failures` an account's log-ins back off
    /// exponentially (1 s, 2 s, 4 s … after the last failure) up to this
    /// many seconds; a client address past it waits out the window.
    pub login_backoff_max_s: u64,
    /// Sessions are kept in memory this long at most (every change made through
    /// this server takes effect at once; this bounds changes made by another
    /// process). 0: look every request's session up in the database.
    pub session_cache_s: u64,
    /// Anonymous writes (sign-up, log-in) one client address may make per
    /// minute, in bursts of as many; checked before any password hashing.
    pub anonymous_per_minute: u32,
    /// Password hashes (argon2id, 19 MiB each) computed at once; more wait.
    pub max_concurrent_hashes: usize,
}

/// Demo catalog settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Import the demo catalog on the first start with an empty database.
    pub import_on_first_start: bool,
    /// Where the MovieLens files are.
    pub dir: PathBuf,
    /// The password of every demo viewer account (demo data, not a secret).
    pub viewer_password: String,
    /// On the first start, when ffmpeg is installed, also make real clips
    /// for the short sample series (`marquee demo media` makes them all).
    pub media: bool,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info,marquee_server=debug`. `RUST_LOG` overrides it.
    pub filter: String,
    /// JSON log lines instead of text.
    pub json: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("marquee-data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            auth: AuthConfig::default(),
            demo: DemoConfig::default(),
            log: LogConfig::default(),
            ideas: IdeasConfig::default(),
            webhooks: WebhooksConfig::default(),
            playback: crate::playback::PlaybackConfig::default(),
            listening: Default::default(),
            support: Default::default(),
            smtp: Default::default(),
            recs: Default::default(),
            catalog: Default::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: "127.0.0.1:8080".into(),
            public_url: None,
            secure_cookies: None,
            max_body_bytes: 1024 * 1024,
            request_timeout_s: 30,
            header_read_timeout_s: 10,
            idle_timeout_s: 60,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            trusted_proxies: Vec::new(),
            max_streams_per_account: 16,
            max_streams_per_ip: 64,
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()],
            hsts_max_age_s: None,
            metrics_token: None,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            max_connections: 8,
            max_size_mb: None,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            admin_email: "admin@marquee.local".into(),
            admin_password: None,
            session_ttl_hours: 24 * 14,
            login_max_failures: 5,
            login_window_s: 15 * 60,
            login_backoff_max_s: 60,
            session_cache_s: 30,
            anonymous_per_minute: 20,
            max_concurrent_hashes: 4,
        }
    }
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            import_on_first_start: true,
            dir: PathBuf::from("data/demo/ml-latest-small"),
            viewer_password: "marquee-demo".into(),
            media: true,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: "info".into(),
            json: false,
        }
    }
}

/// A configuration error, naming the key where it can.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Loads defaults, then `file` (when given, it must exist; otherwise
    /// `./marquee.toml` when present), then the `MARQUEE_*` environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(f) => {
                if !f.exists() {
                    return Err(ConfigError(format!(
                        "config file {} not found",
                        f.display()
                    )));
                }
                fig = fig.merge(Toml::file(f));
            }
            None => {
                let f = Path::new("marquee.toml");
                if f.exists() {
                    fig = fig.merge(Toml::file(f));
                }
            }
        }
        fig = fig
            .merge(
                Env::prefixed("MARQUEE_")
                    // Variables read by CLI commands themselves, not config keys.
                    .ignore(&[
                        "ADMIN_PASSWORD",
                        "CONFIG",
                        "NEW_USER_PASSWORD",
                        "INGEST_TOKEN",
                        "SENTIMENT_DATA",
                        // The test suite's PostgreSQL server, encoder
                        // checkpoint and axe-core (README).
                        "TEST_POSTGRES",
                        "TEST_ENCODER_DIR",
                        "TEST_AXE",
                        "TEST_AXE_DIR",
                    ])
                    .split("__"),
            )
            .merge(
                Env::raw()
                    .only(&["MARQUEE_ADMIN_PASSWORD"])
                    .map(|_| "auth.admin_password".into()),
            );
        let cfg: Config = fig.extract().map_err(|e| ConfigError(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses a config file's text over the defaults (no environment), then
    /// validates it: what [`Config::load`] does with the file, without I/O.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| ConfigError(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Err(e) = self.catalog.operator_system().check() {
            return Err(ConfigError(format!("catalog.{e}")));
        }
        if self.server.addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError(format!(
                "server.addr {:?} is not an address like 127.0.0.1:8080",
                self.server.addr
            )));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(ConfigError(
                "server.max_body_bytes must be at least 1024".into(),
            ));
        }
        if self.server.header_read_timeout_s == 0 || self.server.request_timeout_s == 0 {
            return Err(ConfigError(
                "server.header_read_timeout_s and server.request_timeout_s must be positive".into(),
            ));
        }
        if self.server.idle_timeout_s < 16 {
            return Err(ConfigError(
                "server.idle_timeout_s must be at least 16 (live streams send a keep-alive every 15 s)"
                    .into(),
            ));
        }
        if self.server.max_connections == 0 || self.server.max_connections_per_ip == 0 {
            return Err(ConfigError(
                "server.max_connections and server.max_connections_per_ip must be positive".into(),
            ));
        }
        if self.server.max_streams_per_account == 0 || self.server.max_streams_per_ip == 0 {
            return Err(ConfigError(
                "server.max_streams_per_account and server.max_streams_per_ip must be positive"
                    .into(),
            ));
        }
        if self.auth.anonymous_per_minute == 0 || self.auth.max_concurrent_hashes == 0 {
            return Err(ConfigError(
                "auth.anonymous_per_minute and auth.max_concurrent_hashes must be positive".into(),
            ));
        }
        if self.auth.session_ttl_hours == 0 {
            return Err(ConfigError(
                "auth.session_ttl_hours must be positive".into(),
            ));
        }
        if self.webhooks.max_attempts == 0 || self.webhooks.timeout_s == 0 {
            return Err(ConfigError(
                "webhooks.max_attempts and webhooks.timeout_s must be positive".into(),
            ));
        }
        self.playback.validate().map_err(ConfigError)?;
        if let Some(url) = &self.database.url {
            if !url.starts_with("sqlite:") && !url.starts_with("postgres") {
                return Err(ConfigError(format!(
                    "database.url {url:?} must start with sqlite:// or postgres://"
                )));
            }
        }
        if let Some(mb) = self.database.max_size_mb {
            if mb == 0 {
                return Err(ConfigError("database.max_size_mb must be positive".into()));
            }
            if !self.database_url().starts_with("sqlite:") {
                return Err(ConfigError(
                    "database.max_size_mb applies to SQLite only".into(),
                ));
            }
        }
        self.listening.validate().map_err(ConfigError)?;
        self.support.validate().map_err(ConfigError)?;
        Ok(())
    }

    /// How to open the store: the pool size and the size cap in bytes.
    pub fn connect_options(&self) -> marquee_store::ConnectOptions {
        marquee_store::ConnectOptions {
            max_connections: self.database.max_connections,
            max_size_bytes: self
                .database
                .max_size_mb
                .map(|mb| mb.saturating_mul(1024 * 1024)),
        }
    }

    /// The effective database URL.
    pub fn database_url(&self) -> String {
        self.database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("marquee.db").display()))
    }

    /// [`database_url`](Self::database_url) with its password redacted, for
    /// messages.
    pub fn database_url_redacted(&self) -> String {
        redact_url_password(&self.database_url())
    }

    /// The configuration as TOML with secrets redacted.
    pub fn redacted_toml(&self) -> Result<String, ConfigError> {
        let mut c = self.clone();
        if c.auth.admin_password.is_some() {
            c.auth.admin_password = Some("<redacted>".into());
        }
        if let Some(url) = &c.database.url {
            c.database.url = Some(redact_url_password(url));
        }
        c.listening.redact();
        c.smtp.redact();
        toml::to_string_pretty(&c).map_err(|e| ConfigError(e.to_string()))
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:<redacted>@host/db`.
fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error.
mod tests {
    use super::*;

    #[test]
    fn layering_file_then_env_and_unknown_keys() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "marquee.toml",
                "data_dir = \"/tmp/x\"\n[server]\naddr = \"127.0.0.1:9000\"\n",
            )?;
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.server.addr, "127.0.0.1:9000");
            assert_eq!(c.database_url(), "sqlite:///tmp/x/marquee.db");
            jail.set_env("MARQUEE_SERVER__ADDR", "127.0.0.1:9001");
            jail.set_env("MARQUEE_ADMIN_PASSWORD", "hunter22hunter");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.server.addr, "127.0.0.1:9001");
            assert_eq!(c.auth.admin_password.as_deref(), Some("hunter22hunter"));
            let shown = c.redacted_toml().map_err(|e| e.to_string())?;
            assert!(!shown.contains("hunter22hunter"));
            assert!(shown.contains("<redacted>"));
            // CLI-level variables are not config keys.
            jail.set_env("MARQUEE_INGEST_TOKEN", "tok");
            assert!(Config::load(None).is_ok());
            jail.set_env("MARQUEE_SERVR__ADDR", "x");
            let err = Config::load(None).map_err(|e| e.to_string()).unwrap_err();
            assert!(err.contains("servr"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_file_key_and_bad_addr() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("marquee.toml", "[server]\nadress = \"x\"\n")?;
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("adress"), "{err}");
            jail.create_file("marquee.toml", "[server]\naddr = \"nowhere\"\n")?;
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("server.addr"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn url_passwords_are_redacted() {
        assert_eq!(
            redact_url_password("postgres://u:pw@h/db"),
            "postgres://u:<redacted>@h/db"
        );
        assert_eq!(redact_url_password("sqlite://a.db"), "sqlite://a.db");
    }
}
