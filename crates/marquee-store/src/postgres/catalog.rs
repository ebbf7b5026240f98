//! The foundation on PostgreSQL: schema, catalog, accounts, profiles,
//! sessions, history and thumbs (the twin of `sqlite/mod.rs`'s `CatalogStore`).

use super::{unique_to_conflict, PgStore, CHUNK};
use crate::changes::Bump;
use crate::{
    CatalogStore, ImportCounts, ImportLink, ImportRating, ImportTag, ImportTitle, NewAccount,
    Result, SessionRecord, StoreError, TitleQuery, TitleSort,
};
use async_trait::async_trait;
use marquee_domain::{
    Account, Credentials, ExternalLinks, GenreCount, HistoryEntry, Millis, Plan, Profile, Role,
    TagCount, Thumb, TitleDetail, TitleKind, TitleSummary, MAX_PROFILES_PER_ACCOUNT,
};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};
use std::str::FromStr;

/// Advisory-lock key serialising `refresh_title_stats` (delete + rebuild).
const TITLE_STATS_LOCK: i64 = 0x6d71_0001;

/// The columns [`summary_from_row`] reads, over `titles t LEFT JOIN title_stats s`.
pub(crate) const SUMMARY_COLS: &str = "t.id, t.kind, t.name, t.year::INT AS year, \
     COALESCE(s.plays, 0) AS plays, \
     CASE WHEN s.rating_count > 0 THEN s.rating_sum / s.rating_count END AS avg_rating, \
     (SELECT string_agg(g.name, '|') FROM title_genres tg JOIN genres g ON g.id = tg.genre_id \
      WHERE tg.title_id = t.id) AS genre_list";

/// A title summary from a row selecting [`SUMMARY_COLS`].
pub(crate) fn summary_from_row(row: &PgRow) -> Result<TitleSummary> {
    let kind: String = row.try_get("kind")?;
    let genres: Option<String> = row.try_get("genre_list")?;
    let mut genres: Vec<String> = genres
        .unwrap_or_default()
        .split('|')
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    genres.sort();
    Ok(TitleSummary {
        id: row.try_get("id")?,
        kind: TitleKind::from_str(&kind)
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))?,
        name: row.try_get("name")?,
        year: row.try_get("year")?,
        genres,
        popularity: row.try_get("plays")?,
        avg_rating: row.try_get("avg_rating")?,
    })
}

pub(crate) fn account_from_row(row: &PgRow) -> Result<Account> {
    let role: String = row.try_get("role")?;
    let plan: String = row.try_get("plan")?;
    Ok(Account {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        role: Role::from_str(&role)
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))?,
        plan: Plan::from_str(&plan)
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))?,
        created_at: row.try_get("created_at")?,
        must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
    })
}

pub(crate) fn profile_from_row(row: &PgRow) -> Result<Profile> {
    Ok(Profile {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        is_kids: row.try_get::<i64, _>("is_kids")? != 0,
        created_at: row.try_get("created_at")?,
    })
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

const ACCOUNT_COLS: &str = "id, email, role, plan, created_at, must_change_password";

#[async_trait]
impl CatalogStore for PgStore {
    async fn migrate(&self) -> Result<()> {
        self.migrate_schema().await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn meta_get(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn meta_set(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn import_titles(
        &self,
        source: &str,
        rows: &[ImportTitle],
        now: Millis,
    ) -> Result<ImportCounts> {
        let _changed = self.changes.on_return(Bump::All);
        let mut counts = ImportCounts::default();
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(CHUNK) {
            let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
                "INSERT INTO titles(kind, name, year, source, external_id, created_at) ",
            );
            qb.push_values(chunk, |mut b, t| {
                b.push_bind("movie")
                    .push_bind(&t.name)
                    .push_bind(t.year.map(i64::from))
                    .push_bind(source)
                    .push_bind(t.external_id)
                    .push_bind(now);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            let done = qb.build().execute(&mut *tx).await?.rows_affected();
            counts.imported += done;
            counts.unchanged += chunk.len() as u64 - done;

            let pairs: Vec<(i64, &str)> = chunk
                .iter()
                .flat_map(|t| t.genres.iter().map(move |g| (t.external_id, g.as_str())))
                .collect();
            for pchunk in pairs.chunks(CHUNK) {
                let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("INSERT INTO genres(name) ");
                qb.push_values(pchunk, |mut b, (_, g)| {
                    b.push_bind(*g);
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(&mut *tx).await?;
                let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
                    "INSERT INTO title_genres(title_id, genre_id) SELECT t.id, g.id FROM (",
                );
                qb.push_values(pchunk, |mut b, (ext, g)| {
                    b.push_bind(*ext).push_bind(*g);
                });
                qb.push(") v JOIN titles t ON t.source = ")
                    .push_bind(source)
                    .push(" AND t.external_id = v.column1 JOIN genres g ON g.name = v.column2")
                    .push(" ON CONFLICT DO NOTHING");
                qb.build().execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    async fn import_tags(&self, source: &str, rows: &[ImportTag]) -> Result<ImportCounts> {
        import_per_title(
            &self.pool,
            source,
            rows,
            |r| r.external_title,
            "INSERT INTO title_tags(title_id, tag, source_user, tagged_at) \
             SELECT t.id, v.column2, v.column3, v.column4 FROM (",
            |mut b, r| {
                b.push_bind(r.external_title)
                    .push_bind(r.tag.clone())
                    .push_bind(r.external_user)
                    .push_bind(r.at);
            },
        )
        .await
    }

    async fn import_links(&self, source: &str, rows: &[ImportLink]) -> Result<ImportCounts> {
        import_per_title(
            &self.pool,
            source,
            rows,
            |r| r.external_title,
            "INSERT INTO title_links(title_id, imdb_id, tmdb_id) \
             SELECT t.id, v.column2, v.column3 FROM (",
            |mut b, r| {
                b.push_bind(r.external_title)
                    .push_bind(r.imdb.clone())
                    .push_bind(r.tmdb);
            },
        )
        .await
    }

    async fn import_viewers(
        &self,
        source: &str,
        users: &[i64],
        password_hash: &str,
        now: Millis,
    ) -> Result<ImportCounts> {
        let _changed = self.changes.on_return(Bump::All);
        let mut counts = ImportCounts::default();
        let mut tx = self.pool.begin().await?;
        for chunk in users.chunks(CHUNK) {
            let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
                "INSERT INTO accounts(email, password_hash, role, plan, source, external_id, created_at) ",
            );
            qb.push_values(chunk, |mut b, uid| {
                let email = if source == "movielens" {
                    format!("viewer{uid}@demo.marquee")
                } else {
                    format!("{source}-viewer{uid}@demo.marquee")
                };
                let plan = match uid % 3 {
                    0 => "premium",
                    1 => "standard",
                    _ => "basic",
                };
                b.push_bind(email)
                    .push_bind(password_hash)
                    .push_bind("viewer")
                    .push_bind(plan)
                    .push_bind(source)
                    .push_bind(*uid)
                    .push_bind(now);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            let done = qb.build().execute(&mut *tx).await?.rows_affected();
            counts.imported += done;
            counts.unchanged += chunk.len() as u64 - done;
        }
        sqlx::query(
            "INSERT INTO profiles(account_id, name, created_at) \
             SELECT a.id, 'Viewer ' || a.external_id, $1 FROM accounts a \
             WHERE a.source = $2 AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.account_id = a.id)",
        )
        .bind(now)
        .bind(source)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(counts)
    }

    async fn import_ratings(&self, source: &str, rows: &[ImportRating]) -> Result<ImportCounts> {
        let _changed = self.changes.on_return(Bump::All);
        let mut counts = ImportCounts::default();
        let mut tx = self.pool.begin().await?;
        const JOIN: &str = ") v JOIN accounts a ON a.source = ";
        for chunk in rows.chunks(CHUNK) {
            let build = |head: &str, select: &str, only_thumbs: bool, tail: &str| {
                let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(head);
                qb.push(select);
                let rows: Vec<&ImportRating> = chunk
                    .iter()
                    .filter(|r| !only_thumbs || Thumb::from_stars(r.stars).is_some())
                    .collect();
                qb.push_values(rows, |mut b, r| {
                    b.push_bind(r.external_user)
                        .push_bind(r.external_title)
                        .push_bind(r.at)
                        .push_bind(f64::from(r.stars))
                        .push_bind(Thumb::from_stars(r.stars).map(Thumb::value));
                });
                qb.push(JOIN)
                    .push_bind(source.to_string())
                    .push(
                        " AND a.external_id = v.column1 \
                         JOIN profiles p ON p.id = (SELECT MIN(id) FROM profiles WHERE account_id = a.id) \
                         JOIN titles t ON t.source = ",
                    )
                    .push_bind(source.to_string())
                    .push(" AND t.external_id = v.column2")
                    .push(tail);
                qb
            };
            let mut q = build("", "SELECT COUNT(*) FROM (", false, "");
            let matched: i64 = q.build_query_scalar().fetch_one(&mut *tx).await?;
            let matched = matched as u64;
            let mut q = build(
                "INSERT INTO watch_history(profile_id, title_id, watched_at, rating, source) ",
                "SELECT p.id, t.id, v.column3, v.column4, 'import' FROM (",
                false,
                " ON CONFLICT DO NOTHING",
            );
            let done = q.build().execute(&mut *tx).await?.rows_affected();
            if chunk.iter().any(|r| Thumb::from_stars(r.stars).is_some()) {
                let mut q = build(
                    "INSERT INTO feedback(profile_id, title_id, value, updated_at) ",
                    "SELECT p.id, t.id, v.column5, v.column3 FROM (",
                    true,
                    " ON CONFLICT DO NOTHING",
                );
                q.build().execute(&mut *tx).await?;
            }
            counts.imported += done;
            counts.unchanged += matched - done;
            counts.rejected += chunk.len() as u64 - matched;
        }
        tx.commit().await?;
        Ok(counts)
    }

    async fn refresh_title_stats(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(TITLE_STATS_LOCK)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM title_stats")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO title_stats(title_id, plays, rating_count, rating_sum) \
             SELECT title_id, COUNT(*), COUNT(rating), COALESCE(SUM(rating), 0) \
             FROM watch_history GROUP BY title_id",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn count_titles(&self, kind: Option<TitleKind>) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM titles WHERE $1::TEXT IS NULL OR kind = $1")
                .bind(kind.map(TitleKind::as_str))
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn list_titles(&self, q: &TitleQuery) -> Result<Vec<TitleSummary>> {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("SELECT ");
        qb.push(SUMMARY_COLS);
        qb.push(
            " FROM titles t LEFT JOIN title_stats s ON s.title_id = t.id WHERE t.kind != 'episode'",
        );
        if let Some(kind) = q.kind {
            qb.push(" AND t.kind = ").push_bind(kind.as_str());
        }
        if let Some(genre) = &q.genre {
            qb.push(
                " AND EXISTS (SELECT 1 FROM title_genres tg JOIN genres g ON g.id = tg.genre_id \
                 WHERE tg.title_id = t.id AND g.name = ",
            )
            .push_bind(genre)
            .push(")");
        }
        qb.push(match q.sort {
            TitleSort::Popular => " ORDER BY plays DESC, t.id ASC",
            TitleSort::Name => " ORDER BY lower(t.name) ASC, t.id ASC",
            TitleSort::Newest => " ORDER BY t.year IS NULL, t.year DESC, plays DESC, t.id ASC",
        });
        qb.push(" LIMIT ").push_bind(i64::from(q.limit));
        qb.push(" OFFSET ").push_bind(i64::from(q.offset));
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(summary_from_row).collect()
    }

    async fn title(&self, id: i64) -> Result<Option<TitleDetail>> {
        let sql = format!(
            "SELECT {SUMMARY_COLS}, t.duration_s, t.series_id, se.number::INT AS season_number, \
             t.episode_number::INT AS episode_number, l.imdb_id, l.tmdb_id \
             FROM titles t LEFT JOIN title_stats s ON s.title_id = t.id \
             LEFT JOIN seasons se ON se.id = t.season_id \
             LEFT JOIN title_links l ON l.title_id = t.id WHERE t.id = $1"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let summary = summary_from_row(&row)?;
        let tags = sqlx::query(
            "SELECT MIN(tag) AS tag, COUNT(*) AS n FROM title_tags WHERE title_id = $1 \
             GROUP BY lower(tag) ORDER BY n DESC, lower(tag) ASC LIMIT 30",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(TagCount {
                tag: r.try_get("tag")?,
                count: r.try_get("n")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(Some(TitleDetail {
            summary,
            tags,
            links: ExternalLinks {
                imdb: row.try_get("imdb_id")?,
                tmdb: row.try_get("tmdb_id")?,
            },
            duration_s: row.try_get("duration_s")?,
            series_id: row.try_get("series_id")?,
            season: row.try_get("season_number")?,
            episode: row.try_get("episode_number")?,
        }))
    }

    async fn search_titles(&self, q: &str, limit: u32) -> Result<Vec<TitleSummary>> {
        let Some(tsq) = tsquery_all_prefixes(q) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {SUMMARY_COLS}, ts_rank(t.name_tsv, q.q)::DOUBLE PRECISION AS rank \
             FROM titles t CROSS JOIN to_tsquery('simple', $1) AS q(q) \
             LEFT JOIN title_stats s ON s.title_id = t.id \
             WHERE (t.name_tsv @@ q.q OR (t.name !~ '^[[:ascii:]]*$' \
                    AND to_tsvector('simple', translate(lower(t.name), $2, $3)) @@ q.q)) \
             AND t.kind != 'episode' ORDER BY rank DESC, t.id LIMIT 200"
        );
        let rows = sqlx::query(&sql)
            .bind(tsq)
            .bind(ACCENTED)
            .bind(PLAIN)
            .fetch_all(&self.pool)
            .await?;
        let mut scored = rows
            .iter()
            .map(|r| {
                let rank: f64 = r.try_get("rank")?;
                let t = summary_from_row(r)?;
                // ts_rank is higher-is-better and about a tenth of bm25's
                // scale; popularity breaks near-ties as on SQLite.
                let score = 10.0 * rank + 0.35 * ((1 + t.popularity.max(0)) as f64).ln();
                Ok((score, t))
            })
            .collect::<Result<Vec<_>>>()?;
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
        Ok(scored
            .into_iter()
            .take(limit as usize)
            .map(|(_, t)| t)
            .collect())
    }

    async fn genres(&self) -> Result<Vec<GenreCount>> {
        sqlx::query(
            "SELECT g.name, COUNT(tg.title_id) AS n FROM genres g \
             JOIN title_genres tg ON tg.genre_id = g.id GROUP BY g.id ORDER BY n DESC, g.name ASC",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(GenreCount {
                name: r.try_get("name")?,
                titles: r.try_get("n")?,
            })
        })
        .collect()
    }

    async fn create_account(&self, new: &NewAccount, now: Millis) -> Result<Account> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts(email, password_hash, role, plan, must_change_password, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&new.email)
        .bind(&new.password_hash)
        .bind(new.role.as_str())
        .bind(new.plan.as_str())
        .bind(i64::from(new.must_change_password))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_to_conflict(e, "email"))?;
        sqlx::query("INSERT INTO profiles(account_id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(&new.first_profile)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Account {
            id,
            email: new.email.clone(),
            role: new.role,
            plan: new.plan,
            created_at: now,
            must_change_password: new.must_change_password,
        })
    }

    async fn credentials(&self, email: &str) -> Result<Option<Credentials>> {
        let sql = format!("SELECT {ACCOUNT_COLS}, password_hash FROM accounts WHERE email = $1");
        let Some(row) = sqlx::query(&sql)
            .bind(email)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Credentials {
            account: account_from_row(&row)?,
            password_hash: row.try_get("password_hash")?,
        }))
    }

    async fn account(&self, id: i64) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(account_from_row)
            .transpose()
    }

    async fn list_accounts(&self, limit: u32, offset: u32) -> Result<Vec<Account>> {
        let sql =
            format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY id DESC LIMIT $1 OFFSET $2");
        sqlx::query(&sql)
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(account_from_row)
            .collect()
    }

    async fn count_accounts(&self, role: Option<Role>) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE $1::TEXT IS NULL OR role = $1")
                .bind(role.map(Role::as_str))
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn set_password(&self, account_id: i64, hash: &str, must_change: bool) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Auth);
        let n = sqlx::query(
            "UPDATE accounts SET password_hash = $1, must_change_password = $2 WHERE id = $3",
        )
        .bind(hash)
        .bind(i64::from(must_change))
        .bind(account_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound { what: "account" });
        }
        Ok(())
    }

    async fn set_role(&self, account_id: i64, role: Role) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Auth);
        let n = sqlx::query("UPDATE accounts SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(account_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound { what: "account" });
        }
        Ok(())
    }

    async fn profiles(&self, account_id: i64) -> Result<Vec<Profile>> {
        sqlx::query("SELECT * FROM profiles WHERE account_id = $1 ORDER BY id")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(profile_from_row)
            .collect()
    }

    async fn profile(&self, id: i64) -> Result<Option<Profile>> {
        sqlx::query("SELECT * FROM profiles WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(profile_from_row)
            .transpose()
    }

    async fn create_profile(
        &self,
        account_id: i64,
        name: &str,
        is_kids: bool,
        now: Millis,
    ) -> Result<Profile> {
        let _changed = self.changes.on_return(Bump::Auth);
        // The account row is locked so that two concurrent adds cannot both
        // pass the count check (SQLite gets this from its single writer).
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT id FROM accounts WHERE id = $1 FOR UPDATE")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "INSERT INTO profiles(account_id, name, is_kids, created_at) \
             SELECT $1, $2, $3, $4 WHERE (SELECT COUNT(*) FROM profiles WHERE account_id = $1) < $5 \
             RETURNING *",
        )
        .bind(account_id)
        .bind(name)
        .bind(i64::from(is_kids))
        .bind(now)
        .bind(MAX_PROFILES_PER_ACCOUNT as i64)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| unique_to_conflict(e, "name"))?;
        let profile = match row {
            Some(r) => profile_from_row(&r)?,
            None => {
                return Err(StoreError::Limit {
                    field: "name",
                    message: format!("an account has at most {MAX_PROFILES_PER_ACCOUNT} profiles"),
                })
            }
        };
        tx.commit().await?;
        Ok(profile)
    }

    async fn create_session(
        &self,
        token_hash: &str,
        account_id: i64,
        profile_id: Option<i64>,
        csrf_token: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Auth);
        // Expired sessions are swept on each log-in.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions(token_hash, account_id, profile_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(account_id)
        .bind(profile_id)
        .bind(csrf_token)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: Millis) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT a.id, a.email, a.role, a.plan, a.created_at, a.must_change_password, \
             s.profile_id, s.csrf_token, s.expires_at \
             FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
            account: account_from_row(&row)?,
            profile_id: row.try_get("profile_id")?,
            csrf_token: row.try_get("csrf_token")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    async fn set_session_profile(&self, token_hash: &str, profile_id: i64) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Auth);
        sqlx::query("UPDATE sessions SET profile_id = $1 WHERE token_hash = $2")
            .bind(profile_id)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Auth);
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_account_sessions(&self, account_id: i64) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Auth);
        sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn history(&self, profile_id: i64, limit: u32) -> Result<Vec<HistoryEntry>> {
        let sql = format!(
            "SELECT {SUMMARY_COLS}, h.watched_at, h.rating, f.value AS thumb FROM watch_history h \
             JOIN titles t ON t.id = h.title_id LEFT JOIN title_stats s ON s.title_id = t.id \
             LEFT JOIN feedback f ON f.profile_id = h.profile_id AND f.title_id = h.title_id \
             WHERE h.profile_id = $1 ORDER BY h.watched_at DESC, h.id DESC LIMIT $2"
        );
        sqlx::query(&sql)
            .bind(profile_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let rating: Option<f64> = r.try_get("rating")?;
                Ok(HistoryEntry {
                    title: summary_from_row(r)?,
                    watched_at: r.try_get("watched_at")?,
                    rating: rating.map(|v| v as f32),
                    thumb: r
                        .try_get::<Option<i64>, _>("thumb")?
                        .and_then(Thumb::from_value),
                })
            })
            .collect()
    }

    async fn set_feedback(
        &self,
        profile_id: i64,
        title_id: i64,
        thumb: Option<Thumb>,
        now: Millis,
    ) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Profile(profile_id));
        match thumb {
            Some(t) => {
                sqlx::query(
                    "INSERT INTO feedback(profile_id, title_id, value, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT(profile_id, title_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(profile_id)
                .bind(title_id)
                .bind(t.value())
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::NotFound { what: "title" }
                    }
                    _ => e.into(),
                })?;
            }
            None => {
                sqlx::query("DELETE FROM feedback WHERE profile_id = $1 AND title_id = $2")
                    .bind(profile_id)
                    .bind(title_id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    async fn feedback(&self, profile_id: i64, title_id: i64) -> Result<Option<Thumb>> {
        let v: Option<i64> = sqlx::query_scalar(
            "SELECT value FROM feedback WHERE profile_id = $1 AND title_id = $2",
        )
        .bind(profile_id)
        .bind(title_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(v.and_then(Thumb::from_value))
    }
}

/// Imports rows that hang off a title (tags, links): `head` is an
/// `INSERT … SELECT t.id, v.column2… FROM (` whose VALUES rows start with the
/// external title id; rows for unknown titles are counted as rejected.
async fn import_per_title<T>(
    pool: &PgPool,
    source: &str,
    rows: &[T],
    title_of: impl Fn(&T) -> i64,
    head: &str,
    mut bind: impl FnMut(sqlx::query_builder::Separated<'_, '_, Postgres, &'static str>, &T),
) -> Result<ImportCounts> {
    let mut counts = ImportCounts::default();
    let mut tx = pool.begin().await?;
    for chunk in rows.chunks(CHUNK) {
        let matched = matched_titles(&mut tx, source, chunk.iter().map(&title_of)).await?;
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(head);
        qb.push_values(chunk, &mut bind);
        qb.push(") v JOIN titles t ON t.source = ")
            .push_bind(source.to_string())
            .push(" AND t.external_id = v.column1 ON CONFLICT DO NOTHING");
        let done = qb.build().execute(&mut *tx).await?.rows_affected();
        counts.imported += done;
        counts.unchanged += matched - done;
        counts.rejected += chunk.len() as u64 - matched;
    }
    tx.commit().await?;
    Ok(counts)
}

/// How many of the given external title ids exist (counting repeats).
async fn matched_titles(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    source: &str,
    ids: impl Iterator<Item = i64>,
) -> Result<u64> {
    let ids: Vec<i64> = ids.collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("SELECT COUNT(*) FROM (");
    qb.push_values(&ids, |mut b, id| {
        b.push_bind(*id);
    });
    qb.push(") v JOIN titles t ON t.source = ")
        .push_bind(source)
        .push(" AND t.external_id = v.column1");
    let n: i64 = qb.build_query_scalar().fetch_one(&mut **tx).await?;
    Ok(n as u64)
}
