//! The catalog store (schema, catalog, accounts, profiles, sessions, history,
//! thumbs) against every backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

/// Both backends' migrations create the same tables with the same columns.
#[tokio::test]
async fn schemas_have_the_same_tables_and_columns() {
    let Some(pg) = common::fresh_postgres().await else {
        eprintln!("{} unset: PostgreSQL not tested", common::PG_ENV);
        return;
    };
    let lite = common::fresh_sqlite().await;
    let mut lite_cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' \
         AND m.sql NOT LIKE '%VIRTUAL TABLE%' AND m.name NOT LIKE '%_fts_%'",
    )
    .fetch_all(lite.pool())
    .await
    .unwrap();
    let mut pg_cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%' \
         AND data_type <> 'tsvector'",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap();
    lite_cols.sort();
    pg_cols.sort();
    assert_eq!(lite_cols, pg_cols);
}
