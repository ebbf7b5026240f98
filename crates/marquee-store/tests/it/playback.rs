//! The playback store (devices, sessions, progress batches, continue
//! watching, next up, series import) against every backend.

use marquee_domain::playback::{DeviceKind, ResumeRules};
use marquee_domain::{Plan, Role};
use marquee_store::playback::{
    ImportEpisode, ImportSeason, ImportSeries, ProgressInput, ProgressRefused, StartLimits,
    StartOutcome, StartPlayback,
};
use marquee_store::{CatalogStore, ImportTitle, NewAccount, PlaybackStore};

both_backends!(
    progress_never_rewinds_and_replays_are_idempotent,
    stream_limit_and_series,
    the_first_media_link_key_stays
);

const LIMITS: StartLimits = StartLimits {
    max_streams: 1,
    stream_timeout_ms: 60_000,
    max_autoplay_run: 3,
    idle_ms: 3_600_000,
};

/// An account with one profile and two devices, and two movies.
async fn seed<S: CatalogStore + PlaybackStore>(s: &S) -> (i64, i64, [i64; 2], Vec<i64>) {
    let titles: Vec<ImportTitle> = (1..=2)
        .map(|i| ImportTitle {
            external_id: i,
            name: format!("Movie {i}"),
            year: Some(2000),
            genres: vec!["Drama".into()],
        })
        .collect();
    s.import_titles("movielens", &titles, 1).await.unwrap();
    let acc = s
        .create_account(
            &NewAccount {
                email: "p@q.co".into(),
                password_hash: "h".into(),
                role: Role::Viewer,
                plan: Plan::Basic,
                must_change_password: false,
                first_profile: "Pat".into(),
                email_verified: true,
            },
            1,
        )
        .await
        .unwrap();
    let profile = s.profiles(acc.id).await.unwrap()[0].id;
    let (tv, created) = s
        .register_device(profile, "Living room", DeviceKind::Tv, 2)
        .await
        .unwrap();
    assert!(created);
    let (again, created) = s
        .register_device(profile, "Living room", DeviceKind::Tv, 3)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!((again.id, again.last_seen_at), (tv.id, 3));
    let (phone, _) = s
        .register_device(profile, "Phone", DeviceKind::Phone, 4)
        .await
        .unwrap();
    let mut ids: Vec<i64> = s
        .list_titles(&marquee_store::TitleQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    ids.sort();
    (acc.id, profile, [tv.id, phone.id], ids)
}

fn progress(session: i64, profile: i64, pos: i64, sent_at: i64, now: i64) -> ProgressInput {
    ProgressInput {
        play_session_id: session,
        profile_id: profile,
        position_ms: Some(pos),
        paused: false,
        sent_at: Some(sent_at),
        interaction: false,
        stop: false,
        now,
    }
}

async fn start<S: PlaybackStore>(
    s: &S,
    account: i64,
    profile: i64,
    device: i64,
    title: i64,
    now: i64,
) -> StartOutcome {
    let title = s.playable_title(title).await.unwrap().unwrap();
    s.start_playback(&StartPlayback {
        account_id: account,
        profile_id: profile,
        device_id: device,
        title,
        autoplay: false,
        now,
        limits: LIMITS,
    })
    .await
    .unwrap()
}

async fn progress_never_rewinds_and_replays_are_idempotent<S: CatalogStore + PlaybackStore>(s: &S) {
    let (account, profile, [tv, _], ids) = seed(s).await;
    let StartOutcome::Started {
        play_session_id: sid,
        resume_ms: 0,
        ..
    } = start(s, account, profile, tv, ids[0], 1_000).await
    else {
        panic!("not started");
    };
    let rules = ResumeRules::default();
    let acks = s
        .record_progress(
            &rules,
            LIMITS.stream_timeout_ms,
            &[
                progress(sid, profile, 1_200_000, 2_000, 2_000),
                // Sent earlier, arrives later: it must not rewind the position.
                progress(sid, profile, 600_000, 1_500, 2_100),
                progress(sid, profile + 1, 1_300_000, 2_200, 2_200),
                progress(sid + 999, profile, 1_300_000, 2_200, 2_200),
                progress(sid, profile, 10_000_000_000, 2_300, 2_300),
            ],
        )
        .await
        .unwrap();
    assert!(acks[0].as_ref().unwrap().applied);
    assert_eq!(acks[1].as_ref().unwrap().resume_ms, 1_200_000);
    assert_eq!(acks[2], Err(ProgressRefused::Forbidden));
    assert_eq!(acks[3], Err(ProgressRefused::NotFound));
    assert!(matches!(acks[4], Err(ProgressRefused::TooLong { .. })));
    let p = s.title_progress(profile, ids[0]).await.unwrap().unwrap();
    assert_eq!((p.resume_ms, p.last_device_id), (1_200_000, Some(tv)));
    let cw = s.continue_watching(profile, 10).await.unwrap();
    assert_eq!(cw.len(), 1);
    assert_eq!((cw[0].title_id, cw[0].resume_ms), (ids[0], 1_200_000));
    let live = s
        .active_streams(account, 2_500, LIMITS.stream_timeout_ms)
        .await
        .unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].position_ms, 1_200_000);

    // Stop, then the same stop again: acknowledged once, written once.
    let mut stop = progress(sid, profile, 1_250_000, 3_000, 3_000);
    stop.stop = true;
    let first = s
        .record_progress(&rules, LIMITS.stream_timeout_ms, &[stop])
        .await
        .unwrap();
    assert!(!first[0].as_ref().unwrap().duplicate);
    let replay = s
        .record_progress(&rules, LIMITS.stream_timeout_ms, &[stop])
        .await
        .unwrap();
    assert!(replay[0].as_ref().unwrap().duplicate);
    let events = s.play_events(profile, Some(ids[0]), 0, 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["start", "progress", "progress", "stop"]);
    assert!(s
        .play_events(profile, Some(ids[1]), 0, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .active_streams(account, 3_100, LIMITS.stream_timeout_ms)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .hide_from_continue_watching(profile, ids[0], 4_000)
        .await
        .unwrap());
    assert!(s.continue_watching(profile, 10).await.unwrap().is_empty());
}

async fn stream_limit_and_series<S: CatalogStore + PlaybackStore>(s: &S) {
    let (account, profile, [tv, phone], ids) = seed(s).await;
    assert!(matches!(
        start(s, account, profile, tv, ids[0], 1_000).await,
        StartOutcome::Started { .. }
    ));
    match start(s, account, profile, phone, ids[1], 2_000).await {
        StartOutcome::StreamLimit { active } => assert_eq!(active[0].device_id, tv),
        other => panic!("{other:?}"),
    }
    // After the timeout the first stream has expired.
    assert!(matches!(
        start(s, account, profile, phone, ids[1], 70_000).await,
        StartOutcome::Started { .. }
    ));

    let series = ImportSeries {
        external_id: 900,
        name: "[Sample] Show".into(),
        year: Some(2020),
        genres: vec!["Comedy".into()],
        seasons: (1..=2)
            .map(|n| ImportSeason {
                number: n,
                episodes: (1..=2)
                    .map(|e| ImportEpisode {
                        external_id: 900 + i64::from(n) * 10 + i64::from(e),
                        number: e,
                        name: format!("S{n}E{e}"),
                        duration_s: 1_200,
                    })
                    .collect(),
            })
            .collect(),
    };
    let c = s
        .import_series("sample", std::slice::from_ref(&series), 5)
        .await
        .unwrap();
    assert_eq!((c.imported, c.unchanged), (5, 0));
    let c = s.import_series("sample", &[series], 5).await.unwrap();
    assert_eq!((c.imported, c.unchanged), (0, 5));
    let show = s
        .search_titles("sample show", 5, &Default::default())
        .await
        .unwrap()[0]
        .id;
    let eps = s.series_episodes(show).await.unwrap();
    assert_eq!(eps.len(), 4);
    let d = s.title(eps[2]).await.unwrap().unwrap();
    assert_eq!(
        (d.season, d.episode, d.series_id),
        (Some(2), Some(1), Some(show))
    );
    s.set_played(profile, eps[0], true, 100_000).await.unwrap();
    let next = s.next_up(profile, 0, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!((next[0].title_id, next[0].series_id), (eps[1], Some(show)));
    s.set_played(profile, show, true, 110_000).await.unwrap();
    assert!(
        s.title_progress(profile, eps[3])
            .await
            .unwrap()
            .unwrap()
            .played
    );
    s.set_played(profile, show, false, 120_000).await.unwrap();
    assert!(
        !s.title_progress(profile, eps[3])
            .await
            .unwrap()
            .unwrap()
            .played
    );
}

/// The first instance's key is kept: a later candidate (another instance
/// starting) gets the stored one back.
async fn the_first_media_link_key_stays<S: PlaybackStore>(s: &S) {
    let first = s.media_link_key("aa".repeat(32).as_str(), 1).await.unwrap();
    assert_eq!(first, "aa".repeat(32));
    let again = s.media_link_key("bb".repeat(32).as_str(), 2).await.unwrap();
    assert_eq!(again, first);
}
