//! How a browser can play a file, in the spirit of Jellyfin's direct play /
//! direct stream / transcode decision.
//!
//! - **Direct**: the container and every chosen codec play in `<video>` as
//!   they are; the file is served with byte ranges.
//! - **Remux**: the codecs play but the container does not (H.264/AAC in
//!   Matroska): `ffmpeg -c copy` into HLS segments, cheap.
//! - **Transcode**: a codec does not play (HEVC in most browsers, AC-3,
//!   DTS, 10-bit H.264): `ffmpeg` to H.264/AAC, expensive, bounded per core.

use crate::probe::{AudioTrack, MediaInfo};

/// How to play a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayMethod {
    /// Serve the file as it is.
    Direct,
    /// Copy the streams into HLS.
    Remux,
    /// Re-encode to H.264/AAC HLS.
    Transcode,
}

impl PlayMethod {
    /// Stable name for the API.
    pub fn as_str(self) -> &'static str {
        match self {
            PlayMethod::Direct => "direct",
            PlayMethod::Remux => "remux",
            PlayMethod::Transcode => "transcode",
        }
    }
}

/// What a client plays natively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// ffprobe format names it plays as files.
    pub containers: Vec<String>,
    /// Video codecs.
    pub video_codecs: Vec<String>,
    /// Audio codecs.
    pub audio_codecs: Vec<String>,
    /// At most this many audio channels without downmixing.
    pub max_audio_channels: u32,
}

impl Capabilities {
    /// What every current desktop and phone browser plays in `<video>`:
    /// MP4 and WebM (and MP3 files) with H.264 (8-bit), VP8, VP9 or AV1 video and AAC, MP3,
    /// Opus, Vorbis or FLAC audio, in stereo or 5.1.
    pub fn browser() -> Capabilities {
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect();
        Capabilities {
            containers: v(&["mp4", "mov", "webm", "mp3"]),
            video_codecs: v(&["h264", "vp8", "vp9", "av1"]),
            audio_codecs: v(&["aac", "mp3", "opus", "vorbis", "flac"]),
            max_audio_channels: 6,
        }
    }

    fn plays_audio(&self, a: &AudioTrack) -> bool {
        self.audio_codecs.contains(&a.codec) && a.channels <= self.max_audio_channels
    }
}

/// How `caps` plays `info` with the audio track `audio` (a stream index;
/// `None`: the file's default).
pub fn play_method(info: &MediaInfo, audio: Option<u32>, caps: &Capabilities) -> PlayMethod {
    let video_ok = match &info.video {
        None => true,
        Some(v) => {
            caps.video_codecs.contains(&v.codec)
                // High-bit-depth H.264 decodes nowhere in hardware.
                && !(v.codec == "h264"
                    && v.pix_fmt.as_deref().is_some_and(|p| p.contains("10") || p.contains("12")))
        }
    };
    let track = match audio {
        Some(i) => info
            .audio
            .iter()
            .find(|a| a.index == i)
            .or_else(|| info.default_audio()),
        None => info.default_audio(),
    };
    let audio_ok = track.is_none_or(|a| caps.plays_audio(a));
    if !(video_ok && audio_ok) {
        return PlayMethod::Transcode;
    }
    // A direct file plays its default audio track: another track needs HLS.
    let default_audio = match (track, info.default_audio()) {
        (Some(t), Some(d)) => t.index == d.index,
        _ => true,
    };
    // ffprobe calls every Matroska file "matroska,webm": only a file whose
    // codecs are WebM's is a WebM.
    let matroska = info.containers.iter().any(|c| c == "matroska");
    let container_ok = info.containers.iter().any(|c| caps.containers.contains(c))
        && (!matroska || is_webm(info, track));
    if container_ok && default_audio {
        PlayMethod::Direct
    } else {
        PlayMethod::Remux
    }
}

fn is_webm(info: &MediaInfo, audio: Option<&AudioTrack>) -> bool {
    let video = info
        .video
        .as_ref()
        .is_none_or(|v| matches!(v.codec.as_str(), "vp8" | "vp9" | "av1"));
    let audio = audio.is_none_or(|a| matches!(a.codec.as_str(), "opus" | "vorbis"));
    video && audio
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::probe::{parse_ffprobe, tests::MKV, VideoTrack};

    fn file(container: &str, video: Option<(&str, &str)>, audio: &[(&str, u32)]) -> MediaInfo {
        MediaInfo {
            containers: container.split(',').map(String::from).collect(),
            duration_ms: 10_000,
            bit_rate: None,
            video: video.map(|(codec, pix)| VideoTrack {
                index: 0,
                codec: codec.into(),
                width: 1280,
                height: 720,
                pix_fmt: Some(pix.into()),
            }),
            audio: audio
                .iter()
                .enumerate()
                .map(|(i, (codec, channels))| AudioTrack {
                    index: i as u32 + 1,
                    codec: codec.to_string(),
                    channels: *channels,
                    language: None,
                    title: None,
                    default: i == 0,
                })
                .collect(),
            subtitles: vec![],
        }
    }

    #[test]
    fn decides_like_a_browser() {
        let b = Capabilities::browser();
        let mp4 = "mov,mp4,m4a,3gp,3g2,mj2";
        let cases = [
            (
                file(mp4, Some(("h264", "yuv420p")), &[("aac", 2)]),
                PlayMethod::Direct,
            ),
            (
                file(mp4, Some(("h264", "yuv420p10le")), &[("aac", 2)]),
                PlayMethod::Transcode,
            ),
            (
                file(mp4, Some(("hevc", "yuv420p")), &[("aac", 2)]),
                PlayMethod::Transcode,
            ),
            (
                file(mp4, Some(("h264", "yuv420p")), &[("ac3", 6)]),
                PlayMethod::Transcode,
            ),
            (
                file(mp4, Some(("h264", "yuv420p")), &[("aac", 8)]),
                PlayMethod::Transcode,
            ),
            (
                file("matroska,webm", Some(("vp9", "yuv420p")), &[("opus", 2)]),
                PlayMethod::Direct,
            ),
            (
                file("matroska,webm", Some(("h264", "yuv420p")), &[("aac", 2)]),
                PlayMethod::Remux,
            ),
            (
                file("mpegts", Some(("h264", "yuv420p")), &[("aac", 2)]),
                PlayMethod::Remux,
            ),
            (
                file("avi", Some(("mpeg4", "yuv420p")), &[("mp3", 2)]),
                PlayMethod::Transcode,
            ),
            (file("mp3", None, &[("mp3", 2)]), PlayMethod::Direct),
            (
                file("wav", None, &[("pcm_s16le", 2)]),
                PlayMethod::Transcode,
            ),
        ];
        for (i, (f, want)) in cases.iter().enumerate() {
            assert_eq!(play_method(f, None, &b), *want, "case {i}: {f:?}");
        }
    }

    #[test]
    fn a_second_audio_track_needs_hls() {
        let b = Capabilities::browser();
        let f = file(
            "mov,mp4",
            Some(("h264", "yuv420p")),
            &[("aac", 2), ("aac", 2)],
        );
        assert_eq!(play_method(&f, Some(1), &b), PlayMethod::Direct);
        assert_eq!(play_method(&f, Some(2), &b), PlayMethod::Remux);
        // An unknown track index is the default track.
        assert_eq!(play_method(&f, Some(9), &b), PlayMethod::Direct);
    }

    #[test]
    fn the_sample_episode_transcodes_for_its_ac3_and_remuxes_for_the_commentary() {
        let m = parse_ffprobe(MKV).unwrap();
        let b = Capabilities::browser();
        assert_eq!(play_method(&m, None, &b), PlayMethod::Transcode);
        assert_eq!(play_method(&m, Some(2), &b), PlayMethod::Remux);
        assert_eq!(PlayMethod::Remux.as_str(), "remux");
    }
}
