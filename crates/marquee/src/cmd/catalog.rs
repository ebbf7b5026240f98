//! `marquee import catalog PATH`: a library folder (Kodi/Jellyfin layout)
//! or a JSON Lines feed (`docs/catalog-feed.md`), then posters for the
//! titles that still have none.

use super::app;
use anyhow::Context;
use marquee_domain::{Clock, SystemClock};
use marquee_server::library::{art, Importer, LibraryReport};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Arguments.
#[derive(clap::Args)]
pub struct CatalogArgs {
    /// A library folder, or a `.jsonl` feed file.
    pub path: PathBuf,
    /// How many rejections to list (all are counted).
    #[arg(long, default_value_t = 50)]
    pub show_rejected: usize,
    /// Do not generate posters for titles without a picture.
    #[arg(long)]
    pub no_posters: bool,
    /// Do not read the media files with ffprobe (the server does it later).
    #[arg(long)]
    pub no_probe: bool,
}

/// Prints what the import did.
pub fn print_report(r: &LibraryReport, posters: u64, show: usize) {
    println!(
        "imported {} ({}): {} added, {} updated, {} unchanged, {} rejected",
        r.kind,
        if r.added + r.updated == 0 {
            "nothing changed"
        } else {
            "changes written"
        },
        r.added,
        r.updated,
        r.unchanged,
        r.rejected.len()
    );
    println!(
        "artwork: {} renditions written, {} pictures unchanged, {posters} posters generated",
        r.artwork_written, r.artwork_unchanged
    );
    if !r.rejected.is_empty() {
        println!("rejected (skipped, the rest was imported):");
        for e in r.rejected.iter().take(show) {
            println!("  {e}");
        }
        if r.rejected.len() > show {
            println!("  … and {} more", r.rejected.len() - show);
        }
    }
}

/// Reads the media files with ffprobe (duration, codecs, tracks) and lists
/// those it cannot read: corrupt or truncated files offer nothing to play.
async fn probe_media(
    store: &dyn marquee_store::Store,
    config: &marquee_server::Config,
    bars: &mut app::Bars,
    show: usize,
) -> anyhow::Result<()> {
    use marquee_server::media::{probe, tools};
    let ffprobe = &config.playback.ffprobe;
    if let tools::Tool::Missing { reason } = tools::detect(ffprobe).await {
        println!("media files not read: {reason}; the server reads them once it has ffprobe");
        return Ok(());
    }
    let dir = config.playback.media_dir_in(&config.data_dir);
    let r = probe::probe_pending(store, &dir, ffprobe, SystemClock.now_ms(), bars).await?;
    println!(
        "media files: {} read, {} unchanged, {} missing, {} unreadable, {} runtimes from the media",
        r.probed,
        r.unchanged,
        r.missing,
        r.failed.len(),
        r.runtimes_set
    );
    if !r.failed.is_empty() {
        println!("unreadable media (nothing is offered to play for these):");
        for (file, why) in r.failed.iter().take(show) {
            println!("  {file}: {why}");
        }
        if r.failed.len() > show {
            println!("  … and {} more", r.failed.len() - show);
        }
    }
    Ok(())
}

/// Runs the command.
pub fn run(file: Option<&Path>, args: &CatalogArgs) -> anyhow::Result<()> {
    let config = app::load_config(file)?;
    app::init_logging(&config);
    app::block_on(async {
        let store = app::open_store(&config).await?;
        let started = std::time::Instant::now();
        let importer = Importer {
            store: store.as_ref(),
            art_dir: art::dir(&config.data_dir),
            ratings: config.catalog.operator_system(),
            now: SystemClock.now_ms(),
        };
        let mut bars = app::Bars::new(!std::io::stderr().is_terminal());
        let report = importer
            .import_path(&args.path, &mut bars)
            .await
            .with_context(|| format!("importing {}", args.path.display()))?;
        let posters = if args.no_posters {
            0
        } else {
            art::generate_posters(store.as_ref(), &importer.art_dir, importer.now, &mut bars)
                .await?
        };
        print_report(&report, posters, args.show_rejected);
        if !args.no_probe {
            probe_media(store.as_ref(), &config, &mut bars, args.show_rejected).await?;
        }
        println!("took {:.2} s", started.elapsed().as_secs_f64());
        store.close().await;
        Ok(())
    })
}
