//! The idea box: API, pages, votes, merges, notifications, webhooks.

use crate::helpers::{error_of, receiver, wait_until, TestApp};
use marquee_domain::{ManualClock, Plan, Role};
use marquee_server::Config;
use marquee_store::NewAccount;
use reqwest::Method;
use serde_json::{json, Value};

use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_780_000_000_000;
const DAY: i64 = 24 * 3600 * 1000;

/// A logged-in account: id, bearer token and the session's CSRF token.
#[derive(Clone)]
pub(crate) struct Who {
    pub id: i64,
    pub token: String,
    pub csrf: String,
}

/// Creates an account and a long session for it directly in the store
/// (argon2 for dozens of accounts would dominate the test).
pub(crate) async fn account(app: &TestApp, email: &str, role: Role) -> Who {
    let a = app
        .store()
        .create_account(
            &NewAccount {
                email: email.into(),
                password_hash: "not-a-login".into(),
                role,
                plan: Plan::Standard,
                must_change_password: false,
                first_profile: email.split('@').next().unwrap().to_string(),
                email_verified: true,
            },
            1,
        )
        .await
        .unwrap();
    let token = marquee_server::auth::random_token();
    let csrf = marquee_server::auth::random_token();
    let now = app.state.clock.now_ms();
    app.store()
        .create_session(
            &marquee_server::auth::token_hash(&token),
            a.id,
            None,
            &csrf,
            now,
            now + 3650 * DAY,
        )
        .await
        .unwrap();
    Who {
        id: a.id,
        token,
        csrf,
    }
}

async fn send(
    app: &TestApp,
    m: Method,
    path: &str,
    who: Option<&Who>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut r = app.req(m, path, who.map(|w| w.token.as_str()));
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

async fn ok_json(r: reqwest::Response, status: u16) -> Value {
    let s = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(s, status, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn post_idea(app: &TestApp, who: &Who, title: &str, tags: &[&str]) -> i64 {
    let v = ok_json(
        send(
            app,
            Method::POST,
            "/api/v1/ideas",
            Some(who),
            Some(json!({"title": title, "description": "Some *details*.", "tags": tags})),
        )
        .await,
        201,
    )
    .await;
    v["id"].as_i64().unwrap()
}

async fn vote(app: &TestApp, who: &Who, id: i64) -> reqwest::Response {
    send(
        app,
        Method::PUT,
        &format!("/api/v1/ideas/{id}/vote"),
        Some(who),
        None,
    )
    .await
}

async fn set_status(app: &TestApp, who: &Who, id: i64, body: Value) -> reqwest::Response {
    send(
        app,
        Method::POST,
        &format!("/api/v1/ideas/{id}/status"),
        Some(who),
        Some(body),
    )
    .await
}

async fn votes_of(app: &TestApp, id: i64) -> i64 {
    let v = ok_json(app.get(&format!("/api/v1/ideas/{id}"), None).await, 200).await;
    v["votes"].as_i64().unwrap()
}

fn manual() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(T0))
}

#[tokio::test]
async fn bad_input_names_the_field_and_markdown_is_sanitised() {
    let app = TestApp::builder().clock(manual()).start().await;
    let ann = account(&app, "ann@example.com", Role::Viewer).await;
    for (body, field) in [
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(121)}), "title"),
        (json!({"description": "no title"}), "title"),
        (json!({"title": "ok", "tags": ["<b>"]}), "tags"),
        (
            json!({"title": "ok", "description": "d".repeat(10_001)}),
            "description",
        ),
        (json!({"title": "ok", "colour": "red"}), "colour"),
    ] {
        let r = send(
            &app,
            Method::POST,
            "/api/v1/ideas",
            Some(&ann),
            Some(body.clone()),
        )
        .await;
        let (status, code, f) = error_of(r).await;
        assert_eq!(
            (status, code.as_str(), f.as_deref()),
            (400, "invalid_input", Some(field)),
            "{body}"
        );
    }
    // Nothing was written by the refused requests.
    let list = ok_json(app.get("/api/v1/ideas", None).await, 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);

    let evil = "Hi <script>alert(1)</script><img src=x onerror=alert(2)> [x](javascript:alert(3)) <a href=\"https://ok.example\" onclick=\"steal()\">ok</a> **bold**";
    let v = ok_json(
        send(
            &app,
            Method::POST,
            "/api/v1/ideas",
            Some(&ann),
            Some(json!({"title": "<b>Kids</b> profiles", "description": evil})),
        )
        .await,
        201,
    )
    .await;
    let id = v["id"].as_i64().unwrap();
    let d = ok_json(app.get(&format!("/api/v1/ideas/{id}"), None).await, 200).await;
    let html = d["description_html"].as_str().unwrap();
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    assert!(html.contains("https://ok.example"), "{html}");
    for bad in ["<script", "alert(1)", "onerror", "onclick", "javascript:"] {
        assert!(!html.contains(bad), "{bad} survived: {html}");
    }
    // The page shows the sanitised HTML and escapes the title.
    let page = app
        .get(&format!("/ideas/{id}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<strong>bold</strong>"));
    assert!(!page.contains("<script>alert(1)"));
    assert!(!page.contains("<b>Kids</b>"));
    assert!(page.contains("&#60;b&#62;Kids") || page.contains("&lt;b&gt;Kids"));

    // Unknown sort/status, bad ids, and oversize similar queries.
    let (s, _, f) = error_of(app.get("/api/v1/ideas?sort=hot", None).await).await;
    assert_eq!((s, f.as_deref()), (400, Some("sort")));
    let (s, _, f) = error_of(app.get("/api/v1/ideas?status=shipped", None).await).await;
    assert_eq!((s, f.as_deref()), (400, Some("status")));
    let (s, _, f) = error_of(app.get("/api/v1/ideas/abc", None).await).await;
    assert_eq!((s, f.as_deref()), (400, Some("id")));
    let (s, _, _) = error_of(app.get("/api/v1/ideas/999", None).await).await;
    assert_eq!(s, 404);
    let long = "a".repeat(201);
    let (s, _, f) = error_of(
        app.get(&format!("/api/v1/ideas/similar?q={long}"), None)
            .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("q")));
    // Comments need a body.
    let (s, _, f) = error_of(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/ideas/{id}/comments"),
            Some(&ann),
            Some(json!({"body": "  "})),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("body")));
}

#[tokio::test]
async fn vote_budget_counts_open_ideas_and_refunds_on_close() {
    let mut config = Config::default();
    config.ideas.vote_budget = Some(2);
    let app = TestApp::builder()
        .config(config)
        .clock(manual())
        .start()
        .await;
    let staff = account(&app, "staff@example.com", Role::Agent).await;
    let v = account(&app, "v@example.com", Role::Viewer).await;
    let a = post_idea(&app, &staff, "Idea A", &[]).await;
    let b = post_idea(&app, &staff, "Idea B", &[]).await;
    let c = post_idea(&app, &staff, "Idea C", &[]).await;

    let r = ok_json(vote(&app, &v, a).await, 200).await;
    assert_eq!(
        (r["votes"].as_i64(), r["votes_used"].as_i64()),
        (Some(1), Some(1))
    );
    // Voting twice is one vote.
    let r = ok_json(vote(&app, &v, a).await, 200).await;
    assert_eq!(
        (r["votes"].as_i64(), r["votes_used"].as_i64()),
        (Some(1), Some(1))
    );
    ok_json(vote(&app, &v, b).await, 200).await;
    let (s, code, f) = error_of(vote(&app, &v, c).await).await;
    assert_eq!(
        (s, code.as_str(), f.as_deref()),
        (409, "conflict", Some("votes"))
    );
    assert_eq!(votes_of(&app, c).await, 0);

    // Withdrawing frees a vote.
    let r = ok_json(
        send(
            &app,
            Method::DELETE,
            &format!("/api/v1/ideas/{b}/vote"),
            Some(&v),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (
            r["voted"].as_bool(),
            r["votes"].as_i64(),
            r["votes_used"].as_i64()
        ),
        (Some(false), Some(0), Some(1))
    );
    ok_json(vote(&app, &v, c).await, 200).await;
    let (s, _, _) = error_of(vote(&app, &v, b).await).await;
    assert_eq!(s, 409);

    // Launching A refunds its vote; the launched idea keeps its count.
    ok_json(
        set_status(&app, &staff, a, json!({"status": "launched", "explanation": "Shipped in 2.3", "release_note_url": "https://example.com/notes/2.3"})).await,
        200,
    )
    .await;
    let page = ok_json(app.get("/api/v1/ideas", Some(&v.token)).await, 200).await;
    assert_eq!(page["votes_used"].as_i64(), Some(1));
    assert_eq!(page["vote_budget"].as_i64(), Some(2));
    ok_json(vote(&app, &v, b).await, 200).await;
    assert_eq!(votes_of(&app, a).await, 1);

    // A closed idea takes no votes and no withdrawals.
    let w = account(&app, "w@example.com", Role::Viewer).await;
    let (s, _, f) = error_of(vote(&app, &w, a).await).await;
    assert_eq!((s, f.as_deref()), (409, Some("idea")));
    let (s, _, _) = error_of(
        send(
            &app,
            Method::DELETE,
            &format!("/api/v1/ideas/{a}/vote"),
            Some(&v),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(s, 409);
    // Declining refunds too.
    ok_json(
        set_status(
            &app,
            &staff,
            b,
            json!({"status": "declined", "explanation": "Not for us"}),
        )
        .await,
        200,
    )
    .await;
    let page = ok_json(app.get("/api/v1/ideas", Some(&v.token)).await, 200).await;
    assert_eq!(page["votes_used"].as_i64(), Some(1)); // only C
                                                      // Anonymous cannot vote.
    let r = app
        .req(Method::PUT, &format!("/api/v1/ideas/{c}/vote"), None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn merge_moves_voters_once_links_and_refuses_cycles() {
    let app = TestApp::builder().clock(manual()).start().await;
    let staff = account(&app, "staff@example.com", Role::Agent).await;
    let u: Vec<Who> = futures_all(&app, 4).await;
    let orig = post_idea(
        &app,
        &u[0],
        "Download episodes for offline viewing",
        &["downloads"],
    )
    .await;
    let dup = post_idea(&app, &u[1], "Offline downloads on the train", &["offline"]).await;
    // orig: u0, u1, u2; dup: u1 (both), u2 (both), u3.
    for w in &u[0..3] {
        ok_json(vote(&app, w, orig).await, 200).await;
    }
    for w in &u[1..4] {
        ok_json(vote(&app, w, dup).await, 200).await;
    }
    assert_eq!(
        (votes_of(&app, orig).await, votes_of(&app, dup).await),
        (3, 3)
    );

    // Viewers may not merge.
    let r = send(
        &app,
        Method::POST,
        &format!("/api/v1/ideas/{dup}/merge"),
        Some(&u[0]),
        Some(json!({"duplicate_of": orig, "explanation": "x"})),
    )
    .await;
    assert_eq!(r.status(), 403);
    // Into itself → 400.
    let (s, _, f) = error_of(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/ideas/{dup}/merge"),
            Some(&staff),
            Some(json!({"duplicate_of": dup, "explanation": "x"})),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("duplicate_of")));
    // Into a missing idea → 400.
    let (s, _, f) = error_of(
        set_status(
            &app,
            &staff,
            dup,
            json!({"status": "duplicate", "duplicate_of": 999, "explanation": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("duplicate_of")));

    let r = ok_json(
        set_status(&app, &staff, dup, json!({"status": "duplicate", "duplicate_of": orig, "explanation": "Same request as #1"})).await,
        200,
    )
    .await;
    // Four distinct voters: u1 and u2 voted for both and count once.
    assert_eq!(r["idea"]["id"].as_i64(), Some(orig));
    assert_eq!(r["idea"]["votes"].as_i64(), Some(4));
    assert_eq!(r["notified"].as_i64(), Some(3)); // u1 (author, voter), u2, u3
    let d = ok_json(app.get(&format!("/api/v1/ideas/{dup}"), None).await, 200).await;
    assert_eq!(d["status"], "duplicate");
    assert_eq!(d["duplicate_of"].as_i64(), Some(orig));
    assert_eq!(d["votes"].as_i64(), Some(0));
    assert_eq!(d["history"][0]["duplicate_of"].as_i64(), Some(orig));
    assert_eq!(d["history"][0]["explanation"], "Same request as #1");
    let n = app.store().unvote(orig, u[3].id).await.unwrap();
    assert_eq!(n.votes, 3);
    ok_json(vote(&app, &u[3], orig).await, 200).await;

    // The merged idea takes no votes; a merge back would be a cycle.
    let (s, _, f) = error_of(vote(&app, &u[0], dup).await).await;
    assert_eq!((s, f.as_deref()), (409, Some("idea")));
    let (s, _, f) = error_of(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/ideas/{orig}/merge"),
            Some(&staff),
            Some(json!({"duplicate_of": dup, "explanation": "loop"})),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("duplicate_of")));
    assert_eq!(votes_of(&app, orig).await, 4);
    // Duplicates leave the default listing; the page links the original.
    let list = ok_json(app.get("/api/v1/ideas", None).await, 200).await;
    let ids: Vec<i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![orig]);
    let page = app
        .get(&format!("/ideas/{dup}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("href=\"/ideas/{orig}\" id=\"original-link\"")),
        "{page}"
    );
}

async fn futures_all(app: &TestApp, n: usize) -> Vec<Who> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(account(app, &format!("user{i}@example.com"), Role::Viewer).await);
    }
    out
}

#[tokio::test]
async fn concurrent_votes_lose_no_updates() {
    let app = TestApp::builder().start().await;
    let staff = account(&app, "staff@example.com", Role::Agent).await;
    let id = post_idea(&app, &staff, "Concurrent idea", &[]).await;
    let voters = futures_all(&app, 48).await;
    let app = Arc::new(app);
    let mut set = tokio::task::JoinSet::new();
    // Every voter votes twice at once, and a third of them withdraw and vote again.
    for (i, w) in voters.iter().enumerate() {
        for round in 0..2 {
            let (app, w) = (app.clone(), w.clone());
            set.spawn(async move {
                let r = vote(&app, &w, id).await;
                assert_eq!(r.status(), 200, "vote {round}");
                if i % 3 == 0 && round == 0 {
                    let r = send(
                        &app,
                        Method::DELETE,
                        &format!("/api/v1/ideas/{id}/vote"),
                        Some(&w),
                        None,
                    )
                    .await;
                    assert_eq!(r.status(), 200);
                    let r = vote(&app, &w, id).await;
                    assert_eq!(r.status(), 200);
                }
            });
        }
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    assert_eq!(votes_of(&app, id).await, 48);
    // The denormalised count agrees with the vote rows.
    let mut total = 0;
    for w in &voters {
        let i = app.store().idea(id, Some(w.id)).await.unwrap().unwrap();
        total += i64::from(i.voted);
    }
    assert_eq!(total, 48);
}

#[tokio::test]
async fn status_change_notifies_subscribers_in_app_and_by_signed_webhook_with_retry() {
    let clock = manual();
    let app = TestApp::builder().clock(clock.clone()).start().await;
    let admin = account(&app, "admin@example.com", Role::Admin).await;
    let author = account(&app, "author@example.com", Role::Viewer).await;
    let voter = account(&app, "voter@example.com", Role::Viewer).await;
    let commenter = account(&app, "commenter@example.com", Role::Viewer).await;
    let bystander = account(&app, "bystander@example.com", Role::Viewer).await;

    let hook = receiver(1).await;
    let secret = "a-very-secret-signing-key";
    // Viewers may not manage webhooks; bad URLs are refused.
    let r = send(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        Some(&voter),
        Some(json!({"url": hook.url})),
    )
    .await;
    assert_eq!(r.status(), 403);
    let (s, _, f) = error_of(
        send(
            &app,
            Method::POST,
            "/api/v1/webhooks",
            Some(&admin),
            Some(json!({"url": "ftp://x"})),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("url")));
    let w = ok_json(
        send(
            &app,
            Method::POST,
            "/api/v1/webhooks",
            Some(&admin),
            Some(json!({"url": hook.url, "secret": secret, "events": ["idea.status_changed"]})),
        )
        .await,
        201,
    )
    .await;
    let hook_id = w["id"].as_i64().unwrap();
    let listed = ok_json(app.get("/api/v1/webhooks", Some(&admin.token)).await, 200).await;
    assert!(
        listed[0].get("secret").is_none(),
        "secret must not be listed"
    );

    let id = post_idea(&app, &author, "Skip intro button", &["player"]).await;
    ok_json(vote(&app, &voter, id).await, 200).await;
    ok_json(vote(&app, &author, id).await, 200).await;
    ok_json(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/ideas/{id}/comments"),
            Some(&commenter),
            Some(json!({"body": "Yes please"})),
        )
        .await,
        201,
    )
    .await;
    // A staff reply is official and the staff member is not notified of their own change.
    let c = ok_json(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/ideas/{id}/comments"),
            Some(&admin),
            Some(json!({"body": "We are on it"})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(c["official"], true);

    // Viewers cannot change a status.
    let r = set_status(
        &app,
        &voter,
        id,
        json!({"status": "planned", "explanation": "x"}),
    )
    .await;
    assert_eq!(r.status(), 403);
    let (s, _, f) = error_of(
        set_status(
            &app,
            &admin,
            id,
            json!({"status": "planned", "explanation": ""}),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("explanation")));
    let (s, _, f) = error_of(set_status(&app, &admin, id, json!({"status": "launched", "explanation": "x", "release_note_url": "javascript:alert(1)"})).await).await;
    assert_eq!((s, f.as_deref()), (400, Some("release_note_url")));

    let note = "https://example.com/releases/4.2";
    let r = ok_json(
        set_status(&app, &admin, id, json!({"status": "launched", "explanation": "Shipped in **4.2**", "release_note_url": note})).await,
        200,
    )
    .await;
    assert_eq!(r["notified"].as_i64(), Some(3));
    for who in [&author, &voter, &commenter] {
        let n = ok_json(
            app.get("/api/v1/notifications", Some(&who.token)).await,
            200,
        )
        .await;
        assert_eq!(n["unread"].as_i64(), Some(1));
        let msg = n["items"][0]["message"].as_str().unwrap();
        assert!(
            msg.contains("Skip intro button") && msg.contains("launched"),
            "{msg}"
        );
        assert_eq!(n["items"][0]["link"], format!("/ideas/{id}"));
    }
    for who in [&bystander, &admin] {
        let n = ok_json(
            app.get("/api/v1/notifications", Some(&who.token)).await,
            200,
        )
        .await;
        assert_eq!(n["unread"].as_i64(), Some(0));
    }
    // The bell shows the count; reading clears it.
    let bell = app
        .get("/notifications/count", Some(&voter.token))
        .await
        .text()
        .await
        .unwrap();
    assert!(bell.contains(">1<"), "{bell}");
    let r = send(
        &app,
        Method::POST,
        "/api/v1/notifications/read",
        Some(&voter),
        None,
    )
    .await;
    assert_eq!(r.status(), 204);
    let n = ok_json(
        app.get("/api/v1/notifications", Some(&voter.token)).await,
        200,
    )
    .await;
    assert_eq!(n["unread"].as_i64(), Some(0));

    // The first delivery fails (500) and is scheduled for a retry.
    let got = hook.got.clone();
    wait_until("first webhook attempt", || got.lock().unwrap().len() == 1).await;
    let mut d = Value::Null;
    for _ in 0..200 {
        d = ok_json(
            app.get(
                &format!("/api/v1/webhooks/{hook_id}/deliveries"),
                Some(&admin.token),
            )
            .await,
            200,
        )
        .await;
        if d[0]["attempts"].as_i64() == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(d[0]["state"], "pending");
    assert_eq!(d[0]["last_status"].as_i64(), Some(500));
    assert_eq!(d[0]["next_attempt_at"].as_i64(), Some(T0 + 30_000));
    // Not due yet: a wake-up delivers nothing.
    app.state.outbox_wake.notify_one();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(got.lock().unwrap().len(), 1);
    // After the back-off it is retried and delivered.
    clock.advance(30_000);
    app.state.outbox_wake.notify_one();
    wait_until("webhook retry", || got.lock().unwrap().len() == 2).await;
    let reqs = got.lock().unwrap().clone();
    let (h1, b1) = &reqs[0];
    let (h2, b2) = &reqs[1];
    assert_eq!(b1, b2);
    assert_eq!(h1["x-marquee-delivery"], h2["x-marquee-delivery"]);
    assert_eq!(h2["x-marquee-event"], "idea.status_changed");
    let sig = h2["x-marquee-signature"].to_str().unwrap();
    assert_eq!(
        marquee_server::webhooks::verify(secret, sig, b2),
        Some(T0 + 30_000)
    );
    assert_eq!(
        marquee_server::webhooks::verify("wrong-secret-123456", sig, b2),
        None
    );
    let body: Value = serde_json::from_str(b2).unwrap();
    assert_eq!(body["to"], "launched");
    assert_eq!(body["from"], "open");
    assert_eq!(body["release_note_url"], note);
    assert_eq!(body["idea"]["id"].as_i64(), Some(id));
    for _ in 0..200 {
        d = ok_json(
            app.get(
                &format!("/api/v1/webhooks/{hook_id}/deliveries"),
                Some(&admin.token),
            )
            .await,
            200,
        )
        .await;
        if d[0]["state"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        (d[0]["state"].as_str(), d[0]["attempts"].as_i64()),
        (Some("delivered"), Some(2))
    );

    // "Ideas launched" credits the author and links the release note.
    let page = app.get("/ideas/launched", None).await.text().await.unwrap();
    assert!(page.contains("Skip intro button"));
    assert!(
        page.contains(&format!("href=\"/ideas/people/{}\">author</a>", author.id)),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"{note}\"")));
    let api = ok_json(app.get("/api/v1/ideas/launched", None).await, 200).await;
    assert_eq!(api[0]["author"]["name"], "author");
    assert_eq!(api[0]["release_note_url"], note);
}

#[tokio::test]
async fn moderation_queue_rate_limits_locks_hiding_and_tags() {
    let clock = manual();
    let mut config = Config::default();
    config.ideas.moderation_queue = true;
    config.ideas.ideas_per_hour = 2;
    config.ideas.comments_per_hour = 2;
    let app = TestApp::builder()
        .config(config)
        .clock(clock.clone())
        .start()
        .await;
    let staff = account(&app, "staff@example.com", Role::Agent).await;
    let ann = account(&app, "ann@example.com", Role::Viewer).await;
    let bob = account(&app, "bob@example.com", Role::Viewer).await;

    let v = ok_json(
        send(
            &app,
            Method::POST,
            "/api/v1/ideas",
            Some(&ann),
            Some(json!({"title": "Queued idea"})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(v["approved"], false);
    let id = v["id"].as_i64().unwrap();
    // Not public yet: others get 404 and cannot vote; the author sees it.
    let list = ok_json(app.get("/api/v1/ideas", None).await, 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    assert_eq!(
        app.get(&format!("/api/v1/ideas/{id}"), Some(&bob.token))
            .await
            .status(),
        404
    );
    assert_eq!(vote(&app, &bob, id).await.status(), 404);
    assert_eq!(
        app.get(&format!("/api/v1/ideas/{id}"), Some(&ann.token))
            .await
            .status(),
        200
    );
    let q = ok_json(
        app.get("/api/v1/staff/ideas", Some(&staff.token)).await,
        200,
    )
    .await;
    assert_eq!(q[0]["id"].as_i64(), Some(id));
    assert!(app
        .get("/staff/ideas", Some(&staff.token))
        .await
        .text()
        .await
        .unwrap()
        .contains("Queued idea"));
    assert_eq!(
        app.get("/api/v1/staff/ideas", Some(&ann.token))
            .await
            .status(),
        403
    );
    // Staff ideas skip the queue.
    let s = ok_json(
        send(
            &app,
            Method::POST,
            "/api/v1/ideas",
            Some(&staff),
            Some(json!({"title": "Staff idea"})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(s["approved"], true);

    ok_json(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/ideas/{id}/moderation"),
            Some(&staff),
            Some(json!({"action": "approve"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/ideas/{id}"), Some(&bob.token))
            .await
            .status(),
        200
    );
    let (s, _, f) = error_of(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/ideas/{id}/moderation"),
            Some(&staff),
            Some(json!({"action": "nuke"})),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("action")));

    // Rate limit: two ideas per hour per account.
    ok_json(
        send(
            &app,
            Method::POST,
            "/api/v1/ideas",
            Some(&ann),
            Some(json!({"title": "Second"})),
        )
        .await,
        201,
    )
    .await;
    clock.advance(10 * 60 * 1000);
    let r = send(
        &app,
        Method::POST,
        "/api/v1/ideas",
        Some(&ann),
        Some(json!({"title": "Third"})),
    )
    .await;
    assert_eq!(r.status(), 429);
    // The first of the two leaves the hour window in 50 minutes.
    assert_eq!(r.headers()["retry-after"], "3000");
    // Another account is not limited by ann's posts.
    ok_json(
        send(
            &app,
            Method::POST,
            "/api/v1/ideas",
            Some(&bob),
            Some(json!({"title": "Bob's"})),
        )
        .await,
        201,
    )
    .await;
    clock.advance(50 * 60 * 1000);
    ok_json(
        send(
            &app,
            Method::POST,
            "/api/v1/ideas",
            Some(&ann),
            Some(json!({"title": "Third"})),
        )
        .await,
        201,
    )
    .await;

    // Comments: rate-limited, blocked by a lock.
    let path = format!("/api/v1/ideas/{id}/comments");
    for _ in 0..2 {
        ok_json(
            send(
                &app,
                Method::POST,
                &path,
                Some(&bob),
                Some(json!({"body": "hi"})),
            )
            .await,
            201,
        )
        .await;
    }
    assert_eq!(
        send(
            &app,
            Method::POST,
            &path,
            Some(&bob),
            Some(json!({"body": "hi"}))
        )
        .await
        .status(),
        429
    );
    ok_json(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/ideas/{id}/moderation"),
            Some(&staff),
            Some(json!({"action": "lock"})),
        )
        .await,
        200,
    )
    .await;
    let (s, _, _) = error_of(
        send(
            &app,
            Method::POST,
            &path,
            Some(&ann),
            Some(json!({"body": "locked?"})),
        )
        .await,
    )
    .await;
    assert_eq!(s, 409);
    let d = ok_json(app.get(&format!("/api/v1/ideas/{id}"), None).await, 200).await;
    assert_eq!(
        (d["locked"].as_bool(), d["comment_count"].as_i64()),
        (Some(true), Some(2))
    );
    assert_eq!(d["comments"].as_array().unwrap().len(), 2);

    // Staff edit tags.
    let t = ok_json(
        send(
            &app,
            Method::PUT,
            &format!("/api/v1/ideas/{id}/tags"),
            Some(&staff),
            Some(json!({"tags": ["Player", "kids", "player"]})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(t["tags"], json!(["kids", "player"]));
    assert_eq!(
        send(
            &app,
            Method::PUT,
            &format!("/api/v1/ideas/{id}/tags"),
            Some(&ann),
            Some(json!({"tags": ["x"]}))
        )
        .await
        .status(),
        403
    );
    let tagged = ok_json(app.get("/api/v1/ideas?tag=kids", None).await, 200).await;
    assert_eq!(tagged["items"].as_array().unwrap().len(), 1);

    ok_json(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/ideas/{id}/moderation"),
            Some(&staff),
            Some(json!({"action": "hide"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/ideas/{id}"), Some(&ann.token))
            .await
            .status(),
        404
    );
    assert_eq!(app.get(&format!("/ideas/{id}"), None).await.status(), 404);
    let hidden = ok_json(
        app.get("/api/v1/staff/ideas?queue=hidden", Some(&staff.token))
            .await,
        200,
    )
    .await;
    assert_eq!(hidden[0]["id"].as_i64(), Some(id));
    let (s, _, f) = error_of(
        app.get("/api/v1/staff/ideas?queue=bogus", Some(&staff.token))
            .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("queue")));
}

#[tokio::test]
async fn comment_moderation_hides_from_viewers() {
    let app = TestApp::builder().clock(manual()).start().await;
    let staff = account(&app, "staff@example.com", Role::Agent).await;
    let ann = account(&app, "ann@example.com", Role::Viewer).await;
    let id = post_idea(&app, &ann, "Comment test", &[]).await;
    let c = ok_json(
        send(
            &app,
            Method::POST,
            &format!("/api/v1/ideas/{id}/comments"),
            Some(&ann),
            Some(json!({"body": "buy cheap pills"})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(c["official"], false);
    let cid = c["id"].as_i64().unwrap();
    let r = send(
        &app,
        Method::POST,
        &format!("/api/v1/ideas/comments/{cid}/moderation"),
        Some(&staff),
        Some(json!({"action": "hide"})),
    )
    .await;
    assert_eq!(r.status(), 204);
    let d = ok_json(app.get(&format!("/api/v1/ideas/{id}"), None).await, 200).await;
    assert_eq!(
        (
            d["comment_count"].as_i64(),
            d["comments"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    // Staff still see it, marked hidden, and can show it again.
    let d = ok_json(
        app.get(&format!("/api/v1/ideas/{id}"), Some(&staff.token))
            .await,
        200,
    )
    .await;
    assert_eq!(d["comments"][0]["hidden"], true);
    let r = send(
        &app,
        Method::POST,
        &format!("/api/v1/ideas/comments/{cid}/moderation"),
        Some(&staff),
        Some(json!({"action": "unhide"})),
    )
    .await;
    assert_eq!(r.status(), 204);
    let d = ok_json(app.get(&format!("/api/v1/ideas/{id}"), None).await, 200).await;
    assert_eq!(d["comment_count"].as_i64(), Some(1));
    let r = send(
        &app,
        Method::POST,
        &format!("/api/v1/ideas/comments/{cid}/moderation"),
        Some(&ann),
        Some(json!({"action": "hide"})),
    )
    .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn sorting_filters_and_my_votes() {
    let clock = manual();
    let app = TestApp::builder().clock(clock.clone()).start().await;
    let staff = account(&app, "staff@example.com", Role::Agent).await;
    let u = futures_all(&app, 4).await;
    let old = post_idea(&app, &staff, "Old favourite", &["player"]).await;
    for w in &u[0..3] {
        ok_json(vote(&app, w, old).await, 200).await;
    }
    clock.advance(28 * DAY);
    let fresh = post_idea(&app, &staff, "Fresh and rising", &["kids"]).await;
    for w in &u[2..4] {
        ok_json(vote(&app, w, fresh).await, 200).await;
    }
    clock.advance(DAY);
    let newest = post_idea(&app, &staff, "Brand new", &["kids"]).await;
    ok_json(
        set_status(
            &app,
            &staff,
            newest,
            json!({"status": "planned", "explanation": "Soon"}),
        )
        .await,
        200,
    )
    .await;

    let ids = |v: &Value| -> Vec<i64> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect()
    };
    let top = ok_json(app.get("/api/v1/ideas?sort=top", None).await, 200).await;
    assert_eq!(ids(&top), vec![old, fresh, newest]);
    let trending = ok_json(app.get("/api/v1/ideas?sort=trending", None).await, 200).await;
    assert_eq!(ids(&trending), vec![fresh, old, newest]);
    let new = ok_json(app.get("/api/v1/ideas?sort=new", None).await, 200).await;
    assert_eq!(ids(&new), vec![newest, fresh, old]);
    let mine = ok_json(
        app.get("/api/v1/ideas?sort=my_votes", Some(&u[0].token))
            .await,
        200,
    )
    .await;
    assert_eq!(ids(&mine), vec![old]);
    assert_eq!(mine["items"][0]["voted"], true);
    let mine = ok_json(
        app.get("/api/v1/ideas?sort=my_votes", Some(&u[2].token))
            .await,
        200,
    )
    .await;
    assert_eq!(ids(&mine), vec![fresh, old]);
    assert_eq!(
        app.get("/api/v1/ideas?sort=my_votes", None).await.status(),
        401
    );
    let kids = ok_json(app.get("/api/v1/ideas?tag=kids&sort=new", None).await, 200).await;
    assert_eq!(ids(&kids), vec![newest, fresh]);
    let planned = ok_json(app.get("/api/v1/ideas?status=planned", None).await, 200).await;
    assert_eq!(ids(&planned), vec![newest]);
    let tags = ok_json(app.get("/api/v1/ideas/tags", None).await, 200).await;
    assert_eq!(tags[0], json!({"tag": "kids", "count": 2}));

    // The board page renders each sort and filter.
    let html = app
        .get("/ideas?sort=top&tag=kids", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Fresh and rising") && !html.contains("Old favourite"));
    let html = app
        .get("/ideas?sort=my_votes", Some(&u[0].token))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Old favourite") && !html.contains("Fresh and rising"));
    assert_eq!(app.get("/ideas?sort=my_votes", None).await.status(), 303);
    // Author profile.
    let html = app
        .get(&format!("/ideas/people/{}", staff.id), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("3 ideas"));
}

#[tokio::test]
async fn similar_ideas_while_typing_and_page_votes() {
    let app = TestApp::builder().clock(manual()).start().await;
    let ann = account(&app, "ann@example.com", Role::Viewer).await;
    let bob = account(&app, "bob@example.com", Role::Viewer).await;
    let dl = post_idea(&app, &ann, "Download episodes for offline viewing", &[]).await;
    post_idea(&app, &ann, "Dark mode for the kids profile", &[]).await;
    let r = ok_json(
        send(&app, Method::POST, "/api/v1/ideas", Some(&ann), Some(json!({"title": "Profiles PIN", "description": "Let me lock profiles so the kids cannot download"}))).await,
        201,
    )
    .await;
    let pin = r["id"].as_i64().unwrap();

    // BM25: the title match ranks above a description-only match; prefixes match while typing.
    let s = ok_json(
        app.get("/api/v1/ideas/similar?q=offline%20downlo", None)
            .await,
        200,
    )
    .await;
    let ids: Vec<i64> = s
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![dl, pin]);
    let s = ok_json(app.get("/api/v1/ideas/similar?q=the%20a", None).await, 200).await;
    assert_eq!(s.as_array().unwrap().len(), 0);
    // FTS syntax in the input is harmless.
    let r = app
        .get("/api/v1/ideas/similar?q=%22NEAR(%20*%20OR", None)
        .await;
    assert_eq!(r.status(), 200);

    // The htmx partial lists them with a vote button.
    let html = app
        .get(
            "/ideas/similar?title=downloading%20episodes",
            Some(&bob.token),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Download episodes for offline viewing"),
        "{html}"
    );
    assert!(
        html.contains(&format!("hx-post=\"/ideas/{dl}/vote\"")),
        "{html}"
    );
    assert!(!html.contains("<html"));
    // Voting from the page through htmx returns the new vote box.
    let form = [("csrf", bob.csrf.as_str()), ("action", "vote")];
    let r = app
        .req(Method::POST, &format!("/ideas/{dl}/vote"), Some(&bob.token))
        .header("hx-request", "true")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Voted") && html.contains(&format!("id=\"votes-{dl}\">1<")),
        "{html}"
    );
    // A forged form is refused and changes nothing.
    let r = app
        .req(Method::POST, &format!("/ideas/{dl}/vote"), Some(&bob.token))
        .form(&[("csrf", "forged"), ("action", "unvote")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(votes_of(&app, dl).await, 1);
    // Posting an idea from the form.
    let r = app
        .req(Method::POST, "/ideas", Some(&bob.token))
        .form(&[
            ("csrf", bob.csrf.as_str()),
            ("title", ""),
            ("description", ""),
            ("tags", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("is required"));
    let r = app
        .req(Method::POST, "/ideas", Some(&bob.token))
        .form(&[
            ("csrf", bob.csrf.as_str()),
            ("title", "Page idea"),
            ("description", "via **form**"),
            ("tags", "web, ui"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let page = app.get(&loc, Some(&bob.token)).await.text().await.unwrap();
    assert!(page.contains("via <strong>form</strong>"));
    assert!(page.contains("ui"));
}

#[tokio::test]
async fn openapi_documents_the_idea_routes() {
    let app = TestApp::builder().start().await;
    let doc = ok_json(app.get("/api/v1/openapi.json", None).await, 200).await;
    for p in [
        "/api/v1/ideas",
        "/api/v1/ideas/{id}/vote",
        "/api/v1/ideas/{id}/status",
        "/api/v1/ideas/{id}/merge",
        "/api/v1/ideas/similar",
        "/api/v1/notifications",
        "/api/v1/webhooks",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from OpenAPI");
    }
    assert!(doc["components"]["schemas"].get("Idea").is_some());
}

/// Type a title, see the similar idea, vote on it instead; staff mark it
/// launched; the voter sees the notification.
#[tokio::test]
async fn browser_similar_idea_vote_and_launch_notification() {
    use crate::browser::{browser, start_driver, wait_for, wait_text};
    use fantoccini::Locator;
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::builder().start().await;
    let staff = account(&app, "staff@example.com", Role::Agent).await;
    let author = account(&app, "author@example.com", Role::Viewer).await;
    let id = post_idea(
        &app,
        &author,
        "Download episodes for offline viewing",
        &["downloads"],
    )
    .await;
    post_idea(&app, &author, "Dark mode everywhere", &[]).await;
    app.login_as("web@example.com", Role::Viewer).await;
    let c = browser(&driver).await;
    let run = async {
        c.goto(&app.url("/login?next=/ideas/new")).await.unwrap();
        wait_for(&c, "input[name=email]")
            .await
            .send_keys("web@example.com")
            .await
            .unwrap();
        c.find(Locator::Css("input[name=password]"))
            .await
            .unwrap()
            .send_keys(crate::helpers::PASSWORD)
            .await
            .unwrap();
        c.find(Locator::Css("#login-submit"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, "#idea-title")
            .await
            .send_keys("offline downlo")
            .await
            .unwrap();
        let t = wait_text(&c, "#similar-ideas .idea-title", |t| !t.is_empty()).await;
        assert_eq!(t, "Download episodes for offline viewing");
        // Vote on it instead of posting a duplicate.
        c.find(Locator::Css(&format!(
            "#similar-ideas button[data-idea='{id}']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        wait_for(&c, &format!("#vote-{id} button.on")).await;
        wait_text(&c, &format!("#votes-{id}"), |t| t == "1").await;

        // Staff mark it launched.
        let r = set_status(
            &app,
            &staff,
            id,
            json!({"status": "launched", "explanation": "Out now", "release_note_url": "https://example.com/notes/5"}),
        )
        .await;
        assert_eq!(r.status(), 200);

        // The voter's bell shows it, and the centre lists it.
        c.goto(&app.url("/ideas")).await.unwrap();
        wait_text(&c, "#unread-count", |t| t == "1").await;
        c.find(Locator::Css("#nav-bell"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let note = wait_text(&c, "#notifications", |t| t.contains("launched")).await;
        assert!(
            note.contains("Download episodes for offline viewing"),
            "{note}"
        );
        assert!(note.contains("Out now"), "{note}");
    };
    run.await;
    c.close().await.unwrap();
    // No duplicate idea was posted.
    let list = ok_json(app.get("/api/v1/ideas?status=open", None).await, 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn staff_pages_change_status_merge_and_manage_webhooks() {
    let app = TestApp::builder().clock(manual()).start().await;
    let admin = account(&app, "admin@example.com", Role::Admin).await;
    let agent = account(&app, "agent@example.com", Role::Agent).await;
    let ann = account(&app, "ann@example.com", Role::Viewer).await;
    let a = post_idea(&app, &ann, "Watch party", &[]).await;
    let b = post_idea(&app, &ann, "Watch together with friends", &[]).await;
    ok_json(vote(&app, &ann, b).await, 200).await;
    let form = |who: &Who, path: String, fields: Vec<(&'static str, String)>| {
        let mut f = vec![("csrf", who.csrf.clone())];
        f.extend(fields);
        app.req(Method::POST, &path, Some(&who.token))
            .form(&f)
            .send()
    };

    // The idea page shows the staff panel to staff only.
    let html = app
        .get(&format!("/ideas/{a}"), Some(&agent.token))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"staff-panel\""));
    let html = app
        .get(&format!("/ideas/{a}"), Some(&ann.token))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("id=\"staff-panel\""));
    // A viewer's forged status form is refused before anything is read.
    let r = form(
        &ann,
        format!("/staff/ideas/{a}/status"),
        vec![("status", "planned".into()), ("explanation", "x".into())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);

    let r = form(
        &agent,
        format!("/staff/ideas/{a}/status"),
        vec![
            ("status", "planned".into()),
            ("explanation", "Coming in spring".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let d = ok_json(app.get(&format!("/api/v1/ideas/{a}"), None).await, 200).await;
    assert_eq!(
        (
            d["status"].as_str(),
            d["history"][0]["explanation"].as_str()
        ),
        (Some("planned"), Some("Coming in spring"))
    );
    // Missing explanation → 400 page naming the field; nothing changes.
    let r = form(
        &agent,
        format!("/staff/ideas/{a}/status"),
        vec![("status", "declined".into()), ("explanation", "".into())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("explanation: is required"));
    // Merge from the form; into itself is a 400.
    let r = form(
        &agent,
        format!("/staff/ideas/{b}/status"),
        vec![
            ("status", "open".into()),
            ("explanation", "dup".into()),
            ("duplicate_of", format!("#{b}")),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let r = form(
        &agent,
        format!("/staff/ideas/{b}/status"),
        vec![
            ("status", "open".into()),
            ("explanation", "Same as the watch party idea".into()),
            ("duplicate_of", format!("#{a}")),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!((votes_of(&app, a).await, votes_of(&app, b).await), (1, 0));
    let n = ok_json(
        app.get("/api/v1/notifications", Some(&ann.token)).await,
        200,
    )
    .await;
    assert!(n["items"][0]["message"]
        .as_str()
        .unwrap()
        .contains("merged into"));

    // Webhooks page: admin only; the secret is shown once.
    assert_eq!(
        app.get("/staff/webhooks", Some(&agent.token))
            .await
            .status(),
        403
    );
    let r = form(
        &admin,
        "/staff/webhooks".into(),
        vec![
            ("url", "https://hooks.example.com/marquee".into()),
            ("events", "idea.status_changed".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"new-secret\""));
    let hooks = ok_json(app.get("/api/v1/webhooks", Some(&admin.token)).await, 200).await;
    assert_eq!(hooks[0]["events"], "idea.status_changed");
    let html = app
        .get("/staff/webhooks", Some(&admin.token))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("id=\"new-secret\""));
    let r = form(
        &admin,
        "/staff/webhooks".into(),
        vec![("url", "javascript:alert(1)".into())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let id = hooks[0]["id"].as_i64().unwrap();
    let r = form(&admin, format!("/staff/webhooks/{id}/delete"), vec![])
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let hooks = ok_json(app.get("/api/v1/webhooks", Some(&admin.token)).await, 200).await;
    assert_eq!(hooks.as_array().unwrap().len(), 0);
}
