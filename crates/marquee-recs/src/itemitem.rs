//! Item-to-item weight matrices (EASE, item-kNN, RP3beta): `score = history x B`.

use rayon::prelude::*;

use crate::linalg::axpy;
use crate::sparse::Csr;
use crate::topn::top_n;

/// Marker for "item not in the dense block".
pub(crate) const NONE: u32 = u32::MAX;

/// Storage of the weight matrix `B` (row `h` = how much history item `h` adds to every item).
#[derive(Clone, Debug, PartialEq)]
pub enum Weights {
    /// Dense block over a subset of items (`items[k]` is the dense id of block row/column `k`).
    Dense {
        /// Block position -> item id.
        items: Vec<u32>,
        /// Item id -> block position, or `u32::MAX`.
        pos: Vec<u32>,
        /// Row-major `items.len()^2` block.
        mat: Vec<f32>,
    },
    /// Sparse rows (top entries per row), `n_items x n_items`.
    Sparse(Csr),
}

/// An item-item model: item-kNN, EASE, RP3beta, or a pruned EASE.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemItem {
    /// Short name of the algorithm that produced it (e.g. `"ease"`).
    pub algorithm: String,
    pub(crate) n_items: usize,
    pub(crate) weights: Weights,
}

impl ItemItem {
    /// Wraps a dense block.
    pub(crate) fn dense(algorithm: &str, n_items: usize, items: Vec<u32>, mat: Vec<f32>) -> Self {
        let mut pos = vec![NONE; n_items];
        for (k, &i) in items.iter().enumerate() {
            pos[i as usize] = k as u32;
        }
        Self { algorithm: algorithm.into(), n_items, weights: Weights::Dense { items, pos, mat } }
    }

    /// Wraps sparse rows.
    pub(crate) fn sparse(algorithm: &str, weights: Csr) -> Self {
        Self { algorithm: algorithm.into(), n_items: weights.nrows(), weights: Weights::Sparse(weights) }
    }

    /// Number of items scored.
    pub fn n_items(&self) -> usize {
        self.n_items
    }

    /// Stored weights.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// Number of stored weights.
    pub fn nnz(&self) -> usize {
        match &self.weights {
            Weights::Dense { mat, .. } => mat.len(),
            Weights::Sparse(c) => c.nnz(),
        }
    }

    /// Bytes of model data held in memory.
    pub fn heap_bytes(&self) -> usize {
        match &self.weights {
            Weights::Dense { items, pos, mat } => (items.len() + pos.len() + mat.len()) * 4,
            Weights::Sparse(c) => c.heap_bytes(),
        }
    }

    /// Weight `B[h, j]`.
    pub fn weight(&self, h: u32, j: u32) -> f32 {
        match &self.weights {
            Weights::Dense { items, pos, mat } => {
                let (ph, pj) = (
                    pos.get(h as usize).copied().unwrap_or(NONE),
                    pos.get(j as usize).copied().unwrap_or(NONE),
                );
                if ph == NONE || pj == NONE {
                    0.0
                } else {
                    mat[ph as usize * items.len() + pj as usize]
                }
            }
            Weights::Sparse(c) => c.get(h as usize, j).unwrap_or(0.0),
        }
    }

    /// `out += history x B`.
    pub fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        match &self.weights {
            Weights::Dense { items, pos, mat } => {
                let m = items.len();
                let mut acc = vec![0f32; m];
                for &(h, w) in history {
                    let p = pos.get(h as usize).copied().unwrap_or(NONE);
                    if p != NONE {
                        let p = p as usize;
                        axpy(w, &mat[p * m..(p + 1) * m], &mut acc);
                    }
                }
                for (&i, a) in items.iter().zip(acc) {
                    if let Some(o) = out.get_mut(i as usize) {
                        *o += a;
                    }
                }
            }
            Weights::Sparse(c) => {
                for &(h, w) in history {
                    let (cols, vals) = c.row(h as usize);
                    for (&j, &v) in cols.iter().zip(vals) {
                        if let Some(o) = out.get_mut(j as usize) {
                            *o += w * v;
                        }
                    }
                }
            }
        }
    }

    /// The `n` items `item` adds most weight to (its row of `B`), excluding itself.
    pub fn similar(&self, item: u32, n: usize) -> Vec<(u32, f32)> {
        match &self.weights {
            Weights::Dense { items, pos, mat } => {
                let p = pos.get(item as usize).copied().unwrap_or(NONE);
                if p == NONE {
                    return Vec::new();
                }
                let m = items.len();
                let row = &mat[p as usize * m..(p as usize + 1) * m];
                let mut full = vec![f32::NEG_INFINITY; self.n_items];
                for (&i, &v) in items.iter().zip(row) {
                    full[i as usize] = v;
                }
                top_n(&full, n, |j| j != item && pos[j as usize] != NONE)
            }
            Weights::Sparse(c) => {
                let (cols, vals) = c.row(item as usize);
                let mut full = vec![f32::NEG_INFINITY; self.n_items];
                for (&j, &v) in cols.iter().zip(vals) {
                    full[j as usize] = v;
                }
                let present: std::collections::HashSet<u32> = cols.iter().copied().collect();
                top_n(&full, n, |j| j != item && present.contains(&j))
            }
        }
    }

    /// Keeps the `k` largest weights of each row (by value, ties to the lower item id).
    pub fn prune(&self, k: usize) -> ItemItem {
        let rows: Vec<Vec<(u32, f32)>> = (0..self.n_items as u32)
            .into_par_iter()
            .map(|h| {
                let mut r = match &self.weights {
                    Weights::Dense { items, pos, mat } => {
                        let p = pos[h as usize];
                        if p == NONE {
                            return Vec::new();
                        }
                        let m = items.len();
                        let row = &mat[p as usize * m..(p as usize + 1) * m];
                        let mut v: Vec<(u32, f32)> =
                            items.iter().zip(row).filter(|(_, &x)| x != 0.0).map(|(&i, &x)| (i, x)).collect();
                        top_k_in_place(&mut v, k);
                        v
                    }
                    Weights::Sparse(c) => {
                        let (cols, vals) = c.row(h as usize);
                        let mut v: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
                        top_k_in_place(&mut v, k);
                        v
                    }
                };
                r.sort_unstable_by_key(|e| e.0);
                r
            })
            .collect();
        ItemItem::sparse(&format!("{}-top{k}", self.algorithm), rows_to_csr(self.n_items, self.n_items, rows))
    }
}

/// Keeps the `k` best `(item, value)` entries (value descending, item ascending), unordered.
pub(crate) fn top_k_in_place(v: &mut Vec<(u32, f32)>, k: usize) {
    if v.len() > k {
        v.select_nth_unstable_by(k, |a, b| crate::topn::rank_cmp(*a, *b));
        v.truncate(k);
    }
}

/// Assembles sorted rows into a CSR matrix.
pub(crate) fn rows_to_csr(nrows: usize, ncols: usize, rows: Vec<Vec<(u32, f32)>>) -> Csr {
    let mut indptr = Vec::with_capacity(nrows + 1);
    indptr.push(0);
    let total: usize = rows.iter().map(Vec::len).sum();
    let mut indices = Vec::with_capacity(total);
    let mut data = Vec::with_capacity(total);
    for r in rows {
        for (j, v) in r {
            indices.push(j);
            data.push(v);
        }
        indptr.push(indices.len());
    }
    Csr::from_parts(nrows, ncols, indptr, indices, data).unwrap_or_else(|_| Csr::empty(nrows, ncols))
}

/// Row-by-row sparse product `left x right` (`left`: items x users, `right`: users x items),
/// each entry passed through `finish(i, j, value)`, the diagonal dropped, and the `k` largest
/// finished values of every row kept. Runs on the current rayon pool.
pub(crate) fn product_top_k(
    left: &Csr,
    right: &Csr,
    k: usize,
    finish: &(dyn Fn(u32, u32, f32) -> f32 + Sync),
) -> Csr {
    let n = right.ncols();
    let rows: Vec<Vec<(u32, f32)>> = (0..left.nrows())
        .into_par_iter()
        .map_init(
            || (vec![0f32; n], vec![false; n], Vec::<u32>::new()),
            |(acc, mark, touched), i| {
                let (users, a) = left.row(i);
                for (&u, &av) in users.iter().zip(a) {
                    let (items, b) = right.row(u as usize);
                    for (&j, &bv) in items.iter().zip(b) {
                        let ju = j as usize;
                        if !mark[ju] {
                            mark[ju] = true;
                            touched.push(j);
                        }
                        acc[ju] += av * bv;
                    }
                }
                let mut row: Vec<(u32, f32)> = Vec::with_capacity(touched.len());
                for &j in touched.iter() {
                    let ju = j as usize;
                    if j as usize != i {
                        let v = finish(i as u32, j, acc[ju]);
                        if v != 0.0 && v.is_finite() {
                            row.push((j, v));
                        }
                    }
                    acc[ju] = 0.0;
                    mark[ju] = false;
                }
                touched.clear();
                top_k_in_place(&mut row, k);
                row.sort_unstable_by_key(|e| e.0);
                row
            },
        )
        .collect();
    rows_to_csr(left.nrows(), n, rows)
}
