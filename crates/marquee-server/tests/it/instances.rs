//! Two server instances on one PostgreSQL database: the live feeds
//! (continuity, listening, support) reach the other instance's subscribers
//! through `LISTEN/NOTIFY`. SQLite serves one process, so these run in the
//! PostgreSQL pass (`MARQUEE_TEST_POSTGRES`) and are skipped otherwise.

use crate::helpers::{now_ms, pg_admin_url, post, TestApp};
use marquee_domain::Role;
use marquee_server::support::Next;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn two() -> Option<(TestApp, TestApp)> {
    if pg_admin_url().is_none() {
        eprintln!("skipped: two instances need MARQUEE_TEST_POSTGRES");
        return None;
    }
    let a = TestApp::builder().demo().start().await;
    let b = a.sibling().await;
    assert!(a.state.fanout.is_active() && b.state.fanout.is_active());
    Some((a, b))
}

#[tokio::test]
async fn playback_events_reach_the_other_instance() {
    let Some((a, b)) = two().await else { return };
    let token = a.signup("two-tv@example.com").await;
    let (_, me) = crate::helpers::call(&a, reqwest::Method::GET, "/api/v1/me", &token, None).await;
    let pid = me["profiles"][0]["id"].as_i64().unwrap();
    let title = 1; // Toy Story, from the demo catalog
    let mut sub = b.state.events.subscribe(pid);
    let mut own = a.state.events.subscribe(pid);

    let (s, dev) = post(
        &a,
        "/api/v1/devices",
        &token,
        json!({"name": "Tablet", "kind": "tablet"}),
    )
    .await;
    assert!(s == 201 || s == 200, "{dev}");
    let dev = dev["id"].as_i64().unwrap();
    let (s, v) = post(
        &a,
        "/api/v1/playback/start",
        &token,
        json!({"title_id": title, "device_id": dev, "autoplay": false}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let session = v["play_session_id"].as_i64().unwrap();
    let (s, v) = post(
        &a,
        "/api/v1/playback/progress",
        &token,
        json!({"play_session_id": session, "position_ms": 123_000, "paused": false, "sent_at": now_ms()}),
    )
    .await;
    assert_eq!(s, 200, "{v}");

    // Instance B hears both, in order, exactly once; A's own subscriber too.
    for want in ["start", "progress"] {
        let e = tokio::time::timeout(WAIT, sub.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e.kind, want);
        assert_eq!(e.profile_id, pid);
        let mine = tokio::time::timeout(WAIT, own.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(mine.kind, want);
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.next())
            .await
            .is_err(),
        "an event arrived twice"
    );
    assert!(b.state.fanout.stats().received >= 2);
}

#[tokio::test]
async fn support_and_listening_events_reach_the_other_instance() {
    let Some((a, b)) = two().await else { return };
    let mut inbox = b.state.support.subscribe_staff();
    let mut dashboard = b.state.listening.events.subscribe();

    // A customer writes on instance A; the agent's inbox is on instance B.
    let customer = a.signup("two-chat@example.com").await;
    let (s, conv) = post(
        &a,
        "/api/v1/support/conversations",
        &customer,
        json!({"body": "The app logs me out on my phone"}),
    )
    .await;
    assert_eq!(s, 201, "{conv}");
    let conv_id = conv["conversation"]["id"].as_i64().unwrap();
    let mut kinds = Vec::new();
    while !kinds.contains(&"message") {
        match tokio::time::timeout(WAIT, inbox.next())
            .await
            .unwrap()
            .unwrap()
        {
            Next::Event(e) => {
                assert_eq!(e.conversation_id, conv_id);
                if e.kind == "message" {
                    let v: Value = serde_json::from_str(&e.staff_data).unwrap();
                    assert!(v.to_string().contains("logs me out"), "{v}");
                }
                kinds.push(e.kind);
            }
            Next::Resync => panic!("resync"),
        }
    }

    // Posts ingested on A refresh B's listening dashboard.
    let admin = a.login_as("two-admin@example.com", Role::Admin).await;
    let r = a
        .post_json(
            "/api/v1/listening/tokens",
            Some(&admin),
            &json!({"name": "feed"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let ingest: Value = r.json().await.unwrap();
    let ingest = ingest["token"].as_str().unwrap().to_string();
    let r = a
        .post_json(
            "/api/v1/posts",
            Some(&ingest),
            &json!([{"source": "test", "external_id": "two-1", "author": "@fan@x.social",
                     "text": "loving the new season", "created_at": now_ms()}]),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let e = tokio::time::timeout(WAIT, dashboard.recv())
        .await
        .unwrap()
        .unwrap();
    match e {
        marquee_server::listening::LiveEvent::Posts { inserted, .. } => assert_eq!(inserted, 1),
        other => panic!("{other:?}"),
    }
}

/// The scheduled retraining is a job of the job table: of two instances on
/// one database, exactly one trains; the other loads the model it shared.
/// (SQLite serialises the claims with its write lock, PostgreSQL with `FOR
/// UPDATE SKIP LOCKED`, so this runs on both backends.)
#[tokio::test]
async fn one_instance_runs_the_scheduled_retraining_the_other_loads_its_model() {
    use marquee_server::recs::{load_saved, refresh_catalog, run_retrain_job, RETRAIN_JOB};
    let mut config = crate::home::config();
    config.recs.retrain_interval_s = 3600;
    config.recs.train_on_start = false;
    config.recs.reload_check_s = 3600;
    let a = TestApp::builder().demo().config(config).start().await;
    let b = a.sibling().await;
    let spec = a.state.recs.config().model.clone();
    for app in [&a, &b] {
        refresh_catalog(&app.state).await.unwrap();
        assert!(app.state.recs.snapshot().primary().is_none());
    }
    // Make the job due now.
    let now = now_ms();
    let s = a.store();
    assert!(s
        .claim_job(RETRAIN_JOB, "setup", now, 0, 0)
        .await
        .unwrap()
        .is_some());
    assert!(s.finish_job(RETRAIN_JOB, "setup", 0, now).await.unwrap());

    let (ra, rb) = tokio::join!(run_retrain_job(&a.state), run_retrain_job(&b.state));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra ^ rb, "exactly one instance trains: a={ra} b={rb}");
    let runs = s.training_runs(10).await.unwrap();
    assert_eq!(runs.iter().filter(|r| r.trigger == "schedule").count(), 1);
    let job = s.job(RETRAIN_JOB).await.unwrap().unwrap();
    assert_eq!((job.attempts, job.locked_by.as_deref()), (0, None));
    assert!(
        job.last_ok_at.is_some() && job.run_at >= now + 3_600_000,
        "{job:?}"
    );
    // Not due again: nobody trains.
    assert!(!run_retrain_job(&a.state).await.unwrap());
    assert!(!run_retrain_job(&b.state).await.unwrap());

    let (trainer, other) = if ra { (&a, &b) } else { (&b, &a) };
    let shared = s
        .shared_model_at(&spec)
        .await
        .unwrap()
        .expect("a shared model");
    let served = |app: &TestApp| app.state.recs.snapshot().primary().map(|m| m.trained_at);
    assert_eq!(served(trainer), Some(shared));
    assert!(load_saved(&other.state).await.is_empty());
    assert_eq!(
        served(other),
        Some(shared),
        "the other instance serves the shared model"
    );
}
