//! Connection hygiene: the accept loop behind [`crate::launch`].
//!
//! - A request head must arrive within `server.header_read_timeout_s` of the
//!   connection opening or of the previous response (hyper's header-read
//!   timer, which it re-arms while a kept-alive connection waits for its next
//!   request), so idle and half-sent heads do not hold sockets.
//! - A connection on which no byte moved either way for
//!   `server.idle_timeout_s` is closed ([`IdleIo`]): stalled clients, quiet
//!   kept-alive connections. Live streams send a keep-alive comment every
//!   15 s, so they are never idle that long.
//! - At most `server.max_connections` connections at once (clamped below the
//!   open-file limit), and `server.max_connections_per_ip` from one address
//!   (trusted proxies exempt; their requests name the client, see
//!   [`crate::auth::resolve_client_ip`]); past either the connection gets a short 503
//!   and is closed, without reading it.
//! - An accept error such as `EMFILE` backs off (5 ms doubling to 1 s)
//!   instead of spinning, and the connections already open keep being served.

use crate::config::ServerConfig;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// File descriptors kept free for the database, model files, outbound
/// requests and logs when the connection cap is clamped to the file limit.
const RESERVED_FDS: u64 = 128;

/// Raises this process's open-file soft limit to its hard limit; returns the
/// new soft limit. Called once by `marquee serve` at start.
pub fn raise_nofile_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// The connection cap in effect: the configured one, lowered so that the
/// open connections can never use up the process's file descriptors.
pub fn effective_max_connections(configured: usize) -> usize {
    match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, _)) if soft != rlimit::INFINITY => {
            let room =
                usize::try_from(soft.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(usize::MAX);
            configured.min(room)
        }
        _ => configured,
    }
}

/// Counts open connections, in all and per client address.
#[derive(Debug)]
struct Tracker {
    total: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    max_per_ip: usize,
    exempt: Vec<IpAddr>,
}

/// One admitted connection; frees its place when dropped.
#[derive(Debug)]
struct Slot {
    tracker: Arc<Tracker>,
    ip: Option<IpAddr>,
    _permit: OwnedSemaphorePermit,
}

impl Tracker {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let permit = self.total.clone().try_acquire_owned().ok()?;
        if self.exempt.contains(&ip) {
            return Some(Slot {
                tracker: self.clone(),
                ip: None,
                _permit: permit,
            });
        }
        let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            return None;
        }
        *n += 1;
        Some(Slot {
            tracker: self.clone(),
            ip: Some(ip),
            _permit: permit,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut map = self
                .tracker
                .per_ip
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(n) = map.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
    }
}

/// The answer to a connection over a cap: written without reading the
/// request, then the socket is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 78\r\n\r\n\
{\"error\":{\"code\":\"unavailable\",\"message\":\"too many connections\",\"field\":null}}";

/// Accept errors that concern one connection (the peer gave up): go on at once.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves `router` on `listener` until `shutdown` resolves, then runs
/// `on_shutdown` (closing live streams) and waits for open requests.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    server: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_shutdown: impl FnOnce(),
) -> io::Result<()> {
    let max_connections = effective_max_connections(server.max_connections);
    if max_connections < server.max_connections {
        tracing::warn!(
            configured = server.max_connections,
            max_connections,
            "server.max_connections lowered to fit the open-file limit"
        );
    }
    let tracker = Arc::new(Tracker {
        total: Arc::new(Semaphore::new(max_connections)),
        per_ip: Mutex::new(HashMap::new()),
        max_per_ip: server.max_connections_per_ip,
        exempt: server.trusted_proxies.clone(),
    });
    let trusted: Arc<[IpAddr]> = server.trusted_proxies.clone().into();
    let mut http = hyper::server::conn::http1::Builder::new();
    // The parser's own limits sit above the application's (error::head_limits),
    // which answers oversize heads in the JSON error shape; the parser's bare
    // 431 is left for heads past its 400 KB buffer.
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(server.header_read_timeout_s))
        .max_headers(crate::error::MAX_HEADER_COUNT * 2);
    let idle = Duration::from_secs(server.idle_timeout_s);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        let (tcp, addr) = match accepted {
            Ok(x) => {
                backoff = Duration::from_millis(5);
                x
            }
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // EMFILE, ENFILE, ENOBUFS…: retrying at once would spin.
                tracing::error!(error = %e, backoff_ms = backoff.as_millis() as u64, "accept error; backing off");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = &mut shutdown => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let Some(slot) = tracker.admit(addr.ip()) else {
            refuse(tcp, addr);
            continue;
        };
        // Live events are small writes: without TCP_NODELAY, Nagle's algorithm
        // and the peer's delayed ACK hold the second of two quick events ~40 ms.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let io = TokioIo::new(IdleIo::new(tcp, idle));
        let router = router.clone();
        let trusted = trusted.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let client = crate::auth::resolve_client_ip(addr.ip(), req.headers_mut(), &trusted);
            req.extensions_mut().insert(ConnectInfo(addr));
            req.extensions_mut().insert(crate::auth::ClientIp(client));
            router.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %addr, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    on_shutdown();
    graceful.shutdown().await;
    Ok(())
}

fn refuse(tcp: TcpStream, addr: SocketAddr) {
    tracing::debug!(%addr, "connection refused: too many connections");
    // Non-blocking: a peer that does not read gets nothing.
    let _ = tcp.try_write(REFUSAL);
    drop(tcp);
}

/// A socket that fails with `TimedOut` once nothing was read or written for
/// `idle`.
struct IdleIo {
    inner: TcpStream,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl IdleIo {
    fn new(inner: TcpStream, idle: Duration) -> Self {
        IdleIo {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }

    fn touch(&mut self) {
        let deadline = tokio::time::Instant::now() + self.idle;
        self.timer.as_mut().reset(deadline);
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.timer.as_mut().poll(cx).is_ready()
    }

    /// Passes on an I/O poll's outcome: progress (`moved`) re-arms the idle
    /// timer; while the socket waits, an expired timer ends it.
    fn settle<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
        moved: impl FnOnce(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(Ok(v)) => {
                if moved(&v) {
                    self.touch();
                }
                Poll::Ready(Ok(v))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn idle_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle")
}

impl AsyncRead for IdleIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let after = buf.filled().len();
        this.settle(cx, polled, |()| after > before)
    }
}

impl AsyncWrite for IdleIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.settle(cx, polled, |n| *n > 0)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.settle(cx, polled, |n| *n > 0)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
