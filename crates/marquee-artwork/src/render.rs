//! Renditions: the fixed sizes the pages use, cropped to their aspect ratio,
//! never upscaled, encoded as JPEG with a content hash for caching.

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageBuffer, Rgb, RgbImage};
use sha2::{Digest, Sha256};

use crate::ArtError;

/// JPEG quality of every rendition: at 82 the artefacts are invisible on
/// posters and backdrops while files stay about a third of quality 95.
pub const JPEG_QUALITY: u8 = 82;

/// Background a transparent picture is flattened onto (the site's dark grey).
pub const FLATTEN_BACKGROUND: [u8; 3] = [0x14, 0x14, 0x18];

/// The sizes pages ask for. Each is a box the picture is cropped to fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    /// 342 × 513, a 2:3 poster in lists and rows.
    Card,
    /// 780 × 1170, a 2:3 poster on the title's own page.
    Detail,
    /// 1280 × 720, a 16:9 backdrop behind the title page.
    Backdrop,
    /// 1200 × 630, the og:image size link previews use.
    Share,
    /// 400 × 225, a 16:9 episode still.
    Thumb,
}

impl Size {
    /// Every size, for iterating.
    pub const ALL: [Size; 5] = [
        Size::Card,
        Size::Detail,
        Size::Backdrop,
        Size::Share,
        Size::Thumb,
    ];

    /// The target box, width × height, in pixels.
    pub const fn dimensions(self) -> (u32, u32) {
        match self {
            Size::Card => (342, 513),
            Size::Detail => (780, 1170),
            Size::Backdrop => (1280, 720),
            Size::Share => (1200, 630),
            Size::Thumb => (400, 225),
        }
    }

    /// A short lowercase name for URLs and file names ("card", "share"…).
    pub const fn name(self) -> &'static str {
        match self {
            Size::Card => "card",
            Size::Detail => "detail",
            Size::Backdrop => "backdrop",
            Size::Share => "share",
            Size::Thumb => "thumb",
        }
    }

    /// The size with this [`Size::name`], if any.
    pub fn from_name(name: &str) -> Option<Size> {
        Size::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One encoded rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// The encoded picture.
    pub bytes: Vec<u8>,
    /// Actual width: the size's width, or less when the source was smaller.
    pub width: u32,
    /// Actual height: the size's height, or less when the source was smaller.
    pub height: u32,
    /// First 32 hex characters of the SHA-256 of `bytes`, for ETag headers
    /// and cache-busting file names.
    pub etag: String,
    /// Always `image/jpeg`.
    pub mime: &'static str,
}

/// The sizes to make for a kind of artwork: `"poster"` → Card, Detail,
/// Share; `"backdrop"` → Backdrop, Share; `"thumb"` → Thumb; anything else
/// → none.
pub fn renditions_for(kind: &str) -> &'static [Size] {
    match kind {
        "poster" => &[Size::Card, Size::Detail, Size::Share],
        "backdrop" => &[Size::Backdrop, Size::Share],
        "thumb" => &[Size::Thumb],
        _ => &[],
    }
}

/// Make one rendition of a decoded picture.
///
/// The picture fills the size's box: it is center-cropped to the box's
/// aspect ratio ("cover") and shrunk to the box. It is never enlarged: a
/// source smaller than the box is only cropped, and the rendition keeps the
/// cropped size. When cover-cropping would keep less than half of the
/// picture (a 2:3 poster into the 1.9:1 Share box, a wide still into a
/// poster box), the whole picture is instead set on a blurred, darkened,
/// cover-cropped copy of itself. Transparency is flattened onto
/// [`FLATTEN_BACKGROUND`]. The output is a JPEG at [`JPEG_QUALITY`].
pub fn render(img: &DynamicImage, size: Size) -> Result<Rendition, ArtError> {
    let (tw, th) = size.dimensions();
    let out = render_rgb(img, tw, th)?;
    encode_jpeg(&out)
}

/// [`render`] without the encoding, at any box size: the picture as it
/// would be encoded.
pub fn render_rgb(img: &DynamicImage, width: u32, height: u32) -> Result<RgbImage, ArtError> {
    if img.width() == 0 || img.height() == 0 {
        return Err(ArtError::Unreadable(
            "the picture has no pixels".to_string(),
        ));
    }
    if width == 0 || height == 0 {
        return Err(ArtError::BadSize { width, height });
    }
    let src = flatten(img);
    let (sw, sh) = (f64::from(src.width()), f64::from(src.height()));
    let (tw, th) = (f64::from(width), f64::from(height));
    let src_aspect = sw / sh;
    let box_aspect = tw / th;
    let kept = (src_aspect / box_aspect).min(box_aspect / src_aspect);
    if kept < 0.5 {
        Ok(contain_on_blur(&src, width, height))
    } else {
        Ok(cover(&src, width, height))
    }
}

/// Encode as JPEG at [`JPEG_QUALITY`] and hash.
pub fn encode_jpeg(img: &RgbImage) -> Result<Rendition, ArtError> {
    let mut bytes = Vec::with_capacity(64 * 1024);
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY);
    img.write_with_encoder(encoder)
        .map_err(|e| ArtError::Encode(e.to_string()))?;
    let etag = etag_of(&bytes);
    Ok(Rendition {
        width: img.width(),
        height: img.height(),
        bytes,
        etag,
        mime: "image/jpeg",
    })
}

/// First 32 hex characters of the SHA-256 of the bytes.
pub fn etag_of(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    hex::encode(&digest[..16])
}

/// Any picture as 8-bit RGB; transparency blended onto the dark background.
fn flatten(img: &DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    let [br, bg, bb] = FLATTEN_BACKGROUND.map(u32::from);
    ImageBuffer::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0.map(u32::from);
        let mix = |c: u32, back: u32| ((c * a + back * (255 - a) + 127) / 255) as u8;
        Rgb([mix(r, br), mix(g, bg), mix(b, bb)])
    })
}

/// The largest centered crop of the box's aspect ratio.
fn cover_crop(src: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (sw, sh) = src.dimensions();
    // Compare sw/sh with width/height without floating point.
    let (cw, ch) = if u64::from(sw) * u64::from(height) > u64::from(sh) * u64::from(width) {
        // Source wider: keep the full height.
        let cw = (u64::from(sh) * u64::from(width) + u64::from(height) / 2) / u64::from(height);
        ((cw as u32).clamp(1, sw), sh)
    } else {
        let ch = (u64::from(sw) * u64::from(height) + u64::from(width) / 2) / u64::from(width);
        (sw, (ch as u32).clamp(1, sh))
    };
    imageops::crop_imm(src, (sw - cw) / 2, (sh - ch) / 2, cw, ch).to_image()
}

fn cover(src: &RgbImage, width: u32, height: u32) -> RgbImage {
    let cropped = cover_crop(src, width, height);
    if cropped.width() >= width && cropped.height() >= height {
        shrink(&cropped, width, height)
    } else {
        // Smaller than the box: keep its own pixels, never enlarge.
        cropped
    }
}

/// Good-quality downscale. A source more than twice the target is first
/// box-averaged down to twice the target (`thumbnail`: exact area averaging,
/// alias-free, and on a camera-sized picture several times faster than a
/// kernel whose width grows with the ratio). The last step is Catmull-Rom:
/// as sharp as Lanczos3 to the eye at a 2:1 step, with less ringing around
/// hard edges such as the lettering of generated posters, and about a
/// quarter cheaper.
fn shrink(src: &RgbImage, width: u32, height: u32) -> RgbImage {
    if src.dimensions() == (width, height) {
        return src.clone();
    }
    if src.width() > width * 2 && src.height() > height * 2 {
        let double = imageops::thumbnail(src, width * 2, height * 2);
        imageops::resize(&double, width, height, FilterType::CatmullRom)
    } else {
        imageops::resize(src, width, height, FilterType::CatmullRom)
    }
}

/// The whole picture, centered on a blurred, darkened, cover-cropped copy of
/// itself, with a margin. Shrinks the whole composition rather than enlarge
/// the picture when the picture is smaller than the box allows.
fn contain_on_blur(src: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (sw, sh) = src.dimensions();
    let margin = (width.min(height) / 20).max(1);
    let box_w = f64::from(width.saturating_sub(2 * margin).max(1));
    let box_h = f64::from(height.saturating_sub(2 * margin).max(1));
    let scale = (box_w / f64::from(sw)).min(box_h / f64::from(sh));
    let (canvas_w, canvas_h, fg) = if scale > 1.0 {
        let cw = (f64::from(width) / scale).round().max(1.0) as u32;
        let ch = (f64::from(height) / scale).round().max(1.0) as u32;
        (cw.max(sw), ch.max(sh), src.clone())
    } else {
        let fw = (f64::from(sw) * scale).round().max(1.0) as u32;
        let fh = (f64::from(sh) * scale).round().max(1.0) as u32;
        (width, height, shrink(src, fw, fh))
    };

    // Background: a tiny cover crop, blurred and darkened, then stretched.
    // Blurring a picture 1/40 the size and enlarging it is far cheaper than
    // a wide blur at full size, and blurs away any lettering completely.
    let small_w = (canvas_w / 40).max(2);
    let small_h = (canvas_h / 40).max(2);
    let cropped = cover_crop(src, canvas_w, canvas_h);
    let mut small = imageops::thumbnail(&cropped, small_w, small_h);
    small = imageops::fast_blur(&small, 3.0);
    for p in small.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = (u16::from(*c) * 2 / 5) as u8;
        }
    }
    let mut canvas = imageops::resize(&small, canvas_w, canvas_h, FilterType::Triangle);

    let x = i64::from((canvas_w - fg.width().min(canvas_w)) / 2);
    let y = i64::from((canvas_h - fg.height().min(canvas_h)) / 2);
    imageops::replace(&mut canvas, &fg, x, y);
    canvas
}
