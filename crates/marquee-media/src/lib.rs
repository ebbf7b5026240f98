//! Media without I/O, for real playback (#23). Files and byte ranges are
//! served by tower-http's `ServeFile` (206, 416, conditional requests); the
//! rules around them are here.
//!
//! - [`probe`]: `ffprobe`'s JSON as a [`probe::MediaInfo`] (duration,
//!   container, video, audio and subtitle tracks); a file it cannot describe
//!   is an error the library scan reports, never a source.
//! - [`plan`]: how a browser plays a file: as it is, remuxed into HLS (the
//!   codecs play, the container does not), or transcoded to H.264/AAC.
//! - [`hls`]: VOD media playlists and where each segment starts, so a seek
//!   far ahead restarts the segmenter at the right segment.
//! - [`sign`]: media links signed with HMAC-SHA256 that expire, so a CDN can
//!   serve them and a leaked link stops working.
//! - [`subtitles`]: SubRip (`.srt`) to WebVTT, the only text format
//!   `<video>` reads.

pub mod hls;
pub mod plan;
pub mod probe;
pub mod sign;
pub mod subtitles;
