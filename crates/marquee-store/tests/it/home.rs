//! The home-page store (catalog snapshot, signals, feedback, rec log,
//! experiments, training runs) against every backend.

use marquee_domain::Thumb;
use marquee_store::home::{Click, FeedbackAction, HomeStore, Impression, SignalKind, TrainingRun};
use marquee_store::{CatalogStore, ImportRating, ImportTitle, StoreError};

both_backends!(
    catalog_signals_and_feedback,
    rec_log_experiments_and_training_runs
);

/// Two titles, one viewer (external id 7) who rated the first 4.5 stars.
async fn seed<S: CatalogStore>(s: &S) -> (i64, Vec<i64>) {
    let titles = vec![
        ImportTitle {
            external_id: 1,
            name: "Heat".into(),
            year: Some(1995),
            genres: vec!["Crime".into(), "(no genres listed)".into()],
        },
        ImportTitle {
            external_id: 2,
            name: "Up".into(),
            year: None,
            genres: vec![],
        },
    ];
    s.import_titles("movielens", &titles, 100).await.unwrap();
    s.import_viewers("movielens", &[7], "h", 100).await.unwrap();
    s.import_ratings(
        "movielens",
        &[ImportRating {
            external_user: 7,
            external_title: 1,
            stars: 4.5,
            at: 200,
        }],
    )
    .await
    .unwrap();
    s.refresh_title_stats().await.unwrap();
    let acc = s
        .credentials("viewer7@demo.marquee")
        .await
        .unwrap()
        .unwrap();
    let profile = s.profiles(acc.account.id).await.unwrap()[0].id;
    let mut ids: Vec<i64> = s
        .list_titles(&marquee_store::TitleQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    ids.sort();
    (profile, ids)
}

async fn catalog_signals_and_feedback<S: CatalogStore + HomeStore>(s: &S) {
    let (p, ids) = seed(s).await;
    let cat = s.home_catalog(0).await.unwrap();
    assert_eq!(cat.len(), 2);
    assert_eq!(cat[0].name, "Heat");
    assert_eq!(cat[0].genres, vec!["Crime"]);
    assert_eq!(cat[0].year, Some(1995));
    assert_eq!(cat[0].plays, 1);
    assert_eq!(cat[1].year, None);
    assert_eq!(s.views_since(150).await.unwrap(), vec![(ids[0], 200)]);
    assert!(s.views_since(201).await.unwrap().is_empty());
    assert_eq!(s.latest_view().await.unwrap(), Some(200));

    s.apply_feedback(
        p,
        &[
            (ids[1], FeedbackAction::Thumb(Some(Thumb::Down))),
            (ids[1], FeedbackAction::Hide),
        ],
        300,
    )
    .await
    .unwrap();
    // An unknown title fails the whole call: nothing of it is written.
    assert!(matches!(
        s.apply_feedback(
            p,
            &[
                (ids[0], FeedbackAction::Hide),
                (ids[1] + 1000, FeedbackAction::Hide)
            ],
            301
        )
        .await,
        Err(StoreError::NotFound { .. })
    ));
    let sig = s.profile_signals(p).await.unwrap();
    let kinds: Vec<(SignalKind, i64, Option<f64>)> =
        sig.iter().map(|x| (x.kind, x.title_id, x.value)).collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    assert!(kinds.contains(&(SignalKind::Thumb, ids[0], Some(2.0))));
    assert!(kinds.contains(&(SignalKind::Watched, ids[0], Some(4.5))));
    assert!(kinds.contains(&(SignalKind::Thumb, ids[1], Some(-1.0))));
    assert!(kinds.contains(&(SignalKind::Hidden, ids[1], None)));
    assert!(!kinds
        .iter()
        .any(|k| k.0 == SignalKind::Hidden && k.1 == ids[0]));

    // Liked by rating; the thumb-down title is excluded.
    s.apply_feedback(p, &[(ids[1], FeedbackAction::Thumb(Some(Thumb::Up)))], 400)
        .await
        .unwrap();
    let mut inter = s.training_interactions().await.unwrap();
    inter.sort_by_key(|x| x.1);
    assert_eq!(inter, vec![(p, ids[0], 1.0), (p, ids[1], 1.0)]);
    s.apply_feedback(
        p,
        &[
            (ids[1], FeedbackAction::Thumb(None)),
            (ids[1], FeedbackAction::Unhide),
        ],
        500,
    )
    .await
    .unwrap();
    assert_eq!(
        s.training_interactions().await.unwrap(),
        vec![(p, ids[0], 1.0)]
    );
    let sig = s.profile_signals(p).await.unwrap();
    assert!(!sig.iter().any(|x| x.title_id == ids[1]));
}

async fn rec_log_experiments_and_training_runs<S: CatalogStore + HomeStore>(s: &S) {
    let (p, ids) = seed(s).await;
    let e = s
        .create_experiment("exp", "row_order", "[\"a\",\"b\"]", 10)
        .await
        .unwrap();
    assert!(matches!(
        s.create_experiment("exp", "row_order", "[]", 11).await,
        Err(StoreError::Conflict { field: "name" })
    ));
    let imp = Impression {
        profile_id: p,
        surface: "similar",
        experiment: Some((e.id, "b".into())),
        rows: vec![("top".into(), vec![ids[0], ids[1]])],
        at: 20,
    };
    let click = Click {
        profile_id: p,
        title_id: ids[1],
        row_key: "top".into(),
        experiment: Some((e.id, "b".into())),
        at: 21,
    };
    let other = Impression {
        experiment: None,
        ..imp.clone()
    };
    s.log_rec_events(&[imp.clone(), other], std::slice::from_ref(&click))
        .await
        .unwrap();
    let log = s.experiment_log(e.id).await.unwrap();
    assert_eq!(log.impressions, vec![imp]);
    assert_eq!(log.clicks, vec![click]);
    assert!(log.plays.is_empty());
    s.stop_experiment(e.id, 30).await.unwrap();
    assert!(matches!(
        s.stop_experiment(e.id, 31).await,
        Err(StoreError::NotFound { .. })
    ));
    let ex = s.experiments().await.unwrap();
    assert_eq!((ex[0].running, ex[0].stopped_at), (false, Some(30)));

    let run = TrainingRun {
        id: 0,
        spec: "ease".into(),
        trigger: "manual".into(),
        started_at: 1,
        finished_at: 2,
        ok: false,
        users: 3,
        items: 4,
        interactions: 5,
        error: Some("boom".into()),
    };
    let id = s.record_training_run(&run).await.unwrap();
    let runs = s.training_runs(5).await.unwrap();
    assert_eq!(runs, vec![TrainingRun { id, ..run }]);
}
