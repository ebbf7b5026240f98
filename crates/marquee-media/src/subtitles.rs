//! SubRip (`.srt`) to WebVTT, the one text format `<video>` reads.
//!
//! SubRip as found next to real files: a byte-order mark, Windows line
//! ends, cue numbers that skip or repeat, `,` before the milliseconds,
//! coordinates after the times (`X1:…`), `<i>`/`<b>`/`<u>` and `<font>`
//! tags, ASS overrides such as `{\an8}`. WebVTT keeps the times (with `.`),
//! the `i`/`b`/`u` tags, and the text, escaped: a `<` or `&` that is not one
//! of those tags would otherwise be read as markup by the browser's parser.
//! A cue whose times do not parse is skipped; a file without one good cue
//! is an error the library scan reports.

/// Why a subtitle file gives no WebVTT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubtitleError {
    /// No cue with readable times.
    #[error("no subtitle cue with readable times")]
    NoCues,
}

/// `00:01:02,500` or `00:01:02.500` (hours may be one digit or more than
/// two) → milliseconds.
fn timestamp_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    let (hms, frac) = s.split_once([',', '.']).unwrap_or((s, "0"));
    let mut parts = hms.split(':').map(|p| p.trim().parse::<u64>().ok());
    let (h, m, sec) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(h)), Some(Some(m)), Some(Some(s)), None) => (h, m, s),
        (Some(Some(m)), Some(Some(s)), None, None) => (0, m, s),
        _ => return None,
    };
    if m >= 60 || sec >= 60 || frac.is_empty() || frac.len() > 3 {
        return None;
    }
    let ms: u64 = frac.parse().ok()?;
    let ms = ms * 10u64.pow(3 - frac.len() as u32);
    Some(((h * 60 + m) * 60 + sec) * 1000 + ms)
}

fn vtt_time(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// A cue's text as WebVTT: `<i>`, `<b>`, `<u>` (and their ends) kept, other
/// tags and `{…}` overrides dropped, `&`, `<`, `>` escaped.
fn cue_text(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(end) = rest.find('>') {
                let tag = rest[1..end].trim().to_ascii_lowercase();
                let name = tag.trim_start_matches('/');
                if matches!(name, "i" | "b" | "u") {
                    out.push_str(&format!("<{tag}>"));
                    rest = &rest[end + 1..];
                    continue;
                }
                if name.starts_with("font") {
                    rest = &rest[end + 1..];
                    continue;
                }
            }
            out.push_str("&lt;");
        } else if c == '{' && rest.starts_with("{\\") {
            if let Some(end) = rest.find('}') {
                rest = &rest[end + 1..];
                continue;
            }
            out.push('{');
        } else {
            match c {
                '&' => out.push_str("&amp;"),
                '>' => out.push_str("&gt;"),
                c => out.push(c),
            }
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Converts SubRip to WebVTT.
pub fn srt_to_vtt(srt: &str) -> Result<String, SubtitleError> {
    let text = srt
        .trim_start_matches('\u{feff}')
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let mut out = String::from("WEBVTT\n");
    let mut cues = 0;
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
        let Some(t) = lines.iter().position(|l| l.contains("-->")) else {
            continue;
        };
        let Some((from, to)) = lines[t].split_once("-->") else {
            continue;
        };
        // Anything after the end time (SubRip coordinates) is dropped.
        let to = to.split_whitespace().next().unwrap_or("");
        let (Some(start), Some(end)) = (timestamp_ms(from), timestamp_ms(to)) else {
            continue;
        };
        if end < start {
            continue;
        }
        let body: Vec<String> = lines[t + 1..]
            .iter()
            .map(|l| cue_text(l.trim_end()))
            .collect();
        out.push_str(&format!("\n{} --> {}\n", vtt_time(start), vtt_time(end)));
        for l in body {
            // "-->" inside text would start a new cue: WebVTT forbids it.
            out.push_str(&l.replace("-->", "--&gt;"));
            out.push('\n');
        }
        cues += 1;
    }
    if cues == 0 {
        return Err(SubtitleError::NoCues);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_real_world_srt() {
        let srt = "\u{feff}1\r\n00:00:01,000 --> 00:00:03,500 X1:10 X2:20 Y1:5 Y2:9\r\n<i>Previously on</i> Marquee…\r\n\r\n\
                   7\r\n00:00:04,250 --> 00:00:06,000\r\n{\\an8}<font color=\"#ffff00\">Tom & Jerry</font>\r\nsay 2 < 3\r\n\r\n\
                   8\r\n00:01:02.5 --> 01:00:00,000\r\n-->arrow<script>x</script>\r\n";
        let vtt = srt_to_vtt(srt).unwrap();
        assert_eq!(
            vtt,
            "WEBVTT\n\n00:00:01.000 --> 00:00:03.500\n<i>Previously on</i> Marquee…\n\n\
             00:00:04.250 --> 00:00:06.000\nTom &amp; Jerry\nsay 2 &lt; 3\n\n\
             00:01:02.500 --> 01:00:00.000\n--&gt;arrow&lt;script&gt;x&lt;/script&gt;\n"
        );
    }

    #[test]
    fn broken_cues_are_skipped_and_an_empty_file_is_an_error() {
        let srt = "1\n00:00:99,000 --> 00:00:03,000\nbad seconds\n\n2\n00:00:05,000 --> 00:00:04,000\nbackwards\n\n\
                   3\n00:00:06,000 --> 00:00:07,000\nkept\n";
        let vtt = srt_to_vtt(srt).unwrap();
        assert_eq!(vtt, "WEBVTT\n\n00:00:06.000 --> 00:00:07.000\nkept\n");
        assert_eq!(srt_to_vtt(""), Err(SubtitleError::NoCues));
        assert_eq!(
            srt_to_vtt("just some text\nno times"),
            Err(SubtitleError::NoCues)
        );
        assert_eq!(srt_to_vtt("1\nxx --> yy\nhi"), Err(SubtitleError::NoCues));
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp_ms("00:00:01,000"), Some(1_000));
        assert_eq!(timestamp_ms("1:02:03.4"), Some(3_723_400));
        assert_eq!(timestamp_ms("02:03,45"), Some(123_450));
        assert_eq!(timestamp_ms("100:00:00,000"), Some(360_000_000));
        for bad in [
            "",
            "1",
            "a:b:c",
            "00:60:00,000",
            "00:00:00,1234",
            "00:00:00,",
            "1:2:3:4",
        ] {
            assert_eq!(timestamp_ms(bad), None, "{bad}");
        }
        assert_eq!(vtt_time(3_723_400), "01:02:03.400");
    }
}
