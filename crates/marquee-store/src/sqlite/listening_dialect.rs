//! SQLite's side of social listening; the store itself is `sql/listening.rs`.
//! What is here differs from PostgreSQL for a reason given with each item.

use super::{Conn, Db};
use crate::Result;
use marquee_domain::textmatch::TextMatch;
use sqlx::QueryBuilder;

/// `AND id IN (full-text matches)`; a match with no groups matches nothing.
/// Why per dialect: SQLite matches through the FTS5 table `posts_fts`.
pub(super) fn push_matching(qb: &mut QueryBuilder<'_, Db>, m: &TextMatch) {
    if m.groups.is_empty() {
        qb.push(" AND 0");
        return;
    }
    qb.push(" AND id IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ")
        .push_bind(m.to_fts5())
        .push(")");
}

/// Posts are inserted in the order given: SQLite has one writer at a time, so
/// there is no lock order to keep between concurrent batches.
pub(super) const INGEST_IN_KEY_ORDER: bool = false;

/// The claim of due webhooks needs no row locks: SQLite runs the claiming
/// UPDATE under the database's write lock.
pub(super) const CLAIM_LOCK: &str = "";

/// Ingest touches three indexes of a growing table: give the connection
/// 64 MiB of page cache (SQLite's default is 2 MiB; PostgreSQL has shared
/// buffers instead).
pub(super) async fn prepare_ingest(conn: &mut Conn) -> Result<()> {
    sqlx::query("PRAGMA cache_size = -65536")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Sets the account of the just-inserted posts whose author has a linked
/// handle. Why per dialect: under SQLite's single writer the new posts are
/// exactly the ids from the smallest new one up, a range the primary key
/// scans, where PostgreSQL needs the list itself (`= ANY`).
pub(super) async fn link_new_posts(conn: &mut Conn, ids: &[i64]) -> Result<()> {
    let Some(min_id) = ids.iter().min() else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE posts SET account_id = (SELECT h.account_id FROM handle_links h WHERE h.handle = posts.author) \
         WHERE id >= $1 AND author IN (SELECT handle FROM handle_links)",
    )
    .bind(min_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What keeps posts from arriving while a proposal's matching posts are
/// filled afresh: nothing more on SQLite, whose write transaction already
/// excludes every other writer.
pub(super) const TRACK_LOCK: &str = "";
