//! [`PlaybackStore`], written once for both backends (see `sqlite/mod.rs`
//! for the dialect seam this file is compiled against).
//!
//! Progress reports arrive in batches (the server's group-commit writer): one
//! transaction reads the sessions and saved states the batch touches, applies
//! the domain's rules ([`progress`]) in memory, in order, and writes
//! everything back with a handful of multi-row statements. A batch commits or
//! fails whole; an event older than the saved position never rewinds it, and
//! a replayed stop is acknowledged without a write. Reading and writing the
//! batch is a tuned hot path with a part per dialect (`playback_batch.rs` in
//! each backend folder); the rules and the write plan are here.

use super::{lock, unique_to_conflict, Backend, Conn, Db, DbRow};
use crate::changes::Bump;
use crate::playback::{
    ActiveStream, ImportSeries, PlayEvent, PlayableTitle, ProgressAck, ProgressInput,
    ProgressRefused, RowItem, StartOutcome, StartPlayback, TitleProgress,
};
use crate::{ImportCounts, PlaybackStore, Result, StoreError};
use async_trait::async_trait;
use marquee_domain::playback::{
    autoplay_run, default_runtime_s, next_up, next_up_rank, next_up_resume_ms,
    previous_autoplay_run, progress, still_watching, stream_cap_reached, Device, DeviceKind,
    EpisodeProgress, ProgressOutcome, ProgressRefusal, ProgressReport, ResumeRules, SavedState,
    StreamSession,
};
use marquee_domain::{Millis, TitleKind};
use sqlx::{QueryBuilder, Row};
use std::collections::HashMap;
use std::str::FromStr;

// The dialect's part of the progress batch, and on SQLite the WAL
// checkpointer that `sqlite/mod.rs` starts as `playback::spawn_checkpointer`.
#[allow(unused_imports)]
pub(super) use super::playback_batch::*;

fn decode<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(e.to_string().into()))
}

fn device_from_row(row: &DbRow) -> Result<Device> {
    let kind: String = row.try_get("kind")?;
    Ok(Device {
        id: row.try_get("id")?,
        profile_id: row.try_get("profile_id")?,
        name: row.try_get("name")?,
        kind: DeviceKind::from_str(&kind).map_err(decode)?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
    })
}

/// Base of the [`lock`] keys serialising progress writes per profile.
pub(super) const PROFILE_LOCK_BASE: i64 = 0x6d71_0002_0000_0000;

/// Base of the [`lock`] keys serialising stream starts per account.
const ACCOUNT_LOCK_BASE: i64 = 0x6d71_0003_0000_0000;

/// Takes the profile's progress-write lock until the transaction ends.
async fn lock_profile(conn: &mut Conn, profile_id: i64) -> Result<()> {
    lock(conn, PROFILE_LOCK_BASE + profile_id).await
}

fn duration_ms(id: i64, duration_s: Option<i64>) -> i64 {
    duration_s.unwrap_or_else(|| default_runtime_s(id)) * 1000
}

const STREAM_COLS: &str = "s.id AS sid, s.profile_id, p.name AS profile_name, s.device_id, \
     d.name AS device_name, d.kind AS device_kind, s.title_id, t.name AS title_name, \
     s.position_ms, s.paused, s.started_at, s.last_event_at \
     FROM play_sessions s JOIN profiles p ON p.id = s.profile_id \
     JOIN devices d ON d.id = s.device_id JOIN titles t ON t.id = s.title_id";

fn stream_from_row(row: &DbRow) -> Result<ActiveStream> {
    let kind: String = row.try_get("device_kind")?;
    Ok(ActiveStream {
        play_session_id: row.try_get("sid")?,
        profile_id: row.try_get("profile_id")?,
        profile_name: row.try_get("profile_name")?,
        device_id: row.try_get("device_id")?,
        device_name: row.try_get("device_name")?,
        device_kind: DeviceKind::from_str(&kind).map_err(decode)?,
        title_id: row.try_get("title_id")?,
        title_name: row.try_get("title_name")?,
        position_ms: row.try_get("position_ms")?,
        paused: row.try_get::<i64, _>("paused")? != 0,
        started_at: row.try_get("started_at")?,
        last_event_at: row.try_get("last_event_at")?,
    })
}

/// Ends an account's streams that sent nothing for `timeout_ms`, logging a
/// `timeout` event for each. Being a write, it also takes the write lock.
async fn expire_streams(
    conn: &mut Conn,
    account_id: i64,
    now: Millis,
    timeout_ms: i64,
) -> Result<()> {
    let cutoff = now - timeout_ms;
    sqlx::query(
        "INSERT INTO play_events(profile_id, title_id, play_session_id, device_id, kind, position_ms, paused, received_at, applied) \
         SELECT profile_id, title_id, id, device_id, 'timeout', position_ms, paused, $1, 0 FROM play_sessions \
         WHERE account_id = $2 AND ended_at IS NULL AND last_event_at <= $3",
    )
    .bind(now)
    .bind(account_id)
    .bind(cutoff)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE play_sessions SET ended_at = last_event_at + $1, end_reason = 'timeout' \
         WHERE account_id = $2 AND ended_at IS NULL AND last_event_at <= $3",
    )
    .bind(timeout_ms)
    .bind(account_id)
    .bind(cutoff)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn live_streams(
    conn: &mut Conn,
    account_id: i64,
    now: Millis,
    timeout_ms: i64,
) -> Result<Vec<ActiveStream>> {
    let sql = format!(
        "SELECT {STREAM_COLS} WHERE s.account_id = $1 AND s.ended_at IS NULL AND s.last_event_at > $2 \
         ORDER BY s.started_at, s.id"
    );
    sqlx::query(&sql)
        .bind(account_id)
        .bind(now - timeout_ms)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(stream_from_row)
        .collect()
}

/// A play session as the batch needs it: what the rules see, and what the
/// writes and answers need besides.
#[derive(Debug, Clone)]
pub(super) struct SessionRow {
    pub(super) stream: StreamSession,
    pub(super) device_id: i64,
    pub(super) device_name: String,
    pub(super) title_id: i64,
    pub(super) series_id: Option<i64>,
    /// Changed by the batch: to be written.
    pub(super) dirty: bool,
    /// A person touched its device.
    pub(super) interacted: bool,
}

fn saved_from_row(row: &DbRow) -> Result<SavedState> {
    Ok(SavedState {
        resume_ms: row.try_get("resume_ms")?,
        played: row.try_get::<i64, _>("played")? != 0,
        play_count: row.try_get("play_count")?,
        last_played_at: row.try_get("last_played_at")?,
        position_sent_at: row.try_get("position_sent_at")?,
        hidden: row.try_get::<i64, _>("hidden")? != 0,
    })
}

/// A row of the play-event log the batch appends.
pub(super) struct EventRow {
    pub(super) profile_id: i64,
    pub(super) title_id: i64,
    pub(super) session: i64,
    pub(super) device_id: i64,
    pub(super) kind: &'static str,
    pub(super) position_ms: i64,
    pub(super) paused: bool,
    pub(super) sent_at: Option<i64>,
    pub(super) applied: bool,
}

/// A saved state (`playback_state` row) as the batch writes it.
#[derive(Clone, Copy)]
pub(super) struct StateRow {
    pub(super) series_id: Option<i64>,
    pub(super) device_id: i64,
    pub(super) s: SavedState,
}

/// What one answer of the batch is.
pub(super) type Answer = std::result::Result<ProgressAck, ProgressRefused>;

/// The sessions a progress batch touches, with their saved states (keyed by
/// profile and title; `None`: no row yet; the flag: changed, to be written).
#[derive(Default)]
pub(super) struct Batch {
    pub(super) sessions: HashMap<i64, SessionRow>,
    pub(super) states: HashMap<(i64, i64), (Option<StateRow>, bool)>,
}

/// What the progress batch reads: each session with its saved state. The
/// dialect appends its `WHERE s.id ...` (and locking).
pub(super) const BATCH_READ: &str =
    "SELECT s.id, s.profile_id, s.device_id, d.name AS device_name, s.title_id, t.series_id, \
     s.duration_ms, s.attended, s.counted, s.position_ms, s.paused, s.last_sent_at, \
     s.last_event_at, s.ended_at, ps.profile_id AS st_profile, ps.series_id AS st_series, \
     ps.resume_ms, ps.played, ps.play_count, ps.last_played_at, ps.position_sent_at, ps.hidden, \
     ps.last_device_id FROM play_sessions s JOIN devices d ON d.id = s.device_id \
     JOIN titles t ON t.id = s.title_id \
     LEFT JOIN playback_state ps ON ps.profile_id = s.profile_id AND ps.title_id = s.title_id";

impl Batch {
    /// Decodes the rows of [`BATCH_READ`].
    pub(super) fn load(rows: &[DbRow]) -> Result<Batch> {
        let mut b = Batch::default();
        for row in rows {
            let ended: Option<i64> = row.try_get("ended_at")?;
            let sess = SessionRow {
                stream: StreamSession {
                    profile_id: row.try_get("profile_id")?,
                    duration_ms: row.try_get("duration_ms")?,
                    attended: row.try_get::<i64, _>("attended")? != 0,
                    counted: row.try_get::<i64, _>("counted")? != 0,
                    position_ms: row.try_get("position_ms")?,
                    paused: row.try_get::<i64, _>("paused")? != 0,
                    last_sent_at: row.try_get("last_sent_at")?,
                    last_event_at: row.try_get("last_event_at")?,
                    ended: ended.is_some(),
                },
                device_id: row.try_get("device_id")?,
                device_name: row.try_get("device_name")?,
                title_id: row.try_get("title_id")?,
                series_id: row.try_get("series_id")?,
                dirty: false,
                interacted: false,
            };
            if row.try_get::<Option<i64>, _>("st_profile")?.is_some() {
                b.states.insert(
                    (sess.stream.profile_id, sess.title_id),
                    (
                        Some(StateRow {
                            series_id: row.try_get("st_series")?,
                            device_id: row
                                .try_get::<Option<i64>, _>("last_device_id")?
                                .unwrap_or(0),
                            s: saved_from_row(row)?,
                        }),
                        false,
                    ),
                );
            }
            b.sessions.insert(row.try_get("id")?, sess);
        }
        Ok(b)
    }

    /// Applies the reports in order under the domain's rules ([`progress`]),
    /// leaving in the batch what to write; returns one answer per report,
    /// the play events to append and the time to stamp the writes with.
    pub(super) fn run(
        &mut self,
        rules: &ResumeRules,
        stream_timeout_ms: i64,
        inputs: &[ProgressInput],
    ) -> (Vec<Answer>, Vec<EventRow>, Millis) {
        let mut out = Vec::with_capacity(inputs.len());
        let mut events: Vec<EventRow> = Vec::with_capacity(inputs.len());
        for inp in inputs {
            let Some(sess) = self.sessions.get_mut(&inp.play_session_id) else {
                out.push(Err(ProgressRefused::NotFound));
                continue;
            };
            let key = (sess.stream.profile_id, sess.title_id);
            let saved = self.states.get(&key).and_then(|e| e.0).map(|r| r.s);
            let report = ProgressReport {
                profile_id: inp.profile_id,
                position_ms: inp.position_ms,
                paused: inp.paused,
                sent_at: inp.sent_at,
                interaction: inp.interaction,
                stop: inp.stop,
                now: inp.now,
            };
            let outcome = progress(
                rules,
                stream_timeout_ms,
                &mut sess.stream,
                saved.as_ref(),
                &report,
            );
            if outcome == Err(ProgressRefusal::Forbidden) {
                out.push(Err(ProgressRefused::Forbidden));
                continue;
            }
            let state_entry = self.states.entry(key).or_insert((None, false));
            let step = match outcome {
                Ok(ProgressOutcome::Accepted(step)) => step,
                Ok(ProgressOutcome::RepeatedStop) => {
                    let current = saved.unwrap_or_default();
                    out.push(Ok(ProgressAck {
                        play_session_id: inp.play_session_id,
                        profile_id: sess.stream.profile_id,
                        title_id: sess.title_id,
                        device_id: sess.device_id,
                        device_name: sess.device_name.clone(),
                        position_ms: sess.stream.position_ms,
                        paused: sess.stream.paused,
                        applied: false,
                        resume_ms: current.resume_ms,
                        played: current.played,
                        ended: true,
                        duplicate: true,
                    }));
                    continue;
                }
                Err(e) => {
                    out.push(Err(match e {
                        ProgressRefusal::Forbidden => ProgressRefused::Forbidden,
                        ProgressRefusal::Ended => ProgressRefused::Ended,
                        ProgressRefusal::TooLong { duration_ms } => {
                            ProgressRefused::TooLong { duration_ms }
                        }
                    }));
                    continue;
                }
            };
            if step.interaction {
                sess.interacted = true;
            }
            if let Some(s) = step.state {
                state_entry.0 = Some(StateRow {
                    series_id: sess.series_id,
                    device_id: sess.device_id,
                    s,
                });
                state_entry.1 = true;
            }
            sess.dirty = true;
            let st = state_entry.0.map(|r| r.s).unwrap_or_default();
            events.push(EventRow {
                profile_id: sess.stream.profile_id,
                title_id: sess.title_id,
                session: inp.play_session_id,
                device_id: sess.device_id,
                kind: if inp.stop { "stop" } else { "progress" },
                position_ms: step.position_ms,
                paused: inp.paused,
                sent_at: inp.sent_at,
                applied: step.applied,
            });
            out.push(Ok(ProgressAck {
                play_session_id: inp.play_session_id,
                profile_id: sess.stream.profile_id,
                title_id: sess.title_id,
                device_id: sess.device_id,
                device_name: sess.device_name.clone(),
                position_ms: step.position_ms,
                paused: inp.paused,
                applied: step.applied,
                resume_ms: st.resume_ms,
                played: st.played,
                ended: inp.stop,
                duplicate: false,
            }));
        }
        let now = inputs.iter().map(|i| i.now).max().unwrap_or(0);
        (out, events, now)
    }

    /// The sessions to write back.
    pub(super) fn dirty_sessions(&self) -> impl Iterator<Item = (i64, &SessionRow)> {
        self.sessions
            .iter()
            .filter(|(_, s)| s.dirty)
            .map(|(id, s)| (*id, s))
    }

    /// The devices a person touched (their last interaction moves to now),
    /// in id order.
    pub(super) fn touched_devices(&self) -> Vec<i64> {
        let mut touched: Vec<i64> = self
            .sessions
            .values()
            .filter(|s| s.interacted)
            .map(|s| s.device_id)
            .collect();
        touched.sort_unstable();
        touched.dedup();
        touched
    }

    /// The saved states to write back.
    pub(super) fn changed_states(&self) -> impl Iterator<Item = ((i64, i64), StateRow)> + '_ {
        self.states
            .iter()
            .filter(|(_, (_, dirty))| *dirty)
            .filter_map(|(k, (r, _))| r.map(|r| (*k, r)))
    }
}

async fn item_details(
    conn: &mut Conn,
    ids: &[i64],
) -> Result<
    HashMap<
        i64,
        (
            String,
            TitleKind,
            Option<i64>,
            Option<String>,
            Option<i32>,
            Option<i32>,
            i64,
        ),
    >,
> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut qb: QueryBuilder<Db> = QueryBuilder::new(
        "SELECT t.id, t.name, t.kind, t.series_id, sr.name AS series_name, CAST(se.number AS INTEGER) AS season, \
         CAST(t.episode_number AS INTEGER) AS episode_number, t.duration_s FROM titles t LEFT JOIN titles sr ON sr.id = t.series_id \
         LEFT JOIN seasons se ON se.id = t.season_id WHERE t.id IN (",
    );
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    qb.push(")");
    for row in qb.build().fetch_all(&mut *conn).await? {
        let id: i64 = row.try_get("id")?;
        let kind: String = row.try_get("kind")?;
        out.insert(
            id,
            (
                row.try_get("name")?,
                TitleKind::from_str(&kind).map_err(decode)?,
                row.try_get("series_id")?,
                row.try_get("series_name")?,
                row.try_get("season")?,
                row.try_get("episode_number")?,
                duration_ms(id, row.try_get("duration_s")?),
            ),
        );
    }
    Ok(out)
}

#[async_trait]
impl PlaybackStore for Backend {
    async fn register_device(
        &self,
        profile_id: i64,
        name: &str,
        kind: DeviceKind,
        now: Millis,
    ) -> Result<(Device, bool)> {
        let mut tx = self.begin_write().await?;
        let created = sqlx::query(
            "INSERT INTO devices(profile_id, name, kind, created_at, last_seen_at, last_interaction_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(profile_id)
        .bind(name)
        .bind(kind.as_str())
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        sqlx::query(
            "UPDATE devices SET kind = $1, last_seen_at = $2, revoked_at = NULL \
             WHERE profile_id = $3 AND name = $4",
        )
        .bind(kind.as_str())
        .bind(now)
        .bind(profile_id)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT * FROM devices WHERE profile_id = $1 AND name = $2")
            .bind(profile_id)
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        let d = device_from_row(&row)?;
        tx.commit().await?;
        Ok((d, created))
    }

    async fn devices(&self, profile_id: i64) -> Result<Vec<Device>> {
        sqlx::query(
            "SELECT * FROM devices WHERE profile_id = $1 AND revoked_at IS NULL \
             ORDER BY last_seen_at DESC, id",
        )
        .bind(profile_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(device_from_row)
        .collect()
    }

    async fn rename_device(&self, profile_id: i64, device_id: i64, name: &str) -> Result<Device> {
        let row = sqlx::query(
            "UPDATE devices SET name = $1 WHERE id = $2 AND profile_id = $3 AND revoked_at IS NULL \
             RETURNING *",
        )
        .bind(name)
        .bind(device_id)
        .bind(profile_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| unique_to_conflict(e, "name"))?;
        match row {
            Some(r) => device_from_row(&r),
            None => Err(StoreError::NotFound { what: "device" }),
        }
    }

    async fn device(&self, id: i64) -> Result<Option<Device>> {
        sqlx::query("SELECT * FROM devices WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(device_from_row)
            .transpose()
    }

    async fn bind_session_device(&self, token_hash: &str, device_id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET device_id = $1 WHERE token_hash = $2 \
             AND (device_id IS NULL OR device_id <> $1)",
        )
        .bind(device_id)
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_device(&self, token_hash: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT d.id FROM sessions s JOIN devices d ON d.id = s.device_id \
             WHERE s.token_hash = $1 AND d.revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn sign_out_device(&self, profile_id: i64, device_id: i64, now: Millis) -> Result<u64> {
        // Sessions change: the server's session cache must not keep them.
        let _changed = self.changes.on_return(Bump::Auth);
        let mut tx = self.begin_write().await?;
        let revoked = sqlx::query(
            "UPDATE devices SET revoked_at = $1 WHERE id = $2 AND profile_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(device_id)
        .bind(profile_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if revoked == 0 {
            return Err(StoreError::NotFound { what: "device" });
        }
        let ended = sqlx::query("DELETE FROM sessions WHERE device_id = $1")
            .bind(device_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(ended)
    }

    async fn playable_title(&self, id: i64) -> Result<Option<PlayableTitle>> {
        let Some(row) = sqlx::query(
            "SELECT id, kind, name, duration_s, series_id, media_path FROM titles WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let kind: String = row.try_get("kind")?;
        Ok(Some(PlayableTitle {
            id,
            kind: TitleKind::from_str(&kind).map_err(decode)?,
            name: row.try_get("name")?,
            duration_ms: duration_ms(id, row.try_get("duration_s")?),
            series_id: row.try_get("series_id")?,
            media_path: row.try_get("media_path")?,
        }))
    }

    async fn series_episodes(&self, series_id: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT t.id FROM titles t JOIN seasons se ON se.id = t.season_id \
             WHERE t.series_id = $1 AND t.kind = 'episode' ORDER BY se.number, t.episode_number, t.id",
        )
        .bind(series_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn set_media_path(&self, title_id: i64, path: Option<&str>) -> Result<()> {
        let _changed = self.changes.on_return(Bump::All);
        let n = sqlx::query("UPDATE titles SET media_path = $1 WHERE id = $2")
            .bind(path)
            .bind(title_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound { what: "title" });
        }
        Ok(())
    }

    async fn media_link_key(&self, candidate: &str, now: Millis) -> Result<String> {
        sqlx::query(
            "INSERT INTO server_keys(name, value, created_at) VALUES ('media_links', $1, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(candidate)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM server_keys WHERE name = 'media_links'")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn start_playback(&self, req: &StartPlayback) -> Result<StartOutcome> {
        let _changed = self.changes.on_return(Bump::Profile(req.profile_id));
        let now = req.now;
        let lim = req.limits;
        let mut tx = self.begin_write().await?;
        // One start per account at a time, so the stream limit holds.
        lock(&mut tx, ACCOUNT_LOCK_BASE + req.account_id).await?;
        expire_streams(&mut tx, req.account_id, now, lim.stream_timeout_ms).await?;
        // Still watching? Count the autoplayed, untouched sessions in a row on this device.
        let prev = sqlx::query(
            "SELECT autoplay, attended, autoplay_run FROM play_sessions WHERE device_id = $1 \
             ORDER BY started_at DESC, id DESC LIMIT 1",
        )
        .bind(req.device_id)
        .fetch_optional(&mut *tx)
        .await?;
        let prev_run: u32 = match prev {
            Some(r) => previous_autoplay_run(
                r.try_get::<i64, _>("autoplay")? != 0,
                r.try_get::<i64, _>("attended")? != 0,
                r.try_get("autoplay_run")?,
            ),
            None => 0,
        };
        let last_touch: i64 =
            sqlx::query_scalar("SELECT last_interaction_at FROM devices WHERE id = $1")
                .bind(req.device_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound { what: "device" })?;
        let idle = now - last_touch;
        if still_watching(
            req.autoplay,
            prev_run,
            idle,
            lim.max_autoplay_run,
            lim.idle_ms,
        ) {
            tx.rollback().await?;
            return Ok(StartOutcome::StillWatching {
                autoplay_run: prev_run,
                idle_ms: idle,
            });
        }
        // A device plays one stream: its previous one is replaced.
        sqlx::query(
            "INSERT INTO play_events(profile_id, title_id, play_session_id, device_id, kind, position_ms, paused, received_at, applied) \
             SELECT profile_id, title_id, id, device_id, 'stop', position_ms, paused, $1, 0 FROM play_sessions \
             WHERE device_id = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(req.device_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE play_sessions SET ended_at = $1, end_reason = 'replaced' WHERE device_id = $2 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(req.device_id)
        .execute(&mut *tx)
        .await?;
        let active = live_streams(&mut tx, req.account_id, now, lim.stream_timeout_ms).await?;
        if stream_cap_reached(active.len(), lim.max_streams) {
            tx.rollback().await?;
            return Ok(StartOutcome::StreamLimit { active });
        }
        let resume_ms: i64 = sqlx::query_scalar(
            "SELECT resume_ms FROM playback_state WHERE profile_id = $1 AND title_id = $2",
        )
        .bind(req.profile_id)
        .bind(req.title.id)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(0);
        let run = autoplay_run(req.autoplay, prev_run);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO play_sessions(account_id, profile_id, device_id, title_id, duration_ms, autoplay, attended, \
             autoplay_run, position_ms, started_at, last_event_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(req.account_id)
        .bind(req.profile_id)
        .bind(req.device_id)
        .bind(req.title.id)
        .bind(req.title.duration_ms)
        .bind(i64::from(req.autoplay))
        .bind(i64::from(!req.autoplay))
        .bind(i64::from(run))
        .bind(resume_ms)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO play_events(profile_id, title_id, play_session_id, device_id, kind, position_ms, paused, received_at, applied) \
             VALUES ($1, $2, $3, $4, 'start', $5, 0, $6, 1)",
        )
        .bind(req.profile_id)
        .bind(req.title.id)
        .bind(id)
        .bind(req.device_id)
        .bind(resume_ms)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let touch = if req.autoplay { last_touch } else { now };
        sqlx::query("UPDATE devices SET last_seen_at = $1, last_interaction_at = $2 WHERE id = $3")
            .bind(now)
            .bind(touch)
            .bind(req.device_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(StartOutcome::Started {
            play_session_id: id,
            resume_ms,
            autoplay_run: run,
        })
    }

    async fn record_progress(
        &self,
        rules: &ResumeRules,
        stream_timeout_ms: i64,
        inputs: &[ProgressInput],
    ) -> Result<Vec<Answer>> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        progress_batch(self, rules, stream_timeout_ms, inputs).await
    }

    async fn active_streams(
        &self,
        account_id: i64,
        now: Millis,
        stream_timeout_ms: i64,
    ) -> Result<Vec<ActiveStream>> {
        let mut conn = self.read().await?;
        live_streams(&mut conn, account_id, now, stream_timeout_ms).await
    }

    async fn title_progress(
        &self,
        profile_id: i64,
        title_id: i64,
    ) -> Result<Option<TitleProgress>> {
        let row = sqlx::query(
            "SELECT ps.*, t.duration_s FROM playback_state ps JOIN titles t ON t.id = ps.title_id \
             WHERE ps.profile_id = $1 AND ps.title_id = $2",
        )
        .bind(profile_id)
        .bind(title_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(TitleProgress {
                title_id,
                resume_ms: row.try_get("resume_ms")?,
                duration_ms: duration_ms(title_id, row.try_get("duration_s")?),
                played: row.try_get::<i64, _>("played")? != 0,
                play_count: row.try_get("play_count")?,
                last_played_at: row.try_get("last_played_at")?,
                last_device_id: row.try_get("last_device_id")?,
            })
        })
        .transpose()
    }

    async fn set_played(
        &self,
        profile_id: i64,
        title_id: i64,
        played: bool,
        now: Millis,
    ) -> Result<()> {
        let _changed = self.changes.on_return(Bump::Profile(profile_id));
        let mut tx = self.begin_write().await?;
        lock_profile(&mut tx, profile_id).await?;
        let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM titles WHERE id = $1")
            .bind(title_id)
            .fetch_optional(&mut *tx)
            .await?;
        let kind = kind.ok_or(StoreError::NotFound { what: "title" })?;
        let targets: Vec<(i64, Option<i64>)> = if kind == "series" {
            sqlx::query_as(
                "SELECT id, series_id FROM titles WHERE series_id = $1 AND kind = 'episode'",
            )
            .bind(title_id)
            .fetch_all(&mut *tx)
            .await?
        } else {
            sqlx::query_as("SELECT id, series_id FROM titles WHERE id = $1")
                .bind(title_id)
                .fetch_all(&mut *tx)
                .await?
        };
        for (id, series) in targets {
            let sql = if played {
                "INSERT INTO playback_state(profile_id, title_id, series_id, resume_ms, played, play_count, last_played_at, position_sent_at, updated_at) \
                 VALUES ($1, $2, $3, 0, 1, 1, $4, $4, $4) ON CONFLICT(profile_id, title_id) DO UPDATE SET \
                 resume_ms = 0, played = 1, play_count = playback_state.play_count + 1, last_played_at = $4, \
                 position_sent_at = CASE WHEN playback_state.position_sent_at > $4 THEN playback_state.position_sent_at ELSE $4 END, updated_at = $4"
            } else {
                "INSERT INTO playback_state(profile_id, title_id, series_id, resume_ms, played, play_count, position_sent_at, updated_at) \
                 VALUES ($1, $2, $3, 0, 0, 0, $4, $4) ON CONFLICT(profile_id, title_id) DO UPDATE SET \
                 resume_ms = 0, played = 0, play_count = 0, position_sent_at = CASE WHEN playback_state.position_sent_at > $4 THEN playback_state.position_sent_at ELSE $4 END, updated_at = $4"
            };
            sqlx::query(sql)
                .bind(profile_id)
                .bind(id)
                .bind(series)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO play_events(profile_id, title_id, kind, received_at, applied) VALUES ($1, $2, $3, $4, 1)",
            )
            .bind(profile_id)
            .bind(id)
            .bind(if played { "mark_played" } else { "mark_unplayed" })
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn hide_from_continue_watching(
        &self,
        profile_id: i64,
        title_id: i64,
        now: Millis,
    ) -> Result<bool> {
        let _changed = self.changes.on_return(Bump::Profile(profile_id));
        let mut tx = self.begin_write().await?;
        lock_profile(&mut tx, profile_id).await?;
        let hidden = sqlx::query(
            "UPDATE playback_state SET hidden = 1, updated_at = $1 WHERE profile_id = $2 AND title_id = $3 \
             AND resume_ms > 0 AND hidden = 0",
        )
        .bind(now)
        .bind(profile_id)
        .bind(title_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        tx.commit().await?;
        Ok(hidden)
    }

    async fn continue_watching(&self, profile_id: i64, limit: u32) -> Result<Vec<RowItem>> {
        let mut conn = self.read().await?;
        let rows: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT title_id, resume_ms, last_played_at FROM playback_state \
             WHERE profile_id = $1 AND resume_ms > 0 AND hidden = 0 \
             ORDER BY last_played_at DESC, title_id LIMIT $2",
        )
        .bind(profile_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let details = item_details(&mut conn, &ids).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, resume, last)| {
                details.get(&id).map(|d| RowItem {
                    title_id: id,
                    name: d.0.clone(),
                    kind: d.1,
                    series_id: d.2,
                    series_name: d.3.clone(),
                    season: d.4,
                    episode: d.5,
                    resume_ms: resume,
                    duration_ms: d.6,
                    last_played_at: last,
                    reason: None,
                })
            })
            .collect())
    }

    async fn next_up(&self, profile_id: i64, since: Millis, limit: u32) -> Result<Vec<RowItem>> {
        let mut conn = self.read().await?;
        let series: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT series_id, MAX(COALESCE(last_played_at, updated_at)) AS last FROM playback_state \
             WHERE profile_id = $1 AND series_id IS NOT NULL GROUP BY series_id \
             HAVING MAX(COALESCE(last_played_at, updated_at)) >= $2 ORDER BY last DESC, series_id LIMIT $3",
        )
        .bind(profile_id)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        let mut picks: Vec<(i64, marquee_domain::playback::NextUpReason, i64, i64)> = Vec::new();
        for (series_id, last) in series {
            let rows = sqlx::query(
                "SELECT t.id, CAST(se.number AS INTEGER) AS season, CAST(t.episode_number AS INTEGER) AS episode_number, ps.resume_ms, ps.played, ps.last_played_at \
                 FROM titles t JOIN seasons se ON se.id = t.season_id \
                 LEFT JOIN playback_state ps ON ps.title_id = t.id AND ps.profile_id = $1 \
                 WHERE t.series_id = $2 AND t.kind = 'episode'",
            )
            .bind(profile_id)
            .bind(series_id)
            .fetch_all(&mut *conn)
            .await?;
            let eps = rows
                .iter()
                .map(|r| {
                    Ok(EpisodeProgress {
                        title_id: r.try_get("id")?,
                        season: r.try_get("season")?,
                        episode: r.try_get::<Option<i32>, _>("episode_number")?.unwrap_or(0),
                        resume_ms: r.try_get::<Option<i64>, _>("resume_ms")?.unwrap_or(0),
                        played: r.try_get::<Option<i64>, _>("played")?.unwrap_or(0) != 0,
                        last_played_at: r.try_get("last_played_at")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            if let Some((id, reason)) = next_up(&eps) {
                let resume = next_up_resume_ms(&eps, id);
                picks.push((id, reason, resume, last));
            }
        }
        let ids: Vec<i64> = picks.iter().map(|p| p.0).collect();
        let details = item_details(&mut conn, &ids).await?;
        // In-progress episodes come first, then by recency.
        picks.sort_by_key(|p| next_up_rank(p.1, p.3));
        Ok(picks
            .into_iter()
            .filter_map(|(id, reason, resume, last)| {
                details.get(&id).map(|d| RowItem {
                    title_id: id,
                    name: d.0.clone(),
                    kind: d.1,
                    series_id: d.2,
                    series_name: d.3.clone(),
                    season: d.4,
                    episode: d.5,
                    resume_ms: resume,
                    duration_ms: d.6,
                    last_played_at: Some(last),
                    reason: Some(reason),
                })
            })
            .collect())
    }

    async fn play_events(
        &self,
        profile_id: i64,
        title_id: Option<i64>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<PlayEvent>> {
        sqlx::query(
            "SELECT * FROM play_events WHERE profile_id = $1 AND (CAST($2 AS BIGINT) IS NULL OR title_id = $2) AND id > $3 \
             ORDER BY id LIMIT $4",
        )
        .bind(profile_id)
        .bind(title_id)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(PlayEvent {
                id: r.try_get("id")?,
                title_id: r.try_get("title_id")?,
                play_session_id: r.try_get("play_session_id")?,
                device_id: r.try_get("device_id")?,
                kind: r.try_get("kind")?,
                position_ms: r.try_get("position_ms")?,
                paused: r.try_get::<Option<i64>, _>("paused")?.map(|p| p != 0),
                sent_at: r.try_get("sent_at")?,
                received_at: r.try_get("received_at")?,
                applied: r.try_get::<i64, _>("applied")? != 0,
            })
        })
        .collect()
    }

    async fn import_series(
        &self,
        source: &str,
        series: &[ImportSeries],
        now: Millis,
    ) -> Result<ImportCounts> {
        let _changed = self.changes.on_return(Bump::All);
        let mut counts = ImportCounts::default();
        let mut tx = self.begin_write().await?;
        for s in series {
            let n = sqlx::query(
                "INSERT INTO titles(kind, name, year, source, external_id, created_at) \
                 VALUES ('series', $1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(&s.name)
            .bind(s.year)
            .bind(source)
            .bind(s.external_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                counts.imported += 1;
            } else {
                counts.unchanged += 1;
            }
            let series_id: i64 =
                sqlx::query_scalar("SELECT id FROM titles WHERE source = $1 AND external_id = $2")
                    .bind(source)
                    .bind(s.external_id)
                    .fetch_one(&mut *tx)
                    .await?;
            for g in &s.genres {
                sqlx::query("INSERT INTO genres(name) VALUES ($1) ON CONFLICT DO NOTHING")
                    .bind(g)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO title_genres(title_id, genre_id) SELECT $1, id FROM genres WHERE name = $2 \
                     ON CONFLICT DO NOTHING",
                )
                .bind(series_id)
                .bind(g)
                .execute(&mut *tx)
                .await?;
            }
            for season in &s.seasons {
                sqlx::query(
                    "INSERT INTO seasons(series_id, number, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(series_id)
                .bind(season.number)
                .bind(format!("Season {}", season.number))
                .execute(&mut *tx)
                .await?;
                let season_id: i64 = sqlx::query_scalar(
                    "SELECT id FROM seasons WHERE series_id = $1 AND number = $2",
                )
                .bind(series_id)
                .bind(season.number)
                .fetch_one(&mut *tx)
                .await?;
                for e in &season.episodes {
                    let n = sqlx::query(
                        "INSERT INTO titles(kind, name, year, duration_s, series_id, season_id, episode_number, \
                         source, external_id, created_at) VALUES ('episode', $1, $2, $3, $4, $5, $6, $7, $8, $9) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(&e.name)
                    .bind(s.year)
                    .bind(e.duration_s)
                    .bind(series_id)
                    .bind(season_id)
                    .bind(e.number)
                    .bind(source)
                    .bind(e.external_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n == 1 {
                        counts.imported += 1;
                    } else {
                        counts.unchanged += 1;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    async fn source_titles(&self, source: &str) -> Result<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT external_id, id FROM titles WHERE source = $1 AND external_id IS NOT NULL \
             ORDER BY external_id",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn set_runtime(&self, title_id: i64, duration_s: i64, now: Millis) -> Result<()> {
        if duration_s <= 0 {
            return Err(StoreError::Invalid {
                field: "duration_s",
                message: "must be positive".into(),
            });
        }
        let _changed = self.changes.on_return(Bump::All);
        let n = sqlx::query("UPDATE titles SET duration_s = $1, updated_at = $2 WHERE id = $3")
            .bind(duration_s)
            .bind(now)
            .bind(title_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound { what: "title" });
        }
        Ok(())
    }
}
