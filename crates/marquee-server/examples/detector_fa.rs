//! Measures the backlash detector on simulated mentions: the false-alarm
//! rate on quiet days, and the delay to flag an injected backlash.
//!
//! `cargo run --release -p marquee-server --example detector_fa -- [SEEDS] [DAYS] [PEAK]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use marquee_server::listening::config::DetectorConfig;
use marquee_server::listening::detect::{sim, Detector};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z, a midnight

fn run(det: &mut Detector, stream: &[sim::Minute]) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for m in stream {
        for (i, (topics, neg)) in m.posts.iter().enumerate() {
            let at = T0 + m.minute * 60_000 + (i as i64 * 997) % 60_000;
            for f in det.observe(at, topics, *neg) {
                out.push((m.minute, format!("{} {} {}", f.series, f.kind, f.window)));
            }
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seeds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let days: i64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(7);
    let peak: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(24.0);
    let cfg = DetectorConfig::default();

    // Quiet data: every alert is a false alarm.
    let (mut alarms, mut series_days) = (0usize, 0i64);
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    let t = std::time::Instant::now();
    let mut posts = 0usize;
    for seed in 0..seeds {
        let mut det = Detector::new(cfg.clone());
        let s = sim::stream(seed, days * 1440, peak, None, 0.0);
        posts += s.iter().map(|m| m.posts.len()).sum::<usize>();
        for (_, what) in run(&mut det, &s) {
            alarms += 1;
            *kinds.entry(what).or_default() += 1;
        }
        series_days += days;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "quiet: {seeds} streams x {days} days at peak {peak}/min ({posts} posts, 7 series x 3 windows): \
         {alarms} false alarms = {:.3} per day ({:.0} posts/s through the detector)",
        alarms as f64 / series_days as f64,
        posts as f64 / secs
    );
    for (k, n) in &kinds {
        println!("  {k}: {n}");
    }

    // Backlash at 18:00 on day 2 (after a day of history), 30 extra price posts/min.
    let mut delays = Vec::new();
    let mut early = 0;
    let mut missed = 0;
    for seed in 0..seeds {
        let start = 1440 + 18 * 60;
        let mut det = Detector::new(cfg.clone());
        let s = sim::stream(1000 + seed, start + 120, peak, Some(start), 30.0);
        let fired = run(&mut det, &s);
        early += fired.iter().filter(|(m, _)| *m < start).count();
        match fired.iter().find(|(m, _)| *m >= start) {
            // A firing while observing minute m closed minute m - 1.
            Some((m, _)) => delays.push(m - start),
            None => missed += 1,
        }
    }
    delays.sort_unstable();
    let median = delays.get(delays.len() / 2).copied().unwrap_or(-1);
    println!(
        "backlash: {seeds} runs, detected {} (missed {missed}), false alarms before it {early}; \
         delay in simulated minutes: median {median}, max {}",
        delays.len(),
        delays.last().copied().unwrap_or(-1)
    );
}
