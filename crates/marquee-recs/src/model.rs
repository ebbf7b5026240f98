//! The served model: scoring from a history, filtering, top-N, explanations, similar items.

use crate::als::Als;
use crate::index::ItemIndex;
use crate::itemitem::ItemItem;
use crate::sparse::Csr;
use crate::topn::top_n;

/// Most-popular items (number of TRAIN interactions per item).
#[derive(Clone, Debug, PartialEq)]
pub struct Popularity {
    pub(crate) counts: Vec<f32>,
}

impl Popularity {
    /// Counts interactions per item of a users x items matrix.
    pub fn fit(train: &Csr) -> Self {
        Self { counts: train.col_counts().into_iter().map(|c| c as f32).collect() }
    }

    /// Interaction count per item.
    pub fn counts(&self) -> &[f32] {
        &self.counts
    }
}

/// A weighted sum of models; each component's scores are divided by their largest absolute
/// value for the user before weighting, so components on different scales mix.
#[derive(Clone, Debug, PartialEq)]
pub struct Blend {
    /// `(weight, model)` pairs.
    pub components: Vec<(f32, Model)>,
}

/// A trained recommender over dense item ids `0..n_items`.
#[derive(Clone, Debug, PartialEq)]
pub enum Model {
    /// Popularity baseline.
    Popularity(Popularity),
    /// Item-item weights: EASE, item-kNN, RP3beta, pruned EASE.
    ItemItem(ItemItem),
    /// Implicit ALS.
    Als(Als),
    /// Weighted blend of models.
    Blend(Blend),
}

/// Category filter: keep items having at least one of `any_of`.
#[derive(Clone, Copy, Debug)]
pub struct CategoryFilter<'a> {
    /// Categories of every item.
    pub item_categories: &'a ItemCategories,
    /// Accepted categories (an item passes when it has any of them).
    pub any_of: &'a [u32],
}

/// Categories (e.g. genres) of every dense item, as category ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemCategories {
    indptr: Vec<usize>,
    cats: Vec<u32>,
}

impl ItemCategories {
    /// Builds from one category list per dense item.
    pub fn new(per_item: &[Vec<u32>]) -> Self {
        let mut indptr = vec![0];
        let mut cats = Vec::new();
        for c in per_item {
            let mut c = c.clone();
            c.sort_unstable();
            c.dedup();
            cats.extend(c);
            indptr.push(cats.len());
        }
        Self { indptr, cats }
    }

    /// Categories of an item (empty when unknown).
    pub fn of(&self, item: u32) -> &[u32] {
        let i = item as usize;
        match (self.indptr.get(i), self.indptr.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.cats[a..b],
            _ => &[],
        }
    }
}

/// Request-time filters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter<'a> {
    /// Drop items in the user's history.
    pub exclude_seen: bool,
    /// Drop these items.
    pub exclude: &'a [u32],
    /// Keep only items of some categories.
    pub categories: Option<CategoryFilter<'a>>,
    /// Keep only items whose entry is `true` (e.g. the available catalog).
    pub allowed: Option<&'a [bool]>,
}

/// One recommended item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recommendation {
    /// Dense item id.
    pub item: u32,
    /// Model score.
    pub score: f32,
    /// The history item that contributed most to the score ("because you watched X").
    pub because: Option<u32>,
}

impl Model {
    /// Number of items the model scores.
    pub fn n_items(&self) -> usize {
        match self {
            Model::Popularity(p) => p.counts.len(),
            Model::ItemItem(m) => m.n_items(),
            Model::Als(m) => m.n_items(),
            Model::Blend(b) => b.components.iter().map(|(_, m)| m.n_items()).max().unwrap_or(0),
        }
    }

    /// Short name of the model.
    pub fn name(&self) -> String {
        match self {
            Model::Popularity(_) => "pop".into(),
            Model::ItemItem(m) => m.algorithm.clone(),
            Model::Als(_) => "als".into(),
            Model::Blend(b) => {
                let names: Vec<String> = b.components.iter().map(|(w, m)| format!("{w}*{}", m.name())).collect();
                format!("blend({})", names.join("+"))
            }
        }
    }

    /// Writes one score per dense item into `out` (overwritten; `out.len()` should be
    /// [`Model::n_items`]). `history` holds `(item, weight)` pairs (weight 1 for a positive
    /// interaction); unknown items are ignored.
    pub fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        match self {
            Model::Popularity(p) => {
                for (o, c) in out.iter_mut().zip(&p.counts) {
                    *o = *c;
                }
            }
            Model::ItemItem(m) => m.score(history, out),
            Model::Als(m) => m.score(history, out),
            Model::Blend(b) => {
                let mut tmp = vec![0f32; out.len()];
                for (w, m) in &b.components {
                    m.score(history, &mut tmp);
                    let scale = tmp.iter().fold(0f32, |a, v| a.max(v.abs()));
                    if scale > 0.0 {
                        let k = w / scale;
                        out.iter_mut().zip(&tmp).for_each(|(o, t)| *o += k * t);
                    }
                }
            }
        }
    }

    /// The history item contributing most to `item`'s score, with its contribution.
    pub fn because(&self, history: &[(u32, f32)], item: u32) -> Option<(u32, f32)> {
        match self {
            Model::Popularity(_) => None,
            Model::ItemItem(m) => history
                .iter()
                .map(|&(h, w)| (h, w * m.weight(h, item)))
                .filter(|e| e.1 > 0.0)
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0))),
            Model::Als(m) => m.because(history, item),
            Model::Blend(b) => b
                .components
                .iter()
                .filter(|(w, _)| *w > 0.0)
                .find_map(|(_, m)| m.because(history, item)),
        }
    }

    /// Top-`n` recommendations for a history, after filters, ordered by (score descending,
    /// item ascending), each with its strongest history item.
    pub fn recommend(&self, history: &[(u32, f32)], filter: &Filter<'_>, n: usize) -> Vec<Recommendation> {
        let n_items = self.n_items();
        let mut scores = vec![0f32; n_items];
        self.score(history, &mut scores);
        let mut blocked = vec![false; n_items];
        if filter.exclude_seen {
            for &(h, _) in history {
                if let Some(b) = blocked.get_mut(h as usize) {
                    *b = true;
                }
            }
        }
        for &e in filter.exclude {
            if let Some(b) = blocked.get_mut(e as usize) {
                *b = true;
            }
        }
        let keep = |i: u32| {
            if blocked[i as usize] {
                return false;
            }
            if let Some(a) = filter.allowed {
                if !a.get(i as usize).copied().unwrap_or(false) {
                    return false;
                }
            }
            if let Some(c) = &filter.categories {
                let cats = c.item_categories.of(i);
                if !c.any_of.iter().any(|k| cats.binary_search(k).is_ok()) {
                    return false;
                }
            }
            true
        };
        top_n(&scores, n, keep)
            .into_iter()
            .map(|(item, score)| Recommendation { item, score, because: self.because(history, item).map(|b| b.0) })
            .collect()
    }

    /// "More like this": the `n` items most related to `item` (excluding itself).
    pub fn similar(&self, item: u32, n: usize) -> Vec<(u32, f32)> {
        match self {
            Model::Popularity(p) => top_n(&p.counts, n, |j| j != item),
            Model::ItemItem(m) => m.similar(item, n),
            Model::Als(m) => m.similar(item, n),
            Model::Blend(b) => {
                let mut scores = vec![0f32; self.n_items()];
                self.score(&[(item, 1.0)], &mut scores);
                let _ = b;
                top_n(&scores, n, |j| j != item)
            }
        }
    }

    /// Bytes of model data held in memory (the resident size of the served model).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Model::Popularity(p) => p.counts.len() * 4,
            Model::ItemItem(m) => m.heap_bytes(),
            Model::Als(m) => m.heap_bytes(),
            Model::Blend(b) => b.components.iter().map(|(_, m)| m.heap_bytes()).sum(),
        }
    }
}

impl crate::protocol::Scorer for Model {
    fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        Model::score(self, history, out)
    }
}

/// A model together with the mapping of its dense item ids to external ids: what the server
/// loads at start-up.
#[derive(Clone, Debug, PartialEq)]
pub struct Recommender {
    /// External <-> dense item ids.
    pub index: ItemIndex,
    /// The model over dense ids.
    pub model: Model,
}
