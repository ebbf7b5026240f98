//! A tiny random BERT checkpoint built in memory (hidden 8, 1 layer, a
//! 20-word WordPiece vocabulary), so the encoder's loading tests and the
//! server's accurate-tier tests need no download.

use std::collections::BTreeMap;

use safetensors::tensor::{Dtype, TensorView};

pub const WORDS: [&str; 16] = [
    "the", "show", "movie", "is", "was", "good", "great", "love", "bad", "awful", "hate", "ok",
    "on", "at", "nine", "not",
];

pub struct Spec {
    pub model_type: &'static str,
    pub prefix: &'static str,
    /// Extra leading rows of the position table (RoBERTa: pad_token_id + 1).
    pub position_offset: usize,
    pub pad_token_id: usize,
    pub vocab_size: usize,
    pub seed: u64,
    /// Transformer layers (1 unless a test needs several).
    pub layers: usize,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            model_type: "bert",
            prefix: "",
            position_offset: 0,
            pad_token_id: 0,
            vocab_size: 4 + WORDS.len(),
            seed: 1,
            layers: 1,
        }
    }
}

pub const HIDDEN: usize = 8;
pub const INTER: usize = 16;
pub const MAX_POS: usize = 32;

pub fn config_json(spec: &Spec) -> Vec<u8> {
    serde_json::json!({
        "architectures": ["BertModel"],
        "model_type": spec.model_type,
        "vocab_size": spec.vocab_size,
        "hidden_size": HIDDEN,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": 2,
        "intermediate_size": INTER,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": MAX_POS + spec.position_offset,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": spec.pad_token_id,
    })
    .to_string()
    .into_bytes()
}

pub fn tokenizer_json() -> Vec<u8> {
    let mut vocab = serde_json::Map::new();
    for (i, t) in ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        .iter()
        .chain(WORDS.iter())
        .enumerate()
    {
        vocab.insert(t.to_string(), i.into());
    }
    let special = |id: u32, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]")],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
            "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": vocab}
    })
    .to_string()
    .into_bytes()
}

/// Deterministic pseudo-random values in [-0.5, 0.5).
fn values(n: usize, state: &mut u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((*state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

/// (name, shape) of every tensor, BERT names without prefix.
pub fn tensor_shapes(spec: &Spec) -> Vec<(String, Vec<usize>)> {
    let (h, i) = (HIDDEN, INTER);
    let mut v: Vec<(String, Vec<usize>)> = vec![
        (
            "embeddings.word_embeddings.weight".into(),
            vec![spec.vocab_size, h],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![MAX_POS, h],
        ),
        ("embeddings.token_type_embeddings.weight".into(), vec![2, h]),
        ("embeddings.LayerNorm.weight".into(), vec![h]),
        ("embeddings.LayerNorm.bias".into(), vec![h]),
    ];
    for l in 0..spec.layers {
        for (name, out, inp) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", i, h),
            ("output.dense", h, i),
        ] {
            v.push((format!("encoder.layer.{l}.{name}.weight"), vec![out, inp]));
            v.push((format!("encoder.layer.{l}.{name}.bias"), vec![out]));
        }
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            v.push((format!("encoder.layer.{l}.{ln}.weight"), vec![h]));
            v.push((format!("encoder.layer.{l}.{ln}.bias"), vec![h]));
        }
    }
    v
}

/// safetensors bytes; `edit` may change or drop tensors (by unprefixed name).
pub fn weights_with(spec: &Spec, edit: impl Fn(&str, Vec<usize>) -> Option<Vec<usize>>) -> Vec<u8> {
    let mut state = spec.seed;
    let mut map: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (name, shape) in tensor_shapes(spec) {
        let n: usize = shape.iter().product();
        let mut vals = values(n, &mut state);
        if name.contains("LayerNorm.weight") {
            vals.iter_mut().for_each(|x| *x += 1.0);
        }
        let mut shape = shape;
        if name == "embeddings.position_embeddings.weight" && spec.position_offset > 0 {
            // Leading rows that RoBERTa never uses for real tokens.
            let mut lead = vec![100.0f32; spec.position_offset * HIDDEN];
            lead.extend(vals);
            vals = lead;
            shape[0] += spec.position_offset;
        }
        let Some(shape) = edit(&name, shape) else {
            continue;
        };
        let n: usize = shape.iter().product();
        vals.resize(n, 0.25);
        let bytes = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        map.insert(format!("{}{name}", spec.prefix), (shape, bytes));
    }
    // Tensors the encoder ignores.
    map.insert(
        format!("{}pooler.dense.bias", spec.prefix),
        (vec![HIDDEN], vec![0u8; 4 * HIDDEN]),
    );
    let views: Vec<(String, TensorView<'_>)> = map
        .iter()
        .map(|(k, (shape, bytes))| {
            (
                k.clone(),
                TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

pub fn weights(spec: &Spec) -> Vec<u8> {
    weights_with(spec, |_, s| Some(s))
}

/// Write a checkpoint directory.
pub fn write_dir(dir: &std::path::Path, spec: &Spec) {
    std::fs::write(dir.join("config.json"), config_json(spec)).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json()).unwrap();
    std::fs::write(dir.join("model.safetensors"), weights(spec)).unwrap();
}

/// Texts over the tiny vocabulary, with labels that follow their words.
pub fn labelled_texts() -> (Vec<String>, Vec<marquee_sentiment::Label>) {
    use marquee_sentiment::Label;
    let pos = ["good", "great", "love"];
    let neg = ["bad", "awful", "hate"];
    let neu = ["on at nine", "is ok", "the show"];
    let mut texts = Vec::new();
    let mut labels = Vec::new();
    for (i, subject) in ["the show", "the movie", "it", "show"].iter().enumerate() {
        for k in 0..3 {
            texts.push(format!("{subject} was {}", pos[(i + k) % 3]));
            labels.push(Label::Positive);
            texts.push(format!("{subject} is {}", neg[(i + k) % 3]));
            labels.push(Label::Negative);
            texts.push(format!("{subject} {}", neu[(i + k) % 3]));
            labels.push(Label::Neutral);
        }
    }
    (texts, labels)
}
