//! Loading a checkpoint from bytes, checking it, and embedding texts.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use sha2::{Digest, Sha256};
use tokenizers::{Tokenizer, TruncationParams};

use crate::layer::{self, Geometry, Layer};
use crate::{Error, Result, CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};

/// Texts are truncated to this many tokens, special tokens included.
pub const MAX_TOKENS: usize = 128;

/// Texts per forward pass in [`Encoder::embed_batch`] (after sorting by length).
pub const DEFAULT_BATCH: usize = 32;

/// Architecture families that run on candle's BERT implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Bert,
    Roberta,
}

impl Family {
    fn of(model_type: &str) -> Option<Family> {
        match model_type {
            "bert" => Some(Family::Bert),
            "roberta" | "xlm-roberta" | "camembert" => Some(Family::Roberta),
            _ => None,
        }
    }
}

/// A loaded sentence encoder (CPU, f32). Cheap to share across threads.
pub struct Encoder {
    model: BertModel,
    /// The config the model was built from, and its tensors under the
    /// canonical names: the top layers of a fine-tuned head replace the
    /// last layers of a model built from these.
    cfg: Config,
    tensors: HashMap<String, Tensor>,
    tokenizer: Tokenizer,
    pad_id: u32,
    dims: usize,
    max_tokens: usize,
    batch: usize,
    model_type: String,
    fingerprint: String,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("model_type", &self.model_type)
            .field("dims", &self.dims)
            .field("max_tokens", &self.max_tokens)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn parse_err(file: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Parse {
        file,
        message: e.to_string(),
    }
}

fn infer(e: impl std::fmt::Display) -> Error {
    Error::Inference(e.to_string())
}

/// The tensors the BERT code reads, with the shapes `cfg` implies.
fn expected_tensors(cfg: &Config) -> Vec<(String, Vec<usize>)> {
    let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
    let mut v = vec![
        (
            "embeddings.word_embeddings.weight".to_string(),
            vec![cfg.vocab_size, h],
        ),
        (
            "embeddings.position_embeddings.weight".to_string(),
            vec![cfg.max_position_embeddings, h],
        ),
        (
            "embeddings.token_type_embeddings.weight".to_string(),
            vec![cfg.type_vocab_size, h],
        ),
        ("embeddings.LayerNorm.weight".to_string(), vec![h]),
        ("embeddings.LayerNorm.bias".to_string(), vec![h]),
    ];
    for l in 0..cfg.num_hidden_layers {
        let p = format!("encoder.layer.{l}");
        for (name, out, inp) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", i, h),
            ("output.dense", h, i),
        ] {
            v.push((format!("{p}.{name}.weight"), vec![out, inp]));
            v.push((format!("{p}.{name}.bias"), vec![out]));
        }
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            v.push((format!("{p}.{ln}.weight"), vec![h]));
            v.push((format!("{p}.{ln}.bias"), vec![h]));
        }
    }
    v
}

/// The name the BERT code uses for a checkpoint tensor, if it is one it reads:
/// strips `bert.`/`roberta.` prefixes and renames old `gamma`/`beta`.
fn canonical_name(name: &str) -> Option<(String, bool)> {
    let (rest, prefixed) = match name
        .strip_prefix("bert.")
        .or_else(|| name.strip_prefix("roberta."))
    {
        Some(r) => (r, true),
        None => (name, false),
    };
    if !(rest.starts_with("embeddings.") || rest.starts_with("encoder.")) {
        return None;
    }
    let renamed = if rest.contains("LayerNorm") {
        if let Some(stem) = rest.strip_suffix(".gamma") {
            format!("{stem}.weight")
        } else if let Some(stem) = rest.strip_suffix(".beta") {
            format!("{stem}.bias")
        } else {
            rest.to_string()
        }
    } else {
        rest.to_string()
    };
    Some((renamed, prefixed))
}

impl Encoder {
    /// Load a checkpoint through `read`, called with each file name
    /// ([`CONFIG_FILE`], [`TOKENIZER_FILE`], [`WEIGHTS_FILE`]) in turn; the
    /// caller does the I/O, e.g. `|f| std::fs::read(dir.join(f))`. All three
    /// are read before anything is parsed, so a missing file is reported as
    /// [`Error::Read`] naming it.
    pub fn load_with<F>(mut read: F) -> Result<Encoder>
    where
        F: FnMut(&'static str) -> std::io::Result<Vec<u8>>,
    {
        let mut get = |file: &'static str| {
            read(file).map_err(|e| Error::Read {
                file,
                message: e.to_string(),
            })
        };
        let config = get(CONFIG_FILE)?;
        let tokenizer = get(TOKENIZER_FILE)?;
        let weights = get(WEIGHTS_FILE)?;
        Encoder::from_bytes(&config, &tokenizer, &weights)
    }

    /// Load a checkpoint from the bytes of its `config.json`,
    /// `tokenizer.json` and `model.safetensors`. Every tensor the
    /// architecture reads is checked against the config before the model is
    /// built, so a bad checkpoint fails here, naming the file and tensor.
    pub fn from_bytes(config: &[u8], tokenizer: &[u8], weights: &[u8]) -> Result<Encoder> {
        // config.json
        let raw: serde_json::Value =
            serde_json::from_slice(config).map_err(|e| parse_err(CONFIG_FILE, e))?;
        let model_type = match raw.get("model_type") {
            None => "bert".to_string(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(parse_err(
                    CONFIG_FILE,
                    format!("model_type must be a string, not {other}"),
                ))
            }
        };
        let family =
            Family::of(&model_type).ok_or_else(|| Error::UnsupportedModel(model_type.clone()))?;
        let mut cfg: Config = serde_json::from_value(raw).map_err(|e| parse_err(CONFIG_FILE, e))?;
        cfg.model_type = None;
        // `is_multiple_of` needs Rust 1.87; the workspace supports 1.85.
        #[allow(clippy::manual_is_multiple_of)]
        let uneven_heads =
            cfg.num_attention_heads == 0 || cfg.hidden_size % cfg.num_attention_heads != 0;
        if cfg.hidden_size == 0 || uneven_heads {
            return Err(parse_err(
                CONFIG_FILE,
                format!(
                    "hidden_size {} is not a positive multiple of num_attention_heads {}",
                    cfg.hidden_size, cfg.num_attention_heads
                ),
            ));
        }

        // tokenizer.json
        let mut tok = Tokenizer::from_bytes(tokenizer).map_err(|e| parse_err(TOKENIZER_FILE, e))?;
        let tok_vocab = tok.get_vocab_size(true);
        if tok_vocab > cfg.vocab_size {
            return Err(Error::VocabMismatch {
                config: cfg.vocab_size,
                tokenizer: tok_vocab,
            });
        }
        let pad_id = tok
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| tok.token_to_id("[PAD]"))
            .or_else(|| tok.token_to_id("<pad>"))
            .unwrap_or(cfg.pad_token_id as u32);

        // model.safetensors
        let loaded = candle_core::safetensors::load_buffer(weights, &Device::Cpu)
            .map_err(|e| parse_err(WEIGHTS_FILE, e))?;
        let mut names: Vec<&String> = loaded.keys().collect();
        names.sort();
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        for name in names {
            let Some((canon, prefixed)) = canonical_name(name) else {
                continue;
            };
            let t = loaded[name].clone();
            if prefixed {
                tensors.entry(canon).or_insert(t);
            } else {
                tensors.insert(canon, t);
            }
        }
        for (name, shape) in expected_tensors(&cfg) {
            let t = tensors
                .get(&name)
                .ok_or_else(|| Error::MissingTensor(name.clone()))?;
            if t.dims() != shape.as_slice() {
                return Err(Error::TensorShape {
                    name,
                    expected: shape,
                    got: t.dims().to_vec(),
                });
            }
        }
        if family == Family::Roberta {
            // RoBERTa numbers real positions from pad_token_id + 1.
            let offset = cfg.pad_token_id + 1;
            let key = "embeddings.position_embeddings.weight";
            if cfg.max_position_embeddings <= offset {
                return Err(parse_err(
                    CONFIG_FILE,
                    format!(
                        "max_position_embeddings {} leaves no positions after the RoBERTa offset {offset}",
                        cfg.max_position_embeddings
                    ),
                ));
            }
            let kept = cfg.max_position_embeddings - offset;
            if let Some(t) = tensors.get(key) {
                let cut = t
                    .narrow(0, offset, kept)
                    .map_err(|e| parse_err(WEIGHTS_FILE, e))?;
                tensors.insert(key.to_string(), cut);
            }
            cfg.max_position_embeddings = kept;
        }
        let max_tokens = MAX_TOKENS.min(cfg.max_position_embeddings);
        tok.with_padding(None);
        tok.with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            ..TruncationParams::default()
        }))
        .map_err(|e| parse_err(TOKENIZER_FILE, e))?;

        let vb = VarBuilder::from_tensors(tensors.clone(), DType::F32, &Device::Cpu);
        let model = BertModel::load(vb, &cfg).map_err(|e| parse_err(WEIGHTS_FILE, e))?;

        let mut h = Sha256::new();
        h.update(b"marquee-encoder checkpoint v1\0");
        for part in [config, tokenizer, weights] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        Ok(Encoder {
            model,
            dims: cfg.hidden_size,
            cfg,
            tensors,
            tokenizer: tok,
            pad_id,
            max_tokens,
            batch: DEFAULT_BATCH,
            model_type,
            fingerprint: hex::encode(h.finalize()),
        })
    }

    /// Embedding size (the model's `hidden_size`).
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// `model_type` from `config.json`.
    pub fn model_type(&self) -> &str {
        &self.model_type
    }

    /// Tokens kept per text (special tokens included).
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// SHA-256 (hex) over the three checkpoint files: identifies the encoder
    /// a head was trained on.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Set the number of texts per forward pass (at least 1).
    pub fn set_batch_size(&mut self, n: usize) {
        self.batch = n.max(1);
    }

    /// Sentence embeddings: mean of the last hidden states over the
    /// attention mask, L2-normalised. One vector of [`Encoder::dims`] per
    /// text, in input order. Texts are sorted by length and run in padded
    /// batches of [`DEFAULT_BATCH`]; the result for a given list of texts
    /// does not depend on the number of threads.
    pub fn embed_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        let mut out = self.pool_batch(texts)?;
        normalise_rows(&mut out);
        Ok(out)
    }

    /// Like [`Encoder::embed_batch`], with the last `top.len()` layers
    /// replaced by `top` (a fine-tuned head's layers).
    pub(crate) fn embed_with_top<S: AsRef<str>>(
        &self,
        texts: &[S],
        top: &[Layer],
    ) -> Result<Vec<Vec<f32>>> {
        let mut out = self.pool_with_top(texts, top)?;
        normalise_rows(&mut out);
        Ok(out)
    }

    /// Like [`Encoder::embed_batch`] but without the final L2 normalisation.
    pub fn pool_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        self.pool_with_top(texts, &[])
    }

    /// Number of encoder layers.
    pub fn num_layers(&self) -> usize {
        self.cfg.num_hidden_layers
    }

    pub(crate) fn geometry(&self) -> Geometry {
        Geometry {
            hidden: self.cfg.hidden_size,
            intermediate: self.cfg.intermediate_size,
            heads: self.cfg.num_attention_heads,
            eps: self.cfg.layer_norm_eps,
        }
    }

    /// The checkpoint's layer `l` (0-based) as a trainable-op [`Layer`].
    pub(crate) fn layer(&self, l: usize) -> Result<Layer> {
        let t = layer::PARTS
            .iter()
            .map(|p| {
                let name = format!("encoder.layer.{l}.{p}");
                self.tensors
                    .get(&name)
                    .cloned()
                    .ok_or(Error::MissingTensor(name))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Layer { t })
    }

    /// The model without its last `k` layers (`k` = 0: the whole model).
    fn bottom(&self, k: usize) -> Result<Option<BertModel>> {
        if k == 0 {
            return Ok(None);
        }
        if k > self.cfg.num_hidden_layers {
            return Err(Error::Mismatch(format!(
                "{k} top layers asked of a {}-layer encoder",
                self.cfg.num_hidden_layers
            )));
        }
        let mut cfg = self.cfg.clone();
        cfg.num_hidden_layers -= k;
        let vb = VarBuilder::from_tensors(self.tensors.clone(), DType::F32, &Device::Cpu);
        BertModel::load(vb, &cfg).map(Some).map_err(infer)
    }

    /// The hidden states that enter the last `k` layers (the output of
    /// layer `num_layers − k`), one [`States`] per text in input order,
    /// padding removed. What [`crate::fine_tune`] trains on.
    pub fn states_below<S: AsRef<str>>(&self, texts: &[S], k: usize) -> Result<Vec<States>> {
        let bottom = self.bottom(k)?;
        let h = self.dims;
        self.run_batches(texts, bottom.as_ref(), |hidden, _mask, lens| {
            let (b, len, _) = hidden.dims3().map_err(infer)?;
            let flat = hidden
                .flatten_all()
                .and_then(|x| x.to_vec1::<f32>())
                .map_err(infer)?;
            Ok((0..b)
                .map(|r| States {
                    len: lens[r],
                    data: flat[r * len * h..(r * len + lens[r]) * h].to_vec(),
                })
                .collect())
        })
    }

    /// Mean-pooled (not normalised) outputs of the model whose last
    /// `top.len()` layers are replaced by `top`.
    pub(crate) fn pool_with_top<S: AsRef<str>>(
        &self,
        texts: &[S],
        top: &[Layer],
    ) -> Result<Vec<Vec<f32>>> {
        let bottom = self.bottom(top.len())?;
        let g = self.geometry();
        self.run_batches(texts, bottom.as_ref(), |hidden, mask, _| {
            let mut hidden = hidden;
            if !top.is_empty() {
                let add = layer::additive_mask(&mask).map_err(infer)?;
                for l in top {
                    hidden = l.forward(&g, &hidden, &add).map_err(infer)?;
                }
            }
            layer::pool(&hidden, &mask, false)
                .and_then(|x| x.to_vec2::<f32>())
                .map_err(infer)
        })
    }

    /// Tokenise `texts`, sort them by length, run padded batches through
    /// `bottom` (or the whole model) and hand each batch's last hidden
    /// states `[b, len, h]`, 0/1 mask `[b, len]` and token counts to `f`,
    /// which returns one item per row. Items come back in input order.
    fn run_batches<S, T, F>(
        &self,
        texts: &[S],
        bottom: Option<&BertModel>,
        mut f: F,
    ) -> Result<Vec<T>>
    where
        S: AsRef<str>,
        T: Default + Clone,
        F: FnMut(Tensor, Tensor, &[usize]) -> Result<Vec<T>>,
    {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = bottom.unwrap_or(&self.model);
        let inputs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let encodings = self.tokenizer.encode_batch(inputs, true).map_err(infer)?;
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| (encodings[i].get_ids().len(), i));
        let mut out: Vec<T> = vec![T::default(); texts.len()];
        let dev = Device::Cpu;
        for chunk in order.chunks(self.batch) {
            let lens: Vec<usize> = chunk
                .iter()
                .map(|&i| encodings[i].get_ids().len())
                .collect();
            let len = lens.iter().copied().max().unwrap_or(0).max(1);
            let mut ids = vec![self.pad_id; chunk.len() * len];
            let mut mask = vec![0u32; chunk.len() * len];
            for (row, &i) in chunk.iter().enumerate() {
                let e = &encodings[i];
                for (j, (&id, &m)) in e.get_ids().iter().zip(e.get_attention_mask()).enumerate() {
                    ids[row * len + j] = id;
                    mask[row * len + j] = m;
                }
            }
            let ids = Tensor::from_vec(ids, (chunk.len(), len), &dev).map_err(infer)?;
            let mask = Tensor::from_vec(mask, (chunk.len(), len), &dev).map_err(infer)?;
            let types = ids.zeros_like().map_err(infer)?;
            let hidden = model.forward(&ids, &types, Some(&mask)).map_err(infer)?;
            let rows = f(hidden, mask, &lens)?;
            for (&i, v) in chunk.iter().zip(rows) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// L2-normalise each row in place (a zero row stays zero).
pub(crate) fn normalise_rows(rows: &mut [Vec<f32>]) {
    for v in rows {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        for x in v.iter_mut() {
            *x /= norm;
        }
    }
}

/// The hidden states of one text at some layer: `len` tokens × the
/// encoder's hidden size, row-major, no padding. See [`Encoder::states_below`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct States {
    /// Tokens (special tokens included).
    pub len: usize,
    /// `len * hidden` numbers.
    pub data: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_mapped() {
        assert_eq!(
            canonical_name("roberta.encoder.layer.0.output.LayerNorm.gamma"),
            Some(("encoder.layer.0.output.LayerNorm.weight".into(), true))
        );
        assert_eq!(
            canonical_name("embeddings.LayerNorm.beta"),
            Some(("embeddings.LayerNorm.bias".into(), false))
        );
        assert_eq!(canonical_name("pooler.dense.weight"), None);
        assert_eq!(canonical_name("lm_head.bias"), None);
    }
}
