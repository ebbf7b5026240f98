//! What a title page shows of the library: artwork, synopsis, running
//! time, maturity badge, cast and crew, and for a series its seasons with
//! each episode's progress for the viewing profile.

use super::art::{Art, Picture};
use crate::error::AppError;
use crate::format::clock_label;
use crate::AppState;
use marquee_store::library::LibraryDetail;

pub use crate::format::runtime_label;

/// Someone in the cast.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CastMember {
    /// Name.
    pub name: String,
    /// The character played.
    pub character: Option<String>,
}

/// An episode as the series page lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EpisodeView {
    /// Title id of the episode.
    pub id: i64,
    /// Number within the season.
    pub number: i64,
    /// Name.
    pub name: String,
    /// Synopsis.
    pub synopsis: Option<String>,
    /// `45 min`.
    pub runtime: Option<String>,
    /// How far the profile got, 0–100 (`None`: never started).
    pub progress_pct: Option<i64>,
    /// Played to the end.
    pub played: bool,
    /// The episode's still.
    pub thumb: Option<Picture>,
}

/// A season and its episodes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SeasonView {
    /// Season number (0: specials).
    pub number: i64,
    /// `Season 1`, or the name the catalog gave it.
    pub label: String,
    /// Episodes in order.
    pub episodes: Vec<EpisodeView>,
}

/// The library part of a title page (and of `GET /api/v1/titles/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct LibraryView {
    /// Synopsis.
    pub synopsis: Option<String>,
    /// `1 h 50 min`.
    pub runtime: Option<String>,
    /// `YYYY-MM-DD`.
    pub release_date: Option<String>,
    /// The rating as its system spells it (`PG-13`, `TV-MA`).
    pub maturity: Option<String>,
    /// Its system: `mpaa`, `tv` or `operator`.
    pub maturity_system: Option<String>,
    /// Cast in billing order.
    pub cast: Vec<CastMember>,
    /// Directors.
    pub directors: Vec<String>,
    /// Writers and creators.
    pub writers: Vec<String>,
    /// Language codes.
    pub languages: Vec<String>,
    /// Ids in other databases, e.g. `["tmdb", "603"]`.
    pub external_ids: Vec<(String, String)>,
    /// Portrait key art.
    pub poster: Option<Picture>,
    /// Landscape background.
    pub backdrop: Option<Picture>,
    /// The 1200 × 630 link-preview image.
    pub share_image: Option<Picture>,
    /// Seasons of a series, with episodes.
    pub seasons: Vec<SeasonView>,
    /// `Resume 20:22 · 1 h 30 min left`, when the profile is part-way.
    pub resume: Option<String>,
}

/// Builds the library view of a title for a profile (`None`: logged out).
pub async fn view(
    state: &AppState,
    profile_id: Option<i64>,
    id: i64,
) -> Result<LibraryView, AppError> {
    let lib: LibraryDetail = state.store.library_detail(id).await?.unwrap_or_default();
    let mut ids = vec![id];
    ids.extend(lib.episodes.iter().map(|e| e.id));
    let art = Art::load(state.store.as_ref(), &ids).await?;
    let duration_s: Option<i64> = state.store.title(id).await?.and_then(|t| t.duration_s);
    let people = |roles: &[&str]| -> Vec<String> {
        lib.people
            .iter()
            .filter(|p| roles.contains(&p.role.as_str()))
            .map(|p| p.name.clone())
            .collect()
    };
    let mut seasons: Vec<SeasonView> = Vec::new();
    for (number, name) in &lib.seasons {
        let mut episodes = Vec::new();
        for e in lib.episodes.iter().filter(|e| e.season == *number) {
            let progress = match profile_id {
                Some(p) => state.store.title_progress(p, e.id).await?,
                None => None,
            };
            episodes.push(EpisodeView {
                id: e.id,
                number: e.episode,
                name: e.name.clone(),
                synopsis: e.synopsis.clone(),
                runtime: e.runtime_s.map(runtime_label),
                progress_pct: progress.as_ref().map(|p| {
                    if p.played {
                        100
                    } else if p.duration_ms > 0 {
                        (p.resume_ms * 100 / p.duration_ms).clamp(0, 100)
                    } else {
                        0
                    }
                }),
                played: progress.as_ref().is_some_and(|p| p.played),
                thumb: art.picture(e.id, "thumb", "thumb"),
            });
        }
        if episodes.is_empty() {
            continue;
        }
        seasons.push(SeasonView {
            number: *number,
            label: match name {
                _ if *number == 0 => "Specials".to_owned(),
                Some(n) if !n.trim().is_empty() && !n.contains(&number.to_string()) => {
                    format!("Season {number}: {}", n.trim())
                }
                Some(n) if !n.trim().is_empty() => n.trim().to_owned(),
                _ => format!("Season {number}"),
            },
            episodes,
        });
    }
    let resume = match profile_id {
        Some(p) => state
            .store
            .title_progress(p, id)
            .await?
            .filter(|p| !p.played && p.resume_ms > 0 && p.duration_ms > p.resume_ms)
            .map(|p| {
                format!(
                    "Resume {} · {} left",
                    clock_label(p.resume_ms),
                    runtime_label((p.duration_ms - p.resume_ms) / 1000)
                )
            }),
        None => None,
    };
    Ok(LibraryView {
        synopsis: lib.synopsis.clone(),
        runtime: duration_s.map(runtime_label),
        release_date: lib.release_date.clone(),
        maturity: lib.maturity.as_ref().map(|m| m.code.clone()),
        maturity_system: lib.maturity.as_ref().map(|m| m.system.clone()),
        cast: lib
            .people
            .iter()
            .filter(|p| p.role == "actor")
            .map(|p| CastMember {
                name: p.name.clone(),
                character: p.character.clone(),
            })
            .collect(),
        directors: people(&["director"]),
        writers: people(&["writer", "creator"]),
        languages: lib.languages.clone(),
        external_ids: lib.ids.clone(),
        poster: art.picture(id, "poster", "detail"),
        backdrop: art.picture(id, "backdrop", "backdrop"),
        share_image: art.share(id),
        seasons,
        resume,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_read_like_speech() {
        assert_eq!(runtime_label(6600), "1 h 50 min");
        assert_eq!(runtime_label(2700), "45 min");
        assert_eq!(runtime_label(7200), "2 h");
        assert_eq!(runtime_label(29), "0 min");
    }
}
