//! Privacy: "Export my data" holds the account's rows and no other
//! account's; "Delete my account" asks for the password again and leaves
//! no personal data anywhere in the database (every text column of every
//! table is read back through sqlx), while another account's data stays.

use crate::helpers::*;
use marquee_domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

/// One customer with something in every feature; its words all carry
/// `tag` so that a scan can find them.
struct Customer {
    token: String,
    id: i64,
    email: String,
    /// Texts the customer wrote (and names it chose).
    texts: Vec<String>,
    idea: i64,
    conversation: i64,
}

async fn customer(app: &TestApp, tag: &str, title: i64) -> Customer {
    let email = format!("{tag}@example.com");
    let token = app.signup(&email).await;
    let id = account_id(app, &token).await;
    let me = get(app, "/api/v1/me", &token).await;
    let profile = me["current_profile_id"].as_i64().unwrap();
    let texts: Vec<String> = [
        "Second profile",
        "Lounge telly",
        "idea title about subtitles",
        "idea description with details",
        "a comment on the other idea",
        "help my stream stutters",
        "too pricey for me",
    ]
    .iter()
    .map(|t| format!("{tag} {t}"))
    .collect();
    let (s, v) = post(app, "/api/v1/profiles", &token, json!({"name": texts[0]})).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = post(
        app,
        "/api/v1/devices",
        &token,
        json!({"name": texts[1], "kind": "tv"}),
    )
    .await;
    assert!(s == 201 || s == 200, "{v}");
    let device = v["id"].as_i64().unwrap();
    let (s, v) = post(
        app,
        "/api/v1/playback/start",
        &token,
        json!({"title_id": title, "device_id": device}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = post(
        app,
        "/api/v1/feedback",
        &token,
        json!({"profile_id": profile, "items": [{"title_id": title, "action": "up"}]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = post(
        app,
        "/api/v1/ideas",
        &token,
        json!({"title": texts[2], "description": texts[3], "tags": []}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let idea = v["id"].as_i64().unwrap();
    let (s, v) = post(
        app,
        "/api/v1/support/conversations",
        &token,
        json!({"body": texts[5]}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let conversation = v["conversation"]["id"].as_i64().unwrap();
    let (s, v) = post(
        app,
        "/api/v1/account/cancel",
        &token,
        json!({"reason": "price", "detail": texts[6]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    Customer {
        token,
        id,
        email,
        texts,
        idea,
        conversation,
    }
}

/// `who` votes for and comments on `idea`.
async fn take_part(app: &TestApp, who: &Customer, idea: i64) {
    let (s, v) = call(
        app,
        Method::PUT,
        &format!("/api/v1/ideas/{idea}/vote"),
        &who.token,
        None,
    )
    .await;
    assert!(s == 200 || s == 201, "{s} {v}");
    let (s, v) = post(
        app,
        &format!("/api/v1/ideas/{idea}/comments"),
        &who.token,
        json!({"body": who.texts[4]}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

/// Two customers who voted for and commented on each other's ideas.
async fn two_customers(app: &TestApp) -> (Customer, Customer) {
    let title = app.add_title("Harbour Lights").await;
    let a = customer(app, "mallorqx", title).await;
    let b = customer(app, "bobbinsqy", title).await;
    take_part(app, &a, b.idea).await;
    take_part(app, &b, a.idea).await;
    (a, b)
}

#[tokio::test]
async fn export_holds_the_accounts_rows_and_no_one_elses() {
    let app = TestApp::builder().start().await;
    let (a, b) = two_customers(&app).await;
    let r = app.get("/api/v1/account/export", Some(&a.token)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-disposition"].to_str().unwrap(),
        format!("attachment; filename=\"marquee-export-{}.json\"", a.id)
    );
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["account"]["email"], a.email.as_str());
    assert!(v["account"].get("password_hash").is_none(), "{text}");
    assert!(!text.contains("argon2"), "no hash in the export");
    for t in &a.texts {
        assert!(text.contains(t.as_str()), "{t} missing from the export");
    }
    let s = &v["sections"];
    for (section, at_least) in [
        ("profiles", 2),
        ("sessions", 1),
        ("devices", 1),
        ("play_sessions", 1),
        ("feedback", 1),
        ("ideas", 1),
        ("idea_votes", 1),
        ("idea_comments", 1),
        ("support_conversations", 1),
        ("support_messages", 1),
        ("account_events", 2),
    ] {
        let n = s[section].as_array().map_or(0, Vec::len);
        assert!(n >= at_least, "{section}: {n} rows in {text}");
    }
    assert!(s["sessions"][0].get("token_hash").is_none());
    assert_eq!(s["idea_comments"][0]["idea_id"], b.idea);
    // Nothing of the other account: its address, names and words.
    assert!(!text.contains("bobbinsqy"), "{text}");
    for t in &b.texts {
        assert!(!text.contains(t.as_str()), "{t} leaked into the export");
    }
    // Signed in only.
    let (s, _, _) = error_of(app.get("/api/v1/account/export", None).await).await;
    assert_eq!(s, 401);
}

/// Every text value in every table of the app's database.
async fn all_text(app: &TestApp) -> Vec<(String, String)> {
    use sqlx::{Column, Row};
    let url = app.state.config.database_url();
    let mut out = Vec::new();
    if url.starts_with("postgres") {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(tables.len() > 40, "{tables:?}");
        for t in tables {
            for row in sqlx::query(&format!("SELECT * FROM \"{t}\""))
                .fetch_all(&pool)
                .await
                .unwrap()
            {
                for (i, c) in row.columns().iter().enumerate() {
                    if let Ok(Some(s)) = row.try_get::<Option<String>, _>(i) {
                        out.push((format!("{t}.{}", c.name()), s));
                    }
                }
            }
        }
        pool.close().await;
    } else {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert!(tables.len() > 40, "{tables:?}");
        for t in tables {
            for row in sqlx::query(&format!("SELECT * FROM \"{t}\""))
                .fetch_all(&pool)
                .await
                .unwrap()
            {
                for (i, c) in row.columns().iter().enumerate() {
                    if let Ok(Some(s)) = row.try_get::<Option<String>, _>(i) {
                        out.push((format!("{t}.{}", c.name()), s));
                    } else if let Ok(Some(b)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                        // FTS5 segments and the like: searched as bytes.
                        out.push((
                            format!("{t}.{}", c.name()),
                            String::from_utf8_lossy(&b).into_owned(),
                        ));
                    }
                }
            }
        }
        pool.close().await;
    }
    out
}

fn found<'a>(text: &'a [(String, String)], needle: &str) -> Vec<&'a str> {
    let needle = needle.to_lowercase();
    text.iter()
        .filter(|(_, v)| v.to_lowercase().contains(&needle))
        .map(|(at, _)| at.as_str())
        .collect()
}

#[tokio::test]
async fn deletion_leaves_no_personal_data_and_keeps_the_others() {
    let app = TestApp::builder().start().await;
    let (a, b) = two_customers(&app).await;
    // A shared transcript of the customer's conversation works until then.
    let (s, v) = post(
        &app,
        &format!("/api/v1/support/conversations/{}/share", a.conversation),
        &a.token,
        json!({}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let share = v["token"].as_str().unwrap().to_string();
    let anon = reqwest::Client::new();
    let r = anon
        .get(app.url(&format!("/t/{share}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let idea = get(&app, &format!("/api/v1/ideas/{}", b.idea), &b.token).await;
    assert_eq!(
        (idea["votes"].as_i64(), idea["comment_count"].as_i64()),
        (Some(1), Some(1))
    );

    // Before: the scan finds the customer (so that it can fail).
    let before = all_text(&app).await;
    assert!(!found(&before, "mallorqx").is_empty());
    for t in &a.texts {
        assert!(!found(&before, t).is_empty(), "{t} not stored before");
    }

    let r = app
        .post_json(
            "/api/v1/account/delete",
            Some(&a.token),
            &json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["deleted"], true);
    assert_eq!(report["erased"]["accounts"], 1);
    assert_eq!(report["erased"]["profiles"], 2);
    assert_eq!(report["anonymised"]["account_events"], 2);
    assert_eq!(report["shares_revoked"], 1);

    // After: no trace of the address, the names or the words anywhere.
    let after = all_text(&app).await;
    let mut left = Vec::new();
    for needle in std::iter::once("mallorqx").chain(a.texts.iter().map(String::as_str)) {
        for at in found(&after, needle) {
            left.push(format!("{needle} in {at}"));
        }
    }
    assert!(left.is_empty(), "personal data left: {left:?}");

    // The token is dead, the transcript link too.
    let (s, _, _) = error_of(app.get("/api/v1/me", Some(&a.token)).await).await;
    assert_eq!(s, 401);
    let r = anon
        .get(app.url(&format!("/t/{share}")))
        .send()
        .await
        .unwrap();
    assert!(
        r.status() == 404 || r.status() == 410,
        "shared transcript answers {}",
        r.status()
    );

    // The other customer's data is intact: address, words, own idea (less
    // the deleted customer's vote and comment), conversation, export.
    // (Its comment on the deleted customer's idea went with that idea,
    // as docs/privacy.md says.)
    for (i, t) in b.texts.iter().enumerate() {
        let gone = found(&after, t).is_empty();
        assert_eq!(gone, i == 4, "{t} of the other account");
    }
    let idea = get(&app, &format!("/api/v1/ideas/{}", b.idea), &b.token).await;
    assert_eq!(
        (idea["votes"].as_i64(), idea["comment_count"].as_i64()),
        (Some(0), Some(0)),
        "the deleted customer's vote and comment are withdrawn: {idea}"
    );
    let (s, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/ideas/{}", a.idea),
        &b.token,
        None,
    )
    .await;
    assert_eq!(s, 404, "the deleted customer's idea is removed");
    get(
        &app,
        &format!("/api/v1/support/conversations/{}", b.conversation),
        &b.token,
    )
    .await;
    let export = get(&app, "/api/v1/account/export", &b.token).await;
    assert_eq!(export["account"]["email"], b.email.as_str());
    assert_eq!(
        export["sections"]["account_events"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Subscription events stay for the counts, unlinked and without words.
    let admin = app.login_as("root@example.com", Role::Admin).await;
    let events = get(&app, "/api/v1/staff/account-events", &admin).await;
    let orphans: Vec<&Value> = events
        .as_array()
        .or_else(|| events["events"].as_array())
        .unwrap()
        .iter()
        .filter(|e| e["account_id"].is_null())
        .collect();
    assert_eq!(orphans.len(), 2, "{events}");
    assert!(orphans.iter().all(|e| e["detail"].is_null()));
    assert!(orphans
        .iter()
        .any(|e| e["kind"] == "cancelled" && e["reason"] == "price"));
    // The address is free again.
    app.signup(&a.email).await;
}

#[tokio::test]
async fn deletion_needs_the_password_a_session_and_the_form_token() {
    let app = TestApp::builder().start().await;
    let token = app.signup("keepme@example.com").await;
    // Anonymous: 401.
    let (s, _, _) = error_of(
        app.post_json(
            "/api/v1/account/delete",
            None,
            &json!({"password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 401);
    // Wrong password: 403 on `password`, nothing deleted.
    let (s, code, field) = error_of(
        app.post_json(
            "/api/v1/account/delete",
            Some(&token),
            &json!({"password": "not my password"}),
        )
        .await,
    )
    .await;
    assert_eq!((s, field.as_deref()), (403, Some("password")), "{code}");
    assert!(account_id(&app, &token).await > 0, "still there");
    // No password at all: 400 on `password`.
    let (s, _, field) = error_of(
        app.post_json("/api/v1/account/delete", Some(&token), &json!({}))
            .await,
    )
    .await;
    assert_eq!((s, field.as_deref()), (400, Some("password")));
    // Guessing is counted like the password change's check: then 429.
    let mut last = 0;
    for _ in 0..12 {
        last = app
            .post_json(
                "/api/v1/account/delete",
                Some(&token),
                &json!({"password": "guess again"}),
            )
            .await
            .status()
            .as_u16();
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "guesses are limited");
    // Staff delete no one by this route, themselves included.
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let (s, _, _) = error_of(
        app.post_json(
            "/api/v1/account/delete",
            Some(&agent),
            &json!({"password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 403);

    // The page: a form with the CSRF token; without it nothing happens.
    app.signup("pageuser@example.com").await;
    let client = browser();
    let csrf = form_token(&client, &app, "/login").await;
    let r = client
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "pageuser@example.com"),
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
    assert!(html.contains("action=\"/account/delete\""), "{html}");
    assert!(html.contains("cannot be undone"));
    assert!(html.contains("/api/v1/account/export"));
    let csrf = field_of(&html, "csrf");
    let r = client
        .post(app.url("/account/delete"))
        .form(&[("csrf", "forged"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client
        .post(app.url("/account/delete"))
        .form(&[("csrf", csrf.as_str()), ("password", "wrong one")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("password is wrong"));
    assert_eq!(
        client
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "still signed in"
    );
    let r = client
        .post(app.url("/account/delete"))
        .form(&[("csrf", csrf.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("id=\"account-deleted\""));
    assert_ne!(
        client
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "signed out"
    );
    let r = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": "pageuser@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), 401);
}
