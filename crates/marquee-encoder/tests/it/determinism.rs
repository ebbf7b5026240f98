//! The same seed and data give a byte-identical head file.

use marquee_encoder::{train_head, Encoder, HeadConfig};
use sha2::{Digest, Sha256};

use crate::tiny::{self, Spec};

fn head_file(
    enc: &Encoder,
    texts: &[String],
    labels: &[marquee_sentiment::Label],
    seed: u64,
) -> Vec<u8> {
    let emb = enc.embed_batch(texts).unwrap();
    train_head(
        &emb,
        labels,
        &HeadConfig::default(),
        seed,
        enc.fingerprint(),
    )
    .unwrap()
    .to_bytes()
}

#[test]
fn same_seed_same_file_other_seed_or_data_other_file() {
    let (texts, labels) = tiny::labelled_texts();
    // Two independent loads of the same checkpoint.
    let a = head_file(&tiny::encoder(&Spec::default()), &texts, &labels, 7);
    let b = head_file(&tiny::encoder(&Spec::default()), &texts, &labels, 7);
    assert_eq!(Sha256::digest(&a), Sha256::digest(&b));
    assert_eq!(a, b);

    let enc = tiny::encoder(&Spec::default());
    let other_seed = head_file(&enc, &texts, &labels, 8);
    assert_ne!(a, other_seed);
    let mut flipped = labels.clone();
    flipped.swap(0, 1);
    let other_data = head_file(&enc, &texts, &flipped, 7);
    assert_ne!(a, other_data);
    // Another checkpoint: another fingerprint, so another file.
    let other_model = head_file(
        &tiny::encoder(&Spec {
            seed: 2,
            ..Spec::default()
        }),
        &texts,
        &labels,
        7,
    );
    assert_ne!(a, other_model);
}

#[test]
fn head_checks_its_encoder() {
    let (texts, labels) = tiny::labelled_texts();
    let enc = tiny::encoder(&Spec::default());
    let head = marquee_encoder::Head::from_bytes(&head_file(&enc, &texts, &labels, 1)).unwrap();
    assert_eq!(head.predict_texts(&enc, &texts).unwrap().len(), texts.len());
    let other = tiny::encoder(&Spec {
        seed: 3,
        ..Spec::default()
    });
    let err = head.predict_texts(&other, &texts).unwrap_err();
    assert!(
        matches!(err, marquee_encoder::Error::Mismatch(_)),
        "{err:?}"
    );
}
