//! The staff overview's read models against every backend: viewing trends
//! (series count their episodes together, completion at 90 %) and rising ideas.

use crate::common::{self, Raw};

use marquee_domain::perks::DAY_MS;
use marquee_domain::Role;
use marquee_store::overview::{OverviewStore, TitleTrend};
use marquee_store::CatalogStore;

async fn account<S: CatalogStore>(s: &S, email: &str) -> (i64, i64) {
    let a = common::account(s, email, Role::Viewer).await;
    let p = s.profiles(a).await.unwrap()[0].id;
    (a, p)
}

async fn check_viewing_trends_and_rising_ideas<S: CatalogStore + OverviewStore + Raw>(s: &S) {
    let (a1, p1) = account(s, "a@x.org").await;
    let (a2, p2) = account(s, "b@x.org").await;
    let d = DAY_MS;
    s.exec(&format!(
        "INSERT INTO titles(id, kind, name, created_at) VALUES (1, 'movie', 'Heat', 1), \
           (2, 'series', 'The Wire', 1); \
         INSERT INTO titles(id, kind, name, series_id, created_at) VALUES (3, 'episode', 'S1E1', 2, 1), \
           (4, 'episode', 'S1E2', 2, 1); \
         INSERT INTO devices(id, profile_id, name, kind, created_at, last_seen_at, last_interaction_at) \
           VALUES (1, {p1}, 'TV', 'tv', 1, 1, 1), (2, {p2}, 'Phone', 'phone', 1, 1, 1); \
         INSERT INTO play_sessions(account_id, profile_id, device_id, title_id, duration_ms, position_ms, started_at, last_event_at) VALUES \
           ({a1}, {p1}, 1, 3, 1000, 950, {d} * 10 + 5, {d} * 10 + 5), \
           ({a1}, {p1}, 1, 4, 1000, 100, {d} * 10 + 9, {d} * 10 + 9), \
           ({a2}, {p2}, 2, 3, 1000, 900, {d} * 11 + 1, {d} * 11 + 1), \
           ({a2}, {p2}, 2, 1, 1000, 899, {d} * 11 + 2, {d} * 11 + 2), \
           ({a2}, {p2}, 2, 1, 1000, 1000, {d} * 2, {d} * 2);"
    ))
    .await;
    let t = s.viewing_trends(10 * d, 10).await.unwrap();
    assert_eq!((t.plays, t.completed, t.viewers), (4, 2, 2));
    assert_eq!(t.by_day, vec![(10 * d, 2, 1), (11 * d, 2, 1)]);
    assert_eq!(
        t.top,
        vec![
            TitleTrend {
                title_id: 2,
                name: "The Wire".into(),
                plays: 3,
                completed: 2
            },
            TitleTrend {
                title_id: 1,
                name: "Heat".into(),
                plays: 1,
                completed: 0
            },
        ]
    );
    assert_eq!(s.viewing_trends(10 * d, 1).await.unwrap().top.len(), 1);
    let none = s.viewing_trends(20 * d, 10).await.unwrap();
    assert_eq!((none.plays, none.completed, none.by_day.len()), (0, 0, 0));

    s.exec(&format!(
        "INSERT INTO ideas(id, author_id, title, status, vote_count, created_at, updated_at, status_changed_at) VALUES \
           (1, {a1}, 'Old favourite', 'open', 9, 1, 1, 1), \
           (2, {a1}, 'Rising', 'planned', 2, 1, 1, 1), \
           (3, {a1}, 'Done', 'launched', 2, 1, 1, 1); \
         INSERT INTO ideas(id, author_id, title, hidden, vote_count, created_at, updated_at, status_changed_at) VALUES \
           (4, {a1}, 'Hidden', 1, 2, 1, 1, 1); \
         INSERT INTO idea_votes(idea_id, account_id, created_at) VALUES \
           (1, {a1}, 5), (1, {a2}, 100), (2, {a1}, 100), (2, {a2}, 101), \
           (3, {a1}, 100), (3, {a2}, 100), (4, {a1}, 100), (4, {a2}, 100);"
    ))
    .await;
    let r = s.rising_ideas(50, 10).await.unwrap();
    assert_eq!(
        r.iter()
            .map(|i| (i.id, i.recent_votes, i.votes, i.status.as_str()))
            .collect::<Vec<_>>(),
        vec![(2, 2, 2, "planned"), (1, 1, 9, "open")]
    );
    assert_eq!(s.rising_ideas(50, 1).await.unwrap().len(), 1);
    assert!(s.rising_ideas(1000, 10).await.unwrap().is_empty());
}

both_backends!(check_viewing_trends_and_rising_ideas);
