//! Business hours: when the support team answers live. Outside them the
//! help page offers the offline form and the chat says when someone is
//! back. Pure: callers convert "now" to the local weekday and minute in the
//! configured time zone and pass them in.
//!
//! The written form is what an operator types in `[support] hours`:
//! `always`, or `;`-separated entries of days and a time range, e.g.
//! `mon-fri 09:00-18:00; sat 10:00-14:00`. Days are `mon`…`sun`, a range
//! (`mon-fri`, wrapping allowed: `sat-sun`) or a comma list (`mon,wed`);
//! times are 24-hour `HH:MM`, the end after the start (`24:00` allowed).

use crate::DomainError;

/// Minutes in a day.
const DAY: u16 = 24 * 60;
/// Full day names, for people.
const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Opening spans per weekday (Monday = 0), minutes from local midnight,
/// half-open `[start, end)`, sorted and merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    days: [Vec<(u16, u16)>; 7],
}

/// The next opening, seen from a local weekday and minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextOpen {
    /// Whole days from today (0: later today).
    pub days_ahead: u8,
    /// Its weekday (Monday = 0).
    pub weekday: u8,
    /// Minute of that day.
    pub minute: u16,
}

impl BusinessHours {
    /// Open around the clock.
    pub fn always() -> BusinessHours {
        BusinessHours {
            days: std::array::from_fn(|_| vec![(0, DAY)]),
        }
    }

    /// Parses the written form (see the module docs).
    pub fn parse(spec: &str) -> Result<BusinessHours, DomainError> {
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("always") {
            return Ok(BusinessHours::always());
        }
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        let mut any = false;
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (day_part, time_part) = entry.split_once(char::is_whitespace).ok_or_else(|| {
                invalid(format!(
                    "{entry:?}: write days then a time range, e.g. \"mon-fri 09:00-18:00\""
                ))
            })?;
            let which = parse_days(day_part.trim())?;
            let (start, end) = parse_range(time_part.trim())?;
            for d in which {
                days[d].push((start, end));
            }
            any = true;
        }
        if !any {
            return Err(invalid(
                "is empty: write \"always\" or e.g. \"mon-fri 09:00-18:00\"".into(),
            ));
        }
        for spans in &mut days {
            spans.sort_unstable();
            let mut merged: Vec<(u16, u16)> = Vec::with_capacity(spans.len());
            for &(s, e) in spans.iter() {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            *spans = merged;
        }
        Ok(BusinessHours { days })
    }

    /// Whether the team is in at this local weekday (Monday = 0) and minute.
    pub fn is_open(&self, weekday: u8, minute: u16) -> bool {
        self.days
            .get(usize::from(weekday))
            .is_some_and(|spans| spans.iter().any(|&(s, e)| s <= minute && minute < e))
    }

    /// Open every minute of the week.
    pub fn is_always(&self) -> bool {
        self.days.iter().all(|spans| spans == &[(0, DAY)])
    }

    /// The next opening strictly after closing time, from this local weekday
    /// and minute; `None` if it never opens. (When open now, this is the
    /// next opening after the current span.)
    pub fn next_open(&self, weekday: u8, minute: u16) -> Option<NextOpen> {
        let today = usize::from(weekday % 7);
        for ahead in 0..8u8 {
            let d = (today + usize::from(ahead)) % 7;
            let start = self.days[d]
                .iter()
                .map(|&(s, _)| s)
                .find(|&s| ahead > 0 || s > minute);
            if let Some(s) = start {
                // A span that starts at midnight continuing yesterday's is not
                // an opening.
                let continues = s == 0 && {
                    let prev = (d + 6) % 7;
                    self.days[prev].iter().any(|&(_, e)| e == DAY)
                };
                if !continues || ahead == 0 {
                    return u8::try_from(d).ok().map(|weekday| NextOpen {
                        days_ahead: ahead,
                        weekday,
                        minute: s,
                    });
                }
            }
        }
        None
    }

    /// The hours in words: "Monday to Friday 09:00–18:00; Saturday 10:00–14:00".
    pub fn describe(&self) -> String {
        if self.is_always() {
            return "around the clock, every day".into();
        }
        // Group consecutive days with the same spans.
        let mut parts = Vec::new();
        let mut d = 0;
        while d < 7 {
            let spans = &self.days[d];
            let mut end = d;
            while end + 1 < 7 && &self.days[end + 1] == spans {
                end += 1;
            }
            if !spans.is_empty() {
                let days = if end == d {
                    DAY_NAMES[d].to_string()
                } else {
                    format!("{} to {}", DAY_NAMES[d], DAY_NAMES[end])
                };
                let times: Vec<String> = spans
                    .iter()
                    .map(|&(s, e)| format!("{}–{}", clock(s), clock(e)))
                    .collect();
                parts.push(format!("{days} {}", times.join(", ")));
            }
            d = end + 1;
        }
        parts.join("; ")
    }
}

/// A weekday's name (Monday = 0).
pub fn day_name(weekday: u8) -> &'static str {
    DAY_NAMES[usize::from(weekday % 7)]
}

/// `HH:MM` for a minute of the day.
pub fn clock(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn invalid(message: String) -> DomainError {
    DomainError::invalid("support.hours", message)
}

fn day_index(name: &str) -> Result<usize, DomainError> {
    let lower = name.to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|n| lower.len() >= 3 && n.to_ascii_lowercase().starts_with(&lower))
        .ok_or_else(|| {
            invalid(format!(
                "{name:?} is not a day: use mon, tue, wed, thu, fri, sat or sun"
            ))
        })
}

fn parse_days(part: &str) -> Result<Vec<usize>, DomainError> {
    let mut out = Vec::new();
    for item in part.split(',').map(str::trim) {
        if let Some((a, b)) = item.split_once('-') {
            let (a, b) = (day_index(a.trim())?, day_index(b.trim())?);
            let mut d = a;
            loop {
                out.push(d);
                if d == b {
                    break;
                }
                d = (d + 1) % 7;
            }
        } else {
            out.push(day_index(item)?);
        }
    }
    Ok(out)
}

fn parse_time(t: &str) -> Result<u16, DomainError> {
    let bad = || invalid(format!("{t:?} is not a time: use 24-hour HH:MM"));
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_range(part: &str) -> Result<(u16, u16), DomainError> {
    let (a, b) = part
        .split_once('-')
        .ok_or_else(|| invalid(format!("{part:?}: write a time range, e.g. 09:00-18:00")))?;
    let (start, end) = (parse_time(a.trim())?, parse_time(b.trim())?);
    if end <= start {
        return Err(invalid(format!(
            "{part:?}: the end must be after the start (a range past midnight is two entries)"
        )));
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_with_a_short_saturday() {
        let h = BusinessHours::parse("mon-fri 09:00-18:00; sat 10:00-14:00").unwrap();
        assert!(h.is_open(0, 9 * 60));
        assert!(!h.is_open(0, 9 * 60 - 1));
        assert!(!h.is_open(4, 18 * 60), "the end is exclusive");
        assert!(h.is_open(5, 13 * 60 + 59));
        assert!(!h.is_open(6, 12 * 60));
        assert_eq!(
            h.describe(),
            "Monday to Friday 09:00–18:00; Saturday 10:00–14:00"
        );
        // Saturday 15:00 → Monday 09:00, two days ahead.
        assert_eq!(
            h.next_open(5, 15 * 60),
            Some(NextOpen {
                days_ahead: 2,
                weekday: 0,
                minute: 540
            })
        );
        // Tuesday 07:00 → today at 09:00.
        assert_eq!(
            h.next_open(1, 7 * 60),
            Some(NextOpen {
                days_ahead: 0,
                weekday: 1,
                minute: 540
            })
        );
    }

    #[test]
    fn ranges_wrap_and_merge() {
        let h = BusinessHours::parse("sat-sun 10:00-12:00; sun 11:00-13:00").unwrap();
        assert!(h.is_open(6, 12 * 60 + 30), "merged span");
        assert!(!h.is_open(0, 11 * 60));
        assert_eq!(h.describe(), "Saturday 10:00–12:00; Sunday 10:00–13:00");
        let always = BusinessHours::parse(" Always ").unwrap();
        assert!(always.is_always());
        assert!(always.is_open(3, 0));
        assert_eq!(always.next_open(3, 0), None, "never closes, so never opens");
    }

    #[test]
    fn a_span_continuing_past_midnight_is_not_an_opening() {
        let h = BusinessHours::parse("mon 20:00-24:00; tue 00:00-02:00; wed 09:00-10:00").unwrap();
        assert!(h.is_open(1, 60));
        // Monday 10:00 → Monday 20:00; Tuesday 03:00 → Wednesday 09:00.
        assert_eq!(
            h.next_open(0, 600).map(|n| (n.weekday, n.minute)),
            Some((0, 1200))
        );
        assert_eq!(
            h.next_open(1, 180).map(|n| (n.weekday, n.minute)),
            Some((2, 540))
        );
    }

    #[test]
    fn mistakes_name_the_setting() {
        for bad in [
            "",
            "mon-fri",
            "mon-fri 9-18",
            "funday 09:00-10:00",
            "mon 18:00-09:00",
            "mon 09:60-10:00",
            "mon 24:30-25:00",
        ] {
            let e = BusinessHours::parse(bad).unwrap_err();
            assert!(e.to_string().starts_with("support.hours:"), "{bad:?}: {e}");
        }
    }
}
