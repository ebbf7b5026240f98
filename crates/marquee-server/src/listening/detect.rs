//! Backlash detection on post time.
//!
//! For every series (all posts, and each topic) and every sliding window
//! (15 min, 1 h, 1 day), evaluated each time a minute of post time closes:
//!
//! - **Volume.** The baseline is an EWMA (half-life half a window, at least
//!   30 minutes, so it follows the daily ramp) of the per-minute count, fed with
//!   each minute as it leaves the window (so a spike never inflates its own
//!   baseline), after dividing out a learned hour-of-day factor (seasonality).
//!   The expected count is `λ = rate × window × factor`; the window alerts when
//!   Anscombe's variance-stabilised Poisson score, widened by the baseline's
//!   own sampling error, `z = 2(√(n+3/8) − √(λ+3/8)) / √(1 + window/minutes
//!   seen) ≥ z_volume`, `n ≥ min_ratio·λ` and
//!   `n ≥ min_posts` (a one-sided Poisson test, well calibrated for small λ).
//!   EWMAs are bias-corrected (decayed sum over decayed weight), so a young
//!   baseline is an honest mean, not a decayed first value.
//! - **Negative share.** The baseline share `p₀` is the ratio of EWMAs
//!   (half-life four windows, at least six hours) of negative and all posts,
//!   `N` their effective count; the window alerts when the two-proportion
//!   `z = (k/n − p₀)/√(p₀(1−p₀)(1/n + 1/N)) ≥ z_negative`,
//!   `k/n ≥ p₀ + min_share_lift` and `n ≥ min_posts`.
//! - **Seasonality.** Once a series has a day of history, each closed hour
//!   updates its hour-of-day factor `f[h] ← 0.7·f[h] + 0.3·(hour / mean hour of
//!   the last 24)`.
//! - A baseline alerts only after `warmup_minutes` (and one window length) of
//!   history; a series stays quiet for `cooldown_minutes` of post time
//!   after alerting.
//!
//! The detector is pure: it reads no clock. Post times drive it, so a
//! replayed day behaves exactly like a live one.

use super::config::DetectorConfig;
use marquee_domain::Millis;
use std::collections::HashMap;

const MINUTE: i64 = 60_000;
/// Window lengths in minutes and their names.
pub const WINDOWS: [(i64, &str); 3] = [(15, "15m"), (60, "1h"), (1440, "1d")];
const RING: usize = 1441;
/// Gaps longer than this (minutes) restart the clock instead of closing each minute.
const MAX_GAP: i64 = 2 * 1440;

/// An anomaly: what the server turns into an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    /// `all` or a topic.
    pub series: String,
    /// `volume` or `negative_share`.
    pub kind: &'static str,
    /// `15m`, `1h` or `1d`.
    pub window: &'static str,
    /// Window start, ms.
    pub window_start: Millis,
    /// Window end (exclusive), ms.
    pub window_end: Millis,
    /// Observed count or share.
    pub observed: f64,
    /// Expected count or share.
    pub expected: f64,
    /// The z-score.
    pub z: f64,
    /// Posts in the window.
    pub posts: i64,
}

#[derive(Debug, Clone)]
struct Win {
    len: i64,
    name: &'static str,
    /// Rolling sums over the window.
    total: f64,
    neg: f64,
    /// Bias-corrected EWMAs (decayed sum over decayed weight) of the
    /// deseasonalised per-minute count, and of negatives and totals.
    rate_sum: f64,
    neg_sum: f64,
    total_sum: f64,
    weight: f64,
    alpha: f64,
    alpha_share: f64,
    /// Minutes folded into the baseline.
    seen: i64,
}

#[derive(Debug, Clone)]
struct Series {
    stamp: Vec<i64>,
    total: Vec<f64>,
    neg: Vec<f64>,
    wins: Vec<Win>,
    season: [f64; 24],
    hours: Vec<f64>,
    hour_acc: f64,
    hours_seen: i64,
    last_fired: HashMap<&'static str, i64>,
    /// The detector's first minute: the baseline starts there (a topic never
    /// mentioned before has a baseline of nothing, not no baseline).
    first: i64,
}

impl Series {
    fn new() -> Series {
        Series {
            stamp: vec![i64::MIN; RING],
            total: vec![0.0; RING],
            neg: vec![0.0; RING],
            wins: WINDOWS
                .iter()
                .map(|&(len, name)| Win {
                    len,
                    name,
                    total: 0.0,
                    neg: 0.0,
                    rate_sum: 0.0,
                    neg_sum: 0.0,
                    total_sum: 0.0,
                    weight: 0.0,
                    // Volume half-life: half a window, at least 30 minutes (it
                    // follows the daily ramp); share: four windows, at least
                    // six hours (the share of negatives is steadier).
                    alpha: 1.0 - 0.5f64.powf(1.0 / (len / 2).max(30) as f64),
                    alpha_share: 1.0 - 0.5f64.powf(1.0 / (4 * len).max(360) as f64),
                    seen: 0,
                })
                .collect(),
            season: [1.0; 24],
            hours: Vec::new(),
            hour_acc: 0.0,
            hours_seen: 0,
            last_fired: HashMap::new(),
            first: i64::MAX,
        }
    }

    fn get(&self, m: i64) -> (f64, f64) {
        let i = m.rem_euclid(RING as i64) as usize;
        if self.stamp[i] == m {
            (self.total[i], self.neg[i])
        } else {
            (0.0, 0.0)
        }
    }

    fn add(&mut self, m: i64, total: f64, neg: f64, watermark: i64) {
        let i = m.rem_euclid(RING as i64) as usize;
        if self.stamp[i] != m {
            if self.stamp[i] > m {
                return; // too old for the ring
            }
            self.stamp[i] = m;
            self.total[i] = 0.0;
            self.neg[i] = 0.0;
        }
        self.total[i] += total;
        self.neg[i] += neg;
        // A late post of a closed minute still in a window counts there.
        for w in &mut self.wins {
            if m <= watermark && m > watermark - w.len {
                w.total += total;
                w.neg += neg;
            }
        }
    }

    fn factor(&self, m: i64) -> f64 {
        self.season[hour_of(m)]
    }
}

fn hour_of(m: i64) -> usize {
    (m.rem_euclid(1440) / 60) as usize
}

/// The detector state for every series.
#[derive(Debug, Clone)]
pub struct Detector {
    cfg: DetectorConfig,
    series: HashMap<String, Series>,
    /// The last closed minute (minute index since the epoch).
    closed: Option<i64>,
    /// Whether firings are reported (off while warming up from history).
    quiet: bool,
    /// The first minute ever observed.
    start: Option<i64>,
}

impl Detector {
    /// A detector with no history.
    pub fn new(cfg: DetectorConfig) -> Detector {
        Detector {
            cfg,
            series: HashMap::new(),
            closed: None,
            quiet: false,
            start: None,
        }
    }

    /// Replays history without reporting anomalies.
    pub fn warm_up(&mut self, counts: impl IntoIterator<Item = (Millis, Vec<String>, i64, i64)>) {
        self.quiet = true;
        for (at, topics, neg, total) in counts {
            let _ = self.observe_counts(at, &topics, neg as f64, total as f64);
        }
        self.quiet = false;
    }

    /// One post. Returns the anomalies of every minute this post closed.
    pub fn observe(&mut self, at: Millis, topics: &[String], negative: bool) -> Vec<Firing> {
        self.observe_counts(at, topics, if negative { 1.0 } else { 0.0 }, 1.0)
    }

    /// Several posts of the same minute and topics.
    pub fn observe_counts(
        &mut self,
        at: Millis,
        topics: &[String],
        neg: f64,
        total: f64,
    ) -> Vec<Firing> {
        let m = at.div_euclid(MINUTE);
        let start = *self.start.get_or_insert(m);
        let mut fired = Vec::new();
        match self.closed {
            None => self.closed = Some(m - 1),
            Some(c) if m - 1 - c > MAX_GAP => {
                // A long silence: the windows hold nothing any more.
                for s in self.series.values_mut() {
                    for w in &mut s.wins {
                        w.total = 0.0;
                        w.neg = 0.0;
                    }
                }
                self.closed = Some(m - 1);
            }
            Some(c) => {
                for minute in c + 1..m {
                    self.close(minute, &mut fired);
                }
            }
        }
        let watermark = self.closed.unwrap_or(m - 1);
        for name in std::iter::once("all").chain(topics.iter().map(String::as_str)) {
            if !self.series.contains_key(name) {
                let mut s = Series::new();
                s.first = start;
                // It had nothing in every minute closed so far.
                for w in &mut s.wins {
                    w.seen = (watermark - start + 1 - (w.len - 1)).max(0);
                }
                self.series.insert(name.to_string(), s);
            }
            if let Some(s) = self.series.get_mut(name) {
                s.first = s.first.min(m);
                s.add(m, total, neg, watermark);
            }
        }
        if self.quiet {
            fired.clear();
        }
        fired
    }

    /// Closes every minute before `at` (for a clock tick when posts are quiet).
    pub fn advance_to(&mut self, at: Millis) -> Vec<Firing> {
        let m = at.div_euclid(MINUTE);
        let mut fired = Vec::new();
        if let Some(c) = self.closed {
            if m - 1 - c <= MAX_GAP {
                for minute in c + 1..m {
                    self.close(minute, &mut fired);
                }
            }
        }
        fired
    }

    fn close(&mut self, m: i64, fired: &mut Vec<Firing>) {
        self.closed = Some(m);
        let cfg = &self.cfg;
        for (name, s) in &mut self.series {
            if m < s.first {
                continue;
            }
            let (t, n) = s.get(m);
            // Seasonality: fold the hour in when it ends.
            s.hour_acc += t;
            if m.rem_euclid(60) == 59 {
                s.hours.push(s.hour_acc);
                if s.hours.len() > 24 {
                    s.hours.remove(0);
                }
                s.hours_seen += 1;
                if s.hours_seen >= 24 {
                    let mean = s.hours.iter().sum::<f64>() / s.hours.len() as f64;
                    if mean > 0.0 {
                        let h = hour_of(m);
                        let r = (s.hour_acc / mean).clamp(0.1, 10.0);
                        s.season[h] = 0.7 * s.season[h] + 0.3 * r;
                    }
                }
                s.hour_acc = 0.0;
            }
            let f_end = s.factor(m);
            for wi in 0..s.wins.len() {
                let len = s.wins[wi].len;
                // The window now ends at m: add m, drop m - len.
                let (ot, on) = s.get(m - len);
                let w = &mut s.wins[wi];
                w.total += t - ot;
                w.neg += n - on;
                w.total = w.total.max(0.0);
                w.neg = w.neg.max(0.0);
                let warm = w.seen >= i64::from(cfg.warmup_minutes).max(len);
                let cool = s
                    .last_fired
                    .values()
                    .max()
                    .is_none_or(|&at| m - at >= i64::from(cfg.cooldown_minutes));
                if warm && cool && w.total >= f64::from(cfg.min_posts) {
                    let start = m - len + 1;
                    // The mean hour-of-day factor over the window's span.
                    let season = if len >= 1440 {
                        s.season.iter().sum::<f64>() / 24.0
                    } else {
                        (s.season[hour_of(start)] + f_end) / 2.0
                    };
                    let rate = if w.weight > 0.0 {
                        w.rate_sum / w.weight
                    } else {
                        0.0
                    };
                    let lambda = (rate * len as f64 * season).max(0.5);
                    // Anscombe's variance-stabilised Poisson z, widened by the
                    // baseline's own sampling error (it saw `weight` minutes).
                    let z = 2.0 * ((w.total + 0.375).sqrt() - (lambda + 0.375).sqrt())
                        / (1.0 + len as f64 / w.weight.max(1.0)).sqrt();
                    let mut fire = None;
                    if z >= cfg.z_volume && w.total >= cfg.min_ratio * lambda {
                        fire = Some(("volume", w.total, lambda, z));
                    } else if w.total_sum > 0.0 {
                        let p0 = (w.neg_sum / w.total_sum).clamp(0.01, 0.99);
                        let share = w.neg / w.total;
                        // Two-proportion z: the window against a baseline of
                        // `total_sum` (effective) posts.
                        let zn = (share - p0)
                            / (p0 * (1.0 - p0) * (1.0 / w.total + 1.0 / w.total_sum)).sqrt();
                        if zn >= cfg.z_negative && share >= p0 + cfg.min_share_lift {
                            fire = Some(("negative_share", share, p0, zn));
                        }
                    }
                    if let Some((kind, observed, expected, z)) = fire {
                        fired.push(Firing {
                            series: name.clone(),
                            kind,
                            window: w.name,
                            window_start: start * MINUTE,
                            window_end: (m + 1) * MINUTE,
                            observed: (observed * 1000.0).round() / 1000.0,
                            expected: (expected * 1000.0).round() / 1000.0,
                            z: (z * 100.0).round() / 100.0,
                            posts: w.total.round() as i64,
                        });
                        s.last_fired.insert(kind, m);
                    }
                }
                // The minute leaving the window joins the baseline (from the
                // series' first minute on).
                let leaving = m - len + 1;
                if leaving < s.first {
                    continue;
                }
                let (lt, ln) = s.get(leaving);
                let w = &mut s.wins[wi];
                let f = s.season[hour_of(leaving)].max(0.1);
                let keep = 1.0 - w.alpha;
                w.rate_sum = keep * w.rate_sum + lt / f;
                w.weight = keep * w.weight + 1.0;
                let keep_share = 1.0 - w.alpha_share;
                w.neg_sum = keep_share * w.neg_sum + ln;
                w.total_sum = keep_share * w.total_sum + lt;
                w.seen += 1;
            }
        }
    }
}

/// A deterministic simulated stream of mentions, for tests and the bench:
/// a diurnal rate (quiet nights, busy evenings) with Poisson noise, a fixed
/// share of each topic and of negatives, and optionally a backlash.
pub mod sim {
    use rand::{Rng, SeedableRng};

    /// One simulated minute.
    #[derive(Debug, Clone)]
    pub struct Minute {
        /// Minute index from the start.
        pub minute: i64,
        /// Posts: (topics, negative).
        pub posts: Vec<(Vec<String>, bool)>,
    }

    /// The diurnal rate, posts per minute, at minute-of-day `m`.
    pub fn diurnal_rate(m: i64, base: f64) -> f64 {
        let h = (m.rem_euclid(1440)) as f64 / 60.0;
        // Peak at 20:00, trough at 08:00: a fourfold daily swing.
        let x = ((h - 20.0) / 24.0 * std::f64::consts::TAU).cos();
        base * (0.6 + 0.4 * x)
    }

    fn poisson(rng: &mut impl Rng, lambda: f64) -> u32 {
        // Knuth for small λ, normal approximation above.
        if lambda < 30.0 {
            let l = (-lambda).exp();
            let mut k = 0;
            let mut p = 1.0;
            loop {
                p *= rng.gen::<f64>();
                if p <= l {
                    return k;
                }
                k += 1;
            }
        } else {
            let u1: f64 = rng.gen::<f64>().max(1e-12);
            let u2: f64 = rng.gen();
            let n = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            (lambda + n * lambda.sqrt()).round().max(0.0) as u32
        }
    }

    /// `minutes` of mentions at `base` posts/minute; a backlash of
    /// `backlash_rate` extra price posts per minute (90 % negative) from
    /// `backlash_at` when given.
    pub fn stream(
        seed: u64,
        minutes: i64,
        base: f64,
        backlash_at: Option<i64>,
        backlash_rate: f64,
    ) -> Vec<Minute> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let topics = ["price", "catalog", "streaming", "app", "service", "brand"];
        let shares = [0.10, 0.30, 0.12, 0.12, 0.08, 0.05];
        (0..minutes)
            .map(|m| {
                let n = poisson(&mut rng, diurnal_rate(m, base));
                let mut posts = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let t: Vec<String> = topics
                        .iter()
                        .zip(shares)
                        .filter(|&(_, s)| rng.gen::<f64>() < s)
                        .map(|(t, _)| t.to_string())
                        .collect();
                    posts.push((t, rng.gen::<f64>() < 0.3));
                }
                if let Some(b) = backlash_at {
                    if m >= b {
                        let ramp = ((m - b + 1) as f64 / 3.0).min(1.0);
                        let k = poisson(&mut rng, backlash_rate * ramp);
                        for _ in 0..k {
                            posts.push((vec!["price".to_string()], rng.gen::<f64>() < 0.9));
                        }
                    }
                }
                Minute { minute: m, posts }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn run(det: &mut Detector, stream: &[sim::Minute]) -> Vec<(i64, Firing)> {
        let mut out = Vec::new();
        for m in stream {
            for (topics, neg) in &m.posts {
                for f in det.observe(T0 + m.minute * MINUTE + 30_000, topics, *neg) {
                    out.push((m.minute, f));
                }
            }
        }
        for f in det.advance_to(T0 + (stream.len() as i64 + 1) * MINUTE) {
            out.push((stream.len() as i64, f));
        }
        out
    }

    #[test]
    fn quiet_days_raise_no_alert() {
        for seed in 0..3 {
            let mut det = Detector::new(DetectorConfig::default());
            let s = sim::stream(seed, 3 * 1440, 20.0, None, 0.0);
            let fired = run(&mut det, &s);
            assert!(fired.is_empty(), "seed {seed}: {:?}", fired.first());
        }
    }

    #[test]
    fn backlash_is_flagged_within_five_minutes() {
        let start = 1440 + 18 * 60;
        let mut det = Detector::new(DetectorConfig::default());
        let s = sim::stream(7, start + 120, 20.0, Some(start), 40.0);
        let fired = run(&mut det, &s);
        let first = fired.first().expect("the backlash must alert");
        assert!(
            first.0 >= start,
            "false alarm before the backlash: {first:?}"
        );
        assert!(first.0 <= start + 5, "too late: {first:?}");
        assert!(fired.iter().any(|(_, f)| f.series == "price"), "{fired:?}");
    }

    #[test]
    fn late_posts_count_in_open_windows_and_gaps_reset() {
        let mut det = Detector::new(DetectorConfig::default());
        assert!(det.observe(T0, &[], false).is_empty());
        det.observe(T0 + 5 * MINUTE, &[], false);
        det.observe(T0 + 2 * MINUTE, &[], true);
        let s = det.series.get("all").unwrap();
        assert_eq!(s.wins[0].total, 2.0);
        assert_eq!(s.wins[0].neg, 1.0);
        det.observe(T0 + 10 * 1440 * MINUTE, &[], false);
        let s = det.series.get("all").unwrap();
        assert_eq!(s.wins[0].total, 0.0);
    }
}
