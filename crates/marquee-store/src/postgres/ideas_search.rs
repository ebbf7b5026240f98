//! The similar-ideas search of PostgreSQL. WHY per dialect: it matches the
//! stemmed `search_tsv` column with `to_tsquery`; SQLite's twin is FTS5.
//! The rest of the search is `sql/ideas.rs`.

use super::listening::ts_word;
use super::Db;
use crate::ideas::similar_terms;
use sqlx::QueryBuilder;

/// Pushes the FROM of a similar-ideas search and its text match on `i`;
/// `false` (nothing pushed) when the text leaves no term to match.
pub(super) fn push_similar_match(qb: &mut QueryBuilder<'_, Db>, text: &str) -> bool {
    let terms: Vec<String> = similar_terms(text)
        .into_iter()
        .filter_map(|(w, prefix)| {
            let w = ts_word(&w);
            (!w.is_empty()).then(|| if prefix { format!("{w}:*") } else { w })
        })
        .collect();
    if terms.is_empty() {
        return false;
    }
    // Stemmed with the 'english' configuration, as SQLite's porter tokenizer does.
    qb.push(" FROM ideas i, to_tsquery('english', ")
        .push_bind(terms.join(" | "))
        .push(") q WHERE i.search_tsv @@ q");
    true
}

/// Best match first: the title (weight A) counts four times the description
/// (B), as SQLite's `bm25(ideas_fts, 4.0, 1.0)` does.
pub(super) const SIMILAR_RANK: &str = "ts_rank('{0.1, 0.2, 0.25, 1.0}', i.search_tsv, q) DESC";
