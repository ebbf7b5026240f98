//! PostgreSQL's side of the catalog; the store itself is `sql/catalog.rs`.
//! What is here differs from SQLite for a reason given with each item.

use super::catalog::{MatchRow, SUMMARY_COLS};
use super::PgStore;
use crate::Result;

impl PgStore {
    /// What [`crate::CatalogStore::close`] does: closes the pool (there is
    /// no local file to tidy, unlike SQLite's WAL).
    pub(super) async fn shut_down(&self) {
        self.pool.close().await;
    }
}

/// Turns free text into a safe tsquery: each word (alphanumerics only,
/// lower-cased) becomes a prefix term, all of them required. The result is
/// bound as a parameter of `to_tsquery('simple', $n)`, never spliced into SQL.
pub(crate) fn tsquery_all_prefixes(q: &str) -> Option<String> {
    let terms: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(12)
        .map(|w| format!("{}:*", fold(&w.to_lowercase())))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" & "))
}

/// Accented letters and their plain forms, for diacritic-insensitive search
/// (SQLite's FTS5 tokenizer removes diacritics; PostgreSQL's 'simple' does not).
const ACCENTED: &str = "áàâäãåāăąéèêëēĕėęěíìîïĩīĭįóòôöõøōŏőúùûüũūŭůűųñńňçćčýÿśšźżžłďťř";
const PLAIN: &str = "aaaaaaaaaeeeeeeeeeiiiiiiiiooooooooouuuuuuuuuunnncccyysszzzldtr";

/// Lower-case text with [`ACCENTED`] letters replaced by their [`PLAIN`] form.
fn fold(w: &str) -> String {
    w.chars()
        .map(|c| match ACCENTED.chars().position(|a| a == c) {
            Some(i) => PLAIN.chars().nth(i).unwrap_or(c),
            None => c,
        })
        .collect()
}

/// Up to 200 titles (episodes aside) whose name matches every word of `q`
/// as a prefix, most relevant first. Why per dialect: PostgreSQL matches a
/// `'simple'` tsquery against the generated `titles.name_tsv` (names with
/// accents also through their folded form) and ranks by `ts_rank`, about a
/// tenth of bm25's scale, hence the factor of ten.
pub(super) async fn title_matches(s: &PgStore, q: &str) -> Result<Vec<MatchRow>> {
    let Some(tsq) = tsquery_all_prefixes(q) else {
        return Ok(Vec::new());
    };
    Ok(sqlx::query_as(&format!(
        "SELECT {SUMMARY_COLS}, 10 * ts_rank(t.name_tsv, q.q)::DOUBLE PRECISION AS relevance \
         FROM titles t CROSS JOIN to_tsquery('simple', $1) AS q(q) \
         LEFT JOIN title_stats s ON s.title_id = t.id \
         WHERE (t.name_tsv @@ q.q OR (t.name !~ '^[[:ascii:]]*$' \
                AND to_tsvector('simple', translate(lower(t.name), $2, $3)) @@ q.q)) \
         AND t.kind != 'episode' ORDER BY relevance DESC, t.id LIMIT 200"
    ))
    .bind(tsq)
    .bind(ACCENTED)
    .bind(PLAIN)
    .fetch_all(&s.pool)
    .await?)
}
