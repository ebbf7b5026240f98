//! Which files of a library folder are what, from a listing the caller made
//! (no I/O here: the caller walks the folder, checks symlinks, and hands over
//! relative paths and sizes).
//!
//! The layout is Jellyfin's and Kodi's:
//!
//! - A **series** is a folder holding `tvshow.nfo`. Everything below it
//!   belongs to it: its episodes are the videos and `.nfo` files in it or in
//!   its subfolders (`Season 1`, `Season 01`, `Specials`, …), grouped by file
//!   stem (`Show - S01E02 - Name.nfo` + `Show - S01E02 - Name.mp4`); an
//!   episode `.nfo` without a video stands alone. `<stem>-thumb.jpg|png` is
//!   the episode's still; `poster`/`folder` and `fanart`/`backdrop` pictures
//!   in the series folder are the series' artwork. Season pictures
//!   (`season01-poster.jpg`, a season folder's `folder.jpg`) are ignored.
//! - A **movie** is a folder holding `movie.nfo`, or `<stem>.nfo` beside a
//!   video `<stem>.<ext>`. Pictures beside it: `poster.*`, `folder.*`,
//!   `<stem>-poster.*` (poster); `fanart.*`, `backdrop.*`, `<stem>-fanart.*`
//!   (backdrop).
//! - A video with **no `.nfo` at all** is still planned as a movie, without
//!   an nfo: its name and year come from the folder name (`Name (Year)`), or
//!   from the file stem when the folder holds other movies too or is the
//!   library's top folder. The caller uses [`PlannedMovie::fallback_name`]
//!   and [`PlannedMovie::fallback_year`] then.
//! - Sidecar subtitles (`<stem>.srt`, `<stem>.en.vtt`, `<stem>.en.forced.ass`,
//!   …) are listed with their video in [`PlannedMedia::subtitles`].
//! - Extras folders (`extras`, `trailers`, `featurettes`, `behind the scenes`,
//!   `deleted scenes`, `interviews`, `samples`: the folder's own name) and
//!   `<stem>-trailer` / `<stem>-sample` videos are not titles.
//!
//! Everything not used is listed in [`LibraryPlan::ignored`]: hidden files,
//! unsafe paths, pictures and `.nfo` files nothing claims. Every list is
//! sorted by path, so the same listing always gives the same plan.
//!
//! Extensions and the special names (`movie.nfo`, `poster.jpg`, …) are
//! matched without regard to case; stems are matched exactly.

use crate::entry::{ArtKind, ArtworkRef};
use std::collections::{BTreeMap, BTreeSet};

/// Video extensions (lowercase).
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "mkv", "mp4", "m4v", "webm", "mov", "avi", "ts", "m2ts", "wmv", "mpg", "mpeg", "ogv",
];
/// Subtitle sidecar extensions (lowercase).
pub const SUBTITLE_EXTENSIONS: &[&str] = &["srt", "vtt", "ass", "ssa", "sub"];
/// Picture extensions artwork may have (lowercase).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp"];

/// Folder names (lowercase) whose videos are extras, not titles.
const EXTRAS_FOLDERS: &[&str] = &[
    "extras",
    "trailers",
    "featurettes",
    "behind the scenes",
    "deleted scenes",
    "interviews",
    "samples",
];

/// Cleans a relative path from a listing, a feed or an `.nfo`: `\` becomes
/// `/`, empty and `.` components go. Refused: an empty path, an absolute one
/// (`/x`, `C:\x`, `C:x`, `\\server\share`), any `..` component, a NUL byte.
/// Symlinks are the caller's to check (with I/O).
pub fn safe_relative(path: &str) -> Result<String, &'static str> {
    if path.contains('\0') {
        return Err("the path contains a NUL byte");
    }
    if path.trim().is_empty() {
        return Err("the path is empty");
    }
    let path = path.replace('\\', "/");
    if path.starts_with('/') {
        return Err("the path is absolute; it must be relative to the library folder");
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("the path climbs out of its folder (`..`)"),
            p => parts.push(p),
        }
    }
    let Some(first) = parts.first() else {
        return Err("the path is empty");
    };
    // `C:\x`, `C:x`, and `./C:/x` once cleaned.
    let b = first.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err(
            "the path starts with a drive letter; it must be relative to the library folder",
        );
    }
    Ok(parts.join("/"))
}

/// One file of the caller's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// Relative to the library folder, `/`-separated.
    pub path: String,
    /// Bytes.
    pub size: u64,
}

/// A video with its sidecar subtitles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMedia {
    pub path: String,
    pub size: u64,
    /// Sidecar subtitle files (`<stem>.srt`, `<stem>.en.vtt`), sorted.
    pub subtitles: Vec<String>,
}

/// A movie folder (or one movie of a folder holding several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMovie {
    /// The folder holding it (`""` for the library's top folder).
    pub folder: String,
    /// `movie.nfo` or `<stem>.nfo`; `None` when there is none (then the
    /// fallback name and year are all there is).
    pub nfo: Option<String>,
    /// From the folder name `Name (Year)` (or the file stem, see the module
    /// documentation).
    pub fallback_name: String,
    pub fallback_year: Option<i32>,
    pub media: Vec<PlannedMedia>,
    pub artwork: Vec<ArtworkRef>,
}

/// A series folder (`tvshow.nfo`) and its episodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSeries {
    pub folder: String,
    /// The `tvshow.nfo`.
    pub nfo: String,
    pub artwork: Vec<ArtworkRef>,
    /// Sorted by (season hint, episode hint, path).
    pub episodes: Vec<PlannedEpisode>,
}

/// One episode: an `.nfo` and/or a video sharing a stem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEpisode {
    pub nfo: Option<String>,
    pub media: Vec<PlannedMedia>,
    pub artwork: Vec<ArtworkRef>,
    /// From `SxxEyy` in the file name, else the folder name (`Season 2` → 2,
    /// `Specials` → 0). The `.nfo`'s `<season>` wins over it.
    pub season_hint: Option<u32>,
    /// From `SxxEyy` in the file name.
    pub episode_hint: Option<u32>,
}

/// What a listing holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LibraryPlan {
    pub movies: Vec<PlannedMovie>,
    pub series: Vec<PlannedSeries>,
    /// Files no title claims, sorted.
    pub ignored: Vec<String>,
}

/// One listed file, split up.
#[derive(Debug, Clone)]
struct F {
    path: String,
    size: u64,
    folder: String,
    name: String,
    stem: String,
    /// Lowercase, without the dot; empty when there is none.
    ext: String,
}

impl F {
    fn new(path: String, size: u64) -> Self {
        let (folder, name) = match path.rfind('/') {
            Some(i) => (path[..i].to_string(), path[i + 1..].to_string()),
            None => (String::new(), path.clone()),
        };
        let (stem, ext) = match name.rfind('.') {
            Some(i) if i > 0 => (name[..i].to_string(), name[i + 1..].to_ascii_lowercase()),
            _ => (name.clone(), String::new()),
        };
        F {
            path,
            size,
            folder,
            name,
            stem,
            ext,
        }
    }
    fn is_video(&self) -> bool {
        VIDEO_EXTENSIONS.contains(&self.ext.as_str())
    }
    fn is_nfo(&self) -> bool {
        self.ext == "nfo"
    }
    fn is_image(&self) -> bool {
        IMAGE_EXTENSIONS.contains(&self.ext.as_str())
    }
    fn is_subtitle(&self) -> bool {
        SUBTITLE_EXTENSIONS.contains(&self.ext.as_str())
    }
    fn lower_stem(&self) -> String {
        self.stem.to_lowercase()
    }
    /// `<stem>-trailer.mkv`, `<stem>-sample.mkv`, `sample.mkv`.
    fn is_extra_video(&self) -> bool {
        let s = self.lower_stem();
        s == "sample" || s == "trailer" || s.ends_with("-trailer") || s.ends_with("-sample")
    }
}

/// Is the folder (by its own name, the last component) an extras folder?
fn in_extras_folder(folder: &str) -> bool {
    let last = folder.rsplit('/').next().unwrap_or("");
    EXTRAS_FOLDERS.contains(&last.to_lowercase().as_str())
}

/// Is `file` a subtitle sidecar of a video with `stem` (`<stem>.srt`,
/// `<stem>.en.srt`)?
fn is_sidecar_of(file: &F, stem: &str) -> bool {
    file.is_subtitle() && (file.stem == stem || file.stem.starts_with(&format!("{stem}.")))
}

/// Is `file` named `<prefix><suffix>.<image ext>` with a suffix from `suffixes`
/// (compared without case)?
fn is_named_image(file: &F, prefix: &str, suffixes: &[&str]) -> bool {
    if !file.is_image() {
        return false;
    }
    match file.stem.strip_prefix(prefix) {
        Some(rest) => suffixes.iter().any(|s| rest.eq_ignore_ascii_case(s)),
        None => false,
    }
}

/// Works out the titles of a listing. See the module documentation for the
/// rules; the result does not depend on the listing's order.
pub fn plan(listing: &[ListedFile]) -> LibraryPlan {
    let mut out = LibraryPlan::default();
    let mut files: Vec<F> = Vec::new();
    for f in listing {
        match safe_relative(&f.path) {
            Ok(p) if !p.split('/').any(|c| c.starts_with('.')) => files.push(F::new(p, f.size)),
            _ => out.ignored.push(f.path.clone()),
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);

    // Series roots: folders holding tvshow.nfo. A file belongs to the
    // deepest series root above it.
    let roots: BTreeSet<String> = files
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case("tvshow.nfo"))
        .map(|f| f.folder.clone())
        .collect();
    let mut series_files: BTreeMap<String, Vec<F>> = BTreeMap::new();
    let mut by_folder: BTreeMap<String, Vec<F>> = BTreeMap::new();
    for f in files {
        match series_root_of(&f.folder, &roots) {
            Some(root) => series_files.entry(root).or_default().push(f),
            None => by_folder.entry(f.folder.clone()).or_default().push(f),
        }
    }
    for (root, files) in series_files {
        plan_series(root, files, &mut out);
    }
    for (folder, files) in by_folder {
        plan_movie_folder(folder, files, &mut out);
    }
    out.movies.sort_by(|a, b| {
        let key = |m: &PlannedMovie| {
            (
                m.folder.clone(),
                m.media.first().map(|x| x.path.clone()),
                m.nfo.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    out.series.sort_by(|a, b| a.folder.cmp(&b.folder));
    out.ignored.sort();
    out
}

fn series_root_of(folder: &str, roots: &BTreeSet<String>) -> Option<String> {
    let mut cur = folder;
    loop {
        if roots.contains(cur) {
            return Some(cur.to_string());
        }
        if cur.is_empty() {
            return None;
        }
        cur = match cur.rfind('/') {
            Some(i) => &cur[..i],
            None => "",
        };
    }
}

fn plan_series(root: String, files: Vec<F>, out: &mut LibraryPlan) {
    let mut used = vec![false; files.len()];
    let mut nfo = String::new();
    let mut artwork = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if f.folder != root {
            continue;
        }
        if f.name.eq_ignore_ascii_case("tvshow.nfo") {
            nfo = f.path.clone();
            used[i] = true;
        } else if is_named_image(f, "", &["poster", "folder"]) {
            artwork.push(art(ArtKind::Poster, f));
            used[i] = true;
        } else if is_named_image(f, "", &["fanart", "backdrop"]) {
            artwork.push(art(ArtKind::Backdrop, f));
            used[i] = true;
        }
    }

    // Episodes: (folder, stem) of every video and episode nfo.
    let mut keys: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, f) in files.iter().enumerate() {
        if used[i] || (f.folder != root && in_extras_folder(&f.folder)) {
            continue;
        }
        let episode_like = (f.is_video() && !f.is_extra_video())
            || (f.is_nfo() && !f.name.eq_ignore_ascii_case("season.nfo"));
        if episode_like {
            keys.insert((f.folder.clone(), f.stem.clone()));
        }
    }
    let mut episodes = Vec::new();
    for (folder, stem) in keys {
        let mut ep = PlannedEpisode {
            nfo: None,
            media: Vec::new(),
            artwork: Vec::new(),
            season_hint: None,
            episode_hint: None,
        };
        for (i, f) in files.iter().enumerate() {
            if used[i] || f.folder != folder {
                continue;
            }
            if f.stem == stem && f.is_nfo() {
                ep.nfo = Some(f.path.clone());
                used[i] = true;
            } else if f.stem == stem && f.is_video() {
                ep.media.push(PlannedMedia {
                    path: f.path.clone(),
                    size: f.size,
                    subtitles: Vec::new(),
                });
                used[i] = true;
            } else if is_named_image(f, &stem, &["-thumb"]) {
                ep.artwork.push(art(ArtKind::Thumb, f));
                used[i] = true;
            }
        }
        for m in &mut ep.media {
            for (i, f) in files.iter().enumerate() {
                if !used[i] && f.folder == folder && is_sidecar_of(f, &stem) {
                    m.subtitles.push(f.path.clone());
                    used[i] = true;
                }
            }
        }
        let (s, e) = season_episode(&stem);
        ep.season_hint = s.or_else(|| season_from_folder(&folder));
        ep.episode_hint = e;
        episodes.push(ep);
    }
    episodes.sort_by(|a, b| {
        let key = |e: &PlannedEpisode| {
            (
                e.season_hint.unwrap_or(u32::MAX),
                e.episode_hint.unwrap_or(u32::MAX),
                e.nfo
                    .clone()
                    .or_else(|| e.media.first().map(|m| m.path.clone())),
            )
        };
        key(a).cmp(&key(b))
    });
    artwork.sort_by(|a: &ArtworkRef, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
    for (i, f) in files.iter().enumerate() {
        if !used[i] {
            out.ignored.push(f.path.clone());
        }
    }
    out.series.push(PlannedSeries {
        folder: root,
        nfo,
        artwork,
        episodes,
    });
}

/// One movie of a folder, before its files are claimed.
struct Candidate {
    /// Index of its `.nfo`.
    nfo: Option<usize>,
    /// Indices of its videos.
    videos: Vec<usize>,
    /// The stem `<stem>-poster.jpg` pictures are matched against.
    stem: Option<String>,
    /// What the fallback name and year are read from.
    name_from: String,
}

fn plan_movie_folder(folder: String, files: Vec<F>, out: &mut LibraryPlan) {
    if in_extras_folder(&folder) {
        out.ignored.extend(files.into_iter().map(|f| f.path));
        return;
    }
    let mut used = vec![false; files.len()];
    let videos: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].is_video() && !files[i].is_extra_video())
        .collect();
    let movie_nfo = files
        .iter()
        .position(|f| f.name.eq_ignore_ascii_case("movie.nfo"));
    let folder_name = folder.rsplit('/').next().unwrap_or("").to_string();

    let mut movies: Vec<Candidate> = Vec::new();
    if let Some(n) = movie_nfo {
        // One movie: every video of the folder is a part of it.
        let stem = match videos.as_slice() {
            [v] => Some(files[*v].stem.clone()),
            _ => None,
        };
        let name_from = if folder_name.is_empty() {
            stem.clone().unwrap_or_default()
        } else {
            folder_name.clone()
        };
        movies.push(Candidate {
            nfo: Some(n),
            videos: videos.clone(),
            stem,
            name_from,
        });
    } else {
        let mut stems: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &v in &videos {
            stems.entry(files[v].stem.as_str()).or_default().push(v);
        }
        let single = stems.len() == 1 && !folder_name.is_empty();
        for (stem, vids) in stems {
            let nfo = files.iter().position(|f| f.is_nfo() && f.stem == stem);
            let name_from = if single {
                folder_name.clone()
            } else {
                stem.to_string()
            };
            movies.push(Candidate {
                nfo,
                videos: vids,
                stem: Some(stem.to_string()),
                name_from,
            });
        }
    }
    let generic_art = movies.len() == 1;
    for Candidate {
        nfo,
        videos: vids,
        stem,
        name_from,
    } in movies
    {
        if let Some(n) = nfo {
            used[n] = true;
        }
        let mut media = Vec::new();
        for v in vids {
            used[v] = true;
            let vstem = files[v].stem.clone();
            let mut subtitles = Vec::new();
            for (i, f) in files.iter().enumerate() {
                if !used[i] && is_sidecar_of(f, &vstem) {
                    subtitles.push(f.path.clone());
                    used[i] = true;
                }
            }
            media.push(PlannedMedia {
                path: files[v].path.clone(),
                size: files[v].size,
                subtitles,
            });
        }
        let mut artwork = Vec::new();
        for (i, f) in files.iter().enumerate() {
            if used[i] {
                continue;
            }
            let kind = if generic_art && is_named_image(f, "", &["poster", "folder"]) {
                Some(ArtKind::Poster)
            } else if generic_art && is_named_image(f, "", &["fanart", "backdrop"]) {
                Some(ArtKind::Backdrop)
            } else if let Some(s) = &stem {
                if is_named_image(f, s, &["-poster"]) {
                    Some(ArtKind::Poster)
                } else if is_named_image(f, s, &["-fanart", "-backdrop"]) {
                    Some(ArtKind::Backdrop)
                } else {
                    None
                }
            } else {
                None
            };
            if let Some(kind) = kind {
                artwork.push(art(kind, f));
                used[i] = true;
            }
        }
        artwork.sort_by(|a, b| (a.kind, &a.path).cmp(&(b.kind, &b.path)));
        let (fallback_name, fallback_year) = name_and_year(&name_from);
        out.movies.push(PlannedMovie {
            folder: folder.clone(),
            nfo: nfo.map(|n| files[n].path.clone()),
            fallback_name,
            fallback_year,
            media,
            artwork,
        });
    }
    for (i, f) in files.into_iter().enumerate() {
        if !used[i] {
            out.ignored.push(f.path);
        }
    }
}

fn art(kind: ArtKind, f: &F) -> ArtworkRef {
    ArtworkRef {
        kind,
        path: f.path.clone(),
    }
}

/// `"The Quiet Harbor (2019)"` → `("The Quiet Harbor", Some(2019))`; a
/// name without a year in brackets at its end is kept whole (trimmed).
/// Also accepts `[2019]`.
pub fn name_and_year(s: &str) -> (String, Option<i32>) {
    let t = s.trim();
    for (open, close) in [('(', ')'), ('[', ']')] {
        if let Some(body) = t.strip_suffix(close) {
            if let Some(i) = body.rfind(open) {
                let inner = &body[i + 1..];
                if inner.len() == 4 && inner.bytes().all(|b| b.is_ascii_digit()) {
                    if let Ok(y) = inner.parse::<i32>() {
                        let name = body[..i].trim();
                        if (1870..=2100).contains(&y) && !name.is_empty() {
                            return (name.to_string(), Some(y));
                        }
                    }
                }
            }
        }
    }
    (t.to_string(), None)
}

/// `SxxEyy` (any case, 1 to 4 digits each) anywhere in a file stem.
pub fn season_episode(stem: &str) -> (Option<u32>, Option<u32>) {
    let b = stem.as_bytes();
    let digits = |from: usize| -> (Option<u32>, usize) {
        let mut j = from;
        while j < b.len() && b[j].is_ascii_digit() && j - from < 4 {
            j += 1;
        }
        (stem.get(from..j).and_then(|d| d.parse().ok()), j)
    };
    for i in 0..b.len() {
        if !b[i].eq_ignore_ascii_case(&b's') || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let (season, j) = digits(i + 1);
        let Some(season) = season else { continue };
        if j < b.len() && b[j].eq_ignore_ascii_case(&b'e') {
            let (episode, _) = digits(j + 1);
            if let Some(episode) = episode {
                return (Some(season), Some(episode));
            }
        }
    }
    (None, None)
}

/// The season a folder name says: `Season 1`, `Season 01`, `S01`, `Specials`
/// (0). Only the last component counts.
pub fn season_from_folder(folder: &str) -> Option<u32> {
    let last = folder
        .rsplit('/')
        .next()
        .unwrap_or("")
        .trim()
        .to_lowercase();
    if last == "specials" || last == "special" {
        return Some(0);
    }
    let rest = last
        .strip_prefix("season")
        .or_else(|| last.strip_prefix('s'))?
        .trim_start_matches([' ', '_', '-', '.']);
    if rest.is_empty() || rest.len() > 4 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(paths: &[&str]) -> Vec<ListedFile> {
        paths
            .iter()
            .map(|p| ListedFile {
                path: p.to_string(),
                size: 10,
            })
            .collect()
    }

    #[test]
    fn safe_relative_accepts_and_cleans() {
        assert_eq!(safe_relative("a/b.jpg"), Ok("a/b.jpg".into()));
        assert_eq!(safe_relative("./a/./b.jpg"), Ok("a/b.jpg".into()));
        assert_eq!(safe_relative("a\\b\\c.jpg"), Ok("a/b/c.jpg".into()));
        assert_eq!(safe_relative("a//b/"), Ok("a/b".into()));
        assert_eq!(safe_relative("a..b/c..jpg"), Ok("a..b/c..jpg".into()));
    }

    #[test]
    fn safe_relative_refuses_escapes() {
        for bad in [
            "",
            "   ",
            ".",
            "./",
            "..",
            "../x.jpg",
            "a/../../x.jpg",
            "a/..",
            "a\\..\\..\\x",
            "/etc/passwd",
            "\\\\server\\share\\x.jpg",
            "C:\\x.jpg",
            "c:x.jpg",
            "C:/x.jpg",
            "./C:/x.jpg",
            ".\\c:x",
            "a\0b",
        ] {
            assert!(safe_relative(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn names_years_and_episode_numbers() {
        assert_eq!(
            name_and_year("The Quiet Harbor (2019)"),
            ("The Quiet Harbor".into(), Some(2019))
        );
        assert_eq!(name_and_year("Heat [1995]"), ("Heat".into(), Some(1995)));
        assert_eq!(name_and_year("2001 (x)"), ("2001 (x)".into(), None));
        assert_eq!(name_and_year("(2019)"), ("(2019)".into(), None));
        assert_eq!(
            season_episode("Lighthouse Keepers - S01E02 - Fog"),
            (Some(1), Some(2))
        );
        assert_eq!(season_episode("show.s10e112"), (Some(10), Some(112)));
        assert_eq!(season_episode("Seasons Greetings"), (None, None));
        assert_eq!(season_from_folder("Shows/X/Season 01"), Some(1));
        assert_eq!(season_from_folder("Season 2"), Some(2));
        assert_eq!(season_from_folder("S03"), Some(3));
        assert_eq!(season_from_folder("x/Specials"), Some(0));
        assert_eq!(season_from_folder("Season Finale"), None);
        assert_eq!(season_from_folder("Shows"), None);
    }

    #[test]
    fn plans_movies_series_and_fallbacks() {
        let listing = l(&[
            "Movies/B (2020)/B (2020).mkv",
            "Movies/B (2020)/B (2020).nfo",
            "Movies/B (2020)/B (2020).en.srt",
            "Movies/B (2020)/B (2020).srt",
            "Movies/B (2020)/B (2020)-poster.jpg",
            "Movies/B (2020)/fanart.png",
            "Movies/B (2020)/B (2020)-trailer.mkv",
            "Movies/A (2019)/movie.nfo",
            "Movies/A (2019)/a.mp4",
            "Movies/A (2019)/Poster.JPG",
            "Movies/A (2019)/notes.txt",
            "Movies/A (2019)/extras/making of.mkv",
            "Movies/C (1999)/C.avi",
            "Movies/.hidden/x.mkv",
            "Shows/S/tvshow.nfo",
            "Shows/S/poster.jpg",
            "Shows/S/season01-poster.jpg",
            "Shows/S/Season 01/S - S01E02 - Two.nfo",
            "Shows/S/Season 01/S - S01E02 - Two.mkv",
            "Shows/S/Season 01/S - S01E02 - Two-thumb.jpg",
            "Shows/S/Season 01/S - S01E01 - One.mkv",
            "Shows/S/Season 01/S - S01E01 - One.en.vtt",
            "Shows/S/Season 02/Pilot.nfo",
            "Shows/S/Specials/x.nfo",
            "../escape.mkv",
        ]);
        let p = plan(&listing);
        assert_eq!(p.movies.len(), 3, "{p:#?}");
        let a = &p.movies[0];
        assert_eq!(a.nfo.as_deref(), Some("Movies/A (2019)/movie.nfo"));
        assert_eq!(a.fallback_name, "A");
        assert_eq!(a.fallback_year, Some(2019));
        assert_eq!(a.media.len(), 1);
        assert_eq!(a.artwork.len(), 1);
        assert_eq!(a.artwork[0].kind, ArtKind::Poster);
        let b = &p.movies[1];
        assert_eq!(b.nfo.as_deref(), Some("Movies/B (2020)/B (2020).nfo"));
        assert_eq!(
            b.media[0].subtitles,
            vec![
                "Movies/B (2020)/B (2020).en.srt",
                "Movies/B (2020)/B (2020).srt"
            ]
        );
        assert_eq!(
            b.artwork,
            vec![
                ArtworkRef {
                    kind: ArtKind::Poster,
                    path: "Movies/B (2020)/B (2020)-poster.jpg".into()
                },
                ArtworkRef {
                    kind: ArtKind::Backdrop,
                    path: "Movies/B (2020)/fanart.png".into()
                },
            ]
        );
        let c = &p.movies[2];
        assert_eq!(c.nfo, None);
        assert_eq!(
            (c.fallback_name.as_str(), c.fallback_year),
            ("C", Some(1999))
        );

        assert_eq!(p.series.len(), 1);
        let s = &p.series[0];
        assert_eq!(s.nfo, "Shows/S/tvshow.nfo");
        assert_eq!(s.artwork.len(), 1);
        let hints: Vec<_> = s
            .episodes
            .iter()
            .map(|e| (e.season_hint, e.episode_hint))
            .collect();
        assert_eq!(
            hints,
            vec![
                (Some(0), None),
                (Some(1), Some(1)),
                (Some(1), Some(2)),
                (Some(2), None)
            ]
        );
        let e1 = &s.episodes[1];
        assert_eq!(e1.nfo, None);
        assert_eq!(
            e1.media[0].subtitles,
            vec!["Shows/S/Season 01/S - S01E01 - One.en.vtt"]
        );
        let e2 = &s.episodes[2];
        assert_eq!(e2.artwork[0].kind, ArtKind::Thumb);
        assert!(e2.nfo.is_some());
        assert_eq!(
            p.ignored,
            vec![
                "../escape.mkv",
                "Movies/.hidden/x.mkv",
                "Movies/A (2019)/extras/making of.mkv",
                "Movies/A (2019)/notes.txt",
                "Movies/B (2020)/B (2020)-trailer.mkv",
                "Shows/S/season01-poster.jpg",
            ]
        );
    }

    #[test]
    fn plan_ignores_listing_order() {
        let mut listing = l(&[
            "M/X (2001)/X (2001).mkv",
            "M/X (2001)/X (2001).nfo",
            "M/Y/y.mp4",
            "T/tvshow.nfo",
            "T/S01E01.mkv",
        ]);
        let a = plan(&listing);
        listing.reverse();
        assert_eq!(a, plan(&listing));
        assert_eq!(a.movies[1].fallback_name, "Y");
    }

    #[test]
    fn folder_with_several_movies() {
        let p = plan(&l(&[
            "One (2001).mkv",
            "One (2001).nfo",
            "Two (2002).mkv",
            "poster.jpg",
        ]));
        assert_eq!(p.movies.len(), 2);
        assert_eq!(p.movies[0].nfo.as_deref(), Some("One (2001).nfo"));
        assert_eq!(p.movies[1].nfo, None);
        assert_eq!(p.movies[1].fallback_name, "Two");
        assert_eq!(p.movies[1].fallback_year, Some(2002));
        // A generic poster is nobody's when the folder holds several movies.
        assert_eq!(p.ignored, vec!["poster.jpg"]);
    }
}
