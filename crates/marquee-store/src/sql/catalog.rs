//! [`CatalogStore`] (the foundation: schema, catalog, import, accounts,
//! profiles, sessions, history and thumbs), written once for both backends
//! (see `sqlite/mod.rs` for the dialect seam this file is compiled against).
//!
//! What is left per dialect lives in `<backend>/catalog_dialect.rs`: the
//! migrations and the shut-down of the pools, and title full-text search
//! (FTS5 vs tsquery).

use super::catalog_dialect::title_matches;
use super::plans::{current_prices, record_event_in};
use super::{lock, unique_to_conflict, Backend, Db, Tx, FOR_UPDATE};
use crate::changes::Bump;
use crate::plans::SubscriptionWrite;
use crate::{
    AccountFilter, CatalogStore, ImportCounts, ImportLink, ImportRating, ImportTag, ImportTitle,
    NewAccount, NewEmailChange, PinTry, Result, SessionRecord, StaffAction, StaffActionRecord,
    StoreError, TitleQuery, TitleSort, TokenPurpose, Visibility,
};
use async_trait::async_trait;
use marquee_domain::plans::{AccountEventKind, AccountStatus, Price};
use marquee_domain::{
    Account, Credentials, ExternalLinks, GenreCount, HistoryEntry, Millis, Plan, Profile, Role,
    TagCount, Thumb, TitleDetail, TitleKind, TitleSummary, MAX_PROFILES_PER_ACCOUNT,
};
use sqlx::query_builder::Separated;
use sqlx::QueryBuilder;
use std::str::FromStr;

// Rows per multi-row INSERT of the import (at most 7 binds each).
use super::CHUNK;

/// Lock key serialising `refresh_title_stats` (delete + rebuild).
const TITLE_STATS_LOCK: i64 = 0x6d71_0001;

/// Adds `AND` conditions keeping to what `v` lets a viewer see, on titles
/// aliased `t` (an episode's series aliased `ser` when `series` is set: the
/// series' rating then stands for an unrated episode's).
pub(crate) fn push_visible<'a>(qb: &mut QueryBuilder<'a, Db>, v: &'a Visibility, series: bool) {
    qb.push(" AND t.hidden = 0");
    if let Some(now) = v.now {
        qb.push(" AND (t.available_from IS NULL OR t.available_from <= ")
            .push_bind(now)
            .push(") AND (t.available_until IS NULL OR t.available_until > ")
            .push_bind(now)
            .push(")");
    }
    let Some(b) = v.audience.bounds() else {
        return;
    };
    let age = if series {
        "COALESCE(t.maturity_age, ser.maturity_age)"
    } else {
        "t.maturity_age"
    };
    let owner = if series {
        "COALESCE(t.series_id, t.id)"
    } else {
        "t.id"
    };
    qb.push(format!(" AND (({age} IS NOT NULL AND {age} <= "))
        .push_bind(i64::from(b.max_age))
        .push(format!(") OR ({age} IS NULL AND "));
    if b.kids_genres.is_empty() {
        qb.push("1 = 0");
    } else {
        qb.push(format!(
            "EXISTS (SELECT 1 FROM title_genres tg JOIN genres g ON g.id = tg.genre_id \
             WHERE tg.title_id = {owner} AND g.name IN ("
        ));
        let mut sep = qb.separated(", ");
        for g in b.kids_genres {
            sep.push_bind(g.as_str());
        }
        qb.push("))");
    }
    if !b.excluded_genres.is_empty() {
        qb.push(format!(
            " AND NOT EXISTS (SELECT 1 FROM title_genres tg JOIN genres g ON g.id = tg.genre_id \
             WHERE tg.title_id = {owner} AND g.name IN ("
        ));
        let mut sep = qb.separated(", ");
        for g in b.excluded_genres {
            sep.push_bind(g.as_str());
        }
        qb.push("))");
    }
    qb.push("))");
}

fn decode_err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(Box::new(e)))
}

/// The columns [`SummaryRow`] reads, over `titles t LEFT JOIN title_stats s`.
pub(crate) const SUMMARY_COLS: &str = "t.id, t.kind, t.name, CAST(t.year AS INTEGER) AS year, \
     COALESCE(s.plays, 0) AS plays, \
     CASE WHEN s.rating_count > 0 THEN s.rating_sum / s.rating_count END AS avg_rating, \
     (SELECT string_agg(g.name, '|') FROM title_genres tg JOIN genres g ON g.id = tg.genre_id \
      WHERE tg.title_id = t.id) AS genre_list";

/// A title summary as [`SUMMARY_COLS`] selects it.
#[derive(sqlx::FromRow)]
pub(crate) struct SummaryRow {
    id: i64,
    kind: String,
    name: String,
    year: Option<i32>,
    plays: i64,
    avg_rating: Option<f64>,
    genre_list: Option<String>,
}

impl TryFrom<SummaryRow> for TitleSummary {
    type Error = StoreError;

    fn try_from(r: SummaryRow) -> Result<TitleSummary> {
        let mut genres: Vec<String> = r
            .genre_list
            .unwrap_or_default()
            .split('|')
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect();
        genres.sort();
        Ok(TitleSummary {
            id: r.id,
            kind: TitleKind::from_str(&r.kind).map_err(decode_err)?,
            name: r.name,
            year: r.year,
            genres,
            popularity: r.plays,
            avg_rating: r.avg_rating,
        })
    }
}

/// A title search hit: [`SUMMARY_COLS`] and `relevance` (higher is better).
#[derive(sqlx::FromRow)]
pub(crate) struct MatchRow {
    #[sqlx(flatten)]
    summary: SummaryRow,
    relevance: f64,
}

const ACCOUNT_COLS: &str = "id, email, role, plan, created_at, must_change_password, status, price_cents, currency, disabled";

/// An account as [`ACCOUNT_COLS`] selects it.
#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: i64,
    email: String,
    role: String,
    plan: String,
    created_at: Millis,
    must_change_password: i64,
    status: String,
    price_cents: i64,
    currency: String,
    disabled: i64,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;

    fn try_from(r: AccountRow) -> Result<Account> {
        Ok(Account {
            id: r.id,
            email: r.email,
            role: Role::from_str(&r.role).map_err(decode_err)?,
            plan: Plan::from_str(&r.plan).map_err(decode_err)?,
            created_at: r.created_at,
            must_change_password: r.must_change_password != 0,
            status: AccountStatus::from_str(&r.status).map_err(decode_err)?,
            price: Price {
                amount_cents: r.price_cents,
                currency: r.currency,
            },
            disabled: r.disabled != 0,
        })
    }
}

/// A profile (`SELECT *` of `profiles`).
#[derive(sqlx::FromRow)]
pub(crate) struct ProfileRow {
    id: i64,
    account_id: i64,
    name: String,
    is_kids: i64,
    created_at: Millis,
    avatar: Option<String>,
    pin_hash: Option<String>,
}

impl From<ProfileRow> for Profile {
    fn from(r: ProfileRow) -> Self {
        Profile {
            id: r.id,
            account_id: r.account_id,
            name: r.name,
            is_kids: r.is_kids != 0,
            created_at: r.created_at,
            avatar: r.avatar,
            has_pin: r.pin_hash.is_some(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct CredentialsRow {
    #[sqlx(flatten)]
    account: AccountRow,
    password_hash: String,
    email_verified: i64,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    account: AccountRow,
    profile_id: Option<i64>,
    csrf_token: String,
    expires_at: Millis,
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    summary: SummaryRow,
    duration_s: Option<i64>,
    series_id: Option<i64>,
    season_number: Option<i32>,
    episode_number: Option<i32>,
    imdb_id: Option<String>,
    tmdb_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    #[sqlx(flatten)]
    title: SummaryRow,
    watched_at: Millis,
    rating: Option<f64>,
    thumb: Option<i64>,
}

/// The e-mail of an imported viewer.
fn viewer_email(source: &str, uid: i64) -> String {
    if source == "movielens" {
        format!("viewer{uid}@demo.marquee")
    } else {
        format!("{source}-viewer{uid}@demo.marquee")
    }
}

/// The plan of an imported viewer (a spread over the three).
fn viewer_plan(uid: i64) -> Plan {
    match uid % 3 {
        0 => Plan::Premium,
        1 => Plan::Standard,
        _ => Plan::Basic,
    }
}

/// Locks an account's row for the rest of the transaction (PostgreSQL;
/// SQLite's write transaction already serialises), so that a count checked
/// before an insert cannot be raced.
async fn lock_account(tx: &mut Tx<'_>, account_id: i64) -> Result<()> {
    sqlx::query(&format!(
        "SELECT id FROM accounts WHERE id = $1{FOR_UPDATE}"
    ))
    .bind(account_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl CatalogStore for Backend {
    async fn migrate(&self) -> Result<()> {
        self.migrate_schema().await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.shut_down().await;
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
        let mut tx = self.begin_write().await?;
        for chunk in rows.chunks(CHUNK) {
            let mut qb: QueryBuilder<Db> = QueryBuilder::new(
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
                let mut qb: QueryBuilder<Db> = QueryBuilder::new("INSERT INTO genres(name) ");
                qb.push_values(pchunk, |mut b, (_, g)| {
                    b.push_bind(*g);
                });
                qb.push(" ON CONFLICT DO NOTHING");
                qb.build().execute(&mut *tx).await?;
                let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                    "INSERT INTO title_genres(title_id, genre_id) SELECT t.id, g.id FROM (",
                );
                qb.push_values(pchunk, |mut b, (ext, g)| {
                    b.push_bind(*ext).push_bind(*g);
                });
                // `WHERE true`: SQLite reads an `ON` right after a join as
                // the join's, not the upsert's.
                qb.push(") v JOIN titles t ON t.source = ")
                    .push_bind(source)
                    .push(" AND t.external_id = v.column1 JOIN genres g ON g.name = v.column2")
                    .push(" WHERE true ON CONFLICT DO NOTHING");
                qb.build().execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    async fn import_tags(&self, source: &str, rows: &[ImportTag]) -> Result<ImportCounts> {
        import_per_title(
            self,
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
            self,
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
        let mut tx = self.begin_write().await?;
        let prices = current_prices(&mut tx, now).await?;
        for chunk in users.chunks(CHUNK) {
            let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                "INSERT INTO accounts(email, password_hash, role, plan, source, external_id, created_at, \
                   price_cents, currency) ",
            );
            qb.push_values(chunk, |mut b, uid| {
                let plan = viewer_plan(*uid);
                let price = prices.get(&plan);
                b.push_bind(viewer_email(source, *uid))
                    .push_bind(password_hash)
                    .push_bind(Role::Viewer.as_str())
                    .push_bind(plan.as_str())
                    .push_bind(source)
                    .push_bind(*uid)
                    .push_bind(now)
                    .push_bind(price.map_or(0, |p| p.amount_cents))
                    .push_bind(price.map_or("USD", |p| p.currency.as_str()).to_string());
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
        let mut tx = self.begin_write().await?;
        for chunk in rows.chunks(CHUNK) {
            let build = |head: &str, only_thumbs: bool, tail: &str| {
                let mut qb: QueryBuilder<Db> = QueryBuilder::new(head);
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
                qb.push(") v JOIN accounts a ON a.source = ")
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
            // `WHERE true`: SQLite reads an `ON` right after a join as the
            // join's, not the upsert's.
            const UPSERT: &str = " WHERE true ON CONFLICT DO NOTHING";
            let matched: i64 = build("SELECT COUNT(*) FROM (", false, "")
                .build_query_scalar()
                .fetch_one(&mut *tx)
                .await?;
            let matched = matched as u64;
            let done = build(
                "INSERT INTO watch_history(profile_id, title_id, watched_at, rating, source) \
                 SELECT p.id, t.id, v.column3, v.column4, 'import' FROM (",
                false,
                UPSERT,
            )
            .build()
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if chunk.iter().any(|r| Thumb::from_stars(r.stars).is_some()) {
                build(
                    "INSERT INTO feedback(profile_id, title_id, value, updated_at) \
                     SELECT p.id, t.id, v.column5, v.column3 FROM (",
                    true,
                    UPSERT,
                )
                .build()
                .execute(&mut *tx)
                .await?;
            }
            counts.imported += done;
            counts.unchanged += matched - done;
            counts.rejected += chunk.len() as u64 - matched;
        }
        tx.commit().await?;
        Ok(counts)
    }

    async fn refresh_title_stats(&self) -> Result<()> {
        let mut tx = self.begin_write().await?;
        lock(&mut tx, TITLE_STATS_LOCK).await?;
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
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM titles WHERE CAST($1 AS TEXT) IS NULL OR kind = $1",
        )
        .bind(kind.map(TitleKind::as_str))
        .fetch_one(&self.pool)
        .await?)
    }

    async fn list_titles(&self, q: &TitleQuery) -> Result<Vec<TitleSummary>> {
        let mut qb: QueryBuilder<Db> = QueryBuilder::new("SELECT ");
        qb.push(SUMMARY_COLS);
        qb.push(
            " FROM titles t LEFT JOIN title_stats s ON s.title_id = t.id WHERE t.kind != 'episode'",
        );
        push_visible(&mut qb, &q.visibility, false);
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
        let rows: Vec<SummaryRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(TitleSummary::try_from).collect()
    }

    async fn title(&self, id: i64) -> Result<Option<TitleDetail>> {
        let row: Option<DetailRow> = sqlx::query_as(&format!(
            "SELECT {SUMMARY_COLS}, t.duration_s, t.series_id, \
             CAST(se.number AS INTEGER) AS season_number, \
             CAST(t.episode_number AS INTEGER) AS episode_number, l.imdb_id, l.tmdb_id \
             FROM titles t LEFT JOIN title_stats s ON s.title_id = t.id \
             LEFT JOIN seasons se ON se.id = t.season_id \
             LEFT JOIN title_links l ON l.title_id = t.id WHERE t.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let tags: Vec<(String, i64)> = sqlx::query_as(
            "SELECT MIN(tag) AS tag, COUNT(*) AS n FROM title_tags WHERE title_id = $1 \
             GROUP BY lower(tag) ORDER BY n DESC, lower(tag) ASC LIMIT 30",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(TitleDetail {
            summary: row.summary.try_into()?,
            tags: tags
                .into_iter()
                .map(|(tag, count)| TagCount { tag, count })
                .collect(),
            links: ExternalLinks {
                imdb: row.imdb_id,
                tmdb: row.tmdb_id,
            },
            duration_s: row.duration_s,
            series_id: row.series_id,
            season: row.season_number,
            episode: row.episode_number,
        }))
    }

    async fn search_titles(
        &self,
        q: &str,
        limit: u32,
        visibility: &Visibility,
    ) -> Result<Vec<TitleSummary>> {
        let found = title_matches(self, q).await?;
        let ids: Vec<i64> = found.iter().map(|r| r.summary.id).collect();
        let visible: std::collections::HashSet<i64> = self
            .visible_titles(&ids, visibility)
            .await?
            .into_iter()
            .collect();
        let mut scored = found
            .into_iter()
            .filter(|r| visible.contains(&r.summary.id))
            .map(|r| {
                let t = TitleSummary::try_from(r.summary)?;
                // Popularity breaks near-ties.
                let score = r.relevance + 0.35 * ((1 + t.popularity.max(0)) as f64).ln();
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

    async fn visible_titles(&self, ids: &[i64], visibility: &Visibility) -> Result<Vec<i64>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                "SELECT t.id FROM titles t LEFT JOIN titles ser ON ser.id = t.series_id \
                 WHERE t.id IN (",
            );
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(*id);
            }
            qb.push(")");
            // An episode is seen only when its series is.
            qb.push(" AND (ser.id IS NULL OR ser.hidden = 0)");
            push_visible(&mut qb, visibility, true);
            let rows: Vec<i64> = qb.build_query_scalar().fetch_all(&self.pool).await?;
            out.extend(rows);
        }
        Ok(out)
    }

    async fn genres(&self) -> Result<Vec<GenreCount>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT g.name, COUNT(tg.title_id) AS n FROM genres g \
             JOIN title_genres tg ON tg.genre_id = g.id GROUP BY g.id ORDER BY n DESC, g.name ASC",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name, titles)| GenreCount { name, titles })
            .collect())
    }

    async fn create_account(&self, new: &NewAccount, now: Millis) -> Result<Account> {
        let mut tx = self.begin_write().await?;
        let price = current_prices(&mut tx, now)
            .await?
            .remove(&new.plan)
            .ok_or(StoreError::NotFound { what: "plan price" })?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts(email, password_hash, role, plan, must_change_password, created_at, \
               email_verified, price_cents, currency) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(&new.email)
        .bind(&new.password_hash)
        .bind(new.role.as_str())
        .bind(new.plan.as_str())
        .bind(i64::from(new.must_change_password))
        .bind(now)
        .bind(i64::from(new.email_verified))
        .bind(price.amount_cents)
        .bind(&price.currency)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_to_conflict(e, "email"))?;
        let joined = SubscriptionWrite {
            account_id: id,
            from: (new.plan, AccountStatus::Active),
            to: (new.plan, AccountStatus::Active),
            price: price.clone(),
            kind: AccountEventKind::SignedUp,
            reason: None,
            detail: None,
            actor_id: None,
        };
        record_event_in(&mut tx, &joined, now).await?;
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
            status: AccountStatus::Active,
            price,
            disabled: false,
        })
    }

    async fn credentials(&self, email: &str) -> Result<Option<Credentials>> {
        let row: Option<CredentialsRow> = sqlx::query_as(&format!(
            "SELECT {ACCOUNT_COLS}, password_hash, email_verified FROM accounts WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Credentials {
                account: r.account.try_into()?,
                password_hash: r.password_hash,
                email_verified: r.email_verified != 0,
            })
        })
        .transpose()
    }

    async fn account(&self, id: i64) -> Result<Option<Account>> {
        let row: Option<AccountRow> = sqlx::query_as(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Account::try_from).transpose()
    }

    async fn list_accounts(
        &self,
        filter: &AccountFilter,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Account>> {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new(format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE 1 = 1"));
        if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            // A literal substring: the pattern characters are escaped.
            qb.push(" AND lower(email) LIKE ")
                .push_bind(crate::like_contains(q))
                .push(" ESCAPE '\\'");
        }
        if let Some(r) = filter.role {
            qb.push(" AND role = ").push_bind(r.as_str());
        }
        if let Some(p) = filter.plan {
            qb.push(" AND plan = ").push_bind(p.as_str());
        }
        if let Some(st) = filter.status {
            qb.push(" AND status = ").push_bind(st.as_str());
        }
        if let Some(d) = filter.disabled {
            qb.push(" AND disabled = ").push_bind(i64::from(d));
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit))
            .push(" OFFSET ")
            .push_bind(i64::from(offset));
        let rows: Vec<AccountRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(Account::try_from).collect()
    }

    async fn create_email_change(&self, c: &NewEmailChange, now: Millis) -> Result<bool> {
        let account_id = c.account_id;
        let mut tx = self.begin_write().await?;
        lock_account(&mut tx, account_id).await?;
        let recent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM email_changes WHERE account_id = $1 AND created_at >= $2",
        )
        .bind(account_id)
        .bind(c.window_start)
        .fetch_one(&mut *tx)
        .await?;
        if recent >= c.max_per_window {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE email_changes SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO email_changes(token_hash, account_id, new_email, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.token_hash)
        .bind(account_id)
        .bind(&c.new_email)
        .bind(now)
        .bind(c.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn confirm_email_change(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<(i64, String, String)>> {
        let _changed = self.changes.on_return(Bump::Auth);
        let mut tx = self.begin_write().await?;
        let row: Option<(i64, String, String)> = sqlx::query_as(&format!(
            "SELECT c.account_id, a.email, c.new_email FROM email_changes c \
             JOIN accounts a ON a.id = c.account_id \
             WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > $2{FOR_UPDATE}"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, old, new)) = row else {
            return Ok(None);
        };
        sqlx::query("UPDATE email_changes SET used_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE accounts SET email = $1, email_verified = 1 WHERE id = $2")
            .bind(&new)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_to_conflict(e, "email"))?;
        tx.commit().await?;
        Ok(Some((id, old, new)))
    }

    async fn record_staff_action(&self, a: &StaffAction, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO staff_audit(actor_id, account_id, action, detail, at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(a.actor_id)
        .bind(a.account_id)
        .bind(&a.action)
        .bind(a.detail.as_deref())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn staff_actions(&self, account_id: i64, limit: u32) -> Result<Vec<StaffActionRecord>> {
        let rows: Vec<(
            i64,
            Option<i64>,
            Option<String>,
            Option<i64>,
            String,
            Option<String>,
            Millis,
        )> = sqlx::query_as(
            "SELECT s.id, s.actor_id, a.email, s.account_id, s.action, s.detail, s.at \
                 FROM staff_audit s LEFT JOIN accounts a ON a.id = s.actor_id \
                 WHERE s.account_id = $1 ORDER BY s.id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, actor_id, actor_email, account_id, action, detail, at)| StaffActionRecord {
                    id,
                    actor_id,
                    actor_email,
                    account_id,
                    action,
                    detail,
                    at,
                },
            )
            .collect())
    }

    async fn count_accounts(&self, role: Option<Role>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM accounts WHERE CAST($1 AS TEXT) IS NULL OR role = $1",
        )
        .bind(role.map(Role::as_str))
        .fetch_one(&self.pool)
        .await?)
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

    async fn backdate_accounts(&self, rows: &[(i64, Millis)]) -> Result<u64> {
        let _changed = self.changes.on_return(Bump::Auth);
        let mut tx = self.begin_write().await?;
        let mut moved = 0;
        for (id, at) in rows {
            moved += sqlx::query(
                "UPDATE accounts SET created_at = $1 WHERE id = $2 AND created_at > $1",
            )
            .bind(*at)
            .bind(*id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn set_disabled(&self, account_id: i64, disabled: bool) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Auth);
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE accounts SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound { what: "account" });
        }
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn profiles(&self, account_id: i64) -> Result<Vec<Profile>> {
        let rows: Vec<ProfileRow> =
            sqlx::query_as("SELECT * FROM profiles WHERE account_id = $1 ORDER BY id")
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn profile(&self, id: i64) -> Result<Option<Profile>> {
        let row: Option<ProfileRow> = sqlx::query_as("SELECT * FROM profiles WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
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
        // pass the count check (on SQLite the write transaction does it).
        let mut tx = self.begin_write().await?;
        lock_account(&mut tx, account_id).await?;
        let row: Option<ProfileRow> = sqlx::query_as(
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
        let Some(row) = row else {
            return Err(StoreError::Limit {
                field: "name",
                message: format!("an account has at most {MAX_PROFILES_PER_ACCOUNT} profiles"),
            });
        };
        tx.commit().await?;
        Ok(row.into())
    }

    async fn update_profile(
        &self,
        account_id: i64,
        id: i64,
        name: &str,
        is_kids: bool,
        avatar: Option<&str>,
    ) -> Result<Option<Profile>> {
        let _auth = self.changes.on_return(Bump::Auth);
        let _profile = self.changes.on_return(Bump::Profile(id));
        let row: Option<ProfileRow> = sqlx::query_as(
            "UPDATE profiles SET name = $3, is_kids = $4, avatar = $5 \
             WHERE id = $1 AND account_id = $2 RETURNING *",
        )
        .bind(id)
        .bind(account_id)
        .bind(name)
        .bind(i64::from(is_kids))
        .bind(avatar)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| unique_to_conflict(e, "name"))?;
        Ok(row.map(Profile::from))
    }

    async fn delete_profile(&self, account_id: i64, id: i64) -> Result<bool> {
        let _auth = self.changes.on_return(Bump::Auth);
        let _profile = self.changes.on_return(Bump::Profile(id));
        let mut tx = self.begin_write().await?;
        lock_account(&mut tx, account_id).await?;
        let owned: Option<i64> =
            sqlx::query_scalar("SELECT id FROM profiles WHERE id = $1 AND account_id = $2")
                .bind(id)
                .bind(account_id)
                .fetch_optional(&mut *tx)
                .await?;
        if owned.is_none() {
            return Ok(false);
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM profiles WHERE account_id = $1")
            .bind(account_id)
            .fetch_one(&mut *tx)
            .await?;
        if n <= 1 {
            return Err(StoreError::Limit {
                field: "profile",
                message: "an account keeps at least one profile".into(),
            });
        }
        sqlx::query("DELETE FROM profiles WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_profile_pin(
        &self,
        account_id: i64,
        id: i64,
        pin_hash: Option<&str>,
    ) -> Result<Option<Profile>> {
        let _auth = self.changes.on_return(Bump::Auth);
        let row: Option<ProfileRow> = sqlx::query_as(
            "UPDATE profiles SET pin_hash = $3, pin_failures = 0, pin_locked_until = NULL \
             WHERE id = $1 AND account_id = $2 RETURNING *",
        )
        .bind(id)
        .bind(account_id)
        .bind(pin_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Profile::from))
    }

    async fn begin_pin_try(&self, id: i64, now: Millis) -> Result<PinTry> {
        let counted: Option<(String, i64)> = sqlx::query_as(
            "UPDATE profiles SET pin_failures = pin_failures + 1 \
             WHERE id = $1 AND pin_hash IS NOT NULL \
               AND (pin_locked_until IS NULL OR pin_locked_until <= $2) \
             RETURNING pin_hash, pin_failures",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if let Some((pin_hash, failures)) = counted {
            return Ok(PinTry::Counted {
                pin_hash,
                failures_before: u32::try_from(failures - 1).unwrap_or(0),
            });
        }
        let row: Option<(Option<String>, Option<Millis>)> =
            sqlx::query_as("SELECT pin_hash, pin_locked_until FROM profiles WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some((Some(_), Some(until))) if until > now => PinTry::Locked { until },
            _ => PinTry::NoPin,
        })
    }

    async fn end_pin_try(&self, id: i64, lock_until: Option<Millis>) -> Result<()> {
        let sql = if lock_until.is_some() {
            "UPDATE profiles SET pin_failures = 0, pin_locked_until = $2 WHERE id = $1"
        } else {
            "UPDATE profiles SET pin_failures = 0, pin_locked_until = NULL WHERE id = $1"
        };
        let q = sqlx::query(sql).bind(id);
        let q = match lock_until {
            Some(until) => q.bind(until),
            None => q,
        };
        q.execute(&self.pool).await?;
        Ok(())
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
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT a.id, a.email, a.role, a.plan, a.created_at, a.must_change_password, \
               a.status, a.price_cents, a.currency, a.disabled, \
             s.profile_id, s.csrf_token, s.expires_at \
             FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.disabled = 0",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SessionRecord {
                account: r.account.try_into()?,
                profile_id: r.profile_id,
                csrf_token: r.csrf_token,
                expires_at: r.expires_at,
            })
        })
        .transpose()
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

    async fn create_account_token(
        &self,
        purpose: TokenPurpose,
        account_id: i64,
        token_hash: &str,
        now: Millis,
        expires_at: Millis,
        since: Millis,
        max_recent: u32,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        lock_account(&mut tx, account_id).await?;
        let n = sqlx::query(
            "INSERT INTO account_tokens(token_hash, account_id, purpose, created_at, expires_at) \
             SELECT $1, $2, $3, $4, $5 WHERE (SELECT COUNT(*) FROM account_tokens \
             WHERE account_id = $2 AND purpose = $3 AND created_at >= $6) < $7",
        )
        .bind(token_hash)
        .bind(account_id)
        .bind(purpose.as_str())
        .bind(now)
        .bind(expires_at)
        .bind(since)
        .bind(i64::from(max_recent))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn use_account_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let account: Option<(i64,)> = sqlx::query_as(
            "UPDATE account_tokens SET used_at = $3 \
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
             RETURNING account_id",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id,)) = account {
            sqlx::query(
                "UPDATE account_tokens SET used_at = $3 \
                 WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL",
            )
            .bind(id)
            .bind(purpose.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(account.map(|(id,)| id))
    }

    async fn set_email_verified(&self, account_id: i64) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Auth);
        sqlx::query("UPDATE accounts SET email_verified = 1 WHERE id = $1")
            .bind(account_id)
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
        let rows: Vec<HistoryRow> = sqlx::query_as(&format!(
            "SELECT {SUMMARY_COLS}, h.watched_at, h.rating, f.value AS thumb FROM watch_history h \
             JOIN titles t ON t.id = h.title_id LEFT JOIN title_stats s ON s.title_id = t.id \
             LEFT JOIN feedback f ON f.profile_id = h.profile_id AND f.title_id = h.title_id \
             WHERE h.profile_id = $1 ORDER BY h.watched_at DESC, h.id DESC LIMIT $2"
        ))
        .bind(profile_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(HistoryEntry {
                    title: r.title.try_into()?,
                    watched_at: r.watched_at,
                    rating: r.rating.map(|v| v as f32),
                    thumb: r.thumb.and_then(Thumb::from_value),
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
    s: &Backend,
    source: &str,
    rows: &[T],
    title_of: impl Fn(&T) -> i64,
    head: &str,
    mut bind: impl FnMut(Separated<'_, '_, Db, &'static str>, &T),
) -> Result<ImportCounts> {
    let mut counts = ImportCounts::default();
    let mut tx = s.begin_write().await?;
    for chunk in rows.chunks(CHUNK) {
        let matched = matched_titles(&mut tx, source, chunk.iter().map(&title_of)).await?;
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(head);
        qb.push_values(chunk, &mut bind);
        // `WHERE true`: SQLite reads an `ON` right after a join as the
        // join's, not the upsert's.
        qb.push(") v JOIN titles t ON t.source = ")
            .push_bind(source.to_string())
            .push(" AND t.external_id = v.column1 WHERE true ON CONFLICT DO NOTHING");
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
    tx: &mut Tx<'_>,
    source: &str,
    ids: impl Iterator<Item = i64>,
) -> Result<u64> {
    let ids: Vec<i64> = ids.collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let mut qb: QueryBuilder<Db> = QueryBuilder::new("SELECT COUNT(*) FROM (");
    qb.push_values(&ids, |mut b, id| {
        b.push_bind(*id);
    });
    qb.push(") v JOIN titles t ON t.source = ")
        .push_bind(source)
        .push(" AND t.external_id = v.column1");
    let n: i64 = qb.build_query_scalar().fetch_one(&mut **tx).await?;
    Ok(n as u64)
}
