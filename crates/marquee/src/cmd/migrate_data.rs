//! `marquee migrate-data`: move an installation from SQLite to PostgreSQL.

use crate::cmd::app::Bars;
use anyhow::{bail, Context};
use clap::Args;
use marquee_store::postgres::PgStore;
use marquee_store::sqlite::SqliteStore;
use marquee_store::transfer::copy_sqlite_to_postgres;

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
    let mut bar = Bars::new(args.quiet);
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
