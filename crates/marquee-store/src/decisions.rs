//! "We heard you": decisions staff record with their evidence, and the
//! customers they notify.

use crate::Result;
use async_trait::async_trait;
use marquee_domain::Millis;
use serde::{Deserialize, Serialize};

/// What a decision is based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A listening alert.
    Alert,
    /// A social post.
    Post,
    /// An idea.
    Idea,
    /// A support conversation.
    Conversation,
}

impl EvidenceKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Alert => "alert",
            EvidenceKind::Post => "post",
            EvidenceKind::Idea => "idea",
            EvidenceKind::Conversation => "conversation",
        }
    }
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Kind.
    pub kind: EvidenceKind,
    /// Its id.
    pub id: i64,
    /// A label to show (filled on read).
    #[serde(default, skip_deserializing)]
    pub label: String,
}

/// A recorded decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Id.
    pub id: i64,
    /// What was decided, e.g. "Keep DVD and streaming together".
    pub title: String,
    /// Why, in plain text.
    pub body: String,
    /// The evidence.
    pub evidence: Vec<Evidence>,
    /// Customers notified.
    pub notified: i64,
    /// Recorded, ms.
    pub created_at: Millis,
}

/// Decision storage.
#[async_trait]
pub trait DecisionStore: Send + Sync {
    /// Records a decision and, in the same transaction, notifies every
    /// customer behind the evidence: authors, voters and commenters of its
    /// ideas; the linked authors of its posts and of its alerts' example
    /// posts; the customers of its support conversations. `Invalid` (field `evidence`) when a piece does not exist.
    async fn create_decision(
        &self,
        title: &str,
        body: &str,
        evidence: &[Evidence],
        actor_id: i64,
        now: Millis,
    ) -> Result<Decision>;
    /// Decisions, newest first.
    async fn decisions(&self, limit: u32, offset: u32) -> Result<Vec<Decision>>;
    /// One decision.
    async fn decision(&self, id: i64) -> Result<Option<Decision>>;
}
