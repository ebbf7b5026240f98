//! Time labels and counted nouns shared by the pages and the services
//! (e-mailed transcripts, row cards): pure formatting, no I/O.

use marquee_domain::Millis;

/// A moment as people read it: `Mon 23 Nov 2026, 05:04 UTC`.
pub fn fmt_time(ms: impl std::borrow::Borrow<Millis>) -> String {
    let ms: Millis = *ms.borrow();
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {} {}, {:02}:{:02} UTC",
        DAYS[usize::from(t.weekday().number_days_from_monday())],
        t.day(),
        MONTHS[usize::from(u8::from(t.month()).saturating_sub(1))],
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// A moment in a list, as short as it can be next to `now`: `09:08` today,
/// `3 Dec` this year, `3 Dec 2025` before.
pub fn short_when(ms: Millis, now: Millis) -> String {
    let at =
        |ms: Millis| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000);
    let (Ok(t), Ok(n)) = (at(ms), at(now)) else {
        return fmt_time(ms);
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS[usize::from(u8::from(t.month()).saturating_sub(1))];
    if t.date() == n.date() {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else if t.year() == n.year() {
        format!("{} {month}", t.day())
    } else {
        format!("{} {month} {}", t.day(), t.year())
    }
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

/// A running time as people say it: `1 h 50 min`, `45 min`.
pub fn runtime_label(seconds: i64) -> String {
    let m = (seconds.max(0) + 30) / 60;
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// How long something took, as people read it: `850 ms`, `2.4 s`,
/// `3 min 05 s`.
pub fn took(ms: impl Count) -> String {
    let ms = ms.as_count().max(0);
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {:02} s", ms / 60_000, (ms / 1000) % 60),
    }
}

/// A number a page counts things with (templates pass fields by value or
/// by reference).
pub trait Count {
    /// As an `i64` (saturating).
    fn as_count(&self) -> i64;
}

macro_rules! count_ints {
    ($($t:ty),*) => {$(
        impl Count for $t {
            fn as_count(&self) -> i64 {
                i64::try_from(*self).unwrap_or(i64::MAX)
            }
        }
    )*};
}
count_ints!(i32, i64, u32, u64, usize);

impl<T: Count + ?Sized> Count for &T {
    fn as_count(&self) -> i64 {
        (**self).as_count()
    }
}

/// `1 post`, `2 posts`, `0 posts`, `1,234 posts`: a count with its noun in
/// the right number (`one` plus "s"; see [`count_as`] for other plurals).
pub fn count(n: impl Count, one: &str) -> String {
    count_as(n, one, &format!("{one}s"))
}

/// [`count`] with an irregular plural: `count_as(n, "reply", "replies")`.
pub fn count_as(n: impl Count, one: &str, many: &str) -> String {
    let n = n.as_count();
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{grouped} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(took(850), "850 ms");
        assert_eq!(took(2_400i64), "2.4 s");
        assert_eq!(took(185_000u64), "3 min 05 s");
    }

    #[test]
    fn counted_nouns() {
        assert_eq!(count(1, "comment"), "1 comment");
        assert_eq!(count(0u32, "comment"), "0 comments");
        assert_eq!(count(2usize, "post"), "2 posts");
        assert_eq!(count(1234567i64, "title"), "1,234,567 titles");
        assert_eq!(count_as(3, "reply", "replies"), "3 replies");
        assert_eq!(count_as(-1, "day", "days"), "-1 days");
    }

    #[test]
    fn clock_labels() {
        assert_eq!(clock_label(1_234_000), "20:34");
        assert_eq!(clock_label(5_000), "0:05");
        assert_eq!(clock_label(3_723_000), "1:02:03");
        assert_eq!(clock_label(-5), "0:00");
    }

    #[test]
    fn times() {
        assert_eq!(fmt_time(0), "Thu 1 Jan 1970, 00:00 UTC");
        assert_eq!(fmt_time(1_796_288_932_853), "Thu 3 Dec 2026, 09:08 UTC");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.5Z");
        let now = 1_796_288_932_853; // Thu 3 Dec 2026, 09:08 UTC
        assert_eq!(short_when(now - 3_600_000, now), "08:08");
        assert_eq!(short_when(now - 2 * 86_400_000, now), "1 Dec");
        assert_eq!(short_when(now - 400 * 86_400_000, now), "29 Oct 2025");
    }
}
