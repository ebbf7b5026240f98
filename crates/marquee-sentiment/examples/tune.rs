//! Hyper-parameter tuning helper: train on TweetEval train, report val.
//!
//! `cargo run --release -p marquee-sentiment --example tune -- DIR [key=value ...]`
//! Keys: seed epochs lr l2 balance average hash_bits char_min char_max
//! neg_window w_word w_bigram w_char w_lex w_style.

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
        let f = &mut cfg.features;
        match k {
            "seed" => seed = v.parse()?,
            "epochs" => cfg.epochs = v.parse()?,
            "lr" => cfg.lr = v.parse()?,
            "l2" => cfg.l2 = v.parse()?,
            "balance" => cfg.balance = v.parse()?,
            "average" => cfg.average = v.parse()?,
            "hash_bits" => f.hash_bits = v.parse()?,
            "char_min" => f.char_min = v.parse()?,
            "char_max" => f.char_max = v.parse()?,
            "neg_window" => f.neg_window = v.parse()?,
            "w_word" => f.w_word = v.parse()?,
            "w_bigram" => f.w_bigram = v.parse()?,
            "w_char" => f.w_char = v.parse()?,
            "w_lex" => f.w_lex = v.parse()?,
            "w_style" => f.w_style = v.parse()?,
            "w_trigram" => f.w_trigram = v.parse()?,
            "group_norm" => f.group_norm = v.parse()?,
            _ => return Err(format!("unknown key {k}").into()),
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
