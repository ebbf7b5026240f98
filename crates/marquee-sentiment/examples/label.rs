//! Label texts (one per line on stdin) with the shipped model, and measure
//! single-text throughput on a file of texts.
//!
//! `cargo run --release -p marquee-sentiment --example label < texts.txt`
//! `cargo run --release -p marquee-sentiment --example label -- --rate FILE`

use std::io::BufRead;
use std::time::Instant;

use marquee_sentiment::Model;

fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Model::default_model()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--rate") {
        let path = args.get(1).ok_or("--rate FILE")?;
        let text = std::fs::read_to_string(path)?;
        let texts: Vec<&str> = text.lines().collect();
        for round in 0..5 {
            let (t0, c0) = (Instant::now(), cpu_ns());
            let mut n = 0usize;
            while t0.elapsed().as_secs_f64() < 1.0 {
                for t in &texts {
                    std::hint::black_box(model.predict(std::hint::black_box(t)));
                }
                n += texts.len();
            }
            let wall = n as f64 / t0.elapsed().as_secs_f64();
            let cpu = match (c0, cpu_ns()) {
                (Some(a), Some(b)) if b > a => n as f64 / ((b - a) as f64 / 1e9),
                _ => 0.0,
            };
            println!("round {round}: {wall:.0} texts/s wall, {cpu:.0} per CPU-s");
        }
        return Ok(());
    }
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let p = model.predict(&line);
        println!("{}\t{:+.3}\t{}", p.label, p.score, line);
    }
    Ok(())
}
