//! Artwork files: pictures of the library resized into the renditions
//! pages need, the demo's generated posters, and what pages and the
//! `/art/{etag}.jpg` route read.
//!
//! A rendition is stored once as `<data_dir>/artwork/<etag>.jpg`, where
//! the etag is a hash of its bytes: the URL changes whenever the picture
//! does, so the route can send `immutable` cache headers and a strong ETag.

use super::{Importer, LibraryError, LibraryReport};
use crate::import::Progress;
use marquee_artwork::{self as artwork, Size};
use marquee_catalog::ArtworkRef;
use marquee_store::library::{ArtworkRow, Posterless};
use marquee_store::Store;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The largest picture file read (bigger ones are refused unread).
pub const MAX_PICTURE_BYTES: u64 = 20 * 1024 * 1024;

/// Generated posters' version: a new design changes every source hash, so
/// posters are made again.
const GENERATED: &str = "generated-poster/1";

/// The folder renditions live in.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("artwork")
}

/// Only names this module made are served: 32 hex digits.
pub fn is_etag(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The file of a rendition.
pub fn file_of(art_dir: &Path, etag: &str) -> Option<PathBuf> {
    is_etag(etag).then(|| art_dir.join(format!("{etag}.jpg")))
}

/// Writes renditions to files (`.part`, then renamed: a reader never sees
/// half a picture) and returns their rows.
pub(crate) fn store_files(
    art_dir: &Path,
    title_id: i64,
    kind: &str,
    source_hash: &str,
    origin: &str,
    renditions: &[(Size, artwork::Rendition)],
) -> std::io::Result<Vec<ArtworkRow>> {
    std::fs::create_dir_all(art_dir)?;
    let mut rows = Vec::with_capacity(renditions.len());
    for (size, r) in renditions {
        let path = art_dir.join(format!("{}.jpg", r.etag));
        if !path.exists() {
            // A name of its own per writer: another process (a server's
            // poster worker beside `marquee import catalog`) may be writing
            // the same picture at the same time.
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let part = art_dir.join(format!("{}.jpg.{}-{n}.part", r.etag, std::process::id()));
            std::fs::write(&part, &r.bytes)?;
            if let Err(e) = std::fs::rename(&part, &path) {
                let _ = std::fs::remove_file(&part);
                if !path.exists() {
                    return Err(e);
                }
            }
        }
        rows.push(ArtworkRow {
            title_id,
            kind: kind.to_owned(),
            size: size.name().to_owned(),
            width: i64::from(r.width),
            height: i64::from(r.height),
            etag: r.etag.clone(),
            source_hash: source_hash.to_owned(),
            origin: origin.to_owned(),
        });
    }
    Ok(rows)
}

/// Reads one picture of the library, and unless the title already has
/// renditions of that very picture, resizes and stores it. A picture that
/// escapes the folder, is too large, is not an image or is a decompression
/// bomb is a rejection naming the field.
pub(super) async fn import_picture(
    imp: &Importer<'_>,
    base: &Path,
    title_id: i64,
    a: &ArtworkRef,
    file: &str,
    line: Option<u64>,
    report: &mut LibraryReport,
) -> Result<(), LibraryError> {
    let field = format!("artwork.{}", a.kind.as_str());
    let base = match base.canonicalize() {
        Ok(b) => b,
        Err(e) => {
            report.reject(file, line, Some(&field), e.to_string());
            return Ok(());
        }
    };
    let path = match super::inside(&base, &a.path) {
        Ok(p) => p,
        Err(e) => {
            report.reject(file, line, Some(&field), e);
            return Ok(());
        }
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_PICTURE_BYTES {
        report.reject(
            file,
            line,
            Some(&field),
            format!(
                "{}: the file is {:.1} MB; the most accepted is 20 MB",
                a.path,
                size as f64 / 1e6
            ),
        );
        return Ok(());
    }
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            report.reject(file, line, Some(&field), format!("{}: {e}", a.path));
            return Ok(());
        }
    };
    let source_hash = hex::encode(Sha256::digest(&bytes));
    let kind = a.kind.as_str();
    if imp.store.artwork_source(title_id, kind).await?.as_deref() == Some(source_hash.as_str()) {
        report.artwork_unchanged += 1;
        return Ok(());
    }
    let made = tokio::task::spawn_blocking(
        move || -> Result<Vec<(Size, artwork::Rendition)>, artwork::ArtError> {
            let img = artwork::decode(&bytes)?;
            artwork::renditions_for(kind)
                .iter()
                .map(|s| Ok((*s, artwork::render(&img, *s)?)))
                .collect()
        },
    )
    .await
    .map_err(|e| LibraryError::Worker(e.to_string()))?;
    let renditions = match made {
        Ok(r) => r,
        Err(e) => {
            report.reject(file, line, Some(&field), format!("{}: {e}", a.path));
            return Ok(());
        }
    };
    let rows = store_files(
        &imp.art_dir,
        title_id,
        kind,
        &source_hash,
        "imported",
        &renditions,
    )
    .map_err(|source| LibraryError::Io {
        path: imp.art_dir.display().to_string(),
        source,
    })?;
    report.artwork_written += rows.len() as u64;
    imp.store.set_artwork(&rows, imp.now).await?;
    Ok(())
}

/// Makes a typographic poster for every movie and series that has none
/// (the demo catalog, titles imported without pictures), on every core.
/// Returns how many titles got one.
pub async fn generate_posters(
    store: &dyn Store,
    art_dir: &Path,
    now: i64,
    progress: &mut dyn Progress,
) -> Result<u64, LibraryError> {
    const BATCH: u32 = 256;
    let mut after = 0i64;
    let mut made = 0u64;
    progress.phase("posters", 0);
    loop {
        let batch = store.posterless(after, BATCH).await?;
        let Some(last) = batch.last() else {
            break;
        };
        after = last.id;
        let dir = art_dir.to_path_buf();
        let rows = tokio::task::spawn_blocking(move || poster_rows(&dir, &batch))
            .await
            .map_err(|e| LibraryError::Worker(e.to_string()))?
            .map_err(|source| LibraryError::Io {
                path: art_dir.display().to_string(),
                source,
            })?;
        made += rows.len() as u64 / GENERATED_SIZES.len() as u64;
        store.set_artwork(&rows, now).await?;
        progress.advance(BATCH.into());
    }
    progress.finish();
    Ok(made)
}

/// The renditions of a generated poster: the card only. Drawing and
/// encoding the larger sizes costs about ten times as much, and a
/// typographic poster gains little from them (title pages fall back to the
/// card; link previews then show a small card instead of a large image).
const GENERATED_SIZES: [Size; 1] = [Size::Card];

/// How often the poster worker looks for titles without a picture when
/// nobody woke it (titles imported by another process).
const POSTER_POLL: std::time::Duration = std::time::Duration::from_secs(300);

/// The poster worker, started by `launch`: makes posters for titles without
/// a picture at start (the demo's first start: about half a minute on two
/// cores for ten thousand titles, while the server already answers, cards
/// showing their colour tiles until then), whenever an import wakes it, and
/// every few minutes.
pub fn spawn_poster_worker(state: crate::AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !state.config.catalog.generate_posters {
            return;
        }
        loop {
            let dir = dir(&state.config.data_dir);
            let mut progress = crate::import::NoProgress;
            state.metrics.poster_worker_busy.set(1);
            let outcome = generate_posters(
                state.store.as_ref(),
                &dir,
                state.clock.now_ms(),
                &mut progress,
            )
            .await;
            state.metrics.poster_worker_busy.set(0);
            match outcome {
                Ok(0) => {}
                Ok(n) => {
                    state.metrics.posters_generated.inc_by(n);
                    tracing::info!(titles = n, "generated posters");
                    state.catalog_changed.notify_one();
                }
                Err(e) => tracing::warn!(error = %e, "could not generate posters"),
            }
            tokio::select! {
                _ = state.posters_wake.notified() => {}
                _ = tokio::time::sleep(POSTER_POLL) => {}
            }
        }
    })
}

fn poster_rows(dir: &Path, batch: &[Posterless]) -> std::io::Result<Vec<ArtworkRow>> {
    use rayon::prelude::*;
    let made: Vec<std::io::Result<Vec<ArtworkRow>>> = batch
        .par_iter()
        .map(|t| {
            let title = artwork::display_title(&t.name);
            let spec = artwork::PosterSpec {
                title: &title,
                year: t.year,
                genre: t.genre.as_deref(),
                seed: t.id as u64,
            };
            let source_hash = {
                let mut h = Sha256::new();
                h.update(format!(
                    "{GENERATED}\n{title}\n{:?}\n{:?}\n{}",
                    t.year, t.genre, t.id
                ));
                hex::encode(h.finalize())
            };
            let mut renditions = Vec::with_capacity(GENERATED_SIZES.len());
            for size in GENERATED_SIZES {
                let (w, h) = size.dimensions();
                let img = artwork::poster_at(&spec, w, h).map_err(std::io::Error::other)?;
                renditions.push((
                    size,
                    artwork::encode_jpeg(&img).map_err(std::io::Error::other)?,
                ));
            }
            store_files(dir, t.id, "poster", &source_hash, "generated", &renditions)
        })
        .collect();
    let mut rows = Vec::new();
    for r in made {
        rows.extend(r?);
    }
    Ok(rows)
}

/// The renditions of a set of titles, as pages use them.
#[derive(Debug, Default, Clone)]
pub struct Art {
    by_title: HashMap<i64, Vec<ArtworkRow>>,
}

/// One picture for a page: its URL, size and a `srcset` of the larger one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Picture {
    /// `/art/<etag>.jpg`.
    pub src: String,
    /// Pixels.
    pub width: i64,
    /// Pixels.
    pub height: i64,
    /// `srcset`: this rendition and a larger one of the same picture, when any.
    pub srcset: String,
}

impl Art {
    /// Reads the renditions of these titles.
    pub async fn load(store: &dyn Store, ids: &[i64]) -> Result<Art, marquee_store::StoreError> {
        let mut by_title: HashMap<i64, Vec<ArtworkRow>> = HashMap::new();
        for chunk in ids.chunks(500) {
            for r in store.artwork_of(chunk).await? {
                by_title.entry(r.title_id).or_default().push(r);
            }
        }
        Ok(Art { by_title })
    }

    fn find(&self, id: i64, kind: &str, size: &str) -> Option<&ArtworkRow> {
        self.by_title
            .get(&id)?
            .iter()
            .find(|r| r.kind == kind && r.size == size)
    }

    /// A title's picture of `kind` at `size` (a poster's card when it has
    /// no detail rendition), with the next size up in its srcset.
    pub fn picture(&self, id: i64, kind: &str, size: &str) -> Option<Picture> {
        let r = self.find(id, kind, size).or_else(|| match (kind, size) {
            ("poster", "detail") => self.find(id, "poster", "card"),
            _ => None,
        })?;
        let src = url(&r.etag);
        let larger = match (kind, size) {
            ("poster", "card") => self.find(id, "poster", "detail"),
            _ => None,
        };
        let mut srcset = format!("{src} {}w", r.width);
        if let Some(l) = larger {
            srcset.push_str(&format!(", {} {}w", url(&l.etag), l.width));
        }
        Some(Picture {
            src,
            width: r.width,
            height: r.height,
            srcset,
        })
    }

    /// The card poster.
    pub fn card(&self, id: i64) -> Option<Picture> {
        self.picture(id, "poster", "card")
    }

    /// The card poster as cards show it.
    pub fn card_art(&self, id: &i64) -> Option<CardArt> {
        let card = self.find(*id, "poster", "card")?;
        let detail = self.find(*id, "poster", "detail");
        Some(CardArt::new(&card.etag, detail.map(|d| d.etag.as_str())))
    }

    /// The share image: the backdrop's, else the poster's.
    pub fn share(&self, id: i64) -> Option<Picture> {
        self.picture(id, "backdrop", "share")
            .or_else(|| self.picture(id, "poster", "share"))
    }
}

/// A card's poster: the card rendition, with the detail one in its srcset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CardArt {
    /// `/art/<etag>.jpg`, 342 px wide.
    pub src: String,
    /// `srcset` with the 780 px rendition, when there is one (generated
    /// posters have the card size only, and their cards carry no `srcset`:
    /// 220 cards on a home page, every byte counts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srcset: Option<String>,
}

impl CardArt {
    /// From the card and detail renditions' etags.
    pub fn new(card: &str, detail: Option<&str>) -> CardArt {
        let src = url(card);
        let srcset = detail.map(|d| format!("{src} 342w, {} 780w", url(d)));
        CardArt { src, srcset }
    }
}

/// What a share landing page shows of a title: the link-preview image as
/// an absolute URL under `origin` with whether it is the large one, and the
/// poster for the page itself.
pub async fn share_pictures(
    state: &crate::AppState,
    id: i64,
    origin: &str,
) -> Result<(Option<(String, bool)>, Option<Picture>), marquee_store::StoreError> {
    let art = Art::load(state.store.as_ref(), &[id]).await?;
    let og = match art.share(id) {
        Some(p) => Some((format!("{origin}{}", p.src), true)),
        None => art.card(id).map(|p| (format!("{origin}{}", p.src), false)),
    };
    Ok((og, art.picture(id, "poster", "detail")))
}

/// The URL of a rendition.
pub fn url(etag: &str) -> String {
    format!("/art/{etag}.jpg")
}

/// `GET /art/{etag}.jpg`: a rendition, with a strong ETag and immutable
/// caching (its name is its content's hash). `If-None-Match` with the same
/// tag gets a 304 without reading the file.
pub async fn serve(
    state: &crate::AppState,
    file: &str,
    if_none_match: Option<&str>,
) -> Result<axum::response::Response, crate::error::AppError> {
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    let not_found = || crate::error::AppError::NotFound(format!("no picture {file}"));
    let etag = file.strip_suffix(".jpg").ok_or_else(not_found)?;
    let path = file_of(&dir(&state.config.data_dir), etag).ok_or_else(not_found)?;
    let tag = format!("\"{etag}\"");
    let headers = |h: &mut axum::http::HeaderMap| {
        if let Ok(v) = HeaderValue::from_str(&tag) {
            h.insert(header::ETAG, v);
        }
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    };
    let matches = if_none_match.is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().trim_start_matches("W/") == tag || t.trim() == "*")
    });
    if matches && state.store.artwork_exists(etag).await? {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        headers(resp.headers_mut());
        return Ok(resp);
    }
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => {
            return Err(crate::error::AppError::Internal(format!(
                "artwork {etag}: {e}"
            )))
        }
    };
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers(h);
    Ok(resp)
}
