//! `marquee train recs`: trains the served recommender on the event log (watch
//! history, thumbs, plays) and writes its model file into the data directory. A
//! running server picks the newer file up within `recs.reload_check_s`.

use indicatif::{ProgressBar, ProgressStyle};
use marquee_domain::{Clock, SystemClock};
use marquee_store::home::TrainingRun;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct TrainRecsArgs {
    /// Model specification (default: `recs.model` of the configuration).
    #[arg(long)]
    model: Option<String>,
}

pub fn run(config_file: Option<&Path>, args: &TrainRecsArgs) -> anyhow::Result<()> {
    let config = super::app::load_config(config_file)?;
    super::app::init_logging(&config);
    super::app::block_on(async {
        let store = super::app::open_store(&config).await?;
        let spec = args
            .model
            .clone()
            .unwrap_or_else(|| config.recs.model.clone());
        let bar = ProgressBar::new(1);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(format!("training {spec}"));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        let b2 = bar.clone();
        let progress: marquee_server::recs::TrainProgressFn =
            Arc::new(move |phase: &str, s: usize, t: usize| {
                b2.set_message(phase.to_string());
                b2.set_length(t.max(1) as u64);
                b2.set_position(s as u64);
            });
        let started_at = SystemClock.now_ms();
        let t0 = Instant::now();
        let result =
            marquee_server::recs::train(store.as_ref(), &spec, config.recs.seed, progress).await;
        let finished_at = SystemClock.now_ms();
        let run = match &result {
            Ok((_, r)) => TrainingRun {
                trigger: "cli".into(),
                started_at,
                finished_at,
                ..r.clone()
            },
            Err(e) => TrainingRun {
                id: 0,
                spec: spec.clone(),
                trigger: "cli".into(),
                started_at,
                finished_at,
                ok: false,
                users: 0,
                items: 0,
                interactions: 0,
                error: Some(e.to_string()),
            },
        };
        store.record_training_run(&run).await?;
        let (rec, _) = result?;
        bar.set_message("saving");
        let path = marquee_server::recs::model_path(&config.data_dir.join("recs"), &spec);
        marquee_server::recs::save_model(&path, &rec)?;
        bar.finish_and_clear();
        println!(
            "trained {spec} ({}) on {} interactions of {} profiles over {} titles in {:.1} s; wrote {}",
            rec.model.name(),
            run.interactions,
            run.users,
            run.items,
            t0.elapsed().as_secs_f64(),
            path.display()
        );
        store.close().await;
        Ok(())
    })
}
