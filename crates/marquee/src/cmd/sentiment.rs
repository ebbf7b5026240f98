//! `marquee train sentiment` and `marquee eval sentiment`.

#[derive(clap::Args)]
pub struct TrainSentimentArgs {}

#[derive(clap::Args)]
pub struct EvalSentimentArgs {}

pub fn run_train(_args: &TrainSentimentArgs) -> anyhow::Result<()> {
    anyhow::bail!("train sentiment is not built yet")
}

pub fn run_eval(_args: &EvalSentimentArgs) -> anyhow::Result<()> {
    anyhow::bail!("eval sentiment is not built yet")
}
