//! HLS for remuxed and transcoded files (RFC 8216): a VOD media playlist of
//! fixed-length segments, written before any segment exists so the player
//! knows the whole timeline at once and can seek anywhere.
//!
//! `ffmpeg` cuts at keyframes, so with `-c copy` a segment may run a little
//! longer or shorter than [`Segments::target_s`]; players follow the media's
//! timestamps, and the server forces keyframes every `target_s` when it
//! transcodes. When a player asks for a segment far ahead of what the
//! segmenter has written, the server restarts it at
//! [`Segments::start_ms`] of that segment.

/// A file's timeline cut into segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    /// The media's length.
    pub duration_ms: i64,
    /// Each segment's length in whole seconds (the last may be shorter).
    pub target_s: u32,
}

impl Segments {
    /// `duration_ms` cut into `target_s`-second segments (at least 1 s).
    pub fn new(duration_ms: i64, target_s: u32) -> Segments {
        Segments {
            duration_ms: duration_ms.max(0),
            target_s: target_s.max(1),
        }
    }

    fn target_ms(&self) -> i64 {
        i64::from(self.target_s) * 1000
    }

    /// How many segments. A remainder shorter than half a segment joins
    /// the last one: a file's audio often runs a few milliseconds past its
    /// last video frame, and ffmpeg makes no segment of those.
    pub fn count(&self) -> u32 {
        let t = self.target_ms();
        let whole = self.duration_ms / t;
        let rest = self.duration_ms % t;
        let n = if rest == 0 || (rest < t / 2 && whole > 0) {
            whole
        } else {
            whole + 1
        };
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Where segment `i` starts, when there is one.
    pub fn start_ms(&self, i: u32) -> Option<i64> {
        (i < self.count()).then(|| i64::from(i) * self.target_ms())
    }

    /// Segment `i`'s length (the last one runs to the end).
    pub fn length_ms(&self, i: u32) -> Option<i64> {
        let start = self.start_ms(i)?;
        if i + 1 == self.count() {
            Some(self.duration_ms - start)
        } else {
            Some(self.target_ms())
        }
    }

    /// The segment that holds `position_ms` (clamped to the last).
    pub fn at(&self, position_ms: i64) -> u32 {
        let i = position_ms.max(0) / self.target_ms();
        u32::try_from(i)
            .unwrap_or(u32::MAX)
            .min(self.count().saturating_sub(1))
    }

    /// The VOD media playlist; `uri(i)` names segment `i` (relative to the
    /// playlist, and carrying its signature when links are signed).
    pub fn media_playlist(&self, uri: impl Fn(u32) -> String) -> String {
        // The longest segment, rounded up (RFC 8216 4.3.3.1): the last one
        // may be up to half a segment longer.
        let longest = (0..self.count())
            .filter_map(|i| self.length_ms(i))
            .max()
            .unwrap_or(0);
        let target = ((longest + 999) / 1000).max(i64::from(self.target_s));
        let mut out = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
        );
        for i in 0..self.count() {
            let len = self.length_ms(i).unwrap_or(0);
            out.push_str(&format!(
                "#EXTINF:{}.{:03},\n{}\n",
                len / 1000,
                len % 1000,
                uri(i)
            ));
        }
        out.push_str("#EXT-X-ENDLIST\n");
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_ten_and_a_half_second_clip_in_four_second_segments() {
        let s = Segments::new(10_500, 4);
        assert_eq!(s.count(), 3);
        assert_eq!(
            (s.start_ms(0), s.start_ms(2), s.start_ms(3)),
            (Some(0), Some(8_000), None)
        );
        assert_eq!(s.length_ms(2), Some(2_500));
        assert_eq!(
            (s.at(0), s.at(3_999), s.at(4_000), s.at(99_000), s.at(-5)),
            (0, 0, 1, 2, 0)
        );
        let p = s.media_playlist(|i| format!("seg{i}.ts?sig=x"));
        assert_eq!(
            p,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n\
             #EXTINF:4.000,\nseg0.ts?sig=x\n#EXTINF:4.000,\nseg1.ts?sig=x\n#EXTINF:2.500,\nseg2.ts?sig=x\n#EXT-X-ENDLIST\n"
        );
    }

    #[test]
    fn a_few_milliseconds_past_the_last_frame_join_the_last_segment() {
        // 10 s of video with 23 ms more of audio, in 2 s segments.
        let s = Segments::new(10_023, 2);
        assert_eq!(s.count(), 5);
        assert_eq!((s.length_ms(3), s.length_ms(4)), (Some(2_000), Some(2_023)));
        assert_eq!(s.at(10_020), 4);
        // Half a segment or more is a segment of its own.
        assert_eq!(Segments::new(11_000, 2).count(), 6);
        assert_eq!(
            Segments::new(500, 2).count(),
            1,
            "a short clip is one segment"
        );
    }

    #[test]
    fn the_segments_add_up_to_the_duration() {
        for (d, t) in [
            (1, 6),
            (6_000, 6),
            (6_001, 6),
            (3_600_123, 6),
            (59_999, 10),
            (0, 6),
        ] {
            let s = Segments::new(d, t);
            let total: i64 = (0..s.count()).filter_map(|i| s.length_ms(i)).sum();
            assert_eq!(total, d, "{d} ms in {t} s");
            assert!((0..s.count()).all(|i| s.length_ms(i).is_some_and(|l| l > 0)));
        }
        assert_eq!(
            Segments::new(0, 6)
                .media_playlist(|i| i.to_string())
                .matches("#EXTINF")
                .count(),
            0
        );
        assert_eq!(Segments::new(5_000, 0).target_s, 1, "at least a second");
    }
}
