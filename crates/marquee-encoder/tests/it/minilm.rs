//! The registry-shipped all-MiniLM-L6-v2 against the reference
//! implementation (sentence-transformers; see fixtures/minilm-reference.py).
//! Set `MARQUEE_TEST_ENCODER_DIR` to a directory made by
//! `bench/sentiment/encoder-model.sh`; skipped otherwise.

use marquee_encoder::Encoder;

#[derive(serde::Deserialize)]
struct Reference {
    dims: usize,
    sentences: Vec<String>,
    first16: Vec<Vec<f32>>,
    sum: Vec<f32>,
    pooled_norm: Vec<f32>,
    cosine_01: f32,
    cosine_02: f32,
    cosine_12: f32,
}

#[test]
fn minilm_matches_reference_embeddings() {
    let Ok(dir) = std::env::var("MARQUEE_TEST_ENCODER_DIR") else {
        eprintln!("skipping: set MARQUEE_TEST_ENCODER_DIR to an all-MiniLM-L6-v2 directory (bench/sentiment/encoder-model.sh)");
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let reference: Reference =
        serde_json::from_str(include_str!("../fixtures/minilm-reference.json")).unwrap();
    let enc = Encoder::load_with(|f| std::fs::read(dir.join(f))).unwrap();
    assert_eq!(enc.dims(), reference.dims);
    assert_eq!(enc.model_type(), "bert");

    let e = enc.embed_batch(&reference.sentences).unwrap();
    let pooled = enc.pool_batch(&reference.sentences).unwrap();
    let tol = 1e-4;
    for (i, v) in e.iter().enumerate() {
        for (d, (got, want)) in v.iter().zip(&reference.first16[i]).enumerate() {
            assert!(
                (got - want).abs() < tol,
                "sentence {i} dim {d}: {got} vs reference {want}"
            );
        }
        let sum: f32 = v.iter().sum();
        assert!(
            (sum - reference.sum[i]).abs() < 1e-3,
            "sentence {i}: sum {sum} vs {}",
            reference.sum[i]
        );
        let norm = pooled[i].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(
            (norm - reference.pooled_norm[i]).abs() < 1e-3 * reference.pooled_norm[i],
            "sentence {i}: pooled norm {norm} vs {}",
            reference.pooled_norm[i]
        );
    }
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    for (got, want) in [
        (cos(&e[0], &e[1]), reference.cosine_01),
        (cos(&e[0], &e[2]), reference.cosine_02),
        (cos(&e[1], &e[2]), reference.cosine_12),
    ] {
        assert!((got - want).abs() < tol, "cosine {got} vs reference {want}");
    }
}

#[test]
fn minilm_untrained_top_layers_match_the_checkpoint() {
    let Ok(dir) = std::env::var("MARQUEE_TEST_ENCODER_DIR") else {
        eprintln!("skipping: set MARQUEE_TEST_ENCODER_DIR to an all-MiniLM-L6-v2 directory (bench/sentiment/encoder-model.sh)");
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let enc = Encoder::load_with(|f| std::fs::read(dir.join(f))).unwrap();
    let (texts, labels) = crate::tiny::labelled_texts();
    // Two own layers in a row (the path of one is a part of it); nine texts
    // keep a debug build quick.
    crate::finetune::untrained_top_equals_checkpoint(&enc, &texts[..9], &labels[..9], 2);
}
