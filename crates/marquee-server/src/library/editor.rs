//! The staff catalog editor (admins): create titles, seasons and episodes,
//! edit their fields, maturity and availability window, hide them, upload
//! artwork. Every change is checked by `marquee_domain::catalog::check`
//! and recorded in plain language (`describe_changes`) in the title's
//! audit trail, in the same transaction as the change.
//!
//! A title imported from a library stays linked to it: a later import of a
//! changed entry writes the source's fields again; an unchanged entry
//! leaves the editor's changes in place.

use super::art::{self, Art};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::format::fmt_time;
use crate::AppState;
use marquee_artwork::{self as artwork, Size};
use marquee_catalog::ArtKind;
use marquee_domain::catalog::{self as rules, TitleFields};
use marquee_domain::maturity;
use marquee_domain::{Millis, TitleKind};
use marquee_store::library::{CatalogAuditEntry, EditorRow, NewTitle, StoredRating};
use sha2::{Digest, Sha256};

/// A page of the editor's list.
pub const PAGE: u32 = 50;

/// Movies and series whose name contains `q`, newest first, hidden ones
/// included; one more than [`PAGE`] tells that another page follows.
pub async fn list(state: &AppState, q: &str, page: u32) -> Result<Vec<EditorRow>, AppError> {
    let page = page.clamp(1, 100_000);
    Ok(state
        .store
        .editor_titles(q, PAGE + 1, (page - 1) * PAGE)
        .await?)
}

/// A title's kind and fields, or 404.
pub async fn fields(state: &AppState, id: i64) -> Result<(TitleKind, TitleFields), AppError> {
    state
        .store
        .title_fields(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("title {id} not found")))
}

/// The stored form of a checked rating code.
fn stored(state: &AppState, code: Option<&str>) -> Option<StoredRating> {
    let r = maturity::parse(code?, &state.config.catalog.operator_system())?;
    Some(StoredRating {
        code: r.code,
        system: r.system.as_str().to_owned(),
        min_age: i64::from(r.min_age),
    })
}

/// Saves an edit: checks it, writes it with its audit entry, tells the
/// recommender's catalog. Returns the sentences the audit trail got (none
/// when nothing changed: then nothing is written).
pub async fn edit(
    state: &AppState,
    admin: &CurrentUser,
    id: i64,
    input: TitleFields,
) -> Result<Vec<String>, AppError> {
    let (_, before) = fields(state, id).await?;
    let after = rules::check(input, &state.config.catalog.operator_system())?;
    let changes = rules::describe_changes(&before, &after, fmt_time);
    if changes.is_empty() {
        return Ok(changes);
    }
    let rating = stored(state, after.maturity.as_deref());
    let found = state
        .store
        .edit_title(
            id,
            &after,
            rating.as_ref(),
            admin.account.id,
            &changes.join("\n"),
            state.clock.now_ms(),
        )
        .await?;
    if !found {
        return Err(AppError::NotFound(format!("title {id} not found")));
    }
    state.catalog_changed.notify_one();
    Ok(changes)
}

/// Creates a movie, a series, or an episode of a series (its season is
/// made when missing). New titles get a generated poster from the poster
/// worker until one is uploaded.
pub async fn create(
    state: &AppState,
    admin: &CurrentUser,
    kind: TitleKind,
    input: TitleFields,
    episode_of: Option<(i64, i64, i64)>,
) -> Result<i64, AppError> {
    let fields = rules::check(input, &state.config.catalog.operator_system())?;
    match (kind, episode_of) {
        (TitleKind::Episode, None) => {
            return Err(AppError::invalid(
                "series_id",
                "an episode needs its series, season and episode number",
            ))
        }
        (TitleKind::Episode, Some((_, season, episode))) => {
            if !(0..=1000).contains(&season) {
                return Err(AppError::invalid("season", "must be 0 (specials) to 1000"));
            }
            if !(1..=10_000).contains(&episode) {
                return Err(AppError::invalid("episode", "must be 1 to 10000"));
            }
        }
        (_, Some(_)) => {
            return Err(AppError::invalid(
                "series_id",
                "only an episode belongs to a series",
            ))
        }
        (_, None) => {}
    }
    let rating = stored(state, fields.maturity.as_deref());
    let id = state
        .store
        .create_title(
            &NewTitle {
                kind,
                fields,
                rating,
                episode_of,
            },
            admin.account.id,
            state.clock.now_ms(),
        )
        .await?;
    state.posters_wake.notify_one();
    state.catalog_changed.notify_one();
    Ok(id)
}

/// The largest picture accepted from an upload (as from a library).
pub const MAX_UPLOAD: usize = art::MAX_PICTURE_BYTES as usize;

/// Replaces a title's poster, backdrop or still with an uploaded picture:
/// decoded under the same limits as an imported one, resized into the
/// renditions pages use, recorded in the audit trail. Returns the sizes
/// written.
pub async fn upload_artwork(
    state: &AppState,
    admin: &CurrentUser,
    id: i64,
    kind: ArtKind,
    bytes: Vec<u8>,
) -> Result<Vec<(String, u32, u32)>, AppError> {
    fields(state, id).await?;
    if bytes.len() > MAX_UPLOAD {
        return Err(AppError::invalid(
            "file",
            format!(
                "the picture is {:.1} MB; the most accepted is 20 MB",
                bytes.len() as f64 / 1e6
            ),
        ));
    }
    let source_hash = hex::encode(Sha256::digest(&bytes));
    let made = tokio::task::spawn_blocking(
        move || -> Result<Vec<(Size, artwork::Rendition)>, artwork::ArtError> {
            let img = artwork::decode(&bytes)?;
            artwork::renditions_for(kind.as_str())
                .iter()
                .map(|s| Ok((*s, artwork::render(&img, *s)?)))
                .collect()
        },
    )
    .await
    .map_err(|e| AppError::Internal(format!("artwork worker: {e}")))?
    .map_err(|e| AppError::invalid("file", e.to_string()))?;
    let dir = art::dir(&state.config.data_dir);
    let rows = art::store_files(&dir, id, kind.as_str(), &source_hash, "uploaded", &made)
        .map_err(|e| AppError::Internal(format!("artwork files: {e}")))?;
    let now: Millis = state.clock.now_ms();
    state.store.set_artwork(&rows, now).await?;
    let sizes: Vec<(String, u32, u32)> = made
        .iter()
        .map(|(s, r)| (s.name().to_owned(), r.width, r.height))
        .collect();
    let largest = made
        .iter()
        .map(|(_, r)| (r.width, r.height))
        .max()
        .unwrap_or((0, 0));
    state
        .store
        .record_catalog_action(
            id,
            admin.account.id,
            "artwork",
            &format!(
                "New {} uploaded ({} × {} at most)",
                kind.as_str(),
                largest.0,
                largest.1
            ),
            now,
        )
        .await?;
    state.catalog_changed.notify_one();
    Ok(sizes)
}

/// A title's audit trail, newest first.
pub async fn audit(state: &AppState, id: i64) -> Result<Vec<CatalogAuditEntry>, AppError> {
    fields(state, id).await?;
    Ok(state.store.catalog_audit(id, 100).await?)
}

/// What viewers get when they press Play on a movie or an episode, in
/// words, for the editor ("Plays …mkv from the library folder, with
/// subtitles: English."); `None` for a series.
pub async fn playback_status(state: &AppState, id: i64) -> Result<Option<String>, AppError> {
    let Some(t) = state.store.playable_title(id).await? else {
        return Ok(None);
    };
    if t.kind == TitleKind::Series {
        return Ok(None);
    }
    let scanned = state.store.media_sources(id).await?;
    Ok(Some(match crate::playback::media_for(state, &t).await? {
        Some(file) => {
            let name = file
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let from = if t.media_path.is_some() {
                "the media directory"
            } else {
                "its library folder"
            };
            let how = crate::media::how_it_plays(state, &file.path).await?;
            let subs: Vec<String> = file.subtitles.into_iter().map(|s| s.label).collect();
            if subs.is_empty() {
                format!("Plays {name} from {from}, without subtitles. {how}")
            } else {
                format!(
                    "Plays {name} from {from}, with subtitles: {}. {how}",
                    subs.join(", ")
                )
            }
        }
        None => match (t.media_path.as_deref(), scanned.first()) {
            (Some(rel), _) => format!(
                "The media file {rel} is not in the media directory: viewers get the simulated player until it is back."
            ),
            (None, Some(m)) if m.location.contains("://") => format!(
                "Its media is a stream ({}), which the player does not play yet: viewers get the simulated player.",
                m.location
            ),
            (None, Some(m)) => format!(
                "The scanned file {} is no longer in its library folder: viewers get the simulated player until it is back or the folder is scanned again.",
                m.location
            ),
            (None, None) => "No media file: viewers get the simulated player. Scan a library folder with marquee import catalog, or set a file in the media directory.".into(),
        },
    }))
}

/// Playback on this server, for the catalog page (ffmpeg, ffprobe,
/// unreadable files).
pub async fn media_health(state: &AppState) -> Result<crate::media::MediaHealth, AppError> {
    crate::media::health(state).await
}

/// The editor's view of a title's pictures.
pub async fn pictures(state: &AppState, id: i64) -> Result<Art, AppError> {
    Ok(Art::load(state.store.as_ref(), &[id]).await?)
}

/// The rating codes an editor may pick, youngest first per system:
/// the operator's own first.
pub fn rating_codes(state: &AppState) -> Vec<String> {
    let mut out: Vec<String> = state
        .config
        .catalog
        .ratings
        .iter()
        .map(|(c, _)| c.clone())
        .collect();
    out.extend(maturity::MPAA.iter().map(|(c, _)| (*c).to_owned()));
    out.extend(maturity::TV.iter().map(|(c, _)| (*c).to_owned()));
    out
}
