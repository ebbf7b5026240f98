//! The library import's storage (#21), run against every backend.

use marquee_domain::catalog::TitleFields;
use marquee_domain::{Plan, Role, Thumb, TitleKind};
use marquee_store::library::NewTitle;
use marquee_store::library::{
    ArtworkRow, LibraryItem, LibraryStore, LibraryTitle, MediaRow, Outcome, PersonRow, StoredRating,
};
use marquee_store::{CatalogStore, NewAccount, PinTry};
use marquee_store::{StoreError, Visibility};

both_backends!(
    check_reimport_updates_in_place_and_keeps_history,
    check_artwork_rows_replace_by_kind_and_posterless_lists_the_rest,
    check_the_editor_creates_edits_hides_and_audits,
    check_pin_tries_are_counted_once_each_and_lock,
);

fn title(key: &str, kind: TitleKind, name: &str, hash: &str) -> LibraryTitle {
    LibraryTitle {
        key: key.into(),
        kind,
        name: name.into(),
        year: Some(2019),
        synopsis: Some("A harbour town.".into()),
        runtime_s: Some(6000),
        release_date: Some("2019-05-01".into()),
        maturity: Some(StoredRating {
            code: "PG-13".into(),
            system: "mpaa".into(),
            min_age: 13,
        }),
        available_from: None,
        available_until: None,
        genres: vec!["Drama".into(), "drama".into(), "Mystery".into()],
        tags: vec!["slow burn".into()],
        people: vec![
            PersonRow {
                name: "Ada Moss".into(),
                role: "actor".into(),
                character: Some("Keeper".into()),
            },
            PersonRow {
                name: "Ben Low".into(),
                role: "director".into(),
                character: None,
            },
        ],
        languages: vec!["en".into()],
        ids: vec![("tmdb".into(), key.trim_start_matches("tmdb:").into())],
        media: vec![MediaRow {
            location: format!("Movies/{name}/{name}.mp4"),
            library: Some("/lib".into()),
            size_bytes: Some(10),
            subtitles: vec![format!("Movies/{name}/{name}.en.srt")],
        }],
        season: None,
        episode: None,
        content_hash: hash.into(),
    }
}

fn episode(series: &str, s: i64, e: i64, hash: &str) -> LibraryTitle {
    let mut t = title(
        &format!("{series}/S{s:02}E{e:02}"),
        TitleKind::Episode,
        &format!("Episode {e}"),
        hash,
    );
    t.ids.clear();
    t.season = Some((s, Some(format!("Season {s}"))));
    t.episode = Some(e);
    t
}

async fn check_reimport_updates_in_place_and_keeps_history<S: LibraryStore + CatalogStore>(s: &S) {
    let movie = LibraryItem {
        title: title("tmdb:1", TitleKind::Movie, "The Quiet Harbor", "h1"),
        episodes: vec![],
    };
    let first = s.upsert_library_item(&movie, 1000).await.unwrap();
    assert_eq!(first.title.1, Outcome::Added);
    let id = first.title.0;

    // Same content: unchanged, nothing rewritten.
    let again = s.upsert_library_item(&movie, 2000).await.unwrap();
    assert_eq!(again.title, (id, Outcome::Unchanged));

    // A viewer's thumb on it survives an update.
    let acct = s
        .create_account(
            &NewAccount {
                email: "a@example.com".into(),
                password_hash: "h".into(),
                role: Role::Viewer,
                plan: Plan::Basic,
                must_change_password: false,
                first_profile: "Ann".into(),
                email_verified: true,
            },
            1,
        )
        .await
        .unwrap();
    let profile = s.profiles(acct.id).await.unwrap()[0].id;
    s.set_feedback(profile, id, Some(Thumb::Up), 5)
        .await
        .unwrap();

    let mut changed = movie.clone();
    changed.title.name = "The Quiet Harbour".into();
    changed.title.genres = vec!["Thriller".into()];
    changed.title.people.truncate(1);
    changed.title.media[0].size_bytes = Some(20);
    changed.title.content_hash = "h2".into();
    let upd = s.upsert_library_item(&changed, 3000).await.unwrap();
    assert_eq!(upd.title, (id, Outcome::Updated));
    assert_eq!(s.feedback(profile, id).await.unwrap(), Some(Thumb::Up));

    let d = s.title(id).await.unwrap().unwrap();
    assert_eq!(d.summary.name, "The Quiet Harbour");
    assert_eq!(d.summary.genres, vec!["Thriller".to_string()]);
    assert_eq!(d.duration_s, Some(6000));
    let lib = s.library_detail(id).await.unwrap().unwrap();
    assert_eq!(lib.synopsis.as_deref(), Some("A harbour town."));
    assert_eq!(lib.maturity.as_ref().map(|m| m.min_age), Some(13));
    assert_eq!(lib.people.len(), 1);
    assert_eq!(lib.ids, vec![("tmdb".to_string(), "1".to_string())]);
    assert_eq!(lib.media.len(), 1);
    assert_eq!(lib.media[0].size_bytes, Some(20));
    assert_eq!(lib.media[0].subtitles.len(), 1);
    assert_eq!(s.title_by_key("tmdb:1").await.unwrap(), Some(id));
    // Search finds the new name.
    let found = s
        .search_titles("harbour", 5, &Default::default())
        .await
        .unwrap();
    assert!(found.iter().any(|t| t.id == id), "{found:?}");

    // A series with two seasons; a re-import that adds an episode adds only it.
    let series = LibraryItem {
        title: title("tvdb:9", TitleKind::Series, "Lighthouse Keepers", "s1"),
        episodes: vec![
            episode("tvdb:9", 1, 1, "e1"),
            episode("tvdb:9", 1, 2, "e2"),
            episode("tvdb:9", 2, 1, "e3"),
        ],
    };
    let out = s.upsert_library_item(&series, 4000).await.unwrap();
    assert_eq!(out.title.1, Outcome::Added);
    assert!(out.episodes.iter().all(|(_, o)| *o == Outcome::Added));
    let mut more = series.clone();
    more.episodes.push(episode("tvdb:9", 2, 2, "e4"));
    let out2 = s.upsert_library_item(&more, 5000).await.unwrap();
    assert_eq!(out2.title, (out.title.0, Outcome::Unchanged));
    let outcomes: Vec<Outcome> = out2.episodes.iter().map(|(_, o)| *o).collect();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Unchanged,
            Outcome::Unchanged,
            Outcome::Unchanged,
            Outcome::Added
        ]
    );
    let lib = s.library_detail(out.title.0).await.unwrap().unwrap();
    assert_eq!(
        lib.seasons,
        vec![(1, Some("Season 1".into())), (2, Some("Season 2".into()))]
    );
    let eps: Vec<(i64, i64)> = lib.episodes.iter().map(|e| (e.season, e.episode)).collect();
    assert_eq!(eps, vec![(1, 1), (1, 2), (2, 1), (2, 2)]);
    let ep = s.title(out2.episodes[3].0).await.unwrap().unwrap();
    assert_eq!(ep.series_id, Some(out.title.0));
    assert_eq!((ep.season, ep.episode), (Some(2), Some(2)));
    // Episodes are not listed as titles of their own.
    assert_eq!(s.count_titles(Some(TitleKind::Series)).await.unwrap(), 1);
}

async fn check_artwork_rows_replace_by_kind_and_posterless_lists_the_rest<
    S: LibraryStore + CatalogStore,
>(
    s: &S,
) {
    let a = s
        .upsert_library_item(
            &LibraryItem {
                title: title("tmdb:1", TitleKind::Movie, "A", "h"),
                episodes: vec![],
            },
            1,
        )
        .await
        .unwrap()
        .title
        .0;
    let b = s
        .upsert_library_item(
            &LibraryItem {
                title: title("tmdb:2", TitleKind::Movie, "B", "h"),
                episodes: vec![],
            },
            1,
        )
        .await
        .unwrap()
        .title
        .0;
    let row = |id: i64, kind: &str, size: &str, etag: &str, src: &str| ArtworkRow {
        title_id: id,
        kind: kind.into(),
        size: size.into(),
        width: 342,
        height: 513,
        etag: etag.into(),
        source_hash: src.into(),
        origin: "imported".into(),
    };
    let ids: Vec<i64> = s
        .posterless(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, vec![a, b]);
    s.set_artwork(
        &[
            row(a, "poster", "card", &"1".repeat(32), "src1"),
            row(a, "poster", "detail", &"2".repeat(32), "src1"),
            row(a, "backdrop", "backdrop", &"3".repeat(32), "src2"),
        ],
        5,
    )
    .await
    .unwrap();
    assert_eq!(
        s.artwork_source(a, "poster").await.unwrap().as_deref(),
        Some("src1")
    );
    assert_eq!(s.artwork_source(b, "poster").await.unwrap(), None);
    let ids: Vec<i64> = s
        .posterless(0, 10)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, vec![b]);
    // A new poster replaces both poster rows, and leaves the backdrop.
    s.set_artwork(&[row(a, "poster", "card", &"4".repeat(32), "src3")], 6)
        .await
        .unwrap();
    let rows = s.artwork_of(&[a, b]).await.unwrap();
    let sizes: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.size.as_str()))
        .collect();
    assert_eq!(sizes, vec![("backdrop", "backdrop"), ("poster", "card")]);
    assert!(s.artwork_exists(&"4".repeat(32)).await.unwrap());
    assert!(!s.artwork_exists(&"1".repeat(32)).await.unwrap());
}

async fn check_the_editor_creates_edits_hides_and_audits<S: LibraryStore + CatalogStore>(s: &S) {
    let admin = s
        .create_account(
            &NewAccount {
                email: "ed@example.com".into(),
                password_hash: "h".into(),
                role: Role::Admin,
                plan: Plan::Basic,
                must_change_password: false,
                first_profile: "Ed".into(),
                email_verified: true,
            },
            1,
        )
        .await
        .unwrap();
    let fields = TitleFields {
        name: "Harbor_100%".into(),
        year: Some(2020),
        ..Default::default()
    };
    let series = s
        .create_title(
            &NewTitle {
                kind: TitleKind::Series,
                fields: fields.clone(),
                rating: None,
                episode_of: None,
            },
            admin.id,
            10,
        )
        .await
        .unwrap();
    let ep = NewTitle {
        kind: TitleKind::Episode,
        fields: TitleFields {
            name: "Pilot".into(),
            runtime_s: Some(1800),
            ..Default::default()
        },
        rating: None,
        episode_of: Some((series, 1, 1)),
    };
    let e1 = s.create_title(&ep, admin.id, 11).await.unwrap();
    assert!(matches!(
        s.create_title(&ep, admin.id, 12).await,
        Err(StoreError::Conflict { field: "episode" })
    ));
    let not_series = NewTitle {
        episode_of: Some((e1, 1, 2)),
        ..ep.clone()
    };
    assert!(matches!(
        s.create_title(&not_series, admin.id, 12).await,
        Err(StoreError::Invalid {
            field: "series_id",
            ..
        })
    ));
    let lib = s.library_detail(series).await.unwrap().unwrap();
    assert_eq!(lib.episodes.len(), 1);

    // Hidden: absent for viewers, still listed for the editor.
    let (kind, mut f) = s.title_fields(series).await.unwrap().unwrap();
    assert_eq!(kind, TitleKind::Series);
    f.hidden = true;
    f.maturity = Some("TV-14".into());
    let rating = StoredRating {
        code: "TV-14".into(),
        system: "tv".into(),
        min_age: 14,
    };
    assert!(s
        .edit_title(
            series,
            &f,
            Some(&rating),
            admin.id,
            "Hidden from viewers",
            20
        )
        .await
        .unwrap());
    assert!(!s
        .edit_title(999_999, &f, None, admin.id, "x", 20)
        .await
        .unwrap());
    let v = Visibility::default();
    assert!(s
        .visible_titles(&[series, e1], &v)
        .await
        .unwrap()
        .is_empty());
    // `%` and `_` in the query are letters, not wildcards.
    let found = s.editor_titles("bor_100%", 10, 0).await.unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].hidden);
    assert_eq!(found[0].source, "marquee");
    assert_eq!(found[0].maturity.as_deref(), Some("TV-14"));
    assert!(s.editor_titles("bor_1000", 10, 0).await.unwrap().is_empty());
    assert!(s.editor_titles("borx100", 10, 0).await.unwrap().is_empty());

    let trail = s.catalog_audit(series, 10).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, vec!["edited", "created"]);
    assert_eq!(trail[0].actor.as_deref(), Some("ed@example.com"));
    assert_eq!(trail[0].summary, "Hidden from viewers");
}

async fn check_pin_tries_are_counted_once_each_and_lock<S: CatalogStore>(s: &S) {
    let acct = s
        .create_account(
            &NewAccount {
                email: "pin@example.com".into(),
                password_hash: "h".into(),
                role: Role::Viewer,
                plan: Plan::Basic,
                must_change_password: false,
                first_profile: "Kid".into(),
                email_verified: true,
            },
            1,
        )
        .await
        .unwrap();
    let kid = s.profiles(acct.id).await.unwrap()[0].id;
    // No PIN: nothing is counted.
    assert_eq!(s.begin_pin_try(kid, 10).await.unwrap(), PinTry::NoPin);
    assert!(!s.profile(kid).await.unwrap().unwrap().has_pin);
    // Another account cannot set it.
    assert!(s
        .set_profile_pin(acct.id + 1, kid, Some("hash"))
        .await
        .unwrap()
        .is_none());
    let p = s
        .set_profile_pin(acct.id, kid, Some("hash"))
        .await
        .unwrap()
        .unwrap();
    assert!(p.has_pin);
    // Tries made at once are each counted once: every one sees a
    // different count before it.
    let tries = futures_util::future::join_all((0..8).map(|_| s.begin_pin_try(kid, 20))).await;
    let mut before: Vec<u32> = tries
        .into_iter()
        .map(|t| match t.unwrap() {
            PinTry::Counted {
                pin_hash,
                failures_before,
            } => {
                assert_eq!(pin_hash, "hash");
                failures_before
            }
            other => panic!("{other:?}"),
        })
        .collect();
    before.sort_unstable();
    assert_eq!(before, (0..8).collect::<Vec<u32>>());
    // A lock refuses tries until it ends, then the count starts again.
    s.end_pin_try(kid, Some(1_000)).await.unwrap();
    assert_eq!(
        s.begin_pin_try(kid, 999).await.unwrap(),
        PinTry::Locked { until: 1_000 }
    );
    assert!(matches!(
        s.begin_pin_try(kid, 1_000).await.unwrap(),
        PinTry::Counted {
            failures_before: 0,
            ..
        }
    ));
    // A right PIN forgets the wrong ones; removing the PIN clears it all.
    s.end_pin_try(kid, None).await.unwrap();
    assert!(matches!(
        s.begin_pin_try(kid, 1_001).await.unwrap(),
        PinTry::Counted {
            failures_before: 0,
            ..
        }
    ));
    let p = s
        .set_profile_pin(acct.id, kid, None)
        .await
        .unwrap()
        .unwrap();
    assert!(!p.has_pin);
    assert_eq!(s.begin_pin_try(kid, 1_002).await.unwrap(), PinTry::NoPin);
}
