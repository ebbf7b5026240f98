//! Support attachments: images (PNG, JPEG, GIF, WebP) and PDFs sent with a
//! chat message by the customer or an agent.
//!
//! - The type is read from the bytes (`marquee_domain::attachments::sniff`),
//!   never from the file name or the client's `Content-Type`; images are
//!   decoded (under pixel and memory limits) to prove they are images and to
//!   learn their size. Anything else, HTML and SVG included, is a 400 on
//!   `file`; a file over `[support] attachment_max_bytes` a 413 on `file`;
//!   one past `[support] attachments_per_conversation` a 409 on `file`.
//! - The bytes go to `{data_dir}/attachments/{random id}`; the row (and the
//!   message it comes with) is written in one store transaction, and the file
//!   is removed again if that fails. Deleting an account removes its
//!   conversations' files after the rows are gone (`delete_account_files`).
//! - Downloads are authorised like the conversation (its customer, or staff;
//!   anyone else gets 404), carry `nosniff` and a `default-src 'none';
//!   sandbox` policy, and only images are ever inline: a PDF is always a
//!   download.
//! - The message's live event carries the attachment, so the other side
//!   sees it at once.

use super::{message_view, publish, publish_conversation, MessageView};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::AppState;
use axum::extract::multipart::{Field, Multipart};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use marquee_domain::attachments::{self as rules, AttachmentKind};
use marquee_domain::support as chat;
use marquee_store::attachments::{Attachment, AttachmentSender, NewAttachment};
use marquee_store::support::{Message, SupportWrite};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use utoipa::ToSchema;

/// Default `[support] attachment_max_bytes`: 10 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Default `[support] attachments_per_conversation`.
pub const DEFAULT_PER_CONVERSATION: u32 = 20;
/// Largest image side decoded, in pixels.
const MAX_SIDE: u32 = 12_000;
/// Most memory one image decode may take.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// Most bytes of a multipart text field (`body`, `internal`, `csrf`).
const MAX_TEXT_FIELD: usize = 32 * 1024;

/// An attachment as its readers see it (in a message, in a live event).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttachmentView {
    /// Id.
    pub id: i64,
    /// The message it came with.
    pub message_id: i64,
    /// The sanitised original name.
    pub file_name: String,
    /// The media type, read from the content.
    pub mime: String,
    /// An image (shown inline); otherwise a PDF, always downloaded.
    pub image: bool,
    /// Bytes.
    pub size_bytes: i64,
    /// "12.3 KB".
    pub size: String,
    /// Pixels (images).
    pub width: Option<i64>,
    /// Pixels (images).
    pub height: Option<i64>,
    /// Where to fetch it (authorised like the conversation).
    pub url: String,
}

/// The view of an attachment.
pub fn view(a: &Attachment) -> AttachmentView {
    AttachmentView {
        id: a.id,
        message_id: a.message_id,
        file_name: a.file_name.clone(),
        mime: a.mime.clone(),
        image: AttachmentKind::from_mime(&a.mime).is_some_and(AttachmentKind::is_image),
        size_bytes: a.size_bytes,
        size: rules::human_size(a.size_bytes),
        width: a.width,
        height: a.height,
        url: format!("/api/v1/support/attachments/{}", a.id),
    }
}

/// Messages with their attachments, as `staff` or the customer sees them.
pub async fn message_views(
    state: &AppState,
    conversation_id: i64,
    msgs: &[Message],
    staff: bool,
) -> Result<Vec<MessageView>, AppError> {
    let mut by_message = by_message(state, conversation_id, staff).await?;
    Ok(msgs
        .iter()
        .map(|m| {
            let mut v = message_view(m, staff);
            v.attachments = by_message.remove(&m.id).unwrap_or_default();
            v
        })
        .collect())
}

/// A conversation's attachments keyed by message id.
pub async fn by_message(
    state: &AppState,
    conversation_id: i64,
    staff: bool,
) -> Result<HashMap<i64, Vec<AttachmentView>>, AppError> {
    let mut out: HashMap<i64, Vec<AttachmentView>> = HashMap::new();
    for a in state
        .store
        .conversation_attachments(conversation_id, staff)
        .await?
    {
        out.entry(a.message_id).or_default().push(view(&a));
    }
    Ok(out)
}

/// An upload as read from a multipart body.
#[derive(Debug, Default)]
pub struct Upload {
    /// The client's file name (display only, sanitised).
    pub file_name: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Optional text sent with it.
    pub body: Option<String>,
    /// Staff: an internal note.
    pub internal: bool,
    /// The `csrf` field, if the form sent one.
    pub csrf: Option<String>,
}

fn bad_multipart(e: impl std::fmt::Display) -> AppError {
    AppError::invalid("file", format!("could not read the multipart body: {e}"))
}

async fn text_field(name: &'static str, mut f: Field<'_>) -> Result<String, AppError> {
    let mut buf = Vec::new();
    while let Some(chunk) = f.chunk().await.map_err(bad_multipart)? {
        if buf.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(AppError::invalid(
                name,
                format!("at most {MAX_TEXT_FIELD} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| AppError::invalid(name, "is not UTF-8 text"))
}

/// Reads a multipart upload: `file` (required, at most `max_bytes`), `body`
/// (optional text), `internal` (`true`/`on`/`1`), `csrf`. With
/// `csrf_first`, the form's `csrf` field must come first and match before
/// anything else is read (a page form); anything else is a 403.
pub async fn read_upload(
    mut mp: Multipart,
    max_bytes: u64,
    csrf_first: Option<&str>,
) -> Result<Upload, AppError> {
    let mut up = Upload::default();
    let mut have_file = false;
    let forbidden = || {
        AppError::Forbidden(
            "the form expired or came from another site (CSRF check failed); reload the page and try again"
                .into(),
        )
    };
    let mut first = true;
    loop {
        let next = mp.next_field().await;
        let f = match next {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) if csrf_first.is_some() && first => return Err(forbidden()),
            Err(e) => return Err(bad_multipart(e)),
        };
        let name = f.name().unwrap_or("").to_string();
        if let Some(expected) = csrf_first {
            if first {
                first = false;
                if name != "csrf" {
                    return Err(forbidden());
                }
                let sent = text_field("csrf", f).await.map_err(|_| forbidden())?;
                if expected.is_empty() || !crate::auth::same(&sent, expected) {
                    return Err(forbidden());
                }
                up.csrf = Some(sent);
                continue;
            }
        }
        first = false;
        match name.as_str() {
            "file" => {
                if have_file {
                    return Err(AppError::invalid("file", "one file per message"));
                }
                have_file = true;
                up.file_name = f.file_name().unwrap_or("").to_string();
                let mut f = f;
                while let Some(chunk) = f.chunk().await.map_err(bad_multipart)? {
                    if (up.bytes.len() + chunk.len()) as u64 > max_bytes {
                        return Err(AppError::FieldTooLarge {
                            field: "file".into(),
                            limit: usize::try_from(max_bytes).unwrap_or(usize::MAX),
                        });
                    }
                    up.bytes.extend_from_slice(&chunk);
                }
            }
            "body" => {
                let t = text_field("body", f).await?;
                up.body = (!t.trim().is_empty()).then_some(t);
            }
            "internal" => {
                let t = text_field("internal", f).await?;
                up.internal = match t.trim() {
                    "true" | "on" | "1" => true,
                    "false" | "off" | "0" | "" => false,
                    _ => return Err(AppError::invalid("internal", "expected true or false")),
                };
            }
            "csrf" => up.csrf = Some(text_field("csrf", f).await?),
            other => {
                return Err(AppError::invalid(
                    "file",
                    format!(
                        "unknown field {:?}",
                        other.chars().take(40).collect::<String>()
                    ),
                ))
            }
        }
    }
    if !have_file {
        return Err(AppError::invalid("file", "is required"));
    }
    Ok(up)
}

/// What the bytes are: the sniffed kind, and an image's size in pixels
/// after decoding it whole (so a valid header followed by garbage is refused).
pub fn inspect(bytes: &[u8]) -> Result<(AttachmentKind, Option<(u32, u32)>), AppError> {
    let kind = rules::accept("file", bytes)?;
    let format = match kind {
        AttachmentKind::Png => image::ImageFormat::Png,
        AttachmentKind::Jpeg => image::ImageFormat::Jpeg,
        AttachmentKind::Gif => image::ImageFormat::Gif,
        AttachmentKind::Webp => image::ImageFormat::WebP,
        AttachmentKind::Pdf => {
            // Nothing renders a PDF here; it is only ever downloaded.
            return Ok((kind, None));
        }
    };
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| {
        AppError::invalid(
            "file",
            format!(
                "the file starts like {} but is not a readable image: {e}",
                kind.mime()
            ),
        )
    })?;
    Ok((kind, Some((img.width(), img.height()))))
}

/// The folder attachments are stored in.
pub fn dir(state: &AppState) -> PathBuf {
    state.config.data_dir.join("attachments")
}

/// A random file name: 128 bits, hex.
fn storage_key() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Only names this module made are opened.
fn is_key(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

fn io_error(e: std::io::Error) -> AppError {
    if e.kind() == std::io::ErrorKind::StorageFull {
        AppError::InsufficientStorage(format!("attachments: {e}"))
    } else {
        AppError::Internal(format!("attachments: {e}"))
    }
}

/// Sends a message with an attachment to conversation `id`: the customer
/// who owns it, or staff (`internal` for a note). The text is optional; the
/// file's name stands in for it.
pub async fn send(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    up: Upload,
) -> Result<(SupportWrite, AttachmentView), AppError> {
    let c = super::readable(state, user, id).await?;
    let staff_side = c.account_id != Some(user.account.id);
    if up.internal && !staff_side {
        return Err(AppError::invalid(
            "internal",
            "only staff write internal notes",
        ));
    }
    let cfg = &state.config.support;
    let now = state.clock.now_ms();
    if !staff_side
        && !state
            .support
            .allow_message(user.account.id, now, cfg.messages_per_minute)
    {
        return Err(AppError::TooManyRequests { retry_after_s: 60 });
    }
    let bytes = up.bytes;
    let (bytes, (kind, dims)) = tokio::task::spawn_blocking(move || {
        let r = inspect(&bytes);
        (bytes, r)
    })
    .await
    .map_err(|e| AppError::Internal(format!("image check: {e}")))
    .and_then(|(b, r)| r.map(|k| (b, k)))?;
    let file_name = rules::display_name(&up.file_name, kind);
    let body = match up.body {
        Some(t) => chat::message_body(&t)?,
        None => file_name.clone(),
    };
    let key = storage_key();
    let folder = dir(state);
    tokio::fs::create_dir_all(&folder).await.map_err(io_error)?;
    let path = folder.join(&key);
    let part = folder.join(format!("{key}.part"));
    let new = NewAttachment {
        storage_key: key,
        file_name,
        mime: kind.mime().into(),
        size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        sha256: hex::encode(Sha256::digest(&bytes)),
        width: dims.map(|d| i64::from(d.0)),
        height: dims.map(|d| i64::from(d.1)),
    };
    let written = async {
        tokio::fs::write(&part, &bytes).await?;
        tokio::fs::rename(&part, &path).await
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(io_error(e));
    }
    let sender = if staff_side {
        AttachmentSender::Agent {
            agent_id: user.account.id,
            internal: up.internal,
        }
    } else {
        AttachmentSender::Customer {
            account_id: user.account.id,
        }
    };
    let stored = {
        let _w = state.support.writes.lock().await;
        state
            .store
            .add_attachment_message(
                c.id,
                sender,
                &body,
                &new,
                cfg.attachments_per_conversation,
                cfg.default_capacity,
                now,
            )
            .await
    };
    let (w, a) = match stored {
        Ok(x) => x,
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e.into());
        }
    };
    let v = view(&a);
    publish_with_attachment(state, &w, &v).await;
    Ok((w, v))
}

/// Publishes a write whose message carries an attachment (the live event
/// holds the attachment, so the other side shows it at once).
async fn publish_with_attachment(state: &AppState, w: &SupportWrite, a: &AttachmentView) {
    if let Some(m) = &w.message {
        let with = |staff: bool| {
            let mut v = message_view(m, staff);
            v.attachments = vec![a.clone()];
            serde_json::to_string(&v).unwrap_or_else(|_| "{}".into())
        };
        let customer = (!m.internal).then(|| with(false));
        publish(state, &w.conversation, "message", customer, with(true));
    }
    publish_conversation(state, &w.conversation);
    for (conv, _) in &w.assigned {
        if *conv == w.conversation.id {
            continue;
        }
        if let Ok(Some(c)) = state.store.conversation(*conv).await {
            publish_conversation(state, &c);
        }
    }
}

/// An attachment the user may read: in their own conversation (not an
/// internal note), or any for staff. Everyone else gets 404, as if it did
/// not exist.
pub async fn readable(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> Result<Attachment, AppError> {
    let missing = || AppError::NotFound(format!("attachment {id} not found"));
    let a = state.store.attachment(id).await?.ok_or_else(missing)?;
    if user.account.role.is_staff() {
        return Ok(a);
    }
    let c = state
        .store
        .conversation(a.conversation_id)
        .await?
        .ok_or_else(missing)?;
    if c.account_id != Some(user.account.id) || a.internal {
        return Err(missing());
    }
    Ok(a)
}

/// `Content-Disposition` for a download: `inline` only for images, an
/// ASCII `filename` (anything else `_`) and the exact name in `filename*`.
pub fn disposition(a: &Attachment) -> String {
    let image = AttachmentKind::from_mime(&a.mime).is_some_and(AttachmentKind::is_image);
    let ascii: String = a
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in a.file_name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!(
        "{}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}",
        if image { "inline" } else { "attachment" }
    )
}

/// The download response: the stored bytes with safe headers.
pub async fn download(state: &AppState, user: &CurrentUser, id: i64) -> Result<Response, AppError> {
    let a = readable(state, user, id).await?;
    let kind = AttachmentKind::from_mime(&a.mime)
        .ok_or_else(|| AppError::Internal(format!("attachment {id} has type {}", a.mime)))?;
    if !is_key(&a.storage_key) {
        return Err(AppError::Internal(format!(
            "attachment {id}: bad storage key"
        )));
    }
    let bytes = match tokio::fs::read(dir(state).join(&a.storage_key)).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AppError::NotFound(format!(
                "attachment {id}: its file is gone"
            )))
        }
        Err(e) => return Err(io_error(e)),
    };
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind.mime()));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition(&a)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    } else {
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    Ok(resp)
}

/// The files of an account's conversations, read before its deletion.
pub async fn account_files(state: &AppState, account_id: i64) -> Result<Vec<String>, AppError> {
    Ok(state.store.account_attachment_keys(account_id).await?)
}

/// Removes files whose rows are gone (after an account's deletion
/// committed). A file already missing is fine; other failures are logged.
pub async fn remove_files(state: &AppState, keys: &[String]) {
    let folder = dir(state);
    for key in keys.iter().filter(|k| is_key(k)) {
        match tokio::fs::remove_file(folder.join(key)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(%e, key, "could not remove an attachment's file"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attachment(name: &str, mime: &str) -> Attachment {
        Attachment {
            id: 1,
            conversation_id: 1,
            message_id: 1,
            uploader_id: None,
            storage_key: "0".repeat(32),
            file_name: name.into(),
            mime: mime.into(),
            size_bytes: 1,
            sha256: String::new(),
            width: None,
            height: None,
            created_at: 0,
            internal: false,
        }
    }

    #[test]
    fn pdfs_are_never_inline_and_names_are_quoted_safely() {
        let d = disposition(&attachment("résumé 1.pdf", "application/pdf"));
        assert_eq!(
            d,
            "attachment; filename=\"r_sum_ 1.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.pdf"
        );
        let d = disposition(&attachment("shot.png", "image/png"));
        assert!(d.starts_with("inline; "), "{d}");
        assert!(HeaderValue::from_str(&d).is_ok());
    }

    #[test]
    fn only_generated_keys_are_opened() {
        assert!(is_key(&storage_key()));
        assert!(!is_key("../marquee.db"));
        assert!(!is_key(&"g".repeat(32)));
    }

    #[test]
    fn a_png_header_with_garbage_is_refused() {
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.extend_from_slice(&[7u8; 200]);
        let e = inspect(&bytes).unwrap_err();
        assert_eq!(e.field(), Some("file"));
        assert!(inspect(b"<svg/>").is_err());
        assert_eq!(inspect(b"%PDF-1.4 x").unwrap().0, AttachmentKind::Pdf);
    }
}
