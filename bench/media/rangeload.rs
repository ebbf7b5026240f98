//! A small HTTP/1.1 Range load generator: READERS keep-alive connections,
//! each asking for CHUNK-byte ranges of one file for SECS seconds, closed
//! loop (the next request goes when the last response has been read).
//! Measures, per request, the time to first byte (request written → the
//! first byte of the response head read) and the full latency (→ the last
//! body byte read), and the body bytes per second over all readers.
//!
//! std only, so run.sh builds it with a bare `rustc -O` (no Cargo, no
//! crates): one OS thread per reader, blocking sockets, the body read into
//! a 256 KiB buffer and dropped, so the client spends little CPU per byte
//! (it shares the 2 cores with the server under test).
//!
//!   rangeload URL SIZE READERS SECS CHUNK MODE [SEED]
//!
//! URL: http://host:port/path?query (no TLS); SIZE: the file's length in
//! bytes; MODE: `random` (each request a random 4 KiB-aligned range) or
//! `seq` (each reader starts at a random place and reads on, chunk after
//! chunk, wrapping at the end: a player). Every response must be a 206 with
//! the asked Content-Range, else it counts as an error. Prints one JSON line.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

struct Stats {
    ttfb_us: Vec<u32>,
    full_us: Vec<u32>,
    bytes: u64,
    errors: u64,
    first_error: Option<String>,
}

/// xorshift64*: enough randomness for offsets.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn find(h: &[u8], pat: &[u8]) -> Option<usize> {
    h.windows(pat.len()).position(|w| w == pat)
}

/// One request on `s`: returns (ttfb, full, body bytes, keep-alive).
fn one(
    s: &mut TcpStream,
    req: &[u8],
    want_range: &str,
    buf: &mut [u8],
) -> Result<(Duration, Duration, u64, bool), String> {
    let t0 = Instant::now();
    s.write_all(req).map_err(|e| format!("write: {e}"))?;
    let mut head: Vec<u8> = Vec::with_capacity(1024);
    let mut ttfb = None;
    let end;
    loop {
        let n = s.read(buf).map_err(|e| format!("read head: {e}"))?;
        if n == 0 {
            return Err("connection closed before the response head".into());
        }
        if ttfb.is_none() {
            ttfb = Some(t0.elapsed());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(p) = find(&head, b"\r\n\r\n") {
            end = p + 4;
            break;
        }
        if head.len() > 64 * 1024 {
            return Err("response head over 64 KiB".into());
        }
    }
    let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let status = text.split_whitespace().nth(1).unwrap_or("");
    if status != "206" {
        return Err(format!("status {status}, not 206: {}", text.lines().next().unwrap_or("")));
    }
    let header = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let len: u64 = header("content-length:")
        .and_then(|v| v.parse().ok())
        .ok_or("a 206 without Content-Length")?;
    match header("content-range:") {
        Some(cr) if cr.starts_with(&format!("bytes {want_range}/")) => {}
        other => return Err(format!("content-range {other:?}, asked {want_range}")),
    }
    let keep = header("connection:").is_none_or(|v| v != "close");
    let mut got = (head.len() - end) as u64;
    while got < len {
        let n = s.read(buf).map_err(|e| format!("read body: {e}"))?;
        if n == 0 {
            return Err(format!("connection closed after {got} of {len} body bytes"));
        }
        got += n as u64;
    }
    if got != len {
        return Err(format!("{got} body bytes, Content-Length {len} (pipelined?)"));
    }
    Ok((ttfb.unwrap_or_default(), t0.elapsed(), len, keep))
}

fn reader(
    addr: String,
    host: String,
    path: String,
    size: u64,
    chunk: u64,
    seq: bool,
    seed: u64,
    deadline: Instant,
) -> Stats {
    let mut st = Stats { ttfb_us: Vec::new(), full_us: Vec::new(), bytes: 0, errors: 0, first_error: None };
    let mut rng = Rng(seed | 1);
    let span = size.saturating_sub(chunk).max(1);
    let mut pos = (rng.next() % span) & !4095;
    let mut buf = vec![0u8; 256 * 1024];
    let mut conn: Option<TcpStream> = None;
    while Instant::now() < deadline {
        let start = if seq {
            let p = pos;
            pos += chunk;
            if pos >= size {
                pos = 0;
            }
            p
        } else {
            (rng.next() % span) & !4095
        };
        let last = (start + chunk).min(size) - 1;
        let want = format!("{start}-{last}");
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nRange: bytes={want}\r\nUser-Agent: marquee-rangeload\r\nAccept: */*\r\n\r\n"
        );
        if conn.is_none() {
            match TcpStream::connect(&addr) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
                    conn = Some(s);
                }
                Err(e) => {
                    st.errors += 1;
                    st.first_error.get_or_insert(format!("connect: {e}"));
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
        }
        let s = conn.as_mut().expect("connected");
        match one(s, req.as_bytes(), &want, &mut buf) {
            Ok((ttfb, full, n, keep)) => {
                st.ttfb_us.push(ttfb.as_micros().min(u32::MAX as u128) as u32);
                st.full_us.push(full.as_micros().min(u32::MAX as u128) as u32);
                st.bytes += n;
                if !keep {
                    conn = None;
                }
            }
            Err(e) => {
                st.errors += 1;
                st.first_error.get_or_insert(e);
                conn = None;
            }
        }
    }
    st
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

/// This process's user + system CPU seconds (/proc/self/stat, 100 Hz ticks).
fn cpu_s() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 7 {
        eprintln!("usage: rangeload URL SIZE READERS SECS CHUNK random|seq [SEED]");
        std::process::exit(2);
    }
    let url = a[1].strip_prefix("http://").expect("an http:// URL");
    let (host, path) = match url.find('/') {
        Some(i) => (url[..i].to_string(), url[i..].to_string()),
        None => (url.to_string(), "/".to_string()),
    };
    let size: u64 = a[2].parse().expect("SIZE");
    let readers: usize = a[3].parse().expect("READERS");
    let secs: f64 = a[4].parse().expect("SECS");
    let chunk: u64 = a[5].parse().expect("CHUNK");
    let seq = match a[6].as_str() {
        "seq" => true,
        "random" => false,
        m => panic!("MODE {m}: random or seq"),
    };
    let seed: u64 = a.get(7).and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    let cpu0 = cpu_s();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..readers)
        .map(|i| {
            let (addr, host, path) = (host.clone(), host.clone(), path.clone());
            let seed = seed.wrapping_mul(1_000_003).wrapping_add(i as u64 * 7919 + 1);
            std::thread::spawn(move || reader(addr, host, path, size, chunk, seq, seed, deadline))
        })
        .collect();
    let mut all = Stats { ttfb_us: Vec::new(), full_us: Vec::new(), bytes: 0, errors: 0, first_error: None };
    for h in handles {
        let s = h.join().expect("reader thread");
        all.ttfb_us.extend(s.ttfb_us);
        all.full_us.extend(s.full_us);
        all.bytes += s.bytes;
        all.errors += s.errors;
        if all.first_error.is_none() {
            all.first_error = s.first_error;
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_s() - cpu0;
    all.ttfb_us.sort_unstable();
    all.full_us.sort_unstable();
    let n = all.ttfb_us.len();
    let err = all
        .first_error
        .map(|e| format!("\"{}\"", e.replace('\\', "\\\\").replace('"', "'")))
        .unwrap_or_else(|| "null".into());
    println!(
        "{{\"requests\":{n},\"bytes\":{},\"secs\":{wall:.3},\"mb_per_s\":{:.1},\"req_per_s\":{:.1},\
\"ttfb_p50_ms\":{:.3},\"ttfb_p90_ms\":{:.3},\"ttfb_p99_ms\":{:.3},\"ttfb_max_ms\":{:.3},\
\"full_p50_ms\":{:.3},\"full_p99_ms\":{:.3},\"errors\":{},\"first_error\":{err},\"client_cpu_s\":{cpu:.2}}}",
        all.bytes,
        all.bytes as f64 / wall / 1e6,
        n as f64 / wall,
        pct(&all.ttfb_us, 50.0),
        pct(&all.ttfb_us, 90.0),
        pct(&all.ttfb_us, 99.0),
        pct(&all.ttfb_us, 100.0),
        pct(&all.full_us, 50.0),
        pct(&all.full_us, 99.0),
        all.errors,
    );
}
