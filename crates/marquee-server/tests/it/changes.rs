//! "Listen before you change" end to end, on the injected clock: a price
//! proposal with its impact preview, published to Standard customers only,
//! reactions by tenure, comments, matching posts, cancellations pointing at
//! it, the decision with its evidence and notifications, an announcement
//! sent once (mail captured), grandfathered prices moved only after their
//! notice, and a trust recovery computed on a known timeline.

use crate::helpers::{call, error_of, get, post, SmtpSink, TestApp, PASSWORD};
use marquee_domain::{ManualClock, Plan, Role};
use marquee_server::listening::RawPost;
use marquee_store::NewAccount;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

/// 2027-01-15 00:00 UTC: day 0 of the story.
const T0: i64 = 1_799_971_200_000;
const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

struct Customers {
    hash: String,
}

impl Customers {
    fn new() -> Self {
        Customers {
            hash: marquee_server::auth::hash_password_blocking(PASSWORD).unwrap(),
        }
    }

    /// A customer on `plan` who joined `days_ago` days before day 0.
    async fn add(&self, app: &TestApp, email: &str, plan: Plan, days_ago: i64) -> String {
        app.store()
            .create_account(
                &NewAccount {
                    email: email.into(),
                    password_hash: self.hash.clone(),
                    role: Role::Viewer,
                    plan,
                    must_change_password: false,
                    first_profile: email.split('@').next().unwrap().into(),
                    email_verified: true,
                },
                T0 - days_ago * DAY,
            )
            .await
            .unwrap();
        app.login(email).await
    }
}

/// `n` matching posts on `day` (hours 1…), `neg` of them negative.
async fn posts(app: &TestApp, day: i64, n: usize, neg: usize, tag: &str) {
    let raws = (0..n)
        .map(|i| RawPost {
            source: "test".into(),
            external_id: format!("{tag}-{day}-{i}"),
            author: format!("fan{i}"),
            text: if i < neg {
                "I hate the Marquee price hike, it is awful and I am furious".into()
            } else {
                "Love the Marquee price, great value and a happy customer".into()
            },
            url: None,
            lang: Some("en".into()),
            created_at: T0 + day * DAY + HOUR + i as i64 * 60_000,
        })
        .collect();
    marquee_server::listening::ingest(&app.state, raws, None)
        .await
        .unwrap();
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(app, Method::PUT, path, token, Some(body)).await
}

async fn cancel(app: &TestApp, token: &str, reason: &str, detail: &str) {
    let (s, v) = post(
        app,
        "/api/v1/account/cancel",
        token,
        json!({"reason": reason, "detail": detail}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn a_price_change_from_consultation_to_recovery() {
    let clock = Arc::new(ManualClock::new(T0));
    let sink = SmtpSink::start().await;
    let mut config = marquee_server::Config::default();
    sink.configure(&mut config);
    // The story spans six weeks of the injected clock.
    config.auth.session_ttl_hours = 24 * 90;
    let app = TestApp::builder()
        .clock(clock.clone())
        .config(config)
        .start()
        .await;
    let c = Customers::new();
    // Four long-standing Standard customers, three new ones, two on Basic.
    let mut long = Vec::new();
    for i in 0..4 {
        long.push(
            c.add(&app, &format!("long{i}@example.com"), Plan::Standard, 1500)
                .await,
        );
    }
    let mut new = Vec::new();
    for i in 0..3 {
        new.push(
            c.add(&app, &format!("new{i}@example.com"), Plan::Standard, 20)
                .await,
        );
    }
    let basic0 = c.add(&app, "basic0@example.com", Plan::Basic, 400).await;
    let basic1 = c.add(&app, "basic1@example.com", Plan::Basic, 400).await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;

    // Two quiet weeks before: 10 posts a day about the price, 1 negative.
    for day in -14..0 {
        posts(&app, day, 10, 1, "base").await;
    }

    // The draft and its impact preview.
    let standard = get(&app, "/api/v1/plans", &admin).await;
    let now_cents = standard
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["plan"] == "standard")
        .unwrap()["price"]["amount_cents"]
        .as_i64()
        .unwrap();
    let body = json!({
        "kind": "price",
        "title": "Standard goes to $19.99",
        "body": "We want to raise the **Standard** price to pay for more films.",
        "segment": {"plans": ["standard"]},
        "price": {"plan": "standard", "price": {"amount_cents": 1999, "currency": "USD"},
                  "grandfathering": {"mode": "after_notice", "notice_days": 30}},
        "keywords": ["price"],
        "planned_at": T0 + 10 * DAY,
    });
    // Bad input names its field; agents and customers may not draft.
    let mut bad = body.clone();
    bad["price"]["grandfathering"]["notice_days"] = json!(0);
    let r = app
        .post_json("/api/v1/staff/changes", Some(&admin), &bad)
        .await;
    let (s, _, field) = error_of(r).await;
    assert_eq!(
        (s, field.as_deref()),
        (400, Some("price.grandfathering.notice_days"))
    );
    let mut bad = body.clone();
    bad["planned_at"] = json!(T0 - 5 * DAY);
    let (s, _, field) = error_of(
        app.post_json("/api/v1/staff/changes", Some(&admin), &bad)
            .await,
    )
    .await;
    assert_eq!((s, field.as_deref()), (400, Some("planned_at")));
    for t in [&agent, &long[0]] {
        let (s, _) = post(&app, "/api/v1/staff/changes", t, body.clone()).await;
        assert_eq!(s, 403);
    }
    let (s, created) = post(&app, "/api/v1/staff/changes", &admin, body.clone()).await;
    assert_eq!(s, 201, "{created}");
    let id = created["proposal"]["id"].as_i64().unwrap();
    let impact = &created["impact"];
    assert_eq!(impact["accounts"], 7, "{impact}");
    assert_eq!(impact["of_total"], 9);
    assert_eq!(impact["repriced"], 7);
    assert_eq!(impact["monthly_delta_cents"], (1999 - now_cents) * 7);
    let rows = impact["rows"].as_array().unwrap();
    let band = |t: &str| {
        rows.iter()
            .find(|r| r["tenure"] == t)
            .map_or(0, |r| r["accounts"].as_i64().unwrap())
    };
    assert_eq!((band("3 years or more"), band("under 6 months")), (4, 3));

    // A draft is nobody's to see; a published one only its segment's.
    let (s, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/changes/{id}"),
        &long[0],
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, v) = post(
        &app,
        &format!("/api/v1/staff/changes/{id}/publish"),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("consulting")), "{v}");
    let (s, _) = post(
        &app,
        &format!("/api/v1/staff/changes/{id}/publish"),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(s, 409);
    let mine = get(&app, &format!("/api/v1/changes/{id}"), &long[0]).await;
    assert_eq!(mine["can_answer"], true);
    let (s, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/changes/{id}"),
        &basic0,
        None,
    )
    .await;
    assert_eq!(s, 404, "a Basic customer is outside the segment");
    assert!(get(&app, "/api/v1/changes", &basic0)
        .await
        .as_array()
        .unwrap()
        .is_empty());
    let list = get(&app, "/api/v1/changes", &new[0]).await;
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["answered"], false);

    // Reactions: the long-standing customers oppose and would leave; the
    // new ones mostly support. One changes their mind.
    clock.set(T0 + 2 * HOUR);
    for (i, t) in long.iter().enumerate() {
        let stay = if i == 0 { "unsure" } else { "no" };
        let (s, v) = put(
            &app,
            &format!("/api/v1/changes/{id}/reaction"),
            t,
            json!({"reaction": "oppose", "would_stay": stay}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    for t in &new {
        let (s, _) = put(
            &app,
            &format!("/api/v1/changes/{id}/reaction"),
            t,
            json!({"reaction": "support", "would_stay": "yes"}),
        )
        .await;
        assert_eq!(s, 200);
    }
    clock.set(T0 + 5 * HOUR);
    let (s, v) = put(
        &app,
        &format!("/api/v1/changes/{id}/reaction"),
        &new[2],
        json!({"reaction": "unsure"}),
    )
    .await;
    assert_eq!((s, v["my_reaction"].as_str()), (200, Some("unsure")));
    let (s, _, field) = error_of(
        app.req(
            Method::PUT,
            &format!("/api/v1/changes/{id}/reaction"),
            Some(&new[0]),
        )
        .json(&json!({"reaction": "maybe"}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((s, field.as_deref()), (400, Some("reaction")));
    let (s, _) = put(
        &app,
        &format!("/api/v1/changes/{id}/reaction"),
        &basic0,
        json!({"reaction": "oppose"}),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = put(
        &app,
        &format!("/api/v1/changes/{id}/reaction"),
        &admin,
        json!({"reaction": "support"}),
    )
    .await;
    assert_eq!(s, 403, "staff do not vote on their own proposal");

    // Comments, scored like posts and escaped on the page.
    let (s, cm) = post(
        &app,
        &format!("/api/v1/changes/{id}/comments"),
        &long[1],
        json!({"body": "I hate this awful price hike <script>alert(1)</script>, terrible for loyal customers"}),
    )
    .await;
    assert_eq!(s, 201, "{cm}");
    assert_eq!(cm["sentiment"], "negative");
    assert_eq!(cm["author_name"], "long1");
    let (s, _) = post(
        &app,
        &format!("/api/v1/changes/{id}/comments"),
        &long[2],
        json!({"body": "Awful. I hate paying more for the same price, terrible"}),
    )
    .await;
    assert_eq!(s, 201);
    let page = app
        .get(&format!("/changes/{id}"), Some(&long[0]))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("&#60;script&#62;alert(1)"), "{page}");
    assert!(!page.contains("<script>alert(1)"));

    // Three days of consultation: posts turn negative, two long-standing
    // customers cancel over the price.
    for day in 0..3 {
        posts(&app, day, 20, 12, "consult").await;
    }
    clock.set(T0 + DAY + 3 * HOUR);
    cancel(&app, &long[2], "price", "Too expensive now").await;
    cancel(&app, &long[3], "other", "The new price is too much for me").await;
    clock.set(T0 + 2 * DAY + 23 * HOUR);

    let d = get(
        &app,
        &format!("/api/v1/staff/changes/{id}/dashboard"),
        &admin,
    )
    .await;
    assert_eq!(d["totals"], json!([2, 1, 4]), "{}", d["totals"]);
    let last = d["reactions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["support"], &last["unsure"], &last["oppose"]),
        (&json!(2), &json!(1), &json!(4))
    );
    let first = &d["reactions"][2];
    assert_eq!(
        (&first["support"], &first["oppose"]),
        (&json!(3), &json!(4)),
        "before the change of mind: {}",
        d["reactions"]
    );
    let stay = d["stay"].as_array().unwrap();
    let long_row = stay
        .iter()
        .find(|r| r["tenure"] == "3 years or more")
        .unwrap();
    assert_eq!(
        (&long_row["oppose"], &long_row["no"], &long_row["unsure"]),
        (&json!(4), &json!(3), &json!(1))
    );
    let new_row = stay
        .iter()
        .find(|r| r["tenure"] == "under 6 months")
        .unwrap();
    // new2 answered again without "would stay": the new answer replaces both.
    assert_eq!(
        (&new_row["oppose"], &new_row["yes"]),
        (&json!(0), &json!(2))
    );
    assert_eq!(d["comment_sentiment"][0], 2);
    assert_eq!(d["posts_total"], 60);
    assert_eq!(d["posts_negative"], 36);
    assert_eq!(
        d["cancellations"].as_array().unwrap().len(),
        2,
        "the price reason and the words both point at it"
    );
    let concerns: Vec<&str> = d["concerns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["term"].as_str().unwrap())
        .collect();
    assert!(
        concerns.contains(&"hate") || concerns.contains(&"awful"),
        "{concerns:?}"
    );

    // Decide: ship. The decision links its evidence and notifies everyone
    // who took part (7 reactions, 2 of them also commented).
    clock.set(T0 + 3 * DAY);
    let (s, v) = post(
        &app,
        &format!("/api/v1/staff/changes/{id}/decision"),
        &admin,
        json!({"decision": "ship", "note": "We ship it, with a month's notice for everyone."}),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("shipped")), "{v}");
    let decision = v["decision_id"].as_i64().unwrap();
    let public = get(&app, "/api/v1/decisions", &new[0]).await;
    let entry = public
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == decision)
        .unwrap()
        .clone();
    assert!(!entry["evidence"].as_array().unwrap().is_empty(), "{entry}");
    let n = get(&app, "/api/v1/notifications", &new[1]).await;
    assert!(n.to_string().contains(&format!("/changes/{id}")), "{n}");
    let (s, _) = put(
        &app,
        &format!("/api/v1/changes/{id}/reaction"),
        &new[0],
        json!({"reaction": "oppose"}),
    )
    .await;
    assert_eq!(s, 409, "the consultation is closed");

    // Announce now: the worker sends it once, to the five Standard
    // customers still active; mail follows their preferences.
    let (s, v) = post(
        &app,
        &format!("/api/v1/staff/changes/{id}/announcement"),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let store = app.store().clone();
    let mut announced = None;
    for _ in 0..200 {
        let p = store.proposal(id).await.unwrap().unwrap();
        if p.announced_at.is_some() {
            announced = Some(p);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let p = announced.expect("the worker sent the announcement");
    assert_eq!(p.announced_to, 5);
    assert_eq!(
        marquee_server::changes::run_once(&app.state).await.unwrap(),
        (0, 0),
        "a re-run sends nothing twice and moves no price before the notice"
    );
    let (s, _) = post(
        &app,
        &format!("/api/v1/staff/changes/{id}/announcement"),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(s, 409);
    marquee_server::notify::run_once(&app.state).await.unwrap();
    let mails = sink.wait_for(5).await;
    assert!(mails.iter().any(|m| m.contains("new0@example.com")));
    assert!(!mails
        .iter()
        .any(|m| m.contains("RCPT TO:<basic0@example.com>")));
    // The announced change is public.
    let r = app.get(&format!("/api/v1/changes/{id}"), None).await;
    assert_eq!(r.status(), 200);

    // After: two rough days (70% negative, a cancellation each), then quiet.
    for day in 3..5 {
        posts(&app, day, 20, 14, "after").await;
    }
    for day in 5..10 {
        posts(&app, day, 10, 1, "calm").await;
    }
    clock.set(T0 + 3 * DAY + 5 * HOUR);
    cancel(&app, &basic0, "catalog", "").await;
    clock.set(T0 + 4 * DAY + 5 * HOUR);
    cancel(&app, &basic1, "quality", "").await;
    clock.set(T0 + 10 * DAY + HOUR);
    let a = get(&app, &format!("/api/v1/staff/changes/{id}/after"), &admin).await;
    let r = &a["recovery"];
    // Baseline: the 14 days before day 3, 11 quiet days and 3 of consultation.
    let share = r["baseline_negative_share"].as_f64().unwrap();
    assert!((share - 47.0 / 170.0).abs() < 1e-9, "{r}");
    assert!((r["baseline_cancellations"].as_f64().unwrap() - 2.0 / 14.0).abs() < 1e-9);
    assert_eq!(r["peak_cancellations"], 1);
    assert_eq!(r["days_to_recover"], 2, "{a}");
    assert_eq!(a["announced_day"], T0 + 3 * DAY);
    let day3 = a["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["day"] == T0 + 3 * DAY)
        .unwrap();
    assert_eq!(
        (&day3["posts"], &day3["negative"], &day3["cancellations"]),
        (&json!(20), &json!(14), &json!(1))
    );
    let labels: Vec<&str> = a["markers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["proposed", "consultation", "ship", "announcement"]);

    // Grandfathered prices move only after the notice: planned at day 10,
    // 30 days' notice.
    clock.set(T0 + 39 * DAY);
    assert_eq!(
        marquee_server::changes::run_once(&app.state).await.unwrap(),
        (0, 0)
    );
    let me = get(&app, "/api/v1/account/subscription", &new[0]).await;
    assert_eq!(me["price"]["amount_cents"], now_cents);
    clock.set(T0 + 40 * DAY + HOUR);
    let mut moved = false;
    for _ in 0..200 {
        if store
            .proposal(id)
            .await
            .unwrap()
            .unwrap()
            .prices_moved_at
            .is_some()
        {
            moved = true;
            break;
        }
        let _ = marquee_server::changes::run_once(&app.state).await;
    }
    assert!(moved);
    let me = get(&app, "/api/v1/account/subscription", &new[0]).await;
    assert_eq!(me["price"]["amount_cents"], 1999);

    // The staff pages show it, in words.
    let html = app
        .get(&format!("/staff/changes/{id}"), Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Recovered 2 days after the announcement."),
        "{html}"
    );
    let (open, recovering) = {
        let o = get(&app, "/api/v1/staff/changes/overview", &admin).await;
        (o["open"].as_array().unwrap().len(), o["recovering"].clone())
    };
    assert_eq!(open, 0);
    assert_eq!(recovering[0]["id"], id);
}

#[tokio::test]
async fn a_withdrawn_split_is_announced_with_the_apology() {
    let clock = Arc::new(ManualClock::new(T0));
    let app = TestApp::builder().clock(clock.clone()).start().await;
    let c = Customers::new();
    let viewer = c.add(&app, "v@example.com", Plan::Basic, 100).await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let (s, v) = post(
        &app,
        "/api/v1/staff/changes",
        &admin,
        json!({"kind": "product", "title": "Split DVD rental into Qwikster",
               "body": "Two sites, two bills.", "planned_at": T0 + 20 * DAY}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["proposal"]["id"].as_i64().unwrap();
    assert_eq!(v["impact"]["accounts"], 1);
    let (s, _) = post(&app, "/api/v1/staff/changes", &admin, json!({"kind": "product", "title": "x", "body": "y", "planned_at": T0, "price": {"plan": "basic", "price": {"amount_cents": 1, "currency": "USD"}, "grandfathering": {"mode": "new_customers_only"}}})).await;
    assert_eq!(s, 400, "only a price change carries a price");
    post(
        &app,
        &format!("/api/v1/staff/changes/{id}/publish"),
        &admin,
        json!({}),
    )
    .await;
    let (s, _) = put(
        &app,
        &format!("/api/v1/changes/{id}/reaction"),
        &viewer,
        json!({"reaction": "oppose", "would_stay": "no"}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = post(
        &app,
        &format!("/api/v1/staff/changes/{id}/decision"),
        &admin,
        json!({"decision": "withdraw", "note": "You told us clearly.", "evidence": []}),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("withdrawn")), "{v}");
    let (s, v) = post(
        &app,
        &format!("/api/v1/staff/changes/{id}/announcement"),
        &admin,
        json!({"at": T0 + DAY}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["announce_body"]
        .as_str()
        .unwrap()
        .contains("we are sorry"));
    assert!(v["announced_at"].is_null(), "scheduled for tomorrow");
    assert_eq!(
        marquee_server::changes::run_once(&app.state).await.unwrap(),
        (0, 0)
    );
    clock.set(T0 + DAY + 1);
    let _ = marquee_server::changes::run_once(&app.state).await.unwrap();
    let p = app.store().proposal(id).await.unwrap().unwrap();
    assert_eq!(p.announced_to, 1);
    // The customer sees the apology on the public page, without a session.
    let page = app
        .get(&format!("/changes/{id}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("we are sorry"), "{page}");
    let n = get(&app, "/api/v1/notifications", &viewer).await;
    assert!(n.to_string().contains("Qwikster"), "{n}");
}

/// Posts as listening ingests them, at `at + i` minutes.
async fn ingest_texts(app: &TestApp, tag: &str, at: i64, texts: &[String]) -> Vec<i64> {
    let raws = texts
        .iter()
        .enumerate()
        .map(|(i, t)| RawPost {
            source: "test".into(),
            external_id: format!("{tag}-{i}"),
            author: format!("user{}", i % 40),
            text: t.clone(),
            url: None,
            lang: Some("en".into()),
            created_at: at + i as i64 * 60_000 / 4,
        })
        .collect();
    marquee_server::listening::ingest(&app.state, raws, None)
        .await
        .unwrap()
        .alerts
}

#[tokio::test]
async fn a_backlash_about_a_proposal_raises_its_own_alert() {
    let clock = Arc::new(ManualClock::new(T0));
    let app = TestApp::builder().clock(clock.clone()).start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let (s, v) = post(
        &app,
        "/api/v1/staff/changes",
        &admin,
        json!({"kind": "product", "title": "Split DVD rental into Qwikster",
               "body": "Two sites, two bills.", "keywords": ["qwikster"],
               "planned_at": T0 + 20 * DAY}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["proposal"]["id"].as_i64().unwrap();
    post(
        &app,
        &format!("/api/v1/staff/changes/{id}/publish"),
        &admin,
        json!({}),
    )
    .await;
    // Three quiet hours: many posts about other things (a topic-free
    // series of their own), a few calm ones about the split.
    let mut at = T0 + HOUR;
    for hour in 0..3 {
        let texts: Vec<String> = (0..240)
            .map(|i| {
                if i % 24 == 0 {
                    format!("reading about qwikster, not sure yet ({hour}-{i})")
                } else {
                    format!("watched a nice film tonight, number {i} of hour {hour}")
                }
            })
            .collect();
        let alerts = ingest_texts(&app, &format!("quiet{hour}"), at, &texts).await;
        assert!(alerts.is_empty(), "a false alarm in quiet hour {hour}");
        at += HOUR;
        clock.set(at);
    }
    // Then a burst of anger about the split alone.
    let texts: Vec<String> = (0..200)
        .map(|i| format!("Qwikster is a terrible idea, two bills, I am cancelling ({i})"))
        .collect();
    let alerts = ingest_texts(&app, "burst", at, &texts).await;
    clock.set(at + HOUR);
    let series = format!("change:{id}");
    let mut scoped = Vec::new();
    for a in &alerts {
        let (s, v) = call(
            &app,
            Method::GET,
            &format!("/api/v1/listening/alerts/{a}"),
            &admin,
            None,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        if v["alert"]["series"] == series.as_str() {
            scoped.push(v);
        }
    }
    let alert = scoped
        .first()
        .unwrap_or_else(|| panic!("no alert on {series} among {alerts:?}"));
    // Its terms and examples come from the proposal's posts alone.
    let examples = alert["examples"].to_string();
    assert!(examples.to_lowercase().contains("qwikster"), "{alert}");
    assert!(!examples.contains("nice film"), "{alert}");
    // The consultation dashboard lists it.
    let d = get(
        &app,
        &format!("/api/v1/staff/changes/{id}/dashboard"),
        &admin,
    )
    .await;
    let listed: Vec<i64> = d["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert!(
        listed.contains(&alert["alert"]["id"].as_i64().unwrap()),
        "{listed:?}"
    );
    assert_eq!(d["posts_total"], 3 * 10 + 200, "{}", d["posts_total"]);
}

#[tokio::test]
async fn every_proposal_write_is_for_admins_only() {
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    let body = json!({"kind": "other", "title": "A change", "body": "Why.", "planned_at": 4_000_000_000_000i64});
    let (s, _) = post(&app, "/api/v1/staff/changes", &admin, body.clone()).await;
    assert_eq!(s, 201);
    let writes: &[(Method, &str, Value)] = &[
        (Method::POST, "/api/v1/staff/changes", body.clone()),
        (Method::PUT, "/api/v1/staff/changes/1", body.clone()),
        (Method::POST, "/api/v1/staff/changes/1/publish", json!({})),
        (
            Method::POST,
            "/api/v1/staff/changes/1/decision",
            json!({"decision": "ship", "note": "x"}),
        ),
        (
            Method::POST,
            "/api/v1/staff/changes/1/announcement",
            json!({}),
        ),
        (
            Method::PUT,
            "/api/v1/staff/changes/comments/1/hidden",
            json!({"hidden": true}),
        ),
        (Method::POST, "/staff/changes", json!({})),
        (Method::POST, "/staff/changes/1/edit", json!({})),
        (Method::POST, "/staff/changes/1/publish", json!({})),
        (Method::POST, "/staff/changes/1/decision", json!({})),
        (Method::POST, "/staff/changes/1/announcement", json!({})),
        (
            Method::POST,
            "/staff/changes/1/comments/1/hidden",
            json!({}),
        ),
    ];
    for (m, path, b) in writes {
        for (who, t) in [("agent", &agent), ("viewer", &viewer)] {
            let r = app
                .req(m.clone(), path, Some(t))
                .json(b)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{who} {m} {path}");
        }
        let r = app.req(m.clone(), path, None).json(b).send().await.unwrap();
        assert!(
            [401, 303].contains(&r.status().as_u16()),
            "anonymous {m} {path}: {}",
            r.status()
        );
    }
    // Nothing was written by them.
    let p = app.store().proposal(1).await.unwrap().unwrap();
    assert_eq!(p.status, marquee_domain::changes::Status::Draft);
    assert_eq!(app.store().proposals(&[], 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_consultation_dashboard_updates_live_in_the_browser() {
    use crate::browser::{browser, log_in_then, start_driver, wait_text};
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    let (s, v) = post(
        &app,
        "/api/v1/staff/changes",
        &admin,
        json!({"kind": "product", "title": "Split DVD rental into Qwikster",
               "body": "Two sites, two bills.", "planned_at": 4_000_000_000_000i64}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = v["proposal"]["id"].as_i64().unwrap();
    post(
        &app,
        &format!("/api/v1/staff/changes/{id}/publish"),
        &admin,
        json!({}),
    )
    .await;

    let c = browser(&driver).await;
    let page = format!("/staff/changes/{id}");
    log_in_then(&c, &app, "admin@example.com", PASSWORD, &page).await;
    wait_text(&c, "#rx-oppose", |t| t == "0").await;
    // The stream is open before the customer answers.
    wait_text(&c, "#live-status", |_| true).await;
    for _ in 0..100 {
        let class = c
            .find(fantoccini::Locator::Css("#live-status"))
            .await
            .unwrap()
            .attr("class")
            .await
            .unwrap()
            .unwrap_or_default();
        if class.contains("on") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (s, _) = put(
        &app,
        &format!("/api/v1/changes/{id}/reaction"),
        &viewer,
        json!({"reaction": "oppose", "would_stay": "no"}),
    )
    .await;
    assert_eq!(s, 200);
    // No reload: the panel refreshes itself from the event.
    wait_text(&c, "#rx-oppose", |t| t == "1").await;
    let (s, _) = post(
        &app,
        &format!("/api/v1/changes/{id}/comments"),
        &viewer,
        json!({"body": "Two bills is a terrible idea"}),
    )
    .await;
    assert_eq!(s, 201);
    wait_text(&c, "#cm-h + .ch-comment", |t| {
        t.contains("Two bills is a terrible idea")
    })
    .await;
    c.close().await.unwrap();
}
