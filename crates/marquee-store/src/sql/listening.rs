//! [`ListeningStore`], written once for both backends (see `sqlite/mod.rs`
//! for the dialect seam this file is compiled against).
//!
//! What is left per dialect lives in `<backend>/listening_dialect.rs`: text
//! matching (FTS5 vs a `'simple'` tsquery) and the tuned parts of post ingest.

use super::{lock_pair, text, unique_to_conflict, Backend, Db, FOR_UPDATE};
use crate::listening::{
    Bucket, ListeningStore, MinuteCount, OutboxItem, PostCounts, PostOrder, PostQuery,
};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::listening::{
    check_handle_limit, Alert, AlertStatus, IngestToken, LabelSource, NewAlert, NewPost, Post,
    Sentiment, SentimentCorrection,
};
use marquee_domain::textmatch::TextMatch;
use marquee_domain::Millis;
use sqlx::{QueryBuilder, Row};
use std::collections::HashMap;
use std::str::FromStr;

// The dialect's text matching and ingest helpers; on PostgreSQL this also
// keeps `ts_word` and `tsquery` reachable as `super::listening::*` for the
// features that build tsqueries of their own.
pub(super) use super::listening_dialect::*;

/// Rows per multi-row INSERT of posts (13 binds each: under SQLite's 32,766
/// and PostgreSQL's 65,535 bind parameters).
const POST_CHUNK: usize = 1000;

/// Namespace (first key) of the per-account lock of handle links.
const HANDLE_LOCK_NS: i32 = 0x4a4d;

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

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

const TOKEN_COLS: &str = "id, name, created_at, created_by, revoked_at";

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    created_at: Millis,
    created_by: Option<i64>,
    revoked_at: Option<Millis>,
}

impl From<TokenRow> for IngestToken {
    fn from(r: TokenRow) -> Self {
        IngestToken {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            created_by: r.created_by,
            revoked_at: r.revoked_at,
        }
    }
}

const POST_COLS: &str =
    "id, source, external_id, author, text, url, lang, created_at, ingested_at, \
     sentiment, score, top_tokens, topics, brands, account_id, labelled_by";

#[derive(sqlx::FromRow)]
struct PostRow {
    id: i64,
    source: String,
    external_id: String,
    author: String,
    text: String,
    url: Option<String>,
    lang: Option<String>,
    created_at: Millis,
    ingested_at: Millis,
    sentiment: String,
    score: f64,
    top_tokens: String,
    topics: String,
    brands: String,
    account_id: Option<i64>,
    labelled_by: String,
}

impl TryFrom<PostRow> for Post {
    type Error = StoreError;

    fn try_from(r: PostRow) -> Result<Post> {
        Ok(Post {
            id: r.id,
            source: r.source,
            external_id: r.external_id,
            author: r.author,
            text: r.text,
            url: r.url,
            lang: r.lang,
            created_at: r.created_at,
            ingested_at: r.ingested_at,
            sentiment: Sentiment::from_str(&r.sentiment).map_err(decode_err)?,
            score: r.score as f32,
            top_tokens: serde_json::from_str(&r.top_tokens).map_err(decode_err)?,
            topics: split_set(&r.topics),
            brands: split_set(&r.brands),
            account_id: r.account_id,
            labelled_by: LabelSource::from_str(&r.labelled_by).map_err(decode_err)?,
        })
    }
}

const ALERT_COLS: &str =
    "id, series, kind, \"window\", window_start, window_end, observed, expected, z, \
     posts, terms, example_post_ids, status, raised_at, acknowledged_at, acknowledged_by, \
     resolved_at, resolved_by";

#[derive(sqlx::FromRow)]
struct AlertRow {
    id: i64,
    series: String,
    kind: String,
    window: String,
    window_start: Millis,
    window_end: Millis,
    observed: f64,
    expected: f64,
    z: f64,
    posts: i64,
    terms: String,
    example_post_ids: String,
    status: String,
    raised_at: Millis,
    acknowledged_at: Option<Millis>,
    acknowledged_by: Option<i64>,
    resolved_at: Option<Millis>,
    resolved_by: Option<i64>,
}

impl TryFrom<AlertRow> for Alert {
    type Error = StoreError;

    fn try_from(r: AlertRow) -> Result<Alert> {
        Ok(Alert {
            id: r.id,
            series: r.series,
            kind: r.kind,
            window: r.window,
            window_start: r.window_start,
            window_end: r.window_end,
            observed: r.observed,
            expected: r.expected,
            z: r.z,
            posts: r.posts,
            terms: serde_json::from_str(&r.terms).map_err(decode_err)?,
            example_post_ids: serde_json::from_str(&r.example_post_ids).map_err(decode_err)?,
            status: AlertStatus::from_str(&r.status).map_err(decode_err)?,
            raised_at: r.raised_at,
            acknowledged_at: r.acknowledged_at,
            acknowledged_by: r.acknowledged_by,
            resolved_at: r.resolved_at,
            resolved_by: r.resolved_by,
        })
    }
}

const OUTBOX_COLS: &str =
    "id, alert_id, url, body, attempts, next_attempt_at, delivered_at, dead_at, last_error";

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    alert_id: Option<i64>,
    url: String,
    body: String,
    attempts: i64,
    next_attempt_at: Millis,
    delivered_at: Option<Millis>,
    dead_at: Option<Millis>,
    last_error: Option<String>,
}

impl From<OutboxRow> for OutboxItem {
    fn from(r: OutboxRow) -> Self {
        OutboxItem {
            id: r.id,
            alert_id: r.alert_id,
            url: r.url,
            body: r.body,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            delivered_at: r.delivered_at,
            dead_at: r.dead_at,
            last_error: r.last_error,
        }
    }
}

/// Escapes LIKE wildcards in a topic name (ESCAPE '\').
fn like_topic(topic: &str) -> String {
    let esc = text(topic)
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%|{esc}|%")
}

/// `AND topics` holds `topic`, case-insensitively.
fn push_topic(qb: &mut QueryBuilder<'_, Db>, topic: &str) {
    qb.push(" AND lower(topics) LIKE lower(")
        .push_bind(like_topic(topic))
        .push(") ESCAPE '\\'");
}

fn push_filters<'a>(qb: &mut QueryBuilder<'a, Db>, q: &'a PostQuery) {
    qb.push(" WHERE 1 = 1");
    if let Some(from) = q.from {
        qb.push(" AND created_at >= ").push_bind(from);
    }
    if let Some(to) = q.to {
        qb.push(" AND created_at < ").push_bind(to);
    }
    if let Some(t) = &q.topic {
        push_topic(qb, t);
    }
    if let Some(s) = &q.source {
        qb.push(" AND source = ").push_bind(text(s).into_owned());
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

#[async_trait]
impl ListeningStore for Backend {
    async fn create_ingest_token(
        &self,
        name: &str,
        token_hash: &str,
        created_by: Option<i64>,
        now: Millis,
    ) -> Result<IngestToken> {
        let row: TokenRow = sqlx::query_as(&format!(
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
        Ok(row.into())
    }

    async fn ingest_tokens(&self) -> Result<Vec<IngestToken>> {
        let rows: Vec<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLS} FROM ingest_tokens ORDER BY id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn revoke_ingest_token(&self, id: i64, now: Millis) -> Result<IngestToken> {
        let row: Option<TokenRow> = sqlx::query_as(&format!(
            "UPDATE ingest_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 \
             RETURNING {TOKEN_COLS}"
        ))
        .bind(now)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Into::into).ok_or(StoreError::NotFound {
            what: "ingest token",
        })
    }

    async fn ingest_token_by_hash(&self, token_hash: &str) -> Result<Option<IngestToken>> {
        let row: Option<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLS} FROM ingest_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Into::into))
    }

    async fn insert_posts(
        &self,
        posts: &[NewPost],
        cursor: Option<(&str, &str)>,
        now: Millis,
    ) -> Result<(PostCounts, Vec<Option<i64>>)> {
        let mut ordered: Vec<&NewPost> = posts.iter().collect();
        if INGEST_IN_KEY_ORDER {
            // Stable: the first of repeated keys stays first and gets the id.
            ordered.sort_by(|a, b| (&a.source, &a.external_id).cmp(&(&b.source, &b.external_id)));
        }
        let mut tx = self.begin_write().await?;
        prepare_ingest(&mut tx).await?;
        let mut new_ids: HashMap<(String, String), i64> = HashMap::new();
        for chunk in ordered.chunks(POST_CHUNK) {
            let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                "INSERT INTO posts(source, external_id, author, text, url, lang, created_at, \
                 ingested_at, sentiment, score, top_tokens, topics, brands) ",
            );
            qb.push_values(chunk, |mut b, p| {
                b.push_bind(text(&p.source))
                    .push_bind(text(&p.external_id))
                    .push_bind(text(&p.author))
                    .push_bind(text(&p.text))
                    .push_bind(p.url.as_deref().map(text))
                    .push_bind(p.lang.as_deref().map(text))
                    .push_bind(p.created_at)
                    .push_bind(now)
                    .push_bind(p.sentiment.as_str())
                    .push_bind(f64::from(p.score))
                    .push_bind(json(&p.top_tokens))
                    .push_bind(join_set(&p.topics))
                    .push_bind(join_set(&p.brands));
            });
            qb.push(
                " ON CONFLICT (source, external_id) DO NOTHING RETURNING id, source, external_id",
            );
            for r in qb.build().fetch_all(&mut *tx).await? {
                new_ids.insert(
                    (r.try_get("source")?, r.try_get("external_id")?),
                    r.try_get("id")?,
                );
            }
        }
        link_proposal_posts(&mut tx, &ordered, &new_ids).await?;
        let any_links: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM handle_links)")
            .fetch_one(&mut *tx)
            .await?;
        if any_links && !new_ids.is_empty() {
            let ids: Vec<i64> = new_ids.values().copied().collect();
            link_new_posts(&mut tx, &ids).await?;
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
                let key = (
                    text(&p.source).into_owned(),
                    text(&p.external_id).into_owned(),
                );
                new_ids.remove(&key)
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

    async fn track_proposal_posts(
        &self,
        id: i64,
        m: &TextMatch,
        now: Millis,
    ) -> Result<Option<u64>> {
        let query = m.to_fts5();
        let current = "SELECT query FROM proposal_post_tracking WHERE proposal_id = $1";
        let unchanged = |q: Option<String>| q.as_deref() == Some(query.as_str());
        // Looked up first without the lock: refreshed every pass, the match
        // is almost always unchanged.
        if unchanged(
            sqlx::query_scalar(current)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        ) {
            return Ok(None);
        }
        let mut tx = self.begin_write().await?;
        if !TRACK_LOCK.is_empty() {
            sqlx::query(TRACK_LOCK).execute(&mut *tx).await?;
        }
        if unchanged(
            sqlx::query_scalar(current)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?,
        ) {
            return Ok(None);
        }
        for table in ["proposal_posts", "proposal_post_days"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE proposal_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO proposal_posts(proposal_id, post_id, created_at, sentiment) SELECT ",
        );
        qb.push_bind(id)
            .push(", id, created_at, sentiment FROM posts WHERE 1 = 1");
        push_matching(&mut qb, m);
        let linked = qb.build().execute(&mut *tx).await?.rows_affected();
        sqlx::query(
            "INSERT INTO proposal_post_days(proposal_id, day, total, negative, positive, score_sum) \
             SELECT $1, (p.created_at / 86400000) * 86400000 AS d, COUNT(*), \
             COUNT(*) FILTER (WHERE p.sentiment = 'negative'), \
             COUNT(*) FILTER (WHERE p.sentiment = 'positive'), COALESCE(SUM(p.score), 0) \
             FROM proposal_posts l JOIN posts p ON p.id = l.post_id \
             WHERE l.proposal_id = $1 GROUP BY (p.created_at / 86400000) * 86400000",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO proposal_post_tracking(proposal_id, query, posts, tracked_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (proposal_id) DO UPDATE SET \
             query = excluded.query, posts = excluded.posts, tracked_at = excluded.tracked_at",
        )
        .bind(id)
        .bind(&query)
        .bind(linked as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(linked))
    }

    async fn proposal_post_days(&self, id: i64, from: Millis, to: Millis) -> Result<Vec<Bucket>> {
        let rows: Vec<(i64, i64, i64, i64, f64)> = sqlx::query_as(
            "SELECT day, total, negative, positive, score_sum FROM proposal_post_days \
             WHERE proposal_id = $1 AND day >= $2 AND day < $3 ORDER BY day",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(start, total, negative, positive, score_sum)| Bucket {
                start,
                total,
                negative,
                positive,
                score_sum,
            })
            .collect())
    }

    async fn proposal_posts(
        &self,
        id: i64,
        since: Millis,
        sentiment: Option<Sentiment>,
        limit: u32,
    ) -> Result<Vec<Post>> {
        let cols = POST_COLS
            .split(", ")
            .map(|c| format!("p.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(format!(
            "SELECT {cols} FROM proposal_posts l JOIN posts p ON p.id = l.post_id \
             WHERE l.proposal_id = "
        ));
        qb.push_bind(id)
            .push(" AND l.created_at >= ")
            .push_bind(since);
        if let Some(s) = sentiment {
            qb.push(" AND l.sentiment = ").push_bind(s.as_str());
        }
        qb.push(" ORDER BY l.created_at DESC, l.post_id DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<PostRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(Post::try_from).collect()
    }

    async fn proposal_post_texts(
        &self,
        id: i64,
        since: Millis,
        sentiment: Sentiment,
        limit: u32,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT p.text FROM proposal_posts l JOIN posts p ON p.id = l.post_id \
             WHERE l.proposal_id = $1 AND l.sentiment = $2 AND l.created_at >= $3 \
             ORDER BY l.created_at DESC, l.post_id DESC LIMIT $4",
        )
        .bind(id)
        .bind(sentiment.as_str())
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn correct_sentiment(
        &self,
        post_id: i64,
        sentiment: Sentiment,
        by: i64,
        now: Millis,
    ) -> Result<Post> {
        let mut tx = self.begin_write().await?;
        let Some(previous) = relabel(
            &mut tx,
            post_id,
            sentiment,
            sentiment.label_score(),
            LabelSource::Staff,
            true,
        )
        .await?
        else {
            return Err(StoreError::NotFound { what: "post" });
        };
        sqlx::query(
            "INSERT INTO sentiment_corrections(post_id, previous, sentiment, corrected_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(post_id)
        .bind(previous.as_str())
        .bind(sentiment.as_str())
        .bind(by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row: PostRow = sqlx::query_as(&format!("SELECT {POST_COLS} FROM posts WHERE id = $1"))
            .bind(post_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Post::try_from(row)
    }

    async fn sentiment_corrections(&self) -> Result<Vec<SentimentCorrection>> {
        let rows: Vec<CorrectionRow> = sqlx::query_as(&format!(
            "SELECT {CORRECTION_COLS} FROM sentiment_corrections c JOIN posts p ON p.id = c.post_id \
             WHERE c.id = (SELECT MAX(l.id) FROM sentiment_corrections l WHERE l.post_id = c.post_id) \
             ORDER BY c.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(SentimentCorrection::try_from)
            .collect()
    }

    async fn post_corrections(&self, post_id: i64) -> Result<Vec<SentimentCorrection>> {
        let rows: Vec<CorrectionRow> = sqlx::query_as(&format!(
            "SELECT {CORRECTION_COLS} FROM sentiment_corrections c JOIN posts p ON p.id = c.post_id \
             WHERE c.post_id = $1 ORDER BY c.id DESC"
        ))
        .bind(post_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(SentimentCorrection::try_from)
            .collect()
    }

    async fn relabel_posts(
        &self,
        labels: &[(i64, Sentiment, f32)],
        source: LabelSource,
    ) -> Result<u64> {
        if labels.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let mut moved = 0;
        for &(id, sentiment, score) in labels {
            if relabel(&mut tx, id, sentiment, score, source, false)
                .await?
                .is_some()
            {
                moved += 1;
            }
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn queue_for_encoder(&self, post_ids: &[i64], now: Millis) -> Result<()> {
        if post_ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in post_ids.chunks(POST_CHUNK) {
            let mut qb: QueryBuilder<Db> =
                QueryBuilder::new("INSERT INTO sentiment_queue(post_id, queued_at) ");
            qb.push_values(chunk, |mut b, id| {
                b.push_bind(*id).push_bind(now);
            });
            qb.push(" ON CONFLICT (post_id) DO NOTHING");
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn queued_for_encoder(&self, limit: u32) -> Result<Vec<(i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT p.id, p.text FROM sentiment_queue q JOIN posts p ON p.id = q.post_id \
             ORDER BY q.post_id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn finish_encoder_batch(
        &self,
        labels: &[(i64, Sentiment, f32)],
        done: &[i64],
    ) -> Result<u64> {
        if labels.is_empty() && done.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let mut moved = 0;
        for &(id, sentiment, score) in labels {
            if relabel(&mut tx, id, sentiment, score, LabelSource::Encoder, false)
                .await?
                .is_some()
            {
                moved += 1;
            }
        }
        for chunk in done.chunks(POST_CHUNK) {
            let mut qb: QueryBuilder<Db> =
                QueryBuilder::new("DELETE FROM sentiment_queue WHERE post_id IN (");
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(*id);
            }
            qb.push(")");
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn encoder_queue_len(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sentiment_queue")
            .fetch_one(&self.pool)
            .await?)
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
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(format!("SELECT {POST_COLS} FROM posts"));
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
        let rows: Vec<PostRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(Post::try_from).collect()
    }

    async fn posts_by_id(&self, ids: &[i64]) -> Result<Vec<Post>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new(format!("SELECT {POST_COLS} FROM posts WHERE id IN ("));
        let mut sep = qb.separated(", ");
        for id in ids.iter().take(500) {
            sep.push_bind(*id);
        }
        qb.push(")");
        let rows: Vec<PostRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let mut by_id: HashMap<i64, Post> = HashMap::new();
        for r in rows {
            let p = Post::try_from(r)?;
            by_id.insert(p.id, p);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    async fn count_posts(&self, q: &PostQuery) -> Result<i64> {
        let mut qb: QueryBuilder<Db> = QueryBuilder::new("SELECT COUNT(*) FROM posts");
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
        let mut qb: QueryBuilder<Db> = QueryBuilder::new("SELECT ((created_at - ");
        qb.push_bind(from)
            .push(") / ")
            .push_bind(bucket_ms)
            .push(
                ") AS b, COUNT(*) AS total, COUNT(*) FILTER (WHERE sentiment = 'negative') AS neg, \
                   COUNT(*) FILTER (WHERE sentiment = 'positive') AS pos, SUM(score) AS score_sum \
                   FROM posts WHERE created_at >= ",
            )
            .push_bind(from)
            .push(" AND created_at < ")
            .push_bind(to);
        if let Some(t) = topic {
            push_topic(&mut qb, t);
        }
        if let Some(s) = source {
            qb.push(" AND source = ").push_bind(text(s).into_owned());
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
        let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(
            "SELECT created_at / 60000 AS m, topics, \
             COUNT(*) FILTER (WHERE sentiment = 'negative') AS neg, COUNT(*) AS total \
             FROM posts WHERE created_at >= $1 GROUP BY m, topics ORDER BY m",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(m, topics, negative, total)| MinuteCount {
                minute: m * 60_000,
                topics: split_set(&topics),
                negative,
                total,
            })
            .collect())
    }

    async fn post_texts(
        &self,
        from: Millis,
        to: Millis,
        topic: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Sentiment)>> {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new("SELECT text, sentiment FROM posts WHERE created_at >= ");
        qb.push_bind(from).push(" AND created_at < ").push_bind(to);
        if let Some(t) = topic {
            push_topic(&mut qb, t);
        }
        qb.push(" ORDER BY created_at DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<(String, String)> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|(t, s)| Ok((t, Sentiment::from_str(&s).map_err(decode_err)?)))
            .collect()
    }

    async fn post_sources(&self) -> Result<Vec<String>> {
        let mut sources: Vec<String> = sqlx::query_scalar("SELECT DISTINCT source FROM posts")
            .fetch_all(&self.pool)
            .await?;
        // Byte order, whatever the database's collation.
        sources.sort();
        Ok(sources)
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
        let mut tx = self.begin_write().await?;
        let row: AlertRow = sqlx::query_as(&format!(
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
        .bind(json(&a.terms))
        .bind(json(&a.example_post_ids))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let alert = Alert::try_from(row)?;
        for (url, body) in webhooks {
            sqlx::query(
                "INSERT INTO webhook_outbox(alert_id, url, body, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(alert.id)
            .bind(url)
            .bind(body.replace("{{alert_id}}", &alert.id.to_string()))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(alert)
    }

    async fn list_alerts(&self, status: Option<AlertStatus>, limit: u32) -> Result<Vec<Alert>> {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new(format!("SELECT {ALERT_COLS} FROM alerts"));
        if let Some(s) = status {
            qb.push(" WHERE status = ").push_bind(s.as_str());
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<AlertRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(Alert::try_from).collect()
    }

    async fn alert(&self, id: i64) -> Result<Option<Alert>> {
        let row: Option<AlertRow> =
            sqlx::query_as(&format!("SELECT {ALERT_COLS} FROM alerts WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(Alert::try_from).transpose()
    }

    async fn set_alert_status(
        &self,
        id: i64,
        status: AlertStatus,
        by: i64,
        now: Millis,
    ) -> Result<Alert> {
        let refused = |message| StoreError::Limit {
            field: "status",
            message,
        };
        let mut tx = self.begin_write().await?;
        let current: Option<String> = sqlx::query_scalar(&format!(
            "SELECT status FROM alerts WHERE id = $1{FOR_UPDATE}"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = current else {
            // Nothing is ever reopened, not even a missing alert.
            AlertStatus::Open.check_move(status).map_err(refused)?;
            return Err(StoreError::NotFound { what: "alert" });
        };
        let current = AlertStatus::from_str(&current).map_err(decode_err)?;
        current.check_move(status).map_err(refused)?;
        let (at, by_col) = match status {
            AlertStatus::Acknowledged => ("acknowledged_at", "acknowledged_by"),
            _ => ("resolved_at", "resolved_by"),
        };
        let row: AlertRow = sqlx::query_as(&format!(
            "UPDATE alerts SET status = $1, {at} = $2, {by_col} = $3 WHERE id = $4 RETURNING {ALERT_COLS}"
        ))
        .bind(status.as_str())
        .bind(now)
        .bind(by)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Alert::try_from(row)
    }

    async fn claim_webhooks(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<OutboxItem>> {
        // One statement: what is returned is already leased, and two
        // processes never claim the same row (SQLite runs it under the
        // database's write lock; PostgreSQL skips the rows another instance
        // is claiming rather than waiting for them).
        let rows: Vec<OutboxRow> = sqlx::query_as(&format!(
            "UPDATE webhook_outbox SET next_attempt_at = $1 WHERE id IN (SELECT id FROM webhook_outbox \
             WHERE delivered_at IS NULL AND dead_at IS NULL AND next_attempt_at <= $2 \
             ORDER BY next_attempt_at, id LIMIT $3{CLAIM_LOCK}) RETURNING {OUTBOX_COLS}"
        ))
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut rows: Vec<OutboxItem> = rows.into_iter().map(Into::into).collect();
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
        let (column, at) = match next {
            Some(at) => ("next_attempt_at", at),
            None => ("dead_at", now),
        };
        sqlx::query(&format!(
            "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = $1, {column} = $2 WHERE id = $3"
        ))
        .bind(error)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn webhook_outbox(&self, limit: u32) -> Result<Vec<OutboxItem>> {
        let rows: Vec<OutboxRow> = sqlx::query_as(&format!(
            "SELECT {OUTBOX_COLS} FROM webhook_outbox ORDER BY id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn link_handle(&self, account_id: i64, handle: &str, now: Millis) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        // Serialise an account's links, so two at once cannot pass the limit.
        lock_pair(&mut tx, HANDLE_LOCK_NS, account_id).await?;
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
                check_handle_limit(n).map_err(|message| StoreError::Limit {
                    field: "handle",
                    message,
                })?;
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
        let mut tx = self.begin_write().await?;
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
        let mut handles: Vec<String> =
            sqlx::query_scalar("SELECT handle FROM handle_links WHERE account_id = $1")
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?;
        // Byte order, whatever the database's collation.
        handles.sort();
        Ok(handles)
    }
}

const CORRECTION_COLS: &str =
    "c.id, c.post_id, p.text, c.previous, c.sentiment, c.corrected_by, c.created_at";

#[derive(sqlx::FromRow)]
struct CorrectionRow {
    id: i64,
    post_id: i64,
    text: String,
    previous: String,
    sentiment: String,
    corrected_by: Option<i64>,
    created_at: Millis,
}

impl TryFrom<CorrectionRow> for SentimentCorrection {
    type Error = StoreError;

    fn try_from(r: CorrectionRow) -> Result<SentimentCorrection> {
        Ok(SentimentCorrection {
            id: r.id,
            post_id: r.post_id,
            text: r.text,
            previous: Sentiment::from_str(&r.previous).map_err(decode_err)?,
            sentiment: Sentiment::from_str(&r.sentiment).map_err(decode_err)?,
            corrected_by: r.corrected_by,
            created_at: r.created_at,
        })
    }
}

/// Gives post `post_id` a new label from `source`, moving the figures kept
/// for its proposals (`proposal_posts`, `proposal_post_days`) with it.
/// Unless `over_staff`, a post corrected by staff keeps its label (`None`).
/// Returns the label it had, or `None` for an unknown (or kept) post.
async fn relabel(
    tx: &mut super::Conn,
    post_id: i64,
    sentiment: Sentiment,
    score: f32,
    source: LabelSource,
    over_staff: bool,
) -> Result<Option<Sentiment>> {
    let row: Option<(String, f64, Millis, String)> = sqlx::query_as(&format!(
        "SELECT sentiment, score, created_at, labelled_by FROM posts WHERE id = $1{FOR_UPDATE}"
    ))
    .bind(post_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((old, old_score, created_at, by)) = row else {
        return Ok(None);
    };
    if !over_staff && by == LabelSource::Staff.as_str() {
        return Ok(None);
    }
    let old = Sentiment::from_str(&old).map_err(decode_err)?;
    sqlx::query("UPDATE posts SET sentiment = $1, score = $2, labelled_by = $3 WHERE id = $4")
        .bind(sentiment.as_str())
        .bind(f64::from(score))
        .bind(source.as_str())
        .bind(post_id)
        .execute(&mut *tx)
        .await?;
    let neg = i64::from(sentiment == Sentiment::Negative) - i64::from(old == Sentiment::Negative);
    let pos = i64::from(sentiment == Sentiment::Positive) - i64::from(old == Sentiment::Positive);
    let delta = f64::from(score) - old_score;
    if old != sentiment || delta != 0.0 {
        sqlx::query("UPDATE proposal_posts SET sentiment = $1 WHERE post_id = $2")
            .bind(sentiment.as_str())
            .bind(post_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE proposal_post_days SET negative = negative + $1, positive = positive + $2, \
             score_sum = score_sum + $3 WHERE day = $4 AND proposal_id IN \
             (SELECT proposal_id FROM proposal_posts WHERE post_id = $5)",
        )
        .bind(neg)
        .bind(pos)
        .bind(delta)
        .bind(created_at.div_euclid(86_400_000) * 86_400_000)
        .bind(post_id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(Some(old))
}

/// Links each new post to the proposals it names and adds it to their day
/// counts (see `track_proposal_posts`).
async fn link_proposal_posts(
    tx: &mut super::Conn,
    posts: &[&NewPost],
    new_ids: &HashMap<(String, String), i64>,
) -> Result<()> {
    let mut links: Vec<(i64, i64, Millis, Sentiment)> = Vec::new();
    let mut days: std::collections::BTreeMap<(i64, Millis), (i64, i64, i64, f64)> =
        std::collections::BTreeMap::new();
    for p in posts.iter().filter(|p| !p.proposals.is_empty()) {
        let key = (
            text(&p.source).into_owned(),
            text(&p.external_id).into_owned(),
        );
        let Some(&post_id) = new_ids.get(&key) else {
            continue;
        };
        let day = p.created_at.div_euclid(86_400_000) * 86_400_000;
        for &proposal in &p.proposals {
            links.push((proposal, post_id, p.created_at, p.sentiment));
            let d = days.entry((proposal, day)).or_default();
            d.0 += 1;
            d.1 += i64::from(p.sentiment == Sentiment::Negative);
            d.2 += i64::from(p.sentiment == Sentiment::Positive);
            d.3 += f64::from(p.score);
        }
    }
    if links.is_empty() {
        return Ok(());
    }
    // Only proposals whose posts are kept: one whose tracking has not
    // started (or that was deleted meanwhile) is filled when it starts.
    let wanted: Vec<i64> = {
        let mut v: Vec<i64> = links.iter().map(|l| l.0).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let mut tracked = Vec::new();
    for id in wanted {
        let yes: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM proposal_post_tracking WHERE proposal_id = $1)",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if yes {
            tracked.push(id);
        }
    }
    links.retain(|l| tracked.contains(&l.0));
    for chunk in links.chunks(POST_CHUNK) {
        let mut qb: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO proposal_posts(proposal_id, post_id, created_at, sentiment) ",
        );
        qb.push_values(chunk, |mut b, l| {
            b.push_bind(l.0)
                .push_bind(l.1)
                .push_bind(l.2)
                .push_bind(l.3.as_str());
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *tx).await?;
    }
    for ((proposal, day), (total, negative, positive, score)) in days {
        if !tracked.contains(&proposal) {
            continue;
        }
        sqlx::query(
            "INSERT INTO proposal_post_days(proposal_id, day, total, negative, positive, score_sum) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (proposal_id, day) DO UPDATE SET \
             total = proposal_post_days.total + excluded.total, \
             negative = proposal_post_days.negative + excluded.negative, \
             positive = proposal_post_days.positive + excluded.positive, \
             score_sum = proposal_post_days.score_sum + excluded.score_sum",
        )
        .bind(proposal)
        .bind(day)
        .bind(total)
        .bind(negative)
        .bind(positive)
        .bind(score)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
