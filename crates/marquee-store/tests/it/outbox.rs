//! The webhook outbox, run against every backend (see `common`).

use crate::common;

use marquee_store::outbox::{OutboxEvent, OutboxStore};
use marquee_store::StoreError;
use std::collections::HashSet;

both_backends!(
    check_enqueue_claim_lease_and_outcomes,
    check_concurrent_claims_never_overlap,
);

fn event(name: &str, n: i64) -> OutboxEvent {
    OutboxEvent {
        event: name.into(),
        payload: format!("{{\"n\":{n}}}"),
    }
}

async fn check_enqueue_claim_lease_and_outcomes<S: OutboxStore>(s: &S) {
    let all = s
        .create_webhook("http://h/all", "k1", "*", 1)
        .await
        .unwrap();
    let some = s
        .create_webhook("http://h/some", "k2", "idea.status_changed idea.merged", 2)
        .await
        .unwrap();
    assert!(all.active);
    assert_eq!(
        s.webhooks()
            .await
            .unwrap()
            .iter()
            .map(|w| (w.id, w.events.as_str()))
            .collect::<Vec<_>>(),
        vec![(all.id, "*"), (some.id, "idea.status_changed idea.merged")]
    );

    // Subscribed by name (whole names only) or by '*'.
    assert_eq!(
        s.enqueue_event(&event("idea.status_changed", 1), 10)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.enqueue_event(&event("idea.merged", 2), 11).await.unwrap(),
        2
    );
    assert_eq!(
        s.enqueue_event(&event("idea.merge", 3), 12).await.unwrap(),
        1
    );
    assert_eq!(s.enqueue_event(&event("other", 4), 13).await.unwrap(), 1);

    // Nothing is due before its time.
    assert!(s.claim_deliveries(9, 1000, 10).await.unwrap().is_empty());
    // Due ones come oldest first, and are leased.
    let got = s.claim_deliveries(100, 1000, 10).await.unwrap();
    assert_eq!(got.len(), 6);
    let payloads: Vec<&str> = got.iter().map(|d| d.payload.as_str()).collect();
    assert_eq!(
        payloads,
        vec![
            "{\"n\":1}",
            "{\"n\":1}",
            "{\"n\":2}",
            "{\"n\":2}",
            "{\"n\":3}",
            "{\"n\":4}"
        ]
    );
    assert!(got.iter().all(|d| d.attempts == 0));
    let first = &got[0];
    assert_eq!(first.event, "idea.status_changed");
    assert!(["k1", "k2"].contains(&first.secret.as_str()));
    assert!(s.claim_deliveries(500, 1000, 10).await.unwrap().is_empty());
    // A crashed attempt comes back once the lease is over; `limit` is kept.
    let again = s.claim_deliveries(1100, 1000, 4).await.unwrap();
    assert_eq!(again.len(), 4);
    assert_eq!(
        again.iter().map(|d| d.id).collect::<Vec<_>>(),
        got[..4].iter().map(|d| d.id).collect::<Vec<_>>()
    );

    s.delivery_succeeded(got[0].id, 204, 1200).await.unwrap();
    s.delivery_failed(got[1].id, Some(500), "HTTP 500", Some(5000))
        .await
        .unwrap();
    s.delivery_failed(got[2].id, None, "connection refused", None)
        .await
        .unwrap();
    // Only the retried one comes back, at its retry time, with its attempt counted.
    let rest = s.claim_deliveries(10_000, 1000, 10).await.unwrap();
    let retried = rest.iter().find(|d| d.id == got[1].id).unwrap();
    assert_eq!(retried.attempts, 1);
    assert!(rest.iter().all(|d| d.id != got[0].id && d.id != got[2].id));

    let mut recs = s.deliveries(all.id, 10).await.unwrap();
    recs.extend(s.deliveries(some.id, 10).await.unwrap());
    let by_id = |id: i64| recs.iter().find(|r| r.id == id).unwrap().clone();
    let ok = by_id(got[0].id);
    assert_eq!(
        (
            ok.state.as_str(),
            ok.attempts,
            ok.last_status,
            ok.delivered_at
        ),
        ("delivered", 1, Some(204), Some(1200))
    );
    let retry = by_id(got[1].id);
    assert_eq!(
        (
            retry.state.as_str(),
            retry.last_error.as_deref(),
            retry.next_attempt_at
        ),
        // Retried at 5000, claimed again at 10,000 with a 1000 ms lease.
        ("pending", Some("HTTP 500"), 11_000)
    );
    let dead = by_id(got[2].id);
    assert_eq!(
        (dead.state.as_str(), dead.last_status, dead.attempts),
        ("failed", None, 1)
    );
    // Newest first.
    let mine = s.deliveries(all.id, 10).await.unwrap();
    assert_eq!(mine.len(), 4);
    assert!(mine.windows(2).all(|w| w[0].created_at >= w[1].created_at));

    s.delete_webhook(some.id).await.unwrap();
    assert!(matches!(
        s.delete_webhook(some.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(s.deliveries(some.id, 10).await.unwrap().is_empty());
    assert_eq!(s.webhooks().await.unwrap().len(), 1);
}

/// Several delivery workers (as on several server instances) claim at once:
/// every delivery is claimed exactly once.
async fn check_concurrent_claims_never_overlap<S: OutboxStore + Clone + 'static>(s: &S) {
    s.create_webhook("http://h/all", "k", "*", 1).await.unwrap();
    const N: i64 = 300;
    for i in 0..N {
        assert_eq!(s.enqueue_event(&event("e", i), i).await.unwrap(), 1);
    }
    let s = s.clone();
    let all = common::claim_concurrently(8, move || {
        let s = s.clone();
        async move {
            let got = s.claim_deliveries(N, 60_000, 7).await.unwrap();
            got.into_iter().map(|d| d.id).collect()
        }
    })
    .await;
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "a delivery was claimed twice");
    assert_eq!(all.len() as i64, N);
}
