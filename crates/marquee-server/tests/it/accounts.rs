//! Getting back into an account: password reset by mail (issue 22).

use crate::helpers::{
    browser, call, error_of, form_token, post, token_in, SmtpSink, TestApp, PASSWORD,
};
use marquee_domain::Role;
use reqwest::Method;
use serde_json::json;

/// The status of an API log-in.
async fn login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    app.post_json(
        "/api/v1/auth/login",
        None,
        &json!({"email": email, "password": password}),
    )
    .await
    .status()
    .as_u16()
}

async fn app_with_sink() -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let mut config = marquee_server::Config::default();
    sink.configure(&mut config);
    config.server.public_url = Some("https://watch.example.com".into());
    (TestApp::builder().config(config).start().await, sink)
}

/// Ask, read the mail, set the password: the old sessions end, the new
/// password logs in, the link works once.
#[tokio::test]
async fn reset_end_to_end_through_the_smtp_sink() {
    let (app, sink) = app_with_sink().await;
    let old_session = app.login_as("ann@example.com", Role::Viewer).await;
    let r = app
        .post_json(
            "/api/v1/auth/password-reset",
            None,
            &json!({"email": "Ann@Example.com"}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let mails = sink.wait_for(1).await;
    let mail = &mails[0];
    assert!(mail.contains("RCPT TO:<ann@example.com>"), "{mail}");
    assert!(
        mail.contains("Subject: Reset your Marquee password"),
        "{mail}"
    );
    assert!(
        mail.contains("https://watch.example.com/reset?token="),
        "{mail}"
    );
    let token = token_in(mail, "/reset");
    assert!(token.len() >= 22, "a token of at least 128 bits: {token}");
    // Only its hash is stored.
    let raw = app
        .store()
        .use_account_token(
            marquee_store::TokenPurpose::PasswordReset,
            &token,
            crate::helpers::now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(raw, None, "the raw token must not be a stored key");

    // A too-short password is refused and does not spend the token.
    let (s, v) = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        "unused",
        json!({"token": token, "password": "short"}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("password")),
        "{v}"
    );
    let r = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            None,
            &json!({"token": token, "password": "a brand new secret"}),
        )
        .await;
    assert_eq!(r.status(), 204);
    // Every old session ended.
    assert_eq!(
        app.get("/api/v1/me", Some(&old_session)).await.status(),
        401
    );
    // The new password works, the old one not.
    assert_eq!(
        login_status(&app, "ann@example.com", "a brand new secret").await,
        200
    );
    assert_eq!(login_status(&app, "ann@example.com", PASSWORD).await, 401);
    // Once only.
    let r = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            None,
            &json!({"token": token, "password": "yet another secret"}),
        )
        .await;
    let (s, _, field) = error_of(r).await;
    assert_eq!((s, field.as_deref()), (400, Some("token")));
}

/// Unknown and known addresses get the same answer, and only a known one
/// gets a mail; the per-address limit holds; bad input is a 4xx.
#[tokio::test]
async fn unknown_addresses_get_the_same_answer_and_no_mail() {
    let (app, sink) = app_with_sink().await;
    app.login_as("known@example.com", Role::Viewer).await;
    let known = app
        .post_json(
            "/api/v1/auth/password-reset",
            None,
            &json!({"email": "known@example.com"}),
        )
        .await;
    let unknown = app
        .post_json(
            "/api/v1/auth/password-reset",
            None,
            &json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(known.status(), 202);
    assert_eq!(unknown.status(), 202);
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
    sink.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mails = sink.mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains("RCPT TO:<known@example.com>"));

    // Three per address per hour, then 429, for known and unknown alike.
    for email in ["known@example.com", "nobody@example.com"] {
        for _ in 0..2 {
            let r = app
                .post_json(
                    "/api/v1/auth/password-reset",
                    None,
                    &json!({"email": email}),
                )
                .await;
            assert_eq!(r.status(), 202);
        }
        let r = app
            .post_json(
                "/api/v1/auth/password-reset",
                None,
                &json!({"email": email}),
            )
            .await;
        assert_eq!(error_of(r).await.0, 429, "{email}");
    }
    for (body, field) in [
        (json!({"email": "not-an-address"}), "email"),
        (json!({}), "email"),
        (json!({"email": "a@b.co", "extra": 1}), "extra"),
    ] {
        let r = app
            .post_json("/api/v1/auth/password-reset", None, &body)
            .await;
        let (s, _, f) = error_of(r).await;
        assert_eq!((s, f.as_deref()), (400, Some(field)), "{body}");
    }
    let r = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            None,
            &json!({"token": "x".repeat(5000), "password": "long enough"}),
        )
        .await;
    let (s, _, f) = error_of(r).await;
    assert_eq!((s, f.as_deref()), (400, Some("token")));
}

/// An admin can send an account a reset link; others cannot.
#[tokio::test]
async fn admins_trigger_a_reset() {
    let (app, sink) = app_with_sink().await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    let id = crate::helpers::account_id(&app, &viewer).await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let path = format!("/api/v1/staff/accounts/{id}/password-reset");
    assert_eq!(call(&app, Method::POST, &path, &agent, None).await.0, 403);
    assert_eq!(call(&app, Method::POST, &path, &viewer, None).await.0, 403);
    let (s, v) = call(&app, Method::POST, &path, &admin, None).await;
    assert_eq!(s, 202, "{v}");
    let mails = sink.wait_for(1).await;
    assert!(mails[0].contains("RCPT TO:<viewer@example.com>"));
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/v1/staff/accounts/999999/password-reset",
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 404);
}

/// The pages: log-in links to "forgot", the form answers the same for
/// every address, the link's page sets the password and sends the viewer
/// to log in.
#[tokio::test]
async fn reset_pages_walk_through() {
    let (app, sink) = app_with_sink().await;
    app.login_as("page@example.com", Role::Viewer).await;
    let login = app.get("/login", None).await.text().await.unwrap();
    assert!(login.contains("href=\"/forgot\""));
    let client = browser();
    let csrf = form_token(&client, &app, "/forgot").await;
    let r = client
        .post(app.url("/forgot"))
        .form(&[("csrf", csrf.as_str()), ("email", "page@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("is on its way"));
    let token = token_in(&sink.wait_for(1).await[0], "/reset");
    let csrf = form_token(&client, &app, &format!("/reset?token={token}")).await;
    // Two different passwords: said so, token kept.
    let r = client
        .post(app.url("/reset"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", token.as_str()),
            ("password", "new password 1"),
            ("confirm", "new password 2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("differ"));
    let r = client
        .post(app.url("/reset"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", token.as_str()),
            ("password", "new password 1"),
            ("confirm", "new password 1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?reset=done");
    let done = client
        .get(app.url("/login?reset=done"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(done.contains("Your password is changed"));
    // Without a CSRF token the form is refused.
    let r = client
        .post(app.url("/forgot"))
        .form(&[("email", "page@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

/// Where mail is configured, sign-up answers the same for a new and a
/// taken address; the new one gets a confirmation link, the taken one a
/// note; the account cannot log in before confirming.
#[tokio::test]
async fn signup_answers_the_same_for_taken_addresses_and_confirms_by_mail() {
    let (app, sink) = app_with_sink().await;
    // An existing account (made without mail in the way).
    app.store()
        .create_account(
            &marquee_store::NewAccount {
                email: "taken@example.com".into(),
                password_hash: marquee_server::auth::hash_password(PASSWORD.into())
                    .await
                    .unwrap(),
                role: Role::Viewer,
                plan: marquee_domain::Plan::Standard,
                must_change_password: false,
                first_profile: "Taken".into(),
                email_verified: true,
            },
            crate::helpers::now_ms(),
        )
        .await
        .unwrap();
    let new = app
        .post_json(
            "/api/v1/auth/signup",
            None,
            &json!({"email": "new@example.com", "password": PASSWORD}),
        )
        .await;
    let taken = app
        .post_json(
            "/api/v1/auth/signup",
            None,
            &json!({"email": "taken@example.com", "password": "some other password"}),
        )
        .await;
    assert_eq!(new.status(), 202);
    assert_eq!(taken.status(), 202);
    assert!(new.headers().get("set-cookie").is_none());
    assert_eq!(new.text().await.unwrap(), taken.text().await.unwrap());
    let mails = sink.wait_for(2).await;
    let to_new = mails
        .iter()
        .find(|m| m.contains("RCPT TO:<new@example.com>"))
        .expect("no mail to the new address");
    let to_taken = mails
        .iter()
        .find(|m| m.contains("RCPT TO:<taken@example.com>"))
        .expect("no mail to the taken address");
    assert!(to_taken.contains("already has an account"), "{to_taken}");
    assert!(to_taken.contains("/forgot"), "{to_taken}");
    assert!(!to_taken.contains("/verify?token="), "{to_taken}");
    // The taken account's password did not change.
    assert_eq!(login_status(&app, "taken@example.com", PASSWORD).await, 200);

    // Before confirming: no log-in (and a new link goes out).
    assert_eq!(login_status(&app, "new@example.com", PASSWORD).await, 403);
    let token = token_in(to_new, "/verify");
    let r = app
        .post_json("/api/v1/auth/verify", None, &json!({"token": token}))
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let session = v["token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/v1/me", Some(&session)).await.status(), 200);
    // Once only; then log-in works.
    let r = app
        .post_json("/api/v1/auth/verify", None, &json!({"token": token}))
        .await;
    assert_eq!(error_of(r).await.0, 400);
    assert_eq!(login_status(&app, "new@example.com", PASSWORD).await, 200);
    // The sign-up page says the same for both.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let mut bodies = Vec::new();
    for email in ["another@example.com", "taken@example.com"] {
        let csrf = form_token(&client, &app, "/signup").await;
        let r = client
            .post(app.url("/signup"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", email),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        bodies.push(r.text().await.unwrap().replace(email, "EMAIL"));
    }
    assert!(bodies[0].contains("Look in your inbox"));
    assert_eq!(
        bodies[0]
            .split("<main")
            .nth(1)
            .map(|b| b.split("</main>").next()),
        bodies[1]
            .split("<main")
            .nth(1)
            .map(|b| b.split("</main>").next())
    );
}

/// The account page shows the address, plan, profiles and this profile's
/// devices; a device is renamed there; "sign out everywhere" ends every
/// session.
#[tokio::test]
async fn account_page_renames_devices_and_signs_out_everywhere() {
    let app = TestApp::builder().start().await;
    let other_session = app.signup("acct@example.com").await;
    let r = app
        .req(Method::POST, "/api/v1/devices", Some(&other_session))
        .json(&json!({"name": "Old name", "kind": "tv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let device: serde_json::Value = r.json().await.unwrap();
    let id = device["id"].as_i64().unwrap();
    // A browser session of the same account.
    let client = browser();
    let csrf = form_token(&client, &app, "/login").await;
    let r = client
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "acct@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = client.get(app.url("/account")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("acct@example.com"), "{html}");
    assert!(html.contains("standard"), "{html}");
    assert!(html.contains("value=\"Old name\""), "{html}");
    let csrf = crate::helpers::field_of(&html, "csrf");
    let r = client
        .post(app.url(&format!("/account/devices/{id}/rename")))
        .form(&[("csrf", csrf.as_str()), ("name", "Living-room TV")])
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
    assert!(html.contains("value=\"Living-room TV\""), "{html}");
    // A bad name is said on the page.
    let r = client
        .post(app.url(&format!("/account/devices/{id}/rename")))
        .form(&[("csrf", csrf.as_str()), ("name", "   ")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Anonymous: not the page (a redirect to log in).
    let r = app.get("/account", None).await;
    assert!(!r.text().await.unwrap().contains("Sign out everywhere"));
    // Sign out everywhere: both sessions end.
    let r = client
        .post(app.url("/account/sign-out-everywhere"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.get("/api/v1/me", Some(&other_session)).await.status(),
        401
    );
    let r = client.get(app.url("/account")).send().await.unwrap();
    assert_ne!(r.status(), 200);
}

/// A new address is confirmed by a link mailed to it, with the current
/// password asked first; the old address is told; the link works once.
#[tokio::test]
async fn email_change_needs_the_password_and_a_link_to_the_new_address() {
    let (app, sink) = app_with_sink().await;
    let token = app.login_as("old@example.com", Role::Viewer).await;
    app.login_as("taken@example.com", Role::Viewer).await;
    let ask = |email: &str, password: &str| json!({"email": email, "password": password});
    // Wrong password, taken address, same address, bad address: refused, no mail.
    for (body, status, field) in [
        (ask("new@example.com", "not my password"), 400, "password"),
        (ask("Taken@example.com", PASSWORD), 409, "email"),
        (ask("old@example.com", PASSWORD), 400, "email"),
        (ask("not-an-address", PASSWORD), 400, "email"),
    ] {
        let (s, v) = post(&app, "/api/v1/account/email", &token, body.clone()).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (status, Some(field)),
            "{body}: {v}"
        );
    }
    let (s, v) = post(
        &app,
        "/api/v1/account/email",
        &token,
        ask("New@Example.com", PASSWORD),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1, "only the accepted request mails");
    assert!(
        mails[0].contains("RCPT TO:<new@example.com>"),
        "{}",
        mails[0]
    );
    let link = token_in(&mails[0], "/account/email/confirm");
    // Nothing changed yet.
    assert_eq!(login_status(&app, "old@example.com", PASSWORD).await, 200);
    assert_eq!(login_status(&app, "new@example.com", PASSWORD).await, 401);
    let r = app
        .post_json(
            "/api/v1/account/email/confirm",
            None,
            &json!({"token": link}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["email"], "new@example.com");
    assert_eq!(login_status(&app, "new@example.com", PASSWORD).await, 200);
    assert_eq!(login_status(&app, "old@example.com", PASSWORD).await, 401);
    let mails = sink.wait_for(2).await;
    assert!(
        mails[1].contains("RCPT TO:<old@example.com>"),
        "{}",
        mails[1]
    );
    assert!(mails[1].contains("new@example.com"));
    // Once only.
    let r = app
        .post_json(
            "/api/v1/account/email/confirm",
            None,
            &json!({"token": link}),
        )
        .await;
    let (s, _, field) = error_of(r).await;
    assert_eq!((s, field.as_deref()), (400, Some("token")));
    // The page flow: the link opens a button page; the button confirms.
    let client = browser();
    let r = client
        .get(app.url("/account/email/confirm?token=abc"))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("Use this address for my account"), "{html}");
    let csrf = crate::helpers::field_of(&html, "csrf");
    let r = client
        .post(app.url("/account/email/confirm"))
        .form(&[("csrf", csrf.as_str()), ("token", "abc")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not valid any more"));
}

/// "Sign out this device" on the account page ends the sessions bound to
/// that device only, stops its stream, and the device must register again
/// before it plays; "Streams now" lists and stops streams.
#[tokio::test]
async fn signing_out_one_device_ends_only_its_sessions() {
    let app = TestApp::builder().start().await;
    let title = app.add_title("Night Train").await;
    let tv_session = app.signup("devices@example.com").await;
    let phone_session = app.login("devices@example.com").await;
    async fn register(app: &TestApp, token: &str, name: &str) -> i64 {
        let (s, v) = post(
            app,
            "/api/v1/devices",
            token,
            json!({"name": name, "kind": "tv"}),
        )
        .await;
        assert!(s == 201 || s == 200, "{s} {v}");
        v["id"].as_i64().unwrap()
    }
    let tv = register(&app, &tv_session, "Living-room TV").await;
    let phone = register(&app, &phone_session, "Phone").await;
    let (s, v) = post(
        &app,
        "/api/v1/playback/start",
        &tv_session,
        json!({"title_id": title, "device_id": tv}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    // A browser session of the same account, bound to no device.
    let client = browser();
    let csrf = form_token(&client, &app, "/login").await;
    let r = client
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "devices@example.com"),
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
    assert!(
        html.contains(&format!("action=\"/account/devices/{tv}/sign-out\"")),
        "{html}"
    );
    assert!(html.contains("hx-get=\"/account/streams\""), "{html}");
    let csrf = crate::helpers::field_of(&html, "csrf");
    // "Streams now" shows the TV's stream with its Stop button.
    let part = client
        .get(app.url("/account/streams"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        part.contains("Night Train") && part.contains("Living-room TV"),
        "{part}"
    );
    assert!(part.contains("/stop\""), "{part}");

    let r = client
        .post(app.url(&format!("/account/devices/{tv}/sign-out")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account#devices");
    // The TV's session ended; the phone's and the browser's did not.
    assert_eq!(app.get("/api/v1/me", Some(&tv_session)).await.status(), 401);
    assert_eq!(
        app.get("/api/v1/me", Some(&phone_session)).await.status(),
        200
    );
    assert_eq!(
        client
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Its stream stopped; it left the device list.
    let (_, streams) = call(&app, Method::GET, "/api/v1/streams", &phone_session, None).await;
    assert_eq!(streams, json!([]));
    let (_, devices) = call(&app, Method::GET, "/api/v1/devices", &phone_session, None).await;
    let ids: Vec<i64> = devices
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [phone]);
    // Logged in again, the TV must register before it plays.
    let tv_again = app.login("devices@example.com").await;
    let (s, _) = post(
        &app,
        "/api/v1/playback/start",
        &tv_again,
        json!({"title_id": title, "device_id": tv}),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(register(&app, &tv_again, "Living-room TV").await, tv);
    let (s, v) = post(
        &app,
        "/api/v1/playback/start",
        &tv_again,
        json!({"title_id": title, "device_id": tv}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    // "Stop" in "Streams now" (htmx): the fragment again, saying so.
    let id = v["play_session_id"].as_i64().unwrap();
    let r = client
        .post(app.url(&format!("/account/streams/{id}/stop")))
        .header("HX-Request", "true")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let part = r.text().await.unwrap();
    assert!(
        part.contains("Stopped playback on Living-room TV"),
        "{part}"
    );
    assert!(part.contains("Nothing is playing"), "{part}");
    // Another profile's device, or an unknown one: 404, nothing signed out.
    let r = client
        .post(app.url("/account/devices/999999/sign-out"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Signing out the device this browser registered signs it out too.
    let r = client
        .post(app.url("/api/v1/devices"))
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"name": "This browser", "kind": "web"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mine = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = client
        .post(app.url(&format!("/account/devices/{mine}/sign-out")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    assert_ne!(
        client
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.get("/api/v1/me", Some(&phone_session)).await.status(),
        200
    );
}
