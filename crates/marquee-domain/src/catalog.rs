//! The catalog editor's rules: what a title's editable fields may hold,
//! and the plain-language record of what an edit changed (the audit trail
//! staff read).

use crate::maturity::{self, OperatorSystem};
use crate::{DomainError, Millis};

/// A title's editable fields, as an editor sets them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TitleFields {
    /// Display name.
    pub name: String,
    /// Release year.
    pub year: Option<i32>,
    /// Synopsis.
    pub synopsis: Option<String>,
    /// Running time, s.
    pub runtime_s: Option<i64>,
    /// `YYYY-MM-DD`.
    pub release_date: Option<String>,
    /// The rating code, as its system spells it (`PG-13`).
    pub maturity: Option<String>,
    /// Available from, ms (`None`: always was).
    pub available_from: Option<Millis>,
    /// Available until, ms (`None`: no end).
    pub available_until: Option<Millis>,
    /// Hidden from viewers.
    pub hidden: bool,
}

/// The longest name.
pub const MAX_NAME: usize = 500;
/// The longest synopsis.
pub const MAX_SYNOPSIS: usize = 10_000;

/// Checks an edit and normalises it (trimmed text, empty → none, the
/// rating as its system spells it). Each refusal names its field.
pub fn check(f: TitleFields, ratings: &OperatorSystem) -> Result<TitleFields, DomainError> {
    let name = crate::text::line("name", &f.name, MAX_NAME)?;
    if let Some(y) = f.year {
        if !(1870..=2100).contains(&y) {
            return Err(DomainError::invalid(
                "year",
                "must be between 1870 and 2100",
            ));
        }
    }
    let synopsis = f
        .synopsis
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if synopsis
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SYNOPSIS)
    {
        return Err(DomainError::invalid(
            "synopsis",
            format!("must have at most {MAX_SYNOPSIS} characters"),
        ));
    }
    if let Some(r) = f.runtime_s {
        if !(60..=24 * 3600).contains(&r) {
            return Err(DomainError::invalid(
                "runtime_min",
                "must be between 1 and 1440 minutes",
            ));
        }
    }
    let release_date = match f.release_date.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => Some(check_date(d)?),
    };
    let maturity = match f.maturity.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(m) => Some(
            maturity::parse(m, ratings)
                .ok_or_else(|| {
                    DomainError::invalid(
                        "maturity",
                        format!("{m:?} is not a rating Marquee knows: use an MPAA (G, PG, PG-13, R, NC-17) or TV (TV-Y, TV-Y7, TV-G, TV-PG, TV-14, TV-MA) rating, or one of [catalog] ratings"),
                    )
                })?
                .code,
        ),
    };
    if let (Some(from), Some(until)) = (f.available_from, f.available_until) {
        if until <= from {
            return Err(DomainError::invalid(
                "available_until",
                "must be after available_from",
            ));
        }
    }
    Ok(TitleFields {
        name,
        year: f.year,
        synopsis,
        runtime_s: f.runtime_s,
        release_date,
        maturity,
        available_from: f.available_from,
        available_until: f.available_until,
        hidden: f.hidden,
    })
}

/// `YYYY-MM-DD` with a real month and day.
fn check_date(d: &str) -> Result<String, DomainError> {
    let bad = || DomainError::invalid("release_date", "must be a date like 2019-09-14");
    let parts: Vec<&str> = d.split('-').collect();
    let [y, m, day] = parts.as_slice() else {
        return Err(bad());
    };
    let (Ok(y), Ok(m), Ok(day)) = (y.parse::<i32>(), m.parse::<u32>(), day.parse::<u32>()) else {
        return Err(bad());
    };
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1870..=2100).contains(&y) || day == 0 || day > days {
        return Err(bad());
    }
    Ok(format!("{y:04}-{m:02}-{day:02}"))
}

/// What an edit changed, one sentence per field, as staff read the audit
/// trail ("Maturity rating: PG → PG-13", "Hidden from viewers"). Empty when
/// nothing changed. `date` renders a time for people.
pub fn describe_changes(
    before: &TitleFields,
    after: &TitleFields,
    date: impl Fn(Millis) -> String,
) -> Vec<String> {
    fn opt<T: ToString>(v: &Option<T>) -> String {
        v.as_ref().map_or("none".to_owned(), ToString::to_string)
    }
    let mut out = Vec::new();
    if before.name != after.name {
        out.push(format!("Name: {} → {}", before.name, after.name));
    }
    if before.year != after.year {
        out.push(format!(
            "Year: {} → {}",
            opt(&before.year),
            opt(&after.year)
        ));
    }
    if before.synopsis != after.synopsis {
        out.push(match &after.synopsis {
            Some(_) if before.synopsis.is_none() => "Synopsis added".to_owned(),
            Some(_) => "Synopsis rewritten".to_owned(),
            None => "Synopsis removed".to_owned(),
        });
    }
    if before.runtime_s != after.runtime_s {
        let min = |s: &Option<i64>| s.map_or("none".to_owned(), |s| format!("{} min", s / 60));
        out.push(format!(
            "Running time: {} → {}",
            min(&before.runtime_s),
            min(&after.runtime_s)
        ));
    }
    if before.release_date != after.release_date {
        out.push(format!(
            "Release date: {} → {}",
            opt(&before.release_date),
            opt(&after.release_date)
        ));
    }
    if before.maturity != after.maturity {
        out.push(format!(
            "Maturity rating: {} → {}",
            opt(&before.maturity),
            opt(&after.maturity)
        ));
    }
    let when = |v: &Option<Millis>, none: &str| v.map_or(none.to_owned(), &date);
    if before.available_from != after.available_from {
        out.push(format!(
            "Available from: {} → {}",
            when(&before.available_from, "always"),
            when(&after.available_from, "always")
        ));
    }
    if before.available_until != after.available_until {
        out.push(format!(
            "Available until: {} → {}",
            when(&before.available_until, "no end"),
            when(&after.available_until, "no end")
        ));
    }
    if before.hidden != after.hidden {
        out.push(if after.hidden {
            "Hidden from viewers".to_owned()
        } else {
            "Shown to viewers again".to_owned()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> TitleFields {
        TitleFields {
            name: "  The Quiet Harbor ".into(),
            year: Some(2019),
            synopsis: Some(" ".into()),
            runtime_s: Some(6240),
            release_date: Some("2019-9-14".into()),
            maturity: Some("rated pg-13".into()),
            available_from: Some(10),
            available_until: None,
            hidden: false,
        }
    }

    #[test]
    fn edits_are_normalised_and_refusals_name_the_field() {
        let ops = OperatorSystem::default();
        let f = check(fields(), &ops).unwrap();
        assert_eq!(f.name, "The Quiet Harbor");
        assert_eq!(f.synopsis, None);
        assert_eq!(f.release_date.as_deref(), Some("2019-09-14"));
        assert_eq!(f.maturity.as_deref(), Some("PG-13"));
        let field = |f: TitleFields| match check(f, &ops) {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(TitleFields {
                name: " ".into(),
                ..fields()
            }),
            "name"
        );
        assert_eq!(
            field(TitleFields {
                year: Some(3000),
                ..fields()
            }),
            "year"
        );
        assert_eq!(
            field(TitleFields {
                runtime_s: Some(5),
                ..fields()
            }),
            "runtime_min"
        );
        assert_eq!(
            field(TitleFields {
                release_date: Some("2019-02-30".into()),
                ..fields()
            }),
            "release_date"
        );
        assert_eq!(
            field(TitleFields {
                maturity: Some("XXX".into()),
                ..fields()
            }),
            "maturity"
        );
        assert_eq!(
            field(TitleFields {
                available_until: Some(5),
                ..fields()
            }),
            "available_until"
        );
    }

    #[test]
    fn the_audit_trail_reads_as_sentences() {
        let ops = OperatorSystem::default();
        let before = check(fields(), &ops).unwrap();
        assert!(describe_changes(&before, &before, |t| t.to_string()).is_empty());
        let after = TitleFields {
            maturity: Some("R".into()),
            hidden: true,
            synopsis: Some("A pilot comes home.".into()),
            available_until: Some(99),
            ..before.clone()
        };
        assert_eq!(
            describe_changes(&before, &after, |t| format!("t{t}")),
            vec![
                "Synopsis added".to_string(),
                "Maturity rating: PG-13 → R".into(),
                "Available until: no end → t99".into(),
                "Hidden from viewers".into(),
            ]
        );
    }
}
