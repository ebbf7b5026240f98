//! [`HomeStore`], written once for both backends (see `sqlite/mod.rs` for
//! the dialect seam this file is compiled against).

use super::{Backend, Db, DbRow};
use crate::changes::Bump;
use crate::home::{
    decode_rows, encode_rows, CatalogTitle, Click, ExperimentLog, ExperimentRecord, FeedbackAction,
    HomeStore, Impression, PlayRecord, Signal, SignalKind, TrainingRun,
};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::Millis;
use sqlx::{QueryBuilder, Row};

fn surface(s: &str) -> &'static str {
    match s {
        "recommendations" => "recommendations",
        "similar" => "similar",
        _ => "home",
    }
}

fn experiment_from_row(r: &DbRow) -> Result<ExperimentRecord> {
    Ok(ExperimentRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        target: r.try_get("target")?,
        variants_json: r.try_get("variants")?,
        running: r.try_get::<String, _>("status")? == "running",
        created_at: r.try_get("created_at")?,
        stopped_at: r.try_get("stopped_at")?,
    })
}

fn experiment_of(id: Option<i64>, variant: Option<String>) -> Option<(i64, String)> {
    match (id, variant) {
        (Some(i), Some(v)) => Some((i, v)),
        _ => None,
    }
}

#[async_trait]
impl HomeStore for Backend {
    async fn home_catalog(&self, now: Millis) -> Result<Vec<CatalogTitle>> {
        // string_agg: PostgreSQL's, and SQLite's since 3.44 (the bundled one is newer).
        let rows = sqlx::query(
            "SELECT t.id, t.kind, t.name, CAST(t.year AS INTEGER) AS year, t.created_at, COALESCE(s.plays, 0) AS plays, \
             (SELECT string_agg(g.name, '|') FROM title_genres tg JOIN genres g ON g.id = tg.genre_id \
              WHERE tg.title_id = t.id) AS genre_list, t.maturity_age, \
             (SELECT string_agg(x.tag, '|') FROM (SELECT DISTINCT lower(tag) AS tag FROM title_tags \
              WHERE title_id = t.id ORDER BY 1 LIMIT 24) x) AS tag_list, \
             (SELECT string_agg(x.name, '|') FROM (SELECT name FROM title_people \
              WHERE title_id = t.id ORDER BY ord LIMIT 8) x) AS people_list, \
             (SELECT a.etag FROM title_artwork a WHERE a.title_id = t.id AND a.kind = 'poster' \
              AND a.size = 'card') AS poster_card, \
             (SELECT a.etag FROM title_artwork a WHERE a.title_id = t.id AND a.kind = 'poster' \
              AND a.size = 'detail') AS poster_detail \
             FROM titles t LEFT JOIN title_stats s ON s.title_id = t.id \
             WHERE t.kind IN ('movie', 'series') AND t.hidden = 0 \
             AND (t.available_from IS NULL OR t.available_from <= $1) \
             AND (t.available_until IS NULL OR t.available_until > $1) ORDER BY t.id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let g: Option<String> = r.try_get("genre_list")?;
                let mut genres: Vec<String> = g
                    .unwrap_or_default()
                    .split('|')
                    .filter(|x| !x.is_empty() && *x != "(no genres listed)")
                    .map(str::to_string)
                    .collect();
                genres.sort();
                let list = |col: &str| -> std::result::Result<Vec<String>, sqlx::Error> {
                    let v: Option<String> = r.try_get(col)?;
                    Ok(v.unwrap_or_default()
                        .split('|')
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect())
                };
                Ok(CatalogTitle {
                    tags: list("tag_list")?,
                    people: list("people_list")?,
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    name: r.try_get("name")?,
                    year: r.try_get("year")?,
                    genres,
                    plays: r.try_get("plays")?,
                    created_at: r.try_get("created_at")?,
                    maturity_age: r.try_get("maturity_age")?,
                    poster: r
                        .try_get::<Option<String>, _>("poster_card")?
                        .map(|card| Ok::<_, sqlx::Error>((card, r.try_get("poster_detail")?)))
                        .transpose()?,
                })
            })
            .collect()
    }

    async fn views_since(&self, since: Millis) -> Result<Vec<(i64, Millis)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT title_id, watched_at FROM watch_history WHERE watched_at >= $1 \
             UNION ALL \
             SELECT COALESCE(t.series_id, ps.title_id), ps.started_at FROM play_sessions ps \
             JOIN titles t ON t.id = ps.title_id WHERE ps.started_at >= $1",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn latest_view(&self) -> Result<Option<Millis>> {
        let v: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(m) FROM (SELECT MAX(watched_at) AS m FROM watch_history \
             UNION ALL SELECT MAX(started_at) FROM play_sessions) m",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(v)
    }

    async fn profile_signals(&self, profile_id: i64) -> Result<Vec<Signal>> {
        let rows: Vec<(i64, i64, i64, Option<f64>)> = sqlx::query_as(
            "SELECT CAST(0 AS BIGINT), title_id, watched_at, rating FROM watch_history WHERE profile_id = $1 \
             UNION ALL SELECT 1, title_id, updated_at, CAST(value AS DOUBLE PRECISION) FROM feedback WHERE profile_id = $1 \
             UNION ALL SELECT 2, title_id, hidden_at, NULL FROM home_hidden WHERE profile_id = $1 \
             UNION ALL SELECT 3, COALESCE(series_id, title_id), COALESCE(last_played_at, updated_at), \
                CAST(played AS DOUBLE PRECISION) FROM playback_state WHERE profile_id = $1 \
                AND (played = 1 OR resume_ms > 0 OR play_count > 0)",
        )
        .bind(profile_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(k, title_id, at, value)| Signal {
                kind: match k {
                    0 => SignalKind::Watched,
                    1 => SignalKind::Thumb,
                    2 => SignalKind::Hidden,
                    _ => SignalKind::Playback,
                },
                title_id,
                at,
                value,
            })
            .collect())
    }

    async fn training_interactions(&self) -> Result<Vec<(i64, i64, f32)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT profile_id, title_id FROM watch_history WHERE rating IS NULL OR rating >= 3.5 \
             UNION SELECT profile_id, title_id FROM feedback WHERE value > 0 \
             UNION SELECT s.profile_id, COALESCE(s.series_id, s.title_id) FROM playback_state s \
                WHERE s.played = 1 OR s.play_count > 0 \
             EXCEPT SELECT profile_id, title_id FROM feedback WHERE value < 0 \
             ORDER BY 1, 2",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(p, t)| (p, t, 1.0)).collect())
    }

    async fn apply_feedback(
        &self,
        profile_id: i64,
        items: &[(i64, FeedbackAction)],
        now: Millis,
    ) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Profile(profile_id));
        let mut tx = self.begin_write().await?;
        for &(title_id, action) in items {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM titles WHERE id = $1")
                .bind(title_id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound { what: "title" });
            }
            match action {
                FeedbackAction::Thumb(Some(t)) => {
                    sqlx::query(
                        "INSERT INTO feedback(profile_id, title_id, value, updated_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT(profile_id, title_id) DO UPDATE SET value = excluded.value, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(profile_id)
                    .bind(title_id)
                    .bind(t.value())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                FeedbackAction::Thumb(None) => {
                    sqlx::query("DELETE FROM feedback WHERE profile_id = $1 AND title_id = $2")
                        .bind(profile_id)
                        .bind(title_id)
                        .execute(&mut *tx)
                        .await?;
                }
                FeedbackAction::Hide => {
                    sqlx::query(
                        "INSERT INTO home_hidden(profile_id, title_id, hidden_at) VALUES ($1, $2, $3) \
                         ON CONFLICT(profile_id, title_id) DO NOTHING",
                    )
                    .bind(profile_id)
                    .bind(title_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                FeedbackAction::Unhide => {
                    sqlx::query("DELETE FROM home_hidden WHERE profile_id = $1 AND title_id = $2")
                        .bind(profile_id)
                        .bind(title_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn log_rec_events(&self, impressions: &[Impression], clicks: &[Click]) -> Result<()> {
        if impressions.is_empty() && clicks.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in impressions.chunks(super::CHUNK / 8) {
            let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                "INSERT INTO rec_impressions(profile_id, surface, experiment_id, variant, items, at) ",
            );
            qb.push_values(chunk, |mut b, i| {
                b.push_bind(i.profile_id)
                    .push_bind(i.surface)
                    .push_bind(i.experiment.as_ref().map(|e| e.0))
                    .push_bind(i.experiment.as_ref().map(|e| e.1.clone()))
                    .push_bind(encode_rows(&i.rows))
                    .push_bind(i.at);
            });
            qb.build().execute(&mut *tx).await?;
        }
        for chunk in clicks.chunks(super::CHUNK / 8) {
            let mut qb: QueryBuilder<Db> = QueryBuilder::new(
                "INSERT INTO rec_clicks(profile_id, title_id, row_key, experiment_id, variant, at) ",
            );
            qb.push_values(chunk, |mut b, c| {
                b.push_bind(c.profile_id)
                    .push_bind(c.title_id)
                    .push_bind(c.row_key.clone())
                    .push_bind(c.experiment.as_ref().map(|e| e.0))
                    .push_bind(c.experiment.as_ref().map(|e| e.1.clone()))
                    .push_bind(c.at);
            });
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn experiment_log(&self, experiment_id: i64) -> Result<ExperimentLog> {
        let mut conn = self.read().await?;
        let imps: Vec<(i64, String, Option<i64>, Option<String>, String, i64)> = sqlx::query_as(
            "SELECT profile_id, surface, experiment_id, variant, items, at FROM rec_impressions \
             WHERE experiment_id = $1 ORDER BY id",
        )
        .bind(experiment_id)
        .fetch_all(&mut *conn)
        .await?;
        let clicks: Vec<(i64, i64, String, Option<i64>, Option<String>, i64)> = sqlx::query_as(
            "SELECT profile_id, title_id, row_key, experiment_id, variant, at FROM rec_clicks \
             WHERE experiment_id = $1 ORDER BY id",
        )
        .bind(experiment_id)
        .fetch_all(&mut *conn)
        .await?;
        let plays: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT ps.profile_id, COALESCE(t.series_id, ps.title_id), ps.started_at, \
               CAST(CASE WHEN ps.position_ms * 10 >= ps.duration_ms * 9 OR COALESCE(st.played, 0) = 1 \
                 THEN 1 ELSE 0 END AS BIGINT) \
             FROM play_sessions ps JOIN titles t ON t.id = ps.title_id \
             LEFT JOIN playback_state st ON st.profile_id = ps.profile_id AND st.title_id = ps.title_id \
             WHERE ps.profile_id IN (SELECT DISTINCT profile_id FROM rec_impressions WHERE experiment_id = $1) \
             ORDER BY ps.started_at, ps.id",
        )
        .bind(experiment_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(ExperimentLog {
            impressions: imps
                .into_iter()
                .map(|(p, s, e, v, items, at)| Impression {
                    profile_id: p,
                    surface: surface(&s),
                    experiment: experiment_of(e, v),
                    rows: decode_rows(&items),
                    at,
                })
                .collect(),
            clicks: clicks
                .into_iter()
                .map(|(p, t, row, e, v, at)| Click {
                    profile_id: p,
                    title_id: t,
                    row_key: row,
                    experiment: experiment_of(e, v),
                    at,
                })
                .collect(),
            plays: plays
                .into_iter()
                .map(|(p, t, at, c)| PlayRecord {
                    profile_id: p,
                    title_id: t,
                    started_at: at,
                    completed: c != 0,
                })
                .collect(),
        })
    }

    async fn create_experiment(
        &self,
        name: &str,
        target: &str,
        variants_json: &str,
        now: Millis,
    ) -> Result<ExperimentRecord> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO rec_experiments(name, target, variants, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(target)
        .bind(variants_json)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| super::unique_to_conflict(e, "name"))?;
        Ok(ExperimentRecord {
            id,
            name: name.into(),
            target: target.into(),
            variants_json: variants_json.into(),
            running: true,
            created_at: now,
            stopped_at: None,
        })
    }

    async fn experiments(&self) -> Result<Vec<ExperimentRecord>> {
        sqlx::query("SELECT * FROM rec_experiments ORDER BY id DESC")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(experiment_from_row)
            .collect()
    }

    async fn stop_experiment(&self, id: i64, now: Millis) -> Result<()> {
        let done = sqlx::query(
            "UPDATE rec_experiments SET status = 'stopped', stopped_at = $1 WHERE id = $2 AND status = 'running'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::NotFound {
                what: "running experiment",
            });
        }
        Ok(())
    }

    async fn record_training_run(&self, run: &TrainingRun) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO rec_training_runs(spec, trigger, started_at, finished_at, status, users, items, \
             interactions, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(&run.spec)
        .bind(&run.trigger)
        .bind(run.started_at)
        .bind(run.finished_at)
        .bind(if run.ok { "ok" } else { "failed" })
        .bind(run.users)
        .bind(run.items)
        .bind(run.interactions)
        .bind(&run.error)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn training_runs(&self, limit: u32) -> Result<Vec<TrainingRun>> {
        sqlx::query("SELECT * FROM rec_training_runs ORDER BY id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(TrainingRun {
                    id: r.try_get("id")?,
                    spec: r.try_get("spec")?,
                    trigger: r.try_get("trigger")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    ok: r.try_get::<String, _>("status")? == "ok",
                    users: r.try_get("users")?,
                    items: r.try_get("items")?,
                    interactions: r.try_get("interactions")?,
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }
}
