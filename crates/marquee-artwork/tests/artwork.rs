//! Behaviour of the public API: refusals, rendition sizes, posters.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use marquee_artwork::{
    decode, display_title, poster, poster_at, render, render_rgb, renditions_for, ArtError,
    PosterSpec, Size, FLATTEN_BACKGROUND, MAX_INPUT_BYTES,
};
use sha2::{Digest, Sha256};

/// A smooth test picture (gradients compress and resize predictably).
fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            ((x + y) % 256) as u8,
        ])
    })
}

fn encoded(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format)
        .unwrap_or_else(|e| panic!("encoding {format:?}: {e}"));
    out.into_inner()
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encoded(
        &DynamicImage::ImageRgb8(picture(width, height)),
        ImageFormat::Jpeg,
    )
}

/// PNG signature + IHDR chunk (with a correct CRC) and nothing else.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(b"IHDR");
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA, deflate, no filter, no interlace
    let crc = crc32fast::hash(&ihdr);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc.to_be_bytes());
    png
}

/// A header-only PNG made a complete file: an IDAT holding a one-byte zlib
/// stream, and IEND. A decompression bomb in shape: tiny file, huge canvas.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    }
    let mut png = png_header(width, height);
    // zlib header, one stored block of one zero byte, Adler-32 of [0].
    let zlib = [
        0x78, 0x01, 0x01, 0x01, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn spec(title: &str) -> PosterSpec<'_> {
    PosterSpec {
        title,
        year: Some(1994),
        genre: Some("Drama"),
        seed: 7,
    }
}

// ---------------------------------------------------------------- decode

#[test]
fn text_html_and_svg_are_not_images() {
    let cases: [&[u8]; 6] = [
        b"hello, world",
        b"<!DOCTYPE html><html><body><img src=x></body></html>",
        b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        b"<svg width=\"10\" height=\"10\"></svg>",
        b"",
        b"RIFF\0\0\0\0WAVEfmt ",
    ];
    for bytes in cases {
        assert_eq!(decode(bytes), Err(ArtError::NotAnImage), "{bytes:?}");
    }
}

#[test]
fn every_accepted_format_decodes() {
    let img = DynamicImage::ImageRgba8(RgbaImage::from_pixel(24, 36, Rgba([200, 40, 40, 255])));
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::WebP,
    ] {
        let source = if format == ImageFormat::Jpeg {
            DynamicImage::ImageRgb8(img.to_rgb8())
        } else {
            img.clone()
        };
        let bytes = encoded(&source, format);
        let decoded = decode(&bytes).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!((decoded.width(), decoded.height()), (24, 36), "{format:?}");
    }
}

#[test]
fn truncated_jpeg_is_unreadable() {
    let full = jpeg(120, 90);
    assert!(decode(&full).is_ok());
    for cut in [full.len() / 2, full.len() - 10, full.len() - 2, 40] {
        match decode(&full[..cut]) {
            Err(ArtError::Unreadable(why)) => assert!(!why.is_empty()),
            other => panic!("cut at {cut} of {}: {other:?}", full.len()),
        }
    }
}

#[test]
fn data_after_the_jpeg_end_is_ignored() {
    // Phones append a motion-photo video after the JPEG's end marker.
    let mut bytes = jpeg(120, 90);
    bytes.extend(std::iter::repeat_n(0x42u8, 10_000));
    let img = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((img.width(), img.height()), (120, 90));
}

#[test]
fn truncated_png_is_unreadable() {
    let full = encoded(&DynamicImage::ImageRgb8(picture(64, 64)), ImageFormat::Png);
    let cut = &full[..full.len() / 2];
    assert!(matches!(decode(cut), Err(ArtError::Unreadable(_))));
}

#[test]
fn a_hundred_megapixel_header_is_refused_before_decoding() {
    // Only a header: had the decoder gone on to the pixels it would have
    // found no image data and said Unreadable instead.
    let bytes = png_header(10_000, 10_000);
    let err = decode(&bytes).err();
    assert_eq!(
        err,
        Some(ArtError::TooManyPixels {
            width: 10_000,
            height: 10_000
        })
    );
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        message,
        "the image is 10000 × 10000 pixels (100 megapixels); the most accepted is 50 megapixels"
    );
    assert_eq!(
        decode(&png_bomb(10_000, 10_000)),
        Err(ArtError::TooManyPixels {
            width: 10_000,
            height: 10_000
        })
    );
    assert_eq!(
        decode(&png_bomb(60_000, 1_000)),
        Err(ArtError::TooManyPixels {
            width: 60_000,
            height: 1_000
        })
    );
    // Within the limit, the same files go on to decoding and fail there for
    // want of pixel data, without allocating 50 MP first (the decoder
    // streams rows).
    assert!(matches!(
        decode(&png_header(5_000, 10_000)),
        Err(ArtError::Unreadable(_))
    ));
    assert!(matches!(
        decode(&png_bomb(100, 100)),
        Err(ArtError::Unreadable(_))
    ));
}

#[test]
fn more_than_twenty_megabytes_is_refused() {
    let mut bytes = png_header(100, 100);
    bytes.resize(MAX_INPUT_BYTES + 1, 0);
    assert_eq!(
        decode(&bytes),
        Err(ArtError::TooLarge {
            bytes: MAX_INPUT_BYTES + 1,
            max: MAX_INPUT_BYTES
        })
    );
}

// ------------------------------------------------------------ renditions

fn rendition_of(width: u32, height: u32, size: Size) -> (u32, u32) {
    let img = DynamicImage::ImageRgb8(picture(width, height));
    let r = render(&img, size).unwrap_or_else(|e| panic!("{width}x{height} {size:?}: {e}"));
    let back = decode(&r.bytes).unwrap_or_else(|e| panic!("rendition unreadable: {e}"));
    assert_eq!((back.width(), back.height()), (r.width, r.height));
    assert_eq!(r.mime, "image/jpeg");
    (r.width, r.height)
}

#[test]
fn renditions_fill_their_boxes() {
    assert_eq!(rendition_of(1000, 1500, Size::Card), (342, 513));
    assert_eq!(rendition_of(1000, 1500, Size::Detail), (780, 1170));
    assert_eq!(rendition_of(1920, 1080, Size::Backdrop), (1280, 720));
    assert_eq!(rendition_of(1920, 1080, Size::Share), (1200, 630));
    assert_eq!(rendition_of(1920, 1080, Size::Thumb), (400, 225));
    // Other aspect ratios are cropped to the box's.
    assert_eq!(rendition_of(1200, 1200, Size::Card), (342, 513));
    assert_eq!(rendition_of(1600, 1200, Size::Thumb), (400, 225));
    // A poster shared keeps the share size (set on a blurred copy of itself).
    assert_eq!(rendition_of(1000, 1500, Size::Share), (1200, 630));
    // A camera-sized source takes the pre-shrink path.
    assert_eq!(rendition_of(1100, 1650, Size::Card), (342, 513));
}

#[test]
fn small_sources_are_never_enlarged() {
    // Right aspect, smaller than the box: kept as is.
    assert_eq!(rendition_of(300, 450, Size::Detail), (300, 450));
    assert_eq!(rendition_of(640, 360, Size::Backdrop), (640, 360));
    // Other aspect: cropped to the box's aspect at the source's scale.
    assert_eq!(rendition_of(100, 100, Size::Card), (67, 100));
    assert_eq!(rendition_of(320, 320, Size::Thumb), (320, 180));
    // A small poster shared: the whole composition shrinks instead.
    let (w, h) = rendition_of(200, 300, Size::Share);
    assert!(w <= 1200 && (300..=630).contains(&h), "{w}x{h}");
    assert!(
        ((w as f64 / h as f64) - 1200.0 / 630.0).abs() < 0.02,
        "{w}x{h}"
    );
}

#[test]
fn aspect_ratios_match_the_boxes() {
    for size in Size::ALL {
        let (bw, bh) = size.dimensions();
        // Mostly smaller than the boxes (the crop arithmetic), one larger
        // (crop then shrink); small so the debug build stays quick.
        for (sw, sh) in [(200, 300), (300, 200), (150, 150), (400, 100), (1400, 1400)] {
            let (w, h) = rendition_of(sw, sh, size);
            let want = f64::from(bw) / f64::from(bh);
            let got = f64::from(w) / f64::from(h);
            assert!((got - want).abs() < 0.01, "{sw}x{sh} as {size:?}: {w}x{h}");
        }
    }
}

#[test]
fn etag_is_the_sha256_prefix() {
    let img = DynamicImage::ImageRgb8(picture(400, 600));
    let r = render(&img, Size::Card).unwrap_or_else(|e| panic!("{e}"));
    let full = hex::encode(Sha256::digest(&r.bytes));
    assert_eq!(r.etag.len(), 32);
    assert_eq!(r.etag, full[..32]);
    let again = render(&img, Size::Card).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, r, "renditions are deterministic");
}

#[test]
fn transparency_is_flattened_on_the_dark_background() {
    let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(60, 90, Rgba([255, 255, 255, 0])));
    let out = render_rgb(&clear, 342, 513).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.dimensions(), (60, 90));
    assert!(out.pixels().all(|p| p.0 == FLATTEN_BACKGROUND));
    let png = encoded(&clear, ImageFormat::Png);
    let decoded = decode(&png).unwrap_or_else(|e| panic!("{e}"));
    assert!(render(&decoded, Size::Card).is_ok());
}

#[test]
fn renditions_by_kind() {
    assert_eq!(
        renditions_for("poster"),
        &[Size::Card, Size::Detail, Size::Share]
    );
    assert_eq!(renditions_for("backdrop"), &[Size::Backdrop, Size::Share]);
    assert_eq!(renditions_for("thumb"), &[Size::Thumb]);
    assert!(renditions_for("banner").is_empty());
    for size in Size::ALL {
        assert_eq!(Size::from_name(size.name()), Some(size));
    }
}

// ---------------------------------------------------------------- posters

#[test]
fn posters_are_deterministic() {
    let a = poster(&spec("The Shawshank Redemption")).unwrap_or_else(|e| panic!("{e}"));
    let b = poster(&spec("The Shawshank Redemption")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.dimensions(), (342, 513));
    assert_eq!(a.as_raw(), b.as_raw());
    let ja = marquee_artwork::encode_jpeg(&a).unwrap_or_else(|e| panic!("{e}"));
    let jb = marquee_artwork::encode_jpeg(&b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ja.bytes, jb.bytes);
}

#[test]
fn different_specs_give_different_posters() {
    let base = poster(&spec("Heat")).unwrap_or_else(|e| panic!("{e}"));
    let other_title = poster(&spec("Casino")).unwrap_or_else(|e| panic!("{e}"));
    let other_seed = poster(&PosterSpec {
        seed: 8,
        ..spec("Heat")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let other_genre = poster(&PosterSpec {
        genre: Some("Horror"),
        ..spec("Heat")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(base.as_raw(), other_title.as_raw());
    assert_ne!(base.as_raw(), other_seed.as_raw());
    assert_ne!(base.as_raw(), other_genre.as_raw());
}

#[test]
fn awkward_titles_still_render() {
    let long = "Very Long Title ".repeat(32); // 512 characters
    let one_word = "A".repeat(500);
    let titles = [
        long.as_str(),
        one_word.as_str(),
        "🎬🍿 Emoji 😀 Night 🎉",
        "🎬🍿😀",
        "الرسالة",
        "ואלס עם באשיר",
        "",
        "   ",
        "\u{0007}\t\n",
        "千と千尋の神隠し",
    ];
    for title in titles {
        for (w, h) in [(342, 513), (780, 1170), (200, 300), (320, 180), (16, 16)] {
            let img = poster_at(&spec(title), w, h)
                .unwrap_or_else(|e| panic!("{title:?} at {w}x{h}: {e}"));
            assert_eq!(img.dimensions(), (w, h));
        }
    }
    let empty = poster(&PosterSpec {
        title: "",
        year: None,
        genre: None,
        seed: 0,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    // Still a picture: not a flat fill.
    let first = empty.get_pixel(0, 0);
    assert!(empty.pixels().any(|p| p != first));
}

#[test]
fn text_is_drawn() {
    let with = poster(&spec("Heat")).unwrap_or_else(|e| panic!("{e}"));
    // The backgrounds are dark: off-white pixels are the text's strokes.
    assert!(with
        .pixels()
        .any(|p| p.0[0] > 230 && p.0[1] > 230 && p.0[2] > 220));
}

#[test]
fn poster_sizes_are_checked() {
    assert_eq!(
        poster_at(&spec("Heat"), 0, 100).err(),
        Some(ArtError::BadSize {
            width: 0,
            height: 100
        })
    );
    assert!(poster_at(&spec("Heat"), 5000, 100).is_err());
}

#[test]
fn posters_render_into_every_size() {
    let big = poster_at(&spec("Heat"), 780, 1170).unwrap_or_else(|e| panic!("{e}"));
    let img = DynamicImage::ImageRgb8(big);
    for &size in renditions_for("poster") {
        let r = render(&img, size).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.width, r.height), size.dimensions());
    }
}

#[test]
fn display_titles() {
    assert_eq!(
        display_title("Shawshank Redemption, The"),
        "The Shawshank Redemption"
    );
    assert_eq!(display_title("Seven (a.k.a. Se7en)"), "Seven");
}
