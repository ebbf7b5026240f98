//! A small, clearly labelled sample of series for the demo catalog, so that
//! Next Up and Continue Watching have seasons and episodes to show. MovieLens
//! has only films. Source `marquee-sample`; every name ends in "[Sample]".

use marquee_domain::Millis;
use marquee_store::playback::{ImportEpisode, ImportSeason, ImportSeries};
use marquee_store::{ImportCounts, Store, StoreError};

/// The source key of the sample rows.
pub const SAMPLE_SOURCE: &str = "marquee-sample";

fn season(series: i64, number: i32, names: &[&str], minutes: i64) -> ImportSeason {
    ImportSeason {
        number,
        episodes: names
            .iter()
            .zip(1..)
            .map(|(name, n)| ImportEpisode {
                external_id: series * 1000 + i64::from(number) * 100 + i64::from(n),
                number: n,
                name: format!("{name} [Sample]"),
                // A little variety: each episode a minute or two longer.
                duration_s: (minutes + i64::from(n % 3)) * 60,
            })
            .collect(),
    }
}

/// The sample series.
pub fn sample_series() -> Vec<ImportSeries> {
    vec![
        ImportSeries {
            external_id: 1,
            name: "Harbour Lights [Sample]".into(),
            year: Some(2019),
            genres: vec!["Drama".into(), "Mystery".into()],
            seasons: vec![
                season(
                    1,
                    1,
                    &["Pilot", "Low Tide", "The Keeper's Log", "Fog Signal"],
                    42,
                ),
                season(1, 2, &["New Lamp", "Breakwater", "Last Light"], 44),
            ],
        },
        ImportSeries {
            external_id: 2,
            name: "Orbit Kitchen [Sample]".into(),
            year: Some(2021),
            genres: vec!["Comedy".into()],
            seasons: vec![season(
                2,
                1,
                &[
                    "Zero-G Soufflé",
                    "Freeze-Dried",
                    "Re-entry Burn",
                    "Space Station Potluck",
                    "Splashdown",
                ],
                23,
            )],
        },
        ImportSeries {
            external_id: 3,
            name: "Tiny Planet Shorts [Sample]".into(),
            year: Some(2023),
            genres: vec!["Animation".into(), "Children".into()],
            seasons: vec![season(3, 1, &["Hello Moon", "Comet Tag", "Star Nap"], 3)],
        },
    ]
}

/// Imports the sample series; idempotent.
pub async fn import_sample_series(
    store: &dyn Store,
    now: Millis,
) -> Result<ImportCounts, StoreError> {
    store
        .import_series(SAMPLE_SOURCE, &sample_series(), now)
        .await
}
