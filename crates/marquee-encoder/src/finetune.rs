//! Fine-tuning the encoder's last layers together with the head.
//!
//! [`fine_tune`] trains on the hidden states that enter the last `k`
//! layers ([`Encoder::states_below`], computed once: the frozen lower
//! layers never run again), so an epoch costs about `k / num_layers` of a
//! forward pass over the data, times three for the backward pass.
//!
//! Recipe: the head is first fitted on the frozen embeddings
//! ([`train_head`], a warm start), then the top layers and the head are
//! trained together with AdamW on the class-weighted cross-entropy (the
//! same class weights as the head, optionally with label smoothing), the
//! learning rates falling linearly to zero (after an optional linear
//! warm-up; optionally each layer learning `layer_decay` times slower than
//! the one above it). With `token_cutoff` > 0 each training step hides a
//! random share of each text's tokens (all but the first) from attention
//! and pooling. Mini-batches group texts of similar length (little
//! padding): the texts are shuffled, cut into pools of 64 batches, each
//! pool sorted by length and cut into batches, and the batches shuffled.
//! With `dropout` > 0, training zeroes that share of the trained layers'
//! hidden outputs (where BERT does, [`Layer::forward_with`]) and of the
//! pooled embedding before the head, scaling the rest up; serving never
//! drops. Every random choice comes from `StdRng::seed_from_u64(seed)`
//! (batches) and two more generators derived from `seed` (dropout masks,
//! token cut-off; so that with both off the same batches are drawn); with
//! the same seed, data and thread count the head file is the same bit for
//! bit.
//!
//! [`fine_tune_ends`] keeps where the trained numbers started (the
//! checkpoint's layers, the warm-start head) beside where training took
//! them; [`Tuned::head`] interpolates between the two (`pull`), so that
//! several pulls are compared after one training.

use std::borrow::Borrow;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use marquee_sentiment::Label;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::encoder::{normalise_rows, States};
use crate::head::Top;
use crate::layer::{self, Geometry, Layer};
use crate::{fraction, positive, setting, train_head, Encoder, Error, Head, HeadConfig, Result};

/// Mixed into the seed of the dropout masks' generator.
const DROPOUT_STREAM: u64 = 0xd409_0a7e_5eed_0001;
/// Mixed into the seed of the token cut-off's generator.
const CUTOFF_STREAM: u64 = 0xc070_ff5e_5eed_0002;

/// Hyper-parameters of [`fine_tune`].
#[derive(Debug, Clone, PartialEq)]
pub struct FineTuneConfig {
    /// How many of the encoder's last layers are trained (at least 1).
    pub layers: usize,
    /// Passes over the training set.
    pub epochs: u32,
    /// AdamW learning rate of the top trained layer (falls linearly to 0
    /// after the warm-up); each layer below gets `layer_decay` times the
    /// rate of the one above.
    pub lr: f64,
    /// Layer-wise learning-rate decay, 0 < d ≤ 1: the `i`-th trained layer
    /// from the top learns at `lr · d^i` (1: every layer at `lr`).
    pub layer_decay: f64,
    /// Share of the steps, 0 ≤ w < 1, over which the learning rates rise
    /// linearly from near 0 to their peak before falling linearly to 0.
    pub warmup: f64,
    /// Label smoothing, 0 ≤ ε < 1: the target puts `1 − ε + ε/3` on the
    /// label and `ε/3` on each other class.
    pub smoothing: f64,
    /// Token cut-off, 0 ≤ p < 1: in training, each token but the first is
    /// hidden from attention and pooling with probability `p` (a fresh
    /// choice per step), so that no single word carries a label.
    pub token_cutoff: f64,
    /// AdamW learning rate of the head (falls linearly to 0).
    pub head_lr: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Texts per step.
    pub batch: usize,
    /// Training-time dropout probability (0 ≤ p < 1; see the module docs).
    pub dropout: f64,
    /// Class weights are `(n / (3 n_c))^balance`, as in [`HeadConfig`].
    pub balance: f32,
    /// After training, move every trained number this share of the way
    /// back to where it started (the checkpoint's layers, the warm-start
    /// head): 0 keeps the trained model, 0 ≤ pull < 1. See [`Tuned::head`].
    pub pull: f64,
    /// The warm-start head's hyper-parameters.
    pub head: HeadConfig,
}

impl Default for FineTuneConfig {
    fn default() -> Self {
        FineTuneConfig {
            layers: 6,
            epochs: 1,
            lr: 1e-4,
            layer_decay: 1.0,
            warmup: 0.0,
            smoothing: 0.0,
            token_cutoff: 0.0,
            head_lr: 1e-3,
            weight_decay: 0.01,
            batch: 32,
            dropout: 0.0,
            balance: 1.0,
            pull: 0.0,
            head: HeadConfig::default(),
        }
    }
}

impl FineTuneConfig {
    /// Checks the hyper-parameters for an encoder with `total_layers`
    /// layers: `layers` in 1..=total_layers, positive finite learning
    /// rates, `layer_decay` in (0, 1], `weight_decay >= 0`, `batch >= 1`,
    /// `dropout`, `warmup`, `smoothing`, `token_cutoff` and `pull` in
    /// [0, 1) and a finite `balance`, each refused as an
    /// [`Error::Setting`] naming the field (the warm-start `head` is
    /// checked by [`HeadConfig::validate`]).
    /// [`fine_tune`] calls it first; callers that do expensive work before
    /// fine-tuning (computing hidden states) call it themselves so that a
    /// bad setting fails early.
    pub fn validate(&self, total_layers: usize) -> Result<()> {
        if self.layers == 0 {
            return Err(setting(
                "layers",
                self.layers,
                "at least 1 layer must be trained",
            ));
        }
        if self.layers > total_layers {
            return Err(setting(
                "layers",
                self.layers,
                format!("the encoder has only {total_layers} layer(s)"),
            ));
        }
        positive("lr", self.lr)?;
        positive("head_lr", self.head_lr)?;
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(setting(
                "weight_decay",
                self.weight_decay,
                "must be a finite number, 0 or more",
            ));
        }
        if self.batch == 0 {
            return Err(setting("batch", self.batch, "must be at least 1"));
        }
        fraction("dropout", self.dropout)?;
        fraction("warmup", self.warmup)?;
        fraction("smoothing", self.smoothing)?;
        fraction("token_cutoff", self.token_cutoff)?;
        if !(self.layer_decay > 0.0 && self.layer_decay <= 1.0) {
            return Err(setting(
                "layer_decay",
                self.layer_decay,
                "must be above 0 and at most 1",
            ));
        }
        if !self.balance.is_finite() {
            return Err(setting("balance", self.balance, "must be a finite number"));
        }
        fraction("pull", self.pull)
    }
}

/// The tensors' numbers, one after the other, in the order given.
fn flat<'a>(tensors: impl Iterator<Item = &'a Tensor>) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    for t in tensors {
        out.extend(
            t.flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(err)?,
        );
    }
    Ok(out)
}

fn err(e: candle_core::Error) -> Error {
    Error::Inference(e.to_string())
}

/// A padded batch of states: `[b, len, h]` and the 0/1 mask `[b, len]`.
fn batch_tensors(states: &[&States], h: usize) -> candle_core::Result<(Tensor, Tensor)> {
    batch_tensors_keeping(states, h, |_| true)
}

/// [`batch_tensors`], masking out every token but the first (`[CLS]` or
/// `<s>`) for which `keep` says no: the token cut-off of training.
fn batch_tensors_keeping(
    states: &[&States],
    h: usize,
    mut keep: impl FnMut(usize) -> bool,
) -> candle_core::Result<(Tensor, Tensor)> {
    let len = states.iter().map(|s| s.len).max().unwrap_or(1).max(1);
    let mut data = vec![0f32; states.len() * len * h];
    let mut mask = vec![0u32; states.len() * len];
    for (r, s) in states.iter().enumerate() {
        data[r * len * h..r * len * h + s.data.len()].copy_from_slice(&s.data);
        for (t, m) in mask[r * len..r * len + s.len].iter_mut().enumerate() {
            *m = u32::from(t == 0 || keep(t));
        }
    }
    let dev = Device::Cpu;
    Ok((
        Tensor::from_vec(data, (states.len(), len, h), &dev)?,
        Tensor::from_vec(mask, (states.len(), len), &dev)?,
    ))
}

fn check_states<S: Borrow<States>>(states: &[S], h: usize) -> Result<()> {
    if let Some((i, s)) = states
        .iter()
        .map(Borrow::borrow)
        .enumerate()
        .find(|(_, s)| s.len == 0 || s.data.len() != s.len * h)
    {
        return Err(Error::Data(format!(
            "states {i}: {} numbers for {} tokens of {h}",
            s.data.len(),
            s.len
        )));
    }
    Ok(())
}

/// Run `layers` over `states` in length-sorted batches of 32 and mean-pool
/// (not normalised); input order.
pub(crate) fn pool_states<S: Borrow<States>>(
    states: &[S],
    h: usize,
    geometry: Option<&Geometry>,
    layers: &[Layer],
) -> Result<Vec<Vec<f32>>> {
    check_states(states, h)?;
    let mut order: Vec<usize> = (0..states.len()).collect();
    order.sort_by_key(|&i| (states[i].borrow().len, i));
    let mut out = vec![Vec::new(); states.len()];
    for chunk in order.chunks(crate::DEFAULT_BATCH) {
        let batch: Vec<&States> = chunk.iter().map(|&i| states[i].borrow()).collect();
        let (mut hidden, mask) = batch_tensors(&batch, h).map_err(err)?;
        if let Some(g) = geometry {
            let add = layer::additive_mask(&mask).map_err(err)?;
            for l in layers {
                hidden = l.forward(g, &hidden, &add).map_err(err)?;
            }
        }
        let rows = layer::pool(&hidden, &mask, false)
            .and_then(|x| x.to_vec2::<f32>())
            .map_err(err)?;
        for (&i, v) in chunk.iter().zip(rows) {
            out[i] = v;
        }
    }
    Ok(out)
}

/// The learning rates' share of their peak at `step` of `total`: rising
/// linearly over the first `warm` steps (to 1 at step `warm`), then
/// falling linearly to 0 at `total`. Without warm-up it is
/// `1 − step/total`.
fn schedule(step: usize, warm: usize, total: usize) -> f64 {
    if step < warm {
        (step + 1) as f64 / (warm + 1) as f64
    } else if warm == 0 {
        1.0 - step as f64 / total as f64
    } else {
        1.0 - (step - warm) as f64 / (total - warm) as f64
    }
}

/// The batches of one epoch (see the module docs).
fn epoch_batches<S: Borrow<States>>(
    states: &[S],
    batch: usize,
    rng: &mut StdRng,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..states.len()).collect();
    order.shuffle(rng);
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for pool in order.chunks(batch * 64) {
        let mut pool = pool.to_vec();
        pool.sort_by_key(|&i| states[i].borrow().len);
        batches.extend(pool.chunks(batch).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

/// Fine-tune the last `cfg.layers` layers of `encoder` and a head on
/// `states` (from [`Encoder::states_below`] with `cfg.layers`) with
/// `labels`. `progress(done, total)` is called after every step. The head
/// it returns (pulled back by `cfg.pull`, see [`Tuned::head`]) replaces the
/// encoder's last layers with the trained ones wherever it is used
/// ([`Head::predict_texts`], [`Head::embed_texts`]).
pub fn fine_tune<S: Borrow<States>>(
    encoder: &Encoder,
    states: &[S],
    labels: &[Label],
    cfg: &FineTuneConfig,
    seed: u64,
    progress: impl FnMut(usize, usize),
) -> Result<Head> {
    fine_tune_ends(encoder, states, labels, cfg, seed, progress)?.head(cfg.pull)
}

/// Both ends of one fine-tuning run, from [`fine_tune_ends`]: where the
/// trained numbers started and where training took them.
#[derive(Debug, Clone)]
pub struct Tuned {
    geometry: Geometry,
    dims: usize,
    fingerprint: String,
    start: (Vec<f32>, Vec<f32>, [f32; 3]),
    end: (Vec<f32>, Vec<f32>, [f32; 3]),
}

impl Tuned {
    /// The head with every trained number (layers, head weights and bias)
    /// moved `pull` of the way back from where training took it to where
    /// it started: the checkpoint's layers and the warm-start head fitted
    /// on the frozen embeddings. 0 is the trained model, bit for bit; a
    /// small pull trades some fit to the training texts for some of the
    /// checkpoint's generality (weight-space interpolation, as in
    /// WiSE-FT). `pull` must be in [0, 1).
    pub fn head(&self, pull: f64) -> Result<Head> {
        fraction("pull", pull)?;
        let mix = |end: &[f32], start: &[f32]| -> Vec<f32> {
            if pull == 0.0 {
                return end.to_vec();
            }
            end.iter()
                .zip(start)
                .map(|(&e, &s)| (f64::from(e) + pull * (f64::from(s) - f64::from(e))) as f32)
                .collect()
        };
        let floats = mix(&self.end.0, &self.start.0);
        let weights = mix(&self.end.1, &self.start.1);
        let bias = mix(&self.end.2, &self.start.2);
        let top = Top::new(self.geometry, floats)?;
        Ok(Head::with_top(
            self.dims,
            &self.fingerprint,
            weights,
            [bias[0], bias[1], bias[2]],
            Some(top),
        ))
    }
}

/// [`fine_tune`], keeping both ends of the run so that heads at several
/// pulls ([`Tuned::head`]) can be compared after one training.
pub fn fine_tune_ends<S: Borrow<States>>(
    encoder: &Encoder,
    states: &[S],
    labels: &[Label],
    cfg: &FineTuneConfig,
    seed: u64,
    mut progress: impl FnMut(usize, usize),
) -> Result<Tuned> {
    let h = encoder.dims();
    let g = encoder.geometry();
    let total_layers = encoder.num_layers();
    cfg.validate(total_layers)?;
    if states.len() != labels.len() {
        return Err(Error::Data(format!(
            "{} texts' states but {} labels",
            states.len(),
            labels.len()
        )));
    }
    if states.is_empty() {
        return Err(Error::Data("no training examples".into()));
    }
    check_states(states, h)?;

    let first = total_layers - cfg.layers;
    let init: Vec<Layer> = (first..total_layers)
        .map(|l| encoder.layer(l))
        .collect::<Result<_>>()?;

    // Warm start: the head on the frozen embeddings.
    let mut frozen = pool_states(states, h, Some(&g), &init)?;
    normalise_rows(&mut frozen);
    let warm = train_head(&frozen, labels, &cfg.head, seed, encoder.fingerprint())?;
    drop(frozen);
    let (w0, b0) = warm.linear();

    let dev = Device::Cpu;
    let mut layer_vars: Vec<Vec<Var>> = Vec::new();
    for l in &init {
        layer_vars.push(
            l.t.iter()
                .map(|t| Var::from_tensor(t).map_err(err))
                .collect::<Result<_>>()?,
        );
    }
    let w = Var::from_tensor(&Tensor::from_slice(w0, (3, h), &dev).map_err(err)?).map_err(err)?;
    let b = Var::from_tensor(&Tensor::from_slice(&b0, 3, &dev).map_err(err)?).map_err(err)?;
    let params = |lr: f64| ParamsAdamW {
        lr,
        weight_decay: cfg.weight_decay,
        ..ParamsAdamW::default()
    };
    // One optimizer per layer, so that each learns at its own rate (AdamW
    // works number by number: with `layer_decay` 1 this trains exactly as
    // one optimizer over all the layers would).
    let layer_lr: Vec<f64> = (0..layer_vars.len())
        .map(|i| cfg.lr * cfg.layer_decay.powi((layer_vars.len() - 1 - i) as i32))
        .collect();
    let mut opt_layers: Vec<AdamW> = layer_vars
        .iter()
        .zip(&layer_lr)
        .map(|(vars, &lr)| AdamW::new(vars.clone(), params(lr)).map_err(err))
        .collect::<Result<_>>()?;
    let mut opt_head = AdamW::new(vec![w.clone(), b.clone()], params(cfg.head_lr)).map_err(err)?;

    let n = labels.len();
    let class_w = crate::head::class_weights(labels, cfg.balance);

    let mut rng = StdRng::seed_from_u64(seed);
    let mut drop_rng = StdRng::seed_from_u64(seed ^ DROPOUT_STREAM);
    let mut cut_rng = StdRng::seed_from_u64(seed ^ CUTOFF_STREAM);
    let scale = (1.0 / (1.0 - cfg.dropout)) as f32;
    let mut dropout = |x: Tensor| -> candle_core::Result<Tensor> {
        if cfg.dropout == 0.0 {
            return Ok(x);
        }
        let m: Vec<f32> = (0..x.elem_count())
            .map(|_| {
                if drop_rng.gen::<f64>() < cfg.dropout {
                    0.0
                } else {
                    scale
                }
            })
            .collect();
        x.mul(&Tensor::from_vec(m, x.shape(), x.device())?)
    };
    let steps_per_epoch = n.div_ceil(cfg.batch);
    let total = steps_per_epoch * cfg.epochs as usize;
    let warm_steps = (cfg.warmup * total as f64).round() as usize;
    let (on, off) = (
        (1.0 - cfg.smoothing + cfg.smoothing / 3.0) as f32,
        (cfg.smoothing / 3.0) as f32,
    );
    let mut step = 0usize;
    for _ in 0..cfg.epochs {
        for batch in epoch_batches(states, cfg.batch, &mut rng) {
            let frac = schedule(step, warm_steps, total);
            for (opt, &lr) in opt_layers.iter_mut().zip(&layer_lr) {
                opt.set_learning_rate(lr * frac);
            }
            opt_head.set_learning_rate(cfg.head_lr * frac);
            let rows: Vec<&States> = batch.iter().map(|&i| states[i].borrow()).collect();
            let mut target = vec![0f32; rows.len() * 3];
            for (r, &i) in batch.iter().enumerate() {
                let y = labels[i].id();
                for (c, t) in target[r * 3..r * 3 + 3].iter_mut().enumerate() {
                    *t = class_w[y] * if c == y { on } else { off };
                }
            }
            let weight_sum: f32 = target.iter().sum();
            if weight_sum <= 0.0 {
                step += 1;
                progress(step, total);
                continue;
            }
            let loss = (|| -> candle_core::Result<Tensor> {
                // With no cut-off every draw keeps its token (the draws
                // come from their own generator, so nothing else changes).
                let (mut hidden, mask) =
                    batch_tensors_keeping(&rows, h, |_| cut_rng.gen::<f64>() >= cfg.token_cutoff)?;
                let add = layer::additive_mask(&mask)?;
                for vars in &layer_vars {
                    let l = Layer {
                        t: vars.iter().map(|v| v.as_tensor().clone()).collect(),
                    };
                    hidden = l.forward_with(&g, &hidden, &add, &mut dropout)?;
                }
                let emb = dropout(layer::pool(&hidden, &mask, true)?)?;
                let logits = emb
                    .matmul(&w.as_tensor().t()?)?
                    .broadcast_add(b.as_tensor())?;
                let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
                let target = Tensor::from_vec(target, (rows.len(), 3), &dev)?;
                ((logp * target)?.sum_all()? / f64::from(-weight_sum))?.to_dtype(DType::F32)
            })()
            .map_err(err)?;
            let grads = loss.backward().map_err(err)?;
            for opt in &mut opt_layers {
                opt.step(&grads).map_err(err)?;
            }
            opt_head.step(&grads).map_err(err)?;
            step += 1;
            progress(step, total);
        }
    }

    let floats = flat(layer_vars.iter().flatten().map(Var::as_tensor))?;
    let weights = flat(std::iter::once(w.as_tensor()))?;
    let bias = b.as_tensor().to_vec1::<f32>().map_err(err)?;
    if floats
        .iter()
        .chain(&weights)
        .chain(&bias)
        .any(|x| !x.is_finite())
    {
        return Err(Error::Config(
            "fine-tuning diverged (non-finite weights); lower lr".into(),
        ));
    }
    let start = flat(init.iter().flat_map(|l| &l.t))?;
    Ok(Tuned {
        geometry: g,
        dims: h,
        fingerprint: encoder.fingerprint().to_string(),
        start: (start, w0.to_vec(), b0),
        end: (floats, weights, [bias[0], bias[1], bias[2]]),
    })
}

#[cfg(test)]
mod tests {
    use super::{batch_tensors, batch_tensors_keeping, schedule, States};

    #[test]
    fn the_cutoff_hides_tokens_but_never_the_first_or_the_padding() {
        let h = 2;
        let a = States {
            len: 3,
            data: vec![1.0; 6],
        };
        let b = States {
            len: 1,
            data: vec![2.0; 2],
        };
        let rows = [&a, &b];
        let mask = |m: candle_core::Tensor| m.to_vec2::<u32>().unwrap();
        let (x, all) = batch_tensors(&rows, h).unwrap();
        assert_eq!(mask(all), vec![vec![1, 1, 1], vec![1, 0, 0]]);
        let (y, none) = batch_tensors_keeping(&rows, h, |_| false).unwrap();
        assert_eq!(mask(none), vec![vec![1, 0, 0], vec![1, 0, 0]]);
        // The hidden states are the same: only the mask hides tokens.
        assert_eq!(
            x.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            y.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
        let mut asked = Vec::new();
        let (_, some) = batch_tensors_keeping(&rows, h, |t| {
            asked.push(t);
            t != 1
        })
        .unwrap();
        assert_eq!(mask(some), vec![vec![1, 0, 1], vec![1, 0, 0]]);
        assert_eq!(
            asked,
            vec![1, 2],
            "asked only about real tokens after the first"
        );
    }

    #[test]
    fn the_schedule_rises_over_the_warmup_then_falls_to_zero() {
        // Without warm-up: 1 − step/total, as before the option existed.
        for step in 0..10 {
            assert_eq!(schedule(step, 0, 10), 1.0 - step as f64 / 10.0);
        }
        // Warm-up over 4 of 20 steps: 1/5, 2/5, …, the peak at step 4,
        // then a straight line down to 1/16 at the last step.
        let f: Vec<f64> = (0..20).map(|s| schedule(s, 4, 20)).collect();
        for (s, want) in [
            (0, 0.2),
            (1, 0.4),
            (3, 0.8),
            (4, 1.0),
            (12, 0.5),
            (19, 1.0 / 16.0),
        ] {
            assert!((f[s] - want).abs() < 1e-12, "step {s}: {}", f[s]);
        }
        assert!(f[..4].windows(2).all(|w| w[0] < w[1]));
        assert!(f[4..].windows(2).all(|w| w[0] > w[1]));
        assert!(f.iter().all(|&x| x > 0.0 && x <= 1.0));
        // A warm-up as long as the run only rises.
        assert!((0..5).all(|s| schedule(s, 5, 5) == (s + 1) as f64 / 6.0));
    }
}
