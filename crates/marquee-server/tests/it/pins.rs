//! Profile PINs (#21): a PIN keeps others out of a locked profile and a
//! child in a locked kids profile; wrong tries are counted and lock.

use crate::helpers::{browser, call, field_of, form_token, post, TestApp, PASSWORD};
use marquee_domain::{Clock, ManualClock, Role};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

async fn set_pin(app: &TestApp, token: &str, id: i64, pin: Value, password: &str) -> (u16, Value) {
    call(
        app,
        Method::PUT,
        &format!("/api/v1/profiles/{id}/pin"),
        token,
        Some(json!({"pin": pin, "password": password})),
    )
    .await
}

async fn select(app: &TestApp, token: &str, id: i64, pin: Option<&str>) -> (u16, Value) {
    let body = pin.map(|p| json!({ "pin": p }));
    call(
        app,
        Method::POST,
        &format!("/api/v1/profiles/{id}/select"),
        token,
        body,
    )
    .await
}

#[tokio::test]
async fn a_pin_guards_leaving_a_kids_profile_and_locks_after_five_wrong_tries() {
    let clock = Arc::new(ManualClock::new(crate::helpers::now_ms()));
    let app = TestApp::builder()
        .clock(clock.clone() as Arc<dyn Clock>)
        .start()
        .await;
    let token = app.login_as("family@example.com", Role::Viewer).await;
    let me = crate::helpers::get(&app, "/api/v1/me", &token).await;
    let main = me["profiles"][0]["id"].as_i64().unwrap();
    let (s, kid) = post(
        &app,
        "/api/v1/profiles",
        &token,
        json!({"name": "Kid", "is_kids": true}),
    )
    .await;
    assert_eq!(s, 201);
    let kid = kid["id"].as_i64().unwrap();
    assert!(!kid_has_pin(&app, &token, kid).await);

    // The PIN's form and the password are checked; nothing is stored then.
    for bad in ["12a4", "123", "12345", ""] {
        let (s, v) = set_pin(&app, &token, kid, json!(bad), PASSWORD).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (400, Some("pin")),
            "{bad:?}: {v}"
        );
    }
    let (s, v) = set_pin(&app, &token, kid, json!("2468"), "not the password").await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (403, Some("password")),
        "{v}"
    );
    assert!(!kid_has_pin(&app, &token, kid).await);
    let (s, v) = set_pin(&app, &token, kid, json!("2468"), PASSWORD).await;
    assert_eq!((s, v["has_pin"].as_bool()), (200, Some(true)), "{v}");
    let listed = crate::helpers::get(&app, "/api/v1/profiles", &token)
        .await
        .to_string();
    assert!(
        !listed.contains("2468") && !listed.contains("pin_hash"),
        "{listed}"
    );

    // Opening the locked profile asks for its PIN.
    let (s, v) = select(&app, &token, kid, None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (403, Some("pin_required"), Some("pin")),
        "{v}"
    );
    let (s, _) = select(&app, &token, kid, Some("2468")).await;
    assert_eq!(s, 200);

    // From the kids profile, profiles cannot be managed.
    let (s, v) = set_pin(&app, &token, kid, Value::Null, PASSWORD).await;
    assert_eq!(s, 403, "{v}");
    let (s, _) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/profiles/{kid}"),
        &token,
        Some(json!({"is_kids": false})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = post(&app, "/api/v1/profiles", &token, json!({"name": "Sneaky"})).await;
    assert_eq!(s, 403);
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            &format!("/api/v1/profiles/{kid}"),
            &token,
            None
        )
        .await
        .0,
        403
    );

    // Leaving it asks for its PIN; wrong ones count down, the fifth locks.
    let (s, v) = select(&app, &token, main, None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("pin_required")),
        "{v}"
    );
    for left in [4, 3, 2, 1] {
        let (s, v) = select(&app, &token, main, Some("0000")).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("wrong_pin")),
            "{v}"
        );
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(&format!("{left} tr")), "{msg}");
    }
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/profiles/{main}/select"),
            Some(&token),
        )
        .json(&json!({"pin": "0000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&retry), "{retry}");
    // Locked: even the right PIN waits.
    assert_eq!(select(&app, &token, main, Some("2468")).await.0, 429);
    let me = crate::helpers::get(&app, "/api/v1/me", &token).await;
    assert_eq!(me["current_profile_id"], kid);
    // Fifteen minutes later the right PIN opens the way.
    clock.advance(15 * 60_000 + 1);
    assert_eq!(select(&app, &token, main, Some("2468")).await.0, 200);
    let me = crate::helpers::get(&app, "/api/v1/me", &token).await;
    assert_eq!(me["current_profile_id"], main);

    // Removed, the kids profile opens without a PIN.
    let (s, v) = set_pin(&app, &token, kid, Value::Null, PASSWORD).await;
    assert_eq!((s, v["has_pin"].as_bool()), (200, Some(false)), "{v}");
    assert_eq!(select(&app, &token, kid, None).await.0, 200);
    assert_eq!(select(&app, &token, main, None).await.0, 200);
    // Another account's profile stays out of reach.
    let other = app.login_as("other@example.com", Role::Viewer).await;
    assert_ne!(
        set_pin(&app, &other, kid, json!("1111"), PASSWORD).await.0,
        200
    );
}

async fn kid_has_pin(app: &TestApp, token: &str, id: i64) -> bool {
    let all = crate::helpers::get(app, "/api/v1/profiles", token).await;
    all.as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .and_then(|p| p["has_pin"].as_bool())
        .unwrap()
}

#[tokio::test]
async fn the_pages_set_a_pin_ask_for_it_and_say_what_went_wrong() {
    let app = TestApp::builder().start().await;
    let token = app.login_as("home@example.com", Role::Viewer).await;
    let (_, v) = post(&app, "/api/v1/profiles", &token, json!({"name": "Sam"})).await;
    let sam = v["id"].as_i64().unwrap();
    let c = browser();
    let login_csrf = form_token(&c, &app, "/login").await;
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("csrf", login_csrf.as_str()),
            ("email", "home@example.com"),
            ("password", PASSWORD),
            ("next", "/profiles"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = |path: &'static str| {
        let c = c.clone();
        let url = app.url(path);
        async move { c.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let html = page("/profiles").await;
    let csrf = field_of(&html, "csrf");
    assert!(
        html.contains(&format!("action=\"/profiles/{sam}/pin\"")),
        "{html}"
    );
    let form = |path: String, fields: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = app.url(&path);
        let mut fields = fields;
        fields.push(("csrf", csrf.clone()));
        async move {
            let r = c.post(url).form(&fields).send().await.unwrap();
            let status = r.status().as_u16();
            let to = r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            (status, to, r.text().await.unwrap())
        }
    };
    // A wrong password is said on the page; the right one sets the PIN.
    let (s, _, html) = form(
        format!("/profiles/{sam}/pin"),
        vec![
            ("pin", "1357".into()),
            ("password", "nope nope nope".into()),
            ("action", "set".into()),
        ],
    )
    .await;
    assert_eq!(s, 403);
    assert!(html.contains("the password is wrong"), "{html}");
    let (s, to, _) = form(
        format!("/profiles/{sam}/pin"),
        vec![
            ("pin", "1357".into()),
            ("password", PASSWORD.into()),
            ("action", "set".into()),
        ],
    )
    .await;
    assert_eq!((s, to.as_deref()), (303, Some("/profiles?ok=pin_set")));
    let html = page("/profiles?ok=pin_set").await;
    assert!(html.contains("PIN set"), "{html}");
    assert!(html.contains("locked with a PIN"), "{html}");

    // Opening it shows the PIN page; a wrong PIN says so with the tries left.
    let (s, _, html) = form(format!("/profiles/{sam}/select"), vec![]).await;
    assert_eq!(s, 200);
    assert!(html.contains("Enter the PIN of Sam to open it."), "{html}");
    let (s, _, html) = form(
        format!("/profiles/{sam}/select"),
        vec![("pin", "0000".into())],
    )
    .await;
    assert_eq!(s, 403);
    assert!(html.contains("Wrong PIN: 4 tries left"), "{html}");
    let (s, to, _) = form(
        format!("/profiles/{sam}/select"),
        vec![("pin", "1357".into())],
    )
    .await;
    assert_eq!((s, to.as_deref()), (303, Some("/")));

    // Removing it takes the password too.
    let (s, to, _) = form(
        format!("/profiles/{sam}/pin"),
        vec![("password", PASSWORD.into()), ("action", "remove".into())],
    )
    .await;
    assert_eq!((s, to.as_deref()), (303, Some("/profiles?ok=pin_removed")));
    let me = crate::helpers::get(&app, "/api/v1/me", &token).await;
    assert_eq!(me["profiles"][1]["has_pin"], false);
}
