//! [`AttachmentStore`], written once for both backends (see `sqlite/mod.rs`
//! for the dialect seam this file is compiled against). The message an
//! attachment comes with is written by the support chat's own helpers
//! (`super::support`), so that it counts, reopens and assigns exactly like a
//! message without one.

use super::support::{
    agent_message_in, conv_in, customer_message, run_assigner, set_status_in, ASSIGN_LOCK,
};
use super::{lock, text, Backend};
use crate::attachments::{Attachment, AttachmentSender, AttachmentStore, NewAttachment};
use crate::support::SupportWrite;
use crate::{Result, StoreError};
use async_trait::async_trait;
use marquee_domain::attachments::check_count;
use marquee_domain::support::ConvStatus;
use marquee_domain::{DomainError, Millis};

const SELECT: &str = "SELECT a.id, a.conversation_id, a.message_id, a.uploader_id, a.storage_key, \
     a.file_name, a.mime, a.size_bytes, a.sha256, a.width, a.height, a.created_at, \
     m.internal <> 0 AS internal \
     FROM support_attachments a JOIN support_messages m ON m.id = a.message_id";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    conversation_id: i64,
    message_id: i64,
    uploader_id: Option<i64>,
    storage_key: String,
    file_name: String,
    mime: String,
    size_bytes: i64,
    sha256: String,
    width: Option<i64>,
    height: Option<i64>,
    created_at: Millis,
    internal: bool,
}

impl From<Row> for Attachment {
    fn from(r: Row) -> Self {
        Attachment {
            id: r.id,
            conversation_id: r.conversation_id,
            message_id: r.message_id,
            uploader_id: r.uploader_id,
            storage_key: r.storage_key,
            file_name: r.file_name,
            mime: r.mime,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            width: r.width,
            height: r.height,
            created_at: r.created_at,
            internal: r.internal,
        }
    }
}

#[async_trait]
impl AttachmentStore for Backend {
    async fn add_attachment_message(
        &self,
        conversation_id: i64,
        sender: AttachmentSender,
        body: &str,
        file: &NewAttachment,
        max_per_conversation: u32,
        default_capacity: u32,
        now: Millis,
    ) -> Result<(SupportWrite, Attachment)> {
        let mut tx = self.begin_write().await?;
        lock(&mut tx, ASSIGN_LOCK).await?;
        let c = conv_in(&mut tx, conversation_id).await?;
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM support_attachments WHERE conversation_id = $1",
        )
        .bind(c.id)
        .fetch_one(&mut *tx)
        .await?;
        check_count(u64::try_from(held).unwrap_or(0), max_per_conversation).map_err(
            |e| match e {
                DomainError::Invalid { field, message } | DomainError::Limit { field, message } => {
                    StoreError::Limit { field, message }
                }
            },
        )?;
        let (message, assigned, uploader) = match sender {
            AttachmentSender::Customer { account_id } => {
                if c.account_id != Some(account_id) {
                    return Err(StoreError::NotFound {
                        what: "conversation",
                    });
                }
                let m = customer_message(&mut tx, c.id, Some(account_id), body, now).await?;
                if c.status != ConvStatus::Open {
                    set_status_in(&mut tx, &c, Some(account_id), ConvStatus::Open, None, now)
                        .await?;
                }
                let assigned = run_assigner(&mut tx, default_capacity, now).await?;
                (m, assigned, account_id)
            }
            AttachmentSender::Agent { agent_id, internal } => {
                let m = agent_message_in(&mut tx, &c, agent_id, body, internal, None, now).await?;
                (m, Vec::new(), agent_id)
            }
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO support_attachments(conversation_id, message_id, uploader_id, storage_key, \
             file_name, mime, size_bytes, sha256, width, height, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(c.id)
        .bind(message.id)
        .bind(uploader)
        .bind(&file.storage_key)
        .bind(text(&file.file_name))
        .bind(&file.mime)
        .bind(file.size_bytes)
        .bind(&file.sha256)
        .bind(file.width)
        .bind(file.height)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let row: Row = sqlx::query_as(&format!("{SELECT} WHERE a.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let conversation = conv_in(&mut tx, c.id).await?;
        tx.commit().await?;
        Ok((
            SupportWrite {
                conversation,
                message: Some(message),
                assigned,
            },
            row.into(),
        ))
    }

    async fn attachment(&self, id: i64) -> Result<Option<Attachment>> {
        let mut conn = self.read().await?;
        Ok(
            sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE a.id = $1"))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .map(Attachment::from),
        )
    }

    async fn conversation_attachments(
        &self,
        conversation_id: i64,
        include_internal: bool,
    ) -> Result<Vec<Attachment>> {
        let mut conn = self.read().await?;
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "{SELECT} WHERE a.conversation_id = $1 AND ($2 OR m.internal = 0) ORDER BY a.message_id, a.id"
        ))
        .bind(conversation_id)
        .bind(include_internal)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.into_iter().map(Attachment::from).collect())
    }

    async fn account_attachment_keys(&self, account_id: i64) -> Result<Vec<String>> {
        let mut conn = self.read().await?;
        Ok(sqlx::query_scalar(
            "SELECT a.storage_key FROM support_attachments a \
             JOIN support_conversations c ON c.id = a.conversation_id \
             WHERE c.account_id = $1 ORDER BY a.id",
        )
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?)
    }
}
