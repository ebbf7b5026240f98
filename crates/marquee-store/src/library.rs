//! Storage for a library the operator brings (#21): titles with their
//! metadata written by the catalog import (keyed by `catalog_key`, so a
//! re-import updates in place and never loses history or thumbs tied to a
//! title), artwork renditions, media sources, and what title pages read back.

use crate::Result;
use async_trait::async_trait;
use marquee_domain::catalog::TitleFields;
use marquee_domain::{Millis, TitleKind};

/// A rating as stored: the code, its system and the youngest age it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRating {
    /// `PG-13`, `TV-MA`.
    pub code: String,
    /// `mpaa`, `tv`, `operator`.
    pub system: String,
    /// The youngest age it is meant for.
    pub min_age: i64,
}

/// Someone in the cast or crew, in billing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    /// Name.
    pub name: String,
    /// `actor`, `director`, `writer`, `creator`.
    pub role: String,
    /// The character played.
    pub character: Option<String>,
}

/// A media file (or URL) of a movie or episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRow {
    /// Relative to the library folder, or a URL.
    pub location: String,
    /// The library folder it was scanned from (absolute), when scanned.
    pub library: Option<String>,
    /// Size in bytes, when known.
    pub size_bytes: Option<i64>,
    /// Sidecar subtitle files, relative like `location`.
    pub subtitles: Vec<String>,
}

/// What the import writes for one title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryTitle {
    /// Identity across imports (`tmdb:603`; an episode's is its series' key
    /// with `/S01E02`).
    pub key: String,
    /// Movie, series or episode.
    pub kind: TitleKind,
    /// Display name.
    pub name: String,
    /// Release year.
    pub year: Option<i32>,
    /// Synopsis.
    pub synopsis: Option<String>,
    /// Running time, s.
    pub runtime_s: Option<i64>,
    /// `YYYY-MM-DD`.
    pub release_date: Option<String>,
    /// The rating, when the source gave one the domain knows.
    pub maturity: Option<StoredRating>,
    /// Availability window, ms.
    pub available_from: Option<Millis>,
    /// Availability window, ms.
    pub available_until: Option<Millis>,
    /// Genre names.
    pub genres: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Cast and crew in billing order.
    pub people: Vec<PersonRow>,
    /// Language codes.
    pub languages: Vec<String>,
    /// `(tmdb|imdb|tvdb, value)`.
    pub ids: Vec<(String, String)>,
    /// Media files.
    pub media: Vec<MediaRow>,
    /// Episodes: season number and its name.
    pub season: Option<(i64, Option<String>)>,
    /// Episodes: number within the season.
    pub episode: Option<i64>,
    /// sha256 (hex) of everything above, computed by the caller: equal to
    /// the stored one means unchanged.
    pub content_hash: String,
}

/// One unit of import: a movie, or a series with its episodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryItem {
    /// The movie or series.
    pub title: LibraryTitle,
    /// A series' episodes (each with `season` and `episode`).
    pub episodes: Vec<LibraryTitle>,
}

/// What an upsert did to one title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new title.
    Added,
    /// An existing title (same key) whose content changed.
    Updated,
    /// An existing title, as it was.
    Unchanged,
}

/// What [`LibraryStore::upsert_library_item`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemOutcome {
    /// The movie's or series' id and outcome.
    pub title: (i64, Outcome),
    /// Each episode's id and outcome, in the order given.
    pub episodes: Vec<(i64, Outcome)>,
}

/// One stored artwork rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtworkRow {
    /// The title.
    pub title_id: i64,
    /// `poster`, `backdrop`, `thumb`.
    pub kind: String,
    /// `card`, `detail`, `backdrop`, `share`, `thumb`.
    pub size: String,
    /// Pixels.
    pub width: i64,
    /// Pixels.
    pub height: i64,
    /// Content hash of the file (its name and its ETag).
    pub etag: String,
    /// sha256 of the picture it was made from.
    pub source_hash: String,
    /// `imported`, `generated`, `uploaded`.
    pub origin: String,
}

/// A title that has no poster yet, for generated art.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posterless {
    /// Id.
    pub id: i64,
    /// Movie or series.
    pub kind: TitleKind,
    /// Name as stored.
    pub name: String,
    /// Year.
    pub year: Option<i32>,
    /// First genre by name.
    pub genre: Option<String>,
}

/// An episode as a series page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeRow {
    /// Id.
    pub id: i64,
    /// Season number.
    pub season: i64,
    /// Number within the season.
    pub episode: i64,
    /// Name.
    pub name: String,
    /// Synopsis.
    pub synopsis: Option<String>,
    /// Running time, s.
    pub runtime_s: Option<i64>,
}

/// What a title page shows beyond [`marquee_domain::TitleDetail`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LibraryDetail {
    /// Synopsis.
    pub synopsis: Option<String>,
    /// `YYYY-MM-DD`.
    pub release_date: Option<String>,
    /// The rating.
    pub maturity: Option<StoredRating>,
    /// Availability window, ms.
    pub available_from: Option<Millis>,
    /// Availability window, ms.
    pub available_until: Option<Millis>,
    /// Hidden by an editor.
    pub hidden: bool,
    /// Cast and crew, in billing order.
    pub people: Vec<PersonRow>,
    /// Language codes.
    pub languages: Vec<String>,
    /// `(tmdb|imdb|tvdb, value)`.
    pub ids: Vec<(String, String)>,
    /// Seasons `(number, name)` of a series.
    pub seasons: Vec<(i64, Option<String>)>,
    /// Episodes of a series, by season and number.
    pub episodes: Vec<EpisodeRow>,
    /// Media files.
    pub media: Vec<MediaRow>,
}

/// A title as the catalog editor lists it (hidden ones included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditorRow {
    /// Id.
    pub id: i64,
    /// Movie or series.
    pub kind: TitleKind,
    /// Name.
    pub name: String,
    /// Year.
    pub year: Option<i32>,
    /// The rating code.
    pub maturity: Option<String>,
    /// Hidden from viewers.
    pub hidden: bool,
    /// Where it came from: `library` (an import), `marquee` (made here) or
    /// a demo data set (`movielens`, `ml-100k`, …).
    pub source: String,
}

/// A title the editor creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTitle {
    /// Movie, series or episode.
    pub kind: TitleKind,
    /// Its fields, checked by `marquee_domain::catalog::check`.
    pub fields: TitleFields,
    /// The rating as stored.
    pub rating: Option<StoredRating>,
    /// An episode's series, season number and episode number.
    pub episode_of: Option<(i64, i64, i64)>,
}

/// One entry of the catalog editor's audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogAuditEntry {
    /// When, ms.
    pub at: Millis,
    /// The staff member's e-mail (`None` once their account is deleted).
    pub actor: Option<String>,
    /// `created`, `edited`, `artwork`.
    pub action: String,
    /// What changed, one sentence per line.
    pub summary: String,
}

/// See the module documentation.
#[async_trait]
pub trait LibraryStore: Send + Sync {
    /// Writes a movie, or a series with its seasons and episodes, in one
    /// transaction: a key seen before is updated in place (its id, history,
    /// thumbs and playback stay), a new one inserted. Genres, catalog tags,
    /// people, languages, ids and media of a changed title are replaced by
    /// the given ones; an unchanged title (same `content_hash`) is not
    /// touched. Episodes missing from a re-import are kept.
    async fn upsert_library_item(&self, item: &LibraryItem, now: Millis) -> Result<ItemOutcome>;

    /// [`LibraryStore::upsert_library_item`] for many items in one
    /// transaction (an import writes in batches: one commit per title made
    /// a 100,000-title feed five times slower). Outcomes in the given order.
    async fn upsert_library_items(
        &self,
        items: &[LibraryItem],
        now: Millis,
    ) -> Result<Vec<ItemOutcome>>;

    /// The `source_hash` of a title's stored artwork of `kind`, if any.
    async fn artwork_source(&self, title_id: i64, kind: &str) -> Result<Option<String>>;

    /// Replaces a title's renditions of one kind.
    async fn set_artwork(&self, rows: &[ArtworkRow], now: Millis) -> Result<()>;

    /// Every rendition of these titles.
    async fn artwork_of(&self, title_ids: &[i64]) -> Result<Vec<ArtworkRow>>;

    /// Whether any rendition has this etag (the artwork route serves only those).
    async fn artwork_exists(&self, etag: &str) -> Result<bool>;

    /// Movies and series without a poster, by id, after `after_id`.
    async fn posterless(&self, after_id: i64, limit: u32) -> Result<Vec<Posterless>>;

    /// A title's media files (or URLs) in the order they were scanned.
    async fn media_sources(&self, title_id: i64) -> Result<Vec<MediaRow>>;

    /// The library metadata of a title.
    async fn library_detail(&self, id: i64) -> Result<Option<LibraryDetail>>;

    /// The id of the title a catalog key names.
    async fn title_by_key(&self, key: &str) -> Result<Option<i64>>;

    /// A title's kind and editable fields (hidden ones too).
    async fn title_fields(&self, id: i64) -> Result<Option<(TitleKind, TitleFields)>>;

    /// Writes an editor's fields and the audit entry (`summary`) in one
    /// transaction; `false` when the title does not exist.
    async fn edit_title(
        &self,
        id: i64,
        fields: &TitleFields,
        rating: Option<&StoredRating>,
        actor_id: i64,
        summary: &str,
        now: Millis,
    ) -> Result<bool>;

    /// Creates a title (an episode in its series' season, made when
    /// missing) with its audit entry; the new id. An episode number taken
    /// in that season is a conflict on `episode`.
    async fn create_title(&self, new: &NewTitle, actor_id: i64, now: Millis) -> Result<i64>;

    /// Appends to a title's audit trail (artwork uploads).
    async fn record_catalog_action(
        &self,
        title_id: i64,
        actor_id: i64,
        action: &str,
        summary: &str,
        now: Millis,
    ) -> Result<()>;

    /// A title's audit trail, newest first.
    async fn catalog_audit(&self, title_id: i64, limit: u32) -> Result<Vec<CatalogAuditEntry>>;

    /// Movies and series for the editor, newest first, whose name contains
    /// `q` (case-insensitive), hidden ones included.
    async fn editor_titles(&self, q: &str, limit: u32, offset: u32) -> Result<Vec<EditorRow>>;

    /// Every media file titles play: scanned ones (`library` set,
    /// `location` relative to it) and admin-set ones (`library` `None`,
    /// `location` relative to the media directory), URLs left out.
    async fn media_locations(&self) -> Result<Vec<MediaLocation>>;

    /// What ffprobe read from these files (absolute paths), when it has.
    async fn media_probes(&self, paths: &[String]) -> Result<Vec<MediaProbeRow>>;

    /// Writes what ffprobe read from a file, replacing an older reading.
    async fn save_media_probe(&self, row: &MediaProbeRow) -> Result<()>;

    /// Files ffprobe could not read, newest first.
    async fn media_probe_failures(&self, limit: u32) -> Result<Vec<MediaProbeRow>>;

    /// Sets a title's runtime when its metadata has none; `true` when set.
    async fn set_runtime_if_missing(&self, title_id: i64, duration_s: i64) -> Result<bool>;
}

/// A media file a title plays (see [`LibraryStore::media_locations`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaLocation {
    /// The title.
    pub title_id: i64,
    /// Relative to `library`, or to the media directory when `library` is `None`.
    pub location: String,
    /// The library folder it was scanned from (absolute).
    pub library: Option<String>,
}

/// What ffprobe read from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaProbeRow {
    /// The file, absolute.
    pub path: String,
    /// Its size when probed.
    pub size_bytes: i64,
    /// Its modification time when probed (Unix ms).
    pub modified_ms: i64,
    /// ffprobe's JSON, when it read the file.
    pub probe: Option<String>,
    /// Why it could not be read.
    pub error: Option<String>,
    /// The media's length, when read.
    pub duration_ms: Option<i64>,
    /// When.
    pub probed_at: Millis,
}
