//! `marquee eval recs`: protocol recs-holdout-v1.

#[derive(clap::Args)]
pub struct EvalRecsArgs {}

pub fn run(_args: &EvalRecsArgs) -> anyhow::Result<()> {
    anyhow::bail!("eval recs is not built yet")
}
