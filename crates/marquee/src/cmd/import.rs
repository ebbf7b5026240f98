//! `marquee import movielens DIR`.

use super::app;
use anyhow::Context;
use marquee_domain::{Clock, SystemClock};
use marquee_server::import::{import_movielens, ImportReport};
use marquee_server::Config;
use marquee_store::Store;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Arguments.
#[derive(clap::Args)]
pub struct MovielensArgs {
    /// The directory holding the MovieLens files.
    pub dir: PathBuf,
    /// How many malformed rows to list (all are counted).
    #[arg(long, default_value_t = 20)]
    pub show_errors: usize,
}

/// Imports with progress bars and returns the report.
pub async fn import_dir(
    store: &dyn Store,
    config: &Config,
    dir: &Path,
) -> anyhow::Result<ImportReport> {
    let pw = config.demo.viewer_password.clone();
    let hash =
        tokio::task::spawn_blocking(move || marquee_server::auth::hash_password_blocking(&pw))
            .await?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut bars = app::Bars::new(!std::io::stderr().is_terminal());
    let report = import_movielens(store, dir, &hash, SystemClock.now_ms(), &mut bars)
        .await
        .with_context(|| format!("importing {}", dir.display()))?;
    Ok(report)
}

/// Prints the summary table and the first malformed rows.
pub fn print_report(report: &ImportReport, show_errors: usize) {
    println!(
        "imported {} ({})",
        report.layout.unwrap_or("?"),
        if report.total().imported == 0 {
            "nothing new"
        } else {
            "new rows written"
        }
    );
    println!(
        "{:<10} {:>10} {:>10} {:>10}",
        "file", "imported", "unchanged", "rejected"
    );
    for (name, c) in [
        ("titles", report.titles),
        ("viewers", report.viewers),
        ("ratings", report.ratings),
        ("tags", report.tags),
        ("links", report.links),
    ] {
        println!(
            "{name:<10} {:>10} {:>10} {:>10}",
            c.imported, c.unchanged, c.rejected
        );
    }
    let t = report.total();
    println!(
        "{:<10} {:>10} {:>10} {:>10}",
        "total", t.imported, t.unchanged, t.rejected
    );
    if !report.errors.is_empty() {
        println!("{} malformed rows (skipped):", report.errors.len());
        for e in report.errors.iter().take(show_errors) {
            println!("  {e}");
        }
        if report.errors.len() > show_errors {
            println!("  … and {} more", report.errors.len() - show_errors);
        }
    }
}

/// Runs the command.
pub fn run(file: Option<&Path>, args: &MovielensArgs) -> anyhow::Result<()> {
    let config = app::load_config(file)?;
    app::init_logging(&config);
    app::block_on(async {
        let store = app::open_store(&config).await?;
        let started = std::time::Instant::now();
        let report = import_dir(store.as_ref(), &config, &args.dir).await?;
        print_report(&report, args.show_errors);
        println!("took {:.2} s", started.elapsed().as_secs_f64());
        Ok(())
    })
}
