//! Screen-to-screen continuity against the real server: devices, resume
//! rules, ordering, the stream cap, still-watching, rows, SSE, media ranges,
//! bad input.

use crate::helpers::{call, error_of, get, post, TestApp, PASSWORD};
use marquee_domain::{Clock, ManualClock, Plan, Role, SystemClock};
use marquee_server::Config;
use marquee_store::NewAccount;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_800_000_000_000;

async fn device(app: &TestApp, token: &str, name: &str, kind: &str) -> i64 {
    let (s, v) = post(
        app,
        "/api/v1/devices",
        token,
        json!({"name": name, "kind": kind}),
    )
    .await;
    assert!(s == 201 || s == 200, "{s} {v}");
    v["id"].as_i64().unwrap()
}

async fn start(app: &TestApp, token: &str, title: i64, dev: i64, autoplay: bool) -> (u16, Value) {
    post(
        app,
        "/api/v1/playback/start",
        token,
        json!({"title_id": title, "device_id": dev, "autoplay": autoplay}),
    )
    .await
}

async fn started(app: &TestApp, token: &str, title: i64, dev: i64) -> i64 {
    let (s, v) = start(app, token, title, dev, false).await;
    assert_eq!(s, 201, "{v}");
    v["play_session_id"].as_i64().unwrap()
}

async fn progress(
    app: &TestApp,
    token: &str,
    session: i64,
    pos_ms: i64,
    sent_at: i64,
) -> (u16, Value) {
    post(
        app,
        "/api/v1/playback/progress",
        token,
        json!({"play_session_id": session, "position_ms": pos_ms, "paused": false, "sent_at": sent_at}),
    )
    .await
}

async fn state(app: &TestApp, token: &str, title: i64) -> Value {
    get(app, &format!("/api/v1/playback/titles/{title}"), token).await
}

/// Episode ids of a sample series, in order.
async fn episodes(app: &TestApp, name: &str) -> Vec<i64> {
    let hits = app
        .store()
        .search_titles(name, 5, &Default::default())
        .await
        .unwrap();
    let series = hits
        .iter()
        .find(|t| t.kind == marquee_domain::TitleKind::Series)
        .unwrap_or_else(|| panic!("no series {name}"));
    app.store().series_episodes(series.id).await.unwrap()
}

fn manual() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(T0))
}

async fn app_with(clock: Arc<ManualClock>, f: impl FnOnce(&mut Config)) -> TestApp {
    let mut c = Config::default();
    f(&mut c);
    TestApp::builder()
        .demo()
        .config(c)
        .clock(clock)
        .start()
        .await
}

async fn account_with_plan(app: &TestApp, email: &str, plan: Plan) -> String {
    let hash = marquee_server::auth::hash_password_blocking(PASSWORD).unwrap();
    app.store()
        .create_account(
            &NewAccount {
                email: email.into(),
                password_hash: hash,
                role: Role::Viewer,
                plan,
                must_change_password: false,
                first_profile: "Main".into(),
                email_verified: true,
            },
            1,
        )
        .await
        .unwrap();
    app.login(email).await
}

/// Reads SSE frames until one satisfies `ok`; returns its data.
async fn sse_until(
    resp: &mut reqwest::Response,
    buf: &mut String,
    ok: impl Fn(&str, &Value) -> bool,
) -> Value {
    loop {
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut event = "message";
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(e) = line.strip_prefix("event:") {
                    event = if e.trim() == "playback" {
                        "playback"
                    } else if e.trim() == "streams" {
                        "streams"
                    } else {
                        "other"
                    };
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            if let Ok(v) = serde_json::from_str::<Value>(&data) {
                if ok(event, &v) {
                    return v;
                }
            }
        }
        // A hang guard, not a latency assertion.
        let chunk = tokio::time::timeout(Duration::from_secs(20), resp.chunk())
            .await
            .expect("no SSE event")
            .unwrap()
            .expect("SSE stream ended");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn tablet_to_phone_resume_and_live_sync() {
    let app = TestApp::builder().demo().start().await;
    let token = app.signup("family@example.com").await;
    let tablet = device(&app, &token, "Kitchen tablet", "tablet").await;
    let phone = device(&app, &token, "Phone", "phone").await;
    // Registering the same name again returns the same device.
    let (s, v) = post(
        &app,
        "/api/v1/devices",
        &token,
        json!({"name": "Phone", "kind": "phone"}),
    )
    .await;
    assert_eq!((s, v["id"].as_i64()), (200, Some(phone)));
    assert_eq!(
        get(&app, "/api/v1/devices", &token)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let eps = episodes(&app, "Harbour Lights").await;
    let ep = eps[0];

    // The phone listens before the tablet plays.
    let mut sse = app
        .req(Method::GET, "/api/v1/events", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    assert!(sse.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut buf = String::new();
    sse_until(&mut sse, &mut buf, |e, _| e == "streams").await;

    let session = started(&app, &token, ep, tablet).await;
    let now = SystemClock.now_ms();
    for (i, pos) in [600_000, 900_000, 1_234_000].iter().enumerate() {
        let (s, v) = progress(&app, &token, session, *pos, now + i as i64).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["applied"], true);
    }
    // The phone's stream carries the tablet's updates, naming the device.
    let ev = sse_until(&mut sse, &mut buf, |e, v| {
        e == "playback" && v["position_ms"] == 1_234_000
    })
    .await;
    assert_eq!(ev["device_name"], "Kitchen tablet");
    assert_eq!(ev["title_id"], ep);
    let (s, v) = post(
        &app,
        "/api/v1/playback/stop",
        &token,
        json!({"play_session_id": session}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    sse_until(&mut sse, &mut buf, |e, v| {
        e == "playback" && v["kind"] == "stop"
    })
    .await;

    // The phone resumes at the same second.
    assert_eq!(state(&app, &token, ep).await["resume_ms"], 1_234_000);
    let (s, v) = start(&app, &token, ep, phone, false).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["resume_position_ms"], 1_234_000);

    // The log has every event, in order.
    let log = get(
        &app,
        &format!("/api/v1/playback/events?title_id={ep}"),
        &token,
    )
    .await;
    let kinds: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["start", "progress", "progress", "progress", "stop", "start"]
    );
}

#[tokio::test]
async fn resume_thresholds_are_configurable_and_counted() {
    let clock = manual();
    let app = app_with(clock.clone(), |_| {}).await;
    let token = app.signup("t@example.com").await;
    let tv = device(&app, &token, "Living-room TV", "tv").await;
    let ep = episodes(&app, "Harbour Lights").await[1];
    let dur = state(&app, &token, ep).await["duration_ms"]
        .as_i64()
        .unwrap();
    let s = started(&app, &token, ep, tv).await;
    // 4 %: nothing saved.
    progress(&app, &token, s, dur * 4 / 100, T0).await;
    let st = state(&app, &token, ep).await;
    assert_eq!(
        (st["resume_ms"].as_i64(), st["played"].as_bool()),
        (Some(0), Some(false))
    );
    assert!(get(&app, "/api/v1/playback/continue-watching", &token)
        .await
        .as_array()
        .unwrap()
        .is_empty());
    // 50 %: a resume point.
    progress(&app, &token, s, dur / 2, T0 + 1).await;
    assert_eq!(state(&app, &token, ep).await["resume_ms"], dur / 2);
    // 91 %: played once, position reset; more reports in the session do not count again.
    progress(&app, &token, s, dur * 91 / 100, T0 + 2).await;
    progress(&app, &token, s, dur - 500, T0 + 3).await;
    let st = state(&app, &token, ep).await;
    assert_eq!(st["played"], true);
    assert_eq!(st["resume_ms"], 0);
    assert_eq!(st["play_count"], 1);
    assert_eq!(st["last_played_at"], T0);
    // A second viewing counts again.
    let s2 = started(&app, &token, ep, tv).await;
    progress(&app, &token, s2, dur, T0 + 4).await;
    assert_eq!(state(&app, &token, ep).await["play_count"], 2);

    // A title shorter than 300 s is played, never resumed.
    let short = episodes(&app, "Tiny Planet").await[0];
    let short_dur = state(&app, &token, short).await["duration_ms"]
        .as_i64()
        .unwrap();
    assert!(short_dur < 300_000);
    let s = started(&app, &token, short, tv).await;
    progress(&app, &token, s, short_dur / 2, T0 + 5).await;
    let st = state(&app, &token, short).await;
    assert_eq!(
        (st["played"].as_bool(), st["resume_ms"].as_i64()),
        (Some(true), Some(0))
    );

    // By hand: unplayed, played.
    let (c, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/playback/titles/{ep}/played"),
        &token,
        None,
    )
    .await;
    assert_eq!(c, 204);
    let st = state(&app, &token, ep).await;
    assert_eq!(
        (st["played"].as_bool(), st["play_count"].as_i64()),
        (Some(false), Some(0))
    );
    let (c, _) = post(
        &app,
        &format!("/api/v1/playback/titles/{ep}/played"),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(c, 204);
    assert_eq!(state(&app, &token, ep).await["play_count"], 1);

    // Other thresholds through the config.
    let app = app_with(manual(), |c| {
        c.playback.min_resume_pct = 20.0;
        c.playback.max_resume_pct = 80.0;
    })
    .await;
    let token = app.signup("t2@example.com").await;
    let tv = device(&app, &token, "TV", "tv").await;
    let s = started(&app, &token, ep, tv).await;
    progress(&app, &token, s, dur * 15 / 100, T0).await;
    assert_eq!(state(&app, &token, ep).await["resume_ms"], 0);
    progress(&app, &token, s, dur * 85 / 100, T0 + 1).await;
    assert_eq!(state(&app, &token, ep).await["played"], true);
}

#[tokio::test]
async fn reordered_reports_never_rewind_newest_device_wins_stop_is_idempotent() {
    let app = app_with(manual(), |_| {}).await;
    let token = app.signup("r@example.com").await;
    let tablet = device(&app, &token, "Tablet", "tablet").await;
    let phone = device(&app, &token, "Phone", "phone").await;
    let movie = 1;
    let s = started(&app, &token, movie, tablet).await;
    let (_, v) = progress(&app, &token, s, 2_000_000, T0 + 20).await;
    assert_eq!(v["applied"], true);
    // Sent earlier, arrives later: logged, not applied.
    let (c, v) = progress(&app, &token, s, 1_000_000, T0 + 10).await;
    assert_eq!(c, 200);
    assert_eq!(v["applied"], false);
    assert_eq!(state(&app, &token, movie).await["resume_ms"], 2_000_000);

    // Two devices on the same title: the newest report wins, even if it is earlier in the film.
    let p = started(&app, &token, movie, phone).await;
    progress(&app, &token, p, 1_500_000, T0 + 30).await;
    progress(&app, &token, s, 2_100_000, T0 + 25).await;
    let st = state(&app, &token, movie).await;
    assert_eq!(st["resume_ms"], 1_500_000);
    assert_eq!(st["last_device_id"], phone);

    // Stop twice: same answer, one stop in the log.
    let (c1, v1) = post(
        &app,
        "/api/v1/playback/stop",
        &token,
        json!({"play_session_id": p, "position_ms": 1_600_000, "sent_at": T0 + 40}),
    )
    .await;
    let (c2, v2) = post(
        &app,
        "/api/v1/playback/stop",
        &token,
        json!({"play_session_id": p, "position_ms": 1_600_000, "sent_at": T0 + 40}),
    )
    .await;
    assert_eq!((c1, c2), (200, 200));
    assert_eq!(v1["duplicate"], false);
    assert_eq!(v2["duplicate"], true);
    assert_eq!(v1["resume_ms"], v2["resume_ms"]);
    let log = get(
        &app,
        &format!("/api/v1/playback/events?title_id={movie}"),
        &token,
    )
    .await;
    let stops = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "stop")
        .count();
    assert_eq!(stops, 1);
    assert_eq!(state(&app, &token, movie).await["resume_ms"], 1_600_000);
    // Progress after a stop is refused.
    let (c, v) = progress(&app, &token, p, 1_700_000, T0 + 50).await;
    assert_eq!(c, 409, "{v}");
}

#[tokio::test]
async fn stream_cap_follows_the_plan_and_streams_time_out() {
    let clock = manual();
    let app = app_with(clock.clone(), |_| {}).await;
    let token = app.signup("cap@example.com").await; // standard: 2 streams
    let a = device(&app, &token, "A", "tv").await;
    let b = device(&app, &token, "B", "phone").await;
    let c = device(&app, &token, "C", "tablet").await;
    let sa = started(&app, &token, 1, a).await;
    // The same device starting again replaces its stream, it does not add one.
    let sa2 = started(&app, &token, 2, a).await;
    let (code, _) = progress(&app, &token, sa, 10_000, T0).await;
    assert_eq!(code, 409, "the replaced stream has ended");
    started(&app, &token, 3, b).await;
    let (code, v) = start(&app, &token, 4, c, false).await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["error"]["code"], "conflict");
    let active = v["active_streams"].as_array().unwrap();
    let mut names: Vec<&str> = active
        .iter()
        .map(|s| s["device_name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["A", "B"]);
    assert_eq!(
        get(&app, "/api/v1/playback/streams", &token)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A keeps reporting; B goes quiet for two minutes and ends.
    clock.advance(100_000);
    assert_eq!(
        progress(&app, &token, sa2, 10_000, T0 + 100_000).await.0,
        200
    );
    clock.advance(21_000);
    let (code, v) = start(&app, &token, 4, c, false).await;
    assert_eq!(code, 201, "{v}");
    let (code, _) = start(&app, &token, 5, b, false).await;
    assert_eq!(code, 409);

    // Basic: one stream; premium: four.
    let basic = account_with_plan(&app, "basic@example.com", Plan::Basic).await;
    let d1 = device(&app, &basic, "One", "tv").await;
    let d2 = device(&app, &basic, "Two", "web").await;
    started(&app, &basic, 1, d1).await;
    assert_eq!(start(&app, &basic, 1, d2, false).await.0, 409);
    let premium = account_with_plan(&app, "premium@example.com", Plan::Premium).await;
    for i in 0..4 {
        let d = device(&app, &premium, &format!("P{i}"), "tv").await;
        started(&app, &premium, 1, d).await;
    }
    let d = device(&app, &premium, "P4", "tv").await;
    assert_eq!(start(&app, &premium, 1, d, false).await.0, 409);
}

#[tokio::test]
async fn still_watching_after_three_autoplays_or_ninety_idle_minutes() {
    let clock = manual();
    let app = app_with(clock.clone(), |_| {}).await;
    let token = app.signup("sw@example.com").await;
    let tv = device(&app, &token, "TV", "tv").await;
    let eps = episodes(&app, "Harbour Lights").await;
    assert_eq!(eps.len(), 7);
    started(&app, &token, eps[0], tv).await;
    let mut autos = vec![];
    for (i, ep) in eps[1..4].iter().enumerate() {
        let (c, v) = start(&app, &token, *ep, tv, true).await;
        assert_eq!(c, 201, "{v}");
        assert_eq!(v["autoplay_run"], i as i64 + 1);
        autos.push(v["play_session_id"].as_i64().unwrap());
    }
    // Unattended autoplay to the very end never marks the episode played.
    let dur = state(&app, &token, eps[3]).await["duration_ms"]
        .as_i64()
        .unwrap();
    progress(&app, &token, autos[2], dur, T0).await;
    assert_eq!(state(&app, &token, eps[3]).await["played"], false);
    // The fourth autoplay in a row asks.
    let (c, v) = start(&app, &token, eps[4], tv, true).await;
    assert_eq!(c, 409, "{v}");
    assert_eq!(v["still_watching"], true);
    assert_eq!(v["error"]["field"], "autoplay");
    // Confirming (a start by hand) resets the run; an interaction makes a stream attended.
    let s = started(&app, &token, eps[4], tv).await;
    let dur4 = state(&app, &token, eps[4]).await["duration_ms"]
        .as_i64()
        .unwrap();
    progress(&app, &token, s, dur4, T0 + 1).await;
    assert_eq!(state(&app, &token, eps[4]).await["played"], true);
    let (c, v) = start(&app, &token, eps[5], tv, true).await;
    assert_eq!(c, 201, "{v}");
    let auto = v["play_session_id"].as_i64().unwrap();
    let dur5 = state(&app, &token, eps[5]).await["duration_ms"]
        .as_i64()
        .unwrap();
    let (c, _) = post(
        &app,
        "/api/v1/playback/progress",
        &token,
        json!({"play_session_id": auto, "position_ms": dur5, "paused": false, "sent_at": T0 + 2, "interaction": true}),
    )
    .await;
    assert_eq!(c, 200);
    assert_eq!(state(&app, &token, eps[5]).await["played"], true);
    // 90 minutes with no interaction: the next autoplay asks.
    clock.advance(91 * 60_000);
    let (c, v) = start(&app, &token, eps[6], tv, true).await;
    assert_eq!((c, v["still_watching"].as_bool()), (409, Some(true)), "{v}");
}

#[tokio::test]
async fn next_up_and_continue_watching_rows() {
    let clock = manual();
    let app = app_with(clock.clone(), |c| c.playback.next_up_cutoff_days = 30).await;
    let token = app.signup("nu@example.com").await;
    let tv = device(&app, &token, "TV", "tv").await;
    let hl = episodes(&app, "Harbour Lights").await; // S1: 4 episodes, S2: 3
    let ok = episodes(&app, "Orbit Kitchen").await;
    let next = |v: &Value| -> Vec<(i64, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["title_id"].as_i64().unwrap(),
                    r["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    // Nothing played: nothing is next.
    assert!(get(&app, "/api/v1/playback/next-up", &token)
        .await
        .as_array()
        .unwrap()
        .is_empty());
    // The pilot in progress is Next Up (and Continue Watching).
    let s = started(&app, &token, hl[0], tv).await;
    let d = state(&app, &token, hl[0]).await["duration_ms"]
        .as_i64()
        .unwrap();
    progress(&app, &token, s, d / 3, T0).await;
    assert_eq!(
        next(&get(&app, "/api/v1/playback/next-up", &token).await),
        [(hl[0], "in_progress".into())]
    );
    let cw = get(&app, "/api/v1/playback/continue-watching", &token).await;
    assert_eq!(cw[0]["title_id"], hl[0]);
    assert_eq!(cw[0]["season"], 1);
    // Pilot done: episode 2.
    progress(&app, &token, s, d, T0 + 1).await;
    assert_eq!(
        next(&get(&app, "/api/v1/playback/next-up", &token).await),
        [(hl[1], "next".into())]
    );
    // The last episode of season 1 done: season 2, episode 1.
    clock.advance(1000);
    let (c, _) = post(
        &app,
        &format!("/api/v1/playback/titles/{}/played", hl[3]),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(c, 204);
    assert_eq!(
        next(&get(&app, "/api/v1/playback/next-up", &token).await),
        [(hl[4], "next".into())]
    );
    // An in-progress episode of another series comes first.
    clock.advance(1000);
    let s2 = started(&app, &token, ok[2], tv).await;
    let d2 = state(&app, &token, ok[2]).await["duration_ms"]
        .as_i64()
        .unwrap();
    progress(&app, &token, s2, d2 / 2, T0 + 2).await;
    // ...but first the Harbour Lights series becomes more recent than Orbit Kitchen.
    clock.advance(1000);
    let (c, _) = post(
        &app,
        &format!("/api/v1/playback/titles/{}/played", hl[3]),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(c, 204);
    assert_eq!(
        next(&get(&app, "/api/v1/playback/next-up", &token).await),
        [(ok[2], "in_progress".into()), (hl[4], "next".into())]
    );
    // The finale done: the series is finished, nothing next for it.
    clock.advance(1000);
    post(
        &app,
        &format!("/api/v1/playback/titles/{}/played", hl[6]),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(
        next(&get(&app, "/api/v1/playback/next-up", &token).await),
        [(ok[2], "in_progress".into())]
    );
    // A rewatch: the pilot again, then episode 2 is next although it was seen.
    clock.advance(1000);
    let s3 = started(&app, &token, hl[0], tv).await;
    progress(&app, &token, s3, d, T0 + 3).await;
    assert!(next(&get(&app, "/api/v1/playback/next-up", &token).await)
        .contains(&(hl[1], "next".into())));
    // Hide from row: gone from Continue Watching, back after playing again.
    let (c, _) = post(
        &app,
        &format!("/api/v1/playback/continue-watching/{}/hide", ok[2]),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(c, 204);
    assert!(get(&app, "/api/v1/playback/continue-watching", &token)
        .await
        .as_array()
        .unwrap()
        .is_empty());
    let (c, _) = post(
        &app,
        &format!("/api/v1/playback/continue-watching/{}/hide", ok[2]),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(c, 404);
    let s4 = started(&app, &token, ok[2], tv).await;
    let (c, v) = progress(&app, &token, s4, d2 / 2 + 60_000, T0 + 4).await;
    assert_eq!(c, 200, "{v}");
    assert_eq!(
        get(&app, "/api/v1/playback/continue-watching", &token).await[0]["title_id"],
        ok[2]
    );
    // The home page shows both rows.
    let html = app.get("/", Some(&token)).await.text().await.unwrap();
    assert!(html.contains("id=\"row-continue\""), "{html}");
    assert!(html.contains("id=\"row-next-up\""));
    assert!(html.contains("Orbit Kitchen [Sample] · S1:E3"));
    // Stale series drop out of Next Up.
    clock.advance(31 * 86_400_000);
    let token = app.login("nu@example.com").await; // the session expired meanwhile
    assert!(get(&app, "/api/v1/playback/next-up", &token)
        .await
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_writes_nothing() {
    let app = app_with(manual(), |_| {}).await;
    let token = app.signup("bad@example.com").await;
    let other = app.signup("other@example.com").await;
    let tv = device(&app, &token, "TV", "tv").await;
    let theirs = device(&app, &other, "Their TV", "tv").await;
    let s = started(&app, &token, 1, tv).await;
    let their_session = started(&app, &other, 1, theirs).await;
    let before = get(&app, "/api/v1/playback/events?limit=1000", &token)
        .await
        .as_array()
        .unwrap()
        .len();

    let cases: Vec<(&str, Value, u16, Option<&str>)> = vec![
        (
            "/api/v1/playback/start",
            json!({"title_id": 99_999_999, "device_id": tv}),
            404,
            None,
        ),
        (
            "/api/v1/playback/start",
            json!({"title_id": 1, "device_id": 99_999}),
            404,
            None,
        ),
        (
            "/api/v1/playback/start",
            json!({"title_id": 1, "device_id": theirs}),
            403,
            None,
        ),
        (
            "/api/v1/playback/start",
            json!({"title_id": "one", "device_id": tv}),
            400,
            Some("title_id"),
        ),
        (
            "/api/v1/playback/progress",
            json!({"play_session_id": s, "position_ms": -1, "paused": false, "sent_at": T0}),
            400,
            Some("position_ms"),
        ),
        (
            "/api/v1/playback/progress",
            json!({"play_session_id": s, "position_ms": 999_999_999, "paused": false, "sent_at": T0}),
            400,
            Some("position_ms"),
        ),
        (
            "/api/v1/playback/progress",
            json!({"play_session_id": s, "position_ms": 1000, "paused": false, "sent_at": T0 + 3_600_000}),
            400,
            Some("sent_at"),
        ),
        (
            "/api/v1/playback/progress",
            json!({"play_session_id": s, "position_ms": 1000, "paused": false}),
            400,
            Some("sent_at"),
        ),
        (
            "/api/v1/playback/progress",
            json!({"play_session_id": 424_242, "position_ms": 1000, "paused": false, "sent_at": T0}),
            404,
            None,
        ),
        (
            "/api/v1/playback/progress",
            json!({"play_session_id": their_session, "position_ms": 1000, "paused": false, "sent_at": T0}),
            403,
            None,
        ),
        (
            "/api/v1/playback/stop",
            json!({"play_session_id": their_session}),
            403,
            None,
        ),
        (
            "/api/v1/playback/stop",
            json!({"play_session_id": s, "position_ms": 5}),
            400,
            Some("sent_at"),
        ),
        (
            "/api/v1/devices",
            json!({"name": "", "kind": "tv"}),
            400,
            Some("name"),
        ),
        (
            "/api/v1/devices",
            json!({"name": "Fridge", "kind": "fridge"}),
            400,
            Some("kind"),
        ),
    ];
    for (path, body, status, field) in cases {
        let r = app
            .req(Method::POST, path, Some(&token))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (code, _, f) = error_of(r).await;
        assert_eq!(code, status, "{path} {body}");
        assert_eq!(f.as_deref(), field, "{path} {body}");
    }
    // A series is not playable.
    let series = app
        .store()
        .search_titles("Harbour Lights", 5, &Default::default())
        .await
        .unwrap()[0]
        .id;
    let (code, v) = start(&app, &token, series, tv, false).await;
    assert_eq!(
        (code, v["error"]["field"].as_str()),
        (400, Some("title_id"))
    );
    // Nothing was written.
    let after = get(&app, "/api/v1/playback/events?limit=1000", &token)
        .await
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
    assert_eq!(state(&app, &token, 1).await["resume_ms"], 0);
    assert_eq!(
        get(&app, "/api/v1/devices", &token)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Anonymous: 401.
    assert_eq!(app.get("/api/v1/events", None).await.status(), 401);
    assert_eq!(
        app.post_json(
            "/api/v1/playback/start",
            None,
            &json!({"title_id": 1, "device_id": tv})
        )
        .await
        .status(),
        401
    );
}

#[tokio::test]
async fn media_files_are_served_with_ranges() {
    let media = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(media.path().join("clip.mp4"), &bytes).unwrap();
    let dir = media.path().to_path_buf();
    let clock = manual();
    let app = app_with(clock.clone(), move |c| c.playback.media_dir = Some(dir)).await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let viewer = app.signup("v@example.com").await;
    // Without a file the player page is the simulated player.
    let html = app
        .get("/watch/1", Some(&viewer))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"screen\""), "{html}");
    assert_eq!(app.get("/media/1", Some(&viewer)).await.status(), 404);
    let (c, v) = call(
        &app,
        Method::PUT,
        "/api/v1/staff/titles/1/media",
        &admin,
        Some(json!({"path": "../etc/passwd"})),
    )
    .await;
    assert_eq!((c, v["error"]["field"].as_str()), (400, Some("path")));
    let (c, v) = call(
        &app,
        Method::PUT,
        "/api/v1/staff/titles/1/media",
        &viewer,
        Some(json!({"path": "clip.mp4"})),
    )
    .await;
    assert_eq!(c, 403, "{v}");
    let (c, v) = call(
        &app,
        Method::PUT,
        "/api/v1/staff/titles/1/media",
        &admin,
        Some(json!({"path": "clip.mp4"})),
    )
    .await;
    assert_eq!(c, 200, "{v}");
    let html = app
        .get("/watch/1", Some(&viewer))
        .await
        .text()
        .await
        .unwrap();
    // The player's link is signed for this profile and works without a
    // log-in (a CDN can serve it) until it expires.
    let src = html
        .split("<video id=\"video\" src=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no video in {html}"))
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(src.starts_with("/media/1?sub=p"), "{src}");
    assert!(src.contains("&exp=") && src.contains("&sig="), "{src}");
    let r = app.get(&src, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "public, max-age=3600");
    // No cookie either: a CDN does not cache an answer that sets one.
    assert!(r.headers().get("set-cookie").is_none(), "{:?}", r.headers());
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[..]);
    // A CDN keeps it no longer than the link works.
    clock.advance(6 * 3_600_000 - 90_000);
    let r = app.get(&src, None).await;
    assert_eq!(r.headers()["cache-control"], "public, max-age=90");
    clock.advance(-(6 * 3_600_000 - 90_000));
    let r = app
        .req(Method::GET, &src, None)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    // Tampered: another title, another profile, a later expiry, a changed
    // signature, a missing part, a malformed expiry.
    let sig = src.split("&sig=").nth(1).unwrap().to_string();
    let exp: i64 = src
        .split("&exp=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .unwrap()
        .parse()
        .unwrap();
    let pid = src
        .split("sub=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .unwrap()
        .to_string();
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    );
    for bad in [
        format!("/media/2?sub={pid}&exp={exp}&sig={sig}"),
        format!("/media/1?sub=p999&exp={exp}&sig={sig}"),
        format!("/media/1?sub={pid}&exp={}&sig={sig}", exp + 1),
        format!("/media/1?sub={pid}&exp={exp}&sig={flipped}"),
        format!("/media/1?sub={pid}&sig={sig}"),
        format!("/media/1?sub={pid}&exp=soon&sig={sig}"),
    ] {
        let r = app.get(&bad, None).await;
        assert_eq!(r.status(), 403, "{bad}");
        let body = r.text().await.unwrap();
        assert!(body.contains("media link"), "{bad}: {body}");
    }
    // Six hours later the link has expired, and the error says so.
    clock.advance(6 * 3_600_000);
    let r = app.get(&src, None).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("expired"));

    let r = app
        .req(Method::GET, "/media/1", Some(&viewer))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[..]);
    let ranged = |range: &'static str| {
        app.req(Method::GET, "/media/1", Some(&viewer))
            .header("range", range)
            .send()
    };
    let r = ranged("bytes=100-199").await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 100-199/10000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[100..200]);
    let r = ranged("bytes=9990-").await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[9990..]);
    let r = ranged("bytes=20000-").await.unwrap();
    assert_eq!(r.status(), 416);
    // Ranges no player sends (several, reversed, garbage, another unit,
    // empty): refused with 416 by tower-http's ServeFile, never a 500 or a
    // wrong body.
    for (range, want) in [
        ("bytes=-100", 206),
        ("bytes=199-100", 416),
        ("bytes=0-1,5-9", 416),
        ("bytes=-0", 416),
        ("bytes=a-b", 416),
        ("bytes=99999999999999999999999-", 416),
        ("items=0-5", 416),
        ("", 416),
    ] {
        let r = ranged(range).await.unwrap();
        let status = r.status().as_u16();
        let body = r.bytes().await.unwrap();
        match status {
            206 => assert_eq!(body.as_ref(), &bytes[9900..], "{range}"),
            200 => assert_eq!(body.as_ref(), &bytes[..], "{range}"),
            _ => assert!(body.len() < 200, "{range}"),
        }
        assert_eq!(status, want, "{range}");
    }
    // Another file set for the title is served from the next request on
    // (the open file kept for the title's ranges is forgotten)...
    let other: Vec<u8> = (0..5_000u32).map(|i| (i % 13) as u8).collect();
    std::fs::write(media.path().join("other.mp4"), &other).unwrap();
    let (c, v) = call(
        &app,
        Method::PUT,
        "/api/v1/staff/titles/1/media",
        &admin,
        Some(json!({"path": "other.mp4"})),
    )
    .await;
    assert_eq!(c, 200, "{v}");
    let r = ranged("bytes=0-99").await.unwrap();
    assert_eq!(r.headers()["content-range"], "bytes 0-99/5000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &other[..100]);
    // ...and a file replaced on disk within seconds.
    let replaced: Vec<u8> = vec![7u8; 3_000];
    std::fs::write(media.path().join("other.tmp"), &replaced).unwrap();
    std::fs::rename(
        media.path().join("other.tmp"),
        media.path().join("other.mp4"),
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let r = ranged("bytes=0-99").await.unwrap();
    assert_eq!(r.headers()["content-range"], "bytes 0-99/3000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &replaced[..100]);
    // Anonymous visitors are sent to log in.
    assert_eq!(app.get("/media/1", None).await.status(), 303);
}

fn clock_secs(text: &str) -> i64 {
    let now = text.split('/').next().unwrap_or("").trim();
    now.split(':')
        .fold(0, |acc, p| acc * 60 + p.trim().parse::<i64>().unwrap_or(0))
}

/// Makes a `secs`-second H.264/AAC MP4 (a test pattern and a tone, a
/// key frame each second) at `path` with `ffmpeg`, or returns false and
/// says why when `ffmpeg` is not installed outside CI (`.ci/run` installs it).
fn make_clip(path: &std::path::Path, secs: u32) -> bool {
    make_clip_with(path, secs, &[(440, "eng")])
}

/// The same with one audio track per `(tone Hz, language)`.
fn make_clip_with(path: &std::path::Path, secs: u32, audio: &[(u32, &str)]) -> bool {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"]);
    for (hz, _) in audio {
        cmd.args(["-f", "lavfi", "-i"])
            .arg(format!("sine=frequency={hz}:sample_rate=48000"));
    }
    cmd.args(["-map", "0:v"]);
    for (n, (_, lang)) in audio.iter().enumerate() {
        cmd.args(["-map", &format!("{}:a", n + 1)])
            .arg(format!("-metadata:s:a:{n}"))
            .arg(format!("language={lang}"));
    }
    let out = cmd
        .args(["-t", &secs.to_string()])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "25"])
        .args([
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
        ])
        .arg(path)
        .output();
    match out {
        Ok(o) if o.status.success() => true,
        Ok(o) => panic!("ffmpeg failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "ffmpeg is required in CI: {e}"
            );
            eprintln!("skipping browser playback test: ffmpeg not found ({e})");
            false
        }
    }
}

/// A demo app whose "Harbour Lights" first episode plays `clip.mp4` from
/// `media` (set through the admin media API), resuming from any position
/// (a 30-second clip is far below the default resume thresholds); returns
/// the app and the episode.
async fn app_with_clip(media: &std::path::Path) -> (TestApp, i64) {
    let mut config = Config::default();
    config.playback.progress_interval_s = 1;
    config.playback.media_dir = Some(media.to_path_buf());
    config.playback.min_resume_pct = 0.0;
    config.playback.min_resume_duration_s = 0;
    let app = TestApp::builder().demo().config(config).start().await;
    let ep = episodes(&app, "Harbour Lights").await[0];
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let (c, v) = call(
        &app,
        Method::PUT,
        &format!("/api/v1/staff/titles/{ep}/media"),
        &admin,
        Some(json!({"path": "clip.mp4"})),
    )
    .await;
    assert_eq!(c, 200, "{v}");
    (app, ep)
}

/// What a script returns in the browser, as JSON.
async fn js(c: &fantoccini::Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// The player's real position, seconds.
async fn current_time(c: &fantoccini::Client) -> f64 {
    js(c, "return document.getElementById('video').currentTime;")
        .await
        .as_f64()
        .unwrap()
}

/// Polls `script` (a boolean expression) until it is true.
async fn wait_js(c: &fantoccini::Client, what: &str, script: &str) {
    let body = format!("return !!({script});");
    for _ in 0..150 {
        if js(c, &body).await == Value::Bool(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state = js(
        c,
        "const v = document.getElementById('video'); return v ? [v.currentTime, v.paused, v.readyState, v.error && v.error.code, document.getElementById('status').textContent] : null;",
    )
    .await;
    panic!("{what}: never true ({script}); video {state}");
}

#[tokio::test]
async fn browser_two_contexts_resume_and_also_playing() {
    use crate::browser::{browser, start_driver, wait_for, wait_text};
    use fantoccini::Locator;
    let Some(driver) = start_driver().await else {
        return;
    };
    let media = tempfile::tempdir().unwrap();
    if !make_clip(&media.path().join("clip.mp4"), 30) {
        return;
    }
    let (app, ep) = app_with_clip(media.path()).await;
    let token = app.signup("couch@example.com").await;
    // The living-room TV stopped at 0:12.
    let tablet = device(&app, &token, "Living-room TV", "tv").await;
    let s = started(&app, &token, ep, tablet).await;
    assert_eq!(
        progress(&app, &token, s, 12_000, SystemClock.now_ms())
            .await
            .0,
        200
    );
    post(
        &app,
        "/api/v1/playback/stop",
        &token,
        json!({"play_session_id": s}),
    )
    .await;

    let one = browser(&driver).await;
    let two = browser(&driver).await;
    let run = async {
        for c in [&one, &two] {
            crate::browser::log_in(c, &app, "couch@example.com", PASSWORD).await;
            crate::browser::wait_text(c, "main h1", |t| t.starts_with("Welcome")).await;
        }
        // The home page offers it in Continue Watching.
        wait_for(&one, "#row-continue .cw-card").await;
        let watch = app.url(&format!("/watch/{ep}"));
        two.goto(&watch).await.unwrap();
        wait_text(&two, "#resume", |t| t == "Resume from 0:12").await;
        one.goto(&watch).await.unwrap();
        wait_text(&one, "#resume", |t| t == "Resume from 0:12").await;
        // The real video, with the player's own controls instead of the
        // browser's; its clock shows the media's own length.
        wait_js(
            &one,
            "custom controls",
            "!document.getElementById('video').hasAttribute('controls') && !document.getElementById('vbar').hidden",
        )
        .await;
        one.find(Locator::Css("#resume"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // It plays a few seconds from where the TV stopped.
        wait_js(
            &one,
            "playing from 0:12",
            "document.getElementById('video').currentTime >= 15",
        )
        .await;
        wait_text(&one, "#clock", |t| t.ends_with("/ 0:30")).await;
        // The other browser sees it live.
        let also = wait_text(&two, "#also-playing", |t| {
            t.starts_with("Also playing on Chrome on Linux")
        })
        .await;
        assert!(!also.contains("Living-room TV"), "{also}");
        one.find(Locator::Css("#stop"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let stopped = wait_text(&one, "#status", |t| t.starts_with("Stopped at")).await;
        let at = stopped.trim_start_matches("Stopped at ").to_string();
        let a_time = current_time(&one).await;
        assert!(a_time >= 15.0, "{a_time}");
        assert!(js(&one, "return document.getElementById('video').paused;")
            .await
            .as_bool()
            .unwrap());
        // The second browser, reloaded, offers to resume where the first stopped.
        two.goto(&watch).await.unwrap();
        let offer = wait_text(&two, "#resume", |t| t != "Resume from 0:12").await;
        assert_eq!(offer, format!("Resume from {at}"));
        assert!(two
            .find(Locator::Css("#resume"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap());
        // One click from the title page plays there: the watch page starts
        // by itself where the first browser stopped, no second Play, within
        // a second of the first browser's real position.
        two.goto(&app.url(&format!("/titles/{ep}"))).await.unwrap();
        let play = two.find(Locator::Css("#play")).await.unwrap();
        assert_eq!(
            play.attr("href").await.unwrap().as_deref(),
            Some(format!("/watch/{ep}?play=1").as_str())
        );
        play.click().await.unwrap();
        wait_text(&two, "#status", |t| !t.is_empty()).await;
        wait_js(
            &two,
            "the second browser playing",
            "(() => { const v = document.getElementById('video'); return v && !v.paused && v.readyState >= 2 && v.currentTime > 1; })()",
        )
        .await;
        let b_time = current_time(&two).await;
        assert!(
            (b_time - a_time).abs() < 1.0,
            "the second browser started at {b_time} s, the first stopped at {a_time} s"
        );
        // Playing: Stop is offered; Pause is the control bar's alone.
        assert!(two
            .find(Locator::Css("#stop"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap());
        assert!(!two
            .find(Locator::Css("#pause"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap());
        // with the title and where it is.
        wait_text(&one, "#also-playing", |t| {
            t.starts_with("Also playing on Chrome on Linux: Pilot [Sample] at 0:")
        })
        .await;
        // Progress reports carry the real position: the server's resume
        // point moves on with the second browser's video.
        wait_js(
            &two,
            "two seconds on",
            &format!(
                "document.getElementById('video').currentTime >= {}",
                a_time + 2.0
            ),
        )
        .await;
        let want = ((a_time + 1.0) * 1000.0) as i64;
        let mut last = Value::Null;
        for _ in 0..50 {
            last = state(&app, &token, ep).await;
            if last["resume_ms"].as_i64().unwrap_or(0) >= want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(last["resume_ms"].as_i64().unwrap_or(0) >= want, "{last}");
        // A shared moment's clock shows where it will start, before Play,
        // and the video waits there.
        one.goto(&format!("{watch}?t=9")).await.unwrap();
        wait_text(&one, "#play-start", |t| t == "Play from 0:09").await;
        wait_text(&one, "#clock", |t| clock_secs(t) == 9).await;
        wait_js(
            &one,
            "the video at the moment",
            "Math.abs(document.getElementById('video').currentTime - 9) < 0.5",
        )
        .await;
    };
    run.await;
    one.close().await.unwrap();
    two.close().await.unwrap();
}

/// The player's own controls: clicking the scrubber seeks and the time left
/// follows, `k` plays and pauses, the arrow keys skip, the subtitle menu
/// turns a track on and `c` cycles back to off, the next episode counts
/// down at the end, and a refused link is an error said in words.
#[tokio::test]
async fn browser_player_controls_seek_play_and_subtitles() {
    use crate::browser::{browser, start_driver, wait_for, wait_text};
    use fantoccini::Locator;
    let Some(driver) = start_driver().await else {
        return;
    };
    let media = tempfile::tempdir().unwrap();
    if !make_clip(&media.path().join("clip.mp4"), 30) {
        return;
    }
    std::fs::write(
        media.path().join("clip.en.vtt"),
        "WEBVTT\n\n00:00:00.000 --> 00:00:30.000\nThe harbour lights come on.\n",
    )
    .unwrap();
    let (app, ep) = app_with_clip(media.path()).await;
    let token = app.signup("keys@example.com").await;
    let account = get(&app, "/api/v1/me", &token).await["account"]["id"]
        .as_i64()
        .unwrap();
    let c = browser(&driver).await;
    let run = async {
        crate::browser::log_in(&c, &app, "keys@example.com", PASSWORD).await;
        wait_text(&c, "main h1", |t| t.starts_with("Welcome")).await;
        c.goto(&app.url(&format!("/watch/{ep}"))).await.unwrap();
        wait_for(&c, "#vbar:not([hidden])").await;
        wait_text(&c, "#remaining", |t| t == "-0:30").await;
        assert_eq!(
            js(
                &c,
                "return getComputedStyle(document.getElementById('vb-play')).minHeight;"
            )
            .await,
            "44px"
        );
        // Clicking the middle of the scrubber seeks there, before Play.
        let scrub = c.find(Locator::Css("#scrub")).await.unwrap();
        scrub.click().await.unwrap();
        wait_js(
            &c,
            "seeked to the middle",
            "Math.abs(document.getElementById('video').currentTime - 15) < 2",
        )
        .await;
        let left = wait_text(&c, "#remaining", |t| t != "-0:30").await;
        assert!(left.starts_with("-0:1"), "{left}");
        // k plays from there (the scrubber has focus), and pauses.
        scrub.send_keys("k").await.unwrap();
        wait_text(&c, "#status", |t| t == "Playing on this browser").await;
        wait_js(&c, "playing", "!document.getElementById('video').paused").await;
        let t0 = current_time(&c).await;
        assert!((t0 - 15.0).abs() < 2.5, "{t0}");
        wait_text(&c, "#remaining", |t| t != left).await;
        assert_eq!(
            c.find(Locator::Css("#vb-play"))
                .await
                .unwrap()
                .attr("aria-label")
                .await
                .unwrap()
                .as_deref(),
            Some("Pause")
        );
        scrub.send_keys("k").await.unwrap();
        wait_js(&c, "paused", "document.getElementById('video').paused").await;
        wait_js(
            &c,
            "the bar's button says Play",
            "document.getElementById('vb-play').getAttribute('aria-label') === 'Play'",
        )
        .await;
        // The arrow keys skip 5 seconds, j 10 back.
        let before = current_time(&c).await;
        scrub.send_keys("\u{e014}").await.unwrap(); // ArrowRight
        wait_js(
            &c,
            "five seconds on",
            &format!(
                "Math.abs(document.getElementById('video').currentTime - {}) < 0.6",
                before + 5.0
            ),
        )
        .await;
        scrub.send_keys("j").await.unwrap();
        wait_js(
            &c,
            "ten seconds back",
            &format!(
                "Math.abs(document.getElementById('video').currentTime - {}) < 0.6",
                before - 5.0
            ),
        )
        .await;
        // The subtitle menu: Off and the file beside the clip.
        let subs = c.find(Locator::Css("#subs-button")).await.unwrap();
        assert_eq!(
            subs.attr("aria-label").await.unwrap().as_deref(),
            Some("Subtitles: Off")
        );
        subs.click().await.unwrap();
        wait_for(&c, "#subs-menu:not([hidden])").await;
        let items = c
            .find_all(Locator::Css("#subs-menu [role=menuitemradio]"))
            .await
            .unwrap();
        let mut names = Vec::new();
        for i in &items {
            names.push(i.text().await.unwrap());
        }
        assert_eq!(names, ["Off", "English"]);
        items[1].click().await.unwrap();
        wait_js(
            &c,
            "English subtitles on",
            "document.getElementById('video').textTracks[0].mode === 'showing'",
        )
        .await;
        assert!(c
            .find(Locator::Css("#subs-menu"))
            .await
            .unwrap()
            .attr("hidden")
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            subs.attr("aria-label").await.unwrap().as_deref(),
            Some("Subtitles: English")
        );
        // c cycles them: one track, so back to off.
        scrub.send_keys("c").await.unwrap();
        wait_js(
            &c,
            "subtitles off",
            "document.getElementById('video').textTracks[0].mode === 'disabled'",
        )
        .await;
        // The end of an episode counts down to the next one; Cancel stays.
        js(
            &c,
            "const v = document.getElementById('video'); v.currentTime = v.duration - 1.5;",
        )
        .await;
        scrub.send_keys("k").await.unwrap();
        wait_text(&c, "#next-count", |t| t.starts_with("Next episode in")).await;
        wait_text(&c, "#status", |t| t == "Finished").await;
        c.find(Locator::Css("#next-cancel"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, "#next-overlay[hidden]").await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(c
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with(&format!("/watch/{ep}")));
        // A link the server refuses: the player says why in words and
        // reports it to the support agents' context panel.
        js(
            &c,
            "const v = document.getElementById('video'); v.src = v.currentSrc.replace('sig=', 'sig=0');",
        )
        .await;
        wait_text(&c, "#status", |t| {
            t == "Playback failed: this media link is not valid"
        })
        .await;
        let mut errors = Vec::new();
        for _ in 0..50 {
            errors = app
                .store()
                .support_context(account)
                .await
                .unwrap()
                .map(|x| x.stream_errors)
                .unwrap_or_default();
            if !errors.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code, "MEDIA_ERR_SRC_NOT_SUPPORTED");
        assert_eq!(errors[0].message, "this media link is not valid");
        assert_eq!(errors[0].title_id, Some(ep));
    };
    run.await;
    c.close().await.unwrap();
}

/// The vendored hls.js is served from the binary, compressed like the
/// other static scripts, and the watch page's CSP lets it play (blob: media)
/// without opening workers.
#[tokio::test]
async fn hls_js_is_served_compressed_and_the_watch_page_allows_blob_media() {
    let app = TestApp::builder().demo().start().await;
    let http = reqwest::Client::new();
    let r = http
        .get(app.url("/static/hls.min.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/javascript");
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let body = r.bytes().await.unwrap();
    assert!(body.len() < 300_000, "{} bytes", body.len());
    let plain = http
        .get(app.url("/static/hls.min.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(plain.len() > 500_000 && plain.contains("enableWorker"));
    let token = app.signup("csp@example.com").await;
    let ep = episodes(&app, "Harbour Lights").await[0];
    let r = app.get(&format!("/watch/{ep}"), Some(&token)).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("media-src 'self' blob:;"), "{csp}");
    assert!(
        !csp.contains("worker-src") && !csp.contains("script-src"),
        "{csp}"
    );
    // Other pages keep the site's policy.
    let csp = app.get("/", Some(&token)).await.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!csp.contains("blob:"), "{csp}");
}

/// Another audio track switches the source in place: playback-info offers
/// it as remuxed HLS, which a browser without native HLS plays through the
/// vendored hls.js (Chromium's own HLS is hidden from the player here), from
/// where it was and still playing.
#[tokio::test]
async fn browser_audio_track_switch_plays_hls_through_hls_js() {
    use crate::browser::{browser, start_driver, wait_for, wait_text};
    use fantoccini::Locator;
    let Some(driver) = start_driver().await else {
        return;
    };
    let media = tempfile::tempdir().unwrap();
    if !make_clip_with(
        &media.path().join("clip.mp4"),
        30,
        &[(440, "eng"), (880, "fra")],
    ) {
        return;
    }
    let (app, ep) = app_with_clip(media.path()).await;
    let token = app.signup("hls@example.com").await;
    // The file is read (ffprobe) in the background: wait for its tracks.
    let mut info = Value::Null;
    for _ in 0..150 {
        info = get(&app, &format!("/api/v1/titles/{ep}/playback-info"), &token).await;
        if info["audio_tracks"].as_array().map_or(0, Vec::len) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(info["audio_tracks"][1]["label"], "French", "{info}");
    if info["transcoding"]["available"] != true {
        eprintln!("skipping the HLS switch: {}", info["transcoding"]["reason"]);
        return;
    }
    let c = browser(&driver).await;
    let run = async {
        crate::browser::log_in(&c, &app, "hls@example.com", PASSWORD).await;
        wait_text(&c, "main h1", |t| t.starts_with("Welcome")).await;
        c.goto(&app.url(&format!("/watch/{ep}"))).await.unwrap();
        wait_for(&c, "#audio-wrap:not([hidden])").await;
        js(
            &c,
            "const o = HTMLMediaElement.prototype.canPlayType;
             HTMLMediaElement.prototype.canPlayType = function (t) { return /mpegurl/i.test(t) ? '' : o.call(this, t); };",
        )
        .await;
        c.find(Locator::Css("#vb-play"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_js(
            &c,
            "playing the file",
            "document.getElementById('video').currentTime >= 2",
        )
        .await;
        let src = js(&c, "return document.getElementById('video').currentSrc;").await;
        assert!(
            src.as_str().unwrap().contains(&format!("/media/{ep}?")),
            "{src}"
        );
        c.find(Locator::Css("#audio-button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let items = c
            .find_all(Locator::Css("#audio-menu [role=menuitemradio]"))
            .await
            .unwrap();
        let mut names = Vec::new();
        for i in &items {
            names.push(i.text().await.unwrap());
        }
        assert_eq!(names, ["English", "French"]);
        let before = current_time(&c).await;
        items[1].click().await.unwrap();
        wait_js(
            &c,
            "hls.js playing the French track",
            "!!window.Hls && document.getElementById('video').currentSrc.startsWith('blob:') && !document.getElementById('video').paused && document.getElementById('video').readyState >= 3",
        )
        .await;
        let after = current_time(&c).await;
        assert!(
            after >= before - 0.5 && after < before + 4.0,
            "switched at {before} s, playing at {after} s"
        );
        wait_js(
            &c,
            "moving on",
            &format!(
                "document.getElementById('video').currentTime > {}",
                after + 1.0
            ),
        )
        .await;
        assert_eq!(
            js(
                &c,
                "return document.querySelector('#audio-menu [aria-checked=true]').textContent;"
            )
            .await,
            "French"
        );
        let status = c
            .find(Locator::Css("#status"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(status, "Playing on this browser");
    };
    run.await;
    c.close().await.unwrap();
}

/// A device registered without a name is named from its browser, counting
/// up; the viewer renames it; names stay unique within the profile and
/// another profile's device cannot be renamed.
#[tokio::test]
async fn devices_get_friendly_names_and_can_be_renamed() {
    let app = TestApp::builder().start().await;
    let token = app.signup("names@example.com").await;
    let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
    let mut ids = Vec::new();
    for want in ["Chrome on Linux", "Chrome on Linux 2"] {
        let r = app
            .req(Method::POST, "/api/v1/devices", Some(&token))
            .header(reqwest::header::USER_AGENT, chrome)
            .json(&json!({"kind": "web"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["name"], want, "{v}");
        ids.push(v["id"].as_i64().unwrap());
    }
    let (s, v) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/devices/{}", ids[1]),
        &token,
        Some(json!({"name": "Work laptop"})),
    )
    .await;
    assert_eq!((s, v["name"].as_str()), (200, Some("Work laptop")), "{v}");
    // Taken, empty, hidden characters.
    for (name, status) in [
        ("Chrome on Linux", 409),
        ("", 400),
        ("Work\u{200b} laptop", 400),
    ] {
        let (s, v) = call(
            &app,
            Method::PATCH,
            &format!("/api/v1/devices/{}", ids[1]),
            &token,
            Some(json!({"name": name})),
        )
        .await;
        assert_eq!(s, status, "{name:?}: {v}");
        assert_eq!(v["error"]["field"], "name", "{v}");
    }
    // Someone else's device.
    let other = app.signup("other@example.com").await;
    let (s, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/devices/{}", ids[0]),
        &other,
        Some(json!({"name": "Mine now"})),
    )
    .await;
    assert_eq!(s, 404);
    let names: Vec<String> = get(&app, "/api/v1/devices", &token)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"Chrome on Linux".to_string()), "{names:?}");
    assert!(names.contains(&"Work laptop".to_string()), "{names:?}");
}

/// Opens device `token`'s live events and waits for the first frame.
async fn listen(app: &TestApp, token: &str) -> (reqwest::Response, String) {
    let mut sse = app
        .req(Method::GET, "/api/v1/events", Some(token))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let mut buf = String::new();
    sse_until(&mut sse, &mut buf, |e, _| e == "streams").await;
    (sse, buf)
}

/// "Stop playback there": the phone stops the TV's stream; the TV's live
/// events say so at once, naming the phone; the stream has ended.
#[tokio::test]
async fn stop_playback_there_reaches_the_other_devices_events() {
    let app = TestApp::builder().start().await;
    let title = app.add_title("Night Train").await;
    let phone_session = app.signup("remote@example.com").await;
    let tv_session = app.login("remote@example.com").await;
    // Each session registers its own device (and is bound to it).
    let phone = device(&app, &phone_session, "Phone", "phone").await;
    let tv = device(&app, &tv_session, "Living-room TV", "tv").await;
    let (mut sse, mut buf) = listen(&app, &tv_session).await;
    let playing = started(&app, &tv_session, title, tv).await;

    // The stream list: every field, and whose device it is.
    let list = get(&app, "/api/v1/streams", &phone_session).await;
    let s = &list.as_array().unwrap()[0];
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(s["play_session_id"], playing);
    assert_eq!(s["device_id"], tv);
    assert_eq!(s["device_name"], "Living-room TV");
    assert_eq!(s["profile_name"], "remote");
    assert_eq!(s["title_id"], title);
    assert_eq!(s["title_name"], "Night Train");
    assert!(s["started_at"].as_i64().unwrap() > 0);
    assert!(s["updated_at"].as_i64().unwrap() >= s["started_at"].as_i64().unwrap());
    assert_eq!(s["this_device"], false);
    let on_tv = get(&app, "/api/v1/streams", &tv_session).await;
    assert_eq!(on_tv[0]["this_device"], true, "{on_tv}");
    let named = get(
        &app,
        &format!("/api/v1/streams?device_id={tv}"),
        &phone_session,
    )
    .await;
    assert_eq!(named[0]["this_device"], true, "{named}");

    let (s, v) = post(
        &app,
        &format!("/api/v1/streams/{playing}/stop"),
        &phone_session,
        json!({"from_device_id": phone}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["ended"].as_bool(), v["device_id"].as_i64()),
        (Some(true), Some(tv))
    );
    // Keep-alives never let `sse_until` time out by itself: bound the wait.
    let ev = tokio::time::timeout(
        Duration::from_secs(10),
        sse_until(&mut sse, &mut buf, |e, v| {
            e == "playback" && v["kind"] == "remote_stop"
        }),
    )
    .await
    .expect("no remote_stop event on the TV's stream");
    assert_eq!(ev["play_session_id"], playing);
    assert_eq!(ev["device_id"], tv);
    assert_eq!(ev["stopped_by"], "Phone");
    // The TV's stream has ended: its next report is refused, the list is empty.
    let (code, _) = progress(&app, &tv_session, playing, 1_000, crate::helpers::now_ms()).await;
    assert_eq!(code, 409);
    assert_eq!(
        get(&app, "/api/v1/streams", &phone_session).await,
        json!([])
    );
    // Stopping it again: 404.
    let (s, v) = post(
        &app,
        &format!("/api/v1/streams/{playing}/stop"),
        &phone_session,
        json!({}),
    )
    .await;
    assert_eq!(s, 404, "{v}");
    // Ended the way a stop report ends a stream.
    let log = get(
        &app,
        &format!("/api/v1/playback/events?title_id={title}"),
        &tv_session,
    )
    .await;
    let kinds: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["start", "stop"]);

    // Without a body, the stopping session's own device is named.
    let again = started(&app, &tv_session, title, tv).await;
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/streams/{again}/stop"),
            Some(&phone_session),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let ev = tokio::time::timeout(
        Duration::from_secs(10),
        sse_until(&mut sse, &mut buf, |e, v| {
            e == "playback" && v["kind"] == "remote_stop" && v["play_session_id"] == again
        }),
    )
    .await
    .expect("no remote_stop event on the TV's stream");
    assert_eq!(ev["stopped_by"], "Phone");
}

/// Another account's stream cannot be stopped (404, still playing), nor can
/// another account's device be named as the one it is stopped from.
#[tokio::test]
async fn another_accounts_stream_is_not_found() {
    let app = TestApp::builder().start().await;
    let title = app.add_title("Night Train").await;
    let owner = app.signup("owner@example.com").await;
    let stranger = app.signup("stranger@example.com").await;
    let tv = device(&app, &owner, "TV", "tv").await;
    let theirs = device(&app, &stranger, "Their phone", "phone").await;
    let playing = started(&app, &owner, title, tv).await;
    let (s, v) = post(
        &app,
        &format!("/api/v1/streams/{playing}/stop"),
        &stranger,
        json!({}),
    )
    .await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(get(&app, "/api/v1/streams", &stranger).await, json!([]));
    let (s, v) = post(
        &app,
        &format!("/api/v1/streams/{playing}/stop"),
        &owner,
        json!({"from_device_id": theirs}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["field"], "from_device_id");
    let (s, v) = post(&app, "/api/v1/streams/999999/stop", &owner, json!({})).await;
    assert_eq!(s, 404, "{v}");
    // Anonymous: 401.
    assert_eq!(app.get("/api/v1/streams", None).await.status(), 401);
    let r = app
        .post_json(&format!("/api/v1/streams/{playing}/stop"), None, &json!({}))
        .await;
    assert_eq!(r.status(), 401);
    // Unknown fields are refused, naming them.
    let (s, v) = post(
        &app,
        &format!("/api/v1/streams/{playing}/stop"),
        &owner,
        json!({"device": 1}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("device")),
        "{v}"
    );
    // Still playing.
    assert_eq!(
        progress(&app, &owner, playing, 1_000, crate::helpers::now_ms())
            .await
            .0,
        200
    );
    assert_eq!(
        get(&app, "/api/v1/streams", &owner)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// A stream-cap refusal lists the blocking streams by id and says whether a
/// bigger plan exists; stopping one of them lets the start through.
#[tokio::test]
async fn cap_refusal_lists_streams_and_stopping_one_lets_playback_start() {
    let app = TestApp::builder().start().await;
    let title = app.add_title("Night Train").await;
    let basic = account_with_plan(&app, "basic@example.com", Plan::Basic).await;
    let tv = device(&app, &basic, "TV", "tv").await;
    let phone = device(&app, &basic, "Phone", "phone").await;
    let on_tv = started(&app, &basic, title, tv).await;
    let (code, v) = start(&app, &basic, title, phone, false).await;
    assert_eq!(code, 409, "{v}");
    let blocking = v["active_streams"].as_array().unwrap();
    assert_eq!(blocking.len(), 1, "{v}");
    assert_eq!(blocking[0]["play_session_id"], on_tv);
    assert_eq!(blocking[0]["device_name"], "TV");
    assert_eq!(v["upgrade_available"], true);
    assert_eq!(v["still_watching"], false);
    let (s, r) = post(
        &app,
        &format!("/api/v1/streams/{on_tv}/stop"),
        &basic,
        json!({"from_device_id": phone}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let (code, v) = start(&app, &basic, title, phone, false).await;
    assert_eq!(code, 201, "{v}");

    // The biggest plan offers no upgrade.
    let premium = account_with_plan(&app, "premium@example.com", Plan::Premium).await;
    for i in 0..4 {
        let d = device(&app, &premium, &format!("P{i}"), "tv").await;
        started(&app, &premium, title, d).await;
    }
    let d = device(&app, &premium, "P4", "tv").await;
    let (code, v) = start(&app, &premium, title, d, false).await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["active_streams"].as_array().unwrap().len(), 4);
    assert_eq!(v["upgrade_available"], false);
}
