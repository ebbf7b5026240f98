//! Support attachments: what an upload is, decided by its bytes (magic
//! numbers), never by its name or the client's `Content-Type`; the file name
//! kept for display; the per-conversation count limit.
//!
//! Only PNG, JPEG, GIF, WebP and PDF are accepted. HTML, SVG (text that a
//! browser would run) and everything else are refused, whatever they are
//! called. The server also decodes images to prove they are what their magic
//! number says (a PNG header followed by garbage is refused there).

use crate::DomainError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The kinds of file support accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentKind {
    /// `image/png`.
    Png,
    /// `image/jpeg`.
    Jpeg,
    /// `image/gif`.
    Gif,
    /// `image/webp`.
    Webp,
    /// `application/pdf`: always served as a download, never inline.
    Pdf,
}

impl AttachmentKind {
    /// Every kind.
    pub const ALL: [AttachmentKind; 5] = [
        AttachmentKind::Png,
        AttachmentKind::Jpeg,
        AttachmentKind::Gif,
        AttachmentKind::Webp,
        AttachmentKind::Pdf,
    ];

    /// The media type it is stored and served as.
    pub fn mime(self) -> &'static str {
        match self {
            AttachmentKind::Png => "image/png",
            AttachmentKind::Jpeg => "image/jpeg",
            AttachmentKind::Gif => "image/gif",
            AttachmentKind::Webp => "image/webp",
            AttachmentKind::Pdf => "application/pdf",
        }
    }

    /// The kind of a stored media type.
    pub fn from_mime(mime: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.mime() == mime)
    }

    /// The file name extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            AttachmentKind::Png => "png",
            AttachmentKind::Jpeg => "jpg",
            AttachmentKind::Gif => "gif",
            AttachmentKind::Webp => "webp",
            AttachmentKind::Pdf => "pdf",
        }
    }

    /// An image (shown inline); a PDF is not.
    pub fn is_image(self) -> bool {
        self != AttachmentKind::Pdf
    }
}

/// The kind of a file from its first bytes, or `None` when it is none of the
/// accepted kinds (HTML, SVG, scripts, archives, empty files…).
pub fn sniff(bytes: &[u8]) -> Option<AttachmentKind> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(PNG) {
        Some(AttachmentKind::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(AttachmentKind::Jpeg)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(AttachmentKind::Gif)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(AttachmentKind::Webp)
    } else if bytes.starts_with(b"%PDF-") {
        Some(AttachmentKind::Pdf)
    } else {
        None
    }
}

/// [`sniff`], as a refusal naming `field` for anything not accepted.
pub fn accept(field: &'static str, bytes: &[u8]) -> Result<AttachmentKind, DomainError> {
    if bytes.is_empty() {
        return Err(DomainError::invalid(field, "the file is empty"));
    }
    sniff(bytes).ok_or_else(|| {
        DomainError::invalid(
            field,
            "only PNG, JPEG, GIF and WebP images and PDF documents can be attached \
             (the type is read from the file's content, not its name)",
        )
    })
}

/// Longest kept file name, in characters.
pub const MAX_FILE_NAME: usize = 100;

/// The name an attachment is shown and downloaded under: the last path
/// component of what the client sent, with letters, digits, spaces and
/// `.-_()` kept and anything else (controls, direction marks, quotes,
/// slashes, semicolons) replaced by `_`, at most [`MAX_FILE_NAME`]
/// characters, and always ending in the extension of the sniffed kind (so
/// `invoice.html` that is really a PDF is `invoice.pdf`). Never empty.
pub fn display_name(raw: &str, kind: AttachmentKind) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out = String::new();
    let mut last_sub = false;
    for c in last.chars() {
        let keep = c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_' | '(' | ')');
        if keep {
            out.push(c);
            last_sub = false;
        } else if !last_sub {
            out.push('_');
            last_sub = true;
        }
    }
    let ext = kind.extension();
    // The stem: up to the last dot, without leading or trailing dots and spaces.
    let stem = match out.rfind('.') {
        Some(i) if i > 0 => &out[..i],
        _ => out.as_str(),
    };
    let stem = stem.trim_matches(|c: char| c == '.' || c == ' ' || c == '_');
    let stem: String = stem.chars().take(MAX_FILE_NAME - ext.len() - 1).collect();
    let stem = stem.trim_end_matches([' ', '.']);
    if stem.is_empty() {
        format!("attachment.{ext}")
    } else {
        format!("{stem}.{ext}")
    }
}

/// Refuses another attachment when a conversation already holds `existing`
/// of at most `max`.
pub fn check_count(existing: u64, max: u32) -> Result<(), DomainError> {
    if existing >= u64::from(max) {
        return Err(DomainError::Limit {
            field: "file",
            message: format!("a conversation holds at most {max} attachments"),
        });
    }
    Ok(())
}

/// A size for people: `512 B`, `12.3 KB`, `4.5 MB`.
pub fn human_size(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content_only() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(AttachmentKind::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(AttachmentKind::Jpeg));
        assert_eq!(sniff(b"GIF89a...."), Some(AttachmentKind::Gif));
        assert_eq!(sniff(b"GIF87a...."), Some(AttachmentKind::Gif));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(AttachmentKind::Webp));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(AttachmentKind::Pdf));
        // Text that browsers would run, whatever the name says.
        assert_eq!(sniff(b"<!doctype html><script>alert(1)</script>"), None);
        assert_eq!(sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), None);
        assert_eq!(sniff(b"<?xml version='1.0'?><svg/>"), None);
        // Near misses.
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b"\x89PNG"), None);
        assert_eq!(sniff(b" %PDF-1.7"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn refusals_name_the_field() {
        let e = accept("file", b"<html>").unwrap_err();
        assert!(
            matches!(e, DomainError::Invalid { field: "file", .. }),
            "{e}"
        );
        let e = accept("file", b"").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        assert_eq!(accept("file", b"%PDF-1.4").unwrap(), AttachmentKind::Pdf);
    }

    #[test]
    fn mime_round_trip() {
        for k in AttachmentKind::ALL {
            assert_eq!(AttachmentKind::from_mime(k.mime()), Some(k));
        }
        assert_eq!(AttachmentKind::from_mime("image/svg+xml"), None);
        assert!(!AttachmentKind::Pdf.is_image());
        assert!(AttachmentKind::Webp.is_image());
    }

    #[test]
    fn display_names_are_safe_and_end_in_the_real_extension() {
        let png = AttachmentKind::Png;
        assert_eq!(display_name("screenshot.png", png), "screenshot.png");
        assert_eq!(display_name("C:\\Users\\me\\shot 1.PNG", png), "shot 1.png");
        assert_eq!(display_name("../../etc/passwd", png), "passwd.png");
        assert_eq!(display_name("evil.html", png), "evil.png");
        assert_eq!(
            display_name("a\"; filename=x.html\r\n.png", png),
            "a_ filename_x.html.png"
        );
        assert_eq!(display_name("", AttachmentKind::Pdf), "attachment.pdf");
        assert_eq!(display_name("...", AttachmentKind::Pdf), "attachment.pdf");
        assert_eq!(display_name(".htaccess", png), "htaccess.png");
        assert_eq!(display_name("r\u{202e}gnp.exe", png), "r_gnp.png");
        assert_eq!(
            display_name("résumé.pdf", AttachmentKind::Pdf),
            "résumé.pdf"
        );
        let long = "x".repeat(500);
        let n = display_name(&long, AttachmentKind::Jpeg);
        assert_eq!(n.chars().count(), MAX_FILE_NAME);
        assert!(n.ends_with(".jpg"));
    }

    #[test]
    fn count_limit() {
        assert!(check_count(0, 1).is_ok());
        assert!(check_count(19, 20).is_ok());
        let e = check_count(20, 20).unwrap_err();
        assert!(matches!(e, DomainError::Limit { field: "file", .. }));
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(2048), "2.0 KB");
        assert_eq!(human_size(10 * 1024 * 1024), "10.0 MB");
    }
}
