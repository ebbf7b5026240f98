//! Durability: kill -9 the real `marquee serve` while devices stream progress
//! reports, restart it, and find every acknowledged report in the play-event log.

use crate::common::{bin, http, json, login, now_ms, start};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn kill_9_mid_stream_loses_no_acknowledged_position() {
    let dir = tempfile::tempdir().unwrap();
    let ml = dir.path().join("ml");
    std::fs::create_dir(&ml).unwrap();
    std::fs::write(
        ml.join("movies.csv"),
        "movieId,title,genres\n1,Toy Story (1995),Animation\n",
    )
    .unwrap();
    std::fs::write(
        ml.join("ratings.csv"),
        "userId,movieId,rating,timestamp\n1,1,4.0,1\n",
    )
    .unwrap();
    let out = bin(dir.path())
        .args(["import", "movielens"])
        .arg(&ml)
        .output()
        .unwrap();
    marquee_testkit::assert_ok(&out);

    let (mut child, addr) = start(dir.path());
    let token = login(&addr);
    let base = now_ms();
    const DEVICES: i64 = 4; // the admin's premium plan: four streams
    let acked: Arc<Mutex<Vec<(i64, i64, i64)>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let mut threads = vec![];
    for d in 0..DEVICES {
        let (s, b) = http(
            &addr,
            "POST",
            "/api/v1/devices",
            Some(&token),
            &format!(r#"{{"name":"Device {d}","kind":"tv"}}"#),
        )
        .unwrap();
        assert_eq!(s, 201, "{b}");
        let device = json(&b)["id"].as_i64().unwrap();
        let (s, b) = http(
            &addr,
            "POST",
            "/api/v1/playback/start",
            Some(&token),
            &format!(r#"{{"title_id":1,"device_id":{device}}}"#),
        )
        .unwrap();
        assert_eq!(s, 201, "{b}");
        let session = json(&b)["play_session_id"].as_i64().unwrap();
        let (addr, token, acked, count) =
            (addr.clone(), token.clone(), acked.clone(), count.clone());
        threads.push(std::thread::spawn(move || {
            for i in 1.. {
                // Past 5 % of the film so that each report is a resume point.
                let pos = 600_000 + i * 1000;
                let sent_at = base + i * DEVICES + d;
                let body = format!(r#"{{"play_session_id":{session},"position_ms":{pos},"paused":false,"sent_at":{sent_at}}}"#);
                match http(&addr, "POST", "/api/v1/playback/progress", Some(&token), &body) {
                    Ok((200, _)) => {
                        acked.lock().unwrap().push((session, pos, sent_at));
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok((s, b)) => panic!("unexpected {s}: {b}"),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    // Let the reports flow, then kill -9 while requests are in flight.
    let t = Instant::now();
    while count.load(Ordering::SeqCst) < 400 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 400,
        "only {} reports acknowledged",
        acked.len()
    );

    let (mut child, addr) = start(dir.path());
    let token = login(&addr);
    let mut logged = std::collections::HashMap::new();
    let mut after = 0;
    loop {
        let (s, b) = http(
            &addr,
            "GET",
            &format!("/api/v1/playback/events?title_id=1&limit=1000&after_id={after}"),
            Some(&token),
            "",
        )
        .unwrap();
        assert_eq!(s, 200, "{b}");
        let page = json(&b);
        let page = page.as_array().unwrap();
        if page.is_empty() {
            break;
        }
        for e in page {
            after = e["id"].as_i64().unwrap();
            if e["kind"] == "progress" {
                logged.insert(
                    (
                        e["play_session_id"].as_i64().unwrap(),
                        e["position_ms"].as_i64().unwrap(),
                    ),
                    e["sent_at"].as_i64().unwrap(),
                );
            }
        }
    }
    for (session, pos, sent_at) in &acked {
        assert_eq!(
            logged.get(&(*session, *pos)),
            Some(sent_at),
            "acknowledged report ({session}, {pos}) lost"
        );
    }
    // The saved position is the newest report that committed, never older than the newest acknowledged.
    let newest_acked = acked.iter().map(|a| a.2).max().unwrap();
    let (newest_pos, newest_sent) = logged
        .iter()
        .map(|((_, p), s)| (*p, *s))
        .max_by_key(|(_, s)| *s)
        .unwrap();
    assert!(newest_sent >= newest_acked);
    let (s, b) = http(&addr, "GET", "/api/v1/playback/titles/1", Some(&token), "").unwrap();
    assert_eq!(s, 200, "{b}");
    assert_eq!(json(&b)["resume_ms"], newest_pos);
    child.kill().unwrap();
    child.wait().unwrap();
}
