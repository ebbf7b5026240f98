//! `marquee`: the one binary. A thin CLI over the library crates.

use clap::{Parser, Subcommand};

mod cmd;

#[derive(Parser)]
#[command(name = "marquee", version, about = "Self-hosted streaming customer experience platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Offline evaluation of engines.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Train models.
    #[command(subcommand)]
    Train(TrainCommand),
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
    Sentiment(cmd::sentiment::TrainSentimentArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Eval(EvalCommand::Recs(args)) => cmd::eval_recs::run(&args),
        Command::Eval(EvalCommand::Sentiment(args)) => cmd::sentiment::run_eval(&args),
        Command::Train(TrainCommand::Sentiment(args)) => cmd::sentiment::run_train(&args),
    }
}
