//! What each fuzz target does with one input, and the invariants it checks.
//! Shared, by `#[path]`, between the fuzz targets and the corpus replay test
//! (`crates/marquee-server/tests/it/hostile.rs`), so that CI checks the
//! committed corpora without cargo-fuzz.
#![allow(dead_code)]

use marquee_movielens::{
    decode, parse_links, parse_movies, parse_ratings, parse_tags, split_title, Layout,
};
use marquee_server::error::AppError;
use marquee_server::listening::{parse, Listening};
use marquee_server::{htmlcheck, markdown, Config};
use std::sync::OnceLock;

/// The ingest clock of the posts targets.
const NOW: i64 = 1_800_000_000_000;

fn listening() -> &'static Listening {
    static L: OnceLock<Listening> = OnceLock::new();
    L.get_or_init(|| match Listening::new(&Config::default().listening) {
        Ok(l) => l,
        Err(e) => panic!("the default listening config must load: {e}"),
    })
}

/// MovieLens files: the first byte picks the layout and the file; the rest
/// is the file's bytes (UTF-8 or Latin-1, as `marquee import movielens`
/// reads them). Every row is parsed or rejected with a line inside the file.
pub fn movielens(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let text = decode(rest);
    let lines = text.lines().count().max(1);
    let layout = match sel % 3 {
        0 => Layout::LatestCsv,
        1 => Layout::Ml100k,
        _ => Layout::Ml1m,
    };
    match (sel / 3) % 5 {
        0 => {
            let p = parse_movies(layout, &text);
            for (line, _) in &p.rows {
                assert!(*line >= 1 && *line <= lines + 1, "line {line} of {lines}");
            }
            for e in &p.errors {
                assert!(e.line <= lines + 1, "error line {} of {lines}", e.line);
            }
        }
        1 => {
            let p = parse_ratings(layout, &text);
            for e in &p.errors {
                assert!(e.line <= lines + 1, "error line {} of {lines}", e.line);
            }
        }
        2 => {
            let _ = parse_tags(&text);
        }
        3 => {
            let _ = parse_links(&text);
        }
        _ => {
            for l in text.lines() {
                let _ = split_title(l);
            }
        }
    }
}

/// Posts from outside: the input as a JSON Lines file (`marquee ingest
/// posts`) and as the ingest API's body; what passes is classified as
/// `listening::ingest` does before it writes. A refusal names a field, and
/// what the CLI accepts the API accepts.
pub fn posts(data: &[u8]) {
    let cfg = &Config::default().listening;
    if let Ok(text) = std::str::from_utf8(data) {
        let mut good = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match parse::jsonl_line(line, cfg.max_post_chars, NOW) {
                Ok(v) => good.push(v),
                Err(e) => assert!(!e.is_empty()),
            }
        }
        if !good.is_empty() && good.len() <= cfg.max_batch_posts {
            let body = serde_json::to_vec(&good).unwrap_or_default();
            if let Err(e) = parse::posts_body(&body, cfg.max_post_chars, cfg.max_batch_posts, NOW) {
                panic!("the CLI accepted lines the API refuses: {e}");
            }
        }
    }
    match parse::posts_body(data, cfg.max_post_chars, cfg.max_batch_posts, NOW) {
        Ok(raws) => {
            for p in listening().classify(raws).0 {
                assert!(!p.author.is_empty());
            }
        }
        Err(AppError::BadRequest { field, .. }) => assert!(field.is_some(), "no field named"),
        Err(e) => panic!("unexpected refusal: {e}"),
    }
}

/// Connector messages: the first byte picks a Bluesky Jetstream WebSocket
/// message or a Mastodon timeline page; their posts are classified.
pub fn connector(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        let keywords = vec!["price".to_string(), "marquee".to_string()];
        if let Ok((_, Some(p))) = parse::jetstream_message(text, &keywords) {
            assert!(p.text.chars().count() <= 5000);
            let _ = listening().classify(vec![p]);
        }
    } else if let Ok(statuses) = parse::mastodon_page(rest) {
        let raws: Vec<_> = statuses
            .iter()
            .filter_map(|s| parse::mastodon_post(s, "mastodon.social"))
            .collect();
        for p in &raws {
            assert!(p.text.chars().count() <= 5000);
        }
        let _ = listening().classify(raws);
    }
}

/// Markdown from users: the sanitised HTML has no script-bearing element,
/// no `on*` attribute and no `javascript:`-like URL, whatever the input.
pub fn markdown(data: &[u8]) {
    let Ok(md) = std::str::from_utf8(data) else {
        return;
    };
    let html = markdown::render(md);
    let found = htmlcheck::findings(html.as_str());
    assert!(
        found.is_empty(),
        "active content {found:?} in {html} from {md:?}"
    );
    assert!(
        !html.as_str().to_ascii_lowercase().contains("<script"),
        "raw <script in {html}"
    );
}

/// The config file: TOML → `Config` (defaults, the file, validation). What
/// loads renders back to TOML that loads to the same configuration, and
/// `marquee config`'s redacted rendering never fails on it.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cfg) = Config::from_toml_str(text) {
        let _ = cfg.redacted_toml();
        if let Ok(shown) = toml::to_string(&cfg) {
            match Config::from_toml_str(&shown) {
                Ok(again) => {
                    let twice = toml::to_string(&again).unwrap_or_default();
                    assert_eq!(shown, twice, "the config does not round-trip");
                }
                Err(e) => panic!("the rendered config does not load: {e}\n{shown}"),
            }
        }
    }
}

/// Kodi/Jellyfin `.nfo` files and the relative-path check (see `nfo.rs`).
pub fn nfo(data: &[u8]) {
    use marquee_catalog::layout::safe_relative;
    use marquee_catalog::nfo::parse_nfo;
    match parse_nfo("fuzz.nfo", data) {
        Ok(doc) => {
            let e = doc.entry();
            assert!(!e.name.is_empty(), "empty name");
            assert_eq!(e.name.trim(), e.name, "untrimmed name");
            assert!(e.name.chars().count() <= 500, "name too long");
            if let Some(s) = &e.synopsis {
                assert!(s.chars().count() <= 10_000, "synopsis too long");
            }
        }
        Err(r) => assert_eq!(r.file, "fuzz.nfo"),
    }

    let text = String::from_utf8_lossy(data);
    for candidate in std::iter::once(text.as_ref()).chain(text.lines()) {
        if let Ok(p) = safe_relative(candidate) {
            assert!(!p.is_empty(), "empty path from {candidate:?}");
            assert!(!p.starts_with('/'), "absolute {p:?}");
            assert!(!p.contains('\\') && !p.contains('\0'), "{p:?}");
            let b = p.as_bytes();
            assert!(
                !(b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'),
                "drive letter {p:?}"
            );
            assert!(
                p.split('/').all(|c| !c.is_empty() && c != "." && c != ".."),
                "bad component in {p:?}"
            );
            assert_eq!(
                safe_relative(&p).as_deref(),
                Ok(p.as_str()),
                "not idempotent"
            );
        }
    }
}
