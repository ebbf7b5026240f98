//! The library a service brings (#21): `marquee import catalog PATH` and
//! the admin's feed upload. A folder in the Kodi/Jellyfin layout or a JSON
//! Lines feed (`docs/catalog-feed.md`) becomes titles, seasons, episodes,
//! people, media sources and artwork renditions.
//!
//! Parsing is `marquee-catalog`'s and pictures `marquee-artwork`'s (both
//! pure); this module reads the files, keeps every path inside the library
//! folder, turns entries into store rows and reports what happened:
//! added / updated / unchanged, and each rejection with its file, line and
//! field. One bad file never stops the import.

pub mod art;
pub mod editor;
pub mod page;

use crate::import::Progress;
use marquee_catalog::layout::{self, ListedFile, PlannedMedia};
use marquee_catalog::nfo::{self, NfoDoc};
use marquee_catalog::{feed, ArtworkRef, CatalogEntry, EntryKind, Item, Rejection};
use marquee_domain::maturity::{self, OperatorSystem};
use marquee_domain::{Millis, TitleKind};
use marquee_store::library::{
    LibraryItem, LibraryTitle, MediaRow, Outcome, PersonRow, StoredRating,
};
use marquee_store::Store;
use sha2::{Digest, Sha256};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// The most an `.nfo` file may weigh.
const MAX_NFO_BYTES: u64 = 1 << 20;

/// Items written per transaction.
const BATCH: usize = 256;

/// An item turned into rows, waiting for its batch to be written.
struct Pending {
    item: LibraryItem,
    /// Pictures: 0 for the movie or series, `n` for its n-th episode.
    art: Vec<(usize, ArtworkRef)>,
    file: String,
    line: Option<u64>,
}

/// Items waiting to be written, and where their pictures are read.
struct Batch {
    items: Vec<Pending>,
    artwork_base: Option<PathBuf>,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LibraryReport {
    /// `folder` or `feed`.
    pub kind: &'static str,
    /// New titles (movies, series and episodes).
    pub added: u64,
    /// Titles seen before whose metadata changed.
    pub updated: u64,
    /// Titles seen before, as they were.
    pub unchanged: u64,
    /// Artwork renditions written (pictures new or changed).
    pub artwork_written: u64,
    /// Pictures seen before, not resized again.
    pub artwork_unchanged: u64,
    /// Every file, line or field that was not imported, and why.
    pub rejected: Vec<Rejection>,
}

impl LibraryReport {
    fn count(&mut self, o: Outcome) {
        match o {
            Outcome::Added => self.added += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    fn reject(
        &mut self,
        file: &str,
        line: Option<u64>,
        field: Option<&str>,
        msg: impl Into<String>,
    ) {
        self.rejected.push(Rejection {
            file: file.to_owned(),
            line,
            field: field.map(str::to_owned),
            message: msg.into(),
        });
    }
}

/// Why an import could not run at all (a bad file is a rejection, not this).
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The path is missing or unreadable.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] marquee_store::StoreError),
    /// Resizing failed to run (a worker panicked or was cancelled).
    #[error("artwork worker: {0}")]
    Worker(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LibraryError + '_ {
    move |source| LibraryError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What an import needs: the store, where artwork goes, the operator's
/// rating system and the time.
pub struct Importer<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// `<data_dir>/artwork`.
    pub art_dir: PathBuf,
    /// The operator's own ratings, tried before MPAA and TV.
    pub ratings: OperatorSystem,
    /// Now, ms.
    pub now: Millis,
}

impl Importer<'_> {
    /// Imports a folder (Kodi/Jellyfin layout) or a `.jsonl` feed file.
    pub async fn import_path(
        &self,
        path: &Path,
        progress: &mut dyn Progress,
    ) -> Result<LibraryReport, LibraryError> {
        let meta = std::fs::metadata(path).map_err(io(path))?;
        if meta.is_dir() {
            self.import_folder(path, progress).await
        } else {
            let file = std::fs::File::open(path).map_err(io(path))?;
            let base = path.parent().map(Path::to_path_buf);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.import_feed(
                &name,
                std::io::BufReader::new(file),
                base.as_deref(),
                progress,
            )
            .await
        }
    }

    /// Imports a JSON Lines feed read line by line. Artwork paths are read
    /// under `artwork_base` (the feed file's folder); a feed posted to the
    /// API has none, and its artwork fields are reported, not read.
    pub async fn import_feed(
        &self,
        name: &str,
        mut reader: impl BufRead,
        artwork_base: Option<&Path>,
        progress: &mut dyn Progress,
    ) -> Result<LibraryReport, LibraryError> {
        let mut report = LibraryReport {
            kind: "feed",
            ..Default::default()
        };
        progress.phase("feed lines", 0);
        let mut batch = Batch {
            items: Vec::new(),
            artwork_base: artwork_base.map(Path::to_path_buf),
        };
        let mut header_seen = false;
        let mut line_no = 0u64;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(io(Path::new(name)))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let Ok(line) = std::str::from_utf8(&buf) else {
                report.reject(name, Some(line_no), None, "the line is not UTF-8 text");
                continue;
            };
            let line = line.trim_start_matches('\u{feff}');
            if line.trim().is_empty() {
                continue;
            }
            if !header_seen {
                header_seen = true;
                // The header alone: a feed of no items.
                let head = feed::parse_feed(name, line);
                if head.rejections.is_empty() {
                    continue;
                }
                report.rejected.extend(head.rejections);
                return Ok(report);
            }
            match feed::parse_line(name, line_no, line) {
                Ok(item) => {
                    self.write_item(item, name, Some(line_no), &mut batch, &mut report)
                        .await?
                }
                Err(r) => report.rejected.push(r),
            }
            progress.advance(1);
        }
        self.flush(&mut batch, &mut report).await?;
        if !header_seen {
            report.reject(name, Some(1), Some("format"), "the feed is empty: its first line must be the header {\"format\": \"marquee-catalog\", \"version\": 1}");
        }
        progress.finish();
        Ok(report)
    }

    /// Imports a folder in the Kodi/Jellyfin layout.
    pub async fn import_folder(
        &self,
        root: &Path,
        progress: &mut dyn Progress,
    ) -> Result<LibraryReport, LibraryError> {
        let mut report = LibraryReport {
            kind: "folder",
            ..Default::default()
        };
        let root = root.canonicalize().map_err(io(root))?;
        let listing = list_folder(&root, &mut report)?;
        let plan = layout::plan(&listing);
        let mut batch = Batch {
            items: Vec::new(),
            artwork_base: Some(root.clone()),
        };
        progress.phase("titles", (plan.movies.len() + plan.series.len()) as u64);
        for m in &plan.movies {
            let mut entry = match &m.nfo {
                Some(f) => match read_as(&root, f, "<movie>", |d| match d {
                    NfoDoc::Movie(e) => Some(e),
                    _ => None,
                }) {
                    Ok(e) => e,
                    Err(r) => {
                        report.rejected.push(r);
                        progress.advance(1);
                        continue;
                    }
                },
                None => {
                    let mut e = CatalogEntry::new(EntryKind::Movie, m.fallback_name.clone());
                    e.year = m.fallback_year;
                    e
                }
            };
            entry.media = m.media.iter().map(|x| x.path.clone()).collect();
            entry.artwork = m.artwork.clone();
            let item = Item::Movie(entry);
            // Without an .nfo the movie is known by its own folder (its
            // key is the folder holding `file`): `Movies/Film (2024)/`,
            // not `Movies`, which every such movie would share.
            let file = m.nfo.clone().unwrap_or_else(|| format!("{}/", m.folder));
            self.write_folder_item(item, &root, &m.media, &file, &mut batch, &mut report)
                .await?;
            progress.advance(1);
        }
        for s in &plan.series {
            let read = read_as(&root, &s.nfo, "<tvshow>", |d| match d {
                NfoDoc::Series(e, names) => Some((e, names)),
                _ => None,
            });
            let (mut series, season_names) = match read {
                Ok(x) => x,
                Err(r) => {
                    report.rejected.push(r);
                    progress.advance(1);
                    continue;
                }
            };
            series.artwork = s.artwork.clone();
            let mut episodes = Vec::new();
            let mut media: Vec<PlannedMedia> = Vec::new();
            for ep in &s.episodes {
                let mut e = match &ep.nfo {
                    Some(f) => match read_as(&root, f, "<episodedetails>", |d| match d {
                        NfoDoc::Episode(e) => Some(e),
                        _ => None,
                    }) {
                        Ok(e) => e,
                        Err(r) => {
                            report.rejected.push(r);
                            continue;
                        }
                    },
                    None => {
                        let name = ep.media.first().map(|m| stem(&m.path)).unwrap_or_default();
                        CatalogEntry::new(EntryKind::Episode, name)
                    }
                };
                e.season = e.season.or(ep.season_hint);
                e.episode = e.episode.or(ep.episode_hint);
                let (Some(_), Some(_)) = (e.season, e.episode) else {
                    let f = ep.nfo.clone().unwrap_or_default();
                    report.reject(&f, None, Some("episode"), "no season and episode number: give <season> and <episode>, or name the file S01E02");
                    continue;
                };
                e.media = ep.media.iter().map(|x| x.path.clone()).collect();
                e.artwork = ep.artwork.clone();
                media.extend(ep.media.iter().cloned());
                episodes.push(e);
            }
            let item = Item::Series(marquee_catalog::SeriesEntry {
                series,
                season_names,
                episodes,
            });
            self.write_folder_item(item, &root, &media, &s.nfo, &mut batch, &mut report)
                .await?;
            progress.advance(1);
        }
        self.flush(&mut batch, &mut report).await?;
        for f in plan.ignored {
            tracing::debug!(file = %f, "not part of any title");
        }
        progress.finish();
        Ok(report)
    }

    /// Prepares a folder item (media sizes and sidecars from the listing)
    /// and writes the batch when it is full.
    async fn write_folder_item(
        &self,
        item: Item,
        root: &Path,
        media: &[PlannedMedia],
        file: &str,
        batch: &mut Batch,
        report: &mut LibraryReport,
    ) -> Result<(), LibraryError> {
        let sizes: Vec<(String, u64, Vec<String>)> = media
            .iter()
            .map(|m| (m.path.clone(), m.size, m.subtitles.clone()))
            .collect();
        if let Some(p) = self.prepare(item, file, None, &sizes, Some(root), report) {
            batch.items.push(p);
        }
        if batch.items.len() >= BATCH {
            self.flush(batch, report).await?;
        }
        Ok(())
    }

    /// Prepares a feed item and writes the batch when it is full.
    async fn write_item(
        &self,
        item: Item,
        file: &str,
        line: Option<u64>,
        batch: &mut Batch,
        report: &mut LibraryReport,
    ) -> Result<(), LibraryError> {
        if let Some(p) = self.prepare(item, file, line, &[], None, report) {
            batch.items.push(p);
        }
        if batch.items.len() >= BATCH {
            self.flush(batch, report).await?;
        }
        Ok(())
    }

    /// Writes the prepared items in one transaction, then their artwork.
    async fn flush(
        &self,
        batch: &mut Batch,
        report: &mut LibraryReport,
    ) -> Result<(), LibraryError> {
        if batch.items.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut batch.items);
        let rows: Vec<LibraryItem> = pending.iter().map(|p| p.item.clone()).collect();
        let outcomes = self.store.upsert_library_items(&rows, self.now).await?;
        for (p, outcome) in pending.into_iter().zip(outcomes) {
            report.count(outcome.title.1);
            for (_, o) in &outcome.episodes {
                report.count(*o);
            }
            for (which, a) in p.art {
                let id = if which == 0 {
                    outcome.title.0
                } else {
                    match outcome.episodes.get(which - 1) {
                        Some((id, _)) => *id,
                        None => continue,
                    }
                };
                match &batch.artwork_base {
                    Some(base) => {
                        art::import_picture(self, base, id, &a, &p.file, p.line, report).await?
                    }
                    None => report.reject(
                        &p.file,
                        p.line,
                        Some(&format!("artwork.{}", a.kind.as_str())),
                        "a posted feed cannot point at files: upload the picture in the catalog editor, or import the feed with `marquee import catalog` from its folder",
                    ),
                }
            }
        }
        Ok(())
    }

    /// Turns one item into rows (or a rejection when it has no identity).
    fn prepare(
        &self,
        item: Item,
        file: &str,
        line: Option<u64>,
        media: &[(String, u64, Vec<String>)],
        library: Option<&Path>,
        report: &mut LibraryReport,
    ) -> Option<Pending> {
        let library = library.map(|p| p.display().to_string());
        let media_row = |loc: &str| {
            let found = media.iter().find(|(p, _, _)| p == loc);
            MediaRow {
                location: loc.to_owned(),
                library: if loc.contains("://") {
                    None
                } else {
                    library.clone()
                },
                size_bytes: found.and_then(|(_, s, _)| i64::try_from(*s).ok()),
                subtitles: found.map(|(_, _, s)| s.clone()).unwrap_or_default(),
            }
        };
        let (top, season_names, episodes) = match item {
            Item::Movie(e) => (e, Vec::new(), Vec::new()),
            Item::Series(s) => (s.series, s.season_names, s.episodes),
        };
        let key = match top.ids.key() {
            Some(k) => k,
            None => match &library {
                // A folder title without ids is known by its folder.
                Some(_) => format!("path:{}", parent_folder(file)),
                None => {
                    report.reject(file, line, Some("ids"), "give at least one of tmdb, imdb, tvdb: a re-import recognises the title by it");
                    return None;
                }
            },
        };
        let mut art: Vec<(usize, ArtworkRef)> =
            top.artwork.iter().map(|a| (0, a.clone())).collect();
        let title = self.to_row(&key, &top, None, &media_row);
        let mut rows = Vec::with_capacity(episodes.len());
        for e in &episodes {
            let (Some(s), Some(n)) = (e.season, e.episode) else {
                report.reject(
                    file,
                    line,
                    Some("episode"),
                    format!("{}: no season or episode number", e.name),
                );
                continue;
            };
            let ekey = format!("{key}/S{s:02}E{n:02}");
            let sname = season_names
                .iter()
                .find(|(k, _)| *k == s)
                .map(|(_, v)| v.clone());
            rows.push(self.to_row(&ekey, e, Some((i64::from(s), sname)), &media_row));
            art.extend(e.artwork.iter().map(|a| (rows.len(), a.clone())));
        }
        Some(Pending {
            item: LibraryItem {
                title,
                episodes: rows,
            },
            art,
            file: file.to_owned(),
            line,
        })
    }

    fn to_row(
        &self,
        key: &str,
        e: &CatalogEntry,
        season: Option<(i64, Option<String>)>,
        media_row: &dyn Fn(&str) -> MediaRow,
    ) -> LibraryTitle {
        let maturity = e
            .maturity
            .as_deref()
            .and_then(|m| maturity::parse(m, &self.ratings))
            .map(|r| StoredRating {
                code: r.code,
                system: r.system.as_str().to_owned(),
                min_age: i64::from(r.min_age),
            });
        let mut t = LibraryTitle {
            key: key.to_owned(),
            kind: match e.kind {
                EntryKind::Movie => TitleKind::Movie,
                EntryKind::Series => TitleKind::Series,
                EntryKind::Episode => TitleKind::Episode,
            },
            name: e.name.clone(),
            year: e.year.or(e.release_date.map(|d| d.year())),
            synopsis: e.synopsis.clone(),
            runtime_s: e.runtime_s.map(i64::from),
            release_date: e
                .release_date
                .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())),
            maturity,
            available_from: e.available_from,
            available_until: e.available_until,
            genres: e.genres.clone(),
            tags: e.tags.clone(),
            people: e
                .people
                .iter()
                .map(|p| PersonRow {
                    name: p.name.clone(),
                    role: p.role.as_str().to_owned(),
                    character: p.character.clone(),
                })
                .collect(),
            languages: e.languages.clone(),
            ids: [
                ("tmdb", &e.ids.tmdb),
                ("imdb", &e.ids.imdb),
                ("tvdb", &e.ids.tvdb),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), v.clone())))
            .collect(),
            media: e.media.iter().map(|m| media_row(m)).collect(),
            season,
            episode: e.episode.map(i64::from),
            content_hash: String::new(),
        };
        t.content_hash = content_hash(&t);
        t
    }
}

/// sha256 over every field the import writes (rendered with `Debug`, which
/// is stable for these plain structs), so a re-import tells unchanged from
/// updated without comparing column by column.
fn content_hash(t: &LibraryTitle) -> String {
    let mut h = Sha256::new();
    h.update(b"library-title/1\n");
    h.update(format!("{t:?}").as_bytes());
    hex::encode(h.finalize())
}

fn stem(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((s, _)) if !s.is_empty() => s.to_owned(),
        _ => name.to_owned(),
    }
}

fn parent_folder(file: &str) -> &str {
    match file.rsplit_once('/') {
        Some((dir, _)) => dir,
        None => file,
    }
}

/// [`read_nfo`], refusing a file of another kind than the layout expects
/// (`what`: its root element).
fn read_as<T>(
    root: &Path,
    rel: &str,
    what: &str,
    want: impl FnOnce(NfoDoc) -> Option<T>,
) -> Result<T, Rejection> {
    want(read_nfo(root, rel)?).ok_or_else(|| Rejection {
        file: rel.to_owned(),
        line: None,
        field: None,
        message: format!("expected a {what} file here"),
    })
}

/// Reads and parses an `.nfo` of the library (size-checked first).
fn read_nfo(root: &Path, rel: &str) -> Result<NfoDoc, Rejection> {
    let reject = |message: String| Rejection {
        file: rel.to_owned(),
        line: None,
        field: None,
        message,
    };
    let path = inside(root, rel).map_err(reject)?;
    let meta = std::fs::metadata(&path).map_err(|e| reject(e.to_string()))?;
    if meta.len() > MAX_NFO_BYTES {
        return Err(reject(format!(
            "the file is {} bytes; an .nfo may be at most {MAX_NFO_BYTES}",
            meta.len()
        )));
    }
    let bytes = std::fs::read(&path).map_err(|e| reject(e.to_string()))?;
    nfo::parse_nfo(rel, &bytes)
}

/// The absolute path of `rel` under `root`, refused when it escapes it
/// (`..`, an absolute path, or a symbolic link pointing outside).
pub fn inside(root: &Path, rel: &str) -> Result<PathBuf, String> {
    let clean = layout::safe_relative(rel).map_err(|e| format!("{rel}: {e}"))?;
    let path = root.join(&clean);
    let real = path.canonicalize().map_err(|e| format!("{clean}: {e}"))?;
    if !real.starts_with(root) {
        return Err(format!(
            "{clean} leads outside the library folder (a symbolic link?): refused"
        ));
    }
    Ok(real)
}

/// Every file under `root` (relative, `/`-separated). Symbolic links are
/// followed only when they stay inside the folder; the others are reported.
fn list_folder(root: &Path, report: &mut LibraryReport) -> Result<Vec<ListedFile>, LibraryError> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let file = e
                    .path()
                    .and_then(|p| p.strip_prefix(root).ok())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                report.reject(&file, None, None, e.to_string());
                continue;
            }
        };
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if rel.is_empty() {
            continue;
        }
        let ft = entry.file_type();
        if ft.is_symlink() {
            match inside(root, &rel) {
                Ok(real) if real.is_file() => {
                    let size = real.metadata().map(|m| m.len()).unwrap_or(0);
                    out.push(ListedFile { path: rel, size });
                }
                Ok(_) => {}
                Err(e) => report.reject(&rel, None, None, e),
            }
            continue;
        }
        if ft.is_file() {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(ListedFile { path: rel, size });
        }
    }
    Ok(out)
}

/// A feed posted by an admin (`POST /api/v1/staff/catalog/feed`): imported
/// like `marquee import catalog FILE`, without artwork files (a posted feed
/// cannot point at the server's disk); the poster worker then draws posters
/// for the titles that have none. The import is logged with the admin who posted it.
pub async fn import_posted_feed(
    state: &crate::AppState,
    admin: &crate::auth::CurrentUser,
    body: &[u8],
) -> Result<LibraryReport, crate::error::AppError> {
    let now = state.clock.now_ms();
    let importer = Importer {
        store: state.store.as_ref(),
        art_dir: art::dir(&state.config.data_dir),
        ratings: state.config.catalog.operator_system(),
        now,
    };
    let mut progress = crate::import::NoProgress;
    let report = importer
        .import_feed("feed", std::io::Cursor::new(body), None, &mut progress)
        .await
        .map_err(library_error)?;
    if report.added > 0 {
        // New titles get their posters from the worker.
        state.posters_wake.notify_one();
    }
    if report.added + report.updated > 0 {
        state.catalog_changed.notify_one();
    }
    tracing::info!(
        admin = admin.account.id,
        added = report.added,
        updated = report.updated,
        unchanged = report.unchanged,
        rejected = report.rejected.len(),
        "catalog feed imported"
    );
    Ok(report)
}

fn library_error(e: LibraryError) -> crate::error::AppError {
    match e {
        LibraryError::Store(s) => s.into(),
        other => crate::error::AppError::Internal(other.to_string()),
    }
}

/// What a profile may see (`None`: a visitor, who has no limit): the
/// maturity policy (`marquee_domain::maturity`) with the operator's kids
/// genres for unrated titles, and availability windows at the injected
/// clock's now. Every list, page and API of the catalog asks with it.
pub fn visibility(
    state: &crate::AppState,
    profile: Option<&marquee_domain::Profile>,
) -> marquee_store::Visibility {
    let recs = &state.config.recs;
    marquee_store::Visibility {
        audience: marquee_domain::maturity::Audience {
            limit: marquee_domain::maturity::Limit::for_profile(profile.is_some_and(|p| p.is_kids)),
            kids_genres: recs.kids_genres.clone(),
            excluded_genres: recs.kids_excluded_genres.clone(),
        },
        now: Some(state.clock.now_ms()),
    }
}

/// The 404 a profile gets for a title it may not see: the same answer as
/// for a title that does not exist, so nothing tells the two apart.
pub async fn check_visible(
    state: &crate::AppState,
    profile: Option<&marquee_domain::Profile>,
    id: i64,
) -> Result<(), crate::error::AppError> {
    visible_or_404(state, &visibility(state, profile), id).await
}

/// [`visibility`] for an API caller: its session's selected profile, if any.
pub async fn visibility_for(
    state: &crate::AppState,
    user: Option<&crate::auth::CurrentUser>,
) -> Result<marquee_store::Visibility, crate::error::AppError> {
    let profile = match user.and_then(|u| u.profile_id) {
        Some(id) => state.store.profile(id).await?,
        None => None,
    };
    Ok(visibility(state, profile.as_ref()))
}

/// [`check_visible`] for an API caller (its session's selected profile).
pub async fn check_visible_for(
    state: &crate::AppState,
    user: &crate::auth::CurrentUser,
    id: i64,
) -> Result<(), crate::error::AppError> {
    let v = visibility_for(state, Some(user)).await?;
    visible_or_404(state, &v, id).await
}

async fn visible_or_404(
    state: &crate::AppState,
    v: &marquee_store::Visibility,
    id: i64,
) -> Result<(), crate::error::AppError> {
    if state.store.visible_titles(&[id], v).await?.contains(&id) {
        Ok(())
    } else {
        Err(crate::error::AppError::NotFound(format!(
            "title {id} not found"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_folders() {
        assert_eq!(stem("Shows/A/Season 01/A - S01E01.mkv"), "A - S01E01");
        assert_eq!(
            parent_folder("Movies/X (2001)/movie.nfo"),
            "Movies/X (2001)"
        );
    }
}
