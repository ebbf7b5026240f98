//! PostgreSQL's part of the progress batch (the rules and the write plan are
//! in `sql/playback.rs`). Why per dialect: this is the tuned hot path of the
//! continuity benchmark. Writers are serialised per profile with advisory
//! locks (what SQLite's single writer connection gives), the sessions are
//! locked `FOR UPDATE OF s`, and each write is one statement over bound
//! arrays (`UNNEST`), so the SQL text is the same whatever the batch size.

use super::playback::{Answer, Batch, StateRow, BATCH_READ, PROFILE_LOCK_BASE};
use super::PgStore;
use crate::changes::Bump;
use crate::playback::ProgressInput;
use crate::Result;
use marquee_domain::playback::ResumeRules;

/// Records a non-empty batch of progress reports (see
/// [`crate::PlaybackStore::record_progress`]).
pub(super) async fn progress_batch(
    store: &PgStore,
    rules: &ResumeRules,
    stream_timeout_ms: i64,
    inputs: &[ProgressInput],
) -> Result<Vec<Answer>> {
    let mut ids: Vec<i64> = inputs.iter().map(|i| i.play_session_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut tx = store.begin_write().await?;
    // Serialise writers per profile (what SQLite's single writer gives):
    // two batches touching the same profile's saved states run one after
    // the other. Locks are taken in id order, so batches cannot deadlock.
    sqlx::query(
        "SELECT pg_advisory_xact_lock($1 + p) FROM \
         (SELECT DISTINCT profile_id AS p FROM play_sessions WHERE id = ANY($2) ORDER BY 1) x",
    )
    .bind(PROFILE_LOCK_BASE)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    let rows = sqlx::query(&format!(
        "{BATCH_READ} WHERE s.id = ANY($1) FOR UPDATE OF s"
    ))
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut batch = Batch::load(&rows)?;
    // Committed or not, the profiles' cached continuity and signals are redone.
    let _changed: Vec<_> = batch
        .sessions
        .values()
        .map(|s| store.changes.on_return(Bump::Profile(s.stream.profile_id)))
        .collect();
    let (out, events, now) = batch.run(rules, stream_timeout_ms, inputs);
    // The append-only log.
    if !events.is_empty() {
        sqlx::query(
            "INSERT INTO play_events(profile_id, title_id, play_session_id, device_id, kind, position_ms, \
             paused, sent_at, received_at, applied) \
             SELECT p, t, s, d, k, pos, pa, sa, $9, ap FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], \
             $4::BIGINT[], $5::TEXT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[], $10::BIGINT[]) \
             AS v(p, t, s, d, k, pos, pa, sa, ap)",
        )
        .bind(events.iter().map(|e| e.profile_id).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.title_id).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.session).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.device_id).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.kind).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.position_ms).collect::<Vec<_>>())
        .bind(events.iter().map(|e| i64::from(e.paused)).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.sent_at).collect::<Vec<_>>())
        .bind(now)
        .bind(events.iter().map(|e| i64::from(e.applied)).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    // Sessions.
    let dirty: Vec<(i64, &marquee_domain::playback::StreamSession)> = batch
        .dirty_sessions()
        .map(|(id, s)| (id, &s.stream))
        .collect();
    if !dirty.is_empty() {
        sqlx::query(
            "UPDATE play_sessions SET position_ms = v.p, paused = v.pa, last_sent_at = v.ls, \
             last_event_at = v.le, attended = v.att, counted = v.c, \
             ended_at = CASE WHEN v.e = 1 AND play_sessions.ended_at IS NULL THEN v.le ELSE play_sessions.ended_at END, \
             end_reason = CASE WHEN v.e = 1 AND play_sessions.ended_at IS NULL THEN 'stopped' ELSE play_sessions.end_reason END \
             FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[], \
             $7::BIGINT[], $8::BIGINT[]) AS v(id, p, pa, ls, le, att, c, e) \
             WHERE play_sessions.id = v.id",
        )
        .bind(dirty.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(dirty.iter().map(|(_, s)| s.position_ms).collect::<Vec<_>>())
        .bind(dirty.iter().map(|(_, s)| i64::from(s.paused)).collect::<Vec<_>>())
        .bind(dirty.iter().map(|(_, s)| s.last_sent_at).collect::<Vec<_>>())
        .bind(dirty.iter().map(|(_, s)| s.last_event_at).collect::<Vec<_>>())
        .bind(dirty.iter().map(|(_, s)| i64::from(s.attended)).collect::<Vec<_>>())
        .bind(dirty.iter().map(|(_, s)| i64::from(s.counted)).collect::<Vec<_>>())
        .bind(dirty.iter().map(|(_, s)| i64::from(s.ended)).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    // Devices that were touched by a person.
    let touched = batch.touched_devices();
    if !touched.is_empty() {
        sqlx::query(
            "UPDATE devices SET last_interaction_at = $1, last_seen_at = $1 WHERE id = ANY($2)",
        )
        .bind(now)
        .bind(&touched)
        .execute(&mut *tx)
        .await?;
    }
    // Saved states, in key order (rows locked in one order cannot deadlock).
    let mut changed: Vec<((i64, i64), StateRow)> = batch.changed_states().collect();
    changed.sort_by_key(|(k, _)| *k);
    if !changed.is_empty() {
        sqlx::query(
            "INSERT INTO playback_state(profile_id, title_id, series_id, resume_ms, played, play_count, \
             last_played_at, position_sent_at, last_device_id, hidden, updated_at) \
             SELECT p, t, se, r, pl, pc, lp, ps, ld, h, $11 FROM UNNEST($1::BIGINT[], $2::BIGINT[], \
             $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[], \
             $9::BIGINT[], $10::BIGINT[]) AS v(p, t, se, r, pl, pc, lp, ps, ld, h) \
             ON CONFLICT(profile_id, title_id) DO UPDATE SET series_id = excluded.series_id, \
             resume_ms = excluded.resume_ms, played = excluded.played, play_count = excluded.play_count, \
             last_played_at = excluded.last_played_at, position_sent_at = excluded.position_sent_at, \
             last_device_id = excluded.last_device_id, hidden = excluded.hidden, updated_at = excluded.updated_at",
        )
        .bind(changed.iter().map(|(k, _)| k.0).collect::<Vec<_>>())
        .bind(changed.iter().map(|(k, _)| k.1).collect::<Vec<_>>())
        .bind(changed.iter().map(|(_, r)| r.series_id).collect::<Vec<_>>())
        .bind(changed.iter().map(|(_, r)| r.s.resume_ms).collect::<Vec<_>>())
        .bind(changed.iter().map(|(_, r)| i64::from(r.s.played)).collect::<Vec<_>>())
        .bind(changed.iter().map(|(_, r)| r.s.play_count).collect::<Vec<_>>())
        .bind(changed.iter().map(|(_, r)| r.s.last_played_at).collect::<Vec<_>>())
        .bind(changed.iter().map(|(_, r)| r.s.position_sent_at).collect::<Vec<_>>())
        .bind(changed.iter().map(|(_, r)| r.device_id).collect::<Vec<_>>())
        .bind(changed.iter().map(|(_, r)| i64::from(r.s.hidden)).collect::<Vec<_>>())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(out)
}
