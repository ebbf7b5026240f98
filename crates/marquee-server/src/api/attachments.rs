//! Support attachments API: a message with a file (multipart) in a
//! conversation, and the download of a file. The rules are in
//! `support::attachments`.

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiPath, AppError, ErrorBody};
use crate::support::attachments::{self, AttachmentView};
use crate::support::{self, MessageView};
use crate::AppState;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// The attachments' part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(upload, download),
    components(schemas(AttachmentUpload, AttachmentSent, AttachmentView)),
    tags((name = "support"))
)]
pub struct Doc;

/// The attachment routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/support/conversations/{id}/attachments",
            // The size limit is `[support] attachment_max_bytes`, enforced
            // while the file streams in (a 413 naming `file`).
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/support/attachments/{id}", get(download))
}

/// A message with a file, as `multipart/form-data`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AttachmentUpload {
    /// The file: a PNG, JPEG, GIF or WebP image or a PDF, recognised by its
    /// content (never its name or Content-Type), at most
    /// `[support] attachment_max_bytes` (default 10 MiB).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Text sent with it (1 to 4000 characters); the file's name otherwise.
    body: Option<String>,
    /// Staff only: an internal note, never shown to the customer.
    internal: Option<bool>,
}

/// The message written, with its attachment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentSent {
    /// The message (its `attachments` hold the file).
    message: MessageView,
    /// The attachment.
    attachment: AttachmentView,
}

/// Sends a message with a file to a conversation: its customer, or staff.
/// The type is read from the bytes: anything but PNG, JPEG, GIF, WebP or PDF
/// (HTML and SVG included, whatever the name) is a 400 on `file`, as is an
/// image that does not decode. Cookie sessions send `X-CSRF-Token`.
#[utoipa::path(post, path = "/api/v1/support/conversations/{id}/attachments", tag = "support",
    params(("id" = i64, Path)),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = AttachmentSent),
        (status = 400, body = ErrorBody, description = "Not an accepted type, not a readable image, or a bad field"),
        (status = 409, body = ErrorBody, description = "The conversation holds the most attachments allowed"),
        (status = 413, body = ErrorBody, description = "The file is larger than `[support] attachment_max_bytes`"),
        (status = 429, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<AttachmentSent>), ApiError> {
    let mp = mp.map_err(|e| {
        AppError::invalid(
            "file",
            format!("expected a multipart/form-data body with a file: {e}"),
        )
    })?;
    let up = attachments::read_upload(mp, state.config.support.attachment_max_bytes, None).await?;
    let (w, a) = attachments::send(&state, &user, id, up).await?;
    let staff = w.conversation.account_id != Some(user.account.id);
    let mut message = support::written_view(&w, staff)?;
    message.attachments = vec![a.clone()];
    Ok((
        StatusCode::CREATED,
        Json(AttachmentSent {
            message,
            attachment: a,
        }),
    ))
}

/// An attachment's bytes, for its conversation's customer or staff (404 for
/// anyone else). Images come inline with their sniffed type; PDFs always as
/// a download. Every answer carries `X-Content-Type-Options: nosniff` and
/// `Content-Security-Policy: default-src 'none'; sandbox`.
#[utoipa::path(get, path = "/api/v1/support/attachments/{id}", tag = "support",
    params(("id" = i64, Path)),
    responses(
        (status = 200, description = "The file", content(
            (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"),
            (Vec<u8> = "image/webp"), (Vec<u8> = "application/pdf"))),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    Ok(attachments::download(&state, &user, id).await?)
}
