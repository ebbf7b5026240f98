//! `marquee-encoder`: the *accurate tier* of Marquee's sentiment analysis
//! (issue #20): a transformer sentence encoder in pure Rust plus a small
//! classification head trained on its embeddings.
//!
//! Pure library: no file or network I/O. The caller reads a Hugging
//! Face-format checkpoint directory and hands over the bytes of
//! `config.json`, `tokenizer.json` and `model.safetensors`
//! ([`Encoder::from_bytes`]); the head travels as bytes too
//! ([`Head::to_bytes`], [`Head::from_bytes`]).
//!
//! # Models
//! Checkpoints of the BERT family (`model_type` `bert`, which includes the
//! MiniLM and all-MiniLM sentence-transformers checkpoints) and of the
//! RoBERTa family (`roberta`, `xlm-roberta`, `camembert`). RoBERTa shares
//! BERT's layer layout; the differences are handled at load time: the
//! `roberta.`/`bert.` name prefixes are stripped, old `gamma`/`beta` layer
//! norm names are renamed, and the RoBERTa position table, whose first
//! `pad_token_id + 1` rows are never used by non-padding tokens, is cut so
//! that position 0 of the BERT code is RoBERTa's first real position.
//! Other architectures (DistilBERT, ALBERT, DeBERTa, …) are refused with
//! [`Error::UnsupportedModel`].
//!
//! An embedding is the mean of the last hidden states over the attention
//! mask, L2-normalised: the `sentence-transformers` recipe of
//! all-MiniLM-L6-v2. Texts are truncated to [`MAX_TOKENS`] tokens (128; the
//! reference uses 256 for that model, which no tweet reaches).
//!
//! # Head
//! [`Head`]: multinomial logistic regression over the embedding, trained by
//! [`train_head`] with the fast tier's recipe (class-balanced weights,
//! AdaGrad SGD, Polyak averaging, a seeded shuffle; see
//! `marquee_sentiment::train`) on standardised inputs, the standardisation
//! folded into the weights afterwards. The same seed and data give a
//! byte-identical head file. [`Head::predict`] returns a
//! [`marquee_sentiment::Prediction`] (`top_tokens` is empty: an encoder has
//! no per-token attribution that is cheap and honest).
//!
//! # Fine-tuning
//! [`fine_tune`] trains the encoder's last `k` layers together with the
//! head, on the hidden states that enter them ([`Encoder::states_below`],
//! computed once). The trained layers travel in the head file (format
//! version 2, about 7 MB per MiniLM layer); the checkpoint on disk is never
//! changed, and a head with top layers runs the checkpoint's first
//! `num_layers − k` layers and then its own. The top layers run on a BERT
//! layer written with differentiable candle ops (`layer.rs`), because
//! candle-transformers' fused layer norm has no backward pass.
//!
//! # Ensembles
//! [`Ensemble`]: several heads (in practice the same fine-tuning run with
//! other seeds) whose class probabilities are averaged ([`average`]). Its
//! file holds the members' head files; an ensemble of one is the plain
//! head file, so [`Ensemble::from_bytes`] reads either.
//!
//! # Why candle and tokenizers
//! - [`candle`](https://github.com/huggingface/candle) (`candle-core`,
//!   `candle-nn`, `candle-transformers`) is Hugging Face's own pure-Rust
//!   tensor library: no libtorch or ONNX Runtime shared library to ship,
//!   CPU kernels through the pure-Rust `gemm` crate, a maintained BERT
//!   implementation that matches `transformers` numerically, and a safe
//!   safetensors loader from a byte buffer (the workspace forbids `unsafe`,
//!   which rules out the mmap loader). `burn` was the alternative; it needs
//!   a model import step per architecture, where candle reads the
//!   checkpoint's tensor names as they are.
//! - [`tokenizers`](https://github.com/huggingface/tokenizers) is the Rust
//!   core of the Python tokenizers that produced every `tokenizer.json`,
//!   so WordPiece/BPE, normalisation and special tokens are exactly the
//!   reference's. Built with `default-features = false` and the pure-Rust
//!   `fancy-regex` engine: no C/C++ (Oniguruma, esaxx) and no hub download
//!   code.
//!
//! # Example
//! ```no_run
//! # fn main() -> Result<(), marquee_encoder::Error> {
//! # let (config, tokenizer, weights): (Vec<u8>, Vec<u8>, Vec<u8>) = unimplemented!();
//! use marquee_encoder::{train_head, Encoder, HeadConfig};
//! use marquee_sentiment::Label;
//! let encoder = Encoder::from_bytes(&config, &tokenizer, &weights)?;
//! let texts = ["loved it", "hated it", "it is on at nine"];
//! let labels = [Label::Positive, Label::Negative, Label::Neutral];
//! let emb = encoder.embed_batch(&texts)?;
//! let head = train_head(&emb, &labels, &HeadConfig::default(), 42, encoder.fingerprint())?;
//! let p = head.predict(&encoder.embed_batch(&["what a great show"])?[0])?;
//! println!("{} {:.2}", p.label, p.score);
//! # Ok(()) }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod encoder;
mod ensemble;
mod finetune;
mod head;
mod layer;

pub use encoder::{Encoder, States, DEFAULT_BATCH, MAX_TOKENS};
pub use ensemble::{average, Ensemble, MAX_MEMBERS};
pub use finetune::{fine_tune, fine_tune_ends, FineTuneConfig, Tuned};
pub use head::{train_head, Head, HeadConfig};

/// The checkpoint file a problem was found in.
pub const CONFIG_FILE: &str = "config.json";
/// See [`CONFIG_FILE`].
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// See [`CONFIG_FILE`].
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Errors of this crate. Checkpoint errors name the file (and the tensor).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A checkpoint file could not be read (see [`Encoder::load_with`]).
    #[error("{file}: cannot read it: {message}")]
    Read {
        /// `config.json`, `tokenizer.json` or `model.safetensors`.
        file: &'static str,
        /// The I/O error.
        message: String,
    },
    /// A checkpoint file could not be parsed.
    #[error("{file}: {message}")]
    Parse {
        /// `config.json`, `tokenizer.json` or `model.safetensors`.
        file: &'static str,
        /// What is wrong.
        message: String,
    },
    /// `config.json` names an architecture this crate cannot run.
    #[error(
        "config.json: unsupported model_type `{0}` (supported: bert, which includes MiniLM, and roberta, xlm-roberta, camembert)"
    )]
    UnsupportedModel(String),
    /// A tensor the architecture needs is absent.
    #[error("model.safetensors: missing tensor `{0}`")]
    MissingTensor(String),
    /// A tensor's shape disagrees with `config.json`.
    #[error("model.safetensors: tensor `{name}` has shape {got:?}, but config.json implies {expected:?}")]
    TensorShape {
        /// Tensor name (after prefix stripping).
        name: String,
        /// Shape implied by the config.
        expected: Vec<usize>,
        /// Shape in the file.
        got: Vec<usize>,
    },
    /// The tokenizer can produce ids beyond the embedding table.
    #[error(
        "tokenizer.json has a vocabulary of {tokenizer} tokens but config.json has vocab_size {config}"
    )]
    VocabMismatch {
        /// `vocab_size` in `config.json`.
        config: usize,
        /// Vocabulary of `tokenizer.json`, added tokens included.
        tokenizer: usize,
    },
    /// Tokenisation or the forward pass failed.
    #[error("encoder inference failed: {0}")]
    Inference(String),
    /// A head file could not be parsed.
    #[error("invalid encoder head: {0}")]
    BadHead(String),
    /// The head belongs to another encoder, or an embedding has the wrong size.
    #[error("head/encoder mismatch: {0}")]
    Mismatch(String),
    /// Training data is malformed.
    #[error("invalid data: {0}")]
    Data(String),
    /// Training failed for a reason of its configuration as a whole
    /// (it diverged).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// One hyper-parameter is out of range. `field` is its name in
    /// [`HeadConfig`] or [`FineTuneConfig`] (`lr`, `head_lr`, `layers`, …),
    /// so that a caller can name its own flag or key for it instead.
    #[error("invalid setting {field} = {value}: {reason}")]
    Setting {
        /// The field's name in the configuration struct.
        field: &'static str,
        /// The value given, as written by `Display`.
        value: String,
        /// What the value must be.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// An [`Error::Setting`].
pub(crate) fn setting(
    field: &'static str,
    value: impl std::fmt::Display,
    reason: impl Into<String>,
) -> Error {
    Error::Setting {
        field,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// `Ok` when `value` is a finite number above 0.
pub(crate) fn positive(field: &'static str, value: f64) -> Result<()> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(setting(field, value, "must be a finite number above 0"))
    }
}

/// `Ok` when `value` is a share in [0, 1): a dropout probability, a pull.
pub(crate) fn fraction(field: &'static str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(setting(field, value, "must be in [0, 1)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn types_are_send_sync() {
        assert_send_sync::<Encoder>();
        assert_send_sync::<Head>();
    }
}
