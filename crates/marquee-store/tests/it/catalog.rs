//! The catalog store (schema, catalog, accounts, profiles, sessions, history,
//! thumbs) against every backend.

use crate::common;

/// Both backends' migrations create the same tables with the same columns.
#[tokio::test]
async fn schemas_have_the_same_tables_and_columns() {
    let Some(pg) = common::fresh_postgres().await else {
        eprintln!("{} unset: PostgreSQL not tested", common::PG_ENV);
        return;
    };
    let lite = common::fresh_sqlite().await;
    let mut lite_cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' \
         AND m.sql NOT LIKE '%VIRTUAL TABLE%' AND m.name NOT LIKE '%_fts_%'",
    )
    .fetch_all(lite.pool())
    .await
    .unwrap();
    let mut pg_cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%' \
         AND data_type <> 'tsvector'",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap();
    lite_cols.sort();
    pg_cols.sort();
    assert_eq!(lite_cols, pg_cols);
}

use marquee_domain::{GenreCount, Plan, Role, Thumb};
use marquee_store::{CatalogStore, ImportRating, ImportTitle, NewAccount, StoreError, TitleQuery};

both_backends!(
    import_is_idempotent_and_rejects_unknown_refs,
    search_and_genre_listing,
    accounts_profiles_and_limits,
    profile_limit_holds_under_concurrent_adds,
);

fn title(id: i64, name: &str, genres: &[&str]) -> ImportTitle {
    ImportTitle {
        external_id: id,
        name: name.into(),
        year: Some(1999),
        genres: genres.iter().map(|g| g.to_string()).collect(),
    }
}

async fn import_is_idempotent_and_rejects_unknown_refs<S: CatalogStore>(s: &S) {
    let titles = vec![
        title(1, "Heat", &["Crime", "Action"]),
        title(2, "Up", &["Animation"]),
    ];
    let c = s.import_titles("movielens", &titles, 1).await.unwrap();
    assert_eq!((c.imported, c.unchanged), (2, 0));
    let c = s.import_titles("movielens", &titles, 1).await.unwrap();
    assert_eq!((c.imported, c.unchanged), (0, 2));
    let c = s
        .import_viewers("movielens", &[7, 8], "hash", 1)
        .await
        .unwrap();
    assert_eq!(c.imported, 2);
    let rating = |u, t, stars, at| ImportRating {
        external_user: u,
        external_title: t,
        stars,
        at,
    };
    let ratings = vec![
        rating(7, 1, 5.0, 10),
        rating(7, 99, 5.0, 10),
        rating(8, 2, 3.0, 11),
    ];
    let c = s.import_ratings("movielens", &ratings).await.unwrap();
    assert_eq!((c.imported, c.unchanged, c.rejected), (2, 0, 1));
    let c = s.import_ratings("movielens", &ratings).await.unwrap();
    assert_eq!((c.imported, c.unchanged, c.rejected), (0, 2, 1));
    s.refresh_title_stats().await.unwrap();
    let acc = s
        .credentials("viewer7@demo.marquee")
        .await
        .unwrap()
        .unwrap();
    let prof = s.profiles(acc.account.id).await.unwrap();
    assert_eq!(prof.len(), 1);
    let h = s.history(prof[0].id, 10).await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].title.name, "Heat");
    assert_eq!(h[0].thumb, Some(Thumb::DoubleUp));
    assert_eq!(h[0].title.genres, vec!["Action", "Crime"]);
    assert_eq!(h[0].title.popularity, 1);
    assert_eq!(h[0].title.avg_rating, Some(5.0));
    let d = s.title(h[0].title.id).await.unwrap().unwrap();
    assert_eq!(d.summary.year, Some(1999));
}

async fn search_and_genre_listing<S: CatalogStore>(s: &S) {
    let titles = vec![
        title(1, "The Matrix", &["Sci-Fi"]),
        title(2, "The Matrix Reloaded", &["Sci-Fi", "Action"]),
        title(3, "Amélie", &["Romance"]),
    ];
    s.import_titles("movielens", &titles, 1).await.unwrap();
    let r = s
        .search_titles("matr", 10, &Default::default())
        .await
        .unwrap();
    assert_eq!(r.len(), 2);
    let r = s
        .search_titles("matrix reloa", 10, &Default::default())
        .await
        .unwrap();
    assert_eq!(r.len(), 1);
    let r = s
        .search_titles("amelie", 10, &Default::default())
        .await
        .unwrap();
    assert_eq!(r[0].name, "Amélie");
    let r = s
        .search_titles("AMÉL", 10, &Default::default())
        .await
        .unwrap();
    assert_eq!(r[0].name, "Amélie");
    assert!(s
        .search_titles("\" OR *", 10, &Default::default())
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .search_titles("') | (x:*", 10, &Default::default())
        .await
        .unwrap()
        .is_empty());
    let q = TitleQuery {
        genre: Some("Action".into()),
        limit: 10,
        ..Default::default()
    };
    let r = s.list_titles(&q).await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].name, "The Matrix Reloaded");
    let g = s.genres().await.unwrap();
    assert_eq!(
        g[0],
        GenreCount {
            name: "Sci-Fi".into(),
            titles: 2
        }
    );
    assert_eq!(s.count_titles(None).await.unwrap(), 3);
}

fn new_account(email: &str) -> NewAccount {
    NewAccount {
        email: email.into(),
        password_hash: "h".into(),
        role: Role::Viewer,
        plan: Plan::Basic,
        must_change_password: false,
        first_profile: "Ann".into(),
        email_verified: true,
    }
}

async fn accounts_profiles_and_limits<S: CatalogStore>(s: &S) {
    let new = new_account("a@b.co");
    let a = s.create_account(&new, 5).await.unwrap();
    assert!(matches!(
        s.create_account(&new, 5).await,
        Err(StoreError::Conflict { field: "email" })
    ));
    assert!(matches!(
        s.create_profile(a.id, "Ann", false, 6).await,
        Err(StoreError::Conflict { field: "name" })
    ));
    for i in 0..4 {
        s.create_profile(a.id, &format!("P{i}"), false, 6)
            .await
            .unwrap();
    }
    assert!(matches!(
        s.create_profile(a.id, "P9", false, 6).await,
        Err(StoreError::Limit { .. })
    ));
    assert_eq!(s.profiles(a.id).await.unwrap().len(), 5);
    s.create_session("tok", a.id, None, "csrf", 10, 100)
        .await
        .unwrap();
    assert!(s.session("tok", 50).await.unwrap().is_some());
    assert!(s.session("tok", 100).await.unwrap().is_none());
    s.set_role(a.id, Role::Agent).await.unwrap();
    assert_eq!(s.count_accounts(Some(Role::Agent)).await.unwrap(), 1);
    assert_eq!(s.count_accounts(Some(Role::Admin)).await.unwrap(), 0);
    assert!(matches!(
        s.set_role(a.id + 100, Role::Agent).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// Eight concurrent adds to an account with one profile: exactly four win.
async fn profile_limit_holds_under_concurrent_adds<S: CatalogStore>(s: &S) {
    let a = s.create_account(&new_account("c@d.co"), 1).await.unwrap();
    let names: Vec<String> = (0..8).map(|i| format!("C{i}")).collect();
    let adds = names.iter().map(|n| s.create_profile(a.id, n, false, 2));
    let results = futures_util::future::join_all(adds).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 4, "{results:?}");
    assert_eq!(s.profiles(a.id).await.unwrap().len(), 5);
}
