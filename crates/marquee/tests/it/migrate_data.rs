//! `marquee migrate-data`: a SQLite installation (the demo import) copied into
//! PostgreSQL, verified by counts and checksums; a non-empty target refused.
//! Needs MARQUEE_TEST_POSTGRES (an admin URL, e.g. postgres://postgres@127.0.0.1:5432),
//! which `.ci/run` sets for its PostgreSQL pass.

use crate::common::{command, demo_dir};
use marquee_store::postgres::PgStore;

async fn count(pool: &sqlx::PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn copies_the_demo_installation_and_verifies_it() {
    let Some(admin_url) = marquee_testkit::pg_admin_url() else {
        eprintln!("MARQUEE_TEST_POSTGRES is not set: the PostgreSQL pass of .ci/run runs this");
        return;
    };
    let admin = marquee_testkit::pg_admin(&admin_url, &["marquee_migrate_"]).await;
    let name = marquee_testkit::pg_database_name("marquee_migrate_");
    admin.create_database(&name, None).await.unwrap();
    let target = admin.database_url(&name);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("src.db");
    let src = format!("sqlite://{}", db.display());
    let demo = demo_dir();
    let out = command()
        .env_remove("RUST_BACKTRACE")
        .current_dir(dir.path())
        .env("MARQUEE_DATABASE__URL", &src)
        .args(["import", "movielens"])
        .arg(&demo)
        .output()
        .unwrap();
    marquee_testkit::assert_ok(&out);

    let out = command()
        .env_remove("RUST_BACKTRACE")
        .args(["migrate-data", "--quiet", "--from", &src, "--to", &target])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("counts and checksums equal"), "{stdout}");

    let pg = PgStore::open(&target, 2).await.unwrap();
    let lite = marquee_store::sqlite::SqliteStore::open(&src, 1)
        .await
        .unwrap();
    for table in [
        "titles",
        "title_genres",
        "accounts",
        "profiles",
        "watch_history",
        "feedback",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(lite.pool())
            .await
            .unwrap();
        assert!(n > 0, "{table} is empty in the source");
        assert_eq!(count(pg.pool(), table).await, n, "{table}");
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(table) && l.contains(&format!(" {n} "))),
            "{table} missing from the report:\n{stdout}"
        );
    }
    // Identity sequences continue after the copied ids.
    let max: i64 = sqlx::query_scalar("SELECT MAX(id) FROM accounts")
        .fetch_one(pg.pool())
        .await
        .unwrap();
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO accounts (email, password_hash, role, created_at) \
         VALUES ('new@example.com', 'x', 'viewer', 0) RETURNING id",
    )
    .fetch_one(pg.pool())
    .await
    .unwrap();
    assert!(next > max, "{next} <= {max}");

    // A second copy into the now non-empty target is refused, and changes nothing.
    let before = count(pg.pool(), "titles").await;
    let out = command()
        .env_remove("RUST_BACKTRACE")
        .args(["migrate-data", "--quiet", "--from", &src, "--to", &target])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not empty"), "{stderr}");
    assert_eq!(count(pg.pool(), "titles").await, before);

    pg.pool().close().await;
    admin.drop_database(&name).await.unwrap();
    admin.close().await;
}
