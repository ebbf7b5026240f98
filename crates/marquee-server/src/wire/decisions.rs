//! The JSON API's form of `marquee_store::decisions` rows: the same fields and
//! serde attributes, converted with `From`, so the store carries no OpenAPI
//! schema and the wire format is the server's.

use marquee_domain::Millis;
use marquee_store::decisions as store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a decision is based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
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

impl From<store::EvidenceKind> for EvidenceKind {
    fn from(v: store::EvidenceKind) -> Self {
        match v {
            store::EvidenceKind::Alert => EvidenceKind::Alert,
            store::EvidenceKind::Post => EvidenceKind::Post,
            store::EvidenceKind::Idea => EvidenceKind::Idea,
            store::EvidenceKind::Conversation => EvidenceKind::Conversation,
        }
    }
}

impl From<EvidenceKind> for store::EvidenceKind {
    fn from(v: EvidenceKind) -> Self {
        match v {
            EvidenceKind::Alert => store::EvidenceKind::Alert,
            EvidenceKind::Post => store::EvidenceKind::Post,
            EvidenceKind::Idea => store::EvidenceKind::Idea,
            EvidenceKind::Conversation => store::EvidenceKind::Conversation,
        }
    }
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

impl From<store::Evidence> for Evidence {
    fn from(v: store::Evidence) -> Self {
        Evidence {
            kind: v.kind.into(),
            id: v.id,
            label: v.label,
        }
    }
}

impl From<Evidence> for store::Evidence {
    fn from(v: Evidence) -> Self {
        store::Evidence {
            kind: v.kind.into(),
            id: v.id,
            label: v.label,
        }
    }
}

/// A recorded decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<store::Decision> for Decision {
    fn from(v: store::Decision) -> Self {
        Decision {
            id: v.id,
            title: v.title,
            body: v.body,
            evidence: v.evidence.into_iter().map(Into::into).collect(),
            notified: v.notified,
            created_at: v.created_at,
        }
    }
}
