//! The head learns a separable problem.

use marquee_encoder::{train_head, HeadConfig};
use marquee_sentiment::Label;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Three Gaussian clusters in 16 dimensions, L2-normalised like embeddings.
fn sample(n: usize, rng: &mut StdRng) -> (Vec<Vec<f32>>, Vec<Label>) {
    let centres: Vec<Vec<f32>> = (0..3)
        .map(|c| {
            (0..16)
                .map(|d| if d % 3 == c { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for i in 0..n {
        let c = i % 3;
        let mut v: Vec<f32> = centres[c]
            .iter()
            .map(|m| m + rng.gen_range(-0.35f32..0.35))
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        xs.push(v);
        ys.push(Label::from_id(c).unwrap());
    }
    (xs, ys)
}

#[test]
fn head_separates_clusters_and_scores_are_consistent() {
    let mut rng = StdRng::seed_from_u64(5);
    let (xs, ys) = sample(600, &mut rng);
    let head = train_head(&xs, &ys, &HeadConfig::default(), 1, "test").unwrap();
    let (tx, ty) = sample(300, &mut rng);
    let mut correct = 0;
    for (x, y) in tx.iter().zip(&ty) {
        let p = head.predict(x).unwrap();
        assert!((p.probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!((p.score - (p.probs[2] - p.probs[0])).abs() < 1e-6);
        correct += usize::from(p.label == *y);
    }
    let acc = correct as f64 / ty.len() as f64;
    assert!(acc > 0.95, "accuracy {acc}");
}

#[test]
fn untrainable_input_is_refused() {
    let cfg = HeadConfig::default();
    let none: Vec<Vec<f32>> = Vec::new();
    assert!(train_head(&none, &[], &cfg, 1, "x").is_err());
    assert!(train_head(
        &[vec![1.0f32], vec![1.0, 2.0]],
        &[Label::Positive, Label::Negative],
        &cfg,
        1,
        "x"
    )
    .is_err());
    assert!(train_head(&[vec![f32::NAN]], &[Label::Positive], &cfg, 1, "x").is_err());
    assert!(train_head(&[vec![1.0f32]], &[], &cfg, 1, "x").is_err());
    // Bad hyper-parameters are refused naming the field.
    for (cfg, want) in [
        (
            HeadConfig {
                lr: 0.0,
                ..cfg.clone()
            },
            "lr",
        ),
        (
            HeadConfig {
                lr: f32::NAN,
                ..cfg.clone()
            },
            "lr",
        ),
        (
            HeadConfig {
                l2: -0.5,
                ..cfg.clone()
            },
            "l2",
        ),
        (
            HeadConfig {
                balance: f32::INFINITY,
                ..cfg.clone()
            },
            "balance",
        ),
    ] {
        assert!(
            matches!(
                train_head(&[vec![1.0f32]], &[Label::Positive], &cfg, 1, "x"),
                Err(marquee_encoder::Error::Setting { field, .. }) if field == want
            ),
            "{cfg:?}"
        );
        assert!(cfg.validate().is_err());
    }
    assert!(cfg.validate().is_ok());
}
