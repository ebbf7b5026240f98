//! [`PrivacyStore`], written once for both backends (see `sqlite/mod.rs` for
//! the dialect seam this file is compiled against). What is erased, what is
//! anonymised and why: `docs/privacy.md`.

use super::{purge_text_indexes, Backend, Conn, DbRow, FOR_UPDATE};
use crate::changes::Bump;
use crate::privacy::{AccountExport, DeletionReport, PrivacyStore};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::Millis;
use serde_json::{Map, Value};
use sqlx::{Column, Row};

/// The account's profiles, for the sections keyed by profile.
const PROFILES: &str = "(SELECT id FROM profiles WHERE account_id = $1)";
/// The account's support conversations (as the customer).
const CONVERSATIONS: &str = "(SELECT id FROM support_conversations WHERE account_id = $1)";
/// The ideas the account wrote.
const IDEAS: &str = "(SELECT id FROM ideas WHERE author_id = $1)";

/// The export's sections: a name and a query with `$1` the account id. Every
/// column is named, so that no hash or secret can slip into an export.
const SECTIONS: &[(&str, &str)] = &[
    (
        "profiles",
        "SELECT id, name, is_kids, avatar, created_at FROM profiles WHERE account_id = $1 ORDER BY id",
    ),
    (
        "sessions",
        "SELECT profile_id, created_at, expires_at FROM sessions WHERE account_id = $1 \
         ORDER BY created_at",
    ),
    (
        "account_tokens",
        "SELECT purpose, created_at, expires_at, used_at FROM account_tokens \
         WHERE account_id = $1 ORDER BY created_at",
    ),
    (
        "devices",
        "SELECT id, profile_id, name, kind, created_at, last_seen_at, last_interaction_at \
         FROM devices WHERE profile_id IN (SELECT id FROM profiles WHERE account_id = $1) ORDER BY id",
    ),
    (
        "watch_history",
        "SELECT h.profile_id, h.title_id, t.name AS title, h.watched_at, h.rating, h.source \
         FROM watch_history h JOIN titles t ON t.id = h.title_id \
         WHERE h.profile_id IN (SELECT id FROM profiles WHERE account_id = $1) ORDER BY h.id",
    ),
    (
        "feedback",
        "SELECT f.profile_id, f.title_id, t.name AS title, f.value, f.updated_at \
         FROM feedback f JOIN titles t ON t.id = f.title_id \
         WHERE f.profile_id IN (SELECT id FROM profiles WHERE account_id = $1) \
         ORDER BY f.profile_id, f.title_id",
    ),
    (
        "home_hidden",
        "SELECT profile_id, title_id, hidden_at FROM home_hidden \
         WHERE profile_id IN (SELECT id FROM profiles WHERE account_id = $1) \
         ORDER BY profile_id, title_id",
    ),
    (
        "playback_state",
        "SELECT profile_id, title_id, series_id, resume_ms, played, play_count, last_played_at, \
           last_device_id, hidden, updated_at FROM playback_state \
         WHERE profile_id IN (SELECT id FROM profiles WHERE account_id = $1) \
         ORDER BY profile_id, title_id",
    ),
    (
        "play_sessions",
        "SELECT id, profile_id, device_id, title_id, duration_ms, autoplay, attended, position_ms, \
           paused, started_at, last_event_at, ended_at, end_reason FROM play_sessions \
         WHERE account_id = $1 ORDER BY id",
    ),
    (
        "play_events",
        "SELECT id, profile_id, title_id, play_session_id, device_id, kind, position_ms, paused, \
           sent_at, received_at FROM play_events \
         WHERE profile_id IN (SELECT id FROM profiles WHERE account_id = $1) ORDER BY id",
    ),
    (
        "stream_errors",
        "SELECT id, profile_id, device_id, title_id, code, message, position_ms, at \
         FROM stream_errors WHERE account_id = $1 ORDER BY id",
    ),
    (
        "rec_impressions",
        "SELECT id, profile_id, surface, experiment_id, variant, items, at FROM rec_impressions \
         WHERE profile_id IN (SELECT id FROM profiles WHERE account_id = $1) ORDER BY id",
    ),
    (
        "rec_clicks",
        "SELECT id, profile_id, title_id, row_key, experiment_id, variant, at FROM rec_clicks \
         WHERE profile_id IN (SELECT id FROM profiles WHERE account_id = $1) ORDER BY id",
    ),
    (
        "ideas",
        "SELECT id, title, description, status, duplicate_of, approved, hidden, vote_count, \
           comment_count, created_at, updated_at FROM ideas WHERE author_id = $1 ORDER BY id",
    ),
    (
        "idea_votes",
        "SELECT idea_id, created_at FROM idea_votes WHERE account_id = $1 ORDER BY idea_id",
    ),
    (
        "idea_comments",
        "SELECT id, idea_id, body, hidden, created_at FROM idea_comments \
         WHERE author_id = $1 ORDER BY id",
    ),
    (
        "support_conversations",
        "SELECT id, status, priority, created_at, updated_at, last_message_at, first_reply_at, \
           resolved_at FROM support_conversations WHERE account_id = $1 ORDER BY id",
    ),
    (
        "support_messages",
        "SELECT id, conversation_id, author_kind, body, created_at, watch_title_id, watch_title, \
           watch_device, watch_device_kind, watch_position_ms, watch_duration_ms \
         FROM support_messages WHERE internal = 0 AND conversation_id IN \
           (SELECT id FROM support_conversations WHERE account_id = $1) ORDER BY id",
    ),
    (
        "support_attachments",
        "SELECT id, conversation_id, message_id, file_name, mime, size_bytes, sha256, width, \
           height, created_at FROM support_attachments WHERE (conversation_id IN \
           (SELECT id FROM support_conversations WHERE account_id = $1) AND message_id IN \
           (SELECT id FROM support_messages WHERE internal = 0)) OR uploader_id = $1 ORDER BY id",
    ),
    (
        "support_csat",
        "SELECT conversation_id, resolution_seq, score, comment, answered_at FROM support_csat \
         WHERE conversation_id IN (SELECT id FROM support_conversations WHERE account_id = $1) \
         ORDER BY conversation_id, resolution_seq",
    ),
    (
        "support_shares",
        "SELECT id, conversation_id, created_at, revoked_at, views FROM support_shares \
         WHERE conversation_id IN (SELECT id FROM support_conversations WHERE account_id = $1) \
         ORDER BY id",
    ),
    (
        "perk_events",
        "SELECT id, kind, profile_id, occurred_at, name, series_id, years, subject_id, recorded_at \
         FROM perk_events WHERE account_id = $1 ORDER BY id",
    ),
    (
        "perk_awards",
        "SELECT id, profile_id, kind, amount_cents, badge, feature, message, headline, \
           occurred_at, created_at, revealed_at FROM perk_awards WHERE account_id = $1 ORDER BY id",
    ),
    (
        "share_settings",
        "SELECT enabled, referral_code, updated_at FROM share_settings WHERE account_id = $1",
    ),
    (
        "referrals",
        "SELECT id, code, CASE WHEN referrer_id = $1 THEN 'referrer' ELSE 'referred' END AS role, \
           status, created_at FROM referrals WHERE referrer_id = $1 OR referred_id = $1 ORDER BY id",
    ),
    (
        "handle_links",
        "SELECT handle, created_at FROM handle_links WHERE account_id = $1 ORDER BY handle",
    ),
    (
        "posts",
        "SELECT id, source, author, text, url, created_at, sentiment FROM posts \
         WHERE account_id = $1 ORDER BY id",
    ),
    (
        "notifications",
        "SELECT id, kind, message, link, created_at, read_at FROM notifications \
         WHERE account_id = $1 ORDER BY id",
    ),
    (
        "notification_prefs",
        "SELECT kind, in_app, email, updated_at FROM notification_prefs \
         WHERE account_id = $1 ORDER BY kind",
    ),
    (
        "proposal_reactions",
        "SELECT proposal_id, reaction, would_stay, plan, tenure_band, created_at, updated_at \
         FROM proposal_reactions WHERE account_id = $1 ORDER BY proposal_id",
    ),
    (
        "proposal_comments",
        "SELECT id, proposal_id, body, sentiment, hidden, created_at FROM proposal_comments \
         WHERE author_id = $1 ORDER BY id",
    ),
    (
        "notification_mail",
        "SELECT id, kind, message, link, created_at FROM notification_mail \
         WHERE account_id = $1 ORDER BY id",
    ),
    (
        "notification_unsubscribe",
        "SELECT kind, created_at FROM notification_unsubscribe \
         WHERE account_id = $1 ORDER BY created_at",
    ),
    (
        "account_events",
        "SELECT id, kind, plan, from_plan, amount_cents, currency, reason, detail, at \
         FROM account_events WHERE account_id = $1 ORDER BY id",
    ),
    (
        "support_agent",
        "SELECT capacity, available, team FROM support_agents WHERE account_id = $1",
    ),
];

/// One row as a JSON object keyed by column name: integers, reals, text and
/// booleans as they are, NULL as null.
fn row_json(r: &DbRow) -> Value {
    let mut out = Map::new();
    for (i, c) in r.columns().iter().enumerate() {
        let v = if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else if let Ok(v) = r.try_get::<Option<i32>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else if let Ok(v) = r.try_get::<Option<f64>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else if let Ok(v) = r.try_get::<Option<String>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else if let Ok(v) = r.try_get::<Option<bool>, _>(i) {
            v.map_or(Value::Null, Value::from)
        } else {
            Value::Null
        };
        out.insert(c.name().to_string(), v);
    }
    Value::Object(out)
}

async fn rows(conn: &mut Conn, sql: &str, account_id: i64) -> Result<Vec<Value>> {
    Ok(sqlx::query(sql)
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(row_json)
        .collect())
}

/// Runs one statement with `$1` the account id; the rows it touched.
async fn exec(conn: &mut Conn, sql: &str, account_id: i64) -> Result<u64> {
    Ok(sqlx::query(sql)
        .bind(account_id)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

#[async_trait]
impl PrivacyStore for Backend {
    async fn export_account(&self, account_id: i64) -> Result<AccountExport> {
        let mut conn = self.read().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let account = sqlx::query(
            "SELECT id, email, email_verified, role, plan, status, price_cents, currency, \
               must_change_password, disabled, source, external_id, created_at \
             FROM accounts WHERE id = $1",
        )
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound { what: "account" })?;
        let mut sections = Vec::with_capacity(SECTIONS.len());
        for (name, sql) in SECTIONS {
            sections.push(((*name).to_string(), rows(&mut tx, sql, account_id).await?));
        }
        tx.commit().await?;
        Ok(AccountExport {
            account: row_json(&account),
            sections,
        })
    }

    async fn delete_account(&self, account_id: i64, now: Millis) -> Result<DeletionReport> {
        // Sessions, accounts, profiles and their histories go: every cache.
        let _changed = self.changes.on_return(Bump::All);
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "SELECT id FROM accounts WHERE id = $1{FOR_UPDATE}"
        ))
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound { what: "account" })?;

        // Conversations opened without logging in under this address carry
        // it (and what was written there): they go with the account's own.
        sqlx::query(
            "UPDATE support_conversations SET account_id = $1 WHERE account_id IS NULL \
             AND lower(visitor_email) = (SELECT lower(email) FROM accounts WHERE id = $1)",
        )
        .bind(account_id)
        .execute(&mut *tx)
        .await?;

        // Shared transcripts: revoked (and then erased with their conversations).
        let shares_revoked = sqlx::query(&format!(
            "UPDATE support_shares SET revoked_at = $2, revoked_by = $1 \
             WHERE revoked_at IS NULL AND conversation_id IN {CONVERSATIONS}"
        ))
        .bind(account_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();

        // Anonymised: kept for the aggregates, without the account or its text.
        let mut anonymised = Vec::new();
        anonymised.push((
            "account_events",
            exec(
                &mut tx,
                "UPDATE account_events SET account_id = NULL, detail = NULL WHERE account_id = $1",
                account_id,
            )
            .await?,
        ));
        exec(
            &mut tx,
            "UPDATE account_events SET actor_id = NULL WHERE actor_id = $1",
            account_id,
        )
        .await?;
        anonymised.push((
            "posts",
            exec(
                &mut tx,
                "UPDATE posts SET account_id = NULL WHERE account_id = $1",
                account_id,
            )
            .await?,
        ));
        anonymised.push((
            "referrals",
            exec(
                &mut tx,
                "UPDATE referrals SET referrer_id = NULL WHERE referrer_id = $1",
                account_id,
            )
            .await?,
        ));
        anonymised.push((
            "webhook_deliveries",
            redact_account_webhooks(&mut tx, account_id).await?,
        ));
        // References without ON DELETE (staff columns): cleared so that the
        // account row can go.
        for sql in [
            "UPDATE ingest_tokens SET created_by = NULL WHERE created_by = $1",
            "UPDATE alerts SET acknowledged_by = NULL WHERE acknowledged_by = $1",
            "UPDATE alerts SET resolved_by = NULL WHERE resolved_by = $1",
        ] {
            exec(&mut tx, sql, account_id).await?;
        }

        // Ideas the account wrote are removed with their tags, votes and
        // comments; an idea closed as a duplicate of one of them is declined
        // instead (its votes were refunded when it was closed).
        exec(
            &mut tx,
            &format!(
                "UPDATE ideas SET status = 'declined', duplicate_of = NULL \
                 WHERE author_id <> $1 AND duplicate_of IN {IDEAS}"
            ),
            account_id,
        )
        .await?;
        exec(
            &mut tx,
            &format!(
                "UPDATE idea_status_changes SET duplicate_of = NULL WHERE duplicate_of IN {IDEAS}"
            ),
            account_id,
        )
        .await?;
        let mut erased = Vec::new();
        let removed: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, title FROM ideas WHERE author_id = $1")
                .bind(account_id)
                .fetch_all(&mut *tx)
                .await?;
        let (notes, hooks) = erase_idea_mentions(&mut tx, &removed).await?;
        erased.push(("notifications (others', about the removed ideas)", notes));
        erased.push(("webhook_deliveries (about the removed ideas)", hooks));
        erased.push((
            "ideas",
            exec(
                &mut tx,
                "DELETE FROM ideas WHERE author_id = $1",
                account_id,
            )
            .await?,
        ));
        // Comments and votes on other people's ideas: erased, and the ideas'
        // counts recounted the way a withdrawn vote or comment is.
        let touched: Vec<i64> = sqlx::query_scalar(
            "SELECT idea_id FROM idea_comments WHERE author_id = $1 \
             UNION SELECT idea_id FROM idea_votes WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_all(&mut *tx)
        .await?;
        erased.push((
            "idea_comments",
            exec(
                &mut tx,
                "DELETE FROM idea_comments WHERE author_id = $1",
                account_id,
            )
            .await?,
        ));
        erased.push((
            "idea_votes",
            exec(
                &mut tx,
                "DELETE FROM idea_votes WHERE account_id = $1",
                account_id,
            )
            .await?,
        ));
        for idea in touched {
            sqlx::query(
                "UPDATE ideas SET \
                   vote_count = CASE WHEN status IN ('launched', 'declined', 'duplicate') \
                     THEN vote_count ELSE (SELECT COUNT(*) FROM idea_votes WHERE idea_id = $1) END, \
                   comment_count = (SELECT COUNT(*) FROM idea_comments \
                     WHERE idea_id = $1 AND hidden = 0) \
                 WHERE id = $1",
            )
            .bind(idea)
            .execute(&mut *tx)
            .await?;
        }

        // The customer's support conversations, with every message, event,
        // CSAT answer and share.
        let conv = |t: &str| format!("DELETE FROM {t} WHERE conversation_id IN {CONVERSATIONS}");
        // Attachments' rows first (their files are removed by the server
        // after the commit: `AttachmentStore::account_attachment_keys`).
        for t in [
            "support_attachments",
            "support_messages",
            "support_events",
            "support_csat",
            "support_shares",
        ] {
            erased.push((t, exec(&mut tx, &conv(t), account_id).await?));
        }
        let by_profile = |t: &str| format!("DELETE FROM {t} WHERE profile_id IN {PROFILES}");
        let statements: Vec<(&str, String)> = vec![
            (
                "support_conversations",
                "DELETE FROM support_conversations WHERE account_id = $1".into(),
            ),
            (
                "perk_awards",
                "DELETE FROM perk_awards WHERE account_id = $1".into(),
            ),
            (
                "perk_events",
                "DELETE FROM perk_events WHERE account_id = $1".into(),
            ),
            (
                "stream_errors",
                "DELETE FROM stream_errors WHERE account_id = $1".into(),
            ),
            (
                "play_sessions",
                "DELETE FROM play_sessions WHERE account_id = $1".into(),
            ),
            ("devices", by_profile("devices")),
            ("playback_state", by_profile("playback_state")),
            ("watch_history", by_profile("watch_history")),
            ("feedback", by_profile("feedback")),
            ("home_hidden", by_profile("home_hidden")),
            ("rec_impressions", by_profile("rec_impressions")),
            ("rec_clicks", by_profile("rec_clicks")),
            (
                "notifications",
                "DELETE FROM notifications WHERE account_id = $1".into(),
            ),
            (
                "notification_prefs",
                "DELETE FROM notification_prefs WHERE account_id = $1".into(),
            ),
            (
                "proposal_reactions",
                "DELETE FROM proposal_reactions WHERE account_id = $1".into(),
            ),
            (
                "proposal_comments",
                "DELETE FROM proposal_comments WHERE author_id = $1".into(),
            ),
            (
                "notification_mail",
                "DELETE FROM notification_mail WHERE account_id = $1".into(),
            ),
            (
                "notification_unsubscribe",
                "DELETE FROM notification_unsubscribe WHERE account_id = $1".into(),
            ),
            (
                "handle_links",
                "DELETE FROM handle_links WHERE account_id = $1".into(),
            ),
            (
                "share_settings",
                "DELETE FROM share_settings WHERE account_id = $1".into(),
            ),
            (
                "referrals",
                "DELETE FROM referrals WHERE referred_id = $1".into(),
            ),
            (
                "support_agents",
                "DELETE FROM support_agents WHERE account_id = $1".into(),
            ),
            (
                "account_tokens",
                "DELETE FROM account_tokens WHERE account_id = $1".into(),
            ),
            (
                "sessions",
                "DELETE FROM sessions WHERE account_id = $1".into(),
            ),
            (
                "profiles",
                "DELETE FROM profiles WHERE account_id = $1".into(),
            ),
            ("accounts", "DELETE FROM accounts WHERE id = $1".into()),
        ];
        for (table, sql) in statements {
            erased.push((table, exec(&mut tx, &sql, account_id).await?));
        }
        purge_text_indexes(&mut tx).await?;
        tx.commit().await?;
        let nonzero = |rows: Vec<(&str, u64)>| {
            rows.into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(t, n)| (t.to_string(), n))
                .collect()
        };
        Ok(DeletionReport {
            erased: nonzero(erased),
            anonymised: nonzero(anonymised),
            shares_revoked,
        })
    }
}

/// The signed `account.*` webhooks about the account carry its address: it
/// becomes `null` in every stored delivery (the billing system keeps the
/// event, by account id, without the address).
async fn redact_account_webhooks(conn: &mut Conn, account_id: i64) -> Result<u64> {
    let found: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, payload FROM webhook_deliveries WHERE event LIKE 'account.%'")
            .fetch_all(&mut *conn)
            .await?;
    let mut n = 0;
    for (id, payload) in found {
        let Ok(mut body) = serde_json::from_str::<Value>(&payload) else {
            continue;
        };
        if body.get("account_id").and_then(Value::as_i64) != Some(account_id) {
            continue;
        }
        if let Some(obj) = body.as_object_mut() {
            obj.insert("email".into(), Value::Null);
        }
        sqlx::query("UPDATE webhook_deliveries SET payload = $1 WHERE id = $2")
            .bind(body.to_string())
            .bind(id)
            .execute(&mut *conn)
            .await?;
        n += 1;
    }
    Ok(n)
}

/// Other accounts' notifications and stored idea webhooks that quote the
/// title of an idea being removed (status changes, merges): erased with it.
async fn erase_idea_mentions(conn: &mut Conn, removed: &[(i64, String)]) -> Result<(u64, u64)> {
    if removed.is_empty() {
        return Ok((0, 0));
    }
    let mentions = |text: &str| {
        removed.iter().any(|(id, title)| {
            text.contains(title.as_str())
                || text == format!("/ideas/{id}")
                || text.starts_with(&format!("/ideas/{id}#"))
        })
    };
    let mut n_notes = 0;
    // The bell's rows and those still waiting to be e-mailed.
    for table in ["notifications", "notification_mail"] {
        let notes: Vec<(i64, String, String)> = sqlx::query_as(&format!(
            "SELECT id, message, link FROM {table} WHERE link LIKE '/ideas/%'"
        ))
        .fetch_all(&mut *conn)
        .await?;
        for (id, message, link) in notes {
            if mentions(&message) || mentions(&link) {
                sqlx::query(&format!("DELETE FROM {table} WHERE id = $1"))
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                n_notes += 1;
            }
        }
    }
    let hooks: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, payload FROM webhook_deliveries WHERE event LIKE 'idea.%'")
            .fetch_all(&mut *conn)
            .await?;
    let mut n_hooks = 0;
    for (id, payload) in hooks {
        let quoted = removed
            .iter()
            .any(|(_, title)| payload.contains(&Value::from(title.as_str()).to_string()));
        if quoted {
            sqlx::query("DELETE FROM webhook_deliveries WHERE id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            n_hooks += 1;
        }
    }
    Ok((n_notes, n_hooks))
}
