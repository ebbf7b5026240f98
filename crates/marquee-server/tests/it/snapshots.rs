//! Snapshots (insta) of the main pages and API bodies, as the right roles.
//! Volatile parts (times, tokens, CSRF values, ports) are redacted so that the
//! same snapshots hold on SQLite and PostgreSQL. `.ci/run` sets `CI=true` and
//! `INSTA_UPDATE=no`: a stale snapshot fails the test instead of being
//! rewritten. After a deliberate change, review and update the `.snap` files
//! (`INSTA_UPDATE=always cargo test -p marquee-server --test it snapshots`).

use crate::helpers::{get, post, TestApp};
use crate::home::demo_login;
use insta::Settings;
use marquee_domain::{ManualClock, Role};
use serde_json::{json, Value};
use std::sync::Arc;

/// 2026-05-28, a fixed "now" for the tests that create data.
const T0: i64 = 1_780_000_000_000;

/// Filters for HTML: CSRF tokens, session-bound values, ports, times.
fn html_settings() -> Settings {
    let mut s = Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(
        r#"name="csrf" value="[^"]*""#,
        r#"name="csrf" value="[csrf]""#,
    );
    s.add_filter(r#"content="[A-Za-z0-9_-]{20,}""#, r#"content="[token]""#);
    s.add_filter(r#"data-csrf="[^"]*""#, r#"data-csrf="[csrf]""#);
    s.add_filter(r#""X-CSRF-Token": "[^"]*""#, r#""X-CSRF-Token": "[csrf]""#);
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]");
    s.add_filter(
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?",
        "[time]",
    );
    // Times as pages show them (format::fmt_time, chart labels).
    s.add_filter(
        r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}",
        "[time]",
    );
    s
}

/// Redactions for JSON: times and tokens.
fn json_settings() -> Settings {
    let mut s = Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_sort_maps(true);
    for key in [
        "created_at",
        "updated_at",
        "at",
        "last_activity_at",
        "token",
        "csrf",
    ] {
        s.add_redaction(&format!(".**.{key}"), format!("[{key}]"));
    }
    s
}

async fn page(app: &TestApp, path: &str, token: &str) -> String {
    let r = app.get(path, Some(token)).await;
    assert_eq!(r.status(), 200, "GET {path}");
    r.text().await.unwrap()
}

#[tokio::test]
async fn catalog_api_and_pages() {
    let app = TestApp::builder().demo().start().await;
    let (token, pid) = demo_login(&app, 1).await;
    let list = get(&app, "/api/v1/titles?limit=5", &token).await;
    let detail = get(&app, "/api/v1/titles/1", &token).await;
    let home = get(&app, &format!("/api/v1/profiles/{pid}/home"), &token).await;
    json_settings().bind(|| {
        insta::assert_json_snapshot!("api_titles_list", list);
        insta::assert_json_snapshot!("api_title_detail", detail);
        insta::assert_json_snapshot!("api_home_rows", home);
    });
    let title = page(&app, "/titles/1", &token).await;
    let home = page(&app, "/", &token).await;
    html_settings().bind(|| {
        insta::assert_snapshot!("page_title", title);
        insta::assert_snapshot!("page_home", home);
    });
}

#[tokio::test]
async fn ideas_api_and_page() {
    let app = TestApp::builder()
        .clock(Arc::new(ManualClock::new(T0)))
        .start()
        .await;
    let ann = app.login_as("ann@example.com", Role::Viewer).await;
    let bob = app.login_as("bob@example.com", Role::Viewer).await;
    for (who, title) in [
        (&ann, "Offline downloads"),
        (&bob, "A dark theme for the player"),
    ] {
        let (s, v) = post(
            &app,
            "/api/v1/ideas",
            who,
            json!({"title": title, "description": "Please, **soon**.", "tags": ["player"]}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    let list: Value = get(&app, "/api/v1/ideas", &ann).await;
    json_settings().bind(|| insta::assert_json_snapshot!("api_ideas_list", list));
    let html = page(&app, "/ideas", &ann).await;
    html_settings().bind(|| insta::assert_snapshot!("page_ideas", html));
}

#[tokio::test]
async fn staff_pages() {
    let app = TestApp::builder()
        .clock(Arc::new(ManualClock::new(T0)))
        .start()
        .await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let support = page(&app, "/staff/support", &agent).await;
    let listening = page(&app, "/listening", &agent).await;
    html_settings().bind(|| {
        insta::assert_snapshot!("page_staff_support", support);
        insta::assert_snapshot!("page_listening", listening);
    });
}
