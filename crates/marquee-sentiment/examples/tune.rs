//! Hyper-parameter tuning helper: train on TweetEval train, report val.
//!
//! `cargo run --release -p marquee-sentiment --example tune -- DIR [key=value ...]`
//! Keys: seed, and any key of `TrainConfig::set`. Val only: for choices, use
//! `examples/shifted.rs`, which reports the shifted splits too.

use marquee_sentiment::{parse_tweeteval, train, Label, Metrics, TrainConfig};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: tune DIR [key=value ...]")?;
    let mut cfg = TrainConfig::default();
    let mut seed = 42u64;
    for kv in args {
        let (k, v) = kv.split_once('=').ok_or("expected key=value")?;
        match k {
            "seed" => seed = v.parse()?,
            _ => cfg.set(k, v)?,
        }
    }
    let read = |s: &str| std::fs::read_to_string(format!("{dir}/{s}"));
    let (tt, tl) = parse_tweeteval(&read("train_text.txt")?, &read("train_labels.txt")?)?;
    let (vt, vl) = parse_tweeteval(&read("val_text.txt")?, &read("val_labels.txt")?)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let model = train(&tt, &tl, &cfg, &mut rng, |_, _| {})?;
    let pred: Vec<Label> = vt.iter().map(|t| model.predict_label(t)).collect();
    let m = Metrics::compute(&vl, &pred);
    println!(
        "MR {:.4} F1 {:.4} acc {:.4} rec {:.3}/{:.3}/{:.3}",
        m.macro_recall, m.macro_f1, m.accuracy, m.recall[0], m.recall[1], m.recall[2]
    );
    Ok(())
}
