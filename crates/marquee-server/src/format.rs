//! Time labels shared by the pages and the services (e-mailed transcripts,
//! row cards): pure formatting, no I/O.

use marquee_domain::Millis;

/// `2026-11-23 05:04 UTC`.
pub fn fmt_time(ms: impl std::borrow::Borrow<Millis>) -> String {
    let ms: Millis = *ms.borrow();
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// `2026-11-23T05:04:07.123Z` (RFC 3339, UTC), for machine-read exports.
pub fn rfc3339(ms: Millis) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// `20:34`, or `1:02:03` past an hour.
pub fn clock_label(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_labels() {
        assert_eq!(clock_label(1_234_000), "20:34");
        assert_eq!(clock_label(5_000), "0:05");
        assert_eq!(clock_label(3_723_000), "1:02:03");
        assert_eq!(clock_label(-5), "0:00");
    }

    #[test]
    fn times() {
        assert_eq!(fmt_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.5Z");
    }
}
