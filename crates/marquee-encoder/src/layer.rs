//! One BERT encoder layer written with differentiable candle ops.
//!
//! candle-transformers' `BertLayer` cannot be trained: its layer norm is a
//! fused kernel without a backward pass (gradients stop there), and its
//! `forward` is private. The fine-tuned top layers of a head
//! ([`crate::fine_tune`]) run here instead, in training and in serving.
//! With the checkpoint's weights the result equals the checkpoint's own
//! layer (tested against `BertModel` to 1e-5).

use candle_core::{DType, Device, Tensor, D};

/// The tensors of one layer, in the order of the head file, as
/// (name under `encoder.layer.{l}.`, rows, columns); `h` = hidden size,
/// `i` = intermediate size, a row count of 0 marks a vector.
pub(crate) const PARTS: [&str; 16] = [
    "attention.self.query.weight",
    "attention.self.query.bias",
    "attention.self.key.weight",
    "attention.self.key.bias",
    "attention.self.value.weight",
    "attention.self.value.bias",
    "attention.output.dense.weight",
    "attention.output.dense.bias",
    "attention.output.LayerNorm.weight",
    "attention.output.LayerNorm.bias",
    "intermediate.dense.weight",
    "intermediate.dense.bias",
    "output.dense.weight",
    "output.dense.bias",
    "output.LayerNorm.weight",
    "output.LayerNorm.bias",
];

/// The shape of part `p` of [`PARTS`] for hidden size `h` and intermediate size `i`.
pub(crate) fn part_shape(p: usize, h: usize, i: usize) -> Vec<usize> {
    match p {
        0 | 2 | 4 | 6 => vec![h, h],
        10 => vec![i, h],
        12 => vec![h, i],
        11 => vec![i],
        _ => vec![h],
    }
}

/// Geometry shared by every layer of a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Geometry {
    pub hidden: usize,
    pub intermediate: usize,
    pub heads: usize,
    pub eps: f64,
}

/// One layer: its 16 tensors in [`PARTS`] order.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub t: Vec<Tensor>,
}

fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let (bs, t, inp) = x.dims3()?;
    let out = w.dim(0)?;
    x.reshape((bs * t, inp))?
        .matmul(&w.t()?)?
        .broadcast_add(b)?
        .reshape((bs, t, out))
}

fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    xc.broadcast_div(&(var + eps)?.sqrt()?)?
        .broadcast_mul(w)?
        .broadcast_add(b)
}

/// The additive attention mask of a `[batch, len]` 0/1 mask: 0 where a
/// token is attended, a large negative number where it is padding; shape
/// `[batch, 1, 1, len]`.
pub(crate) fn additive_mask(mask: &Tensor) -> candle_core::Result<Tensor> {
    let m = mask.to_dtype(DType::F32)?.unsqueeze(1)?.unsqueeze(1)?;
    (m - 1.0)? * 1e9
}

impl Layer {
    /// `hidden`: `[batch, len, h]`; `mask`: from [`additive_mask`].
    pub fn forward(
        &self,
        g: &Geometry,
        hidden: &Tensor,
        mask: &Tensor,
    ) -> candle_core::Result<Tensor> {
        self.forward_with(g, hidden, mask, &mut Ok)
    }

    /// [`Layer::forward`] with `drop` applied where BERT applies hidden
    /// dropout in training: to the attention's output projection and to the
    /// feed-forward output, each before its residual sum and layer norm.
    pub fn forward_with(
        &self,
        g: &Geometry,
        hidden: &Tensor,
        mask: &Tensor,
        drop: &mut dyn FnMut(Tensor) -> candle_core::Result<Tensor>,
    ) -> candle_core::Result<Tensor> {
        let t = &self.t;
        let (bs, len, h) = hidden.dims3()?;
        let dh = h / g.heads;
        let split = |x: Tensor| -> candle_core::Result<Tensor> {
            x.reshape((bs, len, g.heads, dh))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(linear(hidden, &t[0], &t[1])?)?;
        let k = split(linear(hidden, &t[2], &t[3])?)?;
        let v = split(linear(hidden, &t[4], &t[5])?)?;
        let scores = (q.matmul(&k.t()?)? / (dh as f64).sqrt())?.broadcast_add(mask)?;
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((bs, len, h))?;
        let attn = drop(linear(&ctx, &t[6], &t[7])?)?;
        let attn = layer_norm(&(attn + hidden)?, &t[8], &t[9], g.eps)?;
        let inter = linear(&attn, &t[10], &t[11])?.gelu_erf()?;
        let out = drop(linear(&inter, &t[12], &t[13])?)?;
        layer_norm(&(out + attn)?, &t[14], &t[15], g.eps)
    }

    /// A layer from its numbers ([`PARTS`] order, row-major); `floats`
    /// must hold exactly one layer.
    pub fn from_floats(g: &Geometry, floats: &[f32]) -> candle_core::Result<Layer> {
        let mut t = Vec::with_capacity(PARTS.len());
        let mut at = 0;
        for p in 0..PARTS.len() {
            let shape = part_shape(p, g.hidden, g.intermediate);
            let n: usize = shape.iter().product();
            let slice = floats
                .get(at..at + n)
                .ok_or_else(|| candle_core::Error::Msg("layer data is truncated".into()))?;
            t.push(Tensor::from_slice(slice, shape, &Device::Cpu)?);
            at += n;
        }
        if at != floats.len() {
            candle_core::bail!("layer data has {} extra numbers", floats.len() - at);
        }
        Ok(Layer { t })
    }

    /// Number of floats in one layer.
    pub fn len(g: &Geometry) -> usize {
        (0..PARTS.len())
            .map(|p| {
                part_shape(p, g.hidden, g.intermediate)
                    .iter()
                    .product::<usize>()
            })
            .sum()
    }
}

/// Mean of `hidden` (`[batch, len, h]`) over the 0/1 `mask` (`[batch, len]`),
/// then L2-normalised when `normalise`: `[batch, h]`.
pub(crate) fn pool(hidden: &Tensor, mask: &Tensor, normalise: bool) -> candle_core::Result<Tensor> {
    let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&m)?.sum(1)?;
    let counts = m.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    if !normalise {
        return Ok(mean);
    }
    let norm = mean
        .sqr()?
        .sum_keepdim(1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    mean.broadcast_div(&norm)
}
