//! The job table and shared models, run against every backend (see `common`).

use marquee_store::jobs::JobStore;

both_backends!(
    check_claim_finish_fail_and_lease,
    check_concurrent_claims_run_a_job_once,
    check_shared_models_keep_the_newest,
);

async fn check_claim_finish_fail_and_lease<S: JobStore>(s: &S) {
    // Created by the first claim, due at 1,000: not before.
    assert_eq!(s.claim_job("j", "a", 10, 100, 1_000).await.unwrap(), None);
    let j = s.job("j").await.unwrap().unwrap();
    assert_eq!((j.run_at, j.attempts, j.locked_by), (1_000, 0, None));
    // Due: one claimer holds it for its lease.
    assert_eq!(s.claim_job("j", "a", 1_000, 100, 0).await.unwrap(), Some(1));
    assert_eq!(s.claim_job("j", "b", 1_050, 100, 0).await.unwrap(), None);
    // A failure: retried at 2,000 (the caller's back-off), the attempt kept.
    assert!(!s.fail_job("j", "b", "not mine", 5).await.unwrap());
    assert!(s.fail_job("j", "a", "boom", 2_000).await.unwrap());
    let j = s.job("j").await.unwrap().unwrap();
    assert_eq!(
        (j.run_at, j.attempts, j.last_error.as_deref(), j.locked_by),
        (2_000, 1, Some("boom"), None)
    );
    assert_eq!(s.claim_job("j", "b", 1_999, 100, 0).await.unwrap(), None);
    assert_eq!(s.claim_job("j", "b", 2_000, 100, 0).await.unwrap(), Some(2));
    // B died holding it: after the lease, A takes it over; B's late finish
    // then changes nothing.
    assert_eq!(s.claim_job("j", "a", 2_099, 100, 0).await.unwrap(), None);
    assert_eq!(s.claim_job("j", "a", 2_100, 100, 0).await.unwrap(), Some(3));
    assert!(!s.finish_job("j", "b", 9_999, 2_150).await.unwrap());
    assert!(s.finish_job("j", "a", 5_000, 2_160).await.unwrap());
    let j = s.job("j").await.unwrap().unwrap();
    assert_eq!(
        (
            j.run_at,
            j.attempts,
            j.last_error,
            j.last_ok_at,
            j.locked_until
        ),
        (5_000, 0, None, Some(2_160), None)
    );
    assert!(s.job("other").await.unwrap().is_none());
}

/// Instances claiming a due job at once: exactly one runs it.
async fn check_concurrent_claims_run_a_job_once<S: JobStore + Clone + 'static>(s: &S) {
    for round in 0..20i64 {
        let name = format!("once-{round}");
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..6 {
            let s = s.clone();
            let name = name.clone();
            tasks.spawn(async move {
                s.claim_job(&name, &format!("w{w}"), 100, 60_000, 0)
                    .await
                    .unwrap()
            });
        }
        let mut won = 0;
        while let Some(r) = tasks.join_next().await {
            if r.unwrap().is_some() {
                won += 1;
            }
        }
        assert_eq!(won, 1, "round {round}: {won} instances ran the job");
    }
}

async fn check_shared_models_keep_the_newest<S: JobStore>(s: &S) {
    assert_eq!(s.shared_model_at("ease").await.unwrap(), None);
    assert!(s.shared_model("ease").await.unwrap().is_none());
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    s.put_shared_model("ease", 10, &big).await.unwrap();
    s.put_shared_model("ease", 5, b"older").await.unwrap();
    assert_eq!(s.shared_model_at("ease").await.unwrap(), Some(10));
    assert_eq!(s.shared_model("ease").await.unwrap(), Some((10, big)));
    s.put_shared_model("ease", 11, b"newer").await.unwrap();
    assert_eq!(
        s.shared_model("ease").await.unwrap(),
        Some((11, b"newer".to_vec()))
    );
}
