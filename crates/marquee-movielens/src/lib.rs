//! Pure parsers for the MovieLens data sets.
//!
//! The crate does no I/O: callers hand it the bytes of each file. Every parser
//! returns the rows it understood together with one [`RowError`] per malformed
//! row (file, 1-based line number and reason), so an import can report bad
//! rows and carry on.
//!
//! Supported layouts ([`Layout`]):
//! - ml-latest-small / ml-latest / ml-25m: `movies.csv`, `ratings.csv`, `tags.csv`, `links.csv`;
//! - ml-100k: `u.item` (pipe-separated, 19 genre flags), `u.data` (tab-separated);
//! - ml-1m / ml-10m: `movies.dat`, `ratings.dat` (`::`-separated).
//!
//! Old GroupLens files are Latin-1; [`decode`] accepts UTF-8 and falls back to Latin-1.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use std::borrow::Cow;

/// Which MovieLens release a directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `movies.csv`, `ratings.csv`, `tags.csv`, `links.csv` with headers.
    LatestCsv,
    /// `u.item` and `u.data`.
    Ml100k,
    /// `movies.dat` and `ratings.dat`.
    Ml1m,
}

impl Layout {
    /// Detects the layout from the file names present in a directory.
    pub fn detect<S: AsRef<str>>(file_names: &[S]) -> Option<Layout> {
        let has = |n: &str| file_names.iter().any(|f| f.as_ref() == n);
        if has("movies.csv") && has("ratings.csv") {
            Some(Layout::LatestCsv)
        } else if has("u.item") && has("u.data") {
            Some(Layout::Ml100k)
        } else if has("movies.dat") && has("ratings.dat") {
            Some(Layout::Ml1m)
        } else {
            None
        }
    }

    /// The file holding the movies.
    pub fn movies_file(self) -> &'static str {
        match self {
            Layout::LatestCsv => "movies.csv",
            Layout::Ml100k => "u.item",
            Layout::Ml1m => "movies.dat",
        }
    }

    /// The file holding the ratings.
    pub fn ratings_file(self) -> &'static str {
        match self {
            Layout::LatestCsv => "ratings.csv",
            Layout::Ml100k => "u.data",
            Layout::Ml1m => "ratings.dat",
        }
    }

    /// The tags file, where the layout has one.
    pub fn tags_file(self) -> Option<&'static str> {
        match self {
            Layout::LatestCsv => Some("tags.csv"),
            _ => None,
        }
    }

    /// The links file, where the layout has one.
    pub fn links_file(self) -> Option<&'static str> {
        match self {
            Layout::LatestCsv => Some("links.csv"),
            _ => None,
        }
    }

    /// A stable name for the id space of the layout: ml-latest and ml-1m share
    /// MovieLens movie ids, ml-100k has its own.
    pub fn id_space(self) -> &'static str {
        match self {
            Layout::LatestCsv | Layout::Ml1m => "movielens",
            Layout::Ml100k => "ml-100k",
        }
    }
}

/// One movie.
#[derive(Debug, Clone, PartialEq)]
pub struct Movie {
    /// The MovieLens movie id.
    pub id: i64,
    /// The display title with the year removed and a trailing article
    /// ("Matrix, The") moved to the front.
    pub title: String,
    /// The release year parsed from the title, when present.
    pub year: Option<i32>,
    /// Genre names; `(no genres listed)` yields an empty list.
    pub genres: Vec<String>,
}

/// One explicit rating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    /// The MovieLens user id.
    pub user: i64,
    /// The MovieLens movie id.
    pub movie: i64,
    /// The rating, 0.5 to 5.
    pub rating: f32,
    /// Unix seconds.
    pub timestamp: i64,
}

/// One free-text tag applied by a user.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    /// The MovieLens user id.
    pub user: i64,
    /// The MovieLens movie id.
    pub movie: i64,
    /// The tag text.
    pub tag: String,
    /// Unix seconds.
    pub timestamp: i64,
}

/// External identifiers of a movie.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The MovieLens movie id.
    pub movie: i64,
    /// IMDb id without the `tt` prefix, as in the file (e.g. `0114709`).
    pub imdb: Option<String>,
    /// TMDb id.
    pub tmdb: Option<i64>,
}

/// A row that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The file name, e.g. `ratings.csv`.
    pub file: String,
    /// 1-based line number in that file.
    pub line: usize,
    /// Why the row was rejected.
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// Rows parsed from one file, each with its 1-based line number, and the rejects.
#[derive(Debug, Clone, Default)]
pub struct Parsed<T> {
    /// `(line, row)` for each good row.
    pub rows: Vec<(usize, T)>,
    /// One error per rejected row.
    pub errors: Vec<RowError>,
}

impl<T> Parsed<T> {
    fn new() -> Self {
        Parsed {
            rows: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn reject(&mut self, file: &str, line: usize, reason: impl Into<String>) {
        self.errors.push(RowError {
            file: file.to_string(),
            line,
            reason: reason.into(),
        });
    }
}

/// Decodes file bytes: UTF-8 when valid, else Latin-1 (as the older GroupLens files are).
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// The ml-100k genre flags in file order (`u.genre`).
pub const ML100K_GENRES: [&str; 19] = [
    "(no genres listed)",
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// Splits `"Toy Story (1995)"` into `("Toy Story", Some(1995))` and moves a
/// trailing article to the front: `"Matrix, The (1999)"` → `"The Matrix"`.
pub fn split_title(raw: &str) -> (String, Option<i32>) {
    let raw = raw.trim();
    let mut name = raw;
    let mut year = None;
    if raw.ends_with(')') {
        if let Some(open) = raw.rfind('(') {
            let inner = &raw[open + 1..raw.len() - 1];
            // "(1995)" or a range like "(2007-2013)" for series.
            let head = inner.split(['-', '–']).next().unwrap_or("");
            if head.len() == 4 && head.bytes().all(|b| b.is_ascii_digit()) {
                year = head.parse().ok();
                name = raw[..open].trim_end();
            }
        }
    }
    (move_article(name), year)
}

fn move_article(name: &str) -> String {
    for article in [
        "The", "A", "An", "Les", "La", "Le", "L'", "Il", "Das", "Der", "Die", "El",
    ] {
        let suffix = format!(", {article}");
        if let Some(stem) = name.strip_suffix(&suffix) {
            let sep = if article.ends_with('\'') { "" } else { " " };
            return format!("{article}{sep}{stem}");
        }
        // "Shawshank Redemption, The (a.k.a. X)" keeps the alias after the article.
        let infix = format!(", {article} (");
        if let Some(pos) = name.find(&infix) {
            let sep = if article.ends_with('\'') { "" } else { " " };
            return format!(
                "{article}{sep}{}{}",
                &name[..pos],
                &name[pos + infix.len() - 2..]
            );
        }
    }
    name.to_string()
}

fn parse_genres(field: &str) -> Vec<String> {
    field
        .split('|')
        .map(str::trim)
        .filter(|g| !g.is_empty() && *g != "(no genres listed)")
        .map(|g| {
            if g == "Children's" {
                "Children".to_string()
            } else {
                g.to_string()
            }
        })
        .collect()
}

fn parse_id(field: &str, what: &str) -> Result<i64, String> {
    let v: i64 = field
        .trim()
        .parse()
        .map_err(|_| format!("{what} {:?} is not an integer", field.trim()))?;
    if v <= 0 {
        return Err(format!("{what} {v} must be positive"));
    }
    Ok(v)
}

fn parse_rating_value(field: &str) -> Result<f32, String> {
    let v: f32 = field
        .trim()
        .parse()
        .map_err(|_| format!("rating {:?} is not a number", field.trim()))?;
    if !(0.0..=5.0).contains(&v) || !v.is_finite() {
        return Err(format!("rating {v} is outside 0..=5"));
    }
    Ok(v)
}

fn parse_ts(field: &str) -> Result<i64, String> {
    field
        .trim()
        .parse()
        .map_err(|_| format!("timestamp {:?} is not an integer", field.trim()))
}

/// Reads a headed CSV, calling `row` with each record's 1-based line number.
fn csv_rows(
    file: &str,
    text: &str,
    expected_header: &[&str],
    mut row: impl FnMut(usize, &csv::StringRecord) -> Result<(), String>,
    errors: &mut Vec<RowError>,
) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    match reader.headers() {
        Ok(h) => {
            let got: Vec<&str> = h.iter().map(str::trim).collect();
            if got != expected_header {
                errors.push(RowError {
                    file: file.to_string(),
                    line: 1,
                    reason: format!("unexpected header {got:?}, expected {expected_header:?}"),
                });
                return;
            }
        }
        Err(e) => {
            errors.push(RowError {
                file: file.to_string(),
                line: 1,
                reason: format!("unreadable header: {e}"),
            });
            return;
        }
    }
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line() as usize);
                if record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty()) {
                    continue;
                }
                if record.len() != expected_header.len() {
                    errors.push(RowError {
                        file: file.to_string(),
                        line,
                        reason: format!(
                            "expected {} fields, found {}",
                            expected_header.len(),
                            record.len()
                        ),
                    });
                    continue;
                }
                if let Err(reason) = row(line, &record) {
                    errors.push(RowError {
                        file: file.to_string(),
                        line,
                        reason,
                    });
                }
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line() as usize);
                errors.push(RowError {
                    file: file.to_string(),
                    line,
                    reason: format!("malformed CSV: {e}"),
                });
                // The csv reader resynchronises on the next record.
            }
        }
    }
}

/// Splits a delimited text file into `(line, fields)`, skipping blank lines.
fn delimited_lines<'a>(
    text: &'a str,
    sep: &'a str,
) -> impl Iterator<Item = (usize, Vec<&'a str>)> + 'a {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(move |(i, l)| (i + 1, l.trim_end_matches('\r').split(sep).collect()))
}

/// Parses the movies file of a layout.
pub fn parse_movies(layout: Layout, text: &str) -> Parsed<Movie> {
    let file = layout.movies_file();
    let mut out = Parsed::new();
    match layout {
        Layout::LatestCsv => {
            let mut rows = Vec::new();
            csv_rows(
                file,
                text,
                &["movieId", "title", "genres"],
                |line, r| {
                    let id = parse_id(&r[0], "movieId")?;
                    let (title, year) = split_title(&r[1]);
                    if title.is_empty() {
                        return Err("empty title".into());
                    }
                    rows.push((
                        line,
                        Movie {
                            id,
                            title,
                            year,
                            genres: parse_genres(&r[2]),
                        },
                    ));
                    Ok(())
                },
                &mut out.errors,
            );
            out.rows = rows;
        }
        Layout::Ml100k => {
            for (line, f) in delimited_lines(text, "|") {
                if f.len() != 24 {
                    out.reject(file, line, format!("expected 24 fields, found {}", f.len()));
                    continue;
                }
                let id = match parse_id(f[0], "movie id") {
                    Ok(v) => v,
                    Err(e) => {
                        out.reject(file, line, e);
                        continue;
                    }
                };
                let (title, year) = split_title(f[1]);
                let mut genres = Vec::new();
                let mut bad = None;
                for (g, flag) in ML100K_GENRES.iter().zip(&f[5..]) {
                    match flag.trim() {
                        "1" if *g != "(no genres listed)" => genres.push(g.to_string()),
                        "0" | "1" => {}
                        other => bad = Some(format!("genre flag {other:?} is not 0 or 1")),
                    }
                }
                if let Some(reason) = bad {
                    out.reject(file, line, reason);
                } else if title.is_empty() {
                    out.reject(file, line, "empty title");
                } else {
                    out.rows.push((
                        line,
                        Movie {
                            id,
                            title,
                            year,
                            genres,
                        },
                    ));
                }
            }
        }
        Layout::Ml1m => {
            for (line, f) in delimited_lines(text, "::") {
                if f.len() != 3 {
                    out.reject(file, line, format!("expected 3 fields, found {}", f.len()));
                    continue;
                }
                match parse_id(f[0], "MovieID") {
                    Ok(id) => {
                        let (title, year) = split_title(f[1]);
                        out.rows.push((
                            line,
                            Movie {
                                id,
                                title,
                                year,
                                genres: parse_genres(f[2]),
                            },
                        ));
                    }
                    Err(e) => out.reject(file, line, e),
                }
            }
        }
    }
    out
}

/// Parses the ratings file of a layout.
pub fn parse_ratings(layout: Layout, text: &str) -> Parsed<Rating> {
    let file = layout.ratings_file();
    let mut out = Parsed::new();
    let build = |user: &str, movie: &str, rating: &str, ts: &str| -> Result<Rating, String> {
        Ok(Rating {
            user: parse_id(user, "user id")?,
            movie: parse_id(movie, "movie id")?,
            rating: parse_rating_value(rating)?,
            timestamp: parse_ts(ts)?,
        })
    };
    match layout {
        Layout::LatestCsv => {
            let mut rows = Vec::new();
            csv_rows(
                file,
                text,
                &["userId", "movieId", "rating", "timestamp"],
                |line, r| {
                    rows.push((line, build(&r[0], &r[1], &r[2], &r[3])?));
                    Ok(())
                },
                &mut out.errors,
            );
            out.rows = rows;
        }
        Layout::Ml100k | Layout::Ml1m => {
            let sep = if layout == Layout::Ml100k { "\t" } else { "::" };
            for (line, f) in delimited_lines(text, sep) {
                if f.len() != 4 {
                    out.reject(file, line, format!("expected 4 fields, found {}", f.len()));
                    continue;
                }
                match build(f[0], f[1], f[2], f[3]) {
                    Ok(r) => out.rows.push((line, r)),
                    Err(e) => out.reject(file, line, e),
                }
            }
        }
    }
    out
}

/// Parses `tags.csv`.
pub fn parse_tags(text: &str) -> Parsed<Tag> {
    let mut out = Parsed::new();
    let mut rows = Vec::new();
    csv_rows(
        "tags.csv",
        text,
        &["userId", "movieId", "tag", "timestamp"],
        |line, r| {
            let tag = r[2].trim();
            if tag.is_empty() {
                return Err("empty tag".into());
            }
            rows.push((
                line,
                Tag {
                    user: parse_id(&r[0], "userId")?,
                    movie: parse_id(&r[1], "movieId")?,
                    tag: tag.to_string(),
                    timestamp: parse_ts(&r[3])?,
                },
            ));
            Ok(())
        },
        &mut out.errors,
    );
    out.rows = rows;
    out
}

/// Parses `links.csv`.
pub fn parse_links(text: &str) -> Parsed<Link> {
    let mut out = Parsed::new();
    let mut rows = Vec::new();
    csv_rows(
        "links.csv",
        text,
        &["movieId", "imdbId", "tmdbId"],
        |line, r| {
            let imdb = r[1].trim();
            if !imdb.is_empty() && !imdb.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("imdbId {imdb:?} is not numeric"));
            }
            let tmdb = r[2].trim();
            let tmdb = if tmdb.is_empty() {
                None
            } else {
                Some(parse_id(tmdb, "tmdbId")?)
            };
            rows.push((
                line,
                Link {
                    movie: parse_id(&r[0], "movieId")?,
                    imdb: (!imdb.is_empty()).then(|| imdb.to_string()),
                    tmdb,
                },
            ));
            Ok(())
        },
        &mut out.errors,
    );
    out.rows = rows;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_lose_year_and_move_article() {
        assert_eq!(
            split_title("Toy Story (1995)"),
            ("Toy Story".into(), Some(1995))
        );
        assert_eq!(
            split_title("Matrix, The (1999)"),
            ("The Matrix".into(), Some(1999))
        );
        assert_eq!(split_title("Babylon 5"), ("Babylon 5".into(), None));
        assert_eq!(
            split_title("Seven (a.k.a. Se7en) (1995)"),
            ("Seven (a.k.a. Se7en)".into(), Some(1995))
        );
        assert_eq!(
            split_title("Hyena Road (2015) "),
            ("Hyena Road".into(), Some(2015))
        );
        assert_eq!(
            split_title("Fawlty Towers (1975-1979)"),
            ("Fawlty Towers".into(), Some(1975))
        );
    }

    #[test]
    fn csv_movies_with_quotes_and_bad_rows() {
        let text = "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n\"2\",\"American President, The (1995)\",Comedy|Drama|Romance\nx,Bad (2000),Drama\n4,Nothing (2001),(no genres listed)\n5,only two\n";
        let p = parse_movies(Layout::LatestCsv, text);
        assert_eq!(p.rows.len(), 3);
        assert_eq!(p.rows[1].1.title, "The American President");
        assert_eq!(p.rows[1].1.genres, vec!["Comedy", "Drama", "Romance"]);
        assert!(p.rows[2].1.genres.is_empty());
        assert_eq!(p.errors.len(), 2);
        assert_eq!(p.errors[0].line, 4);
        assert!(p.errors[0].reason.contains("movieId"));
        assert_eq!(p.errors[1].line, 6);
        assert_eq!(p.errors[0].file, "movies.csv");
    }

    #[test]
    fn ratings_in_all_layouts() {
        let csv = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,9,964981247\n";
        let p = parse_ratings(Layout::LatestCsv, csv);
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.errors[0].line, 3);
        let u = "196\t242\t3\t881250949\n186\t302\t3\n";
        let p = parse_ratings(Layout::Ml100k, u);
        assert_eq!(
            p.rows[0].1,
            Rating {
                user: 196,
                movie: 242,
                rating: 3.0,
                timestamp: 881250949
            }
        );
        assert_eq!(p.errors[0].line, 2);
        let d = "1::1193::5::978300760\n1::x::5::978300760\n";
        let p = parse_ratings(Layout::Ml1m, d);
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.errors.len(), 1);
    }

    #[test]
    fn ml100k_items_with_latin1() {
        let mut bytes =
            b"1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
                .to_vec();
        bytes.extend_from_slice(
            b"2|Caf\xe9 (1996)|01-Jan-1996||http://x|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n",
        );
        let text = decode(&bytes);
        let p = parse_movies(Layout::Ml100k, &text);
        assert_eq!(p.errors, vec![]);
        assert_eq!(p.rows[0].1.genres, vec!["Animation", "Children", "Comedy"]);
        assert_eq!(p.rows[1].1.title, "Café");
    }

    #[test]
    fn real_demo_files_parse_cleanly() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/demo/ml-latest-small"
        );
        let movies = std::fs::read_to_string(format!("{dir}/movies.csv")).unwrap();
        let p = parse_movies(Layout::LatestCsv, &movies);
        assert_eq!((p.rows.len(), p.errors.len()), (9742, 0));
        let tags = std::fs::read_to_string(format!("{dir}/tags.csv")).unwrap();
        let t = parse_tags(&tags);
        assert_eq!((t.rows.len(), t.errors.len()), (3683, 0));
        let links = std::fs::read_to_string(format!("{dir}/links.csv")).unwrap();
        let l = parse_links(&links);
        assert_eq!((l.rows.len(), l.errors.len()), (9742, 0));
    }

    #[test]
    fn layout_detection() {
        assert_eq!(
            Layout::detect(&["ratings.csv", "movies.csv"]),
            Some(Layout::LatestCsv)
        );
        assert_eq!(Layout::detect(&["u.data", "u.item"]), Some(Layout::Ml100k));
        assert_eq!(
            Layout::detect(&["ratings.dat", "movies.dat"]),
            Some(Layout::Ml1m)
        );
        assert_eq!(Layout::detect(&["x"]), None);
    }
}
