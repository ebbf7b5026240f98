//! Tuning helper: val and shifted-val side by side, in-process.
//!
//! `cargo run --release -p marquee-sentiment --example shifted -- DIR [probe=CSV] [key=value ...]`
//!
//! Trains on all of TweetEval train and reports val; then, for each shifted
//! split of [`marquee_sentiment::shifted_splits`], trains on its train part
//! and reports its held-out part; with `probe=CSV` also reports the full
//! model on that CSV (`text`,`label` columns). Keys as in `examples/tune.rs`.

use std::time::Instant;

use marquee_sentiment::{
    parse_csv, parse_provenance, parse_tweeteval, shifted_splits, train, Label, Metrics, Model,
    TrainConfig,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn line(name: &str, m: &Metrics) {
    println!(
        "{name:24} MR {:.4} F1 {:.4} acc {:.4} rec {:.3}/{:.3}/{:.3} n={}",
        m.macro_recall, m.macro_f1, m.accuracy, m.recall[0], m.recall[1], m.recall[2], m.n
    );
}

fn eval(model: &Model, texts: &[&str], gold: &[Label]) -> Metrics {
    let pred: Vec<Label> = texts.iter().map(|t| model.predict_label(t)).collect();
    Metrics::compute(gold, &pred)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: shifted DIR [key=value ...]")?;
    let mut cfg = TrainConfig::default();
    let mut seed = 42u64;
    let mut probe: Option<String> = None;
    let mut out: Option<String> = None;
    for kv in args {
        let (k, v) = kv.split_once('=').ok_or("expected key=value")?;
        if k == "probe" {
            probe = Some(v.to_string());
            continue;
        }
        if k == "out" {
            out = Some(v.to_string());
            continue;
        }
        if k == "seed" {
            seed = v.parse()?;
            continue;
        }
        cfg.set(k, v)?;
    }
    let read = |s: &str| std::fs::read_to_string(format!("{dir}/{s}"));
    let (tt, tl) = parse_tweeteval(&read("train_text.txt")?, &read("train_labels.txt")?)?;
    let (vt, vl) = parse_tweeteval(&read("val_text.txt")?, &read("val_labels.txt")?)?;
    let src = parse_provenance(&read("train_provenance.tsv")?)?;
    let t0 = Instant::now();
    let model = train(&tt, &tl, &cfg, &mut StdRng::seed_from_u64(seed), |_, _| {})?;
    let train_s = t0.elapsed().as_secs_f64();
    let vt_ref: Vec<&str> = vt.iter().map(String::as_str).collect();
    let mut scores = Vec::new();
    let m = eval(&model, &vt_ref, &vl);
    line("val", &m);
    for s in shifted_splits(&src)? {
        let xt: Vec<&str> = s.train.iter().map(|&i| tt[i].as_str()).collect();
        let yt: Vec<Label> = s.train.iter().map(|&i| tl[i]).collect();
        let mdl = train(&xt, &yt, &cfg, &mut StdRng::seed_from_u64(seed), |_, _| {})?;
        let xh: Vec<&str> = s.held_out.iter().map(|&i| tt[i].as_str()).collect();
        let yh: Vec<Label> = s.held_out.iter().map(|&i| tl[i]).collect();
        let m = eval(&mdl, &xh, &yh);
        line(s.name, &m);
        scores.push(m.macro_recall);
        // What a neutral-bias offset would do (log-probability shift).
        let probs: Vec<[f32; 3]> = xh.iter().map(|t| mdl.predict(t).probs).collect();
        let mut row = String::new();
        for k in -4..=4 {
            let off = k as f32 * 0.15;
            let pred: Vec<Label> = probs
                .iter()
                .map(|p| {
                    let z = [p[0].ln(), p[1].ln() + off, p[2].ln()];
                    let mut b = 0;
                    for c in 1..3 {
                        if z[c] > z[b] {
                            b = c;
                        }
                    }
                    Label::ALL[b]
                })
                .collect();
            let mr = Metrics::compute(&yh, &pred).macro_recall;
            row.push_str(&format!(" {off:+.2}:{mr:.4}"));
        }
        println!("  neutral offset{row}");
    }
    if let Some(p) = probe {
        let (pt, pl) = parse_csv(&std::fs::read_to_string(p)?)?;
        let pt: Vec<&str> = pt.iter().map(String::as_str).collect();
        line("probe", &eval(&model, &pt, &pl));
    }
    // Throughput of the full model on val (one thread).
    let cpu = || -> Option<u64> {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        s.split_whitespace().next()?.parse().ok()
    };
    let (t0, c0) = (Instant::now(), cpu());
    let mut n = 0usize;
    while t0.elapsed().as_secs_f64() < 2.0 {
        for t in &vt {
            std::hint::black_box(model.predict(std::hint::black_box(t)));
        }
        n += vt.len();
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    let cpu_rate = match (c0, cpu()) {
        (Some(a), Some(b)) if b > a => n as f64 / ((b - a) as f64 / 1e9),
        _ => 0.0,
    };
    println!(
        "shifted mean {:.4}  train {train_s:.1}s  predict {rate:.0} texts/s wall, {cpu_rate:.0} per CPU-s",
        scores.iter().sum::<f64>() / scores.len().max(1) as f64
    );
    if let Some(o) = out {
        std::fs::write(&o, model.to_bytes())?;
        println!("wrote {o} sha256 {}", model.fingerprint());
    }
    Ok(())
}
