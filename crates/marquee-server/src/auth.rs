//! Passwords, sessions, roles and CSRF.
//!
//! - Passwords are hashed with argon2id (PHC strings), off the async runtime.
//! - A session token is 256 random bits; the database keeps only its sha256.
//!   Browsers carry it in the `marquee_session` cookie (HttpOnly, SameSite=Lax,
//!   Secure over TLS); API clients may send it as `Authorization: Bearer`.
//! - CSRF: every form carries a token. Logged in, it is the session's token;
//!   anonymous (log-in and sign-up forms), it is the `marquee_csrf` cookie
//!   (double submit). Cookie-authenticated unsafe API calls must send the
//!   session's token in `X-CSRF-Token`.
//! - Failed log-ins are rate-limited per account and per IP.

use crate::error::{ApiError, AppError, PageError};
use crate::AppState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use marquee_domain::{Account, Millis, Role};
use marquee_store::SessionRecord;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, RwLock};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "marquee_session";
/// The anonymous CSRF cookie's name.
pub const CSRF_COOKIE: &str = "marquee_csrf";
/// The CSRF header for API calls.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A fresh random token: 256 bits, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// sha256 of a token, hex: what the database stores.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time string equality.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Hashes a password with argon2id on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

/// Hashes a password with argon2id (default parameters: m=19 MiB, t=2, p=1).
pub fn hash_password_blocking(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

/// Verifies a password against a PHC hash on a blocking thread.
pub async fn verify_password(password: String, hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))
}

/// The logged-in account behind a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The account.
    pub account: Account,
    /// The selected profile.
    pub profile_id: Option<i64>,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// The session token's hash.
    pub token_hash: String,
    /// Authenticated by cookie (CSRF applies) rather than a bearer token.
    pub via_cookie: bool,
}

fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    cookie_in(&parts.headers, name)
}

/// A cookie's value from the request headers.
pub fn cookie_in(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The anonymous CSRF cookie, when the browser sent one.
pub fn csrf_cookie(parts: &Parts) -> Option<String> {
    cookie_value(parts, CSRF_COOKIE)
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<CurrentUser>, AppError> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let (token, via_cookie) = match bearer {
        Some(t) => (t, false),
        None => match cookie_value(parts, SESSION_COOKIE) {
            Some(t) => (t, true),
            None => return Ok(None),
        },
    };
    let hash = token_hash(&token);
    let Some(rec) = state.sessions.session(state, &hash).await? else {
        return Ok(None);
    };
    let user = CurrentUser {
        account: rec.account,
        profile_id: rec.profile_id,
        csrf_token: rec.csrf_token,
        token_hash: hash,
        via_cookie,
    };
    // Cookie-authenticated unsafe API calls must prove they come from our pages.
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if via_cookie && unsafe_method && original_path(parts).starts_with("/api/") {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same(sent, &user.csrf_token) {
            return Err(AppError::Forbidden(
                "missing or wrong X-CSRF-Token header".into(),
            ));
        }
    }
    Ok(Some(user))
}

/// Live sessions by token hash, in memory: a request's session lookup without
/// the database. An entry is used only while the store's auth version is the
/// one read before it was loaded (every log-out, revocation, profile
/// selection, password or role change by this server moves it, so they take
/// effect at once), the session has not expired, and it is younger than the
/// time to live (which bounds changes made by another process, such as
/// `marquee user` against the live database). Unknown tokens are not kept.
#[derive(Debug)]
pub struct SessionCache {
    map: RwLock<HashMap<String, CachedSession>>,
    ttl_ms: i64,
}

#[derive(Debug, Clone)]
struct CachedSession {
    rec: SessionRecord,
    version: u64,
    loaded_at: Millis,
}

/// Sessions kept at most; past it the cache starts over.
const MAX_CACHED_SESSIONS: usize = 100_000;

impl SessionCache {
    /// A cache whose entries live `ttl_ms` at most (0: no cache).
    pub fn new(ttl_ms: i64) -> SessionCache {
        SessionCache {
            map: RwLock::new(HashMap::new()),
            ttl_ms,
        }
    }

    /// Sessions held.
    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live session with this token hash.
    pub async fn session(
        &self,
        state: &AppState,
        hash: &str,
    ) -> Result<Option<SessionRecord>, AppError> {
        let now = state.clock.now_ms();
        let version = state.store.auth_version();
        if self.ttl_ms > 0 {
            if let Ok(map) = self.map.read() {
                if let Some(c) = map.get(hash) {
                    if c.version == version
                        && c.rec.expires_at > now
                        && now >= c.loaded_at
                        && now - c.loaded_at < self.ttl_ms
                    {
                        return Ok(Some(c.rec.clone()));
                    }
                }
            }
        }
        let rec = state.store.session(hash, now).await?;
        if let (Some(r), true) = (&rec, self.ttl_ms > 0) {
            if let Ok(mut map) = self.map.write() {
                // Entries of an older version are dead: drop them all at once
                // (the first entry of a version finds only older ones).
                if map.len() >= MAX_CACHED_SESSIONS
                    || map.values().next().is_some_and(|c| c.version != version)
                {
                    map.clear();
                }
                map.insert(
                    hash.to_string(),
                    CachedSession {
                        rec: r.clone(),
                        version,
                        loaded_at: now,
                    },
                );
            }
        }
        Ok(rec)
    }
}

/// Why an auth extractor refused: rendered as JSON under `/api/`, and on pages
/// as a redirect to the log-in page (401) or an HTML error page.
#[derive(Debug)]
pub struct AuthRejection {
    err: AppError,
    api: bool,
    path: String,
}

/// The request path before any `nest` stripped its prefix.
pub fn original_path(parts: &Parts) -> String {
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map(|o| &o.0)
        .unwrap_or(&parts.uri);
    uri.path().to_string()
}

impl AuthRejection {
    /// A rejection of this request (JSON under `/api`, else a page).
    pub(crate) fn new(parts: &Parts, err: AppError) -> Self {
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map(|o| &o.0)
            .unwrap_or(&parts.uri);
        AuthRejection {
            err,
            api: uri.path().starts_with("/api/"),
            path: uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into()),
        }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if self.api {
            return ApiError(self.err).into_response();
        }
        if matches!(self.err, AppError::Unauthorized(_)) {
            return login_redirect(&self.path);
        }
        PageError(self.err).into_response()
    }
}

/// A redirect to the log-in page that comes back to `next` afterwards.
pub fn login_redirect(next: &str) -> Response {
    Redirect::to(&format!("/login?next={}", url_encode(next))).into_response()
}

/// Percent-encodes everything but unreserved characters.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(u) = parts.extensions.get::<CurrentUser>() {
            return Ok(u.clone());
        }
        let user = resolve(parts, state)
            .await
            .map_err(|e| AuthRejection::new(parts, e))?
            .ok_or_else(|| {
                AuthRejection::new(parts, AppError::Unauthorized("log in first".into()))
            })?;
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl OptionalFromRequestParts<AppState> for CurrentUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if let Some(u) = parts.extensions.get::<CurrentUser>() {
            return Ok(Some(u.clone()));
        }
        let user = resolve(parts, state)
            .await
            .map_err(|e| AuthRejection::new(parts, e))?;
        if let Some(u) = &user {
            parts.extensions.insert(u.clone());
        }
        Ok(user)
    }
}

async fn with_role(
    parts: &mut Parts,
    state: &AppState,
    role: Role,
) -> Result<CurrentUser, AuthRejection> {
    let user =
        <CurrentUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
    if user.account.role >= role {
        Ok(user)
    } else {
        Err(AuthRejection::new(
            parts,
            AppError::Forbidden(format!("this needs the {} role", role.as_str())),
        ))
    }
}

/// A logged-in agent or admin: 401 anonymous, 403 viewer. Runs before any
/// body is read, so a viewer never learns more than 403.
#[derive(Debug, Clone)]
pub struct Staff(pub CurrentUser);

impl FromRequestParts<AppState> for Staff {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        with_role(parts, state, Role::Agent).await.map(Staff)
    }
}

/// A logged-in admin: 401 anonymous, 403 otherwise.
#[derive(Debug, Clone)]
pub struct Admin(pub CurrentUser);

impl FromRequestParts<AppState> for Admin {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        with_role(parts, state, Role::Admin).await.map(Admin)
    }
}

/// A sliding-window counter of failed log-ins, keyed by account and by IP.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Millis>>>,
}

impl LoginLimiter {
    /// Seconds to wait if any key is over `max` failures within `window_ms`.
    pub fn blocked(&self, keys: &[String], now: Millis, max: u32, window_ms: i64) -> Option<u64> {
        let mut map = self.failures.lock().ok()?;
        let mut wait = None;
        for k in keys {
            if let Some(q) = map.get_mut(k) {
                while q.front().is_some_and(|t| *t <= now - window_ms) {
                    q.pop_front();
                }
                if q.len() >= max as usize {
                    let oldest = q.front().copied().unwrap_or(now);
                    let secs = ((oldest + window_ms - now).max(1000) / 1000) as u64;
                    wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
                }
            }
        }
        wait
    }

    /// Exponential back-off for `key`: after `max` failures within
    /// `window_ms`, each further attempt waits 2^(failures − max) seconds
    /// after the last failure, at most `cap_s`. Returns the seconds left.
    pub fn backoff(
        &self,
        key: &str,
        now: Millis,
        max: u32,
        window_ms: i64,
        cap_s: u64,
    ) -> Option<u64> {
        let mut map = self.failures.lock().ok()?;
        let q = map.get_mut(key)?;
        while q.front().is_some_and(|t| *t <= now - window_ms) {
            q.pop_front();
        }
        let over = q.len().checked_sub(max as usize)?;
        let wait_ms = 1000i64
            .checked_shl(u32::try_from(over).unwrap_or(u32::MAX).min(40))
            .unwrap_or(i64::MAX)
            .min(i64::try_from(cap_s.saturating_mul(1000)).unwrap_or(i64::MAX));
        let until = q.back()?.saturating_add(wait_ms);
        (until > now).then(|| u64::try_from((until - now + 999) / 1000).unwrap_or(1))
    }

    /// Records a failure against every key.
    pub fn fail(&self, keys: &[String], now: Millis) {
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > 100_000 {
                map.clear();
            }
            for k in keys {
                map.entry(k.clone()).or_default().push_back(now);
            }
        }
    }

    /// Forgets an account's failures after a successful log-in.
    pub fn succeed(&self, account_key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(account_key);
        }
    }
}

/// The client's address: the socket's peer, or, when the peer is a trusted
/// proxy (`server.trusted_proxies`), the address it names in
/// `X-Forwarded-For`. Set by the accept loop ([`crate::conn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return Ok(*ip);
        }
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        Ok(ClientIp(peer))
    }
}

/// The forwarding headers only a trusted proxy may send.
const FORWARDING_HEADERS: [&str; 4] = [
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
];

/// Resolves the client's address of a request that came from `peer`, and
/// removes the forwarding headers when `peer` is not a trusted proxy (so no
/// later reader, such as the Secure-cookie decision, can be fooled).
pub fn resolve_client_ip(
    peer: std::net::IpAddr,
    headers: &mut axum::http::HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        for h in FORWARDING_HEADERS {
            headers.remove(h);
        }
        return peer;
    }
    // Rightmost first: each proxy appends the address it saw.
    let hops: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map_while(|a| a.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

/// A token bucket per client address for anonymous writes (sign-up,
/// log-in): `per_minute` tokens refilled evenly over a minute, bursts of as
/// many. Consulted before any password hashing.
#[derive(Debug, Default)]
pub struct AnonLimiter {
    buckets: Mutex<HashMap<std::net::IpAddr, (f64, Millis)>>,
}

impl AnonLimiter {
    /// Takes a token for `ip`; when none is left, the seconds until one is.
    pub fn take(&self, ip: std::net::IpAddr, now: Millis, per_minute: u32) -> Result<(), u64> {
        let Ok(mut map) = self.buckets.lock() else {
            return Ok(());
        };
        let cap = f64::from(per_minute.max(1));
        let per_ms = cap / 60_000.0;
        if map.len() > 100_000 {
            // Forget full buckets first; they behave as absent ones.
            map.retain(|_, (tokens, at)| *tokens + (now - *at) as f64 * per_ms < cap);
        }
        let (tokens, at) = map.entry(ip).or_insert((cap, now));
        let refilled = (*tokens + (now - *at).max(0) as f64 * per_ms).min(cap);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(((1.0 - refilled) / per_ms / 1000.0).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43); // 256 bits
        assert_eq!(token_hash(&a).len(), 64);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
    }

    #[test]
    fn anonymous_bucket_allows_a_burst_then_refills() {
        let l = AnonLimiter::default();
        let a: std::net::IpAddr = [10, 0, 0, 1].into();
        let b: std::net::IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert_eq!(l.take(a, 0, 3), Ok(()));
        }
        assert_eq!(l.take(a, 0, 3), Err(20));
        assert_eq!(l.take(b, 0, 3), Ok(()));
        assert_eq!(l.take(a, 30_000, 3), Ok(()));
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let proxy: std::net::IpAddr = [10, 0, 0, 9].into();
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-forwarded-for", "1.2.3.4, 5.6.7.8".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        let mut untrusted = h.clone();
        let peer: std::net::IpAddr = [9, 9, 9, 9].into();
        assert_eq!(resolve_client_ip(peer, &mut untrusted, &[proxy]), peer);
        assert!(untrusted.get("x-forwarded-proto").is_none());
        let client = resolve_client_ip(proxy, &mut h, &[proxy]);
        assert_eq!(client, std::net::IpAddr::from([5, 6, 7, 8]));
        assert!(h.get("x-forwarded-proto").is_some());
    }

    #[test]
    fn account_backoff_doubles_and_is_capped() {
        let l = LoginLimiter::default();
        let k = "acct:a".to_string();
        for i in 0..3 {
            l.fail(std::slice::from_ref(&k), 1000 + i);
        }
        assert_eq!(l.backoff(&k, 1002, 3, 60_000, 10), Some(1));
        assert_eq!(l.backoff(&k, 2002, 3, 60_000, 10), None);
        l.fail(std::slice::from_ref(&k), 2002);
        assert_eq!(l.backoff(&k, 2002, 3, 60_000, 10), Some(2));
        for i in 0..10 {
            l.fail(std::slice::from_ref(&k), 3000 + i);
        }
        assert_eq!(l.backoff(&k, 3009, 3, 60_000, 10), Some(10));
    }

    #[test]
    fn limiter_blocks_after_max_and_recovers() {
        let l = LoginLimiter::default();
        let keys = vec!["acct:a".to_string(), "ip:1".to_string()];
        for i in 0..5 {
            assert_eq!(l.blocked(&keys, 1000 + i, 5, 60_000), None);
            l.fail(&keys, 1000 + i);
        }
        assert!(l.blocked(&keys, 2000, 5, 60_000).is_some());
        // Another account from the same IP is blocked too.
        assert!(l
            .blocked(&["acct:b".into(), "ip:1".into()], 2000, 5, 60_000)
            .is_some());
        assert_eq!(l.blocked(&keys, 62_000, 5, 60_000), None);
    }

    #[test]
    fn password_hash_roundtrip() {
        let h = hash_password_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"wrong", &parsed)
            .is_err());
    }
}
