//! Support chat against the real server: auto-assignment with capacities,
//! canned responses and notes, the context panel's playback snapshot,
//! CSAT on every resolution, transcript redaction and revocation, metrics on
//! a known timeline with a manual clock, SSE delivery, SMTP, bad input.

use crate::helpers::{account_id, call, error_of, get, post, TestApp};
use marquee_domain::{ManualClock, Role};
use marquee_server::Config;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_763_000_000_000;

async fn open_conv(app: &TestApp, token: &str, body: &str) -> Value {
    let (s, v) = post(
        app,
        "/api/v1/support/conversations",
        token,
        json!({ "body": body }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v
}

async fn staff_conv(app: &TestApp, token: &str, id: i64) -> Value {
    get(
        app,
        &format!("/api/v1/staff/support/conversations/{id}"),
        token,
    )
    .await
}

async fn set_status(app: &TestApp, token: &str, id: i64, status: &str) -> Value {
    let (s, v) = call(
        app,
        Method::PATCH,
        &format!("/api/v1/staff/support/conversations/{id}"),
        token,
        Some(json!({ "status": status })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v
}

#[tokio::test]
async fn auto_assign_rotates_respects_capacity_and_queues() {
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let a1 = app.login_as("ann@example.com", Role::Agent).await;
    let a2 = app.login_as("bob@example.com", Role::Agent).await;
    let (id1, id2) = (account_id(&app, &a1).await, account_id(&app, &a2).await);
    for id in [id1, id2] {
        let (s, v) = call(
            &app,
            Method::PUT,
            &format!("/api/v1/staff/support/agents/{id}"),
            &admin,
            Some(json!({"capacity": 1, "available": true, "team": "Tier 1"})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    // Agents cannot change capacities.
    let (s, _) = call(
        &app,
        Method::PUT,
        &format!("/api/v1/staff/support/agents/{id1}"),
        &a1,
        Some(json!({"capacity": 9, "available": true, "team": "x"})),
    )
    .await;
    assert_eq!(s, 403);
    let mut convs = Vec::new();
    for i in 0..3 {
        let c = app.signup(&format!("viewer{i}@example.com")).await;
        let v = open_conv(&app, &c, "help").await;
        convs.push((c, v["conversation"]["id"].as_i64().unwrap()));
    }
    let who = |v: &Value| v["staff"]["assignee_id"].as_i64();
    let first = who(&staff_conv(&app, &admin, convs[0].1).await);
    let second = who(&staff_conv(&app, &admin, convs[1].1).await);
    let third = who(&staff_conv(&app, &admin, convs[2].1).await);
    // One each in turn, then the queue: both are at capacity 1.
    assert!(
        first.is_some() && second.is_some() && first != second,
        "{first:?} {second:?}"
    );
    assert_eq!(third, None);
    let queue = get(
        &app,
        "/api/v1/staff/support/conversations?assignee=unassigned",
        &admin,
    )
    .await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    // Resolving the first frees its agent, who takes the queued one.
    set_status(&app, &a1, convs[0].1, "resolved").await;
    assert_eq!(who(&staff_conv(&app, &admin, convs[2].1).await), first);
    // A manual reassignment is logged and counted.
    let (s, v) = post(
        &app,
        &format!("/api/v1/staff/support/conversations/{}/assign", convs[1].1),
        &admin,
        json!({ "assignee_id": first }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["assignee_id"].as_i64(), first);
    let m = get(&app, "/api/v1/staff/support/metrics", &admin).await;
    assert_eq!(m["overall"]["reassignments"], 1);
    // … and shows in the conversation's history with who did it.
    let h = staff_conv(&app, &admin, convs[1].1).await["history"].clone();
    let manual: Vec<&Value> = h
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["manual"] == true)
        .collect();
    assert_eq!(manual.len(), 1, "{h}");
    assert_eq!(manual[0]["actor_email"], "admin@example.com");
    assert_eq!(
        manual[0]["to_email"].as_str(),
        Some(if first == Some(id1) {
            "ann@example.com"
        } else {
            "bob@example.com"
        })
    );
    let page = app
        .get(
            &format!("/staff/support/conversations/{}", convs[1].1),
            Some(&admin),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("by admin@example.com"), "{page}");
    // A viewer cannot be an assignee.
    let viewer_id = account_id(&app, &convs[0].0).await;
    let (s, v) = post(
        &app,
        &format!("/api/v1/staff/support/conversations/{}/assign", convs[1].1),
        &admin,
        json!({ "assignee_id": viewer_id }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("assignee_id"))
    );
}

#[tokio::test]
async fn chat_canned_notes_privacy_and_bad_input() {
    let app = TestApp::builder().start().await;
    let agent = app.login_as("sam.agent@example.com", Role::Agent).await;
    let jane = app.signup("jane.doe@example.com").await;
    let other = app.signup("other@example.com").await;
    let (s, v) = post(
        &app,
        "/api/v1/staff/support/canned",
        &agent,
        json!({"shortcode": "/goodwill", "body": "I have refunded this month. Enjoy the show!"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, _) = post(
        &app,
        "/api/v1/staff/support/canned",
        &agent,
        json!({"shortcode": "goodwill", "body": "x"}),
    )
    .await;
    assert_eq!(s, 409);

    let v = open_conv(&app, &jane, "<script>alert(1)</script> **my stream froze**").await;
    let id = v["conversation"]["id"].as_i64().unwrap();
    assert_eq!(v["conversation"]["agent_name"], "Sam");
    // A canned response by short code, and an internal note.
    let (s, m) = post(
        &app,
        &format!("/api/v1/staff/support/conversations/{id}/messages"),
        &agent,
        json!({"body": "/goodwill"}),
    )
    .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["body"], "I have refunded this month. Enjoy the show!");
    assert_eq!(m["canned_code"], "goodwill");
    let (s, v) = post(
        &app,
        &format!("/api/v1/staff/support/conversations/{id}/messages"),
        &agent,
        json!({"body": "/nosuch"}),
    )
    .await;
    assert_eq!((s, v["error"]["field"].as_str()), (400, Some("body")));
    let (s, _) = post(
        &app,
        &format!("/api/v1/staff/support/conversations/{id}/messages"),
        &agent,
        json!({"body": "customer is on an old TV", "internal": true}),
    )
    .await;
    assert_eq!(s, 201);
    // The customer sees the reply, never the note; staff see both.
    let mine = get(&app, &format!("/api/v1/support/conversations/{id}"), &jane).await;
    let bodies: Vec<&str> = mine["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(!bodies.iter().any(|b| b.contains("old TV")));
    assert!(mine.get("context").is_none());
    let staff = staff_conv(&app, &agent, id).await;
    assert_eq!(staff["messages"].as_array().unwrap().len(), 3);
    assert_eq!(staff["context"]["email"], "jane.doe@example.com");
    // Another viewer: 403 on every door.
    for path in [
        format!("/api/v1/support/conversations/{id}"),
        format!("/api/v1/support/conversations/{id}/messages"),
    ] {
        let (s, _) = call(&app, Method::GET, &path, &other, None).await;
        assert_eq!(s, 403, "{path}");
    }
    let (s, _) = post(
        &app,
        &format!("/api/v1/support/conversations/{id}/messages"),
        &other,
        json!({"body": "hi"}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = post(
        &app,
        &format!("/api/v1/support/conversations/{id}/share"),
        &other,
        json!({}),
    )
    .await;
    assert_eq!(s, 403);
    let r = app
        .get(
            &format!("/support/conversations/{id}/transcript"),
            Some(&other),
        )
        .await;
    assert_eq!(r.status(), 403);
    // Viewers cannot use staff routes.
    let (s, _) = post(
        &app,
        &format!("/api/v1/staff/support/conversations/{id}/messages"),
        &jane,
        json!({"body": "x"}),
    )
    .await;
    assert_eq!(s, 403);
    // Too long, empty, wrong types: 4xx naming the field; nothing written.
    let r = app
        .post_json(
            &format!("/api/v1/support/conversations/{id}/messages"),
            Some(&jane),
            &json!({"body": "x".repeat(4001)}),
        )
        .await;
    let (s, code, field) = error_of(r).await;
    assert_eq!(
        (s, code.as_str(), field.as_deref()),
        (400, "invalid_input", Some("body"))
    );
    let r = app
        .post_json(
            "/api/v1/support/conversations",
            Some(&jane),
            &json!({"body": "  "}),
        )
        .await;
    assert_eq!(error_of(r).await.2.as_deref(), Some("body"));
    let r = app
        .post_json(
            "/api/v1/support/conversations",
            Some(&jane),
            &json!({"body": "x", "priority": "asap"}),
        )
        .await;
    assert_eq!(error_of(r).await.2.as_deref(), Some("priority"));
    let r = app
        .post_json(
            &format!("/api/v1/support/conversations/{id}/csat"),
            Some(&jane),
            &json!({"score": "five"}),
        )
        .await;
    assert_eq!(error_of(r).await.2.as_deref(), Some("score"));
    let (s, _) = call(
        &app,
        Method::GET,
        "/api/v1/support/conversations/abc",
        &jane,
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(
        &app,
        Method::GET,
        "/api/v1/support/conversations/999999",
        &jane,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let after = get(&app, &format!("/api/v1/support/conversations/{id}"), &jane).await;
    assert_eq!(after["messages"].as_array().unwrap().len(), 2);
    // Markup is shown as typed, escaped.
    let html = app
        .get(
            &format!("/support/conversations/{id}/transcript"),
            Some(&jane),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62; **my stream froze**"),
        "{html}"
    );
    assert!(!html.contains("<script>alert(1)"));
    let staff_page = app
        .get(&format!("/staff/support/conversations/{id}"), Some(&agent))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        staff_page.contains("&#60;script&#62;alert(1)") && !staff_page.contains("<script>alert")
    );
    // Bad playback error reports.
    let r = app
        .post_json(
            "/api/v1/playback/errors",
            Some(&jane),
            &json!({"code": "bad code!"}),
        )
        .await;
    assert_eq!(error_of(r).await.2.as_deref(), Some("code"));
    let r = app
        .post_json(
            "/api/v1/playback/errors",
            Some(&jane),
            &json!({"code": "E", "device_id": 424242}),
        )
        .await;
    assert_eq!(error_of(r).await.2.as_deref(), Some("device_id"));
}

#[tokio::test]
async fn context_panel_has_what_they_watched_when_they_wrote() {
    let clock = Arc::new(ManualClock::new(T0));
    let app = TestApp::builder().demo().clock(clock.clone()).start().await;
    let hit = app
        .store()
        .search_titles("Toy Story", 1, &Default::default())
        .await
        .unwrap()[0]
        .clone();
    let (title, name) = (hit.id, hit.name);
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let jane = app.signup("jane@example.com").await;
    let (s, d) = post(
        &app,
        "/api/v1/devices",
        &jane,
        json!({"name": "Living-room TV", "kind": "tv"}),
    )
    .await;
    assert!(s == 200 || s == 201, "{d}");
    let device = d["id"].as_i64().unwrap();
    let (s, st) = post(
        &app,
        "/api/v1/playback/start",
        &jane,
        json!({"title_id": title, "device_id": device}),
    )
    .await;
    assert_eq!(s, 201, "{st}");
    clock.advance(60_000);
    let (s, p) = post(
        &app,
        "/api/v1/playback/progress",
        &jane,
        json!({"play_session_id": st["play_session_id"], "position_ms": 1_234_000, "paused": false, "sent_at": T0 + 60_000}),
    )
    .await;
    assert!(s == 200 || s == 202, "{p}");
    let (s, e) = post(
        &app,
        "/api/v1/playback/errors",
        &jane,
        json!({"code": "MEDIA_ERR_NETWORK", "message": "buffering stalled", "title_id": title, "device_id": device, "position_ms": 1_234_000}),
    )
    .await;
    assert_eq!(s, 201, "{e}");
    let v = open_conv(&app, &jane, "it keeps buffering").await;
    let id = v["conversation"]["id"].as_i64().unwrap();
    let staff = staff_conv(&app, &agent, id).await;
    let w = &staff["messages"][0]["watch"];
    assert_eq!(w["title"], name.as_str());
    assert_eq!(w["device"], "Living-room TV");
    assert_eq!(w["position_ms"], 1_234_000);
    assert_eq!(w["live"], true);
    let ctx = &staff["context"];
    assert_eq!(ctx["plan"], "standard");
    assert_eq!(ctx["devices"][0]["name"], "Living-room TV");
    assert_eq!(ctx["stream_errors"][0]["code"], "MEDIA_ERR_NETWORK");
    assert_eq!(ctx["streams"][0]["title"], name.as_str());
    // The customer never sees the snapshot.
    let mine = get(&app, &format!("/api/v1/support/conversations/{id}"), &jane).await;
    assert!(mine["messages"][0].get("watch").is_none());
    // The staff page shows it, with the position.
    let html = app
        .get(&format!("/staff/support/conversations/{id}"), Some(&agent))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("Watching {name} on Living-room TV (tv) at 20:34")),
        "{html}"
    );
    assert!(html.contains("MEDIA_ERR_NETWORK"));
}

#[tokio::test]
async fn csat_is_asked_again_after_a_second_resolution() {
    let app = TestApp::builder().start().await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let jane = app.signup("jane@example.com").await;
    let id = open_conv(&app, &jane, "hello").await["conversation"]["id"]
        .as_i64()
        .unwrap();
    let csat = |score: u8| json!({"score": score, "comment": "thanks"});
    let path = format!("/api/v1/support/conversations/{id}/csat");
    let (s, _) = post(&app, &path, &jane, csat(5)).await;
    assert_eq!(s, 409, "not resolved yet");
    set_status(&app, &agent, id, "resolved").await;
    let mine = get(&app, &format!("/api/v1/support/conversations/{id}"), &jane).await;
    assert_eq!(mine["conversation"]["csat_due"], true);
    let (s, v) = post(&app, &path, &jane, csat(2)).await;
    assert_eq!((s, v["resolution_seq"].as_i64()), (201, Some(1)));
    let (s, _) = post(&app, &path, &jane, csat(3)).await;
    assert_eq!(s, 409, "one answer per resolution");
    let (s, v) = post(&app, &path, &jane, csat(6)).await;
    assert_eq!((s, v["error"]["field"].as_str()), (400, Some("score")));
    // The customer writes again: it reopens; resolving again asks again.
    let (s, _) = post(
        &app,
        &format!("/api/v1/support/conversations/{id}/messages"),
        &jane,
        json!({"body": "it broke again"}),
    )
    .await;
    assert_eq!(s, 201);
    let mine = get(&app, &format!("/api/v1/support/conversations/{id}"), &jane).await;
    assert_eq!(
        (
            mine["conversation"]["status"].as_str(),
            mine["conversation"]["csat_due"].as_bool()
        ),
        (Some("open"), Some(false))
    );
    set_status(&app, &agent, id, "resolved").await;
    let (s, v) = post(&app, &path, &jane, csat(5)).await;
    assert_eq!((s, v["resolution_seq"].as_i64()), (201, Some(2)));
    let mine = get(&app, &format!("/api/v1/support/conversations/{id}"), &jane).await;
    let scores: Vec<i64> = mine["csat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["score"].as_i64().unwrap())
        .collect();
    assert_eq!(scores, vec![2, 5]);
    // Snoozing needs a future time; other states are checked.
    let (s, v) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/staff/support/conversations/{id}"),
        &agent,
        Some(json!({"status": "snoozed"})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("snoozed_until"))
    );
    let (s, v) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/staff/support/conversations/{id}"),
        &agent,
        Some(json!({"status": "closed"})),
    )
    .await;
    assert_eq!((s, v["error"]["field"].as_str()), (400, Some("status")));
}

#[tokio::test]
async fn shared_transcripts_are_redacted_counted_and_revocable() {
    let app = TestApp::builder().start().await;
    let agent = app.login_as("sam.agent@example.com", Role::Agent).await;
    let jane = app.signup("jane.doe@example.com").await;
    let id = open_conv(&app, &jane, "Can I watch on the plane?").await["conversation"]["id"]
        .as_i64()
        .unwrap();
    post(
        &app,
        &format!("/api/v1/staff/support/conversations/{id}/messages"),
        &agent,
        json!({"body": "Yes, download it first!"}),
    )
    .await;
    post(
        &app,
        &format!("/api/v1/staff/support/conversations/{id}/messages"),
        &agent,
        json!({"body": "SECRET-NOTE card ends 4242", "internal": true}),
    )
    .await;
    // Staff cannot opt a customer in.
    let (s, _) = post(
        &app,
        &format!("/api/v1/support/conversations/{id}/share"),
        &agent,
        json!({}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, v) = post(
        &app,
        &format!("/api/v1/support/conversations/{id}/share"),
        &jane,
        json!({}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 22, "at least 128 bits");
    assert!(v["url"].as_str().unwrap().ends_with(&format!("/t/{token}")));
    // The database keeps only the hash: the raw token is no key.
    assert!(app.store().open_share(&token, 0).await.unwrap().is_none());

    let anon = reqwest::Client::new();
    let page = anon
        .get(app.url(&format!("/t/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Jane") && html.contains("Sam from Support"),
        "{html}"
    );
    assert!(html.contains("Yes, download it first!"));
    assert!(
        html.contains(r#"property="og:title" content="Jane"#),
        "{html}"
    );
    assert!(
        html.contains(r#"property="og:description" content="Jane"#),
        "{html}"
    );
    assert!(html.contains(r#"name="twitter:card" content="summary_large_image""#));
    assert!(html.contains(r#"property="og:image" content="/static/share.jpg""#));
    assert_eq!(
        app.get("/static/share.jpg", None).await.headers()["content-type"],
        "image/jpeg"
    );
    for private in [
        "jane.doe",
        "sam.agent",
        "@example.com",
        "SECRET-NOTE",
        "4242",
    ] {
        assert!(!html.contains(private), "{private} leaked: {html}");
    }
    anon.get(app.url(&format!("/t/{token}")))
        .send()
        .await
        .unwrap();
    let mine = get(&app, &format!("/api/v1/support/conversations/{id}"), &jane).await;
    assert_eq!(mine["share"]["views"], 2);

    // Unknown and revoked tokens: the same 404.
    let unknown = anon
        .get(app.url(&format!("/t/{}", "A".repeat(43))))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let unknown_body = unknown.text().await.unwrap();
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/support/conversations/{id}/share"),
        &agent,
        None,
    )
    .await;
    assert_eq!(s, 204, "staff can revoke");
    let revoked = anon
        .get(app.url(&format!("/t/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 404);
    assert_eq!(revoked.text().await.unwrap(), unknown_body);
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/support/conversations/{id}/share"),
        &jane,
        None,
    )
    .await;
    assert_eq!(s, 404, "nothing left to revoke");
    // The customer shares again and revokes it themself.
    let (_, v) = post(
        &app,
        &format!("/api/v1/support/conversations/{id}/share"),
        &jane,
        json!({}),
    )
    .await;
    let token2 = v["token"].as_str().unwrap().to_string();
    assert_ne!(token2, token);
    assert_eq!(
        anon.get(app.url(&format!("/t/{token2}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (s, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/support/conversations/{id}/share"),
        &jane,
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        anon.get(app.url(&format!("/t/{token2}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // Shares and views reach the metrics.
    let m = get(&app, "/api/v1/staff/support/metrics", &agent).await;
    assert_eq!(
        (
            m["overall"]["shares"].as_i64(),
            m["overall"]["share_views"].as_i64()
        ),
        (Some(2), Some(3))
    );
}

#[tokio::test]
async fn metrics_on_a_known_timeline_with_a_manual_clock() {
    let clock = Arc::new(ManualClock::new(T0));
    let app = TestApp::builder().clock(clock.clone()).start().await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let jane = app.signup("jane@example.com").await;
    let joe = app.signup("joe@example.com").await;
    // Jane: answered after 2 min, resolved at 10 min, rated 4.
    let a = open_conv(&app, &jane, "one").await["conversation"]["id"]
        .as_i64()
        .unwrap();
    clock.advance(120_000);
    post(
        &app,
        &format!("/api/v1/staff/support/conversations/{a}/messages"),
        &agent,
        json!({"body": "hi"}),
    )
    .await;
    clock.advance(480_000);
    set_status(&app, &agent, a, "resolved").await;
    post(
        &app,
        &format!("/api/v1/support/conversations/{a}/csat"),
        &jane,
        json!({"score": 4}),
    )
    .await;
    // Joe: answered after 90 min (breaches normal's 60 min first-reply SLA).
    let b = open_conv(&app, &joe, "two").await["conversation"]["id"]
        .as_i64()
        .unwrap();
    clock.advance(90 * 60_000);
    post(
        &app,
        &format!("/api/v1/staff/support/conversations/{b}/messages"),
        &agent,
        json!({"body": "sorry"}),
    )
    .await;
    let m = get(&app, "/api/v1/staff/support/metrics", &agent).await;
    let o = &m["overall"];
    assert_eq!(o["conversations"], 2);
    assert_eq!(o["first_response_median_ms"], (120_000 + 5_400_000) / 2);
    assert_eq!(o["resolution_median_ms"], 600_000);
    assert_eq!(o["fcr_rate"], 1.0);
    assert_eq!(o["csat_avg"], 4.0);
    // Verdicts: a met both; b breached first reply, resolution still open.
    assert_eq!(o["sla_met_rate"].as_f64().unwrap(), 2.0 / 3.0);
    assert_eq!(m["by_agent"].as_array().unwrap().len(), 1);
    assert_eq!(m["by_day"][0]["ids"], json!([a, b]));
    // The inbox flags the breach.
    let list = app
        .get("/staff/support/list", Some(&agent))
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("First reply SLA breached"), "{list}");
    // CSV: a header and one row per conversation.
    let csv = app
        .get("/staff/support/metrics.csv", Some(&agent))
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("conversation_id,created_at,customer,agent"));
    assert!(
        lines[1].starts_with(&format!("{a},")) && lines[1].contains(",120,"),
        "{}",
        lines[1]
    );
    // The page draws charts whose points drill down to their conversations.
    let page = app
        .get("/staff/support/metrics", Some(&agent))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<svg") && page.contains("/staff/support/drill?group=day&#38;key="),
        "{page}"
    );
    let day = m["by_day"][0]["key"].as_str().unwrap().to_string();
    let drill = app
        .get(
            &format!("/staff/support/drill?group=day&key={day}"),
            Some(&agent),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        drill.contains(&format!("/staff/support/conversations/{a}"))
            && drill.contains(&format!("/staff/support/conversations/{b}"))
    );
    let (s, v) = call(
        &app,
        Method::GET,
        "/api/v1/staff/support/metrics?from=5&to=1",
        &agent,
        None,
    )
    .await;
    assert_eq!((s, v["error"]["field"].as_str()), (400, Some("from")));
}

#[tokio::test]
async fn snoozed_conversations_wake_up_on_time() {
    let clock = Arc::new(ManualClock::new(T0));
    let app = TestApp::builder().clock(clock.clone()).start().await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let jane = app.signup("jane@example.com").await;
    let id = open_conv(&app, &jane, "later is fine").await["conversation"]["id"]
        .as_i64()
        .unwrap();
    let (s, v) = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/staff/support/conversations/{id}"),
        &agent,
        Some(json!({"status": "snoozed", "snoozed_until": T0 + 3_600_000})),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("snoozed")));
    let snoozed = get(
        &app,
        "/api/v1/staff/support/conversations?status=snoozed",
        &agent,
    )
    .await;
    assert_eq!(snoozed.as_array().unwrap().len(), 1);
    clock.advance(3_600_001);
    let open = get(
        &app,
        "/api/v1/staff/support/conversations?status=open",
        &agent,
    )
    .await;
    assert_eq!(open[0]["id"].as_i64(), Some(id));
    assert_eq!(open[0]["snoozed_until"], Value::Null);
}

/// Reads an SSE response until an event of `kind` arrives; returns its data.
async fn next_event(resp: &mut reqwest::Response, buf: &mut String, kind: &str) -> Value {
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut ev = "";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    ev = e;
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            if ev == kind {
                return serde_json::from_str(&data).unwrap();
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("no event in time")
            .unwrap()
            .expect("stream ended");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn live_events_reach_the_customer_and_the_inbox() {
    let app = TestApp::builder().start().await;
    let agent = app.login_as("sam@example.com", Role::Agent).await;
    let jane = app.signup("jane@example.com").await;
    let joe = app.signup("joe@example.com").await;
    let mut inbox = app.get("/api/v1/staff/support/events", Some(&agent)).await;
    let mut ib = String::new();
    next_event(&mut inbox, &mut ib, "ready").await;
    let id = open_conv(&app, &jane, "hello").await["conversation"]["id"]
        .as_i64()
        .unwrap();
    let m = next_event(&mut inbox, &mut ib, "message").await;
    assert_eq!(
        (m["conversation_id"].as_i64(), m["body"].as_str()),
        (Some(id), Some("hello"))
    );
    // Two devices of Jane's, and Joe who must see nothing of hers.
    let mut dev1 = app.get("/api/v1/support/events", Some(&jane)).await;
    let mut dev2 = app.get("/api/v1/support/events", Some(&jane)).await;
    let mut other = app.get("/api/v1/support/events", Some(&joe)).await;
    let (mut b1, mut b2, mut bo) = (String::new(), String::new(), String::new());
    for (r, b) in [
        (&mut dev1, &mut b1),
        (&mut dev2, &mut b2),
        (&mut other, &mut bo),
    ] {
        next_event(r, b, "ready").await;
    }
    post(
        &app,
        &format!("/api/v1/support/conversations/{id}/typing"),
        &agent,
        json!({"typing": true}),
    )
    .await;
    let t = next_event(&mut dev1, &mut b1, "typing").await;
    assert_eq!(
        (t["side"].as_str(), t["name"].as_str()),
        (Some("agent"), Some("Sam"))
    );
    post(
        &app,
        &format!("/api/v1/staff/support/conversations/{id}/messages"),
        &agent,
        json!({"body": "note", "internal": true}),
    )
    .await;
    let (_, reply) = post(
        &app,
        &format!("/api/v1/staff/support/conversations/{id}/messages"),
        &agent,
        json!({"body": "hi Jane"}),
    )
    .await;
    for (r, b) in [(&mut dev1, &mut b1), (&mut dev2, &mut b2)] {
        let m = next_event(r, b, "message").await;
        // The internal note never reaches the customer: the next message is the reply.
        assert_eq!(
            (m["id"].clone(), m["body"].as_str()),
            (reply["id"].clone(), Some("hi Jane"))
        );
        assert!(m.get("watch").is_none());
    }
    // Read state flows back to staff.
    post(
        &app,
        &format!("/api/v1/support/conversations/{id}/read"),
        &jane,
        json!({"message_id": reply["id"]}),
    )
    .await;
    loop {
        let c = next_event(&mut inbox, &mut ib, "conversation").await;
        if c["customer_read_id"] == reply["id"] {
            break;
        }
    }
    // Joe's stream got nothing but keep-alives: a message of his own comes first.
    open_conv(&app, &joe, "mine").await;
    let m = next_event(&mut other, &mut bo, "message").await;
    assert_eq!(m["body"], "mine");
}

#[tokio::test]
async fn transcripts_are_emailed_only_when_smtp_is_configured() {
    // Not configured: 503 and the page says so.
    let app = TestApp::builder().start().await;
    let jane = app.signup("jane@example.com").await;
    let id = open_conv(&app, &jane, "hello").await["conversation"]["id"]
        .as_i64()
        .unwrap();
    let (s, _) = post(
        &app,
        &format!("/api/v1/support/conversations/{id}/email"),
        &jane,
        json!({}),
    )
    .await;
    assert_eq!(s, 503);
    let html = app
        .get(
            &format!("/support/conversations/{id}/transcript"),
            Some(&jane),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("E-mail unavailable"));
    drop(app);

    // A loopback SMTP server that records what it is sent.
    let sink = crate::helpers::SmtpSink::start().await;
    let mut config = Config::default();
    sink.configure(&mut config);
    let app = TestApp::builder().config(config).start().await;
    // With mail, sign-up waits for the address to be confirmed.
    let jane = app.login_as("jane@example.com", Role::Viewer).await;
    let id = open_conv(&app, &jane, "hello\n.leading dot").await["conversation"]["id"]
        .as_i64()
        .unwrap();
    let (s, v) = post(
        &app,
        &format!("/api/v1/support/conversations/{id}/email"),
        &jane,
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let log = sink.wait_for(1).await.remove(0);
    assert!(log.contains("MAIL FROM:<support@example.com>"), "{log}");
    assert!(log.contains("RCPT TO:<jane@example.com>"));
    assert!(log.contains("Subject: Your Marquee support conversation"));
    assert!(log.contains("\r\n..leading dot\r\n"), "dot-stuffed: {log}");
    // A viewer cannot send it elsewhere.
    let (s, v) = post(
        &app,
        &format!("/api/v1/support/conversations/{id}/email"),
        &jane,
        json!({"to": "x@example.com"}),
    )
    .await;
    assert_eq!((s, v["error"]["field"].as_str()), (400, Some("to")));
}

mod browser_flow {
    use crate::browser::{browser, log_in_then, start_driver, wait_for, wait_text};
    use crate::helpers::{TestApp, PASSWORD};
    use fantoccini::{Client, Locator};
    use marquee_domain::Role;
    use serde_json::json;

    async fn click(c: &Client, css: &str) {
        wait_for(c, css).await.click().await.unwrap();
    }

    /// A customer chats from the widget, an agent answers in the inbox with
    /// a canned response, the customer shares the transcript and an
    /// anonymous browser opens it.
    #[tokio::test]
    async fn browser_customer_agent_and_anonymous_transcript() {
        let Some(driver) = start_driver().await else {
            return;
        };
        let app = TestApp::builder().start().await;
        let agent_token = app.login_as("sam.agent@example.com", Role::Agent).await;
        app.login_as("jane.doe@example.com", Role::Viewer).await;
        let (s, _) = super::post(
            &app,
            "/api/v1/staff/support/canned",
            &agent_token,
            json!({"shortcode": "popcorn", "body": "Refunded! Popcorn is on us."}),
        )
        .await;
        assert_eq!(s, 201);
        let customer = browser(&driver).await;
        let agent = browser(&driver).await;
        let anon = browser(&driver).await;
        let run = async {
            // The customer opens the widget on the home page and writes.
            log_in_then(&customer, &app, "jane.doe@example.com", PASSWORD, "/genres").await;
            wait_text(&customer, "main h1", |t| !t.is_empty()).await;
            click(&customer, "#support-open").await;
            wait_for(&customer, "#support-input")
                .await
                .send_keys("My stream froze <b>twice</b>")
                .await
                .unwrap();
            click(&customer, "#support-send").await;
            wait_text(&customer, "#support-log", |t| {
                t.contains("My stream froze <b>twice</b>")
            })
            .await;

            // The agent sees it live in the inbox and opens it.
            log_in_then(
                &agent,
                &app,
                "sam.agent@example.com",
                PASSWORD,
                "/staff/support",
            )
            .await;
            wait_text(&agent, "#support-inbox", |t| t.contains("My stream froze")).await;
            click(
                &agent,
                "#inbox-list a[href^='/staff/support/conversations/']",
            )
            .await;
            wait_text(&agent, "#agent-log", |t| {
                t.contains("My stream froze <b>twice</b>")
            })
            .await;
            // The customer types: the agent sees it.
            customer
                .find(Locator::Css("#support-input"))
                .await
                .unwrap()
                .send_keys("Also")
                .await
                .unwrap();
            wait_text(&agent, "#customer-typing", |t| t.contains("Jane is typing")).await;
            // A canned response by short code.
            wait_for(&agent, "#reply-body")
                .await
                .send_keys("/popcorn")
                .await
                .unwrap();
            click(&agent, "#reply-send").await;
            wait_text(&agent, "#agent-log", |t| {
                t.contains("Refunded! Popcorn is on us.")
            })
            .await;
            // It reaches the customer's widget live, read state flows back.
            wait_text(&customer, "#support-log", |t| {
                t.contains("Refunded! Popcorn is on us.")
            })
            .await;
            wait_text(&customer, "#support-status", |t| t.contains("with Sam")).await;
            wait_text(&agent, "#agent-seen", |t| {
                t.contains("Seen by the customer")
            })
            .await;

            // The conversation survives a reload.
            customer.refresh().await.unwrap();
            wait_text(&customer, "#support-log", |t| {
                t.contains("Refunded! Popcorn is on us.")
            })
            .await;

            // The customer shares the transcript.
            click(&customer, "#support-transcript").await;
            click(&customer, "#share-transcript").await;
            let url = wait_for(&customer, "#share-url")
                .await
                .text()
                .await
                .unwrap();
            assert!(url.contains("/t/"), "{url}");
            let path = url[url.find("/t/").unwrap()..].to_string();

            // An anonymous browser opens it: first names, no e-mails.
            anon.goto(&app.url(&path)).await.unwrap();
            let text = wait_text(&anon, "#transcript", |t| {
                t.contains("Refunded! Popcorn is on us.")
            })
            .await;
            assert!(
                text.contains("Jane") && text.contains("Sam from Support"),
                "{text}"
            );
            assert!(text.contains("My stream froze <b>twice</b>"));
            let html = anon.source().await.unwrap();
            assert!(!html.contains("example.com"), "an address leaked");
            assert!(html.contains("og:title"));
        };
        run.await;
        for c in [customer, agent, anon] {
            c.close().await.unwrap();
        }
    }
}
