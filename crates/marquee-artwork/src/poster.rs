//! Typographic posters for titles that have no artwork: a genre-coloured,
//! seed-varied background with simple shapes, the title set large, the year
//! and genre small at the bottom. Deterministic: the same spec gives the
//! same pixels, on every run.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use image::{Rgb, RgbImage};

use crate::ArtError;

/// Card-size poster width, the size [`poster`] draws.
pub const POSTER_WIDTH: u32 = 342;
/// Card-size poster height, the size [`poster`] draws.
pub const POSTER_HEIGHT: u32 = 513;
/// The smallest side [`poster_at`] draws.
pub const MIN_SIDE: u32 = 16;
/// The largest side [`poster_at`] draws.
pub const MAX_SIDE: u32 = 4000;

/// The least contrast ratio between text and the background behind it
/// (WCAG AA for normal-size text), for the title and the small text alike.
pub const MIN_CONTRAST: f32 = 4.5;

/// Most lines the title may take; beyond, the last line ends with "…".
const MAX_TITLE_LINES: usize = 4;

static FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// Colour of all text: a warm off-white.
pub(crate) const TEXT: [u8; 3] = [0xFA, 0xF7, 0xF0];

/// What to put on a generated poster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PosterSpec<'a> {
    /// The display title (see [`crate::display_title`]); may be empty.
    pub title: &'a str,
    /// The release year, shown small at the bottom.
    pub year: Option<i32>,
    /// A genre, or MovieLens' "Drama|Romance" list: the first one picks the
    /// palette, up to two are shown.
    pub genre: Option<&'a str>,
    /// Varies gradient and shapes; mixed with the title, so posters of
    /// different titles differ even with the same seed.
    pub seed: u64,
}

/// A generated poster at card size, [`POSTER_WIDTH`] × [`POSTER_HEIGHT`].
pub fn poster(spec: &PosterSpec<'_>) -> Result<RgbImage, ArtError> {
    poster_at(spec, POSTER_WIDTH, POSTER_HEIGHT)
}

/// A generated poster at any size from [`MIN_SIDE`] to [`MAX_SIDE`] pixels a
/// side. The layout scales with the shorter side, so landscape sizes (a
/// backdrop, an episode still) work too.
pub fn poster_at(spec: &PosterSpec<'_>, width: u32, height: u32) -> Result<RgbImage, ArtError> {
    draw(spec, width, height, true).map(|(img, _)| img)
}

/// Where the text went, for tests.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Layout {
    pub title: Option<Rect>,
    pub meta: Option<Rect>,
}

/// A pixel rectangle, `x0..x1` × `y0..y1`, clipped to the image.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rect {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

/// The poster, with or without its text (tests check the background under
/// where the text goes).
pub(crate) fn draw(
    spec: &PosterSpec<'_>,
    width: u32,
    height: u32,
    with_text: bool,
) -> Result<(RgbImage, Layout), ArtError> {
    if !(MIN_SIDE..=MAX_SIDE).contains(&width) || !(MIN_SIDE..=MAX_SIDE).contains(&height) {
        return Err(ArtError::BadSize { width, height });
    }
    let font = FontRef::try_from_slice(FONT_BYTES).map_err(|_| ArtError::Font)?;
    let palette = palette_for(spec.genre);
    let mut rng = Rng::new(spec.seed ^ fnv1a(spec.title.as_bytes()).rotate_left(17));

    let mut img = background(palette, &mut rng, width, height);

    let (w, h) = (width as f32, height as f32);
    let base = w.min(h);
    let margin_x = (w * 0.08).max(2.0);
    let max_w = w - 2.0 * margin_x;
    let mut layout = Layout::default();

    // Small text: "1994 · DRAMA".
    let meta_px = (base * 0.052).max(7.0);
    let meta_baseline = h * 0.935;
    let tracking = meta_px * 0.10;
    // With two genres if they fit at nearly full size, else with one.
    let meta = [2, 1]
        .into_iter()
        .map(|genres| glyph_ids(&font, &meta_line(spec, genres)))
        .enumerate()
        .find(|(i, glyphs)| {
            *i == 1
                || line_width(&font, &[glyphs.as_slice()], meta_px * 0.9, tracking * 0.9) <= max_w
        })
        .and_then(|(_, glyphs)| {
            if glyphs.is_empty() {
                return None;
            }
            let (glyphs, px) = fit_single_line(&font, glyphs, meta_px, tracking, max_w);
            let tracking = tracking * px / meta_px;
            let width = line_width(&font, &[glyphs.as_slice()], px, tracking);
            Some((glyphs, px, tracking, width))
        });
    if let Some((_, px, _, line_w)) = &meta {
        let sf = font.as_scaled(PxScale::from(*px));
        let rect = rect_around(
            (w - line_w) / 2.0,
            meta_baseline - sf.ascent(),
            (w + line_w) / 2.0,
            meta_baseline - sf.descent(),
            (base * 0.01).max(1.0),
            width,
            height,
        );
        ensure_contrast(&mut img, rect, base * 0.12);
        layout.meta = Some(rect);
    }

    // Title, centered a little above the middle, clear of the small text.
    let region_top = h * 0.08;
    let region_bottom = if meta.is_some() { h * 0.80 } else { h * 0.92 };
    let title = set_title(&font, spec.title, base, max_w, region_bottom - region_top);
    if let Some(block) = &title {
        let block_h = block.line_h * block.lines.len() as f32;
        let centre = h * 0.44;
        let top =
            (centre - block_h / 2.0).clamp(region_top, (region_bottom - block_h).max(region_top));
        let widest = block.lines.iter().map(|l| l.width).fold(0.0f32, f32::max);
        let rect = rect_around(
            (w - widest) / 2.0,
            top,
            (w + widest) / 2.0,
            top + block_h,
            (base * 0.015).max(1.0),
            width,
            height,
        );
        ensure_contrast(&mut img, rect, base * 0.25);
        layout.title = Some(rect);
        if with_text {
            let sf = font.as_scaled(PxScale::from(block.px));
            // Centre the glyphs' ink box (ascent − descent) within each line.
            let pad = (block.line_h - (sf.ascent() - sf.descent())) / 2.0;
            for (i, line) in block.lines.iter().enumerate() {
                let baseline = top + pad + sf.ascent() + block.line_h * i as f32;
                let x = (w - line.width) / 2.0;
                let pieces: Vec<&[GlyphId]> = if block.rtl {
                    line.pieces.iter().rev().map(Vec::as_slice).collect()
                } else {
                    line.pieces.iter().map(Vec::as_slice).collect()
                };
                draw_line(&mut img, &font, &pieces, block.px, 0.0, x, baseline, TEXT);
            }
        }
    }

    // A short accent rule above the small text, then the small text.
    if let Some((glyphs, px, tracking, line_w)) = &meta {
        if with_text {
            let sf = font.as_scaled(PxScale::from(*px));
            let rule_w = (base * 0.14).round();
            let rule_h = (base * 0.008).round().max(1.0);
            let rule_y = meta_baseline - sf.ascent() - base * 0.055;
            fill_rect(
                &mut img,
                (w - rule_w) / 2.0,
                rule_y,
                rule_w,
                rule_h,
                palette.accent,
            );
            draw_line(
                &mut img,
                &font,
                &[glyphs.as_slice()],
                *px,
                *tracking,
                (w - line_w) / 2.0,
                meta_baseline,
                TEXT,
            );
        }
    }
    Ok((img, layout))
}

// ---------------------------------------------------------------- palette

/// Background colours of a genre: a deep and a mid tone for the gradient
/// (both dark enough for off-white text) and an accent for shapes and rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Palette {
    pub deep: [u8; 3],
    pub mid: [u8; 3],
    pub accent: [u8; 3],
}

const fn pal(deep: u32, mid: u32, accent: u32) -> Palette {
    const fn rgb(c: u32) -> [u8; 3] {
        [(c >> 16) as u8, (c >> 8) as u8, c as u8]
    }
    Palette {
        deep: rgb(deep),
        mid: rgb(mid),
        accent: rgb(accent),
    }
}

/// Genre names (lowercase, as MovieLens spells them, with a few aliases)
/// and their palettes.
pub(crate) static PALETTES: &[(&str, Palette)] = &[
    ("drama", pal(0x1B1F3B, 0x4A2C5A, 0xC9A227)),
    ("comedy", pal(0x5E250B, 0x933A24, 0xFFD23F)),
    ("action", pal(0x2B0A0A, 0x7A1616, 0xFF6B35)),
    ("thriller", pal(0x0B1A1F, 0x1F3A40, 0x3FD0C9)),
    ("horror", pal(0x0A0A0A, 0x3B0B0B, 0xB3001B)),
    ("romance", pal(0x4A1030, 0x8C2F55, 0xFF9EB5)),
    ("sci-fi", pal(0x050A24, 0x123B6B, 0x00E5FF)),
    ("science fiction", pal(0x050A24, 0x123B6B, 0x00E5FF)),
    ("documentary", pal(0x1E2A24, 0x3C5A48, 0xD8C99B)),
    ("animation", pal(0x3D1B6B, 0x6A2C91, 0xFFB000)),
    ("children", pal(0x0C3F52, 0x0F6672, 0xFFE66D)),
    ("children's", pal(0x0C3F52, 0x0F6672, 0xFFE66D)),
    ("family", pal(0x0C3F52, 0x0F6672, 0xFFE66D)),
    ("crime", pal(0x111111, 0x2E2E38, 0xE0B84E)),
    ("adventure", pal(0x1A3316, 0x435C24, 0xF2A541)),
    ("fantasy", pal(0x1A1040, 0x3E2A7A, 0xB8A1FF)),
    ("mystery", pal(0x0F1626, 0x2C3E50, 0x9FB7D1)),
    ("war", pal(0x23241C, 0x4B4A36, 0xC2B280)),
    ("western", pal(0x3B1F0E, 0x7A4A1E, 0xE8B04B)),
    ("musical", pal(0x4B0F3D, 0x8A1F5C, 0xFFD166)),
    ("music", pal(0x4B0F3D, 0x8A1F5C, 0xFFD166)),
    ("film-noir", pal(0x050505, 0x333333, 0xBBBBBB)),
    ("film noir", pal(0x050505, 0x333333, 0xBBBBBB)),
    ("imax", pal(0x001B2E, 0x0B4F6C, 0xF5F5F5)),
];

/// For titles with no or an unknown genre.
pub(crate) static DEFAULT_PALETTE: Palette = pal(0x1C1C24, 0x3A3A4A, 0x8888AA);

pub(crate) fn palette_for(genre: Option<&str>) -> &'static Palette {
    let Some(first) = genre.and_then(|g| genres(g).next()) else {
        return &DEFAULT_PALETTE;
    };
    PALETTES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(first))
        .map_or(&DEFAULT_PALETTE, |(_, p)| p)
}

/// The genres in a "Drama|Romance" (or comma-separated) list.
fn genres(list: &str) -> impl Iterator<Item = &str> {
    list.split(['|', ','])
        .map(str::trim)
        .filter(|g| !g.is_empty() && !g.eq_ignore_ascii_case("(no genres listed)"))
}

/// "1994 · DRAMA · ROMANCE", with at most `max_genres` genres.
fn meta_line(spec: &PosterSpec<'_>, max_genres: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(year) = spec.year {
        parts.push(year.to_string());
    }
    if let Some(list) = spec.genre {
        parts.extend(genres(list).take(max_genres).map(str::to_uppercase));
    }
    parts.join(" · ")
}

// ------------------------------------------------------------- background

/// Gradient directions (unit vectors); no trigonometry, so no platform
/// differences in libm.
const DIRECTIONS: [[f32; 2]; 8] = [
    [0.0, 1.0],
    [0.0, -1.0],
    [
        std::f32::consts::FRAC_1_SQRT_2,
        std::f32::consts::FRAC_1_SQRT_2,
    ],
    [
        -std::f32::consts::FRAC_1_SQRT_2,
        std::f32::consts::FRAC_1_SQRT_2,
    ],
    [0.447_213_6, 0.894_427_2],
    [-0.447_213_6, 0.894_427_2],
    [0.894_427_2, 0.447_213_6],
    [-0.894_427_2, -0.447_213_6],
];

fn background(p: &Palette, rng: &mut Rng, width: u32, height: u32) -> RgbImage {
    let (w, h) = (width as f32, height as f32);
    let base = w.min(h);
    let mut buf = vec![[0.0f32; 3]; width as usize * height as usize];

    // 1. Gradient between the deep and the mid tone.
    let (a, b) = if rng.below(2) == 0 {
        (p.deep, p.mid)
    } else {
        (p.mid, p.deep)
    };
    let [dx, dy] = DIRECTIONS[rng.below(DIRECTIONS.len() as u64) as usize];
    let extent = dx.abs() * 0.5 + dy.abs() * 0.5;
    let (a, b) = (a.map(f32::from), b.map(f32::from));
    for y in 0..height {
        let v = (y as f32 + 0.5) / h - 0.5;
        let row = &mut buf[(y * width) as usize..((y + 1) * width) as usize];
        for (x, px) in row.iter_mut().enumerate() {
            let u = (x as f32 + 0.5) / w - 0.5;
            let t = ((u * dx + v * dy) / extent * 0.5 + 0.5).clamp(0.0, 1.0);
            let t = t * t * (3.0 - 2.0 * t);
            *px = [
                a[0] + (b[0] - a[0]) * t,
                a[1] + (b[1] - a[1]) * t,
                a[2] + (b[2] - a[2]) * t,
            ];
        }
    }

    // 2. Shapes in the accent colour (or the mid tone, lighter), at most as
    // opaque as keeps a single shape over the mid tone dark enough for the
    // text (overlaps may go further; `ensure_contrast` catches those).
    let accent = p.accent.map(f32::from);
    let light = p.mid.map(|c| (f32::from(c) * 1.6).min(255.0));
    let accent_k = alpha_cap(p.mid, accent) / MAX_SHAPE_ALPHA;
    let light_k = alpha_cap(p.mid, light) / MAX_SHAPE_ALPHA;
    match rng.below(3) {
        0 => {
            // Overlapping discs, some as rings.
            let n = 2 + rng.below(3);
            for _ in 0..n {
                let cx = rng.range(-0.2, 1.2) * w;
                let cy = rng.range(-0.15, 0.75) * h;
                let r = rng.range(0.15, 0.55) * w.max(h * 0.6);
                let alpha = rng.range(0.10, MAX_SHAPE_ALPHA);
                let (colour, alpha) = if rng.below(3) == 0 {
                    (light, alpha * light_k)
                } else {
                    (accent, alpha * accent_k)
                };
                let ring = if rng.below(3) == 0 {
                    Some(base * rng.range(0.02, 0.05))
                } else {
                    None
                };
                disc(&mut buf, width, height, cx, cy, r, ring, colour, alpha);
            }
        }
        1 => {
            // Parallel diagonal bands.
            let [nx, ny] = DIRECTIONS[2 + rng.below(6) as usize];
            let n = 2 + rng.below(2);
            let mut bands = Vec::new();
            for _ in 0..n {
                let centre = rng.range(-0.35, 0.35) * (w * nx.abs() + h * ny.abs());
                let half = rng.range(0.03, 0.10) * base;
                let alpha = rng.range(0.10, 0.22) * accent_k;
                bands.push((centre, half, alpha));
            }
            for y in 0..height {
                let py = y as f32 + 0.5 - h / 2.0;
                let row = &mut buf[(y * width) as usize..((y + 1) * width) as usize];
                for (x, px) in row.iter_mut().enumerate() {
                    let d = (x as f32 + 0.5 - w / 2.0) * nx + py * ny;
                    for &(centre, half, alpha) in &bands {
                        let cover = (half - (d - centre).abs() + 0.5).clamp(0.0, 1.0);
                        if cover > 0.0 {
                            blend(px, accent, alpha * cover);
                        }
                    }
                }
            }
        }
        _ => {
            // Concentric rings around a point near an upper corner.
            let cx = if rng.below(2) == 0 { 0.1 } else { 0.9 } * w + rng.range(-0.1, 0.1) * w;
            let cy = rng.range(0.05, 0.35) * h;
            let spacing = rng.range(0.07, 0.12) * base;
            let stroke = spacing * rng.range(0.25, 0.45);
            let max_r = rng.range(0.6, 1.0) * h;
            let alpha = rng.range(0.10, 0.20) * accent_k;
            for y in 0..height {
                let ddy = y as f32 + 0.5 - cy;
                let row = &mut buf[(y * width) as usize..((y + 1) * width) as usize];
                for (x, px) in row.iter_mut().enumerate() {
                    let ddx = x as f32 + 0.5 - cx;
                    let d = (ddx * ddx + ddy * ddy).sqrt();
                    if d > max_r + 1.0 {
                        continue;
                    }
                    // d ≥ 0, so truncation is floor (and avoids a libm call).
                    let phase = d - ((d / spacing) as u32) as f32 * spacing;
                    let edge = (stroke / 2.0) - (phase - spacing / 2.0).abs();
                    let cover = (edge + 0.5).clamp(0.0, 1.0) * (max_r - d + 0.5).clamp(0.0, 1.0);
                    if cover > 0.0 {
                        // Fade the rings outwards.
                        blend(px, accent, alpha * cover * (1.0 - d / (max_r + 1.0)));
                    }
                }
            }
        }
    }

    // 3. Darken the bottom third, where the small text sits.
    let start = h * 0.62;
    for y in (start as u32)..height {
        let t = ((y as f32 - start) / (h - start)).clamp(0.0, 1.0);
        let k = 1.0 - 0.55 * t * t * (3.0 - 2.0 * t);
        for px in &mut buf[(y * width) as usize..((y + 1) * width) as usize] {
            for c in px.iter_mut() {
                *c *= k;
            }
        }
    }

    let mut raw = Vec::with_capacity(buf.len() * 3);
    for px in &buf {
        for &c in px {
            raw.push((c + 0.5).clamp(0.0, 255.0) as u8);
        }
    }
    RgbImage::from_raw(width, height, raw).unwrap_or_else(|| RgbImage::new(width, height))
}

/// The most opaque a shape may be.
const MAX_SHAPE_ALPHA: f32 = 0.24;

/// Luminance a single shape over the mid tone may reach: well under the
/// 0.168 at which off-white text drops below 4.5:1.
const SHAPE_LUMINANCE: f32 = 0.12;

/// The highest alpha (up to [`MAX_SHAPE_ALPHA`]) at which `colour` over
/// `mid` stays at or under [`SHAPE_LUMINANCE`].
fn alpha_cap(mid: [u8; 3], colour: [f32; 3]) -> f32 {
    let mid = mid.map(f32::from);
    let mut alpha = MAX_SHAPE_ALPHA;
    while alpha > 0.02 {
        let mut px = mid;
        blend(&mut px, colour, alpha);
        if relative_luminance(px.map(|c| (c + 0.5).clamp(0.0, 255.0) as u8)) <= SHAPE_LUMINANCE {
            break;
        }
        alpha -= 0.01;
    }
    alpha
}

#[inline]
fn blend(px: &mut [f32; 3], colour: [f32; 3], alpha: f32) {
    for (c, k) in px.iter_mut().zip(colour) {
        *c += (k - *c) * alpha;
    }
}

#[allow(clippy::too_many_arguments)]
fn disc(
    buf: &mut [[f32; 3]],
    width: u32,
    height: u32,
    cx: f32,
    cy: f32,
    r: f32,
    ring: Option<f32>,
    colour: [f32; 3],
    alpha: f32,
) {
    let y0 = (cy - r - 1.0).floor().max(0.0) as u32;
    let y1 = ((cy + r + 1.0).ceil().max(0.0) as u32).min(height);
    let x0 = (cx - r - 1.0).floor().max(0.0) as u32;
    let x1 = ((cx + r + 1.0).ceil().max(0.0) as u32).min(width);
    for y in y0..y1 {
        let dy = y as f32 + 0.5 - cy;
        for x in x0..x1 {
            let dx = x as f32 + 0.5 - cx;
            let d = (dx * dx + dy * dy).sqrt();
            let mut cover = (r - d + 0.5).clamp(0.0, 1.0);
            if let Some(stroke) = ring {
                cover *= (d - (r - stroke) + 0.5).clamp(0.0, 1.0);
            }
            if cover > 0.0 {
                blend(&mut buf[(y * width + x) as usize], colour, alpha * cover);
            }
        }
    }
}

// --------------------------------------------------------------- contrast

fn linear_lut() -> &'static [f32; 256] {
    static LUT: OnceLock<[f32; 256]> = OnceLock::new();
    LUT.get_or_init(|| {
        let mut lut = [0.0f32; 256];
        for (i, v) in lut.iter_mut().enumerate() {
            let c = i as f32 / 255.0;
            *v = if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            };
        }
        lut
    })
}

/// WCAG relative luminance of an sRGB colour.
pub fn relative_luminance(rgb: [u8; 3]) -> f32 {
    let lut = linear_lut();
    0.2126 * lut[usize::from(rgb[0])]
        + 0.7152 * lut[usize::from(rgb[1])]
        + 0.0722 * lut[usize::from(rgb[2])]
}

/// WCAG contrast ratio of two sRGB colours (1 to 21).
pub fn contrast_ratio(a: [u8; 3], b: [u8; 3]) -> f32 {
    let (la, lb) = (relative_luminance(a), relative_luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The least contrast between the text colour and any pixel in the rect.
pub(crate) fn min_contrast_in(img: &RgbImage, rect: Rect) -> f32 {
    let mut brightest = 0.0f32;
    for y in rect.y0..rect.y1 {
        for x in rect.x0..rect.x1 {
            brightest = brightest.max(relative_luminance(img.get_pixel(x, y).0));
        }
    }
    let lt = relative_luminance(TEXT);
    (lt + 0.05) / (brightest + 0.05)
}

/// Darken the background behind a text rect until the text colour reaches
/// [`MIN_CONTRAST`] against every pixel in it: a full-width band, fading
/// out over `feather` pixels above and below, so it reads as shading rather
/// than a box. The palettes and shape opacities are chosen so this seldom
/// does anything.
fn ensure_contrast(img: &mut RgbImage, rect: Rect, feather: f32) {
    const STEP: f32 = 0.9;
    for _ in 0..24 {
        if min_contrast_in(img, rect) >= MIN_CONTRAST {
            return;
        }
        let (w, h) = img.dimensions();
        let f = feather.max(1.0);
        let ey0 = (rect.y0 as f32 - f).max(0.0) as u32;
        let ey1 = ((rect.y1 as f32 + f) as u32).min(h);
        for y in ey0..ey1 {
            let dy = (rect.y0 as f32 - y as f32)
                .max(y as f32 + 1.0 - rect.y1 as f32)
                .max(0.0);
            let t = (dy / f).min(1.0);
            let outside = t * t * (3.0 - 2.0 * t);
            let factor = STEP + (1.0 - STEP) * outside;
            for x in 0..w {
                let px = img.get_pixel_mut(x, y);
                for c in px.0.iter_mut() {
                    *c = (f32::from(*c) * factor) as u8;
                }
            }
        }
    }
}

fn rect_around(x0: f32, y0: f32, x1: f32, y1: f32, pad: f32, width: u32, height: u32) -> Rect {
    let clip = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    Rect {
        x0: clip((x0 - pad).floor(), width),
        y0: clip((y0 - pad).floor(), height),
        x1: clip((x1 + pad).ceil(), width),
        y1: clip((y1 + pad).ceil(), height),
    }
}

// ------------------------------------------------------------------- text

/// Glyphs of a string, dropping characters the font lacks (emoji, CJK) and
/// control characters, so nothing draws as an empty box.
fn glyph_ids(font: &FontRef<'_>, s: &str) -> Vec<GlyphId> {
    s.chars()
        .filter(|c| !c.is_control())
        .map(|c| font.glyph_id(c))
        .filter(|g| g.0 != 0)
        .collect()
}

/// Width of pieces joined by spaces, at `px`, with `tracking` after every
/// glyph but the last of a piece.
fn line_width(font: &FontRef<'_>, pieces: &[&[GlyphId]], px: f32, tracking: f32) -> f32 {
    let sf = font.as_scaled(PxScale::from(px));
    let space = sf.h_advance(font.glyph_id(' '));
    let mut total = 0.0;
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            total += space;
        }
        total += piece_width(&sf, piece, tracking);
    }
    total
}

fn piece_width<F: Font, S: ScaleFont<F>>(sf: &S, glyphs: &[GlyphId], tracking: f32) -> f32 {
    let mut total = 0.0;
    let mut prev: Option<GlyphId> = None;
    for &g in glyphs {
        if let Some(p) = prev {
            total += sf.kern(p, g) + tracking;
        }
        total += sf.h_advance(g);
        prev = Some(g);
    }
    total
}

/// One line that must fit: shrink to 80% of `px`, then cut with "…".
fn fit_single_line(
    font: &FontRef<'_>,
    mut glyphs: Vec<GlyphId>,
    px: f32,
    tracking: f32,
    max_w: f32,
) -> (Vec<GlyphId>, f32) {
    let width = line_width(font, &[glyphs.as_slice()], px, tracking);
    if width <= max_w {
        return (glyphs, px);
    }
    // A hair under the exact ratio, so rounding cannot tip it over.
    let smaller = (px * max_w / width * 0.999).max(px * 0.8);
    let tracking = tracking * smaller / px;
    if line_width(font, &[glyphs.as_slice()], smaller, tracking) <= max_w {
        return (glyphs, smaller);
    }
    let ellipsis = font.glyph_id('…');
    while !glyphs.is_empty() {
        glyphs.pop();
        let mut with = glyphs.clone();
        with.push(ellipsis);
        if line_width(font, &[with.as_slice()], smaller, tracking) <= max_w {
            return (with, smaller);
        }
    }
    (glyphs, smaller)
}

/// A set title: lines of pieces (words, or parts of a word too long for a
/// line) at one size.
struct TitleBlock {
    lines: Vec<TitleLine>,
    px: f32,
    line_h: f32,
    /// Right-to-left title: draw each line's pieces in reverse order.
    rtl: bool,
}

struct TitleLine {
    pieces: Vec<Vec<GlyphId>>,
    width: f32,
}

fn is_rtl(c: char) -> bool {
    matches!(u32::from(c), 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
}

/// Word-wrap the title to fit `max_w` × `max_h`, from a large size down to
/// a small one; at the smallest size, cut after [`MAX_TITLE_LINES`] lines
/// with "…". Right-to-left words (Hebrew, Arabic) are reversed glyph by
/// glyph and lines laid out right to left; there is no Arabic shaping, so
/// Arabic shows its isolated letter forms.
fn set_title(
    font: &FontRef<'_>,
    title: &str,
    base: f32,
    max_w: f32,
    max_h: f32,
) -> Option<TitleBlock> {
    let rtl = title
        .chars()
        .find(|c| c.is_alphabetic())
        .is_some_and(is_rtl);
    let words: Vec<Vec<GlyphId>> = title
        .split_whitespace()
        .map(|word| {
            let mut g = glyph_ids(font, word);
            if word.chars().any(is_rtl) {
                g.reverse();
            }
            g
        })
        .filter(|g| !g.is_empty())
        .collect();
    if words.is_empty() {
        return None;
    }

    // Widths scale linearly with size: measure once at 1 px.
    let unit = font.as_scaled(PxScale::from(1.0));
    let unit_space = unit.h_advance(font.glyph_id(' '));
    let max_px = base * 0.17;
    let min_px = (base * 0.065).max(7.0);
    let line_h_of = |px: f32| px * 1.0;

    let mut px = max_px;
    loop {
        let (lines, split) = wrap(&unit, unit_space, &words, max_w / px);
        let fits_lines = lines.len() <= MAX_TITLE_LINES;
        let fits_height = line_h_of(px) * lines.len() as f32 <= max_h;
        if (fits_lines && fits_height && !split) || px <= min_px {
            let line_h = line_h_of(px);
            let room = ((max_h / line_h).floor() as usize).clamp(1, MAX_TITLE_LINES);
            let mut lines = lines;
            if lines.len() > room {
                lines.truncate(room);
                if let Some(last) = lines.last_mut() {
                    add_ellipsis(font, &unit, unit_space, last, max_w / px);
                }
            }
            let lines = lines
                .into_iter()
                .map(|pieces| {
                    let refs: Vec<&[GlyphId]> = pieces.iter().map(Vec::as_slice).collect();
                    let width = line_width(font, &refs, px, 0.0);
                    TitleLine { pieces, width }
                })
                .collect();
            return Some(TitleBlock {
                lines,
                px,
                line_h,
                rtl,
            });
        }
        px = (px * 0.92).max(min_px);
    }
}

/// Greedy word wrap at unit size into lines no wider than `max_w`
/// (unit-size pixels). Returns the lines and whether a word had to be split.
fn wrap<F: Font, S: ScaleFont<F>>(
    unit: &S,
    unit_space: f32,
    words: &[Vec<GlyphId>],
    max_w: f32,
) -> (Vec<Vec<Vec<GlyphId>>>, bool) {
    let mut lines: Vec<Vec<Vec<GlyphId>>> = Vec::new();
    let mut current: Vec<Vec<GlyphId>> = Vec::new();
    let mut current_w = 0.0f32;
    let mut split = false;
    for word in words {
        let ww = piece_width(unit, word, 0.0);
        let pieces: Vec<Vec<GlyphId>> = if ww > max_w {
            split = true;
            split_word(unit, word, max_w)
        } else {
            vec![word.clone()]
        };
        for piece in pieces {
            let pw = piece_width(unit, &piece, 0.0);
            let needed = if current.is_empty() {
                pw
            } else {
                current_w + unit_space + pw
            };
            if needed > max_w && !current.is_empty() {
                lines.push(std::mem::take(&mut current));
                current_w = pw;
            } else {
                current_w = needed;
            }
            current.push(piece);
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    (lines, split)
}

/// Cut a word too wide for a line into parts that fit (at least one glyph
/// each).
fn split_word<F: Font, S: ScaleFont<F>>(
    unit: &S,
    word: &[GlyphId],
    max_w: f32,
) -> Vec<Vec<GlyphId>> {
    let mut parts = Vec::new();
    let mut part: Vec<GlyphId> = Vec::new();
    for &g in word {
        part.push(g);
        if part.len() > 1 && piece_width(unit, &part, 0.0) > max_w {
            part.pop();
            parts.push(std::mem::take(&mut part));
            part.push(g);
        }
    }
    if !part.is_empty() {
        parts.push(part);
    }
    parts
}

/// End a line with "…", dropping glyphs until it fits.
fn add_ellipsis<F: Font, S: ScaleFont<F>>(
    font: &FontRef<'_>,
    unit: &S,
    unit_space: f32,
    line: &mut Vec<Vec<GlyphId>>,
    max_w: f32,
) {
    let ellipsis = font.glyph_id('…');
    let width = |line: &Vec<Vec<GlyphId>>| {
        let mut w = 0.0;
        for (i, p) in line.iter().enumerate() {
            if i > 0 {
                w += unit_space;
            }
            w += piece_width(unit, p, 0.0);
        }
        w
    };
    loop {
        let mut with = line.clone();
        match with.last_mut() {
            Some(last) => last.push(ellipsis),
            None => with.push(vec![ellipsis]),
        }
        if width(&with) <= max_w || line.is_empty() {
            *line = with;
            return;
        }
        if let Some(last) = line.last_mut() {
            last.pop();
            if last.is_empty() {
                line.pop();
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_line(
    img: &mut RgbImage,
    font: &FontRef<'_>,
    pieces: &[&[GlyphId]],
    px: f32,
    tracking: f32,
    x: f32,
    baseline: f32,
    colour: [u8; 3],
) {
    let scale = PxScale::from(px);
    let sf = font.as_scaled(scale);
    let space = sf.h_advance(font.glyph_id(' '));
    let (w, h) = img.dimensions();
    let mut pen = x;
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            pen += space;
        }
        let mut prev: Option<GlyphId> = None;
        for &g in piece.iter() {
            if let Some(p) = prev {
                pen += sf.kern(p, g) + tracking;
            }
            let glyph = g.with_scale_and_position(scale, point(pen, baseline));
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                let (ox, oy) = (bounds.min.x as i64, bounds.min.y as i64);
                outline.draw(|gx, gy, coverage| {
                    let px_x = ox + i64::from(gx);
                    let px_y = oy + i64::from(gy);
                    if px_x < 0 || px_y < 0 || px_x >= i64::from(w) || px_y >= i64::from(h) {
                        return;
                    }
                    let a = coverage.clamp(0.0, 1.0);
                    let p = img.get_pixel_mut(px_x as u32, px_y as u32);
                    for (c, k) in p.0.iter_mut().zip(colour) {
                        let v = f32::from(*c) + (f32::from(k) - f32::from(*c)) * a;
                        *c = (v + 0.5) as u8;
                    }
                });
            }
            pen += sf.h_advance(g);
            prev = Some(g);
        }
    }
}

fn fill_rect(img: &mut RgbImage, x: f32, y: f32, w: f32, h: f32, colour: [u8; 3]) {
    let (iw, ih) = img.dimensions();
    let x0 = (x.round().max(0.0) as u32).min(iw);
    let y0 = (y.round().max(0.0) as u32).min(ih);
    let x1 = ((x + w).round().max(0.0) as u32).min(iw);
    let y1 = ((y + h).round().max(0.0) as u32).min(ih);
    for yy in y0..y1 {
        for xx in x0..x1 {
            img.put_pixel(xx, yy, Rgb(colour));
        }
    }
}

// ------------------------------------------------------------------- rng

/// SplitMix64: tiny, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * unit
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    const TITLES: &[&str] = &[
        "The Shawshank Redemption",
        "Up",
        "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb",
        "",
        "אור",
        "Supercalifragilisticexpialidocious Extraordinarily Long Compound",
    ];

    #[test]
    fn text_has_aa_contrast_on_every_palette_and_seed() {
        let mut genres: Vec<Option<&str>> = PALETTES.iter().map(|(g, _)| Some(*g)).collect();
        genres.push(None);
        let mut worst = f32::MAX;
        for genre in genres {
            for seed in 0..12u64 {
                let title = TITLES[seed as usize % TITLES.len()];
                let spec = PosterSpec {
                    title,
                    year: Some(1994),
                    genre,
                    seed,
                };
                for (w, h) in [(342, 513), (320, 180)] {
                    let Ok((bg, layout)) = draw(&spec, w, h, false) else {
                        panic!("poster failed for {spec:?}");
                    };
                    let meta = layout
                        .meta
                        .unwrap_or_else(|| panic!("no meta for {spec:?}"));
                    let c = min_contrast_in(&bg, meta);
                    assert!(
                        c >= MIN_CONTRAST,
                        "small text contrast {c} for {spec:?} at {w}x{h}"
                    );
                    worst = worst.min(c);
                    if let Some(rect) = layout.title {
                        let c = min_contrast_in(&bg, rect);
                        assert!(
                            c >= MIN_CONTRAST,
                            "title contrast {c} for {spec:?} at {w}x{h}"
                        );
                        worst = worst.min(c);
                    }
                }
            }
        }
        eprintln!("worst text contrast: {worst:.2}:1");
    }

    #[test]
    fn contrast_ratio_matches_wcag_examples() {
        assert!((contrast_ratio([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 0.01);
        assert!((contrast_ratio([0x77, 0x77, 0x77], [255, 255, 255]) - 4.48).abs() < 0.02);
    }

    #[test]
    fn palettes_cover_the_movielens_genres() {
        for g in [
            "Drama",
            "Comedy",
            "Action",
            "Thriller",
            "Horror",
            "Romance",
            "Sci-Fi",
            "Documentary",
            "Animation",
            "Children",
            "Crime",
            "Adventure",
            "Fantasy",
            "Mystery",
            "War",
            "Western",
            "Musical",
            "Film-Noir",
            "IMAX",
        ] {
            assert!(
                !std::ptr::eq(palette_for(Some(g)), &DEFAULT_PALETTE),
                "{g} has no palette"
            );
        }
        assert!(std::ptr::eq(
            palette_for(Some("(no genres listed)")),
            &DEFAULT_PALETTE
        ));
        assert!(std::ptr::eq(
            palette_for(Some("Horror|Comedy")),
            palette_for(Some("horror"))
        ));
    }
}
