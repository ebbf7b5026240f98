//! Listening through the binary: `marquee ingest posts`, `marquee demo
//! backlash`, and kill -9 during ingest losing nothing acknowledged.

use crate::common::{bin, now_ms, start, ADMIN_PW};
use marquee_store::listening::PostQuery;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// An admin session, then a new ingest token.
async fn token(addr: &str) -> String {
    let c = reqwest::Client::new();
    let v: Value = c
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&json!({"email": "admin@marquee.local", "password": ADMIN_PW}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = v["token"].as_str().unwrap();
    let v: Value = c
        .post(format!("http://{addr}/api/v1/listening/tokens"))
        .bearer_auth(admin)
        .json(&json!({"name": "cli test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["token"].as_str().unwrap().to_string()
}

async fn count(dir: &Path, source: &str) -> i64 {
    let url = format!("sqlite://{}", dir.join("data/marquee.db").display());
    let store = marquee_store::connect(&url, 1).await.unwrap();
    let n = store
        .count_posts(&PostQuery {
            source: Some(source.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    store.close().await;
    n
}

#[tokio::test]
async fn ingest_posts_reports_bad_lines_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = start(dir.path());
    let token = token(&addr).await;
    let t = now_ms() - 60_000;
    let line = |i: i64| {
        json!({"source": "file", "external_id": i.to_string(), "author": "@a@x.social", "text": format!("marquee post {i}"), "created_at": t + i}).to_string()
    };
    let lines = [
        line(1),
        line(2),
        "{not json".to_string(),
        line(3),
        String::new(),
        json!({"external_id": "9", "author": "@a@x", "text": "x", "created_at": t, "likes": 3})
            .to_string(),
        line(4),
        line(5),
    ];
    let file = dir.path().join("posts.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let run = || {
        let mut c = bin(dir.path());
        c.args(["ingest", "posts"])
            .arg(&file)
            .args([
                "--server",
                &format!("http://{addr}"),
                "--token",
                &token,
                "--batch",
                "2",
            ])
            .output()
            .unwrap()
    };
    let out = run();
    let text = marquee_testkit::assert_ok(&out);
    assert!(text.contains("posts.jsonl:3: "), "{text}");
    assert!(
        text.contains("posts.jsonl:6: unknown field `likes`"),
        "{text}"
    );
    assert!(
        text.contains("7 lines: 5 new posts, 0 already there, 2 malformed lines rejected"),
        "{text}"
    );
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 new posts, 5 already there"), "{text}");
    assert_eq!(count(dir.path(), "file").await, 5);
    // A bad token is a clear refusal.
    let mut c = bin(dir.path());
    let out = c
        .args(["ingest", "posts"])
        .arg(&file)
        .args(["--server", &format!("http://{addr}"), "--token", "wrong"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test]
async fn demo_backlash_alerts_within_five_minutes_without_false_alarms() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = start(dir.path());
    let token = token(&addr).await;
    let mut c = bin(dir.path());
    let out = c
        .args([
            "demo",
            "backlash",
            "--server",
            &format!("http://{addr}"),
            "--token",
            &token,
            "--speed",
            "100000",
            "--check",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    server.kill().unwrap();
    server.wait().unwrap();
    marquee_testkit::assert_ok(&out);
    assert!(text.contains("False alarms before it: 0"), "{text}");
    assert!(text.contains("ALERT #"), "{text}");
    assert!(count(dir.path(), "simulated").await > 10_000);
}

#[tokio::test]
async fn kill_9_during_ingest_loses_nothing_acknowledged() {
    const BATCH: u64 = 500;
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = start(dir.path());
    let token = token(&addr).await;
    let acked = Arc::new(AtomicU64::new(0));
    let sender = {
        let (acked, addr, token) = (acked.clone(), addr.clone(), token.clone());
        tokio::spawn(async move {
            let c = reqwest::Client::new();
            let t = now_ms() - 3_600_000;
            for b in 0.. {
                let posts: Vec<Value> = (0..BATCH)
                    .map(|i| json!({"source": "killtest", "external_id": format!("{b}-{i}"), "author": "@a@x.social", "text": format!("post {i} of batch {b} about the marquee price"), "created_at": t + (b * BATCH + i) as i64}))
                    .collect();
                match c
                    .post(format!("http://{addr}/api/v1/posts"))
                    .bearer_auth(&token)
                    .json(&posts)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => return,
                }
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let _ = sender.await;
    let acked = acked.load(Ordering::SeqCst);
    // Restart on the same data: the store recovers its WAL.
    let (mut server, _) = start(dir.path());
    let n = count(dir.path(), "killtest").await as u64;
    server.kill().unwrap();
    server.wait().unwrap();
    // Batches go one at a time and commit whole: every acknowledged batch is
    // there, plus at most the one in flight (committed, unacknowledged).
    assert!(
        n == acked * BATCH || n == (acked + 1) * BATCH,
        "acked {acked} batches, found {n} posts"
    );
}
