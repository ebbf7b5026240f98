//! Pictures for the catalog, without I/O: bytes in, bytes out.
//!
//! * [`decode`]: an uploaded or imported picture, with limits on bytes,
//!   format and pixel count checked before anything large is allocated;
//! * [`render`]: the fixed [`Size`]s pages use, cropped to fill, never
//!   enlarged, as JPEG with an ETag;
//! * [`poster`] / [`poster_at`]: a typographic poster for a title with no
//!   artwork, deterministic for a given [`PosterSpec`];
//! * [`display_title`]: "Shawshank Redemption, The" → "The Shawshank
//!   Redemption".
//!
//! The poster font is DejaVu Sans Bold, bundled under its own licence
//! (`fonts/LICENSE-DejaVu.txt`).

mod decode;
mod error;
mod poster;
mod render;
mod title;

pub use decode::{decode, dimensions, sniff, MAX_INPUT_BYTES, MAX_PIXELS};
pub use error::ArtError;
pub use image::{DynamicImage, RgbImage};
pub use poster::{
    contrast_ratio, poster, poster_at, relative_luminance, PosterSpec, MAX_SIDE, MIN_CONTRAST,
    MIN_SIDE, POSTER_HEIGHT, POSTER_WIDTH,
};
pub use render::{
    encode_jpeg, etag_of, render, render_rgb, renditions_for, Rendition, Size, FLATTEN_BACKGROUND,
    JPEG_QUALITY,
};
pub use title::display_title;
