//! Fine-tuning the last layers: the trainable layer equals the checkpoint's,
//! training changes it and fits the data, the file round-trips and is
//! deterministic, and the head refuses a model it does not fit.

use marquee_encoder::{
    fine_tune, fine_tune_ends, train_head, Encoder, Error, FineTuneConfig, Head, HeadConfig,
};
use marquee_sentiment::Label;

use crate::tiny::{self, Spec};

/// The defaults, with one trained layer: the tiny model has one.
fn one_layer() -> FineTuneConfig {
    FineTuneConfig {
        layers: 1,
        ..FineTuneConfig::default()
    }
}

/// One trained layer with rates high enough that `epochs` passes over the
/// tiny data set move the layer measurably.
fn fitting(epochs: u32) -> FineTuneConfig {
    FineTuneConfig {
        epochs,
        lr: 3e-2,
        head_lr: 3e-2,
        batch: 8,
        ..one_layer()
    }
}

fn close(a: &[Vec<f32>], b: &[Vec<f32>], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        for (d, (p, q)) in x.iter().zip(y).enumerate() {
            assert!((p - q).abs() < tol, "text {i} dim {d}: {p} vs {q}");
        }
    }
}

/// The L1 distance between two lists of embeddings.
fn dist(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .sum()
}

fn tuned(
    enc: &Encoder,
    texts: &[String],
    labels: &[Label],
    cfg: &FineTuneConfig,
    seed: u64,
) -> Head {
    let states = enc.states_below(texts, cfg.layers).unwrap();
    fine_tune(enc, &states, labels, cfg, seed, |_, _| {}).unwrap()
}

/// Checks that the layer written with differentiable ops computes what the
/// checkpoint's own layer computes: with zero epochs the "fine-tuned"
/// layers are the checkpoint's, so the embeddings must equal the plain ones.
pub fn untrained_top_equals_checkpoint(
    enc: &Encoder,
    texts: &[String],
    labels: &[Label],
    layers: usize,
) {
    let cfg = FineTuneConfig {
        layers,
        epochs: 0,
        ..one_layer()
    };
    let head = tuned(enc, texts, labels, &cfg, 5);
    assert_eq!(head.top_layers(), layers);
    let plain = enc.embed_batch(texts).unwrap();
    close(&head.embed_texts(enc, texts).unwrap(), &plain, 1e-5);
    let states = enc.states_below(texts, layers).unwrap();
    close(&head.embed_states(&states).unwrap(), &plain, 1e-5);
    // The warm start is the plain head on the same embeddings.
    let warm = train_head(&plain, labels, &cfg.head, 5, enc.fingerprint()).unwrap();
    let a = head.predict_texts(enc, texts).unwrap();
    let b = warm.predict_texts(enc, texts).unwrap();
    for (p, q) in a.iter().zip(&b) {
        assert_eq!(p.label, q.label);
        assert!(
            (p.score - q.score).abs() < 1e-3,
            "{} vs {}",
            p.score,
            q.score
        );
    }
}

#[test]
fn untrained_top_layer_matches_the_checkpoint() {
    let (texts, labels) = tiny::labelled_texts();
    untrained_top_equals_checkpoint(&tiny::encoder(&Spec::default()), &texts, &labels, 1);
}

fn macro_recall(head: &Head, enc: &Encoder, texts: &[String], labels: &[Label]) -> f64 {
    let pred: Vec<Label> = head
        .predict_texts(enc, texts)
        .unwrap()
        .into_iter()
        .map(|p| p.label)
        .collect();
    marquee_sentiment::Metrics::compute(labels, &pred).macro_recall
}

#[test]
fn fine_tuning_changes_the_layer_and_fits_better_than_the_frozen_head() {
    let (texts, labels) = tiny::labelled_texts();
    let enc = tiny::encoder(&Spec::default());
    // A weak warm start (one head epoch), then enough steps to move.
    let head_cfg = HeadConfig {
        epochs: 1,
        lr: 0.01,
        ..HeadConfig::default()
    };
    let frozen = FineTuneConfig {
        epochs: 0,
        head: head_cfg.clone(),
        ..one_layer()
    };
    let trained = FineTuneConfig {
        head: head_cfg,
        ..fitting(60)
    };
    let before = tuned(&enc, &texts, &labels, &frozen, 3);
    let after = tuned(&enc, &texts, &labels, &trained, 3);
    assert_ne!(before.to_bytes(), after.to_bytes());
    let plain = enc.embed_batch(&texts).unwrap();
    let moved = after.embed_texts(&enc, &texts).unwrap();
    let diff = dist(&plain, &moved);
    assert!(
        diff > 1e-2,
        "the layer did not change the embeddings ({diff})"
    );
    let (r0, r1) = (
        macro_recall(&before, &enc, &texts, &labels),
        macro_recall(&after, &enc, &texts, &labels),
    );
    assert!(
        r1 > r0,
        "training recall {r1} is not above the frozen head's {r0}"
    );
    assert!(r1 > 0.9, "training recall {r1}");
}

#[test]
fn a_pull_moves_the_trained_numbers_back_toward_the_start() {
    let (texts, labels) = tiny::labelled_texts();
    let enc = tiny::encoder(&Spec::default());
    let trained = fitting(20);
    let states = enc.states_below(&texts, 1).unwrap();
    let ends = fine_tune_ends(&enc, &states, &labels, &trained, 3, |_, _| {}).unwrap();
    // No pull is the trained head, bit for bit; `cfg.pull` is the same
    // as `Tuned::head`.
    let full = tuned(&enc, &texts, &labels, &trained, 3);
    assert_eq!(ends.head(0.0).unwrap().to_bytes(), full.to_bytes());
    let pulled = FineTuneConfig {
        pull: 0.4,
        ..trained.clone()
    };
    assert_eq!(
        tuned(&enc, &texts, &labels, &pulled, 3).to_bytes(),
        ends.head(0.4).unwrap().to_bytes()
    );
    // Almost all the way back is the checkpoint's layer and the warm
    // start: the plain embeddings and the frozen head's predictions.
    let plain = enc.embed_batch(&texts).unwrap();
    let back = ends.head(1.0 - 1e-7).unwrap();
    close(&back.embed_texts(&enc, &texts).unwrap(), &plain, 1e-4);
    let frozen = tuned(
        &enc,
        &texts,
        &labels,
        &FineTuneConfig {
            epochs: 0,
            ..trained.clone()
        },
        3,
    );
    for (p, q) in back
        .predict_texts(&enc, &texts)
        .unwrap()
        .iter()
        .zip(&frozen.predict_texts(&enc, &texts).unwrap())
    {
        assert_eq!(p.label, q.label);
        assert!(
            (p.score - q.score).abs() < 1e-3,
            "{} vs {}",
            p.score,
            q.score
        );
    }
    // Halfway is between the two: its embeddings differ from both ends'.
    let end = full.embed_texts(&enc, &texts).unwrap();
    let half = ends.head(0.5).unwrap().embed_texts(&enc, &texts).unwrap();
    let whole = dist(&end, &plain);
    assert!(whole > 1e-2, "training did not move the layer ({whole})");
    let (to_end, to_start) = (dist(&half, &end), dist(&half, &plain));
    assert!(
        to_end > 0.1 * whole && to_start > 0.1 * whole,
        "halfway is {to_end} from the end and {to_start} from the start of {whole}"
    );
    // Out of range: refused naming the field.
    for pull in [1.0, -0.1, f64::NAN] {
        assert!(
            matches!(ends.head(pull), Err(Error::Setting { field: "pull", .. })),
            "{pull}"
        );
    }
}

#[test]
fn same_seed_same_file_and_the_file_round_trips() {
    let (texts, labels) = tiny::labelled_texts();
    let cfg = FineTuneConfig {
        epochs: 3,
        lr: 1e-3,
        batch: 8,
        ..one_layer()
    };
    let a = tuned(&tiny::encoder(&Spec::default()), &texts, &labels, &cfg, 11).to_bytes();
    let b = tuned(&tiny::encoder(&Spec::default()), &texts, &labels, &cfg, 11).to_bytes();
    assert_eq!(a, b);
    let enc = tiny::encoder(&Spec::default());
    assert_ne!(a, tuned(&enc, &texts, &labels, &cfg, 12).to_bytes());

    let head = Head::from_bytes(&a).unwrap();
    assert_eq!(head.to_bytes(), a);
    assert_eq!(head.top_layers(), 1);
    assert_eq!(
        &a[8..12],
        &2u32.to_le_bytes(),
        "a head with layers is format 2"
    );
    let p = head.predict_texts(&enc, &texts).unwrap();
    assert_eq!(p.len(), texts.len());

    // Damage is refused, never a panic.
    assert!(Head::from_bytes(&a[..a.len() - 4]).is_err());
    let mut longer = a.clone();
    longer.extend_from_slice(&[0; 4]);
    assert!(Head::from_bytes(&longer).is_err());
    let mut nan = a.clone();
    let at = nan.len() - 4;
    nan[at..].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(matches!(Head::from_bytes(&nan), Err(Error::BadHead(_))));
    for cut in (0..a.len()).step_by(97) {
        let _ = Head::from_bytes(&a[..cut]);
    }
}

#[test]
fn dropout_is_seeded_changes_training_and_never_applies_when_serving() {
    let (texts, labels) = tiny::labelled_texts();
    let enc = tiny::encoder(&Spec::default());
    let cfg = |dropout| FineTuneConfig {
        epochs: 3,
        lr: 1e-3,
        batch: 8,
        dropout,
        ..one_layer()
    };
    let plain = tuned(&enc, &texts, &labels, &cfg(0.0), 11);
    let a = tuned(&enc, &texts, &labels, &cfg(0.3), 11);
    let b = tuned(&enc, &texts, &labels, &cfg(0.3), 11);
    assert_eq!(a.to_bytes(), b.to_bytes(), "same seed, same dropout masks");
    assert_ne!(
        a.to_bytes(),
        plain.to_bytes(),
        "dropout changes the trained layer"
    );
    assert_ne!(
        a.to_bytes(),
        tuned(&enc, &texts, &labels, &cfg(0.3), 12).to_bytes()
    );
    // Serving is deterministic: the same head embeds the same text twice
    // to the same numbers, and the stored head file reproduces them.
    let e1 = a.embed_texts(&enc, &texts).unwrap();
    let e2 = Head::from_bytes(&a.to_bytes())
        .unwrap()
        .embed_texts(&enc, &texts)
        .unwrap();
    assert_eq!(e1, e2);
    assert_eq!(e1, a.embed_texts(&enc, &texts).unwrap());
}

#[test]
fn layer_decay_slows_the_lower_layers() {
    let (texts, labels) = tiny::labelled_texts();
    let two = tiny::encoder(&Spec {
        layers: 2,
        ..Spec::default()
    });
    let cfg = |layers, layer_decay| FineTuneConfig {
        layers,
        layer_decay,
        ..fitting(10)
    };
    let top_only = tuned(&two, &texts, &labels, &cfg(1, 1.0), 3)
        .embed_texts(&two, &texts)
        .unwrap();
    let both = tuned(&two, &texts, &labels, &cfg(2, 1.0), 3)
        .embed_texts(&two, &texts)
        .unwrap();
    let head = tuned(&two, &texts, &labels, &cfg(2, 1e-12), 3);
    let frozen_below = head.embed_texts(&two, &texts).unwrap();
    assert_eq!(head.top_layers(), 2);
    // A decay of 1e-12 leaves the lower layer where it was (its steps are
    // below f32's resolution): the run trains as if only the top layer
    // were, while training both at one rate ends elsewhere.
    let (near, far) = (dist(&frozen_below, &top_only), dist(&both, &top_only));
    assert!(far > 1e-2, "training both layers changed nothing ({far})");
    assert!(
        near < far / 20.0,
        "the lower layer moved: {near} from the top-only run, vs {far}"
    );
    // With one trained layer the decay changes nothing: the top layer
    // always learns at `lr`.
    assert_eq!(
        tuned(&two, &texts, &labels, &cfg(1, 0.5), 3).to_bytes(),
        tuned(&two, &texts, &labels, &cfg(1, 1.0), 3).to_bytes()
    );
}

#[test]
fn warmup_smoothing_and_cutoff_are_seeded_and_change_training() {
    let (texts, labels) = tiny::labelled_texts();
    let enc = tiny::encoder(&Spec::default());
    let cfg = |warmup, smoothing| FineTuneConfig {
        warmup,
        smoothing,
        ..fitting(30)
    };
    let plain = tuned(&enc, &texts, &labels, &cfg(0.0, 0.0), 11);
    let cut = FineTuneConfig {
        token_cutoff: 0.3,
        ..cfg(0.0, 0.0)
    };
    for c in [cfg(0.3, 0.0), cfg(0.0, 0.3), cut] {
        let a = tuned(&enc, &texts, &labels, &c, 11);
        assert_eq!(
            a.to_bytes(),
            tuned(&enc, &texts, &labels, &c, 11).to_bytes()
        );
        assert_ne!(a.to_bytes(), plain.to_bytes(), "{c:?}");
    }
    // Smoothing keeps the model from certainty: on the texts it was
    // trained on, its most probable class is less probable on average.
    let confidence = |head: &Head| -> f32 {
        let p = head.predict_texts(&enc, &texts).unwrap();
        p.iter()
            .map(|p| p.probs.iter().copied().fold(0.0, f32::max))
            .sum::<f32>()
            / p.len() as f32
    };
    let smooth = tuned(&enc, &texts, &labels, &cfg(0.0, 0.5), 11);
    let (sharp, soft) = (confidence(&plain), confidence(&smooth));
    assert!(soft < sharp - 0.02, "smoothed {soft} vs plain {sharp}");
}

#[test]
fn bad_configurations_and_data_are_refused() {
    let (texts, labels) = tiny::labelled_texts();
    let enc = tiny::encoder(&Spec::default());
    let states = enc.states_below(&texts, 1).unwrap();
    let run = |cfg: FineTuneConfig, labels: &[Label]| {
        fine_tune(&enc, &states, labels, &cfg, 1, |_, _| {})
    };
    // Each bad setting is refused naming its field (the tiny model has
    // one layer).
    let field = |cfg: FineTuneConfig| match run(cfg, &labels) {
        Err(Error::Setting { field, .. }) => field,
        other => panic!("not refused as a setting: {other:?}"),
    };
    for (cfg, want) in [
        (
            FineTuneConfig {
                layers: 2,
                ..one_layer()
            },
            "layers",
        ),
        (
            FineTuneConfig {
                layers: 0,
                ..one_layer()
            },
            "layers",
        ),
        (
            FineTuneConfig {
                lr: 0.0,
                ..one_layer()
            },
            "lr",
        ),
        (
            FineTuneConfig {
                head_lr: f64::INFINITY,
                ..one_layer()
            },
            "head_lr",
        ),
        (
            FineTuneConfig {
                weight_decay: -1.0,
                ..one_layer()
            },
            "weight_decay",
        ),
        (
            FineTuneConfig {
                batch: 0,
                ..one_layer()
            },
            "batch",
        ),
        (
            FineTuneConfig {
                dropout: 1.0,
                ..one_layer()
            },
            "dropout",
        ),
        (
            FineTuneConfig {
                dropout: -0.1,
                ..one_layer()
            },
            "dropout",
        ),
        (
            FineTuneConfig {
                dropout: f64::NAN,
                ..one_layer()
            },
            "dropout",
        ),
        (
            FineTuneConfig {
                balance: f32::NAN,
                ..one_layer()
            },
            "balance",
        ),
        (
            FineTuneConfig {
                pull: 1.0,
                ..one_layer()
            },
            "pull",
        ),
        (
            FineTuneConfig {
                layer_decay: 0.0,
                ..one_layer()
            },
            "layer_decay",
        ),
        (
            FineTuneConfig {
                layer_decay: 1.5,
                ..one_layer()
            },
            "layer_decay",
        ),
        (
            FineTuneConfig {
                layer_decay: f64::NAN,
                ..one_layer()
            },
            "layer_decay",
        ),
        (
            FineTuneConfig {
                warmup: 1.0,
                ..one_layer()
            },
            "warmup",
        ),
        (
            FineTuneConfig {
                smoothing: -0.1,
                ..one_layer()
            },
            "smoothing",
        ),
        (
            FineTuneConfig {
                token_cutoff: 1.0,
                ..one_layer()
            },
            "token_cutoff",
        ),
    ] {
        assert_eq!(field(cfg.clone()), want, "{cfg:?}");
    }
    let Err(e) = run(
        FineTuneConfig {
            layers: 2,
            ..one_layer()
        },
        &labels,
    ) else {
        panic!("two layers of a one-layer model were fine-tuned");
    };
    assert_eq!(
        e.to_string(),
        "invalid setting layers = 2: the encoder has only 1 layer(s)"
    );
    assert!(matches!(
        run(one_layer(), &labels[1..]),
        Err(Error::Data(_))
    ));
    assert!(enc.states_below(&texts, 2).is_err());
    let mut broken = states.clone();
    broken[0].data.pop();
    assert!(matches!(
        fine_tune(&enc, &broken, &labels, &one_layer(), 1, |_, _| {}),
        Err(Error::Data(_))
    ));
}

#[test]
fn a_tuned_head_refuses_another_encoder() {
    let (texts, labels) = tiny::labelled_texts();
    let enc = tiny::encoder(&Spec::default());
    let cfg = FineTuneConfig {
        epochs: 1,
        ..one_layer()
    };
    let head = tuned(&enc, &texts, &labels, &cfg, 1);
    let other = tiny::encoder(&Spec {
        seed: 9,
        ..Spec::default()
    });
    assert!(matches!(
        head.predict_texts(&other, &texts),
        Err(Error::Mismatch(_))
    ));
}
