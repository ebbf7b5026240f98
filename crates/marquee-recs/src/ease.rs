//! EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data").
//!
//! `P = (G + Λ)^-1` with `G = XᵀX`, `B = I - P · diag(1 / diag(P))` (zero diagonal).
//! `Λ = diag(λ + ρ·G_ii)`: `ρ = 0` is plain EASE, `ρ > 0` adds the popularity-proportional
//! L2 penalty of EDLAE (Steck 2020, dropout `p` gives `ρ = p / (1 - p)`).
//!
//! The inverse is computed by faer, in `f32`, in whichever form is cheaper:
//! * items <= users: Cholesky of the `m x m` Gram matrix and its inverse (`m³` flops);
//! * users < items: Woodbury, `P = Λ⁻¹ - Zᵀ Z` with `Z = L⁻¹ X Λ⁻¹` and
//!   `L Lᵀ = I + X Λ⁻¹ Xᵀ` (`u x u`), i.e. `O(m² u)` flops instead of `O(m³)`.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::error::{RecsError, Result};
use crate::itemitem::ItemItem;
use crate::sparse::Csr;

/// Hyper-parameters of EASE.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EaseParams {
    /// L2 penalty λ (Steck uses 500 for ML-20M-sized data).
    pub lambda: f32,
    /// Popularity-proportional penalty ρ (EDLAE); 0 gives plain EASE.
    pub rho: f32,
    /// Items with fewer TRAIN interactions than this are left out of `B` (never scored).
    pub min_support: u32,
    /// User weighting exponent γ: user `u`'s row enters the Gram matrix with weight
    /// `n_u^-2γ` (rescaled so the total weight is unchanged), so heavy users do not dominate
    /// the co-occurrences. 0 gives plain EASE.
    pub user_exponent: f32,
    /// Popularity debiasing β: column `j` of `B` is scaled by `G_jj^-β` (scores divided by
    /// item popularity to the power β, as in RP3beta). 0 gives plain EASE.
    pub pop_exponent: f32,
    /// Mainstream weighting δ: user `u`'s row weight is further multiplied by `exp(-δ·z_u)`,
    /// where `z_u` is the user's mean log-popularity over their history, standardised over
    /// the users (mainstream users have `z > 0`). With δ > 0 the co-occurrences of users
    /// whose taste is mostly blockbusters count less, so the Gram matrix is not dominated by
    /// the pairs every popular film shares. 0 gives wEASE.
    pub mainstream_exponent: f32,
}

impl Default for EaseParams {
    fn default() -> Self {
        Self {
            lambda: 500.0,
            rho: 0.0,
            min_support: 1,
            user_exponent: 0.0,
            pop_exponent: 0.0,
            mainstream_exponent: 0.0,
        }
    }
}

fn faer_par() -> Par {
    let t = rayon::current_num_threads();
    if t <= 1 {
        Par::Seq
    } else {
        Par::rayon(t)
    }
}

/// Mirrors the lower triangle of a column-major square matrix into its upper triangle.
fn mirror_lower(buf: &mut [f32], m: usize) {
    const BS: usize = 64;
    for jb in (0..m).step_by(BS) {
        for ib in (jb..m).step_by(BS) {
            for j in jb..(jb + BS).min(m) {
                for i in ib.max(j + 1)..(ib + BS).min(m) {
                    // element (i, j), i > j, lives at j*m + i; its mirror (j, i) at i*m + j.
                    buf[i * m + j] = buf[j * m + i];
                }
            }
        }
    }
}

/// Squared user weights `s_u² = n_u^-2γ · exp(-δ z_u)` (γ = `user_exponent`, δ =
/// `mainstream_exponent`, `z` from [`mainstream_scores`]), normalised so that
/// `Σ_u s_u² n_u = nnz`: the total weight, and so the meaning of λ, is unchanged.
fn user_weights(rows: &[Vec<u32>], items: &[u32], counts: &[u32], params: &EaseParams) -> Vec<f32> {
    let mainstream = mainstream_scores(rows, items, counts);
    let mut w2: Vec<f32> = rows
        .iter()
        .zip(&mainstream)
        .map(|(r, z)| {
            (r.len() as f32).powf(-2.0 * params.user_exponent)
                * (-params.mainstream_exponent * z).exp()
        })
        .collect();
    let nnz: f32 = rows.iter().map(|r| r.len() as f32).sum();
    let mass: f32 = rows.iter().zip(&w2).map(|(r, w)| r.len() as f32 * w).sum();
    if mass > 0.0 {
        w2.iter_mut().for_each(|w| *w *= nnz / mass);
    }
    w2
}

/// Each user's mean log-popularity (`ln` of TRAIN counts) over their history, standardised
/// over the users (zero mean, unit variance; all zeros when every user has the same mean).
/// `rows` hold model-local item ids, `items` maps them to matrix columns.
fn mainstream_scores(rows: &[Vec<u32>], items: &[u32], counts: &[u32]) -> Vec<f32> {
    let means: Vec<f64> = rows
        .iter()
        .map(|r| {
            let sum: f64 = r
                .iter()
                .map(|&l| f64::from(counts[items[l as usize] as usize].max(1)).ln())
                .sum();
            sum / r.len().max(1) as f64
        })
        .collect();
    let n = means.len().max(1) as f64;
    let mean = means.iter().sum::<f64>() / n;
    let sd = (means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / n).sqrt();
    means
        .iter()
        .map(|m| {
            if sd > 0.0 {
                ((m - mean) / sd) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// Popularity debiasing: the factor `G_jj^-β` by which column `j` of `B` (and so item `j`'s
/// scores) is scaled.
pub fn debias(popularity: f32, beta: f32) -> f32 {
    popularity.max(f32::MIN_POSITIVE).powf(-beta)
}

/// Fits EASE on a binary users x items TRAIN matrix. Runs on the current rayon pool (one
/// thread in the pool means a sequential factorisation).
pub fn fit(train: &Csr, params: &EaseParams) -> Result<ItemItem> {
    fit_with_popularity(train, params).map(|(model, _)| model)
}

/// [`fit`], also returning every item's weighted popularity `G_jj` by matrix column (0 for
/// items left out of the model). Popularity debiasing β only scales `B`'s columns by
/// `G_jj^-β`, so a model fitted with β = 0 whose scores are multiplied by `G_jj^-β` ranks
/// as the model fitted with β: the tuner scans β without refitting.
pub fn fit_with_popularity(train: &Csr, params: &EaseParams) -> Result<(ItemItem, Vec<f32>)> {
    if params.lambda.is_nan() || params.lambda <= 0.0 || params.rho.is_nan() || params.rho < 0.0 {
        return Err(RecsError::InvalidParameter(
            "EASE needs lambda > 0 and rho >= 0".into(),
        ));
    }
    if !params.user_exponent.is_finite()
        || !params.pop_exponent.is_finite()
        || !params.mainstream_exponent.is_finite()
    {
        return Err(RecsError::InvalidParameter(
            "EASE needs finite gamma, beta and delta".into(),
        ));
    }
    let n_items = train.ncols();
    let counts = train.col_counts();
    let items: Vec<u32> = (0..n_items as u32)
        .filter(|&i| counts[i as usize] >= params.min_support.max(1))
        .collect();
    let m = items.len();
    if m == 0 {
        return Err(RecsError::InvalidInput(
            "no item has enough TRAIN interactions for EASE".into(),
        ));
    }
    let mut local = vec![u32::MAX; n_items];
    for (k, &i) in items.iter().enumerate() {
        local[i as usize] = k as u32;
    }
    // Users who touch at least one model item.
    let rows: Vec<Vec<u32>> = (0..train.nrows())
        .map(|u| {
            train
                .row(u)
                .0
                .iter()
                .map(|&c| local[c as usize])
                .filter(|&l| l != u32::MAX)
                .collect()
        })
        .filter(|r: &Vec<u32>| !r.is_empty())
        .collect();
    let n_users = rows.len();
    let w2 = user_weights(&rows, &items, &counts, params);
    let mut gdiag = vec![0f32; m];
    for (r, w) in rows.iter().zip(&w2) {
        for &l in r {
            gdiag[l as usize] += w;
        }
    }
    // Λ_ii = λ + ρ·G_ii.
    let diag: Vec<f32> = gdiag
        .iter()
        .map(|g| params.lambda + params.rho * g)
        .collect();
    let par = faer_par();
    let mut p = vec![0f32; m * m];
    if n_users < m {
        // K = I + X Λ⁻¹ Xᵀ (u x u), via Xs = X Λ^-1/2 stored column-major (u x m).
        let mut xs = vec![0f32; n_users * m];
        for (u, r) in rows.iter().enumerate() {
            let su = w2[u].sqrt();
            for &l in r {
                xs[l as usize * n_users + u] = su / diag[l as usize].sqrt();
            }
        }
        let mut k = vec![0f32; n_users * n_users];
        {
            let xs_ref = MatRef::from_column_major_slice(&xs, n_users, m);
            let mut k_mut = MatMut::from_column_major_slice_mut(&mut k, n_users, n_users);
            matmul(
                k_mut.as_mut(),
                Accum::Replace,
                xs_ref,
                xs_ref.transpose(),
                1.0f32,
                par,
            );
            for i in 0..n_users {
                k_mut[(i, i)] += 1.0;
            }
            let req =
                llt::factor::cholesky_in_place_scratch::<f32>(n_users, par, Default::default());
            let mut mem = MemBuffer::new(req);
            llt::factor::cholesky_in_place(
                k_mut.as_mut(),
                Default::default(),
                par,
                MemStack::new(&mut mem),
                Default::default(),
            )
            .map_err(|e| RecsError::Numerical(format!("Cholesky of the user kernel: {e}")))?;
        }
        // Z = L⁻¹ X Λ⁻¹: reuse xs, scaling its columns to X Λ⁻¹.
        for (l, col) in xs.chunks_mut(n_users).enumerate() {
            let s = 1.0 / diag[l].sqrt();
            col.iter_mut().for_each(|v| *v *= s);
        }
        {
            let k_ref = MatRef::from_column_major_slice(&k, n_users, n_users);
            let z = MatMut::from_column_major_slice_mut(&mut xs, n_users, m);
            solve_lower_triangular_in_place(k_ref, z, par);
        }
        let z = MatRef::from_column_major_slice(&xs, n_users, m);
        let mut pm = MatMut::from_column_major_slice_mut(&mut p, m, m);
        faer::linalg::matmul::triangular::matmul(
            pm.as_mut(),
            faer::linalg::matmul::triangular::BlockStructure::TriangularLower,
            Accum::Replace,
            z.transpose(),
            faer::linalg::matmul::triangular::BlockStructure::Rectangular,
            z,
            faer::linalg::matmul::triangular::BlockStructure::Rectangular,
            -1.0f32,
            par,
        );
        for (l, d) in diag.iter().enumerate() {
            pm[(l, l)] += 1.0 / d;
        }
    } else {
        let mut g = vec![0f32; m * m];
        // Gram matrix, column by column in parallel: G[:, b] = Σ_{u ∋ b} x_u.
        let mut users_of: Vec<Vec<u32>> = vec![Vec::new(); m];
        for (u, r) in rows.iter().enumerate() {
            for &l in r {
                users_of[l as usize].push(u as u32);
            }
        }
        g.par_chunks_mut(m).enumerate().for_each(|(b, col)| {
            for &u in &users_of[b] {
                let w = w2[u as usize];
                for &a in &rows[u as usize] {
                    col[a as usize] += w;
                }
            }
            col[b] += diag[b];
        });
        let mut gm = MatMut::from_column_major_slice_mut(&mut g, m, m);
        let req = llt::factor::cholesky_in_place_scratch::<f32>(m, par, Default::default())
            .or(llt::inverse::inverse_scratch::<f32>(m, par));
        let mut mem = MemBuffer::new(req);
        llt::factor::cholesky_in_place(
            gm.as_mut(),
            Default::default(),
            par,
            MemStack::new(&mut mem),
            Default::default(),
        )
        .map_err(|e| RecsError::Numerical(format!("Cholesky of the Gram matrix: {e}")))?;
        let pm = MatMut::from_column_major_slice_mut(&mut p, m, m);
        llt::inverse::inverse(pm, gm.as_ref(), par, MemStack::new(&mut mem));
    }
    mirror_lower(&mut p, m);
    // B[h, j] = -P[h, j] / P[j, j]; column h of P is row h (symmetry), so rows of B are
    // contiguous in place.
    let pdiag: Vec<f32> = (0..m).map(|j| p[j * m + j]).collect();
    if pdiag.iter().any(|d| *d <= 0.0 || !d.is_finite()) {
        return Err(RecsError::Numerical(
            "EASE inverse has a non-positive diagonal".into(),
        ));
    }
    let colscale: Vec<f32> = pdiag
        .iter()
        .zip(&gdiag)
        .map(|(d, g)| debias(*g, params.pop_exponent) / d)
        .collect();
    p.par_chunks_mut(m).enumerate().for_each(|(h, row)| {
        for (j, v) in row.iter_mut().enumerate() {
            *v = if j == h { 0.0 } else { -*v * colscale[j] };
        }
    });
    let mut popularity = vec![0f32; n_items];
    for (&i, &g) in items.iter().zip(&gdiag) {
        popularity[i as usize] = g;
    }
    Ok((ItemItem::dense("ease", n_items, items, p), popularity))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users 0-1 like the blockbusters (items 0-2, liked by everybody), users 2-3 also like
    /// rare films (items 3-6, one user each); every history has 3 items.
    fn histories() -> (Vec<Vec<u32>>, Vec<u32>, Vec<u32>) {
        let rows = vec![vec![0, 1, 2], vec![0, 1, 2], vec![0, 3, 4], vec![1, 5, 6]];
        let items: Vec<u32> = (0..7).collect();
        let mut counts = vec![0u32; 7];
        rows.iter().flatten().for_each(|&i| counts[i as usize] += 1);
        (rows, items, counts)
    }

    #[test]
    fn mainstream_scores_are_standardised_and_rank_blockbuster_fans_first() {
        let (rows, items, counts) = histories();
        let z = mainstream_scores(&rows, &items, &counts);
        let mean: f32 = z.iter().sum::<f32>() / 4.0;
        let var: f32 = z.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 4.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5, "{z:?}");
        assert!(
            z[0] > 0.0 && z[0] == z[1] && z[2] < 0.0 && z[3] < 0.0,
            "{z:?}"
        );
        // Everybody equally mainstream: all zeros, not NaN.
        let same = vec![vec![0, 1], vec![1, 0]];
        assert_eq!(mainstream_scores(&same, &items, &counts), vec![0.0, 0.0]);
    }

    #[test]
    fn mainstream_weighting_moves_weight_to_niche_users_and_keeps_the_total() {
        let (rows, items, counts) = histories();
        let at = |delta: f32| {
            let p = EaseParams {
                mainstream_exponent: delta,
                ..Default::default()
            };
            user_weights(&rows, &items, &counts, &p)
        };
        assert!(at(0.0).iter().all(|w| (w - 1.0).abs() < 1e-6));
        for delta in [0.25f32, -0.25] {
            let w = at(delta);
            let total: f32 = w.iter().map(|w| w * 3.0).sum();
            assert!((total - 12.0).abs() < 1e-4, "{w:?}");
            assert_eq!(w[0] < w[2], delta > 0.0, "delta {delta}: {w:?}");
        }
    }
}
