//! `marquee eval recs`: protocol recs-holdout-v1.
//!
//! Loads ratings, builds the protocol split (printing its counts and sha256 so it can be
//! checked against the protocol table), tunes the requested model families on validation
//! splits carved out of TRAIN (their mean NDCG@10), fits each model 3 times (median `train_s`), ranks every user's
//! top 20 and prints the metrics table. Also measures request-time latency (one user, full
//! catalog, filters, top 10) and the model's resident size.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use marquee_recs::experiment::{parse_request, tune, ModelSpec, Request, Tuning};
use marquee_recs::protocol::{
    evaluate, pairs_tsv, parse_ratings, validation_folds_for, Format, Metrics, Split,
    SplitChecksums,
};
use marquee_recs::{Filter, Model, Recommender};
use serde::Serialize;

#[derive(clap::Args)]
pub struct EvalRecsArgs {
    /// Ratings file.
    #[arg(long, default_value = "data/demo/ml-latest-small/ratings.csv")]
    data: PathBuf,
    /// movielens-csv | ml100k | ml1m | csv
    #[arg(long, default_value = "movielens-csv")]
    format: String,
    /// Keep ratings >= this (0 keeps all).
    #[arg(long, default_value_t = 4.0)]
    min_rating: f64,
    /// Comma-separated models: pop, knn, knn-bm25, rp3, als, ease, edlae, wease, blend.
    /// A bare name of a tunable family is tuned on validation splits carved out of TRAIN;
    /// `name:key=value:...` fixes the parameters (e.g. `als:factors=64:reg=0.05:alpha=0:iters=15`).
    #[arg(long, default_value = "pop,knn,als,ease,wease")]
    models: String,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Write results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Fits per model for the median train_s.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Seed of the models' RNG (ALS initialisation).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Write each final model as a Recommender file (`<dir>/<model>.mqrecs`).
    #[arg(long)]
    save_models: Option<PathBuf>,
    /// Write the split (`train.tsv`, `test.tsv`, raw ids) here, for external peers.
    #[arg(long, hide = true)]
    dump_split: Option<PathBuf>,
    /// Skip the latency measurement.
    #[arg(long)]
    no_latency: bool,
    /// Validation splits (carved out of TRAIN, seeds 4242, 4243, ...) whose mean NDCG@10
    /// tuning maximises. Default: enough for about 3,000 user evaluations, at most 5.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=20))]
    validation_folds: Option<u64>,
}

#[derive(Serialize)]
struct SplitJson {
    users: usize,
    items: usize,
    catalog: usize,
    train: usize,
    test: usize,
    train_sha256: String,
    test_sha256: String,
}

impl From<&SplitChecksums> for SplitJson {
    fn from(c: &SplitChecksums) -> Self {
        Self {
            users: c.users,
            items: c.items,
            catalog: c.catalog,
            train: c.train,
            test: c.test,
            train_sha256: c.train_sha256.clone(),
            test_sha256: c.test_sha256.clone(),
        }
    }
}

#[derive(Serialize)]
struct ModelJson {
    name: String,
    spec: String,
    tune_s: f64,
    validation_ndcg_at_10: Option<f64>,
    /// Every tuning trial on the validation split: `(spec, NDCG@10)`, in order.
    validation_trials: Vec<(String, f64)>,
    train_s: f64,
    train_s_all: Vec<f64>,
    rank_s: f64,
    p_at_10: f64,
    r_at_20: f64,
    nr_at_20: f64,
    ndcg_at_10: f64,
    cov_at_10: f64,
    model_bytes: usize,
    file_bytes: usize,
    latency_p50_us: Option<f64>,
    latency_p99_us: Option<f64>,
    /// p99 over users of each user's fastest of 3 runs.
    latency_p99_best_of_3_us: Option<f64>,
}

#[derive(Serialize)]
struct OutJson {
    protocol: &'static str,
    data: String,
    min_rating: f64,
    threads: usize,
    split: SplitJson,
    models: Vec<ModelJson>,
}

/// The protocol's published checksum table.
/// (data set, MIN_RATING, users, items, catalog, train, test, train sha256, test sha256).
type PublishedSplit = (
    &'static str,
    f64,
    usize,
    usize,
    usize,
    usize,
    usize,
    &'static str,
    &'static str,
);

const PUBLISHED: &[PublishedSplit] = &[
    (
        "ml-latest-small",
        4.0,
        603,
        6298,
        5769,
        38858,
        9704,
        "605b4283bcb66368d42c62842d96db7d1c86ab3773e48f43b7ce743a3d9808e0",
        "13631efa37ebc4ae2832c0660ea63e40f58c767098ea8fc7174380ee7e7067b0",
    ),
    (
        "ml-latest-small",
        0.0,
        610,
        9724,
        9005,
        80672,
        20164,
        "3e396161696cee40485358c5ce74fefff33b33124e36aa991ac35a13312aae70",
        "ac3c2450373f53d2b4b3fbb90fe78ad27e3cda089f604efe9dac6e96b358e214",
    ),
];

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let k = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[k.min(sorted.len() - 1)]
}

/// Latency of one request: score the full catalog from the history, exclude seen items and an
/// exclude list, keep the catalog, top 10 with explanations. Single thread. Every user's
/// request runs 3 times (3 passes over all users). Returns (p50, p99) over all requests and
/// p99 over users of each user's fastest run (which filters out preemption by other processes
/// on a shared machine).
fn latency(model: &Model, split: &Split, catalog: &[bool]) -> (f64, f64, f64) {
    let exclude: Vec<u32> = (0..split.items.len() as u32).step_by(97).collect();
    let n_users = split.users.len();
    let mut times = Vec::with_capacity(n_users * 3);
    let mut best = vec![f64::INFINITY; n_users];
    for _round in 0..3 {
        for (u, b) in best.iter_mut().enumerate() {
            let history: Vec<(u32, f32)> = split.train.row(u).0.iter().map(|&c| (c, 1.0)).collect();
            let filter = Filter {
                exclude_seen: true,
                exclude: &exclude,
                categories: None,
                allowed: Some(catalog),
            };
            let t = Instant::now();
            let recs = model.recommend(&history, &filter, 10);
            let us = t.elapsed().as_secs_f64() * 1e6;
            std::hint::black_box(recs);
            times.push(us);
            *b = b.min(us);
        }
    }
    times.sort_by(f64::total_cmp);
    best.sort_by(f64::total_cmp);
    (
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&best, 0.99),
    )
}

pub fn run(args: &EvalRecsArgs) -> anyhow::Result<()> {
    let threads = if args.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        args.threads
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("building the thread pool")?;
    let format: Format = args.format.parse()?;
    let text = std::fs::read_to_string(&args.data)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let ratings = parse_ratings(format, &text)?;
    let split = Split::build(&ratings, args.min_rating)?;
    let sums = split.checksums();
    println!(
        "protocol recs-holdout-v1  data {}  MIN_RATING {}  threads {threads}",
        args.data.display(),
        args.min_rating
    );
    println!(
        "split: users {}  items {}  catalog {}  train {}  test {}\n  train_sha256 {}\n  test_sha256  {}",
        sums.users, sums.items, sums.catalog, sums.train, sums.test, sums.train_sha256, sums.test_sha256
    );
    if let Some(p) = PUBLISHED.iter().find(|p| p.7 == sums.train_sha256) {
        let ok = (p.1 - args.min_rating).abs() < 1e-9
            && (p.2, p.3, p.4, p.5, p.6)
                == (sums.users, sums.items, sums.catalog, sums.train, sums.test)
            && p.8 == sums.test_sha256;
        println!(
            "  matches the published checksums of {} (MIN_RATING {}): {}",
            p.0,
            p.1,
            if ok { "yes" } else { "NO" }
        );
        if !ok {
            bail!("split does not match the protocol table");
        }
    } else {
        println!("  (no published checksum for this data set)");
    }
    if let Some(dir) = &args.dump_split {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("train.tsv"), pairs_tsv(&split.train_pairs()))?;
        std::fs::write(dir.join("test.tsv"), pairs_tsv(&split.test_pairs()))?;
        println!("  split written to {}", dir.display());
    }
    let catalog = split.catalog();
    let folds = args
        .validation_folds
        .map_or_else(|| validation_folds_for(split.users.len()), |k| k as usize);
    let vals = split.validation_folds(folds)?;
    // A family is tuned once per run (`wease:top=0` and `wease` share the search).
    let mut tuned: HashMap<String, (Tuning, f64)> = HashMap::new();
    let mut results = Vec::new();
    for name in args
        .models
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let request = parse_request(name)?;
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template(
            "{spinner} {prefix:>8} {wide_msg} [{elapsed}]",
        )?);
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        // tune_s: the search's own time, also for a family whose search an earlier model shared.
        let (spec, val_ndcg, validation_trials, tune_s): (
            ModelSpec,
            Option<f64>,
            Vec<(String, f64)>,
            f64,
        ) = match request {
            Request::Fixed(s) => (s, None, Vec::new(), 0.0),
            Request::Tuned(family, top) => {
                let (t, secs) = match tuned.get(&family) {
                    Some(hit) => hit.clone(),
                    None => {
                        let t_tune = Instant::now();
                        let mut n = 0;
                        let folds = vals.len();
                        let t = pool.install(|| {
                            tune(&family, &vals, args.seed, &mut |d, v| {
                                n += 1;
                                bar.set_message(format!(
                                    "tuning on {folds} validation splits, trial {n}: {d} -> mean NDCG@10 {v:.4}"
                                ));
                            })
                        })?;
                        let hit = (t, t_tune.elapsed().as_secs_f64());
                        tuned.insert(family.clone(), hit.clone());
                        hit
                    }
                };
                (
                    t.best.pruned(top),
                    Some(t.best_metrics.ndcg_at_10),
                    t.trials,
                    secs,
                )
            }
        };
        let mut fits = Vec::new();
        let mut model = None;
        for rep in 0..args.repeats.max(1) {
            let t0 = Instant::now();
            let m = pool.install(|| {
                spec.fit(&split.train, args.seed, &mut |i, n| {
                    bar.set_message(format!(
                        "fit {}/{}: step {i}/{n}  {}",
                        rep + 1,
                        args.repeats.max(1),
                        spec.describe()
                    ));
                })
            })?;
            fits.push(t0.elapsed().as_secs_f64());
            model = Some(m);
        }
        let Some(model) = model else { bail!("no fit") };
        bar.set_message("ranking");
        let t1 = Instant::now();
        let metrics: Metrics = pool.install(|| evaluate(&split, &model));
        let rank_s = t1.elapsed().as_secs_f64();
        let lat = if args.no_latency {
            None
        } else {
            bar.set_message("latency");
            Some(latency(&model, &split, &catalog))
        };
        let rec = Recommender {
            index: split.items.clone(),
            model,
        };
        let bytes = rec.to_bytes();
        if let Some(dir) = &args.save_models {
            std::fs::create_dir_all(dir)?;
            std::fs::write(
                dir.join(format!("{}.mqrecs", name.replace([':', '='], "_"))),
                &bytes,
            )?;
        }
        bar.finish_and_clear();
        let train_s_all = fits.clone();
        results.push(ModelJson {
            name: name.to_string(),
            spec: spec.describe(),
            tune_s,
            validation_ndcg_at_10: val_ndcg,
            validation_trials,
            train_s: median(&mut fits),
            train_s_all,
            rank_s,
            p_at_10: metrics.p_at_10,
            r_at_20: metrics.r_at_20,
            nr_at_20: metrics.nr_at_20,
            ndcg_at_10: metrics.ndcg_at_10,
            cov_at_10: metrics.cov_at_10,
            model_bytes: rec.model.heap_bytes(),
            file_bytes: bytes.len(),
            latency_p50_us: lat.map(|l| l.0),
            latency_p99_us: lat.map(|l| l.1),
            latency_p99_best_of_3_us: lat.map(|l| l.2),
        });
    }
    println!();
    println!(
        "| model | train_s | rank_s | P@10 | R@20 | nR@20 | NDCG@10 | Cov@10 | tune_s | p99 latency (best of 3) | model MB | spec |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &results {
        println!(
            "| {} | {:.3} | {:.3} | {:.4} | {:.4} | {:.4} | {:.4} | {:.3} | {:.1} | {} | {:.1} | {} |",
            r.name,
            r.train_s,
            r.rank_s,
            r.p_at_10,
            r.r_at_20,
            r.nr_at_20,
            r.ndcg_at_10,
            r.cov_at_10,
            r.tune_s,
            match (r.latency_p99_us, r.latency_p99_best_of_3_us) {
                (Some(a), Some(b)) => format!("{a:.0} us ({b:.0} us)"),
                _ => "-".into(),
            },
            r.model_bytes as f64 / 1e6,
            r.spec
        );
    }
    println!(
        "threads: {threads}; train_s = median of {} fits; tune_s = validation search (TRAIN only)",
        args.repeats.max(1)
    );
    if let Some(path) = &args.json {
        let out = OutJson {
            protocol: "recs-holdout-v1",
            data: args.data.display().to_string(),
            min_rating: args.min_rating,
            threads,
            split: (&sums).into(),
            models: results,
        };
        std::fs::write(path, serde_json::to_string_pretty(&out)?)?;
    }
    Ok(())
}
