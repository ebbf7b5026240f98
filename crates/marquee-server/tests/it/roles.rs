use crate::helpers::TestApp;
use marquee_domain::Role;
use marquee_server::STAFF_ROUTES;
use reqwest::Method;
use serde_json::json;

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> u16 {
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = app.req(m.clone(), path, token);
    if m == Method::PATCH && path.contains("/staff/titles/") {
        r = r.json(&json!({"synopsis": "A film about a film."}));
    } else if m == Method::PATCH {
        r = r.json(&json!({"role": "agent"}));
    }
    if m == Method::PUT && path.ends_with("/sentiment") {
        r = r.json(&json!({"sentiment": "neutral"}));
    } else if m == Method::PUT {
        r = r.json(&json!({"path": null}));
    }
    if path.ends_with("/prices") {
        r = r.json(&json!({"amount_cents": 1549, "currency": "USD"}));
    }
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn role_matrix_on_every_staff_route() {
    // Mail configured: the reset route's admin call sends one.
    let sink = crate::helpers::SmtpSink::start().await;
    let mut config = marquee_server::Config::default();
    sink.configure(&mut config);
    let app = TestApp::builder().config(config).start().await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    // A title for the title routes.
    app.add_title("A film").await;
    // An idea for the idea routes.
    let r = app
        .req(Method::POST, "/api/v1/ideas", Some(&viewer))
        .json(&json!({"title": "Offline downloads on the TV"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A proposal (id 1) for the proposal routes.
    let r = app
        .req(Method::POST, "/api/v1/staff/changes", Some(&admin))
        .json(
            &json!({"kind": "product", "title": "Split DVD rental into Qwikster",
                      "body": "Two sites.", "planned_at": 4_000_000_000_000i64}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A social post (id 1) for the correction route.
    let r = app
        .req(Method::POST, "/api/v1/listening/tokens", Some(&admin))
        .json(&json!({"name": "feed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let feed: serde_json::Value = r.json().await.unwrap();
    let r = app
        .req(Method::POST, "/api/v1/posts", feed["token"].as_str())
        .json(
            &json!([{"source": "test", "external_id": "1", "author": "@a@x",
            "text": "the price is too high", "created_at": 1_700_000_000_000i64}]),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert!(STAFF_ROUTES.len() >= 5);
    for (method, path) in STAFF_ROUTES {
        let anon = call(&app, method, path, None).await;
        if path.starts_with("/api/") {
            assert_eq!(anon, 401, "anonymous {method} {path}");
        } else {
            assert_eq!(
                anon, 303,
                "anonymous {method} {path} should redirect to log-in"
            );
        }
        assert_eq!(
            call(&app, method, path, Some(&viewer)).await,
            403,
            "viewer {method} {path}"
        );
        // Work taken for later (a mail) answers 202.
        let ok = if path.ends_with("/password-reset") {
            202
        } else {
            200
        };
        assert_eq!(
            call(&app, method, path, Some(&admin)).await,
            ok,
            "admin {method} {path}"
        );
        let expected = if crate::helpers::admin_only(path) {
            403
        } else {
            ok
        };
        assert_eq!(
            call(&app, method, path, Some(&agent)).await,
            expected,
            "agent {method} {path}"
        );
    }
    // The page redirect carries the way back.
    let r = app.get("/staff", None).await;
    assert_eq!(r.headers()["location"], "/login?next=/staff");
    // The admin promoted account 1 (the viewer) to agent along the way.
    let a = app.store().account(1).await.unwrap().unwrap();
    assert_eq!(a.role, Role::Agent);
}
