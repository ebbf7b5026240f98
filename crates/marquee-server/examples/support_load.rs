//! Support chat load test on loopback: N customers each hold a live SSE
//! connection (`/api/v1/support/events`) to their own conversation while
//! agents reply over HTTP and customers write back; one agent inbox stream
//! (`/api/v1/staff/support/events`) receives the customers' messages.
//!
//! Every message carries a unique tag; the generator records the instant it
//! starts the POST and the instant the tag arrives on the receiving stream.
//! It reports delivery latency percentiles per direction and counts lost and
//! duplicated deliveries (by message id).
//!
//! The server is the real `marquee_server::launch` on 127.0.0.1:0 over a fresh
//! SQLite database (WAL); accounts and sessions are made directly in the
//! store (hashing 1,000 passwords would dominate the set-up).
//!
//! `cargo run --release -p marquee-server --example support_load -- \
//!     [--customers 1000] [--messages 5] [--rate 200] [--agents 4]`
//!
//! `--rate` is messages per second in each direction (so 2 × rate in all).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use marquee_domain::{Plan, Role, SystemClock};
use marquee_server::{AppState, Config};
use marquee_store::{NewAccount, Store};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Shared {
    /// Tag → when its POST started.
    sent: Mutex<HashMap<String, Instant>>,
    /// Delivery latencies, µs, agent → customer.
    to_customer: Mutex<Vec<u64>>,
    /// Delivery latencies, µs, customer → agent inbox.
    to_agent: Mutex<Vec<u64>>,
    /// Tags delivered (per direction).
    delivered: Mutex<HashSet<String>>,
    duplicates: AtomicUsize,
    foreign: AtomicUsize,
    ready: AtomicUsize,
    post_errors: AtomicUsize,
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Reads one SSE stream, calling `on` for each `message` event's JSON.
async fn sse(
    client: reqwest::Client,
    url: String,
    token: String,
    shared: Arc<Shared>,
    on: impl Fn(&Value) + Send + 'static,
) {
    let mut resp = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    let mut buf = String::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut ev = "";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    ev = e;
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            match ev {
                "ready" => {
                    shared.ready.fetch_add(1, Ordering::SeqCst);
                }
                "resync" => eprintln!("resync on {url}: a reader lagged"),
                "message" => {
                    if let Ok(v) = serde_json::from_str::<Value>(&data) {
                        on(&v);
                    }
                }
                _ => {}
            }
        }
    }
}

fn record(
    shared: &Shared,
    v: &Value,
    want_kind: &str,
    seen: &Mutex<HashSet<i64>>,
    to_customer: bool,
) {
    let now = Instant::now();
    if v["author_kind"] != want_kind {
        return;
    }
    let id = v["id"].as_i64().unwrap_or(0);
    if !seen.lock().unwrap().insert(id) {
        shared.duplicates.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let tag = v["body"].as_str().unwrap_or("").to_string();
    let Some(t0) = shared.sent.lock().unwrap().get(&tag).copied() else {
        return; // a set-up message
    };
    let us = now.duration_since(t0).as_micros() as u64;
    if to_customer {
        shared.to_customer.lock().unwrap().push(us);
    } else {
        shared.to_agent.lock().unwrap().push(us);
    }
    shared.delivered.lock().unwrap().insert(tag);
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i] as f64 / 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let customers = arg(&args, "--customers", 1000);
    let messages = arg(&args, "--messages", 5);
    let rate = arg(&args, "--rate", 200).max(1);
    let agents = arg(&args, "--agents", 4).max(1);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    config.database.url = Some(format!("sqlite://{}", db.display()));
    config.support.default_capacity = 1000;
    config.support.messages_per_minute = 10_000;
    config.support.conversations_per_hour = 10_000;
    let store = marquee_store::connect(&config.database_url(), config.database.max_connections)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let state = AppState::new(store.clone(), config, Arc::new(SystemClock)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(marquee_server::launch(listener, state, async {
        let _ = stop_rx.await;
    }));
    let base = format!("http://{addr}");

    // Accounts and sessions, straight into the store.
    let hash = marquee_server::auth::hash_password_blocking("bench-password").unwrap();
    let now = marquee_domain::Clock::now_ms(&SystemClock);
    async fn account(
        store: &Arc<dyn Store>,
        email: String,
        role: Role,
        hash: &str,
        now: i64,
    ) -> String {
        let a = store
            .create_account(
                &NewAccount {
                    email,
                    password_hash: hash.to_string(),
                    role,
                    plan: Plan::Standard,
                    must_change_password: false,
                    first_profile: "Main".into(),
                    email_verified: true,
                },
                now,
            )
            .await
            .unwrap();
        let profile = store.profiles(a.id).await.unwrap()[0].id;
        let token = marquee_server::auth::random_token();
        store
            .create_session(
                &marquee_server::auth::token_hash(&token),
                a.id,
                Some(profile),
                &marquee_server::auth::random_token(),
                now,
                now + 86_400_000,
            )
            .await
            .unwrap();
        token
    }
    let mut agent_tokens = Vec::new();
    for i in 0..agents {
        agent_tokens.push(
            account(
                &store,
                format!("agent{i}@bench.invalid"),
                Role::Agent,
                &hash,
                now,
            )
            .await,
        );
    }
    let mut customer_tokens = Vec::new();
    for i in 0..customers {
        customer_tokens.push(
            account(
                &store,
                format!("customer{i}@bench.invalid"),
                Role::Viewer,
                &hash,
                now,
            )
            .await,
        );
    }

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let stream_client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    // Every customer opens a conversation.
    let t_setup = Instant::now();
    let mut convs = vec![0i64; customers];
    let mut tasks = tokio::task::JoinSet::new();
    let sem = Arc::new(tokio::sync::Semaphore::new(32));
    for (i, tok) in customer_tokens.iter().enumerate() {
        let (client, url, tok, sem) = (
            client.clone(),
            format!("{base}/api/v1/support/conversations"),
            tok.clone(),
            sem.clone(),
        );
        tasks.spawn(async move {
            let _p = sem.acquire().await.unwrap();
            let r = client
                .post(url)
                .bearer_auth(tok)
                .json(&json!({"body": "hello"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            let v: Value = r.json().await.unwrap();
            (i, v["conversation"]["id"].as_i64().unwrap())
        });
    }
    while let Some(r) = tasks.join_next().await {
        let (i, id) = r.unwrap();
        convs[i] = id;
    }
    eprintln!(
        "set-up: {customers} customers, {agents} agents, conversations opened in {:.1} s",
        t_setup.elapsed().as_secs_f64()
    );

    // Live streams: one per customer, one agent inbox.
    let shared = Arc::new(Shared::default());
    let mut streams = Vec::new();
    for (i, tok) in customer_tokens.iter().enumerate() {
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let sh = shared.clone();
        let own = convs[i];
        streams.push(tokio::spawn(sse(
            stream_client.clone(),
            format!("{base}/api/v1/support/events"),
            tok.clone(),
            shared.clone(),
            move |v| {
                // A customer's stream carries only their own conversation.
                if v["conversation_id"].as_i64() != Some(own) {
                    sh.foreign.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                record(&sh, v, "agent", &seen, true)
            },
        )));
    }
    {
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let sh = shared.clone();
        streams.push(tokio::spawn(sse(
            stream_client.clone(),
            format!("{base}/api/v1/staff/support/events"),
            agent_tokens[0].clone(),
            shared.clone(),
            move |v| record(&sh, v, "customer", &seen, false),
        )));
    }
    let t_conn = Instant::now();
    while shared.ready.load(Ordering::SeqCst) < customers + 1 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            t_conn.elapsed() < Duration::from_secs(60),
            "streams did not connect"
        );
    }
    eprintln!(
        "{} live SSE connections in {:.1} s",
        customers + 1,
        t_conn.elapsed().as_secs_f64()
    );

    // The load: every customer gets `messages` replies and sends as many,
    // spread evenly at `rate` per second per direction.
    let total = customers * messages;
    let gap = Duration::from_secs_f64(1.0 / rate as f64);
    let t_load = Instant::now();
    let mut posts = tokio::task::JoinSet::new();
    let mut next = Instant::now();
    for seq in 0..messages {
        for i in 0..customers {
            for (dir, tok, path) in [
                (
                    'a',
                    agent_tokens[i % agents].clone(),
                    format!(
                        "{base}/api/v1/staff/support/conversations/{}/messages",
                        convs[i]
                    ),
                ),
                (
                    'c',
                    customer_tokens[i].clone(),
                    format!("{base}/api/v1/support/conversations/{}/messages", convs[i]),
                ),
            ] {
                let tag = format!("{dir}{i}:{seq}");
                let (client, sh) = (client.clone(), shared.clone());
                posts.spawn(async move {
                    sh.sent.lock().unwrap().insert(tag.clone(), Instant::now());
                    match client
                        .post(path)
                        .bearer_auth(tok)
                        .json(&json!({"body": tag}))
                        .send()
                        .await
                    {
                        Ok(r) if r.status() == 201 => {}
                        Ok(r) => {
                            eprintln!(
                                "POST {}: {}",
                                r.status(),
                                r.text().await.unwrap_or_default()
                            );
                            sh.post_errors.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => {
                            eprintln!("POST failed: {e}");
                            sh.post_errors.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
            next += gap;
            let now = Instant::now();
            if next > now {
                tokio::time::sleep(next - now).await;
            }
        }
    }
    while posts.join_next().await.is_some() {}
    let sent_secs = t_load.elapsed().as_secs_f64();
    // Wait for the last deliveries.
    let t_wait = Instant::now();
    while shared.delivered.lock().unwrap().len() < 2 * total
        && t_wait.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered = shared.delivered.lock().unwrap().len();
    let mut to_c = shared.to_customer.lock().unwrap().clone();
    let mut to_a = shared.to_agent.lock().unwrap().clone();
    let mut all: Vec<u64> = to_c.iter().chain(to_a.iter()).copied().collect();
    let report = json!({
        "customers": customers,
        "agents": agents,
        "messages_per_direction": total,
        "rate_per_direction_per_s": rate,
        "achieved_rate_per_direction_per_s": (total as f64 / sent_secs).round(),
        "post_errors": shared.post_errors.load(Ordering::SeqCst),
        "lost": 2 * total - delivered,
        "duplicated": shared.duplicates.load(Ordering::SeqCst),
        "misrouted": shared.foreign.load(Ordering::SeqCst),
        "to_customer_ms": {"p50": pct(&mut to_c, 0.50), "p95": pct(&mut to_c, 0.95), "p99": pct(&mut to_c, 0.99), "max": pct(&mut to_c, 1.0)},
        "to_agent_ms": {"p50": pct(&mut to_a, 0.50), "p95": pct(&mut to_a, 0.95), "p99": pct(&mut to_a, 0.99), "max": pct(&mut to_a, 1.0)},
        "all_ms": {"p50": pct(&mut all, 0.50), "p99": pct(&mut all, 0.99)},
    });
    println!("{report}");
    for s in streams {
        s.abort();
    }
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
}
