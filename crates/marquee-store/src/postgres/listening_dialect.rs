//! PostgreSQL's side of social listening; the store itself is
//! `sql/listening.rs`. What is here differs from SQLite for a reason given
//! with each item.

use super::{Conn, Db};
use crate::Result;
use marquee_domain::textmatch::TextMatch;
use sqlx::QueryBuilder;

/// A word as a tsquery operand: letters and digits only, lower-cased, so
/// that nothing typed can be read as tsquery syntax.
pub(crate) fn ts_word(w: &str) -> String {
    w.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Renders a match as a tsquery: an OR of AND-groups of word prefixes,
/// `(a:* & b:*) | (c:*)`. `None` when nothing is left to match (which must
/// match nothing, as an empty FTS5 query does).
pub(crate) fn tsquery(m: &TextMatch) -> Option<String> {
    let groups: Vec<String> = m
        .groups
        .iter()
        .filter_map(|g| {
            let terms: Vec<String> = g
                .iter()
                .map(|t| ts_word(t))
                .filter(|t| !t.is_empty())
                .map(|t| format!("{t}:*"))
                .collect();
            (!terms.is_empty()).then(|| format!("({})", terms.join(" & ")))
        })
        .collect();
    (!groups.is_empty()).then(|| groups.join(" | "))
}

/// `AND text matches`; a match with no groups matches nothing. Why per
/// dialect: PostgreSQL matches a `'simple'` tsquery against the generated
/// `posts.text_tsv` column.
pub(super) fn push_matching(qb: &mut QueryBuilder<'_, Db>, m: &TextMatch) {
    match tsquery(m) {
        None => {
            qb.push(" AND FALSE");
        }
        Some(q) => {
            qb.push(" AND text_tsv @@ to_tsquery('simple', ")
                .push_bind(q)
                .push(")");
        }
    }
}

/// Posts are inserted in (source, external_id) order: two concurrent batches
/// with posts in common then take the unique-index locks in the same order
/// and cannot deadlock.
pub(super) const INGEST_IN_KEY_ORDER: bool = true;

/// The claim of due webhooks skips the rows another instance is claiming,
/// rather than waiting for them.
pub(super) const CLAIM_LOCK: &str = " FOR UPDATE SKIP LOCKED";

/// Nothing to tune per ingest on PostgreSQL (SQLite enlarges its page cache).
pub(super) async fn prepare_ingest(_conn: &mut Conn) -> Result<()> {
    Ok(())
}

/// Sets the account of the just-inserted posts whose author has a linked
/// handle. Why per dialect: concurrent batches interleave their ids, so the
/// new posts are named one by one (`= ANY`), not as a range as on SQLite.
pub(super) async fn link_new_posts(conn: &mut Conn, ids: &[i64]) -> Result<()> {
    sqlx::query(
        "UPDATE posts SET account_id = (SELECT h.account_id FROM handle_links h WHERE h.handle = posts.author) \
         WHERE id = ANY($1) AND author IN (SELECT handle FROM handle_links)",
    )
    .bind(ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What keeps posts from arriving while a proposal's matching posts are
/// filled afresh: a lock that an ingest's `INSERT` waits for (and that waits
/// for the ingests under way), so none is both missed by the fill and
/// counted twice by itself.
pub(super) const TRACK_LOCK: &str = "LOCK TABLE posts IN SHARE ROW EXCLUSIVE MODE";
