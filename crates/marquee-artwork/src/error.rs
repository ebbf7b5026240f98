//! The one error type of the crate. Every message is a plain sentence that a
//! staff member uploading a picture can act on.

use std::fmt;

/// What went wrong with a picture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtError {
    /// The file is bigger than [`crate::MAX_INPUT_BYTES`].
    #[error("the file is {}; the most accepted is {}", Mb(*.bytes), Mb(*.max))]
    TooLarge { bytes: usize, max: usize },

    /// The bytes are not a PNG, JPEG, GIF or WebP picture (HTML, SVG, text…).
    #[error("the file is not a picture in a supported format (PNG, JPEG, GIF or WebP)")]
    NotAnImage,

    /// The header announces more than [`crate::MAX_PIXELS`] pixels.
    #[error(
        "the image is {width} × {height} pixels ({}); the most accepted is {}",
        Megapixels(u64::from(*.width) * u64::from(*.height)),
        Megapixels(crate::MAX_PIXELS)
    )]
    TooManyPixels { width: u32, height: u32 },

    /// The picture is truncated or corrupt.
    #[error("the picture is damaged or incomplete and could not be read ({0})")]
    Unreadable(String),

    /// Encoding the resized picture failed (should not happen with valid input).
    #[error("the resized picture could not be saved as JPEG ({0})")]
    Encode(String),

    /// A poster was asked for at a size that cannot be drawn.
    #[error(
        "a picture of {width} × {height} pixels cannot be drawn; each side must be between {} and {} pixels",
        crate::poster::MIN_SIDE,
        crate::poster::MAX_SIDE
    )]
    BadSize { width: u32, height: u32 },

    /// The bundled font could not be loaded (a build problem, not a user one).
    #[error("the bundled poster font could not be loaded")]
    Font,
}

/// Bytes as "23.4 MB" (decimal megabytes, as people read file sizes).
struct Mb(usize);

impl fmt::Display for Mb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mb = self.0 as f64 / 1_000_000.0;
        write!(f, "{} MB", one_decimal(mb))
    }
}

/// Pixels as "108 megapixels" / "50.1 megapixels" (rounded up to a tenth, so
/// an image just over the limit never reads as exactly the limit).
struct Megapixels(u64);

impl fmt::Display for Megapixels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = self.0.div_ceil(100_000);
        match tenths % 10 {
            0 => write!(f, "{} megapixels", tenths / 10),
            tenth => write!(f, "{}.{tenth} megapixels", tenths / 10),
        }
    }
}

fn one_decimal(v: f64) -> String {
    let s = format!("{v:.1}");
    match s.strip_suffix(".0") {
        Some(whole) => whole.to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_sentences() {
        let e = ArtError::TooManyPixels {
            width: 12000,
            height: 9000,
        };
        assert_eq!(
            e.to_string(),
            "the image is 12000 × 9000 pixels (108 megapixels); the most accepted is 50 megapixels"
        );
        let e = ArtError::TooManyPixels {
            width: 10000,
            height: 5001,
        };
        assert!(e.to_string().contains("(50.1 megapixels)"), "{e}");
        let e = ArtError::TooLarge {
            bytes: 23_400_000,
            max: 20_000_000,
        };
        assert_eq!(
            e.to_string(),
            "the file is 23.4 MB; the most accepted is 20 MB"
        );
    }
}
