//! Ensembles: the members' probabilities are averaged, the file round-trips
//! (one member is the plain head file), and bad files or mixed encoders are
//! refused without a panic.

use marquee_encoder::{
    average, fine_tune, train_head, Encoder, Ensemble, Error, FineTuneConfig, Head, HeadConfig,
};
use marquee_sentiment::{Label, Prediction};

use crate::tiny::{self, Spec};

fn member(enc: &Encoder, texts: &[String], labels: &[Label], seed: u64) -> Head {
    let cfg = FineTuneConfig {
        layers: 1,
        epochs: 3,
        lr: 1e-2,
        head_lr: 1e-2,
        batch: 8,
        ..FineTuneConfig::default()
    };
    let states = enc.states_below(texts, 1).unwrap();
    fine_tune(enc, &states, labels, &cfg, seed, |_, _| {}).unwrap()
}

fn two() -> (Encoder, Vec<String>, Head, Head) {
    let (texts, labels) = tiny::labelled_texts();
    let enc = tiny::encoder(&Spec::default());
    let a = member(&enc, &texts, &labels, 1);
    let b = member(&enc, &texts, &labels, 2);
    (enc, texts, a, b)
}

#[test]
fn an_ensemble_averages_its_members_probabilities() {
    let (enc, texts, a, b) = two();
    assert_ne!(a.to_bytes(), b.to_bytes(), "the seeds made the same head");
    let ens = Ensemble::new(vec![a.clone(), b.clone()]).unwrap();
    assert_eq!(ens.members().len(), 2);
    assert_eq!(ens.top_layers(), 1);
    assert_eq!(ens.fingerprint(), enc.fingerprint());
    let pa = a.predict_texts(&enc, &texts).unwrap();
    let pb = b.predict_texts(&enc, &texts).unwrap();
    let pe = ens.predict_texts(&enc, &texts).unwrap();
    assert_eq!(pe.len(), texts.len());
    let mut differs = 0;
    for ((x, y), e) in pa.iter().zip(&pb).zip(&pe) {
        for c in 0..3 {
            let mean = (x.probs[c] + y.probs[c]) / 2.0;
            assert!((e.probs[c] - mean).abs() < 1e-6, "{e:?} vs {x:?} and {y:?}");
        }
        let best = (0..3).fold(0, |b, c| if e.probs[c] > e.probs[b] { c } else { b });
        assert_eq!(e.label.id(), best);
        assert!((e.score - (e.probs[2] - e.probs[0])).abs() < 1e-6);
        if (e.probs[0] - x.probs[0]).abs() > 1e-4 && (e.probs[0] - y.probs[0]).abs() > 1e-4 {
            differs += 1;
        }
    }
    assert!(differs > 0, "the average equals a member on every text");
    // One member predicts as the head itself.
    let one = Ensemble::from(a.clone())
        .predict_texts(&enc, &texts)
        .unwrap();
    assert_eq!(one, pa);
}

#[test]
fn plain_and_fine_tuned_members_average_alike() {
    // Plain heads share the encoder's embeddings (embedded once); a tuned
    // member runs its own layers. Either way each member predicts as alone.
    let (enc, texts, tuned, _) = two();
    let (_, labels) = tiny::labelled_texts();
    let emb = enc.embed_batch(&texts).unwrap();
    let plain = |seed| {
        train_head(
            &emb,
            &labels,
            &HeadConfig::default(),
            seed,
            enc.fingerprint(),
        )
        .unwrap()
    };
    let members = vec![plain(1), tuned, plain(2)];
    let each: Vec<Vec<Prediction>> = members
        .iter()
        .map(|m| m.predict_texts(&enc, &texts).unwrap())
        .collect();
    let ens = Ensemble::new(members).unwrap();
    assert_eq!(
        ens.predict_texts(&enc, &texts).unwrap(),
        average(&each).unwrap()
    );
}

#[test]
fn average_weighs_every_model_the_same() {
    let p = |probs: [f32; 3]| Prediction {
        label: Label::Neutral,
        score: 0.0,
        probs,
        top_tokens: Vec::new(),
    };
    let each = vec![
        vec![p([0.9, 0.05, 0.05])],
        vec![p([0.0, 0.1, 0.9])],
        vec![p([0.0, 0.1, 0.9])],
    ];
    let m = &average(&each).unwrap()[0];
    assert!((m.probs[0] - 0.3).abs() < 1e-6, "{:?}", m.probs);
    assert!((m.probs[1] - 0.25 / 3.0).abs() < 1e-6, "{:?}", m.probs);
    assert!((m.probs[2] - 1.85 / 3.0).abs() < 1e-6, "{:?}", m.probs);
    assert_eq!(m.label, Label::Positive);
    assert!((m.score - (1.85 / 3.0 - 0.3)).abs() < 1e-6);
    assert!(matches!(average(&[]), Err(Error::Data(_))));
    assert!(matches!(
        average(&[vec![p([1.0, 0.0, 0.0])], vec![]]),
        Err(Error::Data(_))
    ));
}

#[test]
fn the_file_round_trips_and_one_member_is_the_head_file() {
    let (enc, texts, a, b) = two();
    let ens = Ensemble::new(vec![a.clone(), b.clone()]).unwrap();
    let bytes = ens.to_bytes();
    assert_eq!(&bytes[..8], b"MQENSEM\0");
    let back = Ensemble::from_bytes(&bytes).unwrap();
    assert_eq!(back, ens);
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(
        back.predict_texts(&enc, &texts).unwrap(),
        ens.predict_texts(&enc, &texts).unwrap()
    );
    // An ensemble of one is the head's own file, and a head file loads.
    let single = Ensemble::new(vec![a.clone()]).unwrap();
    assert_eq!(single.to_bytes(), a.to_bytes());
    assert_eq!(
        Ensemble::from_bytes(&a.to_bytes()).unwrap().members(),
        std::slice::from_ref(&a)
    );
}

#[test]
fn bad_ensembles_are_refused() {
    let (enc, texts, a, b) = two();
    assert!(matches!(Ensemble::new(Vec::new()), Err(Error::BadHead(_))));
    assert!(matches!(
        Ensemble::new(vec![a.clone(); 17]),
        Err(Error::BadHead(_))
    ));
    // A head of another encoder cannot join, and the ensemble refuses an
    // encoder its heads were not trained on.
    let (labels_texts, labels) = tiny::labelled_texts();
    let other = tiny::encoder(&Spec {
        seed: 9,
        ..Spec::default()
    });
    let stranger = member(&other, &labels_texts, &labels, 1);
    let err = Ensemble::new(vec![a.clone(), stranger]).unwrap_err();
    assert!(
        matches!(&err, Error::Mismatch(m) if m.contains("head 2")),
        "{err}"
    );
    let ens = Ensemble::new(vec![a.clone(), b.clone()]).unwrap();
    assert!(matches!(
        ens.predict_texts(&other, &texts),
        Err(Error::Mismatch(_))
    ));
    assert!(matches!(ens.check_encoder(&other), Err(Error::Mismatch(_))));
    ens.check_encoder(&enc).unwrap();

    // Every truncation is an error, never a panic.
    let bytes = ens.to_bytes();
    for cut in [0, 3, 8, 12, 16, 20, 24, bytes.len() / 2, bytes.len() - 1] {
        assert!(Ensemble::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    let err = Ensemble::from_bytes(&trailing).unwrap_err();
    assert!(err.to_string().contains("trailing"), "{err}");
    // A count outside 2..=16, another version, a broken member.
    for n in [0u32, 1, 17, u32::MAX] {
        let mut b = bytes.clone();
        b[12..16].copy_from_slice(&n.to_le_bytes());
        assert!(
            matches!(Ensemble::from_bytes(&b), Err(Error::BadHead(_))),
            "{n}"
        );
    }
    let mut v2 = bytes.clone();
    v2[8..12].copy_from_slice(&2u32.to_le_bytes());
    let err = Ensemble::from_bytes(&v2).unwrap_err();
    assert!(err.to_string().contains("version 2"), "{err}");
    let mut broken = bytes.clone();
    let second = 16 + 8 + a.to_bytes().len() + 8;
    broken[second] ^= 0xff;
    let err = Ensemble::from_bytes(&broken).unwrap_err();
    assert!(err.to_string().contains("head 2 of 2"), "{err}");
    let mut huge = bytes;
    huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(Ensemble::from_bytes(&huge).is_err());
}
