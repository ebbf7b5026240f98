//! Consultation dashboard benchmark: the staff dashboard of one proposal
//! over POSTS matching social posts and REACTIONS customer reactions.
//!
//! `cargo run --release -p marquee-server --example consultation_bench -- POSTS REACTIONS REQUESTS`
//!
//! A fresh database (SQLite in a temporary directory, WAL; PostgreSQL when
//! `MARQUEE_BENCH_POSTGRES` names a server, on a fresh database of its own),
//! filled through the same service calls the API makes, on a clock that
//! moves forward through a 14-day consultation:
//! REACTIONS viewer accounts (a third on each plan, signed up 0 to 8 years
//! before), a price proposal put to everyone, one reaction from each
//! account (one in ten changes it later; most say whether they would stay),
//! 2,000 comments, and POSTS social posts that mention the price, spread
//! over the consultation, classified and counted by
//! listening as they are ingested. Then REQUESTS dashboard reads
//! (`changes::dashboard`, what `GET /api/v1/staff/changes/{id}/dashboard`
//! and the live panel call) one after another, and REQUESTS more of the
//! same over HTTP through the real server (port 0, an admin's bearer
//! token). Prints the fill times, p50/p99/max of each, as JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use marquee_domain::changes::{ChangeKind, Reaction, Segment, WouldStay, DAY_MS};
use marquee_domain::listening::Sentiment;
use marquee_domain::{ManualClock, Plan, Role};
use marquee_server::auth::CurrentUser;
use marquee_server::changes::{self, ProposalInput};
use marquee_server::listening::{self, RawPost};
use marquee_server::{AppState, Config};
use marquee_store::listening::{PostOrder, PostQuery};
use marquee_store::NewAccount;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

const NOW: i64 = 1_800_000_000_000;
const DAYS: i64 = 14;

const OPENINGS: &[&str] = &[
    "the new price is",
    "honestly the price rise is",
    "that price increase feels",
    "paying a higher price for the same catalogue is",
    "the price change for my plan is",
    "raising the price again is",
];
const CLOSINGS: &[&str] = &[
    "a betrayal, I am cancelling",
    "too much for a family budget",
    "fine if the films keep coming",
    "reasonable, still cheaper than cable",
    "outrageous and greedy",
    "something I can live with",
    "the reason I am switching to another service",
    "ok I guess, we will see",
    "annoying but the shows are worth it",
    "terrible timing with everything else going up",
];

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn customer(account: &marquee_domain::Account) -> CurrentUser {
    CurrentUser {
        account: account.clone(),
        profile_id: None,
        csrf_token: String::new(),
        token_hash: String::new(),
        via_cookie: false,
    }
}

async fn fresh_url(dir: &std::path::Path) -> String {
    match std::env::var("MARQUEE_BENCH_POSTGRES") {
        Ok(server) => {
            let name = format!("marquee_bench_{}", std::process::id());
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
                .await
                .unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
            format!("{}/{name}", server.trim_end_matches('/'))
        }
        Err(_) => format!("sqlite://{}", dir.join("bench.db").display()),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: POSTS REACTIONS REQUESTS"))
        .collect();
    let posts = args.first().copied().unwrap_or(1_000_000);
    let reactions = args.get(1).copied().unwrap_or(100_000);
    let requests = args.get(2).copied().unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_url(dir.path()).await;
    let store = marquee_store::connect(&url, 8).await.unwrap();
    store.migrate().await.unwrap();
    let start = NOW - DAYS * DAY_MS;
    let clock = Arc::new(ManualClock::new(start - 4 * DAY_MS));
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let state = AppState::new(store.clone(), config.clone(), clock.clone()).unwrap();
    let mut rng = StdRng::seed_from_u64(2011);

    // Accounts.
    let t = Instant::now();
    let password = "bench admin password";
    let admin = store
        .create_account(
            &NewAccount {
                email: "admin@bench.example".into(),
                password_hash: marquee_server::auth::hash_password_blocking(password).unwrap(),
                role: Role::Admin,
                plan: Plan::Premium,
                must_change_password: false,
                first_profile: "Main".into(),
                email_verified: true,
            },
            start - 900 * DAY_MS,
        )
        .await
        .unwrap();
    let plans = [Plan::Basic, Plan::Standard, Plan::Premium];
    let mut viewers = Vec::with_capacity(reactions);
    for i in 0..reactions {
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
                start - rng.gen_range(5..8 * 365) * DAY_MS,
            )
            .await
            .unwrap();
        viewers.push(a);
    }
    let accounts_s = t.elapsed().as_secs_f64();

    // The proposal, put to everyone at the start.
    clock.set(start);
    let p = changes::create(
        &state,
        &admin,
        ProposalInput {
            kind: ChangeKind::Other,
            title: "A higher price for every plan".into(),
            body: "We propose raising every plan's price by two dollars a month.".into(),
            segment: Segment::default(),
            price: None,
            keywords: vec!["price".into()],
            planned_at: NOW + 7 * DAY_MS,
        },
    )
    .await
    .unwrap();
    changes::publish(&state, p.id).await.unwrap();

    // Reactions (and comments), in time order.
    let t = Instant::now();
    let mut times: Vec<(i64, usize, bool)> = (0..reactions)
        .map(|i| (start + rng.gen_range(0..DAYS * DAY_MS), i, false))
        .collect();
    for i in (0..reactions).step_by(10) {
        times.push((
            start + rng.gen_range(DAYS * DAY_MS / 2..DAYS * DAY_MS),
            i,
            true,
        ));
    }
    times.sort();
    let mut reacted = vec![false; reactions];
    let mut comments = 0;
    for (at, i, again) in times {
        if again && !reacted[i] {
            continue;
        }
        clock.set(at);
        let tenure_years = (at - viewers[i].created_at) / (365 * DAY_MS);
        let oppose = 0.3 + 0.08 * tenure_years as f64;
        let r = if rng.gen_bool(oppose.min(0.9)) {
            Reaction::Oppose
        } else if rng.gen_bool(0.5) {
            Reaction::Support
        } else {
            Reaction::Unsure
        };
        let stay = match rng.gen_range(0..4) {
            0 => None,
            1 => Some(WouldStay::No),
            2 => Some(WouldStay::Unsure),
            _ => Some(WouldStay::Yes),
        };
        changes::react(&state, &customer(&viewers[i]), p.id, r, stay)
            .await
            .unwrap();
        reacted[i] = true;
        if comments < 2000 && i % 37 == 0 && !again {
            let text = format!(
                "{} {}",
                OPENINGS[rng.gen_range(0..OPENINGS.len())],
                CLOSINGS[rng.gen_range(0..CLOSINGS.len())]
            );
            if changes::comment(&state, &customer(&viewers[i]), p.id, &text)
                .await
                .is_ok()
            {
                comments += 1;
            }
        }
    }
    let reactions_s = t.elapsed().as_secs_f64();

    // Matching posts, in time order, in batches as a connector sends them.
    let t = Instant::now();
    // Every post names the price (each opening does), over the consultation.
    let from = start;
    let step = ((NOW - from) / posts.max(1) as i64).max(1);
    let batch = 5000;
    let mut sent = 0;
    while sent < posts {
        let n = batch.min(posts - sent);
        let raw: Vec<RawPost> = (sent..sent + n)
            .map(|k| RawPost {
                source: "bench".into(),
                external_id: format!("p{k}"),
                author: format!("@fan{}", k % 50_000),
                text: format!(
                    "{} {} #marquee",
                    OPENINGS[k % OPENINGS.len()],
                    CLOSINGS[(k / 7) % CLOSINGS.len()]
                ),
                url: None,
                lang: Some("en".into()),
                created_at: from + k as i64 * step,
            })
            .collect();
        clock.set(from + (sent + n) as i64 * step);
        listening::ingest(&state, raw, None).await.unwrap();
        sent += n;
    }
    let posts_s = t.elapsed().as_secs_f64();
    clock.set(NOW);

    // The dashboard, in-process.
    let d = changes::dashboard(&state, p.id).await.unwrap();
    assert_eq!(
        d.posts_total as usize, posts,
        "the dashboard counts every matching post once"
    );
    assert_eq!(
        d.totals.iter().sum::<i64>() as usize,
        reactions,
        "every customer's standing reaction is counted once"
    );
    let mut service = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        let d = changes::dashboard(&state, p.id).await.unwrap();
        service.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(d);
    }

    // The dashboard's post figures (per-day counts and the newest 1,000
    // negative posts) from the matching posts kept at ingest, against the
    // same figures searched in the posts table's full-text index, which is
    // what a dashboard without them has to do.
    let m = changes::matching_of(&changes::get(&state, p.id).await.unwrap());
    let day_from = (start / DAY_MS - 7) * DAY_MS;
    let day_to = (NOW / DAY_MS + 1) * DAY_MS;
    let (mut kept, mut searched) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let t = Instant::now();
        let a = store
            .proposal_post_days(p.id, day_from, day_to)
            .await
            .unwrap();
        let b = store
            .proposal_posts(p.id, start, Some(Sentiment::Negative), 1000)
            .await
            .unwrap();
        kept.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let c = store
            .post_series(day_from, day_to, DAY_MS, None, None, Some(&m))
            .await
            .unwrap();
        let d = store
            .list_posts(&PostQuery {
                from: Some(start),
                matching: Some(m.clone()),
                sentiment: Some(Sentiment::Negative),
                order: PostOrder::Newest,
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        searched.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(
            a.iter().map(|x| x.total).sum::<i64>(),
            c.iter().map(|x| x.total).sum::<i64>(),
            "kept and searched counts agree"
        );
        assert_eq!(b.len(), d.len());
    }
    let (kept, searched) = (percentile(&mut kept, 0.5), percentile(&mut searched, 0.5));

    // Where a dashboard read spends its time: each part it reads, median of 5.
    let mut parts: Vec<(&str, f64)> = Vec::new();
    macro_rules! part {
        ($name:expr, $e:expr) => {{
            let mut v = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                std::hint::black_box($e);
                v.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            parts.push(($name, percentile(&mut v, 0.5)));
        }};
    }
    {
        let day = start - start.rem_euclid(DAY_MS);
        part!("account_groups", store.account_groups(NOW).await.unwrap());
        part!(
            "consultation",
            store.consultation(p.id, day, DAY_MS).await.unwrap()
        );
        part!(
            "post_days",
            store
                .proposal_post_days(p.id, day_from, day_to)
                .await
                .unwrap()
        );
        part!(
            "negative_posts",
            store
                .proposal_posts(p.id, start, Some(Sentiment::Negative), 5)
                .await
                .unwrap()
        );
        part!(
            "negative_post_texts",
            store
                .proposal_post_texts(p.id, start, Sentiment::Negative, 1000)
                .await
                .unwrap()
        );
        part!(
            "negative_comment_texts",
            store
                .proposal_comment_texts(p.id, Sentiment::Negative, 1000)
                .await
                .unwrap()
        );
        part!(
            "background_texts",
            store
                .post_texts(start - 28 * DAY_MS, start, None, 4000)
                .await
                .unwrap()
        );
        part!(
            "conversations",
            store
                .conversations_mentioning(&m, start, NOW, 10)
                .await
                .unwrap()
        );
        part!(
            "similar_ideas",
            store.similar_ideas("price", None, 5).await.unwrap()
        );
        part!("alerts", store.list_alerts(None, 500).await.unwrap());
        let fg: Vec<String> = store
            .proposal_post_texts(p.id, start, Sentiment::Negative, 1000)
            .await
            .unwrap();
        part!(
            "concerns",
            listening::classify::distinctive_terms(&fg, &[], 8, 10)
        );
    }

    // Reads after an account changed each time (a sign-up, a plan change, a
    // log-in: any write that moves the store's auth version), so the
    // customer groups of the impact preview are read afresh every time.
    let mut cold = Vec::with_capacity(requests / 4);
    for i in 0..(requests / 4).max(1) {
        store
            .backdate_accounts(&[(viewers[i % viewers.len()].id, start - 9 * 365 * DAY_MS)])
            .await
            .unwrap();
        let t = Instant::now();
        std::hint::black_box(changes::dashboard(&state, p.id).await.unwrap());
        cold.push(t.elapsed().as_secs_f64() * 1000.0);
    }

    // The same over HTTP, through the real server.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(marquee_server::launch(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1");
    let login: serde_json::Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "admin@bench.example", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("a login token").to_string();
    let dash = format!("{base}/staff/changes/{}/dashboard", p.id);
    let mut http = Vec::with_capacity(requests);
    let mut bytes = 0;
    for _ in 0..requests {
        let t = Instant::now();
        let res = client.get(&dash).bearer_auth(&token).send().await.unwrap();
        assert!(res.status().is_success(), "dashboard: {}", res.status());
        bytes = res.bytes().await.unwrap().len();
        http.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = stop.send(());
    let _ = server.await;

    let out = json!({
        "backend": if url.starts_with("sqlite") { "sqlite" } else { "postgres" },
        "posts": posts,
        "reactions": reactions,
        "comments": comments,
        "matching_posts_counted": d.posts_total,
        "fill_s": {"accounts": accounts_s, "reactions": reactions_s, "posts": posts_s},
        "requests": requests,
        "dashboard_bytes": bytes,
        "parts_ms": parts.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "post_figures_ms": {
            "kept": kept,
            "full_text_search": searched,
            "ratio": searched / kept.max(1e-6),
        },
        "service_ms": {
            "p50": percentile(&mut service, 0.5),
            "p99": percentile(&mut service, 0.99),
            "max": percentile(&mut service, 1.0),
        },
        "service_cold_ms": {
            "p50": percentile(&mut cold, 0.5),
            "p99": percentile(&mut cold, 0.99),
            "max": percentile(&mut cold, 1.0),
        },
        "http_ms": {
            "p50": percentile(&mut http, 0.5),
            "p99": percentile(&mut http, 0.99),
            "max": percentile(&mut http, 1.0),
        },
    });
    println!("{out}");
}
