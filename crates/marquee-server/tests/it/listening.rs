//! Social listening end to end: ingest API and tokens, classification,
//! dedupe, bad input, handles, alerts and their webhooks, the connectors
//! against local servers speaking the real protocols, and escaping.

use crate::helpers::{error_of, now_ms, TestApp};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use marquee_domain::{ManualClock, Role};
use marquee_server::listening::config::{JetstreamConfig, MastodonConfig, WebhookConfig};
use marquee_server::{listening, Config};
use marquee_store::listening::PostQuery;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MIN: i64 = 60_000;

/// An admin session and a fresh ingest token.
pub(crate) async fn admin_and_token(app: &TestApp) -> (String, String) {
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let r = app
        .post_json(
            "/api/v1/listening/tokens",
            Some(&admin),
            &json!({"name": "test feed"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    (admin, v["token"].as_str().unwrap().to_string())
}

pub(crate) fn post(id: &str, author: &str, text: &str, at: i64) -> Value {
    json!({"source": "test", "external_id": id, "author": author, "text": text, "created_at": at})
}

pub(crate) async fn ingest(app: &TestApp, token: &str, posts: &Value) -> reqwest::Response {
    app.post_json("/api/v1/posts", Some(token), posts).await
}

#[tokio::test]
async fn ingest_needs_a_live_token() {
    let app = TestApp::builder().start().await;
    let body = json!([post("1", "@a@x.social", "hello", now_ms())]);
    let (s, code, _) = error_of(ingest(&app, "", &body).await).await;
    assert_eq!((s, code.as_str()), (401, "unauthorized"));
    let (s, _, _) = error_of(ingest(&app, "not-a-token", &body).await).await;
    assert_eq!(s, 401);
    // A session token is not an ingest token.
    let (admin, token) = admin_and_token(&app).await;
    assert_eq!(ingest(&app, &admin, &body).await.status(), 401);
    assert_eq!(ingest(&app, &token, &body).await.status(), 200);
    // Only the hash is stored.
    let tokens: Value = app
        .get("/api/v1/listening/tokens", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert!(!tokens.to_string().contains(&token));
    let id = tokens[0]["id"].as_i64().unwrap();
    // Agents cannot manage tokens; admins revoke them.
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let r = app
        .req(
            Method::DELETE,
            &format!("/api/v1/listening/tokens/{id}"),
            Some(&agent),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .req(
            Method::DELETE,
            &format!("/api/v1/listening/tokens/{id}"),
            Some(&admin),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(ingest(&app, &token, &body).await.status(), 401);
}

#[tokio::test]
async fn posts_are_classified_deduplicated_and_idempotent() {
    let app = TestApp::builder().start().await;
    let (admin, token) = admin_and_token(&app).await;
    let t = now_ms() - 60 * MIN;
    let batch = json!([
        post(
            "1",
            "@Alice@Mastodon.Social",
            "I hate the new #PriceHike, Marquee is way too expensive now. Cancelling.",
            t
        ),
        post(
            "2",
            "bob.bsky.social",
            "Loving the new season of this show on Marquee, brilliant!",
            t + 1000
        ),
        post(
            "3",
            "did:plc:xyz",
            "The app keeps crashing on my TV",
            t + 2000
        ),
    ]);
    let r = ingest(&app, &token, &batch).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (
            v["received"].as_u64(),
            v["inserted"].as_u64(),
            v["duplicates"].as_u64()
        ),
        (Some(3), Some(3), Some(0))
    );
    // The same batch again writes nothing.
    let v: Value = ingest(&app, &token, &batch).await.json().await.unwrap();
    assert_eq!(
        (v["inserted"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(3))
    );

    let posts: Vec<Value> = app
        .get("/api/v1/listening/posts?order=negative", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(posts.len(), 3);
    let by_id = |id: &str| {
        posts
            .iter()
            .find(|p| p["external_id"] == id)
            .unwrap()
            .clone()
    };
    let p1 = by_id("1");
    assert_eq!(p1["sentiment"], "negative");
    assert_eq!(p1["author"], "@alice@mastodon.social");
    assert!(
        p1["topics"].as_array().unwrap().contains(&json!("price")),
        "{p1}"
    );
    assert!(
        p1["brands"].as_array().unwrap().contains(&json!("Marquee")),
        "{p1}"
    );
    assert!(
        !p1["top_tokens"].as_array().unwrap().is_empty(),
        "explanations: {p1}"
    );
    assert_eq!(posts[0]["external_id"], "1", "most negative first");
    let p2 = by_id("2");
    assert_eq!(p2["sentiment"], "positive");
    assert!(
        p2["topics"].as_array().unwrap().contains(&json!("catalog")),
        "{p2}"
    );
    assert!(by_id("3")["topics"]
        .as_array()
        .unwrap()
        .contains(&json!("app")));

    // Filters.
    let neg: Vec<Value> = app
        .get(
            "/api/v1/listening/posts?sentiment=negative&topic=price",
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(neg.len(), 1);
    let series: Vec<Value> = app
        .get(
            &format!(
                "/api/v1/listening/series?from={}&to={}&bucket_minutes=60",
                t - MIN,
                t + MIN
            ),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        series
            .iter()
            .map(|b| b["total"].as_i64().unwrap())
            .sum::<i64>(),
        3
    );
}

#[tokio::test]
async fn bad_batches_are_rejected_whole_with_the_field() {
    let app = TestApp::builder().start().await;
    let (admin, token) = admin_and_token(&app).await;
    let t = now_ms();
    let ok = post("1", "@a@x.social", "fine", t);
    // Unknown field.
    let mut extra = post("2", "@a@x.social", "fine", t);
    extra["favourites"] = json!(3);
    let (s, _, f) = error_of(ingest(&app, &token, &json!([ok.clone(), extra])).await).await;
    assert_eq!((s, f.as_deref()), (400, Some("[1].favourites")));
    // Oversize text.
    let long = post("3", "@a@x.social", &"x".repeat(5001), t);
    let (s, _, f) = error_of(ingest(&app, &token, &json!([ok.clone(), long])).await).await;
    assert_eq!((s, f.as_deref()), (400, Some("[1].text")));
    // Missing field, bad author, bad time, far future.
    let (s, _, f) = error_of(
        ingest(
            &app,
            &token,
            &json!([{"external_id": "4", "author": "@a@x", "created_at": t}]),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("[0].text")));
    let (_, _, f) = error_of(ingest(&app, &token, &json!([post("5", "a b", "x", t)])).await).await;
    assert_eq!(f.as_deref(), Some("[0].author"));
    let (_, _, f) = error_of(
        ingest(
            &app,
            &token,
            &json!([post("6", "@a@x", "x", t + 3 * 86_400_000)]),
        )
        .await,
    )
    .await;
    assert_eq!(f.as_deref(), Some("[0].created_at"));
    let mut bad_time = post("7", "@a@x", "x", t);
    bad_time["created_at"] = json!("yesterday");
    let (_, _, f) = error_of(ingest(&app, &token, &json!([bad_time])).await).await;
    assert_eq!(f.as_deref(), Some("[0].created_at"));
    // Not JSON, not an array, wrong content type, empty body.
    let r = app
        .req(Method::POST, "/api/v1/posts", Some(&token))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app
        .req(Method::POST, "/api/v1/posts", Some(&token))
        .header("content-type", "text/plain")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // Too many posts in one batch.
    let many: Vec<Value> = (0..5001)
        .map(|i| post(&format!("m{i}"), "@a@x", "x", t))
        .collect();
    let (s, _, f) = error_of(ingest(&app, &token, &json!(many)).await).await;
    assert_eq!((s, f.as_deref()), (400, Some("body")));
    // Nothing of any rejected batch was written.
    assert_eq!(
        app.store()
            .count_posts(&PostQuery::default())
            .await
            .unwrap(),
        0
    );
    let v: Vec<Value> = app
        .get("/api/v1/listening/posts", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert!(v.is_empty());
}

#[tokio::test]
async fn an_oversize_body_is_413() {
    let mut config = Config::default();
    config.listening.max_body_bytes = 2048;
    let app = TestApp::builder().config(config).start().await;
    let (_, token) = admin_and_token(&app).await;
    let posts: Vec<Value> = (0..40)
        .map(|i| {
            post(
                &i.to_string(),
                "@a@x.social",
                "a post of some length",
                now_ms(),
            )
        })
        .collect();
    let (s, code, _) = error_of(ingest(&app, &token, &json!(posts)).await).await;
    assert_eq!((s, code.as_str()), (413, "payload_too_large"));
    assert_eq!(
        app.store()
            .count_posts(&PostQuery::default())
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn linked_handles_bring_posts_to_the_account() {
    let app = TestApp::builder().start().await;
    let (admin, token) = admin_and_token(&app).await;
    let viewer = app.signup("viewer@example.com").await;
    let other = app.signup("other@example.com").await;
    let t = now_ms() - MIN;
    ingest(
        &app,
        &token,
        &json!([post(
            "1",
            "@fan@mastodon.social",
            "Marquee support was great",
            t
        )]),
    )
    .await;
    let r = app
        .post_json(
            "/api/v1/me/handles",
            Some(&viewer),
            &json!({"handle": "Fan@Mastodon.social"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["handles"], json!(["@fan@mastodon.social"]));
    // Another account cannot claim it; junk is a 400 naming the field.
    let (s, _, f) = error_of(
        app.post_json(
            "/api/v1/me/handles",
            Some(&other),
            &json!({"handle": "@fan@mastodon.social"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (409, Some("handle")));
    let (s, _, f) = error_of(
        app.post_json(
            "/api/v1/me/handles",
            Some(&other),
            &json!({"handle": "two words"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("handle")));
    // Old and new posts by the handle carry the account; agents see them.
    ingest(
        &app,
        &token,
        &json!([post(
            "2",
            "@FAN@mastodon.social",
            "the app crashed again",
            t + 1
        )]),
    )
    .await;
    let me: Value = app
        .get("/api/v1/me", Some(&viewer))
        .await
        .json()
        .await
        .unwrap();
    let id = me["account"]["id"].as_i64().unwrap();
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let posts: Vec<Value> = app
        .get(
            &format!("/api/v1/listening/posts?account_id={id}"),
            Some(&agent),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(posts.iter().all(|p| p["account_id"] == id));
    // Unlinking releases them.
    let r = app
        .req(
            Method::DELETE,
            "/api/v1/me/handles/@fan@mastodon.social",
            Some(&viewer),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let posts: Vec<Value> = app
        .get(
            &format!("/api/v1/listening/posts?account_id={id}"),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(posts.is_empty());
}

const QUIET: &[&str] = &[
    "watching a movie on marquee tonight",
    "what should I watch next, any shows?",
    "the new season is pretty good",
    "I love this documentary",
    "marquee app update looks nice",
    "this film was boring honestly",
    "streaming quality is fine today",
    "just finished the series, great ending",
];

/// Three quiet hours, then a burst of angry price posts from `burst_at`
/// minutes; returns the alert ids the ingest responses reported.
async fn quiet_then_backlash(app: &TestApp, token: &str, t0: i64) -> Vec<i64> {
    let mut alerts = Vec::new();
    let mut batch = Vec::new();
    for m in 0..180 {
        for k in 0..10 {
            let text = QUIET[(m * 10 + k) % QUIET.len()];
            batch.push(post(
                &format!("q{m}-{k}"),
                &format!("@user{k}@x.social"),
                text,
                t0 + m as i64 * MIN + k as i64 * 1000,
            ));
        }
        if batch.len() >= 600 {
            let v: Value = ingest(app, token, &json!(batch))
                .await
                .json()
                .await
                .unwrap();
            assert!(
                v["alerts"].as_array().unwrap().is_empty(),
                "false alarm in the quiet hours: {v}"
            );
            batch.clear();
        }
    }
    for m in 180..186 {
        for k in 0..60 {
            batch.push(post(
                &format!("b{m}-{k}"),
                &format!("@angry{k}@x.social"),
                "The Marquee price hike is outrageous, I hate this, cancelling my subscription #PriceHike",
                t0 + m * MIN + k * 500,
            ));
        }
    }
    batch.push(post("close", "@a@x.social", "ok", t0 + 190 * MIN));
    let v: Value = ingest(app, token, &json!(batch))
        .await
        .json()
        .await
        .unwrap();
    for a in v["alerts"].as_array().unwrap() {
        alerts.push(a.as_i64().unwrap());
    }
    alerts
}

#[tokio::test]
async fn a_backlash_raises_an_alert_staff_acknowledge_and_resolve() {
    let app = TestApp::builder().start().await;
    let (admin, token) = admin_and_token(&app).await;
    let mut events = app.state.listening.events.subscribe();
    let t0 = (now_ms() - 5 * 3_600_000) / MIN * MIN;
    let alerts = quiet_then_backlash(&app, &token, t0).await;
    assert!(!alerts.is_empty(), "the backlash must alert");
    let list: Vec<Value> = app
        .get("/api/v1/listening/alerts?status=open", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), alerts.len());
    // The first alert's window ends within five minutes of the burst.
    let first = list.iter().min_by_key(|a| a["id"].as_i64()).unwrap();
    assert!(
        first["window_end"].as_i64().unwrap() <= t0 + 185 * MIN,
        "{first}"
    );
    let price = list
        .iter()
        .find(|a| a["series"] == "price")
        .expect("a price alert");
    let id = price["id"].as_i64().unwrap();
    let d: Value = app
        .get(&format!("/api/v1/listening/alerts/{id}"), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let terms: Vec<&str> = d["alert"]["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[0].as_str().unwrap())
        .collect();
    assert!(
        terms.contains(&"hike") || terms.contains(&"outrageous"),
        "{terms:?}"
    );
    assert!(!d["examples"].as_array().unwrap().is_empty());
    assert_eq!(d["examples"][0]["sentiment"], "negative");
    // It went out live.
    let mut saw_alert = false;
    while let Ok(e) = events.try_recv() {
        saw_alert |= matches!(e, listening::LiveEvent::Alert { .. });
    }
    assert!(saw_alert);
    // Acknowledge, then resolve; repeats conflict.
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/listening/alerts/{id}/acknowledge"),
            Some(&agent),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "acknowledged");
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/listening/alerts/{id}/acknowledge"),
            Some(&agent),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/listening/alerts/{id}/resolve"),
            Some(&agent),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/listening/alerts/{id}/resolve"),
            Some(&agent),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = app
        .req(
            Method::POST,
            "/api/v1/listening/alerts/999/resolve",
            Some(&agent),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let viewer = app.signup("v@example.com").await;
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/listening/alerts/{id}/resolve"),
            Some(&viewer),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A webhook receiver that answers 500 to the first `fail` requests.
async fn receiver(fail: usize) -> (String, Received) {
    receiver_failing(Arc::new(Mutex::new(fail))).await
}

/// A webhook receiver that answers 500 while `fail` (decremented by each
/// request) is above zero.
async fn receiver_failing(fail: Arc<Mutex<usize>>) -> (String, Received) {
    let got: Received = Arc::default();
    let st = (got.clone(), fail);
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |State((got, fail)): State<(Received, Arc<Mutex<usize>>)>,
                 h: HeaderMap,
                 body: String| async move {
                    got.lock().unwrap().push((h, body));
                    let mut f = fail.lock().unwrap();
                    if *f > 0 {
                        *f -= 1;
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                },
            ),
        )
        .with_state(st);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

const SECRET: &str = "a-webhook-secret-of-some-length";

fn webhook_config(url: &str) -> Config {
    let mut c = Config::default();
    c.listening.webhooks = vec![WebhookConfig {
        url: url.into(),
        secret: SECRET.into(),
    }];
    c.listening.webhook_retry_base_ms = 50;
    c
}

async fn wait_until<F: FnMut() -> bool>(what: &str, mut f: F) {
    for _ in 0..300 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn alerts_go_out_signed_and_retried_until_delivered() {
    let (url, got) = receiver(1).await;
    let app = TestApp::builder()
        .config(webhook_config(&url))
        .start()
        .await;
    let (_, token) = admin_and_token(&app).await;
    let t0 = (now_ms() - 5 * 3_600_000) / MIN * MIN;
    let alerts = quiet_then_backlash(&app, &token, t0).await;
    assert!(!alerts.is_empty());
    // One failure, then one success per alert.
    let want = alerts.len() + 1;
    wait_until("deliveries", || got.lock().unwrap().len() >= want).await;
    let calls = got.lock().unwrap().clone();
    for (h, body) in &calls {
        let ts = h["x-marquee-timestamp"].to_str().unwrap();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{ts}.{body}").as_bytes());
        let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(h["x-marquee-signature"].to_str().unwrap(), expected);
        let v: Value = serde_json::from_str(body).unwrap();
        assert!(
            v["text"].as_str().unwrap().starts_with("Backlash alert"),
            "{v}"
        );
        assert!(v["blocks"].is_array());
        let id = v["marquee_alert"]["id"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap();
        assert!(alerts.contains(&id));
    }
    let store = app.store().clone();
    let mut delivered = 0;
    for _ in 0..100 {
        let out = store.webhook_outbox(50).await.unwrap();
        delivered = out.iter().filter(|o| o.delivered_at.is_some()).count();
        if delivered == alerts.len() {
            assert_eq!(out.iter().map(|o| o.attempts).sum::<i64>(), want as i64);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivered, alerts.len());
}

#[tokio::test]
async fn queued_webhooks_survive_a_restart() {
    // The receiver is down while the first process runs: each alert fails
    // once and waits for its retry, which a frozen clock never reaches.
    let down = Arc::new(Mutex::new(usize::MAX));
    let (url, got) = receiver_failing(down.clone()).await;
    let clock = Arc::new(ManualClock::new(now_ms()));
    let mut app = TestApp::builder()
        .config(webhook_config(&url))
        .clock(clock.clone())
        .start()
        .await;
    let (_, token) = admin_and_token(&app).await;
    let t0 = (now_ms() - 5 * 3_600_000) / MIN * MIN;
    let alerts = quiet_then_backlash(&app, &token, t0).await;
    assert!(!alerts.is_empty());
    wait_until("first attempts", || {
        got.lock().unwrap().len() >= alerts.len()
    })
    .await;
    app.stop().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(got.lock().unwrap().len(), alerts.len());
    // "Restart": a new server process on the same database, its clock past
    // the retries and the first process's claims; the receiver is back.
    *down.lock().unwrap() = 0;
    clock.advance(3_600_000);
    let _restarted = app.sibling().await;
    wait_until("queued deliveries", || {
        got.lock().unwrap().len() == 2 * alerts.len()
    })
    .await;
    let mut delivered = 0;
    for _ in 0..100 {
        let out = app.store().webhook_outbox(50).await.unwrap();
        delivered = out.iter().filter(|o| o.delivered_at.is_some()).count();
        if delivered == alerts.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivered, alerts.len());
}

// ---- Mastodon: a local server speaking the hashtag timeline API ----

/// A `Status` entity as Mastodon's REST API returns it.
fn status(id: u64, text: &str, acct: &str) -> Value {
    let user = acct.split('@').next().unwrap();
    json!({
        "id": id.to_string(),
        "created_at": "2026-11-20T10:15:30.000Z",
        "in_reply_to_id": null, "in_reply_to_account_id": null,
        "sensitive": false, "spoiler_text": "", "visibility": "public", "language": "en",
        "uri": format!("https://local.test/users/{user}/statuses/{id}"),
        "url": format!("https://local.test/@{user}/{id}"),
        "replies_count": 0, "reblogs_count": 1, "favourites_count": 2,
        "edited_at": null,
        "content": format!("<p>{text} <a href=\"https://local.test/tags/marquee\" class=\"mention hashtag\" rel=\"tag\">#<span>marquee</span></a></p>"),
        "reblog": null,
        "application": null,
        "account": {
            "id": "1090", "username": user, "acct": acct, "display_name": user,
            "locked": false, "bot": false, "discoverable": true, "group": false,
            "created_at": "2022-11-08T00:00:00.000Z", "note": "",
            "url": format!("https://local.test/@{user}"),
            "avatar": "https://local.test/avatars/original/missing.png",
            "followers_count": 3, "following_count": 4, "statuses_count": 5,
            "emojis": [], "fields": []
        },
        "media_attachments": [], "mentions": [],
        "tags": [{"name": "marquee", "url": "https://local.test/tags/marquee"}],
        "emojis": [], "card": null, "poll": null
    })
}

#[derive(Default)]
struct Masto {
    statuses: Vec<Value>,
    min_ids: Vec<Option<String>>,
    fail: usize,
}

type MastoState = Arc<Mutex<Masto>>;

async fn tag_timeline(
    State(st): State<MastoState>,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, axum::Json<Value>) {
    let mut m = st.lock().unwrap();
    m.min_ids.push(q.get("min_id").cloned());
    if m.fail > 0 {
        m.fail -= 1;
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": "try later"})),
        );
    }
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20)
        .min(40);
    let id = |s: &Value| s["id"].as_str().unwrap().parse::<u64>().unwrap();
    let mut page: Vec<Value> = match q.get("min_id") {
        // min_id: the statuses immediately newer than it, oldest first...
        Some(min) => {
            let min: u64 = min.parse().unwrap();
            let mut newer: Vec<Value> =
                m.statuses.iter().filter(|s| id(s) > min).cloned().collect();
            newer.sort_by_key(id);
            newer.into_iter().take(limit).collect()
        }
        None => {
            let mut all = m.statuses.clone();
            all.sort_by_key(|s| std::cmp::Reverse(id(s)));
            all.into_iter().take(limit).collect()
        }
    };
    // ...returned newest first, as Mastodon does.
    page.sort_by_key(|s| std::cmp::Reverse(id(s)));
    (StatusCode::OK, axum::Json(json!(page)))
}

async fn mastodon_server(st: MastoState) -> String {
    let app = axum::Router::new()
        .route("/api/v1/timelines/tag/{tag}", get(tag_timeline))
        .with_state(st);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    url
}

#[tokio::test]
async fn mastodon_connector_pages_with_min_id_retries_and_resumes() {
    let st: MastoState = Arc::default();
    {
        let mut m = st.lock().unwrap();
        for i in 0..30 {
            m.statuses.push(status(1000 + i, "loving marquee", "fan"));
        }
        m.fail = 2;
    }
    let base = mastodon_server(st.clone()).await;
    let app = TestApp::builder().start().await;
    let cfg = MastodonConfig {
        base_url: base,
        hashtag: "marquee".into(),
        poll_interval_s: 1,
        access_token: None,
    };
    let task = tokio::spawn(listening::mastodon::run(app.state.clone(), cfg.clone(), 0));
    let count = || async {
        app.store()
            .count_posts(&PostQuery::default())
            .await
            .unwrap()
    };
    for _ in 0..200 {
        if count().await == 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count().await, 30, "after two failed polls, the first page");
    // A burst of 100 (more than two pages) arrives: min_id paging gets all.
    {
        let mut m = st.lock().unwrap();
        for i in 0..100 {
            m.statuses.push(status(
                2000 + i,
                "the price hike is too much",
                "critic@other.social",
            ));
        }
    }
    for _ in 0..200 {
        if count().await == 130 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count().await, 130);
    let name = listening::mastodon::cursor_name(&cfg);
    assert_eq!(
        app.store()
            .connector_cursor(&name)
            .await
            .unwrap()
            .as_deref(),
        Some("2099")
    );
    task.abort();
    // Restart: the connector resumes from the stored cursor.
    {
        let mut m = st.lock().unwrap();
        m.min_ids.clear();
        for i in 0..5 {
            m.statuses.push(status(3000 + i, "marquee again", "fan"));
        }
    }
    let task = tokio::spawn(listening::mastodon::run(app.state.clone(), cfg, 0));
    for _ in 0..200 {
        if count().await == 135 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    assert_eq!(count().await, 135);
    assert_eq!(st.lock().unwrap().min_ids[0].as_deref(), Some("2099"));
    let posts = app
        .store()
        .list_posts(&PostQuery {
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let p = posts
        .iter()
        .find(|p| p.external_id.ends_with("/2000"))
        .unwrap();
    assert_eq!(p.author, "@critic@other.social");
    assert_eq!(p.text, "the price hike is too much #marquee");
    assert!(posts.iter().any(|p| p.author == "@fan@local.test"));
}

// ---- Bluesky Jetstream: a local WebSocket server replaying commit events ----

fn jet_event(time_us: i64, i: usize) -> Value {
    let did = format!("did:plc:user{}", i % 7);
    match i % 5 {
        // An identity event and a delete: not posts.
        3 => json!({"did": did, "time_us": time_us, "kind": "identity",
            "identity": {"did": did, "handle": "someone.bsky.social", "seq": 1409752997, "time": "2024-09-05T06:11:04.870Z"}}),
        4 => json!({"did": did, "time_us": time_us, "kind": "commit",
            "commit": {"rev": "3l3f6nzl3cv2s", "operation": "delete", "collection": "app.bsky.feed.post", "rkey": format!("d{i}")}}),
        k => json!({"did": did, "time_us": time_us, "kind": "commit",
            "commit": {"rev": "3l3qo2vutsw2b", "operation": "create", "collection": "app.bsky.feed.post",
                "rkey": format!("r{i}"),
                "record": {"$type": "app.bsky.feed.post", "createdAt": "2026-11-20T10:15:30.000Z", "langs": ["en"],
                    "text": if k == 2 { format!("nothing to see {i}") } else { format!("Marquee is great {i}") }},
                "cid": "bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi"}}),
    }
}

#[derive(Default)]
struct Jet {
    events: Vec<Value>,
    uris: Vec<String>,
    /// Connections that drop after this many events.
    drop_after: Vec<usize>,
}

async fn jetstream_server(st: Arc<Mutex<Jet>>) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/subscribe", l.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (tcp, _) = l.accept().await.unwrap();
            let st = st.clone();
            tokio::spawn(async move {
                let mut uri = String::new();
                #[allow(clippy::result_large_err)] // tungstenite's callback signature
                let cb = |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                          resp| {
                    uri = req.uri().to_string();
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await else {
                    return;
                };
                let (events, drop_after) = {
                    let mut j = st.lock().unwrap();
                    j.uris.push(uri.clone());
                    let cursor: i64 = uri
                        .split("cursor=")
                        .nth(1)
                        .and_then(|c| c.split('&').next())
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(0);
                    let evs: Vec<Value> = j
                        .events
                        .iter()
                        .filter(|e| e["time_us"].as_i64().unwrap() >= cursor)
                        .cloned()
                        .collect();
                    let d = if j.drop_after.is_empty() {
                        usize::MAX
                    } else {
                        j.drop_after.remove(0)
                    };
                    (evs, d)
                };
                for (n, e) in events.iter().enumerate() {
                    if n == drop_after {
                        return; // the connection just dies
                    }
                    if ws
                        .send(tokio_tungstenite::tungstenite::Message::Text(
                            e.to_string().into(),
                        ))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                // Stay open like the real firehose.
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    url
}

#[tokio::test]
async fn jetstream_connector_filters_reconnects_and_resumes_from_its_cursor() {
    let st: Arc<Mutex<Jet>> = Arc::default();
    let t = 1_763_633_730_000_000i64;
    {
        let mut j = st.lock().unwrap();
        j.events = (0..300)
            .map(|i| jet_event(t + i as i64 * 100_000, i))
            .collect();
        j.drop_after = vec![120];
    }
    let matching = |n: usize| (0..n).filter(|i| i % 5 < 2).count() as i64;
    let url = jetstream_server(st.clone()).await;
    let app = TestApp::builder().start().await;
    let cfg = JetstreamConfig {
        url,
        keywords: vec!["MARQUEE".into()],
    };
    let task = tokio::spawn(listening::jetstream::run(app.state.clone(), cfg.clone(), 0));
    let count = || async {
        app.store()
            .count_posts(&PostQuery::default())
            .await
            .unwrap()
    };
    for _ in 0..300 {
        if count().await == matching(300) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        count().await,
        matching(300),
        "every matching post once, across a dropped connection"
    );
    {
        let j = st.lock().unwrap();
        assert!(j.uris.len() >= 2, "reconnected: {:?}", j.uris);
        assert!(j.uris[0].contains("wantedCollections=app.bsky.feed.post"));
        assert!(!j.uris[0].contains("cursor="));
        assert!(j.uris[1].contains("cursor="), "{:?}", j.uris);
    }
    let name = listening::jetstream::cursor_name(&cfg);
    for _ in 0..100 {
        if app.store().connector_cursor(&name).await.unwrap()
            == Some((t + 299 * 100_000).to_string())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.store().connector_cursor(&name).await.unwrap(),
        Some((t + 299 * 100_000).to_string())
    );
    task.abort();
    // Restart with new events: resumes from the cursor (rewound 5 s).
    {
        let mut j = st.lock().unwrap();
        j.uris.clear();
        let more: Vec<Value> = (300..400)
            .map(|i| jet_event(t + i as i64 * 100_000, i))
            .collect();
        j.events.extend(more);
    }
    let task = tokio::spawn(listening::jetstream::run(app.state.clone(), cfg, 0));
    for _ in 0..300 {
        if count().await == matching(400) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    assert_eq!(count().await, matching(400));
    let uri = st.lock().unwrap().uris[0].clone();
    assert!(
        uri.ends_with(&format!("cursor={}", t + 299 * 100_000 - 5_000_000)),
        "{uri}"
    );
    let posts = app
        .store()
        .list_posts(&PostQuery {
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(posts
        .iter()
        .all(|p| p.source == "bluesky" && p.author.starts_with("did:plc:")));
}

// ---- Pages: dashboard, drill-down, escaping, forms, live updates ----

/// Logs in through the API: (bearer token, CSRF token).
async fn session(app: &TestApp, email: &str, role: Role) -> (String, String) {
    let token = app.login_as(email, role).await;
    let v: Value = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": crate::helpers::PASSWORD}),
        )
        .await
        .json()
        .await
        .unwrap();
    let _ = token;
    (
        v["token"].as_str().unwrap().to_string(),
        v["csrf_token"].as_str().unwrap().to_string(),
    )
}

pub(crate) async fn page(app: &TestApp, path: &str, token: &str) -> (u16, String) {
    let r = app.get(path, Some(token)).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn form(
    app: &TestApp,
    path: &str,
    token: &str,
    fields: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let r = app
        .req(Method::POST, path, Some(token))
        .form(fields)
        .send()
        .await
        .unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), loc, r.text().await.unwrap())
}

const EVIL: &str = "<script>alert(1)</script> the price hike is awful <img src=x onerror=alert(2)>";

#[tokio::test]
async fn dashboard_charts_drill_down_and_escaping() {
    let app = TestApp::builder().start().await;
    let (admin, _) = session(&app, "admin@example.com", Role::Admin).await;
    let r = app
        .post_json(
            "/api/v1/listening/tokens",
            Some(&admin),
            &json!({"name": "t"}),
        )
        .await;
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let t = now_ms() - 90 * MIN;
    let mut posts = vec![post("evil", "@mallory@evil.example", EVIL, t)];
    for i in 0..20 {
        posts.push(post(
            &format!("p{i}"),
            "@fan@x.social",
            "I love the new season of this show",
            t + i * MIN,
        ));
    }
    assert_eq!(ingest(&app, &token, &json!(posts)).await.status(), 200);

    let (s, html) = page(&app, "/listening", &admin).await;
    assert_eq!(s, 200);
    assert!(html.contains("<svg"), "charts are inline SVG");
    assert!(html.contains("data-series=\"price\""));
    assert!(
        !html.contains("<script>alert(1)"),
        "post text must be escaped"
    );
    assert!(!html.contains("<img src=x"));
    assert!(
        html.contains("&#60;script&#62;alert(1)") || html.contains("&lt;script&gt;alert(1)"),
        "the hostile post is shown, escaped"
    );
    assert!(
        html.contains("21 posts"),
        "the all-mentions chart counts every post"
    );
    // Every bar links to its posts; follow the one holding the hostile post.
    let links: Vec<String> = html
        .split("href=\"")
        .skip(1)
        .map(|s| {
            s[..s.find('"').unwrap()]
                .replace("&#38;", "&")
                .replace("&amp;", "&")
        })
        .filter(|h| h.starts_with("/listening/posts?from=") && h.contains("topic=price"))
        .collect();
    assert!(links.len() > 10, "one link per bucket");
    let mut found = false;
    for l in &links {
        let (s, body) = page(&app, l, &admin).await;
        assert_eq!(s, 200);
        if body.contains("data-post=") {
            assert!(!body.contains("<script>alert(1)"));
            assert!(body.contains("mallory"));
            found = true;
        }
    }
    assert!(found, "a price bar drills down to the price post");
    // Filters: topic and a bad range.
    let (s, html) = page(&app, "/listening?topic=catalog&range=6h", &admin).await;
    assert_eq!(s, 200);
    assert!(html.contains("data-series=\"catalog\"") && !html.contains("data-series=\"price\""));
    let (s, _) = page(&app, "/listening?range=1y", &admin).await;
    assert_eq!(s, 400);
    let (s, html) = page(&app, "/listening/live?range=6h", &admin).await;
    assert_eq!(s, 200);
    assert!(html.contains("<svg") && !html.contains("<html"));
    let (s, html) = page(&app, "/listening/posts?sentiment=negative", &admin).await;
    assert_eq!(s, 200);
    assert!(html.contains("mallory") && !html.contains("<img src=x"));
    assert!(html.contains("why:"), "the explanation tokens are shown");
}

#[tokio::test]
async fn alert_page_forms_tokens_and_handles() {
    let app = TestApp::builder().start().await;
    let (admin, csrf) = session(&app, "admin@example.com", Role::Admin).await;
    // Tokens: created by form, shown once, revoked by form.
    let (s, _, html) = form(
        &app,
        "/listening/tokens",
        &admin,
        &[("csrf", &csrf), ("name", "relay <b>")],
    )
    .await;
    assert_eq!(s, 200);
    let i = html.find("id=\"token-secret\">").unwrap() + 18;
    let token = html[i..i + html[i..].find('<').unwrap()].to_string();
    assert!(token.len() >= 43, "256-bit token");
    assert!(!html.contains("relay <b>"));
    let (s, html) = page(&app, "/listening/tokens", &admin).await;
    assert_eq!(s, 200);
    assert!(!html.contains(&token), "the secret is shown only once");
    let (s, _, _) = form(
        &app,
        "/listening/tokens",
        &admin,
        &[("csrf", "forged"), ("name", "x")],
    )
    .await;
    assert_eq!(s, 403);
    // Raise an alert with that token.
    let t0 = (now_ms() - 5 * 3_600_000) / MIN * MIN;
    let alerts = quiet_then_backlash(&app, &token, t0).await;
    let id = alerts[0];
    let (s, html) = page(&app, &format!("/listening/alerts/{id}"), &admin).await;
    assert_eq!(s, 200);
    assert!(html.contains("Driving terms") && html.contains("id=\"ack\""));
    let (s, _, _) = form(
        &app,
        &format!("/listening/alerts/{id}/acknowledge"),
        &admin,
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(s, 403);
    let (s, loc, _) = form(
        &app,
        &format!("/listening/alerts/{id}/acknowledge"),
        &admin,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(
        (s, loc.as_deref()),
        (303, Some(format!("/listening/alerts/{id}").as_str()))
    );
    let (_, html) = page(&app, &format!("/listening/alerts/{id}"), &admin).await;
    assert!(html.contains("<strong>acknowledged</strong>"));
    let (s, _, _) = form(
        &app,
        &format!("/listening/alerts/{id}/resolve"),
        &admin,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(s, 303);
    assert_eq!(
        app.store().alert(id).await.unwrap().unwrap().status,
        marquee_domain::listening::AlertStatus::Resolved
    );
    let (s, _) = page(&app, "/listening/alerts/9999", &admin).await;
    assert_eq!(s, 404);
    // Revoke by form.
    let tid = app.store().ingest_tokens().await.unwrap()[0].id;
    let (s, _, _) = form(
        &app,
        &format!("/listening/tokens/{tid}/revoke"),
        &admin,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(s, 303);
    assert_eq!(ingest(&app, &token, &json!([])).await.status(), 401);
    // A viewer links a handle on the settings page.
    let (viewer, vcsrf) = session(&app, "viewer@example.com", Role::Viewer).await;
    let (s, loc, _) = form(
        &app,
        "/account/handles",
        &viewer,
        &[("csrf", &vcsrf), ("handle", "@Me@Mastodon.Social")],
    )
    .await;
    assert_eq!((s, loc.as_deref()), (303, Some("/account/handles")));
    let (_, html) = page(&app, "/account/handles", &viewer).await;
    assert!(html.contains("@me@mastodon.social"));
    let (s, _, html) = form(
        &app,
        "/account/handles",
        &viewer,
        &[("csrf", &vcsrf), ("handle", "not a handle")],
    )
    .await;
    assert_eq!(s, 400);
    assert!(html.contains("role=\"alert\""));
    let (s, _) = page(&app, "/listening", &viewer).await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn the_stream_announces_posts_and_alerts() {
    let app = TestApp::builder().start().await;
    let (admin, token) = admin_and_token(&app).await;
    let mut r = app.get("/listening/stream", Some(&admin)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let t0 = (now_ms() - 5 * 3_600_000) / MIN * MIN;
    let alerts = quiet_then_backlash(&app, &token, t0).await;
    assert!(!alerts.is_empty());
    let mut seen = String::new();
    // Posts as counts; an alert as its headline, in words, not as the
    // detector's fields.
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = r.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: posts")
                && seen.contains("\"inserted\":")
                && seen.contains("event: alert")
                && seen.contains("\"headline\":\"")
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(got, Ok(true), "{seen}");
    let alert_data = seen
        .split("event: alert\ndata: ")
        .nth(1)
        .and_then(|d| d.lines().next())
        .unwrap_or_default();
    let d: Value = serde_json::from_str(alert_data).unwrap();
    let headline = d["headline"].as_str().unwrap();
    assert!(headline.contains("in the last"), "{headline}");
    assert!(!headline.contains("negative_share"), "{headline}");
    assert_eq!(d["status"], "open");
    let r = app.get("/listening/stream", None).await;
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn browser_dashboard_updates_live() {
    use crate::browser::{browser, start_driver, wait_text};
    use fantoccini::Locator;
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::builder().start().await;
    let (_, token) = admin_and_token(&app).await;
    let c = browser(&driver).await;
    let run = async {
        c.goto(&app.url("/login?next=/listening")).await.unwrap();
        wait_text(&c, "h1", |t| !t.is_empty()).await;
        c.find(Locator::Css("input[name=email]"))
            .await
            .unwrap()
            .send_keys("admin@example.com")
            .await
            .unwrap();
        c.find(Locator::Css("input[name=password]"))
            .await
            .unwrap()
            .send_keys(crate::helpers::PASSWORD)
            .await
            .unwrap();
        c.find(Locator::Css("form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, "figure[data-series=all] figcaption", |t| {
            t.contains("0 posts")
        })
        .await;
        wait_text(&c, "#live-status", |_| true).await;
        // Wait for the event stream to open before posting.
        for _ in 0..100 {
            let cls = c
                .find(Locator::Css("#live-status"))
                .await
                .unwrap()
                .attr("class")
                .await
                .unwrap();
            if cls.as_deref() == Some("live-dot on") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let posts: Vec<Value> = (0..7)
            .map(|i| {
                post(
                    &format!("b{i}"),
                    "@a@x.social",
                    "Marquee raised the price again",
                    now_ms() - MIN,
                )
            })
            .collect();
        assert_eq!(ingest(&app, &token, &json!(posts)).await.status(), 200);
        // No reload: the panel refreshes itself.
        wait_text(&c, "figure[data-series=all] figcaption", |t| {
            t.contains("7 posts")
        })
        .await;
        wait_text(&c, "figure[data-series=price] figcaption", |t| {
            t.contains("7 posts")
        })
        .await;
    };
    run.await;
    c.close().await.unwrap();
}

/// #20: a community manager corrects a post's sentiment through the API and
/// on the post list (in place with htmx, or by a plain form that returns to
/// the list with a confirmation); the correction is kept as training data.
#[tokio::test]
async fn staff_correct_a_posts_sentiment_and_the_correction_is_kept_for_training() {
    let app = TestApp::builder().start().await;
    let (admin, token) = admin_and_token(&app).await;
    let (agent, csrf) = session(&app, "agent@example.com", Role::Agent).await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    let at = now_ms() - MIN;
    let r = ingest(
        &app,
        &token,
        &json!([post(
            "1",
            "@a@x",
            "this new season is sick, cannot stop watching",
            at
        )]),
    )
    .await;
    assert!(r.status().is_success());
    let v: Value = app
        .get("/api/v1/listening/posts", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let id = v[0]["id"].as_i64().unwrap();
    assert_eq!(v[0]["labelled_by"], "fast");
    let put = |who: String, path: String, body: Value| {
        let app = &app;
        async move {
            app.req(Method::PUT, &path, Some(&who))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let path = format!("/api/v1/listening/posts/{id}/sentiment");
    // Customers may not; a wrong label names the field; an unknown post is 404.
    let r = put(
        viewer.clone(),
        path.clone(),
        json!({"sentiment": "positive"}),
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = put(agent.clone(), path.clone(), json!({"sentiment": "great"})).await;
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("sentiment"), "{body}");
    let r = put(
        agent.clone(),
        "/api/v1/listening/posts/999999/sentiment".into(),
        json!({"sentiment": "positive"}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = put(
        agent.clone(),
        path.clone(),
        json!({"sentiment": "positive"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    assert_eq!(
        (&p["sentiment"], &p["labelled_by"], p["score"].as_f64()),
        (&json!("positive"), &json!("staff"), Some(1.0))
    );
    let v: Value = app
        .get("/api/v1/listening/posts?sentiment=positive", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);

    // The post list: a form per post, with the label's source shown.
    let (s, html) = page(&app, "/listening/posts?q=season", &agent).await;
    assert_eq!(s, 200);
    assert!(html.contains(&format!("action=\"/listening/posts/{id}/sentiment\"")));
    assert!(html.contains("corrected by staff"), "{html}");
    let action = format!("/listening/posts/{id}/sentiment");
    let (s, _, _) = form(
        &app,
        &action,
        &agent,
        &[("csrf", "forged"), ("sentiment", "neutral")],
    )
    .await;
    assert_eq!(s, 403);
    let (s, loc, _) = form(
        &app,
        &action,
        &agent,
        &[
            ("csrf", &csrf),
            ("sentiment", "neutral"),
            ("back", "/listening/posts?q=season"),
        ],
    )
    .await;
    assert_eq!(s, 303);
    let loc = loc.unwrap();
    assert_eq!(
        loc,
        format!("/listening/posts?q=season&corrected={id}#post-{id}")
    );
    let (s, html) = page(&app, loc.split('#').next().unwrap(), &agent).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("Saved: this post now counts as neutral"),
        "{html}"
    );
    // Only back to a post list of this site.
    let (_, loc, _) = form(
        &app,
        &action,
        &agent,
        &[
            ("csrf", &csrf),
            ("sentiment", "neutral"),
            ("back", "https://evil.example/listening/posts"),
        ],
    )
    .await;
    assert_eq!(
        loc.unwrap(),
        format!("/listening/posts?corrected={id}#post-{id}")
    );
    // With htmx, the post is answered in place.
    let r = app
        .req(Method::POST, &action, Some(&agent))
        .header("hx-request", "true")
        .form(&[("csrf", csrf.as_str()), ("sentiment", "negative")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.starts_with(&format!("<div class=\"post-item\" id=\"post-{id}\">")));
    assert!(html.contains("now counts as negative"));
    let (s, _, _) = form(
        &app,
        &action,
        &agent,
        &[("csrf", &csrf), ("sentiment", "furious")],
    )
    .await;
    assert_eq!(s, 400);

    // Training reads the latest correction of each post, with its text.
    let log = app.store().sentiment_corrections().await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].text.as_str(), log[0].sentiment.as_str()),
        ("this new season is sick, cannot stop watching", "negative")
    );
    let p = &app.store().posts_by_id(&[id]).await.unwrap()[0];
    assert_eq!(p.sentiment.as_str(), "negative");
}

/// #20: a retrained sentiment model written where the server looks is
/// served without a restart; a file that does not load leaves the served
/// model in place.
#[tokio::test]
async fn a_retrained_sentiment_model_is_picked_up_while_serving() {
    use marquee_sentiment::{train, Label, TrainConfig};
    use rand::SeedableRng;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.bin");
    let mut config = Config::default();
    config.listening.model = Some(path.clone());
    config.listening.model_check_ms = 100;
    let app = TestApp::builder().config(config).start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let shown = |html: &str| -> String {
        let i = html.find("id=\"sentiment-model\"").unwrap();
        html[i..i + html[i..].find("</p>").unwrap()].to_string()
    };
    let (_, html) = page(&app, "/listening", &admin).await;
    assert!(
        shown(&html).contains("the built-in model"),
        "{}",
        shown(&html)
    );

    // A small model, trained as `marquee train sentiment` does, written
    // next to the server (write, then rename: the server never sees half).
    let mut texts = Vec::new();
    let mut labels = Vec::new();
    for i in 0..30 {
        texts.push(format!("zorblax is wonderful {i}"));
        labels.push(Label::Positive);
        texts.push(format!("quintessa is dreadful {i}"));
        labels.push(Label::Negative);
        texts.push(format!("the schedule for day {i}"));
        labels.push(Label::Neutral);
    }
    let cfg = TrainConfig {
        epochs: 2,
        ..TrainConfig::default()
    };
    let model = train(
        &texts,
        &labels,
        &cfg,
        &mut rand::rngs::StdRng::seed_from_u64(7),
        |_, _| {},
    )
    .unwrap();
    let fingerprint = model.fingerprint();
    let tmp = dir.path().join("model.bin.tmp");
    std::fs::write(&tmp, model.to_bytes()).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let mut served = String::new();
    for _ in 0..100 {
        let (_, html) = page(&app, "/listening", &admin).await;
        served = shown(&html);
        if served.contains("the retrained model") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served.contains(&fingerprint[..12]), "{served}");

    // A broken file: reported, and the retrained model stays served.
    std::fs::write(&path, b"not a model").unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, html) = page(&app, "/listening", &admin).await;
    assert!(
        shown(&html).contains(&fingerprint[..12]),
        "{}",
        shown(&html)
    );
    let r = app
        .post_json(
            "/api/v1/listening/tokens",
            Some(&admin),
            &json!({"name": "feed"}),
        )
        .await;
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = ingest(
        &app,
        &token,
        &json!([post("z", "@a@x", "zorblax zorblax", now_ms() - MIN)]),
    )
    .await;
    assert!(r.status().is_success());
    // Ingest labels with the retrained model.
    assert_eq!(model.predict("zorblax zorblax").label, Label::Positive);
    let v: Value = app
        .get("/api/v1/listening/posts", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v[0]["text"], "zorblax zorblax");
    assert_eq!(v[0]["sentiment"], "positive");
}
