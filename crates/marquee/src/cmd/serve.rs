//! `marquee serve`.

use super::demo_media as demo_media_cmd;
use super::{app, import};
use anyhow::Context;
use marquee_domain::{Clock, SystemClock};
use marquee_server::{ensure_admin, AdminBootstrap, AppState, Config};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Arguments; each overrides the config.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Listen address, e.g. 127.0.0.1:8080.
    #[arg(long)]
    pub addr: Option<String>,
    /// Password of the first admin (else MARQUEE_ADMIN_PASSWORD, else a printed one-time password).
    #[arg(long)]
    pub admin_password: Option<String>,
    /// Do not import the demo catalog on first start.
    #[arg(long)]
    pub no_demo: bool,
    /// Do not make real clips for the short sample series on first start
    /// (`[demo] media = false`).
    #[arg(long)]
    pub no_demo_media: bool,
    /// Data directory for the embedded database.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

const DEMO_DONE: &str = "demo_catalog_imported";

/// The demo directory: as configured, else the copy in the source tree.
fn demo_dir(config: &Config) -> PathBuf {
    if config.demo.dir.exists() {
        return config.demo.dir.clone();
    }
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/demo/ml-latest-small"
    ))
}

/// Runs the server.
pub fn run(file: Option<&Path>, args: &ServeArgs) -> anyhow::Result<()> {
    let mut config = app::load_config(file)?;
    if let Some(a) = &args.addr {
        config.server.addr = a.clone();
    }
    if let Some(p) = &args.admin_password {
        config.auth.admin_password = Some(p.clone());
    }
    if let Some(d) = &args.data_dir {
        config.data_dir = d.clone();
    }
    if args.no_demo {
        config.demo.import_on_first_start = false;
    }
    if args.no_demo_media {
        config.demo.media = false;
    }
    config.validate()?;
    app::init_logging(&config);
    app::block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Open sockets are files: the common soft limit of 1,024 is far below
    // what the kernel allows this process.
    match marquee_server::conn::raise_nofile_limit() {
        Ok(n) => tracing::info!(open_files = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
    let store = app::open_store(&config).await?;
    let first_start =
        store.count_titles(None).await? == 0 && store.meta_get(DEMO_DONE).await?.is_none();
    let demo_now = config.demo.import_on_first_start && first_start;
    if demo_now {
        let dir = demo_dir(&config);
        eprintln!(
            "First start: importing the demo catalog (MovieLens ml-latest-small) from {}",
            dir.display()
        );
        let report = import::import_dir(store.as_ref(), &config, &dir).await?;
        import::print_report(&report, 5);
        store.meta_set(DEMO_DONE, "ml-latest-small").await?;
    }
    if store.meta_get(DEMO_DONE).await?.is_some() {
        // The labelled sample series (idempotent: also reaches older demo installs).
        marquee_server::import::import_sample_series(store.as_ref(), SystemClock.now_ms()).await?;
    }
    let state = AppState::new(store.clone(), config.clone(), Arc::new(SystemClock))?;
    let admin = ensure_admin(&state).await?;
    if demo_now && config.demo.media {
        first_start_media(&state).await;
    }
    let listener = tokio::net::TcpListener::bind(&config.server.addr)
        .await
        .with_context(|| format!("binding {}", config.server.addr))?;
    let addr = listener.local_addr()?;
    println!();
    println!("Marquee is running at http://{addr}/");
    match admin {
        AdminBootstrap::CreatedOneTime { email, password } => {
            println!("  admin login:  {email} / {password}  (one-time password: you will be asked to change it)");
        }
        AdminBootstrap::Created { email } => {
            println!("  admin login:  {email} / the password you set");
        }
        AdminBootstrap::Existing => {
            println!("  admin login:  as before ({})", config.auth.admin_email)
        }
    }
    if store.credentials("viewer1@demo.marquee").await?.is_some() {
        println!(
            "  demo viewer:  viewer1@demo.marquee / {}  (any of viewer1..viewer610)",
            config.demo.viewer_password
        );
    }
    println!("  API:          http://{addr}/api/v1/openapi.json   metrics: http://{addr}/metrics");
    tracing::info!(%addr, started_at = SystemClock.now_ms(), "listening");
    // Every background worker (fan-out, outboxes, perks, listening, the
    // recommender, the playback writer) runs until shutdown.
    marquee_server::launch(listener, state, shutdown_signal()).await?;
    tracing::info!("shut down");
    Ok(())
}

/// On the first start, when ffmpeg is installed, real clips for the short
/// sample series: three one-minute clips take about 15 s on two cores, all
/// fifteen sample episodes about two minutes, so `marquee demo media` makes
/// the rest. Never keeps the server from starting.
async fn first_start_media(state: &AppState) {
    use marquee_server::demo_media::{self, Options, FIRST_SERVE_SERIES};
    if let Err(e) = demo_media::tools(&state.config.playback).await {
        tracing::info!(
            "the sample episodes play in the simulated player: real playback needs ffmpeg ({e}), then `marquee demo media`"
        );
        return;
    }
    eprintln!("First start: making real clips for {FIRST_SERVE_SERIES} [Sample] with ffmpeg");
    let opts = Options {
        series: Some(FIRST_SERVE_SERIES.into()),
        ..Options::default()
    };
    let mut bars = app::Bars::new(!std::io::stderr().is_terminal());
    match demo_media::generate(state, &opts, &mut bars).await {
        Ok(report) => {
            demo_media_cmd::print_report(&report, &marquee_server::playback::media_dir(state));
            println!(
                "  `marquee demo media` makes clips for the other sample series too (about 2 minutes)"
            );
        }
        Err(e) => tracing::warn!(error = %e, "the sample clips were not made"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
