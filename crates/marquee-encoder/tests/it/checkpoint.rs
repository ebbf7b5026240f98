//! Loading checkpoints, good and bad: errors name the file (and tensor).

use marquee_encoder::{Encoder, Error};

use crate::tiny::{self, Spec};

fn load_dir(dir: &std::path::Path) -> Result<Encoder, Error> {
    Encoder::load_with(|f| std::fs::read(dir.join(f)))
}

#[test]
fn tiny_checkpoint_loads_and_embeds() {
    let dir = tempfile::tempdir().unwrap();
    tiny::write_dir(dir.path(), &Spec::default());
    let enc = load_dir(dir.path()).unwrap();
    assert_eq!(enc.dims(), tiny::HIDDEN);
    assert_eq!(enc.model_type(), "bert");
    let texts = [
        "the show was great",
        "",
        "bad",
        "the movie is not ok at nine",
    ];
    let e = enc.embed_batch(&texts).unwrap();
    assert_eq!(e.len(), texts.len());
    for v in &e {
        assert_eq!(v.len(), tiny::HIDDEN);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    }
    // Padding does not leak: each text alone gives the same vector.
    for (t, v) in texts.iter().zip(&e) {
        let alone = enc.embed_batch(&[t]).unwrap();
        for (a, b) in alone[0].iter().zip(v) {
            assert!((a - b).abs() < 1e-5, "{t}: {a} vs {b}");
        }
    }
    assert_ne!(e[0], e[2]);
}

#[test]
fn missing_tokenizer_is_named() {
    let dir = tempfile::tempdir().unwrap();
    tiny::write_dir(dir.path(), &Spec::default());
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let err = load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Read {
                file: "tokenizer.json",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("tokenizer.json: cannot read"),
        "{err}"
    );
}

#[test]
fn missing_weights_are_named() {
    let dir = tempfile::tempdir().unwrap();
    tiny::write_dir(dir.path(), &Spec::default());
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let err = load_dir(dir.path()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("model.safetensors: cannot read"),
        "{err}"
    );
}

#[test]
fn wrong_tensor_shape_is_named() {
    let spec = Spec::default();
    let bad = tiny::weights_with(&spec, |name, shape| {
        Some(if name == "encoder.layer.0.intermediate.dense.weight" {
            vec![tiny::INTER + 1, tiny::HIDDEN]
        } else {
            shape
        })
    });
    let err =
        Encoder::from_bytes(&tiny::config_json(&spec), &tiny::tokenizer_json(), &bad).unwrap_err();
    match &err {
        Error::TensorShape {
            name,
            expected,
            got,
        } => {
            assert_eq!(name, "encoder.layer.0.intermediate.dense.weight");
            assert_eq!(expected, &vec![tiny::INTER, tiny::HIDDEN]);
            assert_eq!(got, &vec![tiny::INTER + 1, tiny::HIDDEN]);
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.starts_with("model.safetensors:"), "{msg}");
    assert!(msg.contains("intermediate.dense.weight"), "{msg}");
}

#[test]
fn missing_tensor_is_named() {
    let spec = Spec::default();
    let bad = tiny::weights_with(&spec, |name, shape| {
        (name != "encoder.layer.0.output.LayerNorm.bias").then_some(shape)
    });
    let err =
        Encoder::from_bytes(&tiny::config_json(&spec), &tiny::tokenizer_json(), &bad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "model.safetensors: missing tensor `encoder.layer.0.output.LayerNorm.bias`"
    );
}

#[test]
fn vocabulary_mismatch_is_refused() {
    // config.json says 10 tokens, tokenizer.json has 20 (weights agree with config).
    let spec = Spec {
        vocab_size: 10,
        ..Spec::default()
    };
    let err = Encoder::from_bytes(
        &tiny::config_json(&spec),
        &tiny::tokenizer_json(),
        &tiny::weights(&spec),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::VocabMismatch {
                config: 10,
                tokenizer: 20
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("tokenizer.json") && msg.contains("config.json"),
        "{msg}"
    );
}

#[test]
fn word_table_disagreeing_with_config_is_refused() {
    let spec = Spec::default();
    let bad = tiny::weights_with(&spec, |name, shape| {
        Some(if name == "embeddings.word_embeddings.weight" {
            vec![30, tiny::HIDDEN]
        } else {
            shape
        })
    });
    let err =
        Encoder::from_bytes(&tiny::config_json(&spec), &tiny::tokenizer_json(), &bad).unwrap_err();
    assert!(err.to_string().contains("word_embeddings"), "{err}");
}

#[test]
fn unsupported_and_garbled_files_are_named() {
    let spec = Spec {
        model_type: "distilbert",
        ..Spec::default()
    };
    let err = Encoder::from_bytes(
        &tiny::config_json(&spec),
        &tiny::tokenizer_json(),
        &tiny::weights(&spec),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedModel(t) if t == "distilbert"),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("config.json:"), "{err}");

    let ok = Spec::default();
    let err = Encoder::from_bytes(b"{not json", &tiny::tokenizer_json(), &tiny::weights(&ok))
        .unwrap_err();
    assert!(err.to_string().starts_with("config.json:"), "{err}");
    let err = Encoder::from_bytes(&tiny::config_json(&ok), b"{}", &tiny::weights(&ok)).unwrap_err();
    assert!(err.to_string().starts_with("tokenizer.json:"), "{err}");
    let err = Encoder::from_bytes(&tiny::config_json(&ok), &tiny::tokenizer_json(), b"garbage")
        .unwrap_err();
    assert!(err.to_string().starts_with("model.safetensors:"), "{err}");
}

#[test]
fn prefixed_and_roberta_checkpoints_match_plain_bert() {
    let texts = ["the show was great", "bad", "the movie is not ok at nine"];
    let plain = tiny::encoder(&Spec::default()).embed_batch(&texts).unwrap();
    let prefixed = tiny::encoder(&Spec {
        prefix: "bert.",
        ..Spec::default()
    })
    .embed_batch(&texts)
    .unwrap();
    assert_eq!(plain, prefixed);
    // RoBERTa: same weights, the position table shifted by pad_token_id + 1
    // (the leading rows hold junk that must not be used).
    let roberta = tiny::encoder(&Spec {
        model_type: "roberta",
        prefix: "roberta.",
        position_offset: 2,
        pad_token_id: 1,
        ..Spec::default()
    });
    assert_eq!(roberta.model_type(), "roberta");
    assert_eq!(roberta.embed_batch(&texts).unwrap(), plain);
}
