//! Support attachments: the metadata of images and PDFs sent with a chat
//! message (the bytes are files under the data directory, written and
//! removed by the server; the store never touches them).

use crate::support::SupportWrite;
use crate::Result;
use async_trait::async_trait;
use marquee_domain::Millis;
use serde::Serialize;

/// A file about to be attached (already checked, sniffed and written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    /// The name of the file under `attachments/` (random, never the user's).
    pub storage_key: String,
    /// The sanitised original name (display and Content-Disposition only).
    pub file_name: String,
    /// The sniffed media type.
    pub mime: String,
    /// Bytes.
    pub size_bytes: i64,
    /// Hex sha256 of the bytes.
    pub sha256: String,
    /// Pixels, for images.
    pub width: Option<i64>,
    /// Pixels, for images.
    pub height: Option<i64>,
}

/// Who sends the message an attachment comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentSender {
    /// The customer who owns the conversation.
    Customer {
        /// Their account.
        account_id: i64,
    },
    /// A staff member: a reply, or an internal note.
    Agent {
        /// Their account.
        agent_id: i64,
        /// An internal note (never shown to the customer).
        internal: bool,
    },
}

/// A stored attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    /// Id.
    pub id: i64,
    /// Conversation.
    pub conversation_id: i64,
    /// The message it came with.
    pub message_id: i64,
    /// Who uploaded it (cleared when that account is deleted).
    pub uploader_id: Option<i64>,
    /// The file under `attachments/`.
    #[serde(skip)]
    pub storage_key: String,
    /// Sanitised original name.
    pub file_name: String,
    /// Sniffed media type.
    pub mime: String,
    /// Bytes.
    pub size_bytes: i64,
    /// Hex sha256.
    pub sha256: String,
    /// Pixels, for images.
    pub width: Option<i64>,
    /// Pixels, for images.
    pub height: Option<i64>,
    /// Uploaded, ms.
    pub created_at: Millis,
    /// Its message is an internal note (staff only).
    pub internal: bool,
}

/// Storage of support attachments' metadata.
#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Writes a message with `body` and its attachment in one transaction,
    /// like `add_customer_message` / `add_agent_message` (a customer's
    /// message reopens the conversation and runs the auto-assigner).
    /// Refuses ([`crate::StoreError::Limit`] on `file`) once the conversation
    /// holds `max_per_conversation` attachments, and a customer's upload to
    /// a conversation that is not theirs ([`crate::StoreError::NotFound`]).
    #[allow(clippy::too_many_arguments)]
    async fn add_attachment_message(
        &self,
        conversation_id: i64,
        sender: AttachmentSender,
        body: &str,
        file: &NewAttachment,
        max_per_conversation: u32,
        default_capacity: u32,
        now: Millis,
    ) -> Result<(SupportWrite, Attachment)>;

    /// One attachment.
    async fn attachment(&self, id: i64) -> Result<Option<Attachment>>;

    /// A conversation's attachments in message order (without those of
    /// internal notes unless `include_internal`).
    async fn conversation_attachments(
        &self,
        conversation_id: i64,
        include_internal: bool,
    ) -> Result<Vec<Attachment>>;

    /// The files of every attachment in the account's own conversations:
    /// what deleting the account must remove from disk.
    async fn account_attachment_keys(&self, account_id: i64) -> Result<Vec<String>>;
}
