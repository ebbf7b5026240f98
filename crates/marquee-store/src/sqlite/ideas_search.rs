//! The similar-ideas search of SQLite. WHY per dialect: it is FTS5 (`MATCH`
//! on the `ideas_fts` table, ranked by `bm25`); PostgreSQL's twin is a
//! tsvector column with `to_tsquery`. The rest of the search is `sql/ideas.rs`.

use super::Db;
use crate::ideas::similar_terms;
use sqlx::QueryBuilder;

/// Pushes the FROM of a similar-ideas search and its text match on `i`;
/// `false` (nothing pushed) when the text leaves no term to match.
pub(super) fn push_similar_match(qb: &mut QueryBuilder<'_, Db>, text: &str) -> bool {
    let Some(fts) = similar_query(text) else {
        return false;
    };
    qb.push(" FROM ideas_fts f JOIN ideas i ON i.id = f.rowid WHERE ideas_fts MATCH ")
        .push_bind(fts);
    true
}

/// Best match first: the title counts four times the description.
pub(super) const SIMILAR_RANK: &str = "bm25(ideas_fts, 4.0, 1.0)";

/// Turns typed text into an FTS5 OR-query of quoted terms (the last one a
/// prefix, as it may still be being typed), without stop words.
fn similar_query(text: &str) -> Option<String> {
    let terms: Vec<String> = similar_terms(text)
        .into_iter()
        .map(|(w, prefix)| {
            if prefix {
                format!("\"{w}\"*")
            } else {
                format!("\"{w}\"")
            }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_query_builds_or_terms() {
        assert_eq!(
            similar_query("Add a dark mode to the ap").as_deref(),
            Some("\"dark\" OR \"mode\" OR \"ap\"*")
        );
        assert_eq!(similar_query("the a ").as_deref(), None);
        assert_eq!(
            similar_query("\"xx\" OR yy*").as_deref(),
            Some("\"xx\" OR \"yy\"")
        );
    }
}
