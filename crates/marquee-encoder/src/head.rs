//! The classification head: multinomial logistic regression over an embedding.
//!
//! # File format (version 1)
//! Little-endian throughout, no padding, nothing that varies between runs:
//! ```text
//! magic      8 bytes  "MQENCHD\0"
//! version    u32      1
//! dims       u32      embedding size D
//! classes    u32      3 (negative, neutral, positive)
//! fp_len     u32      length of the encoder fingerprint
//! fingerprint         fp_len bytes, ASCII hex (Encoder::fingerprint)
//! weights    f32 × 3D class-major: weights[c * D + d]
//! bias       f32 × 3
//! ```
//!
//! # Version 2: a head with fine-tuned top layers
//! Written by [`crate::fine_tune`]. Version 1's fields, then:
//! ```text
//! layers        u32  k, the number of top layers that replace the encoder's last k
//! intermediate  u32  the layers' intermediate (feed-forward) size
//! heads         u32  attention heads
//! eps           f64  layer-norm epsilon
//! layer data    f32 × k × (4 h² + 2 h i + 9 h + i), per layer the 16
//!                    tensors of `encoder.layer.N.*` in a fixed order
//! ```
//! A head without fine-tuned layers is written as version 1, so plain heads
//! keep their bytes.

use marquee_sentiment::{Label, Prediction};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::encoder::{normalise_rows, States};
use crate::layer::{Geometry, Layer};
use crate::{positive, setting, Encoder, Error, Result};

const MAGIC: &[u8; 8] = b"MQENCHD\0";
const VERSION: u32 = 1;
const VERSION_TOP: u32 = 2;
const CLASSES: usize = 3;

/// Training hyper-parameters of [`train_head`].
#[derive(Debug, Clone, PartialEq)]
pub struct HeadConfig {
    /// Passes over the training set.
    pub epochs: u32,
    /// AdaGrad base learning rate.
    pub lr: f32,
    /// L2 penalty on the (standardised-input) weights.
    pub l2: f32,
    /// Class weights are `(n / (3 n_c))^balance`: 0 = none, 1 = fully balanced.
    pub balance: f32,
    /// Return the mean iterate over all SGD steps (Polyak averaging).
    pub average: bool,
}

impl HeadConfig {
    /// Checks the hyper-parameters: a positive finite `lr`, a finite
    /// `l2 >= 0` and a finite `balance`. [`train_head`] calls it first;
    /// callers that embed texts before training (minutes) call it
    /// themselves so that a bad setting fails early.
    pub fn validate(&self) -> Result<()> {
        positive("lr", f64::from(self.lr))?;
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(setting("l2", self.l2, "must be a finite number, 0 or more"));
        }
        if !self.balance.is_finite() {
            return Err(setting("balance", self.balance, "must be a finite number"));
        }
        Ok(())
    }
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig {
            epochs: 10,
            lr: 0.05,
            l2: 1e-4,
            balance: 1.0,
            average: true,
        }
    }
}

/// A trained head. See the module docs for its file format.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    dims: usize,
    fingerprint: String,
    weights: Vec<f32>,
    bias: [f32; 3],
    top: Option<Top>,
}

/// Fine-tuned top layers: their numbers (what the file holds and equality
/// compares) and the same as tensors, built once.
#[derive(Debug, Clone)]
pub(crate) struct Top {
    pub geometry: Geometry,
    pub floats: Vec<f32>,
    pub layers: Vec<Layer>,
}

impl PartialEq for Top {
    fn eq(&self, other: &Top) -> bool {
        self.geometry == other.geometry && self.floats == other.floats
    }
}

impl Top {
    pub(crate) fn new(geometry: Geometry, floats: Vec<f32>) -> Result<Top> {
        let per = Layer::len(&geometry);
        // `is_multiple_of` needs Rust 1.87; the workspace supports 1.85.
        #[allow(clippy::manual_is_multiple_of)]
        let uneven = per == 0 || floats.len() % per != 0;
        if uneven || floats.is_empty() {
            return Err(Error::BadHead(format!(
                "{} layer numbers is not a whole number of layers of {per}",
                floats.len()
            )));
        }
        let layers = floats
            .chunks(per)
            .map(|c| Layer::from_floats(&geometry, c))
            .collect::<candle_core::Result<Vec<_>>>()
            .map_err(|e| Error::BadHead(e.to_string()))?;
        Ok(Top {
            geometry,
            floats,
            layers,
        })
    }
}

fn softmax(z: &[f32; 3]) -> [f32; 3] {
    let m = z[0].max(z[1]).max(z[2]);
    let e = [(z[0] - m).exp(), (z[1] - m).exp(), (z[2] - m).exp()];
    let s = e[0] + e[1] + e[2];
    [e[0] / s, e[1] / s, e[2] / s]
}

/// Train a head on embeddings with labels. Deterministic: single-threaded,
/// fixed summation order, the only randomness the per-epoch shuffle drawn
/// from `StdRng::seed_from_u64(seed)`. `fingerprint` identifies the encoder
/// (use [`Encoder::fingerprint`]) and is stored in the head.
pub fn train_head<E: AsRef<[f32]>>(
    embeddings: &[E],
    labels: &[Label],
    cfg: &HeadConfig,
    seed: u64,
    fingerprint: &str,
) -> Result<Head> {
    if embeddings.len() != labels.len() {
        return Err(Error::Data(format!(
            "{} embeddings but {} labels",
            embeddings.len(),
            labels.len()
        )));
    }
    let Some(first) = embeddings.first() else {
        return Err(Error::Data("no training examples".into()));
    };
    let dims = first.as_ref().len();
    if dims == 0 {
        return Err(Error::Data("embeddings are empty vectors".into()));
    }
    if let Some((i, e)) = embeddings
        .iter()
        .enumerate()
        .find(|(_, e)| e.as_ref().len() != dims)
    {
        return Err(Error::Data(format!(
            "embedding {i} has {} dimensions, the first has {dims}",
            e.as_ref().len()
        )));
    }
    if embeddings
        .iter()
        .any(|e| e.as_ref().iter().any(|x| !x.is_finite()))
    {
        return Err(Error::Data("an embedding holds NaN or infinity".into()));
    }
    cfg.validate()?;

    // Standardise each dimension (f64 sums in a fixed order).
    let n = embeddings.len();
    let mut mean = vec![0f64; dims];
    for e in embeddings {
        for (m, &x) in mean.iter_mut().zip(e.as_ref()) {
            *m += f64::from(x);
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    let mut var = vec![0f64; dims];
    for e in embeddings {
        for ((v, &x), m) in var.iter_mut().zip(e.as_ref()).zip(&mean) {
            let d = f64::from(x) - m;
            *v += d * d;
        }
    }
    let scale: Vec<f32> = var
        .iter()
        .map(|v| {
            let sd = (v / n as f64).sqrt();
            if sd > 1e-8 {
                (1.0 / sd) as f32
            } else {
                0.0
            }
        })
        .collect();
    let mean: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    let xs: Vec<f32> = embeddings
        .iter()
        .flat_map(|e| {
            e.as_ref()
                .iter()
                .zip(&mean)
                .zip(&scale)
                .map(|((&x, &m), &s)| (x - m) * s)
        })
        .collect();

    let class_w = class_weights(labels, cfg.balance);

    let mut w = vec![0f32; CLASSES * dims];
    let mut bias = [0f32; CLASSES];
    let mut g2 = vec![1e-8f32; CLASSES * dims];
    let mut gb = [1e-8f32; CLASSES];
    // Averaging trick: with u += t * delta at step t, the mean iterate after
    // T steps is w - u / T.
    let mut u = vec![0f32; if cfg.average { CLASSES * dims } else { 0 }];
    let mut ub = [0f32; CLASSES];
    let mut step = 0f32;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for _ in 0..cfg.epochs {
        order.shuffle(&mut rng);
        for &i in &order {
            step += 1.0;
            let x = &xs[i * dims..(i + 1) * dims];
            let mut z = bias;
            for (c, zc) in z.iter_mut().enumerate() {
                *zc += dot(&w[c * dims..(c + 1) * dims], x);
            }
            let p = softmax(&z);
            let y = labels[i].id();
            let cw = class_w[y];
            for c in 0..CLASSES {
                let g = cw * (p[c] - if c == y { 1.0 } else { 0.0 });
                let row = c * dims..(c + 1) * dims;
                let (wr, gr) = (&mut w[row.clone()], &mut g2[row.clone()]);
                if cfg.average {
                    let ur = &mut u[row];
                    for d in 0..dims {
                        let grad = g * x[d] + cfg.l2 * wr[d];
                        gr[d] += grad * grad;
                        let delta = cfg.lr * grad / gr[d].sqrt();
                        wr[d] -= delta;
                        ur[d] -= step * delta;
                    }
                } else {
                    for d in 0..dims {
                        let grad = g * x[d] + cfg.l2 * wr[d];
                        gr[d] += grad * grad;
                        wr[d] -= cfg.lr * grad / gr[d].sqrt();
                    }
                }
                gb[c] += g * g;
                let delta = cfg.lr * g / gb[c].sqrt();
                bias[c] -= delta;
                ub[c] -= step * delta;
            }
        }
    }
    if cfg.average && step > 0.0 {
        for (wv, uu) in w.iter_mut().zip(&u) {
            *wv -= uu / step;
        }
        for (b, uu) in bias.iter_mut().zip(&ub) {
            *b -= uu / step;
        }
    }
    // Fold the standardisation in: w·((x − m)·s) + b = (w·s)·x + (b − Σ w·s·m).
    for c in 0..CLASSES {
        let mut shift = 0f64;
        for d in 0..dims {
            let ws = w[c * dims + d] * scale[d];
            w[c * dims + d] = ws;
            shift += f64::from(ws) * f64::from(mean[d]);
        }
        bias[c] -= shift as f32;
    }
    if w.iter().chain(&bias).any(|x| !x.is_finite()) {
        return Err(Error::Config(
            "training diverged (non-finite weights); lower lr".into(),
        ));
    }
    Ok(Head {
        dims,
        fingerprint: fingerprint.to_string(),
        weights: w,
        bias,
        top: None,
    })
}

/// Class weights `(n / (3 n_c))^balance` (0 for a class with no example).
pub(crate) fn class_weights(labels: &[Label], balance: f32) -> [f32; CLASSES] {
    let n = labels.len();
    let mut counts = [0usize; CLASSES];
    for l in labels {
        counts[l.id()] += 1;
    }
    std::array::from_fn(|c| {
        if counts[c] == 0 {
            0.0
        } else {
            (n as f32 / (3.0 * counts[c] as f32)).powf(balance)
        }
    })
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Head {
    /// Embedding size the head expects.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Build a head from its parts (used by [`crate::fine_tune`]).
    pub(crate) fn with_top(
        dims: usize,
        fingerprint: &str,
        weights: Vec<f32>,
        bias: [f32; 3],
        top: Option<Top>,
    ) -> Head {
        Head {
            dims,
            fingerprint: fingerprint.to_string(),
            weights,
            bias,
            top,
        }
    }

    /// The weights and bias of the linear layer (class-major).
    pub(crate) fn linear(&self) -> (&[f32], [f32; 3]) {
        (&self.weights, self.bias)
    }

    /// How many of the encoder's last layers this head replaces with its
    /// own fine-tuned ones (0 for a plain head).
    pub fn top_layers(&self) -> usize {
        self.top.as_ref().map_or(0, |t| t.layers.len())
    }

    /// Fingerprint of the encoder the head was trained on.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Error unless `encoder` is the one this head was trained on.
    pub fn check_encoder(&self, encoder: &Encoder) -> Result<()> {
        if encoder.dims() != self.dims {
            return Err(Error::Mismatch(format!(
                "the head expects {}-dimensional embeddings, the encoder gives {}",
                self.dims,
                encoder.dims()
            )));
        }
        if encoder.fingerprint() != self.fingerprint {
            return Err(Error::Mismatch(format!(
                "the head was trained on encoder {}, this is {}",
                self.fingerprint,
                encoder.fingerprint()
            )));
        }
        if let Some(top) = &self.top {
            if top.geometry != encoder.geometry() || top.layers.len() > encoder.num_layers() {
                return Err(Error::Mismatch(format!(
                    "the head's {} fine-tuned layers do not fit this {}-layer encoder",
                    top.layers.len(),
                    encoder.num_layers()
                )));
            }
        }
        Ok(())
    }

    /// The embeddings this head classifies: the encoder's, with the last
    /// layers replaced by the head's fine-tuned ones if it has any. Checks
    /// that the head belongs to the encoder.
    pub fn embed_texts<S: AsRef<str>>(
        &self,
        encoder: &Encoder,
        texts: &[S],
    ) -> Result<Vec<Vec<f32>>> {
        self.check_encoder(encoder)?;
        match &self.top {
            None => encoder.embed_batch(texts),
            Some(top) => encoder.embed_with_top(texts, &top.layers),
        }
    }

    /// The embeddings this head classifies, from the hidden states that
    /// enter its top layers ([`Encoder::states_below`] with
    /// [`Head::top_layers`]). A plain head needs the last layer's states,
    /// which it mean-pools and normalises.
    pub fn embed_states<S: std::borrow::Borrow<States>>(
        &self,
        states: &[S],
    ) -> Result<Vec<Vec<f32>>> {
        let layers: &[Layer] = self.top.as_ref().map_or(&[], |t| &t.layers);
        let geometry = self.top.as_ref().map(|t| t.geometry);
        let mut out = crate::finetune::pool_states(states, self.dims, geometry.as_ref(), layers)?;
        normalise_rows(&mut out);
        Ok(out)
    }

    /// Classify one embedding.
    pub fn predict(&self, embedding: &[f32]) -> Result<Prediction> {
        if embedding.len() != self.dims {
            return Err(Error::Mismatch(format!(
                "embedding has {} dimensions, the head expects {}",
                embedding.len(),
                self.dims
            )));
        }
        let d = self.dims;
        let z: [f32; 3] = std::array::from_fn(|c| {
            self.bias[c] + dot(&self.weights[c * d..(c + 1) * d], embedding)
        });
        let probs = softmax(&z);
        let best = (0..CLASSES).fold(0, |b, c| if probs[c] > probs[b] { c } else { b });
        Ok(Prediction {
            label: Label::from_id(best).unwrap_or(Label::Neutral),
            score: probs[Label::Positive.id()] - probs[Label::Negative.id()],
            probs,
            top_tokens: Vec::new(),
        })
    }

    /// Embed `texts` with `encoder` and classify them (checks that the head
    /// belongs to the encoder).
    pub fn predict_texts<S: AsRef<str>>(
        &self,
        encoder: &Encoder,
        texts: &[S],
    ) -> Result<Vec<Prediction>> {
        self.embed_texts(encoder, texts)?
            .iter()
            .map(|e| self.predict(e))
            .collect()
    }

    /// The deterministic file encoding (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b =
            Vec::with_capacity(24 + self.fingerprint.len() + 4 * (self.weights.len() + CLASSES));
        b.extend_from_slice(MAGIC);
        let version = if self.top.is_some() {
            VERSION_TOP
        } else {
            VERSION
        };
        for v in [
            version,
            self.dims as u32,
            CLASSES as u32,
            self.fingerprint.len() as u32,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(self.fingerprint.as_bytes());
        for x in self.weights.iter().chain(&self.bias) {
            b.extend_from_slice(&x.to_le_bytes());
        }
        if let Some(top) = &self.top {
            let g = &top.geometry;
            for v in [top.layers.len(), g.intermediate, g.heads] {
                b.extend_from_slice(&(v as u32).to_le_bytes());
            }
            b.extend_from_slice(&g.eps.to_le_bytes());
            for x in &top.floats {
                b.extend_from_slice(&x.to_le_bytes());
            }
        }
        b
    }

    /// Parse a head file, checking its structure and that every number is finite.
    pub fn from_bytes(bytes: &[u8]) -> Result<Head> {
        let mut r = Reader { buf: bytes };
        if r.take(8)? != MAGIC {
            return Err(Error::BadHead(
                "not an encoder head file (bad magic)".into(),
            ));
        }
        let version = r.u32()?;
        if version != VERSION && version != VERSION_TOP {
            return Err(Error::BadHead(format!(
                "format version {version}, this build reads {VERSION} and {VERSION_TOP}"
            )));
        }
        let dims = r.u32()? as usize;
        let classes = r.u32()? as usize;
        let fp_len = r.u32()? as usize;
        if classes != CLASSES {
            return Err(Error::BadHead(format!("{classes} classes, expected 3")));
        }
        if dims == 0 || dims > 1 << 16 {
            return Err(Error::BadHead(format!("implausible dimension {dims}")));
        }
        if fp_len > 256 {
            return Err(Error::BadHead("implausible fingerprint length".into()));
        }
        let fingerprint = std::str::from_utf8(r.take(fp_len)?)
            .map_err(|_| Error::BadHead("fingerprint is not UTF-8".into()))?
            .to_string();
        let n = CLASSES * dims + CLASSES;
        let floats = r.floats(n)?;
        let top = if version == VERSION_TOP {
            let layers = r.u32()? as usize;
            let intermediate = r.u32()? as usize;
            let heads = r.u32()? as usize;
            let eps = f64::from_le_bytes(
                r.take(8)?
                    .try_into()
                    .map_err(|_| Error::BadHead("file is truncated".into()))?,
            );
            #[allow(clippy::manual_is_multiple_of)]
            let bad_heads = heads == 0 || dims % heads != 0;
            if layers == 0
                || layers > 64
                || intermediate == 0
                || intermediate > 1 << 18
                || bad_heads
            {
                return Err(Error::BadHead(format!(
                    "implausible top layers: {layers} layers, intermediate {intermediate}, {heads} heads"
                )));
            }
            if !(eps.is_finite() && eps > 0.0) {
                return Err(Error::BadHead("layer-norm epsilon must be positive".into()));
            }
            let geometry = Geometry {
                hidden: dims,
                intermediate,
                heads,
                eps,
            };
            let layer_floats = r.floats(layers * Layer::len(&geometry))?;
            if layer_floats.iter().any(|x| !x.is_finite()) {
                return Err(Error::BadHead("non-finite layer weight".into()));
            }
            Some(Top::new(geometry, layer_floats)?)
        } else {
            None
        };
        if !r.buf.is_empty() {
            return Err(Error::BadHead(format!(
                "{} trailing bytes after the weights",
                r.buf.len()
            )));
        }
        if floats.iter().any(|x| !x.is_finite()) {
            return Err(Error::BadHead("non-finite weight".into()));
        }
        let (weights, b) = floats.split_at(CLASSES * dims);
        Ok(Head {
            dims,
            fingerprint,
            weights: weights.to_vec(),
            bias: [b[0], b[1], b[2]],
            top,
        })
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::BadHead("file is truncated".into()));
        }
        let (a, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(a)
    }

    fn floats(&mut self, n: usize) -> Result<Vec<f32>> {
        let bytes = n
            .checked_mul(4)
            .ok_or_else(|| Error::BadHead("implausible size".into()))?;
        Ok(self
            .take(bytes)?
            .chunks_exact(4)
            .map(|s| f32::from_le_bytes([s[0], s[1], s[2], s[3]]))
            .collect())
    }

    fn u32(&mut self) -> Result<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_reject_damage() {
        let embs = vec![
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![-1.0, 0.0],
            vec![0.9, 0.1],
        ];
        let labels = [
            Label::Positive,
            Label::Neutral,
            Label::Negative,
            Label::Positive,
        ];
        let h = train_head(&embs, &labels, &HeadConfig::default(), 1, "abc").unwrap();
        let b = h.to_bytes();
        assert_eq!(Head::from_bytes(&b).unwrap(), h);
        assert!(Head::from_bytes(&b[..b.len() - 1]).is_err());
        let mut longer = b.clone();
        longer.push(0);
        assert!(Head::from_bytes(&longer).is_err());
        let mut bad = b.clone();
        bad[0] = b'X';
        assert!(Head::from_bytes(&bad).is_err());
        assert!(h.predict(&[1.0]).is_err());
    }
}
