//! The maturity matrix (#21), in the style of the role matrix: a kids
//! profile never receives a title above its band, on any route, page or
//! API; the same titles reach an adult profile of the same account.

use crate::helpers::TestApp;
use marquee_domain::Role;
use marquee_server::import::NoProgress;
use marquee_server::library::{art, Importer};
use marquee_server::TITLE_ROUTES;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;

/// A feed with one title of each band: G and TV-Y7 are for kids; PG-13, R,
/// TV-MA and an unrated drama are not; an unrated children's film is (by
/// its genre, as the MovieLens demo's are).
fn feed() -> String {
    let line = |name: &str, rating: Option<&str>, genre: &str, id: u32| {
        let mut v = json!({"type": "movie", "name": name, "genres": [genre],
                           "ids": {"tmdb": id.to_string()}, "runtime_min": 90});
        if let Some(r) = rating {
            v["maturity"] = json!(r);
        }
        v.to_string()
    };
    [
        r#"{"format": "marquee-catalog", "version": 1}"#.to_string(),
        line("Meadow Friends", Some("G"), "Children", 1),
        line("Robot Recess", Some("TV-Y7"), "Animation", 2),
        line("Lantern Parade", None, "Children", 3),
        line("Quarry Nights", Some("PG-13"), "Drama", 4),
        line("Blood Orchard", Some("R"), "Children", 5),
        line("Static Hour", Some("TV-MA"), "Comedy", 6),
        line("Unmarked Road", None, "Drama", 7),
    ]
    .join("\n")
}

const FOR_KIDS: &[&str] = &["Meadow Friends", "Robot Recess", "Lantern Parade"];
const NOT_FOR_KIDS: &[&str] = &[
    "Quarry Nights",
    "Blood Orchard",
    "Static Hour",
    "Unmarked Road",
];

async fn call(app: &TestApp, method: &str, path: &str, token: &str) -> (u16, String) {
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    let r = app.req(m, path, Some(token)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

#[tokio::test]
async fn a_kids_profile_never_receives_a_title_above_its_band() {
    let app = TestApp::builder().start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.jsonl");
    std::fs::write(&file, feed()).unwrap();
    let importer = Importer {
        store: app.store().as_ref(),
        art_dir: art::dir(&app.state.config.data_dir),
        ratings: app.state.config.catalog.operator_system(),
        now: 1,
    };
    let r = importer.import_path(&file, &mut NoProgress).await.unwrap();
    assert_eq!(r.added, 7, "{:?}", r.rejected);
    // The series of the fixture library: TV-PG, above the kids band, and its
    // episodes (unrated themselves: the series' rating stands for them).
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/library");
    importer.import_path(&lib, &mut NoProgress).await.unwrap();
    marquee_server::recs::refresh_catalog(&app.state)
        .await
        .unwrap();

    let store = app.store();
    let id_of = |name: &'static str| async move {
        store
            .search_titles(name, 1, &Default::default())
            .await
            .unwrap()[0]
            .id
    };
    let series = store.title_by_key("tmdb:9900010").await.unwrap().unwrap();
    let episode = store
        .title_by_key("tmdb:9900010/S01E01")
        .await
        .unwrap()
        .unwrap();

    let token = app.login_as("parent@example.com", Role::Viewer).await;
    let adult: Value = app
        .get("/api/v1/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let adult_profile = adult["profiles"][0]["id"].as_i64();
    let r = app
        .post_json(
            "/api/v1/profiles",
            Some(&token),
            &json!({"name": "Kids", "is_kids": true}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let kid = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

    let select = |p: i64| {
        let token = token.clone();
        let app = &app;
        async move {
            let r = app
                .req(
                    Method::POST,
                    &format!("/api/v1/profiles/{p}/select"),
                    Some(&token),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };

    // Every route that takes a title.
    select(kid).await;
    let mut restricted = vec![series, episode];
    for n in NOT_FOR_KIDS {
        restricted.push(id_of(n).await);
    }
    let mut allowed = Vec::new();
    for n in FOR_KIDS {
        allowed.push(id_of(n).await);
    }
    for (method, route) in TITLE_ROUTES {
        for id in &restricted {
            let path = route.replace("{id}", &id.to_string());
            let (status, _) = call(&app, method, &path, &token).await;
            assert_eq!(status, 404, "kids profile: {method} {path}");
        }
        // An allowed title is never refused as missing (the media route has
        // no file to serve, which says so; the rest answer).
        let path = route.replace("{id}", &allowed[0].to_string());
        let (status, body) = call(&app, method, &path, &token).await;
        if !route.starts_with("/media/") {
            assert!(
                status < 400 || status == 409,
                "kids profile: {method} {path}: {status} {body}"
            );
        }
    }

    // Every list and search: the restricted names never appear.
    let kid_home = format!("/api/v1/profiles/{kid}/home");
    let kid_recs = format!("/api/v1/profiles/{kid}/recommendations?n=100");
    let lists = [
        "/".to_string(),
        "/search?q=a".into(),
        "/search?q=quarry".into(),
        "/search?q=lighthouse".into(),
        "/api/v1/search?q=quarry".into(),
        "/api/v1/search?q=blood".into(),
        "/api/v1/search?q=lighthouse".into(),
        "/api/v1/titles?limit=100".into(),
        "/api/v1/titles?genre=Children&limit=100".into(),
        "/api/v1/titles?genre=Drama&limit=100".into(),
        "/genres/Children".into(),
        "/genres/Drama".into(),
        "/genres/Comedy".into(),
        kid_home.clone(),
        kid_recs.clone(),
        format!("/api/v1/titles/{}/similar", allowed[0]),
        format!("/titles/{}/more-like-this", allowed[0]),
    ];
    let mut seen_kids_title = false;
    for path in &lists {
        let (status, body) = call(&app, "GET", path, &token).await;
        assert!(status < 400, "{path}: {status}");
        for n in NOT_FOR_KIDS
            .iter()
            .chain(&["Lighthouse Keepers", "The Quiet Harbor"])
        {
            assert!(!body.contains(n), "kids profile got {n:?} from {path}");
        }
        seen_kids_title |= FOR_KIDS.iter().any(|n| body.contains(n));
    }
    assert!(seen_kids_title, "the lists showed no title at all");

    // The same account's adult profile gets them.
    if let Some(p) = adult_profile {
        select(p).await;
        for id in &restricted {
            let (status, _) = call(&app, "GET", &format!("/api/v1/titles/{id}"), &token).await;
            assert_eq!(status, 200, "adult profile: title {id}");
        }
        let (_, body) = call(&app, "GET", "/api/v1/search?q=quarry", &token).await;
        assert!(body.contains("Quarry Nights"));
    } else {
        panic!("no adult profile in /api/v1/me");
    }
}
