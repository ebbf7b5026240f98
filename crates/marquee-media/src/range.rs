//! An HTTP `Range` request header (RFC 9110 §14) against a file's length.
//!
//! One byte range is served as 206 with `Content-Range`; a suffix range
//! (`bytes=-500`) is the file's last 500 bytes; an open range
//! (`bytes=100-`) runs to the end, and an end past the file is clamped.
//! Everything else a player never sends is refused with 416 and
//! `Content-Range: bytes */LEN` rather than guessed at: several ranges at
//! once (which would need a `multipart/byteranges` body), a reversed range,
//! a start at or past the end, garbage. A header in a unit other than bytes
//! is ignored (the whole file, 200), as the RFC asks.

/// What to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// No (usable) Range header: the whole file, 200.
    Full,
    /// Bytes `start..=end`, 206.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// 416 Range Not Satisfiable.
    Unsatisfiable,
}

impl ByteRange {
    /// The `Content-Range` header for this answer on a file of `len` bytes
    /// (none for the whole file).
    pub fn content_range(&self, len: u64) -> Option<String> {
        match self {
            ByteRange::Full => None,
            ByteRange::Partial { start, end } => Some(format!("bytes {start}-{end}/{len}")),
            ByteRange::Unsatisfiable => Some(format!("bytes */{len}")),
        }
    }

    /// How many bytes the body carries.
    pub fn body_len(&self, len: u64) -> u64 {
        match self {
            ByteRange::Full => len,
            ByteRange::Partial { start, end } => end - start + 1,
            ByteRange::Unsatisfiable => 0,
        }
    }
}

/// Parses `header` (the Range header's value, if any) for a file of `len`
/// bytes.
pub fn parse_range(header: Option<&str>, len: u64) -> ByteRange {
    let Some(h) = header.map(str::trim) else {
        return ByteRange::Full;
    };
    let Some((unit, spec)) = h.split_once('=') else {
        return ByteRange::Unsatisfiable;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return ByteRange::Full;
    }
    let spec = spec.trim();
    if spec.contains(',') || len == 0 {
        return ByteRange::Unsatisfiable;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return ByteRange::Unsatisfiable;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.is_empty(), last.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match number(last) {
            Some(0) | None => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Partial {
                start: len.saturating_sub(n),
                end: len - 1,
            },
        },
        // bytes=N-: from N to the end.
        (false, true) => match number(first) {
            Some(start) if start < len => ByteRange::Partial {
                start,
                end: len - 1,
            },
            _ => ByteRange::Unsatisfiable,
        },
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(end)) if start <= end && start < len => ByteRange::Partial {
                start,
                end: end.min(len - 1),
            },
            _ => ByteRange::Unsatisfiable,
        },
        (true, true) => ByteRange::Unsatisfiable,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use ByteRange::*;

    #[test]
    fn what_players_send() {
        assert_eq!(parse_range(None, 1000), Full);
        assert_eq!(
            parse_range(Some("bytes=0-"), 1000),
            Partial { start: 0, end: 999 }
        );
        assert_eq!(
            parse_range(Some("bytes=0-1"), 1000),
            Partial { start: 0, end: 1 }
        );
        assert_eq!(
            parse_range(Some("bytes=500-"), 1000),
            Partial {
                start: 500,
                end: 999
            }
        );
        assert_eq!(
            parse_range(Some("bytes=-100"), 1000),
            Partial {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            parse_range(Some("bytes=-5000"), 1000),
            Partial { start: 0, end: 999 }
        );
        assert_eq!(
            parse_range(Some("bytes=900-5000"), 1000),
            Partial {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            parse_range(Some(" Bytes = 1 - 2 "), 1000),
            Partial { start: 1, end: 2 }
        );
        assert_eq!(
            parse_range(Some("bytes=999-999"), 1000),
            Partial {
                start: 999,
                end: 999
            }
        );
        assert_eq!(
            parse_range(Some("items=0-5"), 1000),
            Full,
            "other units are ignored"
        );
    }

    #[test]
    fn what_is_refused() {
        for bad in [
            "bytes=5-2",                      // reversed
            "bytes=1000-",                    // at the end
            "bytes=1000-1200",                // past the end
            "bytes=0-1,5-9",                  // several ranges
            "bytes=-0",                       // an empty suffix
            "bytes=-",                        // nothing
            "bytes=a-b",                      // garbage
            "bytes=+1-2",                     // a sign
            "bytes=1",                        // no dash
            "bytes",                          // no spec
            "bytes=99999999999999999999999-", // overflow
            "bytes=0x10-",
        ] {
            assert_eq!(parse_range(Some(bad), 1000), Unsatisfiable, "{bad}");
        }
        assert_eq!(
            parse_range(Some("bytes=0-"), 0),
            Unsatisfiable,
            "an empty file"
        );
    }

    #[test]
    fn headers_and_lengths() {
        let p = Partial { start: 10, end: 19 };
        assert_eq!(p.content_range(100).as_deref(), Some("bytes 10-19/100"));
        assert_eq!(p.body_len(100), 10);
        assert_eq!(
            Unsatisfiable.content_range(100).as_deref(),
            Some("bytes */100")
        );
        assert_eq!(Unsatisfiable.body_len(100), 0);
        assert_eq!(Full.content_range(100), None);
        assert_eq!(Full.body_len(100), 100);
    }

    /// Whatever the header, a partial answer lies inside the file.
    #[test]
    fn every_partial_answer_lies_inside_the_file() {
        let parts = ["", "0", "1", "7", "9", "10", "11", "-", "=", ",", "x", " "];
        for len in [1u64, 2, 10] {
            for a in parts {
                for b in parts {
                    for c in parts {
                        let h = format!("bytes={a}{b}{c}");
                        if let Partial { start, end } = parse_range(Some(&h), len) {
                            assert!(start <= end && end < len, "{h} on {len}: {start}-{end}");
                        }
                    }
                }
            }
        }
    }
}
