//! What every server-side command shares: config, logging, the store, progress bars.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use marquee_server::Config;
use marquee_store::Store;
use std::path::Path;
use std::sync::Arc;

/// Runs a future on a fresh multi-threaded runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic_free_exit(&format!("cannot start the async runtime: {e}")),
    }
}

fn panic_free_exit(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

/// Loads the layered config.
pub fn load_config(file: Option<&Path>) -> anyhow::Result<Config> {
    Ok(Config::load(file)?)
}

/// Installs the tracing subscriber (RUST_LOG overrides the config filter).
pub fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Opens the store and brings its schema up to date.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url();
    if url.starts_with("sqlite:") && config.database.url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    }
    let store = marquee_store::connect_with(&url, &config.connect_options())
        .await
        .with_context(|| format!("opening {url}"))?;
    store.migrate().await.context("running migrations")?;
    Ok(store)
}

/// `marquee migrate`.
pub async fn migrate(file: Option<&Path>) -> anyhow::Result<()> {
    let config = load_config(file)?;
    init_logging(&config);
    open_store(&config).await?;
    println!("database at {} is up to date", config.database_url());
    Ok(())
}

/// `marquee config`.
pub fn print_config(file: Option<&Path>) -> anyhow::Result<()> {
    let config = load_config(file)?;
    print!("{}", config.redacted_toml()?);
    Ok(())
}

/// An indicatif bar per import phase.
pub struct Bars {
    bar: Option<ProgressBar>,
    hidden: bool,
}

impl Bars {
    /// Bars on stderr; hidden when `hidden` (e.g. not a terminal in tests).
    pub fn new(hidden: bool) -> Self {
        Bars { bar: None, hidden }
    }
}

impl marquee_server::import::Progress for Bars {
    fn phase(&mut self, name: &str, total: u64) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
        let bar = if self.hidden {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total)
        };
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:>10} [{bar:40.cyan/blue}] {pos:>7}/{len:7} {per_sec:>12} {elapsed}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(name.to_string());
        self.bar = Some(bar);
    }

    fn advance(&mut self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}

/// The same bars for `migrate-data`: one per table.
impl marquee_store::transfer::CopyProgress for Bars {
    fn table(&mut self, name: &str, rows: u64) {
        marquee_server::import::Progress::phase(self, name, rows);
    }

    fn advance(&mut self, n: u64) {
        marquee_server::import::Progress::advance(self, n);
    }

    fn done(&mut self) {
        marquee_server::import::Progress::finish(self);
    }
}
