//! Importing MovieLens directories into the store: the demo catalog and
//! `marquee import movielens DIR`.
//!
//! Idempotent: a second run writes nothing and reports every row unchanged.
//! Malformed rows are reported with file, line and reason; the import goes on.

use marquee_domain::Millis;
use marquee_movielens::{self as ml, Layout, RowError};
use marquee_store::{ImportCounts, ImportLink, ImportRating, ImportTag, ImportTitle, Store};
use std::collections::BTreeSet;
use std::path::Path;

pub mod sample_series;
pub use sample_series::import_sample_series;

/// Receives progress; the CLI draws it as a progress bar.
pub trait Progress: Send {
    /// A new phase with this many units of work.
    fn phase(&mut self, name: &str, total: u64);
    /// Units done in the current phase.
    fn advance(&mut self, n: u64);
    /// The import is over.
    fn finish(&mut self) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn phase(&mut self, _: &str, _: u64) {}
    fn advance(&mut self, _: u64) {}
}

/// What an import did, per file.
#[derive(Debug, Default, Clone)]
pub struct ImportReport {
    /// The detected layout.
    pub layout: Option<&'static str>,
    /// Titles.
    pub titles: ImportCounts,
    /// Demo viewer accounts.
    pub viewers: ImportCounts,
    /// Ratings (history and thumbs).
    pub ratings: ImportCounts,
    /// Tags.
    pub tags: ImportCounts,
    /// Links.
    pub links: ImportCounts,
    /// Every malformed row.
    pub errors: Vec<RowError>,
}

impl ImportReport {
    /// Sum over all files.
    pub fn total(&self) -> ImportCounts {
        let mut t = ImportCounts::default();
        for c in [
            self.titles,
            self.viewers,
            self.ratings,
            self.tags,
            self.links,
        ] {
            t += c;
        }
        t.rejected += self.errors.len() as u64;
        t
    }
}

/// Import errors.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not a MovieLens directory.
    #[error("{0}: no MovieLens files found (expected movies.csv+ratings.csv, u.item+u.data, or movies.dat+ratings.dat)")]
    UnknownLayout(String),
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] marquee_store::StoreError),
}

const BATCH: usize = 5_000;

fn read(dir: &Path, name: &str) -> Result<String, ImportError> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|source| ImportError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(ml::decode(&bytes).into_owned())
}

/// Imports a MovieLens directory. `viewer_hash` is the argon2id hash every demo
/// viewer account gets (hashed once: 610 hashes would take seconds).
pub async fn import_movielens(
    store: &dyn Store,
    dir: &Path,
    viewer_hash: &str,
    now: Millis,
    progress: &mut dyn Progress,
) -> Result<ImportReport, ImportError> {
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|source| ImportError::Io {
            path: dir.display().to_string(),
            source,
        })?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let layout = Layout::detect(&names)
        .ok_or_else(|| ImportError::UnknownLayout(dir.display().to_string()))?;
    let source = layout.id_space();
    let mut report = ImportReport {
        layout: Some(match layout {
            Layout::LatestCsv => "ml-latest",
            Layout::Ml100k => "ml-100k",
            Layout::Ml1m => "ml-1m",
        }),
        ..Default::default()
    };

    let movies = ml::parse_movies(layout, &read(dir, layout.movies_file())?);
    report.errors.extend(movies.errors);
    let titles: Vec<ImportTitle> = movies
        .rows
        .into_iter()
        .map(|(_, m)| ImportTitle {
            external_id: m.id,
            name: m.title,
            year: m.year,
            genres: m.genres,
        })
        .collect();
    progress.phase("titles", titles.len() as u64);
    for chunk in titles.chunks(BATCH) {
        report.titles += store.import_titles(source, chunk, now).await?;
        progress.advance(chunk.len() as u64);
    }

    let ratings = ml::parse_ratings(layout, &read(dir, layout.ratings_file())?);
    report.errors.extend(ratings.errors);
    // A viewer account only for users with at least one rating of a known title.
    let known: BTreeSet<i64> = titles.iter().map(|t| t.external_id).collect();
    let users: Vec<i64> = ratings
        .rows
        .iter()
        .filter(|(_, r)| known.contains(&r.movie))
        .map(|(_, r)| r.user)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    progress.phase("viewers", users.len() as u64);
    report.viewers += store
        .import_viewers(source, &users, viewer_hash, now)
        .await?;
    progress.advance(users.len() as u64);

    let rows: Vec<ImportRating> = ratings
        .rows
        .iter()
        .map(|(_, r)| ImportRating {
            external_user: r.user,
            external_title: r.movie,
            stars: r.rating,
            at: r.timestamp.saturating_mul(1000),
        })
        .collect();
    progress.phase("ratings", rows.len() as u64);
    for chunk in rows.chunks(BATCH) {
        report.ratings += store.import_ratings(source, chunk).await?;
        progress.advance(chunk.len() as u64);
    }

    if let Some(f) = layout.tags_file().filter(|f| names.iter().any(|n| n == f)) {
        let tags = ml::parse_tags(&read(dir, f)?);
        report.errors.extend(tags.errors);
        let rows: Vec<ImportTag> = tags
            .rows
            .into_iter()
            .map(|(_, t)| ImportTag {
                external_title: t.movie,
                external_user: t.user,
                tag: t.tag,
                at: t.timestamp.saturating_mul(1000),
            })
            .collect();
        progress.phase("tags", rows.len() as u64);
        for chunk in rows.chunks(BATCH) {
            report.tags += store.import_tags(source, chunk).await?;
            progress.advance(chunk.len() as u64);
        }
    }
    if let Some(f) = layout.links_file().filter(|f| names.iter().any(|n| n == f)) {
        let links = ml::parse_links(&read(dir, f)?);
        report.errors.extend(links.errors);
        let rows: Vec<ImportLink> = links
            .rows
            .into_iter()
            .map(|(_, l)| ImportLink {
                external_title: l.movie,
                imdb: l.imdb,
                tmdb: l.tmdb,
            })
            .collect();
        progress.phase("links", rows.len() as u64);
        for chunk in rows.chunks(BATCH) {
            report.links += store.import_links(source, chunk).await?;
            progress.advance(chunk.len() as u64);
        }
    }
    progress.phase("popularity", 1);
    store.refresh_title_stats().await?;
    progress.advance(1);
    progress.finish();
    Ok(report)
}
