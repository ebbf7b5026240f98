//! Social listening: posts, their sentiment and topics, backlash alerts.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Millis;

/// The sentiment of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sentiment {
    /// Negative.
    Negative,
    /// Neutral.
    Neutral,
    /// Positive.
    Positive,
}

impl Sentiment {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Sentiment::Negative => "negative",
            Sentiment::Neutral => "neutral",
            Sentiment::Positive => "positive",
        }
    }
}

impl std::str::FromStr for Sentiment {
    type Err = crate::DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "negative" => Ok(Sentiment::Negative),
            "neutral" => Ok(Sentiment::Neutral),
            "positive" => Ok(Sentiment::Positive),
            other => Err(crate::DomainError::invalid(
                "sentiment",
                format!("unknown sentiment {other:?}: use negative, neutral or positive"),
            )),
        }
    }
}

/// Who gave a post its sentiment label: the fast model at ingest, the
/// accurate encoder tier when it rescored the post, or a staff member's
/// correction (which no model overwrites).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LabelSource {
    /// The fast tier, at ingest.
    #[default]
    Fast,
    /// The accurate (encoder) tier.
    Encoder,
    /// A staff correction.
    Staff,
}

impl LabelSource {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelSource::Fast => "fast",
            LabelSource::Encoder => "encoder",
            LabelSource::Staff => "staff",
        }
    }

    /// What the pages say: "fast model", "encoder", "staff".
    pub fn describe(self) -> &'static str {
        match self {
            LabelSource::Fast => "fast model",
            LabelSource::Encoder => "accurate model",
            LabelSource::Staff => "corrected by staff",
        }
    }
}

impl std::str::FromStr for LabelSource {
    type Err = crate::DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fast" => Ok(LabelSource::Fast),
            "encoder" => Ok(LabelSource::Encoder),
            "staff" => Ok(LabelSource::Staff),
            other => Err(crate::DomainError::invalid(
                "labelled_by",
                format!("unknown label source {other:?}: use fast, encoder or staff"),
            )),
        }
    }
}

impl Sentiment {
    /// The score a label stands for when a person gave it (no model
    /// probabilities): -1, 0 or 1.
    pub fn label_score(self) -> f32 {
        match self {
            Sentiment::Negative => -1.0,
            Sentiment::Neutral => 0.0,
            Sentiment::Positive => 1.0,
        }
    }
}

/// A staff member's correction of a post's sentiment: an event, kept as
/// training data for the next sentiment model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SentimentCorrection {
    /// Id (events in order).
    pub id: i64,
    /// The corrected post.
    pub post_id: i64,
    /// The post's text (the training input).
    pub text: String,
    /// The label before the correction.
    pub previous: Sentiment,
    /// The label staff gave.
    pub sentiment: Sentiment,
    /// Who corrected it (absent once that account is deleted).
    pub corrected_by: Option<i64>,
    /// When, ms.
    pub created_at: Millis,
}

/// A post, classified, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Post {
    /// Id.
    pub id: i64,
    /// Where it came from, e.g. `mastodon`, `bluesky`, `simulated`.
    pub source: String,
    /// Its id at the source.
    pub external_id: String,
    /// The author's normalised handle.
    pub author: String,
    /// The text (untrusted: always escaped when shown).
    pub text: String,
    /// A link to the post.
    pub url: Option<String>,
    /// Language tag.
    pub lang: Option<String>,
    /// Post time, ms.
    pub created_at: Millis,
    /// Arrival time, ms.
    pub ingested_at: Millis,
    /// The predicted sentiment.
    pub sentiment: Sentiment,
    /// p(positive) - p(negative), in [-1, 1].
    pub score: f32,
    /// The tokens that drove the prediction, with their weights.
    pub top_tokens: Vec<(String, f32)>,
    /// Topics from the taxonomy.
    pub topics: Vec<String>,
    /// Brands or products mentioned.
    pub brands: Vec<String>,
    /// The Marquee account that linked the author's handle.
    pub account_id: Option<i64>,
    /// Who gave the sentiment label.
    #[serde(default)]
    pub labelled_by: LabelSource,
}

/// A classified post to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPost {
    /// Source.
    pub source: String,
    /// Id at the source.
    pub external_id: String,
    /// Normalised author handle.
    pub author: String,
    /// Text.
    pub text: String,
    /// Link.
    pub url: Option<String>,
    /// Language.
    pub lang: Option<String>,
    /// Post time, ms.
    pub created_at: Millis,
    /// Sentiment.
    pub sentiment: Sentiment,
    /// Signed score.
    pub score: f32,
    /// Explanation.
    pub top_tokens: Vec<(String, f32)>,
    /// Topics.
    pub topics: Vec<String>,
    /// Brands.
    pub brands: Vec<String>,
    /// Proposals whose text match the post fits (those whose posts the
    /// store keeps, see `track_proposal_posts`).
    pub proposals: Vec<i64>,
}

/// An ingest API token, as listed (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IngestToken {
    /// Id.
    pub id: i64,
    /// What it is for.
    pub name: String,
    /// Creation time, ms.
    pub created_at: Millis,
    /// Who created it.
    pub created_by: Option<i64>,
    /// Revocation time, ms.
    pub revoked_at: Option<Millis>,
}

/// The state of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Raised, nobody has looked yet.
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Over.
    Resolved,
}

impl AlertStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl AlertStatus {
    /// Checks that an alert in this state may move to `next`: acknowledged
    /// only while open, resolved unless already resolved, never reopened.
    /// The error is the message a client sees.
    pub fn check_move(self, next: AlertStatus) -> Result<(), String> {
        match (self, next) {
            (_, AlertStatus::Open) => Err("an alert cannot be reopened".into()),
            (AlertStatus::Open, AlertStatus::Acknowledged)
            | (AlertStatus::Open | AlertStatus::Acknowledged, AlertStatus::Resolved) => Ok(()),
            (current, _) => Err(format!("the alert is already {}", current.as_str())),
        }
    }
}

/// At most this many social handles linked to one account.
pub const MAX_HANDLES_PER_ACCOUNT: i64 = 10;

/// Checks that an account with `linked` handles may link one more; the
/// error is the message a client sees.
pub fn check_handle_limit(linked: i64) -> Result<(), String> {
    if linked >= MAX_HANDLES_PER_ACCOUNT {
        Err(format!(
            "at most {MAX_HANDLES_PER_ACCOUNT} handles per account"
        ))
    } else {
        Ok(())
    }
}

impl std::str::FromStr for AlertStatus {
    type Err = crate::DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(AlertStatus::Open),
            "acknowledged" => Ok(AlertStatus::Acknowledged),
            "resolved" => Ok(AlertStatus::Resolved),
            other => Err(crate::DomainError::invalid(
                "status",
                format!("unknown status {other:?}: use open, acknowledged or resolved"),
            )),
        }
    }
}

/// A backlash alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    /// Id.
    pub id: i64,
    /// `all` or a topic.
    pub series: String,
    /// `volume` or `negative_share`.
    pub kind: String,
    /// `15m`, `1h` or `1d`.
    pub window: String,
    /// Window start (post time), ms.
    pub window_start: Millis,
    /// Window end (post time), ms.
    pub window_end: Millis,
    /// Observed count or share.
    pub observed: f64,
    /// Expected count or share under the baseline.
    pub expected: f64,
    /// The test statistic.
    pub z: f64,
    /// Posts in the window.
    pub posts: i64,
    /// The terms driving it, most distinctive first, with their scores.
    pub terms: Vec<(String, f64)>,
    /// Example posts (most negative first).
    pub example_post_ids: Vec<i64>,
    /// State.
    pub status: AlertStatus,
    /// Raised at (clock time), ms.
    pub raised_at: Millis,
    /// Acknowledged at.
    pub acknowledged_at: Option<Millis>,
    /// Acknowledged by.
    pub acknowledged_by: Option<i64>,
    /// Resolved at.
    pub resolved_at: Option<Millis>,
    /// Resolved by.
    pub resolved_by: Option<i64>,
}

impl Alert {
    /// The alert in words, for people: "Negative posts about price jumped
    /// to 62% (usually 18%) in the last 15 minutes", "Posts jumped to 340
    /// (usually 45) in the last hour".
    pub fn headline(&self) -> String {
        let about = if self.series == "all" {
            String::new()
        } else {
            format!(" about {}", self.series)
        };
        let window = match self.window.as_str() {
            "15m" => "the last 15 minutes".to_string(),
            "1h" => "the last hour".to_string(),
            "1d" => "the last day".to_string(),
            other => format!("the last {other}"),
        };
        if self.kind == "negative_share" {
            format!(
                "Negative posts{about} jumped to {:.0}% (usually {:.0}%) in {window}",
                self.observed * 100.0,
                self.expected * 100.0
            )
        } else {
            format!(
                "Posts{about} jumped to {:.0} (usually {:.0}) in {window}",
                self.observed, self.expected
            )
        }
    }
}

/// A new alert to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// Series.
    pub series: String,
    /// Kind.
    pub kind: String,
    /// Window name.
    pub window: String,
    /// Window start, ms.
    pub window_start: Millis,
    /// Window end, ms.
    pub window_end: Millis,
    /// Observed.
    pub observed: f64,
    /// Expected.
    pub expected: f64,
    /// Statistic.
    pub z: f64,
    /// Posts in the window.
    pub posts: i64,
    /// Driving terms.
    pub terms: Vec<(String, f64)>,
    /// Example posts.
    pub example_post_ids: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_read_as_sentences() {
        let mut a = Alert {
            id: 1,
            series: "price".into(),
            kind: "negative_share".into(),
            window: "15m".into(),
            window_start: 0,
            window_end: 0,
            observed: 0.62,
            expected: 0.18,
            z: 7.9,
            posts: 40,
            terms: vec![],
            example_post_ids: vec![],
            status: AlertStatus::Open,
            raised_at: 0,
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_at: None,
            resolved_by: None,
        };
        assert_eq!(
            a.headline(),
            "Negative posts about price jumped to 62% (usually 18%) in the last 15 minutes"
        );
        a.series = "all".into();
        a.kind = "volume".into();
        a.window = "1h".into();
        a.observed = 340.0;
        a.expected = 45.2;
        assert_eq!(
            a.headline(),
            "Posts jumped to 340 (usually 45) in the last hour"
        );
    }

    #[test]
    fn alerts_move_forward_only() {
        use AlertStatus::*;
        assert!(Open.check_move(Acknowledged).is_ok());
        assert!(Open.check_move(Resolved).is_ok());
        assert!(Acknowledged.check_move(Resolved).is_ok());
        assert_eq!(
            Acknowledged.check_move(Acknowledged),
            Err("the alert is already acknowledged".into())
        );
        assert_eq!(
            Resolved.check_move(Acknowledged),
            Err("the alert is already resolved".into())
        );
        assert_eq!(
            Resolved.check_move(Resolved),
            Err("the alert is already resolved".into())
        );
        for from in [Open, Acknowledged, Resolved] {
            assert_eq!(
                from.check_move(Open),
                Err("an alert cannot be reopened".into())
            );
        }
    }

    #[test]
    fn ten_handles_per_account() {
        assert!(check_handle_limit(0).is_ok());
        assert!(check_handle_limit(9).is_ok());
        assert_eq!(
            check_handle_limit(10),
            Err("at most 10 handles per account".into())
        );
    }
}
