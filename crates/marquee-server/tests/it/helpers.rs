//! `TestApp`: the real server on 127.0.0.1:0 over a fresh SQLite database.

use marquee_domain::{Clock, Plan, Role, SystemClock};
use marquee_server::import::{import_movielens, NoProgress};
use marquee_server::{AppState, Config};
use marquee_store::{NewAccount, Store};
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

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: Client,
    _dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestApp {
    /// An empty catalog.
    pub async fn spawn() -> TestApp {
        Self::start(false, Config::default()).await
    }

    /// The demo catalog (MovieLens ml-latest-small).
    pub async fn with_demo() -> TestApp {
        Self::start(true, Config::default()).await
    }

    /// An empty catalog with a given config and clock.
    pub async fn with(config: Config, clock: Arc<dyn Clock>) -> TestApp {
        Self::start_with(false, config, clock).await
    }

    /// The demo catalog with a given config and clock.
    pub async fn with_demo_config(config: Config, clock: Arc<dyn Clock>) -> TestApp {
        Self::start_with(true, config, clock).await
    }

    /// An empty catalog with this configuration and clock.
    pub async fn with_config_and_clock(
        config: Config,
        clock: Arc<dyn marquee_domain::Clock>,
    ) -> TestApp {
        Self::start_with(false, config, clock).await
    }

    async fn start(demo: bool, config: Config) -> TestApp {
        Self::start_with(demo, config, Arc::new(SystemClock)).await
    }

    async fn start_with(demo: bool, mut config: Config, clock: Arc<dyn Clock>) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("marquee.db");
        if demo {
            std::fs::copy(demo_template().await, &db).unwrap();
        }
        config.data_dir = dir.path().to_path_buf();
        config.database.url = Some(format!("sqlite://{}", db.display()));
        let store = marquee_store::connect(&config.database_url(), 4)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let state = AppState::new(store, config, clock).unwrap();
        let outbox = marquee_server::webhooks::spawn_worker(state.clone());
        let perks = marquee_server::perks::spawn_worker(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        let st = state.clone();
        tokio::spawn(async move {
            marquee_server::serve(listener, st, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
            outbox.abort();
            perks.abort();
        });
        TestApp {
            addr,
            state,
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            _dir: dir,
            shutdown: Some(tx),
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

/// The wall clock, ms since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
