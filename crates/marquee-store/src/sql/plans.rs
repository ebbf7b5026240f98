//! [`PlanStore`], written once for both backends (see `sqlite/mod.rs` for
//! the dialect seam this file is compiled against).

use super::outbox::enqueue_in;
use super::{Backend, Conn, DbRow, FOR_UPDATE};
use crate::changes::Bump;
use crate::outbox::OutboxEvent;
use crate::plans::{
    AccountEvent, AccountEventQuery, EventCount, PlanPrice, PlanStore, SubscriptionWrite,
};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::perks::DAY_MS;
use marquee_domain::plans::{price_at, AccountStatus, AccountWebhook, Price, PriceWebhook, PLANS};
use marquee_domain::{Millis, Plan};
use sqlx::{QueryBuilder, Row};
use std::collections::HashMap;
use std::str::FromStr;

/// A stored name back to its domain type (a stored value the domain refuses
/// is a decode error). Also used by `proposals.rs`.
pub(super) fn decode<T: FromStr<Err = marquee_domain::DomainError>>(s: &str) -> Result<T> {
    T::from_str(s).map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))
}

fn price_from_row(r: &DbRow) -> Result<PlanPrice> {
    Ok(PlanPrice {
        id: r.try_get("id")?,
        plan: decode(&r.try_get::<String, _>("plan")?)?,
        price: Price {
            amount_cents: r.try_get("amount_cents")?,
            currency: r.try_get("currency")?,
        },
        effective_from: r.try_get("effective_from")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
    })
}

async fn prices_in(conn: &mut Conn) -> Result<Vec<PlanPrice>> {
    sqlx::query(
        "SELECT id, plan, amount_cents, currency, effective_from, created_at, created_by \
         FROM plan_prices ORDER BY effective_from, id",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(price_from_row)
    .collect()
}

/// Each plan's price in effect at `now`, read on the caller's connection
/// (inside its transaction), for the accounts it creates.
pub(super) async fn current_prices(conn: &mut Conn, now: Millis) -> Result<HashMap<Plan, Price>> {
    let all = prices_in(conn).await?;
    let mut out = HashMap::new();
    for plan in PLANS {
        let history: Vec<(Millis, Price)> = all
            .iter()
            .filter(|p| p.plan == plan)
            .map(|p| (p.effective_from, p.price.clone()))
            .collect();
        let price = price_at(&history, now)
            .cloned()
            .ok_or(StoreError::NotFound { what: "plan price" })?;
        out.insert(plan, price);
    }
    Ok(out)
}

/// Records one subscription event on the caller's connection.
pub(super) async fn record_event_in(
    conn: &mut Conn,
    w: &SubscriptionWrite,
    now: Millis,
) -> Result<i64> {
    let from_plan = (w.from.0 != w.to.0).then(|| w.from.0.as_str());
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO account_events(account_id, kind, plan, from_plan, amount_cents, currency, \
           reason, detail, actor_id, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(w.account_id)
    .bind(w.kind.as_str())
    .bind(w.to.0.as_str())
    .bind(from_plan)
    .bind(w.price.amount_cents)
    .bind(&w.price.currency)
    .bind(w.reason.map(|r| r.as_str()))
    .bind(w.detail.as_deref())
    .bind(w.actor_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let email: String = sqlx::query_scalar("SELECT email FROM accounts WHERE id = $1")
        .bind(w.account_id)
        .fetch_one(&mut *conn)
        .await?;
    let body = AccountWebhook {
        event_id: id,
        event: w.kind.webhook_event(),
        account_id: w.account_id,
        email,
        plan: w.to.0,
        from_plan: (w.from.0 != w.to.0).then_some(w.from.0),
        status: w.to.1,
        price: w.price.clone(),
        reason: w.reason,
        detail: w.detail.clone(),
        actor_id: w.actor_id,
        at: now,
    };
    let ev = OutboxEvent {
        event: body.event.clone(),
        payload: serde_json::to_string(&body)
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?,
    };
    enqueue_in(conn, &ev, now).await?;
    Ok(id)
}

fn event_from_row(r: &DbRow) -> Result<AccountEvent> {
    let from_plan: Option<String> = r.try_get("from_plan")?;
    let reason: Option<String> = r.try_get("reason")?;
    Ok(AccountEvent {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        email: r.try_get("email")?,
        kind: decode(&r.try_get::<String, _>("kind")?)?,
        plan: decode(&r.try_get::<String, _>("plan")?)?,
        from_plan: from_plan.as_deref().map(decode).transpose()?,
        price: Price {
            amount_cents: r.try_get("amount_cents")?,
            currency: r.try_get("currency")?,
        },
        reason: reason.as_deref().map(decode).transpose()?,
        detail: r.try_get("detail")?,
        actor_id: r.try_get("actor_id")?,
        at: r.try_get("at")?,
    })
}

/// Adds a plan price on the caller's transaction and queues its
/// `plan.price_changed` webhook (also a shipped price proposal's price).
pub(super) async fn insert_plan_price(
    conn: &mut Conn,
    plan: Plan,
    price: &Price,
    effective_from: Millis,
    created_by: Option<i64>,
    now: Millis,
) -> Result<PlanPrice> {
    let row = sqlx::query(
            "INSERT INTO plan_prices(plan, amount_cents, currency, effective_from, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id, plan, amount_cents, currency, effective_from, created_at, created_by",
        )
        .bind(plan.as_str())
        .bind(price.amount_cents)
        .bind(&price.currency)
        .bind(effective_from)
        .bind(now)
        .bind(created_by)
        .fetch_one(&mut *conn)
        .await?;
    let out = price_from_row(&row)?;
    let body = PriceWebhook {
        event: "plan.price_changed".to_string(),
        plan,
        price: price.clone(),
        effective_from,
        actor_id: created_by,
    };
    let ev = OutboxEvent {
        event: body.event.clone(),
        payload: serde_json::to_string(&body)
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?,
    };
    enqueue_in(&mut *conn, &ev, now).await?;
    Ok(out)
}

#[async_trait]
impl PlanStore for Backend {
    async fn plan_prices(&self) -> Result<Vec<PlanPrice>> {
        let mut conn = self.read().await?;
        prices_in(&mut conn).await
    }

    async fn add_plan_price(
        &self,
        plan: Plan,
        price: &Price,
        effective_from: Millis,
        created_by: Option<i64>,
        now: Millis,
    ) -> Result<PlanPrice> {
        let mut tx = self.begin_write().await?;
        let out = insert_plan_price(&mut tx, plan, price, effective_from, created_by, now).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn apply_subscription(&self, w: &SubscriptionWrite, now: Millis) -> Result<i64> {
        // The session cache holds accounts: the new plan and status must be
        // seen by the next request (the stream cap moves at once).
        let _changed = self.changes.on_return(Bump::Auth);
        let mut tx = self.begin_write().await?;
        let current = sqlx::query(&format!(
            "SELECT plan, status FROM accounts WHERE id = $1{FOR_UPDATE}"
        ))
        .bind(w.account_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound { what: "account" })?;
        let plan: Plan = decode(&current.try_get::<String, _>("plan")?)?;
        let status: AccountStatus = decode(&current.try_get::<String, _>("status")?)?;
        if (plan, status) != w.from {
            return Err(StoreError::Conflict { field: "status" });
        }
        sqlx::query(
            "UPDATE accounts SET plan = $1, status = $2, price_cents = $3, currency = $4 WHERE id = $5",
        )
        .bind(w.to.0.as_str())
        .bind(w.to.1.as_str())
        .bind(w.price.amount_cents)
        .bind(&w.price.currency)
        .bind(w.account_id)
        .execute(&mut *tx)
        .await?;
        let id = record_event_in(&mut tx, w, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn account_events(&self, q: &AccountEventQuery) -> Result<Vec<AccountEvent>> {
        let mut qb: QueryBuilder<super::Db> = QueryBuilder::new(
            "SELECT e.id, e.account_id, a.email, e.kind, e.plan, e.from_plan, e.amount_cents, \
               e.currency, e.reason, e.detail, e.actor_id, e.at \
             FROM account_events e LEFT JOIN accounts a ON a.id = e.account_id WHERE 1 = 1",
        );
        if let Some(a) = q.account_id {
            qb.push(" AND e.account_id = ").push_bind(a);
        }
        if let Some(k) = q.kind {
            qb.push(" AND e.kind = ").push_bind(k.as_str());
        }
        if let Some(s) = q.since {
            qb.push(" AND e.at >= ").push_bind(s);
        }
        if let Some(u) = q.until {
            qb.push(" AND e.at < ").push_bind(u);
        }
        if let Some(b) = q.before_id {
            qb.push(" AND e.id < ").push_bind(b);
        }
        qb.push(" ORDER BY e.id DESC LIMIT ")
            .push_bind(i64::from(q.limit));
        let mut conn = self.read().await?;
        qb.build()
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(event_from_row)
            .collect()
    }

    async fn account_event_counts(&self, since: Millis) -> Result<Vec<EventCount>> {
        let mut conn = self.read().await?;
        sqlx::query(
            "SELECT (at / $1) * $1 AS day, kind, reason, COUNT(*) AS n FROM account_events \
             WHERE at >= $2 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )
        .bind(DAY_MS)
        .bind(since)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            let reason: Option<String> = r.try_get("reason")?;
            Ok(EventCount {
                day: r.try_get("day")?,
                kind: decode(&r.try_get::<String, _>("kind")?)?,
                reason: reason.as_deref().map(decode).transpose()?,
                count: r.try_get("n")?,
            })
        })
        .collect()
    }
}
