//! The model: a multinomial logistic regression over hashed features.

use sha2::{Digest, Sha256};

use crate::features::{extract, Feat, FeatureConfig, NO_TOKEN};
use crate::normalize::{tokenize, Kind, Token};
use crate::{Error, Label, Result};

/// The default model, trained on TweetEval train by
/// `marquee train sentiment --seed 42`.
static DEFAULT_MODEL: &[u8] = include_bytes!("../model/sentiment-v2.bin");

const MAGIC: &[u8; 8] = b"MQSENT\0\x01";
/// Bumped whenever tokenisation or feature extraction changes meaning.
/// Version 2: general-domain lexicon, contrast clauses, text-level features,
/// long-run elongation look-up.
pub(crate) const FORMAT_VERSION: u32 = 2;

/// How many contributing tokens a [`Prediction`] reports at most.
pub const TOP_TOKENS: usize = 5;

/// One prediction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Prediction {
    /// The most probable class.
    pub label: Label,
    /// Signed polarity in `[-1, 1]`: `P(positive) - P(negative)`.
    /// Near 0 for neutral or mixed texts.
    pub score: f32,
    /// Class probabilities, indexed by [`Label::id`] (negative, neutral, positive); they sum to 1.
    pub probs: [f32; 3],
    /// Up to [`TOP_TOKENS`] normalised tokens that pushed the text towards
    /// `label` the most, with their contribution to the label's logit
    /// (relative to the mean of the other two logits), largest first. Only
    /// positive contributions are listed. Tokens inside a negation scope are
    /// shown as `NOT_word`.
    pub top_tokens: Vec<(String, f32)>,
}

impl Prediction {
    /// Confidence of the predicted label, `probs[label]`.
    pub fn confidence(&self) -> f32 {
        self.probs[self.label.id()]
    }

    /// Two models' opinions of one text combined: probabilities
    /// `weight · self + (1 − weight) · other` (weight clamped to `[0, 1]`),
    /// the label and score that follow from them, and the explanation of
    /// whichever side has an explanation (`self`'s first).
    pub fn blend(&self, other: &Prediction, weight: f32) -> Prediction {
        let w = if weight.is_nan() {
            1.0
        } else {
            weight.clamp(0.0, 1.0)
        };
        let probs: [f32; 3] =
            std::array::from_fn(|c| w * self.probs[c] + (1.0 - w) * other.probs[c]);
        let best = (0..3).fold(0, |b, c| if probs[c] > probs[b] { c } else { b });
        Prediction {
            label: Label::from_id(best).unwrap_or(Label::Neutral),
            score: probs[Label::Positive.id()] - probs[Label::Negative.id()],
            probs,
            top_tokens: if self.top_tokens.is_empty() {
                other.top_tokens.clone()
            } else {
                self.top_tokens.clone()
            },
        }
    }
}

/// A trained sentiment model. Immutable after construction, so it is
/// `Send + Sync` and can be shared between threads behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Model {
    pub(crate) cfg: FeatureConfig,
    /// `2^hash_bits` rows of 3 quantised class weights plus one pad (rows of
    /// 8 bytes never straddle a cache line); weight = `q * scale`.
    pub(crate) q: Vec<i16>,
    pub(crate) scale: f32,
    pub(crate) bias: [f32; 3],
}

const ROW: usize = 4;

thread_local! {
    /// Per-thread buffers so that single predictions do not allocate them.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Reusable buffers for prediction.
#[derive(Default)]
pub(crate) struct Scratch {
    pub tokens: Vec<Token>,
    pub feats: Vec<Feat>,
    contrib: Vec<f32>,
}

impl Model {
    /// The model shipped inside this crate (no file needed at run time).
    pub fn default_model() -> Result<Model> {
        Model::from_bytes(DEFAULT_MODEL)
    }

    /// The raw bytes of the shipped model.
    pub fn default_model_bytes() -> &'static [u8] {
        DEFAULT_MODEL
    }

    /// Feature settings this model was trained with.
    pub fn feature_config(&self) -> &FeatureConfig {
        &self.cfg
    }

    /// Build a model from float weights (`2^hash_bits * 3`, row-major),
    /// quantising them to `i16` with one scale.
    pub(crate) fn quantize(cfg: FeatureConfig, weights: &[f32], bias: [f32; 3]) -> Model {
        let max = weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
        let mut q = vec![0i16; weights.len() / 3 * ROW];
        for (row, w) in q.chunks_exact_mut(ROW).zip(weights.chunks_exact(3)) {
            for c in 0..3 {
                row[c] = (w[c] / scale).round().clamp(-32767.0, 32767.0) as i16;
            }
        }
        Model {
            cfg,
            q,
            scale,
            bias,
        }
    }

    #[inline]
    fn row(&self, idx: u32) -> Option<&[i16]> {
        let base = idx as usize * ROW;
        self.q.get(base..base + 3)
    }

    /// Serialise. Weights are quantised to `i16` with one scale for the
    /// whole table; the file ends with a SHA-256 of everything before it.
    /// Serialising is deterministic: the same model gives the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.q.len() / ROW * 6);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let c = &self.cfg;
        out.extend_from_slice(&[c.hash_bits, c.char_min, c.char_max, c.neg_window]);
        for v in [
            c.w_word,
            c.w_bigram,
            c.w_char,
            c.w_lex,
            c.w_style,
            c.w_trigram,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&u32::from(c.group_norm).to_le_bytes());
        out.extend_from_slice(&[u8::from(c.ext_lex), u8::from(c.contrast), 0, 0]);
        out.extend_from_slice(&c.w_doc.to_le_bytes());
        for b in self.bias {
            out.extend_from_slice(&b.to_le_bytes());
        }
        out.extend_from_slice(&self.scale.to_le_bytes());
        for row in self.q.chunks_exact(ROW) {
            for w in &row[..3] {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    /// Parse a model file written by [`Model::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        if bytes.len() < 8 + 4 + 4 + 24 + 4 + 8 + 12 + 4 + 32 {
            return Err(Error::BadModel("file too short".into()));
        }
        let (body, digest) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != digest {
            return Err(Error::BadModel("checksum mismatch".into()));
        }
        let mut r = Reader { buf: body, pos: 0 };
        if r.take(8)? != MAGIC {
            return Err(Error::BadModel("not a marquee sentiment model".into()));
        }
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(Error::BadModel(format!(
                "format version {version}, this build reads {FORMAT_VERSION}"
            )));
        }
        let h = r.take(4)?;
        let (hash_bits, char_min, char_max, neg_window) = (h[0], h[1], h[2], h[3]);
        if !(8..=26).contains(&hash_bits) || char_min > char_max {
            return Err(Error::BadModel("bad feature settings".into()));
        }
        let (w_word, w_bigram, w_char, w_lex, w_style, w_trigram) =
            (r.f32()?, r.f32()?, r.f32()?, r.f32()?, r.f32()?, r.f32()?);
        let group_norm = r.u32()? != 0;
        let flags = r.take(4)?;
        let cfg = FeatureConfig {
            hash_bits,
            char_min,
            char_max,
            neg_window,
            w_word,
            w_bigram,
            w_char,
            w_lex,
            w_style,
            w_trigram,
            group_norm,
            ext_lex: flags[0] != 0,
            contrast: flags[1] != 0,
            w_doc: r.f32()?,
        };
        let bias = [r.f32()?, r.f32()?, r.f32()?];
        let scale = r.f32()?;
        let n = (1usize << hash_bits) * 3;
        let raw = r.take(n * 2)?;
        if r.pos != body.len() {
            return Err(Error::BadModel("trailing bytes".into()));
        }
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::BadModel("bad weight scale".into()));
        }
        let mut q = vec![0i16; n / 3 * ROW];
        for (row, c) in q.chunks_exact_mut(ROW).zip(raw.chunks_exact(6)) {
            for k in 0..3 {
                row[k] = i16::from_le_bytes([c[2 * k], c[2 * k + 1]]);
            }
        }
        Ok(Model {
            cfg,
            q,
            scale,
            bias,
        })
    }

    /// SHA-256 (hex) of the serialised model.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.to_bytes()))
    }

    pub(crate) fn features_into(&self, text: &str, s: &mut Scratch) {
        features_into(&self.cfg, text, s);
    }

    pub(crate) fn logits(&self, feats: &[Feat]) -> [f32; 3] {
        let mut a = [0f32; 3];
        for f in feats {
            if let Some(w) = self.row(f.idx) {
                a[0] += f32::from(w[0]) * f.val;
                a[1] += f32::from(w[1]) * f.val;
                a[2] += f32::from(w[2]) * f.val;
            }
        }
        std::array::from_fn(|c| self.bias[c] + self.scale * a[c])
    }

    /// Classify one text. Every text gets a label and nothing panics: a
    /// text with no tokens (empty, blank, only control characters) is
    /// neutral with probability 1 and no explanation; any length and any
    /// script is accepted (a script the model has not seen mostly falls back
    /// on emoji, punctuation and the biases).
    pub fn predict(&self, text: &str) -> Prediction {
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.predict_with(text, &mut s),
            Err(_) => self.predict_with(text, &mut Scratch::default()),
        })
    }

    /// Classify many texts (sequentially, on the calling thread, reusing buffers).
    pub fn predict_batch<S: AsRef<str>>(&self, texts: &[S]) -> Vec<Prediction> {
        let mut s = Scratch::default();
        texts
            .iter()
            .map(|t| self.predict_with(t.as_ref(), &mut s))
            .collect()
    }

    /// Only the label (cheaper: no probabilities' explanation).
    pub fn predict_label(&self, text: &str) -> Label {
        SCRATCH.with(|s| {
            let mut fresh = Scratch::default();
            let mut guard = s.try_borrow_mut();
            let s = match guard.as_mut() {
                Ok(s) => &mut **s,
                Err(_) => &mut fresh,
            };
            self.features_into(text, s);
            if s.feats.is_empty() {
                return Label::Neutral;
            }
            argmax(&self.logits(&s.feats))
        })
    }

    /// Classify raw bytes (e.g. read from a file): invalid UTF-8 sequences
    /// are replaced by U+FFFD instead of being rejected.
    pub fn predict_bytes(&self, bytes: &[u8]) -> Prediction {
        self.predict(&String::from_utf8_lossy(bytes))
    }

    pub(crate) fn predict_with(&self, text: &str, s: &mut Scratch) -> Prediction {
        self.features_into(text, s);
        if s.feats.is_empty() {
            // Nothing to read (empty, blank, or only control characters):
            // neutral by definition rather than whatever the biases say.
            return Prediction {
                label: Label::Neutral,
                score: 0.0,
                probs: [0.0, 1.0, 0.0],
                top_tokens: Vec::new(),
            };
        }
        let z = self.logits(&s.feats);
        let probs = softmax(&z);
        let label = argmax(&z);
        let k = label.id();
        s.contrib.clear();
        s.contrib.resize(s.tokens.len(), 0.0);
        for f in &s.feats {
            if f.tok == NO_TOKEN {
                continue;
            }
            if let (Some(w), Some(c)) = (self.row(f.idx), s.contrib.get_mut(usize::from(f.tok))) {
                let (w0, w1, w2) = (f32::from(w[0]), f32::from(w[1]), f32::from(w[2]));
                let wk = [w0, w1, w2][k];
                let others = (w0 + w1 + w2 - wk) * 0.5;
                *c += (wk - others) * f.val * self.scale;
            }
        }
        let top_tokens = top_tokens(&s.tokens, &s.contrib);
        Prediction {
            label,
            score: probs[2] - probs[0],
            probs,
            top_tokens,
        }
    }
}

/// Tokenise and extract features of `text` into `s`.
pub(crate) fn features_into(cfg: &FeatureConfig, text: &str, s: &mut Scratch) {
    tokenize(text, usize::from(cfg.neg_window), &mut s.tokens);
    extract(cfg, &s.tokens, &mut s.feats);
}

fn top_tokens(tokens: &[Token], contrib: &[f32]) -> Vec<(String, f32)> {
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(TOP_TOKENS + 1);
    for (i, &c) in contrib.iter().enumerate() {
        if c <= 0.0
            || tokens
                .get(i)
                .is_some_and(|t| t.kind == Kind::Punct && c < 0.05)
        {
            continue;
        }
        let pos = best.iter().position(|&(_, b)| c > b).unwrap_or(best.len());
        if pos < TOP_TOKENS {
            best.insert(pos, (i, c));
            best.truncate(TOP_TOKENS);
        }
    }
    best.into_iter()
        .filter_map(|(i, c)| {
            let t = tokens.get(i)?;
            let name = if t.negated {
                format!("NOT_{}", t.text)
            } else {
                t.text.clone()
            };
            Some((name, c))
        })
        .collect()
}

pub(crate) fn argmax(z: &[f32; 3]) -> Label {
    let mut k = 0;
    for i in 1..3 {
        if z[i] > z[k] {
            k = i;
        }
    }
    Label::from_id(k).unwrap_or(Label::Neutral)
}

pub(crate) fn softmax(z: &[f32; 3]) -> [f32; 3] {
    let m = z[0].max(z[1]).max(z[2]);
    let e = [(z[0] - m).exp(), (z[1] - m).exp(), (z[2] - m).exp()];
    let s = e[0] + e[1] + e[2];
    [e[0] / s, e[1] / s, e[2] / s]
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| Error::BadModel("truncated".into()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f32(&mut self) -> Result<f32> {
        let b = self.take(4)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod blend_tests {
    use super::*;

    fn p(probs: [f32; 3]) -> Prediction {
        let best = (0..3).fold(0, |b, c| if probs[c] > probs[b] { c } else { b });
        Prediction {
            label: Label::from_id(best).unwrap(),
            score: probs[2] - probs[0],
            probs,
            top_tokens: Vec::new(),
        }
    }

    #[test]
    fn blend_weighs_probabilities_and_relabels() {
        let enc = p([0.1, 0.5, 0.4]);
        let fast = p([0.05, 0.15, 0.8]);
        assert_eq!(enc.blend(&fast, 1.0), enc);
        assert_eq!(enc.blend(&fast, 0.0).probs, fast.probs);
        let half = enc.blend(&fast, 0.5);
        assert_eq!(half.label, Label::Positive);
        assert!((half.probs[2] - 0.6).abs() < 1e-6);
        assert!((half.score - (0.6 - 0.075)).abs() < 1e-6);
        assert!((half.probs.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // Out-of-range weights are clamped, NaN means "self only".
        assert_eq!(enc.blend(&fast, 7.0).probs, enc.probs);
        assert_eq!(enc.blend(&fast, f32::NAN).probs, enc.probs);
    }
}
