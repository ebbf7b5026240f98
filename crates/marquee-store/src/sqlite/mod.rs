//! The embedded SQLite backend (WAL mode).

use crate::changes::Bump;
use crate::{
    CatalogStore, ImportCounts, ImportLink, ImportRating, ImportTag, ImportTitle, NewAccount,
    Result, SessionRecord, StoreError, TitleQuery, TitleSort,
};
use async_trait::async_trait;

mod playback;
use marquee_domain::{
    Account, Credentials, ExternalLinks, GenreCount, HistoryEntry, Millis, Plan, Profile, Role,
    TagCount, Thumb, TitleDetail, TitleKind, TitleSummary, MAX_PROFILES_PER_ACCOUNT,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::str::FromStr;
use std::time::Duration;

mod changes;
#[path = "../sql/decisions.rs"]
mod decisions;
mod fanout;
mod health;
mod home;
#[path = "../sql/ideas.rs"]
mod ideas;
mod ideas_search;
mod jobs;
mod listening;
mod outbox;
mod overview;
#[path = "../sql/perks.rs"]
mod perks;
mod support;

/// Rows per multi-row INSERT: well under SQLite's bind-parameter limit.
const CHUNK: usize = 1000;

/// SQLite implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection of its own for the playback group-commit writer, so that
    /// it never queues behind the readers for a pooled connection.
    writer: SqlitePool,
    /// Change counters for the server's read caches (see [`crate::changes`]).
    pub(crate) changes: std::sync::Arc<crate::changes::ChangeCounters>,
}

const SUMMARY_COLS: &str = "t.id, t.kind, t.name, t.year, COALESCE(s.plays, 0) AS plays, \
     CASE WHEN s.rating_count > 0 THEN s.rating_sum / s.rating_count END AS avg_rating, \
     (SELECT GROUP_CONCAT(g.name, '|') FROM title_genres tg JOIN genres g ON g.id = tg.genre_id \
      WHERE tg.title_id = t.id) AS genre_list";

fn summary_from_row(row: &SqliteRow) -> Result<TitleSummary> {
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

fn account_from_row(row: &SqliteRow) -> Result<Account> {
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

fn profile_from_row(row: &SqliteRow) -> Result<Profile> {
    Ok(Profile {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        is_kids: row.try_get::<i64, _>("is_kids")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

/// Maps a UNIQUE violation to a conflict on `field`.
fn unique_to_conflict(e: sqlx::Error, field: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { field },
        _ => e.into(),
    }
}

/// Turns free text into a safe FTS5 query: each word becomes a quoted prefix term.
fn fts_query(q: &str) -> Option<String> {
    let terms: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(12)
        .map(|w| format!("\"{}\"*", w.to_lowercase()))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

// ---------------------------------------------------------------------------
// The dialect seam. The feature files under `src/sql/` are written once and
// compiled once per backend (`#[path]` above); they see SQLite through these
// names. The PostgreSQL module defines the same names.
// ---------------------------------------------------------------------------

/// The sqlx database of this backend.
pub(crate) type Db = Sqlite;
/// A connection of this backend.
pub(crate) type Conn = sqlx::SqliteConnection;
/// A result row of this backend.
pub(crate) type DbRow = SqliteRow;
/// The store the shared feature files implement their traits for.
pub(crate) type Backend = SqliteStore;
/// A transaction of this backend.
pub(crate) type Tx<'a> = sqlx::Transaction<'a, Sqlite>;

/// `SELECT ... FOR SHARE`: nothing on SQLite, where a write transaction
/// (`BEGIN IMMEDIATE`) already excludes every other writer.
pub(crate) const FOR_SHARE: &str = "";
/// `SELECT ... FOR UPDATE`: nothing on SQLite, for the same reason.
pub(crate) const FOR_UPDATE: &str = "";

/// Text as the database takes it. SQLite stores any string, NUL included.
pub(crate) fn text(s: &str) -> std::borrow::Cow<'_, str> {
    std::borrow::Cow::Borrowed(s)
}

/// Serialises the writers of one key inside a transaction. Nothing to do on
/// SQLite: `BEGIN IMMEDIATE` serialises every writer of the database.
pub(crate) async fn lock(_conn: &mut Conn, _key: i64) -> Result<()> {
    Ok(())
}

/// Like [`lock`] on a (namespace, id) pair; nothing to do on SQLite.
pub(crate) async fn lock_pair(_conn: &mut Conn, _ns: i32, _id: i64) -> Result<()> {
    Ok(())
}

impl SqliteStore {
    /// Starts a write transaction. `BEGIN IMMEDIATE` takes SQLite's writer
    /// lock up front, so a transaction that reads before it writes never
    /// fails to upgrade its lock (`SQLITE_BUSY`) halfway.
    pub(crate) async fn begin_write(&self) -> Result<Tx<'_>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// A pooled connection for reads.
    pub(crate) async fn read(&self) -> Result<sqlx::pool::PoolConnection<Sqlite>> {
        Ok(self.pool.acquire().await?)
    }
}

// --- perks ---

/// `SELECT ... FOR NO KEY UPDATE`: nothing on SQLite, where a write
/// transaction (`BEGIN IMMEDIATE`) already excludes every other writer.
pub(crate) const FOR_NO_KEY_UPDATE: &str = "";

// --- ideas ---

/// Orders text by its bytes, as `ORDER BY x{BYTE_ORDER}`: SQLite's default
/// (BINARY) collation already does.
pub(crate) const BYTE_ORDER: &str = "";

const ACCOUNT_COLS: &str = "id, email, role, plan, created_at, must_change_password";

impl SqliteStore {
    /// Opens (creating when missing) the database a `sqlite://` URL names, in WAL mode.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        Self::open_with(
            url,
            &crate::ConnectOptions {
                max_connections,
                ..Default::default()
            },
        )
        .await
    }

    /// [`SqliteStore::open`] with options: the pool size and the size cap.
    pub async fn open_with(url: &str, options: &crate::ConnectOptions) -> Result<Self> {
        let max_connections = options.max_connections;
        let cap = options.max_size_bytes;
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode survives a process crash (kill -9) without losing
            // committed transactions; only an OS crash can lose the last ones.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(health::BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _| Box::pin(health::apply_size_cap(conn, cap)))
            .after_release(|conn, _| Box::pin(health::still_usable(conn)))
            .connect_with(opts.clone())
            .await?;
        // The writer never checkpoints on its commit path (a checkpoint there
        // stalls every request waiting on the batch); a background task does
        // it, concurrently, on a pooled connection. It keeps a larger cache
        // (32 MiB: the served process's whole budget is 300 MB, and under load
        // the append-heavy impression log fills whatever this allows).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _| Box::pin(health::apply_size_cap(conn, cap)))
            .connect_with(
                opts.pragma("wal_autocheckpoint", "0")
                    .pragma("cache_size", "-32768"),
            )
            .await?;
        playback::spawn_checkpointer(pool.clone());
        Ok(SqliteStore {
            pool,
            writer,
            changes: Default::default(),
        })
    }

    /// The underlying pool, for backend-specific tools.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        // Fold the WAL into the main file so the database is one file at rest.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint on close failed");
        }
        self.writer.close().await;
        self.pool.close().await;
    }

    async fn meta_get(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn meta_set(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for chunk in rows.chunks(CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT OR IGNORE INTO titles(kind, name, year, source, external_id, created_at) ",
            );
            qb.push_values(chunk, |mut b, t| {
                b.push_bind("movie")
                    .push_bind(&t.name)
                    .push_bind(t.year)
                    .push_bind(source)
                    .push_bind(t.external_id)
                    .push_bind(now);
            });
            let done = qb.build().execute(&mut *tx).await?.rows_affected();
            counts.imported += done;
            counts.unchanged += chunk.len() as u64 - done;

            let pairs: Vec<(i64, &str)> = chunk
                .iter()
                .flat_map(|t| t.genres.iter().map(move |g| (t.external_id, g.as_str())))
                .collect();
            for pchunk in pairs.chunks(CHUNK) {
                let mut qb: QueryBuilder<Sqlite> =
                    QueryBuilder::new("INSERT OR IGNORE INTO genres(name) ");
                qb.push_values(pchunk, |mut b, (_, g)| {
                    b.push_bind(*g);
                });
                qb.build().execute(&mut *tx).await?;
                let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                    "INSERT OR IGNORE INTO title_genres(title_id, genre_id) \
                     SELECT t.id, g.id FROM (",
                );
                qb.push_values(pchunk, |mut b, (ext, g)| {
                    b.push_bind(*ext).push_bind(*g);
                });
                qb.push(") v JOIN titles t ON t.source = ")
                    .push_bind(source)
                    .push(" AND t.external_id = v.column1 JOIN genres g ON g.name = v.column2");
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
            "INSERT OR IGNORE INTO title_tags(title_id, tag, source_user, tagged_at) \
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
            "INSERT OR IGNORE INTO title_links(title_id, imdb_id, tmdb_id) \
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for chunk in users.chunks(CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT OR IGNORE INTO accounts(email, password_hash, role, plan, source, external_id, created_at) ",
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
            let done = qb.build().execute(&mut *tx).await?.rows_affected();
            counts.imported += done;
            counts.unchanged += chunk.len() as u64 - done;
        }
        sqlx::query(
            "INSERT INTO profiles(account_id, name, created_at) \
             SELECT a.id, 'Viewer ' || a.external_id, ? FROM accounts a \
             WHERE a.source = ? AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.account_id = a.id)",
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        const JOIN: &str = ") v JOIN accounts a ON a.source = ";
        for chunk in rows.chunks(CHUNK) {
            let build = |head: &str, select: &str, only_thumbs: bool| {
                let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(head);
                qb.push(select);
                let rows: Vec<&ImportRating> = chunk
                    .iter()
                    .filter(|r| !only_thumbs || Thumb::from_stars(r.stars).is_some())
                    .collect();
                qb.push_values(rows, |mut b, r| {
                    b.push_bind(r.external_user)
                        .push_bind(r.external_title)
                        .push_bind(r.at)
                        .push_bind(r.stars)
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
                    .push(" AND t.external_id = v.column2");
                qb
            };
            let mut q = build("", "SELECT COUNT(*) FROM (", false);
            let matched: i64 = q.build_query_scalar().fetch_one(&mut *tx).await?;
            let matched = matched as u64;
            let mut q = build(
                "INSERT OR IGNORE INTO watch_history(profile_id, title_id, watched_at, rating, source) ",
                "SELECT p.id, t.id, v.column3, v.column4, 'import' FROM (",
                false,
            );
            let done = q.build().execute(&mut *tx).await?.rows_affected();
            if chunk.iter().any(|r| Thumb::from_stars(r.stars).is_some()) {
                let mut q = build(
                    "INSERT OR IGNORE INTO feedback(profile_id, title_id, value, updated_at) ",
                    "SELECT p.id, t.id, v.column5, v.column3 FROM (",
                    true,
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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
            sqlx::query_scalar("SELECT COUNT(*) FROM titles WHERE ?1 IS NULL OR kind = ?1")
                .bind(kind.map(TitleKind::as_str))
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn list_titles(&self, q: &TitleQuery) -> Result<Vec<TitleSummary>> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT ");
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
            TitleSort::Name => " ORDER BY t.name COLLATE NOCASE ASC, t.id ASC",
            TitleSort::Newest => " ORDER BY t.year IS NULL, t.year DESC, plays DESC, t.id ASC",
        });
        qb.push(" LIMIT ").push_bind(i64::from(q.limit));
        qb.push(" OFFSET ").push_bind(i64::from(q.offset));
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(summary_from_row).collect()
    }

    async fn title(&self, id: i64) -> Result<Option<TitleDetail>> {
        let sql = format!(
            "SELECT {SUMMARY_COLS}, t.duration_s, t.series_id, se.number AS season_number, t.episode_number, \
             l.imdb_id, l.tmdb_id \
             FROM titles t LEFT JOIN title_stats s ON s.title_id = t.id \
             LEFT JOIN seasons se ON se.id = t.season_id \
             LEFT JOIN title_links l ON l.title_id = t.id WHERE t.id = ?"
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
            "SELECT tag, COUNT(*) AS n FROM title_tags WHERE title_id = ? \
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
        let Some(fts) = fts_query(q) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {SUMMARY_COLS}, bm25(titles_fts) AS rank FROM titles_fts \
             JOIN titles t ON t.id = titles_fts.rowid LEFT JOIN title_stats s ON s.title_id = t.id \
             WHERE titles_fts MATCH ? AND t.kind != 'episode' ORDER BY rank LIMIT 200"
        );
        let rows = sqlx::query(&sql).bind(fts).fetch_all(&self.pool).await?;
        let mut scored = rows
            .iter()
            .map(|r| {
                let rank: f64 = r.try_get("rank")?;
                let t = summary_from_row(r)?;
                // bm25() is lower-is-better; popularity breaks near-ties.
                let score = -rank + 0.35 * ((1 + t.popularity.max(0)) as f64).ln();
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts(email, password_hash, role, plan, must_change_password, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
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
        sqlx::query("INSERT INTO profiles(account_id, name, created_at) VALUES (?, ?, ?)")
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
        let sql = format!("SELECT {ACCOUNT_COLS}, password_hash FROM accounts WHERE email = ?");
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
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(account_from_row)
            .transpose()
    }

    async fn list_accounts(&self, limit: u32, offset: u32) -> Result<Vec<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY id DESC LIMIT ? OFFSET ?");
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
            sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE ?1 IS NULL OR role = ?1")
                .bind(role.map(Role::as_str))
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn set_password(&self, account_id: i64, hash: &str, must_change: bool) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Auth);
        let n = sqlx::query(
            "UPDATE accounts SET password_hash = ?, must_change_password = ? WHERE id = ?",
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
        let n = sqlx::query("UPDATE accounts SET role = ? WHERE id = ?")
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
        sqlx::query("SELECT * FROM profiles WHERE account_id = ? ORDER BY id")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(profile_from_row)
            .collect()
    }

    async fn profile(&self, id: i64) -> Result<Option<Profile>> {
        sqlx::query("SELECT * FROM profiles WHERE id = ?")
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
        // One statement: the count check and the insert are atomic.
        let row = sqlx::query(
            "INSERT INTO profiles(account_id, name, is_kids, created_at) \
             SELECT ?1, ?2, ?3, ?4 WHERE (SELECT COUNT(*) FROM profiles WHERE account_id = ?1) < ?5 \
             RETURNING *",
        )
        .bind(account_id)
        .bind(name)
        .bind(i64::from(is_kids))
        .bind(now)
        .bind(MAX_PROFILES_PER_ACCOUNT as i64)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| unique_to_conflict(e, "name"))?;
        match row {
            Some(r) => profile_from_row(&r),
            None => Err(StoreError::Limit {
                field: "name",
                message: format!("an account has at most {MAX_PROFILES_PER_ACCOUNT} profiles"),
            }),
        }
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
        sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions(token_hash, account_id, profile_id, csrf_token, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
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
             WHERE s.token_hash = ? AND s.expires_at > ?",
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
        sqlx::query("UPDATE sessions SET profile_id = ? WHERE token_hash = ?")
            .bind(profile_id)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Auth);
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_account_sessions(&self, account_id: i64) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Auth);
        sqlx::query("DELETE FROM sessions WHERE account_id = ?")
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
             WHERE h.profile_id = ? ORDER BY h.watched_at DESC, h.id DESC LIMIT ?"
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
                    "INSERT INTO feedback(profile_id, title_id, value, updated_at) VALUES (?, ?, ?, ?) \
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
                sqlx::query("DELETE FROM feedback WHERE profile_id = ? AND title_id = ?")
                    .bind(profile_id)
                    .bind(title_id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    async fn feedback(&self, profile_id: i64, title_id: i64) -> Result<Option<Thumb>> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT value FROM feedback WHERE profile_id = ? AND title_id = ?")
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
    pool: &SqlitePool,
    source: &str,
    rows: &[T],
    title_of: impl Fn(&T) -> i64,
    head: &str,
    mut bind: impl FnMut(sqlx::query_builder::Separated<'_, '_, Sqlite, &'static str>, &T),
) -> Result<ImportCounts> {
    let mut counts = ImportCounts::default();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for chunk in rows.chunks(CHUNK) {
        let matched = matched_titles(&mut tx, source, chunk.iter().map(&title_of)).await?;
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(head);
        qb.push_values(chunk, &mut bind);
        qb.push(") v JOIN titles t ON t.source = ")
            .push_bind(source.to_string())
            .push(" AND t.external_id = v.column1");
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
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    source: &str,
    ids: impl Iterator<Item = i64>,
) -> Result<u64> {
    let ids: Vec<i64> = ids.collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT COUNT(*) FROM (");
    qb.push_values(&ids, |mut b, id| {
        b.push_bind(*id);
    });
    qb.push(") v JOIN titles t ON t.source = ")
        .push_bind(source)
        .push(" AND t.external_id = v.column1");
    let n: i64 = qb.build_query_scalar().fetch_one(&mut **tx).await?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let s = SqliteStore::open(&url, 4).await.unwrap();
        s.migrate().await.unwrap();
        (dir, s)
    }

    fn title(id: i64, name: &str, genres: &[&str]) -> ImportTitle {
        ImportTitle {
            external_id: id,
            name: name.into(),
            year: Some(1999),
            genres: genres.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn import_is_idempotent_and_rejects_unknown_refs() {
        let (_d, s) = store().await;
        let titles = vec![
            title(1, "Heat", &["Crime", "Action"]),
            title(2, "Up", &["Animation"]),
        ];
        let c = s.import_titles("movielens", &titles, 1).await.unwrap();
        assert_eq!((c.imported, c.unchanged), (2, 0));
        let c = s.import_titles("movielens", &titles, 1).await.unwrap();
        assert_eq!((c.imported, c.unchanged), (0, 2));
        let c = s
            .import_viewers("movielens", &[7, 8], "hash", 1)
            .await
            .unwrap();
        assert_eq!(c.imported, 2);
        let ratings = vec![
            ImportRating {
                external_user: 7,
                external_title: 1,
                stars: 5.0,
                at: 10,
            },
            ImportRating {
                external_user: 7,
                external_title: 99,
                stars: 5.0,
                at: 10,
            },
            ImportRating {
                external_user: 8,
                external_title: 2,
                stars: 3.0,
                at: 11,
            },
        ];
        let c = s.import_ratings("movielens", &ratings).await.unwrap();
        assert_eq!((c.imported, c.unchanged, c.rejected), (2, 0, 1));
        let c = s.import_ratings("movielens", &ratings).await.unwrap();
        assert_eq!((c.imported, c.unchanged, c.rejected), (0, 2, 1));
        s.refresh_title_stats().await.unwrap();
        let acc = s
            .credentials("viewer7@demo.marquee")
            .await
            .unwrap()
            .unwrap();
        let prof = s.profiles(acc.account.id).await.unwrap();
        assert_eq!(prof.len(), 1);
        let h = s.history(prof[0].id, 10).await.unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].title.name, "Heat");
        assert_eq!(h[0].thumb, Some(Thumb::DoubleUp));
        assert_eq!(h[0].title.genres, vec!["Action", "Crime"]);
    }

    #[tokio::test]
    async fn search_and_genre_listing() {
        let (_d, s) = store().await;
        let titles = vec![
            title(1, "The Matrix", &["Sci-Fi"]),
            title(2, "The Matrix Reloaded", &["Sci-Fi", "Action"]),
            title(3, "Amélie", &["Romance"]),
        ];
        s.import_titles("movielens", &titles, 1).await.unwrap();
        let r = s.search_titles("matr", 10).await.unwrap();
        assert_eq!(r.len(), 2);
        let r = s.search_titles("amelie", 10).await.unwrap();
        assert_eq!(r[0].name, "Amélie");
        assert!(s.search_titles("\" OR *", 10).await.unwrap().is_empty());
        let q = TitleQuery {
            genre: Some("Action".into()),
            limit: 10,
            ..Default::default()
        };
        let r = s.list_titles(&q).await.unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].name, "The Matrix Reloaded");
        let g = s.genres().await.unwrap();
        assert_eq!(
            g[0],
            GenreCount {
                name: "Sci-Fi".into(),
                titles: 2
            }
        );
    }

    #[tokio::test]
    async fn accounts_profiles_and_limits() {
        let (_d, s) = store().await;
        let new = NewAccount {
            email: "a@b.co".into(),
            password_hash: "h".into(),
            role: Role::Viewer,
            plan: Plan::Basic,
            must_change_password: false,
            first_profile: "Ann".into(),
        };
        let a = s.create_account(&new, 5).await.unwrap();
        assert!(matches!(
            s.create_account(&new, 5).await,
            Err(StoreError::Conflict { field: "email" })
        ));
        assert!(matches!(
            s.create_profile(a.id, "Ann", false, 6).await,
            Err(StoreError::Conflict { field: "name" })
        ));
        for i in 0..4 {
            s.create_profile(a.id, &format!("P{i}"), false, 6)
                .await
                .unwrap();
        }
        assert!(matches!(
            s.create_profile(a.id, "P9", false, 6).await,
            Err(StoreError::Limit { .. })
        ));
        assert_eq!(s.profiles(a.id).await.unwrap().len(), 5);
        s.create_session("tok", a.id, None, "csrf", 10, 100)
            .await
            .unwrap();
        assert!(s.session("tok", 50).await.unwrap().is_some());
        assert!(s.session("tok", 100).await.unwrap().is_none());
    }
}
