use crate::helpers::{error_of, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn demo_catalog_lists_browses_and_searches() {
    let app = TestApp::builder().demo().start().await;
    assert_eq!(
        app.store()
            .count_titles(Some(marquee_domain::TitleKind::Movie))
            .await
            .unwrap(),
        9742
    );

    let r = app.get("/api/v1/titles?genre=Comedy&limit=5", None).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for t in items {
        assert!(
            t["genres"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == "Comedy"),
            "{t}"
        );
    }
    // Sorted by popularity.
    let pops: Vec<i64> = items
        .iter()
        .map(|t| t["popularity"].as_i64().unwrap())
        .collect();
    assert!(pops.windows(2).all(|w| w[0] >= w[1]), "{pops:?}");

    let r = app.get("/api/v1/search?q=matrix", None).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v[0]["name"], "The Matrix", "{v}");

    let id = v[0]["id"].as_i64().unwrap();
    let v: Value = app
        .get(&format!("/api/v1/titles/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["year"], 1999);
    assert_eq!(v["links"]["imdb"], "0133093");
    assert!(!v["tags"].as_array().unwrap().is_empty());

    let g: Value = app.get("/api/v1/genres", None).await.json().await.unwrap();
    assert_eq!(g[0]["name"], "Drama");
    // 4,361 films and the sample series "Harbour Lights".
    assert_eq!(g[0]["titles"], 4362);
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field() {
    let app = TestApp::builder().start().await;
    let (s, code, field) = error_of(app.get("/api/v1/titles/abc", None).await).await;
    assert_eq!(
        (s, code.as_str(), field.as_deref()),
        (400, "invalid_input", Some("id"))
    );
    let (s, _, _) = error_of(app.get("/api/v1/titles/999999", None).await).await;
    assert_eq!(s, 404);
    let (s, _, field) = error_of(app.get("/api/v1/titles?limit=101", None).await).await;
    assert_eq!((s, field.as_deref()), (400, Some("limit")));
    let (s, _, field) = error_of(app.get("/api/v1/titles?limit=-3", None).await).await;
    assert_eq!((s, field.as_deref()), (400, Some("limit")));
    let (s, _, field) = error_of(app.get("/api/v1/titles?sort=sideways", None).await).await;
    assert_eq!((s, field.as_deref()), (400, Some("sort")));
    let (s, _, _) = error_of(app.get("/api/v1/nowhere", None).await).await;
    assert_eq!(s, 404);

    // Malformed JSON, wrong types, missing and unknown fields.
    let r = app
        .req(Method::POST, "/api/v1/auth/signup", None)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 400);
    let (s, _, field) = error_of(
        app.post_json(
            "/api/v1/auth/signup",
            None,
            &json!({"email": 3, "password": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, field.as_deref()), (400, Some("email")));
    let (s, _, field) = error_of(
        app.post_json("/api/v1/auth/signup", None, &json!({"email": "a@b.co"}))
            .await,
    )
    .await;
    assert_eq!((s, field.as_deref()), (400, Some("password")));
    let body = json!({"email": "a@b.co", "password": "long enough", "admin": true});
    let (s, _, field) = error_of(app.post_json("/api/v1/auth/signup", None, &body).await).await;
    assert_eq!((s, field.as_deref()), (400, Some("admin")));
    let (s, _, field) = error_of(
        app.post_json(
            "/api/v1/auth/signup",
            None,
            &json!({"email": "nope", "password": "long enough"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, field.as_deref()), (400, Some("email")));
    let (s, _, field) = error_of(
        app.post_json(
            "/api/v1/auth/signup",
            None,
            &json!({"email": "a@b.co", "password": "short"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, field.as_deref()), (400, Some("password")));

    // Not JSON at all, and too large.
    let r = app
        .req(Method::POST, "/api/v1/auth/login", None)
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 415);
    let huge = "x".repeat(2 * 1024 * 1024);
    let r = app
        .req(Method::POST, "/api/v1/auth/signup", None)
        .header("content-type", "application/json")
        .body(format!("{{\"email\": \"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large", "{v}");
    // The message names the real limit (1 MiB by default).
    assert!(
        v["error"]["message"].as_str().unwrap().contains("1048576"),
        "{v}"
    );
    // A form page says so too, rather than a 400.
    let r = app
        .req(Method::POST, "/login", None)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={huge}&password=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("1048576"));
    // Nothing was written by any of these.
    assert_eq!(app.store().count_accounts(None).await.unwrap(), 0);
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let app = TestApp::builder().start().await;
    let v: Value = app
        .get("/api/v1/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    let paths = v["paths"].as_object().unwrap();
    for p in [
        "/api/v1/titles",
        "/api/v1/titles/{id}",
        "/api/v1/genres",
        "/api/v1/search",
        "/api/v1/me",
        "/api/v1/profiles",
        "/api/v1/auth/login",
        "/api/v1/staff/accounts/{id}",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    assert!(v["components"]["schemas"]["ErrorBody"].is_object());
}

#[tokio::test]
async fn health_and_metrics() {
    let app = TestApp::builder().start().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status(), 200);
    app.get("/api/v1/genres", None).await;
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        text.contains(
            "marquee_http_requests_total{method=\"GET\",route=\"/api/v1/genres\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("marquee_catalog_titles 0"));
}
