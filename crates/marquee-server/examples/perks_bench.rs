//! Perks benchmark: evaluation throughput, replay, dry-run and overview
//! latency on a synthetic 30-day event log.
//!
//! `cargo run --release -p marquee-server --example perks_bench -- EVENTS ACCOUNTS RUNS`
//!
//! Each run: a fresh SQLite database (WAL) in a temporary directory,
//! ACCOUNTS viewer accounts (created 0 to 400 days before "now", a third on
//! each plan), four rules (custom triggers with tenure, plan and viewing
//! conditions, global and per-profile caps), EVENTS custom events spread
//! over the last 30 days (recording time reported separately), then:
//! one evaluation pass over all of them (the background evaluator's work),
//! a replay (every event posted again: nothing new logged or paid), a
//! dry-run of a fifth rule over the 30 days, and the overview read.
//! Prints one JSON line per run and the medians.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use marquee_domain::perks::{TriggerKind, DAY_MS};
use marquee_domain::{Clock, ManualClock, Plan, Role};
use marquee_server::{AppState, Config};
use marquee_store::perks::NewPerkEvent;
use marquee_store::NewAccount;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

const NOW: i64 = 1_800_000_000_000;

fn rule(name: &str, cond: serde_json::Value, credit: i64) -> serde_json::Value {
    json!({
        "name": name,
        "trigger": {"kind": "custom", "name": name},
        "conditions": cond,
        "effect": {"kind": "credit", "amount_cents": credit},
        "budget": {"global": {"max_cents": 500_000}, "per_profile": {"max_awards": 2, "period_days": 30}}
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn one_run(events: usize, accounts: usize) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = marquee_store::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let state = AppState::new(store.clone(), config, clock.clone()).unwrap();
    let plans = [Plan::Basic, Plan::Standard, Plan::Premium];
    let mut ids = Vec::with_capacity(accounts);
    for i in 0..accounts {
        let a = store
            .create_account(
                &NewAccount {
                    email: format!("v{i}@bench.example"),
                    password_hash: "x".into(),
                    role: Role::Viewer,
                    plan: plans[i % 3],
                    must_change_password: false,
                    first_profile: "Main".into(),
                    email_verified: true,
                },
                NOW - (i as i64 % 400) * DAY_MS,
            )
            .await
            .unwrap();
        ids.push(a.id);
    }
    let names = ["loyal", "premium", "watcher", "anyone"];
    let rules = [
        rule(
            "loyal",
            json!([{"field": "tenure_days", "op": "gte", "value": 180}]),
            500,
        ),
        rule(
            "premium",
            json!([{"field": "plan", "op": "in", "value": ["premium"]}]),
            300,
        ),
        rule(
            "watcher",
            json!([{"field": "titles_finished", "op": "gte", "value": 0}]),
            100,
        ),
        rule("anyone", json!([]), 50),
    ];
    let admin = store
        .create_account(
            &NewAccount {
                email: "admin@bench.example".into(),
                password_hash: "x".into(),
                role: Role::Admin,
                plan: Plan::Premium,
                must_change_password: false,
                first_profile: "Admin".into(),
                email_verified: true,
            },
            NOW,
        )
        .await
        .unwrap();
    for r in &rules {
        let spec = marquee_server::perks::parse_rule(r).unwrap();
        store.create_perk_rule(&spec, admin.id, NOW).await.unwrap();
    }
    let ev = |i: usize| NewPerkEvent {
        kind: TriggerKind::Custom,
        account_id: ids[(i * 7919) % ids.len()],
        profile_id: None,
        key: format!("custom:bench:{i}"),
        occurred_at: NOW - 30 * DAY_MS + (i as i64 * 30 * DAY_MS) / events as i64,
        name: Some(names[i % names.len()].to_string()),
        series_id: None,
        years: None,
        subject_id: None,
        data: "{}".into(),
    };
    let t = Instant::now();
    for i in 0..events {
        store.record_perk_event(&ev(i), NOW).await.unwrap();
    }
    let record_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let pass = marquee_server::perks::run_once(&state).await.unwrap();
    let eval_s = t.elapsed().as_secs_f64();
    let spend = store.perk_spend(0).await.unwrap();

    // Replay: the same events again.
    let t = Instant::now();
    let mut relogged = 0;
    for i in 0..events {
        if store
            .record_perk_event(&ev(i), NOW)
            .await
            .unwrap()
            .is_some()
        {
            relogged += 1;
        }
    }
    let again = marquee_server::perks::run_once(&state).await.unwrap();
    let replay_s = t.elapsed().as_secs_f64();
    let after = store.perk_spend(0).await.unwrap();
    assert_eq!(relogged, 0);
    assert_eq!(again.awarded, 0);
    assert_eq!(after.total_cents, spend.total_cents);

    let dry = marquee_server::perks::parse_rule(&rule(
        "loyal",
        json!([{"field": "tenure_days", "op": "gte", "value": 90}, {"field": "plan", "op": "ne", "value": "basic"}]),
        700,
    ))
    .unwrap();
    let t = Instant::now();
    let d = marquee_server::perks::dry_run(&state, &dry).await.unwrap();
    let dry_ms = t.elapsed().as_secs_f64() * 1000.0;

    let t = Instant::now();
    let o = marquee_server::overview::gather(&state).await.unwrap();
    let overview_ms = t.elapsed().as_secs_f64() * 1000.0;
    let _ = clock.now_ms();
    store.close().await;
    json!({
        "events": events,
        "accounts": accounts,
        "record_events_per_s": (events as f64 / record_s).round(),
        "evaluated": pass.evaluated,
        "awarded": pass.awarded,
        "refused_by_budget": pass.refused,
        "eval_events_per_s": (pass.evaluated as f64 / eval_s).round(),
        "replay_s": (replay_s * 1000.0).round() / 1000.0,
        "spend_cents": spend.total_cents,
        "dry_run_ms": dry_ms.round(),
        "dry_run_eligible": d.eligible,
        "dry_run_awards": d.awards.len(),
        "overview_ms": (overview_ms * 10.0).round() / 10.0,
        "overview_perk_cents": o.perks.total_cents,
    })
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: EVENTS ACCOUNTS RUNS"))
        .collect();
    let events = args.first().copied().unwrap_or(20_000);
    let accounts = args.get(1).copied().unwrap_or(2_000);
    let runs = args.get(2).copied().unwrap_or(3);
    let (mut rec, mut eval, mut replay, mut dry, mut ov) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let r = one_run(events, accounts).await;
        println!("{r}");
        rec.push(r["record_events_per_s"].as_f64().unwrap());
        eval.push(r["eval_events_per_s"].as_f64().unwrap());
        replay.push(r["replay_s"].as_f64().unwrap());
        dry.push(r["dry_run_ms"].as_f64().unwrap());
        ov.push(r["overview_ms"].as_f64().unwrap());
    }
    println!(
        "{}",
        json!({
            "median_record_events_per_s": median(&mut rec),
            "median_eval_events_per_s": median(&mut eval),
            "median_replay_s": median(&mut replay),
            "median_dry_run_ms": median(&mut dry),
            "median_overview_ms": median(&mut ov),
            "runs": runs,
        })
    );
}
