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
    /// Where to write the model [default: crates/marquee-sentiment/model/sentiment-v2.bin;
    /// with --encoder: sentiment-encoder-head.bin].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Accurate tier: a Hugging Face-format checkpoint directory (config.json,
    /// tokenizer.json, model.safetensors; BERT, MiniLM or RoBERTa family, e.g.
    /// from bench/sentiment/encoder-model.sh). Trains a classification head on
    /// its sentence embeddings instead of the fast model; --epochs, --lr,
    /// --l2, --balance and --average then set the head's hyper-parameters.
    #[arg(long)]
    encoder: Option<PathBuf>,
    /// With --encoder: also fine-tune the encoder's last N layers together
    /// with the head; 0 trains the head alone on frozen embeddings (much
    /// faster, less accurate: see bench/sentiment/README.md). The trained
    /// layers are kept in the head file; the checkpoint is not changed.
    /// [default: 6, or every layer of a checkpoint with fewer]
    #[arg(long, requires = "encoder")]
    finetune_layers: Option<usize>,
    /// With --finetune-layers: passes over the training set [default: 1].
    #[arg(long, requires = "encoder")]
    finetune_epochs: Option<u32>,
    /// With --finetune-layers: the layers' AdamW learning rate [default: 1e-4].
    #[arg(long, requires = "encoder")]
    finetune_lr: Option<f64>,
    /// With --finetune-layers: the head's AdamW learning rate [default: 1e-3].
    #[arg(long, requires = "encoder")]
    finetune_head_lr: Option<f64>,
    /// With --finetune-layers: each trained layer learns this many times as
    /// fast as the one above it (layer-wise decay), above 0 to 1 [default: 1].
    #[arg(long, requires = "encoder")]
    finetune_layer_decay: Option<f64>,
    /// With --finetune-layers: the share of the steps over which the
    /// learning rates rise to their peak before falling, 0 to <1 [default: 0].
    #[arg(long, requires = "encoder")]
    finetune_warmup: Option<f64>,
    /// With --finetune-layers: label smoothing, 0 to <1 [default: 0].
    #[arg(long, requires = "encoder")]
    finetune_smoothing: Option<f64>,
    /// With --finetune-layers: in training, hide each token but the first
    /// from the model with this probability, 0 to <1 [default: 0].
    #[arg(long, requires = "encoder")]
    finetune_token_cutoff: Option<f64>,
    /// With --finetune-layers: training-time dropout in the trained layers
    /// and before the head, 0 to <1 [default: 0].
    #[arg(long, requires = "encoder")]
    finetune_dropout: Option<f64>,
    /// With --finetune-layers: after training, move the trained layers and
    /// head this share of the way back to where they started (the
    /// checkpoint's layers, the head on frozen embeddings), 0 to <1
    /// [default: 0]. Several comma-separated values, with --shifted-only,
    /// score each on one fine-tuning run.
    #[arg(long, requires = "encoder", value_delimiter = ',')]
    finetune_pull: Vec<f64>,
    /// With --encoder: train N heads, the k-th with seed + k (its own
    /// batches, warm start and dropout masks), and serve the average of
    /// their probabilities from one file. Each head costs one training and
    /// one encoder pass per text: N times the time to train and to serve.
    /// With several, the shifted splits' lines also score each head alone.
    #[arg(long, default_value_t = 1, requires = "encoder",
          value_parser = clap::value_parser!(u16).range(1..=16))]
    members: u16,
    /// With --encoder: use only the first N training texts.
    #[arg(long, requires = "encoder")]
    limit: Option<usize>,
    /// With --encoder: threads for embedding (default: all cores).
    #[arg(long, requires = "encoder")]
    threads: Option<usize>,
    /// With --encoder: keep the embeddings of the texts in this file and
    /// reuse them when the checkpoint and texts are the same.
    #[arg(long, requires = "encoder")]
    embeddings_cache: Option<PathBuf>,
    /// Add the staff corrections kept in the configured database (`marquee
    /// config` shows which) to the training texts, each counted
    /// --correction-weight times (a correction outweighs one tweet). Without
    /// --out, the model is written where the server serves it from
    /// (`[listening] model`, or `encoder_head` with --encoder), and a running
    /// server swaps it in.
    #[arg(long)]
    corrections: bool,
    /// With --corrections: how many times each correction counts.
    #[arg(long, default_value_t = 3, requires = "corrections")]
    correction_weight: u32,
    /// Do not write the model, only report val scores (for tuning).
    #[arg(long)]
    dry_run: bool,
    /// Also report shifted validation: for each split of whole SemEval
    /// collection years (from `train_provenance.tsv` in --data), train on
    /// the other years and score the held-out ones. Printed beside val.
    #[arg(long)]
    shifted: bool,
    /// With --encoder and --shifted: train and score only the shifted
    /// splits' heads, not the one on all of train, and write nothing (about
    /// half the training, for comparing settings; no val or probe scores).
    #[arg(long, requires_all = ["encoder", "shifted"])]
    shifted_only: bool,
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
    /// Model file (default: the model embedded in the binary). With
    /// --encoder and --mix below 1: the fast model mixed in.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Accurate tier: the encoder checkpoint directory (see `train sentiment
    /// --encoder`); needs --head. Without --text/--csv, scores TweetEval val
    /// from the default data directory.
    #[arg(long, requires = "head")]
    encoder: Option<PathBuf>,
    /// With --encoder: the head file written by `train sentiment --encoder`.
    #[arg(long, requires = "encoder")]
    head: Option<PathBuf>,
    /// With --encoder: threads for scoring and timing (1 = per-core numbers).
    #[arg(long, default_value_t = 1, requires = "encoder")]
    threads: usize,
    /// With --encoder: the encoder head's weight in the label, the fast
    /// model's being 1 − MIX (as `[listening] encoder_mix` serves it);
    /// 1 = the encoder alone.
    #[arg(long, default_value_t = 1.0, requires = "encoder")]
    mix: f32,
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

/// The staff corrections of the configured database as training pairs
/// (each repeated `weight` times), and the configuration they came from.
fn corrections(
    config_file: Option<&Path>,
    weight: u32,
) -> anyhow::Result<(Vec<String>, Vec<Label>, marquee_server::Config)> {
    let config = super::app::load_config(config_file)?;
    let found = super::app::block_on(async {
        let store = super::app::open_store(&config).await?;
        let found = store.sentiment_corrections().await;
        store.close().await;
        found.context("reading the staff corrections")
    })?;
    eprintln!(
        "{} staff corrections from {}, each counted {weight} times",
        found.len(),
        config.database_url_redacted()
    );
    let mut texts = Vec::new();
    let mut labels = Vec::new();
    for c in found {
        let label = label_of(c.sentiment);
        for _ in 0..weight {
            texts.push(c.text.clone());
            labels.push(label);
        }
    }
    Ok((texts, labels, config))
}

/// The model's label for a stored sentiment.
fn label_of(s: marquee_domain::listening::Sentiment) -> Label {
    use marquee_domain::listening::Sentiment;
    match s {
        Sentiment::Negative => Label::Negative,
        Sentiment::Neutral => Label::Neutral,
        Sentiment::Positive => Label::Positive,
    }
}

/// The train split plus, with `--corrections`, the staff corrections; and
/// where the served model lives when corrections were asked for.
fn training_set(
    config_file: Option<&Path>,
    args: &TrainSentimentArgs,
) -> anyhow::Result<TrainingSet> {
    let (texts, labels) = read_split(&args.data, "train")?;
    let base = texts.len();
    let mut set = TrainingSet {
        texts,
        labels,
        base,
        config: None,
    };
    if args.corrections {
        let (t, l, config) = corrections(config_file, args.correction_weight)?;
        set.texts.extend(t);
        set.labels.extend(l);
        set.config = Some(config);
    }
    Ok(set)
}

/// The shifted splits of a train split of `n` texts, from
/// `train_provenance.tsv` in `data`.
fn load_shifted(data: &Path, n: usize) -> anyhow::Result<Vec<marquee_sentiment::ShiftedSplit>> {
    let prov = data.join("train_provenance.tsv");
    let sources =
        parse_provenance(&read(&prov)?).with_context(|| format!("parsing {}", prov.display()))?;
    if sources.len() != n {
        bail!(
            "{}: {} lines for {} train texts",
            prov.display(),
            sources.len(),
            n
        );
    }
    Ok(shifted_splits(&sources)?)
}

struct TrainingSet {
    texts: Vec<String>,
    labels: Vec<Label>,
    /// How many of `texts` are the train split (the rest are corrections).
    base: usize,
    /// The configuration the corrections came from.
    config: Option<marquee_server::Config>,
}

pub fn run_train(config_file: Option<&Path>, args: &TrainSentimentArgs) -> anyhow::Result<()> {
    let set = training_set(config_file, args)?;
    if let Some(dir) = &args.encoder {
        return encoder::run_train(args, dir, set);
    }
    let cfg = args.config();
    let TrainingSet {
        texts,
        labels,
        base,
        config,
    } = set;
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
        for split in load_shifted(&args.data, base)? {
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
    let out = match (&args.out, &config) {
        (Some(out), _) => out.clone(),
        (None, Some(config)) => marquee_server::listening::model_path(config),
        (None, None) => PathBuf::from(DEFAULT_MODEL_PATH),
    };
    write_model(&out, &model.to_bytes())
}

fn write_model(out: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = out.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    // Written beside and renamed: a server watching `out` never reads half a file.
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote {} ({} bytes, sha256 {})",
        out.display(),
        bytes.len(),
        hex::encode(Sha256::digest(bytes))
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
        (None, None, None) if args.encoder.is_some() => read_split(Path::new(DEFAULT_DATA), "val")?,
        _ => bail!("give either --text F --labels F, or --csv F"),
    };
    if let (Some(dir), Some(head)) = (&args.encoder, &args.head) {
        return encoder::run_eval(args, dir, head, &texts, &gold);
    }
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
    print_metrics(&metrics, &report.model_sha256);
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

/// The metrics table of `eval sentiment`.
fn print_metrics(m: &Metrics, model_sha256: &str) {
    println!(
        "protocol sentiment-v1, {} texts, model sha256 {}",
        m.n, model_sha256
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
}

fn score_line(name: &str, m: &Metrics) {
    println!(
        "{name:<26} macro-recall {:.4}  macro-F1 {:.4}  accuracy {:.4}  recall(neg/neu/pos) {:.3}/{:.3}/{:.3}  n={}",
        m.macro_recall, m.macro_f1, m.accuracy, m.recall[0], m.recall[1], m.recall[2], m.n
    );
}

/// The accurate tier: a transformer encoder (crate `marquee-encoder`) and a
/// logistic-regression head on its embeddings.
mod encoder {
    use std::path::Path;
    use std::time::Instant;

    use anyhow::{bail, Context};
    use marquee_encoder::{
        average, fine_tune_ends, train_head, Encoder, Ensemble, FineTuneConfig, Head, HeadConfig,
        States, Tuned,
    };
    use marquee_sentiment::{Label, Metrics, Prediction};
    use sha2::{Digest, Sha256};

    use super::{
        print_metrics, read, read_split, score_line, write_model, EvalSentimentArgs,
        TrainSentimentArgs, TrainingSet,
    };

    const DEFAULT_HEAD_PATH: &str = "sentiment-encoder-head.bin";
    /// Texts per `embed_batch` call (one progress-bar step); the encoder
    /// sorts each chunk by length and runs padded batches of 32.
    const CHUNK: usize = 256;

    /// Size the rayon pool (and candle's matmul threads, which read
    /// `RAYON_NUM_THREADS`). Must run before anything uses rayon.
    fn set_threads(n: usize) -> anyhow::Result<()> {
        let n = n.max(1);
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("configuring threads")
    }

    fn load(dir: &Path) -> anyhow::Result<Encoder> {
        if !dir.is_dir() {
            bail!("encoder directory {} does not exist", dir.display());
        }
        let t0 = Instant::now();
        let enc = Encoder::load_with(|f| std::fs::read(dir.join(f)))
            .with_context(|| format!("loading the encoder from {}", dir.display()))?;
        eprintln!(
            "encoder {} ({}, {} dims, max {} tokens) loaded in {:.1}s",
            dir.display(),
            enc.model_type(),
            enc.dims(),
            enc.max_tokens(),
            t0.elapsed().as_secs_f64()
        );
        Ok(enc)
    }

    /// Embed texts in a fixed order of chunks (texts sorted by length, so
    /// little padding), with a progress bar. Deterministic for given texts.
    fn embed_all(enc: &Encoder, texts: &[&str], what: &str) -> anyhow::Result<Vec<Vec<f32>>> {
        run_chunked(texts, &format!("embedding {what}"), |b| enc.embed_batch(b))
    }

    /// Run `f` over `texts` in chunks of [`CHUNK`], in length order (little
    /// padding), with a progress bar and a timing line; results in input
    /// order. Deterministic for given texts.
    fn run_chunked<T>(
        texts: &[&str],
        what: &str,
        f: impl Fn(&[&str]) -> marquee_encoder::Result<Vec<T>>,
    ) -> anyhow::Result<Vec<T>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| (texts[i].len(), i));
        let bar = progress_bar(texts.len() as u64, what);
        let start = Instant::now();
        let mut out: Vec<Option<T>> = std::iter::repeat_with(|| None).take(texts.len()).collect();
        for chunk in order.chunks(CHUNK) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            let results = f(&batch)?;
            if results.len() != chunk.len() {
                bail!(
                    "{what}: {} results for {} texts",
                    results.len(),
                    chunk.len()
                );
            }
            for (&i, v) in chunk.iter().zip(results) {
                out[i] = Some(v);
            }
            bar.inc(chunk.len() as u64);
        }
        // Every index is in exactly one chunk.
        let out: Vec<T> = out.into_iter().flatten().collect();
        bar.finish_and_clear();
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "{what}: {} texts in {secs:.1}s ({:.1} texts/s, {} threads)",
            texts.len(),
            texts.len() as f64 / secs,
            rayon::current_num_threads()
        );
        Ok(out)
    }

    /// [`embed_all`] through an optional cache file keyed by the encoder's
    /// fingerprint and the texts.
    fn embed_cached(
        enc: &Encoder,
        texts: &[&str],
        what: &str,
        cache: Option<&Path>,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let Some(cache) = cache else {
            return embed_all(enc, texts, what);
        };
        let key = cache_key(enc, texts, "embeddings");
        let dims = enc.dims();
        if let Ok(bytes) = std::fs::read(cache) {
            let want = 32 + 4 * texts.len() * dims;
            if bytes.len() == want && bytes[..32] == key[..] {
                eprintln!("embeddings of {what} from {}", cache.display());
                let floats: Vec<f32> = bytes[32..]
                    .chunks_exact(4)
                    .map(|s| f32::from_le_bytes([s[0], s[1], s[2], s[3]]))
                    .collect();
                return Ok(floats.chunks(dims).map(<[f32]>::to_vec).collect());
            }
        }
        let emb = embed_all(enc, texts, what)?;
        let mut bytes = key.to_vec();
        for x in emb.iter().flatten() {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        std::fs::write(cache, bytes).with_context(|| format!("writing {}", cache.display()))?;
        Ok(emb)
    }

    /// The key of a cache file: what it holds, the checkpoint, the
    /// truncation and the texts.
    fn cache_key(enc: &Encoder, texts: &[&str], what: &str) -> Vec<u8> {
        let mut h = Sha256::new();
        if what == "embeddings" {
            // The key of files written before the states cache existed.
            h.update(b"marquee embeddings cache v1\0");
        } else {
            h.update(format!("marquee {what} cache v1\0").as_bytes());
        }
        h.update(enc.fingerprint().as_bytes());
        h.update((enc.max_tokens() as u64).to_le_bytes());
        h.update((CHUNK as u64).to_le_bytes());
        for t in texts {
            h.update((t.len() as u64).to_le_bytes());
            h.update(t.as_bytes());
        }
        h.finalize().to_vec()
    }

    fn head_config(args: &TrainSentimentArgs) -> HeadConfig {
        let d = HeadConfig::default();
        HeadConfig {
            epochs: args.epochs.unwrap_or(d.epochs),
            lr: args.lr.unwrap_or(d.lr),
            l2: args.l2.unwrap_or(d.l2),
            balance: args.balance.unwrap_or(d.balance),
            average: args.average.unwrap_or(d.average),
        }
    }

    fn metrics(pred: &[Prediction], gold: &[Label]) -> Metrics {
        let labels: Vec<Label> = pred.iter().map(|p| p.label).collect();
        Metrics::compute(gold, &labels)
    }

    /// One head's predictions of embeddings it classifies.
    fn predict_each<E: AsRef<[f32]>>(
        head: &Head,
        emb: impl IntoIterator<Item = E>,
    ) -> anyhow::Result<Vec<Prediction>> {
        emb.into_iter()
            .map(|e| Ok(head.predict(e.as_ref())?))
            .collect()
    }

    /// One head's predictions of `texts` through the encoder (its own
    /// fine-tuned layers included), in chunks with a progress bar.
    fn predict_all(
        enc: &Encoder,
        head: &Head,
        texts: &[&str],
        what: &str,
    ) -> anyhow::Result<Vec<Prediction>> {
        run_chunked(texts, &format!("labelling {what}"), |b| {
            head.predict_texts(enc, b)
        })
    }

    /// The ensemble's predictions: each member's (from `each`), averaged.
    /// With several members, first a score line for each member alone.
    fn ensemble_predictions(
        name: &str,
        ens: &Ensemble,
        gold: &[Label],
        mut each: impl FnMut(&Head) -> anyhow::Result<Vec<Prediction>>,
    ) -> anyhow::Result<Vec<Prediction>> {
        let n = ens.members().len();
        let mut all = Vec::with_capacity(n);
        for (k, m) in ens.members().iter().enumerate() {
            let p = each(m)?;
            if n > 1 {
                score_line(&format!("{name} head {}/{n}", k + 1), &metrics(&p, gold));
            }
            all.push(p);
        }
        Ok(average(&all)?)
    }

    /// At most this many fine-tunes run at once: each holds its own
    /// activations, gradients and optimiser state (about 1.5 GB for
    /// MiniLM-L6 at batch 32, beside the shared hidden states), so that
    /// `--members` cannot run the machine out of memory.
    const SIDE_BY_SIDE: usize = 4;

    /// The encoder weights the mixture rows of `train sentiment --encoder`
    /// report (the fast model's weight is one minus).
    const MIXES: [f32; 4] = [0.3, 0.4, 0.5, 0.6];

    /// Score lines of the head mixed with a fast model, one per weight in
    /// [`MIXES`].
    fn mixed_lines(
        name: &str,
        accurate: &[Prediction],
        fast: &marquee_sentiment::Model,
        texts: &[&str],
        gold: &[Label],
    ) {
        let fast: Vec<_> = texts.iter().map(|t| fast.predict(t)).collect();
        for w in MIXES {
            let pred: Vec<Label> = accurate
                .iter()
                .zip(&fast)
                .map(|(e, f)| e.blend(f, w).label)
                .collect();
            score_line(&format!("{name} mix {w}"), &Metrics::compute(gold, &pred));
        }
    }

    /// The ensemble of the runs' heads at `pull`.
    fn ensemble_at(tuned: &[Tuned], pull: f64) -> anyhow::Result<Ensemble> {
        Ok(Ensemble::new(
            tuned
                .iter()
                .map(|t| t.head(pull))
                .collect::<marquee_encoder::Result<_>>()?,
        )?)
    }

    fn cache_for(base: Option<&Path>, split: &str) -> Option<std::path::PathBuf> {
        base.map(|p| {
            let mut s = p.as_os_str().to_owned();
            s.push(format!(".{split}"));
            s.into()
        })
    }

    /// What the head is trained on: frozen embeddings, or the hidden
    /// states entering the layers being fine-tuned.
    enum Features {
        Embeddings(Vec<Vec<f32>>),
        States(Vec<States>),
    }

    /// The fine-tuning configuration of `args` for a checkpoint with
    /// `num_layers` layers: an explicit --finetune-layers is kept as given
    /// (and refused by the caller when too many), the default is capped.
    fn finetune_config(
        args: &TrainSentimentArgs,
        head: &HeadConfig,
        num_layers: usize,
    ) -> FineTuneConfig {
        let d = FineTuneConfig::default();
        FineTuneConfig {
            layers: args.finetune_layers.unwrap_or(d.layers.min(num_layers)),
            epochs: args.finetune_epochs.unwrap_or(d.epochs),
            lr: args.finetune_lr.unwrap_or(d.lr),
            head_lr: args.finetune_head_lr.unwrap_or(d.head_lr),
            dropout: args.finetune_dropout.unwrap_or(d.dropout),
            layer_decay: args.finetune_layer_decay.unwrap_or(d.layer_decay),
            warmup: args.finetune_warmup.unwrap_or(d.warmup),
            smoothing: args.finetune_smoothing.unwrap_or(d.smoothing),
            token_cutoff: args.finetune_token_cutoff.unwrap_or(d.token_cutoff),
            pull: args.finetune_pull.first().copied().unwrap_or(d.pull),
            balance: head.balance,
            head: head.clone(),
            ..d
        }
    }

    /// A setting the encoder crate refused, named by the flag that sets it:
    /// `lr` is --finetune-lr in a [`FineTuneConfig`] (`tuning`), --lr in a
    /// [`HeadConfig`].
    fn flag_error(e: marquee_encoder::Error, tuning: bool) -> anyhow::Error {
        let marquee_encoder::Error::Setting {
            field,
            value,
            reason,
        } = e
        else {
            return e.into();
        };
        let flag = match field {
            "layers" => "--finetune-layers",
            "lr" if tuning => "--finetune-lr",
            "head_lr" => "--finetune-head-lr",
            "dropout" => "--finetune-dropout",
            "layer_decay" => "--finetune-layer-decay",
            "warmup" => "--finetune-warmup",
            "smoothing" => "--finetune-smoothing",
            "token_cutoff" => "--finetune-token-cutoff",
            "pull" => "--finetune-pull",
            "lr" => "--lr",
            "l2" => "--l2",
            "balance" => "--balance",
            // Not settable from the command line.
            _ => return anyhow::anyhow!("{field} = {value}: {reason}"),
        };
        anyhow::anyhow!("{flag} {value}: {reason}")
    }

    /// [`fine_tune_ends`] with a progress bar.
    fn tune(
        enc: &Encoder,
        states: &[&States],
        labels: &[Label],
        cfg: &FineTuneConfig,
        seed: u64,
        what: &str,
        bars: &indicatif::MultiProgress,
    ) -> anyhow::Result<Tuned> {
        eprintln!(
            "fine-tuning the last {} layer(s) on {} texts ({what}), {cfg:?}, seed {seed}",
            cfg.layers,
            states.len()
        );
        let bar = bars.add(progress_bar(0, &format!("fine-tuning ({what})")));
        let tuned = fine_tune_ends(enc, states, labels, cfg, seed, |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })?;
        bar.finish_and_clear();
        Ok(tuned)
    }

    fn progress_bar(len: u64, msg: &str) -> indicatif::ProgressBar {
        let bar = indicatif::ProgressBar::new(len).with_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {bar:40} {pos}/{len} ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(msg.to_string());
        bar
    }

    /// The hidden states entering the last `k` layers, through an optional
    /// cache file keyed like [`embed_cached`]'s. Chunks of [`CHUNK`] texts
    /// in length order, with a progress bar.
    fn states_cached(
        enc: &Encoder,
        texts: &[&str],
        k: usize,
        cache: Option<&Path>,
    ) -> anyhow::Result<Vec<States>> {
        let key = cache_key(enc, texts, &format!("states below {k}"));
        let dims = enc.dims();
        if let Some(bytes) = cache.and_then(|c| std::fs::read(c).ok()) {
            if let Some(states) = parse_states(&bytes, &key, texts.len(), dims) {
                eprintln!(
                    "hidden states of train from {}",
                    cache.map_or_else(String::new, |c| c.display().to_string())
                );
                return Ok(states);
            }
        }
        let out = run_chunked(
            texts,
            &format!("hidden states below the last {k} layer(s)"),
            |b| enc.states_below(b, k),
        )?;
        if let Some(cache) = cache {
            let mut bytes = key.to_vec();
            for s in &out {
                bytes.extend_from_slice(&(s.len as u32).to_le_bytes());
                for x in &s.data {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
            }
            std::fs::write(cache, bytes).with_context(|| format!("writing {}", cache.display()))?;
        }
        Ok(out)
    }

    fn parse_states(bytes: &[u8], key: &[u8], n: usize, dims: usize) -> Option<Vec<States>> {
        let mut rest = bytes.strip_prefix(key)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let (len, r) = rest.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            let (data, r) = r.split_at_checked(4 * len * dims)?;
            out.push(States {
                len,
                data: data
                    .chunks_exact(4)
                    .map(|s| f32::from_le_bytes([s[0], s[1], s[2], s[3]]))
                    .collect(),
            });
            rest = r;
        }
        rest.is_empty().then_some(out)
    }

    pub fn run_train(
        args: &TrainSentimentArgs,
        dir: &Path,
        set: TrainingSet,
    ) -> anyhow::Result<()> {
        set_threads(args.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }))?;
        let cfg = head_config(args);
        let enc = load(dir)?;
        let TrainingSet {
            mut texts,
            mut labels,
            base: full_train,
            config,
        } = set;
        if let Some(n) = args.limit.filter(|&n| n < full_train) {
            // The first N of the train split, and every correction.
            texts.drain(n..full_train);
            labels.drain(n..full_train);
        }
        let train_len = args.limit.map_or(full_train, |n| n.min(full_train));
        if args.shifted_only {
            eprintln!(
                "training only the shifted splits' heads, each on the other years of the {} texts, {cfg:?}, seed {}",
                texts.len(),
                args.seed
            );
        } else {
            eprintln!(
                "training the head on {} texts, {cfg:?}, seed {}",
                texts.len(),
                args.seed
            );
        }
        let splits = if args.shifted {
            if train_len != full_train {
                bail!("--shifted needs the whole train set (drop --limit)");
            }
            super::load_shifted(&args.data, full_train)?
        } else {
            Vec::new()
        };
        let cache = args.embeddings_cache.as_deref();
        let xt: Vec<&str> = texts.iter().map(String::as_str).collect();
        let ft = finetune_config(args, &cfg, enc.num_layers());
        // Before the embeddings or hidden states (minutes on TweetEval)
        // are computed.
        cfg.validate().map_err(|e| flag_error(e, false))?;
        if ft.layers > 0 {
            // `ft` carries the first --finetune-pull value; the others
            // are checked on their own.
            ft.validate(enc.num_layers())
                .map_err(|e| flag_error(e, true))?;
            for &pull in args.finetune_pull.iter().skip(1) {
                FineTuneConfig { pull, ..ft.clone() }
                    .validate(enc.num_layers())
                    .map_err(|e| flag_error(e, true))?;
            }
        }
        if !args.finetune_pull.is_empty() && ft.layers == 0 {
            bail!(
                "--finetune-pull moves fine-tuned layers back: it needs --finetune-layers above 0"
            );
        }
        if args.finetune_pull.len() > 1 && !args.shifted_only {
            bail!("several --finetune-pull values are compared only with --shifted-only (one head is written)");
        }
        // Each split's heads, with what their score lines add to the
        // split's name: one head, or one per --finetune-pull value.
        let pulls: Vec<(String, f64)> = match args.finetune_pull.as_slice() {
            [_, _, ..] => args
                .finetune_pull
                .iter()
                .map(|&p| (format!(" pull {p}"), p))
                .collect(),
            _ => vec![(String::new(), ft.pull)],
        };
        let start = Instant::now();
        // The head on all of train, and one per shifted split; each of
        // `members` heads (an ensemble) with its own seed.
        let seeds: Vec<u64> = (0..u64::from(args.members))
            .map(|k| args.seed.wrapping_add(k))
            .collect();
        let (head, split_heads, feats) = if ft.layers == 0 {
            let emb = embed_cached(&enc, &xt, "train", cache_for(cache, "train").as_deref())?;
            let start = Instant::now();
            let train_all = |x: &[&[f32]], y: &[Label]| -> anyhow::Result<Ensemble> {
                let heads = seeds
                    .iter()
                    .map(|&seed| train_head(x, y, &cfg, seed, enc.fingerprint()))
                    .collect::<marquee_encoder::Result<Vec<Head>>>()?;
                Ok(Ensemble::new(heads)?)
            };
            let head = if args.shifted_only {
                None
            } else {
                let all: Vec<&[f32]> = emb.iter().map(Vec::as_slice).collect();
                let head = train_all(&all, &labels)?;
                eprintln!("head trained in {:.1}s", start.elapsed().as_secs_f64());
                Some(head)
            };
            let mut split_heads = Vec::new();
            for split in &splits {
                let e: Vec<&[f32]> = split.train.iter().map(|&i| emb[i].as_slice()).collect();
                let y: Vec<Label> = split.train.iter().map(|&i| labels[i]).collect();
                split_heads.push(vec![(String::new(), train_all(&e, &y)?)]);
            }
            (head, split_heads, Features::Embeddings(emb))
        } else {
            let name = format!("states{}.train", ft.layers);
            let states = states_cached(&enc, &xt, ft.layers, cache_for(cache, &name).as_deref())?;
            // Candle runs most of a training step on one thread: the
            // fine-tunes run side by side, at most SIDE_BY_SIDE at once
            // (each is deterministic on its own).
            let bars = indicatif::MultiProgress::new();
            let members = seeds.len();
            let what = |name: &str, k: usize| {
                if members > 1 {
                    format!("{name}, head {}/{members}", k + 1)
                } else {
                    name.to_string()
                }
            };
            let all: Vec<&States> = states.iter().collect();
            // Every fine-tune to run: the head on all of train (unless
            // --shifted-only), then each split's; `members` of each.
            let mut jobs: Vec<(Vec<&States>, Vec<Label>, u64, String)> = Vec::new();
            if !args.shifted_only {
                for (k, &seed) in seeds.iter().enumerate() {
                    jobs.push((all.clone(), labels.clone(), seed, what("train", k)));
                }
            }
            for split in &splits {
                for (k, &seed) in seeds.iter().enumerate() {
                    jobs.push((
                        split.train.iter().map(|&i| &states[i]).collect(),
                        split.train.iter().map(|&i| labels[i]).collect(),
                        seed,
                        what(split.name, k),
                    ));
                }
            }
            let (enc_ref, ft_ref, bars_ref) = (&enc, &ft, &bars);
            let mut tuned: Vec<Tuned> = Vec::with_capacity(jobs.len());
            for wave in jobs.chunks(SIDE_BY_SIDE) {
                let done = std::thread::scope(|s| {
                    let handles: Vec<_> = wave
                        .iter()
                        .map(|(st, y, seed, what)| {
                            s.spawn(move || tune(enc_ref, st, y, ft_ref, *seed, what, bars_ref))
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            h.join()
                                .map_err(|_| anyhow::anyhow!("a fine-tuning thread panicked"))?
                        })
                        .collect::<anyhow::Result<Vec<Tuned>>>()
                })?;
                tuned.extend(done);
            }
            drop(jobs);
            let mut runs = tuned.into_iter();
            let head = if args.shifted_only {
                None
            } else {
                let t: Vec<Tuned> = runs.by_ref().take(members).collect();
                Some(ensemble_at(&t, ft.pull)?)
            };
            let mut split_heads = Vec::new();
            for _ in &splits {
                let t: Vec<Tuned> = runs.by_ref().take(members).collect();
                split_heads.push(
                    pulls
                        .iter()
                        .map(|(suffix, p)| Ok((suffix.clone(), ensemble_at(&t, *p)?)))
                        .collect::<anyhow::Result<Vec<(String, Ensemble)>>>()?,
                );
            }
            eprintln!(
                "fine-tuned {} layer(s) and the head ({} run(s)) in {:.1}s",
                ft.layers,
                (usize::from(head.is_some()) + splits.len()) * members,
                start.elapsed().as_secs_f64()
            );
            (head, split_heads, Features::States(states))
        };

        if let Some(head) = head
            .as_ref()
            .filter(|_| args.data.join("val_text.txt").exists())
        {
            let (vt, vl) = read_split(&args.data, "val")?;
            let vt: Vec<&str> = vt.iter().map(String::as_str).collect();
            let ve = match &feats {
                Features::Embeddings(_) => Some(embed_cached(
                    &enc,
                    &vt,
                    "val",
                    cache_for(cache, "val").as_deref(),
                )?),
                Features::States(_) => None,
            };
            let vp = ensemble_predictions("val", head, &vl, |m| match &ve {
                Some(ve) => predict_each(m, ve),
                None => predict_all(&enc, m, &vt, "val"),
            })?;
            score_line("val", &metrics(&vp, &vl));
            mixed_lines(
                "val",
                &vp,
                &marquee_sentiment::Model::default_model()?,
                &vt,
                &vl,
            );
        }
        if let (Some(p), Some(head)) = (&args.probe, &head) {
            let (pt, pl) = marquee_sentiment::parse_csv(&read(p)?)
                .with_context(|| format!("parsing {}", p.display()))?;
            let pt: Vec<&str> = pt.iter().map(String::as_str).collect();
            let name = format!("probe {}", p.display());
            let pp =
                ensemble_predictions(&name, head, &pl, |m| predict_all(&enc, m, &pt, "probe"))?;
            score_line(&name, &metrics(&pp, &pl));
            mixed_lines(
                &name,
                &pp,
                &marquee_sentiment::Model::default_model()?,
                &pt,
                &pl,
            );
        }
        for (split, heads) in splits.iter().zip(&split_heads) {
            let y: Vec<Label> = split.train.iter().map(|&i| labels[i]).collect();
            let hy: Vec<Label> = split.held_out.iter().map(|&i| labels[i]).collect();
            // The fast model trained on the same part, as `train sentiment --shifted` does.
            let xt: Vec<&str> = split.train.iter().map(|&i| texts[i].as_str()).collect();
            let fast = marquee_sentiment::train(
                &xt,
                &y,
                &marquee_sentiment::TrainConfig::default(),
                &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(args.seed),
                |_, _| {},
            )?;
            let xh: Vec<&str> = split.held_out.iter().map(|&i| texts[i].as_str()).collect();
            for (suffix, h) in heads {
                let name = format!("shifted {} (train {}){suffix}", split.name, y.len());
                let hp = ensemble_predictions(&name, h, &hy, |m| match &feats {
                    Features::Embeddings(emb) => {
                        predict_each(m, split.held_out.iter().map(|&i| &emb[i]))
                    }
                    Features::States(states) => {
                        let held: Vec<&States> =
                            split.held_out.iter().map(|&i| &states[i]).collect();
                        predict_each(m, m.embed_states(&held)?)
                    }
                })?;
                score_line(&name, &metrics(&hp, &hy));
                mixed_lines(&name, &hp, &fast, &xh, &hy);
            }
        }
        let Some(head) = head.filter(|_| !args.dry_run && !args.shifted_only) else {
            return Ok(());
        };
        let out = match (&args.out, &config) {
            (Some(out), _) => out.clone(),
            (None, Some(config)) => marquee_server::listening::accurate::head_path(config),
            (None, None) => DEFAULT_HEAD_PATH.into(),
        };
        write_model(&out, &head.to_bytes())
    }

    /// CPU seconds (user + system) of this process, all threads (Linux only).
    fn process_cpu_s() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        // Fields 14 and 15 of stat(5); `rest` starts at field 3.
        let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0)
    }

    #[derive(serde::Serialize)]
    struct Throughput {
        load_ms: f64,
        /// Embedding + head over the evaluated texts, in chunks of 256.
        texts_per_s: f64,
        /// Per CPU-second of the whole process (all threads).
        texts_per_cpu_s: Option<f64>,
        threads: usize,
    }

    #[derive(serde::Serialize)]
    struct EvalReport<'a> {
        protocol: &'static str,
        tier: &'static str,
        mix: f32,
        encoder: String,
        encoder_fingerprint: &'a str,
        head_sha256: String,
        /// How many trained heads the file holds (their probabilities
        /// are averaged).
        heads: usize,
        metrics: &'a Metrics,
        throughput: Throughput,
    }

    pub fn run_eval(
        args: &EvalSentimentArgs,
        dir: &Path,
        head_path: &Path,
        texts: &[String],
        gold: &[Label],
    ) -> anyhow::Result<()> {
        set_threads(args.threads)?;
        let head_bytes =
            std::fs::read(head_path).with_context(|| format!("reading {}", head_path.display()))?;
        let head = Ensemble::from_bytes(&head_bytes)
            .with_context(|| format!("parsing {}", head_path.display()))?;
        let t0 = Instant::now();
        let enc = load(dir)?;
        let load_ms = t0.elapsed().as_secs_f64() * 1e3;
        head.check_encoder(&enc).with_context(|| {
            format!(
                "{} was not trained on {}",
                head_path.display(),
                dir.display()
            )
        })?;
        let xs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let fast = if args.mix < 1.0 {
            Some(match &args.model {
                Some(p) => marquee_sentiment::Model::from_bytes(
                    &std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
                )?,
                None => marquee_sentiment::Model::default_model()?,
            })
        } else {
            None
        };
        let cpu0 = process_cpu_s();
        let start = Instant::now();
        let pred = run_chunked(&xs, "eval", |b| head.predict_texts(&enc, b))?;
        let m = match &fast {
            None => metrics(&pred, gold),
            Some(fast) => {
                let pred: Vec<Label> = pred
                    .iter()
                    .zip(&xs)
                    .map(|(p, t)| p.blend(&fast.predict(t), args.mix).label)
                    .collect();
                Metrics::compute(gold, &pred)
            }
        };
        let secs = start.elapsed().as_secs_f64();
        let cpu = match (cpu0, process_cpu_s()) {
            (Some(a), Some(b)) if b > a => Some(b - a),
            _ => None,
        };
        let report = EvalReport {
            protocol: "sentiment-v1",
            tier: if fast.is_some() {
                "accurate (encoder mixed with the fast model)"
            } else {
                "accurate (encoder)"
            },
            mix: args.mix,
            encoder: dir.display().to_string(),
            encoder_fingerprint: enc.fingerprint(),
            head_sha256: hex::encode(Sha256::digest(&head_bytes)),
            heads: head.members().len(),
            metrics: &m,
            throughput: Throughput {
                load_ms,
                texts_per_s: texts.len() as f64 / secs,
                texts_per_cpu_s: cpu.map(|c| texts.len() as f64 / c),
                threads: rayon::current_num_threads(),
            },
        };
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
            return Ok(());
        }
        print_metrics(&m, &report.head_sha256);
        let t = &report.throughput;
        println!("encoder       {} ({})", report.encoder, enc.model_type());
        if report.heads > 1 {
            println!(
                "heads         {}, their probabilities averaged",
                report.heads
            );
        }
        println!("encoder load  {:.0} ms", t.load_ms);
        println!(
            "throughput    {:.1} texts/s on {} thread(s), wall clock (embedding + head, chunks of {CHUNK})",
            t.texts_per_s, t.threads
        );
        if let Some(c) = t.texts_per_cpu_s {
            println!("              {c:.1} texts/s per CPU-second of the process");
        }
        Ok(())
    }
}
