//! Test-only helpers shared by Marquee's test suites (a dev-dependency only).
//!
//! PostgreSQL: when `MARQUEE_TEST_POSTGRES` holds an admin URL (e.g.
//! `postgres://postgres@127.0.0.1:5432`), tests create databases of their
//! own on that server, named `{prefix}{pid}_…` by [`pg_database_name`], so
//! that the first [`pg_admin`] of a later run drops what a dead test process
//! left behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod tiny_encoder;

use marquee_store::postgres::PgAdmin;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::OnceCell;

/// The PostgreSQL admin URL the suites run against, when set.
pub fn pg_admin_url() -> Option<String> {
    std::env::var("MARQUEE_TEST_POSTGRES")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
}

/// A new database name: `prefix`, this process's id, a sequence number.
pub fn pg_database_name(prefix: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// An admin connection; panics (fails the test) when the server is
/// unreachable. The first one in a process drops the databases under
/// `prefixes` that earlier, dead, test processes left.
pub async fn pg_admin(url: &str, prefixes: &[&str]) -> PgAdmin {
    static CLEANED: OnceCell<()> = OnceCell::const_new();
    let admin = PgAdmin::connect(url)
        .await
        .unwrap_or_else(|e| panic!("MARQUEE_TEST_POSTGRES is set but unreachable: {e}"));
    CLEANED
        .get_or_init(|| async {
            for prefix in prefixes {
                for name in admin.databases(prefix).await.unwrap_or_default() {
                    let pid = name[prefix.len()..]
                        .split('_')
                        .next()
                        .and_then(|p| p.parse::<u32>().ok());
                    if let Some(pid) = pid {
                        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
                        {
                            let _ = admin.drop_database(&name).await;
                        }
                    }
                }
            }
        })
        .await;
    admin
}

/// Drops a database from a thread of its own (for `Drop`, which cannot
/// await); a database left behind is dropped by a later run.
pub fn drop_pg_database_blocking(url: &str, name: &str) {
    let (url, name) = (url.to_string(), name.to_string());
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if let Ok(admin) = PgAdmin::connect(&url).await {
                let _ = admin.drop_database(&name).await;
                admin.close().await;
            }
        });
    })
    .join();
}

/// Asserts that a finished command succeeded, showing its exit status,
/// stdout and stderr when it did not; returns its stdout.
#[track_caller]
pub fn assert_ok(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
