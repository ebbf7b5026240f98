//! Notification preferences (issue 22, item 1): in-app and e-mail per kind,
//! the producers honouring them, the digest mail with its unsubscribe link.

use crate::helpers::{browser, call, error_of, form_token, get, post, SmtpSink, TestApp, PASSWORD};
use marquee_domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

const PREFS: &str = "/api/v1/account/notifications/preferences";

/// Sets preferences through the API, asserting 200.
async fn set(app: &TestApp, token: &str, body: Value) -> Value {
    let (s, v) = call(app, Method::PUT, PREFS, token, Some(body)).await;
    assert_eq!(s, 200, "{v}");
    v
}

/// The settings of one kind in a preferences answer.
fn kind<'a>(prefs: &'a Value, name: &str) -> &'a Value {
    prefs["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == name)
        .unwrap_or_else(|| panic!("no kind {name} in {prefs}"))
}

/// The bell's notifications of an account: their kinds.
async fn bell_kinds(app: &TestApp, token: &str) -> Vec<String> {
    get(app, "/api/v1/notifications", token).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .collect()
}

/// An idea by `author` with a vote by `follower`; its id.
async fn followed_idea(app: &TestApp, author: &str, follower: &str) -> i64 {
    let (s, idea) = post(
        app,
        "/api/v1/ideas",
        author,
        json!({"title": "Offline downloads on the TV", "description": "please"}),
    )
    .await;
    assert_eq!(s, 201, "{idea}");
    let id = idea["id"].as_i64().unwrap();
    let (s, v) = call(
        app,
        Method::PUT,
        &format!("/api/v1/ideas/{id}/vote"),
        follower,
        None,
    )
    .await;
    assert!(s < 300, "{v}");
    id
}

/// Mail text with quoted-printable soft breaks and `=` undone.
fn unfold(mail: &str) -> String {
    mail.replace("=\r\n", "").replace("=3D", "=")
}

/// The token of the first `/unsubscribe?token=` link in a mail's body.
fn unsubscribe_token(mail: &str) -> String {
    let text = unfold(mail);
    let body = &text[text.find("\r\n\r\n").unwrap()..];
    let marker = "/unsubscribe?token=";
    let at = body.find(marker).expect("no unsubscribe link") + marker.len();
    body[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[tokio::test]
async fn switching_decisions_off_in_the_app_spares_only_that_account() {
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let author = app.login_as("author@example.com", Role::Viewer).await;
    let voter = app.login_as("voter@example.com", Role::Viewer).await;
    let idea = followed_idea(&app, &author, &voter).await;

    let before = get(&app, PREFS, &voter).await;
    assert_eq!(kind(&before, "decisions")["in_app"], true);
    assert_eq!(kind(&before, "ideas")["email"], false);
    assert_eq!(kind(&before, "account")["email"], true);
    assert_eq!(kind(&before, "account")["switchable"], false);
    assert_eq!(before["email_available"], false);
    let after = set(&app, &voter, json!({"decisions": {"in_app": false}})).await;
    assert_eq!(kind(&after, "decisions")["in_app"], false);
    // A channel left out keeps its setting.
    assert_eq!(kind(&after, "decisions")["email"], false);

    let (s, d) = post(
        &app,
        "/api/v1/staff/decisions",
        &admin,
        json!({"title": "Downloads are coming", "body": "You asked.", "evidence": [{"kind": "idea", "id": idea}]}),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["notified"], 1);
    assert_eq!(bell_kinds(&app, &author).await, vec!["decision"]);
    assert!(bell_kinds(&app, &voter).await.is_empty());

    // Back to the defaults: the next decision reaches the voter again, and
    // no setting row is left behind.
    set(&app, &voter, json!({"decisions": {"in_app": true}})).await;
    let voter_id = crate::helpers::account_id(&app, &voter).await;
    assert!(app
        .store()
        .notification_prefs(voter_id)
        .await
        .unwrap()
        .is_empty());
    let (s, _) = post(
        &app,
        "/api/v1/staff/decisions",
        &admin,
        json!({"title": "Also on phones", "body": "Yes.", "evidence": [{"kind": "idea", "id": idea}]}),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(bell_kinds(&app, &voter).await, vec!["decision"]);
}

#[tokio::test]
async fn a_followed_idea_is_mailed_once_and_the_link_unsubscribes() {
    let sink = SmtpSink::start().await;
    let mut config = marquee_server::Config::default();
    sink.configure(&mut config);
    config.server.public_url = Some("https://watch.example.com".into());
    let app = TestApp::builder().config(config).start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let author = app.login_as("author@example.com", Role::Viewer).await;
    let follower = app.login_as("follower@example.com", Role::Viewer).await;
    let idea = followed_idea(&app, &author, &follower).await;
    let prefs = set(&app, &follower, json!({"ideas": {"email": true}})).await;
    assert_eq!(prefs["email_available"], true);
    assert_eq!(kind(&prefs, "ideas")["in_app"], true);
    assert_eq!(kind(&prefs, "ideas")["email"], true);

    let status = |to: &'static str| json!({"status": to, "explanation": "On the list"});
    let (s, v) = post(
        &app,
        &format!("/api/v1/ideas/{idea}/status"),
        &admin,
        status("planned"),
    )
    .await;
    assert!(s < 300, "{v}");
    let mails = sink.wait_for(1).await;
    let mail = unfold(&mails[0]);
    assert!(mail.contains("To: follower@example.com"), "{mail}");
    assert!(
        mail.contains(&format!("https://watch.example.com/ideas/{idea}")),
        "{mail}"
    );
    assert!(
        mail.contains("List-Unsubscribe: <https://watch.example.com/unsubscribe?token="),
        "{mail}"
    );
    assert!(mail.contains("Updates on ideas you follow"), "{mail}");
    // Both got it in the app; only the follower by e-mail (the author kept
    // the default, no e-mail).
    assert_eq!(
        bell_kinds(&app, &follower).await,
        vec!["idea.status_changed"]
    );
    assert_eq!(bell_kinds(&app, &author).await, vec!["idea.status_changed"]);

    // Another pass, and a second instance on the same database (a
    // restart), send nothing again.
    assert_eq!(
        marquee_server::notify::run_once(&app.state).await.unwrap(),
        0
    );
    let sibling = app.sibling().await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(sink.mails.lock().unwrap().len(), 1);
    drop(sibling);

    // The link: a page with a button (nothing changes on opening it), then
    // e-mail about ideas is off and the bell stays on.
    let token = unsubscribe_token(&mails[0]);
    assert!(token.len() >= 43, "{token}");
    let client = browser();
    let page = client
        .get(app.url(&format!("/unsubscribe?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Updates on ideas you follow"), "{html}");
    assert_eq!(
        kind(&get(&app, PREFS, &follower).await, "ideas")["email"],
        true
    );
    let csrf = form_token(&client, &app, &format!("/unsubscribe?token={token}")).await;
    let done = client
        .post(app.url("/unsubscribe"))
        .form(&[("csrf", csrf.as_str()), ("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Done"));
    let prefs = get(&app, PREFS, &follower).await;
    assert_eq!(kind(&prefs, "ideas")["email"], false);
    assert_eq!(kind(&prefs, "ideas")["in_app"], true);
    // A made-up token is a 404 page.
    let bad = client
        .get(app.url("/unsubscribe?token=nonsense"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 404);

    let (s, v) = post(
        &app,
        &format!("/api/v1/ideas/{idea}/status"),
        &admin,
        status("in_progress"),
    )
    .await;
    assert!(s < 300, "{v}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(sink.mails.lock().unwrap().len(), 1);
    assert_eq!(bell_kinds(&app, &follower).await.len(), 2);
}

#[tokio::test]
async fn bad_preferences_are_4xx_naming_the_field_and_anonymous_is_401() {
    let app = TestApp::builder().start().await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    let r = app
        .req(Method::PUT, PREFS, Some(&viewer))
        .json(&json!({"weekly_digest": {"email": true}}))
        .send()
        .await
        .unwrap();
    let (s, _, field) = error_of(r).await;
    assert_eq!((s, field.as_deref()), (400, Some("weekly_digest")));
    let r = app
        .req(Method::PUT, PREFS, Some(&viewer))
        .json(&json!({"account": {"email": false}}))
        .send()
        .await
        .unwrap();
    let (s, _, field) = error_of(r).await;
    assert_eq!((s, field.as_deref()), (400, Some("account.email")));
    let r = app
        .req(Method::PUT, PREFS, Some(&viewer))
        .json(&json!({"ideas": {"email": "yes"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Nothing was stored by the refusals.
    let id = crate::helpers::account_id(&app, &viewer).await;
    assert!(app.store().notification_prefs(id).await.unwrap().is_empty());
    for m in [Method::GET, Method::PUT] {
        let r = app
            .req(m.clone(), PREFS, None)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{m}");
    }
}

#[tokio::test]
async fn the_account_page_form_saves_with_its_token_only() {
    let app = TestApp::builder().start().await;
    let token = app.login_as("viewer@example.com", Role::Viewer).await;
    let client = browser();
    let csrf = form_token(&client, &app, "/login").await;
    let r = client
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "viewer@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let html = client
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"notifications\""), "{html}");
    assert!(html.contains("name=\"decisions.in_app\""), "{html}");
    assert!(html.contains("does not send e-mail"), "{html}");
    let csrf = form_token(&client, &app, "/account").await;
    // Without the token: refused, nothing stored.
    let r = client
        .post(app.url("/account/notifications"))
        .form(&[("perks.email", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        kind(&get(&app, PREFS, &token).await, "perks")["email"],
        false
    );
    // Checked boxes are on, the others off.
    let r = client
        .post(app.url("/account/notifications"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("ideas.in_app", "on"),
            ("perks.in_app", "on"),
            ("perks.email", "on"),
            ("announcements.in_app", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(to, "/account?done=notifications#notifications");
    let prefs = get(&app, PREFS, &token).await;
    assert_eq!(kind(&prefs, "perks")["email"], true);
    assert_eq!(kind(&prefs, "decisions")["in_app"], false);
    assert_eq!(kind(&prefs, "announcements")["email"], false);
    assert_eq!(kind(&prefs, "account")["email"], true);
    let html = client
        .get(app.url(&to))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Saved."), "{html}");
}

#[tokio::test]
async fn settings_are_exported_and_deleted_with_the_account() {
    let app = TestApp::builder().start().await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    let id = crate::helpers::account_id(&app, &viewer).await;
    set(
        &app,
        &viewer,
        json!({"perks": {"email": true}, "decisions": {"in_app": false}}),
    )
    .await;
    app.store()
        .add_unsubscribe_tokens(
            &[(marquee_server::auth::token_hash("t"), id, "perks".into())],
            1,
        )
        .await
        .unwrap();
    let export = get(&app, "/api/v1/account/export", &viewer).await;
    let prefs = export["sections"]["notification_prefs"].as_array().unwrap();
    assert_eq!(prefs.len(), 2, "{export}");
    assert_eq!(prefs[1]["kind"], "perks");
    assert_eq!(prefs[1]["email"], 1);
    let links = export["sections"]["notification_unsubscribe"]
        .as_array()
        .unwrap();
    assert_eq!(links.len(), 1);
    assert!(links[0].get("token_hash").is_none(), "{export}");

    let (s, report) = post(
        &app,
        "/api/v1/account/delete",
        &viewer,
        json!({"password": PASSWORD}),
    )
    .await;
    assert_eq!(s, 200, "{report}");
    assert!(app.store().notification_prefs(id).await.unwrap().is_empty());
    assert_eq!(
        app.store()
            .unsubscribe_token(&marquee_server::auth::token_hash("t"))
            .await
            .unwrap(),
        None
    );
}
