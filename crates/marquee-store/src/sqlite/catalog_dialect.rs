//! SQLite's side of the catalog; the store itself is `sql/catalog.rs`. What
//! is here differs from PostgreSQL for a reason given with each item.

use super::catalog::{MatchRow, SUMMARY_COLS};
use super::{fts_query, SqliteStore};
use crate::Result;

impl SqliteStore {
    /// Brings the schema up to date (what [`crate::CatalogStore::migrate`]
    /// does): SQLite's own migrations (FTS5 tables and their triggers).
    pub(crate) async fn migrate_schema(&self) -> Result<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// What [`crate::CatalogStore::close`] does: folds the WAL into the main
    /// file so that the database is one file at rest, then closes the
    /// writer's connection and the pool.
    pub(super) async fn shut_down(&self) {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint on close failed");
        }
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// Up to 200 titles (episodes aside) whose name matches every word of `q`
/// as a prefix, most relevant first. Why per dialect: SQLite searches the
/// FTS5 table `titles_fts` (its tokenizer folds diacritics) and ranks by
/// bm25, lower-is-better, hence the minus.
pub(super) async fn title_matches(s: &SqliteStore, q: &str) -> Result<Vec<MatchRow>> {
    let Some(fts) = fts_query(q) else {
        return Ok(Vec::new());
    };
    Ok(sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLS}, -bm25(titles_fts) AS relevance FROM titles_fts \
         JOIN titles t ON t.id = titles_fts.rowid LEFT JOIN title_stats s ON s.title_id = t.id \
         WHERE titles_fts MATCH $1 AND t.kind != 'episode' ORDER BY relevance DESC LIMIT 200"
    ))
    .bind(fts)
    .fetch_all(&s.pool)
    .await?)
}
