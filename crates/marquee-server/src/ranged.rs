//! Media files over HTTP with byte ranges, fast where players are: one
//! satisfiable range (`bytes=N-`, `bytes=N-M`, `bytes=-N`), which is what
//! `<video>` and CDNs ask for, is read with positional reads of up to
//! [`CHUNK`] each on the blocking pool, streamed as the body. Anything else
//! (no range, several ranges, a conditional request, a malformed or
//! unsatisfiable range) goes to tower-http's `ServeFile`, which answers
//! 200, 206, 304, 412 or 416 as the RFC says.
//!
//! Why: `ServeFile` reads 64 KiB at a time through `tokio::fs`, a hop to the
//! blocking pool and back per 64 KiB; serving 1 MiB ranges to 32 readers it
//! reached a third of nginx's throughput (`bench/media`), almost all of it
//! in those hops. The ranges are parsed by `http-range-header`, the crate
//! `ServeFile` itself uses. The file comes open
//! ([`crate::media::open::OpenFiles`]): a playback's requests share one
//! open file, so a range costs one hop to the blocking pool per [`CHUNK`]
//! and nothing else that blocks.

use crate::error::AppError;
use crate::media::open::OpenFile;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use tower::ServiceExt;

/// Bytes read at once.
pub const CHUNK: u64 = 1024 * 1024;

/// Serves the open `file` for `req` (see the module's doc).
pub async fn serve(file: Arc<OpenFile>, req: Request) -> Result<Response, AppError> {
    if let Some(resp) = single_range(&file, req.method() == Method::GET, req.headers()) {
        return Ok(resp);
    }
    let resp = tower_http::services::ServeFile::new(&file.path)
        .oneshot(req)
        .await
        .map_err(|e| AppError::Internal(format!("serving a file: {e}")))?;
    Ok(resp.map(Body::new).into_response())
}

/// The fast path, or `None` when `ServeFile` should answer.
fn single_range(file: &Arc<OpenFile>, get: bool, h: &axum::http::HeaderMap) -> Option<Response> {
    let conditional = [
        header::IF_RANGE,
        header::IF_MATCH,
        header::IF_NONE_MATCH,
        header::IF_MODIFIED_SINCE,
        header::IF_UNMODIFIED_SINCE,
    ]
    .iter()
    .any(|c| h.contains_key(c));
    if !get || conditional {
        return None;
    }
    let range = h.get(header::RANGE).and_then(|v| v.to_str().ok())?;
    let parsed = http_range_header::parse_range_header(range).ok()?;
    let len = file.len;
    let ranges = match parsed.validate(len) {
        Ok(r) if r.len() == 1 && len > 0 => r,
        _ => return None,
    };
    let (start, end) = (*ranges[0].start(), *ranges[0].end());
    if start > end {
        return None;
    }
    let reader = file.clone();
    let body = futures_util::stream::unfold(start, move |pos| {
        let file = reader.clone();
        async move {
            if pos > end {
                return None;
            }
            let n = (end - pos + 1).min(CHUNK);
            let read = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
                file.file.read_exact_at(&mut buf, pos).map(|()| buf)
            })
            .await;
            Some(match read {
                Ok(Ok(buf)) => (Ok(bytes::Bytes::from(buf)), pos + n),
                Ok(Err(e)) => (Err(e), end + 1),
                Err(e) => (Err(std::io::Error::other(e)), end + 1),
            })
        }
    });
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
    let hs = resp.headers_mut();
    let mime = mime_guess::from_path(&file.path).first_or_octet_stream();
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        hs.insert(header::CONTENT_TYPE, v);
    }
    hs.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    hs.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
    if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
        hs.insert(header::CONTENT_RANGE, v);
    }
    if let Some(v) = file
        .modified
        .map(httpdate::fmt_http_date)
        .and_then(|d| HeaderValue::from_str(&d).ok())
    {
        hs.insert(header::LAST_MODIFIED, v);
    }
    Some(resp)
}
