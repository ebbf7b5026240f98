//! The `marquee` binary end to end: import, serve, config.

use crate::common::{bin, command, demo_dir};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn import_is_idempotent_and_reports_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin(dir.path());
    let out = c
        .args(["import", "movielens"])
        .arg(demo_dir())
        .output()
        .unwrap();
    let text = marquee_testkit::assert_ok(&out);
    assert!(
        text.contains("titles           9742          0          0"),
        "{text}"
    );
    // The shipped ratings.csv ends with a rating of an unknown movie: rejected, counted.
    assert!(
        text.contains("ratings        100836          0          1"),
        "{text}"
    );

    let mut c = bin(dir.path());
    let out = c
        .args(["import", "movielens"])
        .arg(demo_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("nothing new"), "{text}");
    assert!(
        text.contains("titles              0       9742          0"),
        "{text}"
    );

    // Malformed rows are reported with file and line; the rest goes in.
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(
        bad.join("movies.csv"),
        "movieId,title,genres\n1,Toy Story (1995),Animation\nx,Broken,Drama\n",
    )
    .unwrap();
    std::fs::write(
        bad.join("ratings.csv"),
        "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,1,nine,2\n",
    )
    .unwrap();
    let mut c = bin(dir.path());
    c.env("MARQUEE_DATA_DIR", dir.path().join("data2"));
    let out = c.args(["import", "movielens"]).arg(&bad).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("movies.csv:3: movieId \"x\" is not an integer"),
        "{text}"
    );
    assert!(
        text.contains("ratings.csv:3: rating \"nine\" is not a number"),
        "{text}"
    );
    assert!(text.contains("2 malformed rows"), "{text}");
}

/// Starts `marquee serve` on port 0 and returns the child and the address it printed.
fn start_server(dir: &Path) -> (std::process::Child, String, Vec<String>) {
    let mut c = bin(dir);
    let mut child = c
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--admin-password",
            "admin-password-1",
        ])
        .env("MARQUEE_DEMO__DIR", demo_dir())
        // Ten thousand posters would compete with the other tests for the CPU.
        .env("MARQUEE_CATALOG__GENERATE_POSTERS", "false")
        // Nor the sample series' clips (tested in marquee-server's demo_media).
        .env("MARQUEE_DEMO__MEDIA", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx2.send(line);
        }
    });
    let start = Instant::now();
    let mut lines = vec![];
    while start.elapsed() < Duration::from_secs(120) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(rest) = line.strip_prefix("Marquee is running at http://") {
                let addr = rest.trim_end_matches('/').to_string();
                // Collect the login lines that follow.
                while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
                    lines.push(l);
                }
                return (child, addr, lines);
            }
            lines.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start: {lines:?}");
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_imports_the_demo_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, lines) = start_server(dir.path());
    let all = lines.join("\n");
    assert!(
        all.contains("First start: importing the demo catalog"),
        "{all}"
    );
    assert!(all.contains("admin login:  admin@marquee.local"), "{all}");
    assert!(
        all.contains("demo viewer:  viewer1@demo.marquee / marquee-demo"),
        "{all}"
    );
    let body = http_get(&addr, "/api/v1/titles?genre=Comedy&limit=5");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("\"genres\""));
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, addr, lines) = start_server(dir.path());
    let all = lines.join("\n");
    assert!(!all.contains("First start"), "re-imported: {all}");
    let body = http_get(&addr, "/healthz");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn config_layers_and_rejects_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("marquee.toml"),
        "[server]\naddr = \"127.0.0.1:9999\"\n",
    )
    .unwrap();
    let out = command()
        .current_dir(dir.path())
        .arg("config")
        .env("MARQUEE_ADMIN_PASSWORD", "s3cret-pass")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("addr = \"127.0.0.1:9999\""), "{text}");
    assert!(!text.contains("s3cret-pass"), "{text}");
    let out = command()
        .current_dir(dir.path())
        .arg("config")
        .env("MARQUEE_SERVER__ADDR", "127.0.0.1:7")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("127.0.0.1:7"));
    let out = command()
        .current_dir(dir.path())
        .arg("config")
        .env("MARQUEE_SERVER__PORTT", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("portt"));
}

#[test]
fn user_add_creates_staff() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin(dir.path());
    let out = c
        .args([
            "user",
            "add",
            "--email",
            "Boss@Example.com",
            "--role",
            "admin",
        ])
        .output()
        .unwrap();
    let text = marquee_testkit::assert_ok(&out);
    assert!(
        text.contains("created admin account boss@example.com"),
        "{text}"
    );
    assert!(text.contains("one-time password: "), "{text}");
    let mut c = bin(dir.path());
    let out = c
        .args([
            "user",
            "add",
            "--email",
            "boss@example.com",
            "--role",
            "agent",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let mut c = bin(dir.path());
    let out = c
        .args(["user", "add", "--email", "x@example.com", "--role", "root"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role"));
}

#[test]
fn tokens_may_start_with_a_hyphen() {
    // Ingest tokens are URL-safe base64: one in 64 starts with '-'.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jsonl");
    let out = command()
        .current_dir(dir.path())
        .args(["ingest", "posts"])
        .arg(&missing)
        .args(["--server", "http://127.0.0.1:9", "--token", "-Wabc"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!err.contains("unexpected argument"), "{err}");
    assert!(err.contains("missing.jsonl"), "{err}");
}

/// A raw HTTP/1.1 request; returns the whole response.
fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn json_body(response: &str) -> serde_json::Value {
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

#[test]
fn train_recs_writes_a_loadable_model_that_the_server_serves() {
    // A small data set: 12 titles, 10 viewers who each rated 6 of them.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("small");
    std::fs::create_dir(&data).unwrap();
    let mut movies = String::from("movieId,title,genres\n");
    for m in 1..=12 {
        let g = if m % 2 == 0 {
            "Comedy"
        } else {
            "Drama|Thriller"
        };
        movies.push_str(&format!("{m},Title {m} (19{:02}),{g}\n", 80 + m));
    }
    std::fs::write(data.join("movies.csv"), movies).unwrap();
    let mut ratings = String::from("userId,movieId,rating,timestamp\n");
    for u in 1..=10 {
        for k in 0..6 {
            let m = (u + k * 2) % 12 + 1;
            ratings.push_str(&format!("{u},{m},4.5,{}\n", 1_600_000_000 + u * 100 + k));
        }
    }
    std::fs::write(data.join("ratings.csv"), ratings).unwrap();
    let mut c = bin(dir.path());
    let out = c.args(["import", "movielens"]).arg(&data).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let spec = "knn:k=5";
    let mut c = bin(dir.path());
    let out = c.args(["train", "recs", "--model", spec]).output().unwrap();
    let text = marquee_testkit::assert_ok(&out);
    assert!(text.contains("on 60 interactions of 10 profiles"), "{text}");
    let path = marquee_server::recs::model_path(&dir.path().join("data").join("recs"), spec);
    assert!(text.contains(&path.display().to_string()), "{text}");
    let rec = marquee_recs::Recommender::from_bytes(&std::fs::read(&path).unwrap())
        .expect("the model file loads");
    assert_eq!(rec.index.len(), 12);

    // The server serves the file and its staff status shows the CLI run.
    let mut c = bin(dir.path());
    let mut child = c
        .args([
            "serve",
            "--no-demo",
            "--addr",
            "127.0.0.1:0",
            "--admin-password",
            "admin-password-1",
        ])
        .env("MARQUEE_RECS__MODEL", spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Keep reading the server's stdout to the end: a closed pipe would make
    // its next line fail.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("Marquee is running at http://")
                .map(|a| a.trim_end_matches('/').to_string())
        })
        .expect("the server starts");
    std::thread::spawn(move || lines.for_each(drop));
    let login = json_body(&http(
        &addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(r#"{"email":"admin@marquee.local","password":"admin-password-1"}"#),
    ));
    let token = login["token"].as_str().expect("a token").to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let s = json_body(&http(
            &addr,
            "GET",
            "/api/v1/staff/recs",
            Some(&token),
            None,
        ));
        if s["ready"] == true || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status["ready"], true, "{status}");
    assert!(
        status["served"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == spec),
        "{status}"
    );
    let run = &status["runs"][0];
    assert_eq!(run["trigger"], "cli", "{status}");
    assert_eq!(run["spec"], spec);
    assert_eq!(run["ok"], true);
    assert_eq!(run["interactions"], 60);
    assert_eq!(run["users"], 10);
}
