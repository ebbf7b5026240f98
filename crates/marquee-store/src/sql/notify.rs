//! [`NotifyStore`], written once for both backends (see `sqlite/mod.rs` for
//! the dialect seam this file is compiled against), and `deliver`, the one
//! way producers write notifications.

use super::{Backend, Conn, FOR_UPDATE_SKIP_LOCKED};
use crate::notify::{NotificationPref, NotifyStore, PendingMail};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::notify::{Channel, Channels, NotifyKind};
use marquee_domain::Millis;
use sqlx::{QueryBuilder, Row};

/// One notification for an audience.
pub(super) struct Note<'a> {
    /// The row kind (`idea.status_changed`, `decision`, `perk`, …), which
    /// `NotifyKind::for_notification` must know.
    pub kind: &'a str,
    /// Text.
    pub message: &'a str,
    /// Site-relative link.
    pub link: &'a str,
}

/// Writes `note` for each account of `audience` (a `SELECT` of one column
/// `a` using `$1…$n` for `binds`) on the caller's transaction: a bell row
/// for those who want it in the app, an outbox row for those who want it
/// by e-mail. Whether an account wants a channel is
/// `marquee_domain::notify::wants` over its stored setting: the SQL takes
/// the stored column, or the domain's default bound as a parameter, so the
/// defaults live in the domain alone (`switchable` channels only; a forced
/// channel is bound as a constant). Returns the bell rows written.
pub(super) async fn deliver(
    conn: &mut Conn,
    audience: &str,
    binds: &[i64],
    note: &Note<'_>,
    now: Millis,
) -> Result<u64> {
    let kind = NotifyKind::for_notification(note.kind).ok_or_else(|| StoreError::Invalid {
        field: "kind",
        message: format!("no notification kind for {}", note.kind),
    })?;
    let mut in_app = 0;
    for (table, channel, extra_cols, extra_vals) in [
        ("notifications", Channel::InApp, "", ""),
        (
            "notification_mail",
            Channel::Email,
            ", next_attempt_at",
            ", $t",
        ),
    ] {
        let n = binds.len();
        let (pk, pd, k, m, l, t) = (n + 1, n + 2, n + 3, n + 4, n + 5, n + 6);
        let column = match channel {
            Channel::InApp => "in_app",
            Channel::Email => "email",
        };
        // A forced channel ignores stored rows: wants() = the default.
        let wanted = if kind.switchable(channel) {
            format!(
                "COALESCE((SELECT p.{column} FROM notification_prefs p \
                 WHERE p.account_id = aud.a AND p.kind = ${pk}), ${pd}) = 1"
            )
        } else {
            format!("${pd} = 1 AND ${pk} = ${pk}")
        };
        let sql = format!(
            "INSERT INTO {table}(account_id, kind, message, link, created_at{extra_cols}) \
             SELECT DISTINCT aud.a, ${k}, ${m}, ${l}, ${t}{} FROM ({audience}) aud \
             WHERE aud.a IS NOT NULL AND {wanted}",
            extra_vals.replace("$t", &format!("${t}")),
        );
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = q.bind(*b);
        }
        let done = q
            .bind(kind.as_str())
            .bind(i64::from(kind.defaults().get(channel)))
            .bind(note.kind)
            .bind(note.message)
            .bind(note.link)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if channel == Channel::InApp {
            in_app = done;
        }
    }
    Ok(in_app)
}

#[async_trait]
impl NotifyStore for Backend {
    async fn notification_prefs(&self, account_id: i64) -> Result<Vec<NotificationPref>> {
        let mut conn = self.read().await?;
        let rows = sqlx::query(
            "SELECT kind, in_app, email, updated_at FROM notification_prefs \
             WHERE account_id = $1 ORDER BY kind",
        )
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NotificationPref {
                    kind: r.try_get("kind")?,
                    channels: Channels {
                        in_app: r.try_get::<i64, _>("in_app")? != 0,
                        email: r.try_get::<i64, _>("email")? != 0,
                    },
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    async fn set_notification_prefs(
        &self,
        account_id: i64,
        settings: &[(String, Option<Channels>)],
        now: Millis,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (kind, setting) in settings {
            match setting {
                None => {
                    sqlx::query(
                        "DELETE FROM notification_prefs WHERE account_id = $1 AND kind = $2",
                    )
                    .bind(account_id)
                    .bind(kind)
                    .execute(&mut *tx)
                    .await?;
                }
                Some(c) => {
                    sqlx::query(
                        "INSERT INTO notification_prefs(account_id, kind, in_app, email, updated_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, kind) DO UPDATE \
                         SET in_app = excluded.in_app, email = excluded.email, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(account_id)
                    .bind(kind)
                    .bind(i64::from(c.in_app))
                    .bind(i64::from(c.email))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn claim_notification_mail(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<PendingMail>> {
        let mut tx = self.begin_write().await?;
        let ids: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT id FROM notification_mail WHERE next_attempt_at <= $1 \
             ORDER BY id LIMIT $2{FOR_UPDATE_SKIP_LOCKED}"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let mut qb: QueryBuilder<'_, super::Db> = QueryBuilder::new(
            "UPDATE notification_mail SET attempts = attempts + 1, next_attempt_at = ",
        );
        qb.push_bind(now.saturating_add(lease_ms));
        qb.push(" WHERE id IN (");
        let mut sep = qb.separated(", ");
        for id in &ids {
            sep.push_bind(*id);
        }
        qb.push(")");
        qb.build().execute(&mut *tx).await?;
        let mut qb: QueryBuilder<'_, super::Db> = QueryBuilder::new(
            "SELECT m.id, m.account_id, a.email, a.email_verified, a.disabled, m.kind, \
             m.message, m.link, m.created_at, m.attempts FROM notification_mail m \
             JOIN accounts a ON a.id = m.account_id WHERE m.id IN (",
        );
        let mut sep = qb.separated(", ");
        for id in &ids {
            sep.push_bind(*id);
        }
        qb.push(") ORDER BY m.account_id, m.id");
        let rows = qb.build().fetch_all(&mut *tx).await?;
        let out = rows
            .iter()
            .map(|r| {
                Ok(PendingMail {
                    id: r.try_get("id")?,
                    account_id: r.try_get("account_id")?,
                    email: r.try_get("email")?,
                    email_verified: r.try_get::<i64, _>("email_verified")? != 0,
                    disabled: r.try_get::<i64, _>("disabled")? != 0,
                    kind: r.try_get("kind")?,
                    message: r.try_get("message")?,
                    link: r.try_get("link")?,
                    created_at: r.try_get("created_at")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(out)
    }

    async fn add_unsubscribe_tokens(
        &self,
        tokens: &[(String, i64, String)],
        now: Millis,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (hash, account_id, kind) in tokens {
            sqlx::query(
                "INSERT INTO notification_unsubscribe(token_hash, account_id, kind, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(hash)
            .bind(*account_id)
            .bind(kind)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn finish_notification_mail(&self, ids: &[i64]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let mut qb: QueryBuilder<'_, super::Db> =
            QueryBuilder::new("DELETE FROM notification_mail WHERE id IN (");
        let mut sep = qb.separated(", ");
        for id in ids {
            sep.push_bind(*id);
        }
        qb.push(")");
        let n = qb.build().execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    async fn unsubscribe_token(&self, token_hash: &str) -> Result<Option<(i64, String)>> {
        let mut conn = self.read().await?;
        let row = sqlx::query(
            "SELECT account_id, kind FROM notification_unsubscribe WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|r| Ok((r.try_get("account_id")?, r.try_get("kind")?)))
            .transpose()
    }
}
