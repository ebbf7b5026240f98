#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Tests of the shipped model and of training.

use marquee_sentiment::{parse_tweeteval, train, Label, Metrics, Model, TrainConfig};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    std::env::var_os("MARQUEE_SENTIMENT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data/sentiment/tweeteval")
        })
}

#[test]
fn shipped_model_meets_the_val_quality_gate() {
    let dir = data_dir();
    let Ok(text) = std::fs::read_to_string(dir.join("val_text.txt")) else {
        eprintln!(
            "SKIPPED: no TweetEval val at {} (set MARQUEE_SENTIMENT_DATA)",
            dir.display()
        );
        return;
    };
    let labels = std::fs::read_to_string(dir.join("val_labels.txt")).unwrap();
    let (texts, gold) = parse_tweeteval(&text, &labels).unwrap();
    let model = Model::default_model().unwrap();
    let pred: Vec<Label> = model
        .predict_batch(&texts)
        .iter()
        .map(|p| p.label)
        .collect();
    let m = Metrics::compute(&gold, &pred);
    eprintln!("val macro-recall {:.4}", m.macro_recall);
    assert!(
        m.macro_recall >= 0.65,
        "val macro-recall {:.4} < 0.65",
        m.macro_recall
    );
}

#[test]
fn shipped_model_round_trips_and_rejects_corruption() {
    let bytes = Model::default_model_bytes();
    let model = Model::from_bytes(bytes).unwrap();
    assert_eq!(model.to_bytes(), bytes);
    let mut bad = bytes.to_vec();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    assert!(Model::from_bytes(&bad).is_err());
    assert!(Model::from_bytes(&bytes[..100]).is_err());
    assert!(Model::from_bytes(b"").is_err());
}

#[test]
fn predictions_are_explained() {
    let model = Model::default_model().unwrap();
    let p = model.predict("I hate this terrible phone, worst purchase ever");
    assert_eq!(p.label, Label::Negative);
    assert!(p.score < 0.0);
    let sum: f32 = p.probs.iter().sum();
    assert!((sum - 1.0).abs() < 1e-4);
    assert!(!p.top_tokens.is_empty());
    assert!(p.top_tokens.windows(2).all(|w| w[0].1 >= w[1].1));
    let names: Vec<&str> = p.top_tokens.iter().map(|(t, _)| t.as_str()).collect();
    assert!(
        names
            .iter()
            .any(|t| ["hate", "terrible", "worst"].contains(t)),
        "{names:?}"
    );

    let p = model.predict("Absolutely loved the new season, best show ever! \u{1F60D}");
    assert_eq!(p.label, Label::Positive);
    assert!(p.score > 0.0);
}

#[test]
fn negation_and_emoji_move_the_score() {
    let model = Model::default_model().unwrap();
    let good = model.predict("the movie was good").score;
    let not_good = model.predict("the movie was not good").score;
    assert!(not_good < good, "{not_good} >= {good}");
    let happy = model
        .predict("new episode tonight \u{1F60D}\u{1F60D}")
        .score;
    let sad = model
        .predict("new episode tonight \u{1F62D}\u{1F621}")
        .score;
    assert!(happy > sad, "{happy} <= {sad}");
    let batch = model.predict_batch(&["the movie was good", "the movie was not good"]);
    assert_eq!(batch[0], model.predict("the movie was good"));
}

/// Tiny synthetic corpus: sentiment carried by a verb, topic words vary.
fn synthetic() -> (Vec<String>, Vec<Label>) {
    let topics = [
        "pizza", "movie", "phone", "show", "game", "album", "team", "app",
    ];
    let mut texts = Vec::new();
    let mut labels = Vec::new();
    for (i, t) in topics.iter().enumerate() {
        for (j, who) in ["i", "we", "they"].iter().enumerate() {
            if (i + j) % 4 == 3 {
                continue; // held out below
            }
            texts.push(format!("{who} adore the {t}"));
            labels.push(Label::Positive);
            texts.push(format!("{who} despise the {t}"));
            labels.push(Label::Negative);
            texts.push(format!("{who} watched the {t} on tuesday"));
            labels.push(Label::Neutral);
        }
    }
    (texts, labels)
}

fn small_config() -> TrainConfig {
    let mut cfg = TrainConfig {
        epochs: 5,
        ..TrainConfig::default()
    };
    cfg.features.hash_bits = 14;
    cfg
}

/// Trains on the synthetic set with `cfg` and a seeded RNG.
fn train_synthetic(cfg: &TrainConfig, seed: u64) -> marquee_sentiment::Result<Model> {
    let (texts, labels) = synthetic();
    train(
        &texts,
        &labels,
        cfg,
        &mut StdRng::seed_from_u64(seed),
        |_, _| {},
    )
}

#[test]
fn training_learns_and_is_deterministic() {
    let cfg = small_config();
    let a = train_synthetic(&cfg, 7).unwrap();
    let b = train_synthetic(&cfg, 7).unwrap();
    let c = train_synthetic(&cfg, 8).unwrap();
    assert_eq!(a.to_bytes(), b.to_bytes());
    assert_ne!(a.to_bytes(), c.to_bytes());
    // Unseen (speaker, topic) combinations.
    assert_eq!(a.predict("they adore the app").label, Label::Positive);
    assert_eq!(a.predict("we despise the game").label, Label::Negative);
    assert_eq!(
        a.predict("i watched the album on tuesday").label,
        Label::Neutral
    );
}

#[test]
fn training_rejects_bad_input() {
    let cfg = small_config();
    let mut rng = StdRng::seed_from_u64(1);
    assert!(train(&["a"], &[], &cfg, &mut rng, |_, _| {}).is_err());
    let empty: [&str; 0] = [];
    assert!(train(&empty, &[], &cfg, &mut rng, |_, _| {}).is_err());
}

#[test]
fn a_small_tweeteval_slice_beats_chance() {
    let dir = data_dir();
    let (Ok(tt), Ok(tl), Ok(vt), Ok(vl)) = (
        std::fs::read_to_string(dir.join("train_text.txt")),
        std::fs::read_to_string(dir.join("train_labels.txt")),
        std::fs::read_to_string(dir.join("val_text.txt")),
        std::fs::read_to_string(dir.join("val_labels.txt")),
    ) else {
        eprintln!("SKIPPED: no TweetEval at {}", dir.display());
        return;
    };
    let (tt, tl) = parse_tweeteval(&tt, &tl).unwrap();
    let (vt, vl) = parse_tweeteval(&vt, &vl).unwrap();
    let n = 4000;
    let cfg = TrainConfig {
        epochs: 3,
        ..TrainConfig::default()
    };
    let model = train(
        &tt[..n],
        &tl[..n],
        &cfg,
        &mut StdRng::seed_from_u64(3),
        |_, _| {},
    )
    .unwrap();
    let pred: Vec<Label> = vt.iter().map(|t| model.predict_label(t)).collect();
    let m = Metrics::compute(&vl, &pred);
    eprintln!("4k-slice val macro-recall {:.4}", m.macro_recall);
    assert!(m.macro_recall > 0.5, "{}", m.macro_recall);
}

fn assert_sane(p: &marquee_sentiment::Prediction) {
    let sum: f32 = p.probs.iter().sum();
    assert!((sum - 1.0).abs() < 1e-4, "{p:?}");
    assert!(p.probs.iter().all(|x| x.is_finite() && *x >= 0.0), "{p:?}");
    assert!((-1.0..=1.0).contains(&p.score), "{p:?}");
    assert_eq!(p.label, Label::ALL[argmax(&p.probs)], "{p:?}");
}

fn argmax(p: &[f32; 3]) -> usize {
    (0..3).fold(0, |b, i| if p[i] > p[b] { i } else { b })
}

#[test]
fn bad_input_gets_a_label_and_never_panics() {
    let model = Model::default_model().unwrap();
    // Nothing to read: neutral, no explanation, for both entry points.
    for t in ["", "   \n\t ", "\0\u{1}\u{7f}", "\u{200b}\u{feff}"] {
        let p = model.predict(t);
        assert_eq!(p.label, Label::Neutral, "{t:?}");
        assert!(p.top_tokens.is_empty(), "{t:?}");
        assert_eq!(model.predict_label(t), Label::Neutral, "{t:?}");
    }
    // Control characters separate words like spaces do.
    assert_eq!(
        model.predict("I love\0this\u{7}show"),
        model.predict("I love this show")
    );
    // 1 MB of text (and more than 65,535 tokens).
    let big = "the new season is great but the app keeps crashing ".repeat(20_000);
    assert!(big.len() > 1_000_000);
    let p = model.predict(&big);
    assert_sane(&p);
    assert!(p.top_tokens.len() <= marquee_sentiment::TOP_TOKENS);
    assert_eq!(model.predict_label(&big), p.label);
    // Emoji only.
    let p = model.predict("\u{1F60D}\u{1F60D}\u{2764}\u{FE0F}");
    assert_sane(&p);
    assert_eq!(p.label, Label::Positive);
    let p = model.predict("\u{1F621}\u{1F62D}\u{1F44E}");
    assert_sane(&p);
    assert_eq!(p.label, Label::Negative);
    // Right-to-left scripts, alone, mixed with Latin text, with bidi marks.
    for t in [
        "\u{0647}\u{0630}\u{0627} \u{0627}\u{0644}\u{0641}\u{064A}\u{0644}\u{0645} \u{0631}\u{0627}\u{0626}\u{0639}",
        "\u{05D4}\u{05E1}\u{05D3}\u{05E8}\u{05D4} \u{05DE}\u{05E2}\u{05D5}\u{05DC}\u{05D4}",
        "\u{202B}\u{05E9}\u{05DC}\u{05D5}\u{05DD}\u{202C} love it",
    ] {
        assert_sane(&model.predict(t));
    }
    // An emoji still carries its polarity inside Arabic text.
    let p = model.predict("\u{0645}\u{0633}\u{0644}\u{0633}\u{0644} \u{1F621}\u{1F621}");
    assert_eq!(p.label, Label::Negative, "{p:?}");
    // Escapes cut short, lone surrogates, stray entities.
    for t in [
        r"\u",
        r"\ud83d",
        r"abc \uZZZZ",
        "&amp",
        "&",
        r"\ude00\ud83d x",
    ] {
        assert_sane(&model.predict(t));
    }
    // Invalid UTF-8 from a file: replaced, then labelled.
    let p = model.predict_bytes(b"awful \xff\xfe service \xc3");
    assert_sane(&p);
    assert_eq!(p.label, Label::Negative);
}

#[test]
fn neutral_offset_only_moves_the_neutral_bias() {
    let base = small_config();
    let shifted = TrainConfig {
        neutral_offset: 3.0,
        ..small_config()
    };
    let a = train_synthetic(&base, 7).unwrap();
    let b = train_synthetic(&shifted, 7).unwrap();
    assert_ne!(a.to_bytes(), b.to_bytes());
    for t in ["they adore the app", "we despise the game"] {
        let (pa, pb) = (a.predict(t), b.predict(t));
        assert!(pb.probs[1] > pa.probs[1], "{t}: {pa:?} vs {pb:?}");
        // Same weights: the ratio of the other two classes is unchanged.
        let ra = pa.probs[0] / pa.probs[2];
        let rb = pb.probs[0] / pb.probs[2];
        assert!((ra / rb - 1.0).abs() < 1e-3, "{ra} vs {rb}");
    }
    let mut bad = small_config();
    assert!(bad.set("neutral_offset", "x").is_err());
    assert!(bad.set("no_such_key", "1").is_err());
    bad.set("neutral_offset", "NaN").unwrap();
    assert!(train_synthetic(&bad, 7).is_err());
}
