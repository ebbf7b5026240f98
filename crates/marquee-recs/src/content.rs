//! Content-based similarity: "more like this" for titles nobody has watched
//! yet, from what the catalog says about them (genres, tags, cast and crew).
//!
//! Each title is a set of features; a feature's weight is the weight of its
//! kind (a shared actor says more than a shared genre) times its inverse
//! document frequency (a shared "Drama" says less than a shared
//! "lighthouse"). Two titles' similarity is the cosine of those weighted
//! sets. Features held by a single title carry no signal and are dropped.
//! Popularity breaks near-ties, so that among equally similar titles the
//! one viewers know comes first.

use crate::topn::top_n;

/// What a feature is: its kind sets the weight of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeatureKind {
    /// A genre.
    Genre,
    /// A tag (keyword).
    Tag,
    /// A person in the cast or crew.
    Person,
}

impl FeatureKind {
    fn weight(self) -> f32 {
        match self {
            FeatureKind::Genre => 1.0,
            FeatureKind::Tag => 1.5,
            FeatureKind::Person => 2.0,
        }
    }
}

/// Builds a [`ContentIndex`]: features are interned as items are added.
#[derive(Debug, Default)]
pub struct ContentBuilder {
    vocab: std::collections::HashMap<(FeatureKind, String), u32>,
    kinds: Vec<FeatureKind>,
    items: Vec<Vec<u32>>,
}

impl ContentBuilder {
    /// Adds the next item (items are numbered from 0 in the order added)
    /// with its features; names are compared case-insensitively.
    pub fn add<'a>(&mut self, features: impl IntoIterator<Item = (FeatureKind, &'a str)>) {
        let mut ids: Vec<u32> = Vec::new();
        for (kind, name) in features {
            let name = name.trim().to_lowercase();
            if name.is_empty() {
                continue;
            }
            let next = self.kinds.len() as u32;
            let id = *self.vocab.entry((kind, name)).or_insert(next);
            if id == next {
                self.kinds.push(kind);
            }
            ids.push(id);
        }
        ids.sort_unstable();
        ids.dedup();
        self.items.push(ids);
    }

    /// The index.
    pub fn build(self) -> ContentIndex {
        let n_items = self.items.len();
        let mut df = vec![0u32; self.kinds.len()];
        for f in self.items.iter().flatten() {
            df[*f as usize] += 1;
        }
        let weight: Vec<f32> = df
            .iter()
            .zip(&self.kinds)
            .map(|(&d, k)| {
                if d < 2 {
                    0.0
                } else {
                    k.weight() * (1.0 + (n_items as f32 / d as f32).ln())
                }
            })
            .collect();
        let mut postings: Vec<Vec<u32>> = vec![Vec::new(); self.kinds.len()];
        let mut norms = Vec::with_capacity(n_items);
        let mut items = Vec::with_capacity(n_items);
        for (i, fs) in self.items.into_iter().enumerate() {
            let kept: Vec<u32> = fs
                .into_iter()
                .filter(|f| weight[*f as usize] > 0.0)
                .collect();
            let norm: f32 = kept
                .iter()
                .map(|f| weight[*f as usize].powi(2))
                .sum::<f32>()
                .sqrt();
            for f in &kept {
                postings[*f as usize].push(i as u32);
            }
            norms.push(norm);
            items.push(kept);
        }
        ContentIndex {
            items,
            postings,
            weight,
            norms,
        }
    }
}

/// Items by their weighted features, with an inverted index for lookups.
#[derive(Debug, Default)]
pub struct ContentIndex {
    items: Vec<Vec<u32>>,
    postings: Vec<Vec<u32>>,
    weight: Vec<f32>,
    norms: Vec<f32>,
}

impl ContentIndex {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it holds no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The cosine similarity of two items (0 when either has no features).
    pub fn similarity(&self, a: u32, b: u32) -> f32 {
        let (Some(fa), Some(fb)) = (self.items.get(a as usize), self.items.get(b as usize)) else {
            return 0.0;
        };
        let denom = self.norms[a as usize] * self.norms[b as usize];
        if denom <= 0.0 {
            return 0.0;
        }
        let (mut i, mut j, mut dot) = (0, 0, 0.0f32);
        while i < fa.len() && j < fb.len() {
            match fa[i].cmp(&fb[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    dot += self.weight[fa[i] as usize].powi(2);
                    i += 1;
                    j += 1;
                }
            }
        }
        dot / denom
    }

    /// The `n` items most like `item` that `keep` accepts (never `item`
    /// itself, never an item sharing nothing with it), best first. `pop`
    /// (per item, any scale; may be empty) breaks near-ties.
    pub fn similar(
        &self,
        item: u32,
        n: usize,
        pop: &[f32],
        mut keep: impl FnMut(u32) -> bool,
    ) -> Vec<(u32, f32)> {
        let Some(fs) = self.items.get(item as usize) else {
            return Vec::new();
        };
        let norm = self.norms[item as usize];
        if norm <= 0.0 || n == 0 {
            return Vec::new();
        }
        let mut dot = vec![0.0f32; self.items.len()];
        for f in fs {
            let w2 = self.weight[*f as usize].powi(2);
            for &j in &self.postings[*f as usize] {
                dot[j as usize] += w2;
            }
        }
        let max_pop = pop.iter().copied().fold(0.0f32, f32::max);
        let scores: Vec<f32> = dot
            .iter()
            .enumerate()
            .map(|(j, &d)| {
                if d <= 0.0 || j == item as usize {
                    return f32::NEG_INFINITY;
                }
                let cos = d / (norm * self.norms[j]);
                let p = if max_pop > 0.0 {
                    pop.get(j).copied().unwrap_or(0.0) / max_pop
                } else {
                    0.0
                };
                cos + 1e-3 * p
            })
            .collect();
        top_n(&scores, n, |j| {
            scores[j as usize] > f32::NEG_INFINITY && keep(j)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::FeatureKind::{Genre, Person, Tag};
    use super::*;

    fn index() -> ContentIndex {
        let mut b = ContentBuilder::default();
        // 0: the new title.
        b.add([(Genre, "Drama"), (Tag, "lighthouse"), (Person, "Ada Moss")]);
        // 1: shares its cast and its tag.
        b.add([(Genre, "Drama"), (Tag, "Lighthouse"), (Person, "ada moss")]);
        // 2: shares only the common genre.
        b.add([(Genre, "Drama")]);
        // 3: shares only the common genre, and is popular.
        b.add([(Genre, "Drama"), (Genre, "Comedy")]);
        // 4: shares nothing.
        b.add([(Genre, "Comedy"), (Person, "Someone Else")]);
        // 5..: more dramas make "Drama" common.
        for _ in 0..5 {
            b.add([(Genre, "Drama")]);
        }
        b.build()
    }

    #[test]
    fn shared_cast_and_tags_beat_a_shared_genre() {
        let ix = index();
        let pop = [0.0, 1.0, 2.0, 50.0, 100.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let got = ix.similar(0, 3, &pop, |_| true);
        assert_eq!(got[0].0, 1, "{got:?}");
        assert!(got[0].1 > 0.9, "{got:?}");
        // Among equally similar genre-only matches, the one with viewers first.
        assert_eq!(got[1].0, 2, "{got:?}");
        assert!(got[1].1 < 0.5, "{got:?}");
        // Nothing shared: never offered; itself: never offered.
        let all = ix.similar(0, 20, &pop, |_| true);
        assert!(all.iter().all(|(j, _)| *j != 4 && *j != 0), "{all:?}");
        assert_eq!(all.len(), 8);
        // The filter applies.
        let got = ix.similar(0, 3, &pop, |j| j != 1);
        assert_ne!(got[0].0, 1);
    }

    #[test]
    fn similarity_is_a_symmetric_cosine() {
        let ix = index();
        assert!((ix.similarity(0, 1) - ix.similarity(1, 0)).abs() < 1e-6);
        assert!((ix.similarity(0, 0) - 1.0).abs() < 1e-5);
        assert_eq!(ix.similarity(0, 4), 0.0);
        assert_eq!(ix.similarity(0, 99), 0.0);
        // A title with only unique features has no neighbours.
        let mut b = ContentBuilder::default();
        b.add([(Tag, "only here")]);
        b.add([(Tag, "elsewhere")]);
        let ix = b.build();
        assert!(ix.similar(0, 5, &[], |_| true).is_empty());
    }
}
