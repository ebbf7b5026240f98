//! `marquee`: the one binary. A thin CLI over the library crates.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

mod cmd;

/// mimalloc rather than glibc's malloc: it hands freed memory back to the OS
/// (glibc keeps the start-up import's and training's peaks in its per-thread
/// arenas, which showed as resident memory of the serving process).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "marquee",
    version,
    about = "Self-hosted streaming customer experience platform"
)]
struct Cli {
    /// Config file (TOML). Default: ./marquee.toml when present.
    #[arg(long, global = true, env = "MARQUEE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server; on first start with an empty database, import the demo catalog.
    Serve(cmd::serve::ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Copy a SQLite installation into an empty PostgreSQL database and verify it.
    MigrateData(cmd::migrate_data::MigrateDataArgs),
    /// Import data.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Manage accounts.
    #[command(subcommand)]
    User(cmd::user::UserCommand),
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Offline evaluation of engines.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Train models.
    #[command(subcommand)]
    Train(TrainCommand),
    /// Send posts to a running server's ingest API.
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Demonstrations: a backlash against a running server, sample media.
    #[command(subcommand)]
    Demo(DemoCommand),
}

#[derive(Subcommand)]
enum IngestCommand {
    /// Ingest a JSON Lines file of posts (one object per line) through `POST /api/v1/posts`.
    Posts(cmd::ingest::IngestPostsArgs),
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Replay a simulated day of mentions with a price-rise backlash at a known minute.
    Backlash(cmd::demo::BacklashArgs),
    /// Make real clips (ffmpeg) with English and Spanish subtitles for the
    /// demo catalog's [Sample] series, on the configured database.
    Media(cmd::demo_media::DemoMediaArgs),
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import a MovieLens directory (ml-latest-small, ml-100k or ml-1m).
    Movielens(cmd::import::MovielensArgs),
    /// Import your own library: a folder in the Kodi/Jellyfin layout (.nfo,
    /// poster.jpg, fanart.jpg beside the media files) or a JSON Lines feed
    /// (docs/catalog-feed.md). Re-importing updates what changed.
    Catalog(cmd::catalog::CatalogArgs),
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Evaluate recommenders under protocol recs-holdout-v1.
    Recs(cmd::eval_recs::EvalRecsArgs),
    /// Evaluate the sentiment model under protocol sentiment-v1.
    Sentiment(cmd::sentiment::EvalSentimentArgs),
}

#[derive(Subcommand)]
enum TrainCommand {
    /// Train the sentiment model from TweetEval-format data.
    Sentiment(Box<cmd::sentiment::TrainSentimentArgs>),
    /// Train the served recommender on the event log and write its model file.
    Recs(cmd::train_recs::TrainRecsArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve(args) => cmd::serve::run(config, &args),
        Command::Migrate => cmd::app::block_on(cmd::app::migrate(config)),
        Command::MigrateData(args) => cmd::app::block_on(cmd::migrate_data::run(&args)),
        Command::Import(ImportCommand::Movielens(args)) => cmd::import::run(config, &args),
        Command::Import(ImportCommand::Catalog(args)) => cmd::catalog::run(config, &args),
        Command::User(c) => cmd::user::run(config, &c),
        Command::Config => cmd::app::print_config(config),
        Command::Eval(EvalCommand::Recs(args)) => cmd::eval_recs::run(&args),
        Command::Eval(EvalCommand::Sentiment(args)) => cmd::sentiment::run_eval(&args),
        Command::Train(TrainCommand::Sentiment(args)) => cmd::sentiment::run_train(config, &args),
        Command::Train(TrainCommand::Recs(args)) => cmd::train_recs::run(config, &args),
        Command::Ingest(IngestCommand::Posts(args)) => cmd::ingest::run(config, &args),
        Command::Demo(DemoCommand::Backlash(args)) => cmd::demo::run(config, &args),
        Command::Demo(DemoCommand::Media(args)) => cmd::demo_media::run(config, &args),
    }
}
