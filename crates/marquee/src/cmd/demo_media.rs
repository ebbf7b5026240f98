//! `marquee demo media`: real, short clips for the demo catalog's
//! "[Sample]" series, made with ffmpeg on the configured database and media
//! directory (offline, like `marquee import catalog`), so that the sample
//! episodes play for real with English and Spanish subtitles. See
//! `marquee_server::demo_media`.

use super::app;
use marquee_domain::SystemClock;
use marquee_server::demo_media::{self, DemoMediaReport, Options};
use marquee_server::AppState;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

/// Arguments of `marquee demo media`.
#[derive(clap::Args)]
pub struct DemoMediaArgs {
    /// Only this series, e.g. "Tiny Planet Shorts" (default: all three).
    #[arg(long)]
    pub series: Option<String>,
    /// Every clip this many seconds (default: 1 to 3 minutes per episode).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub clip_s: Option<u32>,
    /// Clips made at once (default 0: one per CPU core).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
}

/// Prints what a run did.
pub fn print_report(r: &DemoMediaReport, media_dir: &Path) {
    println!("demo media in {}: {}", media_dir.display(), r.summary());
    for m in &r.made {
        println!("  made     {} ({} s): {}", m.episode, m.duration_s, m.path);
    }
    for f in &r.failed {
        println!("  failed   {}: {}", f.episode, f.error);
    }
    if !r.drawtext && !r.made.is_empty() {
        println!("  (this ffmpeg cannot draw text: the clips show no names)");
    }
    if r.catalog_updated > 0 {
        println!(
            "  {} episodes now play their clip, with its real runtime",
            r.catalog_updated
        );
    }
}

/// Runs the command.
pub fn run(file: Option<&Path>, args: &DemoMediaArgs) -> anyhow::Result<()> {
    let config = app::load_config(file)?;
    config.validate()?;
    app::init_logging(&config);
    app::block_on(async {
        let store = app::open_store(&config).await?;
        let state = AppState::new(store.clone(), config, Arc::new(SystemClock))?;
        let started = std::time::Instant::now();
        let mut bars = app::Bars::new(!std::io::stderr().is_terminal());
        let opts = Options {
            clip_s: args.clip_s,
            series: args.series.clone(),
            jobs: args.jobs,
        };
        let report = demo_media::generate(&state, &opts, &mut bars).await;
        store.close().await;
        let report = report?;
        print_report(&report, &marquee_server::playback::media_dir(&state));
        println!("took {:.1} s", started.elapsed().as_secs_f64());
        if !report.failed.is_empty() {
            anyhow::bail!(
                "{} of {} clips could not be made",
                report.failed.len(),
                report.failed.len() + report.made.len() + report.skipped.len()
            );
        }
        Ok(())
    })
}
