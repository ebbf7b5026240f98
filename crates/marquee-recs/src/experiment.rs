//! Model specifications, fitting by specification, and hyper-parameter tuning on
//! validation splits carved out of TRAIN (never TEST). Used by `marquee eval recs` and the
//! benchmarks; pure computation.
//!
//! Specification syntax: `name[:key=value]*`, e.g. `ease`, `ease:lambda=300:rho=0.2`,
//! `als:factors=64:reg=0.05:alpha=0:iters=15`, `knn:k=100`, `knn-bm25:k=100:k1=1.2:b=0.75`,
//! `rp3:alpha=1:beta=0.5:k=200`, `ease:lambda=500:top=500` (EASE pruned to the 500 weights of
//! largest magnitude per row). A bare `ease`, `wease`, `edlae`, `als`, `rp3` or `blend` is
//! tuned on the validation splits; tuned EASE-family models are served pruned to
//! [`SERVED_TOP`] (`wease:top=0` asks for the tuned dense model).

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::als::{self, AlsParams};
use crate::ease::{self, EaseParams};
use crate::error::{RecsError, Result};
use crate::knn::{fit_knn, fit_rp3beta, KnnParams, KnnWeighting, Rp3Params};
use crate::model::{Blend, Model, Popularity};
use crate::protocol::{evaluate, Metrics, Split};
use crate::sparse::Csr;

/// A fully specified model.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelSpec {
    /// Popularity.
    Pop,
    /// Item-kNN.
    Knn(KnnParams),
    /// RP3beta.
    Rp3(Rp3Params),
    /// EASE / EDLAE, optionally pruned to the `top` largest weights per row.
    Ease(EaseParams, Option<usize>),
    /// ALS.
    Als(AlsParams),
    /// Blend of specs.
    Blend(Vec<(f32, ModelSpec)>),
}

/// Weights kept per row of a tuned EASE-family model (largest magnitudes): the served form.
/// Scoring then touches `|history| x 500` weights instead of `|history|` dense rows of the
/// whole catalog (p99 latency well under 1 ms on ml-latest-small), and the model is ~6x
/// smaller; on ml-latest-small it costs about 0.001 NDCG@10.
pub const SERVED_TOP: usize = 500;

/// What a model name on the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Use exactly this specification.
    Fixed(ModelSpec),
    /// Tune this family on the validation split first; then, for the EASE family, keep the
    /// given number of largest-magnitude weights per row (`None`: the dense model).
    Tuned(String, Option<usize>),
}

fn kv(parts: &[&str]) -> Result<Vec<(String, f32)>> {
    parts
        .iter()
        .map(|p| {
            let (k, v) = p.split_once('=').ok_or_else(|| {
                RecsError::InvalidParameter(format!("expected key=value, got {p:?}"))
            })?;
            let v: f32 = v
                .parse()
                .map_err(|_| RecsError::InvalidParameter(format!("bad number in {p:?}")))?;
            Ok((k.to_string(), v))
        })
        .collect()
}

/// Parses one model name of `--models`.
pub fn parse_request(s: &str) -> Result<Request> {
    let parts: Vec<&str> = s.split(':').collect();
    let name = parts[0];
    let params = kv(&parts[1..])?;
    let get = |k: &str, d: f32| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|e| e.1)
            .unwrap_or(d)
    };
    let known = |keys: &[&str]| -> Result<()> {
        match params.iter().find(|(k, _)| !keys.contains(&k.as_str())) {
            Some((k, _)) => Err(RecsError::InvalidParameter(format!(
                "{name}: unknown parameter {k:?}"
            ))),
            None => Ok(()),
        }
    };
    let tuned = params.is_empty();
    match name {
        "pop" => Ok(Request::Fixed(ModelSpec::Pop)),
        "knn" | "knn-cosine" => {
            known(&["k", "shrink"])?;
            Ok(Request::Fixed(ModelSpec::Knn(KnnParams {
                k: get("k", 100.0) as usize,
                weighting: KnnWeighting::Cosine {
                    shrink: get("shrink", 0.0),
                },
            })))
        }
        "knn-bm25" => {
            known(&["k", "k1", "b"])?;
            Ok(Request::Fixed(ModelSpec::Knn(KnnParams {
                k: get("k", 100.0) as usize,
                weighting: KnnWeighting::Bm25 {
                    // implicit's `BM25Recommender` defaults (its `bm25_weight` function's own
                    // defaults, K1=100 and B=0.8, are not what the recommender uses).
                    k1: get("k1", 1.2),
                    b: get("b", 0.75),
                },
            })))
        }
        "rp3" | "rp3beta" if tuned => Ok(Request::Tuned("rp3".into(), None)),
        "rp3" | "rp3beta" => {
            known(&["alpha", "beta", "k"])?;
            let d = Rp3Params::default();
            Ok(Request::Fixed(ModelSpec::Rp3(Rp3Params {
                alpha: get("alpha", d.alpha),
                beta: get("beta", d.beta),
                k: get("k", d.k as f32) as usize,
            })))
        }
        "ease" | "edlae" | "wease" if params.iter().all(|(k, _)| k == "top") => {
            // Tuned; served pruned to SERVED_TOP weights per row unless `top` says otherwise
            // (`top=0`: dense).
            let top = match params.first() {
                Some((_, t)) if *t < 1.0 => None,
                Some((_, t)) => Some(*t as usize),
                None => Some(SERVED_TOP),
            };
            Ok(Request::Tuned(name.into(), top))
        }
        "ease" | "edlae" | "wease" => {
            known(&[
                "lambda",
                "rho",
                "min_support",
                "top",
                "gamma",
                "beta",
                "delta",
            ])?;
            // `top=0` (or no `top`): the dense model.
            let top = params
                .iter()
                .find(|(k, _)| k == "top")
                .map(|e| e.1 as usize)
                .filter(|t| *t > 0);
            Ok(Request::Fixed(ModelSpec::Ease(
                EaseParams {
                    lambda: get("lambda", 500.0),
                    rho: get("rho", 0.0),
                    min_support: get("min_support", 1.0) as u32,
                    user_exponent: get("gamma", 0.0),
                    pop_exponent: get("beta", 0.0),
                    mainstream_exponent: get("delta", 0.0),
                },
                top,
            )))
        }
        "als" if tuned => Ok(Request::Tuned("als".into(), None)),
        "als" => {
            known(&["factors", "reg", "alpha", "iters", "cg"])?;
            let d = AlsParams::default();
            Ok(Request::Fixed(ModelSpec::Als(AlsParams {
                factors: get("factors", d.factors as f32) as usize,
                regularization: get("reg", d.regularization),
                alpha: get("alpha", d.alpha),
                iterations: get("iters", d.iterations as f32) as usize,
                cg_steps: get("cg", d.cg_steps as f32) as usize,
            })))
        }
        "blend" => Ok(Request::Tuned("blend".into(), None)),
        other => Err(RecsError::InvalidParameter(format!(
            "unknown model {other:?} (pop, knn, knn-bm25, rp3, ease, edlae, als, blend)"
        ))),
    }
}

impl ModelSpec {
    /// The same model pruned to `top` weights per row (EASE family; other models unchanged).
    pub fn pruned(self, top: Option<usize>) -> ModelSpec {
        match self {
            ModelSpec::Ease(p, _) => ModelSpec::Ease(p, top),
            other => other,
        }
    }

    /// A short human-readable description with all parameters.
    pub fn describe(&self) -> String {
        match self {
            ModelSpec::Pop => "pop".into(),
            ModelSpec::Knn(p) => match p.weighting {
                KnnWeighting::Cosine { shrink } => format!("knn:k={}:shrink={shrink}", p.k),
                KnnWeighting::Bm25 { k1, b } => format!("knn-bm25:k={}:k1={k1}:b={b}", p.k),
            },
            ModelSpec::Rp3(p) => format!("rp3:alpha={}:beta={}:k={}", p.alpha, p.beta, p.k),
            ModelSpec::Ease(p, top) => {
                let base = if p.user_exponent != 0.0
                    || p.pop_exponent != 0.0
                    || p.mainstream_exponent != 0.0
                {
                    "wease"
                } else if p.rho > 0.0 {
                    "edlae"
                } else {
                    "ease"
                };
                let mut s = format!("{base}:lambda={}:rho={}", p.lambda, p.rho);
                if p.user_exponent != 0.0 {
                    s.push_str(&format!(":gamma={}", p.user_exponent));
                }
                if p.pop_exponent != 0.0 {
                    s.push_str(&format!(":beta={}", p.pop_exponent));
                }
                if p.mainstream_exponent != 0.0 {
                    s.push_str(&format!(":delta={}", p.mainstream_exponent));
                }
                if p.min_support > 1 {
                    s.push_str(&format!(":min_support={}", p.min_support));
                }
                if let Some(t) = top {
                    s.push_str(&format!(":top={t}"));
                }
                s
            }
            ModelSpec::Als(p) => format!(
                "als:factors={}:reg={}:alpha={}:iters={}:cg={}",
                p.factors, p.regularization, p.alpha, p.iterations, p.cg_steps
            ),
            ModelSpec::Blend(c) => {
                let parts: Vec<String> = c
                    .iter()
                    .map(|(w, s)| format!("{w}*{}", s.describe()))
                    .collect();
                format!("blend({})", parts.join(" + "))
            }
        }
    }

    /// Fits the model on `train` (current rayon pool). `seed` seeds the RNG of stochastic
    /// models; `progress` is called with (step, total steps) while fitting.
    pub fn fit(
        &self,
        train: &Csr,
        seed: u64,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Model> {
        let model = match self {
            ModelSpec::Pop => Model::Popularity(Popularity::fit(train)),
            ModelSpec::Knn(p) => Model::ItemItem(fit_knn(train, p)?),
            ModelSpec::Rp3(p) => Model::ItemItem(fit_rp3beta(train, p)?),
            ModelSpec::Ease(p, top) => {
                let m = ease::fit(train, p)?;
                Model::ItemItem(match top {
                    Some(k) => m.prune(*k),
                    None => m,
                })
            }
            ModelSpec::Als(p) => {
                let mut rng = StdRng::seed_from_u64(seed);
                let total = p.iterations;
                Model::Als(als::fit(train, p, &mut rng, &mut |it| progress(it, total))?)
            }
            ModelSpec::Blend(c) => {
                let mut components = Vec::with_capacity(c.len());
                for (w, s) in c {
                    components.push((*w, s.fit(train, seed, progress)?));
                }
                Model::Blend(Blend { components })
            }
        };
        progress(1, 1);
        Ok(model)
    }
}

/// Outcome of tuning: the chosen spec and every trial's validation NDCG@10.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// The winning specification.
    pub best: ModelSpec,
    /// Validation metrics of the winner.
    pub best_metrics: Metrics,
    /// `(spec, validation NDCG@10)` for every trial, in order.
    pub trials: Vec<(String, f64)>,
}

struct Tuner<'a> {
    vals: &'a [Split],
    seed: u64,
    trials: Vec<(String, f64)>,
    best: Option<(ModelSpec, Metrics)>,
    on_trial: &'a mut dyn FnMut(&str, f64),
}

impl Tuner<'_> {
    fn try_spec(&mut self, spec: ModelSpec) -> Result<f64> {
        let d = spec.describe();
        if let Some(v) = self.seen(&d) {
            return Ok(v);
        }
        let mut folds = Vec::with_capacity(self.vals.len());
        for val in self.vals {
            let model = spec.fit(&val.train, self.seed, &mut |_, _| {})?;
            folds.push(evaluate(val, &model));
        }
        Ok(self.record(spec, d, &folds))
    }

    /// The mean NDCG@10 of a trial already run (by its description).
    fn seen(&self, described: &str) -> Option<f64> {
        self.trials
            .iter()
            .find(|(n, _)| n == described)
            .map(|(_, v)| *v)
    }

    /// Records a trial's per-fold metrics (unless already recorded); returns its mean NDCG@10.
    fn record(&mut self, spec: ModelSpec, described: String, folds: &[Metrics]) -> f64 {
        if let Some(v) = self.seen(&described) {
            return v;
        }
        let m = Metrics::mean(folds);
        (self.on_trial)(&described, m.ndcg_at_10);
        self.trials.push((described, m.ndcg_at_10));
        if self
            .best
            .as_ref()
            .is_none_or(|(_, b)| m.ndcg_at_10 > b.ndcg_at_10)
        {
            self.best = Some((spec, m));
        }
        m.ndcg_at_10
    }

    /// Golden-section-free 1-D search over a geometric grid: scans `grid`, returns the best
    /// value (ties keep the first).
    fn scan(&mut self, grid: &[f32], make: &dyn Fn(f32) -> ModelSpec) -> Result<f32> {
        let mut best = (f64::NEG_INFINITY, grid.first().copied().unwrap_or(0.0));
        for &g in grid {
            let v = self.try_spec(make(g))?;
            if v > best.0 {
                best = (v, g);
            }
        }
        Ok(best.1)
    }
}

/// Tunes a model family by NDCG@10 averaged over `vals` (validation splits carved out of
/// TRAIN, see [`Split::validation_folds`]).
/// Families: `ease` (λ), `edlae` (λ and ρ), `wease` (λ, user weighting γ, popularity debiasing β), `rp3` (α, β), `als` (reg and alpha at 64 factors and
/// 15 iterations), `blend` (EDLAE + RP3beta weight).
pub fn tune(
    family: &str,
    vals: &[Split],
    seed: u64,
    on_trial: &mut dyn FnMut(&str, f64),
) -> Result<Tuning> {
    if vals.is_empty() {
        return Err(RecsError::InvalidInput(
            "tuning needs at least one validation split".into(),
        ));
    }
    let mut t = Tuner {
        vals,
        seed,
        trials: Vec::new(),
        best: None,
        on_trial,
    };
    let lambdas = [50.0, 100.0, 200.0, 400.0, 800.0, 1600.0];
    match family {
        "ease" => {
            t.scan(&lambdas, &|l| {
                ModelSpec::Ease(
                    EaseParams {
                        lambda: l,
                        ..Default::default()
                    },
                    None,
                )
            })?;
        }
        "edlae" | "blend" => {
            let rhos = [0.0, 0.1, 0.25, 0.5];
            let mut lambda = t.scan(&lambdas, &|l| {
                ModelSpec::Ease(
                    EaseParams {
                        lambda: l,
                        ..Default::default()
                    },
                    None,
                )
            })?;
            let rho = t.scan(&rhos, &|r| {
                ModelSpec::Ease(
                    EaseParams {
                        lambda,
                        rho: r,
                        ..Default::default()
                    },
                    None,
                )
            })?;
            if rho > 0.0 {
                let fine = [lambda / 4.0, lambda / 2.0, lambda, lambda * 2.0];
                lambda = t.scan(&fine, &|l| {
                    ModelSpec::Ease(
                        EaseParams {
                            lambda: l,
                            rho,
                            ..Default::default()
                        },
                        None,
                    )
                })?;
            }
            if family == "blend" {
                let ease = ModelSpec::Ease(
                    EaseParams {
                        lambda,
                        rho,
                        ..Default::default()
                    },
                    None,
                );
                let (rp3, _) = tune_rp3(&mut t)?;
                t.best = None;
                t.scan(&[0.0, 0.1, 0.2, 0.3, 0.5], &|w| {
                    ModelSpec::Blend(vec![(1.0 - w, ease.clone()), (w, rp3.clone())])
                })?;
            }
        }
        "rp3" => {
            tune_rp3(&mut t)?;
        }
        "wease" => tune_wease(&mut t)?,
        "als" => {
            let base = AlsParams::default();
            let alpha = t.scan(&[0.0, 1.0, 3.0, 9.0], &|a| {
                ModelSpec::Als(AlsParams { alpha: a, ..base })
            })?;
            t.scan(&[0.05, 1.0, 5.0, 20.0], &|r| {
                ModelSpec::Als(AlsParams {
                    alpha,
                    regularization: r,
                    ..base
                })
            })?;
        }
        other => {
            return Err(RecsError::InvalidParameter(format!(
                "cannot tune {other:?}"
            )))
        }
    }
    let (best, best_metrics) = t
        .best
        .ok_or_else(|| RecsError::InvalidInput("tuning ran no trial".into()))?;
    Ok(Tuning {
        best,
        best_metrics,
        trials: t.trials,
    })
}

/// Weighted EASE: λ, user weighting γ, popularity debiasing β and mainstream weighting δ.
/// The parameters interact (λ with β above all) and the validation surface is flat near its
/// top, so after a coarse λ scan a full grid is searched rather than one coordinate at a
/// time: λ around the coarse optimum x γ x δ, each fitted once per validation split, and β
/// applied to that fit's scores (see [`ease::fit_with_popularity`]).
fn tune_wease(t: &mut Tuner<'_>) -> Result<()> {
    let mk = |lambda: f32, g: f32, b: f32, d: f32| {
        ModelSpec::Ease(
            EaseParams {
                lambda,
                user_exponent: g,
                pop_exponent: b,
                mainstream_exponent: d,
                ..Default::default()
            },
            None,
        )
    };
    let coarse = [50.0, 100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0];
    let l0 = t.scan(&coarse, &|l| mk(l, 0.25, 0.2, 0.0))?;
    let lambdas = [
        l0 / std::f32::consts::SQRT_2,
        l0,
        l0 * std::f32::consts::SQRT_2,
    ];
    let gammas = [0.0, 0.15, 0.25, 0.35];
    let deltas = [0.0, 0.15, 0.25, 0.35];
    let betas = [0.0, 0.1, 0.2, 0.3];
    for &lambda in &lambdas {
        for &g in &gammas {
            for &d in &deltas {
                let base = EaseParams {
                    lambda,
                    user_exponent: g,
                    mainstream_exponent: d,
                    ..Default::default()
                };
                let mut per_beta = vec![Vec::with_capacity(t.vals.len()); betas.len()];
                for val in t.vals {
                    let (fit, popularity) = ease::fit_with_popularity(&val.train, &base)?;
                    let model = Model::ItemItem(fit);
                    for (k, &beta) in betas.iter().enumerate() {
                        let scale: Vec<f32> = popularity
                            .iter()
                            .map(|&p| if p > 0.0 { ease::debias(p, beta) } else { 1.0 })
                            .collect();
                        let scorer = |h: &[(u32, f32)], out: &mut [f32]| {
                            model.score(h, out);
                            out.iter_mut().zip(&scale).for_each(|(o, s)| *o *= s);
                        };
                        per_beta[k].push(evaluate(val, &scorer));
                    }
                }
                for (k, &beta) in betas.iter().enumerate() {
                    let spec = mk(lambda, g, beta, d);
                    let described = spec.describe();
                    t.record(spec, described, &per_beta[k]);
                }
            }
        }
    }
    Ok(())
}

fn tune_rp3(t: &mut Tuner<'_>) -> Result<(ModelSpec, f64)> {
    let beta = t.scan(&[0.0, 0.2, 0.4, 0.6], &|b| {
        ModelSpec::Rp3(Rp3Params {
            alpha: 1.0,
            beta: b,
            k: 200,
        })
    })?;
    let alpha = t.scan(&[0.6, 0.8, 1.0, 1.2], &|a| {
        ModelSpec::Rp3(Rp3Params {
            alpha: a,
            beta,
            k: 200,
        })
    })?;
    let spec = ModelSpec::Rp3(Rp3Params {
        alpha,
        beta,
        k: 200,
    });
    Ok((spec, 0.0))
}
