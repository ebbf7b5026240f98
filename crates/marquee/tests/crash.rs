//! Durability: kill -9 the real `marquee serve` while devices stream progress
//! reports, restart it, and find every acknowledged report in the play-event log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_marquee"));
    for (k, _) in std::env::vars() {
        if k.starts_with("MARQUEE_") {
            c.env_remove(k);
        }
    }
    c.current_dir(dir).env("MARQUEE_DATA_DIR", dir.join("data"));
    c
}

fn start(dir: &Path) -> (Child, String) {
    let mut child = bin(dir)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--admin-password",
            "admin-password-1",
            "--no-demo",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let t = Instant::now();
    let mut addr = None;
    while addr.is_none() && t.elapsed() < Duration::from_secs(60) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            addr = line
                .strip_prefix("Marquee is running at http://")
                .map(|rest| rest.trim_end_matches('/').to_string());
        }
    }
    match addr {
        Some(addr) => (child, addr),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not start");
        }
    }
}

/// One HTTP/1.1 request on a fresh connection: (status, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {out:?}")))?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn login(addr: &str) -> String {
    let (s, b) = http(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        r#"{"email":"admin@marquee.local","password":"admin-password-1"}"#,
    )
    .unwrap();
    assert_eq!(s, 200, "{b}");
    json(&b)["token"].as_str().unwrap().to_string()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

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
