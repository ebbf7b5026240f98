//! Kodi/Jellyfin `.nfo` files: `movie.nfo` / `<movie>.nfo` (`<movie>`),
//! `tvshow.nfo` (`<tvshow>`) and episode files (`<episodedetails>`).
//!
//! Read leniently, as Jellyfin does: unknown elements are ignored, and a
//! value that does not parse (a `<year>` of `"unknown"`, a `<runtime>` of
//! `0`) is left out rather than refusing the file. Refused, with a plain
//! message: a file over 1 MB, one that is not UTF-8 or not XML, a root other
//! than the three above, a Kodi `.nfo` that only holds a scraper URL, and a
//! missing or empty `<title>` (or one over 500 characters).
//!
//! Kodi quirks tolerated: text (usually a scraper URL) after the closing
//! root tag is ignored, and a multi-episode file (several
//! `<episodedetails>` roots one after the other) gives its **first**
//! episode only.
//!
//! Elements read (direct children of the root): `title`, `year`,
//! `premiered` / `aired` / `releasedate` (`YYYY-MM-DD`; the year comes from
//! it when there is no `year`), `plot` (else `outline`), `runtime`
//! (minutes), `mpaa` (kept as written), `genre` (repeated; `"Action /
//! Drama"` is split), `tag`, `actor` (`name`, `role`), `director`,
//! `credits` / `writer`, `uniqueid type="tmdb|imdb|tvdb"` and the legacy
//! `tmdbid`, `imdbid`, `tvdbid` and `id` (an IMDb id when it starts with
//! `tt`), `season` / `episode` (episodes) and `namedseason number="N"`
//! (series). `originaltitle`, `studio`, `thumb`, `fanart` and the rest are
//! not used (there is no field for them; pictures come from the folder).

use crate::entry::{CatalogEntry, EntryKind, ExternalIds, Person, PersonRole, Rejection};
use crate::feed::{
    parse_date, MAX_NAME_CHARS, MAX_SHORT_CHARS, MAX_SYNOPSIS_CHARS, RUNTIME_MINUTES, YEARS,
};
use roxmltree::{Document, Node, ParsingOptions};

/// Largest `.nfo` read, in bytes.
pub const MAX_NFO_BYTES: usize = 1024 * 1024;

/// What an `.nfo` file describes.
#[derive(Debug, Clone, PartialEq)]
pub enum NfoDoc {
    Movie(CatalogEntry),
    /// The series (kind [`EntryKind::Series`]) and its named seasons
    /// (`<namedseason number="1">The Arrival</namedseason>`).
    Series(CatalogEntry, Vec<(u32, String)>),
    /// An episode; `season` and `episode` as the file says (the caller falls
    /// back to the layout's hints when they are missing).
    Episode(CatalogEntry),
}

impl NfoDoc {
    /// The entry, whichever kind.
    pub fn entry(&self) -> &CatalogEntry {
        match self {
            NfoDoc::Movie(e) | NfoDoc::Series(e, _) | NfoDoc::Episode(e) => e,
        }
    }
}

/// Parses one `.nfo` file. `file` names it in the rejection.
pub fn parse_nfo(file: &str, bytes: &[u8]) -> Result<NfoDoc, Rejection> {
    let rej = |line: Option<u64>, field: Option<&str>, message: String| Rejection {
        file: file.to_string(),
        line,
        field: field.map(str::to_string),
        message,
    };
    if bytes.len() > MAX_NFO_BYTES {
        return Err(rej(
            None,
            None,
            format!(
                "the .nfo is larger than {} MB",
                MAX_NFO_BYTES / (1024 * 1024)
            ),
        ));
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(rej(
            None,
            None,
            "the .nfo is UTF-16 text; save it as UTF-8".into(),
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return Err(rej(
                None,
                None,
                format!(
                    "the .nfo is not UTF-8 text (bad byte at offset {})",
                    e.valid_up_to()
                ),
            ))
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(rej(None, None, "the .nfo is empty".into()));
    }
    if !trimmed.starts_with('<') {
        let lower = trimmed.get(..8).unwrap_or(trimmed).to_ascii_lowercase();
        let message = if lower.starts_with("http://") || lower.starts_with("https://") {
            "the .nfo holds only a URL (a Kodi scraper hint), no metadata"
        } else {
            "the .nfo is not XML"
        };
        return Err(rej(None, None, message.into()));
    }
    let doc = match parse_xml(text) {
        Ok(d) => d,
        Err(e) => {
            let line = u64::from(e.pos().row);
            return Err(rej(
                Some(line),
                None,
                format!("the .nfo is not well-formed XML: {e}"),
            ));
        }
    };
    let root = doc.root_element();
    let kind = match root.tag_name().name() {
        "movie" => EntryKind::Movie,
        "tvshow" => EntryKind::Series,
        "episodedetails" => EntryKind::Episode,
        other => {
            return Err(rej(
                None,
                None,
                format!("the root element is <{other}>, not <movie>, <tvshow> or <episodedetails>"),
            ))
        }
    };
    let line_of = |n: Node<'_, '_>| Some(u64::from(doc.text_pos_at(n.range().start).row));

    let title = root.children().find(|n| n.has_tag_name("title"));
    let name = match title.and_then(text_of) {
        Some(t) if t.chars().count() > MAX_NAME_CHARS => {
            return Err(rej(
                title.and_then(line_of),
                Some("title"),
                format!("the title is longer than {MAX_NAME_CHARS} characters"),
            ))
        }
        Some(t) => t,
        None => {
            return Err(rej(
                title.map_or(line_of(root), line_of),
                Some("title"),
                "the .nfo has no <title> (or an empty one)".into(),
            ))
        }
    };

    let mut e = CatalogEntry::new(kind, name);
    let mut named_seasons: Vec<(u32, String)> = Vec::new();
    let mut plot = None;
    let mut outline = None;
    let mut dates: [Option<time::Date>; 3] = [None; 3];
    let mut legacy = ExternalIds::default();
    for n in root.children().filter(Node::is_element) {
        let tag = n.tag_name().name();
        match tag {
            "year" => {
                e.year = text_of(n)
                    .and_then(|t| t.parse::<i64>().ok())
                    .filter(|y| YEARS.contains(y))
                    .and_then(|y| i32::try_from(y).ok());
            }
            "premiered" | "aired" | "releasedate" => {
                let i = match tag {
                    "premiered" => 0,
                    "aired" => 1,
                    _ => 2,
                };
                if dates[i].is_none() {
                    dates[i] = text_of(n).and_then(|t| t.get(..10).and_then(parse_date));
                }
            }
            "plot" => plot = plot.or_else(|| text_of(n)),
            "outline" => outline = outline.or_else(|| text_of(n)),
            "runtime" => {
                e.runtime_s = text_of(n)
                    .and_then(|t| leading_number(&t))
                    .filter(|m| RUNTIME_MINUTES.contains(m))
                    .and_then(|m| u32::try_from(m * 60).ok());
            }
            "mpaa" => e.maturity = short(n),
            "genre" => {
                if let Some(t) = text_of(n) {
                    for g in t.split('/') {
                        push_unique(&mut e.genres, g);
                    }
                }
            }
            "tag" => {
                if let Some(t) = text_of(n) {
                    push_unique(&mut e.tags, &t);
                }
            }
            "actor" => {
                let child = |name: &str| {
                    n.children()
                        .find(|c| c.has_tag_name(name))
                        .and_then(text_of)
                };
                if let Some(name) = child("name").filter(|s| s.chars().count() <= MAX_NAME_CHARS) {
                    let character = child("role").filter(|s| s.chars().count() <= MAX_NAME_CHARS);
                    push_person(&mut e.people, name, PersonRole::Actor, character);
                }
            }
            "director" | "credits" | "writer" => {
                let role = if tag == "director" {
                    PersonRole::Director
                } else {
                    PersonRole::Writer
                };
                if let Some(name) = text_of(n).filter(|s| s.chars().count() <= MAX_NAME_CHARS) {
                    push_person(&mut e.people, name, role, None);
                }
            }
            "uniqueid" => {
                let slot = match n.attribute("type").map(str::to_ascii_lowercase).as_deref() {
                    Some("tmdb") => &mut e.ids.tmdb,
                    Some("imdb") => &mut e.ids.imdb,
                    Some("tvdb") => &mut e.ids.tvdb,
                    _ => continue,
                };
                if slot.is_none() {
                    *slot = short(n);
                }
            }
            "tmdbid" => legacy.tmdb = legacy.tmdb.take().or_else(|| short(n)),
            "imdbid" => legacy.imdb = legacy.imdb.take().or_else(|| short(n)),
            "tvdbid" => legacy.tvdb = legacy.tvdb.take().or_else(|| short(n)),
            "id" => {
                if let Some(id) = short(n).filter(|s| s.starts_with("tt")) {
                    legacy.imdb = legacy.imdb.take().or(Some(id));
                }
            }
            "season" if kind == EntryKind::Episode => e.season = number(n),
            "episode" if kind == EntryKind::Episode => e.episode = number(n),
            "namedseason" if kind == EntryKind::Series => {
                let num = n
                    .attribute("number")
                    .and_then(|s| s.trim().parse::<u32>().ok());
                if let (Some(num), Some(name)) = (num, short(n)) {
                    if !named_seasons.iter().any(|(s, _)| *s == num) {
                        named_seasons.push((num, name));
                    }
                }
            }
            _ => {}
        }
    }
    e.ids.tmdb = e.ids.tmdb.take().or(legacy.tmdb);
    e.ids.imdb = e.ids.imdb.take().or(legacy.imdb);
    e.ids.tvdb = e.ids.tvdb.take().or(legacy.tvdb);
    e.synopsis = plot
        .or(outline)
        .map(|s| truncate_chars(s, MAX_SYNOPSIS_CHARS));
    e.release_date = dates.into_iter().flatten().next();
    if e.year.is_none() {
        e.year = e.release_date.map(|d| d.year());
    }
    named_seasons.sort();
    Ok(match kind {
        EntryKind::Movie => NfoDoc::Movie(e),
        EntryKind::Series => NfoDoc::Series(e, named_seasons),
        EntryKind::Episode => NfoDoc::Episode(e),
    })
}

fn options<'a>() -> ParsingOptions<'a> {
    ParsingOptions {
        nodes_limit: 100_000,
        ..ParsingOptions::default()
    }
}

/// Parses the XML; when that fails, parses it again up to the end of the
/// first root element (Kodi's trailing URL, multi-episode files).
fn parse_xml(text: &str) -> Result<Document<'_>, roxmltree::Error> {
    match Document::parse_with_options(text, options()) {
        Ok(d) => Ok(d),
        Err(first) => match end_of_root(text) {
            Some(end) if end < text.len() => {
                Document::parse_with_options(&text[..end], options()).map_err(|_| first)
            }
            _ => Err(first),
        },
    }
}

/// The byte offset just past the first `</name>` closing the first root
/// element `<name ...>`, skipping the prolog (`<?xml?>`, comments, a
/// doctype).
fn end_of_root(text: &str) -> Option<usize> {
    let mut at = 0;
    let name = loop {
        at += text[at..].find('<')?;
        let rest = &text[at..];
        if rest.starts_with("<?") {
            at += rest.find("?>")? + 2;
        } else if rest.starts_with("<!--") {
            at += rest.find("-->")? + 3;
        } else if rest.starts_with("<!") {
            at += rest.find('>')? + 1;
        } else {
            let name_len = rest[1..]
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(rest.len() - 1);
            break &rest[1..1 + name_len];
        }
    };
    if name.is_empty() {
        return None;
    }
    let close = format!("</{name}");
    let mut from = at;
    loop {
        let i = from + text[from..].find(&close)?;
        let after = &text[i + close.len()..];
        let ws = after.len() - after.trim_start().len();
        if after[ws..].starts_with('>') {
            return Some(i + close.len() + ws + 1);
        }
        from = i + close.len();
    }
}

/// All text inside the element, trimmed; `None` when empty.
fn text_of(n: Node<'_, '_>) -> Option<String> {
    let mut s = String::new();
    for d in n.descendants().filter(Node::is_text) {
        s.push_str(d.text().unwrap_or(""));
    }
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Text of at most [`MAX_SHORT_CHARS`] characters.
fn short(n: Node<'_, '_>) -> Option<String> {
    text_of(n).filter(|s| s.chars().count() <= MAX_SHORT_CHARS)
}

fn number(n: Node<'_, '_>) -> Option<u32> {
    text_of(n).and_then(|t| t.parse::<u32>().ok())
}

/// `"90"`, `"90 min"` → 90.
fn leading_number(s: &str) -> Option<i64> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.get(..end.min(9))?.parse().ok()
}

fn push_unique(list: &mut Vec<String>, s: &str) {
    let s = s.trim();
    if !s.is_empty() && s.chars().count() <= MAX_SHORT_CHARS && !list.iter().any(|x| x == s) {
        list.push(s.to_string());
    }
}

fn push_person(
    people: &mut Vec<Person>,
    name: String,
    role: PersonRole,
    character: Option<String>,
) {
    let p = Person {
        name,
        role,
        character,
    };
    if !people.contains(&p) {
        people.push(p);
    }
}

fn truncate_chars(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].trim_end().to_string(),
        None => s,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ok(xml: &str) -> NfoDoc {
        match parse_nfo("x.nfo", xml.as_bytes()) {
            Ok(d) => d,
            Err(r) => panic!("rejected: {r}"),
        }
    }

    fn rejected(bytes: &[u8]) -> Rejection {
        match parse_nfo("dir/x.nfo", bytes) {
            Ok(d) => panic!("accepted: {d:?}"),
            Err(r) => {
                assert_eq!(r.file, "dir/x.nfo");
                r
            }
        }
    }

    const MOVIE: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>
<!-- written by hand -->
<movie>
  <title> The Quiet Harbor </title>
  <originaltitle>Le Port</originaltitle>
  <plot>A harbor.</plot>
  <outline>Short.</outline>
  <runtime>104</runtime>
  <mpaa> PG-13 </mpaa>
  <genre>Drama / Mystery</genre>
  <genre>Drama</genre>
  <tag>coastal</tag>
  <premiered>2019-09-14</premiered>
  <studio>Nobody</studio>
  <uniqueid type="tmdb" default="true">900001</uniqueid>
  <uniqueid type="IMDB">tt9000001</uniqueid>
  <actor><name>Ada Brook</name><role>Mara</role><order>0</order><thumb>x</thumb></actor>
  <actor><name>Ben Cole</name></actor>
  <director>Cora Dale</director>
  <credits>Eli Fenn</credits>
  <writer>Eli Fenn</writer>
  <fileinfo><streamdetails><video><codec>h264</codec></video></streamdetails></fileinfo>
  <somethingnew>ignored</somethingnew>
</movie>
"#;

    #[test]
    fn movie() {
        let NfoDoc::Movie(m) = ok(MOVIE) else {
            panic!()
        };
        assert_eq!(m.kind, EntryKind::Movie);
        assert_eq!(m.name, "The Quiet Harbor");
        assert_eq!(m.year, Some(2019));
        assert_eq!(
            m.release_date,
            time::Date::from_calendar_date(2019, time::Month::September, 14).ok()
        );
        assert_eq!(m.synopsis.as_deref(), Some("A harbor."));
        assert_eq!(m.runtime_s, Some(104 * 60));
        assert_eq!(m.maturity.as_deref(), Some("PG-13"));
        assert_eq!(m.genres, vec!["Drama", "Mystery"]);
        assert_eq!(m.tags, vec!["coastal"]);
        assert_eq!(m.ids.tmdb.as_deref(), Some("900001"));
        assert_eq!(m.ids.imdb.as_deref(), Some("tt9000001"));
        let people: Vec<_> = m
            .people
            .iter()
            .map(|p| (p.name.as_str(), p.role, p.character.as_deref()))
            .collect();
        assert_eq!(
            people,
            vec![
                ("Ada Brook", PersonRole::Actor, Some("Mara")),
                ("Ben Cole", PersonRole::Actor, None),
                ("Cora Dale", PersonRole::Director, None),
                ("Eli Fenn", PersonRole::Writer, None),
            ]
        );
    }

    #[test]
    fn series_and_episode() {
        let NfoDoc::Series(s, seasons) = ok(r#"<tvshow><title>Keepers</title><year>2020</year>
            <namedseason number="2">Winter</namedseason><namedseason number="1">Arrival</namedseason>
            <uniqueid type="tvdb">77</uniqueid><id>tt123</id><season>9</season></tvshow>"#)
        else {
            panic!()
        };
        assert_eq!(s.kind, EntryKind::Series);
        assert_eq!(s.season, None);
        assert_eq!(seasons, vec![(1, "Arrival".into()), (2, "Winter".into())]);
        assert_eq!(s.ids.tvdb.as_deref(), Some("77"));
        assert_eq!(s.ids.imdb.as_deref(), Some("tt123"));

        let NfoDoc::Episode(e) = ok(r#"<episodedetails><title>Fog</title><season>1</season>
            <episode>2</episode><aired>2020-01-08</aired><outline>Foggy.</outline>
            <tvdbid>555</tvdbid><tmdbid>66</tmdbid><imdbid>tt7</imdbid><id>12</id></episodedetails>"#)
        else {
            panic!()
        };
        assert_eq!((e.season, e.episode), (Some(1), Some(2)));
        assert_eq!(e.year, Some(2020));
        assert_eq!(e.synopsis.as_deref(), Some("Foggy."));
        assert_eq!(e.ids.tvdb.as_deref(), Some("555"));
        assert_eq!(e.ids.tmdb.as_deref(), Some("66"));
        assert_eq!(e.ids.imdb.as_deref(), Some("tt7"));
    }

    #[test]
    fn unknown_elements_and_bad_values_are_ignored() {
        let NfoDoc::Movie(m) = ok(
            r#"<movie><fancy><deep a="1">x</deep></fancy><title>X</title>
            <year>unknown</year><runtime>0</runtime><premiered>soon</premiered><season>2</season></movie>"#,
        ) else {
            panic!()
        };
        assert_eq!(m.name, "X");
        assert_eq!(
            (m.year, m.runtime_s, m.release_date, m.season),
            (None, None, None, None)
        );
        let NfoDoc::Movie(m) =
            ok("<movie><title>X</title><runtime>95 min</runtime><year>1999</year></movie>")
        else {
            panic!()
        };
        assert_eq!((m.runtime_s, m.year), (Some(95 * 60), Some(1999)));
    }

    #[test]
    fn kodi_quirks() {
        // A scraper URL after the closing root tag.
        let doc = ok("<movie><title>X</title></movie>\nhttps://www.themoviedb.org/movie/1\n");
        assert_eq!(doc.entry().name, "X");
        // A multi-episode file: the first episode.
        let doc = ok(
            "<episodedetails><title>One</title><episode>1</episode></episodedetails>\n\
                      <episodedetails><title>Two</title><episode>2</episode></episodedetails>",
        );
        assert_eq!(doc.entry().name, "One");
        // A BOM, CDATA, entities.
        let doc = ok(
            "\u{feff}<movie><title><![CDATA[Tom & Jerry]]></title><plot>a &amp; b</plot></movie>",
        );
        assert_eq!(doc.entry().name, "Tom & Jerry");
        assert_eq!(doc.entry().synopsis.as_deref(), Some("a & b"));
    }

    #[test]
    fn rejections() {
        let r = rejected(b"this is not xml");
        assert_eq!(r.field, None);
        assert!(r.message.contains("not XML"), "{r}");
        let r = rejected(b"https://www.themoviedb.org/movie/603\n");
        assert!(r.message.contains("only a URL"), "{r}");
        let r = rejected(b"<movie><title>X</title>");
        assert!(r.message.contains("not well-formed"), "{r}");
        assert_eq!(r.field, None);
        let r = rejected(b"<musicvideo><title>X</title></musicvideo>");
        assert!(r.message.contains("<musicvideo>"), "{r}");
        let r = rejected(b"<movie><plot>No title</plot></movie>");
        assert_eq!(r.field.as_deref(), Some("title"));
        let r = rejected(b"<movie>\n<title>  </title></movie>");
        assert_eq!(r.field.as_deref(), Some("title"));
        assert_eq!(r.line, Some(2));
        let long = format!("<movie><title>{}</title></movie>", "x".repeat(501));
        assert_eq!(rejected(long.as_bytes()).field.as_deref(), Some("title"));
        let r = rejected(b"<movie><title>\xff\xfe</title></movie>");
        assert!(r.message.contains("UTF-8"), "{r}");
        let r = rejected(&[0xFF, 0xFE, b'<', 0]);
        assert!(r.message.contains("UTF-16"), "{r}");
        let big = format!(
            "<movie><title>X</title><plot>{}</plot></movie>",
            "x".repeat(MAX_NFO_BYTES)
        );
        assert!(rejected(big.as_bytes()).message.contains("larger"));
        assert!(rejected(b"").message.contains("empty"));
        assert!(
            rejected(b"<!DOCTYPE movie [<!ENTITY a \"b\">]><movie><title>&a;</title></movie>")
                .message
                .contains("XML")
        );
    }

    #[test]
    fn long_plot_is_cut() {
        let xml = format!(
            "<movie><title>X</title><plot>{}</plot></movie>",
            "é".repeat(12_000)
        );
        let d = ok(&xml);
        assert_eq!(
            d.entry().synopsis.as_ref().map(|s| s.chars().count()),
            Some(MAX_SYNOPSIS_CHARS)
        );
    }
}
