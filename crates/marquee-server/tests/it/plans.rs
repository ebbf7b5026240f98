//! Plans and subscriptions against the real server: the stream cap follows
//! a plan change at once, pauses and cancellations stop playback, reasons
//! reach the overview, the CSV and a signed webhook, price changes
//! grandfather existing customers, admins change plans and disable
//! accounts, and bad input names its field.

use crate::helpers::{
    browser, call, error_of, form_token, get, post, receiver, wait_until, TestApp, PASSWORD,
};
use marquee_domain::{ManualClock, Plan, Role};
use marquee_store::NewAccount;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

const T0: i64 = 1_800_000_000_000;
const DAY: i64 = 86_400_000;

async fn account_on(app: &TestApp, email: &str, plan: Plan) -> String {
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
            T0,
        )
        .await
        .unwrap();
    app.login(email).await
}

async fn device(app: &TestApp, token: &str, name: &str) -> i64 {
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

async fn start(app: &TestApp, token: &str, title: i64, dev: i64) -> (u16, Value) {
    post(
        app,
        "/api/v1/playback/start",
        token,
        json!({"title_id": title, "device_id": dev}),
    )
    .await
}

async fn step(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, v) = post(app, path, token, body).await;
    assert_eq!(s, 200, "{path}: {v}");
    v
}

fn manual_app() -> (Arc<ManualClock>, impl std::future::Future<Output = TestApp>) {
    let clock = Arc::new(ManualClock::new(T0));
    let c = clock.clone();
    (
        clock,
        async move { TestApp::builder().clock(c).start().await },
    )
}

#[tokio::test]
async fn a_plan_change_moves_the_stream_cap_at_once() {
    let (_clock, app) = manual_app();
    let app = app.await;
    let t = account_on(&app, "basic@example.com", Plan::Basic).await;
    let title = app.add_title("A film").await;
    let tv = device(&app, &t, "TV").await;
    let phone = device(&app, &t, "Phone").await;
    let tablet = device(&app, &t, "Tablet").await;

    let sub = get(&app, "/api/v1/account/subscription", &t).await;
    assert_eq!(sub["plan"], "basic");
    assert_eq!(sub["stream_cap"], 1);
    assert_eq!(sub["price"]["amount_cents"], 699);
    assert_eq!(sub["events"][0]["kind"], "signed_up");

    assert_eq!(start(&app, &t, title, tv).await.0, 201);
    let (s, v) = start(&app, &t, title, phone).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["active_streams"].as_array().unwrap().len(), 1);

    // Upgrade: the second screen plays at once, at the new plan's price.
    let sub = step(&app, &t, "/api/v1/account/plan", json!({"plan": "premium"})).await;
    assert_eq!(sub["stream_cap"], 4);
    assert_eq!(sub["price"]["amount_cents"], 2299);
    assert_eq!(sub["events"][0]["kind"], "upgraded");
    assert_eq!(sub["events"][0]["from_plan"], "basic");
    assert_eq!(start(&app, &t, title, phone).await.0, 201);

    // Downgrade: two streams run, the cap is one, a third screen is refused.
    let sub = step(&app, &t, "/api/v1/account/plan", json!({"plan": "basic"})).await;
    assert_eq!(sub["stream_cap"], 1);
    assert_eq!(sub["events"][0]["kind"], "downgraded");
    let (s, v) = start(&app, &t, title, tablet).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"]["field"], "device_id");

    // Paused: nothing new plays, and the message says how to come back.
    let sub = step(&app, &t, "/api/v1/account/pause", json!({})).await;
    assert_eq!(
        (sub["status"].as_str(), sub["stream_cap"].as_i64()),
        (Some("paused"), Some(0))
    );
    assert_eq!(sub["price"]["amount_cents"], 699, "a pause keeps the price");
    let (s, v) = start(&app, &t, title, tablet).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (409, Some("status")),
        "{v}"
    );
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("reactivate"));
    // A paused account cannot change plan; it reactivates (here on another plan).
    let (s, v) = post(
        &app,
        "/api/v1/account/plan",
        &t,
        json!({"plan": "standard"}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (409, Some("status")),
        "{v}"
    );
    let sub = step(
        &app,
        &t,
        "/api/v1/account/reactivate",
        json!({"plan": "standard"}),
    )
    .await;
    assert_eq!(
        (sub["status"].as_str(), sub["stream_cap"].as_i64()),
        (Some("active"), Some(2))
    );
    let kinds: Vec<&str> = sub["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "reactivated",
            "paused",
            "downgraded",
            "upgraded",
            "signed_up"
        ]
    );
}

#[tokio::test]
async fn a_cancellation_reason_reaches_the_overview_the_csv_and_a_signed_webhook() {
    let (_clock, app) = manual_app();
    let app = app.await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let viewer = account_on(&app, "leaving@example.com", Plan::Premium).await;
    let other = account_on(&app, "staying@example.com", Plan::Basic).await;
    let hook = receiver(0).await;
    let secret = "billing-system-signing-key";
    let (s, v) = post(
        &app,
        "/api/v1/webhooks",
        &admin,
        json!({"url": hook.url, "secret": secret, "events": ["account.cancelled", "account.downgraded"]}),
    )
    .await;
    assert_eq!(s, 201, "{v}");

    // Another account's downgrade, then the cancellation.
    step(
        &app,
        &other,
        "/api/v1/account/plan",
        json!({"plan": "standard"}),
    )
    .await;
    let step_down = step(
        &app,
        &other,
        "/api/v1/account/plan",
        json!({"plan": "basic"}),
    )
    .await;
    assert_eq!(step_down["events"][0]["kind"], "downgraded");
    let words = "=HYPERLINK(\"http://evil\") too dear since the rise, \"sadly\"";
    let sub = step(
        &app,
        &viewer,
        "/api/v1/account/cancel",
        json!({"reason": "price", "detail": words}),
    )
    .await;
    assert_eq!(sub["status"], "cancelled");
    assert_eq!(sub["events"][0]["reason"], "price");
    // Twice is refused.
    let (s, v) = post(
        &app,
        "/api/v1/account/cancel",
        &viewer,
        json!({"reason": "price"}),
    )
    .await;
    assert_eq!((s, v["error"]["field"].as_str()), (409, Some("status")));

    // The webhook: one per subscribed event, signed with the endpoint's key.
    wait_until("two webhook deliveries", || {
        hook.got.lock().unwrap().len() == 2
    })
    .await;
    let got = hook.got.lock().unwrap().clone();
    let (headers, body) = got
        .iter()
        .find(|(h, _)| h["x-marquee-event"] == "account.cancelled")
        .expect("a cancellation delivery");
    let sig = headers["x-marquee-signature"].to_str().unwrap();
    assert!(marquee_server::webhooks::verify(secret, sig, body).is_some());
    assert!(marquee_server::webhooks::verify("wrong key", sig, body).is_none());
    let payload: Value = serde_json::from_str(body).unwrap();
    assert_eq!(payload["email"], "leaving@example.com");
    assert_eq!(payload["reason"], "price");
    assert_eq!(payload["detail"], words);
    assert_eq!(payload["plan"], "premium");
    assert_eq!(payload["price"]["amount_cents"], 2299);
    assert!(got
        .iter()
        .any(|(h, b)| h["x-marquee-event"] == "account.downgraded"
            && b.contains("staying@example.com")));

    // The overview (API and page) counts it with its reason.
    let o = get(&app, "/api/v1/staff/overview", &agent).await;
    let subs = &o["subscriptions"];
    assert_eq!(subs["cancelled"], 1, "{subs}");
    assert_eq!(subs["reasons"][0]["reason"], "price");
    assert_eq!(subs["reasons"][0]["count"], 1);
    let today = subs["days"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            today["cancelled"].as_i64(),
            today["cancelled_over_price"].as_i64(),
            today["downgraded"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let page = app.get("/staff", Some(&agent)).await.text().await.unwrap();
    assert!(page.contains("Why people cancel"), "{page}");
    assert!(page.contains("The price: 1"), "{page}");
    assert!(page.contains("too dear since the rise"), "{page}");
    assert!(!page.contains("<a href=\"http://evil\""));

    // The CSV for a billing system: admins only, formulas neutralised.
    let r = app
        .get(
            "/api/v1/staff/account-events.csv?kind=cancelled",
            Some(&admin),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("id,at,account_id,email,kind"));
    assert!(lines[1].contains(",leaving@example.com,cancelled,premium,,22.99,USD,price,"));
    assert!(
        lines[1].contains("\"'=HYPERLINK(\"\"http://evil\"\") too dear"),
        "{csv}"
    );
    assert_eq!(
        app.get("/api/v1/staff/account-events.csv", Some(&agent))
            .await
            .status(),
        403
    );
    let all = get(&app, "/api/v1/staff/account-events?limit=10", &admin).await;
    // Five sign-ups (staff too), two downgrades... newest first.
    assert_eq!(all[0]["kind"], "cancelled");
    let (s, _, f) = error_of(
        app.get("/api/v1/staff/account-events?kind=left", Some(&admin))
            .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("kind")));
    let (s, _, f) = error_of(app.get("/api/v1/staff/churn?days=0", Some(&agent)).await).await;
    assert_eq!((s, f.as_deref()), (400, Some("days")));

    // A cancelled account plays nothing until it comes back, at today's price.
    let title = app.add_title("A film").await;
    let tv = device(&app, &viewer, "TV").await;
    assert_eq!(start(&app, &viewer, title, tv).await.0, 409);
    let sub = step(&app, &viewer, "/api/v1/account/reactivate", json!({})).await;
    assert_eq!(sub["status"], "active");
    assert_eq!(start(&app, &viewer, title, tv).await.0, 201);
}

#[tokio::test]
async fn a_price_change_leaves_existing_customers_on_their_price() {
    let (clock, app) = manual_app();
    let app = app.await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let early = account_on(&app, "early@example.com", Plan::Standard).await;

    let plans = get(&app, "/api/v1/plans", &early).await;
    let standard = plans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["plan"] == "standard")
        .unwrap()
        .clone();
    assert_eq!(
        (
            standard["stream_cap"].as_i64(),
            standard["price"]["amount_cents"].as_i64()
        ),
        (Some(2), Some(1549))
    );
    assert_eq!(standard["price_display"], "$15.49");
    // Public: the plans are on the sign-up page's side of the wall.
    assert_eq!(app.get("/api/v1/plans", None).await.status(), 200);

    let offer = step(
        &app,
        &admin,
        "/api/v1/staff/plans/standard/prices",
        json!({"amount_cents": 1799, "currency": "usd"}),
    )
    .await;
    assert_eq!(offer["price"]["amount_cents"], 1799);
    assert_eq!(offer["price"]["currency"], "USD");
    assert_eq!(offer["history"].as_array().unwrap().len(), 2);
    // The early customer keeps 15.49; a new one pays 17.99.
    assert_eq!(
        get(&app, "/api/v1/account/subscription", &early).await["price"]["amount_cents"],
        1549
    );
    let late = account_on(&app, "late@example.com", Plan::Standard).await;
    assert_eq!(
        get(&app, "/api/v1/account/subscription", &late).await["price"]["amount_cents"],
        1799
    );
    // A scheduled price is shown as such and is not in effect yet.
    let offer = step(
        &app,
        &admin,
        "/api/v1/staff/plans/standard/prices",
        json!({"amount_cents": 1999, "currency": "USD", "effective_from": T0 + 7 * DAY}),
    )
    .await;
    assert_eq!(offer["price"]["amount_cents"], 1799);
    assert_eq!(offer["scheduled"]["price"]["amount_cents"], 1999);
    // A plan change moves to the price of the day: leaving and coming back
    // to standard costs the early customer their old price.
    clock.advance(8 * DAY);
    step(
        &app,
        &early,
        "/api/v1/account/plan",
        json!({"plan": "basic"}),
    )
    .await;
    let sub = step(
        &app,
        &early,
        "/api/v1/account/plan",
        json!({"plan": "standard"}),
    )
    .await;
    assert_eq!(sub["price"]["amount_cents"], 1999);
    // A pause and a comeback keep it; a cancellation and a comeback do not
    // (here the price is the same either way, so compare with the late one).
    step(&app, &late, "/api/v1/account/pause", json!({})).await;
    let sub = step(&app, &late, "/api/v1/account/reactivate", json!({})).await;
    assert_eq!(sub["price"]["amount_cents"], 1799);
    step(
        &app,
        &late,
        "/api/v1/account/cancel",
        json!({"reason": "catalog"}),
    )
    .await;
    let sub = step(&app, &late, "/api/v1/account/reactivate", json!({})).await;
    assert_eq!(sub["price"]["amount_cents"], 1999);

    // Bad prices name their field; viewers may not set prices.
    for (body, field) in [
        (
            json!({"amount_cents": -1, "currency": "USD"}),
            "amount_cents",
        ),
        (json!({"amount_cents": 100, "currency": "US"}), "currency"),
        (
            json!({"amount_cents": 100, "currency": "USD", "effective_from": 5}),
            "effective_from",
        ),
        (
            json!({"amount_cents": "ten", "currency": "USD"}),
            "amount_cents",
        ),
    ] {
        let (s, v) = post(
            &app,
            "/api/v1/staff/plans/standard/prices",
            &admin,
            body.clone(),
        )
        .await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {v}"
        );
    }
    let (s, _) = post(
        &app,
        "/api/v1/staff/plans/gold/prices",
        &admin,
        json!({"amount_cents": 1, "currency": "USD"}),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = post(
        &app,
        "/api/v1/staff/plans/basic/prices",
        &early,
        json!({"amount_cents": 1, "currency": "USD"}),
    )
    .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn bad_subscription_requests_name_their_field() {
    let (_clock, app) = manual_app();
    let app = app.await;
    let t = account_on(&app, "v@example.com", Plan::Standard).await;
    let long = "x".repeat(2001);
    let cases = [
        ("/api/v1/account/plan", json!({"plan": "gold"}), 400, "plan"),
        (
            "/api/v1/account/plan",
            json!({"plan": "standard"}),
            409,
            "plan",
        ),
        (
            "/api/v1/account/plan",
            json!({"plan": "basic", "extra": 1}),
            400,
            "extra",
        ),
        (
            "/api/v1/account/cancel",
            json!({"reason": "cheaper"}),
            400,
            "reason",
        ),
        ("/api/v1/account/cancel", json!({}), 400, "reason"),
        (
            "/api/v1/account/cancel",
            json!({"reason": "other", "detail": long}),
            400,
            "detail",
        ),
        ("/api/v1/account/reactivate", json!({}), 409, "status"),
        (
            "/api/v1/account/reactivate",
            json!({"plan": 3}),
            400,
            "plan",
        ),
    ];
    for (path, body, status, field) in cases {
        let (s, v) = post(&app, path, &t, body.clone()).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (status, Some(field)),
            "{path} {body}: {v}"
        );
    }
    // Nothing was recorded but the sign-up.
    let sub = get(&app, "/api/v1/account/subscription", &t).await;
    assert_eq!(sub["events"].as_array().unwrap().len(), 1);
    // Anonymous: 401.
    assert_eq!(
        app.get("/api/v1/account/subscription", None).await.status(),
        401
    );
}

#[tokio::test]
async fn admins_change_plans_and_disable_accounts() {
    let (_clock, app) = manual_app();
    let app = app.await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let viewer = account_on(&app, "v@example.com", Plan::Basic).await;
    let id = crate::helpers::account_id(&app, &viewer).await;
    let admin_id = crate::helpers::account_id(&app, &admin).await;
    let path = format!("/api/v1/staff/accounts/{id}");

    let (s, v) = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"plan": "premium"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["plan"], "premium");
    let events = get(
        &app,
        &format!("/api/v1/staff/account-events?account_id={id}"),
        &admin,
    )
    .await;
    assert_eq!(events[0]["kind"], "upgraded");
    assert_eq!(events[0]["actor_id"], admin_id);

    let (s, v) = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!((s, v["disabled"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(app.get("/api/v1/me", Some(&viewer)).await.status(), 401);
    let r = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": "v@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let (s, _) = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"disabled": false})),
    )
    .await;
    assert_eq!(s, 200);
    app.login("v@example.com").await;

    // Not themself, not nothing.
    let own = format!("/api/v1/staff/accounts/{admin_id}");
    let (s, v) = call(
        &app,
        Method::PATCH,
        &own,
        &admin,
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!((s, v["error"]["field"].as_str()), (400, Some("disabled")));
    let (s, _) = call(&app, Method::PATCH, &path, &admin, Some(json!({}))).await;
    assert_eq!(s, 400);
    let (s, _) = call(
        &app,
        Method::PATCH,
        "/api/v1/staff/accounts/999999",
        &admin,
        Some(json!({"plan": "basic"})),
    )
    .await;
    assert_eq!(s, 404);
}

/// The account page's plan section: change, pause, reactivate and cancel
/// through forms, each confirmed on the page.
#[tokio::test]
async fn the_account_page_changes_pauses_and_cancels() {
    let (_clock, app) = manual_app();
    let app = app.await;
    account_on(&app, "page@example.com", Plan::Standard).await;
    let client = browser();
    let csrf = form_token(&client, &app, "/login").await;
    let r = client
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "page@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = |path: &'static str| {
        let client = client.clone();
        let url = app.url(path);
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let html = page("/account").await;
    assert!(html.contains("$15.49"), "{html}");
    let csrf = crate::helpers::field_of(&html, "csrf");
    let submit = |path: &'static str, form: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = app.url(path);
        async move { client.post(url).form(&form).send().await.unwrap() }
    };
    let r = submit(
        "/account/plan",
        vec![("csrf", csrf.clone()), ("plan", "premium".into())],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account?done=upgraded#plan");
    let html = page("/account?done=upgraded").await;
    assert!(
        html.contains("Upgraded: more screens from now on."),
        "{html}"
    );
    assert!(html.contains("$22.99"));
    // A cancellation without a reason is refused on the page.
    let r = submit(
        "/account/cancel",
        vec![("csrf", csrf.clone()), ("reason", String::new())],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("tell us why you are leaving"));
    // A forged form (no CSRF token) changes nothing.
    let r = submit("/account/pause", vec![("csrf", "forged".into())]).await;
    assert_eq!(r.status(), 403);
    let r = submit(
        "/account/cancel",
        vec![
            ("csrf", csrf.clone()),
            ("reason", "other_service".into()),
            ("detail", "Trying <b>another</b> service".into()),
        ],
    )
    .await;
    assert_eq!(r.headers()["location"], "/account?done=cancelled#plan");
    let html = page("/account?done=cancelled").await;
    assert!(html.contains("Thank you for telling us why"));
    assert!(html.contains("Reactivate"));
    assert!(html.contains("Moving to another service"));
    let r = submit(
        "/account/reactivate",
        vec![("csrf", csrf.clone()), ("plan", "basic".into())],
    )
    .await;
    assert_eq!(r.headers()["location"], "/account?done=reactivated#plan");
    let html = page("/account").await;
    assert!(
        html.contains("You are on the <strong>Basic</strong> plan"),
        "{html}"
    );
}

/// Logs a browser in through the page; returns it with a CSRF token.
async fn browser_for(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let client = browser();
    let csrf = form_token(&client, app, "/login").await;
    let r = client
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let csrf = form_token(&client, app, "/account").await;
    (client, csrf)
}

/// The admins' accounts pages: search and filters, actions, the audit trail;
/// agents and viewers can neither see nor act.
#[tokio::test]
async fn admins_search_accounts_and_act_with_an_audit_trail() {
    let (_clock, app) = manual_app();
    let app = app.await;
    app.login_as("boss@example.com", Role::Admin).await;
    app.login_as("helper@example.com", Role::Agent).await;
    let target = account_on(&app, "target_100%@example.com", Plan::Basic).await;
    account_on(&app, "bystander@example.com", Plan::Premium).await;
    let id = crate::helpers::account_id(&app, &target).await;
    let (admin, csrf) = browser_for(&app, "boss@example.com").await;
    let text = |r: reqwest::Response| async move { r.text().await.unwrap() };

    // Search is a literal substring: "_100%" matches one address, not all.
    let html = text(
        admin
            .get(app.url("/staff/accounts?q=_100%25"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(html.contains("target_100%@example.com"), "{html}");
    assert!(!html.contains("bystander@example.com"), "{html}");
    let html = text(
        admin
            .get(app.url("/staff/accounts?plan=premium"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        html.contains("bystander@example.com") && !html.contains("target_100"),
        "{html}"
    );
    let html = text(
        admin
            .get(app.url("/staff/accounts?role=agent&status=active"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        html.contains("helper@example.com") && !html.contains("bystander"),
        "{html}"
    );
    let html = text(
        admin
            .get(app.url("/staff/accounts?q=nobody-here"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(html.contains("No account matches."));
    // The API filters alike.
    let api_admin = app.login("boss@example.com").await;
    let found = get(
        &app,
        "/api/v1/staff/accounts?plan=basic&q=TARGET",
        &api_admin,
    )
    .await;
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let (s, v) = call(
        &app,
        Method::GET,
        "/api/v1/staff/accounts?status=gone",
        &api_admin,
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("status")),
        "{v}"
    );

    // Change plan and role, disable: each confirmed and audited.
    let update = |form: Vec<(&'static str, String)>| {
        let admin = admin.clone();
        let url = app.url(&format!("/staff/accounts/{id}/update"));
        async move { admin.post(url).form(&form).send().await.unwrap() }
    };
    let r = update(vec![
        ("csrf", csrf.clone()),
        ("role", "agent".into()),
        ("plan", "premium".into()),
    ])
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("/staff/accounts/{id}?done=saved")
    );
    let r = update(vec![("csrf", csrf.clone()), ("disabled", "true".into())]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.get("/api/v1/me", Some(&target)).await.status(), 401);
    let r = update(vec![("csrf", csrf.clone()), ("plan", "gold".into())]).await;
    assert_eq!(r.status(), 400);
    let html = text(
        admin
            .get(app.url(&format!("/staff/accounts/{id}?done=saved")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        html.contains("Saved. The change is in the audit trail below."),
        "{html}"
    );
    assert!(html.contains("role changed: viewer → agent"), "{html}");
    assert!(html.contains("plan changed: basic → premium"), "{html}");
    assert!(
        html.contains("disabled</td>") || html.contains(">disabled<"),
        "{html}"
    );
    assert!(html.contains("boss@example.com"));
    assert!(html.contains("Enable: let them log in again"));
    let a = app.store().account(id).await.unwrap().unwrap();
    assert_eq!(
        (a.role, a.plan, a.disabled),
        (Role::Agent, Plan::Premium, true)
    );
    // A forged form changes nothing.
    let r = update(vec![
        ("csrf", "forged".into()),
        ("disabled", "false".into()),
    ])
    .await;
    assert_eq!(r.status(), 403);
    assert!(app.store().account(id).await.unwrap().unwrap().disabled);

    // Agents (with their own valid token) and viewers are refused.
    let (agent, agent_csrf) = browser_for(&app, "helper@example.com").await;
    assert_eq!(
        agent
            .get(app.url(&format!("/staff/accounts/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let r = agent
        .post(app.url(&format!("/staff/accounts/{id}/update")))
        .form(&[("csrf", agent_csrf.as_str()), ("disabled", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(app.store().account(id).await.unwrap().unwrap().disabled);
}
