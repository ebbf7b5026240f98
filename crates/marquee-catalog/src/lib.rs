//! Bringing your own library, without I/O.
//!
//! - [`entry`]: what a catalog source says about a title ([`CatalogEntry`]),
//!   whatever it came from.
//! - [`feed`]: the versioned JSON Lines feed (`docs/catalog-feed.md`).
//! - [`nfo`]: Kodi/Jellyfin `.nfo` files (`movie.nfo`, `tvshow.nfo`, episodes).
//! - [`layout`]: which files of a library folder are titles, artwork and media,
//!   from a listing the caller made.
//!
//! Pictures (decoding, resizing, generated posters) are `marquee-artwork`'s.

pub mod entry;
pub mod feed;
pub mod layout;
pub mod nfo;

pub use entry::*;
