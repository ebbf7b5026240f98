//! The one application error, and its two renderers: JSON for `/api`, HTML for pages.
//!
//! Every layer's error converts into [`AppError`]; the mapping to HTTP status
//! codes lives only in [`AppError::status`]. Handlers of the JSON API return
//! [`ApiError`], page handlers return [`PageError`]; both wrap the same error.

use askama::Template;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use marquee_domain::DomainError;
use marquee_store::StoreError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

/// Everything that can go wrong while serving a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// The input is malformed or breaks a rule.
    #[error("{message}")]
    BadRequest {
        /// The offending field, when one is to blame.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Not logged in, or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Logged in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// A password given again to confirm a step (account deletion) is wrong.
    #[error("{message}")]
    Reauthenticate {
        /// The password field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Opening a profile needs a PIN that was not given (field `pin`).
    #[error("{0}")]
    PinRequired(String),
    /// The PIN given is wrong (field `pin`).
    #[error("{0}")]
    WrongPin(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// A unique value is taken or the state does not allow it.
    #[error("{message}")]
    Conflict {
        /// The field at fault.
        field: Option<String>,
        /// What conflicts.
        message: String,
    },
    /// The body is larger than allowed.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// One field of the body (an uploaded file) is larger than allowed.
    #[error("{field} is larger than {limit} bytes")]
    FieldTooLarge {
        /// The field.
        field: String,
        /// The limit.
        limit: usize,
    },
    /// The request target (path and query) is longer than allowed.
    #[error("the URL is longer than {limit} bytes")]
    UriTooLong {
        /// The limit.
        limit: usize,
    },
    /// Too many header fields, or too many bytes of them.
    #[error("request headers are too large (at most {max_count} fields and {max_bytes} bytes)")]
    HeadersTooLarge {
        /// Most fields.
        max_count: usize,
        /// Most bytes, names and values together.
        max_bytes: usize,
    },
    /// The body is not JSON.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// Too many attempts.
    #[error("too many attempts; retry in {retry_after_s} s")]
    TooManyRequests {
        /// Seconds until a retry may succeed.
        retry_after_s: u64,
    },
    /// Too many live event streams open for this account or address.
    #[error("too many live streams open (at most {limit}); close one first")]
    TooManyStreams {
        /// The cap that was reached.
        limit: usize,
    },
    /// A dependency (the database) is down.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// `ffmpeg` failed while making a stream (#23); the message says how.
    #[error("{0}")]
    Transcoder(String),
    /// The database has no room left (disk full or its size cap); nothing was written.
    #[error("storage is full, nothing was saved: {0}")]
    InsufficientStorage(String),
    /// A bug or an unexpected failure; details are logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// A 400 naming a field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::BadRequest {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// The HTTP status: the one place errors map to HTTP.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_)
            | AppError::Reauthenticate { .. }
            | AppError::PinRequired(_)
            | AppError::WrongPin(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PayloadTooLarge { .. } | AppError::FieldTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            AppError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            AppError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } | AppError::TooManyStreams { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Transcoder(_) => StatusCode::BAD_GATEWAY,
            AppError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest { .. } => "invalid_input",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::Reauthenticate { .. } => "wrong_password",
            AppError::PinRequired(_) => "pin_required",
            AppError::WrongPin(_) => "wrong_pin",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict { .. } => "conflict",
            AppError::PayloadTooLarge { .. } | AppError::FieldTooLarge { .. } => {
                "payload_too_large"
            }
            AppError::UriTooLong { .. } => "uri_too_long",
            AppError::HeadersTooLarge { .. } => "headers_too_large",
            AppError::UnsupportedMediaType => "unsupported_media_type",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::TooManyStreams { .. } => "too_many_streams",
            AppError::Unavailable(_) => "unavailable",
            AppError::Transcoder(_) => "transcoder_failed",
            AppError::InsufficientStorage(_) => "storage_full",
            AppError::Internal(_) => "internal",
        }
    }

    /// The field at fault, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::BadRequest { field, .. } | AppError::Conflict { field, .. } => {
                field.as_deref()
            }
            AppError::Reauthenticate { field, .. } | AppError::FieldTooLarge { field, .. } => {
                Some(field)
            }
            AppError::PinRequired(_) | AppError::WrongPin(_) => Some("pin"),
            _ => None,
        }
    }

    fn log(&self) {
        match self {
            AppError::Internal(detail) => tracing::error!(%detail, "internal error"),
            AppError::Unavailable(detail) => tracing::warn!(%detail, "dependency unavailable"),
            AppError::Transcoder(detail) => tracing::warn!(%detail, "transcoder failed"),
            AppError::InsufficientStorage(detail) => tracing::error!(%detail, "storage full"),
            _ => {}
        }
    }

    fn extra_headers(&self, resp: &mut Response) {
        if let AppError::TooManyRequests { retry_after_s } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { field } => AppError::Conflict {
                field: Some(field.to_string()),
                message: format!("{field} is already taken"),
            },
            StoreError::Limit { field, message } => AppError::Conflict {
                field: Some(field.to_string()),
                message,
            },
            StoreError::Invalid { field, message } => AppError::invalid(field, message),
            StoreError::NotFound { what } => AppError::NotFound(format!("{what} not found")),
            StoreError::RateLimited { retry_after_s } => {
                AppError::TooManyRequests { retry_after_s }
            }
            StoreError::Unavailable(m) => AppError::Unavailable(m),
            StoreError::Full(m) => AppError::InsufficientStorage(m),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, message } => AppError::invalid(field, message),
            DomainError::Limit { field, message } => AppError::Conflict {
                field: Some(field.to_string()),
                message,
            },
        }
    }
}

/// The JSON error body: `{"error": {"code", "message", "field"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Details of an API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `invalid_input`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
}

/// An [`AppError`] rendered as JSON.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let body = ErrorBody {
            error: ErrorDetail {
                code: e.code().to_string(),
                message: e.to_string(),
                field: e.field().map(str::to_string),
            },
        };
        let mut resp = (e.status(), Json(body)).into_response();
        e.extra_headers(&mut resp);
        resp
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: String,
}

/// An [`AppError`] rendered as an HTML page. Anonymous visitors to pages that
/// need a log-in are redirected to it instead.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let status = e.status();
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            message: e.to_string(),
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{} {}", status.as_u16(), e));
        let mut resp = (status, Html(body)).into_response();
        e.extra_headers(&mut resp);
        resp
    }
}

/// Longest request target (path and query) answered; longer gets a 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header fields in a request; more gets a 431.
pub const MAX_HEADER_COUNT: usize = 100;
/// Most header bytes (names and values) in a request; more gets a 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses request heads past [`MAX_URI_BYTES`], [`MAX_HEADER_COUNT`] or
/// [`MAX_HEADER_BYTES`] in the error shape of where they were sent: JSON
/// under `/api`, a page elsewhere. The HTTP parser's own limits sit well
/// above these (see [`crate::conn`]), so that ordinary oversize requests
/// are answered here, with a body that says what was too large.
pub async fn head_limits(req: Request, next: axum::middleware::Next) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    let headers = req.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.as_bytes().len())
        .sum();
    let err = if uri_len > MAX_URI_BYTES {
        Some(AppError::UriTooLong {
            limit: MAX_URI_BYTES,
        })
    } else if headers.len() > MAX_HEADER_COUNT || header_bytes > MAX_HEADER_BYTES {
        Some(AppError::HeadersTooLarge {
            max_count: MAX_HEADER_COUNT,
            max_bytes: MAX_HEADER_BYTES,
        })
    } else {
        None
    };
    match err {
        Some(e) if req.uri().path().starts_with("/api/") => ApiError(e).into_response(),
        Some(e) => PageError(e).into_response(),
        None => next.run(req).await,
    }
}

/// Whether a request says its body is JSON.
fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false)
}

/// JSON body extractor whose every rejection is an [`ApiError`] naming the field.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(AppError::UnsupportedMediaType.into());
        }
        let limit = BodyLimit::of(req.extensions());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError(body_rejection(r, limit, "body")))?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON body: `None` for an empty one (whatever its content
/// type), else as [`ApiJson`] (415 unless JSON, 400 naming the bad field).
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = is_json(&req);
        let limit = BodyLimit::of(req.extensions());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError(body_rejection(r, limit, "body")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        if !is_json {
            return Err(AppError::UnsupportedMediaType.into());
        }
        parse_json(&bytes).map(|v| OptionalJson(Some(v)))
    }
}

/// Parses JSON, naming the path of the first bad field (the JSON API's form).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    decode_json(bytes).map_err(ApiError)
}

/// Parses JSON, naming the path of the first bad field in a 400.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        // A missing or unknown field is named in the message, not the path.
        let field = if path == "." || path.is_empty() {
            named_field(&message).unwrap_or_else(|| "body".into())
        } else {
            path
        };
        AppError::BadRequest {
            field: Some(field),
            message: format!("invalid JSON body: {message}"),
        }
    })
}

fn named_field(message: &str) -> Option<String> {
    let start = message.find('`')?;
    let rest = &message[start + 1..];
    let end = rest.find('`')?;
    Some(rest[..end].to_string())
}

/// The request body limit in force (`server.max_body_bytes`), put into
/// every request's extensions by the router so that a 413 can say it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl BodyLimit {
    /// The limit recorded on a request (0 when the router set none).
    pub fn of(extensions: &axum::http::Extensions) -> usize {
        extensions.get::<BodyLimit>().map_or(0, |b| b.0)
    }
}

/// Maps a body rejection: too large → 413 naming the limit, else 400
/// naming `field`.
pub fn body_rejection(r: BytesRejection, limit: usize, field: &'static str) -> AppError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge { limit }
    } else {
        AppError::invalid(field, r.body_text())
    }
}

/// Query extractor whose rejection names the bad parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match query_de(&parts.uri) {
            Ok(v) => Ok(ApiQuery(v)),
            Err((field, message)) => Err(ApiError(AppError::BadRequest {
                field: Some(field),
                message: format!("invalid query string: {message}"),
            })),
        }
    }
}

fn query_de<T: DeserializeOwned>(uri: &axum::http::Uri) -> Result<T, (String, String)> {
    let res: Result<axum::extract::Query<T>, QueryRejection> =
        axum::extract::Query::try_from_uri(uri);
    match res {
        Ok(axum::extract::Query(v)) => Ok(v),
        Err(r) => {
            let text = r.body_text();
            let field = text
                .split_once(": ")
                .map(|(_, rest)| rest)
                .and_then(|rest| rest.split_once(':').map(|(f, _)| f.trim().to_string()))
                .filter(|f| !f.contains(' '))
                .or_else(|| named_field(&text))
                .unwrap_or_else(|| "query".into());
            Err((field, text))
        }
    }
}

/// Path extractor whose rejection is a 400 (or 404 for a missing segment) in JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let text = e.body_text();
                // A lone parameter fails without its key: name it from the route.
                let lone_key = axum::extract::RawPathParams::from_request_parts(parts, state)
                    .await
                    .ok()
                    .and_then(|raw| {
                        let keys: Vec<String> = raw.iter().map(|(k, _)| k.to_string()).collect();
                        (keys.len() == 1).then(|| keys[0].clone())
                    });
                let field = match e.into_kind() {
                    axum::extract::path::ErrorKind::ParseErrorAtKey { key, .. }
                    | axum::extract::path::ErrorKind::InvalidUtf8InPathParam { key } => key,
                    _ => lone_key.unwrap_or_else(|| "path".to_string()),
                };
                Err(ApiError(AppError::BadRequest {
                    field: Some(field),
                    message: text,
                }))
            }
            Err(other) => Err(ApiError(AppError::invalid("path", other.body_text()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        n: u32,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Body>(br#"{"email": "a", "n": -1}"#).unwrap_err();
        assert_eq!(e.0.field(), Some("n"));
        let e = parse_json::<Body>(br#"{"n": 1}"#).unwrap_err();
        assert_eq!(e.0.field(), Some("email"));
        let e = parse_json::<Body>(br#"{"email": "a", "n": 1, "x": 2}"#).unwrap_err();
        assert_eq!(e.0.field(), Some("x"));
        let e = parse_json::<Body>(b"{not json").unwrap_err();
        assert_eq!(e.0.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn store_errors_map_to_status() {
        let e: AppError = StoreError::Conflict { field: "email" }.into();
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert_eq!(e.field(), Some("email"));
        let e: AppError = StoreError::Unavailable("down".into()).into();
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        let e: AppError = StoreError::Full("database or disk is full".into()).into();
        assert_eq!(e.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(e.code(), "storage_full");
    }
}
