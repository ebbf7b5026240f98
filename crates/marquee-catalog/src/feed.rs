//! The versioned JSON Lines catalog feed (`docs/catalog-feed.md`).
//!
//! The first non-blank line is the header
//! (`{"format": "marquee-catalog", "version": 1}`), every further non-blank
//! line one movie or one series with its seasons and episodes. Each line is
//! parsed on its own, straight into typed structs (no intermediate JSON
//! values), so a caller can stream a file of any size through
//! [`parse_header`] and [`parse_line`]; [`parse_feed`] does that over a string.
//!
//! A bad line is rejected whole, with its line number, the path of the
//! first bad field (`seasons[0].episodes[2].runtime_min`) and a plain
//! message; the other lines still import. A bad header rejects the feed.

use crate::entry::{
    ArtKind, ArtworkRef, CatalogEntry, EntryKind, ExternalIds, Item, Person, PersonRole, Rejection,
    SeriesEntry,
};
use crate::layout::safe_relative;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeSet;

/// The header's `format`.
pub const FORMAT: &str = "marquee-catalog";
/// Feed versions this parser reads.
pub const SUPPORTED_VERSIONS: &[u64] = &[1];
/// Longest line read (bytes); a longer one is rejected unread.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Longest name (characters, after trimming).
pub const MAX_NAME_CHARS: usize = 500;
/// Longest synopsis (characters, after trimming).
pub const MAX_SYNOPSIS_CHARS: usize = 10_000;
/// Longest other string (a genre, a tag, a maturity rating, a path, an id).
pub const MAX_SHORT_CHARS: usize = 500;
/// Years (and release dates' years) accepted.
pub const YEARS: std::ops::RangeInclusive<i64> = 1870..=2100;
/// Runtimes accepted, in minutes.
pub const RUNTIME_MINUTES: std::ops::RangeInclusive<i64> = 1..=1440;

/// What the header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedHeader {
    pub version: u64,
    pub source: Option<String>,
}

/// A whole feed, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedParse {
    /// The header's `source`, if any.
    pub source: Option<String>,
    /// Each good line's item, with its 1-based line number.
    pub items: Vec<(u64, Item)>,
    pub rejections: Vec<Rejection>,
}

/// Parses a feed held in memory, line by line. Blank lines are skipped; a
/// byte order mark at the start and `\r\n` line endings are fine. A missing
/// or bad header gives one rejection and nothing else.
pub fn parse_feed(file_name: &str, text: &str) -> FeedParse {
    let mut out = FeedParse::default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut header_seen = false;
    for (i, line) in text.split('\n').enumerate() {
        let line_no = i as u64 + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if !header_seen {
            match parse_header(file_name, line_no, line) {
                Ok(h) => {
                    out.source = h.source;
                    header_seen = true;
                    continue;
                }
                Err(r) => {
                    out.rejections.push(r);
                    return out;
                }
            }
        }
        match parse_line(file_name, line_no, line) {
            Ok(item) => out.items.push((line_no, item)),
            Err(r) => out.rejections.push(r),
        }
    }
    if !header_seen {
        out.rejections.push(Rejection {
            file: file_name.to_string(),
            line: Some(1),
            field: Some("format".into()),
            message: format!(
                "the feed is empty; its first line must be the header {}",
                header_example()
            ),
        });
    }
    out
}

fn header_example() -> String {
    format!(r#"{{"format": "{FORMAT}", "version": 1}}"#)
}

/// Parses the header line (the feed's first non-blank line). Unknown header
/// fields are refused: a later version's header field could change what the
/// lines mean.
pub fn parse_header(file_name: &str, line_no: u64, line: &str) -> Result<FeedHeader, Rejection> {
    let rej = |field: &str, message: String| Rejection {
        file: file_name.to_string(),
        line: Some(line_no),
        field: Some(field.to_string()),
        message,
    };
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    if line.len() > MAX_LINE_BYTES {
        return Err(rej("format", "the header line is too long".into()));
    }
    let map: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(line) {
        Ok(m) => m,
        Err(_) => {
            return Err(rej(
                "format",
                format!("the first line must be the header {}", header_example()),
            ))
        }
    };
    match map.get("format") {
        Some(serde_json::Value::String(f)) if f == FORMAT => {}
        Some(other) => {
            return Err(rej(
                "format",
                format!("the header's format is {other}, not \"{FORMAT}\""),
            ))
        }
        None if map.contains_key("type") => {
            return Err(rej(
                "format",
                format!(
                    "the feed has no header; its first line must be {} before the items",
                    header_example()
                ),
            ))
        }
        None => {
            return Err(rej(
                "format",
                format!("the header has no format; it must be {}", header_example()),
            ))
        }
    }
    let supported = SUPPORTED_VERSIONS
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let version = match map.get("version") {
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(v) if SUPPORTED_VERSIONS.contains(&v) => v,
            _ => {
                return Err(rej(
                    "version",
                    format!("unsupported feed version {n}; this Marquee reads version {supported}"),
                ))
            }
        },
        Some(other) => {
            return Err(rej(
                "version",
                format!("the version must be a number ({supported}), not {other}"),
            ))
        }
        None => {
            return Err(rej(
                "version",
                format!("the header has no version; this Marquee reads version {supported}"),
            ))
        }
    };
    let source = match map.get("source") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if s.chars().count() <= MAX_SHORT_CHARS => {
            Some(s.trim().to_string()).filter(|s| !s.is_empty())
        }
        Some(serde_json::Value::String(_)) => {
            return Err(rej(
                "source",
                format!("longer than {MAX_SHORT_CHARS} characters"),
            ))
        }
        Some(_) => return Err(rej("source", "must be a string".into())),
    };
    if let Some(k) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "format" | "version" | "source"))
    {
        return Err(rej(
            k,
            format!("unknown header field `{k}` (the header has format, version and source)"),
        ));
    }
    Ok(FeedHeader { version, source })
}

/// Parses one item line (a movie or a series). `line_no` is only for the
/// rejection.
pub fn parse_line(file_name: &str, line_no: u64, line: &str) -> Result<Item, Rejection> {
    let v = V {
        file: file_name,
        line: line_no,
        prefix: String::new(),
    };
    if line.len() > MAX_LINE_BYTES {
        return Err(v.whole(format!(
            "the line is longer than {} MiB",
            MAX_LINE_BYTES / (1024 * 1024)
        )));
    }
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    if !line.trim_start().starts_with('{') {
        return Err(
            v.whole("not a JSON object; each line after the header is one {\"type\": ...} object")
        );
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let raw: RawItem = match serde_path_to_error::deserialize(&mut de) {
        Ok(r) => r,
        Err(e) => return Err(json_rejection(file_name, line_no, &e)),
    };
    if let Err(e) = de.end() {
        return Err(v.whole(format!(
            "not valid JSON: {} (one object per line)",
            strip_position(&e)
        )));
    }
    raw.into_item(&v)
}

/// Where a value is, for rejections: the file, line and field path prefix.
struct V<'a> {
    file: &'a str,
    line: u64,
    /// `""` or `"seasons[0].episodes[2]."`.
    prefix: String,
}

impl V<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> Rejection {
        Rejection {
            file: self.file.to_string(),
            line: Some(self.line),
            field: Some(format!("{}{field}", self.prefix)),
            message: message.into(),
        }
    }

    fn whole(&self, message: impl Into<String>) -> Rejection {
        Rejection {
            file: self.file.to_string(),
            line: Some(self.line),
            field: None,
            message: message.into(),
        }
    }

    fn nested(&self, prefix: String) -> V<'_> {
        V {
            file: self.file,
            line: self.line,
            prefix,
        }
    }

    fn name(&self, field: &str, s: &str) -> Result<String, Rejection> {
        let s = s.trim();
        if s.is_empty() {
            return Err(self.err(field, "must not be empty"));
        }
        if s.chars().count() > MAX_NAME_CHARS {
            return Err(self.err(field, format!("longer than {MAX_NAME_CHARS} characters")));
        }
        Ok(s.to_string())
    }

    fn text(
        &self,
        field: &str,
        s: Option<String>,
        max: usize,
    ) -> Result<Option<String>, Rejection> {
        let Some(s) = s else { return Ok(None) };
        let s = s.trim();
        if s.chars().count() > max {
            return Err(self.err(field, format!("longer than {max} characters")));
        }
        Ok(Some(s.to_string()).filter(|s| !s.is_empty()))
    }

    fn year(&self, y: Option<i64>) -> Result<Option<i32>, Rejection> {
        match y {
            None => Ok(None),
            Some(y) if YEARS.contains(&y) => Ok(i32::try_from(y).ok()),
            Some(y) => Err(self.err(
                "year",
                format!(
                    "{y} is not a year from {} to {}",
                    YEARS.start(),
                    YEARS.end()
                ),
            )),
        }
    }

    fn runtime(&self, m: Option<i64>) -> Result<Option<u32>, Rejection> {
        match m {
            None => Ok(None),
            Some(m) if RUNTIME_MINUTES.contains(&m) => Ok(u32::try_from(m * 60).ok()),
            Some(m) => Err(self.err(
                "runtime_min",
                format!(
                    "{m} minutes is not a runtime from {} to {} minutes",
                    RUNTIME_MINUTES.start(),
                    RUNTIME_MINUTES.end()
                ),
            )),
        }
    }

    fn date(&self, field: &str, s: Option<String>) -> Result<Option<time::Date>, Rejection> {
        let Some(s) = s else { return Ok(None) };
        match parse_date(s.trim()) {
            Some(d) => Ok(Some(d)),
            None => Err(self.err(
                field,
                format!(
                    "{s:?} is not a date YYYY-MM-DD (years {} to {})",
                    YEARS.start(),
                    YEARS.end()
                ),
            )),
        }
    }

    fn timestamp(&self, field: &str, s: Option<String>) -> Result<Option<i64>, Rejection> {
        let Some(s) = s else { return Ok(None) };
        let parsed =
            time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
                .ok()
                .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok());
        match parsed {
            Some(ms) => Ok(Some(ms)),
            None => Err(self.err(
                field,
                format!("{s:?} is not an RFC 3339 timestamp (2024-05-01T00:00:00Z)"),
            )),
        }
    }

    fn list(&self, field: &str, items: Vec<String>) -> Result<Vec<String>, Rejection> {
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        for (i, s) in items.into_iter().enumerate() {
            let s = s.trim();
            if s.chars().count() > MAX_SHORT_CHARS {
                return Err(self.err(
                    &format!("{field}[{i}]"),
                    format!("longer than {MAX_SHORT_CHARS} characters"),
                ));
            }
            if !s.is_empty() && !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
        Ok(out)
    }

    fn people(&self, cast: Vec<RawCast>, crew: Vec<RawCrew>) -> Result<Vec<Person>, Rejection> {
        let mut out = Vec::with_capacity(cast.len() + crew.len());
        for (i, c) in cast.into_iter().enumerate() {
            out.push(Person {
                name: self.name(&format!("cast[{i}].name"), &c.name)?,
                role: PersonRole::Actor,
                character: self.text(
                    &format!("cast[{i}].character"),
                    c.character,
                    MAX_NAME_CHARS,
                )?,
            });
        }
        for (i, c) in crew.into_iter().enumerate() {
            let role = match PersonRole::parse(c.role.trim()) {
                Some(r) if r != PersonRole::Actor => r,
                _ => {
                    return Err(self.err(
                        &format!("crew[{i}].role"),
                        format!(
                        "{:?} is not a crew role (director, writer or creator; actors go in cast)",
                        c.role
                    ),
                    ))
                }
            };
            out.push(Person {
                name: self.name(&format!("crew[{i}].name"), &c.name)?,
                role,
                character: None,
            });
        }
        Ok(out)
    }

    fn ids(&self, raw: RawIds) -> Result<ExternalIds, Rejection> {
        Ok(ExternalIds {
            tmdb: self.text("ids.tmdb", raw.tmdb, MAX_SHORT_CHARS)?,
            imdb: self.text("ids.imdb", raw.imdb, MAX_SHORT_CHARS)?,
            tvdb: self.text("ids.tvdb", raw.tvdb, MAX_SHORT_CHARS)?,
        })
    }

    fn art(&self, pictures: Vec<(ArtKind, Option<String>)>) -> Result<Vec<ArtworkRef>, Rejection> {
        let mut out = Vec::new();
        for (kind, path) in pictures {
            let Some(path) = path else { continue };
            let field = format!("artwork.{}", kind.as_str());
            let path = self.short(&field, &path)?;
            match safe_relative(&path) {
                Ok(path) => out.push(ArtworkRef { kind, path }),
                Err(why) => return Err(self.err(&field, format!("{path:?}: {why}"))),
            }
        }
        Ok(out)
    }

    fn media(&self, media: Vec<String>) -> Result<Vec<String>, Rejection> {
        let mut out = Vec::with_capacity(media.len());
        for (i, m) in media.into_iter().enumerate() {
            let field = format!("media[{i}]");
            let m = self.short(&field, &m)?;
            if is_http_url(&m) {
                out.push(m);
                continue;
            }
            if m.contains("://") {
                return Err(self.err(
                    &field,
                    format!("{m:?}: only http(s) URLs and relative paths are media"),
                ));
            }
            match safe_relative(&m) {
                Ok(p) => out.push(p),
                Err(why) => return Err(self.err(&field, format!("{m:?}: {why}"))),
            }
        }
        Ok(out)
    }

    fn short(&self, field: &str, s: &str) -> Result<String, Rejection> {
        let s = s.trim();
        if s.chars().count() > MAX_SHORT_CHARS {
            return Err(self.err(field, format!("longer than {MAX_SHORT_CHARS} characters")));
        }
        Ok(s.to_string())
    }
}

fn is_http_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `YYYY-MM-DD`, exactly, with a year in [`YEARS`].
pub(crate) fn parse_date(s: &str) -> Option<time::Date> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let year: i32 = s.get(0..4)?.parse().ok()?;
    let month: u8 = s.get(5..7)?.parse().ok()?;
    let day: u8 = s.get(8..10)?.parse().ok()?;
    if !YEARS.contains(&i64::from(year)) {
        return None;
    }
    time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

fn strip_position(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    msg.strip_suffix(&suffix).unwrap_or(&msg).to_string()
}

/// The text between `start` and the next `end` in `s`.
fn between<'s>(s: &'s str, start: &str, end: &str) -> Option<&'s str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

fn json_rejection(
    file: &str,
    line: u64,
    e: &serde_path_to_error::Error<serde_json::Error>,
) -> Rejection {
    let path = e.path().to_string();
    // serde_path_to_error writes `?` for a part it could not name (where
    // the JSON broke off); keep what comes before it.
    let known = path.split(".?").next().unwrap_or("");
    let known = if known == "." || known == "?" {
        ""
    } else {
        known
    };
    let mut field = (!known.is_empty()).then(|| known.to_string());
    let inner = e.inner();
    let raw = strip_position(inner);
    let message = match inner.classify() {
        serde_json::error::Category::Eof => {
            "not valid JSON: the line ends in the middle of a value".to_string()
        }
        serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
            format!("not valid JSON: {raw}")
        }
        serde_json::error::Category::Data => {
            if let Some(name) = between(&raw, "missing field `", "`") {
                field = Some(match field {
                    Some(f) => format!("{f}.{name}"),
                    None => name.to_string(),
                });
                "required but missing".to_string()
            } else if let Some(name) = between(&raw, "unknown field `", "`") {
                let named = field
                    .as_deref()
                    .is_some_and(|f| f == name || f.ends_with(&format!(".{name}")));
                if !named {
                    field = Some(match field {
                        Some(f) => format!("{f}.{name}"),
                        None => name.to_string(),
                    });
                }
                format!("unknown field `{name}` (see docs/catalog-feed.md for the fields)")
            } else {
                humanize(&raw)
            }
        }
    };
    Rejection {
        file: file.to_string(),
        line: Some(line),
        field,
        message,
    }
}

/// serde's type names in plain words.
fn humanize(msg: &str) -> String {
    let mut m = msg.replace("invalid type: ", "wrong type: found ");
    m = m.replace("invalid value: ", "invalid value: found ");
    if let Some(i) = m.find("expected struct ") {
        m.truncate(i);
        m.push_str("expected an object");
    }
    for (from, to) in [
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected an object"),
        ("found map", "found an object"),
        ("found sequence", "found a list"),
        ("found floating point", "found the number"),
        ("found integer", "found the number"),
    ] {
        m = m.replace(from, to);
    }
    m
}

// ---- the line's shape, as serde reads it ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    year: Option<i64>,
    synopsis: Option<String>,
    runtime_min: Option<i64>,
    release_date: Option<String>,
    maturity: Option<String>,
    #[serde(default)]
    genres: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    cast: Vec<RawCast>,
    #[serde(default)]
    crew: Vec<RawCrew>,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    ids: RawIds,
    available_from: Option<String>,
    available_until: Option<String>,
    #[serde(default)]
    artwork: RawArtwork,
    #[serde(default)]
    media: Vec<String>,
    seasons: Option<Vec<RawSeason>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCast {
    name: String,
    character: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCrew {
    name: String,
    role: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawIds {
    #[serde(default, deserialize_with = "string_or_number")]
    tmdb: Option<String>,
    imdb: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    tvdb: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawArtwork {
    poster: Option<String>,
    backdrop: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEpisodeArtwork {
    thumb: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeason {
    number: i64,
    name: Option<String>,
    #[serde(default)]
    episodes: Vec<RawEpisode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEpisode {
    number: i64,
    name: Option<String>,
    synopsis: Option<String>,
    runtime_min: Option<i64>,
    release_date: Option<String>,
    maturity: Option<String>,
    #[serde(default)]
    ids: RawIds,
    #[serde(default)]
    artwork: RawEpisodeArtwork,
    #[serde(default)]
    media: Vec<String>,
    #[serde(default)]
    cast: Vec<RawCast>,
    #[serde(default)]
    crew: Vec<RawCrew>,
}

/// A string, or a whole number turned into one (TMDb and TVDb ids are
/// numbers in their own APIs).
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Vis;
    impl serde::de::Visitor<'_> for Vis {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or a whole number")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            if v < 0 {
                return Err(E::custom(format!(
                    "{v} is negative; an id is a string or a whole number"
                )));
            }
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Vis)
}

impl RawItem {
    fn into_item(self, v: &V<'_>) -> Result<Item, Rejection> {
        let kind = match self.kind.as_str() {
            "movie" => EntryKind::Movie,
            "series" => EntryKind::Series,
            other => {
                return Err(v.err(
                    "type",
                    format!("{other:?} is not an item type (\"movie\" or \"series\")"),
                ))
            }
        };
        let mut e = CatalogEntry::new(kind, v.name("name", &self.name)?);
        e.year = v.year(self.year)?;
        e.synopsis = v.text("synopsis", self.synopsis, MAX_SYNOPSIS_CHARS)?;
        e.runtime_s = v.runtime(self.runtime_min)?;
        e.release_date = v.date("release_date", self.release_date)?;
        if e.year.is_none() {
            e.year = e.release_date.map(|d| d.year());
        }
        e.maturity = v.text("maturity", self.maturity, MAX_SHORT_CHARS)?;
        e.genres = v.list("genres", self.genres)?;
        e.tags = v.list("tags", self.tags)?;
        e.people = v.people(self.cast, self.crew)?;
        e.languages = v.list("languages", self.languages)?;
        e.ids = v.ids(self.ids)?;
        if e.ids.is_empty() {
            return Err(v.err(
                "ids",
                "every item needs at least one id (tmdb, imdb or tvdb): a re-import recognises it by it",
            ));
        }
        e.available_from = v.timestamp("available_from", self.available_from)?;
        e.available_until = v.timestamp("available_until", self.available_until)?;
        if let (Some(from), Some(until)) = (e.available_from, e.available_until) {
            if until <= from {
                return Err(v.err("available_until", "must be after available_from"));
            }
        }
        e.artwork = v.art(vec![
            (ArtKind::Poster, self.artwork.poster),
            (ArtKind::Backdrop, self.artwork.backdrop),
        ])?;
        e.media = v.media(self.media)?;

        if kind == EntryKind::Movie {
            if self.seasons.is_some() {
                return Err(v.err("seasons", "only series have seasons"));
            }
            return Ok(Item::Movie(e));
        }
        let mut season_names = Vec::new();
        let mut episodes = Vec::new();
        let mut seen_seasons = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for (i, season) in self.seasons.unwrap_or_default().into_iter().enumerate() {
            let sv = v.nested(format!("seasons[{i}]."));
            let number = u32::try_from(season.number).map_err(|_| {
                sv.err(
                    "number",
                    format!(
                        "{} is not a season number (0 for specials, 1, 2, …)",
                        season.number
                    ),
                )
            })?;
            if !seen_seasons.insert(number) {
                return Err(sv.err("number", format!("season {number} is listed twice")));
            }
            if let Some(name) = sv.text("name", season.name, MAX_NAME_CHARS)? {
                season_names.push((number, name));
            }
            for (j, raw) in season.episodes.into_iter().enumerate() {
                let ev = v.nested(format!("seasons[{i}].episodes[{j}]."));
                let ep = raw.into_entry(&ev, number)?;
                if !seen.insert((number, ep.episode)) {
                    return Err(ev.err(
                        "number",
                        format!(
                            "season {number} episode {} is listed twice",
                            ep.episode.unwrap_or_default()
                        ),
                    ));
                }
                episodes.push(ep);
            }
        }
        Ok(Item::Series(SeriesEntry {
            series: e,
            season_names,
            episodes,
        }))
    }
}

impl RawEpisode {
    fn into_entry(self, v: &V<'_>, season: u32) -> Result<CatalogEntry, Rejection> {
        let number = match u32::try_from(self.number) {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(v.err(
                    "number",
                    format!("{} is not an episode number (1, 2, …)", self.number),
                ))
            }
        };
        let name = match &self.name {
            Some(n) => v.name("name", n)?,
            None => format!("Episode {number}"),
        };
        let mut e = CatalogEntry::new(EntryKind::Episode, name);
        e.season = Some(season);
        e.episode = Some(number);
        e.synopsis = v.text("synopsis", self.synopsis, MAX_SYNOPSIS_CHARS)?;
        e.runtime_s = v.runtime(self.runtime_min)?;
        e.release_date = v.date("release_date", self.release_date)?;
        e.year = e.release_date.map(|d| d.year());
        e.maturity = v.text("maturity", self.maturity, MAX_SHORT_CHARS)?;
        e.ids = v.ids(self.ids)?;
        e.artwork = v.art(vec![(ArtKind::Thumb, self.artwork.thumb)])?;
        e.media = v.media(self.media)?;
        e.people = v.people(self.cast, self.crew)?;
        Ok(e)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const H: &str = r#"{"format": "marquee-catalog", "version": 1, "source": "test"}"#;

    fn feed(lines: &[&str]) -> FeedParse {
        let mut t = String::from(H);
        for l in lines {
            t.push('\n');
            t.push_str(l);
        }
        parse_feed("f.jsonl", &t)
    }

    fn one_rejection(line: &str) -> Rejection {
        let p = feed(&[line]);
        assert!(p.items.is_empty(), "{:?}", p.items);
        assert_eq!(p.rejections.len(), 1, "{:?}", p.rejections);
        let r = p.rejections.into_iter().next().unwrap();
        assert_eq!(r.line, Some(2));
        assert_eq!(r.file, "f.jsonl");
        r
    }

    fn field(line: &str) -> String {
        one_rejection(line).field.unwrap_or_default()
    }

    #[test]
    fn example_file_parses_cleanly() {
        let p = parse_feed(
            "catalog-feed.example.jsonl",
            include_str!("../../../docs/catalog-feed.example.jsonl"),
        );
        assert!(p.rejections.is_empty(), "{:#?}", p.rejections);
        assert_eq!(p.items.len(), 3);
        let movies = p
            .items
            .iter()
            .filter(|(_, i)| matches!(i, Item::Movie(_)))
            .count();
        assert_eq!(movies, 2);
        let Some((_, Item::Series(s))) = p.items.iter().find(|(_, i)| matches!(i, Item::Series(_)))
        else {
            panic!("no series");
        };
        let seasons: BTreeSet<_> = s.episodes.iter().filter_map(|e| e.season).collect();
        assert_eq!(seasons.len(), 2);
    }

    #[test]
    fn movie_fields() {
        let p = feed(&[r#"{"type":"movie","name":"  Heat ","year":1995,"synopsis":"Cops.","runtime_min":170,
            "release_date":"1995-12-15","maturity":" R ","genres":["Crime","Crime"," "],"tags":["heist"],
            "cast":[{"name":"A","character":"B"}],"crew":[{"name":"M","role":"director"}],"languages":["en"],
            "ids":{"tmdb":949,"imdb":"tt0113277"},"available_from":"2024-01-01T00:00:00Z",
            "available_until":"2024-01-02T00:00:00+00:00","artwork":{"poster":"./heat/poster.jpg"},
            "media":["heat/heat.mkv","https://cdn.example/heat.m3u8"]}"#
            .replace('\n', "")
            .as_str()]);
        assert!(p.rejections.is_empty(), "{:?}", p.rejections);
        assert_eq!(p.source.as_deref(), Some("test"));
        let (line, Item::Movie(m)) = &p.items[0] else {
            panic!()
        };
        assert_eq!(*line, 2);
        assert_eq!(m.name, "Heat");
        assert_eq!(m.year, Some(1995));
        assert_eq!(m.runtime_s, Some(170 * 60));
        assert_eq!(m.maturity.as_deref(), Some("R"));
        assert_eq!(m.genres, vec!["Crime"]);
        assert_eq!(m.ids.tmdb.as_deref(), Some("949"));
        assert_eq!(m.ids.key().as_deref(), Some("tmdb:949"));
        assert_eq!(m.available_from, Some(1_704_067_200_000));
        assert_eq!(m.available_until, Some(1_704_153_600_000));
        assert_eq!(m.artwork[0].path, "heat/poster.jpg");
        assert_eq!(m.people.len(), 2);
        assert_eq!(m.people[0].character.as_deref(), Some("B"));
        assert_eq!(m.media.len(), 2);
    }

    #[test]
    fn series_with_episodes() {
        let p = feed(&[
            r#"{"type":"series","name":"S","ids":{"tvdb":"1"},"seasons":[{"number":1,"name":"One","episodes":[{"number":1,"name":"Pilot","runtime_min":30,"artwork":{"thumb":"s/e1.jpg"}},{"number":2}]},{"number":0,"episodes":[{"number":1}]}]}"#,
        ]);
        assert!(p.rejections.is_empty(), "{:?}", p.rejections);
        let (_, Item::Series(s)) = &p.items[0] else {
            panic!()
        };
        assert_eq!(s.series.kind, EntryKind::Series);
        assert_eq!(s.season_names, vec![(1, "One".to_string())]);
        let se: Vec<_> = s
            .episodes
            .iter()
            .map(|e| (e.season, e.episode, e.name.as_str()))
            .collect();
        assert_eq!(
            se,
            vec![
                (Some(1), Some(1), "Pilot"),
                (Some(1), Some(2), "Episode 2"),
                (Some(0), Some(1), "Episode 1")
            ]
        );
        assert_eq!(s.episodes[0].kind, EntryKind::Episode);
        assert_eq!(s.episodes[0].artwork[0].kind, ArtKind::Thumb);
    }

    #[test]
    fn wrong_types_name_the_field() {
        assert_eq!(
            field(r#"{"type":"movie","name":"X","ids":{"imdb":"tt1"},"year":"1999"}"#),
            "year"
        );
        let r = one_rejection(
            r#"{"type":"series","name":"X","ids":{"tmdb":1},"seasons":[{"number":1,"episodes":[{"number":1},{"number":2},{"number":3,"runtime_min":"long"}]}]}"#,
        );
        assert_eq!(
            r.field.as_deref(),
            Some("seasons[0].episodes[2].runtime_min")
        );
        assert!(!r.message.contains("column"), "{}", r.message);
        assert!(r.message.contains("whole number"), "{}", r.message);
        assert_eq!(
            field(r#"{"type":"movie","name":"X","ids":{"imdb":"tt1"},"genres":"Drama"}"#),
            "genres"
        );
        assert_eq!(
            field(r#"{"type":"movie","name":"X","ids":{"imdb":"tt1"},"cast":[{"name":5}]}"#),
            "cast[0].name"
        );
        assert_eq!(
            field(r#"{"type":"movie","name":"X","ids":{"tmdb":1.5}}"#),
            "ids.tmdb"
        );
        assert_eq!(
            field(r#"{"type":"movie","name":"X","ids":{"tmdb":-3}}"#),
            "ids.tmdb"
        );
    }

    #[test]
    fn unknown_fields_are_named() {
        let r = one_rejection(r#"{"type":"movie","name":"X","ids":{"imdb":"tt1"},"rating":5}"#);
        assert_eq!(r.field.as_deref(), Some("rating"));
        assert!(
            r.message.contains("unknown field `rating`"),
            "{}",
            r.message
        );
        assert_eq!(
            field(r#"{"type":"movie","name":"X","ids":{"imdb":"tt1","mal":"3"}}"#),
            "ids.mal"
        );
        assert_eq!(
            field(
                r#"{"type":"movie","name":"X","ids":{"imdb":"tt1"},"artwork":{"thumb":"a.jpg"}}"#
            ),
            "artwork.thumb"
        );
        assert_eq!(
            field(
                r#"{"type":"series","name":"X","ids":{"imdb":"tt1"},"seasons":[{"number":1,"episodes":[{"number":1,"poster":"x"}]}]}"#
            ),
            "seasons[0].episodes[0].poster"
        );
    }

    #[test]
    fn value_rules() {
        let base = r#""type":"movie","ids":{"imdb":"tt1"}"#;
        let cases = [
            (r#""name":"  ""#, "name"),
            (r#""year":1800,"name":"X""#, "year"),
            (r#""year":2101,"name":"X""#, "year"),
            (r#""runtime_min":0,"name":"X""#, "runtime_min"),
            (r#""runtime_min":1441,"name":"X""#, "runtime_min"),
            (r#""release_date":"2019-02-30","name":"X""#, "release_date"),
            (r#""release_date":"19-02-03","name":"X""#, "release_date"),
            (
                r#""available_from":"yesterday","name":"X""#,
                "available_from",
            ),
            (
                r#""available_from":"2024-01-02T00:00:00Z","available_until":"2024-01-01T00:00:00Z","name":"X""#,
                "available_until",
            ),
            (
                r#""artwork":{"poster":"../x.jpg"},"name":"X""#,
                "artwork.poster",
            ),
            (
                r#""artwork":{"backdrop":"/etc/x.jpg"},"name":"X""#,
                "artwork.backdrop",
            ),
            (r#""media":["a.mkv","C:\\x.mkv"],"name":"X""#, "media[1]"),
            (r#""media":["ftp://x/y.mkv"],"name":"X""#, "media[0]"),
            (
                r#""crew":[{"name":"A","role":"grip"}],"name":"X""#,
                "crew[0].role",
            ),
            (r#""seasons":[],"name":"X""#, "seasons"),
        ];
        for (fields, want) in cases {
            let line = format!("{{{base},{fields}}}");
            assert_eq!(field(&line), want, "{line}");
        }
        let long = "x".repeat(501);
        assert_eq!(field(&format!(r#"{{{base},"name":"{long}"}}"#)), "name");
        let long = "x".repeat(10_001);
        assert_eq!(
            field(&format!(r#"{{{base},"name":"X","synopsis":"{long}"}}"#)),
            "synopsis"
        );
        assert_eq!(
            field(r#"{"type":"episode","name":"X","ids":{"imdb":"tt1"}}"#),
            "type"
        );
        assert_eq!(field(r#"{"type":"movie","ids":{"imdb":"tt1"}}"#), "name");
        assert_eq!(field(r#"{"name":"X","ids":{"imdb":"tt1"}}"#), "type");
    }

    #[test]
    fn every_item_needs_an_id() {
        assert_eq!(field(r#"{"type":"movie","name":"X"}"#), "ids");
        assert_eq!(
            field(r#"{"type":"movie","name":"X","ids":{"tmdb":" "}}"#),
            "ids"
        );
        assert_eq!(field(r#"{"type":"series","name":"X","ids":{}}"#), "ids");
    }

    #[test]
    fn duplicate_episodes() {
        let r = one_rejection(
            r#"{"type":"series","name":"X","ids":{"tmdb":1},"seasons":[{"number":1,"episodes":[{"number":1},{"number":2},{"number":1}]}]}"#,
        );
        assert_eq!(r.field.as_deref(), Some("seasons[0].episodes[2].number"));
        assert_eq!(
            field(
                r#"{"type":"series","name":"X","ids":{"tmdb":1},"seasons":[{"number":1,"episodes":[{"number":0}]}]}"#
            ),
            "seasons[0].episodes[0].number"
        );
        assert_eq!(
            field(
                r#"{"type":"series","name":"X","ids":{"tmdb":1},"seasons":[{"number":1},{"number":1}]}"#
            ),
            "seasons[1].number"
        );
        assert_eq!(
            field(
                r#"{"type":"series","name":"X","ids":{"tmdb":1},"seasons":[{"number":1,"episodes":[{"name":"x"}]}]}"#
            ),
            "seasons[0].episodes[0].number"
        );
    }

    #[test]
    fn invalid_json_lines() {
        let r = one_rejection(r#"{"type":"movie","name":"X""#);
        assert_eq!(r.field, None);
        assert!(r.message.starts_with("not valid JSON"), "{}", r.message);
        let r = one_rejection(r#"{"type":"movie","name":"X","ids":{"imdb":"tt1"}} trailing"#);
        assert_eq!(r.field, None);
        let r = one_rejection(r#"["movie","X"]"#);
        assert!(r.message.contains("not a JSON object"), "{}", r.message);
        // Other lines still import.
        let p = feed(&[
            "nope",
            r#"{"type":"movie","name":"X","ids":{"imdb":"tt1"}}"#,
            "",
            "{}",
        ]);
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.items[0].0, 3);
        let lines: Vec<_> = p.rejections.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![Some(2), Some(5)]);
    }

    #[test]
    fn headers() {
        let item = r#"{"type":"movie","name":"X","ids":{"imdb":"tt1"}}"#;
        // BOM, CRLF and leading blank lines are fine.
        let p = parse_feed("f", &format!("\u{feff}\r\n{H}\r\n{item}\r\n\r\n"));
        assert!(p.rejections.is_empty(), "{:?}", p.rejections);
        assert_eq!(p.items[0].0, 3);

        let check = |text: &str, field: &str, needle: &str| {
            let p = parse_feed("f", text);
            assert!(p.items.is_empty());
            assert_eq!(p.rejections.len(), 1, "{:?}", p.rejections);
            let r = &p.rejections[0];
            assert_eq!(r.field.as_deref(), Some(field), "{r}");
            assert!(r.message.contains(needle), "{r}");
        };
        check(&format!("{item}\n{item}"), "format", "no header");
        check(&format!("not json\n{item}"), "format", "header");
        check(r#"{"format":"other","version":1}"#, "format", "not");
        check(
            r#"{"format":"marquee-catalog","version":2}"#,
            "version",
            "reads version 1",
        );
        check(
            r#"{"format":"marquee-catalog","version":"1"}"#,
            "version",
            "number",
        );
        check(r#"{"format":"marquee-catalog"}"#, "version", "no version");
        check(
            r#"{"format":"marquee-catalog","version":1,"extra":true}"#,
            "extra",
            "unknown",
        );
        check("", "format", "empty");
        check("\n  \n", "format", "empty");
    }

    #[test]
    fn streaming_api() {
        assert_eq!(
            parse_header("f", 1, H),
            Ok(FeedHeader {
                version: 1,
                source: Some("test".into())
            })
        );
        let item = parse_line(
            "f",
            7,
            r#"{"type":"movie","name":"X","ids":{"imdb":"tt1"}}"#,
        )
        .unwrap();
        assert!(matches!(item, Item::Movie(m) if m.name == "X"));
        let r = parse_line("f", 7, "{").unwrap_err();
        assert_eq!(r.line, Some(7));
    }
}
