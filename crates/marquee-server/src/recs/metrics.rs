//! Experiment metrics from the event log: per variant, click-through, play-start
//! and completion rates with 95 % Wilson score intervals.
//!
//! The unit is an impressed (profile, title) pair, counted once from its first
//! impression under the variant (reloading a page does not inflate it):
//! - click-through = pairs clicked at or after their first impression / pairs;
//! - play-start = pairs whose title the profile started within the attribution
//!   window after the first impression / pairs;
//! - completion = of those started, pairs with a completed play (≥ 90 %) / started.

use marquee_store::home::ExperimentLog;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;

/// A proportion with its 95 % Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Rate {
    /// Successes.
    pub k: u64,
    /// Trials.
    pub n: u64,
    /// k / n (0 when n is 0).
    pub value: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// The Wilson score interval for `k` successes in `n` trials at z = 1.96.
pub fn wilson(k: u64, n: u64) -> Rate {
    if n == 0 {
        return Rate {
            k,
            n,
            value: 0.0,
            low: 0.0,
            high: 1.0,
        };
    }
    let z = 1.959_963_984_540_054_f64;
    let nf = n as f64;
    let p = k as f64 / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let center = (p + z2 / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    Rate {
        k,
        n,
        value: p,
        low: (center - half).max(0.0),
        high: (center + half).min(1.0),
    }
}

/// One variant's figures.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct VariantMetrics {
    /// The variant.
    pub variant: String,
    /// Profiles that saw it.
    pub profiles: u64,
    /// Page views.
    pub pages: u64,
    /// Impressed (profile, title) pairs.
    pub impressed: u64,
    /// Click-through.
    pub ctr: Rate,
    /// Play starts per impressed pair.
    pub play_start: Rate,
    /// Completions per started pair.
    pub completion: Rate,
}

/// Computes each variant's metrics. `rows`: only impressions in rows whose key
/// starts with one of these count (`None`: the whole page). `window_ms`: how long
/// after the first impression a play start is attributed to it.
pub fn compute(
    variants: &[String],
    log: &ExperimentLog,
    rows: Option<&[&str]>,
    window_ms: i64,
) -> Vec<VariantMetrics> {
    variants
        .iter()
        .map(|v| {
            let mut first: HashMap<(i64, i64), i64> = HashMap::new();
            let mut profiles = HashSet::new();
            let mut pages = 0u64;
            for imp in &log.impressions {
                if imp.experiment.as_ref().map(|e| &e.1) != Some(v) {
                    continue;
                }
                pages += 1;
                profiles.insert(imp.profile_id);
                for (key, ids) in &imp.rows {
                    if let Some(r) = rows {
                        if !r.iter().any(|p| key.starts_with(p)) {
                            continue;
                        }
                    }
                    for &t in ids {
                        let e = first.entry((imp.profile_id, t)).or_insert(imp.at);
                        if imp.at < *e {
                            *e = imp.at;
                        }
                    }
                }
            }
            let clicked: HashSet<(i64, i64)> = log
                .clicks
                .iter()
                .filter(|c| c.experiment.as_ref().map(|e| &e.1) == Some(v))
                .filter(|c| {
                    first
                        .get(&(c.profile_id, c.title_id))
                        .is_some_and(|&t0| c.at >= t0)
                })
                .map(|c| (c.profile_id, c.title_id))
                .collect();
            let mut started: HashSet<(i64, i64)> = HashSet::new();
            let mut completed: HashSet<(i64, i64)> = HashSet::new();
            for p in &log.plays {
                let key = (p.profile_id, p.title_id);
                if let Some(&t0) = first.get(&key) {
                    if p.started_at >= t0 && p.started_at - t0 <= window_ms {
                        started.insert(key);
                        if p.completed {
                            completed.insert(key);
                        }
                    }
                }
            }
            let n = first.len() as u64;
            VariantMetrics {
                variant: v.clone(),
                profiles: profiles.len() as u64,
                pages,
                impressed: n,
                ctr: wilson(clicked.len() as u64, n),
                play_start: wilson(started.len() as u64, n),
                completion: wilson(completed.len() as u64, started.len() as u64),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_reference_values() {
        // Reference: statsmodels proportion_confint(10, 100, method="wilson").
        let r = wilson(10, 100);
        assert!((r.low - 0.055_229_4).abs() < 1e-5, "{r:?}");
        assert!((r.high - 0.174_366_2).abs() < 1e-5, "{r:?}");
        let z = wilson(0, 20);
        assert_eq!(z.low, 0.0);
        assert!((z.high - 0.161_125_6).abs() < 1e-5, "{z:?}");
        assert_eq!(wilson(0, 0).high, 1.0);
    }
}
