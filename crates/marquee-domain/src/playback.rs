//! Playback rules: devices, resume thresholds, event ordering, Next Up.
//!
//! Pure functions over plain data, so that every rule is unit-tested and the
//! store can apply them inside its transaction.

use crate::{DomainError, Millis};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What kind of player a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// A television (smart TV, stick, console).
    Tv,
    /// A phone.
    Phone,
    /// A tablet.
    Tablet,
    /// A web browser.
    Web,
}

impl DeviceKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Tv => "tv",
            DeviceKind::Phone => "phone",
            DeviceKind::Tablet => "tablet",
            DeviceKind::Web => "web",
        }
    }
}

impl std::str::FromStr for DeviceKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tv" => Ok(DeviceKind::Tv),
            "phone" => Ok(DeviceKind::Phone),
            "tablet" => Ok(DeviceKind::Tablet),
            "web" => Ok(DeviceKind::Web),
            other => Err(DomainError::invalid(
                "kind",
                format!("unknown device kind {other:?}: use tv, phone, tablet or web"),
            )),
        }
    }
}

/// A registered device of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Device {
    /// Id.
    pub id: i64,
    /// The profile it belongs to.
    pub profile_id: i64,
    /// Display name, e.g. "Living-room TV".
    pub name: String,
    /// Kind.
    pub kind: DeviceKind,
    /// Registered, ms.
    pub created_at: Millis,
    /// Last request from it, ms.
    pub last_seen_at: Millis,
}

/// Validates a device name: 1 to 60 characters, no control characters.
pub fn device_name(name: &str) -> Result<String, DomainError> {
    let n = name.trim();
    if n.is_empty() {
        return Err(DomainError::invalid("name", "must not be empty"));
    }
    if n.chars().count() > 60 {
        return Err(DomainError::invalid(
            "name",
            "must be at most 60 characters",
        ));
    }
    if n.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(n.to_string())
}

/// The runtime given to a title with no known duration (MovieLens movies carry
/// none): a deterministic 85 to 150 minutes derived from the title id, so the
/// resume rules have something to work with.
pub fn default_runtime_s(title_id: i64) -> i64 {
    (85 + title_id.rem_euclid(66)) * 60
}

/// The resume thresholds (Jellyfin's defaults: 5 % / 90 % / 300 s).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResumeRules {
    /// Below this percentage of the runtime nothing is saved.
    pub min_resume_pct: f64,
    /// Above this percentage (or within 1 s of the end) the title is played.
    pub max_resume_pct: f64,
    /// Titles shorter than this many seconds are never resumed: watched past
    /// `min_resume_pct`, they count as played.
    pub min_resume_duration_s: i64,
}

impl Default for ResumeRules {
    fn default() -> Self {
        ResumeRules {
            min_resume_pct: 5.0,
            max_resume_pct: 90.0,
            min_resume_duration_s: 300,
        }
    }
}

impl ResumeRules {
    /// Checks the thresholds make sense.
    pub fn validate(&self) -> Result<(), DomainError> {
        if !(0.0..=100.0).contains(&self.min_resume_pct) {
            return Err(DomainError::invalid("min_resume_pct", "must be 0 to 100"));
        }
        if !(0.0..=100.0).contains(&self.max_resume_pct)
            || self.max_resume_pct <= self.min_resume_pct
        {
            return Err(DomainError::invalid(
                "max_resume_pct",
                "must be 0 to 100 and above min_resume_pct",
            ));
        }
        if self.min_resume_duration_s < 0 {
            return Err(DomainError::invalid(
                "min_resume_duration_s",
                "must not be negative",
            ));
        }
        Ok(())
    }
}

/// What is saved per profile and title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SavedState {
    /// Where to resume; 0 when there is nothing to resume.
    pub resume_ms: i64,
    /// Watched to the end.
    pub played: bool,
    /// How many times it was played.
    pub play_count: i64,
    /// When it was last played, ms.
    pub last_played_at: Option<Millis>,
    /// The client time of the event that set the position.
    pub position_sent_at: Millis,
    /// Removed from Continue Watching by hand.
    pub hidden: bool,
}

/// One position report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The position.
    pub position_ms: i64,
    /// The title's runtime.
    pub duration_ms: i64,
    /// The client's clock when it sent the report.
    pub sent_at: Millis,
    /// Server time.
    pub now: Millis,
    /// A person is watching (not unattended autoplay).
    pub attended: bool,
    /// This play session already counted a play.
    pub already_counted: bool,
}

/// The outcome of [`apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The new saved state.
    pub state: SavedState,
    /// The report changed the saved state (false: it was older than the stored one).
    pub applied: bool,
    /// This report completed a play (play_count went up).
    pub counted: bool,
}

/// Applies a position report to the saved state under the resume rules.
///
/// - A report older (by `sent_at`) than the one that set the stored position
///   never rewinds it: networks reorder, and with two devices the newest wins.
/// - Below `min_resume_pct` nothing is saved (no resume point).
/// - Above `max_resume_pct`, or within 1 s of the end, the title is played and
///   the position resets; a title shorter than `min_resume_duration_s` is
///   played once watched past `min_resume_pct`.
/// - Unattended autoplay never marks anything played: it only keeps a resume point.
pub fn apply(rules: &ResumeRules, prev: Option<&SavedState>, r: &Report) -> Applied {
    let prev = prev.copied().unwrap_or_default();
    if r.sent_at < prev.position_sent_at {
        return Applied {
            state: prev,
            applied: false,
            counted: false,
        };
    }
    let duration = r.duration_ms.max(1);
    let pos = r.position_ms.clamp(0, duration);
    let pct = pos as f64 * 100.0 / duration as f64;
    let short = duration < rules.min_resume_duration_s.saturating_mul(1000);
    let mut s = prev;
    s.position_sent_at = r.sent_at;
    s.last_played_at = Some(prev.last_played_at.map_or(r.now, |t| t.max(r.now)));
    let mut counted = false;
    let complete = if short {
        pct >= rules.min_resume_pct
    } else {
        pct > rules.max_resume_pct || pos >= duration - 1000
    };
    if complete && r.attended {
        s.played = true;
        s.resume_ms = 0;
        if !r.already_counted {
            s.play_count += 1;
            counted = true;
        }
    } else if short || pct < rules.min_resume_pct {
        s.resume_ms = 0;
    } else {
        s.resume_ms = pos;
        if r.attended {
            s.hidden = false;
        }
    }
    Applied {
        state: s,
        applied: true,
        counted,
    }
}

/// An episode in viewing order, with what the profile did with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpisodeProgress {
    /// The episode's title id.
    pub title_id: i64,
    /// Season number.
    pub season: i32,
    /// Episode number.
    pub episode: i32,
    /// Saved resume point (0: none).
    pub resume_ms: i64,
    /// Played.
    pub played: bool,
    /// Last played, ms.
    pub last_played_at: Option<Millis>,
}

/// Why an episode is Next Up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NextUpReason {
    /// It is in progress.
    InProgress,
    /// It follows the last completed episode.
    Next,
}

/// The Next Up episode of one series, given its episodes in any order.
///
/// An in-progress episode comes first (the most recently played one). Else the
/// episode after the most recently completed one, crossing into the next
/// season; because it follows the most recent completion, a rewatch of a
/// finished series goes on from wherever the rewatch is. Nothing played, or
/// the finale completed last: nothing.
pub fn next_up(episodes: &[EpisodeProgress]) -> Option<(i64, NextUpReason)> {
    let mut eps: Vec<&EpisodeProgress> = episodes.iter().collect();
    eps.sort_by_key(|e| (e.season, e.episode, e.title_id));
    if let Some(e) = eps
        .iter()
        .filter(|e| e.resume_ms > 0)
        .max_by_key(|e| (e.last_played_at.unwrap_or(0), e.season, e.episode))
    {
        return Some((e.title_id, NextUpReason::InProgress));
    }
    let (idx, _) = eps
        .iter()
        .enumerate()
        .filter(|(_, e)| e.played)
        .max_by_key(|(i, e)| (e.last_played_at.unwrap_or(0), *i))?;
    eps.get(idx + 1).map(|e| (e.title_id, NextUpReason::Next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(pos_s: i64, dur_s: i64, sent_at: i64) -> Report {
        Report {
            position_ms: pos_s * 1000,
            duration_ms: dur_s * 1000,
            sent_at,
            now: 1_000,
            attended: true,
            already_counted: false,
        }
    }

    #[test]
    fn thresholds() {
        let rules = ResumeRules::default();
        // 4 % of 100 min: nothing saved.
        let a = apply(&rules, None, &report(240, 6000, 1));
        assert_eq!(a.state.resume_ms, 0);
        assert!(!a.state.played);
        // 50 %: a resume point.
        let a = apply(&rules, None, &report(3000, 6000, 1));
        assert_eq!(a.state.resume_ms, 3_000_000);
        // 91 %: played, position reset, counted once.
        let b = apply(&rules, Some(&a.state), &report(5460, 6000, 2));
        assert!(b.state.played && b.counted);
        assert_eq!((b.state.resume_ms, b.state.play_count), (0, 1));
        // Within a second of the end of a title with a high max_pct.
        let strict = ResumeRules {
            max_resume_pct: 99.99,
            ..rules
        };
        let c = apply(&strict, None, &report(5999, 6000, 1));
        assert!(c.state.played);
        // Shorter than 300 s: played once past 5 %, never resumed.
        let d = apply(&rules, None, &report(100, 200, 1));
        assert!(d.state.played);
        assert_eq!(d.state.resume_ms, 0);
        let e = apply(&rules, None, &report(5, 200, 1));
        assert!(!e.state.played);
    }

    #[test]
    fn older_reports_never_rewind_and_unattended_never_plays() {
        let rules = ResumeRules::default();
        let a = apply(&rules, None, &report(3000, 6000, 10));
        let late = apply(&rules, Some(&a.state), &report(1000, 6000, 9));
        assert!(!late.applied);
        assert_eq!(late.state.resume_ms, 3_000_000);
        let mut r = report(5900, 6000, 11);
        r.attended = false;
        let auto = apply(&rules, Some(&a.state), &r);
        assert!(!auto.state.played);
        assert_eq!(auto.state.play_count, 0);
        assert_eq!(auto.state.resume_ms, 5_900_000);
    }

    fn ep(id: i64, season: i32, episode: i32) -> EpisodeProgress {
        EpisodeProgress {
            title_id: id,
            season,
            episode,
            resume_ms: 0,
            played: false,
            last_played_at: None,
        }
    }

    #[test]
    fn next_up_rules() {
        let mut eps = vec![ep(1, 1, 1), ep(2, 1, 2), ep(3, 2, 1), ep(4, 2, 2)];
        assert_eq!(next_up(&eps), None);
        eps[0].resume_ms = 5;
        eps[0].last_played_at = Some(1);
        assert_eq!(next_up(&eps), Some((1, NextUpReason::InProgress)));
        eps[0] = EpisodeProgress {
            resume_ms: 0,
            played: true,
            ..eps[0]
        };
        eps[1].played = true;
        eps[1].last_played_at = Some(2);
        assert_eq!(next_up(&eps), Some((3, NextUpReason::Next)));
        eps[3].played = true;
        eps[3].last_played_at = Some(3);
        assert_eq!(next_up(&eps), None);
        eps[0].last_played_at = Some(4);
        assert_eq!(next_up(&eps), Some((2, NextUpReason::Next)));
        assert_eq!(default_runtime_s(1) / 60, 86);
        assert!((85..=150).contains(&(default_runtime_s(65) / 60)));
    }
}
