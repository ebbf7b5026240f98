//! SQLite implementation of [`ListeningStore`].

use super::{unique_to_conflict, SqliteStore};
use crate::listening::{
    Bucket, ListeningStore, MinuteCount, OutboxItem, PostCounts, PostOrder, PostQuery,
};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::listening::{
    Alert, AlertStatus, IngestToken, NewAlert, NewPost, Post, Sentiment,
};
use marquee_domain::textmatch::TextMatch;
use marquee_domain::Millis;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashMap;
use std::str::FromStr;

/// Rows per multi-row INSERT of posts (13 binds each, under SQLite's 32,766).
const POST_CHUNK: usize = 1000;

fn decode_err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(Box::new(e)))
}

/// `["a", "b"]` → `|a|b|`; empty → ``.
fn join_set(items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!("|{}|", items.join("|"))
    }
}

fn split_set(s: &str) -> Vec<String> {
    s.split('|')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

const TOKEN_COLS: &str = "id, name, created_at, created_by, revoked_at";

fn token_from_row(row: &SqliteRow) -> Result<IngestToken> {
    Ok(IngestToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

const POST_COLS: &str =
    "id, source, external_id, author, text, url, lang, created_at, ingested_at, \
     sentiment, score, top_tokens, topics, brands, account_id";

fn post_from_row(row: &SqliteRow) -> Result<Post> {
    let sentiment: String = row.try_get("sentiment")?;
    let top: String = row.try_get("top_tokens")?;
    let topics: String = row.try_get("topics")?;
    let brands: String = row.try_get("brands")?;
    Ok(Post {
        id: row.try_get("id")?,
        source: row.try_get("source")?,
        external_id: row.try_get("external_id")?,
        author: row.try_get("author")?,
        text: row.try_get("text")?,
        url: row.try_get("url")?,
        lang: row.try_get("lang")?,
        created_at: row.try_get("created_at")?,
        ingested_at: row.try_get("ingested_at")?,
        sentiment: Sentiment::from_str(&sentiment).map_err(decode_err)?,
        score: row.try_get::<f64, _>("score")? as f32,
        top_tokens: serde_json::from_str(&top).map_err(decode_err)?,
        topics: split_set(&topics),
        brands: split_set(&brands),
        account_id: row.try_get("account_id")?,
    })
}

const ALERT_COLS: &str =
    "id, series, kind, window, window_start, window_end, observed, expected, z, \
     posts, terms, example_post_ids, status, raised_at, acknowledged_at, acknowledged_by, \
     resolved_at, resolved_by";

fn alert_from_row(row: &SqliteRow) -> Result<Alert> {
    let status: String = row.try_get("status")?;
    let terms: String = row.try_get("terms")?;
    let examples: String = row.try_get("example_post_ids")?;
    Ok(Alert {
        id: row.try_get("id")?,
        series: row.try_get("series")?,
        kind: row.try_get("kind")?,
        window: row.try_get("window")?,
        window_start: row.try_get("window_start")?,
        window_end: row.try_get("window_end")?,
        observed: row.try_get("observed")?,
        expected: row.try_get("expected")?,
        z: row.try_get("z")?,
        posts: row.try_get("posts")?,
        terms: serde_json::from_str(&terms).map_err(decode_err)?,
        example_post_ids: serde_json::from_str(&examples).map_err(decode_err)?,
        status: AlertStatus::from_str(&status).map_err(decode_err)?,
        raised_at: row.try_get("raised_at")?,
        acknowledged_at: row.try_get("acknowledged_at")?,
        acknowledged_by: row.try_get("acknowledged_by")?,
        resolved_at: row.try_get("resolved_at")?,
        resolved_by: row.try_get("resolved_by")?,
    })
}

const OUTBOX_COLS: &str =
    "id, alert_id, url, body, attempts, next_attempt_at, delivered_at, dead_at, last_error";

fn outbox_from_row(row: &SqliteRow) -> Result<OutboxItem> {
    Ok(OutboxItem {
        id: row.try_get("id")?,
        alert_id: row.try_get("alert_id")?,
        url: row.try_get("url")?,
        body: row.try_get("body")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        delivered_at: row.try_get("delivered_at")?,
        dead_at: row.try_get("dead_at")?,
        last_error: row.try_get("last_error")?,
    })
}

/// Escapes LIKE wildcards in a topic name (ESCAPE '\').
fn like_topic(topic: &str) -> String {
    let esc = topic
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%|{esc}|%")
}

fn push_filters<'a>(qb: &mut QueryBuilder<'a, Sqlite>, q: &'a PostQuery) {
    qb.push(" WHERE 1 = 1");
    if let Some(from) = q.from {
        qb.push(" AND created_at >= ").push_bind(from);
    }
    if let Some(to) = q.to {
        qb.push(" AND created_at < ").push_bind(to);
    }
    if let Some(t) = &q.topic {
        qb.push(" AND topics LIKE ")
            .push_bind(like_topic(t))
            .push(" ESCAPE '\\'");
    }
    if let Some(s) = &q.source {
        qb.push(" AND source = ").push_bind(s.as_str());
    }
    if let Some(s) = q.sentiment {
        qb.push(" AND sentiment = ").push_bind(s.as_str());
    }
    if let Some(a) = q.account_id {
        qb.push(" AND account_id = ").push_bind(a);
    }
    if let Some(m) = &q.matching {
        push_matching(qb, m);
    }
}

/// `AND id IN (full-text matches)`; a match with no groups matches nothing.
fn push_matching(qb: &mut QueryBuilder<'_, Sqlite>, m: &TextMatch) {
    if m.groups.is_empty() {
        qb.push(" AND 0");
        return;
    }
    qb.push(" AND id IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ")
        .push_bind(m.to_fts5())
        .push(")");
}

#[async_trait]
impl ListeningStore for SqliteStore {
    async fn create_ingest_token(
        &self,
        name: &str,
        token_hash: &str,
        created_by: Option<i64>,
        now: Millis,
    ) -> Result<IngestToken> {
        let row = sqlx::query(&format!(
            "INSERT INTO ingest_tokens(name, token_hash, created_by, created_at) VALUES (?, ?, ?, ?) \
             RETURNING {TOKEN_COLS}"
        ))
        .bind(name)
        .bind(token_hash)
        .bind(created_by)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| unique_to_conflict(e, "token"))?;
        token_from_row(&row)
    }

    async fn ingest_tokens(&self) -> Result<Vec<IngestToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLS} FROM ingest_tokens ORDER BY id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_ingest_token(&self, id: i64, now: Millis) -> Result<IngestToken> {
        let row = sqlx::query(&format!(
            "UPDATE ingest_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? \
             RETURNING {TOKEN_COLS}"
        ))
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => token_from_row(&r),
            None => Err(StoreError::NotFound {
                what: "ingest token",
            }),
        }
    }

    async fn ingest_token_by_hash(&self, token_hash: &str) -> Result<Option<IngestToken>> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLS} FROM ingest_tokens WHERE token_hash = ? AND revoked_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn insert_posts(
        &self,
        posts: &[NewPost],
        cursor: Option<(&str, &str)>,
        now: Millis,
    ) -> Result<(PostCounts, Vec<Option<i64>>)> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // Ingest touches three indexes of a growing table: give the
        // connection 64 MiB of page cache (SQLite's default is 2 MiB).
        sqlx::query("PRAGMA cache_size = -65536")
            .execute(&mut *tx)
            .await?;
        let mut new_ids: HashMap<(String, String), i64> = HashMap::new();
        let mut min_id = i64::MAX;
        for chunk in posts.chunks(POST_CHUNK) {
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT OR IGNORE INTO posts(source, external_id, author, text, url, lang, created_at, \
                 ingested_at, sentiment, score, top_tokens, topics, brands) ",
            );
            qb.push_values(chunk, |mut b, p| {
                let top = serde_json::to_string(&p.top_tokens).unwrap_or_else(|_| "[]".into());
                b.push_bind(p.source.as_str())
                    .push_bind(p.external_id.as_str())
                    .push_bind(p.author.as_str())
                    .push_bind(p.text.as_str())
                    .push_bind(p.url.as_deref())
                    .push_bind(p.lang.as_deref())
                    .push_bind(p.created_at)
                    .push_bind(now)
                    .push_bind(p.sentiment.as_str())
                    .push_bind(f64::from(p.score))
                    .push_bind(top)
                    .push_bind(join_set(&p.topics))
                    .push_bind(join_set(&p.brands));
            });
            qb.push(" RETURNING id, source, external_id");
            let rows = qb.build().fetch_all(&mut *tx).await?;
            for r in rows {
                let id: i64 = r.try_get("id")?;
                min_id = min_id.min(id);
                new_ids.insert((r.try_get("source")?, r.try_get("external_id")?), id);
            }
        }
        let any_links: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM handle_links)")
            .fetch_one(&mut *tx)
            .await?;
        if any_links && !new_ids.is_empty() {
            sqlx::query(
                "UPDATE posts SET account_id = (SELECT h.account_id FROM handle_links h WHERE h.handle = posts.author) \
                 WHERE id >= ? AND author IN (SELECT handle FROM handle_links)",
            )
            .bind(min_id)
            .execute(&mut *tx)
            .await?;
        }
        if let Some((name, value)) = cursor {
            sqlx::query(
                "INSERT INTO connector_cursors(name, cursor, updated_at) VALUES (?, ?, ?) \
                 ON CONFLICT(name) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(value)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let inserted = new_ids.len() as u64;
        let ids: Vec<Option<i64>> = posts
            .iter()
            .map(|p| new_ids.remove(&(p.source.clone(), p.external_id.clone())))
            .collect();
        Ok((
            PostCounts {
                inserted,
                duplicates: posts.len() as u64 - inserted,
            },
            ids,
        ))
    }

    async fn connector_cursor(&self, name: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT cursor FROM connector_cursors WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn list_posts(&self, q: &PostQuery) -> Result<Vec<Post>> {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {POST_COLS} FROM posts"));
        push_filters(&mut qb, q);
        qb.push(match q.order {
            PostOrder::Newest => " ORDER BY created_at DESC, id DESC",
            PostOrder::MostNegative => " ORDER BY score ASC, id DESC",
            PostOrder::MostPositive => " ORDER BY score DESC, id DESC",
        });
        qb.push(" LIMIT ")
            .push_bind(i64::from(q.limit))
            .push(" OFFSET ")
            .push_bind(i64::from(q.offset));
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(post_from_row).collect()
    }

    async fn posts_by_id(&self, ids: &[i64]) -> Result<Vec<Post>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {POST_COLS} FROM posts WHERE id IN ("));
        let mut sep = qb.separated(", ");
        for id in ids.iter().take(500) {
            sep.push_bind(*id);
        }
        qb.push(")");
        let rows = qb.build().fetch_all(&self.pool).await?;
        let mut by_id: HashMap<i64, Post> = HashMap::new();
        for r in &rows {
            let p = post_from_row(r)?;
            by_id.insert(p.id, p);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    async fn count_posts(&self, q: &PostQuery) -> Result<i64> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT COUNT(*) FROM posts");
        push_filters(&mut qb, q);
        Ok(qb.build_query_scalar().fetch_one(&self.pool).await?)
    }

    async fn post_series(
        &self,
        from: Millis,
        to: Millis,
        bucket_ms: i64,
        topic: Option<&str>,
        source: Option<&str>,
        matching: Option<&TextMatch>,
    ) -> Result<Vec<Bucket>> {
        let bucket_ms = bucket_ms.max(1);
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT ((created_at - ");
        qb.push_bind(from)
            .push(") / ")
            .push_bind(bucket_ms)
            .push(
                ") AS b, COUNT(*) AS total, SUM(sentiment = 'negative') AS neg, \
                   SUM(sentiment = 'positive') AS pos, SUM(score) AS score_sum FROM posts \
                   WHERE created_at >= ",
            )
            .push_bind(from)
            .push(" AND created_at < ")
            .push_bind(to);
        if let Some(t) = topic {
            qb.push(" AND topics LIKE ")
                .push_bind(like_topic(t))
                .push(" ESCAPE '\\'");
        }
        if let Some(s) = source {
            qb.push(" AND source = ").push_bind(s.to_string());
        }
        if let Some(m) = matching {
            push_matching(&mut qb, m);
        }
        qb.push(" GROUP BY b ORDER BY b");
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let b: i64 = r.try_get("b")?;
                Ok(Bucket {
                    start: from + b * bucket_ms,
                    total: r.try_get("total")?,
                    negative: r.try_get("neg")?,
                    positive: r.try_get("pos")?,
                    score_sum: r.try_get::<Option<f64>, _>("score_sum")?.unwrap_or(0.0),
                })
            })
            .collect()
    }

    async fn minute_counts(&self, since: Millis) -> Result<Vec<MinuteCount>> {
        let rows = sqlx::query(
            "SELECT created_at / 60000 AS m, topics, SUM(sentiment = 'negative') AS neg, COUNT(*) AS total \
             FROM posts WHERE created_at >= ? GROUP BY m, topics ORDER BY m",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let topics: String = r.try_get("topics")?;
                Ok(MinuteCount {
                    minute: r.try_get::<i64, _>("m")? * 60_000,
                    topics: split_set(&topics),
                    negative: r.try_get("neg")?,
                    total: r.try_get("total")?,
                })
            })
            .collect()
    }

    async fn post_texts(
        &self,
        from: Millis,
        to: Millis,
        topic: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Sentiment)>> {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT text, sentiment FROM posts WHERE created_at >= ");
        qb.push_bind(from).push(" AND created_at < ").push_bind(to);
        if let Some(t) = topic {
            qb.push(" AND topics LIKE ")
                .push_bind(like_topic(t))
                .push(" ESCAPE '\\'");
        }
        qb.push(" ORDER BY created_at DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get("sentiment")?;
                Ok((
                    r.try_get("text")?,
                    Sentiment::from_str(&s).map_err(decode_err)?,
                ))
            })
            .collect()
    }

    async fn post_sources(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT source FROM posts ORDER BY source")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn latest_post_time(&self) -> Result<Option<Millis>> {
        Ok(sqlx::query_scalar("SELECT MAX(created_at) FROM posts")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn create_alert(
        &self,
        a: &NewAlert,
        webhooks: &[(String, String)],
        now: Millis,
    ) -> Result<Alert> {
        let terms = serde_json::to_string(&a.terms).unwrap_or_else(|_| "[]".into());
        let examples = serde_json::to_string(&a.example_post_ids).unwrap_or_else(|_| "[]".into());
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(&format!(
            "INSERT INTO alerts(series, kind, window, window_start, window_end, observed, expected, z, \
             posts, terms, example_post_ids, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             RETURNING {ALERT_COLS}"
        ))
        .bind(&a.series)
        .bind(&a.kind)
        .bind(&a.window)
        .bind(a.window_start)
        .bind(a.window_end)
        .bind(a.observed)
        .bind(a.expected)
        .bind(a.z)
        .bind(a.posts)
        .bind(terms)
        .bind(examples)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let alert = alert_from_row(&row)?;
        for (url, body) in webhooks {
            sqlx::query(
                "INSERT INTO webhook_outbox(alert_id, url, body, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(alert.id)
            .bind(url)
            .bind(body.replace("{{alert_id}}", &alert.id.to_string()))
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(alert)
    }

    async fn list_alerts(&self, status: Option<AlertStatus>, limit: u32) -> Result<Vec<Alert>> {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {ALERT_COLS} FROM alerts"));
        if let Some(s) = status {
            qb.push(" WHERE status = ").push_bind(s.as_str());
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(alert_from_row).collect()
    }

    async fn alert(&self, id: i64) -> Result<Option<Alert>> {
        let row = sqlx::query(&format!("SELECT {ALERT_COLS} FROM alerts WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(alert_from_row).transpose()
    }

    async fn set_alert_status(
        &self,
        id: i64,
        status: AlertStatus,
        by: i64,
        now: Millis,
    ) -> Result<Alert> {
        let sql = match status {
            AlertStatus::Acknowledged => format!(
                "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ? \
                 WHERE id = ? AND status = 'open' RETURNING {ALERT_COLS}"
            ),
            AlertStatus::Resolved => format!(
                "UPDATE alerts SET status = 'resolved', resolved_at = ?, resolved_by = ? \
                 WHERE id = ? AND status != 'resolved' RETURNING {ALERT_COLS}"
            ),
            AlertStatus::Open => {
                return Err(StoreError::Limit {
                    field: "status",
                    message: "an alert cannot be reopened".into(),
                })
            }
        };
        let row = sqlx::query(&sql)
            .bind(now)
            .bind(by)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => alert_from_row(&r),
            None => match self.alert(id).await? {
                None => Err(StoreError::NotFound { what: "alert" }),
                Some(a) => Err(StoreError::Limit {
                    field: "status",
                    message: format!("the alert is already {}", a.status.as_str()),
                }),
            },
        }
    }

    async fn claim_webhooks(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<OutboxItem>> {
        // One UPDATE: SQLite runs it under the database's write lock, so two
        // processes never claim the same row.
        let mut rows = sqlx::query(&format!(
            "UPDATE webhook_outbox SET next_attempt_at = ? WHERE id IN (SELECT id FROM webhook_outbox \
             WHERE delivered_at IS NULL AND dead_at IS NULL AND next_attempt_at <= ? \
             ORDER BY next_attempt_at, id LIMIT ?) RETURNING {OUTBOX_COLS}"
        ))
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(outbox_from_row)
        .collect::<Result<Vec<_>>>()?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    async fn next_webhook_at(&self) -> Result<Option<Millis>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM webhook_outbox WHERE delivered_at IS NULL AND dead_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    async fn webhook_delivered(&self, id: i64, now: Millis) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn webhook_failed(
        &self,
        id: i64,
        error: &str,
        next: Option<Millis>,
        now: Millis,
    ) -> Result<()> {
        match next {
            Some(at) => sqlx::query(
                "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
            )
            .bind(error)
            .bind(at)
            .bind(id),
            None => sqlx::query(
                "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?, dead_at = ? WHERE id = ?",
            )
            .bind(error)
            .bind(now)
            .bind(id),
        }
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn webhook_outbox(&self, limit: u32) -> Result<Vec<OutboxItem>> {
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_COLS} FROM webhook_outbox ORDER BY id DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_from_row).collect()
    }

    async fn link_handle(&self, account_id: i64, handle: &str, now: Millis) -> Result<u64> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let owner: Option<i64> =
            sqlx::query_scalar("SELECT account_id FROM handle_links WHERE handle = ?")
                .bind(handle)
                .fetch_optional(&mut *tx)
                .await?;
        match owner {
            Some(a) if a != account_id => return Err(StoreError::Conflict { field: "handle" }),
            Some(_) => {}
            None => {
                let n: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM handle_links WHERE account_id = ?")
                        .bind(account_id)
                        .fetch_one(&mut *tx)
                        .await?;
                if n >= 10 {
                    return Err(StoreError::Limit {
                        field: "handle",
                        message: "at most 10 handles per account".into(),
                    });
                }
                sqlx::query(
                    "INSERT INTO handle_links(handle, account_id, created_at) VALUES (?, ?, ?)",
                )
                .bind(handle)
                .bind(account_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| unique_to_conflict(e, "handle"))?;
            }
        }
        let claimed = sqlx::query("UPDATE posts SET account_id = ? WHERE author = ?")
            .bind(account_id)
            .bind(handle)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(claimed)
    }

    async fn unlink_handle(&self, account_id: i64, handle: &str) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query("DELETE FROM handle_links WHERE handle = ? AND account_id = ?")
            .bind(handle)
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if done == 0 {
            return Err(StoreError::NotFound { what: "handle" });
        }
        sqlx::query("UPDATE posts SET account_id = NULL WHERE author = ? AND account_id = ?")
            .bind(handle)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn handles(&self, account_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT handle FROM handle_links WHERE account_id = ? ORDER BY handle",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CatalogStore;

    fn post(id: &str, author: &str, at: Millis) -> NewPost {
        NewPost {
            source: "test".into(),
            external_id: id.into(),
            author: author.into(),
            text: format!("post {id}"),
            url: None,
            lang: None,
            created_at: at,
            sentiment: Sentiment::Negative,
            score: -0.5,
            top_tokens: vec![("bad".into(), 1.5)],
            topics: vec!["price".into(), "app".into()],
            brands: vec![],
        }
    }

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let s = SqliteStore::open(&url, 2).await.unwrap();
        s.migrate().await.unwrap();
        (dir, s)
    }

    #[tokio::test]
    async fn posts_dedupe_move_the_cursor_and_round_trip() {
        let (_d, s) = store().await;
        let batch = vec![
            post("1", "@a@x", 1000),
            post("2", "@b@x", 2000),
            post("1", "@a@x", 1000),
        ];
        let (c, ids) = s
            .insert_posts(&batch, Some(("conn", "42")), 5)
            .await
            .unwrap();
        assert_eq!((c.inserted, c.duplicates), (2, 1));
        assert!(ids[0].is_some() && ids[1].is_some() && ids[2].is_none());
        assert_eq!(
            s.connector_cursor("conn").await.unwrap().as_deref(),
            Some("42")
        );
        let (c, _) = s
            .insert_posts(&batch[..2], Some(("conn", "43")), 6)
            .await
            .unwrap();
        assert_eq!((c.inserted, c.duplicates), (0, 2));
        assert_eq!(
            s.connector_cursor("conn").await.unwrap().as_deref(),
            Some("43")
        );
        let all = s
            .list_posts(&PostQuery {
                topic: Some("app".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].topics, vec!["price", "app"]);
        assert_eq!(all[0].top_tokens, vec![("bad".to_string(), 1.5)]);
        assert_eq!(all[0].ingested_at, 5);
        // LIKE wildcards in a topic filter match literally.
        let none = s
            .count_posts(&PostQuery {
                topic: Some("pr%".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(none, 0);
        let b = s
            .post_series(0, 4000, 1000, Some("price"), None, None)
            .await
            .unwrap();
        assert_eq!(
            b.iter().map(|b| (b.start, b.total)).collect::<Vec<_>>(),
            vec![(1000, 1), (2000, 1)]
        );
    }

    #[tokio::test]
    async fn full_text_matching_filters_listings_counts_and_series() {
        use marquee_domain::textmatch::{about_idea, all_words};
        let (_d, s) = store().await;
        let texts = [
            "Offline downloads on the TV would be great",
            "my tv app crashed",
            "Download limit again?!",
            "\"offline\" OR *quotes* are just words",
        ];
        let batch: Vec<NewPost> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| NewPost {
                text: t.to_string(),
                ..post(&i.to_string(), "@a@x", 1000 * (i as i64 + 1))
            })
            .collect();
        s.insert_posts(&batch, None, 9).await.unwrap();
        let idea = about_idea("Offline downloads for the TV app", &["downloads".into()]).unwrap();
        let q = PostQuery {
            matching: Some(idea.clone()),
            limit: 10,
            ..Default::default()
        };
        let got: Vec<String> = s
            .list_posts(&q)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.text)
            .collect();
        assert_eq!(got, vec![texts[2].to_string(), texts[0].to_string()]);
        assert_eq!(s.count_posts(&q).await.unwrap(), 2);
        // The store agrees with the pure rule.
        for t in texts {
            assert_eq!(idea.matches(t), got.iter().any(|g| g == t), "{t}");
        }
        let b = s
            .post_series(0, 10_000, 10_000, None, None, Some(&idea))
            .await
            .unwrap();
        assert_eq!(b.iter().map(|b| b.total).sum::<i64>(), 2);
        // Query syntax typed into a search box is just words.
        let q = PostQuery {
            matching: all_words("\"offline\" OR"),
            ..Default::default()
        };
        assert_eq!(s.count_posts(&q).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn alerts_queue_webhooks_atomically_and_move_through_states() {
        let (_d, s) = store().await;
        let a = NewAlert {
            series: "price".into(),
            kind: "volume".into(),
            window: "15m".into(),
            window_start: 0,
            window_end: 900_000,
            observed: 50.0,
            expected: 5.0,
            z: 9.0,
            posts: 50,
            terms: vec![("hike".into(), 3.2)],
            example_post_ids: vec![],
        };
        let hooks = vec![(
            "http://h/1".to_string(),
            "{\"id\":\"{{alert_id}}\"}".to_string(),
        )];
        let alert = s.create_alert(&a, &hooks, 10).await.unwrap();
        let due = s.claim_webhooks(10, 1_000, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].body, format!("{{\"id\":\"{}\"}}", alert.id));
        s.webhook_failed(due[0].id, "HTTP 500", Some(100), 11)
            .await
            .unwrap();
        assert!(s.claim_webhooks(50, 1_000, 10).await.unwrap().is_empty());
        assert_eq!(s.next_webhook_at().await.unwrap(), Some(100));
        s.webhook_delivered(due[0].id, 101).await.unwrap();
        assert_eq!(s.next_webhook_at().await.unwrap(), None);
        assert_eq!(s.webhook_outbox(5).await.unwrap()[0].attempts, 2);
        let agent = s
            .create_account(
                &crate::NewAccount {
                    email: "agent@example.com".into(),
                    password_hash: "x".into(),
                    role: marquee_domain::Role::Agent,
                    plan: marquee_domain::Plan::Basic,
                    must_change_password: false,
                    first_profile: "A".into(),
                },
                1,
            )
            .await
            .unwrap()
            .id;
        let acked = s
            .set_alert_status(alert.id, AlertStatus::Acknowledged, agent, 20)
            .await
            .unwrap();
        assert_eq!(
            (acked.status, acked.acknowledged_by),
            (AlertStatus::Acknowledged, Some(agent))
        );
        assert!(matches!(
            s.set_alert_status(alert.id, AlertStatus::Acknowledged, agent, 21)
                .await,
            Err(StoreError::Limit { .. })
        ));
        assert!(matches!(
            s.set_alert_status(99, AlertStatus::Resolved, agent, 21)
                .await,
            Err(StoreError::NotFound { .. })
        ));
    }
}
