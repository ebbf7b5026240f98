//! Hostile input (issue 11, part 4) against the real server: the fuzz
//! corpora replayed through their parsers, an XSS corpus through every page
//! that shows user or social text, CSRF on every form and every
//! cookie-authenticated API write, session fixation and cookie flags.

use crate::helpers::{get, post, TestApp, PASSWORD};
use marquee_domain::Role;
use marquee_server::{htmlcheck, Config};
use reqwest::header::{HeaderMap, COOKIE, SET_COOKIE};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[path = "../../../../fuzz/fuzz_targets/checks.rs"]
mod checks;

// ---------------------------------------------------------------------------
// Fuzz corpora, replayed without cargo-fuzz.

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

fn replay(target: &str, check: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        let r = std::panic::catch_unwind(|| check(&bytes));
        assert!(r.is_ok(), "{target}: {} fails", path.display());
    }
}

#[test]
fn fuzz_corpus_movielens() {
    replay("movielens", checks::movielens);
}

#[test]
fn fuzz_corpus_posts_jsonl() {
    replay("posts_jsonl", checks::posts);
}

#[test]
fn fuzz_corpus_connector() {
    replay("connector", checks::connector);
}

#[test]
fn fuzz_corpus_markdown() {
    replay("markdown", checks::markdown);
}

#[test]
fn fuzz_corpus_config() {
    replay("config", checks::config);
}

#[test]
fn fuzz_corpus_nfo() {
    replay("nfo", checks::nfo);
}

// ---------------------------------------------------------------------------
// A cookie-keeping client that can also send raw requests.

struct Jar<'a> {
    app: &'a TestApp,
    cookies: BTreeMap<String, String>,
}

impl<'a> Jar<'a> {
    fn new(app: &'a TestApp) -> Self {
        Jar {
            app,
            cookies: BTreeMap::new(),
        }
    }

    /// A jar holding a session token as its cookie.
    fn session(app: &'a TestApp, token: &str) -> Self {
        let mut j = Jar::new(app);
        j.cookies
            .insert("marquee_session".into(), token.to_string());
        j
    }

    fn absorb(&mut self, headers: &HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
            let s = v.to_str().unwrap();
            let (k, val) = s.split(';').next().unwrap().split_once('=').unwrap();
            if val.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn request(&self, m: Method, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(m, self.app.url(path))
            .header(COOKIE, self.cookie_header())
    }

    async fn get(&mut self, path: &str) -> (u16, String) {
        let r = self.request(Method::GET, path).send().await.unwrap();
        self.absorb(r.headers());
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn send(&mut self, rb: reqwest::RequestBuilder) -> (u16, HeaderMap, String) {
        let r = rb.send().await.unwrap();
        self.absorb(r.headers());
        let h = r.headers().clone();
        (r.status().as_u16(), h, r.text().await.unwrap())
    }
}

fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("no csrf field") + 19;
    html[i..i + html[i..].find('"').unwrap()].to_string()
}

// ---------------------------------------------------------------------------
// XSS corpus.

/// Classic payloads, each short enough for a profile name (40 characters)
/// and each carrying its own marker `XSSn`.
const PAYLOADS: &[&str] = &[
    "<script>alert('XSS1')</script>",
    "<img src=x onerror=alert('XSS2')>",
    "<svg/onload=alert('XSS3')>",
    "\"><script>alert('XSS4')</script>",
    "'><img src=x onerror=alert('XSS5')>",
    "\" onmouseover=\"alert('XSS6')\" x=\"",
    "' autofocus onfocus='alert(\"XSS7\")",
    "javascript:alert('XSS8')",
    "[c](javascript:alert('XSS9'))",
    "<a href=\"jav&#x09;ascript:XSS10()\">a</a>",
    "<iframe src=javascript:alert('XSS11')>",
    "\u{ff1c}script\u{ff1e}alert('XSS12')",
    "<details open ontoggle=alert('XSS13')>",
    "</textarea><script>alert('XSS14')",
    "</title><svg onload=alert('XSS15')>",
    "<body onload=alert('XSS16')>",
    "[x](JaVaScRiPt&#58;alert('XSS17'))",
    "<scr\u{200b}ipt>alert('XSS18')</script>",
    "\u{202e}<img src=x onerror=alert('XSS19')>",
    "%3Cscript%3Ealert('XSS20')%3C/script%3E",
    "<a href=\" &#106;avascript:XSS21()\">a</a>",
    "{{7*7}}${alert('XSS22')}<!--",
    "<style>*{x:expression(XSS23)}</style>",
    "<!--<img src=--><img src=x onerror=XSS24>",
];

/// Markdown-shaped payloads for the fields rendered as Markdown.
const MD_PAYLOADS: &[&str] = &[
    "[click](javascript:alert('XSS31'))",
    "[c](&#106;avascript:alert('XSS32'))",
    "![i](javascript:alert('XSS33'))",
    "[r][1]\n\n[1]: javascript:alert('XSS34')",
    "<javascript:alert('XSS35')>",
    "`<script>` <script>alert('XSS36')</script>",
    "<a href=\"javascript:alert('XSS37')\" onclick=\"XSS37()\">x</a>",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgnWFNTMzgnKTwvc2NyaXB0Pg== \"XSS38\")",
];

fn marked(s: &str) -> bool {
    s.contains("XSS")
}

/// Active content carried in from a payload, plus raw payload spellings.
fn unescaped(html: &str) -> Vec<String> {
    let mut out: Vec<String> = htmlcheck::findings_with(html, marked)
        .into_iter()
        .map(|f| format!("<{}> {}: {}", f.tag, f.what, f.value))
        .collect();
    let lower = html.to_ascii_lowercase();
    for raw in [
        "<script>alert",
        "href=\"javascript:",
        "href='javascript:",
        "href=javascript:",
    ] {
        if lower.contains(raw) {
            out.push(format!("raw {raw}"));
        }
    }
    out
}

#[test]
fn the_xss_detector_flags_raw_payloads_and_spares_escaped_ones() {
    for p in PAYLOADS.iter().chain(MD_PAYLOADS) {
        let escaped = p
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;");
        let page = format!(
            "<html><head><script src=\"/static/htmx.min.js\"></script></head><body><p>{escaped}</p><input value=\"{escaped}\"><a href=\"/x?q={escaped}\">x</a></body></html>"
        );
        assert_eq!(unescaped(&page), Vec::<String>::new(), "{p}");
    }
    // Raw: every payload that is markup is caught, in text and in an attribute.
    let active = [0, 1, 2, 3, 4, 9, 10, 12, 13, 14, 15, 20, 23];
    for i in active {
        let p = PAYLOADS[i];
        let page = format!("<html><body><p>{p}</p></body></html>");
        assert!(!unescaped(&page).is_empty(), "not flagged in text: {p}");
    }
    for p in [PAYLOADS[5], PAYLOADS[6]] {
        let q = if p.starts_with('"') { '"' } else { '\'' };
        let page = format!("<input value={q}{p}{q}>");
        assert!(
            !unescaped(&page).is_empty(),
            "not flagged in attribute: {p}"
        );
    }
    let page = format!("<a href=\"{}\">x</a>", PAYLOADS[7]);
    assert!(!unescaped(&page).is_empty());
}

/// Fetches a page and asserts it shows a payload, and only escaped.
async fn check_page(app: &TestApp, token: Option<&str>, path: &str, seen: &mut BTreeSet<String>) {
    let r = app.get(path, token).await;
    let status = r.status().as_u16();
    let html = r.text().await.unwrap();
    assert_eq!(status, 200, "GET {path}: {html}");
    let bad = unescaped(&html);
    assert!(bad.is_empty(), "GET {path} shows unescaped input: {bad:#?}");
    // Only pages that show a payload count: a page showing none proves nothing.
    if marked(&html) {
        seen.insert(path.to_string());
    } else {
        eprintln!("GET {path} shows none of the payloads");
    }
}

/// Posts every payload to a JSON endpoint; returns how many were accepted.
/// A refusal must be a 4xx naming a field, never a 5xx.
async fn push_all(
    app: &TestApp,
    token: &str,
    path: &str,
    payloads: &[&str],
    body: impl Fn(usize, &str) -> Value,
) -> Vec<Value> {
    let mut accepted = vec![];
    for (i, p) in payloads.iter().enumerate() {
        let (s, v) = post(app, path, token, body(i, p)).await;
        assert!(s < 500, "POST {path} with {p:?}: {s} {v}");
        if (200..300).contains(&s) {
            accepted.push(v);
        } else {
            assert!(
                v["error"]["field"].is_string() || s == 429,
                "{path}: {s} {v}"
            );
        }
    }
    accepted
}

#[tokio::test]
async fn xss_corpus_through_every_page_that_shows_user_text() {
    let mut config = Config::default();
    config.ideas.ideas_per_hour = 1000;
    config.ideas.comments_per_hour = 1000;
    let app = TestApp::builder().config(config).start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    let mut seen = BTreeSet::new();
    let all: Vec<&str> = PAYLOADS.iter().chain(MD_PAYLOADS).copied().collect();

    // A catalog title named by a payload (titles come from imports).
    app.store()
        .import_titles(
            "hostile",
            &PAYLOADS
                .iter()
                .enumerate()
                .map(|(i, p)| marquee_store::ImportTitle {
                    external_id: i as i64 + 1,
                    name: format!("{p} (1999)"),
                    year: Some(1999),
                    genres: vec![p.to_string()],
                })
                .collect::<Vec<_>>(),
            1,
        )
        .await
        .unwrap();
    let tid = app
        .store()
        .search_titles("XSS2", 1, &Default::default())
        .await
        .unwrap()[0]
        .id;

    // Profile names, through sign-up and profile creation.
    let accepted = push_all(
        &app,
        &viewer,
        "/api/v1/profiles",
        PAYLOADS,
        |_, p| json!({ "name": p }),
    )
    .await;
    // An account holds a few profiles; the viewer already has one.
    assert_eq!(
        accepted.len(),
        (marquee_domain::MAX_PROFILES_PER_ACCOUNT - 1).min(PAYLOADS.len()),
        "{accepted:?}"
    );
    let r = app
        .post_json(
            "/api/v1/auth/signup",
            None,
            &json!({"email": "eve@example.com", "password": PASSWORD, "profile_name": PAYLOADS[1]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let eve = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    check_page(&app, Some(&viewer), "/profiles", &mut seen).await;
    check_page(&app, Some(&eve), "/", &mut seen).await;

    // Ideas: titles, descriptions (Markdown), tags, comments.
    let ideas = push_all(&app, &viewer, "/api/v1/ideas", &all, |_, p| {
        json!({"title": format!("Offline buffering {p}"), "description": format!("{p}\n\n{p}"), "tags": ["buffering"]})
    })
    .await;
    assert!(ideas.len() >= all.len() / 2, "{} accepted", ideas.len());
    let idea_id = ideas[0]["id"].as_i64().unwrap();
    let tagged = push_all(
        &app,
        &viewer,
        "/api/v1/ideas",
        PAYLOADS,
        |_, p| json!({"title": "Tagged idea about buffering", "tags": [p]}),
    )
    .await;
    let comments = push_all(
        &app,
        &eve,
        &format!("/api/v1/ideas/{idea_id}/comments"),
        &all,
        |_, p| json!({ "body": p }),
    )
    .await;
    assert!(!comments.is_empty());
    let viewer_id = get(&app, "/api/v1/me", &viewer).await["account"]["id"]
        .as_i64()
        .unwrap();
    for path in [
        "/ideas".to_string(),
        "/ideas?sort=new".to_string(),
        format!("/ideas/{idea_id}"),
        format!("/ideas/people/{viewer_id}"),
        "/ideas/similar?title=Offline+buffering".to_string(),
    ] {
        check_page(&app, Some(&viewer), &path, &mut seen).await;
    }
    if let Some(t) = tagged.first() {
        let id = t["id"].as_i64().unwrap();
        check_page(&app, Some(&viewer), &format!("/ideas/{id}"), &mut seen).await;
    }
    check_page(&app, Some(&agent), "/staff/ideas", &mut seen).await;

    // Social posts: text, URL and language from the ingest API.
    let r = app
        .post_json(
            "/api/v1/listening/tokens",
            Some(&admin),
            &json!({"name": "<b>feed XSS40</b>"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let ingest = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let now = crate::helpers::now_ms();
    let mut posts = vec![];
    for (i, p) in all.iter().enumerate() {
        posts.push(json!({
            "source": "hostile", "external_id": format!("t{i}"), "author": "@fan@mastodon.social",
            "text": format!("offline buffering is awful {p}"), "created_at": now - 60_000 - i as i64,
            "url": format!("https://mastodon.social/@fan/{i}?q={}", p.replace(' ', "")),
            "lang": "en",
        }));
    }
    for (i, p) in PAYLOADS.iter().enumerate() {
        // One element each, so that a refused field refuses only its post.
        let one = json!([{
            "source": "hostile", "external_id": format!("u{i}"), "author": "@fan@mastodon.social",
            "text": "buffering again", "created_at": now - 30_000,
            "url": format!("https://x.example/{p}"), "lang": p.chars().take(20).collect::<String>(),
        }]);
        let r = app.post_json("/api/v1/posts", Some(&ingest), &one).await;
        assert!(r.status().as_u16() < 500);
    }
    let r = app
        .post_json("/api/v1/posts", Some(&ingest), &json!(posts))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    for path in [
        "/listening",
        "/listening/live",
        "/listening/posts",
        "/listening/posts?q=buffering",
        "/listening/posts?order=negative",
        "/listening/tokens",
    ] {
        check_page(&app, Some(&admin), path, &mut seen).await;
    }
    // The voice panel on the idea page (staff): posts that match the idea.
    check_page(
        &app,
        Some(&agent),
        &format!("/staff/ideas/{idea_id}/voice"),
        &mut seen,
    )
    .await;

    // Support chat: the customer links the posts' handle, then writes.
    let (s, v) = post(
        &app,
        "/api/v1/me/handles",
        &viewer,
        json!({"handle": "@fan@mastodon.social"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let started = push_all(
        &app,
        &viewer,
        "/api/v1/support/conversations",
        &all[..1],
        |_, p| json!({ "body": p }),
    )
    .await;
    let conv = started[0]["conversation"]["id"].as_i64().unwrap();
    push_all(
        &app,
        &viewer,
        &format!("/api/v1/support/conversations/{conv}/messages"),
        &all[1..],
        |_, p| json!({ "body": p }),
    )
    .await;
    push_all(
        &app,
        &agent,
        &format!("/api/v1/staff/support/conversations/{conv}/messages"),
        &all,
        |_, p| json!({ "body": p }),
    )
    .await;
    push_all(
        &app,
        &admin,
        "/api/v1/staff/support/canned",
        PAYLOADS,
        |i, p| json!({"shortcode": format!("c{i}"), "body": p}),
    )
    .await;
    let (s, share) = post(
        &app,
        &format!("/api/v1/support/conversations/{conv}/share"),
        &viewer,
        json!({}),
    )
    .await;
    assert_eq!(s, 201, "{share}");
    for (tok, path) in [
        (Some(viewer.as_str()), "/support".to_string()),
        (
            Some(viewer.as_str()),
            format!("/support/conversations/{conv}/transcript"),
        ),
        (
            None,
            share["url"]
                .as_str()
                .unwrap()
                .replace(&format!("http://{}", app.addr), ""),
        ),
        (Some(agent.as_str()), "/staff/support".to_string()),
        (Some(agent.as_str()), "/staff/support/list".to_string()),
        (
            Some(agent.as_str()),
            format!("/staff/support/conversations/{conv}"),
        ),
        (Some(admin.as_str()), "/staff/support/settings".to_string()),
    ] {
        check_page(&app, tok, &path, &mut seen).await;
    }

    // Perks: a rule whose name and message are payloads, awarded.
    let rules = push_all(&app, &admin, "/api/v1/staff/perks/rules", PAYLOADS, |i, p| {
        json!({
            "name": p,
            "trigger": {"kind": "custom", "name": format!("n{i}")},
            "conditions": [],
            "effect": {"kind": "credit", "amount_cents": 100, "message": p},
            "budget": {"global": {"max_cents": 100000}, "per_profile": {"max_awards": 100, "period_days": 30}}
        })
    })
    .await;
    assert!(!rules.is_empty());
    for i in 0..PAYLOADS.len() {
        let (s, v) = post(
            &app,
            "/api/v1/staff/perks/events",
            &admin,
            json!({"kind": "custom", "account_id": viewer_id, "name": format!("n{i}"), "key": format!("k{i}")}),
        )
        .await;
        assert!(s < 300, "{v}");
    }
    marquee_server::perks::run_once(&app.state).await.unwrap();
    let perks = get(&app, "/api/v1/me/perks", &viewer).await;
    for a in perks.as_array().into_iter().flatten().take(3) {
        let id = a["id"].as_i64().unwrap();
        let (s, _) = post(
            &app,
            &format!("/api/v1/me/perks/{id}/reveal"),
            &viewer,
            json!({}),
        )
        .await;
        assert!(s < 300);
    }
    check_page(&app, Some(&viewer), "/perks", &mut seen).await;
    check_page(&app, Some(&admin), "/staff/perks", &mut seen).await;

    // Decisions and the changelog.
    let decided = push_all(&app, &admin, "/api/v1/staff/decisions", &all, |_, p| {
        json!({"title": p, "body": format!("{p}\n\n{p}"), "evidence": [{"kind": "idea", "id": idea_id}]})
    })
    .await;
    assert!(!decided.is_empty());
    // Comments on a proposal: the customers' page and the staff dashboard.
    let (s, v) = post(
        &app,
        "/api/v1/staff/changes",
        &admin,
        json!({"kind": "other", "title": "Hostile comments", "body": "Tell us.", "planned_at": 4_000_000_000_000i64}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let pid = v["proposal"]["id"].as_i64().unwrap();
    let (s, _) = post(
        &app,
        &format!("/api/v1/staff/changes/{pid}/publish"),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let accepted = push_all(
        &app,
        &viewer,
        &format!("/api/v1/changes/{pid}/comments"),
        &all,
        |_, p| json!({ "body": p }),
    )
    .await;
    assert!(!accepted.is_empty());
    check_page(&app, Some(&viewer), &format!("/changes/{pid}"), &mut seen).await;
    check_page(
        &app,
        Some(&admin),
        &format!("/staff/changes/{pid}"),
        &mut seen,
    )
    .await;
    check_page(&app, None, "/changelog", &mut seen).await;
    check_page(&app, Some(&agent), "/staff/decisions", &mut seen).await;
    check_page(&app, Some(&agent), "/staff", &mut seen).await;

    // Share pages and their Open Graph tags: the title's name, `t` and `ref`.
    let (s, v) = post(
        &app,
        "/api/v1/me/share-links",
        &viewer,
        json!({"title_id": tid, "t": 60}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    check_page(&app, None, &format!("/w/{tid}?t=60"), &mut seen).await;
    for p in PAYLOADS {
        let q = marquee_server::auth::url_encode(p);
        let r = app.get(&format!("/w/{tid}?t={q}&ref={q}"), None).await;
        let status = r.status().as_u16();
        let html = r.text().await.unwrap();
        assert!(status < 500, "{status}");
        let bad = unescaped(&html);
        assert!(bad.is_empty(), "/w/{tid} with {p:?}: {bad:#?}");
    }
    check_page(&app, Some(&viewer), &format!("/share/{tid}"), &mut seen).await;
    check_page(&app, Some(&viewer), &format!("/titles/{tid}"), &mut seen).await;
    check_page(&app, Some(&viewer), "/search?q=XSS", &mut seen).await;
    check_page(&app, Some(&viewer), "/search?q=%3Cscript%3EXSS", &mut seen).await;
    assert!(seen.len() >= 25, "{seen:?}");
}

// ---------------------------------------------------------------------------
// CSRF on every form and every cookie-authenticated API write.

/// Everything in the database, as text: a write anywhere changes it.
async fn fingerprint(app: &TestApp) -> BTreeMap<String, String> {
    use sqlx::{Connection, Row};
    let url = app.state.config.database_url();
    if url.starts_with("postgres") {
        // Every row of every table, as text, per table.
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::TEXT FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name NOT LIKE '\\_sqlx%' ORDER BY 1",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        let mut out = BTreeMap::new();
        // Background tables are not compared (see `changed`), and
        // `shared_models` holds whole model files: not worth hashing.
        for t in tables
            .into_iter()
            .filter(|t| !BACKGROUND_TABLES.contains(&t.as_str()))
        {
            let v: String = sqlx::query_scalar(&format!(
                "SELECT count(*) || ':' || coalesce(md5(string_agg(r, '|' ORDER BY r COLLATE \"C\")), '') \
                 FROM (SELECT x::TEXT AS r FROM \"{t}\" x) s"
            ))
            .fetch_one(&mut c)
            .await
            .unwrap();
            out.insert(t, v);
        }
        c.close().await.unwrap();
        return out;
    }
    let db = app.state.config.data_dir.join("marquee.db");
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display()))
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT LIKE '%_fts%' AND name NOT LIKE '_sqlx%' ORDER BY name",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    let mut out = BTreeMap::new();
    for t in tables
        .into_iter()
        .filter(|t| !BACKGROUND_TABLES.contains(&t.as_str()))
    {
        let cols: Vec<String> = sqlx::query(&format!("SELECT name FROM pragma_table_info('{t}')"))
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
        let row = cols
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join("||','||");
        let sql = format!(
            "SELECT count(*) || ':' || coalesce(group_concat(r, '|'), '') FROM (SELECT {row} AS r FROM \"{t}\" ORDER BY 1)"
        );
        let v: String = sqlx::query(&sql).fetch_one(&mut c).await.unwrap().get(0);
        out.insert(t, v);
    }
    c.close().await.unwrap();
    out
}

/// Tables that background jobs write on their own schedule (the recommender's
/// first training run, the perks scanner's cursors), whatever the requests do.
const BACKGROUND_TABLES: [&str; 5] = [
    "rec_training_runs",
    "perk_cursors",
    "perk_events",
    "jobs",
    "shared_models",
];

/// The tables that differ, background jobs' tables aside.
fn changed(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    a.keys()
        .chain(b.keys())
        .filter(|k| !BACKGROUND_TABLES.contains(&k.as_str()))
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A `<form method=post>`: its action and its fields' names and values.
#[derive(Debug, Clone)]
struct Form {
    action: String,
    fields: Vec<(String, String)>,
}

fn attr<'t>(t: &'t htmlcheck::Tag, name: &str) -> Option<&'t str> {
    t.attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn unescape(s: &str) -> String {
    htmlcheck::decode_entities(s)
}

/// The POST forms of a page, and the targets of `hx-post` elements outside forms.
fn forms(html: &str, page: &str) -> Vec<Form> {
    let tags = htmlcheck::tags(html);
    let mut out: Vec<Form> = vec![];
    let mut open: Option<Form> = None;
    // Tags in order; a form's fields are the inputs until the next form.
    let lower = html.to_ascii_lowercase();
    let mut form_ends: Vec<usize> = lower.match_indices("</form").map(|(i, _)| i).collect();
    form_ends.reverse();
    for t in &tags {
        while let Some(&e) = form_ends.last() {
            if e < t.end {
                form_ends.pop();
                if let Some(f) = open.take() {
                    out.push(f);
                }
            } else {
                break;
            }
        }
        match t.name.as_str() {
            "form" => {
                if let Some(f) = open.take() {
                    out.push(f);
                }
                let method = attr(t, "method").unwrap_or("get").to_ascii_lowercase();
                let hx = attr(t, "hx-post");
                if method == "post" || hx.is_some() {
                    let action = unescape(attr(t, "action").or(hx).unwrap_or(page));
                    open = Some(Form {
                        action,
                        fields: vec![],
                    });
                }
            }
            "input" | "select" | "textarea" | "button" => {
                if let (Some(f), Some(n)) = (open.as_mut(), attr(t, "name")) {
                    let v = unescape(attr(t, "value").unwrap_or("x"));
                    let v = if v.is_empty() { "x".to_string() } else { v };
                    if !f.fields.iter().any(|(k, _)| k == n) {
                        f.fields.push((n.to_string(), v));
                    }
                }
            }
            _ => {
                if open.is_none() {
                    if let Some(hx) = attr(t, "hx-post") {
                        out.push(Form {
                            action: unescape(hx),
                            fields: vec![],
                        });
                    }
                }
            }
        }
    }
    if let Some(f) = open.take() {
        out.push(f);
    }
    out
}

#[tokio::test]
async fn every_form_refuses_a_post_without_the_right_csrf_token() {
    let crate::helpers::Site {
        app,
        admin,
        agent,
        viewer,
        viewer_pages,
        staff_pages,
    } = crate::helpers::seeded_site().await;

    // Discover the forms each role sees.
    let mut found: BTreeMap<String, (String, Form)> = BTreeMap::new();
    for (who, token, pages) in [
        ("viewer", viewer.as_str(), &viewer_pages),
        ("agent", agent.as_str(), &staff_pages),
        ("admin", admin.as_str(), &staff_pages),
    ] {
        let mut jar = Jar::session(&app, token);
        for page in pages.iter() {
            if who == "agent" && crate::helpers::admin_only(page) {
                continue;
            }
            let (s, html) = jar.get(page).await;
            assert_eq!(s, 200, "{who} GET {page}");
            for f in forms(&html, page) {
                let key = f.action.split('?').next().unwrap_or("").to_string();
                found
                    .entry(key)
                    .or_insert_with(|| (token.to_string(), f.clone()));
            }
        }
    }
    // Anonymous forms: log-in, sign-up, forgot and reset (double-submit cookie).
    let mut anon = Jar::new(&app);
    for page in [
        "/login",
        "/signup",
        "/forgot",
        "/reset?token=x",
        "/unsubscribe?token=hostile-unsubscribe",
    ] {
        let (_, html) = anon.get(page).await;
        for f in forms(&html, page) {
            found.entry(f.action.clone()).or_insert((String::new(), f));
        }
    }
    for must in [
        "/logout",
        "/profiles",
        "/ideas",
        "/login",
        "/signup",
        "/forgot",
        "/reset",
        "/staff/support/canned",
        "/staff/perks",
        "/staff/decisions",
        "/staff/webhooks",
        "/listening/tokens",
        "/listening/posts/1/sentiment",
        "/account/notifications",
        "/unsubscribe",
        "/staff/changes",
        "/staff/changes/1/decision",
        "/staff/changes/2/edit",
        "/staff/changes/2/publish",
        "/changes/1/reaction",
        "/changes/1/comments",
        "/staff/catalog",
        "/staff/catalog/1",
    ] {
        assert!(
            found.contains_key(must),
            "no form posts to {must}: {:?}",
            found.keys()
        );
    }
    for (prefix, suffix) in [
        ("/account/devices/", "/sign-out"),
        ("/account/streams/", "/stop"),
        ("/profiles/", "/pin"),
        ("/profiles/", "/select"),
        // Attachments: multipart forms, whose `csrf` field is read first.
        ("/staff/support/conversations/", "/attachments"),
        ("/support/conversations/", "/attachments"),
        ("/staff/catalog/", "/artwork"),
    ] {
        assert!(
            found
                .keys()
                .any(|k| k.starts_with(prefix) && k.ends_with(suffix)),
            "no form posts to {prefix}…{suffix}: {:?}",
            found.keys()
        );
    }
    assert!(
        found.len() >= 25,
        "{} forms: {:?}",
        found.len(),
        found.keys()
    );

    let mut refused = 0;
    for (action, (token, form)) in &found {
        let mut jar = if token.is_empty() {
            let mut j = Jar::new(&app);
            let _ = j.get("/login").await; // the anonymous CSRF cookie
            j
        } else {
            Jar::session(&app, token)
        };
        let without: Vec<(String, String)> = form
            .fields
            .iter()
            .filter(|(k, _)| k != "csrf")
            .cloned()
            .collect();
        let mut wrong = without.clone();
        wrong.push(("csrf".into(), "A".repeat(43)));
        // The database is compared once around the four forged posts (a
        // write by any of them shows): fingerprinting the whole demo
        // database is what makes this test slow.
        let before = fingerprint(&app).await;
        for (case, fields, hx) in [
            ("no token", &without, false),
            ("a wrong token", &wrong, false),
            ("htmx, no token", &without, true),
            ("htmx, a wrong header", &without, true),
        ] {
            let mut rb = jar.request(Method::POST, action).form(fields);
            if hx {
                rb = rb.header("HX-Request", "true");
                if case.contains("header") {
                    rb = rb.header("X-CSRF-Token", "A".repeat(43));
                }
            }
            let (s, _, body) = jar.send(rb).await;
            assert_eq!(
                s, 403,
                "POST {action} with {case} ({:?}): {s} {body}",
                fields
            );
            refused += 1;
        }
        let after = fingerprint(&app).await;
        assert_eq!(
            changed(&before, &after),
            Vec::<String>::new(),
            "a forged POST {action} (no token, a wrong token, or htmx without one) wrote"
        );
    }
    assert_eq!(refused, found.len() * 4);
}

#[tokio::test]
async fn cookie_authenticated_api_writes_need_the_csrf_header() {
    let app = TestApp::builder().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let doc: Value = app
        .get("/api/v1/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let m = method.to_ascii_uppercase();
            if !["POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()) {
                continue;
            }
            let by_cookie = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("cookie").is_some()));
            if !by_cookie {
                continue;
            }
            let concrete = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "1" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let before = fingerprint(&app).await;
            for header in [None, Some("A".repeat(43))] {
                let mut jar = Jar::session(&app, &admin);
                let mut rb = jar
                    .request(Method::from_bytes(m.as_bytes()).unwrap(), &concrete)
                    .json(&json!({}));
                if let Some(h) = &header {
                    rb = rb.header("X-CSRF-Token", h);
                }
                let (s, _, body) = jar.send(rb).await;
                assert_eq!(
                    s, 403,
                    "{m} {concrete} by cookie, header {header:?}: {body}"
                );
                assert!(body.contains("X-CSRF-Token"), "{body}");
            }
            assert_eq!(
                changed(&before, &fingerprint(&app).await),
                Vec::<String>::new()
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} cookie-authenticated writes");
    // The same call with the session's token in the header goes through.
    let r = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": "admin@example.com", "password": PASSWORD}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    let mut jar = Jar::session(&app, v["token"].as_str().unwrap());
    let rb = jar
        .request(Method::POST, "/api/v1/profiles")
        .header("X-CSRF-Token", v["csrf_token"].as_str().unwrap())
        .json(&json!({"name": "Kids"}));
    assert_eq!(jar.send(rb).await.0, 201);
}

// ---------------------------------------------------------------------------
// Session fixation and cookie flags.

fn set_cookie<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
}

fn cookie_value(c: &str) -> String {
    c.split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string()
}

fn flags(c: &str) -> BTreeSet<String> {
    c.split(';')
        .skip(1)
        .map(|f| f.trim().to_ascii_lowercase())
        .collect()
}

fn assert_session_flags(c: &str, secure: bool) {
    let f = flags(c);
    assert!(f.contains("httponly"), "{c}");
    assert!(f.contains("path=/"), "{c}");
    assert!(
        f.contains("samesite=lax") || f.contains("samesite=strict"),
        "{c}"
    );
    assert_eq!(f.contains("secure"), secure, "{c}");
}

async fn page_login(jar: &mut Jar<'_>, email: &str) -> (u16, HeaderMap) {
    let (_, html) = jar.get("/login").await;
    let csrf = csrf_of(&html);
    let rb = jar.request(Method::POST, "/login").form(&[
        ("csrf", csrf.as_str()),
        ("email", email),
        ("password", PASSWORD),
        ("next", "/"),
    ]);
    let (s, h, _) = jar.send(rb).await;
    (s, h)
}

#[tokio::test]
async fn login_issues_a_fresh_session_and_never_adopts_a_planted_one() {
    let app = TestApp::builder().start().await;
    app.signup("ann@example.com").await;
    let attacker = app.signup("mallory@example.com").await;

    // A value the attacker chose, and the attacker's own live session.
    for planted in [
        "attacker-chosen-session-id-0123456789abcdef".to_string(),
        attacker.clone(),
    ] {
        let mut jar = Jar::new(&app);
        jar.cookies
            .insert("marquee_session".into(), planted.clone());
        let (s, h) = page_login(&mut jar, "ann@example.com").await;
        assert_eq!(s, 303);
        let c = set_cookie(&h, "marquee_session").expect("no session cookie on log-in");
        let fresh = cookie_value(c);
        assert_ne!(fresh, planted);
        assert_eq!(fresh.len(), 43, "256 random bits");
        assert_session_flags(c, false);
        // The fresh cookie is Ann; the planted value is not.
        let me = get(&app, "/api/v1/me", &fresh).await;
        assert_eq!(me["account"]["email"], "ann@example.com");
        let r = app.get("/api/v1/me", Some(&planted)).await;
        if planted == attacker {
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["account"]["email"], "mallory@example.com");
        } else {
            assert_eq!(r.status(), 401);
        }
    }

    // The API log-in too: a new token each time, never the one sent.
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header(COOKIE, format!("marquee_session={attacker}"))
        .json(&json!({"email": "ann@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c = set_cookie(r.headers(), "marquee_session")
        .unwrap()
        .to_string();
    assert_session_flags(&c, false);
    let v: Value = r.json().await.unwrap();
    assert_ne!(v["token"].as_str().unwrap(), attacker);
    assert_eq!(cookie_value(&c), v["token"].as_str().unwrap());
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let app = TestApp::builder().start().await;
    app.signup("ann@example.com").await;
    // Pages.
    let mut jar = Jar::new(&app);
    let (_, h) = page_login(&mut jar, "ann@example.com").await;
    let token = cookie_value(set_cookie(&h, "marquee_session").unwrap());
    let (s, html) = jar.get("/profiles").await;
    assert_eq!(s, 200);
    let csrf = csrf_of(&html);
    let rb = jar
        .request(Method::POST, "/logout")
        .form(&[("csrf", csrf.as_str())]);
    let (s, h, _) = jar.send(rb).await;
    assert_eq!(s, 303);
    let cleared = set_cookie(&h, "marquee_session").unwrap();
    assert_eq!(cookie_value(cleared), "");
    assert!(flags(cleared).contains("max-age=0"), "{cleared}");
    // A copy of the old cookie kept by an attacker no longer works.
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), 401);
    let mut stolen = Jar::session(&app, &token);
    let (s, _) = stolen.get("/profiles").await;
    assert_eq!(s, 303, "the page should send the old cookie to log-in");

    // API.
    let token = app.login("ann@example.com").await;
    let r = app
        .req(Method::POST, "/api/v1/auth/logout", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.status(), 401);
}

#[tokio::test]
async fn cookies_are_secure_when_served_over_https() {
    // Forced by config, and implied by an https public URL.
    for config in [
        {
            let mut c = Config::default();
            c.server.secure_cookies = Some(true);
            c
        },
        {
            let mut c = Config::default();
            c.server.public_url = Some("https://marquee.example.com".into());
            c
        },
    ] {
        let app = TestApp::builder().config(config).start().await;
        app.signup("ann@example.com").await;
        let mut jar = Jar::new(&app);
        let r = jar.request(Method::GET, "/login").send().await.unwrap();
        let csrf_cookie = set_cookie(r.headers(), "marquee_csrf").unwrap().to_string();
        jar.absorb(r.headers());
        let f = flags(&csrf_cookie);
        assert!(
            f.contains("secure") && f.contains("httponly"),
            "{csrf_cookie}"
        );
        let (s, h) = page_login(&mut jar, "ann@example.com").await;
        assert_eq!(s, 303);
        assert_session_flags(set_cookie(&h, "marquee_session").unwrap(), true);
    }
    // Behind a TLS-terminating proxy (trusted: here the test itself).
    let mut config = Config::default();
    config.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let app = TestApp::builder().config(config).start().await;
    app.signup("ann@example.com").await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("X-Forwarded-Proto", "https")
        .json(&json!({"email": "ann@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_session_flags(set_cookie(r.headers(), "marquee_session").unwrap(), true);
    // Plain http: no Secure, or browsers would drop the cookie.
    let r = app.get("/login", None).await;
    let c = set_cookie(r.headers(), "marquee_csrf").unwrap();
    assert!(!flags(c).contains("secure"), "{c}");
    assert!(flags(c).contains("samesite=strict"), "{c}");
}
