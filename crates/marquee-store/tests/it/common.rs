//! Fresh stores of each backend for the backend-generic store tests.
//!
//! A test file writes its checks once, as `async fn check_x(s: &S)` generic
//! over the store traits it needs, and lists them in [`both_backends!`]: each
//! check becomes a module with a `sqlite` and a `postgres` test. The PostgreSQL
//! one runs against a fresh database when `MARQUEE_TEST_POSTGRES` holds an
//! admin URL (e.g. `postgres://postgres@127.0.0.1:5432`), is a no-op when it
//! is unset, and fails when it is set but the server cannot be reached.

#![allow(dead_code, unused_macros, clippy::unwrap_used, clippy::expect_used)]

use marquee_domain::{Plan, Role};
use marquee_store::postgres::PgStore;
use marquee_store::sqlite::SqliteStore;
use marquee_store::{CatalogStore, NewAccount};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming the PostgreSQL admin URL.
pub const PG_ENV: &str = "MARQUEE_TEST_POSTGRES";

/// Prefix of the databases these helpers create (`mqt_<pid>_<n>`).
const DB_PREFIX: &str = "mqt_";

static SEQ: AtomicU64 = AtomicU64::new(0);

fn unique_suffix() -> String {
    format!(
        "{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh, migrated SQLite store in its own file under Cargo's per-target
/// temporary directory.
pub async fn fresh_sqlite() -> SqliteStore {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("marquee-store-tests");
    std::fs::create_dir_all(&dir).expect("create the test database directory");
    let path = dir.join(format!("{}.db", unique_suffix()));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    let url = format!("sqlite://{}", path.display());
    let s = SqliteStore::open(&url, 4).await.expect("open sqlite");
    s.migrate().await.expect("migrate sqlite");
    s
}

/// The admin connection options from `MARQUEE_TEST_POSTGRES`, if set.
pub fn postgres_admin() -> Option<PgConnectOptions> {
    let url = std::env::var(PG_ENV)
        .ok()
        .filter(|u| !u.trim().is_empty())?;
    Some(
        PgConnectOptions::from_str(url.trim())
            .unwrap_or_else(|e| panic!("{PG_ENV}={url:?} is not a PostgreSQL URL: {e}")),
    )
}

/// Drops the databases earlier test processes left behind (their pid is gone).
async fn drop_stale(admin: &mut sqlx::PgConnection) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'mqt\\_%' AND datistemplate = false",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    for name in names {
        let pid = name
            .strip_prefix(DB_PREFIX)
            .and_then(|r| r.split('_').next())
            .and_then(|p| p.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = (&mut *admin)
            .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
            .await;
    }
}

/// Creates an empty database with a unique name and returns its options.
/// Panics (failing the test) when `MARQUEE_TEST_POSTGRES` is set but the
/// server is unreachable.
pub async fn fresh_postgres_db() -> Option<PgConnectOptions> {
    static CLEANED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let admin_opts = postgres_admin()?;
    let mut admin = admin_opts
        .clone()
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{PG_ENV} is set but PostgreSQL is unreachable: {e}"));
    CLEANED
        .get_or_init(|| async {
            let mut c = admin_opts
                .clone()
                .connect()
                .await
                .expect("admin connection");
            drop_stale(&mut c).await;
            let _ = c.close().await;
        })
        .await;
    let name = format!("{DB_PREFIX}{}", unique_suffix());
    (&mut admin)
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    let _ = admin.close().await;
    Some(admin_opts.database(&name))
}

/// A fresh, migrated PostgreSQL store in its own database, or `None` when
/// `MARQUEE_TEST_POSTGRES` is unset.
pub async fn fresh_postgres() -> Option<PgStore> {
    let opts = fresh_postgres_db().await?;
    let s = PgStore::open_with(opts, 4).await.expect("open postgres");
    s.migrate_schema().await.expect("migrate postgres");
    Some(s)
}

/// Plain SQL, for rows whose own store is another feature's, and for what no
/// store call does (and must not be able to do).
#[async_trait::async_trait]
pub trait Raw {
    async fn try_exec(&self, sql: &str) -> Result<u64, sqlx::Error>;
    async fn count(&self, sql: &str) -> i64;
    async fn exec(&self, sql: &str) {
        self.try_exec(sql).await.unwrap();
    }
}

/// The same raw SQL for both backends: they differ only in the pool type.
macro_rules! impl_raw {
    ($($store:ty),+) => {$(
        #[async_trait::async_trait]
        impl Raw for $store {
            async fn try_exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
                Ok(sqlx::raw_sql(sql)
                    .execute(self.pool())
                    .await?
                    .rows_affected())
            }
            async fn count(&self, sql: &str) -> i64 {
                sqlx::query_scalar(sql)
                    .fetch_one(self.pool())
                    .await
                    .unwrap()
            }
        }
    )+};
}

impl_raw!(SqliteStore, PgStore);

/// A new account created at `at`, its first profile named after the
/// e-mail's local part; its id.
pub async fn account_at<S: CatalogStore>(
    s: &S,
    email: &str,
    role: Role,
    plan: Plan,
    at: i64,
) -> i64 {
    s.create_account(
        &NewAccount {
            email: email.into(),
            password_hash: "x".into(),
            role,
            plan,
            must_change_password: false,
            first_profile: email.split('@').next().unwrap_or(email).into(),
            email_verified: true,
        },
        at,
    )
    .await
    .unwrap()
    .id
}

/// A new standard-plan account; its id.
pub async fn account<S: CatalogStore>(s: &S, email: &str, role: Role) -> i64 {
    account_at(s, email, role, Plan::Standard, 1).await
}

/// Turns generic checks into one test per backend:
/// `both_backends!(check_a, check_b);` (after `#[macro_use] mod common;`) gives `check_a::sqlite`,
/// `check_a::postgres`, ... Each check is `async fn check_a<S>(s: &S)` with
/// whatever store-trait bounds it needs (both `SqliteStore` and `PgStore`
/// must satisfy them).
macro_rules! both_backends {
    ($($check:ident),+ $(,)?) => {
        $(
            mod $check {
                #[tokio::test]
                async fn sqlite() {
                    let s = crate::common::fresh_sqlite().await;
                    super::$check(&s).await;
                }

                #[tokio::test]
                async fn postgres() {
                    match crate::common::fresh_postgres().await {
                        Some(s) => super::$check(&s).await,
                        None => eprintln!("{} unset: PostgreSQL not tested", crate::common::PG_ENV),
                    }
                }
            }
        )+
    };
}

/// Runs `workers` claimers at once (as on several server instances), each
/// calling `claim` until it returns nothing; returns every id claimed, by
/// anyone, in no particular order.
pub async fn claim_concurrently<F, Fut>(workers: usize, claim: F) -> Vec<i64>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Vec<i64>> + Send,
{
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let claim = claim.clone();
        tasks.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = claim().await;
                if got.is_empty() {
                    break;
                }
                mine.extend(got);
                tokio::task::yield_now().await;
            }
            mine
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.unwrap());
    }
    all
}
