//! The personal home page: rows, filters, de-duplication, instant feedback,
//! cold start, training and model swap, experiments and their metrics.

use crate::browser::{browser, start_driver, wait_for};
use crate::helpers::{error_of, TestApp};
use marquee_domain::{Role, SystemClock};
use marquee_server::recs::experiments::{assign, Variant};
use marquee_server::recs::metrics::{compute, wilson};
use marquee_server::Config;
use marquee_store::home::{Click, ExperimentLog, Impression, PlayRecord};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Item-kNN trains in about a second even unoptimised; the default EASE model
/// is for release builds.
const TEST_MODEL: &str = "knn:k=100";

pub(crate) fn config() -> Config {
    let mut c = Config::default();
    c.recs.model = TEST_MODEL.into();
    c.recs.retrain_interval_s = 0;
    c.recs.flush_interval_ms = 50;
    c
}

/// The test model, trained once per test binary; each test's server loads it
/// from its data directory at start, as after a restart.
static MODEL: tokio::sync::OnceCell<Vec<u8>> = tokio::sync::OnceCell::const_new();

pub(crate) async fn trained_demo() -> TestApp {
    let bytes = MODEL
        .get_or_init(|| async {
            let app = TestApp::builder().demo().config(config()).start().await;
            let (rec, run) = marquee_server::recs::train(
                app.store().as_ref(),
                TEST_MODEL,
                42,
                Arc::new(|_: &str, _, _| {}),
            )
            .await
            .unwrap();
            assert!(run.interactions > 10_000);
            rec.to_bytes()
        })
        .await;
    let app = TestApp::builder()
        .demo()
        .config(config())
        .train_on_start()
        .prepare(move |state| {
            let path = state.recs.model_path(TEST_MODEL);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
        })
        .start()
        .await;
    tokio::time::timeout(Duration::from_secs(300), app.state.recs.wait_trained())
        .await
        .expect("the recommender trains");
    app
}

pub(crate) async fn demo_login(app: &TestApp, n: u32) -> (String, i64) {
    let r = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": format!("viewer{n}@demo.marquee"), "password": "marquee-demo"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let profiles: Value = app
        .get("/api/v1/profiles", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let pid = profiles[0]["id"].as_i64().unwrap();
    (token, pid)
}

pub(crate) async fn home(app: &TestApp, token: &str, pid: i64) -> Value {
    let r = app
        .get(&format!("/api/v1/profiles/{pid}/home"), Some(token))
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

pub(crate) fn rows(page: &Value) -> &Vec<Value> {
    page["rows"].as_array().unwrap()
}

pub(crate) fn ids_of(page: &Value) -> Vec<i64> {
    rows(page)
        .iter()
        .flat_map(|r| r["items"].as_array().unwrap().iter())
        .map(|i| i["title_id"].as_i64().unwrap())
        .collect()
}

fn keys(page: &Value) -> Vec<String> {
    rows(page)
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_string())
        .collect()
}

pub(crate) async fn feedback(
    app: &TestApp,
    token: &str,
    pid: i64,
    items: Value,
) -> reqwest::Response {
    app.post_json(
        "/api/v1/feedback",
        Some(token),
        &json!({"profile_id": pid, "items": items}),
    )
    .await
}

async fn seen(app: &TestApp, pid: i64) -> HashSet<i64> {
    app.store()
        .history(pid, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.title.id)
        .collect()
}

#[tokio::test]
async fn seen_and_hidden_titles_never_appear_and_no_title_twice() {
    let app = trained_demo().await;
    let (token, pid) = demo_login(&app, 1).await;
    let watched = seen(&app, pid).await;
    assert!(watched.len() > 20);
    let page = home(&app, &token, pid).await;
    assert_eq!(page["cold_start"], false);
    let k = keys(&page);
    assert!(k.contains(&"top_picks".to_string()), "{k:?}");
    assert!(k.iter().any(|k| k.starts_with("because:")), "{k:?}");
    assert!(k.iter().any(|k| k.starts_with("genre:")), "{k:?}");
    assert!(k.contains(&"new_arrivals".to_string()), "{k:?}");
    assert!(k.contains(&"trending".to_string()), "{k:?}");
    assert!(k.contains(&"top10".to_string()), "{k:?}");
    // Evidence names a watched title.
    let first = &rows(&page)[0]["items"][0];
    let because = first["because"]["title_id"].as_i64().unwrap();
    assert!(watched.contains(&because));

    // Hide two titles the page shows.
    let ids = ids_of(&page);
    let hidden = [ids[0], ids[ids.len() - 1]];
    let r = feedback(
        &app,
        &token,
        pid,
        json!([{"title_id": hidden[0], "action": "hide"}, {"title_id": hidden[1], "action": "hide"}]),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let page = home(&app, &token, pid).await;
    let ids = ids_of(&page);
    let unique: HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a title appears twice");
    for id in &ids {
        assert!(!watched.contains(id), "watched title {id} recommended");
        assert!(!hidden.contains(id), "hidden title {id} recommended");
    }
    // The recommendations API keeps the same filters, deep into the ranking.
    for offset in [0, 100] {
        let r: Value = app
            .get(
                &format!("/api/v1/profiles/{pid}/recommendations?n=100&offset={offset}"),
                Some(&token),
            )
            .await
            .json()
            .await
            .unwrap();
        let items = r["items"].as_array().unwrap();
        assert_eq!(items.len(), 100);
        for i in items {
            let id = i["title_id"].as_i64().unwrap();
            assert!(!watched.contains(&id) && !hidden.contains(&id), "{id}");
        }
    }
    // Unhide brings a title back into the candidates.
    feedback(
        &app,
        &token,
        pid,
        json!([{"title_id": hidden[0], "action": "unhide"}]),
    )
    .await;
    let r: Value = app
        .get(
            &format!("/api/v1/profiles/{pid}/recommendations?n=100"),
            Some(&token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(r["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["title_id"] == hidden[0]));
}

#[tokio::test]
async fn thumbs_down_removes_the_title_and_changes_the_evidence_at_once() {
    let app = trained_demo().await;
    let (token, pid) = demo_login(&app, 1).await;
    let page = home(&app, &token, pid).await;
    let picks = rows(&page)
        .iter()
        .find(|r| r["key"] == "top_picks")
        .unwrap()
        .clone();
    let y = picks["items"][0]["title_id"].as_i64().unwrap();
    let because_row = rows(&page)
        .iter()
        .find(|r| r["key"].as_str().unwrap().starts_with("because:"))
        .unwrap()
        .clone();
    let x = because_row["evidence"]["title_id"].as_i64().unwrap();
    assert!(because_row["title"]
        .as_str()
        .unwrap()
        .starts_with("Because you watched "));

    let r = feedback(
        &app,
        &token,
        pid,
        json!([{"title_id": y, "action": "down"}, {"title_id": x, "action": "down"}]),
    )
    .await;
    assert_eq!(r.status(), 200);

    // The very next load, no retraining: Y is gone, X is no longer evidence.
    let gen_before = app.state.recs.snapshot().generation;
    let page = home(&app, &token, pid).await;
    assert_eq!(app.state.recs.snapshot().generation, gen_before);
    assert!(
        !ids_of(&page).contains(&y),
        "thumbed-down title still shown"
    );
    for row in rows(&page) {
        assert_ne!(row["evidence"]["title_id"].as_i64(), Some(x), "{row}");
        for i in row["items"].as_array().unwrap() {
            assert_ne!(i["because"]["title_id"].as_i64(), Some(x));
        }
    }
    let first_because = rows(&page)
        .iter()
        .find(|r| r["key"].as_str().unwrap().starts_with("because:"))
        .unwrap();
    assert_ne!(first_because["evidence"]["title_id"].as_i64(), Some(x));
}

#[tokio::test]
async fn onboarding_turns_popular_rows_into_personal_rows() {
    let app = trained_demo().await;
    let token = app.signup("new@example.com").await;
    let profiles: Value = app
        .get("/api/v1/profiles", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let pid = profiles[0]["id"].as_i64().unwrap();

    let page = home(&app, &token, pid).await;
    assert_eq!(page["cold_start"], true);
    assert_eq!(page["needs_onboarding"], true);
    let k = keys(&page);
    assert!(!k.contains(&"top_picks".to_string()));
    assert!(k.iter().any(|k| k.starts_with("popular_genre:")), "{k:?}");

    // Fewer than three picks: 400 naming the field.
    let r = app
        .post_json(
            &format!("/api/v1/profiles/{pid}/onboarding"),
            Some(&token),
            &json!({"title_ids": [1, 2]}),
        )
        .await;
    let (status, _, field) = error_of(r).await;
    assert_eq!((status, field.as_deref()), (400, Some("title_ids")));

    let popular: Value = app
        .get("/api/v1/titles?genre=Sci-Fi&limit=3", None)
        .await
        .json()
        .await
        .unwrap();
    let picks: Vec<i64> = popular["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(picks.len(), 3);
    let r = app
        .post_json(
            &format!("/api/v1/profiles/{pid}/onboarding"),
            Some(&token),
            &json!({ "title_ids": picks }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["cold_start"], false);
    assert_eq!(page["needs_onboarding"], false);
    let k = keys(&page);
    assert!(k.contains(&"top_picks".to_string()), "{k:?}");
    let evidence: HashSet<i64> = rows(&page)
        .iter()
        .flat_map(|r| r["items"].as_array().unwrap().iter())
        .filter_map(|i| i["because"]["title_id"].as_i64())
        .collect();
    assert!(!evidence.is_empty() && evidence.iter().all(|e| picks.contains(e)));
    for id in ids_of(&page) {
        assert!(!picks.contains(&id), "a pick is recommended back");
    }
    // Picks were liked, not watched: their rows say so.
    let because: Vec<String> = rows(&page)
        .iter()
        .filter(|r| r["key"].as_str().unwrap().starts_with("because:"))
        .map(|r| r["title"].as_str().unwrap().to_string())
        .collect();
    assert!(!because.is_empty(), "{k:?}");
    assert!(
        because.iter().all(|t| t.starts_with("Because you liked ")),
        "{because:?}"
    );
    // The Top 10 counts what it shows: 1 to 10, no gaps.
    let top = rows(&page)
        .iter()
        .find(|r| r["key"] == "top10")
        .expect("a Top 10 row")
        .clone();
    let ranks: Vec<i64> = top["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["rank"].as_i64().unwrap())
        .collect();
    assert_eq!(ranks, (1..=ranks.len() as i64).collect::<Vec<_>>());
    assert!(ranks.len() <= 10);
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field() {
    let app = trained_demo().await;
    let (token, pid) = demo_login(&app, 1).await;
    let other = app.signup("other@example.com").await;

    let r = app.get("/api/v1/profiles/999999/home", Some(&token)).await;
    assert_eq!(r.status(), 404);
    let r = app
        .get(&format!("/api/v1/profiles/{pid}/home"), Some(&other))
        .await;
    assert_eq!(r.status(), 403);
    let r = app
        .get(
            &format!("/api/v1/profiles/{pid}/recommendations"),
            Some(&other),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app.get(&format!("/api/v1/profiles/{pid}/home"), None).await;
    assert_eq!(r.status(), 401);

    let path = |q: &str| format!("/api/v1/profiles/{pid}/recommendations?{q}");
    for (q, field) in [
        ("n=101", "n"),
        ("n=0", "n"),
        ("n=abc", "n"),
        ("offset=5000", "offset"),
        ("exclude=1,x", "exclude"),
    ] {
        let (status, _, f) = error_of(app.get(&path(q), Some(&token)).await).await;
        assert_eq!((status, f.as_deref()), (400, Some(field)), "{q}");
    }
    // Unknown categories are ignored and reported.
    let r: Value = app
        .get(&path("category=Comedy,Nope&n=30"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert!(r["warnings"][0].as_str().unwrap().contains("Nope"));
    let items = r["items"].as_array().unwrap();
    assert_eq!(items.len(), 30);
    assert!(items.iter().all(|i| i["genres"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g == "Comedy")));
    // exclude leaves titles out.
    let first = items[0]["title_id"].as_i64().unwrap();
    let r: Value = app
        .get(
            &path(&format!("category=Comedy&exclude={first}")),
            Some(&token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(r["warnings"].as_array().unwrap().is_empty());
    assert!(r["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["title_id"] != first));

    // Similar titles.
    assert_eq!(
        app.get("/api/v1/titles/99999999/similar", None)
            .await
            .status(),
        404
    );
    let (s, _, f) = error_of(app.get("/api/v1/titles/1/similar?n=101", None).await).await;
    assert_eq!((s, f.as_deref()), (400, Some("n")));
    let r: Value = app
        .get(&format!("/api/v1/titles/{first}/similar?n=10"), None)
        .await
        .json()
        .await
        .unwrap();
    let sim = r["items"].as_array().unwrap();
    assert_eq!(sim.len(), 10);
    assert!(sim.iter().all(|i| i["title_id"] != first));

    // Feedback: a bad action names its item; a batch with an unknown title writes nothing.
    let r = feedback(
        &app,
        &token,
        pid,
        json!([{"title_id": first, "action": "meh"}]),
    )
    .await;
    let (s, _, f) = error_of(r).await;
    assert_eq!((s, f.as_deref()), (400, Some("items[0].action")));
    let r = feedback(
        &app,
        &token,
        pid,
        json!([{"title_id": first, "action": "up"}, {"title_id": 99999999, "action": "down"}]),
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(app.store().feedback(pid, first).await.unwrap(), None);
    let r = feedback(&app, &token, pid, json!([])).await;
    let (s, _, f) = error_of(r).await;
    assert_eq!((s, f.as_deref()), (400, Some("items")));
    let r = app
        .post_json(
            "/api/v1/feedback",
            Some(&other),
            &json!({"profile_id": pid, "items": [{"title_id": first, "action": "up"}]}),
        )
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn experiment_assignment_is_stable_and_metrics_match_the_log() {
    let app = trained_demo().await;
    let staff = app.login_as("boss@example.com", Role::Admin).await;
    let new = |variants: Value| json!({"name": "rows first", "target": "row_order", "variants": variants});
    for (variants, field) in [
        (json!([{"name": "a", "rows": ["top_picks"]}]), "variants"),
        (
            json!([{"name": "a", "rows": ["top_picks"]}, {"name": "b", "rows": ["nope"]}]),
            "variants[1].rows",
        ),
        (
            json!([{"name": "a", "rows": ["top_picks"]}, {"name": "a", "rows": ["top10"]}]),
            "variants[1].name",
        ),
    ] {
        let r = app
            .post_json("/api/v1/staff/experiments", Some(&staff), &new(variants))
            .await;
        let (s, _, f) = error_of(r).await;
        assert_eq!((s, f.as_deref()), (400, Some(field)));
    }
    let variants = json!([
        {"name": "control", "rows": ["top_picks"]},
        {"name": "new_first", "rows": ["new_arrivals", "top_picks"]}
    ]);
    let r = app
        .post_json(
            "/api/v1/staff/experiments",
            Some(&staff),
            &new(variants.clone()),
        )
        .await;
    assert_eq!(r.status(), 201);
    let exp: Value = r.json().await.unwrap();
    let exp_id = exp["id"].as_i64().unwrap();
    let vs: Vec<Variant> = serde_json::from_value(variants).unwrap();
    // A second one while it runs: 409.
    let r = app
        .post_json(
            "/api/v1/staff/experiments",
            Some(&staff),
            &json!({"name": "other", "target": "row_order", "variants": [{"name": "x", "rows": ["top10"]}, {"name": "y", "rows": ["trending"]}]}),
        )
        .await;
    assert_eq!(r.status(), 409);
    // Viewers cannot see experiments.
    let (viewer, _) = demo_login(&app, 2).await;
    assert_eq!(
        app.get("/api/v1/staff/experiments", Some(&viewer))
            .await
            .status(),
        403
    );

    // Known event log: each profile loads its page twice and clicks its first title.
    // Per variant: impressed pairs, clicked pairs, pages.
    type Expected = (HashSet<(i64, i64)>, HashSet<(i64, i64)>, u64);
    let mut expected: std::collections::HashMap<String, Expected> = Default::default();
    let mut seen_variants = HashSet::new();
    for n in 1..=8 {
        let (token, pid) = demo_login(&app, n).await;
        let a = home(&app, &token, pid).await;
        let b = home(&app, &token, pid).await;
        let va = a["experiments"][0]["variant"].as_str().unwrap().to_string();
        assert_eq!(
            b["experiments"][0]["variant"],
            va.as_str(),
            "assignment moved"
        );
        assert_eq!(vs[assign(exp_id, pid, &vs)].name, va);
        seen_variants.insert(va.clone());
        let first_key = keys(&a)[0].clone();
        let want = if va == "control" {
            "top_picks"
        } else {
            "new_arrivals"
        };
        assert_eq!(first_key, want, "variant {va} row order");
        let e = expected.entry(va).or_default();
        e.2 += 2;
        for page in [&a, &b] {
            for id in ids_of(page) {
                e.0.insert((pid, id));
            }
        }
        let clicked = ids_of(&a)[0];
        e.1.insert((pid, clicked));
        let r = feedback(
            &app,
            &token,
            pid,
            json!([{"title_id": clicked, "action": "click", "row": first_key},
                   {"title_id": clicked, "action": "click", "row": first_key}]),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        seen_variants.len(),
        2,
        "8 profiles should land in both variants"
    );
    // Impressions are logged in batches after the page is served: wait
    // (up to 10 s) until every page served above is counted.
    let want_pages: u64 = expected.values().map(|e| e.2).sum();
    let mut reports = Value::Null;
    for _ in 0..200 {
        reports = app
            .get("/api/v1/staff/experiments", Some(&staff))
            .await
            .json()
            .await
            .unwrap();
        let counted: u64 = reports[0]["metrics"]
            .as_array()
            .map(|ms| ms.iter().filter_map(|m| m["pages"].as_u64()).sum())
            .unwrap_or(0);
        if counted >= want_pages {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let metrics = reports[0]["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 2);
    for m in metrics {
        let (impressed, clicked, pages) = &expected[m["variant"].as_str().unwrap()];
        assert_eq!(m["pages"].as_u64(), Some(*pages));
        assert_eq!(m["impressed"].as_u64(), Some(impressed.len() as u64));
        assert_eq!(m["ctr"]["k"].as_u64(), Some(clicked.len() as u64));
        assert_eq!(m["ctr"]["n"].as_u64(), Some(impressed.len() as u64));
        let w = wilson(clicked.len() as u64, impressed.len() as u64);
        assert!((m["ctr"]["low"].as_f64().unwrap() - w.low).abs() < 1e-12);
        assert_eq!(m["play_start"]["k"], 0);
    }
    // Stopping keeps the report; pages no longer carry the experiment.
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/staff/experiments/{exp_id}/stop"),
            Some(&staff),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (token, pid) = demo_login(&app, 1).await;
    assert!(home(&app, &token, pid).await["experiments"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn metrics_on_a_known_event_log() {
    let exp = |v: &str| Some((1, v.to_string()));
    let imp = |p: i64, v: &str, ids: Vec<i64>, at: i64| Impression {
        profile_id: p,
        surface: "home",
        experiment: exp(v),
        rows: vec![("top_picks".into(), ids), ("trending".into(), vec![99])],
        at,
    };
    let click = |p: i64, t: i64, v: &str, at: i64| Click {
        profile_id: p,
        title_id: t,
        row_key: "top_picks".into(),
        experiment: exp(v),
        at,
    };
    let play = |p: i64, t: i64, at: i64, completed: bool| PlayRecord {
        profile_id: p,
        title_id: t,
        started_at: at,
        completed,
    };
    let day = 86_400_000;
    let log = ExperimentLog {
        impressions: vec![
            imp(1, "a", vec![10, 11, 12, 13], 1000),
            imp(1, "a", vec![10, 11, 12, 13], 2000), // a reload: no new pairs
            imp(2, "a", vec![10, 20, 21, 22], 1000),
            imp(3, "b", vec![30, 31], 1000),
        ],
        clicks: vec![
            click(1, 10, "a", 1500),
            click(1, 10, "a", 1600), // twice: one clicked pair
            click(2, 20, "a", 900),  // before its impression: not attributed
            click(3, 30, "b", 1100),
            click(3, 99, "b", 1100), // the trending row is outside Top Picks
        ],
        plays: vec![
            play(1, 10, 1700, true),
            play(1, 11, 1800, false),
            play(2, 21, 1000 + 8 * day, true), // outside the 7-day window
            play(2, 22, 500, true),            // before the impression
            play(3, 31, 5000, true),
        ],
    };
    let m = compute(
        &["a".to_string(), "b".to_string()],
        &log,
        Some(&["top_picks"]),
        7 * day,
    );
    let a = &m[0];
    assert_eq!((a.profiles, a.pages, a.impressed), (2, 3, 8));
    assert_eq!((a.ctr.k, a.ctr.n), (1, 8));
    assert_eq!((a.play_start.k, a.play_start.n), (2, 8));
    assert_eq!((a.completion.k, a.completion.n), (1, 2));
    assert_eq!(a.ctr.value, 0.125);
    let b = &m[1];
    assert_eq!(
        (b.impressed, b.ctr.k, b.play_start.k, b.completion.k),
        (2, 1, 1, 1)
    );
    // The whole page (row-order experiments) counts the trending row too.
    let m = compute(&["b".to_string()], &log, None, 7 * day);
    assert_eq!((m[0].impressed, m[0].ctr.k), (3, 2));
}

#[tokio::test]
async fn training_swaps_the_model_in_while_serving_and_persists_it() {
    let app = trained_demo().await;
    let staff = app.login_as("ops@example.com", Role::Agent).await;
    let status: Value = app
        .get("/api/v1/staff/recs", Some(&staff))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["ready"], true);
    // Served from the model file: no training at start.
    assert!(status["runs"].as_array().unwrap().is_empty());
    let path = app.state.recs.model_path(TEST_MODEL);
    let saved = std::fs::metadata(&path).unwrap().modified().unwrap();

    let (token, pid) = demo_login(&app, 3).await;
    let mut rx = app.state.recs.subscribe();
    let before = *rx.borrow_and_update();
    let r = app
        .req(Method::POST, "/api/v1/staff/recs/train", Some(&staff))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // Pages keep being served while it trains, then the new model is swapped in.
    let mut served = 0;
    loop {
        assert_eq!(
            app.get(&format!("/api/v1/profiles/{pid}/home"), Some(&token))
                .await
                .status(),
            200
        );
        served += 1;
        if *rx.borrow() > before && !app.state.recs.progress().running {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
    }
    assert!(served >= 1);
    app.state.recs.wait_trained().await;
    let status: Value = app
        .get("/api/v1/staff/recs", Some(&staff))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["runs"][0]["trigger"], "staff");
    assert_eq!(status["runs"][0]["ok"], true);
    assert!(status["runs"][0]["interactions"].as_i64().unwrap() > 10_000);
    assert!(std::fs::metadata(&path).unwrap().modified().unwrap() > saved);
    let runs = status["runs"].as_array().unwrap().len();

    // A restart on the same data directory serves the saved model without training.
    let state2 = marquee_server::AppState::new(
        app.state.store.clone(),
        (*app.state.config).clone(),
        Arc::new(SystemClock),
    )
    .unwrap();
    marquee_server::recs::start(&state2);
    tokio::time::timeout(Duration::from_secs(60), state2.recs.wait_trained())
        .await
        .unwrap();
    assert_eq!(app.store().training_runs(100).await.unwrap().len(), runs);
}

#[tokio::test]
async fn pages_home_onboarding_staff_and_more_like_this() {
    let app = trained_demo().await;
    let (token, pid) = demo_login(&app, 1).await;
    let html = app.get("/", Some(&token)).await.text().await.unwrap();
    assert!(
        html.contains("Top Picks for"),
        "{}",
        &html[..html.len().min(2000)]
    );
    assert!(html.contains("Because you watched"));
    assert!(html.contains("class=\"card rec-card\""));
    let _ = pid;
    let frag = app
        .get("/titles/1/more-like-this", Some(&token))
        .await
        .text()
        .await
        .unwrap();
    assert!(frag.contains("More like this") && frag.contains("data-title-id"));
    let r = app.get("/onboarding", Some(&token)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("name=\"title_id\""));
    let staff = app.login_as("s@example.com", Role::Agent).await;
    let html = app
        .get("/staff/recs", Some(&staff))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"recs-ready\""));
    // Names with markup are escaped.
    assert!(!html.contains("<script>"));
}

#[tokio::test]
async fn browser_thumbs_down_removes_the_card() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = trained_demo().await;
    let c = browser(&driver).await;
    let run = async {
        crate::browser::log_in(&c, &app, "viewer1@demo.marquee", "marquee-demo").await;
        let card = wait_for(&c, "section[data-row=top_picks] .rec-card").await;
        let id = card.attr("data-title-id").await.unwrap().unwrap();
        let sel = format!(".rec-card[data-title-id=\"{id}\"]");
        // One "⋯" per card opens the page's menu.
        card.find(fantoccini::Locator::Css(".card-more"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, "#card-menu:not([hidden]) .thumb-down")
            .await
            .click()
            .await
            .unwrap();
        // It disappears without a reload...
        let mut gone = false;
        for _ in 0..100 {
            if c.find_all(fantoccini::Locator::Css(&sel))
                .await
                .unwrap()
                .is_empty()
            {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone, "the card is still there");
        // ...and stays gone on the next load.
        c.goto(&app.url("/")).await.unwrap();
        wait_for(&c, "section[data-row=top_picks] .rec-card").await;
        assert!(c
            .find_all(fantoccini::Locator::Css(&sel))
            .await
            .unwrap()
            .is_empty());
    };
    run.await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn kids_profiles_only_get_childrens_titles() {
    let app = trained_demo().await;
    let (token, _) = demo_login(&app, 1).await;
    let r = app
        .post_json(
            "/api/v1/profiles",
            Some(&token),
            &json!({"name": "Kids", "is_kids": true}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let kid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let page = home(&app, &token, kid).await;
    let items: Vec<&Value> = rows(&page)
        .iter()
        .flat_map(|r| r["items"].as_array().unwrap().iter())
        .collect();
    assert!(items.len() > 20);
    for i in items {
        let g: Vec<&str> = i["genres"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap())
            .collect();
        assert!(g.contains(&"Children") && !g.contains(&"Horror"), "{i}");
    }
    // The recommendations API applies the same maturity filter.
    let r: Value = app
        .get(
            &format!("/api/v1/profiles/{kid}/recommendations?n=50"),
            Some(&token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(r["items"].as_array().unwrap().iter().all(|i| i["genres"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g == "Children")));
}
