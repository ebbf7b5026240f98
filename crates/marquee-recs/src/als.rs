//! Implicit-feedback ALS (Hu, Koren & Volinsky 2008) with a conjugate-gradient solver
//! (Takács et al. 2011), multithreaded with rayon.
//!
//! Objective: `Σ_{u,i} c_ui (p_ui - x_uᵀ y_i)² + reg (Σ‖x_u‖² + Σ‖y_i‖²)` with
//! `p_ui = 1` for observed pairs and confidence `c_ui = 1 + alpha · r_ui` (`c = 1` elsewhere).
//!
//! **Mapping to `implicit`**: `implicit.als.AlternatingLeastSquares(alpha=a)` multiplies the
//! matrix by `a` and uses the product as the confidence of observed entries (missing entries
//! have confidence 1). On binary data its `alpha = a` is therefore this crate's
//! `alpha = a - 1` (implicit's default `alpha = 1.0` is `alpha = 0.0` here). `factors`,
//! `regularization`, `iterations` and `cg_steps` (implicit's default 3) mean the same.
//!
//! At request time a user's factors are solved exactly (Cholesky of the `f x f` system) from
//! their current history, so new feedback counts without retraining.

use rand::Rng;
use rayon::prelude::*;

use crate::error::{RecsError, Result};
use crate::linalg::{axpy, cholesky, cholesky_solve, dot};
use crate::sparse::Csr;

/// Hyper-parameters of ALS.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlsParams {
    /// Number of latent factors.
    pub factors: usize,
    /// L2 penalty.
    pub regularization: f32,
    /// Hu et al.'s alpha: confidence `1 + alpha · r` (implicit's alpha minus one).
    pub alpha: f32,
    /// Alternating sweeps (users then items).
    pub iterations: usize,
    /// Conjugate-gradient steps per row and sweep.
    pub cg_steps: usize,
}

impl Default for AlsParams {
    fn default() -> Self {
        Self { factors: 64, regularization: 0.05, alpha: 0.0, iterations: 15, cg_steps: 3 }
    }
}

/// A trained ALS model: item factors plus what a request-time user solve needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Als {
    pub(crate) factors: usize,
    pub(crate) alpha: f32,
    pub(crate) regularization: f32,
    /// Row-major `n_items x factors`.
    pub(crate) item_factors: Vec<f32>,
    /// Row-major `factors x factors`: `YᵀY + reg·I`.
    pub(crate) gram: Vec<f32>,
}

/// `YᵀY + reg·I` of row-major `n x f` factors (a faer GEMM on the current rayon pool).
fn gram(y: &[f32], f: usize, reg: f32) -> Vec<f32> {
    let n = y.len() / f.max(1);
    let mut g = vec![0f32; f * f];
    // Row-major n x f is column-major f x n.
    let a = faer::MatRef::from_column_major_slice(&y[..n * f], f, n);
    let par = if rayon::current_num_threads() <= 1 { faer::Par::Seq } else { faer::Par::rayon(0) };
    faer::linalg::matmul::matmul(
        faer::MatMut::from_column_major_slice_mut(&mut g, f, f),
        faer::Accum::Replace,
        a,
        a.transpose(),
        1.0f32,
        par,
    );
    for k in 0..f {
        g[k * f + k] += reg;
    }
    g
}

/// `out = A p` for a symmetric row-major `f x f` matrix.
#[inline(always)]
fn matvec(a: &[f32], p: &[f32], out: &mut [f32]) {
    let f = p.len();
    for (k, o) in out.iter_mut().enumerate() {
        *o = dot(&a[k * f..(k + 1) * f], p);
    }
}

/// One row's conjugate-gradient update, like implicit's `_least_squares_cg`. Dispatched
/// through `pulp` so the kernels are compiled for the best SIMD level of the CPU at run time.
struct RowCg<'a> {
    yty: &'a [f32],
    y: &'a [f32],
    cols: &'a [u32],
    vals: &'a [f32],
    xu: &'a mut [f32],
    r: &'a mut [f32],
    p: &'a mut [f32],
    ap: &'a mut [f32],
    alpha: f32,
    cg_steps: usize,
}

impl pulp::WithSimd for RowCg<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let RowCg { yty, y, cols, vals, xu, r, p, ap, alpha, cg_steps } = self;
        let f = xu.len();
        // r = b - A x, with A = YtY + Σ (c-1) y yᵀ, b = Σ c y.
        matvec(yty, xu, r);
        r.iter_mut().for_each(|v| *v = -*v);
        for (&i, &v) in cols.iter().zip(vals) {
            let c = 1.0 + alpha * v;
            let yi = &y[i as usize * f..(i as usize + 1) * f];
            let coef = c - (c - 1.0) * dot(yi, xu);
            axpy(coef, yi, r);
        }
        p.copy_from_slice(r);
        let mut rsold = dot(r, r);
        if rsold < 1e-20 {
            return;
        }
        for _ in 0..cg_steps {
            matvec(yty, p, ap);
            if alpha != 0.0 {
                for (&i, &v) in cols.iter().zip(vals) {
                    let yi = &y[i as usize * f..(i as usize + 1) * f];
                    axpy(alpha * v * dot(yi, p), yi, ap);
                }
            }
            let pap = dot(p, ap);
            if !(pap > 0.0) {
                break;
            }
            let a = rsold / pap;
            axpy(a, p, xu);
            axpy(-a, ap, r);
            let rsnew = dot(r, r);
            if rsnew < 1e-20 {
                break;
            }
            let beta = rsnew / rsold;
            for (pv, rv) in p.iter_mut().zip(r.iter()) {
                *pv = rv + beta * *pv;
            }
            rsold = rsnew;
        }
    }
}

/// CG sweep over every row of `x` given fixed `y`.
fn sweep(m: &Csr, y: &[f32], x: &mut [f32], f: usize, reg: f32, alpha: f32, cg_steps: usize) {
    let yty = gram(y, f, reg);
    let arch = pulp::Arch::new();
    x.par_chunks_mut(f).enumerate().for_each_init(
        || (vec![0f32; f], vec![0f32; f], vec![0f32; f]),
        |(r, p, ap), (u, xu)| {
            let (cols, vals) = m.row(u);
            arch.dispatch(RowCg { yty: &yty, y, cols, vals, xu, r, p, ap, alpha, cg_steps });
        },
    );
}

/// Fits ALS on a users x items TRAIN matrix with values `r` (1 for binary data). The RNG
/// initialises the factors (uniform `[0, 0.01)`, like implicit). `on_iteration` is called after
/// every sweep (progress reporting). Runs on the current rayon pool.
pub fn fit(
    train: &Csr,
    params: &AlsParams,
    rng: &mut impl Rng,
    on_iteration: &mut dyn FnMut(usize),
) -> Result<Als> {
    let f = params.factors;
    if f == 0 || !(params.regularization >= 0.0) || !(params.alpha >= 0.0) {
        return Err(RecsError::InvalidParameter("ALS needs factors >= 1, reg >= 0, alpha >= 0".into()));
    }
    let mut x: Vec<f32> = (0..train.nrows() * f).map(|_| rng.gen::<f32>() * 0.01).collect();
    let mut y: Vec<f32> = (0..train.ncols() * f).map(|_| rng.gen::<f32>() * 0.01).collect();
    let xt = train.transpose();
    for it in 0..params.iterations {
        sweep(train, &y, &mut x, f, params.regularization, params.alpha, params.cg_steps);
        sweep(&xt, &x, &mut y, f, params.regularization, params.alpha, params.cg_steps);
        on_iteration(it + 1);
    }
    let gram = gram(&y, f, params.regularization);
    Ok(Als { factors: f, alpha: params.alpha, regularization: params.regularization, item_factors: y, gram })
}

impl Als {
    /// Number of latent factors.
    pub fn factors(&self) -> usize {
        self.factors
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.item_factors.len() / self.factors.max(1)
    }

    /// Row-major item factors.
    pub fn item_factors(&self) -> &[f32] {
        &self.item_factors
    }

    fn item(&self, i: u32) -> Option<&[f32]> {
        let f = self.factors;
        self.item_factors.get(i as usize * f..(i as usize + 1) * f)
    }

    /// Cholesky factor of the user system for a history, and the right-hand side solved.
    fn solve_user(&self, history: &[(u32, f32)]) -> Option<(Vec<f32>, Vec<f32>)> {
        let f = self.factors;
        let mut a = self.gram.clone();
        let mut b = vec![0f32; f];
        for &(h, w) in history {
            let Some(y) = self.item(h) else { continue };
            let cm1 = self.alpha * w;
            if cm1 != 0.0 {
                for k in 0..f {
                    crate::linalg::axpy(cm1 * y[k], y, &mut a[k * f..(k + 1) * f]);
                }
            }
            crate::linalg::axpy(1.0 + cm1, y, &mut b);
        }
        if !cholesky(&mut a, f) {
            return None;
        }
        let mut x = b;
        cholesky_solve(&a, f, &mut x);
        Some((a, x))
    }

    /// User factors solved from a history.
    pub fn user_factors(&self, history: &[(u32, f32)]) -> Vec<f32> {
        self.solve_user(history).map(|(_, x)| x).unwrap_or_else(|| vec![0.0; self.factors])
    }

    /// `out += Y x_u` with `x_u` solved from the history.
    pub fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        let x = self.user_factors(history);
        let f = self.factors;
        for (o, y) in out.iter_mut().zip(self.item_factors.chunks_exact(f)) {
            *o += dot(y, &x);
        }
    }

    /// The history item contributing most to the score of `item`:
    /// `score_j = Σ_h c_h y_jᵀ A⁻¹ y_h`, so item `h` contributes `c_h y_jᵀ A⁻¹ y_h`.
    pub fn because(&self, history: &[(u32, f32)], item: u32) -> Option<(u32, f32)> {
        let (l, _) = self.solve_user(history)?;
        let mut z = self.item(item)?.to_vec();
        cholesky_solve(&l, self.factors, &mut z);
        history
            .iter()
            .filter_map(|&(h, w)| self.item(h).map(|y| (h, (1.0 + self.alpha * w) * dot(y, &z))))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    /// Items most similar to `item` by cosine of item factors.
    pub fn similar(&self, item: u32, n: usize) -> Vec<(u32, f32)> {
        let Some(q) = self.item(item) else { return Vec::new() };
        let qn = dot(q, q).sqrt().max(f32::MIN_POSITIVE);
        let scores: Vec<f32> = self
            .item_factors
            .chunks_exact(self.factors)
            .map(|y| dot(y, q) / (qn * dot(y, y).sqrt().max(f32::MIN_POSITIVE)))
            .collect();
        crate::topn::top_n(&scores, n, |j| j != item)
    }

    /// Bytes of model data held in memory.
    pub fn heap_bytes(&self) -> usize {
        (self.item_factors.len() + self.gram.len()) * 4
    }
}
