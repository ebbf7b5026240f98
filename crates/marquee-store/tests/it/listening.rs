//! Social listening storage, run against every backend (see `common`).

use crate::common;

use marquee_domain::listening::{AlertStatus, LabelSource, NewAlert, NewPost, Sentiment};
use marquee_domain::textmatch::{about_idea, all_words, TextMatch};
use marquee_domain::{Millis, Role};
use marquee_store::listening::{ListeningStore, PostOrder, PostQuery};
use marquee_store::{CatalogStore, StoreError};

both_backends!(
    check_posts_dedupe_move_the_cursor_and_round_trip,
    check_full_text_matching_filters_listings_counts_and_series,
    check_alerts_queue_webhooks_atomically_and_move_through_states,
    check_large_batches_and_concurrent_overlapping_batches,
    check_handles_tokens_and_orders,
    check_concurrent_alert_webhook_claims_never_overlap,
    check_the_encoder_queue_relabels_newest_first_and_spares_staff_labels,
);

fn post(id: &str, author: &str, at: Millis) -> NewPost {
    NewPost {
        source: "test".into(),
        proposals: Vec::new(),
        external_id: id.into(),
        author: author.into(),
        text: format!("post {id}"),
        url: None,
        lang: None,
        created_at: at,
        sentiment: Sentiment::Negative,
        score: -0.5,
        top_tokens: vec![("bad".into(), 1.5)],
        topics: vec!["price".into(), "app".into()],
        brands: vec![],
    }
}

async fn check_posts_dedupe_move_the_cursor_and_round_trip<S: ListeningStore>(s: &S) {
    let batch = vec![
        post("1", "@a@x", 1000),
        post("2", "@b@x", 2000),
        post("1", "@a@x", 1000),
    ];
    let (c, ids) = s
        .insert_posts(&batch, Some(("conn", "42")), 5)
        .await
        .unwrap();
    assert_eq!((c.inserted, c.duplicates), (2, 1));
    assert!(ids[0].is_some() && ids[1].is_some() && ids[2].is_none());
    assert_eq!(
        s.connector_cursor("conn").await.unwrap().as_deref(),
        Some("42")
    );
    let (c, _) = s
        .insert_posts(&batch[..2], Some(("conn", "43")), 6)
        .await
        .unwrap();
    assert_eq!((c.inserted, c.duplicates), (0, 2));
    assert_eq!(
        s.connector_cursor("conn").await.unwrap().as_deref(),
        Some("43")
    );
    assert_eq!(s.connector_cursor("other").await.unwrap(), None);
    let all = s
        .list_posts(&PostQuery {
            topic: Some("app".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].topics, vec!["price", "app"]);
    assert_eq!(all[0].top_tokens, vec![("bad".to_string(), 1.5)]);
    assert_eq!(all[0].ingested_at, 5);
    assert_eq!(all[0].created_at, 2000);
    assert_eq!(all[0].score, -0.5);
    // LIKE wildcards in a topic filter match literally.
    let none = s
        .count_posts(&PostQuery {
            topic: Some("pr%".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(none, 0);
    let b = s
        .post_series(0, 4000, 1000, Some("price"), None, None)
        .await
        .unwrap();
    assert_eq!(
        b.iter().map(|b| (b.start, b.total)).collect::<Vec<_>>(),
        vec![(1000, 1), (2000, 1)]
    );
    assert_eq!(b[0].negative, 1);
    assert_eq!(b[0].positive, 0);
    assert!((b[0].score_sum + 0.5).abs() < 1e-9);
    // Fetched by id in the order asked, unknown ids skipped.
    let (a, bb) = (ids[0].unwrap(), ids[1].unwrap());
    let got: Vec<i64> = s
        .posts_by_id(&[bb, 999_999, a])
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(got, vec![bb, a]);
    assert!(s.posts_by_id(&[]).await.unwrap().is_empty());
}

async fn check_full_text_matching_filters_listings_counts_and_series<S: ListeningStore>(s: &S) {
    let texts = [
        "Offline downloads on the TV would be great",
        "my tv app crashed",
        "Download limit again?!",
        "\"offline\" OR *quotes* are just words",
    ];
    let batch: Vec<NewPost> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| NewPost {
            text: t.to_string(),
            ..post(&i.to_string(), "@a@x", 1000 * (i as i64 + 1))
        })
        .collect();
    s.insert_posts(&batch, None, 9).await.unwrap();
    let idea = about_idea("Offline downloads for the TV app", &["downloads".into()]).unwrap();
    let q = PostQuery {
        matching: Some(idea.clone()),
        limit: 10,
        ..Default::default()
    };
    let got: Vec<String> = s
        .list_posts(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.text)
        .collect();
    assert_eq!(got, vec![texts[2].to_string(), texts[0].to_string()]);
    assert_eq!(s.count_posts(&q).await.unwrap(), 2);
    // The store agrees with the pure rule.
    for t in texts {
        assert_eq!(idea.matches(t), got.iter().any(|g| g == t), "{t}");
    }
    let b = s
        .post_series(0, 10_000, 10_000, None, None, Some(&idea))
        .await
        .unwrap();
    assert_eq!(b.iter().map(|b| b.total).sum::<i64>(), 2);
    // Query syntax typed into a search box is just words.
    let q = PostQuery {
        matching: all_words("\"offline\" OR"),
        ..Default::default()
    };
    assert_eq!(s.count_posts(&q).await.unwrap(), 1);
    // Every word must appear, each as a prefix.
    let q = PostQuery {
        matching: all_words("TV cra"),
        ..Default::default()
    };
    assert_eq!(s.count_posts(&q).await.unwrap(), 1);
    // tsquery/FTS5 operators in a term are stripped, not interpreted.
    let q = PostQuery {
        matching: Some(TextMatch {
            groups: vec![vec!["tv:*|!x".into()]],
        }),
        ..Default::default()
    };
    assert_eq!(s.count_posts(&q).await.unwrap(), 0);
    // An empty match matches nothing.
    let q = PostQuery {
        matching: Some(TextMatch { groups: vec![] }),
        ..Default::default()
    };
    assert_eq!(s.count_posts(&q).await.unwrap(), 0);
    assert!(s
        .post_series(0, 10_000, 1000, None, None, q.matching.as_ref())
        .await
        .unwrap()
        .is_empty());
}

async fn check_alerts_queue_webhooks_atomically_and_move_through_states<
    S: ListeningStore + CatalogStore,
>(
    s: &S,
) {
    let a = NewAlert {
        series: "price".into(),
        kind: "volume".into(),
        window: "15m".into(),
        window_start: 0,
        window_end: 900_000,
        observed: 50.0,
        expected: 5.0,
        z: 9.0,
        posts: 50,
        terms: vec![("hike".into(), 3.2)],
        example_post_ids: vec![],
    };
    let hooks = vec![(
        "http://h/1".to_string(),
        "{\"id\":\"{{alert_id}}\"}".to_string(),
    )];
    let alert = s.create_alert(&a, &hooks, 10).await.unwrap();
    assert_eq!(alert.window, "15m");
    assert_eq!(alert.terms, vec![("hike".to_string(), 3.2)]);
    let due = s.claim_webhooks(10, 1_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    // Claimed: hidden from every other claimer until the lease runs out.
    assert!(s.claim_webhooks(10, 1_000, 10).await.unwrap().is_empty());
    assert!(s.claim_webhooks(1_009, 1_000, 10).await.unwrap().is_empty());
    assert_eq!(due[0].body, format!("{{\"id\":\"{}\"}}", alert.id));
    s.webhook_failed(due[0].id, "HTTP 500", Some(100), 11)
        .await
        .unwrap();
    assert!(s.claim_webhooks(50, 1_000, 10).await.unwrap().is_empty());
    assert_eq!(s.next_webhook_at().await.unwrap(), Some(100));
    s.webhook_delivered(due[0].id, 101).await.unwrap();
    assert_eq!(s.next_webhook_at().await.unwrap(), None);
    assert_eq!(s.webhook_outbox(5).await.unwrap()[0].attempts, 2);
    let second = s.create_alert(&a, &hooks, 20).await.unwrap();
    let due = s.claim_webhooks(20, 1_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    s.webhook_failed(due[0].id, "gone", None, 21).await.unwrap();
    assert_eq!(s.next_webhook_at().await.unwrap(), None);
    assert_eq!(s.webhook_outbox(5).await.unwrap()[0].dead_at, Some(21));
    let agent = common::account(s, "agent@example.com", Role::Agent).await;
    let acked = s
        .set_alert_status(alert.id, AlertStatus::Acknowledged, agent, 20)
        .await
        .unwrap();
    assert_eq!(
        (acked.status, acked.acknowledged_by),
        (AlertStatus::Acknowledged, Some(agent))
    );
    assert!(matches!(
        s.set_alert_status(alert.id, AlertStatus::Acknowledged, agent, 21)
            .await,
        Err(StoreError::Limit { .. })
    ));
    assert!(matches!(
        s.set_alert_status(99_999, AlertStatus::Resolved, agent, 21)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.set_alert_status(alert.id, AlertStatus::Open, agent, 21)
            .await,
        Err(StoreError::Limit { .. })
    ));
    let resolved = s
        .set_alert_status(alert.id, AlertStatus::Resolved, agent, 22)
        .await
        .unwrap();
    assert_eq!(resolved.resolved_at, Some(22));
    let open = s.list_alerts(Some(AlertStatus::Open), 10).await.unwrap();
    assert_eq!(
        open.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![second.id]
    );
    assert_eq!(s.list_alerts(None, 10).await.unwrap().len(), 2);
    assert_eq!(s.alert(second.id).await.unwrap().unwrap().z, 9.0);
}

async fn check_large_batches_and_concurrent_overlapping_batches<
    S: ListeningStore + Clone + 'static,
>(
    s: &S,
) {
    // More than one chunk, with a duplicate in another chunk.
    let mut big: Vec<NewPost> = (0..2500)
        .map(|i| post(&format!("big{i}"), "@a@x", 1_000 + i))
        .collect();
    big.push(post("big7", "@a@x", 5));
    let (c, ids) = s.insert_posts(&big, None, 1).await.unwrap();
    assert_eq!((c.inserted, c.duplicates), (2500, 1));
    assert!(ids[..2500].iter().all(Option::is_some));
    assert!(ids[2500].is_none());
    let distinct: std::collections::HashSet<_> = ids.iter().flatten().collect();
    assert_eq!(distinct.len(), 2500);

    // Several connectors deliver overlapping posts at once, in different
    // orders: each post is stored once and no batch fails.
    let base: Vec<NewPost> = (0..400)
        .map(|i| post(&format!("c{i}"), "@b@x", 10_000 + i))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..6usize {
        let s = s.clone();
        let mut mine = base.clone();
        if k % 2 == 1 {
            mine.reverse();
        }
        mine.rotate_left(k * 37);
        tasks.spawn(async move { s.insert_posts(&mine, None, 2).await.unwrap().0 });
    }
    let mut inserted = 0;
    while let Some(r) = tasks.join_next().await {
        let c = r.unwrap();
        assert_eq!(c.inserted + c.duplicates, 400);
        inserted += c.inserted;
    }
    assert_eq!(inserted, 400);
    assert_eq!(
        s.count_posts(&PostQuery {
            from: Some(10_000),
            ..Default::default()
        })
        .await
        .unwrap(),
        400
    );

    // A NUL from outside does not fail the batch, and the post still dedupes.
    let nul = NewPost {
        text: "a\0b".into(),
        external_id: "n\0l".into(),
        ..post("x", "@a@x", 3)
    };
    let (c, _) = s
        .insert_posts(std::slice::from_ref(&nul), None, 3)
        .await
        .unwrap();
    assert_eq!(c.inserted, 1);
    let (c, ids) = s.insert_posts(&[nul], None, 4).await.unwrap();
    assert_eq!((c.inserted, c.duplicates, ids[0]), (0, 1, None));
}

async fn check_handles_tokens_and_orders<S: ListeningStore + CatalogStore>(s: &S) {
    // Ingest tokens: stored by hash, revocable, hash unique.
    let t = s.create_ingest_token("ci", "h1", None, 5).await.unwrap();
    assert!(matches!(
        s.create_ingest_token("again", "h1", None, 6).await,
        Err(StoreError::Conflict { field: "token" })
    ));
    s.create_ingest_token("two", "h2", None, 7).await.unwrap();
    assert_eq!(
        s.ingest_tokens()
            .await
            .unwrap()
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        vec!["two", "ci"]
    );
    assert_eq!(
        s.ingest_token_by_hash("h1").await.unwrap().map(|t| t.id),
        Some(t.id)
    );
    let r = s.revoke_ingest_token(t.id, 8).await.unwrap();
    assert_eq!(r.revoked_at, Some(8));
    assert_eq!(
        s.revoke_ingest_token(t.id, 9).await.unwrap().revoked_at,
        Some(8)
    );
    assert!(s.ingest_token_by_hash("h1").await.unwrap().is_none());
    assert!(matches!(
        s.revoke_ingest_token(99_999, 9).await,
        Err(StoreError::NotFound { .. })
    ));

    // Handles claim past posts and later ones; another account cannot take them.
    let alice = common::account(s, "alice@x.com", Role::Agent).await;
    let bob = common::account(s, "bob@x.com", Role::Agent).await;
    s.insert_posts(
        &[post("1", "@al@x", 1000), post("2", "@other@x", 2000)],
        None,
        1,
    )
    .await
    .unwrap();
    assert_eq!(s.link_handle(alice, "@al@x", 10).await.unwrap(), 1);
    assert_eq!(s.link_handle(alice, "@al@x", 11).await.unwrap(), 1);
    assert!(matches!(
        s.link_handle(bob, "@al@x", 12).await,
        Err(StoreError::Conflict { field: "handle" })
    ));
    s.insert_posts(&[post("3", "@al@x", 3000)], None, 13)
        .await
        .unwrap();
    let mine = |id| PostQuery {
        account_id: Some(id),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(s.count_posts(&mine(alice)).await.unwrap(), 2);
    for i in 0..9 {
        s.link_handle(alice, &format!("@h{i}@x"), 14).await.unwrap();
    }
    assert!(matches!(
        s.link_handle(alice, "@h10@x", 15).await,
        Err(StoreError::Limit {
            field: "handle",
            ..
        })
    ));
    assert_eq!(s.handles(alice).await.unwrap().len(), 10);
    assert_eq!(s.handles(alice).await.unwrap()[0], "@al@x");
    s.unlink_handle(alice, "@al@x").await.unwrap();
    assert_eq!(s.count_posts(&mine(alice)).await.unwrap(), 0);
    assert!(matches!(
        s.unlink_handle(alice, "@al@x").await,
        Err(StoreError::NotFound { .. })
    ));

    // Orders, sources, texts, minute counts.
    let mut p = post("4", "@z@x", 60_000 * 5 + 1);
    p.score = 0.9;
    p.sentiment = Sentiment::Positive;
    p.source = "api".into();
    p.topics = vec![];
    s.insert_posts(&[p], None, 20).await.unwrap();
    let by = |order| PostQuery {
        order,
        limit: 1,
        ..Default::default()
    };
    assert_eq!(
        s.list_posts(&by(PostOrder::MostPositive)).await.unwrap()[0].external_id,
        "4"
    );
    assert_eq!(
        s.list_posts(&by(PostOrder::Newest)).await.unwrap()[0].external_id,
        "4"
    );
    assert_eq!(
        s.list_posts(&PostQuery {
            offset: 1,
            ..by(PostOrder::Newest)
        })
        .await
        .unwrap()[0]
            .external_id,
        "3"
    );
    assert_eq!(
        s.post_sources().await.unwrap(),
        vec!["api".to_string(), "test".to_string()]
    );
    assert_eq!(s.latest_post_time().await.unwrap(), Some(60_000 * 5 + 1));
    let texts = s.post_texts(0, 10_000, Some("price"), 10).await.unwrap();
    assert_eq!(texts.len(), 3);
    assert_eq!(texts[0], ("post 3".to_string(), Sentiment::Negative));
    let m = s.minute_counts(0).await.unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!((m[0].minute, m[0].negative, m[0].total), (0, 3, 3));
    assert_eq!(m[0].topics, vec!["price", "app"]);
    assert_eq!((m[1].minute, m[1].negative, m[1].total), (300_000, 0, 1));
    assert!(m[1].topics.is_empty());
    let pos = s
        .count_posts(&PostQuery {
            sentiment: Some(Sentiment::Positive),
            source: Some("api".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(pos, 1);
}

/// Alert deliverers on several instances claim at once: every delivery is
/// claimed exactly once.
async fn check_concurrent_alert_webhook_claims_never_overlap<
    S: ListeningStore + Clone + 'static,
>(
    s: &S,
) {
    let hooks = vec![("http://h/1".to_string(), "{}".to_string())];
    const N: i64 = 120;
    for i in 0..N {
        let a = NewAlert {
            series: "all".into(),
            kind: "volume".into(),
            window: "15m".into(),
            window_start: i,
            window_end: i + 1,
            observed: 1.0,
            expected: 1.0,
            z: 1.0,
            posts: 1,
            terms: vec![],
            example_post_ids: vec![],
        };
        s.create_alert(&a, &hooks, i).await.unwrap();
    }
    let s = s.clone();
    let all = common::claim_concurrently(6, move || {
        let s = s.clone();
        async move {
            let got = s.claim_webhooks(N, 60_000, 7).await.unwrap();
            got.into_iter().map(|d| d.id).collect()
        }
    })
    .await;
    let distinct: std::collections::HashSet<i64> = all.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "an alert delivery was claimed twice"
    );
    assert_eq!(all.len() as i64, N);
}

async fn check_the_encoder_queue_relabels_newest_first_and_spares_staff_labels<
    S: ListeningStore + CatalogStore,
>(
    s: &S,
) {
    let batch: Vec<NewPost> = (1..=4)
        .map(|i| post(&format!("q{i}"), "@a@x", i * 1000))
        .collect();
    let (_, ids) = s.insert_posts(&batch, None, 5).await.unwrap();
    let ids: Vec<i64> = ids.into_iter().map(Option::unwrap).collect();
    assert_eq!(s.encoder_queue_len().await.unwrap(), 0);
    assert!(s.queued_for_encoder(10).await.unwrap().is_empty());

    // Queued twice, kept once.
    s.queue_for_encoder(&ids[..3], 10).await.unwrap();
    s.queue_for_encoder(&ids[1..3], 11).await.unwrap();
    assert_eq!(s.encoder_queue_len().await.unwrap(), 3);
    let queued = s.queued_for_encoder(2).await.unwrap();
    assert_eq!(
        queued,
        vec![
            (ids[2], "post q3".to_string()),
            (ids[1], "post q2".to_string())
        ]
    );

    // Staff corrected one meanwhile: the encoder's label does not replace it.
    let agent = common::account(s, "agent@x.org", Role::Agent).await;
    s.correct_sentiment(ids[1], Sentiment::Neutral, agent, 20)
        .await
        .unwrap();
    let moved = s
        .finish_encoder_batch(
            &[
                (ids[2], Sentiment::Positive, 0.8),
                (ids[1], Sentiment::Positive, 0.7),
            ],
            &[ids[2], ids[1]],
        )
        .await
        .unwrap();
    assert_eq!(moved, 1);
    let now = s.posts_by_id(&ids[..3]).await.unwrap();
    assert_eq!(
        now.iter()
            .map(|p| (p.sentiment, p.labelled_by))
            .collect::<Vec<_>>(),
        vec![
            (Sentiment::Negative, LabelSource::Fast),
            (Sentiment::Neutral, LabelSource::Staff),
            (Sentiment::Positive, LabelSource::Encoder),
        ]
    );
    assert_eq!(
        s.queued_for_encoder(10).await.unwrap(),
        vec![(ids[0], "post q1".to_string())]
    );
    // A post given up on (no label) leaves the queue as it was.
    assert_eq!(s.finish_encoder_batch(&[], &[ids[0]]).await.unwrap(), 0);
    assert_eq!(s.encoder_queue_len().await.unwrap(), 0);
    assert_eq!(
        s.posts_by_id(&ids[..1]).await.unwrap()[0].labelled_by,
        LabelSource::Fast
    );
}
