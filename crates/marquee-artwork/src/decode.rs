//! Decoding untrusted bytes with limits: size, format by magic number, and
//! pixel count read from the header before any pixel buffer is allocated.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use crate::ArtError;

/// The most bytes [`decode`] accepts (20 MB).
pub const MAX_INPUT_BYTES: usize = 20_000_000;

/// The most pixels (width × height) [`decode`] accepts (50 megapixels).
pub const MAX_PIXELS: u64 = 50_000_000;

/// Ceiling for the decoder's own allocations: a 50 MP picture as 16-bit RGBA
/// is 400 MB, the largest buffer a legitimate picture can need.
const MAX_ALLOC: u64 = MAX_PIXELS * 8;

/// The format the first bytes announce, if it is one we accept.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(ImageFormat::Gif)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

/// The picture's width and height as its header states them, without
/// decoding any pixels. Applies the same byte-size and format checks as
/// [`decode`] but not the pixel limit.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), ArtError> {
    let format = check_bytes(bytes)?;
    if format == ImageFormat::Png {
        // IHDR is always the first chunk, at a fixed place: read it directly,
        // since the PNG decoder reads on to the first image data before it
        // reports dimensions.
        if let Some(dims) = png_ihdr(bytes) {
            return Ok(dims);
        }
    }
    ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| ArtError::Unreadable(e.to_string()))
}

/// Decode an uploaded or imported picture.
///
/// Refuses, in this order: more than [`MAX_INPUT_BYTES`] of input
/// ([`ArtError::TooLarge`]); bytes that are not PNG, JPEG, GIF or WebP by
/// their magic number ([`ArtError::NotAnImage`]); a header announcing more
/// than [`MAX_PIXELS`] ([`ArtError::TooManyPixels`], checked before any pixel
/// buffer exists, so a decompression bomb never allocates); and truncated or
/// corrupt data ([`ArtError::Unreadable`]). An animated GIF or WebP yields its
/// first frame.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, ArtError> {
    let format = check_bytes(bytes)?;
    let (width, height) = dimensions(bytes)?;
    if width == 0 || height == 0 {
        return Err(ArtError::Unreadable(format!(
            "the header says {width} × {height} pixels"
        )));
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ArtError::TooManyPixels { width, height });
    }
    if format == ImageFormat::Jpeg && !jpeg_has_end(bytes) {
        // The JPEG decoder fills a cut-off scan with grey instead of failing;
        // a picture half grey is not one to publish.
        return Err(ArtError::Unreadable(
            "the JPEG data stops before its end marker".to_string(),
        ));
    }

    let mut limits = Limits::default();
    // The decoder must not produce anything larger than its header said.
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(MAX_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => ArtError::TooManyPixels { width, height },
        other => ArtError::Unreadable(other.to_string()),
    })?;
    Ok(img)
}

fn check_bytes(bytes: &[u8]) -> Result<ImageFormat, ArtError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(ArtError::TooLarge {
            bytes: bytes.len(),
            max: MAX_INPUT_BYTES,
        });
    }
    sniff(bytes).ok_or(ArtError::NotAnImage)
}

/// Width and height from a PNG's IHDR chunk, if the first chunk is one.
fn png_ihdr(bytes: &[u8]) -> Option<(u32, u32)> {
    let chunk = bytes.get(8..24)?;
    if chunk[0..4] != 13u32.to_be_bytes() || &chunk[4..8] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes([chunk[8], chunk[9], chunk[10], chunk[11]]);
    let height = u32::from_be_bytes([chunk[12], chunk[13], chunk[14], chunk[15]]);
    Some((width, height))
}

/// Whether a JPEG's marker structure runs on to its end marker (EOI),
/// walking segments and entropy-coded data from the start. Data after EOI
/// (a phone's appended motion-photo video, trailers) is ignored; stray
/// bytes between segments are skipped the way libjpeg does.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let mut i = 2; // past SOI
    loop {
        // Expect a marker; resynchronise on the next 0xFF if not.
        match bytes
            .get(i..)
            .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
        {
            Some(skip) => i += skip,
            None => return false,
        }
        while bytes.get(i) == Some(&0xFF) {
            i += 1; // fill bytes
        }
        let Some(&marker) = bytes.get(i) else {
            return false;
        };
        i += 1;
        match marker {
            0xD9 => return true,
            0x01 | 0xD0..=0xD7 => continue, // no length
            _ => {}
        }
        let Some(len) = bytes.get(i..i + 2) else {
            return false;
        };
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if len < 2 {
            return false;
        }
        i += len;
        if marker == 0xDA {
            // Start of scan: entropy-coded data until a marker other than
            // a stuffed zero or a restart marker.
            loop {
                match bytes
                    .get(i..)
                    .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
                {
                    Some(skip) => i += skip,
                    None => return false,
                }
                match bytes.get(i + 1) {
                    None => return false,
                    Some(0x00 | 0xD0..=0xD7) => i += 2,
                    Some(_) => break,
                }
            }
        }
    }
}
