//! `marquee migrate-data`: move an installation from SQLite to PostgreSQL.

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use marquee_store::postgres::PgStore;
use marquee_store::sqlite::SqliteStore;
use marquee_store::transfer::{copy_sqlite_to_postgres, CopyProgress};

/// Arguments of `marquee migrate-data`.
#[derive(Args, Debug)]
pub struct MigrateDataArgs {
    /// The source database, `sqlite://PATH` (it may be serving meanwhile).
    #[arg(long)]
    pub from: String,
    /// The target database, `postgres://…`: it must exist and be empty.
    #[arg(long)]
    pub to: String,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

struct Bar {
    bar: Option<ProgressBar>,
    hidden: bool,
}

impl CopyProgress for Bar {
    fn table(&mut self, name: &str, rows: u64) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
        let bar = if self.hidden {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(rows)
        };
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:>24} [{bar:40.cyan/blue}] {pos:>8}/{len:8} {per_sec:>12} {elapsed}",
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

    fn done(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
}

/// Runs the copy and prints the verification table.
pub async fn run(args: &MigrateDataArgs) -> anyhow::Result<()> {
    if !args.from.starts_with("sqlite:") {
        bail!("--from must be a sqlite:// URL, got {:?}", args.from);
    }
    if !(args.to.starts_with("postgres:") || args.to.starts_with("postgresql:")) {
        bail!("--to must be a postgres:// URL, got {:?}", args.to);
    }
    let src = SqliteStore::open(&args.from, 2)
        .await
        .with_context(|| format!("opening {}", args.from))?;
    let dst = PgStore::open(&args.to, 2)
        .await
        .context("opening the PostgreSQL target")?;
    let mut bar = Bar {
        bar: None,
        hidden: args.quiet,
    };
    let reports = copy_sqlite_to_postgres(&src, &dst, &mut bar)
        .await
        .context("copying (nothing was committed to the target)")?;
    println!(
        "{:<24} {:>10} {:>10}  sha256 (source = target)",
        "table", "source", "target"
    );
    let mut rows = 0;
    for r in &reports {
        rows += r.target_rows;
        println!(
            "{:<24} {:>10} {:>10}  {}",
            r.table,
            r.source_rows,
            r.target_rows,
            &r.target_checksum[..16]
        );
    }
    println!(
        "verified: {} tables, {rows} rows, counts and checksums equal",
        reports.len()
    );
    Ok(())
}
