//! Crate-level tests: synthetic data with known structure, model files, determinism.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::als::{self, AlsParams};
use crate::ease::{self, EaseParams};
use crate::experiment::ModelSpec;
use crate::knn::{KnnParams, KnnWeighting, Rp3Params};
use crate::model::{CategoryFilter, Filter, ItemCategories, Model, Recommender};
use crate::protocol::{evaluate, Rating, Split};
use crate::sparse::Csr;
use crate::{ItemIndex, RecsError};

/// 240 users in 6 taste clusters of 20 items each, plus a few globally popular items that
/// everybody may like; users pick 6-12 items of their own cluster.
fn synthetic(seed: u64) -> Vec<Rating> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for u in 0..240i64 {
        let cluster = u % 6;
        let n = rng.gen_range(6..=12);
        for _ in 0..n {
            let item = 100 + cluster * 20 + rng.gen_range(0..20);
            out.push(Rating {
                user: u,
                item,
                rating: 5.0,
            });
        }
        for _ in 0..2 {
            out.push(Rating {
                user: u,
                item: rng.gen_range(0..4),
                rating: 4.0,
            });
        }
    }
    out
}

fn specs() -> Vec<ModelSpec> {
    vec![
        ModelSpec::Knn(KnnParams {
            k: 30,
            weighting: KnnWeighting::Cosine { shrink: 0.0 },
        }),
        ModelSpec::Knn(KnnParams {
            k: 30,
            weighting: KnnWeighting::Bm25 { k1: 1.2, b: 0.75 },
        }),
        ModelSpec::Rp3(Rp3Params {
            alpha: 1.0,
            beta: 0.3,
            k: 50,
        }),
        ModelSpec::Ease(
            EaseParams {
                lambda: 20.0,
                ..Default::default()
            },
            None,
        ),
        ModelSpec::Ease(
            EaseParams {
                lambda: 20.0,
                user_exponent: 0.25,
                pop_exponent: 0.1,
                mainstream_exponent: 0.25,
                ..Default::default()
            },
            Some(30),
        ),
        ModelSpec::Als(AlsParams {
            factors: 8,
            regularization: 0.1,
            alpha: 4.0,
            iterations: 8,
            cg_steps: 3,
        }),
    ]
}

#[test]
fn every_model_beats_popularity_on_clustered_data() {
    let split = Split::build(&synthetic(1), 4.0).unwrap();
    let pop = ModelSpec::Pop.fit(&split.train, 0, &mut |_, _| {}).unwrap();
    let base = evaluate(&split, &pop).ndcg_at_10;
    for spec in specs() {
        let model = spec.fit(&split.train, 7, &mut |_, _| {}).unwrap();
        let m = evaluate(&split, &model);
        assert!(
            m.ndcg_at_10 > base + 0.05,
            "{}: NDCG {} vs popularity {}",
            spec.describe(),
            m.ndcg_at_10,
            base
        );
    }
}

#[test]
fn model_files_round_trip() {
    let split = Split::build(&synthetic(2), 4.0).unwrap();
    let mut all = specs();
    all.push(ModelSpec::Pop);
    all.push(ModelSpec::Blend(vec![
        (0.7, all[3].clone()),
        (0.3, all[2].clone()),
    ]));
    for spec in all {
        let model = spec.fit(&split.train, 3, &mut |_, _| {}).unwrap();
        let bytes = model.to_bytes();
        let back = Model::from_bytes(&bytes).unwrap();
        assert_eq!(back, model, "{}", spec.describe());
        let mut a = vec![0f32; model.n_items()];
        let mut b = vec![0f32; model.n_items()];
        let hist = [(3u32, 1.0f32), (10, 1.0)];
        model.score(&hist, &mut a);
        back.score(&hist, &mut b);
        assert_eq!(a, b);
    }
    let rec = Recommender {
        index: split.items.clone(),
        model: Model::Popularity(crate::Popularity::fit(&split.train)),
    };
    let mut sink = Vec::new();
    rec.write_to(&mut sink).unwrap();
    assert_eq!(Recommender::from_bytes(&sink).unwrap(), rec);
}

#[test]
fn corrupt_or_mismatched_files_are_rejected() {
    let split = Split::build(&synthetic(3), 4.0).unwrap();
    let model = ModelSpec::Ease(
        EaseParams {
            lambda: 10.0,
            ..Default::default()
        },
        None,
    )
    .fit(&split.train, 0, &mut |_, _| {})
    .unwrap();
    let bytes = model.to_bytes();
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    assert!(matches!(
        Model::from_bytes(&flipped),
        Err(RecsError::ChecksumMismatch { .. })
    ));
    assert!(matches!(
        Model::from_bytes(&bytes[..bytes.len() - 10]),
        Err(RecsError::Truncated(_))
    ));
    assert!(matches!(
        Model::from_bytes(b"not a model at all"),
        Err(RecsError::BadMagic)
    ));
    let mut version = bytes.clone();
    version[8] = 99;
    assert!(matches!(
        Model::from_bytes(&version),
        Err(RecsError::UnsupportedVersion { found: 99, .. })
    ));
    assert!(matches!(
        Recommender::from_bytes(&bytes),
        Err(RecsError::KindMismatch { .. })
    ));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(Model::from_bytes(&trailing).is_err());
    // The error message is readable.
    let msg = Model::from_bytes(&flipped).unwrap_err().to_string();
    assert!(msg.contains("checksum"), "{msg}");
}

#[test]
fn same_seed_same_scores_different_seed_different_scores() {
    let split = Split::build(&synthetic(4), 4.0).unwrap();
    let p = AlsParams {
        factors: 8,
        regularization: 0.1,
        alpha: 2.0,
        iterations: 4,
        cg_steps: 3,
    };
    let fit = |seed| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            als::fit(
                &split.train,
                &p,
                &mut StdRng::seed_from_u64(seed),
                &mut |_| {},
            )
        })
        .unwrap()
    };
    let (a, b, c) = (fit(5), fit(5), fit(6));
    assert_eq!(a.item_factors(), b.item_factors());
    assert_ne!(a.item_factors(), c.item_factors());
    let hist = [(1u32, 1.0f32), (7, 1.0), (20, 1.0)];
    let (mut sa, mut sb) = (vec![0f32; a.n_items()], vec![0f32; a.n_items()]);
    Model::Als(a).score(&hist, &mut sa);
    Model::Als(b).score(&hist, &mut sb);
    assert_eq!(sa, sb);
}

/// Naive Gauss-Jordan inverse in f64, for checking EASE.
fn inverse(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    for c in 0..n {
        let piv = (c..n)
            .max_by(|&x, &y| a[x * n + c].abs().total_cmp(&a[y * n + c].abs()))
            .unwrap();
        for k in 0..n {
            a.swap(c * n + k, piv * n + k);
            inv.swap(c * n + k, piv * n + k);
        }
        let d = a[c * n + c];
        for k in 0..n {
            a[c * n + k] /= d;
            inv[c * n + k] /= d;
        }
        for r in 0..n {
            if r != c {
                let f = a[r * n + c];
                for k in 0..n {
                    a[r * n + k] -= f * a[c * n + k];
                    inv[r * n + k] -= f * inv[c * n + k];
                }
            }
        }
    }
    inv
}

#[test]
fn ease_matches_closed_form_in_both_regimes() {
    let mut rng = StdRng::seed_from_u64(9);
    // (users, items): users < items takes the Woodbury path, users >= items the direct one.
    for (nu, ni) in [(12usize, 30usize), (60, 20)] {
        let mut t = Vec::new();
        for u in 0..nu as u32 {
            for i in 0..ni as u32 {
                if rng.gen_bool(0.3) {
                    t.push((u, i, 1.0));
                }
            }
        }
        let x = Csr::from_triplets(nu, ni, &t).unwrap();
        let lambda = 3.0f32;
        let model = ease::fit(
            &x,
            &EaseParams {
                lambda,
                ..Default::default()
            },
        )
        .unwrap();
        let mut g = vec![0f64; ni * ni];
        for u in 0..nu {
            let cols = x.row(u).0;
            for &a in cols {
                for &b in cols {
                    g[a as usize * ni + b as usize] += 1.0;
                }
            }
        }
        let counts = x.col_counts();
        let kept: Vec<usize> = (0..ni).filter(|&i| counts[i] > 0).collect();
        let m = kept.len();
        let mut gk = vec![0f64; m * m];
        for (a, &ia) in kept.iter().enumerate() {
            for (b, &ib) in kept.iter().enumerate() {
                gk[a * m + b] = g[ia * ni + ib] + if a == b { lambda as f64 } else { 0.0 };
            }
        }
        let p = inverse(gk, m);
        for (a, &ia) in kept.iter().enumerate() {
            for (b, &ib) in kept.iter().enumerate() {
                let want = if a == b {
                    0.0
                } else {
                    -p[a * m + b] / p[b * m + b]
                };
                let got = model.weight(ia as u32, ib as u32) as f64;
                assert!(
                    (want - got).abs() < 1e-4,
                    "({nu},{ni}) B[{ia},{ib}] {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn recommend_applies_filters_ties_and_explanations() {
    let split = Split::build(&synthetic(5), 4.0).unwrap();
    let model = ModelSpec::Ease(
        EaseParams {
            lambda: 20.0,
            ..Default::default()
        },
        None,
    )
    .fit(&split.train, 0, &mut |_, _| {})
    .unwrap();
    let n = model.n_items();
    let hist: Vec<(u32, f32)> = split.train.row(0).0.iter().map(|&c| (c, 1.0)).collect();
    let seen: Vec<u32> = hist.iter().map(|h| h.0).collect();
    let plain = model.recommend(
        &hist,
        &Filter {
            exclude_seen: true,
            ..Default::default()
        },
        10,
    );
    assert_eq!(plain.len(), 10);
    assert!(plain.iter().all(|r| !seen.contains(&r.item)));
    assert!(plain
        .windows(2)
        .all(|w| w[0].score > w[1].score || (w[0].score == w[1].score && w[0].item < w[1].item)));
    assert!(plain
        .iter()
        .all(|r| r.because.is_none_or(|b| seen.contains(&b))));
    assert!(plain.iter().any(|r| r.because.is_some()));
    // Exclude the best item; categories: item i has category i % 3; ask for {0, 2}.
    let excl = [plain[0].item];
    let cats = ItemCategories::new(&(0..n as u32).map(|i| vec![i % 3]).collect::<Vec<_>>());
    let any_of = [0u32, 2];
    let f = Filter {
        exclude_seen: true,
        exclude: &excl,
        categories: Some(CategoryFilter {
            item_categories: &cats,
            any_of: &any_of,
        }),
        allowed: None,
    };
    let filtered = model.recommend(&hist, &f, 10);
    assert!(!filtered.is_empty());
    assert!(filtered
        .iter()
        .all(|r| r.item != excl[0] && r.item % 3 != 1 && !seen.contains(&r.item)));
    // Without exclude_seen, seen items can come back.
    let with_seen = model.recommend(&hist, &Filter::default(), n);
    assert_eq!(with_seen.len(), n);
    // "More like this": neighbours of an item exist and exclude the item itself.
    let sim = model.similar(hist[0].0, 5);
    assert!(!sim.is_empty() && sim.iter().all(|s| s.0 != hist[0].0));
}

#[test]
fn item_index_maps_split_items() {
    let split = Split::build(&synthetic(6), 4.0).unwrap();
    let idx: &ItemIndex = &split.items;
    let ext = idx.external(0).unwrap();
    assert_eq!(idx.dense(ext), Some(0));
}

#[test]
fn bm25_defaults_are_implicits_recommender_defaults() {
    use crate::experiment::{parse_request, Request};
    assert_eq!(
        parse_request("knn-bm25").unwrap(),
        Request::Fixed(ModelSpec::Knn(KnnParams {
            k: 100,
            weighting: KnnWeighting::Bm25 { k1: 1.2, b: 0.75 },
        }))
    );
}

#[test]
fn pruning_keeps_the_largest_magnitudes_including_negative_weights() {
    use crate::itemitem::ItemItem;
    let mat = vec![
        0.0, 5.0, -7.0, 1.0, //
        0.5, 0.0, -0.1, 0.2, //
        0.0, 0.0, 0.0, 0.0, //
        -3.0, 2.0, 1.0, 0.0,
    ];
    let pruned = ItemItem::dense("ease", 4, vec![0, 1, 2, 3], mat).prune(2);
    let w = |h, j| pruned.weight(h, j);
    assert_eq!((w(0, 1), w(0, 2), w(0, 3)), (5.0, -7.0, 0.0));
    assert_eq!((w(1, 0), w(1, 3), w(1, 2)), (0.5, 0.2, 0.0));
    assert_eq!((w(3, 0), w(3, 1), w(3, 2)), (-3.0, 2.0, 0.0));
    assert_eq!(pruned.nnz(), 6);
}

#[test]
fn tuned_ease_family_is_served_pruned_unless_asked_dense() {
    use crate::experiment::{parse_request, Request, SERVED_TOP};
    assert_eq!(
        parse_request("wease").unwrap(),
        Request::Tuned("wease".into(), Some(SERVED_TOP))
    );
    assert_eq!(
        parse_request("ease:top=0").unwrap(),
        Request::Tuned("ease".into(), None)
    );
    assert_eq!(
        parse_request("edlae:top=200").unwrap(),
        Request::Tuned("edlae".into(), Some(200))
    );
    assert!(matches!(
        parse_request("ease:lambda=500").unwrap(),
        Request::Fixed(ModelSpec::Ease(_, None))
    ));
    // A fixed spec with top=0 is dense too, not pruned to nothing.
    assert!(matches!(
        parse_request("ease:lambda=500:top=0").unwrap(),
        Request::Fixed(ModelSpec::Ease(_, None))
    ));
    assert!(matches!(
        parse_request("ease:lambda=500:top=50").unwrap(),
        Request::Fixed(ModelSpec::Ease(_, Some(50)))
    ));
}

#[test]
fn because_of_sparse_models_matches_a_scan_of_the_history() {
    let split = Split::build(&synthetic(11), 4.0).unwrap();
    let dense = ease::fit(
        &split.train,
        &EaseParams {
            lambda: 20.0,
            ..Default::default()
        },
    )
    .unwrap();
    let pruned = dense.prune(15);
    for u in [0usize, 7, 100] {
        let mut history: Vec<(u32, f32)> = split.train.row(u).0.iter().map(|&c| (c, 1.0)).collect();
        history.reverse();
        history.push((history[0].0, 0.5)); // a duplicate with a lower weight
        let items: Vec<u32> = (0..split.items.len() as u32).collect();
        for m in [&dense, &pruned] {
            let got = m.because_many(&history, &items);
            for (&j, g) in items.iter().zip(&got) {
                let want = history
                    .iter()
                    .map(|&(h, w)| (h, w * m.weight(h, j)))
                    .filter(|e| e.1 > 0.0)
                    .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
                assert_eq!(*g, want, "user {u} item {j}");
            }
        }
        assert!(pruned
            .because_many(&history, &items)
            .iter()
            .any(Option::is_some));
    }
}

#[test]
fn popularity_debiasing_equals_scaling_the_scores_of_an_unscaled_fit() {
    // The wEASE tuner scans β on a β = 0 fit; that must rank as a fit with β.
    let split = Split::build(&synthetic(5), 4.0).unwrap();
    let base = EaseParams {
        lambda: 20.0,
        user_exponent: 0.25,
        mainstream_exponent: 0.25,
        ..Default::default()
    };
    let (plain, popularity) = ease::fit_with_popularity(&split.train, &base).unwrap();
    let scaled = ease::fit(
        &split.train,
        &EaseParams {
            pop_exponent: 0.3,
            ..base
        },
    )
    .unwrap();
    let n = split.items.len();
    let (plain, scaled) = (Model::ItemItem(plain), Model::ItemItem(scaled));
    for u in [0usize, 50, 200] {
        let history: Vec<(u32, f32)> = split.train.row(u).0.iter().map(|&c| (c, 1.0)).collect();
        let (mut a, mut b) = (vec![0f32; n], vec![0f32; n]);
        plain.score(&history, &mut a);
        scaled.score(&history, &mut b);
        let mut moved = false;
        for j in 0..n {
            let want = a[j] * popularity[j].powf(-0.3);
            assert!(
                (want - b[j]).abs() <= 1e-4 * (1.0 + b[j].abs()),
                "user {u} item {j}"
            );
            moved |= (a[j] - b[j]).abs() > 1e-3;
        }
        assert!(moved, "beta changed nothing for user {u}");
    }
}

#[test]
fn wease_tuning_averages_the_validation_folds_and_returns_its_best_trial() {
    use crate::experiment::tune;
    use crate::protocol::validation_folds_for;
    let split = Split::build(&synthetic(9), 4.0).unwrap();
    let folds = split.validation_folds(2).unwrap();
    assert_ne!(
        folds[0].train, folds[1].train,
        "the folds use different seeds"
    );
    let mut seen = 0;
    let t = tune("wease", &folds, 1, &mut |_, _| seen += 1).unwrap();
    assert_eq!(seen, t.trials.len());
    // 7 coarse λ values, then 3 λ x 4 γ x 4 δ x 4 β (one grid point repeats a coarse trial).
    assert_eq!(t.trials.len(), 7 + 3 * 4 * 4 * 4 - 1);
    let best = t.trials.iter().map(|(_, v)| *v).fold(f64::MIN, f64::max);
    assert_eq!(t.best_metrics.ndcg_at_10, best);
    assert!(t.best_metrics.ndcg_at_10 > 0.0);
    // The mean over the folds, not one fold: refit the winner on each fold.
    let per_fold: Vec<f64> = folds
        .iter()
        .map(|f| evaluate(f, &t.best.fit(&f.train, 1, &mut |_, _| {}).unwrap()).ndcg_at_10)
        .collect();
    let mean = per_fold.iter().sum::<f64>() / 2.0;
    assert!((mean - best).abs() < 2e-3, "{per_fold:?} vs {best}");
    assert_eq!(validation_folds_for(603), 5);
    assert_eq!(validation_folds_for(943), 4);
    assert_eq!(validation_folds_for(6040), 1);
    assert_eq!(validation_folds_for(0), 5);
}
