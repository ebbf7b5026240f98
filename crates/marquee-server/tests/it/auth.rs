use crate::helpers::{error_of, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn signup_login_logout_and_duplicates() {
    let app = TestApp::builder().start().await;
    let token = app.signup("ann@example.com").await;
    let me: Value = app
        .get("/api/v1/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["account"]["email"], "ann@example.com");
    assert_eq!(me["account"]["role"], "viewer");
    assert_eq!(me["profiles"].as_array().unwrap().len(), 1);
    assert_eq!(me["current_profile_id"], me["profiles"][0]["id"]);

    let body = json!({"email": "ANN@example.com", "password": PASSWORD});
    let (s, code, field) = error_of(app.post_json("/api/v1/auth/signup", None, &body).await).await;
    assert_eq!(
        (s, code.as_str(), field.as_deref()),
        (409, "conflict", Some("email"))
    );

    let wrong = json!({"email": "ann@example.com", "password": "not the password"});
    assert_eq!(
        error_of(app.post_json("/api/v1/auth/login", None, &wrong).await)
            .await
            .0,
        401
    );
    let unknown = json!({"email": "bob@example.com", "password": "whatever123"});
    assert_eq!(
        error_of(app.post_json("/api/v1/auth/login", None, &unknown).await)
            .await
            .0,
        401
    );

    let r = app
        .req(Method::POST, "/api/v1/auth/logout", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), 401);
    // The stored password hash is argon2id.
    let c = app
        .store()
        .credentials("ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(c.password_hash.starts_with("$argon2id$"));
}

#[tokio::test]
async fn login_is_rate_limited_per_account_and_ip() {
    let app = TestApp::builder().start().await;
    app.signup("ann@example.com").await;
    let wrong = json!({"email": "ann@example.com", "password": "wrong password"});
    for _ in 0..5 {
        assert_eq!(
            app.post_json("/api/v1/auth/login", None, &wrong)
                .await
                .status(),
            401
        );
    }
    let r = app.post_json("/api/v1/auth/login", None, &wrong).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    // From the same address even the right password waits out the window.
    let right = json!({"email": "ann@example.com", "password": PASSWORD});
    assert_eq!(
        app.post_json("/api/v1/auth/login", None, &right)
            .await
            .status(),
        429
    );
}

#[tokio::test]
async fn session_cookie_flags() {
    // X-Forwarded-Proto counts only from a trusted proxy (here the test itself).
    let mut config = marquee_server::Config::default();
    config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let app = TestApp::builder().config(config).start().await;
    let body = json!({"email": "c@example.com", "password": PASSWORD});
    let r = app.post_json("/api/v1/auth/signup", None, &body).await;
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("marquee_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(
        !cookie.contains("Secure"),
        "plain http must not set Secure: {cookie}"
    );
    let body = json!({"email": "c@example.com", "password": PASSWORD});
    let r = app
        .req(Method::POST, "/api/v1/auth/login", None)
        .header("x-forwarded-proto", "https")
        .json(&body)
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("marquee_session="))
        .unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
    // A new log-in gets a new token: no session fixation.
    let v: Value = r.json().await.unwrap();
    let t2 = v["token"].as_str().unwrap();
    assert!(!cookie.contains("marquee_session=;"));
    assert!(t2.len() >= 43);
}

#[tokio::test]
async fn profiles_limit_ownership_and_switching() {
    let app = TestApp::builder().start().await;
    let ann = app.signup("ann@example.com").await;
    let bob = app.signup("bob@example.com").await;
    let mut ids = vec![];
    for name in ["Kids", "Guest", "Partner", "Gran"] {
        let r = app
            .post_json("/api/v1/profiles", Some(&ann), &json!({"name": name}))
            .await;
        assert_eq!(r.status(), 201);
        let p: Value = r.json().await.unwrap();
        ids.push(p["id"].as_i64().unwrap());
    }
    let (s, _, field) = error_of(
        app.post_json("/api/v1/profiles", Some(&ann), &json!({"name": "Sixth"}))
            .await,
    )
    .await;
    assert_eq!((s, field.as_deref()), (409, Some("name")));
    let (s, _, field) = error_of(
        app.post_json("/api/v1/profiles", Some(&ann), &json!({"name": "  "}))
            .await,
    )
    .await;
    assert_eq!((s, field.as_deref()), (400, Some("name")));

    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/profiles/{}/select", ids[0]),
            Some(&ann),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let me: Value = app
        .get("/api/v1/me", Some(&ann))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["current_profile_id"], ids[0]);

    // Bob can neither select nor read Ann's profiles.
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/profiles/{}/select", ids[0]),
            Some(&bob),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 403);
    assert_eq!(
        error_of(
            app.get(&format!("/api/v1/profiles/{}/history", ids[1]), Some(&bob))
                .await
        )
        .await
        .0,
        403
    );
    let r = app
        .req(Method::POST, "/api/v1/profiles/99999/select", Some(&bob))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 404);
}

#[tokio::test]
async fn cookie_authenticated_api_writes_need_the_csrf_header() {
    let app = TestApp::builder().start().await;
    let body = json!({"email": "d@example.com", "password": PASSWORD});
    let v: Value = app
        .post_json("/api/v1/auth/signup", None, &body)
        .await
        .json()
        .await
        .unwrap();
    let token = v["token"].as_str().unwrap();
    let csrf = v["csrf_token"].as_str().unwrap();
    let cookie = format!("marquee_session={token}");
    let r = app
        .req(Method::POST, "/api/v1/profiles", None)
        .header("cookie", &cookie)
        .json(&json!({"name": "Forged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 403);
    let r = app
        .req(Method::POST, "/api/v1/profiles", None)
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "Real"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Reads by cookie need no header.
    assert_eq!(
        app.req(Method::GET, "/api/v1/me", None)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn demo_viewers_have_history_and_thumbs() {
    let app = TestApp::builder().demo().start().await;
    let r = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": "viewer1@demo.marquee", "password": "marquee-demo"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let token = v["token"].as_str().unwrap();
    let me: Value = app
        .get("/api/v1/me", Some(token))
        .await
        .json()
        .await
        .unwrap();
    let pid = me["profiles"][0]["id"].as_i64().unwrap();
    let h: Value = app
        .get(
            &format!("/api/v1/profiles/{pid}/history?limit=100"),
            Some(token),
        )
        .await
        .json()
        .await
        .unwrap();
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 100);
    // User 1 rated 232 movies, mostly 4-5 stars: thumbs are there.
    assert!(h.iter().filter(|e| e["thumb"].is_string()).count() > 50);
    assert!(h
        .windows(2)
        .all(|w| w[0]["watched_at"].as_i64() >= w[1]["watched_at"].as_i64()));
}
