//! [`DecisionStore`], written once for both backends (see `sqlite/mod.rs`
//! for the dialect seam this file is compiled against).

use super::notify::{deliver, Note};
use super::{text, Backend, Conn, DbRow, FOR_SHARE};
use crate::decisions::{Decision, DecisionStore, Evidence, EvidenceKind};
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::Millis;
use sqlx::Row;

/// Everyone behind a decision's evidence: idea authors, voters and
/// commenters; linked authors of its posts, and of the posts in its alerts'
/// windows (and topic); the customers of its support conversations.
const AUDIENCE: &str = "
  SELECT i.author_id AS a FROM decision_evidence d JOIN ideas i ON i.id = d.ref_id
    WHERE d.decision_id = $1 AND d.kind = 'idea'
  UNION SELECT v.account_id FROM decision_evidence d JOIN idea_votes v ON v.idea_id = d.ref_id
    WHERE d.decision_id = $1 AND d.kind = 'idea'
  UNION SELECT c.author_id FROM decision_evidence d JOIN idea_comments c ON c.idea_id = d.ref_id
    WHERE d.decision_id = $1 AND d.kind = 'idea' AND c.hidden = 0
  UNION SELECT p.account_id FROM decision_evidence d JOIN posts p ON p.id = d.ref_id
    WHERE d.decision_id = $1 AND d.kind = 'post' AND p.account_id IS NOT NULL
  UNION SELECT p.account_id FROM decision_evidence d JOIN alerts al ON al.id = d.ref_id
    JOIN posts p ON p.created_at >= al.window_start AND p.created_at < al.window_end
      AND (al.series = 'all' OR lower(p.topics) LIKE '%|' || lower(al.series) || '|%')
    WHERE d.decision_id = $1 AND d.kind = 'alert' AND p.account_id IS NOT NULL
  UNION SELECT c.account_id FROM decision_evidence d JOIN support_conversations c ON c.id = d.ref_id
    WHERE d.decision_id = $1 AND d.kind = 'conversation'";

async fn evidence_of(conn: &mut Conn, id: i64) -> Result<Vec<Evidence>> {
    let rows = sqlx::query(
        "SELECT d.kind, d.ref_id, CASE d.kind \
           WHEN 'idea' THEN (SELECT title FROM ideas WHERE id = d.ref_id) \
           WHEN 'post' THEN (SELECT substr(text, 1, 100) FROM posts WHERE id = d.ref_id) \
           WHEN 'alert' THEN (SELECT series || ' ' || replace(kind, '_', ' ') || ' alert, ' || \"window\" \
             FROM alerts WHERE id = d.ref_id) \
           WHEN 'conversation' THEN (SELECT a.email FROM support_conversations c \
             JOIN accounts a ON a.id = c.account_id WHERE c.id = d.ref_id) \
         END AS label FROM decision_evidence d WHERE d.decision_id = $1 ORDER BY d.kind, d.ref_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .filter_map(|r| {
            let kind: String = match r.try_get("kind") {
                Ok(k) => k,
                Err(e) => return Some(Err(e.into())),
            };
            let kind = match kind.as_str() {
                "alert" => EvidenceKind::Alert,
                "post" => EvidenceKind::Post,
                "idea" => EvidenceKind::Idea,
                "conversation" => EvidenceKind::Conversation,
                // Kinds added by later features are shown by them.
                _ => return None,
            };
            Some((|| {
                Ok(Evidence {
                    kind,
                    id: r.try_get("ref_id")?,
                    label: r.try_get::<Option<String>, _>("label")?.unwrap_or_default(),
                })
            })())
        })
        .collect()
}

async fn decision_from_row(conn: &mut Conn, r: &DbRow) -> Result<Decision> {
    let id: i64 = r.try_get("id")?;
    Ok(Decision {
        id,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        evidence: evidence_of(conn, id).await?,
        notified: r.try_get("notified")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Everyone who reacted to or commented on proposal `$3` (#25).
const PARTICIPANTS: &str = "
  UNION SELECT r.account_id FROM proposal_reactions r WHERE r.proposal_id = $3
  UNION SELECT c.author_id FROM proposal_comments c WHERE c.proposal_id = $3";

/// Records a decision with its evidence on the caller's transaction and
/// notifies the customers behind the evidence (and, for a proposal's
/// decision, everyone who took part in its consultation). `Invalid` (field
/// `evidence`) when a piece does not exist. Returns its id.
pub(super) async fn record_decision(
    conn: &mut Conn,
    title: &str,
    body: &str,
    evidence: &[Evidence],
    actor_id: i64,
    proposal: Option<i64>,
    now: Millis,
) -> Result<i64> {
    for e in evidence {
        let table = match e.kind {
            EvidenceKind::Alert => "alerts",
            EvidenceKind::Post => "posts",
            EvidenceKind::Idea => "ideas",
            EvidenceKind::Conversation => "support_conversations",
        };
        // FOR SHARE: the evidence cannot vanish before the decision commits.
        let found: Option<i64> =
            sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE id = $1{FOR_SHARE}"))
                .bind(e.id)
                .fetch_optional(&mut *conn)
                .await?;
        if found.is_none() {
            return Err(StoreError::Invalid {
                field: "evidence",
                message: format!("there is no {} {}", e.kind.as_str(), e.id),
            });
        }
    }
    let id: i64 = sqlx::query_scalar(
            "INSERT INTO decisions(title, body, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(text(title))
        .bind(text(body))
        .bind(actor_id)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
    for e in evidence {
        sqlx::query(
            "INSERT INTO decision_evidence(decision_id, kind, ref_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(e.kind.as_str())
        .bind(e.id)
        .execute(&mut *conn)
        .await?;
    }
    let message = format!("We heard you: {}", text(title));
    let link = match proposal {
        Some(p) => format!("/changes/{p}"),
        None => format!("/changelog#decision-{id}"),
    };
    let notified = deliver(
        &mut *conn,
        &format!(
            "SELECT x.a FROM ({AUDIENCE}{}) x WHERE x.a <> $2",
            if proposal.is_some() { PARTICIPANTS } else { "" }
        ),
        &match proposal {
            Some(p) => vec![id, actor_id, p],
            None => vec![id, actor_id],
        },
        &Note {
            kind: "decision",
            message: &message,
            link: &link,
        },
        now,
    )
    .await?;
    let notified = i64::try_from(notified).unwrap_or(i64::MAX);
    sqlx::query("UPDATE decisions SET notified = $1 WHERE id = $2")
        .bind(notified)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

#[async_trait]
impl DecisionStore for Backend {
    async fn create_decision(
        &self,
        title: &str,
        body: &str,
        evidence: &[Evidence],
        actor_id: i64,
        now: Millis,
    ) -> Result<Decision> {
        let mut tx = self.begin_write().await?;
        let id = record_decision(&mut tx, title, body, evidence, actor_id, None, now).await?;
        let row = sqlx::query(
            "SELECT id, title, body, notified, created_at FROM decisions WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let d = decision_from_row(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(d)
    }

    async fn decisions(&self, limit: u32, offset: u32) -> Result<Vec<Decision>> {
        let mut conn = self.read().await?;
        let rows = sqlx::query(
            "SELECT id, title, body, notified, created_at FROM decisions \
             ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2",
        )
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(decision_from_row(&mut conn, r).await?);
        }
        Ok(out)
    }

    async fn decision(&self, id: i64) -> Result<Option<Decision>> {
        let mut conn = self.read().await?;
        let row = sqlx::query(
            "SELECT id, title, body, notified, created_at FROM decisions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some(r) => Ok(Some(decision_from_row(&mut conn, &r).await?)),
            None => Ok(None),
        }
    }
}
