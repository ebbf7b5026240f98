//! Developer tool: evaluate model specs on a ratings file under recs-holdout-v1.
//! `cargo run --release -p marquee-recs --example explore -- PATH FORMAT MINRATING [--val] SPEC...`
#![allow(clippy::unwrap_used, clippy::expect_used)]
use marquee_recs::experiment::{parse_request, tune, Request};
use marquee_recs::protocol::{
    evaluate, parse_ratings, validation_folds_for, Split, VALIDATION_SEED,
};
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&a[1]).unwrap();
    let ratings = parse_ratings(a[2].parse().unwrap(), &text).unwrap();
    let mut split = Split::build(&ratings, a[3].parse().unwrap()).unwrap();
    let mut rest = &a[4..];
    // `--outer=SEED`: replace TEST by a validation split carved out of TRAIN (nested checks
    // of tuning rules without touching TEST).
    if let Some(seed) = rest.first().and_then(|s| s.strip_prefix("--outer=")) {
        split = split.validation(seed.parse().unwrap()).unwrap();
        rest = &rest[1..];
    }
    // `--val` (seed 4242) or `--val=SEED`: evaluate on a validation split carved out of TRAIN.
    let val_seed = rest.first().and_then(|s| {
        s.strip_prefix("--val").map(|r| {
            r.strip_prefix('=')
                .map_or(VALIDATION_SEED, |n| n.parse().unwrap())
        })
    });
    if val_seed.is_some() {
        rest = &rest[1..];
    }
    let target = if let Some(seed) = val_seed {
        split.validation(seed).unwrap()
    } else {
        split.clone()
    };
    for s in rest {
        // `mix:W:SPEC_A+SPEC_B`: fixed blend (1-W)·A + W·B.
        let req = match s.strip_prefix("mix:") {
            Some(m) => {
                let (w, specs) = m.split_once(':').unwrap();
                let w: f32 = w.parse().unwrap();
                let (a, b) = specs.split_once('+').unwrap();
                let fixed = |x: &str| match parse_request(x).unwrap() {
                    Request::Fixed(s) => s,
                    Request::Tuned(..) => panic!("blend parts must be fixed"),
                };
                Request::Fixed(marquee_recs::experiment::ModelSpec::Blend(vec![
                    (1.0 - w, fixed(a)),
                    (w, fixed(b)),
                ]))
            }
            None => parse_request(s).unwrap(),
        };
        match req {
            Request::Fixed(spec) => {
                let t0 = Instant::now();
                let m = spec.fit(&target.train, 7, &mut |_, _| {}).unwrap();
                let fit = t0.elapsed().as_secs_f64();
                let t1 = Instant::now();
                let r = evaluate(&target, &m);
                println!("{:<50} fit {fit:7.3}s rank {:6.3}s  P@10 {:.4} R@20 {:.4} nR@20 {:.4} NDCG@10 {:.4} Cov {:.3}  mem {:.1} MB",
                    spec.describe(), t1.elapsed().as_secs_f64(), r.p_at_10, r.r_at_20, r.nr_at_20, r.ndcg_at_10, r.cov_at_10, m.heap_bytes() as f64 / 1e6);
            }
            Request::Tuned(f, top) => {
                let vals = split
                    .validation_folds(validation_folds_for(split.users.len()))
                    .unwrap();
                let mut t =
                    tune(&f, &vals, 7, &mut |d, v| println!("  trial {d:<50} {v:.4}")).unwrap();
                t.best = t.best.pruned(top);
                let m = t.best.fit(&split.train, 7, &mut |_, _| {}).unwrap();
                let r = evaluate(&split, &m);
                println!(
                    "TUNED {:<44} test NDCG@10 {:.4} P@10 {:.4} nR@20 {:.4}",
                    t.best.describe(),
                    r.ndcg_at_10,
                    r.p_at_10,
                    r.nr_at_20
                );
            }
        }
    }
}
