//! The in-memory read caches (sessions, per-profile signals, continuity and
//! pages) never serve what this server has changed: every write path
//! invalidates them at once; the time to live bounds writes by another process.

use crate::helpers::{get, now_ms, post, TestApp};
use crate::home::{demo_login, feedback, home, ids_of, rows, trained_demo};
use marquee_domain::{Clock, ManualClock, Role, Thumb};
use marquee_server::recs::page::{self, Scored};
use marquee_server::Config;
use marquee_store::home::FeedbackAction;
use serde_json::{json, Value};
use std::sync::Arc;

fn top_pick(page: &Value, skip: &[i64]) -> i64 {
    rows(page)
        .iter()
        .find(|r| r["key"] == "top_picks")
        .expect("a Top Picks row")["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title_id"].as_i64().unwrap())
        .find(|id| !skip.contains(id))
        .expect("a pick")
}

#[tokio::test]
async fn a_cached_page_is_invalidated_by_feedback_hide_and_playback_progress() {
    let app = trained_demo().await;
    let (token, pid) = demo_login(&app, 1).await;
    let cache = &app.state.recs.cache;

    // Two loads, nothing written in between: the second is the cached page.
    let first = home(&app, &token, pid).await;
    let before = cache.stats();
    let again = home(&app, &token, pid).await;
    let after = cache.stats();
    assert_eq!(first, again);
    assert_eq!(after.page_hits, before.page_hits + 1, "{after:?}");
    assert_eq!(after.page_misses, before.page_misses, "{after:?}");

    // Thumbs down: gone from the very next page, which is generated anew.
    let down = top_pick(&again, &[]);
    let r = feedback(
        &app,
        &token,
        pid,
        json!([{"title_id": down, "action": "down"}]),
    )
    .await;
    assert_eq!(r.status(), 200);
    let misses = cache.stats().page_misses;
    let page = home(&app, &token, pid).await;
    assert_eq!(cache.stats().page_misses, misses + 1);
    assert!(!ids_of(&page).contains(&down), "thumbed-down title shown");

    // Hide.
    let hidden = top_pick(&page, &[]);
    let r = feedback(
        &app,
        &token,
        pid,
        json!([{"title_id": hidden, "action": "hide"}]),
    )
    .await;
    assert_eq!(r.status(), 200);
    let page = home(&app, &token, pid).await;
    assert!(!ids_of(&page).contains(&hidden), "hidden title shown");
    // The recommendations API reads the same (invalidated) signals.
    let recs = get(
        &app,
        &format!("/api/v1/profiles/{pid}/recommendations?n=50"),
        &token,
    )
    .await;
    for i in recs["items"].as_array().unwrap() {
        let id = i["title_id"].as_i64().unwrap();
        assert!(id != hidden && id != down, "{id} recommended");
    }

    // A write straight through the store (no HTTP handler) invalidates too.
    let direct = top_pick(&page, &[]);
    app.store()
        .set_feedback(pid, direct, Some(Thumb::Down), now_ms())
        .await
        .unwrap();
    let page = home(&app, &token, pid).await;
    assert!(!ids_of(&page).contains(&direct), "store write not seen");

    // Playback progress: the title moves to Continue Watching at once (and only
    // there). Playing needs a selected profile: selecting it changes the
    // session, which the session cache must see as well.
    let (s, v) = post(
        &app,
        &format!("/api/v1/profiles/{pid}/select"),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, dev) = post(
        &app,
        "/api/v1/devices",
        &token,
        json!({"name": "TV", "kind": "tv"}),
    )
    .await;
    assert!(s == 200 || s == 201, "{dev}");
    let playing = top_pick(&page, &[]);
    let (s, started) = post(
        &app,
        "/api/v1/playback/start",
        &token,
        json!({"title_id": playing, "device_id": dev["id"], "autoplay": false}),
    )
    .await;
    assert_eq!(s, 201, "{started}");
    let page = home(&app, &token, pid).await;
    assert!(
        !rows(&page).iter().any(|r| r["key"] == "continue_watching"),
        "nothing watched yet"
    );
    let (s, ack) = post(
        &app,
        "/api/v1/playback/progress",
        &token,
        json!({"play_session_id": started["play_session_id"], "position_ms": 1_200_000,
               "paused": false, "sent_at": now_ms()}),
    )
    .await;
    assert_eq!(s, 200, "{ack}");
    let page = home(&app, &token, pid).await;
    let cw = rows(&page)
        .iter()
        .find(|r| r["key"] == "continue_watching")
        .expect("a Continue Watching row after progress");
    assert_eq!(cw["items"][0]["title_id"].as_i64(), Some(playing));
    let shown = ids_of(&page);
    assert_eq!(
        shown.iter().filter(|&&id| id == playing).count(),
        1,
        "the title in progress is shown once, in Continue Watching"
    );
}

#[tokio::test]
async fn cached_sessions_are_revoked_at_once() {
    let app = TestApp::builder().start().await;
    // Log-out.
    let token = app.signup("cache-viewer@example.com").await;
    for _ in 0..2 {
        assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), 200);
    }
    let r = app
        .req(reqwest::Method::POST, "/api/v1/auth/logout", Some(&token))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), 401);

    // A role change takes effect on the next request.
    let admin = app.login_as("cache-admin@example.com", Role::Admin).await;
    assert_eq!(
        app.get("/api/v1/staff/accounts", Some(&admin))
            .await
            .status(),
        200
    );
    let me = get(&app, "/api/v1/me", &admin).await;
    let id = me["account"]["id"].as_i64().expect("the account id");
    app.store().set_role(id, Role::Viewer).await.unwrap();
    assert_eq!(
        app.get("/api/v1/staff/accounts", Some(&admin))
            .await
            .status(),
        403
    );

    // Revoking every session of an account.
    let other = app.login("cache-admin@example.com").await;
    assert_eq!(app.get("/api/v1/me", Some(&other)).await.status(), 200);
    app.store().delete_account_sessions(id).await.unwrap();
    assert_eq!(app.get("/api/v1/me", Some(&other)).await.status(), 401);
    assert_eq!(app.get("/api/v1/me", Some(&admin)).await.status(), 401);
}

#[tokio::test]
async fn the_time_to_live_bounds_writes_by_another_process() {
    let clock = Arc::new(ManualClock::new(now_ms()));
    let mut config = Config::default();
    config.recs.train_on_start = false;
    config.recs.cache_ttl_s = 60;
    config.auth.session_cache_s = 30;
    let app = TestApp::builder()
        .demo()
        .config(config)
        .clock(clock.clone())
        .start()
        .await;
    let token = app.signup("cache-ttl@example.com").await;
    let me = get(&app, "/api/v1/me", &token).await;
    let pid = me["profiles"][0]["id"].as_i64().expect("a profile");
    let page = home(&app, &token, pid).await;
    let popular = ids_of(&page)[0];

    // Another process (a second connection pool on the same file, with its own
    // change counters) hides a title and revokes the session.
    let other = marquee_store::connect(&app.state.config.database_url(), 1)
        .await
        .unwrap();
    other
        .apply_feedback(pid, &[(popular, FeedbackAction::Hide)], clock.now_ms())
        .await
        .unwrap();
    let account = me["account"]["id"].as_i64().expect("the account id");
    other.delete_account_sessions(account).await.unwrap();

    // Within the time to live this server may still answer from memory; past it,
    // it must not.
    clock.advance(31_000);
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), 401);
    let token = app.login("cache-ttl@example.com").await;
    clock.advance(30_000);
    let page = home(&app, &token, pid).await;
    assert!(
        !ids_of(&page).contains(&popular),
        "hidden title still shown"
    );
}

fn title_ids(v: &Value) -> Vec<i64> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn recommendations_reuse_the_scored_catalog_until_the_signals_change() {
    let app = trained_demo().await;
    let (token, pid) = demo_login(&app, 2).await;
    let cache = &app.state.recs.cache;
    let path = |q: &str| format!("/api/v1/profiles/{pid}/recommendations?{q}");

    let before = cache.stats();
    let all = get(&app, &path("n=40"), &token).await;
    let mid = cache.stats();
    assert_eq!(mid.scored_misses, before.scored_misses + 1, "{mid:?}");
    let all_ids = title_ids(&all);
    assert_eq!(all_ids.len(), 40);

    // Other parameters read the same cached ranking: a page of it, an exclusion,
    // a category filter, each as if computed afresh.
    let paged = get(&app, &path("n=10&offset=5"), &token).await;
    assert_eq!(title_ids(&paged), all_ids[5..15].to_vec());
    let excluded = get(&app, &path(&format!("n=5&exclude={}", all_ids[0])), &token).await;
    assert_eq!(title_ids(&excluded), all_ids[1..6].to_vec());
    let again = get(&app, &path("n=40"), &token).await;
    assert_eq!(again, all, "same request, same answer");
    let after = cache.stats();
    assert_eq!(after.scored_misses, mid.scored_misses, "{after:?}");
    assert_eq!(after.scored_hits, mid.scored_hits + 3, "{after:?}");

    // A thumbs-down changes the signals: scored again, and the title is gone.
    let r = feedback(
        &app,
        &token,
        pid,
        json!([{"title_id": all_ids[0], "action": "down"}]),
    )
    .await;
    assert_eq!(r.status(), 200);
    let now = get(&app, &path("n=40"), &token).await;
    assert_eq!(cache.stats().scored_misses, after.scored_misses + 1);
    assert!(!title_ids(&now).contains(&all_ids[0]));

    // The cached answer is the one a fresh scoring gives.
    let snap = app.state.recs.snapshot();
    let p = app.store().profile(pid).await.unwrap().unwrap();
    let signals = marquee_server::recs::serve::load_profile(&app.state, &p)
        .await
        .unwrap();
    let model = snap.primary().map(|m| m.as_ref());
    let cfg = app.state.recs.config();
    let fresh = Scored::new(&snap, cfg, model, &signals);
    let (items, _) = page::recommend(&snap, cfg, &fresh.prefix(40), &signals, &[], &[], 0, 40);
    let fresh_ids: Vec<i64> = items.iter().map(|i| i.title_id).collect();
    assert_eq!(fresh_ids, title_ids(&now));

    // Deeper than the cached head (a rare genre, far down the list): scored in
    // full, the same answer as from a head that covers it.
    let deep = Scored::new(&snap, cfg, model, &signals);
    let g = snap.cat.genre("Film-Noir").expect("a demo genre");
    let (short, _) = page::recommend(
        &snap,
        cfg,
        &deep.clone().prefix(50),
        &signals,
        &[g],
        &[],
        20,
        30,
    );
    let (long, _) = page::recommend(&snap, cfg, &deep.prefix(5000), &signals, &[g], &[], 20, 30);
    assert_eq!(short.len(), 30);
    let ids = |v: &[marquee_server::recs::page::RowTitle]| {
        v.iter().map(|i| i.title_id).collect::<Vec<_>>()
    };
    assert_eq!(ids(&short), ids(&long));
}
