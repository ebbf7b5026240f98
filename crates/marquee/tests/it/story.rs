//! `marquee demo backlash --story 2011` on a fresh SQLite database with a
//! small import (90 demo viewers, 30 of them on Standard), read back through
//! the changes service.

use crate::common::bin;
use marquee_domain::changes::{ChangeKind, Status};
use marquee_domain::SystemClock;
use marquee_server::{changes, AppState, Config};
use std::path::Path;
use std::sync::Arc;

fn run(dir: &Path, args: &[&str]) -> String {
    let out = bin(dir).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// 12 titles and `users` viewers with three ratings each.
fn small_movielens(dir: &Path, users: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let mut movies = String::from("movieId,title,genres\n");
    for m in 1..=12 {
        movies.push_str(&format!("{m},Title {m} (19{:02}),Drama\n", 80 + m));
    }
    std::fs::write(dir.join("movies.csv"), movies).unwrap();
    let mut ratings = String::from("userId,movieId,rating,timestamp\n");
    for u in 1..=users {
        for k in 0..3 {
            let m = (u + k * 2) % 12 + 1;
            ratings.push_str(&format!("{u},{m},4.0,{}\n", 1_600_000_000 + u * 100 + k));
        }
    }
    std::fs::write(dir.join("ratings.csv"), ratings).unwrap();
}

fn oppose_share(d: &changes::Dashboard, band: &str) -> f64 {
    let (oppose, reactions) = d
        .stay
        .iter()
        .filter(|r| r.tenure == band)
        .fold((0, 0), |a, r| (a.0 + r.oppose, a.1 + r.reactions));
    assert!(reactions > 0, "no reactions in band {band}: {:?}", d.stay);
    oppose as f64 / reactions as f64
}

#[tokio::test]
async fn the_2011_story_shows_opposition_a_withdrawal_and_a_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("small");
    small_movielens(&data, 90);
    run(dir.path(), &["import", "movielens", data.to_str().unwrap()]);
    run(
        dir.path(),
        &[
            "user",
            "add",
            "--email",
            "boss@example.com",
            "--role",
            "admin",
            "--password",
            "admin-password-1",
        ],
    );
    let out = run(dir.path(), &["demo", "backlash", "--story", "2011"]);
    assert!(out.contains("Trust recovered"), "{out}");

    let url = format!("sqlite://{}", dir.path().join("data/marquee.db").display());
    let store = marquee_store::connect(&url, 2).await.unwrap();
    let state = AppState::new(store.clone(), Config::default(), Arc::new(SystemClock)).unwrap();
    let all = changes::list(&state, &[]).await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let price = all
        .iter()
        .find(|p| p.draft.kind == ChangeKind::Price)
        .unwrap();
    let split = all
        .iter()
        .find(|p| p.draft.kind == ChangeKind::Product)
        .unwrap();

    // Long-tenure customers oppose the price rise more than the newest.
    let d = changes::dashboard(&state, price.id).await.unwrap();
    let long = oppose_share(&d, "3 years or more");
    let new = oppose_share(&d, "under 6 months");
    assert!(
        long > new,
        "3 years or more {long} vs under 6 months {new}: {:?}",
        d.stay
    );
    assert!(d.totals[2] > d.totals[0], "{:?}", d.totals);
    assert!(!d.cancellations.is_empty(), "no cancellations point at it");

    // The split is withdrawn and its apology went out.
    assert_eq!(split.status, Status::Withdrawn);
    assert!(split.announced_at.is_some());
    assert!(split.announced_to > 0);
    assert!(
        split
            .announce_body
            .as_deref()
            .is_some_and(|b| b.contains("sorry")),
        "{:?}",
        split.announce_body
    );

    // The price rise shipped, and its after-change view measures a recovery.
    assert_eq!(price.status, Status::Shipped);
    let after = changes::after_change(&state, price.id).await.unwrap();
    let rec = after.recovery.expect("announced, so measured");
    assert!(
        rec.peak_negative_share > rec.baseline_negative_share,
        "{rec:?}"
    );
    let days = rec.days_to_recover.expect("recovered");
    assert!(
        out.contains(&format!("Trust recovered {days} days after")),
        "{out}"
    );
    store.close().await;

    // A second run does not replay it.
    let again = run(dir.path(), &["demo", "backlash", "--story", "2011"]);
    assert!(again.contains("already ran"), "{again}");
}
