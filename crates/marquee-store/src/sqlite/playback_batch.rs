//! SQLite's part of the progress batch (the rules and the write plan are in
//! `sql/playback.rs`). Why per dialect: this is the tuned hot path of the
//! continuity benchmark. It runs on the store's dedicated writer connection
//! (group commit) in exactly two round trips to SQLite's worker thread, one
//! to take the write lock and read, one to write everything and commit, each
//! a `raw_sql` script whose rows travel as one JSON array (`json_each`), so
//! that the SQL text is the same whatever the batch size. PostgreSQL takes
//! per-profile advisory locks and binds arrays instead (`UNNEST`).

use super::playback::{Answer, Batch, BATCH_READ};
use super::SqliteStore;
use crate::playback::ProgressInput;
use crate::Result;
use marquee_domain::playback::ResumeRules;
use sqlx::{Executor, SqliteConnection};

/// Checkpoints the WAL in the background (PASSIVE: it never blocks the
/// writer), since the group-commit writer does not. Ends when the pool closes.
pub(super) fn spawn_checkpointer(pool: sqlx::SqlitePool) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    rt.spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            if pool.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "background WAL checkpoint failed");
            }
        }
    });
}

/// A JSON array of already-encoded JSON values.
fn json_rows(rows: impl Iterator<Item = String>) -> String {
    let mut out = String::from("[");
    for (i, r) in rows.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&r);
    }
    out.push(']');
    out
}

/// A JSON text as an SQL string literal.
fn sql_literal(json: &str) -> String {
    format!("'{}'", json.replace('\'', "''"))
}

/// Ends a transaction the batch opened by hand; a failure here means there
/// was none to end.
async fn rollback(conn: &mut SqliteConnection) {
    if let Err(e) = conn.execute(sqlx::raw_sql("ROLLBACK")).await {
        tracing::debug!(error = %e, "rollback");
    }
}

fn json_opt(v: Option<i64>) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

/// Records a non-empty batch of progress reports (see
/// [`crate::PlaybackStore::record_progress`]).
pub(super) async fn progress_batch(
    store: &SqliteStore,
    rules: &ResumeRules,
    stream_timeout_ms: i64,
    inputs: &[ProgressInput],
) -> Result<Vec<Answer>> {
    let mut ids: Vec<i64> = inputs.iter().map(|i| i.play_session_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut conn = store.writer.acquire().await?;
    // One round trip to take the write lock and read the sessions with
    // their saved states; one more to write everything and commit. (Each
    // round trip to SQLite's worker thread costs more than the SQL.)
    let read = format!(
        "BEGIN IMMEDIATE; {BATCH_READ} WHERE s.id IN (SELECT value FROM json_each({}))",
        sql_literal(&json_rows(ids.iter().map(|i| i.to_string())))
    );
    let rows = match (&mut *conn).fetch_all(sqlx::raw_sql(&read)).await {
        Ok(rows) => rows,
        Err(e) => {
            rollback(&mut conn).await;
            return Err(e.into());
        }
    };
    let mut batch = match Batch::load(&rows) {
        Ok(b) => b,
        Err(e) => {
            rollback(&mut conn).await;
            return Err(e);
        }
    };
    let (out, events, now) = batch.run(rules, stream_timeout_ms, inputs);
    // Every value below is a number, null or a constant kind: the JSON is
    // built here, never from client text.
    let mut sql = String::new();
    // The append-only log.
    if !events.is_empty() {
        let rows = json_rows(events.iter().map(|e| {
            format!(
                "[{},{},{},{},\"{}\",{},{},{},{},{}]",
                e.profile_id,
                e.title_id,
                e.session,
                e.device_id,
                e.kind,
                e.position_ms,
                i64::from(e.paused),
                json_opt(e.sent_at),
                now,
                i64::from(e.applied)
            )
        }));
        sql.push_str(&format!(
            "INSERT INTO play_events(profile_id, title_id, play_session_id, device_id, kind, position_ms, \
             paused, sent_at, received_at, applied) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, \
             value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9 FROM json_each({});\n",
            sql_literal(&rows)
        ));
    }
    // Sessions.
    let dirty: Vec<String> = batch
        .dirty_sessions()
        .map(|(id, s)| {
            let s = &s.stream;
            format!(
                "[{id},{},{},{},{},{},{},{}]",
                s.position_ms,
                i64::from(s.paused),
                json_opt(s.last_sent_at),
                s.last_event_at,
                i64::from(s.attended),
                i64::from(s.counted),
                i64::from(s.ended)
            )
        })
        .collect();
    if !dirty.is_empty() {
        sql.push_str(&format!(
            "UPDATE play_sessions SET position_ms = v.p, paused = v.pa, last_sent_at = v.ls, \
             last_event_at = v.le, attended = v.att, counted = v.c, \
             ended_at = CASE WHEN v.e = 1 AND play_sessions.ended_at IS NULL THEN v.le ELSE play_sessions.ended_at END, \
             end_reason = CASE WHEN v.e = 1 AND play_sessions.ended_at IS NULL THEN 'stopped' ELSE play_sessions.end_reason END \
             FROM (SELECT value ->> 0 AS id, value ->> 1 AS p, value ->> 2 AS pa, value ->> 3 AS ls, \
             value ->> 4 AS le, value ->> 5 AS att, value ->> 6 AS c, value ->> 7 AS e FROM json_each({})) AS v \
             WHERE play_sessions.id = v.id;\n",
            sql_literal(&json_rows(dirty.into_iter()))
        ));
    }
    // Devices that were touched by a person.
    let touched = batch.touched_devices();
    if !touched.is_empty() {
        sql.push_str(&format!(
            "UPDATE devices SET last_interaction_at = {now}, last_seen_at = {now} \
             WHERE id IN (SELECT value FROM json_each({}));\n",
            sql_literal(&json_rows(touched.iter().map(|i| i.to_string())))
        ));
    }
    // Saved states.
    let changed: Vec<String> = batch
        .changed_states()
        .map(|((p, t), r)| {
            format!(
                "[{p},{t},{},{},{},{},{},{},{},{},{now}]",
                json_opt(r.series_id),
                r.s.resume_ms,
                i64::from(r.s.played),
                r.s.play_count,
                json_opt(r.s.last_played_at),
                r.s.position_sent_at,
                r.device_id,
                i64::from(r.s.hidden)
            )
        })
        .collect();
    if !changed.is_empty() {
        sql.push_str(&format!(
            "INSERT INTO playback_state(profile_id, title_id, series_id, resume_ms, played, play_count, \
             last_played_at, position_sent_at, last_device_id, hidden, updated_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, \
             value ->> 7, value ->> 8, value ->> 9, value ->> 10 FROM json_each({}) WHERE true \
             ON CONFLICT(profile_id, title_id) DO UPDATE SET series_id = excluded.series_id, \
             resume_ms = excluded.resume_ms, played = excluded.played, play_count = excluded.play_count, \
             last_played_at = excluded.last_played_at, position_sent_at = excluded.position_sent_at, \
             last_device_id = excluded.last_device_id, hidden = excluded.hidden, updated_at = excluded.updated_at;\n",
            sql_literal(&json_rows(changed.into_iter()))
        ));
    }
    sql.push_str("COMMIT;");
    let result = (&mut *conn).execute(sqlx::raw_sql(&sql)).await;
    // Committed or not, the profiles' cached continuity and signals are redone.
    for (p, _) in batch.states.keys() {
        store.changes.bump_profile(*p);
    }
    if let Err(e) = result {
        rollback(&mut conn).await;
        return Err(e.into());
    }
    Ok(out)
}
