//! `TestApp`: the real server on 127.0.0.1:0 over a fresh database: a SQLite
//! file, or, when `MARQUEE_TEST_POSTGRES` holds a PostgreSQL admin URL (e.g.
//! `postgres://postgres@127.0.0.1:5432`), a database of its own on that server.

use marquee_domain::{Clock, Plan, Role, SystemClock};
use marquee_server::import::{import_movielens, NoProgress};
use marquee_server::{AppState, Config};
use marquee_store::{NewAccount, Store};
pub use marquee_testkit::pg_admin_url;
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::TempDir;
use tokio::sync::{oneshot, OnceCell};

pub const PASSWORD: &str = "correct horse battery";

/// The demo catalog imported once per test binary into a template database;
/// each test gets its own copy.
static DEMO_TEMPLATE: OnceCell<(TempDir, PathBuf)> = OnceCell::const_new();

pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/ml-latest-small")
}

async fn demo_template() -> &'static Path {
    let (_, path) = DEMO_TEMPLATE
        .get_or_init(|| async {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("template.db");
            let store = marquee_store::connect(&format!("sqlite://{}", path.display()), 2)
                .await
                .unwrap();
            store.migrate().await.unwrap();
            let hash = marquee_server::auth::hash_password_blocking("marquee-demo").unwrap();
            import_movielens(
                store.as_ref(),
                &demo_dir(),
                &hash,
                1_700_000_000_000,
                &mut NoProgress,
            )
            .await
            .unwrap();
            marquee_server::import::import_sample_series(store.as_ref(), 1_700_000_000_000)
                .await
                .unwrap();
            store.close().await;
            (dir, path)
        })
        .await;
    path
}

/// Prefixes of the PostgreSQL databases this suite creates; each name goes on
/// with the creating process id, so that later runs can drop leftovers.
const PG_PREFIXES: [&str; 3] = ["mqs_", "marquee_demo_tpl_", "marquee_empty_tpl_"];

/// An admin connection (see [`marquee_testkit::pg_admin`]).
async fn pg_admin(url: &str) -> marquee_store::postgres::PgAdmin {
    marquee_testkit::pg_admin(url, &PG_PREFIXES).await
}

/// The template database for this process: migrated, with the demo catalog
/// when `demo` (imported once per test binary).
async fn pg_template(url: &str, demo: bool) -> &'static str {
    static DEMO: OnceCell<String> = OnceCell::const_new();
    static EMPTY: OnceCell<String> = OnceCell::const_new();
    let cell = if demo { &DEMO } else { &EMPTY };
    cell.get_or_init(|| async {
        let kind = if demo { "demo" } else { "empty" };
        let name = format!("marquee_{kind}_tpl_{}", std::process::id());
        let admin = pg_admin(url).await;
        admin.drop_database(&name).await.unwrap();
        admin.create_database(&name, None).await.unwrap();
        let store = marquee_store::connect(&admin.database_url(&name), 2)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        if demo {
            let hash = marquee_server::auth::hash_password_blocking("marquee-demo").unwrap();
            import_movielens(
                store.as_ref(),
                &demo_dir(),
                &hash,
                1_700_000_000_000,
                &mut NoProgress,
            )
            .await
            .unwrap();
            marquee_server::import::import_sample_series(store.as_ref(), 1_700_000_000_000)
                .await
                .unwrap();
        }
        store.close().await;
        admin.close().await;
        name
    })
    .await
}

/// A fresh PostgreSQL database copied from this process's template; returns
/// its name and URL.
async fn pg_fresh_database(url: &str, demo: bool) -> (String, String) {
    let template = pg_template(url, demo).await;
    let admin = pg_admin(url).await;
    let name = marquee_testkit::pg_database_name("mqs_");
    admin.create_database(&name, Some(template)).await.unwrap();
    let db_url = admin.database_url(&name);
    admin.close().await;
    (name, db_url)
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: Client,
    _dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    /// The server task: [`marquee_server::launch`] until shutdown.
    server: Option<tokio::task::JoinHandle<()>>,
    /// The PostgreSQL database this app owns (dropped with it).
    pg_database: Option<String>,
}

/// Work on the state before [`marquee_server::launch`] starts its workers
/// (e.g. a model file in the data directory, found at start).
type Prepare = Box<dyn FnOnce(&AppState) + Send>;

/// How a [`TestApp`] starts: `TestApp::builder().demo().config(c).clock(k).start()`.
pub struct TestAppBuilder {
    demo: bool,
    config: Config,
    clock: Arc<dyn Clock>,
    train_on_start: bool,
    anonymous_limits: bool,
    public_outbound_only: bool,
    posters: bool,
    prepare: Option<Prepare>,
}

impl TestAppBuilder {
    /// The demo catalog (MovieLens ml-latest-small) instead of an empty one.
    pub fn demo(mut self) -> Self {
        self.demo = true;
        self
    }

    /// The configuration (default: [`Config::default`]); its data directory
    /// and database URL are the app's own.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Keeps `recs.train_on_start` as configured. Without it the recommender
    /// does not train at start: most tests need no model, and training the
    /// default one unoptimised takes long.
    pub fn train_on_start(mut self) -> Self {
        self.train_on_start = true;
        self
    }

    /// Keeps `auth.anonymous_per_minute` as configured. Without it the limit
    /// is lifted: many tests sign up and log in more often than a person
    /// would, all from 127.0.0.1.
    pub fn anonymous_limits(mut self) -> Self {
        self.anonymous_limits = true;
        self
    }

    /// Keeps `webhooks.allow_private` as configured (false by default).
    /// Without it outbound requests may reach 127.0.0.1, where tests stand
    /// up their webhook receivers and mock connectors.
    pub fn public_outbound_only(mut self) -> Self {
        self.public_outbound_only = true;
        self
    }

    /// Keeps `catalog.generate_posters` as configured. Without it no poster
    /// is drawn: unoptimised, the demo's ten thousand would take minutes,
    /// and pages would change as they arrive.
    pub fn posters(mut self) -> Self {
        self.posters = true;
        self
    }

    /// Runs `f` on the state before the workers start.
    pub fn prepare(mut self, f: impl FnOnce(&AppState) + Send + 'static) -> Self {
        self.prepare = Some(Box::new(f));
        self
    }

    /// Starts the server on 127.0.0.1:0 over a fresh database.
    pub async fn start(self) -> TestApp {
        let TestAppBuilder {
            demo,
            mut config,
            clock,
            train_on_start,
            anonymous_limits,
            public_outbound_only,
            posters,
            prepare,
        } = self;
        if !posters {
            config.catalog.generate_posters = false;
        }
        if !public_outbound_only {
            config.webhooks.allow_private = true;
        }
        if !train_on_start {
            config.recs.train_on_start = false;
        }
        if !anonymous_limits {
            config.auth.anonymous_per_minute = 1_000_000;
        }
        let dir = tempfile::tempdir().unwrap();
        config.data_dir = dir.path().to_path_buf();
        let mut pg_database = None;
        if let Some(admin_url) = pg_admin_url() {
            let (name, url) = pg_fresh_database(&admin_url, demo).await;
            config.database.url = Some(url);
            pg_database = Some(name);
        } else {
            let db = dir.path().join("marquee.db");
            if demo {
                // The template was closed, but its last transactions (the
                // sample series) may still sit in its write-ahead log: copy
                // the log too, and SQLite replays it on open.
                let template = demo_template().await;
                std::fs::copy(template, &db).unwrap();
                let wal = template.with_extension("db-wal");
                if wal.exists() {
                    std::fs::copy(&wal, db.with_extension("db-wal")).unwrap();
                }
            }
            config.database.url = Some(format!("sqlite://{}", db.display()));
        }
        TestApp::launch(config, clock, dir, pg_database, prepare).await
    }
}

impl TestApp {
    /// An empty catalog, the default config and the system clock, until
    /// told otherwise.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            demo: false,
            config: Config::default(),
            clock: Arc::new(SystemClock),
            train_on_start: false,
            anonymous_limits: false,
            public_outbound_only: false,
            posters: false,
            prepare: None,
        }
    }

    /// A second server instance on this app's database, as another process
    /// would run it: its own state, caches, workers and live-event fan-out.
    pub async fn sibling(&self) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = (*self.state.config).clone();
        config.data_dir = dir.path().to_path_buf();
        Self::launch(config, self.state.clock.clone(), dir, None, None).await
    }

    async fn launch(
        config: Config,
        clock: Arc<dyn Clock>,
        dir: tempfile::TempDir,
        pg_database: Option<String>,
        prepare: Option<Prepare>,
    ) -> TestApp {
        let store = marquee_store::connect(&config.database_url(), 4)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let state = AppState::new(store, config, clock).unwrap();
        if let Some(f) = prepare {
            f(&state);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let st = state.clone();
        let server = tokio::spawn(async move {
            marquee_server::launch(listener, st, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let app = TestApp {
            addr,
            state,
            client,
            _dir: dir,
            shutdown: Some(tx),
            server: Some(server),
            pg_database,
        };
        // launch serves only once its workers have started (the fan-out
        // listening, the playback writer running): the first answer says so.
        for _ in 0..600 {
            if let Ok(r) = app.client.get(app.url("/healthz")).send().await {
                if r.status().is_success() {
                    return app;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the test server did not answer /healthz within 30 s");
    }

    /// Shuts the server down as a process would on SIGTERM and waits until
    /// its workers have stopped; the database stays.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let r = self.client.request(method, self.url(path));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Imports one title (no year, no genres) and returns its id.
    pub async fn add_title(&self, name: &str) -> i64 {
        self.store()
            .import_titles(
                "test",
                &[marquee_store::ImportTitle {
                    external_id: 1,
                    name: name.into(),
                    year: None,
                    genres: vec![],
                }],
                1,
            )
            .await
            .unwrap();
        self.store()
            .search_titles(name, 1, &Default::default())
            .await
            .unwrap()[0]
            .id
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.req(Method::GET, path, token).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.req(Method::POST, path, token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Signs up through the API; returns the bearer token.
    pub async fn signup(&self, email: &str) -> String {
        let r = self
            .post_json(
                "/api/v1/auth/signup",
                None,
                &json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        v["token"].as_str().unwrap().to_string()
    }

    /// Creates an account with a role directly in the store and logs it in.
    pub async fn login_as(&self, email: &str, role: Role) -> String {
        let hash = marquee_server::auth::hash_password_blocking(PASSWORD).unwrap();
        self.store()
            .create_account(
                &NewAccount {
                    email: email.into(),
                    password_hash: hash,
                    role,
                    plan: Plan::Standard,
                    must_change_password: false,
                    first_profile: "Main".into(),
                    email_verified: true,
                },
                1,
            )
            .await
            .unwrap();
        self.login(email).await
    }

    pub async fn login(&self, email: &str) -> String {
        let r = self
            .post_json(
                "/api/v1/auth/login",
                None,
                &json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        v["token"].as_str().unwrap().to_string()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let (Some(name), Some(url)) = (self.pg_database.take(), pg_admin_url()) {
            marquee_testkit::drop_pg_database_blocking(&url, &name);
        }
    }
}

/// Asserts the JSON error shape and returns (code, field).
pub async fn error_of(r: Response) -> (u16, String, Option<String>) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    let e = &v["error"];
    assert!(e["message"].is_string(), "error body without message: {v}");
    (
        status,
        e["code"].as_str().unwrap().to_string(),
        e["field"].as_str().map(str::to_string),
    )
}

/// Sends a request with a bearer token and an optional JSON body; the status and the
/// JSON body (`Null` when the body is not JSON).
pub async fn call(
    app: &TestApp,
    m: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = app.req(m, path, Some(token));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// POSTs JSON with a bearer token: the status and the JSON body.
pub async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(app, Method::POST, path, token, Some(body)).await
}

/// GETs with a bearer token, asserting 200; the JSON body.
pub async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    let (s, v) = call(app, Method::GET, path, token, None).await;
    assert_eq!(s, 200, "GET {path}: {v}");
    v
}

/// The id of the account a bearer token belongs to.
pub async fn account_id(app: &TestApp, token: &str) -> i64 {
    get(app, "/api/v1/me", token).await["account"]["id"]
        .as_i64()
        .unwrap()
}

/// The wall clock, ms since the epoch.
pub fn now_ms() -> i64 {
    use marquee_domain::Clock;
    marquee_domain::SystemClock.now_ms()
}

/// Staff routes only admins may use (agents get 403).
pub fn admin_only(path: &str) -> bool {
    path.contains("accounts")
        || path.contains("account-events")
        || path.contains("/staff/plans/")
        || path.contains("/staff/changes")
        || path.contains("webhooks")
        || path.contains("/tokens")
        || path.ends_with("/media")
        || path.contains("/staff/catalog")
        || path.contains("/staff/titles")
}

/// An in-process SMTP server that accepts every message and keeps it:
/// what the application's mailer sent, as the server saw it.
pub struct SmtpSink {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Each message's SMTP dialogue (commands and DATA), in arrival order.
    pub mails: Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    /// Starts the sink.
    pub async fn start() -> SmtpSink {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let keep = mails.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let keep = keep.clone();
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut r = BufReader::new(r);
                    if w.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                        return;
                    }
                    let mut log = String::new();
                    let mut in_data = false;
                    loop {
                        let mut line = String::new();
                        match r.read_line(&mut line).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                        log.push_str(&line);
                        if in_data {
                            if line == ".\r\n" {
                                in_data = false;
                                keep.lock().unwrap().push(std::mem::take(&mut log));
                                let _ = w.write_all(b"250 queued\r\n").await;
                            }
                            continue;
                        }
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") {
                            b"250-sink\r\n250 AUTH PLAIN\r\n"
                        } else if upper.starts_with("DATA") {
                            in_data = true;
                            b"354 go ahead\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            break;
                        } else if upper.starts_with("AUTH") {
                            b"235 ok\r\n"
                        } else {
                            b"250 ok\r\n"
                        };
                        if w.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SmtpSink { port, mails }
    }

    /// Points `config.smtp` at the sink (no TLS).
    pub fn configure(&self, config: &mut Config) {
        config.smtp.host = Some("127.0.0.1".into());
        config.smtp.port = self.port;
        config.smtp.tls = marquee_server::mail::SmtpTls::None;
        config.smtp.from = "Marquee Support <support@example.com>".into();
    }

    /// Waits (up to 10 s) until `n` messages arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..400 {
            let got = self.mails.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!(
            "the SMTP sink got {} mails, expected {n}",
            self.mails.lock().unwrap().len()
        );
    }
}

/// The value of the form field `name` in a page (entities that askama
/// writes in tokens and paths undone).
pub fn field_of(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let i = html.find(&marker).expect("no such field") + marker.len();
    html[i..i + html[i..].find('"').unwrap()]
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&")
}

/// A local webhook receiver: records requests, fails the first `fail` ones.
pub struct Receiver {
    pub url: String,
    pub got: Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String)>>>,
}

pub async fn receiver(fail: usize) -> Receiver {
    let got: Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let failures = Arc::new(std::sync::atomic::AtomicUsize::new(fail));
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let g = g.clone();
            let failures = failures.clone();
            async move {
                g.lock().unwrap().push((headers, body));
                if failures
                    .fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |n| n.checked_sub(1),
                    )
                    .is_ok()
                {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Receiver {
        url: format!("http://{addr}/hook"),
        got,
    }
}

pub async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("gave up waiting for {what}");
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The CSRF token of the form on `path`, as `client` sees the page.
pub async fn form_token(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let html = client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    field_of(&html, "csrf")
}

/// The token of the `page?token=` link in a mail (quoted-printable undone).
pub fn token_in(mail: &str, page: &str) -> String {
    let unfolded = mail.replace("=\r\n", "").replace("=3D", "=");
    let marker = format!("{page}?token=");
    let at = unfolded.find(&marker).expect("no link in the mail") + marker.len();
    unfolded[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A demo site with one of everything a page lists (an idea, a support
/// conversation, a social post, a perk rule, a proposed change with a
/// comment, a webhook, a playing device…), its three users, and the pages
/// each role sees: what the CSRF crawl and the browser walk go through.
pub struct Site {
    pub app: TestApp,
    pub admin: String,
    pub agent: String,
    pub viewer: String,
    /// A viewer's pages.
    pub viewer_pages: Vec<String>,
    /// Staff pages (some admin-only: see [`admin_only`]).
    pub staff_pages: Vec<String>,
}

/// Builds a [`Site`].
pub async fn seeded_site() -> Site {
    let app = TestApp::builder().demo().start().await;
    let admin = app.login_as("admin@example.com", Role::Admin).await;
    let agent = app.login_as("agent@example.com", Role::Agent).await;
    let viewer = app.login_as("viewer@example.com", Role::Viewer).await;
    // Content, so that the pages show their item forms.
    let (s, idea) = post(
        &app,
        "/api/v1/ideas",
        &viewer,
        json!({"title": "Offline downloads on the TV", "description": "please"}),
    )
    .await;
    assert_eq!(s, 201, "{idea}");
    let idea_id = idea["id"].as_i64().unwrap();
    let (s, conv) = post(
        &app,
        "/api/v1/support/conversations",
        &viewer,
        json!({"body": "my TV buffers"}),
    )
    .await;
    assert_eq!(s, 201, "{conv}");
    let conv_id = conv["conversation"]["id"].as_i64().unwrap();
    // A social post, so the post list shows its correction form.
    let (s, tok) = post(
        &app,
        "/api/v1/listening/tokens",
        &admin,
        json!({"name": "crawl"}),
    )
    .await;
    assert_eq!(s, 201, "{tok}");
    let (s, out) = post(
        &app,
        "/api/v1/posts",
        tok["token"].as_str().unwrap(),
        json!([{"source": "test", "external_id": "1", "author": "@a@x",
            "text": "the price is too high", "created_at": 1_700_000_000_000i64}]),
    )
    .await;
    assert!(s < 300, "{out}");
    // An alert on that topic, so its page (headline, spike chart) is walked.
    let alert = app
        .state
        .store
        .create_alert(
            &marquee_domain::listening::NewAlert {
                series: "all".into(),
                kind: "negative_share".into(),
                window: "15m".into(),
                window_start: 1_700_000_000_000 - 600_000,
                window_end: 1_700_000_000_000 + 300_000,
                observed: 1.0,
                expected: 0.2,
                z: 4.0,
                posts: 1,
                terms: vec![("price".into(), 2.0)],
                example_post_ids: vec![],
            },
            &[],
            1_700_000_400_000,
        )
        .await
        .unwrap();
    let (s, _) = post(
        &app,
        "/api/v1/staff/support/canned",
        &admin,
        json!({"shortcode": "hello", "body": "Hi there"}),
    )
    .await;
    assert!(s < 300);
    let (s, rule) = post(
        &app,
        "/api/v1/staff/perks/rules",
        &admin,
        json!({"name": "Thanks", "trigger": {"kind": "custom", "name": "thanks"}, "conditions": [],
            "effect": {"kind": "credit", "amount_cents": 100, "message": "Thank you"},
            "budget": {"global": {"max_cents": 10000}, "per_profile": {"max_awards": 10, "period_days": 30}}}),
    )
    .await;
    assert!(s < 300, "{rule}");
    let viewer_id = get(&app, "/api/v1/me", &viewer).await["account"]["id"]
        .as_i64()
        .unwrap();
    let (s, _) = post(
        &app,
        "/api/v1/staff/perks/events",
        &admin,
        json!({"kind": "custom", "account_id": viewer_id, "name": "thanks", "key": "k1"}),
    )
    .await;
    assert!(s < 300);
    marquee_server::perks::run_once(&app.state).await.unwrap();
    // A proposal in consultation (1: reaction, comment, decision and hide
    // forms) and a draft (2: edit and publish forms).
    for title in ["Split DVD rental into Qwikster", "A cheaper plan with ads"] {
        let (s, v) = post(
            &app,
            "/api/v1/staff/changes",
            &admin,
            json!({"kind": "product", "title": title, "body": "Why.", "planned_at": 4_000_000_000_000i64}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, _) = post(&app, "/api/v1/staff/changes/1/publish", &admin, json!({})).await;
    assert_eq!(s, 200);
    let (s, v) = post(
        &app,
        "/api/v1/changes/1/comments",
        &viewer,
        json!({"body": "Please don't split it"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    // An unsubscribe link as a notification mail carries one.
    app.store()
        .add_unsubscribe_tokens(
            &[(
                marquee_server::auth::token_hash("hostile-unsubscribe"),
                viewer_id,
                "ideas".into(),
            )],
            1,
        )
        .await
        .unwrap();
    let (s, _) = post(
        &app,
        "/api/v1/webhooks",
        &admin,
        json!({"url": "http://127.0.0.1:9/hook"}),
    )
    .await;
    assert!(s < 300);
    let (s, _) = post(
        &app,
        "/api/v1/listening/tokens",
        &admin,
        json!({"name": "feed"}),
    )
    .await;
    assert!(s < 300);
    let (s, _) = post(
        &app,
        "/api/v1/me/handles",
        &viewer,
        json!({"handle": "@fan@mastodon.social"}),
    )
    .await;
    assert!(s < 300);
    let tid = app
        .store()
        .search_titles("heat", 1, &Default::default())
        .await
        .unwrap()[0]
        .id;
    // A device playing a stream: "Sign out this device" and "Streams now"'s Stop.
    let (s, dev) = post(
        &app,
        "/api/v1/devices",
        &viewer,
        json!({"name": "TV", "kind": "tv"}),
    )
    .await;
    assert_eq!(s, 201, "{dev}");
    let (s, v) = post(
        &app,
        "/api/v1/playback/start",
        &viewer,
        json!({"title_id": tid, "device_id": dev["id"]}),
    )
    .await;
    assert_eq!(s, 201, "{v}");

    let viewer_pages = vec![
        "/".to_string(),
        "/profiles".to_string(),
        format!("/titles/{tid}"),
        "/ideas".to_string(),
        "/ideas/new".to_string(),
        format!("/ideas/{idea_id}"),
        "/notifications".to_string(),
        "/perks".to_string(),
        "/support".to_string(),
        format!("/support/conversations/{conv_id}/transcript"),
        "/account".to_string(),
        "/account/streams".to_string(),
        "/account/handles".to_string(),
        "/account/password".to_string(),
        "/onboarding".to_string(),
        format!("/watch/{tid}"),
        "/changes/1".to_string(),
    ];
    let mut staff_pages: Vec<String> = marquee_server::STAFF_ROUTES
        .iter()
        .filter(|(m, p)| *m == "GET" && !p.starts_with("/api/") && !p.contains("metrics.csv"))
        .map(|(_, p)| p.to_string())
        .collect();
    staff_pages.push(format!("/staff/support/conversations/{conv_id}"));
    staff_pages.push(format!("/ideas/{idea_id}"));
    staff_pages.push("/staff/changes/2".to_string());
    staff_pages.push(format!("/listening/alerts/{}", alert.id));
    Site {
        app,
        admin,
        agent,
        viewer,
        viewer_pages,
        staff_pages,
    }
}
