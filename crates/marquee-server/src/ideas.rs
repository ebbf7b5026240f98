//! The idea box's rules, shared by the JSON API and the pages: validation,
//! the moderation queue, per-account rate limits, the vote budget, status
//! changes with their notifications and webhook events, merging.

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::AppState;
use marquee_domain::ideas::{
    self as rules, Idea, IdeaComment, IdeaStatus, PostingLimit, MAX_COMMENT_CHARS,
    MAX_DESCRIPTION_CHARS, MAX_EXPLANATION_CHARS,
};
use marquee_store::ideas::{IdeaSort, Moderation, NewIdea, Notice, StatusUpdate, VoteState};
use marquee_store::outbox::OutboxEvent;

/// The webhook event sent on every status change (merges included).
pub const EVENT_STATUS_CHANGED: &str = "idea.status_changed";

const HOUR_MS: i64 = 3600 * 1000;

/// Parses a sort name.
pub fn parse_sort(s: Option<&str>) -> Result<IdeaSort, AppError> {
    match s {
        None | Some("") | Some("trending") => Ok(IdeaSort::Trending),
        Some("top") => Ok(IdeaSort::Top),
        Some("new") => Ok(IdeaSort::New),
        Some("my_votes") | Some("mine") => Ok(IdeaSort::MyVotes),
        Some(other) => Err(AppError::invalid(
            "sort",
            format!("unknown sort {other:?}: use trending, top, new or my_votes"),
        )),
    }
}

/// Validates a webhook request into (url, secret, events).
pub fn webhook_input(
    url: &str,
    secret: Option<&str>,
    events: Option<&[String]>,
    allow_private: bool,
) -> Result<(String, String, String), AppError> {
    let url = marquee_domain::ideas::url("url", url)?;
    crate::outbound::check_url(&url, allow_private)
        .map_err(|e| AppError::invalid("url", e.to_string()))?;
    let secret = match secret.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() < 16 => {
            return Err(AppError::invalid(
                "secret",
                "must have at least 16 characters",
            ))
        }
        Some(s) if s.len() > 200 => {
            return Err(AppError::invalid(
                "secret",
                "must have at most 200 characters",
            ))
        }
        Some(s) => s.to_string(),
        None => crate::auth::random_token(),
    };
    let events = match events {
        None => "*".to_string(),
        Some(list) => {
            let mut out: Vec<&str> = Vec::new();
            for e in list {
                let e = e.trim();
                if e.is_empty()
                    || e.len() > 64
                    || !e
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '*')
                {
                    return Err(AppError::invalid(
                        "events",
                        format!("{e:?} is not an event name like idea.status_changed"),
                    ));
                }
                out.push(e);
            }
            if out.is_empty() || out.contains(&"*") {
                "*".into()
            } else {
                out.join(" ")
            }
        }
    };
    Ok((url, secret, events))
}

fn is_staff(u: &CurrentUser) -> bool {
    u.account.role.is_staff()
}

/// Whether `user` may see `idea`: public ideas to all; queued or hidden ones
/// to staff and (queued only) to the author.
pub fn can_see(idea: &Idea, user: Option<&CurrentUser>) -> bool {
    if user.is_some_and(is_staff) {
        return true;
    }
    if idea.hidden {
        return false;
    }
    idea.approved || user.is_some_and(|u| u.account.id == idea.author.id)
}

/// Loads an idea the user may see, else 404.
pub async fn visible_idea(
    state: &AppState,
    id: i64,
    user: Option<&CurrentUser>,
) -> Result<Idea, AppError> {
    state
        .store
        .idea(id, user.map(|u| u.account.id))
        .await?
        .filter(|i| can_see(i, user))
        .ok_or_else(|| AppError::NotFound(format!("idea {id} not found")))
}

/// A new idea as submitted.
#[derive(Debug, Clone, Default)]
pub struct IdeaInput {
    /// Title.
    pub title: String,
    /// Markdown.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
}

/// Validates and posts an idea: rate-limited per account (staff exempt);
/// queued for approval when the moderation queue is on.
pub async fn post_idea(
    state: &AppState,
    user: &CurrentUser,
    input: &IdeaInput,
) -> Result<Idea, AppError> {
    let title = rules::title(&input.title)?;
    let description = rules::markdown("description", &input.description, MAX_DESCRIPTION_CHARS)?;
    let tags = rules::tags(&input.tags)?;
    let now = state.clock.now_ms();
    let staff = is_staff(user);
    // Counted inside the write's transaction: parallel posts cannot pass it.
    let limit = (!staff).then_some(PostingLimit {
        max: state.config.ideas.ideas_per_hour,
        window_ms: HOUR_MS,
    });
    Ok(state
        .store
        .create_idea(
            &NewIdea {
                author_id: user.account.id,
                title,
                description,
                tags,
                approved: staff || !state.config.ideas.moderation_queue,
            },
            limit,
            now,
        )
        .await?)
}

/// Votes on a visible idea, within the budget.
pub async fn vote(state: &AppState, user: &CurrentUser, id: i64) -> Result<VoteState, AppError> {
    visible_idea(state, id, Some(user)).await?;
    Ok(state
        .store
        .vote(
            id,
            user.account.id,
            state.config.ideas.vote_budget,
            state.clock.now_ms(),
        )
        .await?)
}

/// Withdraws a vote.
pub async fn unvote(state: &AppState, user: &CurrentUser, id: i64) -> Result<VoteState, AppError> {
    visible_idea(state, id, Some(user)).await?;
    Ok(state.store.unvote(id, user.account.id).await?)
}

/// Comments; staff comments are official replies. Rate-limited for viewers.
pub async fn comment(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    body: &str,
) -> Result<IdeaComment, AppError> {
    let body = rules::required_text("body", body, MAX_COMMENT_CHARS)?;
    visible_idea(state, id, Some(user)).await?;
    let now = state.clock.now_ms();
    let staff = is_staff(user);
    let limit = (!staff).then_some(PostingLimit {
        max: state.config.ideas.comments_per_hour,
        window_ms: HOUR_MS,
    });
    Ok(state
        .store
        .add_comment(id, user.account.id, &body, staff, limit, now)
        .await?)
}

/// A status change as asked by staff.
#[derive(Debug, Clone)]
pub struct StatusInput {
    /// New status.
    pub status: String,
    /// Why.
    pub explanation: String,
    /// For `launched`.
    pub release_note_url: Option<String>,
    /// For `duplicate`: the original.
    pub duplicate_of: Option<i64>,
}

fn link_of(state: &AppState, id: i64) -> (String, String) {
    let path = format!("/ideas/{id}");
    let abs = match &state.config.server.public_url {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => path.clone(),
    };
    (path, abs)
}

/// Changes an idea's status (or merges it when the status is `duplicate`),
/// notifying its subscribers in-app and through webhooks. Returns the idea
/// that now carries the votes and the number of accounts notified.
pub async fn change_status(
    state: &AppState,
    staff: &CurrentUser,
    id: i64,
    input: &StatusInput,
) -> Result<(Idea, u64), AppError> {
    let to: IdeaStatus = input.status.trim().parse()?;
    let explanation =
        rules::required_text("explanation", &input.explanation, MAX_EXPLANATION_CHARS)?;
    let release_note_url = match input.release_note_url.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => {
            if to != IdeaStatus::Launched {
                return Err(AppError::invalid(
                    "release_note_url",
                    "only a launch links a release note",
                ));
            }
            Some(rules::url("release_note_url", u)?)
        }
        _ => None,
    };
    let idea = state
        .store
        .idea(id, None)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("idea {id} not found")))?;
    let now = state.clock.now_ms();
    let (path, abs) = link_of(state, id);
    if to == IdeaStatus::Duplicate {
        let original = input.duplicate_of.ok_or_else(|| {
            AppError::invalid("duplicate_of", "a duplicate needs the original's id")
        })?;
        return merge(state, staff, id, original, &explanation).await;
    }
    if input.duplicate_of.is_some() {
        return Err(AppError::invalid(
            "duplicate_of",
            "only a duplicate names an original",
        ));
    }
    let payload = serde_json::json!({
        "event": EVENT_STATUS_CHANGED,
        "idea": {"id": id, "title": idea.title, "url": abs, "author": idea.author.name},
        "from": idea.status,
        "to": to,
        "explanation": explanation,
        "release_note_url": release_note_url,
        "duplicate_of": null,
        "at": now,
    });
    let notice = Notice {
        kind: EVENT_STATUS_CHANGED.into(),
        message: format!(
            "“{}” is now {}: {}",
            idea.title,
            to.label().to_lowercase(),
            explanation
        ),
        link: path,
        event: Some(OutboxEvent {
            event: EVENT_STATUS_CHANGED.into(),
            payload: payload.to_string(),
        }),
    };
    let out = state
        .store
        .change_status(
            &StatusUpdate {
                idea_id: id,
                actor_id: staff.account.id,
                to,
                explanation,
                release_note_url,
                now,
            },
            &notice,
        )
        .await?;
    state.outbox_wake.notify_one();
    Ok(out)
}

/// Merges a duplicate into its original.
pub async fn merge(
    state: &AppState,
    staff: &CurrentUser,
    duplicate: i64,
    original: i64,
    explanation: &str,
) -> Result<(Idea, u64), AppError> {
    let explanation = rules::required_text("explanation", explanation, MAX_EXPLANATION_CHARS)?;
    if duplicate == original {
        return Err(AppError::invalid(
            "duplicate_of",
            format!("idea #{duplicate} cannot be a duplicate of itself"),
        ));
    }
    let dup = state
        .store
        .idea(duplicate, None)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("idea {duplicate} not found")))?;
    let orig = state.store.idea(original, None).await?.ok_or_else(|| {
        AppError::invalid("duplicate_of", format!("there is no idea #{original}"))
    })?;
    let now = state.clock.now_ms();
    let (path, abs) = link_of(state, original);
    let payload = serde_json::json!({
        "event": EVENT_STATUS_CHANGED,
        "idea": {"id": duplicate, "title": dup.title, "url": link_of(state, duplicate).1, "author": dup.author.name},
        "from": dup.status,
        "to": IdeaStatus::Duplicate,
        "explanation": explanation,
        "release_note_url": null,
        "duplicate_of": {"id": original, "title": orig.title, "url": abs},
        "at": now,
    });
    let notice = Notice {
        kind: EVENT_STATUS_CHANGED.into(),
        message: format!(
            "“{}” was merged into “{}” (#{original}); your vote moved with it: {}",
            dup.title, orig.title, explanation
        ),
        link: path,
        event: Some(OutboxEvent {
            event: EVENT_STATUS_CHANGED.into(),
            payload: payload.to_string(),
        }),
    };
    let out = state
        .store
        .merge_idea(
            duplicate,
            original,
            staff.account.id,
            &explanation,
            now,
            &notice,
        )
        .await?;
    state.outbox_wake.notify_one();
    Ok(out)
}

/// Parses a moderation action.
pub fn moderation(action: &str) -> Result<Moderation, AppError> {
    match action {
        "approve" => Ok(Moderation::Approve),
        "hide" => Ok(Moderation::Hide),
        "unhide" => Ok(Moderation::Unhide),
        "lock" => Ok(Moderation::Lock),
        "unlock" => Ok(Moderation::Unlock),
        other => Err(AppError::invalid(
            "action",
            format!("unknown action {other:?}: use approve, hide, unhide, lock or unlock"),
        )),
    }
}
