//! The fixture library (`tests/fixtures/library/` at the repository root):
//! list it, plan it, parse every `.nfo` the plan names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use marquee_catalog::layout::{plan, ListedFile};
use marquee_catalog::nfo::{parse_nfo, NfoDoc};
use marquee_catalog::{EntryKind, PersonRole};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/library")
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<ListedFile>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            walk(&path, base, out);
        } else {
            let rel = path.strip_prefix(base).unwrap();
            let rel: Vec<_> = rel.iter().map(|c| c.to_str().unwrap()).collect();
            out.push(ListedFile {
                path: rel.join("/"),
                size: entry.metadata().unwrap().len(),
            });
        }
    }
}

fn nfo(rel: &str) -> NfoDoc {
    let bytes = std::fs::read(root().join(rel)).unwrap();
    match parse_nfo(rel, &bytes) {
        Ok(d) => d,
        Err(r) => panic!("{r}"),
    }
}

#[test]
fn fixture_library() {
    let base = root();
    let mut listing = Vec::new();
    walk(&base, &base, &mut listing);
    let plan = plan(&listing);
    // No nfo, video or subtitle goes unclaimed (pictures may: season
    // posters are not planned).
    for p in &plan.ignored {
        assert!(
            [".jpg", ".jpeg", ".png", ".webp"]
                .iter()
                .any(|e| p.ends_with(e)),
            "{p} ignored"
        );
    }

    // Movies, sorted by folder.
    assert_eq!(plan.movies.len(), 2, "{plan:#?}");
    let night = &plan.movies[0];
    assert_eq!(night.folder, "Movies/Night Train to Lisbon (2021)");
    assert_eq!(
        night.nfo.as_deref(),
        Some("Movies/Night Train to Lisbon (2021)/Night Train to Lisbon (2021).nfo")
    );
    assert_eq!(night.fallback_name, "Night Train to Lisbon");
    assert_eq!(night.fallback_year, Some(2021));
    assert_eq!(night.media.len(), 1);
    assert_eq!(
        night.media[0].path,
        "Movies/Night Train to Lisbon (2021)/Night Train to Lisbon (2021).mkv"
    );
    assert_eq!(
        night.media[0].subtitles,
        vec!["Movies/Night Train to Lisbon (2021)/Night Train to Lisbon (2021).en.srt"]
    );
    let harbor = &plan.movies[1];
    assert_eq!(
        harbor.nfo.as_deref(),
        Some("Movies/The Quiet Harbor (2019)/movie.nfo")
    );
    assert_eq!(harbor.media.len(), 1);
    assert!(harbor.media[0].subtitles.is_empty());

    let NfoDoc::Movie(m) = nfo(night.nfo.as_deref().unwrap()) else {
        panic!("not a movie")
    };
    assert_eq!(m.name, "Night Train to Lisbon");
    assert_eq!(m.year, Some(2021));
    assert_eq!(m.maturity.as_deref(), Some("R"));
    assert_eq!(m.runtime_s, Some(118 * 60));
    assert_eq!(m.genres, vec!["Thriller", "Drama"]);
    assert_eq!(m.ids.imdb.as_deref(), Some("tt9900002"));
    assert_eq!(m.ids.tmdb.as_deref(), Some("9900002"));
    assert!(m
        .people
        .iter()
        .any(|p| p.role == PersonRole::Director && p.name == "Paulo Mendel"));
    assert!(m
        .people
        .iter()
        .any(|p| p.role == PersonRole::Writer && p.name == "Paulo Mendel"));

    let NfoDoc::Movie(m) = nfo(harbor.nfo.as_deref().unwrap()) else {
        panic!("not a movie")
    };
    assert_eq!(m.name, "The Quiet Harbor");
    assert_eq!(m.year, Some(2019));
    assert_eq!(m.maturity.as_deref(), Some("PG-13"));
    assert_eq!(m.ids.key().as_deref(), Some("tmdb:9900001"));
    assert_eq!(m.ids.imdb.as_deref(), Some("tt9900001"));
    assert!(m.synopsis.is_some());
    let actors: Vec<_> = m
        .people
        .iter()
        .filter(|p| p.role == PersonRole::Actor)
        .map(|p| (p.name.as_str(), p.character.as_deref()))
        .collect();
    assert_eq!(
        actors,
        vec![
            ("Ada Brookwell", Some("Mara Lind")),
            ("Tobias Renner", Some("Harbormaster Quill"))
        ]
    );

    // The series.
    assert_eq!(plan.series.len(), 1);
    let s = &plan.series[0];
    assert_eq!(s.folder, "Shows/Lighthouse Keepers");
    assert_eq!(s.nfo, "Shows/Lighthouse Keepers/tvshow.nfo");
    let NfoDoc::Series(series, seasons) = nfo(&s.nfo) else {
        panic!("not a series")
    };
    assert_eq!(series.kind, EntryKind::Series);
    assert_eq!(series.name, "Lighthouse Keepers");
    assert_eq!(series.maturity.as_deref(), Some("TV-PG"));
    assert_eq!(series.ids.tvdb.as_deref(), Some("9900010"));
    assert_eq!(series.ids.tmdb.as_deref(), Some("9900010"));
    assert_eq!(series.ids.imdb.as_deref(), Some("tt9900010"));
    assert_eq!(
        seasons,
        vec![(1, "Arrival".to_string()), (2, "Winter".to_string())]
    );

    assert_eq!(s.episodes.len(), 5);
    let want = [
        (1, 1, "Arrival"),
        (1, 2, "Fog Bell"),
        (1, 3, "The Logbook"),
        (2, 1, "First Ice"),
        (2, 2, "Signal"),
    ];
    let mut season_numbers = std::collections::BTreeSet::new();
    for (ep, (season, episode, name)) in s.episodes.iter().zip(want) {
        assert_eq!(
            (ep.season_hint, ep.episode_hint),
            (Some(season), Some(episode))
        );
        assert_eq!(ep.media.len(), 1, "{ep:?}");
        assert!(ep.media[0].path.ends_with(".mp4"));
        let NfoDoc::Episode(e) = nfo(ep.nfo.as_deref().unwrap()) else {
            panic!("not an episode")
        };
        assert_eq!(e.kind, EntryKind::Episode);
        assert_eq!(e.name, name);
        assert_eq!((e.season, e.episode), (Some(season), Some(episode)));
        assert_eq!(
            e.ids.tvdb.as_deref(),
            Some(format!("99001{season}{episode}").as_str())
        );
        assert_eq!(e.maturity.as_deref(), Some("TV-PG"));
        assert!(e.runtime_s.is_some() && e.synopsis.is_some() && e.release_date.is_some());
        season_numbers.insert(season);
    }
    assert_eq!(season_numbers.len(), 2);
}
