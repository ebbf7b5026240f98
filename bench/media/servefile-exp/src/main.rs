//! One file with HTTP Range, two ways, on a bare axum server (the same
//! axum, tower-http and tokio as Marquee; TCP_NODELAY like Marquee's):
//! - `/servefile`: `tower_http::services::ServeFile` per request, as
//!   Marquee's `/media/{id}` handler uses it: tokio::fs, so every 64 KiB
//!   read of the body is a hop to the blocking thread pool and back;
//! - `/pread`: the range read with one positional read (`read_exact_at`)
//!   on the runtime's thread (the file sits in the page cache) and sent
//!   as one body. Profiling aid only: a single `bytes=A-B` range, no
//!   416, no open-ended ranges streamed in pieces.
//!
//!   FILE=path ADDR=127.0.0.1:PORT servefile-exp
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use std::os::unix::fs::FileExt;
use tower::ServiceExt;

fn range(req: &Request, size: u64) -> Option<(u64, u64)> {
    let v = req.headers().get(header::RANGE)?.to_str().ok()?;
    let (a, b) = v.strip_prefix("bytes=")?.split_once('-')?;
    let a: u64 = a.parse().ok()?;
    let b: u64 = b.parse().unwrap_or(size - 1).min(size - 1);
    (a <= b).then_some((a, b))
}

fn pread(file: &str, req: &Request) -> Response {
    let Ok(f) = std::fs::File::open(file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let Some((a, b)) = range(req, size) else {
        return StatusCode::RANGE_NOT_SATISFIABLE.into_response();
    };
    let mut buf = vec![0u8; (b - a + 1) as usize];
    if f.read_exact_at(&mut buf, a).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        StatusCode::PARTIAL_CONTENT,
        [
            (header::CONTENT_RANGE, format!("bytes {a}-{b}/{size}")),
            (header::CONTENT_TYPE, "video/mp4".to_string()),
        ],
        buf,
    )
        .into_response()
}

#[tokio::main]
async fn main() {
    let file = std::env::var("FILE").expect("FILE");
    let addr = std::env::var("ADDR").expect("ADDR");
    let (f1, f2) = (file.clone(), file);
    let app = Router::new()
        .route(
            "/servefile",
            get(move |req: Request| {
                let file = f1.clone();
                async move {
                    match tower_http::services::ServeFile::new(&file).oneshot(req).await {
                        Ok(r) => r.map(axum::body::Body::new),
                        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                    }
                }
            }),
        )
        .route(
            "/pread",
            get(move |req: Request| {
                let file = f2.clone();
                async move { pread(&file, &req) }
            }),
        );
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .expect("bind")
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    axum::serve(listener, app).await.expect("serve");
}
