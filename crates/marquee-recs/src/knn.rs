//! Neighbourhood models: item-kNN (cosine or BM25 weighting) and RP3beta.

use crate::error::{RecsError, Result};
use crate::itemitem::{product_top_k, ItemItem};
use crate::sparse::Csr;

/// Weighting of the item-kNN similarity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KnnWeighting {
    /// `|U_i ∩ U_j| / (sqrt(|U_i| |U_j|) + shrink)`.
    Cosine {
        /// Shrinkage added to the denominator.
        shrink: f32,
    },
    /// Dot products of Okapi-BM25 weighted item vectors (as `implicit`'s `BM25Recommender`).
    Bm25 {
        /// Term-frequency saturation.
        k1: f32,
        /// Length normalisation.
        b: f32,
    },
}

/// Hyper-parameters of item-kNN.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KnnParams {
    /// Neighbours kept per item.
    pub k: usize,
    /// Similarity weighting.
    pub weighting: KnnWeighting,
}

impl Default for KnnParams {
    fn default() -> Self {
        Self { k: 100, weighting: KnnWeighting::Cosine { shrink: 0.0 } }
    }
}

/// Fits item-kNN on a users x items TRAIN matrix (current rayon pool).
pub fn fit_knn(train: &Csr, params: &KnnParams) -> Result<ItemItem> {
    if params.k == 0 {
        return Err(RecsError::InvalidParameter("kNN needs k >= 1".into()));
    }
    let xt = train.transpose();
    match params.weighting {
        KnnWeighting::Cosine { shrink } => {
            let norms: Vec<f32> = (0..xt.nrows()).map(|i| {
                let (_, v) = xt.row(i);
                v.iter().map(|x| x * x).sum::<f32>().sqrt()
            }).collect();
            let w = product_top_k(&xt, train, params.k, &|i, j, v| {
                let d = norms[i as usize] * norms[j as usize] + shrink;
                if d > 0.0 { v / d } else { 0.0 }
            });
            Ok(ItemItem::sparse("knn-cosine", w))
        }
        KnnWeighting::Bm25 { k1, b } => {
            // BM25 over the items x users matrix: documents = items, terms = users.
            let n_docs = xt.nrows() as f32;
            let user_df: Vec<f32> = (0..train.nrows()).map(|u| train.row_len(u) as f32).collect();
            let item_len: Vec<f32> = (0..xt.nrows()).map(|i| xt.row(i).1.iter().sum()).collect();
            let avg = (item_len.iter().sum::<f32>() / n_docs.max(1.0)).max(f32::MIN_POSITIVE);
            let mut wt = xt.clone();
            for i in 0..wt.nrows() {
                let norm = (1.0 - b) + b * item_len[i] / avg;
                let (a, e) = (wt.indptr()[i], wt.indptr()[i + 1]);
                let users: Vec<u32> = wt.indices()[a..e].to_vec();
                for (v, u) in wt.data_mut()[a..e].iter_mut().zip(users) {
                    let idf = n_docs.ln() - user_df[u as usize].ln_1p();
                    *v = *v * (k1 + 1.0) / (k1 * norm + *v) * idf;
                }
            }
            let w_right = wt.transpose();
            let w = product_top_k(&wt, &w_right, params.k, &|_, _, v| v);
            Ok(ItemItem::sparse("knn-bm25", w))
        }
    }
}

/// Hyper-parameters of RP3beta (Paudel et al. 2017).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rp3Params {
    /// Exponent on the transition probabilities.
    pub alpha: f32,
    /// Popularity penalty exponent on the target item.
    pub beta: f32,
    /// Neighbours kept per item.
    pub k: usize,
}

impl Default for Rp3Params {
    fn default() -> Self {
        Self { alpha: 1.0, beta: 0.5, k: 200 }
    }
}

/// Fits RP3beta: `W[i, j] = Σ_u P(u|i)^α P(j|u)^α / pop(j)^β`, top-`k` per row, rows
/// L1-normalised.
pub fn fit_rp3beta(train: &Csr, params: &Rp3Params) -> Result<ItemItem> {
    if params.k == 0 {
        return Err(RecsError::InvalidParameter("RP3beta needs k >= 1".into()));
    }
    let mut xt = train.transpose();
    let mut x = train.clone();
    let pop: Vec<f32> = (0..xt.nrows()).map(|i| xt.row_len(i) as f32).collect();
    for i in 0..xt.nrows() {
        let (a, e) = (xt.indptr()[i], xt.indptr()[i + 1]);
        let v = (1.0 / pop[i].max(1.0)).powf(params.alpha);
        xt.data_mut()[a..e].iter_mut().for_each(|d| *d = v);
    }
    for u in 0..x.nrows() {
        let (a, e) = (x.indptr()[u], x.indptr()[u + 1]);
        let v = (1.0 / ((e - a) as f32).max(1.0)).powf(params.alpha);
        x.data_mut()[a..e].iter_mut().for_each(|d| *d = v);
    }
    let beta = params.beta;
    let mut w = product_top_k(&xt, &x, params.k, &|_, j, v| v / pop[j as usize].max(1.0).powf(beta));
    for i in 0..w.nrows() {
        let (a, e) = (w.indptr()[i], w.indptr()[i + 1]);
        let s: f32 = w.data()[a..e].iter().sum();
        if s > 0.0 {
            w.data_mut()[a..e].iter_mut().for_each(|d| *d /= s);
        }
    }
    Ok(ItemItem::sparse("rp3beta", w))
}
