//! PostgreSQL implementation of [`ListeningStore`]; see
//! `crate::sqlite::listening` for the SQLite twin.
//!
//! Post ingest stays batched: one multi-row `INSERT ... ON CONFLICT (source,
//! external_id) DO NOTHING RETURNING id` per chunk, rows in key order so that
//! concurrent batches with overlapping posts cannot deadlock. Full-text
//! matching renders a [`TextMatch`] as a `'simple'` tsquery against the
//! generated `posts.text_tsv` column.

use super::PgStore;
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
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};
use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;

/// Rows per multi-row INSERT of posts (13 binds each, under PostgreSQL's 65,535).
const POST_CHUNK: usize = 1000;

/// Namespace (first key) of the per-account advisory lock of handle links.
const HANDLE_LOCK_NS: i32 = 0x4a4d;

/// Maps a UNIQUE violation to a conflict on `field`.
fn unique_to_conflict(e: sqlx::Error, field: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { field },
        _ => e.into(),
    }
}

/// PostgreSQL's TEXT cannot hold NUL, which SQLite stores: an outside post's
/// NUL becomes U+FFFD rather than failing the whole batch.
fn no_nul(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// A word as a tsquery operand: letters and digits only, lower-cased, so
/// that nothing typed can be read as tsquery syntax.
pub(super) fn ts_word(w: &str) -> String {
    w.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Renders a match as a tsquery: an OR of AND-groups of word prefixes,
/// `(a:* & b:*) | (c:*)`. `None` when nothing is left to match (which must
/// match nothing, as an empty FTS5 query does).
pub(super) fn tsquery(m: &TextMatch) -> Option<String> {
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

fn token_from_row(row: &PgRow) -> Result<IngestToken> {
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

fn post_from_row(row: &PgRow) -> Result<Post> {
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
    "id, series, kind, \"window\", window_start, window_end, observed, expected, z, \
     posts, terms, example_post_ids, status, raised_at, acknowledged_at, acknowledged_by, \
     resolved_at, resolved_by";

fn alert_from_row(row: &PgRow) -> Result<Alert> {
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

fn outbox_from_row(row: &PgRow) -> Result<OutboxItem> {
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
    let esc = no_nul(topic)
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%|{esc}|%")
}

fn push_filters<'a>(qb: &mut QueryBuilder<'a, Postgres>, q: &'a PostQuery) {
    qb.push(" WHERE 1 = 1");
    if let Some(from) = q.from {
        qb.push(" AND created_at >= ").push_bind(from);
    }
    if let Some(to) = q.to {
        qb.push(" AND created_at < ").push_bind(to);
    }
    if let Some(t) = &q.topic {
        qb.push(" AND topics ILIKE ")
            .push_bind(like_topic(t))
            .push(" ESCAPE '\\'");
    }
    if let Some(s) = &q.source {
        qb.push(" AND source = ").push_bind(no_nul(s).into_owned());
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

/// `AND text matches`; a match with no groups matches nothing.
fn push_matching(qb: &mut QueryBuilder<'_, Postgres>, m: &TextMatch) {
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

#[async_trait]
impl ListeningStore for PgStore {
    async fn create_ingest_token(
        &self,
        name: &str,
        token_hash: &str,
        created_by: Option<i64>,
        now: Millis,
    ) -> Result<IngestToken> {
        let row = sqlx::query(&format!(
            "INSERT INTO ingest_tokens(name, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4) \
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
            "UPDATE ingest_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 \
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
            "SELECT {TOKEN_COLS} FROM ingest_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
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
        // Insert in (source, external_id) order: two concurrent batches with
        // posts in common then take the unique-index locks in the same order
        // and cannot deadlock. The stable sort keeps the first of repeated
        // keys first, so it is the one that gets the id.
        let mut sorted: Vec<&NewPost> = posts.iter().collect();
        sorted.sort_by(|a, b| (&a.source, &a.external_id).cmp(&(&b.source, &b.external_id)));
        let mut tx = self.pool.begin().await?;
        let mut new_ids: HashMap<(String, String), i64> = HashMap::new();
        for chunk in sorted.chunks(POST_CHUNK) {
            let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
                "INSERT INTO posts(source, external_id, author, text, url, lang, created_at, \
                 ingested_at, sentiment, score, top_tokens, topics, brands) ",
            );
            qb.push_values(chunk, |mut b, p| {
                let top = serde_json::to_string(&p.top_tokens).unwrap_or_else(|_| "[]".into());
                b.push_bind(no_nul(&p.source).into_owned())
                    .push_bind(no_nul(&p.external_id).into_owned())
                    .push_bind(no_nul(&p.author).into_owned())
                    .push_bind(no_nul(&p.text).into_owned())
                    .push_bind(p.url.as_deref().map(|u| no_nul(u).into_owned()))
                    .push_bind(p.lang.as_deref().map(|l| no_nul(l).into_owned()))
                    .push_bind(p.created_at)
                    .push_bind(now)
                    .push_bind(p.sentiment.as_str())
                    .push_bind(f64::from(p.score))
                    .push_bind(top)
                    .push_bind(join_set(&p.topics))
                    .push_bind(join_set(&p.brands));
            });
            qb.push(
                " ON CONFLICT (source, external_id) DO NOTHING RETURNING id, source, external_id",
            );
            let rows = qb.build().fetch_all(&mut *tx).await?;
            for r in rows {
                let id: i64 = r.try_get("id")?;
                new_ids.insert((r.try_get("source")?, r.try_get("external_id")?), id);
            }
        }
        let any_links: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM handle_links)")
            .fetch_one(&mut *tx)
            .await?;
        if any_links && !new_ids.is_empty() {
            sqlx::query(
                "UPDATE posts SET account_id = (SELECT h.account_id FROM handle_links h WHERE h.handle = posts.author) \
                 WHERE id = ANY($1) AND author IN (SELECT handle FROM handle_links)",
            )
            .bind(new_ids.values().copied().collect::<Vec<i64>>())
            .execute(&mut *tx)
            .await?;
        }
        if let Some((name, value)) = cursor {
            sqlx::query(
                "INSERT INTO connector_cursors(name, cursor, updated_at) VALUES ($1, $2, $3) \
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
            .map(|p| {
                new_ids.remove(&(
                    no_nul(&p.source).into_owned(),
                    no_nul(&p.external_id).into_owned(),
                ))
            })
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
            sqlx::query_scalar("SELECT cursor FROM connector_cursors WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn list_posts(&self, q: &PostQuery) -> Result<Vec<Post>> {
        let mut qb: QueryBuilder<Postgres> =
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
        let wanted: Vec<i64> = ids.iter().take(500).copied().collect();
        let rows = sqlx::query(&format!("SELECT {POST_COLS} FROM posts WHERE id = ANY($1)"))
            .bind(wanted)
            .fetch_all(&self.pool)
            .await?;
        let mut by_id: HashMap<i64, Post> = HashMap::new();
        for r in &rows {
            let p = post_from_row(r)?;
            by_id.insert(p.id, p);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    async fn count_posts(&self, q: &PostQuery) -> Result<i64> {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("SELECT COUNT(*) FROM posts");
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
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("SELECT ((created_at - ");
        qb.push_bind(from)
            .push(") / ")
            .push_bind(bucket_ms)
            .push(
                ") AS b, COUNT(*) AS total, COUNT(*) FILTER (WHERE sentiment = 'negative') AS neg, \
                   COUNT(*) FILTER (WHERE sentiment = 'positive') AS pos, SUM(score) AS score_sum FROM posts \
                   WHERE created_at >= ",
            )
            .push_bind(from)
            .push(" AND created_at < ")
            .push_bind(to);
        if let Some(t) = topic {
            qb.push(" AND topics ILIKE ")
                .push_bind(like_topic(t))
                .push(" ESCAPE '\\'");
        }
        if let Some(s) = source {
            qb.push(" AND source = ").push_bind(no_nul(s).into_owned());
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
            "SELECT created_at / 60000 AS m, topics, COUNT(*) FILTER (WHERE sentiment = 'negative') AS neg, \
             COUNT(*) AS total \
             FROM posts WHERE created_at >= $1 GROUP BY m, topics ORDER BY m",
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
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new("SELECT text, sentiment FROM posts WHERE created_at >= ");
        qb.push_bind(from).push(" AND created_at < ").push_bind(to);
        if let Some(t) = topic {
            qb.push(" AND topics ILIKE ")
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
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT source COLLATE \"C\" AS source FROM posts ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?)
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
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO alerts(series, kind, \"window\", window_start, window_end, observed, expected, z, \
             posts, terms, example_post_ids, raised_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
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
                "INSERT INTO webhook_outbox(alert_id, url, body, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5)",
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
        let mut qb: QueryBuilder<Postgres> =
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
        let row = sqlx::query(&format!("SELECT {ALERT_COLS} FROM alerts WHERE id = $1"))
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
                "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $1, acknowledged_by = $2 \
                 WHERE id = $3 AND status = 'open' RETURNING {ALERT_COLS}"
            ),
            AlertStatus::Resolved => format!(
                "UPDATE alerts SET status = 'resolved', resolved_at = $1, resolved_by = $2 \
                 WHERE id = $3 AND status != 'resolved' RETURNING {ALERT_COLS}"
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
        // One statement: the rows another instance is claiming are skipped,
        // not waited for, and what is returned is already leased.
        let mut rows = sqlx::query(&format!(
            "WITH due AS (SELECT id FROM webhook_outbox WHERE delivered_at IS NULL AND dead_at IS NULL \
             AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE webhook_outbox o SET next_attempt_at = $3 FROM due WHERE o.id = due.id \
             RETURNING {cols}",
            cols = OUTBOX_COLS
                .split(',')
                .map(|c| format!("o.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(now)
        .bind(i64::from(limit))
        .bind(now.saturating_add(lease_ms))
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
            "UPDATE webhook_outbox SET delivered_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2",
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
                "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 WHERE id = $3",
            )
            .bind(error)
            .bind(at)
            .bind(id),
            None => sqlx::query(
                "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = $1, dead_at = $2 WHERE id = $3",
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
            "SELECT {OUTBOX_COLS} FROM webhook_outbox ORDER BY id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_from_row).collect()
    }

    async fn link_handle(&self, account_id: i64, handle: &str, now: Millis) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        // Serialise an account's links, so two at once cannot pass the limit.
        sqlx::query("SELECT pg_advisory_xact_lock($1, ($2 % 2147483647)::INT4)")
            .bind(HANDLE_LOCK_NS)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let owner: Option<i64> =
            sqlx::query_scalar("SELECT account_id FROM handle_links WHERE handle = $1")
                .bind(handle)
                .fetch_optional(&mut *tx)
                .await?;
        match owner {
            Some(a) if a != account_id => return Err(StoreError::Conflict { field: "handle" }),
            Some(_) => {}
            None => {
                let n: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM handle_links WHERE account_id = $1")
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
                    "INSERT INTO handle_links(handle, account_id, created_at) VALUES ($1, $2, $3)",
                )
                .bind(handle)
                .bind(account_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| unique_to_conflict(e, "handle"))?;
            }
        }
        let claimed = sqlx::query("UPDATE posts SET account_id = $1 WHERE author = $2")
            .bind(account_id)
            .bind(handle)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(claimed)
    }

    async fn unlink_handle(&self, account_id: i64, handle: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM handle_links WHERE handle = $1 AND account_id = $2")
            .bind(handle)
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if done == 0 {
            return Err(StoreError::NotFound { what: "handle" });
        }
        sqlx::query("UPDATE posts SET account_id = NULL WHERE author = $1 AND account_id = $2")
            .bind(handle)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn handles(&self, account_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT handle FROM handle_links WHERE account_id = $1 ORDER BY handle COLLATE \"C\"",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
