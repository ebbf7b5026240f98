//! `marquee train sentiment` and `marquee eval sentiment` (protocol sentiment-v1).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use marquee_sentiment::{
    parse_csv, parse_provenance, parse_tweeteval, shifted_splits, train, FeatureConfig, Label,
    Metrics, Model, TrainConfig,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sha2::{Digest, Sha256};

const DEFAULT_DATA: &str = "../shared/data/sentiment/tweeteval";
const DEFAULT_MODEL_PATH: &str = "crates/marquee-sentiment/model/sentiment-v2.bin";

#[derive(clap::Args)]
pub struct TrainSentimentArgs {
    /// TweetEval-format directory (train_text.txt, train_labels.txt; val_* are
    /// used only to report scores).
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// RNG seed (training order). Same seed and data give the same file, bit for bit.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to write the model.
    #[arg(long, default_value = DEFAULT_MODEL_PATH)]
    out: PathBuf,
    /// Do not write the model, only report val scores (for tuning).
    #[arg(long)]
    dry_run: bool,
    /// Also report shifted validation: for each split of whole SemEval
    /// collection years (from `train_provenance.tsv` in --data), train on
    /// the other years and score the held-out ones. Printed beside val.
    #[arg(long)]
    shifted: bool,
    /// Also score the trained model on this CSV (`text`, `label` columns),
    /// e.g. bench/sentiment/probe/handwritten-reviews.csv.
    #[arg(long)]
    probe: Option<PathBuf>,
    /// Hyper-parameter overrides (defaults are the shipped choice).
    #[arg(long)]
    epochs: Option<u32>,
    #[arg(long)]
    lr: Option<f32>,
    #[arg(long)]
    l2: Option<f32>,
    #[arg(long)]
    balance: Option<f32>,
    #[arg(long)]
    average: Option<bool>,
    #[arg(long)]
    hash_bits: Option<u8>,
    #[arg(long)]
    char_min: Option<u8>,
    #[arg(long)]
    char_max: Option<u8>,
    #[arg(long)]
    neg_window: Option<u8>,
    #[arg(long)]
    w_word: Option<f32>,
    #[arg(long)]
    w_bigram: Option<f32>,
    #[arg(long)]
    w_char: Option<f32>,
    #[arg(long)]
    w_lex: Option<f32>,
    #[arg(long)]
    w_style: Option<f32>,
    #[arg(long)]
    w_trigram: Option<f32>,
    #[arg(long)]
    group_norm: Option<bool>,
    #[arg(long)]
    ext_lex: Option<bool>,
    #[arg(long)]
    contrast: Option<bool>,
    #[arg(long)]
    w_doc: Option<f32>,
    #[arg(long, allow_hyphen_values = true)]
    neutral_offset: Option<f32>,
}

impl TrainSentimentArgs {
    fn config(&self) -> TrainConfig {
        let d = TrainConfig::default();
        let f = FeatureConfig::default();
        TrainConfig {
            features: FeatureConfig {
                hash_bits: self.hash_bits.unwrap_or(f.hash_bits),
                char_min: self.char_min.unwrap_or(f.char_min),
                char_max: self.char_max.unwrap_or(f.char_max),
                neg_window: self.neg_window.unwrap_or(f.neg_window),
                w_word: self.w_word.unwrap_or(f.w_word),
                w_bigram: self.w_bigram.unwrap_or(f.w_bigram),
                w_char: self.w_char.unwrap_or(f.w_char),
                w_lex: self.w_lex.unwrap_or(f.w_lex),
                w_style: self.w_style.unwrap_or(f.w_style),
                w_trigram: self.w_trigram.unwrap_or(f.w_trigram),
                group_norm: self.group_norm.unwrap_or(f.group_norm),
                ext_lex: self.ext_lex.unwrap_or(f.ext_lex),
                contrast: self.contrast.unwrap_or(f.contrast),
                w_doc: self.w_doc.unwrap_or(f.w_doc),
            },
            epochs: self.epochs.unwrap_or(d.epochs),
            lr: self.lr.unwrap_or(d.lr),
            l2: self.l2.unwrap_or(d.l2),
            balance: self.balance.unwrap_or(d.balance),
            average: self.average.unwrap_or(d.average),
            neutral_offset: self.neutral_offset.unwrap_or(d.neutral_offset),
        }
    }
}

#[derive(clap::Args)]
pub struct EvalSentimentArgs {
    /// One text per line (TweetEval `*_text.txt`).
    #[arg(long, requires = "labels", conflicts_with = "csv")]
    text: Option<PathBuf>,
    /// One label per line, id or name (TweetEval `*_labels.txt`).
    #[arg(long, requires = "text")]
    labels: Option<PathBuf>,
    /// CSV with a header holding `text` and `label` columns.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Model file (default: the model embedded in the binary).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Minimum seconds spent on each throughput measurement.
    #[arg(long, default_value_t = 1.0)]
    min_secs: f64,
    /// Skip the throughput measurement.
    #[arg(long)]
    no_timing: bool,
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn read_split(dir: &Path, split: &str) -> anyhow::Result<(Vec<String>, Vec<Label>)> {
    let text = read(&dir.join(format!("{split}_text.txt")))?;
    let labels = read(&dir.join(format!("{split}_labels.txt")))?;
    parse_tweeteval(&text, &labels).with_context(|| format!("parsing {split} split"))
}

pub fn run_train(args: &TrainSentimentArgs) -> anyhow::Result<()> {
    let cfg = args.config();
    let (texts, labels) = read_split(&args.data, "train")?;
    eprintln!(
        "training on {} texts, {cfg:?}, seed {}",
        texts.len(),
        args.seed
    );
    let mut rng = StdRng::seed_from_u64(args.seed);
    let start = Instant::now();
    let model = train(&texts, &labels, &cfg, &mut rng, |epoch, loss| {
        eprintln!("  epoch {epoch}: loss {loss:.4}");
    })?;
    eprintln!("trained in {:.1}s", start.elapsed().as_secs_f64());

    let score = |name: &str, m: &Metrics| {
        println!(
            "{name:<26} macro-recall {:.4}  macro-F1 {:.4}  accuracy {:.4}  recall(neg/neu/pos) {:.3}/{:.3}/{:.3}  n={}",
            m.macro_recall, m.macro_f1, m.accuracy, m.recall[0], m.recall[1], m.recall[2], m.n
        );
    };
    let eval = |model: &Model, texts: &[&str], gold: &[Label]| {
        let pred: Vec<Label> = texts.iter().map(|t| model.predict_label(t)).collect();
        Metrics::compute(gold, &pred)
    };
    if args.data.join("val_text.txt").exists() {
        let (vt, vl) = read_split(&args.data, "val")?;
        let vt: Vec<&str> = vt.iter().map(String::as_str).collect();
        score("val", &eval(&model, &vt, &vl));
    }
    if let Some(p) = &args.probe {
        let (pt, pl) = parse_csv(&read(p)?).with_context(|| format!("parsing {}", p.display()))?;
        let pt: Vec<&str> = pt.iter().map(String::as_str).collect();
        score(&format!("probe {}", p.display()), &eval(&model, &pt, &pl));
    }
    if args.shifted {
        let prov = args.data.join("train_provenance.tsv");
        let sources = parse_provenance(&read(&prov)?)
            .with_context(|| format!("parsing {}", prov.display()))?;
        if sources.len() != texts.len() {
            bail!(
                "{}: {} lines for {} train texts",
                prov.display(),
                sources.len(),
                texts.len()
            );
        }
        for split in shifted_splits(&sources)? {
            let xt: Vec<&str> = split.train.iter().map(|&i| texts[i].as_str()).collect();
            let yt: Vec<Label> = split.train.iter().map(|&i| labels[i]).collect();
            let m = train(
                &xt,
                &yt,
                &cfg,
                &mut StdRng::seed_from_u64(args.seed),
                |_, _| {},
            )?;
            let xh: Vec<&str> = split.held_out.iter().map(|&i| texts[i].as_str()).collect();
            let yh: Vec<Label> = split.held_out.iter().map(|&i| labels[i]).collect();
            score(
                &format!("shifted {} (train {})", split.name, xt.len()),
                &eval(&m, &xh, &yh),
            );
        }
    }
    if args.dry_run {
        return Ok(());
    }
    let bytes = model.to_bytes();
    if let Some(parent) = args.out.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "wrote {} ({} bytes, sha256 {})",
        args.out.display(),
        bytes.len(),
        hex::encode(Sha256::digest(&bytes))
    );
    Ok(())
}

#[derive(serde::Serialize)]
struct Throughput {
    load_ms: f64,
    /// Wall-clock rates (what a user sees; depressed when the core is shared).
    single_texts_per_s: f64,
    batch_1000_texts_per_s: f64,
    /// Rates per second of this thread's CPU time (Linux schedstat), which
    /// stay meaningful on a busy machine. `None` where unavailable.
    single_texts_per_cpu_s: Option<f64>,
    batch_1000_texts_per_cpu_s: Option<f64>,
    threads: usize,
}

/// CPU time of the calling thread in nanoseconds (Linux only).
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

#[derive(serde::Serialize)]
struct EvalReport<'a> {
    protocol: &'static str,
    model_sha256: String,
    metrics: &'a Metrics,
    throughput: Option<Throughput>,
}

/// Run `pass` until `min` has elapsed; returns (passes, wall seconds, CPU seconds).
fn timed<F: FnMut()>(min: Duration, mut pass: F) -> (usize, f64, Option<f64>) {
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    let mut passes = 0;
    loop {
        pass();
        passes += 1;
        if start.elapsed() >= min {
            break;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => Some((b - a) as f64 / 1e9),
        _ => None,
    };
    (passes, wall, cpu)
}

pub fn run_eval(args: &EvalSentimentArgs) -> anyhow::Result<()> {
    let (texts, gold) = match (&args.text, &args.labels, &args.csv) {
        (Some(t), Some(l), None) => parse_tweeteval(&read(t)?, &read(l)?)?,
        (None, None, Some(c)) => parse_csv(&read(c)?)?,
        _ => bail!("give either --text F --labels F, or --csv F"),
    };
    if texts.is_empty() {
        bail!("no texts to evaluate");
    }

    // Load (the file is read before the clock starts; load = parse + checks).
    let bytes: Vec<u8> = match &args.model {
        Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        None => Model::default_model_bytes().to_vec(),
    };
    let t0 = Instant::now();
    let model = Model::from_bytes(&bytes)?;
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;

    let preds = model.predict_batch(&texts);
    let pred_labels: Vec<Label> = preds.iter().map(|p| p.label).collect();
    let metrics = Metrics::compute(&gold, &pred_labels);

    let throughput = if args.no_timing {
        None
    } else {
        let min = Duration::from_secs_f64(args.min_secs.max(0.0));
        // Warm-up pass.
        for t in &texts {
            black_box(model.predict(t));
        }
        let (passes, secs, cpu) = timed(min, || {
            for t in &texts {
                black_box(model.predict(black_box(t)));
            }
        });
        let n_single = (passes * texts.len()) as f64;
        let (passes, bsecs, bcpu) = timed(min, || {
            for chunk in texts.chunks(1000) {
                black_box(model.predict_batch(black_box(chunk)));
            }
        });
        let n_batch = (passes * texts.len()) as f64;
        Some(Throughput {
            load_ms,
            single_texts_per_s: n_single / secs,
            batch_1000_texts_per_s: n_batch / bsecs,
            single_texts_per_cpu_s: cpu.map(|c| n_single / c),
            batch_1000_texts_per_cpu_s: bcpu.map(|c| n_batch / c),
            threads: 1,
        })
    };

    let report = EvalReport {
        protocol: "sentiment-v1",
        model_sha256: hex::encode(Sha256::digest(&bytes)),
        metrics: &metrics,
        throughput,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let m = &metrics;
    println!(
        "protocol sentiment-v1, {} texts, model sha256 {}",
        m.n, report.model_sha256
    );
    println!("macro-recall  {:.4}", m.macro_recall);
    println!("macro-F1      {:.4}", m.macro_f1);
    println!("accuracy      {:.4}", m.accuracy);
    println!("per class     recall    precision  F1");
    for l in Label::ALL {
        let c = l.id();
        println!(
            "  {:<9}   {:.4}    {:.4}     {:.4}",
            l.name(),
            m.recall[c],
            m.precision[c],
            m.f1[c]
        );
    }
    println!("confusion (rows gold, columns predicted: neg neu pos)");
    for l in Label::ALL {
        let r = m.confusion[l.id()];
        println!("  {:<9} {:>6} {:>6} {:>6}", l.name(), r[0], r[1], r[2]);
    }
    if let Some(t) = &report.throughput {
        println!("model load    {:.2} ms", t.load_ms);
        println!(
            "throughput    {:.0} texts/s single, {:.0} texts/s in batches of 1,000 (one thread, wall clock)",
            t.single_texts_per_s, t.batch_1000_texts_per_s
        );
        if let (Some(s), Some(b)) = (t.single_texts_per_cpu_s, t.batch_1000_texts_per_cpu_s) {
            println!(
                "              {s:.0} texts/s single, {b:.0} texts/s in batches of 1,000 (per CPU-second of the thread)"
            );
        }
    }
    Ok(())
}
