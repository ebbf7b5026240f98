//! What a catalog source says about a title, whatever it came from (a feed
//! line, an `.nfo` file, the MovieLens demo). The server's catalog service
//! turns a [`CatalogEntry`] into store rows; rules about it (maturity,
//! availability) are the domain's.

use serde::{Deserialize, Serialize};

/// Movies and series are top-level; episodes belong to a series' season.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Movie,
    Series,
    Episode,
}

/// Someone in the cast or crew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    pub role: PersonRole,
    /// The character played (actors only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub character: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PersonRole {
    Actor,
    Director,
    Writer,
    Creator,
}

impl PersonRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PersonRole::Actor => "actor",
            PersonRole::Director => "director",
            PersonRole::Writer => "writer",
            PersonRole::Creator => "creator",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "actor" => PersonRole::Actor,
            "director" => PersonRole::Director,
            "writer" => PersonRole::Writer,
            "creator" => PersonRole::Creator,
            _ => return None,
        })
    }
}

/// Ids in other databases. Strings, as each database spells them
/// (`tt0133093`, `603`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalIds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmdb: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imdb: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tvdb: Option<String>,
}

impl ExternalIds {
    /// The identity a re-import recognises the title by: the first of TMDb,
    /// IMDb, TVDb (`"tmdb:603"`), or `None` when there is none.
    pub fn key(&self) -> Option<String> {
        [
            ("tmdb", &self.tmdb),
            ("imdb", &self.imdb),
            ("tvdb", &self.tvdb),
        ]
        .into_iter()
        .find_map(|(k, v)| v.as_deref().map(|v| format!("{k}:{v}")))
    }

    pub fn is_empty(&self) -> bool {
        self.tmdb.is_none() && self.imdb.is_none() && self.tvdb.is_none()
    }
}

/// A picture the source points at: a path relative to the library folder
/// (or the feed's `artwork_base`), never absolute and never escaping it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtworkRef {
    pub kind: ArtKind,
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtKind {
    /// Portrait key art (`poster.jpg`, `folder.jpg`).
    Poster,
    /// Landscape background (`fanart.jpg`, `backdrop.jpg`).
    Backdrop,
    /// An episode's still (`<episode>-thumb.jpg`).
    Thumb,
}

impl ArtKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ArtKind::Poster => "poster",
            ArtKind::Backdrop => "backdrop",
            ArtKind::Thumb => "thumb",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "poster" => ArtKind::Poster,
            "backdrop" => ArtKind::Backdrop,
            "thumb" => ArtKind::Thumb,
            _ => return None,
        })
    }
}

/// One title as a catalog source describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub kind: EntryKind,
    pub name: String,
    pub year: Option<i32>,
    pub synopsis: Option<String>,
    /// Seconds (sources in minutes are converted).
    pub runtime_s: Option<u32>,
    /// `YYYY-MM-DD`.
    pub release_date: Option<time::Date>,
    /// The rating as the source spells it (`"PG-13"`, `"Rated R"`,
    /// `"TV-MA"`, `"US:PG"`); the domain parses it against the rating systems.
    pub maturity: Option<String>,
    pub genres: Vec<String>,
    pub tags: Vec<String>,
    pub people: Vec<Person>,
    /// BCP 47 / ISO 639 codes as given (`"en"`, `"fr"`).
    pub languages: Vec<String>,
    pub ids: ExternalIds,
    /// Availability window, ms since the epoch, UTC.
    pub available_from: Option<i64>,
    pub available_until: Option<i64>,
    /// Episodes: season and episode numbers (season 0 = specials).
    pub season: Option<u32>,
    pub episode: Option<u32>,
    pub artwork: Vec<ArtworkRef>,
    /// Media files, relative to the library folder (or URLs, from a feed).
    pub media: Vec<String>,
}

impl CatalogEntry {
    /// An entry with only a kind and a name.
    pub fn new(kind: EntryKind, name: impl Into<String>) -> Self {
        CatalogEntry {
            kind,
            name: name.into(),
            year: None,
            synopsis: None,
            runtime_s: None,
            release_date: None,
            maturity: None,
            genres: Vec::new(),
            tags: Vec::new(),
            people: Vec::new(),
            languages: Vec::new(),
            ids: ExternalIds::default(),
            available_from: None,
            available_until: None,
            season: None,
            episode: None,
            artwork: Vec::new(),
            media: Vec::new(),
        }
    }
}

/// A series with its episodes, as one unit of import (a feed line, or a
/// `tvshow.nfo` folder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesEntry {
    pub series: CatalogEntry,
    /// Season number → its name, when the source names seasons.
    pub season_names: Vec<(u32, String)>,
    pub episodes: Vec<CatalogEntry>,
}

/// One unit of import: a movie, or a series with its episodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Item {
    Movie(CatalogEntry),
    Series(SeriesEntry),
}

/// Why a part of a source was not imported: where, and which field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The file (relative to the library folder, or the feed's name).
    pub file: String,
    /// 1-based line, where the source has lines.
    pub line: Option<u64>,
    /// The field's path (`"seasons[0].episodes[2].runtime_min"`), or `None`
    /// when the whole file or line is unreadable.
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}
