//! Fault tests on the real `marquee serve` (SQLite): kill -9 during post
//! ingest, the database locked by another process for 10 s, and a full disk
//! (the `database.max_size_mb` cap, which fails exactly like one).

use crate::common::{
    bin, http, ingest_token, json, kill9, log_tail, login, now_ms, start, wait_until,
};
use serde_json::{json as j, Value};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn db_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("data/marquee.db").display())
}

/// `PRAGMA integrity_check` on the data directory's database: the problems.
fn integrity(dir: &Path) -> Vec<String> {
    rt().block_on(async {
        let store = marquee_store::connect(&db_url(dir), 1).await.unwrap();
        let problems = store.integrity_check().await.unwrap();
        store.close().await;
        problems
    })
}

/// One batch of posts as the ingest API takes it.
fn batch(source: &str, client: usize, b: usize, n: usize, text_len: usize) -> String {
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| now_ms() - 3 * 3_600_000);
    let filler = "the new price of the marquee premium plan ".repeat(text_len / 42 + 1);
    let posts: Vec<Value> = (0..n)
        .map(|i| {
            j!({
                "source": source,
                "external_id": format!("{client}-{b}-{i}"),
                "author": "@viewer@example.social",
                "text": format!("post {i} of batch {b} from client {client}: {}", &filler[..text_len]),
                "created_at": base + (client * 1_000_000 + b * n + i) as i64,
            })
        })
        .collect();
    Value::Array(posts).to_string()
}

/// Every external id of a source, through the API (paged), in listing order.
fn listed_ids(addr: &str, admin: &str, source: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for page in 0.. {
        let (s, b) = http(
            addr,
            "GET",
            &format!(
                "/api/v1/listening/posts?source={source}&limit=200&offset={}",
                page * 200
            ),
            Some(admin),
            "",
        )
        .unwrap();
        assert_eq!(s, 200, "{b}");
        let v = json(&b);
        let rows = v.as_array().unwrap();
        if rows.is_empty() {
            return ids;
        }
        ids.extend(
            rows.iter()
                .map(|p| p["external_id"].as_str().unwrap().to_string()),
        );
    }
    ids
}

#[test]
fn kill_9_during_post_ingest_keeps_every_acknowledged_post_exactly_once() {
    const CLIENTS: usize = 4;
    const BATCH: usize = 50;
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = start(dir.path());
    let admin = login(&addr);
    let token = ingest_token(&addr, &admin);
    // (client, batch) pairs: answered 2xx, and sent without an answer.
    let acked: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let unacked: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let mut clients = vec![];
    for c in 0..CLIENTS {
        let (addr, token, acked, unacked) =
            (addr.clone(), token.clone(), acked.clone(), unacked.clone());
        clients.push(std::thread::spawn(move || {
            for b in 0.. {
                let body = batch("faultkill", c, b, BATCH, 60);
                match http(&addr, "POST", "/api/v1/posts", Some(&token), &body) {
                    Ok((200, out)) => {
                        let out = json(&out);
                        assert_eq!(out["inserted"], BATCH as u64, "{out}");
                        acked.lock().unwrap().push((c, b));
                    }
                    Ok((s, out)) => panic!("unexpected {s}: {out}"),
                    Err(_) => {
                        // The server is gone mid-request: sent, not acknowledged.
                        unacked.lock().unwrap().push((c, b));
                        return;
                    }
                }
            }
        }));
    }
    // kill -9 while every client has a batch in flight.
    assert!(
        wait_until(180, || acked.lock().unwrap().len() >= 40),
        "ingest too slow: {}",
        log_tail(dir.path())
    );
    kill9(&mut server);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let unacked = unacked.lock().unwrap().clone();
    eprintln!(
        "FAULTS kill: {} batches of {BATCH} acknowledged before kill -9",
        acked.len()
    );
    assert_eq!(
        unacked.len(),
        CLIENTS,
        "every client ends with one unanswered batch"
    );

    // Restart on the same data directory.
    let (mut server, addr) = start(dir.path());
    let admin = login(&addr);
    let ids = listed_ids(&addr, &admin, "faultkill");
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a post is listed twice");
    let per_batch = |c: usize, b: usize| {
        (0..BATCH)
            .filter(|i| unique.contains(&format!("{c}-{b}-{i}")))
            .count()
    };
    for &(c, b) in &acked {
        assert_eq!(
            per_batch(c, b),
            BATCH,
            "acknowledged batch {c}-{b} lost posts"
        );
    }
    // An unanswered batch committed whole or not at all.
    let mut present_before = HashMap::new();
    for &(c, b) in &unacked {
        let n = per_batch(c, b);
        assert!(n == 0 || n == BATCH, "batch {c}-{b} half written: {n}");
        present_before.insert((c, b), n);
    }
    assert_eq!(
        ids.len(),
        (acked.len() + present_before.values().filter(|n| **n > 0).count()) * BATCH,
        "posts from batches never sent"
    );

    // Re-sending an unanswered batch is idempotent: it adds what is missing,
    // then nothing.
    let token = ingest_token(&addr, &admin);
    for &(c, b) in &unacked {
        let body = batch("faultkill", c, b, BATCH, 60);
        let (s, out) = http(&addr, "POST", "/api/v1/posts", Some(&token), &body).unwrap();
        assert_eq!(s, 200, "{out}");
        let out = json(&out);
        assert_eq!(
            out["inserted"],
            (BATCH - present_before[&(c, b)]) as u64,
            "{out}"
        );
        assert_eq!(out["duplicates"], present_before[&(c, b)] as u64, "{out}");
        let (s, out) = http(&addr, "POST", "/api/v1/posts", Some(&token), &body).unwrap();
        assert_eq!(s, 200, "{out}");
        let out = json(&out);
        assert_eq!(out["inserted"], 0, "{out}");
        assert_eq!(out["duplicates"], BATCH as u64, "{out}");
    }
    let ids = listed_ids(&addr, &admin, "faultkill");
    assert_eq!(ids.len(), (acked.len() + unacked.len()) * BATCH);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    kill9(&mut server);
    assert!(integrity(dir.path()).is_empty());
}

/// A webhook request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    delivery: Option<String>,
    status: u16,
    at: Instant,
}

/// A loopback HTTP receiver: answers 503 until `ok` is set, then 200, and
/// records every request.
struct Receiver {
    addr: String,
    ok: Arc<AtomicBool>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

fn receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let ok = Arc::new(AtomicBool::new(false));
    let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
    let (ok2, hits2) = (ok.clone(), hits.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let (ok, hits) = (ok2.clone(), hits2.clone());
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let header = |name: &str| {
                    head.lines().find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.trim()
                            .eq_ignore_ascii_case(name)
                            .then(|| v.trim().to_string())
                    })
                };
                let len: usize = header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let status = if ok.load(Ordering::SeqCst) { 200 } else { 503 };
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                hits.lock().unwrap().push(Hit {
                    path,
                    delivery: header("x-marquee-delivery"),
                    status,
                    at: Instant::now(),
                });
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            });
        }
    });
    Receiver { addr, ok, hits }
}

/// A request made during the outage: what, status, error code, when it ended.
#[derive(Debug, Clone)]
struct Outcome {
    what: &'static str,
    status: u16,
    code: Option<String>,
    took: Duration,
    ended: Instant,
}

fn outcome(what: &'static str, began: Instant, r: std::io::Result<(u16, String)>) -> Outcome {
    let (status, body) = r.unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
    let code = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string));
    Outcome {
        what,
        status,
        code,
        took: began.elapsed(),
        ended: Instant::now(),
    }
}

#[test]
fn database_locked_for_10_s_answers_503_recovers_and_delivers_queued_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let rx = receiver();
    std::fs::write(
        dir.path().join("marquee.toml"),
        format!(
            "[webhooks]\nbackoff_base_s = 1\nmax_attempts = 40\npoll_interval_ms = 200\ntimeout_s = 5\n\
             allow_private = true\n\
             [listening]\nwebhook_retry_base_ms = 500\nwebhook_max_attempts = 40\n\
             [[listening.webhooks]]\nurl = \"http://{}/alerts\"\nsecret = \"0123456789abcdef\"\n",
            rx.addr
        ),
    )
    .unwrap();
    // A listening alert whose webhook is queued in its outbox.
    let out = bin(dir.path()).arg("migrate").output().unwrap();
    marquee_testkit::assert_ok(&out);
    let alert_url = format!("http://{}/alerts", rx.addr);
    rt().block_on(async {
        let store = marquee_store::connect(&db_url(dir.path()), 1)
            .await
            .unwrap();
        let now = now_ms();
        let alert = marquee_domain::listening::NewAlert {
            series: "all".into(),
            kind: "volume".into(),
            window: "15m".into(),
            window_start: now - 900_000,
            window_end: now,
            observed: 400.0,
            expected: 40.0,
            z: 12.0,
            posts: 400,
            terms: vec![("price".into(), 3.2)],
            example_post_ids: vec![],
        };
        let body = marquee_server::listening::webhook::slack_body(&alert, &[], None);
        store
            .create_alert(&alert, &[(alert_url.clone(), body)], now)
            .await
            .unwrap();
        store.close().await;
    });

    let (mut server, addr) = start(dir.path());
    let admin = login(&addr);
    let ingest = ingest_token(&addr, &admin);
    // Idea-box webhooks queued: an endpoint, an idea, two status changes.
    let (s, b) = http(
        &addr,
        "POST",
        "/api/v1/webhooks",
        Some(&admin),
        &j!({"url": format!("http://{}/ideas", rx.addr)}).to_string(),
    )
    .unwrap();
    assert_eq!(s, 201, "{b}");
    let endpoint = json(&b)["id"].as_i64().unwrap();
    let (s, b) = http(
        &addr,
        "POST",
        "/api/v1/ideas",
        Some(&admin),
        r#"{"title":"Downloads for offline viewing","description":"On trains."}"#,
    )
    .unwrap();
    assert_eq!(s, 201, "{b}");
    let idea = json(&b)["id"].as_i64().unwrap();
    let status = |st: &str| {
        http(
            &addr,
            "POST",
            &format!("/api/v1/ideas/{idea}/status"),
            Some(&admin),
            &j!({"status": st, "explanation": "We are on it"}).to_string(),
        )
    };
    for st in ["under_review", "planned"] {
        let (s, b) = status(st).unwrap();
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = http(
        &addr,
        "GET",
        &format!("/api/v1/webhooks/{endpoint}/deliveries"),
        Some(&admin),
        "",
    )
    .unwrap();
    assert_eq!(s, 200, "{b}");
    let queued: HashSet<String> = json(&b)
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap().to_string())
        .collect();
    assert!(queued.len() >= 2, "{b}");
    // Both outboxes are retrying against the (failing) receiver.
    assert!(
        wait_until(60, || {
            let hits = rx.hits.lock().unwrap();
            let seen: HashSet<String> = hits.iter().filter_map(|h| h.delivery.clone()).collect();
            queued.is_subset(&seen) && hits.iter().any(|h| h.path == "/alerts")
        }),
        "webhooks not attempted: {}",
        log_tail(dir.path())
    );

    // The outage: another process holds SQLite's write lock for 10 s, as an
    // operator's `sqlite3 marquee.db` with `BEGIN EXCLUSIVE;` would.
    let lock_rt = rt();
    let locker = lock_rt
        .block_on(marquee_store::sqlite::SqliteStore::open(
            &db_url(dir.path()),
            1,
        ))
        .unwrap();
    let tx = lock_rt
        .block_on(locker.pool().begin_with("BEGIN EXCLUSIVE"))
        .unwrap();
    let locked_at = Instant::now();
    rx.ok.store(true, Ordering::SeqCst); // the receiver is back; only the database is down
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let mut threads = vec![];
    let refused_batch = batch("faultlock", 0, 0, 20, 60);
    {
        // Writers: post ingest and an idea status change, for the first 4 s.
        let (a, ingest, out, body) = (
            addr.clone(),
            ingest.clone(),
            outcomes.clone(),
            refused_batch.clone(),
        );
        threads.push(std::thread::spawn(move || {
            while locked_at.elapsed() < Duration::from_secs(4) {
                let began = Instant::now();
                let r = http(&a, "POST", "/api/v1/posts", Some(&ingest), &body);
                out.lock().unwrap().push(outcome("ingest", began, r));
            }
        }));
        let (a, admin, out) = (addr.clone(), admin.clone(), outcomes.clone());
        threads.push(std::thread::spawn(move || {
            let began = Instant::now();
            let r = http(
                &a,
                "POST",
                &format!("/api/v1/ideas/{idea}/status"),
                Some(&admin),
                r#"{"status":"in_progress","explanation":"Building it"}"#,
            );
            out.lock().unwrap().push(outcome("status", began, r));
        }));
        // Readers and probes, through the whole outage.
        let (addr, outcomes) = (addr.clone(), outcomes.clone());
        threads.push(std::thread::spawn(move || {
            while locked_at.elapsed() < Duration::from_secs(8) {
                for (what, path) in [
                    ("titles", "/api/v1/titles?limit=5"),
                    ("healthz", "/healthz"),
                    ("readyz", "/readyz"),
                ] {
                    let began = Instant::now();
                    let r = http(&addr, "GET", path, None, "");
                    outcomes.lock().unwrap().push(outcome(what, began, r));
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }));
    }
    while locked_at.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    lock_rt.block_on(tx.rollback()).unwrap();
    let released_at = Instant::now();
    lock_rt.block_on(locker.pool().close());
    for t in threads {
        t.join().unwrap();
    }
    let outcomes = outcomes.lock().unwrap().clone();
    assert!(
        outcomes.iter().all(|o| o.status != 500),
        "a 500 during the outage: {outcomes:?}"
    );
    let during: Vec<&Outcome> = outcomes.iter().filter(|o| o.ended < released_at).collect();
    let of = |what: &str| during.iter().filter(|o| o.what == what).collect::<Vec<_>>();
    for what in ["ingest", "status", "readyz"] {
        let got = of(what);
        assert!(
            !got.is_empty(),
            "no {what} answered during the outage: {outcomes:?}"
        );
        for o in got {
            assert_eq!(o.status, 503, "{o:?}");
            assert_eq!(o.code.as_deref(), Some("unavailable"), "{o:?}");
        }
    }
    // Reads and liveness keep working: WAL readers do not need the write lock.
    for what in ["titles", "healthz"] {
        let got = of(what);
        assert!(!got.is_empty(), "no {what} during the outage");
        assert!(got.iter().all(|o| o.status == 200), "{got:?}");
    }

    // Recovery, with no restart.
    assert!(
        wait_until(60, || matches!(
            http(&addr, "GET", "/readyz", None, ""),
            Ok((200, _))
        )),
        "not ready after the outage: {}",
        log_tail(dir.path())
    );
    let ready_after = released_at.elapsed();
    let (s, b) = http(
        &addr,
        "GET",
        &format!("/api/v1/ideas/{idea}"),
        Some(&admin),
        "",
    )
    .unwrap();
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        json(&b)["status"],
        "planned",
        "a refused write left a trace"
    );
    let (s, b) = http(
        &addr,
        "POST",
        "/api/v1/posts",
        Some(&ingest),
        &refused_batch,
    )
    .unwrap();
    assert_eq!(s, 200, "{b}");
    assert_eq!(json(&b)["inserted"], 20, "{b}");
    let (s, b) = http(
        &addr,
        "POST",
        &format!("/api/v1/ideas/{idea}/status"),
        Some(&admin),
        r#"{"status":"in_progress","explanation":"Building it"}"#,
    )
    .unwrap();
    assert_eq!(s, 200, "{b}");

    // Every webhook queued before and through the outage is delivered after it.
    let delivered_after = |hits: &[Hit]| {
        let ok: Vec<&Hit> = hits
            .iter()
            .filter(|h| h.status == 200 && h.at >= released_at)
            .collect();
        let ids: HashSet<String> = ok.iter().filter_map(|h| h.delivery.clone()).collect();
        queued.is_subset(&ids) && ok.iter().any(|h| h.path == "/alerts")
    };
    assert!(
        wait_until(120, || delivered_after(&rx.hits.lock().unwrap())),
        "queued webhooks not delivered: {:?}\n{}",
        rx.hits.lock().unwrap(),
        log_tail(dir.path())
    );
    let delivered_in = released_at.elapsed();
    let slowest = |what: &str| {
        during
            .iter()
            .filter(|o| o.what == what)
            .map(|o| o.took)
            .max()
            .unwrap_or_default()
    };
    eprintln!(
        "FAULTS lock: slowest 503 ingest {:.2} s, status {:.2} s, readyz {:.2} s; slowest read {:.3} s; \
         ready {:.2} s after release; queued webhooks delivered within {:.2} s",
        slowest("ingest").as_secs_f64(),
        slowest("status").as_secs_f64(),
        slowest("readyz").as_secs_f64(),
        slowest("titles").as_secs_f64(),
        ready_after.as_secs_f64(),
        delivered_in.as_secs_f64()
    );
    // Nothing got a 200 while the database was locked: the deliverers wait
    // for it instead of sending what they could not record.
    let hits = rx.hits.lock().unwrap().clone();
    assert!(
        !hits
            .iter()
            .any(|h| h.status == 200 && h.at >= locked_at && h.at < released_at),
        "{hits:?}"
    );
    // Both outboxes record the deliveries.
    assert!(wait_until(60, || {
        let (s, b) = http(
            &addr,
            "GET",
            &format!("/api/v1/webhooks/{endpoint}/deliveries"),
            Some(&admin),
            "",
        )
        .unwrap();
        s == 200
            && json(&b).as_array().unwrap().iter().all(|d| {
                !queued.contains(&d["id"].as_i64().unwrap().to_string())
                    || d["state"] == "delivered"
            })
    }));
    let outbox = rt().block_on(async {
        let store = marquee_store::connect(&db_url(dir.path()), 1)
            .await
            .unwrap();
        let rows = store.webhook_outbox(10).await.unwrap();
        store.close().await;
        rows
    });
    assert!(
        outbox.iter().all(|o| o.delivered_at.is_some()),
        "{outbox:?}"
    );
    kill9(&mut server);
    assert!(integrity(dir.path()).is_empty());
}

/// The database file's size in whole MiB, rounded up, after `marquee migrate`.
fn migrated_size_mb(dir: &Path) -> u64 {
    let out = bin(dir).arg("migrate").output().unwrap();
    marquee_testkit::assert_ok(&out);
    let bytes = std::fs::metadata(dir.join("data/marquee.db"))
        .unwrap()
        .len();
    bytes.div_ceil(1024 * 1024)
}

fn cap(dir: &Path, mb: Option<u64>) {
    let text = mb
        .map(|mb| format!("[database]\nmax_size_mb = {mb}\n"))
        .unwrap_or_default();
    std::fs::write(dir.join("marquee.toml"), text).unwrap();
}

#[test]
fn full_disk_refuses_writes_cleanly_keeps_reads_and_recovers_after_raising_the_cap() {
    const N: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let base = migrated_size_mb(dir.path());
    cap(dir.path(), Some(base + 2));
    let (mut server, addr) = start(dir.path());
    let admin = login(&addr);
    let token = ingest_token(&addr, &admin);
    let mut acked = 0;
    let mut refused = None;
    for b in 0..2000 {
        let body = batch("full", 0, b, N, 900);
        let (s, out) = http(&addr, "POST", "/api/v1/posts", Some(&token), &body).unwrap();
        match s {
            200 => acked += 1,
            507 => {
                let v = json(&out);
                assert_eq!(v["error"]["code"], "storage_full", "{out}");
                assert!(
                    v["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("storage is full"),
                    "{out}"
                );
                refused = Some((b, body));
                break;
            }
            other => panic!("unexpected {other}: {out}\n{}", log_tail(dir.path())),
        }
    }
    let (refused_b, refused_body) = refused.expect("the cap was never reached");
    assert!(acked > 0);
    // Writes keep failing cleanly; reads keep working.
    let (s, out) = http(&addr, "POST", "/api/v1/posts", Some(&token), &refused_body).unwrap();
    assert_eq!(s, 507, "{out}");
    let (s, _) = http(&addr, "GET", "/healthz", None, "").unwrap();
    assert_eq!(s, 200);
    let (s, out) = http(&addr, "GET", "/api/v1/titles?limit=5", None, "").unwrap();
    assert_eq!(s, 200, "{out}");
    let ids: HashSet<String> = listed_ids(&addr, &admin, "full").into_iter().collect();
    assert_eq!(
        ids.len(),
        acked * N,
        "acknowledged posts missing or refused ones kept"
    );
    for b in 0..acked {
        assert!(ids.contains(&format!("0-{b}-0")) && ids.contains(&format!("0-{b}-{}", N - 1)));
    }
    assert!(!ids.contains(&format!("0-{refused_b}-0")));
    kill9(&mut server);
    assert_eq!(integrity(dir.path()), Vec::<String>::new());

    // A larger cap: writes succeed again and nothing was lost.
    cap(dir.path(), Some(base + 64));
    let (mut server, addr) = start(dir.path());
    let admin = login(&addr);
    let token = ingest_token(&addr, &admin);
    let (s, out) = http(&addr, "POST", "/api/v1/posts", Some(&token), &refused_body).unwrap();
    assert_eq!(s, 200, "{out}");
    assert_eq!(json(&out)["inserted"], N as u64, "{out}");
    assert_eq!(listed_ids(&addr, &admin, "full").len(), (acked + 1) * N);
    kill9(&mut server);
    assert_eq!(integrity(dir.path()), Vec::<String>::new());
}

#[test]
fn import_into_a_full_database_fails_clearly_and_resumes_after_raising_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let base = migrated_size_mb(dir.path());
    cap(dir.path(), Some(base + 1));
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/ml-latest-small");
    let out = bin(dir.path())
        .args(["import", "movielens"])
        .arg(&demo)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the import fit under the cap");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("storage full"), "{stderr}");
    assert_eq!(integrity(dir.path()), Vec::<String>::new());
    // Without the cap the idempotent import completes what is missing.
    cap(dir.path(), None);
    let out = bin(dir.path())
        .args(["import", "movielens"])
        .arg(&demo)
        .output()
        .unwrap();
    marquee_testkit::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ratings"), "{text}");
    assert_eq!(integrity(dir.path()), Vec::<String>::new());
}
