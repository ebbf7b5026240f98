//! TweetEval numbers of the accurate tier without the `marquee` binary:
//! embeds train and val once (cached as raw f32 files), trains the head,
//! scores val and the shifted splits, and times embedding on the current
//! thread count.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release -p marquee-encoder --example tweeteval -- \
//!     ../shared/data/sentiment/tweeteval /work/encoder-model [CACHE_PREFIX]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Instant;

use marquee_encoder::{train_head, Encoder, HeadConfig};
use marquee_sentiment::{parse_provenance, parse_tweeteval, shifted_splits, Label, Metrics};

fn embed(enc: &Encoder, texts: &[String], cache: Option<String>) -> Vec<Vec<f32>> {
    let dims = enc.dims();
    if let Some(c) = &cache {
        if let Ok(b) = std::fs::read(c) {
            if b.len() == 4 * dims * texts.len() {
                let f: Vec<f32> = b
                    .chunks_exact(4)
                    .map(|s| f32::from_le_bytes(s.try_into().unwrap()))
                    .collect();
                return f.chunks(dims).map(<[f32]>::to_vec).collect();
            }
        }
    }
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| (texts[i].len(), i));
    let mut out = vec![Vec::new(); texts.len()];
    let start = Instant::now();
    for (k, chunk) in order.chunks(256).enumerate() {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
        for (&i, v) in chunk.iter().zip(enc.embed_batch(&batch).unwrap()) {
            out[i] = v;
        }
        if k % 20 == 0 {
            let done = (k + 1) * 256;
            eprintln!(
                "  {done}/{} ({:.1} texts/s)",
                texts.len(),
                done.min(texts.len()) as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    if let Some(c) = cache {
        let b: Vec<u8> = out.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
        std::fs::write(c, b).unwrap();
    }
    out
}

fn score(name: &str, head: &marquee_encoder::Head, e: &[Vec<f32>], y: &[Label]) {
    let pred: Vec<Label> = e.iter().map(|v| head.predict(v).unwrap().label).collect();
    let m = Metrics::compute(y, &pred);
    println!(
        "{name:<28} macro-recall {:.4}  macro-F1 {:.4}  accuracy {:.4}  recall(neg/neu/pos) {:.3}/{:.3}/{:.3}  n={}",
        m.macro_recall, m.macro_f1, m.accuracy, m.recall[0], m.recall[1], m.recall[2], m.n
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = Path::new(&args[1]);
    let dir = Path::new(&args[2]);
    let cache = args.get(3).cloned();
    let read = |f: &str| std::fs::read_to_string(data.join(f)).unwrap();
    let (tt, tl) = parse_tweeteval(&read("train_text.txt"), &read("train_labels.txt")).unwrap();
    let (vt, vl) = parse_tweeteval(&read("val_text.txt"), &read("val_labels.txt")).unwrap();
    let enc = Encoder::load_with(|f| std::fs::read(dir.join(f))).unwrap();

    // Throughput: the first 1,000 val texts, fresh (not cached).
    let sample = &vt[..vt.len().min(1000)];
    let _ = enc.embed_batch(&sample[..64]).unwrap();
    let t0 = Instant::now();
    let _ = embed(&enc, sample, None);
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "throughput: {:.1} texts/s ({} texts, {} threads per RAYON_NUM_THREADS)",
        sample.len() as f64 / secs,
        sample.len(),
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into())
    );

    let ve = embed(&enc, &vt, cache.as_ref().map(|c| format!("{c}.val")));
    let te = embed(&enc, &tt, cache.as_ref().map(|c| format!("{c}.train")));
    let mut cfg = HeadConfig::default();
    for kv in args.iter().skip(4) {
        let (k, v) = kv.split_once('=').unwrap();
        match k {
            "epochs" => cfg.epochs = v.parse().unwrap(),
            "lr" => cfg.lr = v.parse().unwrap(),
            "l2" => cfg.l2 = v.parse().unwrap(),
            "balance" => cfg.balance = v.parse().unwrap(),
            "average" => cfg.average = v.parse().unwrap(),
            _ => panic!("unknown {k}"),
        }
    }
    println!("{cfg:?}");
    let head = train_head(&te, &tl, &cfg, 42, enc.fingerprint()).unwrap();
    score("val", &head, &ve, &vl);
    let sources = parse_provenance(&read("train_provenance.tsv")).unwrap();
    for split in shifted_splits(&sources).unwrap() {
        let e: Vec<&[f32]> = split.train.iter().map(|&i| te[i].as_slice()).collect();
        let y: Vec<Label> = split.train.iter().map(|&i| tl[i]).collect();
        let h = train_head(&e, &y, &cfg, 42, enc.fingerprint()).unwrap();
        let he: Vec<Vec<f32>> = split.held_out.iter().map(|&i| te[i].clone()).collect();
        let hy: Vec<Label> = split.held_out.iter().map(|&i| tl[i]).collect();
        score(
            &format!("shifted {} (train {})", split.name, e.len()),
            &h,
            &he,
            &hy,
        );
    }
}
