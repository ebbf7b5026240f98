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
//! Rows are solved in blocks of 128 whose CG iterations run in lock-step, so the `YᵀY · p`
//! products (most of the work) are one small GEMM per block and step; the iteration itself is
//! exactly implicit's per row (including its early exits).
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
        Self {
            factors: 64,
            regularization: 0.05,
            alpha: 0.0,
            iterations: 15,
            cg_steps: 3,
        }
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
    let par = if rayon::current_num_threads() <= 1 {
        faer::Par::Seq
    } else {
        faer::Par::rayon(0)
    };
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

/// Rows solved together: the `YᵀY` products of a block are one GEMM (`f x f` times
/// `f x BLOCK`), which runs near the CPU's peak, instead of `BLOCK` matrix-vector products.
const BLOCK: usize = 128;

/// `dst = scale · YtY · src` for a block of row-major `nb x f` rows (column-major `f x nb`).
fn gemm_block(yty: &[f32], src: &[f32], dst: &mut [f32], f: usize, scale: f32) {
    let nb = src.len() / f;
    faer::linalg::matmul::matmul(
        faer::MatMut::from_column_major_slice_mut(dst, f, nb),
        faer::Accum::Replace,
        faer::MatRef::from_column_major_slice(yty, f, f),
        faer::MatRef::from_column_major_slice(src, f, nb),
        scale,
        faer::Par::Seq,
    );
}

/// Scratch of one block.
struct BlockBuf {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
    rs: Vec<f32>,
    active: Vec<bool>,
}

impl BlockBuf {
    fn new(f: usize) -> Self {
        Self {
            r: vec![0.0; BLOCK * f],
            p: vec![0.0; BLOCK * f],
            ap: vec![0.0; BLOCK * f],
            rs: vec![0.0; BLOCK],
            active: vec![false; BLOCK],
        }
    }
}

/// Conjugate-gradient update of a block of rows `first..first + nb`, the same iteration as
/// implicit's `_least_squares_cg` (warm start from the current factors, `cg_steps` steps,
/// per-row early exit at `|r|² < 1e-20`, rows without interactions set to zero), run in
/// lock-step so the `YᵀY` products are matrix-matrix products.
#[allow(clippy::too_many_arguments)]
fn cg_block(
    m: &Csr,
    first: usize,
    yty: &[f32],
    y: &[f32],
    xb: &mut [f32],
    buf: &mut BlockBuf,
    alpha: f32,
    cg_steps: usize,
) {
    let f = yty.len().isqrt();
    let nb = xb.len() / f;
    let n = nb * f;
    let BlockBuf {
        r,
        p,
        ap,
        rs,
        active,
    } = buf;
    let (r, p, ap) = (&mut r[..n], &mut p[..n], &mut ap[..n]);
    // r = b - A x, with A = YtY + Σ (c-1) y yᵀ, b = Σ c y.
    gemm_block(yty, xb, r, f, -1.0);
    let arch = pulp::Arch::new();
    arch.dispatch(|| {
        for k in 0..nb {
            let (cols, vals) = m.row(first + k);
            let xu = &mut xb[k * f..(k + 1) * f];
            let ru = &mut r[k * f..(k + 1) * f];
            if cols.is_empty() {
                xu.iter_mut().for_each(|v| *v = 0.0);
                ru.iter_mut().for_each(|v| *v = 0.0);
                active[k] = false;
                continue;
            }
            for (&i, &v) in cols.iter().zip(vals) {
                let c = 1.0 + alpha * v;
                let yi = &y[i as usize * f..(i as usize + 1) * f];
                let coef = c - (c - 1.0) * dot(yi, xu);
                axpy(coef, yi, ru);
            }
            rs[k] = dot(ru, ru);
            active[k] = rs[k] >= 1e-20;
        }
    });
    p.copy_from_slice(r);
    for _ in 0..cg_steps {
        if !active[..nb].iter().any(|&a| a) {
            break;
        }
        gemm_block(yty, p, ap, f, 1.0);
        arch.dispatch(|| {
            for k in 0..nb {
                if !active[k] {
                    continue;
                }
                let pu = &mut p[k * f..(k + 1) * f];
                let apu = &mut ap[k * f..(k + 1) * f];
                if alpha != 0.0 {
                    let (cols, vals) = m.row(first + k);
                    for (&i, &v) in cols.iter().zip(vals) {
                        let yi = &y[i as usize * f..(i as usize + 1) * f];
                        axpy(alpha * v * dot(yi, pu), yi, apu);
                    }
                }
                let pap = dot(pu, apu);
                if pap.is_nan() || pap <= 0.0 {
                    active[k] = false;
                    continue;
                }
                let a = rs[k] / pap;
                let ru = &mut r[k * f..(k + 1) * f];
                axpy(a, pu, &mut xb[k * f..(k + 1) * f]);
                axpy(-a, apu, ru);
                let rsnew = dot(ru, ru);
                if rsnew < 1e-20 {
                    active[k] = false;
                    continue;
                }
                let beta = rsnew / rs[k];
                for (pv, rv) in pu.iter_mut().zip(ru.iter()) {
                    *pv = rv + beta * *pv;
                }
                rs[k] = rsnew;
            }
        });
    }
}

/// CG sweep over every row of `x` given fixed `y`.
fn sweep(m: &Csr, y: &[f32], x: &mut [f32], f: usize, reg: f32, alpha: f32, cg_steps: usize) {
    let yty = gram(y, f, reg);
    x.par_chunks_mut(BLOCK * f).enumerate().for_each_init(
        || BlockBuf::new(f),
        |buf, (b, xb)| cg_block(m, b * BLOCK, &yty, y, xb, buf, alpha, cg_steps),
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
    if f == 0
        || params.regularization.is_nan()
        || params.regularization < 0.0
        || params.alpha.is_nan()
        || params.alpha < 0.0
    {
        return Err(RecsError::InvalidParameter(
            "ALS needs factors >= 1, reg >= 0, alpha >= 0".into(),
        ));
    }
    let mut x: Vec<f32> = (0..train.nrows() * f)
        .map(|_| rng.gen::<f32>() * 0.01)
        .collect();
    let mut y: Vec<f32> = (0..train.ncols() * f)
        .map(|_| rng.gen::<f32>() * 0.01)
        .collect();
    let xt = train.transpose();
    for it in 0..params.iterations {
        sweep(
            train,
            &y,
            &mut x,
            f,
            params.regularization,
            params.alpha,
            params.cg_steps,
        );
        sweep(
            &xt,
            &x,
            &mut y,
            f,
            params.regularization,
            params.alpha,
            params.cg_steps,
        );
        on_iteration(it + 1);
    }
    let gram = gram(&y, f, params.regularization);
    Ok(Als {
        factors: f,
        alpha: params.alpha,
        regularization: params.regularization,
        item_factors: y,
        gram,
    })
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
        // Σ (c-1) y yᵀ as one GEMM: W is f x n column-major with columns sqrt(c-1)·y.
        let mut w: Vec<f32> = Vec::with_capacity(history.len() * f);
        for &(h, wt) in history {
            let Some(y) = self.item(h) else { continue };
            let cm1 = self.alpha * wt;
            if cm1 > 0.0 {
                let s = cm1.sqrt();
                w.extend(y.iter().map(|v| v * s));
            }
            axpy(1.0 + cm1, y, &mut b);
        }
        let n = w.len() / f.max(1);
        if n > 0 {
            let wm = faer::MatRef::from_column_major_slice(&w, f, n);
            faer::linalg::matmul::matmul(
                faer::MatMut::from_column_major_slice_mut(&mut a, f, f),
                faer::Accum::Add,
                wm,
                wm.transpose(),
                1.0f32,
                faer::Par::Seq,
            );
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
        self.solve_user(history)
            .map(|(_, x)| x)
            .unwrap_or_else(|| vec![0.0; self.factors])
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
        self.because_with(&l, history, item)
    }

    /// [`Als::because`] for many items with one factorisation of the user system.
    pub fn because_many(&self, history: &[(u32, f32)], items: &[u32]) -> Vec<Option<(u32, f32)>> {
        match self.solve_user(history) {
            Some((l, _)) => items
                .iter()
                .map(|&i| self.because_with(&l, history, i))
                .collect(),
            None => vec![None; items.len()],
        }
    }

    fn because_with(&self, l: &[f32], history: &[(u32, f32)], item: u32) -> Option<(u32, f32)> {
        let mut z = self.item(item)?.to_vec();
        cholesky_solve(l, self.factors, &mut z);
        history
            .iter()
            .filter_map(|&(h, w)| {
                self.item(h)
                    .map(|y| (h, (1.0 + self.alpha * w) * dot(y, &z)))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    /// Items most similar to `item` by cosine of item factors.
    pub fn similar(&self, item: u32, n: usize) -> Vec<(u32, f32)> {
        let Some(q) = self.item(item) else {
            return Vec::new();
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// 300 rows (more than one block, a partial last block), 40 columns, one empty row.
    fn problem() -> (Csr, Vec<f32>, Vec<f32>, usize) {
        let mut rng = StdRng::seed_from_u64(3);
        let (n, m, f) = (300usize, 40usize, 6usize);
        let mut t = Vec::new();
        for u in 0..n as u32 {
            if u == 130 {
                continue;
            }
            for i in 0..m as u32 {
                if rng.gen::<f32>() < 0.15 {
                    t.push((u, i, 1.0 + (i % 3) as f32));
                }
            }
        }
        let csr = Csr::from_triplets(n, m, &t).unwrap();
        let x: Vec<f32> = (0..n * f).map(|_| rng.gen::<f32>() * 0.1).collect();
        let y: Vec<f32> = (0..m * f).map(|_| rng.gen::<f32>() * 0.5).collect();
        (csr, x, y, f)
    }

    /// Plain per-row CG (implicit's `_least_squares_cg`), the reference for the blocked sweep.
    fn reference(m: &Csr, y: &[f32], x: &mut [f32], f: usize, reg: f32, alpha: f32, steps: usize) {
        let yty = gram(y, f, reg);
        let mv =
            |v: &[f32]| -> Vec<f32> { (0..f).map(|k| dot(&yty[k * f..(k + 1) * f], v)).collect() };
        for (u, xu) in x.chunks_mut(f).enumerate() {
            let (cols, vals) = m.row(u);
            if cols.is_empty() {
                xu.iter_mut().for_each(|v| *v = 0.0);
                continue;
            }
            let mut r: Vec<f32> = mv(xu).iter().map(|v| -v).collect();
            for (&i, &v) in cols.iter().zip(vals) {
                let c = 1.0 + alpha * v;
                let yi = &y[i as usize * f..(i as usize + 1) * f];
                axpy(c - (c - 1.0) * dot(yi, xu), yi, &mut r);
            }
            let mut p = r.clone();
            let mut rs = dot(&r, &r);
            for _ in 0..steps {
                let mut ap = mv(&p);
                for (&i, &v) in cols.iter().zip(vals) {
                    let yi = &y[i as usize * f..(i as usize + 1) * f];
                    axpy(alpha * v * dot(yi, &p), yi, &mut ap);
                }
                let a = rs / dot(&p, &ap);
                axpy(a, &p, xu);
                axpy(-a, &ap, &mut r);
                let rn = dot(&r, &r);
                if rn < 1e-20 {
                    break;
                }
                p.iter_mut()
                    .zip(&r)
                    .for_each(|(pv, rv)| *pv = rv + rn / rs * *pv);
                rs = rn;
            }
        }
    }

    #[test]
    fn blocked_sweep_matches_per_row_cg() {
        let (m, x0, y, f) = problem();
        for alpha in [0.0f32, 2.0] {
            let (mut a, mut b) = (x0.clone(), x0.clone());
            sweep(&m, &y, &mut a, f, 0.3, alpha, 3);
            reference(&m, &y, &mut b, f, 0.3, alpha, 3);
            assert!(a[130 * f..131 * f].iter().all(|v| *v == 0.0));
            for (k, (u, v)) in a.iter().zip(&b).enumerate() {
                assert!(
                    (u - v).abs() <= 1e-4 * (1.0 + v.abs()),
                    "alpha {alpha}, {k}: {u} vs {v}"
                );
            }
            assert_ne!(a, x0);
        }
    }

    #[test]
    fn converged_sweep_solves_the_normal_equations() {
        let (m, x0, y, f) = problem();
        let mut x = x0;
        let (reg, alpha) = (0.3f32, 2.0f32);
        sweep(&m, &y, &mut x, f, reg, alpha, 30);
        let model = Als {
            factors: f,
            alpha,
            regularization: reg,
            item_factors: y.clone(),
            gram: gram(&y, f, reg),
        };
        for u in [0usize, 129, 299] {
            let (cols, vals) = m.row(u);
            let hist: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
            let exact = model.user_factors(&hist);
            for (a, b) in x[u * f..(u + 1) * f].iter().zip(&exact) {
                assert!(
                    (a - b).abs() < 1e-3 * (1.0 + b.abs()),
                    "row {u}: {a} vs {b}"
                );
            }
        }
    }
}
