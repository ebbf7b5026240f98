//! `ffprobe -v error -print_format json -show_format -show_streams FILE`,
//! read into the tracks a player offers.
//!
//! ffprobe prints numbers as strings ("duration": "600.040000") and tags in
//! whatever case the container used (`language` in MP4, `LANGUAGE` in some
//! Matroska files); both are handled here. A file with no stream a player
//! can use, or no duration (a truncated or corrupt file), is an error: the
//! scan reports it and offers nothing for it.

use serde::Deserialize;
use std::collections::HashMap;

/// The arguments to run `ffprobe` with, before the file's path.
pub const FFPROBE_ARGS: &[&str] = &[
    "-v",
    "error",
    "-print_format",
    "json",
    "-show_format",
    "-show_streams",
];

/// Why ffprobe's output describes no playable media.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Not ffprobe's JSON.
    #[error("not ffprobe's JSON output: {0}")]
    Json(#[from] serde_json::Error),
    /// Neither a video nor an audio stream.
    #[error("the file has no video or audio stream")]
    NoStreams,
    /// No usable duration: truncated, corrupt, or a live stream.
    #[error("the file has no duration (truncated or corrupt?)")]
    NoDuration,
}

/// What a media file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaInfo {
    /// ffprobe's format names, e.g. `["mov", "mp4", "m4a", "3gp", "3g2", "mj2"]`.
    pub containers: Vec<String>,
    /// Length in milliseconds.
    pub duration_ms: i64,
    /// Overall bit rate, bits per second, when known.
    pub bit_rate: Option<u64>,
    /// The first video stream (cover art pictures are skipped).
    pub video: Option<VideoTrack>,
    /// Audio tracks in file order.
    pub audio: Vec<AudioTrack>,
    /// Subtitle tracks in file order.
    pub subtitles: Vec<SubtitleTrack>,
}

/// A video stream.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoTrack {
    /// Stream index in the file.
    pub index: u32,
    /// Codec, e.g. `h264`, `hevc`, `vp9`, `av1`.
    pub codec: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Pixel format, e.g. `yuv420p` (10-bit H.264 does not play in browsers).
    pub pix_fmt: Option<String>,
}

/// An audio stream.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioTrack {
    /// Stream index in the file.
    pub index: u32,
    /// Codec, e.g. `aac`, `ac3`, `opus`.
    pub codec: String,
    /// Channels (2 stereo, 6 for 5.1).
    pub channels: u32,
    /// ISO 639 language, lower-case; `None` when unknown (`und`).
    pub language: Option<String>,
    /// The track's title tag ("Director's commentary").
    pub title: Option<String>,
    /// Marked as the default track.
    pub default: bool,
}

/// A subtitle stream inside the file.
#[derive(Debug, Clone, PartialEq)]
pub struct SubtitleTrack {
    /// Stream index in the file.
    pub index: u32,
    /// Codec, e.g. `subrip`, `mov_text`, `webvtt`, `hdmv_pgs_subtitle`.
    pub codec: String,
    /// ISO 639 language, lower-case; `None` when unknown.
    pub language: Option<String>,
    /// Title tag.
    pub title: Option<String>,
    /// Marked as default.
    pub default: bool,
    /// Forced (shown for foreign-language lines only).
    pub forced: bool,
}

impl SubtitleTrack {
    /// Text subtitles, which can be extracted as WebVTT; pictures (PGS,
    /// DVD) cannot be and would have to be burnt into a transcode.
    pub fn is_text(&self) -> bool {
        matches!(
            self.codec.as_str(),
            "subrip" | "srt" | "webvtt" | "mov_text" | "ass" | "ssa" | "text"
        )
    }
}

impl MediaInfo {
    /// The audio track a player starts with: the default one, else the first.
    pub fn default_audio(&self) -> Option<&AudioTrack> {
        self.audio
            .iter()
            .find(|a| a.default)
            .or_else(|| self.audio.first())
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    streams: Vec<RawStream>,
    format: Option<RawFormat>,
}

#[derive(Deserialize)]
struct RawStream {
    index: u32,
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    channels: Option<u32>,
    pix_fmt: Option<String>,
    duration: Option<String>,
    #[serde(default)]
    tags: HashMap<String, String>,
    #[serde(default)]
    disposition: HashMap<String, i64>,
}

#[derive(Deserialize)]
struct RawFormat {
    format_name: Option<String>,
    duration: Option<String>,
    bit_rate: Option<String>,
}

impl RawStream {
    fn tag(&self, key: &str) -> Option<String> {
        self.tags
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
    fn language(&self) -> Option<String> {
        self.tag("language")
            .map(|l| l.to_ascii_lowercase())
            .filter(|l| l != "und" && l != "unknown")
    }
    fn flag(&self, key: &str) -> bool {
        self.disposition.get(key).copied().unwrap_or(0) != 0
    }
    fn codec(&self) -> String {
        self.codec_name
            .clone()
            .unwrap_or_else(|| "unknown".into())
            .to_ascii_lowercase()
    }
}

/// Seconds as ffprobe prints them ("600.040000") → milliseconds, when finite
/// and positive.
fn seconds_ms(s: Option<&str>) -> Option<i64> {
    let v: f64 = s?.trim().parse().ok()?;
    (v.is_finite() && v > 0.0 && v < 1.0e9).then(|| (v * 1000.0).round() as i64)
}

/// Reads ffprobe's JSON (see [`FFPROBE_ARGS`]).
pub fn parse_ffprobe(json: &str) -> Result<MediaInfo, ProbeError> {
    let raw: Raw = serde_json::from_str(json)?;
    let mut video = None;
    let mut audio = Vec::new();
    let mut subtitles = Vec::new();
    for s in &raw.streams {
        match s.codec_type.as_deref() {
            // Cover art in a music file or an MP4 is a one-frame "video".
            Some("video") if video.is_none() && !s.flag("attached_pic") => {
                video = Some(VideoTrack {
                    index: s.index,
                    codec: s.codec(),
                    width: s.width.unwrap_or(0),
                    height: s.height.unwrap_or(0),
                    pix_fmt: s.pix_fmt.clone(),
                });
            }
            Some("audio") => audio.push(AudioTrack {
                index: s.index,
                codec: s.codec(),
                channels: s.channels.unwrap_or(2),
                language: s.language(),
                title: s.tag("title"),
                default: s.flag("default"),
            }),
            Some("subtitle") => subtitles.push(SubtitleTrack {
                index: s.index,
                codec: s.codec(),
                language: s.language(),
                title: s.tag("title"),
                default: s.flag("default"),
                forced: s.flag("forced"),
            }),
            _ => {}
        }
    }
    if video.is_none() && audio.is_empty() {
        return Err(ProbeError::NoStreams);
    }
    let format = raw.format.as_ref();
    let duration_ms = seconds_ms(format.and_then(|f| f.duration.as_deref()))
        .or_else(|| {
            raw.streams
                .iter()
                .filter_map(|s| seconds_ms(s.duration.as_deref()))
                .max()
        })
        .ok_or(ProbeError::NoDuration)?;
    Ok(MediaInfo {
        containers: format
            .and_then(|f| f.format_name.as_deref())
            .unwrap_or_default()
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty())
            .collect(),
        duration_ms,
        bit_rate: format
            .and_then(|f| f.bit_rate.as_deref())
            .and_then(|b| b.trim().parse().ok()),
        video,
        audio,
        subtitles,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;

    /// What ffprobe 5 prints for a Matroska episode: H.264, English AC-3
    /// 5.1 (default) and a French AAC commentary, English SubRip and a
    /// forced French PGS track, plus cover art.
    pub(crate) const MKV: &str = r#"{
      "streams": [
        {"index": 0, "codec_name": "h264", "codec_type": "video", "width": 1920, "height": 1080,
         "pix_fmt": "yuv420p", "disposition": {"default": 1, "attached_pic": 0}, "tags": {"DURATION": "00:42:10.123000000"}},
        {"index": 1, "codec_name": "ac3", "codec_type": "audio", "channels": 6,
         "disposition": {"default": 1, "forced": 0}, "tags": {"language": "eng"}},
        {"index": 2, "codec_name": "aac", "codec_type": "audio", "channels": 2,
         "disposition": {"default": 0}, "tags": {"LANGUAGE": "FRE", "title": "Commentaire"}},
        {"index": 3, "codec_name": "subrip", "codec_type": "subtitle",
         "disposition": {"default": 0, "forced": 0}, "tags": {"language": "eng"}},
        {"index": 4, "codec_name": "hdmv_pgs_subtitle", "codec_type": "subtitle",
         "disposition": {"default": 0, "forced": 1}, "tags": {"language": "fre"}},
        {"index": 5, "codec_name": "mjpeg", "codec_type": "video", "width": 600, "height": 900,
         "disposition": {"attached_pic": 1}, "tags": {"filename": "cover.jpg"}}
      ],
      "format": {"filename": "S01E01.mkv", "nb_streams": 6, "format_name": "matroska,webm",
                 "duration": "2530.123000", "size": "1200000000", "bit_rate": "3794200"}
    }"#;

    #[test]
    fn reads_tracks_languages_and_flags() {
        let m = parse_ffprobe(MKV).unwrap();
        assert_eq!(m.containers, vec!["matroska", "webm"]);
        assert_eq!(m.duration_ms, 2_530_123);
        assert_eq!(m.bit_rate, Some(3_794_200));
        let v = m.video.as_ref().unwrap();
        assert_eq!(
            (v.index, v.codec.as_str(), v.width, v.height),
            (0, "h264", 1920, 1080)
        );
        assert_eq!(m.audio.len(), 2);
        assert_eq!(m.audio[0].language.as_deref(), Some("eng"));
        assert_eq!(
            m.audio[1].language.as_deref(),
            Some("fre"),
            "upper-case tag"
        );
        assert_eq!(m.audio[1].title.as_deref(), Some("Commentaire"));
        assert_eq!(m.default_audio().unwrap().index, 1);
        assert_eq!(m.subtitles.len(), 2);
        assert!(m.subtitles[0].is_text());
        assert!(!m.subtitles[1].is_text());
        assert!(m.subtitles[1].forced);
    }

    #[test]
    fn cover_art_is_not_the_video() {
        let json = r#"{"streams": [
            {"index": 0, "codec_name": "mjpeg", "codec_type": "video", "width": 500, "height": 500, "disposition": {"attached_pic": 1}},
            {"index": 1, "codec_name": "mp3", "codec_type": "audio", "channels": 2}],
          "format": {"format_name": "mp3", "duration": "180.5"}}"#;
        let m = parse_ffprobe(json).unwrap();
        assert!(m.video.is_none());
        assert_eq!(m.duration_ms, 180_500);
        assert_eq!(m.default_audio().unwrap().codec, "mp3");
    }

    #[test]
    fn duration_falls_back_to_the_longest_stream() {
        let json = r#"{"streams": [
            {"index": 0, "codec_name": "vp9", "codec_type": "video", "width": 640, "height": 360, "duration": "9.96"},
            {"index": 1, "codec_name": "opus", "codec_type": "audio", "duration": "10.008", "tags": {"language": "und"}}],
          "format": {"format_name": "matroska,webm", "duration": "N/A"}}"#;
        let m = parse_ffprobe(json).unwrap();
        assert_eq!(m.duration_ms, 10_008);
        assert_eq!(m.audio[0].language, None, "und is unknown");
        assert_eq!(m.bit_rate, None);
    }

    #[test]
    fn truncated_corrupt_or_empty_files_are_errors() {
        // ffprobe on a truncated file: streams but no duration anywhere.
        let no_duration = r#"{"streams": [{"index": 0, "codec_name": "h264", "codec_type": "video"}],
            "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2"}}"#;
        assert!(matches!(
            parse_ffprobe(no_duration),
            Err(ProbeError::NoDuration)
        ));
        // ffprobe on a text file: nothing at all.
        assert!(matches!(parse_ffprobe("{}"), Err(ProbeError::NoStreams)));
        let subs_only = r#"{"streams": [{"index": 0, "codec_name": "subrip", "codec_type": "subtitle"}],
            "format": {"duration": "10"}}"#;
        assert!(matches!(
            parse_ffprobe(subs_only),
            Err(ProbeError::NoStreams)
        ));
        assert!(matches!(
            parse_ffprobe("not json"),
            Err(ProbeError::Json(_))
        ));
        for bad in ["-3", "NaN", "inf", "0", ""] {
            let j = format!(
                r#"{{"streams": [{{"index": 0, "codec_type": "audio", "codec_name": "aac"}}], "format": {{"duration": "{bad}"}}}}"#
            );
            assert!(
                matches!(parse_ffprobe(&j), Err(ProbeError::NoDuration)),
                "{bad}"
            );
        }
    }
}
