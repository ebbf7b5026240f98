//! Help for customers who cannot log in (issue 22, item 5): the visitor
//! chat with its pre-chat form, linking after the address is confirmed,
//! business hours and the offline form, and the seeded canned responses.

use crate::helpers::{
    account_id, browser, error_of, form_token, get, post, token_in, SmtpSink, TestApp,
};
use marquee_domain::{ManualClock, Role};
use serde_json::{json, Value};
use std::sync::Arc;

async fn app_with_sink(hours: &str, clock: Option<Arc<ManualClock>>) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let mut config = marquee_server::Config::default();
    sink.configure(&mut config);
    config.server.public_url = Some("https://watch.example.com".into());
    config.support.hours = hours.into();
    config.support.timezone = "Europe/London".into();
    let mut b = TestApp::builder().config(config);
    if let Some(c) = clock {
        b = b.clock(c);
    }
    (b.start().await, sink)
}

async fn visitor_post(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app.post_json("/api/v1/support/visitor", None, &body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn with_visitor(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> reqwest::RequestBuilder {
    app.req(method, path, None).header("X-Visitor-Token", token)
}

/// A visitor writes without logging in; the inbox sees them as a visitor;
/// staff replies reach them by mail; once they follow the mailed link, the
/// conversation joins the account that uses the address.
#[tokio::test]
async fn a_visitor_conversation_is_linked_after_verification() {
    let (app, sink) = app_with_sink("always", None).await;
    let ann = app.login_as("ann@example.com", Role::Viewer).await;
    let ann_id = account_id(&app, &ann).await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;

    let (s, v) = visitor_post(
        &app,
        json!({"email": "Ann@Example.com", "name": "Ann <b>", "body": "I can't log in since yesterday"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["offline"], false);
    let token = v["visitor_token"].as_str().unwrap().to_string();
    assert!(token.len() >= 22, "at least 128 random bits: {token}");
    let id = v["conversation"]["id"].as_i64().unwrap();

    // Not yet Ann's: her own list is empty; staff see a visitor.
    let mine = get(&app, "/api/v1/support/conversations", &ann).await;
    assert_eq!(mine.as_array().unwrap().len(), 0, "{mine}");
    let staff = get(
        &app,
        &format!("/api/v1/staff/support/conversations/{id}"),
        &agent,
    )
    .await;
    assert_eq!(staff["staff"]["account_id"], Value::Null, "{staff}");
    assert_eq!(staff["staff"]["channel"], "visitor");
    assert_eq!(staff["staff"]["customer_email"], "ann@example.com");
    assert_eq!(
        staff["context"],
        Value::Null,
        "no account context before the link"
    );
    let page = app
        .get(&format!("/staff/support/conversations/{id}"), Some(&agent))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"ctx-visitor\""),
        "the agent sees the visitor panel"
    );
    assert!(
        page.contains("Ann &") && !page.contains("Ann <b>"),
        "the visitor's name is escaped: {page}"
    );

    // The agent answers; the visitor reads it with the token, and gets it by mail.
    let (s, _) = post(
        &app,
        &format!("/api/v1/staff/support/conversations/{id}/messages"),
        &agent,
        json!({"body": "Sorry about that, let's sort it out."}),
    )
    .await;
    assert_eq!(s, 201);
    let thread: Value = with_visitor(
        &app,
        reqwest::Method::GET,
        "/api/v1/support/visitor/messages",
        &token,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(thread["verified"], false);
    let bodies: Vec<&str> = thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "I can't log in since yesterday",
            "Sorry about that, let's sort it out."
        ]
    );

    let mails = sink.wait_for(2).await;
    let confirm = mails
        .iter()
        .find(|m| m.contains("/help/verify?token="))
        .expect("a confirmation mail");
    assert!(confirm.contains("RCPT TO:<ann@example.com>"), "{confirm}");
    let reply = mails
        .iter()
        .find(|m| m.contains("Subject: Marquee support replied"))
        .expect("the reply by mail");
    assert!(reply.contains("let's sort it out"), "{reply}");

    // Confirming links it to Ann's account, and rotates the browser token.
    let link = token_in(confirm, "/help/verify");
    let (s, v) = visitor_post_path(
        &app,
        "/api/v1/support/visitor/verify",
        json!({"token": link}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["linked"], true);
    let fresh = v["visitor_token"].as_str().unwrap().to_string();
    let mine = get(&app, "/api/v1/support/conversations", &ann).await;
    assert_eq!(
        mine[0]["id"].as_i64(),
        Some(id),
        "now in Ann's history: {mine}"
    );
    let staff = get(
        &app,
        &format!("/api/v1/staff/support/conversations/{id}"),
        &agent,
    )
    .await;
    assert_eq!(staff["staff"]["account_id"].as_i64(), Some(ann_id));
    assert_eq!(
        staff["context"]["email"], "ann@example.com",
        "the agent now sees the account"
    );
    // Ann can read it signed in; the old browser token stops, the new one works.
    assert_eq!(
        app.get(&format!("/api/v1/support/conversations/{id}"), Some(&ann))
            .await
            .status(),
        200
    );
    let old = with_visitor(
        &app,
        reqwest::Method::GET,
        "/api/v1/support/visitor/messages",
        &token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(old.status(), 404);
    let new = with_visitor(
        &app,
        reqwest::Method::GET,
        "/api/v1/support/visitor/messages",
        &fresh,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(new.status(), 200);
    // The link works once.
    let (s, v) = visitor_post_path(
        &app,
        "/api/v1/support/visitor/verify",
        json!({"token": link}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("token")),
        "{v}"
    );
}

async fn visitor_post_path(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = app.post_json(path, None, &body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// An address with no account stays a visitor's conversation after it is
/// confirmed, and joins the account that later proves that address.
#[tokio::test]
async fn a_confirmed_address_joins_an_account_created_later() {
    let (app, sink) = app_with_sink("always", None).await;
    let (s, v) = visitor_post(
        &app,
        json!({"email": "new@example.com", "body": "Is there a student price?"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["conversation"]["id"].as_i64().unwrap();
    let mails = sink.wait_for(1).await;
    let link = token_in(&mails[0], "/help/verify");
    let (s, v) = visitor_post_path(
        &app,
        "/api/v1/support/visitor/verify",
        json!({"token": link}),
    )
    .await;
    assert_eq!((s, v["linked"].as_bool()), (200, Some(false)), "{v}");

    // Sign-up mails a confirmation link; confirming the address links the conversation.
    let r = app
        .post_json(
            "/api/v1/auth/signup",
            None,
            &json!({"email": "new@example.com", "password": crate::helpers::PASSWORD}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let mails = sink.wait_for(2).await;
    let verify = mails
        .iter()
        .rev()
        .find(|m| m.contains("/verify?token=") && !m.contains("/help/verify"))
        .expect("sign-up confirmation");
    let r = app
        .post_json(
            "/api/v1/auth/verify",
            None,
            &json!({"token": token_in(verify, "/verify")}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let session = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = get(&app, "/api/v1/support/conversations", &session).await;
    assert_eq!(mine[0]["id"].as_i64(), Some(id), "{mine}");
}

/// Outside business hours the help page offers the offline form, which
/// becomes a conversation marked as such.
#[tokio::test]
async fn outside_business_hours_the_offline_form_becomes_a_conversation() {
    // Saturday 2026-12-05 12:00 in London; the team works weekdays.
    let clock = Arc::new(ManualClock::new(1_796_472_000_000));
    let (app, _sink) = app_with_sink("mon-fri 09:00-18:00", Some(clock.clone())).await;
    let h: Value = app
        .get("/api/v1/support/hours", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(h["open"], false, "{h}");
    assert_eq!(h["next_open"], "Monday at 09:00", "{h}");
    assert_eq!(h["hours"], "Monday to Friday 09:00–18:00");

    let client = browser();
    let page = client
        .get(app.url("/help"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"offline-form\""), "{page}");
    assert!(page.contains("back Monday at 09:00"), "{page}");
    let csrf = form_token(&client, &app, "/help").await;
    let r = client
        .post(app.url("/help"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "locked@example.com"),
            ("name", ""),
            ("body", "My card was charged twice"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "on to the thread");
    let thread = client
        .get(app.url("/help?sent=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(thread.contains("id=\"help-notice\""), "{thread}");
    assert!(thread.contains("My card was charged twice"), "{thread}");
    assert!(thread.contains("id=\"help-away\""), "{thread}");

    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let inbox = get(&app, "/api/v1/staff/support/conversations", &agent).await;
    let c = &inbox.as_array().unwrap()[0];
    assert_eq!(c["channel"], "offline", "{c}");
    let list = app
        .get("/staff/support/list", Some(&agent))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("locked@example.com (offline form, address not confirmed)"),
        "{list}"
    );

    // Monday 10:00: the chat is live again.
    clock.advance(46 * 3_600_000);
    let h: Value = app
        .get("/api/v1/support/hours", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(h["open"], true, "{h}");
    let (_, v) = visitor_post(&app, json!({"email": "b@example.com", "body": "hello"})).await;
    assert_eq!(v["offline"], false, "{v}");

    // The visitor continues in the same browser.
    let csrf = form_token(&client, &app, "/help").await;
    let r = client
        .post(app.url("/help/messages"))
        .form(&[("csrf", csrf.as_str()), ("body", "Any news?")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let lines = client
        .get(app.url("/help/messages"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        lines.contains("My card was charged twice") && lines.contains("Any news?"),
        "{lines}"
    );
    // Without the form token the post is refused.
    let r = client
        .post(app.url("/help/messages"))
        .form(&[("csrf", "forged"), ("body", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

/// Canned responses exist on first start: `/refund` answers.
#[tokio::test]
async fn seeded_canned_responses_answer_short_codes() {
    let app = TestApp::builder().start().await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let canned = get(&app, "/api/v1/staff/support/canned", &agent).await;
    let codes: Vec<&str> = canned
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["shortcode"].as_str().unwrap())
        .collect();
    for code in ["refund", "password", "cancel", "playback", "greeting"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    let (s, v) = visitor_post(
        &app,
        json!({"email": "c@example.com", "body": "Please refund me"}),
    )
    .await;
    assert_eq!(s, 201);
    let id = v["conversation"]["id"].as_i64().unwrap();
    let (s, m) = post(
        &app,
        &format!("/api/v1/staff/support/conversations/{id}/messages"),
        &agent,
        json!({"body": "/refund"}),
    )
    .await;
    assert_eq!(s, 201, "{m}");
    assert!(
        m["body"]
            .as_str()
            .unwrap()
            .contains("refund of your last payment"),
        "{m}"
    );
    assert_eq!(m["canned_code"], "refund");
}

/// Bad input gets a 4xx naming the field; tokens must match; per-address limits hold.
#[tokio::test]
async fn visitor_input_is_checked() {
    let app = TestApp::builder().start().await;
    for (body, field) in [
        (json!({"email": "not-an-address", "body": "hi"}), "email"),
        (json!({"email": "a@example.com", "body": "   "}), "body"),
        (
            json!({"email": "a@example.com", "body": "hi", "name": "x".repeat(81)}),
            "name",
        ),
    ] {
        let (s, v) = visitor_post(&app, body).await;
        assert_eq!((s, v["error"]["field"].as_str()), (400, Some(field)), "{v}");
    }
    let r = app
        .post_json(
            "/api/v1/support/visitor",
            None,
            &json!({"email": "a@example.com"}),
        )
        .await;
    assert_eq!(error_of(r).await.0, 400);
    let r = app.get("/api/v1/support/visitor/messages", None).await;
    assert_eq!(r.status(), 401);
    let r = with_visitor(
        &app,
        reqwest::Method::GET,
        "/api/v1/support/visitor/messages",
        "not-a-token",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let (s, v) = visitor_post_path(
        &app,
        "/api/v1/support/visitor/verify",
        json!({"token": "bogus"}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("token")),
        "{v}"
    );
    // Five conversations an hour from one address (the default), then 429.
    for i in 0..5 {
        let (s, v) = visitor_post(
            &app,
            json!({"email": format!("p{i}@example.com"), "body": "hi"}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, _) = visitor_post(&app, json!({"email": "q@example.com", "body": "hi"})).await;
    assert_eq!(s, 429);
    // A signed-in viewer is sent to their own support pages.
    let ann = app.login_as("ann@example.com", Role::Viewer).await;
    let r = app.get("/help", Some(&ann)).await;
    assert!(
        r.url().path().ends_with("/support") || r.status().is_redirection(),
        "{}",
        r.url()
    );
}
