//! Perks, word of mouth, decisions and the overview against the real server.

use crate::helpers::{account_id, call, error_of, get, post, TestApp, PASSWORD};
use marquee_domain::perks::DAY_MS;
use marquee_domain::{Clock, ManualClock, Role};
use marquee_server::Config;
use marquee_store::perks::AwardOutcome;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

const T0: i64 = 1_800_000_000_000;

fn custom_rule(name: &str, tenure: i64, credit: i64, global: i64) -> Value {
    json!({
        "name": format!("Rule {name}"),
        "trigger": {"kind": "custom", "name": name},
        "conditions": [{"field": "tenure_days", "op": "gte", "value": tenure}],
        "effect": {"kind": "credit", "amount_cents": credit, "message": "Thank you!"},
        "budget": {"global": {"max_cents": global}, "per_profile": {"max_awards": 1, "period_days": 30}}
    })
}

async fn custom_event(
    app: &TestApp,
    staff: &str,
    account: i64,
    name: &str,
    key: &str,
    at: Option<i64>,
) -> (u16, Value) {
    let mut body = json!({"kind": "custom", "account_id": account, "name": name, "key": key});
    if let Some(at) = at {
        body["occurred_at"] = json!(at);
    }
    post(app, "/api/v1/staff/perks/events", staff, body).await
}

/// A clock-driven app whose sessions outlive the clock's jumps.
async fn app_at(clock: Arc<ManualClock>) -> TestApp {
    let mut c = Config::default();
    c.auth.session_ttl_hours = 24 * 365 * 5;
    TestApp::builder().config(c).clock(clock).start().await
}

async fn pass(app: &TestApp) {
    marquee_server::perks::run_once(&app.state).await.unwrap();
}

async fn my_perks(app: &TestApp, token: &str) -> Value {
    get(app, "/api/v1/me/perks", token).await
}

#[tokio::test]
async fn rules_that_cannot_be_evaluated_are_refused_with_the_reason() {
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let cases = [
        (
            "/conditions/0/field",
            json!("shoe_size"),
            "conditions[0].field",
            "unknown field",
        ),
        (
            "/conditions/0/value",
            json!("thirty"),
            "conditions[0].value",
            "type mismatch",
        ),
        (
            "/effect/amount_cents",
            json!("500"),
            "effect.amount_cents",
            "type mismatch",
        ),
        (
            "/trigger/kind",
            json!("birthday"),
            "trigger.kind",
            "unknown trigger",
        ),
    ];
    for (ptr, value, field, reason) in cases {
        let mut rule = custom_rule("x", 0, 100, 1000);
        *rule.pointer_mut(ptr).unwrap() = value;
        let r = app
            .post_json("/api/v1/staff/perks/rules", Some(&admin), &rule)
            .await;
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(reason),
            "{v}"
        );
    }
    // An unknown key anywhere, and no budget at all.
    let mut rule = custom_rule("x", 0, 100, 1000);
    rule["budget"]["per_profile"]["per_week"] = json!(1);
    let (s, _, f) = error_of(
        app.post_json("/api/v1/staff/perks/rules", Some(&admin), &rule)
            .await,
    )
    .await;
    assert_eq!(
        (s, f.as_deref()),
        (400, Some("budget.per_profile.per_week"))
    );
    let mut rule = custom_rule("x", 0, 100, 1000);
    rule.as_object_mut().unwrap().remove("budget");
    let r = app
        .post_json("/api/v1/staff/perks/rules", Some(&admin), &rule)
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["field"], "budget");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no budget"));
    // Nothing was saved; an agent may not save; an admin may.
    assert_eq!(
        get(&app, "/api/v1/staff/perks/rules", &agent).await,
        json!([])
    );
    let r = app
        .post_json(
            "/api/v1/staff/perks/rules",
            Some(&agent),
            &custom_rule("x", 0, 100, 1000),
        )
        .await;
    assert_eq!(r.status(), 403);
    let (s, v) = post(
        &app,
        "/api/v1/staff/perks/rules",
        &admin,
        custom_rule("x", 0, 100, 1000),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["spec"]["budget"]["per_profile"]["max_awards"], 1);
    // The audit trail has the change.
    let audit = get(&app, "/api/v1/staff/perks/audit", &agent).await;
    assert_eq!(audit[0]["action"], "rule_created");
}

#[tokio::test]
async fn evaluation_with_injected_clock_budgets_and_replay() {
    let clock = Arc::new(ManualClock::new(T0));
    let app = app_at(clock.clone()).await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let a = app.signup("a@example.com").await;
    let b = app.signup("b@example.com").await;
    let c = app.signup("c@example.com").await;
    let (ia, ib, ic) = (
        account_id(&app, &a).await,
        account_id(&app, &b).await,
        account_id(&app, &c).await,
    );
    // 5.00 per event, at most 10.00 in all, once per profile per 30 days,
    // only for accounts at least 30 days old.
    let (s, rule) = post(
        &app,
        "/api/v1/staff/perks/rules",
        &admin,
        custom_rule("beta", 30, 500, 1000),
    )
    .await;
    assert_eq!(s, 201);
    let rule_id = rule["id"].as_i64().unwrap();

    // Day 0: too new.
    assert_eq!(
        custom_event(&app, &admin, ia, "beta", "a-0", None).await.0,
        201
    );
    pass(&app).await;
    assert_eq!(my_perks(&app, &a).await["credit_cents"], 0);

    // Day 31: A is rewarded once, then capped for the period; B is
    // rewarded; C finds the global budget spent.
    clock.advance(31 * DAY_MS);
    for (acct, key) in [(ia, "a-1"), (ia, "a-2"), (ib, "b-1"), (ic, "c-1")] {
        let (s, v) = custom_event(&app, &admin, acct, "beta", key, None).await;
        assert_eq!(s, 201, "{v}");
    }
    pass(&app).await;
    assert_eq!(my_perks(&app, &a).await["credit_cents"], 500);
    assert_eq!(my_perks(&app, &b).await["credit_cents"], 500);
    assert_eq!(my_perks(&app, &c).await["credit_cents"], 0);
    let audit = get(&app, "/api/v1/staff/perks/audit", &admin).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "awarded").count(),
        2,
        "{actions:?}"
    );
    assert!(actions.contains(&"profile_cap_reached"), "{actions:?}");
    assert!(actions.contains(&"global_budget_exhausted"), "{actions:?}");
    let spend = get(&app, "/api/v1/staff/perks/spend", &admin).await;
    assert_eq!(spend["total_cents"], 1000);

    // Replay: the same events again are not logged twice...
    let (s, v) = custom_event(&app, &admin, ia, "beta", "a-1", None).await;
    assert_eq!((s, v["recorded"].clone()), (200, json!(false)));
    pass(&app).await;
    // ...and re-evaluating a logged event never pays twice.
    let rule = app.store().perk_rule(rule_id).await.unwrap().unwrap();
    let since = T0 - DAY_MS;
    let events = app
        .store()
        .perk_events_between(since, clock.now_ms() + 1, 100)
        .await
        .unwrap();
    assert_eq!(events.len(), 5);
    for ev in &events {
        let out = app
            .store()
            .award_perk(&rule, ev, clock.now_ms())
            .await
            .unwrap();
        assert!(!matches!(out, AwardOutcome::Awarded(_)), "{out:?}");
    }
    assert_eq!(
        my_perks(&app, &a).await["awards"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        get(&app, "/api/v1/staff/perks/spend", &admin).await["total_cents"],
        1000
    );

    // A new period for A: still no money left in the global budget.
    clock.advance(31 * DAY_MS);
    custom_event(&app, &admin, ia, "beta", "a-3", None).await;
    pass(&app).await;
    assert_eq!(my_perks(&app, &a).await["credit_cents"], 500);
}

#[tokio::test]
async fn dry_run_figures_on_a_known_log() {
    let clock = Arc::new(ManualClock::new(T0));
    let app = app_at(clock.clone()).await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let t = app.signup(&format!("v{n}@example.com")).await;
        ids.push(account_id(&app, &t).await);
    }
    clock.advance(60 * DAY_MS);
    let now = clock.now_ms();
    // The log: v0 twice within a week, v1 and v2 once, v3 40 days ago
    // (outside the window), and an event of another name.
    let log = [
        (ids[0], "gift", "e1", now - 20 * DAY_MS),
        (ids[0], "gift", "e2", now - 15 * DAY_MS),
        (ids[1], "gift", "e3", now - 10 * DAY_MS),
        (ids[2], "gift", "e4", now - 5 * DAY_MS),
        (ids[3], "gift", "e5", now - 40 * DAY_MS),
        (ids[1], "other", "e6", now - 3 * DAY_MS),
    ];
    for (acct, name, key, at) in log {
        let (s, v) = custom_event(&app, &admin, acct, name, key, Some(at)).await;
        assert_eq!(s, 201, "{v}");
    }
    // 2.50 each, at most 3 awards in all, one per profile per 30 days.
    let mut rule = custom_rule("gift", 0, 250, 100_000);
    rule["budget"]["global"] = json!({"max_awards": 2});
    let (s, v) = post(&app, "/api/v1/staff/perks/dry-run", &admin, rule.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["events"], 5, "{v}");
    assert_eq!(v["eligible"], 4, "{v}");
    assert_eq!(v["awards"].as_array().unwrap().len(), 2);
    assert_eq!(v["total_cents"], 500);
    assert_eq!(v["profiles"], 2);
    assert_eq!(v["skipped_profile"], 1);
    assert_eq!(v["skipped_global"], 1);
    let who: Vec<i64> = v["awards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account_id"].as_i64().unwrap())
        .collect();
    assert_eq!(who, vec![ids[0], ids[1]]);
    // A dry-run gives nothing.
    assert_eq!(
        get(&app, "/api/v1/staff/perks/spend", &admin).await["total_awards"],
        0
    );
    // A bad rule is refused the same way as on save.
    rule["conditions"][0]["op"] = json!("between");
    let (s, _, f) = error_of(
        app.post_json("/api/v1/staff/perks/dry-run", Some(&admin), &rule)
            .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("conditions[0].op")));
}

#[tokio::test]
async fn support_recovery_trigger_from_csat_and_sla_breach() {
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let v = app.signup("sad@example.com").await;
    let id = account_id(&app, &v).await;
    let rule = json!({
        "name": "Sorry",
        "trigger": {"kind": "support_recovery"},
        "effect": {"kind": "message", "message": "We're sorry. A month on us is coming.", "cost_cents": 999},
        "budget": {"global": {"max_awards": 100}, "per_profile": {"max_awards": 2, "period_days": 90}}
    });
    assert_eq!(
        post(&app, "/api/v1/staff/perks/rules", &admin, rule)
            .await
            .0,
        201
    );
    let ev = |kind: &str, key: &str, score: Option<i64>| {
        let mut b = json!({"kind": kind, "account_id": id, "key": key});
        if let Some(s) = score {
            b["score"] = json!(s);
        }
        b
    };
    // CSAT 4: no recovery. CSAT 6: bad input.
    let (s, r) = post(
        &app,
        "/api/v1/staff/perks/events",
        &admin,
        ev("support_csat", "conv-1", Some(4)),
    )
    .await;
    assert_eq!((s, r["recorded"].clone()), (200, json!(false)));
    let (s, _, f) = error_of(
        app.post_json(
            "/api/v1/staff/perks/events",
            Some(&admin),
            &ev("support_csat", "conv-1", Some(6)),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("score")));
    let (s, _, f) = error_of(
        app.post_json(
            "/api/v1/staff/perks/events",
            Some(&admin),
            &ev("support_csat", "conv-1", None),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("score")));
    // CSAT 2 and an SLA breach on another conversation: two recoveries;
    // the same conversation again: none.
    assert_eq!(
        post(
            &app,
            "/api/v1/staff/perks/events",
            &admin,
            ev("support_csat", "conv-2", Some(2))
        )
        .await
        .0,
        201
    );
    assert_eq!(
        post(
            &app,
            "/api/v1/staff/perks/events",
            &admin,
            ev("sla_breach", "conv-3", None)
        )
        .await
        .0,
        201
    );
    assert_eq!(
        post(
            &app,
            "/api/v1/staff/perks/events",
            &admin,
            ev("sla_breach", "conv-2", None)
        )
        .await
        .0,
        200
    );
    pass(&app).await;
    let mine = my_perks(&app, &v).await;
    let awards = mine["awards"].as_array().unwrap();
    assert_eq!(awards.len(), 2, "{mine}");
    assert!(awards
        .iter()
        .all(|a| a["reason"] == "support_recovery" && a["kind"] == "message"));
    assert_eq!(
        get(&app, "/api/v1/staff/perks/spend", &admin).await["total_cents"],
        1998
    );
    // Unknown account: 400 naming it.
    let mut bad = ev("sla_breach", "conv-9", None);
    bad["account_id"] = json!(9999);
    let (s, _, f) = error_of(
        app.post_json("/api/v1/staff/perks/events", Some(&admin), &bad)
            .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("account_id")));
}

#[tokio::test]
async fn referrals_are_attributed_and_self_referral_pays_nothing() {
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let rule = json!({
        "name": "Friend joined",
        "trigger": {"kind": "referral_converted"},
        "effect": {"kind": "credit", "amount_cents": 200},
        "budget": {"global": {"max_cents": 100000}, "per_profile": {"max_awards": 10, "period_days": 30}}
    });
    assert_eq!(
        post(&app, "/api/v1/staff/perks/rules", &admin, rule)
            .await
            .0,
        201
    );
    let alice = app.signup("alice@example.com").await;
    let alice_id = account_id(&app, &alice).await;
    // Off by default: no code, and share links carry none.
    let s = get(&app, "/api/v1/me/sharing", &alice).await;
    assert_eq!(
        (s["enabled"].clone(), s["referral_code"].clone()),
        (json!(false), Value::Null)
    );
    let tid = app.add_title("Film").await;
    let (s, link) = post(
        &app,
        "/api/v1/me/share-links",
        &alice,
        json!({"title_id": tid, "t": 60}),
    )
    .await;
    assert_eq!(s, 200, "{link}");
    assert_eq!(link["path"], format!("/w/{tid}?t=60"));
    assert_eq!(link["with_referral"], false);
    // Opt in: a code, and links carry it.
    let (s, on) = call(
        &app,
        Method::PUT,
        "/api/v1/me/sharing",
        &alice,
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(s, 200);
    let code = on["referral_code"].as_str().unwrap().to_string();
    let (_, link) = post(
        &app,
        "/api/v1/me/share-links",
        &alice,
        json!({"title_id": tid}),
    )
    .await;
    assert_eq!(link["path"], format!("/w/{tid}?ref={code}"));

    // Bob signs up with the code (lower case works): attributed.
    let r = app
        .post_json("/api/v1/auth/signup", None, &json!({"email": "bob@example.com", "password": PASSWORD, "referral_code": code.to_lowercase()}))
        .await;
    assert_eq!(r.status(), 201);
    let bob = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    // Alice's other mailbox is Alice: no reward.
    let r = app
        .post_json(
            "/api/v1/auth/signup",
            None,
            &json!({"email": "Alice+2@example.com", "password": PASSWORD, "referral_code": code}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // Alice cannot use her own code; Bob cannot be referred twice.
    let (s, _, f) = error_of(
        app.post_json("/api/v1/me/referral", Some(&alice), &json!({"code": code}))
            .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("code")));
    let (s, _, f) = error_of(
        app.post_json("/api/v1/me/referral", Some(&bob), &json!({"code": code}))
            .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (409, Some("code")));
    let carol = app.signup("carol@example.com").await;
    call(
        &app,
        Method::PUT,
        "/api/v1/me/sharing",
        &carol,
        Some(json!({"enabled": true})),
    )
    .await;
    let carol_code = get(&app, "/api/v1/me/sharing", &carol).await["referral_code"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _, _) = error_of(
        app.post_json(
            "/api/v1/me/referral",
            Some(&bob),
            &json!({"code": carol_code}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 409);
    let (s, _, f) = error_of(
        app.post_json(
            "/api/v1/me/referral",
            Some(&bob),
            &json!({"code": "NOPE2345"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("code")));
    // Dave enters Carol's code after signing up: attributed to Carol.
    let dave = app.signup("dave@example.com").await;
    let (s, v) = post(
        &app,
        "/api/v1/me/referral",
        &dave,
        json!({"code": carol_code}),
    )
    .await;
    assert_eq!((s, v["status"].clone()), (200, json!("converted")), "{v}");

    pass(&app).await;
    assert_eq!(
        get(&app, "/api/v1/me/sharing", &alice).await["converted"],
        1
    );
    assert_eq!(my_perks(&app, &alice).await["credit_cents"], 200);
    assert_eq!(my_perks(&app, &carol).await["credit_cents"], 200);
    assert_eq!(my_perks(&app, &bob).await["credit_cents"], 0);
    let events = app
        .store()
        .perk_events_between(0, i64::MAX, 100)
        .await
        .unwrap();
    assert_eq!(
        events.iter().filter(|e| e.account_id == alice_id).count(),
        1
    );
}

#[tokio::test]
async fn share_pages_render_open_graph_tags() {
    let app = TestApp::builder().start().await;
    app.store()
        .import_titles(
            "t",
            &[marquee_store::ImportTitle {
                external_id: 1,
                name: "Tom & \"Jerry\" <3>".into(),
                year: Some(1999),
                genres: vec!["Comedy".into()],
            }],
            1,
        )
        .await
        .unwrap();
    let tid = app
        .store()
        .search_titles("Tom", 1, &Default::default())
        .await
        .unwrap()[0]
        .id;
    let r = app.get(&format!("/w/{tid}?t=754&ref=abcd2345"), None).await;
    assert_eq!(r.status(), 200);
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("marquee_ref=ABCD2345;")),
        "{cookies:?}"
    );
    let html = r.text().await.unwrap();
    let title = "Tom &#38; &#34;Jerry&#34; &#60;3&#62; (1999)";
    for tag in [
        "<meta property=\"og:type\" content=\"video.movie\">".to_string(),
        format!("<meta property=\"og:title\" content=\"{title}\">"),
        format!("<meta property=\"og:url\" content=\"http://{}/w/{tid}?t=754\">", app.addr),
        "<meta name=\"twitter:card\" content=\"summary\">".to_string(),
        format!("<meta name=\"twitter:title\" content=\"{title}\">"),
        format!("<meta property=\"og:description\" content=\"A moment at 12:34 in {title}. Watch it on Marquee.\">"),
        "<meta property=\"og:site_name\" content=\"Marquee\">".to_string(),
    ] {
        assert!(html.contains(&tag), "missing {tag} in {html}");
    }
    // The referrer is never named; the sign-up link carries the code.
    assert!(html.contains("href=\"/signup?ref=ABCD2345\""));
    let signup = app
        .client
        .get(app.url("/signup"))
        .header("cookie", "marquee_ref=ABCD2345")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(signup.contains("name=\"ref_code\" value=\"ABCD2345\""));
    // Without a moment: the genres describe it. Unknown titles are 404.
    let html = app
        .get(&format!("/w/{tid}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!(
            "<meta property=\"og:description\" content=\"Comedy. Watch {title} on Marquee.\">"
        )),
        "{html}"
    );
    assert_eq!(app.get("/w/99999", None).await.status(), 404);
    assert_eq!(app.get("/w/abc", None).await.status(), 404);
    // A logged-in viewer's Watch button starts the player at the shared moment.
    let viewer = app.login_as("moment@example.com", Role::Viewer).await;
    let html = app
        .get(&format!("/w/{tid}?t=754"), Some(&viewer))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("href=\"/watch/{tid}?t=754\">▶ Watch from 12:34<")),
        "{html}"
    );
    let html = app
        .get(&format!("/w/{tid}"), Some(&viewer))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("href=\"/watch/{tid}\">▶ Watch<")));
}

#[tokio::test]
async fn decisions_notify_voters_commenters_and_linked_posters() {
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let author = app.signup("author@example.com").await;
    let voter = app.signup("voter@example.com").await;
    let commenter = app.signup("commenter@example.com").await;
    let poster = app.signup("poster@example.com").await;
    let bystander = app.signup("bystander@example.com").await;
    let (s, idea) = post(
        &app,
        "/api/v1/ideas",
        &author,
        json!({"title": "Keep DVDs with streaming", "description": "Please"}),
    )
    .await;
    assert_eq!(s, 201, "{idea}");
    let idea_id = idea["id"].as_i64().unwrap();
    assert_eq!(
        call(
            &app,
            Method::PUT,
            &format!("/api/v1/ideas/{idea_id}/vote"),
            &voter,
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        post(
            &app,
            &format!("/api/v1/ideas/{idea_id}/comments"),
            &commenter,
            json!({"body": "Yes!"})
        )
        .await
        .0,
        201
    );
    // A post by a linked handle.
    let (s, tok) = post(
        &app,
        "/api/v1/listening/tokens",
        &admin,
        json!({"name": "feed"}),
    )
    .await;
    assert_eq!(s, 201);
    let token = tok["token"].as_str().unwrap();
    assert_eq!(
        post(
            &app,
            "/api/v1/me/handles",
            &poster,
            json!({"handle": "@fan@example.social"})
        )
        .await
        .0,
        201
    );
    let now = marquee_domain::SystemClock.now_ms();
    let r = app
        .post_json("/api/v1/posts", Some(token), &json!([{"source": "test", "external_id": "1", "author": "@fan@example.social", "text": "Don't split DVD and streaming!", "created_at": now - 1000}]))
        .await;
    assert!(r.status().is_success());
    let post_id = app
        .store()
        .list_posts(&marquee_store::listening::PostQuery {
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap()[0]
        .id;

    // Bad evidence writes nothing.
    let (s, _, f) = error_of(
        app.post_json(
            "/api/v1/staff/decisions",
            Some(&admin),
            &json!({"title": "X", "body": "Y", "evidence": [{"kind": "idea", "id": 9999}]}),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("evidence")));
    let (s, _, f) = error_of(
        app.post_json(
            "/api/v1/staff/decisions",
            Some(&admin),
            &json!({"title": "X", "body": "Y", "evidence": [{"kind": "ticket", "id": 1}]}),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("evidence[0].kind")));
    assert_eq!(
        app.get("/api/v1/decisions", None)
            .await
            .json::<Value>()
            .await
            .unwrap(),
        json!([])
    );

    let (s, d) = post(
        &app,
        "/api/v1/staff/decisions",
        &admin,
        json!({"title": "Keep DVD and streaming together", "body": "You told us, loudly.", "evidence": [{"kind": "idea", "id": idea_id}, {"kind": "post", "id": post_id}]}),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["notified"], 4);
    for (t, expect) in [
        (&author, true),
        (&voter, true),
        (&commenter, true),
        (&poster, true),
        (&bystander, false),
    ] {
        let n = get(&app, "/api/v1/notifications", t).await;
        let has = n
            .to_string()
            .contains("We heard you: Keep DVD and streaming together");
        assert_eq!(has, expect, "{n}");
    }
    // The public changelog lists it (no log-in needed).
    let html = app.get("/changelog", None).await.text().await.unwrap();
    assert!(html.contains("Keep DVD and streaming together"));
    assert!(html.contains(&format!("href=\"/ideas/{idea_id}\"")));
    let list: Value = app
        .get("/api/v1/decisions", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["evidence"].as_array().unwrap().len(), 2);
}

/// Plays every episode of a sample series to the end through the playback API.
async fn finish_series(app: &TestApp, token: &str, name: &str, now: i64) -> i64 {
    let hits = app
        .store()
        .search_titles(name, 5, &Default::default())
        .await
        .unwrap();
    let series = hits
        .iter()
        .find(|t| t.kind == marquee_domain::TitleKind::Series)
        .unwrap()
        .id;
    let (s, dev) = post(
        app,
        "/api/v1/devices",
        token,
        json!({"name": "TV", "kind": "tv"}),
    )
    .await;
    assert!(s == 201 || s == 200, "{dev}");
    let dev = dev["id"].as_i64().unwrap();
    for ep in app.store().series_episodes(series).await.unwrap() {
        let (s, st) = post(
            app,
            "/api/v1/playback/start",
            token,
            json!({"title_id": ep, "device_id": dev}),
        )
        .await;
        assert_eq!(s, 201, "{st}");
        let session = st["play_session_id"].as_i64().unwrap();
        let end = st["duration_ms"].as_i64().unwrap() - 1000;
        let (s, v) = post(app, "/api/v1/playback/progress", token, json!({"play_session_id": session, "position_ms": end, "paused": false, "sent_at": now})).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = post(
            app,
            "/api/v1/playback/stop",
            token,
            json!({"play_session_id": session}),
        )
        .await;
        assert!(s == 200 || s == 204, "{s} {v}");
    }
    series
}

#[tokio::test]
async fn finishing_a_series_earns_a_perk_and_the_overview_shows_the_cost() {
    let app = TestApp::builder().demo().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let rule = json!({
        "name": "Binge finisher",
        "trigger": {"kind": "series_finished"},
        "effect": {"kind": "credit", "amount_cents": 300, "message": "Popcorn is on us."},
        "budget": {"global": {"max_cents": 10000}, "per_profile": {"max_awards": 1, "period_days": 30}}
    });
    assert_eq!(
        post(&app, "/api/v1/staff/perks/rules", &admin, rule)
            .await
            .0,
        201
    );
    let viewer = app.signup("binger@example.com").await;
    let now = marquee_domain::SystemClock.now_ms();
    // Marking episodes played by hand is no proof of watching.
    let cheat = app.signup("cheat@example.com").await;
    let hits = app
        .store()
        .search_titles("Tiny Planet Shorts", 5, &Default::default())
        .await
        .unwrap();
    let series = hits
        .iter()
        .find(|t| t.kind == marquee_domain::TitleKind::Series)
        .unwrap()
        .id;
    let (s, v) = call(
        &app,
        Method::POST,
        &format!("/api/v1/playback/titles/{series}/played"),
        &cheat,
        None,
    )
    .await;
    assert!(s == 200 || s == 204, "{s} {v}");
    finish_series(&app, &viewer, "Tiny Planet Shorts", now).await;
    pass(&app).await;
    let mine = my_perks(&app, &viewer).await;
    assert_eq!(mine["credit_cents"], 300, "{mine}");
    assert_eq!(mine["awards"][0]["reason"], "series_finished");
    assert_eq!(mine["awards"][0]["revealed_at"], Value::Null);
    assert_eq!(my_perks(&app, &cheat).await["awards"], json!([]));
    // Reveal.
    let id = mine["awards"][0]["id"].as_i64().unwrap();
    let (s, a) = post(
        &app,
        &format!("/api/v1/me/perks/{id}/reveal"),
        &viewer,
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(a["revealed_at"].is_i64());
    let (s, _) = post(
        &app,
        &format!("/api/v1/me/perks/{id}/reveal"),
        &cheat,
        json!({}),
    )
    .await;
    assert_eq!(s, 404);
    // The overview: perk spend, viewing trends.
    let o = get(&app, "/api/v1/staff/overview", &admin).await;
    assert_eq!(o["perks"]["window_cents"], 300, "{o}");
    assert_eq!(o["viewing"]["plays"], 3);
    assert_eq!(o["viewing"]["completed"], 3);
    assert_eq!(o["viewing"]["top"][0]["title_id"], series);
    let html = app.get("/staff", Some(&admin)).await.text().await.unwrap();
    assert!(html.contains("id=\"ov-perk-spend\">$3.00<"), "{html}");
    assert!(html.contains(&format!("href=\"/titles/{series}\"")));
}

#[tokio::test]
async fn browser_viewer_finishes_series_sees_perk_staff_see_cost_live() {
    use crate::browser::{browser, start_driver, wait_for, wait_text};
    use fantoccini::Locator;
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::builder().demo().start().await;
    let admin = app.login_as("boss@example.com", Role::Admin).await;
    let rule = json!({
        "name": "Binge finisher",
        "trigger": {"kind": "series_finished"},
        "effect": {"kind": "credit", "amount_cents": 300, "message": "Popcorn is on us."},
        "budget": {"global": {"max_cents": 10000}, "per_profile": {"max_awards": 1, "period_days": 30}}
    });
    assert_eq!(
        post(&app, "/api/v1/staff/perks/rules", &admin, rule)
            .await
            .0,
        201
    );
    let viewer = app.signup("fan@example.com").await;
    let c = browser(&driver).await;
    let run = async {
        // Staff watch the overview: nothing spent yet.
        crate::browser::log_in(&c, &app, "boss@example.com", PASSWORD).await;
        crate::browser::wait_for(&c, "#nav-perks").await;
        c.goto(&app.url("/staff")).await.unwrap();
        wait_text(&c, "#ov-perk-spend", |t| t == "$0.00").await;
        wait_for(&c, "#live-status.on").await;
        // The viewer finishes the sample series (playback API); the
        // background evaluator gives the perk; the overview updates live.
        finish_series(
            &app,
            &viewer,
            "Tiny Planet Shorts",
            marquee_domain::SystemClock.now_ms(),
        )
        .await;
        wait_text(&c, "#ov-perk-spend", |t| t == "$3.00").await;
        wait_text(&c, "#ov-perks", |t| t.contains("Binge finisher")).await;
        // The viewer opens "My perks": a wrapped surprise, then the reveal.
        c.find(Locator::Css("header form.inline button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, "#nav-login").await;
        crate::browser::log_in(&c, &app, "fan@example.com", PASSWORD).await;
        crate::browser::wait_for(&c, "#nav-perks").await;
        c.find(Locator::Css("#nav-perks"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for(&c, ".perk.wrapped button.reveal")
            .await
            .click()
            .await
            .unwrap();
        let headline = wait_text(&c, ".perk.open .headline", |t| !t.is_empty()).await;
        assert_eq!(headline, "$3.00 credit");
        wait_text(&c, ".perk.open .message", |t| t == "Popcorn is on us.").await;
        // Revealed for good: a reload shows it open, and the credit.
        c.refresh().await.unwrap();
        wait_text(&c, "#credit", |t| t == "$3.00").await;
        assert!(c.find(Locator::Css(".perk.wrapped")).await.is_err());
    };
    run.await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn triggers_from_own_data_anniversary_and_idea_launched() {
    let clock = Arc::new(ManualClock::new(T0));
    let app = app_at(clock.clone()).await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    for (name, trigger) in [
        (
            "Happy anniversary",
            json!({"kind": "anniversary", "years": 1}),
        ),
        ("Your idea shipped", json!({"kind": "idea_launched"})),
    ] {
        let rule = json!({
            "name": name, "trigger": trigger,
            "effect": {"kind": "badge", "badge": name, "cost_cents": 0},
            "budget": {"global": {"max_awards": 10}, "per_profile": {"max_awards": 1, "period_days": 365}}
        });
        assert_eq!(
            post(&app, "/api/v1/staff/perks/rules", &admin, rule)
                .await
                .0,
            201
        );
    }
    let v = app.signup("old@example.com").await;
    let (s, idea) = post(
        &app,
        "/api/v1/ideas",
        &v,
        json!({"title": "Offline downloads on the TV"}),
    )
    .await;
    assert_eq!(s, 201, "{idea}");
    pass(&app).await;
    assert_eq!(my_perks(&app, &v).await["awards"], json!([]));
    // The idea launches: its author gets the badge (once, whatever the replays).
    let id = idea["id"].as_i64().unwrap();
    let (s, r) = post(
        &app,
        &format!("/api/v1/ideas/{id}/status"),
        &admin,
        json!({"status": "launched", "explanation": "Shipped today"}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    pass(&app).await;
    pass(&app).await;
    let awards = my_perks(&app, &v).await["awards"].clone();
    assert_eq!(awards.as_array().unwrap().len(), 1, "{awards}");
    assert_eq!(awards[0]["reason"], "idea_launched");
    // A day short of a year: nothing; a year on: the anniversary badge.
    clock.advance(364 * DAY_MS);
    pass(&app).await;
    assert_eq!(
        my_perks(&app, &v).await["awards"].as_array().unwrap().len(),
        1
    );
    clock.advance(2 * DAY_MS);
    pass(&app).await;
    let awards = my_perks(&app, &v).await["awards"].clone();
    assert_eq!(awards.as_array().unwrap().len(), 2, "{awards}");
    assert_eq!(awards[0]["reason"], "anniversary");
    assert_eq!(awards[0]["badge"], "Happy anniversary");
}

#[tokio::test]
async fn pages_signup_with_referral_staff_forms_and_reveal() {
    use crate::pages::{csrf_in, Browser};
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let alice = app.signup("alice@example.com").await;
    let (_, on) = call(
        &app,
        Method::PUT,
        "/api/v1/me/sharing",
        &alice,
        Some(json!({"enabled": true})),
    )
    .await;
    let code = on["referral_code"].as_str().unwrap().to_string();
    // Sign up through the page from a share link's code.
    let mut b = Browser::new(&app);
    let (s, html) = b.get(&format!("/signup?ref={code}")).await;
    assert_eq!(s, 200);
    assert!(html.contains(&format!("name=\"ref_code\" value=\"{code}\"")));
    let csrf = csrf_in(&html);
    let (s, _, _) = b
        .post(
            "/signup",
            &[
                ("csrf", &csrf),
                ("email", "bob@example.com"),
                ("password", PASSWORD),
                ("ref_code", &code),
            ],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(
        get(&app, "/api/v1/me/sharing", &alice).await["converted"],
        1
    );

    // A custom rule and event for Bob; he reveals it without JavaScript.
    let rule = custom_rule("welcome", 0, 150, 1000);
    assert_eq!(
        post(&app, "/api/v1/staff/perks/rules", &admin, rule)
            .await
            .0,
        201
    );
    let bob_id = app
        .store()
        .credentials("bob@example.com")
        .await
        .unwrap()
        .unwrap()
        .account
        .id;
    assert_eq!(
        custom_event(&app, &admin, bob_id, "welcome", "w-1", None)
            .await
            .0,
        201
    );
    pass(&app).await;
    let (s, html) = b.get("/perks").await;
    assert_eq!(s, 200);
    assert!(html.contains("A surprise for you"));
    assert!(!html.contains("$1.50 credit"));
    let i = html.find("action=\"/perks/").unwrap() + 15;
    let id: String = html[i..].chars().take_while(char::is_ascii_digit).collect();
    let csrf = csrf_in(&html);
    let (s, _, _) = b
        .post(&format!("/perks/{id}/reveal"), &[("csrf", "forged")])
        .await;
    assert_eq!(s, 403);
    let (s, loc, _) = b
        .post(&format!("/perks/{id}/reveal"), &[("csrf", &csrf)])
        .await;
    assert_eq!((s, loc.as_deref()), (303, Some("/perks")));
    let (_, html) = b.get("/perks").await;
    assert!(html.contains("$1.50 credit"));
    assert!(html.contains("id=\"credit\">$1.50<"));

    // Staff forms: a bad rule shows the field; a decision is recorded.
    let mut s_b = Browser::new(&app);
    let (_, html) = s_b.get("/login").await;
    let csrf = csrf_in(&html);
    let (s, _, _) = s_b
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", "admin@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(s, 303);
    let (s, html) = s_b.get("/staff/perks").await;
    assert_eq!(s, 200);
    let csrf = csrf_in(&html);
    let bad = r#"{"name": "x", "trigger": {"kind": "custom", "name": "x"}, "effect": {"kind": "badge", "badge": "B"}}"#;
    let (s, _, html) = s_b
        .post("/staff/perks", &[("csrf", &csrf), ("rule", bad)])
        .await;
    assert_eq!(s, 400);
    assert!(html.contains("budget: no budget set"), "{html}");
    let (s, _, html) = s_b
        .post(
            "/staff/perks/dry-run",
            &[
                ("csrf", &csrf),
                ("rule", &custom_rule("welcome", 0, 150, 1000).to_string()),
            ],
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        html.contains("reward <strong>1 profile</strong> with <strong>1 perk</strong>"),
        "{html}"
    );

    // The builder: controls in, a rule in words and its JSON export out;
    // mistakes named by the control, in words; saving stores what was built.
    let page = s_b.get("/staff/perks").await.1;
    assert!(page.contains("id=\"rule-builder\"") && page.contains("A profile finishes a series"));
    let built = |amount: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "Welcome gift".to_string()),
            ("trigger", "custom".to_string()),
            ("event_name", "welcome_gift".to_string()),
            ("c1_field", "tenure_days".to_string()),
            ("c1_op", "gte".to_string()),
            ("c1_value", "0".to_string()),
            ("c2_field", String::new()),
            ("effect", "credit".to_string()),
            ("amount", amount.to_string()),
            ("budget_total", "$20".to_string()),
            ("per_profile", "1".to_string()),
            ("period_days", "30".to_string()),
        ]
    };
    let form = |v: &Vec<(&'static str, String)>| {
        v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()
    };
    let fields = form(&built("1.50"));
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, _, html) = s_b.post("/staff/perks/dry-run", &refs).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("When the custom event “welcome_gift” arrives, if days since sign-up at least 0, give $1.50 credit."),
        "{html}"
    );
    assert!(
        html.contains("&#34;amount_cents&#34;: 150") || html.contains("\"amount_cents\": 150"),
        "{html}"
    );
    let fields = form(&built("lots"));
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, _, html) = s_b.post("/staff/perks", &refs).await;
    assert_eq!(s, 400);
    assert!(
        html.contains("Credit amount: an amount in dollars"),
        "{html}"
    );
    assert!(
        html.contains("value=\"lots\""),
        "the form keeps what was typed"
    );
    let mut fields = form(&built("2"));
    fields.retain(|(k, _)| *k != "per_profile");
    fields.push(("per_profile", "0".into()));
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, _, html) = s_b.post("/staff/perks", &refs).await;
    assert_eq!(s, 400);
    assert!(
        html.contains("Perks per profile:"),
        "validation names the control: {html}"
    );
    let before = get(&app, "/api/v1/staff/perks/rules", &admin).await;
    let fields = form(&built("2"));
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, loc, _) = s_b.post("/staff/perks", &refs).await;
    assert_eq!(
        (s, loc.as_deref()),
        (303, Some("/staff/perks?ok=rule_saved"))
    );
    let after = get(&app, "/api/v1/staff/perks/rules", &admin).await;
    let rules = after.as_array().unwrap();
    assert_eq!(rules.len(), before.as_array().unwrap().len() + 1);
    let saved = rules
        .iter()
        .find(|r| r["spec"]["name"] == "Welcome gift")
        .unwrap_or_else(|| panic!("{after}"));
    assert_eq!(saved["spec"]["effect"]["amount_cents"], 200);
    assert_eq!(saved["spec"]["budget"]["global"]["max_cents"], 2000);
    assert_eq!(saved["spec"]["trigger"]["name"], "welcome_gift");
    // The audit trail says who did what, in words.
    let page = s_b.get("/staff/perks").await.1;
    assert!(
        page.contains("admin@example.com created the rule “Welcome gift”"),
        "{page}"
    );
    let (s, idea) = post(
        &app,
        "/api/v1/ideas",
        &alice,
        json!({"title": "Bring back the queue"}),
    )
    .await;
    assert_eq!(s, 201);
    let evidence = format!("idea {}", idea["id"]);
    let (s, loc, _) = s_b
        .post(
            "/staff/decisions",
            &[
                ("csrf", &csrf),
                ("title", "The queue is back"),
                ("body", "Because <you> asked."),
                ("evidence", &evidence),
            ],
        )
        .await;
    assert_eq!(s, 303, "{loc:?}");
    let (_, html) = b.get("/changelog").await;
    assert!(html.contains("The queue is back"));
    assert!(html.contains("Because &#60;you&#62; asked."));
    let (s, _, html) = s_b
        .post(
            "/staff/decisions",
            &[
                ("csrf", &csrf),
                ("title", "T"),
                ("body", "B"),
                ("evidence", "ticket 4"),
            ],
        )
        .await;
    assert_eq!(s, 400);
    assert!(html.contains("evidence:"));

    // Pausing a rule: no more perks from it until resumed.
    let rule_id = get(&app, "/api/v1/staff/perks/rules", &admin).await[0]["id"]
        .as_i64()
        .unwrap();
    let (s, loc, _) = s_b
        .post(
            &format!("/staff/perks/{rule_id}/enabled"),
            &[("csrf", &csrf), ("enabled", "off")],
        )
        .await;
    assert_eq!(
        (s, loc),
        (
            303,
            Some(format!("/staff/perks?ok=rule_off#rule-{rule_id}"))
        )
    );
    assert_eq!(
        get(
            &app,
            &format!("/api/v1/staff/perks/rules/{rule_id}"),
            &admin
        )
        .await["spec"]["enabled"],
        false
    );
    let carol = app.signup("carol@example.com").await;
    let carol_id = account_id(&app, &carol).await;
    custom_event(&app, &admin, carol_id, "welcome", "w-2", None).await;
    pass(&app).await;
    assert_eq!(my_perks(&app, &carol).await["awards"], json!([]));
}

/// Opens a support conversation as the customer; its id.
async fn open_support(app: &TestApp, token: &str, body: &str) -> i64 {
    let (s, v) = post(
        app,
        "/api/v1/support/conversations",
        token,
        json!({ "body": body }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["conversation"]["id"].as_i64().unwrap()
}

async fn support_status(app: &TestApp, staff: &str, id: i64, status: &str) {
    let (s, v) = call(
        app,
        Method::PATCH,
        &format!("/api/v1/staff/support/conversations/{id}"),
        staff,
        Some(json!({ "status": status })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

async fn support_reply(app: &TestApp, staff: &str, id: i64) {
    let (s, v) = post(
        app,
        &format!("/api/v1/staff/support/conversations/{id}/messages"),
        staff,
        json!({"body": "on it"}),
    )
    .await;
    assert!(s == 200 || s == 201, "{v}");
}

async fn rate(app: &TestApp, token: &str, id: i64, score: i64) -> u16 {
    post(
        app,
        &format!("/api/v1/support/conversations/{id}/csat"),
        token,
        json!({ "score": score }),
    )
    .await
    .0
}

#[tokio::test]
async fn csat_one_through_support_earns_one_recovery_per_resolution() {
    let clock = Arc::new(ManualClock::new(T0));
    let app = app_at(clock.clone()).await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let sad = app.signup("sad@example.com").await;
    let happy = app.signup("happy@example.com").await;
    let rule = json!({
        "name": "Sorry",
        "trigger": {"kind": "support_recovery"},
        "effect": {"kind": "message", "message": "We're sorry.", "cost_cents": 500},
        "budget": {"global": {"max_awards": 100}, "per_profile": {"max_awards": 5, "period_days": 90}}
    });
    assert_eq!(
        post(&app, "/api/v1/staff/perks/rules", &admin, rule)
            .await
            .0,
        201
    );
    let bad = open_support(&app, &sad, "It keeps buffering").await;
    let good = open_support(&app, &happy, "How do I add a profile?").await;
    for id in [bad, good] {
        support_reply(&app, &admin, id).await;
        support_status(&app, &admin, id, "resolved").await;
    }
    assert_eq!(rate(&app, &sad, bad, 1).await, 201);
    assert_eq!(rate(&app, &happy, good, 5).await, 201);
    // Rating the same resolution again is refused and pays nothing more.
    assert_ne!(rate(&app, &sad, bad, 2).await, 201);
    pass(&app).await;
    pass(&app).await;
    let mine = my_perks(&app, &sad).await;
    let awards = mine["awards"].as_array().unwrap();
    assert_eq!(awards.len(), 1, "{mine}");
    assert_eq!(awards[0]["reason"], "support_recovery");
    assert!(my_perks(&app, &happy).await["awards"]
        .as_array()
        .unwrap()
        .is_empty());
    // A second resolution rated 1 is a new recovery.
    post(
        &app,
        &format!("/api/v1/support/conversations/{bad}/messages"),
        &sad,
        json!({"body": "Still buffering"}),
    )
    .await;
    support_reply(&app, &admin, bad).await;
    support_status(&app, &admin, bad, "resolved").await;
    assert_eq!(rate(&app, &sad, bad, 1).await, 201);
    pass(&app).await;
    assert_eq!(
        my_perks(&app, &sad).await["awards"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn sla_breach_earns_a_recovery_once_even_with_a_low_csat() {
    let clock = Arc::new(ManualClock::new(T0));
    let app = app_at(clock.clone()).await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let waiting = app.signup("waiting@example.com").await;
    let rule = json!({
        "name": "Sorry",
        "trigger": {"kind": "support_recovery"},
        "effect": {"kind": "message", "message": "We're sorry.", "cost_cents": 500},
        "budget": {"global": {"max_awards": 100}, "per_profile": {"max_awards": 5, "period_days": 90}}
    });
    post(&app, "/api/v1/staff/perks/rules", &admin, rule).await;
    let id = open_support(&app, &waiting, "Hello?").await;
    pass(&app).await;
    assert!(my_perks(&app, &waiting).await["awards"]
        .as_array()
        .unwrap()
        .is_empty());
    // Nobody answers for three hours: the first-reply SLA is breached.
    clock.advance(3 * 3_600_000);
    pass(&app).await;
    assert_eq!(
        my_perks(&app, &waiting).await["awards"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Resolved and rated 1: the same resolution, no second recovery.
    support_reply(&app, &admin, id).await;
    support_status(&app, &admin, id, "resolved").await;
    assert_eq!(rate(&app, &waiting, id, 1).await, 201);
    clock.advance(120_000);
    pass(&app).await;
    pass(&app).await;
    assert_eq!(
        my_perks(&app, &waiting).await["awards"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn overview_support_tile_on_a_known_set_of_conversations() {
    let clock = Arc::new(ManualClock::new(T0));
    let app = app_at(clock.clone()).await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let jane = app.signup("jane@example.com").await;
    let joe = app.signup("joe@example.com").await;
    // Older than 30 days: rated 5, left out of the figures.
    let old = open_support(&app, &jane, "old").await;
    support_reply(&app, &admin, old).await;
    support_status(&app, &admin, old, "resolved").await;
    assert_eq!(rate(&app, &jane, old, 5).await, 201);
    clock.advance(31 * DAY_MS);
    // a: answered after 2 min, resolved at 10 min, rated 4 (both SLAs met).
    let a = open_support(&app, &jane, "one").await;
    clock.advance(120_000);
    support_reply(&app, &admin, a).await;
    clock.advance(480_000);
    support_status(&app, &admin, a, "resolved").await;
    assert_eq!(rate(&app, &jane, a, 4).await, 201);
    // b: answered after 90 min (first reply breached), still unresolved.
    let b = open_support(&app, &joe, "two").await;
    clock.advance(90 * 60_000);
    support_reply(&app, &admin, b).await;
    // c: answered and resolved at once, rated 1 (both met).
    let c = open_support(&app, &joe, "three").await;
    support_reply(&app, &admin, c).await;
    support_status(&app, &admin, c, "resolved").await;
    assert_eq!(rate(&app, &joe, c, 1).await, 201);
    // d: just opened.
    let d = open_support(&app, &joe, "four").await;

    let o = get(&app, "/api/v1/staff/overview", &admin).await;
    let s = &o["support"];
    assert_eq!(s["conversations"], 4, "{s}");
    assert_eq!(s["csat_count"], 2);
    assert_eq!(s["csat_avg"], 2.5);
    assert_eq!(s["csat_positive_rate"], 0.5);
    // Verdicts: a 2 met, b 1 breached, c 2 met, d none yet.
    assert_eq!(s["sla_met_rate"], 0.8);
    // The metrics report over the same window agrees.
    let since = s["since"].as_i64().unwrap();
    let m = get(
        &app,
        &format!(
            "/api/v1/staff/support/metrics?from={since}&to={}",
            clock.now_ms() + 1
        ),
        &admin,
    )
    .await;
    assert_eq!(m["overall"]["sla_met_rate"], s["sla_met_rate"], "{m}");
    assert_eq!(m["overall"]["csat_avg"], s["csat_avg"]);
    // The load now: b and d are unresolved and open; only d is unassigned.
    assert_eq!(
        (s["open"].clone(), s["unassigned"].clone()),
        (json!(2), json!(1)),
        "{s}"
    );
    let _ = (old, a, b, c, d);
    // The tile draws the figures and drills down.
    let html = app.get("/staff", Some(&admin)).await.text().await.unwrap();
    assert!(html.contains("id=\"ov-support\""), "{html}");
    assert!(html.contains("SLA met: 80 %"));
    assert!(html.contains("CSAT 2.50 / 5"));
    assert!(html.contains("href=\"/staff/support/metrics\""));
    assert!(html.contains("href=\"/staff/support\""));
}

#[tokio::test]
async fn decisions_take_support_conversations_as_evidence() {
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let asker = app.signup("asker@example.com").await;
    let bystander = app.signup("bystander@example.com").await;
    let conv = open_support(&app, &asker, "Please bring back offline downloads").await;
    let (s, _, f) = error_of(
        app.post_json(
            "/api/v1/staff/decisions",
            Some(&admin),
            &json!({"title": "X", "body": "Y", "evidence": [{"kind": "conversation", "id": conv + 99}]}),
        )
        .await,
    )
    .await;
    assert_eq!((s, f.as_deref()), (400, Some("evidence")));
    let (s, d) = post(
        &app,
        "/api/v1/staff/decisions",
        &admin,
        json!({"title": "Offline downloads are back", "body": "You asked.", "evidence": [{"kind": "conversation", "id": conv}]}),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["notified"], 1);
    assert_eq!(d["evidence"][0]["kind"], "conversation");
    assert_eq!(d["evidence"][0]["label"], "asker@example.com");
    for (t, expect) in [(&asker, true), (&bystander, false)] {
        let n = get(&app, "/api/v1/notifications", t).await;
        assert_eq!(
            n.to_string()
                .contains("We heard you: Offline downloads are back"),
            expect,
            "{n}"
        );
    }
    // The staff page: a form decision with "conversation N", linked back.
    use crate::pages::{csrf_in, Browser};
    let mut b = Browser::new(&app);
    let (_, html) = b.get("/login").await;
    let csrf = csrf_in(&html);
    b.post(
        "/login",
        &[
            ("csrf", &csrf),
            ("email", "admin@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let (_, html) = b.get("/staff/decisions").await;
    let csrf = csrf_in(&html);
    let evidence = format!("conversation {conv}");
    let (s, loc, _) = b
        .post(
            "/staff/decisions",
            &[
                ("csrf", &csrf),
                ("title", "Downloads last longer"),
                ("body", "Also from your chats."),
                ("evidence", &evidence),
            ],
        )
        .await;
    assert_eq!(s, 303, "{loc:?}");
    let (_, html) = b.get("/staff/decisions").await;
    assert!(
        html.contains(&format!("href=\"/staff/support/conversations/{conv}\"")),
        "{html}"
    );
    let n = get(&app, "/api/v1/notifications", &asker).await;
    assert!(
        n.to_string()
            .contains("We heard you: Downloads last longer"),
        "{n}"
    );
    // The public changelog does not expose the conversation.
    let html = app.get("/changelog", None).await.text().await.unwrap();
    assert!(html.contains("Downloads last longer"));
    assert!(!html.contains("asker@example.com"));
}
