//! Helpers shared by the tests that run the real `marquee` binary as a child
//! process: start `marquee serve` on port 0, plain HTTP/1.1 requests, log-in.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The admin password every test server starts with.
pub const ADMIN_PW: &str = "admin-password-1";

/// The binary, isolated from the developer's `MARQUEE_*` environment (and
/// so from any `./marquee.toml` named there).
pub fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_marquee"));
    for (k, _) in std::env::vars() {
        if k.starts_with("MARQUEE_") {
            c.env_remove(k);
        }
    }
    c
}

/// [`command`] run in `dir` (so `dir/marquee.toml` is its config) with its
/// data in `dir/data`.
pub fn bin(dir: &Path) -> Command {
    let mut c = command();
    c.current_dir(dir).env("MARQUEE_DATA_DIR", dir.join("data"));
    c
}

/// The demo catalog in the source tree.
pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo/ml-latest-small")
}

/// `marquee serve --no-demo` on port 0: the child and its address. The
/// server's log is appended to `dir/server.log`. Callers kill and wait.
#[allow(clippy::zombie_processes)]
pub fn start(dir: &Path) -> (Child, String) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    let mut child = bin(dir)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--admin-password",
            ADMIN_PW,
            "--no-demo",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
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
    while addr.is_none() && t.elapsed() < Duration::from_secs(90) {
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
            panic!("server did not start: {}", log_tail(dir));
        }
    }
}

/// The end of `dir/server.log`, for failure messages.
pub fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let start = log.len().saturating_sub(4000);
    let start = (start..log.len())
        .find(|i| log.is_char_boundary(*i))
        .unwrap_or(log.len());
    log[start..].to_string()
}

/// kill -9 and reap.
pub fn kill9(child: &mut Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// One HTTP/1.1 request on a fresh connection: (status, body). A server
/// that does not answer within 60 s is an error, never a hang.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let out = String::from_utf8_lossy(&out).into_owned();
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

/// A JSON body.
pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// An admin session token.
pub fn login(addr: &str) -> String {
    let (s, b) = http(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        &format!(r#"{{"email":"admin@marquee.local","password":"{ADMIN_PW}"}}"#),
    )
    .unwrap();
    assert_eq!(s, 200, "{b}");
    json(&b)["token"].as_str().unwrap().to_string()
}

/// A new listening ingest token, created by the admin.
pub fn ingest_token(addr: &str, admin: &str) -> String {
    let (s, b) = http(
        addr,
        "POST",
        "/api/v1/listening/tokens",
        Some(admin),
        r#"{"name":"fault test"}"#,
    )
    .unwrap();
    assert!(s == 200 || s == 201, "{s}: {b}");
    json(&b)["token"].as_str().unwrap().to_string()
}

/// Wall-clock ms.
pub fn now_ms() -> i64 {
    use marquee_domain::Clock;
    marquee_domain::SystemClock.now_ms()
}

/// Polls `f` until it is true or `secs` pass; false on timeout.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}
