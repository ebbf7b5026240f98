//! Developer tool: evaluate model specs on a ratings file under recs-holdout-v1.
//! `cargo run --release -p marquee-recs --example explore -- PATH FORMAT MINRATING [--val] SPEC...`
#![allow(clippy::unwrap_used, clippy::expect_used)]
use marquee_recs::experiment::{parse_request, tune, Request};
use marquee_recs::protocol::{evaluate, parse_ratings, Split, VALIDATION_SEED};
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&a[1]).unwrap();
    let ratings = parse_ratings(a[2].parse().unwrap(), &text).unwrap();
    let split = Split::build(&ratings, a[3].parse().unwrap()).unwrap();
    let mut rest = &a[4..];
    let on_val = rest.first().map(|s| s == "--val").unwrap_or(false);
    if on_val {
        rest = &rest[1..];
    }
    let target = if on_val { split.validation(VALIDATION_SEED).unwrap() } else { split.clone() };
    for s in rest {
        match parse_request(s).unwrap() {
            Request::Fixed(spec) => {
                let t0 = Instant::now();
                let m = spec.fit(&target.train, 7, &mut |_, _| {}).unwrap();
                let fit = t0.elapsed().as_secs_f64();
                let t1 = Instant::now();
                let r = evaluate(&target, &m);
                println!("{:<50} fit {fit:7.3}s rank {:6.3}s  P@10 {:.4} R@20 {:.4} nR@20 {:.4} NDCG@10 {:.4} Cov {:.3}  mem {:.1} MB",
                    spec.describe(), t1.elapsed().as_secs_f64(), r.p_at_10, r.r_at_20, r.nr_at_20, r.ndcg_at_10, r.cov_at_10, m.heap_bytes() as f64 / 1e6);
            }
            Request::Tuned(f) => {
                let val = split.validation(VALIDATION_SEED).unwrap();
                let t = tune(&f, &val, 7, &mut |d, v| println!("  trial {d:<50} {v:.4}")).unwrap();
                let m = t.best.fit(&split.train, 7, &mut |_, _| {}).unwrap();
                let r = evaluate(&split, &m);
                println!("TUNED {:<44} test NDCG@10 {:.4} P@10 {:.4} nR@20 {:.4}", t.best.describe(), r.ndcg_at_10, r.p_at_10, r.nr_at_20);
            }
        }
    }
}
