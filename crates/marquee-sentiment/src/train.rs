//! Training: class-weighted multinomial logistic regression, AdaGrad SGD.
//!
//! Deterministic for a given seed: single-threaded, the only randomness is
//! the per-epoch shuffle drawn from the injected RNG, and no hash-map
//! iteration order is involved.

use rand::seq::SliceRandom;
use rand::Rng;

use crate::features::{Feat, FeatureConfig};
use crate::model::{features_into, softmax, Model, Scratch};
use crate::{Error, Label, Result};

/// Training hyper-parameters (chosen on TweetEval val; see the crate docs).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Feature extraction settings (stored in the model).
    pub features: FeatureConfig,
    /// Passes over the training set.
    pub epochs: u32,
    /// AdaGrad base learning rate.
    pub lr: f32,
    /// L2 penalty, applied to the weights a step touches.
    pub l2: f32,
    /// Class weights are `(n / (3 n_c))^balance`: 0 = none, 1 = fully balanced.
    pub balance: f32,
    /// Return the average of the weights over all SGD steps (Polyak
    /// averaging) instead of the last iterate.
    pub average: bool,
    /// Added to the neutral class's bias after training: calibrates how
    /// readily the model says "neutral" (chosen on the shifted splits).
    pub neutral_offset: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            features: FeatureConfig::default(),
            epochs: 10,
            lr: 0.1,
            l2: 1e-6,
            balance: 1.0,
            average: true,
            neutral_offset: 0.0,
        }
    }
}

impl TrainConfig {
    /// Set one hyper-parameter by name (as in `key=value` overrides of the
    /// tuning examples). Keys: `epochs lr l2 balance average` and the
    /// [`FeatureConfig`] fields.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        fn p<T: std::str::FromStr>(key: &str, v: &str) -> Result<T> {
            v.trim()
                .parse()
                .map_err(|_| Error::Config(format!("bad value `{v}` for `{key}`")))
        }
        let f = &mut self.features;
        match key {
            "epochs" => self.epochs = p(key, value)?,
            "lr" => self.lr = p(key, value)?,
            "l2" => self.l2 = p(key, value)?,
            "balance" => self.balance = p(key, value)?,
            "average" => self.average = p(key, value)?,
            "hash_bits" => f.hash_bits = p(key, value)?,
            "char_min" => f.char_min = p(key, value)?,
            "char_max" => f.char_max = p(key, value)?,
            "neg_window" => f.neg_window = p(key, value)?,
            "w_word" => f.w_word = p(key, value)?,
            "w_bigram" => f.w_bigram = p(key, value)?,
            "w_char" => f.w_char = p(key, value)?,
            "w_lex" => f.w_lex = p(key, value)?,
            "w_style" => f.w_style = p(key, value)?,
            "w_trigram" => f.w_trigram = p(key, value)?,
            "group_norm" => f.group_norm = p(key, value)?,
            "ext_lex" => f.ext_lex = p(key, value)?,
            "contrast" => f.contrast = p(key, value)?,
            "w_doc" => f.w_doc = p(key, value)?,
            "neutral_offset" => self.neutral_offset = p(key, value)?,
            _ => return Err(Error::Config(format!("unknown hyper-parameter `{key}`"))),
        }
        Ok(())
    }
}

/// Train a model on `(text, label)` pairs. `rng` drives the shuffling; the
/// same seed and data give a bit-identical model.
///
/// `progress` is called after each epoch with `(epoch, mean training loss)`.
pub fn train<R: Rng, S: AsRef<str>>(
    texts: &[S],
    labels: &[Label],
    cfg: &TrainConfig,
    rng: &mut R,
    mut progress: impl FnMut(u32, f64),
) -> Result<Model> {
    if texts.len() != labels.len() {
        return Err(Error::Data(format!(
            "{} texts but {} labels",
            texts.len(),
            labels.len()
        )));
    }
    if texts.is_empty() {
        return Err(Error::Data("no training examples".into()));
    }
    if !(8..=26).contains(&cfg.features.hash_bits) {
        return Err(Error::Config("hash_bits must be in 8..=26".into()));
    }
    let n_buckets = 1usize << cfg.features.hash_bits;
    let mut weights = vec![0f32; n_buckets * 3];
    let mut bias = [0f32; 3];

    // Features once, stored flat.
    let mut offsets = Vec::with_capacity(texts.len() + 1);
    let mut all: Vec<(u32, f32)> = Vec::new();
    let mut s = Scratch::default();
    offsets.push(0usize);
    for t in texts {
        features_into(&cfg.features, t.as_ref(), &mut s);
        all.extend(s.feats.iter().map(|f: &Feat| (f.idx, f.val)));
        offsets.push(all.len());
    }

    let mut counts = [0usize; 3];
    for l in labels {
        counts[l.id()] += 1;
    }
    let n = labels.len() as f32;
    let class_w: [f32; 3] = std::array::from_fn(|c| {
        if counts[c] == 0 {
            0.0
        } else {
            (n / (3.0 * counts[c] as f32)).powf(cfg.balance)
        }
    });

    let mut g2 = vec![1e-8f32; n_buckets * 3];
    let mut gb = [1e-8f32; 3];
    // Averaging trick: with u += t * delta at step t, the mean iterate after
    // T steps is w - u / T.
    let mut u = if cfg.average {
        vec![0f32; n_buckets * 3]
    } else {
        Vec::new()
    };
    let mut ub = [0f32; 3];
    let mut step = 0f32;
    let mut order: Vec<usize> = (0..texts.len()).collect();
    for epoch in 0..cfg.epochs {
        order.shuffle(rng);
        let mut loss = 0f64;
        for &i in &order {
            step += 1.0;
            let feats = &all[offsets[i]..offsets[i + 1]];
            let mut z = bias;
            for &(idx, v) in feats {
                let b = idx as usize * 3;
                z[0] += weights[b] * v;
                z[1] += weights[b + 1] * v;
                z[2] += weights[b + 2] * v;
            }
            let p = softmax(&z);
            let y = labels[i].id();
            let cw = class_w[y];
            loss -= f64::from(cw) * f64::from(p[y].max(1e-12).ln());
            let g: [f32; 3] = std::array::from_fn(|c| cw * (p[c] - if c == y { 1.0 } else { 0.0 }));
            for &(idx, v) in feats {
                let b = idx as usize * 3;
                for c in 0..3 {
                    let w = &mut weights[b + c];
                    let grad = g[c] * v + cfg.l2 * *w;
                    let acc = &mut g2[b + c];
                    *acc += grad * grad;
                    let delta = cfg.lr * grad / acc.sqrt();
                    *w -= delta;
                    if let Some(uu) = u.get_mut(b + c) {
                        *uu -= step * delta;
                    }
                }
            }
            for c in 0..3 {
                gb[c] += g[c] * g[c];
                let delta = cfg.lr * g[c] / gb[c].sqrt();
                bias[c] -= delta;
                ub[c] -= step * delta;
            }
        }
        progress(epoch + 1, loss / texts.len() as f64);
    }
    if cfg.average && step > 0.0 {
        for (w, uu) in weights.iter_mut().zip(&u) {
            *w -= uu / step;
        }
        for (b, uu) in bias.iter_mut().zip(&ub) {
            *b -= uu / step;
        }
    }
    if !cfg.neutral_offset.is_finite() {
        return Err(Error::Config("neutral_offset must be finite".into()));
    }
    bias[Label::Neutral.id()] += cfg.neutral_offset;
    Ok(Model::quantize(cfg.features.clone(), &weights, bias))
}
