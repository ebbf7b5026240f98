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
    crate::text::line("name", name, 60)
}

/// A name a person recognises for a device, from its `User-Agent`:
/// "Chrome on Linux", "Safari on iPhone", "Firefox on Windows", "Smart TV".
/// Unknown agents are "Web browser".
pub fn device_label(user_agent: &str) -> String {
    let ua = user_agent;
    let has = |needle: &str| ua.contains(needle);
    let tv = [
        "SmartTV", "SMART-TV", "Tizen", "Web0S", "WebOS", "BRAVIA", "AppleTV", "CrKey", "; AFT",
        "HbbTV", "Roku",
    ];
    if tv.iter().any(|t| has(t)) {
        return "Smart TV".to_string();
    }
    // Order matters: Edge and Opera say "Chrome", Chrome says "Safari".
    let browser = if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
        Some("Edge")
    } else if has("OPR/") || has("Opera") {
        Some("Opera")
    } else if has("SamsungBrowser/") {
        Some("Samsung Internet")
    } else if has("Firefox/") || has("FxiOS/") {
        Some("Firefox")
    } else if has("Chrome/") || has("CriOS/") || has("Chromium/") {
        Some("Chrome")
    } else if has("Safari/") && has("Version/") {
        Some("Safari")
    } else {
        None
    };
    let system = if has("iPhone") {
        Some("iPhone")
    } else if has("iPad") {
        Some("iPad")
    } else if has("Android") {
        Some("Android")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Macintosh") || has("Mac OS X") {
        Some("Mac")
    } else if has("Linux") || has("X11") {
        Some("Linux")
    } else {
        None
    };
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("Web browser on {s}"),
        (None, None) => "Web browser".to_string(),
    }
}

/// `base`, or `base 2`, `base 3` … : the first not in `taken`.
pub fn unique_name(base: &str, taken: &[&str]) -> String {
    if !taken.contains(&base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base} {n}"))
        .find(|c| !taken.contains(&c.as_str()))
        .unwrap_or_else(|| base.to_string())
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

/// The autoplay run a new start continues: the device's last session's run
/// when that session was autoplayed and nobody touched it, else 0.
pub fn previous_autoplay_run(autoplay: bool, attended: bool, run: i64) -> u32 {
    if autoplay && !attended {
        u32::try_from(run).unwrap_or(0)
    } else {
        0
    }
}

/// Whether an autoplayed start asks "Still watching?" instead: after
/// `max_autoplay_run` untouched autoplays in a row on the device, or when
/// nobody touched it for `idle_limit_ms`. A start by hand never asks.
pub fn still_watching(
    autoplay: bool,
    prev_run: u32,
    idle_ms: i64,
    max_autoplay_run: u32,
    idle_limit_ms: i64,
) -> bool {
    autoplay && (prev_run >= max_autoplay_run || idle_ms >= idle_limit_ms)
}

/// The autoplay run of a session that starts now: one more than the run it
/// continues when autoplayed, 0 when started by hand.
pub fn autoplay_run(autoplay: bool, prev_run: u32) -> u32 {
    if autoplay {
        prev_run.saturating_add(1)
    } else {
        0
    }
}

/// Whether an account already plays as many streams as it may (a new one is
/// refused).
pub fn stream_cap_reached(active: usize, max_streams: u32) -> bool {
    active >= max_streams as usize
}

/// Whether some plan allows more streams at once than `plan` does: a
/// stream-cap refusal then offers an upgrade.
pub fn bigger_plan_exists(plan: crate::Plan) -> bool {
    [
        crate::Plan::Basic,
        crate::Plan::Standard,
        crate::Plan::Premium,
    ]
    .iter()
    .any(|p| p.max_streams() > plan.max_streams())
}

/// A play session as the progress rules see it. The store keeps one per
/// session of a batch and lets [`progress`] update it report by report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSession {
    /// The profile that started it.
    pub profile_id: i64,
    /// The title's runtime.
    pub duration_ms: i64,
    /// A person interacted with it (not unattended autoplay).
    pub attended: bool,
    /// It already counted a play.
    pub counted: bool,
    /// The last reported position.
    pub position_ms: i64,
    /// Paused at the last report.
    pub paused: bool,
    /// The client time of the report that set the position.
    pub last_sent_at: Option<Millis>,
    /// Server time of the last report.
    pub last_event_at: Millis,
    /// Stopped, replaced or timed out.
    pub ended: bool,
}

/// One progress report (or stop) of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressReport {
    /// The profile reporting.
    pub profile_id: i64,
    /// The position, when the report carries one.
    pub position_ms: Option<i64>,
    /// Paused.
    pub paused: bool,
    /// The client's clock when it sent the report.
    pub sent_at: Option<Millis>,
    /// A person pressed something.
    pub interaction: bool,
    /// The stream stops.
    pub stop: bool,
    /// Server time.
    pub now: Millis,
}

/// Why [`progress`] refuses a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressRefusal {
    /// The session belongs to another profile.
    Forbidden,
    /// The session ended, or sent nothing for the stream timeout.
    Ended,
    /// The position is past the end of the title.
    TooLong {
        /// The title's runtime.
        duration_ms: i64,
    },
}

/// What [`progress`] made of an accepted report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressOutcome {
    /// A stop of a session that already ended: acknowledged, nothing changes.
    RepeatedStop,
    /// The session was updated (and is to be written, with a log event).
    Accepted(ProgressStep),
}

/// An accepted report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressStep {
    /// A person touched the device (its last interaction moves to now).
    pub interaction: bool,
    /// The report changed the saved state.
    pub applied: bool,
    /// The new saved state, when `applied`.
    pub state: Option<SavedState>,
    /// The position to log and acknowledge.
    pub position_ms: i64,
}

/// Applies one report to its session, in batch order.
///
/// - A session answers only the profile that started it.
/// - An ended session refuses progress; a repeated stop is acknowledged
///   without a write (clients retry stops).
/// - A session silent for `stream_timeout_ms` has ended (a stop still ends it).
/// - A position past the end of the title is refused.
/// - Pressing something, or a pause state that changed, is a person
///   watching: the session becomes attended.
/// - A position report goes through [`apply`] against the saved state; the
///   session's own position follows the newest report by client time.
pub fn progress(
    rules: &ResumeRules,
    stream_timeout_ms: i64,
    s: &mut StreamSession,
    saved: Option<&SavedState>,
    r: &ProgressReport,
) -> Result<ProgressOutcome, ProgressRefusal> {
    if s.profile_id != r.profile_id {
        return Err(ProgressRefusal::Forbidden);
    }
    if s.ended {
        return if r.stop {
            Ok(ProgressOutcome::RepeatedStop)
        } else {
            Err(ProgressRefusal::Ended)
        };
    }
    if !r.stop && s.last_event_at <= r.now - stream_timeout_ms {
        return Err(ProgressRefusal::Ended);
    }
    if r.position_ms.is_some_and(|p| p > s.duration_ms) {
        return Err(ProgressRefusal::TooLong {
            duration_ms: s.duration_ms,
        });
    }
    let interaction = r.interaction || (r.position_ms.is_some() && r.paused != s.paused);
    if interaction {
        s.attended = true;
    }
    let mut applied = false;
    let mut state = None;
    if let (Some(pos), Some(sent_at)) = (r.position_ms, r.sent_at) {
        let a = apply(
            rules,
            saved,
            &Report {
                position_ms: pos,
                duration_ms: s.duration_ms,
                sent_at,
                now: r.now,
                attended: s.attended,
                already_counted: s.counted,
            },
        );
        applied = a.applied;
        if a.applied {
            state = Some(a.state);
        }
        if a.counted {
            s.counted = true;
        }
        if s.last_sent_at.is_none_or(|t| sent_at >= t) {
            s.position_ms = pos;
            s.paused = r.paused;
            s.last_sent_at = Some(sent_at);
        }
    }
    s.last_event_at = r.now;
    if r.stop {
        s.ended = true;
    }
    Ok(ProgressOutcome::Accepted(ProgressStep {
        interaction,
        applied,
        state,
        position_ms: r.position_ms.unwrap_or(s.position_ms),
    }))
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

/// How Next Up orders the series' picks: in-progress episodes first, then
/// the most recently played series.
pub fn next_up_rank(
    reason: NextUpReason,
    last_played_at: Millis,
) -> (bool, std::cmp::Reverse<Millis>) {
    (
        reason != NextUpReason::InProgress,
        std::cmp::Reverse(last_played_at),
    )
}

/// The resume point of the Next Up episode: its saved one, or the start.
pub fn next_up_resume_ms(episodes: &[EpisodeProgress], title_id: i64) -> i64 {
    episodes
        .iter()
        .find(|e| e.title_id == title_id)
        .map_or(0, |e| e.resume_ms)
}

#[cfg(test)]
mod tests {

    #[test]
    fn device_labels_from_user_agents() {
        for (ua, want) in [
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome on Linux"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0", "Firefox on Windows"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge on Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", "Safari on Mac"),
            ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome on Android"),
            ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1", "Chrome on iPad"),
            ("Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0 TV Safari/537.36", "Smart TV"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36", "Chrome on Linux"),
            ("curl/8.5.0", "Web browser"),
            ("", "Web browser"),
        ] {
            assert_eq!(device_label(ua), want, "{ua}");
        }
    }

    #[test]
    fn unique_names_count_up() {
        assert_eq!(unique_name("Chrome on Linux", &[]), "Chrome on Linux");
        assert_eq!(
            unique_name("Chrome on Linux", &["Chrome on Linux", "Chrome on Linux 2"]),
            "Chrome on Linux 3"
        );
    }

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
    fn session() -> StreamSession {
        StreamSession {
            profile_id: 7,
            duration_ms: 6_000_000,
            attended: false,
            counted: false,
            position_ms: 0,
            paused: false,
            last_sent_at: None,
            last_event_at: 1_000,
            ended: false,
        }
    }

    fn at(pos_ms: i64, sent_at: i64, now: i64) -> ProgressReport {
        ProgressReport {
            profile_id: 7,
            position_ms: Some(pos_ms),
            paused: false,
            sent_at: Some(sent_at),
            interaction: false,
            stop: false,
            now,
        }
    }

    #[test]
    fn progress_refuses_other_profiles_ended_timed_out_and_past_the_end() {
        let rules = ResumeRules::default();
        let mut s = session();
        let other = ProgressReport {
            profile_id: 8,
            ..at(10, 1, 2_000)
        };
        assert_eq!(
            progress(&rules, 60_000, &mut s, None, &other),
            Err(ProgressRefusal::Forbidden)
        );
        // Silent for the stream timeout: ended, though a stop still goes through.
        assert_eq!(
            progress(&rules, 60_000, &mut s, None, &at(10, 1, 61_000)),
            Err(ProgressRefusal::Ended)
        );
        assert_eq!(
            progress(&rules, 60_000, &mut s, None, &at(6_000_001, 1, 2_000)),
            Err(ProgressRefusal::TooLong {
                duration_ms: 6_000_000
            })
        );
        assert_eq!(s, session(), "a refused report changes nothing");
        let stop = ProgressReport {
            stop: true,
            ..at(10, 1, 61_000)
        };
        assert!(matches!(
            progress(&rules, 60_000, &mut s, None, &stop),
            Ok(ProgressOutcome::Accepted(_))
        ));
        assert!(s.ended);
        // A repeated stop is acknowledged; progress on an ended session is not.
        assert_eq!(
            progress(&rules, 60_000, &mut s, None, &stop),
            Ok(ProgressOutcome::RepeatedStop)
        );
        assert_eq!(
            progress(&rules, 60_000, &mut s, None, &at(10, 2, 61_001)),
            Err(ProgressRefusal::Ended)
        );
    }

    #[test]
    fn progress_applies_reports_and_follows_the_newest() {
        let rules = ResumeRules::default();
        let mut s = session();
        let Ok(ProgressOutcome::Accepted(a)) =
            progress(&rules, 60_000, &mut s, None, &at(3_000_000, 10, 2_000))
        else {
            panic!("accepted");
        };
        assert!(a.applied && !a.interaction);
        let saved = a.state.unwrap();
        assert_eq!(saved.resume_ms, 3_000_000);
        assert_eq!(
            (s.position_ms, s.last_sent_at, s.last_event_at),
            (3_000_000, Some(10), 2_000)
        );
        // An older report neither rewinds the saved state nor the session.
        let Ok(ProgressOutcome::Accepted(b)) = progress(
            &rules,
            60_000,
            &mut s,
            Some(&saved),
            &at(1_000_000, 9, 3_000),
        ) else {
            panic!("accepted");
        };
        assert!(!b.applied && b.state.is_none());
        assert_eq!(b.position_ms, 1_000_000);
        assert_eq!((s.position_ms, s.last_event_at), (3_000_000, 3_000));
        // Unattended, the end is not a play; a pause change makes it attended.
        let Ok(ProgressOutcome::Accepted(c)) = progress(
            &rules,
            60_000,
            &mut s,
            Some(&saved),
            &at(5_900_000, 11, 4_000),
        ) else {
            panic!("accepted");
        };
        assert!(!c.state.unwrap().played && !s.counted);
        let paused = ProgressReport {
            paused: true,
            ..at(5_950_000, 12, 5_000)
        };
        let Ok(ProgressOutcome::Accepted(d)) =
            progress(&rules, 60_000, &mut s, c.state.as_ref(), &paused)
        else {
            panic!("accepted");
        };
        assert!(d.interaction && s.attended && s.counted && s.paused);
        assert_eq!(d.state.unwrap().play_count, 1);
    }

    #[test]
    fn start_rules() {
        assert_eq!(previous_autoplay_run(true, false, 3), 3);
        assert_eq!(previous_autoplay_run(true, true, 3), 0);
        assert_eq!(previous_autoplay_run(false, false, 3), 0);
        assert_eq!(previous_autoplay_run(true, false, -1), 0);
        assert!(still_watching(true, 3, 0, 3, 1_000));
        assert!(still_watching(true, 0, 1_000, 3, 1_000));
        assert!(!still_watching(true, 2, 999, 3, 1_000));
        assert!(!still_watching(false, 9, 9_999, 3, 1_000));
        assert_eq!((autoplay_run(true, 2), autoplay_run(false, 2)), (3, 0));
        assert!(!stream_cap_reached(1, 2));
        assert!(stream_cap_reached(2, 2));
        assert!(stream_cap_reached(0, 0));
    }

    #[test]
    fn only_the_biggest_plan_has_no_upgrade() {
        use crate::Plan;
        assert!(bigger_plan_exists(Plan::Basic));
        assert!(bigger_plan_exists(Plan::Standard));
        assert!(!bigger_plan_exists(Plan::Premium));
    }

    #[test]
    fn next_up_order_and_resume() {
        let mut picks = [
            (NextUpReason::Next, 30),
            (NextUpReason::InProgress, 10),
            (NextUpReason::Next, 40),
            (NextUpReason::InProgress, 20),
        ];
        picks.sort_by_key(|p| next_up_rank(p.0, p.1));
        assert_eq!(picks.map(|p| p.1), [20, 10, 40, 30]);
        let mut e = ep(5, 1, 1);
        e.resume_ms = 42;
        assert_eq!(next_up_resume_ms(&[ep(4, 1, 1), e], 5), 42);
        assert_eq!(next_up_resume_ms(&[e], 6), 0);
    }
}
